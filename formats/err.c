/*
 * err.c - status codes, error messages, the allocation hooks, and small shared helpers.
 */
#include "tc_impl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ===== Errors ===== */

TC_PRINTF(4, 0)
static tc_status err_vset(tc_err *e, tc_status code, int errnum, const char *fmt, va_list ap)
{
    if (e == NULL || e->code != TC_OK) /* the first error wins */
        return code;
    e->code = code;
    e->sys_errno = errnum;
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    if (errnum != 0 && n >= 0 && (size_t)n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
    return code;
}

tc_status tc_err_set(tc_err *e, tc_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

tc_status tc_err_nomem(tc_err *e)
{
    return tc_err_set(e, TC_E_NOMEM, "out of memory");
}

tc_status tc_err_sys(tc_err *e, tc_status code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, errnum, fmt, ap);
    va_end(ap);
    return code;
}

void tc_err_clear(tc_err *e)
{
    if (e) {
        e->code = TC_OK;
        e->sys_errno = 0;
        e->msg[0] = 0;
    }
}

const char *tc_status_name(tc_status s)
{
    switch (s) {
    case TC_OK:
        return "ok";
    case TC_E_IO:
        return "I/O error";
    case TC_E_NOMEM:
        return "out of memory";
    case TC_E_FORMAT:
        return "format error";
    case TC_E_UNSUPPORTED:
        return "unsupported";
    case TC_E_LIMIT:
        return "limit exceeded";
    case TC_E_CHECKSUM:
        return "checksum mismatch";
    case TC_E_UNSAFE:
        return "unsafe input";
    case TC_E_USAGE:
        return "usage error";
    }
    return "error";
}

/* ===== Allocation (with a fault-injection hook for tests) ===== */

static _Atomic long alloc_fail_at = -1; /* allocations left before one fails, -1 off */
static _Atomic long alloc_count;

static int alloc_should_fail(void)
{
    atomic_fetch_add(&alloc_count, 1);
    long left = atomic_load(&alloc_fail_at);
    if (left < 0)
        return 0;
    if (left == 0) {
        atomic_store(&alloc_fail_at, -1);
        return 1;
    }
    atomic_store(&alloc_fail_at, left - 1);
    return 0;
}

long tc_alloc_fail_after(long nth)
{
    long n = atomic_exchange(&alloc_count, 0);
    atomic_store(&alloc_fail_at, nth);
    return n;
}

void *tc_malloc(size_t n)
{
    return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *tc_calloc(size_t n, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *tc_realloc(void *p, size_t n)
{
    return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void tc_free(void *p)
{
    free(p);
}

char *tc_strdup(const char *s)
{
    size_t n = strlen(s);
    char *r = tc_malloc(n + 1);
    if (r)
        memcpy(r, s, n + 1);
    return r;
}

/* ===== Shared helpers ===== */

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
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    opt->written = w;
    if ((w[opt->n_written] = tc_strdup(path)) == NULL)
        return tc_err_set(e, TC_E_NOMEM, "out of memory");
    opt->n_written++;
    return TC_OK;
}
