/* alloc.c: the replaceable allocator and the OOM-injection hook. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#endif
#include "agora/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

static void *libc_malloc(size_t size, void *user) {
    (void)user;
    return malloc(size);
}
static void *libc_realloc(void *p, size_t size, void *user) {
    (void)user;
    return realloc(p, size);
}
static void libc_free(void *p, void *user) {
    (void)user;
    free(p);
}

static agora_allocator g_alloc = {libc_malloc, libc_realloc, libc_free, NULL};
static _Atomic int64_t g_fail_after = -1;
static _Atomic int64_t g_count;

void agora_set_allocator(const agora_allocator *a) {
    if (a == NULL)
        g_alloc = (agora_allocator){libc_malloc, libc_realloc, libc_free, NULL};
    else
        g_alloc = *a;
}

void agora_alloc_fail_after(int64_t n) {
    atomic_store(&g_count, 0);
    atomic_store(&g_fail_after, n);
}

int64_t agora_alloc_count(void) {
    return atomic_load(&g_count);
}

/* should_fail counts one allocation and says whether the injection hook fails it. */
static int should_fail(void) {
    int64_t k = atomic_fetch_add(&g_count, 1);
#ifdef AGORA_TESTING
    int64_t f = atomic_load(&g_fail_after);
    return f >= 0 && k >= f;
#else
    (void)k;
    return 0;
#endif
}

void *agora_malloc(size_t size) {
    if (should_fail())
        return NULL;
    return g_alloc.malloc_fn(size ? size : 1, g_alloc.user);
}

void *agora_calloc(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = agora_malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *agora_realloc(void *p, size_t size) {
    if (should_fail())
        return NULL;
    return g_alloc.realloc_fn(p, size ? size : 1, g_alloc.user);
}

void agora_free(void *p) {
    if (p != NULL)
        g_alloc.free_fn(p, g_alloc.user);
}

char *agora_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = agora_malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Aligned blocks are carved from an agora_malloc block; the byte offset back to the
 * original pointer is stored just before the aligned address. */
void *agora_malloc_aligned(size_t size) {
    const size_t align = 64;
    if (size > SIZE_MAX - align - sizeof(void *))
        return NULL;
    unsigned char *raw = agora_malloc(size + align + sizeof(void *));
    if (raw == NULL)
        return NULL;
    uintptr_t base = (uintptr_t)(raw + sizeof(void *));
    uintptr_t aligned = (base + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

void agora_free_aligned(void *p) {
    if (p != NULL)
        agora_free(((void **)p)[-1]);
}

void agora_advise_huge(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (p != NULL && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}
