/*
 * check_progress.c - the progress bar on a terminal and Ctrl-C, under a pseudo-terminal made by
 * util-linux's `script`: the bar shows the bar, bytes done/total, rate, ETA and the current
 * tensor, clears its line at the end; an interrupt says "interrupted, nothing written" and
 * leaves no file.
 */
#include "tc_test.h"
#include "tc_test_util.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[512];

static void make_input(void)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_prog");
    ck_assert_int_eq(
        tc_sh("python3 '%s/scripts/fixtures/synthetic_safetensors.py' '%s/in.safetensors' 0.2 F32 "
              ">/dev/null",
              TC_SRC_DIR, dir),
        0);
}

START_TEST(test_bar_on_a_terminal)
{
    if (tc_sh("command -v script >/dev/null") != 0)
        TC_SKIP("util-linux script not found");
    make_input();
    ck_assert_int_eq(tc_sh("cd '%s' && script -fqec \"'%s' convert in.safetensors out.gguf --type "
                           "bf16 --threads 1 --no-sync\" ts.txt >/dev/null",
                           dir, TC_BIN),
                     0);
    /* the bar, with bytes, rate, ETA and the tensor being written */
    ck_assert_int_eq(
        tc_sh("grep -aq 'converting \\[#*\\.*\\] *[0-9.]*%% [0-9.]* MiB/[0-9.]* MiB "
              "[0-9.]* [KMG]*i*B/s ETA [0-9]*:[0-9][0-9] model.layers.0.w[0-9].weight' "
              "'%s/ts.txt'",
              dir),
        0);
    /* cleared before the summary line */
    ck_assert_int_eq(tc_sh("grep -aq \"$(printf '\\r\\033\\[Kconverted')\" '%s/ts.txt'", dir), 0);
    /* not a terminal: no bar at all */
    ck_assert_int_eq(tc_sh("cd '%s' && '%s' convert in.safetensors o2.gguf --type bf16 --no-sync "
                           "2>err.txt >/dev/null && test ! -s err.txt",
                           dir, TC_BIN),
                     0);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_interrupt)
{
    if (tc_sh("command -v script >/dev/null && command -v pkill >/dev/null") != 0)
        TC_SKIP("util-linux script or procps pkill not found");
    make_input();
    /* start under a terminal; interrupt once the bar has appeared. The job must outlast the
     * bar by far: a cast of this input takes 0.3 s and its bar first shows at about 70 %, so
     * a loaded machine could see it finish before the signal. The scalar Q4_K quantizer on one
     * thread takes about 3 s, its bar showing from 4 %. */
    ck_assert_int_eq(
        tc_sh("cd '%s' && (script -fqec \"TC_ISA=scalar '%s' quantize in.safetensors out.gguf "
              "Q4_K --pure --threads 1 --no-sync\" ts.txt >/dev/null &) ; for i in $(seq 400); "
              "do grep -aq 'quantizing \\[' ts.txt 2>/dev/null && break; sleep 0.05; "
              "done; pkill -INT -f '^%s quantize in.safetensors out.gguf'; "
              "for i in $(seq 400); do grep -aq 'Script done' ts.txt && "
              "break; sleep 0.05; done",
              dir, TC_BIN, TC_BIN),
        0);
    ck_assert_int_eq(tc_sh("grep -aq 'tensorcast: interrupted, nothing written' '%s/ts.txt'", dir),
                     0);
    ck_assert_int_eq(tc_sh("grep -aq 'COMMAND_EXIT_CODE=\"130\"' '%s/ts.txt'", dir), 0);
    ck_assert_int_eq(tc_sh("ls -a '%s' | grep -q 'out\\.gguf'", dir), 1);
    tc_rm_rf(dir);
}
END_TEST

Suite *progress_suite(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bar_on_a_terminal);
    tcase_add_test(tc, test_interrupt);
    suite_add_tcase(s, tc);
    return s;
}
