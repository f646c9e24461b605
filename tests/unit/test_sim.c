/* test_sim.c: the simulator's acceptance properties (spec §15) and hand-computed cases.
 *
 * A1 single line (grep + digest swap), fast scorers and top-k against their _ref twins, A2
 * static amplification, A3 determinism across thread counts and branches, A4 graph
 * invariants after rewiring, A5 sanity, every ranker and opinion model on a tiny case.
 */
#include "agora_test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora/alloc.h"
#include "agora/stream.h"
#include "sim/sim_internal.h"

#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#endif

static agora_sim_params small_params(int64_t n) {
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.n_agents = n;
    p.out_degree_mean = 20;
    p.n_steps = 60;
    p.burnin_steps = 20;
    return p;
}

static agora_sim *make(const agora_sim_params *p) {
    char err[AGORA_ERR_LEN];
    agora_sim *s = NULL;
    agora_err rc = agora_sim_create(p, &s, err);
    if (rc != AGORA_OK)
        fail_msg("agora_sim_create: %s", err);
    return s;
}

static void run_steps(agora_sim *s, int recsys, int n) {
    for (int t = 0; t < n; t++)
        agora_assert_ok(agora_sim_step(s, recsys));
}

/* A hand-built state: n agents, no edges, messages written directly into the ring. */
static agora_sim *tiny(int64_t n, const agora_sim_params *p) {
    agora_sim *s = agora_calloc(1, sizeof *s);
    assert_non_null(s);
    s->p = *p;
    s->seed = (uint64_t)p->seed;
    agora_assert_ok(agora__sim_alloc(s, n));
    agora__sim_kernel_table(s);
    return s;
}

static void put_msg(agora_sim *s, uint32_t seq, uint32_t author, int32_t t0, float o, int neg) {
    uint32_t m = seq & s->mmask;
    s->m_author[m] = author;
    s->m_t0[m] = t0;
    s->m_idx[m] = 0;
    s->m_o[m] = o;
    s->m_neg[m] = (uint8_t)neg;
    s->m_nrt[m] = 0;
}

// ---- A1: the single line ----

static int grep_file(const char *path, const char *needle) {
    char *buf = NULL;
    size_t len = 0;
    char err[AGORA_ERR_LEN];
    if (agora_read_file(path, 1 << 24, &buf, &len, err) != AGORA_OK)
        return 0;
    int hit = strstr(buf, needle) != NULL;
    agora_free(buf);
    return hit;
}

static void walk(const char *dir, const char *root, char hits[][256], int *nh) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(path, root, hits, nh);
        } else if (grep_file(path, "AGORA_RECSYS_") && *nh < 16) {
            snprintf(hits[(*nh)++], 256, "%s", path + strlen(root) + 1);
        }
    }
    closedir(d);
}

static void sim_recsys_ids_appear_only_in_ops_table_and_parser(void **state) {
    (void)state;
    char root[1024], hits[16][256];
    int nh = 0;
    snprintf(root, sizeof root, "%s/src/sim", agora_test_src());
    walk(root, root, hits, &nh);
    char tool[1024];
    snprintf(tool, sizeof tool, "%s/tools/cmd_sim.c", agora_test_src());
    assert_false(grep_file(tool, "AGORA_RECSYS_"));
    for (int i = 0; i < nh; i++) {
        bool ok = strcmp(hits[i], "recsys/recsys.c") == 0 || strcmp(hits[i], "params.c") == 0;
        if (!ok)
            fail_msg("AGORA_RECSYS_ used outside the ops table and the parser: src/sim/%s",
                     hits[i]);
    }
    assert_int_equal(nh, 2);
}

static void sim_oracle_with_chrono_key_reproduces_chrono(void **state) {
    (void)state;
    agora_sim_params p = small_params(400);
    agora_sim *a = make(&p), *b = NULL;
    run_steps(a, AGORA_RECSYS_CHRONO, 10);
    agora_assert_ok(agora_sim_clone(a, &b));
    agora__sim_recsys_ops swapped = *agora__sim_recsys_ops_get(AGORA_RECSYS_ENG_ORACLE);
    swapped.score = agora__sim_recsys_ops_get(AGORA_RECSYS_CHRONO)->score;
    for (int t = 0; t < 30; t++) {
        agora_assert_ok(agora_sim_step(a, AGORA_RECSYS_CHRONO));
        agora_assert_ok(agora__sim_step_ops(b, &swapped));
    }
    assert_true(agora_sim_digest(a) == agora_sim_digest(b));
    /* and the real oracle differs, so the digest is sensitive to the score */
    agora_sim *c = NULL;
    agora_assert_ok(agora_sim_clone(a, &c));
    run_steps(a, AGORA_RECSYS_CHRONO, 5);
    run_steps(c, AGORA_RECSYS_ENG_ORACLE, 5);
    assert_true(agora_sim_digest(a) != agora_sim_digest(c));
    agora_sim_destroy(a);
    agora_sim_destroy(b);
    agora_sim_destroy(c);
}

