/*
 * util.c - small helpers the readers and writers share: UTF-8 validation, paths, suffixes,
 * and the list of files a write produced.
 */
#include "tc_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tc_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

int tc_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *tc_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *r = tc_malloc(a + b + 2);
    if (r == NULL)
        return NULL;
    memcpy(r, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/')
        r[k++] = '/';
    memcpy(r + k, name, b + 1);
    return r;
}

char *tc_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return tc_strdup(".");
    if (slash == path)
        return tc_strdup("/");
    size_t n = (size_t)(slash - path);
    char *r = tc_malloc(n + 1);
    if (r) {
        memcpy(r, path, n);
        r[n] = 0;
    }
    return r;
}

const char *tc_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int tc_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

tc_status tc_opts_add_written(tc_write_opts *opt, const char *path, tc_err *e)
{
    if (opt == NULL)
        return TC_OK;
    char **w = tc_realloc(opt->written, (opt->n_written + 1) * sizeof *w);
    if (w == NULL)
        return tc_err_nomem(e);
    opt->written = w;
    if ((w[opt->n_written] = tc_strdup(path)) == NULL)
        return tc_err_nomem(e);
    opt->n_written++;
    return TC_OK;
}
