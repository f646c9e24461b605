/* wire.c: frame header encode/decode, checksums, and the little-endian field codec.
 *
 * Implements: the 32-byte header of wire.h, per-type payload bounds checked before any
 * allocation, XXH3-64 frame checksums, bounded readers that never read past a payload.
 * Does not: do I/O or keep protocol state.
 */
#include "comm/wire.h"

#include <string.h>

#include "comm/xxh.h"

// ---- little-endian helpers ----

void agora__put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t agora__get_le32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

void agora__put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t agora__get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// ---- message table ----

static const struct {
    const char *name;
    size_t max_len;
} k_msgs[AGORA__MSG_MAX] = {
    [AGORA_MSG_P2C_HELLO] = {"P2C_HELLO", 14},
    [AGORA_MSG_C2P_CHALLENGE] = {"C2P_CHALLENGE", 32},
    [AGORA_MSG_P2C_AUTH] = {"P2C_AUTH", 64},
    [AGORA_MSG_C2P_WELCOME] = {"C2P_WELCOME", 44},
    [AGORA_MSG_C2P_REJECT] = {"C2P_REJECT", 4},
    [AGORA_MSG_P2C_HEARTBEAT] = {"P2C_HEARTBEAT", 0},
    [AGORA_MSG_P2C_LEAVE] = {"P2C_LEAVE", 0},
    [AGORA_MSG_P2C_TOPO_REQ] = {"P2C_TOPO_REQ", 8},
    [AGORA_MSG_C2P_TOPO] = {"C2P_TOPO", AGORA_WIRE_MAX_CTRL},
    [AGORA_MSG_P2C_TOPO_DONE] = {"P2C_TOPO_DONE", 9},
    [AGORA_MSG_C2P_TOPO_VERDICT] = {"C2P_TOPO_VERDICT", 9},
    [AGORA_MSG_P2C_INITIATE] = {"P2C_INITIATE", 27},
    [AGORA_MSG_C2P_COMMENCE] = {"C2P_COMMENCE", 20},
    [AGORA_MSG_C2P_ABORT] = {"C2P_ABORT", 12},
    [AGORA_MSG_P2C_COMPLETE] = {"P2C_COMPLETE", 12},
    [AGORA_MSG_C2P_VERDICT] = {"C2P_VERDICT", 12},
    [AGORA_MSG_P2C_PENDING_REQ] = {"P2C_PENDING_REQ", 0},
    [AGORA_MSG_C2P_PENDING] = {"C2P_PENDING", 4},
    [AGORA_MSG_P2P_HELLO] = {"P2P_HELLO", 52},
    [AGORA_MSG_P2P_DATA] = {"P2P_DATA", AGORA_WIRE_MAX_DATA},
    [AGORA_MSG_P2C_SS_SYNC] = {"P2C_SS_SYNC", AGORA_WIRE_MAX_CTRL},
    [AGORA_MSG_C2P_SS_PLAN] = {"C2P_SS_PLAN", AGORA_WIRE_MAX_CTRL},
    [AGORA_MSG_P2P_SS_REQ] = {"P2P_SS_REQ", AGORA_WIRE_MAX_CTRL},
    [AGORA_MSG_P2P_SS_DATA] = {"P2P_SS_DATA", AGORA_WIRE_MAX_DATA},
    [AGORA_MSG_P2C_SS_DONE] = {"P2C_SS_DONE", 4},
    [AGORA_MSG_C2P_SS_VERDICT] = {"C2P_SS_VERDICT", 4},
    [AGORA_MSG_P2C_BW_REQ] = {"P2C_BW_REQ", 0},
    [AGORA_MSG_C2P_BW_GO] = {"C2P_BW_GO", 8},
    [AGORA_MSG_P2P_BW] = {"P2P_BW", AGORA_WIRE_MAX_DATA},
    [AGORA_MSG_P2C_BW_REPORT] = {"P2C_BW_REPORT", 4 + 4096 * 16},
    [AGORA_MSG_C2P_BW_DONE] = {"C2P_BW_DONE", 4},
    [AGORA_MSG_P2C_BW_PASSIVE] = {"P2C_BW_PASSIVE", 16},
};

