/* test_comm_q8.c: the all-reduce codecs (src/comm/q8.c, q8_ref.c). */
#include "agora_test.h"

#include <math.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/rng.h"
#include "comm/q8.h"

static void fill_student_t3(float *x, size_t n, uint64_t seed) {
    agora_rng r;
    agora_rng_seed(&r, seed, AGORA_RNG_STREAM_TEST, 7);
    for (size_t i = 0; i < n; i++) {
        double z = agora_rng_normal(&r), chi = 0;
        for (int k = 0; k < 3; k++) {
            double g = agora_rng_normal(&r);
            chi += g * g;
        }
        x[i] = (float)(z / sqrt(chi / 3.0));
    }
}

static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

/* The scale the encoder uses (q8.h): sigma from 8 double lanes merged in lane order. */
static float lut8_scale(const float *x, size_t n) {
    double lane[8] = {0};
    for (size_t i = 0; i < n; i++)
        lane[i % 8] += (double)x[i] * (double)x[i];
    double ss = 0;
    for (int l = 0; l < 8; l++)
        ss += lane[l];
    return 6.0f * (float)(sqrt(ss) / sqrt((double)(n - 1))) / 256.0f;
}

/* Both fast encoders (SSE2 and, where present, AVX2) against the reference on x[0..n). */
static void lut8_check_fast(const float *x, size_t n) {
    uint8_t *qr = agora_malloc(n + 1), *qf = agora_malloc(n + 1);
    float lr[256], lf[256];
    agora__lut8_encode_ref(x, n, qr, lr);
    for (int avx2 = 0; avx2 < 2; avx2++) {
        agora__q8_allow_avx2(avx2);
        agora__lut8_encode(x, n, qf, lf);
        assert_memory_equal(qr, qf, n);
        assert_memory_equal(lr, lf, sizeof lr);
    }
    agora__q8_allow_avx2(1);
    agora_free(qr);
    agora_free(qf);
}

/* The AVX2 coder multiplies by 1 / scale and divides only near rounding boundaries or for
 * scales outside [2^-100, 2^100]: values a few ulps around (k + 0.5) * scale, every length
 * up to two blocks, and data so small or large that the scale leaves that range. */
static void lut8_fast_matches_reference_edges(void) {
    enum { N = 20011 };
    float *x = agora_malloc(N * sizeof(float)), *x0 = agora_malloc(N * sizeof(float));
    /* boundaries: move every 4th element to within 3 ulps of the half-integer multiple of
     * the scale below it; that moves the scale a little, so repeat until it stays put */
    agora_test_fill_normal(x0, N, 31);
    memcpy(x, x0, N * sizeof(float));
    float scale = 0.0f;
    int ties = 0;
    for (int it = 0; it < 20; it++) {
        float s = lut8_scale(x, N);
        if (s == scale)
            break;
        scale = s;
        for (size_t i = 0; i < N; i += 4) {
            float b = (floorf(x0[i] / scale) + 0.5f) * scale;
            for (int u = (int)(i / 4 % 7) - 3; u < 0; u++)
                b = nextafterf(b, -INFINITY);
            for (int u = (int)(i / 4 % 7) - 3; u > 0; u--)
                b = nextafterf(b, INFINITY);
            x[i] = b;
        }
    }
    for (size_t i = 0; i < N; i++) {
        float q = x[i] / scale;
        ties += q - floorf(q) == 0.5f;
    }
    print_message("%d exact ties\n", ties);
    assert_true(ties > 100);
    lut8_check_fast(x, N);
    /* every length up to 520 (tails of the 32-wide kernel, its 256-element blocks, the
     * 4-lane loop and the scalar rest) */
    for (size_t n = 2; n <= 520; n++)
        lut8_check_fast(x + 3, n);
    /* tiny and huge data: scales far below 2^-100 and above 2^100, and near the edges */
    const double mags[] = {1e-40, 1e-35, 1e-30, 1e-28, 1e-20, 1e20, 1e28, 1e30, 1e33, 1e36};
    for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
        agora_test_fill_normal(x, N, 40 + m);
        for (size_t i = 0; i < N; i++)
            x[i] = (float)((double)x[i] * mags[m]);
        x[7] = (float)(mags[m] * 40.0); /* an outlier into bucket 255 */
        lut8_check_fast(x, N);
    }
    agora_free(x);
    agora_free(x0);
}

