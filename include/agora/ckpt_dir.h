/* ckpt_dir.h: checkpoint directories with a DONE marker and retention.
 *
 * A checkpoint is a directory ROOT/step_<10-digit step>/ holding any files the writer
 * chooses. It counts only once its DONE file exists, and DONE is written (atomically)
 * last, so a writer killed at any moment leaves either a complete checkpoint or one that
 * readers ignore. Retention keeps the newest k complete checkpoints.
 */
#ifndef AGORA_CKPT_DIR_H
#define AGORA_CKPT_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* agora_ckpt_dir_begin creates ROOT/step_<step>/ (and ROOT), removing a DONE left from an
 * earlier write of the same step, and writes the path to out. */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_dir_begin(const char *root, int64_t step, char *out,
                                                         size_t len);
/* agora_ckpt_dir_commit writes DONE into dir, atomically and durably. */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_dir_commit(const char *dir);
AGORA_API bool agora_ckpt_dir_is_done(const char *dir);
/* agora_ckpt_dir_latest finds the complete checkpoint with the highest step. Returns
 * AGORA_ENOENT when there is none (or ROOT does not exist). step_out may be NULL. */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_dir_latest(const char *root, char *out, size_t len,
                                                          int64_t *step_out);
/* agora_ckpt_dir_prune keeps the `keep` newest complete checkpoints and removes older
 * ones, plus incomplete ones older than the newest complete one. keep 0 keeps all. */
AGORA_NODISCARD AGORA_API agora_err agora_ckpt_dir_prune(const char *root, size_t keep);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_CKPT_DIR_H */