// ---- _ref twins ----

static void sim_fast_scorers_and_topk_match_ref(void **state) {
    (void)state;
    agora_sim_params p = small_params(300);
    p.learner = true;
    for (int pred = 0; pred < 2; pred++) {
        p.eng_predictor = pred;
        p.bridging_mode = pred;
        agora_sim *s = make(&p);
        run_steps(s, AGORA_RECSYS_CHRONO, 12);
        agora__sim_scratch *sc = &s->scr[0];
        size_t nref = 0, total = 0;
        agora__sim_cand *ref = agora_malloc(4096 * sizeof *ref);
        agora__sim_cand feed_a[10], feed_b[10];
        for (uint32_t i = 0; i < 50; i++) {
            size_t nc = agora__sim_pool_build(s, i, s->t, sc);
            total += nc;
            agora__sim_read_ctx ctx = {s, i, s->o[i], s->t};
            for (int r = 0; r < AGORA_RECSYS_COUNT; r++) {
                const agora__sim_recsys_ops *ops = agora__sim_recsys_ops_get(r);
                ops->score(&ctx, sc->pool, nc);
                memcpy(ref, sc->pool, nc * sizeof *ref);
                ops->score_ref(&ctx, ref, nc);
                for (size_t j = 0; j < nc; j++)
                    if (fabs(ref[j].score - sc->pool[j].score) > 1e-12)
                        fail_msg("%s: score %zu differs: %g vs ref %g", ops->name, j,
                                 sc->pool[j].score, ref[j].score);
                size_t na = agora__sim_topk(sc->pool, nc, 10, feed_a);
                size_t nb = agora__sim_topk_ref(sc->pool, nc, 10, feed_b);
                assert_int_equal(na, nb);
                assert_int_equal(na, nc < 10 ? nc : 10);
                for (size_t j = 0; j < na; j++)
                    assert_int_equal(feed_a[j].seq, feed_b[j].seq);
                nref += na;
            }
        }
        assert_true(total > 500); /* the pools were not trivially empty */
        assert_true(nref > 0);
        agora_free(ref);
        agora_sim_destroy(s);
    }
}

static void sim_topk_breaks_ties_by_higher_seq(void **state) {
    (void)state;
    agora__sim_cand c[6], f[4], g[4];
    const double sc[6] = {1, 2, 2, 0.5, 2, 1};
    for (int j = 0; j < 6; j++) {
        memset(&c[j], 0, sizeof c[j]);
        c[j].score = sc[j];
        c[j].seq = (uint32_t)(10 + j);
    }
    size_t n = agora__sim_topk(c, 6, 4, f);
    assert_int_equal(n, 4);
    const uint32_t want[4] = {14, 12, 11, 15};
    for (int j = 0; j < 4; j++)
        assert_int_equal(f[j].seq, want[j]);
    assert_int_equal(agora__sim_topk_ref(c, 6, 4, g), 4);
    for (int j = 0; j < 4; j++)
        assert_int_equal(g[j].seq, want[j]);
    assert_int_equal(agora__sim_topk(c, 2, 4, f), 2); /* fewer candidates than k */
}

// ---- every ranker on a hand-computed case ----

