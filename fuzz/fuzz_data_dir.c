/* fuzz_data_dir.c: a token-shard directory (meta.json and one shard, s.bin) must be opened
 * or refused cleanly, with the file named in the message, and a loader that opens must
 * only ever hand out ids below the vocab size.
 *
 * Input: one flag byte, then meta.json up to the first NUL byte, then the shard file.
 * Flag bit 0 seals the shard (correct payload hash and header checksum, written over
 * whatever the input had) so mutations reach past the checksums; bit 1 also sets the
 * header's token count to what the payload holds; bit 2 opens worker 1 of 2 instead of
 * worker 0 of 1. The files live in one temporary directory per process. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/data.h"
#include "agora/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];

static int put(const char *name, const void *p, size_t n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void cleanup(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/meta.json", g_dir);
    remove(path);
    snprintf(path, sizeof path, "%s/s.bin", g_dir);
    remove(path);
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20))
        return 0;
    if (g_dir[0] == '\0') {
        snprintf(g_dir, sizeof g_dir, "/tmp/agora-fuzz-data-XXXXXX");
        if (mkdtemp(g_dir) == NULL)
            abort();
        atexit(cleanup);
    }
    const uint8_t flags = data[0];
    const uint8_t *meta = data + 1, *nul = memchr(meta, 0, size - 1);
    size_t mlen = nul ? (size_t)(nul - meta) : size - 1;
    const uint8_t *shard = nul ? nul + 1 : meta + mlen;
    size_t slen = (size_t)(data + size - shard);
    uint8_t *s = malloc(slen + 1);
    if (s == NULL)
        return 0;
    memcpy(s, shard, slen);
    if ((flags & 1) && slen >= AGORA_SHARD_HEADER_BYTES) {
        size_t pay = slen - AGORA_SHARD_HEADER_BYTES;
        unsigned width = s[12] == 4 ? 4 : 2;
        if (flags & 2)
            put_le64(s + 24, pay / width);
        put_le64(s + 32, agora_hash64(s + AGORA_SHARD_HEADER_BYTES, pay));
        put_le64(s + 56, agora_hash64(s, 56));
    }
    if (put("meta.json", meta, mlen) != 0 || put("s.bin", s, slen) != 0)
        abort();
    free(s);
    char err[AGORA_ERR_LEN];
    agora_data_loader *l = NULL;
    uint32_t worker = flags & 4 ? 1 : 0, n_workers = flags & 4 ? 2 : 1;
    agora_err rc = agora_data_loader_open(g_dir, "train", worker, n_workers, 7, &l, err);
    if (rc != AGORA_OK) {
        if (l != NULL || strstr(err, g_dir) == NULL)
            __builtin_trap(); /* no loader, and the message names the directory or file */
        return 0;
    }
    uint32_t vocab = agora_data_loader_vocab_size(l);
    enum { B = 2, T = 3 };
    int32_t in[B * T], tg[B * T];
    for (int step = 0; step < 4; step++) {
        if (agora_data_loader_next(l, B, T, in, tg) != AGORA_OK)
            break;
        for (int i = 0; i < B * T; i++)
            if (in[i] < 0 || (uint32_t)in[i] >= vocab || tg[i] < 0 || (uint32_t)tg[i] >= vocab)
                __builtin_trap();
    }
    agora_data_loader_close(l);
    return 0;
}
