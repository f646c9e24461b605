/* proxy.c: the fault-injecting TCP proxy (see proxy.h).
 *
 * Implements: one poll(2) loop; per connection pair and direction a byte FIFO whose
 * segments carry a release time (latency); a token bucket for the cap; one stall and one
 * reset triggered by the forwarded byte count.
 * Does not: parse what it forwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/net.h"
#include "comm/proxy.h"

#define FIFO_BYTES (1u << 20)
#define MAX_SEGS 4096u
#define MAX_PAIRS 256u

typedef struct seg {
    uint32_t len;
    int64_t release;
} seg;

typedef struct dir {
    uint8_t *buf; /* ring of FIFO_BYTES */
    size_t head, len;
    seg segs[MAX_SEGS];
    size_t s_head, s_len;
    bool eof;
} dir;

typedef struct pair {
    int fd[2]; /* 0: client, 1: upstream */
    dir d[2];  /* d[0]: client -> upstream, d[1]: upstream -> client */
} pair;

struct agora_proxy {
    agora_proxy_opts o;
    int lfd;
    int wake[2];
    uint16_t port;
    pair *pairs[MAX_PAIRS];
    size_t n;
    double tokens; /* bytes */
    int64_t last_refill;
    int64_t stall_until;
    bool stalled_once, reset_once;
    _Atomic uint64_t forwarded;
    _Atomic int stop;
};

static void pair_free(pair *p) {
    for (int k = 0; k < 2; k++) {
        agora__sock_close(&p->fd[k]);
        agora_free(p->d[k].buf);
    }
    agora_free(p);
}

