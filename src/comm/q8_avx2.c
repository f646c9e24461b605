/* q8_avx2.c: LUT8 and E3M0 kernels compiled for AVX2 (this file alone gets
 * -mavx2, and q8.c calls it only on CPUs that have AVX2; see CMakeLists.txt). Bit for bit
 * the definition of q8.h / q8_ref.c: the sigma sum in the same 8 double lanes (one ymm
 * holds lanes 0-3, another 4-7; multiply then add, no FMA); the codes by a multiplication
 * that gives the division's code (codes32 says why) or else by the fp32 division itself;
 * the bucket sums in the same 4 double lanes in element order. E3M0 gives what q8.c's
 * scalar and SSE2 code gives: the same code bits, the same 8 double lanes. */
#ifdef __AVX2__
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "comm/q8.h"

/* One lane step: 8 floats into the lane sums lo (lanes 0-3) and hi (lanes 4-7). */
static inline void sumsq8(const float *x, __m256d *lo, __m256d *hi) {
    __m256 v = _mm256_loadu_ps(x);
    __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    *lo = _mm256_add_pd(*lo, _mm256_mul_pd(a, a));
    *hi = _mm256_add_pd(*hi, _mm256_mul_pd(b, b));
}

double agora__lut8_sumsq_avx2(const float *x, size_t n) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    size_t i = 0;
    /* The lanes are two chains of dependent adds, which leaves few loads in flight;
     * prefetching 4 KiB ahead keeps the (usually cold) piece streaming in. */
    for (; i + 16 + 1024 <= n; i += 16) {
        _mm_prefetch((const char *)(x + i + 1024), _MM_HINT_T0);
        sumsq8(x + i, &lo, &hi);
        sumsq8(x + i + 8, &lo, &hi);
    }
    for (; i + 8 <= n; i += 8)
        sumsq8(x + i, &lo, &hi);
    double lane[8];
    _mm256_storeu_pd(lane, lo);
    _mm256_storeu_pd(lane + 4, hi);
    for (size_t k = 0; i < n; i++, k++)
        lane[k] += (double)x[i] * (double)x[i];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += lane[l];
    return s;
}

/* Eight floats -> eight round_half_away(clamp(x / scale, -129, 128)) + 128 as int32.
 * maxps returns its second operand for NaN, so NaN maps to -129 (code 0) as in q8_ref.c. */
static inline __m256i codes8(const float *x, __m256 scale) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), scale);
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-129.0f)), _mm256_set1_ps(128.0f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    __m256i t = _mm256_cvttps_epi32(a);
    __m256 frac = _mm256_sub_ps(a, _mm256_cvtepi32_ps(t));
    t = _mm256_sub_epi32(
        t, _mm256_castps_si256(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
    __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    t = _mm256_sub_epi32(_mm256_xor_si256(t, neg), neg);
    return _mm256_add_epi32(t, _mm256_set1_epi32(128));
}

/* 32 int32 codes (four vectors of 8, in element order) -> 32 bytes: int32 -> int16 (signed
 * saturation) -> uint8 (unsigned saturation = the clamp to 0..255); the packs work per
 * 128-bit lane, the permute puts the 32 codes back in order. */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i q = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* The codes of 32 floats as int32 in 0..255, by multiplying with inv = 1 / scale instead
 * of dividing. The definition's code is round_half_away(clamp(q, -128, 127)) + 128 for
 * q = x / scale (clamping to [-129, 128] and then the code to 0..255 gives the same), a
 * step function of q with its steps at half-integers. With scale and inv normal,
 * v = x * inv is within |v| 2^-22 of q (each within 2^-24 relative of the exact
 * quotient, inv adding another 2^-24), so the clamped v and q lie within 128 * 2^-22 <
 * 2^-13 of each other, and round the same unless v is that close to a half-integer; away
 * from half-integers round-to-nearest-even is round_half_away. When a lane is that close,
 * or when slow (scale outside [2^-100, 2^100]), the 32 are divided as codes8 does. maxps
 * returns its second operand for NaN, so NaN maps to -128 (code 0) as in q8_ref.c. */
static inline __m256 round8_mul(const float *x, __m256 inv, __m256 *near) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), inv);
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
    __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 gap = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, r)); /* exact */
    *near = _mm256_or_ps(*near, _mm256_cmp_ps(gap, _mm256_set1_ps(0.5f - 0x1p-13f), _CMP_GE_OQ));
    return r;
}

static inline void codes32(const float *x, __m256 inv, __m256 scale, __m256 slow, __m256i q[4]) {
    __m256 near = slow, r[4];
    for (int k = 0; k < 4; k++)
        r[k] = round8_mul(x + 8 * k, inv, &near);
    const __m256i off = _mm256_set1_epi32(128);
    if (_mm256_movemask_ps(near) != 0) {
        for (int k = 0; k < 4; k++)
            q[k] =
                _mm256_min_epi32(_mm256_max_epi32(codes8(x + 8 * k, scale), _mm256_setzero_si256()),
                                 _mm256_set1_epi32(255));
        return;
    }
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_add_epi32(_mm256_cvttps_epi32(r[k]), off);
}

