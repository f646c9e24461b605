/* diloco.c: the DiLoCo outer loop over an agora_trainer and an agora_comm.
 *
 * Implements: the [diloco] config table; the membership boundary (topology update, then
 * the hash-checked shared-state sync of {theta_outer, momentum} at the outer revision);
 * H inner steps; the pseudo-gradient all-reduce with retry over the survivors; the outer
 * Nesterov step; the overlapped variant (the all-reduce of round t on a background
 * thread while round t+1 trains); per-outer-step statistics.
 * Does not: print or write files (the CLI does), or choose the ring (the coordinator).
 *
 * Every successful topology update is followed by a shared-state sync, at the boundary
 * and inside a retry alike, so that a node admitted while the others retry a collective
 * still receives theta_outer of the current outer step before it trains. Between
 * boundaries theta_outer does not change, so the sync moves nothing for members.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/ckpt_dir.h"
#include "agora/diloco.h"
#include "agora/hash.h"
#include "agora/log.h"
#include "agora/safetensors.h"
#include "agora/time.h"
#include "train/diloco_internal.h"

#define D_INT(key, f, d, lo, hi, h) AGORA_CFG_INT(agora_diloco_params, key, f, d, lo, hi, h)
#define D_DBL(key, f, d, lo, hi, h) AGORA_CFG_DBL(agora_diloco_params, key, f, d, lo, hi, h)

const agora_cfg_entry agora_diloco_cfg[] = {
    D_INT("diloco.inner_steps", inner_steps, 20, 1, 1000000, "H: inner AdamW steps per outer step"),
    D_INT("diloco.outer_steps", outer_steps, 10, 1, INT64_C(1) << 40,
          "committed outer steps before the node stops"),
    D_DBL("diloco.outer_lr", outer_lr, 0.7, 0.0, 10.0, "outer Nesterov learning rate"),
    D_DBL("diloco.outer_momentum", outer_momentum, 0.9, 0.0, 0.999, "outer Nesterov momentum"),
    D_INT("diloco.min_world", min_world, 1, 1, 4096,
          "nodes required in the ring before the first outer step"),
    D_INT("diloco.boundary_timeout_ms", boundary_timeout_ms, 120000, 100, INT64_C(1) << 40,
          "deadline of one membership boundary (topology + shared state)"),
    D_INT("diloco.measure_bytes", measure_bytes, 1 << 20, 0, 1 << 30,
          "bytes per link of the bandwidth measurement run when the members change (3 or "
          "more nodes): the coordinator orders the ring by it (0: never measure)"),
    D_INT("diloco.max_retries", max_retries, 20, 0, 1000000,
          "failed collectives tolerated within one outer step"),
    D_INT("diloco.ckpt_every", ckpt_every, 10, 0, INT64_C(1) << 40,
          "checkpoint the outer state every this many outer steps (0: off)"),
    D_INT("diloco.ckpt_keep", ckpt_keep, 3, 1, 100000, "outer-state checkpoints kept"),
    AGORA_CFG_BOOL(agora_diloco_params, "diloco.ckpt_async", ckpt_async, true,
                   "copy periodic checkpoints aside and write them on a background thread"),
    D_DBL("diloco.delta_max_ratio", delta_max_ratio, 10.0, 0.0, 1e30,
          "leave out a delta whose norm exceeds this times the lower median norm (0: off)"),
    D_INT("diloco.chaos_at", chaos_at, 0, 0, INT64_C(1) << 40,
          "testing: scale this node's delta at this outer step (0: never)"),
    D_DBL("diloco.chaos_delta_scale", chaos_delta_scale, 1.0, -1e30, 1e30,
          "testing: the factor diloco.chaos_at applies"),
    AGORA_CFG_BOOL(agora_diloco_params, "diloco.error_feedback", error_feedback, false,
                   "add this node's quantization residual to its next delta (int8-lut, "
                   "minmax-uint8, e3m0)"),
    AGORA_CFG_BOOL(agora_diloco_params, "diloco.overlap", overlap, false,
                   "reduce delta_t in the background while round t+1 trains (delayed outer "
                   "update with an eager local estimate)"),
    AGORA_CFG_BOOL(agora_diloco_params, "diloco.streaming", streaming, false,
                   "streaming DiLoCo: sync the parameters one fragment at a time, each "
                   "all-reduce overlapping the next inner steps"),
    D_INT("diloco.fragments", fragments, 4, 1, 4096,
          "streaming: fragments (layer l in fragment l mod P), synced in turn within each "
          "outer step"),
    D_INT("diloco.fragment_overlap", fragment_overlap, 1, 0, 1000000,
          "streaming: inner steps a fragment's all-reduce runs behind (0: blocking)"),
    D_DBL("diloco.fragment_mix", fragment_mix, 0.5, 0.0, 1.0,
          "streaming: weight of the local copy when a synced fragment is merged back "
          "(0: take the outer parameters)"),
};
const size_t agora_diloco_cfg_len = sizeof agora_diloco_cfg / sizeof agora_diloco_cfg[0];

/* One checkpoint: the trainer's (live, or a snapshot) and the outer state. */
typedef struct ckpt_job {
    const float *outer, *momentum;
    const float *ef;                 /* diloco.error_feedback: the residual to carry (NULL: none) */
    int64_t revision;                /* the directory's step: outer steps (streaming: fragment
                                        syncs, see ckpt_pos) */
    bool trainer;                    /* write the trainer's checkpoint first */
    const agora_ckpt_snapshot *snap; /* ... from this snapshot (NULL: the live trainer) */
    agora_err rc;
    char err[AGORA_ERR_LEN];
} ckpt_job;

typedef struct loop {
    const agora_diloco_params *p;
    agora_trainer *t;
    agora_comm *c;
    float *inner;    /* (n,) the trainer's parameters: theta_inner */
    float *outer;    /* (n,) theta_outer */
    float *momentum; /* (n,) outer Nesterov buffer */
    float *delta;    /* (n,) pseudo-gradient, averaged in place */
    /* diloco.error_feedback with a quantized codec: the residual of the last committed
     * collective (added to the next delta) and the one the collective in flight fills */
    float *ef, *ef_next;
    float *start; /* (n,) overlap: where the current round's inner steps started */
    size_t n;
    uint64_t measured; /* agora_comm_membership when links were last measured (0: never) */
    size_t cur;        /* floats of delta the next collective averages (n, or a fragment) */
    int64_t revision;  /* committed outer steps */
    /* streaming: fragment q is the ranges frag_off/frag_len[frag_first[q] ..
     * frag_first[q + 1]) of the parameters; frag counts the fragment syncs made so far */
    size_t *frag_off, *frag_len, *frag_first;
    int64_t frag;
    bool retrying;     /* streaming: inside the boundary of a failed collective's retry */
    bool join_retry;   /* streaming: recovered at a retry: join that collective first */
    int64_t ckpt_last; /* ckpt_pos of the last checkpoint written */
    double mfu;        /* inner MFU of the last inner step */
    /* overlap: the collective in flight on the background thread */
    agora_codec codec;
    int64_t timeout_ms;
    int rev_bias;    /* overlap: shared revision = revision + rev_bias (see run_overlap) */
    int contributes; /* 0: no delta in the current collective (a joiner); the background
                        thread reads it, so it changes only when nothing is in flight */
    bool pending;
    pthread_t bg;
    agora_err bg_rc;
    agora_reduce_info bg_info;
    uint32_t excluded; /* deltas left out by the last collective's screening */
    /* diloco.ckpt_async: the staging arena and the write in flight */
    agora_ckpt_snapshot *snap;
    float *ck_outer, *ck_momentum, *ck_ef;
    ckpt_job ck;
    bool ck_running;
    int64_t ck_prev_last; /* ckpt_last before the write in flight (restored if it fails) */
    pthread_t ck_th;
    _Atomic bool ck_done;
} loop;

