/* hash.h: XXH3-64 (libxxhash) for checksums, state digests and config hashes.
 * Not a security primitive: authentication uses libsodium (comm). */
#ifndef AGORA_HASH_H
#define AGORA_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

AGORA_API uint64_t agora_hash64(const void *data, size_t len);
AGORA_API uint64_t agora_hash64_seeded(const void *data, size_t len, uint64_t seed);

/* Streaming hash over several buffers; equals agora_hash64 of their concatenation. */
typedef struct agora_hasher agora_hasher;
AGORA_API agora_err agora_hasher_create(agora_hasher **out);
AGORA_API void agora_hasher_update(agora_hasher *h, const void *data, size_t len);
AGORA_API uint64_t agora_hasher_digest(const agora_hasher *h);
AGORA_API void agora_hasher_destroy(agora_hasher *h); /* NULL-safe */

#ifdef __cplusplus
}
#endif

#endif /* AGORA_HASH_H */
