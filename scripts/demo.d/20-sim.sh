#!/usr/bin/env bash
# Demo part: compare chronological and engagement ranking on the default 10,000-agent
# network (one replicate; about 1-2 minutes on 2 cores). $1 is the agora binary.
set -euo pipefail
agora=${1:?usage: 20-sim.sh AGORA_BIN}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/agora-sim-demo.XXXXXX")
echo "== agora sim compare (10,000 agents, chrono vs engagement) =="
"$agora" sim compare "$root/examples/sim/default.ini" --policies chrono,engagement \
  --run-dir "$out/compare" --progress plain
echo "== agora sim run (engagement, 1,000 agents, run directory with plots) =="
"$agora" sim run "$root/examples/sim/default.ini" --set sim.n_agents=1000 \
  --set sim.recsys=eng_oracle --run-dir "$out/run" --progress off
ls "$out/run"
rm -rf "$out"
