/* bench_q8.c: quantize + dequantize throughput of the all-reduce codecs, one core,
 * beside a memcpy of the same fp32 buffer measured in the same run. Codes pieces of
 * 128 Ki elements, as the ring does.
 * Figures are GB/s of fp32 input (4 bytes per element); best of --reps runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/rng.h"
#include "agora/time.h"
#include "comm/q8.h"

static double best_gbps(size_t bytes, int64_t best_ns) {
    return (double)bytes / (double)best_ns;
}

int main(int argc, char **argv) {
    size_t n = (size_t)(argc > 1 ? atol(argv[1]) : 16 << 20); /* elements */
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    float *x = agora_malloc_aligned(n * sizeof(float)),
          *y = agora_malloc_aligned(n * sizeof(float));
    uint8_t *enc = agora_malloc_aligned(n * sizeof(float) + (n / (128 << 10) + 1) * 1024);
    if (!x || !y || !enc)
        return 1;
    agora_rng r;
    agora_rng_seed(&r, 1, AGORA_RNG_STREAM_TEST, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)agora_rng_normal(&r);
    memset(y, 0, n * sizeof(float));
    memset(enc, 0, n * sizeof(float) + (n / (128 << 10) + 1) * 1024);
    int64_t best = INT64_MAX;
    for (int k = 0; k < reps; k++) {
        int64_t t0 = agora_now_ns();
        memcpy(y, x, n * sizeof(float));
        int64_t t = agora_now_ns() - t0;
        best = t < best ? t : best;
    }
    double memcpy_gbps = best_gbps(n * sizeof(float), best);
    printf("memcpy                      %7.2f GB/s\n", memcpy_gbps);
    const agora_codec codecs[] = {AGORA_CODEC_LUT8, AGORA_CODEC_MINMAX8, AGORA_CODEC_E3M0};
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        int64_t be = INT64_MAX, bd = INT64_MAX;
        /* the ring codes pieces of 128 Ki elements (ring.c PIECE_ELEMS): do the same */
        size_t piece = (size_t)128 << 10, m = agora__codec_meta_bytes(codecs[c]);
        for (int k = 0; k < reps; k++) {
            int64_t te = 0, td = 0;
            for (size_t off = 0; off < n; off += piece) {
                size_t len = n - off < piece ? n - off : piece;
                uint8_t *e = enc + (off / piece) * m + agora__codec_code_bytes(codecs[c], off);
                int64_t t0 = agora_now_ns();
                agora__codec_encode(codecs[c], x + off, len, e);
                int64_t t1 = agora_now_ns();
                agora_decoder d;
                agora__decoder_init(&d, codecs[c], e);
                agora__decode_set(&d, e + m, len, y + off);
                te += t1 - t0;
                td += agora_now_ns() - t1;
            }
            be = te < be ? te : be;
            bd = td < bd ? td : bd;
        }
        double both = best_gbps(n * sizeof(float), be + bd);
        printf("%-13s quantize %7.2f GB/s, dequantize %7.2f GB/s, both %6.2f GB/s = %.2fx memcpy\n",
               agora_codec_name(codecs[c]), best_gbps(n * sizeof(float), be),
               best_gbps(n * sizeof(float), bd), both, both / memcpy_gbps);
    }
    agora_free_aligned(x);
    agora_free_aligned(y);
    agora_free_aligned(enc);
    return 0;
}
