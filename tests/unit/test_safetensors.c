/* test_safetensors.c: the safetensors reader/writer, checkpoint directories, and model
 * checkpoints (weights, optimizer state, DONE marker, retention, clear errors).
 */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/ckpt_dir.h"
#include "agora/safetensors.h"
#include "agora/stream.h"
#include "agora/train.h"

static void image(agora_stream **s_out, const void **data, size_t *len) {
    static const float a[6] = {1, 2, 3, 4, 5, 6};
    static const int32_t b[3] = {-1, 0, 7};
    agora_st_entry e[2] = {
        {.name = "w.a", .dtype = AGORA_ST_F32, .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "b", .dtype = AGORA_ST_I32, .ndim = 1, .shape = {3}, .data = b}};
    const char *meta[] = {"format", "pt"};
    agora_assert_ok(agora_stream_open_mem(s_out));
    agora_assert_ok(agora_st_write(*s_out, e, 2, meta, 1));
    *data = agora_stream_mem_data(*s_out, len);
}

static void safetensors_round_trips(void **state) {
    (void)state;
    agora_stream *s;
    const void *data;
    size_t len;
    image(&s, &data, &len);
    uint64_t hlen = 0;
    memcpy(&hlen, data, 8);
    assert_int_equal(hlen % 8, 0);
    agora_st_file *f = NULL;
    char err[AGORA_ERR_LEN];
    agora_assert_ok(agora_st_parse(data, len, "mem", &f, err));
    assert_int_equal(agora_st_count(f), 2);
    assert_string_equal(agora_st_meta(f, "format"), "pt");
    const agora_st_tensor *t = agora_st_find(f, "b");
    assert_non_null(t);
    assert_int_equal(t->dtype, AGORA_ST_I32);
    int32_t b[3];
    memcpy(b, agora_st_data(f, t), sizeof b);
    assert_int_equal(b[0], -1);
    assert_int_equal(b[2], 7);
    float a[6];
    int64_t shape[2] = {2, 3};
    agora_assert_ok(agora_st_read_f32(f, "w.a", a, 2, shape, err));
    agora_assert_near(a[5], 6.0f, 0);
    int64_t wrong[2] = {3, 2};
    agora_assert_err(agora_st_read_f32(f, "w.a", a, 2, wrong, err), AGORA_ESHAPE);
    assert_non_null(strstr(err, "shape [2, 3] in file, expected [3, 2]"));
    agora_assert_err(agora_st_read_f32(f, "b", a, 1, shape, err), AGORA_EUNSUPPORTED);
    agora_assert_err(agora_st_read_f32(f, "nope", a, 1, shape, err), AGORA_ENOTFOUND);
    agora_st_close(f);
    agora_stream_close(s);
}

static void safetensors_rejects_truncated_and_corrupt_input(void **state) {
    (void)state;
    agora_stream *s;
    const void *data;
    size_t len;
    image(&s, &data, &len);
    agora_st_file *f = NULL;
    char err[AGORA_ERR_LEN];
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < len; cut++) {
        agora_err rc = agora_st_parse(data, cut, "cut", &f, err);
        assert_true(rc == AGORA_ETRUNCATED || rc == AGORA_EPARSE);
    }
    agora_assert_err(agora_st_parse(data, 4, "short", &f, err), AGORA_ETRUNCATED);
    agora_assert_err(agora_st_parse(data, len - 1, "t", &f, err), AGORA_ETRUNCATED);
    assert_non_null(strstr(err, "truncated"));
    unsigned char *bad = malloc(len);
    memcpy(bad, data, len);
    bad[7] = 0x7f; /* absurd header length */
    agora_assert_err(agora_st_parse(bad, len, "big", &f, err), AGORA_EOVERFLOW);
    memcpy(bad, data, len);
    bad[8] = 'x'; /* broken JSON */
    agora_assert_err(agora_st_parse(bad, len, "json", &f, err), AGORA_EPARSE);
    assert_non_null(strstr(err, "json"));
    memcpy(bad, data, len);
    char *hdr = (char *)bad + 8, *p = strstr(hdr, "\"F32\"");
    memcpy(p, "\"Q32\"", 5);
    agora_assert_err(agora_st_parse(bad, len, "dtype", &f, err), AGORA_EUNSUPPORTED);
    free(bad);
    /* hand-written headers with bad fields */
    const char *cases[] = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",  /* size mismatch */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", /* negative dim */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",  /* reversed */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}",                         /* no offsets */
        "[1,2]",                                                             /* not object */
        "{\"__metadata__\":{\"k\":1}}",                                      /* non-string */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t hl = strlen(cases[i]);
        unsigned char buf[256] = {0};
        buf[0] = (unsigned char)hl;
        memcpy(buf + 8, cases[i], hl);
        agora_assert_err(agora_st_parse(buf, 8 + hl + 8, "case", &f, err), AGORA_EPARSE);
    }
    agora_stream_close(s);
}

