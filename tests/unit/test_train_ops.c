/* test_train_ops.c: every training kernel, checked two ways.
 *
 * 1. Finite differences hold each _ref backward to the math: for a scalar
 *    L = sum_i r_i * y_i with fixed random r, dL/dx from the backward kernel must match
 *    (L(x+h) - L(x-h)) / 2h at the coordinates with the largest gradients.
 * 2. The fast kernel (layers.c) must match its _ref twin on the same inputs.
 */
#include "agora_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agora/train.h"
#include "train/layers.h"

static float *randn(size_t n, uint64_t seed, float scale) {
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    agora_test_fill_normal(x, n, seed);
    for (size_t i = 0; i < n; i++)
        x[i] *= scale;
    return x;
}

static float *zeros(size_t n) {
    float *x = calloc(n, sizeof *x);
    assert_non_null(x);
    return x;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The loss as a function of the buffer being perturbed. */
typedef double (*loss_fn)(void *ctx);

/* Checks grad against central differences of f at the k coordinates of x with the largest
 * |grad|, plus k spread evenly. */
static void check_fd(loss_fn f, void *ctx, float *x, const float *grad, size_t n, float h,
                     double rtol, double atol, const char *what) {
    enum { K = 6 };
    size_t idx[2 * K];
    size_t m = 0;
    for (int r = 0; r < K && r < (int)n; r++) {
        size_t best = 0;
        double bv = -1;
        for (size_t i = 0; i < n; i++) {
            bool used = false;
            for (size_t j = 0; j < m; j++)
                used |= idx[j] == i;
            if (!used && fabs(grad[i]) > bv) {
                bv = fabs(grad[i]);
                best = i;
            }
        }
        idx[m++] = best;
    }
    for (int r = 0; r < K; r++)
        idx[m++] = (size_t)r * n / K;
    for (size_t j = 0; j < m; j++) {
        size_t i = idx[j];
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        double fd = (lp - lm) / (2.0 * (double)h);
        double err = fabs(fd - grad[i]);
        if (err > atol + rtol * fabs(fd)) {
            print_error("%s[%zu]: analytic %.8g, finite difference %.8g\n", what, i,
                        (double)grad[i], fd);
            fail();
        }
    }
}

// ---- matmul ----

typedef struct {
    float *x, *w, *y, *r;
    size_t N, K, M;
} mm_ctx;

static double mm_loss(void *p) {
    mm_ctx *c = p;
    agora__matmul_fwd_ref(c->y, c->x, c->w, c->N, c->K, c->M);
    return dot(c->y, c->r, c->N * c->M);
}

static void train_ops_matmul_grad_matches_finite_difference(void **state) {
    (void)state;
    mm_ctx c = {.N = 7, .K = 13, .M = 5};
    c.x = randn(c.N * c.K, 1, 1);
    c.w = randn(c.M * c.K, 2, 1);
    c.r = randn(c.N * c.M, 3, 1);
    c.y = zeros(c.N * c.M);
    float *dx = zeros(c.N * c.K), *dw = zeros(c.M * c.K);
    agora__matmul_bwd_ref(dx, dw, c.r, c.x, c.w, c.N, c.K, c.M, 0);
    check_fd(mm_loss, &c, c.x, dx, c.N * c.K, 1e-2f, 1e-3, 1e-4, "dx");
    check_fd(mm_loss, &c, c.w, dw, c.M * c.K, 1e-2f, 1e-3, 1e-4, "dw");
    free(c.x), free(c.w), free(c.r), free(c.y), free(dx), free(dw);
}

/* The products run under every library choice (agora_sgemm_select): "amx" is our AMX tile
 * kernel where the CPU has it (else "onednn"); "onednn" sends the forward and input-gradient
 * products through dnnl_sgemm where it is built in; "auto" is the first of those available. */
static const char *const k_sgemm[] = {"auto", "amx", "onednn", "openblas"};

static void matmul_fast_matches_ref(void) {
    size_t N = 300, K = 96, M = 200;
    float *x = randn(N * K, 1, 1), *w = randn(M * K, 2, 1), *dy = randn(N * M, 3, 1);
    float *y0 = zeros(N * M), *y1 = zeros(N * M);
    agora__matmul_fwd_ref(y0, x, w, N, K, M);
    agora__kernels_fast.matmul_fwd(y1, x, w, N, K, M);
    agora_assert_tensor_near(y1, y0, N * M, 1e-4, 1e-4);
    float *dx0 = randn(N * K, 4, 1), *dx1 = malloc(N * K * sizeof *dx1);
    float *dw0 = randn(M * K, 5, 1), *dw1 = malloc(M * K * sizeof *dw1);
    memcpy(dx1, dx0, N * K * sizeof *dx1);
    memcpy(dw1, dw0, M * K * sizeof *dw1);
    agora__matmul_bwd_ref(dx0, dw0, dy, x, w, N, K, M, 1); /* both accumulate */
    agora__kernels_fast.matmul_bwd(dx1, dw1, dy, x, w, N, K, M, 1);
    agora_assert_tensor_near(dx1, dx0, N * K, 1e-3, 1e-4);
    agora_assert_tensor_near(dw1, dw0, M * K, 1e-3, 1e-4);
    free(x), free(w), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(dw0), free(dw1);
}

/* Runs check once under each library choice, then restores the default. */
static void under_each_sgemm(void (*check)(void)) {
    for (size_t i = 0; i < sizeof k_sgemm / sizeof k_sgemm[0]; i++) {
        assert_int_equal(agora_sgemm_select(k_sgemm[i]), AGORA_OK);
        check();
    }
    assert_int_equal(agora_sgemm_select("auto"), AGORA_OK);
}

static void train_ops_matmul_fast_matches_ref(void **state) {
    (void)state;
    under_each_sgemm(matmul_fast_matches_ref);
}

static void train_ops_sgemm_select_names_and_rejects(void **state) {
    (void)state;
#if defined(AGORA_HAVE_BLAS) && defined(AGORA_HAVE_DNNL) && defined(AGORA_HAVE_OPENMP)
    const char *dnnl = "onednn+openblas";
#else
    const char *dnnl = "openblas";
#endif
    const char *amx = agora__amx_available() ? "amx-bf16x6" : dnnl;
    assert_int_equal(agora_sgemm_select("openblas"), AGORA_OK);
#ifdef AGORA_HAVE_BLAS
    assert_string_equal(agora_sgemm_name(), "openblas");
    assert_int_equal(agora_sgemm_select("onednn"), AGORA_OK);
    assert_string_equal(agora_sgemm_name(), dnnl);
    assert_int_equal(agora_sgemm_select("amx"), AGORA_OK);
    assert_string_equal(agora_sgemm_name(), amx);
#endif
    assert_int_equal(agora_sgemm_select("mkl"), AGORA_EINVAL);
    assert_int_equal(agora_sgemm_select(NULL), AGORA_EINVAL);
    assert_int_equal(agora_sgemm_select("auto"), AGORA_OK);
#ifdef AGORA_HAVE_BLAS
    assert_string_equal(agora_sgemm_name(), amx);
#else
    assert_string_equal(agora_sgemm_name(), "reference");
#endif
}

/* One product of agora__sgemm_amx against a double-precision sum: every element within
 * fp32's error bound for a K-term sum (K * 2^-24 * sum |a||b|, with room), and beta = 0
 * never reads C (filled with NaN). */
static void amx_case(int ta, int tb, size_t M, size_t N, size_t K, float alpha, float beta) {
    size_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 7;
    float *A = randn((ta ? K : M) * lda, 11 + M, 1), *B = randn((tb ? N : K) * ldb, 12 + N, 1);
    float *C = randn(M * ldc, 13 + K, 1), *C0 = malloc(M * ldc * sizeof *C0);
    /* full 24-bit significands, so all three bf16 parts of every operand are non-zero */
    for (size_t i = 0; i < (ta ? K : M) * lda; i++)
        A[i] *= 1.23456789f;
    for (size_t i = 0; i < (tb ? N : K) * ldb; i++)
        B[i] *= 0.87654321f;
    if (beta == 0.0f)
        for (size_t i = 0; i < M * ldc; i++)
            C[i] = NAN;
    memcpy(C0, C, M * ldc * sizeof *C0);
    agora__sgemm_amx(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (size_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double want = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)C0[i * ldc + j]);
            double tol =
                4.0 * (double)K * 0x1p-24 * fabs(alpha) * mag + 0x1p-23 * fabs(want) + 1e-30;
            double got = C[i * ldc + j];
            if (!(fabs(got - want) <= tol))
                fail_msg("amx %c%c %zux%zux%zu alpha %g beta %g: C[%zu][%zu] = %.9g, want %.9g",
                         ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, (double)alpha, (double)beta, i, j,
                         got, want);
        }
    /* the padding between rows of C is never written */
    for (size_t i = 0; i < M; i++)
        for (size_t j = N; j < ldc; j++)
            assert_memory_equal(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float));
    free(A), free(B), free(C), free(C0);
}

