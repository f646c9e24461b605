/* test_data.c: token shards, `data prepare`, and the worker-sharded, resumable loader. */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/data.h"
#include "agora/hash.h"
#include "agora/rng.h"
#include "agora/stream.h"
#include "agora/tokenizer.h"

// ---- helpers ----

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_whole(const char *path, size_t *len) {
    char *buf = NULL, err[AGORA_ERR_LEN];
    agora_assert_ok(agora_read_file(path, 1 << 28, &buf, len, err));
    return (uint8_t *)buf;
}

/* Writes a shard directory by hand: one split of ids 0..n-1 (mod vocab) over k shards,
 * so tests know exactly which token sits where. */
static void write_synthetic_dir(const char *dir, uint64_t n_train, uint32_t n_shards,
                                uint32_t vocab) {
    char path[4200], err[AGORA_ERR_LEN];
    uint32_t *ids = malloc((n_train + 1) * sizeof *ids);
    for (uint64_t i = 0; i < n_train; i++)
        ids[i] = (uint32_t)(i % vocab);
    char meta[8192];
    size_t m = (size_t)snprintf(meta, sizeof meta,
                                "{\"format\":\"agora-shards\",\"version\":1,\"vocab_size\":%u,"
                                "\"token_bytes\":%u,\"tokenizer\":\"tokenizer.bpe\","
                                "\"train\":{\"tokens\":%llu,\"shards\":[",
                                vocab, vocab <= 65536 ? 2u : 4u, (unsigned long long)n_train);
    uint64_t off = 0;
    for (uint32_t s = 0; s < n_shards; s++) {
        uint64_t end = n_train * (s + 1) / n_shards;
        snprintf(path, sizeof path, "%s/train_%03u.bin", dir, s);
        agora_assert_ok(agora_shard_write(path, ids + off, (size_t)(end - off), vocab, err));
        m += (size_t)snprintf(meta + m, sizeof meta - m, "%s\"train_%03u.bin\"", s ? "," : "", s);
        off = end;
    }
    snprintf(path, sizeof path, "%s/val_000.bin", dir);
    agora_assert_ok(agora_shard_write(path, ids, 100, vocab, err));
    m += (size_t)snprintf(meta + m, sizeof meta - m,
                          "]},\"val\":{\"tokens\":100,\"shards\":[\"val_000.bin\"]}}");
    snprintf(path, sizeof path, "%s/meta.json", dir);
    write_file(path, meta, m);
    free(ids);
}

static agora_data_loader *open_ok(const char *dir, const char *split, uint32_t w, uint32_t n,
                                  uint64_t seed) {
    agora_data_loader *l = NULL;
    char err[AGORA_ERR_LEN];
    agora_err rc = agora_data_loader_open(dir, split, w, n, seed, &l, err);
    if (rc != AGORA_OK)
        fail_msg("open %s/%s worker %u/%u: %s", dir, split, w, n, err);
    return l;
}

/* Digest of the next `steps` batches. */
static uint64_t stream_digest(agora_data_loader *l, int steps, int B, int T) {
    int32_t *in = malloc((size_t)B * (size_t)T * sizeof *in);
    int32_t *tg = malloc((size_t)B * (size_t)T * sizeof *tg);
    uint64_t h = 0;
    for (int s = 0; s < steps; s++) {
        agora_assert_ok(agora_data_loader_next(l, B, T, in, tg));
        h = agora_hash64_seeded(in, (size_t)B * (size_t)T * sizeof *in, h);
        h = agora_hash64_seeded(tg, (size_t)B * (size_t)T * sizeof *tg, h);
    }
    free(in);
    free(tg);
    return h;
}

// ---- shards ----

