/* progress.h: a TTY-aware progress bar.
 *
 * On a terminal it redraws one line in place (at most 10 times a second):
 *   train  [#########-----------]  45%  450/1000  12.3 it/s  ETA 0:44  loss 3.21
 * When the output is not a terminal (a log file, CI) it prints plain lines instead: one
 * at each 10% boundary and at most one per `plain_interval_s` otherwise, plus a final
 * line, so logs stay readable and short.
 */
#ifndef AGORA_PROGRESS_H
#define AGORA_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum agora_progress_mode {
    AGORA_PROGRESS_AUTO = 0, /* TTY if isatty(out), else PLAIN */
    AGORA_PROGRESS_TTY = 1,
    AGORA_PROGRESS_PLAIN = 2,
    AGORA_PROGRESS_OFF = 3
} agora_progress_mode;

typedef struct agora_progress {
    FILE *out;
    char label[32];
    uint64_t total, done;
    agora_progress_mode mode; /* resolved: TTY, PLAIN or OFF */
    int64_t t_start, t_last_draw;
    int last_decile;         /* PLAIN: last 10% boundary printed */
    double plain_interval_s; /* PLAIN: time between lines inside a decile (default 30) */
    char status[160];
} agora_progress;

/* agora_progress_mode_parse reads "auto", "tty", "plain" or "off" (the `--progress MODE`
 * flag of every long-running command). Returns AGORA_EINVAL for anything else. */
AGORA_NODISCARD AGORA_API agora_err agora_progress_mode_parse(const char *s,
                                                              agora_progress_mode *out);

/* out NULL means stderr. total 0 means unknown (no bar, no ETA). */
AGORA_API void agora_progress_init(agora_progress *p, const char *label, uint64_t total, FILE *out,
                                   agora_progress_mode mode);
/* Reports progress; fmt (may be NULL) adds status text such as "loss 3.21". */
AGORA_API void agora_progress_update(agora_progress *p, uint64_t done, const char *fmt, ...)
    AGORA_PRINTF(3, 4);
/* Prints the final line (and the newline after a TTY bar). */
AGORA_API void agora_progress_finish(agora_progress *p, const char *fmt, ...) AGORA_PRINTF(2, 3);
/* Renders the current line into buf without printing (used by both modes and tests). */
AGORA_API void agora_progress_render(const agora_progress *p, bool bar, char *buf,
                                     unsigned long len);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_PROGRESS_H */
