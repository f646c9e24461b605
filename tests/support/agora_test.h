/* agora_test.h: cmocka plus agora's assertion helpers and test main.
 *
 * One binary per module; each case runs as its own ctest entry (argv[1] is the case
 * name). agora_test_main fails when the name matches no case, so a renamed test cannot
 * silently drop out of ctest.
 */
#ifndef AGORA_TEST_H
#define AGORA_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include "agora/err.h"

int agora_test_main_(const struct CMUnitTest *tests, size_t n, int argc, char **argv);
#define agora_test_main(tests, argc, argv)                                                         \
    agora_test_main_((tests), sizeof(tests) / sizeof((tests)[0]), (argc), (argv))

void agora_test_fail_err_(agora_err got, agora_err want, const char *expr, const char *file,
                          int line);
void agora_test_fail_near_(double a, double b, double tol, const char *ea, const char *eb,
                           const char *file, int line);
bool agora_test_tensor_near_(const float *a, const float *b, size_t n, double atol, double rtol,
                             const char *file, int line);

#define agora_assert_ok(expr)                                                                      \
    do {                                                                                           \
        agora_err agora__got = (expr);                                                             \
        if (agora__got != AGORA_OK)                                                                \
            agora_test_fail_err_(agora__got, AGORA_OK, #expr, __FILE__, __LINE__);                 \
    } while (0)

#define agora_assert_err(expr, want)                                                               \
    do {                                                                                           \
        agora_err agora__got = (expr);                                                             \
        if (agora__got != (want))                                                                  \
            agora_test_fail_err_(agora__got, (want), #expr, __FILE__, __LINE__);                   \
    } while (0)

#define agora_assert_near(a, b, tol)                                                               \
    do {                                                                                           \
        double agora__a = (double)(a), agora__b = (double)(b), agora__t = (double)(tol);           \
        if (!(agora__a - agora__b <= agora__t && agora__b - agora__a <= agora__t))                 \
            agora_test_fail_near_(agora__a, agora__b, agora__t, #a, #b, __FILE__, __LINE__);       \
    } while (0)

#define agora_assert_tensor_near(a, b, n, atol, rtol)                                              \
    assert_true(agora_test_tensor_near_((a), (b), (n), (atol), (rtol), __FILE__, __LINE__))

/* Fills x with N(0,1) from the test stream `seed`. */
void agora_test_fill_normal(float *x, size_t n, uint64_t seed);
/* Makes a fresh temporary directory (mkdtemp under $TMPDIR or /tmp); returns a static-
 * lifetime copy of the path that the caller frees with free(). */
char *agora_test_tmpdir(void);
/* Removes a directory tree (rm -rf); used on success only. */
void agora_test_rmtree(const char *path);
/* Runs a shell command, captures combined stdout+stderr (up to cap-1 bytes) and returns
 * the exit status (or -1). */
int agora_test_run(const char *cmd, char *out, size_t cap);
/* Path of the agora binary ($AGORA_BIN, set by ctest). */
const char *agora_test_bin(void);
/* Path of the source tree ($AGORA_SRC, set by ctest). */
const char *agora_test_src(void);

#endif /* AGORA_TEST_H */
