/* sim.c: the simulator's state and its step loop (spec §4, §5, §8, §10).
 *
 * Implements: allocation, clone (the branch point), destroy, one step (A: post, B: read in
 * parallel, C: serial commit of retweets, unfollows and follows), the state digest and the
 * invariant check.
 * Does not: rank (recsys/), build pools (pool.c), move opinions (opinion/), or compute
 * metrics (sim_metrics.c). Nothing here branches on the ranker: the step receives an ops
 * struct and calls its score function through agora__sim_feed_build.
 */
#include <stddef.h>
#include <stdint.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/log.h"
#include "agora/safetensors.h"
#include "agora/time.h"
#include "sim/sim_internal.h"

// ---- the per-agent arrays, described once for alloc, clone, free and digest ----

enum { CNT_N, CNT_SEEN, CNT_D, CNT_K, CNT_2K, CNT_LX, CNT_M };
typedef struct arr_desc {
    size_t off, elem;
    int cnt;
    bool digest; /* part of the dynamic state: digested and checkpointed */
    agora_st_dtype dtype;
    const char *name;
} arr_desc;
#define A(f, c, d, t)                                                                              \
    { offsetof(agora_sim, f), sizeof(*((agora_sim *)0)->f), c, d, AGORA_ST_##t, #f }
static const arr_desc k_arrays[] = {
    A(o, CNT_N, 1, F64),         A(tau, CNT_N, 1, F64),
    A(act, CNT_N, 1, F64),       A(pi, CNT_N, 1, F64),
    A(toxic, CNT_N, 1, U8),      A(E, CNT_N, 1, I64),
    A(En, CNT_N, 1, I64),        A(Ex, CNT_N, 1, I64),
    A(C, CNT_N, 1, I64),         A(Cn, CNT_N, 1, I64),
    A(rt_made, CNT_N, 1, I64),   A(rt_recv, CNT_N, 1, I64),
    A(tot_exp, CNT_N, 1, I64),   A(tot_rt, CNT_N, 1, I64),
    A(imp, CNT_N, 1, I64),       A(followers_t0, CNT_N, 1, U32),
    A(out_n, CNT_N, 1, U32),     A(out_cap, CNT_N, 0, U32),
    A(in_n, CNT_N, 1, U32),      A(in_cap, CNT_N, 0, U32),
    A(post_n, CNT_N, 0, U32),    A(seen_head, CNT_N, 1, U32),
    A(disc_head, CNT_N, 1, U32), A(disc_n, CNT_N, 1, U32),
    A(rt_n, CNT_N, 1, U8),       A(unf_n, CNT_N, 0, U8),
    A(fol_n, CNT_N, 0, U8),      A(lnx, CNT_N, 0, U8),
    A(fd_n, CNT_N, 0, U8),       A(fd_camp, CNT_N, 0, U8),
    A(seen, CNT_SEEN, 1, U32),   A(disc_a, CNT_D, 1, U32),
    A(disc_w, CNT_D, 1, F32),    A(rt_buf, CNT_K, 1, U32),
    A(rt_via, CNT_K, 1, U32),    A(unf_buf, CNT_K, 0, U32),
    A(fd_seq, CNT_K, 0, U32),    A(fd_auth, CNT_K, 0, U32),
    A(fol_buf, CNT_2K, 0, U32),  A(fol_kind, CNT_2K, 0, U8),
    A(fol_pair, CNT_2K, 0, U8),  A(lx, CNT_LX, 0, F32),
    A(ly, CNT_K, 0, U8),         A(m_author, CNT_M, 1, U32),
    A(m_nrt, CNT_M, 1, U32),     A(m_t0, CNT_M, 1, I32),
    A(m_idx, CNT_M, 1, U8),      A(m_neg, CNT_M, 1, U8),
    A(m_o, CNT_M, 1, F32),       A(m_exp[0], CNT_M, 1, U32),
    A(m_exp[1], CNT_M, 1, U32),  A(m_rtc[0], CNT_M, 1, U32),
    A(m_rtc[1], CNT_M, 1, U32),
};
#undef A
#define N_ARRAYS (sizeof k_arrays / sizeof k_arrays[0])

static size_t arr_count(const agora_sim *s, int cnt) {
    size_t n = (size_t)s->n, k = (size_t)s->k;
    switch (cnt) {
    case CNT_SEEN:
        return n * s->seen_cap;
    case CNT_D:
        return n * (size_t)s->D;
    case CNT_K:
        return n * k;
    case CNT_2K:
        return n * 2 * k;
    case CNT_LX:
        return s->p.learner ? n * k * SIM_NFEAT : 0;
    case CNT_M:
        return s->mcap;
    default:
        return n;
    }
}

static void **arr_ptr(agora_sim *s, const arr_desc *d) {
    return (void **)((char *)s + d->off);
}
static const void *arr_get(const agora_sim *s, const arr_desc *d) {
    return *(void *const *)((const char *)s + d->off);
}

/* A large array, zeroed if asked. On Linux the 2 MiB-aligned interior is marked for
 * transparent huge pages before anything touches it: the read phase reads the emission
 * window and the message ring at random, and with 4 KiB pages nearly every such read also
 * misses the TLB once N reaches 1e6. Only a hint (the kernel may ignore it); freed with
 * agora_free. Could move to a platform shim in core. */
static void *big_alloc(size_t bytes, bool zero) {
    void *p = agora_malloc(bytes);
    if (p == NULL)
        return NULL;
    agora_advise_huge(p, bytes);
    if (zero)
        memset(p, 0, bytes);
    return p;
}

static uint32_t pow2_at_least(uint64_t x) {
    uint32_t c = 16;
    while (c < x && c < (1u << 31))
        c *= 2;
    return c;
}

static void scratch_free(agora__sim_scratch *sc) {
    agora_free(sc->pool);
    agora_free(sc->ht);
    agora_free(sc->feed);
    agora_free(sc->om);
}

static agora_err scratch_init(agora_sim *s) {
    int nt = 1;
#ifdef AGORA_HAVE_OPENMP
    nt = omp_get_max_threads();
#endif
    s->n_threads = nt;
    s->scr = agora_calloc((size_t)nt, sizeof *s->scr);
    if (s->scr == NULL)
        return AGORA_ENOMEM;
    for (int t = 0; t < nt; t++) {
        agora__sim_scratch *sc = &s->scr[t];
        sc->pool_cap = 512;
        sc->hmask = 1024 - 1; /* 12 KB: stays in L1 for the usual pool and seen ring */
        sc->pool = agora_malloc(sc->pool_cap * sizeof *sc->pool);
        sc->ht = agora_calloc(1024, sizeof *sc->ht);
        sc->feed = agora_malloc((size_t)s->k * sizeof *sc->feed);
        sc->om = agora_malloc((size_t)s->k * sizeof *sc->om);
        if (!sc->pool || !sc->ht || !sc->feed || !sc->om)
            return AGORA_ENOMEM;
    }
    return AGORA_OK;
}

static agora__sim_whead *heads_alloc(size_t n, void **raw) {
    *raw = big_alloc((n + 1) * sizeof(agora__sim_whead), true);
    if (*raw == NULL)
        return NULL;
    uintptr_t a = ((uintptr_t)*raw + 127) & ~(uintptr_t)127;
    return (agora__sim_whead *)a;
}

static agora_err window_init(agora_sim *s, size_t cap) {
    _Static_assert(sizeof(agora__sim_whead) == 128, "one 128-byte block per emitter");
    s->wh = heads_alloc((size_t)s->n, &s->wh_raw);
    s->wh2 = heads_alloc((size_t)s->n, &s->wh2_raw);
    s->win_off = big_alloc(((size_t)s->n + 1) * sizeof *s->win_off, true);
    s->win_cap = s->win_cap2 = cap < 64 ? 64 : cap;
    s->win = big_alloc(s->win_cap * sizeof *s->win, false);
    s->win2 = big_alloc(s->win_cap2 * sizeof *s->win2, false);
    if (!s->wh || !s->wh2 || !s->win_off || !s->win || !s->win2)
        return AGORA_ENOMEM;
    s->win_n = 0;
    return AGORA_OK;
}

// ---- for the checkpoint (sim_ckpt.c) ----

bool agora__sim_array(const agora_sim *s, size_t a, agora__sim_array_view *v) {
    if (a >= N_ARRAYS)
        return false;
    const arr_desc *d = &k_arrays[a];
    AGORA_ASSERT(d->elem == agora_st_dtype_size(d->dtype));
    v->name = d->name;
    v->off = d->off;
    v->count = arr_count(s, d->cnt);
    v->elem = d->elem;
    v->state = d->digest;
    v->per_message = d->cnt == CNT_M;
    v->dtype = (int)d->dtype;
    return true;
}

void *agora__sim_big_alloc(size_t bytes, bool zero) {
    return big_alloc(bytes, zero);
}

agora_err agora__sim_window_reserve(agora_sim *s, size_t cap) {
    if (cap <= s->win_cap)
        return AGORA_OK;
    agora__sim_went *a = big_alloc(cap * sizeof *a, false), *b = big_alloc(cap * sizeof *b, false);
    if (a == NULL || b == NULL) {
        agora_free(a);
        agora_free(b);
        return AGORA_ENOMEM;
    }
    memcpy(a, s->win, s->win_n * sizeof *a);
    agora_free(s->win);
    agora_free(s->win2);
    s->win = a;
    s->win2 = b;
    s->win_cap = s->win_cap2 = cap;
    return AGORA_OK;
}

/* Allocates every array for n agents (zeroed); the graph lists stay empty. */
agora_err agora__sim_alloc(agora_sim *s, int64_t n) {
    s->n = n;
    s->k = (int)s->p.feed_k;
    s->W = (int)s->p.pool_window;
    s->D = (int)s->p.disc_size;
    s->seen_cap = (uint32_t)(s->k * s->p.msg_max_age);
    double mean_posts = s->p.activity_mean * (double)n;
    /* About A_max * mean_posts messages are alive; a burst beyond the capacity re-homes them
     * into a larger ring (phase A), so a quarter of margin is enough. */
    s->mcap = pow2_at_least((uint64_t)(1.25 * (double)s->p.msg_max_age * mean_posts) + 1024);
    s->mmask = s->mcap - 1;
    for (size_t a = 0; a < N_ARRAYS; a++) {
        size_t c = arr_count(s, k_arrays[a].cnt);
        if (c == 0)
            continue;
        if (c > SIZE_MAX / k_arrays[a].elem)
            return AGORA_ENOMEM;
        void *p = big_alloc(c * k_arrays[a].elem, true);
        if (p == NULL)
            return AGORA_ENOMEM;
        *arr_ptr(s, &k_arrays[a]) = p;
    }
    s->out_v = agora_calloc((size_t)n, sizeof *s->out_v);
    s->out_made = agora_calloc((size_t)n, sizeof *s->out_made);
    s->out_eng = agora_calloc((size_t)n, sizeof *s->out_eng);
    s->in_v = agora_calloc((size_t)n, sizeof *s->in_v);
    if (!s->out_v || !s->out_made || !s->out_eng || !s->in_v)
        return AGORA_ENOMEM;
    s->step_seq0_cap = 1024;
    s->step_seq0 = agora_calloc((size_t)s->step_seq0_cap, sizeof *s->step_seq0);
    if (s->step_seq0 == NULL)
        return AGORA_ENOMEM;
    AGORA_TRY(window_init(s, (size_t)(0.5 * (double)s->W * mean_posts) + 1024));
    return scratch_init(s);
}

void agora_sim_destroy(agora_sim *s) {
    if (s == NULL)
        return;
    for (size_t a = 0; a < N_ARRAYS; a++)
        agora_free(*arr_ptr(s, &k_arrays[a]));
    for (int64_t i = 0; s->out_v && i < s->n; i++) {
        agora_free(s->out_v[i]);
        agora_free(s->out_made[i]);
        agora_free(s->out_eng[i]);
    }
    for (int64_t i = 0; s->in_v && i < s->n; i++)
        agora_free(s->in_v[i]);
    agora_free(s->out_v);
    agora_free(s->out_made);
    agora_free(s->out_eng);
    agora_free(s->in_v);
    agora_free(s->step_seq0);
    agora_free(s->id_names);
    agora_free(s->id_off);
    agora_free(s->wh_raw);
    agora_free(s->wh2_raw);
    agora_free(s->win_off);
    agora_free(s->win);
    agora_free(s->win2);
    for (int t = 0; s->scr && t < s->n_threads; t++)
        scratch_free(&s->scr[t]);
    agora_free(s->scr);
    agora_free(s);
}

agora_err agora_sim_params_check(const agora_sim_params *p, char err[AGORA_ERR_LEN]) {
    if (p->burnin_steps > p->n_steps) {
        snprintf(err, AGORA_ERR_LEN, "sim.burnin_steps (%lld) exceeds sim.n_steps (%lld)",
                 (long long)p->burnin_steps, (long long)p->n_steps);
        return AGORA_EINVAL;
    }
    if (p->graph_init == SIM_GRAPH_FILE && p->edges_path[0] == '\0') {
        snprintf(err, AGORA_ERR_LEN, "sim.graph_init = file needs sim.edges");
        return AGORA_EINVAL;
    }
    if (p->n_agents > UINT32_MAX / 2) {
        snprintf(err, AGORA_ERR_LEN, "sim.n_agents too large");
        return AGORA_EINVAL;
    }
    return AGORA_OK;
}

agora_err agora_sim_create(const agora_sim_params *p, agora_sim **out, char err[AGORA_ERR_LEN]) {
    *out = NULL;
    err[0] = '\0';
    AGORA_TRY(agora_sim_params_check(p, err));
    agora_sim *s = agora_calloc(1, sizeof *s);
    if (s == NULL)
        return AGORA_ENOMEM;
    s->p = *p;
    s->seed = (uint64_t)p->seed;
    agora_err rc;
    if (p->graph_init == SIM_GRAPH_FILE) {
        rc = agora__sim_import(s, err);
    } else {
        rc = agora__sim_alloc(s, p->n_agents);
        if (rc == AGORA_OK) {
            agora__sim_init_attributes(s);
            rc = agora__sim_generate(s, err);
            if (rc == AGORA_OK && p->opinion_init == SIM_OINIT_SPECTRAL)
                rc = agora__sim_spectral_opinions(s);
            if (rc == AGORA_OK && p->opinion_init == SIM_OINIT_LABELS) {
                snprintf(err, AGORA_ERR_LEN,
                         "sim.opinion_init = labels needs an imported "
                         "network with sim.agents (label column)");
                rc = AGORA_EINVAL;
            }
        }
    }
    if (rc != AGORA_OK) {
        if (err[0] == '\0')
            snprintf(err, AGORA_ERR_LEN, "sim: cannot create the state: %s", agora_err_str(rc));
        agora_sim_destroy(s);
        return rc;
    }
    agora__sim_kernel_table(s);
    agora_sim_branch(s);
    s->t0 = 0;
    *out = s;
    return AGORA_OK;
}

agora_err agora_sim_clone(const agora_sim *src, agora_sim **out) {
    *out = NULL;
    agora_sim *s = agora_calloc(1, sizeof *s);
    if (s == NULL)
        return AGORA_ENOMEM;
    *s = *src;
    /* Pointers now alias src; reset them before anything can fail. */
    for (size_t a = 0; a < N_ARRAYS; a++)
        *arr_ptr(s, &k_arrays[a]) = NULL;
    s->out_v = NULL;
    s->out_made = s->out_eng = NULL;
    s->in_v = NULL;
    s->step_seq0 = NULL;
    s->wh = s->wh2 = NULL;
    s->wh_raw = s->wh2_raw = NULL;
    s->win_off = NULL;
    s->win = s->win2 = NULL;
    s->scr = NULL;
    s->id_names = NULL;
    s->id_off = NULL;
    agora_err rc = AGORA_ENOMEM;
    for (size_t a = 0; a < N_ARRAYS; a++) {
        size_t c = arr_count(s, k_arrays[a].cnt);
        if (c == 0)
            continue;
        void *p = big_alloc(c * k_arrays[a].elem, false);
        if (p == NULL)
            goto fail;
        memcpy(p, arr_get(src, &k_arrays[a]), c * k_arrays[a].elem);
        *arr_ptr(s, &k_arrays[a]) = p;
    }
    size_t n = (size_t)s->n;
    s->out_v = agora_calloc(n, sizeof *s->out_v);
    s->out_made = agora_calloc(n, sizeof *s->out_made);
    s->out_eng = agora_calloc(n, sizeof *s->out_eng);
    s->in_v = agora_calloc(n, sizeof *s->in_v);
    if (!s->out_v || !s->out_made || !s->out_eng || !s->in_v)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        size_t oc = s->out_cap[i], ic = s->in_cap[i];
        s->out_v[i] = agora_malloc(oc * sizeof(uint32_t) + 1);
        s->out_made[i] = agora_malloc(oc * sizeof(int32_t) + 1);
        s->out_eng[i] = agora_malloc(oc * sizeof(int32_t) + 1);
        s->in_v[i] = agora_malloc(ic * sizeof(uint32_t) + 1);
        if (!s->out_v[i] || !s->out_made[i] || !s->out_eng[i] || !s->in_v[i])
            goto fail;
        memcpy(s->out_v[i], src->out_v[i], s->out_n[i] * sizeof(uint32_t));
        memcpy(s->out_made[i], src->out_made[i], s->out_n[i] * sizeof(int32_t));
        memcpy(s->out_eng[i], src->out_eng[i], s->out_n[i] * sizeof(int32_t));
        memcpy(s->in_v[i], src->in_v[i], s->in_n[i] * sizeof(uint32_t));
    }
    s->step_seq0 = agora_malloc((size_t)s->step_seq0_cap * sizeof *s->step_seq0);
    if (s->step_seq0 == NULL)
        goto fail;
    memcpy(s->step_seq0, src->step_seq0, (size_t)s->step_seq0_cap * sizeof *s->step_seq0);
    if (window_init(s, src->win_cap) != AGORA_OK)
        goto fail;
    memcpy(s->wh, src->wh, n * sizeof *s->wh);
    memcpy(s->win, src->win, src->win_n * sizeof *s->win);
    s->win_n = src->win_n;
    rc = scratch_init(s);
    if (rc != AGORA_OK)
        goto fail;
    *out = s;
    return AGORA_OK;
fail:
    agora_sim_destroy(s);
    return rc;
}

