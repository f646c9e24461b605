/* cmd_launch.c: `agora launch`: a coordinator plus N local DiLoCo nodes, the embedded
 * default of decentralized training. Each process gets its own run directory under one
 * launch directory: RUN/master, RUN/node-00, RUN/node-01, ...
 *
 * Optional chaos: --kill-at K sends SIGKILL to the last node once the run reaches outer
 * step K; --join-at K starts one more node at outer step K, which joins at the next
 * boundary and pulls the shared state from a peer; --kill-master-at K kills the
 * coordinator, after which every node checkpoints its outer state and stops (run the
 * same command with --set train.resume=true to continue), or with --restart-master the
 * coordinator comes back a second later on the same port and the nodes, which then wait
 * comm.rejoin_timeout_ms for it, rejoin and finish the run; --poison-at K makes node 0's
 * delta of outer step K a million times too large, which the others must leave out of
 * the average (diloco.delta_max_ratio). Every wait has a deadline.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/diloco.h"
#include "agora/train.h"
#include "agora/json.h"
#include "agora/progress.h"
#include "agora/rundir.h"
#include "agora/svg.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "cli.h"

static void launch_help(FILE *out);
static int launch_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_launch = {
    .name = "launch",
    .summary = "run a coordinator and N local DiLoCo nodes (decentralized training demo)",
    .run = launch_run,
    .help = launch_help,
    .order = 11,
};

#define MAX_NODES 32

static struct {
    const char *config, *run_dir, *progress;
    bool restart_master, standby;
    agora_cli_list sets;
    int64_t nodes, kill_at, join_at, kill_master_at, poison_at, timeout_s, outer_steps;
} o;

static const agora_cli_flag k_flags[] = {
    {"--nodes", AGORA_CLI_INT, &o.nodes, "N", "DiLoCo nodes to start (default 2)"},
    {"--config", AGORA_CLI_STR, &o.config, "FILE", "INI config passed to every node"},
    {"--run-dir", AGORA_CLI_STR, &o.run_dir, "DIR", "launch directory (default runs/launch-...)"},
    {"--set", AGORA_CLI_LIST, &o.sets, "K=V", "config override passed to every node"},
    {"--kill-at", AGORA_CLI_INT, &o.kill_at, "K", "SIGKILL the last node at outer step K"},
    {"--join-at", AGORA_CLI_INT, &o.join_at, "K", "start one more node at outer step K"},
    {"--kill-master-at", AGORA_CLI_INT, &o.kill_master_at, "K",
     "SIGKILL the coordinator at outer step K (nodes checkpoint and stop)"},
    {"--restart-master", AGORA_CLI_SWITCH, &o.restart_master, NULL,
     "with --kill-master-at: start it again 1 s later on the same port; the nodes rejoin"},
    {"--standby", AGORA_CLI_SWITCH, &o.standby, NULL,
     "also start a standby coordinator; the nodes turn to it when theirs dies"},
    {"--poison-at", AGORA_CLI_INT, &o.poison_at, "K",
     "scale node 0's delta of outer step K by 1e6 (the ring must leave it out)"},
    {"--timeout", AGORA_CLI_INT, &o.timeout_s, "SECONDS", "give up after this long (3600)"},
    AGORA_CLI_PROGRESS_FLAG(o.progress),
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void launch_help(FILE *out) {
    fprintf(out, "usage: agora launch [--nodes N] [--config FILE] [--set K=V] [--kill-at K]\n"
                 "                    [--join-at K] [--kill-master-at K] [--restart-master]\n"
                 "                    [--poison-at K] [--run-dir DIR]\n\n"
                 "Starts `agora master` and N `agora node` processes on 127.0.0.1 with a fresh\n"
                 "cluster key, shows the ring's progress (outer step, loss, world size), and\n"
                 "prints a summary: loss, traffic against data-parallel training, utilization.\n"
                 "Node logs are in RUN/node-XX/log.txt, metrics in RUN/node-XX/metrics.jsonl.\n"
                 "The same command with the same --run-dir and --set train.resume=true continues\n"
                 "a stopped run from the nodes' checkpoints.\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

typedef struct proc {
    pid_t pid;
    char dir[1024];
    int status;
    bool done, killed;
} proc;

static char g_self[4096];
static int g_nodes; /* nodes sharing this machine's cores */
static char g_min_world[48];

