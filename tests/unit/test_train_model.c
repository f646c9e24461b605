/* test_train_model.c: the whole model and the optimizer.
 *
 * Whole-model finite differences on a tiny-shaped model, fast kernels against _ref on the
 * whole forward/backward, gradient accumulation, AdamW against a double-precision
 * transcription of torch.optim.AdamW, the schedules, presets, config.json, and the
 * overfit test (a tiny model memorises a few KB of text).
 */
#include "agora_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "agora/train.h"

static agora_model_config small_cfg(void) {
    agora_model_config c;
    agora_assert_ok(agora_model_config_preset("tiny", &c));
    c.vocab_size = 37;
    c.dim = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.ffn_dim = 48;
    c.max_seq = 12;
    return c;
}

static void fill_tokens(int32_t *x, int32_t *y, size_t n, int32_t V, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (int32_t)((s >> 8) % (uint32_t)V);
        s = s * 1103515245u + 12345u;
        y[i] = (int32_t)((s >> 8) % (uint32_t)V);
    }
}

static double loss_at(agora_model *m, const int32_t *x, const int32_t *y, int B, int T, float zw) {
    float loss;
    agora_assert_ok(agora_model_forward(m, x, y, B, T, zw, &loss, NULL));
    return loss;
}

static void train_model_whole_grad_matches_finite_difference(void **state) {
    (void)state;
    agora_model_config c = small_cfg();
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, 2, &m));
    agora_model_init(m, 7);
    agora_model_use_ref(m, true);
    float *p = agora_model_params(m), *g = agora_model_grads(m);
    /* norms away from 1 so their gradients are not special */
    for (size_t t = 0; t < agora_model_n_tensors(m); t++) {
        const agora_model_param *pt = agora_model_tensor(m, t);
        if (pt->ndim == 1)
            for (size_t i = 0; i < pt->numel; i++)
                p[pt->offset + i] = 1.0f + 0.1f * (float)((int)(i % 7) - 3);
        else
            for (size_t i = 0; i < pt->numel; i++)
                p[pt->offset + i] *= 3.0f; /* larger weights, larger gradients */
    }
    enum { B = 2, T = 12 };
    int32_t x[B * T], y[B * T];
    fill_tokens(x, y, B * T, c.vocab_size, 3);
    y[5] = -1; /* an ignored position */
    float zw = 0.01f;
    loss_at(m, x, y, B, T, zw);
    agora_model_zero_grad(m);
    agora_assert_ok(agora_model_backward(m, 1.0f));
    int checked = 0;
    for (size_t t = 0; t < agora_model_n_tensors(m); t++) {
        const agora_model_param *pt = agora_model_tensor(m, t);
        /* the 3 coordinates with the largest gradient in this tensor */
        size_t idx[3] = {0, 0, 0};
        for (int r = 0; r < 3; r++) {
            double best = -1;
            for (size_t i = 0; i < pt->numel; i++) {
                double a = fabs(g[pt->offset + i]);
                bool used = false;
                for (int j = 0; j < r; j++)
                    used |= idx[j] == i;
                if (!used && a > best) {
                    best = a;
                    idx[r] = i;
                }
            }
        }
        for (int r = 0; r < 3; r++) {
            float *w = &p[pt->offset + idx[r]];
            float w0 = *w, h = 1e-2f;
            *w = w0 + h;
            double lp = loss_at(m, x, y, B, T, zw);
            *w = w0 - h;
            double lm = loss_at(m, x, y, B, T, zw);
            *w = w0;
            double fd = (lp - lm) / (2.0 * h), an = g[pt->offset + idx[r]];
            if (fabs(fd - an) > 2e-4 + 3e-2 * fabs(fd)) {
                print_error("%s[%zu]: analytic %.6g, finite difference %.6g\n", pt->name, idx[r],
                            an, fd);
                fail();
            }
            checked++;
        }
    }
    assert_int_equal(checked, 3 * (int)agora_model_n_tensors(m));
    agora_model_destroy(m);
}