static void sim_rankers_hand_computed(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.beta_neg = 0.5;
    p.learner = false;
    agora_sim *s = tiny(4, &p);
    s->pi[0] = 0.1;
    s->in_n[1] = 3;
    put_msg(s, 0, 1, 3, 0.0f, 0);
    put_msg(s, 1, 2, 4, 0.5f, 0);
    put_msg(s, 2, 3, 4, 0.0f, 1);
    s->m_nrt[0] = 3;
    agora__sim_cand c[3];
    memset(c, 0, sizeof c);
    for (uint32_t j = 0; j < 3; j++) {
        c[j].seq = j;
        agora__sim_cand_from_ring(s, &c[j]); /* pool building copies o, author, neg */
    }
    c[0].e = 5;
    c[1].e = 4;
    c[2].e = 5;
    agora__sim_read_ctx ctx = {s, 0, 0.0, 5};
    agora__sim_cand feed[3];
    /* chrono: e; the tie between seq 0 and 2 goes to the higher seq */
    size_t nf = agora__sim_feed_build(&ctx, agora__sim_recsys_ops_get(AGORA_RECSYS_CHRONO)->score,
                                      c, 3, 3, feed);
    assert_int_equal(nf, 3);
    assert_int_equal(feed[0].seq, 2);
    assert_int_equal(feed[1].seq, 0);
    assert_int_equal(feed[2].seq, 1);
    /* eng_oracle: P_rt = pi K(d) (1 + beta n); K logistic(d0 0.4, w 0.1) */
    double k0 = 1.0 / (1.0 + exp(-4.0)), k5 = 1.0 / (1.0 + exp(1.0));
    agora__sim_recsys_ops_get(AGORA_RECSYS_ENG_ORACLE)->score(&ctx, c, 3);
    agora_assert_near(c[0].score, 0.1 * k0, 1e-9);
    agora_assert_near(c[1].score, 0.1 * k5, 1e-9);
    agora_assert_near(c[2].score, 0.1 * k0 * 1.5, 1e-9);
    /* eng_neg_neutral: the same without the negativity term */
    agora__sim_recsys_ops_get(AGORA_RECSYS_ENG_NEG_NEUTRAL)->score(&ctx, c, 3);
    agora_assert_near(c[2].score, 0.1 * k0, 1e-9);
    /* popularity: (n_rt + 1) / (t - t0 + 2)^1.5 */
    agora__sim_recsys_ops_get(AGORA_RECSYS_POPULARITY)->score(&ctx, c, 3);
    agora_assert_near(c[0].score, 4.0 / 8.0, 1e-12);
    agora_assert_near(c[1].score, 1.0 / pow(3.0, 1.5), 1e-12);
    /* bridging (rates): min_c (rt_c + a0 rbar) / (exp_c + a0) */
    s->m_rtc[0][0] = 2;
    s->m_rtc[1][0] = 8;
    s->m_exp[0][0] = 10;
    s->m_exp[1][0] = 10;
    s->rbar = 0.05;
    agora__sim_recsys_ops_get(AGORA_RECSYS_BRIDGING)->score(&ctx, c, 3);
    agora_assert_near(c[0].score, 3.0 / 30.0, 1e-12);
    agora_assert_near(c[1].score, 1.0 / 20.0, 1e-12);
    /* eng_learned: sigma(w.x), x = [1, d, d^2, n, log1p(nrt), log1p(in), log1p(age), r] */
    memset(s->w, 0, sizeof s->w);
    s->w[0] = -1.0;
    s->w[3] = 2.0;
    agora__sim_recsys_ops_get(AGORA_RECSYS_ENG_LEARNED)->score(&ctx, c, 3);
    agora_assert_near(c[0].score, 1.0 / (1.0 + exp(1.0)), 1e-12);
    agora_assert_near(c[2].score, 1.0 / (1.0 + exp(-1.0)), 1e-12);
    s->w[5] = 1.0; /* author 1 has 3 followers */
    agora__sim_recsys_ops_get(AGORA_RECSYS_ENG_LEARNED)->score(&ctx, c, 3);
    agora_assert_near(c[0].score, 1.0 / (1.0 + exp(1.0 - log(4.0))), 1e-12);
    /* random: a keyed draw in [0, 1), the same for the same (reader, message, step) */
    agora__sim_recsys_ops_get(AGORA_RECSYS_RANDOM)->score(&ctx, c, 3);
    double r0 = c[0].score;
    assert_true(r0 >= 0 && r0 < 1 && r0 != c[1].score);
    agora__sim_recsys_ops_get(AGORA_RECSYS_RANDOM)->score(&ctx, c, 3);
    assert_true(c[0].score == r0);
    agora_sim_destroy(s);
}

/* A5: with K flat and beta = 0 the oracle's scores are constant and the feed follows
 * sequence numbers, newest first. */
