/* cmd_diff.c - `tensorcast diff A B`: per-tensor error between two models of any format/type. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char diff_help[] =
    "usage: tensorcast diff A B [options]\n"
    "\n"
    "Compare two models tensor by tensor (matched by name; any formats and types: quantized\n"
    "tensors are dequantized to f32 a row chunk at a time, so memory stays bounded). For each\n"
    "tensor prints the RMSE, the largest absolute difference and the cosine similarity of B\n"
    "against A, then a summary line. Tensors missing on one side and shape mismatches are\n"
    "reported.\n"
    "\n"
    "  --max-rmse X    exit 1 when a tensor's RMSE exceeds X (NaN counts as exceeding), or a\n"
    "                  tensor is missing on one side or has another shape\n"
    "  --json          print a JSON report on stdout\n"
    "  -q, --quiet     only the summary line\n"
    "  -h, --help      this help\n"
    "\n"
    "exit codes: 0 compared (and within --max-rmse), 1 --max-rmse exceeded, 2 usage,\n"
    "            3 bad input, 4 I/O error\n";

#define DIFF_CHUNK_ELEMS (1u << 20)

typedef struct diff_stats {
    uint64_t n;
    uint64_t same_special; /* NaN vs NaN, same infinity: equal, not counted in the sums */
    double sum_sq, max_abs, dot, na, nb;
} diff_stats;

/* Read rows [r0, r0+nr) of `t` as f32 into `f` (raw is scratch of enough bytes). */
static tc_status read_f32(const tc_tensor *t, uint64_t r0, uint64_t nr, void *raw, float *f,
                          tc_err *e)
{
    int64_t row = tc_tensor_row_len(t);
    uint64_t e0 = r0 * (uint64_t)row, n = nr * (uint64_t)row;
    int dt = tc_tensor_dtype(t);
    if (dt == TC_DTYPE_F32)
        return tc_tensor_read(t, e0, n, f, e);
    TC_TRY(tc_tensor_read(t, e0, n, raw, e));
    if (tc_to_f32(dt, raw, f, (int64_t)n) != 0)
        return tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot read %s values as f32",
                          tc_tensor_name(t), tc_dtype_get(dt)->name);
    return TC_OK;
}

static tc_status diff_tensor(const tc_tensor *a, const tc_tensor *b, diff_stats *s, tc_err *e)
{
    memset(s, 0, sizeof *s);
    int64_t row = tc_tensor_row_len(a);
    uint64_t rows = tc_tensor_n_rows(a);
    if (row <= 0 || rows == 0)
        return TC_OK;
    uint64_t per = DIFF_CHUNK_ELEMS / (uint64_t)row;
    if (per == 0)
        per = 1;
    if (per > rows)
        per = rows;
    size_t n = (size_t)(per * (uint64_t)row);
    size_t rawa = (size_t)tc_row_size(tc_tensor_dtype(a), (int64_t)n);
    size_t rawb = (size_t)tc_row_size(tc_tensor_dtype(b), (int64_t)n);
    float *fa = malloc(n * sizeof(float)), *fb = malloc(n * sizeof(float));
    void *raw = malloc((rawa > rawb ? rawa : rawb) + 1);
    tc_status rc = TC_OK;
    if (fa == NULL || fb == NULL || raw == NULL) {
        rc = tc_err_nomem(e);
        goto done;
    }
    for (uint64_t r = 0; r < rows; r += per) {
        uint64_t nr = rows - r < per ? rows - r : per;
        if ((rc = read_f32(a, r, nr, raw, fa, e)) != TC_OK ||
            (rc = read_f32(b, r, nr, raw, fb, e)) != TC_OK)
            goto done;
        uint64_t k = nr * (uint64_t)row;
        for (uint64_t i = 0; i < k; i++) {
            double x = fa[i], y = fb[i], d = y - x;
            /* NaN-aware: NaN against NaN (or the same infinity) is no difference */
            if ((isnan(x) && isnan(y)) || (isinf(x) && x == y)) {
                s->same_special++;
                continue;
            }
            s->sum_sq += d * d;
            double ad = fabs(d);
            if (ad > s->max_abs || isnan(ad))
                s->max_abs = isnan(s->max_abs) ? s->max_abs : ad;
            s->dot += x * y;
            s->na += x * x;
            s->nb += y * y;
        }
        s->n += k;
    }
done:
    free(fa);
    free(fb);
    free(raw);
    return rc;
}

static double stat_rmse(const diff_stats *s)
{
    return s->n ? sqrt(s->sum_sq / (double)s->n) : 0.0;
}

