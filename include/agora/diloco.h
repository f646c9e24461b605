/* diloco.h: DiLoCo, the outer loop of decentralized training (spec §4).
 *
 * Each node runs H inner AdamW steps alone (agora_trainer), then the ring all-reduces the
 * pseudo-gradients delta = theta_outer - theta_inner (averaged over the contributors,
 * int8-lut on the wire by default) and every node applies the same outer Nesterov step
 * to theta_outer. Membership changes (joins, deaths) happen only at the outer boundary,
 * through agora_comm_update_topology(); a joiner then pulls {theta_outer, momentum} and
 * the outer step counter through the hash-checked shared state.
 *
 * Failure semantics: a collective that fails (a peer died, a deadline passed) leaves the
 * delta untouched; the node updates the topology and retries with the survivors until the
 * collective commits. The outer update is never applied locally without the average (the
 * silent fallback PRIME had). A node left alone (world size 1) skips the outer update:
 * theta_inner is reset to theta_outer and the step is counted as skipped, as PCCL does.
 *
 * Overlap (diloco.overlap = true): a one-step-delayed outer update with an eager local
 * estimate (spec §17; Eager updates, arXiv 2502.12996). After round t the node starts the
 * all-reduce of its delta_t on a background thread and trains round t+1 at once from
 * theta_outer - delta_t (its own progress stands in for the average until it arrives).
 * At the next boundary it waits for the average, applies the outer step, and starts
 * round t+2 from the new theta_outer minus its own delta_{t+1}. theta_outer and the
 * momentum stay byte-identical on every node (only theta_inner differs between rounds);
 * the last round is reduced in the foreground, so every node ends with theta_inner =
 * theta_outer. Membership changes still happen only at boundaries, never while a
 * collective is in flight.
 *
 * Checkpoints (diloco.ckpt_every = k > 0): at the boundary of every k-th committed outer
 * step the node writes the trainer's checkpoint (AdamW moments, RNG, data cursor, and
 * theta_inner) and then CKPT_ROOT/step_<outer step>/outer.safetensors with theta_outer
 * and the momentum, each directory completed by its DONE marker (agora/ckpt_dir.h). With
 * resume set, the run starts from the newest complete outer state: theta_inner :=
 * theta_outer (a round that was not yet averaged is dropped), the LR schedule continues
 * at outer step * H, and the boundary then pulls newer state if the ring has moved on.
 * The outer state of the last step is written too (the caller checkpoints the trainer).
 * With diloco.ckpt_async (the default) a periodic checkpoint costs the loop only a copy
 * (spec §12): the trainer's state and the outer state are copied into a staging arena
 * (5 x params of memory) and written on a background thread while training goes on; a
 * new checkpoint first waits for the previous write (back-pressure), and the last one
 * (end of run, or an early stop) is written before agora_diloco_run returns.
 * outer.safetensors carries the XXH3-64 of each tensor in its metadata, checked on resume.
 *
 * Streaming (diloco.streaming = true; spec §17, Streaming DiLoCo, arXiv 2501.18512): the
 * parameters are cut into diloco.fragments fragments, strided by layer (layer l belongs to
 * fragment l mod P; the embedding to fragment 0, the final norm and the LM head to fragment
 * P-1). Within each outer step of H inner steps, fragment q is synced once: after inner
 * step (q+1)H/P - tau its delta (theta_outer - theta_inner over the fragment) goes into
 * the all-reduce, training goes on for tau = diloco.fragment_overlap inner steps while it
 * travels (on a background thread), then the outer Nesterov step is applied to the
 * fragment's theta_outer and momentum and the local copy is mixed back,
 * theta_inner = alpha theta_inner + (1 - alpha) theta_outer (alpha =
 * diloco.fragment_mix). So each collective carries about 1/P of the parameters (peak
 * bandwidth / P) and hides behind tau inner steps. theta_outer and the momentum stay
 * byte-identical everywhere; the last outer step ends with theta_inner = theta_outer.
 * With P = 1, tau = 0 and alpha = 0 it is blocking DiLoCo, bit for bit. The shared
 * revision counts fragment syncs (2 x syncs, + 1 while a failed one is retried), so a
 * node admitted at a retry joins that fragment's collective without a delta and carries
 * on from there. Periodic checkpoints are taken at outer-step boundaries only; a stop in
 * the middle of an outer step leaves the last periodic checkpoint standing. Not with
 * diloco.overlap or diloco.error_feedback.
 *
 * Screening (spec §17): before each outer all-reduce the members exchange the norms of
 * their deltas (a census: a W-float SUM in which each member fills its own slot, exact and
 * identical everywhere). A delta that is not finite, or whose norm exceeds
 * diloco.delta_max_ratio times the lower median, is left out of the average
 * (contributes = 0, so it is not counted in the divisor either): a node whose numerics blew
 * up cannot drag the others with it. With delta_max_ratio = 0 there is no census and a node
 * only leaves out its own non-finite delta.
 */
