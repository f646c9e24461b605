/* cmd_comm_bench.c: `agora comm-bench`: spawn N local peers and a coordinator, run
 * all-reduces of the given sizes and codecs, print time, algbw and busbw.
 *
 * The coordinator runs on a thread of this process; each peer is a fresh process
 * (`agora comm-bench --worker ...`, fork + exec), so peers share nothing but loopback.
 * busbw follows nccl-tests: bytes * 2 (W - 1) / W / time, with bytes = count * 4 (the
 * fp32 size, whatever the codec), so codecs compare end to end.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/log.h"
#include "agora/rng.h"
#include "agora/time.h"
#include "cli.h"
#include "comm/proxy.h"

static void bench_help(FILE *out);
static int bench_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_comm_bench = {
    .name = "comm-bench",
    .summary = "benchmark the ring all-reduce with N local peers",
    .run = bench_run,
    .help = bench_help,
    .order = 21,
};

#define MAX_LIST 16

static struct {
    int64_t peers, iters, warmup, pool, worker_port, worker_index;
    double cap_mbps, rate_mbps;
    bool no_checksum;
    const char *sizes, *codecs, *ops, *data_auth;
    bool worker;
} o;

static const agora_cli_flag k_flags[] = {
    {"--peers", AGORA_CLI_INT, &o.peers, "N", "number of peer processes (2)"},
    {"--sizes", AGORA_CLI_STR, &o.sizes, "LIST", "buffer sizes in bytes, K/M/G suffixes (4,64M)"},
    {"--codecs", AGORA_CLI_STR, &o.codecs, "LIST", "f32,int8-lut,minmax-uint8,e3m0 (f32,int8-lut)"},
    {"--op", AGORA_CLI_STR, &o.ops, "OP", "sum or avg (avg)"},
    {"--iters", AGORA_CLI_INT, &o.iters, "N", "timed all-reduces per size and codec (5)"},
    {"--warmup", AGORA_CLI_INT, &o.warmup, "N", "untimed all-reduces first (1)"},
    {"--pool", AGORA_CLI_INT, &o.pool, "N", "TCP streams per ring neighbour (1)"},
    {"--cap-mbps", AGORA_CLI_DBL, &o.cap_mbps, "N",
     "cap each peer's ingress at N Mbit/s through a fault proxy (0: none)"},
    {"--rate-limit-mbps", AGORA_CLI_DBL, &o.rate_mbps, "N",
     "each peer limits its own P2P sends to N Mbit/s (comm.rate_limit_mbps; 0: none)"},
    {"--no-data-checksum", AGORA_CLI_SWITCH, &o.no_checksum, NULL,
     "ring data frames checksum their header only"},
    {"--data-auth", AGORA_CLI_STR, &o.data_auth, "MODE",
     "ring data: auto (checksums here: every peer is local), mac or checksum"},
    {"--worker", AGORA_CLI_SWITCH, &o.worker, NULL, "(internal) run as one peer"},
    {"--worker-port", AGORA_CLI_INT, &o.worker_port, "N", "(internal) coordinator port"},
    {"--worker-index", AGORA_CLI_INT, &o.worker_index, "N", "(internal) peer index"},
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void bench_help(FILE *out) {
    fprintf(out,
            "usage: agora comm-bench [--peers N] [--sizes 4,64M,256M] [--codecs f32,int8-lut]\n"
            "                        [--iters N] [--pool N]\n\n"
            "Prints one line per (size, codec): median time per all-reduce, algbw =\n"
            "bytes/time and busbw = bytes*2(W-1)/W/time, bytes being the fp32 size.\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

static int parse_size(const char *s, size_t *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    double mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024.0 * 1024 * 1024, end++;
    if (*end != '\0')
        return -1;
    if (!(v * mul < 4611686018427387904.0)) /* 2^62, and not inf or NaN: the cast stays defined */
        return -1;
    *out = (size_t)(v * mul);
    return *out >= 4 ? 0 : -1;
}

