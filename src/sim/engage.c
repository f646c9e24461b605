/* engage.c: the user model (spec §5) and the engagement learner (spec §9.4).
 *
 * Implements: the opinion-proximity kernel K and its 4,096-interval table, the learner's
 * features, its prediction and its once-per-step SGD pass.
 * Does not: decide retweets (sim.c draws them) or rank (recsys/).
 */
#include <assert.h>
#include <math.h>

#include "sim/sim_internal.h"

double agora__sim_kernel_exact(const agora_sim_params *p, double d) {
    switch (p->kernel) {
    case SIM_KERNEL_GAUSS: {
        double z = d / p->kernel_lambda;
        return exp(-z * z);
    }
    case SIM_KERNEL_STEP:
        return d < p->kernel_eps ? 1.0 : p->kernel_k0;
    case SIM_KERNEL_FLAT:
        return 1.0;
    default:
        return 1.0 / (1.0 + exp((d - p->kernel_d0) / p->kernel_w));
    }
}

/* K tabulated at 4,097 points on [0, 2] (spacing 1/2048) and read with linear
 * interpolation; the table is part of the model and shared by every policy. */
void agora__sim_kernel_table(agora_sim *s) {
    for (int i = 0; i <= 4096; i++)
        s->ktab[i] = agora__sim_kernel_exact(&s->p, i / 2048.0);
}

void agora__sim_features(const agora_sim *s, uint32_t i, double o_i, uint32_t seq, int64_t t,
                         double x[SIM_NFEAT]) {
    uint32_t m = seq & s->mmask;
    double d = fabs(o_i - (double)s->m_o[m]);
    uint32_t a = s->m_author[m];
    x[0] = 1.0;
    x[1] = d;
    x[2] = d * d;
    x[3] = s->m_neg[m];
    x[4] = log1p((double)s->m_nrt[m]);
    x[5] = log1p((double)s->in_n[a]);
    x[6] = log1p((double)(t - s->m_t0[m]));
    x[7] = ((double)s->tot_rt[i] + 1.0) / ((double)s->tot_exp[i] + 50.0);
}

void agora_sim_learner_weights(const agora_sim *s, double w[AGORA_SIM_NFEAT]) {
    static_assert((int)AGORA_SIM_NFEAT == (int)SIM_NFEAT, "one feature list");
    memcpy(w, s->w, sizeof s->w);
}

double agora__sim_learned_p(const agora_sim *s, const double x[SIM_NFEAT], bool neg_neutral) {
    double z = 0;
    for (int f = 0; f < SIM_NFEAT; f++)
        z += (neg_neutral && f == 3 ? 0.0 : s->w[f]) * x[f];
    return 1.0 / (1.0 + exp(-z));
}

/* One SGD pass over the step's exposures in (reader, rank) order, or over a keyed
 * subsample of about learner_batch of them. Serial, so the result is exact. */
void agora__sim_learner_update(agora_sim *s) {
    const int k = s->k;
    double lr = s->p.learner_lr, l2 = s->p.learner_l2;
    double keep = 1.0;
    if (s->p.learner_batch > 0 && s->s_exp > s->p.learner_batch)
        keep = (double)s->p.learner_batch / (double)s->s_exp;
    uint64_t nidx = 0;
    for (int64_t i = 0; i < s->n; i++) {
        for (int r = 0; r < s->lnx[i]; r++, nidx++) {
            if (keep < 1.0 && agora__sim_u01(s->seed, SIM_S_LEARN, (uint32_t)s->t, nidx) >= keep)
                continue;
            const float *xf = &s->lx[((size_t)i * (size_t)k + (size_t)r) * SIM_NFEAT];
            double z = 0;
            for (int f = 0; f < SIM_NFEAT; f++)
                z += s->w[f] * xf[f];
            double g = 1.0 / (1.0 + exp(-z)) - s->ly[(size_t)i * (size_t)k + (size_t)r];
            for (int f = 0; f < SIM_NFEAT; f++)
                s->w[f] -= lr * (g * xf[f] + l2 * s->w[f]);
        }
    }
}
