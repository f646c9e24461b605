/* test_diloco_launch.c: decentralized training end to end with real processes on
 * loopback: `agora launch` starts a coordinator and tiny-model nodes; the test reads the
 * run directory the way a user would (summary.json, metrics.jsonl, checkpoints). */
#include "agora_test.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/json.h"
#include "agora/stream.h"

static char g_out[1 << 16];

/* A small deterministic corpus: sentences drawn from a fixed vocabulary. */
static void write_corpus(const char *path) {
    static const char *const words[] = {"the",    "ring",  "averages", "every",  "node",
                                        "trains", "alone", "then",     "shares", "its",
                                        "delta",  "and",   "moves",    "on",     "again"};
    FILE *f = fopen(path, "w");
    uint32_t x = 12345;
    for (int i = 0; i < 30000; i++) {
        x = x * 1103515245u + 12345u;
        fprintf(f, "%s%s", words[(x >> 16) % 15], (i % 11 == 10) ? ".\n" : " ");
    }
    fclose(f);
}

static double summary_num(const char *dir, const char *node, const char *key) {
    char path[8400];
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, node);
    struct cJSON *j = NULL;
    if (agora_json_load_file(path, 1 << 20, &j, NULL) != AGORA_OK)
        return -1e300;
    cJSON *v = cJSON_GetObjectItem(j, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1e300;
    agora_json_free(j);
    return d;
}

/* Hash of the final weights named by a node's summary.json. */
static uint64_t weights_hash(const char *dir, const char *node) {
    char path[8400];
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, node);
    struct cJSON *j = NULL;
    if (agora_json_load_file(path, 1 << 20, &j, NULL) != AGORA_OK)
        return 0;
    cJSON *v = cJSON_GetObjectItem(j, "checkpoint");
    char w[8400] = "";
    if (cJSON_IsString(v))
        snprintf(w, sizeof w, "%s/model.safetensors", v->valuestring);
    agora_json_free(j);
    char *buf = NULL;
    size_t len = 0;
    if (agora_read_file(w, 1u << 30, &buf, &len, NULL) != AGORA_OK)
        return 0;
    uint64_t h = agora_hash64(buf, len);
    agora_free(buf);
    return h;
}

/* The launch deadline is generous: a quiet machine needs 5-15 s per case, but a TSan
 * build with OpenMP off on a loaded 2-core machine needed over 150 s for the chaos ones. */
static int launch(const char *dir, const char *extra) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 '%s' launch --run-dir '%s/run' "
             "--set train.text='%s/corpus.txt' --set train.preset=tiny --set train.seq_len=32 "
             "--set train.batch_size=4 --set train.warmup=2 --set train.val_every=0 "
             "--set diloco.inner_steps=5 --set comm.heartbeat_timeout_ms=2000 "
             "--set train.peak_gflops=100 "
             "--timeout 420 %s",
             agora_test_bin(), dir, dir, extra);
    return agora_test_run(cmd, g_out, sizeof g_out);
}

/* node_file_has says whether RUN/NODE/FILE contains needle. */
static bool node_file_has(const char *run, const char *node, const char *file, const char *needle) {
    char m[8400];
    snprintf(m, sizeof m, "%s/%s/%s", run, node, file);
    char *buf = NULL;
    size_t len = 0;
    if (agora_read_file(m, 1 << 22, &buf, &len, NULL) != AGORA_OK)
        fail_msg("%s is missing", m);
    bool found = strstr(buf, needle) != NULL;
    agora_free(buf);
    return found;
}

static bool metrics_has(const char *run, const char *node, const char *needle) {
    return node_file_has(run, node, "metrics.jsonl", needle);
}

