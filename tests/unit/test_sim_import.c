/* test_sim_import.c: edge-list and agent-CSV parsers (good and malformed input, file:line
 * messages), import into a state, and the `agora sim` CLI end to end on a tiny config. */
#include "agora_test.h"
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora/alloc.h"
#include "agora/stream.h"
#include "agora/time.h"
#include "sim/sim_internal.h"

static void sim_import_snap_and_csv_edges_remap_ids(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora__sim_edges e;
    const char *snap = "# comment\n10 20\n  20\t30  \n\n30 10 1.5 extra\r\n";
    agora_assert_ok(agora__sim_parse_edges("x.txt", snap, strlen(snap), false, &e, err));
    assert_int_equal(e.n_nodes, 3);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.src[0], 0); /* "10" -> 0, "20" -> 1, "30" -> 2 */
    assert_int_equal(e.dst[0], 1);
    assert_int_equal(e.src[2], 2);
    assert_int_equal(e.dst[2], 0);
    assert_int_equal(agora__sim_edges_find(&e, "30", 2), 2);
    agora__sim_edges_free(&e);
    const char *csv = "alice,bob\nbob, carol\n";
    agora_assert_ok(agora__sim_parse_edges("x.csv", csv, strlen(csv), true, &e, err));
    assert_int_equal(e.n_nodes, 3);
    assert_int_equal(e.src[0], 1); /* reversed: bob follows alice */
    assert_int_equal(e.dst[0], 0);
    assert_int_equal(agora__sim_edges_find(&e, "carol", 5), 2);
    agora__sim_edges_free(&e);
}

static void expect_edges_error(const char *text, const char *msg) {
    char err[AGORA_ERR_LEN] = "";
    agora__sim_edges e;
    agora_err rc = agora__sim_parse_edges("bad.txt", text, strlen(text), false, &e, err);
    if (rc == AGORA_OK)
        fail_msg("accepted: %s", text);
    if (strstr(err, msg) == NULL)
        fail_msg("message '%s' lacks '%s'", err, msg);
}

static void sim_import_rejects_malformed_edges_with_line(void **state) {
    (void)state;
    expect_edges_error("1 2\n3\n", "bad.txt:2: expected two node ids");
    expect_edges_error("1 2\n\n# x\n,4\n", "bad.txt:4: expected two node ids");
    expect_edges_error("1 2\n3 \x01 4\n", "bad.txt:2: control character");
    char longid[300];
    memset(longid, 'x', 200);
    strcpy(longid + 200, " y\n");
    expect_edges_error(longid, "bad.txt:1: node id longer than");
    expect_edges_error("# only comments\n", "bad.txt: no edges");
    expect_edges_error("", "bad.txt: no edges");
}

static void sim_import_agents_override_attributes(void **state) {
    (void)state;
    char err[AGORA_ERR_LEN] = "";
    agora__sim_edges e;
    const char *edges = "a b\nb c\n";
    agora_assert_ok(agora__sim_parse_edges("e", edges, strlen(edges), false, &e, err));
    const char *agents = "# attrs\nopinion,id,toxicity\n0.5,b,0.25\n-1,c,1\n";
    agora__sim_attr *rows = NULL;
    size_t n = 0;
    agora_assert_ok(agora__sim_parse_agents("a.csv", agents, strlen(agents), &e, &rows, &n, err));
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].node, 1);
    agora_assert_near(rows[0].o, 0.5, 0);
    agora_assert_near(rows[0].tau, 0.25, 0);
    assert_int_equal(rows[0].has, SIM_ATTR_O | SIM_ATTR_TAU);
    assert_int_equal(rows[1].node, 2);
    agora_free(rows);
    agora__sim_edges_free(&e);
}

