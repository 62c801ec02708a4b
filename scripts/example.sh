#!/usr/bin/env bash
# Set up, then run the main job on the bundled example model: turn the Hugging Face style
# directory fixtures/tiny-llama (bf16 safetensors, config.json, SentencePiece tokenizer, chat
# template, README.md licence) into a GGUF that llama.cpp and ollama run -- quantized to Q8_0 in
# the same pass -- and show what came out; then an f16 conversion, the quantization error between
# the two, and a verification of the file against its recorded digests and its source.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-${TMPDIR:-/tmp}/tiny-llama-Q8_0.gguf}
f16=${out%-Q8_0.gguf}-f16.gguf
[ "$f16" = "$out" ] && f16=${out%.gguf}-f16.gguf
./build/tensorcast convert fixtures/tiny-llama "$out" --type q8_0
./build/tensorcast inspect "$out"
./build/tensorcast convert fixtures/tiny-llama "$f16" --type f16 --quiet
./build/tensorcast diff "$f16" "$out" --quiet
./build/tensorcast verify "$out" --against fixtures/tiny-llama
