/* fuzz_sim_ckpt.c: the simulation checkpoint loader (src/sim/sim_ckpt.c) must accept or
 * refuse any file cleanly, naming the file in every error, and a state it accepts must
 * step without going out of bounds (ASan) and keep the graph invariants.
 *
 * The first byte picks the mode; the rest is the file. Odd: if the rest parses as
 * safetensors, it is re-sealed first (state_xxh3 recomputed, the other metadata kept), so
 * mutations get past the content hash to the size, index and invariant checks. The corpus
 * seeds are real checkpoints of the settings below; to make one, run
 *   agora sim run seed.ini --set sim.n_steps=7 --run-dir D   (or 5: T0 is 4)
 * with seed.ini = "[sim]" n_agents 40, out_degree_mean 5, burnin_steps 4, recsys eng_oracle,
 * and put a mode byte in front of D/sim.ckpt.safetensors. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/safetensors.h"
#include "agora/stream.h"
#include "sim/sim_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static agora_sim_params fuzz_params(void) {
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.n_agents = 40;
    p.out_degree_mean = 5;
    p.n_steps = 12;
    p.burnin_steps = 4;
    p.recsys = AGORA_RECSYS_ENG_ORACLE;
    return p;
}

static int by_offset(const void *a, const void *b) {
    uint64_t x = (*(const agora_st_tensor *const *)a)->offset;
    uint64_t y = (*(const agora_st_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* The image re-written with a correct state_xxh3, or NULL if it does not parse. */
static char *reseal(const uint8_t *data, size_t size, size_t *out_len) {
    char err[AGORA_ERR_LEN];
    agora_st_file *f = NULL;
    if (agora_st_parse(data, size, "fuzz.ckpt", &f, err) != AGORA_OK)
        return NULL;
    size_t n = agora_st_count(f);
    const agora_st_tensor **ts = agora_calloc(n ? n : 1, sizeof *ts);
    agora_st_entry *e = agora_calloc(n ? n : 1, sizeof *e);
    agora_hasher *h = NULL;
    char *out = NULL;
    agora_stream *st = NULL;
    if (ts == NULL || e == NULL || agora_hasher_create(&h) != AGORA_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        ts[i] = agora_st_get(f, i);
    qsort(ts, n, sizeof *ts, by_offset);
    for (size_t i = 0; i < n; i++) {
        agora_hasher_update(h, agora_st_data(f, ts[i]), (size_t)ts[i]->nbytes);
        e[i].name = ts[i]->name;
        e[i].dtype = ts[i]->dtype;
        e[i].ndim = ts[i]->ndim;
        memcpy(e[i].shape, ts[i]->shape, sizeof e[i].shape);
        e[i].data = agora_st_data(f, ts[i]);
    }
    char content[32];
    snprintf(content, sizeof content, "%016" PRIx64, agora_hasher_digest(h));
    static const char *const keys[] = {"format", "version",     "params_hash",
                                       "t",      "scalars_i64", "scalars_f64"};
    const char *meta[2 * 7];
    size_t nm = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = agora_st_meta(f, keys[k]);
        if (v != NULL) {
            meta[2 * nm] = keys[k];
            meta[2 * nm + 1] = v;
            nm++;
        }
    }
    meta[2 * nm] = "state_xxh3";
    meta[2 * nm + 1] = content;
    nm++;
    if (agora_stream_open_mem(&st) != AGORA_OK || agora_st_write(st, e, n, meta, nm) != AGORA_OK)
        goto done;
    size_t len = 0;
    const void *bytes = agora_stream_mem_data(st, &len);
    out = malloc(len ? len : 1);
    if (out != NULL) {
        memcpy(out, bytes, len);
        *out_len = len;
    }
done:
    agora_stream_close(st);
    agora_hasher_destroy(h);
    agora_free(ts);
    agora_free(e);
    agora_st_close(f);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (4u << 20))
        return 0;
    const bool seal = data[0] & 1;
    const uint8_t *img = data + 1;
    size_t len = size - 1;
    char *sealed = seal ? reseal(img, len, &len) : NULL;
    if (seal && sealed == NULL) {
        len = size - 1;
    } else if (sealed != NULL) {
        img = (const uint8_t *)sealed;
    }
    agora_sim_params p = fuzz_params();
    char err[AGORA_ERR_LEN] = "";
    agora_sim *s = NULL;
    void *extra = NULL;
    size_t extra_len = 0;
    agora_err rc = agora__sim_load_mem(img, len, "fuzz.ckpt", &p, &s, &extra, &extra_len, err);
    if (rc != AGORA_OK) {
        if (s != NULL || extra != NULL || strncmp(err, "fuzz.ckpt", 9) != 0)
            __builtin_trap(); /* nothing half-built, and every error names the file */
    } else {
        for (int t = 0; t < 3; t++)
            if (agora_sim_step(s, p.recsys) != AGORA_OK)
                break;
        if (agora_sim_check_invariants(s, err) != AGORA_OK)
            __builtin_trap();
        agora_sim_destroy(s);
        agora_free(extra);
    }
    free(sealed);
    return 0;
}
