/* config.c: the config table engine: defaults, INI files, environment, --set.
 *
 * Implements: value parsing with range checks, INI loading through libinih with file:line
 * messages, AGORA_* environment variables, the effective-config writer and its hash.
 * Does not: declare settings (each subsystem owns its table) or decide precedence beyond
 * the documented order.
 */
#include "agora/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/strbuf.h"
#include "agora/stream.h"

/* Files larger than this are not configs. */
#define CFG_MAX_FILE (1u << 20)
/* libinih (Debian build) reads lines of at most 199 characters. */
#define CFG_MAX_LINE 199

static void fail(char err[AGORA_ERR_LEN], const char *fmt, ...) AGORA_PRINTF(2, 3);
static void fail(char err[AGORA_ERR_LEN], const char *fmt, ...) {
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, AGORA_ERR_LEN, fmt, ap);
    va_end(ap);
}

static void *field(const agora_cfg_entry *e, void *base) {
    return (char *)base + e->offset;
}

static const agora_cfg_entry *find(const agora_cfg_table *t, size_t nt, const char *key,
                                   void **base_out) {
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < t[i].n; j++)
            if (strcmp(t[i].entries[j].key, key) == 0) {
                *base_out = t[i].base;
                return &t[i].entries[j];
            }
    return NULL;
}

/* Levenshtein distance, capped, for "did you mean" hints. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

static void unknown_key(const agora_cfg_table *t, size_t nt, const char *where, const char *key,
                        char err[AGORA_ERR_LEN]) {
    const char *best = NULL;
    size_t best_d = 4;
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < t[i].n; j++) {
            size_t d = edit_distance(key, t[i].entries[j].key);
            if (d < best_d) {
                best_d = d;
                best = t[i].entries[j].key;
            }
        }
    if (best != NULL)
        fail(err, "%s: unknown key '%s' (did you mean '%s'?)", where, key, best);
    else
        fail(err, "%s: unknown key '%s'", where, key);
}

// ---- value parsing ----

static bool parse_i64(const char *s, int64_t *out) {
    char clean[128];
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '_')
            continue;
        if (n + 1 >= sizeof clean)
            return false;
        clean[n++] = *p;
    }
    clean[n] = '\0';
    if (n == 0)
        return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(clean, &end, 0);
    if (errno == 0 && end != clean && *end == '\0') {
        *out = (int64_t)v;
        return true;
    }
    /* "1e6": accept when it is exactly an integer that fits. */
    errno = 0;
    double d = strtod(clean, &end);
    if (errno != 0 || end == clean || *end != '\0' || !isfinite(d) || d != floor(d) ||
        fabs(d) > 9.0e15)
        return false;
    *out = (int64_t)d;
    return true;
}

