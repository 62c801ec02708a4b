/*
 * iq_tables.c - derive ggml's IQ lattice tables from llama.cpp's own dequantizers and print
 * quant/iq_tables.c.
 *
 * The grids of IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S and IQ1_S/IQ1_M (and the parity-completed
 * sign table ksigns_iq2xs) are facts of the file format. Rather than transcribing them, this
 * program dlopens libggml-base.so, feeds its dequantize_row_<type> crafted blocks (d = 1.0, the
 * smallest sub-block scale, every sign off, one grid index per 8-element group) and reads each
 * grid entry back from the floats, checking that every value decodes exactly. A second pass
 * walks the 128 sign patterns through IQ2_XXS to read ksigns back, and checks the parity rule.
 *
 * Build and run (from the repository root):
 *   cc -O1 -std=c11 -o /tmp/gen_iq_tables scripts/gen/iq_tables.c -ldl
 *   /tmp/gen_iq_tables .oracle/llama/libggml-base.so > quant/iq_tables.c
 *   clang-format -i quant/iq_tables.c
 * Exit status 0 on success; 1 (with a message on stderr) when the library is missing or any
 * value read back is not what the format allows.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*deq_fn)(const void *src, float *dst, int64_t k);

#define QK    256
#define H_ONE 0x3c00 /* fp16 1.0 */

static void *lib;
static int failed;

