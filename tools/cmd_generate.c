/* cmd_generate.c: `agora generate`: sample text from a checkpoint.
 *
 * --ckpt takes a checkpoint directory (config.json + model.safetensors), a checkpoint
 * root (RUN/ckpt) or a run directory; the newest complete checkpoint is used. The
 * tokenizer is --tokenizer, else the checkpoint's tokenizer.bpe, else raw bytes when the
 * vocab is 256. Sampling uses temperature and top-k, seeded (stream SAMPLE).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agora/alloc.h"
#include "agora/ckpt_dir.h"
#include "agora/rng.h"
#include "agora/tokenizer.h"
#include "agora/train.h"
#include "cli.h"

static const char *const k_cmd = "generate";

static int run(int argc, char **argv);

static void help(FILE *out) {
    fprintf(out, "usage: agora generate --ckpt DIR [--prompt TEXT] [--max-tokens N]\n"
                 "                      [--temperature T] [--top-k K] [--seed S] "
                 "[--tokenizer PATH]\n\n"
                 "Samples a continuation of the prompt from a checkpoint written by `agora "
                 "train`.\n\n");
}

const agora_cli_cmd agora_cmd_generate = {
    .name = "generate",
    .summary = "sample text from a training checkpoint",
    .run = run,
    .help = help,
    .order = 31,
};

static bool exists(const char *dir, const char *file) {
    char p[4352];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return stat(p, &st) == 0;
}

/* Resolves a checkpoint dir from a checkpoint, checkpoint root, or run dir. */
static bool find_ckpt(const char *arg, char *out, size_t len) {
    if (exists(arg, "model.safetensors")) {
        snprintf(out, len, "%s", arg);
        return true;
    }
    if (agora_ckpt_dir_latest(arg, out, len, NULL) == AGORA_OK)
        return true;
    char root[4096];
    snprintf(root, sizeof root, "%.4000s/ckpt", arg);
    return agora_ckpt_dir_latest(root, out, len, NULL) == AGORA_OK;
}

