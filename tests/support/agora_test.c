/* agora_test.c: helpers behind agora_test.h. */
#include "agora_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "agora/rng.h"

int agora_test_main_(const struct CMUnitTest *tests, size_t n, int argc, char **argv) {
    if (argc < 2)
        return _cmocka_run_group_tests("all", tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        if (strcmp(tests[i].name, argv[1]) == 0)
            return _cmocka_run_group_tests(argv[1], &tests[i], 1, NULL, NULL);
    fprintf(stderr, "no test case named '%s'\n", argv[1]);
    return 1;
}

void agora_test_fail_err_(agora_err got, agora_err want, const char *expr, const char *file,
                          int line) {
    fail_msg("%s:%d: %s returned %s (%s), expected %s", file, line, expr, agora_err_name(got),
             agora_err_str(got), agora_err_name(want));
}

void agora_test_fail_near_(double a, double b, double tol, const char *ea, const char *eb,
                           const char *file, int line) {
    fail_msg("%s:%d: %s = %.9g and %s = %.9g differ by %.3g > %.3g", file, line, ea, a, eb, b,
             fabs(a - b), tol);
}

bool agora_test_tensor_near_(const float *a, const float *b, size_t n, double atol, double rtol,
                             const char *file, int line) {
    size_t first_bad = n, worst = 0;
    double worst_d = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst_d || isnan(d)) {
            worst_d = isnan(d) ? INFINITY : d;
            worst = i;
        }
        if (!(d <= atol + rtol * fabs((double)b[i])) && first_bad == n)
            first_bad = i;
    }
    if (first_bad == n)
        return true;
    print_error("%s:%d: tensors differ: first bad index %zu (%.9g vs %.9g), largest "
                "difference %.3g at %zu, atol %.3g rtol %.3g\n",
                file, line, first_bad, (double)a[first_bad], (double)b[first_bad], worst_d, worst,
                atol, rtol);
    return false;
}

void agora_test_fill_normal(float *x, size_t n, uint64_t seed) {
    agora_rng r;
    agora_rng_seed(&r, seed, AGORA_RNG_STREAM_TEST, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)agora_rng_normal(&r);
}

char *agora_test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/agora-test-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

void agora_test_rmtree(const char *path) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

int agora_test_run(const char *cmd, char *out, size_t cap) {
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (p == NULL)
        return -1;
    size_t len = 0;
    if (out != NULL && cap > 0) {
        size_t got;
        while (len + 1 < cap && (got = fread(out + len, 1, cap - 1 - len, p)) > 0)
            len += got;
        out[len] = '\0';
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *agora_test_bin(void) {
    const char *b = getenv("AGORA_BIN");
    return b ? b : "./agora";
}

const char *agora_test_src(void) {
    const char *s = getenv("AGORA_SRC");
    return s ? s : ".";
}
