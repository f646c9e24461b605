/* ckpt.c: training checkpoints: weights and optimizer state as safetensors with HF Llama
 * tensor names, HF config.json, the trainer's state.json, and the DONE marker.
 *
 * Implements: agora_ckpt_save / _load_weights / _load_optim / _save_weights, and snapshots
 * (agora_ckpt_snapshot_*): the same checkpoint captured in memory, written later.
 * Does not: decide what goes into state.json (trainer.c) or when to checkpoint.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/ckpt_dir.h"
#include "agora/safetensors.h"
#include "agora/stream.h"
#include "agora/train.h"

static agora_st_entry entry_for(const agora_model_param *t, const char *name, const float *base) {
    agora_st_entry e = {
        .name = name, .dtype = AGORA_ST_F32, .ndim = t->ndim, .data = base + t->offset};
    e.shape[0] = t->shape[0];
    e.shape[1] = t->shape[1];
    return e;
}

static agora_err save_slabs(const char *path, const agora_model *m, const float *const *slabs,
                            const char *const *suffixes, size_t n_slabs, const char *const *meta,
                            size_t n_meta, char err[AGORA_ERR_LEN]) {
    size_t nt = agora_model_n_tensors(m), n = nt * n_slabs;
    agora_st_entry *e = agora_calloc(n, sizeof *e);
    char(*names)[96] = agora_calloc(n, sizeof *names);
    agora_err rc = AGORA_ENOMEM;
    if (e != NULL && names != NULL) {
        for (size_t s = 0; s < n_slabs; s++)
            for (size_t i = 0; i < nt; i++) {
                const agora_model_param *t = agora_model_tensor(m, i);
                snprintf(names[s * nt + i], sizeof names[0], "%s%s", t->name, suffixes[s]);
                e[s * nt + i] = entry_for(t, names[s * nt + i], slabs[s]);
            }
        rc = agora_st_save(path, e, n, meta, n_meta, err);
    }
    agora_free(e);
    agora_free(names);
    return rc;
}

/* model.safetensors from params laid out as m's (the live weights or a snapshot's copy) */
static agora_err save_weights(const char *path, const agora_model *m, const float *params,
                              char err[AGORA_ERR_LEN]) {
    static const char *const suffix[] = {""};
    static const char *const meta[] = {"format", "pt"};
    return save_slabs(path, m, &params, suffix, 1, meta, 1, err);
}

agora_err agora_ckpt_save_weights(const char *path, const agora_model *m, char err[AGORA_ERR_LEN]) {
    return save_weights(path, m, agora_model_params_ro(m), err);
}

static agora_err join(char *out, size_t len, const char *dir, const char *file) {
    int n = snprintf(out, len, "%s/%s", dir, file);
    return n < 0 || (size_t)n >= len ? AGORA_EOVERFLOW : AGORA_OK;
}

/* What one checkpoint step holds: the live trainer's buffers (agora_ckpt_save) or a
 * snapshot's copies of them (agora_ckpt_snapshot_write). The model supplies the layout. */
typedef struct ckpt_src {
    const char *root;
    int64_t step;
    const agora_model *m;
    const float *params;
    const float *exp_avg, *exp_avg_sq; /* NULL: no optimizer file */
    int64_t adam_t;
    const char *state_json, *tokenizer_path;
    size_t keep;
} ckpt_src;