static void ckpt_dir_done_marker_and_retention(void **state) {
    (void)state;
    char *root = agora_test_tmpdir();
    char dir[4096], latest[4096];
    int64_t step = -1;
    agora_assert_err(agora_ckpt_dir_latest(root, latest, sizeof latest, &step), AGORA_ENOENT);
    for (int64_t s = 10; s <= 50; s += 10) {
        agora_assert_ok(agora_ckpt_dir_begin(root, s, dir, sizeof dir));
        if (s != 50)
            agora_assert_ok(agora_ckpt_dir_commit(dir));
    }
    /* step 50 has no DONE: the newest complete one is 40 */
    agora_assert_ok(agora_ckpt_dir_latest(root, latest, sizeof latest, &step));
    assert_int_equal(step, 40);
    assert_non_null(strstr(latest, "step_0000000040"));
    agora_assert_ok(agora_ckpt_dir_prune(root, 2));
    struct stat st;
    char p[8192];
    snprintf(p, sizeof p, "%s/step_0000000020", root);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/step_0000000030", root);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/step_0000000050", root); /* newer incomplete: kept */
    assert_int_equal(stat(p, &st), 0);
    agora_test_rmtree(root);
    free(root);
}

static agora_model *tiny_model(uint64_t seed, int32_t layers) {
    agora_model_config c;
    agora_assert_ok(agora_model_config_preset("tiny", &c));
    c.max_seq = 8;
    c.n_layers = layers;
    agora_model *m = NULL;
    agora_assert_ok(agora_model_create(&c, 1, &m));
    agora_model_init(m, seed);
    return m;
}

static void ckpt_round_trips_weights_and_optimizer(void **state) {
    (void)state;
    char *root = agora_test_tmpdir();
    agora_model *a = tiny_model(1, 2), *b = tiny_model(2, 2);
    size_t n = agora_model_n_params(a);
    agora_adamw oa, ob;
    agora_assert_ok(agora_adamw_init(&oa, n));
    agora_assert_ok(agora_adamw_init(&ob, n));
    agora_test_fill_normal(oa.m, n, 3);
    agora_test_fill_normal(oa.v, n, 4);
    oa.t = 17;
    char dir[4096], err[AGORA_ERR_LEN];
    agora_assert_ok(
        agora_ckpt_save(root, 17, a, &oa, "{\"step\": 17}", NULL, 3, dir, sizeof dir, err));
    assert_true(agora_ckpt_dir_is_done(dir));
    agora_assert_ok(agora_ckpt_load_weights(dir, b, err));
    agora_assert_ok(agora_ckpt_load_optim(dir, b, &ob, err));
    assert_memory_equal(agora_model_params(a), agora_model_params(b), n * sizeof(float));
    assert_memory_equal(oa.m, ob.m, n * sizeof(float));
    assert_memory_equal(oa.v, ob.v, n * sizeof(float));
    assert_int_equal(ob.t, 17);
    /* config.json next to the weights describes the model */
    agora_model_config c;
    char p[8192];
    snprintf(p, sizeof p, "%s/config.json", dir);
    agora_assert_ok(agora_model_config_load_json(p, &c, err));
    assert_int_equal(c.n_layers, 2);
    /* a model of another shape gets a clear shape error */
    agora_model *wrong = tiny_model(1, 3);
    agora_assert_err(agora_ckpt_load_weights(dir, wrong, err), AGORA_ENOTFOUND);
    assert_non_null(strstr(err, "model.layers.2"));
    agora_model_destroy(wrong);
    agora_model_config cw;
    agora_assert_ok(agora_model_config_preset("tiny", &cw));
    cw.max_seq = 8;
    cw.n_layers = 2;
    cw.ffn_dim = 256;
    agora_assert_ok(agora_model_create(&cw, 1, &wrong));
    agora_assert_err(agora_ckpt_load_weights(dir, wrong, err), AGORA_ESHAPE);
    assert_non_null(strstr(err, "gate_proj"));
    assert_non_null(strstr(err, "expected [256, 128]"));
    agora_model_destroy(wrong);
    /* a truncated weights file gets a truncation error naming the file */
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    agora_assert_err(agora_ckpt_load_weights(dir, b, err), AGORA_ETRUNCATED);
    assert_non_null(strstr(err, "model.safetensors"));
    agora_adamw_fini(&oa);
    agora_adamw_fini(&ob);
    agora_model_destroy(a);
    agora_model_destroy(b);
    agora_test_rmtree(root);
    free(root);
}

