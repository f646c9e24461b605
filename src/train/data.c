/* data.c: token shard files and the worker-sharded, resumable data loader.
 *
 * Implements: the 64-byte shard header (field by field, little-endian, self-checksummed),
 * reading and writing shards, reading meta.json, and the loader with its cursor.
 * Does not: tokenize text or write meta.json (data_prepare.c).
 *
 * The loader keeps only its worker's range of the split in memory, in the shard's own
 * width (uint16 or uint32), so n workers on one machine hold the data once in total.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agora/alloc.h"
#include "agora/data.h"
#include "agora/hash.h"
#include "agora/json.h"
#include "agora/rng.h"
#include "agora/stream.h"

#define META_FORMAT "agora-shards"
#define META_VERSION 1

// ---- little-endian fields ----

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

// ---- header ----
/* Offsets: 0 magic[8], 8 version u32, 12 token_bytes u32, 16 vocab_size u32, 20 reserved
 * u32 (0), 24 n_tokens u64, 32 payload_hash u64, 40 reserved[16] (0), 56 header_hash u64
 * (XXH3-64 of bytes 0..55). */

void agora_shard_header_encode(const agora_shard_header *h, uint8_t out[AGORA_SHARD_HEADER_BYTES]) {
    memset(out, 0, AGORA_SHARD_HEADER_BYTES);
    memcpy(out, AGORA_SHARD_MAGIC, 8);
    put_u32(out + 8, h->version);
    put_u32(out + 12, h->token_bytes);
    put_u32(out + 16, h->vocab_size);
    put_u64(out + 24, h->n_tokens);
    put_u64(out + 32, h->payload_hash);
    put_u64(out + 56, agora_hash64(out, 56));
}

agora_err agora_shard_header_decode(const uint8_t *buf, size_t len, agora_shard_header *out,
                                    char err[AGORA_ERR_LEN]) {
    if (len < AGORA_SHARD_HEADER_BYTES) {
        snprintf(err, AGORA_ERR_LEN, "header is %zu bytes, need %u", len, AGORA_SHARD_HEADER_BYTES);
        return AGORA_ETRUNCATED;
    }
    if (memcmp(buf, AGORA_SHARD_MAGIC, 8) != 0) {
        snprintf(err, AGORA_ERR_LEN, "not a token shard (bad magic)");
        return AGORA_EPARSE;
    }
    agora_shard_header h = {.version = get_u32(buf + 8)};
    if (h.version != AGORA_SHARD_VERSION) {
        snprintf(err, AGORA_ERR_LEN,
                 "shard format version %u is not supported (this build reads %u)", h.version,
                 AGORA_SHARD_VERSION);
        return AGORA_EVERSION;
    }
    if (get_u64(buf + 56) != agora_hash64(buf, 56)) {
        snprintf(err, AGORA_ERR_LEN, "header checksum mismatch (corrupt header)");
        return AGORA_ECHECKSUM;
    }
    h.token_bytes = get_u32(buf + 12);
    h.vocab_size = get_u32(buf + 16);
    h.n_tokens = get_u64(buf + 24);
    h.payload_hash = get_u64(buf + 32);
    if (h.token_bytes != 2 && h.token_bytes != 4) {
        snprintf(err, AGORA_ERR_LEN, "token width %u bytes (must be 2 or 4)", h.token_bytes);
        return AGORA_ERANGE;
    }
    if (h.vocab_size == 0 || (h.token_bytes == 2 && h.vocab_size > 65536)) {
        snprintf(err, AGORA_ERR_LEN, "vocab size %u does not fit %u-byte ids", h.vocab_size,
                 h.token_bytes);
        return AGORA_ERANGE;
    }
    if (get_u32(buf + 20) != 0) {
        snprintf(err, AGORA_ERR_LEN, "reserved header fields are not zero");
        return AGORA_EPARSE;
    }
    for (int i = 40; i < 56; i++) {
        if (buf[i] != 0) {
            snprintf(err, AGORA_ERR_LEN, "reserved header fields are not zero");
            return AGORA_EPARSE;
        }
    }
    if (h.n_tokens > (UINT64_MAX - AGORA_SHARD_HEADER_BYTES) / h.token_bytes) {
        snprintf(err, AGORA_ERR_LEN, "token count %llu is absurd", (unsigned long long)h.n_tokens);
        return AGORA_ERANGE;
    }
    *out = h;
    return AGORA_OK;
}

