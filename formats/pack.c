/*
 * pack.c - bundles for devices: a .tar.zst (or .tar, .tar.gz, .tar.xz) holding a model, its
 * licence and notice files, the model card, and a SHA256SUMS that `sha256sum -c` accepts after
 * a plain `tar -xf`; and the check of such a bundle.
 *
 * Written with libarchive through a tc_out (temporary file renamed into place when complete),
 * streamed member by member with the SHA-256 computed on the way; deterministic (members in the
 * given order, mtime from SOURCE_DATE_EPOCH or 0, owner 0:0, mode 0644, pax format).
 */
#include "tc_impl.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACK_CHUNK    (4u << 20)
#define PACK_MAX_SUMS (16u << 20) /* bytes of a SHA256SUMS member read back */
#define PACK_MAX_MEMB 100000

typedef struct pack_io {
    tc_out *o;
    tc_err *e;
    tc_status st;
} pack_io;

static la_ssize_t pack_write_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
    (void)a;
    pack_io *io = ctx;
    if (io->st != TC_OK)
        return -1;
    io->st = tc_out_write(io->o, buf, n, io->e);
    return io->st == TC_OK ? (la_ssize_t)n : -1;
}

static int pack_close_cb(struct archive *a, void *ctx)
{
    (void)a;
    (void)ctx;
    return ARCHIVE_OK;
}

static void hex32(const unsigned char *md, char out[65])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[md[i] >> 4];
        out[2 * i + 1] = d[md[i] & 15];
    }
    out[64] = 0;
}

