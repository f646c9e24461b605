/* coord_ss.c: the coordinator's side of shared-state sync (spec §9).
 *
 * Every member reports (revision, strategy, [name, count, XXH3-64, flags]). When all have
 * reported, the most common report among the voters (RECEIVE_ONLY members do not vote) is
 * elected (ties: the highest revision, then the lowest ring rank; local entries are left
 * out of the comparison), a SEND_ONLY member holding another state is removed, each outdated member
 * is told which tensors to pull and from which up-to-date member (round-robin over the up-to-date
 * ones), and each donor how many pullers to expect. A verdict follows once every member reported
 * done. Tensor bytes never pass through here.
 */
#include <string.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/coord_int.h"
#include "comm/net.h"

#define SS_MAX_TENSORS 4096u

void agora__ss_vote_clear(agora__ss_vote *v) {
    agora_free(v->e);
    memset(v, 0, sizeof *v);
}

agora_err agora__coord_ss_on_sync(agora_master *m, uint64_t peer_id, agora_rbuf *r) {
    mpeer *p = agora__coord_find(m, peer_id);
    if (p == NULL)
        return AGORA_EPROTO;
    agora__ss_vote_clear(&p->ss);
    uint64_t rev = agora__r_u64(r);
    uint8_t strategy = agora__r_u8(r);
    uint32_t n = agora__r_u32(r);
    if (r->bad || n > SS_MAX_TENSORS || strategy > AGORA_SS_SEND_ONLY)
        return AGORA_EPROTO;
    p->ss.e = agora_calloc(n ? n : 1, sizeof *p->ss.e);
    if (p->ss.e == NULL)
        return AGORA_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        agora__r_str(r, p->ss.e[i].name, sizeof p->ss.e[i].name);
        p->ss.e[i].count = agora__r_u64(r);
        p->ss.e[i].hash = agora__r_u64(r);
        uint8_t flags = agora__r_u8(r);
        if (flags & ~AGORA__SS_LOCAL)
            return AGORA_EPROTO;
        p->ss.e[i].local = (flags & AGORA__SS_LOCAL) != 0;
    }
    AGORA_TRY(agora__r_done(r));
    p->ss.revision = rev;
    p->ss.strategy = strategy;
    p->ss.n = n;
    p->ss.sent = true;
    p->ss_done = false;
    return AGORA_OK;
}

agora_err agora__coord_ss_on_done(agora_master *m, uint64_t peer_id, agora_rbuf *r) {
    mpeer *p = agora__coord_find(m, peer_id);
    uint32_t err = agora__r_u32(r);
    AGORA_TRY(agora__r_done(r));
    if (p == NULL || m->phase != PH_SS)
        return AGORA_OK;
    p->ss_done = true;
    if (err != AGORA_OK && err != AGORA_ESHAPE && m->ss_err == AGORA_OK)
        m->ss_err = err; /* a peer with another tensor list fails alone */
    return AGORA_OK;
}

static bool same_names(const agora__ss_vote *a, const agora__ss_vote *b) {
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->e[i].name, b->e[i].name) != 0 || a->e[i].count != b->e[i].count ||
            a->e[i].local != b->e[i].local)
            return false;
    return true;
}

static bool same_vote(const agora__ss_vote *a, const agora__ss_vote *b) {
    if (a->revision != b->revision || !same_names(a, b))
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (!a->e[i].local && a->e[i].hash != b->e[i].hash)
            return false;
    return true;
}

/* What member p pulls from an up-to-date donor: the shared entries whose hash differs from
 * the elected one, and, when p's revision differs, every local entry. */
static bool must_pull(const agora__ss_vote *p, const agora__ss_vote *el, uint32_t i) {
    return el->e[i].local ? p->revision != el->revision : p->e[i].hash != el->e[i].hash;
}