// ---- whole shards ----

agora_err agora_shard_write(const char *path, const uint32_t *ids, size_t n, uint32_t vocab_size,
                            char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(path != NULL && (ids != NULL || n == 0) && err != NULL);
    const uint32_t tb = vocab_size <= 65536 ? 2 : 4;
    if (vocab_size == 0 || n > (SIZE_MAX - AGORA_SHARD_HEADER_BYTES) / tb) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: bad vocab size or token count", path);
        return AGORA_EINVAL;
    }
    uint8_t *buf = agora_malloc(AGORA_SHARD_HEADER_BYTES + n * tb);
    if (buf == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: out of memory", path);
        return AGORA_ENOMEM;
    }
    uint8_t *pay = buf + AGORA_SHARD_HEADER_BYTES;
    for (size_t i = 0; i < n; i++) {
        AGORA_ASSERT(ids[i] < vocab_size);
        if (tb == 2) {
            pay[2 * i] = (uint8_t)ids[i];
            pay[2 * i + 1] = (uint8_t)(ids[i] >> 8);
        } else {
            put_u32(pay + 4 * i, ids[i]);
        }
    }
    agora_shard_header h = {AGORA_SHARD_VERSION, tb, vocab_size, n, agora_hash64(pay, n * tb)};
    agora_shard_header_encode(&h, buf);
    agora_err rc = agora_write_file_atomic(path, buf, AGORA_SHARD_HEADER_BYTES + n * tb, err);
    agora_free(buf);
    return rc;
}

/* Opens a shard and checks its header and its size against the header (before anything is
 * allocated from the header's count). On success *fp is positioned at the first token. */
static agora_err shard_open(const char *path, agora_shard_header *h, FILE **fp,
                            char err[AGORA_ERR_LEN]) {
    uint8_t hdr[AGORA_SHARD_HEADER_BYTES];
    char why[AGORA_ERR_LEN];
    agora_err rc = AGORA_OK;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: cannot open", path);
        return AGORA_ENOENT;
    }
    size_t got = fread(hdr, 1, sizeof hdr, f);
    rc = agora_shard_header_decode(hdr, got, h, why);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: %.200s", path, why);
        goto out;
    }
    const uint64_t want = h->n_tokens * h->token_bytes;
    long end = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (end < 0 || fseek(f, AGORA_SHARD_HEADER_BYTES, SEEK_SET) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: cannot seek", path);
        rc = AGORA_EIO;
        goto out;
    }
    const uint64_t have = (uint64_t)end - AGORA_SHARD_HEADER_BYTES;
    if (have < want) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: truncated: header says %llu tokens, file has %llu",
                 path, (unsigned long long)h->n_tokens,
                 (unsigned long long)(have / h->token_bytes));
        rc = AGORA_ETRUNCATED;
    } else if (have > want) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: unexpected bytes after the last token", path);
        rc = AGORA_EPARSE;
    }
out:
    if (rc != AGORA_OK)
        fclose(f);
    else
        *fp = f;
    return rc;
}

/* Reads a shard file: checks header, size and payload hash. On success *raw holds the ids
 * as stored (little-endian, token_bytes wide), freed with agora_free. */