static bool parse_f64(const char *s, double *out) {
    errno = 0;
    char *end = NULL;
    double d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static void enum_list(const agora_cfg_entry *e, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; e->names[i] != NULL && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", e->names[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static agora_err apply(const agora_cfg_entry *e, void *base, const char *value, const char *where,
                       char err[AGORA_ERR_LEN]) {
    void *f = field(e, base);
    switch (e->type) {
    case AGORA_CFG_T_INT: {
        int64_t v;
        if (!parse_i64(value, &v)) {
            fail(err, "%s: %s = '%s' is not an integer", where, e->key, value);
            return AGORA_EPARSE;
        }
        if (v < e->i_min || v > e->i_max) {
            fail(err, "%s: %s = %s is out of range [%lld, %lld]", where, e->key, value,
                 (long long)e->i_min, (long long)e->i_max);
            return AGORA_ERANGE;
        }
        *(int64_t *)f = v;
        return AGORA_OK;
    }
    case AGORA_CFG_T_DBL: {
        double v;
        if (!parse_f64(value, &v)) {
            fail(err, "%s: %s = '%s' is not a number", where, e->key, value);
            return AGORA_EPARSE;
        }
        if (v < e->d_min || v > e->d_max) {
            fail(err, "%s: %s = %s is out of range [%g, %g]", where, e->key, value, e->d_min,
                 e->d_max);
            return AGORA_ERANGE;
        }
        *(double *)f = v;
        return AGORA_OK;
    }
    case AGORA_CFG_T_BOOL: {
        bool v;
        if (!parse_bool(value, &v)) {
            fail(err, "%s: %s = '%s' is not a boolean (true/false)", where, e->key, value);
            return AGORA_EPARSE;
        }
        *(bool *)f = v;
        return AGORA_OK;
    }
    case AGORA_CFG_T_STR: {
        size_t n = strlen(value);
        if (n >= AGORA_CFG_STR_LEN) {
            fail(err, "%s: %s is %zu characters long; the limit is %d", where, e->key, n,
                 AGORA_CFG_STR_LEN - 1);
            return AGORA_ERANGE;
        }
        memcpy(f, value, n + 1);
        return AGORA_OK;
    }
    case AGORA_CFG_T_ENUM:
        for (int i = 0; e->names[i] != NULL; i++)
            if (strcmp(value, e->names[i]) == 0) {
                *(int *)f = i;
                return AGORA_OK;
            }
        char list[256];
        enum_list(e, list, sizeof list);
        fail(err, "%s: %s = '%s' is not one of: %s", where, e->key, value, list);
        return AGORA_ERANGE;
    }
    fail(err, "%s: %s has an unknown type", where, e->key);
    return AGORA_EINVAL;
}

void agora_cfg_set_defaults(const agora_cfg_table *t, size_t nt) {
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < t[i].n; j++) {
            const agora_cfg_entry *e = &t[i].entries[j];
            void *f = field(e, t[i].base);
            switch (e->type) {
            case AGORA_CFG_T_INT:
                *(int64_t *)f = e->i_def;
                break;
            case AGORA_CFG_T_DBL:
                *(double *)f = e->d_def;
                break;
            case AGORA_CFG_T_BOOL:
                *(bool *)f = e->i_def != 0;
                break;
            case AGORA_CFG_T_STR:
                snprintf((char *)f, AGORA_CFG_STR_LEN, "%s", e->s_def ? e->s_def : "");
                break;
            case AGORA_CFG_T_ENUM: {
                int k = 0;
                for (int m = 0; e->names[m] != NULL; m++)
                    if (e->s_def != NULL && strcmp(e->names[m], e->s_def) == 0)
                        k = m;
                *(int *)f = k;
                break;
            }
            }
        }
}

agora_err agora_cfg_set_value(const agora_cfg_table *t, size_t nt, const char *key,
                              const char *value, const char *where, char err[AGORA_ERR_LEN]) {
    void *base = NULL;
    const agora_cfg_entry *e = find(t, nt, key, &base);
    if (e == NULL) {
        unknown_key(t, nt, where, key, err);
        return AGORA_EUNKNOWN_KEY;
    }
    return apply(e, base, value, where, err);
}

agora_err agora_cfg_set(const agora_cfg_table *t, size_t nt, const char *assignment,
                        char err[AGORA_ERR_LEN]) {
    char where[160];
    snprintf(where, sizeof where, "--set %.140s", assignment);
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment) {
        fail(err, "%s: expected key=value", where);
        return AGORA_EPARSE;
    }
    char key[128];
    size_t kl = (size_t)(eq - assignment);
    if (kl >= sizeof key) {
        fail(err, "%s: key is too long", where);
        return AGORA_EPARSE;
    }
    memcpy(key, assignment, kl);
    key[kl] = '\0';
    return agora_cfg_set_value(t, nt, key, eq + 1, where, err);
}

// ---- INI files ----

typedef struct ini_ctx {
    const agora_cfg_table *t;
    size_t nt;
    const char *name;
    agora_err rc;
    int err_line; /* line of the first handler error */
    char msg[AGORA_ERR_LEN];
    /* The line reader that feeds libinih, so the handler knows the current line. */
    const char *text;
    size_t len, pos;
    int line;
} ini_ctx;

/* Strips TOML-style quotes and, for unquoted values, a trailing " # comment". */
static void clean_value(const char *in, char *out, size_t len) {
    size_t n = strlen(in);
    if (n >= 2 && ((in[0] == '"' && in[n - 1] == '"') || (in[0] == '\'' && in[n - 1] == '\''))) {
        snprintf(out, len, "%.*s", (int)(n - 2), in + 1);
        return;
    }
    snprintf(out, len, "%s", in);
    char *hash = strstr(out, " #");
    if (hash == NULL)
        hash = strstr(out, "\t#");
    if (hash != NULL) {
        *hash = '\0';
        for (size_t k = strlen(out); k > 0 && isspace((unsigned char)out[k - 1]); k--)
            out[k - 1] = '\0';
    }
}

