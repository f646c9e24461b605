/* sim_cmp.c: the policy comparison that `agora sim compare` and `agora sim sweep` run
 * (sim_cmp.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/rng.h"
#include "agora/safetensors.h"
#include "sim_cmp.h"

#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#endif

int sim_threads_now(void) {
#ifdef AGORA_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

agora_progress_mode sim_progress_mode(const char *s) {
    agora_progress_mode m = AGORA_PROGRESS_AUTO;
    if (s != NULL && agora_progress_mode_parse(s, &m) != AGORA_OK)
        m = AGORA_PROGRESS_AUTO; /* sim_main has rejected it already */
    return m;
}

int sim_load_config(const char *cmd, const char *path, const sim_opts *o, const char *const *extra,
                    size_t n_extra, agora_sim_params *p) {
    char err[AGORA_ERR_LEN];
    const char *sets[2 * AGORA_CLI_LIST_MAX];
    size_t n = o->sets.n;
    if (n_extra > AGORA_CLI_LIST_MAX)
        return agora_cli_usage(cmd, "too many settings");
    memcpy(sets, o->sets.v, n * sizeof *sets);
    for (size_t i = 0; i < n_extra; i++)
        sets[n++] = extra[i];
    agora_cfg_table t = agora_sim_cfg_table(p);
    agora_err rc = agora_cfg_load_all(&t, 1, path, sets, n, err);
    if (rc == AGORA_OK)
        return 0;
    for (size_t i = 0; i < n_extra; i++) { /* the config layer names a sweep's value "--set" */
        size_t l = strlen(extra[i]);
        if (strncmp(err, "--set ", 6) == 0 && strncmp(err + 6, extra[i], l) == 0 &&
            err[6 + l] == ':') {
            char msg[AGORA_ERR_LEN + 8];
            snprintf(msg, sizeof msg, "--vary %s", err + 6);
            return agora_cli_cfg_exit(cmd, rc, msg);
        }
    }
    return agora_cli_cfg_exit(cmd, rc, err);
}

const char *const sim_cmp_names[C_N] = {
    "NE feed (neg. share shown)", "NE pool",
    "ANB vs chrono: population",  "ANB vs chrono: median",
    "ANB vs chrono: p90",         "ANB vs chrono: p99",
    "ANB vs chrono: max",         "share ANB >= +100%",
    "A_i vs pool: median",        "A_i vs pool: p99",
    "A_i vs pool: max",           "OR(1%) retweets received",
    "OR(1%) impressions",         "OR(1%) followers",
    "opinion variance",           "bimodality coeff.",
    "extremist share |o|>0.8",    "Esteban-Ray P(1.6)",
    "opinion assortativity r_o",  "camp modularity Q",
    "Louvain modularity",         "exposures to the other camp",
    "opinion shift vs chrono",    "Gini followers",
    "top-1% follower share",      "follower gain: toxic",
    "follower gain: other",       "retweets per exposure",
};
const char *const sim_cmp_ids[C_N] = {
    "ne_feed",
    "ne_pool",
    "anb_pop",
    "anb_median",
    "anb_p90",
    "anb_p99",
    "anb_max",
    "anb_ge1",
    "api_median",
    "api_p99",
    "api_max",
    "or1_retweets",
    "or1_impressions",
    "or1_followers",
    "opinion_var",
    "bimodality",
    "extremist_share",
    "esteban_ray",
    "r_o",
    "camp_modularity",
    "louvain_modularity",
    "cross_camp_share",
    "opinion_shift",
    "gini_followers",
    "top1_follower_share",
    "follower_gain_toxic",
    "follower_gain_other",
    "rpe",
};
const bool sim_cmp_pct[C_N] = {[C_ANB_POP] = 1, [C_ANB_MED] = 1, [C_ANB_P90] = 1, [C_ANB_P99] = 1,
                               [C_ANB_MAX] = 1, [C_API_MED] = 1, [C_API_P99] = 1, [C_API_MAX] = 1};

