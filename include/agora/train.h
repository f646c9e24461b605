/* train.h: the single-node training engine, a Llama-3-style decoder trained on the CPU.
 *
 * Model: token embedding, then n_layers pre-norm blocks of
 *   x += o_proj(attn(rope(q_proj(rms(x))), rope(k_proj(rms(x))), v_proj(rms(x))))
 *   x += down_proj(silu(gate_proj(rms(x))) * up_proj(rms(x)))
 * then a final RMSNorm and an LM head (untied by default). Attention is causal with
 * grouped-query heads (n_kv_heads divides n_heads) and HF-style rotary embeddings (the
 * two halves of each head are rotated as pairs, as HF transformers' Llama does). The loss
 * is mean cross-entropy plus the max-z-loss z_w * mean(max_logit^2) of INTELLECT-1.
 *
 * Memory: parameters, gradients, AdamW first moments and second moments are each ONE
 * 64-byte-aligned slab of floats; agora_model_param views name each tensor in the slab
 * with its HF name ("model.layers.3.self_attn.q_proj.weight"). Activations are one more
 * slab sized for (max_batch, max_seq).
 *
 * Kernels: matmuls use our fp32-accurate AMX kernel where the CPU has AMX-BF16, else
 * cblas_sgemm and dnnl_sgemm (row-major; agora_sgemm_select), everything else OpenMP loops. Every
 * fast kernel has a plain `_ref` twin (see src/train/layers.h); agora_model_use_ref() switches a
 * model to the reference kernels, which tests hold the fast ones to.
 */
#ifndef AGORA_TRAIN_H
#define AGORA_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/config.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- model configuration ----

/* Plain data: the model's shape. Fill from a preset or an HF config.json. */
typedef struct agora_model_config {
    int32_t vocab_size;
    int32_t dim;        /* hidden size C */
    int32_t n_layers;   /* L */
    int32_t n_heads;    /* query heads H */
    int32_t n_kv_heads; /* key/value heads, divides n_heads */
    int32_t ffn_dim;    /* SwiGLU hidden size F */
    int32_t max_seq;    /* longest sequence (RoPE table, activations) */
    double rope_theta;
    double norm_eps;
    bool tie_embeddings; /* lm_head shares model.embed_tokens.weight */
} agora_model_config;

/* Preset names, NULL-terminated: "tiny", "small", "base", "intellect-1". */
AGORA_API extern const char *const agora_model_preset_names[];

/* agora_model_config_preset fills cfg from a preset. Returns AGORA_ENOTFOUND for an
 * unknown name. */
AGORA_NODISCARD AGORA_API agora_err agora_model_config_preset(const char *name,
                                                              agora_model_config *cfg);
/* agora_model_config_validate checks that the shape is usable (positive sizes, heads
 * divide dim, kv heads divide heads, even head dim). err says which field is wrong. */
AGORA_NODISCARD AGORA_API agora_err agora_model_config_validate(const agora_model_config *cfg,
                                                                char err[AGORA_ERR_LEN]);
/* agora_model_config_load_json reads an HF LlamaConfig-style config.json
 * (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, vocab_size, max_position_embeddings, rope_theta, rms_norm_eps,
 * tie_word_embeddings). */
AGORA_NODISCARD AGORA_API agora_err agora_model_config_load_json(const char *path,
                                                                 agora_model_config *cfg,
                                                                 char err[AGORA_ERR_LEN]);
/* The same from text in memory (len bytes, need not be NUL-terminated); name is what the
 * messages call it. */
AGORA_NODISCARD AGORA_API agora_err agora_model_config_parse_json(const char *text, size_t len,
                                                                  const char *name,
                                                                  agora_model_config *cfg,
                                                                  char err[AGORA_ERR_LEN]);
/* agora_model_config_to_json renders the HF config.json text (freed with agora_free). */
AGORA_NODISCARD AGORA_API agora_err agora_model_config_to_json(const agora_model_config *cfg,
                                                               char **text_out);

