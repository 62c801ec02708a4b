/*
 * grid_x86.c - data for grid_x86.h: the AVX2 grid templates' lane-packing permutations. Plain
 * C (grid_x86.h itself is for files compiled with -mavx2).
 */
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)

/* The number of set bits of the byte m, and LP(m), the positions of m's set bits in order, one
 * byte each: position l (a set bit) goes to byte POP8(the bits below l). */
#define POP8(m)                                                                                    \
    (((m)&1) + ((m) >> 1 & 1) + ((m) >> 2 & 1) + ((m) >> 3 & 1) + ((m) >> 4 & 1) +                 \
     ((m) >> 5 & 1) + ((m) >> 6 & 1) + ((m) >> 7 & 1))
#define LP_AT(m, l)                                                                                \
    ((uint64_t)((m) >> (l)&1) * ((uint64_t)(l) << 8 * POP8((m) & ((1u << (l)) - 1))))
#define LP(m)                                                                                      \
    (LP_AT(m, 1) | LP_AT(m, 2) | LP_AT(m, 3) | LP_AT(m, 4) | LP_AT(m, 5) | LP_AT(m, 6) |           \
     LP_AT(m, 7))
#define LP4(m)  LP(m), LP(m + 1), LP(m + 2), LP(m + 3)
#define LP16(m) LP4(m), LP4(m + 4), LP4(m + 8), LP4(m + 12)
#define LP64(m) LP16(m), LP16(m + 16), LP16(m + 32), LP16(m + 48)

extern const uint64_t tc_left_pack[256]; /* declared in grid_x86.h */
const uint64_t tc_left_pack[256] = {LP64(0u), LP64(64u), LP64(128u), LP64(192u)};

#endif