/* Streaming: fragment q of an outer step is merged back after inner step (q+1)H/P of it,
 * and its delta is taken fragment_overlap inner steps before. */
static int64_t frag_merge_at(const loop *L, int64_t q) {
    return (q + 1) * L->p->inner_steps / L->p->fragments;
}
static int64_t frag_send_at(const loop *L, int64_t q) {
    return frag_merge_at(L, q) - L->p->fragment_overlap;
}

static bool retryable(agora_err rc) {
    return rc == AGORA_EPEER_LOST || rc == AGORA_ETIMEDOUT || rc == AGORA_ECHECKSUM;
}

/* sync_state makes this node hold the elected {theta_outer, momentum, revision}. A node
 * at another revision (a joiner, or one resumed from an older checkpoint) also takes its
 * donor's AdamW moments (spec §10.3), so its first inner steps do not start from zero
 * moments at full learning rate; nodes at the elected revision keep their own. */
static agora_err sync_state(loop *L, int64_t deadline, agora_diloco_outer_stats *st) {
    agora_adamw *opt = agora_trainer_optimizer(L->t);
    agora_shared_tensor ts[4] = {{"theta_outer", L->outer, L->n, false},
                                 {"outer_momentum", L->momentum, L->n, false},
                                 {"adamw.exp_avg", opt->m, opt->n, true},
                                 {"adamw.exp_avg_sq", opt->v, opt->n, true}};
    agora_sync_info info;
    int64_t shared =
        L->p->streaming ? 2 * L->frag + (L->retrying ? 1 : 0) : L->revision + L->rev_bias;
    AGORA_TRY(agora_comm_sync_shared_state(L->c, ts, 4, (uint64_t)shared, deadline, &info));
    if (info.tensors_pulled > 0 || (int64_t)info.revision != shared) {
        /* Recovered from a peer: train from the elected outer parameters. */
        int64_t elected = (int64_t)info.revision;
        int64_t inner_at = elected * L->p->inner_steps; /* the LR schedule's position */
        if (L->p->streaming) {
            L->frag = elected / 2;
            /* A node that is itself retrying stands at that collective already. */
            L->join_retry = elected % 2 != 0 && !L->retrying;
            L->revision = L->frag / L->p->fragments;
            int64_t q = L->frag % L->p->fragments;
            inner_at = L->revision * L->p->inner_steps + (L->join_retry ? frag_merge_at(L, q)
                                                          : q > 0       ? frag_merge_at(L, q - 1)
                                                                        : 0);
        } else if (L->p->overlap) { /* elected >= 1: the ring is mid-run (see run_overlap) */
            L->revision = elected > 0 ? elected - 1 : 0;
            L->rev_bias = elected > 0 ? 1 : 0;
            memcpy(L->start, L->outer, L->n * sizeof(float));
        } else {
            L->revision = elected;
        }
        memcpy(L->inner, L->outer, L->n * sizeof(float));
        agora_trainer_set_step(L->t, inner_at);
        if (elected != shared) /* the moments came with the state: so does their step count */
            opt->t = inner_at;
        st->joined = 1;
        st->sync_rx_bytes += info.rx_bytes;
        AGORA_LOG_INFO(AGORA_SUB_TRAIN,
                       "recovered shared state at outer step %lld (%u tensors, "
                       "%llu bytes)",
                       (long long)L->revision, info.tensors_pulled,
                       (unsigned long long)info.rx_bytes);
    }
    return AGORA_OK;
}

/* boundary: topology update then shared-state sync, retried until both succeed. Waits
 * (within the boundary deadline) until the ring holds at least need_world nodes. */
static agora_err boundary(loop *L, uint32_t need_world, agora_diloco_outer_stats *st) {
    int64_t deadline = agora_deadline_in_ms(L->p->boundary_timeout_ms);
    agora_err rc;
    for (;;) {
        rc = agora_comm_update_topology(L->c, deadline);
        if (rc == AGORA_OK) {
            if (agora_comm_world(L->c) < need_world) {
                if (agora_deadline_passed(deadline))
                    return AGORA_ETIMEDOUT;
                agora_sleep_ns(100 * 1000000LL); /* pacing while peers arrive */
                continue;
            }
            /* New members (3 or more): measure every link, so the coordinator orders the
             * ring by bandwidth; every member sees the same set, so all or none measure.
             * A reorder only changes the epoch, not the set: the next update applies it. */
            uint64_t set = agora_comm_membership(L->c);
            if (L->p->measure_bytes > 0 && agora_comm_world(L->c) >= 3 && set != L->measured) {
                rc = agora_comm_measure_links(L->c, (size_t)L->p->measure_bytes, deadline);
                if (rc == AGORA_OK) {
                    L->measured = set;
                    continue;
                }
            } else {
                rc = sync_state(L, deadline, st);
                if (rc == AGORA_OK)
                    return AGORA_OK;
            }
        }
        if (!retryable(rc) || agora_deadline_passed(deadline))
            return rc;
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "membership boundary: %s; retrying", agora_err_name(rc));
    }
}

/* screen decides whether this node's delta goes into the average (spec §17). With
 * delta_max_ratio > 0 every member learns every member's norm through a census (a SUM of
 * W floats in which each fills its own slot: exact, and the same bytes everywhere, so all
 * members leave out the same deltas); without it a node leaves out only its own
 * non-finite delta. Sets *contributes and L->excluded. */