/* A member name must stay inside the bundle and be a plain relative path. */
static int pack_name_ok(const char *n)
{
    if (*n == 0 || *n == '/' || strlen(n) > 1024 || strchr(n, '\n') || strchr(n, '\\'))
        return 0;
    for (const char *p = n; *p;) {
        const char *s = strchr(p, '/');
        size_t len = s ? (size_t)(s - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += len + (s != NULL);
    }
    return 1;
}

static tc_status pack_entry(struct archive *a, const char *name, uint64_t size, time_t mtime,
                            pack_io *io, tc_err *e)
{
    struct archive_entry *en = archive_entry_new();
    if (en == NULL)
        return tc_err_nomem(e);
    archive_entry_set_pathname(en, name);
    archive_entry_set_size(en, (la_int64_t)size);
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    archive_entry_set_mtime(en, mtime, 0);
    archive_entry_set_uid(en, 0);
    archive_entry_set_gid(en, 0);
    int r = archive_write_header(a, en);
    archive_entry_free(en);
    if (r != ARCHIVE_OK)
        return io->st != TC_OK ? io->st
                               : tc_err_set(e, TC_E_IO, "%s: %s", name, archive_error_string(a));
    return TC_OK;
}

tc_status tc_pack_write(const char *out, const tc_pack_member *m, size_t n, const tc_pack_opts *opt,
                        tc_err *e)
{
    if (n == 0 || n > PACK_MAX_MEMB)
        return tc_err_set(e, TC_E_USAGE, "pack: %zu members (1..%u)", n, PACK_MAX_MEMB);
    for (size_t i = 0; i < n; i++) {
        if (!pack_name_ok(m[i].name))
            return tc_err_set(e, TC_E_USAGE, "pack: bad member name '%s'", m[i].name);
        if (strcmp(m[i].name, "SHA256SUMS") == 0)
            return tc_err_set(e, TC_E_USAGE, "pack: SHA256SUMS is written by tensorcast");
        for (size_t k = 0; k < i; k++)
            if (strcmp(m[i].name, m[k].name) == 0)
                return tc_err_set(e, TC_E_USAGE, "pack: two members named '%s'", m[i].name);
    }
    struct stat st;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].src == NULL) {
            total += m[i].size;
            continue;
        }
        if (stat(m[i].src, &st) != 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s", m[i].src);
        if (!S_ISREG(st.st_mode))
            return tc_err_set(e, TC_E_USAGE, "pack: %s is not a regular file", m[i].src);
        total += (uint64_t)st.st_size;
    }
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t mtime = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : 0;

    tc_out *o = NULL;
    TC_TRY(tc_out_open(out, 0, &o, e));
    pack_io io = {o, e, TC_OK};
    struct archive *a = archive_write_new();
    char *sums = NULL;
    unsigned char *buf = tc_malloc(PACK_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    tc_status rc = TC_OK;
    if (a == NULL || buf == NULL || md == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    archive_write_set_format_pax_restricted(a);
    int filt = ARCHIVE_OK;
    if (tc_ends_with(out, ".zst") || tc_ends_with(out, ".tzst"))
        filt = archive_write_add_filter_zstd(a);
    else if (tc_ends_with(out, ".gz") || tc_ends_with(out, ".tgz"))
        filt = archive_write_add_filter_gzip(a);
    else if (tc_ends_with(out, ".xz"))
        filt = archive_write_add_filter_xz(a);
    else if (!tc_ends_with(out, ".tar"))
        filt = ARCHIVE_FATAL;
    if (filt != ARCHIVE_OK) {
        rc = tc_err_set(e, TC_E_USAGE,
                        "pack: %s: name the bundle .tar.zst, .tar.gz, .tar.xz or .tar", out);
        goto fail;
    }
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, &io, NULL, pack_write_cb, pack_close_cb) != ARCHIVE_OK) {
        rc = tc_err_set(e, TC_E_IO, "%s: %s", out, archive_error_string(a));
        goto fail;
    }
    size_t sums_len = 0, sums_cap = n * 80 + 64;
    sums = tc_malloc(sums_cap);
    if (sums == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    uint64_t done = 0;
    for (size_t i = 0; i < n && rc == TC_OK; i++) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn = 0;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        if (m[i].src == NULL) {
            rc = pack_entry(a, m[i].name, m[i].size, mtime, &io, e);
            if (rc == TC_OK && m[i].size &&
                archive_write_data(a, m[i].data, m[i].size) != (la_ssize_t)m[i].size)
                rc = io.st != TC_OK
                         ? io.st
                         : tc_err_set(e, TC_E_IO, "%s: %s", out, archive_error_string(a));
            EVP_DigestUpdate(md, m[i].data, m[i].size);
            done += m[i].size;
        } else {
            int fd = open(m[i].src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                rc = tc_err_sys(e, TC_E_IO, errno, "%s", m[i].src);
                if (fd >= 0)
                    close(fd);
                break;
            }
            uint64_t size = (uint64_t)st.st_size, off = 0;
            if (opt && opt->progress.item)
                opt->progress.item(opt->progress.ctx, m[i].name);
            rc = pack_entry(a, m[i].name, size, mtime, &io, e);
            while (rc == TC_OK && off < size) {
                size_t want = size - off < PACK_CHUNK ? (size_t)(size - off) : PACK_CHUNK;
                ssize_t r = pread(fd, buf, want, (off_t)off);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    rc = r < 0 ? tc_err_sys(e, TC_E_IO, errno, "%s", m[i].src)
                               : tc_err_set(e, TC_E_IO, "%s: shrank while being packed", m[i].src);
                    break;
                }
                EVP_DigestUpdate(md, buf, (size_t)r);
                if (archive_write_data(a, buf, (size_t)r) != r)
                    rc = io.st != TC_OK
                             ? io.st
                             : tc_err_set(e, TC_E_IO, "%s: %s", out, archive_error_string(a));
                off += (uint64_t)r;
                done += (uint64_t)r;
                if (opt && opt->progress.fn)
                    opt->progress.fn(opt->progress.ctx, done, total);
            }
            close(fd);
        }
        if (rc != TC_OK)
            break;
        EVP_DigestFinal_ex(md, d, &dn);
        char h[65];
        hex32(d, h);
        size_t need = sums_len + 64 + 2 + strlen(m[i].name) + 2;
        if (need > sums_cap) {
            char *ns = tc_realloc(sums, need * 2);
            if (ns == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
            sums = ns;
            sums_cap = need * 2;
        }
        sums_len +=
            (size_t)snprintf(sums + sums_len, sums_cap - sums_len, "%s  %s\n", h, m[i].name);
    }
    if (rc == TC_OK)
        rc = pack_entry(a, "SHA256SUMS", sums_len, mtime, &io, e);
    if (rc == TC_OK && archive_write_data(a, sums, sums_len) != (la_ssize_t)sums_len)
        rc =
            io.st != TC_OK ? io.st : tc_err_set(e, TC_E_IO, "%s: %s", out, archive_error_string(a));
    if (rc == TC_OK && archive_write_close(a) != ARCHIVE_OK)
        rc =
            io.st != TC_OK ? io.st : tc_err_set(e, TC_E_IO, "%s: %s", out, archive_error_string(a));
    if (rc == TC_OK && io.st != TC_OK)
        rc = io.st;
    if (rc == TC_OK) {
        archive_write_free(a);
        a = NULL;
        rc = tc_out_commit(o, e);
        o = NULL;
    }