static void train_ops_sgemm_amx_matches_double(void **state) {
    (void)state;
    if (!agora__amx_available()) {
        print_message("no AMX-BF16 here: only the fallback is checked\n");
    }
    /* shapes: edges of the 32 x 32 block, K blocks of 32, several K panels (K > 768) and
     * several column panels (N above the panel width at K = 512), every transpose */
    static const size_t shapes[][3] = {{1, 1, 1},      {33, 47, 29},   {64, 64, 64},
                                       {17, 80, 1300}, {40, 600, 800}, {96, 16, 31}};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, 0.25f}, {-2.0f, 1.0f}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (size_t c = 0; c < sizeof ab / sizeof ab[0]; c++)
                    amx_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], ab[c][0], ab[c][1]);
    /* an empty sum: C = beta C */
    amx_case(0, 0, 5, 7, 0, 1.0f, 0.5f);
    /* and 40 random shapes (fixed seed): sizes 1-80 x 1-80 x 1-1100, any transposes,
     * beta 0 or 1 */
    uint32_t st = 12345u;
    for (int i = 0; i < 40; i++) {
        uint32_t r[4];
        for (int j = 0; j < 4; j++) {
            st = st * 1664525u + 1013904223u;
            r[j] = st >> 8;
        }
        amx_case((int)(r[3] & 1u), (int)((r[3] >> 1) & 1u), 1 + r[0] % 80, 1 + r[1] % 80,
                 1 + r[2] % 1100, 1.0f, (r[3] >> 2) & 1u ? 1.0f : 0.0f);
    }
}