static void q8_lut8_fast_matches_reference(void **state) {
    (void)state;
    enum { N = 100003 };
    float *x = agora_malloc(N * sizeof(float));
    uint8_t *qr = agora_malloc(N), *qf = agora_malloc(N);
    float lr[256], lf[256];
    for (uint64_t seed = 1; seed <= 4; seed++) {
        size_t n = (size_t)N - seed * 7; /* odd tails for the 8-lane sum */
        if (seed % 2)
            agora_test_fill_normal(x, n, seed);
        else
            fill_student_t3(x, n, seed);
        if (seed == 3) { /* far outliers fold into the edge buckets */
            x[5] = 60.0f;
            x[6] = -80.0f;
            x[n - 1] = 45.0f;
        }
        agora__lut8_encode_ref(x, n, qr, lr);
        for (int avx2 = 0; avx2 < 2; avx2++) { /* the SSE2 kernels and, where present, AVX2 */
            agora__q8_allow_avx2(avx2);
            agora__lut8_encode(x, n, qf, lf);
            assert_memory_equal(qr, qf, n);
            assert_memory_equal(lr, lf, sizeof lr);
        }
    }
    agora__q8_allow_avx2(1);
    agora_free(x);
    agora_free(qr);
    agora_free(qf);
    lut8_fast_matches_reference_edges();
}

static void q8_lut8_golden_ties_outliers_sigma_zero(void **state) {
    (void)state;
    /* n = 5: sum x^2 = 4*(1.0)^2 + ...; build values so scale is a clean power of two.
     * sigma = sqrt(sum x^2 / (n-1)); choose x = {a, -a, a, -a, 0} -> sigma = a;
     * scale = 6a/256. With a = 256/6*0.5 the scale is 0.5. */
    float a = 256.0f / 6.0f * 0.5f;
    float x[5] = {a, -a, a, -a, 0.0f};
    uint8_t q[5];
    float lut[256];
    agora__lut8_encode_ref(x, 5, q, lut);
    float scale = 6.0f * (float)(sqrt(4.0 * (double)a * a) / 2.0) / 256.0f;
    /* a / scale is ~42.67 -> rounds to 43 -> codes 171 and 85; zero -> 128 */
    int want = (int)roundf(a / scale);
    assert_int_equal(q[0], 128 + want);
    assert_int_equal(q[1], 128 - want);
    assert_int_equal(q[4], 128);
    agora_assert_near(lut[q[0]], a, 0);
    agora_assert_near(lut[128], 0.0, 0);
    /* ties round half away from zero: x/scale == +-2.5 exactly */
    float y[4] = {2.5f, -2.5f, 0.0f, 0.0f};
    /* sigma = sqrt(12.5/3); compute scale the same way and rescale y onto exact ties */
    float sig = (float)(sqrt(12.5) / sqrt(3.0));
    float sc = 6.0f * sig / 256.0f;
    y[0] = 2.5f * sc;
    y[1] = -2.5f * sc;
    float sig2 = (float)(sqrt((double)y[0] * y[0] * 2) / sqrt(3.0));
    float sc2 = 6.0f * sig2 / 256.0f;
    uint8_t qy[4];
    agora__lut8_encode_ref(y, 4, qy, lut);
    int t = (int)roundf(y[0] / sc2);
    assert_int_equal(qy[0], 128 + t);
    assert_int_equal(qy[1], 128 - t);
    uint8_t qf[4];
    float lf[256];
    agora__lut8_encode(y, 4, qf, lf);
    assert_memory_equal(qy, qf, 4);
    /* outliers fold into buckets 0 and 255 and keep their mean */
    float o[1000];
    agora_test_fill_normal(o, 1000, 3);
    o[10] = 1000.0f;
    o[20] = -2000.0f;
    uint8_t qo[1000];
    agora__lut8_encode_ref(o, 1000, qo, lut);
    assert_int_equal(qo[10], 255);
    assert_int_equal(qo[20], 0);
    /* sigma == 0 and n < 2: every code 128, lut[128] = mean */
    float z[7] = {0};
    uint8_t qz[7];
    agora__lut8_encode(z, 7, qz, lut);
    for (int i = 0; i < 7; i++)
        assert_int_equal(qz[i], 128);
    agora_assert_near(lut[128], 0.0, 0);
    float one = 3.25f;
    agora__lut8_encode_ref(&one, 1, qz, lut);
    assert_int_equal(qz[0], 128);
    agora_assert_near(lut[128], 3.25, 0);
}

