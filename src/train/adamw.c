/* adamw.c: AdamW with PyTorch's arithmetic, global-norm clipping, LR schedules, and
 * token sampling.
 *
 * The AdamW update follows torch.optim.AdamW (single-tensor path, torch 1.13) operation
 * by operation in float32, so one step from the same state gives the same parameters to
 * float rounding; tests/unit/test_train_torch.c checks that against PyTorch itself.
 */
#include <math.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/train.h"
#include "train/layers.h"

#ifdef AGORA_HAVE_OPENMP
#define AGORA_OMP(x) _Pragma(x)
#else
#define AGORA_OMP(x)
#endif

agora_err agora_adamw_init(agora_adamw *opt, size_t n) {
    memset(opt, 0, sizeof *opt);
    opt->m = agora_malloc_aligned(n * sizeof(float));
    opt->v = agora_malloc_aligned(n * sizeof(float));
    if (opt->m == NULL || opt->v == NULL) {
        agora_adamw_fini(opt);
        return AGORA_ENOMEM;
    }
    /* each step streams both: huge pages save the TLB misses (model.c does the same) */
    agora_advise_huge(opt->m, n * sizeof(float));
    agora_advise_huge(opt->v, n * sizeof(float));
    memset(opt->m, 0, n * sizeof(float));
    memset(opt->v, 0, n * sizeof(float));
    opt->n = n;
    return AGORA_OK;
}

void agora_adamw_fini(agora_adamw *opt) {
    agora_free_aligned(opt->m);
    agora_free_aligned(opt->v);
    memset(opt, 0, sizeof *opt);
}

/* Elements per parallel work item of the optimizer loops (fixed, so the work split and the
 * sums never depend on the thread count). */
#define OPT_CHUNK ((size_t)16384)

typedef struct adamw_k {
    float decay, b1, b2, one_m_b1, one_m_b2, step_size, bc2_sqrt, eps, gscale;
} adamw_k;

/* One chunk of the update, vectorized (target clones: AVX-512, AVX2, baseline; this file
 * is built with -fno-math-errno so sqrtf becomes one instruction). */
AGORA__VEC_CLONES static void adamw_chunk(float *restrict params, float *restrict m,
                                          float *restrict v, const float *restrict grads, size_t n,
                                          adamw_k k) {
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * k.gscale; /* exactly clip_grad_norm_'s in-place scaling */
        float p = params[i] * k.decay;
        float mi = m[i] * k.b1 + g * k.one_m_b1;
        float vi = v[i] * k.b2 + k.one_m_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / k.bc2_sqrt + k.eps;
        params[i] = p + (-k.step_size) * (mi / denom);
    }
}

void agora_adamw_step(agora_adamw *opt, float *params, const float *grads,
                      const agora_adamw_params *hp) {
    agora_adamw_step_scaled(opt, params, grads, 1.0f, hp);
}

void agora_adamw_step_scaled(agora_adamw *opt, float *params, const float *grads, float grad_scale,
                             const agora_adamw_params *hp) {
    opt->t++;
    /* torch computes these scalars in Python doubles, then each tensor op rounds to f32 */
    double bc1 = 1.0 - pow(hp->beta1, (double)opt->t);
    double bc2 = 1.0 - pow(hp->beta2, (double)opt->t);
    adamw_k k = {.decay = (float)(1.0 - hp->lr * hp->weight_decay),
                 .b1 = (float)hp->beta1,
                 .b2 = (float)hp->beta2,
                 .one_m_b1 = (float)(1.0 - hp->beta1),
                 .one_m_b2 = (float)(1.0 - hp->beta2),
                 .step_size = (float)(hp->lr / bc1),
                 .bc2_sqrt = (float)sqrt(bc2),
                 .eps = (float)hp->eps,
                 .gscale = grad_scale};
    size_t n = opt->n, nc = (n + OPT_CHUNK - 1) / OPT_CHUNK;
    float *m = opt->m, *v = opt->v;
    AGORA_OMP("omp parallel for schedule(static)")
    for (size_t c = 0; c < nc; c++) {
        size_t lo = c * OPT_CHUNK, len = n - lo < OPT_CHUNK ? n - lo : OPT_CHUNK;
        adamw_chunk(params + lo, m + lo, v + lo, grads + lo, len, k);
    }
}

