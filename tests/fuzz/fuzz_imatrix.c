/*
 * fuzz_imatrix.c - the importance-matrix loader (legacy .dat and GGUF) over arbitrary bytes.
 * An accepted matrix must have finite values and entries that can be looked up by name.
 */
#include "tensorcast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void fuzz_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_imatrix: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    tc_map *m;
    if (tc_map_memory(data, size, "fuzz.imatrix", &m, &e) != TC_OK)
        return 0;
    tc_imatrix *im = NULL;
    tc_status st = tc_imatrix_load_map(m, &im, &e);
    if (st != TC_OK) {
        fuzz_check(im == NULL, "output set on failure");
        fuzz_check(e.msg[0] != 0, "error without a message");
    } else {
        fuzz_check(tc_imatrix_count(im) > 0, "accepted an empty matrix");
        for (size_t i = 0; i < tc_imatrix_count(im); i++) {
            uint64_t n, n2;
            const float *v = tc_imatrix_values(im, i, &n);
            fuzz_check(v != NULL && n > 0, "entry without values");
            for (uint64_t k = 0; k < n; k++)
                fuzz_check(isfinite(v[k]), "non-finite value accepted");
            fuzz_check(tc_imatrix_find(im, tc_imatrix_name(im, i), &n2) != NULL,
                       "entry not found by its name");
        }
        tc_imatrix_free(im);
    }
    tc_map_unref(m);
    return 0;
}
