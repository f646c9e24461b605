/* bench_tokenizer.c: BPE training and encoding speed, each beside a baseline from the same
 * run.
 *
 *   bench_tokenizer CORPUS [GPT2_DIR]
 *
 * Training: our trainer (incremental pair counts + lazy heap) against a plain trainer that
 * recounts every pair after each merge, on the same distinct words; both must produce the
 * same merges, which the benchmark checks. The plain trainer is timed on the first
 * `base_merges` merges only and its time per merge is reported (it would take minutes for
 * the whole vocabulary).
 * Encoding: MB/s with the trained tokenizer and with GPT-2's (if GPT2_DIR holds
 * encoder.json + vocab.bpe). The JS reference encoder is timed by scripts/bench.d.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "agora/tokenizer.h"

#define VOCAB 4096u

// ---- the recount-per-merge baseline ----

typedef struct words {
    uint32_t **sym;
    uint32_t *len;
    uint64_t *freq;
    size_t n, cap;
} words;

/* Collects distinct chunks with counts (a linear-probing table keyed by the bytes). */
typedef struct wtab {
    char **key;
    size_t *klen;
    uint64_t *cnt;
    size_t cap, n;
} wtab;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static agora_err add_chunk(const char *c, size_t len, void *user) {
    wtab *t = user;
    if (2 * (t->n + 1) > t->cap) {
        wtab old = *t;
        t->cap = old.cap ? old.cap * 2 : 1 << 16;
        t->key = calloc(t->cap, sizeof *t->key);
        t->klen = calloc(t->cap, sizeof *t->klen);
        t->cnt = calloc(t->cap, sizeof *t->cnt);
        for (size_t i = 0; i < old.cap; i++) {
            if (old.key[i] == NULL)
                continue;
            size_t j = fnv(old.key[i], old.klen[i]) & (t->cap - 1);
            while (t->key[j] != NULL)
                j = (j + 1) & (t->cap - 1);
            t->key[j] = old.key[i];
            t->klen[j] = old.klen[i];
            t->cnt[j] = old.cnt[i];
        }
        free(old.key);
        free(old.klen);
        free(old.cnt);
    }
    size_t j = fnv(c, len) & (t->cap - 1);
    while (t->key[j] != NULL && (t->klen[j] != len || memcmp(t->key[j], c, len) != 0))
        j = (j + 1) & (t->cap - 1);
    if (t->key[j] == NULL) {
        t->key[j] = malloc(len);
        memcpy(t->key[j], c, len);
        t->klen[j] = len;
        t->n++;
    }
    t->cnt[j]++;
    return AGORA_OK;
}

/* Pair counts in a table cleared for every merge: the "recount" in recount-per-merge. */
typedef struct ptab {
    uint64_t *key;
    int64_t *cnt;
    size_t cap;
} ptab;

static void ptab_add(ptab *p, uint64_t key, int64_t c) {
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & (p->cap - 1);
    while (p->key[j] != UINT64_MAX && p->key[j] != key)
        j = (j + 1) & (p->cap - 1);
    p->key[j] = key;
    p->cnt[j] += c;
}

/* Runs up to max_merges merges by recounting; checks each against t. Returns merges done. */
static uint32_t recount_train(words *w, const agora_tokenizer *t, uint32_t max_merges) {
    ptab p = {.cap = 1 << 22};
    p.key = malloc(p.cap * sizeof *p.key);
    p.cnt = malloc(p.cap * sizeof *p.cnt);
    uint32_t k = 0;
    for (; k < max_merges; k++) {
        memset(p.key, 0xff, p.cap * sizeof *p.key);
        memset(p.cnt, 0, p.cap * sizeof *p.cnt);
        for (size_t i = 0; i < w->n; i++)
            for (uint32_t j = 0; j + 1 < w->len[i]; j++)
                ptab_add(&p, (uint64_t)w->sym[i][j] << 32 | w->sym[i][j + 1], (int64_t)w->freq[i]);
        uint64_t best = UINT64_MAX;
        int64_t bc = 0;
        for (size_t j = 0; j < p.cap; j++)
            if (p.key[j] != UINT64_MAX && (p.cnt[j] > bc || (p.cnt[j] == bc && p.key[j] < best))) {
                bc = p.cnt[j];
                best = p.key[j];
            }
        if (bc < 2)
            break;
        uint32_t a = (uint32_t)(best >> 32), b = (uint32_t)best, l, r;
        agora_tokenizer_merge(t, k, &l, &r);
        if (l != a || r != b) {
            fprintf(stderr, "bench_tokenizer: merge %u differs: (%u,%u) vs (%u,%u)\n", k, l, r, a,
                    b);
            exit(1);
        }
        for (size_t i = 0; i < w->n; i++) {
            uint32_t o = 0, *s = w->sym[i];
            for (uint32_t j = 0; j < w->len[i]; j++) {
                if (j + 1 < w->len[i] && s[j] == a && s[j + 1] == b) {
                    s[o++] = 256 + k;
                    j++;
                } else {
                    s[o++] = s[j];
                }
            }
            w->len[i] = o;
        }
    }
    free(p.key);
    free(p.cnt);
    return k;
}

static double mbps(size_t bytes, double s) {
    return (double)bytes / s / 1e6;
}

