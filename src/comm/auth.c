/* auth.c: PSK challenge-response with libsodium crypto_auth (see auth.h). */
#include "comm/auth.h"

#include <sodium.h>
#include <string.h>

#include "comm/wire.h"

#include <stdio.h>

#include "agora/alloc.h"

_Static_assert(AGORA_AUTH_MAC == crypto_auth_BYTES, "mac size");
_Static_assert(AGORA_COMM_KEY_BYTES == crypto_auth_KEYBYTES, "key size");

agora_err agora__auth_init(void) {
    return sodium_init() < 0 ? AGORA_EIO : AGORA_OK;
}

void agora__auth_nonce(uint8_t nonce[AGORA_AUTH_NONCE]) {
    randombytes_buf(nonce, AGORA_AUTH_NONCE);
}

static void labelled(const uint8_t key[AGORA_COMM_KEY_BYTES], const char *label,
                     const uint8_t *data, size_t len, uint8_t mac[AGORA_AUTH_MAC]) {
    crypto_auth_hmacsha512256_state st;
    crypto_auth_hmacsha512256_init(&st, key, AGORA_COMM_KEY_BYTES);
    crypto_auth_hmacsha512256_update(&st, (const unsigned char *)label, strlen(label) + 1);
    crypto_auth_hmacsha512256_update(&st, data, len);
    crypto_auth_hmacsha512256_final(&st, mac);
}

void agora__auth_mac(const uint8_t key[AGORA_COMM_KEY_BYTES], const char *label,
                     const uint8_t *data, size_t len, uint8_t mac[AGORA_AUTH_MAC]) {
    labelled(key, label, data, len, mac);
}

agora_err agora__auth_verify(const uint8_t key[AGORA_COMM_KEY_BYTES], const char *label,
                             const uint8_t *data, size_t len, const uint8_t mac[AGORA_AUTH_MAC]) {
    uint8_t want[AGORA_AUTH_MAC];
    labelled(key, label, data, len, want);
    return sodium_memcmp(want, mac, AGORA_AUTH_MAC) == 0 ? AGORA_OK : AGORA_EAUTH;
}

void agora__auth_p2p(const uint8_t key[AGORA_COMM_KEY_BYTES], uint64_t epoch, uint64_t from_id,
                     uint32_t stream, uint8_t mac[AGORA_AUTH_MAC]) {
    uint8_t d[20];
    agora__put_le64(d, epoch);
    agora__put_le64(d + 8, from_id);
    agora__put_le32(d + 16, stream);
    labelled(key, "agora/v1/p2p", d, sizeof d, mac);
}

// ---- public key helpers ----

#include "agora/stream.h"

agora_err agora_comm_key_derive(const void *secret, size_t len, uint8_t key[AGORA_COMM_KEY_BYTES]) {
    AGORA_TRY(agora__auth_init());
    return crypto_generichash(key, AGORA_COMM_KEY_BYTES, secret, len, NULL, 0) == 0 ? AGORA_OK
                                                                                    : AGORA_EIO;
}

agora_err agora_comm_key_from_file(const char *path, uint8_t key[AGORA_COMM_KEY_BYTES],
                                   char err[AGORA_ERR_LEN]) {
    char *buf = NULL;
    size_t len = 0;
    agora_err rc = agora_read_file(path, 64u << 10, &buf, &len, err);
    if (rc != AGORA_OK)
        return rc;
    if (len == 0) {
        snprintf(err, AGORA_ERR_LEN, "%s: the key file is empty", path);
        agora_free(buf);
        return AGORA_EINVAL;
    }
    rc = agora_comm_key_derive(buf, len, key);
    sodium_memzero(buf, len);
    agora_free(buf);
    return rc;
}
