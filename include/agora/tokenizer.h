/* tokenizer.h: byte-level BPE (GPT-2 style): training, our vocab file, GPT-2 files.
 *
 * Text is first split into chunks by GPT-2's pre-tokenization regex (PCRE2, Unicode
 * properties), then each chunk's bytes are merged by ranked BPE merges. Ids 0..255 of a
 * tokenizer trained by us are the raw bytes; id 256 + k is the result of merge k.
 * A GPT-2 tokenizer loaded from encoder.json + vocab.bpe keeps GPT-2's own ids.
 *
 * A tokenizer is immutable after creation, so encode and decode may be called from many
 * threads at once. The on-disk formats are described in docs/tokenizer.md.
 */
#ifndef AGORA_TOKENIZER_H
#define AGORA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agora_tokenizer agora_tokenizer;

/* Largest vocabulary any loader accepts (ids must fit in uint32 shards with room to spare). */
#define AGORA_TOKENIZER_MAX_VOCAB (1u << 24)

/* agora_tokenizer_load reads our vocab file format ("agora-bpe 1", docs/tokenizer.md).
 * Returns AGORA_ENOENT/EIO (file), AGORA_EPARSE (syntax), AGORA_EVERSION (format version),
 * AGORA_ECHECKSUM (corrupt), AGORA_ERANGE (ids out of range); err names file and line. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_load(const char *path, agora_tokenizer **out,
                                                         char err[AGORA_ERR_LEN]);
/* agora_tokenizer_load_mem parses our format from memory (name is used in messages). */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_load_mem(const char *data, size_t len,
                                                             const char *name,
                                                             agora_tokenizer **out,
                                                             char err[AGORA_ERR_LEN]);
/* agora_tokenizer_save writes t in our format, atomically. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_save(const agora_tokenizer *t, const char *path,
                                                         char err[AGORA_ERR_LEN]);

/* agora_tokenizer_load_gpt2 loads GPT-2's encoder.json (token string -> id, in GPT-2's
 * byte-to-unicode alphabet) and vocab.bpe (ranked merges). Encoding reproduces GPT-2's ids;
 * tokens that no merge produces (<|endoftext|>) decode to their text but are never
 * produced by encode. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_load_gpt2(const char *encoder_json,
                                                              const char *vocab_bpe,
                                                              agora_tokenizer **out,
                                                              char err[AGORA_ERR_LEN]);
/* The same from memory (for tests and fuzzing). */
AGORA_NODISCARD AGORA_API agora_err
agora_tokenizer_load_gpt2_mem(const char *encoder_json, size_t encoder_len, const char *vocab_bpe,
                              size_t vocab_len, agora_tokenizer **out, char err[AGORA_ERR_LEN]);

/* agora_tokenizer_create builds a tokenizer from its parts; the loaders and the trainer
 * all end here, so the checks live in one place.
 *   byte_ids: the id of each byte value 0..255 (a permutation of 0..255), NULL = identity;
 *   merges:   2*n_merges ids (left, right); merge k yields id 256 + k, and both its inputs
 *             must be bytes or results of earlier merges (so ranks order the merges);
 *   specials: n_specials byte strings, ids 256 + n_merges + i, never produced by encode.
 * Returns AGORA_ERANGE/EINVAL with a message naming the bad merge or id. */
AGORA_NODISCARD AGORA_API agora_err
agora_tokenizer_create(const uint32_t *byte_ids, const uint32_t *merges, uint32_t n_merges,
                       const char *const *specials, const size_t *special_lens, uint32_t n_specials,
                       agora_tokenizer **out, char err[AGORA_ERR_LEN]);
/* Merge k (rank k) joins ids *left_out and *right_out into id 256 + k. k < n_merges. */
AGORA_API void agora_tokenizer_merge(const agora_tokenizer *t, uint32_t k, uint32_t *left_out,
                                     uint32_t *right_out);
/* The id of the single-byte token b. */
AGORA_API uint32_t agora_tokenizer_byte_id(const agora_tokenizer *t, uint8_t b);
/* Number of special tokens (ids 256 + n_merges and up). */
AGORA_API uint32_t agora_tokenizer_n_specials(const agora_tokenizer *t);

/* Number of ids: every id produced by encode is < vocab size. */
AGORA_API uint32_t agora_tokenizer_vocab_size(const agora_tokenizer *t);
/* Number of merges (vocab size minus 256 bytes minus special tokens). */
AGORA_API uint32_t agora_tokenizer_n_merges(const agora_tokenizer *t);
/* agora_tokenizer_token_bytes gives the bytes id decodes to (not NUL-terminated), or
 * NULL if id >= vocab size. */
