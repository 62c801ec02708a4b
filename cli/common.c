/* common.c - exit codes, messages, size parsing, progress bar and signals for the CLI. */
#include "cli.h"
#include "hf.h"

#include <inttypes.h>

#include <getopt.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *tc_prog = "tensorcast";

int cli_exit_code(tc_status s)
{
    switch (s) {
    case TC_OK:
        return TC_EXIT_OK;
    case TC_E_USAGE:
        return TC_EXIT_USAGE;
    case TC_E_FORMAT:
    case TC_E_UNSUPPORTED:
    case TC_E_LIMIT:
    case TC_E_UNSAFE:
        return TC_EXIT_INPUT;
    case TC_E_CHECKSUM:
        return TC_EXIT_VERIFY;
    case TC_E_IO:
    case TC_E_NOMEM:
        return TC_EXIT_IO;
    }
    return TC_EXIT_IO;
}

/* --json anywhere on the command line: failures are reported as JSON on stdout too */
static int json_mode;

void cli_set_json(int on)
{
    json_mode = on;
}

/* {"ok": false, "error": {"code": <exit code>, "kind": "...", "message": "..."}} */
static void json_error(int exit_code, const char *kind, const char *msg)
{
    json_t *o = json_object(), *er = json_object();
    json_object_set_new(er, "code", json_integer(exit_code));
    json_object_set_new(er, "kind", json_string(kind));
    json_t *m = json_string(msg); /* NULL when msg is not valid UTF-8 */
    json_object_set_new(er, "message", m ? m : json_string("?"));
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", er);
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

int cli_fail(const tc_err *e)
{
    const char *msg = e->msg[0] ? e->msg : tc_status_name(e->code);
    fprintf(stderr, "%s: %s\n", tc_prog, msg);
    int rc = cli_exit_code(e->code);
    if (json_mode)
        json_error(rc, tc_status_name(e->code), msg);
    return rc;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    char msg[1024];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s: %s\nTry '%s %s --help'.\n", tc_prog, cmd, msg, tc_prog, cmd);
    if (json_mode)
        json_error(TC_EXIT_USAGE, "usage error", msg);
    return TC_EXIT_USAGE;
}

json_t *cli_json_real(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

int cli_parse_uint(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || !isdigit((unsigned char)*s))
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != 0)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || !(isdigit((unsigned char)*s) || *s == '.'))
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || !(v >= 0) || end == s)
        return 0;
    double mul = 1;
    char u = (char)toupper((unsigned char)*end);
    if (u) {
        const char *units = "KMGT";
        const char *p = strchr(units, u);
        if (p == NULL)
            return 0;
        int power = (int)(p - units) + 1;
        end++;
        int binary = 0;
        if (*end == 'i' || *end == 'I') {
            binary = 1;
            end++;
        }
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end != 0)
            return 0;
        mul = pow(binary ? 1024.0 : 1000.0, power);
    }
    double r = floor(v * mul);
    if (r > 1.8e19)
        return 0;
    *out = (uint64_t)r;
    return 1;
}

void cli_fmt_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, cap, "%.2f %s", v, u[i]);
}

