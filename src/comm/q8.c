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
    return c == AGORA_CODEC_LUT8 ? AGORA_LUT8_META
                                 : (c == AGORA_CODEC_MINMAX8 ? AGORA_MINMAX8_META : 0);
}

size_t agora__codec_elem_bytes(agora_codec c) {
    return c == AGORA_CODEC_F32 ? 4 : 1;
}

size_t agora__codec_bytes(agora_codec c, size_t n) {
    return agora__codec_meta_bytes(c) + n * agora__codec_elem_bytes(c);
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
#ifdef AGORA_HAVE_Q8_AVX2
    if (use_avx2())
        i = agora__lut8_codes_avx2(x, n, scale, codes);
#endif
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
 * in the same bucket do not wait on each other; q8_ref.c sums in the same order. */
static void lut8_buckets(const float *x, const uint8_t *codes, size_t n, float lut[256]) {
    double sum[4][256];
    uint32_t cnt[4][256];
    memset(sum, 0, sizeof sum);
    memset(cnt, 0, sizeof cnt);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint8_t c0 = codes[i], c1 = codes[i + 1], c2 = codes[i + 2], c3 = codes[i + 3];
        sum[0][c0] += (double)x[i];
        sum[1][c1] += (double)x[i + 1];
        sum[2][c2] += (double)x[i + 2];
        sum[3][c3] += (double)x[i + 3];
        cnt[0][c0]++;
        cnt[1][c1]++;
        cnt[2][c2]++;
        cnt[3][c3]++;
    }
    for (size_t l = 0; i < n; i++, l++) {
        sum[l][codes[i]] += (double)x[i];
        cnt[l][codes[i]]++;
    }
    for (int b = 0; b < 256; b++) {
        double s = sum[0][b] + sum[1][b] + sum[2][b] + sum[3][b];
        uint64_t c = (uint64_t)cnt[0][b] + cnt[1][b] + cnt[2][b] + cnt[3][b];
        lut[b] = c ? (float)(s / (double)c) : 0.0f;
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
    lut8_codes(x, n, scale, codes);
    lut8_buckets(x, codes, n, lut);
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
    default:
        memcpy(out, x, n * sizeof(float)); /* little-endian host (wire.h) */
        break;
    }
}

void agora__decoder_init(agora_decoder *d, agora_codec c, const uint8_t *meta) {
    d->codec = c;
    d->min = d->step = 0.0f;
    if (c == AGORA_CODEC_LUT8) {
        for (int b = 0; b < 256; b++)
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
    default:
        memcpy(dst, codes, n * sizeof(float));
        break;
    }
}

// ---- names ----

static const char *const k_codec_names[AGORA__CODEC_COUNT] = {"f32", "int8-lut", "minmax-uint8"};

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