fail:
    if (a)
        archive_write_free(a);
    if (o)
        tc_out_abort(o);
    EVP_MD_CTX_free(md);
    tc_free(buf);
    tc_free(sums);
    return rc;
}

/* ---- checking a bundle ---- */

static tc_status add_result(tc_bundle_result **r, size_t *n, const char *name, int status,
                            const char *exp, const char *act, tc_err *e)
{
    if (*n >= PACK_MAX_MEMB)
        return tc_err_set(e, TC_E_LIMIT, "bundle: more than %u members", PACK_MAX_MEMB);
    tc_bundle_result *nr = tc_realloc(*r, (*n + 1) * sizeof **r);
    if (nr == NULL)
        return tc_err_nomem(e);
    *r = nr;
    tc_bundle_result *x = &nr[*n];
    memset(x, 0, sizeof *x);
    x->name = tc_strdup(name);
    if (x->name == NULL)
        return tc_err_nomem(e);
    x->status = status;
    snprintf(x->expected, sizeof x->expected, "%s", exp ? exp : "");
    snprintf(x->actual, sizeof x->actual, "%s", act ? act : "");
    (*n)++;
    return TC_OK;
}

void tc_bundle_results_free(tc_bundle_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tc_free((char *)r[i].name);
    tc_free(r);
}

typedef struct seen_member {
    char *name;
    char sha[65];
    int listed;
} seen_member;

