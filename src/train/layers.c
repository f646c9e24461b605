/* layers.c: the fast training kernels.
 *
 * Implements: matmuls through cblas_sgemm and oneDNN's dnnl_sgemm, split over OpenMP threads
 * by output rows or columns (each library runs on the calling thread, so there is one pool),
 * several independent products per parallel region; attention over 64-row query blocks with our
 * own register-tiled products (small for OpenBLAS) and the causal softmax between them, one
 * task per (batch, KV group); element-wise kernels as OpenMP loops over rows
 * whose row functions are vectorized (our own exp, target clones for AVX-512/AVX2).
 * Does not: own memory (the model passes every buffer), or decide shapes.
 * Every kernel here has a twin in layers_ref.c with the same contract.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/time.h"
#include "agora/train.h"
#include "train/layers.h"

#ifdef AGORA_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#define AGORA_OMP(x) _Pragma(x)
#else
#define AGORA_OMP(x)
#endif
/* oneDNN decides its thread count through OpenMP; without our OpenMP it would start its own
 * pool beside ours, so it is used only with it. */
#if defined(AGORA_HAVE_DNNL) && defined(AGORA_HAVE_BLAS) && defined(AGORA_HAVE_OPENMP)
#define USE_DNNL 1
#include <oneapi/dnnl/dnnl.h>
#else
#define USE_DNNL 0
#endif
#include "agora/log.h"

int agora__num_threads(void) {
#ifdef AGORA_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- which library runs a product ----
 * On CPUs with AMX-BF16, every product runs on our own tile kernel (sgemm_amx.c: fp32 split
 * into three bf16 parts, fp32-accurate), 1.4-1.8x OpenBLAS's rate per core (docs/train.md,
 * "Stop 15"). Elsewhere, oneDNN's dnnl_sgemm ran the model's forward and input-gradient
 * products (first operand not transposed) 1.01-1.19x as fast as OpenBLAS 0.3.21 on this
 * project's AVX-512 machine, and 0.99-1.09x with both held to AVX2; the weight-gradient
 * products (first operand transposed) 0.72-1.04x, so those stay on OpenBLAS (docs/train.md,
 * "Stop 12"). The choice is static for a machine, so a resumed run takes the same path.
 * Written only before kernels run (agora_sgemm_select's contract), read by every product. */
enum { LIB_OPENBLAS, LIB_DNNL, LIB_AMX, LIB_AUTO };
static int g_lib = -1; /* resolved on first use */
static int g_lib_want = LIB_AUTO;
static int g_env_read;

static void sgemm_resolve(void) {
    int want = g_lib_want;
    if (want == LIB_AUTO)
        want = agora__amx_available() ? LIB_AMX : LIB_DNNL;
    if (want == LIB_AMX && !agora__amx_available())
        want = LIB_DNNL;
    if (want == LIB_DNNL && !USE_DNNL)
        want = LIB_OPENBLAS;
    g_lib = want;
}

static agora_err sgemm_parse(const char *name) {
    if (name == NULL)
        return AGORA_EINVAL;
    if (strcmp(name, "openblas") == 0)
        g_lib_want = LIB_OPENBLAS;
    else if (strcmp(name, "onednn") == 0)
        g_lib_want = LIB_DNNL;
    else if (strcmp(name, "amx") == 0)
        g_lib_want = LIB_AMX;
    else if (strcmp(name, "auto") == 0)
        g_lib_want = LIB_AUTO;
    else
        return AGORA_EINVAL;
    sgemm_resolve();
    return AGORA_OK;
}

agora_err agora_sgemm_select(const char *name) {
    g_env_read = 1; /* an explicit choice wins over AGORA_SGEMM */
    return sgemm_parse(name);
}

const char *agora_sgemm_name(void) {
#ifdef AGORA_HAVE_BLAS
    if (g_lib < 0)
        sgemm_resolve();
    return g_lib == LIB_AMX ? "amx-bf16x6" : g_lib == LIB_DNNL ? "onednn+openblas" : "openblas";
#else
    return "reference";
#endif
}

void agora__blas_setup(void) {
#if defined(AGORA_HAVE_BLAS) && defined(AGORA_HAVE_OPENMP)
    openblas_set_num_threads(1);
#endif
    if (g_env_read)
        return;
    g_env_read = 1;
    const char *e = getenv("AGORA_SGEMM");
    if (e != NULL && *e != '\0' && sgemm_parse(e) != AGORA_OK)
        AGORA_LOG_WARN(AGORA_SUB_TRAIN,
                       "AGORA_SGEMM=%s is not auto, amx, onednn or openblas; keeping %s", e,
                       agora_sgemm_name());
    if (g_lib < 0)
        sgemm_resolve();
}

// ---- vector helpers ----

/* Hot row kernels are AGORA__VEC_CLONES (layers.h): the same bits on every machine.
 * Reductions keep LANES fixed partial sums, which GCC vectorizes without reassociation
 * flags and which fix the summation order. */
#define VEC_CLONES AGORA__VEC_CLONES
#define LANES 16

/* exp(x) without a libm call, so loops over it vectorize: x = n ln2 + r with |r| <= ln2/2,
 * a degree-6 polynomial for e^r (Cephes expf, about 1 ulp), 2^n built in the exponent
 * bits. Returns 0 below -87 (where expf is subnormal) and saturates above 88.37. */
static inline float vexp(float x) {
    float xc = x < 88.3762626647949f ? x : 88.3762626647949f;
    xc = xc > -87.0f ? xc : -87.0f;
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return x > -87.0f ? p * two_n : 0.0f;
}

/* mx (LANES floats) <- lane by lane max(mx, z[c * LANES + l]) over chunks c < nc, as the
 * scalar x > m ? x : m. GCC does not vectorize that select on floats by itself (NaNs), so
 * with GCC or Clang it is spelled with vector extensions: only compares and selects, the
 * same bits at every width a clone lowers them to. */
#if defined(__GNUC__)
typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));
#define LANES_MAX(mx, z, nc)                                                                       \
    do {                                                                                           \
        vf16 m_;                                                                                   \
        memcpy(&m_, (mx), sizeof m_);                                                              \
        for (size_t c_ = 0; c_ < (nc); c_++) {                                                     \
            vf16 x_;                                                                               \
            memcpy(&x_, (z) + c_ * LANES, sizeof x_);                                              \
            vi16 gt_ = x_ > m_;                                                                    \
            m_ = (vf16)((gt_ & (vi16)x_) | (~gt_ & (vi16)m_));                                     \
        }                                                                                          \
        memcpy((mx), &m_, sizeof m_);                                                              \
    } while (0)
