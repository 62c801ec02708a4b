/*
 * archive.c - model files inside .tar, .tar.gz/.tgz, .tar.zst, .tar.xz, .tar.bz2 and .zip
 * archives, read through libarchive.
 *
 * Two shapes of archive are understood:
 * - one model file (plus, optionally, README/LICENSE-like side files): the member's first bytes
 *   are probed with the format registry and the winning format reads it through read_map. In an
 *   uncompressed tar the member is mapped in place (its payload is contiguous in the file, at the
 *   offset libarchive reports after its header); otherwise it is streamed once into a private
 *   temporary directory and mapped from there.
 * - a model directory (sharded safetensors + index, config.json, README.md, ...): everything is
 *   extracted into a private temporary directory, which is read with the directory reader.
 * In both cases the inner reader fills a scratch graph that is then adopted: tensors mapped from
 * files keep their maps (the maps own the descriptors, so the temporary directory is removed
 * before this function returns), other tensors read through the scratch graph, which lives until
 * the last of them is freed. The graph's source is the archive itself.
 *
 * Safety: member paths are normalised; absolute paths and ".." components are refused, as are
 * links whose target leaves the archive; the temporary tree never holds a symlink (links become
 * hard links to the extracted file they name). Member count, member size and total size are
 * capped, and the free space of $TMPDIR is checked before a member is written. Only the built-in
 * decompressors are enabled (no external programs).
 */
#include "tc_impl.h"
#include "zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define ARC_MAX_MEMBERS      100000u      /* entries in one archive */
#define ARC_MAX_MEMBER_BYTES (1ull << 40) /* one member, bytes (1 TiB) */
#define ARC_MAX_TOTAL_BYTES  (4ull << 40) /* all members together, bytes */
#define ARC_MAX_PATH         4096u        /* bytes in a member path */
#define ARC_BLOCK            (1u << 16)   /* libarchive read block */
#define ARC_MAX_ALIAS_SCAN   4096u        /* members for which links are matched to files */
#define ARC_CHECK_BYTES      4096u        /* in-place payload bytes compared with libarchive's */

/* ===== Members ===== */

enum { ARC_FILE, ARC_DIR, ARC_LINK };

typedef struct arc_member {
    char *name;        /* normalised relative path */
    char *target;      /* ARC_LINK: normalised path of what it names */
    int kind;          /* ARC_FILE, ARC_DIR, ARC_LINK */
    int side;          /* README/LICENSE-like: not a model file */
    int sparse;        /* holes: not contiguous in the archive */
    uint64_t size;     /* bytes (declared) */
    uint64_t data_off; /* plain tar / stored zip: payload offset in the file; UINT64_MAX: none */
} arc_member;

typedef struct arc_ctx {
    const char *path; /* the archive */
    arc_member *m;
    size_t n, cap;
    int plain_tar;  /* uncompressed tar: payloads can be mapped in place */
    char *tmpdir;   /* private extraction directory, or NULL */
    uint64_t total; /* declared bytes of all members */
    tc_graph *g;    /* for notes */
} arc_ctx;

static void arc_ctx_free(arc_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        tc_free(c->m[i].name);
        tc_free(c->m[i].target);
    }
    tc_free(c->m);
}

/*
 * Normalise `p` (relative to directory `base`, "" for the root) into out: drops "." and empty
 * components. Member names may not hold ".." at all (dotdot = 0); link targets may, as long as
 * they stay inside the root (dotdot = 1). @return 0, or -1 when absolute, escaping or too long.
 */
static int arc_normalise(const char *base, const char *p, int dotdot, char *out, size_t cap)
{
    if (p[0] == '/')
        return -1;
    char buf[2 * ARC_MAX_PATH + 2];
    int k = snprintf(buf, sizeof buf, "%s%s%s", base, base[0] ? "/" : "", p);
    if (k < 0 || (size_t)k >= sizeof buf)
        return -1;
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (!dotdot || n == 0)
                return -1;
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the '/' */
            continue;
        }
        size_t cl = strlen(c);
        if (n + (n ? 1 : 0) + cl + 1 > cap)
            return -1;
        if (n)
            out[n++] = '/';
        memcpy(out + n, c, cl);
        n += cl;
    }
    out[n] = 0;
    return 0;
}

