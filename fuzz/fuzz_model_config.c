/* fuzz_model_config.c: an HF-style config.json must be refused with a message that names
 * the file, or give a config that validates and survives a round trip through
 * agora_model_config_to_json unchanged. */
#include <stdint.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const agora_model_config *a, const agora_model_config *b) {
    return a->vocab_size == b->vocab_size && a->dim == b->dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->ffn_dim == b->ffn_dim &&
           a->max_seq == b->max_seq && a->rope_theta == b->rope_theta &&
           a->norm_eps == b->norm_eps && a->tie_embeddings == b->tie_embeddings;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 16))
        return 0;
    agora_model_config c, d;
    char err[AGORA_ERR_LEN];
    if (agora_model_config_parse_json((const char *)data, size, "fuzz.json", &c, err) != AGORA_OK) {
        if (strncmp(err, "fuzz.json", 9) != 0)
            __builtin_trap(); /* every refusal names the file */
        return 0;
    }
    if (agora_model_config_validate(&c, err) != AGORA_OK)
        __builtin_trap();
    char *text = NULL;
    if (agora_model_config_to_json(&c, &text) != AGORA_OK)
        return 0; /* out of memory */
    if (agora_model_config_parse_json(text, strlen(text), "again.json", &d, err) != AGORA_OK ||
        !same(&c, &d))
        __builtin_trap();
    agora_free(text);
    return 0;
}
