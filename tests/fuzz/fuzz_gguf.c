/*
 * fuzz_gguf.c - the GGUF reader over arbitrary bytes: read_map on a memory map, then read every
 * tensor of a graph that was accepted (its ranges must really be inside the buffer). When a
 * graph reads, it is also written back and read again (round trip), and must compare equal.
 */
#include "fuzz_util.h"
#include "tc_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int dropped_key(const char *k)
{
    return strncmp(k, "split.", 6) == 0 || tc_prov_is_key(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    tc_map *m;
    if (tc_map_memory(data, size, "fuzz.gguf", &m, &e) != TC_OK)
        return 0;
    tc_graph *g = tc_graph_new();
    if (g == NULL) {
        tc_map_unref(m);
        return 0;
    }
    tc_status st = tc_format_gguf.read_map(m, g, NULL, &e);
    if (st != TC_OK) {
        tc_fuzz_check("fuzz_gguf", e.msg[0] != 0, "error without a message");
    } else {
        for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
            const tc_tensor *t = tc_graph_tensor(g, i);
            uint64_t n = tc_tensor_nbytes(t);
            if (n > (64u << 20))
                continue;
            uint8_t *buf = malloc(n ? (size_t)n : 1);
            tc_fuzz_check("fuzz_gguf", buf != NULL, "malloc");
            tc_fuzz_check("fuzz_gguf",
                          tc_tensor_read(t, 0, tc_tensor_n_elements(t), buf, &e) == TC_OK,
                          "an accepted tensor cannot be read");
            free(buf);
        }
        /* round trip through the writer (small inputs only: it writes a file) */
        if (size < (1u << 16) && tc_graph_n_tensors(g) < 64) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/fuzz_gguf_%d.gguf", (int)getpid());
            tc_err we = {0};
            if (tc_format_gguf.write(g, path, NULL, &we) == TC_OK) {
                tc_graph *g2 = tc_graph_new();
                tc_map *m2;
                tc_err re = {0};
                tc_fuzz_check("fuzz_gguf", tc_map_open(path, &m2, &re) == TC_OK,
                              "cannot open what we wrote");
                tc_fuzz_check("fuzz_gguf", tc_format_gguf.read_map(m2, g2, NULL, &re) == TC_OK,
                              "cannot read what we wrote");
                tc_fuzz_check("fuzz_gguf", tc_graph_n_tensors(g2) == tc_graph_n_tensors(g),
                              "tensor count");
                /* every key kept, in order; the writer drops split.* keys (it writes one
                 * file) and replaces tensorcast.provenance.* (a stale record would lie) */
                size_t j = 0;
                for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
                    const char *k = tc_graph_kv_key(g, i);
                    if (dropped_key(k))
                        continue;
                    while (j < tc_graph_n_kv(g2) && dropped_key(tc_graph_kv_key(g2, j)))
                        j++;
                    tc_fuzz_check("fuzz_gguf", j < tc_graph_n_kv(g2), "kv count");
                    tc_fuzz_check("fuzz_gguf", strcmp(k, tc_graph_kv_key(g2, j)) == 0, "kv order");
                    j++;
                }
                tc_map_unref(m2);
                tc_graph_free(g2);
                unlink(path);
            }
        }
    }
    tc_graph_free(g);
    tc_map_unref(m);
    return 0;
}
