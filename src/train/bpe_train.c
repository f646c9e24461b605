/* bpe_train.c: learning byte-level BPE merges from a corpus.
 *
 * Implements: counting distinct pre-tokenized chunks ("words") on several threads, then
 * the merge loop with incremental pair counts. Each pair keeps its count and the list of
 * words it occurs in; a merge only revisits those words and adjusts the counts of the
 * neighbouring pairs, and a lazy max-heap (stale entries are skipped when popped) picks
 * the next pair. The cost per merge is the size of the words it touches, not the corpus.
 * Does not: encode (tokenizer.c) or write files (tokenizer_io.c).
 *
 * Determinism: the chosen pair is the one with the highest count, ties to the smallest
 * (left, right) id pair. Counts do not depend on word order, so neither the thread count
 * nor hash-table order changes the merges.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/time.h"
#include "agora/tokenizer.h"

// ---- word counting ----

typedef struct word_map {
    char *arena; /* bytes of every distinct word */
    size_t arena_n, arena_cap;
    uint64_t *hash;  /* (cap) 0 = empty slot (hashes are forced non-zero) */
    uint64_t *off;   /* (cap) offset in arena */
    uint32_t *len;   /* (cap) */
    uint64_t *count; /* (cap) */
    size_t cap, n;
    uint64_t n_chunks;
    bool oom;
} word_map;

static void wm_free(word_map *m) {
    agora_free(m->arena);
    agora_free(m->hash);
    agora_free(m->off);
    agora_free(m->len);
    agora_free(m->count);
}

static bool wm_alloc(word_map *m, size_t cap) {
    m->hash = agora_calloc(cap, sizeof *m->hash);
    m->off = agora_malloc(cap * sizeof *m->off);
    m->len = agora_malloc(cap * sizeof *m->len);
    m->count = agora_malloc(cap * sizeof *m->count);
    m->cap = cap;
    return m->hash && m->off && m->len && m->count;
}

static bool wm_grow(word_map *m) {
    word_map old = *m;
    if (!wm_alloc(m, old.cap * 2)) {
        agora_free(m->hash);
        agora_free(m->off);
        agora_free(m->len);
        agora_free(m->count);
        *m = old;
        return false;
    }
    const size_t mask = m->cap - 1;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.hash[i] == 0)
            continue;
        size_t j = (size_t)old.hash[i] & mask;
        while (m->hash[j] != 0)
            j = (j + 1) & mask;
        m->hash[j] = old.hash[i];
        m->off[j] = old.off[i];
        m->len[j] = old.len[i];
        m->count[j] = old.count[i];
    }
    agora_free(old.hash);
    agora_free(old.off);
    agora_free(old.len);
    agora_free(old.count);
    return true;
}

static void wm_add(word_map *m, const char *s, size_t len, uint64_t count) {
    if (m->oom)
        return;
    if (len >= UINT32_MAX) { /* one chunk of 4 GiB: count it as bytes would be silly */
        m->oom = true;
        return;
    }
    uint64_t h = agora_hash64(s, len) | 1u;
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->hash[i] != 0) {
        if (m->hash[i] == h && m->len[i] == len && memcmp(m->arena + m->off[i], s, len) == 0) {
            m->count[i] += count;
            return;
        }
        i = (i + 1) & mask;
    }
    if (m->arena_n + len > m->arena_cap) {
        size_t cap = m->arena_cap ? m->arena_cap : 1 << 16;
        while (cap < m->arena_n + len)
            cap *= 2;
        char *a = agora_realloc(m->arena, cap);
        if (a == NULL) {
            m->oom = true;
            return;
        }
        m->arena = a;
        m->arena_cap = cap;
    }
    memcpy(m->arena + m->arena_n, s, len);
    m->hash[i] = h;
    m->off[i] = m->arena_n;
    m->len[i] = (uint32_t)len;
    m->count[i] = count;
    m->arena_n += len;
    if (++m->n * 2 > m->cap && !wm_grow(m))
        m->oom = true;
}

