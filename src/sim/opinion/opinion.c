/* opinion.c: opinion updates (spec §6 and the negativity-driven variants of §15.1).
 *
 * Implements: the per-item move (Deffuant, emotional pull, repulsion, backfire) and the
 * once-per-step Hegselmann-Krause / DeGroot average. `none` leaves opinions alone.
 * Does not: choose which items influence (sim.c: influence_on) or draw the drift.
 */
#include <math.h>

#include "sim/sim_internal.h"

static inline double clamp1(double x) {
    return x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x);
}

/* One influencing item m on reader i (o_i in place). Readers never move authors. */
void agora__sim_opinion_item(const agora_sim_params *p, double *o_i, double o_m, int neg,
                             double camp_split) {
    double o = *o_i, d = o_m - o;
    if (p->opinion_model == SIM_OPINION_DEFFUANT && fabs(d) < p->bc_eps) {
        /* emotional pull (15.1 b): negative in-group content pulls with mu_neg */
        bool same_camp = (o < camp_split) == (o_m < camp_split);
        double mu = (neg && same_camp && p->mu_neg > 0) ? p->mu_neg : p->bc_mu;
        o += mu * d;
    }
    if (p->repulsion && fabs(d) > p->rep_eps && (!p->rep_neg_only || neg))
        o -= p->rep_mu * (d > 0 ? 1.0 : -1.0) * (1.0 - fabs(o));
    if (p->backfire && neg && ((o < camp_split) != (o_m < camp_split)))
        o -= p->backfire_mu * (d > 0 ? 1.0 : -1.0) * (1.0 - fabs(o));
    *o_i = clamp1(o);
}

/* HK: o <- (1 - mu) o + mu * mean(o and the items within bc_eps); DeGroot: no bound. */
void agora__sim_opinion_hk(const agora_sim_params *p, double *o_i, const double *om, size_t n) {
    double o0 = *o_i, sum = o0, eps = p->opinion_model == SIM_OPINION_DEGROOT ? 3.0 : p->bc_eps;
    size_t cnt = 1;
    for (size_t j = 0; j < n; j++)
        if (fabs(om[j] - o0) < eps) {
            sum += om[j];
            cnt++;
        }
    *o_i = clamp1((1.0 - p->hk_mu) * o0 + p->hk_mu * sum / (double)cnt);
}
