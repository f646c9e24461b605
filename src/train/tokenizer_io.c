/* tokenizer_io.c: our vocab file format ("agora-bpe 1"), load and save.
 *
 * Implements: a strict line parser with file:line messages, an XXH3-64 checksum over the
 * file, and atomic saving. Does not: validate the merge graph itself; that is done once,
 * for every source, by agora_tokenizer_create.
 *
 * Layout (docs/tokenizer.md has the full description):
 *   agora-bpe 1
 *   vocab_size 4096
 *   bytes identity                    or "bytes" and 256 ids on the same line
 *   merges 3840
 *   101 32                            one "left right" line per merge, in rank order
 *   ...
 *   specials 0                        then one line of lowercase hex bytes per special
 *   checksum 0123456789abcdef         XXH3-64 of every byte before this line
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/json.h"
#include "agora/stream.h"
#include "agora/tokenizer.h"

#define FORMAT_MAGIC "agora-bpe"
#define FORMAT_VERSION 1u
#define MAX_FILE_BYTES ((size_t)1 << 30)

// ---- parsing ----

typedef struct lexer {
    const char *p, *end;
    const char *line_start;
    uint32_t line;
    const char *name;
    char *err;
} lexer;

static agora_err lex_fail(lexer *lx, agora_err rc, const char *what) {
    snprintf(lx->err, AGORA_ERR_LEN, "%s:%u: %s", lx->name, lx->line, what);
    return rc;
}

/* Returns the next line (without '\n') in [*s, *e); EOF gives AGORA_ETRUNCATED. */
static agora_err next_line(lexer *lx, const char **s, const char **e) {
    if (lx->p >= lx->end) {
        lx->line++;
        return lex_fail(lx, AGORA_ETRUNCATED, "unexpected end of file");
    }
    lx->line++;
    lx->line_start = lx->p;
    const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
    if (nl == NULL)
        return lex_fail(lx, AGORA_ETRUNCATED, "last line has no newline (file cut short?)");
    *s = lx->p;
    *e = nl;
    lx->p = nl + 1;
    return AGORA_OK;
}

/* Parses a decimal uint32 at *s (no sign, no leading spaces), advancing *s. */
static bool parse_u32(const char **s, const char *e, uint32_t *out) {
    const char *p = *s;
    uint64_t v = 0;
    if (p >= e || *p < '0' || *p > '9')
        return false;
    while (p < e && *p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return false;
        p++;
    }
    *out = (uint32_t)v;
    *s = p;
    return true;
}

/* "key N" on one line. */
static agora_err parse_keyed_u32(lexer *lx, const char *key, uint32_t *out) {
    const char *s, *e;
    AGORA_TRY(next_line(lx, &s, &e));
    size_t kl = strlen(key);
    char msg[128];
    if ((size_t)(e - s) <= kl || memcmp(s, key, kl) != 0 || s[kl] != ' ') {
        snprintf(msg, sizeof msg, "expected \"%s <number>\"", key);
        return lex_fail(lx, AGORA_EPARSE, msg);
    }
    s += kl + 1;
    if (!parse_u32(&s, e, out) || s != e) {
        snprintf(msg, sizeof msg, "\"%s\" needs one unsigned number", key);
        return lex_fail(lx, AGORA_EPARSE, msg);
    }
    return AGORA_OK;
}

static agora_err parse_magic(lexer *lx) {
    const char *s, *e;
    AGORA_TRY(next_line(lx, &s, &e));
    size_t ml = strlen(FORMAT_MAGIC);
    if ((size_t)(e - s) <= ml || memcmp(s, FORMAT_MAGIC " ", ml + 1) != 0)
        return lex_fail(lx, AGORA_EPARSE,
                        "not an agora-bpe vocab file (first line must be \"agora-bpe 1\")");
    s += ml + 1;
    uint32_t ver = 0;
    if (!parse_u32(&s, e, &ver) || s != e)
        return lex_fail(lx, AGORA_EPARSE, "bad format version");
    if (ver != FORMAT_VERSION) {
        char msg[96];
        snprintf(msg, sizeof msg, "format version %u is not supported (this build reads %u)", ver,
                 FORMAT_VERSION);
        return lex_fail(lx, AGORA_EVERSION, msg);
    }
    return AGORA_OK;
}