static agora_err shard_read_raw(const char *path, agora_shard_header *h, uint8_t **raw,
                                char err[AGORA_ERR_LEN]) {
    uint8_t *pay = NULL;
    FILE *f = NULL;
    AGORA_TRY(shard_open(path, h, &f, err));
    agora_err rc = AGORA_OK;
    const uint64_t want = h->n_tokens * h->token_bytes;
    if (want > SIZE_MAX - 1 || (pay = agora_malloc((size_t)want + 1)) == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: out of memory for %llu tokens", path,
                 (unsigned long long)h->n_tokens);
        rc = AGORA_ENOMEM;
        goto out;
    }
    size_t got = fread(pay, 1, (size_t)want, f);
    if (got != want) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: truncated: header says %llu tokens, file has %zu",
                 path, (unsigned long long)h->n_tokens, got / h->token_bytes);
        rc = AGORA_ETRUNCATED;
        goto out;
    }
    if (fgetc(f) != EOF) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: unexpected bytes after the last token", path);
        rc = AGORA_EPARSE;
        goto out;
    }
    if (agora_hash64(pay, (size_t)want) != h->payload_hash) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: payload checksum mismatch (corrupt shard)", path);
        rc = AGORA_ECHECKSUM;
        goto out;
    }
    for (uint64_t i = 0; i < h->n_tokens; i++) {
        uint32_t id = h->token_bytes == 2 ? (uint32_t)(pay[2 * i] | pay[2 * i + 1] << 8)
                                          : get_u32(pay + 4 * i);
        if (id >= h->vocab_size) {
            snprintf(err, AGORA_ERR_LEN, "%.400s: token %llu has id %u >= vocab size %u", path,
                     (unsigned long long)i, id, h->vocab_size);
            rc = AGORA_ERANGE;
            goto out;
        }
    }
    *raw = pay;
    pay = NULL;
out:
    agora_free(pay);
    fclose(f);
    return rc;
}

agora_err agora_shard_read(const char *path, uint32_t **ids_out, size_t *n_out, uint32_t *vocab_out,
                           char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(path != NULL && ids_out != NULL && n_out != NULL && err != NULL);
    agora_shard_header h;
    uint8_t *raw = NULL;
    AGORA_TRY(shard_read_raw(path, &h, &raw, err));
    uint32_t *ids = agora_malloc((size_t)h.n_tokens * sizeof *ids + 1);
    if (ids == NULL) {
        agora_free(raw);
        snprintf(err, AGORA_ERR_LEN, "%.400s: out of memory", path);
        return AGORA_ENOMEM;
    }
    for (size_t i = 0; i < h.n_tokens; i++)
        ids[i] = h.token_bytes == 2 ? (uint32_t)(raw[2 * i] | raw[2 * i + 1] << 8)
                                    : get_u32(raw + 4 * i);
    agora_free(raw);
    *ids_out = ids;
    *n_out = (size_t)h.n_tokens;
    if (vocab_out != NULL)
        *vocab_out = h.vocab_size;
    return AGORA_OK;
}

// ---- loader ----

struct agora_data_loader {
    uint32_t vocab_size, token_bytes;
    uint32_t worker, n_workers;
    uint64_t seed, epoch, pos;
    uint64_t n;    /* tokens in this worker's range */
    uint8_t *toks; /* (n * token_bytes) the range, little-endian as stored */
    char last_err[AGORA_ERR_LEN];
};

/* floor(total * w / n) without overflowing 64 bits. */
static uint64_t range_bound(uint64_t total, uint32_t w, uint32_t n) {
    return total / n * w + total % n * w / n;
}

static inline uint32_t tok_at(const agora_data_loader *l, uint64_t i) {
    const uint8_t *p = l->toks + i * l->token_bytes;
    return l->token_bytes == 2 ? (uint32_t)(p[0] | p[1] << 8) : get_u32(p);
}

typedef struct meta_split {
    uint64_t tokens;
    const cJSON *shards;
} meta_split;