static void data_shard_roundtrips_uint16_and_uint32(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir(), path[4200], err[AGORA_ERR_LEN];
    const uint32_t vocabs[2] = {50257, 100000};
    for (int v = 0; v < 2; v++) {
        uint32_t ids[1000];
        for (uint32_t i = 0; i < 1000; i++)
            ids[i] = (i * 7919u) % vocabs[v];
        snprintf(path, sizeof path, "%s/s%d.bin", dir, v);
        agora_assert_ok(agora_shard_write(path, ids, 1000, vocabs[v], err));
        size_t flen = 0;
        uint8_t *raw = read_whole(path, &flen);
        assert_int_equal(flen, 64 + 1000 * (v == 0 ? 2 : 4));
        agora_shard_header h;
        agora_assert_ok(agora_shard_header_decode(raw, flen, &h, err));
        assert_int_equal(h.token_bytes, v == 0 ? 2 : 4);
        assert_int_equal(h.vocab_size, vocabs[v]);
        assert_int_equal(h.n_tokens, 1000);
        agora_free(raw);
        uint32_t *back = NULL, vocab = 0;
        size_t n = 0;
        agora_assert_ok(agora_shard_read(path, &back, &n, &vocab, err));
        assert_int_equal(n, 1000);
        assert_int_equal(vocab, vocabs[v]);
        assert_memory_equal(back, ids, sizeof ids);
        agora_free(back);
    }
    agora_test_rmtree(dir);
    free(dir);
}

/* Corrupts a copy of a good shard with f and expects rc and a message part. */
static void expect_shard_error(const char *dir, const uint8_t *good, size_t len, size_t new_len,
                               void (*f)(uint8_t *), agora_err want, const char *part) {
    char path[4200], err[AGORA_ERR_LEN];
    uint8_t *b = malloc(len + 16);
    memcpy(b, good, len);
    memset(b + len, 0x55, 16);
    f(b);
    snprintf(path, sizeof path, "%s/bad.bin", dir);
    write_file(path, b, new_len);
    uint32_t *ids = NULL;
    size_t n = 0;
    agora_err rc = agora_shard_read(path, &ids, &n, NULL, err);
    if (rc != want || strstr(err, part) == NULL || strstr(err, "bad.bin") == NULL)
        fail_msg("got %s \"%s\", want %s with \"%s\"", agora_err_name(rc), err,
                 agora_err_name(want), part);
    free(b);
}

static void reseal(uint8_t *b) {
    uint64_t h = agora_hash64(b, 56);
    for (int i = 0; i < 8; i++)
        b[56 + i] = (uint8_t)(h >> (8 * i));
}
static void nop(uint8_t *b) {
    (void)b;
}
static void bad_magic(uint8_t *b) {
    b[0] = 'X';
}
static void bad_version(uint8_t *b) {
    b[8] = 9, reseal(b);
}
static void bad_header_sum(uint8_t *b) {
    b[16] ^= 1;
}
static void bad_width(uint8_t *b) {
    b[12] = 3, reseal(b);
}
static void bad_vocab(uint8_t *b) {
    b[18] = 7, reseal(b);
} /* 2-byte ids, vocab > 65536 */
static void bad_count(uint8_t *b) {
    b[24] += 1, reseal(b);
}
static void bad_payload(uint8_t *b) {
    b[64 + 10] ^= 0x40;
}
static void bad_reserved(uint8_t *b) {
    b[44] = 1, reseal(b);
}
static void big_id(uint8_t *b) {
    b[64] = 0xff, b[65] = 0xff; /* id 65535 >= vocab 1000 */
    uint64_t h = agora_hash64(b + 64, 200);
    for (int i = 0; i < 8; i++)
        b[32 + i] = (uint8_t)(h >> (8 * i));
    reseal(b);
}

