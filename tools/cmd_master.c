/* cmd_master.c: `agora master`: the membership coordinator (src/comm/coord.c). */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/log.h"
#include "agora/rundir.h"
#include "agora/stream.h"
#include "agora/time.h"
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
    const char *config, *run_dir, *key_file, *standby_of, *standby_port_file;
    agora_cli_list sets;
    int64_t port;
} o;

static const agora_cli_flag k_flags[] = {
    {"--config", AGORA_CLI_STR, &o.config, "FILE", "INI config ([comm] section)"},
    {"--run-dir", AGORA_CLI_STR, &o.run_dir, "DIR", "run directory (default runs/master-...)"},
    {"--key-file", AGORA_CLI_STR, &o.key_file, "FILE", "cluster secret (= --set comm.key_file)"},
    {"--port", AGORA_CLI_INT, &o.port, "N", "port to bind (= --set comm.port; 0: any)"},
    {"--standby-of", AGORA_CLI_STR, &o.standby_of, "HOST:PORT",
     "be a standby: take over once this coordinator is unreachable"},
    {"--standby-of-port-file", AGORA_CLI_STR, &o.standby_port_file, "FILE",
     "be a standby of the coordinator on the host comm.master whose port this file holds"},
    {"--set", AGORA_CLI_LIST, &o.sets, "K=V", "override a config key (repeatable)"},
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void master_help(FILE *out) {
    fprintf(out, "usage: agora master [--key-file FILE] [--run-dir DIR] [--port N] [--set K=V]\n\n"
                 "Admits peers that prove they hold the cluster key, keeps the membership\n"
                 "epoch, evicts peers whose heartbeats stop, and gives every collective one\n"
                 "all-or-nothing verdict. It never carries tensor data. The bound port is\n"
                 "written to <run-dir>/master.port. Stops on SIGINT or SIGTERM.\n"
                 "With --standby-of it first watches another coordinator (a TCP connect every\n"
                 "comm.heartbeat_interval_ms) and takes over once that one has been\n"
                 "unreachable for comm.standby_takeover_ms; nodes with comm.standby set to\n"
                 "this address turn to it when they lose theirs (docs/diloco.md).\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

static agora_master *g_master;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
    if (g_master)
        agora_master_interrupt(g_master);
}

/* probe says whether a TCP connection to host:port opens within timeout_ms (the watched
 * coordinator drops a connection that never says HELLO, quietly). */
static bool probe(const char *host, uint16_t port, int timeout_ms) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || ai == NULL)
        return false;
    bool ok = false;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            struct pollfd pf = {fd, POLLOUT, 0};
            int e = 0;
            socklen_t l = sizeof e;
            ok = poll(&pf, 1, timeout_ms) == 1 &&
                 getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e == 0;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

/* watched_port: the watched coordinator's port, from --standby-of or its port file (0:
 * not known yet). */
static uint16_t watched_port(uint16_t fixed) {
    if (o.standby_port_file == NULL)
        return fixed;
    char *buf = NULL;
    size_t len = 0;
    long v = 0;
    if (agora_read_file(o.standby_port_file, 64, &buf, &len, NULL) == AGORA_OK) {
        v = strtol(buf, NULL, 10);
        agora_free(buf);
    }
    return v > 0 && v <= 65535 ? (uint16_t)v : 0;
}

/* standby_watch returns once the watched coordinator has been unreachable for
 * comm.standby_takeover_ms (true), or on a stop signal (false). With an address the clock
 * starts at once, so a coordinator that never comes up is covered too; with a port file it
 * starts when the file names a port (before that the coordinator is still starting). */
static bool standby_watch(const agora_comm_cfg *cfg, const char *host, uint16_t fixed) {
    int64_t last_ok = agora_now_ns(), takeover = cfg->standby_takeover_ms * 1000000LL;
    int interval = (int)cfg->heartbeat_interval_ms;
    while (!g_stop) {
        uint16_t port = watched_port(fixed);
        if (port == 0 || probe(host, port, interval))
            last_ok = agora_now_ns();
        else if (agora_now_ns() - last_ok > takeover) {
            AGORA_LOG_WARN(AGORA_SUB_COORD,
                           "coordinator %s:%u unreachable for %lld ms: taking over", host,
                           (unsigned)port, (long long)cfg->standby_takeover_ms);
            return true;
        }
        agora_sleep_ns((int64_t)interval * 1000000LL);
    }
    return false;
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
    char w_host[256];
    uint16_t w_port = 0;
    snprintf(w_host, sizeof w_host, "%s", cfg.master);
    if (o.standby_of != NULL && o.standby_port_file != NULL)
        return agora_cli_usage("master", "--standby-of and --standby-of-port-file exclude each "
                                         "other");
    if (o.standby_of != NULL && agora_cli_host_port("master", "--standby-of", o.standby_of, w_host,
                                                    sizeof w_host, &w_port) != 0)
        return AGORA_EXIT_USAGE;
    bool standby = o.standby_of != NULL || o.standby_port_file != NULL;
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
    mo.data_auth = cfg.data_auth;
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
    if (standby) {
        if (o.standby_of != NULL)
            AGORA_LOG_INFO(AGORA_SUB_COORD, "standby: watching %s:%u, taking over after %lld ms",
                           w_host, (unsigned)w_port, (long long)cfg.standby_takeover_ms);
        else
            AGORA_LOG_INFO(AGORA_SUB_COORD,
                           "standby: watching %s (port in %s), taking over after %lld ms", w_host,
                           o.standby_port_file, (long long)cfg.standby_takeover_ms);
        if (!standby_watch(&cfg, w_host, w_port)) {
            g_master = NULL;
            agora_master_destroy(m);
            return AGORA_EXIT_OK;
        }
    }
    rc = agora_master_run(m);
    g_master = NULL;
    uint64_t ok = 0, failed = 0, epoch = 0;
    agora_master_stats(m, NULL, &epoch, &ok, &failed);
    AGORA_LOG_INFO(AGORA_SUB_COORD, "stopped: epoch %llu, %llu collectives committed, %llu failed",
                   (unsigned long long)epoch, (unsigned long long)ok, (unsigned long long)failed);
    agora_master_destroy(m);
    return rc == AGORA_OK ? AGORA_EXIT_OK : agora_cli_fail("master", "%s", agora_err_str(rc));
}
