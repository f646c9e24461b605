/* data.h: token shards on disk and the deterministic, resumable, worker-sharded loader.
 *
 * `agora data prepare` (agora_data_prepare) tokenizes a text corpus into a shard
 * directory:
 *   DIR/meta.json        format version, vocab size, dtype, token counts, shard list
 *   DIR/tokenizer.bpe    a copy of the tokenizer (our format), named in meta.json
 *   DIR/train_000.bin    shards: a 64-byte versioned header, then uint16 or uint32 ids
 *   DIR/val_000.bin
 * The byte layout is in docs/data-format.md.
 *
 * The loader concatenates a split's shards into one token stream of N tokens and gives
 * worker w of n the contiguous range [N*w/n, N*(w+1)/n), so workers never share a token.
 * Each (B, T) batch takes B windows of T+1 consecutive tokens (inputs = first T, targets
 * = last T) from the worker's range, in order. At the end of the range the loader starts
 * the next epoch at a small offset drawn from (seed, epoch, worker), so epochs see
 * different window alignments; everything is a pure function of the cursor.
 */
#ifndef AGORA_DATA_H
#define AGORA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"
#include "agora/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- loader (the interface train-engine uses) ----

typedef struct agora_data_loader agora_data_loader;

/* Opens the shard directory written by `agora data prepare` (split "train" or "val").
 * Worker `worker` of `n_workers` sees a disjoint part of the data (DiLoCo needs it).
 * Returns AGORA_EINVAL (bad split or worker >= n_workers), AGORA_ENOENT/EIO (files),
 * AGORA_EPARSE/EVERSION/ECHECKSUM/ETRUNCATED/ERANGE (malformed meta.json or shards,
 * with the file named in err), AGORA_ERANGE (the worker's share is empty). */
AGORA_NODISCARD AGORA_API agora_err agora_data_loader_open(const char *dir, const char *split,
                                                           uint32_t worker, uint32_t n_workers,
                                                           uint64_t seed, agora_data_loader **out,
                                                           char err[AGORA_ERR_LEN]);
AGORA_API uint32_t agora_data_loader_vocab_size(const agora_data_loader *l);
/* Tokens in this worker's range. */
AGORA_API uint64_t agora_data_loader_n_tokens(const agora_data_loader *l);

/* Fills B*T inputs and the B*T next-token targets (int32 token ids). Wraps at the end of
 * the worker's data (next epoch, deterministic).
 * Returns AGORA_EINVAL if B or T < 1, AGORA_ERANGE if the worker's range holds fewer than
 * T+1 tokens (agora_data_loader_last_error says how many). */
AGORA_NODISCARD AGORA_API agora_err agora_data_loader_next(agora_data_loader *l, int B, int T,
                                                           int32_t *inputs, int32_t *targets);

/* Resumable position, saved in checkpoints (state.json) and restored bit-exactly.
 * pos is the offset of the next window inside the worker's range. */
typedef struct agora_data_cursor {
    uint64_t epoch, pos, seed;
    uint32_t worker, n_workers;
} agora_data_cursor;
AGORA_API void agora_data_loader_get_cursor(const agora_data_loader *l, agora_data_cursor *out);
/* Returns AGORA_ESHAPE if worker/n_workers differ from the loader's, AGORA_ERANGE if pos
 * lies outside the worker's range. The seed is taken from the cursor. */
AGORA_NODISCARD AGORA_API agora_err agora_data_loader_set_cursor(agora_data_loader *l,
                                                                 const agora_data_cursor *c);
/* Detail text of the last failed next()/set_cursor(), "" if none. Never NULL. */
AGORA_API const char *agora_data_loader_last_error(const agora_data_loader *l);
AGORA_API void agora_data_loader_close(agora_data_loader *l); /* NULL-safe */

// ---- shards ----

#define AGORA_SHARD_MAGIC "AGORATOK" /* 8 bytes at offset 0 */
#define AGORA_SHARD_VERSION 1u
#define AGORA_SHARD_HEADER_BYTES 64u

typedef struct agora_shard_header {
    uint32_t version;      /* AGORA_SHARD_VERSION */
    uint32_t token_bytes;  /* 2 (uint16 ids) or 4 (uint32 ids) */
    uint32_t vocab_size;   /* every id is < vocab_size */
    uint64_t n_tokens;     /* ids after the header */
    uint64_t payload_hash; /* XXH3-64 of the id bytes as stored (little-endian) */
} agora_shard_header;

/* agora_shard_header_encode writes the 64-byte header (little-endian, with its own
 * XXH3-64 at offset 56). */
AGORA_API void agora_shard_header_encode(const agora_shard_header *h,
                                         uint8_t out[AGORA_SHARD_HEADER_BYTES]);
/* agora_shard_header_decode checks magic, header checksum, version, token width and vocab.
 * Returns AGORA_EPARSE (magic), AGORA_ECHECKSUM, AGORA_EVERSION, AGORA_ERANGE; err says
 * which field is wrong. */
AGORA_NODISCARD AGORA_API agora_err agora_shard_header_decode(const uint8_t *buf, size_t len,
                                                              agora_shard_header *out,
                                                              char err[AGORA_ERR_LEN]);

/* agora_shard_write writes ids (all < vocab_size) as a shard file, atomically. */
AGORA_NODISCARD AGORA_API agora_err agora_shard_write(const char *path, const uint32_t *ids,
                                                      size_t n, uint32_t vocab_size,
                                                      char err[AGORA_ERR_LEN]);
/* agora_shard_read loads a whole shard as uint32 ids (freed with agora_free), checking
 * the header, the length and the payload checksum. */
AGORA_NODISCARD AGORA_API agora_err agora_shard_read(const char *path, uint32_t **ids_out,
                                                     size_t *n_out, uint32_t *vocab_out,
                                                     char err[AGORA_ERR_LEN]);

// ---- prepare ----

/* Initialize with AGORA_DATA_PREPARE_PARAMS_INIT (checked: AGORA_EINVAL otherwise). */
#define AGORA_DATA_PREPARE_MAGIC 0x50415444u /* "DTAP" */
typedef struct agora_data_prepare_params {
    uint32_t size, magic;  /* filled in by AGORA_DATA_PREPARE_PARAMS_INIT */
    double val_fraction;   /* share of the corpus for "val", [0, 0.5]; 0.01 default */
    uint64_t shard_tokens; /* max ids per shard file; 0 means 64 Mi */
    int n_threads;         /* encoding threads; <= 0 means all cores */
} agora_data_prepare_params;
#define AGORA_DATA_PREPARE_PARAMS_INIT                                                             \
    { sizeof(agora_data_prepare_params), AGORA_DATA_PREPARE_MAGIC, 0.01, 0u, 0 }

typedef struct agora_data_prepare_stats {
    uint64_t n_bytes;
    uint64_t n_train_tokens, n_val_tokens;
    uint32_t n_train_shards, n_val_shards;
    double encode_seconds;
} agora_data_prepare_stats;

/* agora_data_prepare encodes text with tok and writes out_dir (created if needed): the
 * tokenizer copy, shards and meta.json (written last, so a directory with meta.json is
 * complete). The split is by text, not tokens: the last val_fraction of the corpus,
 * moved back to a line start, is "val". stats may be NULL. */
AGORA_NODISCARD AGORA_API agora_err agora_data_prepare(
    const char *text, size_t len, const agora_tokenizer *tok, const char *out_dir,
    const agora_data_prepare_params *p, agora_data_prepare_stats *stats, char err[AGORA_ERR_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_DATA_H */
