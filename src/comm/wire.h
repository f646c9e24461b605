/* wire.h: agora's frame format and message encoding (docs/protocol.md).
 *
 * Every frame is a 32-byte header followed by `length` payload bytes:
 *
 *   off size field
 *     0    4 magic      0x41524741 ("AGRA" read as little-endian bytes 'A','G','R','A')
 *     4    1 version    AGORA_WIRE_VERSION
 *     5    1 type       agora_msg_type
 *     6    2 flags      bit 0 AGORA_FRAME_F_HDR_ONLY (P2P_DATA only): the checksum
 *                        covers the header alone; bit 1 AGORA_FRAME_F_MAC (master link
 *                        after the handshake, P2P_DATA and P2P_SS_DATA with data MACs on): bytes
 *                        24..31 are a MAC (auth.h); never both bits; other bits 0
 *     8    4 length     payload bytes, <= the per-type bound (agora__wire_max_len)
 *    12    4 reserved   0
 *    16    8 tag        collective sequence number, epoch, or 0
 *    24    8 checksum   XXH3-64 over header bytes 0..23 followed by the payload, or
 *                        with AGORA_FRAME_F_MAC the session or ring-data MAC (auth.h)
 *
 * All integers little-endian, encoded field by field. Floats travel as IEEE-754 bit
 * patterns, little-endian.
 * Does not: touch sockets (transport/tcp.c) or know any protocol state (coord.c, peer.c).
 */
#ifndef AGORA_COMM_WIRE_H
#define AGORA_COMM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/err.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "agora comm sends float arrays in host order and needs a little-endian host"
#endif

#define AGORA_WIRE_MAGIC 0x41524741u
#define AGORA_WIRE_VERSION 4u
/* Flag bits of a P2C_SS_SYNC entry: the content may differ between members
 * (agora_shared_tensor.local). */
#define AGORA__SS_LOCAL 1u
#define AGORA_WIRE_HDR 32u
#define AGORA_FRAME_F_HDR_ONLY 0x1u
/* Master-link frames after the handshake, and data between peers with data MACs on: the
 * checksum slot holds a MAC (auth.h), not XXH3. Only on P2C_*, C2P_*, P2P_DATA and
 * P2P_SS_DATA. */
#define AGORA_FRAME_F_MAC 0x2u
/* No frame is larger; data senders split pieces at AGORA_WIRE_PIECE_MAX. */
#define AGORA_WIRE_MAX_DATA (1u << 30)
#define AGORA_WIRE_PIECE_MAX (64u << 20)
/* Bound for every control message. */
#define AGORA_WIRE_MAX_CTRL (256u << 10)

/* Direction in the name: P2C peer -> coordinator, C2P coordinator -> peer, P2P. */
typedef enum agora_msg_type {
    AGORA_MSG_P2C_HELLO = 1,         /* u32 version, u32 pool_size, u16 p2p_port, u32 p2p_ipv4 */
    AGORA_MSG_C2P_CHALLENGE = 2,     /* 32 bytes nonce */
    AGORA_MSG_P2C_AUTH = 3,          /* 32 mac(nonce_c), 32 nonce_p */
    AGORA_MSG_C2P_WELCOME = 4,       /* u64 peer_id, 32 mac(nonce_p), u32 hb_interval_ms */
    AGORA_MSG_C2P_REJECT = 5,        /* u32 agora_err */
    AGORA_MSG_P2C_HEARTBEAT = 6,     /* empty */
    AGORA_MSG_P2C_LEAVE = 7,         /* empty: the deathrattle */
    AGORA_MSG_P2C_TOPO_REQ = 8,      /* u64 epoch known to the peer */
    AGORA_MSG_C2P_TOPO = 9,          /* u64 epoch, u8 changed, u32 rank, u32 world, u32 pool,
                                        32 ring nonce, u8 data MACs,
                                        world x {u64 id, u32 ipv4, u16 port} */
    AGORA_MSG_P2C_TOPO_DONE = 10,    /* u64 epoch, u8 ok */
    AGORA_MSG_C2P_TOPO_VERDICT = 11, /* u64 epoch, u8 ok */
    AGORA_MSG_P2C_INITIATE = 12,     /* u64 epoch, u64 count, u8 op, u8 codec, u8 contributes */
    AGORA_MSG_C2P_COMMENCE = 13,     /* u64 seq, u32 contributors */
    AGORA_MSG_C2P_ABORT = 14,        /* u64 seq, u32 agora_err reason */
    AGORA_MSG_P2C_COMPLETE = 15,     /* u64 seq, u32 agora_err (0 = ok) */
    AGORA_MSG_C2P_VERDICT = 16,      /* u64 seq, u32 agora_err (0 = commit) */
    AGORA_MSG_P2C_PENDING_REQ = 17,  /* empty */
    AGORA_MSG_C2P_PENDING = 18,      /* u32 joiners waiting */
    AGORA_MSG_P2P_HELLO = 19,        /* u64 epoch, u64 from_id, u32 stream, 32 mac */
    AGORA_MSG_P2P_DATA = 20,         /* codec piece: meta then codes */
    AGORA_MSG_P2C_SS_SYNC = 21,      /* u64 rev, u8 strategy, u32 n,
                                        n x {str name, u64 count, u64 hash, u8 flags} */
    AGORA_MSG_C2P_SS_PLAN = 22,      /* u32 err, u64 rev, u32 ipv4, u16 port, u64 donor_id,
                                        u32 n_serve, u32 n_pull, n_pull x {str, u64 hash} */
    AGORA_MSG_P2P_SS_REQ = 23,       /* u64 epoch, u64 from_id, 32 mac, 32 nonce, u32 n,
                                        n x str name */
    AGORA_MSG_P2P_SS_DATA = 24,      /* str name, u64 count, count x f32 */
    AGORA_MSG_P2C_SS_DONE = 25,      /* u32 err */
    AGORA_MSG_C2P_SS_VERDICT = 26,   /* u32 err */
    AGORA_MSG_P2C_BW_REQ = 27,       /* empty: measure the links (agora_comm_measure_links) */
    AGORA_MSG_C2P_BW_GO = 28,        /* u64 epoch */
    AGORA_MSG_P2P_BW = 29,           /* filler bytes, timed by the receiver */
    AGORA_MSG_P2C_BW_REPORT = 30,    /* u32 n, n x {u64 from_id, u64 f64-bits bytes/s} */
    AGORA_MSG_C2P_BW_DONE = 31,      /* u32 err */
    AGORA_MSG_P2C_BW_PASSIVE = 32,   /* u64 to_id, u64 bit pattern of an f64 bytes/s: this
                                        peer's link to to_id, timed while it was saturated
                                        during a committed all-reduce */
    AGORA__MSG_MAX = 33
} agora_msg_type;

