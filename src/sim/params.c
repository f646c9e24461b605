/* params.c: the sim.* configuration table (spec §11) and ranker names.
 *
 * Implements: the table, defaults, and the name <-> id mapping of the rankers.
 * Does not: validate cross-key consistency (sim.c does at create time).
 */
#include <assert.h>
#include <string.h>

#include "sim/sim_internal.h"

static const char *const k_recsys[] = {"chrono",     "random",          "eng_oracle", "eng_learned",
                                       "popularity", "eng_neg_neutral", "bridging",   NULL};
static const char *const k_graph[] = {"fitness_homophily", "dsbm", "er", "file", NULL};
static const char *const k_oinit[] = {"blocs5", "bimodal", "uniform", "labels", "spectral", NULL};
static const char *const k_kernel[] = {"logistic", "gauss", "step", "flat", NULL};
static const char *const k_omodel[] = {"deffuant", "hk", "degroot", "none", NULL};
static const char *const k_infl[] = {"read", "retweet", NULL};
static const char *const k_tox[] = {"fixed", "contagion", NULL};
static const char *const k_pred[] = {"oracle", "learned", NULL};
static const char *const k_bridge[] = {"rates", "model", NULL};
static const char *const k_toxdef[] = {"decile", "threshold", NULL};
static const char *const k_edgedir[] = {"follows", "followed_by", NULL};

