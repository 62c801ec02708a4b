/* tc_test.h - helpers shared by the Check suites. */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Directories the ctest environment provides (CMakeLists.txt); sensible fallbacks otherwise. */
static inline const char *tc_test_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}
#define TC_SRC_DIR    tc_test_env("TC_SRC_DIR", ".")
#define TC_BIN        tc_test_env("TC_BIN", "./tensorcast")
#define TC_ORACLE_DIR tc_test_env("TC_ORACLE_DIR", "./.oracle")

/* 1 when a missing oracle must fail the test instead of skipping it: in CI (CI=true) and with
 * TC_REQUIRE_ORACLES=1, so a green run cannot hide that nothing was compared. */
static inline int tc_require_oracles(void)
{
    const char *r = getenv("TC_REQUIRE_ORACLES"), *ci = getenv("CI");
    if (r && *r)
        return strcmp(r, "0") != 0;
    return ci && strcmp(ci, "true") == 0;
}

/* Count a skip in the file check_main reads back (tests run in forked children). */
static inline void tc_skip_log(const char *fn)
{
    const char *p = getenv("TC_SKIP_LOG");
    FILE *f = p && *p ? fopen(p, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", fn);
        fclose(f);
    }
}

/* A test whose external oracle or tool is missing (libggml, npm packages, python3-torch) says
 * why on stderr and passes without asserting -- except where oracles are required (above),
 * where it fails. Never use it to hide a failure. */
#define TC_SKIP(...)                                                                               \
    do {                                                                                           \
        char tc_why_[512];                                                                         \
        snprintf(tc_why_, sizeof tc_why_, __VA_ARGS__);                                            \
        if (tc_require_oracles())                                                                  \
            ck_abort_msg("oracle required (CI/TC_REQUIRE_ORACLES) but missing: %s", tc_why_);      \
        fprintf(stderr, "SKIP %s: %s\n", __func__, tc_why_);                                       \
        tc_skip_log(__func__);                                                                     \
        return;                                                                                    \
    } while (0)

/* A test that does not apply to this machine or build (no AVX-512 here, a type without a SIMD
 * kernel): skipped everywhere, counted, never a failure. */
#define TC_SKIP_NA(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "SKIP %s (not applicable): ", __func__);                                   \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        tc_skip_log(__func__);                                                                     \
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
