#!/usr/bin/env bash
# Two DiLoCo nodes on two "hosts": network namespaces joined by a veth pair (10.77.x.1 and
# 10.77.x.2), the coordinator beside the first node. The nodes listen on 0.0.0.0 and
# reach each other only over the veth link, so this checks what loopback tests cannot:
# that a node is advertised at a routable address (the one the coordinator sees) and the
# ring, the shared-state sync and the all-reduce work between hosts (with the nodes bound
# to 127.0.0.1 instead, the ring links are refused and the run never gets going). Both
# replicas must end bit-identical. Needs root and veth support; exits 77 (skipped) without.
# usage: netns_diloco.sh AGORA_BINARY
set -uo pipefail
agora=$(realpath "$1")
[ "$(id -u)" = 0 ] && command -v ip >/dev/null || exit 77
tag=$$
ns1=agora-a-$tag ns2=agora-b-$tag v1=agva$tag v2=agvb$tag
net=10.77.$((tag % 250))
work=$(mktemp -d "${TMPDIR:-/tmp}/agora-netns.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns1" 2>/dev/null
  ip netns del "$ns2" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns1" 2>/dev/null || exit 77
# no veth support here is a missing capability, not a failure: skip
ip netns add "$ns2" || exit 77
ip link add "$v1" type veth peer name "$v2" || exit 77
ip link set "$v1" netns "$ns1" && ip link set "$v2" netns "$ns2" || exit 77
ip -n "$ns1" addr add "$net.1/24" dev "$v1" && ip -n "$ns2" addr add "$net.2/24" dev "$v2" || exit 77
for n in "$ns1" "$ns2"; do ip -n "$n" link set lo up; done
ip -n "$ns1" link set "$v1" up && ip -n "$ns2" link set "$v2" up || exit 77

head -c 32 /dev/urandom >"$work/cluster.key"
for i in $(seq 1 400); do
  echo "In the beginning was the word $i, and the word was with the text of line $i."
done >"$work/corpus.txt"
# both nodes take the same fixed ring-link port, as they would on two hosts
common=(--key-file "$work/cluster.key" --progress off --set comm.bind=0.0.0.0
        --set comm.p2p_port=48101
        --set train.text="$work/corpus.txt" --set train.preset=tiny --set train.seq_len=32
        --set train.batch_size=4 --set train.warmup=2 --set train.val_every=0
        --set train.peak_gflops=100 --set diloco.inner_steps=5 --set diloco.outer_steps=3
        --set train.n_workers=2 --set diloco.min_world=2)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
ip netns exec "$ns1" "$agora" master --key-file "$work/cluster.key" --port 48100 \
  --set comm.bind=0.0.0.0 --run-dir "$work/master" >"$work/master.log" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do [ -s "$work/master/master.port" ] && break; sleep 0.1; done
ip netns exec "$ns1" "$agora" node --master "$net.1:48100" --run-dir "$work/n0" \
  --set train.worker=0 "${common[@]}" >"$work/n0.log" 2>&1 &
n0=$!
ip netns exec "$ns2" "$agora" node --master "$net.1:48100" --run-dir "$work/n1" \
  --set train.worker=1 "${common[@]}" >"$work/n1.log" 2>&1 &
n1=$!
pids+=("$n0" "$n1")
fail() {
  echo "FAIL: $*"
  for f in master.log n0.log n1.log; do echo "--- $f"; tail -n 15 "$work/$f"; done
  exit 1
}
for p in "$n0" "$n1"; do
  for i in $(seq 1 1800); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && fail "node $p still running after 180 s"
  wait "$p" || fail "node $p exited with $?"
done
for d in n0 n1; do
  grep -q '"outer_steps":3' "$work/$d/summary.json" || fail "$d did not finish 3 outer steps"
done
w0=$(find "$work/n0/ckpt" -name model.safetensors | sort | tail -n 1)
w1=$(find "$work/n1/ckpt" -name model.safetensors | sort | tail -n 1)
[ -n "$w0" ] && [ -n "$w1" ] || fail "no final weights"
# comm.data_auth=auto: links that leave a host carry MACs
grep -q "ring data MACs" "$work/master.log" || fail "the ring between hosts ran without data MACs"
cmp -s "$w0" "$w1" || fail "replicas differ: $w0 $w1"
echo "ok: 2 nodes in 2 namespaces over $net.0/24, 3 outer steps, ring data MACs, identical weights"
