#!/bin/sh
# check_neon.sh - compile the NEON files (quant/neon.c, and the grid quantizers neon_iq1q.c,
# neon_iq2q.c, neon_iq2s.c, neon_iq3q.c) for aarch64 (warnings are errors), and when
# qemu-aarch64 is installed, run scripts/ci/neon_selftest.c: the NEON kernels against the scalar
# reference, byte for byte (the grid types with their tables, importance weights and degenerate
# rows; NEON_GRID_REPS sets how many rounds of them, 20 by default). Skips (exit 0, with a
# message) when no aarch64 compiler is available.
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

neon_src="quant/neon.c quant/neon_iq1q.c quant/neon_iq2q.c quant/neon_iq2s.c quant/neon_iq3q.c"
# dispatch.c too: it registers the NEON kernels (compiled only; the selftest registers them itself)
for f in $neon_src quant/dispatch.c; do
    # shellcheck disable=SC2086
    $cc $flags -c "$f" -o "$out/$(basename "$f" .c).o"
done
echo "check_neon: $neon_src quant/dispatch.c compile for aarch64 with $cc"

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
# the references and what the grid types' tables are built from
ref_src="quant/ref_legacy.c quant/ref_k.c quant/ref_iq1_quant.c quant/ref_iq2_quant.c \
    quant/ref_iq3_quant.c quant/iq_grid.c quant/iq_tables.c quant/iq2q_lists.c quant/iq2s_lists.c quant/iq3q_lists.c \
    quant/types.c"
# shellcheck disable=SC2086
$cc $flags -static scripts/ci/neon_selftest.c $neon_src $ref_src -o "$out/neon_selftest" \
    -lm -lpthread
"$qemu" "$out/neon_selftest" "${NEON_GRID_REPS:-20}"