/* Documented bound (docs/comm.md): relative L2 error of one LUT8 round trip is below 1% on
 * Gaussian data (measured 1.7%) and below 35% on Student-t(3) data (measured 28%: outliers fold
 * into buckets 0 and 255, which keep their mean but not their spread); elements inside the +-3
 * sigma window are within one step (6 sigma / 256) of their value. */
static void check_bound(const float *x, size_t n, double rel_bound) {
    uint8_t *q = agora_malloc(n);
    float *y = agora_malloc(n * sizeof(float));
    float lut[256];
    agora__lut8_encode(x, n, q, lut);
    agora__lut8_decode_ref(q, n, lut, y);
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    double step = 6.0 * sqrt(ss / (double)(n - 1)) / 256.0;
    for (size_t i = 0; i < n; i++)
        if (q[i] > 0 && q[i] < 255)
            assert_true(fabs((double)y[i] - x[i]) <= step * 1.0001);
    double e = rel_l2(y, x, n);
    print_message("relative L2 error %.5f (bound %.3f)\n", e, rel_bound);
    assert_true(e < rel_bound);
    agora_free(q);
    agora_free(y);
}

static void q8_lut8_error_bound_gaussian(void **state) {
    (void)state;
    enum { N = 1 << 18 };
    float *x = agora_malloc(N * sizeof(float));
    agora_test_fill_normal(x, N, 11);
    check_bound(x, N, 0.025);
    agora_free(x);
}

static void q8_lut8_error_bound_heavy_tailed(void **state) {
    (void)state;
    enum { N = 1 << 18 };
    float *x = agora_malloc(N * sizeof(float));
    fill_student_t3(x, N, 12);
    check_bound(x, N, 0.35);
    agora_free(x);
}

static void q8_lut8_preserves_sum(void **state) {
    (void)state;
    enum { N = 50000 };
    float *x = agora_malloc(N * sizeof(float)), *y = agora_malloc(N * sizeof(float));
    uint8_t *q = agora_malloc(N);
    float lut[256];
    fill_student_t3(x, N, 5);
    agora__lut8_encode(x, N, q, lut);
    agora__lut8_decode_ref(q, N, lut, y);
    double sx = 0, sy = 0, sa = 0;
    for (size_t i = 0; i < N; i++) {
        sx += x[i];
        sy += y[i];
        sa += fabs(x[i]);
    }
    assert_true(fabs(sx - sy) <= 1e-5 * sa);
    agora_free(x);
    agora_free(y);
    agora_free(q);
}

