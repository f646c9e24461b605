/* embed.c: opinions from the network or from labels (spec §3.3: spectral, labels).
 *
 * Implements: the label -> position table of sim.label_positions, and the spectral
 * embedding: the eigenvector of the second largest eigenvalue of D^-1/2 A D^-1/2 (A the
 * symmetrised follow graph), i.e. the Fiedler vector of the normalised Laplacian, found by
 * power iteration on (I + M)/2 with the trivial eigenvector projected out, mapped back by
 * D^-1/2 and rescaled to [-1, 1]. Deterministic: fixed start vector, fixed iteration count,
 * serial sums; the sign is fixed so that agent 0 is not on the positive side.
 * Does not: draw random opinions (gen.c).
 */
#include <math.h>
#include <stdlib.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

bool agora__sim_label_position(const char *table, const char *label, double *pos) {
    size_t ll = strlen(label);
    const char *p = table;
    while (*p) {
        const char *colon = strchr(p, ':');
        if (colon == NULL)
            return false;
        const char *end = strchr(colon, ',');
        if (end == NULL)
            end = colon + strlen(colon);
        if ((size_t)(colon - p) == ll && strncmp(p, label, ll) == 0) {
            char num[64];
            size_t nl = (size_t)(end - colon - 1);
            if (nl == 0 || nl >= sizeof num)
                return false;
            memcpy(num, colon + 1, nl);
            num[nl] = '\0';
            char *e;
            double v = strtod(num, &e);
            if (*e != '\0' || !(v >= -1 && v <= 1))
                return false;
            *pos = v;
            return true;
        }
        p = *end ? end + 1 : end;
    }
    return false;
}

agora_err agora__sim_spectral_opinions(agora_sim *s) {
    const int64_t n = s->n;
    double *deg = agora_calloc((size_t)n, sizeof *deg), *x = agora_malloc((size_t)n * sizeof *x),
           *y = agora_malloc((size_t)n * sizeof *y), *u = agora_malloc((size_t)n * sizeof *u);
    if (!deg || !x || !y || !u) {
        agora_free(deg);
        agora_free(x);
        agora_free(y);
        agora_free(u);
        return AGORA_ENOMEM;
    }
    /* symmetrised degree: an edge in either direction counts (mutual edges twice) */
    for (int64_t i = 0; i < n; i++) {
        deg[i] += s->out_n[i];
        deg[i] += s->in_n[i];
    }
    double un = 0;
    for (int64_t i = 0; i < n; i++) {
        u[i] = sqrt(deg[i]); /* trivial eigenvector of M */
        un += deg[i];
        x[i] = (double)((i * 2654435761u) % 1000) / 1000.0 - 0.5;
    }
    un = sqrt(un);
    for (int it = 0; it < 500; it++) {
        double dot = 0, norm = 0;
        for (int64_t i = 0; i < n; i++)
            dot += x[i] * u[i] / un;
        for (int64_t i = 0; i < n; i++)
            x[i] -= dot * u[i] / un;
        for (int64_t i = 0; i < n; i++)
            y[i] = 0.5 * x[i];
        for (int64_t i = 0; i < n; i++) { /* y += 0.5 M x over both directions of each edge */
            double di = deg[i] > 0 ? 1.0 / sqrt(deg[i]) : 0.0;
            for (uint32_t a = 0; a < s->out_n[i]; a++) {
                uint32_t j = s->out_v[i][a];
                double w = 0.5 * di / sqrt(deg[j]);
                y[i] += w * x[j];
                y[j] += w * x[i];
            }
        }
        for (int64_t i = 0; i < n; i++)
            norm += y[i] * y[i];
        norm = sqrt(norm);
        if (!(norm > 0))
            break;
        for (int64_t i = 0; i < n; i++)
            x[i] = y[i] / norm;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        x[i] = deg[i] > 0 ? x[i] / sqrt(deg[i]) : 0.0;
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    double sign = (hi > lo && x[0] > 0.5 * (lo + hi)) ? -1.0 : 1.0;
    for (int64_t i = 0; i < n; i++) {
        double v = hi > lo ? 2.0 * (x[i] - lo) / (hi - lo) - 1.0 : 0.0;
        v *= sign;
        s->o[i] = v < -1 ? -1 : (v > 1 ? 1 : v);
    }
    agora_free(deg);
    agora_free(x);
    agora_free(y);
    agora_free(u);
    return AGORA_OK;
}
