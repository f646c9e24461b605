/* time.c: monotonic clocks and deadlines. */
#include "agora/time.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t agora_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

int64_t agora_deadline_in_ms(int64_t ms) {
    int64_t now = agora_now_ns();
    if (ms < 0)
        return now;
    if (ms > (AGORA_DEADLINE_NEVER - now) / 1000000LL)
        return AGORA_DEADLINE_NEVER;
    return now + ms * 1000000LL;
}

bool agora_deadline_passed(int64_t deadline_ns) {
    return agora_now_ns() >= deadline_ns;
}

int32_t agora_deadline_left_ms(int64_t deadline_ns) {
    int64_t left = deadline_ns - agora_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

void agora_sleep_ns(int64_t ns) {
    if (ns <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000LL),
                          .tv_nsec = (long)(ns % 1000000000LL)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void agora_wall_iso8601(char *buf, unsigned long len) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