static void fill_row(double *row, const agora_sim_summary *s, const agora_sim_dist *anb,
                     double anb_pop) {
    row[C_NE_FEED] = s->ne_feed;
    row[C_NE_POOL] = s->ne_pool;
    row[C_ANB_POP] = anb_pop;
    row[C_ANB_MED] = anb->median;
    row[C_ANB_P90] = anb->p90;
    row[C_ANB_P99] = anb->p99;
    row[C_ANB_MAX] = anb->max;
    row[C_ANB_GE1] = anb->share_ge1;
    row[C_API_MED] = s->anb_pool.median;
    row[C_API_P99] = s->anb_pool.p99;
    row[C_API_MAX] = s->anb_pool.max;
    row[C_OR1_RT] = agora_sim_or(s, 0, 2);
    row[C_OR1_IMP] = agora_sim_or(s, 1, 2);
    row[C_OR1_FOL] = agora_sim_or(s, 2, 2);
    row[C_VAR] = s->o_var;
    row[C_BC] = s->bc;
    row[C_EXT] = s->extremist;
    row[C_ER] = s->esteban_ray;
    row[C_RO] = s->r_o;
    row[C_Q] = s->modularity;
    row[C_LOUVAIN] = s->louvain_q;
    row[C_XCAMP] = s->cross_camp_share;
    row[C_GINI_FOL] = s->gini[2];
    row[C_TOP1_FOL] = s->top1[2];
    row[C_GAIN_TOX] = s->follower_gain_toxic;
    row[C_GAIN_OTH] = s->follower_gain_other;
    row[C_RPE] = s->rpe;
}

uint64_t sim_cmp_units(const agora_sim_params *p, int np) {
    return (uint64_t)(p->burnin_steps + np * (p->n_steps - p->burnin_steps));
}

static uint64_t compare_hash(const agora_sim_params *p);

// ---- inside a replicate: the burn-in state, chrono's final state, finished branches ----

#define REP_BURNIN "replicate.burnin.ckpt"
#define REP_BASE "replicate.base.ckpt"
#define REP_PROGRESS "replicate.progress"
#define REP_MAGIC "agora-simrep-v1"
enum { REP_PER = 2 + 2 * AGORA_SIM_NPOWER * AGORA_SIM_NQ }; /* pooled counts per branch */

typedef struct rep_tag { /* the extra blob of the two state checkpoints */
    uint64_t hash, r;
} rep_tag;

static void rep_path(const char *dir, const char *name, char *out, size_t len) {
    snprintf(out, len, "%s/%s", dir, name);
}

void sim_cmp_clear_progress(const char *dir) {
    static const char *const names[3] = {REP_PROGRESS, REP_BASE, REP_BURNIN};
    for (int i = 0; dir != NULL && i < 3; i++) {
        char path[4200];
        rep_path(dir, names[i], path, sizeof path);
        (void)unlink(path);
    }
}

static void counts_of(const agora_sim_summary *s, int64_t c[REP_PER]) {
    c[0] = s->n;
    c[1] = s->n_toxic;
    memcpy(c + 2, s->or_hit, sizeof s->or_hit);
    memcpy(c + 2 + AGORA_SIM_NPOWER * AGORA_SIM_NQ, s->or_top, sizeof s->or_top);
}

static void add_counts(agora_sim_summary *pl, const int64_t c[REP_PER]) {
    int64_t hit[AGORA_SIM_NPOWER][AGORA_SIM_NQ], top[AGORA_SIM_NPOWER][AGORA_SIM_NQ];
    memcpy(hit, c + 2, sizeof hit);
    memcpy(top, c + 2 + AGORA_SIM_NPOWER * AGORA_SIM_NQ, sizeof top);
    pl->n += c[0];
    pl->n_toxic += c[1];
    for (int pw = 0; pw < AGORA_SIM_NPOWER; pw++)
        for (int q = 0; q < AGORA_SIM_NQ; q++) {
            pl->or_hit[pw][q] += hit[pw][q];
            pl->or_top[pw][q] += top[pw][q];
        }
}

/* replicate.progress: magic, u64 settings hash, u64 replicate, u32 policies, u32 branches
 * done, the policy ids, then the done branches' rows (f64) and pooled counts (i64). */
