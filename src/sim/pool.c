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

static inline uint32_t hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

// ---- seen sets: open addressing of seq + 1, lazy expiry ----

bool agora__sim_seen_has(const agora_sim *s, uint32_t i, uint32_t seq) {
    const uint32_t *tab = &s->seen[(size_t)i * s->seen_cap];
    uint32_t mask = s->seen_cap - 1, h = hash32(seq) & mask, v = seq + 1;
    for (;;) {
        uint32_t x = tab[h];
        if (x == v)
            return true;
        if (x == 0)
            return false;
        h = (h + 1) & mask;
    }
}

static void seen_put(uint32_t *tab, uint32_t mask, uint32_t v) {
    uint32_t h = hash32(v - 1) & mask;
    while (tab[h] != 0 && tab[h] != v)
        h = (h + 1) & mask;
    tab[h] = v;
}

/* Adds seq to i's seen set. When the table is 3/4 full it is rebuilt without the entries
 * of dead messages; at most k * A_max entries are live, half the capacity. */
void agora__sim_seen_add(agora_sim *s, uint32_t i, uint32_t seq, uint32_t *tmp) {
    uint32_t *tab = &s->seen[(size_t)i * s->seen_cap];
    uint32_t mask = s->seen_cap - 1;
    if (s->seen_cnt[i] + 1 > s->seen_cap / 4 * 3) {
        uint32_t first = agora__sim_first_live(s, s->t), n = 0;
        for (uint32_t h = 0; h < s->seen_cap; h++)
            if (tab[h] != 0 && (int32_t)(tab[h] - 1 - first) >= 0)
                tmp[n++] = tab[h];
        memset(tab, 0, s->seen_cap * sizeof *tab);
        for (uint32_t j = 0; j < n; j++)
            seen_put(tab, mask, tmp[j]);
        s->seen_cnt[i] = n;
    }
    seen_put(tab, mask, seq + 1);
    s->seen_cnt[i]++;
}

// ---- pool building ----

static bool scratch_grow(agora__sim_scratch *sc, size_t n_pool) {
    size_t pc = sc->pool_cap * 2;
    while (pc < n_pool + 1)
        pc *= 2;
    agora__sim_cand *np = agora_realloc(sc->pool, pc * sizeof *np);
    if (np == NULL)
        return false;
    sc->pool = np;
    sc->pool_cap = pc;
    size_t hc = (size_t)sc->hmask + 1;
    while (hc < 4 * pc)
        hc *= 2;
    agora__sim_hent *ht = agora_calloc(hc, sizeof *ht);
    if (ht == NULL)
        return false;
    agora_free(sc->ht);
    sc->ht = ht;
    sc->hmask = (uint32_t)(hc - 1);
    sc->gen = 1;
    sc->hused = 0;
    /* Re-index the entries so far; seen markers are dropped and simply re-checked. */
    for (size_t j = 0; j < n_pool; j++) {
        uint32_t h = hash32(sc->pool[j].seq) & sc->hmask;
        while (sc->ht[h].gen == sc->gen)
            h = (h + 1) & sc->hmask;
        sc->ht[h].gen = sc->gen;
        sc->ht[h].key = sc->pool[j].seq;
        sc->ht[h].val = (uint32_t)j;
        sc->hused++;
    }
    return true;
}

static int cmp_emission_desc(const void *a, const void *b) {
    const agora__sim_cand *x = a, *y = b;
    if (x->e != y->e)
        return x->e > y->e ? -1 : 1;
    return x->seq > y->seq ? -1 : (x->seq < y->seq ? 1 : 0);
}

