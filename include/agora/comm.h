/* comm.h: elastic collectives: a coordinator, a fault-tolerant quantized ring all-reduce
 * over TCP, and hash-verified shared state.
 *
 * Two roles:
 *   - the master (agora_master_*): admits peers after a pre-shared-key challenge, keeps
 *     the registry and membership epoch, detects failures by heartbeat and disconnect,
 *     orders the ring, gives every collective one all-or-nothing verdict, and elects the
 *     shared state. It never carries tensor data.
 *   - a peer (agora_comm_*): one per training process.
 *
 * Threading: every agora_comm_* call comes from one thread (the caller's), except
 * agora_comm_abort() and agora_comm_async_error(), which any thread may call. Each
 * agora_comm owns one background thread that sends heartbeats to the master.
 *
 * Deadlines are absolute CLOCK_MONOTONIC nanoseconds (agora/time.h). No call blocks past
 * its deadline, not even when the master dies.
 *
 * Membership changes happen only inside agora_comm_update_topology(), which every
 * accepted peer calls at the same points of its loop (DiLoCo: once per outer step). A new
 * process is registered by agora_comm_create() and enters at the next such call.
 */
#ifndef AGORA_COMM_H
#define AGORA_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/config.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Key length for the pre-shared cluster key (crypto_auth's HMAC-SHA512-256 key). */
#define AGORA_COMM_KEY_BYTES 32

typedef enum agora_reduce_op {
    AGORA_REDUCE_SUM = 0,
    AGORA_REDUCE_AVG = 1 /* sum divided by the number of contributing peers */
} agora_reduce_op;

/* Wire codecs for the all-reduce (docs/comm.md; spec §5). Accumulation is always fp32. */
typedef enum agora_codec {
    AGORA_CODEC_F32 = 0,     /* no compression */
    AGORA_CODEC_LUT8 = 1,    /* "int8-lut": sigma-scaled uint8 + 256-entry LUT of bucket means */
    AGORA_CODEC_MINMAX8 = 2, /* "minmax-uint8": per-piece min/max, round to nearest */
    AGORA_CODEC_E3M0 = 3,    /* "e3m0": 4-bit sign + exponent under the piece's absmax, decoded
                                through a 16-entry table of bucket means */
    AGORA__CODEC_COUNT
} agora_codec;

/* agora_codec_name returns "f32", "int8-lut", "minmax-uint8", "e3m0"; agora_codec_parse maps a
 * name back (returns AGORA_EINVAL for an unknown name). */
AGORA_API const char *agora_codec_name(agora_codec c);
AGORA_API agora_err agora_codec_parse(const char *name, agora_codec *out);

/* ---- keys and configuration ---- */

/* agora_comm_key_derive turns any secret (a passphrase, the bytes of a key file) into the
 * 32-byte cluster key (BLAKE2b-256 through libsodium). Returns AGORA_OK or AGORA_EIO. */
AGORA_API agora_err agora_comm_key_derive(const void *secret, size_t len,
                                          uint8_t key[AGORA_COMM_KEY_BYTES]);
/* agora_comm_key_from_file derives the key from a file's bytes (at most 64 KiB, not
 * empty). Returns AGORA_OK, AGORA_ENOENT, AGORA_EIO, AGORA_EOVERFLOW or AGORA_EINVAL
 * (empty file), with a message in err. */
AGORA_API agora_err agora_comm_key_from_file(const char *path, uint8_t key[AGORA_COMM_KEY_BYTES],
                                             char err[AGORA_ERR_LEN]);

/* The [comm] config section, shared by `agora master`, `agora comm-bench` and the
 * training commands (docs/comm.md lists the keys). */
