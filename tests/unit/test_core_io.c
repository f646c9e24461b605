/* test_core_io.c: atomic writes survive a crash between write and rename; I/O failures
 * and allocation failures leave the old file and no leaks; metrics and JSON output. */
#include "agora_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agora/alloc.h"
#include "agora/config.h"
#include "agora/json.h"
#include "agora/metrics.h"
#include "agora/progress.h"
#include "agora/stream.h"
#include "agora/svg.h"
#include "agora/strbuf.h"

static char *slurp(const char *path) {
    char *buf = NULL;
    size_t len = 0;
    if (agora_read_file(path, 1 << 20, &buf, &len, NULL) != AGORA_OK)
        return NULL;
    return buf;
}

static void io_atomic_write_survives_crash_before_rename(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    agora_assert_ok(agora_write_file_atomic(path, "old", 3, NULL));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child writes the new content, then dies before commit. */
        agora_stream *s = NULL;
        if (agora_stream_open_atomic(path, &s) != AGORA_OK)
            _exit(3);
        agora_stream_write(s, "new-but-never-committed", 23);
        fflush(NULL);
        _exit(0); /* no commit, no close: as if killed */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *got = slurp(path);
    assert_non_null(got);
    assert_string_equal(got, "old");
    agora_free(got);
    /* The leftover temp file does not block the next write. */
    agora_assert_ok(agora_write_file_atomic(path, "newer", 5, NULL));
    got = slurp(path);
    assert_string_equal(got, "newer");
    agora_free(got);
    struct stat sb;
    assert_true(stat(tmp, &sb) != 0); /* the temp name was renamed away */
    agora_test_rmtree(dir);
    free(dir);
}

static void io_failure_at_each_step_keeps_old_file(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    agora_assert_ok(agora_write_file_atomic(path, "v1", 2, NULL));
    int failures = 0;
    for (int n = 0; n < 10; n++) {
        agora_io_fail_after(n);
        char err[AGORA_ERR_LEN] = "";
        agora_err rc = agora_write_file_atomic(path, "v2", 2, err);
        agora_io_fail_after(-1);
        char *got = slurp(path);
        if (rc == AGORA_OK) {
            assert_string_equal(got, "v2");
            agora_free(got);
            break;
        }
        failures++;
        assert_int_equal(rc, AGORA_EIO);
        assert_non_null(strstr(err, "atomic write failed"));
        assert_string_equal(got, "v1");
        agora_free(got);
    }
    assert_true(failures >= 3); /* write, fsync and rename each failed once */
    agora_test_rmtree(dir);
    free(dir);
}

typedef struct cp {
    int64_t a;
    double b;
} cp;
static const agora_cfg_entry k_cp[] = {
    AGORA_CFG_INT(cp, "x.a", a, 1, 0, 100, "a"),
    AGORA_CFG_DBL(cp, "y.b", b, 2, 0, 100, "b"),
};

static void io_oom_at_each_allocation_is_clean(void **state) {
    (void)state;
    cp p;
    agora_cfg_table t = {k_cp, 2, &p};
    agora_cfg_set_defaults(&t, 1);
    int ooms = 0;
    for (int64_t n = 0; n < 100; n++) {
        char *text = NULL;
        agora_alloc_fail_after(n);
        agora_err rc = agora_cfg_format(&t, 1, &text);
        agora_alloc_fail_after(-1);
        if (rc == AGORA_OK) {
            assert_non_null(strstr(text, "[y]"));
            agora_free(text);
            break;
        }
        assert_int_equal(rc, AGORA_ENOMEM);
        ooms++;
    }
    assert_true(ooms >= 1);
}

/* agora_json_uint takes exact integers in [0, max] and refuses the rest without a cast. */
static void io_json_uint_takes_exact_integers_only(void **state) {
    (void)state;
    static const struct {
        const char *text;
        uint64_t max;
        int ok;
        uint64_t v;
    } cases[] = {
        {"0", 10, 1, 0},
        {"10", 10, 1, 10},
        {"11", 10, 0, 0},
        {"9007199254740992", UINT64_MAX, 1, 9007199254740992ull},
        {"9007199254740993", UINT64_MAX, 1, 9007199254740992ull}, /* parses to 2^53 */
        {"18446744073709551615", UINT64_MAX, 0, 0},
        {"1e300", UINT64_MAX, 0, 0},
        {"1e999", UINT64_MAX, 0, 0},
        {"-1", UINT64_MAX, 0, 0},
        {"-0", UINT64_MAX, 1, 0},
        {"2.5", UINT64_MAX, 0, 0},
        {"\"7\"", UINT64_MAX, 0, 0},
        {"null", UINT64_MAX, 0, 0},
    };
    char err[AGORA_ERR_LEN];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *j = NULL;
        agora_assert_ok(agora_json_parse(cases[i].text, strlen(cases[i].text), "t", &j, err));
        uint64_t v = 12345;
        bool ok = agora_json_uint(j, cases[i].max, &v);
        if (ok != (bool)cases[i].ok || (ok && v != cases[i].v))
            fail_msg("%s: got %d %llu", cases[i].text, ok, (unsigned long long)v);
        if (!ok)
            assert_int_equal(v, 12345); /* untouched on refusal */
        agora_json_free(j);
    }
    assert_false(agora_json_uint(NULL, 10, &(uint64_t){0}));
}

