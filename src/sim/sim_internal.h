/* sim_internal.h: the simulator's state layout and the contracts between its files.
 *
 * Layout (spec §16): agents are a struct of arrays; the follow graph keeps per-agent Out
 * lists sorted by target (binary-search `follows`) and unsorted In lists; messages live in
 * a ring indexed by seq & mask; the emissions (posts and retweets) of the last W steps are
 * one CSR array by emitter, rebuilt every step, so a reader pulls its pool from one range
 * per followee. Phase B (reading) writes only the reader's own fields and buffers; shared
 * counters (exposures, impressions, retweets per camp) are folded in phase C from those
 * buffers, so results do not depend on thread count.
 */
#ifndef AGORA_SIM_INTERNAL_H
#define AGORA_SIM_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "agora/rng.h"
#include "agora/sim.h"

#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#define AGORA__SIM_OMP(x) _Pragma(x)
#else
#define AGORA__SIM_OMP(x)
#endif

// ---- enums mirroring the config names (params.c) ----
enum { SIM_GRAPH_FITNESS = 0, SIM_GRAPH_DSBM, SIM_GRAPH_ER, SIM_GRAPH_FILE };
enum {
    SIM_OINIT_BLOCS5 = 0,
    SIM_OINIT_BIMODAL,
    SIM_OINIT_UNIFORM,
    SIM_OINIT_LABELS,
    SIM_OINIT_SPECTRAL
};
enum { SIM_KERNEL_LOGISTIC = 0, SIM_KERNEL_GAUSS, SIM_KERNEL_STEP, SIM_KERNEL_FLAT };
enum { SIM_OPINION_DEFFUANT = 0, SIM_OPINION_HK, SIM_OPINION_DEGROOT, SIM_OPINION_NONE };
enum { SIM_INFLUENCE_READ = 0, SIM_INFLUENCE_RETWEET };
enum { SIM_TOX_FIXED = 0, SIM_TOX_CONTAGION };
enum { SIM_PRED_ORACLE = 0, SIM_PRED_LEARNED };
enum { SIM_BRIDGE_RATES = 0, SIM_BRIDGE_MODEL };
enum { SIM_TOXIC_DECILE = 0, SIM_TOXIC_THRESHOLD };
enum { SIM_EDGE_FOLLOWS = 0, SIM_EDGE_FOLLOWED_BY };

// ---- keyed random draws (spec §10.3) ----
/* rng.h has eight sim stream ids; the spec's draw kinds are sub-streams of them, put in
 * the high half of the stream word (the enumerated ids use only the low half). */
enum {
    SIM_S_POST = AGORA_RNG_STREAM_SIM_POST,
    SIM_S_MSG_O = AGORA_RNG_STREAM_SIM_POST | (1u << 16),
    SIM_S_MSG_NEG = AGORA_RNG_STREAM_SIM_POST | (2u << 16),
    SIM_S_RANK = AGORA_RNG_STREAM_SIM_FEED,
    SIM_S_RT = AGORA_RNG_STREAM_SIM_ENGAGE,
    SIM_S_LEARN = AGORA_RNG_STREAM_SIM_ENGAGE | (1u << 16),
    SIM_S_DRIFT = AGORA_RNG_STREAM_SIM_OPINION,
    SIM_S_UNF = AGORA_RNG_STREAM_SIM_REWIRE,
    SIM_S_FOL = AGORA_RNG_STREAM_SIM_REWIRE | (1u << 16),
    SIM_S_REPL = AGORA_RNG_STREAM_SIM_REWIRE | (2u << 16),
    SIM_S_GRAPH = AGORA_RNG_STREAM_SIM_GRAPH,
    SIM_S_AGENT = AGORA_RNG_STREAM_SIM_AGENT
};

/* U(S, (index, block)): the first block of Philox(seed; block, index, stream), as a
 * 53-bit uniform in [0, 1). One Philox evaluation, no state. */
