/* safetensors.h: read and write the safetensors format (HF's tensor container).
 *
 * Layout: an 8-byte little-endian header length n, n bytes of JSON
 *   {"__metadata__": {"k": "v", ...},
 *    "<name>": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the data; offsets are relative to the data.
 *
 * The reader trusts nothing: header length, JSON, dtypes, shapes, offsets and sizes are
 * all checked (with overflow checks) before any tensor is exposed, and every failure
 * comes with a message that names the file and the field. fuzz/fuzz_safetensors.c feeds
 * it arbitrary bytes.
 */
#ifndef AGORA_SAFETENSORS_H
#define AGORA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"
#include "agora/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGORA_ST_MAX_DIMS 8
/* Header larger than this is rejected as corrupt (HF uses the same 100 MB bound). */
#define AGORA_ST_MAX_HEADER (100u * 1000u * 1000u)

typedef enum agora_st_dtype {
    AGORA_ST_F32 = 0,
    AGORA_ST_F16 = 1,
    AGORA_ST_BF16 = 2,
    AGORA_ST_F64 = 3,
    AGORA_ST_I32 = 4,
    AGORA_ST_I64 = 5,
    AGORA_ST_U8 = 6,
    AGORA_ST_I8 = 7,
    AGORA_ST_U16 = 8,
    AGORA_ST_U32 = 9
} agora_st_dtype;

/* "F32", "BF16", ...; NULL for an unknown value. */
AGORA_API const char *agora_st_dtype_name(agora_st_dtype d);
AGORA_API size_t agora_st_dtype_size(agora_st_dtype d);

typedef struct agora_st_tensor {
    const char *name; /* owned by the file */
    agora_st_dtype dtype;
    int32_t ndim;
    int64_t shape[AGORA_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t offset; /* from the start of the data section */
    uint64_t nbytes;
} agora_st_tensor;

typedef struct agora_st_file agora_st_file;

/* agora_st_parse parses a whole safetensors image held in memory. The bytes are copied,
 * so data may be freed afterwards. name is used in messages. Returns AGORA_ETRUNCATED
 * (shorter than the header or offsets say), AGORA_EPARSE (bad JSON or fields),
 * AGORA_EUNSUPPORTED (unknown dtype), AGORA_EOVERFLOW (header too large), AGORA_ENOMEM. */
AGORA_NODISCARD AGORA_API agora_err agora_st_parse(const void *data, size_t len, const char *name,
                                                   agora_st_file **out, char err[AGORA_ERR_LEN]);
/* agora_st_load reads and parses a file. */
AGORA_NODISCARD AGORA_API agora_err agora_st_load(const char *path, agora_st_file **out,
                                                  char err[AGORA_ERR_LEN]);
AGORA_API void agora_st_close(agora_st_file *f); /* NULL-safe */

AGORA_API size_t agora_st_count(const agora_st_file *f);
AGORA_API const agora_st_tensor *agora_st_get(const agora_st_file *f, size_t i);
AGORA_API const agora_st_tensor *agora_st_find(const agora_st_file *f, const char *name);
/* Raw bytes of a tensor (not necessarily aligned; copy out with memcpy). */
AGORA_API const void *agora_st_data(const agora_st_file *f, const agora_st_tensor *t);
/* A __metadata__ string, or NULL. */
AGORA_API const char *agora_st_meta(const agora_st_file *f, const char *key);

/* agora_st_read_f32 copies tensor `name` into dst after checking that it exists
 * (AGORA_ENOTFOUND), is F32 (AGORA_EUNSUPPORTED) and has exactly the expected shape
 * (AGORA_ESHAPE, message "name: shape [a, b] in file, expected [c, d]"). */
AGORA_NODISCARD AGORA_API agora_err agora_st_read_f32(const agora_st_file *f, const char *name,
                                                      float *dst, int32_t ndim,
                                                      const int64_t *shape,
                                                      char err[AGORA_ERR_LEN]);

// ---- writing ----

typedef struct agora_st_entry {
    const char *name;
    agora_st_dtype dtype;
    int32_t ndim;
    int64_t shape[AGORA_ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes, host (little-endian) order */
} agora_st_entry;

/* agora_st_write writes a safetensors image to a stream. meta holds n_meta key/value
 * pairs as 2*n_meta strings (may be NULL when n_meta is 0). */
AGORA_NODISCARD AGORA_API agora_err agora_st_write(agora_stream *s, const agora_st_entry *e,
                                                   size_t n, const char *const *meta,
                                                   size_t n_meta);
/* agora_st_save writes path atomically (path.tmp, fsync, rename). */
AGORA_NODISCARD AGORA_API agora_err agora_st_save(const char *path, const agora_st_entry *e,
                                                  size_t n, const char *const *meta, size_t n_meta,
                                                  char err[AGORA_ERR_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_SAFETENSORS_H */