static void data_shard_malformed_headers_are_rejected_clearly(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir(), path[4200], err[AGORA_ERR_LEN];
    uint32_t ids[100];
    for (uint32_t i = 0; i < 100; i++)
        ids[i] = i;
    snprintf(path, sizeof path, "%s/good.bin", dir);
    agora_assert_ok(agora_shard_write(path, ids, 100, 1000, err));
    size_t len = 0;
    uint8_t *good = read_whole(path, &len);
    assert_int_equal(len, 264);
    expect_shard_error(dir, good, len, len, bad_magic, AGORA_EPARSE, "not a token shard");
    expect_shard_error(dir, good, len, len, bad_version, AGORA_EVERSION, "version 9");
    expect_shard_error(dir, good, len, len, bad_header_sum, AGORA_ECHECKSUM, "header checksum");
    expect_shard_error(dir, good, len, len, bad_width, AGORA_ERANGE, "token width 3");
    expect_shard_error(dir, good, len, len, bad_vocab, AGORA_ERANGE, "does not fit 2-byte");
    expect_shard_error(dir, good, len, len, bad_reserved, AGORA_EPARSE, "reserved");
    expect_shard_error(dir, good, len, len, bad_count, AGORA_ETRUNCATED, "truncated");
    expect_shard_error(dir, good, len, len - 3, nop, AGORA_ETRUNCATED, "truncated");
    expect_shard_error(dir, good, len, 30, nop, AGORA_ETRUNCATED, "header is 30 bytes");
    expect_shard_error(dir, good, len, len + 2, nop, AGORA_EPARSE, "after the last token");
    expect_shard_error(dir, good, len, len, bad_payload, AGORA_ECHECKSUM, "payload checksum");
    expect_shard_error(dir, good, len, len, big_id, AGORA_ERANGE, "id 65535 >= vocab size 1000");
    uint32_t *out = NULL;
    size_t n = 0;
    agora_assert_err(agora_shard_read("/nonexistent/x.bin", &out, &n, NULL, err), AGORA_ENOENT);
    agora_free(good);
    agora_test_rmtree(dir);
    free(dir);
}

// ---- loader ----

static void data_loader_batches_are_next_token_windows(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    write_synthetic_dir(dir, 10000, 3, 60000);
    agora_data_loader *l = open_ok(dir, "train", 0, 1, 1);
    assert_int_equal(agora_data_loader_vocab_size(l), 60000);
    assert_int_equal(agora_data_loader_n_tokens(l), 10000);
    enum { B = 4, T = 16 };
    int32_t in[B * T], tg[B * T];
    agora_assert_ok(agora_data_loader_next(l, B, T, in, tg));
    for (int i = 0; i < B * T; i++) {
        assert_int_equal(in[i], i); /* windows advance by T: one stream across rows */
        assert_int_equal(tg[i], i + 1);
    }
    agora_assert_err(agora_data_loader_next(l, 0, T, in, tg), AGORA_EINVAL);
    agora_data_loader_close(l);
    l = open_ok(dir, "val", 0, 1, 1);
    int32_t big_in[200], big_tg[200];
    agora_assert_err(agora_data_loader_next(l, 1, 100, big_in, big_tg), AGORA_ERANGE);
    assert_non_null(strstr(agora_data_loader_last_error(l), "fewer than T + 1 = 101"));
    agora_assert_ok(agora_data_loader_next(l, 1, 99, big_in, big_tg));
    agora_data_loader_close(l);
    agora_test_rmtree(dir);
    free(dir);
}

static void data_loader_is_deterministic(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    write_synthetic_dir(dir, 5000, 2, 1000);
    agora_data_loader *a = open_ok(dir, "train", 1, 3, 42), *b = open_ok(dir, "train", 1, 3, 42);
    /* 40 steps of 8x32 tokens cover the worker's 1666 tokens several times (epochs). */
    assert_true(stream_digest(a, 40, 8, 32) == stream_digest(b, 40, 8, 32));
    agora_data_cursor ca, cb;
    agora_data_loader_get_cursor(a, &ca);
    agora_data_loader_get_cursor(b, &cb);
    assert_true(ca.epoch >= 5);
    assert_memory_equal(&ca, &cb, sizeof ca);
    agora_data_loader_close(a);
    agora_data_loader_close(b);
    /* A different seed changes the later epochs' alignment, so the stream differs. */
    a = open_ok(dir, "train", 1, 3, 42);
    b = open_ok(dir, "train", 1, 3, 43);
    assert_true(stream_digest(a, 40, 8, 32) != stream_digest(b, 40, 8, 32));
    agora_data_loader_close(a);
    agora_data_loader_close(b);
    agora_test_rmtree(dir);
    free(dir);
}

