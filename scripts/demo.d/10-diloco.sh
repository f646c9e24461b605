#!/usr/bin/env bash
# Demo part (the main job): decentralized training with DiLoCo on the King James Bible.
# A coordinator and 3 local nodes train the tiny preset; at outer step 3 one node is
# killed with SIGKILL and at step 4 a new node joins and pulls the shared state from a
# peer. The summary compares the int8 ring traffic with per-step data-parallel training.
# $1 is the agora binary. DEMO_DILOCO_OUTER overrides the number of outer steps.
set -euo pipefail
agora=${1:?usage: 10-diloco.sh AGORA_BIN}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
AGORA_BIN="$agora" "$root/scripts/prepare_kjv.sh" "$root/data/kjv"
run=$(mktemp -d "${TMPDIR:-/tmp}/agora-diloco-demo.XXXXXX")
echo "== agora launch (3 DiLoCo nodes, tiny preset, kill at outer step 3, join at 4) =="
"$agora" launch --nodes 3 --config examples/diloco/kjv.ini --kill-at 3 --join-at 4 \
  --set diloco.outer_steps="${DEMO_DILOCO_OUTER:-8}" --run-dir "$run"
echo "(loss plot: $run/loss.svg; per-node metrics: $run/node-XX/metrics.jsonl; logs: $run/node-XX/log.txt)"