#define LUT8_BLOCK 128 /* measured: 32 and 1024 are 10% slower, 64 and 256 a few % */

/* Codes and bucket sums of a prefix of x (a multiple of 32) in one pass (see q8.h): a
 * block of up to LUT8_BLOCK elements is coded into codes and into byte offsets of its (lane,
 * bucket) entry first, then each element adds (x, 1.0) to its entry in element order.
 * The offsets cost one load per element where the byte codes would cost a shift, a mask
 * and an add; splitting the block keeps those loads out of store forwarding. */
size_t agora__lut8_codes_sums_avx2(const float *x, size_t n, float scale, uint8_t *codes,
                                   double *acc) {
    const bool fast = scale >= 0x1p-100f && scale <= 0x1p100f;
    const __m256 sc = _mm256_set1_ps(scale), inv = _mm256_set1_ps(1.0f / scale);
    const __m256 slow = _mm256_castsi256_ps(_mm256_set1_epi32(fast ? 0 : -1));
    const int ls = 16 * AGORA__LUT8_LANE;
    const __m256i lane = _mm256_setr_epi32(0, ls, 2 * ls, 3 * ls, 0, ls, 2 * ls, 3 * ls);
    const __m256d one = _mm256_set1_pd(1.0);
    char *base = (char *)acc;
    _Alignas(32) uint32_t off[LUT8_BLOCK];
    size_t i = 0;
    while (n - i >= 32) {
        size_t len = n - i < LUT8_BLOCK ? (n - i) & ~(size_t)31 : LUT8_BLOCK;
        for (size_t j = 0; j < len; j += 32) {
            __m256i q[4];
            codes32(x + i + j, inv, sc, slow, q);
            for (int k = 0; k < 4; k++)
                _mm256_store_si256((__m256i *)(void *)(off + j + 8 * (size_t)k),
                                   _mm256_add_epi32(_mm256_slli_epi32(q[k], 4), lane));
            _mm256_storeu_si256((__m256i *)(void *)(codes + i + j), pack32(q[0], q[1], q[2], q[3]));
        }
        /* codes is usually cold: fetch its lines 16 blocks ahead of the stores (5-10%) */
        if (i + 2048 + LUT8_BLOCK <= n)
            for (size_t j = 0; j < LUT8_BLOCK; j += 64)
                _mm_prefetch((const char *)(codes + i + 2048 + j), _MM_HINT_T0);
        for (size_t j = 0; j < len; j += 4) {
            __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + j));
            __m256d a = _mm256_unpacklo_pd(v, one), b = _mm256_unpackhi_pd(v, one);
            double *p0 = (double *)(void *)(base + off[j]);
            double *p1 = (double *)(void *)(base + off[j + 1]);
            double *p2 = (double *)(void *)(base + off[j + 2]);
            double *p3 = (double *)(void *)(base + off[j + 3]);
            _mm_store_pd(p0, _mm_add_pd(_mm_load_pd(p0), _mm256_castpd256_pd128(a)));
            _mm_store_pd(p1, _mm_add_pd(_mm_load_pd(p1), _mm256_castpd256_pd128(b)));
            _mm_store_pd(p2, _mm_add_pd(_mm_load_pd(p2), _mm256_extractf128_pd(a, 1)));
            _mm_store_pd(p3, _mm_add_pd(_mm_load_pd(p3), _mm256_extractf128_pd(b, 1)));
        }
        i += len;
    }
    return i;
}

/* The decoders prefetch dst 4 KiB ahead: it is usually cold, and the stores' misses (read
 * for ownership) otherwise bound them (measured 11-13 -> 15-16 GB/s, LUT8 set). */
#define DECODE_PREFETCH 1024 /* floats */

static inline __m256 lut8_lookup8(const float lut[256], const uint8_t *codes) {
    __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)codes));
    return _mm256_i32gather_ps(lut, idx, 4);
}

void agora__lut8_decode_set_avx2(const float lut[256], const uint8_t *codes, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 16 + DECODE_PREFETCH <= n; i += 16) {
        _mm_prefetch((const char *)(dst + i + DECODE_PREFETCH), _MM_HINT_T0);
        _mm256_storeu_ps(dst + i, lut8_lookup8(lut, codes + i));
        _mm256_storeu_ps(dst + i + 8, lut8_lookup8(lut, codes + i + 8));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, lut8_lookup8(lut, codes + i));
    for (; i < n; i++)
        dst[i] = lut[codes[i]];
}

void agora__lut8_decode_add_avx2(const float lut[256], const uint8_t *codes, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 16 + DECODE_PREFETCH <= n; i += 16) {
        _mm_prefetch((const char *)(dst + i + DECODE_PREFETCH), _MM_HINT_T0);
        for (size_t k = i; k < i + 16; k += 8)
            _mm256_storeu_ps(dst + k,
                             _mm256_add_ps(_mm256_loadu_ps(dst + k), lut8_lookup8(lut, codes + k)));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         _mm256_add_ps(_mm256_loadu_ps(dst + i), lut8_lookup8(lut, codes + i)));
    for (; i < n; i++)
        dst[i] += lut[codes[i]];
}

