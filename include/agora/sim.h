/* sim.h: the social-network simulator (recommender systems, opinion dynamics, negativity
 * bias). Normative model: shared/specs/social-simulation.md; agora's notes in
 * docs/sim-model.md.
 *
 * Typical use:
 *   agora_sim_params p;  agora_cfg_table t = agora_sim_cfg_table(&p);
 *   agora_cfg_load_all(&t, 1, "exp.ini", NULL, 0, err);
 *   agora_sim *s;  agora_sim_create(&p, &s, err);
 *   for (t = 0; t < p.burnin_steps; t++) agora_sim_step(s, p.burnin_recsys);
 *   agora_sim_branch(s);                         // T0: window counters reset, toxic set frozen
 *   agora_sim *b;  agora_sim_clone(s, &b);       // one branch per policy (common random numbers)
 *   for (...) agora_sim_step(b, AGORA_RECSYS_...);
 *   agora_sim_summarize(b, &summary);
 *
 * Results are a pure function of (params, seed): every draw is keyed by the event it decides,
 * so thread count and visiting order do not change them.
 */
#ifndef AGORA_SIM_H
#define AGORA_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agora/agora.h"
#include "agora/config.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The rankers (spec §9.3). The names, in this order, are the values of sim.recsys. */
typedef enum agora_recsys {
    AGORA_RECSYS_CHRONO = 0,
    AGORA_RECSYS_RANDOM = 1,
    AGORA_RECSYS_ENG_ORACLE = 2,
    AGORA_RECSYS_ENG_LEARNED = 3,
    AGORA_RECSYS_POPULARITY = 4,
    AGORA_RECSYS_ENG_NEG_NEUTRAL = 5,
    AGORA_RECSYS_BRIDGING = 6,
    AGORA_RECSYS_COUNT = 7
} agora_recsys;

/* Every sim.* configuration key (spec §11). Enum fields hold the index into the names
 * listed by the config table (agora help config). */
typedef struct agora_sim_params {
    int64_t n_agents, n_steps, burnin_steps, replicates, seed, metrics_every;
    int64_t checkpoint_every; /* `agora sim run`: steps between checkpoints (0: none) */
    int burnin_recsys, recsys;
    /* network */
    int graph_init; /* fitness_homophily, dsbm, er, file */
    double out_degree_mean, fitness_shape, homophily_scale, dsbm_ratio;
    char edges_path[AGORA_CFG_STR_LEN], agents_path[AGORA_CFG_STR_LEN];
    int edge_dir;          /* follows ("u v": u follows v), followed_by */
    int64_t min_degree;    /* drop imported nodes with fewer (in + out) edges */
    int64_t from_retweets; /* > 0: the file lists retweets; follow if counted >= this */
    bool largest_wcc;      /* keep only the largest weakly connected component */
    /* attributes */
    int opinion_init; /* blocs5, bimodal, uniform, labels, spectral */
    char label_positions[AGORA_CFG_STR_LEN];
    double tox_init_a, tox_init_b, tox_extremity, tox_eta;
    int tox_dynamics; /* fixed, contagion */
    double activity_mean, activity_logsd, rt_base_median, rt_base_logsd, rt_base_cap;
    int64_t post_cap;
    double msg_noise;
    int64_t msg_max_age;
    /* engagement */
    int kernel; /* logistic, gauss, step, flat */
    double kernel_d0, kernel_w, kernel_lambda, kernel_eps, kernel_k0, beta_neg;
    /* feeds */
    int64_t feed_k, pool_window, pool_max;
    /* opinions */
    int opinion_model; /* deffuant, hk, degroot, none */
    int influence_on;  /* read, retweet */
    double opinion_drift, bc_eps, bc_mu, hk_mu;
    bool repulsion, rep_neg_only, backfire;
    double rep_eps, rep_mu, backfire_mu, mu_neg;
    /* rewiring */
    double unf_eps, unf_q, fol_q, rand_follow;
    bool unf_neg_only, conserve_out_degree;
    int64_t disc_size;
    /* rankers */
    int eng_predictor; /* oracle, learned */
    int bridging_mode; /* rates, model */
    double hot_gravity, bridge_prior, learner_lr, learner_l2;
    int64_t learner_batch;
    bool learner;
    /* metrics */
    double camp_split, toxic_threshold;
    int toxic_def; /* decile, threshold */
    int64_t anb_min_exposures;
    bool freeze_opinions, freeze_rewiring;
    bool louvain; /* summaries also run Louvain on the follow graph (spec §12.2, optional) */
} agora_sim_params;

/* agora_sim_cfg_table binds the sim.* table to p (call agora_cfg_set_defaults or
 * agora_cfg_load_all next). */
