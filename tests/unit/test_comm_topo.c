/* test_comm_topo.c: ring ordering (src/comm/topo.c). */
#include "agora_test.h"

#include <math.h>
#include <string.h>

#include "agora/comm.h"
#include "agora/rng.h"

static void random_bw(double *bw, uint32_t n, uint64_t seed) {
    agora_rng r;
    agora_rng_seed(&r, seed, AGORA_RNG_STREAM_TEST, n);
    for (uint32_t i = 0; i < n * n; i++)
        bw[i] = 1.0 + (double)agora_rng_below(&r, 100); /* ties happen */
}

static bool is_perm(const uint32_t *o, uint32_t n) {
    uint8_t seen[64] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (o[i] >= n || seen[o[i]])
            return false;
        seen[o[i]] = 1;
    }
    return o[0] == 0;
}

static double sum_of(const double *bw, uint32_t n, const uint32_t *o) {
    double s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += bw[o[i] * n + o[(i + 1) % n]];
    return s;
}

/* brute force over permutations fixing 0 */
static void brute(const double *bw, uint32_t n, uint32_t *p, uint32_t k, double *bb, double *bs) {
    if (k == n) {
        double b = agora_ring_bottleneck(bw, n, p), s = sum_of(bw, n, p);
        if (b > *bb || (b == *bb && s > *bs)) {
            *bb = b;
            *bs = s;
        }
        return;
    }
    for (uint32_t i = k; i < n; i++) {
        uint32_t t = p[k];
        p[k] = p[i];
        p[i] = t;
        brute(bw, n, p, k + 1, bb, bs);
        p[i] = p[k];
        p[k] = t;
    }
}

static void topo_exact_matches_brute_force(void **state) {
    (void)state;
    for (uint32_t n = 3; n <= 8; n++)
        for (uint64_t seed = 1; seed <= 5; seed++) {
            double bw[64];
            random_bw(bw, n, seed);
            uint32_t o[8], p[8];
            agora_assert_ok(agora_ring_order(bw, n, o));
            assert_true(is_perm(o, n));
            for (uint32_t i = 0; i < n; i++)
                p[i] = i;
            double bb = -1, bs = -1;
            brute(bw, n, p, 1, &bb, &bs);
            agora_assert_near(agora_ring_bottleneck(bw, n, o), bb, 0);
            agora_assert_near(sum_of(bw, n, o), bs, 0);
        }
}

static void topo_prefers_fast_links(void **state) {
    (void)state;
    /* 4 peers: the ring 0->2->1->3->0 is fast (10), everything else slow (1). */
    double bw[16];
    for (int i = 0; i < 16; i++)
        bw[i] = 1;
    bw[0 * 4 + 2] = bw[2 * 4 + 1] = bw[1 * 4 + 3] = bw[3 * 4 + 0] = 10;
    uint32_t o[4];
    agora_assert_ok(agora_ring_order(bw, 4, o));
    assert_int_equal(o[0], 0);
    assert_int_equal(o[1], 2);
    assert_int_equal(o[2], 1);
    assert_int_equal(o[3], 3);
    agora_assert_near(agora_ring_bottleneck(bw, 4, o), 10, 0);
}

static void topo_heuristic_large_is_valid(void **state) {
    (void)state;
    enum { N = 40 };
    static double bw[N * N];
    random_bw(bw, N, 3);
    /* plant a fast ring 0 -> 1 -> ... -> N-1 -> 0 shuffled by a stride */
    for (uint32_t i = 0; i < N; i++)
        bw[((i * 7) % N) * N + ((i + 1) * 7 % N)] = 500;
    uint32_t o[N];
    agora_assert_ok(agora_ring_order(bw, N, o));
    uint8_t seen[N] = {0};
    for (uint32_t i = 0; i < N; i++) {
        assert_true(o[i] < N && !seen[o[i]]);
        seen[o[i]] = 1;
    }
    uint32_t id[N];
    for (uint32_t i = 0; i < N; i++)
        id[i] = i;
    assert_true(agora_ring_bottleneck(bw, N, o) >= agora_ring_bottleneck(bw, N, id));
    agora_assert_err(agora_ring_order(bw, 0, o), AGORA_EINVAL);
}

static void topo_tie_break_by_sum(void **state) {
    (void)state;
    /* every ring has bottleneck 1 (edge 0->1 and 0->2 are both 1 ... ) */
    double bw[9] = {0, 1, 1, 5, 0, 9, 9, 2, 0};
    uint32_t o[3];
    agora_assert_ok(agora_ring_order(bw, 3, o));
    /* rings: 0-1-2-0: 1,9,9 (b=1,s=19); 0-2-1-0: 1,2,5 (b=1,s=8) */
    assert_int_equal(o[1], 1);
    assert_int_equal(o[2], 2);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topo_exact_matches_brute_force),
        cmocka_unit_test(topo_prefers_fast_links),
        cmocka_unit_test(topo_heuristic_large_is_valid),
        cmocka_unit_test(topo_tie_break_by_sum),
    };
    return agora_test_main(tests, argc, argv);
}
