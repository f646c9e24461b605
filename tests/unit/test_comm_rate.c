/* test_comm_rate.c: the send rate limit (src/comm/rate.c) and its config key. */
#include "agora_test.h"

#include <string.h>

#include "agora/comm.h"
#include "agora/config.h"
#include "agora/time.h"
#include "comm/rate.h"

/* Over any run, a sender that asks the bucket before every send never exceeds one burst
 * plus rate x elapsed. An upper bound on bytes: a busy machine only sends fewer. */
static void rate_bucket_never_exceeds_burst_plus_rate(void **state) {
    (void)state;
    const double mbps = 80.0; /* 10 MB/s */
    agora__rate r;
    agora__rate_init(&r, mbps);
    int64_t t0 = agora_now_ns();
    double sent = 0;
    int waits = 0;
    while (agora_now_ns() - t0 < 100 * 1000000LL) {
        int32_t wait = 0;
        size_t n = agora__rate_allow(&r, 100000, &wait);
        if (n == 0) {
            assert_true(wait >= 1 && wait <= 1000);
            agora_sleep_ns((int64_t)wait * 1000000);
            waits++;
            continue;
        }
        assert_true(n <= 100000);
        agora__rate_charge(&r, n);
        sent += (double)n;
    }
    double elapsed = (double)(agora_now_ns() - t0) / 1e9;
    double bound = agora__rate_burst_bytes(mbps) + mbps * 1e6 / 8.0 * elapsed;
    if (sent > bound)
        fail_msg("sent %.0f bytes in %.3f s, bound %.0f", sent, elapsed, bound);
    assert_true(waits > 0); /* the bucket did run dry */
    agora__rate_destroy(&r);
}

static void rate_unlimited_allows_everything(void **state) {
    (void)state;
    agora__rate r;
    agora__rate_init(&r, 0.0);
    int32_t wait = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(agora__rate_allow(&r, (size_t)1 << 30, &wait), (size_t)1 << 30);
        agora__rate_charge(&r, (size_t)1 << 30);
    }
    assert_int_equal(wait, 0);
    agora__rate_destroy(&r);
}

static void rate_config_key_defaults_to_unlimited(void **state) {
    (void)state;
    agora_comm_cfg cc;
    memset(&cc, 0xff, sizeof cc);
    agora_cfg_table t = agora_comm_cfg_table(&cc);
    agora_cfg_set_defaults(&t, 1);
    assert_true(cc.rate_limit_mbps == 0.0);
    char err[AGORA_ERR_LEN];
    agora_assert_ok(agora_cfg_set(&t, 1, "comm.rate_limit_mbps=100", err));
    assert_true(cc.rate_limit_mbps == 100.0);
    agora_assert_err(agora_cfg_set(&t, 1, "comm.rate_limit_mbps=-1", err), AGORA_ERANGE);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_bucket_never_exceeds_burst_plus_rate),
        cmocka_unit_test(rate_unlimited_allows_everything),
        cmocka_unit_test(rate_config_key_defaults_to_unlimited),
    };
    return agora_test_main(tests, argc, argv);
}