static void data_loader_resume_from_cursor_gives_identical_stream(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    write_synthetic_dir(dir, 7777, 4, 5000);
    for (int k = 0; k < 60; k += 7) {
        agora_data_loader *a = open_ok(dir, "train", 2, 4, 9);
        (void)stream_digest(a, k, 4, 24);
        agora_data_cursor c;
        agora_data_loader_get_cursor(a, &c);
        uint64_t want = stream_digest(a, 30, 4, 24);
        /* A fresh loader (as after a restart), restored from the cursor. */
        agora_data_loader *b = open_ok(dir, "train", 2, 4, 12345);
        agora_assert_ok(agora_data_loader_set_cursor(b, &c));
        assert_true(stream_digest(b, 30, 4, 24) == want);
        agora_data_loader_close(a);
        agora_data_loader_close(b);
    }
    agora_data_loader *l = open_ok(dir, "train", 2, 4, 9);
    agora_data_cursor c;
    agora_data_loader_get_cursor(l, &c);
    c.worker = 1;
    agora_assert_err(agora_data_loader_set_cursor(l, &c), AGORA_ESHAPE);
    c.worker = 2;
    c.pos = 1u << 30;
    agora_assert_err(agora_data_loader_set_cursor(l, &c), AGORA_ERANGE);
    agora_data_loader_close(l);
    agora_test_rmtree(dir);
    free(dir);
}

static void data_loader_workers_are_disjoint_and_cover_the_split(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    const uint64_t N = 10007; /* ids are 0..N-1: each token's id names its position */
    write_synthetic_dir(dir, N, 3, 65536);
    for (uint32_t nw = 1; nw <= 5; nw++) {
        uint8_t *seen = calloc(N, 1);
        uint64_t total = 0;
        enum { T = 50 };
        for (uint32_t w = 0; w < nw; w++) {
            agora_data_loader *l = open_ok(dir, "train", w, nw, 3);
            uint64_t n = agora_data_loader_n_tokens(l), n_seen = 0;
            total += n;
            /* Read the whole range and wrap a few times: every token must be inside it. */
            int32_t in[T], tg[T];
            for (uint64_t s = 0; s < 3 * (n / T) + 5; s++) {
                agora_assert_ok(agora_data_loader_next(l, 1, T, in, tg));
                for (int t = 0; t < T; t++) {
                    int32_t ids[2] = {in[t], tg[t]};
                    for (int k = 0; k < 2; k++) {
                        assert_true(seen[ids[k]] == 0 || seen[ids[k]] == w + 1);
                        n_seen += seen[ids[k]] == 0;
                        seen[ids[k]] = (uint8_t)(w + 1);
                    }
                }
            }
            /* Windows of T+1 tokens step by T, so an epoch leaves at most T tokens of the
             * tail unread; later epochs start at other offsets. */
            assert_true(n_seen + T >= n);
            agora_data_loader_close(l);
        }
        assert_int_equal(total, N);
        free(seen);
    }
    char err[AGORA_ERR_LEN];
    agora_data_loader *l = NULL;
    agora_assert_err(agora_data_loader_open(dir, "train", 3, 3, 0, &l, err), AGORA_EINVAL);
    agora_assert_err(agora_data_loader_open(dir, "test", 0, 1, 0, &l, err), AGORA_EINVAL);
    agora_assert_err(agora_data_loader_open(dir, "val", 0, 1000, 0, &l, err), AGORA_ERANGE);
    agora_test_rmtree(dir);
    free(dir);
}

