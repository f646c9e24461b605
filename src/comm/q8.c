/* q8.c: the fast codecs: LUT8 (bit-identical to q8_ref.c), MINMAX8 and F32.
 *
 * Implements: encode into meta || codes, streaming decode (add or set).
 * Does not: choose chunk boundaries or move bytes (ring.c).
 * The loops are written so gcc vectorizes them at -O2/-O3 with plain SSE2: rounding is
 * done with truncation plus a fraction test instead of roundf (which needs SSE4.1).
 */
#include "comm/q8.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "comm/wire.h"

size_t agora__codec_meta_bytes(agora_codec c) {
    switch (c) {
    case AGORA_CODEC_LUT8:
        return AGORA_LUT8_META;
    case AGORA_CODEC_MINMAX8:
        return AGORA_MINMAX8_META;
    case AGORA_CODEC_E3M0:
        return AGORA_E3M0_META;
    default:
        return 0;
    }
}

size_t agora__codec_code_bytes(agora_codec c, size_t n) {
    return c == AGORA_CODEC_F32 ? 4 * n : (c == AGORA_CODEC_E3M0 ? (n + 1) / 2 : n);
}

size_t agora__codec_elems_per_byte(agora_codec c) {
    return c == AGORA_CODEC_F32 ? 0 : (c == AGORA_CODEC_E3M0 ? 2 : 1);
}

size_t agora__codec_bytes(agora_codec c, size_t n) {
    return agora__codec_meta_bytes(c) + agora__codec_code_bytes(c, n);
}

// ---- LUT8 ----

static _Atomic int g_allow_avx2 = 1;

void agora__q8_allow_avx2(int on) {
    atomic_store(&g_allow_avx2, on ? 1 : 0);
}

/* The AVX2 kernels (q8_avx2.c) give the same bits; use them when the CPU has AVX2. */
static bool use_avx2(void) {
#if defined(AGORA_HAVE_Q8_AVX2) && (defined(__x86_64__) || defined(__i386__))
    static _Atomic int cached = -1;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c < 0) { /* every thread computes the same value */
        c = __builtin_cpu_supports("avx2") ? 1 : 0;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c == 1 && atomic_load_explicit(&g_allow_avx2, memory_order_relaxed);
#else
    return false;
#endif
}

static double sumsq8(const float *x, size_t n) {
    double l0 = 0, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0, l7 = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        l0 += (double)x[i + 0] * (double)x[i + 0];
        l1 += (double)x[i + 1] * (double)x[i + 1];
        l2 += (double)x[i + 2] * (double)x[i + 2];
        l3 += (double)x[i + 3] * (double)x[i + 3];
        l4 += (double)x[i + 4] * (double)x[i + 4];
        l5 += (double)x[i + 5] * (double)x[i + 5];
        l6 += (double)x[i + 6] * (double)x[i + 6];
        l7 += (double)x[i + 7] * (double)x[i + 7];
    }
    double lane[8] = {l0, l1, l2, l3, l4, l5, l6, l7};
    for (size_t k = 0; i < n; i++, k++)
        lane[k] += (double)x[i] * (double)x[i];
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += lane[l];
    return s;
}

/* round_half_away(v) for v already clamped to [-129, 128]. */
static inline int round_away(float v) {
    float a = fabsf(v);
    int t = (int)a;
    t += (a - (float)t) >= 0.5f;
    return v < 0.0f ? -t : t;
}

#ifdef __SSE2__
/* Four floats -> four round_half_away(clamp(x / scale, -129, 128)) as int32. maxps returns
 * its second operand for NaN, so NaN maps to -129 exactly as fmaxf does in q8_ref.c. */
static inline __m128i round4(__m128 v) {
    const __m128 sign = _mm_set1_ps(-0.0f);
    __m128 a = _mm_andnot_ps(sign, v);
    __m128i t = _mm_cvttps_epi32(a);
    __m128 frac = _mm_sub_ps(a, _mm_cvtepi32_ps(t));
    t = _mm_sub_epi32(t, _mm_castps_si128(_mm_cmpge_ps(frac, _mm_set1_ps(0.5f))));
    __m128i neg = _mm_castps_si128(_mm_cmplt_ps(v, _mm_setzero_ps()));
    return _mm_sub_epi32(_mm_xor_si128(t, neg), neg);
}