static void two_nodes(const char *extra, bool overlap) {
    char *dir = agora_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    write_corpus(p);
    char args[512];
    snprintf(args, sizeof args, "--nodes 2 --set diloco.outer_steps=4 %s", extra);
    int rc = launch(dir, args);
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    char run[4200];
    snprintf(run, sizeof run, "%s/run", dir);
    assert_true(summary_num(run, "node-00", "outer_steps") == 4);
    assert_true(summary_num(run, "node-01", "outer_steps") == 4);
    /* Both replicas hold the same outer parameters, byte for byte. */
    uint64_t h0 = weights_hash(run, "node-00"), h1 = weights_hash(run, "node-01");
    /* Both waited for each other (launch sets diloco.min_world), so none was skipped. */
    assert_true(summary_num(run, "node-00", "skipped_outer_steps") == 0);
    if (h0 == 0 || h0 != h1)
        fail_msg("final weights differ or are missing (%016llx vs %016llx):\n%s",
                 (unsigned long long)h0, (unsigned long long)h1, g_out);
    /* int8 traffic is far below what data-parallel fp32 would have sent. */
    double tx = summary_num(run, "node-00", "tx_bytes");
    double dp = summary_num(run, "node-00", "dp_equivalent_tx_bytes");
    assert_true(tx > 0 && dp / tx > 15); /* H=5 and int8: about 4*5 = 20x */
    assert_non_null(strstr(g_out, "summary"));
    /* The launch draws every node's loss per round. */
    assert_true(node_file_has(run, ".", "loss.svg", "<polyline"));
    assert_true(node_file_has(run, ".", "loss.svg", "node-01"));
    /* Blocking: one commit per record. Overlap: none in the first, two in the last. */
    assert_true(metrics_has(run, "node-00", "\"committed\":0,") == overlap);
    assert_true(metrics_has(run, "node-00", "\"committed\":2,") == overlap);
    agora_test_rmtree(dir);
    free(dir);
}

static void diloco_two_nodes_end_bit_identical(void **state) {
    (void)state;
    two_nodes("", false);
}

/* Overlap: every round but the last is reduced in the background while the next one
 * trains. The records show it (nothing committed in the first, two in the last), and
 * the replicas still end byte-identical. */
static void diloco_overlap_two_nodes_end_bit_identical(void **state) {
    (void)state;
    two_nodes("--set diloco.overlap=true", true);
}

/* Streaming: the parameters go out in two fragments, each all-reduce behind an inner
 * step; the replicas still end byte-identical and each record is one outer step. */
static void diloco_streaming_two_nodes_end_bit_identical(void **state) {
    (void)state;
    two_nodes("--set diloco.streaming=true --set diloco.fragments=2 "
              "--set diloco.fragment_overlap=1",
              false);
}

/* One fragment, no overlap, no mixing: streaming DiLoCo is blocking DiLoCo, bit for bit
 * (f32 on the wire: with 2 nodes the average does not depend on who holds which rank). */
static void diloco_streaming_one_fragment_is_blocking_diloco(void **state) {
    (void)state;
    uint64_t h[2] = {0, 0};
    double v[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        char *dir = agora_test_tmpdir();
        char p[4200], run[4200];
        snprintf(p, sizeof p, "%s/corpus.txt", dir);
        write_corpus(p);
        int rc = launch(dir, i == 0 ? "--nodes 2 --set diloco.outer_steps=3 --set comm.codec=f32"
                                    : "--nodes 2 --set diloco.outer_steps=3 --set comm.codec=f32 "
                                      "--set diloco.streaming=true --set diloco.fragments=1 "
                                      "--set diloco.fragment_overlap=0 "
                                      "--set diloco.fragment_mix=0");
        if (rc != 0)
            fail_msg("agora launch exited %d:\n%s", rc, g_out);
        snprintf(run, sizeof run, "%s/run", dir);
        h[i] = weights_hash(run, "node-00");
        v[i] = summary_num(run, "node-00", "val_loss");
        assert_true(h[i] != 0 && h[i] == weights_hash(run, "node-01"));
        agora_test_rmtree(dir);
        free(dir);
    }
    if (h[0] != h[1] || v[0] != v[1])
        fail_msg("streaming with one fragment differs from blocking DiLoCo: %016llx (val %.9g) vs "
                 "%016llx (val %.9g)",
                 (unsigned long long)h[0], v[0], (unsigned long long)h[1], v[1]);
}

