/* cmd_convert.c - `tensorcast convert IN OUT [--to F] [--type T] ...`. */
#include "cli.h"

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
    "  --to gguf|safetensors   output format (default: from OUT's extension)\n"
    "  --type f32|f16|bf16     cast floating-point tensors (round to nearest even; NaN and\n"
    "                          infinities kept). For GGUF output 1-D tensors (norms, biases)\n"
    "                          stay f32, as llama.cpp's converter does. Quantized tensors are\n"
    "                          dequantized (to f32 by default when writing safetensors).\n"
    "  --license ID            set the licence (SPDX id, e.g. apache-2.0); also\n"
    "  --license-name NAME     --license-name and --license-link\n"
    "  --license-link URL\n"
    "  --max-shard-size SIZE   safetensors: write <stem>-00001-of-0000N.safetensors shards of at\n"
    "                          most SIZE (e.g. 5GB, 500MB, 2GiB) plus "
    "<stem>.safetensors.index.json\n"
    "  --split-max-size SIZE   GGUF: split into <stem>-00001-of-0000N.gguf of at most SIZE\n"
    "  --split-max-tensors N   GGUF: at most N tensors per split\n"
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
    enum { O_TO = 256, O_TYPE, O_LIC, O_LICN, O_LICL, O_SHARD };
    static const struct option opts[] = {{"to", required_argument, 0, O_TO},
                                         {"type", required_argument, 0, O_TYPE},
                                         {"license", required_argument, 0, O_LIC},
                                         {"license-name", required_argument, 0, O_LICN},
                                         {"license-link", required_argument, 0, O_LICL},
                                         {"max-shard-size", required_argument, 0, O_SHARD},
                                         CLI_OPT_SPLIT,
                                         CLI_OPT_SPLITN,
                                         CLI_OPT_THREADS,
                                         CLI_OPT_NOSYNC,
                                         CLI_OPT_JSON,
                                         CLI_OPT_QUIET,
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *to = NULL, *lic = NULL, *licn = NULL, *licl = NULL;
    int type = -1, c, copt;
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
            if (type != TC_DTYPE_F32 && type != TC_DTYPE_F16 && type != TC_DTYPE_BF16)
                return cli_usage_error("convert",
                                       "--type must be f32, f16 or bf16 (use 'tensorcast quantize' "
                                       "for quantized types), not '%s'",
                                       optarg);
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
    if (argc - optind != 2)
        return cli_usage_error("convert", "expected IN and OUT");
    const char *in = argv[optind], *out = argv[optind + 1];
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
    if ((co.split || co.splitn) && !to_gguf)
        return cli_usage_error("convert", "--split-max-size/--split-max-tensors are for GGUF; "
                                          "safetensors uses --max-shard-size");

    double t0 = cli_now();
    tc_err e = {0};
    tc_graph *g;
    if (tc_read(in, &g, NULL, &e) != TC_OK)
        return cli_fail(&e);
    int rc = TC_EXIT_OK;
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
        else if (di->is_quant && !to_gguf)
            target = TC_DTYPE_F32; /* safetensors has no block types: dequantize */
        else if (to_gguf && (dt == TC_DTYPE_F8_E4M3 || dt == TC_DTYPE_F8_E5M2))
            target = TC_DTYPE_F16; /* GGUF has no fp8; f16 holds every fp8 value exactly */
        if (target != dt && tc_tensor_convert(t, target, NULL, &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
        out_bytes += tc_tensor_nbytes(t);
    }
    if (lic || licn || licl) {
        if (tc_graph_set_license(g, lic, licn, licl, "command line", &e) != TC_OK) {
            rc = cli_fail(&e);
            goto done;
        }
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
