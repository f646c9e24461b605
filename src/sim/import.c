/* import.c: networks and agent attributes from files (spec §3.2).
 *
 * Implements: the SNAP / CSV edge-list parser, the agent-attribute CSV parser (both work on
 * memory, so the fuzz targets call them directly), and agora__sim_import, which reads the
 * files named by sim.edges / sim.agents and builds the state. Every rejection names
 * file:line and the reason.
 * Does not: anything with the graph beyond building it (graph.c).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/log.h"
#include "agora/stream.h"
#include "sim/sim_internal.h"

enum { ID_MAX_LEN = 128, MAX_NODES = 1u << 30 };

void agora__sim_edges_free(agora__sim_edges *e) {
    agora_free(e->src);
    agora_free(e->dst);
    agora_free(e->w);
    agora_free(e->names);
    agora_free(e->name_off);
    agora_free(e->htab);
    memset(e, 0, sizeof *e);
}

static const char *node_name(const agora__sim_edges *e, uint32_t v) {
    return e->names + e->name_off[v];
}

int64_t agora__sim_edges_find(const agora__sim_edges *e, const char *id, size_t len) {
    if (e->htab == NULL)
        return -1;
    uint32_t h = (uint32_t)agora_hash64(id, len) & e->hmask;
    for (;;) {
        uint32_t v = e->htab[h];
        if (v == 0)
            return -1;
        const char *nm = node_name(e, v - 1);
        if (strncmp(nm, id, len) == 0 && nm[len] == '\0')
            return v - 1;
        h = (h + 1) & e->hmask;
    }
}

static agora_err rehash(agora__sim_edges *e, uint32_t cap) {
    uint32_t *t = agora_calloc(cap, sizeof *t);
    if (t == NULL)
        return AGORA_ENOMEM;
    for (uint32_t v = 0; v < e->n_nodes; v++) {
        const char *nm = node_name(e, v);
        uint32_t h = (uint32_t)agora_hash64(nm, strlen(nm)) & (cap - 1);
        while (t[h] != 0)
            h = (h + 1) & (cap - 1);
        t[h] = v + 1;
    }
    agora_free(e->htab);
    e->htab = t;
    e->hmask = cap - 1;
    return AGORA_OK;
}

/* Returns the node of id (adding it), or -1 on allocation failure, -2 when full. */
static int64_t node_of(agora__sim_edges *e, const char *id, size_t len) {
    int64_t v = agora__sim_edges_find(e, id, len);
    if (v >= 0)
        return v;
    if (e->n_nodes >= MAX_NODES)
        return -2;
    if (e->htab == NULL || (e->n_nodes + 1) * 2 > e->hmask + 1) {
        uint32_t cap = e->htab ? (e->hmask + 1) * 2 : 1024;
        if (rehash(e, cap) != AGORA_OK)
            return -1;
    }
    if (e->names_len + len + 1 > e->names_cap) {
        size_t cap = e->names_cap ? e->names_cap * 2 : 4096;
        while (cap < e->names_len + len + 1)
            cap *= 2;
        char *p = agora_realloc(e->names, cap);
        if (p == NULL)
            return -1;
        e->names = p;
        e->names_cap = cap;
    }
    if (e->n_nodes + 1 > e->name_off_cap) {
        size_t cap = e->name_off_cap ? e->name_off_cap * 2 : 1024;
        uint64_t *p = agora_realloc(e->name_off, cap * sizeof *p);
        if (p == NULL)
            return -1;
        e->name_off = p;
        e->name_off_cap = cap;
    }
    e->name_off[e->n_nodes] = e->names_len;
    memcpy(e->names + e->names_len, id, len);
    e->names[e->names_len + len] = '\0';
    e->names_len += len + 1;
    uint32_t h = (uint32_t)agora_hash64(id, len) & e->hmask;
    while (e->htab[h] != 0)
        h = (h + 1) & e->hmask;
    e->htab[h] = e->n_nodes + 1;
    return e->n_nodes++;
}

/* Splits a line into fields at whitespace (SNAP) or commas (CSV), up to max fields.
 * Returns the field count, or -1 for a byte that has no place in an id. */
