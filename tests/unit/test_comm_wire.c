/* test_comm_wire.c: frame header, bounds and checksum (src/comm/wire.c). */
#include "agora_test.h"

#include <string.h>

#include <xxhash.h>

#include "comm/auth.h"
#include "comm/wire.h"
#include "comm/xxh.h"

static void wire_header_round_trips_little_endian(void **state) {
    (void)state;
    uint8_t payload[3] = {1, 2, 3};
    uint8_t f[AGORA_WIRE_HDR + 3];
    agora__frame_build(f, AGORA_MSG_P2C_HEARTBEAT, 0x0102030405060708ull, payload, 3);
    memcpy(f + AGORA_WIRE_HDR, payload, 3);
    /* byte offsets of docs/protocol.md */
    assert_int_equal(f[0], 'A');
    assert_int_equal(f[1], 'G');
    assert_int_equal(f[2], 'R');
    assert_int_equal(f[3], 'A');
    assert_int_equal(f[4], AGORA_WIRE_VERSION);
    assert_int_equal(f[5], AGORA_MSG_P2C_HEARTBEAT);
    assert_int_equal(f[8], 3);
    assert_int_equal(f[9], 0);
    assert_int_equal(f[16], 0x08);
    assert_int_equal(f[23], 0x01);
    agora_frame_hdr h;
    const uint8_t *p;
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p),
                     AGORA_EOVERFLOW); /* HEARTBEAT carries nothing */
    agora__frame_build(f, AGORA_MSG_P2C_INITIATE, 7, payload, 3);
    agora_assert_ok(agora__frame_parse(f, sizeof f, &h, &p));
    assert_int_equal(h.type, AGORA_MSG_P2C_INITIATE);
    assert_int_equal(h.length, 3);
    assert_true(h.tag == 7);
    assert_memory_equal(p, payload, 3);
}

static void wire_rejects_bad_magic_version_flags(void **state) {
    (void)state;
    uint8_t f[AGORA_WIRE_HDR];
    agora_frame_hdr h;
    const uint8_t *p;
    agora__frame_build(f, AGORA_MSG_P2C_HEARTBEAT, 0, NULL, 0);
    agora_assert_ok(agora__frame_parse(f, sizeof f, &h, &p));
    f[0] ^= 1;
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_EPROTO);
    f[0] ^= 1;
    f[4] = AGORA_WIRE_VERSION + 1;
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_EVERSION);
    f[4] = AGORA_WIRE_VERSION;
    f[6] = 1;
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_EPROTO);
    f[6] = 0;
    f[5] = 200; /* unknown type */
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_EPROTO);
    agora_assert_err(agora__frame_parse(f, 10, &h, &p), AGORA_ETRUNCATED);
}

static void wire_length_bounded_per_type(void **state) {
    (void)state;
    for (unsigned t = 1; t < AGORA__MSG_MAX; t++)
        assert_true(agora__wire_max_len((uint8_t)t) <= AGORA_WIRE_MAX_DATA);
    assert_true(agora__wire_max_len(AGORA_MSG_P2C_HEARTBEAT) == 0);
    uint8_t f[AGORA_WIRE_HDR];
    agora_frame_hdr h = {AGORA_WIRE_MAGIC,
                         AGORA_WIRE_VERSION,
                         AGORA_MSG_P2P_DATA,
                         0,
                         AGORA_WIRE_MAX_DATA + 1u,
                         0,
                         0,
                         0};
    agora__hdr_encode(f, &h);
    agora_frame_hdr g;
    agora_assert_err(agora__hdr_decode(f, &g), AGORA_EOVERFLOW);
    h.type = AGORA_MSG_P2C_SS_SYNC;
    h.length = AGORA_WIRE_MAX_CTRL + 1;
    agora__hdr_encode(f, &h);
    agora_assert_err(agora__hdr_decode(f, &g), AGORA_EOVERFLOW);
}

