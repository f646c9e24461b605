/* cmd_sim.c: `agora sim run`, `agora sim compare` and `agora sim sweep` (sim_sweep.c; the
 * comparison both share is in sim_cmp.c).
 *
 * run:     one condition (burn-in under sim.burnin_recsys, then sim.recsys), with a progress
 *          bar; writes the run directory (config copy, metrics.jsonl/.csv every
 *          sim.metrics_every steps, summary.json, agents.csv, SVG plots, and a checkpoint
 *          every sim.checkpoint_every steps and at the end, which --resume continues from:
 *          the resumed run ends with the same digest as one that never stopped).
 * compare: R replicates; each burns in once, then branches into every policy from the same
 *          state with the same random streams; prints the paper-style table (mean and 95%
 *          bootstrap CI over replicates) and writes compare.csv.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/json.h"
#include "agora/log.h"
#include "agora/metrics.h"
#include "agora/progress.h"
#include "agora/rng.h"
#include "agora/rundir.h"
#include "agora/safetensors.h"
#include "agora/sim.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "cli.h"
#include "sim_cmp.h"

#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#endif

static void sim_help(FILE *out);

#define SIM_CKPT "sim.ckpt.safetensors"

/* Keeps the lines of buf whose record step (the integer after `prefix` at the start of the
 * line) is at most t_max; other lines (a header, anything unparsable) stay. Returns the new
 * length; buf is rewritten in place. */
static size_t keep_until(char *buf, size_t len, const char *prefix, int64_t t_max) {
    size_t w = 0, plen = strlen(prefix);
    for (size_t r = 0; r < len;) {
        size_t e = r;
        while (e < len && buf[e] != '\n')
            e++;
        size_t next = e < len ? e + 1 : e;
        bool keep = true;
        if (next - r > plen && memcmp(buf + r, prefix, plen) == 0) {
            char *end = NULL;
            long long t = strtoll(buf + r + plen, &end, 10);
            if (end != buf + r + plen && (*end == ',' || *end == '}'))
                keep = t <= t_max;
        }
        if (keep) {
            memmove(buf + w, buf + r, next - r);
            w += next - r;
        }
        r = next;
    }
    return w;
}

/* A resumed run drops the metrics records written after its checkpoint (it writes them
 * again, the same bits), so no step appears twice. Each file is rewritten atomically. */
static agora_err trim_metrics(const char *dir, int64_t t_max, char err[AGORA_ERR_LEN]) {
    static const char *const names[2] = {"metrics.jsonl", "metrics.csv"};
    static const char *const prefixes[2] = {"{\"t\":", ""};
    for (int i = 0; i < 2; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *buf = NULL;
        size_t len = 0;
        agora_err rc = agora_read_file(path, (size_t)1 << 31, &buf, &len, err);
        if (rc == AGORA_ENOENT)
            continue;
        if (rc != AGORA_OK)
            return rc;
        size_t n = keep_until(buf, len, prefixes[i], t_max);
        rc = n == len ? AGORA_OK : agora_write_file_atomic(path, buf, n, err);
        agora_free(buf);
        if (rc != AGORA_OK)
            return rc;
    }
    return AGORA_OK;
}

/* Saves the state and the step records so far to dir/SIM_CKPT, atomically. */
static agora_err save_ckpt(const agora_sim *s, const char *dir, const agora_sim_stepstats *recs,
                           size_t n_rec, char err[AGORA_ERR_LEN]) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, SIM_CKPT);
    return agora_sim_save(s, path, recs, n_rec * sizeof *recs, err);
}