/* q/k/v-style batches: three outputs of different widths from one input, forward and
 * backward (dinp accumulated over the three in order), large enough for the threaded path. */
static void matmul_multi_fast_matches_ref(void) {
    enum { NM = 3 };
    const size_t N = 300, K = 64, M[NM] = {96, 32, 40};
    float *x = randn(N * K, 1, 1), *w[NM], *dy[NM], *y0[NM], *y1[NM], *dw0[NM], *dw1[NM];
    for (int i = 0; i < NM; i++) {
        w[i] = randn(M[i] * K, 2 + (uint64_t)i, 1);
        dy[i] = randn(N * M[i], 5 + (uint64_t)i, 1);
        y0[i] = zeros(N * M[i]), y1[i] = zeros(N * M[i]);
        dw0[i] = randn(M[i] * K, 8 + (uint64_t)i, 1); /* gradients accumulate */
        dw1[i] = malloc(M[i] * K * sizeof *dw1[i]);
        memcpy(dw1[i], dw0[i], M[i] * K * sizeof *dw1[i]);
    }
    agora__matmul_fwd_multi_ref(y0, x, (const float *const *)w, M, NM, N, K);
    agora__kernels_fast.matmul_fwd_multi(y1, x, (const float *const *)w, M, NM, N, K);
    for (int i = 0; i < NM; i++)
        agora_assert_tensor_near(y1[i], y0[i], N * M[i], 1e-4, 1e-4);
    for (int acc = 0; acc <= 1; acc++) {
        float *dx0 = randn(N * K, 11, 1), *dx1 = malloc(N * K * sizeof *dx1);
        memcpy(dx1, dx0, N * K * sizeof *dx1);
        agora__matmul_bwd_multi_ref(dx0, dw0, (const float *const *)dy, x, (const float *const *)w,
                                    M, NM, N, K, acc);
        agora__kernels_fast.matmul_bwd_multi(dx1, dw1, (const float *const *)dy, x,
                                             (const float *const *)w, M, NM, N, K, acc);
        agora_assert_tensor_near(dx1, dx0, N * K, 1e-3, 1e-4);
        for (int i = 0; i < NM; i++)
            agora_assert_tensor_near(dw1[i], dw0[i], M[i] * K, 1e-3, 1e-4);
        free(dx0), free(dx1);
    }
    free(x);
    for (int i = 0; i < NM; i++)
        free(w[i]), free(dy[i]), free(y0[i]), free(y1[i]), free(dw0[i]), free(dw1[i]);
}

static void train_ops_matmul_multi_fast_matches_ref(void **state) {
    (void)state;
    under_each_sgemm(matmul_multi_fast_matches_ref);
}

// ---- RMSNorm ----

typedef struct {
    float *x, *w, *y, *rstd, *r;
    size_t N, C;
} rms_ctx;

static double rms_loss(void *p) {
    rms_ctx *c = p;
    agora__rmsnorm_fwd_ref(c->y, c->rstd, c->x, c->w, c->N, c->C, 1e-5f);
    return dot(c->y, c->r, c->N * c->C);
}