#else
#define LANES_MAX(mx, z, nc)                                                                       \
    for (size_t c_ = 0; c_ < (nc); c_++)                                                           \
        for (int l_ = 0; l_ < LANES; l_++)                                                         \
    (mx)[l_] = (z)[c_ * LANES + l_] > (mx)[l_] ? (z)[c_ * LANES + l_] : (mx)[l_]
#endif

static inline float lanes_sum(const float *acc) {
    float s = 0.0f;
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    return s;
}

/* sum over i < n of a[i] * b[i] */
VEC_CLONES static float dot_f(const float *a, const float *b, size_t n) {
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (; i < n; i++)
        s += a[i] * b[i];
    return s + lanes_sum(acc);
}

/* dS = P * (dP - dot) * scale over one row */
VEC_CLONES static void ds_row(float *dr, const float *pr, float dot, float scale, size_t n) {
    for (size_t j = 0; j < n; j++)
        dr[j] = pr[j] * (dr[j] - dot) * scale;
}

/* row (n) <- softmax(row), n >= 1. */
VEC_CLONES static void softmax_row(float *row, size_t n) {
    float mx[LANES];
    for (int l = 0; l < LANES; l++)
        mx[l] = -INFINITY;
    LANES_MAX(mx, row, n / LANES);
    size_t i = n / LANES * LANES;
    float m = -INFINITY;
    for (; i < n; i++)
        m = row[i] > m ? row[i] : m;
    for (int l = 0; l < LANES; l++)
        m = mx[l] > m ? mx[l] : m;
    float acc[LANES] = {0};
    i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = vexp(row[i + l] - m);
            row[i + l] = e;
            acc[l] += e;
        }
    float s = 0.0f;
    for (; i < n; i++) {
        row[i] = vexp(row[i] - m);
        s += row[i];
    }
    float inv = 1.0f / (s + lanes_sum(acc));
    for (i = 0; i < n; i++)
        row[i] *= inv;
}

// ---- GEMM split across threads ----

enum { NO_T = 0, YES_T = 1 };
/* Element counts below which a loop runs on one thread: waking the team costs more. */
#define SMALL ((size_t)1 << 16)

/* C (M,N) = alpha * A' (M,K) @ B' (K,N) + beta*C, with A' = A or A^T, B' = B or B^T,
 * row-major. */
void agora__sgemm_plain(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                        size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (size_t j = 0; j < N; j++)
            c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (size_t k = 0; k < K; k++) {
            float a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
            if (tb)
                for (size_t j = 0; j < N; j++)
                    c[j] += a * B[j * ldb + k];
            else
                for (size_t j = 0; j < N; j++)
                    c[j] += a * B[k * ldb + j];
        }
    }
}

/* agora__sgemm_plain's contract, on the library g_lib names (resolved by gemm_run before any
 * thread reads it). */
