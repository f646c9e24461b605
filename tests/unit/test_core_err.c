/* test_core_err.c: error names and messages come from one list and cover every code. */
#include "agora_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void err_every_code_has_name_and_message(void **state) {
    (void)state;
    for (int e = 0; e < AGORA__ERR_COUNT; e++) {
        const char *n = agora_err_name((agora_err)e);
        const char *s = agora_err_str((agora_err)e);
        assert_non_null(n);
        assert_non_null(s);
        assert_true(strncmp(n, "AGORA_", 6) == 0);
        assert_string_not_equal(n, "AGORA_E???");
        assert_true(strlen(s) > 0);
    }
}

static void err_known_strings(void **state) {
    (void)state;
    assert_string_equal(agora_err_name(AGORA_OK), "AGORA_OK");
    assert_string_equal(agora_err_name(AGORA_ETIMEDOUT), "AGORA_ETIMEDOUT");
    assert_string_equal(agora_err_str(AGORA_ETIMEDOUT), "deadline passed");
    assert_string_equal(agora_err_name(AGORA_EPEER_LOST), "AGORA_EPEER_LOST");
    assert_string_equal(agora_err_name((agora_err)9999), "AGORA_E???");
    assert_string_equal(agora_err_str((agora_err)9999), "unknown error");
}

static agora_err fails_with(agora_err e) {
    return e;
}
static agora_err try_chain(agora_err e, int *reached) {
    AGORA_TRY(fails_with(e));
    *reached = 1;
    return AGORA_OK;
}

static void err_try_propagates_first_error(void **state) {
    (void)state;
    int reached = 0;
    agora_assert_err(try_chain(AGORA_EIO, &reached), AGORA_EIO);
    assert_int_equal(reached, 0);
    agora_assert_ok(try_chain(AGORA_OK, &reached));
    assert_int_equal(reached, 1);
}

static void hook(const char *msg, void *user) {
    /* Runs in the child just before abort(): report the message through a pipe. */
    int fd = *(int *)user;
    ssize_t w = write(fd, msg, strlen(msg));
    (void)w;
}

static void err_assert_panics_with_message_and_hook(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        agora_set_panic_hook(hook, &fds[1]);
        int broken = 0;
        freopen("/dev/null", "w", stderr);
        AGORA_ASSERT(broken == 1);
        _exit(0); /* not reached */
    }
    close(fds[1]);
    char buf[512] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "assertion failed: broken == 1"));
    assert_non_null(strstr(buf, "test_core_err.c"));
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(err_every_code_has_name_and_message),
        cmocka_unit_test(err_known_strings),
        cmocka_unit_test(err_try_propagates_first_error),
        cmocka_unit_test(err_assert_panics_with_message_and_hook),
    };
    return agora_test_main(tests, argc, argv);
}
