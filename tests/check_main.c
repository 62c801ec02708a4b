/* check_main.c - one SRunner over every tests/check_<module>.c suite; ctest runs one suite per
 * test through CK_RUN_SUITE (CMakeLists.txt generates tc_suites.inc from the file names). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TC_SUITE(n) Suite *n##_suite(void);
#include "tc_suites.inc"
#undef TC_SUITE

int main(void)
{
    /* skips are logged by the forked test processes into a file we count afterwards */
    char skiplog[] = "/tmp/tc-skips-XXXXXX";
    int fd = getenv("TC_SKIP_LOG") ? -1 : mkstemp(skiplog);
    if (fd >= 0) {
        close(fd);
        setenv("TC_SKIP_LOG", skiplog, 1);
    }
    SRunner *sr = srunner_create(NULL);
#define TC_SUITE(n) srunner_add_suite(sr, n##_suite());
#include "tc_suites.inc"
#undef TC_SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    if (srunner_ntests_run(sr) == 0) {
        /* CK_RUN_SUITE naming a suite that is not linked in must not pass silently */
        fprintf(stderr, "no test ran (CK_RUN_SUITE=%s)\n",
                getenv("CK_RUN_SUITE") ? getenv("CK_RUN_SUITE") : "");
        failed = 1;
    }
    long skipped = 0;
    FILE *f = fopen(getenv("TC_SKIP_LOG") ? getenv("TC_SKIP_LOG") : "", "r");
    for (int ch; f && (ch = fgetc(f)) != EOF;)
        skipped += ch == '\n';
    if (f)
        fclose(f);
    if (fd >= 0)
        unlink(skiplog);
    printf("%ld test(s) skipped%s\n", skipped,
           skipped ? " (see the SKIP lines above for why)" : "");
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
