/* test_comm_cluster.c: elastic collectives with real processes on loopback.
 *
 * Each case starts the real `agora master` (port 0, read back from master.port) and forks
 * peer processes that run a scenario against the public API (include/agora/comm.h). Peers
 * check their own results against a reference they can compute (integer-valued data, so
 * fp32 sums are exact in any order) and write a digest of every committed result, so the
 * parent can check that all peers hold bit-identical buffers. Faults are real: SIGKILL,
 * SIGSTOP, a wrong key, garbage and oversized frames. Waits poll with deadlines.
 */
#include "agora_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/hash.h"
#include "agora/log.h"
#include "agora/rng.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "comm/proxy.h"
#include "comm/wire.h"

#define MAX_PEERS 16

typedef struct cluster {
    char *dir;
    pid_t master;
    uint16_t port;
    pid_t peer[MAX_PEERS];
    int n_peer;
    /* scenario parameters, seen by forked children */
    int world;  /* expected initial world */
    int victim; /* index killed or stopped, -1 none */
    int iters;
    double rate_mbps; /* comm.rate_limit_mbps of every peer (0: none) */
} cluster;

// ---- process helpers ----

static void sleep_ms(int ms) {
    agora_sleep_ns((int64_t)ms * 1000000);
}

static void write_key(const cluster *cl, const char *name, const char *secret) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", cl->dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(secret, f);
    fclose(f);
}

static void start_master(cluster *cl, const char *extra) {
    write_key(cl, "key", "agora-test-secret");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char log[512], cmd[2048];
        snprintf(log, sizeof log, "%s/master.log", cl->dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        snprintf(cmd, sizeof cmd,
                 "exec '%s' master --run-dir '%s/master' --key-file '%s/key' "
                 "--set comm.heartbeat_interval_ms=100 %s",
                 agora_test_bin(), cl->dir, cl->dir, extra ? extra : "");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    cl->master = pid;
    char p[512];
    snprintf(p, sizeof p, "%s/master/master.port", cl->dir);
    int64_t deadline = agora_deadline_in_ms(10000);
    for (;;) {
        FILE *f = fopen(p, "r");
        unsigned port = 0;
        if (f && fscanf(f, "%u", &port) == 1 && port > 0) {
            fclose(f);
            cl->port = (uint16_t)port;
            return;
        }
        if (f)
            fclose(f);
        if (agora_deadline_passed(deadline))
            fail_msg("master.port did not appear in %s", p);
        sleep_ms(5);
    }
}

typedef int (*scenario_fn)(const cluster *cl, int idx);

static void spawn(cluster *cl, scenario_fn fn, int idx) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char log[512], role[32];
        snprintf(log, sizeof log, "%s/peer-%02d.log", cl->dir, idx);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        snprintf(role, sizeof role, "peer-%02d", idx);
        agora_log_set_role(role);
        agora_log_set_level(AGORA_LOG_LEVEL_INFO);
        exit(fn(cl, idx)); /* exit, not _exit: sanitizers report at exit */
    }
    cl->peer[idx] = pid;
    if (idx >= cl->n_peer)
        cl->n_peer = idx + 1;
}

/* Waits for a child; returns its exit status, or -1 on timeout (the child is killed). */
static int wait_exit(pid_t pid, int timeout_ms) {
    int64_t deadline = agora_deadline_in_ms(timeout_ms);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        if (agora_deadline_passed(deadline)) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        sleep_ms(5);
    }
}

static cluster *cluster_new(int world) {
    cluster *cl = calloc(1, sizeof *cl);
    cl->dir = agora_test_tmpdir();
    cl->world = world;
    cl->victim = -1;
    cl->iters = 4;
    for (int i = 0; i < MAX_PEERS; i++)
        cl->peer[i] = -1;
    return cl;
}

/* Sanitizer reports in any process log fail the test (children's exit codes alone can
 * hide them). */
static bool logs_clean(const cluster *cl) {
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd, "grep -l 'Sanitizer' '%s'/*.log", cl->dir);
    if (agora_test_run(cmd, out, sizeof out) == 0) {
        print_message("sanitizer reports in: %s\n", out);
        return false;
    }
    return true;
}

static void cluster_free(cluster *cl, bool ok) {
    for (int i = 0; i < cl->n_peer; i++)
        if (cl->peer[i] > 0) {
            kill(cl->peer[i], SIGKILL);
            waitpid(cl->peer[i], NULL, 0);
        }
    if (cl->master > 0) {
        kill(cl->master, SIGTERM);
        if (wait_exit(cl->master, 5000) != 0)
            ok = false; /* the master must stop cleanly and never crash */
    }
    ok = logs_clean(cl) && ok;
    if (ok && getenv("AGORA_TEST_KEEP") == NULL)
        agora_test_rmtree(cl->dir);
    else
        print_message("kept run directory %s\n", cl->dir);
    free(cl->dir);
    free(cl);
    assert_true(ok);
}

// ---- peer-side helpers (run in children) ----

static agora_comm *peer_connect(const cluster *cl, const char *key_name) {
    agora_comm_opts o;
    memset(&o, 0, sizeof o);
    char p[512], err[AGORA_ERR_LEN];
    snprintf(p, sizeof p, "%s/%s", cl->dir, key_name);
    if (agora_comm_key_from_file(p, o.key, err) != AGORA_OK)
        return NULL;
    o.master_port = cl->port;
    o.pool_size = 2;
    o.data_checksum_off = cl->world == 3; /* one size runs with header-only data checksums */
    /* one size binds ring links to every interface: the coordinator then tells the others
     * the address it sees the peer connect from */
    o.p2p_host = cl->world == 5 ? "0.0.0.0" : NULL;
    o.rate_limit_mbps = cl->rate_mbps;
    agora_comm *c = NULL;
    agora_err rc = agora_comm_create(&o, &c);
    if (rc != AGORA_OK) {
        fprintf(stderr, "create: %s\n", agora_err_name(rc));
        return NULL;
    }
    return c;
}

static agora_err join_until(agora_comm *c, uint32_t world, int timeout_ms) {
    int64_t deadline = agora_deadline_in_ms(timeout_ms);
    while (agora_comm_world(c) < world) {
        agora_err rc = agora_comm_update_topology(c, deadline);
        if (rc != AGORA_OK && rc != AGORA_EPEER_LOST)
            return rc;
        if (agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
    }
    return AGORA_OK;
}

/* Integer-valued data: any summation order is exact in fp32. */
static float value(int idx, int iter, size_t j) {
    return (float)((int)(((unsigned)idx * 131u + j * 7u + (unsigned)iter * 13u) % 61u) - 30);
}

static void fill(float *x, size_t n, int idx, int iter) {
    for (size_t j = 0; j < n; j++)
        x[j] = value(idx, iter, j);
}

static void append_line(const cluster *cl, const char *file, int idx, const char *line) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s-%02d", cl->dir, file, idx);
    FILE *f = fopen(p, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

static void record_digest(const cluster *cl, int idx, const char *label, const float *x, size_t n) {
    char line[128];
    snprintf(line, sizeof line, "%s %016llx\n", label,
             (unsigned long long)agora_hash64(x, n * sizeof(float)));
    append_line(cl, "digest", idx, line);
}

static size_t file_size(const cluster *cl, const char *file, int idx) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s-%02d", cl->dir, file, idx);
    struct stat st;
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

static char *read_text(const cluster *cl, const char *file, int idx) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s-%02d", cl->dir, file, idx);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return calloc(1, 1);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* All listed peers wrote identical digest files. */
static void assert_digests_agree(const cluster *cl, const int *idx, int n) {
    char *first = read_text(cl, "digest", idx[0]);
    assert_true(strlen(first) > 0);
    for (int i = 1; i < n; i++) {
        char *other = read_text(cl, "digest", idx[i]);
        if (strcmp(first, other) != 0)
            fail_msg("peer %d and peer %d hold different results", idx[0], idx[i]);
        free(other);
    }
    free(first);
}

// ---- scenario: reference sums ----

/* Spawns fn as peers 0..n-1 and waits for them; true when every one exited with 0 (and,
 * with digests, all wrote identical digest files). */
static bool run_peers(cluster *cl, scenario_fn fn, int n, int timeout_ms, bool digests) {
    for (int i = 0; i < n; i++)
        spawn(cl, fn, i);
    bool ok = true;
    int idx[MAX_PEERS];
    for (int i = 0; i < n; i++) {
        int st = wait_exit(cl->peer[i], timeout_ms);
        cl->peer[i] = -1;
        idx[i] = i;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    if (ok && digests)
        assert_digests_agree(cl, idx, n);
    return ok;
}

static int check_exact(const float *got, size_t n, int world, int iter, bool avg) {
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (int p = 0; p < world; p++)
            s += value(p, iter, j);
        float want = avg ? s / (float)world : s;
        if (got[j] != want) {
            fprintf(stderr, "element %zu: got %g want %g\n", j, (double)got[j], (double)want);
            return 1;
        }
    }
    return 0;
}

static int scenario_reference(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, (uint32_t)cl->world, 30000) != AGORA_OK)
        return 10;
    /* the last size gives chunks of >= 1 MiB up to 5 peers: the pipelined F32 schedule */
    static const size_t counts[] = {1, 7, 1001, 65537, 1500007};
    size_t maxn = 1500007, nc = cl->world <= 5 ? 5 : 4;
    float *x = agora_malloc(maxn * sizeof(float)), *ref = agora_malloc(maxn * sizeof(float));
    int bad = 0, iter = 0;
    for (size_t ci = 0; ci < nc; ci++) {
        size_t n = counts[ci];
        for (int codec = 0; codec < AGORA__CODEC_COUNT; codec++)
            for (int op = 0; op < 2; op++, iter++) {
                fill(x, n, idx, iter);
                agora_reduce_desc d = {
                    x,   n, (agora_reduce_op)op, (agora_codec)codec, 1, agora_deadline_in_ms(30000),
                    NULL};
                agora_reduce_info info;
                agora_err rc = agora_comm_allreduce(c, &d, &info);
                if (rc != AGORA_OK) {
                    fprintf(stderr, "allreduce: %s\n", agora_err_name(rc));
                    return 11;
                }
                if (info.world != (uint32_t)cl->world || info.contributors != (uint32_t)cl->world)
                    return 12;
                if (codec == AGORA_CODEC_F32) {
                    bad |= check_exact(x, n, cl->world, iter, op == AGORA_REDUCE_AVG);
                } else { /* quantized: close to the exact result, relative to its scale */
                    double num = 0, den = 0;
                    for (size_t j = 0; j < n; j++) {
                        float s = 0;
                        for (int p = 0; p < cl->world; p++)
                            s += value(p, iter, j);
                        ref[j] = op == AGORA_REDUCE_AVG ? s / (float)cl->world : s;
                        num += ((double)x[j] - ref[j]) * ((double)x[j] - ref[j]);
                        den += (double)ref[j] * ref[j];
                    }
                    /* per quantization: int8 codecs about 0.01-0.02, e3m0 about 0.2-0.3
                     * (tests/unit/test_comm_q8.c); partial sums are requantized W-1 times */
                    double tol = codec == AGORA_CODEC_E3M0 ? 0.35 : 0.05;
                    if (n > 1 && den > 0 && sqrt(num / den) > tol * (cl->world - 1)) {
                        fprintf(stderr, "codec %d: relative error %g\n", codec, sqrt(num / den));
                        bad = 1;
                    }
                }
                char label[64];
                snprintf(label, sizeof label, "n=%zu codec=%d op=%d", n, codec, op);
                record_digest(cl, idx, label, x, n);
            }
    }
    agora_free(x);
    agora_free(ref);
    agora_comm_destroy(c);
    return bad ? 13 : 0;
}

