/* rundir.h: run directories (runs/<run-id>/) and the files every run writes.
 *
 *   config.ini             the input config, byte for byte (if there was one)
 *   config.effective.ini   every key after defaults, file, env and --set, plus its hash
 *   meta.json              agora version, seed, threads, host, start time, command line
 */
#ifndef AGORA_RUNDIR_H
#define AGORA_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/config.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* agora_rundir_create makes the run directory. If `path` is set it is used as is (created
 * with parents); otherwise runs/<prefix>-<UTC yyyymmdd-hhmmss>-<pid> is made. The
 * resulting path is written to out (len bytes). */
AGORA_API agora_err agora_rundir_create(const char *AGORA_NULLABLE path, const char *prefix,
                                        char *out, size_t len, char err[AGORA_ERR_LEN]);
/* agora_rundir_write_config copies src_path (may be NULL) to config.ini and writes
 * config.effective.ini from the tables. */
AGORA_API agora_err agora_rundir_write_config(const char *dir, const char *AGORA_NULLABLE src_path,
                                              const agora_cfg_table *t, size_t nt,
                                              char err[AGORA_ERR_LEN]);
/* agora_rundir_write_meta writes meta.json. argv is recorded as the command line. */
AGORA_API agora_err agora_rundir_write_meta(const char *dir, uint64_t seed, int threads, int argc,
                                            char **argv, char err[AGORA_ERR_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_RUNDIR_H */
