/* sim_ckpt.c: the simulation state on disk, so a long run can stop and resume (spec §10).
 *
 * One safetensors file, written atomically (path.tmp, fsync, rename):
 *   - every dynamic per-agent and per-message array under its field name (o, tau, E, seen,
 *     m_author, ...; per-step scratch is left out, a step rewrites it before reading it);
 *   - the follow graph as flat lists in node order: out_v, out_made, out_eng (out_n[i]
 *     entries for node i) and in_v (in_n[i] entries);
 *   - cascade_hist (cascade sizes counted in the window, for the p99);
 *   - step_seq0 (the first message of each step), the emission window (window_heads: one
 *     128-byte block per emitter as 32 u32 words; window_overflow: 4 u32 words each);
 *   - the scalars as two tensors, scalars_i64 and scalars_f64, whose field names are listed
 *     in the metadata in the same order;
 *   - imported networks' original ids (id_names: NUL-terminated names; id_off: where node
 *     i's name starts), and an opaque caller blob
 *     (caller_extra: `agora sim run` keeps its step records there).
 * Metadata: format "agora-sim-checkpoint", version, params_hash (the sim.* settings that
 * shape the trajectory: every key but n_steps, replicates, metrics_every,
 * checkpoint_every and louvain), t, and state_xxh3: XXH3-64 over every tensor's bytes in file
 * order, checked before anything is restored, so a damaged file is refused, never half-used. A
 * resumed state steps on bit for bit as the original would have (tests/unit/test_sim_ckpt.c
 * compares digests).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/config.h"
#include "agora/hash.h"
#include "agora/safetensors.h"
#include "sim/sim_internal.h"

#define CKPT_FORMAT "agora-sim-checkpoint"
#define CKPT_VERSION "1"

/* The scalars, in file order. X(field, copied): copied = 1 for the ones load copies back
 * as they are; the sizes (0) are checked against the settings or re-derived by restore(),
 * so a field added here is restored unless it is marked otherwise. */
// clang-format off
#define I64_FIELDS(X) \
    X(n, 0) X(t, 1) X(t0, 1) X(k, 0) X(n_edges, 1) X(mcap, 0) X(next_seq, 1) \
    X(step_seq0_cap, 0) X(W, 0) X(win_n, 0) X(win_cap, 0) X(seen_cap, 0) X(D, 0) X(g_exp, 1) \
    X(g_rt, 1) X(s_exp, 1) X(s_neg, 1) X(s_pool, 1) X(s_negpool, 1) X(s_rt, 1) X(work_pool, 1) \
    X(work_feed, 1) X(casc_n, 1) X(casc_sum, 1) X(casc_max, 1)
// clang-format on
enum {
#define X(f, copied) I_##f,
    I64_FIELDS(X)
#undef X
        N_I64
};
static const char k_i64_names[] =
#define X(f, copied) #f ","
    I64_FIELDS(X)
#undef X
    ;
enum { F_W = 0, F_CAMP = SIM_NFEAT, F_RBAR = SIM_NFEAT + 2, N_F64 };
static const char k_f64_names[] = "w[0..7],camp_mean[0..1],rbar";

uint64_t agora__sim_params_hash(const agora_sim_params *p) {
    agora_sim_params q = *p;
    q.n_steps = 0;
    q.replicates = 1;
    q.metrics_every = 1;
    q.checkpoint_every = 0;
    q.louvain = false; /* read only by summaries */
    agora_cfg_table t = agora_sim_cfg_table(&q);
    return agora_cfg_hash(&t, 1);
}

/* XXH3-64 over the tensors' bytes in the order given (0 if out of memory). */
static uint64_t content_hash(const agora_st_entry *e, size_t n) {
    agora_hasher *h = NULL;
    if (agora_hasher_create(&h) != AGORA_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = agora_st_dtype_size(e[i].dtype);
        for (int32_t d = 0; d < e[i].ndim; d++)
            bytes *= (size_t)e[i].shape[d];
        agora_hasher_update(h, e[i].data, bytes);
    }
    uint64_t d = agora_hasher_digest(h);
    agora_hasher_destroy(h);
    return d;
}