static int arc_istarts(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* README, LICENSE, ... and other text beside a model: not a model file. */
static int arc_is_side(const char *name)
{
    const char *b = tc_path_base(name);
    size_t n = strlen(b);
    if (arc_istarts(b, "readme") || arc_istarts(b, "license") || arc_istarts(b, "licence") ||
        arc_istarts(b, "copying") || arc_istarts(b, "notice") || b[0] == '.')
        return 1;
    return (n > 3 && strcasecmp(b + n - 3, ".md") == 0) ||
           (n > 4 && strcasecmp(b + n - 4, ".txt") == 0);
}

/* Archive noise that is never extracted: macOS resource forks and Finder files. */
static int arc_is_noise(const char *name)
{
    const char *b = tc_path_base(name);
    return strncmp(name, "__MACOSX/", 9) == 0 || strcmp(name, "__MACOSX") == 0 ||
           strncmp(b, "._", 2) == 0 || strcmp(b, ".DS_Store") == 0;
}

static tc_status arc_push(arc_ctx *c, arc_member *mb, tc_err *e)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        arc_member *nm = tc_realloc(c->m, cap * sizeof *nm);
        if (nm == NULL)
            return tc_err_nomem(e);
        c->m = nm;
        c->cap = cap;
    }
    c->m[c->n++] = *mb;
    return TC_OK;
}

/* ===== libarchive ===== */

static tc_status arc_open(const char *path, struct archive **out, tc_err *e)
{
    *out = NULL;
    struct archive *a = archive_read_new();
    if (a == NULL)
        return tc_err_nomem(e);
    /* built-in decompressors and formats only: nothing here may start an external program */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, path, ARC_BLOCK) != ARCHIVE_OK) {
        tc_status rc = tc_err_set(e, TC_E_FORMAT, "%s: cannot open as an archive: %s", path,
                                  archive_error_string(a) ? archive_error_string(a) : "?");
        archive_read_free(a);
        return rc;
    }
    *out = a;
    return TC_OK;
}

static tc_status arc_fail(const arc_ctx *c, struct archive *a, const char *when, tc_err *e)
{
    const char *msg = archive_error_string(a);
    return tc_err_set(e, TC_E_FORMAT, "%s @0x%" PRIx64 ": %s: %s", c->path,
                      (uint64_t)archive_filter_bytes(a, -1), when, msg ? msg : "archive error");
}

/* Create the parent directories of `rel` under `root` (no symlinks exist in our tree). */
static tc_status arc_mkdirs(const char *root, const char *rel, int last_too, tc_err *e)
{
    char p[2 * ARC_MAX_PATH + 2];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    size_t rl = strlen(root) + 1;
    for (char *s = p + rl; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return tc_err_sys(e, TC_E_IO, errno, "%s: cannot create a temporary directory", p);
        *s = '/';
    }
    if (last_too && mkdir(p, 0700) != 0 && errno != EEXIST)
        return tc_err_sys(e, TC_E_IO, errno, "%s: cannot create a temporary directory", p);
    return TC_OK;
}

/* Stream the current entry's data into root/rel (created exclusively, never through a link). */
static tc_status arc_extract_one(arc_ctx *c, struct archive *a, const arc_member *mb, tc_err *e)
{
    TC_TRY(arc_mkdirs(c->tmpdir, mb->name, 0, e));
    char *p = tc_path_join(c->tmpdir, mb->name);
    if (p == NULL)
        return tc_err_nomem(e);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int er = errno;
        tc_free(p);
        if (er == EEXIST)
            return tc_err_set(e, TC_E_FORMAT, "%s: member '%s' appears twice", c->path, mb->name);
        return tc_err_sys(e, TC_E_IO, er, "%s: cannot extract member '%s'", c->path, mb->name);
    }
    tc_free(p);
    tc_status rc = TC_OK;
    struct statvfs vs;
    if (mb->size != UINT64_MAX && fstatvfs(fd, &vs) == 0 &&
        (uint64_t)vs.f_bavail * vs.f_frsize < mb->size)
        rc = tc_err_set(e, TC_E_IO, /* a full disk: exit 4, like ENOSPC */
                        "%s: member '%s' needs %" PRIu64 " bytes in the temporary directory, only "
                        "%" PRIu64 " are free (set TMPDIR)",
                        c->path, mb->name, mb->size, (uint64_t)vs.f_bavail * vs.f_frsize);
    uint64_t written = 0, end = 0;
    while (rc == TC_OK) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = arc_fail(c, a, "reading a member", e);
            break;
        }
        uint64_t stop;
        if (off < 0 || !tc_add_ok((uint64_t)off, len, &stop) || stop > ARC_MAX_MEMBER_BYTES ||
            (mb->size != UINT64_MAX && stop > mb->size) || !tc_add_ok(written, len, &written) ||
            written > ARC_MAX_MEMBER_BYTES) {
            rc = tc_err_set(e, TC_E_LIMIT, "%s: member '%s' expands past %s (%" PRIu64 " bytes)",
                            c->path, mb->name,
                            mb->size != UINT64_MAX ? "its declared size" : "the cap",
                            mb->size != UINT64_MAX ? mb->size : (uint64_t)ARC_MAX_MEMBER_BYTES);
            break;
        }
        const uint8_t *b = buf;
        uint64_t at = (uint64_t)off;
        while (len > 0) {
            ssize_t w = pwrite(fd, b, len, (off_t)at);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = tc_err_sys(e, TC_E_IO, errno, "%s: cannot extract member '%s'", c->path,
                                mb->name);
                break;
            }
            b += w;
            at += (uint64_t)w;
            len -= (size_t)w;
        }
        if (stop > end)
            end = stop;
    }
    if (rc == TC_OK && mb->size != UINT64_MAX && end < mb->size &&
        ftruncate(fd, (off_t)mb->size) != 0) /* trailing hole of a sparse member */
        rc = tc_err_sys(e, TC_E_IO, errno, "%s: cannot extract member '%s'", c->path, mb->name);
    if (close(fd) != 0 && rc == TC_OK)
        rc = tc_err_sys(e, TC_E_IO, errno, "%s: cannot extract member '%s'", c->path, mb->name);
    return rc;
}