static inline double agora__sim_u01(uint64_t seed, uint32_t stream, uint32_t index,
                                    uint64_t block) {
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), index, stream};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t o[4];
    agora_philox4x32(ctr, key, o);
    uint64_t v = ((uint64_t)o[0] << 32) | o[1];
    return (double)(v >> 11) * 0x1.0p-53;
}
/* A standard normal from the same block (Box-Muller on words 0-1 and 2-3). */
static inline double agora__sim_normal(uint64_t seed, uint32_t stream, uint32_t index,
                                       uint64_t block) {
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), index, stream};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t o[4];
    agora_philox4x32(ctr, key, o);
    double u1 = (double)((((uint64_t)o[0] << 32) | o[1]) >> 11) * 0x1.0p-53;
    double u2 = (double)((((uint64_t)o[2] << 32) | o[3]) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}
/* key(m): author (32 bits), t0 (24), post index (8). */
static inline uint64_t agora__sim_msg_key(uint32_t author, int32_t t0, uint32_t idx) {
    return ((uint64_t)author << 32) | ((uint64_t)((uint32_t)t0 & 0xffffffu) << 8) | (idx & 0xffu);
}

// ---- state ----

/* One emission of the window (spec §9.1: the outbox entry (m, e) of its emitter), with the
 * message's author, opinion and negativity copied beside the seq: building and scoring a
 * pool then reads the emitters' ranges sequentially and never the message ring. */
typedef struct agora__sim_went {
    uint32_t seq;
    uint32_t author_neg; /* author | neg << 31 (ids < 2^31) */
    float o;
    int32_t e;
} agora__sim_went;
#define AGORA__SIM_NEG_BIT 0x80000000u

/* An emitter's window: its first SIM_WIN_INLINE emissions inline in one 128-byte block (a
 * 128-byte-aligned line pair, which the hardware fetches together), the rest at win[ovf..].
 * A reader thus touches one block per followee, plus the overflow of busy emitters. */
enum { SIM_WIN_INLINE = 7 };
typedef struct agora__sim_whead {
    uint32_t n, ovf;
    agora__sim_went e[SIM_WIN_INLINE];
    uint32_t pad[2];
} agora__sim_whead;

/* Dedupe hash entry: seq -> pool index, valid when gen matches the scratch generation. */
typedef struct agora__sim_hent {
    uint32_t gen, key, val;
} agora__sim_hent;

/* A pool entry (spec §9.1) and its score. */
typedef struct agora__sim_cand {
    double score;
    uint32_t seq, via;
    int32_t e;
    float o;         /* the message's opinion (copied from the emission) */
    uint32_t author; /* its author */
    uint8_t neg;     /* 1 if negative */
} agora__sim_cand;

/* Per-thread scratch for pool building. */
typedef struct agora__sim_scratch {
    agora__sim_cand *pool;
    size_t pool_cap;
    agora__sim_hent *ht; /* dedupe hash, stamped by generation (never cleared per reader) */
    uint32_t hmask, gen;
    agora__sim_cand *feed; /* k entries */
    double *om;            /* k message opinions (HK) */
    bool oom;              /* a scratch allocation failed during the step */
} agora__sim_scratch;

enum { SIM_NFEAT = 8 };
/* Cascade sizes kept exactly below this (spec §12.4 p99); larger ones share the last bin. */
enum { SIM_CASC_BINS = 4096 };

