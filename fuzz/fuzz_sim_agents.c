/* fuzz_sim_agents.c: the agent-attribute CSV parser must reject any bad bytes cleanly,
 * name file:line, and only ever return in-range values for known nodes. */
#include <stdint.h>
#include <string.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char edges[] = "a b\nb c\nc a\n1 2\n2 a\n";
    char err[AGORA_ERR_LEN] = "";
    agora__sim_edges e;
    if (agora__sim_parse_edges("e", edges, sizeof edges - 1, false, &e, err) != AGORA_OK)
        __builtin_trap();
    agora__sim_attr *rows = NULL;
    size_t n = 0;
    agora_err rc =
        agora__sim_parse_agents("fuzz.csv", (const char *)data, size, &e, &rows, &n, err);
    if (rc != AGORA_OK) {
        if (strncmp(err, "fuzz.csv", 8) != 0)
            __builtin_trap();
    } else {
        for (size_t i = 0; i < n; i++) {
            const agora__sim_attr *r = &rows[i];
            if (r->node >= e.n_nodes || ((r->has & SIM_ATTR_O) && !(r->o >= -1 && r->o <= 1)) ||
                ((r->has & SIM_ATTR_TAU) && !(r->tau >= 0 && r->tau <= 1)) ||
                ((r->has & SIM_ATTR_A) && !(r->a >= 0)) ||
                ((r->has & SIM_ATTR_PI) && !(r->pi >= 0 && r->pi <= 1)))
                __builtin_trap();
        }
    }
    agora_free(rows);
    agora__sim_edges_free(&e);
    return 0;
}
