/* peer.c: a peer's link to the master, membership changes and ring links.
 *
 * Implements: agora_comm_create (connect, HELLO, PSK challenge-response), the heartbeat
 * thread, agora_comm_update_topology (vote, then rebuild the pool of TCP streams to the
 * ring neighbours), agora_comm_allreduce's control protocol (INITIATE -> COMMENCE ->
 * ring -> COMPLETE -> VERDICT, with the buffer restored on any failure), abort.
 * Does not: run the ring schedule (ring.c) or shared state (sstate.c).
 */
#include "comm/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/auth.h"
#include "comm/net.h"
#include "comm/xxh.h"

#define MAX_WORLD 4096u

// ---- master link ----

int agora__peer_wake_fd(const agora_comm *c) {
    return c->abort_pipe[0];
}

bool agora__peer_is_aborted(const agora_comm *c) {
    return atomic_load(&((agora_comm *)(uintptr_t)c)->aborted) != 0;
}

static void master_lost(agora_comm *c, agora_err why) {
    int expect = AGORA_OK;
    atomic_compare_exchange_strong(&c->async_err, &expect, (int)AGORA_ECLOSED);
    AGORA_LOG_WARN(AGORA_SUB_COMM, "master link lost: %s", agora_err_name(why));
}

agora_err agora__peer_send(agora_comm *c, uint8_t type, const agora_wbuf *w, int64_t deadline) {
    AGORA_ASSERT(w == NULL || !w->overflow); /* our buffers are sized for their messages */
    pthread_mutex_lock(&c->wlock);
    agora_err rc = c->mfd < 0 ? AGORA_ECLOSED
                              : agora__send_frame_s(c->mfd, &c->sess, type, 0, w ? w->p : NULL,
                                                    w ? (uint32_t)w->len : 0, deadline);
    pthread_mutex_unlock(&c->wlock);
    if (rc == AGORA_ECLOSED || rc == AGORA_EIO)
        master_lost(c, rc);
    return rc == AGORA_EIO ? AGORA_ECLOSED : rc;
}

agora_err agora__peer_recv(agora_comm *c, int64_t deadline) {
    if (atomic_load(&c->async_err) != AGORA_OK)
        return AGORA_ECLOSED;
    agora_err rc = agora__recv_frame_s(c->mfd, &c->sess, &c->mhdr, c->mbuf, AGORA_WIRE_MAX_CTRL,
                                       deadline, c->abort_pipe[0]);
    if (rc == AGORA_OK && strncmp(agora__msg_name(c->mhdr.type), "C2P_", 4) != 0)
        rc = AGORA_EPROTO;
    if (rc == AGORA_ETIMEDOUT || rc == AGORA_EABORTED)
        return rc;
    if (rc != AGORA_OK) {
        master_lost(c, rc);
        return AGORA_ECLOSED;
    }
    return AGORA_OK;
}

/* Waits for a frame of type a or b; stale ABORT/VERDICT/PENDING replies are skipped. */
static agora_err wait2(agora_comm *c, uint8_t a, uint8_t b, int64_t deadline, agora_rbuf *r) {
    for (;;) {
        AGORA_TRY(agora__peer_recv(c, deadline));
        uint8_t t = c->mhdr.type;
        if (t == a || t == b) {
            *r = (agora_rbuf){c->mbuf, c->mhdr.length, 0, false};
            return AGORA_OK;
        }
        AGORA_LOG_DEBUG(AGORA_SUB_COMM, "skipping stale %s", agora__msg_name(t));
    }
}

agora_err agora__peer_wait(agora_comm *c, uint8_t want, int64_t deadline, agora_rbuf *r) {
    return wait2(c, want, want, deadline, r);
}

static agora_err usable_now(const agora_comm *c) {
    if (agora__peer_is_aborted(c))
        return AGORA_EABORTED;
    if (atomic_load(&((agora_comm *)(uintptr_t)c)->async_err) != AGORA_OK)
        return AGORA_ECLOSED;
    return AGORA_OK;
}

/* The public entry points: also refused while an async collective is in flight. */
static agora_err usable(const agora_comm *c) {
    if (c->async_on)
        return AGORA_EINPROGRESS;
    return usable_now(c);
}

bool agora__peer_busy(const agora_comm *c) {
    return c->async_on;
}

// ---- heartbeat thread ----

