/* auth.h: pre-shared-key challenge-response (libsodium crypto_auth, HMAC-SHA512-256).
 *
 *   peer -> master   HELLO
 *   master -> peer   CHALLENGE nonce_c (32 random bytes)
 *   peer -> master   AUTH mac("agora/v1/peer" || nonce_c), nonce_p
 *   master -> peer   WELCOME id, mac("agora/v1/master" || nonce_p)   (or REJECT)
 * Ring links open with P2P_HELLO mac("agora/v1/p2p" || epoch || from_id || stream) under the
 * epoch's ring key (below), so a HELLO from another epoch or run is refused.
 * After WELCOME every master-link frame is MACed under a session key (below).
 * A peer without the key learns nothing beyond the challenge.
 */
#ifndef AGORA_COMM_AUTH_H
#define AGORA_COMM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/comm.h"
#include "comm/wire.h"

#define AGORA_AUTH_NONCE 32u
#define AGORA_AUTH_MAC 32u

agora_err agora__auth_init(void); /* sodium_init; AGORA_EIO if libsodium cannot start */
void agora__auth_nonce(uint8_t nonce[AGORA_AUTH_NONCE]);
void agora__auth_wipe(void *p, size_t n); /* zeroes key material (not optimized away) */
void agora__auth_mac(const uint8_t key[AGORA_COMM_KEY_BYTES], const char *label,
                     const uint8_t *data, size_t len, uint8_t mac[AGORA_AUTH_MAC]);
/* Constant-time check; AGORA_OK or AGORA_EAUTH. */
agora_err agora__auth_verify(const uint8_t key[AGORA_COMM_KEY_BYTES], const char *label,
                             const uint8_t *data, size_t len, const uint8_t mac[AGORA_AUTH_MAC]);
/* MAC for a P2P_HELLO. */
void agora__auth_p2p(const uint8_t key[AGORA_COMM_KEY_BYTES], uint64_t epoch, uint64_t from_id,
                     uint32_t stream, uint8_t mac[AGORA_AUTH_MAC]);

/* The master link's session, after the handshake (docs/protocol.md, "Frame MACs"). Both
 * ends derive the session key mac("agora/v1/session", nonce_c || nonce_p) from the PSK and
 * the two fresh nonces. Every later frame, either way, sets AGORA_FRAME_F_MAC and carries
 * in its checksum slot the first 8 bytes of keyed BLAKE2b-128 over (direction byte,
 * u64 frame number in that direction, header bytes 0..23, payload). Frame numbers are
 * implicit (counted, not sent), so a forged, altered, replayed, reordered or dropped frame
 * fails the check and the link is closed. */
typedef struct agora__session {
    bool on;
    bool coord; /* this end is the coordinator */
    uint8_t key[AGORA_COMM_KEY_BYTES];
    uint64_t tx, rx; /* frames sent and received under the key */
    /* the bytes of a BLAKE2b state with the key absorbed (libsodium's
     * crypto_generichash_state, plain data), copied into an aligned state per frame: one
     * compression less per MAC. Stored unaligned: the structs holding a session come from
     * malloc. */
    unsigned char keyed[384];
} agora__session;

void agora__session_start(agora__session *s, const uint8_t key[AGORA_COMM_KEY_BYTES],
                          const uint8_t nonce_c[AGORA_AUTH_NONCE],
                          const uint8_t nonce_p[AGORA_AUTH_NONCE], bool coord);
void agora__session_end(agora__session *s); /* wipes the key */
/* The MAC of one frame (dir 'C' coordinator to peer, 'P' the other way). */
uint64_t agora__session_mac(const agora__session *s, uint8_t dir, uint64_t seq,
                            const uint8_t hdr24[24], const void *payload, size_t len);
/* Encodes the header of the next outgoing frame into hdr: with a session, the MAC flag
 * and the MAC (and counts the frame); without one, the XXH3 checksum. */
void agora__session_seal(agora__session *s, uint8_t hdr[AGORA_WIRE_HDR], uint8_t type, uint64_t tag,
                         const void *payload, uint32_t len);
/* Checks a received frame (hdr as decoded from raw): with a session it must carry the MAC
 * flag and the next frame number's MAC (AGORA_EAUTH otherwise); without one, no MAC flag
 * and the XXH3 checksum (AGORA_EPROTO, AGORA_ECHECKSUM). */
agora_err agora__session_check(agora__session *s, const uint8_t raw[AGORA_WIRE_HDR],
                               const agora_frame_hdr *hdr, const void *payload);

/* ---- ring data (docs/protocol.md, "Frame MACs on ring data") ----
 * Every topology change brings a fresh 32-byte nonce from the coordinator (in C2P_TOPO,
 * over the MACed master link); every member derives the epoch's ring key
 * mac("agora/v1/ring", epoch || nonce) from the PSK. Ring links open with a P2P_HELLO MACed
 * under it, and with data MACs on, every P2P_DATA frame carries in its checksum slot the
 * first 8 bytes of a Poly1305 tag over header bytes 0..23 and the payload, under a one-time
 * key: 32 bytes of XChaCha20 keystream under the ring key for the frame's position (the
 * collective's sequence number, the phase, the reduce-scatter step, the chunk and the
 * piece). All-gather frames leave the step out, so a frame forwarded byte for byte around
 * the ring stays valid; every other position occurs once per collective. */
#define AGORA_RING_NONCE 32u
void agora__ring_key(const uint8_t psk[AGORA_COMM_KEY_BYTES], uint64_t epoch,
                     const uint8_t nonce[AGORA_RING_NONCE], uint8_t out[AGORA_COMM_KEY_BYTES]);

/* The key of one shared-state pull: mac_{ring key}("agora/v1/ss", nonce), nonce fresh from
 * the puller (in P2P_SS_REQ); its frames are at positions {elected revision, 2, 0, 0,
 * tensor index}. */
void agora__ss_key(const uint8_t ring_key[AGORA_COMM_KEY_BYTES],
                   const uint8_t nonce[AGORA_AUTH_NONCE], uint8_t out[AGORA_COMM_KEY_BYTES]);

/* Where a data frame sits in a collective: its MAC's nonce. */
typedef struct agora__fpos {
    uint64_t seq;   /* the collective */
    uint8_t phase;  /* 0 reduce-scatter, 1 all-gather */
    uint32_t step;  /* reduce-scatter step (0 in the all-gather) */
    uint32_t chunk; /* chunk index */
    uint32_t piece; /* piece index in the chunk */
} agora__fpos;

/* The streaming hash of one data frame: XXH3 (the checksum) when key is NULL, else the
 * MAC above. Allocate with agora__fh_new (it holds either state, suitably aligned). */
typedef struct agora__fh agora__fh;
agora__fh *agora__fh_new(void);
void agora__fh_free(agora__fh *h); /* NULL-safe; wipes the MAC state */
/* Starts a frame whose header bytes 0..23 are hdr24. */
void agora__fh_reset(agora__fh *h, const uint8_t *key, const agora__fpos *pos,
                     const uint8_t hdr24[24]);
void agora__fh_update(agora__fh *h, const void *p, size_t n);
uint64_t agora__fh_digest(agora__fh *h);
/* The whole frame at once: agora__frame_checksum's value when key is NULL. */
uint64_t agora__fh_frame(const uint8_t *key, const agora__fpos *pos, const uint8_t hdr24[24],
                         const void *payload, size_t len);

#endif /* AGORA_COMM_AUTH_H */
