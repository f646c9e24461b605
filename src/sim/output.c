/* output.c: the run directory's per-agent table and SVG plots.
 *
 * Implements: agents.csv and four plots written as plain SVG text (no plotting library):
 * the opinion histogram over time (heat map), the distribution of A_i (ANB against the
 * pool), OR(q) for the three power measures, and the Lorenz curve of followers.
 * Does not: compute metrics (sim_metrics.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "agora/alloc.h"
#include "agora/strbuf.h"
#include "agora/svg.h"
#include "sim/sim_internal.h"

/* write_text writes a formatted buffer to path atomically. */
static agora_err write_text(agora_sbuf *b, const char *path) {
    char err[AGORA_ERR_LEN];
    return agora_sbuf_write(b, path, err);
}

agora_err agora_sim_write_agents_csv(const agora_sim *s, const char *path) {
    agora_sbuf b = {0};
    agora_sbuf_printf(&b, "id,o,tau,a,pi,followers_t0,followers,E,E_neg,C,C_neg,impressions,"
                          "retweets_made,retweets_received,toxic\n");
    for (int64_t i = 0; i < s->n; i++)
        agora_sbuf_printf(
            &b, "%lld,%.6f,%.6f,%.6f,%.6f,%u,%u,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%d\n",
            (long long)i, s->o[i], s->tau[i], s->act[i], s->pi[i], s->followers_t0[i], s->in_n[i],
            (long long)s->E[i], (long long)s->En[i], (long long)s->C[i], (long long)s->Cn[i],
            (long long)s->imp[i], (long long)s->rt_made[i], (long long)s->rt_recv[i], s->toxic[i]);
    return write_text(&b, path);
}

// ---- plots (plain SVG through agora/svg.h) ----

/* The plot area in pixels: x from PX0 to PX1, y from PY0 (bottom) up to PY1 (top). */
#define PX0 agora_svg_px(0)
#define PX1 agora_svg_px(1)
#define PY0 agora_svg_py(0)
#define PY1 agora_svg_py(1)

static agora_err svg_opinions(const char *path, const agora_sim_stepstats *recs, size_t n) {
    agora_sbuf b = {0};
    agora_svg_begin(&b, "Opinion distribution over time (share per 0.1 bin)");
    agora_svg_axes(&b, "step", "opinion", n ? (double)recs[0].t : 0, n ? (double)recs[n - 1].t : 1,
                   -1, 1, false);
    double hmax = 1e-12;
    for (size_t r = 0; r < n; r++)
        for (int k = 0; k < AGORA_SIM_HIST_BINS; k++)
            hmax = fmax(hmax, recs[r].hist[k]);
    double cw = n ? (PX1 - PX0) / (double)n : 1, ch = (PY0 - PY1) / (double)AGORA_SIM_HIST_BINS;
    for (size_t r = 0; r < n; r++)
        for (int k = 0; k < AGORA_SIM_HIST_BINS; k++) {
            double v = recs[r].hist[k] / hmax;
            if (v <= 0)
                continue;
            int c = 255 - (int)(v * 255);
            agora_sbuf_printf(&b,
                              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" "
                              "fill=\"rgb(%d,%d,255)\"/>\n",
                              PX0 + (double)r * cw, PY0 - (k + 1) * ch, cw + 0.3, ch + 0.3, c, c);
        }
    agora_svg_end(&b);
    return write_text(&b, path);
}

static agora_err svg_anb(const char *path, const agora_sim *s) {
    enum { NB = 50 };
    const double lo = -1, hi = 4;
    double *v = agora_malloc((size_t)s->n * sizeof *v);
    if (v == NULL)
        return AGORA_ENOMEM;
    agora_sim_anb_pool_values(s, v);
    double cnt[NB] = {0}, cmax = 1;
    for (int64_t i = 0; i < s->n; i++) {
        if (!isfinite(v[i]))
            continue;
        int k = (int)((v[i] - lo) / (hi - lo) * NB);
        k = k < 0 ? 0 : (k >= NB ? NB - 1 : k);
        cnt[k] += 1;
    }
    agora_free(v);
    for (int k = 0; k < NB; k++)
        cmax = fmax(cmax, cnt[k]);
    agora_sbuf b = {0};
    agora_svg_begin(&b, "ANB against the pool: A_i = NE_i / NP_i - 1 (clipped to [-1, 4])");
    agora_svg_axes(&b, "A_i", "agents", lo, hi, 0, cmax, false);
    for (int k = 0; k < NB; k++)
        agora_sbuf_printf(
            &b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" fill=\"#c0392b\"/>\n",
            agora_svg_px((double)k / NB), agora_svg_py(cnt[k] / cmax), (PX1 - PX0) / (double)NB - 1,
            agora_svg_py(0) - agora_svg_py(cnt[k] / cmax));
    agora_sbuf_printf(&b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
                      "stroke-dasharray=\"4\"/>\n",
                      agora_svg_px(0.2), PY1, agora_svg_px(0.2), PY0);
    agora_svg_end(&b);
    return write_text(&b, path);
}