AGORA_API const uint8_t *agora_tokenizer_token_bytes(const agora_tokenizer *t, uint32_t id,
                                                     size_t *len_out);

/* agora_tokenizer_encode tokenizes len bytes of text (any bytes; invalid UTF-8 is split
 * by the regex like everything else and still round-trips). *ids_out is freed with
 * agora_free; it is NULL-or-valid even when *n_out is 0. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_encode(const agora_tokenizer *t,
                                                           const char *text, size_t len,
                                                           uint32_t **ids_out, size_t *n_out);
/* agora_tokenizer_decode concatenates the bytes of ids into a NUL-terminated buffer (freed
 * with agora_free; *len_out excludes the NUL). AGORA_ERANGE if an id is >= vocab size. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_decode(const agora_tokenizer *t,
                                                           const uint32_t *ids, size_t n,
                                                           char **text_out, size_t *len_out);
AGORA_API void agora_tokenizer_destroy(agora_tokenizer *t); /* NULL-safe */

// ---- training ----

/* Initialize with AGORA_TOKENIZER_TRAIN_PARAMS_INIT, then set fields: the trainer checks
 * size and magic and returns AGORA_EINVAL for a struct nobody initialized. */
#define AGORA_TOKENIZER_TRAIN_MAGIC 0x42504554u /* "TEPB" */
typedef struct agora_tokenizer_train_params {
    uint32_t size, magic;   /* filled in by AGORA_TOKENIZER_TRAIN_PARAMS_INIT */
    uint32_t vocab_size;    /* target size including the 256 byte tokens; >= 256 */
    uint32_t min_frequency; /* stop when the best pair occurs fewer times (>= 1; 2 default) */
    int n_threads;          /* threads for pre-tokenization; <= 0 means all cores */
} agora_tokenizer_train_params;
#define AGORA_TOKENIZER_TRAIN_PARAMS_INIT                                                          \
    { sizeof(agora_tokenizer_train_params), AGORA_TOKENIZER_TRAIN_MAGIC, 4096u, 2u, 0 }

typedef struct agora_tokenizer_train_stats {
    uint64_t n_bytes;      /* corpus bytes */
    uint64_t n_chunks;     /* pre-tokenized chunks */
    uint64_t n_unique;     /* distinct chunks (BPE "words") */
    uint32_t n_merges;     /* merges learned */
    double pretok_seconds; /* splitting and counting */
    double merge_seconds;  /* learning merges */
} agora_tokenizer_train_stats;

/* agora_tokenizer_train learns merges on the GPT-2 pre-tokenized chunks of text. Ties in
 * pair frequency go to the smaller (left id, right id) pair, so the result is a pure
 * function of the text and params. Training stops early (fewer merges than asked) when no
 * pair reaches min_frequency. stats may be NULL. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_train(const char *text, size_t len,
                                                          const agora_tokenizer_train_params *p,
                                                          agora_tokenizer **out,
                                                          agora_tokenizer_train_stats *stats,
                                                          char err[AGORA_ERR_LEN]);

// ---- pre-tokenizer ----

/* Called once per chunk, in order; a non-OK return stops the split and is returned. */
typedef agora_err (*agora_pretok_fn)(const char *chunk, size_t len, void *user);

/* agora_pretok_split splits text by GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * The chunks tile the input exactly (every byte belongs to one chunk, invalid UTF-8
 * included). The pattern is compiled and JIT-compiled once per process; match data is
 * per thread. */
AGORA_NODISCARD AGORA_API agora_err agora_pretok_split(const char *text, size_t len,
                                                       agora_pretok_fn fn, void *user);

/* agora_pretok_safe_cut returns the first p >= from where text can be cut so that
 * splitting text[0, p) and text[p, len) gives exactly the chunks of splitting the whole
 * (p follows a lone '\n' that sits between visible ASCII characters), or len if there is
 * none. Used to encode big texts on several threads with identical results. */
AGORA_API size_t agora_pretok_safe_cut(const char *text, size_t len, size_t from);

/* agora_tokenizer_open loads a tokenizer from path, whichever kind it is: a directory
 * holding encoder.json + vocab.bpe (GPT-2), a shard directory (the tokenizer named in its
 * meta.json), or a file in our format. */
AGORA_NODISCARD AGORA_API agora_err agora_tokenizer_open(const char *path, agora_tokenizer **out,
                                                         char err[AGORA_ERR_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_TOKENIZER_H */
