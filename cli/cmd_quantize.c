/* cmd_quantize.c - `tensorcast quantize IN OUT PRESET [options]`: llama-quantize's presets. */
#include "cli.h"

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
        "  --part I/N                  write only files I, I+N, I+2N, ... of the split set\n"
        "                              (byte-identical to the full run's; N runs on N\n"
        "                              machines, in any order, write the whole set)\n"
        "  --keep-split                split the output like the input: a split GGUF set\n"
        "                              gives <stem>-0000k-of-0000N.gguf parts holding the\n"
        "                              tensors of the matching input parts\n"
        "  --tokenizer-pre NAME        (Hugging Face directory input) the llama.cpp\n"
        "                              pre-tokenizer name to write instead of detecting it\n"
        "  --model-name NAME           (Hugging Face directory input) general.name\n"
        "  --include REGEX             quantize and write only the tensors matching REGEX\n"
        "                              (POSIX extended, names as written; repeatable)\n"
        "  --exclude REGEX             leave out the tensors matching REGEX (repeatable)\n"
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
#define MAX_OVERRIDES      64 /* --tensor-type options */

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
                                         CLI_OPT_SELECT,
                                         CLI_OPT_PART,
                                         CLI_OPT_JSON,
                                         {"verbose", no_argument, 0, 'v'},
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    tc_quant_opts qo;
    tc_quant_opts_init(&qo);
    const char *imatrix_path = NULL;
    const char *include[MAX_WEIGHT_FILTERS], *exclude[MAX_WEIGHT_FILTERS];
    const char *patterns[MAX_OVERRIDES];
    int ptypes[MAX_OVERRIDES];
    size_t n_inc = 0, n_exc = 0;
    int verbose = 0, c, copt, rc = TC_EXIT_OK;
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
                qo.output_tensor_type = t;
            else
                qo.token_embedding_type = t;
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
            if (qo.n_overrides == MAX_OVERRIDES)
                return cli_usage_error("quantize", "too many --tensor-type options");
            char *pat = strndup(optarg, (size_t)(eq - optarg));
            if (pat == NULL)
                return TC_EXIT_IO;
            patterns[qo.n_overrides] = pat;
            ptypes[qo.n_overrides++] = t;
            break;
        }
        case O_LEAVE:
            qo.leave_output = 1;
            break;
        case O_PURE:
            qo.pure = 1;
            break;
        case O_REQUANT:
            qo.allow_requantize = 1;
            break;
        case O_DRY:
            qo.dry_run = 1;
            break;
        case O_KEEPSPLIT:
            qo.keep_split = 1;
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
    size_t n_pat = qo.n_overrides;
    qo.override_re = patterns;
    qo.override_type = ptypes;
    int dry = qo.dry_run;
    if (n_inc && n_exc) {
        rc = cli_usage_error("quantize", "--include-weights and --exclude-weights cannot be "
                                         "used together");
        goto free_patterns;
    }
    if (co.part_n && !(co.split || co.splitn || qo.keep_split)) {
        rc = cli_usage_error("quantize", "--part is for split outputs: add --split-max-size, "
                                         "--split-max-tensors or --keep-split");
        goto free_patterns;
    }
    if (qo.keep_split && (co.split || co.splitn)) {
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
    qo.preset = pname;
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
    tc_graph *g = NULL;
    tc_imatrix *im = NULL;
    tc_quant_plan *plan = NULL;
    if (imatrix_path) {
        if (tc_imatrix_load(imatrix_path, &im, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        tc_imatrix_filter(im, include, n_inc, exclude, n_exc);
        qo.imatrix = im;
        qo.imatrix_file = imatrix_path;
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
    if ((rc = cli_select(g, &co)) != 0)
        goto done;
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

    if (tc_quant_plan_new(g, &qo, &plan, &e) != TC_OK) {
        rc = cli_fail(&e);
        goto done;
    }
    size_t nt = tc_quant_plan_len(plan);
    const tc_quant_totals *tot = tc_quant_plan_totals(plan);
    /* as llama-quantize says it: how much of the model the importance matrix covers */
    if (im && !co.quiet)
        fprintf(stderr, "%s: imatrix covers %zu of %zu quantized tensors%s\n", tc_prog,
                tot->n_imatrix, tot->n_quantized,
                tot->n_imatrix * 2 < tot->n_quantized ? " (few: is it for this model?)" : "");
    if (verbose || dry) {
        FILE *f = co.json ? stderr : stdout;
        for (size_t i = 0; i < nt; i++) {
            const tc_quant_step *p = tc_quant_plan_step(plan, i);
            char sh[128];
            shape_str(p->in, sh, sizeof sh);
            fprintf(f, "[%4zu/%4zu] %-36s - [%s], type = %6s, ", i + 1, nt, p->name, sh,
                    tc_dtype_get(p->from)->name);
            if (p->to == p->from)
                fprintf(f, "size = %8.3f MiB\n", (double)p->in_bytes / 1048576.0);
            else
                fprintf(f, "converting to %s .. size = %8.2f MiB -> %8.2f MiB%s%s\n",
                        tc_dtype_get(p->to)->name, (double)p->in_bytes / 1048576.0,
                        (double)p->out_bytes / 1048576.0, p->fallback ? " (fallback)" : "",
                        p->imatrix ? " (imatrix)" : "");
        }
    }
    if (!dry && tc_quant_apply(plan, g, &e) != TC_OK) {
        rc = cli_fail(&e);
        goto done;
    }

    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    if (!dry) {
        if (cli_write(g, out, "gguf", "quantizing", &co, 0, tc_quant_plan_parts(plan), &wo, &e) !=
            TC_OK) {
            rc = cli_fail(&e);
            goto done_written;
        }
    }
    double bpw_in = tot->n_elements ? (double)tot->in_bytes * 8.0 / (double)tot->n_elements : 0;
    double bpw_out = tot->n_elements ? (double)tot->out_bytes * 8.0 / (double)tot->n_elements : 0;
    if (co.json) {
        json_t *o = json_object();
        json_object_set_new(o, "input", json_string(in));
        json_object_set_new(o, "output", out && !dry ? json_string(out) : json_null());
        json_object_set_new(o, "preset", json_string(preset->name));
        json_object_set_new(o, "ftype", json_integer(preset->ftype));
        json_object_set_new(o, "dry_run", json_boolean(dry));
        json_object_set_new(o, "imatrix", imatrix_path ? json_string(imatrix_path) : json_null());
        if (im) {
            json_object_set_new(o, "imatrix_covered", json_integer((json_int_t)tot->n_imatrix));
            json_object_set_new(o, "imatrix_tensors", json_integer((json_int_t)tot->n_quantized));
        }
        json_object_set_new(o, "tensor_count", json_integer((json_int_t)nt));
        json_object_set_new(o, "fallbacks", json_integer((json_int_t)tot->n_fallback));
        json_object_set_new(o, "input_bytes", json_integer((json_int_t)tot->in_bytes));
        json_object_set_new(o, "output_bytes", json_integer((json_int_t)tot->out_bytes));
        json_object_set_new(o, "input_bpw", cli_json_real(bpw_in));
        json_object_set_new(o, "output_bpw", cli_json_real(bpw_out));
        json_object_set_new(o, "seconds", cli_json_real(cli_now() - t0));
        json_t *arr = json_array();
        for (size_t i = 0; i < nt; i++) {
            const tc_quant_step *p = tc_quant_plan_step(plan, i);
            json_t *r = json_object();
            json_object_set_new(r, "name", json_string(p->name));
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
            json_object_set_new(r, "imatrix", json_boolean(p->imatrix));
            json_array_append_new(arr, r);
        }
        json_object_set_new(o, "tensors", arr);
        json_object_set_new(o, "files", cli_written_json(&wo));
        cli_print_json(o, 0);
        json_decref(o);
    } else if (!co.quiet) {
        char b1[32], b2[32];
        cli_fmt_bytes(tot->in_bytes, b1, sizeof b1);
        cli_fmt_bytes(tot->out_bytes, b2, sizeof b2);
        printf("%s %s -> %s: %zu tensors, %s (%.2f bpw) -> %s (%.2f bpw), %.2f s\n",
               dry ? "planned" : "quantized", in, preset->name, nt, b1, bpw_in, b2, bpw_out,
               cli_now() - t0);
        if (tot->n_fallback)
            printf("  %zu of %zu tensor(s) required fallback quantization\n", tot->n_fallback, nt);
        if (dry && tot->needs_imatrix && (im == NULL || tc_imatrix_count(im) == 0))
            printf("  note: this preset will need an importance matrix (--imatrix FILE)\n");
        cli_print_written(&wo);
    }
done_written:
    cli_free_written(&wo);
done:
    tc_quant_plan_free(plan);
    tc_graph_free(g);
    tc_imatrix_free(im);
free_patterns:
    for (size_t i = 0; i < n_pat; i++)
        free((char *)patterns[i]);
    return rc;
}