static agora_st_entry entry(const char *name, int dtype, int64_t n, const void *data) {
    agora_st_entry e = {name, (agora_st_dtype)dtype, 1, {n}, data};
    return e;
}

static const void *arr_data(const agora_sim *s, const agora__sim_array_view *v) {
    return *(void *const *)((const char *)s + v->off);
}
static void **arr_slot(agora_sim *s, const agora__sim_array_view *v) {
    return (void **)((char *)s + v->off);
}

agora_err agora_sim_save(const agora_sim *s, const char *path, const void *extra, size_t extra_len,
                         char err[AGORA_ERR_LEN]) {
    size_t n = (size_t)s->n, n_out = 0, n_in = 0;
    for (size_t i = 0; i < n; i++) {
        n_out += s->out_n[i];
        n_in += s->in_n[i];
    }
    uint32_t *out_v = agora_malloc((n_out ? n_out : 1) * sizeof *out_v);
    int32_t *out_made = agora_malloc((n_out ? n_out : 1) * sizeof *out_made);
    int32_t *out_eng = agora_malloc((n_out ? n_out : 1) * sizeof *out_eng);
    uint32_t *in_v = agora_malloc((n_in ? n_in : 1) * sizeof *in_v);
    agora_st_entry *e = agora_calloc(64 + 16, sizeof *e);
    agora_err rc = AGORA_ENOMEM;
    if (!out_v || !out_made || !out_eng || !in_v || !e) {
        snprintf(err, AGORA_ERR_LEN, "%s: out of memory gathering the state", path);
        goto out;
    }
    for (size_t i = 0, o = 0, q = 0; i < n; i++) {
        memcpy(out_v + o, s->out_v[i], s->out_n[i] * sizeof *out_v);
        memcpy(out_made + o, s->out_made[i], s->out_n[i] * sizeof *out_made);
        memcpy(out_eng + o, s->out_eng[i], s->out_n[i] * sizeof *out_eng);
        memcpy(in_v + q, s->in_v[i], s->in_n[i] * sizeof *in_v);
        o += s->out_n[i];
        q += s->in_n[i];
    }
    int64_t i64[N_I64];
#define X(f, copied) i64[I_##f] = (int64_t)s->f;
    I64_FIELDS(X)
#undef X
    double f64[N_F64];
    memcpy(f64 + F_W, s->w, sizeof s->w);
    memcpy(f64 + F_CAMP, s->camp_mean, sizeof s->camp_mean);
    f64[F_RBAR] = s->rbar;

    size_t ne = 0;
    agora__sim_array_view v;
    for (size_t a = 0; agora__sim_array(s, a, &v); a++)
        if (v.state && v.count > 0)
            e[ne++] = entry(v.name, v.dtype, (int64_t)v.count, arr_data(s, &v));
    e[ne++] = entry("out_v", AGORA_ST_U32, (int64_t)n_out, out_v);
    e[ne++] = entry("out_made", AGORA_ST_I32, (int64_t)n_out, out_made);
    e[ne++] = entry("out_eng", AGORA_ST_I32, (int64_t)n_out, out_eng);
    e[ne++] = entry("in_v", AGORA_ST_U32, (int64_t)n_in, in_v);
    e[ne++] = entry("step_seq0", AGORA_ST_U32, s->step_seq0_cap, s->step_seq0);
    e[ne++] = (agora_st_entry){"window_heads", AGORA_ST_U32, 2, {(int64_t)n, 32}, s->wh};
    e[ne++] = (agora_st_entry){"window_overflow", AGORA_ST_U32, 2, {(int64_t)s->win_n, 4}, s->win};
    e[ne++] = entry("cascade_hist", AGORA_ST_I64, SIM_CASC_BINS, s->casc_hist);
    e[ne++] = entry("scalars_i64", AGORA_ST_I64, N_I64, i64);
    e[ne++] = entry("scalars_f64", AGORA_ST_F64, N_F64, f64);
    if (s->id_names != NULL && s->id_off != NULL) { /* NUL-terminated names, any order */
        size_t names_len = 0;
        for (size_t i = 0; i < n; i++) {
            size_t end = (size_t)s->id_off[i] + strlen(s->id_names + s->id_off[i]) + 1;
            names_len = end > names_len ? end : names_len;
        }
        e[ne++] = entry("id_names", AGORA_ST_U8, (int64_t)names_len, s->id_names);
        e[ne++] = entry("id_off", AGORA_ST_I64, (int64_t)n, s->id_off);
    }
    e[ne++] = entry("caller_extra", AGORA_ST_U8, (int64_t)extra_len, extra_len ? extra : "");
    char hash[32], tbuf[32], content[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, agora__sim_params_hash(&s->p));
    snprintf(tbuf, sizeof tbuf, "%" PRId64, s->t);
    snprintf(content, sizeof content, "%016" PRIx64, content_hash(e, ne));
    const char *meta[] = {"format",      CKPT_FORMAT, "version",    CKPT_VERSION,  "params_hash",
                          hash,          "t",         tbuf,         "scalars_i64", k_i64_names,
                          "scalars_f64", k_f64_names, "state_xxh3", content};
    rc = agora_st_save(path, e, ne, meta, sizeof meta / sizeof meta[0] / 2, err);
out:
    agora_free(out_v);
    agora_free(out_made);
    agora_free(out_eng);
    agora_free(in_v);
    agora_free(e);
    return rc;
}