static void run_reference(int world) {
    cluster *cl = cluster_new(world);
    /* two sizes run with ring data MACs (every reduce-scatter and all-gather position,
     * both F32 schedules, every codec), the others with XXH3 checksums */
    start_master(cl, world == 2 || world == 8 ? "--set comm.data_auth=mac" : NULL);
    for (int i = 0; i < world; i++)
        spawn(cl, scenario_reference, i);
    bool ok = true;
    int idx[MAX_PEERS];
    for (int i = 0; i < world; i++) {
        int st = wait_exit(cl->peer[i], 90000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
        idx[i] = i;
    }
    if (ok)
        assert_digests_agree(cl, idx, world);
    cluster_free(cl, ok);
}

static void allreduce_matches_reference_2_peers(void **state) {
    (void)state;
    run_reference(2);
}
static void allreduce_matches_reference_3_peers(void **state) {
    (void)state;
    run_reference(3);
}
static void allreduce_matches_reference_5_peers(void **state) {
    (void)state;
    run_reference(5);
}
static void allreduce_matches_reference_8_peers(void **state) {
    (void)state;
    run_reference(8);
}

// ---- scenario: error feedback ----

/* A Gaussian input every peer can recompute for any other: element j of peer idx. */
static float gauss(int idx, int iter, size_t j) {
    agora_rng r;
    agora_rng_seed(&r, 77, (uint32_t)idx, (uint32_t)iter * 1000003u + (uint32_t)j);
    return (float)agora_rng_normal(&r);
}

/* Each peer all-reduces with a residual buffer and writes the result and its residual to
 * files; the test checks (1) that the residuals of all peers add up to the exact sum minus
 * the result (times the divisor for AVG), and (2) that feeding the residual back, round
 * after round, makes the mean of the results converge on the exact value far faster than
 * rounds without it. */
/* 3.2 MB: chunks of >= 1 MiB at 3 peers, so pieces go out on the ring's second thread */
#define EF_N 800011
#define EF_ROUNDS 8
static int scenario_error_feedback(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, (uint32_t)cl->world, 30000) != AGORA_OK)
        return 10;
    size_t n = EF_N;
    float *x = agora_malloc(n * sizeof(float)), *res = agora_malloc(n * sizeof(float));
    float *g = agora_malloc(n * sizeof(float));
    double *mean_ef = agora_calloc(n, sizeof(double)),
           *mean_plain = agora_calloc(n, sizeof(double));
    double *exact = agora_malloc(n * sizeof(double));
    int bad = 0;
    for (int codec = 0; codec < AGORA__CODEC_COUNT && !bad; codec++)
        for (int op = 0; op < 2 && !bad; op++) {
            int iter = codec * 2 + op;
            double div = op == AGORA_REDUCE_AVG ? cl->world : 1;
            for (size_t j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < cl->world; p++)
                    sum += gauss(p, iter, j);
                exact[j] = sum / div;
                mean_ef[j] = mean_plain[j] = 0;
                g[j] = gauss(idx, iter, j);
            }
            /* (1) one collective: the residuals, gathered by the parent, close the gap */
            for (size_t j = 0; j < n; j++)
                x[j] = g[j];
            agora_reduce_desc d = {
                x, n, (agora_reduce_op)op, (agora_codec)codec, 1, agora_deadline_in_ms(30000), res};
            if (agora_comm_allreduce(c, &d, NULL) != AGORA_OK)
                return 11;
            char name[64];
            snprintf(name, sizeof name, "%s/ef-%d-%d-%02d", cl->dir, codec, op, idx);
            FILE *f = fopen(name, "wb");
            if (f == NULL || fwrite(x, sizeof(float), n, f) != n ||
                fwrite(res, sizeof(float), n, f) != n || fclose(f) != 0)
                return 12;
            /* (2) the same input for EF_ROUNDS rounds, with and without feedback */
            for (int fb = 0; fb < 2; fb++) {
                double *mean = fb ? mean_ef : mean_plain;
                memset(res, 0, n * sizeof(float));
                for (int round = 0; round < EF_ROUNDS; round++) {
                    for (size_t j = 0; j < n; j++)
                        x[j] = g[j] + (fb ? res[j] : 0.0f);
                    agora_reduce_desc e = {x,
                                           n,
                                           (agora_reduce_op)op,
                                           (agora_codec)codec,
                                           1,
                                           agora_deadline_in_ms(30000),
                                           fb ? res : NULL};
                    if (agora_comm_allreduce(c, &e, NULL) != AGORA_OK)
                        return 13;
                    for (size_t j = 0; j < n; j++)
                        mean[j] += (double)x[j] / EF_ROUNDS;
                }
            }
            double e_ef = 0, e_plain = 0, scale = 0;
            for (size_t j = 0; j < n; j++) {
                e_ef += (mean_ef[j] - exact[j]) * (mean_ef[j] - exact[j]);
                e_plain += (mean_plain[j] - exact[j]) * (mean_plain[j] - exact[j]);
                scale += exact[j] * exact[j];
            }
            e_ef = sqrt(e_ef / scale);
            e_plain = sqrt(e_plain / scale);
            if (idx == 0)
                print_message("codec %d op %d: mean of %d rounds, relative error %.2e with "
                              "feedback, %.2e without\n",
                              codec, op, EF_ROUNDS, e_ef, e_plain);
            /* f32 has nothing to feed back; the quantized codecs gain 7-8x (minmax-uint8, e3m0)
             * but int8-lut only about 2.2x: elements clipped into its outer buckets keep
             * adding their excess to the residual, which grows until sigma takes them in */
            double need = codec == AGORA_CODEC_LUT8 ? 1.5 : 4.0;
            if (codec != AGORA_CODEC_F32 && !(e_ef * need < e_plain)) {
                fprintf(stderr, "codec %d op %d: feedback %g vs plain %g\n", codec, op, e_ef,
                        e_plain);
                bad = 1;
            }
        }
    agora_free(x);
    agora_free(g);
    agora_free(res);
    agora_free(mean_ef);
    agora_free(mean_plain);
    agora_free(exact);
    agora_comm_destroy(c);
    return bad ? 14 : 0;
}

static void run_error_feedback(int world) {
    cluster *cl = cluster_new(world);
    start_master(cl, NULL);
    for (int i = 0; i < world; i++)
        spawn(cl, scenario_error_feedback, i);
    bool ok = true;
    for (int i = 0; i < world; i++) {
        int st = wait_exit(cl->peer[i], 120000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    size_t n = EF_N;
    float *x = malloc(n * sizeof(float)), *r = malloc(n * sizeof(float));
    double *rsum = malloc(n * sizeof(double));
    for (int codec = 0; codec < AGORA__CODEC_COUNT && ok; codec++)
        for (int op = 0; op < 2 && ok; op++) {
            int iter = codec * 2 + op;
            double div = op == AGORA_REDUCE_AVG ? world : 1, worst = 0, rmax = 0;
            for (size_t j = 0; j < n; j++)
                rsum[j] = 0;
            for (int p = 0; p < world; p++) {
                char name[600];
                snprintf(name, sizeof name, "%s/ef-%d-%d-%02d", cl->dir, codec, op, p);
                FILE *f = fopen(name, "rb");
                assert_non_null(f);
                assert_int_equal(fread(x, sizeof(float), n, f), n);
                assert_int_equal(fread(r, sizeof(float), n, f), n);
                fclose(f);
                for (size_t j = 0; j < n; j++) {
                    rsum[j] += r[j];
                    rmax = fabs(r[j]) > rmax ? fabs(r[j]) : rmax;
                }
            }
            for (size_t j = 0; j < n; j++) { /* x: the last peer's result, the same on all */
                double sum = 0;
                for (int p = 0; p < world; p++)
                    sum += gauss(p, iter, j);
                double gap = sum - (double)x[j] * div - rsum[j];
                worst = fabs(gap) > worst ? fabs(gap) : worst;
            }
            /* fp32 rounding of sums of a few unit Gaussians: far below one quantization step */
            if (worst > 2e-4 * world) {
                print_message("codec %d op %d: residuals miss the gap by %g\n", codec, op, worst);
                ok = false;
            }
            if ((codec == AGORA_CODEC_F32) != (rmax == 0)) {
                print_message("codec %d: largest residual %g\n", codec, rmax);
                ok = false;
            }
        }
    free(x);
    free(r);
    free(rsum);
    cluster_free(cl, ok);
}

static void error_feedback_residuals_close_the_gap_3_peers(void **state) {
    (void)state;
    run_error_feedback(3);
}

// ---- scenario: faults mid-run ----

/* Loops all-reduces of N floats. Committed results must be the exact sum over the peers
 * of that ring: all of them at the initial world size, the survivors (everyone but the
 * victim) after it. On a failure the buffer must be restored, the error must come before
 * the deadline, and update_topology + retry must succeed. Stops after 3 commits at the
 * smaller world. The victim itself exits 0 once it is told it is out (ECLOSED). */
static int scenario_faults(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, (uint32_t)cl->world, 30000) != AGORA_OK)
        return 10;
    enum { N = 1 << 20 };
    float *x = agora_malloc(N * sizeof(float)), *in = agora_malloc(N * sizeof(float));
    int iter = 0, after = 0, failures = 0, ret = 0;
    int64_t worst_ms = 0;
    int64_t stop = agora_deadline_in_ms(90000);
    while (after < 3) {
        if (agora_deadline_passed(stop)) {
            ret = 20;
            goto out;
        }
        fill(x, N, idx, iter);
        memcpy(in, x, N * sizeof(float));
        int64_t t0 = agora_now_ns();
        agora_reduce_desc d = {
            x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(20000), NULL};
        agora_reduce_info info;
        agora_err rc = agora_comm_allreduce(c, &d, &info);
        if (rc == AGORA_ECLOSED) {
            ret = idx == cl->victim ? 0 : 21;
            goto out;
        } /* evicted */
        if (rc != AGORA_OK) {
            int64_t ms = (agora_now_ns() - t0) / 1000000;
            worst_ms = ms > worst_ms ? ms : worst_ms;
            failures++;
            fprintf(stderr, "iteration %d failed after %lld ms: %s\n", iter, (long long)ms,
                    agora_err_name(rc));
            if (rc != AGORA_EPEER_LOST || ms >= 20000) {
                ret = 22;
                goto out;
            }
            if (memcmp(x, in, N * sizeof(float)) != 0) {
                ret = 23;
                goto out;
            } /* the input must be restored */
            agora_err u;
            int64_t ud = agora_deadline_in_ms(30000);
            do {
                u = agora_comm_update_topology(c, ud);
            } while (u == AGORA_EPEER_LOST && !agora_deadline_passed(ud));
            if (u == AGORA_ECLOSED) {
                ret = idx == cl->victim ? 0 : 24;
                goto out;
            }
            if (u != AGORA_OK) {
                ret = 25;
                goto out;
            }
            continue; /* retry the same iteration with the survivors */
        }
        /* the contributors: everyone, or everyone but the victim */
        for (size_t j = 0; j < N; j++) {
            float s = 0;
            for (int p = 0; p < cl->world; p++)
                if (info.world == (uint32_t)cl->world || p != cl->victim)
                    s += value(p, iter, j);
            if (x[j] != s) {
                fprintf(stderr, "iteration %d (world %u): element %zu got %g want %g\n", iter,
                        info.world, j, (double)x[j], (double)s);
                {
                    ret = 26;
                    goto out;
                }
            }
        }
        char label[64];
        snprintf(label, sizeof label, "iter=%d world=%u", iter, info.world);
        record_digest(cl, idx, label, x, N);
        append_line(cl, "progress", idx, "x");
        if (info.world < (uint32_t)cl->world)
            after++;
        iter++;
    }
    fprintf(stderr, "done: %d failures, worst %lld ms\n", failures, (long long)worst_ms);
    ret = failures > 0 ? 0 : 27; /* the fault must have been seen */
out:
    agora_free(x);
    agora_free(in);
    agora_comm_destroy(c);
    return ret;
}

