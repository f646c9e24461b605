/* sim_metrics.c: exposure, polarisation, social power and engagement metrics (spec §12).
 *
 * Implements: the per-step record, the run summary over the window [T0, T), ANB against
 * the pool and against a chronological branch, OR(q), Gini and top-1% shares. All sums run
 * in agent order, so every figure is reproducible.
 * Does not: pool replicates or print (tools/cmd_sim.c).
 */
#include <math.h>
#include <stdlib.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

const double agora_sim_q[AGORA_SIM_NQ] = {0.1, 0.5, 1, 5, 10, 50, 100};
const char *const agora_sim_power_names[AGORA_SIM_NPOWER] = {"retweets_received", "impressions",
                                                             "followers"};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static double quantile_sorted(const double *v, size_t n, double q) {
    if (n == 0)
        return NAN;
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)h;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* Fills d from vals (NaN = dropped). Sorts a copy. */
static agora_err dist_of(const double *vals, size_t n, agora_sim_dist *d) {
    double *v = agora_malloc((n ? n : 1) * sizeof *v);
    if (v == NULL)
        return AGORA_ENOMEM;
    size_t m = 0;
    double sum = 0;
    int64_t ge1 = 0, ge3 = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(vals[i])) {
            v[m++] = vals[i];
            sum += vals[i];
            ge1 += vals[i] >= 1.0;
            ge3 += vals[i] >= 3.0;
        }
    qsort(v, m, sizeof *v, cmp_double);
    d->n = (int64_t)m;
    d->dropped = (int64_t)(n - m);
    d->mean = m ? sum / (double)m : NAN;
    d->median = quantile_sorted(v, m, 0.5);
    d->p90 = quantile_sorted(v, m, 0.9);
    d->p99 = quantile_sorted(v, m, 0.99);
    d->max = m ? v[m - 1] : NAN;
    d->share_ge1 = m ? (double)ge1 / (double)m : NAN;
    d->share_ge3 = m ? (double)ge3 / (double)m : NAN;
    agora_free(v);
    return AGORA_OK;
}

// ---- opinion distribution ----

typedef struct moments {
    double mean, var, mean_abs, extremist, bc;
} moments;

static moments opinion_moments(const double *o, int64_t n) {
    moments r = {0, 0, 0, 0, NAN};
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m += o[i];
    m /= (double)n;
    double m2 = 0, m3 = 0, m4 = 0, ma = 0;
    int64_t ext = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = o[i] - m, d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        ma += fabs(o[i]);
        ext += fabs(o[i]) > 0.8;
    }
    double nn = (double)n;
    r.mean = m;
    r.var = m2 / nn;
    r.mean_abs = ma / nn;
    r.extremist = (double)ext / nn;
    if (n > 3 && m2 > 0) {
        double s2 = m2 / (nn - 1), s = sqrt(s2);
        double g = nn / ((nn - 1) * (nn - 2)) * (m3 / (s2 * s));
        double corr = 3.0 * (nn - 1) * (nn - 1) / ((nn - 2) * (nn - 3));
        double kurt = nn * (nn + 1) / ((nn - 1) * (nn - 2) * (nn - 3)) * (m4 / (s2 * s2)) - corr;
        r.bc = (g * g + 1.0) / (kurt + corr);
    }
    return r;
}

static void opinion_hist(const double *o, int64_t n, double *h) {
    for (int b = 0; b < AGORA_SIM_HIST_BINS; b++)
        h[b] = 0;
    for (int64_t i = 0; i < n; i++) {
        int b = (int)((o[i] + 1.0) / 0.1);
        b = b < 0 ? 0 : (b >= AGORA_SIM_HIST_BINS ? AGORA_SIM_HIST_BINS - 1 : b);
        h[b] += 1.0 / (double)n;
    }
}

static double assortativity(const agora_sim *s) {
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, E = 0;
    for (int64_t i = 0; i < s->n; i++)
        for (uint32_t a = 0; a < s->out_n[i]; a++) {
            double x = s->o[i], y = s->o[s->out_v[i][a]];
            sx += x;
            sy += y;
            sxx += x * x;
            syy += y * y;
            sxy += x * y;
            E += 1;
        }
    if (E < 2)
        return NAN;
    double cov = sxy / E - (sx / E) * (sy / E);
    double vx = sxx / E - (sx / E) * (sx / E), vy = syy / E - (sy / E) * (sy / E);
    return vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN;
}

/* Gini of x[n] (sorted ascending in place) and the top-1% share. */
static void gini_top1(double *x, int64_t n, double *gini, double *top1) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    double sum = 0, acc = 0;
    for (int64_t r = 0; r < n; r++) {
        sum += x[r];
        acc += (2.0 * (double)(r + 1) - (double)n - 1.0) * x[r];
    }
    *gini = sum > 0 ? acc / ((double)n * sum) : NAN;
    int64_t top = (n + 99) / 100;
    double ts = 0;
    for (int64_t r = n - top; r < n; r++)
        ts += x[r];
    *top1 = sum > 0 ? ts / sum : NAN;
}

