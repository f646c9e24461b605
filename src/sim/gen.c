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
typedef struct alias_tab {
    double *prob;
    uint32_t *alias;
    uint32_t n;
} alias_tab;

static agora_err alias_build(alias_tab *a, const double *w, uint32_t n) {
    a->n = n;
    a->prob = agora_malloc(n * sizeof *a->prob);
    a->alias = agora_malloc(n * sizeof *a->alias);
    uint32_t *small = agora_malloc(n * sizeof *small), *large = agora_malloc(n * sizeof *large);
    if (!a->prob || !a->alias || !small || !large) {
        agora_free(small);
        agora_free(large);
        return AGORA_ENOMEM;
    }
    double sum = 0;
    for (uint32_t j = 0; j < n; j++)
        sum += w[j];
    uint32_t ns = 0, nl = 0;
    for (uint32_t j = 0; j < n; j++) {
        a->prob[j] = w[j] * n / sum;
        a->alias[j] = j;
        if (a->prob[j] < 1.0)
            small[ns++] = j;
        else
            large[nl++] = j;
    }
    while (ns > 0 && nl > 0) {
        uint32_t sj = small[--ns], lj = large[nl - 1];
        a->alias[sj] = lj;
        a->prob[lj] -= 1.0 - a->prob[sj];
        if (a->prob[lj] < 1.0) {
            nl--;
            small[ns++] = lj;
        }
    }
    while (nl > 0)
        a->prob[large[--nl]] = 1.0;
    while (ns > 0)
        a->prob[small[--ns]] = 1.0;
    agora_free(small);
    agora_free(large);
    return AGORA_OK;
}

static uint32_t alias_draw(const alias_tab *a, agora_rng *r) {
    double u = agora_rng_uniform(r) * a->n;
    uint32_t c = (uint32_t)u;
    if (c >= a->n)
        c = a->n - 1;
    return (u - c) < a->prob[c] ? c : a->alias[c];
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
        rc = alias_build(&at, fit, n);
        agora_free(fit);
        if (rc != AGORA_OK)
            goto done;
    }
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
        while (m < k && attempts++ < max_att) {
            uint32_t j = mode == SIM_GRAPH_ER ? agora_rng_below(&r, n) : alias_draw(&at, &r);
            if (j == i)
                continue;
            if (mode == SIM_GRAPH_FITNESS && isfinite(p->homophily_scale) &&
                p->homophily_scale < 1e299) {
                double acc = exp(-fabs(s->o[i] - s->o[j]) / p->homophily_scale);
                if (agora_rng_uniform(&r) >= acc)
                    continue;
            } else if (mode == SIM_GRAPH_DSBM && bloc_of(s->o[i]) != bloc_of(s->o[j])) {
                if (agora_rng_uniform(&r) >= 1.0 / p->dsbm_ratio)
                    continue;
            }
            sorted_insert(v, &m, j);
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
    agora_free(at.prob);
    agora_free(at.alias);
    if (rc != AGORA_OK)
        snprintf(err, AGORA_ERR_LEN, "sim: network generation failed: %s", agora_err_str(rc));
    return rc;
}
