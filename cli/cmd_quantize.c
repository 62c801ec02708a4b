/* cmd_quantize.c - `tensorcast quantize IN OUT PRESET [options]`: llama-quantize's presets. */
#include "cli.h"
#include "mix.h"

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static void quantize_help(FILE *f)
{
    fprintf(
        f,
        "usage: tensorcast quantize IN OUT PRESET [options]\n"
        "\n"
        "Quantize a model to GGUF with one of llama.cpp's presets, choosing every tensor's type\n"
        "exactly as llama-quantize does (attn_v/ffn_down bumps, output/embedding types, MoE and\n"
        "row-length fallbacks, tensors never quantized). IN is any readable input (GGUF, or an\n"
        "HF directory / safetensors / PyTorch checkpoint); all metadata and the licence are\n"
        "kept; general.file_type and general.quantization_version are set. Tensors are written\n"
        "in llama.cpp's order; the output is the same whatever --threads is.\n"
        "\n"
        "  --imatrix FILE              importance matrix (llama-imatrix .gguf or legacy .dat)\n"
        "  --include-weights NAME      use the imatrix only for tensors whose name contains\n"
        "                              NAME (repeatable)\n"
        "  --exclude-weights NAME      do not use the imatrix for these tensors (repeatable)\n"
        "  --output-tensor-type TYPE   type of output.weight\n"
        "  --token-embedding-type TYPE type of token_embd.weight\n"
        "  --tensor-type REGEX=TYPE    type of the tensors matching REGEX (first match wins;\n"
        "                              repeatable), e.g. --tensor-type 'attn_v=q8_0'\n"
        "  --leave-output-tensor       keep output.weight as it is\n"
        "  --pure                      no per-tensor mixture: every tensor gets the preset's\n"
        "                              type (shape fallbacks still apply)\n"
        "  --allow-requantize          allow quantizing already-quantized tensors\n"
        "  --dry-run                   plan only: print types and sizes, write nothing\n"
        "  --split-max-size SIZE       split the output into parts of at most SIZE\n"
        "  --split-max-tensors N       at most N tensors per part\n"
        "  --keep-split                split the output like the input: a split GGUF set\n"
        "                              gives <stem>-0000k-of-0000N.gguf parts holding the\n"
        "                              tensors of the matching input parts\n"
        "  --tokenizer-pre NAME        (Hugging Face directory input) the llama.cpp\n"
        "                              pre-tokenizer name to write instead of detecting it\n"
        "  --model-name NAME           (Hugging Face directory input) general.name\n"
        "  --threads N                 worker threads (default: all cores)\n"
        "  --no-sync                   do not fsync the output before renaming it into place\n"
        "                              (faster; after a crash the file may be incomplete)\n"
        "  -v, --verbose               one line per tensor, as llama-quantize prints\n"
        "  --json                      print a JSON summary (per-tensor types, sizes, bpw)\n"
        "  -q, --quiet                 no progress bar or summary\n"
        "  -h, --help                  this help\n"
        "\n"
        "presets:\n");
    for (size_t i = 0; tc_preset_at(i); i++) {
        const tc_preset *p = tc_preset_at(i);
        if (p->ftype == TC_FTYPE_COPY)
            fprintf(f, "          %-9s: %s\n", p->name, p->about);
        else
            fprintf(f, "  %2d  or  %-9s: %s%s\n", p->ftype, p->name, p->about,
                    tc_can_quantize(p->default_type) ? "" : " [not implemented yet]");
    }
}

/* ---- hyper-parameters from the graph's metadata ---- */

static int64_t kv_int(const tc_graph *g, const char *arch, const char *suffix, int64_t dflt)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const tc_value *v = tc_graph_get(g, key);
    if (v == NULL)
        return dflt;
    int64_t x;
    if (tc_value_to_i64(v, &x))
        return x;
    if (v->type == TC_V_ARR && v->arr.n > 0 && tc_vtype_size(v->arr.elem) > 0 &&
        v->arr.elem != TC_V_F32 && v->arr.elem != TC_V_F64) {
        /* per-layer arrays (head_count of some models): layer 0, as llama.cpp's n_gqa() */
        tc_value e0 = {.type = v->arr.elem};
        memcpy(&e0.u, v->arr.data, tc_vtype_size(v->arr.elem));
        if (v->arr.elem == TC_V_I8)
            e0.i = *(const int8_t *)v->arr.data;
        else if (v->arr.elem == TC_V_I16)
            e0.i = (int16_t)e0.u;
        else if (v->arr.elem == TC_V_I32)
            e0.i = (int32_t)e0.u;
        if (tc_value_to_i64(&e0, &x))
            return x;
    }
    return dflt;
}

