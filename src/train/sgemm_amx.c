/* sgemm_amx.c: an fp32 matrix product on Intel AMX, accurate to fp32's error bound.
 *
 * Implements: C = alpha * A' B' + beta * C (row-major, A' = A or A^T, B' = B or B^T) on the
 * AMX-BF16 tile unit, single-threaded (the caller splits the work, as with cblas_sgemm).
 * Every fp32 operand is split into three bf16 parts, x = h + m + l exactly (bf16 keeps 8 of
 * fp32's 24 significand bits, each residual is exact in fp32), and the product sums the six
 * partial products whose order is above fp32's rounding: hh, hm, hl, mh, mm, lh. Each bf16
 * product is exact in fp32 and the tile unit accumulates in fp32 with round-to-nearest; the
 * three dropped terms are below 2^-24 of |a||b|. It rounds six times per k where an fp32
 * sgemm rounds once, so its typical error is up to about twice OpenBLAS's (bench_sgemm:
 * 3.4e-7 to 9.8e-7 of the largest output on the model's shapes, OpenBLAS 4.1e-7 to 5.0e-7),
 * inside the same K * 2^-24 bound. Departures from IEEE fp32: the tile unit flushes
 * subnormal inputs and outputs to zero, so parts below 2^-126 (operands under about 1e-33)
 * and subnormal results are lost.
 * Why: AMX's bf16 rate is 16x the two AVX-512 FMA ports'; with six products per multiply it
 * still runs the model's products 1.4-1.8x as fast as OpenBLAS on one core, with fresh
 * operands (docs/train.md, "Stop 15").
 * Does not: run anywhere without AMX-BF16 and AVX512-BF16 (agora__amx_available says; the
 * plain loop runs instead), or thread itself.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* syscall */
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "train/layers.h"

#if defined(__x86_64__) && defined(__linux__) &&                                                   \
    ((defined(__clang__) && __clang_major__ >= 12) ||                                              \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define AMX_BUILD 1
#else
#define AMX_BUILD 0
#endif

#if AMX_BUILD
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))

/* Block sizes: the kernel computes 32 x 32 of C; a packed A block (3 parts x 32 rows x KC)
 * stays in L1/L2 while it meets every 32-column strip of the packed B panel (3 parts x KC x
 * NC), which stays in L2. */
/* In the training step (bench_train small 256 8 8, interleaved): KC 512 made 2,750-3,060
 * tok/s, 1024 2,780-2,970 and 2,048 2,490-2,525; 256 and a 1 MiB panel were within the
 * noise of 512; 128-deep sub-blocks of A held in L1 lost 15% (C goes back to memory more
 * often), though they ran the kernel alone 20% faster. */
enum { MR = 32, NR = 32, KB = 32, KC_MAX = 512, B_PANEL_BYTES = 1536 * 1024 };

// ---- detection ----

/* Linux's arch_prctl: ask for the tile data state (XFEATURE 18), off by default. */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    unsigned avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    unsigned amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    if (!(avx512f && avx512bw && avx512vl && amx_bf16 && amx_tile))
        return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) /* AVX512_BF16 */
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) /* OSXSAVE */
        return 0;
    uint32_t xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    /* SSE, AVX, opmask, ZMM state; tile config and data */
    if ((xlo & 0xE6u) != 0xE6u || (xlo & (3u << 17)) != (3u << 17))
        return 0;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_avail;
static pthread_key_t g_key;
static int g_key_ok;

static void amx_init_once(void) {
    g_avail = amx_probe();
    g_key_ok = pthread_key_create(&g_key, agora_free_aligned) == 0;
    if (!g_key_ok)
        g_avail = 0;
}

int agora__amx_available(void) {
    pthread_once(&g_once, amx_init_once);
    return g_avail;
}

/* This thread's packing buffer (A block, then B panel), grown on demand; freed at thread
 * exit by the key's destructor. */
static _Thread_local void *t_buf;
static _Thread_local size_t t_cap;

static void *amx_buffer(size_t bytes) {
    if (bytes <= t_cap)
        return t_buf;
    void *p = agora_malloc_aligned(bytes);
    if (p == NULL)
        return NULL;
    agora_free_aligned(t_buf);
    t_buf = p;
    t_cap = bytes;
    (void)pthread_setspecific(g_key, p);
    return p;
}

// ---- splitting fp32 into three bf16 parts ----

typedef struct {
    __m256i h, m, l;
} parts16;

AMX_FN static inline __m512 bf16_widen(__m256i v) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

