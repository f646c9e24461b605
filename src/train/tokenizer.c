/* tokenizer.c: the byte-level BPE tokenizer object, encode and decode.
 *
 * Implements: building a tokenizer from (byte ids, ranked merges, specials) with all the
 * consistency checks, ranked-merge encoding of each pre-tokenized chunk, and decoding.
 * Does not: parse files (tokenizer_io.c, tokenizer_gpt2.c), learn merges (bpe_train.c) or
 * split text (pretok.c).
 *
 * Encoding a chunk follows GPT-2's rule: repeatedly merge the adjacent pair of lowest
 * rank, all its occurrences left to right. We do it with a linked list of symbols and a
 * min-heap of (rank, position), which is O(n log n) per chunk instead of GPT-2's O(n^2),
 * so a megabyte of punctuation (one chunk) cannot stall us. The two orders agree because a
 * merge's inputs always come from lower ranks (checked in agora_tokenizer_create): when
 * rank r is popped, every occurrence of its pair already exists, and the pairs it creates
 * have ranks above r.
 */
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/tokenizer.h"

struct agora_tokenizer {
    uint32_t vocab_size, n_merges, n_specials;
    uint32_t byte_id[256];
    uint32_t *merges;    /* (2 * n_merges) left, right */
    uint64_t *tok_off;   /* (vocab_size + 1) offsets into blob */
    uint8_t *blob;       /* bytes of every token, concatenated */
    uint64_t *pair_key;  /* (pair_cap) open addressing: left << 32 | right, or EMPTY */
    uint32_t *pair_rank; /* (pair_cap) */
    uint32_t pair_bits;
};

#define PAIR_EMPTY UINT64_MAX
#define NO_RANK UINT32_MAX

static inline uint64_t pair_key(uint32_t a, uint32_t b) {
    return ((uint64_t)a << 32) | b;
}

static inline size_t pair_slot(uint64_t key, uint32_t bits) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static uint32_t pair_lookup(const agora_tokenizer *t, uint32_t a, uint32_t b) {
    const uint64_t key = pair_key(a, b);
    const size_t mask = ((size_t)1 << t->pair_bits) - 1;
    for (size_t i = pair_slot(key, t->pair_bits);; i = (i + 1) & mask) {
        if (t->pair_key[i] == key)
            return t->pair_rank[i];
        if (t->pair_key[i] == PAIR_EMPTY)
            return NO_RANK;
    }
}

void agora_tokenizer_destroy(agora_tokenizer *t) {
    if (t == NULL)
        return;
    agora_free(t->merges);
    agora_free(t->tok_off);
    agora_free(t->blob);
    agora_free(t->pair_key);
    agora_free(t->pair_rank);
    agora_free(t);
}

// ---- construction ----

static agora_err check_parts(const uint32_t *byte_ids, const uint32_t *merges, uint32_t n_merges,
                             uint32_t n_specials, char err[AGORA_ERR_LEN]) {
    if ((uint64_t)256 + n_merges + n_specials > AGORA_TOKENIZER_MAX_VOCAB) {
        snprintf(err, AGORA_ERR_LEN, "vocab of %llu tokens is over the limit of %u",
                 (unsigned long long)256 + n_merges + n_specials, AGORA_TOKENIZER_MAX_VOCAB);
        return AGORA_ERANGE;
    }
    if (byte_ids != NULL) {
        uint8_t seen[256] = {0};
        for (int b = 0; b < 256; b++) {
            if (byte_ids[b] >= 256 || seen[byte_ids[b]]) {
                snprintf(err, AGORA_ERR_LEN,
                         "byte ids must be a permutation of 0..255 (byte %d has id %u)", b,
                         byte_ids[b]);
                return AGORA_ERANGE;
            }
            seen[byte_ids[b]] = 1;
        }
    }
    for (uint32_t k = 0; k < n_merges; k++) {
        /* Ids below 256 + k are bytes or results of earlier merges. */
        for (int side = 0; side < 2; side++) {
            uint32_t id = merges[2 * k + (uint32_t)side];
            if (id >= 256u + k) {
                snprintf(err, AGORA_ERR_LEN,
                         "merge %u uses id %u, which is not a byte or an earlier merge", k, id);
                return AGORA_ERANGE;
            }
        }
    }
    return AGORA_OK;
}

