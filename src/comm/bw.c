/* bw.c: a peer's side of link measurement (agora_comm_measure_links; spec §11).
 *
 * Round k = 1..W-1: send a P2P_BW frame of `bytes` to rank r+k over a fresh authenticated
 * connection while accepting one from rank r-k and timing its payload (first to last
 * byte). Every member runs the same round at once, so each measures its ingress with all
 * links busy, as in the ring. The results go to the master (P2C_BW_REPORT).
 * Does not: choose the order (coord_bw.c, topo.c).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/auth.h"
#include "comm/net.h"
#include "comm/peer.h"

#define BW_STREAM 0x40000000u
#define SINK (256u << 10)

typedef struct bw_round {
    int tx, rx;
    uint8_t hdr[AGORA_WIRE_HDR];
    size_t sent;
    uint8_t rhdr[AGORA_WIRE_HDR];
    size_t got;
    int64_t t_first, t_last;
} bw_round;

static agora_err send_hello(agora_comm *c, int fd, uint32_t stream, int64_t deadline) {
    uint8_t buf[64], mac[AGORA_AUTH_MAC];
    agora_wbuf w = {buf, 0, sizeof buf, false};
    agora__auth_p2p(c->ring_key, c->epoch, c->id, stream, mac);
    agora__w_u64(&w, c->epoch);
    agora__w_u64(&w, c->id);
    agora__w_u32(&w, stream);
    agora__w_bytes(&w, mac, sizeof mac);
    return agora__send_frame(fd, AGORA_MSG_P2P_HELLO, 0, buf, (uint32_t)w.len, deadline);
}

/* Accepts the link for round k. A faster member may already connect for a later round:
 * such links are kept in stash[] (indexed by round) until their round comes. */