/* new_launch_dir makes a test directory with the corpus in it (free it) and writes the
 * launch directory inside it, DIR/run, to run. */
static char *new_launch_dir(char *run, size_t len) {
    char *dir = agora_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    write_corpus(p);
    snprintf(run, len, "%s/run", dir);
    return dir;
}

/* Error feedback with the 4-bit codec, blocking and overlapped: each node carries a
 * nonzero residual (metrics residual_norm), and the replicas still end byte-identical
 * (the residual changes what a node sends, never what the ring agrees on). */
static void error_feedback(bool overlap, bool streaming) {
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    char args[512];
    snprintf(args, sizeof args,
             "--nodes 2 --set diloco.outer_steps=3 --set comm.codec=e3m0 "
             "--set diloco.error_feedback=true --set diloco.overlap=%s%s",
             overlap ? "true" : "false",
             streaming ? " --set diloco.streaming=true --set diloco.fragments=2" : "");
    int rc = launch(dir, args);
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    assert_true(summary_num(run, "node-00", "outer_steps") == 3);
    uint64_t h0 = weights_hash(run, "node-00"), h1 = weights_hash(run, "node-01");
    if (h0 == 0 || h0 != h1)
        fail_msg("final weights differ or are missing:\n%s", g_out);
    char m[8400];
    snprintf(m, sizeof m, "%s/node-00/metrics.jsonl", run);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(agora_read_file(m, 1 << 22, &buf, &len, NULL), AGORA_OK);
    int seen = 0;
    for (const char *q = strstr(buf, "\"residual_norm\":"); q != NULL;
         q = strstr(q + 1, "\"residual_norm\":")) {
        double v = strtod(q + strlen("\"residual_norm\":"), NULL);
        seen += v > 0;
    }
    agora_free(buf);
    assert_true(seen >= 2); /* overlap: the first record commits nothing */
    if (!overlap) {         /* the residual travels in the outer state and comes back on resume */
        char f[8400], head[4096] = "";
        /* (streaming: the directories count fragment syncs, 2 per outer step) */
        snprintf(f, sizeof f, "%s/node-00/ckpt-outer/step_000000000%d/outer.safetensors", run,
                 streaming ? 6 : 3);
        FILE *fp = fopen(f, "rb"); /* the JSON header names the tensors */
        assert_non_null(fp);
        size_t got = fread(head, 1, sizeof head - 1, fp);
        fclose(fp);
        head[got] = '\0';
        assert_non_null(strstr(head + 8, "\"ef_residual\""));
        char more[600];
        snprintf(more, sizeof more, "%s --set diloco.outer_steps=4 --set train.resume=true", args);
        rc = launch(dir, more);
        if (rc != 0)
            fail_msg("resumed launch exited %d:\n%s", rc, g_out);
        assert_true(node_file_has(run, "node-00", "log.txt", "with its error-feedback residual"));
        assert_true(summary_num(run, "node-00", "outer_steps") == 4);
    }
    agora_test_rmtree(dir);
    free(dir);
}

static void diloco_error_feedback_carries_a_residual(void **state) {
    (void)state;
    error_feedback(false, false);
    error_feedback(true, false);
    error_feedback(false, true);
}

