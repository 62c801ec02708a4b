/*
 * check_harden.c - what a hostile review found, each with the check that failed before the fix:
 * targets that are not regular files, outputs that would overwrite inputs, verify failing open,
 * diff and NaN, the thread cap, FIFOs as inputs.
 */
#include "tc_test.h"
#include "tc_test_util.h"
#include "tensorcast.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[512];

#define SRC "%s/fixtures/tiny-llama/model.safetensors"

START_TEST(test_targets_not_regular_files)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    /* /dev/null stays a character device */
    ck_assert_int_eq(
        tc_sh("'%s' convert '" SRC "' /dev/null --to gguf -q 2>/dev/null", TC_BIN, TC_SRC_DIR), 2);
    struct stat st;
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert_msg(S_ISCHR(st.st_mode), "/dev/null was replaced");
    /* a FIFO target is refused, and so is a link to /dev/null */
    ck_assert_int_eq(tc_sh("cd '%s' && mkfifo f.gguf && ln -s /dev/null n.gguf", dir), 0);
    ck_assert_int_eq(
        tc_sh("'%s' convert '" SRC "' '%s/f.gguf' -q 2>/dev/null", TC_BIN, TC_SRC_DIR, dir), 2);
    ck_assert_int_eq(
        tc_sh("'%s' convert '" SRC "' '%s/n.gguf' -q 2>/dev/null", TC_BIN, TC_SRC_DIR, dir), 2);
    ck_assert_int_eq(tc_sh("test -p '%s/f.gguf' && test -L '%s/n.gguf'", dir, dir), 0);
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    /* a symlink to a file elsewhere: written there, atomically; the link is kept */
    ck_assert_int_eq(tc_sh("cd '%s' && mkdir other && echo old > other/real.gguf && ln -s "
                           "other/real.gguf link.gguf",
                           dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' convert '" SRC "' '%s/link.gguf' -q", TC_BIN, TC_SRC_DIR, dir), 0);
    ck_assert_int_eq(
        tc_sh("test -L '%s/link.gguf' && head -c 4 '%s/other/real.gguf' | grep -q GGUF", dir, dir),
        0);
    ck_assert_int_eq(tc_sh("ls -a '%s/other' | grep -c tmp | grep -qx 0", dir), 0);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_fifo_input_does_not_hang)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(tc_sh("mkfifo '%s/in.gguf'", dir), 0);
    /* without a writer an open() would block forever: it must be refused at once */
    ck_assert_int_eq(tc_sh("timeout 10 '%s' inspect '%s/in.gguf' 2>/dev/null", TC_BIN, dir), 3);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_shards_never_overwrite_inputs)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    /* a sharded set, then the same sharding written into the same names */
    ck_assert_int_eq(tc_sh("'%s' convert '" SRC "' '%s/m.safetensors' --max-shard-size 100KB -q "
                           "--no-provenance && cd '%s' && sha256sum m-* m.safetensors.index.json > "
                           "sums",
                           TC_BIN, TC_SRC_DIR, dir, dir),
                     0);
    ck_assert_int_eq(tc_sh("'%s' convert '%s/m.safetensors.index.json' '%s/m.safetensors' "
                           "--max-shard-size 100KB -q 2>'%s/err'",
                           TC_BIN, dir, dir, dir),
                     2);
    ck_assert_int_eq(tc_sh("grep -q 'refusing to overwrite the input' '%s/err' && cd '%s' && "
                           "sha256sum -c --quiet sums",
                           dir, dir),
                     0);
    /* a GGUF split set into its own part names */
    ck_assert_int_eq(
        tc_sh("'%s' convert '" SRC "' '%s/g.gguf' --split-max-tensors 8 -q && '%s' "
              "convert '%s/g-00001-of-00003.gguf' '%s/g.gguf' --split-max-tensors 8 -q "
              "2>/dev/null",
              TC_BIN, TC_SRC_DIR, dir, TC_BIN, dir, dir),
        2);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_verify_fails_closed)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(
        tc_sh(": > '%s/empty' && echo 'this is not a manifest' > '%s/garbage'", dir, dir), 0);
    ck_assert_int_eq(
        tc_sh("'%s' verify '" SRC "' --manifest '%s/empty' -q", TC_BIN, TC_SRC_DIR, dir), 1);
    ck_assert_int_eq(
        tc_sh("'%s' verify '" SRC "' --manifest '%s/garbage' -q", TC_BIN, TC_SRC_DIR, dir), 1);
    /* a valid line plus a malformed one: the malformed one is reported */
    ck_assert_int_eq(tc_sh("cd '%s' && sha256sum '" SRC
                           "' > mixed && echo 'zz  broken' >> mixed && "
                           "'%s' verify '" SRC "' --manifest mixed > out.txt",
                           dir, TC_SRC_DIR, TC_BIN, TC_SRC_DIR),
                     1);
    ck_assert_int_eq(tc_sh("grep -q 'malformed line' '%s/out.txt'", dir), 0);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_diff_nan_and_nothing_compared)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(
        tc_sh(
            "cd '%s' && python3 -c \"import struct,json\nfor n,nm in (('a','x'),('b','y')):\n h="
            "json.dumps({nm:{'dtype':'F32','shape':[4],'data_offsets':[0,16]}}).encode(); h+=b' '*"
            "((8-len(h)%%8)%%8); open(n+'.safetensors','wb').write(struct.pack('<Q',len(h))+h+"
            "struct.pack('<4f',1,float('nan'),float('inf'),3))\"",
            dir),
        0);
    ck_assert_int_eq(
        tc_sh("'%s' diff '%s/a.safetensors' '%s/a.safetensors' --max-rmse 0 -q", TC_BIN, dir, dir),
        0);
    ck_assert_int_eq(
        tc_sh("'%s' diff '%s/a.safetensors' '%s/b.safetensors' -q 2>/dev/null", TC_BIN, dir, dir),
        1);
    tc_rm_rf(dir);
}
END_TEST

