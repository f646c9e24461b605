/* cli.h: what a subcommand provides, and shared flag parsing for tools/.
 *
 * Each tools/cmd_<name>.c defines one `const agora_cli_cmd agora_cmd_<name>`. CMake finds
 * the files and generates the dispatch table, so adding a subcommand is adding a file.
 * Exit codes: 0 success, 1 the job failed, 2 bad usage (unknown flag, bad value).
 */
#ifndef AGORA_TOOLS_CLI_H
#define AGORA_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agora/agora.h"
#include "agora/config.h"
#include "agora/err.h"
#include "agora/progress.h"

typedef struct agora_cli_cmd {
    const char *name;    /* as typed: "comm-bench" */
    const char *summary; /* one line for `agora --help` */
    /* argv[0] is the subcommand name. Returns the process exit code. */
    int (*run)(int argc, char **argv);
    /* Prints the full usage for `agora <name> --help`. */
    void (*help)(FILE *out);
    int order; /* position in `agora --help` (lower first) */
} agora_cli_cmd;

enum { AGORA_EXIT_OK = 0, AGORA_EXIT_FAIL = 1, AGORA_EXIT_USAGE = 2 };

/* A list filled by repeated flags (--set a=1 --set b=2). */
#define AGORA_CLI_LIST_MAX 64
typedef struct agora_cli_list {
    const char *v[AGORA_CLI_LIST_MAX];
    size_t n;
} agora_cli_list;

typedef enum agora_cli_kind {
    AGORA_CLI_STR,    /* const char ** */
    AGORA_CLI_INT,    /* int64_t *     */
    AGORA_CLI_DBL,    /* double *      */
    AGORA_CLI_SWITCH, /* bool *, no value */
    AGORA_CLI_LIST    /* agora_cli_list * */
} agora_cli_kind;

typedef struct agora_cli_flag {
    const char *name; /* "--run-dir" */
    agora_cli_kind kind;
    void *dst;
    const char *metavar; /* "DIR" */
    const char *help;
} agora_cli_flag;

/* agora_cli_parse parses flags ("--x v" or "--x=v") and collects positional arguments.
 * Returns 0 to go on, -1 when --help was printed (exit 0), or 2 after printing a usage
 * error. */
int agora_cli_parse(const agora_cli_cmd *cmd, const agora_cli_flag *flags, size_t n_flags, int argc,
                    char **argv, const char **pos, size_t max_pos, size_t *n_pos);
/* Prints the flag table (for help functions). */
void agora_cli_print_flags(FILE *out, const agora_cli_flag *flags, size_t n_flags);
/* Prints "agora <cmd>: <message>" and the --help hint; returns AGORA_EXIT_USAGE. */
int agora_cli_usage(const char *cmd, const char *fmt, ...) AGORA_PRINTF(2, 3);
/* Prints "agora <cmd>: error: <message>"; returns AGORA_EXIT_FAIL. */
int agora_cli_fail(const char *cmd, const char *fmt, ...) AGORA_PRINTF(2, 3);
/* agora_cli_progress reads a --progress MODE value (NULL: auto) into *out; returns 0, or
 * AGORA_EXIT_USAGE after a usage message naming the accepted modes. */
int agora_cli_progress(const char *cmd, const char *mode, agora_progress_mode *out);
/* The --progress flag entry, the same on every long-running command. */
#define AGORA_CLI_PROGRESS_FLAG(var)                                                               \
    {                                                                                              \
        "--progress", AGORA_CLI_STR, &(var), "MODE",                                               \
            "progress display: auto (bar on a terminal, else lines), tty, plain or off"            \
    }
/* agora_cli_host_port splits "HOST:PORT" (port 1..65535, nothing after it) into host
 * (hlen bytes) and *port; returns 0, or AGORA_EXIT_USAGE after a message naming flag. */
int agora_cli_host_port(const char *cmd, const char *flag, const char *s, char *host, size_t hlen,
                        uint16_t *port);
/* agora_cli_on_stop runs fn on SIGINT and SIGTERM (fn must be async-signal-safe) and
 * ignores SIGPIPE, so a closed socket is an error return, not a dead process. */
void agora_cli_on_stop(void (*fn)(int));
/* Exit code for a config-loading error: usage (2) for bad keys/values, else 1. */
int agora_cli_cfg_exit(const char *cmd, agora_err rc, const char *msg);

#endif /* AGORA_TOOLS_CLI_H */
