/* cmd_node.c: `agora node`: one DiLoCo worker (src/train/diloco.c) in an elastic ring. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/diloco.h"
#include "agora/json.h"
#include "agora/log.h"
#include "agora/metrics.h"
#include "agora/progress.h"
#include "agora/rundir.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "agora/train.h"
#include "cli.h"

static void node_help(FILE *out);
static int node_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_node = {
    .name = "node",
    .summary = "run one DiLoCo worker that joins an elastic training ring",
    .run = node_run,
    .help = node_help,
    .order = 12,
};

static struct {
    const char *config, *run_dir, *key_file, *master, *port_file, *standby_port_file, *progress;
    agora_cli_list sets;
} o;

static const agora_cli_flag k_flags[] = {
    {"--config", AGORA_CLI_STR, &o.config, "FILE", "INI config ([train], [diloco], [comm])"},
    {"--run-dir", AGORA_CLI_STR, &o.run_dir, "DIR", "run directory (default runs/node-...)"},
    {"--master", AGORA_CLI_STR, &o.master, "HOST:PORT", "coordinator address"},
    {"--master-port-file", AGORA_CLI_STR, &o.port_file, "FILE",
     "read the coordinator port from this file (its master.port), waiting for it"},
    {"--standby-port-file", AGORA_CLI_STR, &o.standby_port_file, "FILE",
     "a standby coordinator's master.port (on host comm.master), tried while rejoining"},
    {"--key-file", AGORA_CLI_STR, &o.key_file, "FILE", "cluster secret (= comm.key_file)"},
    {"--set", AGORA_CLI_LIST, &o.sets, "K=V", "override a config key (repeatable)"},
    AGORA_CLI_PROGRESS_FLAG(o.progress),
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void node_help(FILE *out) {
    fprintf(out,
            "usage: agora node --master HOST:PORT --key-file FILE [--config FILE] [--set K=V]\n\n"
            "Trains a replica with DiLoCo: H inner AdamW steps alone, then the ring averages the\n"
            "pseudo-gradients (int8-lut by default) and every node applies the same outer\n"
            "Nesterov step. The node joins at the next outer boundary and pulls the shared\n"
            "state from a peer; when peers die the survivors retry without them.\n"
            "With diloco.overlap=true the all-reduce of one round runs while the next trains;\n"
            "with diloco.streaming=true the parameters go out in diloco.fragments fragments\n"
            "spread over the H steps, each all-reduce behind diloco.fragment_overlap steps.\n"
            "Writes metrics.jsonl/.csv (one record per outer step), summary.json, checkpoints\n"
            "(ckpt/, ckpt-outer/: every diloco.ckpt_every outer steps, at the end, and when\n"
            "stopped early) into its run directory; --set train.resume=true continues from\n"
            "them. Keys: see `agora train --help` for [train], and the [diloco] and [comm]\n"
            "tables in docs/diloco.md.\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

static agora_comm *g_comm;
static volatile sig_atomic_t g_stopping;

static void on_signal(int sig) {
    (void)sig;
    g_stopping = 1;
    if (g_comm != NULL)
        agora_comm_abort(g_comm);
}

typedef struct node_ctx {
    agora_metrics *metrics;
    agora_progress bar;
    double util_sum, tx, rx, last_loss, dp_tx;
    size_t n_params;
    int64_t h;
    int64_t outer_done, skipped, retries, records;
} node_ctx;

static int on_outer(const agora_diloco_outer_stats *st, void *user) {
    node_ctx *n = user;
    agora_metrics *m = n->metrics;
    agora_metrics_begin(m);
    agora_metrics_i64(m, "outer_step", st->outer_step);
    agora_metrics_i64(m, "inner_step", st->inner_step);
    agora_metrics_f64(m, "loss", st->loss);
    agora_metrics_i64(m, "world", st->world);
    agora_metrics_i64(m, "contributors", st->contributors);
    agora_metrics_f64(m, "inner_s", st->inner_s);
    agora_metrics_f64(m, "allreduce_s", st->allreduce_s);
    agora_metrics_f64(m, "boundary_s", st->boundary_s);
    agora_metrics_f64(m, "utilization", st->utilization);
    agora_metrics_i64(m, "tx_bytes", (int64_t)st->tx_bytes);
    agora_metrics_i64(m, "rx_bytes", (int64_t)st->rx_bytes);
    agora_metrics_i64(m, "sync_rx_bytes", (int64_t)st->sync_rx_bytes);
    agora_metrics_i64(m, "retries", st->retries);
    agora_metrics_i64(m, "skipped", st->skipped);
    agora_metrics_i64(m, "joined", st->joined);
    agora_metrics_i64(m, "committed", st->committed);
    agora_metrics_i64(m, "excluded", st->excluded);
    agora_metrics_f64(m, "ckpt_s", st->ckpt_s);
    agora_metrics_f64(m, "residual_norm", st->residual_norm);
    agora_metrics_f64(m, "tok_per_s", st->tok_per_s);
    agora_metrics_f64(m, "mfu", st->mfu);
    agora_metrics_f64(m, "outer_mfu", st->outer_mfu);
    if (agora_metrics_end(m) != AGORA_OK)
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "could not write a metrics record");
    n->records++;
    n->util_sum += st->utilization;
    n->tx += (double)st->tx_bytes;
    if (st->world > 1) /* per committed outer step: H fp32 gradient all-reduces */
        n->dp_tx += (double)st->committed * (double)n->h * 2.0 * (double)(st->world - 1) /
                    (double)st->world * 4.0 * (double)n->n_params;
    n->rx += (double)st->rx_bytes;
    n->last_loss = st->loss;
    n->outer_done = st->outer_step;
    n->skipped += st->skipped;
    n->retries += st->retries;
    agora_progress_update(&n->bar, (uint64_t)st->outer_step, "loss %.3f world %u util %.0f%%%s",
                          st->loss, st->world, 100 * st->utilization,
                          st->skipped ? " (alone: skipped)" : "");
    return 0;
}