static void *hb_main(void *arg) {
    agora_comm *c = arg;
    pthread_mutex_lock(&c->hb_mu);
    while (!c->hb_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)c->hb_interval_ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        int r = pthread_cond_timedwait(&c->hb_cv, &c->hb_mu, &ts);
        if (c->hb_stop)
            break;
        if (r == ETIMEDOUT) {
            pthread_mutex_unlock(&c->hb_mu);
            if (atomic_load(&c->async_err) == AGORA_OK)
                (void)agora__peer_send(c, AGORA_MSG_P2C_HEARTBEAT, NULL,
                                       agora_deadline_in_ms(c->hb_interval_ms));
            pthread_mutex_lock(&c->hb_mu);
        }
    }
    pthread_mutex_unlock(&c->hb_mu);
    return NULL;
}

static agora_err hb_start(agora_comm *c) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int e = pthread_cond_init(&c->hb_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (e != 0)
        return AGORA_EIO;
    if (pthread_create(&c->hb_thread, NULL, hb_main, c) != 0) {
        pthread_cond_destroy(&c->hb_cv);
        return AGORA_EIO;
    }
    c->hb_started = true;
    return AGORA_OK;
}

// ---- create / destroy ----

static agora_err handshake(agora_comm *c, int64_t deadline) {
    uint8_t buf[64];
    agora_wbuf w = {buf, 0, sizeof buf, false};
    agora__w_u32(&w, AGORA_WIRE_VERSION);
    agora__w_u32(&w, c->o.pool_size);
    agora__w_u16(&w, c->o.p2p_advertise_port ? c->o.p2p_advertise_port : c->port);
    agora__w_u32(&w, c->ipv4);
    AGORA_TRY(agora__send_frame(c->mfd, AGORA_MSG_P2C_HELLO, 0, buf, (uint32_t)w.len, deadline));
    agora_rbuf r;
    AGORA_TRY(wait2(c, AGORA_MSG_C2P_CHALLENGE, AGORA_MSG_C2P_REJECT, deadline, &r));
    if (c->mhdr.type == AGORA_MSG_C2P_REJECT) {
        uint32_t why = agora__r_u32(&r);
        return why == AGORA_EVERSION ? AGORA_EVERSION : AGORA_EAUTH;
    }
    uint8_t nonce_c[AGORA_AUTH_NONCE], nonce_p[AGORA_AUTH_NONCE], mac[AGORA_AUTH_MAC];
    agora__r_bytes(&r, nonce_c, sizeof nonce_c);
    if (agora__r_done(&r) != AGORA_OK)
        return AGORA_EPROTO;
    agora__auth_mac(c->key, "agora/v1/peer", nonce_c, sizeof nonce_c, mac);
    agora__auth_nonce(nonce_p);
    w = (agora_wbuf){buf, 0, sizeof buf, false};
    agora__w_bytes(&w, mac, sizeof mac);
    agora__w_bytes(&w, nonce_p, sizeof nonce_p);
    AGORA_TRY(agora__send_frame(c->mfd, AGORA_MSG_P2C_AUTH, 0, buf, (uint32_t)w.len, deadline));
    agora_err rc = wait2(c, AGORA_MSG_C2P_WELCOME, AGORA_MSG_C2P_REJECT, deadline, &r);
    if (rc == AGORA_ECLOSED)
        return AGORA_EAUTH; /* the master hangs up on a bad key */
    AGORA_TRY(rc);
    if (c->mhdr.type == AGORA_MSG_C2P_REJECT)
        return AGORA_EAUTH;
    c->id = agora__r_u64(&r);
    agora__r_bytes(&r, mac, sizeof mac);
    uint32_t hb = agora__r_u32(&r);
    if (agora__r_done(&r) != AGORA_OK)
        return AGORA_EPROTO;
    if (agora__auth_verify(c->key, "agora/v1/master", nonce_p, sizeof nonce_p, mac) != AGORA_OK)
        return AGORA_EAUTH; /* the master does not hold the key either */
    agora__session_start(&c->sess, c->key, nonce_c, nonce_p, false);
    c->hb_interval_ms = hb >= 10 && hb <= 60000 ? (int32_t)hb : 500;
    return AGORA_OK;
}