typedef struct agora_comm_cfg {
    char master[AGORA_CFG_STR_LEN];   /* comm.master: host of the coordinator */
    int64_t port;                     /* comm.port: coordinator port (0: any, master only) */
    char bind[AGORA_CFG_STR_LEN];     /* comm.bind: address to listen on */
    int64_t p2p_port;                 /* comm.p2p_port: node ring-link port (0: any) */
    char key_file[AGORA_CFG_STR_LEN]; /* comm.key_file: the cluster secret */
    int64_t heartbeat_interval_ms;
    int64_t heartbeat_timeout_ms;
    int64_t phase_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t pool_size;             /* comm.pool_size: TCP streams per ring neighbour */
    int codec;                     /* comm.codec: agora_codec */
    int64_t collective_timeout_ms; /* comm.collective_timeout_ms: deadline per all-reduce */
    int64_t rejoin_timeout_ms;     /* comm.rejoin_timeout_ms: node reconnects this long (0: stop) */
    double rate_limit_mbps;        /* comm.rate_limit_mbps: per-peer P2P send cap, 0 = none */
    int data_auth;                 /* comm.data_auth: agora_data_auth (the coordinator's) */
    char standby[AGORA_CFG_STR_LEN]; /* comm.standby: HOST:PORT of a standby coordinator */
    int64_t standby_takeover_ms;     /* comm.standby_takeover_ms: standby waits this long */
} agora_comm_cfg;

/* agora_comm_cfg_table binds the [comm] table to cfg (defaults applied by the loaders). */
AGORA_API agora_cfg_table agora_comm_cfg_table(agora_comm_cfg *cfg);

/* ---- master ---- */

/* How ring data frames are protected (decided by the coordinator, the same for every link
 * of an epoch; docs/protocol.md). A checksum catches damage; a MAC also catches frames
 * forged or altered on the path, at some CPU cost (Poly1305, about 3 GB/s per core). */
typedef enum agora_data_auth {
    AGORA_DATA_AUTH_AUTO = 0,     /* MACs when any member is not on this host's loopback */
    AGORA_DATA_AUTH_MAC = 1,      /* always MACs */
    AGORA_DATA_AUTH_CHECKSUM = 2, /* XXH3 checksums only (trusted networks) */
} agora_data_auth;

typedef struct agora_master_opts {
    const char *bind_host; /* "127.0.0.1" when NULL */
    uint16_t port;         /* 0 = any free port; see agora_master_port() */
    uint8_t key[AGORA_COMM_KEY_BYTES];
    int32_t heartbeat_interval_ms; /* told to peers; default 500 when 0 */
    int32_t heartbeat_timeout_ms;  /* a silent peer is evicted after this; default 5000 */
    int32_t phase_timeout_ms;      /* a topology vote waits at most this; default 30000 */
    int data_auth; /* agora_data_auth: how ring data frames are protected (default auto) */
} agora_master_opts;

typedef struct agora_master agora_master;

/* agora_master_create binds the listening socket.
 * Returns AGORA_OK, AGORA_EINVAL (bad options), AGORA_EIO (bind/listen failed; the
 * message is logged), AGORA_ENOMEM. */
AGORA_API agora_err agora_master_create(const agora_master_opts *opts, agora_master **out);
/* agora_master_port returns the TCP port actually bound. */
AGORA_API uint16_t agora_master_port(const agora_master *m);
/* agora_master_run serves until agora_master_interrupt() is called (from any thread or a
 * signal handler). Returns AGORA_OK after an interrupt, or AGORA_EIO if poll fails. */
AGORA_API agora_err agora_master_run(agora_master *m);
/* agora_master_interrupt is async-signal-safe. */
AGORA_API void agora_master_interrupt(agora_master *m);
/* agora_master_stats reports the number of members, the epoch and the committed and
 * failed collectives (any pointer may be NULL). Safe to call from another thread while
 * agora_master_run runs. */
AGORA_API void agora_master_stats(const agora_master *m, uint32_t *world, uint64_t *epoch,
                                  uint64_t *collectives_ok, uint64_t *collectives_failed);
AGORA_API void agora_master_destroy(agora_master *m); /* NULL-safe */

/* ---- peer ---- */

typedef struct agora_comm_opts {
    const char *master_host; /* "127.0.0.1" when NULL */
    uint16_t master_port;
    uint8_t key[AGORA_COMM_KEY_BYTES];
    const char *p2p_host;        /* address this peer listens on for ring links; "127.0.0.1" */
    uint32_t pool_size;          /* parallel TCP streams per ring neighbour, 1..64; default 1 */
    int32_t connect_timeout_ms;  /* create(): connect + authenticate; default 10000 */
    uint16_t p2p_port;           /* port to listen on for ring links; 0: any */
    uint16_t p2p_advertise_port; /* port told to the others (a proxy in front); 0: p2p_port */
    int data_checksum_off;       /* nonzero: ring data frames checksum their header only
                                    (trusted links; saves hashing every byte twice);
                                    ignored in epochs where the coordinator turns data
                                    MACs on (agora_data_auth) */
    double rate_limit_mbps;      /* cap on this peer's outgoing P2P data (ring, shared-state
                                    serving, link measurement) in Mbit/s, one token bucket
                                    over all streams, bursts of at most 20 ms; 0: none */
} agora_comm_opts;