static void expect_agents_error(const char *text, const char *msg) {
    char err[AGORA_ERR_LEN] = "";
    agora__sim_edges e;
    const char *edges = "a b\nb c\n";
    agora_assert_ok(agora__sim_parse_edges("e", edges, strlen(edges), false, &e, err));
    agora__sim_attr *rows = NULL;
    size_t n = 0;
    agora_err rc = agora__sim_parse_agents("ag.csv", text, strlen(text), &e, &rows, &n, err);
    agora__sim_edges_free(&e);
    if (rc == AGORA_OK) {
        agora_free(rows);
        fail_msg("accepted: %s", text);
    }
    if (strstr(err, msg) == NULL)
        fail_msg("message '%s' lacks '%s'", err, msg);
}

static void sim_import_rejects_malformed_agents_with_line(void **state) {
    (void)state;
    expect_agents_error("opinion\n0.1\n", "ag.csv:1: header has no 'id' column");
    expect_agents_error("id,color\n", "ag.csv:1: unknown column 'color'");
    expect_agents_error("id,id\n", "ag.csv:1: column 'id' repeated");
    expect_agents_error("id,opinion\na,0.1\nzz,0.2\n", "ag.csv:3: unknown id 'zz'");
    expect_agents_error("id,opinion\na,0.1\na,0.2\n", "ag.csv:3: id 'a' repeated");
    expect_agents_error("id,opinion\na,1.5\n", "ag.csv:2: opinion = 1.5 out of range");
    expect_agents_error("id,toxicity\na,-0.1\n", "ag.csv:2: toxicity = -0.1 out of range");
    expect_agents_error("id,activity\na,x1\n", "ag.csv:2: activity: not a number");
    expect_agents_error("id,opinion\na,nan\n", "ag.csv:2: opinion: not a number");
    expect_agents_error("id,opinion\na,0.1,3\n", "ag.csv:2: 3 fields, header has 2");
    expect_agents_error("id,opinion\nb,\n", "ag.csv:2: opinion: not a number");
    expect_agents_error("", "ag.csv: empty");
}

static void sim_import_fixture_builds_a_state(void **state) {
    (void)state;
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.graph_init = SIM_GRAPH_FILE;
    snprintf(p.edges_path, sizeof p.edges_path, "%s/tests/fixtures/sim/tiny_edges.txt",
             agora_test_src());
    snprintf(p.agents_path, sizeof p.agents_path, "%s/tests/fixtures/sim/tiny_agents.csv",
             agora_test_src());
    char err[AGORA_ERR_LEN];
    agora_sim *s = NULL;
    agora_assert_ok(agora_sim_create(&p, &s, err));
    assert_int_equal(agora_sim_n_agents(s), 12);
    assert_int_equal(agora_sim_n_edges(s), 24); /* self-loop and duplicate dropped */
    agora_assert_near(s->o[0], -0.9, 0);        /* "a" */
    agora_assert_near(s->tau[9], 0.9, 0);       /* "j" */
    assert_true(agora__sim_follows(s, 0, 1));
    assert_false(agora__sim_follows(s, 1, 1));
    for (int t = 0; t < 30; t++)
        agora_assert_ok(agora_sim_step(s, AGORA_RECSYS_ENG_ORACLE));
    agora_assert_ok(agora_sim_check_invariants(s, err));
    agora_sim_destroy(s);
    /* a missing file is named */
    snprintf(p.edges_path, sizeof p.edges_path, "/nonexistent/edges.txt");
    assert_int_not_equal(agora_sim_create(&p, &s, err), AGORA_OK);
    assert_non_null(strstr(err, "/nonexistent/edges.txt"));
}

static void write_text(const char *path, const char *text);

