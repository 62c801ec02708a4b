/*
 * pickle.h - private to formats/: a data-only pickle machine (protocols 0-5 opcodes that a
 * PyTorch state dict uses).
 *
 * Nothing is ever executed. GLOBAL / STACK_GLOBAL resolve names on a fixed allow-list (torch
 * rebuild functions, storage and dtype symbols, OrderedDict, ...) into inert symbols. A name on
 * the deny-list (modules that reach the OS, the interpreter or other code: os, subprocess,
 * builtins, torch.load, ...) is TC_E_UNSAFE at once; any other name becomes an opaque
 * placeholder (TC_PK_SYM_OPAQUE) that calls build inert nodes around, so a checkpoint whose
 * non-tensor entries hold, say, numpy.core.multiarray.scalar still reads: the reader skips and
 * lists those entries and refuses a tensor that depends on one. REDUCE / NEWOBJ / BUILD on an
 * allowed symbol build a symbolic "call" node (or, for plain containers such as OrderedDict() and
 * set(list), the container). BINPERSID builds a "persistent id" node the caller resolves (PyTorch's
 * storages).
 *
 * Hard limits: stack depth, marks, memo size, object count, string length <= bytes left.
 * Objects live in an arena owned by the tc_pk handle; strings point into the input buffer,
 * which must outlive the handle's objects.
 */
#ifndef TC_PICKLE_H
#define TC_PICKLE_H

#include "tc_impl.h"

#define TC_PK_MAX_STACK   (1u << 20) /* values on the stack */
#define TC_PK_MAX_MARKS   (1u << 16) /* open MARKs */
#define TC_PK_MAX_MEMO    (1u << 22) /* memo slots (highest index + 1) */
#define TC_PK_MAX_OBJECTS (1u << 22) /* objects created by one handle (32 bytes each) */
#define TC_PK_MAX_LONG    64u        /* bytes of a LONG1/LONG4 integer */
#define TC_PK_MAX_DEPTH   64         /* nesting depth a walker follows */

typedef enum tc_pk_kind {
    TC_PK_NONE,
    TC_PK_BOOL,   /* i: 0 / 1 */
    TC_PK_INT,    /* i */
    TC_PK_BIGINT, /* s: little-endian two's complement bytes (> 8) */
    TC_PK_FLOAT,  /* f */
    TC_PK_STR,    /* s: bytes as in the pickle (UTF-8 for unicode opcodes) */
    TC_PK_BYTES,  /* s */
    TC_PK_TUPLE,  /* seq */
    TC_PK_LIST,   /* seq */
    TC_PK_DICT,   /* seq: key, value, key, value, ... (insertion order) */
    TC_PK_SET,    /* seq */
    TC_PK_GLOBAL, /* sym (+ dtype for storage / dtype symbols) */
    TC_PK_CALL,   /* call: fn (a GLOBAL), args (a TUPLE), state (BUILD) or NULL */
    TC_PK_PERSID  /* pid */
} tc_pk_kind;

/* The allow-list. */
typedef enum tc_pk_sym {
    TC_PK_SYM_REBUILD_TENSOR,
    TC_PK_SYM_REBUILD_TENSOR_V2,
    TC_PK_SYM_REBUILD_TENSOR_V3,
    TC_PK_SYM_REBUILD_PARAMETER,
    TC_PK_SYM_REBUILD_PARAMETER_WITH_STATE,
    TC_PK_SYM_REBUILD_FROM_TYPE_V2,
    TC_PK_SYM_STORAGE,   /* torch.FloatStorage, ...: dtype set (-1 for UntypedStorage) */
    TC_PK_SYM_DTYPE,     /* torch.float32, ...: dtype set */
    TC_PK_SYM_TENSOR,    /* torch.Tensor */
    TC_PK_SYM_PARAMETER, /* torch.nn.parameter.Parameter */
    TC_PK_SYM_ORDERED_DICT,
    TC_PK_SYM_SIZE,   /* torch.Size */
    TC_PK_SYM_DEVICE, /* torch.device */
    TC_PK_SYM_CODECS_ENCODE,
    TC_PK_SYM_SET,
    TC_PK_SYM_FROZENSET,
    TC_PK_SYM_BYTEARRAY,
    TC_PK_SYM_OPAQUE /* any other global outside the deny-list: a named placeholder, never run */
} tc_pk_sym;

typedef struct tc_pkobj tc_pkobj;
struct tc_pkobj {
    tc_pk_kind kind;
    union {
        int64_t i;
        double f;
        struct {
            const uint8_t *p;
            uint64_t n;
        } s;
        struct {
            tc_pkobj **v;
            uint64_t n, cap;
        } seq;
        struct {
            int sym;
            int dtype;        /* TC_DTYPE_* or -1 */
            const char *name; /* "module.name", static */
        } g;
        struct {
            tc_pkobj *fn, *args, *state;
        } call;
        tc_pkobj *pid;
    };
};

typedef struct tc_pk tc_pk;

tc_pk *tc_pk_new(void); /* NULL when out of memory */
void tc_pk_free(tc_pk *pk);

/*
 * Run one pickle from data[0..n) up to and including its STOP. `what` names the input in
 * messages, byte offsets in which are reported as `base` + position. *used receives the bytes
 * consumed (so concatenated pickles can be read one after another). The result lives until
 * tc_pk_free.
 */
tc_status tc_pk_load(tc_pk *pk, const uint8_t *data, uint64_t n, const char *what, uint64_t base,
                     uint64_t *used, tc_pkobj **out /* OUT */, tc_err *e);

/* 1 when o is a STR equal to the NUL-terminated `s`. */
int tc_pk_str_eq(const tc_pkobj *o, const char *s);
/* "module.name" of the first placeholder global (TC_PK_SYM_OPAQUE) in `o` or what it holds,
 * searched `depth` levels deep; NULL when there is none. */
const char *tc_pk_opaque_in(const tc_pkobj *o, int depth);

#endif
