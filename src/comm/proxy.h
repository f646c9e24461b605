/* proxy.h: a fault-injecting TCP proxy for tests and benchmarks (`agora fault-proxy`,
 * `agora comm-bench --cap-mbps`). The kernel here has no netem, so latency, a bandwidth
 * cap, stalls and resets are injected in user space.
 *
 * One proxy listens on one port and forwards every accepted connection to one upstream
 * address. The bandwidth cap is a token bucket shared by all connections and both
 * directions, so a proxy in front of a peer's listener caps that peer's ingress.
 */
#ifndef AGORA_COMM_PROXY_H
#define AGORA_COMM_PROXY_H

#include <stdint.h>

#include "agora/err.h"

typedef struct agora_proxy_opts {
    uint32_t listen_ipv4; /* host byte order; 0 -> 127.0.0.1 */
    uint16_t listen_port; /* 0: any */
    uint32_t to_ipv4;
    uint16_t to_port; /* may be set later with agora__proxy_set_target */
    double mbps;      /* cap in Mbit/s over everything forwarded; 0: none */
    int32_t latency_ms;
    int64_t stall_after_bytes; /* < 0: never; else pause forwarding for stall_ms once */
    int32_t stall_ms;
    int64_t reset_after_bytes; /* < 0: never; else reset every connection (RST) once */
} agora_proxy_opts;

typedef struct agora_proxy agora_proxy;

agora_err agora__proxy_create(const agora_proxy_opts *o, agora_proxy **out);
uint16_t agora__proxy_port(const agora_proxy *p);
void agora__proxy_set_target(agora_proxy *p, uint32_t ipv4, uint16_t port);
/* Serves until agora__proxy_interrupt (async-signal-safe). */
agora_err agora__proxy_run(agora_proxy *p);
void agora__proxy_interrupt(agora_proxy *p);
/* Bytes forwarded so far (any thread). */
uint64_t agora__proxy_forwarded(const agora_proxy *p);
void agora__proxy_destroy(agora_proxy *p);

#endif /* AGORA_COMM_PROXY_H */
