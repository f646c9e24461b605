/* xxh.h: XXH3-64 for frame checksums, with a runtime choice of the AVX2 build of the same
 * algorithm (xxh_avx2.c) when the CPU has it. The digests equal libxxhash's bit for bit:
 * only the vector width differs. */
#ifndef AGORA_COMM_XXH_H
#define AGORA_COMM_XXH_H

#include <stddef.h>
#include <stdint.h>

/* The streaming state: an XXH3_state_t (64-byte aligned; allocate with agora__xxh_state_new). */
void *agora__xxh_state_new(void);
void agora__xxh_state_free(void *st);
uint64_t agora__xxh3_seeded(const void *p, size_t n, uint64_t seed);
uint64_t agora__xxh3(const void *p, size_t n);
void agora__xxh3_reset(void *st, uint64_t seed);
void agora__xxh3_update(void *st, const void *p, size_t n);
uint64_t agora__xxh3_digest(void *st);

/* xxh_avx2.c (only when built with AVX2 support; see CMakeLists.txt) */
uint64_t agora__xxh3_avx2_seeded(const void *p, size_t n, uint64_t seed);
void agora__xxh3_avx2_reset(void *st, uint64_t seed);
void agora__xxh3_avx2_update(void *st, const void *p, size_t n);
uint64_t agora__xxh3_avx2_digest(void *st);
/* xxh_avx512.c likewise (-mavx512f) */
uint64_t agora__xxh3_avx512_seeded(const void *p, size_t n, uint64_t seed);
void agora__xxh3_avx512_reset(void *st, uint64_t seed);
void agora__xxh3_avx512_update(void *st, const void *p, size_t n);
uint64_t agora__xxh3_avx512_digest(void *st);

#endif /* AGORA_COMM_XXH_H */
