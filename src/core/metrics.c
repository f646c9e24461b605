/* metrics.c: JSONL + CSV metrics records. */
#include "agora/metrics.h"

#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/json.h"

#define MAX_COLS 256

struct agora_metrics {
    FILE *jsonl, *csv;
    agora_jw w;
    char *header[MAX_COLS]; /* CSV columns, fixed by the first record */
    size_t n_header;
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
    if (m->jsonl == NULL || m->csv == NULL) {
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
    if (m->jsonl)
        fclose(m->jsonl);
    if (m->csv)
        fclose(m->csv);
    agora_jw_fini(&m->w);
    agora_free(m);
}
