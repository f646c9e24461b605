/* pool.c: candidate pools, seen sets and the feed line (spec §9.1, §9.2).
 *
 * Implements: the pull pool (followees' emissions of the last W steps, deduplicated per
 * message, seen and dead messages dropped, capped at P_max by emission time), the per-reader
 * seen set, and the one feed routine every ranker goes through: score, then top-k by
 * (score, seq) with a k-sized heap. `_ref` twins use a full sort.
 * Does not: compute scores (recsys/) or act on the feed (sim.c).
 */
#include <stdlib.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

/* Fibonacci hashing of a seq: one multiply; the index takes bits 32 and up. */
static inline uint32_t hash_seq(uint32_t x, uint32_t mask) {
    return (uint32_t)(((uint64_t)x * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

// ---- seen sets: a ring of the last k * A_max messages shown ----

/* A message shown at step t' has t0 >= t' - A_max + 1, so every shown message still alive
 * was shown in the last A_max - 1 steps, at most k per step: the ring never drops one. */
void agora__sim_seen_add(agora_sim *s, uint32_t i, uint32_t seq) {
    uint32_t h = s->seen_head[i];
    s->seen[(size_t)i * s->seen_cap + h] = seq + 1;
    s->seen_head[i] = h + 1 == s->seen_cap ? 0 : h + 1;
}

void agora__sim_cand_from_ring(const agora_sim *s, agora__sim_cand *c) {
    uint32_t m = c->seq & s->mmask;
    c->o = s->m_o[m];
    c->author = s->m_author[m];
    c->neg = s->m_neg[m];
}

// ---- pool building ----

/* Room for n_pool candidates and n_keys hash keys (load at most 1/2); drops the contents. */
static bool scratch_reserve(agora__sim_scratch *sc, size_t n_pool, size_t n_keys) {
    if (n_pool > sc->pool_cap) {
        size_t pc = sc->pool_cap;
        while (pc < n_pool)
            pc *= 2;
        agora__sim_cand *np = agora_realloc(sc->pool, pc * sizeof *np);
        if (np == NULL)
            return false;
        sc->pool = np;
        sc->pool_cap = pc;
    }
    size_t hc = (size_t)sc->hmask + 1;
    if (2 * n_keys <= hc)
        return true;
    while (hc < 2 * n_keys)
        hc *= 2;
    agora__sim_hent *ht = agora_calloc(hc, sizeof *ht);
    if (ht == NULL)
        return false;
    agora_free(sc->ht);
    sc->ht = ht;
    sc->hmask = (uint32_t)(hc - 1);
    sc->gen = 0; /* the caller's ++gen makes it 1 */
    return true;
}

static int cmp_emission_desc(const void *a, const void *b) {
    const agora__sim_cand *x = a, *y = b;
    if (x->e != y->e)
        return x->e > y->e ? -1 : 1;
    return x->seq > y->seq ? -1 : (x->seq < y->seq ? 1 : 0);
}

/* The hash slot of key seq: its entry, or the empty slot where it goes. */
static inline agora__sim_hent *ht_find(agora__sim_scratch *sc, uint32_t seq) {
    uint32_t h = hash_seq(seq, sc->hmask);
    for (;;) {
        agora__sim_hent *he = &sc->ht[h];
        if (he->gen != sc->gen || he->key == seq)
            return he;
        h = (h + 1) & sc->hmask;
    }
}

/* Prefetches for reader i ahead of its pool: stage -1 i's followee list, stage 0 the
 * followees' window blocks, stage 1 (a reader later, when the blocks are cached) the
 * overflow of busy followees and i's seen ring. Running a reader or two ahead gives these
 * misses time to land. */
void agora__sim_pool_prefetch(const agora_sim *s, uint32_t i, int stage) {
    const uint32_t *out = s->out_v[i];
    const uint32_t nout = s->out_n[i];
    if (stage < 0) {
        for (size_t b = 0; b < nout * sizeof *out; b += 64)
            __builtin_prefetch((const char *)out + b);
        return;
    }
    if (stage == 0) {
        for (uint32_t a = 0; a < nout; a++) /* the buddy line comes with it (L2 pairs) */
            __builtin_prefetch(&s->wh[out[a]]);
        return;
    }
    for (uint32_t a = 0; a < nout; a++) {
        const agora__sim_whead *h = &s->wh[out[a]];
        if (h->n > 3) /* entries 3.. are in the block's second line */
            __builtin_prefetch((const char *)h + 64);
        if (h->n > SIM_WIN_INLINE) {
            __builtin_prefetch(&s->win[h->ovf]);
            __builtin_prefetch(&s->win[h->ovf + h->n - SIM_WIN_INLINE - 1]);
        }
    }
    const char *ring = (const char *)&s->seen[(size_t)i * s->seen_cap];
    for (size_t b = 0; b < s->seen_cap * sizeof(uint32_t); b += 64)
        __builtin_prefetch(ring + b);
}

/* Builds C_i(t) into sc->pool; returns its size.
 *
 * Three passes, so the random reads overlap instead of queueing: (1) the followees' window
 * counts, which bound the pool size; (2) i's
 * seen ring goes into the dedupe hash as "not a candidate" markers; (3) the ranges, merged
 * per message. The result does not depend on the visiting order (dedupe keeps the largest
 * e, ties to the smallest via). */
size_t agora__sim_pool_build(const agora_sim *s, uint32_t i, int64_t t, agora__sim_scratch *sc) {
    const uint32_t *out = s->out_v[i];
    const uint32_t nout = s->out_n[i];
    const agora__sim_whead *wh = s->wh;
    const agora__sim_went *win = s->win;
    size_t bound = 0;
    for (uint32_t a = 0; a < nout; a++)
        bound += wh[out[a]].n;
    const uint32_t *ring = &s->seen[(size_t)i * s->seen_cap];
    if (!scratch_reserve(sc, bound + 1, bound + s->seen_cap + 1)) {
        sc->oom = true;
        return 0;
    }
    if (++sc->gen == 0) {
        memset(sc->ht, 0, ((size_t)sc->hmask + 1) * sizeof *sc->ht);
        sc->gen = 1;
    }
    const uint32_t first = agora__sim_first_live(s, t);
    for (uint32_t h = 0; h < s->seen_cap; h++) {
        const uint32_t v = ring[h];
        if (v == 0 || (int32_t)(v - 1 - first) < 0)
            continue; /* empty, or dead and never a candidate again */
        agora__sim_hent *he = ht_find(sc, v - 1);
        he->gen = sc->gen;
        he->key = v - 1;
        he->val = UINT32_MAX;
    }
    size_t n = 0;
    for (uint32_t a = 0; a < nout; a++) {
        const uint32_t f = out[a];
        const agora__sim_whead *hd = &wh[f];
        for (uint32_t x = 0, xe = hd->n; x < xe; x++) {
            const agora__sim_went *w =
                x < SIM_WIN_INLINE ? &hd->e[x] : &win[hd->ovf + x - SIM_WIN_INLINE];
            const uint32_t author = w->author_neg & ~AGORA__SIM_NEG_BIT, seq = w->seq;
            if (author == i || (int32_t)(seq - first) < 0)
                continue; /* i's own message, or dead (only when t is past the window's step) */
            agora__sim_hent *he = ht_find(sc, seq);
            if (he->gen != sc->gen) {
                he->gen = sc->gen;
                he->key = seq;
                he->val = (uint32_t)n;
                agora__sim_cand *c = &sc->pool[n++];
                c->score = 0;
                c->seq = seq;
                c->via = f;
                c->e = w->e;
                c->o = w->o;
                c->author = author;
                c->neg = (uint8_t)(w->author_neg >> 31);
            } else if (he->val != UINT32_MAX) {
                agora__sim_cand *c = &sc->pool[he->val];
                if (w->e > c->e || (w->e == c->e && f < c->via)) {
                    c->e = w->e;
                    c->via = f;
                }
            }
        }
    }
    if (n > (size_t)s->p.pool_max) {
        qsort(sc->pool, n, sizeof *sc->pool, cmp_emission_desc);
        n = (size_t)s->p.pool_max;
    }
    return n;
}

// ---- top-k ----

/* a ranks above b: higher score, ties to the higher sequence number. */
static inline bool above(const agora__sim_cand *a, const agora__sim_cand *b) {
    return a->score > b->score || (a->score == b->score && a->seq > b->seq);
}

/* The best k kept in decreasing order as (score, seq, index) in a small array: a candidate
 * that does not beat the worst kept one costs one comparison (the usual case once the
 * array is full), one that does is inserted by shifting. Then the kept candidates are
 * copied out in order. Same total order as the _ref twin, so the same feed. */
static inline void topk_insert(double *ks, uint32_t *kq, uint32_t *ki, size_t b, double sc,
                               uint32_t q, uint32_t j) {
    while (b > 0 && (sc > ks[b - 1] || (sc == ks[b - 1] && q > kq[b - 1]))) {
        ks[b] = ks[b - 1];
        kq[b] = kq[b - 1];
        ki[b] = ki[b - 1];
        b--;
    }
    ks[b] = sc;
    kq[b] = q;
    ki[b] = j;
}

size_t agora__sim_topk(const agora__sim_cand *cand, size_t n, size_t k, agora__sim_cand *feed) {
    enum { KMAX = 128 }; /* sim.feed_k is at most 100 */
    if (k == 0)
        return 0;
    if (k > KMAX)
        return agora__sim_topk_ref(cand, n, k, feed);
    double ks[KMAX];
    uint32_t kq[KMAX], ki[KMAX];
    size_t m = n < k ? n : k, j = 0;
    for (; j < m; j++)
        topk_insert(ks, kq, ki, j, cand[j].score, cand[j].seq, (uint32_t)j);
    double thr = m ? ks[m - 1] : 0;
    for (; j < n; j++) {
        const double sc = cand[j].score;
        if (!(sc >= thr)) /* the usual case: below the worst kept */
            continue;
        const uint32_t q = cand[j].seq;
        if (sc == thr && q <= kq[k - 1])
            continue;
        topk_insert(ks, kq, ki, k - 1, sc, q, (uint32_t)j);
        thr = ks[k - 1];
    }
    for (size_t a = 0; a < m; a++)
        feed[a] = cand[ki[a]];
    return m;
}

static int cmp_rank_desc(const void *a, const void *b) {
    const agora__sim_cand *x = a, *y = b;
    if (above(x, y))
        return -1;
    if (above(y, x))
        return 1;
    return 0;
}

size_t agora__sim_topk_ref(const agora__sim_cand *cand, size_t n, size_t k, agora__sim_cand *feed) {
    agora__sim_cand *all = agora_malloc((n ? n : 1) * sizeof *all);
    if (all == NULL)
        return 0;
    memcpy(all, cand, n * sizeof *all);
    qsort(all, n, sizeof *all, cmp_rank_desc);
    size_t m = n < k ? n : k;
    memcpy(feed, all, m * sizeof *feed);
    agora_free(all);
    return m;
}

/* The feed line (spec §1.3): every ranker goes through here; only `score` differs. */
size_t agora__sim_feed_build(const agora__sim_read_ctx *ctx, agora__sim_score_fn score,
                             agora__sim_cand *pool, size_t n, size_t k, agora__sim_cand *feed) {
    score(ctx, pool, n);
    return agora__sim_topk(pool, n, k, feed);
}