static void send_plan(agora_master *m, mpeer *p, uint32_t err, const agora__ss_vote *el,
                      const mpeer *donor, uint32_t n_serve) {
    size_t cap = 64 + (el ? (size_t)el->n * 80 : 0);
    uint8_t *buf = agora_malloc(cap);
    if (buf == NULL) {
        agora__sock_close(&p->fd); /* cannot tell it: dropping it fails the sync cleanly */
        return;
    }
    agora_wbuf w = {buf, 0, cap, false};
    agora__w_u32(&w, err);
    agora__w_u64(&w, el ? el->revision : 0);
    agora__w_u32(&w, donor ? donor->ipv4 : 0);
    agora__w_u16(&w, donor ? donor->port : 0);
    agora__w_u64(&w, donor ? donor->id : 0);
    agora__w_u32(&w, n_serve);
    uint32_t n_pull = 0;
    size_t n_pull_at = w.len;
    agora__w_u32(&w, 0);
    if (err == AGORA_OK && donor != NULL) {
        for (uint32_t i = 0; i < el->n; i++)
            if (must_pull(&p->ss, el, i)) {
                agora__w_str(&w, el->e[i].name);
                agora__w_u64(&w, el->e[i].hash);
                n_pull++;
            }
    }
    agora__put_le32(buf + n_pull_at, n_pull);
    agora__coord_send(m, p, AGORA_MSG_C2P_SS_PLAN, m->epoch, &w);
    agora_free(buf);
}

void agora__coord_ss_reject(agora_master *m, mpeer *p, uint32_t err) {
    send_plan(m, p, err, NULL, NULL, 0);
    agora__ss_vote_clear(&p->ss);
}

static void start_sync(agora_master *m) {
    size_t nm = m->n_members;
    mpeer **mem = agora_calloc(nm, sizeof *mem);
    uint32_t *serve = agora_calloc(nm, sizeof *serve);
    if (mem == NULL || serve == NULL) {
        agora_free(mem);
        agora_free(serve);
        return; /* retried on the next event */
    }
    for (size_t r = 0; r < nm; r++)
        mem[r] = agora__coord_find(m, m->members[r]);
    /* RECEIVE_ONLY members neither stand nor vote */
    size_t best = nm, best_votes = 0;
    for (size_t i = 0; i < nm; i++) {
        if (mem[i]->ss.strategy == AGORA_SS_RECEIVE_ONLY)
            continue;
        size_t v = 0;
        for (size_t j = 0; j < nm; j++)
            v += mem[j]->ss.strategy != AGORA_SS_RECEIVE_ONLY && same_vote(&mem[i]->ss, &mem[j]->ss)
                     ? 1
                     : 0;
        /* Ties go to the newer revision: one survivor and one fresh joiner must elect
         * the survivor's trained state, not the joiner's initial one. */
        if (best == nm || v > best_votes ||
            (v == best_votes && mem[i]->ss.revision > mem[best]->ss.revision)) {
            best_votes = v;
            best = i;
        }
    }
    if (best == nm) { /* nobody voted: no state to hand out */
        AGORA_LOG_WARN(AGORA_SUB_COORD, "shared state: every member is RECEIVE_ONLY");
        for (size_t i = 0; i < nm; i++)
            agora__coord_ss_reject(m, mem[i], AGORA_ENOTFOUND);
        agora_free(mem);
        agora_free(serve);
        return;
    }
    const agora__ss_vote *el = &mem[best]->ss;
    /* SEND_ONLY members must hold the elected state: one that does not is removed (its
     * connection closed; the reaper takes it out of the ring), and the others retry */
    bool kicked = false;
    for (size_t i = 0; i < nm; i++)
        if (mem[i]->ss.strategy == AGORA_SS_SEND_ONLY && !same_vote(&mem[i]->ss, el)) {
            AGORA_LOG_WARN(AGORA_SUB_COORD,
                           "shared state: SEND_ONLY member %llu holds another state (revision "
                           "%llu, elected %llu): removed",
                           (unsigned long long)mem[i]->id, (unsigned long long)mem[i]->ss.revision,
                           (unsigned long long)el->revision);
            mem[i]->kicked = true;
            agora__sock_close(&mem[i]->fd);
            kicked = true;
        }
    if (kicked) {
        for (size_t i = 0; i < nm; i++)
            if (mem[i]->fd >= 0)
                send_plan(m, mem[i], AGORA_EPEER_LOST, NULL, NULL, 0);
        for (size_t i = 0; i < nm; i++)
            agora__ss_vote_clear(&mem[i]->ss);
        agora_free(mem);
        agora_free(serve);
        return;
    }
    size_t rr = 0;
    mpeer **donor_of = agora_calloc(nm, sizeof *donor_of);
    if (donor_of == NULL) {
        agora_free(mem);
        agora_free(serve);
        return;
    }
    for (size_t i = 0; i < nm; i++) {
        if (same_vote(&mem[i]->ss, el) || !same_names(&mem[i]->ss, el))
            continue;
        bool need_data = false;
        for (uint32_t k = 0; k < el->n; k++)
            need_data |= must_pull(&mem[i]->ss, el, k);
        if (!need_data)
            continue;               /* only the revision differs */
        for (;; rr = (rr + 1) % nm) /* a donor: up to date, and not RECEIVE_ONLY */
            if (same_vote(&mem[rr]->ss, el) && mem[rr]->ss.strategy != AGORA_SS_RECEIVE_ONLY)
                break;
        donor_of[i] = mem[rr];
        serve[rr]++;
        rr = (rr + 1) % nm;
    }
    m->phase = PH_SS;
    m->ss_err = AGORA_OK;
    m->phase_deadline = agora_deadline_in_ms(m->o.phase_timeout_ms);
    AGORA_LOG_INFO(AGORA_SUB_COORD, "shared state: revision %llu elected by %zu of %zu",
                   (unsigned long long)el->revision, best_votes, nm);
    for (size_t i = 0; i < nm; i++) {
        uint32_t err = same_names(&mem[i]->ss, el) ? AGORA_OK : AGORA_ESHAPE;
        mem[i]->ss_done = false;
        send_plan(m, mem[i], err, el, donor_of[i], serve[i]);
    }
    agora_free(donor_of);
    agora_free(mem);
    agora_free(serve);
}

