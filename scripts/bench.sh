#!/usr/bin/env bash
# Benchmarks (not tests): conversion throughput against cp and peak memory.
#   scripts/bench.sh convert [SIZE_GIB=2] [ROUNDS=5]
# Alternates `cp` and `tensorcast convert` on the same synthetic model over ROUNDS rounds
# (these machines are noisy), reports the median of the pairwise time ratios, and the peak RSS
# (GNU time) of a same-dtype conversion (F16 safetensors -> GGUF) and of a cast (F32 -> F16).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-convert}
[ -x build/tensorcast ] || bash scripts/setup.sh >/dev/null
TC=$PWD/build/tensorcast
work=${BENCH_DIR:-/tmp/tc-bench}
mkdir -p "$work"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

case "$what" in
convert)
  gib=${2:-2}; rounds=${3:-5}
  src="$work/synth-f16.safetensors"
  [ -f "$src" ] || python3 scripts/make_synthetic.py "$src" "$gib" F16
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "input: $(du -h "$src" | cut -f1) F16 safetensors"
  ratios=(); tcps=(); cps=()
  for r in $(seq "$rounds"); do
    rm -f "$work/cp.out" "$work/out.gguf"
    t0=$(now); cp "$src" "$work/cp.out"; t1=$(now)
    "$TC" convert "$src" "$work/out.gguf" --quiet; t2=$(now)
    c=$(awk "BEGIN{print $t1 - $t0}"); t=$(awk "BEGIN{print $t2 - $t1}")
    cps+=("$c"); tcps+=("$t"); ratios+=("$(awk "BEGIN{print $c / $t}")")
    printf 'round %d: cp %.2f s, tensorcast %.2f s, speed ratio tensorcast/cp %.2f\n' "$r" "$c" "$t" "$(awk "BEGIN{print $c / $t}")"
  done
  printf 'median: cp %.2f s, tensorcast %.2f s, median ratio %.2f (>= 0.90 is the target)\n' \
    "$(printf '%s\n' "${cps[@]}" | median)" "$(printf '%s\n' "${tcps[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)"
  rm -f "$work/out.gguf"
  /usr/bin/time -v "$TC" convert "$src" "$work/out.gguf" --quiet 2> "$work/time.txt"
  echo "peak RSS, F16 safetensors -> GGUF (same dtype): $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/out.gguf"
  /usr/bin/time -v "$TC" convert "$src" "$work/out.gguf" --type bf16 --quiet 2> "$work/time.txt"
  echo "peak RSS, F16 -> BF16 cast to GGUF: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB, $(awk -F': ' '/Elapsed/{print $2}' "$work/time.txt") wall"
  rm -f "$work/out.gguf" "$work/cp.out"
  ;;
*)
  echo "usage: scripts/bench.sh convert [SIZE_GIB] [ROUNDS]" >&2; exit 2 ;;
esac
