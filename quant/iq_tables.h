/*
 * iq_tables.h - private to quant/: ggml's lattice tables for the IQ grid types (IQ2_XXS, IQ2_XS,
 * IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M). The data lives in iq_tables.c, which
 * scripts/gen/iq_tables.c generates from llama.cpp's libggml-base.so (see there).
 *
 * Each grid entry packs one group of elements, byte j (from the least significant) = element j,
 * exactly as ggml stores iq2xxs_grid & co.: unsigned magnitudes for the 2- and 3-bit grids,
 * int8 values -1/0/+1 for the 1-bit grid.
 */
#ifndef TC_IQ_TABLES_H
#define TC_IQ_TABLES_H

#include <stdint.h>

extern const uint64_t tc_iq2xxs_grid[256]; /* IQ2_XXS: 8 x {8, 25, 43} */
extern const uint64_t tc_iq2xs_grid[512];  /* IQ2_XS */
extern const uint64_t tc_iq2s_grid[1024];  /* IQ2_S */
extern const uint32_t tc_iq3xxs_grid[256]; /* IQ3_XXS: 4 x {4, 12, ..., 62} */
extern const uint32_t tc_iq3s_grid[512];   /* IQ3_S: 4 x {1, 3, ..., 15} */
extern const uint64_t tc_iq1s_grid[2048];  /* IQ1_S and IQ1_M: 8 x int8 {-1, 0, 1} */

/* ggml's ksigns_iq2xs: 7 stored sign bits, bit 7 = their parity (element j negated if bit j). */
extern const uint8_t tc_iq2_ksigns[128];

#define TC_IQ1_DELTA 0.125f /* ggml IQ1S_DELTA (IQ1M_DELTA is the same value) */

#endif /* TC_IQ_TABLES_H */
