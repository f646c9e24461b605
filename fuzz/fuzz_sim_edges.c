/* fuzz_sim_edges.c: the SNAP/CSV edge-list parser must accept or reject any bytes cleanly
 * (no crash, no leak), name file:line in every error, and keep every edge in range; the
 * accepted list must build a state whose graph invariants hold. */
#include <stdint.h>
#include <string.h>

#include "agora/alloc.h"
#include "sim/sim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[AGORA_ERR_LEN] = "";
    agora__sim_edges e;
    agora_err rc = agora__sim_parse_edges("fuzz.txt", (const char *)data, size, size & 1, &e, err);
    if (rc != AGORA_OK) {
        if (strncmp(err, "fuzz.txt", 8) != 0)
            __builtin_trap();
        return 0;
    }
    for (size_t i = 0; i < e.n; i++)
        if (e.src[i] >= e.n_nodes || e.dst[i] >= e.n_nodes)
            __builtin_trap();
    if (e.n_nodes <= 2000) {
        agora_sim_params p;
        agora_sim_params_default(&p);
        p.learner = false;
        agora_sim *s = agora_calloc(1, sizeof *s);
        if (s == NULL)
            __builtin_trap();
        s->p = p;
        if (agora__sim_alloc(s, e.n_nodes) != AGORA_OK ||
            agora__sim_graph_from_edges(s, e.src, e.dst, e.n) != AGORA_OK)
            __builtin_trap();
        agora__sim_init_attributes(s);
        if (agora_sim_check_invariants(s, err) != AGORA_OK)
            __builtin_trap();
        agora_sim_destroy(s);
    }
    agora__sim_edges_free(&e);
    return 0;
}
