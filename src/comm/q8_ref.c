/* q8_ref.c: the reference LUT8 codec, written as the definition in q8.h reads.
 * The fast kernels in q8.c are tested against it. */
#include <math.h>

#include "comm/q8.h"

/* The sigma sum: 8 double lanes, lane = i mod 8, merged in lane order. */
static double sumsq_ref(const float *x, size_t n) {
    double lane[8] = {0};
    for (size_t i = 0; i < n; i++)
        lane[i % 8] += (double)x[i] * (double)x[i];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += lane[l];
    return s;
}

static void lut8_degenerate(const float *x, size_t n, uint8_t *codes, float lut[256]) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i];
    for (int b = 0; b < 256; b++)
        lut[b] = 0.0f;
    lut[128] = n ? (float)(s / (double)n) : 0.0f;
    for (size_t i = 0; i < n; i++)
        codes[i] = 128;
}

void agora__lut8_encode_ref(const float *x, size_t n, uint8_t *codes, float lut[256]) {
    float sigma = n < 2 ? 0.0f : (float)(sqrt(sumsq_ref(x, n)) / sqrt((double)(n - 1)));
    float scale = 6.0f * sigma / 256.0f;
    if (!(scale > 0.0f) || !isfinite(scale)) {
        lut8_degenerate(x, n, codes, lut);
        return;
    }
    double sum[4][256] = {{0}}; /* lane = i mod 4, merged in lane order (q8.h) */
    uint64_t cnt[4][256] = {{0}};
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / scale;
        v = fminf(fmaxf(v, -129.0f), 128.0f); /* NaN -> -129 -> code 0 */
        int q = (int)roundf(v) + 128;
        q = q < 0 ? 0 : (q > 255 ? 255 : q);
        codes[i] = (uint8_t)q;
        sum[i % 4][q] += (double)x[i];
        cnt[i % 4][q]++;
    }
    for (int b = 0; b < 256; b++) {
        double s = sum[0][b] + sum[1][b] + sum[2][b] + sum[3][b];
        uint64_t c = cnt[0][b] + cnt[1][b] + cnt[2][b] + cnt[3][b];
        lut[b] = c ? (float)(s / (double)c) : 0.0f;
    }
}

void agora__lut8_decode_ref(const uint8_t *codes, size_t n, const float lut[256], float *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = lut[codes[i]];
}
