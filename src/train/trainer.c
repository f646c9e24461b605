/* trainer.c: the single-node training loop behind `agora train`.
 *
 * Implements: the train.* config table, data sources (token shards through the data
 * loader, or a raw text file as byte tokens), gradient accumulation, clipping, AdamW and
 * the LR schedule per step, fixed validation batches, throughput/MFU, and checkpoints
 * with state.json (step, seeds, data cursors) so that a resumed run follows the same
 * trajectory bit for bit.
 * Does not: print (the CLI does), or talk to peers (DiLoCo drives this from outside).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora/alloc.h"
#include "agora/ckpt_dir.h"
#include "agora/data.h"
#include "agora/json.h"
#include "agora/log.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "agora/train.h"

#define P_INT(key, f, d, lo, hi, h) AGORA_CFG_INT(agora_train_params, key, f, d, lo, hi, h)
#define P_DBL(key, f, d, lo, hi, h) AGORA_CFG_DBL(agora_train_params, key, f, d, lo, hi, h)
#define P_STR(key, f, d, h) AGORA_CFG_STR(agora_train_params, key, f, d, h)
#define P_BOOL(key, f, d, h) AGORA_CFG_BOOL(agora_train_params, key, f, d, h)

const agora_cfg_entry agora_train_cfg[] = {
    P_STR("train.preset", preset, "tiny", "model preset: tiny, small, base, intellect-1"),
    P_STR("train.model_config", model_config, "", "HF config.json (overrides the preset)"),
    P_STR("train.data", data, "", "token shard dir from `agora data prepare`"),
    P_STR("train.text", text, "", "or a text file trained on as byte tokens (vocab 256)"),
    P_INT("train.vocab_size", vocab_size, 0, 0, 1 << 24, "vocab size; 0 takes the data's"),
    P_INT("train.seq_len", seq_len, 256, 1, 1 << 16, "tokens per sequence"),
    P_INT("train.batch_size", batch_size, 8, 1, 1 << 16, "sequences per micro-batch"),
    P_INT("train.grad_accum", grad_accum, 1, 1, 1 << 16, "micro-batches per step"),
    P_INT("train.steps", steps, 1000, 0, INT64_C(1) << 40, "optimizer steps in the run"),
    P_DBL("train.lr", lr, 3e-4, 0.0, 10.0, "peak learning rate"),
    P_DBL("train.min_lr_ratio", min_lr_ratio, 0.1, 0.0, 1.0, "cosine floor, fraction of lr"),
    P_INT("train.warmup", warmup, 100, 0, INT64_C(1) << 40, "linear warmup steps"),
    AGORA_CFG_ENUM(agora_train_params, "train.schedule", schedule, "cosine", agora_lr_sched_names,
                   "cosine | constant | wsd-sqrt"),
    P_INT("train.decay_start", decay_start, 0, 0, INT64_C(1) << 40,
          "wsd-sqrt: first decay step (0: 80% of steps)"),
    P_DBL("train.weight_decay", weight_decay, 0.1, 0.0, 10.0, "AdamW decoupled weight decay"),
    P_DBL("train.beta1", beta1, 0.9, 0.0, 1.0, "AdamW beta1"),
    P_DBL("train.beta2", beta2, 0.95, 0.0, 1.0, "AdamW beta2"),
    P_DBL("train.eps", eps, 1e-8, 0.0, 1.0, "AdamW epsilon"),
    P_DBL("train.grad_clip", grad_clip, 1.0, 0.0, 1e9, "global grad-norm clip (0: off)"),
    P_DBL("train.z_loss", z_loss, 2e-4, 0.0, 1.0, "max-z-loss weight"),
    P_INT("train.seed", seed, 1, 0, INT64_MAX, "init and data-order seed"),
    P_INT("train.val_every", val_every, 100, 0, INT64_C(1) << 40, "validate every N steps"),
    P_INT("train.val_batches", val_batches, 4, 1, 1 << 20, "micro-batches per validation"),
    P_INT("train.log_every", log_every, 10, 1, INT64_C(1) << 40, "metrics record every N steps"),
    P_INT("train.ckpt_every", ckpt_every, 0, 0, INT64_C(1) << 40,
          "checkpoint every N steps (0: only at the end)"),
    P_INT("train.ckpt_keep", ckpt_keep, 3, 0, 1 << 20, "checkpoints kept (0: all)"),
    P_INT("train.stop_at", stop_at, 0, 0, INT64_C(1) << 40,
          "stop (with a checkpoint) at this step, as an interruption would (0: off)"),
    P_BOOL("train.resume", resume, false, "continue from the newest checkpoint in the run dir"),
    P_INT("train.worker", worker, 0, 0, 1 << 20, "data shard index of this process (DiLoCo node)"),
    P_INT("train.n_workers", n_workers, 1, 1, 1 << 20, "data shards: workers see disjoint data"),
    P_BOOL("train.tie_embeddings", tie_embeddings, false, "share input and output embeddings"),
    P_DBL("train.rope_theta", rope_theta, 0.0, 0.0, 1e12, "RoPE theta (0: the preset's)"),
    P_DBL("train.peak_gflops", peak_gflops, 0.0, 0.0, 1e12,
          "peak GFLOP/s for MFU (0: measure sgemm at start)"),
};
const size_t agora_train_cfg_len = sizeof agora_train_cfg / sizeof agora_train_cfg[0];

// ---- data sources ----

/* A raw text file as byte tokens, walked in order in windows of T+1. */
typedef struct text_src {
    const uint8_t *bytes; /* borrowed from the trainer's text buffer */
    size_t n;
    uint64_t pos, epoch;
} text_src;