/* Parameter count, counting a tied head once. */
AGORA_API uint64_t agora_model_config_n_params(const agora_model_config *cfg);
/* Parameters outside the input embedding table (what the FLOP formula uses). */
AGORA_API uint64_t agora_model_config_n_params_nonembed(const agora_model_config *cfg);
/* Training FLOPs per token: 6*N_nonembed + 12*L*H*head_dim*T (spec §14; attention
 * counted without the causal halving). */
AGORA_API double agora_model_flops_per_token(const agora_model_config *cfg, int32_t seq_len);
/* Bytes of activations agora_model_create allocates for (batch, seq). */
AGORA_API uint64_t agora_model_activation_bytes(const agora_model_config *cfg, int32_t batch,
                                                int32_t seq);

// ---- the model ----

/* One named tensor in the parameter slab (the same offsets index grads, m and v). */
typedef struct agora_model_param {
    char name[64];
    int32_t ndim;
    int64_t shape[2];
    size_t offset; /* in floats from the slab start; a multiple of 16 */
    size_t numel;
} agora_model_param;

typedef struct agora_model agora_model;

/* agora_model_create allocates parameters (zeroed) and gradients, and activations for
 * up to max_batch sequences of up to cfg->max_seq tokens. */
AGORA_NODISCARD AGORA_API agora_err agora_model_create(const agora_model_config *cfg,
                                                       int32_t max_batch, agora_model **out);
AGORA_API void agora_model_destroy(agora_model *m); /* NULL-safe */

AGORA_API const agora_model_config *agora_model_get_config(const agora_model *m);
AGORA_API size_t agora_model_n_params(const agora_model *m); /* floats in the slab */
AGORA_API float *agora_model_params(agora_model *m);
AGORA_API float *agora_model_grads(agora_model *m);
/* Read-only view of the parameter slab. */
AGORA_API const float *agora_model_params_ro(const agora_model *m);
AGORA_API size_t agora_model_n_tensors(const agora_model *m);
AGORA_API const agora_model_param *agora_model_tensor(const agora_model *m, size_t i);
/* Finds a tensor by HF name; NULL if absent. */
AGORA_API const agora_model_param *agora_model_find(const agora_model *m, const char *name);

/* agora_model_init draws the INTELLECT-1 init: N(0, 0.02) truncated at 2 std for embeddings
 * and head, depth-scaled std 0.02/sqrt(2(l+1)) for o_proj and down_proj, 0.02 for other
 * linears, ones for norms. Deterministic in seed (stream AGORA_RNG_STREAM_INIT). */
AGORA_API void agora_model_init(agora_model *m, uint64_t seed);

/* Switches every kernel to its `_ref` twin (tests). */
AGORA_API void agora_model_use_ref(agora_model *m, bool use_ref);

/* agora_model_forward runs (B, T) int32 tokens through the model and, if targets is not
 * NULL, computes the loss (mean CE + z_loss_w * mean(max_logit^2)) over all positions
 * (targets < 0 are ignored). B <= max_batch, T <= max_seq. Keeps activations for
 * backward. loss_out / ce_out may be NULL. */
AGORA_NODISCARD AGORA_API agora_err agora_model_forward(agora_model *m, const int32_t *tokens,
                                                        const int32_t *targets, int32_t B,
                                                        int32_t T, float z_loss_w, float *loss_out,
                                                        float *ce_out);
/* Logits of the last forward, (B, T, V) row-major. Valid until the next forward or
 * backward (backward overwrites them with their gradient). */
AGORA_API const float *agora_model_logits(const agora_model *m);
/* agora_model_backward ADDS d(loss * loss_scale)/d(params) into the gradient slab, for the
 * batch of the last forward (which must have had targets). loss_scale = 1/accum_steps for
 * gradient accumulation. */
AGORA_NODISCARD AGORA_API agora_err agora_model_backward(agora_model *m, float loss_scale);
AGORA_API void agora_model_zero_grad(agora_model *m);

// ---- optimizer ----

