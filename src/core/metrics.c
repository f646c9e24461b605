/* metrics.c: JSONL + CSV metrics records. */
#include "agora/metrics.h"

#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/json.h"
#include "agora/stream.h"
#include "agora/strbuf.h"

#define MAX_COLS 256

struct agora_metrics {
    FILE *jsonl, *csv;
    agora_jw w;
    char *header[MAX_COLS]; /* CSV columns, from the first record or the existing file */
    size_t n_header;
    char *csv_path;
    char *row_keys[MAX_COLS];
    char *row_vals[MAX_COLS];
    size_t n_row;
    bool oom;
};

/* adopt_header: appending to a CSV written before (a resumed run) keeps its columns
 * instead of writing a second header line into the middle of the file. */
static agora_err adopt_header(agora_metrics *m, const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return AGORA_OK;
    char line[4096];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got || line[0] == '\n')
        return AGORA_OK;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *save = NULL, *tok = strtok_r(line, ",", &save);
         tok != NULL && m->n_header < MAX_COLS; tok = strtok_r(NULL, ",", &save)) {
        m->header[m->n_header] = agora_strdup(tok);
        if (m->header[m->n_header] == NULL)
            return AGORA_ENOMEM;
        m->n_header++;
    }
    return AGORA_OK;
}

agora_err agora_metrics_open(const char *dir, const char *stem, agora_metrics **out) {
    char path[4096];
    agora_metrics *m = agora_calloc(1, sizeof *m);
    if (m == NULL)
        return AGORA_ENOMEM;
    agora_jw_init(&m->w);
    if (stem == NULL)
        stem = "metrics";
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, stem);
    m->jsonl = fopen(path, "a");
    snprintf(path, sizeof path, "%s/%s.csv", dir, stem);
    m->csv = fopen(path, "a");
    m->csv_path = agora_strdup(path);
    if (m->jsonl == NULL || m->csv == NULL || m->csv_path == NULL) {
        agora_metrics_close(m);
        return AGORA_EIO;
    }
    agora_err rc = adopt_header(m, path);
    if (rc != AGORA_OK) {
        agora_metrics_close(m);
        return rc;
    }
    *out = m;
    return AGORA_OK;
}

static void clear_row(agora_metrics *m) {
    for (size_t i = 0; i < m->n_row; i++) {
        agora_free(m->row_keys[i]);
        agora_free(m->row_vals[i]);
    }
    m->n_row = 0;
}

void agora_metrics_begin(agora_metrics *m) {
    clear_row(m);
    m->oom = false;
    agora_jw_reset(&m->w);
    agora_jw_obj_begin(&m->w);
}

static void add_cell(agora_metrics *m, const char *key, const char *val) {
    if (m->n_row >= MAX_COLS) {
        return;
    }
    m->row_keys[m->n_row] = agora_strdup(key);
    m->row_vals[m->n_row] = agora_strdup(val);
    if (m->row_keys[m->n_row] == NULL || m->row_vals[m->n_row] == NULL)
        m->oom = true;
    m->n_row++;
}

void agora_metrics_i64(agora_metrics *m, const char *key, int64_t v) {
    agora_jw_key(&m->w, key);
    agora_jw_i64(&m->w, v);
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    add_cell(m, key, b);
}

void agora_metrics_f64(agora_metrics *m, const char *key, double v) {
    agora_jw_key(&m->w, key);
    agora_jw_f64(&m->w, v);
    char b[40];
    snprintf(b, sizeof b, "%.9g", v);
    add_cell(m, key, b);
}

void agora_metrics_str(agora_metrics *m, const char *key, const char *v) {
    agora_jw_key(&m->w, key);
    agora_jw_str(&m->w, v);
    /* CSV-quote: wrap in quotes and double inner quotes. */
    size_t n = strlen(v);
    char *q = agora_malloc(2 * n + 3);
    if (q == NULL) {
        m->oom = true;
        return;
    }
    size_t k = 0;
    q[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"')
            q[k++] = '"';
        q[k++] = v[i];
    }
    q[k++] = '"';
    q[k] = '\0';
    add_cell(m, key, q);
    agora_free(q);
}

static bool in_header(const agora_metrics *m, const char *key) {
    for (size_t c = 0; c < m->n_header; c++)
        if (strcmp(m->header[c], key) == 0)
            return true;
    return false;
}

