/*
 * io.c - input maps (mmap, read-only), output files (temporary file beside the target, renamed
 * into place when complete), and the tensor payload streamer shared by every writer.
 */
#include "tc_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ===== Maps ===== */

struct tc_map {
    _Atomic long refs;
    const uint8_t *data;
    uint64_t size;
    int fd;      /* -1 for memory */
    int mmapped; /* data came from mmap */
    char *path;
};

tc_status tc_map_open(const char *path, tc_map **out, tc_err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0)
        return tc_err_sys(e, TC_E_IO, errno, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int er = errno;
        close(fd);
        return tc_err_sys(e, TC_E_IO, er, "%s: cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tc_err_set(e, TC_E_IO, "%s: not a regular file", path);
    }
    tc_map *m = tc_calloc(1, sizeof *m);
    char *p = tc_strdup(path);
    if (m == NULL || p == NULL) {
        tc_free(m);
        tc_free(p);
        close(fd);
        return tc_err_nomem(e);
    }
    m->refs = 1;
    m->fd = fd;
    m->path = p;
    m->size = (uint64_t)st.st_size;
    if (m->size > 0) {
        void *d = mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (d == MAP_FAILED) {
            int er = errno;
            tc_free(p);
            tc_free(m);
            close(fd);
            return tc_err_sys(e, TC_E_IO, er, "%s: cannot map", path);
        }
        madvise(d, (size_t)m->size, MADV_RANDOM); /* headers only: no read-ahead of payload */
        m->data = d;
        m->mmapped = 1;
    } else {
        m->data = (const uint8_t *)"";
    }
    *out = m;
    return TC_OK;
}

tc_status tc_map_memory(const void *data, size_t n, const char *name, tc_map **out, tc_err *e)
{
    *out = NULL;
    tc_map *m = tc_calloc(1, sizeof *m);
    char *p = tc_strdup(name ? name : "<memory>");
    if (m == NULL || p == NULL) {
        tc_free(m);
        tc_free(p);
        return tc_err_nomem(e);
    }
    m->refs = 1;
    m->fd = -1;
    m->path = p;
    m->data = n ? data : (const uint8_t *)"";
    m->size = n;
    *out = m;
    return TC_OK;
}

tc_map *tc_map_ref(tc_map *m)
{
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void tc_map_unref(tc_map *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->mmapped)
        munmap((void *)m->data, (size_t)m->size);
    if (m->fd >= 0)
        close(m->fd);
    tc_free(m->path);
    tc_free(m);
}

const uint8_t *tc_map_data(const tc_map *m)
{
    return m->data;
}
uint64_t tc_map_size(const tc_map *m)
{
    return m->size;
}
const char *tc_map_path(const tc_map *m)
{
    return m->path;
}
int tc_map_fd(const tc_map *m)
{
    return m->fd;
}

