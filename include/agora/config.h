/* config.h: one table per subsystem declares every setting once.
 *
 * Each entry gives the key, type, struct field, default, range and help text. The same
 * table feeds, in this order: defaults, an INI/TOML-style file (libinih; `[sim]` then
 * `n_agents = 20000` sets "sim.n_agents"), AGORA_* environment variables
 * (AGORA_SIM_N_AGENTS), and `--set sim.n_agents=20000` on the command line. It also
 * prints the effective config, feeds the config hash, and writes `agora help config`.
 *
 * Field types by entry type: INT int64_t, DBL double, BOOL bool, STR char[AGORA_CFG_STR_LEN]
 * (copied, so tables own no heap memory), ENUM int (index into the names list).
 * Integers accept "1e6" and "1_000_000" when the value is exactly an integer.
 *
 *   typedef struct { int64_t n_agents; double beta; } my_params;
 *   static const agora_cfg_entry k_cfg[] = {
 *       AGORA_CFG_INT(my_params, "sim.n_agents", n_agents, 10000, 10, 10000000, "agents"),
 *       AGORA_CFG_DBL(my_params, "sim.beta", beta, 0.5, 0.0, 10.0, "negativity bias"),
 *   };
 *   my_params p;
 *   agora_cfg_table t = {k_cfg, sizeof k_cfg / sizeof k_cfg[0], &p};
 *   char err[AGORA_ERR_LEN];
 *   agora_err rc = agora_cfg_load_all(&t, 1, "exp.ini", argv_sets, n_sets, err);
 */
#ifndef AGORA_CONFIG_H
#define AGORA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGORA_CFG_STR_LEN 256

typedef enum agora_cfg_type {
    AGORA_CFG_T_INT = 0,
    AGORA_CFG_T_DBL = 1,
    AGORA_CFG_T_BOOL = 2,
    AGORA_CFG_T_STR = 3,
    AGORA_CFG_T_ENUM = 4
} agora_cfg_type;

typedef struct agora_cfg_entry {
    const char *key; /* "section.name"; the section is everything before the last dot */
    agora_cfg_type type;
    size_t offset;               /* offsetof(struct, field) */
    int64_t i_def, i_min, i_max; /* INT and BOOL (0/1) */
    double d_def, d_min, d_max;  /* DBL */
    const char *s_def;           /* STR default, ENUM default name */
    const char *const *names;    /* ENUM: NULL-terminated list of names */
    const char *help;
} agora_cfg_entry;

#define AGORA_CFG_INT(T, key, field, def, lo, hi, help)                                            \
    { key, AGORA_CFG_T_INT, offsetof(T, field), def, lo, hi, 0, 0, 0, NULL, NULL, help }
#define AGORA_CFG_DBL(T, key, field, def, lo, hi, help)                                            \
    { key, AGORA_CFG_T_DBL, offsetof(T, field), 0, 0, 0, def, lo, hi, NULL, NULL, help }
#define AGORA_CFG_BOOL(T, key, field, def, help)                                                   \
    { key, AGORA_CFG_T_BOOL, offsetof(T, field), def, 0, 1, 0, 0, 0, NULL, NULL, help }
#define AGORA_CFG_STR(T, key, field, def, help)                                                    \
    { key, AGORA_CFG_T_STR, offsetof(T, field), 0, 0, 0, 0, 0, 0, def, NULL, help }
#define AGORA_CFG_ENUM(T, key, field, def, names, help)                                            \
    { key, AGORA_CFG_T_ENUM, offsetof(T, field), 0, 0, 0, 0, 0, 0, def, names, help }

/* A table bound to the struct it fills. */
typedef struct agora_cfg_table {
    const agora_cfg_entry *entries;
    size_t n;
    void *base;
} agora_cfg_table;

/* Each loader below takes several tables (a command may combine train + comm), stops at
 * the first bad value and writes one message to err, naming where: "exp.ini:12: ...",
 * "AGORA_SIM_SEED=x: ..." or "--set sim.seed=x: ...". Returns AGORA_EUNKNOWN_KEY,
 * AGORA_ERANGE, AGORA_EPARSE, AGORA_ENOENT or AGORA_EIO; AGORA_OK otherwise. */

AGORA_API void agora_cfg_set_defaults(const agora_cfg_table *t, size_t nt);
AGORA_API agora_err agora_cfg_load_file(const agora_cfg_table *t, size_t nt, const char *path,
                                        char err[AGORA_ERR_LEN]);
/* agora_cfg_load_string parses INI text held in memory; `name` is used in messages. */
AGORA_API agora_err agora_cfg_load_string(const agora_cfg_table *t, size_t nt, const char *name,
                                          const char *text, size_t len, char err[AGORA_ERR_LEN]);
/* agora_cfg_load_env applies AGORA_<KEY> variables (dots become underscores). Unknown
 * AGORA_* variables are ignored, since other tables and the logger use that prefix. */
AGORA_API agora_err agora_cfg_load_env(const agora_cfg_table *t, size_t nt,
                                       char err[AGORA_ERR_LEN]);
/* agora_cfg_set applies one "key=value" assignment. */
AGORA_API agora_err agora_cfg_set(const agora_cfg_table *t, size_t nt, const char *assignment,
                                  char err[AGORA_ERR_LEN]);
/* agora_cfg_set_value applies key = value; `where` prefixes messages. */
AGORA_API agora_err agora_cfg_set_value(const agora_cfg_table *t, size_t nt, const char *key,
                                        const char *value, const char *where,
                                        char err[AGORA_ERR_LEN]);
/* agora_cfg_load_all: defaults, then path (if not NULL), then env, then each --set. */
AGORA_API agora_err agora_cfg_load_all(const agora_cfg_table *t, size_t nt,
                                       const char *AGORA_NULLABLE path, const char *const *sets,
                                       size_t n_sets, char err[AGORA_ERR_LEN]);

/* agora_cfg_format writes the effective config as INI text (sections, one key per
 * line, help as comments) into a new buffer the caller frees with agora_free. */
AGORA_API agora_err agora_cfg_format(const agora_cfg_table *t, size_t nt, char **text_out);
/* agora_cfg_hash is XXH3-64 of agora_cfg_format's text without comments. */
AGORA_API uint64_t agora_cfg_hash(const agora_cfg_table *t, size_t nt);
/* agora_cfg_print_help lists every key with type, default, range and help. */
AGORA_API void agora_cfg_print_help(const agora_cfg_table *t, size_t nt, FILE *out);
/* agora_cfg_value_str renders one entry's current value. */
AGORA_API void agora_cfg_value_str(const agora_cfg_entry *e, const void *base, char *buf,
                                   size_t len);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_CONFIG_H */
