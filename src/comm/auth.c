/* auth.c: PSK challenge-response with libsodium crypto_auth (see auth.h). */
#include "comm/auth.h"

#include <sodium.h>
#include <string.h>

#include "comm/wire.h"

#include <stdio.h>

#include "agora/alloc.h"
#include "comm/xxh.h"

_Static_assert(AGORA_AUTH_MAC == crypto_auth_BYTES, "mac size");
_Static_assert(AGORA_COMM_KEY_BYTES == crypto_auth_KEYBYTES, "key size");

agora_err agora__auth_init(void) {
    return sodium_init() < 0 ? AGORA_EIO : AGORA_OK;
}

void agora__auth_nonce(uint8_t nonce[AGORA_AUTH_NONCE]) {
    randombytes_buf(nonce, AGORA_AUTH_NONCE);
}

void agora__auth_wipe(void *p, size_t n) {
    sodium_memzero(p, n);
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

// ---- the master link's session ----

void agora__session_start(agora__session *s, const uint8_t key[AGORA_COMM_KEY_BYTES],
                          const uint8_t nonce_c[AGORA_AUTH_NONCE],
                          const uint8_t nonce_p[AGORA_AUTH_NONCE], bool coord) {
    uint8_t both[2 * AGORA_AUTH_NONCE];
    memcpy(both, nonce_c, AGORA_AUTH_NONCE);
    memcpy(both + AGORA_AUTH_NONCE, nonce_p, AGORA_AUTH_NONCE);
    labelled(key, "agora/v1/session", both, sizeof both, s->key);
    crypto_generichash_state st;
    crypto_generichash_init(&st, s->key, AGORA_COMM_KEY_BYTES, 16);
    memcpy(s->keyed, &st, sizeof st);
    sodium_memzero(&st, sizeof st);
    s->on = true;
    s->coord = coord;
    s->tx = s->rx = 0;
}

void agora__session_end(agora__session *s) {
    sodium_memzero(s, sizeof *s);
}

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(((agora__session *)0)->keyed),
               "BLAKE2b state size");

uint64_t agora__session_mac(const agora__session *s, uint8_t dir, uint64_t seq,
                            const uint8_t hdr24[24], const void *payload, size_t len) {
    uint8_t pre[9], out[16];
    pre[0] = dir;
    agora__put_le64(pre + 1, seq);
    crypto_generichash_state st;
    memcpy(&st, s->keyed, sizeof st);
    crypto_generichash_update(&st, pre, sizeof pre);
    crypto_generichash_update(&st, hdr24, 24);
    if (len > 0)
        crypto_generichash_update(&st, payload, len);
    crypto_generichash_final(&st, out, sizeof out);
    return agora__get_le64(out);
}

void agora__session_seal(agora__session *s, uint8_t hdr[AGORA_WIRE_HDR], uint8_t type, uint64_t tag,
                         const void *payload, uint32_t len) {
    if (s == NULL || !s->on) {
        agora__frame_build(hdr, type, tag, payload, len);
        return;
    }
    agora__frame_hdr_prefix(hdr, type, AGORA_FRAME_F_MAC, tag, len);
    agora__put_le64(hdr + 24,
                    agora__session_mac(s, s->coord ? 'C' : 'P', s->tx++, hdr, payload, len));
}

