/* test_core_log.c: level and subsystem filters, lazy arguments, the replaceable sink. */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/log.h"

static char g_last[4096];
static int g_lines;

static void capture(agora_log_level level, uint32_t sub, const char *line, void *user) {
    (void)level;
    (void)sub;
    (void)user;
    snprintf(g_last, sizeof g_last, "%s", line);
    g_lines++;
}

static int g_evaluated;
static int side_effect(void) {
    g_evaluated++;
    return 1;
}

static void log_filters_by_level_without_evaluating_args(void **state) {
    (void)state;
    agora_log_set_sink(capture, NULL);
    agora_log_set_level(AGORA_LOG_LEVEL_INFO);
    agora_log_set_subsys(AGORA_SUB_ALL);
    g_lines = 0;
    g_evaluated = 0;
    AGORA_LOG_DEBUG(AGORA_SUB_COMM, "hidden %d", side_effect());
    assert_int_equal(g_lines, 0);
    assert_int_equal(g_evaluated, 0);
    AGORA_LOG_INFO(AGORA_SUB_COMM, "peer %d joined", 3);
    assert_int_equal(g_lines, 1);
    assert_non_null(strstr(g_last, "INFO"));
    assert_non_null(strstr(g_last, "comm"));
    assert_non_null(strstr(g_last, "peer 3 joined"));
    agora_log_set_sink(NULL, NULL);
}

static void log_filters_by_subsystem(void **state) {
    (void)state;
    agora_log_set_sink(capture, NULL);
    agora_log_set_level(AGORA_LOG_LEVEL_TRACE);
    agora_log_set_subsys(AGORA_SUB_SIM);
    g_lines = 0;
    AGORA_LOG_INFO(AGORA_SUB_COMM, "not shown");
    AGORA_LOG_TRACE(AGORA_SUB_SIM, "shown");
    assert_int_equal(g_lines, 1);
    assert_non_null(strstr(g_last, "sim  shown"));
    agora_log_set_sink(NULL, NULL);
    agora_log_set_subsys(AGORA_SUB_ALL);
}

static void log_env_configures_level_and_mask(void **state) {
    (void)state;
    setenv("AGORA_LOG", "warn", 1);
    setenv("AGORA_LOG_SUBSYS", "train,ckpt", 1);
    assert_int_equal(agora_log_init_from_env(), 0);
    assert_int_equal(agora__log_level, AGORA_LOG_LEVEL_WARN);
    assert_int_equal(agora__log_mask, AGORA_SUB_TRAIN | AGORA_SUB_CKPT);
    setenv("AGORA_LOG", "loud", 1);
    setenv("AGORA_LOG_SUBSYS", "all", 1);
    assert_int_equal(agora_log_init_from_env(), -1); /* the bad level is reported */
    assert_int_equal(agora__log_level, AGORA_LOG_LEVEL_WARN);
    assert_int_equal(agora__log_mask, AGORA_SUB_ALL);
    unsetenv("AGORA_LOG");
    unsetenv("AGORA_LOG_SUBSYS");
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(log_filters_by_level_without_evaluating_args),
        cmocka_unit_test(log_filters_by_subsystem),
        cmocka_unit_test(log_env_configures_level_and_mask),
    };
    return agora_test_main(tests, argc, argv);
}