START_TEST(test_thread_cap)
{
    char a[2048];
    snprintf(a, sizeof a, "'%s' convert '" SRC "' /tmp/x.gguf --threads %d 2>/dev/null", TC_BIN,
             TC_SRC_DIR, TC_MAX_THREADS + 1);
    ck_assert_int_eq(tc_sh("%s", a), 2);
    /* a library caller asking for more gets the cap, not a stack overflow */
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    tc_graph *g;
    tc_err e = {0};
    char src[1024], out[1024];
    snprintf(src, sizeof src, SRC, TC_SRC_DIR);
    snprintf(out, sizeof out, "%s/t.gguf", dir);
    ck_assert_int_eq(tc_read(src, &g, NULL, &e), TC_OK);
    for (size_t i = 0; i < tc_graph_n_tensors(g); i++)
        ck_assert_int_eq(tc_tensor_convert(tc_graph_tensor(g, i), TC_DTYPE_F32, NULL, &e), TC_OK);
    tc_write_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.threads = 1000;
    wo.no_sync = 1;
    ck_assert_msg(tc_write(g, out, NULL, &wo, &e) == TC_OK, "%s", e.msg);
    for (size_t i = 0; i < wo.n_written; i++)
        tc_free(wo.written[i]);
    tc_free(wo.written);
    tc_graph_free(g);
    tc_rm_rf(dir);
}
END_TEST

/* quantize never writes a file whose file_type claims a mix it does not have; what is not
 * implemented is refused up front, with the same code whether or not an imatrix is given */
