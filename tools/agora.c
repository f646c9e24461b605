/* agora.c: the single binary; dispatches `agora <subcommand>` through a generated table.
 *
 * The table lists every tools/cmd_*.c (see tools/CMakeLists.txt). Nothing here knows a
 * subcommand by name except the built-in `version` and `help`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/log.h"
#include "cli.h"

#define AGORA_CMD_DECL(sym) extern const agora_cli_cmd agora_cmd_##sym;
#include "cmd_table.inc"
#undef AGORA_CMD_DECL

static const agora_cli_cmd *const k_cmds[] = {
#define AGORA_CMD_DECL(sym) &agora_cmd_##sym,
#include "cmd_table.inc"
#undef AGORA_CMD_DECL
    NULL};

static void usage(FILE *out) {
    fprintf(out,
            "agora %s: decentralized training and social-network simulation\n\n"
            "usage: agora <command> [flags]\n\ncommands:\n",
            agora_version_string());
    /* Print in `order`, then name: the table itself is in file-name order. */
    const agora_cli_cmd *sorted[64];
    size_t n = 0;
    for (size_t i = 0; k_cmds[i] != NULL && n < 64; i++)
        sorted[n++] = k_cmds[i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && (sorted[j]->order < sorted[j - 1]->order ||
                                     (sorted[j]->order == sorted[j - 1]->order &&
                                      strcmp(sorted[j]->name, sorted[j - 1]->name) < 0));
             j--) {
            const agora_cli_cmd *t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-12s %s\n", sorted[i]->name, sorted[i]->summary);
    fprintf(out, "  %-12s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'agora <command> --help' for a command's flags.\n"
                 "Environment: AGORA_LOG=error|warn|info|debug|trace, "
                 "AGORA_LOG_SUBSYS=comm,train,...\n");
}

int main(int argc, char **argv) {
    agora_log_init_from_env();
    if (argc < 2) {
        usage(stderr);
        return AGORA_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return AGORA_EXIT_OK;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("agora %s\n", agora_version_string());
        return AGORA_EXIT_OK;
    }
    for (size_t i = 0; k_cmds[i] != NULL; i++)
        if (strcmp(k_cmds[i]->name, name) == 0)
            return k_cmds[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "agora: unknown command '%s'\nTry 'agora --help'.\n", name);
    return AGORA_EXIT_USAGE;
}