/* spawn runs `agora <args...>` with stdout+stderr to log_path. */
/* Arguments of a spawned process, at most. */
#define MAX_ARGS (24 + 2 * AGORA_CLI_LIST_MAX)

/* spawn runs `agora ARGS` with stdout and stderr in log_path (appended to it with
 * append, else replacing it). */
static pid_t spawn(const char *const *args, const char *log_path, bool append) {
    /* execv wants char *const[]; copy the pointers instead of casting const away. */
    char *argv2[MAX_ARGS];
    size_t n = 0;
    while (args[n] != NULL && n + 1 < sizeof argv2 / sizeof argv2[0])
        n++;
    memcpy(argv2, args, n * sizeof(char *));
    argv2[n] = NULL;
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* Split the cores between the nodes so their OpenMP and OpenBLAS pools do not fight. */
    if (getenv("OMP_NUM_THREADS") == NULL) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        long per = cores / (g_nodes > 0 ? g_nodes : 1);
        char v[24];
        snprintf(v, sizeof v, "%ld", per > 0 ? per : 1);
        setenv("OMP_NUM_THREADS", v, 1);
        setenv("OPENBLAS_NUM_THREADS", v, 1);
        /* More nodes than cores: threads that spin while they wait steal the core another
         * node computes on. */
        if (g_nodes > cores && getenv("OMP_WAIT_POLICY") == NULL)
            setenv("OMP_WAIT_POLICY", "passive", 1);
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(g_self, argv2);
    _exit(127);
}

static char g_standby_port_file[1200];

static int start_node(proc *p, const char *root, int idx, int n_workers, const char *key,
                      const char *port_file) {
    snprintf(p->dir, sizeof p->dir, "%s/node-%02d", root, idx);
    if (agora_mkdir_p(p->dir) != AGORA_OK)
        return -1;
    char log[1100], setw[64], setn[64], chaos[64];
    snprintf(log, sizeof log, "%s/log.txt", p->dir);
    snprintf(setw, sizeof setw, "train.worker=%d", idx);
    snprintf(setn, sizeof setn, "train.n_workers=%d", n_workers);
    const char *args[MAX_ARGS];
    int k = 0;
    args[k++] = g_self;
    args[k++] = "node";
    args[k++] = "--run-dir";
    args[k++] = p->dir;
    args[k++] = "--master-port-file";
    args[k++] = port_file;
    args[k++] = "--key-file";
    args[k++] = key;
    if (o.config) {
        args[k++] = "--config";
        args[k++] = o.config;
    }
    /* By default the first outer step waits for every node launched at the start. */
    args[k++] = "--set";
    args[k++] = g_min_world;
    for (size_t i = 0; i < o.sets.n; i++) {
        args[k++] = "--set";
        args[k++] = o.sets.v[i];
    }
    args[k++] = "--set";
    args[k++] = setw;
    args[k++] = "--set";
    args[k++] = setn;
    if (o.restart_master || o.standby) { /* the nodes wait for a coordinator to come back */
        args[k++] = "--set";
        args[k++] = "comm.rejoin_timeout_ms=60000";
    }
    if (o.standby) {
        args[k++] = "--standby-port-file";
        args[k++] = g_standby_port_file;
    }
    if (idx == 0 && o.poison_at > 0) {
        snprintf(chaos, sizeof chaos, "diloco.chaos_at=%lld", (long long)o.poison_at);
        args[k++] = "--set";
        args[k++] = chaos;
        args[k++] = "--set";
        args[k++] = "diloco.chaos_delta_scale=1e6";
    }
    if (idx >= o.nodes) { /* a late joiner enters a running ring: no waiting for a quorum */
        args[k++] = "--set";
        args[k++] = "diloco.min_world=1";
    }
    args[k] = NULL;
    p->pid = spawn(args, log, false);
    return p->pid > 0 ? 0 : -1;
}