typedef enum { ARC_LIST, ARC_EXTRACT_ALL, ARC_EXTRACT_SIDE } arc_mode;

/*
 * One pass over the archive: check and record every member (ARC_LIST and the first extracting
 * pass) and/or extract members into c->tmpdir.
 */
static tc_status arc_scan(arc_ctx *c, arc_mode mode, tc_err *e)
{
    struct archive *a;
    TC_TRY(arc_open(c->path, &a, e));
    int record = c->n == 0;
    struct archive_entry *ent;
    tc_status rc = TC_OK;
    size_t count = 0;
    char name[ARC_MAX_PATH + 1];
    for (;;) {
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = arc_fail(c, a, count ? "after the last good member" : "not a readable archive", e);
            break;
        }
        if (count == 0) {
            c->plain_tar = archive_filter_count(a) == 1 &&
                           (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR;
        }
        if (++count > ARC_MAX_MEMBERS) {
            rc = tc_err_set(e, TC_E_LIMIT, "%s: more than %u members", c->path, ARC_MAX_MEMBERS);
            break;
        }
        uint64_t hdr_off = (uint64_t)archive_read_header_position(a);
        const char *raw = archive_entry_pathname(ent);
        if (raw == NULL || *raw == 0) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s @0x%" PRIx64 ": member without a usable name",
                            c->path, hdr_off);
            break;
        }
        if (strlen(raw) > ARC_MAX_PATH || arc_normalise("", raw, 0, name, sizeof name) != 0) {
            rc = tc_err_set(e, TC_E_UNSAFE,
                            "%s @0x%" PRIx64 ": member '%.200s': absolute paths, '..' and overlong "
                            "paths are refused",
                            c->path, hdr_off, raw);
            break;
        }
        if (name[0] == 0 || arc_is_noise(name))
            continue;
        mode_t ft = archive_entry_filetype(ent);
        const char *hard = archive_entry_hardlink(ent);
        arc_member mb = {0};
        mb.data_off = UINT64_MAX;
        mb.size = archive_entry_size_is_set(ent) ? (uint64_t)archive_entry_size(ent) : UINT64_MAX;
        if (archive_entry_size_is_set(ent) && archive_entry_size(ent) < 0)
            mb.size = UINT64_MAX;
        if (hard || ft == AE_IFLNK) {
            char tgt[ARC_MAX_PATH + 1];
            const char *t = hard ? hard : archive_entry_symlink(ent);
            char *dir = tc_path_dir(name);
            int bad = t == NULL || dir == NULL ||
                      arc_normalise(hard ? "" : (strcmp(dir, ".") ? dir : ""), t, !hard, tgt,
                                    sizeof tgt) != 0 ||
                      tgt[0] == 0;
            tc_free(dir);
            if (bad) {
                rc = tc_err_set(e, TC_E_UNSAFE,
                                "%s @0x%" PRIx64 ": member '%s' links to '%.200s', outside the "
                                "archive",
                                c->path, hdr_off, name, t ? t : "?");
                break;
            }
            mb.kind = ARC_LINK;
            mb.size = 0;
            if (record && (mb.target = tc_strdup(tgt)) == NULL) {
                rc = tc_err_nomem(e);
                break;
            }
        } else if (ft == AE_IFDIR) {
            mb.kind = ARC_DIR;
            mb.size = 0;
        } else if (ft == AE_IFREG) {
            mb.kind = ARC_FILE;
            if (mb.size != UINT64_MAX && mb.size > ARC_MAX_MEMBER_BYTES) {
                rc = tc_err_set(e, TC_E_LIMIT,
                                "%s @0x%" PRIx64 ": member '%s' declares %" PRIu64
                                " bytes, over the cap of %llu bytes",
                                c->path, hdr_off, name, mb.size, ARC_MAX_MEMBER_BYTES);
                break;
            }
            if (record && mb.size != UINT64_MAX &&
                (!tc_add_ok(c->total, mb.size, &c->total) || c->total > ARC_MAX_TOTAL_BYTES)) {
                rc = tc_err_set(e, TC_E_LIMIT,
                                "%s @0x%" PRIx64 ": members total more than %llu bytes", c->path,
                                hdr_off, ARC_MAX_TOTAL_BYTES);
                break;
            }
            mb.sparse = archive_entry_sparse_count(ent) > 0;
            if (c->plain_tar && !mb.sparse && mb.size != UINT64_MAX)
                mb.data_off = (uint64_t)archive_filter_bytes(a, 0);
        } else {
            if (record)
                rc = tc_graph_add_note(c->g, e, "%s: skipped special member '%s'", c->path, name);
            if (rc != TC_OK)
                break;
            continue;
        }
        mb.side = mb.kind != ARC_DIR && arc_is_side(name);
        int extract = mb.kind == ARC_FILE &&
                      (mode == ARC_EXTRACT_ALL || (mode == ARC_EXTRACT_SIDE && mb.side));
        mb.name = name; /* borrowed until recorded */
        if (extract) {
            if ((rc = arc_extract_one(c, a, &mb, e)) != TC_OK)
                break;
        } else if (mb.kind == ARC_DIR && mode == ARC_EXTRACT_ALL) {
            if ((rc = arc_mkdirs(c->tmpdir, name, 1, e)) != TC_OK)
                break;
        }
        if (record) {
            if ((mb.name = tc_strdup(name)) == NULL) {
                tc_free(mb.target);
                rc = tc_err_nomem(e);
                break;
            }
            if ((rc = arc_push(c, &mb, e)) != TC_OK) {
                tc_free(mb.name);
                tc_free(mb.target);
                break;
            }
        }
    }
    archive_read_free(a);
    return rc;
}