static agora_err write_summary(const char *dir, const node_ctx *n, double val_loss,
                               const char *ckpt, size_t n_params, int64_t inner_steps, char *err) {
    agora_jw w;
    agora_jw_init(&w);
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "outer_steps");
    agora_jw_i64(&w, n->outer_done);
    agora_jw_key(&w, "final_inner_loss");
    agora_jw_f64(&w, n->last_loss);
    agora_jw_key(&w, "val_loss");
    agora_jw_f64(&w, val_loss);
    agora_jw_key(&w, "mean_utilization");
    agora_jw_f64(&w, n->records ? n->util_sum / (double)n->records : 0.0);
    agora_jw_key(&w, "tx_bytes");
    agora_jw_f64(&w, n->tx);
    agora_jw_key(&w, "rx_bytes");
    agora_jw_f64(&w, n->rx);
    agora_jw_key(&w, "skipped_outer_steps");
    agora_jw_i64(&w, n->skipped);
    agora_jw_key(&w, "retries");
    agora_jw_i64(&w, n->retries);
    agora_jw_key(&w, "n_params");
    agora_jw_u64(&w, (uint64_t)n_params);
    agora_jw_key(&w, "inner_steps");
    agora_jw_i64(&w, inner_steps);
    /* What per-step data-parallel training would have sent: a ring all-reduce of the fp32
     * gradient every inner step, 2(W-1)/W of the payload, with the same world sizes. */
    agora_jw_key(&w, "dp_equivalent_tx_bytes");
    agora_jw_f64(&w, n->dp_tx);
    agora_jw_key(&w, "checkpoint");
    agora_jw_str(&w, ckpt);
    agora_jw_obj_end(&w);
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    agora_err rc = agora_jw_status(&w);
    if (rc == AGORA_OK)
        rc = agora_write_file_atomic(path, w.buf, w.len, err);
    agora_jw_fini(&w);
    return rc;
}