static agora_err screen(loop *L, int *contributes) {
    float norm = L->contributes ? agora_diloco_delta_norm(L->delta, L->cur) : 0.0f;
    *contributes = L->contributes;
    L->excluded = 0;
    uint32_t W = agora_comm_world(L->c), r = agora_comm_rank(L->c);
    if (L->p->delta_max_ratio <= 0 || W < 2 || W > AGORA_DILOCO_SCREEN_MAX || r >= W) {
        if (norm < 0) {
            *contributes = 0;
            L->excluded = 1;
            AGORA_LOG_WARN(AGORA_SUB_TRAIN, "this node's delta is not finite: left out");
        }
        return AGORA_OK;
    }
    float norms[AGORA_DILOCO_SCREEN_MAX];
    uint8_t keep[AGORA_DILOCO_SCREEN_MAX];
    memset(norms, 0, W * sizeof *norms);
    norms[r] = norm;
    agora_reduce_desc d = {.buf = norms,
                           .count = W,
                           .op = AGORA_REDUCE_SUM,
                           .codec = AGORA_CODEC_F32,
                           .contributes = 1,
                           .deadline_ns = agora_deadline_in_ms(L->timeout_ms)};
    AGORA_TRY(agora_comm_allreduce(L->c, &d, NULL));
    L->excluded = agora_diloco_screen(norms, W, L->p->delta_max_ratio, keep);
    if (L->excluded > 0)
        for (uint32_t i = 0; i < W; i++)
            if (norms[i] != 0 && !keep[i])
                AGORA_LOG_WARN(AGORA_SUB_TRAIN,
                               "rank %u's delta (norm %g) left out of outer step %" PRId64 "%s", i,
                               (double)norms[i], L->revision + 1, i == r ? " (this node)" : "");
    if (!keep[r])
        *contributes = 0;
    return AGORA_OK;
}

/* reduce_once: screening, then the average of the kept deltas. */
static agora_err reduce_once(loop *L, agora_reduce_info *info) {
    int contributes = 0;
    AGORA_TRY(screen(L, &contributes));
    agora_reduce_desc d = {.buf = L->delta,
                           .count = L->cur,
                           .op = AGORA_REDUCE_AVG,
                           .codec = L->codec,
                           .contributes = contributes,
                           .deadline_ns = agora_deadline_in_ms(L->timeout_ms),
                           .residual = L->ef_next};
    agora_err rc = agora_comm_allreduce(L->c, &d, info);
    /* committed: its residual is the one to carry (streaming scatters it per fragment) */
    if (rc == AGORA_OK && L->ef != NULL && !L->p->streaming) {
        float *t = L->ef;
        L->ef = L->ef_next;
        L->ef_next = t;
    }
    return rc;
}

/* add_residual: error feedback (spec §17) adds the residual of the last committed
 * collective to a freshly computed delta, so what quantization lost then is sent now. */
static void add_residual(loop *L) {
    if (L->ef == NULL)
        return;
    for (size_t i = 0; i < L->n; i++)
        L->delta[i] += L->ef[i];
}

/* finish_reduce books a collective's outcome: done (AGORA_OK, st->skipped when alone),
 * AGORA_EAGAIN to try again after the ring was rebuilt, or an error to give up. */
static agora_err finish_reduce(loop *L, agora_err rc, const agora_reduce_info *info,
                               agora_diloco_outer_stats *st) {
    if (rc == AGORA_OK) {
        st->world = info->world;
        st->contributors = info->contributors;
        st->excluded = L->excluded;
        if (L->ef != NULL) /* the collective has ended: its residual is settled */
            st->residual_norm = agora_diloco_delta_norm(L->ef, L->n);
        st->tx_bytes += info->tx_bytes;
        st->rx_bytes += info->rx_bytes;
        return AGORA_OK;
    }
    if (!retryable(rc))
        return rc;
    if (st->retries++ >= (uint32_t)L->p->max_retries)
        return rc;
    AGORA_LOG_WARN(AGORA_SUB_TRAIN, "all-reduce failed (%s); rebuilding the ring",
                   agora_err_name(rc));
    L->retrying = true;
    agora_err brc = boundary(L, 1, st);
    L->retrying = false;
    AGORA_TRY(brc);
    return AGORA_EAGAIN;
}

/* outer_reduce averages delta over the ring, retrying with the survivors. */
static agora_err outer_reduce(loop *L, agora_diloco_outer_stats *st) {
    for (;;) {
        if (agora_comm_world(L->c) < 2) {
            st->skipped = 1;
            return AGORA_OK;
        }
        agora_reduce_info info;
        agora_err rc = finish_reduce(L, reduce_once(L, &info), &info, st);
        if (rc != AGORA_EAGAIN)
            return rc;
    }
}

/* The background collective of overlap mode. The main thread makes no agora_comm_* call
 * between pthread_create and pthread_join, so comm is still used by one thread at a time
 * (comm.h's rule); create/join order the memory accesses. */
static void *bg_reduce(void *arg) {
    loop *L = arg;
    L->bg_rc = reduce_once(L, &L->bg_info);
    return NULL;
}

static agora_err start_bg(loop *L) {
    if (pthread_create(&L->bg, NULL, bg_reduce, L) != 0)
        return AGORA_ENOMEM;
    L->pending = true;
    return AGORA_OK;
}

/* wait_bg joins the background collective and finishes it like outer_reduce would (a
 * failure is retried in the foreground with the survivors). */
static agora_err wait_bg(loop *L, agora_diloco_outer_stats *st) {
    pthread_join(L->bg, NULL);
    L->pending = false;
    agora_err rc = finish_reduce(L, L->bg_rc, &L->bg_info, st);
    if (rc == AGORA_EAGAIN)
        rc = outer_reduce(L, st);
    return rc;
}

/* commit applies the averaged delta (or books a skip when the node was alone, or a
 * collective nobody contributed to: a lone node and joiners). */
static void commit(loop *L, agora_diloco_outer_stats *st) {
    if (st->skipped || st->contributors == 0)
        return;
    agora_diloco_outer_nesterov(L->outer, L->momentum, L->delta, L->n, (float)L->p->outer_lr,
                                (float)L->p->outer_momentum);
    L->revision++;
    st->committed++;
}

/* ckpt_write writes one checkpoint: the trainer's (not for the final one: the caller
 * writes that), then CKPT_ROOT/step_<revision>/outer.safetensors with the XXH3-64 of both
 * tensors in its metadata, then DONE, then prunes. Reads only the job, L->p and L->n (and
 * the live trainer when the job has no snapshot), so it may run on the writer thread. */
static void meta_add(const char **meta, size_t *nm, const char *key, const char *value) {
    meta[2 * *nm] = key;
    meta[2 * *nm + 1] = value;
    (*nm)++;
}

