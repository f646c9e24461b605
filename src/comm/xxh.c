/* xxh.c: XXH3-64 with a runtime choice of AVX-512 or AVX2 (see xxh.h). */
#include "comm/xxh.h"

#include <stdatomic.h>
#include <stdbool.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "agora/alloc.h"

static bool use_avx2(void) {
#if defined(AGORA_HAVE_XXH_AVX2) && (defined(__x86_64__) || defined(__i386__))
    static int cached = -1;
    if (cached < 0) /* a benign race: every thread computes the same value */
        cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    return cached == 1;
#else
    return false;
#endif
}

/* The AVX-512 build hashes data in cache about twice as fast as AVX2 (receivers hash
 * every byte right after recv(), while it is in L1/L2). */
static bool use_avx512(void) {
#if defined(AGORA_HAVE_XXH_AVX512) && (defined(__x86_64__) || defined(__i386__))
    static _Atomic int cached = -1;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c < 0) { /* every thread computes the same value */
        c = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c == 1;
#else
    return false;
#endif
}

void *agora__xxh_state_new(void) {
    return agora_malloc_aligned(sizeof(XXH3_state_t));
}
void agora__xxh_state_free(void *st) {
    agora_free_aligned(st);
}

uint64_t agora__xxh3_seeded(const void *p, size_t n, uint64_t seed) {
#ifdef AGORA_HAVE_XXH_AVX512
    if (use_avx512())
        return agora__xxh3_avx512_seeded(p, n, seed);
#endif
#ifdef AGORA_HAVE_XXH_AVX2
    if (use_avx2())
        return agora__xxh3_avx2_seeded(p, n, seed);
#endif
    return XXH3_64bits_withSeed(p, n, seed);
}

uint64_t agora__xxh3(const void *p, size_t n) {
    return agora__xxh3_seeded(p, n, 0);
}

void agora__xxh3_reset(void *st, uint64_t seed) {
#ifdef AGORA_HAVE_XXH_AVX512
    if (use_avx512()) {
        agora__xxh3_avx512_reset(st, seed);
        return;
    }
#endif
#ifdef AGORA_HAVE_XXH_AVX2
    if (use_avx2()) {
        agora__xxh3_avx2_reset(st, seed);
        return;
    }
#endif
    (void)XXH3_64bits_reset_withSeed(st, seed);
}

void agora__xxh3_update(void *st, const void *p, size_t n) {
#ifdef AGORA_HAVE_XXH_AVX512
    if (use_avx512()) {
        agora__xxh3_avx512_update(st, p, n);
        return;
    }
#endif
#ifdef AGORA_HAVE_XXH_AVX2
    if (use_avx2()) {
        agora__xxh3_avx2_update(st, p, n);
        return;
    }
#endif
    (void)XXH3_64bits_update(st, p, n);
}

uint64_t agora__xxh3_digest(void *st) {
#ifdef AGORA_HAVE_XXH_AVX512
    if (use_avx512())
        return agora__xxh3_avx512_digest(st);
#endif
#ifdef AGORA_HAVE_XXH_AVX2
    if (use_avx2())
        return agora__xxh3_avx2_digest(st);
#endif
    return XXH3_64bits_digest(st);
}
