/*
 * zip.c - bounds-checked zip central-directory reader (APPNOTE.TXT 6.3: 4.3.16 end of central
 * directory, 4.3.14/4.3.15 zip64 end record and locator, 4.3.12 central header, 4.3.7 local
 * header, 4.5.3 zip64 extended information extra field).
 *
 * Every offset and size read from the file is checked against the file size before use;
 * entry counts are checked against the bytes the central directory can hold, so a forged count
 * cannot trigger a large allocation.
 */
#include "zip.h"

#include <stdlib.h>
#include <zlib.h>

#define ZIP_SIG_LOCAL   0x04034b50u
#define ZIP_SIG_CENTRAL 0x02014b50u
#define ZIP_SIG_EOCD    0x06054b50u
#define ZIP_SIG_EOCD64  0x06064b50u
#define ZIP_SIG_LOC64   0x07064b50u
#define ZIP_EOCD_SIZE   22u
#define ZIP_CENTRAL_MIN 46u
#define ZIP_LOCAL_MIN   30u

struct tc_zip {
    tc_map *map;
    const char *path;
    tc_zip_entry *ents;
    size_t n;
    size_t *by_name; /* indices sorted by name, for tc_zip_find */
    char *names;     /* all names, NUL-terminated, back to back */
};

int tc_zip_sniff(const uint8_t *head, size_t n)
{
    return n >= 4 && (tc_le32(head) == ZIP_SIG_LOCAL || tc_le32(head) == ZIP_SIG_EOCD);
}

void tc_zip_free(tc_zip *z)
{
    if (z == NULL)
        return;
    tc_map_unref(z->map);
    tc_free(z->ents);
    tc_free(z->by_name);
    tc_free(z->names);
    tc_free(z);
}

tc_map *tc_zip_map(const tc_zip *z)
{
    return z->map;
}

size_t tc_zip_count(const tc_zip *z)
{
    return z->n;
}

const tc_zip_entry *tc_zip_at(const tc_zip *z, size_t i)
{
    return i < z->n ? &z->ents[i] : NULL;
}

/* ===== End of central directory ===== */

typedef struct zip_eocd {
    uint64_t n_entries, cd_size, cd_off;
} zip_eocd;

/*
 * Find the end-of-central-directory record: the last signature in the final 64 KiB + 22 bytes
 * whose comment length reaches exactly to the end of the file (a signature inside a comment
 * cannot then pass). Then follow the zip64 locator when one precedes it.
 */