/* read_port waits (deadline) for a master.port file and parses it. */
static int read_port(const char *path, int64_t deadline, uint16_t *port) {
    for (;;) {
        char *buf = NULL;
        size_t len = 0;
        if (agora_read_file(path, 64, &buf, &len, NULL) == AGORA_OK) {
            char *end = NULL;
            long v = strtol(buf, &end, 10);
            bool ok = end != buf && v > 0 && v <= 65535;
            agora_free(buf);
            if (ok) {
                *port = (uint16_t)v;
                return 0;
            }
        }
        if (agora_deadline_passed(deadline))
            return -1;
        agora_sleep_ns(20 * 1000000LL);
    }
}

static int node_run(int argc, char **argv) {
    memset(&o, 0, sizeof o);
    const char *pos[1];
    size_t n_pos = 0;
    int pr = agora_cli_parse(&agora_cmd_node, k_flags, N_FLAGS, argc, argv, pos, 0, &n_pos);
    if (pr != 0)
        return pr < 0 ? AGORA_EXIT_OK : pr;
    agora_progress_mode pmode;
    if (agora_cli_progress("node", o.progress, &pmode) != 0)
        return AGORA_EXIT_USAGE;
    agora_train_params tp;
    agora_diloco_params dp;
    agora_comm_cfg cc;
    agora_cfg_table t[3] = {{agora_train_cfg, agora_train_cfg_len, &tp},
                            {agora_diloco_cfg, agora_diloco_cfg_len, &dp},
                            agora_comm_cfg_table(&cc)};
    char err[AGORA_ERR_LEN];
    agora_err rc = agora_cfg_load_all(t, 3, o.config, o.sets.v, o.sets.n, err);
    if (rc != AGORA_OK)
        return agora_cli_cfg_exit("node", rc, err);
    if ((rc = agora_diloco_check(&dp, 0, err)) != AGORA_OK)
        return agora_cli_cfg_exit("node", rc, err);
    if (o.key_file)
        snprintf(cc.key_file, sizeof cc.key_file, "%s", o.key_file);
    if (cc.key_file[0] == '\0')
        return agora_cli_usage("node", "needs --key-file FILE (the cluster secret)");
    char host[256];
    snprintf(host, sizeof host, "%s", cc.master);
    uint16_t port = (uint16_t)cc.port;
    if (o.master != NULL &&
        agora_cli_host_port("node", "--master", o.master, host, sizeof host, &port) != 0)
        return AGORA_EXIT_USAGE;
    if (o.port_file != NULL &&
        read_port(o.port_file, agora_deadline_in_ms(cc.connect_timeout_ms), &port) != 0)
        return agora_cli_fail("node", "%s: no coordinator port within %lld ms", o.port_file,
                              (long long)cc.connect_timeout_ms);
    if (port == 0)
        return agora_cli_usage("node", "needs --master HOST:PORT or --master-port-file FILE");
    char sb_host[256];
    uint16_t sb_port = 0;
    snprintf(sb_host, sizeof sb_host, "%s", cc.master);
    if (cc.standby[0] != '\0' && agora_cli_host_port("node", "comm.standby", cc.standby, sb_host,
                                                     sizeof sb_host, &sb_port) != 0)
        return AGORA_EXIT_USAGE;
    if ((cc.standby[0] != '\0' || o.standby_port_file != NULL) && cc.rejoin_timeout_ms <= 0)
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "the standby coordinator is tried at start only: "
                                        "comm.rejoin_timeout_ms > 0 turns to it later too");

    agora_comm_opts co;
    memset(&co, 0, sizeof co);
    if (agora_comm_key_from_file(cc.key_file, co.key, err) != AGORA_OK)
        return agora_cli_fail("node", "%s", err);
    char dir[1024];
    if (agora_rundir_create(o.run_dir, "node", dir, sizeof dir, err) != AGORA_OK ||
        agora_rundir_write_config(dir, o.config, t, 3, err) != AGORA_OK ||
        agora_rundir_write_meta(dir, (uint64_t)tp.seed, 0, argc, argv, err) != AGORA_OK)
        return agora_cli_fail("node", "%s", err);
    const char *slash = strrchr(dir, '/');
    agora_log_set_role(slash ? slash + 1 : dir);

    agora_trainer *tr = NULL;
    if (agora_trainer_create(&tp, dir, &tr, err) != AGORA_OK)
        return agora_cli_fail("node", "%s", err);
    co.master_host = host;
    co.master_port = port;
    co.p2p_host = cc.bind;
    co.p2p_port = (uint16_t)cc.p2p_port;
    co.pool_size = (uint32_t)cc.pool_size;
    co.connect_timeout_ms = (int32_t)cc.connect_timeout_ms;
    co.rate_limit_mbps = cc.rate_limit_mbps;
    agora_comm *c = NULL;
    rc = agora_comm_create(&co, &c);
    if (rc != AGORA_OK && (sb_port != 0 || o.standby_port_file != NULL)) {
        if (sb_port == 0)
            (void)read_port(o.standby_port_file, agora_deadline_in_ms(1000), &sb_port);
        if (sb_port != 0) { /* the coordinator is not there: its standby may be */
            AGORA_LOG_WARN(AGORA_SUB_TRAIN, "coordinator %s:%u: %s; trying the standby at %s:%u",
                           host, (unsigned)port, agora_err_str(rc), sb_host, (unsigned)sb_port);
            co.master_host = sb_host;
            co.master_port = sb_port;
            rc = agora_comm_create(&co, &c);
        }
    }
    if (rc != AGORA_OK) {
        agora_trainer_destroy(tr);
        return agora_cli_fail(
            "node", "cannot join the coordinator at %s:%u (ring links on %s:%u): %s", host,
            (unsigned)port, cc.bind, (unsigned)cc.p2p_port, agora_err_str(rc));
    }
    g_comm = c;
    agora_cli_on_stop(on_signal);

    node_ctx n;
    memset(&n, 0, sizeof n);
    if (agora_metrics_open(dir, NULL, &n.metrics) != AGORA_OK) {
        agora_comm_destroy(c);
        agora_trainer_destroy(tr);
        return agora_cli_fail("node", "%s: cannot open metrics files", dir);
    }
    n.n_params = agora_model_n_params(agora_trainer_model(tr));
    char outer_root[1100];
    snprintf(outer_root, sizeof outer_root, "%s/ckpt-outer", dir);
    dp.ckpt_root = outer_root;
    dp.resume = tp.resume; /* train.resume: AdamW state and data cursor, then the outer state */
    n.h = dp.inner_steps;
    agora_progress_init(&n.bar, "outer", (uint64_t)dp.outer_steps, stderr, pmode);
    AGORA_LOG_INFO(AGORA_SUB_TRAIN, "joining %s:%u: H=%lld, %lld outer steps, codec %s%s",
                   co.master_host, (unsigned)co.master_port, (long long)dp.inner_steps,
                   (long long)dp.outer_steps, agora_codec_name((agora_codec)cc.codec),
                   dp.overlap     ? ", overlapped outer steps"
                   : dp.streaming ? ", streaming fragments"
                                  : "");
    for (;;) {
        rc = agora_diloco_run(&dp, tr, c, (agora_codec)cc.codec, cc.collective_timeout_ms, on_outer,
                              &n);
        if (rc != AGORA_ECLOSED || cc.rejoin_timeout_ms <= 0 || g_stopping)
            break;
        if (dp.ckpt_every <= 0) { /* the way back in is the stop checkpoint */
            AGORA_LOG_WARN(AGORA_SUB_TRAIN, "comm.rejoin_timeout_ms needs diloco.ckpt_every > 0");
            break;
        }
        /* The coordinator is gone and the outer state is checkpointed: wait for it to come
         * back (restarted, maybe on a new port when a port file is used), then continue
         * from that checkpoint like a resume, with the trainer's state still in memory. */
        g_comm = NULL;
        agora_comm_destroy(c);
        c = NULL;
        int64_t deadline = agora_deadline_in_ms(cc.rejoin_timeout_ms);
        AGORA_LOG_WARN(AGORA_SUB_TRAIN,
                       "coordinator lost at outer step %lld; reconnecting for up to %lld ms",
                       (long long)n.outer_done, (long long)cc.rejoin_timeout_ms);
        /* The coordinator, then the standby (if any), in turn. */
        bool at_standby = false;
        while (c == NULL && !g_stopping && !agora_deadline_passed(deadline)) {
            if (o.port_file != NULL)
                (void)read_port(o.port_file, agora_deadline_in_ms(100), &port);
            co.master_host = host;
            co.master_port = port;
            at_standby = false;
            if (agora_comm_create(&co, &c) == AGORA_OK)
                break;
            c = NULL;
            if (sb_port == 0 && o.standby_port_file != NULL)
                (void)read_port(o.standby_port_file, agora_deadline_in_ms(100), &sb_port);
            if (sb_port != 0) {
                co.master_host = sb_host;
                co.master_port = sb_port;
                at_standby = true;
                if (agora_comm_create(&co, &c) == AGORA_OK)
                    break;
                c = NULL;
            }
            agora_sleep_ns(250 * 1000000LL);
        }
        if (c == NULL)
            break; /* rc stays AGORA_ECLOSED */
        g_comm = c;
        dp.resume = true;
        if (at_standby)
            AGORA_LOG_INFO(AGORA_SUB_TRAIN, "rejoined through the standby coordinator at %s:%u",
                           sb_host, (unsigned)sb_port);
        else
            AGORA_LOG_INFO(AGORA_SUB_TRAIN, "rejoined the coordinator at %s:%u", host,
                           (unsigned)port);
    }
    g_comm = NULL;
    agora_progress_finish(&n.bar, NULL);
    int exit_code = AGORA_EXIT_OK;
    if (rc != AGORA_OK) {
        bool saved = dp.ckpt_every > 0 && n.outer_done > 0 &&
                     (rc == AGORA_ECLOSED || rc == AGORA_ETIMEDOUT || rc == AGORA_EABORTED ||
                      rc == AGORA_EPEER_LOST);
        exit_code = agora_cli_fail("node", "stopped at outer step %lld: %s%s",
                                   (long long)n.outer_done, agora_err_str(rc),
                                   saved ? " (outer state checkpointed in ckpt-outer/; "
                                           "--set train.resume=true continues)"
                                         : "");
    } else {
        double val = 0.0 / 0.0;
        if (agora_trainer_eval(tr, &val) != AGORA_OK)
            val = 0.0 / 0.0;
        char ckpt[1024] = "";
        if (agora_trainer_checkpoint(tr, ckpt, sizeof ckpt, err) != AGORA_OK)
            AGORA_LOG_WARN(AGORA_SUB_TRAIN, "final checkpoint failed: %s", err);
        if (write_summary(dir, &n, val, ckpt, n.n_params, dp.inner_steps, err) != AGORA_OK)
            AGORA_LOG_WARN(AGORA_SUB_TRAIN, "summary.json: %s", err);
        AGORA_LOG_INFO(AGORA_SUB_TRAIN, "done: %lld outer steps, loss %.4f, val %.4f, sent %.1f MB",
                       (long long)n.outer_done, n.last_loss, val, n.tx / 1e6);
    }
    agora_metrics_close(n.metrics);
    agora_comm_destroy(c);
    agora_trainer_destroy(tr);
    return exit_code;
}