typedef struct agora_comm agora_comm;

/* agora_comm_create connects to the master, authenticates and registers. The peer is not
 * part of the ring until agora_comm_update_topology() admits it.
 * Returns:
 *   AGORA_OK
 *   AGORA_ECONNREFUSED  nobody listens at the master address.
 *   AGORA_EAUTH         the master rejected the key, or could not prove it holds it.
 *   AGORA_EVERSION      the master speaks another protocol version.
 *   AGORA_ETIMEDOUT     connect_timeout_ms passed.
 *   AGORA_EPROTO        the master sent a malformed or unexpected frame.
 *   AGORA_EIO, AGORA_ENOMEM, AGORA_EINVAL (bad options). */
AGORA_API agora_err agora_comm_create(const agora_comm_opts *opts, agora_comm **out);

/* agora_comm_destroy sends a LEAVE (the deathrattle) when the master is reachable, stops
 * the heartbeat thread and frees everything. NULL-safe. */
AGORA_API void agora_comm_destroy(agora_comm *c);

/* agora_comm_update_topology is the membership boundary. Every accepted peer calls it; a
 * registered newcomer calls it to be admitted. The master removes dead peers, admits the
 * waiting newcomers, orders the ring and, if anything changed, every member reconnects
 * to its new neighbours.
 * Returns:
 *   AGORA_OK          the new ring is up (world size: agora_comm_world()).
 *   AGORA_EPEER_LOST  a member died or failed while the ring was being built; call again.
 *   AGORA_ETIMEDOUT   the deadline passed (state: call again, or destroy).
 *   AGORA_ECLOSED     the master connection is gone; the comm is unusable.
 *   AGORA_EABORTED    agora_comm_abort() was called.
 *   AGORA_EPROTO      a malformed frame. */
AGORA_API agora_err agora_comm_update_topology(agora_comm *c, int64_t deadline_ns);

/* agora_comm_pending_joiners asks the master how many registered peers wait to enter.
 * Returns AGORA_OK, AGORA_ETIMEDOUT, AGORA_ECLOSED or AGORA_EPROTO. */
AGORA_API agora_err agora_comm_pending_joiners(agora_comm *c, uint32_t *n, int64_t deadline_ns);

/* Accessors for the current topology (0 before the first update_topology). */
AGORA_API uint32_t agora_comm_world(const agora_comm *c);
AGORA_API uint32_t agora_comm_rank(const agora_comm *c);
AGORA_API uint64_t agora_comm_epoch(const agora_comm *c);
/* A digest of the current members as a set (not their ring order): it changes when a node
 * joins or leaves, not when the ring is only reordered. 0 before the first topology. */
AGORA_API uint64_t agora_comm_membership(const agora_comm *c);
AGORA_API uint64_t agora_comm_peer_id(const agora_comm *c);
/* The TCP port this peer listens on for ring links and shared-state pulls. */
AGORA_API uint16_t agora_comm_p2p_port(const agora_comm *c);

typedef struct agora_reduce_desc {
    float *buf;   /* (count,) in place; restored on failure */
    size_t count; /* elements; >= 1 */
    agora_reduce_op op;
    agora_codec codec;
    int contributes; /* 0: this peer forwards but adds nothing and is not counted in the
                        AVG divisor (a joiner without a real delta); anything else: 1 */
    int64_t deadline_ns;
    /* Error feedback (spec §17), NULL for none: (count,) floats. After AGORA_OK, element i
     * holds what this peer's own encodings of element i lost (its one reduce-scatter hop,
     * or the owner's final encoding), in units of the sum (an AVG owner's loss times the
     * divisor); so the residuals of all peers add up to the exact sum of the inputs minus
     * the result times the divisor, up to fp32 rounding. Adding it to the next call's
     * input carries the quantization error forward instead of losing it. Zero with F32
     * or a world of 1. Unspecified after a failure (keep the previous one). */
    float *residual;
} agora_reduce_desc;

