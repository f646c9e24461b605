/* stream.h: files, atomic writes, and byte streams.
 *
 * An agora_stream is a sink or source of bytes behind an ops table (file, memory, or a
 * caller-defined one such as a socket), so the same serializer writes a checkpoint to disk
 * and sends live state to a joining peer.
 *
 * Atomic files: agora_stream_open_atomic(path) writes to "path.tmp"; agora_stream_commit()
 * flushes, fsyncs, renames over path and fsyncs the directory. Closing without commit
 * removes the temp file. A crash at any moment leaves either the old file or the new one.
 */
#ifndef AGORA_STREAM_H
#define AGORA_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agora_stream agora_stream;

typedef struct agora_stream_ops {
    size_t size; /* sizeof(agora_stream_ops) */
    /* Writes all n bytes or fails. */
    agora_err (*write)(void *user, const void *buf, size_t n);
    /* Reads exactly n bytes; AGORA_ETRUNCATED at a short end. */
    agora_err (*read)(void *user, void *buf, size_t n);
    /* Releases user. May be NULL. */
    void (*close)(void *user);
} agora_stream_ops;

AGORA_API agora_err agora_stream_create(const agora_stream_ops *ops, void *user,
                                        agora_stream **out);
AGORA_API agora_err agora_stream_open_read(const char *path, agora_stream **out);
/* Opens path.tmp for writing; the file appears at path only after agora_stream_commit. */
AGORA_API agora_err agora_stream_open_atomic(const char *path, agora_stream **out);
/* A growable in-memory sink; agora_stream_mem_data exposes its bytes. */
AGORA_API agora_err agora_stream_open_mem(agora_stream **out);
/* Reads from caller memory (not copied; it must outlive the stream). */
AGORA_API agora_err agora_stream_open_mem_read(const void *data, size_t len, agora_stream **out);
AGORA_API const void *agora_stream_mem_data(const agora_stream *s, size_t *len_out);

AGORA_API agora_err agora_stream_write(agora_stream *s, const void *buf, size_t n);
AGORA_API agora_err agora_stream_read(agora_stream *s, void *buf, size_t n);
/* Bytes written or read so far. */
AGORA_API uint64_t agora_stream_offset(const agora_stream *s);
/* agora_stream_commit finishes an atomic file (fflush, fsync, rename, fsync of the dir). */
AGORA_API agora_err agora_stream_commit(agora_stream *s);
/* Closes; an uncommitted atomic file is removed. NULL-safe. */
AGORA_API void agora_stream_close(agora_stream *s);

// ---- whole-file helpers ----

/* agora_read_file reads a whole file of at most max_len bytes into a NUL-terminated
 * buffer (freed with agora_free). err names the file and the reason. */
AGORA_API agora_err agora_read_file(const char *path, size_t max_len, char **buf_out,
                                    size_t *len_out, char err[AGORA_ERR_LEN]);
/* agora_write_file_atomic writes data to path atomically. */
AGORA_API agora_err agora_write_file_atomic(const char *path, const void *data, size_t len,
                                            char err[AGORA_ERR_LEN]);
/* agora_mkdir_p creates a directory and its parents (mode 0755); existing ones are fine. */
AGORA_API agora_err agora_mkdir_p(const char *path);
/* agora_fsync_dir fsyncs the directory that holds path (for renames to last). */
AGORA_API agora_err agora_fsync_parent(const char *path);

/* Test hook (AGORA_TESTING builds): make the n-th following durable-write step
 * (write, fsync, rename; 0-based) fail with AGORA_EIO. n < 0 disables. */
AGORA_API void agora_io_fail_after(int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_STREAM_H */