typedef struct agora_frame_hdr {
    uint32_t magic;
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t length;
    uint32_t reserved;
    uint64_t tag;
    uint64_t checksum;
} agora_frame_hdr;

/* Largest payload accepted for a message type (0 for unknown types). */
size_t agora__wire_max_len(uint8_t type);
const char *agora__msg_name(uint8_t type);

/* agora__hdr_encode writes the 32 header bytes; hdr->checksum must already be set. */
void agora__hdr_encode(uint8_t out[AGORA_WIRE_HDR], const agora_frame_hdr *hdr);
/* agora__hdr_decode parses and validates magic, version, type, flags, reserved and the
 * length bound. Returns AGORA_OK, AGORA_EPROTO, AGORA_EVERSION or AGORA_EOVERFLOW. */
agora_err agora__hdr_decode(const uint8_t in[AGORA_WIRE_HDR], agora_frame_hdr *hdr);
/* agora__frame_checksum: XXH3-64 of header bytes 0..23 then the payload. */
uint64_t agora__frame_checksum(const uint8_t hdr24[24], const void *payload, size_t len);
/* agora__frame_hdr_prefix encodes a header with checksum 0 into out and returns the seed
 * of its payload checksum (XXH3-64 of bytes 0..23), for a caller that hashes the payload
 * itself (streaming) and then stores the digest at out + 24. */
uint64_t agora__frame_hdr_prefix(uint8_t out[AGORA_WIRE_HDR], uint8_t type, uint16_t flags,
                                 uint64_t tag, uint32_t len);
/* agora__frame_build fills hdr (checksum included) and encodes it into out. */
void agora__frame_build(uint8_t out[AGORA_WIRE_HDR], uint8_t type, uint64_t tag,
                        const void *payload, uint32_t len);
void agora__frame_build_flags(uint8_t out[AGORA_WIRE_HDR], uint8_t type, uint16_t flags,
                              uint64_t tag, const void *payload, uint32_t len);
/* agora__frame_parse decodes a complete frame held in memory (fuzz target and tests):
 * header, bounds, exact total length and checksum. Returns AGORA_OK, AGORA_ETRUNCATED,
 * AGORA_EPROTO, AGORA_EVERSION, AGORA_EOVERFLOW or AGORA_ECHECKSUM, and AGORA_EAUTH for a
 * MACed frame (only its session can check it). */
agora_err agora__frame_parse(const uint8_t *buf, size_t len, agora_frame_hdr *hdr,
                             const uint8_t **payload);

/* ---- little-endian field writer and bounded reader ---- */

typedef struct agora_wbuf {
    uint8_t *p;
    size_t len, cap;
    bool overflow; /* a put would have passed cap; the buffer is then unusable */
} agora_wbuf;

void agora__w_u8(agora_wbuf *w, uint8_t v);
void agora__w_u16(agora_wbuf *w, uint16_t v);
void agora__w_u32(agora_wbuf *w, uint32_t v);
void agora__w_u64(agora_wbuf *w, uint64_t v);
void agora__w_bytes(agora_wbuf *w, const void *p, size_t n);
void agora__w_str(agora_wbuf *w, const char *s); /* u16 length + bytes */

typedef struct agora_rbuf {
    const uint8_t *p;
    size_t len, off;
    bool bad; /* a get ran past the end or a string was too long */
} agora_rbuf;

uint8_t agora__r_u8(agora_rbuf *r);
uint16_t agora__r_u16(agora_rbuf *r);
uint32_t agora__r_u32(agora_rbuf *r);
uint64_t agora__r_u64(agora_rbuf *r);
void agora__r_bytes(agora_rbuf *r, void *out, size_t n);
/* agora__r_str copies a u16-length string into out (cap bytes incl. NUL); longer strings,
 * empty strings and embedded NULs set bad. */
void agora__r_str(agora_rbuf *r, char *out, size_t cap);
/* AGORA_OK when every get stayed in bounds and the whole payload was consumed. */
agora_err agora__r_done(const agora_rbuf *r);

void agora__put_le32(uint8_t *p, uint32_t v);
uint32_t agora__get_le32(const uint8_t *p);
void agora__put_le64(uint8_t *p, uint64_t v);
uint64_t agora__get_le64(const uint8_t *p);

#endif /* AGORA_COMM_WIRE_H */