/* sum of x[i]^2 in double, over 16 fixed lanes (vectorizes; the order is fixed) */
AGORA__VEC_CLONES static double sumsq(const float *x, size_t n) {
    double acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += (double)x[i + l] * x[i + l];
    double s = 0;
    for (; i < n; i++)
        s += (double)x[i] * x[i];
    for (int l = 0; l < 16; l++)
        s += acc[l];
    return s;
}

/* Sums 64 fixed chunks in parallel, then the chunk sums in order, so the result does not
 * depend on the thread count or on how OpenMP combines partial sums (bit-exact resume
 * needs that). */
double agora_grad_norm(const float *grads, size_t n) {
    enum { CHUNKS = 64 };
    double part[CHUNKS];
    size_t per = (n + CHUNKS - 1) / CHUNKS;
    AGORA_OMP("omp parallel for schedule(static)")
    for (int c = 0; c < CHUNKS; c++) {
        size_t lo = (size_t)c * per, hi = lo + per < n ? lo + per : n;
        part[c] = lo < hi ? sumsq(grads + lo, hi - lo) : 0.0;
    }
    double ss = 0;
    for (int c = 0; c < CHUNKS; c++)
        ss += part[c];
    return sqrt(ss);
}

float agora_grad_clip_scale(double norm, double max_norm) {
    if (max_norm <= 0)
        return 1.0f;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1.0 ? (float)coef : 1.0f;
}

double agora_grad_clip(float *grads, size_t n, double max_norm) {
    double norm = agora_grad_norm(grads, n);
    float c = agora_grad_clip_scale(norm, max_norm);
    if (c != 1.0f) {
        AGORA_OMP("omp parallel for schedule(static)")
        for (size_t i = 0; i < n; i++)
            grads[i] *= c;
    }
    return norm;
}

// ---- schedules ----

const char *const agora_lr_sched_names[] = {"cosine", "constant", "wsd-sqrt", NULL};

double agora_lr_at(const agora_lr_sched *s, int64_t step) {
    if (step < s->warmup)
        return s->lr * (double)(step + 1) / (double)s->warmup;
    switch (s->kind) {
    case AGORA_LR_CONSTANT:
        return s->lr;
    case AGORA_LR_COSINE: {
        int64_t span = s->total - s->warmup;
        double frac = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
        if (frac > 1.0)
            frac = 1.0;
        double lo = s->lr * s->min_ratio;
        return lo + 0.5 * (s->lr - lo) * (1.0 + cos(3.14159265358979323846 * frac));
    }
    case AGORA_LR_WSD_SQRT: {
        if (step < s->decay_start)
            return s->lr;
        int64_t span = s->total - s->decay_start;
        double frac = span > 0 ? (double)(step - s->decay_start) / (double)span : 1.0;
        double f = 1.0 - sqrt(frac);
        return s->lr * (f > 0.0 ? f : 0.0);
    }
    }
    return s->lr;
}

// ---- sampling ----

int32_t agora_sample_logits(const float *logits, int32_t V, double temperature, int32_t top_k,
                            double u, void *scratch) {
    int32_t best = 0;
    for (int32_t i = 1; i < V; i++)
        if (logits[i] > logits[best])
            best = i;
    if (temperature <= 0.0 || top_k == 1)
        return best;
    float *prob = scratch;
    int32_t *idx = (int32_t *)(prob + V);
    int32_t n = 0;
    if (top_k <= 0 || top_k >= V) {
        for (int32_t i = 0; i < V; i++)
            idx[n++] = i;
    } else {
        /* keep the top_k largest by insertion into a sorted list (k is small) */
        for (int32_t i = 0; i < V; i++) {
            if (n == top_k && logits[i] <= logits[idx[n - 1]])
                continue;
            int32_t j = n < top_k ? n++ : n - 1;
            while (j > 0 && logits[idx[j - 1]] < logits[i]) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = i;
        }
    }
    double sum = 0;
    for (int32_t j = 0; j < n; j++) {
        prob[j] = (float)exp(((double)logits[idx[j]] - logits[best]) / temperature);
        sum += prob[j];
    }
    double target = u * sum, acc = 0;
    for (int32_t j = 0; j < n; j++) {
        acc += prob[j];
        if (target < acc)
            return idx[j];
    }
    return idx[n - 1];
}