static tc_status zip_find_eocd(const tc_zip *z, zip_eocd *out, tc_err *e)
{
    const uint8_t *d = tc_map_data(z->map);
    uint64_t size = tc_map_size(z->map);
    if (size < ZIP_EOCD_SIZE)
        return tc_err_set(e, TC_E_FORMAT, "%s: not a zip file (%" PRIu64 " bytes, too short)",
                          z->path, size);
    uint64_t lo = size > ZIP_EOCD_SIZE + 0xffffu ? size - ZIP_EOCD_SIZE - 0xffffu : 0;
    uint64_t at = UINT64_MAX;
    for (uint64_t p = size - ZIP_EOCD_SIZE + 1; p-- > lo;) {
        if (tc_le32(d + p) == ZIP_SIG_EOCD && p + ZIP_EOCD_SIZE + tc_le16(d + p + 20) == size) {
            at = p;
            break;
        }
    }
    if (at == UINT64_MAX)
        return tc_err_set(e, TC_E_FORMAT, "%s: not a zip file (no end-of-central-directory record)",
                          z->path);
    const uint8_t *r = d + at;
    uint16_t disk = tc_le16(r + 4), cd_disk = tc_le16(r + 6);
    uint64_t n_disk = tc_le16(r + 8), n_total = tc_le16(r + 10);
    uint64_t cd_size = tc_le32(r + 12), cd_off = tc_le32(r + 16);
    int need64 =
        n_total == 0xffff || n_disk == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu;
    if (at >= 20 && tc_le32(d + at - 20) == ZIP_SIG_LOC64) {
        const uint8_t *l = d + at - 20;
        uint64_t off64 = tc_le64(l + 8);
        if (tc_le32(l + 4) != 0 || tc_le32(l + 16) > 1)
            return tc_err_set(e, TC_E_UNSUPPORTED, "%s @%#" PRIx64 ": multi-disk zip archive",
                              z->path, at - 20);
        if (off64 > at - 20 || at - 20 - off64 < 56)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": zip64 end record offset %#" PRIx64
                              " is out of bounds",
                              z->path, at - 20, off64);
        const uint8_t *r64 = d + off64;
        if (tc_le32(r64) != ZIP_SIG_EOCD64)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": bad zip64 end-of-central-directory signature",
                              z->path, off64);
        if (tc_le32(r64 + 16) != 0 || tc_le32(r64 + 20) != 0)
            return tc_err_set(e, TC_E_UNSUPPORTED, "%s @%#" PRIx64 ": multi-disk zip archive",
                              z->path, off64);
        n_disk = tc_le64(r64 + 24);
        n_total = tc_le64(r64 + 32);
        cd_size = tc_le64(r64 + 40);
        cd_off = tc_le64(r64 + 48);
        at = off64; /* the central directory must end before the zip64 record */
    } else if (need64) {
        return tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": zip64 values without a zip64 locator",
                          z->path, at);
    } else if (disk != 0 || cd_disk != 0) {
        return tc_err_set(e, TC_E_UNSUPPORTED, "%s @%#" PRIx64 ": multi-disk zip archive", z->path,
                          at);
    }
    uint64_t cd_end;
    if (n_disk != n_total)
        return tc_err_set(e, TC_E_UNSUPPORTED, "%s @%#" PRIx64 ": multi-disk zip archive", z->path,
                          at);
    if (!tc_add_ok(cd_off, cd_size, &cd_end) || cd_end > at)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": central directory [%#" PRIx64 ", +%" PRIu64
                          ") runs past its end record",
                          z->path, at, cd_off, cd_size);
    if (n_total > TC_ZIP_MAX_ENTRIES)
        return tc_err_set(e, TC_E_LIMIT, "%s: %" PRIu64 " zip entries (cap %u)", z->path, n_total,
                          TC_ZIP_MAX_ENTRIES);
    if (n_total > cd_size / ZIP_CENTRAL_MIN)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": %" PRIu64 " entries cannot fit a %" PRIu64
                          "-byte central directory",
                          z->path, cd_off, n_total, cd_size);
    out->n_entries = n_total;
    out->cd_size = cd_size;
    out->cd_off = cd_off;
    return TC_OK;
}

/* ===== Central and local headers ===== */

/* Apply the zip64 extended information extra field (id 1): the 64-bit values follow in a fixed
 * order, present only for the fields whose 32-bit value is all ones. */
static tc_status zip_extra64(const tc_zip *z, uint64_t rec_off, const uint8_t *x, uint64_t xn,
                             tc_zip_entry *en, int need_u, int need_c, int need_o, tc_err *e)
{
    tc_cur c;
    tc_cur_init(&c, x, xn, z->path, e);
    while (tc_cur_left(&c) >= 4) {
        const uint8_t *body = NULL;
        uint16_t id = tc_le16(c.p), len = tc_le16(c.p + 2);
        c.p += 4;
        if (tc_cur_take(&c, len, &body) != TC_OK)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": zip entry '%s': extra field runs past its record",
                              z->path, rec_off, en->name);
        if (id != 1)
            continue;
        unsigned want = 8u * (unsigned)(need_u + need_c + need_o), at = 0;
        if (len < want)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s @%#" PRIx64 ": zip entry '%s': zip64 extra field too short",
                              z->path, rec_off, en->name);
        if (need_u) {
            en->usize = tc_le64(body + at);
            at += 8;
        }
        if (need_c) {
            en->csize = tc_le64(body + at);
            at += 8;
        }
        if (need_o)
            en->lh_off = tc_le64(body + at);
        return TC_OK;
    }
    if (need_u || need_c || need_o)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": zip entry '%s': 32-bit size or offset is 0xffffffff "
                          "but there is no zip64 extra field",
                          z->path, rec_off, en->name);
    return TC_OK;
}

