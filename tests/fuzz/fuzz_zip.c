/*
 * fuzz_zip.c - the zip reader and the PyTorch reader on arbitrary bytes: open the central
 * directory, CRC-check and extract (capped) every entry, then read the bytes as a checkpoint
 * (zip or legacy) and read every accepted tensor's first and last elements.
 */
#include "zip.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_some(const tc_tensor *t)
{
    uint64_t ne = tc_tensor_n_elements(t);
    uint64_t n = ne < 4096 ? ne : 4096;
    uint8_t *buf = malloc(n ? (size_t)tc_row_size(tc_tensor_dtype(t), (int64_t)n) : 1);
    if (buf == NULL)
        return;
    tc_err e = {0};
    if (n && tc_tensor_read(t, 0, n, buf, &e) != TC_OK)
        abort(); /* an accepted tensor must be readable */
    if (n && tc_tensor_read(t, ne - n, n, buf, &e) != TC_OK)
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    tc_map *m;
    if (tc_map_memory(data, size, "fuzz.pt", &m, &e) != TC_OK)
        return 0;
    tc_zip *z = NULL;
    if (tc_zip_open(m, &z, &e) == TC_OK) {
        for (size_t i = 0; i < tc_zip_count(z); i++) {
            const tc_zip_entry *en = tc_zip_at(z, i);
            if (en->data_off + en->csize > size || tc_zip_find(z, en->name) != en)
                abort();
            tc_err ce = {0};
            tc_zip_check_crc(z, en, &ce);
            uint8_t *buf = NULL;
            uint64_t n = 0;
            if (tc_zip_extract(z, en, 1 << 20, &buf, &n, &ce) == TC_OK) {
                if (n != en->usize)
                    abort();
                tc_free(buf);
            }
        }
        tc_zip_free(z);
    }
    tc_graph *g = tc_graph_new();
    tc_err_clear(&e);
    if (g && tc_format_torch.read_map(m, g, NULL, &e) == TC_OK) {
        for (size_t i = 0; i < tc_graph_n_tensors(g); i++)
            read_some(tc_graph_tensor(g, i));
    }
    tc_graph_free(g);
    tc_map_unref(m);
    return 0;
}