agora_err agora_comm_create(const agora_comm_opts *opts, agora_comm **out) {
    *out = NULL;
    if (opts == NULL || opts->master_port == 0 || opts->pool_size > 64 ||
        !(opts->rate_limit_mbps >= 0.0) || opts->rate_limit_mbps > 1e6)
        return AGORA_EINVAL;
    AGORA_TRY(agora__auth_init());
    agora_comm *c = agora_calloc(1, sizeof *c);
    if (c == NULL)
        return AGORA_ENOMEM;
    c->o = *opts;
    if (c->o.pool_size == 0)
        c->o.pool_size = 1;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 10000;
    memcpy(c->key, opts->key, sizeof c->key);
    c->mfd = c->lfd = c->abort_pipe[0] = c->abort_pipe[1] = -1;
    pthread_mutex_init(&c->wlock, NULL);
    pthread_mutex_init(&c->hb_mu, NULL);
    agora__rate_init(&c->rate, c->o.rate_limit_mbps);
    atomic_init(&c->async_err, AGORA_OK);
    atomic_init(&c->aborted, 0);
    int64_t deadline = agora_deadline_in_ms(c->o.connect_timeout_ms);
    agora_err rc = AGORA_OK;
    uint32_t mip = 0;
    c->mbuf = agora_malloc(AGORA_WIRE_MAX_CTRL);
    if (c->mbuf == NULL)
        rc = AGORA_ENOMEM;
    if (rc == AGORA_OK && pipe(c->abort_pipe) != 0)
        rc = AGORA_EIO;
    if (rc == AGORA_OK) {
        (void)fcntl(c->abort_pipe[0], F_SETFL, O_NONBLOCK);
        (void)fcntl(c->abort_pipe[1], F_SETFL, O_NONBLOCK);
        rc = agora__ipv4_resolve(opts->p2p_host, &c->ipv4);
    }
    if (rc == AGORA_OK)
        rc = agora__tcp_listen(c->ipv4, opts->p2p_port, &c->lfd, &c->port);
    if (rc == AGORA_OK)
        rc = agora__ipv4_resolve(opts->master_host, &mip);
    if (rc == AGORA_OK)
        rc = agora__tcp_connect(mip, opts->master_port, deadline, &c->mfd);
    if (rc == AGORA_OK)
        rc = handshake(c, deadline);
    if (rc == AGORA_OK)
        rc = hb_start(c);
    c->o.master_host = c->o.p2p_host = NULL; /* not owned */
    if (rc != AGORA_OK) {
        agora_comm_destroy(c);
        return rc;
    }
    AGORA_LOG_INFO(AGORA_SUB_COMM, "registered as peer %llu", (unsigned long long)c->id);
    *out = c;
    return AGORA_OK;
}

static void close_links(agora_comm *c) {
    for (uint32_t j = 0; c->tx && j < c->pool; j++)
        agora__sock_close(&c->tx[j]);
    for (uint32_t j = 0; c->rx && j < c->pool; j++)
        agora__sock_close(&c->rx[j]);
    c->links_ok = false;
}

static void free_topology(agora_comm *c) {
    close_links(c);
    agora_free(c->ids);
    agora_free(c->ipv4s);
    agora_free(c->ports);
    agora_free(c->tx);
    agora_free(c->rx);
    c->ids = NULL;
    c->ipv4s = NULL;
    c->ports = NULL;
    c->tx = c->rx = NULL;
    c->world = c->rank = c->pool = 0;
}

void agora_comm_destroy(agora_comm *c) {
    if (c == NULL)
        return;
    if (c->async_on) { /* a collective in flight: end it (its buffer is restored) */
        agora_comm_abort(c);
        pthread_join(c->async_th, NULL);
        c->async_on = false;
    }
    if (c->hb_started) {
        pthread_mutex_lock(&c->hb_mu);
        c->hb_stop = true;
        pthread_cond_signal(&c->hb_cv);
        pthread_mutex_unlock(&c->hb_mu);
        pthread_join(c->hb_thread, NULL);
        pthread_cond_destroy(&c->hb_cv);
    }
    if (c->mfd >= 0 && atomic_load(&c->async_err) == AGORA_OK)
        (void)agora__peer_send(c, AGORA_MSG_P2C_LEAVE, NULL, agora_deadline_in_ms(200));
    free_topology(c);
    agora__sock_close(&c->mfd);
    agora__sock_close(&c->lfd);
    agora__sock_close(&c->abort_pipe[0]);
    agora__sock_close(&c->abort_pipe[1]);
    pthread_mutex_destroy(&c->wlock);
    pthread_mutex_destroy(&c->hb_mu);
    agora__rate_destroy(&c->rate);
    agora_free(c->mbuf);
    agora_free_aligned(c->backup);
    agora_free_aligned(c->store[0]);
    agora_free_aligned(c->store[1]);
    for (int j = 0; j < 64; j++) {
        agora_free_aligned(c->stage[j]);
        agora__fh_free(c->xs[j]);
        agora__fh_free(c->xo[j]);
    }
    agora__session_end(&c->sess);
    agora_free(c);
}

