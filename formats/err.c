/*
 * err.c - status codes and error messages.
 */
#include "tc_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