static deq_fn get(const char *name)
{
    char sym[64];
    snprintf(sym, sizeof sym, "dequantize_row_%s", name);
    deq_fn f = (deq_fn)dlsym(lib, sym);
    if (f == NULL) {
        fprintf(stderr, "gen_iq_tables: %s not found\n", sym);
        exit(1);
    }
    return f;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* v * scale must be an integer in [lo, hi]; return it. */
static int decode(float v, float scale, float offset, int lo, int hi, const char *what, int idx)
{
    float t = v * scale - offset;
    int i = (int)t;
    if ((float)i != t || i < lo || i > hi) {
        fprintf(stderr, "gen_iq_tables: %s[%d]: unexpected value %.9g\n", what, idx, (double)v);
        failed = 1;
    }
    return i;
}

/* ===== 2-bit grids: 8 unsigned bytes per entry ===== */

/* IQ2_XXS: 66-byte block, d then per 32-group two u32: 4 grid bytes, then 4x7 sign bits and a
 * 4-bit scale. Scale 0 gives db = d * 0.5 * 0.25 = 0.125. */
static void grid_iq2_xxs(uint64_t *grid)
{
    deq_fn f = get("iq2_xxs");
    for (int base = 0; base < 256; base += 32) {
        uint8_t b[66] = {0};
        float y[QK];
        put16(b, H_ONE);
        for (int g = 0; g < 32; g++) /* group g: sub-block g/4, slot g%4 */
            b[2 + 8 * (g / 4) + (g % 4)] = (uint8_t)(base + g);
        f(b, y, QK);
        for (int g = 0; g < 32; g++) {
            uint64_t e = 0;
            for (int j = 0; j < 8; j++)
                e |= (uint64_t)decode(y[8 * g + j], 8.0f, 0, 0, 255, "iq2xxs_grid", base + g)
                     << (8 * j);
            grid[base + g] = e;
        }
    }
}

/* ksigns_iq2xs through IQ2_XXS: grid entry 0, sign index s in slot 0 of sub-block 0. */
static void signs_iq2(uint8_t *ks)
{
    deq_fn f = get("iq2_xxs");
    for (int s = 0; s < 128; s++) {
        uint8_t b[66] = {0};
        float y[QK];
        put16(b, H_ONE);
        put16(b + 6, (uint16_t)s); /* aux32[1] bits 0..6 */
        f(b, y, QK);
        uint8_t m = 0;
        for (int j = 0; j < 8; j++)
            if (signbit(y[j]))
                m |= (uint8_t)(1u << j);
        int parity = __builtin_popcount((unsigned)s) & 1;
        if (m != (uint8_t)(s | parity << 7)) {
            fprintf(stderr, "gen_iq_tables: ksigns[%d] = %#x breaks the parity rule\n", s, m);
            failed = 1;
        }
        ks[s] = m;
    }
}

/* IQ2_XS: 74-byte block: d, 32 u16 (9-bit index | 7-bit sign index << 9), 8 scale bytes. */
static void grid_iq2_xs(uint64_t *grid)
{
    deq_fn f = get("iq2_xs");
    for (int base = 0; base < 512; base += 32) {
        uint8_t b[74] = {0};
        float y[QK];
        put16(b, H_ONE);
        for (int g = 0; g < 32; g++)
            put16(b + 2 + 2 * g, (uint16_t)(base + g));
        f(b, y, QK);
        for (int g = 0; g < 32; g++) {
            uint64_t e = 0;
            for (int j = 0; j < 8; j++)
                e |= (uint64_t)decode(y[8 * g + j], 8.0f, 0, 0, 255, "iq2xs_grid", base + g)
                     << (8 * j);
            grid[base + g] = e;
        }
    }
}

/* IQ2_S: 82-byte block: d, qs[32] low index bytes, signs[32], qh[8] (2 high bits per group),
 * scales[8]. */
static void grid_iq2_s(uint64_t *grid)
{
    deq_fn f = get("iq2_s");
    for (int base = 0; base < 1024; base += 32) {
        uint8_t b[82] = {0};
        float y[QK];
        put16(b, H_ONE);
        for (int g = 0; g < 32; g++) {
            int idx = base + g;
            b[2 + g] = (uint8_t)idx;
            b[2 + 64 + g / 4] |= (uint8_t)((idx >> 8) << (2 * (g % 4)));
        }
        f(b, y, QK);
        for (int g = 0; g < 32; g++) {
            uint64_t e = 0;
            for (int j = 0; j < 8; j++)
                e |= (uint64_t)decode(y[8 * g + j], 8.0f, 0, 0, 255, "iq2s_grid", base + g)
                     << (8 * j);
            grid[base + g] = e;
        }
    }
}

/* ===== 3-bit grids: 4 unsigned bytes per entry ===== */

/* IQ3_XXS: 98-byte block: d, qs[64] (one index per 4 elements), 8 u32 of signs + scale.
 * Scale 0 gives db = d * 0.5 * 0.5 = 0.25. */
static void grid_iq3_xxs(uint32_t *grid)
{
    deq_fn f = get("iq3_xxs");
    for (int base = 0; base < 256; base += 64) {
        uint8_t b[98] = {0};
        float y[QK];
        put16(b, H_ONE);
        for (int g = 0; g < 64; g++)
            b[2 + g] = (uint8_t)(base + g);
        f(b, y, QK);
        for (int g = 0; g < 64; g++) {
            uint32_t e = 0;
            for (int j = 0; j < 4; j++)
                e |= (uint32_t)decode(y[4 * g + j], 4.0f, 0, 0, 255, "iq3xxs_grid", base + g)
                     << (8 * j);
            grid[base + g] = e;
        }
    }
}

/* IQ3_S: 110-byte block: d, qs[64] low index bytes, qh[8] (bit k of qh[s] = 9th bit of qs[8s+k]),
 * signs[32], scales[4]. Scale 0 gives db = d * 1. */
static void grid_iq3_s(uint32_t *grid)
{
    deq_fn f = get("iq3_s");
    for (int base = 0; base < 512; base += 64) {
        uint8_t b[110] = {0};
        float y[QK];
        put16(b, H_ONE);
        for (int g = 0; g < 64; g++) {
            int idx = base + g;
            b[2 + g] = (uint8_t)idx;
            b[2 + 64 + g / 8] |= (uint8_t)((idx >> 8) << (g % 8));
        }
        f(b, y, QK);
        for (int g = 0; g < 64; g++) {
            uint32_t e = 0;
            for (int j = 0; j < 4; j++)
                e |= (uint32_t)decode(y[4 * g + j], 1.0f, 0, 0, 255, "iq3s_grid", base + g)
                     << (8 * j);
            grid[base + g] = e;
        }
    }
}

/* ===== 1-bit grid: 8 signed bytes (-1, 0, +1) per entry ===== */

/* IQ1_S: 50-byte block: d, qs[32] low index bytes, qh[8] u16 (3 high bits per group, 3-bit
 * scale, delta sign). Scale 0 and positive delta give y = grid + 0.125. */
static void grid_iq1_s(uint64_t *grid)
{
    deq_fn f = get("iq1_s");
    for (int base = 0; base < 2048; base += 32) {
        uint8_t b[50] = {0};
        float y[QK];
        put16(b, H_ONE);
        uint16_t qh[8] = {0};
        for (int g = 0; g < 32; g++) {
            int idx = base + g;
            b[2 + g] = (uint8_t)idx;
            qh[g / 4] |= (uint16_t)((idx >> 8) << (3 * (g % 4)));
        }
        for (int s = 0; s < 8; s++)
            put16(b + 34 + 2 * s, qh[s]);
        f(b, y, QK);
        for (int g = 0; g < 32; g++) {
            uint64_t e = 0;
            for (int j = 0; j < 8; j++) {
                int v = decode(y[8 * g + j], 1.0f, 0.125f, -1, 1, "iq1s_grid", base + g);
                e |= (uint64_t)(uint8_t)(int8_t)v << (8 * j);
            }
            grid[base + g] = e;
        }
    }
}

/* Cross-check IQ1_M (which shares iq1s_grid): its block has no d field, the fp16 scale is
 * spread over the top nibbles of the four u16 scale words. d = 1.0, all sub-scales 0, deltas +. */
static void check_iq1_m(const uint64_t *grid)
{
    deq_fn f = get("iq1_m");
    for (int base = 0; base < 2048; base += 32) {
        uint8_t b[56] = {0};
        float y[QK];
        for (int g = 0; g < 32; g++) {
            int idx = base + g;
            b[g] = (uint8_t)idx;
            b[32 + g / 2] |= (uint8_t)((idx >> 8) << (4 * (g % 2)));
        }
        for (int s = 0; s < 4; s++) /* nibble s of 0x3c00 goes to the top of word s */
            put16(b + 48 + 2 * s, (uint16_t)(((H_ONE >> (4 * s)) & 0xf) << 12));
        f(b, y, QK);
        for (int g = 0; g < 32; g++)
            for (int j = 0; j < 8; j++) {
                int v = decode(y[8 * g + j], 1.0f, 0.125f, -1, 1, "iq1m check", base + g);
                if (v != (int8_t)(grid[base + g] >> (8 * j))) {
                    fprintf(stderr, "gen_iq_tables: iq1_m disagrees with iq1_s at %d\n", base + g);
                    failed = 1;
                }
            }
    }
}

/* ===== Output ===== */

static void emit64(const char *name, const uint64_t *t, int n)
{
    printf("const uint64_t %s[%d] = {\n", name, n);
    for (int i = 0; i < n; i++)
        printf("0x%016" PRIx64 ",%s", t[i], (i % 4 == 3) ? "\n" : " ");
    printf("};\n\n");
}

static void emit32(const char *name, const uint32_t *t, int n)
{
    printf("const uint32_t %s[%d] = {\n", name, n);
    for (int i = 0; i < n; i++)
        printf("0x%08" PRIx32 ",%s", t[i], (i % 8 == 7) ? "\n" : " ");
    printf("};\n\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_iq_tables path/to/libggml-base.so > quant/iq_tables.c\n");
        return 1;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "gen_iq_tables: %s\n", dlerror());
        return 1;
    }
    static uint64_t g2xxs[256], g2xs[512], g2s[1024], g1s[2048];
    static uint32_t g3xxs[256], g3s[512];
    static uint8_t ks[128];
    grid_iq2_xxs(g2xxs);
    grid_iq2_xs(g2xs);
    grid_iq2_s(g2s);
    grid_iq3_xxs(g3xxs);
    grid_iq3_s(g3s);
    grid_iq1_s(g1s);
    check_iq1_m(g1s);
    signs_iq2(ks);
    if (failed)
        return 1;

    printf("/*\n"
           " * iq_tables.c - GENERATED by scripts/gen/iq_tables.c; do not edit.\n"
           " *\n"
           " * ggml's lattice tables for the IQ grid types, read back from llama.cpp's\n"
           " * libggml-base.so dequantize_row_<type> on crafted blocks (d = 1.0, smallest scale,\n"
           " * signs off, one grid index per group); every value checked to decode exactly.\n"
           " * Packed as ggml packs them: byte j of an entry (little-endian) is element j.\n"
           " */\n"
           "#include \"iq_tables.h\"\n\n");
    emit64("tc_iq2xxs_grid", g2xxs, 256);
    emit64("tc_iq2xs_grid", g2xs, 512);
    emit64("tc_iq2s_grid", g2s, 1024);
    emit32("tc_iq3xxs_grid", g3xxs, 256);
    emit32("tc_iq3s_grid", g3s, 512);
    printf("/* entries are int8 values -1, 0, +1 (0xff = -1) */\n");
    emit64("tc_iq1s_grid", g1s, 2048);
    printf("/* ksigns_iq2xs: bit j set = element j negated; bit 7 makes the popcount even */\n");
    printf("const uint8_t tc_iq2_ksigns[128] = {\n");
    for (int i = 0; i < 128; i++)
        printf("%u,%s", ks[i], (i % 16 == 15) ? "\n" : " ");
    printf("};\n");
    return 0;
}