// ---- abort ----

void agora_comm_abort(agora_comm *c) {
    atomic_store(&c->aborted, 1);
    ssize_t w = write(c->abort_pipe[1], "x", 1);
    (void)w;
}

void agora_comm_clear_abort(agora_comm *c) {
    char b[64];
    while (read(c->abort_pipe[0], b, sizeof b) > 0) {
    }
    atomic_store(&c->aborted, 0);
}

agora_err agora_comm_async_error(const agora_comm *c) {
    return (agora_err)atomic_load(&((agora_comm *)(uintptr_t)c)->async_err);
}

uint32_t agora_comm_world(const agora_comm *c) {
    return c->world;
}
uint32_t agora_comm_rank(const agora_comm *c) {
    return c->rank;
}
uint64_t agora_comm_epoch(const agora_comm *c) {
    return c->epoch;
}
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t agora_comm_membership(const agora_comm *c) {
    if (c->world == 0 || c->ids == NULL)
        return 0;
    uint64_t *s = agora_malloc(c->world * sizeof *s);
    if (s == NULL)
        return 0;
    memcpy(s, c->ids, c->world * sizeof *s);
    qsort(s, c->world, sizeof *s, cmp_u64);
    uint64_t h = agora_hash64(s, c->world * sizeof *s);
    agora_free(s);
    return h ? h : 1;
}

uint64_t agora_comm_peer_id(const agora_comm *c) {
    return c->id;
}
uint16_t agora_comm_p2p_port(const agora_comm *c) {
    return c->port;
}

// ---- topology ----

static agora_err parse_topo(agora_comm *c, agora_rbuf *r, bool *changed) {
    uint64_t epoch = agora__r_u64(r);
    *changed = agora__r_u8(r) != 0;
    uint32_t rank = agora__r_u32(r), world = agora__r_u32(r), pool = agora__r_u32(r);
    if (r->bad || world == 0 || world > MAX_WORLD || rank >= world || pool == 0 || pool > 64)
        return AGORA_EPROTO;
    if (!*changed) {
        if (epoch != c->epoch || world != c->world || rank != c->rank)
            return AGORA_EPROTO;
        return AGORA_OK;
    }
    free_topology(c);
    c->ids = agora_calloc(world, sizeof *c->ids);
    c->ipv4s = agora_calloc(world, sizeof *c->ipv4s);
    c->ports = agora_calloc(world, sizeof *c->ports);
    c->tx = agora_malloc(pool * sizeof(int));
    c->rx = agora_malloc(pool * sizeof(int));
    if (!c->ids || !c->ipv4s || !c->ports || !c->tx || !c->rx) {
        free_topology(c);
        return AGORA_ENOMEM;
    }
    for (uint32_t j = 0; j < pool; j++)
        c->tx[j] = c->rx[j] = -1;
    uint8_t nonce[AGORA_RING_NONCE];
    agora__r_bytes(r, nonce, sizeof nonce);
    uint8_t data_mac = agora__r_u8(r);
    for (uint32_t k = 0; k < world; k++) {
        c->ids[k] = agora__r_u64(r);
        c->ipv4s[k] = agora__r_u32(r);
        c->ports[k] = agora__r_u16(r);
    }
    c->pool = pool; /* set before any return so free_topology sees the sockets */
    if (agora__r_done(r) != AGORA_OK || c->ids[rank] != c->id) {
        free_topology(c);
        return AGORA_EPROTO;
    }
    if (data_mac > 1) {
        free_topology(c);
        return AGORA_EPROTO;
    }
    c->epoch = epoch;
    c->rank = rank;
    c->world = world;
    c->data_mac = data_mac != 0;
    agora__ring_key(c->key, epoch, nonce, c->ring_key);
    return AGORA_OK;
}

/* Waits for the listener, watching the master: a failed verdict for this epoch (a member
 * died while links were being built) ends the wait at once. */