static agora_err count_chunk(const char *chunk, size_t len, void *user) {
    word_map *m = user;
    m->n_chunks++;
    wm_add(m, chunk, len, 1);
    return m->oom ? AGORA_ENOMEM : AGORA_OK;
}

typedef struct count_job {
    const char *text;
    size_t len;
    word_map map;
    agora_err rc;
} count_job;

static void *count_run(void *arg) {
    count_job *j = arg;
    j->rc = wm_alloc(&j->map, 1 << 12) ? agora_pretok_split(j->text, j->len, count_chunk, &j->map)
                                       : AGORA_ENOMEM;
    return NULL;
}

static int default_threads(int n) {
    if (n > 0)
        return n > 64 ? 64 : n;
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1 : (c > 64 ? 64 : (int)c);
}

/* Counts distinct chunks of text into *out on up to n_threads threads. */
static agora_err count_words(const char *text, size_t len, int n_threads, word_map *out) {
    int nt = default_threads(n_threads);
    if (len < ((size_t)1 << 20))
        nt = 1;
    count_job jobs[64];
    pthread_t tids[64];
    bool started[64] = {false};
    memset(jobs, 0, sizeof jobs);
    size_t start = 0;
    int n_jobs = 0;
    for (int i = 0; i < nt && start < len; i++) {
        size_t end = i + 1 == nt
                         ? len
                         : agora_pretok_safe_cut(text, len, len / (size_t)nt * (size_t)(i + 1));
        if (end < start)
            end = start;
        jobs[n_jobs].text = text + start;
        jobs[n_jobs].len = end - start;
        n_jobs++;
        start = end;
    }
    for (int i = 1; i < n_jobs; i++)
        started[i] = pthread_create(&tids[i], NULL, count_run, &jobs[i]) == 0;
    count_run(&jobs[0]);
    agora_err rc = jobs[0].rc;
    for (int i = 1; i < n_jobs; i++) {
        if (started[i])
            pthread_join(tids[i], NULL);
        else
            count_run(&jobs[i]); /* could not start a thread: do it here */
        if (rc == AGORA_OK)
            rc = jobs[i].rc;
    }
    /* Fold the other maps into the first. */
    for (int i = 1; i < n_jobs && rc == AGORA_OK; i++) {
        word_map *m = &jobs[i].map;
        for (size_t s = 0; s < m->cap && !jobs[0].map.oom; s++)
            if (m->hash[s] != 0)
                wm_add(&jobs[0].map, m->arena + m->off[s], m->len[s], m->count[s]);
        jobs[0].map.n_chunks += m->n_chunks;
        if (jobs[0].map.oom)
            rc = AGORA_ENOMEM;
    }
    for (int i = 1; i < n_jobs; i++)
        wm_free(&jobs[i].map);
    if (rc != AGORA_OK) {
        wm_free(&jobs[0].map);
        return rc;
    }
    *out = jobs[0].map;
    return AGORA_OK;
}

// ---- pairs ----

typedef struct pair_info {
    uint64_t key; /* left << 32 | right */
    int64_t count;
    uint32_t *words; /* words this pair occurred in at some point (may hold stale ones) */
    uint32_t n_words, cap_words;
    uint32_t stamp; /* merge index + 1 when last touched */
} pair_info;

typedef struct heap_item {
    int64_t count;
    uint64_t key;
} heap_item;

typedef struct trainer {
    /* words */
    uint32_t n_words;
    uint32_t **sym;   /* (n_words) symbol ids */
    uint32_t *len;    /* (n_words) */
    uint64_t *freq;   /* (n_words) */
    uint32_t *wstamp; /* (n_words) merge index + 1 when last rewritten */
    /* pairs */
    pair_info *pairs;
    uint32_t n_pairs, cap_pairs;
    uint32_t *index; /* (index_cap) pair index + 1, 0 = empty */
    size_t index_cap;
    /* heap */
    heap_item *heap;
    size_t heap_n, heap_cap;
    /* pairs touched by the current merge */
    uint32_t *touched;
    size_t n_touched, cap_touched;
    bool oom;
} trainer;