static agora_err save_progress(const char *dir, uint64_t hash, int64_t r, const int *pol, int np,
                               int k_done, const double *rows, const int64_t *counts,
                               char err[AGORA_ERR_LEN]) {
    size_t len = 16 + 8 + 8 + 4 + 4 + (size_t)np * 4 + (size_t)k_done * C_N * 8 +
                 (size_t)k_done * REP_PER * 8;
    uint8_t *b = agora_malloc(len), *q = b;
    if (b == NULL)
        return AGORA_ENOMEM;
    memset(q, 0, 16);
    memcpy(q, REP_MAGIC, sizeof REP_MAGIC);
    q += 16;
    uint64_t u[2] = {hash, (uint64_t)r};
    memcpy(q, u, 16);
    q += 16;
    uint32_t v[2] = {(uint32_t)np, (uint32_t)k_done};
    memcpy(q, v, 8);
    q += 8;
    for (int k = 0; k < np; k++, q += 4) {
        uint32_t id = (uint32_t)pol[k];
        memcpy(q, &id, 4);
    }
    memcpy(q, rows, (size_t)k_done * C_N * 8);
    q += (size_t)k_done * C_N * 8;
    memcpy(q, counts, (size_t)k_done * REP_PER * 8);
    char path[4200];
    rep_path(dir, REP_PROGRESS, path, sizeof path);
    agora_err rc = agora_write_file_atomic(path, b, len, err);
    agora_free(b);
    return rc;
}

/* The branches of replicate r already done (0 when there is no progress for it: none, or
 * another replicate's, or other settings). */
static int load_progress(const char *dir, uint64_t hash, int64_t r, const int *pol, int np,
                         double *rows, int64_t *counts) {
    char path[4200], err[AGORA_ERR_LEN], *b = NULL;
    size_t len = 0;
    rep_path(dir, REP_PROGRESS, path, sizeof path);
    if (agora_read_file(path, (size_t)1 << 24, &b, &len, err) != AGORA_OK)
        return 0;
    int k_done = 0;
    uint64_t u[2];
    uint32_t v[2];
    if (len >= 40 && memcmp(b, REP_MAGIC, sizeof REP_MAGIC) == 0) {
        memcpy(u, b + 16, 16);
        memcpy(v, b + 32, 8);
        size_t want = 40 + (size_t)np * 4 + (size_t)v[1] * C_N * 8 + (size_t)v[1] * REP_PER * 8;
        bool ok = u[0] == hash && u[1] == (uint64_t)r && v[0] == (uint32_t)np &&
                  v[1] < (uint32_t)np && len == want;
        for (int k = 0; ok && k < np; k++) {
            uint32_t id;
            memcpy(&id, b + 40 + 4 * k, 4);
            ok = id == (uint32_t)pol[k];
        }
        if (ok) {
            k_done = (int)v[1];
            const char *q = b + 40 + (size_t)np * 4;
            memcpy(rows, q, (size_t)k_done * C_N * 8);
            memcpy(counts, q + (size_t)k_done * C_N * 8, (size_t)k_done * REP_PER * 8);
        }
    }
    agora_free(b);
    return k_done;
}

/* Loads a state checkpoint written for replicate r under these settings (else NULL). */
static agora_sim *load_state(const char *dir, const char *name, const agora_sim_params *p,
                             uint64_t hash, int64_t r) {
    char path[4200], err[AGORA_ERR_LEN];
    rep_path(dir, name, path, sizeof path);
    if (access(path, F_OK) != 0)
        return NULL;
    agora_sim *s = NULL;
    void *extra = NULL;
    size_t extra_len = 0;
    if (agora_sim_load(path, p, &s, &extra, &extra_len, err) != AGORA_OK)
        return NULL;
    rep_tag t;
    bool ok = extra_len == sizeof t;
    if (ok)
        memcpy(&t, extra, sizeof t);
    agora_free(extra);
    if (!ok || t.hash != hash || t.r != (uint64_t)r) {
        agora_sim_destroy(s);
        return NULL;
    }
    return s;
}

static agora_err save_state(const char *dir, const char *name, const agora_sim *s, uint64_t hash,
                            int64_t r, char err[AGORA_ERR_LEN]) {
    char path[4200];
    rep_path(dir, name, path, sizeof path);
    rep_tag t = {hash, (uint64_t)r};
    return agora_sim_save(s, path, &t, sizeof t, err);
}