static void write_step_record(agora_metrics *m, const agora_sim_stepstats *r, const char *policy) {
    agora_metrics_begin(m);
    agora_metrics_i64(m, "t", r->t);
    agora_metrics_str(m, "policy", policy);
    agora_metrics_i64(m, "exposures", r->exposures);
    agora_metrics_i64(m, "pool_items", r->pool_items);
    agora_metrics_i64(m, "retweets", r->retweets);
    agora_metrics_i64(m, "edges", r->edges);
    agora_metrics_f64(m, "ne_feed", r->ne_feed);
    agora_metrics_f64(m, "ne_pool", r->ne_pool);
    agora_metrics_f64(m, "rpe", r->rpe);
    agora_metrics_f64(m, "o_mean", r->o_mean);
    agora_metrics_f64(m, "o_var", r->o_var);
    agora_metrics_f64(m, "o_mean_abs", r->o_mean_abs);
    agora_metrics_f64(m, "extremist", r->extremist);
    agora_metrics_f64(m, "bc", r->bc);
    agora_metrics_f64(m, "r_o", r->r_o);
    agora_metrics_f64(m, "gini_followers", r->gini_followers);
}

static void jw_dist(agora_jw *w, const char *key, const agora_sim_dist *d) {
    agora_jw_key(w, key);
    agora_jw_obj_begin(w);
    agora_jw_key(w, "mean");
    agora_jw_f64(w, d->mean);
    agora_jw_key(w, "median");
    agora_jw_f64(w, d->median);
    agora_jw_key(w, "p90");
    agora_jw_f64(w, d->p90);
    agora_jw_key(w, "p99");
    agora_jw_f64(w, d->p99);
    agora_jw_key(w, "max");
    agora_jw_f64(w, d->max);
    agora_jw_key(w, "share_ge_100pct");
    agora_jw_f64(w, d->share_ge1);
    agora_jw_key(w, "share_ge_300pct");
    agora_jw_f64(w, d->share_ge3);
    agora_jw_key(w, "n");
    agora_jw_i64(w, d->n);
    agora_jw_key(w, "dropped");
    agora_jw_i64(w, d->dropped);
    agora_jw_obj_end(w);
}

static agora_err write_summary_json(const char *dir, const char *policy, const agora_sim_summary *s,
                                    uint64_t digest, const double *lw) {
    agora_jw w;
    agora_jw_init(&w);
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "policy");
    agora_jw_str(&w, policy);
    agora_jw_key(&w, "digest");
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
    agora_jw_str(&w, hex);
    agora_jw_key(&w, "t0");
    agora_jw_i64(&w, s->t0);
    agora_jw_key(&w, "t");
    agora_jw_i64(&w, s->t);
    agora_jw_key(&w, "ne_feed");
    agora_jw_f64(&w, s->ne_feed);
    agora_jw_key(&w, "ne_pool");
    agora_jw_f64(&w, s->ne_pool);
    agora_jw_key(&w, "rpe");
    agora_jw_f64(&w, s->rpe);
    jw_dist(&w, "anb_pool", &s->anb_pool);
    agora_jw_key(&w, "o_var");
    agora_jw_f64(&w, s->o_var);
    agora_jw_key(&w, "bc");
    agora_jw_f64(&w, s->bc);
    agora_jw_key(&w, "extremist");
    agora_jw_f64(&w, s->extremist);
    agora_jw_key(&w, "esteban_ray");
    agora_jw_f64(&w, s->esteban_ray);
    agora_jw_key(&w, "r_o");
    agora_jw_f64(&w, s->r_o);
    agora_jw_key(&w, "modularity");
    agora_jw_f64(&w, s->modularity);
    agora_jw_key(&w, "ei_index");
    agora_jw_f64(&w, s->ei_index);
    agora_jw_key(&w, "cross_camp_exposure_share");
    agora_jw_f64(&w, s->cross_camp_share);
    agora_jw_key(&w, "louvain_modularity");
    agora_jw_f64(&w, s->louvain_q);
    agora_jw_key(&w, "louvain_communities");
    agora_jw_i64(&w, s->louvain_communities);
    for (int pw = 0; pw < AGORA_SIM_NPOWER; pw++) {
        char key[64];
        snprintf(key, sizeof key, "power_%s", agora_sim_power_names[pw]);
        agora_jw_key(&w, key);
        agora_jw_obj_begin(&w);
        agora_jw_key(&w, "gini");
        agora_jw_f64(&w, s->gini[pw]);
        agora_jw_key(&w, "top1_share");
        agora_jw_f64(&w, s->top1[pw]);
        for (int q = 0; q < AGORA_SIM_NQ; q++) {
            snprintf(key, sizeof key, "OR(%g)", agora_sim_q[q]);
            agora_jw_key(&w, key);
            agora_jw_f64(&w, agora_sim_or(s, pw, q));
        }
        agora_jw_obj_end(&w);
    }
    agora_jw_key(&w, "follower_gain_toxic");
    agora_jw_f64(&w, s->follower_gain_toxic);
    agora_jw_key(&w, "follower_gain_other");
    agora_jw_f64(&w, s->follower_gain_other);
    agora_jw_key(&w, "cascade_mean");
    agora_jw_f64(&w, s->cascade_mean);
    agora_jw_key(&w, "cascade_p99");
    agora_jw_f64(&w, s->cascade_p99);
    agora_jw_key(&w, "cascade_max");
    agora_jw_f64(&w, s->cascade_max);
    agora_jw_key(&w, "learner_weights"); /* 1, d, d^2, n_m, log1p n_rt, log1p fol, log1p age, r */
    agora_jw_arr_begin(&w);
    for (int f = 0; f < AGORA_SIM_NFEAT; f++)
        agora_jw_f64(&w, lw[f]);
    agora_jw_arr_end(&w);
    agora_jw_obj_end(&w);
    agora_err rc = agora_jw_status(&w);
    char path[4200], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if (rc == AGORA_OK)
        rc = agora_write_file_atomic(path, w.buf, w.len, err);
    agora_jw_fini(&w);
    return rc;
}