/* last_record reads the last line of a node's metrics.jsonl. */
static bool last_record(const char *dir, int64_t *outer, double *loss, int64_t *world) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *buf = NULL;
    size_t len = 0;
    if (agora_read_file(path, 64u << 20, &buf, &len, NULL) != AGORA_OK)
        return false;
    bool ok = false;
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    cJSON *j = cJSON_Parse(line);
    if (j != NULL) {
        cJSON *a = cJSON_GetObjectItem(j, "outer_step"), *b = cJSON_GetObjectItem(j, "loss");
        cJSON *c = cJSON_GetObjectItem(j, "world");
        uint64_t oi = 0, wi = 0;
        if (agora_json_uint(a, (uint64_t)INT64_MAX, &oi) && cJSON_IsNumber(b) &&
            agora_json_uint(c, (uint64_t)INT64_MAX, &wi)) {
            *outer = (int64_t)oi;
            *loss = b->valuedouble;
            *world = (int64_t)wi;
            ok = true;
        }
        cJSON_Delete(j);
    }
    agora_free(buf);
    return ok;
}

/* write_loss_plot draws every node's mean inner loss per round against the inner step
 * into ROOT/loss.svg, with the chaos events as marks. */
static void write_loss_plot(const char *root, const proc *nodes, int n, const agora_svg_mark *marks,
                            size_t n_marks) {
    agora_svg_series s[MAX_NODES];
    double *xy[MAX_NODES] = {0};
    size_t ns = 0;
    for (int i = 0; i < n; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/metrics.jsonl", nodes[i].dir);
        char *buf = NULL;
        size_t len = 0;
        if (agora_read_file(path, 64u << 20, &buf, &len, NULL) != AGORA_OK)
            continue;
        size_t lines = 0;
        for (size_t k = 0; k < len; k++)
            lines += buf[k] == '\n';
        xy[ns] = agora_malloc((2 * lines + 2) * sizeof(double));
        if (xy[ns] == NULL) {
            agora_free(buf);
            continue;
        }
        size_t m = 0;
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line != NULL && m <= lines;
             line = strtok_r(NULL, "\n", &save)) {
            cJSON *j = cJSON_Parse(line);
            cJSON *x = cJSON_GetObjectItem(j, "inner_step"), *l = cJSON_GetObjectItem(j, "loss");
            cJSON *t = cJSON_GetObjectItem(j, "inner_s");
            if (cJSON_IsNumber(x) && cJSON_IsNumber(l) && cJSON_IsNumber(t) &&
                t->valuedouble > 0) { /* records without training carry no loss */
                xy[ns][m] = x->valuedouble;
                xy[ns][lines + 1 + m] = l->valuedouble;
                m++;
            }
            cJSON_Delete(j);
        }
        agora_free(buf);
        s[ns] = (agora_svg_series){
            .name = strrchr(nodes[i].dir, '/') + 1, .x = xy[ns], .y = xy[ns] + lines + 1, .n = m};
        ns++;
    }
    char path[1100], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/loss.svg", root);
    if (agora_svg_line_chart(path, "DiLoCo: mean inner loss of each round, per node", "inner step",
                             "training loss", s, ns, marks, n_marks, err) == AGORA_OK)
        fprintf(stderr, "  plot: %s\n", path);
    for (size_t k = 0; k < ns; k++)
        agora_free(xy[k]);
}

static int write_key(const char *path) {
    unsigned char key[32];
    FILE *r = fopen("/dev/urandom", "rb");
    if (r == NULL || fread(key, 1, sizeof key, r) != sizeof key) {
        if (r)
            fclose(r);
        return -1;
    }
    fclose(r);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, key, sizeof key);
    close(fd);
    return w == (ssize_t)sizeof key ? 0 : -1;
}