static void kill_and_join(const char *extra) {
    char *dir = agora_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    write_corpus(p);
    /* The joiner must register while the others still train: at least ~0.5 s of outer
     * steps remain after the join trigger even on a quiet machine. */
    char args[512];
    snprintf(args, sizeof args,
             "--nodes 3 --set diloco.outer_steps=10 --set diloco.inner_steps=10 "
             "--set train.seq_len=64 --set train.batch_size=8 --kill-at 2 --join-at 3 %s",
             extra);
    int rc = launch(dir, args);
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    char run[4200];
    snprintf(run, sizeof run, "%s/run", dir);
    assert_non_null(strstr(g_out, "SIGKILL node-02"));
    assert_non_null(strstr(g_out, "node-03 joins"));
    /* Survivors and the joiner finish all outer steps with the same validation loss,
     * which needs bit-identical weights. */
    double v0 = summary_num(run, "node-00", "val_loss");
    assert_true(summary_num(run, "node-00", "outer_steps") == 10);
    assert_true(summary_num(run, "node-01", "outer_steps") == 10);
    assert_true(summary_num(run, "node-03", "outer_steps") == 10);
    assert_true(v0 > 0 && v0 == summary_num(run, "node-01", "val_loss"));
    assert_true(v0 == summary_num(run, "node-03", "val_loss"));
    /* The joiner pulled the shared state (theta_outer, momentum) and its donor's AdamW
     * moments from a peer: 4 tensors. */
    assert_true(metrics_has(run, "node-03", "\"joined\":1"));
    assert_true(node_file_has(run, "node-03", "log.txt", "(4 tensors,"));
    /* Three nodes met, then a joiner made three again: each time every node measured the
     * links and the coordinator solved a ring order (diloco.measure_bytes). */
    char mlog[8400], *log = NULL;
    size_t ll = 0;
    snprintf(mlog, sizeof mlog, "%s/master.log", run);
    agora_assert_ok(agora_read_file(mlog, 1 << 22, &log, &ll, NULL));
    int orders = 0;
    for (const char *q = strstr(log, "ring order:"); q != NULL; q = strstr(q + 1, "ring order:"))
        orders++;
    if (orders < 2)
        fail_msg("%d ring orders solved, wanted 2:\n%s", orders, log);
    agora_free(log);
    agora_test_rmtree(dir);
    free(dir);
}

static void diloco_survives_sigkill_and_admits_joiner(void **state) {
    (void)state;
    kill_and_join("");
}

/* The same chaos in streaming mode: fragments in flight behind the inner steps. */
static void diloco_streaming_survives_sigkill_and_admits_joiner(void **state) {
    (void)state;
    kill_and_join("--set diloco.streaming=true --set diloco.fragments=2 "
                  "--set diloco.fragment_overlap=2");
}

/* Streaming, the partner killed in the middle of an outer step: the survivor, alone at a
 * fragment's all-reduce, drops its progress and waits there; the joiner takes the shared
 * state at that fragment and both carry on from it to the same final weights. (On a
 * quiet machine the survivor is alone every time; in a slow build the joiner can be
 * admitted at the boundary before that, and the survivor is never alone.) */
static void diloco_streaming_lone_survivor_resumes_mid_step(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    int rc = launch(dir, "--nodes 2 --set diloco.outer_steps=5 --set diloco.inner_steps=8 "
                         "--set diloco.streaming=true --set diloco.fragments=2 "
                         "--set diloco.fragment_overlap=1 --kill-at 2 --join-at 2");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    assert_true(summary_num(run, "node-00", "outer_steps") == 5);
    assert_true(summary_num(run, "node-02", "outer_steps") == 5);
    assert_true(weights_hash(run, "node-00") != 0);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-02"));
    assert_true(metrics_has(run, "node-02", "\"joined\":1"));
    agora_test_rmtree(dir);
    free(dir);
}

/* Streaming, a joiner registering as a member dies: the survivors find the death at the
 * first fragment's all-reduce (29 inner steps after the boundary) and the joiner, by then
 * registered, is admitted at its retry and joins it without a delta (3 runs of 3 on a
 * quiet machine; a slow joiner enters at the next outer step instead). Either way all end
 * byte-identical. */
static void diloco_streaming_joiner_at_a_retried_fragment(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    int rc = launch(dir, "--nodes 3 --set diloco.outer_steps=4 --set diloco.inner_steps=60 "
                         "--set diloco.streaming=true --set diloco.fragments=2 "
                         "--set diloco.fragment_overlap=1 --kill-at 2 --join-at 2");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    uint64_t h = weights_hash(run, "node-00");
    assert_true(h != 0 && h == weights_hash(run, "node-01") && h == weights_hash(run, "node-03"));
    assert_true(metrics_has(run, "node-03", "\"joined\":1"));
    agora_test_rmtree(dir);
    free(dir);
}