// ---- phase A: posting (spec §4) ----

static agora_err ensure_step_seq0(agora_sim *s, int64_t t) {
    if (t + 1 < s->step_seq0_cap)
        return AGORA_OK;
    int64_t cap = s->step_seq0_cap * 2;
    while (cap <= t + 1)
        cap *= 2;
    uint32_t *p = agora_realloc(s->step_seq0, (size_t)cap * sizeof *p);
    if (p == NULL)
        return AGORA_ENOMEM;
    s->step_seq0 = p;
    s->step_seq0_cap = cap;
    return AGORA_OK;
}

/* Re-homes the live messages [first, next_seq) into a ring of capacity cap. */
static agora_err ring_grow(agora_sim *s, uint32_t cap, uint32_t first) {
    agora_sim tmp = *s;
    tmp.mcap = cap;
    tmp.mmask = cap - 1;
    for (size_t a = 0; a < N_ARRAYS; a++) {
        if (k_arrays[a].cnt != CNT_M)
            continue;
        void *p = big_alloc((size_t)cap * k_arrays[a].elem, true);
        if (p == NULL) {
            for (size_t b = 0; b < a; b++)
                if (k_arrays[b].cnt == CNT_M &&
                    *arr_ptr(&tmp, &k_arrays[b]) != arr_get(s, &k_arrays[b]))
                    agora_free(*arr_ptr(&tmp, &k_arrays[b]));
            return AGORA_ENOMEM;
        }
        size_t el = k_arrays[a].elem;
        const char *old = arr_get(s, &k_arrays[a]);
        for (uint32_t q = first; q != s->next_seq; q++)
            memcpy((char *)p + (size_t)(q & tmp.mmask) * el, old + (size_t)(q & s->mmask) * el, el);
        *arr_ptr(&tmp, &k_arrays[a]) = p;
    }
    for (size_t a = 0; a < N_ARRAYS; a++)
        if (k_arrays[a].cnt == CNT_M) {
            agora_free(*arr_ptr(s, &k_arrays[a]));
            *arr_ptr(s, &k_arrays[a]) = *arr_ptr(&tmp, &k_arrays[a]);
        }
    s->mcap = cap;
    s->mmask = cap - 1;
    return AGORA_OK;
}