START_TEST(test_quantize_honest)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(tc_sh("'%s' quantize '" SRC "' '%s/q.gguf' Q4_K_M 2>'%s/err'", TC_BIN,
                           TC_SRC_DIR, dir, dir),
                     3);
    ck_assert_int_eq(tc_sh("grep -q 'has no general.architecture' '%s/err' && test ! -e "
                           "'%s/q.gguf'",
                           dir, dir),
                     0);
    ck_assert_int_eq(
        tc_sh("'%s' quantize '" SRC "' '%s/q.gguf' Q8_0 --pure -q", TC_BIN, TC_SRC_DIR, dir), 0);
    /* an HF directory is mapped, so the preset applies */
    ck_assert_int_eq(tc_sh("'%s' quantize '%s/fixtures/tiny-llama' '%s/m.gguf' Q8_0 -q", TC_BIN,
                           TC_SRC_DIR, dir),
                     0);
    /* a preset whose type has no quantizer yet is listed as not implemented and refused before
     * anything else (exit 3); --help marks exactly those */
    const tc_preset *missing = NULL;
    for (size_t i = 0; tc_preset_at(i) && !missing; i++)
        if (tc_preset_at(i)->ftype != TC_FTYPE_COPY &&
            !tc_can_quantize(tc_preset_at(i)->default_type))
            missing = tc_preset_at(i);
    if (missing) {
        ck_assert_int_eq(tc_sh("'%s' quantize --help | grep -w '%s' | grep -q 'not implemented'",
                               TC_BIN, missing->name),
                         0);
        ck_assert_int_eq(tc_sh("'%s' quantize '%s/m.gguf' '%s/i.gguf' %s 2>/dev/null", TC_BIN, dir,
                               dir, missing->name),
                         3);
    } else {
        ck_assert_int_eq(tc_sh("'%s' quantize --help | grep -q 'not implemented'", TC_BIN), 1);
    }
    /* IQ2_XXS quantizes with an importance matrix; a missing imatrix file is an I/O error */
    ck_assert_int_eq(tc_sh("'%s' quantize '%s/m.gguf' '%s/i.gguf' IQ2_XXS --imatrix /nonexistent "
                           "2>/dev/null",
                           TC_BIN, dir, dir),
                     4);
    tc_rm_rf(dir);
}
END_TEST

/* --include/--exclude choose the tensors written; a tensor the output format cannot hold is
 * refused with the --exclude that leaves it out */
