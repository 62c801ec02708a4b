/*
 * fault_inject.c - an LD_PRELOAD shim for the fault tests: makes the kernel's answers to the
 * writer fail the way a dying disk does, so the tests can check that tensorcast reports an I/O
 * error (exit 4) and leaves nothing behind.
 *
 *   TC_FAULT_EIO_AFTER=N   write/pwrite/copy_file_range to regular files fail with EIO once N
 *                          bytes have gone to them (N = 0: the first one fails)
 *   TC_FAULT_FSYNC_EIO=1   fsync/fdatasync fail with EIO (a write-back error found late)
 *
 * Only regular files count, so messages on stdout/stderr still get out. Nothing else changes.
 */
#undef _FILE_OFFSET_BITS /* define pwrite and pwrite64 each under its own name */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static _Atomic uint64_t written;

static int regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* 1 when this write of n bytes to fd must fail. */
static int fail_now(int fd, size_t n)
{
    const char *lim = getenv("TC_FAULT_EIO_AFTER");
    if (lim == NULL || !regular(fd))
        return 0;
    uint64_t before = atomic_fetch_add(&written, (uint64_t)n);
    return before + n > strtoull(lim, NULL, 10);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fail_now(fd, n)) {
        errno = EIO;
        return -1;
    }
    return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    if (fail_now(fd, n)) {
        errno = EIO;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off64_t);
    if (real == NULL)
        real = (ssize_t(*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");
    if (fail_now(fd, n)) {
        errno = EIO;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t n, unsigned flags)
{
    static ssize_t (*real)(int, off_t *, int, off_t *, size_t, unsigned);
    if (real == NULL)
        real = (ssize_t(*)(int, off_t *, int, off_t *, size_t, unsigned))dlsym(RTLD_NEXT,
                                                                               "copy_file_range");
    if (fail_now(out, n)) {
        errno = EIO;
        return -1;
    }
    return real(in, in_off, out, out_off, n, flags);
}

static int fsync_fails(void)
{
    const char *f = getenv("TC_FAULT_FSYNC_EIO");
    return f && *f == '1';
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (fsync_fails() && regular(fd)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (fsync_fails() && regular(fd)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}
