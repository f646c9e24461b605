/* model_config.c: model shapes: presets, validation, HF config.json in and out, and the
 * analytic counts (parameters, FLOPs per token, activation bytes).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/json.h"
#include "agora/train.h"

const char *const agora_model_preset_names[] = {"tiny", "small", "base", "intellect-1", NULL};

agora_err agora_model_config_preset(const char *name, agora_model_config *cfg) {
    /*                          V       C     L   H   KV  F      T     theta */
    static const struct {
        const char *name;
        agora_model_config c;
    } presets[] = {
        {"tiny", {256, 128, 4, 4, 2, 384, 256, 10000.0, 1e-5, false}},
        {"small", {4096, 512, 6, 8, 4, 1408, 1024, 10000.0, 1e-5, false}},
        {"base", {32000, 768, 12, 12, 4, 2048, 1024, 10000.0, 1e-5, false}},
        {"intellect-1", {128256, 4096, 42, 32, 8, 14336, 8192, 500000.0, 1e-5, false}},
    };
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) {
            *cfg = presets[i].c;
            return AGORA_OK;
        }
    return AGORA_ENOTFOUND;
}

agora_err agora_model_config_validate(const agora_model_config *c, char err[AGORA_ERR_LEN]) {
    const char *bad = NULL;
    if (c->vocab_size < 2)
        bad = "vocab_size must be at least 2";
    else if (c->dim < 2 || c->n_layers < 1 || c->n_heads < 1 || c->ffn_dim < 1 || c->max_seq < 1)
        bad = "dim, n_layers, n_heads, ffn_dim and max_seq must be positive";
    else if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
        bad = "n_heads must divide dim into an even head dim";
    else if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        bad = "n_kv_heads must divide n_heads";
    else if (!(c->rope_theta > 0) || !(c->norm_eps > 0) || !isfinite(c->rope_theta) ||
             !isfinite(c->norm_eps))
        bad = "rope_theta and norm_eps must be positive and finite";
    if (bad == NULL)
        return AGORA_OK;
    snprintf(err, AGORA_ERR_LEN, "model config: %s", bad);
    return AGORA_EINVAL;
}

static agora_err json_int(const cJSON *root, const char *key, int32_t *dst, bool required,
                          const char *path, char err[AGORA_ERR_LEN]) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it == NULL) {
        if (!required)
            return AGORA_OK;
        snprintf(err, AGORA_ERR_LEN, "%s: missing \"%s\"", path, key);
        return AGORA_EPARSE;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 2147483647.0 ||
        it->valuedouble != (double)(int64_t)it->valuedouble) {
        snprintf(err, AGORA_ERR_LEN, "%s: \"%s\" must be a non-negative integer", path, key);
        return AGORA_EPARSE;
    }
    *dst = (int32_t)it->valuedouble;
    return AGORA_OK;
}

static agora_err config_from_json(cJSON *root, const char *path, agora_model_config *cfg,
                                  char err[AGORA_ERR_LEN]);

agora_err agora_model_config_load_json(const char *path, agora_model_config *cfg,
                                       char err[AGORA_ERR_LEN]) {
    cJSON *root = NULL;
    AGORA_TRY(agora_json_load_file(path, 1 << 20, &root, err));
    return config_from_json(root, path, cfg, err);
}

agora_err agora_model_config_parse_json(const char *text, size_t len, const char *name,
                                        agora_model_config *cfg, char err[AGORA_ERR_LEN]) {
    cJSON *root = NULL;
    AGORA_TRY(agora_json_parse(text, len, name, &root, err));
    return config_from_json(root, name, cfg, err);
}

