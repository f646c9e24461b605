/* coord.c: the coordinator (`agora master`): admission, registry, membership epochs,
 * failure detection, collective verdicts and the shared-state election.
 *
 * Implements: a single-threaded poll(2) loop over the listening socket and every peer
 * connection; PSK challenge-response; heartbeats stamped on arrival with this process's
 * CLOCK_MONOTONIC; the join queue, admitted only when every member votes in
 * agora_comm_update_topology(); two-phase all-or-nothing verdicts; re-evaluation of every
 * pending vote when a peer drops, so survivors never wait for a dead peer.
 * Does not: carry tensor data (peers move it over their own links, ring.c / sstate.c).
 *
 * Phases (one at a time): IDLE -> TOPO (waiting for members to confirm their new links)
 * -> IDLE; IDLE -> COLL (a collective runs; verdict when every live member completed)
 * -> IDLE; IDLE -> SS (shared-state sync; verdict when every member is done) -> IDLE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/comm.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/auth.h"
#include "comm/coord_int.h"
#include "comm/net.h"
#include "comm/wire.h"

// ---- helpers ----

mpeer *agora__coord_find(agora_master *m, uint64_t id) {
    for (size_t i = 0; i < m->n_peers; i++)
        if (m->peers[i]->id == id && m->peers[i]->state == PS_MEMBER)
            return m->peers[i];
    return NULL;
}

agora_err agora__coord_send(agora_master *m, mpeer *p, uint8_t type, uint64_t tag,
                            const agora_wbuf *w) {
    AGORA_ASSERT(w == NULL || !w->overflow); /* our buffers are sized for their messages */
    (void)m;
    if (p->fd < 0)
        return AGORA_ECLOSED;
    /* Control frames are small; a peer whose buffers stay full for a second is dropped. */
    agora_err rc = agora__send_frame_s(p->fd, &p->sess, type, tag, w ? w->p : NULL,
                                       w ? (uint32_t)w->len : 0, agora_deadline_in_ms(1000));
    if (rc != AGORA_OK) {
        AGORA_LOG_WARN(AGORA_SUB_COORD, "peer %llu: send %s failed: %s", (unsigned long long)p->id,
                       agora__msg_name(type), agora_err_name(rc));
        agora__sock_close(&p->fd); /* reaped in the next loop turn */
    }
    return rc;
}

static void send_u64_u32(agora_master *m, mpeer *p, uint8_t type, uint64_t a, uint32_t b) {
    uint8_t buf[12];
    agora_wbuf w = {buf, 0, sizeof buf, false};
    agora__w_u64(&w, a);
    agora__w_u32(&w, b);
    agora__coord_send(m, p, type, 0, &w);
}

static void send_u64_u8(agora_master *m, mpeer *p, uint8_t type, uint64_t a, uint8_t b) {
    uint8_t buf[9];
    agora_wbuf w = {buf, 0, sizeof buf, false};
    agora__w_u64(&w, a);
    agora__w_u8(&w, b);
    agora__coord_send(m, p, type, 0, &w);
}

static void publish_stats(agora_master *m) {
    atomic_store(&m->st_world, (uint32_t)m->n_members);
    atomic_store(&m->st_epoch, m->epoch);
}

// ---- topology ----

static size_t waiting_joiners(const agora_master *m) {
    size_t n = 0;
    for (size_t i = 0; i < m->n_peers; i++)
        if (m->peers[i]->state == PS_REG && m->peers[i]->topo_req && m->peers[i]->fd >= 0)
            n++;
    return n;
}

