#!/usr/bin/env bash
# Set up, then run the main job on the bundled example model: convert the Hugging Face style
# directory fixtures/tiny-llama (bf16 safetensors + config.json + README.md licence) to GGUF f16,
# show what came out, quantize it with llama.cpp's Q8_0 preset and report the quantization error.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-${TMPDIR:-/tmp}/tiny-llama-f16.gguf}
q8=${out%.gguf}-Q8_0.gguf
q8=${q8/-f16-Q8_0/-Q8_0}
./build/tensorcast convert fixtures/tiny-llama "$out" --type f16
./build/tensorcast inspect "$out"
./build/tensorcast quantize "$out" "$q8" Q8_0
./build/tensorcast diff "$out" "$q8" --quiet