/* fgets-like reader over the in-memory text; counts lines for the handler. */
static char *read_line(char *str, int num, void *stream) {
    ini_ctx *c = stream;
    if (c->pos >= c->len || num < 2)
        return NULL;
    size_t cap = (size_t)num - 1, k = 0;
    while (k < cap && c->pos < c->len) {
        char ch = c->text[c->pos++];
        str[k++] = ch;
        if (ch == '\n')
            break;
    }
    str[k] = '\0';
    c->line++;
    return str;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value) {
    ini_ctx *c = user;
    if (c->rc != AGORA_OK)
        return 1; /* keep the first error */
    char key[256], val[512];
    if (section[0] != '\0')
        snprintf(key, sizeof key, "%s.%s", section, name);
    else
        snprintf(key, sizeof key, "%s", name);
    clean_value(value, val, sizeof val);
    char where[300];
    snprintf(where, sizeof where, "%s:%d", c->name, c->line);
    c->rc = agora_cfg_set_value(c->t, c->nt, key, val, where, c->msg);
    if (c->rc != AGORA_OK)
        c->err_line = c->line;
    return c->rc == AGORA_OK ? 1 : 0;
}

agora_err agora_cfg_load_string(const agora_cfg_table *t, size_t nt, const char *name,
                                const char *text, size_t len, char err[AGORA_ERR_LEN]) {
    /* Pre-checks that libinih would not report clearly: NUL bytes and long lines. */
    size_t line = 1, col = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            fail(err, "%s:%zu: NUL byte in config file", name, line);
            return AGORA_EPARSE;
        }
        if (text[i] == '\n') {
            line++;
            col = 0;
        } else if (++col > CFG_MAX_LINE) {
            fail(err, "%s:%zu: line longer than %d characters", name, line, CFG_MAX_LINE);
            return AGORA_EPARSE;
        }
    }
    ini_ctx c = {.t = t, .nt = nt, .name = name, .rc = AGORA_OK, .text = text, .len = len};
    int bad_line = ini_parse_stream(read_line, &c, on_ini_entry, &c);
    if (bad_line == 0)
        return AGORA_OK;
    if (bad_line < 0) {
        fail(err, "%s: cannot parse (out of memory)", name);
        return AGORA_ENOMEM;
    }
    if (c.rc != AGORA_OK && c.err_line <= bad_line) {
        fail(err, "%s", c.msg);
        return c.rc;
    }
    fail(err, "%s:%d: syntax error (expected [section] or key = value)", name, bad_line);
    return AGORA_EPARSE;
}

agora_err agora_cfg_load_file(const agora_cfg_table *t, size_t nt, const char *path,
                              char err[AGORA_ERR_LEN]) {
    char *buf = NULL;
    size_t len = 0;
    agora_err rc = agora_read_file(path, CFG_MAX_FILE, &buf, &len, err);
    if (rc != AGORA_OK)
        return rc;
    rc = agora_cfg_load_string(t, nt, path, buf, len, err);
    agora_free(buf);
    return rc;
}

agora_err agora_cfg_load_env(const agora_cfg_table *t, size_t nt, char err[AGORA_ERR_LEN]) {
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < t[i].n; j++) {
            const agora_cfg_entry *e = &t[i].entries[j];
            char var[160] = "AGORA_";
            size_t k = 6;
            for (const char *p = e->key; *p && k + 1 < sizeof var; p++)
                var[k++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
            var[k] = '\0';
            const char *v = getenv(var);
            if (v == NULL)
                continue;
            char where[sizeof var + 48];
            snprintf(where, sizeof where, "%s=%.40s", var, v);
            agora_err rc = apply(e, t[i].base, v, where, err);
            if (rc != AGORA_OK)
                return rc;
        }
    return AGORA_OK;
}

agora_err agora_cfg_load_all(const agora_cfg_table *t, size_t nt, const char *path,
                             const char *const *sets, size_t n_sets, char err[AGORA_ERR_LEN]) {
    agora_cfg_set_defaults(t, nt);
    if (path != NULL)
        AGORA_TRY(agora_cfg_load_file(t, nt, path, err));
    AGORA_TRY(agora_cfg_load_env(t, nt, err));
    for (size_t i = 0; i < n_sets; i++)
        AGORA_TRY(agora_cfg_set(t, nt, sets[i], err));
    return AGORA_OK;
}

