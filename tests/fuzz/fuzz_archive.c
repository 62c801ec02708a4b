/*
 * fuzz_archive.c - the archive reader (tc_format_archive.read, libarchive underneath) on arbitrary
 * bytes, handed over as an in-memory file (memfd); every tensor it accepts is read back in full.
 */
#include "tensorcast.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern const tc_format tc_format_archive;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_archive", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    tc_err e = {0};
    tc_graph *g = tc_graph_new();
    if (g && tc_format_archive.read(path, g, NULL, &e) == TC_OK) {
        for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
            const tc_tensor *t = tc_graph_tensor(g, i);
            uint64_t nb = tc_tensor_nbytes(t);
            if (nb == 0 || nb > (1u << 20))
                continue;
            void *buf = malloc((size_t)nb);
            if (buf)
                tc_tensor_read(t, 0, tc_tensor_n_elements(t), buf, &e);
            free(buf);
        }
    }
    tc_graph_free(g);
    close(fd);
    return 0;
}