static double encode_seconds(const agora_tokenizer *t, const char *text, size_t len,
                             size_t *n_out) {
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        uint32_t *ids = NULL;
        int64_t t0 = agora_now_ns();
        if (agora_tokenizer_encode(t, text, len, &ids, n_out) != AGORA_OK) {
            fprintf(stderr, "bench_tokenizer: encode failed\n");
            exit(1);
        }
        double s = (double)(agora_now_ns() - t0) * 1e-9;
        best = s < best ? s : best;
        agora_free(ids);
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_tokenizer CORPUS [GPT2_DIR]\n");
        return 2;
    }
    char err[AGORA_ERR_LEN], *text = NULL;
    size_t len = 0;
    if (agora_read_file(argv[1], (size_t)1 << 32, &text, &len, err) != AGORA_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err);
        return 1;
    }
    printf("corpus: %s, %.2f MB\n", argv[1], (double)len / 1e6);

    /* Training, 1 and 2 threads (best of 3). */
    agora_tokenizer *tok = NULL;
    double train_s[2] = {1e30, 1e30};
    agora_tokenizer_train_stats st = {0};
    for (int th = 1; th <= 2; th++) {
        for (int rep = 0; rep < 3; rep++) {
            agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
            p.vocab_size = VOCAB;
            p.n_threads = th;
            agora_tokenizer *t = NULL;
            int64_t t0 = agora_now_ns();
            if (agora_tokenizer_train(text, len, &p, &t, &st, err) != AGORA_OK) {
                fprintf(stderr, "bench_tokenizer: %s\n", err);
                return 1;
            }
            double s = (double)(agora_now_ns() - t0) * 1e-9;
            train_s[th - 1] = s < train_s[th - 1] ? s : train_s[th - 1];
            agora_tokenizer_destroy(tok);
            tok = t;
        }
    }
    printf("train vocab %u: %u merges, %llu distinct words; %.3f s (1 thread), %.3f s (2 "
           "threads; pre-tokenize %.3f s + merges %.3f s)\n",
           VOCAB, st.n_merges, (unsigned long long)st.n_unique, train_s[0], train_s[1],
           st.pretok_seconds, st.merge_seconds);

    /* Baseline: recount every pair after each merge, on the same distinct words. */
    wtab wt = {0};
    if (agora_pretok_split(text, len, add_chunk, &wt) != AGORA_OK)
        return 1;
    words w = {.n = wt.n};
    w.sym = malloc(wt.n * sizeof *w.sym);
    w.len = malloc(wt.n * sizeof *w.len);
    w.freq = malloc(wt.n * sizeof *w.freq);
    for (size_t i = 0, k = 0; i < wt.cap; i++) {
        if (wt.key[i] == NULL)
            continue;
        w.sym[k] = malloc(wt.klen[i] * sizeof **w.sym);
        for (size_t j = 0; j < wt.klen[i]; j++)
            w.sym[k][j] = (uint8_t)wt.key[i][j];
        w.len[k] = (uint32_t)wt.klen[i];
        w.freq[k] = wt.cnt[i];
        k++;
        free(wt.key[i]);
    }
    const uint32_t base_merges = 200;
    int64_t t0 = agora_now_ns();
    uint32_t done = recount_train(&w, tok, base_merges);
    double base_s = (double)(agora_now_ns() - t0) * 1e-9;
    double ours_per = st.merge_seconds / (st.n_merges ? st.n_merges : 1);
    double base_per = base_s / (done ? done : 1);
    printf("merge step: ours %.1f us/merge (all %u), recount-per-merge baseline %.1f us/merge "
           "(first %u, same merges) -> %.0fx\n",
           ours_per * 1e6, st.n_merges, base_per * 1e6, done, base_per / ours_per);
    printf("baseline estimate for all %u merges: %.1f s (ours: %.3f s)\n", st.n_merges,
           base_per * st.n_merges, st.merge_seconds);

    /* Encoding. */
    size_t n = 0;
    double es = encode_seconds(tok, text, len, &n);
    printf("encode (vocab %u, 1 thread): %.1f MB/s, %zu tokens, %.2f bytes/token\n", VOCAB,
           mbps(len, es), n, (double)len / (double)n);
    if (argc == 3) {
        char enc[4096], bpe[4096];
        snprintf(enc, sizeof enc, "%s/encoder.json", argv[2]);
        snprintf(bpe, sizeof bpe, "%s/vocab.bpe", argv[2]);
        agora_tokenizer *g = NULL;
        if (agora_tokenizer_load_gpt2(enc, bpe, &g, err) != AGORA_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err);
            return 1;
        }
        double gs = encode_seconds(g, text, len, &n);
        printf("encode (GPT-2, 1 thread): %.1f MB/s, %zu tokens\n", mbps(len, gs), n);
        printf("gpt2_mbps %.3f\n", mbps(len, gs));
        agora_tokenizer_destroy(g);
    }
    for (size_t i = 0; i < w.n; i++)
        free(w.sym[i]);
    free(w.sym);
    free(w.len);
    free(w.freq);
    free(wt.key);
    free(wt.klen);
    free(wt.cnt);
    agora_tokenizer_destroy(tok);
    agora_free(text);
    return 0;
}
