/* bench_allreduce_tcp.c: the loopback TCP ceiling for a ring of W processes with P
 * streams per neighbour: every process blasts to the next and drains the previous at
 * once, like the all-reduce does, for a fixed time. Prints the mean per-process send rate
 * in GB/s, which is the busbw ceiling of a ring all-reduce on this host.
 *
 * WORKSET (bytes, default and minimum 1 MiB) is the size of the buffer each process sends
 * from and, separately, receives into, walked through in 1 MiB steps. With 1 MiB both stay
 * in L2 and the kernel's copies run at cache speed; with the size of an all-reduce's buffer
 * (64-256 MiB) the bytes come from and go to DRAM, as the collective's own bytes must.
 * Usage: bench_allreduce_tcp W P SECONDS [WORKSET] */
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agora/time.h"
#include "comm/net.h"

#define BUF (1u << 20)

int main(int argc, char **argv) {
    int W = argc > 1 ? atoi(argv[1]) : 2, P = argc > 2 ? atoi(argv[2]) : 1;
    double secs = argc > 3 ? atof(argv[3]) : 3.0;
    long long wsa = argc > 4 ? atoll(argv[4]) : BUF;
    size_t ws = wsa < BUF ? BUF : (size_t)wsa / BUF * BUF;
    if (W < 2 || W > 64 || P < 1 || P > 64)
        return 2;
    int lfd[64];
    uint16_t port[64];
    for (int i = 0; i < W; i++)
        if (agora__tcp_listen(0x7f000001u, 0, &lfd[i], &port[i]) != AGORA_OK)
            return 1;
    double *rate =
        mmap(NULL, 64 * sizeof(double), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid[64];
    for (int i = 0; i < W; i++) {
        pid[i] = fork();
        if (pid[i] != 0)
            continue;
        int tx[64], rx[64];
        int64_t dl = agora_deadline_in_ms(10000);
        for (int j = 0; j < P; j++)
            if (agora__tcp_connect(0x7f000001u, port[(i + 1) % W], dl, &tx[j]) != AGORA_OK)
                _exit(1);
        for (int j = 0; j < P; j++)
            if (agora__tcp_accept(lfd[i], dl, &rx[j], NULL) != AGORA_OK)
                _exit(1);
        char *buf = malloc(ws), *sink = malloc(ws);
        if (buf == NULL || sink == NULL)
            _exit(1);
        memset(buf, 1, ws);
        memset(sink, 1, ws);
        size_t soff = 0, roff = 0;
        uint64_t sent = 0;
        int64_t t0 = agora_now_ns(), end = t0 + (int64_t)(secs * 1e9);
        struct pollfd pf[128];
        while (agora_now_ns() < end) {
            for (int j = 0; j < P; j++) {
                pf[j] = (struct pollfd){tx[j], POLLOUT, 0};
                pf[P + j] = (struct pollfd){rx[j], POLLIN, 0};
            }
            if (poll(pf, (nfds_t)(2 * P), 100) <= 0)
                continue;
            for (int j = 0; j < P; j++) {
                if (pf[j].revents & POLLOUT) {
                    ssize_t n = send(tx[j], buf + soff, BUF - soff % BUF, MSG_NOSIGNAL);
                    if (n > 0) {
                        sent += (uint64_t)n;
                        soff = (soff + (size_t)n) % ws;
                    }
                }
                if (pf[P + j].revents & POLLIN) {
                    ssize_t n;
                    while ((n = recv(rx[j], sink + roff, BUF - roff % BUF, 0)) > 0)
                        roff = (roff + (size_t)n) % ws;
                }
            }
        }
        rate[i] = (double)sent / ((double)(agora_now_ns() - t0));
        /* keep draining until the sender side closes, so nobody blocks */
        for (int j = 0; j < P; j++)
            shutdown(tx[j], SHUT_WR);
        int open = P;
        while (open > 0) {
            open = 0;
            for (int j = 0; j < P; j++) {
                if (rx[j] < 0)
                    continue;
                ssize_t n = recv(rx[j], sink, BUF, 0);
                if (n == 0) {
                    close(rx[j]);
                    rx[j] = -1;
                } else {
                    open++;
                    if (n < 0 && errno == EAGAIN)
                        poll(&(struct pollfd){rx[j], POLLIN, 0}, 1, 10);
                }
            }
        }
        _exit(0);
    }
    double sum = 0;
    for (int i = 0; i < W; i++) {
        int st;
        waitpid(pid[i], &st, 0);
        sum += rate[i];
    }
    printf("tcp_ceiling W=%d streams=%d workset=%zu: %.3f GB/s per process (each way)\n", W, P, ws,
           sum / W);
    return 0;
}