// ---- sim run ----

static int sim_run(const char *cfg, const sim_opts *o, int argc, char **argv) {
    const char *cmd = "sim";
    agora_sim_params p;
    int ec = sim_load_config(cmd, cfg, o, NULL, 0, &p);
    if (ec)
        return ec;
    char dir[4096], err[AGORA_ERR_LEN];
    agora_cfg_table t = agora_sim_cfg_table(&p);
    agora_err rc = agora_rundir_create(o->run_dir, "sim", dir, sizeof dir, err);
    if (rc != AGORA_OK)
        return agora_cli_fail(cmd, "%s", err);
    agora_sim *s = NULL;
    agora_metrics *m = NULL;
    agora_sim_stepstats *recs = NULL;
    size_t n_rec = 0;
    size_t max_rec = (size_t)(p.n_steps / p.metrics_every) + 2;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/%s", dir, SIM_CKPT);
    if (o->resume && access(ckpt, F_OK) == 0) {
        void *extra = NULL;
        size_t extra_len = 0;
        rc = agora_sim_load(ckpt, &p, &s, &extra, &extra_len, err);
        if (rc == AGORA_OK && extra_len % sizeof *recs != 0) {
            snprintf(err, sizeof err, "%.300s: step records of %zu bytes, not a multiple of %zu",
                     ckpt, extra_len, sizeof *recs);
            rc = AGORA_EPARSE;
        }
        if (rc != AGORA_OK) {
            agora_free(extra);
            ec = agora_cli_fail(cmd, "cannot resume: %s", err);
            goto out;
        }
        if (rc == AGORA_OK && agora_sim_time(s) > p.n_steps) {
            snprintf(err, sizeof err, "%.300s is at step %lld, past sim.n_steps = %lld", ckpt,
                     (long long)agora_sim_time(s), (long long)p.n_steps);
            rc = AGORA_EINVAL;
        }
        if (rc != AGORA_OK) {
            agora_free(extra);
            ec = agora_cli_fail(cmd, "cannot resume: %s", err);
            goto out;
        }
        n_rec = extra_len / sizeof *recs;
        max_rec = n_rec > max_rec ? n_rec : max_rec;
        recs = agora_calloc(max_rec, sizeof *recs);
        if (recs != NULL && n_rec > 0)
            memcpy(recs, extra, n_rec * sizeof *recs);
        agora_free(extra);
        rc = trim_metrics(dir, agora_sim_time(s), err);
        if (rc != AGORA_OK) {
            ec = agora_cli_fail(cmd, "cannot resume: %s", err);
            goto out;
        }
        AGORA_LOG_INFO(AGORA_SUB_SIM, "sim run: resumed from %s at step %lld", ckpt,
                       (long long)agora_sim_time(s));
    } else {
        if (o->resume)
            AGORA_LOG_INFO(AGORA_SUB_SIM, "sim run: no checkpoint in %s, starting fresh", dir);
        rc = agora_sim_create(&p, &s, err);
        if (rc != AGORA_OK) {
            ec = agora_cli_fail(cmd, "%s", err);
            goto out;
        }
        recs = agora_calloc(max_rec, sizeof *recs);
    }
    /* the config goes in only now: a refused resume leaves the run directory as it was */
    rc = agora_rundir_write_config(dir, cfg, &t, 1, err);
    if (rc == AGORA_OK)
        rc = agora_rundir_write_meta(dir, (uint64_t)p.seed, sim_threads_now(), argc, argv, err);
    if (rc != AGORA_OK) {
        ec = agora_cli_fail(cmd, "%s", err);
        goto out;
    }
    rc = agora_metrics_open(dir, "metrics", &m);
    if (rc != AGORA_OK || recs == NULL) {
        ec = agora_cli_fail(cmd, "cannot open metrics in %s", dir);
        goto out;
    }
    AGORA_LOG_INFO(AGORA_SUB_SIM, "sim run: N=%lld, %lld edges, T0=%lld, T=%lld, %s -> %s, dir %s",
                   (long long)agora_sim_n_agents(s), (long long)agora_sim_n_edges(s),
                   (long long)p.burnin_steps, (long long)p.n_steps,
                   agora_sim_recsys_name(p.burnin_recsys), agora_sim_recsys_name(p.recsys), dir);
    agora_progress pr;
    agora_progress_init(&pr, "sim", (uint64_t)p.n_steps, stderr, sim_progress_mode(o->progress));
    int64_t t0ns = agora_now_ns(), first = agora_sim_time(s);
    for (int64_t step = first; step < p.n_steps; step++) {
        if (step == p.burnin_steps)
            agora_sim_branch(s);
        int rs = step < p.burnin_steps ? p.burnin_recsys : p.recsys;
        rc = agora_sim_step(s, rs);
        if (rc != AGORA_OK) {
            ec = agora_cli_fail(cmd, "step %lld: %s", (long long)step, agora_err_str(rc));
            goto out;
        }
        if ((step + 1) % p.metrics_every == 0 || step + 1 == p.n_steps) {
            agora_sim_stepstats r;
            agora_sim_stepstats_compute(s, &r);
            write_step_record(m, &r, agora_sim_recsys_name(rs));
            if (agora_metrics_end(m) != AGORA_OK) {
                ec = agora_cli_fail(cmd, "cannot write metrics");
                goto out;
            }
            if (n_rec < max_rec)
                recs[n_rec++] = r;
            agora_progress_update(&pr, (uint64_t)step + 1, "NE feed %.3f pool %.3f var %.3f",
                                  r.ne_feed, r.ne_pool, r.o_var);
        }
        /* every checkpoint_every steps and at the end, so a finished run can be extended */
        if (p.checkpoint_every > 0 &&
            ((step + 1) % p.checkpoint_every == 0 || step + 1 == p.n_steps)) {
            rc = save_ckpt(s, dir, recs, n_rec, err);
            if (rc != AGORA_OK) {
                ec = agora_cli_fail(cmd, "step %lld: %s", (long long)step, err);
                goto out;
            }
        }
    }
    if (p.burnin_steps >= p.n_steps)
        agora_sim_branch(s);
    double secs = (double)(agora_now_ns() - t0ns) * 1e-9;
    agora_progress_finish(&pr, "%lld steps in %.1f s", (long long)(p.n_steps - first), secs);
    agora_sim_summary sum;
    rc = agora_sim_summarize(s, &sum);
    uint64_t dg = agora_sim_digest(s);
    double lw[AGORA_SIM_NFEAT];
    agora_sim_learner_weights(s, lw);
    char path[4200];
    snprintf(path, sizeof path, "%s/agents.csv", dir);
    if (rc == AGORA_OK)
        rc = agora_sim_write_agents_csv(s, path);
    if (rc == AGORA_OK)
        rc = write_summary_json(dir, agora_sim_recsys_name(p.recsys), &sum, dg, lw);
    if (rc == AGORA_OK)
        rc = agora_sim_write_svgs(s, dir, recs, n_rec, &sum);
    if (rc == AGORA_OK) {
        snprintf(path, sizeof path, "%s/ids.csv", dir);
        rc = agora_sim_write_ids_csv(s, path);
        if (rc == AGORA_ENOTFOUND) /* generated network: nothing to map */
            rc = AGORA_OK;
    }
    if (rc != AGORA_OK) {
        ec = agora_cli_fail(cmd, "writing outputs to %s: %s", dir, agora_err_str(rc));
        goto out;
    }
    printf("run dir      %s\n", dir);
    printf("policy       %s (burn-in %s, T0 %lld, T %lld)\n", agora_sim_recsys_name(p.recsys),
           agora_sim_recsys_name(p.burnin_recsys), (long long)p.burnin_steps, (long long)p.n_steps);
    printf("NE feed/pool %.4f / %.4f\n", sum.ne_feed, sum.ne_pool);
    printf("A_i (pool)   median %+.1f%%  p99 %+.1f%%  max %+.1f%%  (n=%lld)\n",
           100 * sum.anb_pool.median, 100 * sum.anb_pool.p99, 100 * sum.anb_pool.max,
           (long long)sum.anb_pool.n);
    printf("opinions     var %.4f  BC %.3f  extremist %.3f  r_o %.3f\n", sum.o_var, sum.bc,
           sum.extremist, sum.r_o);
    printf("OR(1%%)       retweets %.2f  impressions %.2f  followers %.2f\n",
           agora_sim_or(&sum, 0, 2), agora_sim_or(&sum, 1, 2), agora_sim_or(&sum, 2, 2));
    printf("RPE          %.4f\n", sum.rpe);
    printf("other camp   %.4f of exposures\n", sum.cross_camp_share);
    if (p.louvain)
        printf("Louvain      Q %.4f, %lld communities\n", sum.louvain_q,
               (long long)sum.louvain_communities);
    printf("cascades     mean %.2f  p99 %.0f  max %.0f retweets\n", sum.cascade_mean,
           sum.cascade_p99, sum.cascade_max);
    if (p.learner)
        printf(
            "learner w    1 %+.3f  d %+.3f  d2 %+.3f  neg %+.3f  rt %+.3f  fol %+.3f  age %+.3f  "
            "r %+.3f\n",
            lw[0], lw[1], lw[2], lw[3], lw[4], lw[5], lw[6], lw[7]);
    printf("digest       %016llx\n", (unsigned long long)dg);
    ec = 0;
out:
    agora_metrics_close(m);
    agora_free(recs);
    agora_sim_destroy(s);
    return ec;
}