void agora_sim_stepstats_compute(const agora_sim *s, agora_sim_stepstats *out) {
    memset(out, 0, sizeof *out);
    out->t = s->t;
    out->exposures = s->s_exp;
    out->neg_exposures = s->s_neg;
    out->pool_items = s->s_pool;
    out->neg_pool_items = s->s_negpool;
    out->retweets = s->s_rt;
    out->edges = s->n_edges;
    out->ne_feed = s->s_exp ? (double)s->s_neg / (double)s->s_exp : NAN;
    out->ne_pool = s->s_pool ? (double)s->s_negpool / (double)s->s_pool : NAN;
    out->rpe = s->s_exp ? (double)s->s_rt / (double)s->s_exp : NAN;
    moments m = opinion_moments(s->o, s->n);
    out->o_mean = m.mean;
    out->o_var = m.var;
    out->o_mean_abs = m.mean_abs;
    out->extremist = m.extremist;
    out->bc = m.bc;
    out->r_o = assortativity(s);
    opinion_hist(s->o, s->n, out->hist);
    double *x = agora_malloc((size_t)s->n * sizeof *x);
    out->gini_followers = NAN;
    if (x != NULL) {
        double top1;
        for (int64_t i = 0; i < s->n; i++)
            x[i] = s->in_n[i];
        gini_top1(x, s->n, &out->gini_followers, &top1);
        agora_free(x);
    }
}

// ---- social power and OR(q) ----

typedef struct idx_val {
    double v;
    uint32_t i;
} idx_val;

static int cmp_power(const void *a, const void *b) {
    const idx_val *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i ? 1 : 0);
}

static double power_of(const agora_sim *s, int pw, int64_t i) {
    if (pw == 0)
        return (double)s->rt_recv[i];
    if (pw == 1)
        return (double)s->imp[i];
    return (double)s->in_n[i];
}

static agora_err power_metrics(const agora_sim *s, agora_sim_summary *out) {
    const int64_t n = s->n;
    idx_val *iv = agora_malloc((size_t)n * sizeof *iv);
    double *x = agora_malloc((size_t)n * sizeof *x);
    if (iv == NULL || x == NULL) {
        agora_free(iv);
        agora_free(x);
        return AGORA_ENOMEM;
    }
    out->n_toxic = 0;
    for (int64_t i = 0; i < n; i++)
        out->n_toxic += s->toxic[i];
    for (int pw = 0; pw < AGORA_SIM_NPOWER; pw++) {
        for (int64_t i = 0; i < n; i++) {
            iv[i].v = power_of(s, pw, i);
            iv[i].i = (uint32_t)i;
            x[i] = iv[i].v;
        }
        gini_top1(x, n, &out->gini[pw], &out->top1[pw]);
        qsort(iv, (size_t)n, sizeof *iv, cmp_power);
        for (int q = 0; q < AGORA_SIM_NQ; q++) {
            int64_t top = (int64_t)ceil(agora_sim_q[q] * (double)n / 100.0 - 1e-9);
            if (top < 1)
                top = 1;
            int64_t hit = 0;
            for (int64_t r = 0; r < top; r++)
                hit += s->toxic[iv[r].i];
            out->or_hit[pw][q] = hit;
            out->or_top[pw][q] = top;
        }
    }
    agora_free(iv);
    agora_free(x);
    return AGORA_OK;
}

double agora_sim_or(const agora_sim_summary *s, int power, int qi) {
    if (s->or_top[power][qi] == 0 || s->n_toxic == 0)
        return NAN;
    return ((double)s->or_hit[power][qi] / (double)s->or_top[power][qi]) /
           ((double)s->n_toxic / (double)s->n);
}

void agora_sim_anb_pool_values(const agora_sim *s, double *vals) {
    for (int64_t i = 0; i < s->n; i++) {
        vals[i] = NAN;
        if (s->E[i] < s->p.anb_min_exposures || s->Cn[i] == 0 || s->C[i] == 0)
            continue;
        double ne = (double)s->En[i] / (double)s->E[i];
        double np = (double)s->Cn[i] / (double)s->C[i];
        vals[i] = ne / np - 1.0;
    }
}

agora_err agora_sim_anb_vs(const agora_sim *p, const agora_sim *base, agora_sim_dist *out,
                           double *pop, double *vals) {
    if (p->n != base->n)
        return AGORA_ESHAPE;
    double *v = vals ? vals : agora_malloc((size_t)p->n * sizeof *v);
    if (v == NULL)
        return AGORA_ENOMEM;
    int64_t ep = 0, np = 0, eb = 0, nb = 0;
    for (int64_t i = 0; i < p->n; i++) {
        ep += p->E[i];
        np += p->En[i];
        eb += base->E[i];
        nb += base->En[i];
        v[i] = NAN;
        int64_t nmin = p->p.anb_min_exposures;
        if (p->E[i] < nmin || base->E[i] < nmin || base->En[i] == 0)
            continue;
        v[i] =
            ((double)p->En[i] / (double)p->E[i]) / ((double)base->En[i] / (double)base->E[i]) - 1.0;
    }
    *pop = (ep && eb && nb) ? ((double)np / (double)ep) / ((double)nb / (double)eb) - 1.0 : NAN;
    agora_err rc = dist_of(v, (size_t)p->n, out);
    if (vals == NULL)
        agora_free(v);
    return rc;
}

