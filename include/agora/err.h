/* err.h: the error enum, its names and messages, and the propagation macros.
 *
 * The list below is the single source: the enum, agora_err_name() and agora_err_str()
 * are all generated from it, so a code can never lack its message.
 * Values are stable: append new codes at the end, never renumber.
 */
#ifndef AGORA_ERR_H
#define AGORA_ERR_H

#include "agora/agora.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, "message") */
#define AGORA_ERR_LIST(X)                                                                          \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, 1, "invalid argument")                                                               \
    X(ENOMEM, 2, "out of memory")                                                                  \
    X(EIO, 3, "input/output error")                                                                \
    X(ENOENT, 4, "no such file or directory")                                                      \
    X(EEXIST, 5, "already exists")                                                                 \
    X(EPARSE, 6, "malformed input")                                                                \
    X(ERANGE, 7, "value out of range")                                                             \
    X(EUNKNOWN_KEY, 8, "unknown key")                                                              \
    X(EPROTO, 9, "protocol violation")                                                             \
    X(ECHECKSUM, 10, "checksum mismatch")                                                          \
    X(EVERSION, 11, "unsupported version")                                                         \
    X(ETIMEDOUT, 12, "deadline passed")                                                            \
    X(EABORTED, 13, "aborted")                                                                     \
    X(EPEER_LOST, 14, "peer lost")                                                                 \
    X(ECONNREFUSED, 15, "connection refused")                                                      \
    X(ECLOSED, 16, "connection closed")                                                            \
    X(EAUTH, 17, "authentication failed")                                                          \
    X(EOVERFLOW, 18, "size limit exceeded")                                                        \
    X(EUNSUPPORTED, 19, "not supported")                                                           \
    X(ESHAPE, 20, "shape mismatch")                                                                \
    X(ESTATE, 21, "operation not valid in the current state")                                      \
    X(EAGAIN, 22, "try again")                                                                     \
    X(EINPROGRESS, 23, "operation in progress")                                                    \
    X(ENOTFOUND, 24, "not found")                                                                  \
    X(ETRUNCATED, 25, "truncated input")                                                           \
    X(EHASH, 26, "state hash mismatch")                                                            \
    X(EUSAGE, 27, "bad command-line usage")

typedef enum agora_err {
#define AGORA__ERR_ENUM(name, val, msg) AGORA_##name = (val),
    AGORA_ERR_LIST(AGORA__ERR_ENUM)
#undef AGORA__ERR_ENUM
        AGORA__ERR_COUNT
} agora_err;

/* Size of the caller-provided buffers that low-level helpers fill with detail text. */
#define AGORA_ERR_LEN 512

/* agora_err_name returns the symbolic name, e.g. "AGORA_ETIMEDOUT". Never NULL; unknown
 * values give "AGORA_E???". */
AGORA_API const char *agora_err_name(agora_err e);
/* agora_err_str returns a short lower-case message, e.g. "deadline passed". Never NULL. */
AGORA_API const char *agora_err_str(agora_err e);

/* agora_panic formats a message, runs the panic hook if set, prints a backtrace to stderr
 * and aborts. It is for our own bugs only: outside faults are returned as agora_err. */
AGORA_API AGORA_NORETURN void agora_panic(const char *file, int line, const char *fmt, ...)
    AGORA_PRINTF(3, 4);
typedef void (*agora_panic_hook)(const char *msg, void *user);
AGORA_API void agora_set_panic_hook(agora_panic_hook hook, void *user);

/* Logs "-> NAME at file:line" at DEBUG level: the breadcrumb left by AGORA_TRY. */
AGORA_API void agora_err_trace(agora_err e, const char *file, int line);

/* AGORA_ASSERT stays on under NDEBUG. */
#define AGORA_ASSERT(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            agora_panic(__FILE__, __LINE__, "assertion failed: %s", #cond);                        \
    } while (0)

/* AGORA_TRY returns the error of expr from the enclosing function. */
#define AGORA_TRY(expr)                                                                            \
    do {                                                                                           \
        agora_err agora__e = (expr);                                                               \
        if (agora__e != AGORA_OK) {                                                                \
            agora_err_trace(agora__e, __FILE__, __LINE__);                                         \
            return agora__e;                                                                       \
        }                                                                                          \
    } while (0)

/* AGORA_TRY_GOTO stores the error of expr in rc and jumps to label. */
#define AGORA_TRY_GOTO(expr, rc, label)                                                            \
    do {                                                                                           \
        (rc) = (expr);                                                                             \
        if ((rc) != AGORA_OK) {                                                                    \
            agora_err_trace((rc), __FILE__, __LINE__);                                             \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* AGORA_ERR_H */
