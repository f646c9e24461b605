#!/usr/bin/env bash
# Benchmark: DiLoCo against per-step data parallelism on the same data and token budget.
#
#   baseline  `agora train` with the global batch of W nodes (W x B sequences per step):
#             what synchronous data-parallel training computes, step for step. Its traffic
#             is counted, not run: a ring all-reduce of the fp32 gradient every step,
#             2(W-1)/W x 4 bytes x params per node.
#   diloco    `agora launch --nodes W` with B sequences per node, H inner steps per outer
#             step, int8-lut ring all-reduce; bytes are measured by the nodes.
#   e3m0      the same with the 4-bit codec (comm.codec=e3m0): loss and bytes; and once
#             more with error feedback (diloco.error_feedback=true): loss.
#   slow link the same DiLoCo run with every node's uplink capped by comm.rate_limit_mbps
#             (BENCH_DILOCO_MBIT, default 10), blocking and overlapped (diloco.overlap:
#             the all-reduce of round t runs while round t+1 trains), and blocking with
#             the 4-bit codec (half the bytes of int8-lut), and streaming (diloco.streaming:
#             BENCH_DILOCO_FRAGMENTS fragments, default 4, each all-reduce behind
#             BENCH_DILOCO_TAU inner steps, default 10).
# Printed: validation loss of each, the traffic ratio, the measured utilization on
# loopback and on the capped link, and the utilization projected for other link speeds
# from the measured inner-step time and bytes per outer step.
# $1 is the build directory. BENCH_DILOCO_H and BENCH_DILOCO_OUTER set H and the outer steps,
# BENCH_DILOCO_W the number of nodes (2). BENCH_DILOCO_SEEDS="1 2 3" runs, instead of the above,
# only the loss comparison (data-parallel, DiLoCo int8-lut, DiLoCo e3m0) once per train.seed
# (model init and data order), with each seed's gap to data-parallel and the mean and
# range over seeds: one seed alone does not say whether a 1% gap is real.
set -euo pipefail
build=${1:?usage: 40-diloco.sh BUILD_DIR}
agora="$build/agora"
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
AGORA_BIN="$agora" "$root/scripts/prepare_kjv.sh" "$root/data/kjv" >/dev/null
W=${BENCH_DILOCO_W:-2}
B=8
T=64
H=${BENCH_DILOCO_H:-100}
OUTER=${BENCH_DILOCO_OUTER:-4}
STEPS=$((H * OUTER))
out=$(mktemp -d "${TMPDIR:-/tmp}/agora-bench-diloco.XXXXXX")
common=(--set train.preset=tiny --set train.data=data/kjv/shards --set train.seq_len=$T
        --set train.lr=2e-3 --set train.warmup=20 --set train.steps=$STEPS
        --set train.val_every=0 --set train.val_batches=8 --set train.log_every=1000000)
if [ -n "${BENCH_DILOCO_SEEDS:-}" ]; then
  echo "DiLoCo vs data-parallel over seeds: tiny preset, W=$W nodes x $B x $T tokens, H=$H," \
    "$OUTER outer steps, train.seed in {$BENCH_DILOCO_SEEDS}"
  for seed in $BENCH_DILOCO_SEEDS; do
    sd=(--set train.seed=$seed)
    "$agora" train --run-dir "$out/seed$seed-dp" --progress plain "${common[@]}" "${sd[@]}" \
      --set train.batch_size=$((W * B)) >"$out/seed$seed-dp.log" 2>&1
    "$agora" launch --nodes $W --run-dir "$out/seed$seed-int8" "${common[@]}" "${sd[@]}" \
      --set train.batch_size=$B --set diloco.inner_steps=$H --set diloco.outer_steps=$OUTER \
      >"$out/seed$seed-int8.log" 2>&1
    "$agora" launch --nodes $W --run-dir "$out/seed$seed-e3m0" "${common[@]}" "${sd[@]}" \
      --set train.batch_size=$B --set diloco.inner_steps=$H --set diloco.outer_steps=$OUTER \
      --set comm.codec=e3m0 >"$out/seed$seed-e3m0.log" 2>&1
  done
  /usr/bin/python3 - "$out" "$BENCH_DILOCO_SEEDS" <<'PY'
