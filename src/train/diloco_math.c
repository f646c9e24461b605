/* diloco_math.c: the arithmetic of the DiLoCo outer step, kept apart so that it can be
 * compiled with -ffp-contract=off (see src/train/CMakeLists.txt): every peer must produce
 * byte-identical outer parameters and momentum from the same averaged delta. */
#include "agora/diloco.h"

#include <math.h>
#include <stdlib.h>

void agora_diloco_outer_nesterov(float *theta_outer, float *momentum, const float *g, size_t n,
                                 float lr, float mu) {
    for (size_t i = 0; i < n; i++) {
        float b = mu * momentum[i] + g[i];
        momentum[i] = b;
        float step = g[i] + mu * b;
        theta_outer[i] -= lr * step;
    }
}

void agora_diloco_pseudo_grad(float *delta, const float *theta_outer, const float *theta_inner,
                              size_t n) {
    for (size_t i = 0; i < n; i++)
        delta[i] = theta_outer[i] - theta_inner[i];
}

void agora_diloco_mix(float *theta_inner, const float *theta_outer, size_t n, float alpha) {
    if (alpha == 0.0f) {
        for (size_t i = 0; i < n; i++)
            theta_inner[i] = theta_outer[i];
        return;
    }
    float beta = 1.0f - alpha;
    for (size_t i = 0; i < n; i++)
        theta_inner[i] = alpha * theta_inner[i] + beta * theta_outer[i];
}

void agora_diloco_outer_estimate(float *dst, const float *theta_outer, const float *momentum,
                                 const float *g, size_t n, float lr, float mu) {
    for (size_t i = 0; i < n; i++) {
        float b = mu * momentum[i] + g[i];
        dst[i] = theta_outer[i] - lr * (g[i] + mu * b);
    }
}

double agora_diloco_utilization(double inner_s, double comm_s) {
    double all = inner_s + comm_s;
    return all > 0 ? inner_s / all : 0.0;
}

float agora_diloco_delta_norm(const float *delta, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)delta[i] * (double)delta[i];
    float r = (float)sqrt(s);
    return isfinite(s) && isfinite(r) ? r : -1.0f;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

uint32_t agora_diloco_screen(const float *norms, uint32_t n, double max_ratio, uint8_t *keep) {
    float sorted[AGORA_DILOCO_SCREEN_MAX];
    uint32_t k = 0, out = 0;
    for (uint32_t i = 0; i < n; i++)
        if (norms[i] > 0 && isfinite(norms[i]) && k < AGORA_DILOCO_SCREEN_MAX)
            sorted[k++] = norms[i];
    qsort(sorted, k, sizeof *sorted, cmp_float);
    double limit = k > 0 && max_ratio > 0 ? max_ratio * (double)sorted[(k - 1) / 2] : INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        bool contributes = norms[i] != 0; /* NaN and negatives are contributions gone wrong */
        keep[i] = contributes && norms[i] > 0 && isfinite(norms[i]) && (double)norms[i] <= limit;
        out += contributes && !keep[i];
    }
    return out;
}