START_TEST(test_tensor_select)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    const char *st = "fixtures/safetensors/good/all_dtypes.safetensors";
    ck_assert_int_eq(tc_sh("cd '%s' && '%s' convert %s '%s/a.gguf' 2>'%s/err'", TC_SRC_DIR, TC_BIN,
                           st, dir, dir),
                     3);
    ck_assert_int_eq(tc_sh("grep -q 'cannot be stored in gguf' '%s/err' && grep -qF "
                           "\"leave it out with --exclude '^u\" '%s/err' && grep -qF '\\.w$' "
                           "'%s/err' && test ! -e '%s/a.gguf'",
                           dir, dir, dir, dir),
                     0);
    ck_assert_int_eq(
        tc_sh("cd '%s' && '%s' convert %s '%s/a.gguf' -q --exclude '^u(8|16|32|64)\\.' "
              "--exclude bool",
              TC_SRC_DIR, TC_BIN, st, dir),
        0);
    tc_err e = {0};
    tc_graph *g = NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/a.gguf", dir);
    ck_assert_msg(tc_read(p, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_uint_eq(tc_graph_n_tensors(g), 13);
    ck_assert_ptr_null(tc_graph_find(g, "u8.w"));
    ck_assert_ptr_null(tc_graph_find(g, "bool.w"));
    ck_assert_ptr_nonnull(tc_graph_find(g, "i8.w"));
    tc_graph_free(g);
    /* a bad regex, or nothing left: usage errors, nothing written */
    ck_assert_int_eq(tc_sh("cd '%s' && '%s' convert %s '%s/b.gguf' --exclude '(' 2>/dev/null",
                           TC_SRC_DIR, TC_BIN, st, dir),
                     2);
    ck_assert_int_eq(tc_sh("cd '%s' && '%s' convert %s '%s/b.gguf' --include zzz 2>/dev/null",
                           TC_SRC_DIR, TC_BIN, st, dir),
                     2);
    ck_assert_int_eq(tc_sh("test ! -e '%s/b.gguf'", dir), 0);
    /* quantize: names as written (an HF directory's are llama.cpp's) */
    ck_assert_int_eq(tc_sh("'%s' quantize '%s/fixtures/tiny-llama' '%s/q.gguf' Q8_0 -q "
                           "--exclude 'attn_v' --include '^blk\\.|^token_embd'",
                           TC_BIN, TC_SRC_DIR, dir),
                     0);
    snprintf(p, sizeof p, "%s/q.gguf", dir);
    ck_assert_msg(tc_read(p, &g, NULL, &e) == TC_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(tc_graph_find(g, "token_embd.weight"));
    ck_assert_ptr_nonnull(tc_graph_find(g, "blk.0.attn_q.weight"));
    ck_assert_ptr_null(tc_graph_find(g, "blk.0.attn_v.weight"));
    ck_assert_ptr_null(tc_graph_find(g, "output_norm.weight"));
    tc_graph_free(g);
    tc_rm_rf(dir);
}
END_TEST

/* A temporary directory too small for an archive's member is an I/O error (exit 4, as a full
 * disk is), naming TMPDIR. A tmpfs of 64 KiB in a private mount namespace stands for it. */
START_TEST(test_tmpdir_full)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(tc_sh("cd '%s' && cp '%s/fixtures/safetensors/good/all_dtypes.safetensors' "
                           "model.safetensors && head -c 300000 /dev/urandom >pad.bin && tar czf "
                           "m.tar.gz model.safetensors pad.bin && mkdir small",
                           dir, TC_SRC_DIR),
                     0);
    if (tc_sh("unshare -m sh -c 'mount -t tmpfs -o size=64k none %s/small' 2>/dev/null", dir) !=
        0) {
        tc_rm_rf(dir);
        TC_SKIP_NA("cannot mount a small tmpfs in a private mount namespace here (unshare -m)");
    }
    ck_assert_int_eq(tc_sh("unshare -m sh -c 'mount -t tmpfs -o size=64k none %s/small && "
                           "TMPDIR=%s/small %s inspect %s/m.tar.gz' 2>'%s/err'",
                           dir, dir, TC_BIN, dir, dir),
                     4);
    ck_assert_int_eq(tc_sh("grep -q 'set TMPDIR' '%s/err'", dir), 0);
    /* with room, the same archive reads */
    ck_assert_int_eq(tc_sh("TMPDIR='%s' '%s' inspect '%s/m.tar.gz' >/dev/null", dir, TC_BIN, dir),
                     0);
    tc_rm_rf(dir);
}
END_TEST

/* A full disk (ENOSPC on a 48 KiB tmpfs in a private mount namespace) is an I/O error, exit 4,
 * for each writer and a split set, and leaves nothing: no output, no part, no temporary. */
START_TEST(test_disk_full)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(tc_sh("mkdir '%s/small'", dir), 0);
    if (tc_sh("unshare -m sh -c 'mount -t tmpfs -o size=48k none %s/small' 2>/dev/null", dir) !=
        0) {
        tc_rm_rf(dir);
        TC_SKIP_NA("cannot mount a small tmpfs in a private mount namespace here (unshare -m)");
    }
    static const char *const cmds[] = {
        "convert $S/fixtures/tiny-llama $D/o.gguf --type f32",
        "convert $S/fixtures/tiny-llama/model.safetensors $D/o.safetensors --type f32",
        "convert $S/fixtures/tiny-llama $D/o.gguf --type f32 --split-max-tensors 4",
        "quantize $S/fixtures/tiny-llama $D/o.gguf Q8_0 --split-max-tensors 4",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        /* the mount lives as long as the shell: run and list in the same one */
        int rc = tc_sh("unshare -m sh -c 'S=%s; D=%s/small; mount -t tmpfs -o size=48k none $D && "
                       "%s %s -q 2>%s/err; rc=$?; ls -A $D >%s/left; exit $rc'",
                       TC_SRC_DIR, dir, TC_BIN, cmds[i], dir, dir);
        ck_assert_msg(rc == 4, "%s: exit %d, want 4", cmds[i], rc);
        ck_assert_msg(tc_sh("grep -q 'No space left on device' '%s/err'", dir) == 0,
                      "%s: no ENOSPC message", cmds[i]);
        ck_assert_msg(tc_sh("test ! -s '%s/left'", dir) == 0, "%s: left files behind", cmds[i]);
    }
    tc_rm_rf(dir);
}
END_TEST

