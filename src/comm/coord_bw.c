/* coord_bw.c: the coordinator's side of link measurement and ring ordering (spec §11).
 *
 * When every member asked (agora_comm_measure_links), the master says GO; each member
 * times the ingress of every other member and reports it; the master then solves the
 * ring order that maximises the slowest directed link (agora_ring_order) and, if it
 * differs from the current one, applies it at the next topology change. After that, every
 * committed all-reduce in which a member's sockets to its successor stayed full refreshes
 * that link's entry passively (P2C_BW_PASSIVE, spec §17), and a clearly better order (its
 * slowest link 1.25x the current one's) is applied the same way. Membership never changes
 * here.
 */
#include <string.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/coord_int.h"

void agora__coord_bw_clear(mpeer *p) {
    agora_free(p->bw_from);
    agora_free(p->bw_bps);
    p->bw_from = NULL;
    p->bw_bps = NULL;
    p->bw_n = 0;
    p->bw_done = false;
}

agora_err agora__coord_bw_on_report(agora_master *m, mpeer *p, agora_rbuf *r) {
    uint32_t n = agora__r_u32(r);
    if (r->bad || n > 4096)
        return AGORA_EPROTO;
    agora__coord_bw_clear(p);
    p->bw_from = agora_calloc(n ? n : 1, sizeof *p->bw_from);
    p->bw_bps = agora_calloc(n ? n : 1, sizeof *p->bw_bps);
    if (p->bw_from == NULL || p->bw_bps == NULL)
        return AGORA_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        p->bw_from[i] = agora__r_u64(r);
        uint64_t bits = agora__r_u64(r);
        memcpy(&p->bw_bps[i], &bits, sizeof bits);
    }
    AGORA_TRY(agora__r_done(r));
    p->bw_n = n;
    if (m->phase == PH_BW && p->state == PS_MEMBER)
        p->bw_done = true;
    return AGORA_OK;
}

static void send_done(agora_master *m, mpeer *p, uint32_t err) {
    uint8_t b[4];
    agora_wbuf w = {b, 0, 4, false};
    agora__w_u32(&w, err);
    agora__coord_send(m, p, AGORA_MSG_C2P_BW_DONE, m->epoch, &w);
}

static double lookup(const mpeer *to, uint64_t from) {
    for (uint32_t i = 0; i < to->bw_n; i++)
        if (to->bw_from[i] == from)
            return to->bw_bps[i];
    return 0.0; /* unmeasured: the slowest possible */
}

/* Solves the ring order from the measured matrix; adopts it (at the next topology change)
 * when it differs from the current one and its slowest link is at least `margin` times the
 * current one's. */
static void solve(agora_master *m, double margin) {
    size_t n = m->n_members;
    double *bw = agora_calloc(n * n, sizeof *bw);
    uint32_t *order = agora_calloc(n, sizeof *order);
    uint64_t *ids = agora_calloc(n, sizeof *ids);
    if (bw && order && ids) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                if (i != j)
                    bw[i * n + j] = lookup(agora__coord_find(m, m->members[j]), m->members[i]);
        if (agora_ring_order(bw, (uint32_t)n, order) == AGORA_OK) {
            bool same = true;
            for (size_t i = 0; i < n; i++) {
                ids[i] = m->members[order[i]];
                same = same && order[i] == i;
            }
            uint32_t cur[1024];
            for (size_t i = 0; i < n && i < 1024; i++)
                cur[i] = (uint32_t)i;
            double now = n <= 1024 ? agora_ring_bottleneck(bw, (uint32_t)n, cur) : 0.0;
            double best = agora_ring_bottleneck(bw, (uint32_t)n, order);
            same = same || best < margin * now;
            AGORA_LOG_INFO(AGORA_SUB_COORD, "ring order: slowest link %.3g -> %.3g GB/s%s",
                           now / 1e9, best / 1e9,
                           same ? " (unchanged)" : ", applied at the next topology update");
            if (!same) {
                agora_free(m->new_order);
                m->new_order = ids;
                m->n_new_order = n;
                ids = NULL;
            }
        }
    }
    agora_free(bw);
    agora_free(order);
    agora_free(ids);
}

