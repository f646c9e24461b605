/* cmd_tokenizer.c: `agora tokenizer train|encode|decode|info`. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/stream.h"
#include "agora/tokenizer.h"
#include "cli.h"

#define MAX_INPUT ((size_t)4 << 30)

static void tokenizer_help(FILE *out);
static int tokenizer_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_tokenizer = {
    .name = "tokenizer",
    .summary = "train, inspect and run the byte-level BPE tokenizer",
    .run = tokenizer_run,
    .help = tokenizer_help,
    .order = 40,
};

typedef struct tok_opts {
    int64_t vocab, min_freq, threads;
    const char *out, *tokenizer, *text, *input;
} tok_opts;

static tok_opts opts;

static const agora_cli_flag tok_flags[] = {
    {"--vocab", AGORA_CLI_INT, &opts.vocab, "N", "train: vocabulary size incl. 256 bytes (4096)"},
    {"--min-frequency", AGORA_CLI_INT, &opts.min_freq, "N",
     "train: stop when the best pair is rarer (2)"},
    {"--threads", AGORA_CLI_INT, &opts.threads, "N", "train: pre-tokenizer threads (all cores)"},
    {"--out", AGORA_CLI_STR, &opts.out, "FILE", "train: where to write the vocab file"},
    {"--tokenizer", AGORA_CLI_STR, &opts.tokenizer, "PATH",
     "vocab file, GPT-2 dir (encoder.json + vocab.bpe) or shard dir"},
    {"--text", AGORA_CLI_STR, &opts.text, "STR", "encode: the text itself"},
    {"--input", AGORA_CLI_STR, &opts.input, "FILE",
     "encode/decode: read input from FILE ('-' = stdin)"},
};
#define N_FLAGS (sizeof tok_flags / sizeof tok_flags[0])

static void tokenizer_help(FILE *out) {
    fprintf(out, "usage: agora tokenizer train CORPUS --vocab N --out FILE\n"
                 "       agora tokenizer encode --tokenizer PATH [--text STR | --input FILE]\n"
                 "       agora tokenizer decode --tokenizer PATH [ID... | --input FILE]\n"
                 "       agora tokenizer info --tokenizer PATH\n\n"
                 "Byte-level BPE on GPT-2's pre-tokenization regex. encode prints ids separated\n"
                 "by spaces; decode prints the raw bytes. Formats: docs/tokenizer.md.\n\n");
    agora_cli_print_flags(out, tok_flags, N_FLAGS);
}

/* Reads a file, or stdin for "-". */
static agora_err read_input(const char *path, char **buf, size_t *len, char err[AGORA_ERR_LEN]) {
    if (strcmp(path, "-") != 0)
        return agora_read_file(path, MAX_INPUT, buf, len, err);
    size_t cap = 1 << 16, n = 0;
    char *b = agora_malloc(cap);
    if (b == NULL)
        return AGORA_ENOMEM;
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = agora_realloc(b, cap * 2);
            if (nb == NULL) {
                agora_free(b);
                return AGORA_ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0)
            break;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return AGORA_OK;
}

