/* model.c: the Llama-style decoder: parameter layout, init, forward and backward.
 *
 * Implements: the slab layout (params, grads, activations, each one allocation with
 * named views), the forward pass that keeps what backward needs, and the exact backward.
 * Does not: own the optimizer (adamw.c), read or write files (ckpt.c), or pick kernels
 * beyond choosing the fast or the _ref table (layers.c, layers_ref.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/rng.h"
#include "agora/train.h"
#include "train/layers.h"

#ifdef AGORA_HAVE_OPENMP
#define AGORA_OMP(x) _Pragma(x)
#else
#define AGORA_OMP(x)
#endif

/* Per-op wall-clock totals for profiling, compiled in only with -DAGORA_TRAIN_PROF
 * (printed by agora_model_destroy). */
#ifdef AGORA_TRAIN_PROF
#include "agora/time.h"
static double prof_ns[64];
static const char *prof_name[64];
static int prof_n;
static int prof_slot(const char *name) {
    for (int i = 0; i < prof_n; i++)
        if (strcmp(prof_name[i], name) == 0)
            return i;
    prof_name[prof_n] = name;
    return prof_n++;
}
#define PROF(name, stmt)                                                                           \
    do {                                                                                           \
        int64_t prof_t0 = agora_now_ns();                                                          \
        stmt;                                                                                      \
        prof_ns[prof_slot(name)] += (double)(agora_now_ns() - prof_t0);                            \
    } while (0)
static void prof_print(void) {
    double tot = 0;
    for (int i = 0; i < prof_n; i++)
        tot += prof_ns[i];
    for (int i = 0; i < prof_n; i++)
        fprintf(stderr, "prof %-14s %8.1f ms %5.1f%%\n", prof_name[i], prof_ns[i] / 1e6,
                100 * prof_ns[i] / tot);
}
#else
#define PROF(name, stmt) stmt
#endif

enum { T_LN1, T_Q, T_K, T_V, T_O, T_LN2, T_GATE, T_UP, T_DOWN, T_PER_LAYER };

struct agora_model {
    agora_model_config cfg;
    int32_t max_batch;
    const agora__kernels *k;
    size_t n_tensors;
    agora_model_param *tensors;
    size_t n_params;
    float *params, *grads;
    float *acts;
    int32_t *iacts;
    size_t nc_max; /* max_batch * max_seq * dim: the per-layer stride of (N,C) buffers */
    /* activations kept for backward; per-layer arrays are strided by their max size */
    float *res, *mid, *ln1, *rstd1, *q, *kk, *v, *P, *att, *ln2, *rstd2, *g, *u, *hh;
    float *lnf, *rstdf, *logits, *loss_rows, *lse, *zmax;
    /* backward scratch */
    float *dres, *dln, *dq, *dk, *dv, *datt, *dh, *dg, *du, *attn_scratch;
    float *cos_t, *sin_t;
    int32_t *tokens, *targets, *argmax;
    int32_t B, T;
    bool can_backward;
    float z_w;
    size_t n_valid;
};

// ---- layout ----

/* Sizes (in floats) of every activation buffer for (cfg, Bmax); one walk serves both
 * allocation and agora_model_activation_bytes. */
typedef struct act_plan {
    size_t N, C, HD, KVD, F, V, L, TT, BHTT, ATTS;
    size_t total;
} act_plan;

static act_plan plan_acts(const agora_model_config *c, int32_t max_batch) {
    act_plan p;
    size_t D = (size_t)(c->dim / c->n_heads);
    p.N = (size_t)max_batch * (size_t)c->max_seq;
    p.C = (size_t)c->dim;
    p.HD = (size_t)c->n_heads * D;
    p.KVD = (size_t)c->n_kv_heads * D;
    p.F = (size_t)c->ffn_dim;
    p.V = (size_t)c->vocab_size;
    p.L = (size_t)c->n_layers;
    p.TT = (size_t)c->max_seq * (size_t)c->max_seq;
    p.BHTT = (size_t)max_batch * (size_t)c->n_heads * p.TT;
    size_t N = p.N;
    size_t per_layer = N * p.C * 4 /* mid ln1 ln2 res */ + N * 2 /* rstd */ +
                       N * p.HD * 2 /* q att */ + N * p.KVD * 2 + p.BHTT + N * p.F * 3;
    size_t once = N * p.C /* final res */ + N * p.C + N /* lnf rstdf */ + N * p.V +
                  N * 3 /* loss_rows lse zmax */;
    p.ATTS = AGORA__ATT_SCRATCH(max_batch, c->max_seq, c->n_kv_heads, D);
    size_t scratch = N * p.C * 2 + N * p.HD * 2 + N * p.KVD * 2 + N * p.F * 3 + p.ATTS +
                     (size_t)c->max_seq * (D / 2) * 2;
    /* each buffer is rounded up to 16 floats; 64 buffers of slack covers that */
    p.total = per_layer * p.L + once + scratch + 16 * (64 + 16 * p.L);
    return p;
}

