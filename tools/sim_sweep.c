/* sim_sweep.c: `agora sim sweep`, a policy comparison at every point of a parameter grid.
 *
 * Each --vary KEY=V1,V2,... adds a dimension; the grid is their product (the first key
 * varies slowest). Every cell runs what `agora sim compare` runs with those settings (the
 * same seeds in every cell, so cells differ only by the swept values), saves each finished
 * replicate under cell-NNN/, and --resume carries on after them. At the end the run
 * directory gets sweep.csv (one row per cell, replicate and policy), sweep_summary.csv
 * (mean and 95% bootstrap CI per cell, policy and metric) and one SVG per headline metric
 * against the first swept key.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/rundir.h"
#include "agora/stream.h"
#include "agora/strbuf.h"
#include "agora/svg.h"
#include "agora/time.h"
#include "sim_cmp.h"

enum { SW_MAXK = 4, SW_MAXV = 64, SW_MAXCELLS = 1024, SW_MAXP = 16 };

typedef struct sw_key {
    char name[128];
    char *vals[SW_MAXV]; /* into text */
    int nv;
    char text[1024];
    bool numeric; /* every value reads as a finite number */
    double x[SW_MAXV];
} sw_key;

typedef struct sweep {
    sw_key key[SW_MAXK];
    int nk, nc, np, pol[SW_MAXP];
    int head[C_N], nh; /* the metrics printed and plotted */
    int64_t R;
    agora_sim_params *cells; /* nc */
    double *rows;            /* nc x R x np x C_N */
} sweep;

/* The headline metrics printed, and plotted against the first key, unless --metrics names
 * others. */
static const int k_head[] = {C_ANB_POP, C_ANB_P99, C_NE_FEED, C_OR1_RT, C_VAR, C_RPE};
#define N_HEAD (sizeof k_head / sizeof k_head[0])

/* --metrics id,id,...: the ids of sweep_summary.csv */
static int parse_metrics(const char *cmd, const char *list, sweep *w) {
    w->nh = 0;
    if (list == NULL) {
        for (size_t h = 0; h < N_HEAD; h++)
            w->head[w->nh++] = k_head[h];
        return 0;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int m = -1;
        for (int i = 0; i < C_N && m < 0; i++)
            if (strcmp(sim_cmp_ids[i], tok) == 0)
                m = i;
        if (m < 0)
            return agora_cli_usage(cmd,
                                   "--metrics: unknown metric '%s' (the ids of "
                                   "sweep_summary.csv, e.g. anb_pop, bimodality, rpe)",
                                   tok);
        for (int i = 0; i < w->nh; i++)
            if (w->head[i] == m)
                return agora_cli_usage(cmd, "--metrics: '%s' listed twice", tok);
        w->head[w->nh++] = m;
    }
    if (w->nh == 0)
        return agora_cli_usage(cmd, "--metrics is empty");
    return 0;
}

static int parse_vary(const char *cmd, const char *s, sw_key *k) {
    const char *eq = strchr(s, '=');
    if (eq == NULL || eq == s)
        return agora_cli_usage(cmd, "--vary '%s': expected KEY=V1,V2,...", s);
    if ((size_t)(eq - s) >= sizeof k->name)
        return agora_cli_usage(cmd, "--vary: key too long");
    memcpy(k->name, s, (size_t)(eq - s));
    k->name[eq - s] = '\0';
    if (strncmp(k->name, "sim.", 4) != 0)
        return agora_cli_usage(cmd, "--vary %s: only sim.* keys can be swept", k->name);
    if (strcmp(k->name, "sim.replicates") == 0)
        return agora_cli_usage(cmd, "--vary sim.replicates: use --replicates instead");
    if (strlen(eq + 1) >= sizeof k->text)
        return agora_cli_usage(cmd, "--vary %s: value list too long", k->name);
    snprintf(k->text, sizeof k->text, "%s", eq + 1);
    k->nv = 0;
    k->numeric = true;
    char *p = k->text;
    for (;;) {
        char *c = strchr(p, ',');
        if (c != NULL)
            *c = '\0';
        if (*p == '\0')
            return agora_cli_usage(cmd, "--vary %s: empty value in the list", k->name);
        if (k->nv >= SW_MAXV)
            return agora_cli_usage(cmd, "--vary %s: more than %d values", k->name, SW_MAXV);
        for (int i = 0; i < k->nv; i++)
            if (strcmp(k->vals[i], p) == 0)
                return agora_cli_usage(cmd, "--vary %s: value '%s' listed twice", k->name, p);
        char *end = NULL;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || *end != '\0' || errno != 0 || !isfinite(x))
            k->numeric = false;
        k->x[k->nv] = x;
        k->vals[k->nv++] = p;
        if (c == NULL)
            break;
        p = c + 1;
    }
    return 0;
}