static void sim_import_filters_degree_and_component(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char path[200];
    snprintf(path, sizeof path, "%.150s/e.txt", tmp);
    write_text(path, "a b\nb a\nc d\nd e\ne c\nx y\n");
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.graph_init = SIM_GRAPH_FILE;
    snprintf(p.edges_path, sizeof p.edges_path, "%s", path);
    char err[AGORA_ERR_LEN];
    agora_sim *s = NULL;
    p.largest_wcc = true; /* {c, d, e} */
    agora_assert_ok(agora_sim_create(&p, &s, err));
    assert_int_equal(agora_sim_n_agents(s), 3);
    assert_int_equal(agora_sim_n_edges(s), 3);
    snprintf(path, sizeof path, "%.150s/ids.csv", tmp);
    agora_assert_ok(agora_sim_write_ids_csv(s, path));
    char *txt = NULL;
    size_t len = 0;
    agora_assert_ok(agora_read_file(path, 1 << 20, &txt, &len, err));
    assert_string_equal(txt, "node,id\n0,\"c\"\n1,\"d\"\n2,\"e\"\n");
    agora_free(txt);
    agora_sim_destroy(s);
    p.largest_wcc = false;
    p.min_degree = 2; /* x and y have one edge each */
    agora_assert_ok(agora_sim_create(&p, &s, err));
    assert_int_equal(agora_sim_n_agents(s), 5);
    assert_int_equal(agora_sim_n_edges(s), 5);
    agora_sim_destroy(s);
    p.min_degree = 0;
    write_text(p.edges_path, "u v 2\nu v\nv w\nw u 1\nw u 2\nx u junk\n");
    p.from_retweets = 3; /* (u, v) counted 3 and (w, u) 3: kept; (v, w) 1 and (x, u) 1: not */
    agora_assert_ok(agora_sim_create(&p, &s, err));
    assert_int_equal(agora_sim_n_agents(s), 4);
    assert_int_equal(agora_sim_n_edges(s), 2);
    assert_true(agora__sim_follows(s, 0, 1));
    assert_true(agora__sim_follows(s, 2, 0));
    agora_sim_destroy(s);
    p.from_retweets = 0;
    p.min_degree = 5; /* nobody left */
    agora_assert_err(agora_sim_create(&p, &s, err), AGORA_EINVAL);
    assert_non_null(strstr(err, "fewer than two nodes"));
    agora_test_rmtree(tmp);
    free(tmp);
}

static void sim_import_opinions_from_labels_and_spectral(void **state) {
    (void)state;
    double pos = 0;
    assert_true(agora__sim_label_position("fi:-0.8,ps:-0.4,fn:0.8", "ps", &pos));
    agora_assert_near(pos, -0.4, 0);
    assert_false(agora__sim_label_position("fi:-0.8,ps:-0.4", "p", &pos));
    assert_false(agora__sim_label_position("fi:x", "fi", &pos));
    assert_false(agora__sim_label_position("fi:2", "fi", &pos));
    char *tmp = agora_test_tmpdir();
    agora_sim_params p;
    agora_sim_params_default(&p);
    p.graph_init = SIM_GRAPH_FILE;
    snprintf(p.edges_path, sizeof p.edges_path, "%.150s/e.txt", tmp);
    snprintf(p.agents_path, sizeof p.agents_path, "%.150s/a.csv", tmp);
    /* two 6-cliques (mutual follows) joined by one edge */
    char edges[4096] = "";
    size_t len = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                if (i != j)
                    len += (size_t)snprintf(edges + len, sizeof edges - len, "n%d n%d\n", 6 * c + i,
                                            6 * c + j);
    snprintf(edges + len, sizeof edges - len, "n5 n6\n");
    write_text(p.edges_path, edges);
    write_text(p.agents_path, "id,label,toxicity\nn0,fi,0.5\nn7,fn,0.5\nn8,zz,0.5\n");
    char err[AGORA_ERR_LEN];
    agora_sim *s = NULL;
    p.opinion_init = SIM_OINIT_LABELS;
    agora_assert_ok(agora_sim_create(&p, &s, err));
    agora_assert_near(s->o[0], -0.8, 0.25);
    agora_assert_near(s->o[7], 0.8, 0.25);
    agora_sim_destroy(s);
    p.opinion_init = SIM_OINIT_SPECTRAL;
    agora_assert_ok(agora_sim_create(&p, &s, err));
    for (int i = 0; i < 6; i++) {
        if (!(s->o[i] < 0 && s->o[6 + i] > 0))
            fail_msg("spectral: node %d at %.3f, node %d at %.3f", i, s->o[i], 6 + i, s->o[6 + i]);
    }
    agora_sim_destroy(s);
    agora_test_rmtree(tmp);
    free(tmp);
}