tc_status tc_bundle_check(const char *path, tc_bundle_result **out, size_t *n_out,
                          char **tensor_sums, tc_err *e)
{
    *out = NULL;
    *n_out = 0;
    if (tensor_sums)
        *tensor_sums = NULL;
    char *tsums = NULL;
    size_t tsums_len = 0;
    struct archive *a = archive_read_new();
    if (a == NULL)
        return tc_err_nomem(e);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        tc_status rc = tc_err_set(e, TC_E_FORMAT, "%s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    seen_member *seen = NULL;
    size_t n_seen = 0;
    char *sums = NULL;
    size_t sums_len = 0;
    unsigned char *buf = tc_malloc(PACK_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    tc_status rc = buf && md ? TC_OK : tc_err_nomem(e);
    struct archive_entry *en;
    int r;
    while (rc == TC_OK && (r = archive_read_next_header(a, &en)) == ARCHIVE_OK) {
        if (archive_entry_filetype(en) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(en);
        if (name == NULL)
            continue;
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        int is_sums = strcmp(name, "SHA256SUMS") == 0;
        int is_tsums = tensor_sums && strcmp(name, TC_BUNDLE_TENSOR_SUMS) == 0;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (;;) {
            la_ssize_t got = archive_read_data(a, buf, PACK_CHUNK);
            if (got < 0) {
                rc = tc_err_set(e, TC_E_CHECKSUM, "%s: member %s is damaged: %s", path, name,
                                archive_error_string(a));
                break;
            }
            if (got == 0)
                break;
            EVP_DigestUpdate(md, buf, (size_t)got);
            if (is_tsums && tsums_len + (size_t)got <= PACK_MAX_SUMS) {
                char *nt = tc_realloc(tsums, tsums_len + (size_t)got + 1);
                if (nt) {
                    tsums = nt;
                    memcpy(tsums + tsums_len, buf, (size_t)got);
                    tsums_len += (size_t)got;
                    tsums[tsums_len] = 0;
                }
            }
            if (is_sums) {
                if (sums_len + (size_t)got > PACK_MAX_SUMS) {
                    rc = tc_err_set(e, TC_E_LIMIT, "%s: SHA256SUMS over %u bytes", path,
                                    PACK_MAX_SUMS);
                    break;
                }
                char *ns = tc_realloc(sums, sums_len + (size_t)got + 1);
                if (ns == NULL) {
                    rc = tc_err_nomem(e);
                    break;
                }
                sums = ns;
                memcpy(sums + sums_len, buf, (size_t)got);
                sums_len += (size_t)got;
                sums[sums_len] = 0;
            }
        }
        if (rc != TC_OK || is_sums)
            continue;
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dn = 0;
        EVP_DigestFinal_ex(md, d, &dn);
        seen_member *ns =
            n_seen < PACK_MAX_MEMB ? tc_realloc(seen, (n_seen + 1) * sizeof *seen) : NULL;
        if (ns == NULL) {
            rc = tc_err_set(e, n_seen < PACK_MAX_MEMB ? TC_E_NOMEM : TC_E_LIMIT,
                            "%s: too many members or out of memory", path);
            break;
        }
        seen = ns;
        seen[n_seen].name = tc_strdup(name);
        seen[n_seen].listed = 0;
        hex32(d, seen[n_seen].sha);
        if (seen[n_seen].name == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        n_seen++;
    }
    if (rc == TC_OK && r != ARCHIVE_EOF)
        rc = tc_err_set(e, TC_E_CHECKSUM, "%s: damaged archive: %s", path, archive_error_string(a));
    if (rc == TC_OK && sums == NULL)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: no SHA256SUMS member (not a tensorcast bundle)", path);
    tc_bundle_result *res = NULL;
    size_t n_res = 0, valid = 0;
    for (char *line = sums, *next; rc == TC_OK && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        size_t len = strlen(line);
        if (len == 0)
            continue;
        if (len < 67 || strspn(line, "0123456789abcdefABCDEF") != 64 || line[64] != ' ' ||
            (line[65] != ' ' && line[65] != '*')) {
            rc = add_result(&res, &n_res, line, TC_BUNDLE_MALFORMED, NULL, NULL, e);
            continue;
        }
        valid++;
        line[64] = 0;
        const char *name = line + 66;
        size_t k = 0;
        while (k < n_seen && strcmp(seen[k].name, name) != 0)
            k++;
        if (k == n_seen) {
            rc = add_result(&res, &n_res, name, TC_BUNDLE_ABSENT, line, NULL, e);
            continue;
        }
        seen[k].listed = 1;
        rc = add_result(&res, &n_res, name,
                        strcasecmp(seen[k].sha, line) == 0 ? TC_BUNDLE_OK : TC_BUNDLE_MISMATCH,
                        line, seen[k].sha, e);
    }
    for (size_t k = 0; rc == TC_OK && k < n_seen; k++)
        if (!seen[k].listed)
            rc = add_result(&res, &n_res, seen[k].name, TC_BUNDLE_UNLISTED, NULL, seen[k].sha, e);
    if (rc == TC_OK && valid == 0)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: SHA256SUMS has no valid line", path);
    for (size_t k = 0; k < n_seen; k++)
        tc_free(seen[k].name);
    tc_free(seen);
    tc_free(sums);
    tc_free(buf);
    EVP_MD_CTX_free(md);
    archive_read_free(a);
    if (rc != TC_OK) {
        tc_bundle_results_free(res, n_res);
        tc_free(tsums);
        return rc;
    }
    if (tensor_sums)
        *tensor_sums = tsums;
    else
        tc_free(tsums);
    *out = res;
    *n_out = n_res;
    return TC_OK;
}

int tc_bundle_detect(const char *path)
{
    static const char *const ext[] = {".tar.zst", ".tzst", ".tar", ".tar.gz", ".tgz", ".tar.xz"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (tc_ends_with(path, ext[i]))
            return 1;
    return 0;
}