/* Builds C_i(t) into sc->pool; returns its size. */
size_t agora__sim_pool_build(const agora_sim *s, uint32_t i, int64_t t, agora__sim_scratch *sc) {
    if (++sc->gen == 0) {
        memset(sc->ht, 0, ((size_t)sc->hmask + 1) * sizeof *sc->ht);
        sc->gen = 1;
    }
    sc->hused = 0;
    size_t n = 0;
    const uint32_t first = agora__sim_first_live(s, t);
    const uint32_t *out = s->out_v[i];
    const uint32_t nout = s->out_n[i];
    const int W = s->W;
    /* Every new candidate probes i's seen set at a random place: stream the whole table
     * (seen_cap * 4 bytes, 2 KB by default) into the cache first. */
    const char *seen_tab = (const char *)&s->seen[(size_t)i * s->seen_cap];
    for (size_t b = 0; b < s->seen_cap * sizeof(uint32_t); b += 64)
        __builtin_prefetch(seen_tab + b);
    bool live[64];
    for (int w = 0; w < W; w++)
        live[w] = t - w >= 0 && s->slot[(t - w) % W].e == t - w;
    for (uint32_t a = 0; a < nout; a++) {
        uint32_t f = out[a];
        const uint32_t *eo = &s->eo[(size_t)f * 2 * (size_t)W];
        for (int w = 0; w < W; w++) {
            int64_t e = t - w;
            if (!live[w])
                continue;
            const int sw = (int)(e % W);
            const uint32_t cnt = eo[2 * sw + 1];
            if (cnt == 0)
                continue;
            const agora__sim_slot *sl = &s->slot[sw];
            for (uint32_t x = eo[2 * sw], xe = x + cnt; x < xe; x++) {
                const uint32_t seq = sl->ent[x].seq;
                if ((int32_t)(seq - first) < 0)
                    continue; /* dead: t - t0 >= A_max */
                if (sl->ent[x].author == i)
                    continue;
                if ((sc->hused + 1) * 2 > (size_t)sc->hmask + 1 || n + 1 > sc->pool_cap) {
                    if (!scratch_grow(sc, n)) {
                        sc->oom = true;
                        return n;
                    }
                }
                uint32_t h = hash32(seq) & sc->hmask;
                for (;;) {
                    agora__sim_hent *he = &sc->ht[h];
                    if (he->gen != sc->gen) {
                        he->gen = sc->gen;
                        he->key = seq;
                        sc->hused++;
                        if (agora__sim_seen_has(s, i, seq)) {
                            he->val = UINT32_MAX;
                        } else {
                            he->val = (uint32_t)n;
                            agora__sim_cand *c = &sc->pool[n++];
                            c->seq = seq;
                            c->via = f;
                            c->e = (int32_t)e;
                            c->score = 0;
                        }
                        break;
                    }
                    if (he->key == seq) {
                        uint32_t v = he->val;
                        if (v != UINT32_MAX) {
                            agora__sim_cand *c = &sc->pool[v];
                            if (e > c->e || (e == c->e && f < c->via)) {
                                c->e = (int32_t)e;
                                c->via = f;
                            }
                        }
                        break;
                    }
                    h = (h + 1) & sc->hmask;
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

static void sift_down(agora__sim_cand *h, size_t n, size_t j) {
    for (;;) {
        size_t l = 2 * j + 1, r = l + 1, m = j;
        if (l < n && above(&h[m], &h[l]))
            m = l;
        if (r < n && above(&h[m], &h[r]))
            m = r;
        if (m == j)
            return;
        agora__sim_cand tmp = h[j];
        h[j] = h[m];
        h[m] = tmp;
        j = m;
    }
}

/* A min-heap (root = the worst kept entry) of size k, then an insertion sort. */
size_t agora__sim_topk(const agora__sim_cand *cand, size_t n, size_t k, agora__sim_cand *feed) {
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        if (m < k) {
            size_t c = m++;
            feed[c] = cand[j];
            while (c > 0) { /* sift up */
                size_t p = (c - 1) / 2;
                if (!above(&feed[p], &feed[c]))
                    break;
                agora__sim_cand tmp = feed[p];
                feed[p] = feed[c];
                feed[c] = tmp;
                c = p;
            }
        } else if (above(&cand[j], &feed[0])) {
            feed[0] = cand[j];
            sift_down(feed, m, 0);
        }
    }
    for (size_t a = 1; a < m; a++) {
        agora__sim_cand x = feed[a];
        size_t b = a;
        while (b > 0 && above(&x, &feed[b - 1])) {
            feed[b] = feed[b - 1];
            b--;
        }
        feed[b] = x;
    }
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