// ---- output ----

void agora_cfg_value_str(const agora_cfg_entry *e, const void *base, char *buf, size_t len) {
    const void *f = (const char *)base + e->offset;
    switch (e->type) {
    case AGORA_CFG_T_INT:
        snprintf(buf, len, "%lld", (long long)*(const int64_t *)f);
        break;
    case AGORA_CFG_T_DBL:
        snprintf(buf, len, "%.17g", *(const double *)f);
        break;
    case AGORA_CFG_T_BOOL:
        snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
        break;
    case AGORA_CFG_T_STR:
        snprintf(buf, len, "%s", (const char *)f);
        break;
    case AGORA_CFG_T_ENUM:
        snprintf(buf, len, "%s", e->names[*(const int *)f]);
        break;
    }
}

/* Keys without a section come first: after a [section] line they would belong to it. */
static void format_into(const agora_cfg_table *t, size_t nt, agora_sbuf *b, bool comments) {
    char section[128] = "";
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nt; i++)
            for (size_t j = 0; j < t[i].n; j++) {
                const agora_cfg_entry *e = &t[i].entries[j];
                const char *dot = strrchr(e->key, '.');
                if ((dot == NULL) != (pass == 0))
                    continue;
                size_t sl = dot ? (size_t)(dot - e->key) : 0;
                if (sl >= sizeof section)
                    sl = sizeof section - 1;
                if (strlen(section) != sl || strncmp(section, e->key, sl) != 0) {
                    memcpy(section, e->key, sl);
                    section[sl] = '\0';
                    if (sl > 0)
                        agora_sbuf_printf(b, "%s[%s]\n", b->len ? "\n" : "", section);
                }
                char v[AGORA_CFG_STR_LEN + 8];
                agora_cfg_value_str(e, t[i].base, v, sizeof v);
                if (comments)
                    agora_sbuf_printf(b, "# %s\n", e->help);
                agora_sbuf_printf(b, "%s = %s\n", dot ? dot + 1 : e->key, v);
            }
}

agora_err agora_cfg_format(const agora_cfg_table *t, size_t nt, char **text_out) {
    agora_sbuf b = {0};
    format_into(t, nt, &b, true);
    return agora_sbuf_take(&b, text_out);
}

uint64_t agora_cfg_hash(const agora_cfg_table *t, size_t nt) {
    agora_sbuf b = {0};
    format_into(t, nt, &b, false);
    uint64_t h = agora_hash64(b.p ? b.p : "", b.len);
    agora_sbuf_free(&b);
    return h;
}

void agora_cfg_print_help(const agora_cfg_table *t, size_t nt, FILE *out) {
    static const char *const types[] = {"int", "float", "bool", "string", "enum"};
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < t[i].n; j++) {
            const agora_cfg_entry *e = &t[i].entries[j];
            char range[300] = "";
            if (e->type == AGORA_CFG_T_INT)
                snprintf(range, sizeof range, " [%lld, %lld]", (long long)e->i_min,
                         (long long)e->i_max);
            else if (e->type == AGORA_CFG_T_DBL)
                snprintf(range, sizeof range, " [%g, %g]", e->d_min, e->d_max);
            else if (e->type == AGORA_CFG_T_ENUM) {
                char list[256];
                enum_list(e, list, sizeof list);
                snprintf(range, sizeof range, " {%s}", list);
            }
            char def[AGORA_CFG_STR_LEN + 8];
            if (e->type == AGORA_CFG_T_INT)
                snprintf(def, sizeof def, "%lld", (long long)e->i_def);
            else if (e->type == AGORA_CFG_T_DBL)
                snprintf(def, sizeof def, "%g", e->d_def);
            else if (e->type == AGORA_CFG_T_BOOL)
                snprintf(def, sizeof def, "%s", e->i_def ? "true" : "false");
            else
                snprintf(def, sizeof def, "%s", e->s_def ? e->s_def : "");
            fprintf(out, "  %-28s %-6s default %s%s\n      %s\n", e->key, types[e->type], def,
                    range, e->help);
        }
}