static void io_json_writer_output_is_exact(void **state) {
    (void)state;
    agora_jw w;
    agora_jw_init(&w);
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "step");
    agora_jw_i64(&w, 12);
    agora_jw_key(&w, "loss");
    agora_jw_f32(&w, 3.25);
    agora_jw_key(&w, "bad");
    agora_jw_f64(&w, 0.0 / 0.0);
    agora_jw_key(&w, "tags");
    agora_jw_arr_begin(&w);
    agora_jw_str(&w, "a\"b\n");
    agora_jw_bool(&w, true);
    agora_jw_arr_end(&w);
    agora_jw_obj_end(&w);
    agora_assert_ok(agora_jw_status(&w));
    assert_string_equal(w.buf,
                        "{\"step\":12,\"loss\":3.25,\"bad\":null,\"tags\":[\"a\\\"b\\n\",true]}");
    struct cJSON *j = NULL;
    char err[AGORA_ERR_LEN];
    agora_assert_ok(agora_json_parse(w.buf, w.len, "mem", &j, err));
    agora_json_free(j);
    agora_jw_fini(&w);
    agora_assert_err(agora_json_parse("{\n \"a\": ]", 9, "x.json", &j, err), AGORA_EPARSE);
    assert_string_equal(err, "x.json: invalid JSON at line 2, column 7");
}

static void io_metrics_write_jsonl_and_csv(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    agora_metrics *m = NULL;
    agora_assert_ok(agora_metrics_open(dir, NULL, &m));
    for (int i = 0; i < 2; i++) {
        agora_metrics_begin(m);
        agora_metrics_i64(m, "step", i);
        agora_metrics_f64(m, "loss", 1.5 - i);
        agora_metrics_str(m, "phase", "a,\"b\"");
        agora_assert_ok(agora_metrics_end(m));
    }
    agora_metrics_close(m);
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *j = slurp(path);
    assert_string_equal(j, "{\"step\":0,\"loss\":1.5,\"phase\":\"a,\\\"b\\\"\"}\n"
                           "{\"step\":1,\"loss\":0.5,\"phase\":\"a,\\\"b\\\"\"}\n");
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    char *c = slurp(path);
    assert_string_equal(c, "step,loss,phase\n0,1.5,\"a,\"\"b\"\"\"\n1,0.5,\"a,\"\"b\"\"\"\n");
    agora_free(c);
    /* A resumed run appends under the existing header, in its column order; a key the
     * file lacks becomes a new last column, empty on the earlier rows. */
    agora_assert_ok(agora_metrics_open(dir, NULL, &m));
    agora_metrics_begin(m);
    agora_metrics_f64(m, "loss", 0.25);
    agora_metrics_i64(m, "step", 2);
    agora_metrics_i64(m, "extra", 7);
    agora_assert_ok(agora_metrics_end(m));
    agora_metrics_close(m);
    c = slurp(path);
    assert_string_equal(c, "step,loss,phase,extra\n0,1.5,\"a,\"\"b\"\"\",\n1,0.5,\"a,\"\"b\"\"\",\n"
                           "2,0.25,,7\n");
    /* A failed rewrite returns the error and leaves the file as it was, and the columns
     * too: the next record, without the new key, lands under the same header. */
    agora_assert_ok(agora_metrics_open(dir, NULL, &m));
    agora_metrics_begin(m);
    agora_metrics_i64(m, "another", 1);
    agora_io_fail_after(0);
    agora_assert_err(agora_metrics_end(m), AGORA_EIO);
    agora_io_fail_after(-1);
    char *same = slurp(path);
    assert_string_equal(same, c);
    agora_free(same);
    agora_metrics_begin(m);
    agora_metrics_i64(m, "step", 3);
    agora_assert_ok(agora_metrics_end(m));
    agora_metrics_close(m);
    agora_free(c);
    c = slurp(path);
    assert_string_equal(c, "step,loss,phase,extra\n0,1.5,\"a,\"\"b\"\"\",\n1,0.5,\"a,\"\"b\"\"\",\n"
                           "2,0.25,,7\n3,,,\n");
    agora_free(j);
    agora_free(c);
    agora_test_rmtree(dir);
    free(dir);
}

