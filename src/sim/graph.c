/* graph.c: the directed follow graph (i -> j: i follows j), spec §2 and §16.
 *
 * Implements: per-agent Out lists sorted by target (so `follows` is a binary search over at
 * most a few hundred ids) with the step each edge was made and the last step i engaged
 * with it, per-agent In lists (unsorted, swap-removed), follow, unfollow, and building the
 * lists from an edge array. Self-loops and duplicates are never stored.
 * Does not: decide who follows whom (rewire logic in sim.c, generators in gen.c).
 */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "agora/alloc.h"
#include "sim/sim_internal.h"

static int64_t find_out(const agora_sim *s, uint32_t i, uint32_t j) {
    const uint32_t *v = s->out_v[i];
    int64_t lo = 0, hi = (int64_t)s->out_n[i] - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2;
        if (v[mid] == j)
            return mid;
        if (v[mid] < j)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -(lo + 1);
}

/* The first index of x in v[0..n), or n. A hub's follower list can hold 1e5 ids, so with
 * SSE2 it compares 16 ids per iteration. */
static uint32_t find_u32(const uint32_t *v, uint32_t n, uint32_t x) {
    uint32_t a = 0;
#if defined(__SSE2__)
    const __m128i key = _mm_set1_epi32((int)x);
    for (; a + 16 <= n; a += 16) {
        const __m128i *p = (const __m128i *)(v + a);
        __m128i m0 = _mm_cmpeq_epi32(_mm_loadu_si128(p), key);
        __m128i m1 = _mm_cmpeq_epi32(_mm_loadu_si128(p + 1), key);
        __m128i m2 = _mm_cmpeq_epi32(_mm_loadu_si128(p + 2), key);
        __m128i m3 = _mm_cmpeq_epi32(_mm_loadu_si128(p + 3), key);
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(m0, m1), _mm_or_si128(m2, m3))))
            break;
    }
#endif
    while (a < n && v[a] != x)
        a++;
    return a;
}

bool agora__sim_follows(const agora_sim *s, uint32_t i, uint32_t j) {
    return find_out(s, i, j) >= 0;
}

static agora_err grow_out(agora_sim *s, uint32_t i) {
    uint32_t cap = s->out_cap[i] ? s->out_cap[i] * 2 : 8;
    uint32_t *v = agora_realloc(s->out_v[i], cap * sizeof *v);
    if (v == NULL)
        return AGORA_ENOMEM;
    s->out_v[i] = v;
    int32_t *m = agora_realloc(s->out_made[i], cap * sizeof *m);
    if (m == NULL)
        return AGORA_ENOMEM;
    s->out_made[i] = m;
    int32_t *g = agora_realloc(s->out_eng[i], cap * sizeof *g);
    if (g == NULL)
        return AGORA_ENOMEM;
    s->out_eng[i] = g;
    s->out_cap[i] = cap;
    return AGORA_OK;
}

static agora_err push_in(agora_sim *s, uint32_t j, uint32_t i) {
    if (s->in_n[j] == s->in_cap[j]) {
        uint32_t cap = s->in_cap[j] ? s->in_cap[j] * 2 : 8;
        uint32_t *v = agora_realloc(s->in_v[j], cap * sizeof *v);
        if (v == NULL)
            return AGORA_ENOMEM;
        s->in_v[j] = v;
        s->in_cap[j] = cap;
    }
    s->in_v[j][s->in_n[j]++] = i;
    return AGORA_OK;
}

/* Adds i -> j made at step t. Self-follows and existing edges are ignored (AGORA_OK). */
agora_err agora__sim_follow(agora_sim *s, uint32_t i, uint32_t j, int32_t t) {
    if (i == j)
        return AGORA_OK;
    int64_t pos = find_out(s, i, j);
    if (pos >= 0)
        return AGORA_OK;
    size_t at = (size_t)(-pos - 1);
    if (s->out_n[i] == s->out_cap[i])
        AGORA_TRY(grow_out(s, i));
    AGORA_TRY(push_in(s, j, i));
    size_t tail = s->out_n[i] - at;
    memmove(&s->out_v[i][at + 1], &s->out_v[i][at], tail * sizeof(uint32_t));
    memmove(&s->out_made[i][at + 1], &s->out_made[i][at], tail * sizeof(int32_t));
    memmove(&s->out_eng[i][at + 1], &s->out_eng[i][at], tail * sizeof(int32_t));
    s->out_v[i][at] = j;
    s->out_made[i][at] = t;
    s->out_eng[i][at] = INT32_MIN;
    s->out_n[i]++;
    s->n_edges++;
    return AGORA_OK;
}

/* Removes i -> j; false if there was no such edge. */
bool agora__sim_unfollow(agora_sim *s, uint32_t i, uint32_t j) {
    int64_t pos = find_out(s, i, j);
    if (pos < 0)
        return false;
    size_t at = (size_t)pos, tail = s->out_n[i] - at - 1;
    memmove(&s->out_v[i][at], &s->out_v[i][at + 1], tail * sizeof(uint32_t));
    memmove(&s->out_made[i][at], &s->out_made[i][at + 1], tail * sizeof(int32_t));
    memmove(&s->out_eng[i][at], &s->out_eng[i][at + 1], tail * sizeof(int32_t));
    s->out_n[i]--;
    uint32_t *in = s->in_v[j];
    uint32_t a = find_u32(in, s->in_n[j], i);
    if (a < s->in_n[j])
        in[a] = in[--s->in_n[j]];
    s->n_edges--;
    return true;
}

/* Builds Out/In from an edge array (src follows dst); self-loops and duplicates skipped.
 * Edges are inserted in array order, so In lists have a fixed order. */
agora_err agora__sim_graph_from_edges(agora_sim *s, const uint32_t *src, const uint32_t *dst,
                                      size_t n_edges) {
    for (size_t e = 0; e < n_edges; e++)
        AGORA_TRY(agora__sim_follow(s, src[e], dst[e], -1));
    return AGORA_OK;
}