static void train_ops_rmsnorm_grad_matches_finite_difference(void **state) {
    (void)state;
    rms_ctx c = {.N = 5, .C = 16};
    c.x = randn(c.N * c.C, 1, 1);
    c.w = randn(c.C, 2, 1);
    c.r = randn(c.N * c.C, 3, 1);
    c.y = zeros(c.N * c.C);
    c.rstd = zeros(c.N);
    float *dx = zeros(c.N * c.C), *dw = zeros(c.C);
    rms_loss(&c);
    agora__rmsnorm_bwd_ref(dx, dw, c.r, c.x, c.w, c.rstd, c.N, c.C);
    check_fd(rms_loss, &c, c.x, dx, c.N * c.C, 1e-2f, 2e-3, 1e-4, "dx");
    check_fd(rms_loss, &c, c.w, dw, c.C, 1e-2f, 2e-3, 1e-4, "dw");
    free(c.x), free(c.w), free(c.r), free(c.y), free(c.rstd), free(dx), free(dw);
}

static void train_ops_rmsnorm_fast_matches_ref(void **state) {
    (void)state;
    size_t N = 64, C = 200;
    float *x = randn(N * C, 1, 2), *w = randn(C, 2, 1), *dy = randn(N * C, 3, 1);
    float *y0 = zeros(N * C), *y1 = zeros(N * C), *r0 = zeros(N), *r1 = zeros(N);
    agora__rmsnorm_fwd_ref(y0, r0, x, w, N, C, 1e-5f);
    agora__kernels_fast.rmsnorm_fwd(y1, r1, x, w, N, C, 1e-5f);
    agora_assert_tensor_near(y1, y0, N * C, 1e-5, 1e-5);
    agora_assert_tensor_near(r1, r0, N, 1e-6, 1e-5);
    float *dx0 = zeros(N * C), *dx1 = zeros(N * C), *dw0 = zeros(C), *dw1 = zeros(C);
    agora__rmsnorm_bwd_ref(dx0, dw0, dy, x, w, r0, N, C);
    agora__kernels_fast.rmsnorm_bwd(dx1, dw1, dy, x, w, r0, N, C);
    agora_assert_tensor_near(dx1, dx0, N * C, 1e-5, 1e-4);
    agora_assert_tensor_near(dw1, dw0, C, 1e-4, 1e-4);
    free(x), free(dy), free(y0), free(y1), free(r0), free(r1);
    free(dx0), free(dx1), free(dw0), free(dw1);
    /* the residual add fused into the norm, on enough rows for the threaded path */
    size_t N2 = 400;
    float *s0 = randn(N2 * C, 4, 1), *s1 = malloc(N2 * C * sizeof *s1), *a = randn(N2 * C, 5, 1);
    memcpy(s1, s0, N2 * C * sizeof *s1);
    float *o0 = zeros(N2 * C), *o1 = zeros(N2 * C), *q0 = zeros(N2), *q1 = zeros(N2);
    agora__add_rmsnorm_fwd_ref(s0, o0, q0, a, w, N2, C, 1e-5f);
    agora__kernels_fast.add_rmsnorm_fwd(s1, o1, q1, a, w, N2, C, 1e-5f);
    assert_memory_equal(s1, s0, N2 * C * sizeof *s0); /* the same float adds */
    agora_assert_tensor_near(o1, o0, N2 * C, 1e-5, 1e-5);
    agora_assert_tensor_near(q1, q0, N2, 1e-6, 1e-5);
    free(s0), free(s1), free(a), free(o0), free(o1), free(q0), free(q1), free(w);
}

// ---- RoPE ----

typedef struct {
    float *x, *y, *r, *cs, *sn;
    size_t B, T, nh, D;
} rope_ctx;

static double rope_loss(void *p) {
    rope_ctx *c = p;
    size_t n = c->B * c->T * c->nh * c->D;
    memcpy(c->y, c->x, n * sizeof *c->y);
    agora__rope_ref(c->y, c->cs, c->sn, c->B, c->T, c->nh, c->D, 0);
    return dot(c->y, c->r, n);
}