/* Check the local header of `en` against its central record and locate the data. */
static tc_status zip_check_local(const tc_zip *z, tc_zip_entry *en, uint64_t limit, tc_err *e)
{
    const uint8_t *d = tc_map_data(z->map);
    uint64_t lh = en->lh_off, end;
    if (!tc_add_ok(lh, ZIP_LOCAL_MIN, &end) || end > limit)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": zip entry '%s': local header out of bounds", z->path,
                          lh, en->name);
    const uint8_t *l = d + lh;
    if (tc_le32(l) != ZIP_SIG_LOCAL)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": zip entry '%s': bad local header signature", z->path,
                          lh, en->name);
    uint16_t method = tc_le16(l + 8);
    uint64_t nl = tc_le16(l + 26), xl = tc_le16(l + 28);
    size_t name_len = strlen(en->name);
    if (method != en->method || nl != name_len || end + nl > limit ||
        memcmp(d + end, en->name, name_len) != 0)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": zip entry '%s': local header does not match the "
                          "central directory",
                          z->path, lh, en->name);
    uint64_t data = end + nl + xl, data_end; /* each term < 2^16: no overflow past limit */
    if (data > limit || !tc_add_ok(data, en->csize, &data_end) || data_end > limit)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": zip entry '%s': data [%#" PRIx64 ", +%" PRIu64
                          ") runs past the central directory at %#" PRIx64,
                          z->path, lh, en->name, data, en->csize, limit);
    en->data_off = data;
    return TC_OK;
}

static int zip_name_cmp_r(const void *a, const void *b, void *ctx)
{
    const tc_zip *z = ctx;
    return strcmp(z->ents[*(const size_t *)a].name, z->ents[*(const size_t *)b].name);
}

tc_status tc_zip_open(tc_map *m, tc_zip **out, tc_err *e)
{
    *out = NULL;
    tc_zip *z = tc_calloc(1, sizeof *z);
    if (z == NULL)
        return tc_err_nomem(e);
    z->map = tc_map_ref(m);
    z->path = tc_map_path(m);
    tc_status rc;
    zip_eocd eo = {0, 0, 0};
    if ((rc = zip_find_eocd(z, &eo, e)) != TC_OK)
        goto fail;
    /* names take at most cd_size bytes in total (plus a NUL each) */
    z->ents = tc_calloc(eo.n_entries ? (size_t)eo.n_entries : 1, sizeof *z->ents);
    z->by_name = tc_calloc(eo.n_entries ? (size_t)eo.n_entries : 1, sizeof *z->by_name);
    z->names = tc_malloc((size_t)eo.cd_size + (size_t)eo.n_entries + 1);
    if (z->ents == NULL || z->by_name == NULL || z->names == NULL) {
        rc = tc_err_nomem(e);
        goto fail;
    }
    const uint8_t *d = tc_map_data(m);
    tc_cur c;
    tc_cur_init(&c, d + eo.cd_off, eo.cd_size, z->path, e);
    char *np = z->names;
    for (uint64_t i = 0; i < eo.n_entries; i++) {
        uint64_t rec = eo.cd_off + tc_cur_off(&c);
        const uint8_t *h = NULL, *name = NULL, *x = NULL, *comment = NULL;
        if (tc_cur_left(&c) < ZIP_CENTRAL_MIN || tc_le32(c.p) != ZIP_SIG_CENTRAL) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": zip central directory entry %" PRIu64
                            " is missing or has a bad signature",
                            z->path, rec, i);
            goto fail;
        }
        h = c.p;
        c.p += ZIP_CENTRAL_MIN;
        uint16_t nl = tc_le16(h + 28), xl = tc_le16(h + 30), cl = tc_le16(h + 32);
        if ((rc = tc_cur_take(&c, nl, &name)) != TC_OK || (rc = tc_cur_take(&c, xl, &x)) != TC_OK ||
            (rc = tc_cur_take(&c, cl, &comment)) != TC_OK)
            goto fail;
        if (nl == 0 || memchr(name, 0, nl) != NULL) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": zip entry %" PRIu64 " has an empty name or a NUL "
                            "byte in its name",
                            z->path, rec, i);
            goto fail;
        }
        tc_zip_entry *en = &z->ents[i];
        memcpy(np, name, nl);
        np[nl] = 0;
        en->name = np;
        np += nl + 1;
        en->flags = tc_le16(h + 8);
        en->method = tc_le16(h + 10);
        en->crc32 = tc_le32(h + 16);
        en->csize = tc_le32(h + 20);
        en->usize = tc_le32(h + 24);
        en->lh_off = tc_le32(h + 42);
        uint16_t disk = tc_le16(h + 34);
        if ((rc = zip_extra64(z, rec, x, xl, en, en->usize == 0xffffffffu, en->csize == 0xffffffffu,
                              en->lh_off == 0xffffffffu, e)) != TC_OK)
            goto fail;
        if (disk != 0 && disk != 0xffff) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "%s @%#" PRIx64 ": zip entry '%s' on disk %u",
                            z->path, rec, en->name, disk);
            goto fail;
        }
        if (en->flags & 1u) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "%s @%#" PRIx64 ": zip entry '%s' is encrypted",
                            z->path, rec, en->name);
            goto fail;
        }
        if (en->method != 0 && en->method != 8) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED,
                            "%s @%#" PRIx64 ": zip entry '%s' uses compression method %u "
                            "(only stored and deflate are supported)",
                            z->path, rec, en->name, en->method);
            goto fail;
        }
        if (en->method == 0 && en->csize != en->usize) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": stored zip entry '%s' has compressed size %" PRIu64
                            " != size %" PRIu64,
                            z->path, rec, en->name, en->csize, en->usize);
            goto fail;
        }
        if ((rc = zip_check_local(z, en, eo.cd_off, e)) != TC_OK)
            goto fail;
        z->by_name[i] = (size_t)i;
    }
    z->n = (size_t)eo.n_entries;
    qsort_r(z->by_name, z->n, sizeof *z->by_name, zip_name_cmp_r, z);
    for (size_t i = 1; i < z->n; i++) {
        const tc_zip_entry *a = &z->ents[z->by_name[i - 1]], *b = &z->ents[z->by_name[i]];
        if (strcmp(a->name, b->name) == 0) {
            rc = tc_err_set(e, TC_E_FORMAT, "%s @%#" PRIx64 ": duplicate zip entry '%s'", z->path,
                            b->lh_off, b->name);
            goto fail;
        }
    }
    *out = z;
    return TC_OK;