static size_t key_slot(uint64_t key, size_t cap) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static bool index_grow(trainer *t) {
    size_t cap = t->index_cap ? t->index_cap * 2 : 1 << 14;
    uint32_t *idx = agora_calloc(cap, sizeof *idx);
    if (idx == NULL)
        return false;
    for (uint32_t p = 0; p < t->n_pairs; p++) {
        size_t i = key_slot(t->pairs[p].key, cap);
        while (idx[i] != 0)
            i = (i + 1) & (cap - 1);
        idx[i] = p + 1;
    }
    agora_free(t->index);
    t->index = idx;
    t->index_cap = cap;
    return true;
}

/* Returns the pair record for (a, b), creating it with count 0. NULL on OOM. */
static pair_info *pair_get(trainer *t, uint32_t a, uint32_t b) {
    const uint64_t key = (uint64_t)a << 32 | b;
    size_t i = key_slot(key, t->index_cap);
    while (t->index[i] != 0) {
        pair_info *p = &t->pairs[t->index[i] - 1];
        if (p->key == key)
            return p;
        i = (i + 1) & (t->index_cap - 1);
    }
    if (t->n_pairs == t->cap_pairs) {
        uint32_t cap = t->cap_pairs ? t->cap_pairs * 2 : 1 << 12;
        pair_info *np = agora_realloc(t->pairs, cap * sizeof *np);
        if (np == NULL)
            return NULL;
        t->pairs = np;
        t->cap_pairs = cap;
    }
    pair_info *p = &t->pairs[t->n_pairs++];
    *p = (pair_info){.key = key};
    t->index[i] = t->n_pairs;
    if ((size_t)t->n_pairs * 2 > t->index_cap && !index_grow(t))
        return NULL;
    return &t->pairs[t->n_pairs - 1];
}

static bool pair_add_word(pair_info *p, uint32_t w) {
    if (p->n_words > 0 && p->words[p->n_words - 1] == w)
        return true;
    if (p->n_words == p->cap_words) {
        uint32_t cap = p->cap_words ? p->cap_words * 2 : 4;
        uint32_t *nw = agora_realloc(p->words, cap * sizeof *nw);
        if (nw == NULL)
            return false;
        p->words = nw;
        p->cap_words = cap;
    }
    p->words[p->n_words++] = w;
    return true;
}

/* Adds delta to pair (a, b) seen in word w during merge `stamp`. */
static void pair_delta(trainer *t, uint32_t a, uint32_t b, int64_t delta, uint32_t w,
                       uint32_t stamp) {
    if (t->oom)
        return;
    pair_info *p = pair_get(t, a, b);
    if (p == NULL || (delta > 0 && !pair_add_word(p, w))) {
        t->oom = true;
        return;
    }
    p->count += delta;
    if (p->stamp != stamp) {
        p->stamp = stamp;
        if (t->n_touched == t->cap_touched) {
            size_t cap = t->cap_touched ? t->cap_touched * 2 : 1024;
            uint32_t *nt = agora_realloc(t->touched, cap * sizeof *nt);
            if (nt == NULL) {
                t->oom = true;
                return;
            }
            t->touched = nt;
            t->cap_touched = cap;
        }
        t->touched[t->n_touched++] = (uint32_t)(p - t->pairs);
    }
}

// ---- heap: highest count first, ties to the smallest key ----

static bool item_before(heap_item x, heap_item y) {
    return x.count > y.count || (x.count == y.count && x.key < y.key);
}

