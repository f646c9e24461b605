/* topo.c: ring order that maximises the slowest directed link (spec §11).
 *
 * Objective: a pipelined ring runs at its slowest directed edge, so maximise
 * min over ring edges of bw[u -> v]; among the orders that reach it, maximise the sum.
 * Exact for n <= 12: two Held-Karp passes over subsets (O(2^n n^2)): the first finds the
 * best bottleneck B*, the second the best sum using only edges >= B*.
 * Beyond 12: nearest-fastest-neighbour start, then pairwise position swaps while they
 * improve (bottleneck, sum), bounded to n^2 * 8 tries.
 * Does not: measure throughput (the caller fills bw).
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/comm.h"

#define EXACT_MAX 12u

double agora_ring_bottleneck(const double *bw, uint32_t n, const uint32_t *order) {
    if (n < 2)
        return INFINITY;
    double b = INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        double e = bw[(size_t)order[i] * n + order[(i + 1) % n]];
        b = e < b ? e : b;
    }
    return b;
}

static double ring_sum(const double *bw, uint32_t n, const uint32_t *order) {
    double s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += bw[(size_t)order[i] * n + order[(i + 1) % n]];
    return s;
}

/* dp over (mask containing node 0, last). mode 0: max-min; mode 1: max-sum with edges
 * below `floor` forbidden. Writes the best order into order. */
static agora_err held_karp(const double *bw, uint32_t n, int mode, double floor, double *best_out,
                           uint32_t *order) {
    size_t states = ((size_t)1 << n) * n;
    double *dp = agora_malloc(states * sizeof *dp);
    uint8_t *from = agora_malloc(states);
    if (dp == NULL || from == NULL) {
        agora_free(dp);
        agora_free(from);
        return AGORA_ENOMEM;
    }
    const double NONE = -INFINITY;
    for (size_t i = 0; i < states; i++)
        dp[i] = NONE;
    dp[(size_t)1 * n + 0] = mode == 0 ? INFINITY : 0.0;
    size_t full = ((size_t)1 << n) - 1;
    for (size_t mask = 1; mask <= full; mask += 2) { /* node 0 always in */
        for (uint32_t last = 0; last < n; last++) {
            double v = dp[mask * n + last];
            if (v == NONE)
                continue;
            for (uint32_t nx = 1; nx < n; nx++) {
                if (mask & ((size_t)1 << nx))
                    continue;
                double e = bw[(size_t)last * n + nx];
                if (mode == 1 && e < floor)
                    continue;
                double nv = mode == 0 ? (e < v ? e : v) : v + e;
                size_t ns = (mask | ((size_t)1 << nx)) * n + nx;
                if (nv > dp[ns]) {
                    dp[ns] = nv;
                    from[ns] = (uint8_t)last;
                }
            }
        }
    }
    double best = NONE;
    uint32_t best_last = 0;
    for (uint32_t last = 1; last < n; last++) {
        double v = dp[full * n + last];
        if (v == NONE)
            continue;
        double e = bw[(size_t)last * n + 0];
        if (mode == 1 && e < floor)
            continue;
        double tot = mode == 0 ? (e < v ? e : v) : v + e;
        if (tot > best) {
            best = tot;
            best_last = last;
        }
    }
    size_t mask = full;
    uint32_t cur = best_last;
    for (uint32_t i = n; i-- > 1;) {
        order[i] = cur;
        uint32_t prev = from[mask * n + cur];
        mask &= ~((size_t)1 << cur);
        cur = prev;
    }
    order[0] = 0;
    *best_out = best;
    agora_free(dp);
    agora_free(from);
    return AGORA_OK;
}

static bool better(double b1, double s1, double b0, double s0) {
    return b1 > b0 || (b1 == b0 && s1 > s0);
}

static agora_err heuristic(const double *bw, uint32_t n, uint32_t *order) {
    uint8_t *used = agora_calloc(n, 1);
    if (used == NULL)
        return AGORA_ENOMEM;
    order[0] = 0;
    used[0] = 1;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t best = 0;
        double bv = -INFINITY;
        for (uint32_t v = 1; v < n; v++)
            if (!used[v] && bw[(size_t)order[i - 1] * n + v] > bv) {
                bv = bw[(size_t)order[i - 1] * n + v];
                best = v;
            }
        order[i] = best;
        used[best] = 1;
    }
    agora_free(used);
    double b = agora_ring_bottleneck(bw, n, order), s = ring_sum(bw, n, order);
    size_t budget = (size_t)n * n * 8;
    bool improved = true;
    while (improved && budget > 0) {
        improved = false;
        for (uint32_t i = 1; i < n && budget; i++)
            for (uint32_t j = i + 1; j < n && budget; j++, budget--) {
                uint32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
                double nb = agora_ring_bottleneck(bw, n, order), ns = ring_sum(bw, n, order);
                if (better(nb, ns, b, s)) {
                    b = nb;
                    s = ns;
                    improved = true;
                } else {
                    order[j] = order[i];
                    order[i] = t;
                }
            }
    }
    return AGORA_OK;
}

agora_err agora_ring_order(const double *bw, uint32_t n, uint32_t *order) {
    if (n == 0 || n > 1024 || bw == NULL || order == NULL)
        return AGORA_EINVAL;
    if (n <= 2) {
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        return AGORA_OK;
    }
    if (n > EXACT_MAX)
        return heuristic(bw, n, order);
    double bstar, sum;
    AGORA_TRY(held_karp(bw, n, 0, 0.0, &bstar, order));
    return held_karp(bw, n, 1, bstar, &sum, order);
}
