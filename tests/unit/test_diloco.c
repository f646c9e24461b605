/* test_diloco.c: the DiLoCo outer-step arithmetic against PyTorch's SGD(nesterov=True)
 * written out by hand, and its determinism. */
#include "agora_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/diloco.h"
#include "train/diloco_internal.h"

/* torch.optim.SGD(lr, momentum=mu, nesterov=True, dampening=0):
 *   step 1: buf = g;           p -= lr * (g + mu * buf)
 *   step k: buf = mu*buf + g;  p -= lr * (g + mu * buf)                         */
static void diloco_outer_nesterov_matches_pytorch_by_hand(void **state) {
    (void)state;
    float theta[3] = {1.0f, -2.0f, 0.5f}, mom[3] = {0, 0, 0};
    const float g1[3] = {0.1f, -0.2f, 0.0f}, g2[3] = {0.3f, 0.1f, -0.4f};
    const float lr = 0.7f, mu = 0.9f;
    double want[3], buf[3];
    for (int i = 0; i < 3; i++) {
        buf[i] = g1[i];
        want[i] = (double)theta[i] - lr * (g1[i] + mu * buf[i]);
    }
    agora_diloco_outer_nesterov(theta, mom, g1, 3, lr, mu);
    for (int i = 0; i < 3; i++) {
        agora_assert_near(mom[i], buf[i], 1e-7);
        agora_assert_near(theta[i], want[i], 1e-6);
    }
    for (int i = 0; i < 3; i++) {
        buf[i] = mu * buf[i] + g2[i];
        want[i] = want[i] - lr * (g2[i] + mu * buf[i]);
    }
    agora_diloco_outer_nesterov(theta, mom, g2, 3, lr, mu);
    for (int i = 0; i < 3; i++) {
        agora_assert_near(mom[i], buf[i], 1e-6);
        agora_assert_near(theta[i], want[i], 1e-6);
    }
}

/* The eager estimate is the outer step applied to copies: same bytes, state untouched. */
static void diloco_outer_estimate_matches_step_without_side_effects(void **state) {
    (void)state;
    float theta[4] = {1.0f, -2.0f, 0.5f, 3.0f}, mom[4] = {0.2f, 0.0f, -0.1f, 1.0f};
    const float g[4] = {0.1f, -0.2f, 0.0f, 0.3f};
    float theta2[4], mom2[4], est[4];
    memcpy(theta2, theta, sizeof theta);
    memcpy(mom2, mom, sizeof mom);
    agora_diloco_outer_estimate(est, theta, mom, g, 4, 0.7f, 0.9f);
    agora_diloco_outer_nesterov(theta2, mom2, g, 4, 0.7f, 0.9f);
    assert_memory_equal(est, theta2, sizeof est);
    const float theta0[4] = {1.0f, -2.0f, 0.5f, 3.0f}, mom0[4] = {0.2f, 0.0f, -0.1f, 1.0f};
    assert_memory_equal(theta, theta0, sizeof theta);
    assert_memory_equal(mom, mom0, sizeof mom);
}

/* INTELLECT-1's Table 2 (spec §2): 100 inner steps take 38 min (2280 s); the median
 * all-reduce gives the utilization, and 43.3% x utilization the effective MFU. The
 * 10B shape at 8192 tokens costs 7.50e10 FLOPs per token (§14). */
static void diloco_reproduces_intellect1_table2(void **state) {
    (void)state;
    const double median_s[3] = {103, 382, 469}, util[3] = {0.957, 0.856, 0.829},
                 mfu[3] = {41.4, 37.1, 35.9};
    for (int i = 0; i < 3; i++) {
        double u = agora_diloco_utilization(2280.0, median_s[i]);
        agora_assert_near(u, util[i], 0.0006);
        agora_assert_near(43.3 * u, mfu[i], 0.06);
    }
    assert_true(agora_diloco_utilization(0, 0) == 0.0);
    agora_model_config c;
    agora_assert_ok(agora_model_config_preset("intellect-1", &c));
    double f = agora_model_flops_per_token(&c, 8192);
    agora_assert_near(f / 7.50e10, 1.0, 0.003);
}

static void diloco_pseudo_grad_is_outer_minus_inner(void **state) {
    (void)state;
    const float outer[4] = {1, 2, 3, 4}, inner[4] = {0.5f, 2, 4, -1};
    float d[4];
    agora_diloco_pseudo_grad(d, outer, inner, 4);
    const float want[4] = {0.5f, 0, -1, 5};
    assert_memory_equal(d, want, sizeof d);
}

