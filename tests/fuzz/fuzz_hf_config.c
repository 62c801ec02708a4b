/*
 * fuzz_hf_config.c - a Hugging Face config.json over arbitrary bytes: the architecture lookup,
 * transformers' defaults, the hyper-parameter writers of every architecture, rope scaling,
 * quantization_config, and the tokenizer dispatch after them (--vocab-only: no weight files;
 * the tiny SentencePiece tokenizer of fixtures/tiny-llama sits beside the config). Nothing may
 * crash, hang or leak; refusals carry a message.
 */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_hf_config_%d", (int)getpid());
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp '" TC_FUZZ_SRC_DIR
             "/fixtures/tiny-llama/tokenizer.model' '" TC_FUZZ_SRC_DIR
             "/fixtures/tiny-llama/tokenizer_config.json' '%s/'",
             dir, dir);
    if (system(cmd) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "wb");
    if (f == NULL)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    tc_hf_opts o = {.vocab_only = 1};
    tc_graph *g = NULL;
    tc_err e = {0};
    tc_status st = tc_hf_read(dir, &o, &g, &e);
    if (st != TC_OK && e.msg[0] == 0) {
        fprintf(stderr, "fuzz_hf_config: refused without a message\n");
        abort();
    }
    tc_graph_free(g);
    return 0;
}
