/* rng.h: agora's own random numbers: Philox4x32-10, counter-based.
 *
 * Algorithm: Philox4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC'11), the generator behind cuRAND's and JAX's counter-based streams.
 * A block is philox(key, counter) -> four uint32 words. agora maps
 *     key     = the 64-bit global seed,
 *     counter = (draw counter low 32 bits, draw counter high 32 bits, index, stream),
 * so every (seed, stream, index) triple names an independent stream of 2^64 blocks, and
 * the value of draw k of any stream can be computed directly (agora_rng_at) without
 * replaying the k draws before it. Results therefore never depend on which thread, or how
 * many threads, consumed which stream: give each agent, rank or shard its own index.
 *
 * Streams are named by the agora_rng_stream ids below; add new ids at the end.
 * Never use rand() or a seed taken from the clock.
 */
#ifndef AGORA_RNG_H
#define AGORA_RNG_H

#include <stdint.h>

#include "agora/agora.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stream ids: the fourth counter word. Values are frozen (they change results). */
enum agora_rng_stream {
    AGORA_RNG_STREAM_TEST = 0,
    AGORA_RNG_STREAM_INIT = 1,       /* model weight init */
    AGORA_RNG_STREAM_DATA = 2,       /* data-loader shuffles */
    AGORA_RNG_STREAM_DROPOUT = 3,    /* training-time sampling */
    AGORA_RNG_STREAM_SAMPLE = 4,     /* generation sampling */
    AGORA_RNG_STREAM_COMM = 5,       /* back-off jitter, challenges in tests */
    AGORA_RNG_STREAM_SIM_GRAPH = 16, /* initial network */
    AGORA_RNG_STREAM_SIM_AGENT = 17, /* agent attributes */
    AGORA_RNG_STREAM_SIM_POST = 18,  /* posting */
    AGORA_RNG_STREAM_SIM_FEED = 19,  /* random ranker, reading order */
    AGORA_RNG_STREAM_SIM_ENGAGE = 20,
    AGORA_RNG_STREAM_SIM_OPINION = 21,
    AGORA_RNG_STREAM_SIM_REWIRE = 22,
    AGORA_RNG_STREAM_SIM_TOXIC = 23
};

/* A stream position. Plain data: copy it, save it in a checkpoint, restore it. */
typedef struct agora_rng {
    uint64_t seed;    /* Philox key */
    uint32_t stream;  /* counter word 3 */
    uint32_t index;   /* counter word 2 */
    uint64_t counter; /* next block number */
    uint32_t buf[4];  /* the current block */
    uint32_t used;    /* words of buf consumed, 4 = empty */
} agora_rng;

/* agora_philox4x32 computes one block: out = Philox4x32-10(key, ctr). */
AGORA_API void agora_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* agora_rng_seed positions r at the start of stream (seed, stream, index). */
AGORA_API void agora_rng_seed(agora_rng *r, uint64_t seed, uint32_t stream, uint32_t index);
/* agora_rng_at returns word `word` (0..3) of block `block` of a stream, statelessly. */
AGORA_API uint32_t agora_rng_at(uint64_t seed, uint32_t stream, uint32_t index, uint64_t block,
                                unsigned word);

AGORA_API uint32_t agora_rng_u32(agora_rng *r);
AGORA_API uint64_t agora_rng_u64(agora_rng *r);
/* Uniform in [0, 1), with 53 (double) or 24 (float) random bits. */
AGORA_API double agora_rng_uniform(agora_rng *r);
AGORA_API float agora_rng_uniform_f(agora_rng *r);
/* agora_rng_below returns a uniform integer in [0, n), without modulo bias. n > 0. */
AGORA_API uint32_t agora_rng_below(agora_rng *r, uint32_t n);
AGORA_API uint64_t agora_rng_below64(agora_rng *r, uint64_t n);
/* Standard normal by Box-Muller. One value per call and no cached pair, so k calls
 * always consume exactly 4k words and a saved stream position resumes exactly. */
AGORA_API double agora_rng_normal(agora_rng *r);
/* Exponential with rate 1. */
AGORA_API double agora_rng_exponential(agora_rng *r);
/* Poisson with mean lambda >= 0 (inversion for lambda < 30, PTRS otherwise). */
AGORA_API uint32_t agora_rng_poisson(agora_rng *r, double lambda);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_RNG_H */