tc_status tc_map_read(const tc_map *m, uint64_t off, void *dst, size_t n, tc_err *e)
{
    uint64_t end;
    if (!tc_add_ok(off, n, &end) || end > m->size)
        return tc_err_set(e, TC_E_FORMAT, "%s: read of %zu bytes at %" PRIu64 " is past the end",
                          m->path, n, off);
    if (m->fd < 0) {
        memcpy(dst, m->data + off, n);
        return TC_OK;
    }
    uint8_t *d = dst;
    while (n > 0) {
        ssize_t r = pread(m->fd, d, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: read failed at %" PRIu64, m->path, off);
        if (r == 0)
            return tc_err_set(e, TC_E_IO, "%s: file shrank while reading (at %" PRIu64 ")", m->path,
                              off);
        d += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return TC_OK;
}

/* ===== Output files ===== */

#define OUT_BUF   (1u << 20) /* a multiple of DIO_ALIGN */
#define OUT_SLOTS 256
#define DIO_ALIGN 4096u /* O_DIRECT: buffer address, file offset and length (any block size) */

/* Temporary files still open, for tc_out_cleanup_all() (async-signal-safe: reads only). */
static char *_Atomic live_tmp[OUT_SLOTS];

struct tc_out {
    int fd;
    char *path; /* final name */
    char *tmp;  /* temporary name beside it */
    int slot;
    uint8_t *mem; /* the allocation holding buf */
    uint8_t *buf; /* OUT_BUF bytes, DIO_ALIGN-aligned */
    size_t nbuf;
    uint64_t pos;
    uint64_t fdpos;   /* bytes handed to the kernel */
    uint64_t wb_done; /* bytes whose write-back has been started */
    int finished;
    int made;           /* the temporary file exists on disk (under o->tmp) */
    int anon;           /* O_TMPFILE: no name until tc_out_finish links it as o->tmp */
    int nosync;         /* no write-back kicks, no fsync (tc_write_opts.no_sync) */
    int direct;         /* O_DIRECT: whole aligned buffers only, the tail padded then truncated */
    XXH64_state_t *tap; /* every byte written is also hashed here (tc_out_tap), or NULL */
    uint8_t **pool;     /* streaming slots kept from tensor to tensor (fresh buffers per tensor
                           page-fault their way through memory), freed with the output */
    int pool_n;
    size_t pool_bytes;
};

static void pool_free(tc_out *o)
{
    for (int i = 0; o->pool && i < o->pool_n; i++)
        tc_free(o->pool[i]);
    tc_free(o->pool);
    o->pool = NULL;
    o->pool_n = 0;
    o->pool_bytes = 0;
}

/* n slots of at least `bytes` each, reused when the pool is big enough; NULL when out of memory */
static uint8_t **pool_get(tc_out *o, int n, size_t bytes)
{
    if (o->pool && o->pool_n >= n && o->pool_bytes >= bytes)
        return o->pool;
    size_t want = bytes > o->pool_bytes ? bytes : o->pool_bytes;
    int nn = n > o->pool_n ? n : o->pool_n;
    pool_free(o);
    o->pool = tc_calloc((size_t)nn, sizeof *o->pool);
    if (o->pool == NULL)
        return NULL;
    o->pool_n = nn;
    o->pool_bytes = want;
    for (int i = 0; i < nn; i++)
        if ((o->pool[i] = tc_malloc(want)) == NULL) {
            pool_free(o);
            return NULL;
        }
    return o->pool;
}

static void live_add(tc_out *o)
{
    o->slot = -1;
    for (int i = 0; i < OUT_SLOTS; i++) {
        char *expect = NULL;
        if (atomic_compare_exchange_strong(&live_tmp[i], &expect, o->tmp)) {
            o->slot = i;
            return;
        }
    }
}

static void live_del(tc_out *o)
{
    if (o->slot >= 0)
        atomic_store(&live_tmp[o->slot], NULL);
    o->slot = -1;
}

void tc_out_cleanup_all(void)
{
    (void)tc_out_cleanup_all_count();
}

/* Outputs open as unnamed O_TMPFILE files: nothing to unlink (the kernel drops them when the
 * process dies, SIGKILL included), but they count as "nothing written" for the signal handler. */
static _Atomic int live_anon;

int tc_out_cleanup_all_count(void)
{
    int n = atomic_load(&live_anon);
    for (int i = 0; i < OUT_SLOTS; i++) {
        char *p = atomic_load(&live_tmp[i]);
        if (p) {
            unlink(p);
            n++;
        }
    }
    return n;
}

static tc_status tc_out_open_real(const char *path, int no_sync, tc_out **out, tc_err *e);

static void (*notice_fn)(void *, const char *);
static void *notice_ctx;

void tc_set_notice(void (*fn)(void *ctx, const char *msg), void *ctx)
{
    notice_fn = fn;
    notice_ctx = ctx;
}

void tc_notice(const char *fmt, ...)
{
    if (notice_fn == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    notice_fn(notice_ctx, msg);
}

/* Temporaries of ours beside `path` (".<base>.tmp-XXXXXX") that no running tensorcast holds: an
 * earlier run was killed before it could remove them. Said through the notice callback; not
 * removed (a user may want to look first). A writer holds an flock on its temporary. */
static void note_stale_temporaries(const char *path, const char *dir)
{
    if (notice_fn == NULL)
        return;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char prefix[512];
    int pl = snprintf(prefix, sizeof prefix, ".%s.tmp-", tc_path_base(path));
    if (pl <= 0 || (size_t)pl >= sizeof prefix) {
        closedir(d);
        return;
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strncmp(de->d_name, prefix, (size_t)pl) != 0 || strlen(de->d_name) != (size_t)pl + 6)
            continue;
        char *p = tc_path_join(dir, de->d_name);
        if (p == NULL)
            break;
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            flock(fd, LOCK_EX | LOCK_NB) == 0) {
            char msg[1024];
            snprintf(msg, sizeof msg,
                     "%s is a temporary file of an interrupted tensorcast run (%.1f MiB); "
                     "remove it with: rm '%s'",
                     p, (double)st.st_size / (1024.0 * 1024.0), p);
            notice_fn(notice_ctx, msg);
        }
        if (fd >= 0)
            close(fd);
        tc_free(p);
    }
    closedir(d);
}

/* An unnamed file in `dir` (O_TMPFILE), when the file system has them and /proc can link it
 * later; -1 otherwise. */
static int open_anon(const char *dir)
{
#ifdef O_TMPFILE
    if (access("/proc/self/fd", X_OK) != 0)
        return -1;
    return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
#else
    (void)dir;
    return -1;
#endif
}

/* Give the unnamed file its temporary name (linkat through /proc, which needs no privilege). */
static int link_anon(tc_out *o)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    size_t tl = strlen(o->tmp);
    for (int tries = 0; tries < 100; tries++) {
        static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        unsigned char rnd[6];
        if (getentropy(rnd, sizeof rnd) != 0)
            return -1;
        for (int k = 0; k < 6; k++)
            o->tmp[tl - 6 + (size_t)k] = al[rnd[k] % (sizeof al - 1)];
        if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* The file an output named `path` really replaces: a symlink's target (followed as cp does, so
 * the link survives and its target is replaced atomically), refusing what is not a regular
 * file. *real is tc_malloc'd. */
tc_status tc_out_resolve(const char *path, char **real, tc_err *e)
{
    *real = NULL;
    char *cur = tc_strdup(path);
    if (cur == NULL)
        return tc_err_nomem(e);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) /* a new file (or a dangling link's target) */
                break;
            tc_status rc = tc_err_sys(e, TC_E_IO, errno, "%s", cur);
            tc_free(cur);
            return rc;
        }
        if (S_ISLNK(st.st_mode)) {
            if (hops >= 40) {
                tc_free(cur);
                return tc_err_set(e, TC_E_USAGE, "%s: too many levels of symbolic links", path);
            }
            char target[PATH_MAX];
            ssize_t n = readlink(cur, target, sizeof target - 1);
            if (n <= 0) {
                tc_free(cur);
                return tc_err_sys(e, TC_E_IO, errno, "%s: cannot read the link", path);
            }
            target[n] = 0;
            char *next;
            if (target[0] == '/') {
                next = tc_strdup(target);
            } else {
                char *d = tc_path_dir(cur);
                next = d ? tc_path_join(d, target) : NULL;
                tc_free(d);
            }
            tc_free(cur);
            if (next == NULL)
                return tc_err_nomem(e);
            cur = next;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            tc_free(cur);
            return tc_err_set(e, TC_E_USAGE, "%s: is a directory", path);
        }
        if (!S_ISREG(st.st_mode)) {
            tc_status rc = tc_err_set(
                e, TC_E_USAGE, "refusing to write %s: %s is a %s, not a regular file", path, cur,
                S_ISCHR(st.st_mode)    ? "character device"
                : S_ISBLK(st.st_mode)  ? "block device"
                : S_ISFIFO(st.st_mode) ? "FIFO"
                : S_ISSOCK(st.st_mode) ? "socket"
                                       : "special file");
            tc_free(cur);
            return rc;
        }
        break;
    }
    *real = cur;
    return TC_OK;
}

