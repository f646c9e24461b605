/* layers_ref.c: the reference kernels: plain loops, one thread, written to be obviously
 * right. Tests hold the fast kernels (layers.c) to these, and finite differences hold
 * these to the math.
 *
 * Implements: every kernel of agora__kernels, plus the RoPE table.
 * Does not: vectorize, thread, or call BLAS.
 */
#include <math.h>
#include <string.h>

#include "train/layers.h"

void agora__matmul_fwd_ref(float *out, const float *inp, const float *w, size_t N, size_t K,
                           size_t M) {
    for (size_t n = 0; n < N; n++)
        for (size_t m = 0; m < M; m++) {
            double acc = 0;
            for (size_t k = 0; k < K; k++)
                acc += (double)inp[n * K + k] * w[m * K + k];
            out[n * M + m] = (float)acc;
        }
}

void agora__matmul_bwd_ref(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, size_t N, size_t K, size_t M, int accumulate) {
    if (dinp != NULL)
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++) {
                double acc = accumulate ? dinp[n * K + k] : 0.0;
                for (size_t m = 0; m < M; m++)
                    acc += (double)dout[n * M + m] * w[m * K + k];
                dinp[n * K + k] = (float)acc;
            }
    for (size_t m = 0; m < M; m++)
        for (size_t k = 0; k < K; k++) {
            double acc = dw[m * K + k];
            for (size_t n = 0; n < N; n++)
                acc += (double)dout[n * M + m] * inp[n * K + k];
            dw[m * K + k] = (float)acc;
        }
}

void agora__matmul_fwd_multi_ref(float *const *out, const float *inp, const float *const *w,
                                 const size_t *M, int n, size_t N, size_t K) {
    for (int i = 0; i < n; i++)
        agora__matmul_fwd_ref(out[i], inp, w[i], N, K, M[i]);
}

void agora__matmul_bwd_multi_ref(float *dinp, float *const *dw, const float *const *dout,
                                 const float *inp, const float *const *w, const size_t *M, int n,
                                 size_t N, size_t K, int accumulate) {
    for (int i = 0; i < n; i++)
        agora__matmul_bwd_ref(dinp, dw[i], dout[i], inp, w[i], N, K, M[i], accumulate || i > 0);
}

void agora__rmsnorm_fwd_ref(float *out, float *rstd, const float *x, const float *w, size_t N,
                            size_t C, float eps) {
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        double ss = 0;
        for (size_t c = 0; c < C; c++)
            ss += (double)xr[c] * xr[c];
        float r = (float)(1.0 / sqrt(ss / (double)C + (double)eps));
        rstd[n] = r;
        for (size_t c = 0; c < C; c++)
            out[n * C + c] = xr[c] * r * w[c];
    }
}

/* y_c = x_c r w_c with r = (mean(x^2)+eps)^-1/2, so
 * dx_c = r (w_c dy_c) - x_c r^3 / C * sum_j w_j dy_j x_j. */
void agora__add_rmsnorm_fwd_ref(float *s, float *out, float *rstd, const float *a, const float *w,
                                size_t N, size_t C, float eps) {
    agora__add_ref(s, s, a, N * C);
    agora__rmsnorm_fwd_ref(out, rstd, s, w, N, C, eps);
}

void agora__rmsnorm_bwd_ref(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            const float *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * C, *dy = dout + n * C;
        double r = rstd[n], dot = 0;
        for (size_t c = 0; c < C; c++)
            dot += (double)w[c] * dy[c] * xr[c];
        for (size_t c = 0; c < C; c++) {
            dx[n * C + c] += (float)(r * w[c] * dy[c] - xr[c] * r * r * r * dot / (double)C);
            dw[c] += (float)((double)dy[c] * xr[c] * r);
        }
    }
}

void agora__rope_table(float *cos_t, float *sin_t, size_t T, size_t D, double theta) {
    size_t half = D / 2;
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < half; i++) {
            double freq = pow(theta, -2.0 * (double)i / (double)D);
            double a = (double)t * freq;
            cos_t[t * half + i] = (float)cos(a);
            sin_t[t * half + i] = (float)sin(a);
        }
}

