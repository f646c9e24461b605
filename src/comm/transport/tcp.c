/* tcp.c: TCP sockets with deadlines and frame I/O.
 *
 * Implements: listen on port 0 or a fixed port, non-blocking connect with a deadline,
 * accept, send/receive-all loops driven by poll(2) and an absolute deadline, frames.
 * Does not: know message meanings (coord.c, peer.c) or the ring schedule (ring.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agora/log.h"
#include "agora/time.h"
#include "comm/auth.h"
#include "comm/net.h"

agora_err agora__ipv4_resolve(const char *host, uint32_t *ipv4) {
    struct in_addr a;
    if (host == NULL || host[0] == '\0')
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &a) == 1) {
        *ipv4 = ntohl(a.s_addr);
        return AGORA_OK;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return AGORA_ENOTFOUND;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)res->ai_addr;
    *ipv4 = ntohl(sin->sin_addr.s_addr);
    freeaddrinfo(res);
    return AGORA_OK;
}

void agora__sock_close(int *fd) {
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

agora_err agora__sock_setup(int fd, int keepalive_idle_s) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        return AGORA_EIO;
    if (keepalive_idle_s > 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#ifdef TCP_KEEPIDLE
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_idle_s, sizeof keepalive_idle_s);
#endif
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return AGORA_EIO;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        return AGORA_EIO;
    return AGORA_OK;
}

static void fill_sin(struct sockaddr_in *sin, uint32_t ipv4, uint16_t port) {
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(ipv4);
}

agora_err agora__tcp_listen(uint32_t ipv4, uint16_t port, int *fd_out, uint16_t *bound) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return AGORA_EIO;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin;
    fill_sin(&sin, ipv4, port);
    if (bind(fd, (struct sockaddr *)(void *)&sin, sizeof sin) != 0 || listen(fd, 256) != 0) {
        AGORA_LOG_ERROR(AGORA_SUB_COMM, "bind/listen on port %u: %s", (unsigned)port,
                        strerror(errno));
        close(fd);
        return AGORA_EIO;
    }
    socklen_t sl = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)(void *)&sin, &sl) != 0 ||
        agora__sock_setup(fd, 0) != AGORA_OK) {
        close(fd);
        return AGORA_EIO;
    }
    *bound = ntohs(sin.sin_port);
    *fd_out = fd;
    return AGORA_OK;
}

/* poll one fd (plus an optional wake fd) until `events` or the deadline. */
static agora_err wait_fd(int fd, short events, int64_t deadline, int wake_fd) {
    for (;;) {
        struct pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
        int32_t ms = agora_deadline_left_ms(deadline);
        if (ms == 0 && agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
        int r = poll(p, wake_fd >= 0 ? 2 : 1, ms > 0 ? ms : 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return AGORA_EIO;
        }
        if (wake_fd >= 0 && (p[1].revents & POLLIN))
            return AGORA_EABORTED;
        if (r > 0 && p[0].revents)
            return AGORA_OK;
        if (agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
    }
}

agora_err agora__tcp_connect(uint32_t ipv4, uint16_t port, int64_t deadline, int *fd_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return AGORA_EIO;
    agora_err rc = agora__sock_setup(fd, 30);
    if (rc != AGORA_OK) {
        close(fd);
        return rc;
    }
    struct sockaddr_in sin;
    fill_sin(&sin, ipv4, port);
    if (connect(fd, (struct sockaddr *)(void *)&sin, sizeof sin) != 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            return e == ECONNREFUSED ? AGORA_ECONNREFUSED : AGORA_EIO;
        }
        rc = wait_fd(fd, POLLOUT, deadline, -1);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (rc == AGORA_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            rc = AGORA_EIO;
        if (rc == AGORA_OK && soerr != 0)
            rc = soerr == ECONNREFUSED ? AGORA_ECONNREFUSED : AGORA_EIO;
        if (rc != AGORA_OK) {
            close(fd);
            return rc;
        }
    }
    *fd_out = fd;
    return AGORA_OK;
}

agora_err agora__tcp_accept(int lfd, int64_t deadline, int *fd_out, uint32_t *peer_ipv4) {
    for (;;) {
        struct sockaddr_in sin;
        socklen_t sl = sizeof sin;
        int fd = accept(lfd, (struct sockaddr *)(void *)&sin, &sl);
        if (fd >= 0) {
            agora_err rc = agora__sock_setup(fd, 30);
            if (rc != AGORA_OK) {
                close(fd);
                return rc;
            }
            if (peer_ipv4)
                *peer_ipv4 = ntohl(sin.sin_addr.s_addr);
            *fd_out = fd;
            return AGORA_OK;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            return AGORA_EIO;
        AGORA_TRY(wait_fd(lfd, POLLIN, deadline, -1));
    }
}

agora_err agora__send_all(int fd, const void *buf, size_t len, int64_t deadline) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            AGORA_TRY(wait_fd(fd, POLLOUT, deadline, -1));
            continue;
        }
        return (n < 0 && (errno == EPIPE || errno == ECONNRESET)) ? AGORA_ECLOSED : AGORA_EIO;
    }
    return AGORA_OK;
}

