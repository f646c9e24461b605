/* strbuf.h: a growable text buffer for formatted output (CSV, INI, SVG).
 *
 * Appends never fail loudly: an allocation failure sets `oom`, later appends do nothing,
 * and agora_sbuf_write / agora_sbuf_take report AGORA_ENOMEM, so a writer can format a
 * whole file and check once at the end.
 */
#ifndef AGORA_STRBUF_H
#define AGORA_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agora_sbuf {
    char *p;    /* NUL-terminated text once anything was appended; NULL before */
    size_t len; /* bytes of text, without the NUL */
    size_t cap;
    bool oom;
} agora_sbuf;

/* agora_sbuf_printf appends printf-formatted text. */
AGORA_API void agora_sbuf_printf(agora_sbuf *b, const char *fmt, ...) AGORA_PRINTF(2, 3);
/* agora_sbuf_write writes the text to path atomically (agora_write_file_atomic) and frees
 * the buffer. AGORA_ENOMEM if an append failed (nothing is written then). */
AGORA_NODISCARD AGORA_API agora_err agora_sbuf_write(agora_sbuf *b, const char *path,
                                                     char err[AGORA_ERR_LEN]);
/* agora_sbuf_take hands the text to the caller (free with agora_free); an empty buffer
 * gives "". AGORA_ENOMEM if an append failed (the buffer is freed). */
AGORA_NODISCARD AGORA_API agora_err agora_sbuf_take(agora_sbuf *b, char **text_out);
/* agora_sbuf_free releases the buffer and resets it. */
AGORA_API void agora_sbuf_free(agora_sbuf *b);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_STRBUF_H */
