/* bench_sgemm.c: the AMX kernel against OpenBLAS and oneDNN, one thread, on the per-thread
 * product shapes of the small preset's training step.
 *
 * usage: bench_sgemm [REPS]
 * For each shape (per-thread M x N x K as the step's row split gives them, and the
 * transposes the step uses), times one-thread products of OpenBLAS's cblas_sgemm, oneDNN's
 * dnnl_sgemm (when built in) and agora__sgemm_amx, interleaved, best of REPS (default 7),
 * and prints GFLOP/s and the ratios. Accuracy: on every product the largest error against a
 * double-precision sum over a sample of outputs, relative to the largest |output|, for the
 * AMX kernel and OpenBLAS. Operands are fresh each rep (written before the call), as
 * activations are in the step. Without AMX, only the libraries run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "agora/alloc.h"
#include "agora/time.h"
#include "agora/train.h"
#include "train/layers.h"
#ifdef AGORA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#endif

typedef struct {
    const char *what;
    int ta, tb;
    size_t M, N, K;
} shape;

/* small at T=256, B=8: 2048 tokens, d 512, kv 256, ffn 1408, vocab 4096, two threads */
static const shape k_shapes[] = {
    {"fwd q/o", 0, 1, 1024, 512, 512},      {"fwd k/v", 0, 1, 1024, 256, 512},
    {"fwd gate/up", 0, 1, 1024, 1408, 512}, {"fwd down", 0, 1, 1024, 512, 1408},
    {"fwd head", 0, 1, 1024, 4096, 512},    {"dx q/o", 0, 0, 1024, 512, 512},
    {"dx gate/up", 0, 0, 1024, 512, 1408},  {"dx down", 0, 0, 1024, 1408, 512},
    {"dW q/o", 1, 0, 256, 512, 2048},       {"dW gate/up", 1, 0, 704, 512, 2048},
    {"dW down", 1, 0, 512, 704, 2048},      {"dW head", 1, 0, 2048, 512, 2048},
};

enum { LIB_BLAS, LIB_DNNL, LIB_AMX, NLIB };

static void run(int lib, const shape *s, const float *A, size_t lda, const float *B, size_t ldb,
                float *C) {
    switch (lib) {
    case LIB_BLAS:
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, (int)s->M, (int)s->N, (int)s->K, 1.0f, A,
                    (int)lda, B, (int)ldb, 0.0f, C, (int)s->N);
        break;
#ifdef AGORA_HAVE_DNNL
    case LIB_DNNL:
        dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', (dnnl_dim_t)s->M, (dnnl_dim_t)s->N,
                   (dnnl_dim_t)s->K, 1.0f, A, (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb, 0.0f, C,
                   (dnnl_dim_t)s->N);
        break;
#endif
    default:
        agora__sgemm_amx(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    }
}

/* max |C - double sum| / max |C| over every 7th row and 5th column */
static double rel_error(const shape *s, const float *A, size_t lda, const float *B, size_t ldb,
                        const float *C) {
    double err = 0, mag = 0;
    for (size_t i = 0; i < s->M; i += 7)
        for (size_t j = 0; j < s->N; j += 5) {
            double sum = 0;
            for (size_t k = 0; k < s->K; k++)
                sum += (double)(s->ta ? A[k * lda + i] : A[i * lda + k]) *
                       (double)(s->tb ? B[j * ldb + k] : B[k * ldb + j]);
            err = fmax(err, fabs((double)C[i * s->N + j] - sum));
            mag = fmax(mag, fabs(sum));
        }
    return mag > 0 ? err / mag : err;
}

static void fill(float *x, size_t n, uint32_t seed) {
    uint32_t st = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        st = st * 1664525u + 1013904223u;
        x[i] = ((float)(st >> 8) / 16777216.0f - 0.5f) * 1.7320508f; /* full significands */
    }
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1)
        reps = 1;
    openblas_set_num_threads(1);
#ifdef AGORA_HAVE_OPENMP
    omp_set_num_threads(1); /* dnnl_sgemm threads through OpenMP */
#endif
    int have[NLIB] = {1, 0, agora__amx_available()};
#ifdef AGORA_HAVE_DNNL
    have[LIB_DNNL] = 1;
#endif
    printf("%-11s %2s %5s %5s %5s %9s %9s %9s %8s %8s %10s %10s\n", "product", "op", "M", "N", "K",
           "openblas", "onednn", "amx", "amx/ob", "amx/dnnl", "err_amx", "err_ob");
    double sum_ratio_ob = 0;
    int n_ratio = 0;
    for (size_t si = 0; si < sizeof k_shapes / sizeof k_shapes[0]; si++) {
        const shape *s = &k_shapes[si];
        size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
        size_t na = s->M * s->K, nb = s->K * s->N, nc = s->M * s->N;
        float *A = agora_malloc_aligned(na * sizeof(float));
        float *B = agora_malloc_aligned(nb * sizeof(float));
        float *C = agora_malloc_aligned(nc * sizeof(float));
        if (A == NULL || B == NULL || C == NULL) {
            fprintf(stderr, "bench_sgemm: out of memory\n");
            return 1;
        }
        double best[NLIB] = {0, 0, 0}, err[NLIB] = {0, 0, 0};
        for (int r = 0; r < reps + 1; r++)
            for (int lib = 0; lib < NLIB; lib++) {
                if (!have[lib])
                    continue;
                fill(A, na, (uint32_t)(r * 7 + 1));
                fill(B, nb, (uint32_t)(r * 7 + 2));
                int64_t t0 = agora_now_ns();
                run(lib, s, A, lda, B, ldb, C);
                double g = 2.0 * (double)s->M * (double)s->N * (double)s->K /
                           ((double)(agora_now_ns() - t0) / 1e9) / 1e9;
                if (r > 0 && g > best[lib]) /* the first rep warms up */
                    best[lib] = g;
                if (r == 0)
                    err[lib] = rel_error(s, A, lda, B, ldb, C);
            }
        char dn[16] = "-", a_ob[16] = "-", a_dn[16] = "-", ea[16] = "-";
        if (have[LIB_DNNL])
            snprintf(dn, sizeof dn, "%.0f", best[LIB_DNNL]);
        if (have[LIB_AMX]) {
            snprintf(a_ob, sizeof a_ob, "%.2fx", best[LIB_AMX] / best[LIB_BLAS]);
            snprintf(ea, sizeof ea, "%.2e", err[LIB_AMX]);
            sum_ratio_ob += best[LIB_AMX] / best[LIB_BLAS];
            n_ratio++;
        }
        if (have[LIB_AMX] && have[LIB_DNNL])
            snprintf(a_dn, sizeof a_dn, "%.2fx", best[LIB_AMX] / best[LIB_DNNL]);
        char amx[16] = "-";
        if (have[LIB_AMX])
            snprintf(amx, sizeof amx, "%.0f", best[LIB_AMX]);
        printf("%-11s %c%c %5zu %5zu %5zu %9.0f %9s %9s %8s %8s %10s %10.2e\n", s->what,
               s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, best[LIB_BLAS], dn, amx,
               a_ob, a_dn, ea, err[LIB_BLAS]);
        agora_free_aligned(A);
        agora_free_aligned(B);
        agora_free_aligned(C);
    }
    if (n_ratio > 0)
        printf("amx vs openblas, mean over the shapes: %.2fx (GFLOP/s, one thread)\n",
               sum_ratio_ob / n_ratio);
    else
        printf("no AMX-BF16 on this CPU (or the kernel refused the tile state): libraries only\n");
    return 0;
}
