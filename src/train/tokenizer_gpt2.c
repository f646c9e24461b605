/* tokenizer_gpt2.c: loading GPT-2's encoder.json + vocab.bpe.
 *
 * Implements: GPT-2's byte-to-unicode alphabet (each byte is shown as a printable code
 * point in both files), the token-string -> id table, and mapping the ranked merges of
 * vocab.bpe onto ids. Does not: encode (tokenizer.c, with GPT-2's exact merge rule).
 *
 * GPT-2's files have a shape our tokenizer object relies on, and we check it rather than
 * assume it: ids 0..255 are the single bytes, merge k produces id 256 + k, and ids after
 * the merges (<|endoftext|>) are specials that no merge makes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/json.h"
#include "agora/stream.h"
#include "agora/tokenizer.h"

#define MAX_GPT2_FILE ((size_t)64 << 20)

// ---- byte <-> unicode alphabet ----

/* byte_to_cp[b] is the code point GPT-2 prints for byte b. */
static void gpt2_alphabet(uint32_t byte_to_cp[256]) {
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        byte_to_cp[b] = printable ? b : 256 + n++;
    }
}

/* Decodes one UTF-8 code point from s (len >= 1); returns its length or 0 if invalid.
 * Only code points below 0x800 can appear in the GPT-2 alphabet, but we decode the full
 * range so that errors name the right thing. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0 && len >= 2 && (s[1] & 0xC0) == 0x80) {
        *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        return *cp >= 0x80 ? 2 : 0;
    }
    if ((s[0] & 0xF0) == 0xE0 && len >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        *cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return *cp >= 0x800 ? 3 : 0;
    }
    if ((s[0] & 0xF8) == 0xF0 && len >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
        (s[3] & 0xC0) == 0x80) {
        *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
              (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        return *cp >= 0x10000 && *cp <= 0x10FFFF ? 4 : 0;
    }
    return 0;
}

// ---- token string -> id ----

typedef struct strmap {
    const char **key; /* points into the cJSON tree */
    size_t *klen;
    uint32_t *id;
    size_t mask;
} strmap;

static void strmap_free(strmap *m) {
    agora_free(m->key);
    agora_free(m->klen);
    agora_free(m->id);
}

static agora_err strmap_init(strmap *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->mask = cap - 1;
    m->key = agora_calloc(cap, sizeof *m->key);
    m->klen = agora_calloc(cap, sizeof *m->klen);
    m->id = agora_calloc(cap, sizeof *m->id);
    return m->key && m->klen && m->id ? AGORA_OK : AGORA_ENOMEM;
}

/* Returns the slot holding (s, len), or the empty slot where it belongs. */
static size_t strmap_slot(const strmap *m, const char *s, size_t len) {
    size_t i = (size_t)agora_hash64(s, len) & m->mask;
    while (m->key[i] != NULL && (m->klen[i] != len || memcmp(m->key[i], s, len) != 0))
        i = (i + 1) & m->mask;
    return i;
}

static bool strmap_get(const strmap *m, const char *s, size_t len, uint32_t *id) {
    size_t i = strmap_slot(m, s, len);
    if (m->key[i] == NULL)
        return false;
    *id = m->id[i];
    return true;
}

// ---- loading ----

typedef struct gpt2_load {
    strmap map;
    uint32_t n;         /* ids 0..n-1 */
    const char **names; /* (n) token string of each id (GPT-2 alphabet, UTF-8) */
    uint32_t *merges;   /* (2 * n_merges) */
    uint32_t n_merges;
    char *scratch; /* concatenation buffer for merge lookups */
    char *err;
} gpt2_load;