static int sim_compare(const char *cfg, const sim_opts *o, int argc, char **argv) {
    const char *cmd = "sim";
    agora_sim_params p;
    int ec = sim_load_config(cmd, cfg, o, NULL, 0, &p);
    if (ec)
        return ec;
    enum { MAXP = 16 };
    int pol[MAXP], np = 0;
    ec = sim_parse_policies(o->policies ? o->policies : "chrono,engagement", pol, MAXP, &np);
    if (ec)
        return ec;
    int64_t R = o->replicates > 0 ? o->replicates : p.replicates;
    if (R > 4096)
        return agora_cli_usage(cmd, "--replicates at most 4096");
    char dir[4096], err[AGORA_ERR_LEN];
    agora_cfg_table t = agora_sim_cfg_table(&p);
    agora_err rc = agora_rundir_create(o->run_dir, "simcmp", dir, sizeof dir, err);
    if (rc != AGORA_OK)
        return agora_cli_fail(cmd, "%s", err);
    double *rows = agora_calloc((size_t)(R * np * C_N), sizeof *rows);
    agora_sim_summary *pooled = agora_calloc((size_t)np, sizeof *pooled);
    if (rows == NULL || pooled == NULL) {
        agora_free(rows);
        agora_free(pooled);
        return agora_cli_fail(cmd, "out of memory");
    }
    int64_t r_first = 0;
    if (!o->resume)
        sim_cmp_clear_progress(dir); /* a fresh compare: nothing of an earlier one counts */
    if (o->resume) {
        rc = sim_cmp_load_partial(dir, &p, pol, np, R, rows, pooled, &r_first, err);
        if (rc != AGORA_OK) {
            agora_free(rows);
            agora_free(pooled);
            return agora_cli_fail(cmd, "cannot resume: %s", err);
        }
        AGORA_LOG_INFO(AGORA_SUB_SIM, "sim compare: %lld of %lld replicates already done in %s",
                       (long long)r_first, (long long)R, dir);
    }
    /* the config goes in only now: a refused resume leaves the run directory as it was */
    rc = agora_rundir_write_config(dir, cfg, &t, 1, err);
    if (rc == AGORA_OK)
        rc = agora_rundir_write_meta(dir, (uint64_t)p.seed, sim_threads_now(), argc, argv, err);
    if (rc != AGORA_OK) {
        agora_free(rows);
        agora_free(pooled);
        return agora_cli_fail(cmd, "%s", err);
    }
    int64_t T0 = p.burnin_steps, T = p.n_steps;
    uint64_t units = sim_cmp_units(&p, np);
    agora_progress pr;
    agora_progress_init(&pr, "compare", (uint64_t)R * units, stderr,
                        sim_progress_mode(o->progress));
    uint64_t done = (uint64_t)r_first * units;
    int64_t t_start = agora_now_ns();
    for (int64_t r = r_first; r < R; r++) {
        rc = sim_cmp_replicate(&p, r, pol, np, &rows[r * np * C_N], pooled, &pr, &done, "", dir,
                               err);
        if (rc == AGORA_OK)
            rc = sim_cmp_save_partial(dir, &p, pol, np, r + 1, rows, pooled, err);
        if (rc == AGORA_OK)
            sim_cmp_clear_progress(dir); /* recorded: its in-replicate checkpoints go */
        if (rc != AGORA_OK) {
            ec = agora_cli_fail(cmd, "%s", err);
            goto out;
        }
    }
    agora_progress_finish(&pr, "%lld replicates x %d policies in %.1f s", (long long)R, np,
                          (double)(agora_now_ns() - t_start) * 1e-9);
    /* compare.csv: one row per (replicate, policy) */
    {
        char path[4200];
        snprintf(path, sizeof path, "%s/compare.csv", dir);
        size_t cap = (size_t)(R * np + 2) * C_N * 24 + 4096, len = 0;
        char *csv = agora_malloc(cap);
        if (csv == NULL) {
            ec = agora_cli_fail(cmd, "out of memory");
            goto out;
        }
        len += (size_t)snprintf(csv + len, cap - len, "replicate,policy");
        for (int c = 0; c < C_N; c++)
            len += (size_t)snprintf(csv + len, cap - len, ",\"%s\"", sim_cmp_names[c]);
        len += (size_t)snprintf(csv + len, cap - len, "\n");
        for (int64_t r = 0; r < R; r++)
            for (int k = 0; k < np; k++) {
                len += (size_t)snprintf(csv + len, cap - len, "%lld,%s", (long long)r,
                                        agora_sim_recsys_name(pol[k]));
                for (int c = 0; c < C_N; c++)
                    len += (size_t)snprintf(csv + len, cap - len, ",%.6g",
                                            rows[(r * np + k) * C_N + c]);
                len += (size_t)snprintf(csv + len, cap - len, "\n");
            }
        rc = agora_write_file_atomic(path, csv, len, err);
        agora_free(csv);
        if (rc != AGORA_OK) {
            ec = agora_cli_fail(cmd, "%s", err);
            goto out;
        }
    }
    printf("agora sim compare: N=%lld, T0=%lld, T=%lld, beta_neg=%g, %lld replicate%s "
           "(seeds %lld..%lld)\n",
           (long long)p.n_agents, (long long)T0, (long long)T, p.beta_neg, (long long)R,
           R == 1 ? "" : "s", (long long)p.seed, (long long)(p.seed + R - 1));
    printf("mean [95%% bootstrap CI over replicates]; run dir %s\n\n", dir);
    printf("%-28s", "metric");
    for (int k = 0; k < np; k++)
        printf(" | %-26s", agora_sim_recsys_name(pol[k]));
    printf("\n");
    double *col = agora_malloc((size_t)R * sizeof *col);
    if (col == NULL) {
        ec = agora_cli_fail(cmd, "out of memory");
        goto out;
    }
    for (int c = 0; c < C_N; c++) {
        printf("%-28s", sim_cmp_names[c]);
        for (int k = 0; k < np; k++) {
            for (int64_t r = 0; r < R; r++)
                col[r] = rows[(r * np + k) * C_N + c];
            double m, lo, hi;
            sim_mean_ci(col, (int)R, &m, &lo, &hi);
            char cell[64];
            double f = sim_cmp_pct[c] ? 100.0 : 1.0;
            if (!isfinite(m))
                snprintf(cell, sizeof cell, "-");
            else if (R > 1)
                snprintf(cell, sizeof cell,
                         sim_cmp_pct[c] ? "%+.0f%% [%+.0f, %+.0f]" : "%.3f [%.3f, %.3f]", f * m,
                         f * lo, f * hi);
            else
                snprintf(cell, sizeof cell, sim_cmp_pct[c] ? "%+.0f%%" : "%.3f", f * m);
            printf(" | %-26s", cell);
        }
        printf("\n");
    }
    agora_free(col);
    printf("\nOR(q), counts pooled over replicates (power = retweets received / impressions / "
           "followers):\n");
    for (int k = 0; k < np; k++) {
        printf("  %-16s", agora_sim_recsys_name(pol[k]));
        for (int q = 0; q < AGORA_SIM_NQ; q++)
            printf(" q=%g%%: %.2f/%.2f/%.2f", agora_sim_q[q], agora_sim_or(&pooled[k], 0, q),
                   agora_sim_or(&pooled[k], 1, q), agora_sim_or(&pooled[k], 2, q));
        printf("\n");
    }
    ec = 0;
out:
    agora_free(rows);
    agora_free(pooled);
    return ec;
}