/* The value index of key j in cell c (the last key varies fastest). */
static int cell_val(const sweep *w, int c, int j) {
    for (int i = w->nk - 1; i > j; i--)
        c /= w->key[i].nv;
    return c % w->key[j].nv;
}

static void cell_label(const sweep *w, int c, char *out, size_t len) {
    size_t n = 0;
    out[0] = '\0';
    for (int j = 0; j < w->nk && n < len; j++)
        n += (size_t)snprintf(out + n, len - n, "%s%s=%s", j ? " " : "", w->key[j].name,
                              w->key[j].vals[cell_val(w, c, j)]);
}

/* The --vary list as one canonical text: what a resumed sweep must match. */
static void vary_text(const sweep *w, agora_sbuf *b) {
    for (int j = 0; j < w->nk; j++) {
        agora_sbuf_printf(b, "%s=", w->key[j].name);
        for (int v = 0; v < w->key[j].nv; v++)
            agora_sbuf_printf(b, "%s%s", v ? "," : "", w->key[j].vals[v]);
        agora_sbuf_printf(b, "\n");
    }
}

static double *row_at(const sweep *w, int c, int64_t r, int k) {
    return &w->rows[(((size_t)c * (size_t)w->R + (size_t)r) * (size_t)w->np + (size_t)k) * C_N];
}

static void cell_stat(const sweep *w, int c, int k, int m, double *mean, double *lo, double *hi) {
    double col[4096];
    int n = 0;
    for (int64_t r = 0; r < w->R && n < 4096; r++)
        col[n++] = row_at(w, c, r, k)[m];
    sim_mean_ci(col, n, mean, lo, hi);
}

static agora_err write_csvs(const sweep *w, const char *dir, char err[AGORA_ERR_LEN]) {
    char path[4200];
    agora_sbuf b = {0};
    agora_sbuf_printf(&b, "cell");
    for (int j = 0; j < w->nk; j++)
        agora_sbuf_printf(&b, ",%s", w->key[j].name);
    agora_sbuf_printf(&b, ",replicate,policy");
    for (int m = 0; m < C_N; m++)
        agora_sbuf_printf(&b, ",%s", sim_cmp_ids[m]);
    agora_sbuf_printf(&b, "\n");
    for (int c = 0; c < w->nc; c++)
        for (int64_t r = 0; r < w->R; r++)
            for (int k = 0; k < w->np; k++) {
                agora_sbuf_printf(&b, "%d", c);
                for (int j = 0; j < w->nk; j++)
                    agora_sbuf_printf(&b, ",%s", w->key[j].vals[cell_val(w, c, j)]);
                agora_sbuf_printf(&b, ",%lld,%s", (long long)r, agora_sim_recsys_name(w->pol[k]));
                const double *row = row_at(w, c, r, k);
                for (int m = 0; m < C_N; m++)
                    agora_sbuf_printf(&b, ",%.6g", row[m]);
                agora_sbuf_printf(&b, "\n");
            }
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    AGORA_TRY(agora_sbuf_write(&b, path, err));
    agora_sbuf_printf(&b, "cell");
    for (int j = 0; j < w->nk; j++)
        agora_sbuf_printf(&b, ",%s", w->key[j].name);
    agora_sbuf_printf(&b, ",policy,metric,mean,ci_lo,ci_hi,replicates\n");
    for (int c = 0; c < w->nc; c++)
        for (int k = 0; k < w->np; k++)
            for (int m = 0; m < C_N; m++) {
                double mean, lo, hi;
                cell_stat(w, c, k, m, &mean, &lo, &hi);
                agora_sbuf_printf(&b, "%d", c);
                for (int j = 0; j < w->nk; j++)
                    agora_sbuf_printf(&b, ",%s", w->key[j].vals[cell_val(w, c, j)]);
                agora_sbuf_printf(&b, ",%s,%s,%.6g,%.6g,%.6g,%lld\n",
                                  agora_sim_recsys_name(w->pol[k]), sim_cmp_ids[m], mean, lo, hi,
                                  (long long)w->R);
            }
    snprintf(path, sizeof path, "%s/sweep_summary.csv", dir);
    return agora_sbuf_write(&b, path, err);
}