static int split(const char *p, const char *end, bool csv, const char **f, size_t *fl, int max) {
    int n = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end)
            break;
        const char *s = p;
        while (p < end && *p != ',' && (csv || (*p != ' ' && *p != '\t'))) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 && c != '\t')
                return -1;
            p++;
        }
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (n < max) {
            f[n] = s;
            fl[n] = (size_t)(e - s);
        }
        n++;
        if (p < end && *p == ',') {
            p++;
            if (p == end) { /* trailing comma: an empty last field */
                if (n < max) {
                    f[n] = p;
                    fl[n] = 0;
                }
                n++;
            }
        }
    }
    return n;
}

/* Iterates lines: sets ls and le, returns false at the end. Strips CR. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **ls, const char **le) {
    if (*pos >= len)
        return false;
    const char *s = text + *pos, *end = text + len;
    const char *e = memchr(s, '\n', (size_t)(end - s));
    if (e == NULL)
        e = end;
    *pos = (size_t)(e - text) + 1;
    *ls = s;
    *le = e > s && e[-1] == '\r' ? e - 1 : e;
    return true;
}

static bool blank_or_comment(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    return s == e || *s == '#';
}

agora_err agora__sim_parse_edges(const char *name, const char *text, size_t len, bool reverse,
                                 agora__sim_edges *out, char err[AGORA_ERR_LEN]) {
    memset(out, 0, sizeof *out);
    size_t pos = 0, line = 0;
    const char *ls, *le;
    agora_err rc = AGORA_OK;
    while (next_line(text, len, &pos, &ls, &le)) {
        line++;
        if (blank_or_comment(ls, le))
            continue;
        bool csv = memchr(ls, ',', (size_t)(le - ls)) != NULL;
        const char *f[3];
        size_t fl[3];
        int nf = split(ls, le, csv, f, fl, 3);
        if (nf < 0) {
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: control character in line", name, line);
            rc = AGORA_EPARSE;
            goto fail;
        }
        if (nf < 2 || fl[0] == 0 || fl[1] == 0) {
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: expected two node ids ('u v' or 'u,v')", name,
                     line);
            rc = AGORA_EPARSE;
            goto fail;
        }
        if (fl[0] > ID_MAX_LEN || fl[1] > ID_MAX_LEN) {
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: node id longer than %d bytes", name, line,
                     ID_MAX_LEN);
            rc = AGORA_EPARSE;
            goto fail;
        }
        int64_t u = node_of(out, f[0], fl[0]), v = u >= 0 ? node_of(out, f[1], fl[1]) : u;
        if (u < 0 || v < 0) {
            rc = (u == -2 || v == -2) ? AGORA_EOVERFLOW : AGORA_ENOMEM;
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: %s", name, line,
                     rc == AGORA_EOVERFLOW ? "too many nodes" : "out of memory");
            goto fail;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 1024;
            uint32_t *a = agora_realloc(out->src, cap * sizeof *a);
            if (a == NULL) {
                rc = AGORA_ENOMEM;
                goto fail;
            }
            out->src = a;
            uint32_t *b = agora_realloc(out->dst, cap * sizeof *b);
            if (b == NULL) {
                rc = AGORA_ENOMEM;
                goto fail;
            }
            out->dst = b;
            uint32_t *c = agora_realloc(out->w, cap * sizeof *c);
            if (c == NULL) {
                rc = AGORA_ENOMEM;
                goto fail;
            }
            out->w = c;
            out->cap = cap;
        }
        uint32_t w = 1; /* a third column that is a positive integer is a count */
        if (nf >= 3 && fl[2] > 0 && fl[2] < 10) {
            uint32_t x = 0;
            size_t d = 0;
            while (d < fl[2] && f[2][d] >= '0' && f[2][d] <= '9')
                x = x * 10 + (uint32_t)(f[2][d++] - '0');
            if (d == fl[2] && x > 0)
                w = x;
        }
        out->w[out->n] = w;
        out->src[out->n] = (uint32_t)(reverse ? v : u);
        out->dst[out->n] = (uint32_t)(reverse ? u : v);
        out->n++;
    }
    if (out->n_nodes < 2) {
        snprintf(err, AGORA_ERR_LEN, "%s: no edges (need at least two nodes)", name);
        rc = AGORA_EPARSE;
        goto fail;
    }
    return AGORA_OK;