static agora_err save_src(const ckpt_src *c, char *dir_out, size_t dir_len,
                          char err[AGORA_ERR_LEN]) {
    char dir[4096], path[4352];
    agora_err rc = agora_ckpt_dir_begin(c->root, c->step, dir, sizeof dir);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: cannot create checkpoint dir: %s", c->root,
                 agora_err_str(rc));
        return rc;
    }
    AGORA_TRY(join(path, sizeof path, dir, "model.safetensors"));
    AGORA_TRY(save_weights(path, c->m, c->params, err));
    char *cfg = NULL;
    AGORA_TRY(agora_model_config_to_json(agora_model_get_config(c->m), &cfg));
    AGORA_TRY(join(path, sizeof path, dir, "config.json"));
    rc = agora_write_file_atomic(path, cfg, strlen(cfg), err);
    agora_free(cfg);
    AGORA_TRY(rc);
    if (c->exp_avg != NULL) {
        char tbuf[32];
        snprintf(tbuf, sizeof tbuf, "%" PRId64, c->adam_t);
        const char *meta[] = {"format", "agora-adamw", "step", tbuf};
        const float *slabs[] = {c->exp_avg, c->exp_avg_sq};
        static const char *const suffixes[] = {".exp_avg", ".exp_avg_sq"};
        AGORA_TRY(join(path, sizeof path, dir, "optim.safetensors"));
        AGORA_TRY(save_slabs(path, c->m, slabs, suffixes, 2, meta, 2, err));
    }
    if (c->state_json != NULL) {
        AGORA_TRY(join(path, sizeof path, dir, "state.json"));
        AGORA_TRY(agora_write_file_atomic(path, c->state_json, strlen(c->state_json), err));
    }
    if (c->tokenizer_path != NULL) {
        char *buf = NULL;
        size_t n = 0;
        AGORA_TRY(agora_read_file(c->tokenizer_path, (size_t)1 << 30, &buf, &n, err));
        rc = join(path, sizeof path, dir, "tokenizer.bpe");
        if (rc == AGORA_OK)
            rc = agora_write_file_atomic(path, buf, n, err);
        agora_free(buf);
        AGORA_TRY(rc);
    }
    rc = agora_ckpt_dir_commit(dir);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: cannot write DONE: %s", dir, agora_err_str(rc));
        return rc;
    }
    rc = agora_ckpt_dir_prune(c->root, c->keep);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: pruning old checkpoints failed: %s", c->root,
                 agora_err_str(rc));
        return rc;
    }
    if (dir_out != NULL)
        snprintf(dir_out, dir_len, "%s", dir);
    return AGORA_OK;
}

agora_err agora_ckpt_save(const char *root, int64_t step, const agora_model *m,
                          const agora_adamw *opt, const char *state_json,
                          const char *tokenizer_path, size_t keep, char *dir_out, size_t dir_len,
                          char err[AGORA_ERR_LEN]) {
    ckpt_src c = {root,
                  step,
                  m,
                  agora_model_params_ro(m),
                  opt != NULL ? opt->m : NULL,
                  opt != NULL ? opt->v : NULL,
                  opt != NULL ? opt->t : 0,
                  state_json,
                  tokenizer_path,
                  keep};
    return save_src(&c, dir_out, dir_len, err);
}

// ---- snapshots ----

struct agora_ckpt_snapshot {
    ckpt_src src; /* points into the fields below */
    size_t n;
    float *slab; /* params, exp_avg, exp_avg_sq: 3n floats, kept across refills */
    char *state_json;
    char *root, *tokenizer_path;
};

void agora_ckpt_snapshot_free(agora_ckpt_snapshot *s) {
    if (s == NULL)
        return;
    agora_free_aligned(s->slab);
    agora_free(s->state_json);
    agora_free(s->root);
    agora_free(s->tokenizer_path);
    agora_free(s);
}

static char *dup_or_null(const char *s) {
    return s != NULL ? agora_strdup(s) : NULL;
}

