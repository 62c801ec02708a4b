#!/bin/sh
# check_neon.sh - compile quant/neon.c for aarch64 (warnings are errors), and when qemu-aarch64
# is installed, run scripts/ci/neon_selftest.c: the NEON kernels against the scalar reference,
# byte for byte. Skips (exit 0, with a message) when no aarch64 compiler is available.
# Cross compilers tried: aarch64-linux-gnu-gcc (Debian: apt-get install gcc-aarch64-linux-gnu
# libc6-dev-arm64-cross), then clang --target=aarch64-linux-gnu with that sysroot.
set -eu
cd "$(dirname "$0")/../.."
flags="-std=c11 -O2 -Wall -Wextra -Wshadow -Wvla -Wformat=2 -Werror -ffp-contract=off -Iquant"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM

cc=""
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    cc="aarch64-linux-gnu-gcc"
elif command -v clang >/dev/null 2>&1 && [ -d /usr/aarch64-linux-gnu/include ]; then
    cc="clang --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu"
fi
if [ -z "$cc" ]; then
    echo "check_neon: SKIP: no aarch64 cross compiler (apt-get install gcc-aarch64-linux-gnu" \
        "libc6-dev-arm64-cross)"
    exit 0
fi

# shellcheck disable=SC2086
$cc $flags -c quant/neon.c -o "$out/neon.o"
echo "check_neon: quant/neon.c compiles for aarch64 with $cc"

qemu=""
for q in qemu-aarch64 qemu-aarch64-static; do
    if command -v "$q" >/dev/null 2>&1; then
        qemu="$q"
        break
    fi
done
if [ -z "$qemu" ] || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
    echo "check_neon: SKIP selftest: no qemu-aarch64 (apt-get install qemu-user)"
    exit 0
fi
# shellcheck disable=SC2086
$cc $flags -static scripts/ci/neon_selftest.c quant/neon.c quant/ref_legacy.c quant/ref_k.c \
    quant/types.c -o "$out/neon_selftest" -lm
"$qemu" "$out/neon_selftest"
