#!/usr/bin/env bash
# prepare_kjv.sh OUTDIR [VOCAB]: the default training corpus, ready for `agora train`.
#
#   OUTDIR/kjv.txt         the King James Bible from Debian's bible-kjv, one verse per line,
#                          verse references ("Ge1:1") stripped
#   OUTDIR/tokenizer.bpe   byte-level BPE trained on it (VOCAB, default 4096)
#   OUTDIR/shards/         `agora data prepare` output (meta.json, train_000.bin, val_000.bin)
#
# Steps whose output already exists are skipped, so the demo can call this every time.
# The agora binary is $AGORA_BIN, else build/agora, else `agora` on PATH.
# Each step's wall time is printed (docs/tokenizer.md quotes them).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 OUTDIR [VOCAB]" >&2
  exit 2
fi
out=$1
vocab=${2:-4096}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${AGORA_BIN:-}
if [ -z "$bin" ]; then
  if [ -x "$root/build/agora" ]; then bin="$root/build/agora"; else bin=$(command -v agora || true); fi
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "prepare_kjv: no agora binary (build it with 'make' or set AGORA_BIN)" >&2
  exit 1
fi
mkdir -p "$out"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# 1. Corpus text. `bible` prints "Ge1:1 In the beginning ..." per verse; the whole range is
# one call (about 0.2 s), much faster than a call per book.
if [ ! -s "$out/kjv.txt" ]; then
  if ! command -v bible >/dev/null 2>&1; then
    echo "prepare_kjv: the 'bible' command is missing (apt-get install bible-kjv)" >&2
    exit 1
  fi
  t0=$(now)
  bible -f Genesis1:1-Revelation22:21 | sed -e 's/^[^ ]* //' > "$out/kjv.txt.tmp"
  lines=$(wc -l < "$out/kjv.txt.tmp")
  if [ "$lines" -lt 31000 ]; then
    echo "prepare_kjv: bible printed only $lines verses (expected 31102)" >&2
    rm -f "$out/kjv.txt.tmp"
    exit 1
  fi
  mv "$out/kjv.txt.tmp" "$out/kjv.txt"
  echo "prepare_kjv: corpus   $(wc -c < "$out/kjv.txt") bytes, $lines verses in $(elapsed "$t0") s"
else
  echo "prepare_kjv: corpus   $out/kjv.txt exists, skipped"
fi

# 2. Tokenizer.
if [ ! -s "$out/tokenizer.bpe" ]; then
  t0=$(now)
  "$bin" tokenizer train "$out/kjv.txt" --vocab "$vocab" --out "$out/tokenizer.bpe" |
    sed 's/^/prepare_kjv:   /'
  echo "prepare_kjv: tokenizer vocab $vocab in $(elapsed "$t0") s"
else
  echo "prepare_kjv: tokenizer $out/tokenizer.bpe exists, skipped"
fi

# 3. Shards (meta.json is written last, so its presence means complete).
if [ ! -s "$out/shards/meta.json" ]; then
  t0=$(now)
  "$bin" data prepare "$out/kjv.txt" --tokenizer "$out/tokenizer.bpe" --out "$out/shards" |
    sed 's/^/prepare_kjv:   /'
  echo "prepare_kjv: shards   in $(elapsed "$t0") s"
else
  echo "prepare_kjv: shards   $out/shards exists, skipped"
fi