size_t agora__wire_max_len(uint8_t type) {
    if (type == 0 || type >= AGORA__MSG_MAX || k_msgs[type].name == NULL)
        return 0;
    return k_msgs[type].max_len;
}

const char *agora__msg_name(uint8_t type) {
    if (type == 0 || type >= AGORA__MSG_MAX || k_msgs[type].name == NULL)
        return "MSG_???";
    return k_msgs[type].name;
}

// ---- header ----

void agora__hdr_encode(uint8_t out[AGORA_WIRE_HDR], const agora_frame_hdr *hdr) {
    agora__put_le32(out + 0, hdr->magic);
    out[4] = hdr->version;
    out[5] = hdr->type;
    out[6] = (uint8_t)(hdr->flags & 0xff);
    out[7] = (uint8_t)(hdr->flags >> 8);
    agora__put_le32(out + 8, hdr->length);
    agora__put_le32(out + 12, hdr->reserved);
    agora__put_le64(out + 16, hdr->tag);
    agora__put_le64(out + 24, hdr->checksum);
}

agora_err agora__hdr_decode(const uint8_t in[AGORA_WIRE_HDR], agora_frame_hdr *hdr) {
    hdr->magic = agora__get_le32(in + 0);
    hdr->version = in[4];
    hdr->type = in[5];
    hdr->flags = (uint16_t)(in[6] | (in[7] << 8));
    hdr->length = agora__get_le32(in + 8);
    hdr->reserved = agora__get_le32(in + 12);
    hdr->tag = agora__get_le64(in + 16);
    hdr->checksum = agora__get_le64(in + 24);
    if (hdr->magic != AGORA_WIRE_MAGIC)
        return AGORA_EPROTO;
    if (hdr->version != AGORA_WIRE_VERSION)
        return AGORA_EVERSION;
    if (hdr->reserved != 0 || (hdr->flags & ~(AGORA_FRAME_F_HDR_ONLY | AGORA_FRAME_F_MAC)) != 0)
        return AGORA_EPROTO;
    if ((hdr->flags & AGORA_FRAME_F_HDR_ONLY) && hdr->type != AGORA_MSG_P2P_DATA)
        return AGORA_EPROTO; /* only ring data may skip the payload checksum */
    size_t max = agora__wire_max_len(hdr->type);
    if (max == 0 && (hdr->type == 0 || hdr->type >= AGORA__MSG_MAX))
        return AGORA_EPROTO;
    if ((hdr->flags & AGORA_FRAME_F_MAC) && hdr->type != AGORA_MSG_P2P_DATA &&
        hdr->type != AGORA_MSG_P2P_SS_DATA && strncmp(agora__msg_name(hdr->type), "P2P_", 4) == 0)
        return AGORA_EPROTO; /* MACs belong to the master link and to data between peers */
    if ((hdr->flags & AGORA_FRAME_F_MAC) && (hdr->flags & AGORA_FRAME_F_HDR_ONLY))
        return AGORA_EPROTO; /* a MAC always covers the payload */
    if (hdr->length > max)
        return AGORA_EOVERFLOW;
    return AGORA_OK;
}

uint64_t agora__frame_checksum(const uint8_t hdr24[24], const void *payload, size_t len) {
    /* Seeding the payload hash with the header hash equals hashing a concatenation for
     * our purposes (both ends compute the same thing) and needs no copy or state. */
    uint64_t h = agora__xxh3(hdr24, 24);
    uint16_t flags = (uint16_t)(hdr24[6] | (hdr24[7] << 8));
    if (flags & AGORA_FRAME_F_HDR_ONLY)
        return h;
    return agora__xxh3_seeded(payload, len, h);
}

uint64_t agora__frame_hdr_prefix(uint8_t out[AGORA_WIRE_HDR], uint8_t type, uint16_t flags,
                                 uint64_t tag, uint32_t len) {
    agora_frame_hdr h = {AGORA_WIRE_MAGIC, AGORA_WIRE_VERSION, type, flags, len, 0, tag, 0};
    agora__hdr_encode(out, &h);
    return agora__xxh3(out, 24);
}