static char g_out[1 << 16];

static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=2 '%s' %s", agora_test_bin(), args);
    return agora_test_run(cmd, g_out, sizeof g_out);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *dir, const char *name) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

static void sim_cli_run_writes_run_directory(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char ini[1024], rd[1024], args[4096];
    snprintf(ini, sizeof ini, "%s/exp.ini", tmp);
    snprintf(rd, sizeof rd, "%s/run", tmp);
    write_text(ini, "[sim]\nn_agents = 300\nn_steps = 30\nburnin_steps = 10\nmetrics_every = 5\n"
                    "out_degree_mean = 20\nrecsys = eng_oracle\n");
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s' --progress off", ini, rd);
    assert_int_equal(run(args), 0);
    const char *files[] = {
        "config.ini",   "config.effective.ini", "meta.json",    "metrics.csv", "metrics.jsonl",
        "summary.json", "agents.csv",           "opinions.svg", "anb.svg",     "orq.svg",
        "lorenz.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!exists(rd, files[i]))
            fail_msg("missing %s in the run dir", files[i]);
    char *d1 = strstr(g_out, "digest");
    assert_non_null(d1);
    char dig[64];
    snprintf(dig, sizeof dig, "%.30s", d1);
    /* same config, other thread count: same digest */
    snprintf(args, sizeof args,
             "sim run '%s' --run-dir '%s/run1' --progress off 2>&1 | grep digest", ini, tmp);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 '%s' %s", agora_test_bin(), args);
    assert_int_equal(agora_test_run(cmd, g_out, sizeof g_out), 0);
    assert_non_null(strstr(g_out, dig));
    /* compare prints the table with both policies */
    snprintf(args, sizeof args,
             "sim compare '%s' --policies engagement,random --replicates 2 --run-dir '%s/cmp' "
             "--progress off",
             ini, tmp);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "| chrono"));
    assert_non_null(strstr(g_out, "| eng_oracle"));
    assert_non_null(strstr(g_out, "| random"));
    assert_non_null(strstr(g_out, "OR(1%) retweets received"));
    assert_non_null(strstr(g_out, "exposures to the other camp"));
    const char *shift = strstr(g_out, "opinion shift vs chrono");
    assert_non_null(shift); /* chrono against itself: exactly 0 */
    assert_true(strncmp(strchr(shift, '|'), "| 0.000 [0.000, 0.000]", 22) == 0);
    snprintf(rd, sizeof rd, "%s/cmp", tmp);
    assert_true(exists(rd, "compare.csv"));
    agora_test_rmtree(tmp);
    free(tmp);
}