static void train_model_fast_matches_ref(void **state) {
    (void)state;
    agora_model_config c;
    agora_assert_ok(agora_model_config_preset("tiny", &c));
    c.max_seq = 96;
    enum { B = 3, T = 96 }; /* two attention row blocks */
    agora_model *a = NULL, *b = NULL;
    agora_assert_ok(agora_model_create(&c, B, &a));
    agora_assert_ok(agora_model_create(&c, B, &b));
    agora_model_init(a, 11);
    agora_model_init(b, 11);
    agora_model_use_ref(b, true);
    int32_t x[B * T], y[B * T];
    fill_tokens(x, y, B * T, c.vocab_size, 5);
    float la, lb;
    agora_assert_ok(agora_model_forward(a, x, y, B, T, 2e-4f, &la, NULL));
    agora_assert_ok(agora_model_forward(b, x, y, B, T, 2e-4f, &lb, NULL));
    agora_assert_near(la, lb, 1e-5 * fabs(lb));
    size_t nl = (size_t)B * T * (size_t)c.vocab_size;
    agora_assert_tensor_near(agora_model_logits(a), agora_model_logits(b), nl, 1e-5, 1e-4);
    agora_assert_ok(agora_model_backward(a, 1.0f));
    agora_assert_ok(agora_model_backward(b, 1.0f));
    agora_assert_tensor_near(agora_model_grads(a), agora_model_grads(b), agora_model_n_params(a),
                             1e-6, 2e-3);
    agora_model_destroy(a);
    agora_model_destroy(b);
}

static void train_model_grad_accumulation_equals_big_batch(void **state) {
    (void)state;
    agora_model_config c = small_cfg();
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, 4, &m));
    agora_model_init(m, 3);
    enum { B = 4, T = 12 };
    int32_t x[B * T], y[B * T];
    fill_tokens(x, y, B * T, c.vocab_size, 9);
    size_t n = agora_model_n_params(m);
    float *big = malloc(n * sizeof *big);
    loss_at(m, x, y, B, T, 2e-4f);
    agora_model_zero_grad(m);
    agora_assert_ok(agora_model_backward(m, 1.0f));
    memcpy(big, agora_model_grads(m), n * sizeof *big);
    agora_model_zero_grad(m);
    for (int k = 0; k < 2; k++) { /* two micro-batches of 2 sequences */
        loss_at(m, x + k * 2 * T, y + k * 2 * T, 2, T, 2e-4f);
        agora_assert_ok(agora_model_backward(m, 0.5f));
    }
    agora_assert_tensor_near(agora_model_grads(m), big, n, 1e-7, 1e-4);
    /* a second backward without a forward is a state error */
    agora_assert_err(agora_model_backward(m, 1.0f), AGORA_ESTATE);
    free(big);
    agora_model_destroy(m);
}

static void train_model_rejects_bad_tokens_and_shapes(void **state) {
    (void)state;
    agora_model_config c = small_cfg();
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, 1, &m));
    int32_t x[12] = {0}, y[12] = {0};
    x[3] = c.vocab_size;
    agora_assert_err(agora_model_forward(m, x, y, 1, 12, 0, NULL, NULL), AGORA_ERANGE);
    x[3] = 0;
    agora_assert_err(agora_model_forward(m, x, y, 2, 12, 0, NULL, NULL), AGORA_EINVAL);
    agora_assert_err(agora_model_forward(m, x, y, 1, 13, 0, NULL, NULL), AGORA_EINVAL);
    agora_model_destroy(m);
    char err[AGORA_ERR_LEN];
    c.n_kv_heads = 3;
    agora_assert_err(agora_model_config_validate(&c, err), AGORA_EINVAL);
    assert_non_null(strstr(err, "n_kv_heads"));
}