/* An I/O error from the disk (EIO on a write, a kernel copy or a late fsync, injected by the
 * LD_PRELOAD shim tests/fault/fault_inject.c) fails every writer with exit 4 and the message,
 * leaving nothing in the output directory. */
START_TEST(test_eio)
{
    const char *lib = getenv("TC_FAULT_LIB");
    if (lib == NULL || access(lib, R_OK) != 0)
        TC_SKIP_NA("the fault-injection shim (TC_FAULT_LIB) is not built here");
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(tc_sh("mkdir '%s/out'", dir), 0);
    static const struct {
        const char *fault, *cmd;
    } cases[] = {
        {"TC_FAULT_EIO_AFTER=100000", "convert $S/fixtures/tiny-llama $D/o.gguf --type f32"},
        {"TC_FAULT_EIO_AFTER=0", "convert $S/fixtures/tiny-llama/model.safetensors $D/o.gguf"},
        {"TC_FAULT_EIO_AFTER=100000",
         "convert $S/fixtures/tiny-llama/model.safetensors $D/o.safetensors --type f32"},
        {"TC_FAULT_EIO_AFTER=150000",
         "quantize $S/fixtures/tiny-llama $D/o.gguf Q8_0 --split-max-tensors 4"},
        {"TC_FAULT_FSYNC_EIO=1", "convert $S/fixtures/tiny-llama $D/o.gguf --type f32"},
        {"TC_FAULT_FSYNC_EIO=1",
         "convert $S/fixtures/tiny-llama/model.safetensors $D/o.safetensors --max-shard-size 100K"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tc_sh("S='%s' D='%s/out' %s LD_PRELOAD='%s' "
                       "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\" "
                       "sh -c '%s %s -q' 2>'%s/err'",
                       TC_SRC_DIR, dir, cases[i].fault, lib, TC_BIN, cases[i].cmd, dir);
        ck_assert_msg(rc == 4, "%s %s: exit %d, want 4", cases[i].fault, cases[i].cmd, rc);
        ck_assert_msg(tc_sh("grep -q 'Input/output error' '%s/err'", dir) == 0,
                      "%s %s: no EIO message", cases[i].fault, cases[i].cmd);
        ck_assert_msg(tc_sh("test -z \"$(ls -A '%s/out')\"", dir) == 0, "%s %s: left files behind",
                      cases[i].fault, cases[i].cmd);
    }
    tc_rm_rf(dir);
}
END_TEST

/* A run killed with SIGKILL while writing leaves no temporary (O_TMPFILE: the file has no name
 * until it is complete); a temporary left by some earlier run is pointed out. */
START_TEST(test_sigkill_leaves_nothing)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    /* a 256 MiB f32 .npy of zeros (sparse): long enough to be caught while writing */
    char p[1024];
    snprintf(p, sizeof p, "%s/big.npy", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    char h[128];
    int hl =
        snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (16384, 4096), }");
    while ((10 + hl + 1) % 64)
        h[hl++] = ' ';
    h[hl++] = '\n';
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    uint16_t hl16 = (uint16_t)hl;
    fwrite(&hl16, 2, 1, f);
    fwrite(h, 1, (size_t)hl, f);
    ck_assert_int_eq(ftruncate(fileno(f), 10 + hl + 16384L * 4096 * 4), 0);
    fclose(f);
    /* start, wait until the output is open (an fd into the directory other than the input),
     * kill -9 */
    int rc = tc_sh("cd '%s' && ('%s' quantize big.npy out.gguf Q6_K --pure --threads 1 -q & "
                   "pid=$!; n=0; "
                   "while [ $n -lt 2000 ]; do "
                   "  ls -l /proc/$pid/fd 2>/dev/null | grep '%s/' | grep -qv big.npy && break; "
                   "  n=$((n+1)); sleep 0.005; done; "
                   "kill -9 $pid 2>/dev/null; wait $pid; "
                   "[ $n -lt 2000 ] || exit 7)",
                   dir, TC_BIN, dir);
    ck_assert_msg(rc != 7, "the output was never seen open");
    /* where the file system has no O_TMPFILE (overlayfs before Linux 6.6, ...) the writer falls
     * back to a named temporary, which a SIGKILL leaves behind for the next run to point out */
    int anon = open(dir, O_TMPFILE | O_RDWR, 0600);
    if (anon >= 0) {
        close(anon);
        ck_assert_int_eq(tc_sh("ls -a '%s' | grep -c 'tmp-' | grep -qx 0", dir), 0);
    } else {
        fprintf(stderr, "harden: no O_TMPFILE in %s: checking the named fallback\n", dir);
        ck_assert_int_eq(tc_sh("ls -a '%s' | grep -c 'tmp-' | grep -qx 1", dir), 0);
        ck_assert_int_eq(tc_sh("cd '%s' && rm -f .out.gguf.tmp-*", dir), 0);
    }
    ck_assert_int_eq(tc_sh("test -e '%s/out.gguf'", dir), 1);
    /* a stale temporary (as a run without O_TMPFILE would leave): named, not removed */
    ck_assert_int_eq(tc_sh("cd '%s' && echo x > .out.gguf.tmp-AbC123", dir), 0);
    char args[1200], out[4096], err[4096];
    snprintf(args, sizeof args, "convert '" SRC "' '%s/out.gguf'", TC_SRC_DIR, dir);
    ck_assert_int_eq(tc_run_cli(NULL, args, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, ".out.gguf.tmp-AbC123 is a temporary file of an interrupted") != NULL,
                  "stale temporary not mentioned: %s", err);
    ck_assert_int_eq(tc_sh("test -e '%s/.out.gguf.tmp-AbC123'", dir), 0);
    tc_rm_rf(dir);
}
END_TEST

