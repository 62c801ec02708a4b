/*
 * fuzz_imatrix.c - the importance-matrix loader (legacy .dat and GGUF) over arbitrary bytes.
 * An accepted matrix must have finite values and entries that can be looked up by name.
 */
#include "fuzz_util.h"
#include "tensorcast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    tc_map *m;
    if (tc_map_memory(data, size, "fuzz.imatrix", &m, &e) != TC_OK)
        return 0;
    tc_imatrix *im = NULL;
    tc_status st = tc_imatrix_load_map(m, &im, &e);
    if (st != TC_OK) {
        tc_fuzz_check("fuzz_imatrix", im == NULL, "output set on failure");
        tc_fuzz_check("fuzz_imatrix", e.msg[0] != 0, "error without a message");
    } else {
        tc_fuzz_check("fuzz_imatrix", tc_imatrix_count(im) > 0, "accepted an empty matrix");
        for (size_t i = 0; i < tc_imatrix_count(im); i++) {
            uint64_t n, n2;
            const float *v = tc_imatrix_values(im, i, &n);
            tc_fuzz_check("fuzz_imatrix", v != NULL && n > 0, "entry without values");
            for (uint64_t k = 0; k < n; k++)
                tc_fuzz_check("fuzz_imatrix", isfinite(v[k]), "non-finite value accepted");
            tc_fuzz_check("fuzz_imatrix", tc_imatrix_find(im, tc_imatrix_name(im, i), &n2) != NULL,
                          "entry not found by its name");
        }
        tc_imatrix_free(im);
    }
    tc_map_unref(m);
    return 0;
}
