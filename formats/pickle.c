/*
 * pickle.c - the data-only pickle machine (opcodes from CPython Lib/pickletools.py; which
 * globals a state dict needs from PyTorch torch/_weights_only_unpickler.py).
 *
 * It interprets, never executes: values are built in an arena, GLOBAL resolves only an
 * allow-list into inert symbols, and REDUCE/NEWOBJ/BUILD make symbolic nodes. Every length is
 * checked against the bytes left before use, so a huge length is an error, not an allocation.
 */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>

/* ===== Arena ===== */

#define PK_CHUNK 1024

typedef struct pk_chunk {
    struct pk_chunk *next;
    size_t used;
    tc_pkobj objs[PK_CHUNK];
} pk_chunk;

typedef struct pk_blob {
    struct pk_blob *next;
    uint8_t data[];
} pk_blob;

struct tc_pk {
    pk_chunk *chunks;
    pk_blob *blobs;
    uint64_t n_objects;
};

tc_pk *tc_pk_new(void)
{
    return tc_calloc(1, sizeof(tc_pk));
}

static int pk_is_seq(tc_pk_kind k)
{
    return k == TC_PK_TUPLE || k == TC_PK_LIST || k == TC_PK_DICT || k == TC_PK_SET;
}

void tc_pk_free(tc_pk *pk)
{
    if (pk == NULL)
        return;
    for (pk_chunk *c = pk->chunks, *next; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->used; i++)
            if (pk_is_seq(c->objs[i].kind))
                tc_free(c->objs[i].seq.v);
        tc_free(c);
    }
    for (pk_blob *b = pk->blobs, *next; b; b = next) {
        next = b->next;
        tc_free(b);
    }
    tc_free(pk);
}

int tc_pk_str_eq(const tc_pkobj *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->kind == TC_PK_STR && o->s.n == n && memcmp(o->s.p, s, n) == 0;
}

/* ===== The machine ===== */

typedef struct pk_vm {
    tc_pk *pk;
    tc_cur c;
    uint64_t base;
    tc_pkobj **stack;
    uint64_t sp, stack_cap;
    uint64_t *marks;
    uint64_t n_marks, marks_cap;
    tc_pkobj **memo;
    uint64_t memo_cap, n_memo;
    uint64_t op_off; /* offset of the opcode being run, for messages */
    int proto;
} pk_vm;

#define VM_ERR(vm, code, ...) pk_err((vm), (code), __VA_ARGS__)

static tc_status pk_err(pk_vm *vm, tc_status code, const char *fmt, ...) TC_PRINTF(3, 4);
static tc_status pk_err(pk_vm *vm, tc_status code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tc_err_set(vm->c.err, code, "%s @%#" PRIx64 ": %s", vm->c.what, vm->base + vm->op_off,
                      msg);
}

/* The status of the error already recorded (allocation helpers return NULL after setting it). */
static tc_status pk_code(const pk_vm *vm)
{
    return vm->c.err && vm->c.err->code ? vm->c.err->code : TC_E_NOMEM;
}