/* Links become hard links to the regular file they name inside the extracted tree. */
static tc_status arc_resolve_links(arc_ctx *c, int side_only, tc_err *e)
{
    for (size_t i = 0; i < c->n; i++) {
        const arc_member *mb = &c->m[i];
        if (mb->kind != ARC_LINK || (side_only && !mb->side))
            continue;
        char *to = tc_path_join(c->tmpdir, mb->target);
        char *from = tc_path_join(c->tmpdir, mb->name);
        tc_status rc = TC_OK;
        struct stat st;
        if (to == NULL || from == NULL)
            rc = tc_err_nomem(e);
        else if (lstat(to, &st) != 0 || !S_ISREG(st.st_mode))
            rc = tc_graph_add_note(c->g, e,
                                   "%s: skipped link '%s' (its target '%s' is not a "
                                   "file in the archive)",
                                   c->path, mb->name, mb->target);
        else if ((rc = arc_mkdirs(c->tmpdir, mb->name, 0, e)) == TC_OK && link(to, from) != 0)
            rc =
                errno == EEXIST
                    ? tc_err_set(e, TC_E_FORMAT, "%s: member '%s' appears twice", c->path, mb->name)
                    : tc_err_sys(e, TC_E_IO, errno, "%s: cannot link '%s'", c->path, mb->name);
        tc_free(to);
        tc_free(from);
        TC_TRY(rc);
    }
    return TC_OK;
}

static int arc_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

static void arc_rm_tree(const char *dir)
{
    if (dir)
        nftw(dir, arc_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static tc_status arc_mktmp(arc_ctx *c, tc_err *e)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == 0)
        dir = "/tmp";
    c->tmpdir = tc_path_join(dir, "tensorcast-arc-XXXXXX");
    if (c->tmpdir == NULL)
        return tc_err_nomem(e);
    if (mkdtemp(c->tmpdir) == NULL) {
        int er = errno;
        tc_free(c->tmpdir);
        c->tmpdir = NULL;
        return tc_err_sys(e, TC_E_IO, er, "%s: cannot create a temporary directory in %s", c->path,
                          dir);
    }
    return TC_OK;
}

/* ===== Adopting the inner graph ===== */

typedef struct arc_hold {
    _Atomic long refs;
    tc_graph *g;  /* the scratch graph lazy tensors read through */
    tc_map *keep; /* a map the scratch graph's maps point into (in-place tar), or NULL */
} arc_hold;

typedef struct arc_lazy {
    arc_hold *h;
    const tc_tensor *src;
} arc_lazy;

static void arc_hold_unref(arc_hold *h)
{
    if (h == NULL || atomic_fetch_sub(&h->refs, 1) != 1)
        return;
    tc_graph_free(h->g);
    tc_map_unref(h->keep);
    tc_free(h);
}

static void arc_lazy_free(void *p)
{
    arc_lazy *l = p;
    arc_hold_unref(l->h);
    tc_free(l);
}

