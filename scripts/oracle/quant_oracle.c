/*
 * quant_oracle.c - llama.cpp's quantizer from the command line, for comparisons and timing
 * against `tensorcast quantize` (uses the oracle libraries under $TC_ORACLE_DIR/llama).
 *
 *   cc -O2 -Itests -Iquant -Iformats scripts/oracle/quant_oracle.c -o quant_oracle -ldl -lm
 *   quant_oracle make OUT.gguf N_LAYER N_EMBD N_FF [f16]  synthetic llama model (GQA 4)
 *   quant_oracle quantize IN OUT FTYPE [THREADS [keep-split]]  llama_model_quantize, timed
 *   quant_oracle types FILE                                tensor names and types
 */
#include "llama_oracle.h"

#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    lo_api a;
    if (!lo_open(&a)) {
        fprintf(stderr, "oracle not found under %s/llama (set TC_ORACLE_DIR)\n", TC_ORACLE_DIR);
        return 3;
    }
    if (argc >= 6 && strcmp(argv[1], "make") == 0) {
        static lo_model m;
        lo_shape s = {.n_layer = atoi(argv[3]), .n_head = 16, .n_head_kv = 4};
        s.n_embd = atoi(argv[4]);
        s.n_ff = atoi(argv[5]);
        s.rows = s.n_embd;
        s.vocab = 4096;
        lo_build(&m, &s);
        if (argc > 6 && strcmp(argv[6], "f16") == 0)
            for (int i = 0; i < m.n; i++)
                if (m.t[i].n_dims >= 2)
                    m.t[i].type = 1;
        return lo_write(&a, &m, argv[2]) ? 0 : 4;
    }
    if (argc >= 5 && strcmp(argv[1], "quantize") == 0) {
        lo_qparams p = lo_params(&a, atoi(argv[4]));
        p.nthread = argc > 5 ? atoi(argv[5]) : 1;
        p.keep_split = argc > 6 && strcmp(argv[6], "keep-split") == 0;
        double t0 = now();
        uint32_t rc = a.quantize(argv[2], argv[3], &p);
        printf("llama_model_quantize: %s, %.3f s\n", rc ? lo_last_error : "ok", now() - t0);
        return rc ? 3 : 0;
    }
    if (argc >= 3 && strcmp(argv[1], "types") == 0) {
        static char names[LO_MAX_TENSORS][64];
        static int types[LO_MAX_TENSORS];
        int n = lo_read_types(&a, argv[2], names, types, LO_MAX_TENSORS);
        for (int i = 0; i < n; i++)
            printf("%s %d\n", names[i], types[i]);
        return n < 0 ? 3 : 0;
    }
    fprintf(stderr, "usage: quant_oracle make|quantize|types ... (see the source)\n");
    return 2;
}