void cli_fmt_count(uint64_t n, char *buf, size_t cap)
{
    if (n >= 1000000000ull)
        snprintf(buf, cap, "%.2f B", (double)n / 1e9);
    else if (n >= 1000000ull)
        snprintf(buf, cap, "%.2f M", (double)n / 1e6);
    else if (n >= 1000ull)
        snprintf(buf, cap, "%.2f K", (double)n / 1e3);
    else
        snprintf(buf, cap, "%llu", (unsigned long long)n);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Is a progress line on the terminal now (for the interrupt message to clear it first)? */
static volatile sig_atomic_t progress_shown;

void cli_progress_init(cli_progress *p, const char *label, int quiet)
{
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->label = label;
    p->t0 = p->last = cli_now();
    p->item[0] = 0;
}

void cli_progress_item(void *ctx, const char *name)
{
    cli_progress *p = ctx;
    snprintf(p->item, sizeof p->item, "%s", name ? name : "");
}

void cli_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled)
        return;
    double now = cli_now();
    if (now - p->last < 0.1 && done < total)
        return;
    p->last = now;
    double frac = total ? (double)done / (double)total : 1.0;
    if (frac > 1)
        frac = 1;
    int width = 24, fill = (int)(frac * width);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double el = now - p->t0, rate = el > 0 ? (double)done / el : 0;
    char rb[32], db[32], tb[32], eta[32] = "--:--";
    cli_fmt_bytes((uint64_t)rate, rb, sizeof rb);
    cli_fmt_bytes(done, db, sizeof db);
    cli_fmt_bytes(total, tb, sizeof tb);
    if (rate > 0 && total >= done) {
        uint64_t s = (uint64_t)((double)(total - done) / rate + 0.5);
        snprintf(eta, sizeof eta, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
    }
    /* one line, cleared to its end: the tensor name is cut to what fits */
    fprintf(stderr, "\r%s [%s] %5.1f%% %s/%s %s/s ETA %s %.40s\033[K", p->label, bar, frac * 100,
            db, tb, rb, eta, p->item);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    progress_shown = 0;
}

static void on_signal(int sig)
{
    int had = tc_out_cleanup_all_count();
    /* async-signal-safe: write(2) only */
    if (progress_shown) {
        static const char clr[] = "\r\033[K";
        (void)!write(STDERR_FILENO, clr, sizeof clr - 1);
    }
    if (sig == SIGINT || sig == SIGTERM) {
        static const char m1[] = "tensorcast: interrupted, nothing written\n";
        static const char m2[] = "tensorcast: interrupted\n";
        if (had)
            (void)!write(STDERR_FILENO, m1, sizeof m1 - 1);
        else
            (void)!write(STDERR_FILENO, m2, sizeof m2 - 1);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void print_notice(void *ctx, const char *msg)
{
    (void)ctx;
    if (progress_shown) {
        fprintf(stderr, "\r\033[K");
        progress_shown = 0;
    }
    fprintf(stderr, "%s: note: %s\n", tc_prog, msg);
}

void cli_install_signals(void)
{
    tc_set_notice(print_notice, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGXFSZ,
           SIG_IGN); /* a file-size limit becomes EFBIG from write(), handled as I/O error */
}

int cli_common_opt(const char *cmd, int c, const char *arg, cli_opts *o)
{
    switch (c) {
    case CLI_O_SPLIT:
        if (!cli_parse_size(arg, &o->split) || o->split == 0)
            return cli_usage_error(cmd, "bad --split-max-size '%s'", arg);
        return 0;
    case CLI_O_SPLITN:
        if (!cli_parse_uint(arg, &o->splitn) || o->splitn == 0)
            return cli_usage_error(cmd, "bad --split-max-tensors '%s'", arg);
        return 0;
    case CLI_O_THREADS:
        if (!cli_parse_uint(arg, &o->threads) || o->threads == 0 || o->threads > TC_MAX_THREADS)
            return cli_usage_error(cmd, "bad --threads '%s' (1..%d)", arg, TC_MAX_THREADS);
        return 0;
    case CLI_O_JSON:
        o->json = 1;
        return 0;
    case CLI_O_NOPROV:
        o->no_provenance = 1;
        return 0;
    case CLI_O_NOSYNC:
        o->no_sync = 1;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case CLI_O_PART: {
        unsigned i = 0, n = 0;
        char tail;
        if (sscanf(arg, "%u/%u%c", &i, &n, &tail) != 2 || i < 1 || n < 1 || i > n || n > 9999)
            return cli_usage_error(cmd, "bad --part '%s' (I/N with 1 <= I <= N, e.g. 2/8)", arg);
        o->part_i = i;
        o->part_n = n;
        return 0;
    }
    case CLI_O_INCLUDE:
    case CLI_O_EXCLUDE:
        if ((c == CLI_O_INCLUDE ? o->n_include : o->n_exclude) == CLI_SELECT_MAX)
            return cli_usage_error(cmd, "too many --include/--exclude (max %d each)",
                                   CLI_SELECT_MAX);
        if (c == CLI_O_INCLUDE)
            o->include[o->n_include++] = arg;
        else
            o->exclude[o->n_exclude++] = arg;
        return 0;
    default:
        return -1;
    }
}

void cli_regex_quote(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 3 < cap; s++) {
        if (strchr(".[]()*+?{}|^$\\", *s))
            out[k++] = '\\';
        out[k++] = *s;
    }
    out[k] = '\0';
}

int cli_select(tc_graph *g, const cli_opts *o)
{
    if (o->n_include == 0 && o->n_exclude == 0)
        return 0;
    tc_err e = {0};
    size_t dropped = 0, before = tc_graph_n_tensors(g);
    if (tc_graph_select_tensors(g, o->include, o->n_include, o->exclude, o->n_exclude, &dropped,
                                &e) != TC_OK)
        return cli_fail(&e);
    if (tc_graph_n_tensors(g) == 0) {
        tc_err_set(&e, TC_E_USAGE, "--include/--exclude left none of the %zu tensors", before);
        return cli_fail(&e);
    }
    if (!o->quiet && !o->json)
        fprintf(stderr, "%s: writing %zu of %zu tensors (--include/--exclude)\n", tc_prog,
                before - dropped, before);
    return 0;
}

void cli_print_json(const json_t *o, size_t flags)
{
    /* every report is one object opening with "ok" (true unless the command said otherwise) */
    json_t *w = json_object();
    json_t *ok = json_object_get(o, "ok");
    json_object_set_new(w, "ok", ok ? json_incref(ok) : json_true());
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (strcmp(k, "ok") != 0)
            json_object_set(w, k, v);
    }
    char *s = json_dumps(w, JSON_INDENT(2) | flags);
    json_decref(w);
    if (s)
        puts(s);
    free(s);
}