agora_err agora__session_check(agora__session *s, const uint8_t raw[AGORA_WIRE_HDR],
                               const agora_frame_hdr *hdr, const void *payload) {
    if (s == NULL || !s->on) {
        if (hdr->flags & AGORA_FRAME_F_MAC)
            return AGORA_EPROTO; /* no session yet: nothing can check it */
        return agora__frame_checksum(raw, payload, hdr->length) == hdr->checksum ? AGORA_OK
                                                                                 : AGORA_ECHECKSUM;
    }
    if (!(hdr->flags & AGORA_FRAME_F_MAC))
        return AGORA_EAUTH;
    uint8_t want[8], got[8];
    agora__put_le64(want,
                    agora__session_mac(s, s->coord ? 'P' : 'C', s->rx, raw, payload, hdr->length));
    agora__put_le64(got, hdr->checksum);
    if (sodium_memcmp(want, got, sizeof want) != 0)
        return AGORA_EAUTH;
    s->rx++;
    return AGORA_OK;
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

// ---- ring data ----

void agora__ring_key(const uint8_t psk[AGORA_COMM_KEY_BYTES], uint64_t epoch,
                     const uint8_t nonce[AGORA_RING_NONCE], uint8_t out[AGORA_COMM_KEY_BYTES]) {
    uint8_t d[8 + AGORA_RING_NONCE];
    agora__put_le64(d, epoch);
    memcpy(d + 8, nonce, AGORA_RING_NONCE);
    labelled(psk, "agora/v1/ring", d, sizeof d, out);
}

void agora__ss_key(const uint8_t ring_key[AGORA_COMM_KEY_BYTES],
                   const uint8_t nonce[AGORA_AUTH_NONCE], uint8_t out[AGORA_COMM_KEY_BYTES]) {
    labelled(ring_key, "agora/v1/ss", nonce, AGORA_AUTH_NONCE, out);
}

_Static_assert(AGORA_COMM_KEY_BYTES == crypto_stream_xchacha20_KEYBYTES, "ring key size");
_Static_assert(crypto_onetimeauth_KEYBYTES == 32, "Poly1305 key size");

struct agora__fh {
    crypto_onetimeauth_state poly; /* libsodium aligns it */
    void *xxh;
    bool mac;
};

agora__fh *agora__fh_new(void) {
    agora__fh *h = agora_malloc_aligned(sizeof *h);
    if (h == NULL)
        return NULL;
    memset(h, 0, sizeof *h);
    h->xxh = agora__xxh_state_new();
    if (h->xxh == NULL) {
        agora_free_aligned(h);
        return NULL;
    }
    return h;
}

void agora__fh_free(agora__fh *h) {
    if (h == NULL)
        return;
    agora__xxh_state_free(h->xxh);
    sodium_memzero(&h->poly, sizeof h->poly);
    agora_free_aligned(h);
}

static void one_time_key(const uint8_t *key, const agora__fpos *pos, uint8_t otk[32]) {
    uint8_t n[crypto_stream_xchacha20_NONCEBYTES] = {0};
    agora__put_le64(n, pos->seq);
    n[8] = pos->phase;
    agora__put_le32(n + 9, pos->step);
    agora__put_le32(n + 13, pos->chunk);
    agora__put_le32(n + 17, pos->piece);
    crypto_stream_xchacha20(otk, 32, n, key);
}

void agora__fh_reset(agora__fh *h, const uint8_t *key, const agora__fpos *pos,
                     const uint8_t hdr24[24]) {
    h->mac = key != NULL;
    if (!h->mac) {
        agora__xxh3_reset(h->xxh, agora__xxh3(hdr24, 24));
        return;
    }
    uint8_t otk[32];
    one_time_key(key, pos, otk);
    crypto_onetimeauth_init(&h->poly, otk);
    sodium_memzero(otk, sizeof otk);
    crypto_onetimeauth_update(&h->poly, hdr24, 24);
}

void agora__fh_update(agora__fh *h, const void *p, size_t n) {
    if (h->mac)
        crypto_onetimeauth_update(&h->poly, p, n);
    else
        agora__xxh3_update(h->xxh, p, n);
}

uint64_t agora__fh_digest(agora__fh *h) {
    if (!h->mac)
        return agora__xxh3_digest(h->xxh);
    uint8_t tag[crypto_onetimeauth_BYTES];
    crypto_onetimeauth_final(&h->poly, tag);
    return agora__get_le64(tag);
}

uint64_t agora__fh_frame(const uint8_t *key, const agora__fpos *pos, const uint8_t hdr24[24],
                         const void *payload, size_t len) {
    if (key == NULL)
        return agora__frame_checksum(hdr24, payload, len);
    crypto_onetimeauth_state st;
    uint8_t otk[32], tag[crypto_onetimeauth_BYTES];
    one_time_key(key, pos, otk);
    crypto_onetimeauth_init(&st, otk);
    crypto_onetimeauth_update(&st, hdr24, 24);
    crypto_onetimeauth_update(&st, payload, len);
    crypto_onetimeauth_final(&st, tag);
    sodium_memzero(otk, sizeof otk);
    return agora__get_le64(tag);
}
