#!/usr/bin/env bash
# Training throughput: agora vs PyTorch (Debian python3-torch) on the same shapes.
#
# For each preset (tiny, small, base) at T=256 (B=8) and T=1024 (B=2), i.e. 2048 tokens
# per step, bench_train measures the 2-thread sgemm peak in the same process, then
# tokens/s, MFU against that peak, and peak RSS: rss_MB is the whole process, train_MB
# the part above the RSS before the model was built, compared with the analytic
# params + grads + AdamW + activations (anal_MB; ratio = train_MB / anal_MB). Each side gets its best thread setting:
#   agora:   2 OpenMP workers spinning (default) or OMP_WAIT_POLICY=passive, or one thread
#   PyTorch: its own pool at 2 threads (OpenBLAS 1), OpenBLAS's pool at 2 (torch 1), or one
#            thread for both; two pools at 2 threads each fight over 2 cores, so that mix is
#            not offered. One thread is sometimes the fastest on a loaded machine (no thread
#            waits for a descheduled partner), so both sides get that option.
# agora runs every product on its own AMX kernel where the CPU has AMX-BF16 (fp32-accurate:
# three bf16 parts per operand, six products; docs/train.md), else the forward and
# input-gradient products through oneDNN's sgemm and the weight-gradient ones through
# OpenBLAS. The noamx_tok/s column reruns the winning setting with AGORA_SGEMM=onednn (the
# previous version's choice, the baseline for the AMX kernel), and openblas_tok/s with
# AGORA_SGEMM=openblas (OpenBLAS for every product, as PyTorch does), each with its own
# ratio to PyTorch. The last field names what ran the products.
# The last line gives the machine's FMA ceiling (AVX-512 or AVX2 FMA, registers only) and
# the sgemm peak as a share of it (above 100% with the AMX kernel). MFU is against the best
# 2-thread sgemm of the same process, which includes the AMX kernel where it runs.
# BENCH_TRAIN_QUICK=1 runs only T=256 for tiny and small. BENCH_TRAIN_ROUNDS=N (default 1)
# measures every shape N times, agora and PyTorch interleaved (each round: all settings of
# both sides), prints the best of all rounds for each side and the median and range of the
# per-round ratios: on a shared machine one round's ratio can move by +-15%.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/bench/bench_train
if [ ! -x "$bin" ]; then
  echo "bench_train not built (AGORA_BLAS=OFF?)"
  exit 0
fi
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
best_of() { # prints the line with the highest tok_s
  local best="" bt=0 l t
  for l in "$@"; do
    t=$(field tok_s "$l")
    if [ -n "$t" ] && awk -v a="$t" -v b="$bt" 'BEGIN{exit !(a>b)}'; then best=$l; bt=$t; fi
  done
  echo "$best"
}
have_torch=1
/usr/bin/python3 -c 'import torch' 2>/dev/null || have_torch=0
rounds=${BENCH_TRAIN_ROUNDS:-1}
configs="tiny:256:8:20 small:256:8:4 base:256:8:2 tiny:1024:2:10 small:1024:2:3 base:1024:2:2"
[ "${BENCH_TRAIN_QUICK:-0}" = 1 ] && configs="tiny:256:8:20 small:256:8:4"
printf '%-6s %5s %3s %11s %8s %7s %11s %9s %11s %8s %12s %8s %8s %8s %8s %8s  %s\n' preset T B \
  agora_tok/s MFU peakGF torch_tok/s vs_torch noamx_tok/s vs_torch openblas_tok/s vs_torch \
  rss_MB train_MB anal_MB ratio 'best settings (agora, torch), sgemm'
