/* cmd_config.c: `agora config`: the effective configuration, or the reference of every key.
 *
 * It loads the same tables the commands use ([train], [diloco], [comm], [sim]) through the
 * same layers (defaults < --config FILE < AGORA_* environment < --set), so a config file can
 * be checked before a long run, and `agora config --keys` is the reference of every setting.
 */
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/config.h"
#include "agora/diloco.h"
#include "agora/sim.h"
#include "agora/train.h"
#include "cli.h"

static void config_help(FILE *out);
static int config_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_config = {
    .name = "config",
    .summary = "print the effective configuration, or every key with its range and help",
    .run = config_run,
    .help = config_help,
    .order = 90,
};

static struct {
    const char *config;
    agora_cli_list sets;
    bool keys, hash;
} o;

static const agora_cli_flag k_flags[] = {
    {"--config", AGORA_CLI_STR, &o.config, "FILE", "INI file to check and apply"},
    {"--set", AGORA_CLI_LIST, &o.sets, "K=V", "override a key (repeatable)"},
    {"--keys", AGORA_CLI_SWITCH, &o.keys, NULL, "list every key: type, default, range, help"},
    {"--hash", AGORA_CLI_SWITCH, &o.hash, NULL, "print only the config hash"},
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void config_help(FILE *out) {
    fprintf(out, "usage: agora config [--config FILE] [--set K=V]... [--keys] [--hash]\n\n"
                 "Prints the configuration after defaults, the file, AGORA_* environment\n"
                 "variables and --set, as INI (what runs write to config.effective.ini).\n"
                 "Unknown keys and out-of-range values are reported with file:line.\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

static int config_run(int argc, char **argv) {
    memset(&o, 0, sizeof o);
    const char *pos[1];
    size_t n_pos = 0;
    int pr = agora_cli_parse(&agora_cmd_config, k_flags, N_FLAGS, argc, argv, pos, 0, &n_pos);
    if (pr != 0)
        return pr < 0 ? AGORA_EXIT_OK : pr;
    static agora_train_params tp;
    static agora_diloco_params dp;
    static agora_comm_cfg cc;
    static agora_sim_params sp;
    agora_cfg_table t[4] = {{agora_train_cfg, agora_train_cfg_len, &tp},
                            {agora_diloco_cfg, agora_diloco_cfg_len, &dp},
                            agora_comm_cfg_table(&cc),
                            agora_sim_cfg_table(&sp)};
    if (o.keys) {
        agora_cfg_print_help(t, 4, stdout);
        return AGORA_EXIT_OK;
    }
    char err[AGORA_ERR_LEN];
    agora_err rc = agora_cfg_load_all(t, 4, o.config, o.sets.v, o.sets.n, err);
    if (rc != AGORA_OK)
        return agora_cli_cfg_exit("config", rc, err);
    if (o.hash) {
        printf("%016llx\n", (unsigned long long)agora_cfg_hash(t, 4));
        return AGORA_EXIT_OK;
    }
    char *text = NULL;
    if (agora_cfg_format(t, 4, &text) != AGORA_OK)
        return agora_cli_fail("config", "out of memory");
    fputs(text, stdout);
    agora_free(text);
    return AGORA_EXIT_OK;
}