static void gemm1a(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                   size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (M == 0 || N == 0)
        return;
#ifdef AGORA_HAVE_BLAS
    if (g_lib == LIB_AMX) {
        agora__sgemm_amx(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#if USE_DNNL
    /* Inside our team oneDNN runs on the calling thread; outside it, only when OpenMP has
     * one thread (else it would wake a pool for a product we chose to keep serial). */
    if (g_lib == LIB_DNNL && !ta && (omp_in_parallel() || omp_get_max_threads() == 1) &&
        dnnl_sgemm('N', tb ? 'T' : 'N', (dnnl_dim_t)M, (dnnl_dim_t)N, (dnnl_dim_t)K, alpha, A,
                   (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb, beta, C, (dnnl_dim_t)ldc) == dnnl_success)
        return;
#endif
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#else
    agora__sgemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

static void gemm1(int ta, int tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    gemm1a(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* One sgemm, as gemm1's arguments. */
typedef struct gemm_op {
    int ta, tb;
    size_t M, N, K;
    const float *A;
    size_t lda;
    const float *B;
    size_t ldb;
    float beta;
    float *C;
    size_t ldc;
} gemm_op;

#ifdef AGORA_HAVE_OPENMP
/* Block t of nt of op: C split along its longer side (blocks a multiple of 16 wide). The
 * split depends only on C's shape, so ops writing the same C split it the same way. */
static void gemm_block(const gemm_op *g, int t, int nt) {
    int split_rows = g->M >= g->N;
    size_t len = split_rows ? g->M : g->N;
    size_t chunk = (len + (size_t)nt - 1) / (size_t)nt;
    chunk = (chunk + 15) / 16 * 16;
    size_t lo = (size_t)t * chunk, hi = lo + chunk < len ? lo + chunk : len;
    if (lo >= hi)
        return;
    if (split_rows) {
        const float *a = g->ta ? g->A + lo : g->A + lo * g->lda;
        gemm1(g->ta, g->tb, hi - lo, g->N, g->K, a, g->lda, g->B, g->ldb, g->beta,
              g->C + lo * g->ldc, g->ldc);
    } else {
        const float *b = g->tb ? g->B + lo * g->ldb : g->B + lo;
        gemm1(g->ta, g->tb, g->M, hi - lo, g->K, g->A, g->lda, b, g->ldb, g->beta, g->C + lo,
              g->ldc);
    }
}
#endif

/* Runs ops[0..n) in order inside one parallel region: each thread computes its block of every
 * op in turn, with no barrier between ops. Ops that write the same C (accumulating into it)
 * split it identically, so each thread only ever touches its own rows or columns of it; the
 * result is the same as running the ops one after another. Small batches run on one thread
 * (waking the team costs more than the work). */
#ifdef AGORA_GEMM_PROF
/* Per-thread time inside each product shape (per-thread block M x N x K and transposes),
 * compiled in only with -DAGORA_GEMM_PROF and printed at exit: the in-step rate of every
 * product class, and how evenly the two threads share it, which a flat profile cannot
 * tell (docs/train.md, stop 13). */
#include <stdio.h>
enum { GP_SHAPES = 64, GP_THREADS = 8 };
static struct {
    int ta, tb;
    size_t M, N, K;
    double ns[GP_THREADS], calls[GP_THREADS];
} gp_shape[GP_SHAPES];
static int gp_n;

static void gp_add(const gemm_op *g, int t, int nt, double ns) {
    int split_rows = g->M >= g->N;
    size_t M = split_rows ? (g->M + (size_t)nt - 1) / (size_t)nt : g->M;
    size_t N = split_rows ? g->N : (g->N + (size_t)nt - 1) / (size_t)nt;
    if (t >= GP_THREADS)
        return;
    AGORA_OMP("omp critical(agora_gemm_prof)") {
        int i = 0;
        while (i < gp_n && !(gp_shape[i].ta == g->ta && gp_shape[i].tb == g->tb &&
                             gp_shape[i].M == M && gp_shape[i].N == N && gp_shape[i].K == g->K))
            i++;
        if (i == gp_n && gp_n < GP_SHAPES) {
            gp_shape[i].ta = g->ta, gp_shape[i].tb = g->tb;
            gp_shape[i].M = M, gp_shape[i].N = N, gp_shape[i].K = g->K;
            gp_n++;
        }
        if (i < gp_n) {
            gp_shape[i].ns[t] += ns;
            gp_shape[i].calls[t] += 1;
        }
    }
}

__attribute__((destructor)) static void gp_print(void) {
    for (int i = 0; i < gp_n; i++) {
        fprintf(stderr, "gemm %c%c %5zu x %5zu x %5zu:", gp_shape[i].ta ? 'T' : 'N',
                gp_shape[i].tb ? 'T' : 'N', gp_shape[i].M, gp_shape[i].N, gp_shape[i].K);
        for (int t = 0; t < GP_THREADS; t++)
            if (gp_shape[i].calls[t] > 0)
                fprintf(stderr, "  t%d %8.1f ms %4.0f GFLOP/s", t, gp_shape[i].ns[t] / 1e6,
                        2.0 * (double)gp_shape[i].M * (double)gp_shape[i].N *
                            (double)gp_shape[i].K * gp_shape[i].calls[t] / gp_shape[i].ns[t]);
        fputc('\n', stderr);
    }
}
#endif

static void gemm_run(const gemm_op *ops, int n) {
    if (g_lib < 0) /* here, before the team starts: no thread writes it while others read */
        sgemm_resolve();
    double flops = 0;
    for (int i = 0; i < n; i++)
        flops += (double)ops[i].M * (double)ops[i].N * (double)ops[i].K;
    if (agora__num_threads() <= 1 || flops < 2e6) {
        for (int i = 0; i < n; i++)
            gemm1(ops[i].ta, ops[i].tb, ops[i].M, ops[i].N, ops[i].K, ops[i].A, ops[i].lda,
                  ops[i].B, ops[i].ldb, ops[i].beta, ops[i].C, ops[i].ldc);
        return;
    }
#ifdef AGORA_HAVE_OPENMP
    AGORA_OMP("omp parallel") {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int i = 0; i < n; i++) {
#ifdef AGORA_GEMM_PROF
            int64_t t0 = agora_now_ns();
#endif
            if (ops[i].M > 0 && ops[i].N > 0)
                gemm_block(&ops[i], t, nt);
#ifdef AGORA_GEMM_PROF
            gp_add(&ops[i], t, nt, (double)(agora_now_ns() - t0));
#endif
        }
    }
#endif
}

static void gemm_par(int ta, int tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                     const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    gemm_op g = {ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc};
    gemm_run(&g, 1);
}

static void matmul_fwd(float *out, const float *inp, const float *w, size_t N, size_t K, size_t M) {
    gemm_par(NO_T, YES_T, N, M, K, inp, K, w, K, 0.0f, out, M);
}

/* The weight-gradient products: dw_i (M_i,K) += dout_i^T @ inp */
static void bwd_dw_ops(gemm_op *ops, float *const *dw, const float *const *dout, const float *inp,
                       const size_t *M, int n, size_t N, size_t K) {
    for (int i = 0; i < n; i++)
        ops[i] = (gemm_op){YES_T, NO_T, M[i], K, N, dout[i], M[i], inp, K, 1.0f, dw[i], K};
}

static void matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                       size_t N, size_t K, size_t M, int accumulate) {
    gemm_op ops[2];
    int n = 0;
    if (dinp != NULL)
        ops[n++] = (gemm_op){NO_T, NO_T, N, K, M, dout, M, w, K, accumulate ? 1.0f : 0.0f, dinp, K};
    bwd_dw_ops(ops + n, &dw, &dout, inp, &M, 1, N, K);
    gemm_run(ops, n + 1);
}

static void matmul_fwd_multi(float *const *out, const float *inp, const float *const *w,
                             const size_t *M, int n, size_t N, size_t K) {
    gemm_op ops[AGORA__MULTI_MAX];
    AGORA_ASSERT(n >= 1 && n <= AGORA__MULTI_MAX);
    for (int i = 0; i < n; i++)
        ops[i] = (gemm_op){NO_T, YES_T, N, M[i], K, inp, K, w[i], K, 0.0f, out[i], M[i]};
    gemm_run(ops, n);
}

static void matmul_bwd_multi(float *dinp, float *const *dw, const float *const *dout,
                             const float *inp, const float *const *w, const size_t *M, int n,
                             size_t N, size_t K, int accumulate) {
    gemm_op ops[2 * AGORA__MULTI_MAX];
    AGORA_ASSERT(n >= 1 && n <= AGORA__MULTI_MAX);
    for (int i = 0; i < n; i++)
        ops[i] = (gemm_op){NO_T,    NO_T, N,    K, M[i],
                           dout[i], M[i], w[i], K, accumulate || i > 0 ? 1.0f : 0.0f,
                           dinp,    K};
    bwd_dw_ops(ops + n, dw, dout, inp, M, n, N, K);
    gemm_run(ops, 2 * n);
}

// ---- RMSNorm ----

/* o = x * r * w over one row */
VEC_CLONES static void rms_scale_row(float *o, const float *x, float r, const float *w, size_t C) {
    for (size_t c = 0; c < C; c++)
        o[c] = x[c] * r * w[c];
}

/* sum of w * dy * x over one row */
VEC_CLONES static float dot3(const float *w, const float *dy, const float *x, size_t C) {
    float acc[LANES] = {0};
    size_t c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += w[c + l] * dy[c + l] * x[c + l];
    float s = 0.0f;
    for (; c < C; c++)
        s += w[c] * dy[c] * x[c];
    return s + lanes_sum(acc);
}

/* d += r * w * dy - x * k and acc += dy * x * r over one row: dx and this row's share of dw
 * in one pass over dy and x */
VEC_CLONES static void rms_bwd_row(float *d, float *acc, const float *w, const float *dy,
                                   const float *x, float r, float k, size_t C) {
    for (size_t c = 0; c < C; c++) {
        d[c] += r * w[c] * dy[c] - x[c] * k;
        acc[c] += dy[c] * x[c] * r;
    }
}

static void rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, size_t N, size_t C,
                        float eps) {
    AGORA_OMP("omp parallel for schedule(static) if (N * C > SMALL)")
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float ss = dot_f(xr, xr, C);
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[n] = r;
        rms_scale_row(out + n * C, xr, r, w, C);
    }
}

/* s += a over one row; returns the sum of squares of the new s */
VEC_CLONES static float add_sumsq_row(float *s, const float *a, size_t C) {
    float acc[LANES] = {0};
    size_t c = 0;
    for (; c + LANES <= C; c += LANES)
        for (int l = 0; l < LANES; l++) {
            float x = s[c + l] + a[c + l];
            s[c + l] = x;
            acc[l] += x * x;
        }
    float ss = 0.0f;
    for (; c < C; c++) {
        s[c] += a[c];
        ss += s[c] * s[c];
    }
    return ss + lanes_sum(acc);
}

static void add_rmsnorm_fwd(float *s, float *out, float *rstd, const float *a, const float *w,
                            size_t N, size_t C, float eps) {
    AGORA_OMP("omp parallel for schedule(static) if (N * C > SMALL)")
    for (size_t n = 0; n < N; n++) {
        float ss = add_sumsq_row(s + n * C, a + n * C, C);
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[n] = r;
        rms_scale_row(out + n * C, s + n * C, r, w, C);
    }
}

/* Each thread walks its rows once, writing dx and summing its rows' dw terms into its own
 * C floats; the partial sums are then added into dw in thread order, by columns. */
static void rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *w,
                        const float *rstd, size_t N, size_t C) {
    int nt = N * C > SMALL ? agora__num_threads() : 1;
    float *part = agora_malloc_aligned((size_t)nt * C * sizeof(float));
    AGORA_ASSERT(part != NULL);
    AGORA_OMP("omp parallel num_threads(nt)") {
#ifdef AGORA_HAVE_OPENMP
        size_t t = (size_t)omp_get_thread_num(), n_t = (size_t)omp_get_num_threads();
#else
        size_t t = 0, n_t = 1;
#endif
        size_t per = (N + n_t - 1) / n_t, lo = t * per < N ? t * per : N;
        size_t hi = lo + per < N ? lo + per : N;
        float *acc = part + t * C;
        memset(acc, 0, C * sizeof *acc);
        for (size_t n = lo; n < hi; n++) {
            const float *xr = x + n * C, *dy = dout + n * C;
            float r = rstd[n];
            float k = r * r * r * dot3(w, dy, xr, C) / (float)C;
            rms_bwd_row(dx + n * C, acc, w, dy, xr, r, k, C);
        }
        AGORA_OMP("omp barrier")
        AGORA_OMP("omp for schedule(static)")
        for (size_t c = 0; c < C; c++) {
            float s = 0.0f;
            for (size_t i = 0; i < n_t; i++)
                s += part[i * C + c];
            dw[c] += s;
        }
    }
    agora_free_aligned(part);
}

// ---- RoPE ----

/* Rotates the nh heads (D) of one position in place by the angles of c, s (D/2). */
VEC_CLONES static void rope_row(float *x, const float *c, const float *s, float sgn, size_t nh,
                                size_t D) {
    size_t half = D / 2;
    for (size_t h = 0; h < nh; h++) {
        float *xv = x + h * D;
        for (size_t i = 0; i < half; i++) {
            float x1 = xv[i], x2 = xv[i + half], si = sgn * s[i];
            xv[i] = x1 * c[i] - x2 * si;
            xv[i + half] = x2 * c[i] + x1 * si;
        }
    }
}

static void rope(float *x, const float *cos_t, const float *sin_t, size_t B, size_t T, size_t nh,
                 size_t D, int inverse) {
    size_t half = D / 2;
    float sgn = inverse ? -1.0f : 1.0f;
    AGORA_OMP("omp parallel for schedule(static) if (B * T * nh * D > SMALL)")
    for (size_t bt = 0; bt < B * T; bt++) {
        size_t t = bt % T;
        rope_row(x + bt * nh * D, cos_t + t * half, sin_t + t * half, sgn, nh, D);
    }
}

/* rope on q (B,T,H,D) and k (B,T,KV,D) in one parallel region */
static void rope_qk(float *q, float *k, const float *cos_t, const float *sin_t, size_t B, size_t T,
                    size_t H, size_t KV, size_t D, int inverse) {
    size_t half = D / 2;
    float sgn = inverse ? -1.0f : 1.0f;
    AGORA_OMP("omp parallel for schedule(static) if (B * T * (H + KV) * D > SMALL)")
    for (size_t bt = 0; bt < B * T; bt++) {
        size_t t = bt % T;
        rope_row(q + bt * H * D, cos_t + t * half, sin_t + t * half, sgn, H, D);
        rope_row(k + bt * KV * D, cos_t + t * half, sin_t + t * half, sgn, KV, D);
    }
}

// ---- attention ----

/* Attention is built from one small product, C (M,N) = alpha * A (M,K) @ B (K,N), with A
 * read through strides (A(i,k) = A[i * ars + k * acs], so A^T costs nothing) and B
 * row-major. Its tiles keep up to MR x NR sums in registers (24 zmm on AVX-512); OpenBLAS
 * does worse at these sizes (K = 64, a few hundred rows), mostly packing. Every C element is
 * one fmaf chain over k = 0, 1, ..., then times alpha; with cont the chain starts from C
 * instead of 0 (alpha must be 1), so a product split along k into pieces run in order, or
 * one added into C, gives the same bits as one long chain. Tile shapes never change the
 * bits, and fmaf is exact in every clone. */
#define MR 6
#define NR 64
/* k rows of B per pass of mm_pv: 64 rows of 64 floats stay in L1 while every strip reads
 * them */
#define KC 64
#define ATT_BLOCK AGORA__ATT_BLOCK

/* fmaf is one instruction in the AVX2 and AVX-512 clones, on ARM and with -march builds,
 * but a libm call per element where x86 code has no clones and no FMA (Clang, TSan builds):
 * there the tiles use a * b + c instead (last-bit differences from the other builds). */
#if defined(__x86_64__) && !defined(__FMA__) &&                                                    \
    !(defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__))