static void finish_sync(agora_master *m, uint32_t err) {
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL)
            continue;
        if (p->fd >= 0) {
            uint8_t b[4];
            agora_wbuf w = {b, 0, 4, false};
            agora__w_u32(&w, err);
            agora__coord_send(m, p, AGORA_MSG_C2P_SS_VERDICT, m->epoch, &w);
        }
        agora__ss_vote_clear(&p->ss);
        p->ss_done = false;
    }
    m->phase = PH_IDLE;
}

void agora__coord_ss_peer_lost(agora_master *m) {
    if (m->ss_err == AGORA_OK)
        m->ss_err = AGORA_EPEER_LOST;
    finish_sync(m, AGORA_EPEER_LOST); /* tells waiting donors to stop serving */
}

void agora__coord_ss_check(agora_master *m) {
    if (m->phase == PH_SS) {
        bool late = agora_deadline_passed(m->phase_deadline);
        for (size_t r = 0; r < m->n_members && !late; r++) {
            mpeer *p = agora__coord_find(m, m->members[r]);
            if (p && p->fd >= 0 && !p->ss_done)
                return;
        }
        if (late) { /* a member never reported: fail the sync rather than hang */
            finish_sync(m, AGORA_ETIMEDOUT);
            return;
        }
        finish_sync(m, m->dirty && m->ss_err == AGORA_OK ? AGORA_EPEER_LOST : m->ss_err);
        return;
    }
    if (m->phase != PH_IDLE || m->n_members == 0)
        return;
    for (size_t r = 0; r < m->n_members; r++) {
        mpeer *p = agora__coord_find(m, m->members[r]);
        if (p == NULL || p->fd < 0 || !p->ss.sent)
            return;
    }
    if (m->dirty || m->broken) {
        for (size_t r = 0; r < m->n_members; r++)
            send_plan(m, agora__coord_find(m, m->members[r]), AGORA_EPEER_LOST, NULL, NULL, 0);
        for (size_t r = 0; r < m->n_members; r++)
            agora__ss_vote_clear(&agora__coord_find(m, m->members[r])->ss);
        return;
    }
    start_sync(m);
}