static double stat_cos(const diff_stats *s)
{
    if (s->na == 0 && s->nb == 0)
        return 1.0;
    if (s->na == 0 || s->nb == 0)
        return 0.0;
    return s->dot / sqrt(s->na * s->nb);
}

static int same_shape(const tc_tensor *a, const tc_tensor *b)
{
    /* compare element layouts: the same dims once outer 1s are dropped (GGUF stores [1, n]
     * vectors as n) */
    int na = tc_tensor_n_dims(a), nb = tc_tensor_n_dims(b);
    const int64_t *sa = tc_tensor_shape(a), *sb = tc_tensor_shape(b);
    while (na > 1 && sa[0] == 1)
        sa++, na--;
    while (nb > 1 && sb[0] == 1)
        sb++, nb--;
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (sa[i] != sb[i])
            return 0;
    return 1;
}

static void shape_text(const tc_tensor *t, char *buf, size_t cap)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < tc_tensor_n_dims(t) && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", tc_tensor_shape(t)[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

int cmd_diff(int argc, char **argv)
{
    enum { O_MAXRMSE = 256 };
    static const struct option opts[] = {{"max-rmse", required_argument, 0, O_MAXRMSE},
                                         CLI_OPT_JSON,
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, copt;
    cli_opts co = {0};
    double max_rmse = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case O_MAXRMSE: {
            char *end;
            max_rmse = strtod(optarg, &end);
            if (*optarg == '\0' || *end != '\0' || !(max_rmse >= 0) || isinf(max_rmse))
                return cli_usage_error("diff", "bad --max-rmse '%s'", optarg);
            break;
        }
        case 'h':
            fputs(diff_help, stdout);
            return TC_EXIT_OK;
        default:
            if ((copt = cli_common_opt("diff", c, optarg, &co)) < 0)
                return cli_usage_error("diff", "bad option (see --help)");
            if (copt != 0)
                return copt;
            break;
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("diff", "expected A and B");
    const char *pa = argv[optind], *pb = argv[optind + 1];
    tc_err e = {0};
    tc_graph *ga = NULL, *gb = NULL;
    if (tc_read(pa, &ga, NULL, &e) != TC_OK)
        return cli_fail(&e);
    if (tc_read(pb, &gb, NULL, &e) != TC_OK) {
        tc_graph_free(ga);
        return cli_fail(&e);
    }
    int rc = TC_EXIT_OK;
    size_t compared = 0, mismatched = 0, only_a = 0, only_b = 0, over = 0;
    double worst_rmse = 0, worst_abs = 0, min_cos = 1, sum_sq = 0;
    uint64_t n_all = 0;
    const char *worst_name = NULL;
    json_t *jt = co.json ? json_array() : NULL;
    FILE *txt = co.json || co.quiet ? NULL : stdout;
    if (txt)
        fprintf(txt, "%-40s %-22s %-8s %-8s %12s %12s %10s\n", "tensor", "shape", "A", "B", "rmse",
                "max_abs", "cosine");
    for (size_t i = 0; i < tc_graph_n_tensors(ga); i++) {
        const tc_tensor *a = tc_graph_tensor(ga, i);
        const char *nm = tc_tensor_name(a);
        const tc_tensor *b = tc_graph_find(gb, nm);
        char sh[64];
        shape_text(a, sh, sizeof sh);
        json_t *r = co.json ? json_object() : NULL;
        if (r)
            json_object_set_new(r, "name", json_string(nm));
        if (b == NULL) {
            only_a++;
            if (txt)
                fprintf(txt, "%-40s %-22s only in A\n", nm, sh);
            if (r)
                json_object_set_new(r, "status", json_string("only_in_a"));
        } else if (!same_shape(a, b)) {
            mismatched++;
            char shb[64];
            shape_text(b, shb, sizeof shb);
            if (txt)
                fprintf(txt, "%-40s %-22s shape mismatch: B is %s\n", nm, sh, shb);
            if (r) {
                json_object_set_new(r, "status", json_string("shape_mismatch"));
                json_object_set_new(r, "shape_a", json_string(sh));
                json_object_set_new(r, "shape_b", json_string(shb));
            }
        } else {
            diff_stats s;
            if (diff_tensor(a, b, &s, &e) != TC_OK) {
                rc = cli_fail(&e);
                json_decref(r);
                goto done;
            }
            double rmse = stat_rmse(&s), cs = stat_cos(&s);
            compared++;
            sum_sq += s.sum_sq;
            n_all += s.n;
            if (rmse > worst_rmse || isnan(rmse)) {
                worst_rmse = rmse;
                worst_name = nm;
            }
            if (s.max_abs > worst_abs || isnan(s.max_abs))
                worst_abs = s.max_abs;
            if (cs < min_cos || isnan(cs))
                min_cos = cs;
            if (max_rmse >= 0 && !(rmse <= max_rmse))
                over++;
            const char *na = tc_dtype_get(tc_tensor_dtype(a))->name;
            const char *nb = tc_dtype_get(tc_tensor_dtype(b))->name;
            if (txt)
                fprintf(txt, "%-40s %-22s %-8s %-8s %12.6g %12.6g %10.6f\n", nm, sh, na, nb, rmse,
                        s.max_abs, cs);
            if (r) {
                json_object_set_new(r, "status", json_string("compared"));
                json_t *sha = json_array();
                for (int d = 0; d < tc_tensor_n_dims(a); d++)
                    json_array_append_new(sha, json_integer(tc_tensor_shape(a)[d]));
                json_object_set_new(r, "shape", sha);
                json_object_set_new(r, "type_a", json_string(na));
                json_object_set_new(r, "type_b", json_string(nb));
                json_object_set_new(r, "elements", json_integer((json_int_t)s.n));
                json_object_set_new(r, "rmse", cli_json_real(rmse));
                json_object_set_new(r, "max_abs", cli_json_real(s.max_abs));
                json_object_set_new(r, "cosine", cli_json_real(cs));
            }
        }
        if (r)
            json_array_append_new(jt, r);
    }
    for (size_t i = 0; i < tc_graph_n_tensors(gb); i++) {
        const tc_tensor *b = tc_graph_tensor(gb, i);
        if (tc_graph_find(ga, tc_tensor_name(b)) != NULL)
            continue;
        only_b++;
        char sh[64];
        shape_text(b, sh, sizeof sh);
        if (txt)
            fprintf(txt, "%-40s %-22s only in B\n", tc_tensor_name(b), sh);
        if (jt) {
            json_t *r = json_object();
            json_object_set_new(r, "name", json_string(tc_tensor_name(b)));
            json_object_set_new(r, "status", json_string("only_in_b"));
            json_array_append_new(jt, r);
        }
    }
    double rmse_all = n_all ? sqrt(sum_sq / (double)n_all) : 0;
    int fail = (max_rmse >= 0 && (over || mismatched || only_a || only_b)) || compared == 0;
    if (compared == 0 && !co.json)
        fprintf(stderr, "%s: no tensor in common: nothing was compared\n", tc_prog);
    if (co.json) {
        json_t *o = json_object();
        json_object_set_new(o, "a", json_string(pa));
        json_object_set_new(o, "b", json_string(pb));
        json_object_set_new(o, "tensors", jt);
        json_object_set_new(o, "compared", json_integer((json_int_t)compared));
        json_object_set_new(o, "shape_mismatches", json_integer((json_int_t)mismatched));
        json_object_set_new(o, "only_in_a", json_integer((json_int_t)only_a));
        json_object_set_new(o, "only_in_b", json_integer((json_int_t)only_b));
        json_object_set_new(o, "rmse", cli_json_real(rmse_all));
        json_object_set_new(o, "worst_rmse", cli_json_real(worst_rmse));
        json_object_set_new(o, "worst_tensor", worst_name ? json_string(worst_name) : json_null());
        json_object_set_new(o, "max_abs", cli_json_real(worst_abs));
        json_object_set_new(o, "min_cosine", cli_json_real(min_cos));
        if (max_rmse >= 0) {
            json_object_set_new(o, "max_rmse", cli_json_real(max_rmse));
            json_object_set_new(o, "over_max_rmse", json_integer((json_int_t)over));
        }
        json_object_set_new(o, "ok", json_boolean(!fail));
        cli_print_json(o, 0);
        json_decref(o);
        jt = NULL;
    } else {
        printf("%zu tensors compared, %zu shape mismatches, %zu only in A, %zu only in B; "
               "rmse %.6g overall, worst %.6g (%s), max abs %.6g, min cosine %.6f",
               compared, mismatched, only_a, only_b, rmse_all, worst_rmse,
               worst_name ? worst_name : "-", worst_abs, min_cos);
        if (max_rmse >= 0)
            printf("; %zu over --max-rmse %g", over, max_rmse);
        printf("\n");
    }
    if (fail)
        rc = TC_EXIT_VERIFY;
done:
    json_decref(jt);
    tc_graph_free(ga);
    tc_graph_free(gb);
    return rc;
}