struct agora_sim {
    agora_sim_params p;
    int64_t n, t, t0;
    uint64_t seed;
    int k;
    /* agents (SoA) */
    double *o, *tau, *act, *pi;
    uint8_t *toxic; /* frozen at branch time */
    int64_t *E, *En, *C, *Cn, *rt_made, *rt_recv, *tot_exp, *tot_rt;
    int64_t *Ex;  /* exposures to messages of the other camp (window) */
    int64_t *imp; /* impressions of i's messages (shown in a feed) */
    uint32_t *followers_t0;
    /* graph */
    uint32_t **out_v;   /* sorted by target */
    int32_t **out_made; /* step each edge was made */
    int32_t **out_eng;  /* last step i retweeted something emitted by that followee */
    uint32_t *out_n, *out_cap;
    uint32_t **in_v;
    uint32_t *in_n, *in_cap;
    int64_t n_edges;
    /* messages (ring by seq & mask) */
    uint32_t mcap, mmask, next_seq;
    uint32_t *m_author, *m_nrt;
    int32_t *m_t0;
    uint8_t *m_idx, *m_neg;
    float *m_o;
    uint32_t *m_exp[2], *m_rtc[2];
    uint32_t *step_seq0; /* first seq posted at each step */
    int64_t step_seq0_cap;
    /* emissions of the last W steps (e > t - W, live messages only) by emitter, newest step
     * first: wh[j] holds j's count and first entries, win its overflow. Rebuilt in phase A
     * from the previous window and the new emissions into wh2/win2 (then swapped). */
    int W;
    agora__sim_whead *wh, *wh2; /* n each, 128-byte aligned inside wh_raw, wh2_raw */
    void *wh_raw, *wh2_raw;
    agora__sim_went *win, *win2;
    size_t win_n, win_cap, win_cap2;
    uint32_t *win_off; /* n + 1, scratch: overflow offsets while rebuilding */
    uint32_t *post_n;  /* posts per agent this step (scratch) */
    /* seen sets and discovery rings. seen: per reader, a ring of the last seen_cap = k * A_max
     * messages shown (seq + 1; 0 = empty), which holds every shown message still alive. */
    uint32_t *seen;
    uint32_t *seen_head;
    uint32_t seen_cap;
    uint32_t *disc_a;
    float *disc_w;
    uint32_t *disc_head, *disc_n;
    int D;
    /* per-step buffers (phase B -> C) */
    uint32_t *rt_buf, *rt_via; /* n * k */
    uint8_t *rt_n;
    uint32_t *unf_buf; /* n * k */
    uint8_t *unf_n;
    uint32_t *fol_buf; /* n * 2k */
    uint8_t *fol_kind, *fol_pair, *fol_n;
    /* this step's feeds (phase B -> C): seq and author of each item, the reader's camp */
    uint32_t *fd_seq, *fd_auth; /* n * k */
    uint8_t *fd_n, *fd_camp;
    /* learner */
    double w[SIM_NFEAT];
    float *lx; /* n * k * SIM_NFEAT features of this step's exposures */
    uint8_t *ly, *lnx;
    /* opinion kernel table on [0, 2] */
    double ktab[4097];
    /* start-of-step globals */
    double camp_mean[2], rbar;
    int64_t g_exp, g_rt; /* cumulative, for rbar */
    /* per-step totals, window totals */
    int64_t s_exp, s_neg, s_pool, s_negpool, s_rt;
    int64_t work_pool, work_feed;
    int64_t phase_ns[AGORA_SIM_NPHASE];
    /* cascades: n_rt of messages that died in the window */
    int64_t casc_n, casc_sum, casc_max;
    int64_t casc_hist[SIM_CASC_BINS]; /* [x]: cascades of size x; the last bin: >= its index */
    /* imported networks: original ids (NUL-separated, by node), not carried by clones */
    char *id_names;
    uint64_t *id_off;
    /* threads */
    agora__sim_scratch *scr;
    int n_threads;
};

typedef struct agora__sim_read_ctx {
    const agora_sim *s;
    uint32_t reader;
    double o_reader; /* i's opinion when its feed is built */
    int64_t t;
} agora__sim_read_ctx;

// ---- rankers (recsys/recsys.c) ----
/* score(ctx, cand, n): writes cand[j].score for every candidate. The only place a policy
 * enters the step. */
typedef void (*agora__sim_score_fn)(const agora__sim_read_ctx *ctx, agora__sim_cand *cand,
                                    size_t n);
typedef struct agora__sim_recsys_ops {
    const char *name;
    agora__sim_score_fn score, score_ref;
} agora__sim_recsys_ops;
const agora__sim_recsys_ops *agora__sim_recsys_ops_get(int recsys);

