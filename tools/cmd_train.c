/* cmd_train.c: `agora train`: single-node training with progress, metrics and checkpoints.
 *
 * Config comes from the train.* table (agora_train_cfg): defaults < --config FILE <
 * AGORA_TRAIN_* env < --set train.key=value. The run directory gets config.ini,
 * config.effective.ini, meta.json, metrics.jsonl/.csv and ckpt/step_N/.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agora/progress.h"
#include "agora/metrics.h"
#include "agora/rundir.h"
#include "agora/time.h"
#include "agora/train.h"
#include "cli.h"

static const char *const k_cmd = "train";

static void print_memory(const agora_model_config *c, int64_t B, int64_t T) {
    uint64_t n = agora_model_config_n_params(c);
    double gib = 1024.0 * 1024.0 * 1024.0;
    double state = (double)n * 16.0; /* params + grads + AdamW m + v, fp32 */
    double acts = (double)agora_model_activation_bytes(c, (int32_t)B, (int32_t)T);
    printf("model: %" PRIu64 " parameters (%" PRIu64 " non-embedding), %d layers, dim %d, "
           "heads %d/%d, ffn %d, vocab %d\n",
           n, agora_model_config_n_params_nonembed(c), c->n_layers, c->dim, c->n_heads,
           c->n_kv_heads, c->ffn_dim, c->vocab_size);
    printf("memory: params+grads+AdamW %.2f GiB, activations (B=%" PRId64 ", T=%" PRId64
           ") %.2f GiB, total %.2f GiB\n",
           state / gib, B, T, acts / gib, (state + acts) / gib);
}

static double phys_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

static int run(int argc, char **argv);

static void help(FILE *out) {
    fprintf(out, "usage: agora train [--config FILE] [--set train.KEY=VALUE]... [--run-dir DIR]\n"
                 "                   [--resume] [--progress MODE]\n\n"
                 "Trains a Llama-style model on token shards (train.data, from `agora data\n"
                 "prepare`) or on a text file as bytes (train.text). Shows step, loss, lr,\n"
                 "tokens/s, MFU and ETA; writes metrics.jsonl and checkpoints to the run dir.\n"
                 "With the intellect-1 preset (or any model too big for this machine) it prints\n"
                 "the parameter count and memory needs and stops.\n\n");
    static agora_train_params p;
    agora_cfg_table t = {agora_train_cfg, agora_train_cfg_len, &p};
    agora_cfg_set_defaults(&t, 1);
    agora_cfg_print_help(&t, 1, out);
}

const agora_cli_cmd agora_cmd_train = {
    .name = "train",
    .summary = "train a Llama-style model on the CPU",
    .run = run,
    .help = help,
    .order = 30,
};

static agora_err record(agora_metrics *m, const agora_train_stats *s, double elapsed) {
    agora_metrics_begin(m);
    agora_metrics_i64(m, "step", s->step);
    agora_metrics_f64(m, "loss", s->loss);
    agora_metrics_f64(m, "ce", s->ce);
    agora_metrics_f64(m, "lr", s->lr);
    agora_metrics_f64(m, "grad_norm", s->grad_norm);
    agora_metrics_f64(m, "tok_per_s", s->tok_per_s);
    agora_metrics_f64(m, "mfu", s->mfu);
    agora_metrics_i64(m, "tokens", (int64_t)s->tokens);
    agora_metrics_f64(m, "elapsed_s", elapsed);
    return agora_metrics_end(m);
}

static agora_err record_val(agora_metrics *m, int64_t step, double val) {
    agora_metrics_begin(m);
    agora_metrics_i64(m, "step", step);
    agora_metrics_f64(m, "val_loss", val);
    return agora_metrics_end(m);
}

