/*
 * neon_rng.h - the random numbers of the aarch64 programs that run under qemu
 * (scripts/ci/neon_selftest.c, scripts/bench/neon_icount.c): splitmix64 from a seed the
 * includer sets in `rng`, and gaussian floats from it (Box-Muller). Static: one copy per
 * program, which is one file.
 */
#ifndef TC_NEON_RNG_H
#define TC_NEON_RNG_H

#include <math.h>
#include <stdint.h>

static uint64_t rng;

static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gauss(void)
{
    float u1 = (float)((next() >> 40) + 1) / 16777217.0f, u2 = (float)(next() >> 40) / 16777216.0f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

#endif /* TC_NEON_RNG_H */