/* "bytes identity" or "bytes" followed by 256 ids. *identity is set for the first. */
static agora_err parse_bytes(lexer *lx, uint32_t ids[256], bool *identity) {
    const char *s, *e;
    AGORA_TRY(next_line(lx, &s, &e));
    if ((size_t)(e - s) == 14 && memcmp(s, "bytes identity", 14) == 0) {
        *identity = true;
        return AGORA_OK;
    }
    *identity = false;
    if ((size_t)(e - s) < 6 || memcmp(s, "bytes ", 6) != 0)
        return lex_fail(lx, AGORA_EPARSE, "expected \"bytes identity\" or \"bytes\" + 256 ids");
    s += 5;
    for (int b = 0; b < 256; b++) {
        if (s >= e || *s != ' ')
            return lex_fail(lx, AGORA_EPARSE, "\"bytes\" needs exactly 256 ids");
        s++;
        if (!parse_u32(&s, e, &ids[b]))
            return lex_fail(lx, AGORA_EPARSE, "bad id in \"bytes\"");
    }
    if (s != e)
        return lex_fail(lx, AGORA_EPARSE, "\"bytes\" needs exactly 256 ids");
    return AGORA_OK;
}

static agora_err parse_merges(lexer *lx, uint32_t n, uint32_t *merges) {
    for (uint32_t k = 0; k < n; k++) {
        const char *s, *e;
        AGORA_TRY(next_line(lx, &s, &e));
        if (!parse_u32(&s, e, &merges[2 * k]) || s >= e || *s++ != ' ' ||
            !parse_u32(&s, e, &merges[2 * k + 1]) || s != e)
            return lex_fail(lx, AGORA_EPARSE, "expected a merge \"<left id> <right id>\"");
        if (merges[2 * k] >= 256 + k || merges[2 * k + 1] >= 256 + k)
            return lex_fail(lx, AGORA_ERANGE,
                            "merge uses an id that is not a byte or an earlier merge");
    }
    return AGORA_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Each special is one line of lowercase hex; decoded in place into the parse buffer's
 * copy (spec_buf), pointers into it go to the caller. */
static agora_err parse_specials(lexer *lx, uint32_t n, char *buf, char **ptrs, size_t *lens) {
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *s, *e;
        AGORA_TRY(next_line(lx, &s, &e));
        size_t hl = (size_t)(e - s);
        if (hl == 0 || hl % 2 != 0)
            return lex_fail(lx, AGORA_EPARSE,
                            "a special token is a non-empty even-length hex "
                            "string");
        ptrs[i] = buf + off;
        for (size_t j = 0; j < hl; j += 2) {
            int hi = hexval(s[j]), lo = hexval(s[j + 1]);
            if (hi < 0 || lo < 0)
                return lex_fail(lx, AGORA_EPARSE, "special token: bad hex digit");
            buf[off++] = (char)(hi * 16 + lo);
        }
        lens[i] = hl / 2;
    }
    return AGORA_OK;
}

/* Checks the last line, "checksum <hex>", against every byte before it, and stops the
 * lexer there. Done right after the magic line, so a corrupt file is reported as corrupt
 * rather than as whatever parse error the damage happens to cause. */
/* Errors about the file as a whole carry no line number. */
static agora_err file_fail(lexer *lx, agora_err rc, const char *what) {
    snprintf(lx->err, AGORA_ERR_LEN, "%s: %s", lx->name, what);
    return rc;
}

static agora_err check_checksum(lexer *lx, const char *data, size_t len) {
    if (len == 0 || data[len - 1] != '\n')
        return file_fail(lx, AGORA_ETRUNCATED, "last line has no newline (file cut short?)");
    const char *e = data + len - 1, *s = e;
    while (s > data && s[-1] != '\n')
        s--;
    if ((size_t)(e - s) != 9 + 16 || memcmp(s, "checksum ", 9) != 0)
        return file_fail(lx, AGORA_ETRUNCATED,
                         "the last line is not \"checksum <16 hex digits>\" (file cut short?)");
    uint64_t want = 0;
    for (int i = 0; i < 16; i++) {
        int v = hexval(s[9 + i]);
        if (v < 0)
            return file_fail(lx, AGORA_EPARSE, "checksum: bad hex digit");
        want = want << 4 | (uint64_t)v;
    }
    if (agora_hash64(data, (size_t)(s - data)) != want)
        return file_fail(lx, AGORA_ECHECKSUM,
                         "checksum mismatch: the file is corrupt or was edited by hand");
    lx->end = s;
    return AGORA_OK;
}

