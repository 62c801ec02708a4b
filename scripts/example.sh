#!/usr/bin/env bash
# Set up, then run the main job on the bundled example model: convert the Hugging Face style
# directory fixtures/tiny-llama (bf16 safetensors + config.json + README.md licence) to GGUF f16,
# and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-${TMPDIR:-/tmp}/tiny-llama-f16.gguf}
./build/tensorcast convert fixtures/tiny-llama "$out" --type f16
./build/tensorcast inspect "$out"