/* Takes root (freed here). */
static agora_err config_from_json(cJSON *root, const char *path, agora_model_config *cfg,
                                  char err[AGORA_ERR_LEN]) {
    agora_model_config c = {0};
    c.rope_theta = 10000.0;
    c.norm_eps = 1e-5;
    c.max_seq = 2048;
    agora_err rc = AGORA_OK;
    AGORA_TRY_GOTO(json_int(root, "vocab_size", &c.vocab_size, true, path, err), rc, out);
    AGORA_TRY_GOTO(json_int(root, "hidden_size", &c.dim, true, path, err), rc, out);
    AGORA_TRY_GOTO(json_int(root, "num_hidden_layers", &c.n_layers, true, path, err), rc, out);
    AGORA_TRY_GOTO(json_int(root, "num_attention_heads", &c.n_heads, true, path, err), rc, out);
    c.n_kv_heads = c.n_heads;
    AGORA_TRY_GOTO(json_int(root, "num_key_value_heads", &c.n_kv_heads, false, path, err), rc, out);
    AGORA_TRY_GOTO(json_int(root, "intermediate_size", &c.ffn_dim, true, path, err), rc, out);
    AGORA_TRY_GOTO(json_int(root, "max_position_embeddings", &c.max_seq, false, path, err), rc,
                   out);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "rope_theta");
    if (cJSON_IsNumber(it))
        c.rope_theta = it->valuedouble;
    it = cJSON_GetObjectItemCaseSensitive(root, "rms_norm_eps");
    if (cJSON_IsNumber(it))
        c.norm_eps = it->valuedouble;
    it = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
    c.tie_embeddings = cJSON_IsTrue(it);
    it = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (it != NULL && (!cJSON_IsString(it) || strcmp(it->valuestring, "silu") != 0)) {
        snprintf(err, AGORA_ERR_LEN, "%s: only hidden_act \"silu\" is supported", path);
        rc = AGORA_EUNSUPPORTED;
        goto out;
    }
    char verr[AGORA_ERR_LEN];
    rc = agora_model_config_validate(&c, verr);
    if (rc != AGORA_OK) {
        snprintf(err, AGORA_ERR_LEN, "%.200s: %.300s", path, verr);
        goto out;
    }
    *cfg = c;
out:
    agora_json_free(root);
    return rc;
}

agora_err agora_model_config_to_json(const agora_model_config *c, char **text_out) {
    agora_jw w;
    agora_jw_init(&w);
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "architectures");
    agora_jw_arr_begin(&w);
    agora_jw_str(&w, "LlamaForCausalLM");
    agora_jw_arr_end(&w);
    agora_jw_key(&w, "model_type");
    agora_jw_str(&w, "llama");
    agora_jw_key(&w, "hidden_act");
    agora_jw_str(&w, "silu");
    agora_jw_key(&w, "hidden_size");
    agora_jw_i64(&w, c->dim);
    agora_jw_key(&w, "intermediate_size");
    agora_jw_i64(&w, c->ffn_dim);
    agora_jw_key(&w, "num_hidden_layers");
    agora_jw_i64(&w, c->n_layers);
    agora_jw_key(&w, "num_attention_heads");
    agora_jw_i64(&w, c->n_heads);
    agora_jw_key(&w, "num_key_value_heads");
    agora_jw_i64(&w, c->n_kv_heads);
    agora_jw_key(&w, "vocab_size");
    agora_jw_i64(&w, c->vocab_size);
    agora_jw_key(&w, "max_position_embeddings");
    agora_jw_i64(&w, c->max_seq);
    agora_jw_key(&w, "rope_theta");
    agora_jw_f64(&w, c->rope_theta);
    agora_jw_key(&w, "rms_norm_eps");
    agora_jw_f64(&w, c->norm_eps);
    agora_jw_key(&w, "tie_word_embeddings");
    agora_jw_bool(&w, c->tie_embeddings);
    agora_jw_key(&w, "torch_dtype");
    agora_jw_str(&w, "float32");
    agora_jw_obj_end(&w);
    agora_err rc = agora_jw_status(&w);
    if (rc != AGORA_OK) {
        agora_jw_fini(&w);
        return rc;
    }
    *text_out = w.buf; /* ownership passes to the caller */
    return AGORA_OK;
}

uint64_t agora_model_config_n_params_nonembed(const agora_model_config *c) {
    uint64_t C = (uint64_t)c->dim, D = C / (uint64_t)c->n_heads;
    uint64_t H = (uint64_t)c->n_heads, KV = (uint64_t)c->n_kv_heads, F = (uint64_t)c->ffn_dim;
    uint64_t layer = 2 * C + C * H * D * 2 + C * KV * D * 2 + 3 * C * F;
    uint64_t head = c->tie_embeddings ? 0 : (uint64_t)c->vocab_size * C;
    return layer * (uint64_t)c->n_layers + C + head;
}

uint64_t agora_model_config_n_params(const agora_model_config *c) {
    return agora_model_config_n_params_nonembed(c) + (uint64_t)c->vocab_size * (uint64_t)c->dim;
}

double agora_model_flops_per_token(const agora_model_config *c, int32_t seq_len) {
    double D = (double)c->dim / c->n_heads;
    /* A tied head still costs its matmul, so it is counted here. */
    double n = (double)agora_model_config_n_params_nonembed(c) +
               (c->tie_embeddings ? (double)c->vocab_size * c->dim : 0.0);
    return 6.0 * n + 12.0 * c->n_layers * c->n_heads * D * seq_len;
}