/* Two replicas fed the same averaged delta stay byte-identical over many steps. */
static void diloco_outer_step_is_bit_reproducible(void **state) {
    (void)state;
    enum { N = 4096 };
    static float a[N], b[N], ma[N], mb[N], g[N];
    agora_test_fill_normal(a, N, 1);
    memcpy(b, a, sizeof a);
    memset(ma, 0, sizeof ma);
    memset(mb, 0, sizeof mb);
    for (int s = 0; s < 20; s++) {
        agora_test_fill_normal(g, N, (uint64_t)(100 + s));
        agora_diloco_outer_nesterov(a, ma, g, N, 0.7f, 0.9f);
        agora_diloco_outer_nesterov(b, mb, g, N, 0.7f, 0.9f);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(ma, mb, sizeof ma);
}

/* Norms: NaN/inf deltas give -1; the screen leaves out non-finite deltas and outliers
 * above max_ratio x the lower median, never non-contributors (0). */
static void diloco_screen_leaves_out_nonfinite_and_outliers(void **state) {
    (void)state;
    float d[4] = {3, 4, 0, 0};
    agora_assert_near(agora_diloco_delta_norm(d, 4), 5.0, 1e-6);
    d[2] = NAN;
    assert_true(agora_diloco_delta_norm(d, 4) == -1.0f);
    d[2] = INFINITY;
    assert_true(agora_diloco_delta_norm(d, 4) == -1.0f);
    d[2] = 3e38f; /* finite elements, a norm past float's range */
    d[3] = 3e38f;
    assert_true(agora_diloco_delta_norm(d, 4) == -1.0f);
    uint8_t keep[6];
    const float a[6] = {1.0f, 1.2f, 0.0f, 50.0f, -1.0f, 0.9f};
    /* lower median of {0.9, 1, 1.2, 50} is 1: 50 > 10 x 1 goes, -1 (not finite) goes */
    assert_int_equal(agora_diloco_screen(a, 6, 10.0, keep), 2);
    const uint8_t want[6] = {1, 1, 0, 0, 0, 1};
    assert_memory_equal(keep, want, 6);
    /* ratio 0: only non-finite deltas go */
    assert_int_equal(agora_diloco_screen(a, 6, 0.0, keep), 1);
    assert_true(keep[3] == 1 && keep[4] == 0);
    /* two members: the lower median is the smaller norm */
    const float b[2] = {1.0f, 1e6f};
    assert_int_equal(agora_diloco_screen(b, 2, 10.0, keep), 1);
    assert_true(keep[0] == 1 && keep[1] == 0);
    const float c[2] = {1.0f, 5.0f};
    assert_int_equal(agora_diloco_screen(c, 2, 10.0, keep), 0);
    /* NaN in the census is a contribution gone wrong */
    const float e[3] = {1.0f, NAN, 0.0f};
    assert_int_equal(agora_diloco_screen(e, 3, 10.0, keep), 1);
    assert_true(keep[0] == 1 && keep[1] == 0 && keep[2] == 0);
}

/* Streaming fragments: every float of the slab in exactly one fragment, each layer's
 * tensors in fragment l mod P, the embedding in 0 and the LM head in P - 1; with one
 * fragment the whole slab [0, n) as one range. Also the merge-back of a synced fragment. */
static void diloco_streaming_plan_covers_every_parameter_once(void **state) {
    (void)state;
    agora_model_config cfg;
    assert_int_equal(agora_model_config_preset("tiny", &cfg), AGORA_OK);
    agora_model *m = NULL;
    assert_int_equal(agora_model_create(&cfg, 1, &m), AGORA_OK);
    size_t n = agora_model_n_params(m), nt = agora_model_n_tensors(m);
    size_t off[256], len[256], first[8];
    unsigned char *seen = agora_calloc(n, 1);
    assert_non_null(seen);
    assert_true(nt < 256);
    for (size_t P = 1; P <= 4; P++) {
        memset(seen, 0, n);
        agora__diloco_plan(m, n, P, off, len, first);
        assert_int_equal(first[0], 0);
        for (size_t q = 0; q < P; q++)
            for (size_t r = first[q]; r < first[q + 1]; r++)
                for (size_t i = off[r]; i < off[r] + len[r]; i++) {
                    assert_true(i < n);
                    assert_int_equal(seen[i], 0);
                    seen[i] = (unsigned char)(q + 1);
                }
        for (size_t i = 0; i < n; i++)
            assert_true(seen[i] != 0);
        for (size_t i = 0; i < nt; i++) {
            const agora_model_param *t = agora_model_tensor(m, i);
            int layer = -1;
            size_t want = P; /* the LM head and the final norm */
            if (sscanf(t->name, "model.layers.%d.", &layer) == 1)
                want = (size_t)layer % P + 1;
            else if (strstr(t->name, "embed_tokens") != NULL)
                want = 1;
            assert_int_equal(seen[t->offset], want);
        }
        if (P == 1) {
            assert_int_equal(first[1], 1);
            assert_int_equal(off[0], 0);
            assert_int_equal(len[0], n);
        }
    }
    agora_free(seen);
    agora_model_destroy(m);
    float inner[3] = {1, 2, 3}, outer[3] = {3, 2, 1};
    agora_diloco_mix(inner, outer, 3, 0.5f);
    assert_true(inner[0] == 2 && inner[1] == 2 && inner[2] == 2);
    agora_diloco_mix(inner, outer, 3, 0.0f);
    assert_true(inner[0] == 3 && inner[1] == 2 && inner[2] == 1);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(diloco_outer_nesterov_matches_pytorch_by_hand),
        cmocka_unit_test(diloco_pseudo_grad_is_outer_minus_inner),
        cmocka_unit_test(diloco_outer_estimate_matches_step_without_side_effects),
        cmocka_unit_test(diloco_reproduces_intellect1_table2),
        cmocka_unit_test(diloco_outer_step_is_bit_reproducible),
        cmocka_unit_test(diloco_screen_leaves_out_nonfinite_and_outliers),
        cmocka_unit_test(diloco_streaming_plan_covers_every_parameter_once),
    };
    return agora_test_main(tests, argc, argv);
}
