/*
 * alloc.c - the library's allocator (every allocation goes through tc_malloc & co.), with a
 * fault-injection hook for the out-of-memory tests, and tc_strdup.
 */
#include "tc_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
