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
        size_t m = agora__codec_meta_bytes((agora_codec)c),
               es = agora__codec_elem_bytes((agora_codec)c);
        agora__decoder_init(&d, (agora_codec)c, buf);
        memset(whole, 0, sizeof whole);
        memset(parts, 0, sizeof parts);
        agora__decode_add(&d, buf + m, N, whole);
        for (size_t i = 0; i < N; i += 1000) {
            size_t k = N - i < 1000 ? N - i : 1000;
            agora__decode_add(&d, buf + m + i * es, k, parts + i);
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
        agora_free(buf);
    }
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
    };
    return agora_test_main(tests, argc, argv);
}