import json, re, sys
out, seeds = sys.argv[1], sys.argv[2].split()
def dp(s):
    m = re.search(r"done at step \d+: .*?val loss ([0-9.]+)", open(f"{out}/seed{s}-dp.log").read())
    return float(m.group(1)) if m else float("nan")
def node(s, kind):
    try:
        return json.load(open(f"{out}/seed{s}-{kind}/node-00/summary.json"))["val_loss"]
    except OSError:
        return float("nan")
rows = [(s, dp(s), node(s, "int8"), node(s, "e3m0")) for s in seeds]
print("  validation loss per train.seed: data-parallel | DiLoCo int8-lut (gap) | DiLoCo e3m0 (gap)")
for s, d, a, e in rows:
    print(f"    seed {s:>3}: {d:.4f} | {a:.4f} ({100 * (a / d - 1):+.1f}%) | "
          f"{e:.4f} ({100 * (e / d - 1):+.1f}%)")
for i, name in ((1, "data-parallel"), (2, "DiLoCo int8-lut"), (3, "DiLoCo e3m0")):
    v = [r[i] for r in rows]
    gaps = [100 * (r[i] / r[1] - 1) for r in rows]
    print(f"  {name:>15}: mean {sum(v) / len(v):.4f} (range {min(v):.4f}-{max(v):.4f})"
          + (f", gap to data-parallel {min(gaps):+.1f}% to {max(gaps):+.1f}%" if i > 1 else ""))
PY
  [ -n "${BENCH_KEEP:-}" ] && echo "(kept $out)" || rm -rf "$out"
  exit 0
fi
echo "DiLoCo vs data-parallel: tiny preset, W=$W nodes x $B x $T tokens, H=$H, $OUTER outer steps"
t0=$(date +%s.%N)
"$agora" train --run-dir "$out/dp" --progress plain "${common[@]}" --set train.batch_size=$((W * B)) \
  --set train.steps=$STEPS >"$out/dp.log" 2>&1
t1=$(date +%s.%N)
"$agora" launch --nodes $W --run-dir "$out/diloco" "${common[@]}" --set train.batch_size=$B \
  --set diloco.inner_steps=$H --set diloco.outer_steps=$OUTER >"$out/diloco.log" 2>&1
t2=$(date +%s.%N)
"$agora" launch --nodes $W --run-dir "$out/e3m0" "${common[@]}" --set train.batch_size=$B \
  --set diloco.inner_steps=$H --set diloco.outer_steps=$OUTER --set comm.codec=e3m0 \
  >"$out/e3m0.log" 2>&1
"$agora" launch --nodes $W --run-dir "$out/e3m0-ef" "${common[@]}" --set train.batch_size=$B \
  --set diloco.inner_steps=$H --set diloco.outer_steps=$OUTER --set comm.codec=e3m0 \
  --set diloco.error_feedback=true >"$out/e3m0-ef.log" 2>&1
MBIT=${BENCH_DILOCO_MBIT:-10}
P=${BENCH_DILOCO_FRAGMENTS:-4}
TAU=${BENCH_DILOCO_TAU:-10}
for mode in false true e3m0 stream; do
  extra=(--set diloco.overlap=$mode)
  [ $mode = e3m0 ] && extra=(--set comm.codec=e3m0)
  [ $mode = stream ] && extra=(--set diloco.streaming=true --set diloco.fragments=$P
                               --set diloco.fragment_overlap=$TAU)
  "$agora" launch --nodes $W --run-dir "$out/slow-$mode" "${common[@]}" --set train.batch_size=$B \
    --set diloco.inner_steps=$H --set diloco.outer_steps=$OUTER "${extra[@]}" \
    --set comm.rate_limit_mbps=$MBIT >"$out/slow-$mode.log" 2>&1