/* The same chaos with the collective in flight during the kill (overlap mode). */
static void diloco_overlap_survives_sigkill_and_admits_joiner(void **state) {
    (void)state;
    kill_and_join("--set diloco.overlap=true");
}

/* Two nodes, one killed, a fresh node joins: the shared-state vote is a 1-1 tie, which
 * must go to the survivor's newer revision, not to the joiner's initial weights. */
static void diloco_lone_survivor_wins_tie_against_joiner(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    write_corpus(p);
    int rc = launch(dir, "--nodes 2 --set diloco.outer_steps=5 --kill-at 2 --join-at 2");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    char run[4200];
    snprintf(run, sizeof run, "%s/run", dir);
    assert_true(summary_num(run, "node-00", "outer_steps") == 5);
    assert_true(summary_num(run, "node-02", "outer_steps") == 5);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-02"));
    assert_true(weights_hash(run, "node-00") != 0);
    /* The joiner's first record continues the run instead of restarting it at step 1. */
    assert_false(metrics_has(run, "node-02", "\"outer_step\":1,"));
    assert_true(metrics_has(run, "node-02", "\"joined\":1"));
    agora_test_rmtree(dir);
    free(dir);
}

/* Checkpoints and resume: a run stopped after 3 outer steps continues to 5 from its
 * outer-state checkpoints in the same run directory; a corrupt one is refused by name. */
static void diloco_resumes_from_outer_checkpoint(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    write_corpus(p);
    int rc = launch(dir, "--nodes 2 --set diloco.outer_steps=3 --set diloco.ckpt_every=2");
    if (rc != 0)
        fail_msg("first launch exited %d:\n%s", rc, g_out);
    char run[4200], f[8400];
    snprintf(run, sizeof run, "%s/run", dir);
    /* step 2 by ckpt_every, step 3 as the final outer state */
    snprintf(f, sizeof f, "%s/node-00/ckpt-outer/step_0000000002/DONE", run);
    assert_int_equal(access(f, F_OK), 0);
    snprintf(f, sizeof f, "%s/node-00/ckpt-outer/step_0000000003/outer.safetensors", run);
    assert_int_equal(access(f, F_OK), 0);
    rc = launch(dir, "--nodes 2 --set diloco.outer_steps=5 --set diloco.ckpt_every=2 "
                     "--set train.resume=true");
    if (rc != 0)
        fail_msg("resumed launch exited %d:\n%s", rc, g_out);
    assert_true(summary_num(run, "node-00", "outer_steps") == 5);
    assert_true(summary_num(run, "node-01", "outer_steps") == 5);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-01"));
    /* the resumed nodes continued at outer step 4 instead of starting over */
    assert_true(metrics_has(run, "node-00", "\"outer_step\":4,"));
    assert_true(node_file_has(run, "node-00", "log.txt", "resumed the outer state of step 3"));
    /* one CSV header, whatever the number of runs that appended to it */
    assert_false(node_file_has(run, "node-00", "metrics.csv", "\nouter_step,"));
    /* A truncated outer state (node 0) or one with a flipped bit in the last tensor's data
     * (node 1, caught by the manifest's XXH3): the node stops with the file's name,
     * nothing is trained. */
    snprintf(f, sizeof f, "%s/node-00/ckpt-outer/step_0000000005/outer.safetensors", run);
    assert_int_equal(truncate(f, 100), 0);
    snprintf(f, sizeof f, "%s/node-01/ckpt-outer/step_0000000005/outer.safetensors", run);
    FILE *fp = fopen(f, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, -3, SEEK_END), 0);
    int byte = fgetc(fp);
    assert_int_equal(fseek(fp, -3, SEEK_END), 0);
    fputc(byte ^ 0x10, fp);
    fclose(fp);
    rc = launch(dir, "--nodes 2 --set diloco.outer_steps=7 --set train.resume=true "
                     "--set diloco.boundary_timeout_ms=3000");
    assert_int_not_equal(rc, 0);
    assert_true(node_file_has(run, "node-00", "log.txt", "step_0000000005/outer.safetensors"));
    assert_true(node_file_has(run, "node-01", "log.txt", " hashes to "));
    agora_test_rmtree(dir);
    free(dir);
}