static void wait_progress(cluster *cl, int idx, size_t n, int timeout_ms) {
    int64_t deadline = agora_deadline_in_ms(timeout_ms);
    while (file_size(cl, "progress", idx) < n) {
        if (agora_deadline_passed(deadline))
            fail_msg("peer %d did not reach %zu commits (run dir %s)", idx, n, cl->dir);
        sleep_ms(5);
    }
}

static void run_fault(int world, int victim, int sig, const char *master_extra) {
    cluster *cl = cluster_new(world);
    cl->victim = victim;
    start_master(cl, master_extra);
    for (int i = 0; i < world; i++)
        spawn(cl, scenario_faults, i);
    int other = victim == 0 ? 1 : 0;
    wait_progress(cl, other, 2, 60000);
    kill(cl->peer[victim], sig);
    bool ok = true;
    int idx[MAX_PEERS], n = 0;
    for (int i = 0; i < world; i++) {
        if (i == victim)
            continue;
        int st = wait_exit(cl->peer[i], 120000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("survivor %d exited with %d\n", i, st);
            ok = false;
        }
        idx[n++] = i;
    }
    if (sig == SIGSTOP) { /* the resumed peer must learn it was evicted and exit 0 */
        kill(cl->peer[victim], SIGCONT);
        int st = wait_exit(cl->peer[victim], 30000);
        if (st != 0) {
            print_message("resumed victim exited with %d\n", st);
            ok = false;
        }
    } else {
        waitpid(cl->peer[victim], NULL, 0);
    }
    cl->peer[victim] = -1;
    if (ok)
        assert_digests_agree(cl, idx, n);
    cluster_free(cl, ok);
}

static void sigkill_mid_collective_survivors_retry_exact(void **state) {
    (void)state;
    run_fault(4, 2, SIGKILL, NULL);
}

static void sigstop_peer_is_evicted_and_others_go_on(void **state) {
    (void)state;
    run_fault(3, 1, SIGSTOP, "--set comm.heartbeat_timeout_ms=1500");
}

// ---- scenario: join mid-run with shared state ----

/* Each step: update_topology, sync shared state {theta, step, mom}, all-reduce AVG of a
 * delta, theta += delta. Two peers start; a third joins after step 2 and must receive the
 * shared state (rx bytes > 0), while the others pull nothing in steady state. mom is a
 * local tensor, different on every peer (1000 * idx + step): the founders never pull it
 * although theirs differ, and the joiner ends up with a founder's. */
enum { THETA_N = 5000, STEPS = 8, MOM_N = 300 };

static int scenario_join(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL)
        return 10;
    float *theta = agora_calloc(THETA_N, sizeof(float));
    float *delta = agora_malloc(THETA_N * sizeof(float));
    float step = 0, mom[MOM_N];
    for (size_t j = 0; j < MOM_N; j++)
        mom[j] = 1000.0f * (float)idx;
    agora_shared_tensor t[3] = {
        {"theta", theta, THETA_N, false}, {"step", &step, 1, false}, {"mom", mom, MOM_N, true}};
    bool joiner = idx == 2;
    uint64_t pulled = 0, steady_rx = 0;
    int64_t stop = agora_deadline_in_ms(90000);
    while (step < STEPS) {
        if (agora_deadline_passed(stop))
            return 20;
        agora_err rc = agora_comm_update_topology(c, agora_deadline_in_ms(30000));
        if (rc == AGORA_EPEER_LOST)
            continue;
        if (rc != AGORA_OK)
            return 21;
        if (!joiner && agora_comm_world(c) < 2)
            continue; /* wait for the second founder */
        agora_sync_info si;
        float before = step;
        rc =
            agora_comm_sync_shared_state(c, t, 3, (uint64_t)step, agora_deadline_in_ms(30000), &si);
        if (rc == AGORA_EPEER_LOST)
            continue;
        if (rc != AGORA_OK) {
            fprintf(stderr, "sync: %s\n", agora_err_name(rc));
            return 22;
        }
        if (joiner && step != before) { /* took the ring's state: mom is a founder's */
            if (si.tensors_pulled != 3 || (mom[0] != step && mom[0] != 1000.0f + step))
                return 27;
            for (size_t j = 1; j < MOM_N; j++)
                if (mom[j] != mom[0])
                    return 28;
        }
        if (si.rx_bytes > 0)
            pulled += si.rx_bytes;
        else if (step > 0 && !joiner)
            steady_rx += si.rx_bytes;
        for (size_t j = 0; j < THETA_N; j++)
            delta[j] = value(idx, (int)step, j) * 0.25f;
        agora_reduce_desc d = {
            delta, THETA_N, AGORA_REDUCE_AVG, AGORA_CODEC_LUT8, 1, agora_deadline_in_ms(30000),
            NULL};
        rc = agora_comm_allreduce(c, &d, NULL);
        if (rc == AGORA_EPEER_LOST)
            continue;
        if (rc != AGORA_OK)
            return 23;
        for (size_t j = 0; j < THETA_N; j++)
            theta[j] += delta[j];
        step += 1;
        for (size_t j = 0; j < MOM_N; j++) /* a joiner keeps the founder's offset */
            mom[j] += 1.0f;
        append_line(cl, "progress", idx, "x");
        if (step >= 3 && !joiner) { /* hold the founders until the joiner is in */
            uint32_t pending = 0;
            while (agora_comm_world(c) < 3 && pending == 0 && !agora_deadline_passed(stop)) {
                if (agora_comm_pending_joiners(c, &pending, agora_deadline_in_ms(5000)) != AGORA_OK)
                    return 24;
                if (pending == 0)
                    sleep_ms(20);
            }
        }
    }
    record_digest(cl, idx, "theta", theta, THETA_N);
    char line[64];
    snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)pulled,
             (unsigned long long)steady_rx);
    append_line(cl, "rx", idx, line);
    agora_free(theta);
    agora_free(delta);
    agora_comm_destroy(c);
    if (joiner && pulled == 0)
        return 25;
    if (!joiner && pulled != 0)
        return 26; /* founders agree from the start: nothing moves */
    return 0;
}

static void join_mid_run_receives_shared_state(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    start_master(cl, "--set comm.data_auth=mac"); /* shared-state pulls under MACs too */
    spawn(cl, scenario_join, 0);
    spawn(cl, scenario_join, 1);
    wait_progress(cl, 0, 2, 60000);
    spawn(cl, scenario_join, 2);
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        int st = wait_exit(cl->peer[i], 120000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    int idx[3] = {0, 1, 2};
    if (ok)
        assert_digests_agree(cl, idx, 3);
    cluster_free(cl, ok);
}

// ---- authentication and hostile input ----

static int raw_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)(void *)&sin, sizeof sin), 0);
    return fd;
}

/* The master must hang up within 3 s after what we sent. */
static void assert_hangs_up(int fd) {
    int64_t deadline = agora_deadline_in_ms(3000);
    char b[256];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r > 0) {
            ssize_t n = read(fd, b, sizeof b);
            if (n <= 0)
                break;
        }
        if (agora_deadline_passed(deadline))
            fail_msg("the master kept a hostile connection open");
    }
    close(fd);
}