/* Tensor `name` with exactly `bytes` bytes (any shape), or an error naming both. */
static const void *need(const agora_st_file *f, const char *path, const char *name, size_t bytes,
                        agora_err *rc, char err[AGORA_ERR_LEN]) {
    if (*rc != AGORA_OK)
        return NULL;
    const agora_st_tensor *t = agora_st_find(f, name);
    if (t == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor '%s' missing", path, name);
        *rc = AGORA_EPARSE;
        return NULL;
    }
    if (t->nbytes != bytes) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor '%s' holds %" PRIu64 " bytes, expected %zu", path,
                 name, t->nbytes, bytes);
        *rc = AGORA_ESHAPE;
        return NULL;
    }
    return agora_st_data(f, t);
}

static int by_offset(const void *a, const void *b) {
    uint64_t x = (*(const agora_st_tensor *const *)a)->offset;
    uint64_t y = (*(const agora_st_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

static agora_err check_meta(const agora_st_file *f, const char *path, const agora_sim_params *p,
                            char err[AGORA_ERR_LEN]) {
    const char *fmt = agora_st_meta(f, "format"), *ver = agora_st_meta(f, "version");
    if (fmt == NULL || strcmp(fmt, CKPT_FORMAT) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: not an agora sim checkpoint (format '%s')", path,
                 fmt ? fmt : "(none)");
        return AGORA_EPARSE;
    }
    if (ver == NULL || strcmp(ver, CKPT_VERSION) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: checkpoint version '%s', this build reads %s", path,
                 ver ? ver : "(none)", CKPT_VERSION);
        return AGORA_EUNSUPPORTED;
    }
    const char *i64n = agora_st_meta(f, "scalars_i64"), *f64n = agora_st_meta(f, "scalars_f64");
    if (i64n == NULL || strcmp(i64n, k_i64_names) != 0 || f64n == NULL ||
        strcmp(f64n, k_f64_names) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: the scalar field lists differ from this build's", path);
        return AGORA_EUNSUPPORTED;
    }
    agora_hasher *h = NULL;
    if (agora_hasher_create(&h) != AGORA_OK)
        return AGORA_ENOMEM;
    /* the tensors in data order, the order they were written in */
    size_t nt = agora_st_count(f);
    const agora_st_tensor **ts = agora_calloc(nt ? nt : 1, sizeof *ts);
    if (ts == NULL) {
        agora_hasher_destroy(h);
        return AGORA_ENOMEM;
    }
    for (size_t i = 0; i < nt; i++)
        ts[i] = agora_st_get(f, i);
    qsort(ts, nt, sizeof *ts, by_offset);
    for (size_t i = 0; i < nt; i++)
        agora_hasher_update(h, agora_st_data(f, ts[i]), (size_t)ts[i]->nbytes);
    agora_free(ts);
    char content[32];
    snprintf(content, sizeof content, "%016" PRIx64, agora_hasher_digest(h));
    agora_hasher_destroy(h);
    const char *stored = agora_st_meta(f, "state_xxh3");
    if (stored == NULL || strcmp(stored, content) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: content hash %s, stored %s: the file is damaged", path,
                 content, stored ? stored : "(none)");
        return AGORA_ECHECKSUM;
    }
    char want[32];
    snprintf(want, sizeof want, "%016" PRIx64, agora__sim_params_hash(p));
    const char *got = agora_st_meta(f, "params_hash");
    if (got == NULL || strcmp(got, want) != 0) {
        snprintf(err, AGORA_ERR_LEN,
                 "%s: written with other sim.* settings (params hash %s, now %s); only "
                 "sim.n_steps, sim.metrics_every, sim.checkpoint_every and sim.louvain may change "
                 "on resume",
                 path, got ? got : "(none)", want);
        return AGORA_EINVAL;
    }
    return AGORA_OK;
}