/* Fills tok_off/blob: bytes, then merges (left + right), then specials. */
static agora_err build_bytes(agora_tokenizer *t, const char *const *specials,
                             const size_t *special_lens) {
    const uint32_t n = t->vocab_size;
    t->tok_off = agora_malloc(((size_t)n + 1) * sizeof *t->tok_off);
    uint64_t *len = agora_malloc((size_t)n * sizeof *len);
    if (t->tok_off == NULL || len == NULL) {
        agora_free(len);
        return AGORA_ENOMEM;
    }
    for (uint32_t i = 0; i < 256; i++)
        len[i] = 1;
    for (uint32_t k = 0; k < t->n_merges; k++)
        len[256 + k] = len[t->merges[2 * k]] + len[t->merges[2 * k + 1]];
    for (uint32_t s = 0; s < t->n_specials; s++)
        len[256 + t->n_merges + s] = special_lens[s];
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        t->tok_off[i] = total;
        total += len[i];
    }
    t->tok_off[n] = total;
    agora_free(len);
    if (total > SIZE_MAX / 2)
        return AGORA_EOVERFLOW;
    t->blob = agora_malloc((size_t)total + 1);
    if (t->blob == NULL)
        return AGORA_ENOMEM;
    for (int b = 0; b < 256; b++)
        t->blob[t->tok_off[t->byte_id[b]]] = (uint8_t)b;
    for (uint32_t k = 0; k < t->n_merges; k++) {
        uint32_t l = t->merges[2 * k], r = t->merges[2 * k + 1];
        uint8_t *dst = t->blob + t->tok_off[256 + k];
        size_t ll = (size_t)(t->tok_off[l + 1] - t->tok_off[l]);
        memcpy(dst, t->blob + t->tok_off[l], ll);
        memcpy(dst + ll, t->blob + t->tok_off[r], (size_t)(t->tok_off[r + 1] - t->tok_off[r]));
    }
    for (uint32_t s = 0; s < t->n_specials; s++)
        if (special_lens[s] > 0)
            memcpy(t->blob + t->tok_off[256 + t->n_merges + s], specials[s], special_lens[s]);
    return AGORA_OK;
}

static agora_err build_pairs(agora_tokenizer *t, char err[AGORA_ERR_LEN]) {
    uint32_t bits = 4;
    while (((uint64_t)1 << bits) < 2 * (uint64_t)t->n_merges + 2)
        bits++;
    const size_t cap = (size_t)1 << bits, mask = cap - 1;
    t->pair_bits = bits;
    t->pair_key = agora_malloc(cap * sizeof *t->pair_key);
    t->pair_rank = agora_malloc(cap * sizeof *t->pair_rank);
    if (t->pair_key == NULL || t->pair_rank == NULL)
        return AGORA_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        t->pair_key[i] = PAIR_EMPTY;
    for (uint32_t k = 0; k < t->n_merges; k++) {
        const uint64_t key = pair_key(t->merges[2 * k], t->merges[2 * k + 1]);
        size_t i = pair_slot(key, bits);
        while (t->pair_key[i] != PAIR_EMPTY && t->pair_key[i] != key)
            i = (i + 1) & mask;
        if (t->pair_key[i] == key) {
            snprintf(err, AGORA_ERR_LEN, "merge %u repeats the pair (%u, %u) of merge %u", k,
                     t->merges[2 * k], t->merges[2 * k + 1], t->pair_rank[i]);
            return AGORA_EINVAL;
        }
        t->pair_key[i] = key;
        t->pair_rank[i] = k;
    }
    return AGORA_OK;
}