static void train_ops_rope_grad_matches_finite_difference(void **state) {
    (void)state;
    rope_ctx c = {.B = 2, .T = 5, .nh = 3, .D = 8};
    size_t n = c.B * c.T * c.nh * c.D;
    c.x = randn(n, 1, 1);
    c.r = randn(n, 2, 1);
    c.y = zeros(n);
    c.cs = zeros(c.T * c.D / 2);
    c.sn = zeros(c.T * c.D / 2);
    agora__rope_table(c.cs, c.sn, c.T, c.D, 10000.0);
    float *dx = malloc(n * sizeof *dx);
    memcpy(dx, c.r, n * sizeof *dx);
    agora__rope_ref(dx, c.cs, c.sn, c.B, c.T, c.nh, c.D, 1);
    check_fd(rope_loss, &c, c.x, dx, n, 1e-2f, 1e-3, 1e-4, "dx");
    /* fast == ref, both directions */
    float *a = randn(n, 3, 1), *b = malloc(n * sizeof *b);
    memcpy(b, a, n * sizeof *b);
    agora__rope_ref(a, c.cs, c.sn, c.B, c.T, c.nh, c.D, 0);
    agora__kernels_fast.rope(b, c.cs, c.sn, c.B, c.T, c.nh, c.D, 0);
    agora_assert_tensor_near(b, a, n, 1e-6, 1e-6);
    agora__rope_ref(a, c.cs, c.sn, c.B, c.T, c.nh, c.D, 1);
    agora__kernels_fast.rope(b, c.cs, c.sn, c.B, c.T, c.nh, c.D, 1);
    agora_assert_tensor_near(b, a, n, 1e-6, 1e-6);
    free(c.x), free(c.r), free(c.y), free(c.cs), free(c.sn), free(dx), free(a), free(b);
    /* q and k together (rope_qk), big enough for the threaded path */
    size_t B = 2, T = 64, H = 8, KV = 4, D = 64, nq = B * T * H * D, nk = B * T * KV * D;
    float *cs = zeros(T * D / 2), *sn = zeros(T * D / 2);
    agora__rope_table(cs, sn, T, D, 10000.0);
    float *q0 = randn(nq, 4, 1), *k0 = randn(nk, 5, 1);
    float *q1 = malloc(nq * sizeof *q1), *k1 = malloc(nk * sizeof *k1);
    memcpy(q1, q0, nq * sizeof *q1);
    memcpy(k1, k0, nk * sizeof *k1);
    for (int inv = 0; inv <= 1; inv++) {
        agora__rope_qk_ref(q0, k0, cs, sn, B, T, H, KV, D, inv);
        agora__kernels_fast.rope_qk(q1, k1, cs, sn, B, T, H, KV, D, inv);
        agora_assert_tensor_near(q1, q0, nq, 1e-6, 1e-6);
        agora_assert_tensor_near(k1, k0, nk, 1e-6, 1e-6);
    }
    free(cs), free(sn), free(q0), free(k0), free(q1), free(k1);
}

// ---- attention ----

typedef struct {
    float *q, *k, *v, *out, *P, *r;
    size_t B, T, H, KV, D;
} attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    agora__attn_fwd_ref(c->out, c->P, NULL, c->q, c->k, c->v, c->B, c->T, c->H, c->KV, c->D);
    return dot(c->out, c->r, c->B * c->T * c->H * c->D);
}

static void train_ops_attention_grad_matches_finite_difference(void **state) {
    (void)state;
    attn_ctx c = {.B = 2, .T = 6, .H = 4, .KV = 2, .D = 4};
    size_t nq = c.B * c.T * c.H * c.D, nk = c.B * c.T * c.KV * c.D;
    c.q = randn(nq, 1, 1);
    c.k = randn(nk, 2, 1);
    c.v = randn(nk, 3, 1);
    c.r = randn(nq, 4, 1);
    c.out = zeros(nq);
    c.P = zeros(c.B * c.H * c.T * c.T);
    float *dq = zeros(nq), *dk = zeros(nk), *dv = zeros(nk), *scratch = zeros(c.T);
    attn_loss(&c);
    agora__attn_bwd_ref(dq, dk, dv, scratch, c.r, c.P, c.q, c.k, c.v, c.B, c.T, c.H, c.KV, c.D);
    check_fd(attn_loss, &c, c.q, dq, nq, 1e-2f, 2e-3, 2e-4, "dq");
    check_fd(attn_loss, &c, c.k, dk, nk, 1e-2f, 2e-3, 2e-4, "dk");
    check_fd(attn_loss, &c, c.v, dv, nk, 1e-2f, 2e-3, 2e-4, "dv");
    /* causality: the first position's output depends on nothing after it */
    float before = c.out[0];
    c.k[nk / 2 - 1] += 5.0f;
    c.v[nk / 2 - 1] += 5.0f;
    attn_loss(&c);
    agora_assert_near(c.out[0], before, 0);
    free(c.q), free(c.k), free(c.v), free(c.r), free(c.out), free(c.P);
    free(dq), free(dk), free(dv), free(scratch);
}

