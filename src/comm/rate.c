/* rate.c: the token bucket behind comm.rate_limit_mbps (rate.h).
 *
 * Implements: refill at a fixed rate up to a 20 ms burst, allow/charge around each
 * send, and a blocking send-all that waits for tokens within a deadline.
 * Does not: shape receive traffic (the sender of each link limits itself).
 */
#include "comm/rate.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "agora/time.h"
#include "comm/net.h"

double agora__rate_burst_bytes(double mbps) {
    double b = mbps * 1e6 / 8.0 * AGORA__RATE_BURST_S;
    return b > AGORA__RATE_BURST_MIN ? b : AGORA__RATE_BURST_MIN;
}

void agora__rate_init(agora__rate *r, double mbps) {
    pthread_mutex_init(&r->mu, NULL);
    r->bytes_per_ns = mbps > 0 ? mbps * 1e6 / 8.0 / 1e9 : 0.0;
    r->burst = mbps > 0 ? agora__rate_burst_bytes(mbps) : 0.0;
    r->tokens = r->burst;
    r->last = agora_now_ns();
}

void agora__rate_destroy(agora__rate *r) {
    pthread_mutex_destroy(&r->mu);
}

static void refill(agora__rate *r, int64_t now) {
    r->tokens += r->bytes_per_ns * (double)(now - r->last);
    if (r->tokens > r->burst)
        r->tokens = r->burst;
    r->last = now;
}

size_t agora__rate_allow(agora__rate *r, size_t want, int32_t *wait_ms) {
    if (!agora__rate_on(r))
        return want;
    pthread_mutex_lock(&r->mu);
    refill(r, agora_now_ns());
    double t = r->tokens;
    pthread_mutex_unlock(&r->mu);
    /* Wait for a useful amount (a quarter of the bucket or the whole request), so the
     * sender does not wake up for a few bytes at a time. */
    double need = (double)want < r->burst / 4 ? (double)want : r->burst / 4;
    if (t >= need && t >= 1.0)
        return (double)want <= t ? want : (size_t)t;
    double ns = (need - t) / r->bytes_per_ns;
    int64_t ms = (int64_t)(ns / 1e6) + 1;
    *wait_ms = ms > 1000 ? 1000 : (int32_t)ms;
    return 0;
}

void agora__rate_charge(agora__rate *r, size_t sent) {
    if (!agora__rate_on(r) || sent == 0)
        return;
    pthread_mutex_lock(&r->mu);
    r->tokens -= (double)sent;
    pthread_mutex_unlock(&r->mu);
}

agora_err agora__send_all_rate(int fd, const void *buf, size_t len, int64_t deadline,
                               agora__rate *r) {
    if (!agora__rate_on(r))
        return agora__send_all(fd, buf, len, deadline);
    const uint8_t *p = buf;
    while (len > 0) {
        int32_t wait = 0;
        size_t chunk = agora__rate_allow(r, len, &wait);
        if (chunk == 0) {
            if (agora_deadline_passed(deadline))
                return AGORA_ETIMEDOUT;
            int32_t left = agora_deadline_left_ms(deadline);
            (void)poll(NULL, 0, wait < left ? wait : (left > 0 ? left : 1));
            continue;
        }
        ssize_t n = send(fd, p, chunk, MSG_NOSIGNAL);
        if (n > 0) {
            agora__rate_charge(r, (size_t)n);
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd pf = {fd, POLLOUT, 0};
            if (agora_deadline_passed(deadline))
                return AGORA_ETIMEDOUT;
            int32_t left = agora_deadline_left_ms(deadline);
            (void)poll(&pf, 1, left > 0 ? left : 1);
            continue;
        }
        return (n < 0 && (errno == EPIPE || errno == ECONNRESET)) ? AGORA_ECLOSED : AGORA_EIO;
    }
    return AGORA_OK;
}
