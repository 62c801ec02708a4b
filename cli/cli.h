/* cli.h - shared pieces of the command-line tool. */
#ifndef TC_CLI_H
#define TC_CLI_H

#include "hf.h"
#include "tensorcast.h"

#include <jansson.h>
#include <stdio.h>

/* Exit codes (DESIGN.md). */
enum {
    TC_EXIT_OK = 0,
    TC_EXIT_VERIFY = 1, /* verification failed */
    TC_EXIT_USAGE = 2,
    TC_EXIT_INPUT = 3, /* bad or unsupported input */
    TC_EXIT_IO = 4     /* I/O error, out of memory */
};

extern const char *tc_prog;

/* Map a library status to an exit code. */
int cli_exit_code(tc_status s);
/* Print "tensorcast: <msg>" for an error and return its exit code. */
int cli_fail(const tc_err *e);
/* Print a usage error and return TC_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) TC_PRINTF(2, 3);

/* Parse "500M", "2G", "1.5GB" (decimal, as gguf-split), "4GiB" (binary), or plain bytes. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse a non-negative integer. */
int cli_parse_uint(const char *s, uint64_t *out);
/* "1.5 GiB" */
void cli_fmt_bytes(uint64_t n, char *buf, size_t cap);
/* "7.24 B", "1.3 M" */
void cli_fmt_count(uint64_t n, char *buf, size_t cap);

/* Options several commands share: their getopt_long codes (use the CLI_OPT_* entries in the
 * command's option table) and values. */
enum {
    CLI_O_SPLIT = 0x1000,
    CLI_O_SPLITN,
    CLI_O_THREADS,
    CLI_O_JSON,
    CLI_O_NOSYNC,
    CLI_O_NOPROV,
    CLI_O_INCLUDE,
    CLI_O_EXCLUDE,
    CLI_O_PART
};
#define CLI_OPT_SPLIT                                                                              \
    {                                                                                              \
        "split-max-size", required_argument, 0, CLI_O_SPLIT                                        \
    }
#define CLI_OPT_SPLITN                                                                             \
    {                                                                                              \
        "split-max-tensors", required_argument, 0, CLI_O_SPLITN                                    \
    }
#define CLI_OPT_THREADS                                                                            \
    {                                                                                              \
        "threads", required_argument, 0, CLI_O_THREADS                                             \
    }
#define CLI_OPT_JSON                                                                               \
    {                                                                                              \
        "json", no_argument, 0, CLI_O_JSON                                                         \
    }
/* the output options of commands that write models: --no-sync and --no-provenance */
#define CLI_OPT_NOSYNC                                                                             \
    {"no-sync", no_argument, 0, CLI_O_NOSYNC},                                                     \
    {                                                                                              \
        "no-provenance", no_argument, 0, CLI_O_NOPROV                                              \
    }
/* --include REGEX / --exclude REGEX: which tensors to write (repeatable) */
#define CLI_OPT_SELECT                                                                             \
    {"include", required_argument, 0, CLI_O_INCLUDE},                                              \
    {                                                                                              \
        "exclude", required_argument, 0, CLI_O_EXCLUDE                                             \
    }
#define CLI_SELECT_MAX 64
/* --part I/N: write only this run's share of a split GGUF set (see tc_write_opts.part_index) */
#define CLI_OPT_PART                                                                               \
    {                                                                                              \
        "part", required_argument, 0, CLI_O_PART                                                   \
    }
#define CLI_OPT_QUIET                                                                              \
    {                                                                                              \
        "quiet", no_argument, 0, 'q'                                                               \
    }
typedef struct cli_opts {
    uint64_t split;    /* --split-max-size (bytes), 0: none */
    uint64_t splitn;   /* --split-max-tensors, 0: none */
    uint64_t threads;  /* --threads 1..256, 0: default */
    int json, quiet;   /* --json, -q/--quiet */
    int no_sync;       /* --no-sync: skip fsync before the rename */
    int no_provenance; /* --no-provenance: no tensorcast.provenance.* keys */
    const char *include[CLI_SELECT_MAX], *exclude[CLI_SELECT_MAX]; /* --include/--exclude */
    size_t n_include, n_exclude;
    uint32_t part_i, part_n; /* --part I/N, 0/0: all */
} cli_opts;
/* Apply --include/--exclude to `g` (a note on stderr says how many were dropped unless quiet);
 * an error is printed and its exit code returned, else 0. */