static void sim_flat_kernel_oracle_feed_is_newest_first(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.kernel = SIM_KERNEL_FLAT;
    p.beta_neg = 0;
    agora_sim *s = tiny(2, &p);
    s->pi[0] = 0.2;
    agora__sim_cand c[8], feed[3];
    memset(c, 0, sizeof c);
    for (uint32_t j = 0; j < 8; j++) {
        put_msg(s, j, 1, 1, (float)(j % 3) * 0.4f - 0.8f, (int)(j & 1));
        c[j].seq = (j * 5) % 8;
    }
    for (uint32_t j = 0; j < 8; j++)
        agora__sim_cand_from_ring(s, &c[j]);
    agora__sim_read_ctx ctx = {s, 0, 0.3, 2};
    size_t nf = agora__sim_feed_build(
        &ctx, agora__sim_recsys_ops_get(AGORA_RECSYS_ENG_ORACLE)->score, c, 8, 3, feed);
    assert_int_equal(nf, 3);
    for (int j = 0; j < 8; j++)
        agora_assert_near(c[j].score, 0.2, 1e-15);
    assert_int_equal(feed[0].seq, 7);
    assert_int_equal(feed[1].seq, 6);
    assert_int_equal(feed[2].seq, 5);
    agora_sim_destroy(s);
}

// ---- opinion models on hand-computed cases ----

static void sim_opinion_models_hand_computed(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    double o = 0.0;
    agora__sim_opinion_item(&p, &o, 0.2, 0, 0.0); /* Deffuant: |d| < 0.3, mu 0.02 */
    agora_assert_near(o, 0.004, 1e-15);
    o = 0.0;
    agora__sim_opinion_item(&p, &o, 0.5, 0, 0.0); /* outside the bound */
    assert_true(o == 0.0);
    p.repulsion = true;
    p.rep_eps = 0.5;
    p.rep_mu = 0.01;
    o = 0.0;
    agora__sim_opinion_item(&p, &o, 0.8, 1, 0.0); /* negative and far: pushed away */
    agora_assert_near(o, -0.01, 1e-15);
    o = 0.5;
    agora__sim_opinion_item(&p, &o, -0.3, 0, 0.0); /* not negative: rep_neg_only */
    assert_true(o == 0.5);
    p.repulsion = false;
    p.backfire = true;
    p.backfire_mu = 0.1;
    o = 0.5;
    agora__sim_opinion_item(&p, &o, -0.3, 1, 0.0); /* out-group negative: repels */
    agora_assert_near(o, 0.55, 1e-15);
    p.backfire = false;
    p.mu_neg = 0.1;
    o = 0.3;
    agora__sim_opinion_item(&p, &o, 0.5, 1, 0.0); /* in-group negative: emotional pull */
    agora_assert_near(o, 0.32, 1e-15);
    p.opinion_model = SIM_OPINION_NONE;
    o = 0.3;
    agora__sim_opinion_item(&p, &o, 0.4, 1, 0.0);
    assert_true(o == 0.3);
    p.opinion_model = SIM_OPINION_HK;
    p.hk_mu = 0.1;
    const double om[3] = {0.1, 0.2, 0.9};
    o = 0.0;
    agora__sim_opinion_hk(&p, &o, om, 3); /* mean of {0, 0.1, 0.2} = 0.1 */
    agora_assert_near(o, 0.01, 1e-15);
    p.opinion_model = SIM_OPINION_DEGROOT;
    o = 0.0;
    agora__sim_opinion_hk(&p, &o, om, 3); /* mean of {0, 0.1, 0.2, 0.9} = 0.3 */
    agora_assert_near(o, 0.03, 1e-15);
    o = 1.0;
    p.opinion_model = SIM_OPINION_DEFFUANT;
    p.bc_mu = 1.0;
    p.bc_eps = 2.0;
    agora__sim_opinion_item(&p, &o, 1.0, 0, 0.0);
    assert_true(o <= 1.0);
}

static void sim_kernels_have_their_shapes(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    agora_assert_near(agora__sim_kernel_exact(&p, 0.4), 0.5, 1e-15);
    p.kernel = SIM_KERNEL_GAUSS;
    p.kernel_lambda = 0.5;
    agora_assert_near(agora__sim_kernel_exact(&p, 0.5), exp(-1.0), 1e-15);
    p.kernel = SIM_KERNEL_STEP;
    p.kernel_eps = 0.3;
    p.kernel_k0 = 0.2;
    assert_true(agora__sim_kernel_exact(&p, 0.29) == 1.0);
    assert_true(agora__sim_kernel_exact(&p, 0.31) == 0.2);
    p.kernel = SIM_KERNEL_FLAT;
    assert_true(agora__sim_kernel_exact(&p, 1.7) == 1.0);
}

// ---- A2: static amplification ----

/* Opinions and rewiring frozen, toxicity fixed: returns per-replicate mean NE (per agent)
 * under chrono and eng_oracle, branched from one burn-in. */