static void send_topo(agora_master *m, bool changed) {
    size_t cap = 32 + 33 + m->n_members * 14;
    uint8_t *buf = agora_malloc(cap);
    if (buf == NULL) {
        AGORA_LOG_ERROR(AGORA_SUB_COORD, "out of memory sending the topology");
        return;
    }
    uint32_t pool = 1;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p && p->pool > pool)
            pool = p->pool; /* every link uses the largest requested pool */
    }
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL)
            continue;
        agora_wbuf w = {buf, 0, cap, false};
        agora__w_u64(&w, m->epoch);
        agora__w_u8(&w, changed ? 1 : 0);
        agora__w_u32(&w, (uint32_t)r);
        agora__w_u32(&w, (uint32_t)m->n_members);
        agora__w_u32(&w, pool);
        agora__w_bytes(&w, m->ring_nonce, sizeof m->ring_nonce);
        agora__w_u8(&w, m->data_mac ? 1 : 0);
        for (size_t k = 0; k < m->n_members; k++) {
            mpeer *q = agora__coord_find(m, m->members[k]);
            agora__w_u64(&w, m->members[k]);
            agora__w_u32(&w, q ? q->ipv4 : 0);
            agora__w_u16(&w, q ? q->port : 0);
        }
        agora__coord_send(m, p, AGORA_MSG_C2P_TOPO, m->epoch, &w);
        p->topo_done = false;
        p->topo_ok = false;
    }
    agora_free(buf);
}

/* All members (and, with no members, the queue) voted: publish the next topology. */
static void check_topo(agora_master *m) {
    if (m->phase != PH_IDLE)
        return;
    size_t voters = 0;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL || p->fd < 0)
            return; /* a dead member not yet reaped: wait for the reaper */
        if (!p->topo_req)
            return;
        voters++;
    }
    size_t joiners = waiting_joiners(m);
    if (voters == 0 && joiners == 0)
        return;
    bool changed = m->dirty || m->broken || joiners > 0 || m->new_order != NULL;
    if (changed) {
        agora__coord_bw_apply_order(m); /* a measured order, survivors only */
        uint64_t *nm = agora_realloc(m->members, (m->n_members + joiners) * sizeof(uint64_t));
        if (nm == NULL)
            return; /* retried on the next event */
        m->members = nm;
        for (size_t i = 0; i < m->n_peers; i++) {
            mpeer *p = m->peers[i];
            if (p->state == PS_REG && p->topo_req && p->fd >= 0) {
                p->state = PS_MEMBER;
                m->members[m->n_members++] = p->id;
                AGORA_LOG_INFO(AGORA_SUB_COORD, "peer %llu admitted", (unsigned long long)p->id);
            }
        }
        m->epoch++;
        agora__auth_nonce(m->ring_nonce);
        m->data_mac = m->o.data_auth == AGORA_DATA_AUTH_MAC;
        for (size_t r = 0; r < m->n_members && m->o.data_auth == AGORA_DATA_AUTH_AUTO; r++) {
            mpeer *q = agora__coord_find(m, m->members[r]);
            if (q && (q->ipv4 >> 24) != 127)
                m->data_mac = true; /* a link leaves this host */
        }
        m->dirty = false;
        m->broken = true; /* until every member confirms its links */
        m->phase = PH_TOPO;
        m->phase_deadline = agora_deadline_in_ms(m->o.phase_timeout_ms);
        AGORA_LOG_INFO(AGORA_SUB_COORD, "epoch %llu: world %zu, ring data %s",
                       (unsigned long long)m->epoch, m->n_members,
                       m->data_mac ? "MACs" : "checksums");
    }
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p)
            p->topo_req = false;
    }
    send_topo(m, changed);
    publish_stats(m);
}

static void finish_topo(agora_master *m, bool ok) {
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p && p->fd >= 0)
            send_u64_u8(m, p, AGORA_MSG_C2P_TOPO_VERDICT, m->epoch, ok ? 1 : 0);
    }
    m->broken = !ok;
    m->phase = PH_IDLE;
    AGORA_LOG_INFO(AGORA_SUB_COORD, "epoch %llu links %s", (unsigned long long)m->epoch,
                   ok ? "up" : "failed");
}

static void check_topo_done(agora_master *m) {
    if (m->phase != PH_TOPO)
        return;
    bool ok = !m->dirty;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL || p->fd < 0) {
            ok = false;
            continue;
        }
        if (!p->topo_done)
            return;
        ok = ok && p->topo_ok;
    }
    finish_topo(m, ok);
}

// ---- collectives ----