static void q8_minmax8_rounds_to_nearest_and_handles_negative(void **state) {
    (void)state;
    float x[4] = {-10.0f, -5.0f, -7.5f, -9.99f};
    uint8_t q[4];
    float mn, step;
    agora__minmax8_encode(x, 4, q, &mn, &step);
    assert_true(mn == -10.0f);
    assert_true(step > 0.0f);
    assert_int_equal(q[0], 0);
    assert_int_equal(q[1], 255);
    /* 0.01 / step = 0.51 steps: truncation (PCCL) would give 0, rounding gives 1 */
    assert_int_equal(q[3], 1);
    uint8_t buf[8 + 4];
    agora__codec_encode(AGORA_CODEC_MINMAX8, x, 4, buf);
    agora_decoder d;
    agora__decoder_init(&d, AGORA_CODEC_MINMAX8, buf);
    float y[4];
    agora__decode_set(&d, buf + 8, 4, y);
    for (int i = 0; i < 4; i++)
        assert_true(fabsf(y[i] - x[i]) <= step * 0.5001f);
}

static void q8_minmax8_constant_input(void **state) {
    (void)state;
    float x[5] = {-3.0f, -3.0f, -3.0f, -3.0f, -3.0f};
    uint8_t buf[8 + 5];
    agora__codec_encode(AGORA_CODEC_MINMAX8, x, 5, buf);
    agora_decoder d;
    agora__decoder_init(&d, AGORA_CODEC_MINMAX8, buf);
    float y[5];
    agora__decode_set(&d, buf + 8, 5, y);
    for (int i = 0; i < 5; i++)
        assert_true(y[i] == -3.0f);
}

static void q8_streaming_decode_matches_whole(void **state) {
    (void)state;
    enum { N = 4099 };
    float x[N], whole[N], parts[N];
    agora_test_fill_normal(x, N, 9);
    for (int c = 0; c < AGORA__CODEC_COUNT; c++) {
        size_t bytes = agora__codec_bytes((agora_codec)c, N);
        uint8_t *buf = agora_malloc(bytes);
        agora__codec_encode((agora_codec)c, x, N, buf);
        agora_decoder d;
        size_t m = agora__codec_meta_bytes((agora_codec)c);
        agora__decoder_init(&d, (agora_codec)c, buf);
        memset(whole, 0, sizeof whole);
        memset(parts, 0, sizeof parts);
        agora__decode_add(&d, buf + m, N, whole);
        for (size_t i = 0; i < N; i += 1000) {
            size_t k = N - i < 1000 ? N - i : 1000;
            agora__decode_add(&d, buf + m + agora__codec_code_bytes((agora_codec)c, i), k,
                              parts + i);
        }
        assert_memory_equal(whole, parts, sizeof whole);
        if (c == AGORA_CODEC_F32)
            assert_memory_equal(whole, x, sizeof x);
        if (c == AGORA_CODEC_LUT8) { /* the SSE2/scalar and AVX2 decoders equal _ref */
            agora__lut8_decode_ref(buf + m, N, d.lut, whole);
            for (int avx2 = 0; avx2 < 2; avx2++) {
                agora__q8_allow_avx2(avx2);
                agora__decode_set(&d, buf + m, N, parts);
                assert_memory_equal(whole, parts, sizeof whole);
                memset(parts, 0, sizeof parts);
                agora__decode_add(&d, buf + m, N, parts);
                assert_memory_equal(whole, parts, sizeof whole);
            }
            agora__q8_allow_avx2(1);
        }
        if (c == AGORA_CODEC_E3M0) { /* the scalar and AVX2 decoders agree, any length */
            float ref[64], got[64];
            for (size_t n = 1; n <= 40; n++)
                for (int add = 0; add < 2; add++) {
                    for (int avx2 = 0; avx2 < 2; avx2++) {
                        float *out = avx2 ? got : ref;
                        memcpy(out, x, sizeof ref);
                        agora__q8_allow_avx2(avx2);
                        if (add)
                            agora__decode_add(&d, buf + m + 1, n, out); /* from element 2 */
                        else
                            agora__decode_set(&d, buf + m + 1, n, out);
                    }
                    assert_memory_equal(ref, got, sizeof ref);
                }
            for (int add = 0; add < 2; add++) { /* and the whole piece */
                for (int avx2 = 0; avx2 < 2; avx2++) {
                    float *out = avx2 ? parts : whole;
                    memcpy(out, x, sizeof x);
                    agora__q8_allow_avx2(avx2);
                    if (add)
                        agora__decode_add(&d, buf + m, N, out);
                    else
                        agora__decode_set(&d, buf + m, N, out);
                }
                assert_memory_equal(whole, parts, sizeof whole);
            }
            agora__q8_allow_avx2(1);
        }
        agora_free(buf);
    }
}