#define MM_FMA(a, b, c) ((a) * (b) + (c))
#else
#define MM_FMA(a, b, c) fmaf((a), (b), (c))
#endif

#define MM_TILE(NAME, ROWS, COLS)                                                                  \
    VEC_CLONES static void NAME(float *C, size_t ldc, const float *A, size_t ars, size_t acs,      \
                                const float *B, size_t ldb, size_t K, float alpha, int cont) {     \
        float s[ROWS][COLS];                                                                       \
        for (int r = 0; r < (ROWS); r++)                                                           \
            for (int c = 0; c < (COLS); c++)                                                       \
                s[r][c] = cont ? C[(size_t)r * ldc + (size_t)c] : 0.0f;                            \
        for (size_t k = 0; k < K; k++) {                                                           \
            const float *b = B + k * ldb;                                                          \
            for (int r = 0; r < (ROWS); r++) {                                                     \
                float a = A[(size_t)r * ars + k * acs];                                            \
                for (int c = 0; c < (COLS); c++)                                                   \
                    s[r][c] = MM_FMA(a, b[c], s[r][c]);                                            \
            }                                                                                      \
        }                                                                                          \
        for (int r = 0; r < (ROWS); r++)                                                           \
            for (int c = 0; c < (COLS); c++)                                                       \
                C[(size_t)r * ldc + (size_t)c] = s[r][c] * alpha;                                  \
    }
