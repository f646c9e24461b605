/* louvain.c: Louvain modularity of the follow graph (spec §12.2, optional; Blondel et al.
 * 2008, "Fast unfolding of communities in large networks").
 *
 * The graph is the undirected projection of the follow graph: each directed edge i -> j
 * adds weight 1 between i and j, so a mutual follow weighs 2. Level by level, every node
 * in index order moves to the neighbouring community with the largest modularity gain
 * (ties to the lowest community id, staying put unless a move gains more than 1e-12), until
 * a sweep moves nothing; the communities then become the nodes of the next level (their
 * internal weight a self-loop). It stops when a level merges nothing. Deterministic: the
 * same graph gives the same partition at any thread count (it runs on one thread).
 * Q = sum_c [ in_c / 2m - (tot_c / 2m)^2 ], in_c the weight inside c counted from both ends
 * (self-loops once per end), tot_c its total degree, 2m the total degree.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

/* A weighted undirected graph in CSR; self-loops appear once in a node's list, with the
 * weight counted for both ends (2w for a loop of weight w between the node and itself). */
typedef struct lgraph {
    uint32_t n;
    uint64_t *off; /* n + 1 */
    uint32_t *nb;
    double *w;
    double *deg; /* weighted degree, loops counted twice */
} lgraph;

static void lgraph_free(lgraph *g) {
    agora_free(g->off);
    agora_free(g->nb);
    agora_free(g->w);
    agora_free(g->deg);
    memset(g, 0, sizeof *g);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The undirected projection of the follow graph. */
static agora_err project(const agora_sim *s, lgraph *g) {
    uint32_t n = (uint32_t)s->n;
    memset(g, 0, sizeof *g);
    g->n = n;
    g->off = agora_calloc((size_t)n + 1, sizeof *g->off);
    g->deg = agora_calloc(n, sizeof *g->deg);
    uint32_t max_d = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t d = s->out_n[i] + s->in_n[i];
        max_d = d > max_d ? d : max_d;
    }
    uint32_t *tmp = agora_malloc(((size_t)max_d + 1) * sizeof *tmp);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += (uint64_t)s->out_n[i] + s->in_n[i];
    g->nb = agora_malloc((total ? total : 1) * sizeof *g->nb);
    g->w = agora_malloc((total ? total : 1) * sizeof *g->w);
    if (!g->off || !g->deg || !tmp || !g->nb || !g->w) {
        agora_free(tmp);
        lgraph_free(g);
        return AGORA_ENOMEM;
    }
    uint64_t e = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t d = 0;
        for (uint32_t a = 0; a < s->out_n[i]; a++)
            tmp[d++] = s->out_v[i][a];
        for (uint32_t a = 0; a < s->in_n[i]; a++)
            tmp[d++] = s->in_v[i][a];
        qsort(tmp, d, sizeof *tmp, cmp_u32);
        g->off[i] = e;
        for (uint32_t a = 0; a < d;) {
            uint32_t b = a;
            while (b < d && tmp[b] == tmp[a])
                b++;
            g->nb[e] = tmp[a];
            g->w[e] = (double)(b - a);
            g->deg[i] += (double)(b - a);
            e++;
            a = b;
        }
    }
    g->off[n] = e;
    agora_free(tmp);
    return AGORA_OK;
}

/* One level: moves nodes until a sweep moves none, from singletons (fresh) or from the
 * partition already in comm. comm[i] gets i's community (ids are node ids of the level).
 * Returns the number of moves, or -1 on ENOMEM. */