int cli_select(tc_graph *g, const cli_opts *o);
/* `s` with the POSIX extended regex metacharacters backslash-escaped (truncated to fit). */
void cli_regex_quote(const char *s, char *out, size_t cap);
/* Take getopt_long's result `c` (value `arg`) for command `cmd` if it is one of the shared
 * options: 0 when taken, TC_EXIT_USAGE after a usage error for a bad value, -1 when `c` is not
 * one of them. */
int cli_common_opt(const char *cmd, int c, const char *arg, cli_opts *o);

/* tc_write `g` to `out` as `format` with co's split limits (`max_bytes`, when not 0, instead of
 * co->split) and threads, behind a progress bar labelled `label` (off with -q/--json); `part_of`
 * (or NULL): GGUF part of each tensor (tc_write_opts.part_of). `wo` is reset first and lists the
 * written files afterwards (cli_free_written). */
tc_status cli_write(const tc_graph *g, const char *out, const char *format, const char *label,
                    const cli_opts *co, uint64_t max_bytes, const uint32_t *part_of,
                    tc_write_opts *wo, tc_err *e);

/* A JSON number, or null for NaN and infinities (never a dropped key). */
json_t *cli_json_real(double x);
/* --json seen: failures (cli_fail, cli_usage_error) also print {"ok": false, "error": ...}. */
void cli_set_json(int on);
/* Print a JSON document on stdout, indented, with `flags` added to the dump flags; "ok" first
 * (true when the document has none). */
void cli_print_json(const json_t *o, size_t flags);
/* The files a tc_write wrote: as a JSON array, as "  wrote <path>" lines on stdout, freed. */
json_t *cli_written_json(const tc_write_opts *wo);
void cli_print_written(const tc_write_opts *wo);
/* The licence class and its facts: two indented lines and a "not legal advice" note (text), or
 * "class" and "notes" members of a licence object (JSON). */
void cli_print_license_facts(FILE *f, const tc_license_facts *lf);
void cli_license_facts_json(json_t *license, const tc_license_facts *lf);
void cli_free_written(tc_write_opts *wo);

/* Progress bar on stderr when it is a terminal and not quiet. */
typedef struct cli_progress {
    int enabled;
    const char *label;
    double t0, last;
    char item[96]; /* the tensor or file being worked on */
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, int quiet);
/* tc_progress callbacks: bytes done of total (bar, bytes, rate, ETA) and the current item. */
void cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void cli_progress_item(void *ctx, const char *name);
void cli_progress_done(cli_progress *p);
double cli_now(void);

/* Install SIGINT/SIGTERM/SIGHUP handlers that remove temporary outputs before exiting. */
void cli_install_signals(void);

/* verify on a store (Hugging Face cache, --local-dir download, ollama manifest). */
typedef struct cli_verify_store_opts {
    int require_license;
    unsigned allow_classes; /* bit per tc_license_class, 0: any */
} cli_verify_store_opts;
int cli_verify_store(const char *path, const cli_verify_store_opts *vo, const cli_opts *co);
/* verify on a bundle written by `tensorcast pack` (SHA256SUMS, TENSORS.sha256). */
int cli_verify_bundle(const char *path, const cli_verify_store_opts *vo, const cli_opts *co);

/* The running command's argument vector (after the program name; getopt permutes it, so the
 * options come first), for the provenance record. */
void cli_set_args(int argc, char **argv);
void cli_get_args(int *argc, char ***argv);

/* verify_prov.c: the provenance check (0, or an exit code for a hard error; *failed set on a
 * mismatch), llama-gguf-hash's report, and its --hash list. */
enum { CLI_HASH_XXH64 = 1, CLI_HASH_SHA1 = 2, CLI_HASH_SHA256 = 4 };
int cli_verify_provenance(const tc_graph *g, const char *path, const tc_graph *source,
                          const cli_opts *co, json_t *report, int *failed);
int cli_print_gguf_hash(const tc_graph *g, const char *path, unsigned mask);
int cli_hash_list(const char *list, unsigned *mask);

/* Read IN: a Hugging Face model directory is mapped as llama.cpp's converter writes it with
 * --outtype auto (*is_hf set); anything else through tc_read. */
tc_status cli_read_model(const char *in, const tc_hf_opts *ho, tc_graph **g, int *is_hf, tc_err *e);

/* Commands. */
int cmd_inspect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
