/* layers.h: the training kernels, each with a fast version and a plain `_ref` twin.
 *
 * Shapes use N = B*T rows, C = model dim, H/KV = query/key-value heads, D = head dim,
 * F = FFN dim, V = vocab. All tensors are row-major float32. Backward kernels ADD into
 * parameter gradients (dw) so micro-batches accumulate; activation gradients are noted
 * per kernel as "set" or "add".
 *
 * The fast matmuls call cblas_sgemm with OpenBLAS pinned to one thread and split the
 * output across OpenMP threads themselves, so there is one thread pool, never two
 * fighting over the cores.
 */
#ifndef AGORA_TRAIN_LAYERS_H
#define AGORA_TRAIN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* Hot loops are compiled three times (AVX-512, AVX2, baseline x86-64) and the best one is
 * picked at load time (GCC target_clones), so one binary runs everywhere. ISO C mode keeps
 * FMA contraction off, so every clone computes the same bits. */
/* Not under TSan: the clones' ifunc resolvers run during relocation, before the TSan
 * runtime is up, and the instrumented resolver crashes the process at load. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define AGORA__VEC_CLONES                                                                          \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AGORA__VEC_CLONES
#endif

/* Query rows per block in the fast attention kernels. */
#define AGORA__ATT_BLOCK 64
/* Floats of attention scratch per (batch, KV group) and in all: a block of dP, a transposed
 * K or V and packed copies of operands, rows padded by 16 floats. */
#define AGORA__ATT_SCRATCH_TASK(T, D)                                                              \
    (((size_t)AGORA__ATT_BLOCK + 2 * (size_t)(D)) * ((size_t)(T) + 16) +                           \
     2 * (size_t)AGORA__ATT_BLOCK * (size_t)(D))
#define AGORA__ATT_SCRATCH(B, T, KV, D) ((size_t)(B) * (size_t)(KV)*AGORA__ATT_SCRATCH_TASK(T, D))

/* Most matmuls matmul_*_multi takes at once. */
#define AGORA__MULTI_MAX 3

typedef struct agora__kernels {
    /* out (N,M) = inp (N,K) @ w (M,K)^T */
    void (*matmul_fwd)(float *out, const float *inp, const float *w, size_t N, size_t K, size_t M);
    /* dinp (N,K) = (or += if accumulate) dout (N,M) @ w (M,K); dw (M,K) += dout^T @ inp.
     * dinp may be NULL. */
    void (*matmul_bwd)(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                       size_t N, size_t K, size_t M, int accumulate);
    /* Matmuls that share their input, in one parallel region (q, k, v; gate, up):
     * out_i (N,M_i) = inp (N,K) @ w_i (M_i,K)^T for i < n <= AGORA__MULTI_MAX. */
    void (*matmul_fwd_multi)(float *const *out, const float *inp, const float *const *w,
                             const size_t *M, int n, size_t N, size_t K);
    /* Their backward: dinp (N,K) = (or += if accumulate) sum_i dout_i @ w_i, summed in order
     * i = 0, 1, ...; dw_i (M_i,K) += dout_i^T @ inp. */
    void (*matmul_bwd_multi)(float *dinp, float *const *dw, const float *const *dout,
                             const float *inp, const float *const *w, const size_t *M, int n,
                             size_t N, size_t K, int accumulate);
    /* out (N,C) = x * rstd * w; rstd (N) saved. */
    void (*rmsnorm_fwd)(float *out, float *rstd, const float *x, const float *w, size_t N, size_t C,
                        float eps);
    /* s (N,C) += a, then out (N,C) = s * rstd * w; rstd (N) saved (the residual add fused
     * into the next norm: one pass instead of two). */
    void (*add_rmsnorm_fwd)(float *s, float *out, float *rstd, const float *a, const float *w,
                            size_t N, size_t C, float eps);
    /* dx (N,C) += ...; dw (C) += ... */
    void (*rmsnorm_bwd)(float *dx, float *dw, const float *dout, const float *x, const float *w,
                        const float *rstd, size_t N, size_t C);
    /* In place on x (B,T,nh,D): rotate pairs (i, i+D/2) by angle pos*freq[i]; inverse=1
     * rotates back (the backward of a rotation is its transpose). cos/sin are (T, D/2). */
    void (*rope)(float *x, const float *cos_t, const float *sin_t, size_t B, size_t T, size_t nh,
                 size_t D, int inverse);
    /* rope on q (B,T,H,D) and k (B,T,KV,D) in one go. */
    void (*rope_qk)(float *q, float *k, const float *cos_t, const float *sin_t, size_t B, size_t T,
                    size_t H, size_t KV, size_t D, int inverse);
    /* Causal GQA attention. q (B,T,H,D), k and v (B,T,KV,D), out (B,T,H,D) set,
     * P (B,H,T,T) softmax probabilities saved for attn_bwd: row i holds them in columns
     * [0, i] and zeros in (i, e), e = the end of i's AGORA__ATT_BLOCK-row block (or T);
     * columns from e on are not written (nothing reads them). scratch:
     * AGORA__ATT_SCRATCH(B, T, KV, D) floats. */
    void (*attn_fwd)(float *out, float *P, float *scratch, const float *q, const float *k,
                     const float *v, size_t B, size_t T, size_t H, size_t KV, size_t D);
    /* dq, dk, dv set. Reads P only where attn_fwd defines it. scratch:
     * AGORA__ATT_SCRATCH(B, T, KV, D) floats. */
    void (*attn_bwd)(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                     const float *P, const float *q, const float *k, const float *v, size_t B,
                     size_t T, size_t H, size_t KV, size_t D);
    /* h = silu(g) * u, n elements. */
    void (*swiglu_fwd)(float *h, const float *g, const float *u, size_t n);
    /* dg, du set. */
    void (*swiglu_bwd)(float *dg, float *du, const float *dh, const float *g, const float *u,
                       size_t n);
    /* Per row: lse (N) = logsumexp, zmax (N) = max logit, argmax (N); loss_rows (N) =
     * lse - z[target] (0 for ignored rows, target < 0). */
    void (*ce_fwd)(float *loss_rows, float *lse, float *zmax, int32_t *argmax, const float *logits,
                   const int32_t *targets, size_t N, size_t V);
    /* Overwrites logits (N,V) with d(scale * (sum CE + z_w * sum zmax^2))/dlogits. */
    void (*ce_bwd)(float *logits, const float *lse, const float *zmax, const int32_t *argmax,
                   const int32_t *targets, size_t N, size_t V, float z_w, float scale);
    /* out (N,C) = emb[tokens]; backward: demb[tokens] += dout (serial in token order). */
    void (*embed_fwd)(float *out, const float *emb, const int32_t *tokens, size_t N, size_t C);
    void (*embed_bwd)(float *demb, const float *dout, const int32_t *tokens, size_t N, size_t C);
    /* out = a + b, n elements. */
    void (*add)(float *out, const float *a, const float *b, size_t n);
} agora__kernels;