agora_err sim_cmp_replicate(const agora_sim_params *p, int64_t r, const int *pol, int np,
                            double *rows, agora_sim_summary *pooled, agora_progress *pr,
                            uint64_t *done, const char *what, const char *ckdir,
                            char err[AGORA_ERR_LEN]) {
    int64_t T0 = p->burnin_steps, T = p->n_steps;
    err[0] = '\0';
    if (p->checkpoint_every <= 0)
        ckdir = NULL; /* sim.checkpoint_every = 0: no checkpoints inside a replicate */
    uint64_t hash = compare_hash(p);
    int64_t *counts = agora_calloc((size_t)np * REP_PER, sizeof *counts);
    if (counts == NULL)
        return AGORA_ENOMEM;
    agora_sim_params pr_p = *p;
    pr_p.seed = p->seed + r;
    agora_sim *s0 = NULL, *base = NULL, *b = NULL;
    agora_err rc = AGORA_OK;
    int k_first = ckdir ? load_progress(ckdir, hash, r, pol, np, rows, counts) : 0;
    if (ckdir) {
        s0 = load_state(ckdir, REP_BURNIN, &pr_p, hash, r);
        if (k_first > 0)
            base = load_state(ckdir, REP_BASE, &pr_p, hash, r);
        if (s0 == NULL || (k_first > 0 && base == NULL)) { /* start the replicate over */
            k_first = 0;
            agora_sim_destroy(s0);
            agora_sim_destroy(base);
            s0 = base = NULL;
        }
    }
    if (s0 != NULL) { /* resumed: count what is done */
        *done += (uint64_t)(T0 + k_first * (T - T0));
        agora_progress_update(pr, *done, "%sreplicate %lld resumed", what, (long long)r + 1);
    } else {
        rc = agora_sim_create(&pr_p, &s0, err);
        if (rc != AGORA_OK) {
            agora_free(counts);
            return rc;
        }
        for (int64_t st = 0; st < T0 && rc == AGORA_OK; st++) {
            rc = agora_sim_step(s0, p->burnin_recsys);
            agora_progress_update(pr, ++*done, "%sreplicate %lld burn-in", what, (long long)r + 1);
        }
        if (rc == AGORA_OK)
            agora_sim_branch(s0);
        if (rc == AGORA_OK && ckdir)
            rc = save_state(ckdir, REP_BURNIN, s0, hash, r, err);
    }
    uint64_t d0 = agora_sim_digest(s0);
    for (int k = k_first; k < np && rc == AGORA_OK; k++) {
        rc = agora_sim_clone(s0, &b);
        if (rc != AGORA_OK)
            break;
        if (agora_sim_digest(b) != d0) {
            snprintf(err, AGORA_ERR_LEN, "branch state differs from the burn-in state");
            rc = AGORA_ESTATE;
            break;
        }
        for (int64_t st = T0; st < T && rc == AGORA_OK; st++) {
            rc = agora_sim_step(b, pol[k]);
            agora_progress_update(pr, ++*done, "%sreplicate %lld %s", what, (long long)r + 1,
                                  agora_sim_recsys_name(pol[k]));
        }
        if (rc != AGORA_OK)
            break;
        agora_sim_summary sum;
        agora_sim_dist anb;
        double pop = NAN;
        rc = agora_sim_summarize(b, &sum);
        if (rc == AGORA_OK)
            rc = agora_sim_anb_vs(b, k == 0 ? b : base, &anb, &pop, NULL);
        if (rc != AGORA_OK)
            break;
        fill_row(&rows[k * C_N], &sum, &anb, pop);
        /* paired shift (spec §12.2): mean |o_i(P) - o_i(chrono)| at T, same agents */
        double shift = 0;
        if (k > 0) {
            const double *ob = agora_sim_opinions(b), *oc = agora_sim_opinions(base);
            for (int64_t i = 0; i < sum.n; i++)
                shift += fabs(ob[i] - oc[i]);
            shift /= (double)sum.n;
        }
        rows[k * C_N + C_SHIFT] = shift;
        counts_of(&sum, counts + (size_t)k * REP_PER);
        if (k == 0) {
            base = b;
            if (ckdir)
                rc = save_state(ckdir, REP_BASE, base, hash, r, err);
        } else {
            agora_sim_destroy(b);
        }
        b = NULL;
        if (rc == AGORA_OK && ckdir && k + 1 < np)
            rc = save_progress(ckdir, hash, r, pol, np, k + 1, rows, counts, err);
    }
    if (rc == AGORA_OK)
        for (int k = 0; k < np; k++)
            add_counts(&pooled[k], counts + (size_t)k * REP_PER);
    if (rc != AGORA_OK && err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "replicate %lld: %s", (long long)r, agora_err_str(rc));
    agora_free(counts);
    agora_sim_destroy(b);
    agora_sim_destroy(base);
    agora_sim_destroy(s0);
    return rc;
}