static void wrong_key_rejected_and_bad_frames_dropped(void **state) {
    (void)state;
    cluster *cl = cluster_new(1);
    start_master(cl, NULL);
    write_key(cl, "wrong", "not-the-secret");
    agora_comm_opts o;
    memset(&o, 0, sizeof o);
    char p[512], err[AGORA_ERR_LEN];
    snprintf(p, sizeof p, "%s/wrong", cl->dir);
    agora_assert_ok(agora_comm_key_from_file(p, o.key, err));
    o.master_port = cl->port;
    agora_comm *c = NULL;
    agora_assert_err(agora_comm_create(&o, &c), AGORA_EAUTH);
    assert_null(c);
    /* garbage */
    int fd = raw_connect(cl->port);
    const char junk[] = "GET / HTTP/1.1\r\nHost: agora\r\n\r\n";
    assert_true(write(fd, junk, sizeof junk) > 0);
    assert_hangs_up(fd);
    /* an oversized frame: a valid header announcing 1 GiB of P2C_SS_SYNC */
    fd = raw_connect(cl->port);
    uint8_t h[32] = {'A', 'G', 'R', 'A', 1, 21, 0, 0, 0, 0, 0, 0x40};
    assert_int_equal(write(fd, h, sizeof h), (ssize_t)sizeof h);
    assert_hangs_up(fd);
    /* a frame that skips the handshake */
    fd = raw_connect(cl->port);
    uint8_t hb[32] = {'A', 'G', 'R', 'A', 1, 6};
    assert_int_equal(write(fd, hb, sizeof hb), (ssize_t)sizeof hb);
    assert_hangs_up(fd);
    /* the master survived all of it: a good peer still gets in and reduces */
    snprintf(p, sizeof p, "%s/key", cl->dir);
    agora_assert_ok(agora_comm_key_from_file(p, o.key, err));
    agora_assert_ok(agora_comm_create(&o, &c));
    agora_assert_ok(agora_comm_update_topology(c, agora_deadline_in_ms(10000)));
    assert_int_equal(agora_comm_world(c), 1);
    float x[3] = {1, 2, 3};
    agora_reduce_desc d = {x,   3, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(5000),
                           NULL};
    agora_assert_ok(agora_comm_allreduce(c, &d, NULL));
    assert_true(x[0] == 1 && x[1] == 2 && x[2] == 3);
    agora_comm_destroy(c);
    cluster_free(cl, true);
}

// ---- frame MACs on the master link ----

/* An on-path attacker between a peer and the master: forwards both ways, and after the
 * peer's first `after` frames inserts one frame of its own toward the master, with a
 * correct XXH3 checksum (what anyone can compute) and optionally the MAC flag with a
 * made-up tag. It holds at most 64 KiB of a frame, enough for the control frames this
 * test sends (a bigger one would end the forwarding). */
typedef struct mitm {
    int lfd;
    uint16_t port, up_port;
    int after;
    bool flag_mac;
    bool injected;
} mitm;

static void *mitm_main(void *arg) {
    mitm *x = arg;
    struct pollfd lp = {x->lfd, POLLIN, 0};
    if (poll(&lp, 1, 10000) <= 0)
        return NULL;
    int down = accept(x->lfd, NULL, NULL), up = raw_connect(x->up_port);
    uint8_t buf[1 << 16], pend[1 << 16];
    size_t have = 0;
    int frames = 0;
    int64_t deadline = agora_deadline_in_ms(20000);
    while (!agora_deadline_passed(deadline)) {
        struct pollfd p[2] = {{down, POLLIN, 0}, {up, POLLIN, 0}};
        if (poll(p, 2, 100) <= 0)
            continue;
        if (p[1].revents) { /* master -> peer: as is */
            ssize_t n = read(up, buf, sizeof buf);
            if (n <= 0 || write(down, buf, (size_t)n) != n)
                break;
        }
        if (p[0].revents) { /* peer -> master: whole frames, counted */
            ssize_t n = read(down, pend + have, sizeof pend - have);
            if (n <= 0)
                break;
            have += (size_t)n;
            while (have >= AGORA_WIRE_HDR) {
                size_t len = AGORA_WIRE_HDR + agora__get_le32(pend + 8);
                if (have < len)
                    break;
                if (write(up, pend, len) != (ssize_t)len)
                    goto out;
                memmove(pend, pend + len, have - len);
                have -= len;
                if (++frames == x->after && !x->injected) {
                    uint8_t h[AGORA_WIRE_HDR];
                    agora__frame_build(h, AGORA_MSG_P2C_HEARTBEAT, 0, NULL, 0);
                    if (x->flag_mac) {
                        h[6] |= AGORA_FRAME_F_MAC;
                        agora__put_le64(h + 24, 0x0123456789abcdefull);
                    }
                    if (write(up, h, sizeof h) != (ssize_t)sizeof h)
                        goto out;
                    x->injected = true;
                }
            }
        }
    }
out:
    close(down);
    close(up);
    return NULL;
}

/* After the handshake every master-link frame carries the session MAC: a frame inserted
 * on the path, even with a valid checksum, makes the master drop that link (the peer
 * sees its next call fail), where it used to be taken as the peer's own. A peer on a
 * clean path is unaffected. */
static void master_link_drops_injected_frames(void **state) {
    (void)state;
    cluster *cl = cluster_new(1);
    start_master(cl, NULL);
    char p[512], err[AGORA_ERR_LEN];
    snprintf(p, sizeof p, "%s/key", cl->dir);
    for (int variant = 0; variant < 2; variant++) {
        mitm x = {.after = 3, .flag_mac = variant == 1, .up_port = cl->port};
        x.lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t sl = sizeof sin;
        assert_int_equal(bind(x.lfd, (struct sockaddr *)(void *)&sin, sizeof sin), 0);
        assert_int_equal(listen(x.lfd, 1), 0);
        assert_int_equal(getsockname(x.lfd, (struct sockaddr *)(void *)&sin, &sl), 0);
        x.port = ntohs(sin.sin_port);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, mitm_main, &x), 0);
        agora_comm_opts o;
        memset(&o, 0, sizeof o);
        agora_assert_ok(agora_comm_key_from_file(p, o.key, err));
        o.master_port = x.port;
        agora_comm *c = NULL;
        agora_assert_ok(agora_comm_create(&o, &c));
        /* HELLO, AUTH, then the first MACed frame (a vote or a heartbeat) pass; the
         * inserted one follows it */
        agora_err rc = AGORA_OK;
        for (int i = 0; i < 20 && rc == AGORA_OK; i++) {
            rc = agora_comm_update_topology(c, agora_deadline_in_ms(3000));
            sleep_ms(50);
        }
        assert_true(x.injected);
        if (rc != AGORA_ECLOSED)
            fail_msg("variant %d: the link survived an injected frame (%s)", variant,
                     agora_err_name(rc));
        agora_comm_destroy(c);
        pthread_join(th, NULL);
        close(x.lfd);
    }
    char lp[600], *log = NULL;
    size_t ll = 0;
    snprintf(lp, sizeof lp, "%s/master.log", cl->dir);
    agora_assert_ok(agora_read_file(lp, 1 << 24, &log, &ll, err));
    if (strstr(log, "failed its MAC") == NULL)
        fail_msg("the master did not report the bad MAC:\n%s", log);
    agora_free(log);
    /* the same master still serves a peer on a clean path */
    agora_comm_opts o;
    memset(&o, 0, sizeof o);
    agora_assert_ok(agora_comm_key_from_file(p, o.key, err));
    o.master_port = cl->port;
    agora_comm *c = NULL;
    agora_assert_ok(agora_comm_create(&o, &c));
    agora_assert_ok(agora_comm_update_topology(c, agora_deadline_in_ms(10000)));
    float v[2] = {4, 5};
    agora_reduce_desc d = {v,   2, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(5000),
                           NULL};
    agora_assert_ok(agora_comm_allreduce(c, &d, NULL));
    assert_true(v[0] == 4 && v[1] == 5);
    agora_comm_destroy(c);
    cluster_free(cl, true);
}

// ---- ring data tampered with on the path ----

/* An on-path attacker in front of a peer's p2p listener: forwards every connection, and
 * in the first frame of type `type` (either way) adds 1 to the float in the last 4
 * payload bytes, then recomputes the XXH3 checksum (anyone can), keeping any MAC flag and
 * tag as they were. Runs inside the peer, which advertises this proxy's port. */
typedef struct data_mitm {
    int lfd;
    uint16_t up_port;
    uint8_t type;
    _Atomic int tampered;
} data_mitm;

/* Moves the whole frames in p[0..*have) to fd, tampering as data_mitm says; returns false
 * when the connection should end. */
static bool data_mitm_frames(data_mitm *x, uint8_t *p, size_t cap, size_t *have, int fd) {
    while (*have >= AGORA_WIRE_HDR) {
        size_t len = AGORA_WIRE_HDR + agora__get_le32(p + 8);
        if (len > cap)
            return false; /* bigger than these tests send */
        if (*have < len)
            return true;
        if (p[5] == x->type && len >= AGORA_WIRE_HDR + 8 && atomic_exchange(&x->tampered, 1) == 0) {
            float v;
            memcpy(&v, p + len - 4, 4);
            v += 1.0f;
            memcpy(p + len - 4, &v, 4);
            if (!(p[6] & AGORA_FRAME_F_MAC))
                agora__put_le64(p + 24,
                                agora__frame_checksum(p, p + AGORA_WIRE_HDR, len - AGORA_WIRE_HDR));
        }
        if (write(fd, p, len) != (ssize_t)len)
            return false;
        memmove(p, p + len, *have - len);
        *have -= len;
    }
    return true;
}

static void *data_mitm_link(void *arg) {
    data_mitm *x = ((void **)arg)[0];
    int down = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    int up = raw_connect(x->up_port);
    enum { CAP = 1 << 17 };
    uint8_t *pend[2] = {malloc(CAP), malloc(CAP)}; /* [0] toward the peer, [1] back */
    size_t have[2] = {0, 0};
    int64_t deadline = agora_deadline_in_ms(30000);
    while (up >= 0 && pend[0] && pend[1] && !agora_deadline_passed(deadline)) {
        struct pollfd p[2] = {{down, POLLIN, 0}, {up, POLLIN, 0}};
        if (poll(p, 2, 100) <= 0)
            continue;
        bool go = true;
        for (int d = 0; d < 2 && go; d++) {
            if (!p[d].revents)
                continue;
            ssize_t n = read(p[d].fd, pend[d] + have[d], CAP - have[d]);
            go = n > 0;
            if (go) {
                have[d] += (size_t)n;
                go = data_mitm_frames(x, pend[d], CAP, &have[d], d == 0 ? up : down);
            }
        }
        if (!go)
            break;
    }
    free(pend[0]);
    free(pend[1]);
    close(down);
    if (up >= 0)
        close(up);
    return NULL;
}

