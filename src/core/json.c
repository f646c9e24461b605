/* json.c: the JSON emitter and the cJSON reading wrapper. */
#include "agora/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/stream.h"

void agora_jw_init(agora_jw *w) {
    memset(w, 0, sizeof *w);
    w->first[0] = true;
}

void agora_jw_fini(agora_jw *w) {
    agora_free(w->buf);
    memset(w, 0, sizeof *w);
}

void agora_jw_reset(agora_jw *w) {
    w->len = 0;
    if (w->buf)
        w->buf[0] = '\0';
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}

static void put(agora_jw *w, const char *s, size_t n) {
    if (w->oom)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *nb = agora_realloc(w->buf, cap);
        if (nb == NULL) {
            w->oom = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(agora_jw *w, const char *s) {
    put(w, s, strlen(s));
}

/* Writes the separator before a value (or key) at the current depth. */
static void sep(agora_jw *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        put(w, ",", 1);
    w->first[w->depth] = false;
}

static void open_(agora_jw *w, char c) {
    sep(w);
    put(w, &c, 1);
    if (w->depth + 1 < AGORA_JSON_MAX_DEPTH)
        w->depth++;
    w->first[w->depth] = true;
}

static void close_(agora_jw *w, char c) {
    if (w->depth > 0)
        w->depth--;
    put(w, &c, 1);
}

void agora_jw_obj_begin(agora_jw *w) {
    open_(w, '{');
}
void agora_jw_obj_end(agora_jw *w) {
    close_(w, '}');
}
void agora_jw_arr_begin(agora_jw *w) {
    open_(w, '[');
}
void agora_jw_arr_end(agora_jw *w) {
    close_(w, ']');
}

static void quoted(agora_jw *w, const char *s) {
    put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"':
            puts_(w, "\\\"");
            break;
        case '\\':
            puts_(w, "\\\\");
            break;
        case '\n':
            puts_(w, "\\n");
            break;
        case '\r':
            puts_(w, "\\r");
            break;
        case '\t':
            puts_(w, "\\t");
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(w, esc);
            } else {
                put(w, (const char *)p, 1);
            }
        }
    }
    put(w, "\"", 1);
}

void agora_jw_key(agora_jw *w, const char *key) {
    sep(w);
    quoted(w, key);
    put(w, ":", 1);
    w->after_key = true;
}

void agora_jw_str(agora_jw *w, const char *s) {
    sep(w);
    quoted(w, s);
}

void agora_jw_i64(agora_jw *w, int64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    sep(w);
    puts_(w, b);
}

void agora_jw_u64(agora_jw *w, uint64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    sep(w);
    puts_(w, b);
}

static void num(agora_jw *w, double v, bool dbl) {
    sep(w);
    if (!isfinite(v)) {
        puts_(w, "null");
        return;
    }
    char b[40];
    if (dbl)
        snprintf(b, sizeof b, "%.17g", v);
    else
        snprintf(b, sizeof b, "%.9g", v);
    puts_(w, b);
}

void agora_jw_f64(agora_jw *w, double v) {
    num(w, v, true);
}
void agora_jw_f32(agora_jw *w, double v) {
    num(w, v, false);
}

void agora_jw_bool(agora_jw *w, bool v) {
    sep(w);
    puts_(w, v ? "true" : "false");
}

void agora_jw_null(agora_jw *w) {
    sep(w);
    puts_(w, "null");
}

agora_err agora_jw_status(const agora_jw *w) {
    return w->oom ? AGORA_ENOMEM : AGORA_OK;
}

agora_err agora_json_parse(const char *text, size_t len, const char *name, struct cJSON **out,
                           char err[AGORA_ERR_LEN]) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (j == NULL) {
        size_t off = (end != NULL && end >= text) ? (size_t)(end - text) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        if (err)
            snprintf(err, AGORA_ERR_LEN, "%s: invalid JSON at line %zu, column %zu", name, line,
                     col);
        return AGORA_EPARSE;
    }
    *out = j;
    return AGORA_OK;
}

agora_err agora_json_load_file(const char *path, size_t max_len, struct cJSON **out,
                               char err[AGORA_ERR_LEN]) {
    char *buf = NULL;
    size_t len = 0;
    AGORA_TRY(agora_read_file(path, max_len, &buf, &len, err));
    agora_err rc = agora_json_parse(buf, len, path, out, err);
    agora_free(buf);
    return rc;
}

bool agora_json_uint(const struct cJSON *item, uint64_t max, uint64_t *out) {
    const double limit = 9007199254740992.0; /* 2^53 */
    if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0) || item->valuedouble > limit)
        return false;
    uint64_t v = (uint64_t)item->valuedouble; /* defined: in [0, 2^53] */
    if ((double)v != item->valuedouble || v > max)
        return false;
    *out = v;
    return true;
}

void agora_json_free(struct cJSON *j) {
    cJSON_Delete(j);
}