fail:
    tc_zip_free(z);
    return rc;
}

const tc_zip_entry *tc_zip_find(const tc_zip *z, const char *name)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, z->ents[z->by_name[mid]].name);
        if (c == 0)
            return &z->ents[z->by_name[mid]];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ===== Entry data ===== */

tc_status tc_zip_stored_off(const tc_zip *z, const tc_zip_entry *en, uint64_t *off, tc_err *e)
{
    if (en->method != 0)
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          "%s @%#" PRIx64 ": zip entry '%s' is compressed (method %u), "
                          "expected it stored",
                          z->path, en->lh_off, en->name, en->method);
    *off = en->data_off;
    return TC_OK;
}

/* Inflate the entry, handing each produced chunk to `sink` (NULL: only count). Checks the
 * produced size equals usize and the stream ends exactly at csize. */
typedef tc_status (*zip_sink)(void *ctx, const uint8_t *p, size_t n, tc_err *e);

static tc_status zip_inflate(const tc_zip *z, const tc_zip_entry *en, zip_sink sink, void *ctx,
                             tc_err *e)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
        return tc_err_set(e, TC_E_NOMEM, "out of memory (zlib)");
    uint8_t buf[1 << 15];
    const uint8_t *src = tc_map_data(z->map) + en->data_off;
    uint64_t in_left = en->csize, produced = 0;
    tc_status rc = TC_OK;
    int zr = Z_OK;
    while (zr != Z_STREAM_END) {
        if (s.avail_in == 0 && in_left > 0) {
            uInt take = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            s.next_in = (Bytef *)(uintptr_t)src;
            s.avail_in = take;
            src += take;
            in_left -= take;
        }
        s.next_out = buf;
        s.avail_out = sizeof buf;
        zr = inflate(&s, Z_NO_FLUSH);
        size_t got = sizeof buf - s.avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && got > 0)) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": zip entry '%s': bad deflate data after %" PRIu64
                            " bytes (%s)",
                            z->path, en->data_off, en->name, produced,
                            s.msg ? s.msg : (zr == Z_BUF_ERROR ? "truncated" : "zlib error"));
            break;
        }
        if (got > en->usize - produced) {
            rc = tc_err_set(e, TC_E_FORMAT,
                            "%s @%#" PRIx64 ": zip entry '%s' inflates to more than its recorded "
                            "%" PRIu64 " bytes",
                            z->path, en->data_off, en->name, en->usize);
            break;
        }
        produced += got;
        if (sink && got && (rc = sink(ctx, buf, got, e)) != TC_OK)
            break;
    }
    if (rc == TC_OK && produced != en->usize)
        rc = tc_err_set(e, TC_E_FORMAT,
                        "%s @%#" PRIx64 ": zip entry '%s' inflates to %" PRIu64
                        " bytes, recorded %" PRIu64,
                        z->path, en->data_off, en->name, produced, en->usize);
    inflateEnd(&s);
    return rc;
}