json_t *cli_written_json(const tc_write_opts *wo)
{
    json_t *files = json_array();
    for (size_t i = 0; i < wo->n_written; i++)
        json_array_append_new(files, json_string(wo->written[i]));
    return files;
}

void cli_print_written(const tc_write_opts *wo)
{
    for (size_t i = 0; i < wo->n_written; i++)
        printf("  wrote %s\n", wo->written[i]);
    if (wo->part_count && wo->n_written == 0)
        printf("  part %u/%u: no file of the set falls to this part\n", wo->part_index,
               wo->part_count);
}

void cli_free_written(tc_write_opts *wo)
{
    for (size_t i = 0; i < wo->n_written; i++)
        tc_free(wo->written[i]);
    tc_free(wo->written);
    wo->written = NULL;
    wo->n_written = 0;
}

static int cmd_argc;
static char **cmd_argv;

void cli_set_args(int argc, char **argv)
{
    cmd_argc = argc;
    cmd_argv = argv;
    json_mode = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0)
            json_mode = 1;
}

void cli_get_args(int *argc, char ***argv)
{
    *argc = cmd_argc;
    *argv = cmd_argv;
}

/* "quantize --imatrix imatrix.gguf --pure Q4_K_M": the command, its options (getopt has moved
 * them first) and the positional arguments after IN and OUT, paths reduced to file names, so
 * the record does not depend on where files sat. */