static void sim_cli_rejects_bad_config_and_usage(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char ini[1024], args[4096];
    snprintf(ini, sizeof ini, "%s/bad.ini", tmp);
    write_text(ini, "[sim]\nn_agents = 300\nfeed_kk = 3\n");
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s/r'", ini, tmp);
    assert_int_equal(run(args), 2);
    assert_non_null(strstr(g_out, "bad.ini:3"));
    write_text(ini, "[sim]\nn_agents = 300\nn_steps = 10\nburnin_steps = 20\n");
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "burnin_steps"));
    snprintf(args, sizeof args, "sim compare '%s' --policies chrono,nope", ini);
    assert_int_equal(run(args), 2);
    assert_non_null(strstr(g_out, "unknown policy 'nope'"));
    const char *bad_vary[][2] = {
        {"--vary sim.beta_neg=0,x", "--vary sim.beta_neg=x: sim.beta_neg = 'x' is not a number"},
        {"--vary sim.nope=1,2", "unknown key 'sim.nope'"},
        {"--vary beta_neg=1", "only sim.* keys"},
        {"--vary sim.beta_neg=1,,2", "empty value"},
        {"--vary sim.beta_neg=1,1", "listed twice"},
        {"--vary sim.replicates=1,2", "use --replicates"},
        {"--vary sim.burnin_steps=5,30", "cell sim.burnin_steps=30: sim.burnin_steps (30)"},
        {"--vary sim.beta_neg=0,1 --set sim.beta_neg=1", "both --set and --vary"},
        {"--vary sim.beta_neg=0 --vary sim.beta_neg=1", "given twice"},
        {"", "needs at least one --vary"},
        {"--vary sim.beta_neg=0 --metrics anb_pop,nope", "unknown metric 'nope'"},
        {"--vary sim.beta_neg=0 --metrics rpe,rpe", "'rpe' listed twice"},
    };
    write_text(ini, "[sim]\nn_agents = 300\nn_steps = 20\nburnin_steps = 8\n");
    for (size_t i = 0; i < sizeof bad_vary / sizeof bad_vary[0]; i++) {
        snprintf(args, sizeof args, "sim sweep '%s' %s --run-dir '%s/sw'", ini, bad_vary[i][0],
                 tmp);
        assert_int_equal(run(args), 2);
        if (strstr(g_out, bad_vary[i][1]) == NULL)
            fail_msg("%s: wanted '%s' in: %s", bad_vary[i][0], bad_vary[i][1], g_out);
    }
    snprintf(args, sizeof args, "sim run '%s' --vary sim.beta_neg=0,1", ini);
    assert_int_equal(run(args), 2);
    assert_non_null(strstr(g_out, "--vary and --metrics are for sweep"));
    assert_int_equal(run("sim frobnicate x.ini"), 2);
    assert_int_equal(run("sim run"), 2);
    write_text(ini, "[sim]\ngraph_init = file\nedges = /nonexistent/e.txt\n");
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s/r2'", ini, tmp);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "/nonexistent/e.txt"));
    agora_test_rmtree(tmp);
    free(tmp);
}

/* The whole file at dir/name (NUL-terminated; free it). */
static char *slurp(const char *dir, const char *name) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *buf = NULL, err[AGORA_ERR_LEN];
    size_t len = 0;
    if (agora_read_file(p, (size_t)1 << 26, &buf, &len, err) != AGORA_OK) {
        fail_msg("%s", err);
        return NULL;
    }
    return buf;
}

static void same_file(const char *a, const char *b, const char *name) {
    char *x = slurp(a, name), *y = slurp(b, name);
    if (strcmp(x, y) != 0)
        fail_msg("%s differs between %s and %s", name, a, b);
    agora_free(x);
    agora_free(y);
}

static void copy_file(const char *from, const char *to) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* A run stopped at step 20 and resumed to 40 ends like one that never stopped: the same
 * digest, metrics, summary and plots. Resuming from an older checkpoint than the metrics
 * (a crash between checkpoints) drops the later records before writing them again. A
 * resume under other settings is refused and leaves the run directory as it was. */
