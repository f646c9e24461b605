#!/usr/bin/python3
"""bench_allreduce_gloo.py: torch.distributed gloo all-reduce on loopback, the baseline for
`agora comm-bench` (scripts/bench.d/10-comm.sh). One process per peer, one thread each.

usage: bench_allreduce_gloo.py WORLD SIZES ITERS
prints: gloo <bytes> <world> <median_us> <busbw_GB/s>   (busbw = bytes*2(W-1)/W/time)
"""
import os
import socket
import sys
import time


def parse_size(s):
    mul = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(s[:-1]) * mul[s[-1].upper()]) if s[-1].upper() in mul else int(s)


def worker(rank, world, sizes, iters, port):
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    for size in sizes:
        n = max(1, size // 4)
        t = torch.randn(n)
        dist.all_reduce(t)  # warm-up
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        times.sort()
        sec = times[len(times) // 2]
        if rank == 0:
            busbw = n * 4 * 2 * (world - 1) / world / sec / 1e9
            print(f"gloo {n * 4} {world} {sec * 1e6:.1f} {busbw:.3f}", flush=True)
    dist.destroy_process_group()


def main():
    world = int(sys.argv[1])
    sizes = [parse_size(s) for s in sys.argv[2].split(",")]
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pids = []
    for rank in range(world):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                worker(rank, world, sizes, iters, port)
            except Exception as e:  # report and fail this peer
                print(f"gloo rank {rank}: {e}", file=sys.stderr)
                code = 1
            os._exit(code)
        pids.append(pid)
    bad = 0
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        bad |= st != 0
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
