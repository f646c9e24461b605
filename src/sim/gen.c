/* gen.c: initial networks and agent attributes (spec §3.1, §3.3).
 *
 * Implements: opinions (blocs5, bimodal, uniform), toxicity ~ Beta with the optional
 * extremity coupling, activity and retweet propensity (lognormal), and the generators
 * fitness_homophily, dsbm and er. Agent i draws from its own streams (index i), so the
 * parallel loops give the same network for any thread count.
 * Does not: read files (import.c).
 */
#include <math.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "sim/sim_internal.h"

static double clamp1(double x) {
    return x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x);
}

/* Marsaglia-Tsang gamma(shape a, scale 1). */
static double gamma_draw(agora_rng *r, double a) {
    if (a < 1.0) {
        double u = agora_rng_uniform(r);
        return gamma_draw(r, a + 1.0) * pow(1.0 - u, 1.0 / a);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = agora_rng_normal(r), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = agora_rng_uniform(r);
        if (log(1.0 - u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

double agora__sim_beta_draw(agora_rng *r, double a, double b) {
    double x = gamma_draw(r, a), y = gamma_draw(r, b);
    return x / (x + y);
}

void agora__sim_init_attributes(agora_sim *s) {
    const agora_sim_params *p = &s->p;
    static const double centres[5] = {-0.8, -0.4, 0.0, 0.4, 0.8};
    static const double cum[5] = {0.15, 0.35, 0.65, 0.85, 1.0};
    const double mu_a = log(p->activity_mean > 0 ? p->activity_mean : 1e-300) -
                        0.5 * p->activity_logsd * p->activity_logsd;
    const double mu_pi = log(p->rt_base_median > 0 ? p->rt_base_median : 1e-300);
    AGORA__SIM_OMP("omp parallel for schedule(static)")
    for (int64_t i = 0; i < s->n; i++) {
        agora_rng r;
        agora_rng_seed(&r, s->seed, SIM_S_AGENT, (uint32_t)i);
        double u = agora_rng_uniform(&r), z = agora_rng_normal(&r);
        double o;
        if (p->opinion_init == SIM_OINIT_BIMODAL) {
            o = (u < 0.5 ? -0.5 : 0.5) + 0.2 * z;
        } else if (p->opinion_init == SIM_OINIT_UNIFORM) {
            o = 2.0 * u - 1.0;
        } else {
            int b = 0;
            while (b < 4 && u >= cum[b])
                b++;
            o = centres[b] + 0.1 * z;
        }
        s->o[i] = clamp1(o);
        s->tau[i] = agora__sim_beta_draw(&r, p->tox_init_a, p->tox_init_b);
        s->act[i] =
            p->activity_mean > 0 ? exp(mu_a + p->activity_logsd * agora_rng_normal(&r)) : 0.0;
        double pi =
            p->rt_base_median > 0 ? exp(mu_pi + p->rt_base_logsd * agora_rng_normal(&r)) : 0.0;
        s->pi[i] = pi < p->rt_base_cap ? pi : p->rt_base_cap;
    }
    if (p->tox_extremity > 0) {
        double mabs = 0;
        for (int64_t i = 0; i < s->n; i++)
            mabs += fabs(s->o[i]);
        mabs /= (double)s->n;
        for (int64_t i = 0; i < s->n; i++) {
            double t = s->tau[i];
            t = t < 1e-12 ? 1e-12 : (t > 1 - 1e-12 ? 1 - 1e-12 : t);
            double lg = log(t / (1 - t)) + p->tox_extremity * (fabs(s->o[i]) - mabs);
            s->tau[i] = 1.0 / (1.0 + exp(-lg));
        }
    }
}

// ---- alias table (Vose) over fitness weights ----
/* One column per cache line half: the threshold, the alias and the opinions of both
 * outcomes, so a proposal and its homophily test read one line. */
typedef struct alias_ent {
    double prob, o_self, o_alias;
    uint32_t alias, pad;
} alias_ent;
typedef struct alias_tab {
    alias_ent *e;
    uint32_t n;
} alias_tab;

static agora_err alias_build(alias_tab *a, const double *w, const double *o, uint32_t n) {
    a->n = n;
    a->e = agora_malloc_aligned(n * sizeof *a->e);
    uint32_t *small = agora_malloc(n * sizeof *small), *large = agora_malloc(n * sizeof *large);
    if (!a->e || !small || !large) {
        agora_free(small);
        agora_free(large);
        return AGORA_ENOMEM;
    }
    double sum = 0;
    for (uint32_t j = 0; j < n; j++)
        sum += w[j];
    uint32_t ns = 0, nl = 0;
    for (uint32_t j = 0; j < n; j++) {
        a->e[j].prob = w[j] * n / sum;
        a->e[j].alias = j;
        a->e[j].pad = 0;
        if (a->e[j].prob < 1.0)
            small[ns++] = j;
        else
            large[nl++] = j;
    }
    while (ns > 0 && nl > 0) {
        uint32_t sj = small[--ns], lj = large[nl - 1];
        a->e[sj].alias = lj;
        a->e[lj].prob -= 1.0 - a->e[sj].prob;
        if (a->e[lj].prob < 1.0) {
            nl--;
            small[ns++] = lj;
        }
    }
    while (nl > 0)
        a->e[large[--nl]].prob = 1.0;
    while (ns > 0)
        a->e[small[--ns]].prob = 1.0;
    for (uint32_t j = 0; j < n; j++) {
        a->e[j].o_self = o[j];
        a->e[j].o_alias = o[a->e[j].alias];
    }
    agora_free(small);
    agora_free(large);
    return AGORA_OK;
}

static inline uint32_t alias_col(const alias_tab *a, double u01) {
    uint32_t c = (uint32_t)(u01 * a->n);
    return c < a->n ? c : a->n - 1;
}

/* The draw j proportional to the weights for the uniform u01, with o[j] in *oj. */
static uint32_t alias_draw(const alias_tab *a, double u01, double *oj) {
    double u = u01 * a->n;
    uint32_t c = (uint32_t)u;
    if (c >= a->n)
        c = a->n - 1;
    const alias_ent *e = &a->e[c];
    if ((u - c) < e->prob) {
        *oj = e->o_self;
        return c;
    }
    *oj = e->o_alias;
    return e->alias;
}

/* Homophily acceptance u < exp(-x) (x = |o_i - o_j| / lambda_h) decided without exp() when u
 * is clear of the bracket [exp(-x_hi), exp(-x_lo)] of x's 1/64 interval (widened by 1e-12
 * relative, so the rounding of exp cannot flip a decision); exp() only near the edge. */
enum { HOMO_STEPS = 64 };
typedef struct homo_tab {
    double *e; /* e[b] = exp(-b / 64) */
    int nb;
} homo_tab;

static agora_err homo_build(homo_tab *h, double lambda) {
    double xmax = 2.0 / lambda; /* opinions lie in [-1, 1] */
    h->nb = xmax < 4096.0 ? (int)(xmax * HOMO_STEPS) + 2 : 0;
    h->e = h->nb ? agora_malloc((size_t)h->nb * sizeof *h->e) : NULL;
    if (h->nb && h->e == NULL)
        return AGORA_ENOMEM;
    for (int b = 0; b < h->nb; b++)
        h->e[b] = exp(-(double)b / HOMO_STEPS);
    return AGORA_OK;
}

static bool homo_accept(const homo_tab *h, double d, double lambda, double u) {
    double x = fabs(d) / lambda;
    double bx = x * HOMO_STEPS;
    if (bx < (double)(h->nb - 1)) {
        int b = (int)bx;
        if (u < h->e[b + 1] * (1.0 - 1e-12))
            return true;
        if (u >= h->e[b] * (1.0 + 1e-12))
            return false;
    }
    return u < exp(-fabs(d) / lambda);
}

/* Inserts j into the sorted array v[0..*n); false if present. */
static bool sorted_insert(uint32_t *v, uint32_t *n, uint32_t j) {
    uint32_t lo = 0, hi = *n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < *n && v[lo] == j)
        return false;
    memmove(&v[lo + 1], &v[lo], (*n - lo) * sizeof *v);
    v[lo] = j;
    (*n)++;
    return true;
}

static int bloc_of(double o) {
    int b = (int)((o + 1.0) / 0.4);
    return b < 0 ? 0 : (b > 4 ? 4 : b);
}

/* Out-lists for every agent, then In-lists by counting. */
agora_err agora__sim_generate(agora_sim *s, char err[AGORA_ERR_LEN]) {
    const agora_sim_params *p = &s->p;
    const uint32_t n = (uint32_t)s->n;
    const int mode = p->graph_init;
    const double kmax = fmin(500.0, (double)n - 1.0);
    alias_tab at = {0};
    homo_tab ht = {0};
    double *fit = NULL;
    agora_err rc = AGORA_OK;
    if (mode != SIM_GRAPH_ER) {
        fit = agora_malloc(n * sizeof *fit);
        if (fit == NULL)
            return AGORA_ENOMEM;
        for (uint32_t j = 0; j < n; j++) {
            double u = agora__sim_u01(s->seed, SIM_S_GRAPH | (1u << 16), j, 0);
            fit[j] = pow(1.0 - u, -1.0 / p->fitness_shape); /* Pareto(shape, scale 1) */
        }
        rc = alias_build(&at, fit, s->o, n);
        agora_free(fit);
        if (rc != AGORA_OK)
            goto done;
    }
    const bool homophily =
        mode == SIM_GRAPH_FITNESS && isfinite(p->homophily_scale) && p->homophily_scale < 1e299;
    if (homophily && (rc = homo_build(&ht, p->homophily_scale)) != AGORA_OK)
        goto done;
    const double mu_k = log(p->out_degree_mean) - 0.5 * 0.25;
    int failed = 0;
    int64_t short_agents = 0;
    AGORA__SIM_OMP("omp parallel for schedule(dynamic, 64) reduction(+ : failed, short_agents)")
    for (uint32_t i = 0; i < n; i++) {
        agora_rng r;
        agora_rng_seed(&r, s->seed, SIM_S_GRAPH, i);
        double kd;
        if (mode == SIM_GRAPH_ER) {
            kd = agora_rng_poisson(&r, p->out_degree_mean);
            if (kd > n - 1.0)
                kd = n - 1.0;
        } else {
            kd = exp(mu_k + 0.5 * agora_rng_normal(&r));
            kd = kd < 5 ? 5 : (kd > kmax ? kmax : kd);
            if (kd > n - 1.0)
                kd = n - 1.0;
        }
        uint32_t k = (uint32_t)kd, cap = k < 8 ? 8 : k;
        uint32_t *v = agora_malloc(cap * sizeof *v);
        int32_t *made = agora_malloc(cap * sizeof *made);
        int32_t *eng = agora_malloc(cap * sizeof *eng);
        if (!v || !made || !eng) {
            agora_free(v);
            agora_free(made);
            agora_free(eng);
            failed++;
            continue;
        }
        uint32_t m = 0;
        uint64_t attempts = 0, max_att = 1000u + 400u * (uint64_t)k;
        if (mode == SIM_GRAPH_ER) {
            while (m < k && attempts++ < max_att) {
                uint32_t j = agora_rng_below(&r, n);
                if (j != i)
                    sorted_insert(v, &m, j);
            }
        } else {
            /* i's stream is read LA uniforms ahead (same sequence; nothing else reads the
             * stream after this loop), so the alias column of a proposal a few ahead can
             * be prefetched: usually two uniforms per proposal (column, acceptance). */
            enum { LA = 16 };
            double ub[LA];
            for (int q = 0; q < LA; q++)
                ub[q] = agora_rng_uniform(&r);
            uint32_t pos = 0;
#define NEXT_U(u)                                                                                  \
    do {                                                                                           \
        (u) = ub[pos & (LA - 1)];                                                                  \
        ub[pos & (LA - 1)] = agora_rng_uniform(&r);                                                \
        pos++;                                                                                     \
    } while (0)
            while (m < k && attempts++ < max_att) {
                __builtin_prefetch(&at.e[alias_col(&at, ub[(pos + 8) & (LA - 1)])]);
                double u, oj;
                NEXT_U(u);
                uint32_t j = alias_draw(&at, u, &oj);
                if (j == i)
                    continue;
                if (homophily) {
                    NEXT_U(u);
                    if (!homo_accept(&ht, s->o[i] - oj, p->homophily_scale, u))
                        continue;
                } else if (mode == SIM_GRAPH_DSBM && bloc_of(s->o[i]) != bloc_of(oj)) {
                    NEXT_U(u);
                    if (u >= 1.0 / p->dsbm_ratio)
                        continue;
                }
                sorted_insert(v, &m, j);
            }
#undef NEXT_U
        }
        if (m < k)
            short_agents++;
        for (uint32_t a = 0; a < m; a++) {
            made[a] = -1;
            eng[a] = INT32_MIN;
        }
        s->out_v[i] = v;
        s->out_made[i] = made;
        s->out_eng[i] = eng;
        s->out_n[i] = m;
        s->out_cap[i] = cap;
    }
    if (failed) {
        rc = AGORA_ENOMEM;
        goto done;
    }
    if (short_agents > 0)
        AGORA_LOG_WARN(AGORA_SUB_SIM,
                       "%lld agents got fewer followees than drawn (small N or "
                       "strong homophily)",
                       (long long)short_agents);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < s->out_n[i]; a++)
            s->in_cap[s->out_v[i][a]]++;
    for (uint32_t j = 0; j < n; j++) {
        if (s->in_cap[j] < 8)
            s->in_cap[j] = 8;
        s->in_v[j] = agora_malloc(s->in_cap[j] * sizeof(uint32_t));
        if (s->in_v[j] == NULL) {
            rc = AGORA_ENOMEM;
            goto done;
        }
    }
    s->n_edges = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < s->out_n[i]; a++) {
            uint32_t j = s->out_v[i][a];
            s->in_v[j][s->in_n[j]++] = i;
            s->n_edges++;
        }
done:
    agora_free_aligned(at.e);
    agora_free(ht.e);
    if (rc != AGORA_OK)
        snprintf(err, AGORA_ERR_LEN, "sim: network generation failed: %s", agora_err_str(rc));
    return rc;
}