static tc_status arc_lazy_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                               tc_err *e)
{
    (void)t;
    const arc_lazy *l = ctx;
    return tc_tensor_read(l->src, e0, n, dst, e);
}

/*
 * Move everything `h->g` holds into `g`. Tensors mapped from `sub` (a view of `parent` starting
 * at `sub_off`) are re-pointed at `parent`; other mapped tensors keep their map; the rest read
 * through the scratch graph. Consumes the caller's reference on h.
 */
static tc_status arc_adopt(tc_graph *g, arc_hold *h, const tc_map *sub, tc_map *parent,
                           uint64_t sub_off, tc_err *e)
{
    tc_graph *s = h->g;
    tc_status rc = TC_OK;
    for (size_t i = 0; rc == TC_OK && i < tc_graph_n_tensors(s); i++) {
        const tc_tensor *st = tc_graph_tensor(s, i);
        tc_tensor *t;
        rc = tc_graph_add_tensor(g, tc_tensor_name(st), tc_tensor_dtype(st), tc_tensor_n_dims(st),
                                 tc_tensor_shape(st), &t, e);
        if (rc != TC_OK)
            break;
        const tc_map *m;
        uint64_t off;
        if (tc_tensor_mapped(st, &m, &off)) {
            if (sub && m == sub)
                rc = tc_tensor_set_mapped(t, parent, sub_off + off, e);
            else
                rc = tc_tensor_set_mapped(t, (tc_map *)m, off, e);
            continue;
        }
        arc_lazy *l = tc_malloc(sizeof *l);
        if (l == NULL) {
            rc = tc_err_nomem(e);
            break;
        }
        atomic_fetch_add(&h->refs, 1);
        l->h = h;
        l->src = st;
        rc = tc_tensor_set_lazy(t, arc_lazy_read, l, arc_lazy_free, e);
    }
    for (size_t i = 0; rc == TC_OK && i < tc_graph_n_kv(s); i++)
        rc = tc_graph_set(g, tc_graph_kv_key(s, i), tc_graph_kv_value(s, i), e);
    tc_license lic;
    tc_graph_license(s, &lic);
    if (rc == TC_OK && (lic.id || lic.name || lic.link))
        rc = tc_graph_set_license(g, lic.id, lic.name, lic.link, lic.source, e);
    for (size_t i = 0; rc == TC_OK && i < tc_graph_n_notes(s); i++)
        rc = tc_graph_add_note(g, e, "%s", tc_graph_note(s, i));
    if (rc == TC_OK && tc_graph_format(s))
        rc = tc_graph_set_format(g, tc_graph_format(s), tc_graph_format_version(s), e);
    arc_hold_unref(h);
    return rc;
}

/* ===== Reading ===== */

/* The reader (not this one) that bids highest on the first bytes of `m`; `name` is the extracted
 * file, or "<archive>/<member>" for a member mapped in place. */
static const tc_format *arc_pick(const tc_map *m, const char *name)
{
    size_t n = tc_map_size(m) < TC_PROBE_BYTES ? (size_t)tc_map_size(m) : TC_PROBE_BYTES;
    const tc_format *win = NULL;
    int best = 0;
    for (size_t i = 0; i < tc_format_count(); i++) {
        const tc_format *f = tc_format_at(i);
        if (f == &tc_format_archive || f->probe == NULL || (!f->read_map && !f->read))
            continue;
        int bid = f->probe(tc_map_data(m), n, name);
        if (bid > best) {
            best = bid;
            win = f;
        }
    }
    return win;
}

