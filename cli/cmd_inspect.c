/* cmd_inspect.c - `tensorcast inspect PATH [--tensors] [--json]`. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_PREVIEW 8 /* elements of a long array shown */

static const char inspect_help[] =
    "usage: tensorcast inspect PATH [--tensors] [--json] [--all]\n"
    "\n"
    "Show what a model file (or model directory) holds: format and version, tensor count,\n"
    "parameter count, a histogram of tensor types, metadata (long arrays abbreviated),\n"
    "licence and where it came from, and reader notes.\n"
    "\n"
    "  PATH        a .gguf (or the first file of a split set), .safetensors, a directory of\n"
    "              shards, a PyTorch .bin/.pt/.pth, .npy/.npz, or an archive of one of these\n"
    "  --tensors   list every tensor (name, type, shape, bytes)\n"
    "  --all       do not abbreviate long metadata arrays\n"
    "  --json      machine-readable output on stdout\n"
    "  -h, --help  this help\n";

/* Scalar element i of a numeric/bool array as a double or integer text. */
/* u64 values above INT64_MAX (digests) as decimal strings: a JSON number would lose digits */
static json_t *u64_json(uint64_t x)
{
    if (x <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)x);
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, x);
    return json_string(b);
}

static json_t *array_elem_json(const tc_value *v, uint64_t i)
{
    const uint8_t *d = (const uint8_t *)v->arr.data + i * tc_vtype_size(v->arr.elem);
    switch (v->arr.elem) {
    case TC_V_U8:
        return json_integer(d[0]);
    case TC_V_I8:
        return json_integer((int8_t)d[0]);
    case TC_V_BOOL:
        return json_boolean(d[0]);
    case TC_V_U16: {
        uint16_t x;
        memcpy(&x, d, 2);
        return json_integer(x);
    }
    case TC_V_I16: {
        int16_t x;
        memcpy(&x, d, 2);
        return json_integer(x);
    }
    case TC_V_U32: {
        uint32_t x;
        memcpy(&x, d, 4);
        return json_integer(x);
    }
    case TC_V_I32: {
        int32_t x;
        memcpy(&x, d, 4);
        return json_integer(x);
    }
    case TC_V_U64: {
        uint64_t x;
        memcpy(&x, d, 8);
        return u64_json(x);
    }
    case TC_V_I64: {
        int64_t x;
        memcpy(&x, d, 8);
        return json_integer(x);
    }
    case TC_V_F32: {
        float x;
        memcpy(&x, d, 4);
        return cli_json_real(x);
    }
    case TC_V_F64: {
        double x;
        memcpy(&x, d, 8);
        return cli_json_real(x);
    }
    default:
        return json_null();
    }
}

static json_t *value_json(const tc_value *v, uint64_t limit);

static json_t *array_json(const tc_value *v, uint64_t limit)
{
    json_t *a = json_array();
    uint64_t n = v->arr.n < limit ? v->arr.n : limit;
    for (uint64_t i = 0; i < n; i++) {
        json_t *x;
        if (v->arr.elem == TC_V_STR) {
            const tc_str *s = (const tc_str *)v->arr.data + i;
            x = json_stringn(s->p, (size_t)s->len);
            if (x == NULL)
                x = json_string("<invalid UTF-8>");
        } else if (v->arr.elem == TC_V_ARR) {
            x = value_json((const tc_value *)v->arr.data + i, limit);
        } else {
            x = array_elem_json(v, i);
        }
        json_array_append_new(a, x ? x : json_null());
    }
    return a;
}

static json_t *value_json(const tc_value *v, uint64_t limit)
{
    switch (v->type) {
    case TC_V_U8:
    case TC_V_U16:
    case TC_V_U32:
        return json_integer((json_int_t)v->u);
    case TC_V_U64:
        return u64_json(v->u);
    case TC_V_I8:
    case TC_V_I16:
    case TC_V_I32:
    case TC_V_I64:
        return json_integer(v->i);
    case TC_V_BOOL:
        return json_boolean(v->u);
    case TC_V_F32:
    case TC_V_F64:
        return cli_json_real(v->f);
    case TC_V_STR: {
        json_t *s = json_stringn(v->s.p, (size_t)v->s.len);
        return s ? s : json_string("<invalid UTF-8>");
    }
    case TC_V_ARR:
        return array_json(v, limit);
    default:
        return json_null();
    }
}

