/* rate.h: the per-peer send rate limit (comm.rate_limit_mbps), a token bucket shared by
 * every outgoing P2P byte of one agora_comm: ring data, shared-state serving and link
 * measurement. Not a public header.
 *
 * The bucket fills at the rate and holds at most AGORA__RATE_BURST_S seconds of traffic
 * (at least AGORA__RATE_BURST_MIN bytes), so over any interval of t seconds a peer sends
 * at most burst + rate * t bytes. Callers ask how much they may send, send it, then charge
 * what the socket took. Thread-safe (the ring's sender thread and the caller's thread may
 * both send).
 */
#ifndef AGORA_COMM_RATE_H
#define AGORA_COMM_RATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/err.h"

#define AGORA__RATE_BURST_S 0.02
#define AGORA__RATE_BURST_MIN 65536.0

typedef struct agora__rate {
    pthread_mutex_t mu;
    double bytes_per_ns; /* 0: unlimited (every call below is then a no-op) */
    double burst;        /* bytes */
    double tokens;       /* bytes; may go negative after a charge */
    int64_t last;        /* monotonic ns of the last refill */
} agora__rate;

void agora__rate_init(agora__rate *r, double mbps); /* mbps <= 0: unlimited */
void agora__rate_destroy(agora__rate *r);
/* The bucket size in bytes for mbps (what a peer may send at once). */
double agora__rate_burst_bytes(double mbps);
/* How many of `want` bytes may be sent now. 0 when the bucket is empty; then *wait_ms
 * (>= 1) says when to ask again. Unlimited: returns want. */
size_t agora__rate_allow(agora__rate *r, size_t want, int32_t *wait_ms);
/* Takes `sent` bytes from the bucket. */
void agora__rate_charge(agora__rate *r, size_t sent);
static inline int agora__rate_on(const agora__rate *r) {
    return r != NULL && r->bytes_per_ns > 0.0;
}

/* agora__send_all under the limit: blocks (bounded by the deadline) until every byte went
 * out. r may be NULL. Errors as agora__send_all. */
agora_err agora__send_all_rate(int fd, const void *buf, size_t len, int64_t deadline,
                               agora__rate *r);

#endif /* AGORA_COMM_RATE_H */
