/* fuzz_tokenizer.c: raw bytes through the pre-tokenizer and BPE. Whatever the input:
 * the chunks tile it, every id is in range, decode(encode(x)) == x, and a tokenizer
 * trained on the input round-trips it too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char seed_text[] =
    "In the beginning God created the heaven and the earth. And the earth was without form, "
    "and void; and darkness was upon the face of the deep. It's 1611, isn't it?  Yes!!\n"
    "naïve café 日本語 мир 🎉🎉 ,,,, ...   \t\t 12345 67,890\n";

static agora_tokenizer *fixed_tokenizer(void) {
    static agora_tokenizer *t;
    if (t == NULL) {
        agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
        p.vocab_size = 512;
        p.min_frequency = 1;
        char err[AGORA_ERR_LEN];
        if (agora_tokenizer_train(seed_text, sizeof seed_text - 1, &p, &t, NULL, err) != AGORA_OK)
            __builtin_trap();
    }
    return t;
}

static agora_err sum_len(const char *chunk, size_t len, void *user) {
    (void)chunk;
    if (len == 0)
        __builtin_trap(); /* chunks are never empty */
    *(size_t *)user += len;
    return AGORA_OK;
}

static void roundtrip(const agora_tokenizer *t, const char *text, size_t len) {
    uint32_t *ids = NULL;
    size_t n = 0;
    if (agora_tokenizer_encode(t, text, len, &ids, &n) != AGORA_OK)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= agora_tokenizer_vocab_size(t))
            __builtin_trap();
    char *back = NULL;
    size_t blen = 0;
    if (agora_tokenizer_decode(t, ids, n, &back, &blen) != AGORA_OK || blen != len ||
        (len > 0 && memcmp(back, text, len) != 0))
        __builtin_trap();
    agora_free(back);
    agora_free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    size_t total = 0;
    if (agora_pretok_split(text, size, sum_len, &total) != AGORA_OK || total != size)
        __builtin_trap();
    roundtrip(fixed_tokenizer(), text, size);
    if (size <= 8192) {
        agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
        p.vocab_size = 300;
        p.min_frequency = 1;
        p.n_threads = 1;
        agora_tokenizer *t = NULL;
        char err[AGORA_ERR_LEN];
        if (agora_tokenizer_train(text, size, &p, &t, NULL, err) != AGORA_OK)
            __builtin_trap();
        roundtrip(t, text, size);
        agora_tokenizer_destroy(t);
    }
    return 0;
}