/* A transcription of torch.optim.AdamW's single-tensor step, in double. */
static void train_model_adamw_matches_torch_formula(void **state) {
    (void)state;
    enum { N = 1000, STEPS = 5 };
    agora_adamw opt;
    agora_assert_ok(agora_adamw_init(&opt, N));
    float p[N], g[N];
    double pd[N], md[N] = {0}, vd[N] = {0};
    agora_test_fill_normal(p, N, 1);
    for (int i = 0; i < N; i++)
        pd[i] = p[i];
    agora_adamw_params hp = {
        .lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    for (int s = 1; s <= STEPS; s++) {
        agora_test_fill_normal(g, N, 100 + (uint64_t)s);
        agora_adamw_step(&opt, p, g, &hp);
        double bc1 = 1 - pow(hp.beta1, s), bc2 = 1 - pow(hp.beta2, s);
        for (int i = 0; i < N; i++) {
            pd[i] *= 1 - hp.lr * hp.weight_decay;
            md[i] = hp.beta1 * md[i] + (1 - hp.beta1) * g[i];
            vd[i] = hp.beta2 * vd[i] + (1 - hp.beta2) * g[i] * g[i];
            pd[i] -= hp.lr / bc1 * md[i] / (sqrt(vd[i]) / sqrt(bc2) + hp.eps);
        }
    }
    assert_int_equal(opt.t, STEPS);
    for (int i = 0; i < N; i++) {
        agora_assert_near(p[i], pd[i], 1e-6 * (1 + fabs(pd[i])));
        agora_assert_near(opt.m[i], md[i], 1e-6);
        agora_assert_near(opt.v[i], vd[i], 1e-6);
    }
    agora_adamw_fini(&opt);
}

/* Clipping folded into the update (what agora train does) gives the same bits as clipping
 * the gradients in place and then stepping, and leaves the gradients untouched. */
static void train_model_adamw_scaled_equals_clip_then_step(void **state) {
    (void)state;
    enum { N = 100003 }; /* several chunks, a tail */
    float *p0 = malloc(N * sizeof *p0), *p1 = malloc(N * sizeof *p1);
    float *g0 = malloc(N * sizeof *g0), *g1 = malloc(N * sizeof *g1);
    assert_non_null(p0), assert_non_null(p1), assert_non_null(g0), assert_non_null(g1);
    agora_test_fill_normal(p0, N, 1);
    memcpy(p1, p0, N * sizeof *p1);
    agora_adamw o0, o1;
    agora_assert_ok(agora_adamw_init(&o0, N));
    agora_assert_ok(agora_adamw_init(&o1, N));
    agora_adamw_params hp = {
        .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    for (int step = 0; step < 3; step++) {
        agora_test_fill_normal(g0, N, 10 + (uint64_t)step);
        memcpy(g1, g0, N * sizeof *g1);
        double max_norm = step == 1 ? 1e9 : 1.0; /* step 1 does not clip */
        agora_grad_clip(g0, N, max_norm);
        agora_adamw_step(&o0, p0, g0, &hp);
        double norm = agora_grad_norm(g1, N);
        float before = g1[7];
        agora_adamw_step_scaled(&o1, p1, g1, agora_grad_clip_scale(norm, max_norm), &hp);
        assert_memory_equal(p1, p0, N * sizeof *p0);
        assert_memory_equal(o1.m, o0.m, N * sizeof *o0.m);
        assert_memory_equal(o1.v, o0.v, N * sizeof *o0.v);
        agora_assert_near(g1[7], before, 0);
    }
    agora_adamw_fini(&o0);
    agora_adamw_fini(&o1);
    free(p0), free(p1), free(g0), free(g1);
}

static void train_model_grad_clip_scales_to_max_norm(void **state) {
    (void)state;
    float g[4] = {3, 4, 0, 0};
    double n = agora_grad_clip(g, 4, 1.0);
    agora_assert_near(n, 5.0, 1e-9);
    agora_assert_near(agora_grad_norm(g, 4), 1.0, 1e-6);
    float h[2] = {0.3f, 0.4f};
    agora_grad_clip(h, 2, 1.0); /* below the limit: unchanged */
    agora_assert_near(h[0], 0.3f, 0);
    agora_assert_near(h[1], 0.4f, 0);
}

static void train_model_schedules_follow_their_formulas(void **state) {
    (void)state;
    agora_lr_sched s = {
        .kind = AGORA_LR_COSINE, .lr = 1.0, .warmup = 10, .total = 110, .min_ratio = 0.1};
    agora_assert_near(agora_lr_at(&s, 0), 0.1, 1e-12);
    agora_assert_near(agora_lr_at(&s, 9), 1.0, 1e-12);
    agora_assert_near(agora_lr_at(&s, 10), 1.0, 1e-12);
    agora_assert_near(agora_lr_at(&s, 60), 0.55, 1e-12);
    agora_assert_near(agora_lr_at(&s, 110), 0.1, 1e-12);
    agora_assert_near(agora_lr_at(&s, 500), 0.1, 1e-12);
    s.kind = AGORA_LR_CONSTANT;
    agora_assert_near(agora_lr_at(&s, 4), 0.5, 1e-12);
    agora_assert_near(agora_lr_at(&s, 1000), 1.0, 1e-12);
    /* INTELLECT-1: warmup 1000, decay from 74700 to 90400 */
    agora_lr_sched w = {.kind = AGORA_LR_WSD_SQRT,
                        .lr = 7.5e-5,
                        .warmup = 1000,
                        .total = 90400,
                        .decay_start = 74700};
    agora_assert_near(agora_lr_at(&w, 50000), 7.5e-5, 1e-15);
    agora_assert_near(agora_lr_at(&w, 74700), 7.5e-5, 1e-15);
    double frac = (78625.0 - 74700.0) / (90400.0 - 74700.0); /* a quarter: sqrt = 0.5 */
    agora_assert_near(agora_lr_at(&w, 78625), 7.5e-5 * (1 - sqrt(frac)), 1e-15);
    agora_assert_near(agora_lr_at(&w, 90400), 0.0, 1e-15);
    agora_assert_near(agora_lr_at(&w, 95000), 0.0, 1e-15);
}

static void train_model_presets_have_expected_sizes(void **state) {
    (void)state;
    agora_model_config c;
    agora_assert_ok(agora_model_config_preset("intellect-1", &c));
    /* spec §3: 10,211,381,248 total, 9,686,044,672 non-embedding */
    assert_true(agora_model_config_n_params(&c) == 10211381248ull);
    assert_true(agora_model_config_n_params_nonembed(&c) == 9686044672ull);
    agora_assert_near(agora_model_flops_per_token(&c, 8192), 7.50e10, 0.01e10);
    agora_assert_ok(agora_model_config_preset("tiny", &c));
    uint64_t n = agora_model_config_n_params(&c);
    assert_true(n > 500000 && n < 1500000);
    agora_assert_ok(agora_model_config_preset("small", &c));
    n = agora_model_config_n_params(&c);
    assert_true(n > 15000000 && n < 25000000);
    agora_assert_ok(agora_model_config_preset("base", &c));
    n = agora_model_config_n_params(&c);
    assert_true(n > 110000000 && n < 140000000);
    agora_assert_err(agora_model_config_preset("huge", &c), AGORA_ENOTFOUND);
    /* the slab holds exactly the counted parameters (plus alignment padding) */
    agora_assert_ok(agora_model_config_preset("tiny", &c));
    c.max_seq = 8;
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, 1, &m));
    size_t sum = 0;
    for (size_t i = 0; i < agora_model_n_tensors(m); i++) {
        assert_int_equal(agora_model_tensor(m, i)->offset % 16, 0);
        sum += agora_model_tensor(m, i)->numel;
    }
    assert_true(sum == agora_model_config_n_params(&c));
    assert_non_null(agora_model_find(m, "model.layers.3.mlp.down_proj.weight"));
    assert_non_null(agora_model_find(m, "lm_head.weight"));
    agora_model_destroy(m);
    c.tie_embeddings = true;
    agora_assert_ok(agora_model_create(&c, 1, &m));
    assert_null(agora_model_find(m, "lm_head.weight"));
    agora_model_destroy(m);
}

