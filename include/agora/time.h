/* time.h: monotonic clocks and absolute deadlines.
 *
 * Every blocking call in agora takes an absolute deadline in nanoseconds on the
 * monotonic clock (never the wall clock, which can jump).
 */
#ifndef AGORA_TIME_H
#define AGORA_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "agora/agora.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A deadline that never passes. Use only where a caller above holds a real one. */
#define AGORA_DEADLINE_NEVER INT64_MAX

/* agora_now_ns returns CLOCK_MONOTONIC in nanoseconds. */
AGORA_API int64_t agora_now_ns(void);
/* agora_deadline_in_ms returns now + ms, saturating at AGORA_DEADLINE_NEVER. */
AGORA_API int64_t agora_deadline_in_ms(int64_t ms);
AGORA_API bool agora_deadline_passed(int64_t deadline_ns);
/* agora_deadline_left_ms returns the whole milliseconds left (0 if passed), capped at
 * INT32_MAX so it fits poll(2)'s timeout. */
AGORA_API int32_t agora_deadline_left_ms(int64_t deadline_ns);
/* agora_sleep_ns sleeps for ns (restarting after signals). For pacing and back-off only;
 * never use it to wait for a condition. */
AGORA_API void agora_sleep_ns(int64_t ns);
/* agora_wall_iso8601 writes the UTC wall time, e.g. "2026-11-27T05:50:06Z". */
AGORA_API void agora_wall_iso8601(char *buf, unsigned long len);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_TIME_H */
