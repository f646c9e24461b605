#!/usr/bin/env bash
# Elastic collectives benchmark ($1 = build directory). In one run, beside each other:
#   - q8 codecs: quantize + dequantize throughput against memcpy (one core);
#   - the loopback TCP ceiling for the same ring shape (bench_allreduce_tcp), twice: blasting
#     from and into 1 MiB buffers that stay in L2 ("cached"), and from and into buffers of
#     the collective's own size, so the bytes come from and go to DRAM as an all-reduce's
#     bytes must ("sized"); the all-reduce is reported against both;
#   - `agora comm-bench` (f32 and int8-lut, sum) and torch.distributed gloo (sum) on the same sizes;
#   - the 4-byte latency (2 peers), and int8-lut vs f32 behind a 1 Gbit/s cap per peer;
#   - the cost of ring data MACs (comm.data_auth=mac against checksum, 2 peers, 64 MiB) on
#     loopback and behind the 1 Gbit/s cap, each pair run back to back.
# Sizes: COMM_BENCH_SIZES (default 4M,64M,256M), iterations: COMM_BENCH_ITERS (3).
set -euo pipefail
build=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
agora="$build/agora"
bq8=$(find "$build" -name bench_q8 -type f -perm -u+x | head -n 1)
btcp=$(find "$build" -name bench_allreduce_tcp -type f -perm -u+x | head -n 1)
sizes=${COMM_BENCH_SIZES:-4M,64M,256M}
iters=${COMM_BENCH_ITERS:-3}
export AGORA_LOG=warn

echo "-- q8 codecs, one core (GB/s of fp32 input)"
"$bq8" $((16 << 20)) 5

have_torch=0
if /usr/bin/python3 -c 'import torch.distributed as d; assert d.is_gloo_available()' 2>/dev/null; then
  have_torch=1
else
  echo "(python3-torch missing: no gloo baseline; run scripts/deps.sh)"
fi

for W in 2 4; do
  ceiling=$("$btcp" "$W" 1 3 | sed -n 's/.*: \([0-9.]*\) GB\/s.*/\1/p')
  echo "-- $W peers: loopback TCP ceiling ($W processes in a ring, 1 stream each), 1 MiB buffers: $ceiling GB/s"
  declare -A sized=()
  for b in $(tr , ' ' <<<"$sizes"); do
    bytes=$(numfmt --from=iec "$b")
    sized[$bytes]=$("$btcp" "$W" 1 3 "$bytes" | sed -n 's/.*: \([0-9.]*\) GB\/s.*/\1/p')
  done
  ours=$("$agora" comm-bench --peers "$W" --sizes "$sizes" --codecs f32,int8-lut --op sum --iters "$iters" \
    2>/dev/null | awk 'NR > 1')
  gloo=""
  if [ $have_torch = 1 ]; then
    gloo=$(/usr/bin/python3 "$root/bench/bench_allreduce_gloo.py" "$W" "$sizes" "$iters" 2>/dev/null || true)
  fi
  printf "%12s %10s %12s %12s %12s %10s %11s %10s %10s\n" bytes codec time_us busbw_GB/s gloo_GB/s \
    vs_gloo tcp_sized vs_tcp_sz vs_tcp_1M
  while read -r bytes codec peers t algbw busbw; do
    g=$(echo "$gloo" | awk -v b="$bytes" '$2 == b {print $5}')
    awk -v b="$bytes" -v c="$codec" -v t="$t" -v bw="$busbw" -v g="${g:-0}" -v tc="$ceiling" \
      -v ts="${sized[$bytes]:-0}" 'BEGIN {
      vg = g > 0 ? sprintf("%.2fx", bw / g) : "-"; vt = tc > 0 ? sprintf("%.0f%%", 100 * bw / tc) : "-";
      vs = ts > 0 ? sprintf("%.0f%%", 100 * bw / ts) : "-";
      printf "%12s %10s %12s %12s %12s %10s %11s %10s %10s\n", b, c, t, bw, (g > 0 ? g : "-"), vg,
        (ts > 0 ? ts : "-"), vs, vt }'
  done <<< "$ours"
  unset sized
done

echo "-- latency: 4-byte all-reduce, 2 peers (median of 200)"
lat=$("$agora" comm-bench --peers 2 --sizes 4 --codecs f32 --iters 200 2>/dev/null | awk 'NR == 2 {print $4}')
glat="-"
if [ $have_torch = 1 ]; then
  glat=$(/usr/bin/python3 "$root/bench/bench_allreduce_gloo.py" 2 4 200 2>/dev/null | awk '{print $4}')
fi
echo "agora: $lat us   gloo: $glat us"

if "$agora" comm-bench --help | grep -q -- '--cap-mbps'; then
  echo "-- 2 peers behind a 1 Gbit/s cap per peer (fault proxy), 64 MB"
  "$agora" comm-bench --peers 2 --sizes 64M --codecs f32,int8-lut --iters 2 --cap-mbps 1000 \
    2>/dev/null | awk 'NR == 1 {print; next} {print; t[$2] = $4} END {
      if (t["f32"] > 0 && t["int8-lut"] > 0) printf "int8-lut end-to-end speed-up over f32: %.2fx\n", t["f32"] / t["int8-lut"] }'
fi

echo "-- ring data MACs: 2 peers, 64 MiB, --data-auth mac against checksum (median time per all-reduce)"
mac_pair() { # extra comm-bench flags...
  local m c
  m=$("$agora" comm-bench --peers 2 --sizes 64M --codecs f32,int8-lut --iters "$iters" --data-auth mac "$@" \
    2>/dev/null | awk 'NR > 1 {print $2, $4}')
  c=$("$agora" comm-bench --peers 2 --sizes 64M --codecs f32,int8-lut --iters "$iters" --data-auth checksum \
    "$@" 2>/dev/null | awk 'NR > 1 {print $2, $4}')
  join <(sort <<<"$m") <(sort <<<"$c") | awk '{printf "%10s mac %10.0f us  checksum %10.0f us  mac/checksum %.2f\n", $1, $2, $3, $2 / $3}'
}
echo "loopback:"
mac_pair
if "$agora" comm-bench --help | grep -q -- '--cap-mbps'; then
  echo "behind a 1 Gbit/s cap per peer:"
  mac_pair --cap-mbps 1000
fi