typedef struct agora_adamw_params {
    double lr, beta1, beta2, eps, weight_decay;
} agora_adamw_params;

/* AdamW state: first and second moments, each one slab the size of the params. */
typedef struct agora_adamw {
    size_t n;
    float *m, *v;
    int64_t t; /* steps taken */
} agora_adamw;

AGORA_NODISCARD AGORA_API agora_err agora_adamw_init(agora_adamw *opt, size_t n);
AGORA_API void agora_adamw_fini(agora_adamw *opt);
/* One step with PyTorch's torch.optim.AdamW arithmetic (t counts from 1):
 *   p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
 *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)        */
AGORA_API void agora_adamw_step(agora_adamw *opt, float *params, const float *grads,
                                const agora_adamw_params *hp);
/* agora_adamw_step on grads * grad_scale (one float multiply per element, as
 * agora_grad_clip does in place), without writing grads: clipping folded into the update
 * saves a pass over the gradients. Same bits as agora_grad_clip + agora_adamw_step. */
AGORA_API void agora_adamw_step_scaled(agora_adamw *opt, float *params, const float *grads,
                                       float grad_scale, const agora_adamw_params *hp);
/* Global L2 norm of grads (accumulated in double). */
AGORA_API double agora_grad_norm(const float *grads, size_t n);
/* torch.nn.utils.clip_grad_norm_: scales grads by max_norm/(norm+1e-6) when that is below
 * 1. Returns the norm before clipping. max_norm <= 0 only measures. */
AGORA_API double agora_grad_clip(float *grads, size_t n, double max_norm);
/* The factor agora_grad_clip scales by for a given norm: max_norm/(norm+1e-6) in float
 * when that is below 1, else 1 (also for max_norm <= 0). */
AGORA_API float agora_grad_clip_scale(double norm, double max_norm);

// ---- learning-rate schedules ----

typedef enum agora_lr_sched_kind {
    AGORA_LR_COSINE = 0,   /* linear warmup, then cosine from lr to lr*min_ratio */
    AGORA_LR_CONSTANT = 1, /* linear warmup, then constant */
    AGORA_LR_WSD_SQRT = 2  /* warmup, stable, then lr*max(0, 1-sqrt((s-d)/(total-d))) */
} agora_lr_sched_kind;
/* Names in enum order, NULL-terminated: "cosine", "constant", "wsd-sqrt". */
AGORA_API extern const char *const agora_lr_sched_names[];

typedef struct agora_lr_sched {
    agora_lr_sched_kind kind;
    double lr;
    int64_t warmup;      /* steps of linear warmup: step s < warmup gets lr*(s+1)/warmup */
    int64_t total;       /* last step (cosine end, wsd-sqrt zero point) */
    double min_ratio;    /* cosine floor as a fraction of lr */
    int64_t decay_start; /* wsd-sqrt: first step of the sqrt decay */
} agora_lr_sched;

/* Learning rate for step s (0-based). */
AGORA_API double agora_lr_at(const agora_lr_sched *s, int64_t step);

// ---- checkpoints (src/train/ckpt.c; format in docs/ckpt-format.md) ----

/* agora_ckpt_save writes one checkpoint step into ROOT/step_<step>/:
 *   model.safetensors   weights with HF Llama names (F32), config.json beside it
 *   optim.safetensors   AdamW exp_avg / exp_avg_sq per tensor, step count in metadata
 *                       (skipped when opt is NULL)
 *   state.json          state_json verbatim (step, RNG, data cursor: the trainer's)
 *   tokenizer.bpe       a copy of tokenizer_path (skipped when NULL)
 *   DONE                written last
 * Every file is written atomically; then older checkpoints beyond `keep` are pruned
 * (keep 0 keeps all). The directory is written to dir_out. */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_save(const char *root, int64_t step,
                                                    const agora_model *m, const agora_adamw *opt,
                                                    const char *state_json,
                                                    const char *tokenizer_path, size_t keep,
                                                    char *dir_out, size_t dir_len,
                                                    char err[AGORA_ERR_LEN]);