static uint32_t poisson_inv(double a, double u, uint32_t cap) {
    double p = exp(-a), F = p;
    uint32_t k = 0;
    while (u > F && k < cap) {
        k++;
        p *= a / k;
        F += p;
        if (p == 0.0 && F < u) { /* far tail underflowed: a is large */
            k = cap;
            break;
        }
    }
    return k;
}

static agora_err phase_post(agora_sim *s) {
    const int64_t t = s->t, n = s->n;
    const agora_sim_params *p = &s->p;
    AGORA_TRY(ensure_step_seq0(s, t));
    AGORA__SIM_OMP("omp parallel for schedule(static)")
    for (int64_t j = 0; j < n; j++)
        s->post_n[j] =
            poisson_inv(s->act[j], agora__sim_u01(s->seed, SIM_S_POST, (uint32_t)j, (uint64_t)t),
                        (uint32_t)p->post_cap);
    uint64_t total = 0;
    for (int64_t j = 0; j < n; j++)
        total += s->post_n[j];
    /* Cascade sizes of the messages that die now (t - t0 reaches A_max). */
    uint32_t first_prev = t > 0 ? agora__sim_first_live(s, t - 1) : 0;
    s->step_seq0[t] = s->next_seq;
    uint32_t first = agora__sim_first_live(s, t);
    if (t >= s->t0)
        for (uint32_t q = first_prev; q != first; q++) {
            uint32_t nrt = s->m_nrt[q & s->mmask];
            s->casc_n++;
            s->casc_sum += nrt;
            s->casc_hist[nrt < SIM_CASC_BINS - 1 ? nrt : SIM_CASC_BINS - 1]++;
            if (nrt > s->casc_max)
                s->casc_max = nrt;
        }
    uint64_t live = (uint64_t)(uint32_t)(s->next_seq - first) + total;
    if (live > s->mcap) {
        uint32_t cap = pow2_at_least(live * 2);
        AGORA_TRY(ring_grow(s, cap, first));
    }
    /* The window of step t (spec §9.1): per emitter, the retweets buffered at t - 1 and the
     * new posts (e = t), then its previous entries with e > t - W; dead messages dropped. */
    const int64_t e_min = t - s->W + 1;
    const size_t k = (size_t)s->k;
    uint32_t *ooff = s->win_off; /* overflow offsets of the new window */
    const agora__sim_whead *oh = s->wh;
    const agora__sim_went *old = s->win;
#define OLD_ENTRY(j, x) ((x) < SIM_WIN_INLINE ? &oh[j].e[x] : &old[oh[j].ovf + (x)-SIM_WIN_INLINE])
    AGORA__SIM_OMP("omp parallel for schedule(static)")
    for (int64_t j = 0; j < n; j++) {
        uint32_t c = s->post_n[j];
        for (uint32_t r = 0; r < s->rt_n[j]; r++)
            c += (int32_t)(s->rt_buf[(size_t)j * k + r] - first) >= 0;
        for (uint32_t x = 0; x < oh[j].n; x++) {
            const agora__sim_went *w = OLD_ENTRY(j, x);
            c += w->e >= e_min && (int32_t)(w->seq - first) >= 0;
        }
        ooff[j + 1] = c > SIM_WIN_INLINE ? c - SIM_WIN_INLINE : 0;
    }
    uint64_t acc = 0;
    ooff[0] = 0;
    for (int64_t j = 0; j < n; j++) {
        acc += ooff[j + 1];
        if (acc > UINT32_MAX)
            return AGORA_EOVERFLOW;
        ooff[j + 1] = (uint32_t)acc;
    }
    if (acc > s->win_cap2) {
        size_t cap = acc + acc / 4 + 1024;
        agora__sim_went *w = big_alloc(cap * sizeof *w, false);
        if (w == NULL)
            return AGORA_ENOMEM;
        agora_free(s->win2);
        s->win2 = w;
        s->win_cap2 = cap;
    }
    agora__sim_went *win = s->win2;
    agora__sim_whead *nh = s->wh2;
    const uint32_t seq0 = s->next_seq;
    /* The seq of post (j, q) is seq0 + (posts of agents < j) + q: a prefix sum. */
    uint32_t *pre = s->post_n; /* reused in place as exclusive prefix */
    uint32_t run = 0;
    for (int64_t j = 0; j < n; j++) {
        uint32_t c = pre[j];
        pre[j] = run;
        run += c;
    }
    AGORA__SIM_OMP("omp parallel for schedule(static)")
    for (int64_t j = 0; j < n; j++) {
        uint32_t np = (j + 1 < n ? pre[j + 1] : run) - pre[j];
        agora__sim_whead *h = &nh[j];
        uint32_t idx = 0;
        const uint32_t base = ooff[j];
#define PUT_ENTRY() (idx < SIM_WIN_INLINE ? &h->e[idx++] : &win[base + (idx++) - SIM_WIN_INLINE])
        for (uint32_t r = 0; r < s->rt_n[j]; r++) {
            const uint32_t seq = s->rt_buf[(size_t)j * k + r], m = seq & s->mmask;
            if ((int32_t)(seq - first) < 0)
                continue;
            agora__sim_went *dst = PUT_ENTRY();
            dst->seq = seq;
            dst->author_neg = s->m_author[m] | (uint32_t)s->m_neg[m] << 31;
            dst->o = s->m_o[m];
            dst->e = (int32_t)t;
        }
        s->rt_n[j] = 0;
        for (uint32_t q = 0; q < np; q++) {
            uint32_t seq = seq0 + pre[j] + q, m = seq & s->mmask;
            uint64_t key = agora__sim_msg_key((uint32_t)j, (int32_t)t, q);
            double om = s->o[j] + p->msg_noise * agora__sim_normal(s->seed, SIM_S_MSG_O, 0, key);
            s->m_author[m] = (uint32_t)j;
            s->m_t0[m] = (int32_t)t;
            s->m_idx[m] = (uint8_t)q;
            s->m_o[m] = (float)(om < -1 ? -1 : (om > 1 ? 1 : om));
            s->m_neg[m] = agora__sim_u01(s->seed, SIM_S_MSG_NEG, 0, key) < s->tau[j];
            s->m_nrt[m] = 0;
            for (int c = 0; c < 2; c++)
                s->m_exp[c][m] = s->m_rtc[c][m] = 0;
            agora__sim_went *dst = PUT_ENTRY();
            dst->seq = seq;
            dst->author_neg = (uint32_t)j | (uint32_t)s->m_neg[m] << 31;
            dst->o = s->m_o[m];
            dst->e = (int32_t)t;
        }
        for (uint32_t x = 0; x < oh[j].n; x++) {
            const agora__sim_went *w = OLD_ENTRY(j, x);
            if (w->e >= e_min && (int32_t)(w->seq - first) >= 0)
                *PUT_ENTRY() = *w;
        }
#undef PUT_ENTRY
        h->n = idx;
        h->ovf = base;
    }
#undef OLD_ENTRY
    s->wh2 = s->wh;
    s->wh = nh;
    void *raw = s->wh2_raw;
    s->wh2_raw = s->wh_raw;
    s->wh_raw = raw;
    s->win2 = s->win;
    s->win = win;
    size_t cap = s->win_cap;
    s->win_cap = s->win_cap2;
    s->win_cap2 = cap;
    s->win_n = acc;
    s->next_seq = seq0 + run;
    return AGORA_OK;
}