static void wire_checksum_detects_flips(void **state) {
    (void)state;
    uint8_t payload[19];
    for (int i = 0; i < 19; i++)
        payload[i] = (uint8_t)(i * 13);
    uint8_t f[AGORA_WIRE_HDR + 19];
    agora__frame_build(f, AGORA_MSG_P2C_INITIATE, 1, payload, 19);
    memcpy(f + AGORA_WIRE_HDR, payload, 19);
    agora_frame_hdr h;
    const uint8_t *p;
    agora_assert_ok(agora__frame_parse(f, sizeof f, &h, &p));
    for (size_t bit = 0; bit < 8 * 19; bit++) {
        f[AGORA_WIRE_HDR + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_ECHECKSUM);
        f[AGORA_WIRE_HDR + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    f[16] ^= 4; /* the tag is covered too */
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_ECHECKSUM);
}

static void wire_reader_never_overruns(void **state) {
    (void)state;
    uint8_t b[5] = {3, 0, 'a', 'b', 'c'};
    agora_rbuf r = {b, 5, 0, false};
    char s[8];
    agora__r_str(&r, s, sizeof s);
    assert_string_equal(s, "abc");
    agora_assert_ok(agora__r_done(&r));
    (void)agora__r_u64(&r);
    assert_true(r.bad);
    agora_assert_err(agora__r_done(&r), AGORA_ETRUNCATED);
    uint8_t big[4] = {200, 0, 'x', 'y'};
    agora_rbuf r2 = {big, 4, 0, false};
    agora__r_str(&r2, s, sizeof s);
    assert_true(r2.bad);
    uint8_t nul[4] = {2, 0, 'x', 0};
    agora_rbuf r3 = {nul, 4, 0, false};
    agora__r_str(&r3, s, sizeof s);
    assert_true(r3.bad);
    uint8_t out[4];
    agora_wbuf w = {out, 0, 4, false};
    agora__w_u64(&w, 1);
    assert_true(w.overflow);
    agora_rbuf r4 = {b, 5, 0, false};
    (void)agora__r_u8(&r4);
    agora_assert_err(agora__r_done(&r4), AGORA_EPROTO); /* trailing bytes */
}

/* The checksum may run on the AVX2 build of XXH3; its digests must equal libxxhash's, for
 * one-shot and streaming use, at every length around the internal block sizes. */
static void wire_checksum_matches_libxxhash(void **state) {
    (void)state;
    static uint8_t buf[5000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    void *st = agora__xxh_state_new();
    assert_non_null(st);
    for (size_t n = 0; n < sizeof buf; n += (n < 300 ? 1 : 97)) {
        uint64_t seed = n * 31;
        assert_true(agora__xxh3_seeded(buf, n, seed) == XXH3_64bits_withSeed(buf, n, seed));
        agora__xxh3_reset(st, seed);
        agora__xxh3_update(st, buf, n / 3);
        agora__xxh3_update(st, buf + n / 3, n - n / 3);
        assert_true(agora__xxh3_digest(st) == XXH3_64bits_withSeed(buf, n, seed));
    }
    agora__xxh_state_free(st);
}

static void wire_header_only_checksum_is_limited_to_ring_data(void **state) {
    (void)state;
    uint8_t payload[16] = {1, 2, 3, 4};
    uint8_t f[AGORA_WIRE_HDR + 16];
    agora_frame_hdr h;
    const uint8_t *p;
    agora__frame_build_flags(f, AGORA_MSG_P2P_DATA, AGORA_FRAME_F_HDR_ONLY, 9, payload, 16);
    memcpy(f + AGORA_WIRE_HDR, payload, 16);
    agora_assert_ok(agora__frame_parse(f, sizeof f, &h, &p));
    f[AGORA_WIRE_HDR] ^= 1; /* the payload is not covered */
    agora_assert_ok(agora__frame_parse(f, sizeof f, &h, &p));
    f[16] ^= 1; /* the header still is */
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_ECHECKSUM);
    agora__frame_build_flags(f, AGORA_MSG_P2C_INITIATE, AGORA_FRAME_F_HDR_ONLY, 9, payload, 16);
    memcpy(f + AGORA_WIRE_HDR, payload, 16);
    agora_assert_err(agora__frame_parse(f, sizeof f, &h, &p), AGORA_EPROTO);
}

/* The master link's session (auth.h): each end checks the other's frames in order; any
 * changed bit, a replay, a frame sealed for the other direction, an unMACed frame, or a
 * session from other nonces fails. */
static void wire_session_macs_catch_forgery_replay_and_direction(void **state) {
    (void)state;
    agora_assert_ok(agora__auth_init());
    uint8_t key[AGORA_COMM_KEY_BYTES], nc[AGORA_AUTH_NONCE], np[AGORA_AUTH_NONCE];
    memset(key, 7, sizeof key);
    agora__auth_nonce(nc);
    agora__auth_nonce(np);
    agora__session co, pe, other;
    agora__session_start(&co, key, nc, np, true);
    agora__session_start(&pe, key, nc, np, false);
    uint8_t f[AGORA_WIRE_HDR + 12], raw[AGORA_WIRE_HDR + 12];
    const uint8_t pay[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    agora_frame_hdr h;
    for (int i = 0; i < 3; i++) { /* in order: accepted, and the counters move together */
        agora__session_seal(&co, f, AGORA_MSG_C2P_VERDICT, (uint64_t)i, pay, sizeof pay);
        memcpy(f + AGORA_WIRE_HDR, pay, sizeof pay);
        agora_assert_ok(agora__hdr_decode(f, &h));
        assert_true(h.flags & AGORA_FRAME_F_MAC);
        agora_assert_ok(agora__session_check(&pe, f, &h, f + AGORA_WIRE_HDR));
    }
    assert_int_equal(co.tx, 3);
    assert_int_equal(pe.rx, 3);
    /* the next frame, with each bit of header bytes 0..23 or the payload flipped */
    agora__session_seal(&co, f, AGORA_MSG_C2P_VERDICT, 9, pay, sizeof pay);
    memcpy(f + AGORA_WIRE_HDR, pay, sizeof pay);
    for (size_t bit = 0; bit < 8 * sizeof f; bit++) {
        if (bit / 8 >= 24 && bit / 8 < 32)
            continue; /* the tag itself: covered below */
        memcpy(raw, f, sizeof f);
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (agora__hdr_decode(raw, &h) != AGORA_OK || h.length != sizeof pay)
            continue; /* the header decoder already refuses it */
        assert_int_equal(agora__session_check(&pe, raw, &h, raw + AGORA_WIRE_HDR), AGORA_EAUTH);
    }
    memcpy(raw, f, sizeof f);
    raw[24] ^= 0x80;
    agora_assert_ok(agora__hdr_decode(raw, &h));
    assert_int_equal(agora__session_check(&pe, raw, &h, raw + AGORA_WIRE_HDR), AGORA_EAUTH);
    assert_int_equal(pe.rx, 3); /* nothing counted */
    agora_assert_ok(agora__hdr_decode(f, &h));
    agora_assert_ok(agora__session_check(&pe, f, &h, f + AGORA_WIRE_HDR));
    /* a replay of that frame */
    assert_int_equal(agora__session_check(&pe, f, &h, f + AGORA_WIRE_HDR), AGORA_EAUTH);
    /* a frame the peer sealed, fed back to the peer: wrong direction */
    agora__session_seal(&pe, f, AGORA_MSG_P2C_HEARTBEAT, 0, NULL, 0);
    agora_assert_ok(agora__hdr_decode(f, &h));
    assert_int_equal(agora__session_check(&pe, f, &h, NULL), AGORA_EAUTH);
    /* the same frame reaches the coordinator: fine */
    agora_assert_ok(agora__session_check(&co, f, &h, NULL));
    /* an unMACed frame with a correct XXH3 checksum, on a session */
    agora__frame_build(f, AGORA_MSG_P2C_HEARTBEAT, 0, NULL, 0);
    agora_assert_ok(agora__hdr_decode(f, &h));
    assert_int_equal(agora__session_check(&co, f, &h, NULL), AGORA_EAUTH);
    /* and a MACed one where no session runs yet */
    agora__session_seal(&pe, f, AGORA_MSG_P2C_HEARTBEAT, 0, NULL, 0);
    agora_assert_ok(agora__hdr_decode(f, &h));
    assert_int_equal(agora__session_check(NULL, f, &h, NULL), AGORA_EPROTO);
    const uint8_t *pp;
    assert_int_equal(agora__frame_parse(f, AGORA_WIRE_HDR, &h, &pp), AGORA_EAUTH);
    /* a session from other nonces (an earlier connection) does not check this one's */
    agora__auth_nonce(nc);
    agora__session_start(&other, key, nc, np, true);
    other.rx = pe.tx - 1;
    assert_int_equal(agora__session_check(&other, f, &h, NULL), AGORA_EAUTH);
    /* MACs are allowed on ring data (auth.h), never with a header-only checksum, and on no
     * other P2P frame */
    agora__frame_build(f, AGORA_MSG_P2P_DATA, 0, NULL, 0);
    f[6] |= AGORA_FRAME_F_MAC;
    assert_int_equal(agora__hdr_decode(f, &h), AGORA_OK);
    f[6] |= AGORA_FRAME_F_HDR_ONLY;
    assert_int_equal(agora__hdr_decode(f, &h), AGORA_EPROTO);
    agora__frame_build(f, AGORA_MSG_P2P_HELLO, 0, NULL, 0);
    f[6] |= AGORA_FRAME_F_MAC;
    assert_int_equal(agora__hdr_decode(f, &h), AGORA_EPROTO);
    agora__session_end(&co);
    assert_false(co.on);
}

/* Ring data MACs (auth.h): streaming equals one-shot; without a key the value is the XXH3
 * checksum; every bit of header and payload, every field of the position, the key, and the
 * epoch and nonce behind the key change the MAC. */
static void wire_ring_data_macs_bind_key_position_and_bytes(void **state) {
    (void)state;
    assert_int_equal(agora__auth_init(), AGORA_OK);
    uint8_t psk[AGORA_COMM_KEY_BYTES], nonce[AGORA_RING_NONCE], key[AGORA_COMM_KEY_BYTES];
    uint8_t key2[AGORA_COMM_KEY_BYTES];
    for (size_t i = 0; i < sizeof psk; i++)
        psk[i] = (uint8_t)(i * 13 + 1);
    memset(nonce, 7, sizeof nonce);
    agora__ring_key(psk, 5, nonce, key);
    agora__ring_key(psk, 6, nonce, key2);
    assert_memory_not_equal(key, key2, sizeof key);
    nonce[31] ^= 1;
    agora__ring_key(psk, 5, nonce, key2);
    assert_memory_not_equal(key, key2, sizeof key);
    uint8_t payload[1000], f[AGORA_WIRE_HDR];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    agora__frame_hdr_prefix(f, AGORA_MSG_P2P_DATA, AGORA_FRAME_F_MAC, 42, sizeof payload);
    agora__fpos pos = {42, 0, 1, 2, 3};
    uint64_t mac = agora__fh_frame(key, &pos, f, payload, sizeof payload);
    agora__fh *h = agora__fh_new();
    assert_non_null(h);
    agora__fh_reset(h, key, &pos, f);
    agora__fh_update(h, payload, 10);
    agora__fh_update(h, payload + 10, sizeof payload - 10);
    assert_true(agora__fh_digest(h) == mac);
    /* no key: the frame checksum, streamed or not */
    uint8_t g[AGORA_WIRE_HDR];
    agora__frame_build_flags(g, AGORA_MSG_P2P_DATA, 0, 42, payload, sizeof payload);
    uint64_t sum = agora__get_le64(g + 24);
    assert_true(agora__fh_frame(NULL, &pos, g, payload, sizeof payload) == sum);
    agora__fh_reset(h, NULL, &pos, g);
    agora__fh_update(h, payload, sizeof payload);
    assert_true(agora__fh_digest(h) == sum);
    agora__fh_free(h);
    for (size_t bit = 0; bit < 24 * 8; bit++) {
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(agora__fh_frame(key, &pos, f, payload, sizeof payload) != mac);
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < sizeof payload * 8; bit += 7) {
        payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(agora__fh_frame(key, &pos, f, payload, sizeof payload) != mac);
        payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    const agora__fpos moved[] = {
        {43, 0, 1, 2, 3}, {42, 1, 1, 2, 3}, {42, 0, 2, 2, 3}, {42, 0, 1, 3, 3}, {42, 0, 1, 2, 4}};
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++)
        assert_true(agora__fh_frame(key, &moved[i], f, payload, sizeof payload) != mac);
    assert_true(agora__fh_frame(key2, &pos, f, payload, sizeof payload) != mac);
    agora__fh_free(NULL);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wire_header_round_trips_little_endian),
        cmocka_unit_test(wire_rejects_bad_magic_version_flags),
        cmocka_unit_test(wire_length_bounded_per_type),
        cmocka_unit_test(wire_checksum_detects_flips),
        cmocka_unit_test(wire_reader_never_overruns),
        cmocka_unit_test(wire_checksum_matches_libxxhash),
        cmocka_unit_test(wire_header_only_checksum_is_limited_to_ring_data),
        cmocka_unit_test(wire_session_macs_catch_forgery_replay_and_direction),
        cmocka_unit_test(wire_ring_data_macs_bind_key_position_and_bytes),
    };
    return agora_test_main(tests, argc, argv);
}