static int64_t one_level(const lgraph *g, double m2, uint32_t *comm, bool fresh) {
    uint32_t n = g->n;
    double *tot = agora_malloc((size_t)n * sizeof *tot), *kin = agora_calloc(n, sizeof *kin);
    uint32_t *touched = agora_malloc((size_t)n * sizeof *touched);
    if (!tot || !kin || !touched) {
        agora_free(tot);
        agora_free(kin);
        agora_free(touched);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        tot[i] = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (fresh)
            comm[i] = i;
        tot[comm[i]] += g->deg[i];
    }
    int64_t moved_ever = 0;
    for (int sweep = 0; sweep < 1000; sweep++) {
        int64_t moved = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t ci = comm[i], nt = 0;
            double ki = g->deg[i];
            /* weights from i to each neighbouring community (self-loops excluded) */
            for (uint64_t e = g->off[i]; e < g->off[i + 1]; e++) {
                uint32_t j = g->nb[e];
                if (j == i)
                    continue;
                uint32_t c = comm[j];
                if (kin[c] == 0.0)
                    touched[nt++] = c;
                kin[c] += g->w[e];
            }
            tot[ci] -= ki; /* i leaves its community */
            double best_gain = kin[ci] - tot[ci] * ki / m2;
            uint32_t best = ci;
            for (uint32_t t = 0; t < nt; t++) {
                uint32_t c = touched[t];
                double gain = kin[c] - tot[c] * ki / m2;
                if (gain > best_gain + 1e-12 ||
                    (fabs(gain - best_gain) <= 1e-12 && c < best && best != ci))
                    best_gain = gain, best = c;
            }
            tot[best] += ki;
            if (best != ci) {
                comm[i] = best;
                moved++;
            }
            for (uint32_t t = 0; t < nt; t++)
                kin[touched[t]] = 0.0;
            kin[ci] = 0.0;
        }
        moved_ever += moved;
        if (moved == 0)
            break;
    }
    agora_free(tot);
    agora_free(kin);
    agora_free(touched);
    return moved_ever;
}

/* The next level's graph: one node per community of g (renumbered in order of first
 * appearance into comm), edges summed, the inside weight a self-loop. */
static agora_err aggregate(const lgraph *g, uint32_t *comm, uint32_t *n_comm, lgraph *out) {
    uint32_t n = g->n, k = 0;
    uint32_t *id = agora_malloc((size_t)n * sizeof *id);
    if (id == NULL)
        return AGORA_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        id[i] = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        if (id[comm[i]] == UINT32_MAX)
            id[comm[i]] = k++;
        comm[i] = id[comm[i]];
    }
    agora_free(id);
    *n_comm = k;
    /* members of each community, in node order */
    uint64_t *start = agora_calloc((size_t)k + 1, sizeof *start);
    uint32_t *members = agora_malloc(((size_t)n ? n : 1) * sizeof *members);
    double *acc = agora_calloc(k ? k : 1, sizeof *acc);
    uint32_t *touched = agora_malloc(((size_t)k ? k : 1) * sizeof *touched);
    memset(out, 0, sizeof *out);
    out->n = k;
    out->off = agora_calloc((size_t)k + 1, sizeof *out->off);
    out->deg = agora_calloc(k ? k : 1, sizeof *out->deg);
    out->nb = agora_malloc((g->off[n] ? g->off[n] : 1) * sizeof *out->nb);
    out->w = agora_malloc((g->off[n] ? g->off[n] : 1) * sizeof *out->w);
    uint64_t *fill = agora_malloc(((size_t)k ? k : 1) * sizeof *fill);
    if (!start || !members || !acc || !touched || !fill || !out->off || !out->deg || !out->nb ||
        !out->w) {
        agora_free(start);
        agora_free(members);
        agora_free(acc);
        agora_free(touched);
        agora_free(fill);
        lgraph_free(out);
        return AGORA_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        start[comm[i] + 1]++;
    for (uint32_t c = 0; c < k; c++)
        start[c + 1] += start[c];
    memcpy(fill, start, (size_t)k * sizeof *fill);
    for (uint32_t i = 0; i < n; i++)
        members[fill[comm[i]]++] = i;
    agora_free(fill);
    uint64_t e = 0;
    for (uint32_t c = 0; c < k; c++) {
        uint32_t nt = 0;
        for (uint64_t m = start[c]; m < start[c + 1]; m++) {
            uint32_t i = members[m];
            out->deg[c] += g->deg[i];
            for (uint64_t x = g->off[i]; x < g->off[i + 1]; x++) {
                uint32_t d = comm[g->nb[x]];
                if (acc[d] == 0.0) /* weights are positive: 0 means not seen yet */
                    touched[nt++] = d;
                acc[d] += g->w[x];
            }
        }
        qsort(touched, nt, sizeof *touched, cmp_u32);
        out->off[c] = e;
        for (uint32_t t = 0; t < nt; t++) {
            out->nb[e] = touched[t];
            out->w[e] = acc[touched[t]];
            acc[touched[t]] = 0.0;
            e++;
        }
    }
    out->off[k] = e;
    agora_free(start);
    agora_free(members);
    agora_free(acc);
    agora_free(touched);
    return AGORA_OK;
}