static void *data_mitm_main(void *arg) {
    data_mitm *x = arg;
    for (;;) {
        int fd = accept(x->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        void **a = malloc(2 * sizeof *a);
        a[0] = x;
        a[1] = (void *)(intptr_t)fd;
        pthread_t th;
        if (pthread_create(&th, NULL, data_mitm_link, a) == 0)
            pthread_detach(th);
    }
}

static uint16_t listen_any(int *fd) {
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sin;
    if (bind(*fd, (struct sockaddr *)(void *)&sin, sizeof sin) != 0 || listen(*fd, 16) != 0 ||
        getsockname(*fd, (struct sockaddr *)(void *)&sin, &sl) != 0)
        return 0;
    return ntohs(sin.sin_port);
}

/* Connects a peer whose p2p listener the others reach only through a tampering proxy x
 * (started here) when `behind` is set. */
static agora_comm *connect_behind(const cluster *cl, bool behind, data_mitm *x) {
    agora_comm_opts o;
    memset(&o, 0, sizeof o);
    char p[512], err[AGORA_ERR_LEN];
    snprintf(p, sizeof p, "%s/key", cl->dir);
    if (agora_comm_key_from_file(p, o.key, err) != AGORA_OK)
        return NULL;
    o.master_port = cl->port;
    if (behind) {
        int tmp;
        x->up_port = listen_any(&tmp);
        close(tmp); /* a free port for the real listener */
        uint16_t mport = listen_any(&x->lfd);
        pthread_t th;
        if (x->up_port == 0 || mport == 0 || pthread_create(&th, NULL, data_mitm_main, x) != 0)
            return NULL;
        pthread_detach(th);
        o.p2p_port = x->up_port;
        o.p2p_advertise_port = mport;
    }
    agora_comm *c = NULL;
    if (agora_comm_create(&o, &c) != AGORA_OK || join_until(c, 2, 30000) != AGORA_OK) {
        agora_comm_destroy(c);
        return NULL;
    }
    return c;
}

/* Exit codes: 0 the collective failed and the input is restored; 20 it committed a wrong
 * sum; 21 it committed the exact sum (the tamper was missed by the proxy); else setup. */
static int scenario_tamper(const cluster *cl, int idx) {
    data_mitm x = {.lfd = -1, .type = AGORA_MSG_P2P_DATA};
    atomic_init(&x.tampered, 0);
    agora_comm *c = connect_behind(cl, idx == 1, &x);
    if (c == NULL)
        return 12;
    enum { N = 1000 };
    float v[N];
    fill(v, N, idx, 1);
    agora_reduce_desc d = {
        v, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
    agora_err rc = agora_comm_allreduce(c, &d, NULL);
    int ret;
    if (rc == AGORA_OK) {
        ret = check_exact(v, N, 2, 1, false) ? 20 : 21;
    } else {
        float in[N];
        fill(in, N, idx, 1);
        ret = memcmp(v, in, sizeof in) == 0 ? 0 : 13; /* restored */
        fprintf(stderr, "tampered collective: %s\n", agora_err_name(rc));
    }
    if (idx == 1 && !atomic_load(&x.tampered))
        ret = 14;
    agora_comm_destroy(c);
    if (x.lfd >= 0)
        close(x.lfd);
    return ret;
}

/* Runs a 2-peer scenario once under comm.data_auth = checksum and once under mac; want[m][i]
 * is peer i's exit code in mode m (0 checksum, 1 mac); under mac, peer 1's log must
 * contain log1 when it is set. */
static void run_tamper(scenario_fn fn, const int want[2][2], const char *log1) {
    const char *modes[2] = {"checksum", "mac"};
    for (int m = 0; m < 2; m++) {
        cluster *cl = cluster_new(2);
        char extra[64];
        snprintf(extra, sizeof extra, "--set comm.data_auth=%s", modes[m]);
        start_master(cl, extra);
        spawn(cl, fn, 0);
        spawn(cl, fn, 1);
        bool ok = true;
        for (int i = 0; i < 2; i++) {
            int st = wait_exit(cl->peer[i], 60000);
            cl->peer[i] = -1;
            if (st != want[m][i]) {
                print_message("%s: peer %d exited with %d, wanted %d\n", modes[m], i, st,
                              want[m][i]);
                ok = false;
            }
        }
        if (ok && m == 1 && log1 != NULL) {
            char lp[600], err[AGORA_ERR_LEN], *log = NULL;
            size_t ll = 0;
            snprintf(lp, sizeof lp, "%s/peer-01.log", cl->dir);
            if (agora_read_file(lp, 1 << 24, &log, &ll, err) != AGORA_OK ||
                strstr(log, log1) == NULL) {
                print_message("peer 1's log lacks '%s'\n", log1);
                ok = false;
            }
            agora_free(log);
        }
        cluster_free(cl, ok);
    }
}

/* A float changed on the path, with a recomputed XXH3 checksum: under comm.data_auth =
 * checksum the ring commits the wrong sum (what an attacker on the path can do without
 * MACs): peer 1 adds the tampered frame into its chunk, and peer 0 gets that chunk back in
 * the all-gather. Under comm.data_auth = mac the frame fails its MAC, the collective fails
 * and both peers get their input back. */
static void ring_data_macs_catch_tampering_on_the_path(void **state) {
    (void)state;
    const int want[2][2] = {{20, 20}, {0, 0}};
    run_tamper(scenario_tamper, want, "failed its MAC");
}

/* Shared state: peer 0 holds revision 5 and serves, from behind a tampering proxy, a local
 * tensor (neither hashed nor voted on) to peer 1 at revision 3. Peer 1's exit codes: 0 the
 * pull failed and its tensor is intact; 20 it took the altered tensor; 21 it took the
 * donor's exact tensor (the proxy missed); 22 it failed but its tensor changed. */
static int scenario_ss_tamper(const cluster *cl, int idx) {
    data_mitm x = {.lfd = -1, .type = AGORA_MSG_P2P_SS_DATA};
    atomic_init(&x.tampered, 0);
    agora_comm *c = connect_behind(cl, idx == 0, &x);
    if (c == NULL)
        return 12;
    enum { N = 64 };
    float w[N];
    for (size_t j = 0; j < N; j++)
        w[j] = (float)(j + 100 * (size_t)idx);
    agora_shared_tensor t[1] = {{"w", w, N, true}};
    agora_sync_info si;
    agora_err rc =
        agora_comm_sync_shared_state(c, t, 1, idx == 0 ? 5 : 3, agora_deadline_in_ms(10000), &si);
    int ret = 0;
    if (idx == 1) {
        bool mine = true, donors = true;
        for (size_t j = 0; j < N; j++) {
            mine = mine && w[j] == (float)(j + 100);
            donors = donors && w[j] == (float)j;
        }
        if (rc == AGORA_OK)
            ret = donors ? 21 : 20;
        else
            ret = mine ? 0 : 22;
        fprintf(stderr, "tampered pull: %s\n", agora_err_name(rc));
    } else if (!atomic_load(&x.tampered)) {
        ret = 14;
    }
    agora_comm_destroy(c);
    if (x.lfd >= 0)
        close(x.lfd);
    return ret;
}

/* The same for a shared-state pull: under comm.data_auth = checksum the puller takes a
 * local tensor altered on the path (only the frame checksum covers it); under mac the pull
 * fails and the tensor is left as it was. */
static void shared_state_macs_catch_tampering_on_the_path(void **state) {
    (void)state;
    const int want[2][2] = {{0, 20}, {0, 0}};
    run_tamper(scenario_ss_tamper, want, NULL);
}

// ---- shared-state strategies ----

/* Three peers. (1) Peer 0 votes for state A at revision 3; peers 1 and 2 hold state B at
 * revision 10 but are RECEIVE_ONLY: A is elected (by one vote against two non-votes) and
 * both pull it from peer 0. (2) All RECEIVE_ONLY: AGORA_ENOTFOUND for everyone. (3) Peer 2
 * is SEND_ONLY with state C against A: the master removes it (AGORA_ECLOSED there), the
 * others get AGORA_EPEER_LOST, update the topology to a ring of two and sync with nothing
 * to move. */
static int scenario_strategies(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, 3, 30000) != AGORA_OK)
        return 10;
    enum { N = 257 };
    float x[N];
    for (size_t j = 0; j < N; j++)
        x[j] = idx == 0 ? (float)j : (float)(1000 + j);
    agora_shared_tensor t[1] = {{"x", x, N, false}};
    agora_sync_info si;
    agora_ss_strategy s1 = idx == 0 ? AGORA_SS_ENFORCE_POPULAR : AGORA_SS_RECEIVE_ONLY;
    agora_err rc = agora_comm_sync_shared_state_ex(c, t, 1, idx == 0 ? 3 : 10, s1,
                                                   agora_deadline_in_ms(20000), &si);
    if (rc != AGORA_OK || si.revision != 3 || x[N - 1] != (float)(N - 1) ||
        si.tensors_pulled != (idx == 0 ? 0u : 1u)) {
        fprintf(stderr, "phase 1: %s, revision %llu, pulled %u\n", agora_err_name(rc),
                (unsigned long long)si.revision, si.tensors_pulled);
        return 11;
    }
    rc = agora_comm_sync_shared_state_ex(c, t, 1, 3, AGORA_SS_RECEIVE_ONLY,
                                         agora_deadline_in_ms(20000), &si);
    if (rc != AGORA_ENOTFOUND) {
        fprintf(stderr, "phase 2: %s\n", agora_err_name(rc));
        return 12;
    }
    if (idx == 2)
        x[0] = -1.0f; /* state C */
    rc = agora_comm_sync_shared_state_ex(c, t, 1, 3,
                                         idx == 2 ? AGORA_SS_SEND_ONLY : AGORA_SS_ENFORCE_POPULAR,
                                         agora_deadline_in_ms(20000), &si);
    int ret = 0;
    if (idx == 2) {
        ret = rc == AGORA_ECLOSED ? 0 : 13;
    } else if (rc != AGORA_EPEER_LOST) {
        ret = 14;
    } else {
        int64_t stop = agora_deadline_in_ms(20000); /* until the removal is in the ring */
        agora_err u = AGORA_OK;
        do {
            u = agora_comm_update_topology(c, stop);
        } while ((u == AGORA_EPEER_LOST || (u == AGORA_OK && agora_comm_world(c) != 2)) &&
                 !agora_deadline_passed(stop));
        if (u != AGORA_OK || agora_comm_world(c) != 2)
            ret = 15;
        else if (agora_comm_sync_shared_state(c, t, 1, 3, agora_deadline_in_ms(20000), &si) !=
                     AGORA_OK ||
                 si.rx_bytes != 0 || x[0] != 0.0f)
            ret = 16;
    }
    if (ret)
        fprintf(stderr, "phase 3: %s\n", agora_err_name(rc));
    agora_comm_destroy(c);
    return ret;
}

static void shared_state_strategies_receive_only_and_send_only(void **state) {
    (void)state;
    cluster *cl = cluster_new(3);
    start_master(cl, NULL);
    bool ok = run_peers(cl, scenario_strategies, 3, 60000, false);
    char lp[600], err[AGORA_ERR_LEN], *log = NULL;
    size_t ll = 0;
    snprintf(lp, sizeof lp, "%s/master.log", cl->dir);
    if (ok && (agora_read_file(lp, 1 << 24, &log, &ll, err) != AGORA_OK ||
               strstr(log, "kicked (SEND_ONLY") == NULL)) {
        print_message("the master did not report the removal\n");
        ok = false;
    }
    agora_free(log);
    cluster_free(cl, ok);
}

