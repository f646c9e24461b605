/* output.c: the run directory's per-agent table and SVG plots.
 *
 * Implements: agents.csv and four plots written as plain SVG text (no plotting library):
 * the opinion histogram over time (heat map), the distribution of A_i (ANB against the
 * pool), OR(q) for the three power measures, and the Lorenz curve of followers.
 * Does not: compute metrics (sim_metrics.c).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agora/alloc.h"
#include "agora/stream.h"
#include "sim/sim_internal.h"

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) AGORA_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->n + (size_t)w + 1)
            cap *= 2;
        char *q = agora_realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static agora_err sb_write(sbuf *b, const char *path) {
    char err[AGORA_ERR_LEN];
    agora_err rc = b->oom ? AGORA_ENOMEM : agora_write_file_atomic(path, b->p, b->n, err);
    agora_free(b->p);
    b->p = NULL;
    return rc;
}

agora_err agora_sim_write_agents_csv(const agora_sim *s, const char *path) {
    sbuf b = {0};
    sb_printf(&b, "id,o,tau,a,pi,followers_t0,followers,E,E_neg,C,C_neg,impressions,"
                  "retweets_made,retweets_received,toxic\n");
    for (int64_t i = 0; i < s->n; i++)
        sb_printf(&b, "%lld,%.6f,%.6f,%.6f,%.6f,%u,%u,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%d\n",
                  (long long)i, s->o[i], s->tau[i], s->act[i], s->pi[i], s->followers_t0[i],
                  s->in_n[i], (long long)s->E[i], (long long)s->En[i], (long long)s->C[i],
                  (long long)s->Cn[i], (long long)s->imp[i], (long long)s->rt_made[i],
                  (long long)s->rt_recv[i], s->toxic[i]);
    return sb_write(&b, path);
}

// ---- SVG helpers ----

enum { W_ = 640, H_ = 400, ML = 60, MR = 20, MT = 30, MB = 50 };

static void svg_begin(sbuf *b, const char *title) {
    sb_printf(&b[0],
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "font-family=\"sans-serif\" font-size=\"12\">\n"
              "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
              "<text x=\"%d\" y=\"18\" font-size=\"14\">%s</text>\n",
              W_, H_, ML, title);
}

static void svg_axes(sbuf *b, const char *xl, const char *yl, double x0, double x1, double y0,
                     double y1, bool logx) {
    sb_printf(b,
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n"
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
              ML, H_ - MB, W_ - MR, H_ - MB, ML, MT, ML, H_ - MB);
    sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (ML + W_ - MR) / 2,
              H_ - 12, xl);
    sb_printf(b,
              "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" "
              "text-anchor=\"middle\">%s</text>\n",
              (MT + H_ - MB) / 2, (MT + H_ - MB) / 2, yl);
    for (int k = 0; k <= 4; k++) {
        double fx = k / 4.0, fy = k / 4.0;
        double xv = logx ? pow(10, log10(x0) + fx * (log10(x1) - log10(x0))) : x0 + fx * (x1 - x0);
        double yv = y0 + fy * (y1 - y0);
        int px = ML + (int)(fx * (W_ - ML - MR)), py = H_ - MB - (int)(fy * (H_ - MT - MB));
        sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", px,
                  H_ - MB + 16, xv);
        sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", ML - 4, py + 4,
                  yv);
    }
}

static double sx(double f) {
    return ML + f * (W_ - ML - MR);
}
static double sy(double f) {
    return H_ - MB - f * (H_ - MT - MB);
}

static agora_err svg_opinions(const char *path, const agora_sim_stepstats *recs, size_t n) {
    sbuf b = {0};
    svg_begin(&b, "Opinion distribution over time (share per 0.1 bin)");
    svg_axes(&b, "step", "opinion", n ? (double)recs[0].t : 0, n ? (double)recs[n - 1].t : 1, -1, 1,
             false);
    double hmax = 1e-12;
    for (size_t r = 0; r < n; r++)
        for (int k = 0; k < AGORA_SIM_HIST_BINS; k++)
            hmax = fmax(hmax, recs[r].hist[k]);
    double cw = n ? (W_ - ML - MR) / (double)n : 1,
           ch = (H_ - MT - MB) / (double)AGORA_SIM_HIST_BINS;
    for (size_t r = 0; r < n; r++)
        for (int k = 0; k < AGORA_SIM_HIST_BINS; k++) {
            double v = recs[r].hist[k] / hmax;
            if (v <= 0)
                continue;
            int c = 255 - (int)(v * 255);
            sb_printf(&b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" "
                      "fill=\"rgb(%d,%d,255)\"/>\n",
                      ML + (double)r * cw, H_ - MB - (k + 1) * ch, cw + 0.3, ch + 0.3, c, c);
        }
    sb_printf(&b, "</svg>\n");
    return sb_write(&b, path);
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
    sbuf b = {0};
    svg_begin(&b, "ANB against the pool: A_i = NE_i / NP_i - 1 (clipped to [-1, 4])");
    svg_axes(&b, "A_i", "agents", lo, hi, 0, cmax, false);
    for (int k = 0; k < NB; k++)
        sb_printf(&b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" fill=\"#c0392b\"/>\n",
                  sx((double)k / NB), sy(cnt[k] / cmax), (W_ - ML - MR) / (double)NB - 1,
                  sy(0) - sy(cnt[k] / cmax));
    sb_printf(&b,
              "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"gray\" "
              "stroke-dasharray=\"4\"/>\n</svg>\n",
              sx(0.2), MT, sx(0.2), H_ - MB);
    return sb_write(&b, path);
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
    sbuf b = {0};
    svg_begin(&b, "Toxic over-representation OR(q) among the top q% by social power");
    svg_axes(&b, "q (%, log scale)", "OR(q)", 0.1, 100, 0, ymax, true);
    sb_printf(&b,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
              "stroke-dasharray=\"4\"/>\n",
              sx(0), sy(1 / ymax), sx(1), sy(1 / ymax));
    for (int pw = 0; pw < AGORA_SIM_NPOWER; pw++) {
        sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                  colors[pw]);
        for (int q = 0; q < AGORA_SIM_NQ; q++) {
            double o = agora_sim_or(sum, pw, q);
            if (isfinite(o))
                sb_printf(&b, "%.1f,%.1f ", sx(log10(agora_sim_q[q] / 0.1) / 3.0), sy(o / ymax));
        }
        sb_printf(&b, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", W_ - MR - 150,
                  MT + 16 * (pw + 1), colors[pw], agora_sim_power_names[pw]);
    }
    sb_printf(&b, "</svg>\n");
    return sb_write(&b, path);
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
    sbuf b = {0};
    char title[128];
    snprintf(title, sizeof title, "Lorenz curve of followers (Gini %.3f)", gini);
    svg_begin(&b, title);
    svg_axes(&b, "share of agents (ascending followers)", "share of followers", 0, 1, 0, 1, false);
    sb_printf(&b,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
              "stroke-dasharray=\"4\"/>\n",
              sx(0), sy(0), sx(1), sy(1));
    sb_printf(&b,
              "<polyline fill=\"none\" stroke=\"#8e44ad\" stroke-width=\"2\" points=\"%.1f,%.1f ",
              sx(0), sy(0));
    double acc = 0;
    int64_t stride = s->n / 400 + 1;
    for (int64_t i = 0; i < s->n; i++) {
        acc += f[i];
        if ((i + 1) % stride == 0 || i + 1 == s->n)
            sb_printf(&b, "%.1f,%.1f ", sx((double)(i + 1) / (double)s->n),
                      sy(tot > 0 ? acc / tot : 0));
    }
    sb_printf(&b, "\"/>\n</svg>\n");
    agora_free(f);
    return sb_write(&b, path);
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