static int sim_main(int argc, char **argv);

const agora_cli_cmd agora_cmd_sim = {
    .name = "sim",
    .summary = "social-network simulator: run one condition, compare recommender policies, or "
               "sweep a grid",
    .run = sim_main,
    .help = sim_help,
    .order = 60,
};

static sim_opts g_opts;
static const agora_cli_flag k_flags[] = {
    {"--run-dir", AGORA_CLI_STR, &g_opts.run_dir, "DIR", "run directory (default runs/sim-...)"},
    {"--set", AGORA_CLI_LIST, &g_opts.sets, "KEY=VALUE", "override a config key (repeatable)"},
    {"--policies", AGORA_CLI_STR, &g_opts.policies, "LIST",
     "compare, sweep: comma-separated rankers (default chrono,engagement)"},
    {"--replicates", AGORA_CLI_INT, &g_opts.replicates, "R",
     "compare, sweep: replicates (sim.replicates)"},
    {"--vary", AGORA_CLI_LIST, &g_opts.varies, "KEY=V1,V2,...",
     "sweep: a sim.* key and its values (repeatable: the grid is the product)"},
    {"--metrics", AGORA_CLI_STR, &g_opts.metrics, "LIST",
     "sweep: metrics to print and plot, by their sweep_summary.csv ids (default: anb_pop, "
     "anb_p99, ne_feed, or1_retweets, opinion_var, rpe)"},
    {"--resume", AGORA_CLI_SWITCH, &g_opts.resume, NULL,
     "continue in --run-dir: run from its checkpoint, compare or sweep after its finished "
     "replicates"},
    AGORA_CLI_PROGRESS_FLAG(g_opts.progress),
};