// ---- phase B: reading (spec §5, §6, §8) ----

/* replacement(i, t) of spec §8: a uniform agent with probability rand_follow, else a
 * discovered author drawn by stored weight; redrawn (keyed attempts, at most 16) while it is
 * i, a followee or already buffered. UINT32_MAX when every attempt failed. */
static uint32_t replacement(const agora_sim *s, uint32_t i, int64_t t) {
    const size_t D = (size_t)s->D;
    const uint32_t dn = s->disc_n[i];
    for (uint64_t a = 0; a < 16; a++) {
        double u1 = agora__sim_u01(s->seed, SIM_S_REPL, i, ((uint64_t)t << 6) | (a << 1));
        double u2 = agora__sim_u01(s->seed, SIM_S_REPL, i, ((uint64_t)t << 6) | (a << 1) | 1);
        uint32_t j;
        if (u1 < s->p.rand_follow || dn == 0) {
            j = (uint32_t)(u2 * (double)s->n);
        } else {
            double tot = 0;
            for (uint32_t d = 0; d < dn; d++)
                tot += s->disc_w[i * D + d];
            double x = u2 * tot;
            uint32_t d = 0;
            while (d + 1 < dn && x >= s->disc_w[i * D + d]) {
                x -= s->disc_w[i * D + d];
                d++;
            }
            j = s->disc_a[i * D + d];
        }
        if (j >= s->n || j == i || agora__sim_follows(s, i, j))
            continue;
        bool dup = false;
        for (uint32_t f = 0; f < s->fol_n[i]; f++)
            dup |= s->fol_buf[(size_t)i * 2 * (size_t)s->k + f] == j;
        if (!dup)
            return j;
    }
    return UINT32_MAX;
}