AGORA_API agora_cfg_table agora_sim_cfg_table(agora_sim_params *p);
/* agora_sim_params_default fills p with the defaults of spec §11. */
AGORA_API void agora_sim_params_default(agora_sim_params *p);
/* agora_sim_params_check refuses inconsistent parameters (what the config table's per-key
 * ranges cannot see, e.g. a burn-in longer than the run) with AGORA_EINVAL and a message
 * naming the keys; agora_sim_create runs it first. */
AGORA_NODISCARD AGORA_API agora_err agora_sim_params_check(const agora_sim_params *p,
                                                           char err[AGORA_ERR_LEN]);
/* agora_sim_recsys_parse maps a ranker name ("chrono", "engagement", ...) to its id, or -1. */
AGORA_API int agora_sim_recsys_parse(const char *name);
AGORA_API const char *agora_sim_recsys_name(int recsys);

typedef struct agora_sim agora_sim;

/* agora_sim_create builds the initial state (network, attributes) at t = 0.
 * Returns AGORA_EINVAL (inconsistent params), AGORA_ENOMEM, or the import's error
 * (AGORA_EPARSE, AGORA_ENOENT, ...) with "file:line: reason" in err. */
AGORA_API agora_err agora_sim_create(const agora_sim_params *p, agora_sim **out,
                                     char err[AGORA_ERR_LEN]);
/* agora_sim_clone deep-copies s (the branch point of spec §10.2). */
AGORA_API agora_err agora_sim_clone(const agora_sim *s, agora_sim **out);
AGORA_API void agora_sim_destroy(agora_sim *s); /* NULL-safe */
/* agora_sim_save writes the whole dynamic state to path, atomically (a safetensors file,
 * layout in src/sim/sim_ckpt.c), with extra_len opaque caller bytes beside it.
 * agora_sim_load rebuilds it under the same settings p (every sim.* key but n_steps,
 * replicates, metrics_every, checkpoint_every and louvain must match, else AGORA_EINVAL): stepping
 * on gives the same bits as the run that wrote it. *extra (agora_free it) gets the caller
 * bytes; extra may be NULL. Truncated, corrupt or foreign files give a message naming the
 * file and what is wrong. */
AGORA_NODISCARD AGORA_API agora_err agora_sim_save(const agora_sim *s, const char *path,
                                                   const void *AGORA_NULLABLE extra,
                                                   size_t extra_len, char err[AGORA_ERR_LEN]);
AGORA_NODISCARD AGORA_API agora_err agora_sim_load(const char *path, const agora_sim_params *p,
                                                   agora_sim **out,
                                                   void *AGORA_NULLABLE *AGORA_NULLABLE extra,
                                                   size_t *AGORA_NULLABLE extra_len,
                                                   char err[AGORA_ERR_LEN]);

/* agora_sim_step runs one step (post, read, commit) under ranker `recsys`. */
AGORA_API agora_err agora_sim_step(agora_sim *s, int recsys);
/* agora_sim_branch marks T0: resets the window counters and freezes the toxic set. */
AGORA_API void agora_sim_branch(agora_sim *s);
AGORA_API int64_t agora_sim_time(const agora_sim *s);
AGORA_API int64_t agora_sim_n_agents(const agora_sim *s);
AGORA_API int64_t agora_sim_n_edges(const agora_sim *s);
AGORA_API const double *agora_sim_opinions(const agora_sim *s);
/* agora_sim_digest is XXH3-64 over the whole dynamic state (spec §15 A3). */
AGORA_API uint64_t agora_sim_digest(const agora_sim *s);
/* agora_sim_check_invariants tests spec §15 A4; AGORA_ESTATE with the reason in err. */
AGORA_API agora_err agora_sim_check_invariants(const agora_sim *s, char err[AGORA_ERR_LEN]);
/* Bytes held by the state (arrays, graph, buffers), for benchmarks. */
AGORA_API size_t agora_sim_bytes(const agora_sim *s, size_t *graph_bytes);
/* The engagement learner's weights (spec §9.4), in the order of its features: 1, d, d^2,
 * n_m, log(1 + n_rt), log(1 + followers of the author), log(1 + age), r_i. */
enum { AGORA_SIM_NFEAT = 8 };
AGORA_API void agora_sim_learner_weights(const agora_sim *s, double w[AGORA_SIM_NFEAT]);
/* Candidate visits and feed items processed so far (all steps). */
AGORA_API void agora_sim_work(const agora_sim *s, int64_t *pool_items, int64_t *feed_items);
/* Wall-clock seconds spent so far in each part of the step: [0] start of step and posting
 * (phase A, with the emission window), [1] reading (phase B), [2] counters and rewiring
 * (phase C), [3] the learner. For benchmarks. */