/* The SSE2/scalar and (where present) AVX2 E3M0 encoders agree bit for bit on x[0..n). */
static void e3m0_check_paths(const float *x, size_t n) {
    uint8_t *q0 = agora_malloc(n / 2 + 1), *q1 = agora_malloc(n / 2 + 1);
    float l0[16], l1[16];
    agora__q8_allow_avx2(0);
    agora__e3m0_encode(x, n, q0, l0);
    agora__q8_allow_avx2(1);
    agora__e3m0_encode(x, n, q1, l1);
    assert_memory_equal(q0, q1, (n + 1) / 2);
    assert_memory_equal(l0, l1, sizeof l0);
    agora_free(q0);
    agora_free(q1);
}

/* E3M0 codes by hand: sign << 3 | clamp(7 + nearest power of two of |x| / amax, 0, 7);
 * decode gives each code's bucket mean; odd lengths leave the last high nibble 0. */
static void q8_e3m0_golden_codes_and_bucket_means(void **state) {
    (void)state;
    /* amax 8: 8 -> 2^0 (e 7); -4 -> 2^-1 (e 6, negative); 3 = 1.5 * 2 -> rounds up to 4
     * (e 6); 2.9 -> 2 (e 5); 0 and 0.01 -> e 0 (0.01 / 8 < 2^-7) */
    const float x[7] = {8.0f, -4.0f, 3.0f, 2.9f, 0.0f, 0.01f, -8.0f};
    uint8_t codes[4];
    float lut[16];
    agora__e3m0_encode(x, 7, codes, lut);
    const uint8_t want[4] = {7 | (8 | 6) << 4, 6 | 5 << 4, 0 | 0 << 4, 8 | 7};
    assert_memory_equal(codes, want, 4);
    assert_true(lut[7] == 8.0f && lut[15] == -8.0f && lut[14] == -4.0f);
    assert_true(lut[6] == 3.0f && lut[5] == 2.9f && lut[0] == 0.005f);
    uint8_t buf[AGORA_E3M0_META + 4];
    agora__codec_encode(AGORA_CODEC_E3M0, x, 7, buf);
    assert_int_equal(agora__codec_bytes(AGORA_CODEC_E3M0, 7), sizeof buf);
    agora_decoder d;
    agora__decoder_init(&d, AGORA_CODEC_E3M0, buf);
    float y[7];
    agora__decode_set(&d, buf + AGORA_E3M0_META, 7, y);
    const float wy[7] = {8.0f, -4.0f, 3.0f, 2.9f, 0.005f, 0.005f, -8.0f};
    assert_memory_equal(y, wy, sizeof y);
    /* the vector path against the definition (frexp: a = m 2^p, m in [0.5, 1); the nearest
     * power of two is 2^p when m >= 0.75, else 2^(p-1)), on mixed scales and signs */
    enum { M = 1003 };
    float *r = agora_malloc(M * sizeof(float));
    uint8_t *rc = agora_malloc((M + 1) / 2);
    agora_test_fill_normal(r, M, 5);
    for (size_t i = 0; i < M; i++)
        r[i] *= (float)ldexp(1.0, (int)(i % 13) - 6);
    r[10] = 0.0f;
    r[11] = -0.0f;
    agora__e3m0_encode(r, M, rc, lut);
    float amax = 0;
    for (size_t i = 0; i < M; i++)
        amax = fabsf(r[i]) > amax ? fabsf(r[i]) : amax;
    for (size_t i = 0; i < M; i++) {
        float a = fabsf(r[i]) * (1.0f / amax);
        int p = 0, level = -1000;
        if (a > 0) {
            float m = frexpf(a, &p);
            level = m >= 0.75f ? p : p - 1;
        }
        int e = 7 + level < 0 ? 0 : (7 + level > 7 ? 7 : 7 + level);
        unsigned want_code = (signbit(r[i]) ? 8u : 0u) | (unsigned)e;
        unsigned got = (rc[i / 2] >> (4 * (i & 1))) & 15u;
        if (got != want_code)
            fail_msg("element %zu (%g): code %u, want %u", i, (double)r[i], got, want_code);
    }
    e3m0_check_paths(r, M);
    /* exponents from 2^-40 to 2^10: the double sums round, so their order shows */
    enum { W = 100001 };
    float *w = agora_malloc(W * sizeof(float));
    agora_test_fill_normal(w, W, 6);
    for (size_t i = 0; i < W; i++)
        w[i] *= (float)ldexp(1.0, (int)(i * 7919 % 51) - 40);
    e3m0_check_paths(w, W);
    agora_free(w);
    r[100] = NAN; /* never the amax; codes as 7 with its sign bit, in both paths */
    for (size_t n = 2; n <= 300; n++)
        e3m0_check_paths(r + 1, n);
    e3m0_check_paths(r, M);
    agora_free(r);
    agora_free(rc);
    /* constant zero input: everything in bucket 0, decoded as the mean */
    const float z[3] = {0, 0, 0};
    agora__e3m0_encode(z, 3, codes, lut);
    assert_true(codes[0] == 0 && codes[1] == 0 && lut[0] == 0.0f);
}

