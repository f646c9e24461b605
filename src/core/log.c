/* log.c: formatting and the default stderr sink.
 *
 * Each line reads "  12.345 INFO  node-01 comm  peer 3 joined": seconds since the first
 * log call on the monotonic clock, the level, the role, the subsystem, the message.
 */
#include "agora/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/time.h"

int agora__log_level = AGORA_LOG_LEVEL_INFO;
uint32_t agora__log_mask = AGORA_SUB_ALL;

static agora_log_sink g_sink;
static void *g_sink_user;
static char g_role[32] = "agora";
static int64_t g_t0;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
    uint32_t bit;
    const char *name;
} k_subs[] = {
    {AGORA_SUB_CORE, "core"},   {AGORA_SUB_CONFIG, "config"}, {AGORA_SUB_COMM, "comm"},
    {AGORA_SUB_COORD, "coord"}, {AGORA_SUB_TRAIN, "train"},   {AGORA_SUB_CKPT, "ckpt"},
    {AGORA_SUB_DATA, "data"},   {AGORA_SUB_SIM, "sim"},       {AGORA_SUB_CLI, "cli"},
    {AGORA_SUB_TEST, "test"},
};
static const char *const k_levels[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void agora_log_set_level(agora_log_level level) {
    agora__log_level = (int)level;
}
void agora_log_set_subsys(uint32_t mask) {
    agora__log_mask = mask;
}

void agora_log_set_sink(agora_log_sink sink, void *user) {
    pthread_mutex_lock(&g_lock);
    g_sink = sink;
    g_sink_user = user;
    pthread_mutex_unlock(&g_lock);
}

void agora_log_set_role(const char *role) {
    pthread_mutex_lock(&g_lock);
    snprintf(g_role, sizeof g_role, "%s", role ? role : "agora");
    pthread_mutex_unlock(&g_lock);
}

const char *agora_log_sub_name(uint32_t sub) {
    for (size_t i = 0; i < sizeof k_subs / sizeof k_subs[0]; i++)
        if (k_subs[i].bit == sub)
            return k_subs[i].name;
    return "?";
}

int agora_log_parse_level(const char *s) {
    static const char *const lower[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, lower[i]) == 0)
            return i;
    return -1;
}

static int parse_subsys(const char *s, uint32_t *mask_out) {
    uint32_t mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0) {
            mask = AGORA_SUB_ALL;
            continue;
        }
        size_t i = 0;
        for (; i < sizeof k_subs / sizeof k_subs[0]; i++)
            if (strcmp(tok, k_subs[i].name) == 0)
                break;
        if (i == sizeof k_subs / sizeof k_subs[0])
            return -1;
        mask |= k_subs[i].bit;
    }
    *mask_out = mask;
    return 0;
}

int agora_log_init_from_env(void) {
    int rc = 0;
    const char *lv = getenv("AGORA_LOG");
    if (lv != NULL && *lv != '\0') {
        int l = agora_log_parse_level(lv);
        if (l < 0) {
            AGORA_LOG_WARN(AGORA_SUB_CORE,
                           "AGORA_LOG=%s is not a level (error, warn, info, "
                           "debug, trace); keeping info",
                           lv);
            rc = -1;
        } else {
            agora__log_level = l;
        }
    }
    const char *ss = getenv("AGORA_LOG_SUBSYS");
    if (ss != NULL && *ss != '\0') {
        uint32_t mask;
        if (parse_subsys(ss, &mask) != 0) {
            AGORA_LOG_WARN(AGORA_SUB_CORE, "AGORA_LOG_SUBSYS=%s names an unknown subsystem", ss);
            rc = -1;
        } else {
            agora__log_mask = mask;
        }
    }
    return rc;
}

void agora_log_write(agora_log_level level, uint32_t sub, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    int64_t now = agora_now_ns();
    pthread_mutex_lock(&g_lock);
    if (g_t0 == 0)
        g_t0 = now;
    double t = (double)(now - g_t0) / 1e9;
    char line[2200];
    int li = (int)level;
    const char *lname = (li >= 0 && li <= 4) ? k_levels[li] : "?";
    snprintf(line, sizeof line, "%9.3f %-5s %s %s  %s", t, lname, g_role, agora_log_sub_name(sub),
             msg);
    if (g_sink != NULL) {
        g_sink(level, sub, line, g_sink_user);
    } else {
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
    pthread_mutex_unlock(&g_lock);
}