static void train_model_config_json_round_trips(void **state) {
    (void)state;
    agora_model_config c, d;
    agora_assert_ok(agora_model_config_preset("small", &c));
    c.rope_theta = 500000;
    c.tie_embeddings = true;
    char *text = NULL;
    agora_assert_ok(agora_model_config_to_json(&c, &text));
    char *dir = agora_test_tmpdir();
    char path[4096], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/config.json", dir);
    agora_assert_ok(agora_write_file_atomic(path, text, strlen(text), err));
    agora_assert_ok(agora_model_config_load_json(path, &d, err));
    assert_memory_equal(&c, &d, sizeof c);
    const char *bad = "{\"hidden_size\": 64, \"vocab_size\": 10}";
    agora_assert_ok(agora_write_file_atomic(path, bad, strlen(bad), err));
    agora_assert_err(agora_model_config_load_json(path, &d, err), AGORA_EPARSE);
    assert_non_null(strstr(err, "num_hidden_layers"));
    /* Values JSON allows but a model cannot use: each one a named error, not a model. */
    static const char *const worse[][2] = {
        {"\"rope_theta\": 1e999", "rope_theta"},
        {"\"rms_norm_eps\": -1", "norm_eps"},
        {"\"num_hidden_layers\": 1e300", "num_hidden_layers"},
        {"\"hidden_size\": 64.5", "hidden_size"},
        {"\"num_key_value_heads\": 3", "n_kv_heads"},
    };
    for (size_t i = 0; i < sizeof worse / sizeof *worse; i++) {
        char doc[512];
        int n = snprintf(doc, sizeof doc,
                         "{\"vocab_size\": 256, \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                         "\"num_attention_heads\": 4, \"intermediate_size\": 128, %s}",
                         worse[i][0]);
        /* a key given twice: cJSON reads the first, so the bad one goes first */
        if (strncmp(worse[i][0], "\"rope", 6) != 0 && strncmp(worse[i][0], "\"rms", 5) != 0 &&
            strncmp(worse[i][0], "\"num_key", 8) != 0)
            n = snprintf(doc, sizeof doc,
                         "{%s, \"vocab_size\": 256, \"hidden_size\": 64, \"num_hidden_layers\": 2, "
                         "\"num_attention_heads\": 4, \"intermediate_size\": 128}",
                         worse[i][0]);
        agora_assert_ok(agora_write_file_atomic(path, doc, (size_t)n, err));
        agora_err rc = agora_model_config_load_json(path, &d, err);
        if (rc == AGORA_OK)
            fail_msg("%s was accepted", worse[i][0]);
        if (strstr(err, worse[i][1]) == NULL || strstr(err, "config.json") == NULL)
            fail_msg("%s: message \"%s\" does not name %s and the file", worse[i][0], err,
                     worse[i][1]);
    }
    agora_free(text);
    agora_test_rmtree(dir);
    free(dir);
}

