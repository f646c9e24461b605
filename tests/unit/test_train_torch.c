/* test_train_torch.c: agora's model and optimizer against PyTorch (Debian python3-torch).
 *
 * The test writes a random small model (our safetensors + HF config.json) and a batch,
 * runs tests/fixtures/train/torch_ref.py under /usr/bin/python3 (an independent float64
 * Llama in torch), and requires our float32 logits, loss and every gradient to match within
 * 1e-4 relative (per-tensor L2), and two AdamW steps to give torch.optim.AdamW's parameters.
 */
#include "agora_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/safetensors.h"
#include "agora/stream.h"
#include "agora/train.h"

static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num) / (sqrt(den) + 1e-30);
}

static const float *tensor(const agora_st_file *f, const char *name, size_t numel) {
    const agora_st_tensor *t = agora_st_find(f, name);
    if (t == NULL || t->dtype != AGORA_ST_F32 || t->numel != numel) {
        print_error("torch output lacks %s (or it has the wrong size)\n", name);
        fail();
    }
    return agora_st_data(f, t); /* safetensors data offsets here are 4-byte aligned */
}

static void run_case(bool tied) {
    agora_model_config c = {.vocab_size = 61,
                            .dim = 48,
                            .n_layers = 2,
                            .n_heads = 6,
                            .n_kv_heads = 2,
                            .ffn_dim = 80,
                            .max_seq = 16,
                            .rope_theta = 500000,
                            .norm_eps = 1e-5,
                            .tie_embeddings = tied};
    enum { B = 2, T = 16 };
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, B, &m));
    agora_model_init(m, 42);
    float *p = agora_model_params(m);
    for (size_t i = 0; i < agora_model_n_params(m); i++) /* larger weights: less trivial */
        p[i] *= 4.0f;
    char *dir = agora_test_tmpdir();
    char path[4096], err[AGORA_ERR_LEN], cmd[8192], out[16384];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    agora_assert_ok(agora_ckpt_save_weights(path, m, err));
    char *cj = NULL;
    agora_assert_ok(agora_model_config_to_json(&c, &cj));
    snprintf(path, sizeof path, "%s/config.json", dir);
    agora_assert_ok(agora_write_file_atomic(path, cj, strlen(cj), err));
    agora_free(cj);
    int32_t x[B * T], y[B * T];
    for (int i = 0; i < B * T; i++) {
        x[i] = (i * 37 + 11) % c.vocab_size;
        y[i] = (i * 53 + 7) % c.vocab_size;
    }
    y[3] = -1; /* ignored */
    const float zw = 1e-2f;
    agora_adamw_params hp = {
        .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    const char *meta[] = {"z_loss_w",     "0.01",  "lr",         "0.001", "beta1",
                          "0.9",          "beta2", "0.95",       "eps",   "1e-08",
                          "weight_decay", "0.1",   "adam_steps", "2"};
    agora_st_entry be[2] = {
        {.name = "tokens", .dtype = AGORA_ST_I32, .ndim = 2, .shape = {B, T}, .data = x},
        {.name = "targets", .dtype = AGORA_ST_I32, .ndim = 2, .shape = {B, T}, .data = y}};
    snprintf(path, sizeof path, "%s/batch.safetensors", dir);
    agora_assert_ok(agora_st_save(path, be, 2, meta, 7, err));

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/fixtures/train/torch_ref.py %s",
             agora_test_src(), dir);
    int st = agora_test_run(cmd, out, sizeof out);
    if (st != 0) {
        print_error("torch_ref.py failed (%d):\n%s\n", st, out);
        fail();
    }
    agora_st_file *f = NULL;
    snprintf(path, sizeof path, "%s/torch_out.safetensors", dir);
    agora_assert_ok(agora_st_load(path, &f, err));

    float loss, ce;
    agora_assert_ok(agora_model_forward(m, x, y, B, T, zw, &loss, &ce));
    size_t nl = (size_t)B * T * (size_t)c.vocab_size;
    double e = rel_l2(agora_model_logits(m), tensor(f, "logits", nl), nl);
    print_message("logits rel err %.3g\n", e);
    assert_true(e < 1e-4);
    agora_assert_tensor_near(agora_model_logits(m), tensor(f, "logits", nl), nl, 1e-4, 1e-4);
    agora_assert_near(loss, tensor(f, "loss", 1)[0], 1e-4 * fabs(tensor(f, "loss", 1)[0]));
    agora_assert_near(ce, tensor(f, "ce", 1)[0], 1e-4 * fabs(tensor(f, "ce", 1)[0]));
    agora_model_zero_grad(m);
    agora_assert_ok(agora_model_backward(m, 1.0f));
    const float *g = agora_model_grads(m);
    double worst = 0;
    for (size_t i = 0; i < agora_model_n_tensors(m); i++) {
        const agora_model_param *t = agora_model_tensor(m, i);
        char name[128];
        snprintf(name, sizeof name, "%s.grad", t->name);
        double r = rel_l2(g + t->offset, tensor(f, name, t->numel), t->numel);
        if (r > worst)
            worst = r;
        if (!(r < 1e-4)) {
            print_error("%s: relative L2 error %.3g\n", name, r);
            fail();
        }
    }
    print_message("worst gradient rel err %.3g\n", worst);
    /* two AdamW steps with torch's gradients */
    agora_adamw opt;
    agora_assert_ok(agora_adamw_init(&opt, agora_model_n_params(m)));
    float *tg = agora_calloc(agora_model_n_params(m), sizeof *tg);
    assert_non_null(tg);
    for (size_t i = 0; i < agora_model_n_tensors(m); i++) {
        const agora_model_param *t = agora_model_tensor(m, i);
        char name[128];
        snprintf(name, sizeof name, "%s.grad", t->name);
        memcpy(tg + t->offset, tensor(f, name, t->numel), t->numel * sizeof *tg);
    }
    for (int s = 0; s < 2; s++)
        agora_adamw_step(&opt, p, tg, &hp);
    for (size_t i = 0; i < agora_model_n_tensors(m); i++) {
        const agora_model_param *t = agora_model_tensor(m, i);
        char name[128];
        snprintf(name, sizeof name, "%s.after", t->name);
        agora_assert_tensor_near(p + t->offset, tensor(f, name, t->numel), t->numel, 1e-7, 1e-6);
    }
    agora_free(tg);
    agora_adamw_fini(&opt);
    agora_st_close(f);
    agora_model_destroy(m);
    agora_test_rmtree(dir);
    free(dir);
}

static void train_torch_untied_model_matches_pytorch(void **state) {
    (void)state;
    run_case(false);
}

static void train_torch_tied_model_matches_pytorch(void **state) {
    (void)state;
    run_case(true);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_torch_untied_model_matches_pytorch),
        cmocka_unit_test(train_torch_tied_model_matches_pytorch),
    };
    return agora_test_main(tests, argc, argv);
}