static void coll_verdict_all(agora_master *m, uint32_t err) {
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p && p->fd >= 0)
            send_u64_u32(m, p, AGORA_MSG_C2P_VERDICT, m->seq, err);
        if (p) {
            p->initiated = false;
            p->completed = false;
        }
    }
}

static void coll_abort_all(agora_master *m, uint32_t err) {
    if (m->coll_abort_sent)
        return;
    m->coll_abort_sent = true;
    /* A healthy member stops within moments of an ABORT; one that has not completed
     * after phase_timeout_ms is evicted (the reaper), so the verdict cannot hang. */
    m->phase_deadline = agora_deadline_in_ms(m->o.phase_timeout_ms);
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p && p->fd >= 0 && !p->completed)
            send_u64_u32(m, p, AGORA_MSG_C2P_ABORT, m->seq, err);
    }
}

static void check_initiate(agora_master *m) {
    if (m->phase != PH_IDLE || m->n_members == 0)
        return;
    if (m->dirty || m->broken) { /* a member left after some initiated */
        for (size_t r = 0; r < m->n_members; r++) {
            mpeer *p = agora__coord_find(m, m->members[r]);
            if (p && p->initiated && p->fd >= 0)
                send_u64_u32(m, p, AGORA_MSG_C2P_VERDICT, 0, AGORA_EPEER_LOST);
            if (p)
                p->initiated = false;
        }
        return;
    }
    mpeer *first = NULL;
    uint32_t contributors = 0;
    bool mismatch = false;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL || p->fd < 0 || !p->initiated)
            return;
        if (first == NULL)
            first = p;
        else if (p->count != first->count || p->op != first->op || p->codec != first->codec)
            mismatch = true;
        contributors += p->contributes ? 1u : 0u;
    }
    m->seq++;
    if (mismatch) {
        AGORA_LOG_WARN(AGORA_SUB_COORD, "collective %llu: peers disagree on count/op/codec",
                       (unsigned long long)m->seq);
        coll_verdict_all(m, AGORA_EINVAL);
        atomic_fetch_add(&m->st_failed, 1);
        return;
    }
    m->phase = PH_COLL;
    m->coll_err = AGORA_OK;
    m->coll_abort_sent = false;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL)
            continue; /* cannot happen: checked above */
        uint8_t b[20];
        agora_wbuf w = {b, 0, sizeof b, false};
        agora__w_u64(&w, m->seq);
        agora__w_u32(&w, contributors);
        agora__w_u64(&w, p->init_nonce);
        agora__coord_send(m, p, AGORA_MSG_C2P_COMMENCE, 0, &w);
        p->completed = false;
    }
}

static void check_complete(agora_master *m) {
    if (m->phase != PH_COLL)
        return;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p != NULL && p->fd >= 0 && !p->completed)
            return;
    }
    uint32_t err = m->coll_err;
    if (err == AGORA_OK && m->dirty)
        err = AGORA_EPEER_LOST;
    coll_verdict_all(m, err);
    if (err != AGORA_OK) {
        m->broken = true; /* links may hold half-sent data: rebuild before the next one */
        atomic_fetch_add(&m->st_failed, 1);
    } else {
        atomic_fetch_add(&m->st_ok, 1);
    }
    m->phase = PH_IDLE;
}

/* A member in update_topology while another initiates a collective would wait forever:
 * fail both sides at once. */