static tc_pkobj *pk_obj(pk_vm *vm, tc_pk_kind kind)
{
    tc_pk *pk = vm->pk;
    if (pk->n_objects >= TC_PK_MAX_OBJECTS) {
        VM_ERR(vm, TC_E_LIMIT, "more than %u pickle objects", TC_PK_MAX_OBJECTS);
        return NULL;
    }
    if (pk->chunks == NULL || pk->chunks->used == PK_CHUNK) {
        pk_chunk *c = tc_malloc(sizeof *c);
        if (c == NULL) {
            tc_err_nomem(vm->c.err);
            return NULL;
        }
        c->next = pk->chunks;
        c->used = 0;
        pk->chunks = c;
    }
    tc_pkobj *o = &pk->chunks->objs[pk->chunks->used++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    pk->n_objects++;
    return o;
}

static uint8_t *pk_blob_new(pk_vm *vm, uint64_t n)
{
    pk_blob *b = n < SIZE_MAX - sizeof(pk_blob) ? tc_malloc(sizeof(pk_blob) + (size_t)n + 1) : NULL;
    if (b == NULL) {
        tc_err_nomem(vm->c.err);
        return NULL;
    }
    b->next = vm->pk->blobs;
    vm->pk->blobs = b;
    return b->data;
}

static tc_status pk_seq_push(pk_vm *vm, tc_pkobj *s, tc_pkobj *v)
{
    if (s->seq.n == s->seq.cap) {
        uint64_t cap = s->seq.cap ? s->seq.cap * 2 : 4;
        tc_pkobj **nv = tc_realloc(s->seq.v, (size_t)cap * sizeof *nv);
        if (nv == NULL)
            return tc_err_nomem(vm->c.err);
        s->seq.v = nv;
        s->seq.cap = cap;
    }
    s->seq.v[s->seq.n++] = v;
    return TC_OK;
}

static tc_status pk_push(pk_vm *vm, tc_pkobj *o)
{
    if (o == NULL)
        return pk_code(vm);
    if (vm->sp == vm->stack_cap) {
        if (vm->stack_cap >= TC_PK_MAX_STACK)
            return VM_ERR(vm, TC_E_LIMIT, "pickle stack deeper than %u", TC_PK_MAX_STACK);
        uint64_t cap = vm->stack_cap ? vm->stack_cap * 2 : 64;
        tc_pkobj **ns = tc_realloc(vm->stack, (size_t)cap * sizeof *ns);
        if (ns == NULL)
            return tc_err_nomem(vm->c.err);
        vm->stack = ns;
        vm->stack_cap = cap;
    }
    vm->stack[vm->sp++] = o;
    return TC_OK;
}

/* The bottom of the current frame: everything above the innermost mark. */
static uint64_t pk_floor(const pk_vm *vm)
{
    return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
}

static tc_status pk_pop(pk_vm *vm, tc_pkobj **o)
{
    if (vm->sp <= pk_floor(vm))
        return VM_ERR(vm, TC_E_FORMAT, "pickle stack underflow");
    *o = vm->stack[--vm->sp];
    return TC_OK;
}

static tc_status pk_top(pk_vm *vm, tc_pkobj **o)
{
    if (vm->sp <= pk_floor(vm))
        return VM_ERR(vm, TC_E_FORMAT, "pickle stack underflow");
    *o = vm->stack[vm->sp - 1];
    return TC_OK;
}

static tc_status pk_pop_mark(pk_vm *vm, uint64_t *at)
{
    if (vm->n_marks == 0)
        return VM_ERR(vm, TC_E_FORMAT, "pickle opcode needs a MARK but none is open");
    *at = vm->marks[--vm->n_marks];
    return TC_OK;
}

/* ===== Reading operands ===== */

static tc_status pk_take(pk_vm *vm, uint64_t n, const uint8_t **p)
{
    if (n > tc_cur_left(&vm->c))
        return VM_ERR(vm, TC_E_FORMAT,
                      "truncated pickle: operand of %" PRIu64 " bytes, %" PRIu64 " left", n,
                      tc_cur_left(&vm->c));
    *p = vm->c.p;
    vm->c.p += n;
    return TC_OK;
}

static tc_status pk_uint(pk_vm *vm, unsigned width, uint64_t *v)
{
    const uint8_t *p = NULL;
    TC_TRY(pk_take(vm, width, &p));
    uint64_t r = 0;
    for (unsigned i = 0; i < width; i++)
        r |= (uint64_t)p[i] << (8 * i);
    *v = r;
    return TC_OK;
}

/* A text line up to '\n' (excluded), at most `max` bytes. */
static tc_status pk_line(pk_vm *vm, uint64_t max, const uint8_t **p, uint64_t *n)
{
    uint64_t left = tc_cur_left(&vm->c);
    const uint8_t *nl = memchr(vm->c.p, '\n', (size_t)(left < max + 1 ? left : max + 1));
    if (nl == NULL)
        return VM_ERR(vm, TC_E_FORMAT,
                      "pickle text operand without a newline within %" PRIu64 " bytes", max);
    *p = vm->c.p;
    *n = (uint64_t)(nl - vm->c.p);
    vm->c.p = nl + 1;
    return TC_OK;
}

static tc_status pk_push_str(pk_vm *vm, tc_pk_kind kind, uint64_t n)
{
    const uint8_t *p = NULL;
    TC_TRY(pk_take(vm, n, &p));
    tc_pkobj *o = pk_obj(vm, kind);
    if (o) {
        o->s.p = p;
        o->s.n = n;
    }
    return pk_push(vm, o);
}

static tc_status pk_push_int(pk_vm *vm, tc_pk_kind kind, int64_t v)
{
    tc_pkobj *o = pk_obj(vm, kind);
    if (o)
        o->i = v;
    return pk_push(vm, o);
}

/* LONG1/LONG4: little-endian two's complement; up to 8 bytes becomes an INT. */
static tc_status pk_long(pk_vm *vm, uint64_t n)
{
    if (n > TC_PK_MAX_LONG)
        return VM_ERR(vm, TC_E_LIMIT, "pickle integer of %" PRIu64 " bytes (cap %u)", n,
                      TC_PK_MAX_LONG);
    const uint8_t *p = NULL;
    TC_TRY(pk_take(vm, n, &p));
    if (n > 8) {
        tc_pkobj *o = pk_obj(vm, TC_PK_BIGINT);
        if (o) {
            o->s.p = p;
            o->s.n = n;
        }
        return pk_push(vm, o);
    }
    uint64_t u = 0;
    for (uint64_t i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    return pk_push_int(vm, TC_PK_INT, (int64_t)u);
}

/* INT / LONG text forms: decimal, "01"/"00" for True/False in protocol 0. */
static tc_status pk_text_int(pk_vm *vm, int is_long)
{
    const uint8_t *p = NULL;
    uint64_t n = 0;
    TC_TRY(pk_line(vm, 64, &p, &n));
    if (!is_long && n == 2 && p[0] == '0' && (p[1] == '0' || p[1] == '1'))
        return pk_push_int(vm, TC_PK_BOOL, p[1] == '1');
    if (is_long && n > 0 && p[n - 1] == 'L')
        n--;
    uint64_t i = 0, v = 0;
    int neg = 0;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    if (i == n)
        return VM_ERR(vm, TC_E_FORMAT, "bad pickle integer literal");
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || !tc_mul_ok(v, 10, &v) || !tc_add_ok(v, p[i] - '0', &v) ||
            v > (uint64_t)INT64_MAX)
            return VM_ERR(vm, TC_E_FORMAT, "bad or too large pickle integer literal");
    }
    return pk_push_int(vm, TC_PK_INT, neg ? -(int64_t)v : (int64_t)v);
}