static void ckpt_write(const loop *L, ckpt_job *j) {
    const agora_diloco_params *p = L->p;
    char dir[4096], path[4200], rev[32], h[32], n[32], hx[3][24], fs[32], fp[32];
    j->err[0] = '\0';
    agora_err rc = AGORA_OK;
    if (j->trainer)
        rc = j->snap != NULL ? agora_ckpt_snapshot_write(j->snap, NULL, 0, j->err)
                             : agora_trainer_checkpoint(L->t, NULL, 0, j->err);
    if (rc == AGORA_OK)
        rc = agora_ckpt_dir_begin(p->ckpt_root, j->revision, dir, sizeof dir);
    if (rc == AGORA_OK) {
        snprintf(path, sizeof path, "%s/outer.safetensors", dir);
        /* streaming: the directory counts fragment syncs, outer_step the whole outer steps */
        snprintf(rev, sizeof rev, "%" PRId64,
                 p->streaming ? j->revision / p->fragments : j->revision);
        snprintf(fs, sizeof fs, "%" PRId64, j->revision);
        snprintf(fp, sizeof fp, "%" PRId64, p->fragments);
        snprintf(h, sizeof h, "%" PRId64, p->inner_steps);
        snprintf(n, sizeof n, "%zu", L->n);
        snprintf(hx[0], sizeof hx[0], "%016" PRIx64, agora_hash64(j->outer, L->n * sizeof(float)));
        snprintf(hx[1], sizeof hx[1], "%016" PRIx64,
                 agora_hash64(j->momentum, L->n * sizeof(float)));
        hx[2][0] = '\0';
        if (j->ef != NULL)
            snprintf(hx[2], sizeof hx[2], "%016" PRIx64, agora_hash64(j->ef, L->n * sizeof(float)));
        const char *meta[18] = {"format",
                                "agora-diloco-outer",
                                "outer_step",
                                rev,
                                "inner_steps",
                                h,
                                "n_params",
                                n,
                                "theta_outer.xxh3",
                                hx[0],
                                "outer_momentum.xxh3",
                                hx[1]};
        size_t nm = 6;
        bool ef = j->ef != NULL; /* its tensor comes last: left out when absent */
        if (p->streaming) {      /* where in the outer step the state was taken */
            meta_add(meta, &nm, "fragment_syncs", fs);
            meta_add(meta, &nm, "fragments", fp);
        }
        if (ef)
            meta_add(meta, &nm, "ef_residual.xxh3", hx[2]);
        /* ef_residual: this node's own error-feedback residual (never shared) */
        agora_st_entry e[3] = {{"theta_outer", AGORA_ST_F32, 1, {(int64_t)L->n}, j->outer},
                               {"outer_momentum", AGORA_ST_F32, 1, {(int64_t)L->n}, j->momentum},
                               {"ef_residual", AGORA_ST_F32, 1, {(int64_t)L->n}, j->ef}};
        rc = agora_st_save(path, e, ef ? 3 : 2, meta, nm, j->err);
    }
    if (rc == AGORA_OK)
        rc = agora_ckpt_dir_commit(dir);
    if (rc == AGORA_OK)
        rc = agora_ckpt_dir_prune(p->ckpt_root, (size_t)p->ckpt_keep);
    j->rc = rc;
}

static void *ckpt_thread(void *arg) {
    loop *L = arg;
    ckpt_write(L, &L->ck);
    atomic_store(&L->ck_done, true);
    return NULL;
}

/* ckpt_finish reports the write in flight once it is done; with wait, waits for it. A
 * failed write is logged and changes nothing else (the previous checkpoint stays). */
static void ckpt_finish(loop *L, bool wait) {
    if (!L->ck_running || (!wait && !atomic_load(&L->ck_done)))
        return;
    pthread_join(L->ck_th, NULL);
    L->ck_running = false;
    if (L->ck.rc != AGORA_OK) {
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "checkpoint at outer step %" PRId64 " failed: %s %s",
                       L->ck.revision, agora_err_name(L->ck.rc), L->ck.err);
        if (L->ckpt_last == L->ck.revision)
            L->ckpt_last = L->ck_prev_last; /* a final or stop checkpoint tries again */
    }
}

/* ckpt_stage copies the trainer's and the outer state into the staging arena. */
static agora_err ckpt_stage(loop *L) {
    if (L->ck_outer == NULL) {
        L->ck_outer = agora_malloc_aligned(L->n * sizeof(float));
        L->ck_momentum = agora_malloc_aligned(L->n * sizeof(float));
        if (L->ck_outer == NULL || L->ck_momentum == NULL)
            return AGORA_ENOMEM;
    }
    if (L->ef != NULL && L->ck_ef == NULL) {
        L->ck_ef = agora_malloc_aligned(L->n * sizeof(float));
        if (L->ck_ef == NULL)
            return AGORA_ENOMEM;
    }
    AGORA_TRY(agora_trainer_snapshot(L->t, &L->snap));
    memcpy(L->ck_outer, L->outer, L->n * sizeof(float));
    memcpy(L->ck_momentum, L->momentum, L->n * sizeof(float));
    if (L->ef != NULL)
        memcpy(L->ck_ef, L->ef, L->n * sizeof(float));
    return AGORA_OK;
}

/* save_ckpt checkpoints every ckpt_every outer steps at the boundary, at the end, and
 * when the node stops early (coordinator lost, deadline, SIGTERM), so that a resume
 * loses no committed outer step. Periodic checkpoints go to the writer thread when
 * diloco.ckpt_async is set (falling back to writing here if staging fails); the final
 * and stop ones are written here, after any write in flight. */
typedef enum ckpt_kind { CKPT_PERIODIC, CKPT_FINAL, CKPT_STOP } ckpt_kind;

/* ckpt_pos is where a checkpoint taken now stands: committed outer steps, or in streaming
 * mode fragment syncs (a stop may come between two fragments of an outer step; the
 * directory is named by it and the file says both, see load_ckpt). */
static int64_t ckpt_pos(const loop *L) {
    return L->p->streaming ? L->frag : L->revision;
}

static void save_ckpt(loop *L, agora_diloco_outer_stats *st, ckpt_kind kind) {
    const agora_diloco_params *p = L->p;
    ckpt_finish(L, false);
    int64_t pos = ckpt_pos(L);
    if (p->ckpt_root == NULL || p->ckpt_every <= 0 || pos <= 0 ||
        (kind == CKPT_PERIODIC && (pos != L->revision * (p->streaming ? p->fragments : 1) ||
                                   L->revision % p->ckpt_every != 0)) ||
        pos == L->ckpt_last)
        return;
    int64_t t0 = agora_now_ns();
    ckpt_finish(L, true); /* back-pressure: one write at a time, in order */
    ckpt_job j = {L->outer, L->momentum, L->ef, pos, kind != CKPT_FINAL, NULL, AGORA_OK, ""};
    if (kind == CKPT_PERIODIC && p->ckpt_async) {
        agora_err rc = ckpt_stage(L);
        if (rc == AGORA_OK) {
            L->ck = (ckpt_job){L->ck_outer,
                               L->ck_momentum,
                               L->ef != NULL ? L->ck_ef : NULL,
                               pos,
                               true,
                               L->snap,
                               AGORA_OK,
                               ""};
            L->ck_prev_last = L->ckpt_last;
            L->ckpt_last = pos;
            atomic_store(&L->ck_done, false);
            if (pthread_create(&L->ck_th, NULL, ckpt_thread, L) == 0) {
                L->ck_running = true;
                st->ckpt_s = (double)(agora_now_ns() - t0) / 1e9;
                return;
            }
            L->ckpt_last = L->ck_prev_last;
        }
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "background checkpoint unavailable (%s): writing it now",
                       agora_err_name(rc == AGORA_OK ? AGORA_ENOMEM : rc));
    }
    ckpt_write(L, &j);
    if (j.rc != AGORA_OK) {
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "checkpoint at outer step %" PRId64 " failed: %s %s",
                       L->revision, agora_err_name(j.rc), j.err);
        return;
    }
    L->ckpt_last = pos;
    st->ckpt_s = (double)(agora_now_ns() - t0) / 1e9;
}

