/*
 * fuzz_spm.c - hf_vocab.c's SentencePiece tokenizer.model (protobuf ModelProto) reader over
 * arbitrary bytes. An accepted model has at least one piece; a rejected one says why; the answer
 * does not depend on bytes past the input (the input is copied to an exact-size buffer).
 */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_spm: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    if (size)
        memcpy(copy, data, size);
    tc_err e = {0};
    uint64_t n = 0;
    tc_status st = tc_hf_spm_check(copy, size, &n, &e);
    if (st != TC_OK) {
        fuzz_check(st == TC_E_FORMAT || st == TC_E_LIMIT || st == TC_E_NOMEM, "unexpected status");
        fuzz_check(e.msg[0] != 0, "error without a message");
    } else {
        fuzz_check(n > 0, "accepted a model without pieces");
        fuzz_check(size > 0, "accepted empty input");
    }
    tc_err e2 = {0};
    uint64_t n2 = 0;
    fuzz_check(tc_hf_spm_check(copy, size, &n2, &e2) == st, "not deterministic");
    fuzz_check(st != TC_OK || n2 == n, "piece count changed");
    free(copy);
    return 0;
}
