/* bench_train.c: training throughput and memory for one preset and shape.
 *
 * usage: bench_train PRESET T B STEPS [VOCAB]
 * Measures the 2-thread sgemm peak in the same process before and after (OpenBLAS with its
 * own two threads, and our OpenMP-split path, which runs that product on the AMX kernel where
 * the CPU has it, else through oneDNN when built with it; the highest is the reference), and
 * times STEPS
 * full training steps (forward, backward, clip, AdamW) after one warm-up step, on random
 * tokens. Prints one line of key=value figures: tokens/s, MFU against the peak, and memory:
 * rss_mb is the process's peak RSS; train_mb is that peak minus the RSS just before the
 * model was built (binary, libraries, OpenBLAS buffers), compared (rss_ratio) with the
 * analytic params + grads + AdamW moments (16 bytes per parameter) + activations.
 * fma_gflops is the machine's floating-point ceiling: two threads at once, each running
 * twelve independent chains of the widest FMA instruction the CPU has (512-bit with
 * AVX-512, else 256-bit), registers only; sgemm_vs_fma is the sgemm peak as a share of it,
 * which says how much a better sgemm than OpenBLAS's could still win (above 1 with the AMX
 * kernel, whose bf16 tile unit is not bound by the FMA ports). sgemm names what ran the
 * products (AGORA_SGEMM=openblas: OpenBLAS alone; onednn: oneDNN and OpenBLAS, no AMX).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "agora/alloc.h"
#include "agora/time.h"
#include "agora/train.h"

/* VmHWM (peak) or VmRSS (current) of this process, in bytes. */
static double rss_bytes(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, strlen(key)) == 0)
            kb = atof(line + strlen(key));
    if (f != NULL)
        fclose(f);
    return kb * 1024.0;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0), so the peak excludes the sgemm
 * measurement's matrices. */
static void reset_peak(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

/* OpenBLAS's own 2-thread sgemm on n^3, best of 3 (first run warms up). */
static double native_peak(int n) {
    size_t N = (size_t)n;
    float *a = agora_malloc_aligned(N * N * 4), *b = agora_malloc_aligned(N * N * 4);
    float *c = agora_malloc_aligned(N * N * 4);
    for (size_t i = 0; i < N * N; i++)
        a[i] = b[i] = (float)(i % 3) * 0.5f;
    openblas_set_num_threads(2);
    double best = 0;
    for (int r = 0; r < 4; r++) {
        int64_t t0 = agora_now_ns();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * (double)N * N * N / ((double)(agora_now_ns() - t0) / 1e9) / 1e9;
        if (r > 0 && g > best)
            best = g;
    }
    openblas_set_num_threads(1);
    agora_free_aligned(a);
    agora_free_aligned(b);
    agora_free_aligned(c);
    return best;
}

#if defined(__x86_64__) && defined(__GNUC__)
enum { FMA_ITERS = 20000000, FMA_CHAINS = 12 };
/* One thread's FMA rate in GFLOP/s: FMA_CHAINS independent register chains, so latency
 * never limits it. Inline assembly, so no compiler can fold or shorten the chains. */
static void *fma_thread(void *arg) {
    double *out = arg;
    int zmm = __builtin_cpu_supports("avx512f");
    /* zero the chains first: left as they are, the registers may hold what earlier code
     * left there, and subnormal operands run through microcode (this read 1.8 GFLOP/s
     * after the AMX kernel had run) */
    if (zmm)
        __asm__ volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n\tvmovaps %%zmm0, %%zmm1\n\t"
                         "vmovaps %%zmm0, %%zmm2\n\tvmovaps %%zmm0, %%zmm3\n\t"
                         "vmovaps %%zmm0, %%zmm4\n\tvmovaps %%zmm0, %%zmm5\n\t"
                         "vmovaps %%zmm0, %%zmm6\n\tvmovaps %%zmm0, %%zmm7\n\t"
                         "vmovaps %%zmm0, %%zmm8\n\tvmovaps %%zmm0, %%zmm9\n\t"
                         "vmovaps %%zmm0, %%zmm10\n\tvmovaps %%zmm0, %%zmm11\n\t"
                         "vmovaps %%zmm0, %%zmm14\n\tvmovaps %%zmm0, %%zmm15" ::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                               "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15");
    else
        __asm__ volatile("vxorps %%ymm0, %%ymm0, %%ymm0\n\tvmovaps %%ymm0, %%ymm1\n\t"
                         "vmovaps %%ymm0, %%ymm2\n\tvmovaps %%ymm0, %%ymm3\n\t"
                         "vmovaps %%ymm0, %%ymm4\n\tvmovaps %%ymm0, %%ymm5\n\t"
                         "vmovaps %%ymm0, %%ymm6\n\tvmovaps %%ymm0, %%ymm7\n\t"
                         "vmovaps %%ymm0, %%ymm8\n\tvmovaps %%ymm0, %%ymm9\n\t"
                         "vmovaps %%ymm0, %%ymm10\n\tvmovaps %%ymm0, %%ymm11\n\t"
                         "vmovaps %%ymm0, %%ymm14\n\tvmovaps %%ymm0, %%ymm15" ::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                               "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15");
    int64_t t0 = agora_now_ns();
    for (long i = 0; i < FMA_ITERS; i++) {
        if (zmm)
            __asm__ volatile("vfmadd231ps %%zmm14, %%zmm15, %%zmm0\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm1\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm2\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm3\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm4\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm5\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm6\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm7\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm8\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm9\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm10\n\t"
                             "vfmadd231ps %%zmm14, %%zmm15, %%zmm11\n\t" ::
                                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                                   "xmm8", "xmm9", "xmm10", "xmm11");
        else
            __asm__ volatile("vfmadd231ps %%ymm14, %%ymm15, %%ymm0\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm1\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm3\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm4\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm5\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm6\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm7\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm9\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm10\n\t"
                             "vfmadd231ps %%ymm14, %%ymm15, %%ymm11\n\t" ::
                                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                                   "xmm8", "xmm9", "xmm10", "xmm11");
    }
    double s = (double)(agora_now_ns() - t0) / 1e9;
    *out = (double)FMA_ITERS * FMA_CHAINS * (zmm ? 32.0 : 16.0) / s / 1e9;
    return NULL;
}

