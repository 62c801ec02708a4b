/* cmd_convert.c - `tensorcast convert IN OUT [--to F] [--type T] ...`. */
#include "cli.h"
#include "hf.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char convert_help[] =
    "usage: tensorcast convert IN OUT [options]\n"
    "\n"
    "Convert a model to GGUF or safetensors. IN is any readable input: a .gguf (a split set is\n"
    "read whole), a .safetensors file or a directory of shards, a PyTorch checkpoint, .npy/.npz,\n"
    "or an archive of one. Tensor bytes are copied unchanged unless --type asks for a cast;\n"
    "metadata and licence are kept. OUT is written to a temporary file beside it and renamed\n"
    "into place only when complete; IN is never modified.\n"
    "\n"
    "A Hugging Face model directory (config.json naming the model class) converted to GGUF\n"
    "becomes the file llama.cpp's convert_hf_to_gguf.py writes: llama.cpp's tensor names and\n"
    "transforms, <arch>.* hyper-parameters, general.* model-card keys and the tokenizer\n"
    "(SentencePiece or byte-level BPE), so llama.cpp and ollama run it. Architectures:\n"
    "Llama, Mistral, Mixtral, Qwen2, Qwen3, Qwen2-MoE, Qwen3-MoE, Gemma, Gemma2, Gemma3,\n"
    "DeepSeek-V2/V3.\n"
    "\n"
    "  --to gguf|safetensors   output format (default: from OUT's extension)\n"
    "  --type T                f32, f16, bf16: cast floating-point tensors (round to nearest\n"
    "                          even; NaN and infinities kept; GGUF keeps 1-D tensors f32).\n"
    "                          For a Hugging Face directory also auto (bf16 for a bf16 model,\n"
    "                          else f16, as --outtype auto), q8_0, and any llama-quantize\n"
    "                          preset (Q4_K_M, Q6_K, IQ4_XS, ...): quantized in the same pass,\n"
    "                          byte for byte what converting with auto and then\n"
    "                          llama-quantize gives (options as `tensorcast quantize`, e.g.\n"
    "                          --imatrix FILE, may follow)\n"
    "  --tokenizer-pre NAME    the llama.cpp pre-tokenizer name to write instead of detecting it\n"
    "  --vocab-only            metadata and tokenizer only, no tensors\n"
    "  --model-name NAME       general.name\n"
    "  --no-hf-map             keep a Hugging Face directory's own tensor names (no llama.cpp\n"
    "                          mapping, no tokenizer)\n"
    "  --dry-run               list the output tensors, types and sizes; write nothing\n"
    "  --license ID            set the licence (SPDX id, e.g. apache-2.0); also\n"
    "  --license-name NAME     --license-name and --license-link\n"
    "  --license-link URL\n"
    "  --max-shard-size SIZE   safetensors: write <stem>-00001-of-0000N.safetensors shards of at\n"
    "                          most SIZE (e.g. 5GB, 500MB, 2GiB) plus "
    "<stem>.safetensors.index.json\n"
    "  --split-max-size SIZE   GGUF: split into <stem>-00001-of-0000N.gguf of at most SIZE\n"
    "  --split-max-tensors N   GGUF: at most N tensors per split\n"
    "  --part I/N              GGUF split: write only files I, I+N, ... of the set,\n"
    "                          byte-identical to the full run's (one run per machine)\n"
    "  --include REGEX         write only tensors whose name matches REGEX (POSIX extended,\n"
    "                          anywhere in the name; repeatable)\n"
    "  --exclude REGEX         leave out tensors matching REGEX, e.g. --exclude 'mask$'\n"
    "                          for bool masks and integer buffers (repeatable)\n"
    "  --threads N             worker threads for casts (default: all cores)\n"
    "  --no-sync               do not fsync the output before renaming it into place\n"
    "                          (faster; after a crash the file may be incomplete)\n"
    "  --json                  print a JSON summary on stdout\n"
    "  -q, --quiet             no progress bar or summary\n"
    "  -h, --help              this help\n";

