/*
 * fuzz_archive.c - the archive reader (tc_format_archive.read, libarchive underneath) on arbitrary
 * bytes, handed over as an in-memory file (memfd); every tensor it accepts is read back in full.
 */
#include "fuzz_util.h"
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
        tc_fuzz_read_tensors(g);
    }
    tc_graph_free(g);
    close(fd);
    return 0;
}