static void check_conflict(agora_master *m) {
    if (m->phase != PH_IDLE)
        return;
    bool any_topo = false, any_init = false, any_ss = false, any_bw = false;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL)
            continue;
        any_topo |= p->topo_req;
        any_init |= p->initiated;
        any_ss |= p->ss.sent;
        any_bw |= p->bw_req;
    }
    if ((int)any_topo + (int)any_init + (int)any_ss + (int)any_bw < 2)
        return;
    AGORA_LOG_WARN(AGORA_SUB_COORD,
                   "members disagree on the next phase (topology %d, reduce %d, "
                   "shared state %d): failing all of them",
                   any_topo, any_init, any_ss);
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL || p->fd < 0)
            continue;
        if (p->topo_req)
            send_u64_u8(m, p, AGORA_MSG_C2P_TOPO_VERDICT, m->epoch, 0);
        if (p->initiated)
            send_u64_u32(m, p, AGORA_MSG_C2P_VERDICT, 0, AGORA_ESTATE);
        if (p->ss.sent)
            agora__coord_ss_reject(m, p, AGORA_ESTATE);
        if (p->bw_req) {
            uint8_t b[4];
            agora_wbuf w = {b, 0, 4, false};
            agora__w_u32(&w, AGORA_ESTATE);
            agora__coord_send(m, p, AGORA_MSG_C2P_BW_DONE, m->epoch, &w);
            p->bw_req = false;
        }
        p->topo_req = p->initiated = false;
    }
}

static void reevaluate(agora_master *m) {
    check_conflict(m);
    check_topo_done(m);
    check_complete(m);
    agora__coord_ss_check(m);
    agora__coord_bw_check(m);
    check_topo(m);
    check_initiate(m);
    agora__coord_ss_check(m);
    agora__coord_bw_check(m);
}

// ---- peer lifecycle ----

static void drop_peer(agora_master *m, size_t idx, const char *why) {
    mpeer *p = m->peers[idx];
    if (p->state == PS_MEMBER) {
        AGORA_LOG_INFO(AGORA_SUB_COORD, "member %llu removed: %s", (unsigned long long)p->id, why);
        size_t k = 0;
        for (size_t r = 0; r < m->n_members; r++)
            if (m->members[r] != p->id)
                m->members[k++] = m->members[r];
        m->n_members = k;
        m->dirty = true;
        if (m->phase == PH_COLL) {
            if (m->coll_err == AGORA_OK)
                m->coll_err = AGORA_EPEER_LOST;
        }
    } else {
        AGORA_LOG_DEBUG(AGORA_SUB_COORD, "peer %llu dropped: %s", (unsigned long long)p->id, why);
    }
    agora__sock_close(&p->fd);
    agora_free(p->payload);
    agora__ss_vote_clear(&p->ss);
    agora__coord_bw_clear(p);
    agora__session_end(&p->sess);
    agora_free(p);
    m->peers[idx] = m->peers[--m->n_peers];
    publish_stats(m);
    if (m->phase == PH_COLL)
        coll_abort_all(m, AGORA_EPEER_LOST);
    if (m->phase == PH_SS)
        agora__coord_ss_peer_lost(m);
}

// ---- message handlers ----

static agora_err on_hello(agora_master *m, mpeer *p, agora_rbuf *r) {
    uint32_t version = agora__r_u32(r);
    p->pool = agora__r_u32(r);
    p->port = agora__r_u16(r);
    p->ipv4 = agora__r_u32(r);
    AGORA_TRY(agora__r_done(r));
    if (p->ipv4 == 0) /* listening on every interface: others reach it where we see it */
        p->ipv4 = p->src_ipv4;
    if (version != AGORA_WIRE_VERSION) {
        uint8_t b[4];
        agora_wbuf w = {b, 0, 4, false};
        agora__w_u32(&w, AGORA_EVERSION);
        agora__coord_send(m, p, AGORA_MSG_C2P_REJECT, 0, &w);
        return AGORA_EVERSION;
    }
    if (p->pool == 0 || p->pool > 64 || p->port == 0)
        return AGORA_EPROTO;
    agora__auth_nonce(p->nonce);
    agora_wbuf w = {p->nonce, AGORA_AUTH_NONCE, AGORA_AUTH_NONCE, false};
    p->state = PS_CHALLENGED;
    return agora__coord_send(m, p, AGORA_MSG_C2P_CHALLENGE, 0, &w);
}

