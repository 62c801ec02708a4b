/* tc_test_util.h - file-system and process helpers shared by the Check suites: temporary
 * directories, rm -rf, reading whole files, running the tensorcast binary and finding a Python
 * with the modules an oracle script needs. */
#ifndef TC_TEST_UTIL_H
#define TC_TEST_UTIL_H

#include "tc_test.h"
#include "tensorcast.h"

#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Create a fresh directory /tmp/<prefix>_XXXXXX into dir (asserts it worked). */
static inline void tc_make_tmpdir(char *dir, size_t cap, const char *prefix)
{
    snprintf(dir, cap, "/tmp/%s_XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Path of `leaf` in the directory `dir` (created as /tmp/<prefix>_XXXXXX on first use), in a
 * buffer of its own that lives until exit: the same leaf gives the same pointer. */
static inline const char *tc_tmp_path(char *dir, size_t cap, const char *prefix, const char *leaf)
{
    static char *keep[64];
    static int k;
    if (dir[0] == '\0') {
        snprintf(dir, cap, "/tmp/%s_XXXXXX", prefix);
        if (mkdtemp(dir) == NULL)
            abort();
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, leaf);
    for (int i = 0; i < k; i++)
        if (strcmp(keep[i], buf) == 0)
            return keep[i];
    if (k == 64)
        abort();
    keep[k] = strdup(buf);
    return keep[k++];
}

static inline void tc_rm_rf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* Entries of `dir` other than . and .. (0 when it cannot be opened). */
static inline int tc_dir_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* The whole file in a malloc'd buffer (one spare byte), its size in *n; NULL when it cannot be
 * opened (or the buffer allocated). */
static inline uint8_t *tc_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz + 1 : 1);
    *n = b && sz > 0 ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

/* tc_slurp that asserts the file opens and is read in full. */
static inline uint8_t *tc_slurp_ok(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert_int_ge(len, 0);
    uint8_t *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* At most cap-1 bytes of the file into buf, NUL-terminated ("" when it cannot be opened). */
static inline void tc_slurp_into(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

/* A bad fixture's .expect file (line 1: the status name, line 2: text the error message must
 * hold) into buf: *status and *sub point into it. Asserts it opens and has a status line. */
static inline void tc_read_expect(const char *path, char *buf, size_t cap, char **status,
                                  char **sub)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t k = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[k] = 0;
    char *nl = strchr(buf, '\n');
    ck_assert_msg(nl != NULL, "%s: no status line", path);
    *nl = 0;
    *status = buf;
    *sub = nl + 1;
    nl = strchr(*sub, '\n');
    if (nl)
        *nl = 0;
}

/* What a suite checks about one bad fixture beyond the common checks (may be NULL). */
typedef void (*tc_bad_extra_fn)(const char *input, const char *name, tc_status rc,
                                const tc_err *e, void *ctx);

/*
 * Every case of a fixtures/<format>/bad directory: each input file (anything but the .expect
 * files and dot files) with its <stem>.expect (stem: the name without its last extension, else
 * without all of them, else the whole name). Each is read with tc_read and must fail with the
 * expected status, a message holding the expected text (and the file's name when
 * `name_in_msg`), and no graph; `extra` adds the suite's own checks. Returns the count.
 */
static inline int tc_check_bad_dir(const char *dir, int name_in_msg, tc_bad_extra_fn extra,
                                   void *ctx)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t nl = strlen(name);
        if (name[0] == '.' || (nl >= 7 && strcmp(name + nl - 7, ".expect") == 0))
            continue;
        char in[2048], ex[2048], stem[512];
        snprintf(in, sizeof in, "%s/%s", dir, name);
        const char *cut[3] = {strrchr(name, '.'), strchr(name, '.'), NULL};
        int found = 0;
        for (int k = 0; k < 3 && !found; k++) {
            size_t l = cut[k] ? (size_t)(cut[k] - name) : strlen(name);
            if (k < 2 && cut[k] == NULL)
                continue;
            snprintf(stem, sizeof stem, "%.*s", (int)l, name);
            snprintf(ex, sizeof ex, "%s/%s.expect", dir, stem);
            found = access(ex, F_OK) == 0;
        }
        ck_assert_msg(found, "%s: no .expect for it", in);
        char text[1024], *want, *sub;
        tc_read_expect(ex, text, sizeof text, &want, &sub);
        tc_graph *g = NULL;
        tc_err e = {0};
        tc_status rc = tc_read(in, &g, NULL, &e);
        ck_assert_msg(strcmp(tc_status_name(rc), want) == 0, "%s: status %s, want %s (%s)", in,
                      tc_status_name(rc), want, e.msg);
        ck_assert_msg(strstr(e.msg, sub) != NULL, "%s: '%s' lacks '%s'", in, e.msg, sub);
        ck_assert_msg(!name_in_msg || strstr(e.msg, name) != NULL, "%s: '%s' does not name it",
                      in, e.msg);
        ck_assert_ptr_null(g);
        if (extra)
            extra(in, name, rc, &e, ctx);
        n++;
    }
    closedir(d);
    return n;
}

