/*
 * fuzz_npy.c - the .npy/.npz reader (tc_format_npy.read_map) on arbitrary bytes; every tensor the
 * reader accepts is read back in full (lazy byte-swap / Fortran-order sources included).
 */
#include "fuzz_util.h"
#include "tensorcast.h"

#include <stdint.h>
#include <stdlib.h>

extern const tc_format tc_format_npy;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    tc_map *m = NULL;
    tc_graph *g = tc_graph_new();
    if (g == NULL || tc_map_memory(data, size, "fuzz.npy", &m, &e) != TC_OK) {
        tc_graph_free(g);
        return 0;
    }
    if (tc_format_npy.read_map(m, g, NULL, &e) == TC_OK) {
        tc_fuzz_read_tensors(g);
    }
    tc_map_unref(m);
    tc_graph_free(g);
    return 0;
}
