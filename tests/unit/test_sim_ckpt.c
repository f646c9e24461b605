/* test_sim_ckpt.c: the simulation checkpoint (src/sim/sim_ckpt.c).
 *
 * A state saved at step s, loaded and stepped on must end with the same digest, learner
 * weights and summary as the run that never stopped, across the burn-in branch, with the
 * learner, a bounded-confidence opinion model, a message ring that grows and the bridging
 * ranker (which reads the running retweet rate), and on an imported network. Damaged,
 * foreign or mismatched checkpoints are refused with a message naming the file.
 */
#include "agora_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

static agora_sim_params params(int variant) {
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.n_agents = 300;
    p.out_degree_mean = 20;
    p.n_steps = 40;
    p.burnin_steps = 15;
    p.recsys = AGORA_RECSYS_ENG_ORACLE;
    if (variant == 1) { /* the learner and a bounded-confidence model */
        p.recsys = AGORA_RECSYS_ENG_LEARNED;
        p.learner = true;
        p.opinion_model = SIM_OPINION_HK;
    }
    if (variant == 2) /* a small ring that must grow */
        p.activity_mean = 0.01;
    if (variant == 3) /* bridging reads the running retweet rate */
        p.recsys = AGORA_RECSYS_BRIDGING;
    return p;
}

static agora_sim *make(const agora_sim_params *p, int variant) {
    char err[AGORA_ERR_LEN];
    agora_sim *s = NULL;
    if (agora_sim_create(p, &s, err) != AGORA_OK)
        fail_msg("agora_sim_create: %s", err);
    if (variant == 2)
        for (int64_t i = 0; i < s->n; i++)
            s->act[i] = 5.0;
    return s;
}

/* Steps [from, to) as `agora sim run` does: the branch at burnin_steps. */
static void run(agora_sim *s, const agora_sim_params *p, int64_t from, int64_t to) {
    for (int64_t t = from; t < to; t++) {
        if (t == p->burnin_steps)
            agora_sim_branch(s);
        agora_assert_ok(agora_sim_step(s, t < p->burnin_steps ? p->burnin_recsys : p->recsys));
    }
}

typedef struct fingerprint {
    uint64_t digest;
    double w[AGORA_SIM_NFEAT], ne_feed, o_var, cascade_p99, cascade_mean, cross;
    int64_t t, edges;
} fingerprint;

static fingerprint print_of(const agora_sim *s) {
    fingerprint f;
    memset(&f, 0, sizeof f);
    f.digest = agora_sim_digest(s);
    agora_sim_learner_weights(s, f.w);
    agora_sim_summary sum;
    agora_assert_ok(agora_sim_summarize(s, &sum));
    f.ne_feed = sum.ne_feed;
    f.o_var = sum.o_var;
    f.cascade_p99 = sum.cascade_p99;
    f.cascade_mean = sum.cascade_mean;
    f.cross = sum.cross_camp_share;
    f.t = agora_sim_time(s);
    f.edges = agora_sim_n_edges(s);
    return f;
}

static void sim_ckpt_resume_is_bit_exact(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char path[1024], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/sim.ckpt", tmp);
    for (int variant = 0; variant < 4; variant++) {
        agora_sim_params p = params(variant);
        agora_sim *a = make(&p, variant);
        run(a, &p, 0, p.n_steps);
        fingerprint whole = print_of(a);
        agora_sim_destroy(a);
        const int64_t stops[] = {10, 15, 27}; /* before, at and after the branch */
        for (size_t k = 0; k < 3; k++) {
            agora_sim *b = make(&p, variant);
            run(b, &p, 0, stops[k]);
            const char extra[] = "caller bytes";
            if (agora_sim_save(b, path, extra, sizeof extra, err) != AGORA_OK)
                fail_msg("save: %s", err);
            uint64_t before = agora_sim_digest(b);
            agora_sim_destroy(b);
            agora_sim *c = NULL;
            void *got = NULL;
            size_t got_len = 0;
            if (agora_sim_load(path, &p, &c, &got, &got_len, err) != AGORA_OK)
                fail_msg("load: %s", err);
            assert_true(agora_sim_digest(c) == before);
            assert_int_equal(got_len, sizeof extra);
            assert_memory_equal(got, extra, sizeof extra);
            agora_free(got);
            run(c, &p, stops[k], p.n_steps);
            fingerprint resumed = print_of(c);
            agora_sim_destroy(c);
            if (resumed.digest != whole.digest)
                fail_msg("variant %d stopped at %lld: digest %016llx, unbroken run %016llx",
                         variant, (long long)stops[k], (unsigned long long)resumed.digest,
                         (unsigned long long)whole.digest);
            assert_memory_equal(resumed.w, whole.w, sizeof whole.w);
            assert_true(resumed.ne_feed == whole.ne_feed && resumed.o_var == whole.o_var);
            assert_true(resumed.cascade_mean == whole.cascade_mean && resumed.cross == whole.cross);
            assert_true(resumed.cascade_p99 == whole.cascade_p99 ||
                        (isnan(resumed.cascade_p99) && isnan(whole.cascade_p99)));
            assert_true(resumed.t == whole.t && resumed.edges == whole.edges);
        }
    }
    agora_test_rmtree(tmp);
    free(tmp);
}