/* Compare the first payload bytes libarchive hands out with the in-place range. */
static int arc_inplace_ok(arc_ctx *c, const arc_member *mb, const tc_map *fm, int is_zip)
{
    uint64_t end;
    if (mb->data_off == UINT64_MAX || !tc_add_ok(mb->data_off, mb->size, &end) ||
        end > tc_map_size(fm))
        return 0;
    struct archive *a;
    tc_err e2 = {0};
    if (arc_open(c->path, &a, &e2) != TC_OK)
        return 0;
    struct archive_entry *ent;
    int ok = 0;
    char name[ARC_MAX_PATH + 1];
    while (archive_read_next_header(a, &ent) >= ARCHIVE_WARN) {
        const char *raw = archive_entry_pathname(ent);
        if (raw == NULL || arc_normalise("", raw, 0, name, sizeof name) != 0 ||
            strcmp(name, mb->name) != 0)
            continue;
        if (!is_zip && (uint64_t)archive_filter_bytes(a, 0) != mb->data_off)
            break;
        uint8_t buf[ARC_CHECK_BYTES];
        size_t want = mb->size < sizeof buf ? (size_t)mb->size : sizeof buf, got = 0;
        while (got < want) {
            la_ssize_t r = archive_read_data(a, buf + got, want - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        ok = got == want && memcmp(buf, tc_map_data(fm) + mb->data_off, want) == 0;
        break;
    }
    archive_read_free(a);
    return ok;
}

/* Read a model file `mb` (already extracted unless in place) into a scratch graph and adopt it. */
static tc_status arc_read_single(arc_ctx *c, const arc_member *mb, tc_graph *g,
                                 const tc_read_opts *opt, tc_err *e)
{
    tc_map *parent = NULL, *m = NULL;
    char *file = NULL;
    tc_status rc = TC_OK;
    const tc_format *f = NULL;
    int inplace = 0;
    if (c->tmpdir == NULL) {
        /* uncompressed tar: a view of the archive's own map */
        TC_TRY(tc_map_open(c->path, &parent, e));
        char *what = tc_malloc(strlen(c->path) + strlen(mb->name) + 2);
        if (what == NULL) {
            tc_map_unref(parent);
            return tc_err_nomem(e);
        }
        sprintf(what, "%s/%s", c->path, mb->name); /* its base name is the member's */
        rc = tc_map_memory(tc_map_data(parent) + mb->data_off, (size_t)mb->size, what, &m, e);
        tc_free(what);
        inplace = 1;
    } else {
        file = tc_path_join(c->tmpdir, mb->name);
        rc = file ? tc_map_open(file, &m, e) : tc_err_nomem(e);
    }
    if (rc == TC_OK && (f = arc_pick(m, tc_map_path(m))) == NULL)
        rc = tc_err_set(e, TC_E_UNSUPPORTED,
                        "%s: member '%s' is not a model file tensorcast "
                        "recognises",
                        c->path, mb->name);
    arc_hold *h = NULL;
    if (rc == TC_OK) {
        h = tc_calloc(1, sizeof *h);
        if (h == NULL || (h->g = tc_graph_new()) == NULL) {
            tc_free(h);
            h = NULL;
            rc = tc_err_nomem(e);
        }
    }
    if (rc == TC_OK) {
        h->refs = 1;
        h->keep = tc_map_ref(parent);
        if (f->read_map)
            rc = f->read_map(m, h->g, opt, e);
        else if (file)
            rc = f->read(file, h->g, opt, e);
        else
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "%s: the %s reader cannot read archive members",
                            c->path, f->name);
        if (rc == TC_OK && tc_graph_format(h->g) == NULL)
            rc = tc_graph_set_format(h->g, f->name, NULL, e);
        if (rc == TC_OK)
            rc = tc_graph_add_note(g, e, "read from member '%s' of %s (%s)", mb->name, c->path,
                                   inplace ? "mapped in place" : "extracted to a temporary file");
        if (rc == TC_OK) {
            rc = arc_adopt(g, h, inplace ? m : NULL, parent, mb->data_off, e);
        } else {
            arc_hold_unref(h);
        }
    }
    tc_map_unref(m);
    tc_map_unref(parent);
    tc_free(file);
    return rc;
}

/* The directory to read: descend while the tree is one directory and nothing else. */
static char *arc_root(const char *top)
{
    char *cur = tc_strdup(top);
    for (int depth = 0; cur && depth < 64; depth++) {
        DIR *d = opendir(cur);
        if (d == NULL)
            break;
        struct dirent *de;
        char *only = NULL;
        int n = 0;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (n++ == 0)
                only = tc_path_join(cur, de->d_name);
        }
        closedir(d);
        if (n != 1 || only == NULL || !tc_is_dir(only)) {
            tc_free(only);
            break;
        }
        tc_free(cur);
        cur = only;
    }
    return cur;
}

/* A directory reader claims `dir`: the format, else NULL. */
static const tc_format *arc_dir_format(const char *dir)
{
    const tc_format *f = NULL;
    tc_err e2 = {0};
    if (tc_format_detect(dir, &f, &e2) != TC_OK || f == &tc_format_archive)
        return NULL;
    return f;
}

/*
 * The model directory in the extracted tree: the top (after descending through lone
 * directories), else the shallowest directory holding a model file that a reader claims (a
 * Hugging Face cache snapshot: models--org--name/snapshots/<rev>/ whose files link to ../../blobs).
 * @return a tc_malloc'd path and its format, or NULL (*f NULL).
 */
