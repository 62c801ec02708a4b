/*
 * zip.h - private to formats/: a bounds-checked reader of a zip file's central directory.
 *
 * The archive is a tc_map (a mapped file or caller memory). Entries are located from the
 * central directory (zip64 records understood), each local header is checked against its
 * central entry, and every offset and size is checked against the file before it is used.
 * Stored entries are handed out as a byte range of the map (zero copy); deflated entries are
 * inflated with zlib into a buffer whose size the caller caps. CRC-32 is checked on demand
 * (tc_zip_check_crc) so that reading stays lazy and `verify` can ask for it.
 *
 * Not supported (an error, never a crash): multi-disk archives, encryption, methods other than
 * stored (0) and deflate (8).
 */
#ifndef TC_ZIP_H
#define TC_ZIP_H

#include "tc_impl.h"

#define TC_ZIP_MAX_ENTRIES (1u << 20) /* entries in one archive */
#define TC_ZIP_MAX_NAME    4096       /* bytes in one entry name */

typedef struct tc_zip tc_zip;

typedef struct tc_zip_entry {
    const char *name;  /* NUL-terminated copy; valid until tc_zip_free */
    uint16_t method;   /* 0 stored, 8 deflate */
    uint16_t flags;    /* general purpose bit flags */
    uint32_t crc32;    /* from the central directory */
    uint64_t csize;    /* bytes stored in the archive */
    uint64_t usize;    /* bytes once uncompressed */
    uint64_t lh_off;   /* local header offset */
    uint64_t data_off; /* first byte of the entry's data (checked: data_off + csize <= file) */
} tc_zip_entry;

/* 1 when the first bytes look like a zip (local header or empty-archive signature). */
int tc_zip_sniff(const uint8_t *head, size_t n);

/* Parse the central directory of `m` (takes a reference on the map). Errors name the map's
 * path and the byte offset. */
tc_status tc_zip_open(tc_map *m, tc_zip **out /* OUT */, tc_err *e);
void tc_zip_free(tc_zip *z); /* NULL is a no-op */

tc_map *tc_zip_map(const tc_zip *z); /* borrowed; lives as long as z */
size_t tc_zip_count(const tc_zip *z);
const tc_zip_entry *tc_zip_at(const tc_zip *z, size_t i); /* central-directory order */
/* The entry called exactly `name`, or NULL. Names are unique (duplicates are rejected). */
const tc_zip_entry *tc_zip_find(const tc_zip *z, const char *name);

/* Byte offset in the map of a stored entry's data; TC_E_UNSUPPORTED for a compressed one. */
tc_status tc_zip_stored_off(const tc_zip *z, const tc_zip_entry *en, uint64_t *off /* OUT */,
                            tc_err *e);
/*
 * The whole uncompressed entry in a tc_malloc'd buffer (one NUL byte appended, not counted in
 * *n). Stored entries are copied; deflated ones inflated. An entry larger than `cap` bytes is
 * TC_E_LIMIT before anything is allocated; a deflate stream that does not produce exactly
 * usize bytes is TC_E_FORMAT. The CRC-32 is checked too (TC_E_CHECKSUM).
 */
tc_status tc_zip_extract(const tc_zip *z, const tc_zip_entry *en, uint64_t cap,
                         uint8_t **out /* OUT */, uint64_t *n, tc_err *e);
/* Recompute the entry's CRC-32 (streaming, bounded memory) and compare it with the central
 * directory: TC_OK, TC_E_CHECKSUM naming the entry, or an inflate error. */
tc_status tc_zip_check_crc(const tc_zip *z, const tc_zip_entry *en, tc_err *e);

#endif
