#!/bin/sh
# check_exports.sh - the shared library exports exactly the public API: the functions the
# installed headers declare with TC_API. Fails naming every other exported symbol (an internal
# function that lost its `static` or hidden visibility) and every TC_API function not exported.
#   sh scripts/ci/check_exports.sh build/libtensorcast.so formats/tensorcast.h quant/quant.h ...
set -eu
lib=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cat "$@" | tr '\n' ' ' | grep -oE 'TC_API [^;(]*[^A-Za-z0-9_]tc_[A-Za-z0-9_]+ *\(' |
    grep -oE 'tc_[A-Za-z0-9_]+ *\($' | tr -d '( ' | sort -u >"$tmp/api"
nm -D --defined-only "$lib" | awk 'NF == 3 && $2 != "A" { print $3 }' | sort -u >"$tmp/exported"
comm -23 "$tmp/exported" "$tmp/api" >"$tmp/leaked"
comm -13 "$tmp/exported" "$tmp/api" >"$tmp/missing"
echo "check_exports: $(wc -l <"$tmp/exported") symbols exported, $(wc -l <"$tmp/api") TC_API" \
    "functions, $(wc -l <"$tmp/leaked") leaked, $(wc -l <"$tmp/missing") missing"
sed 's/^/  leaked (not TC_API in an installed header): /' "$tmp/leaked"
sed 's/^/  missing (TC_API but not exported): /' "$tmp/missing"
[ ! -s "$tmp/leaked" ] && [ ! -s "$tmp/missing" ]