// ---- async all-reduce ----

/* Both peers start an exact reduce with agora_comm_allreduce_async; while it is in flight
 * every other call is refused with AGORA_EINPROGRESS; the awaited result is exact and
 * bit-identical, a second await gives AGORA_ESTATE, and a blocking reduce works after it.
 * Then peer 0 starts one that peer 1 never joins and aborts it from the same thread: the
 * await gives AGORA_EABORTED and the input back. */
static int scenario_async(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, 2, 30000) != AGORA_OK)
        return 10;
    enum { N = 100003 };
    float *x = agora_malloc(N * sizeof(float)), s = 0;
    fill(x, N, idx, 5);
    agora_reduce_desc d = {
        x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(20000), NULL};
    int ret = 0;
    agora_shared_tensor t[1] = {{"s", &s, 1, false}};
    uint32_t pending = 0;
    agora_reduce_info info;
    if (agora_comm_allreduce_async(c, &d) != AGORA_OK)
        ret = 11;
    else if (agora_comm_allreduce_async(c, &d) != AGORA_EINPROGRESS ||
             agora_comm_allreduce(c, &d, NULL) != AGORA_EINPROGRESS ||
             agora_comm_update_topology(c, agora_deadline_in_ms(1000)) != AGORA_EINPROGRESS ||
             agora_comm_pending_joiners(c, &pending, agora_deadline_in_ms(1000)) !=
                 AGORA_EINPROGRESS ||
             agora_comm_sync_shared_state(c, t, 1, 0, agora_deadline_in_ms(1000), NULL) !=
                 AGORA_EINPROGRESS ||
             agora_comm_measure_links(c, 1024, agora_deadline_in_ms(1000)) != AGORA_EINPROGRESS)
        ret = 12;
    if (ret != 11) {
        agora_err rc = agora_comm_allreduce_await(c, &info);
        if (ret == 0 && (rc != AGORA_OK || check_exact(x, N, 2, 5, false) || info.world != 2))
            ret = 13;
    }
    if (ret == 0 && agora_comm_allreduce_await(c, NULL) != AGORA_ESTATE)
        ret = 14;
    if (ret == 0) {
        record_digest(cl, idx, "async", x, N);
        fill(x, N, idx, 6);
        d.deadline_ns = agora_deadline_in_ms(20000);
        if (agora_comm_allreduce(c, &d, NULL) != AGORA_OK || check_exact(x, N, 2, 6, false))
            ret = 15;
    }
    if (ret == 0 && idx == 0) { /* peer 1 never joins this one */
        fill(x, N, 0, 7);
        d.deadline_ns = agora_deadline_in_ms(20000);
        if (agora_comm_allreduce_async(c, &d) != AGORA_OK) {
            ret = 16;
        } else {
            sleep_ms(100);
            agora_comm_abort(c);
            agora_err rc = agora_comm_allreduce_await(c, NULL);
            float *in = agora_malloc(N * sizeof(float));
            fill(in, N, 0, 7);
            if (rc != AGORA_EABORTED || memcmp(x, in, N * sizeof(float)) != 0) {
                fprintf(stderr, "aborted async: %s\n", agora_err_name(rc));
                ret = 17;
            }
            agora_free(in);
        }
        append_line(cl, "aborted", 0, "x\n");
    } else if (ret == 0) { /* stay a member until peer 0 is done */
        int64_t stop = agora_deadline_in_ms(30000);
        while (file_size(cl, "aborted", 0) == 0 && !agora_deadline_passed(stop))
            sleep_ms(10);
    }
    agora_free(x);
    agora_comm_destroy(c);
    return ret;
}

static void allreduce_async_runs_in_the_background(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    start_master(cl, NULL);
    cluster_free(cl, run_peers(cl, scenario_async, 2, 60000, true));
}

// ---- passive link timing ----

static void *proxy_main(void *arg) {
    (void)agora__proxy_run(arg);
    return NULL;
}

/* A peer whose ring listener the others reach only through a fault proxy with options po
 * (po NULL: directly). The proxy runs on *th until proxied_close. */
typedef struct proxied {
    agora_comm *c;
    agora_proxy *px;
    pthread_t th;
} proxied;

static int proxied_open(const cluster *cl, const agora_proxy_opts *po, proxied *pp) {
    memset(pp, 0, sizeof *pp);
    agora_comm_opts o;
    memset(&o, 0, sizeof o);
    char p[512], err[AGORA_ERR_LEN];
    snprintf(p, sizeof p, "%s/key", cl->dir);
    if (agora_comm_key_from_file(p, o.key, err) != AGORA_OK)
        return 9;
    o.master_port = cl->port;
    if (po != NULL) {
        if (agora__proxy_create(po, &pp->px) != AGORA_OK)
            return 8;
        o.p2p_advertise_port = agora__proxy_port(pp->px);
    }
    if (agora_comm_create(&o, &pp->c) != AGORA_OK)
        return 10;
    if (pp->px) {
        agora__proxy_set_target(pp->px, 0x7f000001u, agora_comm_p2p_port(pp->c));
        pthread_create(&pp->th, NULL, proxy_main, pp->px);
    }
    return 0;
}

static void proxied_close(proxied *pp) {
    agora_comm_destroy(pp->c);
    if (pp->px) {
        agora__proxy_interrupt(pp->px);
        pthread_join(pp->th, NULL);
        agora__proxy_destroy(pp->px);
    }
}

/* Peer 2 is reached only through a proxy capped at 80 Mbit/s (10 MB/s). After an active
 * measurement (which gives the coordinator its matrix), a 16 MiB f32 all-reduce sends
 * 22 MB into peer 2, so once the socket buffers are full (a few MB on loopback) its
 * predecessor's socket stays full for over a second: it reports the drain rate
 * (P2C_BW_PASSIVE), and the master logs it next to the measured value. */
static int scenario_passive(const cluster *cl, int idx) {
    agora_proxy_opts po;
    memset(&po, 0, sizeof po);
    po.stall_after_bytes = -1;
    po.reset_after_bytes = -1;
    po.mbps = 80;
    proxied pp;
    int ret = proxied_open(cl, idx == 2 ? &po : NULL, &pp);
    if (ret != 0)
        return ret;
    agora_comm *c = pp.c;
    ret = join_until(c, 3, 30000) == AGORA_OK ? 0 : 11;
    if (ret == 0 && agora_comm_measure_links(c, 1u << 20, agora_deadline_in_ms(30000)) != AGORA_OK)
        ret = 12;
    if (ret == 0 && agora_comm_update_topology(c, agora_deadline_in_ms(30000)) != AGORA_OK)
        ret = 13;
    enum { N = 1 << 22 };
    float *x = agora_malloc(N * sizeof(float));
    fill(x, N, idx, 2);
    agora_reduce_desc d = {
        x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(60000), NULL};
    if (ret == 0 && (agora_comm_allreduce(c, &d, NULL) != AGORA_OK || check_exact(x, N, 3, 2, 0)))
        ret = 14;
    /* the report goes out right after the commit: stay until the master has it */
    sleep_ms(300);
    agora_free(x);
    proxied_close(&pp);
    return ret;
}

static void passive_link_timing_reports_a_saturated_link(void **state) {
    (void)state;
    cluster *cl = cluster_new(3);
    start_master(cl, NULL);
    bool ok = run_peers(cl, scenario_passive, 3, 90000, false);
    /* the capped link is the one into peer 2: its id is in its log */
    char lp[600], err[AGORA_ERR_LEN], *log = NULL;
    size_t ll = 0;
    unsigned long long capped = 0;
    snprintf(lp, sizeof lp, "%s/peer-02.log", cl->dir);
    if (agora_read_file(lp, 1 << 24, &log, &ll, err) == AGORA_OK) {
        const char *reg = strstr(log, "registered as peer ");
        if (reg == NULL || sscanf(reg, "registered as peer %llu", &capped) != 1)
            ok = false;
    }
    agora_free(log);
    log = NULL;
    snprintf(lp, sizeof lp, "%s/master.log", cl->dir);
    if (ok && agora_read_file(lp, 1 << 24, &log, &ll, err) == AGORA_OK) {
        const char *at = strstr(log, "passive: link ");
        double mbs = 0;
        bool seen = false;
        while (at != NULL) {
            unsigned long long from = 0, to = 0;
            double v = 0;
            if (sscanf(at, "passive: link %llu -> %llu ran at %lf MB/s", &from, &to, &v) == 3 &&
                to == capped) {
                seen = true;
                mbs = v;
            }
            at = strstr(at + 1, "passive: link ");
        }
        if (!seen || mbs < 5.0 || mbs > 20.0) {
            print_message("no passive timing of the 10 MB/s link into peer %llu (%.3g MB/s):\n%s\n",
                          capped, mbs, log);
            ok = false;
        }
    } else {
        ok = false;
    }
    agora_free(log);
    cluster_free(cl, ok);
}

// ---- a peer that gives up before the collective starts ----

/* Peer 0 starts an all-reduce with a 200 ms deadline while peer 1 is still busy: it must
 * get ETIMEDOUT (withdrawing at the master), and the next attempt by both must commit. */
static int scenario_withdraw(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, 2, 30000) != AGORA_OK)
        return 10;
    float x[64];
    int ret = 0;
    if (idx == 0) {
        fill(x, 64, idx, 0);
        agora_reduce_desc d = {
            x, 64, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(200), NULL};
        agora_err rc = agora_comm_allreduce(c, &d, NULL);
        if (rc != AGORA_ETIMEDOUT) {
            fprintf(stderr, "expected ETIMEDOUT, got %s\n", agora_err_name(rc));
            ret = 11;
        }
        append_line(cl, "progress", idx, "x"); /* tells peer 1 to go on */
    } else {
        int64_t dl = agora_deadline_in_ms(20000);
        while (file_size(cl, "progress", 0) == 0 && !agora_deadline_passed(dl))
            sleep_ms(5);
    }
    for (int attempt = 0; ret == 0 && attempt < 5; attempt++) {
        fill(x, 64, idx, 1);
        agora_reduce_desc d = {
            x, 64, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
        agora_err rc = agora_comm_allreduce(c, &d, NULL);
        if (rc == AGORA_OK) {
            ret = check_exact(x, 64, 2, 1, false) ? 12 : 0;
            record_digest(cl, idx, "after-withdraw", x, 64);
            break;
        }
        if (rc != AGORA_EPEER_LOST && rc != AGORA_ESTATE) {
            ret = 13;
            break;
        }
        (void)agora_comm_update_topology(c, agora_deadline_in_ms(10000));
        if (attempt == 4)
            ret = 14;
    }
    agora_comm_destroy(c);
    return ret;
}