/*
 * general.file_type of a COPY (llama-quantize --only-copy): the input's general.file_type, else
 * llama.cpp's guess from the most common tensor type (lowest type id on ties) with its
 * "guessed" flag (1024) set, as llama_model_loader computes it.
 */
static uint32_t copy_file_type(const tc_graph *g)
{
    const tc_value *v = tc_graph_get(g, "general.file_type");
    uint64_t u;
    if (v && tc_value_to_u64(v, &u) && u <= UINT32_MAX)
        return (uint32_t)u;
    static const struct {
        int type, ftype;
    } map[] = {
        {TC_DTYPE_F32, TC_FTYPE_ALL_F32},     {TC_DTYPE_F16, TC_FTYPE_F16},
        {TC_DTYPE_BF16, TC_FTYPE_BF16},       {TC_DTYPE_Q4_0, TC_FTYPE_Q4_0},
        {TC_DTYPE_Q4_1, TC_FTYPE_Q4_1},       {TC_DTYPE_Q5_0, TC_FTYPE_Q5_0},
        {TC_DTYPE_Q5_1, TC_FTYPE_Q5_1},       {TC_DTYPE_Q8_0, TC_FTYPE_Q8_0},
        {TC_DTYPE_Q2_K, TC_FTYPE_Q2_K},       {TC_DTYPE_Q3_K, TC_FTYPE_Q3_K_M},
        {TC_DTYPE_Q4_K, TC_FTYPE_Q4_K_M},     {TC_DTYPE_Q5_K, TC_FTYPE_Q5_K_M},
        {TC_DTYPE_Q6_K, TC_FTYPE_Q6_K},       {TC_DTYPE_TQ1_0, TC_FTYPE_TQ1_0},
        {TC_DTYPE_TQ2_0, TC_FTYPE_TQ2_0},     {TC_DTYPE_IQ2_XXS, TC_FTYPE_IQ2_XXS},
        {TC_DTYPE_IQ2_XS, TC_FTYPE_IQ2_XS},   {TC_DTYPE_IQ2_S, TC_FTYPE_IQ2_S},
        {TC_DTYPE_IQ3_XXS, TC_FTYPE_IQ3_XXS}, {TC_DTYPE_IQ1_S, TC_FTYPE_IQ1_S},
        {TC_DTYPE_IQ1_M, TC_FTYPE_IQ1_M},     {TC_DTYPE_IQ4_NL, TC_FTYPE_IQ4_NL},
        {TC_DTYPE_IQ4_XS, TC_FTYPE_IQ4_XS},   {TC_DTYPE_IQ3_S, TC_FTYPE_IQ3_S},
        {TC_DTYPE_MXFP4, TC_FTYPE_MXFP4_MOE},
    };
    uint64_t count[TC_DTYPE_GGML_COUNT] = {0};
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++) {
        int t = tc_tensor_dtype(tc_graph_tensor(g, i));
        if (t >= 0 && t < TC_DTYPE_GGML_COUNT)
            count[t]++;
    }
    int best = -1;
    for (int t = 0; t < TC_DTYPE_GGML_COUNT; t++)
        if (count[t] > 0 && (best < 0 || count[t] > count[best]))
            best = t;
    uint32_t ft = TC_FTYPE_ALL_F32;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].type == best)
            ft = (uint32_t)map[i].ftype;
    return ft | 1024u; /* LLAMA_FTYPE_GUESSED */
}

/* ---- lazy sources of the output tensors ---- */

typedef struct src_ctx {
    const tc_tensor *in; /* the input tensor (input graph outlives the output graph) */
    int type;            /* output dtype (per-expert path) */
    float *imatrix;      /* per-expert: n_expert * row weights */
    uint64_t rows_per_expert;
} src_ctx;

static void src_free(void *p)
{
    src_ctx *c = p;
    if (c) {
        free(c->imatrix);
        free(c);
    }
}

/* Same dtype: the input tensor's elements. */
static tc_status pass_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                           tc_err *e)
{
    (void)t;
    const src_ctx *c = ctx;
    return tc_tensor_read(c->in, e0, n, dst, e);
}

/* 3-D expert tensor with one importance row per expert (llama.cpp quantizes each expert with
 * its own slice). The writer asks whole rows. */
