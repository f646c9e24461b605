/* q8_avx2.c: LUT8 kernels compiled for AVX2 (this file alone gets
 * -mavx2, and q8.c calls it only on CPUs that have AVX2; see CMakeLists.txt). Bit for bit
 * the definition of q8.h / q8_ref.c: the same fp32 divisions and roundings, the sigma sum
 * in the same 8 double lanes (one ymm holds lanes 0-3, another 4-7; multiply then add,
 * no FMA). The bucket sums stay in q8.c (scalar, 4 double lanes in element order). */
#ifdef __AVX2__
#include <immintrin.h>

#include "comm/q8.h"

double agora__lut8_sumsq_avx2(const float *x, size_t n) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
        hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
    }
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

size_t agora__lut8_codes_avx2(const float *x, size_t n, float scale, uint8_t *codes) {
    __m256 sc = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = codes8(x + i, sc), b = codes8(x + i + 8, sc);
        __m256i c = codes8(x + i + 16, sc), d = codes8(x + i + 24, sc);
        /* int32 -> int16 (signed saturation) -> uint8 (unsigned saturation = the clamp);
         * the packs work per 128-bit lane, the permute puts the 32 codes back in order */
        __m256i q = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)(codes + i), q);
    }
    return i; /* the caller codes the tail */
}

void agora__lut8_decode_set_avx2(const float lut[256], const uint8_t *codes, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i idx =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(codes + i)));
        _mm256_storeu_ps(dst + i, _mm256_i32gather_ps(lut, idx, 4));
    }
    for (; i < n; i++)
        dst[i] = lut[codes[i]];
}

void agora__lut8_decode_add_avx2(const float lut[256], const uint8_t *codes, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i idx =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(codes + i)));
        __m256 v = _mm256_i32gather_ps(lut, idx, 4);
        _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), v));
    }
    for (; i < n; i++)
        dst[i] += lut[codes[i]];
}
#else
typedef int agora__q8_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
