/* diloco_math.c: the arithmetic of the DiLoCo outer step, kept apart so that it can be
 * compiled with -ffp-contract=off (see src/train/CMakeLists.txt): every peer must produce
 * byte-identical outer parameters and momentum from the same averaged delta. */
#include "agora/diloco.h"

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