/* TC_ISA names a kernel set: unknown or unavailable is an error, never silently ignored */
START_TEST(test_tc_isa_checked)
{
    ck_assert_int_eq(tc_sh("TC_ISA=bogus '%s' --version 2>/dev/null", TC_BIN), 2);
    ck_assert_int_eq(
        tc_sh("TC_ISA=bogus '%s' --version 2>&1 | grep -q 'unknown kernel set'", TC_BIN), 0);
    ck_assert_int_eq(tc_sh("TC_ISA=scalar '%s' --version | grep -q 'kernels: scalar'", TC_BIN), 0);
#if defined(__x86_64__)
    ck_assert_int_eq(tc_sh("TC_ISA=neon '%s' --version 2>&1 | grep -q 'not supported'", TC_BIN), 0);
#endif
}
END_TEST

/* quantize writes GGUF: an output named for another format is refused, nothing written */
START_TEST(test_quantize_extension)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    ck_assert_int_eq(tc_sh("'%s' quantize '%s/fixtures/tiny-llama' '%s/o.safetensors' Q8_0 -q "
                           "2>/dev/null",
                           TC_BIN, TC_SRC_DIR, dir),
                     2);
    ck_assert_int_eq(tc_sh("ls -A '%s' | grep -q .", dir), 1);
    tc_rm_rf(dir);
}
END_TEST

