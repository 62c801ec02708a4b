/*
 * registry.c - the one list of formats (libarchive's design in a table). The highest bid wins;
 * a tie between two formats is an error naming both.
 */
#include "tc_impl.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* cheap magic checks first */
static const tc_format *const formats[] = {
    &tc_format_gguf, &tc_format_safetensors, &tc_format_npy, &tc_format_torch, &tc_format_archive,
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

size_t tc_format_count(void)
{
    return N_FORMATS;
}

const tc_format *tc_format_at(size_t i)
{
    return i < N_FORMATS ? formats[i] : NULL;
}

const tc_format *tc_format_by_name(const char *name)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (strcmp(formats[i]->name, name) == 0)
            return formats[i];
    return NULL;
}

const tc_format *tc_format_for_path(const char *path)
{
    for (size_t i = 0; i < N_FORMATS; i++) {
        if (formats[i]->write == NULL || formats[i]->exts == NULL)
            continue;
        for (const char *const *x = formats[i]->exts; *x; x++)
            if (tc_ends_with(path, *x))
                return formats[i];
    }
    return NULL;
}

tc_status tc_format_detect(const char *path, const tc_format **out, tc_err *e)
{
    uint8_t head[TC_PROBE_BYTES];
    size_t n = 0;
    int dir = tc_is_dir(path);
    *out = NULL;
    if (!dir) {
        /* a FIFO would block an open() forever, a device is not a model */
        struct stat st;
        if (stat(path, &st) != 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: cannot open", path);
        if (!S_ISREG(st.st_mode))
            return tc_err_set(e, TC_E_FORMAT,
                              "%s: not a regular file (a FIFO, socket or device cannot be read as "
                              "a model)",
                              path);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: cannot open", path);
        ssize_t r;
        while (n < sizeof head && (r = read(fd, head + n, sizeof head - n)) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                int er = errno;
                close(fd);
                return tc_err_sys(e, TC_E_IO, er, "%s: cannot read", path);
            }
            n += (size_t)r;
        }
        close(fd);
    }
    int best = 0;
    const tc_format *win = NULL, *tie = NULL;
    for (size_t i = 0; i < N_FORMATS; i++) {
        if (formats[i]->probe == NULL || formats[i]->read == NULL)
            continue;
        int bid = formats[i]->probe(dir ? NULL : head, dir ? 0 : n, path);
        if (bid > best) {
            best = bid;
            win = formats[i];
            tie = NULL;
        } else if (bid == best && bid > 0) {
            tie = formats[i];
        }
    }
    if (win == NULL) {
        if (!dir && n == 0)
            return tc_err_set(e, TC_E_FORMAT, "%s: empty file", path);
        if (!dir && n >= 200 && memcmp(head, "version https://git-lfs", 23) == 0)
            return tc_err_set(e, TC_E_FORMAT,
                              "%s: this is a Git LFS pointer, not the model data "
                              "(run 'git lfs pull')",
                              path);
        return tc_err_set(e, TC_E_UNSUPPORTED,
                          dir ? "%s: no model files found in this directory"
                              : "%s: unrecognised file format",
                          path);
    }
    if (tie)
        return tc_err_set(e, TC_E_FORMAT, "%s: ambiguous input: both %s and %s claim it", path,
                          win->name, tie->name);
    *out = win;
    return TC_OK;
}

tc_status tc_read(const char *path, tc_graph **out, const tc_read_opts *opt, tc_err *e)
{
    const tc_format *f;
    *out = NULL;
    TC_TRY(tc_format_detect(path, &f, e));
    tc_graph *g = tc_graph_new();
    if (g == NULL)
        return tc_err_nomem(e);
    tc_status rc = f->read(path, g, opt, e);
    if (rc == TC_OK && tc_graph_format(g) == NULL)
        rc = tc_graph_set_format(g, f->name, NULL, e);
    if (rc == TC_OK)
        rc = tc_license_from_dir(g, path, e);
    if (rc != TC_OK) {
        tc_graph_free(g);
        return rc;
    }
    *out = g;
    return TC_OK;
}

tc_status tc_write(const tc_graph *g, const char *path, const char *format, tc_write_opts *opt,
                   tc_err *e)
{
    const tc_format *f = format ? tc_format_by_name(format) : tc_format_for_path(path);
    if (f == NULL)
        return tc_err_set(e, TC_E_USAGE,
                          format ? "unknown output format '%s'"
                                 : "cannot tell the output format from '%s' (use --to)",
                          format ? format : path);
    if (f->write == NULL)
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensorcast cannot write %s files", f->name);
    return f->write(g, path, opt, e);
}