agora_err agora_tokenizer_load_mem(const char *data, size_t len, const char *name,
                                   agora_tokenizer **out, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(out != NULL && err != NULL);
    AGORA_ASSERT(data != NULL || len == 0);
    err[0] = '\0';
    lexer lx = {.p = data, .end = data + len, .name = name ? name : "<memory>", .err = err};
    uint32_t vocab = 0, n_merges = 0, n_specials = 0;
    uint32_t byte_ids[256];
    bool identity = true;
    uint32_t *merges = NULL;
    char *spec_buf = NULL, **spec_ptr = NULL;
    size_t *spec_len = NULL;
    agora_err rc = AGORA_OK;
    AGORA_TRY_GOTO(parse_magic(&lx), rc, out);
    AGORA_TRY_GOTO(check_checksum(&lx, data, len), rc, out);
    AGORA_TRY_GOTO(parse_keyed_u32(&lx, "vocab_size", &vocab), rc, out);
    if (vocab < 256 || vocab > AGORA_TOKENIZER_MAX_VOCAB) {
        rc = lex_fail(&lx, AGORA_ERANGE, "vocab_size must be in [256, 16777216]");
        goto out;
    }
    AGORA_TRY_GOTO(parse_bytes(&lx, byte_ids, &identity), rc, out);
    AGORA_TRY_GOTO(parse_keyed_u32(&lx, "merges", &n_merges), rc, out);
    if ((uint64_t)n_merges + 256 > vocab) {
        rc = lex_fail(&lx, AGORA_ERANGE, "more merges than vocab_size allows");
        goto out;
    }
    /* Every merge takes at least 4 bytes ("1 2\n"): a cheap bound before allocating. */
    if ((uint64_t)n_merges * 4 > len) {
        rc = lex_fail(&lx, AGORA_ETRUNCATED, "file is too short for its merge count");
        goto out;
    }
    merges = agora_malloc(2 * (size_t)n_merges * sizeof *merges + 1);
    if (merges == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    AGORA_TRY_GOTO(parse_merges(&lx, n_merges, merges), rc, out);
    AGORA_TRY_GOTO(parse_keyed_u32(&lx, "specials", &n_specials), rc, out);
    if ((uint64_t)256 + n_merges + n_specials != vocab) {
        rc = lex_fail(&lx, AGORA_ERANGE, "vocab_size is not 256 + merges + specials");
        goto out;
    }
    spec_buf = agora_malloc(len + 1);
    spec_ptr = agora_malloc(((size_t)n_specials + 1) * sizeof *spec_ptr);
    spec_len = agora_malloc(((size_t)n_specials + 1) * sizeof *spec_len);
    if (spec_buf == NULL || spec_ptr == NULL || spec_len == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    AGORA_TRY_GOTO(parse_specials(&lx, n_specials, spec_buf, spec_ptr, spec_len), rc, out);
    if (lx.p != lx.end) {
        lx.line++;
        rc = lex_fail(&lx, AGORA_EPARSE, "unexpected line before the checksum line");
        goto out;
    }
    char cerr[AGORA_ERR_LEN];
    rc = agora_tokenizer_create(identity ? NULL : byte_ids, merges, n_merges,
                                (const char *const *)spec_ptr, spec_len, n_specials, out, cerr);
    if (rc != AGORA_OK)
        snprintf(err, AGORA_ERR_LEN, "%.200s: %.300s", lx.name, cerr);
out:
    if (rc == AGORA_ENOMEM && err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "%s: out of memory", lx.name);
    agora_free(merges);
    agora_free(spec_buf);
    agora_free(spec_ptr);
    agora_free(spec_len);
    return rc;
}

agora_err agora_tokenizer_load(const char *path, agora_tokenizer **out, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(path != NULL);
    char *buf = NULL;
    size_t len = 0;
    AGORA_TRY(agora_read_file(path, MAX_FILE_BYTES, &buf, &len, err));
    agora_err rc = agora_tokenizer_load_mem(buf, len, path, out, err);
    agora_free(buf);
    return rc;
}

// ---- saving ----

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = agora_realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_printf(sbuf *b, const char *fmt, ...) AGORA_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    AGORA_ASSERT(n >= 0 && (size_t)n < sizeof tmp);
    sb_put(b, tmp, (size_t)n);
}

agora_err agora_tokenizer_save(const agora_tokenizer *t, const char *path,
                               char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(t != NULL && path != NULL && err != NULL);
    const uint32_t nm = agora_tokenizer_n_merges(t), ns = agora_tokenizer_n_specials(t);
    sbuf b = {0};
    sb_printf(&b, "%s %u\nvocab_size %u\n", FORMAT_MAGIC, FORMAT_VERSION,
              agora_tokenizer_vocab_size(t));
    bool identity = true;
    for (int i = 0; i < 256; i++)
        identity = identity && agora_tokenizer_byte_id(t, (uint8_t)i) == (uint32_t)i;
    if (identity) {
        sb_printf(&b, "bytes identity\n");
    } else {
        sb_printf(&b, "bytes");
        for (int i = 0; i < 256; i++)
            sb_printf(&b, " %u", agora_tokenizer_byte_id(t, (uint8_t)i));
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "merges %u\n", nm);
    for (uint32_t k = 0; k < nm; k++) {
        uint32_t l, r;
        agora_tokenizer_merge(t, k, &l, &r);
        sb_printf(&b, "%u %u\n", l, r);
    }
    sb_printf(&b, "specials %u\n", ns);
    for (uint32_t s = 0; s < ns; s++) {
        size_t len = 0;
        const uint8_t *p = agora_tokenizer_token_bytes(t, 256 + nm + s, &len);
        for (size_t i = 0; i < len; i++)
            sb_printf(&b, "%02x", p[i]);
        sb_printf(&b, "\n");
    }
    if (b.oom) {
        agora_free(b.p);
        snprintf(err, AGORA_ERR_LEN, "%s: out of memory", path);
        return AGORA_ENOMEM;
    }
    sb_printf(&b, "checksum %016llx\n", (unsigned long long)agora_hash64(b.p, b.n));
    agora_err rc = b.oom ? AGORA_ENOMEM : agora_write_file_atomic(path, b.p, b.n, err);
    if (rc == AGORA_ENOMEM)
        snprintf(err, AGORA_ERR_LEN, "%s: out of memory", path);
    agora_free(b.p);
    return rc;
}

// ---- opening whatever path the user gave ----

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

agora_err agora_tokenizer_open(const char *path, agora_tokenizer **out, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(path != NULL && out != NULL && err != NULL);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: no such file or directory", path);
        return AGORA_ENOENT;
    }
    if (!S_ISDIR(st.st_mode))
        return agora_tokenizer_load(path, out, err);
    const size_t n = strlen(path) + 64;
    char *a = agora_malloc(n), *b = agora_malloc(n);
    agora_err rc = AGORA_OK;
    cJSON *meta = NULL;
    if (a == NULL || b == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    snprintf(a, n, "%s/encoder.json", path);
    snprintf(b, n, "%s/vocab.bpe", path);
    if (is_file(a) && is_file(b)) {
        rc = agora_tokenizer_load_gpt2(a, b, out, err);
        goto out;
    }
    snprintf(a, n, "%s/meta.json", path);
    if (!is_file(a)) {
        snprintf(err, AGORA_ERR_LEN,
                 "%.400s: directory holds neither encoder.json + vocab.bpe nor meta.json", path);
        rc = AGORA_ENOENT;
        goto out;
    }
    AGORA_TRY_GOTO(agora_json_load_file(a, (size_t)1 << 20, &meta, err), rc, out);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "tokenizer");
    if (!cJSON_IsString(name) || strchr(name->valuestring, '/') != NULL ||
        strlen(name->valuestring) > 48) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: \"tokenizer\" must be a plain file name", a);
        rc = AGORA_EPARSE;
        goto out;
    }
    snprintf(b, n, "%s/%s", path, name->valuestring);
    rc = agora_tokenizer_load(b, out, err);
out:
    if (rc == AGORA_ENOMEM)
        snprintf(err, AGORA_ERR_LEN, "out of memory");
    agora_json_free(meta);
    agora_free(a);
    agora_free(b);
    return rc;
}
