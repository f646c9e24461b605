/* recsys.c: the rankers (spec §9.3). Each is one score function in the ops table below.
 *
 * Implements: the score of every ranker, a scalar `_ref` twin of each (tests check they
 * agree), and the ops table indexed by agora_recsys.
 * Does not: build pools or pick the top k (pool.c); that code is shared by every ranker, so
 * chronological and engagement ranking differ only in the sort key computed here.
 */
#include <math.h>

#include "sim/sim_internal.h"

static inline uint32_t slot_of(const agora_sim *s, uint32_t seq) {
    return seq & s->mmask;
}

// ---- chrono: the latest emission step ----
static void score_chrono(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    (void)ctx;
    for (size_t j = 0; j < n; j++)
        c[j].score = (double)c[j].e;
}
static void score_chrono_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    (void)ctx;
    for (size_t j = 0; j < n; j++)
        c[j].score = c[j].e;
}

// ---- random: U(RANK, key(i, m, t)) ----
static uint64_t rank_block(const agora_sim *s, uint32_t seq, int64_t t) {
    uint32_t m = slot_of(s, seq);
    uint64_t km = agora__sim_msg_key(s->m_author[m], s->m_t0[m], s->m_idx[m]);
    return km ^ ((uint64_t)t * 0x9E3779B97F4A7C15ull);
}
static void score_random(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    const agora_sim *s = ctx->s;
    for (size_t j = 0; j < n; j++)
        c[j].score =
            agora__sim_u01(s->seed, SIM_S_RANK, ctx->reader, rank_block(s, c[j].seq, ctx->t));
}
static void score_random_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    for (size_t j = 0; j < n; j++) {
        const agora_sim *s = ctx->s;
        uint32_t m = c[j].seq & s->mmask;
        uint64_t key = agora__sim_msg_key(s->m_author[m], s->m_t0[m], s->m_idx[m]);
        key ^= (uint64_t)ctx->t * 0x9E3779B97F4A7C15ull;
        c[j].score = agora__sim_u01(s->seed, SIM_S_RANK, ctx->reader, key);
    }
}

// ---- eng_oracle: exactly P_rt(i, m) ----
static void score_oracle_beta(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n,
                              double beta) {
    const agora_sim *s = ctx->s;
    const double pi = s->pi[ctx->reader], oi = ctx->o_reader;
    for (size_t j = 0; j < n; j++) { /* o and neg were copied into the candidate */
        double x = fabs(oi - (double)c[j].o) * 2048.0;
        double k;
        if (x >= 4096.0) {
            k = s->ktab[4096];
        } else {
            int b = (int)x;
            k = s->ktab[b] + (x - b) * (s->ktab[b + 1] - s->ktab[b]);
        }
        double p = pi * k * (1.0 + beta * c[j].neg);
        c[j].score = p < 1.0 ? p : 1.0;
    }
}
static void score_oracle(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    score_oracle_beta(ctx, c, n, ctx->s->p.beta_neg);
}
static void score_oracle_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    for (size_t j = 0; j < n; j++)
        c[j].score = agora__sim_p_rt(ctx->s, ctx->o_reader, ctx->s->pi[ctx->reader], c[j].seq,
                                     ctx->s->p.beta_neg);
}

// ---- eng_learned: sigma(w.x) from the online learner ----
static void score_learned_mode(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n,
                               bool neutral) {
    double x[SIM_NFEAT];
    for (size_t j = 0; j < n; j++) {
        agora__sim_features(ctx->s, ctx->reader, ctx->o_reader, c[j].seq, ctx->t, x);
        c[j].score = agora__sim_learned_p(ctx->s, x, neutral);
    }
}
static void score_learned(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    score_learned_mode(ctx, c, n, false);
}
static void score_learned_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    for (size_t j = 0; j < n; j++) {
        double x[SIM_NFEAT], z = 0;
        agora__sim_features(ctx->s, ctx->reader, ctx->o_reader, c[j].seq, ctx->t, x);
        for (int f = 0; f < SIM_NFEAT; f++)
            z += ctx->s->w[f] * x[f];
        c[j].score = 1.0 / (1.0 + exp(-z));
    }
}