static agora_err on_auth(agora_master *m, mpeer *p, agora_rbuf *r) {
    uint8_t mac[AGORA_AUTH_MAC], nonce_p[AGORA_AUTH_NONCE];
    agora__r_bytes(r, mac, sizeof mac);
    agora__r_bytes(r, nonce_p, sizeof nonce_p);
    AGORA_TRY(agora__r_done(r));
    if (agora__auth_verify(m->o.key, "agora/v1/peer", p->nonce, AGORA_AUTH_NONCE, mac) !=
        AGORA_OK) {
        uint8_t b[4];
        agora_wbuf w = {b, 0, 4, false};
        agora__w_u32(&w, AGORA_EAUTH);
        agora__coord_send(m, p, AGORA_MSG_C2P_REJECT, 0, &w);
        AGORA_LOG_WARN(AGORA_SUB_COORD, "a peer failed authentication");
        return AGORA_EAUTH;
    }
    p->id = ++m->next_id;
    p->state = PS_REG;
    uint8_t buf[44];
    agora_wbuf w = {buf, 0, sizeof buf, false};
    agora__w_u64(&w, p->id);
    uint8_t mmac[AGORA_AUTH_MAC];
    agora__auth_mac(m->o.key, "agora/v1/master", nonce_p, sizeof nonce_p, mmac);
    agora__w_bytes(&w, mmac, sizeof mmac);
    agora__w_u32(&w, (uint32_t)m->o.heartbeat_interval_ms);
    AGORA_LOG_INFO(AGORA_SUB_COORD, "peer %llu registered", (unsigned long long)p->id);
    AGORA_TRY(agora__coord_send(m, p, AGORA_MSG_C2P_WELCOME, 0, &w));
    agora__session_start(&p->sess, m->o.key, p->nonce, nonce_p, true);
    return AGORA_OK;
}

static agora_err on_frame(agora_master *m, mpeer *p) {
    agora_rbuf r = {p->payload, p->hdr.length, 0, false};
    uint8_t t = p->hdr.type;
    if (p->state == PS_HELLO)
        return t == AGORA_MSG_P2C_HELLO ? on_hello(m, p, &r) : AGORA_EPROTO;
    if (p->state == PS_CHALLENGED)
        return t == AGORA_MSG_P2C_AUTH ? on_auth(m, p, &r) : AGORA_EPROTO;
    switch (t) {
    case AGORA_MSG_P2C_HEARTBEAT:
        return agora__r_done(&r);
    case AGORA_MSG_P2C_LEAVE:
        p->left = true;
        return AGORA_ECLOSED; /* the deathrattle: drop now, without waiting for a timeout */
    case AGORA_MSG_P2C_PENDING_REQ: {
        AGORA_TRY(agora__r_done(&r));
        uint8_t b[4];
        agora_wbuf w = {b, 0, 4, false};
        agora__w_u32(&w, (uint32_t)waiting_joiners(m));
        return agora__coord_send(m, p, AGORA_MSG_C2P_PENDING, 0, &w);
    }
    case AGORA_MSG_P2C_TOPO_REQ:
        (void)agora__r_u64(&r);
        AGORA_TRY(agora__r_done(&r));
        p->topo_req = true;
        return AGORA_OK;
    case AGORA_MSG_P2C_TOPO_DONE: {
        uint64_t ep = agora__r_u64(&r);
        uint8_t ok = agora__r_u8(&r);
        AGORA_TRY(agora__r_done(&r));
        if (p->state == PS_MEMBER && m->phase == PH_TOPO && ep == m->epoch) {
            p->topo_done = true;
            p->topo_ok = ok != 0;
        }
        return AGORA_OK;
    }
    case AGORA_MSG_P2C_INITIATE: {
        uint64_t ep = agora__r_u64(&r);
        uint64_t count = agora__r_u64(&r);
        uint8_t op = agora__r_u8(&r), codec = agora__r_u8(&r), contrib = agora__r_u8(&r);
        uint64_t nonce = agora__r_u64(&r);
        AGORA_TRY(agora__r_done(&r));
        uint32_t err = AGORA_OK;
        if (p->state != PS_MEMBER)
            err = AGORA_ESTATE;
        else if (ep != m->epoch || m->dirty || m->broken || m->phase != PH_IDLE)
            err = AGORA_EPEER_LOST; /* membership moved: update the topology first */
        if (err != AGORA_OK) {
            send_u64_u32(m, p, AGORA_MSG_C2P_VERDICT, 0, err);
            return AGORA_OK;
        }
        p->initiated = true;
        p->count = count;
        p->op = op;
        p->codec = codec;
        p->contributes = contrib;
        p->init_nonce = nonce;
        return AGORA_OK;
    }
    case AGORA_MSG_P2C_COMPLETE: {
        uint64_t seq = agora__r_u64(&r);
        uint32_t err = agora__r_u32(&r);
        AGORA_TRY(agora__r_done(&r));
        if (seq == 0 && p->state == PS_MEMBER) { /* withdrawn: gave up waiting for COMMENCE */
            if (m->phase == PH_IDLE) {
                p->initiated = false;
                return AGORA_OK;
            }
            seq = m->seq;
            if (err == AGORA_OK)
                err = AGORA_ETIMEDOUT;
        }
        if (m->phase == PH_COLL && seq == m->seq && p->state == PS_MEMBER && !p->completed) {
            p->completed = true;
            p->complete_err = err;
            if (err != AGORA_OK) {
                if (m->coll_err == AGORA_OK)
                    m->coll_err = err;
                coll_abort_all(m, err);
            }
        }
        return AGORA_OK;
    }
    case AGORA_MSG_P2C_SS_SYNC:
        return agora__coord_ss_on_sync(m, p->id, &r);
    case AGORA_MSG_P2C_SS_DONE:
        return agora__coord_ss_on_done(m, p->id, &r);
    case AGORA_MSG_P2C_BW_REQ:
        AGORA_TRY(agora__r_done(&r));
        if (p->state != PS_MEMBER) {
            uint8_t b[4];
            agora_wbuf w = {b, 0, 4, false};
            agora__w_u32(&w, AGORA_ESTATE);
            return agora__coord_send(m, p, AGORA_MSG_C2P_BW_DONE, m->epoch, &w);
        }
        p->bw_req = true;
        return AGORA_OK;
    case AGORA_MSG_P2C_BW_REPORT:
        return agora__coord_bw_on_report(m, p, &r);
    case AGORA_MSG_P2C_BW_PASSIVE:
        return agora__coord_bw_on_passive(m, p, &r);
    default:
        return AGORA_EPROTO;
    }
}

