/* fuzz_vocab.c: our vocab file loader ("agora-bpe 1") must reject any input cleanly, with
 * a message naming the file. The first byte picks the mode: odd means "seal the rest with
 * a correct checksum line first", so mutations reach the parser instead of stopping at
 * the checksum. A file that loads must round-trip text. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/hash.h"
#include "agora/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > (1u << 20))
        return 0;
    const bool seal = data[0] & 1;
    size_t len = size - 1;
    char *buf = malloc(len + 64);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, len);
    if (seal)
        len += (size_t)snprintf(buf + len, 64, "checksum %016" PRIx64 "\n", agora_hash64(buf, len));
    char err[AGORA_ERR_LEN];
    agora_tokenizer *t = NULL;
    agora_err rc = agora_tokenizer_load_mem(buf, len, "fuzz.bpe", &t, err);
    if (rc != AGORA_OK && strncmp(err, "fuzz.bpe", 8) != 0)
        __builtin_trap(); /* every error names the file */
    if (rc == AGORA_OK) {
        static const char text[] = "Hello, world! It's 42 \xff\xfe naïve  \n\n end";
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
    free(buf);
    return 0;
}