static void rewire_on_read(agora_sim *s, uint32_t i, double o_i, const agora__sim_cand *c,
                           uint64_t km, double p, bool rt) {
    const uint32_t author = c->author, via = c->via;
    const size_t k = (size_t)s->k;
    const int64_t t = s->t;
    double d = fabs(o_i - (double)c->o);
    if (d > s->p.unf_eps && (!s->p.unf_neg_only || c->neg) &&
        agora__sim_u01(s->seed, SIM_S_UNF, i, km) < s->p.unf_q) {
        bool dup = false;
        for (uint32_t u = 0; u < s->unf_n[i]; u++)
            dup |= s->unf_buf[i * k + u] == via;
        if (!dup) {
            uint8_t ui = s->unf_n[i]++;
            s->unf_buf[i * k + ui] = via;
            if (s->p.conserve_out_degree) {
                uint32_t r = replacement(s, i, t);
                if (r != UINT32_MAX) {
                    size_t f = i * 2 * k + s->fol_n[i]++;
                    s->fol_buf[f] = r;
                    s->fol_kind[f] = 1;
                    s->fol_pair[f] = ui;
                }
            }
        }
    }
    if (rt && via != author && author != i && !agora__sim_follows(s, i, author) &&
        agora__sim_u01(s->seed, SIM_S_FOL, i, km) < s->p.fol_q) {
        size_t f = i * 2 * k + s->fol_n[i]++;
        s->fol_buf[f] = author;
        s->fol_kind[f] = 2;
        s->fol_pair[f] = 0;
    }
    if (via != author && author != i && !agora__sim_follows(s, i, author)) {
        size_t D = (size_t)s->D, h = s->disc_head[i];
        s->disc_a[i * D + h] = author;
        s->disc_w[i * D + h] = (float)p;
        s->disc_head[i] = (uint32_t)((h + 1) % D);
        if (s->disc_n[i] < D)
            s->disc_n[i]++;
    }
}

typedef struct step_tot {
    int64_t exp, neg, pool, negpool, rt;
} step_tot;