agora_err agora__coord_bw_on_passive(agora_master *m, mpeer *p, agora_rbuf *r) {
    uint64_t to = agora__r_u64(r), bits = agora__r_u64(r);
    AGORA_TRY(agora__r_done(r));
    double bps;
    memcpy(&bps, &bits, sizeof bps);
    if (!(bps > 0 && bps < 1e15)) /* not a rate (NaN, negative, absurd) */
        return AGORA_EPROTO;
    mpeer *q = agora__coord_find(m, to);
    if (q == NULL || p->state != PS_MEMBER)
        return AGORA_OK; /* left meanwhile */
    for (uint32_t i = 0; i < q->bw_n; i++)
        if (q->bw_from[i] == p->id) {
            AGORA_LOG_INFO(AGORA_SUB_COORD,
                           "passive: link %llu -> %llu ran at %.3g MB/s while saturated "
                           "(measured %.3g MB/s)",
                           (unsigned long long)p->id, (unsigned long long)to, bps / 1e6,
                           q->bw_bps[i] / 1e6);
            q->bw_bps[i] = bps;
            if (m->phase == PH_IDLE)
                solve(m, 1.25); /* a new order costs a ring rebuild: only for a clear gain */
            return AGORA_OK;
        }
    /* no measured matrix yet (agora_comm_measure_links): one link alone orders nothing */
    AGORA_LOG_DEBUG(AGORA_SUB_COORD, "passive: link %llu -> %llu at %.3g MB/s (not measured)",
                    (unsigned long long)p->id, (unsigned long long)to, bps / 1e6);
    return AGORA_OK;
}

void agora__coord_bw_apply_order(agora_master *m) {
    if (m->new_order == NULL)
        return;
    size_t k = 0;
    uint64_t *out = agora_calloc(m->n_members ? m->n_members : 1, sizeof *out);
    if (out != NULL) {
        for (size_t i = 0; i < m->n_new_order; i++) /* the measured order first */
            for (size_t r = 0; r < m->n_members; r++)
                if (m->members[r] == m->new_order[i])
                    out[k++] = m->new_order[i];
        for (size_t r = 0; r < m->n_members; r++) { /* then anyone it did not know */
            bool seen = false;
            for (size_t i = 0; i < k; i++)
                seen = seen || out[i] == m->members[r];
            if (!seen)
                out[k++] = m->members[r];
        }
        memcpy(m->members, out, k * sizeof *out);
        agora_free(out);
    }
    agora_free(m->new_order);
    m->new_order = NULL;
    m->n_new_order = 0;
}

void agora__coord_bw_check(agora_master *m) {
    if (m->phase == PH_BW) {
        bool ok = !m->dirty;
        for (size_t r = 0; r < m->n_members; r++) {
            mpeer *p = agora__coord_find(m, m->members[r]);
            if (p == NULL || p->fd < 0) {
                ok = false;
                continue;
            }
            if (!p->bw_done && !agora_deadline_passed(m->phase_deadline))
                return;
            /* an empty report means that member failed: the round fails */
            ok = ok && p->bw_done && p->bw_n + 1 == m->n_members;
        }
        if (ok)
            solve(m, 1.0);
        for (size_t r = 0; r < m->n_members; r++) {
            mpeer *p = agora__coord_find(m, m->members[r]);
            if (p != NULL && p->fd >= 0)
                send_done(m, p, ok ? AGORA_OK : AGORA_EPEER_LOST);
            if (p)
                p->bw_done = false;
        }
        m->phase = PH_IDLE;
        return;
    }
    if (m->phase != PH_IDLE || m->n_members == 0)
        return;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL || p->fd < 0 || !p->bw_req)
            return;
    }
    bool fail = m->dirty || m->broken;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        p->bw_req = false;
        if (fail) {
            send_done(m, p, AGORA_EPEER_LOST);
            continue;
        }
        uint8_t b[8];
        agora_wbuf w = {b, 0, 8, false};
        agora__w_u64(&w, m->epoch);
        agora__coord_send(m, p, AGORA_MSG_C2P_BW_GO, m->epoch, &w);
        agora__coord_bw_clear(p);
    }
    if (!fail) {
        m->phase = PH_BW;
        m->phase_deadline = agora_deadline_in_ms(m->o.phase_timeout_ms);
    }
}