/* check_hash compares a loaded tensor with the XXH3-64 in the file's metadata
 * ("<name>.xxh3"; files written before the hashes existed have none and pass). */
static agora_err check_hash(const agora_st_file *f, const char *name, const float *x, size_t n,
                            const char *path, char err[AGORA_ERR_LEN]) {
    char key[64], got[24];
    snprintf(key, sizeof key, "%s.xxh3", name);
    const char *want = agora_st_meta(f, key);
    if (want == NULL)
        return AGORA_OK;
    snprintf(got, sizeof got, "%016" PRIx64, agora_hash64(x, n * sizeof(float)));
    if (strcmp(want, got) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: tensor %s hashes to %s, the manifest says %.20s",
                 path, name, got, want);
        return AGORA_EHASH;
    }
    return AGORA_OK;
}

/* load_ckpt starts from the newest complete outer state under ckpt_root, if any. */
static agora_err load_ckpt(loop *L, char err[AGORA_ERR_LEN]) {
    const agora_diloco_params *p = L->p;
    char dir[4096], path[4200];
    int64_t step = 0;
    agora_err rc = agora_ckpt_dir_latest(p->ckpt_root, dir, sizeof dir, &step);
    if (rc == AGORA_ENOENT) {
        AGORA_LOG_INFO(AGORA_SUB_TRAIN, "resume: no outer state in %s, starting fresh",
                       p->ckpt_root);
        return AGORA_OK;
    }
    AGORA_TRY(rc);
    snprintf(path, sizeof path, "%s/outer.safetensors", dir);
    agora_st_file *f = NULL;
    AGORA_TRY(agora_st_load(path, &f, err));
    int64_t shape[1] = {(int64_t)L->n};
    const char *fmt = agora_st_meta(f, "format"), *rev = agora_st_meta(f, "outer_step");
    const char *fs = agora_st_meta(f, "fragment_syncs"), *fp = agora_st_meta(f, "fragments");
    char *end = NULL, *fend = NULL, *pend = NULL;
    long long r = rev != NULL ? strtoll(rev, &end, 10) : -1;
    /* Streaming checkpoints are named by fragment syncs and may stand inside an outer step;
     * the others by outer steps. */
    long long syncs = fs != NULL ? strtoll(fs, &fend, 10) : 0; /* read only when fs is set */
    long long frags = fp != NULL ? strtoll(fp, &pend, 10) : p->fragments;
    bool bad_frag =
        fs != NULL && (fp == NULL || fend == fs || *fend != '\0' || pend == fp || *pend != '\0' ||
                       frags < 1 || syncs != step || syncs / frags != r);
    if (fmt == NULL || strcmp(fmt, "agora-diloco-outer") != 0 || end == rev || *end != '\0' ||
        (fs == NULL && r != step) || bad_frag) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: not an agora DiLoCo outer state for step %" PRId64,
                 path, step);
        rc = AGORA_EPARSE;
    } else if (fs != NULL && (!p->streaming || frags != p->fragments)) {
        /* (its directory counts fragment syncs: another mode would name newer ones lower) */
        snprintf(err, AGORA_ERR_LEN,
                 "%.300s: taken by streaming DiLoCo with %lld fragments; resume it with "
                 "diloco.streaming=true and diloco.fragments=%lld",
                 path, frags, frags);
        rc = AGORA_ESHAPE;
    }
    if (rc == AGORA_OK)
        rc = agora_st_read_f32(f, "theta_outer", L->outer, 1, shape, err);
    if (rc == AGORA_OK)
        rc = agora_st_read_f32(f, "outer_momentum", L->momentum, 1, shape, err);
    if (rc == AGORA_OK)
        rc = check_hash(f, "theta_outer", L->outer, L->n, path, err);
    if (rc == AGORA_OK)
        rc = check_hash(f, "outer_momentum", L->momentum, L->n, path, err);
    bool ef_loaded = false;
    if (rc == AGORA_OK && L->ef != NULL && agora_st_find(f, "ef_residual") != NULL) {
        rc = agora_st_read_f32(f, "ef_residual", L->ef, 1, shape, err);
        if (rc == AGORA_OK)
            rc = check_hash(f, "ef_residual", L->ef, L->n, path, err);
        ef_loaded = rc == AGORA_OK;
    }
    agora_st_close(f);
    AGORA_TRY(rc);
    L->revision = r;
    L->frag = fs != NULL ? syncs : r * p->fragments;
    L->ckpt_last = ckpt_pos(L);
    memcpy(L->inner, L->outer, L->n * sizeof(float));
    int64_t q = L->frag % p->fragments; /* streaming: resume at this fragment */
    agora_trainer_set_step(L->t, r * p->inner_steps + (q > 0 ? frag_merge_at(L, q - 1) : 0));
    AGORA_LOG_INFO(AGORA_SUB_TRAIN, "resumed the outer state of step %" PRId64 "%s from %s%s",
                   L->revision, q > 0 ? " (inside the next, at a fragment)" : "", dir,
                   ef_loaded ? " with its error-feedback residual" : "");
    return AGORA_OK;
}

static void finish_stats(agora_diloco_outer_stats *st, const loop *L, double loss, double tps,
                         double inner_s, double reduce_s, double boundary_s) {
    st->outer_step = L->revision;
    st->inner_step = agora_trainer_step_count(L->t);
    st->loss = loss;
    st->tok_per_s = tps;
    st->inner_s = inner_s;
    st->allreduce_s = reduce_s;
    st->boundary_s = boundary_s;
    st->utilization = agora_diloco_utilization(inner_s, reduce_s + boundary_s);
    st->mfu = inner_s > 0 ? L->mfu : 0;
    st->outer_mfu = st->mfu * st->utilization;
    if (st->world == 0)
        st->world = agora_comm_world(L->c);
}

static double secs_since(int64_t t0) {
    return (double)(agora_now_ns() - t0) / 1e9;
}

/* chaos (testing, diloco.chaos_at): a node whose numerics went wrong, simulated by
 * scaling its delta for the outer step about to be made. */