static void heap_push(trainer *t, heap_item v) {
    if (t->heap_n == t->heap_cap) {
        size_t cap = t->heap_cap ? t->heap_cap * 2 : 1 << 14;
        heap_item *h = agora_realloc(t->heap, cap * sizeof *h);
        if (h == NULL) {
            t->oom = true;
            return;
        }
        t->heap = h;
        t->heap_cap = cap;
    }
    size_t i = t->heap_n++;
    while (i > 0 && item_before(v, t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = v;
}

static heap_item heap_pop(trainer *t) {
    heap_item top = t->heap[0], v = t->heap[--t->heap_n];
    size_t i = 0, n = t->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && item_before(t->heap[c + 1], t->heap[c]))
            c++;
        if (!item_before(t->heap[c], v))
            break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n > 0)
        t->heap[i] = v;
    return top;
}

static void trainer_free(trainer *t) {
    if (t->sym != NULL)
        for (uint32_t w = 0; w < t->n_words; w++)
            agora_free(t->sym[w]);
    agora_free(t->sym);
    agora_free(t->len);
    agora_free(t->freq);
    agora_free(t->wstamp);
    for (uint32_t p = 0; p < t->n_pairs; p++)
        agora_free(t->pairs[p].words);
    agora_free(t->pairs);
    agora_free(t->index);
    agora_free(t->heap);
    agora_free(t->touched);
}

static agora_err trainer_init(trainer *t, const word_map *m) {
    if (m->n > UINT32_MAX - 1)
        return AGORA_EOVERFLOW;
    t->n_words = (uint32_t)m->n;
    t->sym = agora_calloc(m->n + 1, sizeof *t->sym);
    t->len = agora_malloc((m->n + 1) * sizeof *t->len);
    t->freq = agora_malloc((m->n + 1) * sizeof *t->freq);
    t->wstamp = agora_calloc(m->n + 1, sizeof *t->wstamp);
    if (!t->sym || !t->len || !t->freq || !t->wstamp || !index_grow(t))
        return AGORA_ENOMEM;
    uint32_t w = 0;
    for (size_t s = 0; s < m->cap; s++) {
        if (m->hash[s] == 0)
            continue;
        const uint8_t *b = (const uint8_t *)m->arena + m->off[s];
        t->sym[w] = agora_malloc((size_t)m->len[s] * sizeof **t->sym + 1);
        if (t->sym[w] == NULL)
            return AGORA_ENOMEM;
        for (uint32_t i = 0; i < m->len[s]; i++)
            t->sym[w][i] = b[i];
        t->len[w] = m->len[s];
        t->freq[w] = m->count[s];
        for (uint32_t i = 0; i + 1 < t->len[w]; i++)
            pair_delta(t, t->sym[w][i], t->sym[w][i + 1], (int64_t)t->freq[w], w, 1);
        w++;
    }
    for (uint32_t p = 0; p < t->n_pairs; p++)
        heap_push(t, (heap_item){t->pairs[p].count, t->pairs[p].key});
    t->n_touched = 0;
    return t->oom ? AGORA_ENOMEM : AGORA_OK;
}

/* Rewrites every word that holds (a, b) with the new id, adjusting neighbour pairs. */
static void apply_merge(trainer *t, uint32_t a, uint32_t b, uint32_t id, uint32_t k) {
    const uint32_t stamp = k + 2; /* 1 was used by trainer_init */
    pair_info *p = pair_get(t, a, b);
    /* p->words may move when a neighbour pair is (a, b) itself; index it each time. */
    const uint32_t pi = (uint32_t)(p - t->pairs);
    for (uint32_t wi = 0; wi < t->pairs[pi].n_words && !t->oom; wi++) {
        uint32_t w = t->pairs[pi].words[wi];
        if (t->wstamp[w] == stamp)
            continue;
        t->wstamp[w] = stamp;
        uint32_t *s = t->sym[w], n = t->len[w];
        const int64_t f = (int64_t)t->freq[w];
        uint32_t o = 0; /* write position */
        for (uint32_t i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                if (o > 0) {
                    pair_delta(t, s[o - 1], a, -f, w, stamp);
                    pair_delta(t, s[o - 1], id, f, w, stamp);
                }
                if (i + 2 < n) {
                    pair_delta(t, b, s[i + 2], -f, w, stamp);
                    pair_delta(t, id, s[i + 2], f, w, stamp);
                }
                pair_delta(t, a, b, -f, w, stamp);
                s[o++] = id;
                i++;
            } else {
                s[o++] = s[i];
            }
        }
        t->len[w] = o;
    }
}

