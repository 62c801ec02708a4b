/*
 * lib_example.c - the README's library example as a whole program: quantize a model with a
 * llama-quantize preset as `tensorcast quantize IN OUT PRESET --no-provenance` does. The test
 * script compiles it against the installed library (pkg-config) and compares its output file
 * with the CLI's, byte for byte.
 *   lib_example IN OUT PRESET
 */
#include <tensorcast.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: lib_example IN OUT PRESET\n");
        return 2;
    }
    tc_err e = {0};
    tc_graph *g;
    if (tc_read(argv[1], &g, NULL, &e) != TC_OK) { /* any format tensorcast reads */
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    tc_quant_opts o;
    tc_quant_opts_init(&o);
    o.preset = argv[3]; /* any llama-quantize preset */
    tc_quant_plan *p;
    if (tc_quant_plan_new(g, &o, &p, &e) == TC_OK) { /* every tensor's type, as llama.cpp picks */
        for (size_t i = 0; i < tc_quant_plan_len(p); i++)
            printf("%s -> %s\n", tc_quant_plan_step(p, i)->name,
                   tc_dtype_get(tc_quant_plan_step(p, i)->to)->name);
        tc_write_opts w = {0};
        if (tc_quant_apply(p, g, &e) == TC_OK) /* lazy conversions, llama.cpp's order */
            tc_write(g, argv[2], "gguf", &w, &e);
        tc_quant_plan_free(p);
    }
    tc_graph_free(g);
    if (e.code != TC_OK) { /* e.msg says what went wrong */
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}
