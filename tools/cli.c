/* cli.c: flag parsing and messages shared by every subcommand. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int agora_cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "agora %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'agora %s --help'.\n", cmd);
    return AGORA_EXIT_USAGE;
}

int agora_cli_progress(const char *cmd, const char *mode, agora_progress_mode *out) {
    *out = AGORA_PROGRESS_AUTO;
    if (mode == NULL || agora_progress_mode_parse(mode, out) == AGORA_OK)
        return 0;
    return agora_cli_usage(cmd, "--progress expects auto, tty, plain or off, got '%s'", mode);
}

int agora_cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "agora %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return AGORA_EXIT_FAIL;
}

int agora_cli_cfg_exit(const char *cmd, agora_err rc, const char *msg) {
    if (rc == AGORA_EUNKNOWN_KEY || rc == AGORA_ERANGE || rc == AGORA_EPARSE) {
        fprintf(stderr, "agora %s: %s\n", cmd, msg);
        return AGORA_EXIT_USAGE;
    }
    return agora_cli_fail(cmd, "%s", msg);
}

void agora_cli_print_flags(FILE *out, const agora_cli_flag *flags, size_t n_flags) {
    for (size_t i = 0; i < n_flags; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[i].name, flags[i].metavar ? " " : "",
                 flags[i].metavar ? flags[i].metavar : "");
        fprintf(out, "  %-26s %s\n", left, flags[i].help);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help");
}

static int set_flag(const agora_cli_cmd *cmd, const agora_cli_flag *f, const char *v) {
    char *end = NULL;
    switch (f->kind) {
    case AGORA_CLI_STR:
        *(const char **)f->dst = v;
        return 0;
    case AGORA_CLI_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0')
            return agora_cli_usage(cmd->name, "%s expects an integer, got '%s'", f->name, v);
        *(int64_t *)f->dst = (int64_t)x;
        return 0;
    }
    case AGORA_CLI_DBL: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno != 0 || end == v || *end != '\0' || !isfinite(x))
            return agora_cli_usage(cmd->name, "%s expects a number, got '%s'", f->name, v);
        *(double *)f->dst = x;
        return 0;
    }
    case AGORA_CLI_LIST: {
        agora_cli_list *l = f->dst;
        if (l->n >= AGORA_CLI_LIST_MAX)
            return agora_cli_usage(cmd->name, "too many %s flags (limit %d)", f->name,
                                   AGORA_CLI_LIST_MAX);
        l->v[l->n++] = v;
        return 0;
    }
    case AGORA_CLI_SWITCH:
        *(bool *)f->dst = true;
        return 0;
    }
    return AGORA_EXIT_USAGE;
}

int agora_cli_parse(const agora_cli_cmd *cmd, const agora_cli_flag *flags, size_t n_flags, int argc,
                    char **argv, const char **pos, size_t max_pos, size_t *n_pos) {
    *n_pos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cmd->help(stdout);
            return -1;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*n_pos >= max_pos)
                return agora_cli_usage(cmd->name, "unexpected argument '%s'", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const agora_cli_flag *f = NULL;
        for (size_t k = 0; k < n_flags; k++)
            if (strlen(flags[k].name) == nl && strncmp(flags[k].name, a, nl) == 0)
                f = &flags[k];
        if (f == NULL)
            return agora_cli_usage(cmd->name, "unknown flag '%.*s'", (int)nl, a);
        if (f->kind == AGORA_CLI_SWITCH) {
            if (eq != NULL)
                return agora_cli_usage(cmd->name, "%s takes no value", f->name);
            set_flag(cmd, f, "");
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (v == NULL) {
            if (i + 1 >= argc)
                return agora_cli_usage(cmd->name, "%s needs a value (%s)", f->name,
                                       f->metavar ? f->metavar : "VALUE");
            v = argv[++i];
        }
        int rc = set_flag(cmd, f, v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int agora_cli_host_port(const char *cmd, const char *flag, const char *s, char *host, size_t hlen,
                        uint16_t *port) {
    const char *colon = s != NULL ? strrchr(s, ':') : NULL;
    char *end = NULL;
    long v = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == s || end == colon + 1 || *end != '\0' || v <= 0 || v > 65535 ||
        (size_t)(colon - s) >= hlen)
        return agora_cli_usage(cmd, "%s expects HOST:PORT, got '%s'", flag, s ? s : "");
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (uint16_t)v;
    return 0;
}

void agora_cli_on_stop(void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