static void static_pair(double beta, int rep, double *ne_c, double *ne_e, double *mean_a) {
    agora_sim_params p = small_params(1000);
    p.beta_neg = beta;
    p.freeze_opinions = true;
    p.freeze_rewiring = true;
    p.learner = false;
    p.seed = 100 + rep;
    p.anb_min_exposures = 20;
    agora_sim *s = make(&p), *c = NULL, *e = NULL;
    run_steps(s, AGORA_RECSYS_CHRONO, 10);
    agora_sim_branch(s);
    agora_assert_ok(agora_sim_clone(s, &c));
    agora_assert_ok(agora_sim_clone(s, &e));
    run_steps(c, AGORA_RECSYS_CHRONO, 20);
    run_steps(e, AGORA_RECSYS_ENG_ORACLE, 20);
    double sc = 0, se = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < s->n; i++)
        if (c->E[i] > 0 && e->E[i] > 0) {
            sc += (double)c->En[i] / (double)c->E[i];
            se += (double)e->En[i] / (double)e->E[i];
            n++;
        }
    *ne_c = sc / (double)n;
    *ne_e = se / (double)n;
    agora_sim_summary sum;
    agora_assert_ok(agora_sim_summarize(e, &sum));
    *mean_a = sum.anb_pool.mean;
    agora_sim_destroy(s);
    agora_sim_destroy(c);
    agora_sim_destroy(e);
}

static void sim_static_amplification_with_bias(void **state) {
    (void)state;
    for (int r = 0; r < 10; r++) {
        double nc, ne, ma;
        static_pair(0.5, r, &nc, &ne, &ma);
        if (!(ne > nc))
            fail_msg("replicate %d: NE engagement %.4f <= chrono %.4f", r, ne, nc);
        assert_true(ma >= 0);
    }
}

static void sim_static_amplification_vanishes_without_bias(void **state) {
    (void)state;
    double d[10], m = 0, v = 0;
    for (int r = 0; r < 10; r++) {
        double nc, ne, ma;
        static_pair(0.0, r, &nc, &ne, &ma);
        d[r] = ne - nc;
        m += d[r] / 10;
    }
    for (int r = 0; r < 10; r++)
        v += (d[r] - m) * (d[r] - m) / 9;
    double se = sqrt(v / 10);
    if (fabs(m) > 3 * se)
        fail_msg("beta = 0: paired NE difference %.5f exceeds 3 SE (%.5f)", m, 3 * se);
}

/* A5: a random ranker does not curate, so A_i averages about 0 (chrono, by contrast,
 * need not). */
static void sim_random_ranker_has_no_curation_bias(void **state) {
    (void)state;
    agora_sim_params p = small_params(500);
    p.anb_min_exposures = 50;
    agora_sim *s = make(&p);
    run_steps(s, AGORA_RECSYS_CHRONO, 10);
    agora_sim_branch(s);
    run_steps(s, AGORA_RECSYS_RANDOM, 25);
    agora_sim_summary sum;
    agora_assert_ok(agora_sim_summarize(s, &sum));
    assert_true(sum.anb_pool.n > 400);
    if (fabs(sum.anb_pool.mean) > 0.03)
        fail_msg("random ranker: mean A_i = %.4f", sum.anb_pool.mean);
    agora_sim_destroy(s);
}

// ---- A3: determinism ----

static agora_sim_params busy_params(void) {
    agora_sim_params p = small_params(600);
    p.learner = true;
    p.tox_dynamics = SIM_TOX_CONTAGION;
    p.opinion_drift = 0.01;
    p.unf_q = 0.2;
    p.fol_q = 0.3;
    p.unf_eps = 0.3;
    return p;
}

static uint64_t run_digest(int threads, int recsys, const agora_sim_params *p, int steps) {
#ifdef AGORA_HAVE_OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    agora_sim *s = make(p);
    run_steps(s, AGORA_RECSYS_CHRONO, 10);
    run_steps(s, recsys, steps);
    uint64_t d = agora_sim_digest(s);
    agora_sim_destroy(s);
    return d;
}