MM_TILE(tile_6x64, 6, NR)
MM_TILE(tile_4x64, 4, NR)
MM_TILE(tile_6x32, 6, 32)
MM_TILE(tile_4x32, 4, 32)
MM_TILE(tile_4x16, 4, 16)
MM_TILE(tile_1x64, 1, NR)
MM_TILE(tile_1x16, 1, 16)
MM_TILE(tile_1x1, 1, 1)

typedef void (*mm_tile_fn)(float *C, size_t ldc, const float *A, size_t ars, size_t acs,
                           const float *B, size_t ldb, size_t K, float alpha, int cont);

static void mm_strip(float *C, size_t ldc, const float *A, size_t ars, size_t acs, const float *B,
                     size_t ldb, size_t m, size_t N, size_t K, float alpha, int cont);

/* The first 6 (or 4, when m < 6) rows of a strip in tiles w columns wide (t6 or t4), the
 * columns left over by a narrower strip; returns the rows done. */
static size_t mm_wide(float *C, size_t ldc, const float *A, size_t ars, size_t acs, const float *B,
                      size_t ldb, size_t m, size_t N, size_t K, float alpha, int cont, size_t w,
                      mm_tile_fn t6, mm_tile_fn t4) {
    size_t rn = m >= 6 ? 6 : 4, j = 0;
    for (; j + w <= N; j += w)
        (rn == 6 ? t6 : t4)(C + j, ldc, A, ars, acs, B + j, ldb, K, alpha, cont);
    if (j < N)
        mm_strip(C + j, ldc, A, ars, acs, B + j, ldb, rn, N - j, K, alpha, cont);
    return rn;
}

/* Rows [0, m) (m <= MR) of C (m,N) (+)= alpha * A (m,K) @ B (K,N), as above. */
static void mm_strip(float *C, size_t ldc, const float *A, size_t ars, size_t acs, const float *B,
                     size_t ldb, size_t m, size_t N, size_t K, float alpha, int cont) {
    size_t r = 0;
    if (N >= NR && m >= 4) {
        r = mm_wide(C, ldc, A, ars, acs, B, ldb, m, N, K, alpha, cont, NR, tile_6x64, tile_4x64);
    } else if (N >= 32 && m >= 4) { /* head dim 32 (the tiny preset) */
        r = mm_wide(C, ldc, A, ars, acs, B, ldb, m, N, K, alpha, cont, 32, tile_6x32, tile_4x32);
    } else if (N >= 16 && m >= 4) {
        size_t j = 0;
        for (; j + 16 <= N; j += 16)
            tile_4x16(C + j, ldc, A, ars, acs, B + j, ldb, K, alpha, cont);
        if (j < N)
            mm_strip(C + j, ldc, A, ars, acs, B + j, ldb, 4, N - j, K, alpha, cont);
        r = 4;
    }
    for (; r < m; r++) {
        const float *a = A + r * ars;
        float *c = C + r * ldc;
        size_t j = 0;
        for (; j + NR <= N; j += NR)
            tile_1x64(c + j, ldc, a, ars, acs, B + j, ldb, K, alpha, cont);
        for (; j + 16 <= N; j += 16)
            tile_1x16(c + j, ldc, a, ars, acs, B + j, ldb, K, alpha, cont);
        for (; j < N; j++)
            tile_1x1(c + j, ldc, a, ars, acs, B + j, ldb, K, alpha, cont);
    }
}