static void attention_fast_matches_ref(size_t B, size_t T, size_t H, size_t KV, size_t D) {
    size_t nq = B * T * H * D, nk = B * T * KV * D, np = B * H * T * T;
    float *q = randn(nq, 1, 1), *k = randn(nk, 2, 1), *v = randn(nk, 3, 1);
    float *dout = randn(nq, 4, 1);
    float *o0 = zeros(nq), *o1 = zeros(nq), *P0 = zeros(np), *P1 = randn(np, 5, 1);
    float *s1 = zeros(AGORA__ATT_SCRATCH(B, T, KV, D));
    agora__attn_fwd_ref(o0, P0, NULL, q, k, v, B, T, H, KV, D);
    agora__kernels_fast.attn_fwd(o1, P1, s1, q, k, v, B, T, H, KV, D);
    agora_assert_tensor_near(o1, o0, nq, 1e-5, 1e-4);
    /* P is defined up to the end of each row's query block (layers.h); the rest of P1 keeps
     * its random fill, so the backward below also shows it never reads there. */
    for (size_t bh = 0; bh < B * H; bh++)
        for (size_t i = 0; i < T; i++) {
            size_t e = (i / AGORA__ATT_BLOCK + 1) * AGORA__ATT_BLOCK;
            e = e < T ? e : T;
            agora_assert_tensor_near(P1 + (bh * T + i) * T, P0 + (bh * T + i) * T, e, 1e-6, 1e-4);
        }
    float *dq0 = zeros(nq), *dk0 = zeros(nk), *dv0 = zeros(nk), *s0 = zeros(T);
    float *dq1 = zeros(nq), *dk1 = zeros(nk), *dv1 = zeros(nk);
    agora__attn_bwd_ref(dq0, dk0, dv0, s0, dout, P0, q, k, v, B, T, H, KV, D);
    agora__kernels_fast.attn_bwd(dq1, dk1, dv1, s1, dout, P1, q, k, v, B, T, H, KV, D);
    agora_assert_tensor_near(dq1, dq0, nq, 1e-5, 1e-4);
    agora_assert_tensor_near(dk1, dk0, nk, 1e-5, 1e-4);
    agora_assert_tensor_near(dv1, dv0, nk, 1e-5, 1e-4);
    free(q), free(k), free(v), free(dout), free(o0), free(o1), free(P0), free(P1);
    free(dq0), free(dk0), free(dv0), free(s0), free(dq1), free(dk1), free(dv1), free(s1);
}

static void train_ops_attention_fast_matches_ref(void **state) {
    (void)state;
    /* several 64-row blocks, ragged tails: narrow heads, then the 64-wide register tiles */
    attention_fast_matches_ref(2, 150, 6, 2, 16);
    attention_fast_matches_ref(1, 203, 4, 2, 64);
    attention_fast_matches_ref(1, 70, 2, 1, 24);
}

// ---- SwiGLU ----

typedef struct {
    float *g, *u, *h, *r;
    size_t n;
} swi_ctx;

static double swi_loss(void *p) {
    swi_ctx *c = p;
    agora__swiglu_fwd_ref(c->h, c->g, c->u, c->n);
    return dot(c->h, c->r, c->n);
}

static void train_ops_swiglu_grad_matches_finite_difference(void **state) {
    (void)state;
    swi_ctx c = {.n = 50};
    c.g = randn(c.n, 1, 2);
    c.u = randn(c.n, 2, 1);
    c.r = randn(c.n, 3, 1);
    c.h = zeros(c.n);
    float *dg = zeros(c.n), *du = zeros(c.n);
    agora__swiglu_bwd_ref(dg, du, c.r, c.g, c.u, c.n);
    check_fd(swi_loss, &c, c.g, dg, c.n, 1e-2f, 1e-3, 1e-4, "dg");
    check_fd(swi_loss, &c, c.u, du, c.n, 1e-2f, 1e-3, 1e-4, "du");
    float *h1 = zeros(c.n), *dg1 = zeros(c.n), *du1 = zeros(c.n);
    swi_loss(&c);
    agora__kernels_fast.swiglu_fwd(h1, c.g, c.u, c.n);
    agora__kernels_fast.swiglu_bwd(dg1, du1, c.r, c.g, c.u, c.n);
    agora_assert_tensor_near(h1, c.h, c.n, 1e-6, 1e-5);
    agora_assert_tensor_near(dg1, dg, c.n, 1e-6, 1e-5);
    agora_assert_tensor_near(du1, du, c.n, 1e-6, 1e-5);
    free(c.g), free(c.u), free(c.r), free(c.h), free(dg), free(du), free(h1), free(dg1), free(du1);
}

