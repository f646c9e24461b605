/* alloc.h: the one allocator every agora allocation goes through.
 *
 * agora_set_allocator() swaps the functions (tests count or fail allocations);
 * in AGORA_TESTING builds agora_alloc_fail_after(n) makes the n-th following allocation
 * (0-based) and every later one return NULL, so out-of-memory paths can be walked in a loop.
 */
#ifndef AGORA_ALLOC_H
#define AGORA_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agora_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *p, size_t size, void *user);
    void (*free_fn)(void *p, void *user);
    void *user;
} agora_allocator;

/* NULL restores the C library allocator. */
AGORA_API void agora_set_allocator(const agora_allocator *a);

AGORA_API void *agora_malloc(size_t size);
/* agora_calloc returns zeroed memory, or NULL if n*size overflows. */
AGORA_API void *agora_calloc(size_t n, size_t size);
AGORA_API void *agora_realloc(void *p, size_t size);
AGORA_API void agora_free(void *p); /* NULL-safe */
/* agora_strdup copies a string through the allocator. */
AGORA_API char *agora_strdup(const char *s);

/* 64-byte-aligned slabs for tensors and agent arrays. Free with agora_free_aligned. */
AGORA_API void *agora_malloc_aligned(size_t size);
AGORA_API void agora_free_aligned(void *p); /* NULL-safe */
/* agora_advise_huge asks the kernel to back the 2 MiB-aligned part of [p, p + bytes) with
 * huge pages (Linux transparent huge pages; a no-op elsewhere). A hint for big arrays
 * read at random, where TLB misses cost more than the reads: call it before the first
 * write, since pages already touched stay small. */
AGORA_API void agora_advise_huge(void *p, size_t bytes);

/* agora_alloc_fail_after(n): allocation number n from now (0-based) and all after it
 * fail. n < 0 disables injection. Only effective in AGORA_TESTING builds.
 * agora_alloc_count() reports allocations since the last agora_alloc_fail_after call. */
AGORA_API void agora_alloc_fail_after(int64_t n);
AGORA_API int64_t agora_alloc_count(void);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_ALLOC_H */