static void provenance_command(char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < cmd_argc && k < cap; i++) {
        const char *a = cmd_argv[i];
        if (i >= optind && i < optind + 2)
            continue; /* IN and OUT */
        /* options that do not change the bytes written */
        if (i < optind &&
            (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0 || strcmp(a, "--json") == 0 ||
             strcmp(a, "--no-sync") == 0 || strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0 ||
             strncmp(a, "--threads=", 10) == 0 || strncmp(a, "--part=", 7) == 0))
            continue;
        if (i < optind && (strcmp(a, "--threads") == 0 || strcmp(a, "--part") == 0)) {
            i++;
            continue;
        }
        const char *eq = a[0] == '-' ? strchr(a, '=') : NULL;
        const char *val = eq ? eq + 1 : a;
        const char *slash = strrchr(val, '/');
        if (slash && !(a[0] == '-' && !eq))
            k += (size_t)snprintf(buf + k, cap - k, "%s%.*s%s", k ? " " : "",
                                  eq ? (int)(eq + 1 - a) : 0, a, slash + 1);
        else
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? " " : "", a);
    }
}

tc_status cli_write(const tc_graph *g, const char *out, const char *format, const char *label,
                    const cli_opts *co, uint64_t max_bytes, const uint32_t *part_of,
                    tc_write_opts *wo, tc_err *e)
{
    cli_progress prog;
    cli_progress_init(&prog, label, co->quiet || co->json);
    memset(wo, 0, sizeof *wo);
    wo->max_shard_bytes = max_bytes ? max_bytes : co->split;
    wo->max_shard_tensors = co->splitn;
    wo->threads = (int)co->threads;
    wo->no_sync = co->no_sync;
    wo->part_of = part_of;
    wo->part_index = co->part_i;
    wo->part_count = co->part_n;
    char prov[1024];
    if (!co->no_provenance && cmd_argv) {
        provenance_command(prov, sizeof prov);
        wo->provenance = prov;
    }
    wo->progress.fn = cli_progress_cb;
    wo->progress.ctx = &prog;
    wo->progress.item = cli_progress_item;
    tc_status st = tc_write(g, out, format, wo, e);
    cli_progress_done(&prog);
    wo->progress.fn = NULL;
    wo->progress.ctx = NULL;
    wo->progress.item = NULL;
    wo->provenance = NULL;
    return st;
}

void cli_print_license_facts(FILE *f, const tc_license_facts *lf)
{
    fprintf(f, "  class:     %s%s%s%s\n", tc_license_class_name(lf->cls), lf->name ? " (" : "",
            lf->name ? lf->name : "", lf->name ? ")" : "");
    for (int i = 0; lf->notes[i]; i++)
        fprintf(f, "  - %s\n", lf->notes[i]);
    fprintf(f, "  (licence facts are information from tensorcast's table, not legal advice)\n");
}

void cli_license_facts_json(json_t *license, const tc_license_facts *lf)
{
    json_object_set_new(license, "class", json_string(tc_license_class_name(lf->cls)));
    json_t *notes = json_array();
    for (int i = 0; lf->notes[i]; i++)
        json_array_append_new(notes, json_string(lf->notes[i]));
    json_object_set_new(license, "notes", notes);
}

tc_status cli_read_model(const char *in, const tc_hf_opts *ho, tc_graph **g, int *is_hf, tc_err *e)
{
    *is_hf = 0;
    if (tc_store_detect(in) == TC_STORE_OLLAMA) {
        /* an ollama manifest: the model layer's blob */
        tc_store *s = NULL;
        TC_TRY(tc_store_open(in, &s, e));
        tc_status rc = tc_store_model(s)
                           ? tc_read(tc_store_model(s), g, NULL, e)
                           : tc_err_set(e, TC_E_FORMAT, "%s: the manifest has no model layer", in);
        tc_store_free(s);
        return rc;
    }
    if (!tc_hf_is_model_dir(in))
        return tc_read(in, g, NULL, e);
    *is_hf = 1;
    TC_TRY(tc_hf_read(in, ho, g, e));
    tc_status rc = tc_hf_set_outtype(*g, TC_HF_OUT_AUTO, NULL, e);
    if (rc != TC_OK) {
        tc_graph_free(*g);
        *g = NULL;
    }
    return rc;
}