// ---- cross-entropy with max-z-loss ----

typedef struct {
    float *z, *rows, *lse, *zmax;
    int32_t *tgt, *am;
    size_t N, V;
    float zw;
} ce_ctx;

static double ce_loss(void *p) {
    ce_ctx *c = p;
    agora__ce_fwd_ref(c->rows, c->lse, c->zmax, c->am, c->z, c->tgt, c->N, c->V);
    double s = 0;
    size_t nv = 0;
    for (size_t i = 0; i < c->N; i++)
        if (c->tgt[i] >= 0) {
            s += c->rows[i] + (double)c->zw * c->zmax[i] * c->zmax[i];
            nv++;
        }
    return s / (double)nv;
}

static void train_ops_cross_entropy_zloss_grad_matches_finite_difference(void **state) {
    (void)state;
    ce_ctx c = {.N = 6, .V = 11, .zw = 0.05f};
    c.z = randn(c.N * c.V, 1, 2);
    c.rows = zeros(c.N), c.lse = zeros(c.N), c.zmax = zeros(c.N);
    int32_t tgt[6] = {3, 0, 10, -1, 7, 7}, am[6];
    c.tgt = tgt, c.am = am;
    double l = ce_loss(&c);
    assert_true(l > 0);
    float *dz = malloc(c.N * c.V * sizeof *dz);
    memcpy(dz, c.z, c.N * c.V * sizeof *dz);
    agora__ce_bwd_ref(dz, c.lse, c.zmax, c.am, c.tgt, c.N, c.V, c.zw, 1.0f / 5.0f);
    check_fd(ce_loss, &c, c.z, dz, c.N * c.V, 1e-3f, 5e-3, 2e-4, "dlogits");
    for (size_t v = 0; v < c.V; v++) /* the ignored row has no gradient */
        agora_assert_near(dz[3 * c.V + v], 0, 0);
    /* fast == ref */
    float *z1 = malloc(c.N * c.V * sizeof *z1), r1[6], l1[6], m1[6];
    int32_t am1[6];
    memcpy(z1, c.z, c.N * c.V * sizeof *z1);
    ce_loss(&c);
    agora__kernels_fast.ce_fwd(r1, l1, m1, am1, z1, c.tgt, c.N, c.V);
    agora_assert_tensor_near(r1, c.rows, c.N, 1e-5, 1e-5);
    agora__kernels_fast.ce_bwd(z1, l1, m1, am1, c.tgt, c.N, c.V, c.zw, 0.2f);
    agora_assert_tensor_near(z1, dz, c.N * c.V, 1e-6, 1e-5);
    free(c.z), free(c.rows), free(c.lse), free(c.zmax), free(dz), free(z1);
}

/* Large inputs reach the vectorized paths (several chunks, the OpenMP split, lane tails) and
 * the extremes of the fast exp: gates from -120 to 120 saturate silu both ways. */
static void train_ops_swiglu_fast_matches_ref(void **state) {
    (void)state;
    size_t n = 300007;
    float *g = randn(n, 5, 4), *u = randn(n, 6, 1), *dh = randn(n, 7, 1);
    for (size_t i = 0; i < n; i += 97)
        g[i] = -120.0f + 240.0f * (float)(i % 1000) / 1000.0f;
    float *h0 = zeros(n), *h1 = zeros(n), *dg0 = zeros(n), *dg1 = zeros(n);
    float *du0 = zeros(n), *du1 = zeros(n);
    agora__swiglu_fwd_ref(h0, g, u, n);
    agora__kernels_fast.swiglu_fwd(h1, g, u, n);
    agora__swiglu_bwd_ref(dg0, du0, dh, g, u, n);
    agora__kernels_fast.swiglu_bwd(dg1, du1, dh, g, u, n);
    agora_assert_tensor_near(h1, h0, n, 1e-6, 1e-5);
    agora_assert_tensor_near(dg1, dg0, n, 1e-6, 1e-5);
    agora_assert_tensor_near(du1, du0, n, 1e-6, 1e-5);
    free(g), free(u), free(dh), free(h0), free(h1), free(dg0), free(dg1), free(du0), free(du1);
}

/* Vocab sizes around the lane width, the maximum at the first, last and a tail position,
 * tied maxima (first index wins), very negative logits and an ignored row. */