typedef struct source {
    agora_data_loader *loader;
    text_src text;
    bool is_text, present;
} source;

static agora_err source_next(source *s, int B, int T, int32_t *x, int32_t *y) {
    if (!s->is_text)
        return agora_data_loader_next(s->loader, B, T, x, y);
    text_src *t = &s->text;
    if (t->n < (size_t)T + 1)
        return AGORA_ERANGE;
    for (int b = 0; b < B; b++) {
        if (t->pos + (uint64_t)T + 1 > t->n) {
            t->pos = 0;
            t->epoch++;
        }
        for (int i = 0; i < T; i++) {
            x[b * T + i] = t->bytes[t->pos + (uint64_t)i];
            y[b * T + i] = t->bytes[t->pos + (uint64_t)i + 1];
        }
        t->pos += (uint64_t)T;
    }
    return AGORA_OK;
}

static void source_get(const source *s, agora_data_cursor *c) {
    if (!s->is_text) {
        agora_data_loader_get_cursor(s->loader, c);
        return;
    }
    memset(c, 0, sizeof *c);
    c->epoch = s->text.epoch;
    c->pos = s->text.pos;
    c->n_workers = 1;
}

static agora_err source_set(source *s, const agora_data_cursor *c) {
    if (!s->is_text)
        return agora_data_loader_set_cursor(s->loader, c);
    if (c->pos > s->text.n)
        return AGORA_ERANGE;
    s->text.epoch = c->epoch;
    s->text.pos = c->pos;
    return AGORA_OK;
}

// ---- the trainer ----

struct agora_trainer {
    agora_train_params p;
    char run_dir[2048], ckpt_root[2304], tokenizer_path[2304];
    agora_model *model;
    agora_adamw opt;
    agora_lr_sched sched;
    source train, val;
    agora_data_cursor val_start;
    char *text_buf;
    int32_t *x, *y;
    int64_t step;
    uint64_t tokens;
    double peak_flops, flops_per_token;
    bool peak_rechecked; /* the peak was measured again once MFU passed 100% */
    double recent_s[10];
    int n_recent;
};