static void sim_cli_resume_matches_an_unbroken_run(void **state) {
    (void)state;
    char *tmp = agora_test_tmpdir();
    char ini[1024], a[1024], b[1024], ck[1100], ck20[1024], args[4096];
    snprintf(ini, sizeof ini, "%s/exp.ini", tmp);
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    snprintf(ck, sizeof ck, "%s/sim.ckpt.safetensors", b);
    snprintf(ck20, sizeof ck20, "%s/ck20", tmp);
    write_text(ini, "[sim]\nn_agents = 300\nn_steps = 40\nburnin_steps = 10\nmetrics_every = 5\n"
                    "checkpoint_every = 10\nout_degree_mean = 20\nrecsys = eng_oracle\n");
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s' --progress off", ini, a);
    assert_int_equal(run(args), 0);
    char *d = strstr(g_out, "digest");
    assert_non_null(d);
    char dig[64];
    snprintf(dig, sizeof dig, "%.30s", d);
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s' --progress off --set sim.n_steps=20",
             ini, b);
    assert_int_equal(run(args), 0);
    assert_null(strstr(g_out, dig));
    copy_file(ck, ck20);
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s' --progress off --resume", ini, b);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "resumed from"));
    assert_non_null(strstr(g_out, dig));
    const char *same[] = {"metrics.jsonl", "metrics.csv", "summary.json", "agents.csv", "anb.svg"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        same_file(a, b, same[i]);
    /* back to the step-20 checkpoint with metrics up to 40 on disk */
    copy_file(ck20, ck);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, dig));
    same_file(a, b, "metrics.jsonl");
    same_file(a, b, "metrics.csv");
    /* other settings: refused, nothing rewritten */
    char *cfg = slurp(b, "config.effective.ini");
    snprintf(args, sizeof args,
             "sim run '%s' --run-dir '%s' --progress off --resume --set sim.beta_neg=0.9", ini, b);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "other sim.* settings"));
    char *cfg2 = slurp(b, "config.effective.ini");
    assert_string_equal(cfg, cfg2);
    agora_free(cfg);
    agora_free(cfg2);
    /* a damaged checkpoint is named */
    FILE *f = fopen(ck, "r+b");
    assert_non_null(f);
    fseek(f, -5, SEEK_END);
    fputc('#', f);
    fclose(f);
    snprintf(args, sizeof args, "sim run '%s' --run-dir '%s' --progress off --resume", ini, b);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "sim.ckpt.safetensors"));
    snprintf(args, sizeof args, "sim run '%s' --resume", ini);
    assert_int_equal(run(args), 2);
    assert_non_null(strstr(g_out, "--resume needs --run-dir"));
    agora_test_rmtree(tmp);
    free(tmp);
}

/* A temporary directory with exp.ini holding `ini_text`, and the paths of run directories
 * a, b and c in it. */
typedef struct cli_fix {
    char *tmp;
    char ini[1024], a[1024], b[1024], c[1024];
} cli_fix;

static void fix_open(cli_fix *f, const char *ini_text) {
    f->tmp = agora_test_tmpdir();
    snprintf(f->ini, sizeof f->ini, "%s/exp.ini", f->tmp);
    snprintf(f->a, sizeof f->a, "%s/a", f->tmp);
    snprintf(f->b, sizeof f->b, "%s/b", f->tmp);
    snprintf(f->c, sizeof f->c, "%s/c", f->tmp);
    write_text(f->ini, ini_text);
}

static void fix_close(cli_fix *f) {
    agora_test_rmtree(f->tmp);
    free(f->tmp);
}

/* The output of the last run() from `anchor` on (strdup'ed; free it). */
static char *output_from(const char *anchor) {
    const char *at = strstr(g_out, anchor);
    if (at == NULL)
        fail_msg("'%s' not in the output:\n%s", anchor, g_out);
    return strdup(at);
}

/* A compare stopped after 2 replicates and resumed to 3 prints and writes what one run of 3
 * does; other policies, other settings or fewer replicates than are done are refused. */
static void sim_cli_compare_resumes_after_finished_replicates(void **state) {
    (void)state;
    cli_fix f;
    fix_open(&f, "[sim]\nn_agents = 300\nn_steps = 20\nburnin_steps = 8\nout_degree_mean = 20\n");
    const char *ini = f.ini, *a = f.a, *b = f.b;
    char args[4096];
    const char *pols = "--policies engagement,random --progress off";
    snprintf(args, sizeof args, "sim compare '%s' %s --replicates 3 --run-dir '%s'", ini, pols, a);
    assert_int_equal(run(args), 0);
    char *want = output_from("metric ");
    char *table;
    snprintf(args, sizeof args, "sim compare '%s' %s --replicates 2 --run-dir '%s'", ini, pols, b);
    assert_int_equal(run(args), 0);
    snprintf(args, sizeof args, "sim compare '%s' %s --replicates 3 --run-dir '%s' --resume", ini,
             pols, b);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "2 of 3 replicates already done"));
    table = strstr(g_out, "metric ");
    assert_non_null(table);
    assert_string_equal(table, want);
    same_file(a, b, "compare.csv");
    free(want);
    snprintf(args, sizeof args,
             "sim compare '%s' --policies random --replicates 3 --run-dir '%s' "
             "--resume --progress off",
             ini, b);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "written for policies chrono,eng_oracle,random"));
    snprintf(args, sizeof args, "sim compare '%s' %s --replicates 2 --run-dir '%s' --resume", ini,
             pols, b);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "more than the 2 asked"));
    snprintf(args, sizeof args,
             "sim compare '%s' %s --replicates 4 --run-dir '%s' --resume --set sim.beta_neg=0.9",
             ini, pols, b);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "other sim.* settings"));
    fix_close(&f);
}