fail:
    if (rc == AGORA_ENOMEM && err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "%s: out of memory", name);
    agora__sim_edges_free(out);
    return rc;
}

enum { COL_ID, COL_O, COL_TAU, COL_A, COL_PI, COL_LABEL, COL_N };
static const char *const k_cols[COL_N] = {"id",       "opinion", "toxicity",
                                          "activity", "rt_base", "label"};

static bool parse_num(const char *s, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v))
        return false;
    *out = v;
    return true;
}

agora_err agora__sim_parse_agents(const char *name, const char *text, size_t len,
                                  const agora__sim_edges *ids, agora__sim_attr **rows,
                                  size_t *n_rows, char err[AGORA_ERR_LEN]) {
    enum { MAXF = 16 };
    *rows = NULL;
    *n_rows = 0;
    size_t pos = 0, line = 0, cap = 0, n = 0;
    const char *ls, *le;
    int col_of[MAXF], ncol = -1;
    agora__sim_attr *r = NULL;
    uint8_t *got = ids->n_nodes ? agora_calloc(ids->n_nodes, 1) : NULL;
    agora_err rc = AGORA_EPARSE;
    if (ids->n_nodes && got == NULL)
        return AGORA_ENOMEM;
    while (next_line(text, len, &pos, &ls, &le)) {
        line++;
        if (blank_or_comment(ls, le))
            continue;
        const char *f[MAXF];
        size_t fl[MAXF];
        int nf = split(ls, le, true, f, fl, MAXF);
        if (nf < 0) {
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: control character in line", name, line);
            goto fail;
        }
        if (nf > MAXF) {
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: more than %d columns", name, line, MAXF);
            goto fail;
        }
        if (ncol < 0) { /* the header */
            bool have_id = false;
            for (int c = 0; c < nf; c++) {
                col_of[c] = -1;
                for (int k = 0; k < COL_N; k++)
                    if (fl[c] == strlen(k_cols[k]) && memcmp(f[c], k_cols[k], fl[c]) == 0)
                        col_of[c] = k;
                if (col_of[c] < 0) {
                    snprintf(err, AGORA_ERR_LEN,
                             "%s:%zu: unknown column '%.*s' (expected id, opinion, toxicity, "
                             "activity, rt_base, label)",
                             name, line, (int)(fl[c] > 64 ? 64 : fl[c]), f[c]);
                    goto fail;
                }
                for (int d = 0; d < c; d++)
                    if (col_of[d] == col_of[c]) {
                        snprintf(err, AGORA_ERR_LEN, "%s:%zu: column '%s' repeated", name, line,
                                 k_cols[col_of[c]]);
                        goto fail;
                    }
                have_id |= col_of[c] == COL_ID;
            }
            if (!have_id) {
                snprintf(err, AGORA_ERR_LEN, "%s:%zu: header has no 'id' column", name, line);
                goto fail;
            }
            ncol = nf;
            continue;
        }
        if (nf != ncol) {
            snprintf(err, AGORA_ERR_LEN, "%s:%zu: %d fields, header has %d", name, line, nf, ncol);
            goto fail;
        }
        agora__sim_attr a;
        memset(&a, 0, sizeof a);
        for (int c = 0; c < nf; c++) {
            int k = col_of[c];
            if (k == COL_LABEL) {
                if (fl[c] >= sizeof a.label) {
                    snprintf(err, AGORA_ERR_LEN, "%s:%zu: label longer than %zu bytes", name, line,
                             sizeof a.label - 1);
                    goto fail;
                }
                memcpy(a.label, f[c], fl[c]);
                a.label[fl[c]] = '\0';
                a.has |= SIM_ATTR_LABEL;
                continue;
            }
            if (k == COL_ID) {
                int64_t v = agora__sim_edges_find(ids, f[c], fl[c]);
                if (v < 0) {
                    snprintf(err, AGORA_ERR_LEN, "%s:%zu: unknown id '%.*s' (not in the edge list)",
                             name, line, (int)(fl[c] > 64 ? 64 : fl[c]), f[c]);
                    goto fail;
                }
                if (got[v]) {
                    snprintf(err, AGORA_ERR_LEN, "%s:%zu: id '%.*s' repeated", name, line,
                             (int)(fl[c] > 64 ? 64 : fl[c]), f[c]);
                    goto fail;
                }
                got[v] = 1;
                a.node = (uint32_t)v;
                continue;
            }
            double x;
            if (!parse_num(f[c], fl[c], &x)) {
                snprintf(err, AGORA_ERR_LEN, "%s:%zu: %s: not a number", name, line, k_cols[k]);
                goto fail;
            }
            bool ok = k == COL_O ? (x >= -1 && x <= 1) : k == COL_A ? x >= 0 : (x >= 0 && x <= 1);
            if (!ok) {
                snprintf(err, AGORA_ERR_LEN, "%s:%zu: %s = %g out of range (%s)", name, line,
                         k_cols[k], x,
                         k == COL_O   ? "[-1, 1]"
                         : k == COL_A ? ">= 0"
                                      : "[0, 1]");
                goto fail;
            }
            if (k == COL_O) {
                a.o = x;
                a.has |= SIM_ATTR_O;
            } else if (k == COL_TAU) {
                a.tau = x;
                a.has |= SIM_ATTR_TAU;
            } else if (k == COL_A) {
                a.a = x;
                a.has |= SIM_ATTR_A;
            } else {
                a.pi = x;
                a.has |= SIM_ATTR_PI;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            agora__sim_attr *p = agora_realloc(r, cap * sizeof *p);
            if (p == NULL) {
                rc = AGORA_ENOMEM;
                snprintf(err, AGORA_ERR_LEN, "%s: out of memory", name);
                goto fail;
            }
            r = p;
        }
        r[n++] = a;
    }
    if (ncol < 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: empty (expected a header line)", name);
        goto fail;
    }
    agora_free(got);
    *rows = r;
    *n_rows = n;
    return AGORA_OK;
fail:
    agora_free(got);
    agora_free(r);
    return rc;
}

static uint32_t uf_find(uint32_t *par, uint32_t x) {
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

/* Computes map[v] = new index of kept node v (first-appearance order preserved), or
 * UINT32_MAX for dropped nodes; returns the number kept. */
static agora_err filter_nodes(const agora_sim_params *p, const agora__sim_edges *ed, uint32_t *map,
                              uint32_t *n_keep) {
    const uint32_t n = ed->n_nodes;
    for (uint32_t v = 0; v < n; v++)
        map[v] = 0;
    if (p->min_degree > 0) {
        for (size_t e = 0; e < ed->n; e++)
            if (ed->src[e] != ed->dst[e]) {
                map[ed->src[e]]++;
                map[ed->dst[e]]++;
            }
        for (uint32_t v = 0; v < n; v++)
            map[v] = map[v] >= (uint64_t)p->min_degree ? 0 : UINT32_MAX;
    }
    if (p->largest_wcc) {
        uint32_t *par = agora_malloc(n * sizeof *par), *size = agora_calloc(n, sizeof *size);
        if (par == NULL || size == NULL) {
            agora_free(par);
            agora_free(size);
            return AGORA_ENOMEM;
        }
        for (uint32_t v = 0; v < n; v++)
            par[v] = v;
        for (size_t e = 0; e < ed->n; e++) {
            uint32_t u = ed->src[e], v = ed->dst[e];
            if (map[u] == UINT32_MAX || map[v] == UINT32_MAX)
                continue;
            u = uf_find(par, u);
            v = uf_find(par, v);
            if (u != v)
                par[u > v ? u : v] = u < v ? u : v;
        }
        uint32_t best = UINT32_MAX;
        for (uint32_t v = 0; v < n; v++)
            if (map[v] != UINT32_MAX) {
                uint32_t r = uf_find(par, v);
                size[r]++;
                if (best == UINT32_MAX || size[r] > size[best] ||
                    (size[r] == size[best] && r < best))
                    best = r;
            }
        for (uint32_t v = 0; v < n; v++)
            if (map[v] != UINT32_MAX && uf_find(par, v) != best)
                map[v] = UINT32_MAX;
        agora_free(par);
        agora_free(size);
    }
    uint32_t k = 0;
    for (uint32_t v = 0; v < n; v++)
        if (map[v] != UINT32_MAX)
            map[v] = k++;
    *n_keep = k;
    return AGORA_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* sim.from_retweets = w: the file lists retweets ("u v [count]": u retweeted v); u follows v
 * if the counts of (u, v) sum to at least w. Edges keep the order of their first line. */
static agora_err retweets_to_follows(agora__sim_edges *ed, uint64_t wmin) {
    uint64_t *key = agora_malloc((ed->n ? ed->n : 1) * 2 * sizeof *key);
    if (key == NULL)
        return AGORA_ENOMEM;
    for (size_t e = 0; e < ed->n; e++) { /* (pair, line) records, grouped by pair below */
        key[2 * e] = ((uint64_t)ed->src[e] << 32) | ed->dst[e];
        key[2 * e + 1] = e;
    }
    qsort(key, ed->n, 2 * sizeof *key, cmp_u64); /* by pair; the order inside a group is
                                                    irrelevant: each keeps its first line */
    size_t a = 0;
    uint8_t *keep = agora_calloc(ed->n ? ed->n : 1, 1);
    if (keep == NULL) {
        agora_free(key);
        return AGORA_ENOMEM;
    }
    while (a < ed->n) {
        size_t b = a;
        uint64_t sum = 0, first = UINT64_MAX;
        while (b < ed->n && key[2 * b] == key[2 * a]) {
            sum += ed->w[key[2 * b + 1]];
            if (key[2 * b + 1] < first)
                first = key[2 * b + 1];
            b++;
        }
        if (sum >= wmin)
            keep[first] = 1;
        a = b;
    }
    size_t m = 0;
    for (size_t e = 0; e < ed->n; e++)
        if (keep[e]) {
            ed->src[m] = ed->src[e];
            ed->dst[m] = ed->dst[e];
            ed->w[m] = 1;
            m++;
        }
    ed->n = m;
    agora_free(keep);
    agora_free(key);
    return AGORA_OK;
}

agora_err agora_sim_write_ids_csv(const agora_sim *s, const char *path) {
    if (s->id_names == NULL)
        return AGORA_ENOTFOUND;
    size_t cap = 64, len = 0;
    for (int64_t v = 0; v < s->n; v++)
        cap += strlen(s->id_names + s->id_off[v]) * 2 + 16;
    char *buf = agora_malloc(cap);
    if (buf == NULL)
        return AGORA_ENOMEM;
    len += (size_t)snprintf(buf, cap, "node,id\n");
    for (int64_t v = 0; v < s->n; v++) {
        const char *id = s->id_names + s->id_off[v];
        len += (size_t)snprintf(buf + len, cap - len, "%lld,\"", (long long)v);
        for (const char *c = id; *c; c++) {
            if (*c == '"')
                buf[len++] = '"';
            buf[len++] = *c;
        }
        buf[len++] = '"';
        buf[len++] = '\n';
    }
    char err[AGORA_ERR_LEN];
    agora_err rc = agora_write_file_atomic(path, buf, len, err);
    agora_free(buf);
    return rc;
}

agora_err agora__sim_import(agora_sim *s, char err[AGORA_ERR_LEN]) {
    const agora_sim_params *p = &s->p;
    char *text = NULL;
    size_t len = 0;
    agora__sim_edges ed;
    memset(&ed, 0, sizeof ed);
    agora__sim_attr *rows = NULL;
    size_t n_rows = 0;
    uint32_t *map = NULL, n_keep = 0;
    AGORA_TRY(agora_read_file(p->edges_path, (size_t)1 << 34, &text, &len, err));
    agora_err rc = agora__sim_parse_edges(p->edges_path, text, len,
                                          p->edge_dir == SIM_EDGE_FOLLOWED_BY, &ed, err);
    agora_free(text);
    text = NULL;
    if (rc != AGORA_OK)
        return rc;
    if (p->agents_path[0] != '\0') {
        rc = agora_read_file(p->agents_path, (size_t)1 << 32, &text, &len, err);
        if (rc == AGORA_OK)
            rc = agora__sim_parse_agents(p->agents_path, text, len, &ed, &rows, &n_rows, err);
        agora_free(text);
        if (rc != AGORA_OK)
            goto done;
    }
    if (p->from_retweets > 0) {
        rc = retweets_to_follows(&ed, (uint64_t)p->from_retweets);
        if (rc != AGORA_OK)
            goto done;
    }
    map = agora_malloc((size_t)ed.n_nodes * sizeof *map);
    rc = map ? filter_nodes(p, &ed, map, &n_keep) : AGORA_ENOMEM;
    if (rc != AGORA_OK)
        goto done;
    if (n_keep < 2) {
        snprintf(err, AGORA_ERR_LEN,
                 "%s: fewer than two nodes left after sim.min_degree / "
                 "sim.largest_wcc",
                 p->edges_path);
        rc = AGORA_EINVAL;
        goto done;
    }
    size_t m = 0; /* keep the edges whose ends both survive, renumbered */
    for (size_t e = 0; e < ed.n; e++) {
        uint32_t u = map[ed.src[e]], v = map[ed.dst[e]];
        if (u != UINT32_MAX && v != UINT32_MAX) {
            ed.src[m] = u;
            ed.dst[m] = v;
            m++;
        }
    }
    rc = agora__sim_alloc(s, n_keep);
    if (rc != AGORA_OK)
        goto done;
    s->id_off = agora_malloc((size_t)n_keep * sizeof *s->id_off);
    s->id_names = agora_malloc(ed.names_len + 1);
    if (s->id_off == NULL || s->id_names == NULL) {
        rc = AGORA_ENOMEM;
        goto done;
    }
    size_t pos = 0;
    for (uint32_t v = 0; v < ed.n_nodes; v++)
        if (map[v] != UINT32_MAX) {
            const char *nm = ed.names + ed.name_off[v];
            size_t l = strlen(nm) + 1;
            s->id_off[map[v]] = pos;
            memcpy(s->id_names + pos, nm, l);
            pos += l;
        }
    agora__sim_init_attributes(s);
    for (size_t r = 0; r < n_rows; r++) {
        uint32_t v = map[rows[r].node];
        if (v == UINT32_MAX)
            continue;
        if (rows[r].has & SIM_ATTR_O)
            s->o[v] = rows[r].o;
        if (rows[r].has & SIM_ATTR_TAU)
            s->tau[v] = rows[r].tau;
        if (rows[r].has & SIM_ATTR_A)
            s->act[v] = rows[r].a;
        if (rows[r].has & SIM_ATTR_PI)
            s->pi[v] = rows[r].pi;
    }
    rc = agora__sim_graph_from_edges(s, ed.src, ed.dst, m);
    if (rc == AGORA_OK && p->opinion_init == SIM_OINIT_SPECTRAL) {
        rc = agora__sim_spectral_opinions(s);
        for (size_t r = 0; r < n_rows && rc == AGORA_OK; r++) /* imported columns win */
            if (map[rows[r].node] != UINT32_MAX && (rows[r].has & SIM_ATTR_O))
                s->o[map[rows[r].node]] = rows[r].o;
    }
    if (rc == AGORA_OK && p->opinion_init == SIM_OINIT_LABELS) {
        int64_t unknown = 0;
        for (size_t r = 0; r < n_rows; r++) {
            uint32_t v = map[rows[r].node];
            double lpos;
            if (v == UINT32_MAX || (rows[r].has & SIM_ATTR_O))
                continue;
            if (!(rows[r].has & SIM_ATTR_LABEL) ||
                !agora__sim_label_position(p->label_positions, rows[r].label, &lpos)) {
                unknown++;
                continue;
            }
            double o = lpos + 0.05 * agora__sim_normal(s->seed, SIM_S_AGENT | (1u << 16), v, 0);
            s->o[v] = o < -1 ? -1 : (o > 1 ? 1 : o);
        }
        if (unknown > 0)
            AGORA_LOG_WARN(AGORA_SUB_SIM,
                           "opinion_init = labels: %lld rows without a known "
                           "label keep their drawn opinion",
                           (long long)unknown);
    }
    if (rc == AGORA_OK)
        AGORA_LOG_INFO(AGORA_SUB_SIM,
                       "imported %s: %u of %u nodes kept, %lld edges (%zu self-loops or "
                       "duplicates skipped), %zu attribute rows",
                       p->edges_path, n_keep, ed.n_nodes, (long long)s->n_edges,
                       m - (size_t)s->n_edges, n_rows);
done:
    agora__sim_edges_free(&ed);
    agora_free(rows);
    agora_free(map);
    return rc;
}
