/* test_core_rng.c: Philox known answers, reproducibility, independence of streams. */
#include "agora_test.h"

#include <math.h>
#include <string.h>

#include "agora/rng.h"

/* Known-answer vectors from Random123's kat_vectors for philox4x32_10. */
static void rng_philox_known_answers(void **state) {
    (void)state;
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    const uint32_t e0[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    const uint32_t c1[4] = {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
    const uint32_t k1[2] = {0xffffffff, 0xffffffff};
    const uint32_t e1[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
    const uint32_t c2[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
    const uint32_t k2[2] = {0xa4093822, 0x299f31d0};
    const uint32_t e2[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
    uint32_t out[4];
    agora_philox4x32(c0, k0, out);
    assert_memory_equal(out, e0, sizeof out);
    agora_philox4x32(c1, k1, out);
    assert_memory_equal(out, e1, sizeof out);
    agora_philox4x32(c2, k2, out);
    assert_memory_equal(out, e2, sizeof out);
}

static void rng_same_seed_same_sequence(void **state) {
    (void)state;
    agora_rng a, b;
    agora_rng_seed(&a, 42, AGORA_RNG_STREAM_TEST, 3);
    agora_rng_seed(&b, 42, AGORA_RNG_STREAM_TEST, 3);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(agora_rng_u32(&a), agora_rng_u32(&b));
    /* A saved position resumes exactly. */
    agora_rng saved = a;
    double x = agora_rng_normal(&a);
    assert_true(agora_rng_normal(&saved) == x);
}

static void rng_stateless_access_matches_stream(void **state) {
    (void)state;
    agora_rng r;
    agora_rng_seed(&r, 9, AGORA_RNG_STREAM_SIM_POST, 77);
    for (uint64_t blk = 0; blk < 50; blk++)
        for (unsigned w = 0; w < 4; w++)
            assert_int_equal(agora_rng_u32(&r),
                             agora_rng_at(9, AGORA_RNG_STREAM_SIM_POST, 77, blk, w));
}

/* Per-index streams give the same values whatever order (or thread) consumes them. */
static void rng_streams_are_order_independent(void **state) {
    (void)state;
    enum { N = 256, K = 17 };
    static uint32_t fwd[N][K], rev[N][K];
    for (int i = 0; i < N; i++) {
        agora_rng r;
        agora_rng_seed(&r, 5, AGORA_RNG_STREAM_SIM_AGENT, (uint32_t)i);
        for (int k = 0; k < K; k++)
            fwd[i][k] = agora_rng_u32(&r);
    }
    for (int i = N - 1; i >= 0; i--) {
        agora_rng r;
        agora_rng_seed(&r, 5, AGORA_RNG_STREAM_SIM_AGENT, (uint32_t)i);
        for (int k = 0; k < K; k++)
            rev[i][k] = agora_rng_u32(&r);
    }
    assert_memory_equal(fwd, rev, sizeof fwd);
}

/* Neighbouring streams, indices and seeds are uncorrelated. */
static void rng_streams_are_independent(void **state) {
    (void)state;
    enum { N = 200000 };
    agora_rng a, b, c, d;
    agora_rng_seed(&a, 1, AGORA_RNG_STREAM_TEST, 0);
    agora_rng_seed(&b, 1, AGORA_RNG_STREAM_TEST, 1);
    agora_rng_seed(&c, 1, AGORA_RNG_STREAM_INIT, 0);
    agora_rng_seed(&d, 2, AGORA_RNG_STREAM_TEST, 0);
    double sab = 0, sac = 0, sad = 0, sa = 0, sa2 = 0;
    int equal = 0;
    for (int i = 0; i < N; i++) {
        double x = agora_rng_uniform(&a) - 0.5, y = agora_rng_uniform(&b) - 0.5;
        double z = agora_rng_uniform(&c) - 0.5, w = agora_rng_uniform(&d) - 0.5;
        sab += x * y;
        sac += x * z;
        sad += x * w;
        sa += x;
        sa2 += x * x;
        equal += (x == y);
    }
    /* Correlations of independent uniforms: sd = 1/sqrt(N) ~ 0.0022; allow 5 sd. */
    double var = sa2 / N;
    assert_true(fabs(sab / N / var) < 0.012);
    assert_true(fabs(sac / N / var) < 0.012);
    assert_true(fabs(sad / N / var) < 0.012);
    assert_true(fabs(sa / N) < 0.004);
    assert_true(fabs(var - 1.0 / 12) < 0.002);
    assert_true(equal < 3);
}

static void rng_distributions_have_right_moments(void **state) {
    (void)state;
    enum { N = 200000 };
    agora_rng r;
    agora_rng_seed(&r, 3, AGORA_RNG_STREAM_TEST, 0);
    double s = 0, s2 = 0, se = 0, sp = 0, sp_big = 0;
    uint32_t hist[7] = {0};
    for (int i = 0; i < N; i++) {
        double z = agora_rng_normal(&r);
        s += z;
        s2 += z * z;
        se += agora_rng_exponential(&r);
        sp += agora_rng_poisson(&r, 2.5);
        sp_big += agora_rng_poisson(&r, 80.0);
        uint32_t k = agora_rng_below(&r, 7);
        assert_true(k < 7);
        hist[k]++;
    }
    agora_assert_near(s / N, 0.0, 0.015);
    agora_assert_near(s2 / N, 1.0, 0.02);
    agora_assert_near(se / N, 1.0, 0.015);
    agora_assert_near(sp / N, 2.5, 0.03);
    agora_assert_near(sp_big / N, 80.0, 0.2);
    for (int k = 0; k < 7; k++)
        agora_assert_near(hist[k] / (double)N, 1.0 / 7, 0.006);
    assert_int_equal(agora_rng_poisson(&r, 0.0), 0);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_philox_known_answers),
        cmocka_unit_test(rng_same_seed_same_sequence),
        cmocka_unit_test(rng_stateless_access_matches_stream),
        cmocka_unit_test(rng_streams_are_order_independent),
        cmocka_unit_test(rng_streams_are_independent),
        cmocka_unit_test(rng_distributions_have_right_moments),
    };
    return agora_test_main(tests, argc, argv);
}