static void initiate_timeout_withdraws_and_cluster_recovers(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    start_master(cl, NULL);
    spawn(cl, scenario_withdraw, 0);
    spawn(cl, scenario_withdraw, 1);
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        int st = wait_exit(cl->peer[i], 60000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    int idx[2] = {0, 1};
    if (ok)
        assert_digests_agree(cl, idx, 2);
    cluster_free(cl, ok);
}

// ---- abort from another thread ----

static void *abort_later(void *arg) {
    agora_sleep_ns(100 * 1000000LL); /* pacing a fault, not waiting for a condition */
    agora_comm_abort(arg);
    return NULL;
}

/* Peer 0 is blocked in an all-reduce (peer 1 has not initiated yet) when another thread
 * calls agora_comm_abort: it must return AGORA_EABORTED with its buffer untouched; after
 * agora_comm_clear_abort both reduce again and get the exact sum. */
static int scenario_abort(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, 2, 30000) != AGORA_OK)
        return 10;
    float x[256], in[256];
    int ret = 0;
    if (idx == 0) {
        fill(x, 256, idx, 0);
        memcpy(in, x, sizeof x);
        pthread_t th;
        pthread_create(&th, NULL, abort_later, c);
        agora_reduce_desc d = {
            x, 256, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(20000), NULL};
        agora_err rc = agora_comm_allreduce(c, &d, NULL);
        pthread_join(th, NULL);
        if (rc != AGORA_EABORTED || memcmp(x, in, sizeof x) != 0) {
            fprintf(stderr, "expected EABORTED and the input, got %s\n", agora_err_name(rc));
            ret = 11;
        }
        agora_comm_clear_abort(c);
        append_line(cl, "progress", idx, "x");
    } else {
        int64_t dl = agora_deadline_in_ms(20000);
        while (file_size(cl, "progress", 0) == 0 && !agora_deadline_passed(dl))
            sleep_ms(5);
    }
    for (int attempt = 0; ret == 0 && attempt < 5; attempt++) {
        fill(x, 256, idx, 1);
        agora_reduce_desc d = {
            x, 256, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
        agora_err rc = agora_comm_allreduce(c, &d, NULL);
        if (rc == AGORA_OK) {
            ret = check_exact(x, 256, 2, 1, false) ? 12 : 0;
            record_digest(cl, idx, "after-abort", x, 256);
            break;
        }
        (void)agora_comm_update_topology(c, agora_deadline_in_ms(10000));
        if (attempt == 4)
            ret = 13;
    }
    agora_comm_destroy(c);
    return ret;
}

static void abort_unblocks_a_waiting_allreduce(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    start_master(cl, NULL);
    spawn(cl, scenario_abort, 0);
    spawn(cl, scenario_abort, 1);
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        int st = wait_exit(cl->peer[i], 60000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    int idx[2] = {0, 1};
    if (ok)
        assert_digests_agree(cl, idx, 2);
    cluster_free(cl, ok);
}

// ---- the coordinator dies ----

/* Peers loop all-reduces; the master is SIGKILLed. Every peer must get AGORA_ECLOSED or
 * AGORA_ETIMEDOUT within its deadline plus the verdict grace (no hang), with its buffer
 * restored. */
static int scenario_master_death(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, (uint32_t)cl->world, 30000) != AGORA_OK)
        return 10;
    enum { N = 50000 };
    float *x = agora_malloc(N * sizeof(float)), *in = agora_malloc(N * sizeof(float));
    int ret = 20;
    for (int iter = 0; iter < 100000; iter++) {
        fill(x, N, idx, iter);
        memcpy(in, x, N * sizeof(float));
        int64_t t0 = agora_now_ns();
        agora_reduce_desc d = {
            x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(2000), NULL};
        agora_err rc = agora_comm_allreduce(c, &d, NULL);
        int64_t ms = (agora_now_ns() - t0) / 1000000;
        if (rc == AGORA_OK) {
            append_line(cl, "progress", idx, "x");
            continue;
        }
        if (rc == AGORA_EPEER_LOST) /* the other peer saw it first and gave up */
            continue;
        fprintf(stderr, "after the master died: %s in %lld ms\n", agora_err_name(rc),
                (long long)ms);
        bool in_time = ms < 2000 + 5000 + 1000; /* deadline + verdict grace + slack */
        ret = (rc == AGORA_ECLOSED || rc == AGORA_ETIMEDOUT) && in_time &&
                      memcmp(x, in, N * sizeof(float)) == 0
                  ? 0
                  : 21;
        break;
    }
    agora_free(x);
    agora_free(in);
    agora_comm_destroy(c);
    return ret;
}

static void master_death_never_hangs_peers(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    start_master(cl, NULL);
    spawn(cl, scenario_master_death, 0);
    spawn(cl, scenario_master_death, 1);
    wait_progress(cl, 0, 3, 60000);
    kill(cl->master, SIGKILL);
    waitpid(cl->master, NULL, 0);
    cl->master = -1;
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        int st = wait_exit(cl->peer[i], 30000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    cluster_free(cl, ok);
}

// ---- a network fault without a process fault: the proxy resets a ring link ----

/* Peer 1 is reached only through a fault proxy that resets every connection once, after
 * 3 MB. The collective in flight fails on both peers (buffers restored), the topology
 * update rebuilds the links through the proxy, and the retries commit exact sums. */
static int scenario_reset(const cluster *cl, int idx) {
    agora_proxy_opts po;
    memset(&po, 0, sizeof po);
    po.stall_after_bytes = -1;
    po.reset_after_bytes = 3 << 20;
    proxied pp;
    int ret = proxied_open(cl, idx == 1 ? &po : NULL, &pp);
    if (ret != 0)
        return ret;
    agora_comm *c = pp.c;
    ret = join_until(c, 2, 30000) == AGORA_OK ? 0 : 11;
    enum { N = 1 << 18 };
    float *x = agora_malloc(N * sizeof(float)), *in = agora_malloc(N * sizeof(float));
    int failures = 0, commits = 0, iter = 0;
    int64_t stop = agora_deadline_in_ms(60000);
    while (ret == 0 && (commits < 6 || failures == 0)) {
        if (agora_deadline_passed(stop)) {
            ret = 12;
            break;
        }
        fill(x, N, idx, iter);
        memcpy(in, x, N * sizeof(float));
        agora_reduce_desc d = {
            x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
        agora_err rc = agora_comm_allreduce(c, &d, NULL);
        if (rc == AGORA_OK) {
            if (check_exact(x, N, 2, iter, false)) {
                ret = 13;
                break;
            }
            char label[32];
            snprintf(label, sizeof label, "iter=%d", iter);
            record_digest(cl, idx, label, x, N);
            commits++;
            iter++;
            continue;
        }
        failures++;
        if (rc != AGORA_EPEER_LOST || memcmp(x, in, N * sizeof(float)) != 0) {
            fprintf(stderr, "after the reset: %s\n", agora_err_name(rc));
            ret = 14;
            break;
        }
        agora_err u;
        do {
            u = agora_comm_update_topology(c, agora_deadline_in_ms(10000));
        } while (u == AGORA_EPEER_LOST && !agora_deadline_passed(stop));
        if (u != AGORA_OK)
            ret = 15;
        if (failures > 3)
            ret = 16; /* the proxy resets once: one failed collective, maybe two */
    }
    fprintf(stderr, "reset scenario: %d commits, %d failures\n", commits, failures);
    agora_free(x);
    agora_free(in);
    proxied_close(&pp);
    return ret;
}

static void proxy_reset_fails_one_collective_then_recovers(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    start_master(cl, NULL);
    spawn(cl, scenario_reset, 0);
    spawn(cl, scenario_reset, 1);
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        int st = wait_exit(cl->peer[i], 90000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    int idx[2] = {0, 1};
    if (ok)
        assert_digests_agree(cl, idx, 2);
    cluster_free(cl, ok);
}

// ---- graceful leave ----

/* With a 60 s heartbeat timeout, only the deathrattle (P2C_LEAVE, sent by
 * agora_comm_destroy) can remove a peer quickly: peer 2 leaves after one collective and the
 * others must see a world of 2 within a few seconds and reduce exactly. */
static int scenario_leave(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, 3, 30000) != AGORA_OK)
        return 10;
    float x[100];
    fill(x, 100, idx, 0);
    agora_reduce_desc d = {
        x, 100, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
    if (agora_comm_allreduce(c, &d, NULL) != AGORA_OK)
        return 11;
    if (idx == 2) {
        agora_comm_destroy(c); /* the deathrattle */
        return 0;
    }
    int64_t t0 = agora_now_ns();
    int64_t dl = agora_deadline_in_ms(20000);
    int ret = 12;
    while (!agora_deadline_passed(dl)) {
        agora_err rc = agora_comm_update_topology(c, dl);
        if (rc == AGORA_OK && agora_comm_world(c) == 2) {
            int64_t ms = (agora_now_ns() - t0) / 1000000;
            fprintf(stderr, "world 2 after %lld ms\n", (long long)ms);
            fill(x, 100, idx, 1);
            agora_reduce_desc d2 = {
                x, 100, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
            rc = agora_comm_allreduce(c, &d2, NULL);
            float want = value(0, 1, 7) + value(1, 1, 7);
            ret = ms < 10000 && rc == AGORA_OK && x[7] == want ? 0 : 13;
            break;
        }
    }
    agora_comm_destroy(c);
    return ret;
}

static void deathrattle_removes_a_leaver_at_once(void **state) {
    (void)state;
    cluster *cl = cluster_new(3);
    start_master(cl, "--set comm.heartbeat_timeout_ms=60000");
    for (int i = 0; i < 3; i++)
        spawn(cl, scenario_leave, i);
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        int st = wait_exit(cl->peer[i], 60000);
        cl->peer[i] = -1;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    cluster_free(cl, ok);
}

// ---- link measurement and ring order ----

/* Four peers measure their links (4 MB per directed link), the master solves the ring
 * order and applies it at the next topology update; the ring must still give the exact
 * sum, bit-identical everywhere. */
static int scenario_measure(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, (uint32_t)cl->world, 30000) != AGORA_OK)
        return 10;
    int ret = 0;
    agora_err rc = agora_comm_measure_links(c, 4u << 20, agora_deadline_in_ms(30000));
    if (rc != AGORA_OK) {
        fprintf(stderr, "measure: %s\n", agora_err_name(rc));
        ret = 11;
    }
    if (ret == 0 && agora_comm_update_topology(c, agora_deadline_in_ms(30000)) != AGORA_OK)
        ret = 12;
    enum { N = 10007 };
    float *x = agora_malloc(N * sizeof(float));
    if (ret == 0) {
        fill(x, N, idx, 3);
        agora_reduce_desc d = {
            x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(20000), NULL};
        if (agora_comm_allreduce(c, &d, NULL) != AGORA_OK || check_exact(x, N, cl->world, 3, 0))
            ret = 13;
        else
            record_digest(cl, idx, "after-measure", x, N);
    }
    agora_free(x);
    agora_comm_destroy(c);
    return ret;
}

static void measure_links_then_reduce_exact(void **state) {
    (void)state;
    cluster *cl = cluster_new(4);
    start_master(cl, NULL);
    for (int i = 0; i < 4; i++)
        spawn(cl, scenario_measure, i);
    bool ok = true;
    int idx[4];
    for (int i = 0; i < 4; i++) {
        int st = wait_exit(cl->peer[i], 90000);
        cl->peer[i] = -1;
        idx[i] = i;
        if (st != 0) {
            print_message("peer %d exited with %d\n", i, st);
            ok = false;
        }
    }
    if (ok)
        assert_digests_agree(cl, idx, 4);
    char cmd[600], out[256];
    snprintf(cmd, sizeof cmd, "grep -c 'ring order: slowest link' '%s/master.log'", cl->dir);
    if (agora_test_run(cmd, out, sizeof out) != 0) {
        print_message("the master never solved a ring order\n");
        ok = false;
    }
    cluster_free(cl, ok);
}

// ---- send rate limit ----

/* Two peers limited to 100 Mbit/s each reduce 4 MiB of f32. Each sends about 4 MiB, so
 * the collective cannot end before (bytes sent - one burst) / rate: a lower bound only,
 * which load can never break. The sum stays exact and bit-identical. */
static int scenario_rate(const cluster *cl, int idx) {
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL || join_until(c, (uint32_t)cl->world, 30000) != AGORA_OK)
        return 10;
    enum { N = 1 << 20 };
    float *x = agora_malloc(N * sizeof(float));
    fill(x, N, idx, 5);
    agora_reduce_desc d = {
        x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(60000), NULL};
    agora_reduce_info info;
    int ret = 0;
    int64_t t0 = agora_now_ns();
    agora_err rc = agora_comm_allreduce(c, &d, &info);
    double took = (double)(agora_now_ns() - t0) / 1e9;
    if (rc != AGORA_OK) {
        fprintf(stderr, "allreduce: %s\n", agora_err_name(rc));
        ret = 11;
    } else if (check_exact(x, N, cl->world, 5, false)) {
        ret = 12;
    } else {
        double rate = cl->rate_mbps * 1e6 / 8.0; /* bytes per second */
        double burst = cl->rate_mbps * 1e6 / 8.0 * 0.02;
        burst = burst > 65536.0 ? burst : 65536.0;
        double floor_s = ((double)info.tx_bytes - burst) / rate;
        fprintf(stderr, "sent %llu bytes in %.3f s (at least %.3f s at %.0f Mbit/s)\n",
                (unsigned long long)info.tx_bytes, took, floor_s, cl->rate_mbps);
        if (info.tx_bytes < (uint64_t)N * sizeof(float) || took < floor_s)
            ret = 13;
        record_digest(cl, idx, "rate-limited", x, N);
    }
    agora_free(x);
    agora_comm_destroy(c);
    return ret;
}

