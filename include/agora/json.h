/* json.h: a small JSON writer with fixed key order and float format, and a thin reader.
 *
 * Writing is ours (one emitter, so JSONL lines and metadata always look the same: floats
 * as %.9g for f32-derived values or %.17g for doubles, non-finite values as null).
 * Reading goes through cJSON; agora_json_parse wraps it with a message that names where
 * the text went wrong. Use cJSON's accessors on the result and free it with
 * agora_json_free.
 */
#ifndef AGORA_JSON_H
#define AGORA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGORA_JSON_MAX_DEPTH 32

/* Caller-allocated writer; the text grows in w->buf (NUL-terminated). */
typedef struct agora_jw {
    char *buf;
    size_t len, cap;
    bool oom; /* sticky: an allocation failed */
    int depth;
    bool first[AGORA_JSON_MAX_DEPTH]; /* no comma before the next item at this depth */
    bool after_key;
} agora_jw;

AGORA_API void agora_jw_init(agora_jw *w);
AGORA_API void agora_jw_fini(agora_jw *w);
/* Clears the text but keeps the buffer. */
AGORA_API void agora_jw_reset(agora_jw *w);
AGORA_API void agora_jw_obj_begin(agora_jw *w);
AGORA_API void agora_jw_obj_end(agora_jw *w);
AGORA_API void agora_jw_arr_begin(agora_jw *w);
AGORA_API void agora_jw_arr_end(agora_jw *w);
AGORA_API void agora_jw_key(agora_jw *w, const char *key);
AGORA_API void agora_jw_str(agora_jw *w, const char *s);
AGORA_API void agora_jw_i64(agora_jw *w, int64_t v);
AGORA_API void agora_jw_u64(agora_jw *w, uint64_t v);
AGORA_API void agora_jw_f64(agora_jw *w, double v); /* %.17g: exact round trip */
AGORA_API void agora_jw_f32(agora_jw *w, double v); /* %.9g: enough for a float */
AGORA_API void agora_jw_bool(agora_jw *w, bool v);
AGORA_API void agora_jw_null(agora_jw *w);
/* agora_jw_status is AGORA_ENOMEM if any write failed, else AGORA_OK. */
AGORA_API agora_err agora_jw_status(const agora_jw *w);

struct cJSON;
/* agora_json_parse parses text (need not be NUL-terminated). On failure err says
 * "<name>: invalid JSON at line L, column C". */
AGORA_API agora_err agora_json_parse(const char *text, size_t len, const char *name,
                                     struct cJSON **out, char err[AGORA_ERR_LEN]);
/* agora_json_load_file reads and parses a file of at most max_len bytes. */
AGORA_API agora_err agora_json_load_file(const char *path, size_t max_len, struct cJSON **out,
                                         char err[AGORA_ERR_LEN]);
AGORA_API void agora_json_free(struct cJSON *j); /* NULL-safe */
/* agora_json_uint: true and *out set when item is a JSON number holding an exact integer in
 * [0, max] (max <= 2^53, where doubles stop holding every integer); false otherwise (NULL,
 * not a number, negative, fractional, too large, infinite), without undefined casts. */
AGORA_API bool agora_json_uint(const struct cJSON *item, uint64_t max, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_JSON_H */