static int run(int argc, char **argv) {
    const char *ckpt = NULL, *prompt = "", *tok_path = NULL;
    int64_t max_tokens = 200, top_k = 40, seed = 1;
    double temperature = 0.8;
    agora_cli_flag flags[] = {
        {"--ckpt", AGORA_CLI_STR, &ckpt, "DIR", "checkpoint, checkpoint root or run dir"},
        {"--prompt", AGORA_CLI_STR, &prompt, "TEXT", "text to continue"},
        {"--max-tokens", AGORA_CLI_INT, &max_tokens, "N", "tokens to generate (200)"},
        {"--temperature", AGORA_CLI_DBL, &temperature, "T", "sampling temperature (0.8; 0 greedy)"},
        {"--top-k", AGORA_CLI_INT, &top_k, "K", "sample among the K most likely (40; 0 all)"},
        {"--seed", AGORA_CLI_INT, &seed, "S", "sampling seed (1)"},
        {"--tokenizer", AGORA_CLI_STR, &tok_path, "PATH", "tokenizer file or shard dir"},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int prc = agora_cli_parse(&agora_cmd_generate, flags, sizeof flags / sizeof flags[0], argc,
                              argv, pos, 1, &n_pos);
    if (prc != 0)
        return prc < 0 ? AGORA_EXIT_OK : prc;
    if (n_pos > 0)
        return agora_cli_usage(k_cmd, "unexpected argument '%s'", pos[0]);
    if (ckpt == NULL)
        return agora_cli_usage(k_cmd, "--ckpt is required");
    if (max_tokens < 0 || max_tokens > 1000000 || temperature < 0 || top_k < 0)
        return agora_cli_usage(k_cmd, "bad --max-tokens, --temperature or --top-k");
    char dir[4096], path[4352], err[AGORA_ERR_LEN];
    if (!find_ckpt(ckpt, dir, sizeof dir))
        return agora_cli_fail(k_cmd, "%s: no complete checkpoint found", ckpt);
    agora_model_config c;
    snprintf(path, sizeof path, "%s/config.json", dir);
    agora_err rc = agora_model_config_load_json(path, &c, err);
    if (rc != AGORA_OK)
        return agora_cli_fail(k_cmd, "%s", err);
    agora_model *m = NULL;
    agora_tokenizer *tok = NULL;
    uint32_t *ids = NULL;
    int32_t *ctx = NULL;
    float *scratch = NULL;
    char *text = NULL;
    int code = AGORA_EXIT_OK;
    rc = agora_model_create(&c, 1, &m);
    if (rc != AGORA_OK) {
        code = agora_cli_fail(k_cmd, "cannot allocate the model: %s", agora_err_str(rc));
        goto out;
    }
    rc = agora_ckpt_load_weights(dir, m, err);
    if (rc != AGORA_OK) {
        code = agora_cli_fail(k_cmd, "%s", err);
        goto out;
    }
    if (tok_path == NULL && exists(dir, "tokenizer.bpe")) {
        snprintf(path, sizeof path, "%s/tokenizer.bpe", dir);
        tok_path = path;
    }
    if (tok_path != NULL) {
        rc = agora_tokenizer_open(tok_path, &tok, err);
        if (rc != AGORA_OK) {
            code = agora_cli_fail(k_cmd, "%s", err);
            goto out;
        }
    } else if (c.vocab_size != 256) {
        code = agora_cli_fail(k_cmd, "%s has no tokenizer.bpe; pass --tokenizer", dir);
        goto out;
    }
    size_t n_prompt = 0, plen = strlen(prompt);
    if (tok != NULL) {
        rc = agora_tokenizer_encode(tok, prompt, plen, &ids, &n_prompt);
    } else {
        ids = agora_malloc((plen + 1) * sizeof *ids);
        rc = ids == NULL ? AGORA_ENOMEM : AGORA_OK;
        for (size_t i = 0; rc == AGORA_OK && i < plen; i++)
            ids[n_prompt++] = (unsigned char)prompt[i];
    }
    if (rc != AGORA_OK) {
        code = agora_cli_fail(k_cmd, "cannot encode the prompt: %s", agora_err_str(rc));
        goto out;
    }
    size_t total = n_prompt + (size_t)max_tokens;
    ctx = agora_malloc((total + 1) * sizeof *ctx);
    scratch = agora_malloc((size_t)c.vocab_size * 2 * sizeof *scratch);
    uint32_t *all = agora_realloc(ids, (total + 1) * sizeof *ids);
    if (ctx == NULL || scratch == NULL || all == NULL) {
        code = agora_cli_fail(k_cmd, "out of memory");
        goto out;
    }
    ids = all;
    size_t n = n_prompt;
    if (n == 0) /* an empty prompt starts from token 0 (a newline in byte vocabularies) */
        ids[n++] = tok != NULL ? 0u : (uint32_t)'\n';
    agora_rng r;
    agora_rng_seed(&r, (uint64_t)seed, AGORA_RNG_STREAM_SAMPLE, 0);
    for (int64_t k = 0; k < max_tokens; k++) {
        size_t T = n < (size_t)c.max_seq ? n : (size_t)c.max_seq;
        for (size_t i = 0; i < T; i++)
            ctx[i] = (int32_t)ids[n - T + i];
        rc = agora_model_forward(m, ctx, NULL, 1, (int32_t)T, 0.0f, NULL, NULL);
        if (rc != AGORA_OK) {
            code = agora_cli_fail(k_cmd, "forward: %s", agora_err_str(rc));
            goto out;
        }
        const float *logits = agora_model_logits(m) + (T - 1) * (size_t)c.vocab_size;
        int32_t next = agora_sample_logits(logits, c.vocab_size, temperature, (int32_t)top_k,
                                           agora_rng_uniform(&r), scratch);
        ids[n++] = (uint32_t)next;
    }
    size_t tlen = 0;
    if (tok != NULL) {
        rc = agora_tokenizer_decode(tok, ids, n, &text, &tlen);
        if (rc != AGORA_OK) {
            code = agora_cli_fail(k_cmd, "decode: %s", agora_err_str(rc));
            goto out;
        }
    } else {
        text = agora_malloc(n + 1);
        if (text == NULL) {
            code = agora_cli_fail(k_cmd, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            text[tlen++] = (char)ids[i];
        text[tlen] = '\0';
    }
    fwrite(text, 1, tlen, stdout);
    fputc('\n', stdout);
out:
    agora_free(text);
    agora_free(scratch);
    agora_free(ctx);
    agora_free(ids);
    agora_tokenizer_destroy(tok);
    agora_model_destroy(m);
    return code;
}