/* The overfit test: the tiny shape memorises a few KB of text (byte tokens) to a loss
 * under 0.1. */
static void train_model_tiny_overfits_text(void **state) {
    (void)state;
    char path[4096], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/tests/fixtures/train/overfit.txt", agora_test_src());
    char *text = NULL;
    size_t len = 0;
    agora_assert_ok(agora_read_file(path, 1 << 20, &text, &len, err));
    assert_true(len >= 2000);
    agora_model_config c;
    agora_assert_ok(agora_model_config_preset("tiny", &c));
    enum { B = 8, T = 128 };
    c.max_seq = T;
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, B, &m));
    agora_model_init(m, 1);
    agora_adamw opt;
    agora_assert_ok(agora_adamw_init(&opt, agora_model_n_params(m)));
    agora_adamw_params hp = {
        .lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.0};
    agora_lr_sched sch = {
        .kind = AGORA_LR_COSINE, .lr = 3e-3, .warmup = 20, .total = 400, .min_ratio = 0.1};
    int32_t x[B * T], y[B * T];
    float loss = 99, ce = 99;
    int64_t t0 = agora_now_ns();
    int step = 0;
    for (; step < 400 && loss >= 0.08f; step++) {
        /* the text as fixed chunks of T+1 bytes, cycled through in order */
        size_t n_chunks = (len - 1) / T;
        for (int b = 0; b < B; b++) {
            size_t start = ((size_t)(step * B + b) % n_chunks) * T;
            for (int t = 0; t < T; t++) {
                x[b * T + t] = (unsigned char)text[start + (size_t)t];
                y[b * T + t] = (unsigned char)text[start + (size_t)t + 1];
            }
        }
        agora_assert_ok(agora_model_forward(m, x, y, B, T, 2e-4f, &loss, &ce));
        agora_model_zero_grad(m);
        agora_assert_ok(agora_model_backward(m, 1.0f));
        agora_grad_clip(agora_model_grads(m), agora_model_n_params(m), 1.0);
        hp.lr = agora_lr_at(&sch, step);
        agora_adamw_step(&opt, agora_model_params(m), agora_model_grads(m), &hp);
    }
    double secs = (double)(agora_now_ns() - t0) / 1e9;
    print_message("overfit: %d steps, loss %.4f (ce %.4f), %.1f s\n", step, (double)loss,
                  (double)ce, secs);
    assert_true(loss < 0.1f);
    agora_adamw_fini(&opt);
    agora_model_destroy(m);
    agora_free(text);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_model_whole_grad_matches_finite_difference),
        cmocka_unit_test(train_model_fast_matches_ref),
        cmocka_unit_test(train_model_grad_accumulation_equals_big_batch),
        cmocka_unit_test(train_model_rejects_bad_tokens_and_shapes),
        cmocka_unit_test(train_model_adamw_matches_torch_formula),
        cmocka_unit_test(train_model_adamw_scaled_equals_clip_then_step),
        cmocka_unit_test(train_model_grad_clip_scales_to_max_norm),
        cmocka_unit_test(train_model_schedules_follow_their_formulas),
        cmocka_unit_test(train_model_presets_have_expected_sizes),
        cmocka_unit_test(train_model_config_json_round_trips),
        cmocka_unit_test(train_model_tiny_overfits_text),
    };
    return agora_test_main(tests, argc, argv);
}