// ---- engagement (engage.c) ----
double agora__sim_kernel_exact(const agora_sim_params *p, double d);
void agora__sim_kernel_table(agora_sim *s);
static inline double agora__sim_kernel(const agora_sim *s, double d) {
    double x = d * 2048.0;
    if (x >= 4096.0)
        return s->ktab[4096];
    int i = (int)x;
    double f = x - i;
    return s->ktab[i] + f * (s->ktab[i + 1] - s->ktab[i]);
}
/* P_rt (spec §5) of a message with opinion o_m and negativity neg. */
static inline double agora__sim_p_rt_of(const agora_sim *s, double o_i, double pi_i, float o_m,
                                        int neg, double beta) {
    double p = pi_i * agora__sim_kernel(s, fabs(o_i - (double)o_m)) * (1.0 + beta * neg);
    return p < 1.0 ? p : 1.0;
}
/* The same, reading the message from the ring. */
static inline double agora__sim_p_rt(const agora_sim *s, double o_i, double pi_i, uint32_t seq,
                                     double beta) {
    uint32_t m = seq & s->mmask;
    return agora__sim_p_rt_of(s, o_i, pi_i, s->m_o[m], s->m_neg[m], beta);
}
void agora__sim_features(const agora_sim *s, uint32_t i, double o_i, uint32_t seq, int64_t t,
                         double x[SIM_NFEAT]);
double agora__sim_learned_p(const agora_sim *s, const double x[SIM_NFEAT], bool neg_neutral);
void agora__sim_learner_update(agora_sim *s);

// ---- pools and feeds (pool.c) ----
size_t agora__sim_pool_build(const agora_sim *s, uint32_t i, int64_t t, agora__sim_scratch *sc);
void agora__sim_pool_prefetch(const agora_sim *s, uint32_t i, int stage);
/* Top-k by (score, seq), written to feed in decreasing order. Returns min(k, n). */
size_t agora__sim_topk(const agora__sim_cand *cand, size_t n, size_t k, agora__sim_cand *feed);
size_t agora__sim_topk_ref(const agora__sim_cand *cand, size_t n, size_t k, agora__sim_cand *feed);
/* The feed line: pool -> scores -> top-k. */
size_t agora__sim_feed_build(const agora__sim_read_ctx *ctx, agora__sim_score_fn score,
                             agora__sim_cand *pool, size_t n, size_t k, agora__sim_cand *feed);
void agora__sim_seen_add(agora_sim *s, uint32_t i, uint32_t seq);
/* Fills a candidate's copied message fields (o, author, neg) from the ring (tests). */
void agora__sim_cand_from_ring(const agora_sim *s, agora__sim_cand *c);
static inline uint32_t agora__sim_first_live(const agora_sim *s, int64_t t) {
    int64_t t_first = t - s->p.msg_max_age + 1;
    return s->step_seq0[t_first < 0 ? 0 : t_first];
}

// ---- opinions (opinion/opinion.c) ----
void agora__sim_opinion_item(const agora_sim_params *p, double *o_i, double o_m, int neg,
                             double camp_split);
void agora__sim_opinion_hk(const agora_sim_params *p, double *o_i, const double *om, size_t n);

// ---- graph (graph.c) ----
bool agora__sim_follows(const agora_sim *s, uint32_t i, uint32_t j);
agora_err agora__sim_follow(agora_sim *s, uint32_t i, uint32_t j, int32_t t);
bool agora__sim_unfollow(agora_sim *s, uint32_t i, uint32_t j);
agora_err agora__sim_graph_from_edges(agora_sim *s, const uint32_t *src, const uint32_t *dst,
                                      size_t n_edges);

// ---- generators and imports (gen.c, import.c) ----
agora_err agora__sim_generate(agora_sim *s, char err[AGORA_ERR_LEN]);
void agora__sim_init_attributes(agora_sim *s);
double agora__sim_beta_draw(agora_rng *r, double a, double b);