static void data_loader_rejects_bad_meta_and_mismatched_shards(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir(), path[4200], err[AGORA_ERR_LEN];
    write_synthetic_dir(dir, 1000, 2, 1000);
    agora_data_loader *l = NULL;
    snprintf(path, sizeof path, "%s/meta.json", dir);
    size_t mlen = 0;
    uint8_t *meta = read_whole(path, &mlen);
    /* Token count disagrees with the shards. */
    char *m2 = malloc(mlen + 16);
    memcpy(m2, meta, mlen + 1);
    char *p = strstr(m2, "\"tokens\":1000");
    memcpy(p, "\"tokens\":1001", 13);
    write_file(path, m2, mlen);
    agora_assert_err(agora_data_loader_open(dir, "train", 0, 1, 0, &l, err), AGORA_ETRUNCATED);
    assert_non_null(strstr(err, "meta.json says 1001"));
    /* Vocab disagrees with the shard headers. */
    memcpy(m2, meta, mlen + 1);
    p = strstr(m2, "\"vocab_size\":1000");
    memcpy(p, "\"vocab_size\":1001", 17);
    write_file(path, m2, mlen);
    agora_assert_err(agora_data_loader_open(dir, "train", 0, 1, 0, &l, err), AGORA_ESHAPE);
    /* Wrong format version and broken JSON. */
    memcpy(m2, meta, mlen + 1);
    p = strstr(m2, "\"version\":1");
    memcpy(p, "\"version\":7", 11);
    write_file(path, m2, mlen);
    agora_assert_err(agora_data_loader_open(dir, "train", 0, 1, 0, &l, err), AGORA_EVERSION);
    write_file(path, meta, mlen / 2);
    agora_assert_err(agora_data_loader_open(dir, "train", 0, 1, 0, &l, err), AGORA_EPARSE);
    assert_non_null(strstr(err, "meta.json"));
    /* A shard file that is missing. */
    write_file(path, meta, mlen);
    snprintf(path, sizeof path, "%s/train_001.bin", dir);
    assert_int_equal(remove(path), 0);
    agora_assert_err(agora_data_loader_open(dir, "train", 0, 1, 0, &l, err), AGORA_ENOENT);
    assert_non_null(strstr(err, "train_001.bin"));
    free(m2);
    agora_free(meta);
    agora_test_rmtree(dir);
    free(dir);
}

/* Token counts that are not exact integers, or whose byte size wraps around, are refused
 * before anything is allocated: 2^63 two-byte tokens once wrapped to a 1-byte buffer that
 * the real shard was then copied into. */
static void data_loader_rejects_absurd_token_counts(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir(), path[4200], err[AGORA_ERR_LEN];
    write_synthetic_dir(dir, 1000, 2, 1000);
    snprintf(path, sizeof path, "%s/meta.json", dir);
    size_t mlen = 0;
    uint8_t *meta = read_whole(path, &mlen);
    static const char *const bad[] = {"9223372036854775808",
                                      "18446744073709551616",
                                      "1e300",
                                      "1000.5",
                                      "-1",
                                      "1e999",
                                      "9007199254740992",
                                      "999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t head = 0;
        while (head + 13 <= mlen && memcmp(meta + head, "\"tokens\":1000", 13) != 0)
            head++;
        assert_true(head + 13 <= mlen);
        head += 9;
        size_t tail = head + 4;
        char *m2 = malloc(mlen + 64);
        size_t n = 0;
        memcpy(m2, meta, head);
        n = head;
        n += (size_t)sprintf(m2 + n, "%s", bad[i]);
        memcpy(m2 + n, meta + tail, mlen - tail);
        n += mlen - tail;
        write_file(path, m2, n);
        agora_data_loader *l = NULL;
        agora_err rc = agora_data_loader_open(dir, "train", 0, 1, 0, &l, err);
        if (rc == AGORA_OK)
            fail_msg("tokens %s was accepted", bad[i]);
        assert_null(l);
        assert_non_null(strstr(err, "meta.json"));
        free(m2);
    }
    agora_free(meta);
    agora_test_rmtree(dir);
    free(dir);
}

// ---- prepare ----

static char *corpus(size_t n, size_t *len) {
    static const char *w[] = {"and", "the",      "lord", "said", "unto", "moses", "israel",
                              "of",  "children", "land", "day",  "came", "to",    "pass"};
    char *b = malloc(n + 32);
    agora_rng r;
    agora_rng_seed(&r, 77, AGORA_RNG_STREAM_TEST, 0);
    size_t k = 0, words = 0;
    while (k + 12 < n) {
        k += (size_t)sprintf(b + k, "%s", w[agora_rng_below(&r, 14)]);
        b[k++] = ++words % 13 == 0 ? '\n' : ' ';
    }
    b[k] = '\0';
    *len = k;
    return b;
}