static void print_summary(const char *root, proc *nodes, int n) {
    double dp_total = 0, tx_total = 0;
    fprintf(stderr, "\nsummary (%s):\n", root);
    fprintf(stderr, "  %-8s %6s %10s %10s %8s %12s\n", "node", "outer", "loss", "val_loss", "util",
            "sent MB");
    for (int i = 0; i < n; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/summary.json", nodes[i].dir);
        cJSON *j = NULL;
        const char *name = strrchr(nodes[i].dir, '/') + 1;
        if (agora_json_load_file(path, 1 << 20, &j, NULL) != AGORA_OK) {
            fprintf(stderr, "  %-8s %s\n", name,
                    nodes[i].killed ? "killed (chaos)" : "no summary (see its log.txt)");
            continue;
        }
        cJSON *os = cJSON_GetObjectItem(j, "outer_steps"),
              *l = cJSON_GetObjectItem(j, "final_inner_loss");
        cJSON *v = cJSON_GetObjectItem(j, "val_loss"),
              *u = cJSON_GetObjectItem(j, "mean_utilization");
        cJSON *tx = cJSON_GetObjectItem(j, "tx_bytes");
        cJSON *dp = cJSON_GetObjectItem(j, "dp_equivalent_tx_bytes");
        if (cJSON_IsNumber(tx) && cJSON_IsNumber(dp) && tx->valuedouble > 0) {
            dp_total += dp->valuedouble;
            tx_total += tx->valuedouble;
        }
        fprintf(stderr, "  %-8s %6.0f %10.4f %10.4f %7.1f%% %12.2f\n", name,
                cJSON_IsNumber(os) ? os->valuedouble : -1, cJSON_IsNumber(l) ? l->valuedouble : 0,
                cJSON_IsNumber(v) ? v->valuedouble : 0.0 / 0.0,
                cJSON_IsNumber(u) ? 100 * u->valuedouble : 0,
                cJSON_IsNumber(tx) ? tx->valuedouble / 1e6 : 0);
        cJSON_Delete(j);
    }
    if (tx_total > 0)
        fprintf(stderr,
                "  traffic: %.2f MB sent; per-step data-parallel fp32 would send %.2f MB "
                "(%.0fx more)\n",
                tx_total / 1e6, dp_total / 1e6, dp_total / tx_total);
}