static agora_err open_sources(agora_trainer *t, char err[AGORA_ERR_LEN]) {
    const agora_train_params *p = &t->p;
    if (p->text[0] != '\0') {
        size_t len = 0;
        AGORA_TRY(agora_read_file(p->text, (size_t)1 << 31, &t->text_buf, &len, err));
        /* the last 10% (at most 1 MiB) is held out for validation */
        size_t n_val = len / 10 < ((size_t)1 << 20) ? len / 10 : ((size_t)1 << 20);
        t->train.is_text = t->val.is_text = true;
        t->train.present = true;
        /* Worker w of n trains on the w-th contiguous slice of the training text. */
        size_t n_train = len - n_val;
        if (p->worker >= p->n_workers) {
            snprintf(err, AGORA_ERR_LEN, "train.worker = %lld must be below train.n_workers = %lld",
                     (long long)p->worker, (long long)p->n_workers);
            return AGORA_ERANGE;
        }
        size_t lo = n_train / (size_t)p->n_workers * (size_t)p->worker;
        size_t hi = p->worker + 1 == p->n_workers
                        ? n_train
                        : n_train / (size_t)p->n_workers * (size_t)(p->worker + 1);
        t->train.text = (text_src){(const uint8_t *)t->text_buf + lo, hi - lo, 0, 0};
        t->val.text = (text_src){(const uint8_t *)t->text_buf + (len - n_val), n_val, 0, 0};
        t->val.present = n_val > (size_t)p->seq_len + 1;
        if (t->train.text.n < (size_t)p->seq_len + 1) {
            snprintf(err, AGORA_ERR_LEN, "%.300s: %zu bytes, too short for seq_len %lld", p->text,
                     len, (long long)p->seq_len);
            return AGORA_ERANGE;
        }
        return AGORA_OK;
    }
    if (p->data[0] == '\0') {
        snprintf(err, AGORA_ERR_LEN, "no data: set train.data (a shard dir) or train.text");
        return AGORA_EINVAL;
    }
    uint64_t seed = (uint64_t)p->seed;
    if (p->worker >= p->n_workers) {
        snprintf(err, AGORA_ERR_LEN, "train.worker = %lld must be below train.n_workers = %lld",
                 (long long)p->worker, (long long)p->n_workers);
        return AGORA_ERANGE;
    }
    AGORA_TRY(agora_data_loader_open(p->data, "train", (uint32_t)p->worker, (uint32_t)p->n_workers,
                                     seed, &t->train.loader, err));
    t->train.present = true;
    char verr[AGORA_ERR_LEN];
    if (agora_data_loader_open(p->data, "val", 0, 1, seed, &t->val.loader, verr) == AGORA_OK) {
        t->val.present = true;
        agora_data_loader_get_cursor(t->val.loader, &t->val_start);
    } else {
        AGORA_LOG_WARN(AGORA_SUB_TRAIN, "no validation data: %s", verr);
    }
    snprintf(t->tokenizer_path, sizeof t->tokenizer_path, "%s/tokenizer.bpe", p->data);
    return AGORA_OK;
}

static agora_err model_config(agora_trainer *t, agora_model_config *c, char err[AGORA_ERR_LEN]) {
    const agora_train_params *p = &t->p;
    if (p->model_config[0] != '\0') {
        AGORA_TRY(agora_model_config_load_json(p->model_config, c, err));
    } else if (agora_model_config_preset(p->preset, c) != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "unknown preset \"%.100s\" (tiny, small, base, intellect-1)",
                 p->preset);
        return AGORA_EINVAL;
    }
    uint32_t data_vocab = t->train.is_text ? 256u : agora_data_loader_vocab_size(t->train.loader);
    c->vocab_size = p->vocab_size > 0 ? (int32_t)p->vocab_size : (int32_t)data_vocab;
    if ((uint32_t)c->vocab_size < data_vocab) {
        snprintf(err, AGORA_ERR_LEN, "train.vocab_size %d is below the data's %u", c->vocab_size,
                 data_vocab);
        return AGORA_EINVAL;
    }
    if (p->seq_len > c->max_seq || p->model_config[0] == '\0')
        c->max_seq = (int32_t)p->seq_len;
    if (p->rope_theta > 0)
        c->rope_theta = p->rope_theta;
    if (p->tie_embeddings)
        c->tie_embeddings = true;
    return agora_model_config_validate(c, err);
}

