/* cmd_fault_proxy.c: `agora fault-proxy`: a TCP proxy that injects latency, a bandwidth
 * cap, a stall and a reset (src/comm/transport/proxy.c). For tests on a kernel without
 * netem. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/time.h"
#include "agora/stream.h"
#include "cli.h"
#include "comm/net.h"
#include "comm/proxy.h"

static void proxy_help(FILE *out);
static int proxy_run(int argc, char **argv);

const agora_cli_cmd agora_cmd_fault_proxy = {
    .name = "fault-proxy",
    .summary = "TCP proxy injecting latency, a bandwidth cap, stalls and resets",
    .run = proxy_run,
    .help = proxy_help,
    .order = 22,
};

static struct {
    int64_t listen, latency_ms, stall_after, stall_ms, reset_after;
    double mbps;
    const char *to, *port_file;
} o;

static const agora_cli_flag k_flags[] = {
    {"--listen", AGORA_CLI_INT, &o.listen, "PORT", "port to listen on (0: any, see --port-file)"},
    {"--to", AGORA_CLI_STR, &o.to, "HOST:PORT", "upstream address (required)"},
    {"--mbps", AGORA_CLI_DBL, &o.mbps, "N", "bandwidth cap in Mbit/s over all traffic (0: none)"},
    {"--latency-ms", AGORA_CLI_INT, &o.latency_ms, "N", "one-way delay added to every byte"},
    {"--stall-after", AGORA_CLI_INT, &o.stall_after, "BYTES", "pause once after this many bytes"},
    {"--stall-ms", AGORA_CLI_INT, &o.stall_ms, "N", "length of that pause (1000)"},
    {"--reset-after", AGORA_CLI_INT, &o.reset_after, "BYTES",
     "reset every connection once after this many bytes"},
    {"--port-file", AGORA_CLI_STR, &o.port_file, "FILE", "write the bound port here"},
};
#define N_FLAGS (sizeof k_flags / sizeof k_flags[0])

static void proxy_help(FILE *out) {
    fprintf(out, "usage: agora fault-proxy --to HOST:PORT [--listen PORT] [--mbps N]\n"
                 "                          [--latency-ms N] [--stall-after B --stall-ms N]\n"
                 "                          [--reset-after B] [--port-file FILE]\n\n"
                 "Forwards every connection to HOST:PORT. Stops on SIGINT or SIGTERM.\n\n");
    agora_cli_print_flags(out, k_flags, N_FLAGS);
}

static agora_proxy *g_proxy;

static void on_signal(int sig) {
    (void)sig;
    if (g_proxy)
        agora__proxy_interrupt(g_proxy);
}

static int proxy_run(int argc, char **argv) {
    memset(&o, 0, sizeof o);
    o.stall_after = o.reset_after = -1;
    o.stall_ms = 1000;
    const char *pos[1];
    size_t n_pos = 0;
    int pr = agora_cli_parse(&agora_cmd_fault_proxy, k_flags, N_FLAGS, argc, argv, pos, 0, &n_pos);
    if (pr != 0)
        return pr < 0 ? AGORA_EXIT_OK : pr;
    if (o.to == NULL)
        return agora_cli_usage("fault-proxy", "needs --to HOST:PORT");
    char host[256];
    uint16_t port = 0;
    if (agora_cli_host_port("fault-proxy", "--to", o.to, host, sizeof host, &port) != 0)
        return AGORA_EXIT_USAGE;
    if (o.listen < 0 || o.listen > 65535 || o.mbps < 0 || o.latency_ms < 0 ||
        o.latency_ms > 60000 || o.stall_ms < 0)
        return agora_cli_usage("fault-proxy", "a value is out of range");
    agora_proxy_opts po;
    memset(&po, 0, sizeof po);
    if (agora__ipv4_resolve(host, &po.to_ipv4) != AGORA_OK)
        return agora_cli_fail("fault-proxy", "cannot resolve '%s'", host);
    po.listen_port = (uint16_t)o.listen;
    po.to_port = (uint16_t)port;
    po.mbps = o.mbps;
    po.latency_ms = (int32_t)o.latency_ms;
    po.stall_after_bytes = o.stall_after;
    po.stall_ms = (int32_t)o.stall_ms;
    po.reset_after_bytes = o.reset_after;
    agora_proxy *p = NULL;
    if (agora__proxy_create(&po, &p) != AGORA_OK)
        return agora_cli_fail("fault-proxy", "cannot listen on port %lld", (long long)o.listen);
    if (o.port_file) { /* atomic: a reader polling for the file never sees half a number */
        char txt[16], err[AGORA_ERR_LEN];
        int n = snprintf(txt, sizeof txt, "%u\n", (unsigned)agora__proxy_port(p));
        if (agora_write_file_atomic(o.port_file, txt, (size_t)n, err) != AGORA_OK) {
            agora__proxy_destroy(p);
            return agora_cli_fail("fault-proxy", "%s", err);
        }
    } else {
        printf("%u\n", (unsigned)agora__proxy_port(p));
        fflush(stdout);
    }
    g_proxy = p;
    agora_cli_on_stop(on_signal);
    agora_err rc = agora__proxy_run(p);
    g_proxy = NULL;
    fprintf(stderr, "fault-proxy: forwarded %llu bytes\n",
            (unsigned long long)agora__proxy_forwarded(p));
    agora__proxy_destroy(p);
    return rc == AGORA_OK ? AGORA_EXIT_OK : agora_cli_fail("fault-proxy", "poll failed");
}
