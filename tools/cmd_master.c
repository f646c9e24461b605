/* cmd_master.c: `agora master`: the membership coordinator (src/comm/coord.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agora/comm.h"
#include "agora/log.h"
#include "agora/rundir.h"
#include "agora/stream.h"
#include "cli.h"

static void master_help(FILE *out);
static int master_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_master = {
    .name = "master",
    .summary = "run the membership coordinator for elastic collectives",
    .run = master_run,
    .help = master_help,
    .order = 20,
};

static struct {
    const char *config, *run_dir, *key_file;
    agora_cli_list sets;
    int64_t port;
} o;

static const agora_cli_flag k_flags[] = {
    {"--config", AGORA_CLI_STR, &o.config, "FILE", "INI config ([comm] section)"},
    {"--run-dir", AGORA_CLI_STR, &o.run_dir, "DIR", "run directory (default runs/master-...)"},
    {"--key-file", AGORA_CLI_STR, &o.key_file, "FILE", "cluster secret (= --set comm.key_file)"},
    {"--port", AGORA_CLI_INT, &o.port, "N", "port to bind (= --set comm.port; 0: any)"},
    {"--set", AGORA_CLI_LIST, &o.sets, "K=V", "override a config key (repeatable)"},
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void master_help(FILE *out) {
    fprintf(out, "usage: agora master [--key-file FILE] [--run-dir DIR] [--port N] [--set K=V]\n\n"
                 "Admits peers that prove they hold the cluster key, keeps the membership\n"
                 "epoch, evicts peers whose heartbeats stop, and gives every collective one\n"
                 "all-or-nothing verdict. It never carries tensor data. The bound port is\n"
                 "written to <run-dir>/master.port. Stops on SIGINT or SIGTERM.\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

static agora_master *g_master;

static void on_signal(int sig) {
    (void)sig;
    if (g_master)
        agora_master_interrupt(g_master);
}

static int master_run(int argc, char **argv) {
    memset(&o, 0, sizeof o);
    o.port = -1;
    const char *pos[1];
    size_t n_pos = 0;
    int pr = agora_cli_parse(&agora_cmd_master, k_flags, N_FLAGS, argc, argv, pos, 0, &n_pos);
    if (pr != 0)
        return pr < 0 ? AGORA_EXIT_OK : pr;
    agora_comm_cfg cfg;
    agora_cfg_table t = agora_comm_cfg_table(&cfg);
    char err[AGORA_ERR_LEN];
    agora_err rc = agora_cfg_load_all(&t, 1, o.config, o.sets.v, o.sets.n, err);
    if (rc != AGORA_OK)
        return agora_cli_cfg_exit("master", rc, err);
    if (o.key_file)
        snprintf(cfg.key_file, sizeof cfg.key_file, "%s", o.key_file);
    if (o.port >= 0) {
        if (o.port > 65535)
            return agora_cli_usage("master", "--port must be in [0, 65535]");
        cfg.port = o.port;
    }
    if (cfg.key_file[0] == '\0')
        return agora_cli_usage("master", "needs --key-file FILE (the cluster secret)");
    agora_master_opts mo;
    memset(&mo, 0, sizeof mo);
    if (agora_comm_key_from_file(cfg.key_file, mo.key, err) != AGORA_OK)
        return agora_cli_fail("master", "%s", err);
    char dir[1024];
    if (agora_rundir_create(o.run_dir, "master", dir, sizeof dir, err) != AGORA_OK ||
        agora_rundir_write_config(dir, o.config, &t, 1, err) != AGORA_OK ||
        agora_rundir_write_meta(dir, 0, 1, argc, argv, err) != AGORA_OK)
        return agora_cli_fail("master", "%s", err);
    agora_log_set_role("master");
    mo.bind_host = cfg.bind;
    mo.port = (uint16_t)cfg.port;
    mo.heartbeat_interval_ms = (int32_t)cfg.heartbeat_interval_ms;
    mo.heartbeat_timeout_ms = (int32_t)cfg.heartbeat_timeout_ms;
    mo.phase_timeout_ms = (int32_t)cfg.phase_timeout_ms;
    agora_master *m = NULL;
    rc = agora_master_create(&mo, &m);
    if (rc != AGORA_OK)
        return agora_cli_fail("master", "cannot listen on %s:%lld: %s", cfg.bind,
                              (long long)cfg.port, agora_err_str(rc));
    char path[1100], txt[16];
    snprintf(path, sizeof path, "%s/master.port", dir);
    int n = snprintf(txt, sizeof txt, "%u\n", (unsigned)agora_master_port(m));
    if (agora_write_file_atomic(path, txt, (size_t)n, err) != AGORA_OK) {
        agora_master_destroy(m);
        return agora_cli_fail("master", "%s", err);
    }
    AGORA_LOG_INFO(AGORA_SUB_COORD, "listening on %s:%u (run dir %s)", cfg.bind,
                   (unsigned)agora_master_port(m), dir);
    g_master = m;
    agora_cli_on_stop(on_signal);
    rc = agora_master_run(m);
    g_master = NULL;
    uint64_t ok = 0, failed = 0, epoch = 0;
    agora_master_stats(m, NULL, &epoch, &ok, &failed);
    AGORA_LOG_INFO(AGORA_SUB_COORD, "stopped: epoch %llu, %llu collectives committed, %llu failed",
                   (unsigned long long)epoch, (unsigned long long)ok, (unsigned long long)failed);
    agora_master_destroy(m);
    return rc == AGORA_OK ? AGORA_EXIT_OK : agora_cli_fail("master", "%s", agora_err_str(rc));
}
