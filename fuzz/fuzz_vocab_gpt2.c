/* fuzz_vocab_gpt2.c: the GPT-2 encoder.json + vocab.bpe loader. The input is split at its
 * first NUL byte: encoder.json before, vocab.bpe after. Any input is rejected cleanly or
 * gives a tokenizer that round-trips text. */
#include <stdint.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20))
        return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t enc_len = nul ? (size_t)(nul - data) : size;
    const char *bpe = nul ? (const char *)nul + 1 : "";
    size_t bpe_len = nul ? size - enc_len - 1 : 0;
    char err[AGORA_ERR_LEN];
    agora_tokenizer *t = NULL;
    agora_err rc =
        agora_tokenizer_load_gpt2_mem((const char *)data, enc_len, bpe, bpe_len, &t, err);
    if (rc != AGORA_OK && err[0] == '\0')
        __builtin_trap(); /* every failure explains itself */
    if (rc == AGORA_OK) {
        static const char text[] = "abab ba, hello \x01\x80 world!!";
        uint32_t *ids = NULL;
        size_t n = 0;
        char *back = NULL;
        size_t blen = 0;
        if (agora_tokenizer_encode(t, text, sizeof text - 1, &ids, &n) != AGORA_OK ||
            agora_tokenizer_decode(t, ids, n, &back, &blen) != AGORA_OK ||
            blen != sizeof text - 1 || memcmp(back, text, blen) != 0)
            __builtin_trap();
        agora_free(ids);
        agora_free(back);
        agora_tokenizer_destroy(t);
    }
    return 0;
}
