/* coord_int.h: the coordinator's internal state, shared by coord.c (membership,
 * collectives) and coord_ss.c (shared-state election). Not a public header. */
#ifndef AGORA_COMM_COORD_INT_H
#define AGORA_COMM_COORD_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agora/comm.h"
#include "comm/auth.h"
#include "comm/wire.h"

/* One tensor entry of a shared-state report. */
typedef struct agora__ss_entry {
    char name[64];
    uint64_t count;
    uint64_t hash; /* 0 for local entries */
    bool local;
} agora__ss_entry;

typedef struct agora__ss_vote {
    bool sent;
    uint8_t strategy; /* agora_ss_strategy */
    uint64_t revision;
    uint32_t n;
    agora__ss_entry *e;
} agora__ss_vote;

void agora__ss_vote_clear(agora__ss_vote *v);

enum { PS_HELLO, PS_CHALLENGED, PS_REG, PS_MEMBER };
enum { PH_IDLE, PH_TOPO, PH_COLL, PH_SS, PH_BW };

typedef struct mpeer {
    int fd;
    int state;
    uint64_t id;
    uint8_t nonce[AGORA_AUTH_NONCE];
    agora__session sess; /* on from our WELCOME: every later frame is MACed */
    uint32_t ipv4;       /* the P2P address the peer advertises ... */
    uint32_t src_ipv4;   /* ... and the one its control connection comes from */
    uint16_t port;
    uint32_t pool;
    int64_t last_seen;
    bool left;   /* sent the deathrattle */
    bool kicked; /* removed by the master (a SEND_ONLY peer with another state) */
    /* frame reassembly */
    uint8_t hdr_raw[AGORA_WIRE_HDR];
    size_t hdr_have;
    agora_frame_hdr hdr;
    uint8_t *payload;
    size_t pay_have;
    /* votes */
    bool topo_req;
    bool topo_done;
    bool topo_ok;
    bool initiated;
    uint64_t count;
    uint8_t op, codec, contributes;
    uint64_t init_nonce; /* echoed in COMMENCE so a peer never acts on a stale one */
    bool completed;
    uint32_t complete_err;
    agora__ss_vote ss; /* shared-state report (coord_ss.c) */
    bool ss_done;
    uint32_t ss_err;
    /* link measurement (coord_bw.c): ingress throughput from other members */
    bool bw_req, bw_done;
    uint32_t bw_n;
    uint64_t *bw_from;
    double *bw_bps;
} mpeer;

struct agora_master {
    agora_master_opts o;
    int lfd;
    int wake[2];
    uint16_t port;
    mpeer **peers;
    size_t n_peers, cap_peers;
    uint64_t next_id;
    /* membership */
    uint64_t *members; /* ring order, by id */
    size_t n_members;
    uint64_t epoch;
    uint8_t ring_nonce[32]; /* fresh per epoch: the members' ring key (auth.h) */
    bool data_mac;          /* this epoch's ring data carries MACs (agora_master_opts) */
    bool dirty;             /* the member set changed since the epoch was published */
    bool broken;            /* links must be rebuilt before the next collective */
    int phase;
    int64_t phase_deadline;
    uint64_t seq;
    uint32_t coll_err;
    bool coll_abort_sent;
    uint32_t ss_err;
    uint64_t *new_order; /* a measured ring order for the next topology change */
    size_t n_new_order;
    _Atomic uint32_t st_world;
    _Atomic uint64_t st_epoch, st_ok, st_failed;
    _Atomic int stop; /* lock-free, so agora_master_interrupt stays async-signal-safe */
};

mpeer *agora__coord_find(agora_master *m, uint64_t id);
agora_err agora__coord_send(agora_master *m, mpeer *p, uint8_t type, uint64_t tag,
                            const agora_wbuf *w);
/* coord_ss.c */
agora_err agora__coord_ss_on_sync(agora_master *m, uint64_t peer_id, agora_rbuf *r);
agora_err agora__coord_ss_on_done(agora_master *m, uint64_t peer_id, agora_rbuf *r);
void agora__coord_ss_check(agora_master *m);
void agora__coord_ss_peer_lost(agora_master *m);
/* Sends p a plan that carries only err and forgets its report. */
void agora__coord_ss_reject(agora_master *m, mpeer *p, uint32_t err);
/* coord_bw.c */
/* A member's passive timing of its link to another (P2C_BW_PASSIVE): refreshes that entry
 * of a measured matrix and re-solves the ring order, adopting a new one only when it is
 * clearly better. */
agora_err agora__coord_bw_on_passive(agora_master *m, mpeer *p, agora_rbuf *r);
agora_err agora__coord_bw_on_report(agora_master *m, mpeer *p, agora_rbuf *r);
void agora__coord_bw_check(agora_master *m);
void agora__coord_bw_clear(mpeer *p);
/* Reorders m->members by m->new_order (dropping ids no longer members); frees it. */
void agora__coord_bw_apply_order(agora_master *m);

#endif /* AGORA_COMM_COORD_INT_H */