/* C (M,N) (+)= alpha * A (M,K) @ B (K,N), as above, one NR-column slice of B at a time (it
 * stays in L1 while every strip of rows reads it). */
static void mm(float *C, size_t ldc, const float *A, size_t ars, size_t acs, const float *B,
               size_t ldb, size_t M, size_t N, size_t K, float alpha, int cont) {
    for (size_t j = 0; j < N; j += NR) {
        size_t n = N - j < NR ? N - j : NR;
        for (size_t i = 0; i < M; i += MR)
            mm_strip(C + i * ldc + j, ldc, A + i * ars, ars, acs, B + j, ldb,
                     M - i < MR ? M - i : MR, n, K, alpha, cont);
    }
}

/* dst (cols, rows) = src (rows, cols)^T; rows at lds and ldd */
static void transpose(float *dst, size_t ldd, const float *src, size_t lds, size_t rows,
                      size_t cols) {
    for (size_t r0 = 0; r0 < rows; r0 += 16) {
        size_t r1 = r0 + 16 < rows ? r0 + 16 : rows;
        for (size_t c = 0; c < cols; c++)
            for (size_t r = r0; r < r1; r++)
                dst[c * ldd + r] = src[r * lds + c];
    }
}

/* dst (rows, cols) packed = src (rows, cols) with rows at lds */
static void copy_rows(float *dst, const float *src, size_t lds, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++)
        memcpy(dst + r * cols, src + r * lds, cols * sizeof *dst);
}

/* The causal products over one block of query rows [i0, i1) (rows = i1 - i0, block-relative
 * row r is query i0 + r):
 *
 * mm_qkt: C (rows, i1) = alpha * A (rows, D) @ Bt (D, i1), the whole width (the part above
 *   the diagonal is cheaper to compute than to cut around at 64-wide tiles);
 * mm_pv:  C (rows, N) = A (rows, i1) @ B (i1, N), A zero above the diagonal, which each
 *   MR-row strip skips;
 * mm_ptx: C (i1, N) += A (rows, i1)^T @ X (rows, N), A zero above the diagonal: key row j
 *   sums over the queries i >= j only. */
static void mm_qkt(float *C, size_t ldc, const float *A, size_t lda, const float *Bt, size_t ldb,
                   size_t i1, size_t rows, size_t D, float alpha) {
    mm(C, ldc, A, lda, 1, Bt, ldb, rows, i1, D, alpha, 0);
}

static void mm_pv(float *C, size_t ldc, const float *A, size_t lda, const float *B, size_t ldb,
                  size_t i0, size_t rows, size_t N) {
    for (size_t k0 = 0; k0 < i0 + rows; k0 += KC)
        for (size_t r = 0; r < rows; r += MR) {
            size_t m = rows - r < MR ? rows - r : MR, kend = i0 + r + m;
            if (k0 >= kend)
                continue;
            size_t kn = kend - k0 < KC ? kend - k0 : KC;
            mm(C + r * ldc, ldc, A + r * lda + k0, lda, 1, B + k0 * ldb, ldb, m, N, kn, 1.0f,
               k0 > 0);
        }
}

static void mm_ptx(float *C, size_t ldc, const float *A, size_t lda, const float *X, size_t ldx,
                   size_t i0, size_t rows, size_t N) {
    size_t i1 = i0 + rows;
    /* keys before the block see every row of it */
    mm(C, ldc, A, 1, lda, X, ldx, i0, N, rows, 1.0f, 1);
    for (size_t j = i0; j < i1; j += MR) {
        size_t m = i1 - j < MR ? i1 - j : MR, k0 = j - i0;
        mm(C + j * ldc, ldc, A + k0 * lda + j, 1, lda, X + k0 * ldx, ldx, m, N, rows - k0, 1.0f, 1);
    }
}

/* One task per (batch, KV group): its rep query heads share one transposed K (D, T) and one
 * packed V in the task's scratch (rows padded or packed: power-of-two strides would thrash
 * L1 sets), and each 64-row block of queries goes S = Q K^T / sqrt(D), softmax, O = P V.
 * P is written only where attn_bwd reads it (layers.h). */
static void attn_fwd(float *out, float *P, float *scratch, const float *q, const float *k,
                     const float *v, size_t B, size_t T, size_t H, size_t KV, size_t D) {
    float scale = 1.0f / sqrtf((float)D);
    size_t rep = H / KV, ld = H * D, ldk = KV * D, ldt = T + 16;
    AGORA_OMP("omp parallel for schedule(dynamic, 1) if (B * H * T * T * D > SMALL * 8)")
    for (size_t bg = 0; bg < B * KV; bg++) {
        size_t b = bg / KV, g = bg % KV, koff = (b * T * KV + g) * D;
        float *kt = scratch + bg * AGORA__ATT_SCRATCH_TASK(T, D), *vp = kt + D * ldt;
        float *qp = vp + T * D;
        transpose(kt, ldt, k + koff, ldk, T, D);
        copy_rows(vp, v + koff, ldk, T, D);
        for (size_t h = g * rep; h < (g + 1) * rep; h++) {
            size_t qoff = (b * T * H + h) * D;
            float *p = P + (b * H + h) * T * T;
            for (size_t i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                size_t i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, rows = i1 - i0;
                float *pb = p + i0 * T;
                copy_rows(qp, q + qoff + i0 * ld, ld, rows, D);
                mm_qkt(pb, T, qp, D, kt, ldt, i1, rows, D, scale);
                /* masked softmax over whole 16-wide chunks: scalar tails cost more */
                for (size_t i = i0; i < i1; i++) {
                    float *row = p + i * T;
                    size_t n = (i + 16) / 16 * 16 < i1 ? (i + 16) / 16 * 16 : i1;
                    for (size_t j = i + 1; j < n; j++)
                        row[j] = -INFINITY;
                    softmax_row(row, n);
                    memset(row + n, 0, (i1 - n) * sizeof *row);
                }
                mm_pv(out + qoff + i0 * ld, ld, pb, T, vp, D, i0, rows, D);
            }
        }
    }
}