/* Bucket means keep the piece sum; the error relative to the data is stated in
 * docs/comm.md: at most 0.25 (Gaussian) and 0.3 (Student-t3) in L2 over 1e5 elements. */
static void q8_e3m0_preserves_sum_and_error_bound(void **state) {
    (void)state;
    enum { N = 100001 };
    float *x = agora_malloc(N * sizeof(float)), *y = agora_malloc(N * sizeof(float));
    uint8_t *buf = agora_malloc(agora__codec_bytes(AGORA_CODEC_E3M0, N));
    for (int dist = 0; dist < 2; dist++) {
        if (dist == 0)
            agora_test_fill_normal(x, N, 21);
        else
            fill_student_t3(x, N, 22);
        agora__codec_encode(AGORA_CODEC_E3M0, x, N, buf);
        agora_decoder d;
        agora__decoder_init(&d, AGORA_CODEC_E3M0, buf);
        agora__decode_set(&d, buf + AGORA_E3M0_META, N, y);
        double sx = 0, sy = 0, ax = 0;
        for (size_t i = 0; i < N; i++) {
            sx += x[i];
            sy += y[i];
            ax += fabs(x[i]);
        }
        agora_assert_near(sy, sx, 1e-5 * ax);
        double e = rel_l2(y, x, N);
        print_message("e3m0 %s: relative L2 error %.3f\n", dist ? "student-t3" : "gaussian", e);
        assert_true(e < (dist == 0 ? 0.25 : 0.3));
    }
    agora_free(x);
    agora_free(y);
    agora_free(buf);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(q8_lut8_fast_matches_reference),
        cmocka_unit_test(q8_lut8_golden_ties_outliers_sigma_zero),
        cmocka_unit_test(q8_lut8_error_bound_gaussian),
        cmocka_unit_test(q8_lut8_error_bound_heavy_tailed),
        cmocka_unit_test(q8_lut8_preserves_sum),
        cmocka_unit_test(q8_minmax8_rounds_to_nearest_and_handles_negative),
        cmocka_unit_test(q8_minmax8_constant_input),
        cmocka_unit_test(q8_streaming_decode_matches_whole),
        cmocka_unit_test(q8_e3m0_golden_codes_and_bucket_means),
        cmocka_unit_test(q8_e3m0_preserves_sum_and_error_bound),
    };
    return agora_test_main(tests, argc, argv);
}
