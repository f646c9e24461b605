/* hash.c: thin wrappers over libxxhash's XXH3-64. */
#include "agora/hash.h"

#include <xxhash.h>

#include "agora/alloc.h"

struct agora_hasher {
    XXH3_state_t *st;
};

uint64_t agora_hash64(const void *data, size_t len) {
    return XXH3_64bits(data, len);
}

uint64_t agora_hash64_seeded(const void *data, size_t len, uint64_t seed) {
    return XXH3_64bits_withSeed(data, len, seed);
}

agora_err agora_hasher_create(agora_hasher **out) {
    agora_hasher *h = agora_malloc(sizeof *h);
    if (h == NULL)
        return AGORA_ENOMEM;
    h->st = XXH3_createState();
    if (h->st == NULL) {
        agora_free(h);
        return AGORA_ENOMEM;
    }
    XXH3_64bits_reset(h->st);
    *out = h;
    return AGORA_OK;
}

void agora_hasher_update(agora_hasher *h, const void *data, size_t len) {
    XXH3_64bits_update(h->st, data, len);
}

uint64_t agora_hasher_digest(const agora_hasher *h) {
    return XXH3_64bits_digest(h->st);
}

void agora_hasher_destroy(agora_hasher *h) {
    if (h == NULL)
        return;
    XXH3_freeState(h->st);
    agora_free(h);
}