typedef struct zip_buf {
    uint8_t *p;
    uint64_t n;
    uLong crc;
} zip_buf;

static tc_status zip_sink_copy(void *ctx, const uint8_t *p, size_t n, tc_err *e)
{
    (void)e;
    zip_buf *b = ctx;
    memcpy(b->p + b->n, p, n); /* zip_inflate bounds the total by usize */
    b->n += n;
    return TC_OK;
}

static tc_status zip_sink_crc(void *ctx, const uint8_t *p, size_t n, tc_err *e)
{
    (void)e;
    zip_buf *b = ctx;
    b->crc = crc32(b->crc, p, (uInt)n);
    return TC_OK;
}

static uLong zip_crc_mem(uLong crc, const uint8_t *p, uint64_t n)
{
    while (n > 0) {
        uInt take = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, take);
        p += take;
        n -= take;
    }
    return crc;
}

static tc_status zip_crc_result(const tc_zip *z, const tc_zip_entry *en, uLong crc, tc_err *e)
{
    if ((uint32_t)crc != en->crc32)
        return tc_err_set(e, TC_E_CHECKSUM,
                          "%s @%#" PRIx64 ": zip entry '%s': CRC-32 %08" PRIx32
                          " != recorded %08" PRIx32,
                          z->path, en->data_off, en->name, (uint32_t)crc, en->crc32);
    return TC_OK;
}

tc_status tc_zip_extract(const tc_zip *z, const tc_zip_entry *en, uint64_t cap, uint8_t **out,
                         uint64_t *n, tc_err *e)
{
    *out = NULL;
    if (en->usize > cap || en->usize > SIZE_MAX - 1)
        return tc_err_set(e, TC_E_LIMIT,
                          "%s @%#" PRIx64 ": zip entry '%s' is %" PRIu64 " bytes (cap %" PRIu64 ")",
                          z->path, en->lh_off, en->name, en->usize, cap);
    /* deflate expands at most ~1032:1: refuse a size claim no stream could meet before
     * allocating for it */
    if (en->method == 8 && en->usize / 1032 > en->csize + 1)
        return tc_err_set(e, TC_E_FORMAT,
                          "%s @%#" PRIx64 ": zip entry '%s' claims %" PRIu64 " bytes from %" PRIu64
                          " deflated bytes",
                          z->path, en->lh_off, en->name, en->usize, en->csize);
    zip_buf b = {tc_malloc((size_t)en->usize + 1), 0, 0};
    if (b.p == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory (%" PRIu64 " bytes for zip entry '%s')",
                          en->usize, en->name);
    tc_status rc = TC_OK;
    if (en->method == 0) {
        memcpy(b.p, tc_map_data(z->map) + en->data_off, (size_t)en->usize);
        b.n = en->usize;
    } else {
        rc = zip_inflate(z, en, zip_sink_copy, &b, e);
    }
    if (rc == TC_OK)
        rc = zip_crc_result(z, en, zip_crc_mem(crc32(0, NULL, 0), b.p, b.n), e);
    if (rc != TC_OK) {
        tc_free(b.p);
        return rc;
    }
    b.p[b.n] = 0;
    *out = b.p;
    *n = b.n;
    return TC_OK;
}

tc_status tc_zip_check_crc(const tc_zip *z, const tc_zip_entry *en, tc_err *e)
{
    if (en->method == 0)
        return zip_crc_result(
            z, en, zip_crc_mem(crc32(0, NULL, 0), tc_map_data(z->map) + en->data_off, en->csize),
            e);
    zip_buf b = {NULL, 0, crc32(0, NULL, 0)};
    TC_TRY(zip_inflate(z, en, zip_sink_crc, &b, e));
    return zip_crc_result(z, en, b.crc, e);
}