static void read_one(agora_sim *s, const agora__sim_recsys_ops *ops, uint32_t i,
                     agora__sim_scratch *sc, step_tot *tot) {
    const agora_sim_params *p = &s->p;
    const int64_t t = s->t;
    const size_t k = (size_t)s->k;
    size_t nc = agora__sim_pool_build(s, i, t, sc);
    int64_t negpool = 0;
    for (size_t j = 0; j < nc; j++)
        negpool += sc->pool[j].neg;
    double o_i = s->o[i];
    agora__sim_read_ctx ctx = {s, i, o_i, t};
    size_t nf = agora__sim_feed_build(&ctx, ops->score, sc->pool, nc, k, sc->feed);
    int64_t neg = 0, cross = 0;
    size_t n_om = 0;
    s->unf_n[i] = 0;
    s->fol_n[i] = 0;
    s->lnx[i] = 0;
    const int camp_i = o_i >= p->camp_split;
    /* Exposures and impressions are counted from these in phase C (no shared writes here). */
    s->fd_n[i] = (uint8_t)nf;
    s->fd_camp[i] = (uint8_t)camp_i;
    for (size_t r = 0; r < nf; r++) { /* the message keys' t0 and index */
        __builtin_prefetch(&s->m_t0[sc->feed[r].seq & s->mmask]);
        __builtin_prefetch(&s->m_idx[sc->feed[r].seq & s->mmask]);
    }
    for (size_t r = 0; r < nf; r++) {
        const agora__sim_cand *c = &sc->feed[r];
        const uint32_t m = c->seq & s->mmask;
        const int mneg = c->neg;
        neg += mneg;
        cross += (c->o >= p->camp_split) != camp_i; /* the message's camp, not the reader's */
        s->fd_seq[(size_t)i * k + r] = c->seq;
        s->fd_auth[(size_t)i * k + r] = c->author;
        double prt = agora__sim_p_rt_of(s, o_i, s->pi[i], c->o, mneg, p->beta_neg);
        const uint64_t km = agora__sim_msg_key(c->author, s->m_t0[m], s->m_idx[m]);
        bool rt = agora__sim_u01(s->seed, SIM_S_RT, i, km) < prt;
        if (p->learner) {
            double x[SIM_NFEAT];
            agora__sim_features(s, i, ctx.o_reader, c->seq, t, x);
            float *dst = &s->lx[((size_t)i * k + s->lnx[i]) * SIM_NFEAT];
            for (int f = 0; f < SIM_NFEAT; f++)
                dst[f] = (float)x[f];
            s->ly[(size_t)i * k + s->lnx[i]] = rt;
            s->lnx[i]++;
        }
        if (rt) {
            s->rt_buf[(size_t)i * k + s->rt_n[i]] = c->seq;
            s->rt_via[(size_t)i * k + s->rt_n[i]] = c->via;
            s->rt_n[i]++;
            s->rt_made[i]++;
            s->tot_rt[i]++;
            int64_t lo = 0, hi = (int64_t)s->out_n[i] - 1; /* engagement with the edge */
            while (lo <= hi) {
                int64_t mid = (lo + hi) / 2;
                if (s->out_v[i][mid] == c->via) {
                    s->out_eng[i][mid] = (int32_t)t;
                    break;
                }
                if (s->out_v[i][mid] < c->via)
                    lo = mid + 1;
                else
                    hi = mid - 1;
            }
        }
        if (!p->freeze_opinions && (p->influence_on == SIM_INFLUENCE_READ || rt)) {
            agora__sim_opinion_item(p, &o_i, (double)c->o, mneg, p->camp_split);
            sc->om[n_om++] = (double)c->o;
        }
        if (!p->freeze_rewiring)
            rewire_on_read(s, i, o_i, c, km, prt, rt);
        agora__sim_seen_add(s, i, c->seq);
    }
    if (!p->freeze_opinions) {
        if (p->opinion_model == SIM_OPINION_HK || p->opinion_model == SIM_OPINION_DEGROOT)
            agora__sim_opinion_hk(p, &o_i, sc->om, n_om);
        if (p->opinion_drift > 0) {
            o_i += p->opinion_drift * agora__sim_normal(s->seed, SIM_S_DRIFT, i, (uint64_t)t);
            o_i = o_i < -1 ? -1 : (o_i > 1 ? 1 : o_i);
        }
    }
    s->o[i] = o_i;
    if (p->tox_dynamics == SIM_TOX_CONTAGION && nf > 0)
        s->tau[i] = (1.0 - p->tox_eta) * s->tau[i] + p->tox_eta * (double)neg / (double)nf;
    s->E[i] += (int64_t)nf;
    s->En[i] += neg;
    s->Ex[i] += cross;
    s->C[i] += (int64_t)nc;
    s->Cn[i] += negpool;
    s->tot_exp[i] += (int64_t)nf;
    tot->exp += (int64_t)nf;
    tot->neg += neg;
    tot->pool += (int64_t)nc;
    tot->negpool += negpool;
    tot->rt += s->rt_n[i];
}

static agora_err phase_read(agora_sim *s, const agora__sim_recsys_ops *ops) {
    int64_t e = 0, ng = 0, pl = 0, np = 0, rt = 0;
    const int64_t n = s->n;
    AGORA__SIM_OMP("omp parallel reduction(+ : e, ng, pl, np, rt)") {
        int tid = 0;
#ifdef AGORA_HAVE_OPENMP
        tid = omp_get_thread_num();
#endif
        agora__sim_scratch *sc = &s->scr[tid];
        step_tot tot = {0, 0, 0, 0, 0};
        /* Chunks of consecutive readers; inside a chunk the pool reads of the next two
         * readers are prefetched in two stages (pool.c). */
        const int64_t chunk = 128, n_chunks = (n + chunk - 1) / chunk;
        AGORA__SIM_OMP("omp for schedule(dynamic, 1)")
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
            agora__sim_pool_prefetch(s, (uint32_t)lo, 0);
            if (lo + 1 < hi)
                agora__sim_pool_prefetch(s, (uint32_t)lo + 1, 0);
            agora__sim_pool_prefetch(s, (uint32_t)lo, 1);
            for (int64_t i = lo; i < hi; i++) {
                if (i + 3 < hi)
                    agora__sim_pool_prefetch(s, (uint32_t)i + 3, -1);
                if (i + 2 < hi)
                    agora__sim_pool_prefetch(s, (uint32_t)i + 2, 0);
                if (i + 1 < hi)
                    agora__sim_pool_prefetch(s, (uint32_t)i + 1, 1);
                read_one(s, ops, (uint32_t)i, sc, &tot);
            }
        }
        e += tot.exp;
        ng += tot.neg;
        pl += tot.pool;
        np += tot.negpool;
        rt += tot.rt;
    }
    for (int t = 0; t < s->n_threads; t++)
        if (s->scr[t].oom)
            return AGORA_ENOMEM;
    s->s_exp = e;
    s->s_neg = ng;
    s->s_pool = pl;
    s->s_negpool = np;
    s->s_rt = rt;
    s->work_pool += pl;
    s->work_feed += e;
    return AGORA_OK;
}

// ---- phase C: serial commit (spec §8, ascending id) ----

/* The followee with the lowest engagement over the last W steps (no retweet through it in
 * the window ranks lowest), ties to the older edge, then the smaller id. */
static uint32_t least_engaged(const agora_sim *s, uint32_t i, uint32_t except) {
    int64_t since = s->t - s->W + 1;
    uint32_t best = UINT32_MAX;
    int64_t be = 0, bm = 0;
    for (uint32_t a = 0; a < s->out_n[i]; a++) {
        uint32_t j = s->out_v[i][a];
        if (j == except)
            continue;
        int64_t eng = s->out_eng[i][a] >= since ? s->out_eng[i][a] : INT64_MIN;
        int64_t made = s->out_made[i][a];
        if (best == UINT32_MAX || eng < be || (eng == be && made < bm)) {
            best = j;
            be = eng;
            bm = made;
        }
    }
    return best;
}