#define ARC_MAX_DIR_TRIES 64
static char *arc_model_dir(const arc_ctx *c, const tc_format **f)
{
    char *root = arc_root(c->tmpdir);
    if (root == NULL || (*f = arc_dir_format(root)) != NULL)
        return root;
    tc_free(root);
    int tries = 0;
    for (size_t depth = 1; depth < 64 && tries < ARC_MAX_DIR_TRIES; depth++) {
        for (size_t i = 0; i < c->n && tries < ARC_MAX_DIR_TRIES; i++) {
            const arc_member *mb = &c->m[i];
            size_t slashes = 0;
            for (const char *q = mb->name; *q; q++)
                slashes += *q == '/';
            if (mb->kind == ARC_DIR || mb->side || slashes != depth)
                continue;
            /* try each parent directory once: skip it when an earlier member shares it */
            size_t dl = (size_t)(strrchr(mb->name, '/') - mb->name), j;
            for (j = 0; j < i; j++)
                if (c->m[j].kind != ARC_DIR && !c->m[j].side &&
                    strncmp(c->m[j].name, mb->name, dl + 1) == 0 &&
                    strchr(c->m[j].name + dl + 1, '/') == NULL)
                    break;
            if (j < i)
                continue;
            char *dir = tc_malloc(strlen(c->tmpdir) + dl + 2);
            if (dir == NULL)
                return NULL;
            sprintf(dir, "%s/%.*s", c->tmpdir, (int)dl, mb->name);
            tries++;
            if ((*f = arc_dir_format(dir)) != NULL)
                return dir;
            tc_free(dir);
        }
    }
    *f = NULL;
    return NULL;
}

static tc_status arc_read_dir(arc_ctx *c, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    const tc_format *f = NULL;
    char *root = arc_model_dir(c, &f);
    tc_status rc;
    if (root == NULL || f == NULL) {
        tc_free(root);
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s: no model file or model directory tensorcast can read in the archive "
                          "(%zu members)",
                          c->path, c->n);
    }
    arc_hold *h = tc_calloc(1, sizeof *h);
    if (h == NULL || (h->g = tc_graph_new()) == NULL) {
        tc_free(h);
        tc_free(root);
        return tc_err_nomem(e);
    }
    h->refs = 1;
    rc = f->read(root, h->g, opt, e);
    if (rc == TC_OK && tc_graph_format(h->g) == NULL)
        rc = tc_graph_set_format(h->g, f->name, NULL, e);
    if (rc == TC_OK)
        rc = tc_license_from_dir(h->g, root, e);
    const char *rel = root + strlen(c->tmpdir);
    if (rc == TC_OK)
        rc = tc_graph_add_note(g, e,
                               "read model directory '%s' of %s (extracted to a temporary "
                               "directory)",
                               *rel ? rel + 1 : ".", c->path);
    if (rc == TC_OK)
        rc = arc_adopt(g, h, NULL, NULL, 0, e);
    else
        arc_hold_unref(h);
    tc_free(root);
    return rc;
}

/* Extract every member (once) into a new private directory. */
static tc_status arc_extract_all(arc_ctx *c, tc_err *e)
{
    TC_TRY(arc_mktmp(c, e));
    TC_TRY(arc_scan(c, ARC_EXTRACT_ALL, e));
    return arc_resolve_links(c, 0, e);
}

/* Offset of a stored zip member's data in the file (zip.h's central-directory reader), or
 * UINT64_MAX when it is compressed or cannot be found. */
static uint64_t arc_zip_stored(const char *name, const tc_map *fm)
{
    tc_zip *z = NULL;
    tc_err e2 = {0};
    uint64_t off = UINT64_MAX;
    if (tc_zip_open((tc_map *)fm, &z, &e2) == TC_OK) {
        const tc_zip_entry *en = tc_zip_find(z, name);
        if (en && en->method == 0 && tc_zip_stored_off(z, en, &off, &e2) != TC_OK)
            off = UINT64_MAX;
    }
    tc_zip_free(z);
    return off;
}

