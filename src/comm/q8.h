/* q8.h: the all-reduce wire codecs (spec §5; docs/comm.md).
 *
 * A codec turns a piece of n floats into `meta || codes` and back:
 *   F32      meta 0 bytes,    codes 4n bytes (the floats, little-endian)
 *   LUT8     meta 1024 bytes (256 x f32 LE bucket means), codes n bytes
 *   MINMAX8  meta 8 bytes (f32 min, f32 step), codes n bytes
 *   E3M0     meta 64 bytes (16 x f32 LE bucket means), codes ceil(n/2) bytes: element i
 *            in byte i/2, low nibble for even i, high nibble for odd i
 * Receivers only ever decode into fp32 (decode_add accumulates, decode_set overwrites);
 * codes are never summed.
 *
 * LUT8 (normative, spec §5.2), for a piece x of n elements:
 *   sigma = sqrt(sum x_i^2) / sqrt(n - 1)   sum in double, 8 interleaved lanes
 *                                            (lane = i mod 8) merged in lane order
 *   scale = 6 sigma / 256
 *   q_i   = clamp(round_half_away(x_i / scale) + 128, 0, 255)
 *   lut[b]= mean of the x_i with q_i == b, 0 if empty; double sums in 4 interleaved
 *           lanes (lane = i mod 4) merged in lane order
 * n < 2, sigma == 0 or a non-finite scale: every code 128 and lut[128] = the mean.
 * Error bound: an element inside the window [-128.5, 127.5]*scale (about +-3 sigma)
 * decodes within one step `scale` = 0.0234 sigma of itself (its bucket mean lies in its
 * bucket); outliers fold into buckets 0 and 255, whose entries are the outliers' means,
 * so the piece sum is preserved up to fp32 rounding.
 *
 * E3M0 (spec §17's 4-bit option: a float with a sign, 3 exponent bits, no mantissa), for
 * a piece x of n elements: amax = max |x_i|; a_i = |x_i| * (1 / amax); level_i = the
 * power of two nearest to a_i in linear terms (floor(log2 a_i), plus one when the
 * mantissa is >= 1.5: bit 22 of the float); e_i = clamp(7 + level_i, 0, 7);
 * code_i = sign_i << 3 | e_i. As with LUT8, the decoder maps code b to lut[b], the mean of
 * the x_i with that code (double sums in 8 interleaved lanes, lane = i mod 8, merged in
 * lane order; 0 if empty), so every bucket's sum
 * is preserved up to fp32 rounding; the codes split [-amax, amax] into 16 log-spaced
 * buckets (magnitudes about amax * 2^(e-7), e = 0 holding everything below amax/96).
 * amax == 0 or not finite, or n < 2: every code 0 and lut[0] = the mean.
 */
#ifndef AGORA_COMM_Q8_H
#define AGORA_COMM_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "agora/comm.h"

#define AGORA_LUT8_META 1024u
#define AGORA_MINMAX8_META 8u
#define AGORA_E3M0_META 64u

/* Bytes of meta, and bytes of codes for n elements (E3M0 packs two elements per byte). */
size_t agora__codec_meta_bytes(agora_codec c);
size_t agora__codec_code_bytes(agora_codec c, size_t n);
/* Elements per code byte: 2 for E3M0, 1 otherwise (F32: 1 element per 4 bytes, 0 here). */
size_t agora__codec_elems_per_byte(agora_codec c);
/* Encoded size of a piece of n elements. */
size_t agora__codec_bytes(agora_codec c, size_t n);

/* LUT8 kernels. _ref is the plain definition above; the fast encoder must give the same
 * codes and LUT bit for bit (tests/unit/test_comm_q8.c). */
void agora__lut8_encode_ref(const float *x, size_t n, uint8_t *codes, float lut[256]);
void agora__lut8_encode(const float *x, size_t n, uint8_t *codes, float lut[256]);
void agora__lut8_decode_ref(const uint8_t *codes, size_t n, const float lut[256], float *out);

/* q8_avx2.c (built only with AVX2 support; q8.c calls them only on CPUs with AVX2).
 * codes_sums_avx2 codes a prefix of x, returns its length (a multiple of 32) and, for each
 * element i of the prefix in order, adds (x_i, 1.0) to the (sum, count) pair
 * acc[2 * ((i mod 4) * AGORA__LUT8_LANE + code_i)] (acc 16-byte aligned). */
#define AGORA__LUT8_LANE 260 /* 256 buckets and padding: lanes 4 KiB apart would alias */
double agora__lut8_sumsq_avx2(const float *x, size_t n);
size_t agora__lut8_codes_sums_avx2(const float *x, size_t n, float scale, uint8_t *codes,
                                   double *acc);
void agora__lut8_decode_set_avx2(const float lut[256], const uint8_t *codes, size_t n, float *dst);
void agora__lut8_decode_add_avx2(const float lut[256], const uint8_t *codes, size_t n, float *dst);
/* E3M0: codes_sums_avx2 codes a prefix of x (returns its length, a multiple of 32) as
 * agora__e3m0_encode does and, in element order, adds x_i to sum[(i mod 8) * 16 + code_i]
 * and counts each code byte in pairs[byte]. decode_* decode elements 0..n (element i in
 * nibble i mod 2 of codes[i / 2]). */
size_t agora__e3m0_codes_sums_avx2(const float *x, size_t n, float inv, uint8_t *codes, double *sum,
                                   uint32_t *pairs);
void agora__e3m0_decode_set_avx2(const float lut[16], const uint8_t *codes, size_t n, float *dst);
void agora__e3m0_decode_add_avx2(const float lut[16], const uint8_t *codes, size_t n, float *dst);
/* Test hook: 0 forces the SSE2/scalar kernels, 1 allows AVX2 where the CPU has it. */
void agora__q8_allow_avx2(int on);

/* MINMAX8: step = (max - min) / 255 in fp32, q = clamp(round_half_away((x - min) / step)),
 * decode min + q * step. max == min or non-finite: every code 0, decodes to min. */
void agora__minmax8_encode(const float *x, size_t n, uint8_t *codes, float *min_out,
                           float *step_out);

/* E3M0: codes (ceil(n/2) bytes) and the bucket means. */
void agora__e3m0_encode(const float *x, size_t n, uint8_t *codes, float lut[16]);

/* agora__codec_encode writes meta || codes of x[0..n) into out (agora__codec_bytes). */
void agora__codec_encode(agora_codec c, const float *x, size_t n, uint8_t *out);
/* Decoding is split so a receiver can decode codes as they stream in: parse the meta once
 * into a decoder, then feed code ranges [i0, i1). */
typedef struct agora_decoder {
    agora_codec codec;
    float lut[256];
    float min, step;
} agora_decoder;
void agora__decoder_init(agora_decoder *d, agora_codec c, const uint8_t *meta);
/* codes holds the bytes of elements i0..i1 (4 each for F32, half a byte for E3M0, 1
 * otherwise); for E3M0, i0 must be even. */
void agora__decode_add(const agora_decoder *d, const uint8_t *codes, size_t n, float *dst);
void agora__decode_set(const agora_decoder *d, const uint8_t *codes, size_t n, float *dst);

#endif /* AGORA_COMM_Q8_H */