static void train_ops_cross_entropy_fast_matches_ref(void **state) {
    (void)state;
    const size_t Vs[] = {5, 16, 33, 4096 + 7};
    for (size_t vi = 0; vi < sizeof Vs / sizeof Vs[0]; vi++) {
        size_t N = 40, V = Vs[vi];
        float *z = randn(N * V, 10 + vi, 3);
        int32_t tgt[40], am0[40], am1[40];
        for (size_t n = 0; n < N; n++)
            tgt[n] = n == 5 ? -1 : (int32_t)((n * 31) % V);
        z[0 * V + 0] = 50.0f;                        /* max at the first entry */
        z[1 * V + V - 1] = 50.0f;                    /* at the last */
        z[2 * V + V / 2] = z[2 * V + V - 1] = 40.0f; /* a tie: the first index wins */
        for (size_t i = 0; i < V; i++)               /* terms that underflow */
            z[3 * V + i] = i % 2 ? -200.0f : z[3 * V + i];
        float r0[40], l0[40], m0[40], r1[40], l1[40], m1[40];
        agora__ce_fwd_ref(r0, l0, m0, am0, z, tgt, N, V);
        agora__kernels_fast.ce_fwd(r1, l1, m1, am1, z, tgt, N, V);
        assert_memory_equal(am0, am1, sizeof am0);
        agora_assert_tensor_near(m1, m0, N, 0, 0);
        agora_assert_tensor_near(l1, l0, N, 1e-5, 1e-6);
        agora_assert_tensor_near(r1, r0, N, 1e-5, 1e-5);
        float *d0 = malloc(N * V * sizeof *d0), *d1 = malloc(N * V * sizeof *d1);
        memcpy(d0, z, N * V * sizeof *d0);
        memcpy(d1, z, N * V * sizeof *d1);
        agora__ce_bwd_ref(d0, l0, m0, am0, tgt, N, V, 2e-4f, 1.0f / 39.0f);
        agora__kernels_fast.ce_bwd(d1, l1, m1, am1, tgt, N, V, 2e-4f, 1.0f / 39.0f);
        agora_assert_tensor_near(d1, d0, N * V, 1e-7, 1e-5);
        free(z), free(d0), free(d1);
    }
}

static void train_ops_embedding_fast_matches_ref(void **state) {
    (void)state;
    size_t V = 10, C = 130, N = 40;
    int32_t tok[40];
    for (size_t i = 0; i < N; i++)
        tok[i] = (int32_t)((i * 7) % V);
    float *emb = randn(V * C, 1, 1), *o0 = zeros(N * C), *o1 = zeros(N * C);
    agora__embed_fwd_ref(o0, emb, tok, N, C);
    agora__kernels_fast.embed_fwd(o1, emb, tok, N, C);
    assert_memory_equal(o0, o1, N * C * sizeof *o0);
    float *d0 = zeros(V * C), *d1 = zeros(V * C), *dy = randn(N * C, 2, 1);
    agora__embed_bwd_ref(d0, dy, tok, N, C);
    agora__kernels_fast.embed_bwd(d1, dy, tok, N, C);
    assert_memory_equal(d0, d1, V * C * sizeof *d0); /* same order of adds per element */
    free(emb), free(o0), free(o1), free(d0), free(d1), free(dy);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_ops_matmul_grad_matches_finite_difference),
        cmocka_unit_test(train_ops_matmul_fast_matches_ref),
        cmocka_unit_test(train_ops_matmul_multi_fast_matches_ref),
        cmocka_unit_test(train_ops_sgemm_select_names_and_rejects),
        cmocka_unit_test(train_ops_sgemm_amx_matches_double),
        cmocka_unit_test(train_ops_rmsnorm_grad_matches_finite_difference),
        cmocka_unit_test(train_ops_rmsnorm_fast_matches_ref),
        cmocka_unit_test(train_ops_rope_grad_matches_finite_difference),
        cmocka_unit_test(train_ops_attention_grad_matches_finite_difference),
        cmocka_unit_test(train_ops_attention_fast_matches_ref),
        cmocka_unit_test(train_ops_swiglu_grad_matches_finite_difference),
        cmocka_unit_test(train_ops_cross_entropy_zloss_grad_matches_finite_difference),
        cmocka_unit_test(train_ops_swiglu_fast_matches_ref),
        cmocka_unit_test(train_ops_cross_entropy_fast_matches_ref),
        cmocka_unit_test(train_ops_embedding_fast_matches_ref),
    };
    return agora_test_main(tests, argc, argv);
}