// ---- structure ----

static void camp_structure(const agora_sim *s, agora_sim_summary *out) {
    double e_cc[2] = {0, 0}, outc[2] = {0, 0}, inc[2] = {0, 0}, E = 0, X = 0, I = 0;
    const double cs = s->p.camp_split;
    for (int64_t i = 0; i < s->n; i++) {
        int ci = s->o[i] >= cs;
        for (uint32_t a = 0; a < s->out_n[i]; a++) {
            int cj = s->o[s->out_v[i][a]] >= cs;
            E += 1;
            outc[ci] += 1;
            inc[cj] += 1;
            if (ci == cj) {
                e_cc[ci] += 1;
                I += 1;
            } else {
                X += 1;
            }
        }
    }
    out->modularity =
        E > 0 ? e_cc[0] / E - outc[0] * inc[0] / (E * E) + e_cc[1] / E - outc[1] * inc[1] / (E * E)
              : NAN;
    out->ei_index = X + I > 0 ? (X - I) / (X + I) : NAN;
}

static double esteban_ray(const double *h) {
    const double alpha = 1.6;
    double p = 0;
    for (int a = 0; a < AGORA_SIM_HIST_BINS; a++)
        for (int b = 0; b < AGORA_SIM_HIST_BINS; b++)
            p += pow(h[a], 1.0 + alpha) * h[b] * fabs((a - b) * 0.1);
    return p;
}

agora_err agora_sim_summarize(const agora_sim *s, agora_sim_summary *out) {
    memset(out, 0, sizeof *out);
    out->t0 = s->t0;
    out->t = s->t;
    out->n = s->n;
    for (int64_t i = 0; i < s->n; i++) {
        out->exposures += s->E[i];
        out->neg_exposures += s->En[i];
        out->pool_items += s->C[i];
        out->neg_pool_items += s->Cn[i];
        out->retweets += s->rt_made[i];
    }
    out->ne_feed = out->exposures ? (double)out->neg_exposures / (double)out->exposures : NAN;
    out->ne_pool = out->pool_items ? (double)out->neg_pool_items / (double)out->pool_items : NAN;
    out->rpe = out->exposures ? (double)out->retweets / (double)out->exposures : NAN;
    int64_t cross = 0;
    for (int64_t i = 0; i < s->n; i++)
        cross += s->Ex[i];
    out->cross_camp_share = out->exposures ? (double)cross / (double)out->exposures : NAN;
    out->louvain_q = NAN;
    if (s->p.louvain)
        AGORA_TRY(agora__sim_louvain(s, &out->louvain_q, &out->louvain_communities, NULL));
    double *v = agora_malloc((size_t)s->n * sizeof *v);
    if (v == NULL)
        return AGORA_ENOMEM;
    agora_sim_anb_pool_values(s, v);
    agora_err rc = dist_of(v, (size_t)s->n, &out->anb_pool);
    agora_free(v);
    AGORA_TRY(rc);
    moments m = opinion_moments(s->o, s->n);
    out->o_var = m.var;
    out->o_mean_abs = m.mean_abs;
    out->extremist = m.extremist;
    out->bc = m.bc;
    double h[AGORA_SIM_HIST_BINS];
    opinion_hist(s->o, s->n, h);
    out->esteban_ray = esteban_ray(h);
    out->r_o = assortativity(s);
    camp_structure(s, out);
    AGORA_TRY(power_metrics(s, out));
    double gt = 0, go = 0;
    int64_t nt = 0, no = 0;
    for (int64_t i = 0; i < s->n; i++) {
        double g = (double)s->in_n[i] - (double)s->followers_t0[i];
        if (s->toxic[i]) {
            gt += g;
            nt++;
        } else {
            go += g;
            no++;
        }
    }
    out->follower_gain_toxic = nt ? gt / (double)nt : NAN;
    out->follower_gain_other = no ? go / (double)no : NAN;
    out->cascade_mean = s->casc_n ? (double)s->casc_sum / (double)s->casc_n : NAN;
    out->cascade_max = (double)s->casc_max;
    out->cascade_p99 = NAN;
    if (s->casc_n > 0) {
        int64_t need = (99 * s->casc_n + 99) / 100, seen = 0; /* ceil(0.99 n) */
        for (int x = 0; x < SIM_CASC_BINS; x++) {
            seen += s->casc_hist[x];
            if (seen >= need) {
                out->cascade_p99 = x;
                break;
            }
        }
    }
    return AGORA_OK;
}