static tc_status expert_read(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                             tc_err *e)
{
    const src_ctx *c = ctx;
    int64_t row = tc_tensor_row_len(t);
    int sd = tc_tensor_dtype(c->in);
    uint64_t r0 = e0 / (uint64_t)row, nr = n / (uint64_t)row;
    size_t raw_bytes = (size_t)tc_row_size(sd, (int64_t)n);
    float *f = malloc((size_t)n * sizeof(float));
    void *raw = sd == TC_DTYPE_F32 ? (void *)f : malloc(raw_bytes ? raw_bytes : 1);
    tc_status rc = TC_OK;
    if (f == NULL || raw == NULL) {
        rc = tc_err_set(e, TC_E_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = tc_tensor_read(c->in, e0, n, raw, e)) != TC_OK)
        goto done;
    if (raw != f && tc_to_f32(sd, raw, f, (int64_t)n) != 0) {
        rc = tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot read %s values",
                        tc_tensor_name(t), tc_dtype_get(sd)->name);
        goto done;
    }
    uint8_t *out = dst;
    size_t rsz = (size_t)tc_row_size(c->type, row);
    for (uint64_t r = r0; r < r0 + nr;) {
        uint64_t ex = r / c->rows_per_expert;
        uint64_t end = (ex + 1) * c->rows_per_expert;
        if (end > r0 + nr)
            end = r0 + nr;
        size_t w = tc_quantize_rows(c->type, f + (r - r0) * (uint64_t)row, out + (r - r0) * rsz,
                                    (int64_t)(end - r), row, c->imatrix + ex * (uint64_t)row);
        if (w == 0) {
            rc = tc_err_set(e, TC_E_UNSUPPORTED, "tensor '%s': cannot quantize to %s",
                            tc_tensor_name(t), tc_dtype_get(c->type)->name);
            goto done;
        }
        r = end;
    }
done:
    if (raw != f)
        free(raw);
    free(f);
    return rc;
}

/* ---- the command ---- */

typedef struct plan_row {
    tc_tensor *in;
    uint32_t part; /* --keep-split: the input file (split part) the tensor comes from, */
    uint64_t off;  /* and its offset there */
    int from, to;
    int fallback;
    uint64_t in_bytes, out_bytes;
    int used_imatrix;
} plan_row;

static int plan_cmp(const void *a, const void *b)
{
    const plan_row *x = a, *y = b;
    return tc_mix_name_cmp(tc_tensor_name(x->in), tc_tensor_name(y->in));
}

static int plan_split_cmp(const void *a, const void *b)
{
    const plan_row *x = a, *y = b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

static void shape_str(const tc_tensor *t, char *buf, size_t cap)
{
    /* llama-quantize prints ne[] innermost first, padded to 4 */
    int nd = tc_tensor_n_dims(t);
    const int64_t *s = tc_tensor_shape(t);
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        int64_t d = i < nd ? s[nd - 1 - i] : 1;
        k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s%6" PRId64, i ? ", " : "", d);
        if (k >= cap)
            break;
    }
}

#define MAX_WEIGHT_FILTERS 64

