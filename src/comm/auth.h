/* auth.h: pre-shared-key challenge-response (libsodium crypto_auth, HMAC-SHA512-256).
 *
 *   peer -> master   HELLO
 *   master -> peer   CHALLENGE nonce_c (32 random bytes)
 *   peer -> master   AUTH mac("agora/v1/peer" || nonce_c), nonce_p
 *   master -> peer   WELCOME id, mac("agora/v1/master" || nonce_p)   (or REJECT)
 * Ring links open with P2P_HELLO mac("agora/v1/p2p" || epoch || from_id || stream).
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

#endif /* AGORA_COMM_AUTH_H */