#ifndef AGORA_DILOCO_H
#define AGORA_DILOCO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/comm.h"
#include "agora/config.h"
#include "agora/err.h"
#include "agora/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The [diloco] config section. */
typedef struct agora_diloco_params {
    int64_t inner_steps;         /* H: inner AdamW steps per outer step */
    int64_t outer_steps;         /* stop after this many committed outer steps */
    double outer_lr;             /* outer Nesterov learning rate (INTELLECT-1: 0.7) */
    double outer_momentum;       /* outer Nesterov momentum (0.9) */
    int64_t min_world;           /* wait at the boundary until this many nodes are in the ring */
    int64_t boundary_timeout_ms; /* deadline for one membership boundary (topology + sync) */
    int64_t measure_bytes;       /* when the members change (3 or more), measure every link
                                    with this many bytes so the coordinator can order the ring
                                    by bandwidth (spec §11); 0: never */
    int64_t max_retries;         /* failed collectives tolerated in one outer step */
    bool overlap;                /* one-step-delayed outer update, see below */
    int64_t ckpt_every;          /* outer-state checkpoint every this many outer steps (0: off) */
    int64_t ckpt_keep;           /* outer-state checkpoints kept */
    bool ckpt_async;             /* periodic checkpoints written on a background thread */
    double delta_max_ratio;      /* leave out a delta whose norm exceeds this times the lower
                                    median of the round's delta norms (0: no norm census) */
    int64_t chaos_at;            /* testing: at this outer step (0: never) ... */
    double chaos_delta_scale;    /* ... this node's delta is multiplied by this */
    bool error_feedback;         /* add this node's quantization residual of the last
                                    committed collective to its next delta (spec §17; no
                                    effect with f32; kept in the outer-state checkpoint) */
    bool streaming;              /* sync the parameters fragment by fragment, see above */
    int64_t fragments;           /* streaming: P, fragments (strided by layer) */
    int64_t fragment_overlap;    /* streaming: tau, inner steps a fragment's all-reduce overlaps */
    double fragment_mix;         /* streaming: alpha, the local copy's weight when merging */
    /* Not config keys: set by the caller. */
    const char *ckpt_root; /* where outer-state checkpoints go (NULL: none) */
    bool resume;           /* start from the newest outer-state checkpoint under ckpt_root */
} agora_diloco_params;

AGORA_API extern const agora_cfg_entry agora_diloco_cfg[];
AGORA_API extern const size_t agora_diloco_cfg_len;

/* What happened in one outer step, reported to the caller's callback. */
typedef struct agora_diloco_outer_stats {
    int64_t outer_step;          /* outer steps committed so far (the shared revision) */
    int64_t inner_step;          /* this node's inner steps so far */
    uint32_t world;              /* ring size of the committed collective */
    uint32_t contributors;       /* peers averaged */
    double loss;                 /* mean inner loss over the H steps */
    double inner_s;              /* wall time of the H inner steps */
    double allreduce_s;          /* wall time spent waiting for the collective (retries
                                    included) and applying the outer step */
    double boundary_s;           /* wall time of topology update + shared-state sync */
    double utilization;          /* inner_s / (inner_s + allreduce_s + boundary_s) */
    uint64_t tx_bytes, rx_bytes; /* all-reduce payload bytes this node sent / received */
    uint64_t sync_rx_bytes;      /* shared-state bytes pulled (a joiner's recovery) */
    uint32_t retries;            /* failed collectives retried in this outer step */
    int skipped;                 /* 1: alone in the ring, outer update skipped */
    int joined;                  /* 1: this node pulled the shared state at this boundary */
    uint32_t committed;          /* outer steps committed in this record (0, 1, or 2 for
                                    the last record of an overlapped run) */
    double tok_per_s;            /* inner throughput */
    double mfu;                  /* inner MFU (spec §14): tok_per_s * flops/token / peak */
    double outer_mfu;            /* effective MFU: mfu * utilization */
    uint32_t excluded;           /* deltas left out of this outer step's average: not finite,
                                    or an outlier norm (see agora_diloco_screen) */
    double ckpt_s;               /* wall time the checkpoint taken at this boundary cost the
                                    loop (async: waiting for the previous write + copying) */
    double residual_norm;        /* diloco.error_feedback: L2 norm of the residual this node
                                    carries into its next delta (0 when off) */
} agora_diloco_outer_stats;