/* widen_csv: a record with keys the existing CSV lacks (a run resumed by a newer binary
 * that records more) appends them as columns: the file is rewritten atomically with the
 * wider header and an empty cell for them on every earlier row, then reopened for append. */
static agora_err widen_csv(agora_metrics *m) {
    size_t add = 0;
    for (size_t i = 0; i < m->n_row; i++)
        if (!in_header(m, m->row_keys[i]))
            add++;
    if (add == 0 || m->n_header + add > MAX_COLS)
        return AGORA_OK;
    if (fflush(m->csv) != 0)
        return AGORA_EIO;
    char err[AGORA_ERR_LEN];
    char *old = NULL;
    size_t len = 0;
    agora_err rc = agora_read_file(m->csv_path, (size_t)1 << 34, &old, &len, err);
    if (rc != AGORA_OK)
        return rc;
    size_t first = m->n_header;
    for (size_t i = 0; i < m->n_row; i++)
        if (!in_header(m, m->row_keys[i])) {
            m->header[m->n_header] = agora_strdup(m->row_keys[i]);
            if (m->header[m->n_header] == NULL) {
                agora_free(old);
                return AGORA_ENOMEM;
            }
            m->n_header++;
        }
    agora_sbuf b = {0};
    size_t at = strcspn(old, "\n"); /* the header line, rewritten whole */
    for (size_t c = 0; c < m->n_header; c++)
        agora_sbuf_printf(&b, "%s%s", c ? "," : "", m->header[c]);
    agora_sbuf_printf(&b, "\n");
    /* the rows: a newline outside quotes ends one (quoted cells may hold newlines) */
    bool quoted = false;
    size_t start = at < len ? at + 1 : len;
    for (size_t i = start; i < len; i++) {
        if (old[i] == '"')
            quoted = !quoted;
        if (old[i] == '\n' && !quoted) {
            agora_sbuf_printf(&b, "%.*s", (int)(i - start), old + start);
            for (size_t c = first; c < m->n_header; c++)
                agora_sbuf_printf(&b, ",");
            agora_sbuf_printf(&b, "\n");
            start = i + 1;
        }
    }
    if (start < len) /* a last row cut short (a crash mid-write): kept as it was */
        agora_sbuf_printf(&b, "%.*s\n", (int)(len - start), old + start);
    agora_free(old);
    rc = agora_sbuf_write(&b, m->csv_path, err);
    if (rc != AGORA_OK) { /* the file is as it was: so are its columns */
        while (m->n_header > first)
            agora_free(m->header[--m->n_header]);
        return rc;
    }
    FILE *nf = fopen(m->csv_path, "a");
    if (nf == NULL)
        return AGORA_EIO; /* keeps the old handle: never a NULL stream */
    fclose(m->csv);
    m->csv = nf;
    return AGORA_OK;
}

agora_err agora_metrics_end(agora_metrics *m) {
    agora_jw_obj_end(&m->w);
    if (m->oom || agora_jw_status(&m->w) != AGORA_OK)
        return AGORA_ENOMEM;
    if (fprintf(m->jsonl, "%s\n", m->w.buf) < 0 || fflush(m->jsonl) != 0)
        return AGORA_EIO;
    if (m->n_header == 0) {
        for (size_t i = 0; i < m->n_row; i++) {
            m->header[i] = agora_strdup(m->row_keys[i]);
            if (m->header[i] == NULL)
                return AGORA_ENOMEM;
            fprintf(m->csv, "%s%s", i ? "," : "", m->header[i]);
            m->n_header++;
        }
        fputc('\n', m->csv);
    } else {
        agora_err rc = widen_csv(m);
        if (rc != AGORA_OK)
            return rc;
    }
    for (size_t c = 0; c < m->n_header; c++) {
        const char *v = "";
        for (size_t i = 0; i < m->n_row; i++)
            if (strcmp(m->row_keys[i], m->header[c]) == 0)
                v = m->row_vals[i];
        fprintf(m->csv, "%s%s", c ? "," : "", v);
    }
    fputc('\n', m->csv);
    return fflush(m->csv) == 0 ? AGORA_OK : AGORA_EIO;
}

void agora_metrics_close(agora_metrics *m) {
    if (m == NULL)
        return;
    clear_row(m);
    for (size_t i = 0; i < m->n_header; i++)
        agora_free(m->header[i]);
    agora_free(m->csv_path);
    if (m->jsonl)
        fclose(m->jsonl);
    if (m->csv)
        fclose(m->csv);
    agora_jw_fini(&m->w);
    agora_free(m);
}
