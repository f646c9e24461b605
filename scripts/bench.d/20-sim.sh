#!/usr/bin/env bash
# Benchmark part: simulator throughput and memory at N = 1e4 and 1e5 (1e6 with
# AGORA_BENCH_BIG=1), beside the same workload in NumPy (bench/sim_numpy_ref.py under
# /usr/bin/python3), printed as a ratio. $1 is the build directory.
set -euo pipefail
build=${1:?usage: 20-sim.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
bench="$build/bench/bench_sim_step"
[ -x "$bench" ] || bench="$build/bench_sim_step"
threads=${OMP_NUM_THREADS:-2}
echo "== sim: bench_sim_step (OMP_NUM_THREADS=$threads) vs NumPy reference =="
for n in 10000 100000; do
  c=$(OMP_NUM_THREADS=$threads "$bench" --n $n)
  echo "$c"
  csteps=$([ $n -le 10000 ] && echo 5 || echo 2)
  py=$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$root/bench/sim_numpy_ref.py" --n $n --steps $csteps --warmup 6)
  echo "    $py"
  cp=$(echo "$c" | sed -n 's/.*threads: *[0-9.]* ms\/step  pool items\/s \([0-9.e+]*\).*/\1/p' | head -1)
  pp=$(echo "$py" | sed -n 's/.*pool items\/s \([0-9.e+]*\).*/\1/p')
  awk -v c="$cp" -v p="$pp" -v n="$n" 'BEGIN { if (p > 0) printf "    N=%d: C / NumPy pool items/s ratio %.1fx (SimSoM, quoted not measured: ~5e4 items/s)\n", n, c / p }'
done
if [ "${AGORA_BENCH_BIG:-0}" = 1 ]; then
  /usr/bin/time -v "$bench" --n 1000000 --steps "${AGORA_BENCH_BIG_STEPS:-100}" --warmup 6 --no-baseline 2>&1 |
    grep -E "^N=|per step|memory|Elapsed|Maximum resident"
fi