uint64_t agora_model_activation_bytes(const agora_model_config *cfg, int32_t batch, int32_t seq) {
    agora_model_config c = *cfg;
    c.max_seq = seq;
    act_plan p = plan_acts(&c, batch);
    return (uint64_t)p.total * sizeof(float) + (uint64_t)p.N * 3 * sizeof(int32_t);
}

static float *take(float **cursor, size_t n) {
    float *p = *cursor;
    *cursor += (n + 15) / 16 * 16;
    return p;
}

static void add_tensor(agora_model *m, size_t *off, const char *name, int64_t r, int64_t c) {
    agora_model_param *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = c > 0 ? 2 : 1;
    t->shape[0] = r;
    t->shape[1] = c > 0 ? c : 0;
    t->numel = (size_t)r * (size_t)(c > 0 ? c : 1);
    t->offset = *off;
    *off += (t->numel + 15) / 16 * 16;
}

static void build_layout(agora_model *m) {
    const agora_model_config *c = &m->cfg;
    int64_t C = c->dim, D = c->dim / c->n_heads, F = c->ffn_dim, V = c->vocab_size;
    size_t off = 0;
    char name[64];
    add_tensor(m, &off, "model.embed_tokens.weight", V, C);
    for (int32_t l = 0; l < c->n_layers; l++) {
        static const char *const names[T_PER_LAYER] = {
            "input_layernorm",  "self_attn.q_proj", "self_attn.k_proj",
            "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
            "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
        const int64_t shapes[T_PER_LAYER][2] = {{C, 0},
                                                {c->n_heads * D, C},
                                                {c->n_kv_heads * D, C},
                                                {c->n_kv_heads * D, C},
                                                {C, c->n_heads * D},
                                                {C, 0},
                                                {F, C},
                                                {F, C},
                                                {C, F}};
        for (int j = 0; j < T_PER_LAYER; j++) {
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", (int)l, names[j]);
            add_tensor(m, &off, name, shapes[j][0], shapes[j][1]);
        }
    }
    add_tensor(m, &off, "model.norm.weight", C, 0);
    if (!c->tie_embeddings)
        add_tensor(m, &off, "lm_head.weight", V, C);
    m->n_params = off;
}

static size_t max_tensors(const agora_model_config *c) {
    return (size_t)c->n_layers * T_PER_LAYER + 3;
}

agora_err agora_model_create(const agora_model_config *cfg, int32_t max_batch, agora_model **out) {
    char err[AGORA_ERR_LEN];
    if (max_batch < 1 || agora_model_config_validate(cfg, err) != AGORA_OK)
        return AGORA_EINVAL;
    agora_model *m = agora_calloc(1, sizeof *m);
    if (m == NULL)
        return AGORA_ENOMEM;
    m->cfg = *cfg;
    m->max_batch = max_batch;
    m->k = &agora__kernels_fast;
    m->tensors = agora_calloc(max_tensors(cfg), sizeof *m->tensors);
    if (m->tensors == NULL)
        goto oom;
    build_layout(m);
    m->params = agora_malloc_aligned(m->n_params * sizeof(float));
    m->grads = agora_malloc_aligned(m->n_params * sizeof(float));
    act_plan p = plan_acts(cfg, max_batch);
    m->acts = agora_malloc_aligned(p.total * sizeof(float));
    m->iacts = agora_malloc(p.N * 3 * sizeof(int32_t));
    if (m->params == NULL || m->grads == NULL || m->acts == NULL || m->iacts == NULL)
        goto oom;
    /* Every step streams all of these (hundreds of MB): huge pages save the TLB misses. */
    agora_advise_huge(m->params, m->n_params * sizeof(float));
    agora_advise_huge(m->grads, m->n_params * sizeof(float));
    agora_advise_huge(m->acts, p.total * sizeof(float));
    memset(m->params, 0, m->n_params * sizeof(float));
    memset(m->grads, 0, m->n_params * sizeof(float));
    size_t N = p.N, L = p.L, D = (size_t)(cfg->dim / cfg->n_heads);
    m->nc_max = N * p.C;
    float *cur = m->acts;
    m->res = take(&cur, N * p.C * (L + 1));
    m->mid = take(&cur, N * p.C * L);
    m->ln1 = take(&cur, N * p.C * L);
    m->ln2 = take(&cur, N * p.C * L);
    m->rstd1 = take(&cur, N * L);
    m->rstd2 = take(&cur, N * L);
    m->q = take(&cur, N * p.HD * L);
    m->att = take(&cur, N * p.HD * L);
    m->kk = take(&cur, N * p.KVD * L);
    m->v = take(&cur, N * p.KVD * L);
    m->P = take(&cur, p.BHTT * L);
    m->g = take(&cur, N * p.F * L);
    m->u = take(&cur, N * p.F * L);
    m->hh = take(&cur, N * p.F * L);
    m->lnf = take(&cur, N * p.C);
    m->rstdf = take(&cur, N);
    m->logits = take(&cur, N * p.V);
    m->loss_rows = take(&cur, N);
    m->lse = take(&cur, N);
    m->zmax = take(&cur, N);
    m->dres = take(&cur, N * p.C);
    m->dln = take(&cur, N * p.C);
    m->dq = take(&cur, N * p.HD);
    m->datt = take(&cur, N * p.HD);
    m->dk = take(&cur, N * p.KVD);
    m->dv = take(&cur, N * p.KVD);
    m->dh = take(&cur, N * p.F);
    m->dg = take(&cur, N * p.F);
    m->du = take(&cur, N * p.F);
    m->attn_scratch = take(&cur, p.ATTS);
    m->cos_t = take(&cur, (size_t)cfg->max_seq * (D / 2));
    m->sin_t = take(&cur, (size_t)cfg->max_seq * (D / 2));
    AGORA_ASSERT(cur <= m->acts + p.total);
    m->tokens = m->iacts;
    m->targets = m->iacts + N;
    m->argmax = m->iacts + 2 * N;
    agora__rope_table(m->cos_t, m->sin_t, (size_t)cfg->max_seq, D, cfg->rope_theta);
    agora__blas_setup();
    *out = m;
    return AGORA_OK;
oom:
    agora_model_destroy(m);
    return AGORA_ENOMEM;
}

void agora_model_destroy(agora_model *m) {
    if (m == NULL)
        return;
#ifdef AGORA_TRAIN_PROF
    prof_print();
#endif
    agora_free(m->tensors);
    agora_free_aligned(m->params);
    agora_free_aligned(m->grads);
    agora_free_aligned(m->acts);
    agora_free(m->iacts);
    agora_free(m);
}

const agora_model_config *agora_model_get_config(const agora_model *m) {
    return &m->cfg;
}
size_t agora_model_n_params(const agora_model *m) {
    return m->n_params;
}
float *agora_model_params(agora_model *m) {
    return m->params;
}
const float *agora_model_params_ro(const agora_model *m) {
    return m->params;
}
float *agora_model_grads(agora_model *m) {
    return m->grads;
}
size_t agora_model_n_tensors(const agora_model *m) {
    return m->n_tensors;
}
const agora_model_param *agora_model_tensor(const agora_model *m, size_t i) {
    return i < m->n_tensors ? &m->tensors[i] : NULL;
}
const agora_model_param *agora_model_find(const agora_model *m, const char *name) {
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}
const float *agora_model_logits(const agora_model *m) {
    return m->logits;
}
void agora_model_use_ref(agora_model *m, bool use_ref) {
    m->k = use_ref ? &agora__kernels_ref : &agora__kernels_fast;
}
void agora_model_zero_grad(agora_model *m) {
    size_t n = m->n_params, per = (n + 63) / 64;
    AGORA_OMP("omp parallel for schedule(static) if (n > ((size_t)1 << 20))")
    for (int c = 0; c < 64; c++) {
        size_t lo = (size_t)c * per, hi = lo + per < n ? lo + per : n;
        if (lo < hi)
            memset(m->grads + lo, 0, (hi - lo) * sizeof(float));
    }
}

// ---- init ----

void agora_model_init(agora_model *m, uint64_t seed) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const agora_model_param *t = &m->tensors[i];
        float *w = m->params + t->offset;
        if (t->ndim == 1) {
            for (size_t j = 0; j < t->numel; j++)
                w[j] = 1.0f;
            continue;
        }
        double std = 0.02;
        int layer = -1;
        if ((strstr(t->name, "o_proj") || strstr(t->name, "down_proj")) &&
            sscanf(t->name, "model.layers.%d.", &layer) == 1)
            std = 0.02 / sqrt(2.0 * (layer + 1));
        agora_rng r;
        agora_rng_seed(&r, seed, AGORA_RNG_STREAM_INIT, (uint32_t)i);
        for (size_t j = 0; j < t->numel; j++) {
            double z;
            do
                z = agora_rng_normal(&r);
            while (z < -2.0 || z > 2.0);
            w[j] = (float)(z * std);
        }
    }
}