/* ===== Globals: the allow-list ===== */

typedef struct pk_allowed {
    const char *module, *name;
    int sym, dtype;
} pk_allowed;

static const pk_allowed pk_allow[] = {
    {"torch._utils", "_rebuild_tensor", TC_PK_SYM_REBUILD_TENSOR, -1},
    {"torch._utils", "_rebuild_tensor_v2", TC_PK_SYM_REBUILD_TENSOR_V2, -1},
    {"torch._utils", "_rebuild_tensor_v3", TC_PK_SYM_REBUILD_TENSOR_V3, -1},
    {"torch._utils", "_rebuild_parameter", TC_PK_SYM_REBUILD_PARAMETER, -1},
    {"torch._utils", "_rebuild_parameter_with_state", TC_PK_SYM_REBUILD_PARAMETER_WITH_STATE, -1},
    {"torch._tensor", "_rebuild_from_type_v2", TC_PK_SYM_REBUILD_FROM_TYPE_V2, -1},
    {"torch", "FloatStorage", TC_PK_SYM_STORAGE, TC_DTYPE_F32},
    {"torch", "HalfStorage", TC_PK_SYM_STORAGE, TC_DTYPE_F16},
    {"torch", "BFloat16Storage", TC_PK_SYM_STORAGE, TC_DTYPE_BF16},
    {"torch", "DoubleStorage", TC_PK_SYM_STORAGE, TC_DTYPE_F64},
    {"torch", "LongStorage", TC_PK_SYM_STORAGE, TC_DTYPE_I64},
    {"torch", "IntStorage", TC_PK_SYM_STORAGE, TC_DTYPE_I32},
    {"torch", "ShortStorage", TC_PK_SYM_STORAGE, TC_DTYPE_I16},
    {"torch", "CharStorage", TC_PK_SYM_STORAGE, TC_DTYPE_I8},
    {"torch", "ByteStorage", TC_PK_SYM_STORAGE, TC_DTYPE_U8},
    {"torch", "BoolStorage", TC_PK_SYM_STORAGE, TC_DTYPE_BOOL},
    {"torch", "Float8_e4m3fnStorage", TC_PK_SYM_STORAGE, TC_DTYPE_F8_E4M3},
    {"torch", "Float8_e5m2Storage", TC_PK_SYM_STORAGE, TC_DTYPE_F8_E5M2},
    {"torch.storage", "UntypedStorage", TC_PK_SYM_STORAGE, -1},
    {"torch.storage", "TypedStorage", TC_PK_SYM_STORAGE, -1},
    {"torch", "UntypedStorage", TC_PK_SYM_STORAGE, -1},
    {"torch", "float32", TC_PK_SYM_DTYPE, TC_DTYPE_F32},
    {"torch", "float", TC_PK_SYM_DTYPE, TC_DTYPE_F32},
    {"torch", "float16", TC_PK_SYM_DTYPE, TC_DTYPE_F16},
    {"torch", "half", TC_PK_SYM_DTYPE, TC_DTYPE_F16},
    {"torch", "bfloat16", TC_PK_SYM_DTYPE, TC_DTYPE_BF16},
    {"torch", "float64", TC_PK_SYM_DTYPE, TC_DTYPE_F64},
    {"torch", "double", TC_PK_SYM_DTYPE, TC_DTYPE_F64},
    {"torch", "int64", TC_PK_SYM_DTYPE, TC_DTYPE_I64},
    {"torch", "long", TC_PK_SYM_DTYPE, TC_DTYPE_I64},
    {"torch", "int32", TC_PK_SYM_DTYPE, TC_DTYPE_I32},
    {"torch", "int", TC_PK_SYM_DTYPE, TC_DTYPE_I32},
    {"torch", "int16", TC_PK_SYM_DTYPE, TC_DTYPE_I16},
    {"torch", "short", TC_PK_SYM_DTYPE, TC_DTYPE_I16},
    {"torch", "int8", TC_PK_SYM_DTYPE, TC_DTYPE_I8},
    {"torch", "uint8", TC_PK_SYM_DTYPE, TC_DTYPE_U8},
    {"torch", "bool", TC_PK_SYM_DTYPE, TC_DTYPE_BOOL},
    {"torch", "float8_e4m3fn", TC_PK_SYM_DTYPE, TC_DTYPE_F8_E4M3},
    {"torch", "float8_e5m2", TC_PK_SYM_DTYPE, TC_DTYPE_F8_E5M2},
    {"torch", "Tensor", TC_PK_SYM_TENSOR, -1},
    {"torch.nn.parameter", "Parameter", TC_PK_SYM_PARAMETER, -1},
    {"collections", "OrderedDict", TC_PK_SYM_ORDERED_DICT, -1},
    {"torch", "Size", TC_PK_SYM_SIZE, -1},
    {"torch", "device", TC_PK_SYM_DEVICE, -1},
    {"_codecs", "encode", TC_PK_SYM_CODECS_ENCODE, -1},
    {"builtins", "set", TC_PK_SYM_SET, -1},
    {"builtins", "frozenset", TC_PK_SYM_FROZENSET, -1},
    {"builtins", "bytearray", TC_PK_SYM_BYTEARRAY, -1},
    {"__builtin__", "set", TC_PK_SYM_SET, -1}, /* protocol 2 pickles name Python 2 modules */
    {"__builtin__", "frozenset", TC_PK_SYM_FROZENSET, -1},
    {"__builtin__", "bytearray", TC_PK_SYM_BYTEARRAY, -1},
};

