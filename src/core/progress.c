/* progress.c: the progress bar and its plain-line fallback. */
#include "agora/progress.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "agora/time.h"

void agora_progress_init(agora_progress *p, const char *label, uint64_t total, FILE *out,
                         agora_progress_mode mode) {
    memset(p, 0, sizeof *p);
    p->out = out ? out : stderr;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    if (mode == AGORA_PROGRESS_AUTO)
        mode = isatty(fileno(p->out)) ? AGORA_PROGRESS_TTY : AGORA_PROGRESS_PLAIN;
    p->mode = mode;
    p->t_start = agora_now_ns();
    p->t_last_draw = p->t_start;
    p->last_decile = 0;
    p->plain_interval_s = 30.0;
}

static void fmt_hms(double s, char *buf, size_t len) {
    if (s < 0 || s > 359999)
        s = 359999;
    unsigned t = (unsigned)s;
    if (t >= 3600)
        snprintf(buf, len, "%u:%02u:%02u", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, len, "%u:%02u", t / 60, t % 60);
}

void agora_progress_render(const agora_progress *p, bool bar, char *buf, unsigned long len) {
    double el = (double)(agora_now_ns() - p->t_start) / 1e9;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[24] = "?";
    if (p->total > 0 && rate > 0)
        fmt_hms((double)(p->total - (p->done < p->total ? p->done : p->total)) / rate, eta,
                sizeof eta);
    char bars[32] = "";
    int pct = 0;
    if (p->total > 0) {
        uint64_t d = p->done < p->total ? p->done : p->total;
        pct = (int)(100 * d / p->total);
        if (bar) {
            int filled = (int)(20 * d / p->total);
            bars[0] = '[';
            for (int i = 0; i < 20; i++)
                bars[1 + i] = i < filled ? '#' : '-';
            bars[21] = ']';
            bars[22] = '\0';
        }
    }
    if (p->total > 0)
        snprintf(buf, len, "%s%s%s %d%% %llu/%llu %.3g it/s ETA %s %s", p->label, bar ? " " : "",
                 bars, pct, (unsigned long long)p->done, (unsigned long long)p->total, rate, eta,
                 p->status);
    else
        snprintf(buf, len, "%s %llu %.3g it/s %s", p->label, (unsigned long long)p->done, rate,
                 p->status);
}

void agora_progress_update(agora_progress *p, uint64_t done, const char *fmt, ...) {
    p->done = done;
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->status, sizeof p->status, fmt, ap);
        va_end(ap);
    }
    if (p->mode == AGORA_PROGRESS_OFF)
        return;
    int64_t now = agora_now_ns();
    char line[320];
    if (p->mode == AGORA_PROGRESS_TTY) {
        if (now - p->t_last_draw < 100000000LL && done < p->total)
            return;
        p->t_last_draw = now;
        agora_progress_render(p, true, line, sizeof line);
        fprintf(p->out, "\r%s\033[K", line);
        fflush(p->out);
        return;
    }
    int decile = p->total > 0 ? (int)(10 * (done < p->total ? done : p->total) / p->total) : 0;
    bool new_decile = decile > p->last_decile;
    bool timed = (double)(now - p->t_last_draw) / 1e9 >= p->plain_interval_s;
    if (!new_decile && !timed)
        return;
    if (new_decile)
        p->last_decile = decile;
    p->t_last_draw = now;
    agora_progress_render(p, false, line, sizeof line);
    fprintf(p->out, "%s\n", line);
    fflush(p->out);
}

void agora_progress_finish(agora_progress *p, const char *fmt, ...) {
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->status, sizeof p->status, fmt, ap);
        va_end(ap);
    }
    if (p->mode == AGORA_PROGRESS_OFF)
        return;
    double el = (double)(agora_now_ns() - p->t_start) / 1e9;
    char t[24];
    fmt_hms(el, t, sizeof t);
    if (p->mode == AGORA_PROGRESS_TTY) {
        char line[320];
        agora_progress_render(p, true, line, sizeof line);
        fprintf(p->out, "\r%s\033[K\n", line);
    } else {
        fprintf(p->out, "%s done: %llu in %s %s\n", p->label, (unsigned long long)p->done, t,
                p->status);
    }
    fflush(p->out);
}

agora_err agora_progress_mode_parse(const char *s, agora_progress_mode *out) {
    static const char *const names[] = {"auto", "tty", "plain", "off"};
    for (int i = 0; i < 4; i++)
        if (s != NULL && strcmp(s, names[i]) == 0) {
            *out = (agora_progress_mode)i;
            return AGORA_OK;
        }
    return AGORA_EINVAL;
}