/* Q of the partition comm (community per node) of g. */
static double modularity_of(const lgraph *g, const uint32_t *comm, uint32_t k, double m2) {
    double *in = agora_calloc(k ? k : 1, sizeof *in), *tot = agora_calloc(k ? k : 1, sizeof *tot);
    if (in == NULL || tot == NULL) {
        agora_free(in);
        agora_free(tot);
        return NAN;
    }
    for (uint32_t i = 0; i < g->n; i++) {
        tot[comm[i]] += g->deg[i];
        for (uint64_t e = g->off[i]; e < g->off[i + 1]; e++)
            if (comm[g->nb[e]] == comm[i])
                in[comm[i]] += g->w[e];
    }
    double q = 0;
    for (uint32_t c = 0; c < k; c++)
        q += in[c] / m2 - (tot[c] / m2) * (tot[c] / m2);
    agora_free(in);
    agora_free(tot);
    return q;
}

agora_err agora__sim_louvain(const agora_sim *s, double *q_out, int64_t *n_comm_out,
                             uint32_t *AGORA_NULLABLE node_comm) {
    *q_out = NAN;
    *n_comm_out = 0;
    lgraph g;
    AGORA_TRY(project(s, &g));
    double m2 = 0;
    for (uint32_t i = 0; i < g.n; i++)
        m2 += g.deg[i];
    uint32_t n0 = g.n;
    uint32_t *top = agora_malloc(((size_t)n0 ? n0 : 1) * sizeof *top); /* node -> community */
    uint32_t *comm = agora_malloc(((size_t)n0 ? n0 : 1) * sizeof *comm);
    if (top == NULL || comm == NULL || m2 == 0) {
        agora_free(top);
        agora_free(comm);
        lgraph_free(&g);
        return top == NULL || comm == NULL ? AGORA_ENOMEM : AGORA_OK;
    }
    for (uint32_t i = 0; i < n0; i++)
        top[i] = i;
    agora_err rc = AGORA_OK;
    uint32_t k = n0;
    for (int level = 0; level < 64; level++) {
        int64_t moved = one_level(&g, m2, comm, true);
        if (moved < 0) {
            rc = AGORA_ENOMEM;
            break;
        }
        lgraph next;
        rc = aggregate(&g, comm, &k, &next);
        if (rc != AGORA_OK)
            break;
        for (uint32_t i = 0; i < n0; i++)
            top[i] = comm[top[i]];
        bool merged = k < g.n;
        lgraph_free(&g);
        g = next;
        if (!merged || moved == 0)
            break;
    }
    if (rc == AGORA_OK) {
        lgraph base;
        rc = project(s, &base);
        /* refinement: single agents move once more between the final communities */
        if (rc == AGORA_OK && one_level(&base, m2, top, false) < 0)
            rc = AGORA_ENOMEM;
        if (rc == AGORA_OK) {
            uint32_t *id = agora_malloc((size_t)n0 * sizeof *id);
            if (id == NULL)
                rc = AGORA_ENOMEM;
            for (uint32_t i = 0; rc == AGORA_OK && i < n0; i++)
                id[i] = UINT32_MAX;
            k = 0;
            for (uint32_t i = 0; rc == AGORA_OK && i < n0; i++) {
                if (id[top[i]] == UINT32_MAX)
                    id[top[i]] = k++;
                top[i] = id[top[i]];
            }
            agora_free(id);
        }
        if (rc == AGORA_OK) {
            *q_out = modularity_of(&base, top, k, m2);
            *n_comm_out = k;
            if (node_comm != NULL)
                memcpy(node_comm, top, (size_t)n0 * sizeof *top);
        }
        lgraph_free(&base);
    }
    lgraph_free(&g);
    agora_free(top);
    agora_free(comm);
    return rc;
}