/* Splits a comma list into at most MAX_LIST items (copy kept in buf). */
static size_t split_list(const char *s, char *buf, size_t cap, char **items) {
    snprintf(buf, cap, "%s", s);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < MAX_LIST;
         t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// ---- worker ----

static void *proxy_thread(void *arg) {
    (void)agora__proxy_run(arg);
    return NULL;
}

static int worker(size_t n_sizes, const size_t *sizes, size_t n_codecs, const agora_codec *codecs,
                  agora_reduce_op op) {
    agora_comm_opts co;
    memset(&co, 0, sizeof co);
    const char *hex = getenv("AGORA_BENCH_KEY");
    if (hex == NULL || strlen(hex) != 2 * AGORA_COMM_KEY_BYTES)
        return agora_cli_fail("comm-bench", "worker needs AGORA_BENCH_KEY");
    for (int i = 0; i < AGORA_COMM_KEY_BYTES; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        co.key[i] = (uint8_t)v;
    }
    co.master_port = (uint16_t)o.worker_port;
    co.pool_size = (uint32_t)o.pool;
    co.data_checksum_off = o.no_checksum ? 1 : 0;
    co.rate_limit_mbps = o.rate_mbps;
    agora_proxy *px = NULL;
    pthread_t px_thread;
    if (o.cap_mbps > 0) { /* the others reach this peer only through a capped proxy */
        agora_proxy_opts po;
        memset(&po, 0, sizeof po);
        po.mbps = o.cap_mbps;
        po.stall_after_bytes = po.reset_after_bytes = -1;
        if (agora__proxy_create(&po, &px) != AGORA_OK)
            return agora_cli_fail("comm-bench", "cannot start the proxy");
        co.p2p_advertise_port = agora__proxy_port(px);
    }
    agora_comm *c = NULL;
    agora_err rc = agora_comm_create(&co, &c);
    if (rc != AGORA_OK) {
        agora__proxy_destroy(px);
        return agora_cli_fail("comm-bench", "peer %lld: %s", (long long)o.worker_index,
                              agora_err_str(rc));
    }
    if (px) {
        agora__proxy_set_target(px, 0x7f000001u, agora_comm_p2p_port(c));
        if (pthread_create(&px_thread, NULL, proxy_thread, px) != 0) {
            agora_comm_destroy(c);
            agora__proxy_destroy(px);
            return agora_cli_fail("comm-bench", "cannot start the proxy thread");
        }
    }
    int64_t deadline = agora_deadline_in_ms(60000);
    while (rc == AGORA_OK && agora_comm_world(c) < (uint32_t)o.peers) {
        rc = agora_comm_update_topology(c, deadline);
        if (rc == AGORA_EPEER_LOST)
            rc = AGORA_OK;
    }
    size_t max = 0;
    for (size_t i = 0; i < n_sizes; i++)
        max = sizes[i] > max ? sizes[i] : max;
    size_t maxn = (max + 3) / 4;
    float *buf = agora_malloc(maxn * sizeof(float));
    int64_t *t = agora_malloc((size_t)(o.iters > 0 ? o.iters : 1) * sizeof(int64_t));
    if (buf == NULL || t == NULL)
        rc = AGORA_ENOMEM;
    bool lead = agora_comm_rank(c) == 0;
    uint32_t W = agora_comm_world(c);
    if (lead && rc == AGORA_OK)
        printf("%-12s %-13s %5s %12s %12s %12s\n", "bytes", "codec", "peers", "time_us",
               "algbw_GB/s", "busbw_GB/s");
    for (size_t si = 0; si < n_sizes && rc == AGORA_OK; si++) {
        size_t n = (sizes[si] + 3) / 4;
        for (size_t ci = 0; ci < n_codecs && rc == AGORA_OK; ci++) {
            agora_rng r;
            agora_rng_seed(&r, 7, AGORA_RNG_STREAM_TEST, (uint32_t)o.worker_index);
            for (size_t k = 0; k < n; k++)
                buf[k] = (float)agora_rng_normal(&r);
            for (int64_t it = 0; it < o.warmup + o.iters && rc == AGORA_OK; it++) {
                agora_reduce_desc d = {buf, n, op, codecs[ci], 1, agora_deadline_in_ms(120000),
                                       NULL};
                int64_t t0 = agora_now_ns();
                rc = agora_comm_allreduce(c, &d, NULL);
                if (it >= o.warmup)
                    t[it - o.warmup] = agora_now_ns() - t0;
            }
            if (rc != AGORA_OK || !lead)
                continue;
            qsort(t, (size_t)o.iters, sizeof *t, cmp_i64);
            double sec = (double)t[o.iters / 2] / 1e9;
            double bytes = (double)n * 4.0;
            printf("%-12zu %-13s %5u %12.1f %12.3f %12.3f\n", n * 4, agora_codec_name(codecs[ci]),
                   W, sec * 1e6, bytes / sec / 1e9, bytes * 2.0 * (W - 1) / W / sec / 1e9);
            fflush(stdout);
        }
    }
    agora_free(buf);
    agora_free(t);
    agora_comm_destroy(c);
    if (px) {
        agora__proxy_interrupt(px);
        pthread_join(px_thread, NULL);
        agora__proxy_destroy(px);
    }
    if (rc != AGORA_OK)
        return agora_cli_fail("comm-bench", "peer %lld: %s", (long long)o.worker_index,
                              agora_err_str(rc));
    return AGORA_EXIT_OK;
}

// ---- parent ----

static void *master_thread(void *arg) {
    (void)agora_master_run(arg);
    return NULL;
}

static int parent(void) {
    agora_master_opts mo;
    memset(&mo, 0, sizeof mo);
    uint8_t secret[32];
    agora_rng r;
    agora_rng_seed(&r, (uint64_t)getpid() ^ (uint64_t)agora_now_ns(), AGORA_RNG_STREAM_COMM, 0);
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)agora_rng_u32(&r);
    if (agora_comm_key_derive(secret, sizeof secret, mo.key) != AGORA_OK)
        return agora_cli_fail("comm-bench", "libsodium failed");
    mo.heartbeat_timeout_ms = 30000;
    mo.data_auth = AGORA_DATA_AUTH_AUTO;
    if (o.data_auth != NULL && strcmp(o.data_auth, "mac") == 0)
        mo.data_auth = AGORA_DATA_AUTH_MAC;
    else if (o.data_auth != NULL && strcmp(o.data_auth, "checksum") == 0)
        mo.data_auth = AGORA_DATA_AUTH_CHECKSUM;
    else if (o.data_auth != NULL && strcmp(o.data_auth, "auto") != 0)
        return agora_cli_usage("comm-bench", "--data-auth: '%s' is not auto, mac or checksum",
                               o.data_auth);
    agora_master *m = NULL;
    agora_err rc = agora_master_create(&mo, &m);
    if (rc != AGORA_OK)
        return agora_cli_fail("comm-bench", "coordinator: %s", agora_err_str(rc));
    char hex[2 * AGORA_COMM_KEY_BYTES + 1];
    for (int i = 0; i < AGORA_COMM_KEY_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", mo.key[i]);
    setenv("AGORA_BENCH_KEY", hex, 1);
    pthread_t th;
    if (pthread_create(&th, NULL, master_thread, m) != 0) {
        agora_master_destroy(m);
        return agora_cli_fail("comm-bench", "cannot start the coordinator thread");
    }
    char port[16], idx[16], peers[16], iters[16], warm[16], pool[16], cap[32], rate[32];
    char name[] = "agora", cmd[] = "comm-bench", f_worker[] = "--worker",
         f_port[] = "--worker-port", f_idx[] = "--worker-index", f_peers[] = "--peers",
         f_sizes[] = "--sizes", f_codecs[] = "--codecs", f_op[] = "--op", f_iters[] = "--iters",
         f_warm[] = "--warmup", f_pool[] = "--pool", f_cap[] = "--cap-mbps",
         f_rate[] = "--rate-limit-mbps", f_nosum[] = "--no-data-checksum";
    char sizes[512], codecs[512], ops[16];
    snprintf(sizes, sizeof sizes, "%s", o.sizes);
    snprintf(codecs, sizeof codecs, "%s", o.codecs);
    snprintf(ops, sizeof ops, "%s", o.ops);
    snprintf(port, sizeof port, "%u", (unsigned)agora_master_port(m));
    snprintf(peers, sizeof peers, "%lld", (long long)o.peers);
    snprintf(iters, sizeof iters, "%lld", (long long)o.iters);
    snprintf(warm, sizeof warm, "%lld", (long long)o.warmup);
    snprintf(pool, sizeof pool, "%lld", (long long)o.pool);
    snprintf(cap, sizeof cap, "%.3f", o.cap_mbps);
    snprintf(rate, sizeof rate, "%.3f", o.rate_mbps);
    pid_t pids[64];
    int n = 0, bad = 0;
    fflush(stdout);
    for (int i = 0; i < o.peers; i++) {
        snprintf(idx, sizeof idx, "%d", i);
        pid_t pid = fork();
        if (pid == 0) {
            char *args[] = {name,     cmd,
                            f_worker, f_port,
                            port,     f_idx,
                            idx,      f_peers,
                            peers,    f_sizes,
                            sizes,    f_codecs,
                            codecs,   f_op,
                            ops,      f_iters,
                            iters,    f_warm,
                            warm,     f_pool,
                            pool,     f_cap,
                            cap,      f_rate,
                            rate,     o.no_checksum ? f_nosum : NULL,
                            NULL};
            execv("/proc/self/exe", args);
            _exit(127);
        }
        if (pid < 0) {
            bad = 1;
            break;
        }
        pids[n++] = pid;
    }
    for (int i = 0; i < n; i++) {
        int st = 0;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad = 1;
    }
    agora_master_interrupt(m);
    pthread_join(th, NULL);
    agora_master_destroy(m);
    return bad ? agora_cli_fail("comm-bench", "a peer failed") : AGORA_EXIT_OK;
}

static int bench_run(int argc, char **argv) {
    memset(&o, 0, sizeof o);
    o.peers = 2;
    o.iters = 5;
    o.warmup = 1;
    o.pool = 1;
    o.sizes = "4,64M";
    o.codecs = "f32,int8-lut";
    o.ops = "avg";
    const char *pos[1];
    size_t n_pos = 0;
    int pr = agora_cli_parse(&agora_cmd_comm_bench, k_flags, N_FLAGS, argc, argv, pos, 0, &n_pos);
    if (pr != 0)
        return pr < 0 ? AGORA_EXIT_OK : pr;
    if (o.peers < 1 || o.peers > 64 || o.iters < 1 || o.warmup < 0 || o.pool < 1 || o.pool > 64 ||
        o.cap_mbps < 0 || o.rate_mbps < 0)
        return agora_cli_usage("comm-bench", "--peers in [1,64], --iters >= 1, --pool in [1,64]");
    char sb[512], cb[512];
    char *items[MAX_LIST];
    size_t sizes[MAX_LIST], n_sizes = split_list(o.sizes, sb, sizeof sb, items);
    for (size_t i = 0; i < n_sizes; i++)
        if (parse_size(items[i], &sizes[i]) != 0)
            return agora_cli_usage("comm-bench", "bad size '%s'", items[i]);
    agora_codec codecs[MAX_LIST];
    size_t n_codecs = split_list(o.codecs, cb, sizeof cb, items);
    for (size_t i = 0; i < n_codecs; i++)
        if (agora_codec_parse(items[i], &codecs[i]) != AGORA_OK)
            return agora_cli_usage("comm-bench", "unknown codec '%s'", items[i]);
    agora_reduce_op op;
    if (strcmp(o.ops, "sum") == 0)
        op = AGORA_REDUCE_SUM;
    else if (strcmp(o.ops, "avg") == 0)
        op = AGORA_REDUCE_AVG;
    else
        return agora_cli_usage("comm-bench", "--op must be sum or avg");
    if (n_sizes == 0 || n_codecs == 0)
        return agora_cli_usage("comm-bench", "--sizes and --codecs must not be empty");
    signal(SIGPIPE, SIG_IGN);
    if (o.worker)
        return worker(n_sizes, sizes, n_codecs, codecs, op);
    return parent();
}