static agora_err read_meta(const char *dir, const char *split, const cJSON *root,
                           agora_data_loader *l, meta_split *ms, char err[AGORA_ERR_LEN]) {
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *voc = cJSON_GetObjectItemCaseSensitive(root, "vocab_size");
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(root, "token_bytes");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(root, split);
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, META_FORMAT) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%.400s/meta.json: \"format\" is not \"%s\"", dir,
                 META_FORMAT);
        return AGORA_EPARSE;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != META_VERSION) {
        snprintf(err, AGORA_ERR_LEN, "%.400s/meta.json: version is not %d", dir, META_VERSION);
        return AGORA_EVERSION;
    }
    uint64_t vocab = 0, width = 0;
    if (!agora_json_uint(voc, UINT32_MAX, &vocab) || vocab < 1 || !agora_json_uint(tb, 4, &width) ||
        (width != 2 && width != 4)) {
        snprintf(err, AGORA_ERR_LEN, "%.400s/meta.json: bad vocab_size or token_bytes", dir);
        return AGORA_ERANGE;
    }
    l->vocab_size = (uint32_t)vocab;
    l->token_bytes = (uint32_t)width;
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(sp, "tokens");
    ms->shards = cJSON_GetObjectItemCaseSensitive(sp, "shards");
    if (!cJSON_IsObject(sp) || !cJSON_IsNumber(toks) || !cJSON_IsArray(ms->shards)) {
        snprintf(err, AGORA_ERR_LEN, "%.400s/meta.json: no valid \"%.32s\" split", dir, split);
        return AGORA_EPARSE;
    }
    /* An exact integer, so the byte sizes computed from it stay defined. */
    if (!agora_json_uint(toks, UINT64_MAX, &ms->tokens)) {
        snprintf(err, AGORA_ERR_LEN,
                 "%.400s/meta.json: \"%.32s\" tokens is not an integer in [0, 2^53]", dir, split);
        return AGORA_ERANGE;
    }
    return AGORA_OK;
}

/* Loads the part of every shard that overlaps [lo, hi) of the split's token stream. */
static agora_err load_range(const char *dir, const meta_split *ms, agora_data_loader *l,
                            uint64_t lo, uint64_t hi, char err[AGORA_ERR_LEN]) {
    const size_t plen = strlen(dir) + 80;
    char *path = agora_malloc(plen);
    if (path == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: out of memory", dir);
        return AGORA_ENOMEM;
    }
    agora_err rc = AGORA_OK;
    /* First the headers alone: names, sizes and the total, before allocating for the count
     * meta.json claims. */
    uint64_t total = 0;
    for (const cJSON *s = ms->shards->child; s != NULL && rc == AGORA_OK; s = s->next) {
        if (!cJSON_IsString(s) || strchr(s->valuestring, '/') != NULL ||
            strlen(s->valuestring) > 64) {
            snprintf(err, AGORA_ERR_LEN, "%.400s/meta.json: shard names must be plain names", dir);
            rc = AGORA_EPARSE;
            break;
        }
        snprintf(path, plen, "%s/%s", dir, s->valuestring);
        agora_shard_header h;
        FILE *f = NULL;
        rc = shard_open(path, &h, &f, err);
        if (rc == AGORA_OK) {
            fclose(f);
            total += h.n_tokens; /* < 2^53 + 2^62 at most: the loop stops once past */
            if (total > ms->tokens)
                break;
        }
    }
    if (rc == AGORA_OK && total != ms->tokens) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: shards hold %s%llu tokens, meta.json says %llu", dir,
                 total > ms->tokens ? "at least " : "", (unsigned long long)total,
                 (unsigned long long)ms->tokens);
        rc = AGORA_ETRUNCATED;
    }
    if (rc == AGORA_OK &&
        (l->toks = agora_malloc((size_t)(hi - lo) * l->token_bytes + 1)) == NULL) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: out of memory", dir);
        rc = AGORA_ENOMEM;
    }
    uint64_t off = 0;
    for (const cJSON *s = ms->shards->child; s != NULL && rc == AGORA_OK; s = s->next) {
        snprintf(path, plen, "%s/%s", dir, s->valuestring);
        agora_shard_header h;
        uint8_t *raw = NULL;
        rc = shard_read_raw(path, &h, &raw, err);
        if (rc != AGORA_OK)
            break;
        if (h.vocab_size != l->vocab_size || h.token_bytes != l->token_bytes) {
            snprintf(err, AGORA_ERR_LEN,
                     "%.400s: vocab %u / %u-byte ids disagree with meta.json (%u / %u)", path,
                     h.vocab_size, h.token_bytes, l->vocab_size, l->token_bytes);
            rc = AGORA_ESHAPE;
        } else if (h.n_tokens > ms->tokens - off) {
            /* The buffer holds [lo, hi) of meta.json's count: never copy past it. */
            snprintf(err, AGORA_ERR_LEN,
                     "%.400s: shards hold more than the %llu tokens meta.json says", dir,
                     (unsigned long long)ms->tokens);
            rc = AGORA_ETRUNCATED;
        } else {
            /* Overlap of [off, off + n) with [lo, hi). */
            uint64_t a = off > lo ? off : lo, b = off + h.n_tokens < hi ? off + h.n_tokens : hi;
            if (a < b)
                memcpy(l->toks + (a - lo) * l->token_bytes, raw + (a - off) * h.token_bytes,
                       (size_t)(b - a) * h.token_bytes);
            off += h.n_tokens;
        }
        agora_free(raw);
    }
    if (rc == AGORA_OK && off != ms->tokens) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: shards hold %llu tokens, meta.json says %llu", dir,
                 (unsigned long long)off, (unsigned long long)ms->tokens);
        rc = AGORA_ETRUNCATED;
    }
    agora_free(path);
    return rc;
}