extern const agora__kernels agora__kernels_fast;
extern const agora__kernels agora__kernels_ref;

/* Pins OpenBLAS to one thread (our OpenMP loops split the work) and, the first time, applies
 * AGORA_SGEMM (agora_sgemm_select); idempotent. */
void agora__blas_setup(void);
/* C (M,N) = alpha * A' @ B' + beta * C, row-major, A' = A^T when ta, B' = B^T when tb: the
 * plain triple loop (beta = 0 never reads C). */
void agora__sgemm_plain(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                        size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The same contract on Intel AMX (sgemm_amx.c), single-threaded, fp32-accurate; only where
 * agora__amx_available() (which asks the kernel for the tile state once) says 1. */
void agora__sgemm_amx(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                      size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
int agora__amx_available(void);
/* Threads our OpenMP regions use (1 without OpenMP). */
int agora__num_threads(void);

/* Reference kernels, also called directly by tests. */
void agora__matmul_fwd_ref(float *out, const float *inp, const float *w, size_t N, size_t K,
                           size_t M);
void agora__matmul_bwd_ref(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, size_t N, size_t K, size_t M, int accumulate);
void agora__matmul_fwd_multi_ref(float *const *out, const float *inp, const float *const *w,
                                 const size_t *M, int n, size_t N, size_t K);
void agora__matmul_bwd_multi_ref(float *dinp, float *const *dw, const float *const *dout,
                                 const float *inp, const float *const *w, const size_t *M, int n,
                                 size_t N, size_t K, int accumulate);
void agora__rmsnorm_fwd_ref(float *out, float *rstd, const float *x, const float *w, size_t N,
                            size_t C, float eps);
void agora__add_rmsnorm_fwd_ref(float *s, float *out, float *rstd, const float *a, const float *w,
                                size_t N, size_t C, float eps);
void agora__rmsnorm_bwd_ref(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            const float *rstd, size_t N, size_t C);
void agora__rope_ref(float *x, const float *cos_t, const float *sin_t, size_t B, size_t T,
                     size_t nh, size_t D, int inverse);
void agora__rope_qk_ref(float *q, float *k, const float *cos_t, const float *sin_t, size_t B,
                        size_t T, size_t H, size_t KV, size_t D, int inverse);
void agora__attn_fwd_ref(float *out, float *P, float *scratch, const float *q, const float *k,
                         const float *v, size_t B, size_t T, size_t H, size_t KV, size_t D);
void agora__attn_bwd_ref(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                         const float *P, const float *q, const float *k, const float *v, size_t B,
                         size_t T, size_t H, size_t KV, size_t D);
void agora__swiglu_fwd_ref(float *h, const float *g, const float *u, size_t n);
void agora__swiglu_bwd_ref(float *dg, float *du, const float *dh, const float *g, const float *u,
                           size_t n);
void agora__ce_fwd_ref(float *loss_rows, float *lse, float *zmax, int32_t *argmax,
                       const float *logits, const int32_t *targets, size_t N, size_t V);
void agora__ce_bwd_ref(float *logits, const float *lse, const float *zmax, const int32_t *argmax,
                       const int32_t *targets, size_t N, size_t V, float z_w, float scale);
void agora__embed_fwd_ref(float *out, const float *emb, const int32_t *tokens, size_t N, size_t C);
void agora__embed_bwd_ref(float *demb, const float *dout, const int32_t *tokens, size_t N,
                          size_t C);
void agora__add_ref(float *out, const float *a, const float *b, size_t n);

/* RoPE tables (T, D/2): cos/sin of t * theta^(-2i/D), computed in double. */
void agora__rope_table(float *cos_t, float *sin_t, size_t T, size_t D, double theta);

#endif /* AGORA_TRAIN_LAYERS_H */