static void chaos(loop *L) {
    if (L->p->chaos_at <= 0 || L->revision + 1 != L->p->chaos_at)
        return;
    float s = (float)L->p->chaos_delta_scale;
    for (size_t i = 0; i < L->cur; i++)
        L->delta[i] *= s;
    AGORA_LOG_WARN(AGORA_SUB_TRAIN, "chaos: delta of outer step %" PRId64 " scaled by %g",
                   L->revision + 1, (double)s);
}

/* inner runs H inner steps; *loss gets their mean. */
static agora_err inner(loop *L, double *loss, double *tps) {
    double sum = 0;
    for (int64_t h = 0; h < L->p->inner_steps; h++) {
        agora_train_stats ts;
        AGORA_TRY(agora_trainer_step(L->t, &ts));
        sum += ts.loss;
        *tps = ts.tok_per_s;
        L->mfu = ts.mfu;
    }
    *loss = sum / (double)L->p->inner_steps;
    return AGORA_OK;
}

/* run_blocking: boundary, H inner steps, all-reduce, outer step; repeat. */
static agora_err run_blocking(loop *L, agora_diloco_cb cb, void *user) {
    /* The first boundary waits for the quorum; after a step spent alone the node waits
     * for a peer instead of training updates it would have to throw away. */
    uint32_t need_world = (uint32_t)L->p->min_world;
    while (L->revision < L->p->outer_steps) {
        agora_diloco_outer_stats st = {0};
        int64_t t0 = agora_now_ns();
        AGORA_TRY(boundary(L, need_world, &st));
        need_world = 1;
        if (L->revision >= L->p->outer_steps)
            break; /* a joiner may arrive after the end */
        double boundary_s = secs_since(t0), loss = 0, tps = 0;
        save_ckpt(L, &st, CKPT_PERIODIC);
        int64_t t1 = agora_now_ns();
        AGORA_TRY(inner(L, &loss, &tps));
        double inner_s = secs_since(t1);
        int64_t t2 = agora_now_ns();
        agora_diloco_pseudo_grad(L->delta, L->outer, L->inner, L->n);
        add_residual(L);
        chaos(L);
        AGORA_TRY(outer_reduce(L, &st));
        commit(L, &st);
        if (st.skipped)
            need_world = 2;
        memcpy(L->inner, L->outer, L->n * sizeof(float)); /* AdamW state is kept */
        finish_stats(&st, L, loss, tps, inner_s, secs_since(t2), boundary_s);
        if (cb != NULL && cb(&st, user) != 0)
            break;
    }
    return AGORA_OK;
}

/* run_overlap: the one-step-delayed outer update. Each record of the loop is
 *
 *   inner    H inner steps from `start` (skipped right after a join or a lone skip)
 *   join     wait for the collective of the previous round; outer step if it committed
 *   boundary topology update + shared-state sync (nothing in flight here)
 *   launch   delta = start - theta_inner; start = the outer step estimated from the own
 *            delta; theta_inner = start; all-reduce delta on the background thread
 *            (the round that makes the last outer step is reduced in the foreground)
 *
 * The boundary of the loop is followed by a collective at once, so a node admitted there
 * takes part in it without a delta (contributes = 0, not counted in the divisor) and
 * commits its average like the others. A joiner tells whether it entered mid-run from
 * the shared revision: the loop publishes revision + 1 (the collective about to start);
 * the first boundary of a fresh run publishes 0, and there every node trains first. */
static agora_err run_overlap(loop *L, agora_diloco_cb cb, void *user) {
    const agora_diloco_params *p = L->p;
    agora_diloco_outer_stats st0 = {0};
    L->rev_bias = 0;
    L->contributes = 1;
    AGORA_TRY(boundary(L, (uint32_t)p->min_world, &st0));
    /* A mid-run joiner has just had the loop's boundary: straight to the collective. */
    bool train_next = L->rev_bias == 0, boundary_next = train_next;
    L->rev_bias = 1;
    uint32_t need_world = 1;
    bool first = true;
    for (;;) {
        agora_diloco_outer_stats st = {0};
        if (first) {
            st = st0;
            first = false;
        }
        double loss = 0, tps = 0, inner_s = 0;
        if (train_next) {
            int64_t t1 = agora_now_ns();
            AGORA_TRY(inner(L, &loss, &tps));
            inner_s = secs_since(t1);
        }
        int64_t t2 = agora_now_ns();
        if (L->pending) {
            AGORA_TRY(wait_bg(L, &st));
            commit(L, &st);
        }
        double reduce_s = secs_since(t2);
        if (L->revision >= p->outer_steps)
            break;
        int64_t t3 = agora_now_ns();
        if (!st.skipped && boundary_next)
            AGORA_TRY(boundary(L, need_world, &st));
        need_world = 1;
        boundary_next = true;
        double boundary_s = secs_since(t3);
        save_ckpt(L, &st, CKPT_PERIODIC);
        if (L->revision >= p->outer_steps)
            break; /* a joiner may arrive after the end */
        int64_t t4 = agora_now_ns();
        if (train_next && !st.joined) { /* a pull discards the round (st0 of a joiner too) */
            agora_diloco_pseudo_grad(L->delta, L->start, L->inner, L->n);
            add_residual(L);
            chaos(L);
        } else
            memset(L->delta, 0, L->n * sizeof(float));
        L->contributes = train_next && !st.joined;
        if (st.skipped || agora_comm_world(L->c) < 2) {
            /* Alone (or the ring fell apart during the collective): the progress is
             * dropped and the node waits for a peer before it trains again. */
            st.skipped = 1;
            memcpy(L->start, L->outer, L->n * sizeof(float));
            memcpy(L->inner, L->outer, L->n * sizeof(float));
            need_world = 2;
            train_next = false;
        } else if (L->revision + 1 < p->outer_steps) {
            if (L->contributes)
                agora_diloco_outer_estimate(L->start, L->outer, L->momentum, L->delta, L->n,
                                            (float)p->outer_lr, (float)p->outer_momentum);
            else
                memcpy(L->start, L->outer, L->n * sizeof(float));
            memcpy(L->inner, L->start, L->n * sizeof(float));
            AGORA_TRY(start_bg(L));
            train_next = true;
        } else { /* the last outer step: every node ends with theta_inner = theta_outer */
            AGORA_TRY(outer_reduce(L, &st));
            commit(L, &st);
            memcpy(L->start, L->outer, L->n * sizeof(float));
            memcpy(L->inner, L->outer, L->n * sizeof(float));
            train_next = true;
        }
        finish_stats(&st, L, loss, tps, inner_s, reduce_s + secs_since(t4), boundary_s);
        if (cb != NULL && cb(&st, user) != 0)
            break;
        if (L->revision >= p->outer_steps)
            break;
    }
    return AGORA_OK;
}