static agora_err accept_from(agora_comm *c, uint32_t k, int64_t deadline, int *stash, int *out) {
    uint32_t W = c->world;
    if (stash[k] >= 0) {
        *out = stash[k];
        stash[k] = -1;
        return AGORA_OK;
    }
    for (;;) {
        int fd = -1;
        AGORA_TRY(agora__tcp_accept(c->lfd, deadline, &fd, NULL));
        uint8_t buf[64];
        agora_frame_hdr h;
        agora_err rc = agora__recv_frame(fd, &h, buf, sizeof buf, deadline, -1);
        if (rc == AGORA_OK && h.type == AGORA_MSG_P2P_HELLO) {
            agora_rbuf r = {buf, h.length, 0, false};
            uint64_t epoch = agora__r_u64(&r), from = agora__r_u64(&r);
            uint32_t s = agora__r_u32(&r);
            uint8_t mac[AGORA_AUTH_MAC], want[AGORA_AUTH_MAC];
            agora__r_bytes(&r, mac, sizeof mac);
            agora__auth_p2p(c->ring_key, epoch, from, s, want);
            uint32_t kk = s & ~BW_STREAM;
            bool valid = agora__r_done(&r) == AGORA_OK && memcmp(mac, want, sizeof mac) == 0 &&
                         epoch == c->epoch && (s & BW_STREAM) && kk >= k && kk < W &&
                         from == c->ids[(c->rank + W - kk) % W];
            if (valid && kk == k) {
                *out = fd;
                return AGORA_OK;
            }
            if (valid && stash[kk] < 0) {
                stash[kk] = fd;
                continue;
            }
        }
        agora__sock_close(&fd);
        if (agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
    }
}

static agora_err run_round(agora_comm *c, bw_round *b, const uint8_t *payload, size_t bytes,
                           uint8_t *sink, int64_t deadline) {
    size_t total = AGORA_WIRE_HDR + bytes;
    for (;;) {
        bool progress = false;
        int32_t wait = 0; /* comm.rate_limit_mbps: the bucket is empty for this long */
        size_t allow = b->sent < total ? agora__rate_allow(&c->rate, total - b->sent, &wait) : 0;
        if (allow > 0) {
            struct iovec iov[2];
            int n = 0;
            if (b->sent < AGORA_WIRE_HDR)
                iov[n++] = (struct iovec){b->hdr + b->sent, AGORA_WIRE_HDR - b->sent};
            size_t boff = b->sent > AGORA_WIRE_HDR ? b->sent - AGORA_WIRE_HDR : 0;
            iov[n++] = (struct iovec){(void *)(uintptr_t)(payload + boff), bytes - boff};
            for (int v = 0; v < n; v++) {
                if (iov[v].iov_len > allow)
                    iov[v].iov_len = allow;
                allow -= iov[v].iov_len;
            }
            struct msghdr mh;
            memset(&mh, 0, sizeof mh);
            mh.msg_iov = iov;
            mh.msg_iovlen = (size_t)n;
            ssize_t k = sendmsg(b->tx, &mh, MSG_NOSIGNAL);
            if (k > 0) {
                agora__rate_charge(&c->rate, (size_t)k);
                b->sent += (size_t)k;
                progress = true;
            } else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return AGORA_EPEER_LOST;
            }
        }
        if (b->got < total) {
            uint8_t *dst = b->got < AGORA_WIRE_HDR ? b->rhdr + b->got : sink;
            size_t room = b->got < AGORA_WIRE_HDR ? AGORA_WIRE_HDR - b->got : SINK;
            if (b->got >= AGORA_WIRE_HDR && room > total - b->got)
                room = total - b->got;
            ssize_t k = recv(b->rx, dst, room, 0);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                return AGORA_EPEER_LOST;
            if (k > 0) {
                int64_t now = agora_now_ns();
                if (b->got < AGORA_WIRE_HDR && b->got + (size_t)k == AGORA_WIRE_HDR) {
                    agora_frame_hdr h;
                    AGORA_TRY(agora__hdr_decode(b->rhdr, &h));
                    if (h.type != AGORA_MSG_P2P_BW || h.length != bytes)
                        return AGORA_EPROTO;
                }
                if (b->got >= AGORA_WIRE_HDR && b->t_first == 0)
                    b->t_first = now;
                b->got += (size_t)k;
                b->t_last = now;
                progress = true;
            }
        }
        if (b->sent == total && b->got == total)
            return AGORA_OK;
        if (progress)
            continue;
        struct pollfd pf[4] = {{b->tx, b->sent < total && wait == 0 ? POLLOUT : 0, 0},
                               {b->rx, b->got < total ? POLLIN : 0, 0},
                               {c->mfd, POLLIN, 0},
                               {agora__peer_wake_fd(c), POLLIN, 0}};
        if (agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
        int32_t ms = agora_deadline_left_ms(deadline);
        if (wait > 0 && wait < ms)
            ms = wait;
        int r = poll(pf, 4, ms > 0 ? ms : 1);
        if (r > 0 && pf[3].revents)
            return AGORA_EABORTED;
        if (r > 0 && pf[2].revents) { /* only a failed DONE can come now */
            AGORA_TRY(agora__peer_recv(c, agora_deadline_in_ms(1000)));
            if (c->mhdr.type == AGORA_MSG_C2P_BW_DONE)
                return AGORA_EPEER_LOST;
        }
    }
}

static agora_err measure(agora_comm *c, size_t bytes, int64_t deadline, uint64_t *from,
                         double *bps) {
    uint8_t *payload = agora_calloc(bytes, 1), *sink = agora_malloc(SINK);
    agora_err rc = payload && sink ? AGORA_OK : AGORA_ENOMEM;
    uint32_t W = c->world, r = c->rank;
    int stash[64 + 1];
    for (uint32_t k = 0; k <= 64; k++)
        stash[k] = -1;
    if (W > 64)
        rc = AGORA_EINVAL; /* measurement is for rings of at most 64 members */
    for (uint32_t k = 1; rc == AGORA_OK && k < W; k++) {
        uint32_t to = (r + k) % W, fr = (r + W - k) % W;
        bw_round b;
        memset(&b, 0, sizeof b);
        b.tx = b.rx = -1;
        agora__frame_build(b.hdr, AGORA_MSG_P2P_BW, c->epoch, payload, (uint32_t)bytes);
        rc = agora__tcp_connect(c->ipv4s[to], c->ports[to], deadline, &b.tx);
        if (rc == AGORA_OK)
            rc = send_hello(c, b.tx, BW_STREAM | k, deadline);
        if (rc == AGORA_OK)
            rc = accept_from(c, k, deadline, stash, &b.rx);
        if (rc == AGORA_OK)
            rc = run_round(c, &b, payload, bytes, sink, deadline);
        if (rc == AGORA_OK) {
            double dt = (double)(b.t_last - b.t_first) / 1e9;
            from[k - 1] = c->ids[fr];
            bps[k - 1] = dt > 0 ? (double)bytes / dt : (double)bytes * 1e9;
        }
        if (rc == AGORA_ECLOSED || rc == AGORA_ECONNREFUSED)
            rc = AGORA_EPEER_LOST;
        agora__sock_close(&b.tx);
        agora__sock_close(&b.rx);
    }
    for (uint32_t k = 0; k <= 64; k++)
        if (stash[k] >= 0)
            agora__sock_close(&stash[k]);
    agora_free(payload);
    agora_free(sink);
    return rc;
}

agora_err agora_comm_measure_links(agora_comm *c, size_t bytes, int64_t deadline) {
    if (bytes == 0 || bytes > AGORA_WIRE_MAX_DATA)
        return AGORA_EINVAL;
    if (agora__peer_busy(c))
        return AGORA_EINPROGRESS;
    if (agora__peer_is_aborted(c))
        return AGORA_EABORTED;
    if (agora_comm_async_error(c) != AGORA_OK)
        return AGORA_ECLOSED;
    if (c->world == 0)
        return AGORA_ESTATE;
    AGORA_TRY(agora__peer_send(c, AGORA_MSG_P2C_BW_REQ, NULL, deadline));
    agora_rbuf rb;
    for (;;) {
        AGORA_TRY(agora__peer_recv(c, deadline));
        if (c->mhdr.type == AGORA_MSG_C2P_BW_DONE) { /* refused before it started */
            agora_rbuf r = {c->mbuf, c->mhdr.length, 0, false};
            agora_err e = (agora_err)agora__r_u32(&r);
            return e == AGORA_OK || e >= AGORA__ERR_COUNT ? AGORA_EPROTO : e;
        }
        if (c->mhdr.type == AGORA_MSG_C2P_BW_GO)
            break;
    }
    uint32_t n = c->world - 1;
    uint64_t *from = agora_calloc(n ? n : 1, sizeof *from);
    double *bps = agora_calloc(n ? n : 1, sizeof *bps);
    uint8_t *rep = agora_malloc(4 + (size_t)n * 16);
    agora_err local = from && bps && rep ? measure(c, bytes, deadline, from, bps) : AGORA_ENOMEM;
    if (local == AGORA_OK) {
        agora_wbuf w = {rep, 0, 4 + (size_t)n * 16, false};
        agora__w_u32(&w, n);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t bits;
            memcpy(&bits, &bps[i], sizeof bits);
            agora__w_u64(&w, from[i]);
            agora__w_u64(&w, bits);
            AGORA_LOG_DEBUG(AGORA_SUB_COMM, "link %llu -> me: %.3f GB/s",
                            (unsigned long long)from[i], bps[i] / 1e9);
        }
        local = agora__peer_send(c, AGORA_MSG_P2C_BW_REPORT, &w, deadline);
    }
    agora_free(from);
    agora_free(bps);
    agora_free(rep);
    if (local == AGORA_EPEER_LOST && c->mhdr.type == AGORA_MSG_C2P_BW_DONE)
        return local;        /* the master already ended the round */
    if (local != AGORA_OK) { /* an empty report fails the round for everyone at once */
        uint8_t z[4] = {0, 0, 0, 0};
        agora_wbuf w = {z, 4, 4, false};
        (void)agora__peer_send(c, AGORA_MSG_P2C_BW_REPORT, &w, agora_deadline_in_ms(1000));
    }
    /* wait for the master's verdict (a failed one may already be on its way) */
    int64_t grace = agora_deadline_in_ms(5000);
    agora_err v =
        agora__peer_wait(c, AGORA_MSG_C2P_BW_DONE, deadline > grace ? deadline : grace, &rb);
    if (v == AGORA_OK)
        v = (agora_err)agora__r_u32(&rb);
    return local != AGORA_OK ? local : v;
}