typedef struct agora_reduce_info {
    uint32_t world;              /* ring size of the committed collective */
    uint32_t contributors;       /* the AVG divisor */
    uint64_t tx_bytes, rx_bytes; /* ring payload bytes this peer sent and received */
    int64_t elapsed_ns;
} agora_reduce_info;

/* agora_comm_allreduce reduces desc->buf across the ring in place. Every peer of the ring
 * ends with bit-identical contents (the owner of each chunk finalizes it, and the
 * all-gather forwards the owner's bytes unchanged). The master gives every peer the same
 * verdict: either all commit or none does.
 * Returns:
 *   AGORA_OK          committed; buf holds the result. info (may be NULL) is filled.
 *   AGORA_EPEER_LOST  a ring member died, was evicted, or failed; or the membership
 *                     changed since the last update_topology. buf is restored. Call
 *                     agora_comm_update_topology() and retry with the survivors.
 *   AGORA_ETIMEDOUT   the deadline passed; buf is restored. Update topology, then retry.
 *   AGORA_EABORTED    agora_comm_abort() was called; buf is restored.
 *   AGORA_ECHECKSUM   a frame failed its checksum; buf is restored.
 *   AGORA_ECLOSED     the master is gone; buf is restored; the comm is unusable.
 *   AGORA_ESTATE      not a ring member yet (call update_topology first).
 *   AGORA_EINVAL      count is 0, buf NULL, or op/codec unknown.
 *   AGORA_ENOMEM      scratch buffers could not be allocated (buf untouched). */
AGORA_API agora_err agora_comm_allreduce(agora_comm *c, const agora_reduce_desc *desc,
                                         agora_reduce_info *info);

/* agora_comm_allreduce_async starts desc's all-reduce on a background thread and returns
 * at once (spec §15, PCCL's all_reduce_async), so the caller can compute meanwhile. The
 * buffer belongs to the collective until agora_comm_allreduce_await returns. One may be in
 * flight per comm: until it is awaited every other agora_comm_* call on c returns
 * AGORA_EINPROGRESS (PCCL's PendingAsyncOps), except agora_comm_abort,
 * agora_comm_clear_abort, agora_comm_async_error, agora_comm_world/rank and
 * agora_comm_destroy (which aborts and joins it). Launch and await from the same thread.
 * Returns AGORA_OK (started), AGORA_EINPROGRESS (one is in flight), the argument and state
 * errors of agora_comm_allreduce, or AGORA_EIO (no thread). */
AGORA_API agora_err agora_comm_allreduce_async(agora_comm *c, const agora_reduce_desc *desc);
/* agora_comm_allreduce_await waits for the collective started by agora_comm_allreduce_async
 * and returns what agora_comm_allreduce would have (info filled the same way);
 * AGORA_ESTATE when none is in flight. Bounded by the collective's own deadline. */
AGORA_API agora_err agora_comm_allreduce_await(agora_comm *c, agora_reduce_info *info);

/* agora_comm_abort makes the blocking call in progress (and the next one) return
 * AGORA_EABORTED. Callable from any thread. agora_comm_clear_abort re-arms the comm. */
AGORA_API void agora_comm_abort(agora_comm *c);
AGORA_API void agora_comm_clear_abort(agora_comm *c);
/* agora_comm_async_error returns the first background failure (AGORA_ECLOSED when the
 * heartbeat thread lost the master), or AGORA_OK. Callable from any thread. */
AGORA_API agora_err agora_comm_async_error(const agora_comm *c);

/* ---- shared state ---- */

/* A named fp32 tensor owned by the caller. The pointer must stay valid and its contents
 * are updated in place by a sync. Names are 1..63 bytes.
 * local: the content may differ between members (a node's own optimizer moments). It is
 * left out of the vote and not hashed; a member whose revision differs from the elected
 * one (a joiner, a node resumed from an old checkpoint) pulls it from its donor, checked
 * by the frame checksum only; members at the elected revision keep their own. */
typedef struct agora_shared_tensor {
    const char *name;
    float *data;
    size_t count;
    bool local;
} agora_shared_tensor;

