#!/usr/bin/python3
"""paired.py: paired differences (policy minus chrono, per replicate) from the compare.csv
that `agora sim compare` writes. Used for docs/sim-results.md.

usage: paired.py RUN_DIR/compare.csv [POLICY] [METRIC ...]
prints, per metric: mean of chrono, mean of POLICY, mean paired difference, its standard
error, how many replicates have POLICY > chrono, and the range of POLICY over replicates.
"""
import csv
import math
import sys

DEFAULT = ["NE feed (neg. share shown)", "ANB vs chrono: population", "ANB vs chrono: max",
           "A_i vs pool: max", "OR(1%) retweets received", "OR(1%) impressions",
           "OR(1%) followers", "opinion variance", "bimodality coeff.",
           "extremist share |o|>0.8", "Esteban-Ray P(1.6)", "opinion assortativity r_o",
           "camp modularity Q", "retweets per exposure"]


def main():
    path = sys.argv[1]
    pol = sys.argv[2] if len(sys.argv) > 2 else "eng_oracle"
    metrics = sys.argv[3:] or DEFAULT
    rows = list(csv.DictReader(open(path)))
    reps = sorted({r["replicate"] for r in rows}, key=int)
    by = {(r["replicate"], r["policy"]): r for r in rows}
    print("%-28s %10s %10s %10s %8s %6s %19s" % ("metric", "chrono", pol, "diff", "se", "P>C",
                                                 "range of " + pol))
    for m in metrics:
        c = [float(by[(k, "chrono")][m]) for k in reps]
        p = [float(by[(k, pol)][m]) for k in reps]
        d = [b - a for a, b in zip(c, p)]
        n = len(d)
        md = sum(d) / n
        se = math.sqrt(sum((x - md) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
        print("%-28s %10.4f %10.4f %+10.4f %8.4f %3d/%d  [%.4f, %.4f]" % (
            m, sum(c) / n, sum(p) / n, md, se, sum(x > 0 for x in d), n, min(p), max(p)))


if __name__ == "__main__":
    main()
