/* rng.c: Philox4x32-10 and the distributions built on it.
 *
 * Implements: the Philox bijection, the buffered stream, uniform, bounded (Lemire's
 * multiply-shift with rejection), normal (Box-Muller), exponential and Poisson draws.
 * Does not: pick stream ids (rng.h lists them) or hold global state.
 */
#include "agora/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void agora_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void block(uint64_t seed, uint32_t stream, uint32_t index, uint64_t blk, uint32_t out[4]) {
    const uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), index, stream};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    agora_philox4x32(ctr, key, out);
}

void agora_rng_seed(agora_rng *r, uint64_t seed, uint32_t stream, uint32_t index) {
    *r = (agora_rng){.seed = seed, .stream = stream, .index = index, .counter = 0, .used = 4};
}

uint32_t agora_rng_at(uint64_t seed, uint32_t stream, uint32_t index, uint64_t blk, unsigned word) {
    uint32_t out[4];
    block(seed, stream, index, blk, out);
    return out[word & 3u];
}

uint32_t agora_rng_u32(agora_rng *r) {
    if (r->used >= 4) {
        block(r->seed, r->stream, r->index, r->counter++, r->buf);
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t agora_rng_u64(agora_rng *r) {
    uint64_t hi = agora_rng_u32(r);
    return (hi << 32) | agora_rng_u32(r);
}

double agora_rng_uniform(agora_rng *r) {
    return (double)(agora_rng_u64(r) >> 11) * 0x1.0p-53;
}

float agora_rng_uniform_f(agora_rng *r) {
    return (float)(agora_rng_u32(r) >> 8) * 0x1.0p-24f;
}

uint32_t agora_rng_below(agora_rng *r, uint32_t n) {
    uint64_t m = (uint64_t)agora_rng_u32(r) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (lo < t) {
            m = (uint64_t)agora_rng_u32(r) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

uint64_t agora_rng_below64(agora_rng *r, uint64_t n) {
    if (n <= UINT32_MAX)
        return agora_rng_below(r, (uint32_t)n);
    /* Rejection on the smallest covering power of two keeps this exact and simple. */
    uint64_t mask = n - 1;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    uint64_t x;
    do {
        x = agora_rng_u64(r) & mask;
    } while (x >= n);
    return x;
}

double agora_rng_normal(agora_rng *r) {
    double u1 = agora_rng_uniform(r);
    double u2 = agora_rng_uniform(r);
    /* 1 - u1 lies in (0, 1], so the log is finite. */
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

double agora_rng_exponential(agora_rng *r) {
    return -log(1.0 - agora_rng_uniform(r));
}

/* PTRS: Hörmann, "The transformed rejection method for generating Poisson random
 * variables" (1993), valid for lambda >= 10; used here from 30. */
static uint32_t poisson_ptrs(agora_rng *r, double lam) {
    double slam = sqrt(lam), loglam = log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = agora_rng_uniform(r) - 0.5;
        double v = agora_rng_uniform(r);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + lam + 0.43);
        if (us >= 0.07 && v <= vr)
            return (uint32_t)k;
        if (k < 0 || (us < 0.013 && v > us))
            continue;
        double lhs = log(v) + log(invalpha) - log(a / (us * us) + b);
        double rhs = -lam + k * loglam - lgamma(k + 1);
        if (lhs <= rhs)
            return (uint32_t)k;
    }
}

uint32_t agora_rng_poisson(agora_rng *r, double lambda) {
    if (!(lambda > 0))
        return 0;
    if (lambda >= 30)
        return poisson_ptrs(r, lambda);
    /* Inversion by sequential search; the expected number of loop turns is lambda + 1. */
    double u = agora_rng_uniform(r);
    double p = exp(-lambda), cdf = p;
    uint32_t k = 0;
    while (u > cdf && k < 1000) {
        k++;
        p *= lambda / k;
        cdf += p;
    }
    return k;
}