static void sim_help(FILE *out) {
    fprintf(out,
            "usage: agora sim run EXPERIMENT.ini [flags]\n"
            "       agora sim compare EXPERIMENT.ini --policies chrono,engagement,... "
            "[flags]\n"
            "       agora sim sweep EXPERIMENT.ini --vary sim.KEY=V1,V2,... [--vary ...] "
            "[flags]\n\n"
            "run: one condition (burn-in under sim.burnin_recsys, then sim.recsys); writes\n"
            "  config.ini, config.effective.ini, meta.json, metrics.jsonl/.csv, summary.json,\n"
            "  agents.csv and SVG plots (opinions, anb, orq, lorenz) to the run directory,\n"
            "  and sim.ckpt.safetensors every sim.checkpoint_every steps and at the end:\n"
            "  --resume continues from it (same settings; sim.n_steps may grow).\n"
            "compare: R replicates; each burns in once and branches into every policy\n"
            "  (common random numbers); prints the paper-style table, writes compare.csv.\n"
            "  chrono is always run first: it is the baseline of ANB vs chrono. Finished\n"
            "  replicates are saved as they end (compare.partial.safetensors); --resume skips\n"
            "  them (same settings and policies; --replicates may grow).\n"
            "sweep: compare at every point of a grid (each --vary is one dimension; the\n"
            "  same seeds in every cell); writes sweep.csv, sweep_summary.csv (mean and CI\n"
            "  per cell, policy and metric) and sweep_<metric>.svg against the first key;\n"
            "  each cell saves its replicates under cell-NNN/, and --resume goes on.\n\n"
            "Rankers: chrono random eng_oracle (engagement) eng_learned popularity\n"
            "         eng_neg_neutral bridging. Keys: agora help config (sim.*).\n\nflags:\n");
    agora_cli_print_flags(out, k_flags, sizeof k_flags / sizeof k_flags[0]);
}