/* Every stored index stays inside its array, so even a file whose hash was forged cannot
 * send a step out of bounds: agent ids < n, counts within their rings, window overflow
 * slices within the overflow buffer. */
/* check_values refuses the floats that the step would feed to a cast or a sampler out of
 * their domain: message and window opinions outside [-1, 1] (or NaN: a NaN opinion turns
 * into an int in the ranking), negative or non-finite discovery weights and activities,
 * non-finite learner scalars. (o, tau and pi are agora_sim_check_invariants' part.) */
static agora_err check_values(const agora_sim *s, const char *path, char err[AGORA_ERR_LEN]) {
    const char *what = NULL;
    size_t at = 0;
    for (size_t m = 0; m < s->mcap && what == NULL; m++)
        if (!(s->m_o[m] >= -1.0f && s->m_o[m] <= 1.0f))
            what = "m_o (message opinion)", at = m;
    for (size_t i = 0; i < (size_t)s->n && what == NULL; i++) {
        const agora__sim_whead *h = &s->wh[i];
        for (uint32_t x = 0; x < h->n && x < SIM_WIN_INLINE && what == NULL; x++)
            if (!(h->e[x].o >= -1.0f && h->e[x].o <= 1.0f))
                what = "window_heads (opinion)", at = i;
        if (what == NULL && !(isfinite(s->act[i]) && s->act[i] >= 0))
            what = "act (activity)", at = i;
        for (size_t d = 0; d < (size_t)s->D && what == NULL; d++) {
            float w = s->disc_w[i * (size_t)s->D + d];
            if (!(isfinite(w) && w >= 0))
                what = "disc_w (discovery weight)", at = i;
        }
    }
    for (size_t w = 0; w < s->win_n && what == NULL; w++)
        if (!(s->win[w].o >= -1.0f && s->win[w].o <= 1.0f))
            what = "window_overflow (opinion)", at = w;
    for (size_t j = 0; j < SIM_NFEAT && what == NULL; j++)
        if (!isfinite(s->w[j]))
            what = "scalars_f64 (learner weight)", at = j;
    for (size_t j = 0; j < 2 && what == NULL; j++)
        if (!isfinite(s->camp_mean[j]))
            what = "scalars_f64 (camp_mean)", at = j;
    if (what == NULL && !isfinite(s->rbar))
        what = "scalars_f64 (rbar)", at = 0;
    if (what == NULL)
        return AGORA_OK;
    snprintf(err, AGORA_ERR_LEN, "%s: %s out of range at entry %zu", path, what, at);
    return AGORA_EPARSE;
}