/* A system() status as a shell would report it: the exit code, or 128 + signal. */
/* Run a shell command made with printf-style arguments; its exit status (-1 when killed). */
static inline int tc_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tc_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static inline int tc_exit_code(int st)
{
    if (st == -1)
        return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run `sh -c "<prefix> '$TC_BIN' <args>"` (prefix may be NULL) and return its exit code.
 * stdout/stderr land NUL-terminated in out/err (at most cap-1 bytes each), or are discarded
 * when out/err is NULL. */
static inline int tc_run_cli(const char *prefix, const char *args, char *out, size_t out_cap,
                             char *err, size_t err_cap)
{
    static unsigned seq;
    char cmd[8192], o[96] = "/dev/null", e[96] = "/dev/null";
    seq++;
    if (out)
        snprintf(o, sizeof o, "/tmp/tc_run_out_%d_%u", (int)getpid(), seq);
    if (err)
        snprintf(e, sizeof e, "/tmp/tc_run_err_%d_%u", (int)getpid(), seq);
    snprintf(cmd, sizeof cmd, "%s '%s' %s >%s 2>%s", prefix ? prefix : "", TC_BIN, args, o, e);
    int st = system(cmd);
    if (out) {
        tc_slurp_into(o, out, out_cap);
        unlink(o);
    }
    if (err) {
        tc_slurp_into(e, err, err_cap);
        unlink(e);
    }
    return tc_exit_code(st);
}

/* A Python that can `import <modules>` ("torch, numpy"): $TC_PYTHON when set and able, else
 * /usr/bin/python3 (Debian's python3-numpy/-torch live there), else python3 on PATH; NULL when
 * none can. */
static inline const char *tc_find_python(const char *modules)
{
    static const char *const cands[] = {"/usr/bin/python3", "python3"};
    const char *env = getenv("TC_PYTHON");
    for (int i = -1; i < 2; i++) {
        const char *p = i < 0 ? env : cands[i];
        if (p == NULL || *p == '\0')
            continue;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s -c 'import %s' >/dev/null 2>&1", p, modules);
        if (system(cmd) == 0)
            return p;
    }
    return NULL;
}

/* A tensor's bytes in a malloc'd buffer (asserts the read works). */
static inline uint8_t *tc_tensor_bytes(const tc_tensor *t)
{
    uint64_t n = tc_tensor_nbytes(t);
    uint8_t *b = malloc(n + 1);
    ck_assert_ptr_nonnull(b);
    tc_err e = {0};
    ck_assert_msg(tc_tensor_read(t, 0, tc_tensor_n_elements(t), b, &e) == TC_OK, "%s: %s",
                  tc_tensor_name(t), e.msg);
    return b;
}

/* `b` has the tensors of `a` (as many; in the same order when by_order, else found by name)
 * with the same names, dtypes, shapes, sizes and bytes. */
static inline void tc_assert_same_tensors(const tc_graph *a, const tc_graph *b, int by_order)
{
    ck_assert_uint_eq(tc_graph_n_tensors(a), tc_graph_n_tensors(b));
    for (size_t i = 0; i < tc_graph_n_tensors(a); i++) {
        const tc_tensor *x = tc_graph_tensor(a, i);
        const tc_tensor *y = by_order ? tc_graph_tensor(b, i) : tc_graph_find(b, tc_tensor_name(x));
        ck_assert_msg(y != NULL, "tensor %s missing", tc_tensor_name(x));
        ck_assert_str_eq(tc_tensor_name(x), tc_tensor_name(y));
        ck_assert_int_eq(tc_tensor_dtype(x), tc_tensor_dtype(y));
        ck_assert_int_eq(tc_tensor_n_dims(x), tc_tensor_n_dims(y));
        for (int d = 0; d < tc_tensor_n_dims(x); d++)
            ck_assert_int_eq(tc_tensor_shape(x)[d], tc_tensor_shape(y)[d]);
        ck_assert_uint_eq(tc_tensor_nbytes(x), tc_tensor_nbytes(y));
        uint8_t *bx = tc_tensor_bytes(x), *by = tc_tensor_bytes(y);
        ck_assert_msg(memcmp(bx, by, tc_tensor_nbytes(x)) == 0, "tensor %s bytes differ",
                      tc_tensor_name(x));
        free(bx);
        free(by);
    }
}

/* Add a TCase `name` to `s` (timeout in seconds, `teardown` as an unchecked fixture) running
 * `test` once, or as a loop test with _i = loop when loop >= 0. */
static inline void tc_add_case(Suite *s, const char *name, const TTest *test, int loop,
                               double timeout, void (*teardown)(void))
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    tcase_add_unchecked_fixture(tc, NULL, teardown);
    if (loop >= 0)
        tcase_add_loop_test(tc, test, loop, loop + 1);
    else
        tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

/* TC_TEST_QUICK set (and not "0"): shrink corpora, e.g. under sanitizers. */
static inline int tc_test_quick(void)
{
    const char *q = getenv("TC_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* The format is registered and can both read and write. */
static inline int tc_have_rw(const char *fmt)
{
    const tc_format *f = tc_format_by_name(fmt);
    return f && f->read && f->write;
}

/* Run scripts/fixtures/npy_files.py oracle into dir. @return 0 ok, 77 NumPy missing, else the
 * script's failure. */
static inline int tc_run_npy_script(const char *dir)
{
    const char *py = tc_find_python("numpy");
    if (py == NULL)
        return 77;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s '%s/scripts/fixtures/npy_files.py' oracle '%s'", py, TC_SRC_DIR,
             dir);
    return tc_exit_code(system(cmd));
}

/* A fresh /tmp/<prefix>_XXXXXX in dir with scripts/fixtures/npy_files.py's oracle output: 0 ok,
 * 77 NumPy missing (dir removed again), else the script's failure. */
static inline int tc_npy_oracle_dir(char *dir, size_t cap, const char *prefix)
{
    tc_make_tmpdir(dir, cap, prefix);
    int rc = tc_run_npy_script(dir);
    if (rc == 77)
        tc_rm_rf(dir);
    return rc;
}

#endif
