/*
 * fuzz_spm.c - hf_vocab.c's SentencePiece tokenizer.model (protobuf ModelProto) reader over
 * arbitrary bytes. An accepted model has at least one piece; a rejected one says why; the answer
 * does not depend on bytes past the input (the input is copied to an exact-size buffer).
 */
#include "fuzz_util.h"
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        tc_fuzz_check("fuzz_spm", st == TC_E_FORMAT || st == TC_E_LIMIT || st == TC_E_NOMEM,
                      "unexpected status");
        tc_fuzz_check("fuzz_spm", e.msg[0] != 0, "error without a message");
    } else {
        tc_fuzz_check("fuzz_spm", n > 0, "accepted a model without pieces");
        tc_fuzz_check("fuzz_spm", size > 0, "accepted empty input");
    }
    tc_err e2 = {0};
    uint64_t n2 = 0;
    tc_fuzz_check("fuzz_spm", tc_hf_spm_check(copy, size, &n2, &e2) == st, "not deterministic");
    tc_fuzz_check("fuzz_spm", st != TC_OK || n2 == n, "piece count changed");
    free(copy);
    return 0;
}
