/* st_header.h - the safetensors header scanner (st_header.c), internal to formats/. */
#ifndef TC_ST_HEADER_H
#define TC_ST_HEADER_H

#include "tc_impl.h"

#define TC_ST_MAX_TENSORS (1u << 20)  /* tensors in one safetensors file */
#define TC_ST_MAX_META    (16u << 20) /* bytes of the __metadata__ object */

typedef struct st_hdr_ent {
    const char *name; /* in st_hdr.names */
    int dtype;
    int n_dims;
    int64_t shape[TC_MAX_DIMS];
    uint64_t begin, end;
    size_t idx; /* position in the header: ties keep header order */
} st_hdr_ent;

typedef struct st_hdr {
    st_hdr_ent *ents;
    size_t n, cap;
    char *names;      /* every tensor name, NUL-terminated (tc_malloc'd, header-sized) */
    const char *meta; /* the __metadata__ value's text inside the header, or NULL */
    size_t meta_len;
} st_hdr;

/* The dtype of a safetensors dtype name ("F32"...), -1 when unsupported (safetensors.c). */
int tc_st_dtype_from_name(const char *s);

/* Scan the `len` header bytes at `text` (the 8-byte length prefix excluded). Errors name `file`
 * and the offset. On success free with tc_st_header_free. */
tc_status tc_st_header_scan(const uint8_t *text, uint64_t len, const char *file, st_hdr *h,
                            tc_err *e);
void tc_st_header_free(st_hdr *h);

#endif /* TC_ST_HEADER_H */