/* A checkpoint step captured in memory, to be written later, possibly on another thread
 * while training goes on (DiLoCo's background checkpoints, spec §12: copy at the
 * boundary, write tmp -> fsync -> rename in the background).
 * agora_ckpt_snapshot_take copies the weights, the AdamW moments and the strings that
 * agora_ckpt_save would write; *snap is created on first use and its memory (3 x params)
 * reused by later takes. The model's layout (tensor table, config) is read again when
 * writing, so m must outlive the snapshot; its weights may change freely. Only one thread
 * may use a snapshot at a time.
 * agora_ckpt_snapshot_write writes it exactly as agora_ckpt_save would have at take time. */
typedef struct agora_ckpt_snapshot agora_ckpt_snapshot;
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_snapshot_take(
    const char *root, int64_t step, const agora_model *m, const agora_adamw *opt,
    const char *state_json, const char *tokenizer_path, size_t keep, agora_ckpt_snapshot **snap);
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_snapshot_write(const agora_ckpt_snapshot *s,
                                                              char *dir_out, size_t dir_len,
                                                              char err[AGORA_ERR_LEN]);
AGORA_API int64_t agora_ckpt_snapshot_step(const agora_ckpt_snapshot *s);
AGORA_API void agora_ckpt_snapshot_free(agora_ckpt_snapshot *s); /* NULL-safe */
/* agora_ckpt_load_weights fills m's parameters from DIR/model.safetensors. Every tensor
 * must be present, F32 and of m's shape (AGORA_ESHAPE names the tensor and both shapes). */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_load_weights(const char *dir, agora_model *m,
                                                            char err[AGORA_ERR_LEN]);
/* agora_ckpt_load_optim fills opt (already sized for m) from DIR/optim.safetensors. */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_load_optim(const char *dir, const agora_model *m,
                                                          agora_adamw *opt,
                                                          char err[AGORA_ERR_LEN]);
/* agora_ckpt_save_weights writes just the weights file (tests, export). */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_save_weights(const char *path, const agora_model *m,
                                                            char err[AGORA_ERR_LEN]);

// ---- the trainer (src/train/trainer.c) ----

/* Everything `agora train` can set; filled from the agora_train_cfg table
 * (defaults < --config file < AGORA_TRAIN_* env < --set train.x=v). */
typedef struct agora_train_params {
    char preset[AGORA_CFG_STR_LEN];       /* tiny | small | base | intellect-1 */
    char model_config[AGORA_CFG_STR_LEN]; /* HF config.json; overrides preset if set */
    char data[AGORA_CFG_STR_LEN];         /* shard dir from `agora data prepare` */
    char text[AGORA_CFG_STR_LEN];         /* or: a text file, byte-level tokens (vocab 256) */
    int64_t vocab_size;                   /* 0: from the data */
    int64_t seq_len, batch_size, grad_accum, steps;
    double lr, min_lr_ratio;
    int64_t warmup;
    int schedule; /* agora_lr_sched_kind */
    int64_t decay_start;
    double weight_decay, beta1, beta2, eps, grad_clip, z_loss;
    int64_t seed;
    int64_t val_every, val_batches, log_every, ckpt_every, ckpt_keep, stop_at;
    bool resume, tie_embeddings;
    double rope_theta, peak_gflops;
    int64_t worker, n_workers; /* data shard of this process: worker i of n see disjoint data */
} agora_train_params;

AGORA_API extern const agora_cfg_entry agora_train_cfg[];
AGORA_API extern const size_t agora_train_cfg_len;

typedef struct agora_train_stats {
    int64_t step; /* steps done after this one */
    double loss, ce, lr, grad_norm;
    double step_s;    /* wall time of this step */
    double tok_per_s; /* over the last 10 steps */
    double mfu;       /* tok_per_s * flops_per_token / peak */
    uint64_t tokens;  /* seen so far */
} agora_train_stats;

typedef struct agora_trainer agora_trainer;