/* Every sweep cell is exactly the compare run with its values set; a sweep stopped after
 * some replicates and resumed ends with the same files as one that never stopped; a
 * resume over another grid is refused. */
static void sim_cli_sweep_matches_compare_and_resumes(void **state) {
    (void)state;
    cli_fix f;
    fix_open(&f, "[sim]\nn_agents = 300\nn_steps = 20\nburnin_steps = 8\nout_degree_mean = 20\n");
    const char *ini = f.ini, *a = f.a, *b = f.b, *c = f.c;
    char args[4096];
    const char *grid = "--vary sim.beta_neg=0,1 --vary sim.kernel=logistic,flat "
                       "--policies engagement --progress off";
    snprintf(args, sizeof args, "sim sweep '%s' %s --replicates 2 --run-dir '%s'", ini, grid, a);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "4 cells x 2 policies x 2 replicates"));
    char *want = output_from("ANB vs chrono: population");
    char *table;
    /* cell 2 is beta_neg=1, kernel=logistic: its rows are compare's, value for value */
    snprintf(args, sizeof args,
             "sim compare '%s' --policies engagement --progress off --replicates 2 "
             "--run-dir '%s' --set sim.beta_neg=1 --set sim.kernel=logistic",
             ini, c);
    assert_int_equal(run(args), 0);
    char *cmp = slurp(c, "compare.csv"), *sw = slurp(a, "sweep.csv");
    int matched = 0;
    for (char *line = strchr(cmp, '\n') + 1; *line != '\0';) { /* "replicate,policy,..." */
        char *end = strchr(line, '\n');
        assert_non_null(end);
        char needle[4096];
        snprintf(needle, sizeof needle, "\n2,1,logistic,%.*s\n", (int)(end - line), line);
        if (strstr(sw, needle) == NULL)
            fail_msg("compare's row %.*s is not cell 2's", (int)(end - line), line);
        matched++;
        line = end + 1;
    }
    assert_int_equal(matched, 4);
    agora_free(cmp);
    agora_free(sw);
    char *sum = slurp(a, "sweep_summary.csv");
    assert_non_null(strstr(sum, "cell,sim.beta_neg,sim.kernel,policy,metric,mean,ci_lo,ci_hi"));
    assert_non_null(strstr(sum, "\n3,1,flat,eng_oracle,anb_pop,"));
    agora_free(sum);
    /* --metrics picks what is printed and plotted */
    snprintf(args, sizeof args,
             "sim sweep '%s' %s --replicates 1 --run-dir '%s' --metrics bimodality,rpe", ini, grid,
             c);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "bimodality coeff."));
    assert_null(strstr(g_out, "ANB vs chrono: population"));
    assert_true(exists(c, "sweep_bimodality.svg") && !exists(c, "sweep_anb_pop.svg"));
    char *svg = slurp(a, "sweep_anb_pop.svg");
    assert_non_null(strstr(svg, "eng_oracle, kernel=flat"));
    assert_non_null(strstr(svg, "<circle"));
    agora_free(svg);
    /* stopped after one replicate per cell, then resumed to two */
    snprintf(args, sizeof args, "sim sweep '%s' %s --replicates 1 --run-dir '%s'", ini, grid, b);
    assert_int_equal(run(args), 0);
    snprintf(args, sizeof args, "sim sweep '%s' %s --replicates 2 --run-dir '%s' --resume", ini,
             grid, b);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(g_out, "50% of the grid already done"));
    table = strstr(g_out, "ANB vs chrono: population");
    assert_non_null(table);
    assert_string_equal(table, want);
    free(want);
    same_file(a, b, "sweep.csv");
    same_file(a, b, "sweep_summary.csv");
    same_file(a, b, "sweep_rpe.svg");
    snprintf(args, sizeof args,
             "sim sweep '%s' --vary sim.beta_neg=0,2 --vary sim.kernel=logistic,flat "
             "--policies engagement --progress off --replicates 2 --run-dir '%s' --resume",
             ini, b);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(g_out, "cannot resume"));
    assert_non_null(strstr(g_out, "not sim.beta_neg=0,2 sim.kernel=logistic,flat"));
    fix_close(&f);
}

