/* xxh_avx512.c: XXH3-64 compiled for AVX-512 (this file alone gets -mavx512f; xxh.c calls it only
 * on CPUs that have AVX-512F). Same algorithm and digests as libxxhash. */
#ifdef __AVX512F__
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "comm/xxh.h"

uint64_t agora__xxh3_avx512_seeded(const void *p, size_t n, uint64_t seed) {
    return XXH3_64bits_withSeed(p, n, seed);
}

void agora__xxh3_avx512_reset(void *st, uint64_t seed) {
    (void)XXH3_64bits_reset_withSeed((XXH3_state_t *)st, seed);
}

void agora__xxh3_avx512_update(void *st, const void *p, size_t n) {
    (void)XXH3_64bits_update((XXH3_state_t *)st, p, n);
}

uint64_t agora__xxh3_avx512_digest(void *st) {
    return XXH3_64bits_digest((XXH3_state_t *)st);
}
#else
typedef int agora__xxh_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