static int launch_run(int argc, char **argv) {
    memset(&o, 0, sizeof o);
    o.nodes = 2;
    o.kill_at = -1;
    o.join_at = -1;
    o.poison_at = -1;
    o.kill_master_at = -1;
    o.timeout_s = 3600;
    const char *pos[1];
    size_t n_pos = 0;
    int pr = agora_cli_parse(&agora_cmd_launch, k_flags, N_FLAGS, argc, argv, pos, 0, &n_pos);
    if (pr != 0)
        return pr < 0 ? AGORA_EXIT_OK : pr;
    if (o.nodes < 1 || o.nodes > MAX_NODES - 1)
        return agora_cli_usage("launch", "--nodes must be in [1, %d]", MAX_NODES - 1);
    if (o.timeout_s < 1)
        return agora_cli_usage("launch", "--timeout must be positive");
    agora_progress_mode pmode;
    if (agora_cli_progress("launch", o.progress, &pmode) != 0)
        return AGORA_EXIT_USAGE;
    /* Validate the nodes' config once here, so a bad key fails before anything starts. */
    static agora_train_params tp;
    static agora_diloco_params dp;
    static agora_comm_cfg cc;
    agora_cfg_table t[3] = {{agora_train_cfg, agora_train_cfg_len, &tp},
                            {agora_diloco_cfg, agora_diloco_cfg_len, &dp},
                            agora_comm_cfg_table(&cc)};
    char cerr[AGORA_ERR_LEN];
    agora_err crc = agora_cfg_load_all(t, 3, o.config, o.sets.v, o.sets.n, cerr);
    if (crc != AGORA_OK)
        return agora_cli_cfg_exit("launch", crc, cerr);
    if ((crc = agora_diloco_check(&dp, 0, cerr)) != AGORA_OK)
        return agora_cli_cfg_exit("launch", crc, cerr);
    ssize_t sl = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    if (sl <= 0)
        return agora_cli_fail("launch", "cannot find the agora binary (/proc/self/exe)");
    g_self[sl] = '\0';
    char root[1024], err[AGORA_ERR_LEN];
    if (agora_rundir_create(o.run_dir, "launch", root, sizeof root, err) != AGORA_OK)
        return agora_cli_fail("launch", "%s", err);
    char key[1100], mdir[1100], port_file[1200], mlog[1200];
    snprintf(key, sizeof key, "%s/cluster.key", root);
    snprintf(mdir, sizeof mdir, "%s/master", root);
    snprintf(port_file, sizeof port_file, "%s/master.port", mdir);
    snprintf(mlog, sizeof mlog, "%s/master.log", root);
    if (write_key(key) != 0)
        return agora_cli_fail("launch", "%s: cannot write the cluster key", key);
    /* A run directory used before (a resume) holds the old coordinator's port and the old
     * summaries: neither may be mistaken for this run's. */
    unlink(port_file);
    for (int i = 0; i < MAX_NODES; i++) {
        char old[1200];
        snprintf(old, sizeof old, "%s/node-%02d/summary.json", root, i);
        unlink(old);
    }
    /* The coordinator reads only the [comm] table: pass it the comm.* overrides. */
    const char *margs[MAX_ARGS] = {g_self,       "master", "--run-dir", mdir,
                                   "--key-file", key,      "--port",    "0"};
    int mk = 8;
    for (size_t i = 0; i < o.sets.n; i++)
        if (strncmp(o.sets.v[i], "comm.", 5) == 0) {
            margs[mk++] = "--set";
            margs[mk++] = o.sets.v[i];
        }
    margs[mk] = NULL;
    pid_t master = spawn(margs, mlog, false);
    if (master < 0)
        return agora_cli_fail("launch", "cannot start the coordinator");
    pid_t standby = -1;
    if (o.standby) { /* the same, watching the first through its port file */
        char sdir[1100], slog[1200];
        snprintf(sdir, sizeof sdir, "%s/standby", root);
        snprintf(slog, sizeof slog, "%s/standby.log", root);
        snprintf(g_standby_port_file, sizeof g_standby_port_file, "%s/master.port", sdir);
        unlink(g_standby_port_file);
        const char *sargs[MAX_ARGS];
        int sk = 0;
        for (int i = 0; i < mk; i++)
            sargs[sk++] = margs[i] == mdir ? sdir : margs[i];
        sargs[sk++] = "--standby-of-port-file";
        sargs[sk++] = port_file;
        sargs[sk] = NULL;
        standby = spawn(sargs, slog, false);
        if (standby < 0)
            return agora_cli_fail("launch", "cannot start the standby coordinator");
    }
    int64_t deadline = agora_deadline_in_ms(o.timeout_s * 1000);

    proc nodes[MAX_NODES];
    memset(nodes, 0, sizeof nodes);
    int n = (int)o.nodes, n_workers = (int)o.nodes + (o.join_at >= 0 ? 1 : 0);
    g_nodes = n_workers;
    snprintf(g_min_world, sizeof g_min_world, "diloco.min_world=%d", n);
    for (int i = 0; i < n; i++)
        if (start_node(&nodes[i], root, i, n_workers, key, port_file) != 0)
            return agora_cli_fail("launch", "cannot start node %d", i);
    fprintf(stderr, "agora launch: coordinator + %d nodes in %s\n", n, root);
    agora_progress bar;
    agora_progress_init(&bar, "outer", (uint64_t)dp.outer_steps, stderr, pmode);
    bool killed = false, joined = false, poisoned = false, master_killed = false;
    bool timed_out = false;
    char mport[16] = "0";
    agora_svg_mark marks[4];
    size_t n_marks = 0;
    int64_t last_outer = -1;
    for (;;) {
        int running = 0;
        for (int i = 0; i < n; i++) {
            if (nodes[i].done)
                continue;
            pid_t r = waitpid(nodes[i].pid, &nodes[i].status, WNOHANG);
            if (r == nodes[i].pid)
                nodes[i].done = true;
            else
                running++;
        }
        if (running == 0)
            break;
        int64_t outer = -1, world = 0;
        double loss = 0;
        for (int i = 0; i < n && outer < 0; i++)
            if (!nodes[i].killed && !last_record(nodes[i].dir, &outer, &loss, &world))
                outer = -1;
        if (outer != last_outer && outer >= 0) {
            last_outer = outer;
            agora_progress_update(&bar, (uint64_t)outer, "loss %.3f world %lld", loss,
                                  (long long)world);
        }
        if (!killed && o.kill_at >= 0 && outer >= o.kill_at && n > 1) {
            kill(nodes[n - 1].pid, SIGKILL);
            nodes[n - 1].killed = true;
            killed = true;
            fprintf(stderr, "\nagora launch: SIGKILL node-%02d at outer step %lld\n", n - 1,
                    (long long)outer);
            marks[n_marks++] = (agora_svg_mark){(double)(outer * dp.inner_steps), "kill"};
        }
        if (!poisoned && o.poison_at > 0 && outer >= o.poison_at) {
            poisoned = true;
            marks[n_marks++] =
                (agora_svg_mark){(double)(o.poison_at * dp.inner_steps), "poisoned delta"};
        }
        if (!master_killed && o.kill_master_at >= 0 && outer >= o.kill_master_at) {
            kill(master, SIGKILL);
            waitpid(master, NULL, 0);
            master = -1;
            master_killed = true;
            fprintf(stderr, "\nagora launch: SIGKILL the coordinator at outer step %lld\n",
                    (long long)outer);
            marks[n_marks++] = (agora_svg_mark){(double)(outer * dp.inner_steps),
                                                o.restart_master ? "master killed, restarted"
                                                : o.standby ? "master killed, standby took over"
                                                            : "master killed"};
            if (o.restart_master) {
                char *pbuf = NULL;
                size_t plen = 0;
                if (agora_read_file(port_file, 64, &pbuf, &plen, NULL) == AGORA_OK) {
                    snprintf(mport, sizeof mport, "%ld", strtol(pbuf, NULL, 10));
                    agora_free(pbuf);
                }
                agora_sleep_ns(1000 * 1000000LL);
                margs[7] = mport;
                master = spawn(margs, mlog, true);
                fprintf(stderr, "agora launch: coordinator restarted on port %s\n", mport);
            }
        }
        if (!joined && o.join_at >= 0 && outer >= o.join_at && n < MAX_NODES) {
            if (start_node(&nodes[n], root, n, n_workers, key, port_file) == 0) {
                fprintf(stderr, "\nagora launch: node-%02d joins at outer step %lld\n", n,
                        (long long)outer);
                marks[n_marks++] = (agora_svg_mark){(double)(outer * dp.inner_steps), "join"};
                n++;
            }
            joined = true;
        }
        if (agora_deadline_passed(deadline)) {
            timed_out = true;
            break;
        }
        agora_sleep_ns(100 * 1000000LL);
    }
    agora_progress_finish(&bar, NULL);
    int failures = 0;
    for (int i = 0; i < n; i++) {
        if (!nodes[i].done) {
            kill(nodes[i].pid, SIGTERM);
            waitpid(nodes[i].pid, &nodes[i].status, 0);
            nodes[i].done = true;
        }
        if (!nodes[i].killed &&
            !(WIFEXITED(nodes[i].status) && WEXITSTATUS(nodes[i].status) == 0)) {
            failures++;
            fprintf(stderr, "agora launch: node-%02d failed; see %s/log.txt\n", i, nodes[i].dir);
        }
    }
    if (standby > 0) { /* first: it must not see the coordinator go and take over */
        kill(standby, SIGTERM);
        waitpid(standby, NULL, 0);
    }
    if (master > 0) {
        kill(master, SIGTERM);
        waitpid(master, NULL, 0);
    }
    print_summary(root, nodes, n);
    write_loss_plot(root, nodes, n, marks, n_marks);
    if (timed_out)
        return agora_cli_fail("launch", "gave up after %lld s", (long long)o.timeout_s);
    return failures ? AGORA_EXIT_FAIL : AGORA_EXIT_OK;
}