static agora_err state_json(const agora_trainer *t, char **out) {
    agora_jw w;
    agora_jw_init(&w);
    agora_data_cursor c;
    char buf[32];
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "format");
    agora_jw_str(&w, "agora-train-state-1");
    agora_jw_key(&w, "step");
    agora_jw_i64(&w, t->step);
    agora_jw_key(&w, "tokens");
    snprintf(buf, sizeof buf, "%" PRIu64, t->tokens);
    agora_jw_str(&w, buf); /* u64 as a string: JSON readers keep 53 bits */
    agora_jw_key(&w, "seed");
    snprintf(buf, sizeof buf, "%" PRId64, t->p.seed);
    agora_jw_str(&w, buf);
    agora_jw_key(&w, "data");
    source_get(&t->train, &c);
    agora_jw_obj_begin(&w);
    const char *keys[] = {"epoch", "pos", "seed"};
    uint64_t vals[] = {c.epoch, c.pos, c.seed};
    for (int i = 0; i < 3; i++) {
        agora_jw_key(&w, keys[i]);
        snprintf(buf, sizeof buf, "%" PRIu64, vals[i]);
        agora_jw_str(&w, buf);
    }
    agora_jw_key(&w, "worker");
    agora_jw_i64(&w, c.worker);
    agora_jw_key(&w, "n_workers");
    agora_jw_i64(&w, c.n_workers);
    agora_jw_obj_end(&w);
    agora_jw_obj_end(&w);
    agora_err rc = agora_jw_status(&w);
    if (rc != AGORA_OK) {
        agora_jw_fini(&w);
        return rc;
    }
    *out = w.buf;
    return AGORA_OK;
}

static int get_u64(const cJSON *o, const char *key, uint64_t *v) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(it)) { /* seeds: all 64 bits, so written as decimal strings */
        const char *str = it->valuestring;
        char *end = NULL;
        if (*str < '0' || *str > '9') /* strtoull would take a sign or blanks */
            return 0;
        errno = 0;
        *v = strtoull(str, &end, 10);
        return errno == 0 && *end == '\0';
    }
    return agora_json_uint(it, UINT64_MAX, v);
}

static agora_err resume(agora_trainer *t, char err[AGORA_ERR_LEN]) {
    char dir[4096], path[4352];
    int64_t step = 0;
    agora_err rc = agora_ckpt_dir_latest(t->ckpt_root, dir, sizeof dir, &step);
    if (rc == AGORA_ENOENT) {
        AGORA_LOG_INFO(AGORA_SUB_TRAIN, "resume: no checkpoint in %s, starting fresh",
                       t->ckpt_root);
        return AGORA_OK;
    }
    AGORA_TRY(rc);
    AGORA_TRY(agora_ckpt_load_weights(dir, t->model, err));
    AGORA_TRY(agora_ckpt_load_optim(dir, t->model, &t->opt, err));
    snprintf(path, sizeof path, "%s/state.json", dir);
    cJSON *root = NULL;
    AGORA_TRY(agora_json_load_file(path, 1 << 20, &root, err));
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "step");
    agora_data_cursor c = {0};
    uint64_t w = 0, nw = 0, tokens = 0, step_u = 0;
    if (!agora_json_uint(st, (uint64_t)INT64_MAX, &step_u) || !get_u64(root, "tokens", &tokens) ||
        !cJSON_IsObject(d) || !get_u64(d, "epoch", &c.epoch) || !get_u64(d, "pos", &c.pos) ||
        !get_u64(d, "seed", &c.seed) || !get_u64(d, "worker", &w) ||
        !get_u64(d, "n_workers", &nw) || w > UINT32_MAX || nw > UINT32_MAX) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: missing or malformed fields", path);
        agora_json_free(root);
        return AGORA_EPARSE;
    }
    c.worker = (uint32_t)w;
    c.n_workers = (uint32_t)nw;
    t->step = (int64_t)step_u;
    t->tokens = tokens;
    agora_json_free(root);
    rc = source_set(&t->train, &c);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.300s: data cursor does not fit this data", path);
        return rc;
    }
    AGORA_LOG_INFO(AGORA_SUB_TRAIN, "resumed from %s at step %" PRId64, dir, t->step);
    return AGORA_OK;
}

