#!/usr/bin/env bash
# The AMX matmul kernel against OpenBLAS and oneDNN in the same run: one thread, the
# per-thread product shapes of the small preset's training step, GFLOP/s and accuracy
# against a double-precision sum (bench/bench_sgemm.c). $1 is the build directory.
set -euo pipefail
bin=$1/bench/bench_sgemm
if [ ! -x "$bin" ]; then
  echo "bench_sgemm not built (AGORA_BLAS=OFF?)"
  exit 0
fi
"$bin" "${BENCH_SGEMM_REPS:-7}"