typedef struct agora__sim_edges {
    uint32_t *src, *dst; /* src follows dst after edge_dir is applied */
    uint32_t *w;         /* count of each line (third column if a positive integer, else 1) */
    size_t n, cap;
    uint32_t n_nodes;
    char *names; /* NUL-separated original ids, in first-appearance order */
    size_t names_len, names_cap;
    uint64_t *name_off;
    size_t name_off_cap;
    uint32_t *htab; /* node + 1, 0 = empty */
    uint32_t hmask;
} agora__sim_edges;
/* Parses a SNAP (whitespace) or CSV edge list held in memory: one "u v" (or "u,v") per
 * line, '#' comments, extra columns ignored, ids remapped to 0..N-1 by first appearance.
 * `name` is used in messages ("name:line: reason"). `reverse` swaps u and v.
 * Returns AGORA_EPARSE, AGORA_EOVERFLOW or AGORA_ENOMEM with err. */
agora_err agora__sim_parse_edges(const char *name, const char *text, size_t len, bool reverse,
                                 agora__sim_edges *out, char err[AGORA_ERR_LEN]);
void agora__sim_edges_free(agora__sim_edges *e);
int64_t agora__sim_edges_find(const agora__sim_edges *e, const char *id, size_t len);
enum { SIM_ATTR_O = 1, SIM_ATTR_TAU = 2, SIM_ATTR_A = 4, SIM_ATTR_PI = 8, SIM_ATTR_LABEL = 16 };
/* One agent-attribute row, matched to a node by id. */
typedef struct agora__sim_attr {
    uint32_t node;
    unsigned has; /* SIM_ATTR_* bits */
    double o, tau, a, pi;
    char label[32];
} agora__sim_attr;
/* Opinion from a label through sim.label_positions ("name:pos,..."); false if unknown. */
bool agora__sim_label_position(const char *table, const char *label, double *pos);
/* opinion_init = spectral: the Fiedler vector of the symmetrised graph's normalised
 * Laplacian (power iteration), rescaled to [-1, 1]. */
agora_err agora__sim_spectral_opinions(agora_sim *s);
/* Parses an agent CSV: a header naming columns among id (required), opinion, toxicity,
 * activity, rt_base, label; then one row per agent. Unknown or repeated ids, values out of
 * range and ragged rows are errors ("name:line: reason"). */
agora_err agora__sim_parse_agents(const char *name, const char *text, size_t len,
                                  const agora__sim_edges *ids, agora__sim_attr **rows,
                                  size_t *n_rows, char err[AGORA_ERR_LEN]);
agora_err agora__sim_import(agora_sim *s, char err[AGORA_ERR_LEN]);

// ---- step internals (sim.c) ----
agora_err agora__sim_step_ops(agora_sim *s, const agora__sim_recsys_ops *ops);
agora_err agora__sim_alloc(agora_sim *s, int64_t n);
/* The per-agent and per-message arrays, for the checkpoint (sim_ckpt.c): array a's name,
 * pointer field's offset, element count and size, and whether it is dynamic state (the rest is
 * scratch rewritten every step); false past the last one. */
typedef struct agora__sim_array_view {
    const char *name;
    size_t off; /* of the pointer field in agora_sim */
    size_t count, elem;
    bool state, per_message;
    int dtype; /* agora_st_dtype */
} agora__sim_array_view;
bool agora__sim_array(const agora_sim *s, size_t a, agora__sim_array_view *v);
/* Hash of the settings that shape a trajectory (sim_ckpt.c). */
uint64_t agora__sim_params_hash(const agora_sim_params *p);
/* Louvain modularity of the undirected projection of the follow graph (louvain.c): Q and
 * the number of communities; node_comm (n entries) gets each agent's community if set. */
agora_err agora__sim_louvain(const agora_sim *s, double *q_out, int64_t *n_comm_out,
                             uint32_t *node_comm);
/* agora_sim_load on a file image in memory (name stands for the path in messages). */
agora_err agora__sim_load_mem(const void *data, size_t len, const char *name,
                              const agora_sim_params *p, agora_sim **out, void **extra,
                              size_t *extra_len, char err[AGORA_ERR_LEN]);
void *agora__sim_big_alloc(size_t bytes, bool zero);
/* Grows the emission-window overflow buffers to at least cap entries (keeping win). */
agora_err agora__sim_window_reserve(agora_sim *s, size_t cap);

#endif /* AGORA_SIM_INTERNAL_H */
