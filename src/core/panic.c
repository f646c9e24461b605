/* panic.c: the end of the road for our own bugs (AGORA_ASSERT). Never for outside faults. */
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agora/err.h"

static agora_panic_hook g_hook;
static void *g_hook_user;

void agora_set_panic_hook(agora_panic_hook hook, void *user) {
    g_hook = hook;
    g_hook_user = user;
}

void agora_panic(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    int off = snprintf(msg, sizeof msg, "agora: panic at %s:%d: ", file, line);
    if (off < 0)
        off = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof msg - (size_t)off, fmt, ap);
    va_end(ap);
    if (g_hook != NULL)
        g_hook(msg, g_hook_user);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    /* glibc's backtrace; symbol names need -rdynamic, addresses work with addr2line. */
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    abort();
}