/* One SVG per headline metric: its mean and CI against the first key, one line per policy
 * and combination of the other keys' values. */
static agora_err write_plots(const sweep *w, const char *dir, char err[AGORA_ERR_LEN]) {
    const sw_key *k0 = &w->key[0];
    int rest = w->nc / k0->nv; /* combinations of the other keys */
    int ns = rest * w->np;
    agora_svg_series *s = agora_calloc((size_t)ns, sizeof *s);
    double *buf = agora_calloc((size_t)ns * 4 * (size_t)k0->nv, sizeof *buf);
    char(*names)[256] = agora_calloc((size_t)ns, sizeof *names);
    agora_err rc = s && buf && names ? AGORA_OK : AGORA_ENOMEM;
    char xl[512];
    if (k0->numeric) {
        snprintf(xl, sizeof xl, "%s", k0->name);
    } else { /* categorical values at 0, 1, 2, ... named in the axis label */
        size_t n = (size_t)snprintf(xl, sizeof xl, "%s:", k0->name);
        for (int v = 0; v < k0->nv && n < sizeof xl; v++)
            n += (size_t)snprintf(xl + n, sizeof xl - n, " %d=%s", v, k0->vals[v]);
    }
    for (int h = 0; h < w->nh && rc == AGORA_OK; h++) {
        int m = w->head[h];
        for (int o = 0; o < rest; o++)
            for (int k = 0; k < w->np; k++) {
                int si = o * w->np + k;
                double *x = buf + (size_t)si * 4 * (size_t)k0->nv, *y = x + k0->nv,
                       *lo = y + k0->nv, *hi = lo + k0->nv;
                for (int v = 0; v < k0->nv; v++) {
                    int c = v * rest + o;
                    x[v] = k0->numeric ? k0->x[v] : v;
                    cell_stat(w, c, k, m, &y[v], &lo[v], &hi[v]);
                    if (sim_cmp_pct[m]) {
                        y[v] *= 100;
                        lo[v] *= 100;
                        hi[v] *= 100;
                    }
                }
                size_t n = (size_t)snprintf(names[si], sizeof names[si], "%s",
                                            agora_sim_recsys_name(w->pol[k]));
                for (int j = 1; j < w->nk && n < sizeof names[si]; j++)
                    n += (size_t)snprintf(names[si] + n, sizeof names[si] - n, ", %s=%s",
                                          w->key[j].name + 4, /* without "sim." */
                                          w->key[j].vals[cell_val(w, o, j)]);
                s[si] = (agora_svg_series){
                    .name = names[si], .x = x, .y = y, .n = (size_t)k0->nv, .lo = lo, .hi = hi};
            }
        char path[4200], title[256], yl[160];
        snprintf(path, sizeof path, "%s/sweep_%s.svg", dir, sim_cmp_ids[m]);
        snprintf(title, sizeof title, "%s: mean and 95%% CI over %lld replicate%s",
                 sim_cmp_names[m], (long long)w->R, w->R == 1 ? "" : "s");
        snprintf(yl, sizeof yl, "%s%s", sim_cmp_names[m], sim_cmp_pct[m] ? " (%)" : "");
        rc = agora_svg_line_chart(path, title, xl, yl, s, (size_t)ns, NULL, 0, err);
    }
    agora_free(s);
    agora_free(buf);
    agora_free(names);
    return rc;
}

