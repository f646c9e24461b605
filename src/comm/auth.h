/* auth.h: pre-shared-key challenge-response (libsodium crypto_auth, HMAC-SHA512-256).
 *
 *   peer -> master   HELLO
 *   master -> peer   CHALLENGE nonce_c (32 random bytes)
 *   peer -> master   AUTH mac("agora/v1/peer" || nonce_c), nonce_p
 *   master -> peer   WELCOME id, mac("agora/v1/master" || nonce_p)   (or REJECT)
 * Ring links open with P2P_HELLO mac("agora/v1/p2p" || epoch || from_id || stream).
 * A peer without the key learns nothing beyond the challenge.
 */
#ifndef AGORA_COMM_AUTH_H
#define AGORA_COMM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "agora/comm.h"

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

#endif /* AGORA_COMM_AUTH_H */