/* A compare killed (SIGKILL) inside a replicate, after its chrono branch, resumes from the
 * burn-in and chrono states it saved: the table and compare.csv equal an unbroken run's. */
static void sim_cli_compare_resumes_inside_a_replicate(void **state) {
    (void)state;
    cli_fix f;
    fix_open(&f, "[sim]\nn_agents = 3000\nn_steps = 60\nburnin_steps = 20\nout_degree_mean = 20\n");
    const char *ini = f.ini, *a = f.a, *b = f.b;
    char args[4096];
    const char *pols = "--policies engagement,random --replicates 2 --progress off";
    snprintf(args, sizeof args, "sim compare '%s' %s --run-dir '%s'", ini, pols, a);
    assert_int_equal(run(args), 0);
    char *want = output_from("metric ");
    char *table;
    /* the same, killed as soon as replicate 1's chrono branch is saved */
    char cmd[8192], base[2048];
    snprintf(base, sizeof base, "%s/replicate.base.ckpt", b);
    snprintf(cmd, sizeof cmd, "exec '%s' sim compare '%s' %s --run-dir '%s' >/dev/null 2>&1",
             agora_test_bin(), ini, pols, b);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("OMP_NUM_THREADS", "2", 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    int64_t deadline = agora_deadline_in_ms(60000);
    while (stat(base, &st) != 0 && !agora_deadline_passed(deadline))
        agora_sleep_ns(500 * 1000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status)); /* killed, not finished */
    assert_true(exists(b, "replicate.base.ckpt") && exists(b, "replicate.burnin.ckpt"));
    snprintf(args, sizeof args, "sim compare '%s' %s --run-dir '%s' --resume", ini, pols, b);
    assert_int_equal(run(args), 0);
    table = strstr(g_out, "metric ");
    assert_non_null(table);
    assert_string_equal(table, want);
    same_file(a, b, "compare.csv");
    assert_false(exists(b, "replicate.base.ckpt")); /* recorded: the checkpoints went */
    free(want);
    fix_close(&f);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_import_snap_and_csv_edges_remap_ids),
        cmocka_unit_test(sim_import_rejects_malformed_edges_with_line),
        cmocka_unit_test(sim_import_agents_override_attributes),
        cmocka_unit_test(sim_import_rejects_malformed_agents_with_line),
        cmocka_unit_test(sim_import_fixture_builds_a_state),
        cmocka_unit_test(sim_import_filters_degree_and_component),
        cmocka_unit_test(sim_import_opinions_from_labels_and_spectral),
        cmocka_unit_test(sim_cli_run_writes_run_directory),
        cmocka_unit_test(sim_cli_rejects_bad_config_and_usage),
        cmocka_unit_test(sim_cli_resume_matches_an_unbroken_run),
        cmocka_unit_test(sim_cli_compare_resumes_after_finished_replicates),
        cmocka_unit_test(sim_cli_sweep_matches_compare_and_resumes),
        cmocka_unit_test(sim_cli_compare_resumes_inside_a_replicate),
    };
    return agora_test_main(tests, argc, argv);
}
