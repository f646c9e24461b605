/* xxh_avx2.c: XXH3-64 compiled for AVX2 (this file alone gets -mavx2; xxh.c calls it only
 * on CPUs that have AVX2). Same algorithm and digests as libxxhash. */
#ifdef __AVX2__
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "comm/xxh.h"

uint64_t agora__xxh3_avx2_seeded(const void *p, size_t n, uint64_t seed) {
    return XXH3_64bits_withSeed(p, n, seed);
}

void agora__xxh3_avx2_reset(void *st, uint64_t seed) {
    (void)XXH3_64bits_reset_withSeed((XXH3_state_t *)st, seed);
}

void agora__xxh3_avx2_update(void *st, const void *p, size_t n) {
    (void)XXH3_64bits_update((XXH3_state_t *)st, p, n);
}

uint64_t agora__xxh3_avx2_digest(void *st) {
    return XXH3_64bits_digest((XXH3_state_t *)st);
}
#else
typedef int agora__xxh_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