/* Reads a whole file for byte comparisons (the test's buffer; free it). */
static char *slurp(const char *dir, const char *name, size_t *n) {
    char p[8192], err[AGORA_ERR_LEN];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *buf = NULL;
    agora_assert_ok(agora_read_file(p, (size_t)1 << 30, &buf, n, err));
    return buf;
}

/* A snapshot written after the model and optimizer moved on holds exactly what
 * agora_ckpt_save wrote at take time; refilling it reuses it for the next step. */
static void ckpt_snapshot_writes_what_save_wrote_at_take_time(void **state) {
    (void)state;
    char *r1 = agora_test_tmpdir(), *r2 = agora_test_tmpdir();
    agora_model *a = tiny_model(1, 2);
    size_t n = agora_model_n_params(a);
    agora_adamw oa;
    agora_assert_ok(agora_adamw_init(&oa, n));
    agora_test_fill_normal(oa.m, n, 3);
    agora_test_fill_normal(oa.v, n, 4);
    oa.t = 5;
    char d1[4096], d2[4096], err[AGORA_ERR_LEN];
    agora_ckpt_snapshot *snap = NULL;
    for (int64_t step = 5; step <= 6; step++) {
        agora_assert_ok(
            agora_ckpt_save(r1, step, a, &oa, "{\"step\": 5}", NULL, 3, d1, sizeof d1, err));
        agora_assert_ok(
            agora_ckpt_snapshot_take(r2, step, a, &oa, "{\"step\": 5}", NULL, 3, &snap));
        assert_int_equal(agora_ckpt_snapshot_step(snap), step);
        /* training goes on before the write */
        agora_test_fill_normal(agora_model_params(a), n, 10 + (uint64_t)step);
        agora_test_fill_normal(oa.m, n, 20 + (uint64_t)step);
        oa.t++;
        agora_assert_ok(agora_ckpt_snapshot_write(snap, d2, sizeof d2, err));
        assert_true(agora_ckpt_dir_is_done(d2));
        static const char *const files[] = {"model.safetensors", "optim.safetensors", "config.json",
                                            "state.json"};
        for (size_t i = 0; i < 4; i++) {
            size_t n1, n2;
            char *b1 = slurp(d1, files[i], &n1), *b2 = slurp(d2, files[i], &n2);
            assert_int_equal(n1, n2);
            assert_memory_equal(b1, b2, n1);
            agora_free(b1);
            agora_free(b2);
        }
    }
    agora_ckpt_snapshot_free(snap);
    agora_adamw_fini(&oa);
    agora_model_destroy(a);
    agora_test_rmtree(r1);
    agora_test_rmtree(r2);
    free(r1);
    free(r2);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(safetensors_round_trips),
        cmocka_unit_test(safetensors_rejects_truncated_and_corrupt_input),
        cmocka_unit_test(ckpt_dir_done_marker_and_retention),
        cmocka_unit_test(ckpt_round_trips_weights_and_optimizer),
        cmocka_unit_test(ckpt_snapshot_writes_what_save_wrote_at_take_time),
    };
    return agora_test_main(tests, argc, argv);
}
