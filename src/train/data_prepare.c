/* data_prepare.c: text corpus -> shard directory (`agora data prepare`).
 *
 * Implements: the train/val split by text, encoding on several threads (cut only where
 * the pre-tokenizer gives the same chunks, so the ids do not depend on the thread count),
 * writing shards, the tokenizer copy, and meta.json last.
 * Does not: read shards (data.c).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/data.h"
#include "agora/json.h"
#include "agora/stream.h"
#include "agora/time.h"

#define TOKENIZER_FILE "tokenizer.bpe"
#define MAX_THREADS 64

typedef struct enc_job {
    const agora_tokenizer *tok;
    const char *text;
    size_t len;
    uint32_t *ids;
    size_t n;
    agora_err rc;
} enc_job;

static void *enc_run(void *arg) {
    enc_job *j = arg;
    j->rc = agora_tokenizer_encode(j->tok, j->text, j->len, &j->ids, &j->n);
    return NULL;
}

/* Encodes text on up to nt threads; the result equals one agora_tokenizer_encode call. */
static agora_err encode_parallel(const agora_tokenizer *tok, const char *text, size_t len, int nt,
                                 uint32_t **ids_out, size_t *n_out) {
    if (nt < 1) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nt = c < 1 ? 1 : (int)(c > MAX_THREADS ? MAX_THREADS : c);
    }
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    if (len < ((size_t)1 << 18))
        nt = 1;
    enc_job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    memset(jobs, 0, sizeof jobs);
    int nj = 0;
    for (size_t start = 0; nj < nt && (start < len || nj == 0); nj++) {
        size_t end = nj + 1 == nt
                         ? len
                         : agora_pretok_safe_cut(text, len, len / (size_t)nt * (size_t)(nj + 1));
        if (end < start)
            end = start;
        jobs[nj] = (enc_job){.tok = tok, .text = text + start, .len = end - start};
        start = end;
    }
    for (int i = 1; i < nj; i++)
        started[i] = pthread_create(&tids[i], NULL, enc_run, &jobs[i]) == 0;
    enc_run(&jobs[0]);
    agora_err rc = jobs[0].rc;
    size_t total = jobs[0].n;
    for (int i = 1; i < nj; i++) {
        if (started[i])
            pthread_join(tids[i], NULL);
        else
            enc_run(&jobs[i]);
        if (rc == AGORA_OK)
            rc = jobs[i].rc;
        total += jobs[i].n;
    }
    uint32_t *ids = NULL;
    if (rc == AGORA_OK && (ids = agora_malloc(total * sizeof *ids + 1)) == NULL)
        rc = AGORA_ENOMEM;
    size_t off = 0;
    for (int i = 0; i < nj; i++) {
        if (rc == AGORA_OK && jobs[i].n > 0)
            memcpy(ids + off, jobs[i].ids, jobs[i].n * sizeof *ids);
        off += jobs[i].n;
        agora_free(jobs[i].ids);
    }
    if (rc != AGORA_OK)
        return rc;
    *ids_out = ids;
    *n_out = total;
    return AGORA_OK;
}

/* Writes ids as shards <split>_000.bin, ... and records their names in the writer. */
static agora_err write_split(const char *dir, const char *split, const uint32_t *ids, size_t n,
                             uint32_t vocab, uint64_t per_shard, agora_jw *w, uint32_t *n_shards,
                             char err[AGORA_ERR_LEN]) {
    const size_t plen = strlen(dir) + 64;
    char *path = agora_malloc(plen);
    if (path == NULL)
        return AGORA_ENOMEM;
    agora_err rc = AGORA_OK;
    char name[48];
    agora_jw_key(w, split);
    agora_jw_obj_begin(w);
    agora_jw_key(w, "tokens");
    agora_jw_u64(w, n);
    agora_jw_key(w, "shards");
    agora_jw_arr_begin(w);
    uint32_t k = 0;
    /* An empty split still gets one (empty) shard, so every split looks the same. */
    for (size_t off = 0; rc == AGORA_OK && (off < n || k == 0); off += per_shard, k++) {
        size_t cnt = n - off < per_shard ? n - off : (size_t)per_shard;
        snprintf(name, sizeof name, "%s_%03u.bin", split, k);
        snprintf(path, plen, "%s/%s", dir, name);
        rc = agora_shard_write(path, ids + off, cnt, vocab, err);
        agora_jw_str(w, name);
    }
    agora_jw_arr_end(w);
    agora_jw_obj_end(w);
    *n_shards = k;
    agora_free(path);
    return rc;
}