/* An imported network keeps its original ids through a checkpoint. */
static void sim_ckpt_keeps_an_imported_network(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char path[1024], ids[1100], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/sim.ckpt", tmp);
    snprintf(ids, sizeof ids, "%s/ids.csv", tmp);
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.graph_init = SIM_GRAPH_FILE;
    p.burnin_steps = 5;
    snprintf(p.edges_path, sizeof p.edges_path, "%s/tests/fixtures/sim/tiny_edges.txt",
             agora_test_src());
    snprintf(p.agents_path, sizeof p.agents_path, "%s/tests/fixtures/sim/tiny_agents.csv",
             agora_test_src());
    agora_sim *a = make(&p, 0);
    run(a, &p, 0, 20);
    uint64_t whole = agora_sim_digest(a);
    agora_sim_destroy(a);
    agora_sim *b = make(&p, 0);
    run(b, &p, 0, 8);
    agora_assert_ok(agora_sim_save(b, path, NULL, 0, err));
    agora_sim_destroy(b);
    agora_sim *c = NULL;
    if (agora_sim_load(path, &p, &c, NULL, NULL, err) != AGORA_OK)
        fail_msg("load: %s", err);
    run(c, &p, 8, 20);
    assert_true(agora_sim_digest(c) == whole);
    agora_assert_ok(agora_sim_write_ids_csv(c, ids));
    agora_sim_destroy(c);
    agora_test_rmtree(tmp);
    free(tmp);
}