int cmd_quantize(int argc, char **argv)
{
    enum {
        O_IMATRIX = 256,
        O_INCLUDE,
        O_EXCLUDE,
        O_OUTTYPE,
        O_EMBDTYPE,
        O_TTYPE,
        O_LEAVE,
        O_PURE,
        O_REQUANT,
        O_DRY,
        O_KEEPSPLIT,
        O_PRE,
        O_NAME
    };
    static const struct option opts[] = {{"imatrix", required_argument, 0, O_IMATRIX},
                                         {"include-weights", required_argument, 0, O_INCLUDE},
                                         {"exclude-weights", required_argument, 0, O_EXCLUDE},
                                         {"output-tensor-type", required_argument, 0, O_OUTTYPE},
                                         {"token-embedding-type", required_argument, 0, O_EMBDTYPE},
                                         {"tensor-type", required_argument, 0, O_TTYPE},
                                         {"leave-output-tensor", no_argument, 0, O_LEAVE},
                                         {"pure", no_argument, 0, O_PURE},
                                         {"allow-requantize", no_argument, 0, O_REQUANT},
                                         {"dry-run", no_argument, 0, O_DRY},
                                         {"keep-split", no_argument, 0, O_KEEPSPLIT},
                                         {"tokenizer-pre", required_argument, 0, O_PRE},
                                         {"model-name", required_argument, 0, O_NAME},
                                         CLI_OPT_SPLIT,
                                         CLI_OPT_SPLITN,
                                         CLI_OPT_THREADS,
                                         CLI_OPT_NOSYNC,
                                         CLI_OPT_JSON,
                                         {"verbose", no_argument, 0, 'v'},
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    tc_mix_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.output_tensor_type = mo.token_embedding_type = -1;
    const char *imatrix_path = NULL;
    const char *include[MAX_WEIGHT_FILTERS], *exclude[MAX_WEIGHT_FILTERS];
    char *patterns[TC_MIX_MAX_OVERRIDES];
    size_t n_inc = 0, n_exc = 0;
    int verbose = 0, dry = 0, requant = 0, keep_split = 0, c, copt, rc = TC_EXIT_OK;
    uint32_t *part_of = NULL;
    cli_opts co = {0};
    tc_hf_opts ho = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
        switch (c) {
        case O_IMATRIX:
            imatrix_path = optarg;
            break;
        case O_INCLUDE:
        case O_EXCLUDE:
            if ((c == O_INCLUDE ? n_inc : n_exc) == MAX_WEIGHT_FILTERS)
                return cli_usage_error("quantize", "too many --include/--exclude-weights");
            if (c == O_INCLUDE)
                include[n_inc++] = optarg;
            else
                exclude[n_exc++] = optarg;
            break;
        case O_OUTTYPE:
        case O_EMBDTYPE: {
            int t = tc_dtype_from_name(optarg);
            if (t < 0 || t >= TC_DTYPE_GGML_COUNT)
                return cli_usage_error("quantize", "unknown tensor type '%s'", optarg);
            if (c == O_OUTTYPE)
                mo.output_tensor_type = t;
            else
                mo.token_embedding_type = t;
            break;
        }
        case O_TTYPE: {
            const char *eq = strrchr(optarg, '=');
            if (eq == NULL || eq == optarg || eq[1] == '\0')
                return cli_usage_error("quantize", "--tensor-type wants REGEX=TYPE, not '%s'",
                                       optarg);
            int t = tc_dtype_from_name(eq + 1);
            if (t < 0 || t >= TC_DTYPE_GGML_COUNT)
                return cli_usage_error("quantize", "--tensor-type %s: unknown type '%s'", optarg,
                                       eq + 1);
            if (mo.n_overrides == TC_MIX_MAX_OVERRIDES)
                return cli_usage_error("quantize", "too many --tensor-type options");
            /* llama-quantize lower-cases the pattern */
            char *p = strndup(optarg, (size_t)(eq - optarg));
            if (p == NULL)
                return TC_EXIT_IO;
            for (char *q = p; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            patterns[mo.n_overrides] = p;
            mo.override_pattern[mo.n_overrides] = p;
            mo.override_type[mo.n_overrides++] = t;
            break;
        }
        case O_LEAVE:
            mo.leave_output = 1;
            break;
        case O_PURE:
            mo.pure = 1;
            break;
        case O_REQUANT:
            requant = 1;
            break;
        case O_DRY:
            dry = 1;
            break;
        case O_KEEPSPLIT:
            keep_split = 1;
            break;
        case O_PRE:
            ho.tokenizer_pre = optarg;
            break;
        case O_NAME:
            ho.model_name = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            quantize_help(stdout);
            return TC_EXIT_OK;
        default:
            if ((copt = cli_common_opt("quantize", c, optarg, &co)) < 0)
                return cli_usage_error("quantize", "bad option (see --help)");
            if (copt != 0)
                return copt;
            break;
        }
    }
    int n_pat = mo.n_overrides;
    if (n_inc && n_exc) {
        rc = cli_usage_error("quantize", "--include-weights and --exclude-weights cannot be "
                                         "used together");
        goto free_patterns;
    }
    if (keep_split && (co.split || co.splitn)) {
        rc = cli_usage_error("quantize", "--keep-split and --split-max-size/--split-max-tensors "
                                         "exclude each other");
        goto free_patterns;
    }
    if (argc - optind != 3 && !(dry && argc - optind == 2)) {
        rc = cli_usage_error("quantize", "expected IN OUT PRESET (see --help)");
        goto free_patterns;
    }
    const char *in = argv[optind];
    const char *out = argc - optind == 3 ? argv[optind + 1] : NULL;
    const char *pname = argv[argc - 1];
    const tc_preset *preset = tc_preset_find(pname);
    if (preset == NULL) {
        rc = cli_usage_error("quantize", "unknown preset '%s' (see --help for the list)", pname);
        goto free_patterns;
    }
    mo.ftype = preset->ftype;
    static const char *const not_gguf[] = {".safetensors", ".bin", ".pt",  ".pth",
                                           ".ckpt",        ".npy", ".npz", ".json"};
    for (size_t i = 0; out && i < sizeof not_gguf / sizeof not_gguf[0]; i++)
        if (strlen(out) >= strlen(not_gguf[i]) &&
            strcasecmp(out + strlen(out) - strlen(not_gguf[i]), not_gguf[i]) == 0) {
            rc = cli_usage_error("quantize",
                                 "%s: quantize writes GGUF, not %s; name the output .gguf", out,
                                 not_gguf[i] + 1);
            goto free_patterns;
        }

    double t0 = cli_now();
    tc_err e = {0};
    tc_graph *g = NULL, *og = NULL;
    tc_imatrix *im = NULL;
    plan_row *plan = NULL;
    tc_mix mix;
    int mix_ready = 0;
    if (imatrix_path) {
        if (tc_imatrix_load(imatrix_path, &im, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        tc_imatrix_filter(im, include, n_inc, exclude, n_exc);
        mo.has_imatrix = tc_imatrix_count(im) > 0;
    }
    int in_hf = 0;
    if ((ho.tokenizer_pre || ho.model_name) && !tc_hf_is_model_dir(in)) {
        rc = cli_usage_error("quantize", "--tokenizer-pre and --model-name are for a Hugging Face "
                                         "directory as input");
        goto done;
    }
    if (cli_read_model(in, &ho, &g, &in_hf, &e) != TC_OK) {
        rc = cli_fail(&e);
        goto done;
    }
    if (tc_graph_get_str(g, "general.architecture") == NULL && !mo.pure &&
        preset->ftype != TC_FTYPE_COPY && preset->ftype != TC_FTYPE_ALL_F32 &&
        preset->ftype != TC_FTYPE_F16 && preset->ftype != TC_FTYPE_BF16) {
        /* never a file whose general.file_type claims a mix it does not have */
        fprintf(stderr,
                "%s: %s has no general.architecture: its tensors do not carry llama.cpp's "
                "names, so %s's per-tensor rules cannot apply. Quantize the Hugging Face "
                "directory itself (it is mapped), or pass --pure for one type everywhere\n",
                tc_prog, in, preset->name);
        rc = TC_EXIT_INPUT;
        goto done;
    }
    if (out) {
        struct stat so, si;
        for (size_t i = 0; i < tc_graph_n_sources(g); i++)
            if (stat(tc_graph_source(g, i, NULL), &si) == 0 && stat(out, &so) == 0 &&
                si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                fprintf(stderr, "%s: refusing to overwrite the input %s\n", tc_prog, out);
                rc = TC_EXIT_USAGE;
                goto done;
            }
    }

    /* Hyper-parameters the rules need. */
    const char *arch = tc_graph_get_str(g, "general.architecture");
    tc_mix_model md = {arch ? arch : "", 0, 0, 0, 0, 0};
    if (arch) {
        md.n_layer = kv_int(g, arch, "block_count", 0);
        md.n_head = kv_int(g, arch, "attention.head_count", 0);
        md.n_head_kv = kv_int(g, arch, "attention.head_count_kv", md.n_head);
        md.n_expert = kv_int(g, arch, "expert_count", 0);
    }
    md.is_70b = tc_mix_model_is_70b(md.arch, md.n_layer, md.n_head, md.n_head_kv);
    char msg[512];
    if (tc_mix_init(&mix, &mo, &md, msg, sizeof msg) != 0) {
        rc = cli_usage_error("quantize", "%s", msg);
        goto done;
    }
    mix_ready = 1;

    /* Plan: llama.cpp's tensor order, then every tensor's type. */
    size_t nt = tc_graph_n_tensors(g);
    plan = calloc(nt ? nt : 1, sizeof *plan);
    if (plan == NULL) {
        rc = TC_EXIT_IO;
        goto done;
    }
    for (size_t i = 0; i < nt; i++)
        plan[i].in = tc_graph_tensor(g, i);
    if (!keep_split) {
        qsort(plan, nt, sizeof *plan, plan_cmp);
    } else {
        /* --keep-split: as llama.cpp, tensors go by input part, then by offset in that part's
         * file, and each output part takes the tensors of the matching input part */
        size_t ns = tc_graph_n_sources(g);
        part_of = calloc(nt ? nt : 1, sizeof *part_of);
        if (part_of == NULL) {
            rc = TC_EXIT_IO;
            goto done;
        }
        for (size_t i = 0; i < nt; i++) {
            const tc_map *m;
            size_t k = ns;
            if (tc_tensor_mapped(plan[i].in, &m, &plan[i].off))
                for (k = 0; k < ns; k++)
                    if (strcmp(tc_map_path(m), tc_graph_source(g, k, NULL)) == 0)
                        break;
            if (k == ns || strcmp(tc_graph_format(g), "gguf") != 0) {
                fprintf(stderr,
                        "%s: --keep-split needs a GGUF input whose tensors are stored in its "
                        "files (tensor '%s')\n",
                        tc_prog, tc_tensor_name(plan[i].in));
                rc = TC_EXIT_USAGE;
                goto done;
            }
            plan[i].part = (uint32_t)k;
        }
        qsort(plan, nt, sizeof *plan, plan_split_cmp);
        for (size_t i = 1; i < nt; i++) /* numbered from 0; input parts without tensors vanish */
            part_of[i] = part_of[i - 1] + (plan[i].part != plan[i - 1].part);
    }
    for (size_t i = 0; i < nt; i++)
        tc_mix_count(&mix, tc_tensor_name(plan[i].in));
    uint64_t tot_in = 0, tot_out = 0, tot_elems = 0;
    int n_fallback = 0, needs_imatrix = 0;
    const char *needs_imatrix_name = NULL;
    int needs_imatrix_type = 0;
    for (size_t i = 0; i < nt; i++) {
        plan_row *p = &plan[i];
        const char *nm = tc_tensor_name(p->in);
        p->from = tc_tensor_dtype(p->in);
        p->to = tc_mix_type(&mix, nm, tc_tensor_n_dims(p->in), tc_tensor_shape(p->in), p->from,
                            &p->fallback, msg, sizeof msg);
        if (p->to < 0) {
            fprintf(stderr, "%s: %s\n", tc_prog, msg);
            rc = TC_EXIT_INPUT;
            goto done;
        }
        n_fallback += p->fallback;
        int nd = tc_tensor_n_dims(p->in), nd_g = nd;
        while (nd_g > 1 && tc_tensor_shape(p->in)[nd - nd_g] == 1)
            nd_g--;
        if (p->to != p->from && tc_mix_allows_quant(&mix, nm, nd_g) &&
            tc_mix_requires_imatrix(nm, p->to, mo.ftype) && !needs_imatrix) {
            needs_imatrix = 1;
            needs_imatrix_name = nm;
            needs_imatrix_type = p->to;
        }
        p->in_bytes = tc_tensor_nbytes(p->in);
        p->out_bytes = tc_tensor_n_rows(p->in) * tc_row_size(p->to, tc_tensor_row_len(p->in));
        if (tc_tensor_n_elements(p->in) == 0)
            p->out_bytes = 0;
        tot_in += p->in_bytes;
        tot_out += p->out_bytes;
        tot_elems += tc_tensor_n_elements(p->in);
    }
    /* what cannot be produced is refused before anything else, imatrix or not */
    for (size_t i = 0; i < nt && !dry; i++)
        if (plan[i].to != plan[i].from && !tc_can_quantize(plan[i].to)) {
            fprintf(stderr,
                    "%s: preset %s: quantizing to %s (tensor '%s') is not implemented yet "
                    "(tensorcast reads that type, and --dry-run shows the plan)\n",
                    tc_prog, preset->name, tc_dtype_get(plan[i].to)->name,
                    tc_tensor_name(plan[i].in));
            rc = TC_EXIT_INPUT;
            goto done;
        }
    if (needs_imatrix && !mo.has_imatrix && !dry) {
        fprintf(stderr,
                "%s: preset %s needs an importance matrix (tensor '%s' becomes %s): pass "
                "--imatrix FILE\n",
                tc_prog, preset->name, needs_imatrix_name, tc_dtype_get(needs_imatrix_type)->name);
        rc = TC_EXIT_USAGE;
        goto done;
    }

    /* Build the output graph. */
    og = tc_graph_new();
    if (og == NULL) {
        rc = TC_EXIT_IO;
        goto done;
    }
    for (size_t i = 0; i < tc_graph_n_kv(g); i++) {
        const char *k = tc_graph_kv_key(g, i);
        if (strcmp(k, "general.quantization_version") == 0 || strcmp(k, "general.file_type") == 0)
            continue; /* llama.cpp re-adds them at the end */
        if (tc_graph_set(og, k, tc_graph_kv_value(g, i), &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
    }
    for (size_t i = 0; i < tc_graph_n_sources(g); i++) { /* for the provenance record */
        uint64_t sz;
        const char *sp = tc_graph_source(g, i, &sz);
        if (tc_graph_add_source(og, sp, sz, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
    }
    tc_license lic;
    tc_graph_license(g, &lic);
    if ((lic.id || lic.name || lic.link) &&
        tc_graph_set_license(og, lic.id, lic.name, lic.link, lic.source, &e) != TC_OK) {
        rc = cli_fail(&e);
        goto done;
    }
    {
        uint32_t ft = preset->ftype == TC_FTYPE_COPY ? copy_file_type(g) : (uint32_t)preset->ftype;
        if (tc_graph_set_u32(og, "general.quantization_version", 2, &e) != TC_OK ||
            tc_graph_set_u32(og, "general.file_type", ft, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
    }
    if (mo.has_imatrix) {
        tc_status st = tc_graph_set_str(og, "quantize.imatrix.file", imatrix_path, &e);
        if (st == TC_OK && tc_imatrix_dataset(im))
            st = tc_graph_set_str(og, "quantize.imatrix.dataset", tc_imatrix_dataset(im), &e);
        if (st == TC_OK)
            st = tc_graph_set_u32(og, "quantize.imatrix.entries_count",
                                  (uint32_t)tc_imatrix_count(im), &e);
        if (st == TC_OK && tc_imatrix_chunks(im) > 0)
            st = tc_graph_set_u32(og, "quantize.imatrix.chunks_count",
                                  (uint32_t)tc_imatrix_chunks(im), &e);
        if (st != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
    }
    for (size_t i = 0; i < nt; i++) {
        plan_row *p = &plan[i];
        const char *nm = tc_tensor_name(p->in);
        const tc_dtype_info *fi = tc_dtype_get(p->from), *ti = tc_dtype_get(p->to);
        int nd = tc_tensor_n_dims(p->in);
        int64_t row = tc_tensor_row_len(p->in);
        uint64_t n_mat = nd >= 3 ? (uint64_t)tc_tensor_shape(p->in)[nd - 3] : 1;
        const float *w = NULL;
        uint64_t wn = 0;
        if (p->to != p->from) {
            if (fi && fi->is_quant && !requant) {
                fprintf(stderr,
                        "%s: tensor '%s' is already %s: requantizing is disabled (pass "
                        "--allow-requantize)\n",
                        tc_prog, nm, fi->name);
                rc = TC_EXIT_INPUT;
                goto done;
            }
            if (im && ti && ti->is_quant) {
                w = tc_imatrix_find(im, nm, &wn);
                if (w && wn != (uint64_t)row * n_mat) {
                    int embd = strcmp(nm, "token_embd.weight") == 0 ||
                               strcmp(nm, "per_layer_token_embd.weight") == 0;
                    if (!embd) {
                        fprintf(stderr,
                                "%s: %s: imatrix entry '%s' has %" PRIu64
                                " values, the tensor needs %" PRIu64 "\n",
                                tc_prog, imatrix_path, nm, wn, (uint64_t)row * n_mat);
                        rc = TC_EXIT_INPUT;
                        goto done;
                    }
                    w = NULL;
                }
            }
            if (w == NULL && tc_mix_requires_imatrix(nm, p->to, mo.ftype) && !dry) {
                fprintf(stderr,
                        "%s: no importance data for tensor '%s' (needed for %s): the imatrix "
                        "must cover it\n",
                        tc_prog, nm, ti ? ti->name : "?");
                rc = imatrix_path ? TC_EXIT_INPUT : TC_EXIT_USAGE;
                goto done;
            }
        }
        p->used_imatrix = w != NULL;
        int per_expert = w != NULL && n_mat > 1;
        tc_tensor *t;
        if (tc_graph_add_tensor(og, nm, per_expert ? p->to : p->from, nd, tc_tensor_shape(p->in),
                                &t, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        src_ctx *sc = calloc(1, sizeof *sc);
        if (sc == NULL) {
            rc = TC_EXIT_IO;
            goto done;
        }
        sc->in = p->in;
        const tc_map *m;
        uint64_t off;
        tc_status st;
        if (per_expert) {
            /* one importance row per expert: each expert is quantized with its own */
            sc->type = p->to;
            sc->rows_per_expert = n_mat ? tc_tensor_n_rows(p->in) / n_mat : 1;
            sc->imatrix = malloc((size_t)wn * sizeof(float));
            if (sc->imatrix)
                memcpy(sc->imatrix, w, (size_t)wn * sizeof(float));
            if (sc->imatrix == NULL || !tc_can_quantize(p->to) || !tc_can_dequantize(p->from)) {
                int oom = sc->imatrix == NULL;
                src_free(sc);
                if (oom) {
                    rc = TC_EXIT_IO;
                } else {
                    fprintf(stderr, "%s: tensor '%s': cannot convert %s to %s\n", tc_prog, nm,
                            fi ? fi->name : "?", ti ? ti->name : "?");
                    rc = TC_EXIT_INPUT;
                }
                goto done;
            }
            st = tc_tensor_set_lazy(t, expert_read, sc, src_free, &e);
        } else if (tc_tensor_mapped(p->in, &m, &off)) {
            free(sc);
            st = tc_tensor_set_mapped(t, (tc_map *)m, off, &e);
        } else {
            st = tc_tensor_set_lazy(t, pass_read, sc, src_free, &e);
        }
        if (st == TC_OK && !per_expert && p->to != p->from)
            st = tc_tensor_convert(t, p->to, w, &e);
        if (st != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
    }

    /* as llama-quantize says it: how much of the model the importance matrix covers */
    size_t im_quant = 0, im_cov = 0;
    for (size_t i = 0; im && i < nt; i++) {
        const tc_dtype_info *ti = tc_dtype_get(plan[i].to);
        if (plan[i].to != plan[i].from && ti && ti->is_quant) {
            im_quant++;
            im_cov += plan[i].used_imatrix;
        }
    }
    if (im && !co.quiet)
        fprintf(stderr, "%s: imatrix covers %zu of %zu quantized tensors%s\n", tc_prog, im_cov,
                im_quant, im_cov * 2 < im_quant ? " (few: is it for this model?)" : "");
    if (verbose || dry) {
        for (size_t i = 0; i < nt; i++) {
            const plan_row *p = &plan[i];
            char sh[128];
            shape_str(p->in, sh, sizeof sh);
            fprintf(co.json ? stderr : stdout, "[%4zu/%4zu] %-36s - [%s], type = %6s, ", i + 1, nt,
                    tc_tensor_name(p->in), sh, tc_dtype_get(p->from)->name);
            if (p->to == p->from)
                fprintf(co.json ? stderr : stdout, "size = %8.3f MiB\n",
                        (double)p->in_bytes / 1048576.0);
            else
                fprintf(co.json ? stderr : stdout,
                        "converting to %s .. size = %8.2f MiB -> %8.2f MiB%s%s\n",
                        tc_dtype_get(p->to)->name, (double)p->in_bytes / 1048576.0,
                        (double)p->out_bytes / 1048576.0, p->fallback ? " (fallback)" : "",
                        p->used_imatrix ? " (imatrix)" : "");
        }
    }

    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    if (!dry) {
        if (cli_write(og, out, "gguf", "quantizing", &co, 0, part_of, &wo, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done_written;
        }
    }
    double bpw_in = tot_elems ? (double)tot_in * 8.0 / (double)tot_elems : 0;
    double bpw_out = tot_elems ? (double)tot_out * 8.0 / (double)tot_elems : 0;
    if (co.json) {
        json_t *o = json_object();
        json_object_set_new(o, "input", json_string(in));
        json_object_set_new(o, "output", out && !dry ? json_string(out) : json_null());
        json_object_set_new(o, "preset", json_string(preset->name));
        json_object_set_new(o, "ftype", json_integer(preset->ftype));
        json_object_set_new(o, "dry_run", json_boolean(dry));
        json_object_set_new(o, "imatrix", imatrix_path ? json_string(imatrix_path) : json_null());
        if (im) {
            json_object_set_new(o, "imatrix_covered", json_integer((json_int_t)im_cov));
            json_object_set_new(o, "imatrix_tensors", json_integer((json_int_t)im_quant));
        }
        json_object_set_new(o, "tensor_count", json_integer((json_int_t)nt));
        json_object_set_new(o, "fallbacks", json_integer(n_fallback));
        json_object_set_new(o, "input_bytes", json_integer((json_int_t)tot_in));
        json_object_set_new(o, "output_bytes", json_integer((json_int_t)tot_out));
        json_object_set_new(o, "input_bpw", cli_json_real(bpw_in));
        json_object_set_new(o, "output_bpw", cli_json_real(bpw_out));
        json_object_set_new(o, "seconds", cli_json_real(cli_now() - t0));
        json_t *arr = json_array();
        for (size_t i = 0; i < nt; i++) {
            const plan_row *p = &plan[i];
            json_t *r = json_object();
            json_object_set_new(r, "name", json_string(tc_tensor_name(p->in)));
            json_t *sh = json_array();
            for (int k = 0; k < tc_tensor_n_dims(p->in); k++)
                json_array_append_new(sh, json_integer(tc_tensor_shape(p->in)[k]));
            json_object_set_new(r, "shape", sh);
            json_object_set_new(r, "from", json_string(tc_dtype_get(p->from)->name));
            json_object_set_new(r, "to", json_string(tc_dtype_get(p->to)->name));
            json_object_set_new(r, "input_bytes", json_integer((json_int_t)p->in_bytes));
            json_object_set_new(r, "output_bytes", json_integer((json_int_t)p->out_bytes));
            uint64_t ne = tc_tensor_n_elements(p->in);
            json_object_set_new(r, "bpw",
                                cli_json_real(ne ? (double)p->out_bytes * 8.0 / (double)ne : 0));
            json_object_set_new(r, "fallback", json_boolean(p->fallback));
            json_object_set_new(r, "imatrix", json_boolean(p->used_imatrix));
            json_array_append_new(arr, r);
        }
        json_object_set_new(o, "tensors", arr);
        json_object_set_new(o, "files", cli_written_json(&wo));
        cli_print_json(o, 0);
        json_decref(o);
    } else if (!co.quiet) {
        char b1[32], b2[32];
        cli_fmt_bytes(tot_in, b1, sizeof b1);
        cli_fmt_bytes(tot_out, b2, sizeof b2);
        printf("%s %s -> %s: %zu tensors, %s (%.2f bpw) -> %s (%.2f bpw), %.2f s\n",
               dry ? "planned" : "quantized", in, preset->name, nt, b1, bpw_in, b2, bpw_out,
               cli_now() - t0);
        if (n_fallback)
            printf("  %d of %zu tensor(s) required fallback quantization\n", n_fallback, nt);
        if (dry && needs_imatrix && !mo.has_imatrix)
            printf("  note: this preset will need an importance matrix (--imatrix FILE)\n");
        cli_print_written(&wo);
    }
done_written:
    cli_free_written(&wo);
done:
    if (mix_ready)
        tc_mix_free(&mix);
    free(plan);
    free(part_of);
    tc_graph_free(og);
    tc_graph_free(g);
    tc_imatrix_free(im);
free_patterns:
    for (int i = 0; i < n_pat; i++)
        free(patterns[i]);
    return rc;
}