/* x = h + m + l, each rounded to nearest even: exact unless a part underflows. */
AMX_FN static inline parts16 split16(__m512 x) {
    parts16 p;
    p.h = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 r = _mm512_sub_ps(x, bf16_widen(p.h));
    p.m = (__m256i)_mm512_cvtneps_pbh(r);
    r = _mm512_sub_ps(r, bf16_widen(p.m));
    p.l = (__m256i)_mm512_cvtneps_pbh(r);
    return p;
}

/* r[i][j] <- r[j][i], 16 x 16 fp32 in registers. */
AMX_FN static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    /* u[4g + c], 128-bit lane L: rows 4g..4g+3 of column 4L + c */
    for (int c = 0; c < 4; c++) {
        __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
        __m512 w = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 v2 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v, w, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v, w, 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(v2, w2, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(v2, w2, 0xDD);
    }
}

static inline __mmask16 mask_n(size_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* 16 floats of row `row` (of `rows`), columns col.. (of `cols`), zeros outside. */
AMX_FN static inline __m512 load16(const float *p, size_t ld, size_t row, size_t rows, size_t col,
                                   size_t cols) {
    if (row >= rows || col >= cols)
        return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(mask_n(cols - col), p + row * ld + col);
}

// ---- packing ----

/* A block: rows mr (<= 32) x kc of A' at (i0, k0) -> three parts, each kcb tiles of
 * 32 rows x 32 bf16 (a tile's row is 64 bytes). part stride pa elements. */
AMX_FN static void pack_a(int ta, const float *A, size_t lda, size_t i0, size_t mr, size_t k0,
                          size_t kc, uint16_t *Ap, size_t pa) {
    size_t kcb = (kc + KB - 1) / KB;
    for (size_t kb = 0; kb < kcb; kb++) {
        uint16_t *dst = Ap + kb * MR * KB;
        if (!ta) {
            const float *a = A + i0 * lda + k0;
            for (size_t r = 0; r < MR; r++)
                for (size_t h = 0; h < 2; h++) {
                    parts16 p = split16(load16(a, lda, r, mr, kb * KB + h * 16, kc));
                    uint16_t *o = dst + r * KB + h * 16;
                    _mm256_store_si256((__m256i *)o, p.h);
                    _mm256_store_si256((__m256i *)(o + pa), p.m);
                    _mm256_store_si256((__m256i *)(o + 2 * pa), p.l);
                }
        } else {
            /* A' (r, k) = A[(k0 + k) lda + i0 + r]: 16 x 16 blocks, transposed */
            const float *a = A + k0 * lda + i0;
            for (size_t rb = 0; rb < MR; rb += 16)
                for (size_t h = 0; h < 2; h++) {
                    __m512 v[16];
                    for (size_t i = 0; i < 16; i++)
                        v[i] = load16(a, lda, kb * KB + h * 16 + i, kc, rb, mr);
                    transpose16(v);
                    for (size_t i = 0; i < 16; i++) {
                        parts16 p = split16(v[i]);
                        uint16_t *o = dst + (rb + i) * KB + h * 16;
                        _mm256_store_si256((__m256i *)o, p.h);
                        _mm256_store_si256((__m256i *)(o + pa), p.m);
                        _mm256_store_si256((__m256i *)(o + 2 * pa), p.l);
                    }
                }
        }
    }
}

/* Two k rows of 16 columns (x0 = row 2p, x1 = row 2p + 1) -> one B tile row per part, the
 * pairs interleaved (the tile unit's layout for B: k pairs side by side). */
AMX_FN static inline void store_pair(uint16_t *o, size_t pb, __m512 x0, __m512 x1) {
    parts16 p0 = split16(x0), p1 = split16(x1);
    __m512i h = _mm512_or_si512(_mm512_cvtepu16_epi32(p0.h),
                                _mm512_slli_epi32(_mm512_cvtepu16_epi32(p1.h), 16));
    __m512i m = _mm512_or_si512(_mm512_cvtepu16_epi32(p0.m),
                                _mm512_slli_epi32(_mm512_cvtepu16_epi32(p1.m), 16));
    __m512i l = _mm512_or_si512(_mm512_cvtepu16_epi32(p0.l),
                                _mm512_slli_epi32(_mm512_cvtepu16_epi32(p1.l), 16));
    _mm512_store_si512((__m512i *)o, h);
    _mm512_store_si512((__m512i *)(o + pb), m);
    _mm512_store_si512((__m512i *)(o + 2 * pb), l);
}

/* B panel: kc x nc of B' at (k0, j0) -> three parts, each ncb x kcb tiles of 16 k pairs x
 * 16 columns (512 bf16), column block major. part stride pb elements. */
AMX_FN static void pack_b(int tb, const float *B, size_t ldb, size_t k0, size_t kc, size_t j0,
                          size_t nc, uint16_t *Bp, size_t pb) {
    size_t kcb = (kc + KB - 1) / KB, ncb = (nc + 15) / 16;
    for (size_t nb = 0; nb < ncb; nb++)
        for (size_t kb = 0; kb < kcb; kb++) {
            uint16_t *dst = Bp + (nb * kcb + kb) * 512;
            if (!tb) {
                const float *b = B + k0 * ldb + j0;
                for (size_t p = 0; p < 16; p++) {
                    size_t k = kb * KB + 2 * p;
                    store_pair(dst + p * 32, pb, load16(b, ldb, k, kc, nb * 16, nc),
                               load16(b, ldb, k + 1, kc, nb * 16, nc));
                }
            } else {
                /* B' (k, n) = B[(j0 + n) ldb + k0 + k]: rows n, transposed per 16 k */
                const float *b = B + j0 * ldb + k0;
                for (size_t h = 0; h < 2; h++) {
                    __m512 v[16];
                    for (size_t i = 0; i < 16; i++)
                        v[i] = load16(b, ldb, nb * 16 + i, nc, kb * KB + h * 16, kc);
                    transpose16(v); /* v[i]: k = kb*32 + h*16 + i, 16 columns */
                    for (size_t p = 0; p < 8; p++)
                        store_pair(dst + (h * 8 + p) * 32, pb, v[2 * p], v[2 * p + 1]);
                }
            }
        }
}

// ---- the kernel ----

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

/* Eight tiles of 16 rows x 64 bytes. Static, so it is in memory whole: the intrinsic's asm
 * tells the compiler it reads only the first 8 bytes. */
static const tile_cfg g_tile_cfg __attribute__((aligned(64))) = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

/* GCC's tile intrinsics are asm without a memory clobber: the compiler would not know that a
 * tile load reads what packing just wrote, or that a tile store writes C. */
#define MEM_BARRIER() __asm__ volatile("" ::: "memory")

/* C tiles 0-3 (32 x 32 of C, 2 x 2) += A block x B strip over kcb k blocks, the six partial
 * products: tiles 4-5 hold A's part (rows 0-15, 16-31), 6-7 B's (columns 0-15, 16-31). */
#define AMX_DP4()                                                                                  \
    do {                                                                                           \
        _tile_dpbf16ps(0, 4, 6);                                                                   \
        _tile_dpbf16ps(1, 4, 7);                                                                   \
        _tile_dpbf16ps(2, 5, 6);                                                                   \
        _tile_dpbf16ps(3, 5, 7);                                                                   \
    } while (0)
#define AMX_LOAD_B(part)                                                                           \
    do {                                                                                           \
        _tile_loadd(6, b0 + (part)*pb, 64);                                                        \
        _tile_loadd(7, b1 + (part)*pb, 64);                                                        \
    } while (0)

AMX_FN static void kernel_32x32(const uint16_t *Ap, size_t pa, const uint16_t *B0,
                                const uint16_t *B1, size_t pb, size_t kcb) {
    for (size_t kb = 0; kb < kcb; kb++) {
        const uint16_t *a = Ap + kb * MR * KB, *b0 = B0 + kb * 512, *b1 = B1 + kb * 512;
        _tile_loadd(4, a, 64); /* h */
        _tile_loadd(5, a + 16 * KB, 64);
        AMX_LOAD_B(0);
        AMX_DP4();
        AMX_LOAD_B(1);
        AMX_DP4();
        AMX_LOAD_B(2);
        AMX_DP4();
        _tile_loadd(4, a + pa, 64); /* m */
        _tile_loadd(5, a + pa + 16 * KB, 64);
        AMX_LOAD_B(0);
        AMX_DP4();
        AMX_LOAD_B(1);
        AMX_DP4();
        _tile_loadd(4, a + 2 * pa, 64); /* l */
        _tile_loadd(5, a + 2 * pa + 16 * KB, 64);
        AMX_LOAD_B(0);
        AMX_DP4();
    }
}

/* One 32 x 32 block of C (mr x nr of it valid) += alpha * (A sub-block x B strip over kcb k
 * blocks); first: the first sum into this block, which applies beta (0: C is not read). Full
 * blocks with alpha 1 accumulate in C itself; the rest go through tmp (32 x 32). */
AMX_FN static void block_32x32(const uint16_t *Ap, size_t pa, const uint16_t *b0,
                               const uint16_t *b1, size_t pb, size_t kcb, int first, float alpha,
                               float beta, float *c, size_t ldc, size_t mr, size_t nr, float *tmp) {
    int full = mr == MR && nr == NR && alpha == 1.0f;
    int in_c = full && (!first || beta == 1.0f);
    int store_c = full && (in_c || beta == 0.0f);
    MEM_BARRIER();
    if (in_c) {
        _tile_loadd(0, c, ldc * sizeof(float));
        _tile_loadd(1, c + 16, ldc * sizeof(float));
        _tile_loadd(2, c + 16 * ldc, ldc * sizeof(float));
        _tile_loadd(3, c + 16 * ldc + 16, ldc * sizeof(float));
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    kernel_32x32(Ap, pa, b0, b1, pb, kcb);
    MEM_BARRIER();
    if (store_c) {
        _tile_stored(0, c, ldc * sizeof(float));
        _tile_stored(1, c + 16, ldc * sizeof(float));
        _tile_stored(2, c + 16 * ldc, ldc * sizeof(float));
        _tile_stored(3, c + 16 * ldc + 16, ldc * sizeof(float));
        MEM_BARRIER();
        return;
    }
    _tile_stored(0, tmp, NR * sizeof(float));
    _tile_stored(1, tmp + 16, NR * sizeof(float));
    _tile_stored(2, tmp + 16 * NR, NR * sizeof(float));
    _tile_stored(3, tmp + 16 * NR + 16, NR * sizeof(float));
    MEM_BARRIER();
    for (size_t r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        const float *t = tmp + r * NR;
        if (!first)
            for (size_t n = 0; n < nr; n++)
                cr[n] += alpha * t[n];
        else if (beta == 0.0f)
            for (size_t n = 0; n < nr; n++)
                cr[n] = alpha * t[n];
        else
            for (size_t n = 0; n < nr; n++)
                cr[n] = beta * cr[n] + alpha * t[n];
    }
}

AMX_FN void agora__sgemm_amx(int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                             const float *A, size_t lda, const float *B, size_t ldb, float beta,
                             float *C, size_t ldc) {
    if (M == 0 || N == 0)
        return;
    /* K = 0: nothing to sum, C = beta C; without AMX (a caller that did not ask): the plain
     * loop, same contract */
    if (K == 0 || !agora__amx_available()) {
        agora__sgemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    size_t KC = K <= KC_MAX + KC_MAX / 2 ? K : KC_MAX;
    size_t kcb_max = (KC + KB - 1) / KB;
    /* NC: the widest multiple of 32 whose panel fits the budget, at most N rounded up */
    size_t NC = B_PANEL_BYTES / (3 * 2 * kcb_max * KB) / NR * NR;
    if (NC < NR)
        NC = NR;
    size_t n_up = (N + NR - 1) / NR * NR;
    if (NC > n_up)
        NC = n_up;
    size_t pa = kcb_max * MR * KB, pb = (NC / 16) * kcb_max * 512;
    uint16_t *buf = amx_buffer((3 * pa + 3 * pb) * sizeof(uint16_t) + sizeof(float) * MR * NR);
    if (buf == NULL) { /* no memory for the packing: the plain loop, same contract */
        agora__sgemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    uint16_t *Ap = buf, *Bp = buf + 3 * pa;
    float *tmp = (float *)(Bp + 3 * pb); /* 64-byte aligned: pa, pb are multiples of 512 */
    _tile_loadconfig(&g_tile_cfg);
    for (size_t j0 = 0; j0 < N; j0 += NC) {
        size_t nc = N - j0 < NC ? N - j0 : NC;
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = K - k0 < KC ? K - k0 : KC, kcb = (kc + KB - 1) / KB;
            size_t ncb = (nc + 15) / 16;
            /* this panel's parts lie kcb (not kcb_max) tiles deep; strides stay pb */
            pack_b(tb, B, ldb, k0, kc, j0, nc, Bp, pb);
            int first = k0 == 0;
            for (size_t i0 = 0; i0 < M; i0 += MR) {
                size_t mr = M - i0 < MR ? M - i0 : MR;
                pack_a(ta, A, lda, i0, mr, k0, kc, Ap, pa);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t nr = nc - jr < NR ? nc - jr : NR, nb = jr / 16;
                    const uint16_t *b0 = Bp + nb * kcb * 512;
                    const uint16_t *b1 = nb + 1 < ncb ? b0 + kcb * 512 : b0;
                    block_32x32(Ap, pa, b0, b1, pb, kcb, first, alpha, beta, C + i0 * ldc + j0 + jr,
                                ldc, mr, nr, tmp);
                }
            }
        }
    }
    _tile_release();
}

#else /* !AMX_BUILD */

int agora__amx_available(void) {
    return 0;
}

void agora__sgemm_amx(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                      size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    agora__sgemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#endif
