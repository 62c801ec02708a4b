/* main.c - the tensorcast command table. */
#include "cli.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"inspect", cmd_inspect, "show format, tensors, metadata and licence of a model"},
    {"convert", cmd_convert, "convert between safetensors, GGUF, PyTorch and NumPy layouts"},
    {"quantize", cmd_quantize, "quantize to GGUF with llama.cpp's presets (Q4_K_M, Q5_K_S, ...)"},
    {"verify", cmd_verify, "check structure, digests and licence of a model"},
    {"diff", cmd_diff, "per-tensor RMSE, max error and cosine similarity of two models"},
    {"pack", cmd_pack, "bundle a model with its licence, notices and SHA256SUMS (.tar.zst)"},
    {"bench", cmd_bench, "quantize/dequantize throughput per type and kernel set"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: tensorcast <command> [options]\n"
               "\n"
               "Convert, quantize and verify open-weight model files.\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "'tensorcast <command> --help' describes a command.\n"
               "exit codes: 0 ok, 1 verification failed, 2 usage, 3 bad or unsupported input,\n"
               "            4 I/O error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return TC_EXIT_OK;
    }
    char isa_msg[256];
    if (tc_isa_env_check(isa_msg, sizeof isa_msg) != 0) {
        fprintf(stderr, "tensorcast: %s\n", isa_msg);
        return TC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tensorcast %s (kernels: %s)\n", TC_VERSION_STRING, tc_isa_name(tc_isa_active()));
        return TC_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            cli_install_signals();
            cli_set_args(argc - 1, argv + 1);
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "tensorcast: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return TC_EXIT_USAGE;
}