agora_err agora__recv_all_w(int fd, void *buf, size_t len, int64_t deadline, int wake_fd) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return AGORA_ECLOSED;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            /* The wake fd only interrupts between frames, never inside one; a deadline
             * that passes inside a buffer leaves the stream unusable: ETRUNCATED. */
            bool partial = p != (uint8_t *)buf;
            agora_err rc = wait_fd(fd, POLLIN, deadline, partial ? -1 : wake_fd);
            if (rc == AGORA_ETIMEDOUT && partial)
                return AGORA_ETRUNCATED;
            if (rc != AGORA_OK)
                return rc;
            continue;
        }
        return errno == ECONNRESET ? AGORA_ECLOSED : AGORA_EIO;
    }
    return AGORA_OK;
}

agora_err agora__recv_all(int fd, void *buf, size_t len, int64_t deadline) {
    return agora__recv_all_w(fd, buf, len, deadline, -1);
}

static agora_err send_sealed(int fd, const uint8_t hdr[AGORA_WIRE_HDR], const void *payload,
                             uint32_t len, int64_t deadline, agora__rate *rate) {
    if (len <= 4096) { /* one send for small frames: fewer packets with TCP_NODELAY */
        uint8_t tmp[AGORA_WIRE_HDR + 4096];
        memcpy(tmp, hdr, AGORA_WIRE_HDR);
        if (len)
            memcpy(tmp + AGORA_WIRE_HDR, payload, len);
        return agora__send_all_rate(fd, tmp, AGORA_WIRE_HDR + len, deadline, rate);
    }
    AGORA_TRY(agora__send_all_rate(fd, hdr, AGORA_WIRE_HDR, deadline, rate));
    return agora__send_all_rate(fd, payload, len, deadline, rate);
}

agora_err agora__send_frame_rate(int fd, uint8_t type, uint64_t tag, const void *payload,
                                 uint32_t len, int64_t deadline, agora__rate *rate) {
    uint8_t hdr[AGORA_WIRE_HDR];
    agora__frame_build(hdr, type, tag, payload, len);
    return send_sealed(fd, hdr, payload, len, deadline, rate);
}

agora_err agora__send_frame_s(int fd, agora__session *s, uint8_t type, uint64_t tag,
                              const void *payload, uint32_t len, int64_t deadline) {
    uint8_t hdr[AGORA_WIRE_HDR];
    agora__session_seal(s, hdr, type, tag, payload, len);
    return send_sealed(fd, hdr, payload, len, deadline, NULL);
}

agora_err agora__send_frame(int fd, uint8_t type, uint64_t tag, const void *payload, uint32_t len,
                            int64_t deadline) {
    return agora__send_frame_rate(fd, type, tag, payload, len, deadline, NULL);
}

agora_err agora__recv_frame_s(int fd, agora__session *s, agora_frame_hdr *hdr, uint8_t *payload,
                              size_t cap, int64_t deadline, int wake_fd) {
    uint8_t raw[AGORA_WIRE_HDR];
    AGORA_TRY(agora__recv_all_w(fd, raw, AGORA_WIRE_HDR, deadline, wake_fd));
    AGORA_TRY(agora__hdr_decode(raw, hdr));
    if (hdr->length > cap)
        return AGORA_EOVERFLOW;
    agora_err rc = agora__recv_all_w(fd, payload, hdr->length, deadline, -1);
    if (rc == AGORA_ETIMEDOUT)
        return AGORA_ETRUNCATED; /* mid-frame: the stream cannot be resumed */
    AGORA_TRY(rc);
    return agora__session_check(s, raw, hdr, payload);
}

agora_err agora__recv_frame(int fd, agora_frame_hdr *hdr, uint8_t *payload, size_t cap,
                            int64_t deadline, int wake_fd) {
    return agora__recv_frame_s(fd, NULL, hdr, payload, cap, deadline, wake_fd);
}

agora_err agora__send_frame_keyed(int fd, const uint8_t *key, const agora__fpos *pos, uint8_t type,
                                  uint64_t tag, const void *payload, uint32_t len, int64_t deadline,
                                  agora__rate *rate) {
    uint8_t hdr[AGORA_WIRE_HDR];
    agora__frame_hdr_prefix(hdr, type, key ? AGORA_FRAME_F_MAC : 0, tag, len);
    agora__put_le64(hdr + 24, agora__fh_frame(key, pos, hdr, payload, len));
    return send_sealed(fd, hdr, payload, len, deadline, rate);
}

agora_err agora__recv_frame_keyed(int fd, const uint8_t *key, const agora__fpos *pos,
                                  agora_frame_hdr *hdr, uint8_t *payload, size_t cap,
                                  int64_t deadline) {
    uint8_t raw[AGORA_WIRE_HDR];
    AGORA_TRY(agora__recv_all_w(fd, raw, AGORA_WIRE_HDR, deadline, -1));
    AGORA_TRY(agora__hdr_decode(raw, hdr));
    if (hdr->length > cap)
        return AGORA_EOVERFLOW;
    if (((hdr->flags & AGORA_FRAME_F_MAC) != 0) != (key != NULL))
        return AGORA_EPROTO;
    agora_err rc = agora__recv_all_w(fd, payload, hdr->length, deadline, -1);
    if (rc == AGORA_ETIMEDOUT)
        return AGORA_ETRUNCATED;
    AGORA_TRY(rc);
    return agora__fh_frame(key, pos, raw, payload, hdr->length) == hdr->checksum ? AGORA_OK
                                                                                 : AGORA_ECHECKSUM;
}