static agora_err commit_rewiring(agora_sim *s) {
    const size_t k = (size_t)s->k;
    const int32_t t = (int32_t)s->t;
    for (int64_t ii = 0; ii < s->n; ii++) {
        uint32_t i = (uint32_t)ii;
        const uint32_t *unf = &s->unf_buf[i * k];
        const uint32_t *fol = &s->fol_buf[i * 2 * k];
        if (!s->p.conserve_out_degree) {
            for (uint32_t u = 0; u < s->unf_n[i]; u++)
                agora__sim_unfollow(s, i, unf[u]);
            for (uint32_t f = 0; f < s->fol_n[i]; f++)
                AGORA_TRY(agora__sim_follow(s, i, fol[f], t));
            continue;
        }
        /* Out-degree conserved: each follow replaces exactly one followee. */
        for (uint32_t f = 0; f < s->fol_n[i]; f++) {
            uint32_t j = fol[f];
            if (j == i || agora__sim_follows(s, i, j))
                continue;
            uint32_t drop = s->fol_kind[i * 2 * k + f] == 1 ? unf[s->fol_pair[i * 2 * k + f]]
                                                            : least_engaged(s, i, j);
            if (drop == UINT32_MAX || !agora__sim_unfollow(s, i, drop))
                continue;
            AGORA_TRY(agora__sim_follow(s, i, j, t));
        }
    }
    return AGORA_OK;
}

/* Folds this step's retweets, exposures and impressions into the counters scores read:
 * each thread scans every retweet and feed buffer and counts the messages and authors of
 * its own share of the ring and of the agents, so no counter is shared and the integer
 * sums do not depend on the thread count. */
static void commit_messages(agora_sim *s) {
    const size_t k = (size_t)s->k;
    const int64_t n = s->n;
    AGORA__SIM_OMP("omp parallel") {
        uint32_t tid = 0, nt = 1;
#ifdef AGORA_HAVE_OPENMP
        tid = (uint32_t)omp_get_thread_num();
        nt = (uint32_t)omp_get_num_threads();
#endif
        const uint32_t m_lo = (uint32_t)((uint64_t)s->mcap * tid / nt);
        const uint32_t m_hi = (uint32_t)((uint64_t)s->mcap * (tid + 1) / nt);
        const uint32_t a_lo = (uint32_t)((uint64_t)n * tid / nt);
        const uint32_t a_hi = (uint32_t)((uint64_t)n * (tid + 1) / nt);
        for (int64_t i = 0; i < n; i++) {
            uint32_t *rtc_c = s->m_rtc[s->fd_camp[i]];
            for (uint32_t r = 0; r < s->rt_n[i]; r++) {
                const uint32_t m = s->rt_buf[(size_t)i * k + r] & s->mmask;
                const uint32_t a = s->m_author[m];
                if (m >= m_lo && m < m_hi) {
                    s->m_nrt[m]++;
                    rtc_c[m]++;
                }
                if (a >= a_lo && a < a_hi)
                    s->rt_recv[a]++;
            }
        }
        for (int64_t i = 0; i < n; i++) {
            uint32_t *exp_c = s->m_exp[s->fd_camp[i]];
            for (uint32_t r = 0; r < s->fd_n[i]; r++) {
                const uint32_t m = s->fd_seq[(size_t)i * k + r] & s->mmask;
                const uint32_t a = s->fd_auth[(size_t)i * k + r];
                if (m >= m_lo && m < m_hi)
                    exp_c[m]++;
                if (a >= a_lo && a < a_hi)
                    s->imp[a]++;
            }
        }
    }
}

static void start_of_step(agora_sim *s) {
    double sum[2] = {0, 0};
    int64_t cnt[2] = {0, 0};
    for (int64_t i = 0; i < s->n; i++) {
        int c = s->o[i] >= s->p.camp_split;
        sum[c] += s->o[i];
        cnt[c]++;
    }
    s->camp_mean[0] = cnt[0] ? sum[0] / (double)cnt[0] : -0.5;
    s->camp_mean[1] = cnt[1] ? sum[1] / (double)cnt[1] : 0.5;
    s->rbar = s->g_exp > 0 ? (double)s->g_rt / (double)s->g_exp : s->p.rt_base_median;
}

agora_err agora__sim_step_ops(agora_sim *s, const agora__sim_recsys_ops *ops) {
    if (s->t >= INT32_MAX - 1 || s->t >= 0xffffff)
        return AGORA_EOVERFLOW; /* key(m) holds t0 in 24 bits */
    int64_t t0 = agora_now_ns(), t1, t2, t3;
    start_of_step(s);
    AGORA_TRY(phase_post(s));
    t1 = agora_now_ns();
    AGORA_TRY(phase_read(s, ops));
    t2 = agora_now_ns();
    commit_messages(s);
    if (!s->p.freeze_rewiring)
        AGORA_TRY(commit_rewiring(s));
    s->g_exp += s->s_exp;
    s->g_rt += s->s_rt;
    t3 = agora_now_ns();
    if (s->p.learner)
        agora__sim_learner_update(s);
    s->phase_ns[0] += t1 - t0;
    s->phase_ns[1] += t2 - t1;
    s->phase_ns[2] += t3 - t2;
    s->phase_ns[3] += agora_now_ns() - t3;
    s->t++;
    return AGORA_OK;
}

agora_err agora_sim_step(agora_sim *s, int recsys) {
    const agora__sim_recsys_ops *ops = agora__sim_recsys_ops_get(recsys);
    if (ops == NULL)
        return AGORA_EINVAL;
    AGORA_TRY(agora__sim_step_ops(s, ops));
#ifndef NDEBUG
    /* Debug builds check spec §15 A4 after every step: a violation is our bug. */
    char err[AGORA_ERR_LEN];
    if (agora_sim_check_invariants(s, err) != AGORA_OK)
        agora_panic(__FILE__, __LINE__, "sim invariant broken at step %lld: %s", (long long)s->t,
                    err);
#endif
    return AGORA_OK;
}