static inline __m128i lut8_q4(const float *x, __m128 scale) {
    __m128 v = _mm_div_ps(_mm_loadu_ps(x), scale);
    v = _mm_min_ps(_mm_max_ps(v, _mm_set1_ps(-129.0f)), _mm_set1_ps(128.0f));
    return _mm_add_epi32(round4(v), _mm_set1_epi32(128));
}
#endif

static void lut8_codes(const float *x, size_t n, float scale, uint8_t *codes) {
    size_t i = 0;
#ifdef __SSE2__
    __m128 sc = _mm_set1_ps(scale);
    for (; i + 16 <= n; i += 16) {
        __m128i a = lut8_q4(x + i, sc), b = lut8_q4(x + i + 4, sc);
        __m128i c = lut8_q4(x + i + 8, sc), d = lut8_q4(x + i + 12, sc);
        /* signed saturation to int16, then unsigned saturation to 0..255 = the clamp */
        __m128i q = _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
        _mm_storeu_si128((__m128i *)(void *)(codes + i), q);
    }
#endif
    for (; i < n; i++) {
        float v = x[i] / scale;
        v = v > -129.0f ? v : -129.0f; /* also maps NaN to -129, like fmaxf */
        v = v < 128.0f ? v : 128.0f;
        int q = round_away(v) + 128;
        q = q < 0 ? 0 : (q > 255 ? 255 : q);
        codes[i] = (uint8_t)q;
    }
}

/* Bucket sums in 4 interleaved lanes (lane = i mod 4), so consecutive elements that land
 * in the same bucket do not wait on each other; q8_ref.c sums in the same order. Each
 * bucket keeps its sum and its count side by side, the count as a double (exact below
 * 2^53), so an element costs one 16-byte load, add and store: random stores commit about
 * one per cycle, and a separate count array made them two. */
typedef double lut8_acc[4][AGORA__LUT8_LANE][2];

/* Adds elements i0..n (i0 a multiple of 4) to acc, in element order within each lane. */
static void lut8_sums(const float *x, const uint8_t *codes, size_t i0, size_t n, lut8_acc acc) {
    size_t i = i0;
#ifdef __SSE2__
    const __m128d one = _mm_set1_pd(1.0);
    for (; i + 4 <= n; i += 4) {
        uint32_t c; /* codes i..i+3, first in the low byte (little-endian host, wire.h) */
        memcpy(&c, codes + i, 4);
        __m128 v = _mm_loadu_ps(x + i);
        __m128d lo = _mm_cvtps_pd(v), hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));
        double *p0 = acc[0][c & 255u], *p1 = acc[1][(c >> 8) & 255u];
        double *p2 = acc[2][(c >> 16) & 255u], *p3 = acc[3][c >> 24];
        _mm_store_pd(p0, _mm_add_pd(_mm_load_pd(p0), _mm_unpacklo_pd(lo, one)));
        _mm_store_pd(p1, _mm_add_pd(_mm_load_pd(p1), _mm_unpackhi_pd(lo, one)));
        _mm_store_pd(p2, _mm_add_pd(_mm_load_pd(p2), _mm_unpacklo_pd(hi, one)));
        _mm_store_pd(p3, _mm_add_pd(_mm_load_pd(p3), _mm_unpackhi_pd(hi, one)));
    }
#endif
    for (; i < n; i++) {
        double *p = acc[i & 3][codes[i]];
        p[0] += (double)x[i];
        p[1] += 1.0;
    }
}

