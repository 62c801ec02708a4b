#!/usr/bin/env bash
# Set up and run the whole test suite: installs what is missing (Debian packages, the npm
# oracles), builds with warnings as errors, runs ctest, then builds again with
# -fsanitize=address,undefined and runs ctest there too, then runs each libFuzzer target
# briefly on its seed corpus (clang). The NEON kernels are cross-compiled for aarch64 and run
# against the scalar reference under qemu-aarch64.
#   scripts/test.sh [--no-asan] [--no-fuzz]   (TC_FUZZ_SECONDS: fuzz time per target, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
asan=1
fuzz=${TC_FUZZ_SECONDS:-20}
for a in "$@"; do
  case "$a" in
    --no-asan) asan=0 ;;
    --no-fuzz) fuzz=0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh --test --no-build
bash scripts/oracle/get_oracle.sh
jobs=$(nproc)

echo "== build (gcc, -Werror)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTC_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs" >/dev/null
(cd build-test && ctest -j"$jobs" --output-on-failure)

echo "== install check (cmake --install, pkg-config consumer)"
inst=$(mktemp -d)
cmake --install build-test --prefix "$inst" >/dev/null
printf '#include <tensorcast.h>\nint main(void){tc_graph *g=tc_graph_new();int ok=g&&tc_dtype_get(TC_DTYPE_Q4_K);tc_graph_free(g);return !ok;}\n' >"$inst/c.c"
cc "$inst/c.c" $(PKG_CONFIG_PATH="$inst/lib/pkgconfig" pkg-config --cflags --libs tensorcast) -o "$inst/c"
"$inst/c" && "$inst/bin/tensorcast" --version
# the README's library example, against the CLI: the same bytes
cc tests/lib_example.c $(PKG_CONFIG_PATH="$inst/lib/pkgconfig" pkg-config --cflags --libs tensorcast) -o "$inst/ex"
"$inst/bin/tensorcast" convert fixtures/tiny-llama "$inst/m.gguf" --type f32 -q
"$inst/ex" "$inst/m.gguf" "$inst/lib.gguf" Q4_K_M >/dev/null
"$inst/bin/tensorcast" quantize "$inst/m.gguf" "$inst/cli.gguf" Q4_K_M -q --no-provenance
cmp "$inst/lib.gguf" "$inst/cli.gguf" && echo "library example: same bytes as tensorcast quantize"
rm -rf "$inst"

echo "== NEON kernels (aarch64 cross compile; run against the reference under qemu)"
sh scripts/ci/check_neon.sh

if [ "$asan" = 1 ]; then
  echo "== build (gcc, -fsanitize=address,undefined)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTC_WERROR=ON -DTC_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs" >/dev/null
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     TC_TEST_QUICK=1 ctest -j"$jobs" --output-on-failure)
fi
if [ "$fuzz" -gt 0 ] && command -v clang >/dev/null 2>&1; then
  echo "== libFuzzer smoke run (clang, ${fuzz}s per target)"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTC_FUZZ=ON \
        -DTC_SANITIZE=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" >/dev/null
  for f in build-fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f"); corpus="fixtures/fuzz/${name#fuzz_}"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    dict=""; [ -f "tests/fuzz/${name}.dict" ] && dict="-dict=tests/fuzz/${name}.dict"
    if ! "$f" -max_total_time="$fuzz" -rss_limit_mb=2048 -max_len=65536 $dict \
         -artifact_prefix="$work/" "$work" >"$work/log" 2>&1; then
      echo "fuzz: $name found a failure:"; tail -40 "$work/log"; exit 1
    fi
    echo "fuzz: $name ok ($(grep -o 'Done [0-9]* runs' "$work/log" | head -1))"
    rm -rf "$work"
  done
fi
echo "test.sh: all suites passed"
