/*
 * iq2q_lists.c - the IQ2_XXS / IQ2_XS neighbour lists as level codes (iq2q.h), for the SIMD
 * quantizers: the lists of iq_grid.h, same points in the same order, each point given by its
 * code (2 bits per element) instead of its grid index, padded for whole vectors of candidates.
 * Only the 3^8 codes a group can have (levels 0..2) get a list. Also the walk over those codes
 * that this builder and IQ2_S's (iq2s_lists.c) share. Plain C: built once per type.
 */
#include "iq2q.h"
#include "tc_dtype.h"

#include <pthread.h>
#include <stdlib.h>

#define IQ2_KMAP 43692

int tc_iq2_grid_code(uint64_t g)
{
    int c = 0;
    for (int i = 0; i < 8; i++)
        c |= (int)(((g >> 8 * i) & 0xff) - 1) / 2 << 2 * i;
    return c;
}

size_t tc_iq2_walk(const tc_iq2_search *S, const tc_iq2_visit *v, void *ctx)
{
    size_t at = 0;
    for (int c3 = 0; c3 < 6561; c3++) {
        int code = 0;
        for (int i = 0, t = c3; i < 8; i++, t /= 3)
            code |= t % 3 << 2 * i;
        const int m = S->map[code];
        if (m >= 0) {
            v->on_grid(ctx, c3, code, m);
            continue;
        }
        const size_t room = v->off_grid(ctx, c3, code, S->neighbours - m - 1, at);
        if (room == 0)
            return 0;
        at += room;
    }
    return at;
}

static tc_iq2_lists lists[2];
static int lists_ok[2];
static pthread_once_t lists_once[2] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

/* The walk's state: the tables being filled (list NULL: only sizing). */
typedef struct build_ctx {
    const tc_iq2_search *S;
    int32_t *map;
    uint16_t *list;
} build_ctx;

static void put_on_grid(void *ctx, int c3, int code, int index)
{
    (void)c3;
    ((build_ctx *)ctx)->map[code] = index;
}

/* A list's record: its count, then the codes, padded. */
static size_t put_off_grid(void *ctx, int c3, int code, const uint16_t *nb, size_t at)
{
    (void)c3;
    build_ctx *b = ctx;
    const int n = nb[0];
    const size_t padded = (size_t)(n + TC_IQ2_LANES - 1) / TC_IQ2_LANES * TC_IQ2_LANES;
    if (b->list) {
        b->map[code] = -(int32_t)at - 1;
        b->list[at] = (uint16_t)n;
        for (size_t j = 0; j < padded; j++)
            b->list[at + 1 + j] =
                j < (size_t)n ? (uint16_t)tc_iq2_grid_code(b->S->grid[nb[1 + j]]) : 0xffff;
    }
    return 1 + padded;
}

static void lists_build(int xs)
{
    const tc_iq2_search *S = tc_iq2_search_get(xs ? TC_DTYPE_IQ2_XS : TC_DTYPE_IQ2_XXS);
    if (S == NULL)
        return;
    static const tc_iq2_visit visit = {put_on_grid, put_off_grid};
    build_ctx b = {S, malloc(IQ2_KMAP * sizeof(int32_t)), NULL};
    if (b.map == NULL)
        return;
    /* codes with a level 3 never occur: point them at grid index 0 */
    for (int code = 0; code < IQ2_KMAP; code++)
        b.map[code] = 0;
    const size_t total = tc_iq2_walk(S, &visit, &b);
    if (total == 0 || (b.list = malloc((total + TC_IQ2_LANES) * sizeof *b.list)) == NULL) {
        free(b.map);
        return;
    }
    tc_iq2_walk(S, &visit, &b);
    uint32_t *on = calloc((IQ2_KMAP + 31) / 32, sizeof *on);
    if (on == NULL) {
        free(b.map);
        free(b.list);
        return;
    }
    for (int code = 0; code < IQ2_KMAP; code++)
        on[code >> 5] |= (uint32_t)(b.map[code] >= 0) << (code & 31);
    lists[xs] = (tc_iq2_lists){b.map, b.list, on};
    lists_ok[xs] = 1;
}

static void lists_build0(void)
{
    lists_build(0);
}

static void lists_build1(void)
{
    lists_build(1);
}

const tc_iq2_lists *tc_iq2_lists_get(int t)
{
    const int xs = t == TC_DTYPE_IQ2_XS;
    if (!xs && t != TC_DTYPE_IQ2_XXS)
        return NULL;
    pthread_once(&lists_once[xs], xs ? lists_build1 : lists_build0);
    return lists_ok[xs] ? &lists[xs] : NULL;
}