agora_err agora_tokenizer_create(const uint32_t *byte_ids, const uint32_t *merges,
                                 uint32_t n_merges, const char *const *specials,
                                 const size_t *special_lens, uint32_t n_specials,
                                 agora_tokenizer **out, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(out != NULL && err != NULL);
    AGORA_ASSERT(merges != NULL || n_merges == 0);
    AGORA_ASSERT((specials != NULL && special_lens != NULL) || n_specials == 0);
    err[0] = '\0';
    AGORA_TRY(check_parts(byte_ids, merges, n_merges, n_specials, err));
    agora_tokenizer *t = agora_calloc(1, sizeof *t);
    if (t == NULL)
        return AGORA_ENOMEM;
    agora_err rc = AGORA_OK;
    t->n_merges = n_merges;
    t->n_specials = n_specials;
    t->vocab_size = 256 + n_merges + n_specials;
    for (uint32_t b = 0; b < 256; b++)
        t->byte_id[b] = byte_ids != NULL ? byte_ids[b] : b;
    t->merges = agora_malloc(2 * (size_t)n_merges * sizeof *t->merges + 1);
    if (t->merges == NULL) {
        rc = AGORA_ENOMEM;
        goto fail;
    }
    if (n_merges > 0)
        memcpy(t->merges, merges, 2 * (size_t)n_merges * sizeof *t->merges);
    AGORA_TRY_GOTO(build_bytes(t, specials, special_lens), rc, fail);
    AGORA_TRY_GOTO(build_pairs(t, err), rc, fail);
    *out = t;
    return AGORA_OK;
fail:
    if (err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "cannot build tokenizer: %s", agora_err_str(rc));
    agora_tokenizer_destroy(t);
    return rc;
}

// ---- accessors ----

uint32_t agora_tokenizer_vocab_size(const agora_tokenizer *t) {
    return t->vocab_size;
}
uint32_t agora_tokenizer_n_merges(const agora_tokenizer *t) {
    return t->n_merges;
}
uint32_t agora_tokenizer_n_specials(const agora_tokenizer *t) {
    return t->n_specials;
}
uint32_t agora_tokenizer_byte_id(const agora_tokenizer *t, uint8_t b) {
    return t->byte_id[b];
}

void agora_tokenizer_merge(const agora_tokenizer *t, uint32_t k, uint32_t *left_out,
                           uint32_t *right_out) {
    AGORA_ASSERT(k < t->n_merges);
    *left_out = t->merges[2 * k];
    *right_out = t->merges[2 * k + 1];
}

const uint8_t *agora_tokenizer_token_bytes(const agora_tokenizer *t, uint32_t id, size_t *len_out) {
    if (id >= t->vocab_size)
        return NULL;
    *len_out = (size_t)(t->tok_off[id + 1] - t->tok_off[id]);
    return t->blob + t->tok_off[id];
}

// ---- encode ----

/* Scratch for one chunk, grown as needed and reused across chunks. */
typedef struct enc_ctx {
    const agora_tokenizer *t;
    uint32_t *ids; /* output, capacity = input bytes (BPE never makes more ids than bytes) */
    size_t n_ids;
    size_t cap;     /* chunk capacity of the arrays below */
    uint32_t *sym;  /* (cap) current id at each live position */
    uint32_t *next; /* (cap) next live position, or cap-sized sentinel */
    uint32_t *prev; /* (cap) previous live position, or UINT32_MAX */
    uint64_t *heap; /* (cap) rank << 32 | position, min-heap */
} enc_ctx;

static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && h[c + 1] < h[c])
            c++;
        if (v <= h[c])
            break;
        h[i] = h[c];
        i = c;
    }
    if (m > 0)
        h[i] = v;
    return top;
}

static agora_err enc_reserve(enc_ctx *c, size_t n) {
    if (n <= c->cap)
        return AGORA_OK;
    size_t cap = c->cap ? c->cap : 64;
    while (cap < n)
        cap *= 2;
    uint32_t *sym = agora_realloc(c->sym, cap * sizeof *sym);
    if (sym == NULL)
        return AGORA_ENOMEM;
    c->sym = sym;
    uint32_t *nx = agora_realloc(c->next, cap * sizeof *nx);
    if (nx == NULL)
        return AGORA_ENOMEM;
    c->next = nx;
    uint32_t *pv = agora_realloc(c->prev, cap * sizeof *pv);
    if (pv == NULL)
        return AGORA_ENOMEM;
    c->prev = pv;
    /* Each merge pushes at most two entries and removes one symbol: 3n bounds the heap. */
    uint64_t *hp = agora_realloc(c->heap, 3 * cap * sizeof *hp);
    if (hp == NULL)
        return AGORA_ENOMEM;
    c->heap = hp;
    c->cap = cap;
    return AGORA_OK;
}