tc_status tc_out_check_inputs(const tc_graph *g, const char *path, tc_err *e)
{
    struct stat so, si;
    if (g == NULL || stat(path, &so) != 0)
        return TC_OK; /* does not exist yet: cannot be an input */
    for (size_t i = 0; i < tc_graph_n_sources(g); i++)
        if (stat(tc_graph_source(g, i, NULL), &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return tc_err_set(e, TC_E_USAGE, "refusing to overwrite the input %s (as %s)",
                              tc_graph_source(g, i, NULL), path);
    return TC_OK;
}

tc_status tc_out_open(const char *path, int no_sync, tc_out **out, tc_err *e)
{
    *out = NULL;
    char *real = NULL;
    TC_TRY(tc_out_resolve(path, &real, e));
    tc_status rrc = tc_out_open_real(real, no_sync, out, e);
    tc_free(real);
    return rrc;
}

static tc_status tc_out_open_real(const char *path, int no_sync, tc_out **out, tc_err *e)
{
    *out = NULL;
    if (tc_is_dir(path))
        return tc_err_set(e, TC_E_IO, "%s: is a directory", path);
    tc_out *o = tc_calloc(1, sizeof *o);
    if (o == NULL)
        return tc_err_nomem(e);
    o->fd = -1;
    o->slot = -1;
    o->path = tc_strdup(path);
    char *dir = tc_path_dir(path);
    size_t tl = strlen(path) + 32;
    o->tmp = tc_malloc(tl);
    o->mem = tc_malloc(OUT_BUF + DIO_ALIGN);
    if (o->mem)
        o->buf = o->mem + (DIO_ALIGN - (uintptr_t)o->mem % DIO_ALIGN) % DIO_ALIGN;
    if (o->path == NULL || dir == NULL || o->tmp == NULL || o->mem == NULL) {
        tc_free(dir);
        tc_out_abort(o);
        return tc_err_nomem(e);
    }
    /* ".name.tmp-XXXXXX" in the target's directory: hidden, and on the same file system. First
     * an unnamed O_TMPFILE (named only once complete, so a killed run leaves nothing), else a
     * named temporary, locked so a later run can tell a stale one from a live one. */
    note_stale_temporaries(path, dir);
    snprintf(o->tmp, tl, "%s/.%s.tmp-XXXXXX", dir, tc_path_base(path));
    o->fd = open_anon(dir);
    tc_free(dir);
    if (o->fd >= 0) {
        o->anon = 1;
        atomic_fetch_add(&live_anon, 1);
    } else {
        o->fd = mkostemp(o->tmp, O_CLOEXEC);
        if (o->fd < 0) {
            int er = errno;
            tc_free(o->tmp);
            o->tmp = NULL;
            tc_out_abort(o);
            return tc_err_sys(e, TC_E_IO, er, "%s: cannot create a temporary file beside it", path);
        }
        o->made = 1;
        (void)flock(o->fd, LOCK_EX | LOCK_NB);
        live_add(o);
    }
    o->nosync = no_sync != 0;
    fchmod(o->fd, 0644);
    /* A durable output goes to the disk directly: no copy into the page cache, and no dirty
     * pages for the final fsync to wait on (here 2.1 GB: 1.0 s against 2.5-5.4 s for write +
     * fsync). File systems without O_DIRECT (tmpfs) refuse the flag: buffered then. */
    if (!o->nosync && getenv("TC_NO_DIRECT_IO") == NULL) {
        int fl = fcntl(o->fd, F_GETFL);
        o->direct = fl >= 0 && fcntl(o->fd, F_SETFL, fl | O_DIRECT) == 0;
    }
    *out = o;
    return TC_OK;
}

/* Leave O_DIRECT (a file system that took the flag but refuses an aligned write): buffered. */
static int direct_off(tc_out *o)
{
    int fl = fcntl(o->fd, F_GETFL);
    if (fl < 0 || fcntl(o->fd, F_SETFL, fl & ~O_DIRECT) != 0)
        return -1;
    o->direct = 0;
    return 0;
}

/*
 * Start write-back of what has reached the kernel every WB_STEP bytes, so the disk works while
 * we copy and the final fsync has little left to do (cp + sync does the two one after the
 * other). Advisory: errors are ignored here; fsync reports them.
 */
#define WB_STEP (32u << 20)
static void kick_writeback(tc_out *o)
{
    if (o->nosync || o->direct || o->fdpos - o->wb_done < WB_STEP)
        return;
    (void)sync_file_range(o->fd, (off_t)o->wb_done, (off_t)(o->fdpos - o->wb_done),
                          SYNC_FILE_RANGE_WRITE);
    o->wb_done = o->fdpos;
}

static tc_status write_all(tc_out *o, const uint8_t *p, size_t n, tc_err *e)
{
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EINVAL && o->direct && direct_off(o) == 0)
            continue;
        if (w < 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: write failed", o->path);
        p += w;
        n -= (size_t)w;
        o->fdpos += (uint64_t)w;
    }
    kick_writeback(o);
    return TC_OK;
}

/* Hand the buffer to the kernel. With O_DIRECT only a full buffer goes (every write then
 * starts at a multiple of OUT_BUF); the rest waits for more bytes or for tc_out_finish. */
static tc_status out_flush(tc_out *o, tc_err *e)
{
    if (o->direct && o->nbuf < OUT_BUF)
        return TC_OK;
    tc_status rc = write_all(o, o->buf, o->nbuf, e);
    o->nbuf = 0;
    return rc;
}

/* Append n bytes through the buffer (O_DIRECT: every byte goes through it, aligned). */
static tc_status out_append(tc_out *o, const uint8_t *p, size_t n, tc_err *e)
{
    while (n > 0) {
        size_t k = OUT_BUF - o->nbuf < n ? OUT_BUF - o->nbuf : n;
        memcpy(o->buf + o->nbuf, p, k);
        o->nbuf += k;
        p += k;
        n -= k;
        if (o->nbuf == OUT_BUF)
            TC_TRY(out_flush(o, e));
    }
    return TC_OK;
}

/* O_DIRECT: rewrite [off, off + n) of what is already in the file, whole aligned blocks read,
 * patched and written back. */
static tc_status direct_patch(tc_out *o, uint64_t off, const uint8_t *p, size_t n, tc_err *e)
{
    uint8_t *mem = tc_malloc(2 * DIO_ALIGN + DIO_ALIGN);
    if (mem == NULL)
        return tc_err_nomem(e);
    uint8_t *blk = mem + (DIO_ALIGN - (uintptr_t)mem % DIO_ALIGN) % DIO_ALIGN;
    tc_status rc = TC_OK;
    while (n > 0 && rc == TC_OK) {
        uint64_t a = off - off % DIO_ALIGN; /* one or two blocks around the next piece */
        size_t in = (size_t)(off - a), k = 2 * DIO_ALIGN - in < n ? 2 * DIO_ALIGN - in : n;
        size_t len = (in + k + DIO_ALIGN - 1) / DIO_ALIGN * DIO_ALIGN;
        ssize_t r = pread(o->fd, blk, len, (off_t)a);
        if (r != (ssize_t)len) {
            rc = tc_err_sys(e, TC_E_IO, r < 0 ? errno : EIO, "%s: read back failed", o->path);
            break;
        }
        memcpy(blk + in, p, k);
        ssize_t w = pwrite(o->fd, blk, len, (off_t)a);
        if (w != (ssize_t)len)
            rc = tc_err_sys(e, TC_E_IO, w < 0 ? errno : ENOSPC, "%s: write failed", o->path);
        off += k;
        p += k;
        n -= k;
    }
    tc_free(mem);
    return rc;
}

void tc_out_tap(tc_out *o, void *xxh64_state)
{
    o->tap = xxh64_state;
}

tc_status tc_out_pwrite(tc_out *o, uint64_t off, const void *data, size_t n, tc_err *e)
{
    if (o->finished || off > o->pos || n > o->pos - off)
        return tc_err_set(e, TC_E_USAGE, "%s: patch [%" PRIu64 ", +%zu) outside what was written",
                          o->path, off, n);
    const uint8_t *p = data;
    if (o->direct) { /* the part still in the buffer is patched there */
        if (off + n > o->fdpos) {
            size_t skip = off >= o->fdpos ? 0 : (size_t)(o->fdpos - off);
            memcpy(o->buf + (off + skip - o->fdpos), p + skip, n - skip);
            n = skip;
        }
        return n ? direct_patch(o, off, p, n, e) : TC_OK;
    }
    TC_TRY(out_flush(o, e));
    while (n > 0) {
        ssize_t w = pwrite(o->fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return tc_err_sys(e, TC_E_IO, w < 0 ? errno : ENOSPC, "%s: write failed", o->path);
        p += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    return TC_OK;
}

tc_status tc_out_write(tc_out *o, const void *data, size_t n, tc_err *e)
{
    const uint8_t *p = data;
    if (o->tap)
        XXH64_update(o->tap, data, n);
    o->pos += n;
    if (o->direct)
        return out_append(o, p, n, e);
    if (o->nbuf + n <= OUT_BUF) {
        memcpy(o->buf + o->nbuf, p, n);
        o->nbuf += n;
        return TC_OK;
    }
    TC_TRY(out_flush(o, e));
    if (n >= OUT_BUF)
        return write_all(o, p, n, e);
    memcpy(o->buf, p, n);
    o->nbuf = n;
    return TC_OK;
}

tc_status tc_out_zeros(tc_out *o, uint64_t n, tc_err *e)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        TC_TRY(tc_out_write(o, zeros, k, e));
        n -= k;
    }
    return TC_OK;
}

tc_status tc_out_copy(tc_out *o, const tc_map *m, uint64_t off, uint64_t n, tc_err *e)
{
    uint64_t end;
    if (!tc_add_ok(off, n, &end) || end > m->size)
        return tc_err_set(e, TC_E_FORMAT, "%s: region [%" PRIu64 ", +%" PRIu64 ") past the end",
                          m->path, off, n);
    if (o->direct) { /* through the aligned buffer: read straight into it */
        o->pos += n;
        while (n > 0) {
            size_t k = OUT_BUF - o->nbuf < n ? OUT_BUF - o->nbuf : (size_t)n;
            uint8_t *d = o->buf + o->nbuf;
            if (m->fd >= 0)
                TC_TRY(tc_map_read(m, off, d, k, e));
            else
                memcpy(d, m->data + off, k);
            if (o->tap)
                XXH64_update(o->tap, d, k);
            o->nbuf += k;
            off += k;
            n -= k;
            TC_TRY(out_flush(o, e));
        }
        return TC_OK;
    }
    TC_TRY(out_flush(o, e));
    o->pos += n;
    if (m->fd >= 0 && o->tap) {
        /* the bytes must be hashed on the way: bounce them through our buffer (bounded memory;
         * hashing from the map would fault in and keep every page) */
        while (n > 0) {
            size_t k = n > OUT_BUF ? OUT_BUF : (size_t)n;
            TC_TRY(tc_map_read(m, off, o->buf, k, e));
            XXH64_update(o->tap, o->buf, k);
            TC_TRY(write_all(o, o->buf, k, e));
            off += k;
            n -= k;
        }
        return TC_OK;
    }
    if (m->fd >= 0) {
        /* in-kernel copy: no user-space buffer, no pages mapped into us */
        loff_t in = (loff_t)off;
        while (n > 0) {
            size_t k = n > (1u << 30) ? (1u << 30) : (size_t)n;
            ssize_t r = copy_file_range(m->fd, &in, o->fd, NULL, k, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break; /* EXDEV, ENOSYS, EINVAL...: fall back below */
            n -= (uint64_t)r;
            o->fdpos += (uint64_t)r;
            kick_writeback(o);
        }
        off = (uint64_t)in;
        if (n == 0)
            return TC_OK;
        /* fallback: bounce through a buffer with pread */
        while (n > 0) {
            size_t k = n > OUT_BUF ? OUT_BUF : (size_t)n;
            TC_TRY(tc_map_read(m, off, o->buf, k, e));
            TC_TRY(write_all(o, o->buf, k, e));
            off += k;
            n -= k;
        }
        return TC_OK;
    }
    if (o->tap)
        XXH64_update(o->tap, m->data + off, (size_t)n);
    return write_all(o, m->data + off, (size_t)n, e);
}

uint64_t tc_out_tell(const tc_out *o)
{
    return o->pos;
}

const char *tc_out_path(const tc_out *o)
{
    return o->path;
}

tc_status tc_out_finish(tc_out *o, tc_err *e)
{
    if (o->finished)
        return TC_OK;
    if (o->direct && o->nbuf > 0) { /* the tail: padded to a block, then cut to size */
        size_t len = (o->nbuf + DIO_ALIGN - 1) / DIO_ALIGN * DIO_ALIGN;
        memset(o->buf + o->nbuf, 0, len - o->nbuf);
        uint64_t end = o->fdpos + o->nbuf;
        TC_TRY(write_all(o, o->buf, len, e));
        o->nbuf = 0;
        if (ftruncate(o->fd, (off_t)end) != 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: cannot set the file's size", o->path);
        o->fdpos = end;
    }
    TC_TRY(out_flush(o, e));
    if (!o->nosync && fsync(o->fd) != 0 && errno != EINVAL)
        return tc_err_sys(e, TC_E_IO, errno, "%s: fsync failed", o->path);
    if (o->anon) { /* complete: now it gets its temporary name, to be renamed into place */
        if (link_anon(o) != 0)
            return tc_err_sys(e, TC_E_IO, errno, "%s: cannot name the finished temporary file",
                              o->path);
        o->made = 1;
        live_add(o);
        o->anon = 0;
        atomic_fetch_sub(&live_anon, 1);
    }
    if (close(o->fd) != 0) {
        o->fd = -1;
        return tc_err_sys(e, TC_E_IO, errno, "%s: close failed", o->path);
    }
    o->fd = -1;
    o->finished = 1;
    tc_free(o->mem); /* a finished output waiting for its rename holds no buffer */
    o->mem = o->buf = NULL;
    pool_free(o);
    return TC_OK;
}

tc_status tc_out_commit(tc_out *o, tc_err *e)
{
    tc_status rc = tc_out_finish(o, e);
    if (rc == TC_OK && rename(o->tmp, o->path) != 0)
        rc = tc_err_sys(e, TC_E_IO, errno, "%s: cannot rename the finished file into place",
                        o->path);
    if (rc != TC_OK) {
        tc_out_abort(o);
        return rc;
    }
    live_del(o);
    tc_free(o->tmp);
    tc_free(o->path);
    tc_free(o->mem);
    pool_free(o);
    tc_free(o);
    return TC_OK;
}

void tc_out_abort(tc_out *o)
{
    if (o == NULL)
        return;
    int created = o->made; /* also when no cleanup slot was free or close() failed */
    if (o->fd >= 0)
        close(o->fd);
    if (o->anon) /* never named: closing dropped it */
        atomic_fetch_sub(&live_anon, 1);
    if (o->tmp && created)
        unlink(o->tmp);
    live_del(o);
    tc_free(o->tmp);
    tc_free(o->path);
    tc_free(o->mem);
    pool_free(o);
    tc_free(o);
}

/* ===== Streaming a tensor's payload ===== */

#define CHUNK_ELEMS (1u << 20)

typedef struct stream_job {
    const tc_tensor *t;
    uint64_t chunk_elems, n_elems, n_chunks;
    int dtype;
    size_t slot_bytes;
    int n_slots;
    uint8_t **slots;
    uint64_t *slot_len; /* bytes ready in the slot */
    int *slot_state;    /* 0 free, 1 being filled, 2 ready */
    uint64_t next_claim;
    uint64_t next_write;
    int failed;
    tc_err err;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} stream_job;

static void *stream_worker(void *arg)
{
    stream_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        uint64_t c;
        for (;;) { /* claim the next chunk once its slot has been written out */
            c = j->next_claim;
            if (j->failed || c >= j->n_chunks) {
                pthread_mutex_unlock(&j->mu);
                return NULL;
            }
            if (c < j->next_write + (uint64_t)j->n_slots)
                break;
            pthread_cond_wait(&j->cv, &j->mu);
        }
        j->next_claim++;
        int s = (int)(c % (uint64_t)j->n_slots);
        j->slot_state[s] = 1;
        pthread_mutex_unlock(&j->mu);

        uint64_t e0 = c * j->chunk_elems;
        uint64_t n = j->n_elems - e0 < j->chunk_elems ? j->n_elems - e0 : j->chunk_elems;
        tc_err err = {0};
        tc_status rc = tc_tensor_read(j->t, e0, n, j->slots[s], &err);

        pthread_mutex_lock(&j->mu);
        if (rc != TC_OK) {
            if (!j->failed)
                j->err = err;
            j->failed = 1;
        } else {
            j->slot_len[s] = tc_row_size(j->dtype, (int64_t)n);
            j->slot_state[s] = 2;
        }
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
    }
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > TC_MAX_THREADS ? TC_MAX_THREADS : (int)n);
}

tc_status tc_out_write_tensor(tc_out *o, const tc_tensor *t, const tc_write_opts *opt,
                              uint64_t *done, uint64_t total, tc_err *e)
{
    const tc_map *m;
    uint64_t off, nbytes = tc_tensor_nbytes(t);
    const tc_progress *pr = opt ? &opt->progress : NULL;
    if (pr && pr->item)
        pr->item(pr->ctx, tc_tensor_name(t));
    if (tc_tensor_mapped(t, &m, &off)) {
        /* copy in 64 MiB pieces so the progress bar moves */
        uint64_t left = nbytes;
        while (left > 0) {
            uint64_t k = left > (64u << 20) ? (64u << 20) : left;
            TC_TRY(tc_out_copy(o, m, off, k, e));
            off += k;
            left -= k;
            if (done)
                *done += k;
            if (pr && pr->fn)
                pr->fn(pr->ctx, done ? *done : 0, total);
        }
        return TC_OK;
    }

    stream_job j;
    memset(&j, 0, sizeof j);
    j.t = t;
    j.dtype = tc_tensor_dtype(t);
    j.n_elems = tc_tensor_n_elements(t);
    if (j.n_elems == 0)
        return TC_OK;
    const tc_dtype_info *di = tc_dtype_get(j.dtype);
    uint64_t row = (uint64_t)tc_tensor_row_len(t);
    if (di->is_quant) { /* whole rows: quantizers work on rows */
        uint64_t rows = CHUNK_ELEMS / row;
        j.chunk_elems = (rows ? rows : 1) * row;
    } else {
        j.chunk_elems = CHUNK_ELEMS;
    }
    j.n_chunks = (j.n_elems + j.chunk_elems - 1) / j.chunk_elems;
    j.slot_bytes = (size_t)tc_row_size(j.dtype, (int64_t)j.chunk_elems);
    int threads = opt && opt->threads > 0 ? opt->threads : default_threads();
    if (threads > TC_MAX_THREADS) /* the documented cap, enforced here for library callers */
        threads = TC_MAX_THREADS;
    if ((uint64_t)threads > j.n_chunks)
        threads = (int)j.n_chunks;
    j.n_slots = threads == 1 ? 1 : 2 * threads;

    tc_status rc = TC_OK;
    j.slots = pool_get(o, j.n_slots, j.slot_bytes);
    j.slot_len = tc_calloc((size_t)j.n_slots, sizeof *j.slot_len);
    j.slot_state = tc_calloc((size_t)j.n_slots, sizeof *j.slot_state);
    if (j.slots == NULL || j.slot_len == NULL || j.slot_state == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }

    if (threads == 1) {
        for (uint64_t c = 0; c < j.n_chunks && rc == TC_OK; c++) {
            uint64_t e0 = c * j.chunk_elems;
            uint64_t n = j.n_elems - e0 < j.chunk_elems ? j.n_elems - e0 : j.chunk_elems;
            rc = tc_tensor_read(t, e0, n, j.slots[0], e);
            uint64_t len = tc_row_size(j.dtype, (int64_t)n);
            if (rc == TC_OK)
                rc = tc_out_write(o, j.slots[0], (size_t)len, e);
            if (done)
                *done += len;
            if (rc == TC_OK && pr && pr->fn)
                pr->fn(pr->ctx, done ? *done : 0, total);
        }
        goto done;
    }

    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    pthread_t tids[TC_MAX_THREADS];
    int started = 0;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&tids[i], NULL, stream_worker, &j) != 0)
            break;
        started++;
    }
    if (started == 0) {
        rc = tc_err_set(e, TC_E_NOMEM, "cannot start worker threads");
    } else {
        /* the writer: take chunks in order as they become ready */
        for (uint64_t c = 0; c < j.n_chunks; c++) {
            int s = (int)(c % (uint64_t)j.n_slots);
            pthread_mutex_lock(&j.mu);
            while (!j.failed && j.slot_state[s] != 2)
                pthread_cond_wait(&j.cv, &j.mu);
            int failed = j.failed;
            pthread_mutex_unlock(&j.mu);
            if (failed)
                break;
            rc = tc_out_write(o, j.slots[s], (size_t)j.slot_len[s], e);
            if (done)
                *done += j.slot_len[s];
            if (rc == TC_OK && pr && pr->fn)
                pr->fn(pr->ctx, done ? *done : 0, total);
            pthread_mutex_lock(&j.mu);
            if (rc != TC_OK)
                j.failed = 1;
            j.slot_state[s] = 0;
            j.next_write = c + 1;
            pthread_cond_broadcast(&j.cv);
            pthread_mutex_unlock(&j.mu);
            if (rc != TC_OK)
                break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (rc == TC_OK && j.failed) {
        if (e && e->code == TC_OK)
            *e = j.err;
        rc = j.err.code != TC_OK ? j.err.code : TC_E_IO;
    }
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
done:
    tc_free(j.slot_len);
    tc_free(j.slot_state);
    return rc;
}