/* The coordinator dies: every node stops within its deadlines, checkpoints the outer state
 * it last committed (periodic checkpoints are off here), and the same launch with
 * train.resume continues the run to the end with identical replicas. */
static void diloco_coordinator_death_checkpoints_then_resumes(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    write_corpus(p);
    int rc = launch(dir, "--nodes 2 --set diloco.outer_steps=6 --set diloco.ckpt_every=1000 "
                         "--kill-master-at 2");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(g_out, "SIGKILL the coordinator"));
    char run[4200];
    snprintf(run, sizeof run, "%s/run", dir);
    assert_true(node_file_has(run, "node-00", "log.txt", "--set train.resume=true continues"));
    rc = launch(dir, "--nodes 2 --set diloco.outer_steps=6 --set diloco.ckpt_every=1000 "
                     "--set train.resume=true");
    if (rc != 0)
        fail_msg("resumed launch exited %d:\n%s", rc, g_out);
    assert_true(summary_num(run, "node-00", "outer_steps") == 6);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-01"));
    assert_true(weights_hash(run, "node-00") != 0);
    assert_true(node_file_has(run, "node-00", "log.txt", "resumed the outer state of step"));
    agora_test_rmtree(dir);
    free(dir);
}

static void diloco_launch_rejects_bad_config(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' launch --set diloco.inner_steps=0", agora_test_bin());
    assert_int_equal(agora_test_run(cmd, g_out, sizeof g_out), 2);
    assert_non_null(strstr(g_out, "diloco.inner_steps = 0 is out of range"));
    snprintf(cmd, sizeof cmd, "'%s' launch --set diloco.streaming=true --set diloco.overlap=true",
             agora_test_bin());
    assert_int_equal(agora_test_run(cmd, g_out, sizeof g_out), 2);
    assert_non_null(strstr(g_out, "diloco.streaming and diloco.overlap"));
    snprintf(cmd, sizeof cmd,
             "'%s' launch --set diloco.streaming=true --set diloco.inner_steps=8 "
             "--set diloco.fragments=4 --set diloco.fragment_overlap=2",
             agora_test_bin());
    assert_int_equal(agora_test_run(cmd, g_out, sizeof g_out), 2);
    assert_non_null(strstr(g_out, "diloco.fragment_overlap must leave"));
}

/* A node whose delta blows up (x 1e6 at outer step 2): the norm census leaves it out on
 * every node alike, the run ends with identical replicas and a sane loss. With the screen
 * off the same fault wrecks every replica, which is what the screen is for. */
static void diloco_screens_out_a_poisoned_delta(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    int rc = launch(dir, "--nodes 3 --set diloco.outer_steps=4 --poison-at 2");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    double v0 = summary_num(run, "node-00", "val_loss");
    assert_true(v0 > 0 && v0 < 5 && summary_num(run, "node-00", "final_inner_loss") < 10);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-01"));
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-02"));
    for (int i = 0; i < 3; i++) {
        char node[16];
        snprintf(node, sizeof node, "node-%02d", i);
        assert_true(node_file_has(run, node, "log.txt", "left out of outer step 2"));
        assert_true(metrics_has(run, node, "\"excluded\":1,"));
    }
    assert_true(node_file_has(run, "node-00", "log.txt", "(this node)"));
    agora_test_rmtree(run);
    rc = launch(dir, "--nodes 3 --set diloco.outer_steps=4 --poison-at 2 "
                     "--set diloco.delta_max_ratio=0");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    assert_true(summary_num(run, "node-00", "final_inner_loss") > 1000);
    assert_true(summary_num(run, "node-00", "val_loss") > v0 + 1);
    agora_test_rmtree(dir);
    free(dir);
}

