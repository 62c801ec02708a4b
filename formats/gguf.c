/* gguf.c - placeholder: this format is being written. */
#include "tc_impl.h"

static const char *const gguf_exts[] = {NULL};

static int gguf_probe(const uint8_t *head, size_t n, const char *path)
{
    (void)head;
    (void)n;
    (void)path;
    return 0;
}

const tc_format tc_format_gguf = {"gguf", gguf_exts, gguf_probe, NULL, NULL, NULL};