static agora_err enc_chunk(const char *chunk, size_t len, void *user) {
    enc_ctx *c = user;
    const agora_tokenizer *t = c->t;
    const uint8_t *s = (const uint8_t *)chunk;
    if (len == 1) {
        c->ids[c->n_ids++] = t->byte_id[s[0]];
        return AGORA_OK;
    }
    if (len >= UINT32_MAX)
        return AGORA_EOVERFLOW;
    AGORA_TRY(enc_reserve(c, len));
    const uint32_t n = (uint32_t)len, END = UINT32_MAX;
    size_t hn = 0;
    for (uint32_t i = 0; i < n; i++) {
        c->sym[i] = t->byte_id[s[i]];
        c->prev[i] = i == 0 ? END : i - 1;
        c->next[i] = i + 1 == n ? END : i + 1;
    }
    for (uint32_t i = 0; i + 1 < n; i++) {
        uint32_t r = pair_lookup(t, c->sym[i], c->sym[i + 1]);
        if (r != NO_RANK)
            heap_push(c->heap, &hn, ((uint64_t)r << 32) | i);
    }
    while (hn > 0) {
        uint64_t top = heap_pop(c->heap, &hn);
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top;
        /* Stale entry: the symbol at i was merged away or changed since the push. Removed
         * positions are marked by sym == END. */
        if (c->sym[i] == END || c->next[i] == END)
            continue;
        uint32_t j = c->next[i];
        if (pair_lookup(t, c->sym[i], c->sym[j]) != r)
            continue;
        c->sym[i] = 256 + r;
        c->sym[j] = END;
        c->next[i] = c->next[j];
        if (c->next[j] != END)
            c->prev[c->next[j]] = i;
        if (c->prev[i] != END) {
            uint32_t p = c->prev[i], pr = pair_lookup(t, c->sym[p], c->sym[i]);
            if (pr != NO_RANK)
                heap_push(c->heap, &hn, ((uint64_t)pr << 32) | p);
        }
        if (c->next[i] != END) {
            uint32_t nr = pair_lookup(t, c->sym[i], c->sym[c->next[i]]);
            if (nr != NO_RANK)
                heap_push(c->heap, &hn, ((uint64_t)nr << 32) | i);
        }
    }
    for (uint32_t i = 0; i != END; i = c->next[i])
        c->ids[c->n_ids++] = c->sym[i];
    return AGORA_OK;
}

agora_err agora_tokenizer_encode(const agora_tokenizer *t, const char *text, size_t len,
                                 uint32_t **ids_out, size_t *n_out) {
    AGORA_ASSERT(t != NULL && ids_out != NULL && n_out != NULL);
    AGORA_ASSERT(text != NULL || len == 0);
    if (len > SIZE_MAX / sizeof(uint32_t) - 1)
        return AGORA_EOVERFLOW;
    enc_ctx c = {.t = t};
    c.ids = agora_malloc((len + 1) * sizeof *c.ids);
    if (c.ids == NULL)
        return AGORA_ENOMEM;
    agora_err rc = agora_pretok_split(text, len, enc_chunk, &c);
    agora_free(c.sym);
    agora_free(c.next);
    agora_free(c.prev);
    agora_free(c.heap);
    if (rc != AGORA_OK) {
        agora_free(c.ids);
        return rc;
    }
    /* Give back the slack when it is large (ids are about a quarter of the bytes). */
    if (c.n_ids < len / 2) {
        uint32_t *shrunk = agora_realloc(c.ids, (c.n_ids + 1) * sizeof *c.ids);
        if (shrunk != NULL)
            c.ids = shrunk;
    }
    *ids_out = c.ids;
    *n_out = c.n_ids;
    return AGORA_OK;
}

// ---- decode ----

agora_err agora_tokenizer_decode(const agora_tokenizer *t, const uint32_t *ids, size_t n,
                                 char **text_out, size_t *len_out) {
    AGORA_ASSERT(t != NULL && text_out != NULL && len_out != NULL);
    AGORA_ASSERT(ids != NULL || n == 0);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->vocab_size)
            return AGORA_ERANGE;
        total += (size_t)(t->tok_off[ids[i] + 1] - t->tok_off[ids[i]]);
    }
    char *buf = agora_malloc(total + 1);
    if (buf == NULL)
        return AGORA_ENOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = (size_t)(t->tok_off[ids[i] + 1] - t->tok_off[ids[i]]);
        memcpy(buf + off, t->blob + t->tok_off[ids[i]], l);
        off += l;
    }
    buf[off] = '\0';
    *text_out = buf;
    *len_out = off;
    return AGORA_OK;
}