static void print_tables(const sweep *w, const char *dir) {
    int lw = 34; /* the label column fits the longest cell label */
    for (int c = 0; c < w->nc; c++) {
        char label[512];
        cell_label(w, c, label, sizeof label);
        if ((int)strlen(label) > lw)
            lw = (int)strlen(label);
    }
    printf("agora sim sweep: %d cell%s x %d policies x %lld replicate%s; run dir %s\n", w->nc,
           w->nc == 1 ? "" : "s", w->np, (long long)w->R, w->R == 1 ? "" : "s", dir);
    printf("mean [95%% bootstrap CI over replicates]; every metric: sweep_summary.csv\n");
    for (int h = 0; h < w->nh; h++) {
        int m = w->head[h];
        printf("\n%-*s", lw, sim_cmp_names[m]);
        for (int k = 0; k < w->np; k++)
            printf(" | %-24s", agora_sim_recsys_name(w->pol[k]));
        printf("\n");
        for (int c = 0; c < w->nc; c++) {
            char label[512];
            cell_label(w, c, label, sizeof label);
            printf("%-*s", lw, label);
            for (int k = 0; k < w->np; k++) {
                double mean, lo, hi, f = sim_cmp_pct[m] ? 100 : 1;
                cell_stat(w, c, k, m, &mean, &lo, &hi);
                char cell[64];
                if (!isfinite(mean))
                    snprintf(cell, sizeof cell, "-");
                else if (w->R > 1)
                    snprintf(cell, sizeof cell,
                             sim_cmp_pct[m] ? "%+.0f%% [%+.0f, %+.0f]" : "%.3f [%.3f, %.3f]",
                             f * mean, f * lo, f * hi);
                else
                    snprintf(cell, sizeof cell, sim_cmp_pct[m] ? "%+.0f%%" : "%.3f", f * mean);
                printf(" | %-24s", cell);
            }
            printf("\n");
        }
    }
}

/* Parses the grid and loads every cell's settings, so a bad value fails before any run. */
static int build(const char *cmd, const char *cfg, const sim_opts *o, sweep *w,
                 agora_sim_params *base) {
    if (o->varies.n == 0)
        return agora_cli_usage(cmd, "sweep needs at least one --vary KEY=V1,V2,...");
    if (o->varies.n > SW_MAXK)
        return agora_cli_usage(cmd, "at most %d --vary keys", SW_MAXK);
    w->nk = (int)o->varies.n;
    long nc = 1;
    for (int j = 0; j < w->nk; j++) {
        int ec = parse_vary(cmd, o->varies.v[j], &w->key[j]);
        if (ec)
            return ec;
        for (int i = 0; i < j; i++)
            if (strcmp(w->key[i].name, w->key[j].name) == 0)
                return agora_cli_usage(cmd, "--vary %s given twice", w->key[j].name);
        for (size_t i = 0; i < o->sets.n; i++) {
            size_t kl = strlen(w->key[j].name);
            if (strncmp(o->sets.v[i], w->key[j].name, kl) == 0 && o->sets.v[i][kl] == '=')
                return agora_cli_usage(cmd, "%s is both --set and --vary", w->key[j].name);
        }
        nc *= w->key[j].nv;
        if (nc > SW_MAXCELLS)
            return agora_cli_usage(cmd, "the grid has more than %d cells", SW_MAXCELLS);
    }
    w->nc = (int)nc;
    int ec = parse_metrics(cmd, o->metrics, w);
    if (ec)
        return ec;
    ec = sim_load_config(cmd, cfg, o, NULL, 0, base);
    if (ec)
        return ec;
    ec = sim_parse_policies(o->policies ? o->policies : "chrono,engagement", w->pol, SW_MAXP,
                            &w->np);
    if (ec)
        return ec;
    w->R = o->replicates > 0 ? o->replicates : base->replicates;
    if (w->R > 4096)
        return agora_cli_usage(cmd, "--replicates at most 4096");
    w->cells = agora_calloc((size_t)w->nc, sizeof *w->cells);
    w->rows = agora_calloc((size_t)w->nc * (size_t)w->R * (size_t)w->np * C_N, sizeof *w->rows);
    if (w->cells == NULL || w->rows == NULL)
        return agora_cli_fail(cmd, "out of memory");
    for (int c = 0; c < w->nc; c++) {
        char sets[SW_MAXK][1200];
        const char *sp[SW_MAXK];
        for (int j = 0; j < w->nk; j++) {
            snprintf(sets[j], sizeof sets[j], "%s=%s", w->key[j].name,
                     w->key[j].vals[cell_val(w, c, j)]);
            sp[j] = sets[j];
        }
        ec = sim_load_config(cmd, cfg, o, sp, (size_t)w->nk, &w->cells[c]);
        if (ec)
            return ec;
        char err[AGORA_ERR_LEN], label[512];
        if (agora_sim_params_check(&w->cells[c], err) != AGORA_OK) {
            cell_label(w, c, label, sizeof label);
            return agora_cli_usage(cmd, "cell %s: %s", label, err);
        }
    }
    return 0;
}

