/* test_core_cli.c: the agora binary's top-level behaviour, for every registered
 * subcommand: --help exits 0, an unknown flag exits 2 with a one-line error and a hint. */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_out[1 << 16];

static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", agora_test_bin(), args);
    return agora_test_run(cmd, g_out, sizeof g_out);
}

static void cli_help_and_version_exit_zero(void **state) {
    (void)state;
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(g_out, "usage: agora <command>"));
    assert_int_equal(run("version"), 0);
    assert_non_null(strstr(g_out, "agora 0."));
}

static void cli_unknown_command_exits_two(void **state) {
    (void)state;
    assert_int_equal(run("frobnicate"), 2);
    assert_string_equal(g_out, "agora: unknown command 'frobnicate'\nTry 'agora --help'.\n");
    assert_int_equal(run(""), 2);
}

/* Collects the subcommand names listed by `agora --help`. */
static size_t list_commands(char names[][32], size_t max) {
    run("--help");
    size_t n = 0;
    const char *p = strstr(g_out, "commands:\n");
    if (p == NULL)
        return 0;
    p += 10;
    while (*p == ' ' && n < max) {
        char name[32];
        if (sscanf(p, " %31s", name) != 1)
            break;
        if (strcmp(name, "version") != 0)
            snprintf(names[n++], 32, "%s", name);
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    return n;
}

static void cli_every_subcommand_has_help(void **state) {
    (void)state;
    char names[64][32];
    size_t n = list_commands(names, 64);
    for (size_t i = 0; i < n; i++) {
        char a[64];
        snprintf(a, sizeof a, "%s --help", names[i]);
        int rc = run(a);
        if (rc != 0)
            fail_msg("agora %s exited %d:\n%s", a, rc, g_out);
        assert_non_null(strstr(g_out, names[i]));
    }
}

/* `agora ARGS` must exit 2 (usage) with WANT in its output. */
static void expect_usage(const char *args, const char *want) {
    int rc = run(args);
    if (rc != 2)
        fail_msg("agora %s exited %d, expected 2:\n%s", args, rc, g_out);
    if (strstr(g_out, want) == NULL)
        fail_msg("agora %s: no \"%s\" in:\n%s", args, want, g_out);
}

static void cli_every_subcommand_rejects_unknown_flag(void **state) {
    (void)state;
    char names[64][32];
    size_t n = list_commands(names, 64);
    for (size_t i = 0; i < n; i++) {
        char a[96], want[128];
        snprintf(a, sizeof a, "%s --no-such-flag", names[i]);
        snprintf(want, sizeof want, "agora %s: unknown flag '--no-such-flag'\n", names[i]);
        expect_usage(a, want);
        assert_non_null(strstr(g_out, "--help"));
    }
}

/* Numbers that parse but do not fit are usage errors, not casts of inf or 1e300. */
static void cli_sizes_out_of_range_are_usage_errors(void **state) {
    (void)state;
    static const char *const bad[] = {"inf", "1e300", "nan", "-4", "2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char a[96], want[64];
        snprintf(a, sizeof a, "comm-bench --sizes %s", bad[i]);
        snprintf(want, sizeof want, "bad size '%s'", bad[i]);
        expect_usage(a, want);
    }
    /* and a data protection mode it does not know, before any peer starts */
    expect_usage("comm-bench --sizes 4 --data-auth nope", "'nope' is not auto, mac or checksum");
}

/* Every command with a progress display takes the same --progress modes and names
 * them when given something else. */
static void cli_progress_flag_is_uniform(void **state) {
    (void)state;
    char names[64][32];
    size_t n = list_commands(names, 64), with = 0;
    for (size_t i = 0; i < n; i++) {
        char a[96];
        snprintf(a, sizeof a, "%s --help", names[i]);
        assert_int_equal(run(a), 0);
        if (strstr(g_out, "--progress MODE") == NULL)
            continue;
        with++;
        snprintf(a, sizeof a, "%s --progress sometimes", names[i]);
        int rc = run(a);
        if (rc != 2 || strstr(g_out, "--progress expects auto, tty, plain or off") == NULL)
            fail_msg("agora %s exited %d:\n%s", a, rc, g_out);
    }
    assert_true(with >= 4); /* train, node, launch, sim */
}

/* `agora config` applies the layers and names file:line for a bad key. */
static void cli_config_layers_and_rejects_bad_file(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char path[4200], args[4400];
    snprintf(path, sizeof path, "%s/x.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[diloco]\ninner_steps = 7\n", f);
    fclose(f);
    snprintf(args, sizeof args, "config --config '%s' --set diloco.outer_steps=3", path);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "inner_steps = 7\n"));
    assert_non_null(strstr(g_out, "outer_steps = 3\n"));
    f = fopen(path, "w");
    fputs("[diloco]\n\ninner_step = 7\n", f);
    fclose(f);
    snprintf(args, sizeof args, "config --config '%s'", path);
    assert_int_equal(run(args), 2);
    char want[4400];
    snprintf(want, sizeof want,
             "agora config: %s:3: unknown key 'diloco.inner_step' (did you "
             "mean 'diloco.inner_steps'?)\n",
             path);
    assert_string_equal(g_out, want);
    agora_test_rmtree(dir);
    free(dir);
}

/* Every shipped example config loads (a renamed key would make one fail for its users). */
static void cli_example_configs_load(void **state) {
    (void)state;
    const char *src = getenv("AGORA_SRC");
    assert_non_null(src);
    const char *examples[] = {"diloco/kjv.ini", "diloco/kjv-streaming.ini", "sim/default.ini",
                              "train/small.ini", "train/intellect1-shape.ini"};
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        char args[4400];
        snprintf(args, sizeof args, "config --config '%s/examples/%s'", src, examples[i]);
        if (run(args) != 0)
            fail_msg("examples/%s: %s", examples[i], g_out);
    }
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cli_help_and_version_exit_zero),
        cmocka_unit_test(cli_unknown_command_exits_two),
        cmocka_unit_test(cli_every_subcommand_has_help),
        cmocka_unit_test(cli_every_subcommand_rejects_unknown_flag),
        cmocka_unit_test(cli_sizes_out_of_range_are_usage_errors),
        cmocka_unit_test(cli_config_layers_and_rejects_bad_file),
        cmocka_unit_test(cli_progress_flag_is_uniform),
        cmocka_unit_test(cli_example_configs_load),
    };
    return agora_test_main(tests, argc, argv);
}