/* Two threads at once (the cores the training uses), best of 3; 0 where the CPU has no
 * FMA. */
static double fma_peak(void) {
    if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2"))
        return 0.0;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        pthread_t th;
        double g[2] = {0, 0};
        if (pthread_create(&th, NULL, fma_thread, &g[1]) != 0)
            return 0.0;
        fma_thread(&g[0]);
        pthread_join(th, NULL);
        best = g[0] + g[1] > best ? g[0] + g[1] : best;
    }
    return best;
}
#else
static double fma_peak(void) {
    return 0.0;
}
#endif

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_train PRESET T B STEPS [VOCAB]\n");
        return 2;
    }
    agora_model_config c;
    if (agora_model_config_preset(argv[1], &c) != AGORA_OK) {
        fprintf(stderr, "unknown preset %s\n", argv[1]);
        return 2;
    }
    int T = atoi(argv[2]), B = atoi(argv[3]), steps = atoi(argv[4]);
    if (argc > 5)
        c.vocab_size = atoi(argv[5]);
    c.max_seq = T;
    double peak_native = native_peak(2048);
    double peak_split = agora_sgemm_peak_gflops(2048, 3);
    double peak = peak_native > peak_split ? peak_native : peak_split;
    reset_peak();
    double base_rss = rss_bytes("VmRSS:"); /* binary, libraries, OpenBLAS buffers */
    agora_model *m = NULL;
    if (agora_model_create(&c, B, &m) != AGORA_OK) {
        fprintf(stderr, "cannot allocate the model\n");
        return 1;
    }
    agora_model_init(m, 1);
    agora_adamw opt;
    if (agora_adamw_init(&opt, agora_model_n_params(m)) != AGORA_OK)
        return 1;
    size_t n = (size_t)B * (size_t)T;
    int32_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (int32_t)((s >> 8) % (uint32_t)c.vocab_size);
        s = s * 1103515245u + 12345u;
        y[i] = (int32_t)((s >> 8) % (uint32_t)c.vocab_size);
    }
    agora_adamw_params hp = {
        .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    double fwd_s = 0, bwd_s = 0, total_s = 0;
    for (int it = 0; it <= steps; it++) {
        int64_t t0 = agora_now_ns();
        float loss;
        agora_model_zero_grad(m);
        if (agora_model_forward(m, x, y, B, T, 2e-4f, &loss, NULL) != AGORA_OK)
            return 1;
        int64_t t1 = agora_now_ns();
        if (agora_model_backward(m, 1.0f) != AGORA_OK)
            return 1;
        int64_t t1b = agora_now_ns();
        double norm = agora_grad_norm(agora_model_grads(m), agora_model_n_params(m));
        agora_adamw_step_scaled(&opt, agora_model_params(m), agora_model_grads(m),
                                agora_grad_clip_scale(norm, 1.0), &hp); /* as agora train */
        int64_t t2 = agora_now_ns();
        if (it > 0) { /* step 0 warms up */
            fwd_s += (double)(t1 - t0) / 1e9;
            bwd_s += (double)(t1b - t1) / 1e9;
            total_s += (double)(t2 - t0) / 1e9;
        }
    }
    double rss = rss_bytes("VmHWM:"), train_rss = rss - base_rss;
    /* The sgemm peak again after training (memory was read above): on a busy machine one
     * measurement can land in a slow moment, and MFU against a low peak would flatter us.
     * The highest of the four measurements counts. */
    double again = native_peak(2048), again_split = agora_sgemm_peak_gflops(2048, 3);
    peak_native = again > peak_native ? again : peak_native;
    peak_split = again_split > peak_split ? again_split : peak_split;
    peak = peak_native > peak_split ? peak_native : peak_split;
    double fma = fma_peak();
    double tok_s = (double)n * steps / total_s;
    double mfu = tok_s * agora_model_flops_per_token(&c, T) / (peak * 1e9);
    double analytic = (double)agora_model_config_n_params(&c) * 16.0 +
                      (double)agora_model_activation_bytes(&c, B, T);
    printf("preset=%s T=%d B=%d params=%llu tok_s=%.1f step_s=%.3f fwd_frac=%.2f bwd_frac=%.2f "
           "peak_gflops=%.1f openblas2=%.1f split=%.1f mfu=%.3f rss_mb=%.1f base_mb=%.1f "
           "train_mb=%.1f analytic_mb=%.1f rss_ratio=%.3f fma_gflops=%.1f sgemm_vs_fma=%.3f "
           "sgemm=%s\n",
           argv[1], T, B, (unsigned long long)agora_model_config_n_params(&c), tok_s,
           total_s / steps, fwd_s / total_s, bwd_s / total_s, peak, peak_native, peak_split, mfu,
           rss / 1048576.0, base_rss / 1048576.0, train_rss / 1048576.0, analytic / 1048576.0,
           train_rss / analytic, fma, fma > 0 ? peak / fma : 0.0, agora_sgemm_name());
    free(x);
    free(y);
    agora_adamw_fini(&opt);
    agora_model_destroy(m);
    return 0;
}