static int do_train(const char **pos, size_t n_pos) {
    if (n_pos != 2)
        return agora_cli_usage("tokenizer", "train needs one CORPUS file");
    if (opts.out == NULL)
        return agora_cli_usage("tokenizer", "train needs --out FILE");
    if (opts.vocab < 256 || opts.vocab > (int64_t)AGORA_TOKENIZER_MAX_VOCAB)
        return agora_cli_usage("tokenizer", "--vocab must be in [256, %u]",
                               AGORA_TOKENIZER_MAX_VOCAB);
    if (opts.min_freq < 1 || opts.min_freq > UINT32_MAX)
        return agora_cli_usage("tokenizer", "--min-frequency must be >= 1");
    if (opts.threads < 0 || opts.threads > 64)
        return agora_cli_usage("tokenizer", "--threads must be in [0, 64]");
    char err[AGORA_ERR_LEN];
    char *text = NULL;
    size_t len = 0;
    if (read_input(pos[1], &text, &len, err) != AGORA_OK)
        return agora_cli_fail("tokenizer", "%s", err);
    agora_tokenizer_train_params p = AGORA_TOKENIZER_TRAIN_PARAMS_INIT;
    p.vocab_size = (uint32_t)opts.vocab;
    p.min_frequency = (uint32_t)opts.min_freq;
    p.n_threads = (int)opts.threads;
    agora_tokenizer_train_stats st;
    agora_tokenizer *t = NULL;
    agora_err rc = agora_tokenizer_train(text, len, &p, &t, &st, err);
    agora_free(text);
    if (rc != AGORA_OK)
        return agora_cli_fail("tokenizer", "%s", err);
    rc = agora_tokenizer_save(t, opts.out, err);
    agora_tokenizer_destroy(t);
    if (rc != AGORA_OK)
        return agora_cli_fail("tokenizer", "%s", err);
    printf("trained %u merges (vocab %u) on %llu bytes: %llu chunks, %llu distinct\n", st.n_merges,
           256 + st.n_merges, (unsigned long long)st.n_bytes, (unsigned long long)st.n_chunks,
           (unsigned long long)st.n_unique);
    printf("time: pre-tokenize %.2f s, merges %.2f s; wrote %s\n", st.pretok_seconds,
           st.merge_seconds, opts.out);
    if (st.n_merges + 256 < p.vocab_size)
        printf("note: stopped early, no pair occurs %u times\n", p.min_frequency);
    return AGORA_EXIT_OK;
}

static int open_tok(agora_tokenizer **t) {
    if (opts.tokenizer == NULL)
        return agora_cli_usage("tokenizer", "--tokenizer PATH is required");
    char err[AGORA_ERR_LEN];
    if (agora_tokenizer_open(opts.tokenizer, t, err) != AGORA_OK)
        return agora_cli_fail("tokenizer", "%s", err);
    return AGORA_EXIT_OK;
}

static int do_encode(size_t n_pos) {
    if (n_pos != 1)
        return agora_cli_usage("tokenizer", "encode takes no positional arguments");
    if ((opts.text == NULL) == (opts.input == NULL))
        return agora_cli_usage("tokenizer", "encode needs exactly one of --text or --input");
    agora_tokenizer *t = NULL;
    int ec = open_tok(&t);
    if (ec != AGORA_EXIT_OK)
        return ec;
    char err[AGORA_ERR_LEN];
    char *buf = NULL;
    size_t len = 0;
    if (opts.input != NULL && read_input(opts.input, &buf, &len, err) != AGORA_OK) {
        agora_tokenizer_destroy(t);
        return agora_cli_fail("tokenizer", "%s", err);
    }
    const char *text = buf != NULL ? buf : opts.text;
    if (buf == NULL)
        len = strlen(opts.text);
    uint32_t *ids = NULL;
    size_t n = 0;
    agora_err rc = agora_tokenizer_encode(t, text, len, &ids, &n);
    agora_free(buf);
    agora_tokenizer_destroy(t);
    if (rc != AGORA_OK)
        return agora_cli_fail("tokenizer", "encode failed: %s", agora_err_str(rc));
    for (size_t i = 0; i < n; i++)
        printf(i ? " %u" : "%u", ids[i]);
    printf("\n");
    agora_free(ids);
    return AGORA_EXIT_OK;
}

/* Parses whitespace-separated decimal ids. */
static int parse_ids(const char *s, uint32_t **ids, size_t *n) {
    size_t cap = 64, k = 0;
    uint32_t *v = agora_malloc(cap * sizeof *v);
    if (v == NULL)
        return agora_cli_fail("tokenizer", "out of memory");
    while (*s) {
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r' || *s == ',')
            s++;
        if (*s == '\0')
            break;
        char *end = NULL;
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s || x > UINT32_MAX || *s == '-') {
            agora_free(v);
            return agora_cli_usage("tokenizer", "decode: '%.20s' is not a token id", s);
        }
        if (k == cap) {
            uint32_t *nv = agora_realloc(v, 2 * cap * sizeof *v);
            if (nv == NULL) {
                agora_free(v);
                return agora_cli_fail("tokenizer", "out of memory");
            }
            v = nv;
            cap *= 2;
        }
        v[k++] = (uint32_t)x;
        s = end;
    }
    *ids = v;
    *n = k;
    return AGORA_EXIT_OK;
}