static agora_err check_indices(const agora_sim *s, const char *path, char err[AGORA_ERR_LEN]) {
    const uint32_t n = (uint32_t)s->n, k = (uint32_t)s->k, D = (uint32_t)s->D;
    const char *what = NULL;
    uint32_t at = 0;
    for (uint32_t m = 0; m < s->mcap && what == NULL; m++)
        if (s->m_author[m] >= n)
            what = "m_author", at = m;
    for (uint32_t i = 0; i < n && what == NULL; i++) {
        at = i;
        if (s->rt_n[i] > k)
            what = "rt_n";
        else if (D > 0 && (s->disc_n[i] > D || s->disc_head[i] >= D))
            what = "disc_n or disc_head";
        for (uint32_t d = 0; d < D && what == NULL; d++)
            if (s->disc_a[(size_t)i * D + d] >= n)
                what = "disc_a";
        const agora__sim_whead *h = &s->wh[i];
        if (what == NULL && h->n > SIM_WIN_INLINE &&
            (uint64_t)h->ovf + (h->n - SIM_WIN_INLINE) > s->win_n)
            what = "window_heads (overflow slice)";
        for (uint32_t x = 0; x < h->n && x < SIM_WIN_INLINE && what == NULL; x++)
            if ((h->e[x].author_neg & ~AGORA__SIM_NEG_BIT) >= n)
                what = "window_heads (author)";
    }
    for (size_t w = 0; w < s->win_n && what == NULL; w++)
        if ((s->win[w].author_neg & ~AGORA__SIM_NEG_BIT) >= n)
            what = "window_overflow (author)", at = (uint32_t)w;
    /* The messages of the last msg_max_age steps must fit the ring, in order: each step's
     * first sequence number at most mcap behind next_seq and not behind the step before
     * (else the next step walks 2^32 numbers or grows the ring to gigabytes). */
    int64_t u0 = s->t - s->p.msg_max_age > 0 ? s->t - s->p.msg_max_age : 0;
    uint32_t prev_behind = UINT32_MAX;
    for (int64_t u = u0; u < s->t && what == NULL; u++) {
        uint32_t behind = s->next_seq - s->step_seq0[u];
        if (behind > s->mcap || behind > prev_behind)
            what = "step_seq0 (message sequence)", at = (uint32_t)u;
        prev_behind = behind;
    }
    if (what == NULL)
        return AGORA_OK;
    snprintf(err, AGORA_ERR_LEN, "%s: %s out of range at entry %u", path, what, at);
    return AGORA_EPARSE;
}

