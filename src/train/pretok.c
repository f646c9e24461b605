/* pretok.c: GPT-2's pre-tokenization regex through PCRE2.
 *
 * Implements: compiling the pattern once per process (UTF, UCP, MATCH_INVALID_UTF, JIT),
 * and splitting text into chunks that tile the input.
 * Does not: BPE (tokenizer.c) or counting chunks for training (bpe_train.c).
 *
 * The pattern matches every valid UTF-8 character, so on valid text the matches are
 * contiguous. Bytes that are not valid UTF-8 cannot be matched at all; they are passed on
 * as their own chunk so that encode(decode) still round-trips arbitrary bytes.
 */
#include <pthread.h>
#include <stdio.h>

#include <pcre2.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/tokenizer.h"

static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static pthread_once_t pat_once = PTHREAD_ONCE_INIT;
static pcre2_code *pat_code;
static pcre2_general_context *pat_gctx;

static void *pat_malloc(PCRE2_SIZE size, void *user) {
    (void)user;
    return agora_malloc(size);
}

static void pat_free(void *p, void *user) {
    (void)user;
    agora_free(p);
}

/* Runs once. The compiled pattern lives for the whole process, like a static table. */
static void pat_compile(void) {
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    pat_gctx = pcre2_general_context_create(pat_malloc, pat_free, NULL);
    pat_code =
        pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    if (pat_code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        AGORA_LOG_ERROR(AGORA_SUB_DATA, "pre-tokenizer pattern failed to compile at %zu: %s",
                        (size_t)erroff, (const char *)msg);
        return;
    }
    /* Without JIT support pcre2_match falls back to the interpreter: slower, same result. */
    int jrc = pcre2_jit_compile(pat_code, PCRE2_JIT_COMPLETE);
    if (jrc != 0)
        AGORA_LOG_DEBUG(AGORA_SUB_DATA, "pre-tokenizer: no JIT (%d), using the interpreter", jrc);
}

agora_err agora_pretok_split(const char *text, size_t len, agora_pretok_fn fn, void *user) {
    AGORA_ASSERT(fn != NULL);
    AGORA_ASSERT(text != NULL || len == 0);
    if (len == 0)
        return AGORA_OK;
    pthread_once(&pat_once, pat_compile);
    if (pat_code == NULL)
        return AGORA_EUNSUPPORTED;
    /* Match data per call: each thread (each call) owns its own, nothing is shared. */
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(pat_code, pat_gctx);
    if (md == NULL)
        return AGORA_ENOMEM;
    agora_err rc = AGORA_OK;
    const PCRE2_SPTR subj = (PCRE2_SPTR)text;
    size_t off = 0;
    while (off < len && rc == AGORA_OK) {
        int mrc = pcre2_match(pat_code, subj, len, off, 0, md, NULL);
        if (mrc == PCRE2_ERROR_NOMATCH) {
            rc = fn(text + off, len - off, user); /* trailing invalid bytes */
            break;
        }
        if (mrc == PCRE2_ERROR_NOMEMORY) {
            rc = AGORA_ENOMEM;
            break;
        }
        if (mrc < 0) {
            /* Only resource limits can fail here (the pattern has no deep recursion). */
            AGORA_LOG_WARN(AGORA_SUB_DATA, "pre-tokenizer: pcre2_match failed (%d) at %zu", mrc,
                           off);
            rc = AGORA_EUNSUPPORTED;
            break;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t start = ov[0], end = ov[1];
        if (start > off) {
            rc = fn(text + off, start - off, user); /* invalid UTF-8 between matches */
            if (rc != AGORA_OK)
                break;
        }
        if (end <= start) { /* cannot happen: no alternative matches the empty string */
            end = start + 1;
        }
        rc = fn(text + start, end - start, user);
        off = end;
    }
    pcre2_match_data_free(md);
    return rc;
}

size_t agora_pretok_safe_cut(const char *text, size_t len, size_t from) {
    /* See the header: a lone '\n' between two visible ASCII characters. No match spans the
     * newline (only the whitespace alternatives contain it, and they stop at visible
     * characters), and the lone newline is one chunk whether or not text follows it. */
    for (size_t p = from < 2 ? 2 : from; p < len; p++) {
        unsigned char a = (unsigned char)text[p - 2], c = (unsigned char)text[p];
        if (text[p - 1] == '\n' && a > 0x20 && a < 0x7f && c > 0x20 && c < 0x7f)
            return p;
    }
    return len;
}
