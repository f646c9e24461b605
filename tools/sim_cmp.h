/* sim_cmp.h: what `agora sim compare` (cmd_sim.c) and `agora sim sweep` (sim_sweep.c) share:
 * the options, the table of per-replicate metrics, one replicate of a policy comparison,
 * bootstrap intervals, and the on-disk record of finished replicates that --resume reads.
 */
#ifndef AGORA_TOOLS_SIM_CMP_H
#define AGORA_TOOLS_SIM_CMP_H

#include <stdbool.h>
#include <stdint.h>

#include "agora/progress.h"
#include "agora/sim.h"
#include "cli.h"

typedef struct sim_opts {
    const char *run_dir, *policies, *progress;
    agora_cli_list sets;
    agora_cli_list varies; /* sweep: KEY=V1,V2,... */
    const char *metrics;   /* sweep: metric ids printed and plotted (NULL: the headline six) */
    int64_t replicates;
    bool resume;
} sim_opts;

/* The metrics of one (replicate, policy): one row of compare.csv. */
enum {
    C_NE_FEED,
    C_NE_POOL,
    C_ANB_POP,
    C_ANB_MED,
    C_ANB_P90,
    C_ANB_P99,
    C_ANB_MAX,
    C_ANB_GE1,
    C_API_MED,
    C_API_P99,
    C_API_MAX,
    C_OR1_RT,
    C_OR1_IMP,
    C_OR1_FOL,
    C_VAR,
    C_BC,
    C_EXT,
    C_ER,
    C_RO,
    C_Q,
    C_LOUVAIN,
    C_XCAMP,
    C_SHIFT,
    C_GINI_FOL,
    C_TOP1_FOL,
    C_GAIN_TOX,
    C_GAIN_OTH,
    C_RPE,
    C_N
};
extern const char *const sim_cmp_names[C_N]; /* for people: "ANB vs chrono: p99" */
extern const char *const sim_cmp_ids[C_N];   /* for programs: "anb_p99" */
extern const bool sim_cmp_pct[C_N];          /* shown as a signed percentage */

int sim_threads_now(void);
agora_progress_mode sim_progress_mode(const char *s);
/* Loads cfg with o's --set overrides and then n_extra more KEY=VALUE settings (a sweep
 * cell's) into p; returns 0 or the exit code after printing the error. */
int sim_load_config(const char *cmd, const char *path, const sim_opts *o, const char *const *extra,
                    size_t n_extra, agora_sim_params *p);
/* Parses --policies into pol (chrono first, added if missing); 0 or a usage exit code. */
int sim_parse_policies(const char *list, int *pol, int max, int *n_out);
/* Mean and 95% bootstrap CI (1,000 resamples, fixed seed) over the finite values of v. */
void sim_mean_ci(const double *v, int n, double *mean, double *lo, double *hi);

/* Replicate r (seed p->seed + r): burns in once under p->burnin_recsys, branches into every
 * policy from that state, and writes np rows of C_N metrics to rows; adds the OR counts
 * into pooled[np]. The progress bar advances one unit per simulated step from *done;
 * `what` prefixes its label ("replicate 3" follows). With ckdir (and
 * sim.checkpoint_every > 0) it saves the burn-in state, chrono's final state and the
 * finished branches there as it goes, and a rerun of the same replicate continues after
 * them (the rows are the same bits); the caller removes them with sim_cmp_clear_progress
 * once the replicate is recorded. */
agora_err sim_cmp_replicate(const agora_sim_params *p, int64_t r, const int *pol, int np,
                            double *rows, agora_sim_summary *pooled, agora_progress *pr,
                            uint64_t *done, const char *what, const char *ckdir,
                            char err[AGORA_ERR_LEN]);
void sim_cmp_clear_progress(const char *dir);
/* Simulated steps of one replicate (burn-in once, then every policy). */
uint64_t sim_cmp_units(const agora_sim_params *p, int np);

/* dir/compare.partial.safetensors: rows [0, done) and the pooled OR counts, saved
 * atomically after each replicate; load refuses other settings or policies, or more
 * replicates than R, and gives *done = 0 when there is no file. */
agora_err sim_cmp_save_partial(const char *dir, const agora_sim_params *p, const int *pol, int np,
                               int64_t done, const double *rows, const agora_sim_summary *pooled,
                               char err[AGORA_ERR_LEN]);
agora_err sim_cmp_load_partial(const char *dir, const agora_sim_params *p, const int *pol, int np,
                               int64_t R, double *rows, agora_sim_summary *pooled, int64_t *done,
                               char err[AGORA_ERR_LEN]);

/* `agora sim sweep` (sim_sweep.c). */
int sim_sweep(const char *cfg, const sim_opts *o, int argc, char **argv);

#endif /* AGORA_TOOLS_SIM_CMP_H */