/* Codes, and lut[b] = the lanes' sums merged in lane order over the count. */
static void lut8_codes_lut(const float *x, size_t n, float scale, uint8_t *codes, float lut[256]) {
    _Alignas(16) lut8_acc acc;
    memset(acc, 0, sizeof acc);
    size_t i = 0;
#ifdef AGORA_HAVE_Q8_AVX2
    if (use_avx2()) /* codes and sums in one pass over x */
        i = agora__lut8_codes_sums_avx2(x, n, scale, codes, &acc[0][0][0]);
#endif
    lut8_codes(x + i, n - i, scale, codes + i);
    lut8_sums(x, codes, i, n, acc);
    for (int b = 0; b < 256; b++) {
        double s = acc[0][b][0] + acc[1][b][0] + acc[2][b][0] + acc[3][b][0];
        double c = acc[0][b][1] + acc[1][b][1] + acc[2][b][1] + acc[3][b][1];
        lut[b] = c > 0.0 ? (float)(s / c) : 0.0f;
    }
}

void agora__lut8_encode(const float *x, size_t n, uint8_t *codes, float lut[256]) {
    double ss = 0.0;
#ifdef AGORA_HAVE_Q8_AVX2
    if (n >= 2 && use_avx2())
        ss = agora__lut8_sumsq_avx2(x, n);
    else
#endif
        if (n >= 2)
        ss = sumsq8(x, n);
    float sigma = n < 2 ? 0.0f : (float)(sqrt(ss) / sqrt((double)(n - 1)));
    float scale = 6.0f * sigma / 256.0f;
    if (!(scale > 0.0f) || !isfinite(scale)) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += (double)x[i];
        memset(lut, 0, 256 * sizeof(float));
        lut[128] = n ? (float)(s / (double)n) : 0.0f;
        memset(codes, 128, n);
        return;
    }
    lut8_codes_lut(x, n, scale, codes, lut);
}

// ---- MINMAX8 ----

void agora__minmax8_encode(const float *x, size_t n, uint8_t *codes, float *min_out,
                           float *step_out) {
    float mn = INFINITY, mx = -INFINITY; /* not FLT_MIN: spec §5.3's PCCL bug */
    size_t i = 0;
#ifdef __SSE2__
    __m128 vmn = _mm_set1_ps(INFINITY), vmx = _mm_set1_ps(-INFINITY);
    for (; i + 4 <= n; i += 4) { /* NaN never wins: minps/maxps return the 2nd operand */
        __m128 v = _mm_loadu_ps(x + i);
        vmn = _mm_min_ps(v, vmn);
        vmx = _mm_max_ps(v, vmx);
    }
    float lmn[4], lmx[4];
    _mm_storeu_ps(lmn, vmn);
    _mm_storeu_ps(lmx, vmx);
    for (int l = 0; l < 4; l++) {
        mn = lmn[l] < mn ? lmn[l] : mn;
        mx = lmx[l] > mx ? lmx[l] : mx;
    }
#endif
    for (; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    float step = (mx - mn) / 255.0f;
    if (n == 0 || !(step > 0.0f) || !isfinite(step)) {
        *min_out = n ? mn : 0.0f;
        *step_out = 0.0f;
        memset(codes, 0, n);
        return;
    }
    i = 0;
#ifdef __SSE2__
    __m128 vm = _mm_set1_ps(mn), vs = _mm_set1_ps(step);
    for (; i + 16 <= n; i += 16) {
        __m128i q[4];
        for (int k = 0; k < 4; k++) {
            __m128 v = _mm_div_ps(_mm_sub_ps(_mm_loadu_ps(x + i + 4 * k), vm), vs);
            v = _mm_min_ps(_mm_max_ps(v, _mm_setzero_ps()), _mm_set1_ps(255.0f));
            q[k] = round4(v);
        }
        _mm_storeu_si128(
            (__m128i *)(void *)(codes + i),
            _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3])));
    }
#endif
    for (; i < n; i++) {
        float v = (x[i] - mn) / step;
        v = v > 0.0f ? v : 0.0f;
        v = v < 255.0f ? v : 255.0f;
        codes[i] = (uint8_t)round_away(v);
    }
    *min_out = mn;
    *step_out = step;
}

// ---- E3M0 ----

/* The 4-bit code of x under inv = 1 / amax (see q8.h), on the float's bits: the biased
 * exponent of a = |x| * inv is level + 127, and bit 22 rounds a mantissa >= 1.5 up. */