/* E3M0 codes of 8 floats as in q8.c's e3m0_code, one per 32-bit lane. */
static inline __m256i e3m0_code8(__m256 x, __m256 inv) {
    __m256i u = _mm256_castps_si256(
        _mm256_mul_ps(_mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))), inv));
    __m256i e = _mm256_add_epi32(_mm256_sub_epi32(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(120)),
                                 _mm256_and_si256(_mm256_srli_epi32(u, 22), _mm256_set1_epi32(1)));
    e = _mm256_min_epi32(_mm256_max_epi32(e, _mm256_setzero_si256()), _mm256_set1_epi32(7));
    __m256i sign = _mm256_slli_epi32(_mm256_srli_epi32(_mm256_castps_si256(x), 31), 3);
    return _mm256_or_si256(e, sign);
}

size_t agora__e3m0_codes_sums_avx2(const float *x, size_t n, float inv, uint8_t *codes, double *sum,
                                   uint32_t *pairs) {
    if (n < 32)
        return 0;
    const __m256 vi = _mm256_set1_ps(inv);
    const __m256i lane = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    _Alignas(32) uint32_t idx[256];
    uint32_t hist[4][256];
    memset(hist, 0, sizeof hist);
    size_t i = 0;
    while (n - i >= 32) {
        size_t len = n - i < 256 ? (n - i) & ~(size_t)31 : 256;
        for (size_t j = 0; j < len; j += 32) {
            __m256i c[4];
            for (int k = 0; k < 4; k++) {
                c[k] = e3m0_code8(_mm256_loadu_ps(x + i + j + 8 * (size_t)k), vi);
                _mm256_store_si256((__m256i *)(void *)(idx + j + 8 * (size_t)k),
                                   _mm256_add_epi32(c[k], lane));
            }
            /* one code per byte in element order, then byte 2m | byte 2m+1 << 4 */
            __m256i b = pack32(c[0], c[1], c[2], c[3]);
            __m256i w = _mm256_and_si256(_mm256_or_si256(b, _mm256_srli_epi16(b, 4)),
                                         _mm256_set1_epi16(0xff));
            __m256i p =
                _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), _MM_SHUFFLE(3, 1, 2, 0));
            _mm_storeu_si128((__m128i *)(void *)(codes + (i + j) / 2), _mm256_castsi256_si128(p));
        }
        for (size_t j = 0; j < len; j++)
            sum[idx[j]] += (double)x[i + j];
        /* four tables, so that runs of one code byte do not wait on one counter */
        const uint8_t *cb = codes + i / 2;
        for (size_t j = 0; j < len / 2; j += 4) {
            hist[0][cb[j]]++;
            hist[1][cb[j + 1]]++;
            hist[2][cb[j + 2]]++;
            hist[3][cb[j + 3]]++;
        }
        i += len;
    }
    for (int b = 0; b < 256; b++)
        pairs[b] += hist[0][b] + hist[1][b] + hist[2][b] + hist[3][b];
    return i;
}

/* E3M0: the values of 8 codes (element k in nibble k of c) from a 16-entry table held in
 * two vectors: permps looks up the low 3 bits in each, bit 3 (moved to the sign) picks. */
static inline __m256 e3m0_lookup8(uint32_t c, __m256 lo, __m256 hi) {
    __m256i idx = _mm256_srlv_epi32(_mm256_set1_epi32((int)c),
                                    _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx),
                            _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

static inline float e3m0_lookup1(const float lut[16], const uint8_t *codes, size_t i) {
    return lut[(codes[i / 2] >> (4 * (i & 1))) & 15];
}

void agora__e3m0_decode_set_avx2(const float lut[16], const uint8_t *codes, size_t n, float *dst) {
    const __m256 lo = _mm256_loadu_ps(lut), hi = _mm256_loadu_ps(lut + 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if ((i & 15) == 0 && i + DECODE_PREFETCH < n)
            _mm_prefetch((const char *)(dst + i + DECODE_PREFETCH), _MM_HINT_T0);
        uint32_t c; /* little-endian host (wire.h) */
        memcpy(&c, codes + i / 2, 4);
        _mm256_storeu_ps(dst + i, e3m0_lookup8(c, lo, hi));
    }
    for (; i < n; i++)
        dst[i] = e3m0_lookup1(lut, codes, i);
}

void agora__e3m0_decode_add_avx2(const float lut[16], const uint8_t *codes, size_t n, float *dst) {
    const __m256 lo = _mm256_loadu_ps(lut), hi = _mm256_loadu_ps(lut + 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if ((i & 15) == 0 && i + DECODE_PREFETCH < n)
            _mm_prefetch((const char *)(dst + i + DECODE_PREFETCH), _MM_HINT_T0);
        uint32_t c;
        memcpy(&c, codes + i / 2, 4);
        _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), e3m0_lookup8(c, lo, hi)));
    }
    for (; i < n; i++)
        dst[i] += e3m0_lookup1(lut, codes, i);
}
#else
typedef int agora__q8_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