static void sim_same_digest_for_any_thread_count(void **state) {
    (void)state;
    agora_sim_params p = busy_params();
    for (int r = 0; r < AGORA_RECSYS_COUNT; r++) {
        uint64_t d1 = run_digest(1, r, &p, 12);
        uint64_t d2 = run_digest(2, r, &p, 12);
        if (d1 != d2)
            fail_msg("%s: digests differ across thread counts", agora_sim_recsys_name(r));
    }
    assert_true(run_digest(3, AGORA_RECSYS_ENG_LEARNED, &p, 12) ==
                run_digest(1, AGORA_RECSYS_ENG_LEARNED, &p, 12));
    p.opinion_model = SIM_OPINION_HK;
    p.conserve_out_degree = false;
    assert_true(run_digest(1, AGORA_RECSYS_BRIDGING, &p, 20) ==
                run_digest(2, AGORA_RECSYS_BRIDGING, &p, 20));
    agora_sim_params q = busy_params();
    q.seed = 2;
    assert_true(run_digest(2, AGORA_RECSYS_CHRONO, &q, 20) !=
                run_digest(2, AGORA_RECSYS_CHRONO, &p, 20));
}

static void sim_branches_share_state_and_random_numbers(void **state) {
    (void)state;
    agora_sim_params p = busy_params();
    agora_sim *s = make(&p), *a = NULL, *b = NULL;
    run_steps(s, AGORA_RECSYS_CHRONO, 15);
    agora_sim_branch(s);
    agora_assert_ok(agora_sim_clone(s, &a));
    agora_assert_ok(agora_sim_clone(s, &b));
    assert_true(agora_sim_digest(a) == agora_sim_digest(s));
    run_steps(a, AGORA_RECSYS_ENG_ORACLE, 10);
    run_steps(b, AGORA_RECSYS_ENG_ORACLE, 10);
    run_steps(s, AGORA_RECSYS_ENG_ORACLE, 10);
    assert_true(agora_sim_digest(a) == agora_sim_digest(b));
    assert_true(agora_sim_digest(a) == agora_sim_digest(s));
    agora_sim_destroy(s);
    agora_sim_destroy(a);
    agora_sim_destroy(b);
}

// ---- A4: invariants after rewiring ----

static void sim_graph_invariants_hold_after_rewiring(void **state) {
    (void)state;
    for (int conserve = 0; conserve < 2; conserve++) {
        agora_sim_params p = busy_params();
        p.conserve_out_degree = conserve;
        p.unf_q = 0.5;
        p.fol_q = 0.5;
        agora_sim *s = make(&p);
        uint32_t *deg0 = agora_malloc((size_t)s->n * sizeof *deg0);
        memcpy(deg0, s->out_n, (size_t)s->n * sizeof *deg0);
        int64_t e0 = s->n_edges;
        char err[AGORA_ERR_LEN];
        for (int t = 0; t < 40; t++) {
            agora_assert_ok(
                agora_sim_step(s, t < 10 ? AGORA_RECSYS_CHRONO : AGORA_RECSYS_ENG_ORACLE));
            agora_err rc = agora_sim_check_invariants(s, err);
            if (rc != AGORA_OK)
                fail_msg("step %d: %s", t, err);
        }
        int64_t changed = 0;
        for (int64_t i = 0; i < s->n; i++) {
            if (conserve)
                assert_int_equal(s->out_n[i], deg0[i]);
            for (uint32_t a = 0; a < s->out_n[i]; a++)
                changed += s->out_made[i][a] >= 0;
        }
        assert_true(changed > 100); /* rewiring happened */
        if (conserve)
            assert_int_equal(s->n_edges, e0);
        agora_free(deg0);
        agora_sim_destroy(s);
    }
}