agora_err agora_tokenizer_train(const char *text, size_t len, const agora_tokenizer_train_params *p,
                                agora_tokenizer **out, agora_tokenizer_train_stats *stats,
                                char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(p != NULL && out != NULL && err != NULL);
    AGORA_ASSERT(text != NULL || len == 0);
    err[0] = '\0';
    if (p->size != sizeof *p || p->magic != AGORA_TOKENIZER_TRAIN_MAGIC) {
        snprintf(err, AGORA_ERR_LEN,
                 "train params not initialized with "
                 "AGORA_TOKENIZER_TRAIN_PARAMS_INIT");
        return AGORA_EINVAL;
    }
    if (p->vocab_size < 256 || p->vocab_size > AGORA_TOKENIZER_MAX_VOCAB) {
        snprintf(err, AGORA_ERR_LEN, "vocab size %u is outside [256, %u]", p->vocab_size,
                 AGORA_TOKENIZER_MAX_VOCAB);
        return AGORA_ERANGE;
    }
    const int64_t min_freq = p->min_frequency < 1 ? 1 : p->min_frequency;
    const uint32_t want = p->vocab_size - 256;
    agora_tokenizer_train_stats st = {.n_bytes = len};
    int64_t t0 = agora_now_ns();
    word_map words = {0};
    trainer t = {0};
    uint32_t *merges = NULL, n_merges = 0;
    agora_err rc = count_words(text, len, p->n_threads, &words);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "pre-tokenizing the corpus failed: %s", agora_err_str(rc));
        return rc;
    }
    st.n_chunks = words.n_chunks;
    st.n_unique = words.n;
    int64_t t1 = agora_now_ns();
    st.pretok_seconds = (double)(t1 - t0) * 1e-9;
    merges = agora_malloc(2 * (size_t)want * sizeof *merges + 1);
    if (merges == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    AGORA_TRY_GOTO(trainer_init(&t, &words), rc, out);
    wm_free(&words); /* the words now live in t.sym */
    memset(&words, 0, sizeof words);
    while (n_merges < want && t.heap_n > 0 && !t.oom) {
        heap_item top = heap_pop(&t);
        pair_info *pi = pair_get(&t, (uint32_t)(top.key >> 32), (uint32_t)top.key);
        if (pi == NULL) {
            t.oom = true;
            break;
        }
        if (pi->count != top.count)
            continue; /* stale: a fresher entry for this pair is in the heap */
        if (top.count < min_freq)
            break;
        const uint32_t a = (uint32_t)(top.key >> 32), b = (uint32_t)top.key;
        merges[2 * n_merges] = a;
        merges[2 * n_merges + 1] = b;
        t.n_touched = 0;
        apply_merge(&t, a, b, 256 + n_merges, n_merges);
        for (size_t i = 0; i < t.n_touched && !t.oom; i++) {
            const pair_info *q = &t.pairs[t.touched[i]];
            if (q->count > 0)
                heap_push(&t, (heap_item){q->count, q->key});
        }
        n_merges++;
    }
    if (t.oom) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    st.n_merges = n_merges;
    st.merge_seconds = (double)(agora_now_ns() - t1) * 1e-9;
    rc = agora_tokenizer_create(NULL, merges, n_merges, NULL, NULL, 0, out, err);
    if (rc == AGORA_OK && stats != NULL)
        *stats = st;
out:
    if (rc == AGORA_ENOMEM && err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "out of memory while training the tokenizer");
    wm_free(&words);
    trainer_free(&t);
    agora_free(merges);
    return rc;
}