agora_err agora__proxy_create(const agora_proxy_opts *o, agora_proxy **out) {
    *out = NULL;
    agora_proxy *p = agora_calloc(1, sizeof *p);
    if (p == NULL)
        return AGORA_ENOMEM;
    p->o = *o;
    p->wake[0] = p->wake[1] = -1;
    p->lfd = -1;
    agora_err rc = agora__tcp_listen(o->listen_ipv4 ? o->listen_ipv4 : 0x7f000001u, o->listen_port,
                                     &p->lfd, &p->port);
    if (rc == AGORA_OK && pipe(p->wake) != 0)
        rc = AGORA_EIO;
    if (rc != AGORA_OK) {
        agora__proxy_destroy(p);
        return rc;
    }
    (void)fcntl(p->wake[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(p->wake[1], F_SETFL, O_NONBLOCK);
    p->last_refill = agora_now_ns();
    *out = p;
    return AGORA_OK;
}

uint16_t agora__proxy_port(const agora_proxy *p) {
    return p->port;
}

void agora__proxy_set_target(agora_proxy *p, uint32_t ipv4, uint16_t port) {
    p->o.to_ipv4 = ipv4;
    p->o.to_port = port;
}

void agora__proxy_interrupt(agora_proxy *p) {
    atomic_store(&p->stop, 1);
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
}

uint64_t agora__proxy_forwarded(const agora_proxy *p) {
    return atomic_load(&((agora_proxy *)(uintptr_t)p)->forwarded);
}

void agora__proxy_destroy(agora_proxy *p) {
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        pair_free(p->pairs[i]);
    agora__sock_close(&p->lfd);
    agora__sock_close(&p->wake[0]);
    agora__sock_close(&p->wake[1]);
    agora_free(p);
}

static void accept_pairs(agora_proxy *p) {
    for (;;) {
        int cfd = -1, ufd = -1;
        if (agora__tcp_accept(p->lfd, 0, &cfd, NULL) != AGORA_OK)
            return;
        if (p->n == MAX_PAIRS ||
            agora__tcp_connect(p->o.to_ipv4 ? p->o.to_ipv4 : 0x7f000001u, p->o.to_port,
                               agora_deadline_in_ms(2000), &ufd) != AGORA_OK) {
            agora__sock_close(&cfd);
            continue;
        }
        pair *q = agora_calloc(1, sizeof *q);
        if (q == NULL || !(q->d[0].buf = agora_malloc(FIFO_BYTES)) ||
            !(q->d[1].buf = agora_malloc(FIFO_BYTES))) {
            if (q) {
                q->fd[0] = cfd;
                q->fd[1] = ufd;
                pair_free(q);
            }
            continue;
        }
        q->fd[0] = cfd;
        q->fd[1] = ufd;
        p->pairs[p->n++] = q;
    }
}

/* Reads from src into the FIFO of direction d. Returns false when the pair must close. */
static bool pump_in(agora_proxy *p, pair *q, int k) {
    dir *d = &q->d[k];
    while (!d->eof && d->len < FIFO_BYTES && d->s_len < MAX_SEGS) {
        size_t tail = (d->head + d->len) % FIFO_BYTES;
        size_t room = FIFO_BYTES - d->len;
        if (room > FIFO_BYTES - tail)
            room = FIFO_BYTES - tail;
        ssize_t n = recv(q->fd[k], d->buf + tail, room, 0);
        if (n == 0) {
            d->eof = true;
            break;
        }
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        d->len += (size_t)n;
        seg *s = &d->segs[(d->s_head + d->s_len++) % MAX_SEGS];
        s->len = (uint32_t)n;
        s->release = agora_now_ns() + (int64_t)p->o.latency_ms * 1000000;
    }
    return true;
}

static void refill(agora_proxy *p, int64_t now) {
    if (p->o.mbps <= 0)
        return;
    double rate = p->o.mbps * 1e6 / 8.0 / 1e9; /* bytes per ns */
    p->tokens += rate * (double)(now - p->last_refill);
    double burst = p->o.mbps * 1e6 / 8.0 * 0.02 + 65536.0; /* 20 ms: timer slack on a busy host */
    if (p->tokens > burst)
        p->tokens = burst;
    p->last_refill = now;
}

/* Writes released bytes of direction d to its destination. */
static bool pump_out(agora_proxy *p, pair *q, int k, int64_t now) {
    dir *d = &q->d[k];
    int dst = q->fd[1 - k];
    while (d->s_len > 0) {
        seg *s = &d->segs[d->s_head];
        if (s->release > now || now < p->stall_until)
            return true;
        size_t want = s->len;
        if (p->o.mbps > 0) {
            if (p->tokens < 1.0)
                return true;
            if ((double)want > p->tokens)
                want = (size_t)p->tokens;
        }
        if (want > FIFO_BYTES - d->head)
            want = FIFO_BYTES - d->head;
        ssize_t n = send(dst, d->buf + d->head, want, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        d->head = (d->head + (size_t)n) % FIFO_BYTES;
        d->len -= (size_t)n;
        s->len -= (uint32_t)n;
        if (s->len == 0) {
            d->s_head = (d->s_head + 1) % MAX_SEGS;
            d->s_len--;
        }
        if (p->o.mbps > 0)
            p->tokens -= (double)n;
        uint64_t f = atomic_fetch_add(&p->forwarded, (uint64_t)n) + (uint64_t)n;
        if (!p->stalled_once && p->o.stall_after_bytes >= 0 &&
            f >= (uint64_t)p->o.stall_after_bytes) {
            p->stalled_once = true;
            p->stall_until = now + (int64_t)p->o.stall_ms * 1000000;
        }
        if (!p->reset_once && p->o.reset_after_bytes >= 0 &&
            f >= (uint64_t)p->o.reset_after_bytes) {
            p->reset_once = true;
            return false;
        }
    }
    if (d->eof && d->len == 0)
        shutdown(dst, SHUT_WR);
    return true;
}

static void reset_pair(pair *q) {
    struct linger lg = {1, 0}; /* close with RST */
    for (int k = 0; k < 2; k++)
        if (q->fd[k] >= 0)
            (void)setsockopt(q->fd[k], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

agora_err agora__proxy_run(agora_proxy *p) {
    struct pollfd pf[2 + 2 * MAX_PAIRS];
    while (!atomic_load(&p->stop)) {
        int64_t now = agora_now_ns();
        refill(p, now);
        for (size_t i = 0; i < p->n;) {
            pair *q = p->pairs[i];
            bool ok = pump_in(p, q, 0) && pump_in(p, q, 1) && pump_out(p, q, 0, now) &&
                      pump_out(p, q, 1, now);
            bool done = q->d[0].eof && q->d[1].eof && q->d[0].len == 0 && q->d[1].len == 0;
            if (!ok || done) {
                if (!ok)
                    reset_pair(q);
                pair_free(q);
                p->pairs[i] = p->pairs[--p->n];
                continue;
            }
            i++;
        }
        nfds_t n = 0;
        pf[n++] = (struct pollfd){p->lfd, POLLIN, 0};
        pf[n++] = (struct pollfd){p->wake[0], POLLIN, 0};
        bool pending = false;
        for (size_t i = 0; i < p->n; i++) {
            pair *q = p->pairs[i];
            for (int k = 0; k < 2; k++) {
                short ev = 0;
                if (!q->d[k].eof && q->d[k].len < FIFO_BYTES)
                    ev |= POLLIN; /* from fd[k] */
                const dir *out = &q->d[1 - k];
                if (out->s_len > 0) {
                    bool can = out->segs[out->s_head].release <= now && now >= p->stall_until &&
                               (p->o.mbps <= 0 || p->tokens >= 1.0);
                    if (can)
                        ev |= POLLOUT; /* to fd[k] */
                    else
                        pending = true; /* waits on time or tokens: wake up by timeout */
                }
                pf[n++] = (struct pollfd){q->fd[k], ev, 0};
            }
        }
        /* released data waits on time or tokens, not on the socket: wake up soon */
        int r = poll(pf, n, pending ? 1 : 100);
        if (r < 0 && errno != EINTR)
            return AGORA_EIO;
        if (r > 0 && (pf[0].revents & POLLIN))
            accept_pairs(p);
    }
    return AGORA_OK;
}