/* One task per (batch, KV group): its query heads run one after another and accumulate
 * straight into the group's dK and dV, so no per-head copies and no summing pass. The task's
 * scratch holds V^T (D, T), one block of dP (ATT_BLOCK x T) and packed copies of the
 * block's dO and Q rows. */
static void attn_bwd(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                     const float *P, const float *q, const float *k, const float *v, size_t B,
                     size_t T, size_t H, size_t KV, size_t D) {
    float scale = 1.0f / sqrtf((float)D);
    size_t rep = H / KV, ld = H * D, ldk = KV * D, ldt = T + 16;
    AGORA_OMP("omp parallel for schedule(dynamic, 1) if (B * H * T * T * D > SMALL * 8)")
    for (size_t bg = 0; bg < B * KV; bg++) {
        size_t b = bg / KV, g = bg % KV, koff = (b * T * KV + g) * D;
        float *vt = scratch + bg * AGORA__ATT_SCRATCH_TASK(T, D);
        float *dp = vt + D * ldt; /* rows [i0, i1) of dP / dS */
        float *dop = dp + ATT_BLOCK * ldt, *qp = dop + ATT_BLOCK * D, *kp = qp + ATT_BLOCK * D;
        transpose(vt, ldt, v + koff, ldk, T, D);
        copy_rows(kp, k + koff, ldk, T, D);
        for (size_t i = 0; i < T; i++) {
            memset(dk + koff + i * ldk, 0, D * sizeof *dk);
            memset(dv + koff + i * ldk, 0, D * sizeof *dv);
        }
        for (size_t h = g * rep; h < (g + 1) * rep; h++) {
            size_t qoff = (b * T * H + h) * D;
            const float *p = P + (b * H + h) * T * T;
            for (size_t i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                size_t i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T, rows = i1 - i0;
                const float *pb = p + i0 * T;
                copy_rows(dop, dout + qoff + i0 * ld, ld, rows, D);
                copy_rows(qp, q + qoff + i0 * ld, ld, rows, D);
                /* dP = dO V^T and dV[0:i1] += P^T dO, over keys [0, i1) */
                mm_qkt(dp, ldt, dop, D, vt, ldt, i1, rows, D, 1.0f);
                mm_ptx(dv + koff, ldk, pb, T, dop, D, i0, rows, D);
                /* dS = P * (dP - rowsum(dP * P)) * scale, zero above the diagonal; whole
                 * 16-wide chunks, where P's zeros above the diagonal zero dS */
                for (size_t i = i0; i < i1; i++) {
                    const float *pr = p + i * T;
                    float *dr = dp + (i - i0) * ldt;
                    size_t n = (i + 16) / 16 * 16 < i1 ? (i + 16) / 16 * 16 : i1;
                    float dot = dot_f(dr, pr, n);
                    ds_row(dr, pr, dot, scale, n);
                    memset(dr + n, 0, (i1 - n) * sizeof *dr);
                }
                /* dQ[i0:i1] = dS K[0:i1]; dK[0:i1] += dS^T Q[i0:i1] */
                mm_pv(dq + qoff + i0 * ld, ld, dp, ldt, kp, D, i0, rows, D);
                mm_ptx(dk + koff, ldk, dp, ldt, qp, D, i0, rows, D);
            }
        }
    }
}

// ---- SwiGLU ----

/* Chunk of elements per call of the row kernels below (a multiple of LANES). */
#define CHUNK ((size_t)4096)

VEC_CLONES static void swiglu_fwd_chunk(float *h, const float *g, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = g[i];
        h[i] = x / (1.0f + vexp(-x)) * u[i];
    }
}

VEC_CLONES static void swiglu_bwd_chunk(float *dg, float *du, const float *dh, const float *g,
                                        const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = g[i], s = 1.0f / (1.0f + vexp(-x));
        dg[i] = dh[i] * u[i] * s * (1.0f + x * (1.0f - s));
        du[i] = dh[i] * x * s;
    }
}

static void swiglu_fwd(float *h, const float *g, const float *u, size_t n) {
    size_t nc = (n + CHUNK - 1) / CHUNK;
    AGORA_OMP("omp parallel for schedule(static) if (n > SMALL)")
    for (size_t c = 0; c < nc; c++) {
        size_t lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
        swiglu_fwd_chunk(h + lo, g + lo, u + lo, len);
    }
}

static void swiglu_bwd(float *dg, float *du, const float *dh, const float *g, const float *u,
                       size_t n) {
    size_t nc = (n + CHUNK - 1) / CHUNK;
    AGORA_OMP("omp parallel for schedule(static) if (n > SMALL)")
    for (size_t c = 0; c < nc; c++) {
        size_t lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
        swiglu_bwd_chunk(dg + lo, du + lo, dh + lo, g + lo, u + lo, len);
    }
}

// ---- fused softmax cross-entropy with max-z-loss ----

/* Max of z (V) and the first index holding it, the same as a scalar scan from z[0] (which
 * only a NaN in z[0] poisons): a per-lane maximum, then a search for the first element equal
 * to it, 16 at a time. Both loops vectorize; tracking indices per lane did not. */
