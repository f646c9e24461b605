/* sstate.c: a peer's side of shared-state sync (spec §9).
 *
 * Implements: hashing each named tensor (XXH3-64), reporting (revision, names, counts,
 * hashes) to the master, and then either serving the elected tensors to the pullers the
 * master assigned, or pulling the differing tensors from the assigned donor and checking
 * each against its elected hash before it overwrites the caller's tensor (local tensors,
 * which differ between members by design, are neither hashed nor voted on: an outdated
 * member pulls them with the rest, covered by the frame checksum or, with data MACs on,
 * by a MAC under a key fresh for each pull).
 * Does not: elect (coord_ss.c). In steady state no tensor byte moves.
 */
#include <poll.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/auth.h"
#include "comm/net.h"
#include "comm/peer.h"

#define SS_STREAM_ID 0xffffffffu
#define SS_MAX 4096u

static agora_err check_tensors(const agora_shared_tensor *t, size_t n) {
    if (n > SS_MAX || (n > 0 && t == NULL))
        return AGORA_EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t len = t[i].name ? strlen(t[i].name) : 0;
        if (len == 0 || len > 63 || (t[i].count > 0 && t[i].data == NULL))
            return AGORA_EINVAL;
        if (t[i].count > (AGORA_WIRE_MAX_DATA - 128) / sizeof(float))
            return AGORA_EOVERFLOW;
        for (size_t k = 0; k < i; k++)
            if (strcmp(t[k].name, t[i].name) == 0)
                return AGORA_EINVAL;
    }
    return AGORA_OK;
}