static int pk_name_eq(const uint8_t *p, uint64_t n, const char *s)
{
    size_t sl = strlen(s);
    return n == sl && memcmp(p, s, sl) == 0;
}

/*
 * Modules whose globals are refused outright, by their first component (and "torch" itself:
 * torch.load, torch.hub, ...; its allow-listed symbols are matched before this). Nothing is run
 * either way; a name from these in a checkpoint means it was made to run code, and the user is
 * told so instead of getting a file with an entry quietly skipped.
 */
static int pk_denied(const uint8_t *mod, uint64_t mn)
{
    static const char *const deny[] = {
        "os",
        "posix",
        "nt",
        "subprocess",
        "builtins",
        "__builtin__",
        "sys",
        "shutil",
        "socket",
        "importlib",
        "runpy",
        "pty",
        "pickle",
        "_pickle",
        "cPickle",
        "marshal",
        "ctypes",
        "code",
        "codeop",
        "webbrowser",
        "types",
        "operator",
        "functools",
        "io",
        "_io",
        "pathlib",
        "tempfile",
        "glob",
        "asyncio",
        "multiprocessing",
        "threading",
        "_thread",
        "signal",
        "urllib",
        "http",
        "requests",
        "platform",
        "pdb",
        "bdb",
        "timeit",
        "trace",
        "cProfile",
        "profile",
        "commands",
        "popen2",
        "dill",
        "joblib",
        "torch",
        "_posixsubprocess",
        "inspect",
        "gc",
        "weakref",
        "copyreg",
        "copy_reg",
        "sqlite3",
        "zipimport",
    };
    uint64_t first = 0;
    while (first < mn && mod[first] != '.')
        first++;
    for (size_t i = 0; i < sizeof deny / sizeof deny[0]; i++)
        if (pk_name_eq(mod, first, deny[i]))
            return 1;
    return 0;
}

/* Resolve module.name: the allow-list's symbol, TC_E_UNSAFE naming it when denied, else an
 * opaque placeholder. */
static tc_status pk_global(pk_vm *vm, const uint8_t *mod, uint64_t mn, const uint8_t *name,
                           uint64_t nn)
{
    for (size_t i = 0; i < sizeof pk_allow / sizeof pk_allow[0]; i++) {
        if (pk_name_eq(mod, mn, pk_allow[i].module) && pk_name_eq(name, nn, pk_allow[i].name)) {
            tc_pkobj *o = pk_obj(vm, TC_PK_GLOBAL);
            if (o) {
                o->g.sym = pk_allow[i].sym;
                o->g.dtype = pk_allow[i].dtype;
                o->g.name = pk_allow[i].name;
            }
            return pk_push(vm, o);
        }
    }
    /* print the name safely: at most 100 bytes of each part, control bytes as '?' */
    char shown[220];
    size_t k = 0;
    for (uint64_t i = 0; i < mn && i < 100; i++)
        shown[k++] = (mod[i] < 0x20 || mod[i] == 0x7f) ? '?' : (char)mod[i];
    shown[k++] = '.';
    for (uint64_t i = 0; i < nn && i < 100; i++)
        shown[k++] = (name[i] < 0x20 || name[i] == 0x7f) ? '?' : (char)name[i];
    shown[k] = 0;
    if (pk_denied(mod, mn))
        return VM_ERR(vm, TC_E_UNSAFE,
                      "pickle global '%s' is not allowed (tensorcast never runs pickle code)",
                      shown);
    /* anything else: a placeholder carrying its name */
    uint8_t *nm = pk_blob_new(vm, k + 1);
    tc_pkobj *o = nm ? pk_obj(vm, TC_PK_GLOBAL) : NULL;
    if (o == NULL)
        return pk_code(vm);
    memcpy(nm, shown, k + 1);
    o->g.sym = TC_PK_SYM_OPAQUE;
    o->g.dtype = -1;
    o->g.name = (const char *)nm;
    return pk_push(vm, o);
}

const char *tc_pk_opaque_in(const tc_pkobj *o, int depth)
{
    if (o == NULL || depth < 0)
        return NULL;
    switch (o->kind) {
    case TC_PK_GLOBAL:
        return o->g.sym == TC_PK_SYM_OPAQUE ? o->g.name : NULL;
    case TC_PK_CALL: {
        const char *n = tc_pk_opaque_in(o->call.fn, depth - 1);
        if (n == NULL)
            n = tc_pk_opaque_in(o->call.args, depth - 1);
        if (n == NULL)
            n = tc_pk_opaque_in(o->call.state, depth - 1);
        return n;
    }
    case TC_PK_TUPLE:
    case TC_PK_LIST:
    case TC_PK_DICT:
    case TC_PK_SET:
        for (uint64_t i = 0; i < o->seq.n; i++) {
            const char *n = tc_pk_opaque_in(o->seq.v[i], depth - 1);
            if (n)
                return n;
        }
        return NULL;
    default:
        return NULL;
    }
}

