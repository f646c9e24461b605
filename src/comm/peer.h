/* peer.h: the peer's internal state, shared by peer.c (master link, membership, links),
 * ring.c (the all-reduce) and sstate.c (shared-state sync). Not a public header. */
#ifndef AGORA_COMM_PEER_H
#define AGORA_COMM_PEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agora/comm.h"
#include "comm/auth.h"
#include "comm/rate.h"
#include "comm/wire.h"

struct agora_comm {
    agora_comm_opts o;
    uint8_t key[AGORA_COMM_KEY_BYTES];
    int mfd;             /* master link: main thread reads, writers hold wlock */
    agora__session sess; /* its MACs from WELCOME on: tx under wlock, rx by the reader */
    pthread_mutex_t wlock;
    pthread_t hb_thread;
    bool hb_started;
    pthread_mutex_t hb_mu;
    pthread_cond_t hb_cv;
    bool hb_stop;
    int32_t hb_interval_ms;
    _Atomic int async_err;
    /* agora_comm_allreduce_async: the collective in flight on async_th (set and cleared by
     * the caller's thread, which makes no other call meanwhile) */
    bool async_on;
    pthread_t async_th;
    agora_reduce_desc async_desc;
    agora_err async_rc;
    agora_reduce_info async_info;
    _Atomic int aborted;
    int abort_pipe[2];
    uint64_t id;
    int lfd; /* p2p listener */
    uint32_t ipv4;
    uint16_t port;
    /* topology */
    uint64_t epoch;
    uint8_t ring_key[AGORA_COMM_KEY_BYTES]; /* this epoch's (auth.h): HELLOs, data MACs */
    bool data_mac;                          /* this epoch's ring data carries MACs */
    uint32_t rank, world, pool;
    uint64_t *ids;
    uint32_t *ipv4s;
    uint16_t *ports;
    int *tx; /* pool sockets to rank+1 */
    int *rx; /* pool sockets from rank-1 */
    bool links_ok;
    /* control receive buffer */
    uint8_t *mbuf;
    agora_frame_hdr mhdr;
    agora_err ctl_pending_verdict; /* a VERDICT seen early (during the ring) */
    uint64_t ctl_verdict_seq;
    bool have_verdict;
    uint64_t init_nonce; /* per all-reduce; COMMENCE must echo it */
    /* grow-only scratch kept across calls, so large all-reduces do not page-fault fresh
     * memory every time */
    float *backup;
    size_t backup_cap;
    uint8_t *store[2];
    size_t store_cap;
    uint8_t *stage[64]; /* ring.c: per-stream receive stages and XXH3 states, kept so */
    agora__fh *xs[64];  /* that no all-reduce maps (and page-faults) fresh memory */
    agora__fh *xo[64];
    agora__rate rate; /* comm.rate_limit_mbps over every outgoing P2P byte */
};

/* Sends a control frame to the master (thread-safe). */
agora_err agora__peer_send(agora_comm *c, uint8_t type, const agora_wbuf *w, int64_t deadline);
/* Reads the next master frame into c->mhdr / c->mbuf. Returns AGORA_EABORTED when the abort
 * pipe fires, AGORA_ECLOSED when the master is gone. */
agora_err agora__peer_recv(agora_comm *c, int64_t deadline);
/* Waits for a frame of type `want` (others are handled or skipped). */
agora_err agora__peer_wait(agora_comm *c, uint8_t want, int64_t deadline, agora_rbuf *r);
int agora__peer_wake_fd(const agora_comm *c);
bool agora__peer_is_aborted(const agora_comm *c);

/* ring.c: runs the ring schedule over c->tx / c->rx. */
typedef struct agora__ring_job {
    float *buf;
    size_t count;
    agora_reduce_op op;
    agora_codec codec;
    uint32_t contributors;
    uint64_t seq;
    int64_t deadline;
    uint64_t tx_bytes, rx_bytes;
    /* residual (count,) or NULL: set by each encoding of this peer, see
     * agora_reduce_desc.residual; zeroed by the caller first */
    float *resid;
    /* Restore on failure: each piece is copied to backup (same offsets as buf) just before
     * its first write (F32 sums: element by element as they are added) and the length of
     * the copied prefix is kept in backed[chunk * kmax + piece] (allocated by the ring,
     * freed by the caller), unless all_backed says the whole buffer was copied first. */
    float *backup;
    uint32_t *backed;
    bool all_backed;
    uint32_t pool;
    size_t kmax;
    /* passive link timing (spec §17): the rate of this peer's link to rank+1 while its
     * sockets were full, summed over the pool's streams; 0 when they were full for too
     * short a time to tell (docs/comm.md, "Ring order") */
    double link_bps;
} agora__ring_job;
agora_err agora__ring_run(agora_comm *c, agora__ring_job *job);
/* Copies every backed chunk back from job->backup into job->buf. */
void agora__ring_restore(const agora__ring_job *job, uint32_t world);

/* An async collective is in flight (agora_comm_allreduce_async): the entry points in other
 * files (shared state, link measurement) refuse with AGORA_EINPROGRESS. */
bool agora__peer_busy(const agora_comm *c);

#endif /* AGORA_COMM_PEER_H */