static agora_err svg_orq(const char *path, const agora_sim_summary *sum) {
    static const char *const colors[AGORA_SIM_NPOWER] = {"#c0392b", "#2980b9", "#27ae60"};
    double ymax = 2;
    for (int pw = 0; pw < AGORA_SIM_NPOWER; pw++)
        for (int q = 0; q < AGORA_SIM_NQ; q++) {
            double o = agora_sim_or(sum, pw, q);
            if (isfinite(o))
                ymax = fmax(ymax, o);
        }
    ymax = ceil(ymax);
    agora_sbuf b = {0};
    agora_svg_begin(&b, "Toxic over-representation OR(q) among the top q% by social power");
    agora_svg_axes(&b, "q (%, log scale)", "OR(q)", 0.1, 100, 0, ymax, true);
    agora_sbuf_printf(&b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
                      "stroke-dasharray=\"4\"/>\n",
                      agora_svg_px(0), agora_svg_py(1 / ymax), agora_svg_px(1),
                      agora_svg_py(1 / ymax));
    for (int pw = 0; pw < AGORA_SIM_NPOWER; pw++) {
        agora_sbuf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                          colors[pw]);
        for (int q = 0; q < AGORA_SIM_NQ; q++) {
            double o = agora_sim_or(sum, pw, q);
            if (isfinite(o))
                agora_sbuf_printf(&b, "%.1f,%.1f ", agora_svg_px(log10(agora_sim_q[q] / 0.1) / 3.0),
                                  agora_svg_py(o / ymax));
        }
        agora_sbuf_printf(&b, "\"/>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n",
                          PX1 - 150, PY1 + 16 * (pw + 1), colors[pw], agora_sim_power_names[pw]);
    }
    agora_svg_end(&b);
    return write_text(&b, path);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static agora_err svg_lorenz(const char *path, const agora_sim *s, double gini) {
    uint32_t *f = agora_malloc((size_t)s->n * sizeof *f);
    if (f == NULL)
        return AGORA_ENOMEM;
    memcpy(f, s->in_n, (size_t)s->n * sizeof *f);
    qsort(f, (size_t)s->n, sizeof *f, cmp_u32);
    double tot = 0;
    for (int64_t i = 0; i < s->n; i++)
        tot += f[i];
    agora_sbuf b = {0};
    char title[128];
    snprintf(title, sizeof title, "Lorenz curve of followers (Gini %.3f)", gini);
    agora_svg_begin(&b, title);
    agora_svg_axes(&b, "share of agents (ascending followers)", "share of followers", 0, 1, 0, 1,
                   false);
    agora_sbuf_printf(&b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
                      "stroke-dasharray=\"4\"/>\n",
                      agora_svg_px(0), agora_svg_py(0), agora_svg_px(1), agora_svg_py(1));
    agora_sbuf_printf(
        &b, "<polyline fill=\"none\" stroke=\"#8e44ad\" stroke-width=\"2\" points=\"%.1f,%.1f ",
        agora_svg_px(0), agora_svg_py(0));
    double acc = 0;
    int64_t stride = s->n / 400 + 1;
    for (int64_t i = 0; i < s->n; i++) {
        acc += f[i];
        if ((i + 1) % stride == 0 || i + 1 == s->n)
            agora_sbuf_printf(&b, "%.1f,%.1f ", agora_svg_px((double)(i + 1) / (double)s->n),
                              agora_svg_py(tot > 0 ? acc / tot : 0));
    }
    agora_sbuf_printf(&b, "\"/>\n");
    agora_svg_end(&b);
    agora_free(f);
    return write_text(&b, path);
}

agora_err agora_sim_write_svgs(const agora_sim *s, const char *dir, const agora_sim_stepstats *recs,
                               size_t n_rec, const agora_sim_summary *sum) {
    char path[4200];
    snprintf(path, sizeof path, "%s/opinions.svg", dir);
    AGORA_TRY(svg_opinions(path, recs, n_rec));
    snprintf(path, sizeof path, "%s/anb.svg", dir);
    AGORA_TRY(svg_anb(path, s));
    snprintf(path, sizeof path, "%s/orq.svg", dir);
    AGORA_TRY(svg_orq(path, sum));
    snprintf(path, sizeof path, "%s/lorenz.svg", dir);
    return svg_lorenz(path, s, sum->gini[2]);
}