/* ===== Calls on allowed symbols ===== */

static tc_status pk_seq_copy(pk_vm *vm, tc_pkobj *dst, const tc_pkobj *src)
{
    for (uint64_t i = 0; i < src->seq.n; i++)
        TC_TRY(pk_seq_push(vm, dst, src->seq.v[i]));
    return TC_OK;
}

/* _codecs.encode(str, "latin1"): protocol 2's spelling of bytes. Code points must be < 256. */
static tc_status pk_latin1(pk_vm *vm, const tc_pkobj *s, tc_pkobj **out)
{
    uint8_t *b = pk_blob_new(vm, s->s.n);
    if (b == NULL)
        return TC_E_NOMEM;
    uint64_t n = 0;
    for (uint64_t i = 0; i < s->s.n;) {
        uint8_t c = s->s.p[i];
        if (c < 0x80) {
            b[n++] = c;
            i++;
        } else if ((c & 0xe0) == 0xc0 && c <= 0xc3 && i + 1 < s->s.n &&
                   (s->s.p[i + 1] & 0xc0) == 0x80) {
            b[n++] = (uint8_t)(((c & 0x1f) << 6) | (s->s.p[i + 1] & 0x3f));
            i += 2;
        } else {
            return VM_ERR(vm, TC_E_FORMAT, "_codecs.encode: character not in latin-1");
        }
    }
    tc_pkobj *o = pk_obj(vm, TC_PK_BYTES);
    if (o == NULL)
        return pk_code(vm);
    o->s.p = b;
    o->s.n = n;
    *out = o;
    return TC_OK;
}

/* REDUCE / NEWOBJ: plain containers are built; everything else becomes a symbolic call. */
static tc_status pk_call(pk_vm *vm, tc_pkobj *fn, tc_pkobj *args)
{
    if (fn->kind != TC_PK_GLOBAL)
        return VM_ERR(vm, TC_E_FORMAT, "pickle REDUCE/NEWOBJ on a value that is not a global");
    if (args->kind != TC_PK_TUPLE)
        return VM_ERR(vm, TC_E_FORMAT, "pickle REDUCE/NEWOBJ arguments are not a tuple");
    uint64_t na = args->seq.n;
    tc_pkobj *a0 = na ? args->seq.v[0] : NULL, *o = NULL;
    switch (fn->g.sym) {
    case TC_PK_SYM_ORDERED_DICT:
        if (na == 0)
            return pk_push(vm, pk_obj(vm, TC_PK_DICT));
        break;
    case TC_PK_SYM_SET:
    case TC_PK_SYM_FROZENSET:
        if (na == 0)
            return pk_push(vm, pk_obj(vm, TC_PK_SET));
        if (na == 1 && (a0->kind == TC_PK_LIST || a0->kind == TC_PK_TUPLE)) {
            if ((o = pk_obj(vm, TC_PK_SET)) == NULL)
                return pk_code(vm);
            TC_TRY(pk_seq_copy(vm, o, a0));
            return pk_push(vm, o);
        }
        break;
    case TC_PK_SYM_BYTEARRAY:
        if (na == 0) {
            o = pk_obj(vm, TC_PK_BYTES);
            if (o)
                o->s.p = (const uint8_t *)"";
            return pk_push(vm, o);
        }
        if (na == 1 && a0->kind == TC_PK_BYTES)
            return pk_push(vm, a0);
        break;
    case TC_PK_SYM_CODECS_ENCODE:
        if (na == 2 && a0->kind == TC_PK_STR &&
            (tc_pk_str_eq(args->seq.v[1], "latin1") || tc_pk_str_eq(args->seq.v[1], "latin-1"))) {
            TC_TRY(pk_latin1(vm, a0, &o));
            return pk_push(vm, o);
        }
        return VM_ERR(vm, TC_E_FORMAT, "_codecs.encode with arguments other than (str, 'latin1')");
    case TC_PK_SYM_SIZE:
        if (na == 1 && a0->kind == TC_PK_TUPLE)
            return pk_push(vm, a0);
        break;
    default:
        break;
    }
    if (fn->g.sym == TC_PK_SYM_ORDERED_DICT || fn->g.sym == TC_PK_SYM_SET ||
        fn->g.sym == TC_PK_SYM_FROZENSET || fn->g.sym == TC_PK_SYM_BYTEARRAY ||
        fn->g.sym == TC_PK_SYM_SIZE)
        return VM_ERR(vm, TC_E_FORMAT, "pickle call of %s with unexpected arguments", fn->g.name);
    if ((o = pk_obj(vm, TC_PK_CALL)) == NULL)
        return pk_code(vm);
    o->call.fn = fn;
    o->call.args = args;
    return pk_push(vm, o);
}

/* ===== The loop ===== */

