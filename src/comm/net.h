/* net.h: TCP sockets with deadlines (transport/tcp.c), and frame I/O on top of them.
 *
 * Every socket is non-blocking, close-on-exec and has TCP_NODELAY set; every wait is a
 * poll(2) bounded by an absolute monotonic deadline. Errors: AGORA_ETIMEDOUT (deadline),
 * AGORA_ECLOSED (orderly EOF, reset, broken pipe), AGORA_ECONNREFUSED, AGORA_EIO.
 */
#ifndef AGORA_COMM_NET_H
#define AGORA_COMM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "agora/err.h"
#include "comm/rate.h"
#include "comm/wire.h"

/* Resolves host (numeric IPv4 or a name) to an IPv4 address in host byte order. */
agora_err agora__ipv4_resolve(const char *host, uint32_t *ipv4);
agora_err agora__tcp_listen(uint32_t ipv4, uint16_t port, int *fd, uint16_t *bound);
agora_err agora__tcp_connect(uint32_t ipv4, uint16_t port, int64_t deadline, int *fd);
/* Waits for one connection on lfd. */
agora_err agora__tcp_accept(int lfd, int64_t deadline, int *fd, uint32_t *peer_ipv4);
/* Applies TCP_NODELAY, O_NONBLOCK, FD_CLOEXEC and keepalive (idle seconds). */
agora_err agora__sock_setup(int fd, int keepalive_idle_s);
void agora__sock_close(int *fd); /* sets *fd = -1; ignores -1 */

agora_err agora__send_all(int fd, const void *buf, size_t len, int64_t deadline);
agora_err agora__recv_all(int fd, void *buf, size_t len, int64_t deadline);
/* A wakeup fd (e.g. an abort pipe) may be watched too: -1 for none; when it becomes
 * readable the call returns AGORA_EABORTED. */
agora_err agora__recv_all_w(int fd, void *buf, size_t len, int64_t deadline, int wake_fd);

/* Sends one frame (header + payload). */
agora_err agora__send_frame(int fd, uint8_t type, uint64_t tag, const void *payload, uint32_t len,
                            int64_t deadline);
/* Same, under a send rate limit (rate.h; NULL: none). */
agora_err agora__send_frame_rate(int fd, uint8_t type, uint64_t tag, const void *payload,
                                 uint32_t len, int64_t deadline, agora__rate *rate);
/* Receives one control frame into payload (cap bytes). Validates the header, the length
 * against cap and the type bound before reading the payload, and the checksum after.
 * Returns AGORA_OK, AGORA_EPROTO, AGORA_EVERSION, AGORA_EOVERFLOW, AGORA_ECHECKSUM, or an
 * I/O error above. */
agora_err agora__recv_frame(int fd, agora_frame_hdr *hdr, uint8_t *payload, size_t cap,
                            int64_t deadline, int wake_fd);

/* The same on the master link, under its session (auth.h; NULL or not started: the plain
 * checksum): the frame is sealed with the session MAC, and a received one must carry the
 * next MAC (AGORA_EAUTH otherwise). The caller serializes senders and receivers. */
struct agora__session;
agora_err agora__send_frame_s(int fd, struct agora__session *s, uint8_t type, uint64_t tag,
                              const void *payload, uint32_t len, int64_t deadline);
agora_err agora__recv_frame_s(int fd, struct agora__session *s, agora_frame_hdr *hdr,
                              uint8_t *payload, size_t cap, int64_t deadline, int wake_fd);

/* Data frames between peers under a data key (auth.h, agora__fh_frame at pos; key NULL:
 * the XXH3 checksum). Sent with AGORA_FRAME_F_MAC when keyed; a received frame must carry
 * the flag exactly when key is set (AGORA_EPROTO otherwise) and the right value
 * (AGORA_ECHECKSUM otherwise). */
struct agora__fpos;
agora_err agora__send_frame_keyed(int fd, const uint8_t *key, const struct agora__fpos *pos,
                                  uint8_t type, uint64_t tag, const void *payload, uint32_t len,
                                  int64_t deadline, agora__rate *rate);
agora_err agora__recv_frame_keyed(int fd, const uint8_t *key, const struct agora__fpos *pos,
                                  agora_frame_hdr *hdr, uint8_t *payload, size_t cap,
                                  int64_t deadline);

#endif /* AGORA_COMM_NET_H */
