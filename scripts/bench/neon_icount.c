/*
 * neon_icount.c - the workload of scripts/bench/neon_icount.sh, which counts the AArch64
 * instructions it executes under qemu-aarch64: one quantize call of TYPE on ROWS gaussian rows
 * of 4096 values, by the scalar reference (ref), by the NEON kernel table (neon), or neither
 * (none: the set-up alone, subtracted from the other two). With importance weights (imatrix) a
 * random row of positive weights is passed, as ggml's quantizers take it.
 *
 *   neon_icount TYPE none|ref|neon ROWS [imatrix]
 *
 * There is no ARM machine here to time on; the instruction counts of the two kernels on the
 * same rows say where the NEON code pays (a NEON instruction does 4 lanes' work at roughly the
 * cost of a scalar one on current ARM cores; this is a proxy, not a time).
 */
#include "../ci/neon_rng.h"
#include "kernels.h"
#include "quant.h"
#include "tc_dtype.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COLS = 4096 };

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: neon_icount TYPE none|ref|neon ROWS [imatrix]\n");
        return 2;
    }
    rng = 0x2545f4914f6cdd1dull;
    int t = tc_dtype_from_name(argv[1]);
    long rows = strtol(argv[3], NULL, 10);
    int with_w = argc > 4 && strcmp(argv[4], "imatrix") == 0;
    const tc_dtype_info *d = t >= 0 ? tc_dtype_get(t) : NULL;
    if (d == NULL || t >= TC_DTYPE_GGML_COUNT || rows < 1 || rows > 64) {
        fprintf(stderr, "neon_icount: bad type or rows (1..64)\n");
        return 2;
    }
    const tc_kernel_table *k = NULL;
    if (strcmp(argv[2], "ref") == 0)
        k = tc_kernels(TC_ISA_SCALAR);
    else if (strcmp(argv[2], "neon") == 0)
        k = tc_kernels(TC_ISA_NEON);
    else if (strcmp(argv[2], "none") != 0) {
        fprintf(stderr, "neon_icount: mode is none, ref or neon\n");
        return 2;
    }
    float *x = malloc(sizeof(float) * COLS * (size_t)rows), *w = malloc(sizeof(float) * COLS);
    void *q = malloc((size_t)rows * (COLS / d->blck) * d->size);
    if (x == NULL || w == NULL || q == NULL)
        return 1;
    for (long i = 0; i < COLS * rows; i++)
        x[i] = gauss();
    for (int i = 0; i < COLS; i++)
        w[i] = 0.05f + (float)(next() >> 40) / 16777216.0f;
    /* Tables built at first use (the grid types' maps and neighbour lists): both kernels
     * quantize one block first in every mode, so "none" subtracts that too (and the script
     * leaves the code that builds them out of the count). */
    const tc_kernel_table *ref = tc_kernels(TC_ISA_SCALAR), *neon = tc_kernels(TC_ISA_NEON);
    if (ref == NULL || neon == NULL || ref->quantize[t] == NULL || neon->quantize[t] == NULL) {
        fprintf(stderr, "neon_icount: no kernel for %s\n", d->name);
        return 3;
    }
    ref->quantize[t](x, q, 1, 256, with_w ? w : NULL);
    neon->quantize[t](x, q, 1, 256, with_w ? w : NULL);
    if (k != NULL)
        k->quantize[t](x, q, rows, COLS, with_w ? w : NULL);
    printf("%u\n", ((const uint8_t *)q)[0]);
    free(x);
    free(w);
    free(q);
    return 0;
}
