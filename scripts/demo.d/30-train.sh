#!/usr/bin/env bash
# Demo part: train a short `small` Llama-style model on the King James Bible and sample it.
# About 3-4 minutes on 2 cores: prepares the corpus, a 4096-token BPE and token shards
# under data/kjv (once; scripts/prepare_kjv.sh skips finished steps), trains the `small`
# preset (22M parameters) for DEMO_TRAIN_STEPS steps (default 100) of 8 x 128 tokens, then
# prints a sample from the final checkpoint. $1 is the agora binary.
set -euo pipefail
agora=${1:?usage: 30-train.sh AGORA_BIN}
root=$(cd "$(dirname "$0")/../.." && pwd)
steps=${DEMO_TRAIN_STEPS:-100}
AGORA_BIN="$agora" "$root/scripts/prepare_kjv.sh" "$root/data/kjv"
run=$(mktemp -d "${TMPDIR:-/tmp}/agora-train-demo.XXXXXX")
echo "== agora train (small preset, $steps steps, run dir $run) =="
"$agora" train --run-dir "$run" --progress plain \
  --set train.preset=small --set train.data="$root/data/kjv/shards" \
  --set train.seq_len=128 --set train.batch_size=8 --set train.steps="$steps" \
  --set train.lr=2e-3 --set train.warmup=20 --set train.val_every=40 --set train.val_batches=2 \
  --set train.log_every=10
echo "== agora generate (temperature 0.8, top-k 40) =="
"$agora" generate --ckpt "$run" --prompt "And God said" --max-tokens 60 --temperature 0.8 \
  --top-k 40 --seed 7
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo "(run dir kept: $run)"
else
  rm -rf "$run" # DEMO_KEEP=1 keeps metrics.jsonl and the checkpoint
fi
