/* cmd_data.c: `agora data prepare|info`: text corpus -> token shards, and checking them. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/data.h"
#include "agora/stream.h"
#include "agora/tokenizer.h"
#include "cli.h"

#define MAX_CORPUS ((size_t)8 << 30)

static void data_help(FILE *out);
static int data_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_data = {
    .name = "data",
    .summary = "tokenize a text corpus into train/val token shards",
    .run = data_run,
    .help = data_help,
    .order = 41,
};

typedef struct data_opts {
    const char *tokenizer, *out;
    double val_fraction;
    int64_t shard_tokens, threads, workers;
} data_opts;

static data_opts opts;

static const agora_cli_flag data_flags[] = {
    {"--tokenizer", AGORA_CLI_STR, &opts.tokenizer, "PATH",
     "prepare: vocab file, GPT-2 dir or shard dir"},
    {"--out", AGORA_CLI_STR, &opts.out, "DIR", "prepare: shard directory to write"},
    {"--val-fraction", AGORA_CLI_DBL, &opts.val_fraction, "F",
     "prepare: share of the text (its end) for validation (0.01)"},
    {"--shard-tokens", AGORA_CLI_INT, &opts.shard_tokens, "N",
     "prepare: max tokens per shard file (67108864)"},
    {"--threads", AGORA_CLI_INT, &opts.threads, "N", "prepare: encoding threads (all cores)"},
    {"--workers", AGORA_CLI_INT, &opts.workers, "N",
     "info: show how N workers would share the train split (1)"},
};
#define N_FLAGS (sizeof data_flags / sizeof data_flags[0])

static void data_help(FILE *out) {
    fprintf(out, "usage: agora data prepare CORPUS --tokenizer PATH --out DIR [--val-fraction F]\n"
                 "       agora data info DIR [--workers N]\n\n"
                 "prepare encodes CORPUS and writes DIR/meta.json, DIR/tokenizer.bpe and\n"
                 "DIR/{train,val}_NNN.bin (format: docs/data-format.md). info checks every\n"
                 "shard (header, size, checksum) and prints the counts.\n\n");
    agora_cli_print_flags(out, data_flags, N_FLAGS);
}

static int do_prepare(const char **pos, size_t n_pos) {
    if (n_pos != 2)
        return agora_cli_usage("data", "prepare needs one CORPUS file");
    if (opts.tokenizer == NULL || opts.out == NULL)
        return agora_cli_usage("data", "prepare needs --tokenizer PATH and --out DIR");
    if (!(opts.val_fraction >= 0 && opts.val_fraction <= 0.5))
        return agora_cli_usage("data", "--val-fraction must be in [0, 0.5]");
    if (opts.shard_tokens < 0 || opts.threads < 0 || opts.threads > 64)
        return agora_cli_usage("data", "--shard-tokens must be >= 0, --threads in [0, 64]");
    char err[AGORA_ERR_LEN];
    agora_tokenizer *tok = NULL;
    if (agora_tokenizer_open(opts.tokenizer, &tok, err) != AGORA_OK)
        return agora_cli_fail("data", "%s", err);
    char *text = NULL;
    size_t len = 0;
    if (agora_read_file(pos[1], MAX_CORPUS, &text, &len, err) != AGORA_OK) {
        agora_tokenizer_destroy(tok);
        return agora_cli_fail("data", "%s", err);
    }
    agora_data_prepare_params p = AGORA_DATA_PREPARE_PARAMS_INIT;
    p.val_fraction = opts.val_fraction;
    p.shard_tokens = (uint64_t)opts.shard_tokens;
    p.n_threads = (int)opts.threads;
    agora_data_prepare_stats st;
    agora_err rc = agora_data_prepare(text, len, tok, opts.out, &p, &st, err);
    agora_free(text);
    agora_tokenizer_destroy(tok);
    if (rc != AGORA_OK)
        return agora_cli_fail("data", "%s", err);
    uint64_t n_tok = st.n_train_tokens + st.n_val_tokens;
    printf("encoded %llu bytes into %llu tokens (%.2f bytes/token) in %.2f s\n",
           (unsigned long long)st.n_bytes, (unsigned long long)n_tok,
           n_tok ? (double)st.n_bytes / (double)n_tok : 0.0, st.encode_seconds);
    printf("train: %llu tokens in %u shard(s); val: %llu tokens in %u shard(s); wrote %s\n",
           (unsigned long long)st.n_train_tokens, st.n_train_shards,
           (unsigned long long)st.n_val_tokens, st.n_val_shards, opts.out);
    return AGORA_EXIT_OK;
}

static int do_info(const char **pos, size_t n_pos) {
    if (n_pos != 2)
        return agora_cli_usage("data", "info needs one shard DIR");
    if (opts.workers < 1 || opts.workers > 1 << 20)
        return agora_cli_usage("data", "--workers must be in [1, 1048576]");
    char err[AGORA_ERR_LEN];
    const char *splits[] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        uint32_t nw = s == 0 ? (uint32_t)opts.workers : 1;
        for (uint32_t w = 0; w < nw; w++) {
            agora_data_loader *l = NULL;
            agora_err rc = agora_data_loader_open(pos[1], splits[s], w, nw, 0, &l, err);
            if (rc == AGORA_ERANGE && s == 1) {
                printf("val: empty\n");
                break;
            }
            if (rc != AGORA_OK)
                return agora_cli_fail("data", "%s", err);
            if (w == 0)
                printf("%s: vocab %u", splits[s], agora_data_loader_vocab_size(l));
            unsigned long long nt = (unsigned long long)agora_data_loader_n_tokens(l);
            if (nw > 1)
                printf(", worker %u: %llu tokens", w, nt);
            else
                printf(", %llu tokens", nt);
            agora_data_loader_close(l);
        }
        printf("\n");
    }
    printf("all shards verified (headers, sizes, checksums, ids < vocab)\n");
    return AGORA_EXIT_OK;
}

static int data_run(int argc, char **argv) {
    opts = (data_opts){.val_fraction = 0.01, .workers = 1};
    const char *pos[8];
    size_t n_pos = 0;
    int rc = agora_cli_parse(&agora_cmd_data, data_flags, N_FLAGS, argc, argv, pos, 8, &n_pos);
    if (rc != 0)
        return rc < 0 ? AGORA_EXIT_OK : rc;
    if (n_pos == 0)
        return agora_cli_usage("data", "missing action (prepare or info)");
    if (strcmp(pos[0], "prepare") == 0)
        return do_prepare(pos, n_pos);
    if (strcmp(pos[0], "info") == 0)
        return do_info(pos, n_pos);
    return agora_cli_usage("data", "unknown action '%s'", pos[0]);
}