static agora_err read_encoder(gpt2_load *g, const cJSON *root) {
    if (!cJSON_IsObject(root)) {
        snprintf(g->err, AGORA_ERR_LEN, "encoder.json: top level is not an object");
        return AGORA_EPARSE;
    }
    size_t n = 0;
    for (const cJSON *it = root->child; it != NULL; it = it->next)
        n++;
    if (n < 256 || n > AGORA_TOKENIZER_MAX_VOCAB) {
        snprintf(g->err, AGORA_ERR_LEN, "encoder.json: %zu tokens (need 256..%u)", n,
                 AGORA_TOKENIZER_MAX_VOCAB);
        return AGORA_ERANGE;
    }
    g->n = (uint32_t)n;
    AGORA_TRY(strmap_init(&g->map, n));
    g->names = agora_calloc(n, sizeof *g->names);
    if (g->names == NULL)
        return AGORA_ENOMEM;
    for (const cJSON *it = root->child; it != NULL; it = it->next) {
        double v = it->valuedouble;
        if (!cJSON_IsNumber(it) || v < 0 || v >= (double)n || v != (double)(uint32_t)v) {
            snprintf(g->err, AGORA_ERR_LEN,
                     "encoder.json: id of token \"%.40s\" is not an integer in [0, %zu)",
                     it->string, n);
            return AGORA_ERANGE;
        }
        uint32_t id = (uint32_t)v;
        size_t len = strlen(it->string);
        size_t slot = strmap_slot(&g->map, it->string, len);
        if (g->map.key[slot] != NULL || g->names[id] != NULL) {
            snprintf(g->err, AGORA_ERR_LEN, "encoder.json: token \"%.40s\" or id %u repeats",
                     it->string, id);
            return AGORA_EPARSE;
        }
        g->map.key[slot] = it->string;
        g->map.klen[slot] = len;
        g->map.id[slot] = id;
        g->names[id] = it->string;
    }
    return AGORA_OK;
}

static agora_err read_merges(gpt2_load *g, const char *bpe, size_t len) {
    const char *p = bpe, *end = bpe + len;
    uint32_t line = 1;
    if (len >= 8 && memcmp(p, "#version", 8) == 0) {
        const char *nl = memchr(p, '\n', len);
        p = nl ? nl + 1 : end;
        line++;
    }
    g->merges = agora_malloc(2 * (size_t)g->n * sizeof *g->merges);
    g->scratch = agora_malloc(len + 1);
    if (g->merges == NULL || g->scratch == NULL)
        return AGORA_ENOMEM;
    for (; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p && e[-1] == '\r')
            e--;
        if (e == p) { /* blank line: GPT-2's file ends with one */
            p = nl ? nl + 1 : end;
            continue;
        }
        const char *sp = memchr(p, ' ', (size_t)(e - p));
        if (sp == NULL || sp == p || sp + 1 == e || memchr(sp + 1, ' ', (size_t)(e - sp - 1))) {
            snprintf(g->err, AGORA_ERR_LEN, "vocab.bpe:%u: expected \"<left> <right>\"", line);
            return AGORA_EPARSE;
        }
        size_t ll = (size_t)(sp - p), rl = (size_t)(e - sp - 1);
        uint32_t l, r, res;
        memcpy(g->scratch, p, ll);
        memcpy(g->scratch + ll, sp + 1, rl);
        if (!strmap_get(&g->map, p, ll, &l) || !strmap_get(&g->map, sp + 1, rl, &r) ||
            !strmap_get(&g->map, g->scratch, ll + rl, &res)) {
            snprintf(g->err, AGORA_ERR_LEN,
                     "vocab.bpe:%u: merge \"%.*s\" uses or makes a token not in encoder.json", line,
                     (int)(e - p > 60 ? 60 : e - p), p);
            return AGORA_EPARSE;
        }
        if (g->n_merges + 256 >= g->n || res != 256 + g->n_merges) {
            snprintf(g->err, AGORA_ERR_LEN,
                     "vocab.bpe:%u: merge %u makes id %u; this loader needs merge k to make id "
                     "256 + k, as GPT-2's files do",
                     line, g->n_merges, res);
            return AGORA_EUNSUPPORTED;
        }
        g->merges[2 * g->n_merges] = l;
        g->merges[2 * g->n_merges + 1] = r;
        g->n_merges++;
        p = nl ? nl + 1 : end;
    }
    return AGORA_OK;
}

/* Decodes a token string of the GPT-2 alphabet into bytes (dst has room for len bytes). */
static agora_err name_to_bytes(const char *name, const uint32_t cp_to_byte[512], char *dst,
                               size_t *n_out) {
    const unsigned char *s = (const unsigned char *)name;
    size_t len = strlen(name), n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t k = utf8_next(s + i, len - i, &cp);
        if (k == 0 || cp >= 512 || cp_to_byte[cp] > 255)
            return AGORA_EPARSE;
        dst[n++] = (char)cp_to_byte[cp];
        i += k;
    }
    *n_out = n;
    return AGORA_OK;
}

