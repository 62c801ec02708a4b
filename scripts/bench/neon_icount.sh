#!/bin/sh
# neon_icount.sh - where the NEON kernels pay, measured without an ARM machine: the AArch64
# instructions that quantizing ROWS rows of 4096 gaussian values executes, with the scalar
# reference and with the NEON kernels, counted under qemu-aarch64 (one instruction per
# translation block, -d exec: one log line per executed instruction). Each count is the run's
# total minus a run that only sets up (neon_icount.c). A proxy, not a time: it leaves out how
# many instructions an ARM core issues per cycle, which is similar for scalar and NEON ones.
#   scripts/bench/neon_icount.sh [ROWS] [TYPE[:imatrix] ...]
# Default: 1 row; every type that has a NEON quantizer (imatrix where ggml requires it).
# Needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian: gcc-aarch64-linux-gnu
# libc6-dev-arm64-cross qemu-user).
set -eu
cd "$(dirname "$0")/../.."
rows=${1:-1}
[ $# -gt 0 ] && shift
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "neon_icount: needs $tool (apt-get install gcc-aarch64-linux-gnu" \
            "libc6-dev-arm64-cross qemu-user)" >&2
        exit 2
    }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM
# every file of quant/ (the x86 ones compile to nothing on aarch64); the code that builds the
# grid types' tables at first use (iq_grid.c, *_lists.c) linked last, so that its text is one
# range, left out of the count (-dfilter): it runs hundreds of millions of instructions once.
cflags="-std=c11 -O2 -D_GNU_SOURCE -ffp-contract=off -Iquant"
objs=""
init=""
for f in scripts/bench/neon_icount.c quant/*.c; do
    o="$out/$(basename "$f" .c).o"
    # shellcheck disable=SC2086
    aarch64-linux-gnu-gcc $cflags -c "$f" -o "$o"
    case "$f" in
        quant/iq_grid.c | quant/*_lists.c) init="$init $o" ;;
        *) objs="$objs $o" ;;
    esac
done
# shellcheck disable=SC2086
aarch64-linux-gnu-gcc -static $objs $init -o "$out/icount" -Wl,-Map="$out/map" -lm -lpthread
# the text span of the init objects, from the link map; no other object's text may lie in it
filter=$(awk -v init="$init" '
    function hex(s,   v, i) { # mawk has no strtonum
        v = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    BEGIN { n = split(init, f, " "); for (i = 1; i <= n; i++) isinit[f[i]] = 1 }
    /^ \.text/ && NF == 1 { pend = 1; next }
    (/^ \.text/ && NF == 4) || (pend && NF == 3) {
        o = $NF; a = hex($(NF - 2)); z = a + hex($(NF - 1)); pend = 0
        if (z == a) next
        if (o in isinit) { if (lo == "" || a < lo) lo = a; if (z > hi) hi = z }
        else { na++; A[na] = a; Z[na] = z }
        next
    }
    { pend = 0 }
    END {
        if (lo == "") { print "none"; exit }
        for (i = 1; i <= na; i++) if (A[i] < hi && Z[i] > lo) { print "overlap"; exit }
        printf "0..0x%x,0x%x..0xffffffffffff\n", lo - 1, hi
    }' "$out/map")
case "$filter" in
    none | overlap)
        echo "neon_icount: cannot single out the table builders' text ($filter)" >&2
        exit 2
        ;;
esac

count() { # type mode [imatrix]: executed instructions outside the table builders
    # shellcheck disable=SC2086
    qemu-aarch64 -singlestep -d exec,nochain -dfilter "$filter" -D /dev/fd/3 "$out/icount" \
        "$1" "$2" "$rows" ${3:-} 3>&1 >/dev/null | grep -c '^Trace'
}

if [ $# -eq 0 ]; then
    # the types whose NEON quantizer is not the reference's, by the NEON table itself
    set -- $(grep -o '>quantize\[TC_DTYPE_[A-Z0-9_]*\] *=' quant/neon*.c |
        sed 's/.*TC_DTYPE_\([A-Z0-9_]*\).*/\1/' | tr 'A-Z' 'a-z' | sort -u |
        sed 's/^\(iq2_xxs\|iq2_xs\|iq1_s\)$/\1:imatrix/')
fi
printf '%-16s %14s %14s %8s\n' type "ref insns" "neon insns" "ref/neon"
for spec in "$@"; do
    t=${spec%%:*}
    w=""
    [ "$t" != "$spec" ] && w=imatrix
    base=$(count "$t" none $w)
    r=$(($(count "$t" ref $w) - base))
    n=$(($(count "$t" neon $w) - base))
    awk -v t="$spec" -v r="$r" -v n="$n" \
        'BEGIN { printf "%-16s %14d %14d %7.2fx\n", t, r, n, (n > 0 ? r / n : 0) }'
done