static tc_status pk_memo_put(pk_vm *vm, uint64_t idx)
{
    tc_pkobj *o = NULL;
    TC_TRY(pk_top(vm, &o));
    if (idx >= TC_PK_MAX_MEMO)
        return VM_ERR(vm, TC_E_LIMIT, "pickle memo index %" PRIu64 " (cap %u)", idx,
                      TC_PK_MAX_MEMO);
    if (idx >= vm->memo_cap) {
        uint64_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= idx)
            cap *= 2;
        if (cap > TC_PK_MAX_MEMO)
            cap = TC_PK_MAX_MEMO;
        tc_pkobj **nm = tc_realloc(vm->memo, (size_t)cap * sizeof *nm);
        if (nm == NULL)
            return tc_err_nomem(vm->c.err);
        memset(nm + vm->memo_cap, 0, (size_t)(cap - vm->memo_cap) * sizeof *nm);
        vm->memo = nm;
        vm->memo_cap = cap;
    }
    if (vm->memo[idx] == NULL)
        vm->n_memo++;
    vm->memo[idx] = o;
    return TC_OK;
}

static tc_status pk_memo_get(pk_vm *vm, uint64_t idx)
{
    if (idx >= vm->memo_cap || vm->memo[idx] == NULL)
        return VM_ERR(vm, TC_E_FORMAT, "pickle memo %" PRIu64 " read before it was written", idx);
    return pk_push(vm, vm->memo[idx]);
}

