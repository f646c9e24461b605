/* fuzz_safetensors.c: the safetensors loader must reject any input cleanly (no crash, no
 * leak, no read outside the image), and whatever it accepts must be self-consistent. */
#include <stdint.h>
#include <string.h>

#include "agora/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    agora_st_file *f = NULL;
    char err[AGORA_ERR_LEN];
    if (agora_st_parse(data, size, "fuzz", &f, err) != AGORA_OK)
        return 0;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < agora_st_count(f); i++) {
        const agora_st_tensor *t = agora_st_get(f, i);
        /* touch the first and last byte of every accepted tensor */
        if (t->nbytes > 0) {
            const uint8_t *p = agora_st_data(f, t);
            sink ^= p[0];
            sink ^= p[t->nbytes - 1];
        }
        if (agora_st_find(f, t->name) == NULL)
            __builtin_trap();
        if (t->dtype == AGORA_ST_F32 && t->nbytes <= 4096) {
            float buf[1024];
            if (agora_st_read_f32(f, t->name, buf, t->ndim, t->shape, err) != AGORA_OK)
                __builtin_trap();
        }
    }
    (void)agora_st_meta(f, "format");
    (void)sink;
    agora_st_close(f);
    return 0;
}
