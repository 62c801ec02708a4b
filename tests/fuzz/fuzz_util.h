/*
 * fuzz_util.h - what several fuzz targets share: a failed property aborts with the target's
 * name, scratch files are written whole, and every tensor of a graph that reads is read.
 */
#ifndef TC_FUZZ_UTIL_H
#define TC_FUZZ_UTIL_H

#include "tensorcast.h"

#include <stdio.h>
#include <stdlib.h>

/* Abort (the fuzzer's crash report) naming `target` and the property when `cond` fails. */
static inline void tc_fuzz_check(const char *target, int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "%s: %s\n", target, what);
        abort();
    }
}

static inline void tc_fuzz_write_file(const char *target, const char *path, const uint8_t *d,
                                      size_t n)
{
    FILE *f = fopen(path, "wb");
    tc_fuzz_check(target, f != NULL, "cannot write the scratch file");
    if (n)
        fwrite(d, 1, n, f);
    fclose(f);
}

/* Read every tensor of `g` up to 1 MiB (a reader's lazy sources run too); errors are fine. */
static inline void tc_fuzz_read_tensors(const tc_graph *g)
{
    tc_err e = {0};
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        uint64_t nb = tc_tensor_nbytes(t);
        if (nb == 0 || nb > (1u << 20))
            continue;
        void *buf = malloc((size_t)nb);
        if (buf)
            tc_tensor_read(t, 0, tc_tensor_n_elements(t), buf, &e);
        free(buf);
        tc_err_clear(&e);
    }
}

#endif /* TC_FUZZ_UTIL_H */