void agora__rope_ref(float *x, const float *cos_t, const float *sin_t, size_t B, size_t T,
                     size_t nh, size_t D, int inverse) {
    size_t half = D / 2;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t h = 0; h < nh; h++) {
                float *xv = x + ((b * T + t) * nh + h) * D;
                for (size_t i = 0; i < half; i++) {
                    float c = cos_t[t * half + i];
                    float s = inverse ? -sin_t[t * half + i] : sin_t[t * half + i];
                    float x1 = xv[i], x2 = xv[i + half];
                    xv[i] = x1 * c - x2 * s;
                    xv[i + half] = x2 * c + x1 * s;
                }
            }
}

void agora__rope_qk_ref(float *q, float *k, const float *cos_t, const float *sin_t, size_t B,
                        size_t T, size_t H, size_t KV, size_t D, int inverse) {
    agora__rope_ref(q, cos_t, sin_t, B, T, H, D, inverse);
    agora__rope_ref(k, cos_t, sin_t, B, T, KV, D, inverse);
}

void agora__attn_fwd_ref(float *out, float *P, float *scratch, const float *q, const float *k,
                         const float *v, size_t B, size_t T, size_t H, size_t KV, size_t D) {
    (void)scratch;
    double scale = 1.0 / sqrt((double)D);
    size_t rep = H / KV;
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++) {
            size_t g = h / rep;
            for (size_t i = 0; i < T; i++) {
                const float *qi = q + ((b * T + i) * H + h) * D;
                float *p = P + ((b * H + h) * T + i) * T;
                double mx = -INFINITY;
                for (size_t j = 0; j <= i; j++) {
                    const float *kj = k + ((b * T + j) * KV + g) * D;
                    double s = 0;
                    for (size_t d = 0; d < D; d++)
                        s += (double)qi[d] * kj[d];
                    p[j] = (float)(s * scale);
                    if (p[j] > mx)
                        mx = p[j];
                }
                double sum = 0;
                for (size_t j = 0; j <= i; j++)
                    sum += exp((double)p[j] - mx);
                for (size_t j = 0; j < T; j++)
                    p[j] = j <= i ? (float)(exp((double)p[j] - mx) / sum) : 0.0f;
                float *o = out + ((b * T + i) * H + h) * D;
                for (size_t d = 0; d < D; d++) {
                    double acc = 0;
                    for (size_t j = 0; j <= i; j++)
                        acc += (double)p[j] * v[((b * T + j) * KV + g) * D + d];
                    o[d] = (float)acc;
                }
            }
        }
}

void agora__attn_bwd_ref(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                         const float *P, const float *q, const float *k, const float *v, size_t B,
                         size_t T, size_t H, size_t KV, size_t D) {
    double scale = 1.0 / sqrt((double)D);
    size_t rep = H / KV;
    float *dp = scratch; /* T floats are enough here */
    memset(dq, 0, B * T * H * D * sizeof *dq);
    memset(dk, 0, B * T * KV * D * sizeof *dk);
    memset(dv, 0, B * T * KV * D * sizeof *dv);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++) {
            size_t g = h / rep;
            for (size_t i = 0; i < T; i++) {
                const float *p = P + ((b * H + h) * T + i) * T;
                const float *doi = dout + ((b * T + i) * H + h) * D;
                double dot = 0;
                for (size_t j = 0; j <= i; j++) {
                    const float *vj = v + ((b * T + j) * KV + g) * D;
                    double s = 0;
                    for (size_t d = 0; d < D; d++)
                        s += (double)doi[d] * vj[d];
                    dp[j] = (float)s;
                    dot += s * p[j];
                    float *dvj = dv + ((b * T + j) * KV + g) * D;
                    for (size_t d = 0; d < D; d++)
                        dvj[d] += p[j] * doi[d];
                }
                const float *qi = q + ((b * T + i) * H + h) * D;
                float *dqi = dq + ((b * T + i) * H + h) * D;
                for (size_t j = 0; j <= i; j++) {
                    float ds = (float)((double)p[j] * ((double)dp[j] - dot) * scale);
                    const float *kj = k + ((b * T + j) * KV + g) * D;
                    float *dkj = dk + ((b * T + j) * KV + g) * D;
                    for (size_t d = 0; d < D; d++) {
                        dqi[d] += ds * kj[d];
                        dkj[d] += ds * qi[d];
                    }
                }
            }
        }
}