static void rate_limit_bounds_allreduce_time_from_below(void **state) {
    (void)state;
    cluster *cl = cluster_new(2);
    cl->rate_mbps = 100.0;
    start_master(cl, NULL);
    cluster_free(cl, run_peers(cl, scenario_rate, 2, 90000, true));
}

// ---- churn soak ----

static volatile sig_atomic_t g_term;
static void on_term(int sig) {
    (void)sig;
    g_term = 1;
}

/* Loops update_topology + a SUM of ones until SIGTERM; every committed result must equal
 * the ring size at every element. */
static int scenario_churn(const cluster *cl, int idx) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    agora_comm *c = peer_connect(cl, "key");
    if (c == NULL)
        return g_term ? 0 : 10;
    enum { N = 100000 };
    float *x = agora_malloc(N * sizeof(float));
    int rc_exit = 0;
    while (!g_term) {
        agora_err rc = agora_comm_update_topology(c, agora_deadline_in_ms(20000));
        if (rc == AGORA_ECLOSED) {
            rc_exit = 11;
            break;
        }
        if (rc != AGORA_OK)
            continue;
        for (size_t j = 0; j < N; j++)
            x[j] = 1.0f;
        agora_reduce_desc d = {
            x, N, AGORA_REDUCE_SUM, AGORA_CODEC_F32, 1, agora_deadline_in_ms(10000), NULL};
        agora_reduce_info info;
        rc = agora_comm_allreduce(c, &d, &info);
        if (rc == AGORA_ECLOSED) {
            rc_exit = 12;
            break;
        }
        if (rc != AGORA_OK)
            continue;
        for (size_t j = 0; j < N; j++)
            if (x[j] != (float)info.world) {
                fprintf(stderr, "got %g at %zu, world %u\n", (double)x[j], j, info.world);
                rc_exit = 13;
                break;
            }
        if (rc_exit)
            break;
        append_line(cl, "progress", idx, "x");
    }
    agora_free(x);
    agora_comm_destroy(c);
    return rc_exit;
}

static size_t total_progress(const cluster *cl, int n) {
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += file_size(cl, "progress", i);
    return t;
}

/* The spec's stress test, bounded: keep 2..8 peers; each second spawn (p = 0.6) or
 * SIGKILL a random peer (p = 0.4); fail if no collective commits for 60 s. */
static void run_churn(int seconds) {
    cluster *cl = cluster_new(2);
    start_master(cl, "--set comm.heartbeat_timeout_ms=2000 --set comm.phase_timeout_ms=5000");
    enum { MAX_LIVE = 8, MAX_SLOTS = 10 };
    bool alive[MAX_PEERS] = {false};
    int spawned = 0, kills = 0;
    agora_rng r;
    agora_rng_seed(&r, 42, AGORA_RNG_STREAM_TEST, 99);
    for (int i = 0; i < 2; i++, spawned++) {
        spawn(cl, scenario_churn, i);
        alive[i] = true;
    }
    int64_t end = agora_deadline_in_ms((int64_t)seconds * 1000);
    size_t last = 0;
    int64_t last_change = agora_now_ns();
    bool ok = true;
    while (!agora_deadline_passed(end)) {
        sleep_ms(1000);
        size_t p = total_progress(cl, MAX_SLOTS);
        if (p != last) {
            last = p;
            last_change = agora_now_ns();
        } else if (agora_now_ns() - last_change > 60 * 1000000000LL) {
            print_message("watchdog: no collective committed for 60 s\n");
            ok = false;
            break;
        }
        int live = 0;
        for (int i = 0; i < MAX_SLOTS; i++)
            live += alive[i];
        bool do_spawn = live <= 2 || (live < MAX_LIVE && agora_rng_uniform(&r) < 0.6);
        int slot = -1; /* a dead slot is reused: its progress file keeps growing */
        for (int i = 0; i < MAX_SLOTS && slot < 0; i++)
            if (!alive[i])
                slot = i;
        if (do_spawn && slot >= 0) {
            spawn(cl, scenario_churn, slot);
            alive[slot] = true;
            spawned++;
        } else if (live > 2) {
            int k = (int)agora_rng_below(&r, (uint32_t)live);
            for (int i = 0; i < MAX_SLOTS; i++)
                if (alive[i] && k-- == 0) {
                    kill(cl->peer[i], SIGKILL);
                    waitpid(cl->peer[i], NULL, 0);
                    cl->peer[i] = -1;
                    alive[i] = false;
                    kills++;
                    break;
                }
        }
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        if (alive[i]) {
            kill(cl->peer[i], SIGTERM);
            int st = wait_exit(cl->peer[i], 30000);
            cl->peer[i] = -1;
            if (st != 0 && st != 11 && st != 12) { /* evicted late is allowed */
                print_message("peer %d exited with %d\n", i, st);
                ok = false;
            }
        }
    print_message("churn: %d peers spawned, %d killed, %zu commits seen\n", spawned, kills,
                  total_progress(cl, MAX_SLOTS));
    if (total_progress(cl, MAX_SLOTS) == 0)
        ok = false;
    cluster_free(cl, ok);
}

static void churn_soak(void **state) {
    (void)state;
    const char *s = getenv("AGORA_SOAK_S");
    run_churn(s ? atoi(s) : 120);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allreduce_matches_reference_2_peers),
        cmocka_unit_test(allreduce_matches_reference_3_peers),
        cmocka_unit_test(allreduce_matches_reference_5_peers),
        cmocka_unit_test(allreduce_matches_reference_8_peers),
        cmocka_unit_test(error_feedback_residuals_close_the_gap_3_peers),
        cmocka_unit_test(sigkill_mid_collective_survivors_retry_exact),
        cmocka_unit_test(sigstop_peer_is_evicted_and_others_go_on),
        cmocka_unit_test(join_mid_run_receives_shared_state),
        cmocka_unit_test(wrong_key_rejected_and_bad_frames_dropped),
        cmocka_unit_test(master_link_drops_injected_frames),
        cmocka_unit_test(ring_data_macs_catch_tampering_on_the_path),
        cmocka_unit_test(shared_state_macs_catch_tampering_on_the_path),
        cmocka_unit_test(allreduce_async_runs_in_the_background),
        cmocka_unit_test(shared_state_strategies_receive_only_and_send_only),
        cmocka_unit_test(passive_link_timing_reports_a_saturated_link),
        cmocka_unit_test(initiate_timeout_withdraws_and_cluster_recovers),
        cmocka_unit_test(measure_links_then_reduce_exact),
        cmocka_unit_test(abort_unblocks_a_waiting_allreduce),
        cmocka_unit_test(master_death_never_hangs_peers),
        cmocka_unit_test(proxy_reset_fails_one_collective_then_recovers),
        cmocka_unit_test(deathrattle_removes_a_leaver_at_once),
        cmocka_unit_test(rate_limit_bounds_allreduce_time_from_below),
        cmocka_unit_test(churn_soak),
    };
    return agora_test_main(tests, argc, argv);
}