void agora_sim_branch(agora_sim *s) {
    const int64_t n = s->n;
    s->t0 = s->t;
    memset(s->E, 0, (size_t)n * sizeof *s->E);
    memset(s->En, 0, (size_t)n * sizeof *s->En);
    memset(s->Ex, 0, (size_t)n * sizeof *s->Ex);
    memset(s->C, 0, (size_t)n * sizeof *s->C);
    memset(s->Cn, 0, (size_t)n * sizeof *s->Cn);
    memset(s->rt_made, 0, (size_t)n * sizeof *s->rt_made);
    memset(s->rt_recv, 0, (size_t)n * sizeof *s->rt_recv);
    memset(s->imp, 0, (size_t)n * sizeof *s->imp);
    s->casc_n = s->casc_sum = s->casc_max = 0;
    memset(s->casc_hist, 0, sizeof s->casc_hist);
    for (int64_t i = 0; i < n; i++)
        s->followers_t0[i] = s->in_n[i];
    /* The toxic set: top decile of tau (ties by id) or tau >= threshold. */
    if (s->p.toxic_def == SIM_TOXIC_THRESHOLD) {
        for (int64_t i = 0; i < n; i++)
            s->toxic[i] = s->tau[i] >= s->p.toxic_threshold;
    } else {
        int64_t want = (n + 9) / 10, got = 0;
        /* threshold = the want-th largest tau; count ties by ascending id */
        double lo = 0.0, hi = 1.0;
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (lo + hi);
            int64_t c = 0;
            for (int64_t i = 0; i < n; i++)
                c += s->tau[i] >= mid;
            if (c >= want)
                lo = mid;
            else
                hi = mid;
        }
        for (int64_t i = 0; i < n; i++) {
            s->toxic[i] = s->tau[i] > hi;
            got += s->toxic[i];
        }
        for (int64_t i = 0; i < n && got < want; i++)
            if (!s->toxic[i] && s->tau[i] >= lo) {
                s->toxic[i] = 1;
                got++;
            }
    }
}

int64_t agora_sim_time(const agora_sim *s) {
    return s->t;
}
int64_t agora_sim_n_agents(const agora_sim *s) {
    return s->n;
}
int64_t agora_sim_n_edges(const agora_sim *s) {
    return s->n_edges;
}
const double *agora_sim_opinions(const agora_sim *s) {
    return s->o;
}
void agora_sim_phase_seconds(const agora_sim *s, double sec[AGORA_SIM_NPHASE]) {
    for (int ph = 0; ph < AGORA_SIM_NPHASE; ph++)
        sec[ph] = (double)s->phase_ns[ph] * 1e-9;
}

void agora_sim_work(const agora_sim *s, int64_t *pool_items, int64_t *feed_items) {
    *pool_items = s->work_pool;
    *feed_items = s->work_feed;
}

size_t agora_sim_bytes(const agora_sim *s, size_t *graph_bytes) {
    size_t b = sizeof *s, g = 0;
    for (size_t a = 0; a < N_ARRAYS; a++)
        b += arr_count(s, k_arrays[a].cnt) * k_arrays[a].elem;
    for (int64_t i = 0; i < s->n; i++)
        g += (size_t)s->out_cap[i] * 12 + (size_t)s->in_cap[i] * 4 + 4 * sizeof(void *);
    b += 2 * ((size_t)s->n + 1) * sizeof(agora__sim_whead) + ((size_t)s->n + 1) * sizeof(uint32_t) +
         (s->win_cap + s->win_cap2) * sizeof *s->win;
    if (graph_bytes)
        *graph_bytes = g;
    return b + g;
}

uint64_t agora_sim_digest(const agora_sim *s) {
    agora_hasher *h = NULL;
    if (agora_hasher_create(&h) != AGORA_OK)
        return 0;
    agora_hasher_update(h, &s->t, sizeof s->t);
    agora_hasher_update(h, &s->next_seq, sizeof s->next_seq);
    agora_hasher_update(h, s->w, sizeof s->w);
    for (size_t a = 0; a < N_ARRAYS; a++) {
        if (!k_arrays[a].digest)
            continue;
        if (k_arrays[a].cnt == CNT_M) { /* live messages only, by seq */
            const char *base = arr_get(s, &k_arrays[a]);
            size_t el = k_arrays[a].elem;
            for (uint32_t q = agora__sim_first_live(s, s->t > 0 ? s->t - 1 : 0); q != s->next_seq;
                 q++)
                agora_hasher_update(h, base + (size_t)(q & s->mmask) * el, el);
            continue;
        }
        agora_hasher_update(h, arr_get(s, &k_arrays[a]),
                            arr_count(s, k_arrays[a].cnt) * k_arrays[a].elem);
    }
    for (int64_t i = 0; i < s->n; i++) {
        agora_hasher_update(h, s->out_v[i], s->out_n[i] * sizeof(uint32_t));
        agora_hasher_update(h, s->out_made[i], s->out_n[i] * sizeof(int32_t));
        agora_hasher_update(h, s->out_eng[i], s->out_n[i] * sizeof(int32_t));
        agora_hasher_update(h, s->in_v[i], s->in_n[i] * sizeof(uint32_t));
    }
    uint64_t d = agora_hasher_digest(h);
    agora_hasher_destroy(h);
    return d;
}

agora_err agora_sim_check_invariants(const agora_sim *s, char err[AGORA_ERR_LEN]) {
    int64_t sum_out = 0, sum_in = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!(s->o[i] >= -1.0 && s->o[i] <= 1.0) || !(s->tau[i] >= 0 && s->tau[i] <= 1) ||
            !(s->pi[i] >= 0 && s->pi[i] <= 1)) {
            snprintf(err, AGORA_ERR_LEN, "agent %lld: attribute out of range", (long long)i);
            return AGORA_ESTATE;
        }
        for (uint32_t a = 0; a < s->out_n[i]; a++) {
            uint32_t j = s->out_v[i][a];
            if (j == (uint32_t)i || j >= s->n || (a > 0 && s->out_v[i][a - 1] >= j)) {
                snprintf(err, AGORA_ERR_LEN, "agent %lld: self-loop, bad id or duplicate edge",
                         (long long)i);
                return AGORA_ESTATE;
            }
        }
        for (uint32_t a = 0; a < s->in_n[i]; a++)
            if (!agora__sim_follows(s, s->in_v[i][a], (uint32_t)i)) {
                snprintf(err, AGORA_ERR_LEN, "agent %lld: In lists %u, who does not follow",
                         (long long)i, s->in_v[i][a]);
                return AGORA_ESTATE;
            }
        sum_out += s->out_n[i];
        sum_in += s->in_n[i];
        if (s->seen_head[i] >= s->seen_cap) {
            snprintf(err, AGORA_ERR_LEN, "agent %lld: seen ring head out of range", (long long)i);
            return AGORA_ESTATE;
        }
    }
    if (sum_out != sum_in || sum_out != s->n_edges) {
        snprintf(err, AGORA_ERR_LEN, "sum|Out| = %lld, sum|In| = %lld, edges = %lld",
                 (long long)sum_out, (long long)sum_in, (long long)s->n_edges);
        return AGORA_ESTATE;
    }
    return AGORA_OK;
}