/* Reads what is available; returns AGORA_OK, or an error that drops the peer. */
static agora_err pump_peer(agora_master *m, mpeer *p) {
    for (;;) {
        if (p->hdr_have < AGORA_WIRE_HDR) {
            ssize_t n = read(p->fd, p->hdr_raw + p->hdr_have, AGORA_WIRE_HDR - p->hdr_have);
            if (n == 0)
                return AGORA_ECLOSED;
            if (n < 0)
                return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? AGORA_OK
                                                                                   : AGORA_ECLOSED;
            p->hdr_have += (size_t)n;
            if (p->hdr_have < AGORA_WIRE_HDR)
                continue;
            AGORA_TRY(agora__hdr_decode(p->hdr_raw, &p->hdr));
            /* only peer-to-coordinator types, bounded before any allocation */
            if (strncmp(agora__msg_name(p->hdr.type), "P2C_", 4) != 0)
                return AGORA_EPROTO;
            p->payload = agora_malloc(p->hdr.length ? p->hdr.length : 1);
            if (p->payload == NULL)
                return AGORA_ENOMEM;
            p->pay_have = 0;
        }
        if (p->pay_have < p->hdr.length) {
            ssize_t n = read(p->fd, p->payload + p->pay_have, p->hdr.length - p->pay_have);
            if (n == 0)
                return AGORA_ECLOSED;
            if (n < 0)
                return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? AGORA_OK
                                                                                   : AGORA_ECLOSED;
            p->pay_have += (size_t)n;
            if (p->pay_have < p->hdr.length)
                continue;
        }
        agora_err ck = agora__session_check(&p->sess, p->hdr_raw, &p->hdr, p->payload);
        if (ck != AGORA_OK) {
            if (ck == AGORA_EAUTH)
                AGORA_LOG_WARN(AGORA_SUB_COORD, "peer %llu: a %s frame failed its MAC; dropped",
                               (unsigned long long)p->id, agora__msg_name(p->hdr.type));
            return ck;
        }
        p->last_seen = agora_now_ns();
        agora_err rc = on_frame(m, p);
        agora_free(p->payload);
        p->payload = NULL;
        p->hdr_have = 0;
        if (rc != AGORA_OK || p->fd < 0)
            return rc != AGORA_OK ? rc : AGORA_ECLOSED;
    }
}