agora_err agora_data_loader_open(const char *dir, const char *split, uint32_t worker,
                                 uint32_t n_workers, uint64_t seed, agora_data_loader **out,
                                 char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(dir != NULL && split != NULL && out != NULL && err != NULL);
    err[0] = '\0';
    if (strcmp(split, "train") != 0 && strcmp(split, "val") != 0) {
        snprintf(err, AGORA_ERR_LEN, "split must be \"train\" or \"val\", not \"%.64s\"", split);
        return AGORA_EINVAL;
    }
    if (n_workers == 0 || worker >= n_workers) {
        snprintf(err, AGORA_ERR_LEN, "worker %u of %u does not exist", worker, n_workers);
        return AGORA_EINVAL;
    }
    const size_t plen = strlen(dir) + 16;
    char *mpath = agora_malloc(plen);
    agora_data_loader *l = agora_calloc(1, sizeof *l);
    cJSON *root = NULL;
    agora_err rc = AGORA_OK;
    if (mpath == NULL || l == NULL) {
        rc = AGORA_ENOMEM;
        snprintf(err, AGORA_ERR_LEN, "out of memory");
        goto fail;
    }
    snprintf(mpath, plen, "%s/meta.json", dir);
    AGORA_TRY_GOTO(agora_json_load_file(mpath, (size_t)1 << 24, &root, err), rc, fail);
    meta_split ms;
    AGORA_TRY_GOTO(read_meta(dir, split, root, l, &ms, err), rc, fail);
    const uint64_t lo = range_bound(ms.tokens, worker, n_workers);
    const uint64_t hi = range_bound(ms.tokens, worker + 1, n_workers);
    if (hi == lo) {
        snprintf(err, AGORA_ERR_LEN,
                 "%.400s: split \"%s\" has %llu tokens, none for worker %u of %u", dir, split,
                 (unsigned long long)ms.tokens, worker, n_workers);
        rc = AGORA_ERANGE;
        goto fail;
    }
    AGORA_TRY_GOTO(load_range(dir, &ms, l, lo, hi, err), rc, fail);
    l->worker = worker;
    l->n_workers = n_workers;
    l->seed = seed;
    l->n = hi - lo;
    agora_json_free(root);
    agora_free(mpath);
    *out = l;
    return AGORA_OK;
fail:
    agora_json_free(root);
    agora_free(mpath);
    agora_data_loader_close(l);
    return rc;
}