static inline uint32_t e3m0_code(float x, float inv) {
    float a = fabsf(x) * inv;
    uint32_t u, ux;
    memcpy(&u, &a, 4);
    memcpy(&ux, &x, 4);
    int32_t e = (int32_t)(u >> 23) - 120 + (int32_t)((u >> 22) & 1u); /* 7 + level */
    e = e < 0 ? 0 : (e > 7 ? 7 : e);
    return (ux >> 31) << 3 | (uint32_t)e;
}

#ifdef __SSE2__
/* Codes of 4 floats as in e3m0_code, each in the low nibble of a 32-bit lane. */
static inline __m128i e3m0_code4(__m128 x, __m128 inv) {
    __m128i ux = _mm_castps_si128(x);
    __m128i u = _mm_castps_si128(
        _mm_mul_ps(_mm_and_ps(x, _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff))), inv));
    __m128i e = _mm_add_epi32(_mm_sub_epi32(_mm_srli_epi32(u, 23), _mm_set1_epi32(120)),
                              _mm_and_si128(_mm_srli_epi32(u, 22), _mm_set1_epi32(1)));
    __m128i hi = _mm_cmpgt_epi32(e, _mm_set1_epi32(7));
    e = _mm_or_si128(_mm_andnot_si128(hi, e), _mm_and_si128(hi, _mm_set1_epi32(7)));
    e = _mm_andnot_si128(_mm_cmpgt_epi32(_mm_setzero_si128(), e), e);
    return _mm_or_si128(e, _mm_slli_epi32(_mm_srli_epi32(ux, 31), 3));
}

/* Two code bytes from 4 lanes of codes: (c0 | c1 << 4, c2 | c3 << 4) in dwords 0 and 1. */
static inline __m128i e3m0_pair4(__m128i c) {
    __m128i t = _mm_or_si128(c, _mm_srli_epi64(c, 28));
    return _mm_shuffle_epi32(t, _MM_SHUFFLE(3, 1, 2, 0));
}
#endif

/* Codes of pairs, 16 elements per SSE2 step, the rest one pair at a time. */
static void e3m0_codes(const float *x, size_t n, float inv, uint8_t *codes) {
    size_t j = 0;
#ifdef __SSE2__
    __m128 vi = _mm_set1_ps(inv);
    for (; 2 * j + 16 <= n; j += 8) {
        const float *p = x + 2 * j;
        __m128i b01 = _mm_unpacklo_epi64(e3m0_pair4(e3m0_code4(_mm_loadu_ps(p), vi)),
                                         e3m0_pair4(e3m0_code4(_mm_loadu_ps(p + 4), vi)));
        __m128i b23 = _mm_unpacklo_epi64(e3m0_pair4(e3m0_code4(_mm_loadu_ps(p + 8), vi)),
                                         e3m0_pair4(e3m0_code4(_mm_loadu_ps(p + 12), vi)));
        __m128i w = _mm_packs_epi32(b01, b23);
        _mm_storel_epi64((__m128i *)(void *)(codes + j), _mm_packus_epi16(w, w));
    }
#endif
    for (; j < n / 2; j++)
        codes[j] = (uint8_t)(e3m0_code(x[2 * j], inv) | e3m0_code(x[2 * j + 1], inv) << 4);
    if (n & 1)
        codes[n / 2] = (uint8_t)e3m0_code(x[n - 1], inv);
}

void agora__e3m0_encode(const float *x, size_t n, uint8_t *codes, float lut[16]) {
    float amax = 0.0f;
    size_t i = 0;
#ifdef __SSE2__
    /* NaN never wins: maxps returns the 2nd operand. Four chains of maxps, and a prefetch
     * 4 KiB ahead, keep the (usually cold) piece streaming in; max is exact in any order. */
    const __m128 abs = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    __m128 vm = _mm_setzero_ps(), vm1 = vm, vm2 = vm, vm3 = vm;
    for (; i + 16 + 1024 <= n; i += 16) {
        _mm_prefetch((const char *)(x + i + 1024), _MM_HINT_T0);
        vm = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i), abs), vm);
        vm1 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i + 4), abs), vm1);
        vm2 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i + 8), abs), vm2);
        vm3 = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i + 12), abs), vm3);
    }
    for (; i + 4 <= n; i += 4)
        vm = _mm_max_ps(_mm_and_ps(_mm_loadu_ps(x + i), abs), vm);
    vm = _mm_max_ps(_mm_max_ps(vm, vm1), _mm_max_ps(vm2, vm3));
    float lm[4];
    _mm_storeu_ps(lm, vm);
    for (int l = 0; l < 4; l++)
        amax = lm[l] > amax ? lm[l] : amax;