done
/usr/bin/python3 - "$out" "$W" "$t0" "$t1" "$t2" "$MBIT" "$P" "$TAU" <<'PY'
import json, sys, glob
out, W = sys.argv[1], int(sys.argv[2])
t0, t1, t2, mbit_cap = map(float, sys.argv[3:7])
P, TAU = int(sys.argv[7]), int(sys.argv[8])
import re
# `agora train` ends with "done at step N: loss L, val loss V, ...".
m = re.search(r"done at step \d+: .*?val loss ([0-9.]+)", open(out + "/dp.log").read())
dp_val = float(m.group(1)) if m else float("nan")
s = json.load(open(out + "/diloco/node-00/summary.json"))
recs = [json.loads(l) for l in open(out + "/diloco/node-00/metrics.jsonl")]
inner = sum(r["inner_s"] for r in recs) / len(recs)
bytes_per_outer = sum(r["tx_bytes"] for r in recs) / len(recs)
print(f"  data-parallel (1 process, global batch): val loss {dp_val:.4f}, {t1 - t0:.0f} s")
print(f"  DiLoCo ({W} nodes, int8-lut):            val loss {s['val_loss']:.4f}, {t2 - t1:.0f} s")
print(f"  traffic per node: DiLoCo {s['tx_bytes'] / 1e6:.2f} MB, data-parallel fp32 "
      f"{s['dp_equivalent_tx_bytes'] / 1e6:.1f} MB -> {s['dp_equivalent_tx_bytes'] / s['tx_bytes']:.0f}x less")
print(f"  utilization on loopback (measured): {100 * s['mean_utilization']:.1f}%")
try:
    e = json.load(open(out + "/e3m0/node-00/summary.json"))
    print(f"  DiLoCo ({W} nodes, e3m0, 4-bit):         val loss {e['val_loss']:.4f}, "
          f"{e['tx_bytes'] / 1e6:.2f} MB per node -> "
          f"{e['dp_equivalent_tx_bytes'] / e['tx_bytes']:.0f}x less than data-parallel")
except OSError:
    print(f"  DiLoCo e3m0: no summary (see {out}/e3m0.log)")
try:
    e = json.load(open(out + "/e3m0-ef/node-00/summary.json"))
    print(f"  DiLoCo ({W} nodes, e3m0, error feedback): val loss {e['val_loss']:.4f}")
except OSError:
    print(f"  DiLoCo e3m0 + error feedback: no summary (see {out}/e3m0-ef.log)")
for mbit in (1000, 100, 10):
    t = bytes_per_outer * 8 / (mbit * 1e6)
    print(f"  utilization at {mbit:>4} Mbit/s (projected from {inner:.2f} s inner, "
          f"{bytes_per_outer / 1e6:.2f} MB/outer step): {100 * inner / (inner + t):.1f}%")
for mode, name in (("false", "blocking"), ("true", "overlapped"), ("e3m0", "blocking e3m0"),
                   ("stream", f"streaming P={P} tau={TAU}")):
    try:
        d = json.load(open(f"{out}/slow-{mode}/node-00/summary.json"))
    except OSError:
        print(f"  {name} at {mbit_cap:g} Mbit/s: no summary (see {out}/slow-{mode}.log)")
        continue
    r = [json.loads(l) for l in open(f"{out}/slow-{mode}/node-00/metrics.jsonl")]
    ar = sorted(x["allreduce_s"] for x in r)
    print(f"  {name:>13} DiLoCo, uplink capped at {mbit_cap:g} Mbit/s (measured): utilization "
          f"{100 * d['mean_utilization']:.1f}%, median wait for the all-reduce "
          f"{ar[len(ar) // 2]:.2f} s, val loss {d['val_loss']:.4f}, largest all-reduce "
          f"{sum(x['tx_bytes'] for x in r) / len(r) / (P if mode == 'stream' else 1) / 1e6:.2f} MB")
PY
[ -n "${BENCH_KEEP:-}" ] && echo "(kept $out)" || rm -rf "$out"