void sim_mean_ci(const double *v, int n, double *mean, double *lo, double *hi) {
    double buf[1000];
    double sum = 0;
    int m = 0;
    double x[4096];
    for (int i = 0; i < n && m < 4096; i++)
        if (isfinite(v[i])) {
            x[m++] = v[i];
            sum += v[i];
        }
    *mean = m ? sum / m : NAN;
    *lo = *hi = *mean;
    if (m < 2)
        return;
    agora_rng r;
    agora_rng_seed(&r, 12345, AGORA_RNG_STREAM_TEST, 0);
    for (int b = 0; b < 1000; b++) {
        double s = 0;
        for (int i = 0; i < m; i++)
            s += x[agora_rng_below(&r, (uint32_t)m)];
        buf[b] = s / m;
    }
    /* partial sort is enough, but 1,000 values sort instantly */
    for (int a = 1; a < 1000; a++) {
        double y = buf[a];
        int c = a;
        while (c > 0 && buf[c - 1] > y) {
            buf[c] = buf[c - 1];
            c--;
        }
        buf[c] = y;
    }
    *lo = buf[25];
    *hi = buf[974];
}

int sim_parse_policies(const char *list, int *pol, int max, int *n_out) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    int n = 0;
    bool have_chrono = false;
    int chrono = agora_sim_recsys_parse("chrono");
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        int r = agora_sim_recsys_parse(tok);
        if (r < 0)
            return agora_cli_usage("sim",
                                   "unknown policy '%s' (chrono, random, eng_oracle "
                                   "or engagement, eng_learned, popularity, "
                                   "eng_neg_neutral, bridging)",
                                   tok);
        for (int k = 0; k < n; k++)
            if (pol[k] == r)
                return agora_cli_usage("sim", "policy '%s' listed twice", tok);
        if (n >= max)
            return agora_cli_usage("sim", "too many policies");
        have_chrono |= r == chrono;
        pol[n++] = r;
    }
    if (n == 0)
        return agora_cli_usage("sim", "--policies is empty");
    if (!have_chrono) { /* the baseline of ANB vs chrono goes first */
        if (n >= max)
            return agora_cli_usage("sim", "too many policies");
        memmove(pol + 1, pol, (size_t)n * sizeof *pol);
        pol[0] = chrono;
        n++;
    }
    for (int k = 0; k < n; k++)
        if (pol[k] == chrono && k != 0) {
            memmove(pol + 1, pol, (size_t)k * sizeof *pol);
            pol[0] = chrono;
        }
    *n_out = n;
    return 0;
}

// ---- the finished replicates on disk, for --resume ----

#define CMP_PARTIAL "compare.partial.safetensors"
#define CMP_FORMAT "agora-sim-compare-partial"

/* What a replicate's rows depend on: every sim.* key but replicates (so a finished compare
 * can take more) and the run-only ones. */
static uint64_t compare_hash(const agora_sim_params *p) {
    agora_sim_params q = *p;
    q.replicates = 1;
    q.metrics_every = 1;
    q.checkpoint_every = 0;
    agora_cfg_table t = agora_sim_cfg_table(&q);
    return agora_cfg_hash(&t, 1);
}

static void policy_list(const int *pol, int np, char *out, size_t len) {
    size_t n = 0;
    out[0] = '\0';
    for (int k = 0; k < np && n < len; k++)
        n +=
            (size_t)snprintf(out + n, len - n, "%s%s", k ? "," : "", agora_sim_recsys_name(pol[k]));
}

