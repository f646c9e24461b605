#!/usr/bin/env bash
# `make bench`: runs every benchmark part in scripts/bench.d/NN-name.sh with the build
# directory as $1. Each part prints its figures beside a baseline measured in the same run.
set -euo pipefail
build=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
parts=("$here"/bench.d/*.sh)
if [ ${#parts[@]} -eq 0 ]; then
  echo "agora: no benchmarks yet"
  exit 0
fi
for p in "${parts[@]}"; do
  echo "== bench: $(basename "$p" .sh)"
  bash "$p" "$build"
done