void agora__frame_build_flags(uint8_t out[AGORA_WIRE_HDR], uint8_t type, uint16_t flags,
                              uint64_t tag, const void *payload, uint32_t len) {
    agora_frame_hdr h = {AGORA_WIRE_MAGIC, AGORA_WIRE_VERSION, type, flags, len, 0, tag, 0};
    agora__hdr_encode(out, &h);
    h.checksum = agora__frame_checksum(out, payload, len);
    agora__put_le64(out + 24, h.checksum);
}

void agora__frame_build(uint8_t out[AGORA_WIRE_HDR], uint8_t type, uint64_t tag,
                        const void *payload, uint32_t len) {
    agora__frame_build_flags(out, type, 0, tag, payload, len);
}

agora_err agora__frame_parse(const uint8_t *buf, size_t len, agora_frame_hdr *hdr,
                             const uint8_t **payload) {
    if (len < AGORA_WIRE_HDR)
        return AGORA_ETRUNCATED;
    AGORA_TRY(agora__hdr_decode(buf, hdr));
    if (len - AGORA_WIRE_HDR < hdr->length)
        return AGORA_ETRUNCATED;
    if (len - AGORA_WIRE_HDR > hdr->length)
        return AGORA_EPROTO;
    if (hdr->flags & AGORA_FRAME_F_MAC)
        return AGORA_EAUTH;
    if (agora__frame_checksum(buf, buf + AGORA_WIRE_HDR, hdr->length) != hdr->checksum)
        return AGORA_ECHECKSUM;
    *payload = buf + AGORA_WIRE_HDR;
    return AGORA_OK;
}

// ---- field writer ----

static uint8_t *w_take(agora_wbuf *w, size_t n) {
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *p = w->p + w->len;
    w->len += n;
    return p;
}

void agora__w_u8(agora_wbuf *w, uint8_t v) {
    uint8_t *p = w_take(w, 1);
    if (p)
        p[0] = v;
}

void agora__w_u16(agora_wbuf *w, uint16_t v) {
    uint8_t *p = w_take(w, 2);
    if (p) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

void agora__w_u32(agora_wbuf *w, uint32_t v) {
    uint8_t *p = w_take(w, 4);
    if (p)
        agora__put_le32(p, v);
}

void agora__w_u64(agora_wbuf *w, uint64_t v) {
    uint8_t *p = w_take(w, 8);
    if (p)
        agora__put_le64(p, v);
}

void agora__w_bytes(agora_wbuf *w, const void *src, size_t n) {
    uint8_t *p = w_take(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void agora__w_str(agora_wbuf *w, const char *s) {
    size_t n = strlen(s);
    if (n > UINT16_MAX) {
        w->overflow = true;
        return;
    }
    agora__w_u16(w, (uint16_t)n);
    agora__w_bytes(w, s, n);
}

// ---- bounded reader ----

static const uint8_t *r_take(agora_rbuf *r, size_t n) {
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t agora__r_u8(agora_rbuf *r) {
    const uint8_t *p = r_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t agora__r_u16(agora_rbuf *r) {
    const uint8_t *p = r_take(r, 2);
    if (p == NULL)
        return 0;
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t agora__r_u32(agora_rbuf *r) {
    const uint8_t *p = r_take(r, 4);
    return p ? agora__get_le32(p) : 0;
}

uint64_t agora__r_u64(agora_rbuf *r) {
    const uint8_t *p = r_take(r, 8);
    return p ? agora__get_le64(p) : 0;
}

void agora__r_bytes(agora_rbuf *r, void *out, size_t n) {
    const uint8_t *p = r_take(r, n);
    if (p && n)
        memcpy(out, p, n);
    else if (n)
        memset(out, 0, n);
}

void agora__r_str(agora_rbuf *r, char *out, size_t cap) {
    out[0] = '\0';
    uint16_t n = agora__r_u16(r);
    if (r->bad)
        return;
    if (n == 0 || (size_t)n >= cap) {
        r->bad = true;
        return;
    }
    const uint8_t *p = r_take(r, n);
    if (!p)
        return;
    if (memchr(p, 0, n) != NULL) {
        r->bad = true;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

agora_err agora__r_done(const agora_rbuf *r) {
    if (r->bad)
        return AGORA_ETRUNCATED;
    if (r->off != r->len)
        return AGORA_EPROTO;
    return AGORA_OK;
}