void agora__swiglu_fwd_ref(float *h, const float *g, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double s = 1.0 / (1.0 + exp(-(double)g[i]));
        h[i] = (float)((double)g[i] * s * u[i]);
    }
}

void agora__swiglu_bwd_ref(float *dg, float *du, const float *dh, const float *g, const float *u,
                           size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = g[i], s = 1.0 / (1.0 + exp(-x));
        double silu = x * s, dsilu = s * (1.0 + x * (1.0 - s));
        dg[i] = (float)((double)dh[i] * u[i] * dsilu);
        du[i] = (float)((double)dh[i] * silu);
    }
}

void agora__ce_fwd_ref(float *loss_rows, float *lse, float *zmax, int32_t *argmax,
                       const float *logits, const int32_t *targets, size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * V;
        size_t am = 0;
        for (size_t i = 1; i < V; i++)
            if (z[i] > z[am])
                am = i;
        double sum = 0;
        for (size_t i = 0; i < V; i++)
            sum += exp((double)z[i] - z[am]);
        double l = (double)z[am] + log(sum);
        lse[n] = (float)l;
        zmax[n] = z[am];
        argmax[n] = (int32_t)am;
        loss_rows[n] = targets[n] >= 0 ? (float)(l - z[targets[n]]) : 0.0f;
    }
}

void agora__ce_bwd_ref(float *logits, const float *lse, const float *zmax, const int32_t *argmax,
                       const int32_t *targets, size_t N, size_t V, float z_w, float scale) {
    for (size_t n = 0; n < N; n++) {
        float *z = logits + n * V;
        if (targets[n] < 0) {
            memset(z, 0, V * sizeof *z);
            continue;
        }
        for (size_t i = 0; i < V; i++)
            z[i] = (float)(exp((double)z[i] - lse[n]) * scale);
        z[targets[n]] -= scale;
        z[argmax[n]] += 2.0f * z_w * zmax[n] * scale;
    }
}

void agora__embed_fwd_ref(float *out, const float *emb, const int32_t *tokens, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++)
        memcpy(out + n * C, emb + (size_t)tokens[n] * C, C * sizeof *out);
}

void agora__embed_bwd_ref(float *demb, const float *dout, const int32_t *tokens, size_t N,
                          size_t C) {
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            demb[(size_t)tokens[n] * C + c] += dout[n * C + c];
}

void agora__add_ref(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

const agora__kernels agora__kernels_ref = {
    .matmul_fwd = agora__matmul_fwd_ref,
    .matmul_bwd = agora__matmul_bwd_ref,
    .matmul_fwd_multi = agora__matmul_fwd_multi_ref,
    .matmul_bwd_multi = agora__matmul_bwd_multi_ref,
    .rmsnorm_fwd = agora__rmsnorm_fwd_ref,
    .add_rmsnorm_fwd = agora__add_rmsnorm_fwd_ref,
    .rmsnorm_bwd = agora__rmsnorm_bwd_ref,
    .rope = agora__rope_ref,
    .rope_qk = agora__rope_qk_ref,
    .attn_fwd = agora__attn_fwd_ref,
    .attn_bwd = agora__attn_bwd_ref,
    .swiglu_fwd = agora__swiglu_fwd_ref,
    .swiglu_bwd = agora__swiglu_bwd_ref,
    .ce_fwd = agora__ce_fwd_ref,
    .ce_bwd = agora__ce_bwd_ref,
    .embed_fwd = agora__embed_fwd_ref,
    .embed_bwd = agora__embed_bwd_ref,
    .add = agora__add_ref,
};