static tc_status arc_read(const char *path, tc_graph *g, const tc_read_opts *opt, tc_err *e)
{
    arc_ctx c = {0};
    c.path = path;
    c.g = g;
    tc_status rc = TC_OK;
    struct stat st;
    if (stat(path, &st) != 0)
        return tc_err_sys(e, TC_E_IO, errno, "%s: cannot stat", path);

    /* An uncompressed tar or a zip is listed first (skipping payloads is a seek), so that a
     * single stored member can be mapped in place; anything compressed is extracted in the same
     * single pass that checks it. */
    struct archive *a;
    TC_TRY(arc_open(path, &a, e));
    struct archive_entry *ent;
    int r = archive_read_next_header(a, &ent);
    int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
    int listable = r >= ARCHIVE_WARN && archive_filter_count(a) == 1 &&
                   (fmt == ARCHIVE_FORMAT_TAR || fmt == ARCHIVE_FORMAT_ZIP);
    int is_zip = fmt == ARCHIVE_FORMAT_ZIP;
    archive_read_free(a);

    rc = listable ? arc_scan(&c, ARC_LIST, e) : arc_extract_all(&c, e);

    /* model candidates: files and links that are not README/LICENSE-like */
    arc_member *only = NULL;
    size_t n_cand = 0, n_side = 0;
    for (size_t i = 0; rc == TC_OK && i < c.n; i++) {
        if (c.m[i].kind == ARC_DIR)
            continue;
        if (c.m[i].side) {
            n_side++;
            continue;
        }
        if (c.m[i].kind == ARC_LINK && c.n <= ARC_MAX_ALIAS_SCAN) {
            /* a link to another member is an alias, not a second model file */
            size_t j = 0;
            while (j < c.n && !(c.m[j].kind == ARC_FILE && strcmp(c.m[j].name, c.m[i].target) == 0))
                j++;
            if (j < c.n)
                continue;
        }
        n_cand++;
        only = &c.m[i];
    }
    if (rc == TC_OK && n_cand == 0)
        rc = tc_err_set(e, TC_E_FORMAT, "%s: the archive holds no model file (%zu members)", path,
                        c.n);

    if (rc == TC_OK && n_cand == 1) {
        int inplace = listable && only->kind == ARC_FILE && !only->sparse;
        if (inplace) {
            /* the payload offset is checked against the bytes libarchive hands out */
            tc_map *fm = NULL;
            tc_err e2 = {0};
            inplace = tc_map_open(path, &fm, &e2) == TC_OK;
            if (inplace && is_zip)
                only->data_off = arc_zip_stored(only->name, fm);
            inplace = inplace && arc_inplace_ok(&c, only, fm, is_zip);
            tc_map_unref(fm);
        }
        if (inplace && n_side > 0) {
            /* only the README/LICENSE files are extracted, for the licence */
            rc = arc_mktmp(&c, e);
            if (rc == TC_OK)
                rc = arc_scan(&c, ARC_EXTRACT_SIDE, e);
            if (rc == TC_OK)
                rc = arc_resolve_links(&c, 1, e);
        } else if (!inplace && listable) {
            rc = arc_extract_all(&c, e);
        }
        if (rc == TC_OK) {
            char *side_dir = c.tmpdir;
            if (inplace)
                c.tmpdir = NULL; /* tells arc_read_single to map in place */
            rc = arc_read_single(&c, only, g, opt, e);
            c.tmpdir = side_dir;
        }
        if (rc == TC_OK && c.tmpdir) {
            char *d = tc_path_dir(only->name);
            char *ld =
                d ? (strcmp(d, ".") ? tc_path_join(c.tmpdir, d) : tc_strdup(c.tmpdir)) : NULL;
            rc = ld ? tc_license_from_dir(g, ld, e) : tc_err_nomem(e);
            tc_free(ld);
            tc_free(d);
        }
    } else if (rc == TC_OK) {
        if (listable)
            rc = arc_extract_all(&c, e);
        if (rc == TC_OK)
            rc = arc_read_dir(&c, g, opt, e);
    }
    if (rc == TC_OK)
        rc = tc_graph_add_source(g, path, (uint64_t)st.st_size, e);
    arc_rm_tree(c.tmpdir);
    tc_free(c.tmpdir);
    arc_ctx_free(&c);
    return rc;
}

/* ===== Probe ===== */

static int arc_ext(const char *path, const char *const *exts)
{
    for (; *exts; exts++)
        if (tc_ends_with(path, *exts))
            return 1;
    return 0;
}

static int arc_probe(const uint8_t *head, size_t n, const char *path)
{
    static const char *const gz[] = {".tar.gz", ".tgz", NULL};
    static const char *const zst[] = {".tar.zst", ".tzst", ".tar.zstd", NULL};
    static const char *const xz[] = {".tar.xz", ".txz", NULL};
    static const char *const bz[] = {".tar.bz2", ".tbz2", ".tbz", NULL};
    static const char *const tar[] = {".tar", NULL};
    if (head == NULL || path == NULL)
        return 0;
    if (n >= 262 && memcmp(head + 257, "ustar", 5) == 0)
        return 100;
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b && arc_ext(path, gz))
        return 100;
    if (n >= 4 && memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0 && arc_ext(path, zst))
        return 100;
    if (n >= 6 &&
        memcmp(head,
               "\xfd"
               "7zXZ\0",
               6) == 0 &&
        arc_ext(path, xz))
        return 100;
    if (n >= 3 && memcmp(head, "BZh", 3) == 0 && arc_ext(path, bz))
        return 100;
    /* a plain zip bids low: the torch and npz readers claim their own zips */
    if (n >= 4 && head[0] == 'P' && head[1] == 'K' &&
        ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
        return 10;
    if (arc_ext(path, tar)) /* an old tar without the ustar magic */
        return 10;
    return 0;
}

static const char *const archive_exts[] = {".tar",    ".tar.gz",  ".tgz", ".tar.zst", ".tzst",
                                           ".tar.xz", ".tar.bz2", ".zip", NULL};

const tc_format tc_format_archive = {"archive", archive_exts, arc_probe, arc_read, NULL, NULL};