#endif
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    float inv = 1.0f / amax;
    for (int b = 0; b < 16; b++)
        lut[b] = 0.0f;
    if (n < 2 || !(amax > 0.0f) || !isfinite(amax) || !isfinite(inv)) {
        memset(codes, 0, (n + 1) / 2);
        double s = 0;
        for (size_t k = 0; k < n; k++)
            s += x[k];
        lut[0] = n ? (float)(s / (double)n) : 0.0f;
        return;
    }
    /* bucket sums in double, element i in lane i mod 8 (eight independent chains: the 16
     * buckets are few, so one chain would wait on its own previous add to the same
     * bucket), lanes merged in order: a fixed order, so every encoder computes the same
     * table. Counts come from histograms of code bytes (two codes each), four of them so
     * that runs of one byte do not wait on one counter. */
    double sum[8][16] = {{0}};
    uint32_t pairs[4][256] = {{0}};
    i = 0;
#ifdef AGORA_HAVE_Q8_AVX2
    if (use_avx2()) /* codes and sums in one pass over x */
        i = agora__e3m0_codes_sums_avx2(x, n, inv, codes, &sum[0][0], pairs[0]);
#endif
    e3m0_codes(x + i, n - i, inv, codes + i / 2); /* i is even */
    for (; i + 8 <= n; i += 8) {
        const uint8_t *c = codes + i / 2;
        for (int l = 0; l < 8; l++)
            sum[l][((uint32_t)c[l / 2] >> (4 * (l & 1))) & 15u] += x[i + (size_t)l];
        pairs[0][c[0]]++;
        pairs[1][c[1]]++;
        pairs[2][c[2]]++;
        pairs[3][c[3]]++;
    }
    uint32_t cnt[16] = {0};
    for (; i < n; i++) {
        uint32_t q = ((uint32_t)codes[i / 2] >> (4 * (i & 1))) & 15u;
        sum[i & 7][q] += x[i];
        cnt[q]++;
    }
    for (int b = 0; b < 256; b++) {
        uint32_t p = pairs[0][b] + pairs[1][b] + pairs[2][b] + pairs[3][b];
        cnt[b & 15] += p;
        cnt[b >> 4] += p;
    }
    for (int b = 0; b < 16; b++) {
        double t = 0;
        for (int l = 0; l < 8; l++)
            t += sum[l][b];
        lut[b] = cnt[b] ? (float)(t / (double)cnt[b]) : 0.0f;
    }
}

// ---- generic encode / streaming decode ----

static void put_f32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    agora__put_le32(p, u);
}