static int run(int argc, char **argv) {
    const char *config = NULL, *run_dir_arg = NULL, *progress = NULL;
    bool resume = false, plain = false;
    agora_cli_list sets = {0};
    agora_cli_flag flags[] = {
        {"--config", AGORA_CLI_STR, &config, "FILE", "INI file with a [train] section"},
        {"--set", AGORA_CLI_LIST, &sets, "KEY=VALUE", "override one setting (repeatable)"},
        {"--run-dir", AGORA_CLI_STR, &run_dir_arg, "DIR", "run directory (default runs/train-*)"},
        {"--resume", AGORA_CLI_SWITCH, &resume, NULL, "continue from the newest checkpoint"},
        AGORA_CLI_PROGRESS_FLAG(progress),
        {"--plain", AGORA_CLI_SWITCH, &plain, NULL, "same as --progress plain"},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int prc = agora_cli_parse(&agora_cmd_train, flags, sizeof flags / sizeof flags[0], argc, argv,
                              pos, 1, &n_pos);
    if (prc != 0)
        return prc < 0 ? AGORA_EXIT_OK : prc;
    if (n_pos > 0)
        return agora_cli_usage(k_cmd, "unexpected argument '%s'", pos[0]);
    agora_progress_mode pmode;
    if (agora_cli_progress(k_cmd, progress, &pmode) != 0)
        return AGORA_EXIT_USAGE;
    agora_train_params p;
    agora_cfg_table table = {agora_train_cfg, agora_train_cfg_len, &p};
    char err[AGORA_ERR_LEN];
    agora_err rc = agora_cfg_load_all(&table, 1, config, sets.v, sets.n, err);
    if (rc != AGORA_OK)
        return agora_cli_cfg_exit(k_cmd, rc, err);
    if (resume)
        p.resume = true;

    /* Shapes that cannot be trained here only report their size. */
    agora_model_config mc;
    if (p.model_config[0] == '\0' && agora_model_config_preset(p.preset, &mc) == AGORA_OK) {
        double need =
            (double)agora_model_config_n_params(&mc) * 16.0 +
            (double)agora_model_activation_bytes(&mc, (int32_t)p.batch_size, (int32_t)p.seq_len);
        if (strcmp(p.preset, "intellect-1") == 0 || need > 0.8 * phys_bytes()) {
            print_memory(&mc, p.batch_size, p.seq_len);
            printf("this machine has %.2f GiB; not training the %s preset here\n",
                   phys_bytes() / (1024.0 * 1024.0 * 1024.0), p.preset);
            return AGORA_EXIT_OK;
        }
    }

    char run_dir[2048];
    rc = agora_rundir_create(run_dir_arg, "train", run_dir, sizeof run_dir, err);
    if (rc != AGORA_OK)
        return agora_cli_fail(k_cmd, "%s", err);
    rc = agora_rundir_write_config(run_dir, config, &table, 1, err);
    if (rc == AGORA_OK)
        rc = agora_rundir_write_meta(run_dir, (uint64_t)p.seed, 0, argc, argv, err);
    if (rc != AGORA_OK)
        return agora_cli_fail(k_cmd, "%s", err);

    agora_trainer *tr = NULL;
    rc = agora_trainer_create(&p, run_dir, &tr, err);
    if (rc != AGORA_OK)
        return agora_cli_fail(k_cmd, "%s", err);
    const agora_model_config *cfg = agora_model_get_config(agora_trainer_model(tr));
    print_memory(cfg, p.batch_size, p.seq_len);
    printf("run dir: %s\ntokens/step: %" PRId64 ", steps: %" PRId64 ", peak %.1f GFLOP/s "
           "(MFU reference), sgemm: %s\n",
           run_dir, p.batch_size * p.seq_len * p.grad_accum, p.steps,
           agora_trainer_peak_flops(tr) / 1e9, agora_sgemm_name());
    fflush(stdout);

    agora_metrics *met = NULL;
    rc = agora_metrics_open(run_dir, "metrics", &met);
    if (rc != AGORA_OK) {
        agora_trainer_destroy(tr);
        return agora_cli_fail(k_cmd, "%s: cannot open metrics: %s", run_dir, agora_err_str(rc));
    }
    agora_progress pr;
    agora_progress_init(&pr, "train", (uint64_t)p.steps, stderr,
                        plain ? AGORA_PROGRESS_PLAIN : pmode);
    int64_t start = agora_trainer_step_count(tr), t0 = agora_now_ns();
    agora_train_stats s = {0};
    double val = -1;
    int code = AGORA_EXIT_OK;
    bool stopped = false;
    while (agora_trainer_step_count(tr) < p.steps) {
        rc = agora_trainer_step(tr, &s);
        if (rc != AGORA_OK) {
            code = agora_cli_fail(k_cmd, "step %" PRId64 ": %s", s.step + 1, agora_err_str(rc));
            break;
        }
        double elapsed = (double)(agora_now_ns() - t0) / 1e9;
        if (s.step % p.log_every == 0 || s.step == p.steps || s.step == start + 1)
            rc = record(met, &s, elapsed);
        if (rc == AGORA_OK && p.val_every > 0 && s.step % p.val_every == 0 &&
            agora_trainer_eval(tr, &val) == AGORA_OK)
            rc = record_val(met, s.step, val);
        if (rc != AGORA_OK) {
            code = agora_cli_fail(k_cmd, "metrics: %s", agora_err_str(rc));
            break;
        }
        agora_progress_update(&pr, (uint64_t)s.step, "loss %.4f lr %.2e %.0f tok/s MFU %.1f%%",
                              s.loss, s.lr, s.tok_per_s, 100.0 * s.mfu);
        bool stop = p.stop_at > 0 && s.step >= p.stop_at;
        if ((p.ckpt_every > 0 && s.step % p.ckpt_every == 0) || stop || s.step == p.steps) {
            char dir[4096];
            rc = agora_trainer_checkpoint(tr, dir, sizeof dir, err);
            if (rc != AGORA_OK) {
                code = agora_cli_fail(k_cmd, "checkpoint: %s", err);
                break;
            }
        }
        if (stop) {
            stopped = true;
            break;
        }
    }
    if (code == AGORA_EXIT_OK) {
        if (agora_trainer_eval(tr, &val) != AGORA_OK)
            val = -1; /* no validation data */
        agora_progress_finish(&pr, "step %" PRId64 " loss %.4f val %.4f %.0f tok/s MFU %.1f%%",
                              agora_trainer_step_count(tr), s.loss, val, s.tok_per_s,
                              100.0 * s.mfu);
        printf("%s at step %" PRId64 ": loss %.4f, val loss %.4f, %.0f tok/s, MFU %.1f%%\n",
               stopped ? "stopped" : "done", agora_trainer_step_count(tr), s.loss, val, s.tok_per_s,
               100.0 * s.mfu);
    }
    agora_metrics_close(met);
    agora_trainer_destroy(tr);
    return code;
}