static int do_decode(const char **pos, size_t n_pos) {
    if ((n_pos > 1) == (opts.input != NULL))
        return agora_cli_usage("tokenizer", "decode needs ids as arguments or --input FILE");
    char err[AGORA_ERR_LEN];
    uint32_t *ids = NULL;
    size_t n = 0;
    int ec;
    if (opts.input != NULL) {
        char *buf = NULL;
        size_t len = 0;
        if (read_input(opts.input, &buf, &len, err) != AGORA_OK)
            return agora_cli_fail("tokenizer", "%s", err);
        ec = parse_ids(buf, &ids, &n);
        agora_free(buf);
    } else {
        size_t total = 1;
        for (size_t i = 1; i < n_pos; i++)
            total += strlen(pos[i]) + 1;
        char *joined = agora_malloc(total);
        if (joined == NULL)
            return agora_cli_fail("tokenizer", "out of memory");
        joined[0] = '\0';
        for (size_t i = 1; i < n_pos; i++) {
            strcat(joined, pos[i]);
            strcat(joined, " ");
        }
        ec = parse_ids(joined, &ids, &n);
        agora_free(joined);
    }
    if (ec != AGORA_EXIT_OK)
        return ec;
    agora_tokenizer *t = NULL;
    ec = open_tok(&t);
    if (ec != AGORA_EXIT_OK) {
        agora_free(ids);
        return ec;
    }
    char *text = NULL;
    size_t len = 0;
    agora_err rc = agora_tokenizer_decode(t, ids, n, &text, &len);
    uint32_t vocab = agora_tokenizer_vocab_size(t);
    agora_tokenizer_destroy(t);
    agora_free(ids);
    if (rc != AGORA_OK)
        return agora_cli_fail("tokenizer", "decode: an id is >= the vocab size %u", vocab);
    fwrite(text, 1, len, stdout);
    agora_free(text);
    return AGORA_EXIT_OK;
}

static int do_info(size_t n_pos) {
    if (n_pos != 1)
        return agora_cli_usage("tokenizer", "info takes no positional arguments");
    agora_tokenizer *t = NULL;
    int ec = open_tok(&t);
    if (ec != AGORA_EXIT_OK)
        return ec;
    printf("vocab_size %u\nmerges %u\nspecials %u\n", agora_tokenizer_vocab_size(t),
           agora_tokenizer_n_merges(t), agora_tokenizer_n_specials(t));
    agora_tokenizer_destroy(t);
    return AGORA_EXIT_OK;
}

static int tokenizer_run(int argc, char **argv) {
    opts = (tok_opts){.vocab = 4096, .min_freq = 2, .threads = 0};
    const char *pos[256];
    size_t n_pos = 0;
    int rc =
        agora_cli_parse(&agora_cmd_tokenizer, tok_flags, N_FLAGS, argc, argv, pos, 256, &n_pos);
    if (rc != 0)
        return rc < 0 ? AGORA_EXIT_OK : rc;
    if (n_pos == 0)
        return agora_cli_usage("tokenizer", "missing action (train, encode, decode or info)");
    if (strcmp(pos[0], "train") == 0)
        return do_train(pos, n_pos);
    if (strcmp(pos[0], "encode") == 0)
        return do_encode(n_pos);
    if (strcmp(pos[0], "decode") == 0)
        return do_decode(pos, n_pos);
    if (strcmp(pos[0], "info") == 0)
        return do_info(n_pos);
    return agora_cli_usage("tokenizer", "unknown action '%s'", pos[0]);
}