/* The val part starts at the last line start at or before len * (1 - frac). */
static size_t val_start(const char *text, size_t len, double frac) {
    if (frac <= 0)
        return len;
    size_t s = (size_t)((double)len * (1.0 - frac));
    if (s >= len)
        s = len > 0 ? len - 1 : 0;
    while (s > 0 && text[s - 1] != '\n')
        s--;
    /* A corpus with no line break before s: cut at the byte position instead. */
    if (s == 0 && len > 1)
        s = (size_t)((double)len * (1.0 - frac));
    return s;
}

agora_err agora_data_prepare(const char *text, size_t len, const agora_tokenizer *tok,
                             const char *out_dir, const agora_data_prepare_params *p,
                             agora_data_prepare_stats *stats, char err[AGORA_ERR_LEN]) {
    AGORA_ASSERT(tok != NULL && out_dir != NULL && p != NULL && err != NULL);
    AGORA_ASSERT(text != NULL || len == 0);
    err[0] = '\0';
    if (p->size != sizeof *p || p->magic != AGORA_DATA_PREPARE_MAGIC) {
        snprintf(err, AGORA_ERR_LEN,
                 "prepare params not initialized with AGORA_DATA_PREPARE_PARAMS_INIT");
        return AGORA_EINVAL;
    }
    if (!(p->val_fraction >= 0 && p->val_fraction <= 0.5)) {
        snprintf(err, AGORA_ERR_LEN, "val fraction %g is outside [0, 0.5]", p->val_fraction);
        return AGORA_ERANGE;
    }
    const uint64_t per_shard = p->shard_tokens ? p->shard_tokens : ((uint64_t)64 << 20);
    const uint32_t vocab = agora_tokenizer_vocab_size(tok);
    agora_data_prepare_stats st = {.n_bytes = len};
    const size_t plen = strlen(out_dir) + 64;
    char *path = agora_malloc(plen);
    uint32_t *tr = NULL, *va = NULL;
    size_t n_tr = 0, n_va = 0;
    agora_jw w;
    agora_jw_init(&w);
    agora_err rc = AGORA_OK;
    if (path == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    rc = agora_mkdir_p(out_dir);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.400s: cannot create directory", out_dir);
        goto out;
    }
    /* A half-written directory must not look complete: meta.json goes first and last. */
    snprintf(path, plen, "%s/meta.json", out_dir);
    (void)remove(path);
    const size_t vs = val_start(text, len, p->val_fraction);
    int64_t t0 = agora_now_ns();
    AGORA_TRY_GOTO(encode_parallel(tok, text, vs, p->n_threads, &tr, &n_tr), rc, out);
    AGORA_TRY_GOTO(encode_parallel(tok, text + vs, len - vs, p->n_threads, &va, &n_va), rc, out);
    st.encode_seconds = (double)(agora_now_ns() - t0) * 1e-9;
    st.n_train_tokens = n_tr;
    st.n_val_tokens = n_va;
    snprintf(path, plen, "%s/%s", out_dir, TOKENIZER_FILE);
    AGORA_TRY_GOTO(agora_tokenizer_save(tok, path, err), rc, out);
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "format");
    agora_jw_str(&w, "agora-shards");
    agora_jw_key(&w, "version");
    agora_jw_u64(&w, 1);
    agora_jw_key(&w, "vocab_size");
    agora_jw_u64(&w, vocab);
    agora_jw_key(&w, "token_bytes");
    agora_jw_u64(&w, vocab <= 65536 ? 2 : 4);
    agora_jw_key(&w, "tokenizer");
    agora_jw_str(&w, TOKENIZER_FILE);
    agora_jw_key(&w, "source_bytes");
    agora_jw_u64(&w, len);
    agora_jw_key(&w, "val_fraction");
    agora_jw_f64(&w, p->val_fraction);
    agora_jw_key(&w, "val_start_byte");
    agora_jw_u64(&w, vs);
    AGORA_TRY_GOTO(
        write_split(out_dir, "train", tr, n_tr, vocab, per_shard, &w, &st.n_train_shards, err), rc,
        out);
    AGORA_TRY_GOTO(
        write_split(out_dir, "val", va, n_va, vocab, per_shard, &w, &st.n_val_shards, err), rc,
        out);
    agora_jw_obj_end(&w);
    AGORA_TRY_GOTO(agora_jw_status(&w), rc, out);
    snprintf(path, plen, "%s/meta.json", out_dir);
    AGORA_TRY_GOTO(agora_write_file_atomic(path, w.buf, w.len, err), rc, out);
    if (stats != NULL)
        *stats = st;
out:
    if (rc != AGORA_OK && err[0] == '\0')
        snprintf(err, AGORA_ERR_LEN, "%.400s: %s", out_dir, agora_err_str(rc));
    agora_jw_fini(&w);
    agora_free(path);
    agora_free(tr);
    agora_free(va);
    return rc;
}