/* inner_to runs inner steps until *h (the step within the outer step) reaches `to`,
 * adding their losses to *loss_sum and their count to *n_loss. */
static agora_err inner_to(loop *L, int64_t *h, int64_t to, double *loss_sum, int64_t *n_loss,
                          double *tps, double *inner_s) {
    int64_t t0 = agora_now_ns();
    for (; *h < to; (*h)++) {
        agora_train_stats ts;
        AGORA_TRY(agora_trainer_step(L->t, &ts));
        *loss_sum += ts.loss;
        (*n_loss)++;
        *tps = ts.tok_per_s;
        L->mfu = ts.mfu;
    }
    *inner_s += secs_since(t0);
    return AGORA_OK;
}

/* frag_delta gathers fragment q's delta (theta_outer - theta_inner, plus the fragment's
 * error-feedback residual) into L->delta. */
static void frag_delta(loop *L, int64_t q) {
    size_t k = 0;
    for (size_t r = L->frag_first[q]; r < L->frag_first[q + 1]; r++) {
        size_t o = L->frag_off[r], len = L->frag_len[r];
        agora_diloco_pseudo_grad(L->delta + k, L->outer + o, L->inner + o, len);
        if (L->ef != NULL)
            for (size_t i = 0; i < len; i++)
                L->delta[k + i] += L->ef[o + i];
        k += len;
    }
    L->cur = k;
}

/* frag_commit applies the averaged delta of fragment q to its theta_outer and momentum
 * (unless nobody contributed) and mixes the fragment back into theta_inner. */
static void frag_commit(loop *L, int64_t q, agora_diloco_outer_stats *st) {
    size_t k = 0;
    for (size_t r = L->frag_first[q]; r < L->frag_first[q + 1]; r++) {
        size_t o = L->frag_off[r], len = L->frag_len[r];
        if (st->contributors > 0)
            agora_diloco_outer_nesterov(L->outer + o, L->momentum + o, L->delta + k, len,
                                        (float)L->p->outer_lr, (float)L->p->outer_momentum);
        agora_diloco_mix(L->inner + o, L->outer + o, len, (float)L->p->fragment_mix);
        if (L->ef != NULL) /* this collective's residual, carried into q's next delta */
            memcpy(L->ef + o, L->ef_next + k, len * sizeof(float));
        k += len;
    }
    L->frag++;
}

/* run_streaming: streaming DiLoCo (see diloco.h). Each record of the loop is one outer
 * step: boundary (checkpoint when it starts an outer step), then for each fragment q in
 * turn: inner steps up to q's send point, delta of q, all-reduce (on the background
 * thread while fragment_overlap more inner steps run), outer step of q, mix-back. A node
 * left alone drops its progress (theta_inner = theta_outer) and waits at the next
 * boundary for a peer; it then resumes at the fragment it stopped at, and so does anyone
 * admitted there. */
static agora_err run_streaming(loop *L, agora_diloco_cb cb, void *user) {
    const agora_diloco_params *p = L->p;
    const int64_t P = p->fragments, end = p->outer_steps * P;
    uint32_t need_world = (uint32_t)p->min_world;
    while (L->frag < end) {
        agora_diloco_outer_stats st = {0};
        int64_t t0 = agora_now_ns();
        AGORA_TRY(boundary(L, need_world, &st));
        need_world = 1;
        if (L->frag >= end)
            break; /* a joiner may arrive after the end */
        double boundary_s = secs_since(t0), loss_sum = 0, tps = 0, inner_s = 0, reduce_s = 0;
        int64_t n_loss = 0, q = L->frag % P, h = q > 0 ? frag_merge_at(L, q - 1) : 0;
        if (q == 0)
            save_ckpt(L, &st, CKPT_PERIODIC);
        bool alone = false;
        if (L->join_retry) { /* admitted while the ring retried fragment q: join it */
            L->join_retry = false;
            AGORA_LOG_INFO(AGORA_SUB_TRAIN,
                           "joining the retried all-reduce of fragment %" PRId64
                           " of outer step %" PRId64 " without a delta",
                           q, L->revision + 1);
            frag_delta(L, q);
            memset(L->delta, 0, L->cur * sizeof(float));
            L->contributes = 0;
            int64_t t1 = agora_now_ns();
            agora_err rc = outer_reduce(L, &st);
            L->contributes = 1;
            AGORA_TRY(rc);
            reduce_s += secs_since(t1);
            alone = st.skipped != 0;
            if (!alone) {
                frag_commit(L, q, &st);
                h = frag_merge_at(L, q);
                q++;
            }
        }
        for (; q < P && !alone; q++) {
            AGORA_TRY(inner_to(L, &h, frag_send_at(L, q), &loss_sum, &n_loss, &tps, &inner_s));
            frag_delta(L, q);
            chaos(L);
            int64_t t1 = agora_now_ns();
            if (p->fragment_overlap == 0 || agora_comm_world(L->c) < 2) {
                AGORA_TRY(outer_reduce(L, &st));
                reduce_s += secs_since(t1);
            } else {
                AGORA_TRY(start_bg(L));
                reduce_s += secs_since(t1);
                AGORA_TRY(inner_to(L, &h, frag_merge_at(L, q), &loss_sum, &n_loss, &tps, &inner_s));
                int64_t t2 = agora_now_ns();
                AGORA_TRY(wait_bg(L, &st));
                reduce_s += secs_since(t2);
            }
            if (st.skipped) {
                alone = true;
                break;
            }
            frag_commit(L, q, &st);
        }
        if (alone) { /* the progress since the last sync is dropped */
            memcpy(L->inner, L->outer, L->n * sizeof(float));
            need_world = 2;
            AGORA_LOG_WARN(AGORA_SUB_TRAIN,
                           "alone in the ring at fragment %" PRId64 " of outer step %" PRId64
                           ": waiting for a peer",
                           L->frag % P, L->revision + 1);
        }
        if (L->frag % P == 0 && L->frag / P > L->revision) {
            L->revision = L->frag / P;
            st.committed = 1;
        }
        if (L->frag >= end) /* every node ends with theta_inner = theta_outer */
            memcpy(L->inner, L->outer, L->n * sizeof(float));
        if (L->ef != NULL) /* once per record, after its fragments' residuals came back */
            st.residual_norm = agora_diloco_delta_norm(L->ef, L->n);
        finish_stats(&st, L, n_loss > 0 ? loss_sum / (double)n_loss : 0.0, tps, inner_s, reduce_s,
                     boundary_s);
        if (cb != NULL && cb(&st, user) != 0)
            break;
    }
    return AGORA_OK;
}