/* Fills s (allocated for its n by agora__sim_alloc) from the file. */
static agora_err restore(agora_sim *s, const agora_st_file *f, const char *path, const int64_t *i64,
                         char err[AGORA_ERR_LEN]) {
    agora_err rc = AGORA_OK;
    size_t n = (size_t)s->n;
    if (i64[I_k] != s->k || i64[I_W] != s->W || i64[I_D] != s->D ||
        i64[I_seen_cap] != (int64_t)s->seen_cap) {
        snprintf(err, AGORA_ERR_LEN, "%s: feed, window or ring sizes differ from the settings",
                 path);
        return AGORA_ESHAPE;
    }
    int64_t mcap = i64[I_mcap];
    if (mcap < 16 || mcap > ((int64_t)1 << 31) || (mcap & (mcap - 1)) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: message ring capacity %" PRId64 " is not a power of two",
                 path, mcap);
        return AGORA_EPARSE;
    }
    agora__sim_array_view v;
    if ((uint32_t)mcap != s->mcap) { /* the ring grew during the run */
        for (size_t a = 0; agora__sim_array(s, a, &v); a++) {
            if (!v.per_message)
                continue;
            void **slot = arr_slot(s, &v);
            agora_free(*slot);
            *slot = agora__sim_big_alloc((size_t)mcap * v.elem, true);
            if (*slot == NULL)
                return AGORA_ENOMEM;
        }
        s->mcap = (uint32_t)mcap;
        s->mmask = s->mcap - 1;
    }
    for (size_t a = 0; agora__sim_array(s, a, &v); a++) {
        if (!v.state || v.count == 0)
            continue;
        const void *d = need(f, path, v.name, v.count * v.elem, &rc, err);
        if (d == NULL)
            return rc;
        memcpy(*arr_slot(s, &v), d, v.count * v.elem);
    }
    size_t n_out = 0, n_in = 0;
    for (size_t i = 0; i < n; i++) {
        n_out += s->out_n[i];
        n_in += s->in_n[i];
    }
    if (i64[I_n_edges] != (int64_t)n_out) {
        snprintf(err, AGORA_ERR_LEN, "%s: %" PRId64 " edges, but the out-lists hold %zu", path,
                 i64[I_n_edges], n_out);
        return AGORA_EPARSE;
    }
    const void *hist = need(f, path, "cascade_hist", sizeof s->casc_hist, &rc, err);
    if (rc != AGORA_OK)
        return rc;
    memcpy(s->casc_hist, hist, sizeof s->casc_hist);
    const uint32_t *out_v = need(f, path, "out_v", n_out * 4, &rc, err);
    const int32_t *out_made = need(f, path, "out_made", n_out * 4, &rc, err);
    const int32_t *out_eng = need(f, path, "out_eng", n_out * 4, &rc, err);
    const uint32_t *in_v = need(f, path, "in_v", n_in * 4, &rc, err);
    if (rc != AGORA_OK)
        return rc;
    for (size_t i = 0, o = 0, q = 0; i < n; i++) {
        uint32_t on = s->out_n[i], in = s->in_n[i];
        s->out_cap[i] = on;
        s->in_cap[i] = in;
        s->out_v[i] = agora_malloc(on * sizeof(uint32_t) + 1);
        s->out_made[i] = agora_malloc(on * sizeof(int32_t) + 1);
        s->out_eng[i] = agora_malloc(on * sizeof(int32_t) + 1);
        s->in_v[i] = agora_malloc(in * sizeof(uint32_t) + 1);
        if (!s->out_v[i] || !s->out_made[i] || !s->out_eng[i] || !s->in_v[i])
            return AGORA_ENOMEM;
        memcpy(s->out_v[i], out_v + o, on * sizeof(uint32_t));
        memcpy(s->out_made[i], out_made + o, on * sizeof(int32_t));
        memcpy(s->out_eng[i], out_eng + o, on * sizeof(int32_t));
        memcpy(s->in_v[i], in_v + q, in * sizeof(uint32_t));
        for (uint32_t j = 0; j < on; j++)
            if (s->out_v[i][j] >= n)
                goto bad_node;
        for (uint32_t j = 0; j < in; j++)
            if (s->in_v[i][j] >= n)
                goto bad_node;
        o += on;
        q += in;
    }
    int64_t cap = i64[I_step_seq0_cap];
    if (cap < 1 || cap <= i64[I_t] || cap > ((int64_t)1 << 40)) {
        snprintf(err, AGORA_ERR_LEN, "%s: step_seq0 capacity %" PRId64 " at step %" PRId64, path,
                 cap, i64[I_t]);
        return AGORA_EPARSE;
    }
    const uint32_t *seq0 = need(f, path, "step_seq0", (size_t)cap * 4, &rc, err);
    if (rc != AGORA_OK)
        return rc;
    uint32_t *ss = agora_realloc(s->step_seq0, (size_t)cap * sizeof *ss);
    if (ss == NULL)
        return AGORA_ENOMEM;
    memcpy(ss, seq0, (size_t)cap * sizeof *ss);
    s->step_seq0 = ss;
    s->step_seq0_cap = cap;
    int64_t win_n = i64[I_win_n];
    if (win_n < 0 || win_n > i64[I_win_cap] || i64[I_win_cap] > ((int64_t)1 << 40)) {
        snprintf(err, AGORA_ERR_LEN, "%s: window overflow %" PRId64 " of %" PRId64, path, win_n,
                 i64[I_win_cap]);
        return AGORA_EPARSE;
    }
    const void *wh = need(f, path, "window_heads", n * sizeof *s->wh, &rc, err);
    const void *win = need(f, path, "window_overflow", (size_t)win_n * sizeof *s->win, &rc, err);
    if (rc != AGORA_OK)
        return rc;
    /* the stored capacity is not state: room for the stored entries is enough */
    AGORA_TRY(agora__sim_window_reserve(s, (size_t)win_n));
    memcpy(s->wh, wh, n * sizeof *s->wh);
    memcpy(s->win, win, (size_t)win_n * sizeof *s->win);
    s->win_n = (size_t)win_n;
    const agora_st_tensor *names = agora_st_find(f, "id_names");
    if (names != NULL) {
        const int64_t *off = need(f, path, "id_off", n * sizeof(int64_t), &rc, err);
        if (rc != AGORA_OK)
            return rc;
        size_t len = (size_t)names->nbytes;
        s->id_names = agora_malloc(len + 1);
        s->id_off = agora_malloc(n * sizeof *s->id_off);
        if (s->id_names == NULL || s->id_off == NULL)
            return AGORA_ENOMEM;
        memcpy(s->id_names, agora_st_data(f, names), len);
        s->id_names[len] = '\0';
        memcpy(s->id_off, off, n * sizeof *s->id_off);
        if (len == 0 || s->id_names[len - 1] != '\0') {
            snprintf(err, AGORA_ERR_LEN, "%s: id_names does not end with a NUL", path);
            return AGORA_EPARSE;
        }
        for (size_t i = 0; i < n; i++)
            if (s->id_off[i] >= len) {
                snprintf(err, AGORA_ERR_LEN, "%s: id_off[%zu] out of range", path, i);
                return AGORA_EPARSE;
            }
    }
    return AGORA_OK;