static agora_err wait_listener(agora_comm *c, int64_t deadline, bool *verdict_seen) {
    for (;;) {
        struct pollfd pf[3] = {
            {c->lfd, POLLIN, 0}, {c->mfd, POLLIN, 0}, {c->abort_pipe[0], POLLIN, 0}};
        if (agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
        int32_t ms = agora_deadline_left_ms(deadline);
        int r = poll(pf, 3, ms > 0 ? ms : 1);
        if (r < 0 && errno != EINTR)
            return AGORA_EIO;
        if (r <= 0)
            continue;
        if (pf[2].revents)
            return AGORA_EABORTED;
        if (pf[1].revents) {
            AGORA_TRY(agora__peer_recv(c, agora_deadline_in_ms(1000)));
            if (c->mhdr.type == AGORA_MSG_C2P_TOPO_VERDICT) {
                agora_rbuf r2 = {c->mbuf, c->mhdr.length, 0, false};
                if (agora__r_u64(&r2) == c->epoch) {
                    *verdict_seen = true;
                    return AGORA_EPEER_LOST;
                }
            }
            continue;
        }
        if (pf[0].revents)
            return AGORA_OK;
    }
}

static agora_err accept_link(agora_comm *c, uint64_t prev_id, int64_t deadline, uint32_t *got,
                             bool *verdict_seen) {
    int fd = -1;
    AGORA_TRY(wait_listener(c, deadline, verdict_seen));
    if (agora__tcp_accept(c->lfd, deadline, &fd, NULL) != AGORA_OK)
        return AGORA_OK; /* the connection went away again: keep waiting */
    uint8_t buf[64];
    agora_frame_hdr h;
    int64_t d = agora_deadline_in_ms(2000);
    agora_err rc = agora__recv_frame(fd, &h, buf, sizeof buf, d < deadline ? d : deadline, -1);
    if (rc == AGORA_OK && h.type != AGORA_MSG_P2P_HELLO)
        rc = AGORA_EPROTO;
    if (rc == AGORA_OK) {
        agora_rbuf r = {buf, h.length, 0, false};
        uint64_t epoch = agora__r_u64(&r), from = agora__r_u64(&r);
        uint32_t stream = agora__r_u32(&r);
        uint8_t mac[AGORA_AUTH_MAC], want[AGORA_AUTH_MAC];
        agora__r_bytes(&r, mac, sizeof mac);
        agora__auth_p2p(c->ring_key, epoch, from, stream, want);
        if (agora__r_done(&r) != AGORA_OK || memcmp(mac, want, sizeof mac) != 0)
            rc = AGORA_EAUTH;
        else if (epoch != c->epoch || from != prev_id || stream >= c->pool || c->rx[stream] >= 0)
            rc = AGORA_EPROTO; /* a stale link from an earlier epoch */
        else {
            c->rx[stream] = fd;
            (*got)++;
            return AGORA_OK;
        }
    }
    AGORA_LOG_DEBUG(AGORA_SUB_COMM, "refused a ring link: %s", agora_err_name(rc));
    agora__sock_close(&fd);
    return AGORA_OK; /* keep accepting until the deadline */
}

static agora_err build_links(agora_comm *c, int64_t deadline, bool *verdict_seen) {
    if (c->world < 2)
        return AGORA_OK;
    uint32_t next = (c->rank + 1) % c->world, prev = (c->rank + c->world - 1) % c->world;
    for (uint32_t j = 0; j < c->pool; j++) {
        AGORA_TRY(agora__tcp_connect(c->ipv4s[next], c->ports[next], deadline, &c->tx[j]));
        uint8_t buf[64];
        agora_wbuf w = {buf, 0, sizeof buf, false};
        uint8_t mac[AGORA_AUTH_MAC];
        agora__auth_p2p(c->ring_key, c->epoch, c->id, j, mac);
        agora__w_u64(&w, c->epoch);
        agora__w_u64(&w, c->id);
        agora__w_u32(&w, j);
        agora__w_bytes(&w, mac, sizeof mac);
        AGORA_TRY(
            agora__send_frame(c->tx[j], AGORA_MSG_P2P_HELLO, 0, buf, (uint32_t)w.len, deadline));
    }
    uint32_t got = 0;
    while (got < c->pool) {
        if (agora__peer_is_aborted(c))
            return AGORA_EABORTED;
        AGORA_TRY(accept_link(c, c->ids[prev], deadline, &got, verdict_seen));
    }
    return AGORA_OK;
}

agora_err agora_comm_update_topology(agora_comm *c, int64_t deadline) {
    AGORA_TRY(usable(c));
    uint8_t b[8];
    agora_wbuf w = {b, 0, 8, false};
    agora__w_u64(&w, c->epoch);
    AGORA_TRY(agora__peer_send(c, AGORA_MSG_P2C_TOPO_REQ, &w, deadline));
    agora_rbuf r;
    AGORA_TRY(wait2(c, AGORA_MSG_C2P_TOPO, AGORA_MSG_C2P_TOPO_VERDICT, deadline, &r));
    if (c->mhdr.type == AGORA_MSG_C2P_TOPO_VERDICT)
        return AGORA_ESTATE; /* other members were reducing, not updating the topology */
    bool changed = false;
    agora_err rc = parse_topo(c, &r, &changed);
    if (rc != AGORA_OK) {
        master_lost(c, rc);
        return rc;
    }
    if (!changed) /* links this peer broke locally fail the next collective, which makes the
                     master rebuild them at the following update: self-healing, never stuck */
        return AGORA_OK;
    bool verdict_seen = false;
    rc = build_links(c, deadline, &verdict_seen);
    if (rc != AGORA_OK)
        AGORA_LOG_WARN(AGORA_SUB_COMM, "epoch %llu: ring links failed: %s",
                       (unsigned long long)c->epoch, agora_err_name(rc));
    if (verdict_seen) { /* the master already failed this epoch */
        close_links(c);
        return AGORA_EPEER_LOST;
    }
    uint8_t d[9];
    w = (agora_wbuf){d, 0, 9, false};
    agora__w_u64(&w, c->epoch);
    agora__w_u8(&w, rc == AGORA_OK ? 1 : 0);
    AGORA_TRY(agora__peer_send(c, AGORA_MSG_P2C_TOPO_DONE, &w, deadline));
    /* The verdict may need the master's phase timeout when a member hangs: wait for it
     * past our own deadline, but bounded. */
    int64_t vd = agora_deadline_in_ms(35000);
    for (;;) {
        agora_err e =
            agora__peer_wait(c, AGORA_MSG_C2P_TOPO_VERDICT, vd < deadline ? deadline : vd, &r);
        if (e != AGORA_OK) {
            close_links(c);
            return e;
        }
        uint64_t ep = agora__r_u64(&r);
        uint8_t ok = agora__r_u8(&r);
        if (ep != c->epoch)
            continue;
        c->links_ok = rc == AGORA_OK && ok;
        if (!c->links_ok)
            close_links(c);
        if (rc == AGORA_EABORTED)
            return rc;
        AGORA_LOG_INFO(AGORA_SUB_COMM, "epoch %llu: rank %u of %u%s", (unsigned long long)c->epoch,
                       c->rank, c->world, c->links_ok ? "" : " (links failed)");
        return c->links_ok ? AGORA_OK : AGORA_EPEER_LOST;
    }
}

agora_err agora_comm_pending_joiners(agora_comm *c, uint32_t *n, int64_t deadline) {
    AGORA_TRY(usable(c));
    AGORA_TRY(agora__peer_send(c, AGORA_MSG_P2C_PENDING_REQ, NULL, deadline));
    agora_rbuf r;
    AGORA_TRY(agora__peer_wait(c, AGORA_MSG_C2P_PENDING, deadline, &r));
    *n = agora__r_u32(&r);
    return agora__r_done(&r) == AGORA_OK ? AGORA_OK : AGORA_EPROTO;
}

// ---- all-reduce control ----

static agora_err check_desc(const agora_reduce_desc *d) {
    if (d == NULL || d->buf == NULL || d->count == 0 || (unsigned)d->op > AGORA_REDUCE_AVG ||
        (unsigned)d->codec >= AGORA__CODEC_COUNT)
        return AGORA_EINVAL;
    if (d->count > ((size_t)1 << 40))
        return AGORA_EINVAL;
    return AGORA_OK;
}

static agora_err complete_and_verdict(agora_comm *c, uint64_t seq, agora_err local,
                                      int64_t deadline) {
    uint8_t b[12];
    agora_wbuf w = {b, 0, 12, false};
    agora__w_u64(&w, seq);
    agora__w_u32(&w, (uint32_t)local);
    /* Send COMPLETE even after a failure: the verdict needs every member. Bounded by a
     * grace period past the caller's deadline, so a dead master cannot hang us. */
    int64_t grace = agora_deadline_in_ms(5000);
    int64_t d = deadline > grace ? deadline : grace;
    AGORA_TRY(agora__peer_send(c, AGORA_MSG_P2C_COMPLETE, &w, d));
    for (;;) {
        /* An abort cannot cut the verdict short: returning early here could restore our
         * buffer while the others commit. So this wait ignores the abort pipe. */
        agora_err rc =
            agora__recv_frame_s(c->mfd, &c->sess, &c->mhdr, c->mbuf, AGORA_WIRE_MAX_CTRL, d, -1);
        if (rc != AGORA_OK) {
            if (rc != AGORA_ETIMEDOUT)
                master_lost(c, rc);
            return rc == AGORA_ETIMEDOUT ? rc : AGORA_ECLOSED;
        }
        if (c->mhdr.type != AGORA_MSG_C2P_VERDICT)
            continue; /* a late ABORT or another stale frame */
        agora_rbuf r = {c->mbuf, c->mhdr.length, 0, false};
        uint64_t vseq = agora__r_u64(&r);
        uint32_t err = agora__r_u32(&r);
        if (vseq != seq)
            continue;
        return err < AGORA__ERR_COUNT ? (agora_err)err : AGORA_EPROTO;
    }
}

static agora_err allreduce_run(agora_comm *c, const agora_reduce_desc *desc,
                               agora_reduce_info *info);

agora_err agora_comm_allreduce(agora_comm *c, const agora_reduce_desc *desc,
                               agora_reduce_info *info) {
    AGORA_TRY(usable(c));
    return allreduce_run(c, desc, info);
}

static void *async_main(void *arg) {
    agora_comm *c = arg;
    c->async_rc = allreduce_run(c, &c->async_desc, &c->async_info);
    return NULL;
}

agora_err agora_comm_allreduce_async(agora_comm *c, const agora_reduce_desc *desc) {
    AGORA_TRY(check_desc(desc));
    AGORA_TRY(usable(c));
    if (c->world == 0)
        return AGORA_ESTATE;
    c->async_desc = *desc;
    memset(&c->async_info, 0, sizeof c->async_info);
    c->async_rc = AGORA_OK;
    if (pthread_create(&c->async_th, NULL, async_main, c) != 0)
        return AGORA_EIO;
    c->async_on = true;
    return AGORA_OK;
}

agora_err agora_comm_allreduce_await(agora_comm *c, agora_reduce_info *info) {
    if (!c->async_on)
        return AGORA_ESTATE;
    pthread_join(c->async_th, NULL);
    c->async_on = false;
    if (info != NULL && c->async_rc == AGORA_OK)
        *info = c->async_info;
    return c->async_rc;
}

static agora_err allreduce_run(agora_comm *c, const agora_reduce_desc *desc,
                               agora_reduce_info *info) {
    AGORA_TRY(check_desc(desc));
    AGORA_TRY(usable_now(c));
    if (c->world == 0)
        return AGORA_ESTATE;
    int64_t t0 = agora_now_ns();
    if (c->backup_cap < desc->count) {
        agora_free_aligned(c->backup);
        c->backup = agora_malloc_aligned(desc->count * sizeof(float));
        c->backup_cap = c->backup ? desc->count : 0;
        if (c->backup == NULL)
            return AGORA_ENOMEM;
    }
    uint8_t b[32];
    agora_wbuf w = {b, 0, sizeof b, false};
    agora__w_u64(&w, c->epoch);
    agora__w_u64(&w, (uint64_t)desc->count);
    agora__w_u8(&w, (uint8_t)desc->op);
    agora__w_u8(&w, (uint8_t)desc->codec);
    agora__w_u8(&w, desc->contributes ? 1 : 0);
    agora__w_u64(&w, ++c->init_nonce);
    agora_err rc = agora__peer_send(c, AGORA_MSG_P2C_INITIATE, &w, desc->deadline_ns);
    agora_rbuf r;
    while (rc == AGORA_OK) { /* skip a stale COMMENCE or VERDICT from a withdrawn attempt */
        rc = wait2(c, AGORA_MSG_C2P_COMMENCE, AGORA_MSG_C2P_VERDICT, desc->deadline_ns, &r);
        if (rc != AGORA_OK)
            break;
        agora_rbuf peek = r;
        uint64_t seq = agora__r_u64(&peek);
        if (c->mhdr.type == AGORA_MSG_C2P_VERDICT
                ? seq == 0
                : (agora__r_u32(&peek), agora__r_u64(&peek) == c->init_nonce))
            break;
    }
    if (rc != AGORA_OK) {
        /* We gave up before a COMMENCE: withdraw (COMPLETE seq 0), so the master neither
         * waits for us nor leaves the others hanging if it commences meanwhile; their
         * collective then fails and everyone rebuilds links. Stale frames are skipped. */
        if (rc == AGORA_ETIMEDOUT || rc == AGORA_EABORTED) {
            uint8_t wb[12];
            agora_wbuf ww = {wb, 0, sizeof wb, false};
            agora__w_u64(&ww, 0);
            agora__w_u32(&ww, (uint32_t)rc);
            (void)agora__peer_send(c, AGORA_MSG_P2C_COMPLETE, &ww, agora_deadline_in_ms(1000));
        }
        return rc;
    }
    if (c->mhdr.type == AGORA_MSG_C2P_VERDICT) {
        (void)agora__r_u64(&r);
        uint32_t err = agora__r_u32(&r);
        return err == AGORA_OK || err >= AGORA__ERR_COUNT ? AGORA_EPROTO : (agora_err)err;
    }
    agora__ring_job job;
    memset(&job, 0, sizeof job);
    job.buf = desc->buf;
    job.count = desc->count;
    job.op = desc->op;
    job.codec = desc->codec;
    job.deadline = desc->deadline_ns;
    job.seq = agora__r_u64(&r);
    job.contributors = agora__r_u32(&r);
    (void)agora__r_u64(&r); /* the nonce, checked above */
    job.backup = c->backup;
    job.resid = desc->residual;
    if (job.resid != NULL)
        memset(job.resid, 0, desc->count * sizeof(float));
    if (!desc->contributes || c->world == 1) {
        /* these paths write the whole buffer up front: back it all up now (the ring
         * otherwise copies each piece just before its first write, while it is cached) */
        memcpy(c->backup, desc->buf, desc->count * sizeof(float));
        job.all_backed = true;
    }
    if (!desc->contributes)
        memset(desc->buf, 0, desc->count * sizeof(float));
    agora_err local = AGORA_OK;
    if (c->world > 1) {
        local = c->links_ok ? agora__ring_run(c, &job) : AGORA_EPEER_LOST;
    } else if (desc->op == AGORA_REDUCE_AVG) {
        float div = job.contributors ? (float)job.contributors : 1.0f;
        for (size_t i = 0; i < desc->count; i++)
            desc->buf[i] /= div;
    }
    if (local != AGORA_OK)
        AGORA_LOG_DEBUG(AGORA_SUB_COMM, "collective %llu failed here: %s",
                        (unsigned long long)job.seq, agora_err_name(local));
    agora_err verdict = complete_and_verdict(c, job.seq, local, desc->deadline_ns);
    rc = local != AGORA_OK ? local : verdict;
    if (rc != AGORA_OK) {
        agora__ring_restore(&job, c->world);
        c->links_ok = false;
        if (rc == AGORA_ECLOSED && local == AGORA_ECLOSED && verdict != AGORA_ECLOSED)
            rc = AGORA_EPEER_LOST; /* a ring link closed, the master is fine */
    }
    agora_free(job.backed);
    if (rc == AGORA_OK && job.link_bps > 0 && c->world > 1) {
        /* passive link timing for the coordinator's ring order (best effort: a failed send
         * shows up as a lost master on the next call) */
        uint8_t pb[16];
        agora_wbuf pw = {pb, 0, sizeof pb, false};
        uint64_t bits;
        memcpy(&bits, &job.link_bps, sizeof bits);
        agora__w_u64(&pw, c->ids[(c->rank + 1) % c->world]);
        agora__w_u64(&pw, bits);
        (void)agora__peer_send(c, AGORA_MSG_P2C_BW_PASSIVE, &pw, agora_deadline_in_ms(1000));
        AGORA_LOG_DEBUG(AGORA_SUB_COMM,
                        "collective %llu: link to rank %u ran at %.3g MB/s while "
                        "saturated",
                        (unsigned long long)job.seq, (c->rank + 1) % c->world, job.link_bps / 1e6);
    }
    if (rc == AGORA_OK && info) {
        info->world = c->world;
        info->contributors = job.contributors;
        info->tx_bytes = job.tx_bytes;
        info->rx_bytes = job.rx_bytes;
        info->elapsed_ns = agora_now_ns() - t0;
    }
    return rc;
}