static void accept_new(agora_master *m) {
    for (;;) {
        int fd = -1;
        uint32_t src = 0;
        if (agora__tcp_accept(m->lfd, 0, &fd, &src) != AGORA_OK)
            return;
        if (m->n_peers == m->cap_peers) {
            size_t nc = m->cap_peers ? 2 * m->cap_peers : 16;
            mpeer **np = agora_realloc(m->peers, nc * sizeof *np);
            if (np == NULL) {
                close(fd);
                return;
            }
            m->peers = np;
            m->cap_peers = nc;
        }
        mpeer *p = agora_calloc(1, sizeof *p);
        if (p == NULL) {
            close(fd);
            return;
        }
        p->fd = fd;
        p->src_ipv4 = src;
        p->state = PS_HELLO;
        p->last_seen = agora_now_ns();
        m->peers[m->n_peers++] = p;
    }
}

// ---- public ----

agora_err agora_master_create(const agora_master_opts *opts, agora_master **out) {
    *out = NULL;
    if (opts == NULL)
        return AGORA_EINVAL;
    AGORA_TRY(agora__auth_init());
    if (opts->data_auth < AGORA_DATA_AUTH_AUTO || opts->data_auth > AGORA_DATA_AUTH_CHECKSUM)
        return AGORA_EINVAL;
    agora_master *m = agora_calloc(1, sizeof *m);
    if (m == NULL)
        return AGORA_ENOMEM;
    m->o = *opts;
    if (m->o.heartbeat_interval_ms <= 0)
        m->o.heartbeat_interval_ms = 500;
    if (m->o.heartbeat_timeout_ms <= 0)
        m->o.heartbeat_timeout_ms = 5000;
    if (m->o.phase_timeout_ms <= 0)
        m->o.phase_timeout_ms = 30000;
    m->lfd = m->wake[0] = m->wake[1] = -1;
    uint32_t ip;
    agora_err rc = agora__ipv4_resolve(opts->bind_host, &ip);
    if (rc == AGORA_OK)
        rc = agora__tcp_listen(ip, opts->port, &m->lfd, &m->port);
    if (rc == AGORA_OK && pipe(m->wake) != 0)
        rc = AGORA_EIO;
    if (rc == AGORA_OK) {
        (void)fcntl(m->wake[0], F_SETFL, O_NONBLOCK);
        (void)fcntl(m->wake[1], F_SETFL, O_NONBLOCK);
    }
    m->o.bind_host = NULL; /* not owned */
    if (rc != AGORA_OK) {
        agora_master_destroy(m);
        return rc;
    }
    *out = m;
    return AGORA_OK;
}

uint16_t agora_master_port(const agora_master *m) {
    return m->port;
}

void agora_master_interrupt(agora_master *m) {
    atomic_store(&m->stop, 1);
    if (m->wake[1] >= 0) {
        ssize_t w = write(m->wake[1], "x", 1);
        (void)w;
    }
}

void agora_master_stats(const agora_master *m, uint32_t *world, uint64_t *epoch,
                        uint64_t *collectives_ok, uint64_t *collectives_failed) {
    agora_master *mm = (agora_master *)(uintptr_t)m; /* atomics need a non-const object */
    if (world)
        *world = atomic_load(&mm->st_world);
    if (epoch)
        *epoch = atomic_load(&mm->st_epoch);
    if (collectives_ok)
        *collectives_ok = atomic_load(&mm->st_ok);
    if (collectives_failed)
        *collectives_failed = atomic_load(&mm->st_failed);
}