agora_err agora_ckpt_snapshot_take(const char *root, int64_t step, const agora_model *m,
                                   const agora_adamw *opt, const char *state_json,
                                   const char *tokenizer_path, size_t keep,
                                   agora_ckpt_snapshot **snap) {
    size_t n = agora_model_n_params(m);
    if (root == NULL || snap == NULL || (opt != NULL && opt->n != n))
        return AGORA_EINVAL;
    agora_ckpt_snapshot *s = *snap;
    if (s != NULL && s->n != n) {
        agora_ckpt_snapshot_free(s);
        *snap = s = NULL;
    }
    if (s == NULL) {
        s = agora_calloc(1, sizeof *s);
        if (s == NULL)
            return AGORA_ENOMEM;
        s->n = n;
        s->slab = agora_malloc_aligned(3 * n * sizeof(float));
        if (s->slab == NULL) {
            agora_free(s);
            return AGORA_ENOMEM;
        }
        *snap = s;
    }
    agora_free(s->state_json);
    agora_free(s->root);
    agora_free(s->tokenizer_path);
    s->state_json = dup_or_null(state_json);
    s->root = dup_or_null(root);
    s->tokenizer_path = dup_or_null(tokenizer_path);
    if ((state_json != NULL && s->state_json == NULL) || s->root == NULL ||
        (tokenizer_path != NULL && s->tokenizer_path == NULL))
        return AGORA_ENOMEM; /* *snap stays valid: the next take refills it */
    memcpy(s->slab, agora_model_params_ro(m), n * sizeof(float));
    if (opt != NULL) {
        memcpy(s->slab + n, opt->m, n * sizeof(float));
        memcpy(s->slab + 2 * n, opt->v, n * sizeof(float));
    }
    s->src = (ckpt_src){s->root,
                        step,
                        m,
                        s->slab,
                        opt != NULL ? s->slab + n : NULL,
                        opt != NULL ? s->slab + 2 * n : NULL,
                        opt != NULL ? opt->t : 0,
                        s->state_json,
                        s->tokenizer_path,
                        keep};
    return AGORA_OK;
}

int64_t agora_ckpt_snapshot_step(const agora_ckpt_snapshot *s) {
    return s->src.step;
}

agora_err agora_ckpt_snapshot_write(const agora_ckpt_snapshot *s, char *dir_out, size_t dir_len,
                                    char err[AGORA_ERR_LEN]) {
    if (s == NULL || s->root == NULL)
        return AGORA_EINVAL;
    return save_src(&s->src, dir_out, dir_len, err);
}

static agora_err load_slab(const agora_st_file *f, const agora_model *m, float *slab,
                           const char *suffix, const char *path, char err[AGORA_ERR_LEN]) {
    for (size_t i = 0; i < agora_model_n_tensors(m); i++) {
        const agora_model_param *t = agora_model_tensor(m, i);
        char name[96], e2[AGORA_ERR_LEN];
        snprintf(name, sizeof name, "%s%s", t->name, suffix);
        agora_err rc = agora_st_read_f32(f, name, slab + t->offset, t->ndim, t->shape, e2);
        if (rc != AGORA_OK) {
            snprintf(err, AGORA_ERR_LEN, "%.250s: %.250s", path, e2);
            return rc;
        }
    }
    return AGORA_OK;
}

agora_err agora_ckpt_load_weights(const char *dir, agora_model *m, char err[AGORA_ERR_LEN]) {
    char path[4352];
    AGORA_TRY(join(path, sizeof path, dir, "model.safetensors"));
    agora_st_file *f = NULL;
    AGORA_TRY(agora_st_load(path, &f, err));
    agora_err rc = load_slab(f, m, agora_model_params(m), "", path, err);
    agora_st_close(f);
    return rc;
}

agora_err agora_ckpt_load_optim(const char *dir, const agora_model *m, agora_adamw *opt,
                                char err[AGORA_ERR_LEN]) {
    char path[4352];
    AGORA_TRY(join(path, sizeof path, dir, "optim.safetensors"));
    if (opt->n != agora_model_n_params(m))
        return AGORA_EINVAL;
    agora_st_file *f = NULL;
    AGORA_TRY(agora_st_load(path, &f, err));
    agora_err rc = load_slab(f, m, opt->m, ".exp_avg", path, err);
    if (rc == AGORA_OK)
        rc = load_slab(f, m, opt->v, ".exp_avg_sq", path, err);
    const char *t = agora_st_meta(f, "step");
    if (rc == AGORA_OK) {
        char *end = NULL;
        long long v = t ? strtoll(t, &end, 10) : -1;
        if (t == NULL || *end != '\0' || v < 0) {
            snprintf(err, AGORA_ERR_LEN, "%.300s: missing or bad \"step\" metadata", path);
            rc = AGORA_EPARSE;
        } else {
            opt->t = (int64_t)v;
        }
    }
    agora_st_close(f);
    return rc;
}
