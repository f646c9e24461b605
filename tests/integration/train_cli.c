/* train_cli.c: `agora train` and `agora generate` as real processes.
 *
 * The resume test trains 12 steps straight, and separately 6 steps, a stop (with a
 * checkpoint, as an interruption leaves it), and a --resume to step 12; the losses of
 * steps 7..12 and the final weights must be identical to the bit.
 */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/stream.h"

static char g_out[65536];

static int agora_run(const char *args) {
    char cmd[20480];
    snprintf(cmd, sizeof cmd, "%.4000s %.16000s 2>&1", agora_test_bin(), args);
    int st = agora_test_run(cmd, g_out, sizeof g_out);
    if (st != 0)
        print_message("command: %s\nexit %d, output:\n%s\n", cmd, st, g_out);
    return st;
}

static void train_args(char *buf, size_t len, const char *run_dir, const char *extra) {
    snprintf(buf, len,
             "train --plain --run-dir %s --set train.text=%s/tests/fixtures/train/overfit.txt "
             "--set train.seq_len=32 --set train.batch_size=4 --set train.steps=12 "
             "--set train.warmup=3 --set train.lr=1e-3 --set train.log_every=1 "
             "--set train.val_every=0 --set train.peak_gflops=100 %s",
             run_dir, agora_test_src(), extra);
}

/* The "loss" value text of step k in metrics.jsonl (last record of that step). */
static bool loss_of(const char *run_dir, int step, char *out, size_t len) {
    char path[4096], err[AGORA_ERR_LEN], key[64];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    char *text = NULL;
    size_t n = 0;
    if (agora_read_file(path, 1 << 24, &text, &n, err) != AGORA_OK)
        return false;
    snprintf(key, sizeof key, "{\"step\":%d,\"loss\":", step);
    bool found = false;
    for (char *p = strstr(text, key); p != NULL; p = strstr(p + 1, key)) {
        const char *v = p + strlen(key);
        size_t l = strcspn(v, ",}");
        snprintf(out, len, "%.*s", (int)l, v);
        found = true;
    }
    agora_free(text);
    return found;
}

static bool same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL, err[AGORA_ERR_LEN];
    size_t nx = 0, ny = 0;
    bool same = agora_read_file(a, 1 << 28, &x, &nx, err) == AGORA_OK &&
                agora_read_file(b, 1 << 28, &y, &ny, err) == AGORA_OK && nx == ny &&
                memcmp(x, y, nx) == 0;
    agora_free(x);
    agora_free(y);
    return same;
}

static void train_cli_resume_is_bit_exact(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char a[4096], b[4096], args[16384];
    snprintf(a, sizeof a, "%s/straight", tmp);
    snprintf(b, sizeof b, "%s/resumed", tmp);
    train_args(args, sizeof args, a, "");
    assert_int_equal(agora_run(args), 0);
    train_args(args, sizeof args, b, "--set train.stop_at=6");
    assert_int_equal(agora_run(args), 0);
    assert_non_null(strstr(g_out, "stopped at step 6"));
    train_args(args, sizeof args, b, "--resume");
    assert_int_equal(agora_run(args), 0);
    for (int s = 1; s <= 12; s++) {
        char la[64], lb[64];
        assert_true(loss_of(a, s, la, sizeof la));
        assert_true(loss_of(b, s, lb, sizeof lb));
        if (strcmp(la, lb) != 0) {
            print_error("step %d: loss %s straight, %s resumed\n", s, la, lb);
            fail();
        }
    }
    char pa[8192], pb[8192];
    snprintf(pa, sizeof pa, "%s/ckpt/step_0000000012/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/ckpt/step_0000000012/model.safetensors", b);
    assert_true(same_file(pa, pb));
    snprintf(pa, sizeof pa, "%s/ckpt/step_0000000012/optim.safetensors", a);
    snprintf(pb, sizeof pb, "%s/ckpt/step_0000000012/optim.safetensors", b);
    assert_true(same_file(pa, pb));
    agora_test_rmtree(tmp);
    free(tmp);
}

static void train_cli_generate_samples_from_checkpoint(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char a[4096], args[16384];
    snprintf(a, sizeof a, "%s/run", tmp);
    train_args(args, sizeof args, a, "--set train.steps=3");
    assert_int_equal(agora_run(args), 0);
    snprintf(args, sizeof args, "generate --ckpt %s --prompt 'We hold' --max-tokens 16 --seed 3",
             a);
    assert_int_equal(agora_run(args), 0);
    assert_true(strncmp(g_out, "We hold", 7) == 0);
    assert_true(strlen(g_out) >= 7 + 16); /* 16 byte tokens, plus the newline */
    char first[256];
    snprintf(first, sizeof first, "%s", g_out);
    assert_int_equal(agora_run(args), 0); /* the same seed samples the same text */
    assert_string_equal(first, g_out);
    snprintf(args, sizeof args, "generate --ckpt %s --top-k -1", a);
    assert_int_equal(agora_run(args), 2);
    agora_test_rmtree(tmp);
    free(tmp);
}