static void reap_and_time_out(agora_master *m) {
    int64_t now = agora_now_ns();
    int64_t hb = (int64_t)m->o.heartbeat_timeout_ms * 1000000;
    for (size_t i = m->n_peers; i-- > 0;) {
        mpeer *p = m->peers[i];
        if (p->fd < 0)
            drop_peer(m, i,
                      p->left     ? "left (deathrattle)"
                      : p->kicked ? "kicked (SEND_ONLY with another shared state)"
                                  : "connection lost");
        else if (now - p->last_seen > hb)
            drop_peer(m, i, p->state >= PS_REG ? "heartbeat timeout" : "handshake timeout");
    }
    if (m->phase == PH_COLL && m->coll_abort_sent && agora_deadline_passed(m->phase_deadline)) {
        for (size_t i = m->n_peers; i-- > 0;) {
            mpeer *p = m->peers[i];
            if (p->state == PS_MEMBER && !p->completed) {
                AGORA_LOG_WARN(AGORA_SUB_COORD, "member %llu did not complete after an abort",
                               (unsigned long long)p->id);
                drop_peer(m, i, "no completion after abort");
            }
        }
    }
    if (m->phase == PH_TOPO && agora_deadline_passed(m->phase_deadline)) {
        AGORA_LOG_WARN(AGORA_SUB_COORD, "epoch %llu: links not confirmed in time",
                       (unsigned long long)m->epoch);
        finish_topo(m, false);
    }
}

agora_err agora_master_run(agora_master *m) {
    struct pollfd *pf = NULL;
    size_t pf_cap = 0;
    agora_err rc = AGORA_OK;
    while (!atomic_load(&m->stop)) {
        if (pf_cap < m->n_peers + 2) {
            pf_cap = 2 * (m->n_peers + 2);
            struct pollfd *np = agora_realloc(pf, pf_cap * sizeof *pf);
            if (np == NULL) {
                rc = AGORA_ENOMEM;
                break;
            }
            pf = np;
        }
        pf[0] = (struct pollfd){m->lfd, POLLIN, 0};
        pf[1] = (struct pollfd){m->wake[0], POLLIN, 0};
        size_t np = m->n_peers;
        for (size_t i = 0; i < np; i++)
            pf[2 + i] = (struct pollfd){m->peers[i]->fd, POLLIN, 0};
        int tick = m->o.heartbeat_interval_ms < 100 ? m->o.heartbeat_interval_ms : 100;
        int r = poll(pf, (nfds_t)(np + 2), tick);
        if (r < 0 && errno != EINTR) {
            rc = AGORA_EIO;
            break;
        }
        if (r > 0) {
            /* peers first: indexes shift only when drop_peer runs (in the reaper) */
            for (size_t i = 0; i < np; i++) {
                mpeer *p = m->peers[i];
                if (pf[2 + i].revents == 0 || p->fd < 0)
                    continue;
                agora_err e = pump_peer(m, p);
                if (e != AGORA_OK) {
                    if (e != AGORA_ECLOSED)
                        AGORA_LOG_WARN(AGORA_SUB_COORD, "peer %llu: %s, dropping",
                                       (unsigned long long)p->id, agora_err_name(e));
                    agora__sock_close(&p->fd);
                }
            }
            if (pf[0].revents)
                accept_new(m);
        }
        reap_and_time_out(m);
        reevaluate(m);
    }
    agora_free(pf);
    return rc;
}

void agora_master_destroy(agora_master *m) {
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_peers; i++) {
        agora__sock_close(&m->peers[i]->fd);
        agora_free(m->peers[i]->payload);
        agora__ss_vote_clear(&m->peers[i]->ss);
        agora__coord_bw_clear(m->peers[i]);
        agora__session_end(&m->peers[i]->sess);
        agora_free(m->peers[i]);
    }
    agora_free(m->peers);
    agora_free(m->members);
    agora_free(m->new_order);
    agora__sock_close(&m->lfd);
    agora__sock_close(&m->wake[0]);
    agora__sock_close(&m->wake[1]);
    agora_free(m);
}
