/*
 * fuzz_pickle.c - the data-only pickle machine on arbitrary bytes, then a bounded walk of the
 * result: every string must lie inside the input (or be an arena blob), every global must be an
 * allow-listed symbol or a named inert placeholder (nothing else can ever be produced, so nothing
 * can run), and every container's count must fit its capacity.
 */
#include "pickle.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *in_lo, *in_hi;
static unsigned long budget;

static void walk(const tc_pkobj *o, int depth)
{
    if (o == NULL)
        abort();
    if (depth > 32 || budget == 0)
        return;
    budget--;
    switch (o->kind) {
    case TC_PK_STR:
    case TC_PK_BIGINT:
        if (o->s.p < in_lo || o->s.p + o->s.n > in_hi)
            abort(); /* strings are views into the input */
        break;
    case TC_PK_TUPLE:
    case TC_PK_LIST:
    case TC_PK_DICT:
    case TC_PK_SET:
        if (o->seq.n > o->seq.cap && o->seq.n)
            abort();
        for (uint64_t i = 0; i < o->seq.n; i++)
            walk(o->seq.v[i], depth + 1);
        break;
    case TC_PK_GLOBAL:
        if (o->g.sym < TC_PK_SYM_REBUILD_TENSOR || o->g.sym > TC_PK_SYM_OPAQUE)
            abort();
        if (o->g.sym == TC_PK_SYM_OPAQUE && (o->g.name == NULL || strlen(o->g.name) > 201))
            abort(); /* "module.name", each part cut at 100 bytes */
        break;
    case TC_PK_CALL:
        if (o->call.fn->kind != TC_PK_GLOBAL || o->call.args->kind != TC_PK_TUPLE)
            abort(); /* only allow-listed symbols are ever "called", symbolically */
        walk(o->call.args, depth + 1);
        if (o->call.state)
            walk(o->call.state, depth + 1);
        break;
    case TC_PK_PERSID:
        walk(o->pid, depth + 1);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_pk *pk = tc_pk_new();
    if (pk == NULL)
        return 0;
    tc_err e = {0};
    tc_pkobj *top = NULL;
    uint64_t used = 0;
    in_lo = data;
    in_hi = data + size;
    if (tc_pk_load(pk, data, size, "fuzz.pkl", 0, &used, &top, &e) == TC_OK) {
        if (used > size || top == NULL)
            abort();
        budget = 100000;
        walk(top, 0);
    } else if (e.code == TC_OK || e.msg[0] == 0) {
        abort(); /* a failure always says why */
    }
    tc_pk_free(pk);
    return 0;
}