static void train_cli_intellect1_prints_size_only(void **state) {
    (void)state;
    assert_int_equal(agora_run("train --set train.preset=intellect-1 --set train.seq_len=8192 "
                               "--set train.batch_size=1"),
                     0);
    assert_non_null(strstr(g_out, "10211381248 parameters"));
    assert_non_null(strstr(g_out, "not training"));
}

/* AGORA_SGEMM reaches agora train: openblas is applied and named; another value is named in
 * a warning and the default stays. */
static void train_cli_sgemm_env_picks_and_warns(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char a[4096], args[16384];
    snprintf(a, sizeof a, "%s/ob", tmp);
    train_args(args, sizeof args, a, "--set train.steps=2");
    assert_int_equal(setenv("AGORA_SGEMM", "openblas", 1), 0);
    assert_int_equal(agora_run(args), 0);
    assert_non_null(strstr(g_out, "sgemm: openblas\n"));
    snprintf(a, sizeof a, "%s/bogus", tmp);
    train_args(args, sizeof args, a, "--set train.steps=2");
    assert_int_equal(setenv("AGORA_SGEMM", "mkl", 1), 0);
    int st = agora_run(args);
    unsetenv("AGORA_SGEMM");
    assert_int_equal(st, 0);
    assert_non_null(strstr(g_out, "AGORA_SGEMM=mkl is not auto, amx, onednn or openblas"));
#if defined(AGORA_HAVE_DNNL) && defined(AGORA_HAVE_OPENMP)
    /* the default: our AMX kernel where the CPU has it, else oneDNN with OpenBLAS */
    assert_true(strstr(g_out, "sgemm: amx-bf16x6\n") != NULL ||
                strstr(g_out, "sgemm: onednn+openblas\n") != NULL);
#endif
    agora_test_rmtree(tmp);
    free(tmp);
}

static void train_cli_corrupt_checkpoint_fails_clearly(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char a[4096], args[16384], p[8192];
    snprintf(a, sizeof a, "%s/run", tmp);
    train_args(args, sizeof args, a, "--set train.steps=2");
    assert_int_equal(agora_run(args), 0);
    snprintf(p, sizeof p, "%s/ckpt/step_0000000002/model.safetensors", a);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size - 100), 0);
    snprintf(args, sizeof args, "generate --ckpt %s --max-tokens 4", a);
    assert_int_equal(agora_run(args), 1);
    assert_non_null(strstr(g_out, "truncated"));
    /* resuming from it fails the same way instead of silently starting over */
    train_args(args, sizeof args, a, "--resume");
    assert_int_equal(agora_run(args), 1);
    assert_non_null(strstr(g_out, "model.safetensors"));
    /* A state.json with numbers JSON allows but a cursor cannot hold: a named error each. */
    char b[4096], err[AGORA_ERR_LEN];
    snprintf(b, sizeof b, "%s/run2", tmp);
    train_args(args, sizeof args, b, "--set train.steps=2");
    assert_int_equal(agora_run(args), 0);
    snprintf(p, sizeof p, "%s/ckpt/step_0000000002/state.json", b);
    char *good = NULL;
    size_t glen = 0;
    agora_assert_ok(agora_read_file(p, 1 << 20, &good, &glen, err));
    static const char *const field[][2] = {{"\"step\":", "1e300"},
                                           {"\"step\":", "-2"},
                                           {"\"tokens\":", "2.5"},
                                           {"\"epoch\":", "\"-5\""},
                                           {"\"n_workers\":", "5000000000"}};
    for (size_t i = 0; i < sizeof field / sizeof *field; i++) {
        const char *at = strstr(good, field[i][0]);
        assert_non_null(at);
        size_t head = (size_t)(at - good) + strlen(field[i][0]);
        size_t tail = head + strcspn(good + head, ",}");
        char doc[8192];
        int n = snprintf(doc, sizeof doc, "%.*s%s%s", (int)head, good, field[i][1], good + tail);
        agora_assert_ok(agora_write_file_atomic(p, doc, (size_t)n, err));
        train_args(args, sizeof args, b, "--resume --set train.steps=3");
        if (agora_run(args) != 1 || strstr(g_out, "state.json") == NULL)
            fail_msg("state.json with %s%s: exit or message wrong:\n%s", field[i][0], field[i][1],
                     g_out);
    }
    agora_assert_ok(agora_write_file_atomic(p, good, glen, err));
    train_args(args, sizeof args, b, "--resume --set train.steps=3");
    assert_int_equal(agora_run(args), 0);
    agora_free(good);
    agora_test_rmtree(tmp);
    free(tmp);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_cli_resume_is_bit_exact),
        cmocka_unit_test(train_cli_generate_samples_from_checkpoint),
        cmocka_unit_test(train_cli_intellect1_prints_size_only),
        cmocka_unit_test(train_cli_corrupt_checkpoint_fails_clearly),
        cmocka_unit_test(train_cli_sgemm_env_picks_and_warns),
    };
    return agora_test_main(tests, argc, argv);
}
