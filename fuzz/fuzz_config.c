/* fuzz_config.c: the INI config loader must reject any input cleanly (no crash, no leak,
 * a message naming file:line). */
#include <stdint.h>
#include <string.h>

#include "agora/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
    int64_t n;
    double d;
    bool b;
    char s[AGORA_CFG_STR_LEN];
    int e;
} fz;
static const char *const k_names[] = {"alpha", "beta", NULL};
static const agora_cfg_entry k_cfg[] = {
    AGORA_CFG_INT(fz, "sim.n", n, 10, 0, 1000000, "n"),
    AGORA_CFG_DBL(fz, "sim.d", d, 0.5, -1.0, 1.0, "d"),
    AGORA_CFG_BOOL(fz, "b", b, 0, "b"),
    AGORA_CFG_STR(fz, "run.s", s, "x", "s"),
    AGORA_CFG_ENUM(fz, "run.e", e, "alpha", k_names, "e"),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz p;
    agora_cfg_table t = {k_cfg, sizeof k_cfg / sizeof k_cfg[0], &p};
    char err[AGORA_ERR_LEN];
    agora_cfg_set_defaults(&t, 1);
    agora_err rc = agora_cfg_load_string(&t, 1, "fuzz.ini", (const char *)data, size, err);
    if (rc != AGORA_OK && strncmp(err, "fuzz.ini", 8) != 0)
        __builtin_trap(); /* every error must name the file */
    if (p.n < 0 || p.n > 1000000 || p.d < -1.0 || p.d > 1.0)
        __builtin_trap(); /* range checks hold whatever the input */
    return 0;
}