static float get_f32(const uint8_t *p) {
    uint32_t u = agora__get_le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void agora__codec_encode(agora_codec c, const float *x, size_t n, uint8_t *out) {
    switch (c) {
    case AGORA_CODEC_LUT8: {
        float lut[256];
        agora__lut8_encode(x, n, out + AGORA_LUT8_META, lut);
        for (int b = 0; b < 256; b++)
            put_f32(out + 4 * b, lut[b]);
        break;
    }
    case AGORA_CODEC_MINMAX8: {
        float mn, step;
        agora__minmax8_encode(x, n, out + AGORA_MINMAX8_META, &mn, &step);
        put_f32(out, mn);
        put_f32(out + 4, step);
        break;
    }
    case AGORA_CODEC_E3M0: {
        float lut[16];
        agora__e3m0_encode(x, n, out + AGORA_E3M0_META, lut);
        for (int b = 0; b < 16; b++)
            put_f32(out + 4 * b, lut[b]);
        break;
    }
    default:
        memcpy(out, x, n * sizeof(float)); /* little-endian host (wire.h) */
        break;
    }
}

void agora__decoder_init(agora_decoder *d, agora_codec c, const uint8_t *meta) {
    d->codec = c;
    d->min = d->step = 0.0f;
    if (c == AGORA_CODEC_LUT8 || c == AGORA_CODEC_E3M0) {
        for (int b = 0; b < (c == AGORA_CODEC_LUT8 ? 256 : 16); b++)
            d->lut[b] = get_f32(meta + 4 * b);
    } else if (c == AGORA_CODEC_MINMAX8) {
        d->min = get_f32(meta);
        d->step = get_f32(meta + 4);
    }
}

void agora__decode_add(const agora_decoder *d, const uint8_t *codes, size_t n, float *dst) {
    switch (d->codec) {
    case AGORA_CODEC_LUT8:
#ifdef AGORA_HAVE_Q8_AVX2
        if (use_avx2()) {
            agora__lut8_decode_add_avx2(d->lut, codes, n, dst);
            break;
        }
#endif
        for (size_t i = 0; i < n; i++)
            dst[i] += d->lut[codes[i]];
        break;
    case AGORA_CODEC_MINMAX8:
        for (size_t i = 0; i < n; i++)
            dst[i] += d->min + (float)codes[i] * d->step;
        break;
    case AGORA_CODEC_E3M0:
#ifdef AGORA_HAVE_Q8_AVX2
        if (use_avx2()) {
            agora__e3m0_decode_add_avx2(d->lut, codes, n, dst);
            break;
        }
#endif
        for (size_t i = 0; i < n; i++)
            dst[i] += d->lut[(codes[i / 2] >> (4 * (i & 1))) & 15];
        break;
    default:
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, codes + 4 * i, 4);
            dst[i] += f;
        }
        break;
    }
}

void agora__decode_set(const agora_decoder *d, const uint8_t *codes, size_t n, float *dst) {
    switch (d->codec) {
    case AGORA_CODEC_LUT8:
#ifdef AGORA_HAVE_Q8_AVX2
        if (use_avx2()) {
            agora__lut8_decode_set_avx2(d->lut, codes, n, dst);
            break;
        }
#endif
        for (size_t i = 0; i < n; i++)
            dst[i] = d->lut[codes[i]];
        break;
    case AGORA_CODEC_MINMAX8:
        for (size_t i = 0; i < n; i++)
            dst[i] = d->min + (float)codes[i] * d->step;
        break;
    case AGORA_CODEC_E3M0:
#ifdef AGORA_HAVE_Q8_AVX2
        if (use_avx2()) {
            agora__e3m0_decode_set_avx2(d->lut, codes, n, dst);
            break;
        }
#endif
        for (size_t i = 0; i < n; i++)
            dst[i] = d->lut[(codes[i / 2] >> (4 * (i & 1))) & 15];
        break;
    default:
        memcpy(dst, codes, n * sizeof(float));
        break;
    }
}

// ---- names ----

static const char *const k_codec_names[AGORA__CODEC_COUNT] = {"f32", "int8-lut", "minmax-uint8",
                                                              "e3m0"};

const char *agora_codec_name(agora_codec c) {
    return (unsigned)c < AGORA__CODEC_COUNT ? k_codec_names[c] : "codec-???";
}

agora_err agora_codec_parse(const char *name, agora_codec *out) {
    for (int i = 0; i < AGORA__CODEC_COUNT; i++)
        if (strcmp(name, k_codec_names[i]) == 0) {
            *out = (agora_codec)i;
            return AGORA_OK;
        }
    if (strcmp(name, "lut8") == 0 || strcmp(name, "int8") == 0) {
        *out = AGORA_CODEC_LUT8;
        return AGORA_OK;
    }
    if (strcmp(name, "minmax8") == 0) {
        *out = AGORA_CODEC_MINMAX8;
        return AGORA_OK;
    }
    return AGORA_EINVAL;
}