enum { AGORA_SIM_NPHASE = 4 };
AGORA_API void agora_sim_phase_seconds(const agora_sim *s, double sec[AGORA_SIM_NPHASE]);

/* ---- metrics (spec §12) ---- */

enum { AGORA_SIM_NQ = 7, AGORA_SIM_NPOWER = 3, AGORA_SIM_HIST_BINS = 20 };
/* q in percent: 0.1, 0.5, 1, 5, 10, 50, 100. Power: retweets received (primary),
 * impressions, followers. */
AGORA_API extern const double agora_sim_q[AGORA_SIM_NQ];
AGORA_API extern const char *const agora_sim_power_names[AGORA_SIM_NPOWER];

typedef struct agora_sim_dist {
    double mean, median, p90, p99, max, share_ge1, share_ge3;
    int64_t n, dropped;
} agora_sim_dist;

/* One record of the per-step time series. */
typedef struct agora_sim_stepstats {
    int64_t t, exposures, neg_exposures, pool_items, neg_pool_items, retweets, edges;
    double ne_feed, ne_pool, rpe, o_mean, o_var, o_mean_abs, extremist, bc, r_o, gini_followers;
    double hist[AGORA_SIM_HIST_BINS]; /* opinion shares over 20 bins of width 0.1 */
} agora_sim_stepstats;

/* Summary of one run over the window [T0, T). */
typedef struct agora_sim_summary {
    int64_t t0, t, n, exposures, neg_exposures, pool_items, neg_pool_items, retweets;
    double ne_feed, ne_pool, rpe;
    agora_sim_dist anb_pool; /* A_i = NE_i / NP_i - 1 */
    double o_var, o_mean_abs, extremist, bc, esteban_ray, r_o, modularity, ei_index;
    double gini[AGORA_SIM_NPOWER], top1[AGORA_SIM_NPOWER];
    /* OR(q) counts, so replicates can be pooled: or = (hit/top) / (n_toxic/n). */
    int64_t or_hit[AGORA_SIM_NPOWER][AGORA_SIM_NQ], or_top[AGORA_SIM_NPOWER][AGORA_SIM_NQ];
    int64_t n_toxic;
    double follower_gain_toxic, follower_gain_other;
    /* Cascade sizes (retweets of each message that died in the window): mean, p99
     * (nearest rank; a p99 of 4095 or more is reported as 4095, a lower bound), max. */
    double cascade_mean, cascade_p99, cascade_max;
    /* Share of exposures to messages from the other camp (spec §12.2): a message's camp is
     * its opinion o_m against sim.camp_split (o_m is its author's opinion when posting,
     * plus noise), the reader's camp its opinion when reading. */
    double cross_camp_share;
    /* Louvain modularity of the follow graph and its community count (sim.louvain; NaN
     * and 0 when off). */
    double louvain_q;
    int64_t louvain_communities;
} agora_sim_summary;

AGORA_API void agora_sim_stepstats_compute(const agora_sim *s, agora_sim_stepstats *out);
AGORA_API agora_err agora_sim_summarize(const agora_sim *s, agora_sim_summary *out);
/* OR(q) of a summary (or of pooled counts); NaN if undefined. */
AGORA_API double agora_sim_or(const agora_sim_summary *s, int power, int qi);
/* agora_sim_anb_vs computes ANB_i(P) = NE_i(P)/NE_i(base) - 1 over agents with enough
 * exposures in both runs (same agents: branches of one replicate). Population value in
 * *pop. Also fills per-agent values into vals (n entries, NaN for dropped) if not NULL. */
AGORA_API agora_err agora_sim_anb_vs(const agora_sim *p, const agora_sim *base, agora_sim_dist *out,
                                     double *pop, double *AGORA_NULLABLE vals);
/* agora_sim_anb_pool_values fills A_i (NaN where undefined) into vals[n]. */
AGORA_API void agora_sim_anb_pool_values(const agora_sim *s, double *vals);

/* ---- outputs ---- */

/* ids.csv (imported networks only): node index -> original id. AGORA_ENOTFOUND when the
 * network was generated. */
AGORA_API agora_err agora_sim_write_ids_csv(const agora_sim *s, const char *path);
/* agents.csv: id, o, tau, a, pi, followers_t0, followers, E, E_neg, C, C_neg,
 * impressions, retweets_made, retweets_received, toxic. */
AGORA_API agora_err agora_sim_write_agents_csv(const agora_sim *s, const char *path);
/* SVG plots (written without any library): opinion histogram over time, A_i distribution,
 * OR(q), Lorenz curve of followers. hist: n_rec records. */
AGORA_API agora_err agora_sim_write_svgs(const agora_sim *s, const char *dir,
                                         const agora_sim_stepstats *recs, size_t n_rec,
                                         const agora_sim_summary *sum);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_SIM_H */