// ---- forward ----

static float *W(agora_model *m, size_t idx) {
    return m->params + m->tensors[idx].offset;
}
static float *G(agora_model *m, size_t idx) {
    return m->grads + m->tensors[idx].offset;
}
static size_t lt(int32_t l, int j) {
    return 1 + (size_t)l * T_PER_LAYER + (size_t)j;
}
static size_t head_idx(const agora_model *m) {
    return m->cfg.tie_embeddings ? 0 : 2 + (size_t)m->cfg.n_layers * T_PER_LAYER;
}
static size_t norm_idx(const agora_model *m) {
    return 1 + (size_t)m->cfg.n_layers * T_PER_LAYER;
}

agora_err agora_model_forward(agora_model *m, const int32_t *tokens, const int32_t *targets,
                              int32_t B, int32_t T, float z_loss_w, float *loss_out,
                              float *ce_out) {
    const agora_model_config *c = &m->cfg;
    if (B < 1 || T < 1 || B > m->max_batch || T > c->max_seq)
        return AGORA_EINVAL;
    size_t N = (size_t)B * (size_t)T, C = (size_t)c->dim, F = (size_t)c->ffn_dim;
    size_t H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads, D = C / H, V = (size_t)c->vocab_size;
    for (size_t i = 0; i < N; i++) {
        if (tokens[i] < 0 || (size_t)tokens[i] >= V)
            return AGORA_ERANGE;
        if (targets != NULL && targets[i] >= (int32_t)V)
            return AGORA_ERANGE;
    }
    const agora__kernels *k = m->k;
    float eps = (float)c->norm_eps;
    size_t NC = m->nc_max;
    size_t Nmax = (size_t)m->max_batch * (size_t)c->max_seq;
    size_t BHTTmax = (size_t)m->max_batch * H * (size_t)c->max_seq * (size_t)c->max_seq;
    const size_t qkv_m[3] = {H * D, KV * D, KV * D}, gu_m[2] = {F, F};
    memcpy(m->tokens, tokens, N * sizeof *tokens);
    m->B = B;
    m->T = T;
    PROF("embed_fwd", k->embed_fwd(m->res, W(m, 0), m->tokens, N, C));
    /* Each residual add is fused into the norm that reads its result, so the norm of layer
     * l's input is computed at the end of layer l-1 (or here, for layer 0). */
    PROF("rmsnorm_fwd", k->rmsnorm_fwd(m->ln1, m->rstd1, m->res, W(m, lt(0, T_LN1)), N, C, eps));
    for (int32_t l = 0; l < c->n_layers; l++) {
        size_t li = (size_t)l;
        float *x = m->res + li * NC, *mid = m->mid + li * NC, *xo = m->res + (li + 1) * NC;
        float *ln1 = m->ln1 + li * NC, *ln2 = m->ln2 + li * NC;
        float *q = m->q + li * Nmax * H * D, *att = m->att + li * Nmax * H * D;
        float *kk = m->kk + li * Nmax * KV * D, *v = m->v + li * Nmax * KV * D;
        float *g = m->g + li * Nmax * F, *u = m->u + li * Nmax * F, *hh = m->hh + li * Nmax * F;
        float *qkv_out[3] = {q, kk, v};
        const float *qkv_w[3] = {W(m, lt(l, T_Q)), W(m, lt(l, T_K)), W(m, lt(l, T_V))};
        PROF("mm_qkv_f", k->matmul_fwd_multi(qkv_out, ln1, qkv_w, qkv_m, 3, N, C));
        PROF("rope", k->rope_qk(q, kk, m->cos_t, m->sin_t, (size_t)B, (size_t)T, H, KV, D, 0));
        PROF("attn_fwd", k->attn_fwd(att, m->P + li * BHTTmax, m->attn_scratch, q, kk, v, (size_t)B,
                                     (size_t)T, H, KV, D));
        PROF("mm_o_f", k->matmul_fwd(mid, att, W(m, lt(l, T_O)), N, H * D, C));
        PROF("add_rmsnorm",
             k->add_rmsnorm_fwd(mid, ln2, m->rstd2 + li * Nmax, x, W(m, lt(l, T_LN2)), N, C, eps));
        float *gu_out[2] = {g, u};
        const float *gu_w[2] = {W(m, lt(l, T_GATE)), W(m, lt(l, T_UP))};
        PROF("mm_gu_f", k->matmul_fwd_multi(gu_out, ln2, gu_w, gu_m, 2, N, C));
        PROF("swiglu_fwd", k->swiglu_fwd(hh, g, u, N * F));
        PROF("mm_down_f", k->matmul_fwd(xo, hh, W(m, lt(l, T_DOWN)), N, F, C));
        if (l + 1 < c->n_layers)
            PROF("add_rmsnorm",
                 k->add_rmsnorm_fwd(xo, m->ln1 + (li + 1) * NC, m->rstd1 + (li + 1) * Nmax, mid,
                                    W(m, lt(l + 1, T_LN1)), N, C, eps));
        else
            PROF("add_rmsnorm",
                 k->add_rmsnorm_fwd(xo, m->lnf, m->rstdf, mid, W(m, norm_idx(m)), N, C, eps));
    }

    PROF("mm_head_f", k->matmul_fwd(m->logits, m->lnf, W(m, head_idx(m)), N, C, V));
    m->can_backward = false;
    if (targets == NULL)
        return AGORA_OK;
    memcpy(m->targets, targets, N * sizeof *targets);
    PROF("ce_fwd",
         k->ce_fwd(m->loss_rows, m->lse, m->zmax, m->argmax, m->logits, m->targets, N, V));
    double ce = 0, z2 = 0;
    size_t n_valid = 0;
    for (size_t i = 0; i < N; i++)
        if (m->targets[i] >= 0) {
            ce += m->loss_rows[i];
            z2 += (double)m->zmax[i] * m->zmax[i];
            n_valid++;
        }
    m->n_valid = n_valid;
    m->z_w = z_loss_w;
    m->can_backward = n_valid > 0;
    double mean_ce = n_valid ? ce / (double)n_valid : 0.0;
    double zl = n_valid ? z_loss_w * z2 / (double)n_valid : 0.0;
    if (loss_out != NULL)
        *loss_out = (float)(mean_ce + zl);
    if (ce_out != NULL)
        *ce_out = (float)mean_ce;
    return AGORA_OK;
}