/* Printable one-line text of a value: strings quoted and cut, arrays abbreviated. */
static void print_value(const tc_value *v, uint64_t limit)
{
    if (v->type == TC_V_STR) {
        size_t n = (size_t)v->s.len;
        int cut = n > 200 && limit != UINT64_MAX;
        putchar('"');
        for (size_t i = 0; i < (cut ? 200 : n); i++) {
            unsigned char c = (unsigned char)v->s.p[i];
            if (c == '\n')
                fputs("\\n", stdout);
            else if (c == '"' || c == '\\')
                printf("\\%c", c);
            else if (c < 0x20)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
        printf(cut ? "\"... (%zu bytes)" : "\"", n);
        return;
    }
    if (v->type == TC_V_ARR) {
        const char *en = tc_vtype_name(v->arr.elem);
        printf("[%s x %" PRIu64 "] ", en, v->arr.n);
    }
    json_t *j = value_json(v, limit);
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (s) {
        fputs(s, stdout);
        free(s);
    }
    if (v->type == TC_V_ARR && v->arr.n > limit)
        fputs(" ...", stdout);
    json_decref(j);
}

typedef struct dtype_stat {
    uint64_t count, params, bytes;
} dtype_stat;

static json_t *shape_json(const tc_tensor *t)
{
    json_t *a = json_array();
    for (int d = 0; d < tc_tensor_n_dims(t); d++)
        json_array_append_new(a, json_integer(tc_tensor_shape(t)[d]));
    return a;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"tensors", no_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {"all", no_argument, 0, 'a'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int show_tensors = 0, json = 0, all = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            show_tensors = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 'a':
            all = 1;
            break;
        case 'h':
            fputs(inspect_help, stdout);
            return TC_EXIT_OK;
        default:
            return cli_usage_error("inspect", "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("inspect", "expected one PATH");
    const char *path = argv[optind];
    uint64_t limit = all ? UINT64_MAX : ARRAY_PREVIEW;

    tc_err e = {0};
    tc_graph *g;
    int is_hf = 0;
    if (cli_read_model(path, NULL, &g, &is_hf, &e) != TC_OK)
        return cli_fail(&e);

    dtype_stat stats[TC_DTYPE_COUNT];
    memset(stats, 0, sizeof stats);
    uint64_t params = 0, bytes = 0;
    size_t nt = tc_graph_n_tensors(g);
    for (size_t i = 0; i < nt; i++) {
        const tc_tensor *t = tc_graph_tensor(g, i);
        dtype_stat *s = &stats[tc_tensor_dtype(t)];
        s->count++;
        s->params += tc_tensor_n_elements(t);
        s->bytes += tc_tensor_nbytes(t);
        params += tc_tensor_n_elements(t);
        bytes += tc_tensor_nbytes(t);
    }
    tc_license lic;
    tc_graph_license(g, &lic);

    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "format", json_string(tc_graph_format(g)));
        json_object_set_new(o, "version",
                            tc_graph_format_version(g) ? json_string(tc_graph_format_version(g))
                                                       : json_null());
        json_object_set_new(o, "tensor_count", json_integer((json_int_t)nt));
        json_object_set_new(o, "parameter_count", json_integer((json_int_t)params));
        json_object_set_new(o, "tensor_bytes", json_integer((json_int_t)bytes));
        json_t *h = json_object();
        for (int t = 0; t < TC_DTYPE_COUNT; t++) {
            if (stats[t].count == 0)
                continue;
            json_t *s = json_object();
            json_object_set_new(s, "tensors", json_integer((json_int_t)stats[t].count));
            json_object_set_new(s, "parameters", json_integer((json_int_t)stats[t].params));
            json_object_set_new(s, "bytes", json_integer((json_int_t)stats[t].bytes));
            json_object_set_new(h, tc_dtype_get(t)->name, s);
        }
        json_object_set_new(o, "dtypes", h);
        json_t *l = json_object();
        json_object_set_new(l, "id", lic.id ? json_string(lic.id) : json_null());
        json_object_set_new(l, "name", lic.name ? json_string(lic.name) : json_null());
        json_object_set_new(l, "link", lic.link ? json_string(lic.link) : json_null());
        json_object_set_new(l, "source", lic.source ? json_string(lic.source) : json_null());
        tc_license_facts lf;
        tc_license_classify(lic.id, lic.name, &lf);
        cli_license_facts_json(l, &lf);
        json_object_set_new(o, "license", l);
        json_t *md = json_array();
        for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
            const tc_value *v = tc_graph_kv_value(g, i);
            json_t *kv = json_object();
            json_object_set_new(kv, "key", json_string(tc_graph_kv_key(g, i)));
            json_object_set_new(kv, "type", json_string(tc_vtype_name(v->type)));
            if (v->type == TC_V_ARR) {
                json_object_set_new(kv, "element_type", json_string(tc_vtype_name(v->arr.elem)));
                json_object_set_new(kv, "count", json_integer((json_int_t)v->arr.n));
            }
            json_object_set_new(kv, "value", value_json(v, limit));
            json_array_append_new(md, kv);
        }
        json_object_set_new(o, "metadata", md);
        json_t *src = json_array();
        for (size_t i = 0; i < tc_graph_n_sources(g); i++) {
            uint64_t sz;
            const char *p = tc_graph_source(g, i, &sz);
            json_t *s = json_object();
            json_object_set_new(s, "path", json_string(p));
            json_object_set_new(s, "size", json_integer((json_int_t)sz));
            json_array_append_new(src, s);
        }
        json_object_set_new(o, "sources", src);
        json_t *notes = json_array();
        for (size_t i = 0; i < tc_graph_n_notes(g); i++)
            json_array_append_new(notes, json_string(tc_graph_note(g, i)));
        json_object_set_new(o, "notes", notes);
        if (show_tensors) {
            json_t *ta = json_array();
            for (size_t i = 0; i < nt; i++) {
                const tc_tensor *t = tc_graph_tensor(g, i);
                json_t *x = json_object();
                json_object_set_new(x, "name", json_string(tc_tensor_name(t)));
                json_object_set_new(x, "dtype",
                                    json_string(tc_dtype_get(tc_tensor_dtype(t))->name));
                json_object_set_new(x, "shape", shape_json(t));
                json_object_set_new(x, "bytes", json_integer((json_int_t)tc_tensor_nbytes(t)));
                json_array_append_new(ta, x);
            }
            json_object_set_new(o, "tensors", ta);
        }
        cli_print_json(o, JSON_REAL_PRECISION(9));
        json_decref(o);
        tc_graph_free(g);
        return TC_EXIT_OK;
    }

    char b1[32], b2[32];
    printf("file:        %s\n", path);
    printf("format:      %s", tc_graph_format(g));
    if (tc_graph_format_version(g))
        printf(" (version %s)", tc_graph_format_version(g));
    putchar('\n');
    for (size_t i = 0; i < tc_graph_n_sources(g) && tc_graph_n_sources(g) > 1; i++) {
        uint64_t sz;
        const char *p = tc_graph_source(g, i, &sz);
        cli_fmt_bytes(sz, b1, sizeof b1);
        printf("  part %zu:    %s (%s)\n", i + 1, p, b1);
    }
    cli_fmt_count(params, b1, sizeof b1);
    cli_fmt_bytes(bytes, b2, sizeof b2);
    printf("tensors:     %zu\n", nt);
    printf("parameters:  %s (%" PRIu64 ")\n", b1, params);
    printf("tensor data: %s\n", b2);
    printf("types:      ");
    for (int t = 0; t < TC_DTYPE_COUNT; t++) {
        if (stats[t].count == 0)
            continue;
        cli_fmt_bytes(stats[t].bytes, b2, sizeof b2);
        printf(" %s x%" PRIu64 " (%s)", tc_dtype_get(t)->name, stats[t].count, b2);
    }
    putchar('\n');
    if (lic.id || lic.name || lic.link) {
        printf("licence:     %s", lic.id ? lic.id : "(no SPDX id)");
        if (lic.name)
            printf(" - %s", lic.name);
        if (lic.link)
            printf(" <%s>", lic.link);
        if (lic.source)
            printf("  [from %s]", lic.source);
        putchar('\n');
        tc_license_facts lf;
        tc_license_classify(lic.id, lic.name, &lf);
        cli_print_license_facts(stdout, &lf);
    } else {
        printf("licence:     none recorded\n");
    }
    printf("metadata:    %zu keys\n", tc_graph_n_kv(g));
    for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
        const tc_value *v = tc_graph_kv_value(g, i);
        printf("  %s: %s = ", tc_graph_kv_key(g, i), tc_vtype_name(v->type));
        print_value(v, limit);
        putchar('\n');
    }
    for (size_t i = 0; i < tc_graph_n_notes(g); i++)
        printf("note: %s\n", tc_graph_note(g, i));
    if (show_tensors) {
        printf("%-48s %-8s %-24s %s\n", "tensor", "type", "shape", "bytes");
        for (size_t i = 0; i < nt; i++) {
            const tc_tensor *t = tc_graph_tensor(g, i);
            char shape[128] = "[";
            for (int d = 0; d < tc_tensor_n_dims(t); d++) {
                char x[24];
                snprintf(x, sizeof x, "%s%" PRId64, d ? ", " : "", tc_tensor_shape(t)[d]);
                if (strlen(shape) + strlen(x) + 2 < sizeof shape)
                    strcat(shape, x);
            }
            strcat(shape, "]");
            printf("%-48s %-8s %-24s %" PRIu64 "\n", tc_tensor_name(t),
                   tc_dtype_get(tc_tensor_dtype(t))->name, shape, tc_tensor_nbytes(t));
        }
    }
    tc_graph_free(g);
    return TC_EXIT_OK;
}