static void data_prepare_writes_split_and_is_thread_independent(void **state) {
    (void)state;
    size_t len = 0;
    char *text = corpus(600000, &len);
    agora_tokenizer_train_params tp = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
    tp.vocab_size = 400;
    agora_tokenizer *tok = NULL;
    char err[AGORA_ERR_LEN], a[4200], b[8400];
    agora_assert_ok(agora_tokenizer_train(text, len, &tp, &tok, NULL, err));
    char *dir = agora_test_tmpdir();
    uint64_t digest[2];
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/d%d", dir, i);
        agora_data_prepare_params p = AGORA_DATA_PREPARE_PARAMS_INIT;
        p.val_fraction = 0.05;
        p.shard_tokens = 50000;
        p.n_threads = i == 0 ? 1 : 3;
        agora_data_prepare_stats st;
        agora_assert_ok(agora_data_prepare(text, len, tok, a, &p, &st, err));
        assert_true(st.n_train_shards >= 2);
        assert_true(st.n_val_tokens > 0);
        /* The whole corpus, encoded in one call, is train followed by val. */
        uint32_t *ids = NULL;
        size_t n = 0;
        agora_assert_ok(agora_tokenizer_encode(tok, text, len, &ids, &n));
        agora_data_loader *tl = open_ok(a, "train", 0, 1, 0), *vl = open_ok(a, "val", 0, 1, 0);
        assert_int_equal(agora_data_loader_n_tokens(tl) + agora_data_loader_n_tokens(vl), n);
        uint64_t nt = agora_data_loader_n_tokens(tl);
        int32_t *in = malloc(nt * sizeof *in), *tg = malloc(nt * sizeof *tg);
        agora_assert_ok(agora_data_loader_next(tl, 1, (int)nt - 1, in, tg));
        for (uint64_t k = 0; k + 1 < nt; k++)
            assert_int_equal((uint32_t)in[k], ids[k]);
        digest[i] = agora_hash64_seeded(in, (nt - 1) * sizeof *in, 0);
        /* The split point is a line start, and the val text decodes to the corpus tail. */
        snprintf(b, sizeof b, "%s/val_000.bin", a);
        uint32_t *vids = NULL;
        size_t vn = 0;
        agora_assert_ok(agora_shard_read(b, &vids, &vn, NULL, err));
        char *vtext = NULL;
        size_t vlen = 0;
        agora_assert_ok(agora_tokenizer_decode(tok, vids, vn, &vtext, &vlen));
        assert_memory_equal(vtext, text + len - vlen, vlen);
        assert_true(text[len - vlen - 1] == '\n');
        agora_free(vtext);
        agora_free(vids);
        free(in);
        free(tg);
        agora_free(ids);
        agora_data_loader_close(tl);
        agora_data_loader_close(vl);
        /* The directory also names a loadable tokenizer. */
        agora_tokenizer *t2 = NULL;
        agora_assert_ok(agora_tokenizer_open(a, &t2, err));
        assert_int_equal(agora_tokenizer_vocab_size(t2), agora_tokenizer_vocab_size(tok));
        agora_tokenizer_destroy(t2);
    }
    assert_true(digest[0] == digest[1]);
    agora_tokenizer_destroy(tok);
    free(text);
    agora_test_rmtree(dir);
    free(dir);
}

