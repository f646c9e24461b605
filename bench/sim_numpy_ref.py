#!/usr/bin/python3
"""sim_numpy_ref.py: the simulator's step workload written in vectorised NumPy, as the
baseline for bench_sim_step (run under Debian's /usr/bin/python3 with python3-numpy).

Same workload per step as bench_sim_step: N agents, mean out-degree 50 (heavy-tailed
in-degree), Poisson posting, pull pools over the followees' emissions of the last W = 5
steps (posts and retweets), dead / own / seen messages dropped, one entry per message (the
latest emission), engagement-oracle scores P_rt = pi K(|o_i - o_m|) (1 + beta n_m), top-k
(k = 10) per reader with ties to the higher sequence number, retweet draws, seen-set
update and a one-shot bounded-confidence opinion move. It leaves out rewiring and the
metrics, so it does slightly less work than the C step.

usage: sim_numpy_ref.py [--n N] [--steps S] [--warmup W]
prints: N=... pool items/s X feed items/s Y ms/step Z
"""
import argparse
import time

import numpy as np


def kernel(d):
    return 1.0 / (1.0 + np.exp((d - 0.4) / 0.1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    N, K, W, AMAX, BETA = a.n, 10, 5, 20, 0.5
    rng = np.random.default_rng(1)
    o = np.clip(rng.choice([-0.8, -0.4, 0, 0.4, 0.8], N, p=[.15, .2, .3, .2, .15])
                + 0.1 * rng.standard_normal(N), -1, 1)
    tau = rng.beta(2, 3, N)
    act = np.exp(np.log(0.5) - 0.5 + rng.standard_normal(N))
    pi = np.minimum(np.exp(np.log(0.02) + 0.8 * rng.standard_normal(N)), 0.5)
    # graph: lognormal out-degrees, Pareto-fitness targets (duplicates and self-loops removed)
    kout = np.clip(np.exp(np.log(50) - 0.125 + 0.5 * rng.standard_normal(N)), 5, min(500, N - 1))
    kout = kout.astype(np.int64)
    fit = (1 - rng.random(N)) ** (-1 / 1.2)
    src = np.repeat(np.arange(N), kout)
    dst = rng.choice(N, size=src.size, p=fit / fit.sum())
    key = np.unique(src * N + dst)
    src, dst = key // N, key % N
    keep = src != dst
    src, dst = src[keep], dst[keep]
    E = src.size
    # messages
    m_author = np.zeros(0, np.int64)
    m_t0 = np.zeros(0, np.int64)
    m_o = np.zeros(0)
    m_neg = np.zeros(0, bool)
    m_nrt = np.zeros(0, np.int64)
    emis = []  # per step: (emitter-sorted offsets, seqs)
    seen = np.zeros(0, np.int64)  # sorted keys reader * 2^32 + seq
    rt_prev = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # (retweeter, seq)
    step_seq0 = []
    tot_pool = tot_feed = 0
    t_meas = 0.0
    for t in range(a.warmup + a.steps):
        t_start = time.perf_counter()
        # A. posting
        npost = np.minimum(rng.poisson(act), 20)
        seq0 = m_author.size
        step_seq0.append(seq0)
        auth = np.repeat(np.arange(N), npost)
        m_author = np.concatenate([m_author, auth])
        m_t0 = np.concatenate([m_t0, np.full(auth.size, t)])
        m_o = np.concatenate([m_o, np.clip(o[auth] + 0.05 * rng.standard_normal(auth.size), -1, 1)])
        m_neg = np.concatenate([m_neg, rng.random(auth.size) < tau[auth]])
        m_nrt = np.concatenate([m_nrt, np.zeros(auth.size, np.int64)])
        em_who = np.concatenate([rt_prev[0], auth])
        em_seq = np.concatenate([rt_prev[1], seq0 + np.arange(auth.size)])
        order = np.argsort(em_who, kind="stable")
        em_who, em_seq = em_who[order], em_seq[order]
        off = np.searchsorted(em_who, np.arange(N + 1))
        emis.append((off, em_seq))
        if len(emis) > W:
            emis.pop(0)
        first_live = step_seq0[max(0, t - AMAX + 1)]
        # B. pools: every (reader, followee, emission) of the window
        rs, ss, es = [], [], []
        for w, (off_w, seq_w) in enumerate(emis):
            e = t - (len(emis) - 1 - w)
            cnt = off_w[dst + 1] - off_w[dst]
            tot = int(cnt.sum())
            if tot == 0:
                continue
            start = np.repeat(off_w[dst], cnt)
            within = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            rs.append(np.repeat(src, cnt))
            ss.append(seq_w[start + within])
            es.append(np.full(tot, e))
        r = np.concatenate(rs)
        s = np.concatenate(ss)
        e = np.concatenate(es)
        ok = (s >= first_live) & (m_author[s] != r)
        r, s, e = r[ok], s[ok], e[ok]
        k = r * (1 << 32) + s
        pos = np.searchsorted(seen, k)
        pos[pos >= seen.size] = 0
        ok = seen[pos] != k if seen.size else np.ones(k.size, bool)
        r, s, e, k = r[ok], s[ok], e[ok], k[ok]
        order = np.lexsort((-e, k))  # by key, latest emission first
        k = k[order]
        first = np.ones(k.size, bool)
        first[1:] = k[1:] != k[:-1]
        r, s = r[order][first], s[order][first]
        score = pi[r] * kernel(np.abs(o[r] - m_o[s])) * (1 + BETA * m_neg[s])
        order = np.lexsort((-s, -score, r))
        r, s, score = r[order], s[order], score[order]
        gstart = np.searchsorted(r, r)
        top = (np.arange(r.size) - gstart) < K
        fr, fs, fp = r[top], s[top], np.minimum(score[top], 1.0)
        rt = rng.random(fr.size) < fp
        np.add.at(m_nrt, fs[rt], 1)
        rt_prev = (fr[rt], fs[rt])
        seen = np.union1d(seen[seen % (1 << 32) >= first_live], fr * (1 << 32) + fs)
        d = m_o[fs] - o[fr]
        move = np.where(np.abs(d) < 0.3, 0.02 * d, 0.0)
        o = np.clip(o + np.bincount(fr, weights=move, minlength=N), -1, 1)
        if t >= a.warmup:
            t_meas += time.perf_counter() - t_start
            tot_pool += r.size
            tot_feed += fr.size
    print("numpy N=%d edges=%d: %.1f ms/step  pool items/s %.3g  feed items/s %.3g"
          % (N, E, 1e3 * t_meas / a.steps, tot_pool / t_meas, tot_feed / t_meas))


if __name__ == "__main__":
    main()
