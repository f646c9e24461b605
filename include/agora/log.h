/* log.h: leveled, subsystem-filtered logging through a replaceable sink.
 *
 * The macros check the level and the subsystem mask before evaluating their arguments,
 * so a disabled DEBUG line inside a hot loop costs one load and a branch.
 * Configure with AGORA_LOG=error|warn|info|debug|trace and AGORA_LOG_SUBSYS=comm,train
 * (read once by agora_log_init_from_env, which the CLI calls at startup).
 * Metrics do not go here: they go to metrics.jsonl (metrics.h).
 */
#ifndef AGORA_LOG_H
#define AGORA_LOG_H

#include <stdint.h>

#include "agora/agora.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum agora_log_level {
    AGORA_LOG_LEVEL_ERROR = 0,
    AGORA_LOG_LEVEL_WARN = 1,
    AGORA_LOG_LEVEL_INFO = 2,
    AGORA_LOG_LEVEL_DEBUG = 3,
    AGORA_LOG_LEVEL_TRACE = 4
} agora_log_level;

/* Subsystems are bits of a mask. */
typedef enum agora_log_sub {
    AGORA_SUB_CORE = 1u << 0,
    AGORA_SUB_CONFIG = 1u << 1,
    AGORA_SUB_COMM = 1u << 2,
    AGORA_SUB_COORD = 1u << 3,
    AGORA_SUB_TRAIN = 1u << 4,
    AGORA_SUB_CKPT = 1u << 5,
    AGORA_SUB_DATA = 1u << 6,
    AGORA_SUB_SIM = 1u << 7,
    AGORA_SUB_CLI = 1u << 8,
    AGORA_SUB_TEST = 1u << 9
} agora_log_sub;

#define AGORA_SUB_ALL 0xffffffffu

/* A sink receives one finished line (no trailing newline). */
typedef void (*agora_log_sink)(agora_log_level level, uint32_t sub, const char *line, void *user);

/* The current level and mask; read by the macros. Not for direct writes. */
AGORA_API extern int agora__log_level;
AGORA_API extern uint32_t agora__log_mask;

AGORA_API void agora_log_set_level(agora_log_level level);
AGORA_API void agora_log_set_subsys(uint32_t mask);
/* agora_log_set_sink replaces the output; NULL restores the default (stderr). */
AGORA_API void agora_log_set_sink(agora_log_sink sink, void *user);
/* agora_log_set_role sets the tag printed on each line, e.g. "node-02" or "master". */
AGORA_API void agora_log_set_role(const char *role);
/* agora_log_init_from_env reads AGORA_LOG and AGORA_LOG_SUBSYS. Returns 0, or -1 when a
 * value is not understood (the defaults then stay and a WARN line says so). */
AGORA_API int agora_log_init_from_env(void);
/* agora_log_parse_level maps "debug" etc. to a level; -1 if unknown. */
AGORA_API int agora_log_parse_level(const char *s);
AGORA_API const char *agora_log_sub_name(uint32_t sub);

AGORA_API void agora_log_write(agora_log_level level, uint32_t sub, const char *fmt, ...)
    AGORA_PRINTF(3, 4);

#define AGORA_LOG_ENABLED(level, sub)                                                              \
    ((int)(level) <= agora__log_level && ((uint32_t)(sub)&agora__log_mask) != 0)

#define AGORA_LOG_AT(level, sub, ...)                                                              \
    do {                                                                                           \
        if (AGORA_LOG_ENABLED(level, sub))                                                         \
            agora_log_write(level, (uint32_t)(sub), __VA_ARGS__);                                  \
    } while (0)

#define AGORA_LOG_ERROR(sub, ...) AGORA_LOG_AT(AGORA_LOG_LEVEL_ERROR, sub, __VA_ARGS__)
#define AGORA_LOG_WARN(sub, ...) AGORA_LOG_AT(AGORA_LOG_LEVEL_WARN, sub, __VA_ARGS__)
#define AGORA_LOG_INFO(sub, ...) AGORA_LOG_AT(AGORA_LOG_LEVEL_INFO, sub, __VA_ARGS__)
#define AGORA_LOG_DEBUG(sub, ...) AGORA_LOG_AT(AGORA_LOG_LEVEL_DEBUG, sub, __VA_ARGS__)
#define AGORA_LOG_TRACE(sub, ...) AGORA_LOG_AT(AGORA_LOG_LEVEL_TRACE, sub, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* AGORA_LOG_H */