agora_err agora_trainer_create(const agora_train_params *p, const char *run_dir,
                               agora_trainer **out, char err[AGORA_ERR_LEN]) {
    agora_trainer *t = agora_calloc(1, sizeof *t);
    if (t == NULL)
        return AGORA_ENOMEM;
    agora_err rc = AGORA_OK;
    t->p = *p;
    snprintf(t->run_dir, sizeof t->run_dir, "%s", run_dir);
    snprintf(t->ckpt_root, sizeof t->ckpt_root, "%s/ckpt", run_dir);
    AGORA_TRY_GOTO(open_sources(t, err), rc, fail);
    agora_model_config c;
    AGORA_TRY_GOTO(model_config(t, &c, err), rc, fail);
    rc = agora_model_create(&c, (int32_t)p->batch_size, &t->model);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "cannot allocate the model: %s", agora_err_str(rc));
        goto fail;
    }
    agora_model_init(t->model, (uint64_t)p->seed);
    AGORA_TRY_GOTO(agora_adamw_init(&t->opt, agora_model_n_params(t->model)), rc, fail);
    size_t nt = (size_t)(p->batch_size * p->seq_len);
    t->x = agora_malloc(nt * sizeof *t->x);
    t->y = agora_malloc(nt * sizeof *t->y);
    if (t->x == NULL || t->y == NULL) {
        rc = AGORA_ENOMEM;
        goto fail;
    }
    t->sched =
        (agora_lr_sched){.kind = (agora_lr_sched_kind)p->schedule,
                         .lr = p->lr,
                         .warmup = p->warmup,
                         .total = p->steps,
                         .min_ratio = p->min_lr_ratio,
                         .decay_start = p->decay_start > 0 ? p->decay_start : p->steps * 8 / 10};
    t->flops_per_token = agora_model_flops_per_token(&c, (int32_t)p->seq_len);
    /* The peak the bench uses (n = 2048, best of 5 after a warm-up): a single quick
     * measurement on a shared machine can land in a slow moment and flatter MFU. */
    t->peak_flops =
        p->peak_gflops > 0 ? p->peak_gflops * 1e9 : agora_sgemm_peak_gflops(2048, 5) * 1e9;
    if (p->resume)
        AGORA_TRY_GOTO(resume(t, err), rc, fail);
    *out = t;
    return AGORA_OK;
fail:
    agora_trainer_destroy(t);
    return rc;
}

void agora_trainer_destroy(agora_trainer *t) {
    if (t == NULL)
        return;
    agora_data_loader_close(t->train.loader);
    agora_data_loader_close(t->val.loader);
    agora_model_destroy(t->model);
    agora_adamw_fini(&t->opt);
    agora_free(t->text_buf);
    agora_free(t->x);
    agora_free(t->y);
    agora_free(t);
}

agora_err agora_trainer_step(agora_trainer *t, agora_train_stats *st) {
    const agora_train_params *p = &t->p;
    int B = (int)p->batch_size, T = (int)p->seq_len;
    int64_t t0 = agora_now_ns();
    agora_model_zero_grad(t->model);
    double loss = 0, ce = 0;
    for (int64_t k = 0; k < p->grad_accum; k++) {
        AGORA_TRY(source_next(&t->train, B, T, t->x, t->y));
        float l, c;
        AGORA_TRY(agora_model_forward(t->model, t->x, t->y, B, T, (float)p->z_loss, &l, &c));
        AGORA_TRY(agora_model_backward(t->model, 1.0f / (float)p->grad_accum));
        loss += l;
        ce += c;
    }
    float *g = agora_model_grads(t->model);
    size_t n = agora_model_n_params(t->model);
    double norm = agora_grad_norm(g, n);
    double lr = agora_lr_at(&t->sched, t->step);
    agora_adamw_params hp = {.lr = lr,
                             .beta1 = p->beta1,
                             .beta2 = p->beta2,
                             .eps = p->eps,
                             .weight_decay = p->weight_decay};
    agora_adamw_step_scaled(&t->opt, agora_model_params(t->model), g,
                            agora_grad_clip_scale(norm, p->grad_clip), &hp);
    t->step++;
    uint64_t toks = (uint64_t)B * (uint64_t)T * (uint64_t)p->grad_accum;
    t->tokens += toks;
    double secs = (double)(agora_now_ns() - t0) / 1e9;
    t->recent_s[t->n_recent++ % 10] = secs;
    int nr = t->n_recent < 10 ? t->n_recent : 10;
    double sum = 0;
    for (int i = 0; i < nr; i++)
        sum += t->recent_s[i];
    st->step = t->step;
    st->loss = loss / (double)p->grad_accum;
    st->ce = ce / (double)p->grad_accum;
    st->lr = lr;
    st->grad_norm = norm;
    st->step_s = secs;
    st->tok_per_s = (double)toks * nr / sum;
    st->mfu = t->peak_flops > 0 ? st->tok_per_s * t->flops_per_token / t->peak_flops : 0;
    /* Measured again every 200 steps, and once MFU passes 100%: the start-up measurement
     * may have run while the machine was busy, so keep the highest peak seen and MFU stays
     * a fraction of what sgemm can reach (about 0.2 s each time). */
    bool periodic = t->step % 200 == 0;
    if (t->p.peak_gflops <= 0 && (periodic || (st->mfu > 1.0 && !t->peak_rechecked))) {
        t->peak_rechecked = t->peak_rechecked || st->mfu > 1.0;
        double again = agora_sgemm_peak_gflops(2048, 3) * 1e9;
        if (again > t->peak_flops)
            t->peak_flops = again;
        st->mfu = st->tok_per_s * t->flops_per_token / t->peak_flops;
    }
    st->tokens = t->tokens;
    return AGORA_OK;
}

