#!/usr/bin/env bash
# Install what tensorcast needs on Debian 12 (only the packages that are missing) and build it.
#   scripts/setup.sh           build dependencies, then a release build in build/
#   scripts/setup.sh --test    also what the test suite needs (Check, PyTorch, NumPy, Node.js)
# Uses apt-get (as root, or through sudo when available).
set -euo pipefail
cd "$(dirname "$0")/.."

want=(build-essential cmake pkg-config zlib1g-dev libzstd-dev libarchive-dev libjansson-dev libssl-dev libpcre2-dev libxxhash-dev)
build=1
for a in "$@"; do
  case "$a" in
    --test) want+=(check python3 python3-numpy python3-torch python3-sentencepiece python3-yaml nodejs npm clang libclang-rt-14-dev zstd time gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user) ;;
    --no-build) build=0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  # nodejs/npm may come from elsewhere than Debian (e.g. a preinstalled Node): accept the commands
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$build" = 1 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTC_TESTS=OFF >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
  echo "setup: built build/tensorcast"
fi