/* Feed size = min(k, |pool|) and no message is shown twice to a reader. */
static void sim_feeds_are_full_and_never_repeat(void **state) {
    (void)state;
    agora_sim_params p = small_params(200);
    p.feed_k = 5;
    p.pool_max = 30; /* pools above 30 keep their 30 latest emissions */
    agora_sim *s = make(&p);
    run_steps(s, AGORA_RECSYS_CHRONO, 8);
    for (int t = 0; t < 12; t++) {
        agora_assert_ok(agora_sim_step(s, AGORA_RECSYS_RANDOM));
        for (uint32_t i = 0; i < s->n; i++) {
            const uint32_t *tab = &s->seen[(size_t)i * s->seen_cap];
            for (uint32_t a = 0; a < s->seen_cap; a++)
                for (uint32_t b = a + 1; tab[a] && b < s->seen_cap; b++)
                    assert_false(tab[a] == tab[b]);
        }
        assert_true(s->s_exp <= s->s_pool);
        assert_true(s->s_exp <= (int64_t)s->n * 5);
    }
    /* every reader with at least k candidates got exactly k items */
    agora_sim_branch(s);
    agora_assert_ok(agora_sim_step(s, AGORA_RECSYS_CHRONO));
    int64_t capped = 0;
    int64_t cross_total = 0;
    for (int64_t i = 0; i < s->n; i++) {
        assert_int_equal(s->E[i], s->C[i] < 5 ? s->C[i] : 5);
        assert_true(s->C[i] <= 30);
        capped += s->C[i] == 30;
        /* exposures to the other camp: this step's feed, message camp vs reader camp */
        int64_t cross = 0;
        for (uint32_t r = 0; r < s->fd_n[i]; r++) {
            float om = s->m_o[s->fd_seq[(size_t)i * 5 + r] & s->mmask];
            cross += (om >= p.camp_split) != s->fd_camp[i];
        }
        assert_int_equal(s->Ex[i], cross);
        cross_total += cross;
    }
    assert_true(capped > 0); /* the cap was exercised */
    assert_true(cross_total > 0);
    agora_sim_summary sum;
    agora_assert_ok(agora_sim_summarize(s, &sum));
    agora_assert_near(sum.cross_camp_share, (double)cross_total / (double)sum.exposures, 1e-15);
    /* every message that died since T0 is in the cascade histogram */
    run_steps(s, AGORA_RECSYS_CHRONO, 25);
    int64_t in_hist = 0, top = -1;
    for (int x = 0; x < SIM_CASC_BINS; x++) {
        in_hist += s->casc_hist[x];
        top = s->casc_hist[x] ? x : top;
    }
    assert_true(s->casc_n > 0);
    assert_int_equal(in_hist, s->casc_n);
    assert_int_equal(top, s->casc_max);
    agora_sim_destroy(s);
}

/* A burst of posts beyond the message ring's and the emission slots' initial capacity:
 * both grow without losing live messages, so the state equals that of a run whose ring
 * was large from the start (the digest covers messages by seq, not by ring slot). */
static void sim_message_ring_grows_without_losing_messages(void **state) {
    (void)state;
    uint64_t d[2];
    for (int big = 0; big < 2; big++) {
        agora_sim_params p = small_params(300);
        p.activity_mean = big ? 5.0 : 0.01; /* sizes the ring; act is overwritten below */
        agora_sim *s = make(&p);
        if (big == 0)
            assert_true(s->mcap < 300 * 5 * 20);
        for (int64_t i = 0; i < s->n; i++)
            s->act[i] = 5.0;
        run_steps(s, AGORA_RECSYS_ENG_ORACLE, 30);
        char err[AGORA_ERR_LEN];
        agora_assert_ok(agora_sim_check_invariants(s, err));
        d[big] = agora_sim_digest(s);
        agora_sim_destroy(s);
    }
    assert_true(d[0] == d[1]);
}

// ---- metrics ----

/* Louvain on a ring of L cliques of K agents (mutual follows inside, one follow from each
 * clique to the next): it finds the L cliques, with Q equal to that partition's modularity
 * computed here by hand from the follow lists; a graph without edges has no communities. */
static void sim_louvain_finds_a_ring_of_cliques(void **state) {
    (void)state;
    enum { L = 6, K = 8, N = L * K };
    uint32_t src[L * K * K], dst[L * K * K];
    size_t ne = 0;
    for (uint32_t c = 0; c < L; c++) {
        for (uint32_t a = 0; a < K; a++)
            for (uint32_t b = 0; b < K; b++)
                if (a != b) {
                    src[ne] = c * K + a;
                    dst[ne++] = c * K + b;
                }
        src[ne] = c * K;
        dst[ne++] = ((c + 1) % L) * K + 1;
    }
    agora_sim_params p;
    agora_sim_params_default(&p);
    agora_sim *s = tiny(N, &p);
    agora_assert_ok(agora__sim_graph_from_edges(s, src, dst, ne));
    double q = 0;
    int64_t k = 0;
    uint32_t comm[N];
    agora_assert_ok(agora__sim_louvain(s, &q, &k, comm));
    assert_int_equal(k, L);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(comm[i], comm[i / K * K]); /* one community per clique */
    /* Q of the cliques: each follow weighs 1 from both ends, m2 = 2 E */
    double m2 = 2.0 * (double)ne, qh = 0;
    for (uint32_t c = 0; c < L; c++) {
        double in = 0, tot = 0;
        for (uint32_t i = c * K; i < (c + 1) * K; i++) {
            tot += s->out_n[i] + s->in_n[i];
            for (uint32_t a = 0; a < s->out_n[i]; a++)
                in += 2.0 * (s->out_v[i][a] / K == c);
        }
        qh += in / m2 - (tot / m2) * (tot / m2);
    }
    agora_assert_near(q, qh, 1e-12);
    agora_sim_destroy(s);
    /* no edges: nothing to partition */
    s = tiny(10, &p);
    agora_assert_ok(agora__sim_louvain(s, &q, &k, NULL));
    assert_true(isnan(q));
    assert_int_equal(k, 0);
    agora_sim_destroy(s);
}

