/* cli.h - shared pieces of the command-line tool. */
#ifndef TC_CLI_H
#define TC_CLI_H

#include "tensorcast.h"

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

/* Progress bar on stderr when it is a terminal and not quiet. */
typedef struct cli_progress {
    int enabled;
    const char *label;
    double t0, last;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, int quiet);
void cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void cli_progress_done(cli_progress *p);
double cli_now(void);

/* Install SIGINT/SIGTERM/SIGHUP handlers that remove temporary outputs before exiting. */
void cli_install_signals(void);

/* Commands. */
int cmd_inspect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