/* A safetensors header of n zero-size tensors (names tNNNNNNN). Returns the header bytes. */
static uint64_t write_many_st(const char *path, long n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t len = 0;
    fwrite(&len, 8, 1, f); /* patched below */
    len += (uint64_t)fprintf(f, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (long i = 0; i < n; i++)
        len += (uint64_t)fprintf(
            f, ",\"t%07ld\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i);
    len += (uint64_t)fprintf(f, "}");
    while (len % 8) {
        fputc(' ', f);
        len++;
    }
    fseek(f, 0, SEEK_SET);
    fwrite(&len, 8, 1, f);
    fclose(f);
    return len;
}

/* Run `inspect path` and return its exit code; *rss_kb its peak RSS (measured in a forked child
 * of its own, as RUSAGE_CHILDREN keeps the maximum over all children ever waited for). */
static int inspect_rss(const char *path, long *rss_kb)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        long r[2];
        r[0] = tc_sh("'%s' inspect '%s' >/dev/null", TC_BIN, path);
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        r[1] = ru.ru_maxrss;
        ssize_t w = write(fd[1], r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    long r[2] = {-1, 0};
    ck_assert_int_eq(read(fd[0], r, sizeof r), (ssize_t)sizeof r);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    *rss_kb = r[1];
    return (int)r[0];
}

/* Headers cost memory in proportion to their size (no JSON tree of a safetensors header, string
 * arrays packed), and the tensor count of a safetensors file is capped. */
START_TEST(test_header_memory_bounded)
{
    tc_make_tmpdir(dir, sizeof dir, "tc_hard");
    int quick = tc_test_quick(); /* sanitizer builds: smaller, and RSS is not theirs to judge */
    char p[1024];
    snprintf(p, sizeof p, "%s/many.safetensors", dir);
    long n = quick ? 20000 : 300000;
    uint64_t hb = write_many_st(p, n);
    long rss;
    ck_assert_int_eq(inspect_rss(p, &rss), 0);
    fprintf(stderr, "harden: safetensors header of %ld tensors (%.1f MB): max RSS %.1f MB\n", n,
            (double)hb / 1e6, (double)rss / 1024.0);
    if (!quick)
        ck_assert_msg((uint64_t)rss * 1024 <= 8 * hb + (64u << 20),
                      "RSS %ld KB for a %" PRIu64 " byte header", rss, hb);
    /* GGUF: one array of empty strings (8 header bytes each) */
    snprintf(p, sizeof p, "%s/strs.gguf", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t ns = quick ? 100000 : 2000000, hdr[2] = {0, 1}, klen = 1;
    uint32_t ver = 3, types[2] = {9, 8};
    fwrite("GGUF", 1, 4, f);
    fwrite(&ver, 4, 1, f);
    fwrite(hdr, 8, 2, f);
    fwrite(&klen, 8, 1, f);
    fputc('k', f);
    fwrite(types, 4, 2, f);
    fwrite(&ns, 8, 1, f);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)(ftell(f) + (long)(8 * ns))), 0);
    fclose(f);
    ck_assert_int_eq(inspect_rss(p, &rss), 0);
    fprintf(stderr, "harden: GGUF of %" PRIu64 " empty strings (%.1f MB): max RSS %.1f MB\n", ns,
            (double)(8 * ns) / 1e6, (double)rss / 1024.0);
    if (!quick)
        ck_assert_msg((uint64_t)rss * 1024 <= 8 * (8 * ns) + (64u << 20), "RSS %ld KB", rss);
    if (!quick) { /* one tensor over the cap: refused, with the cap named */
        snprintf(p, sizeof p, "%s/over.safetensors", dir);
        write_many_st(p, (1L << 20) + 1);
        char args[1200], out[4096], err[4096];
        snprintf(args, sizeof args, "inspect '%s'", p);
        ck_assert_int_eq(tc_run_cli(NULL, args, out, sizeof out, err, sizeof err), 3);
        ck_assert_msg(strstr(err, "more than 1048576 tensors") != NULL, "%s", err);
    }
    tc_rm_rf(dir);
}
END_TEST

Suite *harden_suite(void)
{
    Suite *s = suite_create("harden");
    TCase *tc = tcase_create("harden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_targets_not_regular_files);
    tcase_add_test(tc, test_fifo_input_does_not_hang);
    tcase_add_test(tc, test_shards_never_overwrite_inputs);
    tcase_add_test(tc, test_verify_fails_closed);
    tcase_add_test(tc, test_diff_nan_and_nothing_compared);
    tcase_add_test(tc, test_thread_cap);
    tcase_add_test(tc, test_quantize_honest);
    tcase_add_test(tc, test_sigkill_leaves_nothing);
    tcase_add_test(tc, test_tc_isa_checked);
    tcase_add_test(tc, test_quantize_extension);
    tcase_add_test(tc, test_header_memory_bounded);
    tcase_add_test(tc, test_tensor_select);
    tcase_add_test(tc, test_tmpdir_full);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_eio);
    suite_add_tcase(s, tc);
    return s;
}