/* agora_trainer_create builds the model, optimizer and data sources. Checkpoints go to
 * RUN_DIR/ckpt; with p->resume the newest complete one there is loaded (weights,
 * optimizer, step, data cursor), so the run continues bit-exactly. */
AGORA_NODISCARD AGORA_API agora_err agora_trainer_create(const agora_train_params *p,
                                                         const char *run_dir, agora_trainer **out,
                                                         char err[AGORA_ERR_LEN]);
AGORA_API void agora_trainer_destroy(agora_trainer *t); /* NULL-safe */
/* One optimizer step: grad_accum micro-batches, clipping, AdamW, schedule. */
AGORA_NODISCARD AGORA_API agora_err agora_trainer_step(agora_trainer *t, agora_train_stats *st);
/* Mean loss over val_batches fixed validation batches (the same ones every time).
 * AGORA_ENOENT when there is no validation data. */
AGORA_NODISCARD AGORA_API agora_err agora_trainer_eval(agora_trainer *t, double *val_loss);
/* Writes a checkpoint for the current step; its directory goes to dir_out. */
AGORA_NODISCARD AGORA_API agora_err agora_trainer_checkpoint(agora_trainer *t, char *dir_out,
                                                             size_t len, char err[AGORA_ERR_LEN]);
/* Captures what agora_trainer_checkpoint would write now into *snap (see
 * agora_ckpt_snapshot_take), for agora_ckpt_snapshot_write to write later. */
AGORA_NODISCARD AGORA_API agora_err agora_trainer_snapshot(agora_trainer *t,
                                                           agora_ckpt_snapshot **snap);
AGORA_API int64_t agora_trainer_step_count(const agora_trainer *t);
/* agora_trainer_set_step moves the step counter (the LR schedule position), for a DiLoCo
 * node that joins a run at outer step k and continues at inner step k*H. */
AGORA_API void agora_trainer_set_step(agora_trainer *t, int64_t step);
AGORA_API agora_model *agora_trainer_model(agora_trainer *t);
/* The AdamW state (moments and step count), e.g. for a DiLoCo joiner that takes a peer's. */
AGORA_API agora_adamw *agora_trainer_optimizer(agora_trainer *t);
/* Peak FLOP/s used for MFU (measured at create unless train.peak_gflops is set). */
AGORA_API double agora_trainer_peak_flops(const agora_trainer *t);

/* Which library runs the matmuls. "auto" (the default): "amx" where the CPU and kernel allow
 * AMX-BF16 tiles, else "onednn". "amx": our AMX kernel (fp32 operands split exactly into
 * three bf16 parts, fp32-accurate; src/train/sgemm_amx.c), or "onednn" where it cannot run.
 * "onednn": with oneDNN built in (AGORA_DNNL), its dnnl_sgemm runs the forward and
 * input-gradient products and OpenBLAS the weight-gradient ones (else OpenBLAS alone);
 * "openblas": OpenBLAS runs them all. AGORA_EINVAL for another name.
 * The environment variable AGORA_SGEMM applies the same names when the first model is
 * created, unless this was called before. Call it before training, never while kernels
 * run. */
AGORA_API agora_err agora_sgemm_select(const char *name);
/* "amx-bf16x6", "onednn+openblas", "openblas", or "reference" (built without BLAS). */
AGORA_API const char *agora_sgemm_name(void);

/* Measures the sgemm throughput (GFLOP/s) of an n x n x n product through the same
 * threaded GEMM path the kernels use, best of reps. */
AGORA_API double agora_sgemm_peak_gflops(int32_t n, int32_t reps);

// ---- sampling ----

/* agora_sample_logits draws a token from logits (V floats) at the given temperature,
 * restricted to the top_k largest (top_k <= 0: all). temperature <= 0 is greedy. u is a
 * uniform draw in [0,1). scratch holds V floats + V ints (2*V*4 bytes). */
AGORA_API int32_t agora_sample_logits(const float *logits, int32_t V, double temperature,
                                      int32_t top_k, double u, void *scratch);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_TRAIN_H */