void agora__diloco_plan(const agora_model *m, size_t n, size_t P, size_t *off, size_t *len,
                        size_t *first) {
    size_t nt = agora_model_n_tensors(m), k = 0;
    for (size_t q = 0; q < P; q++) {
        first[q] = k;
        for (size_t i = 0; i < nt; i++) {
            const agora_model_param *t = agora_model_tensor(m, i);
            int layer = -1;
            size_t owner = strstr(t->name, "embed_tokens") != NULL ? 0 : P - 1;
            if (sscanf(t->name, "model.layers.%d.", &layer) == 1 && layer >= 0)
                owner = (size_t)layer % P;
            if (owner != q)
                continue;
            size_t lo = t->offset, hi = n;
            for (size_t j = 0; j < nt; j++) { /* up to the next tensor in memory */
                size_t o = agora_model_tensor(m, j)->offset;
                if (o > lo && o < hi)
                    hi = o;
            }
            if (k > first[q] && off[k - 1] + len[k - 1] == lo) {
                len[k - 1] += hi - lo;
            } else {
                off[k] = lo;
                len[k] = hi - lo;
                k++;
            }
        }
    }
    first[P] = k;
}

/* frag_plan allocates and fills the fragment plan (agora__diloco_plan). */
static agora_err frag_plan(loop *L, const agora_model *m) {
    size_t nt = agora_model_n_tensors(m), P = (size_t)L->p->fragments;
    L->frag_off = agora_calloc(nt + 1, sizeof(size_t));
    L->frag_len = agora_calloc(nt + 1, sizeof(size_t));
    L->frag_first = agora_calloc(P + 1, sizeof(size_t));
    if (L->frag_off == NULL || L->frag_len == NULL || L->frag_first == NULL)
        return AGORA_ENOMEM;
    agora__diloco_plan(m, L->n, P, L->frag_off, L->frag_len, L->frag_first);
    return AGORA_OK;
}

agora_err agora_diloco_check(const agora_diloco_params *p, int64_t n_layers,
                             char err[AGORA_ERR_LEN]) {
    if (!p->streaming)
        return AGORA_OK;
    const char *why = NULL;
    if (p->overlap)
        why = "diloco.streaming and diloco.overlap are two ways to overlap: pick one";
    else if (p->fragments > p->inner_steps)
        why = "diloco.fragments exceeds diloco.inner_steps";
    else if (p->fragment_overlap > p->inner_steps / p->fragments - 1)
        why = "diloco.fragment_overlap must leave every fragment an inner step of its own "
              "(at most diloco.inner_steps / diloco.fragments - 1)";
    else if (n_layers > 0 && p->fragments > n_layers)
        why = "diloco.fragments exceeds the model's layers";
    if (why == NULL)
        return AGORA_OK;
    char layers[48] = "";
    if (n_layers > 0)
        snprintf(layers, sizeof layers, ", %lld layers", (long long)n_layers);
    snprintf(err, AGORA_ERR_LEN,
             "%s (diloco.fragments = %lld, diloco.fragment_overlap = %lld, H = %lld%s)", why,
             (long long)p->fragments, (long long)p->fragment_overlap, (long long)p->inner_steps,
             layers);
    return AGORA_ERANGE;
}

agora_err agora_diloco_run(const agora_diloco_params *p, agora_trainer *t, agora_comm *c,
                           agora_codec codec, int64_t collective_timeout_ms, agora_diloco_cb cb,
                           void *user) {
    agora_model *m = agora_trainer_model(t);
    loop L = {.p = p,
              .t = t,
              .c = c,
              .n = agora_model_n_params(m),
              .revision = 0,
              .codec = codec,
              .timeout_ms = collective_timeout_ms,
              .contributes = 1};
    L.inner = agora_model_params(m);
    L.cur = L.n;
    char cerr[AGORA_ERR_LEN];
    agora_err rc = agora_diloco_check(p, agora_model_get_config(m)->n_layers, cerr);
    if (rc != AGORA_OK) {
        AGORA_LOG_ERROR(AGORA_SUB_TRAIN, "%s", cerr);
        return rc;
    }
    if (p->streaming && (rc = frag_plan(&L, m)) != AGORA_OK)
        goto out;
    L.outer = agora_malloc_aligned(L.n * sizeof(float));
    L.momentum = agora_malloc_aligned(L.n * sizeof(float));
    L.delta = agora_malloc_aligned(L.n * sizeof(float));
    L.start = p->overlap ? agora_malloc_aligned(L.n * sizeof(float)) : NULL;
    bool ef = p->error_feedback && codec != AGORA_CODEC_F32;
    if (ef) {
        L.ef = agora_malloc_aligned(L.n * sizeof(float));
        L.ef_next = agora_malloc_aligned(L.n * sizeof(float));
        if (L.ef != NULL)
            memset(L.ef, 0, L.n * sizeof(float));
    }
    if (L.outer == NULL || L.momentum == NULL || L.delta == NULL ||
        (p->overlap && L.start == NULL) || (ef && (L.ef == NULL || L.ef_next == NULL))) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    memcpy(L.outer, L.inner, L.n * sizeof(float));
    memset(L.momentum, 0, L.n * sizeof(float));
    if (p->resume && p->ckpt_root != NULL) {
        char err[AGORA_ERR_LEN] = "";
        rc = load_ckpt(&L, err);
        if (rc != AGORA_OK) {
            AGORA_LOG_ERROR(AGORA_SUB_TRAIN, "resume: %s", err[0] ? err : agora_err_str(rc));
            goto out;
        }
    }
    if (p->streaming) {
        rc = run_streaming(&L, cb, user);
    } else if (p->overlap) {
        memcpy(L.start, L.inner, L.n * sizeof(float));
        rc = run_overlap(&L, cb, user);
    } else {
        rc = run_blocking(&L, cb, user);
    }
out:
    if (L.pending) { /* an error or a stop left a collective in flight: let it end */
        agora_comm_abort(c);
        pthread_join(L.bg, NULL);
    }
    if (L.outer != NULL && L.momentum != NULL) {
        agora_diloco_outer_stats fin = {0};
        if (rc == AGORA_OK && L.revision >= p->outer_steps)
            save_ckpt(&L, &fin, CKPT_FINAL);
        else if (rc == AGORA_ECLOSED || rc == AGORA_ETIMEDOUT || rc == AGORA_EABORTED ||
                 rc == AGORA_EPEER_LOST)
            save_ckpt(&L, &fin, CKPT_STOP);
    }
    ckpt_finish(&L, true);
    agora_ckpt_snapshot_free(L.snap);
    agora_free_aligned(L.ck_outer);
    agora_free_aligned(L.ck_momentum);
    agora_free_aligned(L.ck_ef);
    agora_free_aligned(L.outer);
    agora_free_aligned(L.momentum);
    agora_free_aligned(L.delta);
    agora_free_aligned(L.start);
    agora_free_aligned(L.ef);
    agora_free_aligned(L.ef_next);
    agora_free(L.frag_off);
    agora_free(L.frag_len);
    agora_free(L.frag_first);
    return rc;
}