static int sim_main(int argc, char **argv) {
    memset(&g_opts, 0, sizeof g_opts);
    const char *pos[2];
    size_t npos = 0;
    int rc = agora_cli_parse(&agora_cmd_sim, k_flags, sizeof k_flags / sizeof k_flags[0], argc,
                             argv, pos, 2, &npos);
    if (rc < 0)
        return AGORA_EXIT_OK;
    if (rc != 0)
        return rc;
    agora_progress_mode pm;
    if (agora_cli_progress("sim", g_opts.progress, &pm) != 0)
        return AGORA_EXIT_USAGE;
    if (npos < 1)
        return agora_cli_usage("sim", "missing action (run, compare or sweep)");
    if (npos < 2)
        return agora_cli_usage("sim", "missing EXPERIMENT.ini");
    if ((g_opts.varies.n > 0 || g_opts.metrics != NULL) && strcmp(pos[0], "sweep") != 0)
        return agora_cli_usage("sim", "--vary and --metrics are for sweep");
    if (strcmp(pos[0], "run") == 0) {
        if (g_opts.policies != NULL || g_opts.replicates != 0)
            return agora_cli_usage("sim", "--policies and --replicates are for compare and sweep");
        if (g_opts.resume && g_opts.run_dir == NULL)
            return agora_cli_usage("sim", "--resume needs --run-dir");
        return sim_run(pos[1], &g_opts, argc, argv);
    }
    if (g_opts.resume && g_opts.run_dir == NULL)
        return agora_cli_usage("sim", "--resume needs --run-dir");
    if (strcmp(pos[0], "compare") == 0)
        return sim_compare(pos[1], &g_opts, argc, argv);
    if (strcmp(pos[0], "sweep") == 0)
        return sim_sweep(pos[1], &g_opts, argc, argv);
    return agora_cli_usage("sim", "unknown action '%s' (run, compare or sweep)", pos[0]);
}
