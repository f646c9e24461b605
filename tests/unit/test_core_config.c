/* test_core_config.c: config layering (defaults < file < env < --set) and rejection of
 * bad input with the exact message. */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/config.h"

typedef struct tparams {
    int64_t n_agents;
    double beta;
    bool frozen;
    char name[AGORA_CFG_STR_LEN];
    int recsys;
    int64_t seed;
} tparams;

static const char *const k_recsys[] = {"chrono", "engagement", "random", NULL};

static const agora_cfg_entry k_cfg[] = {
    AGORA_CFG_INT(tparams, "sim.n_agents", n_agents, 10000, 10, 10000000, "number of agents"),
    AGORA_CFG_DBL(tparams, "sim.beta_neg", beta, 0.5, 0.0, 10.0, "negativity bias"),
    AGORA_CFG_BOOL(tparams, "sim.frozen", frozen, 0, "freeze opinions"),
    AGORA_CFG_STR(tparams, "run.name", name, "default", "run name"),
    AGORA_CFG_ENUM(tparams, "sim.recsys", recsys, "chrono", k_recsys, "feed ranker"),
    AGORA_CFG_INT(tparams, "seed", seed, 1, 0, INT64_MAX, "global seed"),
};

static tparams g_p;
static agora_cfg_table g_t = {k_cfg, sizeof k_cfg / sizeof k_cfg[0], &g_p};

static agora_err load(const char *text, char *err) {
    agora_cfg_set_defaults(&g_t, 1);
    return agora_cfg_load_string(&g_t, 1, "exp.ini", text, strlen(text), err);
}

static void config_defaults_apply(void **state) {
    (void)state;
    agora_cfg_set_defaults(&g_t, 1);
    assert_int_equal(g_p.n_agents, 10000);
    agora_assert_near(g_p.beta, 0.5, 0);
    assert_false(g_p.frozen);
    assert_string_equal(g_p.name, "default");
    assert_int_equal(g_p.recsys, 0);
}

static void config_file_sets_sections_and_types(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_assert_ok(load("seed = 7\n# comment\n[sim]\nn_agents = 1e5\nbeta_neg = 1.25 # why\n"
                         "frozen = yes\nrecsys = engagement\n[run]\nname = \"my run\"\n",
                         err));
    assert_int_equal(g_p.seed, 7);
    assert_int_equal(g_p.n_agents, 100000);
    agora_assert_near(g_p.beta, 1.25, 0);
    assert_true(g_p.frozen);
    assert_int_equal(g_p.recsys, 1);
    assert_string_equal(g_p.name, "my run");
}

static void config_layers_in_order(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    char *dir = agora_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/exp.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[sim]\nn_agents = 2000\nbeta_neg = 2\nrecsys = random\n", f);
    fclose(f);
    setenv("AGORA_SIM_BETA_NEG", "3", 1);
    setenv("AGORA_SIM_RECSYS", "engagement", 1);
    const char *sets[] = {"sim.recsys=chrono"};
    agora_assert_ok(agora_cfg_load_all(&g_t, 1, path, sets, 1, err));
    assert_int_equal(g_p.n_agents, 2000); /* file over default */
    agora_assert_near(g_p.beta, 3.0, 0);  /* env over file */
    assert_int_equal(g_p.recsys, 0);      /* --set over env */
    unsetenv("AGORA_SIM_BETA_NEG");
    unsetenv("AGORA_SIM_RECSYS");
    agora_test_rmtree(dir);
    free(dir);
}

static void config_unknown_key_names_file_line(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_assert_err(load("[sim]\nn_agents = 100\nn_agent = 5\n", err), AGORA_EUNKNOWN_KEY);
    assert_string_equal(err, "exp.ini:3: unknown key 'sim.n_agent' (did you mean "
                             "'sim.n_agents'?)");
}

static void config_out_of_range_names_file_line(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_assert_err(load("[sim]\n\nn_agents = 5\n", err), AGORA_ERANGE);
    assert_string_equal(err, "exp.ini:3: sim.n_agents = 5 is out of range [10, 10000000]");
    agora_assert_err(load("[sim]\nbeta_neg = 11\n", err), AGORA_ERANGE);
    assert_string_equal(err, "exp.ini:2: sim.beta_neg = 11 is out of range [0, 10]");
    agora_assert_err(load("[sim]\nrecsys = best\n", err), AGORA_ERANGE);
    assert_string_equal(err, "exp.ini:2: sim.recsys = 'best' is not one of: chrono, "
                             "engagement, random");
}