// ---- popularity: (n_rt + 1) / (t - t0 + 2)^gamma ----
static void score_popularity(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    const agora_sim *s = ctx->s;
    const double g = s->p.hot_gravity;
    for (size_t j = 0; j < n; j++) {
        uint32_t m = slot_of(s, c[j].seq);
        c[j].score = (s->m_nrt[m] + 1.0) / pow((double)(ctx->t - s->m_t0[m]) + 2.0, g);
    }
}
static void score_popularity_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    for (size_t j = 0; j < n; j++) {
        uint32_t m = c[j].seq & ctx->s->mmask;
        double age = (double)(ctx->t - ctx->s->m_t0[m]);
        c[j].score = ((double)ctx->s->m_nrt[m] + 1.0) / pow(age + 2.0, ctx->s->p.hot_gravity);
    }
}

// ---- eng_neg_neutral: the engagement score with the negativity term removed ----
static void score_neg_neutral(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    if (ctx->s->p.eng_predictor == SIM_PRED_LEARNED)
        score_learned_mode(ctx, c, n, true);
    else
        score_oracle_beta(ctx, c, n, 0.0);
}
static void score_neg_neutral_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    const agora_sim *s = ctx->s;
    for (size_t j = 0; j < n; j++) {
        if (s->p.eng_predictor == SIM_PRED_LEARNED) {
            double x[SIM_NFEAT], z = 0;
            agora__sim_features(s, ctx->reader, ctx->o_reader, c[j].seq, ctx->t, x);
            for (int f = 0; f < SIM_NFEAT; f++)
                z += (f == 3 ? 0.0 : s->w[f]) * x[f];
            c[j].score = 1.0 / (1.0 + exp(-z));
        } else {
            c[j].score = agora__sim_p_rt(s, ctx->o_reader, s->pi[ctx->reader], c[j].seq, 0.0);
        }
    }
}

// ---- bridging: the worse of the two camps' engagement ----
static double bridge_one(const agora_sim *s, uint32_t seq) {
    uint32_t m = seq & s->mmask;
    if (s->p.bridging_mode == SIM_BRIDGE_MODEL) {
        double kl = agora__sim_kernel(s, fabs(s->camp_mean[0] - (double)s->m_o[m]));
        double kr = agora__sim_kernel(s, fabs(s->camp_mean[1] - (double)s->m_o[m]));
        return kl < kr ? kl : kr;
    }
    double a0 = s->p.bridge_prior, best = INFINITY;
    for (int c = 0; c < 2; c++) {
        double r = (s->m_rtc[c][m] + a0 * s->rbar) / (s->m_exp[c][m] + a0);
        if (!(r >= best))
            best = r;
    }
    return best;
}
static void score_bridging(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    for (size_t j = 0; j < n; j++)
        c[j].score = bridge_one(ctx->s, c[j].seq);
}
static void score_bridging_ref(const agora__sim_read_ctx *ctx, agora__sim_cand *c, size_t n) {
    const agora_sim *s = ctx->s;
    for (size_t j = 0; j < n; j++) {
        uint32_t m = c[j].seq & s->mmask;
        double v[2];
        for (int k = 0; k < 2; k++)
            v[k] = s->p.bridging_mode == SIM_BRIDGE_MODEL
                       ? agora__sim_kernel(s, fabs(s->camp_mean[k] - (double)s->m_o[m]))
                       : ((double)s->m_rtc[k][m] + s->p.bridge_prior * s->rbar) /
                             ((double)s->m_exp[k][m] + s->p.bridge_prior);
        c[j].score = fmin(v[0], v[1]);
    }
}

// ---- the ops table: the only place a ranker id selects behaviour ----
static const agora__sim_recsys_ops k_ops[AGORA_RECSYS_COUNT] = {
    [AGORA_RECSYS_CHRONO] = {"chrono", score_chrono, score_chrono_ref},
    [AGORA_RECSYS_RANDOM] = {"random", score_random, score_random_ref},
    [AGORA_RECSYS_ENG_ORACLE] = {"eng_oracle", score_oracle, score_oracle_ref},
    [AGORA_RECSYS_ENG_LEARNED] = {"eng_learned", score_learned, score_learned_ref},
    [AGORA_RECSYS_POPULARITY] = {"popularity", score_popularity, score_popularity_ref},
    [AGORA_RECSYS_ENG_NEG_NEUTRAL] = {"eng_neg_neutral", score_neg_neutral, score_neg_neutral_ref},
    [AGORA_RECSYS_BRIDGING] = {"bridging", score_bridging, score_bridging_ref},
};

const agora__sim_recsys_ops *agora__sim_recsys_ops_get(int recsys) {
    if (recsys < 0 || recsys >= AGORA_RECSYS_COUNT)
        return NULL;
    return &k_ops[recsys];
}