int sim_sweep(const char *cfg, const sim_opts *o, int argc, char **argv) {
    const char *cmd = "sim";
    sweep w;
    memset(&w, 0, sizeof w);
    agora_sim_params base;
    agora_sim_summary *pooled = NULL;
    char dir[4096], err[AGORA_ERR_LEN], path[4200];
    agora_sbuf vt = {0};
    char *vtext = NULL, *old = NULL;
    int64_t *first = NULL;
    uint64_t total = 0, done = 0;
    agora_progress pr;
    int64_t t_start = agora_now_ns();
    agora_err rc = AGORA_OK;
    int ec = build(cmd, cfg, o, &w, &base);
    if (ec)
        goto out;
    vary_text(&w, &vt);
    if (agora_sbuf_take(&vt, &vtext) != AGORA_OK) {
        ec = agora_cli_fail(cmd, "out of memory");
        goto out;
    }
    rc = agora_rundir_create(o->run_dir, "simsweep", dir, sizeof dir, err);
    if (rc != AGORA_OK) {
        ec = agora_cli_fail(cmd, "%s", err);
        goto out;
    }
    snprintf(path, sizeof path, "%s/sweep.vary", dir);
    if (o->resume) { /* the same grid, or nothing is touched */
        size_t len = 0;
        rc = agora_read_file(path, 1 << 20, &old, &len, err);
        if (rc == AGORA_OK && strcmp(old, vtext) != 0) {
            for (char *q = old; *q; q++) /* one line: keys separated by blanks */
                *q = *q == '\n' && q[1] ? ' ' : *q == '\n' ? '\0' : *q;
            for (char *q = vtext; *q; q++)
                *q = *q == '\n' && q[1] ? ' ' : *q == '\n' ? '\0' : *q;
            ec =
                agora_cli_fail(cmd, "cannot resume: %s was swept over %s, not %s", dir, old, vtext);
            goto out;
        }
        if (rc != AGORA_OK && rc != AGORA_ENOENT) {
            ec = agora_cli_fail(cmd, "cannot resume: %s", err);
            goto out;
        }
    }
    pooled = agora_calloc((size_t)w.np, sizeof *pooled);
    if (pooled == NULL) {
        ec = agora_cli_fail(cmd, "out of memory");
        goto out;
    }
    /* what each cell has done already (a cell's partial file refuses other settings) */
    first = agora_calloc((size_t)w.nc, sizeof *first);
    if (first == NULL) {
        ec = agora_cli_fail(cmd, "out of memory");
        goto out;
    }
    for (int c = 0; c < w.nc && ec == 0; c++) {
        uint64_t u = sim_cmp_units(&w.cells[c], w.np);
        total += (uint64_t)w.R * u;
        char cdir[4200];
        snprintf(cdir, sizeof cdir, "%s/cell-%03d", dir, c);
        if (!o->resume) {
            sim_cmp_clear_progress(cdir);
            continue;
        }
        memset(pooled, 0, (size_t)w.np * sizeof *pooled);
        rc = sim_cmp_load_partial(cdir, &w.cells[c], w.pol, w.np, w.R, row_at(&w, c, 0, 0), pooled,
                                  &first[c], err);
        if (rc != AGORA_OK)
            ec = agora_cli_fail(cmd, "cannot resume: %s", err);
        done += (uint64_t)first[c] * u;
    }
    if (ec == 0) {
        agora_cfg_table t = agora_sim_cfg_table(&base);
        rc = agora_write_file_atomic(path, vtext, strlen(vtext), err);
        if (rc == AGORA_OK)
            rc = agora_rundir_write_config(dir, cfg, &t, 1, err);
        if (rc == AGORA_OK)
            rc = agora_rundir_write_meta(dir, (uint64_t)base.seed, sim_threads_now(), argc, argv,
                                         err);
        if (rc != AGORA_OK)
            ec = agora_cli_fail(cmd, "%s", err);
    }
    if (ec == 0 && o->resume && done > 0)
        AGORA_LOG_INFO(AGORA_SUB_SIM, "sim sweep: %.0f%% of the grid already done in %s",
                       100.0 * (double)done / (double)(total ? total : 1), dir);
    if (ec)
        goto out;
    agora_progress_init(&pr, "sweep", total, stderr, sim_progress_mode(o->progress));
    t_start = agora_now_ns();
    for (int c = 0; c < w.nc && ec == 0; c++) {
        if (first[c] >= w.R)
            continue;
        char cdir[4200], label[512], what[600];
        snprintf(cdir, sizeof cdir, "%s/cell-%03d", dir, c);
        if (mkdir(cdir, 0777) != 0 && errno != EEXIST) {
            ec = agora_cli_fail(cmd, "cannot create %s: %s", cdir, strerror(errno));
            break;
        }
        cell_label(&w, c, label, sizeof label);
        snprintf(what, sizeof what, "%s, ", label);
        memset(pooled, 0, (size_t)w.np * sizeof *pooled);
        rc = AGORA_OK;
        if (first[c] > 0) /* the pooled counts of the finished replicates */
            rc = sim_cmp_load_partial(cdir, &w.cells[c], w.pol, w.np, w.R, row_at(&w, c, 0, 0),
                                      pooled, &first[c], err);
        for (int64_t r = first[c]; r < w.R && rc == AGORA_OK; r++) {
            rc = sim_cmp_replicate(&w.cells[c], r, w.pol, w.np, row_at(&w, c, r, 0), pooled, &pr,
                                   &done, what, cdir, err);
            if (rc == AGORA_OK)
                rc = sim_cmp_save_partial(cdir, &w.cells[c], w.pol, w.np, r + 1,
                                          row_at(&w, c, 0, 0), pooled, err);
            if (rc == AGORA_OK)
                sim_cmp_clear_progress(cdir);
        }
        if (rc != AGORA_OK)
            ec = agora_cli_fail(cmd, "cell %s: %s", label, err);
    }
    if (ec)
        goto out;
    agora_progress_finish(&pr, "%d cells x %lld replicates x %d policies in %.1f s", w.nc,
                          (long long)w.R, w.np, (double)(agora_now_ns() - t_start) * 1e-9);
    rc = write_csvs(&w, dir, err);
    if (rc == AGORA_OK)
        rc = write_plots(&w, dir, err);
    if (rc != AGORA_OK) {
        ec = agora_cli_fail(cmd, "%s", err);
        goto out;
    }
    print_tables(&w, dir);
out:
    agora_free(first);
    agora_free(pooled);
    agora_free(vtext);
    agora_free(old);
    agora_free(w.cells);
    agora_free(w.rows);
    return ec;
}
