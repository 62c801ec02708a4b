/* archive.c - placeholder: this reader is not written yet. */
#include "tc_impl.h"

static const char *const archive_exts[] = {NULL};

static int archive_probe(const uint8_t *head, size_t n, const char *path)
{
    (void)head;
    (void)n;
    (void)path;
    return 0;
}

const tc_format tc_format_archive = {"archive", archive_exts, archive_probe, NULL, NULL, NULL};