// ---- backward ----

agora_err agora_model_backward(agora_model *m, float loss_scale) {
    if (!m->can_backward)
        return AGORA_ESTATE;
    m->can_backward = false;
    const agora_model_config *c = &m->cfg;
    const agora__kernels *k = m->k;
    size_t B = (size_t)m->B, T = (size_t)m->T, N = B * T, C = (size_t)c->dim;
    size_t F = (size_t)c->ffn_dim, H = (size_t)c->n_heads, KV = (size_t)c->n_kv_heads;
    size_t D = C / H, V = (size_t)c->vocab_size, NC = m->nc_max;
    size_t Nmax = (size_t)m->max_batch * (size_t)c->max_seq;
    size_t BHTTmax = (size_t)m->max_batch * H * (size_t)c->max_seq * (size_t)c->max_seq;
    const size_t qkv_m[3] = {H * D, KV * D, KV * D}, gu_m[2] = {F, F};
    float scale = loss_scale / (float)m->n_valid;
    PROF("ce_bwd",
         k->ce_bwd(m->logits, m->lse, m->zmax, m->argmax, m->targets, N, V, m->z_w, scale));
    PROF("mm_head_b", k->matmul_bwd(m->dln, G(m, head_idx(m)), m->logits, m->lnf, W(m, head_idx(m)),
                                    N, C, V, 0));
    memset(m->dres, 0, N * C * sizeof(float));
    float *xl = m->res + (size_t)c->n_layers * NC;
    PROF("rmsnorm_bwd",
         k->rmsnorm_bwd(m->dres, G(m, norm_idx(m)), m->dln, xl, W(m, norm_idx(m)), m->rstdf, N, C));
    for (int32_t l = c->n_layers - 1; l >= 0; l--) {
        size_t li = (size_t)l;
        float *x = m->res + li * NC, *mid = m->mid + li * NC;
        float *ln1 = m->ln1 + li * NC, *ln2 = m->ln2 + li * NC;
        float *q = m->q + li * Nmax * H * D, *att = m->att + li * Nmax * H * D;
        float *kk = m->kk + li * Nmax * KV * D, *v = m->v + li * Nmax * KV * D;
        float *g = m->g + li * Nmax * F, *u = m->u + li * Nmax * F, *hh = m->hh + li * Nmax * F;
        /* MLP: dres holds d(loss)/d(layer output) */
        PROF("mm_down_b", k->matmul_bwd(m->dh, G(m, lt(l, T_DOWN)), m->dres, hh,
                                        W(m, lt(l, T_DOWN)), N, F, C, 0));
        PROF("swiglu_bwd", k->swiglu_bwd(m->dg, m->du, m->dh, g, u, N * F));
        float *gu_dw[2] = {G(m, lt(l, T_GATE)), G(m, lt(l, T_UP))};
        const float *gu_dout[2] = {m->dg, m->du};
        const float *gu_w[2] = {W(m, lt(l, T_GATE)), W(m, lt(l, T_UP))};
        PROF("mm_gu_b", k->matmul_bwd_multi(m->dln, gu_dw, gu_dout, ln2, gu_w, gu_m, 2, N, C, 0));
        PROF("rmsnorm_bwd", k->rmsnorm_bwd(m->dres, G(m, lt(l, T_LN2)), m->dln, mid,
                                           W(m, lt(l, T_LN2)), m->rstd2 + li * Nmax, N, C));
        /* attention: dres now holds d(loss)/d(mid) */
        PROF("mm_o_b", k->matmul_bwd(m->datt, G(m, lt(l, T_O)), m->dres, att, W(m, lt(l, T_O)), N,
                                     H * D, C, 0));
        PROF("attn_bwd", k->attn_bwd(m->dq, m->dk, m->dv, m->attn_scratch, m->datt,
                                     m->P + li * BHTTmax, q, kk, v, B, T, H, KV, D));
        PROF("rope", k->rope_qk(m->dq, m->dk, m->cos_t, m->sin_t, B, T, H, KV, D, 1));
        float *qkv_dw[3] = {G(m, lt(l, T_Q)), G(m, lt(l, T_K)), G(m, lt(l, T_V))};
        const float *qkv_dout[3] = {m->dq, m->dk, m->dv};
        const float *qkv_w[3] = {W(m, lt(l, T_Q)), W(m, lt(l, T_K)), W(m, lt(l, T_V))};
        PROF("mm_qkv_b",
             k->matmul_bwd_multi(m->dln, qkv_dw, qkv_dout, ln1, qkv_w, qkv_m, 3, N, C, 0));
        PROF("rmsnorm_bwd", k->rmsnorm_bwd(m->dres, G(m, lt(l, T_LN1)), m->dln, x,
                                           W(m, lt(l, T_LN1)), m->rstd1 + li * Nmax, N, C));
    }
    PROF("embed_bwd", k->embed_bwd(G(m, 0), m->dres, m->tokens, N, C));
    return AGORA_OK;
}