static tc_status pk_text_index(pk_vm *vm, uint64_t *idx)
{
    const uint8_t *p = NULL;
    uint64_t n = 0, v = 0;
    TC_TRY(pk_line(vm, 20, &p, &n));
    if (n == 0)
        return VM_ERR(vm, TC_E_FORMAT, "empty pickle memo index");
    for (uint64_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9' || !tc_mul_ok(v, 10, &v) || !tc_add_ok(v, p[i] - '0', &v))
            return VM_ERR(vm, TC_E_FORMAT, "bad pickle memo index");
    *idx = v;
    return TC_OK;
}

/* Pop everything above the innermost MARK into a new sequence of `kind`. */
static tc_status pk_collect(pk_vm *vm, tc_pk_kind kind, tc_pkobj **out)
{
    uint64_t at = 0;
    TC_TRY(pk_pop_mark(vm, &at));
    tc_pkobj *o = pk_obj(vm, kind);
    if (o == NULL)
        return pk_code(vm);
    for (uint64_t i = at; i < vm->sp; i++)
        TC_TRY(pk_seq_push(vm, o, vm->stack[i]));
    vm->sp = at;
    *out = o;
    return TC_OK;
}

/* Add stack[from..sp) to the container below them (list: items; dict: pairs; set: items). */
static tc_status pk_add_items(pk_vm *vm, uint64_t from, tc_pk_kind want)
{
    if (from == 0 || from > vm->sp || from - 1 < pk_floor(vm))
        return VM_ERR(vm, TC_E_FORMAT, "pickle stack underflow");
    tc_pkobj *c = vm->stack[from - 1];
    if (c->kind != want)
        return VM_ERR(vm, TC_E_FORMAT, "pickle adds items to a value that is not a %s",
                      want == TC_PK_DICT   ? "dict"
                      : want == TC_PK_LIST ? "list"
                                           : "set");
    if (want == TC_PK_DICT && (vm->sp - from) % 2 != 0)
        return VM_ERR(vm, TC_E_FORMAT, "pickle SETITEMS with an odd number of values");
    for (uint64_t i = from; i < vm->sp; i++)
        TC_TRY(pk_seq_push(vm, c, vm->stack[i]));
    vm->sp = from;
    return TC_OK;
}

static tc_status pk_tuple_n(pk_vm *vm, unsigned n)
{
    if (vm->sp < pk_floor(vm) + n)
        return VM_ERR(vm, TC_E_FORMAT, "pickle stack underflow");
    tc_pkobj *o = pk_obj(vm, TC_PK_TUPLE);
    if (o == NULL)
        return pk_code(vm);
    for (uint64_t i = vm->sp - n; i < vm->sp; i++)
        TC_TRY(pk_seq_push(vm, o, vm->stack[i]));
    vm->sp -= n;
    return pk_push(vm, o);
}

static tc_status pk_step(pk_vm *vm, uint8_t op, int *stop)
{
    uint64_t v = 0, at = 0;
    tc_pkobj *a = NULL, *b = NULL, *o = NULL;
    const uint8_t *p = NULL, *q = NULL;
    uint64_t pn = 0, qn = 0;
    switch (op) {
    case 0x80: /* PROTO */
        TC_TRY(pk_uint(vm, 1, &v));
        if (v > 5)
            return VM_ERR(vm, TC_E_UNSUPPORTED, "pickle protocol %" PRIu64 " (supported: 0-5)", v);
        vm->proto = (int)v;
        return TC_OK;
    case 0x95: /* FRAME: a length hint; the opcodes inside are read as usual */
        TC_TRY(pk_uint(vm, 8, &v));
        if (v > tc_cur_left(&vm->c))
            return VM_ERR(vm, TC_E_FORMAT, "pickle frame of %" PRIu64 " bytes, %" PRIu64 " left", v,
                          tc_cur_left(&vm->c));
        return TC_OK;
    case '.': /* STOP */
        *stop = 1;
        return TC_OK;
    case '(': /* MARK */
        if (vm->n_marks == vm->marks_cap) {
            if (vm->marks_cap >= TC_PK_MAX_MARKS)
                return VM_ERR(vm, TC_E_LIMIT, "more than %u open pickle MARKs", TC_PK_MAX_MARKS);
            uint64_t cap = vm->marks_cap ? vm->marks_cap * 2 : 16;
            uint64_t *nm = tc_realloc(vm->marks, (size_t)cap * sizeof *nm);
            if (nm == NULL)
                return tc_err_nomem(vm->c.err);
            vm->marks = nm;
            vm->marks_cap = cap;
        }
        vm->marks[vm->n_marks++] = vm->sp;
        return TC_OK;
    case '}': /* EMPTY_DICT */
        return pk_push(vm, pk_obj(vm, TC_PK_DICT));
    case ']': /* EMPTY_LIST */
        return pk_push(vm, pk_obj(vm, TC_PK_LIST));
    case ')': /* EMPTY_TUPLE */
        return pk_push(vm, pk_obj(vm, TC_PK_TUPLE));
    case 0x8f: /* EMPTY_SET */
        return pk_push(vm, pk_obj(vm, TC_PK_SET));
    case 't': /* TUPLE */
        TC_TRY(pk_collect(vm, TC_PK_TUPLE, &o));
        return pk_push(vm, o);
    case 'l': /* LIST */
        TC_TRY(pk_collect(vm, TC_PK_LIST, &o));
        return pk_push(vm, o);
    case 0x91: /* FROZENSET */
        TC_TRY(pk_collect(vm, TC_PK_SET, &o));
        return pk_push(vm, o);
    case 'd': /* DICT */
        TC_TRY(pk_collect(vm, TC_PK_DICT, &o));
        if (o->seq.n % 2)
            return VM_ERR(vm, TC_E_FORMAT, "pickle DICT with an odd number of values");
        return pk_push(vm, o);
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
        return pk_tuple_n(vm, (unsigned)(op - 0x84));
    case 's': /* SETITEM */
        return pk_add_items(vm, vm->sp >= 2 ? vm->sp - 2 : 0, TC_PK_DICT);
    case 'a': /* APPEND */
        return pk_add_items(vm, vm->sp >= 1 ? vm->sp - 1 : 0, TC_PK_LIST);
    case 'u':  /* SETITEMS */
    case 'e':  /* APPENDS */
    case 0x90: /* ADDITEMS */
        TC_TRY(pk_pop_mark(vm, &at));
        /* pk_add_items checks the container against the (now enclosing) frame floor */
        return pk_add_items(vm, at, op == 'u' ? TC_PK_DICT : op == 'e' ? TC_PK_LIST : TC_PK_SET);
    case 'J': /* BININT */
        TC_TRY(pk_uint(vm, 4, &v));
        return pk_push_int(vm, TC_PK_INT, (int64_t)(int32_t)(uint32_t)v);
    case 'K': /* BININT1 */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_push_int(vm, TC_PK_INT, (int64_t)v);
    case 'M': /* BININT2 */
        TC_TRY(pk_uint(vm, 2, &v));
        return pk_push_int(vm, TC_PK_INT, (int64_t)v);
    case 0x8a: /* LONG1 */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_long(vm, v);
    case 0x8b: /* LONG4 */
        TC_TRY(pk_uint(vm, 4, &v));
        if (v & 0x80000000u)
            return VM_ERR(vm, TC_E_FORMAT, "negative LONG4 length");
        return pk_long(vm, v);
    case 'I': /* INT (text) */
        return pk_text_int(vm, 0);
    case 'L': /* LONG (text) */
        return pk_text_int(vm, 1);
    case 'G': { /* BINFLOAT: big-endian double */
        TC_TRY(pk_take(vm, 8, &p));
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | p[i];
        double d;
        memcpy(&d, &bits, sizeof d);
        o = pk_obj(vm, TC_PK_FLOAT);
        if (o)
            o->f = d;
        return pk_push(vm, o);
    }
    case 'N': /* NONE */
        return pk_push(vm, pk_obj(vm, TC_PK_NONE));
    case 0x88: /* NEWTRUE */
        return pk_push_int(vm, TC_PK_BOOL, 1);
    case 0x89: /* NEWFALSE */
        return pk_push_int(vm, TC_PK_BOOL, 0);
    case 'X': /* BINUNICODE */
        TC_TRY(pk_uint(vm, 4, &v));
        return pk_push_str(vm, TC_PK_STR, v);
    case 0x8d: /* BINUNICODE8 */
        TC_TRY(pk_uint(vm, 8, &v));
        return pk_push_str(vm, TC_PK_STR, v);
    case 0x8c: /* SHORT_BINUNICODE */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_push_str(vm, TC_PK_STR, v);
    case 'U': /* SHORT_BINSTRING */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_push_str(vm, TC_PK_STR, v);
    case 'T': /* BINSTRING: signed 32-bit length */
        TC_TRY(pk_uint(vm, 4, &v));
        if (v & 0x80000000u)
            return VM_ERR(vm, TC_E_FORMAT, "negative BINSTRING length");
        return pk_push_str(vm, TC_PK_STR, v);
    case 'B': /* BINBYTES */
        TC_TRY(pk_uint(vm, 4, &v));
        return pk_push_str(vm, TC_PK_BYTES, v);
    case 'C': /* SHORT_BINBYTES */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_push_str(vm, TC_PK_BYTES, v);
    case 0x8e: /* BINBYTES8 */
    case 0x96: /* BYTEARRAY8 */
        TC_TRY(pk_uint(vm, 8, &v));
        return pk_push_str(vm, TC_PK_BYTES, v);
    case 'q': /* BINPUT */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_memo_put(vm, v);
    case 'r': /* LONG_BINPUT */
        TC_TRY(pk_uint(vm, 4, &v));
        return pk_memo_put(vm, v);
    case 'p': /* PUT */
        TC_TRY(pk_text_index(vm, &v));
        return pk_memo_put(vm, v);
    case 0x94: /* MEMOIZE: the index is the number of memo entries (len(memo) in CPython) */
        return pk_memo_put(vm, vm->n_memo);
    case 'h': /* BINGET */
        TC_TRY(pk_uint(vm, 1, &v));
        return pk_memo_get(vm, v);
    case 'j': /* LONG_BINGET */
        TC_TRY(pk_uint(vm, 4, &v));
        return pk_memo_get(vm, v);
    case 'g': /* GET */
        TC_TRY(pk_text_index(vm, &v));
        return pk_memo_get(vm, v);
    case 'c': /* GLOBAL "module\nname\n" */
        TC_TRY(pk_line(vm, 256, &p, &pn));
        TC_TRY(pk_line(vm, 256, &q, &qn));
        return pk_global(vm, p, pn, q, qn);
    case 0x93: /* STACK_GLOBAL */
        TC_TRY(pk_pop(vm, &b));
        TC_TRY(pk_pop(vm, &a));
        if (a->kind != TC_PK_STR || b->kind != TC_PK_STR)
            return VM_ERR(vm, TC_E_FORMAT, "STACK_GLOBAL operands are not strings");
        return pk_global(vm, a->s.p, a->s.n, b->s.p, b->s.n);
    case 'R': /* REDUCE */
        TC_TRY(pk_pop(vm, &b));
        TC_TRY(pk_pop(vm, &a));
        return pk_call(vm, a, b);
    case 0x81: /* NEWOBJ */
        TC_TRY(pk_pop(vm, &b));
        TC_TRY(pk_pop(vm, &a));
        return pk_call(vm, a, b);
    case 0x92: /* NEWOBJ_EX: cls args kwargs (kwargs must be empty) */
        TC_TRY(pk_pop(vm, &o));
        TC_TRY(pk_pop(vm, &b));
        TC_TRY(pk_pop(vm, &a));
        if (o->kind != TC_PK_DICT || o->seq.n != 0)
            return VM_ERR(vm, TC_E_FORMAT, "NEWOBJ_EX with keyword arguments");
        return pk_call(vm, a, b);
    case 'b': /* BUILD: state onto a symbolic call; a dict's attributes (_metadata) dropped */
        TC_TRY(pk_pop(vm, &b));
        TC_TRY(pk_top(vm, &a));
        if (a->kind == TC_PK_CALL) {
            a->call.state = b;
            return TC_OK;
        }
        if (a->kind == TC_PK_DICT)
            return TC_OK;
        return VM_ERR(vm, TC_E_FORMAT, "pickle BUILD on a value that is not an object");
    case 'Q': /* BINPERSID */
        TC_TRY(pk_pop(vm, &a));
        o = pk_obj(vm, TC_PK_PERSID);
        if (o)
            o->pid = a;
        return pk_push(vm, o);
    case '0': /* POP */
        if (vm->sp == pk_floor(vm) && vm->n_marks > 0) {
            vm->n_marks--; /* CPython: POP of a bare MARK discards the mark */
            return TC_OK;
        }
        return pk_pop(vm, &a);
    case '1': /* POP_MARK */
        TC_TRY(pk_pop_mark(vm, &at));
        vm->sp = at;
        return TC_OK;
    case '2': /* DUP */
        TC_TRY(pk_top(vm, &a));
        return pk_push(vm, a);
    default:
        return VM_ERR(vm, TC_E_UNSUPPORTED, "pickle opcode 0x%02x is not supported", op);
    }
}

tc_status tc_pk_load(tc_pk *pk, const uint8_t *data, uint64_t n, const char *what, uint64_t base,
                     uint64_t *used, tc_pkobj **out, tc_err *e)
{
    *out = NULL;
    pk_vm vm;
    memset(&vm, 0, sizeof vm);
    vm.pk = pk;
    vm.base = base;
    tc_cur_init(&vm.c, data, n, what, e);
    tc_status rc = TC_OK;
    int stop = 0;
    while (!stop) {
        vm.op_off = tc_cur_off(&vm.c);
        if (tc_cur_left(&vm.c) == 0) {
            rc = VM_ERR(&vm, TC_E_FORMAT, "truncated pickle: no STOP opcode");
            break;
        }
        uint8_t op = *vm.c.p++;
        if ((rc = pk_step(&vm, op, &stop)) != TC_OK)
            break;
    }
    if (rc == TC_OK && (vm.sp != 1 || vm.n_marks != 0))
        rc = VM_ERR(&vm, TC_E_FORMAT,
                    "pickle STOP with %" PRIu64 " values and %" PRIu64 " marks left (want 1 value)",
                    vm.sp, vm.n_marks);
    if (rc == TC_OK) {
        *out = vm.stack[0];
        if (used)
            *used = tc_cur_off(&vm.c);
    }
    tc_free(vm.stack);
    tc_free(vm.marks);
    tc_free(vm.memo);
    return rc;
}