agora_run() { # SETTING PRESET T B STEPS
  local set=$1
  shift
  case $set in
  omp2) "$bin" "$@" ;;
  omp2-passive) OMP_WAIT_POLICY=passive "$bin" "$@" ;;
  1thread) OMP_NUM_THREADS=1 "$bin" "$@" ;;
  esac
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
last=""
for c in $configs; do
  IFS=: read -r preset T B steps <<<"$c"
  runs=()
  oruns=()
  nruns=()
  truns=()
  ratios=()
  for ((r = 0; r < rounds; r++)); do
    a1="$(agora_run omp2 "$preset" "$T" "$B" "$steps") set=omp2"
    a2="$(agora_run omp2-passive "$preset" "$T" "$B" "$steps") set=omp2-passive"
    a3="$(agora_run 1thread "$preset" "$T" "$B" "$steps") set=1thread"
    ar=$(best_of "$a1" "$a2" "$a3")
    runs+=("$ar")
    # The same winning setting with OpenBLAS running every product (the issue's design).
    oruns+=("$(AGORA_SGEMM=openblas agora_run "$(field set "$ar")" "$preset" "$T" "$B" "$steps")")
    # And with the previous version's choice (oneDNN + OpenBLAS, no AMX kernel).
    nruns+=("$(AGORA_SGEMM=onednn agora_run "$(field set "$ar")" "$preset" "$T" "$B" "$steps")")
    if [ $have_torch = 1 ]; then
      t1=$(TORCH_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$src/bench/train_torch_ref.py" \
        "$preset" "$T" "$B" "$steps")
      t2=$(TORCH_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$src/bench/train_torch_ref.py" \
        "$preset" "$T" "$B" "$steps")
      t3=$(TORCH_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$src/bench/train_torch_ref.py" \
        "$preset" "$T" "$B" "$steps")
      tr=$(best_of "$t1" "$t2" "$t3")
      truns+=("$tr")
      ratios+=("$(awk -v a="$(field tok_s "$ar")" -v b="$(field tok_s "$tr")" 'BEGIN{print a/b}')")
    fi
  done
  a=$(best_of "${runs[@]}")
  ob=$(field tok_s "$(best_of "${oruns[@]}")")
  nb=$(field tok_s "$(best_of "${nruns[@]}")")
  ts="-"
  ratio="-"
  oratio="-"
  nratio="-"
  tset="-"
  spread=""
  if [ $have_torch = 1 ]; then
    t=$(best_of "${truns[@]}")
    ts=$(field tok_s "$t")
    tset="torch$(field torch_threads "$t")/blas$(field openblas_threads "$t")"
    ratio=$(awk -v a="$(field tok_s "$a")" -v b="$ts" 'BEGIN{printf "%.2fx", a/b}')
    oratio=$(awk -v a="$ob" -v b="$ts" 'BEGIN{printf "%.2fx", a/b}')
    nratio=$(awk -v a="$nb" -v b="$ts" 'BEGIN{printf "%.2fx", a/b}')
    if [ "$rounds" -gt 1 ]; then
      spread=$(printf '%s\n' "${ratios[@]}" | awk -v med="$(printf '%s\n' "${ratios[@]}" | median)" \
        'NR == 1 {lo = hi = $1} {lo = $1 < lo ? $1 : lo; hi = $1 > hi ? $1 : hi}
         END {printf "  rounds: median %.2fx, %.2f-%.2fx", med, lo, hi}')
    fi
  fi
  printf '%-6s %5s %3s %11s %7.1f%% %7s %11s %9s %11s %8s %12s %8s %8s %8s %8s %8s  %s %s %s%s\n' \
    "$preset" "$T" "$B" "$(field tok_s "$a")" "$(awk -v m="$(field mfu "$a")" 'BEGIN{print 100*m}')" \
    "$(field peak_gflops "$a")" "$ts" "$ratio" "$nb" "$nratio" "$ob" "$oratio" \
    "$(field rss_mb "$a")" "$(field train_mb "$a")" "$(field analytic_mb "$a")" \
    "$(field rss_ratio "$a")" "$(field set "$a")" "$tset" "$(field sgemm "$a")" "$spread"
  last=$a
done
fma=$(field fma_gflops "$last")
if [ -n "$fma" ] && [ "$fma" != 0.0 ]; then
  printf 'FMA ceiling (2 threads, registers only): %s GFLOP/s; the sgemm peak of the last shape is %s%% of it\n' \
    "$fma" "$(awk -v r="$(field sgemm_vs_fma "$last")" 'BEGIN{printf "%.0f", 100*r}')"
fi