/* 1 when `out` names the same file as any input of the graph (or IN itself). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_convert(int argc, char **argv)
{
    enum {
        O_TO = 256,
        O_TYPE,
        O_LIC,
        O_LICN,
        O_LICL,
        O_SHARD,
        O_PRE,
        O_VOCAB,
        O_MNAME,
        O_NOMAP,
        O_DRY
    };
    /* --type PRESET: the quantizer's one-pass path (`quantize IN OUT PRESET [options]`) */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--type") == 0 && tc_preset_find(argv[i + 1]) &&
            tc_dtype_from_name(argv[i + 1]) != TC_DTYPE_F32 &&
            tc_dtype_from_name(argv[i + 1]) != TC_DTYPE_F16 &&
            tc_dtype_from_name(argv[i + 1]) != TC_DTYPE_BF16 &&
            strcasecmp(argv[i + 1], "q8_0") != 0) {
            char *qv[256];
            int qc = 0, npos = 0;
            const char *preset = argv[i + 1];
            qv[qc++] = "quantize";
            for (int k = 1; k < argc && qc < 250; k++) {
                if (k == i || k == i + 1)
                    continue;
                qv[qc++] = argv[k];
                npos += argv[k][0] != '-';
            }
            qv[qc++] = (char *)preset;
            qv[qc] = NULL;
            (void)npos;
            cli_set_args(qc, qv);
            return cmd_quantize(qc, qv);
        }
    static const struct option opts[] = {{"to", required_argument, 0, O_TO},
                                         {"type", required_argument, 0, O_TYPE},
                                         {"license", required_argument, 0, O_LIC},
                                         {"license-name", required_argument, 0, O_LICN},
                                         {"license-link", required_argument, 0, O_LICL},
                                         {"max-shard-size", required_argument, 0, O_SHARD},
                                         {"tokenizer-pre", required_argument, 0, O_PRE},
                                         {"vocab-only", no_argument, 0, O_VOCAB},
                                         {"model-name", required_argument, 0, O_MNAME},
                                         {"no-hf-map", no_argument, 0, O_NOMAP},
                                         {"dry-run", no_argument, 0, O_DRY},
                                         CLI_OPT_SPLIT,
                                         CLI_OPT_SPLITN,
                                         CLI_OPT_THREADS,
                                         CLI_OPT_NOSYNC,
                                         CLI_OPT_SELECT,
                                         CLI_OPT_PART,
                                         CLI_OPT_JSON,
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *to = NULL, *lic = NULL, *licn = NULL, *licl = NULL;
    int type = -1, c, copt, hf_type = -1 /* tc_hf_outtype */, no_map = 0, dry = 0;
    tc_hf_opts ho = {0};
    uint64_t shard = 0;
    cli_opts co = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case O_TO:
            to = optarg;
            if (strcmp(to, "gguf") != 0 && strcmp(to, "safetensors") != 0)
                return cli_usage_error("convert", "--to must be gguf or safetensors, not '%s'",
                                       optarg);
            break;
        case O_TYPE:
            type = tc_dtype_from_name(optarg);
            hf_type = strcasecmp(optarg, "auto") == 0 ? TC_HF_OUT_AUTO
                      : type == TC_DTYPE_F32          ? TC_HF_OUT_F32
                      : type == TC_DTYPE_F16          ? TC_HF_OUT_F16
                      : type == TC_DTYPE_BF16         ? TC_HF_OUT_BF16
                      : type == TC_DTYPE_Q8_0         ? TC_HF_OUT_Q8_0
                                                      : -1;
            if (hf_type < 0)
                return cli_usage_error("convert",
                                       "--type must be auto, f32, f16, bf16, q8_0 or a "
                                       "llama-quantize preset (see 'tensorcast quantize --help'), "
                                       "not '%s'",
                                       optarg);
            break;
        case O_PRE:
            ho.tokenizer_pre = optarg;
            break;
        case O_VOCAB:
            ho.vocab_only = 1;
            break;
        case O_MNAME:
            ho.model_name = optarg;
            break;
        case O_NOMAP:
            no_map = 1;
            break;
        case O_DRY:
            dry = 1;
            break;
        case O_LIC:
            lic = optarg;
            break;
        case O_LICN:
            licn = optarg;
            break;
        case O_LICL:
            licl = optarg;
            break;
        case O_SHARD:
            if (!cli_parse_size(optarg, &shard) || shard == 0)
                return cli_usage_error("convert", "bad --max-shard-size '%s'", optarg);
            break;
        case 'h':
            fputs(convert_help, stdout);
            return TC_EXIT_OK;
        default:
            if ((copt = cli_common_opt("convert", c, optarg, &co)) < 0)
                return cli_usage_error("convert", "bad option");
            if (copt != 0)
                return copt;
            break;
        }
    }
    if (argc - optind != 2 && !(dry && argc - optind == 1))
        return cli_usage_error("convert", "expected IN and OUT");
    const char *in = argv[optind], *out = argc - optind == 2 ? argv[optind + 1] : "dry-run.gguf";
    const tc_format *of = to ? tc_format_by_name(to) : tc_format_for_path(out);
    if (of == NULL)
        return cli_usage_error("convert",
                               "cannot tell the output format from '%s': name it .gguf or "
                               ".safetensors, or use --to",
                               out);
    int to_gguf = strcmp(of->name, "gguf") == 0;
    if (shard && to_gguf)
        return cli_usage_error("convert", "--max-shard-size is for safetensors; GGUF uses "
                                          "--split-max-size");
    if (co.part_n && (!to_gguf || !(co.split || co.splitn)))
        return cli_usage_error("convert", "--part is for split GGUF outputs: add "
                                          "--split-max-size or --split-max-tensors");
    if ((co.split || co.splitn) && !to_gguf)
        return cli_usage_error("convert", "--split-max-size/--split-max-tensors are for GGUF; "
                                          "safetensors uses --max-shard-size");

    double t0 = cli_now();
    tc_err e = {0};
    tc_graph *g;
    int hf = to_gguf && !no_map && tc_hf_is_model_dir(in);
    if (!hf && (ho.tokenizer_pre || ho.vocab_only || ho.model_name))
        return cli_usage_error("convert", "--tokenizer-pre, --vocab-only and --model-name are for "
                                          "a Hugging Face directory converted to GGUF");
    if (!hf && (type == TC_DTYPE_Q8_0 || (hf_type == TC_HF_OUT_AUTO && type < 0)))
        return cli_usage_error("convert", "--type auto and q8_0 are for a Hugging Face directory "
                                          "converted to GGUF (use 'tensorcast quantize' for "
                                          "other inputs)");
    if (hf) {
        tc_hf_outtype resolved;
        if (tc_hf_read(in, &ho, &g, &e) != TC_OK)
            return cli_fail(&e);
        if (tc_hf_set_outtype(g, hf_type < 0 ? TC_HF_OUT_AUTO : (tc_hf_outtype)hf_type, &resolved,
                              &e) != TC_OK) {
            tc_graph_free(g);
            return cli_fail(&e);
        }
        type = -1; /* the converter's per-tensor rules are applied */
    } else if (tc_read(in, &g, NULL, &e) != TC_OK) {
        return cli_fail(&e);
    }
    int rc = cli_select(g, &co);
    if (rc != 0) {
        tc_graph_free(g);
        return rc;
    }
    for (size_t i = 0; i < tc_graph_n_sources(g); i++)
        if (same_file(tc_graph_source(g, i, NULL), out) || same_file(in, out)) {
            fprintf(stderr, "%s: refusing to overwrite the input %s\n", tc_prog, out);
            tc_graph_free(g);
            return TC_EXIT_USAGE;
        }

    /* Plan each tensor's output type. */
    size_t nt = tc_graph_n_tensors(g);
    uint64_t in_bytes = 0, out_bytes = 0;
    for (size_t i = 0; i < nt; i++) {
        tc_tensor *t = tc_graph_tensor(g, i);
        int dt = tc_tensor_dtype(t), target = dt;
        const tc_dtype_info *di = tc_dtype_get(dt);
        in_bytes += tc_tensor_nbytes(t);
        if (type >= 0 && (di->is_float || di->is_quant))
            target = (to_gguf && tc_tensor_n_dims(t) <= 1) ? TC_DTYPE_F32 : type;
        else if (of->stores_as)
            target = of->stores_as(dt); /* what the format cannot hold, converted */
        if (target < 0) {
            char re[512];
            cli_regex_quote(tc_tensor_name(t), re, sizeof re);
            tc_err_set(&e, TC_E_UNSUPPORTED,
                       "tensor '%s': type %s cannot be stored in %s; leave it out with "
                       "--exclude '^%s$'",
                       tc_tensor_name(t), di->name, of->name, re);
            rc = cli_fail(&e);
            goto done;
        }
        if (target != dt && tc_tensor_convert(t, target, NULL, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        out_bytes += tc_tensor_nbytes(t);
    }
    if (lic || licn || licl) {
        tc_license before;
        tc_graph_license(g, &before);
        if (tc_graph_set_license(g, lic, licn, licl, "command line", &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        tc_license after;
        tc_graph_license(g, &after);
        if ((before.id || before.name) && !co.quiet &&
            ((before.id == NULL) != (after.id == NULL) ||
             (before.id && after.id && strcmp(before.id, after.id) != 0)))
            fprintf(stderr,
                    "%s: WARNING: the output carries licence '%s', the input carries '%s'\n",
                    tc_prog,
                    after.id     ? after.id
                    : after.name ? after.name
                                 : "(none)",
                    before.id ? before.id : before.name);
    }
    if (dry) {
        for (size_t i = 0; i < nt && !co.json; i++) {
            const tc_tensor *t = tc_graph_tensor(g, i);
            char shp[96] = "";
            size_t k = 0;
            for (int d = 0; d < tc_tensor_n_dims(t); d++)
                k += (size_t)snprintf(shp + k, sizeof shp - k, "%s%lld", d ? ", " : "",
                                      (long long)tc_tensor_shape(t)[d]);
            printf("%-40s [%s] %s %llu bytes\n", tc_tensor_name(t), shp,
                   tc_dtype_get(tc_tensor_dtype(t))->name, (unsigned long long)tc_tensor_nbytes(t));
        }
        if (co.json) {
            json_t *o = json_object(), *arr = json_array();
            for (size_t i = 0; i < nt; i++) {
                const tc_tensor *t = tc_graph_tensor(g, i);
                json_t *r = json_object(), *sh = json_array();
                for (int d = 0; d < tc_tensor_n_dims(t); d++)
                    json_array_append_new(sh, json_integer(tc_tensor_shape(t)[d]));
                json_object_set_new(r, "name", json_string(tc_tensor_name(t)));
                json_object_set_new(r, "dtype",
                                    json_string(tc_dtype_get(tc_tensor_dtype(t))->name));
                json_object_set_new(r, "shape", sh);
                json_object_set_new(r, "bytes", json_integer((json_int_t)tc_tensor_nbytes(t)));
                json_array_append_new(arr, r);
            }
            json_object_set_new(o, "input", json_string(in));
            json_object_set_new(o, "dry_run", json_true());
            json_object_set_new(o, "tensor_count", json_integer((json_int_t)nt));
            json_object_set_new(o, "output_tensor_bytes", json_integer((json_int_t)out_bytes));
            json_object_set_new(o, "tensors", arr);
            cli_print_json(o, 0);
            json_decref(o);
        } else {
            char b2[32];
            cli_fmt_bytes(out_bytes, b2, sizeof b2);
            printf("would write %zu tensors, %s of tensor data\n", nt, b2);
        }
        goto done;
    }

    tc_write_opts wo;
    tc_status st = cli_write(g, out, of->name, "converting", &co, shard, NULL, &wo, &e);
    if (st != TC_OK) {
        rc = cli_fail(&e);
    } else if (co.json) {
        json_t *o = json_object();
        json_object_set_new(o, "input", json_string(in));
        json_object_set_new(o, "input_format", json_string(tc_graph_format(g)));
        json_object_set_new(o, "output_format", json_string(of->name));
        json_object_set_new(o, "tensor_count", json_integer((json_int_t)nt));
        json_object_set_new(o, "input_bytes", json_integer((json_int_t)in_bytes));
        json_object_set_new(o, "output_tensor_bytes", json_integer((json_int_t)out_bytes));
        json_object_set_new(o, "seconds", cli_json_real(cli_now() - t0));
        json_object_set_new(o, "files", cli_written_json(&wo));
        cli_print_json(o, 0);
        json_decref(o);
    } else if (!co.quiet) {
        char b1[32], b2[32];
        cli_fmt_bytes(in_bytes, b1, sizeof b1);
        cli_fmt_bytes(out_bytes, b2, sizeof b2);
        printf("converted %s (%s) -> %s: %zu tensors, %s -> %s, %.2f s\n", in, tc_graph_format(g),
               of->name, nt, b1, b2, cli_now() - t0);
        cli_print_written(&wo);
    }
    cli_free_written(&wo);
done:
    tc_graph_free(g);
    return rc;
}
