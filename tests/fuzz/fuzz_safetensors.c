/*
 * fuzz_safetensors.c - the safetensors reader on arbitrary bytes: read_map over a memory map,
 * then every tensor is read whole (so every accepted range is touched) and every metadata
 * value is checked to have a valid type.
 */
#include "tc_impl.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    tc_map *m;
    if (tc_map_memory(data, size, "fuzz.safetensors", &m, &e) != TC_OK)
        return 0;
    tc_graph *g = tc_graph_new();
    if (g != NULL && tc_format_safetensors.read_map(m, g, NULL, &e) == TC_OK) {
        for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
            tc_tensor *t = tc_graph_tensor(g, i);
            uint64_t nb = tc_tensor_nbytes(t);
            if (nb > size) /* a mapped tensor cannot be bigger than its file */
                abort();
            uint8_t *buf = malloc(nb ? (size_t)nb : 1);
            if (buf == NULL)
                continue;
            tc_err re = {0};
            if (tc_tensor_read(t, 0, tc_tensor_n_elements(t), buf, &re) != TC_OK)
                abort(); /* an accepted tensor must be readable */
            free(buf);
        }
        /* metadata values must be well-formed for every consumer */
        for (size_t i = 0; i < tc_graph_n_kv(g); i++)
            if (tc_graph_kv_value(g, i)->type >= TC_V_COUNT)
                abort();
    }
    tc_graph_free(g);
    tc_map_unref(m);
    return 0;
}