#define P agora_sim_params
static const agora_cfg_entry k_cfg[] = {
    AGORA_CFG_INT(P, "sim.n_agents", n_agents, 10000, 2, 100000000, "agents N"),
    AGORA_CFG_INT(P, "sim.n_steps", n_steps, 2000, 0, 100000000,
                  "total steps T (burn-in included)"),
    AGORA_CFG_INT(P, "sim.burnin_steps", burnin_steps, 200, 0, 100000000, "burn-in steps T0"),
    AGORA_CFG_INT(P, "sim.replicates", replicates, 20, 1, 100000, "replicates R (compare)"),
    AGORA_CFG_INT(P, "sim.seed", seed, 1, 0, INT64_MAX, "global seed"),
    AGORA_CFG_INT(P, "sim.metrics_every", metrics_every, 10, 1, 100000000, "steps between records"),
    AGORA_CFG_INT(P, "sim.checkpoint_every", checkpoint_every, 100, 0, 100000000,
                  "sim run: steps between checkpoints (0: none)"),
    AGORA_CFG_ENUM(P, "sim.burnin_recsys", burnin_recsys, "chrono", k_recsys, "burn-in ranker"),
    AGORA_CFG_ENUM(P, "sim.recsys", recsys, "chrono", k_recsys, "ranker after burn-in"),
    AGORA_CFG_ENUM(P, "sim.graph_init", graph_init, "fitness_homophily", k_graph,
                   "initial network"),
    AGORA_CFG_DBL(P, "sim.out_degree_mean", out_degree_mean, 50, 1, 1000, "mean out-degree"),
    AGORA_CFG_DBL(P, "sim.fitness_shape", fitness_shape, 1.2, 0.1, 10, "Pareto shape of fitness"),
    AGORA_CFG_DBL(P, "sim.homophily_scale", homophily_scale, 0.3, 1e-3, 1e300,
                  "homophily scale lambda_h (1e300 = off)"),
    AGORA_CFG_DBL(P, "sim.dsbm_ratio", dsbm_ratio, 5, 1, 1e6, "dsbm p_in/p_out"),
    AGORA_CFG_STR(P, "sim.edges", edges_path, "", "edge list (graph_init = file)"),
    AGORA_CFG_STR(P, "sim.agents", agents_path, "", "agent attribute CSV (optional)"),
    AGORA_CFG_ENUM(P, "sim.edge_dir", edge_dir, "follows", k_edgedir,
                   "'u v' means u follows v, or v follows u"),
    AGORA_CFG_INT(P, "sim.min_degree", min_degree, 0, 0, 1000000,
                  "import: drop nodes with fewer in + out edges (one pass)"),
    AGORA_CFG_INT(P, "sim.from_retweets", from_retweets, 0, 0, 1000000,
                  "import: lines are retweets (u v [count]); u follows v if counted >= this"),
    AGORA_CFG_BOOL(P, "sim.largest_wcc", largest_wcc, 0,
                   "import: keep the largest weakly connected component"),
    AGORA_CFG_ENUM(P, "sim.opinion_init", opinion_init, "blocs5", k_oinit, "opinion draw"),
    AGORA_CFG_STR(P, "sim.label_positions", label_positions, "fi:-0.8,ps:-0.4,em:0,lr:0.4,fn:0.8",
                  "opinion_init = labels: label:position pairs (agent CSV label column)"),
    AGORA_CFG_DBL(P, "sim.tox_init_a", tox_init_a, 2, 0.01, 1000, "toxicity Beta a"),
    AGORA_CFG_DBL(P, "sim.tox_init_b", tox_init_b, 3, 0.01, 1000, "toxicity Beta b"),
    AGORA_CFG_DBL(P, "sim.tox_extremity", tox_extremity, 0, 0, 100, "kappa_tau (logit coupling)"),
    AGORA_CFG_ENUM(P, "sim.tox_dynamics", tox_dynamics, "fixed", k_tox, "toxicity dynamics"),
    AGORA_CFG_DBL(P, "sim.tox_eta", tox_eta, 0.01, 0, 1, "contagion rate eta"),
    AGORA_CFG_DBL(P, "sim.activity_mean", activity_mean, 0.5, 0, 100, "activity mean"),
    AGORA_CFG_DBL(P, "sim.activity_logsd", activity_logsd, 1.0, 0, 10, "activity log-sd"),
    AGORA_CFG_DBL(P, "sim.rt_base_median", rt_base_median, 0.02, 0, 1, "propensity median"),
    AGORA_CFG_DBL(P, "sim.rt_base_logsd", rt_base_logsd, 0.8, 0, 10, "propensity log-sd"),
    AGORA_CFG_DBL(P, "sim.rt_base_cap", rt_base_cap, 0.5, 0, 1, "propensity cap"),
    AGORA_CFG_INT(P, "sim.post_cap", post_cap, 20, 1, 255, "max posts per agent per step"),
    AGORA_CFG_DBL(P, "sim.msg_noise", msg_noise, 0.05, 0, 10, "message opinion noise sigma_o"),
    AGORA_CFG_INT(P, "sim.msg_max_age", msg_max_age, 20, 1, 10000, "message lifetime A_max"),
    AGORA_CFG_ENUM(P, "sim.kernel", kernel, "logistic", k_kernel, "opinion-proximity kernel K"),
    AGORA_CFG_DBL(P, "sim.kernel_d0", kernel_d0, 0.4, 0, 2, "logistic d0"),
    AGORA_CFG_DBL(P, "sim.kernel_w", kernel_w, 0.1, 1e-6, 10, "logistic width"),
    AGORA_CFG_DBL(P, "sim.kernel_lambda", kernel_lambda, 0.4, 1e-6, 10, "gauss lambda_K"),
    AGORA_CFG_DBL(P, "sim.kernel_eps", kernel_eps, 0.4, 0, 2, "step eps_rt"),
    AGORA_CFG_DBL(P, "sim.kernel_k0", kernel_k0, 0.1, 0, 1, "step kappa_0"),
    AGORA_CFG_DBL(P, "sim.beta_neg", beta_neg, 0.5, 0, 100, "negativity bias beta"),
    AGORA_CFG_INT(P, "sim.feed_k", feed_k, 10, 1, 100, "feed size k"),
    AGORA_CFG_INT(P, "sim.pool_window", pool_window, 5, 1, 64, "pool window W (steps)"),
    AGORA_CFG_INT(P, "sim.pool_max", pool_max, 1000, 1, 1000000, "pool cap P_max"),
    AGORA_CFG_ENUM(P, "sim.opinion_model", opinion_model, "deffuant", k_omodel, "opinion model"),
    AGORA_CFG_ENUM(P, "sim.influence_on", influence_on, "read", k_infl, "items that influence"),
    AGORA_CFG_DBL(P, "sim.opinion_drift", opinion_drift, 0, 0, 1, "drift sigma per step"),
    AGORA_CFG_DBL(P, "sim.bc_eps", bc_eps, 0.3, 0, 2, "confidence bound eps"),
    AGORA_CFG_DBL(P, "sim.bc_mu", bc_mu, 0.02, 0, 1, "Deffuant step mu"),
    AGORA_CFG_DBL(P, "sim.hk_mu", hk_mu, 0.1, 0, 1, "HK step"),
    AGORA_CFG_BOOL(P, "sim.repulsion", repulsion, 0, "repulsion step on"),
    AGORA_CFG_DBL(P, "sim.rep_eps", rep_eps, 1.0, 0, 2, "repulsion distance"),
    AGORA_CFG_DBL(P, "sim.rep_mu", rep_mu, 0.01, 0, 1, "repulsion step"),
    AGORA_CFG_BOOL(P, "sim.rep_neg_only", rep_neg_only, 1, "only negative content repels"),
    AGORA_CFG_BOOL(P, "sim.backfire", backfire, 0, "negative out-group content repels (15.1 a)"),
    AGORA_CFG_DBL(P, "sim.backfire_mu", backfire_mu, 0.01, 0, 1, "backfire step"),
    AGORA_CFG_DBL(P, "sim.mu_neg", mu_neg, 0, 0, 1,
                  "emotional pull: Deffuant step for negative in-group items (0 = bc_mu)"),
    AGORA_CFG_DBL(P, "sim.unf_eps", unf_eps, 0.6, 0, 2, "unfollow distance"),
    AGORA_CFG_DBL(P, "sim.unf_q", unf_q, 0.05, 0, 1, "unfollow probability"),
    AGORA_CFG_BOOL(P, "sim.unf_neg_only", unf_neg_only, 0, "only negative items trigger unfollow"),
    AGORA_CFG_DBL(P, "sim.fol_q", fol_q, 0.05, 0, 1, "follow-through-retweet probability"),
    AGORA_CFG_BOOL(P, "sim.conserve_out_degree", conserve_out_degree, 1, "pair follows/unfollows"),
    AGORA_CFG_DBL(P, "sim.rand_follow", rand_follow, 0.1, 0, 1, "replacement: uniform share"),
    AGORA_CFG_INT(P, "sim.disc_size", disc_size, 32, 1, 255, "discovery ring size D"),
    AGORA_CFG_ENUM(P, "sim.eng_predictor", eng_predictor, "oracle", k_pred,
                   "eng_neg_neutral's predictor"),
    AGORA_CFG_ENUM(P, "sim.bridging_mode", bridging_mode, "rates", k_bridge, "bridging score"),
    AGORA_CFG_DBL(P, "sim.hot_gravity", hot_gravity, 1.5, 0, 10, "popularity gravity gamma"),
    AGORA_CFG_DBL(P, "sim.bridge_prior", bridge_prior, 20, 0, 1e6, "bridging prior a0"),
    AGORA_CFG_BOOL(P, "sim.learner", learner, 1, "fit the engagement learner every step"),
    AGORA_CFG_DBL(P, "sim.learner_lr", learner_lr, 0.05, 0, 10, "learner SGD rate"),
    AGORA_CFG_DBL(P, "sim.learner_l2", learner_l2, 1e-4, 0, 10, "learner L2"),
    AGORA_CFG_INT(P, "sim.learner_batch", learner_batch, 0, 0, INT64_MAX,
                  "learner subsample per step (0 = all)"),
    AGORA_CFG_DBL(P, "sim.camp_split", camp_split, 0, -1, 1, "camp boundary c_split"),
    AGORA_CFG_ENUM(P, "sim.toxic_def", toxic_def, "decile", k_toxdef, "toxic set"),
    AGORA_CFG_DBL(P, "sim.toxic_threshold", toxic_threshold, 0.5, 0, 1, "toxic if tau >= this"),
    AGORA_CFG_INT(P, "sim.anb_min_exposures", anb_min_exposures, 50, 1, INT64_MAX, "n_min"),
    AGORA_CFG_BOOL(P, "sim.freeze_opinions", freeze_opinions, 0, "no opinion updates"),
    AGORA_CFG_BOOL(P, "sim.freeze_rewiring", freeze_rewiring, 0, "no follow/unfollow"),
    AGORA_CFG_BOOL(P, "sim.louvain", louvain, 0,
                   "summaries add Louvain modularity of the follow graph (slow at N = 1e6)"),
};
#undef P

agora_cfg_table agora_sim_cfg_table(agora_sim_params *p) {
    agora_cfg_table t = {k_cfg, sizeof k_cfg / sizeof k_cfg[0], p};
    return t;
}

void agora_sim_params_default(agora_sim_params *p) {
    memset(p, 0, sizeof *p);
    agora_cfg_table t = agora_sim_cfg_table(p);
    agora_cfg_set_defaults(&t, 1);
}

int agora_sim_recsys_parse(const char *name) {
    if (strcmp(name, "engagement") == 0)
        return AGORA_RECSYS_ENG_ORACLE;
    for (int i = 0; k_recsys[i] != NULL; i++)
        if (strcmp(name, k_recsys[i]) == 0)
            return i;
    return -1;
}

const char *agora_sim_recsys_name(int recsys) {
    if (recsys < 0 || recsys >= AGORA_RECSYS_COUNT)
        return "?";
    return k_recsys[recsys];
}

static_assert(AGORA_RECSYS_BRIDGING == 6 && AGORA_RECSYS_COUNT == 7,
              "k_recsys lists the rankers in agora_recsys order");
