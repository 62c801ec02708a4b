/* tc_test.h - helpers shared by the Check suites. */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Directories the ctest environment provides (CMakeLists.txt); sensible fallbacks otherwise. */
static inline const char *tc_test_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}
#define TC_SRC_DIR    tc_test_env("TC_SRC_DIR", ".")
#define TC_BIN        tc_test_env("TC_BIN", "./tensorcast")
#define TC_ORACLE_DIR tc_test_env("TC_ORACLE_DIR", "./.oracle")

/* A test that cannot run here (missing oracle) says why on stderr and passes without asserting:
 * use only for missing external tools, never to hide a failure. */
#define TC_SKIP(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "SKIP %s: ", __func__);                                                    \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        return;                                                                                    \
    } while (0)

/* Deterministic PRNG (splitmix64) for test data. */
static inline uint64_t tc_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline float tc_rng_uniform(uint64_t *s) /* [0, 1) */
{
    return (float)(tc_rng_next(s) >> 40) * (1.0f / 16777216.0f);
}

#endif