static void sim_metrics_hand_computed(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.anb_min_exposures = 1;
    agora_sim *s = tiny(100, &p);
    for (int64_t i = 0; i < 100; i++) {
        s->o[i] = i < 50 ? -0.5 : 0.5;
        s->tau[i] = (double)i / 100.0; /* toxic decile: agents 90..99 */
    }
    agora_sim_branch(s);
    for (int64_t i = 0; i < 100; i++) {
        s->rt_recv[i] = i >= 99 ? 100 : 1;
        s->E[i] = 10;
        s->En[i] = 5;
        s->C[i] = 100;
        s->Cn[i] = 25;
    }
    /* cascades: 90 of size 0, 5 of 1, 4 of 3, 1 of 7: the 99th of 100 is a 3 */
    s->casc_hist[0] = 90;
    s->casc_hist[1] = 5;
    s->casc_hist[3] = 4;
    s->casc_hist[7] = 1;
    s->casc_n = 100;
    s->casc_sum = 5 + 12 + 7;
    s->casc_max = 7;
    agora_sim_summary sum;
    agora_assert_ok(agora_sim_summarize(s, &sum));
    agora_assert_near(sum.cascade_p99, 3.0, 0);
    agora_assert_near(sum.cascade_mean, 0.24, 1e-15);
    assert_int_equal(sum.n_toxic, 10);
    /* Top 1% by retweets received is agent 99 (toxic): OR = 1 / 0.1 = 10 */
    agora_assert_near(agora_sim_or(&sum, 0, 2), 10.0, 1e-12);
    agora_assert_near(agora_sim_or(&sum, 0, 6), 1.0, 1e-12);
    /* A_i = 0.5 / 0.25 - 1 = +100% for everyone */
    agora_assert_near(sum.anb_pool.median, 1.0, 1e-12);
    assert_int_equal(sum.anb_pool.n, 100);
    agora_assert_near(sum.ne_feed, 0.5, 1e-12);
    agora_assert_near(sum.ne_pool, 0.25, 1e-12);
    /* Gini of 99 ones and one 100: sum (2r - n - 1) x_r / (n sum x) */
    double acc = 0, tot = 0;
    for (int r = 1; r <= 100; r++) {
        double x = r == 100 ? 100 : 1;
        acc += (2.0 * r - 101.0) * x;
        tot += x;
    }
    agora_assert_near(sum.gini[0], acc / (100.0 * tot), 1e-12);
    agora_assert_near(sum.top1[0], 100.0 / 199.0, 1e-12);
    agora_assert_near(sum.o_var, 0.25, 1e-12);
    agora_sim_destroy(s);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_recsys_ids_appear_only_in_ops_table_and_parser),
        cmocka_unit_test(sim_oracle_with_chrono_key_reproduces_chrono),
        cmocka_unit_test(sim_fast_scorers_and_topk_match_ref),
        cmocka_unit_test(sim_topk_breaks_ties_by_higher_seq),
        cmocka_unit_test(sim_rankers_hand_computed),
        cmocka_unit_test(sim_flat_kernel_oracle_feed_is_newest_first),
        cmocka_unit_test(sim_opinion_models_hand_computed),
        cmocka_unit_test(sim_kernels_have_their_shapes),
        cmocka_unit_test(sim_static_amplification_with_bias),
        cmocka_unit_test(sim_static_amplification_vanishes_without_bias),
        cmocka_unit_test(sim_random_ranker_has_no_curation_bias),
        cmocka_unit_test(sim_same_digest_for_any_thread_count),
        cmocka_unit_test(sim_branches_share_state_and_random_numbers),
        cmocka_unit_test(sim_graph_invariants_hold_after_rewiring),
        cmocka_unit_test(sim_feeds_are_full_and_never_repeat),
        cmocka_unit_test(sim_metrics_hand_computed),
        cmocka_unit_test(sim_message_ring_grows_without_losing_messages),
        cmocka_unit_test(sim_louvain_finds_a_ring_of_cliques),
    };
    return agora_test_main(tests, argc, argv);
}