/* The text buffer grows past its first block, hands its text over, and turns a failed
 * allocation into AGORA_ENOMEM at the end without writing a partial file. */
static void io_sbuf_grows_and_reports_oom(void **state) {
    (void)state;
    agora_sbuf b = {0};
    for (int i = 0; i < 500; i++)
        agora_sbuf_printf(&b, "%04d,", i);
    assert_int_equal(b.len, 2500);
    char *t = NULL;
    agora_assert_ok(agora_sbuf_take(&b, &t));
    assert_int_equal(strncmp(t, "0000,0001,", 10), 0);
    assert_int_equal(strlen(t), 2500);
    agora_free(t);
    assert_null(b.p);
    char *dir = agora_test_tmpdir();
    char path[4200], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/x.txt", dir);
    agora_sbuf_printf(&b, "small");
    agora_alloc_fail_after(0);
    for (int i = 0; i < 300; i++)
        agora_sbuf_printf(&b, "%04d,", i);
    agora_alloc_fail_after(-1);
    assert_true(b.oom);
    assert_int_equal(agora_sbuf_write(&b, path, err), AGORA_ENOMEM);
    assert_int_not_equal(access(path, F_OK), 0);
    agora_test_rmtree(dir);
    free(dir);
}

/* A line chart: one polyline per unbroken run of points, a legend, escaped text, marks. */
static void io_svg_line_chart(void **state) {
    (void)state;
    char *dir = agora_test_tmpdir();
    char path[4200], err[AGORA_ERR_LEN];
    snprintf(path, sizeof path, "%s/c.svg", dir);
    const double x[4] = {1, 2, 3, 4}, y1[4] = {5, 4, NAN, 3}, y2[4] = {6, 5, 4, 3.5};
    agora_svg_series s[2] = {{.name = "node <0>", .x = x, .y = y1, .n = 4},
                             {.name = "node 1", .x = x, .y = y2, .n = 4}};
    agora_svg_mark mk[1] = {{2.5, "kill & join"}};
    agora_assert_ok(agora_svg_line_chart(path, "loss", "outer step", "loss", s, 2, mk, 1, err));
    char *t = slurp(path);
    int polylines = 0;
    for (const char *q = t; (q = strstr(q, "<polyline")) != NULL; q++)
        polylines++;
    assert_int_equal(polylines, 3); /* the NaN splits the first series */
    assert_non_null(strstr(t, "node &lt;0&gt;"));
    assert_non_null(strstr(t, "kill &amp; join"));
    assert_non_null(strstr(t, "</svg>"));
    agora_free(t);
    agora_test_rmtree(dir);
    free(dir);
}

static void io_progress_plain_mode_prints_deciles(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    agora_progress p;
    agora_progress_init(&p, "steps", 100, f, AGORA_PROGRESS_PLAIN);
    assert_int_equal(p.mode, AGORA_PROGRESS_PLAIN);
    for (uint64_t i = 1; i <= 100; i++)
        agora_progress_update(&p, i, "loss %.1f", 5.0 - (double)i / 50);
    agora_progress_finish(&p, NULL);
    fclose(f);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 11);    /* 10%, 20%, ..., 100%, then the final line */
    assert_null(strchr(buf, '\r')); /* no terminal control in plain mode */
    assert_null(strchr(buf, '\033'));
    assert_non_null(strstr(buf, "steps 50% 50/100"));
    assert_non_null(strstr(buf, "loss 4.0"));
    assert_non_null(strstr(buf, "steps done: 100 in "));
    free(buf);
}

static void io_progress_auto_on_a_file_is_plain(void **state) {
    (void)state;
    FILE *f = tmpfile();
    agora_progress p;
    agora_progress_init(&p, "x", 10, f, AGORA_PROGRESS_AUTO);
    assert_int_equal(p.mode, AGORA_PROGRESS_PLAIN);
    fclose(f);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(io_atomic_write_survives_crash_before_rename),
        cmocka_unit_test(io_failure_at_each_step_keeps_old_file),
        cmocka_unit_test(io_oom_at_each_allocation_is_clean),
        cmocka_unit_test(io_json_writer_output_is_exact),
        cmocka_unit_test(io_json_uint_takes_exact_integers_only),
        cmocka_unit_test(io_metrics_write_jsonl_and_csv),
        cmocka_unit_test(io_sbuf_grows_and_reports_oom),
        cmocka_unit_test(io_svg_line_chart),
        cmocka_unit_test(io_progress_plain_mode_prints_deciles),
        cmocka_unit_test(io_progress_auto_on_a_file_is_plain),
    };
    return agora_test_main(tests, argc, argv);
}