/* agora_diloco_check rejects settings that cannot run together: streaming with overlap or
 * error feedback, more fragments than inner steps, an overlap that does not leave every
 * fragment at least one inner step of its own (tau > H/P - 1), or (n_layers > 0) more
 * fragments than layers. Returns AGORA_OK or AGORA_ERANGE with err naming the keys. */
AGORA_API agora_err agora_diloco_check(const agora_diloco_params *p, int64_t n_layers,
                                       char err[AGORA_ERR_LEN]);

/* Called after every outer step (committed or skipped); return nonzero to stop. */
typedef int (*agora_diloco_cb)(const agora_diloco_outer_stats *st, void *user);

/* agora_diloco_run drives the trainer's inner steps and the ring's outer steps until
 * p->outer_steps outer steps are committed, the callback asks to stop, or an error that
 * retrying cannot fix. The trainer's model parameters are theta_inner.
 * Returns:
 *   AGORA_OK          done.
 *   AGORA_ETIMEDOUT   a membership boundary or collective could not complete within its
 *                     deadline more than p->max_retries times.
 *   AGORA_ECLOSED     the coordinator is gone.
 *   AGORA_EABORTED    agora_comm_abort() was called.
 *   AGORA_ENOMEM, or an error of the trainer (data, numerics). */
AGORA_API agora_err agora_diloco_run(const agora_diloco_params *p, agora_trainer *t, agora_comm *c,
                                     agora_codec codec, int64_t collective_timeout_ms,
                                     agora_diloco_cb cb, void *user);

/* agora_diloco_outer_nesterov applies PyTorch's SGD(nesterov=True, dampening=0) to
 * theta_outer with gradient g (n floats): b = mu*b + g (b starts at 0, so the first step
 * gives b = g), theta -= lr*(g + mu*b). Compiled with -ffp-contract=off and a fixed loop
 * order so every peer produces byte-identical outer state. */
AGORA_API void agora_diloco_outer_nesterov(float *theta_outer, float *momentum, const float *g,
                                           size_t n, float lr, float mu);
/* agora_diloco_outer_estimate writes to dst what agora_diloco_outer_nesterov would make
 * of theta_outer if the average were g, leaving theta_outer and momentum untouched (the
 * eager estimate of overlap mode). dst may not alias g. */
AGORA_API void agora_diloco_outer_estimate(float *dst, const float *theta_outer,
                                           const float *momentum, const float *g, size_t n,
                                           float lr, float mu);
/* agora_diloco_utilization is the spec's compute utilization (§2, §14): the fraction of
 * wall time not spent communicating, inner_s / (inner_s + comm_s); 0 when both are 0. */
AGORA_API double agora_diloco_utilization(double inner_s, double comm_s);
/* agora_diloco_delta_norm is the L2 norm of delta (accumulated in double), or -1 when delta
 * holds a NaN or an infinity or the norm overflows a float. */
AGORA_API float agora_diloco_delta_norm(const float *delta, size_t n);
/* Most members agora_diloco_screen takes. */
#define AGORA_DILOCO_SCREEN_MAX 4096u
/* agora_diloco_screen decides which deltas of a round are averaged (spec §17: norm sanity
 * bounds against poisoned contributions). norms[i] is member i's agora_diloco_delta_norm,
 * 0 when it contributes nothing (a joiner). keep[i] is set to 1 for the deltas to
 * average: finite, nonzero, and, when max_ratio > 0, at most max_ratio times the lower
 * median of the nonzero finite norms. Returns how many contributions were left out. Every
 * member runs it on the same norms (a census all-reduce), so all decide alike. */
AGORA_API uint32_t agora_diloco_screen(const float *norms, uint32_t n, double max_ratio,
                                       uint8_t *keep);
/* agora_diloco_mix merges a synced fragment back into the local copy:
 * theta_inner = alpha * theta_inner + (1 - alpha) * theta_outer (alpha = 0: replace). */
AGORA_API void agora_diloco_mix(float *theta_inner, const float *theta_outer, size_t n,
                                float alpha);
/* agora_diloco_pseudo_grad writes delta = theta_outer - theta_inner. */
AGORA_API void agora_diloco_pseudo_grad(float *delta, const float *theta_outer,
                                        const float *theta_inner, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_DILOCO_H */