agora_err agora_trainer_eval(agora_trainer *t, double *val_loss) {
    if (!t->val.present)
        return AGORA_ENOENT;
    int B = (int)t->p.batch_size, T = (int)t->p.seq_len;
    /* the same batches every time: rewind the validation source */
    if (t->val.is_text) {
        t->val.text.pos = 0;
        t->val.text.epoch = 0;
    } else {
        AGORA_TRY(agora_data_loader_set_cursor(t->val.loader, &t->val_start));
    }
    double sum = 0;
    for (int64_t k = 0; k < t->p.val_batches; k++) {
        AGORA_TRY(source_next(&t->val, B, T, t->x, t->y));
        float ce;
        AGORA_TRY(agora_model_forward(t->model, t->x, t->y, B, T, 0.0f, NULL, &ce));
        sum += ce;
    }
    *val_loss = sum / (double)t->p.val_batches;
    return AGORA_OK;
}

/* The tokenizer travels with the weights, so `agora generate --ckpt` needs nothing else. */
static const char *ckpt_tokenizer(const agora_trainer *t) {
    struct stat sb;
    return t->tokenizer_path[0] != '\0' && stat(t->tokenizer_path, &sb) == 0 ? t->tokenizer_path
                                                                             : NULL;
}

agora_err agora_trainer_checkpoint(agora_trainer *t, char *dir_out, size_t len,
                                   char err[AGORA_ERR_LEN]) {
    char *js = NULL;
    AGORA_TRY(state_json(t, &js));
    char dir[4096];
    agora_err rc = agora_ckpt_save(t->ckpt_root, t->step, t->model, &t->opt, js, ckpt_tokenizer(t),
                                   (size_t)t->p.ckpt_keep, dir, sizeof dir, err);
    agora_free(js);
    AGORA_TRY(rc);
    if (dir_out != NULL)
        snprintf(dir_out, len, "%s", dir);
    return AGORA_OK;
}

agora_err agora_trainer_snapshot(agora_trainer *t, agora_ckpt_snapshot **snap) {
    char *js = NULL;
    AGORA_TRY(state_json(t, &js));
    agora_err rc = agora_ckpt_snapshot_take(t->ckpt_root, t->step, t->model, &t->opt, js,
                                            ckpt_tokenizer(t), (size_t)t->p.ckpt_keep, snap);
    agora_free(js);
    return rc;
}

void agora_trainer_set_step(agora_trainer *t, int64_t step) {
    t->step = step;
}

int64_t agora_trainer_step_count(const agora_trainer *t) {
    return t->step;
}
agora_model *agora_trainer_model(agora_trainer *t) {
    return t->model;
}
agora_adamw *agora_trainer_optimizer(agora_trainer *t) {
    return &t->opt;
}
double agora_trainer_peak_flops(const agora_trainer *t) {
    return t->peak_flops;
}