void agora_data_loader_close(agora_data_loader *l) {
    if (l == NULL)
        return;
    agora_free(l->toks);
    agora_free(l);
}

uint32_t agora_data_loader_vocab_size(const agora_data_loader *l) {
    return l->vocab_size;
}
uint64_t agora_data_loader_n_tokens(const agora_data_loader *l) {
    return l->n;
}
const char *agora_data_loader_last_error(const agora_data_loader *l) {
    return l->last_err;
}

/* Where epoch e starts: 0 for the first, then a draw in [0, min(T, n - T - 1)] from
 * (seed, DATA stream, worker, block e), so window boundaries move between epochs. */
static uint64_t epoch_start(const agora_data_loader *l, uint64_t e, uint64_t T) {
    if (e == 0)
        return 0;
    uint64_t span = l->n - T - 1; /* last valid start */
    if (span > T)
        span = T;
    uint64_t r = (uint64_t)agora_rng_at(l->seed, AGORA_RNG_STREAM_DATA, l->worker, e, 0) << 32 |
                 agora_rng_at(l->seed, AGORA_RNG_STREAM_DATA, l->worker, e, 1);
    return r % (span + 1);
}

agora_err agora_data_loader_next(agora_data_loader *l, int B, int T, int32_t *inputs,
                                 int32_t *targets) {
    AGORA_ASSERT(l != NULL && inputs != NULL && targets != NULL);
    if (B < 1 || T < 1) {
        snprintf(l->last_err, sizeof l->last_err, "B and T must be >= 1 (got %d, %d)", B, T);
        return AGORA_EINVAL;
    }
    if (l->n < (uint64_t)T + 1) {
        snprintf(l->last_err, sizeof l->last_err,
                 "worker %u holds %llu tokens, fewer than T + 1 = %d", l->worker,
                 (unsigned long long)l->n, T + 1);
        return AGORA_ERANGE;
    }
    for (int b = 0; b < B; b++) {
        if (l->pos + (uint64_t)T + 1 > l->n) {
            l->epoch++;
            l->pos = epoch_start(l, l->epoch, (uint64_t)T);
        }
        int32_t *in = inputs + (size_t)b * (size_t)T, *tg = targets + (size_t)b * (size_t)T;
        uint32_t prev = tok_at(l, l->pos);
        for (int t = 0; t < T; t++) {
            uint32_t next = tok_at(l, l->pos + (uint64_t)t + 1);
            in[t] = (int32_t)prev;
            tg[t] = (int32_t)next;
            prev = next;
        }
        l->pos += (uint64_t)T;
    }
    l->last_err[0] = '\0';
    return AGORA_OK;
}

void agora_data_loader_get_cursor(const agora_data_loader *l, agora_data_cursor *out) {
    *out = (agora_data_cursor){.epoch = l->epoch,
                               .pos = l->pos,
                               .seed = l->seed,
                               .worker = l->worker,
                               .n_workers = l->n_workers};
}

agora_err agora_data_loader_set_cursor(agora_data_loader *l, const agora_data_cursor *c) {
    AGORA_ASSERT(l != NULL && c != NULL);
    if (c->worker != l->worker || c->n_workers != l->n_workers) {
        snprintf(l->last_err, sizeof l->last_err,
                 "cursor is for worker %u of %u, this loader is worker %u of %u", c->worker,
                 c->n_workers, l->worker, l->n_workers);
        return AGORA_ESHAPE;
    }
    if (c->pos > l->n) {
        snprintf(l->last_err, sizeof l->last_err,
                 "cursor position %llu lies outside this worker's %llu tokens",
                 (unsigned long long)c->pos, (unsigned long long)l->n);
        return AGORA_ERANGE;
    }
    l->epoch = c->epoch;
    l->pos = c->pos;
    l->seed = c->seed;
    l->last_err[0] = '\0';
    return AGORA_OK;
}