static void write_bytes(const char *path, const char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void expect_refused(const char *path, const agora_sim_params *p, agora_err want,
                           const char *needle) {
    char err[AGORA_ERR_LEN];
    agora_sim *s = (agora_sim *)1;
    agora_err rc = agora_sim_load(path, p, &s, NULL, NULL, err);
    if (rc != want)
        fail_msg("want %s, got %s: %s", agora_err_name(want), agora_err_name(rc), err);
    assert_null(s);
    if (strstr(err, path) == NULL || strstr(err, needle) == NULL)
        fail_msg("message \"%s\" lacks the path or \"%s\"", err, needle);
}

static void sim_ckpt_refuses_damaged_or_mismatched_files(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char path[1024], bad[1100], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/sim.ckpt", tmp);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tmp);
    agora_sim_params p = params(0);
    agora_sim *s = make(&p, 0);
    run(s, &p, 0, 12);
    if (agora_sim_save(s, path, NULL, 0, err) != AGORA_OK)
        fail_msg("save: %s", err);
    agora_sim_destroy(s);
    size_t n = 0;
    char *b = read_bytes(path, &n);
    /* cut anywhere: truncated */
    write_bytes(bad, b, n / 2);
    expect_refused(bad, &p, AGORA_ETRUNCATED, "bad.ckpt");
    /* one data byte flipped (the last one: in the data section) */
    b[n - 3] ^= 0x40;
    write_bytes(bad, b, n);
    expect_refused(bad, &p, AGORA_ECHECKSUM, "damaged");
    b[n - 3] ^= 0x40;
    /* another setting that shapes the run */
    agora_sim_params q = p;
    q.beta_neg += 0.5;
    expect_refused(path, &q, AGORA_EINVAL, "other sim.* settings");
    /* not a checkpoint at all */
    write_bytes(bad, "not a safetensors file at all", 29);
    agora_sim *t = NULL;
    assert_true(agora_sim_load(bad, &p, &t, NULL, NULL, err) != AGORA_OK);
    assert_null(t);
    assert_non_null(strstr(err, "bad.ckpt"));
    /* a well-hashed file whose indices point outside their arrays */
    const char *fields[] = {"m_author", "disc_a", "window_heads", "step_seq0", "step_seq0"};
    for (int which = 0; which < 5; which++) {
        agora_sim *f = make(&p, 0);
        run(f, &p, 0, 12);
        if (which == 0)
            f->m_author[f->mcap - 1] = (uint32_t)f->n;
        else if (which == 1)
            f->disc_a[0] = (uint32_t)f->n + 7;
        else if (which == 2)
            f->wh[3].n = SIM_WIN_INLINE + (uint32_t)f->win_n + 1;
        else if (which == 3) /* (from fuzz_sim_ckpt: the next step asked for 8 GB) */
            f->step_seq0[f->t - 1] = f->next_seq - (uint32_t)f->mcap - 1;
        else /* a step starting before the one ahead of it */
            f->step_seq0[f->t - 1] = f->step_seq0[f->t - 2] - 1;
        agora_assert_ok(agora_sim_save(f, bad, NULL, 0, err));
        agora_sim_destroy(f);
        expect_refused(bad, &p, AGORA_EPARSE, fields[which]);
    }
    /* well-hashed, indices fine, but floats the step would turn into a bad cast or a bad
     * draw (the first from fuzz_sim_ckpt: a NaN message opinion reached (int) in the
     * ranking, undefined behaviour) */
    const char *values[] = {"m_o", "window_heads (opinion)", "disc_w", "act", "learner weight"};
    for (int which = 0; which < 5; which++) {
        agora_sim *f = make(&p, 0);
        run(f, &p, 0, 12);
        if (which == 0)
            f->m_o[f->mcap / 2] = NAN;
        else if (which == 1) {
            uint32_t i = 0;
            while (i + 1 < (uint32_t)f->n && f->wh[i].n == 0)
                i++;
            assert_true(f->wh[i].n > 0);
            f->wh[i].e[0].o = 1.5f;
        } else if (which == 2) {
            assert_true(f->D > 0);
            f->disc_w[0] = -1.0f;
        } else if (which == 3)
            f->act[1] = INFINITY;
        else
            f->w[2] = NAN;
        agora_assert_ok(agora_sim_save(f, bad, NULL, 0, err));
        agora_sim_destroy(f);
        expect_refused(bad, &p, AGORA_EPARSE, values[which]);
    }
    /* n_steps, metrics_every, checkpoint_every and louvain may change: a run can be
     * extended */
    q = p;
    q.n_steps *= 3;
    q.metrics_every = 7;
    q.checkpoint_every = 1;
    q.louvain = !q.louvain; /* read only by summaries */
    if (agora_sim_load(path, &q, &t, NULL, NULL, err) != AGORA_OK)
        fail_msg("load with more steps: %s", err);
    assert_int_equal(agora_sim_time(t), 12);
    agora_sim_destroy(t);
    free(b);
    agora_test_rmtree(tmp);
    free(tmp);
}

/* The fuzz corpus seeds are checkpoints of fuzz_sim_ckpt.c's settings: they must still
 * load, or the fuzzer only ever reaches the settings check (a new sim.* key changes the
 * settings hash: regenerate them as fuzz_sim_ckpt.c says). */
static void sim_ckpt_fuzz_seeds_still_load(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.n_agents = 40;
    p.out_degree_mean = 5;
    p.n_steps = 12;
    p.burnin_steps = 4;
    p.recsys = AGORA_RECSYS_ENG_ORACLE;
    const char *seeds[] = {"seed-step5-sealed", "seed-step7"};
    for (size_t i = 0; i < 2; i++) {
        char path[2048], err[AGORA_ERR_LEN];
        snprintf(path, sizeof path, "%s/fuzz/corpus/sim_ckpt/%s", agora_test_src(), seeds[i]);
        size_t n = 0;
        char *b = read_bytes(path, &n);
        agora_sim *s = NULL;
        if (agora__sim_load_mem(b + 1, n - 1, path, &p, &s, NULL, NULL, err) != AGORA_OK)
            fail_msg("%s", err);
        agora_assert_ok(agora_sim_step(s, p.recsys));
        agora_sim_destroy(s);
        free(b);
    }
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_ckpt_resume_is_bit_exact),
        cmocka_unit_test(sim_ckpt_refuses_damaged_or_mismatched_files),
        cmocka_unit_test(sim_ckpt_keeps_an_imported_network),
        cmocka_unit_test(sim_ckpt_fuzz_seeds_still_load),
    };
    return agora_test_main(tests, argc, argv);
}
