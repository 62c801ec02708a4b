#!/usr/bin/env bash
# slurm-quantize.sh - quantize (or convert) one model on a Slurm job array: task k of N writes
# the split files k, k+N, k+2N, ... with `tensorcast ... --part k/N`; together the tasks write
# exactly the files one run without --part writes (byte for byte), in any order, on any nodes.
#
#   sbatch --array=1-8 --cpus-per-task=16 scripts/slurm-quantize.sh \
#       quantize /models/Llama-3-70B/ /models/out/llama-70b-Q4_K_M.gguf Q4_K_M \
#       --split-max-size 4G --imatrix /models/imatrix.gguf
#
# Every task needs the input and a shared output directory. The array size is the part count N
# (SLURM_ARRAY_TASK_COUNT; TC_PARTS overrides it); any N works, files are dealt round-robin.
# Then check the assembled set once: tensorcast verify /models/out/llama-70b-Q4_K_M-00001-of-*.gguf
# TENSORCAST names the binary (default: tensorcast on PATH).
#SBATCH --job-name=tensorcast
#SBATCH --output=tensorcast-%A_%a.log
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
id=${SLURM_ARRAY_TASK_ID:?run as a Slurm job array (sbatch --array=1-N), or set SLURM_ARRAY_TASK_ID}
min=${SLURM_ARRAY_TASK_MIN:-1}
n=${TC_PARTS:-${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT is not set; set TC_PARTS}}
k=$((id - min + 1))
if [ "$k" -lt 1 ] || [ "$k" -gt "$n" ]; then
  echo "slurm-quantize.sh: task $id is outside the array of $n tasks starting at $min" >&2
  exit 2
fi
threads=()
[ -n "${SLURM_CPUS_PER_TASK:-}" ] && threads=(--threads "$SLURM_CPUS_PER_TASK")
exec "${TENSORCAST:-tensorcast}" "$@" --part "$k/$n" "${threads[@]}" --quiet