static void config_bad_values_and_syntax(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_assert_err(load("[sim]\nn_agents = lots\n", err), AGORA_EPARSE);
    assert_string_equal(err, "exp.ini:2: sim.n_agents = 'lots' is not an integer");
    agora_assert_err(load("[sim]\nn_agents = 1.5e3x\n", err), AGORA_EPARSE);
    agora_assert_err(load("[sim]\nfrozen = maybe\n", err), AGORA_EPARSE);
    assert_string_equal(err, "exp.ini:2: sim.frozen = 'maybe' is not a boolean (true/false)");
    agora_assert_err(load("[sim\nn_agents = 100\n", err), AGORA_EPARSE);
    assert_string_equal(err, "exp.ini:1: syntax error (expected [section] or key = value)");
    agora_assert_err(load("[sim]\njust words\n", err), AGORA_EPARSE);
    assert_string_equal(err, "exp.ini:2: syntax error (expected [section] or key = value)");
    agora_assert_err(load("[sim]\nbeta_neg = nan\n", err), AGORA_EPARSE);
}

static void config_env_and_set_errors_name_source(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_cfg_set_defaults(&g_t, 1);
    setenv("AGORA_SIM_N_AGENTS", "3", 1);
    agora_assert_err(agora_cfg_load_env(&g_t, 1, err), AGORA_ERANGE);
    assert_string_equal(err, "AGORA_SIM_N_AGENTS=3: sim.n_agents = 3 is out of range [10, "
                             "10000000]");
    unsetenv("AGORA_SIM_N_AGENTS");
    agora_assert_err(agora_cfg_set(&g_t, 1, "sim.nope=1", err), AGORA_EUNKNOWN_KEY);
    assert_string_equal(err, "--set sim.nope=1: unknown key 'sim.nope'");
    agora_assert_err(agora_cfg_set(&g_t, 1, "sim.betaneg=1", err), AGORA_EUNKNOWN_KEY);
    assert_string_equal(err, "--set sim.betaneg=1: unknown key 'sim.betaneg' (did you mean "
                             "'sim.beta_neg'?)");
    agora_assert_err(agora_cfg_set(&g_t, 1, "novalue", err), AGORA_EPARSE);
    assert_string_equal(err, "--set novalue: expected key=value");
}

static void config_format_round_trips_and_hash_tracks_values(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_assert_ok(load("[sim]\nn_agents = 1234\nbeta_neg = 0.1\n", err));
    uint64_t h1 = agora_cfg_hash(&g_t, 1);
    char *text = NULL;
    agora_assert_ok(agora_cfg_format(&g_t, 1, &text));
    tparams saved = g_p;
    agora_assert_ok(load(text, err));
    assert_int_equal(g_p.n_agents, saved.n_agents);
    assert_true(g_p.beta == saved.beta);
    assert_true(agora_cfg_hash(&g_t, 1) == h1);
    agora_free(text);
    agora_assert_ok(agora_cfg_set(&g_t, 1, "sim.n_agents=1235", err));
    assert_true(agora_cfg_hash(&g_t, 1) != h1);
}

static void config_long_line_and_nul_are_rejected(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    char big[400];
    memset(big, 'a', sizeof big);
    memcpy(big, "seed = ", 7);
    big[sizeof big - 1] = '\0';
    agora_assert_err(load(big, err), AGORA_EPARSE);
    assert_string_equal(err, "exp.ini:1: line longer than 199 characters");
    agora_cfg_set_defaults(&g_t, 1);
    agora_assert_err(agora_cfg_load_string(&g_t, 1, "exp.ini", "seed = 1\n\0", 10, err),
                     AGORA_EPARSE);
    assert_string_equal(err, "exp.ini:2: NUL byte in config file");
}

static void config_missing_file_names_path(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora_assert_err(agora_cfg_load_file(&g_t, 1, "/nonexistent/x.ini", err), AGORA_ENOENT);
    assert_string_equal(err, "/nonexistent/x.ini: cannot open: No such file or directory");
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults_apply),
        cmocka_unit_test(config_file_sets_sections_and_types),
        cmocka_unit_test(config_layers_in_order),
        cmocka_unit_test(config_unknown_key_names_file_line),
        cmocka_unit_test(config_out_of_range_names_file_line),
        cmocka_unit_test(config_bad_values_and_syntax),
        cmocka_unit_test(config_env_and_set_errors_name_source),
        cmocka_unit_test(config_format_round_trips_and_hash_tracks_values),
        cmocka_unit_test(config_long_line_and_nul_are_rejected),
        cmocka_unit_test(config_missing_file_names_path),
    };
    return agora_test_main(tests, argc, argv);
}
