/*
 * fuzz_spm.c - the SentencePiece tokenizer.model reader (protobuf, parsed by hf_vocab.c) over
 * arbitrary bytes: never a crash, a hang or a read past the input; a refusal has a message.
 */
#include "hf.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_err e = {0};
    size_t n = 0;
    if (tc_hf_spm_parse(data, size, "fuzz.model", &n, &e) != TC_OK) {
        if (e.msg[0] == 0) {
            fprintf(stderr, "fuzz_spm: refused without a message\n");
            abort();
        }
    } else if (n == 0) {
        fprintf(stderr, "fuzz_spm: accepted a model without pieces\n");
        abort();
    }
    return 0;
}