VEC_CLONES static float max_argmax(const float *z, size_t V, size_t *am_out) {
    float mx[LANES];
    for (int l = 0; l < LANES; l++)
        mx[l] = -INFINITY;
    LANES_MAX(mx, z, V / LANES);
    size_t i = V / LANES * LANES;
    float m = z[0];
    for (int l = 0; l < LANES; l++)
        m = mx[l] > m ? mx[l] : m;
    for (; i < V; i++)
        m = z[i] > m ? z[i] : m;
    for (i = 0; i + LANES <= V; i += LANES) {
        int hit = 0;
        for (int l = 0; l < LANES; l++)
            hit |= z[i + l] == m;
        if (hit)
            break;
    }
    size_t am = 0; /* no match: m is a NaN from z[0] */
    for (; i < V; i++)
        if (z[i] == m) {
            am = i;
            break;
        }
    *am_out = am;
    return z[am];
}

/* sum over i < n of exp(z[i] - m) */
VEC_CLONES static float sum_exp(const float *z, float m, size_t n) {
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += vexp(z[i + l] - m);
    float s = 0.0f;
    for (; i < n; i++)
        s += vexp(z[i] - m);
    return s + lanes_sum(acc);
}

/* z <- exp(z - l) * scale */
VEC_CLONES static void exp_scale(float *z, float l, float scale, size_t n) {
    for (size_t i = 0; i < n; i++)
        z[i] = vexp(z[i] - l) * scale;
}

static void ce_fwd(float *loss_rows, float *lse, float *zmax, int32_t *argmax, const float *logits,
                   const int32_t *targets, size_t N, size_t V) {
    AGORA_OMP("omp parallel for schedule(static) if (N * V > SMALL)")
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * V;
        size_t am;
        float mx = max_argmax(z, V, &am);
        float l = mx + logf(sum_exp(z, mx, V));
        lse[n] = l;
        zmax[n] = mx;
        argmax[n] = (int32_t)am;
        loss_rows[n] = targets[n] >= 0 ? l - z[targets[n]] : 0.0f;
    }
}

static void ce_bwd(float *logits, const float *lse, const float *zmax, const int32_t *argmax,
                   const int32_t *targets, size_t N, size_t V, float z_w, float scale) {
    AGORA_OMP("omp parallel for schedule(static) if (N * V > SMALL)")
    for (size_t n = 0; n < N; n++) {
        float *z = logits + n * V;
        if (targets[n] < 0) {
            memset(z, 0, V * sizeof *z);
            continue;
        }
        exp_scale(z, lse[n], scale, V);
        z[targets[n]] -= scale;
        z[argmax[n]] += 2.0f * z_w * zmax[n] * scale;
    }
}

// ---- embedding, residual ----

static void embed_fwd(float *out, const float *emb, const int32_t *tokens, size_t N, size_t C) {
    AGORA_OMP("omp parallel for schedule(static) if (N * C > SMALL)")
    for (size_t n = 0; n < N; n++)
        memcpy(out + n * C, emb + (size_t)tokens[n] * C, C * sizeof *out);
}

/* Columns are split across threads so repeated tokens never race. */
static void embed_bwd(float *demb, const float *dout, const int32_t *tokens, size_t N, size_t C) {
    AGORA_OMP("omp parallel for schedule(static) if (N * C > SMALL)")
    for (size_t c0 = 0; c0 < C; c0 += 64) {
        size_t c1 = c0 + 64 < C ? c0 + 64 : C;
        for (size_t n = 0; n < N; n++) {
            float *d = demb + (size_t)tokens[n] * C;
            const float *s = dout + n * C;
            for (size_t c = c0; c < c1; c++)
                d[c] += s[c];
        }
    }
}

static void add(float *out, const float *a, const float *b, size_t n) {
    AGORA_OMP("omp parallel for schedule(static) if (n > SMALL)")
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

const agora__kernels agora__kernels_fast = {
    .matmul_fwd = matmul_fwd,
    .matmul_bwd = matmul_bwd,
    .matmul_fwd_multi = matmul_fwd_multi,
    .matmul_bwd_multi = matmul_bwd_multi,
    .rmsnorm_fwd = rmsnorm_fwd,
    .add_rmsnorm_fwd = add_rmsnorm_fwd,
    .rmsnorm_bwd = rmsnorm_bwd,
    .rope = rope,
    .rope_qk = rope_qk,
    .attn_fwd = attn_fwd,
    .attn_bwd = attn_bwd,
    .swiglu_fwd = swiglu_fwd,
    .swiglu_bwd = swiglu_bwd,
    .ce_fwd = ce_fwd,
    .ce_bwd = ce_bwd,
    .embed_fwd = embed_fwd,
    .embed_bwd = embed_bwd,
    .add = add,
};

// ---- peak measurement ----

double agora_sgemm_peak_gflops(int32_t n, int32_t reps) {
    size_t N = (size_t)n;
    float *a = agora_malloc_aligned(N * N * sizeof(float));
    float *b = agora_malloc_aligned(N * N * sizeof(float));
    float *c = agora_malloc_aligned(N * N * sizeof(float));
    double best = 0;
    if (a != NULL && b != NULL && c != NULL) {
        for (size_t i = 0; i < N * N; i++) {
            a[i] = (float)(i % 7) * 0.1f;
            b[i] = (float)(i % 5) * 0.1f;
        }
        agora__blas_setup();
        for (int32_t r = 0; r <= reps; r++) {
            int64_t t0 = agora_now_ns();
            gemm_par(NO_T, YES_T, N, N, N, a, N, b, N, 0.0f, c, N);
            double s = (double)(agora_now_ns() - t0) / 1e9;
            double g = 2.0 * (double)N * (double)N * (double)N / s / 1e9;
            if (r > 0 && g > best) /* the first run warms up */
                best = g;
        }
    }
    agora_free_aligned(a);
    agora_free_aligned(b);
    agora_free_aligned(c);
    return best;
}