static agora_err build(gpt2_load *g, agora_tokenizer **out) {
    uint32_t byte_to_cp[256], cp_to_byte[512], byte_ids[256];
    gpt2_alphabet(byte_to_cp);
    for (int i = 0; i < 512; i++)
        cp_to_byte[i] = UINT32_MAX;
    for (uint32_t b = 0; b < 256; b++)
        cp_to_byte[byte_to_cp[b]] = b;
    for (uint32_t b = 0; b < 256; b++) {
        char u[3];
        size_t ul = 1;
        uint32_t cp = byte_to_cp[b];
        if (cp < 0x80) {
            u[0] = (char)cp;
        } else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            ul = 2;
        }
        if (!strmap_get(&g->map, u, ul, &byte_ids[b]) || byte_ids[b] >= 256) {
            snprintf(g->err, AGORA_ERR_LEN,
                     "encoder.json: byte %u needs a single-character token with an id below "
                     "256",
                     b);
            return AGORA_EUNSUPPORTED;
        }
    }
    const uint32_t n_specials = g->n - 256 - g->n_merges;
    const char **spec = agora_calloc((size_t)n_specials + 1, sizeof *spec);
    size_t *spec_len = agora_calloc((size_t)n_specials + 1, sizeof *spec_len);
    char *spec_buf = NULL;
    size_t total = 0;
    agora_err rc = AGORA_OK;
    for (uint32_t s = 0; s < n_specials; s++)
        total += strlen(g->names[256 + g->n_merges + s]);
    spec_buf = agora_malloc(total + 1);
    if (spec == NULL || spec_len == NULL || spec_buf == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    total = 0;
    for (uint32_t s = 0; s < n_specials; s++) {
        const char *name = g->names[256 + g->n_merges + s];
        if (name_to_bytes(name, cp_to_byte, spec_buf + total, &spec_len[s]) != AGORA_OK) {
            snprintf(g->err, AGORA_ERR_LEN,
                     "encoder.json: token \"%.40s\" has characters outside GPT-2's byte alphabet",
                     name);
            rc = AGORA_EPARSE;
            goto out;
        }
        spec[s] = spec_buf + total;
        total += spec_len[s];
    }
    rc = agora_tokenizer_create(byte_ids, g->merges, g->n_merges, spec, spec_len, n_specials, out,
                                g->err);
out:
    agora_free(spec);
    agora_free(spec_len);
    agora_free(spec_buf);
    return rc;
}

agora_err agora_tokenizer_load_gpt2_mem(const char *encoder_json, size_t encoder_len,
                                        const char *vocab_bpe, size_t vocab_len,
                                        agora_tokenizer **out, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(out != NULL && err != NULL);
    AGORA_ASSERT((encoder_json != NULL || encoder_len == 0) &&
                 (vocab_bpe != NULL || vocab_len == 0));
    err[0] = '\0';
    cJSON *root = NULL;
    gpt2_load g = {.err = err};
    agora_err rc = agora_json_parse(encoder_json, encoder_len, "encoder.json", &root, err);
    if (rc != AGORA_OK)
        return rc;
    AGORA_TRY_GOTO(read_encoder(&g, root), rc, out);
    AGORA_TRY_GOTO(read_merges(&g, vocab_bpe, vocab_len), rc, out);
    AGORA_TRY_GOTO(build(&g, out), rc, out);
out:
    if (rc == AGORA_ENOMEM && err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "GPT-2 vocab: out of memory");
    strmap_free(&g.map);
    agora_free(g.names);
    agora_free(g.merges);
    agora_free(g.scratch);
    agora_json_free(root);
    return rc;
}

agora_err agora_tokenizer_load_gpt2(const char *encoder_json, const char *vocab_bpe,
                                    agora_tokenizer **out, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(encoder_json != NULL && vocab_bpe != NULL);
    char *ej = NULL, *vb = NULL;
    size_t el = 0, vl = 0;
    agora_err rc = agora_read_file(encoder_json, MAX_GPT2_FILE, &ej, &el, err);
    if (rc == AGORA_OK)
        rc = agora_read_file(vocab_bpe, MAX_GPT2_FILE, &vb, &vl, err);
    if (rc == AGORA_OK)
        rc = agora_tokenizer_load_gpt2_mem(ej, el, vb, vl, out, err);
    agora_free(ej);
    agora_free(vb);
    return rc;
}
