#!/usr/bin/env bash
# `make demo`: runs the main jobs on their embedded defaults. Each part lives in
# scripts/demo.d/NN-name.sh and receives the agora binary as $1.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
parts=("$here"/demo.d/*.sh)
if [ ${#parts[@]} -eq 0 ]; then
  echo "agora: no main job exists yet; 'agora --help' lists what is built so far."
  "$bin" --help
  exit 0
fi
for p in "${parts[@]}"; do
  echo "== demo: $(basename "$p" .sh)"
  bash "$p" "$bin"
done