/* A standby coordinator watches the first one and takes over when it dies; the nodes
 * checkpoint, turn to it, resume from their checkpoints and finish with the same weights. */
static void diloco_standby_coordinator_takes_over(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    int rc = launch(dir, "--nodes 2 --set diloco.outer_steps=5 --kill-master-at 2 --standby "
                         "--set comm.standby_takeover_ms=1000");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    assert_true(node_file_has(run, ".", "standby.log", "unreachable for"));
    for (int i = 0; i < 2; i++) {
        char node[16];
        snprintf(node, sizeof node, "node-%02d", i);
        assert_true(summary_num(run, node, "outer_steps") == 5);
        assert_true(node_file_has(run, node, "log.txt", "rejoined through the standby"));
    }
    assert_true(weights_hash(run, "node-00") != 0);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-01"));
    /* While the coordinator answers, the standby stays idle, however long the run. */
    agora_test_rmtree(run);
    rc = launch(dir, "--nodes 2 --set diloco.outer_steps=5 --standby "
                     "--set comm.standby_takeover_ms=200 --set comm.heartbeat_interval_ms=50");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    assert_true(node_file_has(run, ".", "standby.log", "standby: watching"));
    assert_false(node_file_has(run, ".", "standby.log", "unreachable for"));
    agora_test_rmtree(dir);
    free(dir);
}

/* A node whose coordinator does not answer at its start tries the standby, which takes
 * over once the coordinator has been unreachable long enough. (Alone, the node then waits
 * for a peer until its boundary deadline: the exit status is not the point here.) */
static void diloco_node_starts_on_the_standby(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "(head -c 32 /dev/urandom > '%s/key' && "
             "('%s' master --key-file '%s/key' --run-dir '%s/sb' --standby-of 127.0.0.1:1 "
             "--set comm.standby_takeover_ms=300 & echo $! > '%s/sb.pid') && "
             "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 '%s' node --key-file '%s/key' "
             "--master 127.0.0.1:1 --standby-port-file '%s/sb/master.port' --run-dir '%s/n' "
             "--set train.text='%s/corpus.txt' --set train.preset=tiny --set train.seq_len=32 "
             "--set train.batch_size=4 --set diloco.inner_steps=2 --set diloco.outer_steps=1 "
             "--set diloco.boundary_timeout_ms=1000 --set train.peak_gflops=100 --progress off; "
             "kill $(cat '%s/sb.pid'))",
             dir, agora_test_bin(), dir, dir, dir, agora_test_bin(), dir, dir, dir, dir, dir);
    (void)agora_test_run(cmd, g_out, sizeof g_out);
    if (strstr(g_out, "trying the standby") == NULL || strstr(g_out, "registered as peer") == NULL)
        fail_msg("the node did not reach the standby:\n%s", g_out);
    agora_test_rmtree(dir);
    free(dir);
}

/* Streaming, the coordinator killed: a stop may fall between two fragments of an outer
 * step; the stop checkpoint records the fragment, the nodes resume there through the
 * standby and end identical. A run in another mode refuses that checkpoint. */