static agora_shared_tensor *find(agora_shared_tensor *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

static agora_err report(agora_comm *c, agora_shared_tensor *t, size_t n, uint64_t rev,
                        agora_ss_strategy strategy, int64_t deadline) {
    size_t cap = 17 + n * (2 + 63 + 16 + 1);
    uint8_t *buf = agora_malloc(cap);
    if (buf == NULL)
        return AGORA_ENOMEM;
    agora_wbuf w = {buf, 0, cap, false};
    agora__w_u64(&w, rev);
    agora__w_u8(&w, (uint8_t)strategy);
    agora__w_u32(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        agora__w_str(&w, t[i].name);
        agora__w_u64(&w, (uint64_t)t[i].count);
        agora__w_u64(&w, t[i].local ? 0 : agora_hash64(t[i].data, t[i].count * sizeof(float)));
        agora__w_u8(&w, t[i].local ? AGORA__SS_LOCAL : 0);
    }
    agora_err rc = agora__peer_send(c, AGORA_MSG_P2C_SS_SYNC, &w, deadline);
    agora_free(buf);
    return rc;
}

// ---- donor ----

static agora_err serve_one(agora_comm *c, int fd, agora_shared_tensor *t, size_t n, uint64_t rev,
                           int64_t deadline, uint64_t *tx) {
    uint8_t *req = agora_malloc(AGORA_WIRE_MAX_CTRL);
    if (req == NULL)
        return AGORA_ENOMEM;
    agora_frame_hdr h;
    agora_err rc = agora__recv_frame(fd, &h, req, AGORA_WIRE_MAX_CTRL, deadline, -1);
    if (rc == AGORA_OK && h.type != AGORA_MSG_P2P_SS_REQ)
        rc = AGORA_EPROTO;
    if (rc != AGORA_OK) {
        agora_free(req);
        return rc;
    }
    agora_rbuf r = {req, h.length, 0, false};
    uint64_t epoch = agora__r_u64(&r), from = agora__r_u64(&r);
    uint8_t mac[AGORA_AUTH_MAC], want[AGORA_AUTH_MAC], nonce[AGORA_AUTH_NONCE];
    uint8_t key[AGORA_COMM_KEY_BYTES];
    agora__r_bytes(&r, mac, sizeof mac);
    agora__r_bytes(&r, nonce, sizeof nonce);
    uint32_t k = agora__r_u32(&r);
    agora__auth_p2p(c->ring_key, epoch, from, SS_STREAM_ID, want);
    if (rc == AGORA_OK && (r.bad || memcmp(mac, want, sizeof mac) != 0 || epoch != c->epoch))
        rc = AGORA_EAUTH;
    agora__ss_key(c->ring_key, nonce, key); /* the puller's fresh nonce: no replays */
    for (uint32_t i = 0; rc == AGORA_OK && i < k; i++) {
        char name[64];
        agora__r_str(&r, name, sizeof name);
        agora_shared_tensor *x = r.bad ? NULL : find(t, n, name);
        if (x == NULL) {
            rc = AGORA_EPROTO;
            break;
        }
        size_t body = 2 + strlen(name) + 8 + x->count * sizeof(float);
        uint8_t head[2 + 63 + 8];
        agora_wbuf w = {head, 0, sizeof head, false};
        agora__w_str(&w, name);
        agora__w_u64(&w, (uint64_t)x->count);
        /* header checksum covers head and data: hash them as one message */
        uint8_t *msg = agora_malloc(body);
        if (msg == NULL) {
            rc = AGORA_ENOMEM;
            break;
        }
        memcpy(msg, head, w.len);
        memcpy(msg + w.len, x->data, x->count * sizeof(float));
        agora__fpos pos = {rev, 2, 0, 0, i};
        rc = agora__send_frame_keyed(fd, c->data_mac ? key : NULL, &pos, AGORA_MSG_P2P_SS_DATA,
                                     epoch, msg, (uint32_t)body, deadline, &c->rate);
        agora_free(msg);
        *tx += x->count * sizeof(float);
    }
    agora_free(req);
    agora__auth_wipe(key, sizeof key);
    return rc;
}

/* Accepts n_serve pullers. A verdict that arrives early (a member died) ends serving. */
static agora_err serve(agora_comm *c, agora_shared_tensor *t, size_t n, uint32_t n_serve,
                       uint64_t rev, int64_t deadline, uint64_t *tx, bool *early,
                       agora_err *early_v) {
    for (uint32_t done = 0; done < n_serve;) {
        struct pollfd pf[3] = {
            {c->lfd, POLLIN, 0}, {c->mfd, POLLIN, 0}, {agora__peer_wake_fd(c), POLLIN, 0}};
        if (agora_deadline_passed(deadline))
            return AGORA_ETIMEDOUT;
        int32_t ms = agora_deadline_left_ms(deadline);
        if (poll(pf, 3, ms > 0 ? ms : 1) <= 0)
            continue;
        if (pf[2].revents)
            return AGORA_EABORTED;
        if (pf[1].revents) {
            AGORA_TRY(agora__peer_recv(c, agora_deadline_in_ms(1000)));
            if (c->mhdr.type == AGORA_MSG_C2P_SS_VERDICT) {
                agora_rbuf r = {c->mbuf, c->mhdr.length, 0, false};
                *early = true;
                *early_v = (agora_err)agora__r_u32(&r);
                return AGORA_OK;
            }
            continue;
        }
        int fd = -1;
        if (agora__tcp_accept(c->lfd, deadline, &fd, NULL) != AGORA_OK)
            continue;
        agora_err rc = serve_one(c, fd, t, n, rev, deadline, tx);
        agora__sock_close(&fd);
        if (rc != AGORA_OK)
            AGORA_LOG_WARN(AGORA_SUB_COMM, "shared state: serving a puller failed: %s",
                           agora_err_name(rc));
        done++; /* a failed puller reports its own error */
    }
    return AGORA_OK;
}

// ---- puller ----

static agora_err pull(agora_comm *c, agora_shared_tensor *t, size_t n, uint32_t ipv4, uint16_t port,
                      agora_rbuf *plan, uint32_t n_pull, int64_t deadline, agora_sync_info *info) {
    char(*names)[64] = agora_calloc(n_pull ? n_pull : 1, sizeof *names);
    uint64_t *hashes = agora_calloc(n_pull ? n_pull : 1, sizeof *hashes);
    uint8_t *req = agora_malloc(AGORA_WIRE_MAX_CTRL);
    int fd = -1;
    uint8_t nonce[AGORA_AUTH_NONCE], key[AGORA_COMM_KEY_BYTES];
    agora__auth_nonce(nonce);
    agora__ss_key(c->ring_key, nonce, key);
    agora_err rc = (names && hashes && req) ? AGORA_OK : AGORA_ENOMEM;
    for (uint32_t i = 0; rc == AGORA_OK && i < n_pull; i++) {
        agora__r_str(plan, names[i], sizeof names[i]);
        hashes[i] = agora__r_u64(plan);
        if (plan->bad || find(t, n, names[i]) == NULL)
            rc = AGORA_EPROTO;
    }
    if (rc == AGORA_OK && agora__r_done(plan) != AGORA_OK)
        rc = AGORA_EPROTO;
    if (rc == AGORA_OK)
        rc = agora__tcp_connect(ipv4, port, deadline, &fd);
    if (rc == AGORA_OK) {
        agora_wbuf w = {req, 0, AGORA_WIRE_MAX_CTRL, false};
        uint8_t mac[AGORA_AUTH_MAC];
        agora__auth_p2p(c->ring_key, c->epoch, c->id, SS_STREAM_ID, mac);
        agora__w_u64(&w, c->epoch);
        agora__w_u64(&w, c->id);
        agora__w_bytes(&w, mac, sizeof mac);
        agora__w_bytes(&w, nonce, sizeof nonce);
        agora__w_u32(&w, n_pull);
        for (uint32_t i = 0; i < n_pull; i++)
            agora__w_str(&w, names[i]);
        rc = w.overflow ? AGORA_EOVERFLOW
                        : agora__send_frame(fd, AGORA_MSG_P2P_SS_REQ, c->epoch, req,
                                            (uint32_t)w.len, deadline);
    }
    for (uint32_t i = 0; rc == AGORA_OK && i < n_pull; i++) {
        agora_shared_tensor *x = find(t, n, names[i]);
        if (x == NULL) { /* checked while parsing the plan */
            rc = AGORA_EPROTO;
            break;
        }
        size_t body = 2 + strlen(names[i]) + 8 + x->count * sizeof(float);
        uint8_t *msg = agora_malloc(body ? body : 1);
        agora_frame_hdr h;
        agora__fpos pos = {info->revision, 2, 0, 0, i};
        rc = msg ? agora__recv_frame_keyed(fd, c->data_mac ? key : NULL, &pos, &h, msg, body,
                                           deadline)
                 : AGORA_ENOMEM;
        if (rc == AGORA_ECLOSED)
            rc = AGORA_EPEER_LOST;
        if (rc == AGORA_OK && (h.type != AGORA_MSG_P2P_SS_DATA || h.length != body))
            rc = AGORA_EPROTO;
        if (rc == AGORA_OK) {
            agora_rbuf r = {msg, body, 0, false};
            char nm[64];
            agora__r_str(&r, nm, sizeof nm);
            uint64_t cnt = agora__r_u64(&r);
            const uint8_t *data = msg + r.off;
            if (r.bad || strcmp(nm, names[i]) != 0 || cnt != x->count)
                rc = AGORA_EPROTO;
            else if (!x->local && agora_hash64(data, x->count * sizeof(float)) != hashes[i])
                rc = AGORA_EHASH;
            else {
                memcpy(x->data, data, x->count * sizeof(float));
                info->rx_bytes += x->count * sizeof(float);
                info->tensors_pulled++;
            }
        }
        agora_free(msg);
    }
    agora__sock_close(&fd);
    agora__auth_wipe(key, sizeof key);
    agora_free(names);
    agora_free(hashes);
    agora_free(req);
    return rc;
}

agora_err agora_comm_sync_shared_state(agora_comm *c, agora_shared_tensor *tensors, size_t n,
                                       uint64_t revision, int64_t deadline, agora_sync_info *info) {
    return agora_comm_sync_shared_state_ex(c, tensors, n, revision, AGORA_SS_ENFORCE_POPULAR,
                                           deadline, info);
}

agora_err agora_comm_sync_shared_state_ex(agora_comm *c, agora_shared_tensor *tensors, size_t n,
                                          uint64_t revision, agora_ss_strategy strategy,
                                          int64_t deadline, agora_sync_info *info) {
    agora_sync_info local_info;
    if (info == NULL)
        info = &local_info;
    memset(info, 0, sizeof *info);
    AGORA_TRY(check_tensors(tensors, n));
    if (agora__peer_busy(c))
        return AGORA_EINPROGRESS;
    if (agora__peer_is_aborted(c))
        return AGORA_EABORTED;
    if (agora_comm_async_error(c) != AGORA_OK)
        return AGORA_ECLOSED;
    if (c->world == 0)
        return AGORA_ESTATE;
    if (strategy < AGORA_SS_ENFORCE_POPULAR || strategy > AGORA_SS_SEND_ONLY)
        return AGORA_EINVAL;
    AGORA_TRY(report(c, tensors, n, revision, strategy, deadline));
    agora_rbuf r;
    AGORA_TRY(agora__peer_wait(c, AGORA_MSG_C2P_SS_PLAN, deadline, &r));
    agora_err err = (agora_err)agora__r_u32(&r);
    info->revision = agora__r_u64(&r);
    uint32_t ipv4 = agora__r_u32(&r);
    uint16_t port = agora__r_u16(&r);
    (void)agora__r_u64(&r); /* donor id, for logs */
    uint32_t n_serve = agora__r_u32(&r), n_pull = agora__r_u32(&r);
    if (r.bad)
        return AGORA_EPROTO;
    if (err != AGORA_OK && err != AGORA_ESHAPE)
        return err < AGORA__ERR_COUNT ? err : AGORA_EPROTO; /* no sync phase was opened */
    agora_err local = err;
    bool early = false;
    agora_err early_v = AGORA_OK;
    if (local == AGORA_OK && n_pull > 0)
        local = pull(c, tensors, n, ipv4, port, &r, n_pull, deadline, info);
    if (local == AGORA_OK && n_serve > 0)
        local = serve(c, tensors, n, n_serve, info->revision, deadline, &info->tx_bytes, &early,
                      &early_v);
    if (early)
        return local != AGORA_OK ? local : early_v;
    uint8_t b[4];
    agora_wbuf w = {b, 0, 4, false};
    agora__w_u32(&w, (uint32_t)local);
    int64_t grace = agora_deadline_in_ms(5000);
    AGORA_TRY(agora__peer_send(c, AGORA_MSG_P2C_SS_DONE, &w, deadline > grace ? deadline : grace));
    agora_err v =
        agora__peer_wait(c, AGORA_MSG_C2P_SS_VERDICT, deadline > grace ? deadline : grace, &r);
    if (v == AGORA_OK)
        v = (agora_err)agora__r_u32(&r);
    if (local == AGORA_OK && v == AGORA_OK && n_pull > 0)
        AGORA_LOG_INFO(AGORA_SUB_COMM, "shared state: pulled %u tensors (%llu bytes)",
                       info->tensors_pulled, (unsigned long long)info->rx_bytes);
    return local != AGORA_OK ? local : v;
}