static void data_prepare_io_and_oom_failures_are_clean(void **state) {
    (void)state;
    size_t len = 0;
    char *text = corpus(30000, &len);
    agora_tokenizer_train_params tp = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
    tp.vocab_size = 300;
    agora_tokenizer *tok = NULL;
    char err[AGORA_ERR_LEN], out[4200], meta[4300];
    agora_assert_ok(agora_tokenizer_train(text, len, &tp, &tok, NULL, err));
    char *dir = agora_test_tmpdir();
    snprintf(out, sizeof out, "%s/shards", dir);
    snprintf(meta, sizeof meta, "%s/meta.json", out);
    agora_data_prepare_params raw = {.val_fraction = 0.1};
    agora_assert_err(agora_data_prepare(text, len, tok, out, &raw, NULL, err), AGORA_EINVAL);
    agora_data_prepare_params p = AGORA_DATA_PREPARE_PARAMS_INIT;
    p.shard_tokens = 2000;
    /* A good directory first, then fail each durable-write step in turn: a failed prepare
     * must never leave a meta.json behind (the old one is removed first), so no loader
     * can mistake a half-written directory for a complete one. */
    agora_assert_ok(agora_data_prepare(text, len, tok, out, &p, NULL, err));
    int n_fail = 0;
    for (int64_t k = 0;; k++) {
        agora_io_fail_after(k);
        agora_err rc = agora_data_prepare(text, len, tok, out, &p, NULL, err);
        agora_io_fail_after(-1);
        FILE *f = fopen(meta, "rb");
        if (rc == AGORA_OK) {
            assert_non_null(f);
            fclose(f);
            break;
        }
        assert_int_equal(rc, AGORA_EIO);
        assert_null(f);
        agora_data_loader *l = NULL;
        agora_assert_err(agora_data_loader_open(out, "train", 0, 1, 0, &l, err), AGORA_ENOENT);
        n_fail++;
        assert_true(k < 10000);
    }
    assert_true(n_fail >= 4);
    /* Out of memory at every allocation of open + next: clean errors, no leaks (ASan). */
    int n_oom = 0;
    for (int64_t k = 0;; k++) {
        agora_data_loader *l = NULL;
        int32_t in[64], tg[64];
        agora_alloc_fail_after(k);
        agora_err rc = agora_data_loader_open(out, "train", 1, 2, 5, &l, err);
        if (rc == AGORA_OK)
            rc = agora_data_loader_next(l, 2, 32, in, tg);
        agora_alloc_fail_after(-1);
        agora_data_loader_close(l);
        if (rc == AGORA_OK)
            break;
        assert_int_equal(rc, AGORA_ENOMEM);
        n_oom++;
        assert_true(k < 10000);
    }
    assert_true(n_oom >= 3);
    agora_tokenizer_destroy(tok);
    free(text);
    agora_test_rmtree(dir);
    free(dir);
}

static void data_cli_prepare_and_info(void **state) {
    (void)state;
    size_t len = 0;
    char *text = corpus(100000, &len);
    char *dir = agora_test_tmpdir(), path[4200], cmd[9000], out[8192];
    snprintf(path, sizeof path, "%s/c.txt", dir);
    write_file(path, text, len);
    snprintf(cmd, sizeof cmd, "%s tokenizer train %s --vocab 300 --out %s/t.bpe", agora_test_bin(),
             path, dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s data prepare %s --tokenizer %s/t.bpe --out %s/shards",
             agora_test_bin(), path, dir, dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "train: "));
    snprintf(cmd, sizeof cmd, "%s data info %s/shards --workers 2", agora_test_bin(), dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "worker 1: "));
    assert_non_null(strstr(out, "all shards verified"));
    snprintf(cmd, sizeof cmd, "%s data prepare %s --out %s/x", agora_test_bin(), path, dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 2);
    snprintf(path, sizeof path, "%s/shards/train_000.bin", dir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 70, SEEK_SET);
    fputc(0x7f, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s data info %s/shards", agora_test_bin(), dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "payload checksum mismatch"));
    free(text);
    agora_test_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_shard_roundtrips_uint16_and_uint32),
        cmocka_unit_test(data_shard_malformed_headers_are_rejected_clearly),
        cmocka_unit_test(data_loader_batches_are_next_token_windows),
        cmocka_unit_test(data_loader_is_deterministic),
        cmocka_unit_test(data_loader_resume_from_cursor_gives_identical_stream),
        cmocka_unit_test(data_loader_workers_are_disjoint_and_cover_the_split),
        cmocka_unit_test(data_loader_rejects_bad_meta_and_mismatched_shards),
        cmocka_unit_test(data_loader_rejects_absurd_token_counts),
        cmocka_unit_test(data_prepare_writes_split_and_is_thread_independent),
        cmocka_unit_test(data_prepare_io_and_oom_failures_are_clean),
        cmocka_unit_test(data_cli_prepare_and_info),
    };
    return agora_test_main(tests, argc, argv);
}
