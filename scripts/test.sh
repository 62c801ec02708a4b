#!/usr/bin/env bash
# Set up and run the whole test suite: installs what is missing (Debian packages, the npm
# oracles), builds with warnings as errors, runs ctest, then builds again with
# -fsanitize=address,undefined and runs ctest there too.
#   scripts/test.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."
asan=1
for a in "$@"; do
  case "$a" in
    --no-asan) asan=0 ;;
    *) echo "test.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh --test --no-build
bash scripts/get_oracle.sh
jobs=$(nproc)

echo "== build (gcc, -Werror)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTC_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs" >/dev/null
(cd build-test && ctest -j"$jobs" --output-on-failure)

if [ "$asan" = 1 ]; then
  echo "== build (gcc, -fsanitize=address,undefined)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTC_WERROR=ON -DTC_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs" >/dev/null
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     TC_TEST_QUICK=1 ctest -j"$jobs" --output-on-failure)
fi
echo "test.sh: all suites passed"