typedef struct agora_sync_info {
    uint64_t tx_bytes, rx_bytes; /* tensor bytes served / pulled; both 0 in steady state */
    uint32_t tensors_pulled;
    uint64_t revision; /* the elected revision */
} agora_sync_info;

/* agora_comm_sync_shared_state: every ring member calls it with its tensors and revision.
 * Each peer hashes every tensor (XXH3-64); the master elects the most common
 * (revision, hash set) and every peer that differs pulls the differing tensors from an
 * up-to-date peer and verifies their hashes. In steady state nothing moves.
 * Returns:
 *   AGORA_OK          this peer holds the elected state (info filled; may be NULL).
 *   AGORA_EPEER_LOST  a member died during the sync; call update_topology and retry.
 *   AGORA_EHASH       a pulled tensor did not match its elected hash.
 *   AGORA_ESHAPE      the tensor list (names, counts) differs from the elected one.
 *   AGORA_ETIMEDOUT, AGORA_EABORTED, AGORA_ECLOSED, AGORA_ESTATE, AGORA_EINVAL as above. */
AGORA_API agora_err agora_comm_sync_shared_state(agora_comm *c, agora_shared_tensor *tensors,
                                                 size_t n, uint64_t revision, int64_t deadline_ns,
                                                 agora_sync_info *info);

/* How one peer takes part in a shared-state sync (spec §9, PCCL's strategies). */
typedef enum agora_ss_strategy {
    AGORA_SS_ENFORCE_POPULAR = 0, /* votes; pulls when outvoted; may serve (the default) */
    AGORA_SS_RECEIVE_ONLY = 1,    /* does not vote and never serves: always takes the state
                                     the others elect (a joiner whose state means nothing) */
    AGORA_SS_SEND_ONLY = 2,       /* votes and may serve, but must hold the elected state:
                                     if it does not, the master removes it from the ring */
} agora_ss_strategy;

/* agora_comm_sync_shared_state_ex: the same with a strategy. Besides the codes above:
 *   AGORA_ENOTFOUND   no member voted (all RECEIVE_ONLY): there is no state to take.
 *   AGORA_ECLOSED     (SEND_ONLY) this peer's state differed from the elected one and the
 *                     master removed it; the others get AGORA_EPEER_LOST and retry. */
AGORA_API agora_err agora_comm_sync_shared_state_ex(agora_comm *c, agora_shared_tensor *tensors,
                                                    size_t n, uint64_t revision,
                                                    agora_ss_strategy strategy, int64_t deadline_ns,
                                                    agora_sync_info *info);

/* ---- link measurement and ring order ---- */

/* agora_comm_measure_links: every member calls it at the same point (like
 * update_topology). In W-1 rounds every member sends `bytes` to the member k places
 * ahead while receiving from the one k places behind (all links busy at once, as in the
 * ring), timing what it receives; the master then orders the ring to maximise the slowest
 * directed link and applies that order at the next agora_comm_update_topology().
 * Returns:
 *   AGORA_OK          measured and reported (the order may or may not change).
 *   AGORA_EPEER_LOST  a member died or the membership changed; update the topology.
 *   AGORA_ESTATE      not a member, or other members were doing something else.
 *   AGORA_EINVAL      bytes is 0 or larger than 1 GiB, or the ring has more than 64 members.
 *   AGORA_ETIMEDOUT, AGORA_EABORTED, AGORA_ECLOSED as above. */
AGORA_API agora_err agora_comm_measure_links(agora_comm *c, size_t bytes, int64_t deadline_ns);

/* ---- ring order (also used by the master) ---- */

/* agora_ring_order picks a cyclic order of n peers maximising the slowest directed link
 * bw[i*n+j] (throughput i -> j, any unit), ties broken by the largest sum of link speeds.
 * Exact (Held-Karp over subsets) for n <= 12, greedy + 2-opt beyond. order[0] is always 0.
 * Returns AGORA_OK, AGORA_EINVAL (n == 0 or n > 1024), AGORA_ENOMEM. */
AGORA_API agora_err agora_ring_order(const double *bw, uint32_t n, uint32_t *order);
/* agora_ring_bottleneck returns the slowest link of a given cyclic order. */
AGORA_API double agora_ring_bottleneck(const double *bw, uint32_t n, const uint32_t *order);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_COMM_H */
