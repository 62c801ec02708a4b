/*
 * st_value.h - private to formats/: safetensors' typed metadata values. safetensors'
 * __metadata__ holds strings only; tensorcast keeps GGUF's typed values there as JSON text, with
 * each key's type ("u32", "[[f32]]", ...) listed under tensorcast.kv_types. st_value.c turns a
 * tc_value into that JSON text and back, checking every byte of what it reads.
 */
#ifndef TC_ST_VALUE_H
#define TC_ST_VALUE_H

#include "tc_impl.h"

#define ST_KV_TYPES "tensorcast.kv_types" /* the __metadata__ key listing the types */

/* A growable byte buffer. */
typedef struct st_buf {
    char *p;
    size_t n, cap;
    int oom;
} st_buf;

void tc_stv_buf_add(st_buf *b, const char *s, size_t n);

/* A type descriptor: `depth` levels of arrays around a scalar `base`. */
typedef struct st_vdesc {
    int depth;
    tc_vtype base;
} st_vdesc;

/* Describe v's type; -1 when nested arrays disagree on their element type. */
int tc_stv_desc(const tc_value *v, st_vdesc *d);
/* The type's text ("u32", "[[f32]]") into out; parse it back (-1 when malformed). */
void tc_stv_type_text(const st_vdesc *d, char *out, size_t cap);
int tc_stv_type_parse(const char *s, st_vdesc *d);

/* v as JSON text appended to b; -1 when it cannot be written (b->oom on memory). */
int tc_stv_json(st_buf *b, const tc_value *v);

/* Parse the JSON text [text, text + n) as a value of type d (no trailing characters); messages
 * name `file` and `key`. Release the value with tc_stv_release. */
tc_status tc_stv_parse(const char *text, size_t n, const st_vdesc *d, const char *file,
                       const char *key, tc_value *out, tc_err *e);
void tc_stv_release(tc_value *v);

#endif /* TC_ST_VALUE_H */