agora_err sim_cmp_save_partial(const char *dir, const agora_sim_params *p, const int *pol, int np,
                               int64_t done, const double *rows, const agora_sim_summary *pooled,
                               char err[AGORA_ERR_LEN]) {
    int64_t *counts =
        agora_calloc((size_t)np * (2 + 2 * AGORA_SIM_NPOWER * AGORA_SIM_NQ), sizeof *counts);
    if (counts == NULL)
        return AGORA_ENOMEM;
    const size_t per = 2 + 2 * AGORA_SIM_NPOWER * AGORA_SIM_NQ;
    for (int k = 0; k < np; k++) {
        int64_t *c = counts + (size_t)k * per;
        c[0] = pooled[k].n;
        c[1] = pooled[k].n_toxic;
        memcpy(c + 2, pooled[k].or_hit, sizeof pooled[k].or_hit);
        memcpy(c + 2 + AGORA_SIM_NPOWER * AGORA_SIM_NQ, pooled[k].or_top, sizeof pooled[k].or_top);
    }
    char path[4200], hash[32], pols[512], ndone[32];
    snprintf(path, sizeof path, "%s/%s", dir, CMP_PARTIAL);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)compare_hash(p));
    snprintf(ndone, sizeof ndone, "%lld", (long long)done);
    policy_list(pol, np, pols, sizeof pols);
    agora_st_entry e[2] = {
        {"rows", AGORA_ST_F64, 3, {done, np, C_N}, rows},
        {"pooled_counts", AGORA_ST_I64, 2, {np, (int64_t)per}, counts},
    };
    const char *meta[] = {"format",   CMP_FORMAT, "config_hash",     hash,
                          "policies", pols,       "replicates_done", ndone};
    agora_err rc = agora_st_save(path, e, 2, meta, 4, err);
    agora_free(counts);
    return rc;
}

agora_err sim_cmp_load_partial(const char *dir, const agora_sim_params *p, const int *pol, int np,
                               int64_t R, double *rows, agora_sim_summary *pooled, int64_t *done,
                               char err[AGORA_ERR_LEN]) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, CMP_PARTIAL);
    *done = 0;
    if (access(path, F_OK) != 0)
        return AGORA_OK;
    agora_st_file *f = NULL;
    AGORA_TRY(agora_st_load(path, &f, err));
    char hash[32], pols[512];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)compare_hash(p));
    policy_list(pol, np, pols, sizeof pols);
    const char *fmt = agora_st_meta(f, "format"), *h = agora_st_meta(f, "config_hash");
    const char *pl = agora_st_meta(f, "policies");
    const agora_st_tensor *tr = agora_st_find(f, "rows"), *tc = agora_st_find(f, "pooled_counts");
    const size_t per = 2 + 2 * AGORA_SIM_NPOWER * AGORA_SIM_NQ;
    agora_err rc = AGORA_EPARSE;
    if (fmt == NULL || strcmp(fmt, CMP_FORMAT) != 0)
        snprintf(err, AGORA_ERR_LEN, "%.300s: not a compare checkpoint", path);
    else if (h == NULL || strcmp(h, hash) != 0)
        snprintf(err, AGORA_ERR_LEN,
                 "%.300s: written with other sim.* settings (only sim.replicates may change)",
                 path);
    else if (pl == NULL || strcmp(pl, pols) != 0)
        snprintf(err, AGORA_ERR_LEN, "%.200s: written for policies %.100s, now %.100s", path,
                 pl ? pl : "(none)", pols);
    else if (tr == NULL || tc == NULL || tr->dtype != AGORA_ST_F64 || tr->ndim != 3 ||
             tr->shape[1] != np || tr->shape[2] != C_N || tc->dtype != AGORA_ST_I64 ||
             tc->ndim != 2 || tc->shape[0] != np || tc->shape[1] != (int64_t)per)
        snprintf(err, AGORA_ERR_LEN, "%.300s: rows or counts of an unexpected shape", path);
    else if (tr->shape[0] > R)
        snprintf(err, AGORA_ERR_LEN, "%.300s holds %lld replicates, more than the %lld asked", path,
                 (long long)tr->shape[0], (long long)R);
    else
        rc = AGORA_OK;
    if (rc == AGORA_OK) {
        *done = tr->shape[0];
        memcpy(rows, agora_st_data(f, tr), (size_t)tr->nbytes);
        const char *c = agora_st_data(f, tc);
        for (int k = 0; k < np; k++) {
            int64_t v[2 + 2 * AGORA_SIM_NPOWER * AGORA_SIM_NQ];
            memcpy(v, c + (size_t)k * per * sizeof *v, sizeof v);
            pooled[k].n = v[0];
            pooled[k].n_toxic = v[1];
            memcpy(pooled[k].or_hit, v + 2, sizeof pooled[k].or_hit);
            memcpy(pooled[k].or_top, v + 2 + AGORA_SIM_NPOWER * AGORA_SIM_NQ,
                   sizeof pooled[k].or_top);
        }
    }
    agora_st_close(f);
    return rc;
}
