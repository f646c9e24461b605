/* bench_sim_step.c: simulator throughput and memory (issue 3, Performance).
 *
 * For each N (1e4 and 1e5 by default, 1e6 with --big): mean out-degree 50, feed size 10,
 * engagement-oracle ranking after a chrono warm-up. Reports, per step: candidate (pool)
 * items scored and ranked per second, feed items shown per second, ms per step; memory in
 * bytes per agent (everything but the graph) and per edge (Out + In lists), and peak RSS.
 * Baseline, measured in the same run: the same steps on one thread (ratio = speed-up).
 * The NumPy reference (bench/sim_numpy_ref.py) is run by scripts/bench.d/20-sim.sh.
 *
 * usage: bench_sim_step [--big] [--n N] [--steps S] [--warmup W] [--no-baseline]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agora/sim.h"
#include "agora/time.h"

#ifdef AGORA_HAVE_OPENMP
#include <omp.h>
#endif

static long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

typedef struct result {
    double ms_step, pool_per_s, feed_per_s, pool_per_cpu_s, cpu_s_step;
    double phase_ms[AGORA_SIM_NPHASE]; /* per step: post, read, commit, learner */
} result;

/* CPU seconds of the whole process (all threads): throughput per CPU-second does not
 * depend on how loaded the machine is, wall-clock throughput does. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int measure(agora_sim *s, int steps, result *r) {
    int64_t p0, f0, p1, f1;
    double ph0[AGORA_SIM_NPHASE], ph1[AGORA_SIM_NPHASE];
    agora_sim_work(s, &p0, &f0);
    agora_sim_phase_seconds(s, ph0);
    int64_t t0 = agora_now_ns();
    double c0 = cpu_seconds();
    for (int i = 0; i < steps; i++)
        if (agora_sim_step(s, AGORA_RECSYS_ENG_ORACLE) != AGORA_OK)
            return 1;
    double sec = (double)(agora_now_ns() - t0) * 1e-9, cpu = cpu_seconds() - c0;
    agora_sim_work(s, &p1, &f1);
    agora_sim_phase_seconds(s, ph1);
    for (int ph = 0; ph < AGORA_SIM_NPHASE; ph++)
        r->phase_ms[ph] = 1e3 * (ph1[ph] - ph0[ph]) / steps;
    r->cpu_s_step = cpu / steps;
    r->pool_per_cpu_s = (double)(p1 - p0) / cpu;
    r->ms_step = 1e3 * sec / steps;
    r->pool_per_s = (double)(p1 - p0) / sec;
    r->feed_per_s = (double)(f1 - f0) / sec;
    return 0;
}

static int bench_one(int64_t n, int steps, int warmup, bool baseline) {
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.n_agents = n;
    p.out_degree_mean = 50;
    p.feed_k = 10;
    p.learner = false; /* only eng_learned needs it */
    char err[AGORA_ERR_LEN];
    agora_sim *s = NULL;
    int64_t tc = agora_now_ns();
    if (agora_sim_create(&p, &s, err) != AGORA_OK) {
        fprintf(stderr, "bench_sim_step: %s\n", err);
        return 1;
    }
    double create_s = (double)(agora_now_ns() - tc) * 1e-9;
    for (int i = 0; i < warmup; i++) /* fill the window and the seen sets */
        if (agora_sim_step(s, AGORA_RECSYS_CHRONO) != AGORA_OK)
            return 1;
    int threads = 1;
#ifdef AGORA_HAVE_OPENMP
    threads = omp_get_max_threads();
#endif
    agora_sim *b = NULL;
    if (baseline && agora_sim_clone(s, &b) != AGORA_OK)
        return 1;
    result fast, base;
    memset(&base, 0, sizeof base);
    if (measure(s, steps, &fast))
        return 1;
    if (baseline) {
#ifdef AGORA_HAVE_OPENMP
        omp_set_num_threads(1);
#endif
        if (measure(b, steps, &base))
            return 1;
#ifdef AGORA_HAVE_OPENMP
        omp_set_num_threads(threads);
#endif
    }
    /* `sim run` records the per-step metrics every sim.metrics_every (10) steps. */
    agora_sim_stepstats st;
    int64_t tm = agora_now_ns();
    agora_sim_stepstats_compute(s, &st);
    double metrics_ms = (double)(agora_now_ns() - tm) * 1e-6;
    size_t graph = 0, total = agora_sim_bytes(s, &graph);
    int64_t e = agora_sim_n_edges(s);
    printf("N=%-8lld edges=%-10lld create %.1f s | %d threads: %8.1f ms/step  pool items/s "
           "%.3g  feed items/s %.3g  (pool items per CPU-second %.3g)",
           (long long)n, (long long)e, create_s, threads, fast.ms_step, fast.pool_per_s,
           fast.feed_per_s, fast.pool_per_cpu_s);
    if (baseline)
        printf(" | 1 thread: %.1f ms/step, pool items/s %.3g | ratio %.2fx", base.ms_step,
               base.pool_per_s, fast.pool_per_s / base.pool_per_s);
    printf("\n    per step: %.2f CPU-s; phases (wall ms): post %.0f, read %.0f, commit %.0f; one "
           "metrics record %.0f ms (sim run: every %d steps)",
           fast.cpu_s_step, fast.phase_ms[0], fast.phase_ms[1], fast.phase_ms[2], metrics_ms,
           (int)p.metrics_every);
    printf("\n    memory: %.0f bytes/agent (state without graph), %.1f bytes/edge (graph), "
           "total %.1f MiB, peak RSS %.1f MiB\n",
           (double)(total - graph) / (double)n, (double)graph / (double)e,
           (double)total / 1048576.0, (double)peak_rss_kb() / 1024.0);
    fflush(stdout);
    agora_sim_destroy(b);
    agora_sim_destroy(s);
    return 0;
}

int main(int argc, char **argv) {
    bool big = false, baseline = true;
    int64_t only = 0;
    int steps = 0, warmup = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--big") == 0)
            big = true;
        else if (strcmp(argv[i], "--no-baseline") == 0)
            baseline = false;
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            only = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else {
            fprintf(
                stderr,
                "usage: bench_sim_step [--big] [--n N] [--steps S] [--warmup W] [--no-baseline]\n");
            return 2;
        }
    }
    printf("bench_sim_step: engagement-oracle steps after a %d-step chrono warm-up; mean "
           "out-degree 50, feed k 10, W 5\n",
           warmup);
    const int64_t ns[3] = {10000, 100000, 1000000};
    for (int j = 0; j < 3; j++) {
        if (only == 0 && j == 2 && !big)
            continue;
        int64_t n = only ? only : ns[j];
        int st = steps ? steps : (n <= 10000 ? 20 : (n <= 100000 ? 10 : 100));
        if (bench_one(n, st, warmup, baseline && n <= 100000))
            return 1;
        if (only)
            break;
    }
    return 0;
}