static void diloco_streaming_resumes_at_a_fragment_through_the_standby(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    const char *stream = "--set diloco.streaming=true --set diloco.fragments=2 "
                         "--set diloco.fragment_overlap=1 --set diloco.inner_steps=8";
    char args[1024];
    snprintf(args, sizeof args,
             "--nodes 2 --set diloco.outer_steps=5 --kill-master-at 2 --standby "
             "--set comm.standby_takeover_ms=1000 %s",
             stream);
    int rc = launch(dir, args);
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    /* The launcher kills the coordinator once it sees outer step 2 in the metrics; on a
     * fast machine the nodes may finish step 3 before they notice. Both must resume from
     * the same outer state, at step 2 or later. */
    long resumed[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        char node[16], p[8400];
        snprintf(node, sizeof node, "node-%02d", i);
        assert_true(summary_num(run, node, "outer_steps") == 5);
        assert_true(node_file_has(run, node, "log.txt", "rejoined through the standby"));
        snprintf(p, sizeof p, "%s/%s/log.txt", run, node);
        char *log = NULL;
        size_t len = 0;
        agora_assert_ok(agora_read_file(p, 1 << 22, &log, &len, NULL));
        const char *at = strstr(log, "resumed the outer state of step ");
        if (at == NULL || sscanf(at, "resumed the outer state of step %ld", &resumed[i]) != 1)
            fail_msg("%s did not resume an outer state:\n%s", node, log);
        agora_free(log);
    }
    if (resumed[0] != resumed[1] || resumed[0] < 2 || resumed[0] >= 5)
        fail_msg("resumed at outer steps %ld and %ld", resumed[0], resumed[1]);
    assert_true(weights_hash(run, "node-00") != 0);
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-01"));
    rc = launch(dir, "--nodes 2 --set diloco.outer_steps=7 --set train.resume=true");
    assert_int_not_equal(rc, 0);
    assert_true(node_file_has(run, "node-00", "log.txt", "taken by streaming DiLoCo with 2"));
    agora_test_rmtree(dir);
    free(dir);
}

/* The coordinator is killed and comes back a second later on the same port: the nodes,
 * waiting comm.rejoin_timeout_ms for it, checkpoint, reconnect, resume from that checkpoint
 * and finish the run in the same processes, with identical replicas. */
static void diloco_nodes_rejoin_a_restarted_coordinator(void **state) {
    (void)state;
    char run[4200];
    char *dir = new_launch_dir(run, sizeof run);
    int rc = launch(dir, "--nodes 2 --set diloco.outer_steps=5 --kill-master-at 2 "
                         "--restart-master");
    if (rc != 0)
        fail_msg("agora launch exited %d:\n%s", rc, g_out);
    assert_non_null(strstr(g_out, "coordinator restarted on port"));
    for (int i = 0; i < 2; i++) {
        char node[16];
        snprintf(node, sizeof node, "node-%02d", i);
        assert_true(summary_num(run, node, "outer_steps") == 5);
        assert_true(node_file_has(run, node, "log.txt", "rejoined the coordinator"));
    }
    assert_true(weights_hash(run, "node-00") == weights_hash(run, "node-01"));
    agora_test_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(diloco_error_feedback_carries_a_residual),
        cmocka_unit_test(diloco_two_nodes_end_bit_identical),
        cmocka_unit_test(diloco_survives_sigkill_and_admits_joiner),
        cmocka_unit_test(diloco_overlap_two_nodes_end_bit_identical),
        cmocka_unit_test(diloco_overlap_survives_sigkill_and_admits_joiner),
        cmocka_unit_test(diloco_lone_survivor_wins_tie_against_joiner),
        cmocka_unit_test(diloco_launch_rejects_bad_config),
        cmocka_unit_test(diloco_resumes_from_outer_checkpoint),
        cmocka_unit_test(diloco_coordinator_death_checkpoints_then_resumes),
        cmocka_unit_test(diloco_screens_out_a_poisoned_delta),
        cmocka_unit_test(diloco_nodes_rejoin_a_restarted_coordinator),
        cmocka_unit_test(diloco_standby_coordinator_takes_over),
        cmocka_unit_test(diloco_node_starts_on_the_standby),
        cmocka_unit_test(diloco_streaming_resumes_at_a_fragment_through_the_standby),
        cmocka_unit_test(diloco_streaming_two_nodes_end_bit_identical),
        cmocka_unit_test(diloco_streaming_one_fragment_is_blocking_diloco),
        cmocka_unit_test(diloco_streaming_survives_sigkill_and_admits_joiner),
        cmocka_unit_test(diloco_streaming_lone_survivor_resumes_mid_step),
        cmocka_unit_test(diloco_streaming_joiner_at_a_retried_fragment),
    };
    return agora_test_main(tests, argc, argv);
}