bad_node:
    snprintf(err, AGORA_ERR_LEN, "%s: a follow list names a node beyond %zu", path, n);
    return AGORA_EPARSE;
}

/* Everything after the container parse, for a file or a memory image (the fuzzer). */
static agora_err load_parsed(agora_st_file *f, const char *path, const agora_sim_params *p,
                             agora_sim **out, void **extra, size_t *extra_len,
                             char err[AGORA_ERR_LEN]) {
    agora_sim *s = NULL;
    agora_err rc = check_meta(f, path, p, err);
    const int64_t *i64 = need(f, path, "scalars_i64", N_I64 * sizeof(int64_t), &rc, err);
    const double *f64 = need(f, path, "scalars_f64", N_F64 * sizeof(double), &rc, err);
    const agora_st_tensor *ex = rc == AGORA_OK ? agora_st_find(f, "caller_extra") : NULL;
    if (rc == AGORA_OK && ex == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor 'caller_extra' missing", path);
        rc = AGORA_EPARSE;
    }
    int64_t i64c[N_I64];
    if (rc == AGORA_OK) {
        memcpy(i64c, i64, sizeof i64c); /* tensor data need not be aligned */
        if (i64c[I_n] != p->n_agents && p->graph_init != SIM_GRAPH_FILE) {
            snprintf(err, AGORA_ERR_LEN, "%s: %" PRId64 " agents, the settings say %" PRId64, path,
                     i64c[I_n], p->n_agents);
            rc = AGORA_ESHAPE;
        } else if (i64c[I_n] < 2 || i64c[I_n] > UINT32_MAX / 2 || i64c[I_t] < 0 || i64c[I_t0] < 0 ||
                   i64c[I_t0] > i64c[I_t]) {
            snprintf(err, AGORA_ERR_LEN,
                     "%s: agents %" PRId64 ", step %" PRId64 ", T0 %" PRId64 " out of range", path,
                     i64c[I_n], i64c[I_t], i64c[I_t0]);
            rc = AGORA_EPARSE;
        }
    }
    /* Nothing is allocated by a size the file states until the file holds that much: a
     * per-agent and a per-message array must have exactly n and mcap entries. */
    if (rc == AGORA_OK && (i64c[I_mcap] < 16 || i64c[I_mcap] > ((int64_t)1 << 31))) {
        snprintf(err, AGORA_ERR_LEN, "%s: message ring capacity %" PRId64 " out of range", path,
                 i64c[I_mcap]);
        rc = AGORA_EPARSE;
    }
    (void)need(f, path, "o", (size_t)i64c[I_n] * sizeof(double), &rc, err);
    (void)need(f, path, "m_author", (size_t)i64c[I_mcap] * sizeof(uint32_t), &rc, err);
    if (rc == AGORA_OK) {
        s = agora_calloc(1, sizeof *s);
        rc = s == NULL ? AGORA_ENOMEM : AGORA_OK;
    }
    if (rc == AGORA_OK) {
        s->p = *p;
        s->seed = (uint64_t)p->seed;
        rc = agora__sim_alloc(s, i64c[I_n]);
    }
    if (rc == AGORA_OK)
        rc = restore(s, f, path, i64c, err);
    if (rc == AGORA_OK) {
#define X(f, copied)                                                                               \
    if (copied)                                                                                    \
        s->f = i64c[I_##f];
        I64_FIELDS(X)
#undef X
        memcpy(s->w, (const char *)f64 + F_W * sizeof(double), sizeof s->w);
        memcpy(s->camp_mean, (const char *)f64 + F_CAMP * sizeof(double), sizeof s->camp_mean);
        memcpy(&s->rbar, (const char *)f64 + F_RBAR * sizeof(double), sizeof s->rbar);
        agora__sim_kernel_table(s);
        if (extra != NULL && ex->nbytes > 0) {
            *extra = agora_malloc(ex->nbytes);
            if (*extra == NULL)
                rc = AGORA_ENOMEM;
            else
                memcpy(*extra, agora_st_data(f, ex), ex->nbytes);
        }
        if (rc == AGORA_OK && extra_len != NULL)
            *extra_len = ex->nbytes;
    }
    if (rc == AGORA_OK)
        rc = check_indices(s, path, err);
    if (rc == AGORA_OK)
        rc = check_values(s, path, err);
    if (rc == AGORA_OK && err[0] == '\0') {
        char e2[AGORA_ERR_LEN];
        if (agora_sim_check_invariants(s, e2) != AGORA_OK) {
            snprintf(err, AGORA_ERR_LEN, "%s: inconsistent state: %.200s", path, e2);
            rc = AGORA_EPARSE;
        }
    }
    if (rc != AGORA_OK) {
        if (err[0] == '\0')
            snprintf(err, AGORA_ERR_LEN, "%s: %s", path, agora_err_str(rc));
        if (extra != NULL) {
            agora_free(*extra);
            *extra = NULL;
        }
        agora_sim_destroy(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

static void load_init(agora_sim **out, void **extra, size_t *extra_len, char err[AGORA_ERR_LEN]) {
    *out = NULL;
    if (extra != NULL)
        *extra = NULL;
    if (extra_len != NULL)
        *extra_len = 0;
    err[0] = '\0';
}

agora_err agora_sim_load(const char *path, const agora_sim_params *p, agora_sim **out, void **extra,
                         size_t *extra_len, char err[AGORA_ERR_LEN]) {
    load_init(out, extra, extra_len, err);
    agora_st_file *f = NULL;
    AGORA_TRY(agora_st_load(path, &f, err));
    agora_err rc = load_parsed(f, path, p, out, extra, extra_len, err);
    agora_st_close(f);
    return rc;
}

agora_err agora__sim_load_mem(const void *data, size_t len, const char *name,
                              const agora_sim_params *p, agora_sim **out, void **extra,
                              size_t *extra_len, char err[AGORA_ERR_LEN]) {
    load_init(out, extra, extra_len, err);
    agora_st_file *f = NULL;
    AGORA_TRY(agora_st_parse(data, len, name, &f, err));
    agora_err rc = load_parsed(f, name, p, out, extra, extra_len, err);
    agora_st_close(f);
    return rc;
}
