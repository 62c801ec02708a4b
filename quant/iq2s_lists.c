/*
 * iq2s_lists.c - the IQ2_S neighbour lists as level codes and term indices (iq2s.h), for the SIMD
 * quantizers: the lists of iq_grid.h, the same points in the same order, padded for whole vectors
 * of candidates. Only the 3^8 codes a group can have (levels 0..2) get a list. Plain C: built
 * once.
 */
#include "iq2s.h"
#include "tc_dtype.h"

#include <pthread.h>
#include <stdlib.h>

#define IQ2_KMAP 43692

static tc_iq2s_lists lists;
static int lists_ok;
static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

/* The level code of grid point g (bytes 1/3/5)... */
static int grid_code(uint64_t g)
{
    int c = 0;
    for (int i = 0; i < 8; i++)
        c |= (int)(((g >> 8 * i) & 0xff) - 1) / 2 << 2 * i;
    return c;
}

/* ...and its term indices: nibble j = 4 * (j mod 4) + level j. */
static uint32_t code_word(int code)
{
    uint32_t w = 0;
    for (int j = 0; j < 8; j++)
        w |= (uint32_t)(4 * (j % 4) + (code >> 2 * j & 3)) << 4 * j;
    return w;
}

static void lists_build(void)
{
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ2_S);
    if (S == NULL)
        return;
    int32_t *map = malloc(IQ2_KMAP * sizeof *map);
    uint16_t *code = NULL;
    uint32_t *word = NULL;
    if (map == NULL)
        return;
    for (int c = 0; c < IQ2_KMAP; c++)
        map[c] = 0; /* codes with a level 3 never occur: grid index 0 */
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        for (int c3 = 0; c3 < 6561; c3++) {
            int c = 0;
            for (int i = 0, t = c3; i < 8; i++, t /= 3)
                c |= t % 3 << 2 * i;
            const int m = S->map[c];
            if (m >= 0) {
                map[c] = m;
                continue;
            }
            const uint16_t *nb = S->neighbours - m - 1;
            const int n = nb[0];
            if (n == 0) /* never: the searches assume n >= 1 */
                goto fail;
            const size_t padded = (size_t)(n + TC_IQ2S_LANES - 1) / TC_IQ2S_LANES * TC_IQ2S_LANES;
            if (pass == 1) {
                map[c] = ~(int32_t)(at << 2 | (size_t)((n > 8) + (n > 16) + (n > 32)));
                code[at] = (uint16_t)n;
                word[at] = (uint32_t)n;
                for (size_t j = 0; j < padded; j++) {
                    const int p = grid_code(S->grid[nb[1 + (j < (size_t)n ? j : (size_t)n - 1)]]);
                    code[at + 1 + j] = (uint16_t)p;
                    word[at + 1 + j] = code_word(p);
                }
            }
            at += 1 + padded;
        }
        if (pass == 0) {
            code = malloc(at * sizeof *code);
            word = malloc(at * sizeof *word);
            if (code == NULL || word == NULL)
                goto fail;
        }
    }
    lists = (tc_iq2s_lists){map, code, word, grid_code(S->grid[0])};
    lists_ok = 1;
    return;
fail:
    free(map);
    free(code);
    free(word);
}

const tc_iq2s_lists *tc_iq2s_lists_get(void)
{
    pthread_once(&lists_once, lists_build);
    return lists_ok ? &lists : NULL;
}
