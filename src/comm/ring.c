/* ring.c: the ring all-reduce over a pool of TCP streams per neighbour.
 *
 * Implements: chunking with base+remainder boundaries (W chunks, no padding), a
 * reduce-scatter of W-1 steps with fp32 accumulation and streaming decode (codes are
 * decoded and added as they arrive), owner-finalize (divide for AVG, then quantize and
 * keep exactly what the others will decode), and an all-gather of W-1 steps that
 * forwards the owner's frames byte for byte, so every peer ends bit-identical.
 * Does not: decide membership or verdicts (peer.c, coord.c), restore the buffer (peer.c).
 *
 * Schedule for rank r of W (spec §6.5, PCCL's W-chunk variant):
 *   reduce-scatter step s = 0..W-2: send chunk (r - s) mod W, receive (r - s - 1) mod W
 *                                   and add it; after it, r owns chunk (r + 1) mod W.
 *   all-gather     step s = 0..W-2: send chunk (r + 1 - s) mod W, receive (r - s) mod W.
 * Each chunk is split into pieces (a multiple of the pool size, each at most 64 MiB
 * encoded); piece i travels on stream i mod pool, each piece is one P2P_DATA frame with
 * its own codec meta, so streams never wait on each other.
 * Every step is one poll(2) loop over the 2*pool sockets, the master link (for ABORT) and
 * the abort pipe, bounded by the caller's deadline.
 * F32 with chunks of >= 1 MiB runs all 2(W-1) steps pipelined instead (f32_pipelined): one
 * sender thread sends piece i of step t as soon as piece i of step t-1 has been received,
 * while the caller's thread receives every step in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/log.h"
#include "agora/time.h"
#include "comm/auth.h"
#include "comm/net.h"
#include "comm/peer.h"
#include "comm/q8.h"
#include "comm/xxh.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define STAGE_BYTES (256u << 10)
/* Pieces hold about this many elements (512 KiB of fp32): small enough that the encoder's
 * three passes (sigma, codes, bucket sums) run over data in L2, that a piece is hashed
 * right before it is sent while still in cache, and that encoding the next piece
 * overlaps the transfer of the previous one. */
#define PIECE_ELEMS (128u << 10)

enum { MODE_ADD, MODE_SET };
/* PREP_RS: quantize the running partial sum and build the header. PREP_FINAL (the owner's
 * chunk, all-gather step 0): divide for AVG, quantize, keep exactly what the others will
 * decode, build the header. Done piece by piece right before sending, so the work overlaps
 * the transfer of the previous pieces and runs on data in cache. */
enum { PREP_NONE, PREP_RS, PREP_FINAL };

typedef struct stream_st {
    /* send */
    size_t s_piece; /* index of the piece being sent */
    size_t s_off;   /* bytes of it sent, header included */
    bool s_ready;   /* lazy steps: the piece is encoded and its header built */
    /* passive link timing: a clock that starts when the socket refuses bytes and runs while
     * this stream has bytes to send (s_full_at: when it started, 0 when stopped), and the
     * time and bytes it counted: the link's drain rate while it was the limit */
    int64_t s_full_at, s_full_ns;
    uint64_t s_full_bytes;
    /* receive */
    size_t r_piece;
    size_t r_off;
    uint8_t r_hdr[AGORA_WIRE_HDR];
    uint64_t r_sum;
    float *r_bak;        /* F32 add: back up each element as it is added (else NULL) */
    uint32_t *r_bak_cnt; /* ... counting the backed prefix here */
    bool r_hash;         /* the payload is covered by the checksum (no AGORA_FRAME_F_HDR_ONLY) */
    agora__fh *xs;       /* the frame's checksum or MAC, as it streams in (auth.h) */
    agora__fh *xo;       /* F32 reduce-scatter: the same for the frame that sends these sums
                            next step, made as the sums are (they are hashed while in cache) */
    bool r_out;          /* xo is running for this piece */
    uint8_t meta[AGORA_LUT8_META];
    agora_decoder dec;
    uint8_t *stage;
    size_t stage_len;
    size_t elems_done;
} stream_st;

typedef struct ring {
    agora_comm *c;
    agora__ring_job *job;
    uint32_t W, P;
    size_t esz, msz;   /* bytes per element (0 for E3M0: two elements per byte), of meta */
    size_t pad;        /* E3M0: a spare byte per piece in the stores (odd pieces) */
    size_t max_store;  /* encoded bytes of the largest chunk */
    size_t kmax;       /* pieces of the largest chunk */
    uint8_t *store[2]; /* quantized: encoded chunks (all-gather double buffer) */
    uint8_t (*hdr[2])[AGORA_WIRE_HDR];
    stream_st *st;
    uint16_t flags;         /* AGORA_FRAME_F_MAC with data MACs, AGORA_FRAME_F_HDR_ONLY when data
                               checksums are off, else 0 */
    const uint8_t *mac_key; /* the epoch's ring key with data MACs on, else NULL (XXH3) */
    /* comm.rate_limit_mbps: set by pump_send (on the sending thread) when the bucket is
     * empty: the sender waits this long instead of polling for POLLOUT */
    int32_t tx_wait_ms;
    /* F32: headers of the next step's frames, checksummed while the sums were made
     * (pre[step & 1]); pre_ok[b][i] says piece i's header is ready */
    uint8_t (*pre[2])[AGORA_WIRE_HDR];
    uint8_t *pre_ok[2];
    /* pipelined F32 schedule (run_pipelined): set by pump_send when the next piece waits
     * for its receive; the receiver writes wake_w when the sender sleeps (*waiting) */
    bool tx_blocked;
    int wake_w;
    _Atomic int *waiting;
} ring;

// ---- geometry ----

static void split(size_t n, size_t k, size_t i, size_t *lo, size_t *len) {
    size_t base = n / k, rem = n % k;
    *lo = i * base + (i < rem ? i : rem);
    *len = base + (i < rem ? 1 : 0);
}

static size_t chunk_pieces(const ring *R, size_t n) {
    size_t per = (size_t)R->P * PIECE_ELEMS;
    size_t k = (n + per - 1) / per;
    return (k ? k : 1) * R->P;
}

typedef struct chunk_geo {
    size_t e0, n, k; /* first element, elements, pieces */
} chunk_geo;

/* Code bytes of n elements (E3M0: ceil(n/2)). */
static size_t cbytes(const ring *R, size_t n) {
    return agora__codec_code_bytes(R->job->codec, n);
}

static chunk_geo geo(const ring *R, size_t c) {
    chunk_geo g;
    split(R->job->count, R->W, c, &g.e0, &g.n);
    g.k = chunk_pieces(R, g.n);
    return g;
}

/* Piece i of a chunk: elements [*pe0, *pe0 + *pn) relative to the chunk, and its byte
 * offset in an encoded-chunk store. */
static void piece(const ring *R, const chunk_geo *g, size_t i, size_t *pe0, size_t *pn,
                  size_t *store_off) {
    split(g->n, g->k, i, pe0, pn);
    /* E3M0: piece j takes msz + ceil(pn_j/2) <= msz + 1 + pn_j/2 bytes: the spare byte per
     * piece keeps the pieces apart */
    *store_off = i * (R->msz + R->pad) + (R->esz ? *pe0 * R->esz : *pe0 / 2);
}

// ---- step description ----

typedef struct step {
    int mode;
    uint8_t phase; /* 0 reduce-scatter, 1 all-gather: with sidx, the frames' MAC position */
    uint32_t sidx; /* the step within its phase */
    int prep;      /* PREP_*: what to do to each piece just before it is sent */
    size_t c_send, c_recv;
    const uint8_t *send_base; /* store (quantized) or chunk bytes (F32) */
    uint8_t (*send_hdr)[AGORA_WIRE_HDR];
    uint8_t *recv_store; /* MODE_SET: where bodies land (store, or acc bytes for F32) */
    uint8_t (*recv_hdr)[AGORA_WIRE_HDR];
    /* F32 reduce-scatter: the headers built for the frames sent now (NULL: build them
     * here), and where to build the next step's while adding (NULL: none) */
    uint8_t (*pre_send)[AGORA_WIRE_HDR];
    const uint8_t *pre_send_ok;
    uint8_t (*pre_next)[AGORA_WIRE_HDR];
    uint8_t *pre_next_ok;
    float div; /* F32 last reduce-scatter step with AVG: divide each sum by it (else 0) */
    /* pipelined F32 schedule: piece i may be sent once dep[i] is set (it was received in
     * the step before), and done[i] is set when piece i of this step is received */
    _Atomic uint8_t *dep;
    _Atomic uint8_t *done;
} step;

// ---- stream progress ----

/* The MAC position of piece i of chunk c in step S (auth.h). All-gather frames are
 * forwarded unchanged, so their position leaves the step out. */
static agora__fpos frame_pos(const ring *R, const step *S, size_t c, size_t i) {
    agora__fpos p = {R->job->seq, S->phase, S->phase ? 0 : S->sidx, (uint32_t)c, (uint32_t)i};
    return p;
}

/* The position of the frame that sends the sums received in reduce-scatter step S: the next
 * reduce-scatter step, or all-gather step 0 after the last one. */
static agora__fpos next_pos(const ring *R, const step *S, size_t i) {
    bool last = S->sidx + 2 >= R->W;
    agora__fpos p = {R->job->seq, last ? 1 : 0, last ? 0 : S->sidx + 1, (uint32_t)S->c_recv,
                     (uint32_t)i};
    return p;
}

static agora_err io_err(ssize_t n) {
    if (n == 0)
        return AGORA_EPEER_LOST; /* the neighbour closed: it died or gave up */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return AGORA_EAGAIN;
    return AGORA_EPEER_LOST;
}

static void prepare_piece(ring *R, const step *S, const chunk_geo *g, size_t i) {
    size_t pe0, pn, off;
    piece(R, g, i, &pe0, &pn, &off);
    float *acc = R->job->buf + g->e0 + pe0;
    uint8_t *enc = (uint8_t *)(uintptr_t)(S->send_base + off);
    /* F32 owners divide while adding (add_f32, the last reduce-scatter step) */
    if (S->prep == PREP_FINAL && R->job->op == AGORA_REDUCE_AVG &&
        R->job->codec != AGORA_CODEC_F32) {
        float div = R->job->contributors ? (float)R->job->contributors : 1.0f;
        for (size_t e = 0; e < pn; e++)
            acc[e] /= div;
    }
    if (R->job->codec != AGORA_CODEC_F32) {
        agora__codec_encode(R->job->codec, acc, pn, enc);
        float *res = R->job->resid ? R->job->resid + g->e0 + pe0 : NULL;
        if (S->prep == PREP_FINAL || res != NULL) {
            agora_decoder d;
            agora__decoder_init(&d, R->job->codec, enc);
            if (res == NULL) { /* the owner keeps what the others will decode */
                agora__decode_set(&d, enc + R->msz, pn, acc);
            } else {
                /* error feedback: this encoding's loss, in units of the sum (an AVG
                 * owner's values were divided just above) */
                float mul =
                    S->prep == PREP_FINAL && R->job->op == AGORA_REDUCE_AVG && R->job->contributors
                        ? (float)R->job->contributors
                        : 1.0f;
                agora__decode_set(&d, enc + R->msz, pn, res);
                for (size_t e = 0; e < pn; e++) {
                    float dec = res[e];
                    res[e] = (acc[e] - dec) * mul;
                    if (S->prep == PREP_FINAL)
                        acc[e] = dec;
                }
            }
        }
    }
    uint32_t len = (uint32_t)(R->msz + cbytes(R, pn));
    agora__frame_hdr_prefix(S->send_hdr[i], AGORA_MSG_P2P_DATA, R->flags, R->job->seq, len);
    agora__fpos pos = frame_pos(R, S, S->c_send, i);
    agora__put_le64(S->send_hdr[i] + 24,
                    agora__fh_frame(R->mac_key, &pos, S->send_hdr[i], enc, len));
}

/* Stops a stream's passive clock (it has nothing to send now). */
static void full_clock_stop(stream_st *s) {
    if (s->s_full_at != 0) {
        s->s_full_ns += agora_now_ns() - s->s_full_at;
        s->s_full_at = 0;
    }
}

/* Sends what the socket takes. *progress is set when bytes moved. */
static agora_err pump_send(ring *R, const step *S, const chunk_geo *g, uint32_t j, bool *progress) {
    stream_st *s = &R->st[j];
    int fd = R->c->tx[j];
    while (s->s_piece < g->k) {
        size_t pe0, pn, off;
        piece(R, g, s->s_piece, &pe0, &pn, &off);
        size_t body = R->msz + cbytes(R, pn), total = AGORA_WIRE_HDR + body;
        if (S->dep && s->s_off == 0 &&
            !atomic_load_explicit(&S->dep[s->s_piece], memory_order_acquire)) {
            R->tx_blocked = true; /* not received yet */
            full_clock_stop(s);
            return AGORA_OK;
        }
        if (S->prep != PREP_NONE && s->s_off == 0 && !s->s_ready) {
            if (S->pre_send_ok && S->pre_send_ok[s->s_piece])
                memcpy(S->send_hdr[s->s_piece], S->pre_send[s->s_piece], AGORA_WIRE_HDR);
            else
                prepare_piece(R, S, g, s->s_piece);
            s->s_ready = true;
        }
        struct iovec iov[2];
        int niov = 0;
        if (s->s_off < AGORA_WIRE_HDR)
            iov[niov++] =
                (struct iovec){S->send_hdr[s->s_piece] + s->s_off, AGORA_WIRE_HDR - s->s_off};
        size_t boff = s->s_off > AGORA_WIRE_HDR ? s->s_off - AGORA_WIRE_HDR : 0;
        if (body > boff)
            iov[niov++] =
                (struct iovec){(void *)(uintptr_t)(S->send_base + off + boff), body - boff};
        agora__rate *rl = &R->c->rate;
        if (agora__rate_on(rl)) { /* send no more than the bucket allows */
            int32_t wait = 0;
            size_t allow = agora__rate_allow(rl, total - s->s_off, &wait);
            if (allow == 0) {
                R->tx_wait_ms = wait;
                return AGORA_OK;
            }
            for (int v = 0; v < niov; v++) {
                if (iov[v].iov_len > allow)
                    iov[v].iov_len = allow;
                allow -= iov[v].iov_len;
            }
        }
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)niov;
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n <= 0) {
            agora_err e = n < 0 ? io_err(n) : AGORA_EAGAIN;
            if (e == AGORA_EAGAIN && n < 0 && s->s_full_at == 0)
                s->s_full_at = agora_now_ns(); /* the socket is full: the link is the limit */
            return e == AGORA_EAGAIN ? AGORA_OK : e;
        }
        if (s->s_full_at != 0)
            s->s_full_bytes += (uint64_t)n; /* drained by the link while the clock runs */
        agora__rate_charge(rl, (size_t)n);
        *progress = true;
        s->s_off += (size_t)n;
        R->job->tx_bytes += (uint64_t)n;
        if (s->s_off == total) {
            s->s_piece += R->P;
            s->s_off = 0;
            s->s_ready = false;
        }
    }
    full_clock_stop(s); /* this step's pieces are out */
    return AGORA_OK;
}

/* The backup is read back only on failure: write it with non-temporal stores, so it
 * neither evicts the piece we are about to add into nor costs a read-for-ownership. */
static void backup_copy(float *dst, const float *src, size_t n) {
#ifdef __SSE2__
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 15) != 0; i++)
        dst[i] = src[i];
    for (; i + 4 <= n; i += 4)
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
    _mm_sfence();
#else
    memcpy(dst, src, n * sizeof(float));
#endif
}

static agora_err start_piece(ring *R, const step *S, stream_st *s, size_t want_len,
                             float *acc_piece, size_t pn) {
    agora_frame_hdr h;
    AGORA_TRY(agora__hdr_decode(s->r_hdr, &h));
    if (h.type != AGORA_MSG_P2P_DATA || h.tag != R->job->seq || h.length != want_len)
        return AGORA_EPROTO;
    if (((h.flags & AGORA_FRAME_F_MAC) != 0) != (R->mac_key != NULL))
        return AGORA_EPROTO; /* with data MACs on, every frame must carry one; else none */
    s->r_sum = h.checksum;
    s->r_hash = (h.flags & AGORA_FRAME_F_HDR_ONLY) == 0;
    if (!s->r_hash) { /* the header alone is covered: check it now */
        if (agora__xxh3(s->r_hdr, 24) != h.checksum)
            return AGORA_ECHECKSUM;
    } else {
        agora__fpos pos = frame_pos(R, S, S->c_recv, s->r_piece);
        agora__fh_reset(s->xs, R->mac_key, &pos, s->r_hdr);
    }
    s->stage_len = 0;
    s->elems_done = 0;
    if (R->msz == 0)
        agora__decoder_init(&s->dec, R->job->codec, NULL); /* F32 has no meta */
    /* Before the first write to a piece, copy the caller's input aside while it is in
     * cache; a failure restores exactly the prefix counted here. F32 sums copy each
     * element aside in the same pass that adds into it (add_f32). */
    s->r_bak = NULL;
    if (!R->job->all_backed) {
        uint32_t *cnt = &R->job->backed[S->c_recv * R->kmax + s->r_piece];
        if (*cnt == 0) {
            if (S->mode == MODE_ADD && R->job->codec == AGORA_CODEC_F32) {
                s->r_bak = R->job->backup + (acc_piece - R->job->buf);
                s->r_bak_cnt = cnt;
            } else {
                backup_copy(R->job->backup + (acc_piece - R->job->buf), acc_piece, pn);
                *cnt = (uint32_t)pn;
            }
        }
    }
    s->r_out = false;
    if (S->pre_next && s->r_hash) { /* hash the sums for next step's frame as they are made */
        agora__frame_hdr_prefix(S->pre_next[s->r_piece], AGORA_MSG_P2P_DATA, R->flags, R->job->seq,
                                (uint32_t)want_len);
        agora__fpos pos = next_pos(R, S, s->r_piece);
        agora__fh_reset(s->xo, R->mac_key, &pos, S->pre_next[s->r_piece]);
        s->r_out = true;
    }
    return AGORA_OK;
}

/* dst[i] (+)= src[i] for F32 sums, optionally dividing (the owner's AVG, fused into its
 * last add: the same two fp32 operations as adding, then dividing), and copying each old
 * dst[i] to bak[i] first when bak is not NULL (non-temporal: read back only on failure). */
static void add_f32(float *dst, const uint8_t *src, size_t k, float div, float *bak) {
    size_t i = 0;
#ifdef __SSE2__
    if (bak != NULL)
        for (; i < k && ((uintptr_t)(bak + i) & 15) != 0; i++) {
            float v;
            memcpy(&v, src + 4 * i, 4);
            bak[i] = dst[i];
            dst[i] = div != 0.0f ? (dst[i] + v) / div : dst[i] + v;
        }
    __m128 vd = _mm_set1_ps(div);
    for (; i + 8 <= k; i += 8) {
        __m128 a0 = _mm_loadu_ps(dst + i), a1 = _mm_loadu_ps(dst + i + 4);
        if (bak != NULL) {
            _mm_stream_ps(bak + i, a0);
            _mm_stream_ps(bak + i + 4, a1);
        }
        __m128 r0 = _mm_add_ps(a0, _mm_loadu_ps((const float *)(const void *)(src + 4 * i)));
        __m128 r1 = _mm_add_ps(a1, _mm_loadu_ps((const float *)(const void *)(src + 4 * i + 16)));
        if (div != 0.0f) {
            r0 = _mm_div_ps(r0, vd);
            r1 = _mm_div_ps(r1, vd);
        }
        _mm_storeu_ps(dst + i, r0);
        _mm_storeu_ps(dst + i + 4, r1);
    }
#endif
    for (; i < k; i++) {
        float v;
        memcpy(&v, src + 4 * i, 4);
        if (bak != NULL)
            bak[i] = dst[i];
        dst[i] = div != 0.0f ? (dst[i] + v) / div : dst[i] + v;
    }
}

/* MODE_ADD: consumes whole elements from the stage into acc (E3M0: whole bytes, two
 * elements each, except the last byte of an odd piece of pn elements). */
static void drain_stage(ring *R, const step *S, stream_st *s, float *dst, size_t pn) {
    size_t k = R->esz ? s->stage_len / R->esz : s->stage_len * 2;
    if (k > pn - s->elems_done)
        k = pn - s->elems_done;
    if (k) {
        if (R->job->codec == AGORA_CODEC_F32) {
            float *d = dst + s->elems_done;
            add_f32(d, s->stage, k, S->div, s->r_bak ? s->r_bak + s->elems_done : NULL);
            if (s->r_bak)
                *s->r_bak_cnt = (uint32_t)(s->elems_done + k);
            if (s->r_out)
                agora__fh_update(s->xo, d, k * sizeof(float));
        } else {
            agora__decode_add(&s->dec, s->stage, k, dst + s->elems_done);
        }
        s->elems_done += k;
        size_t used = cbytes(R, k);
        memmove(s->stage, s->stage + used, s->stage_len - used);
        s->stage_len -= used;
    }
}

static agora_err pump_recv(ring *R, const step *S, const chunk_geo *g, uint32_t j, bool *progress) {
    stream_st *s = &R->st[j];
    int fd = R->c->rx[j];
    while (s->r_piece < g->k) {
        size_t pe0, pn, off;
        piece(R, g, s->r_piece, &pe0, &pn, &off);
        size_t body = R->msz + cbytes(R, pn);
        ssize_t n;
        if (s->r_off < AGORA_WIRE_HDR) {
            n = recv(fd, s->r_hdr + s->r_off, AGORA_WIRE_HDR - s->r_off, 0);
            if (n <= 0) {
                agora_err e = io_err(n);
                return e == AGORA_EAGAIN ? AGORA_OK : e;
            }
            *progress = true;
            s->r_off += (size_t)n;
            R->job->rx_bytes += (uint64_t)n;
            if (s->r_off == AGORA_WIRE_HDR)
                AGORA_TRY(start_piece(R, S, s, body, R->job->buf + g->e0 + pe0, pn));
            continue;
        }
        size_t boff = s->r_off - AGORA_WIRE_HDR;
        if (boff < body) {
            uint8_t *dst;
            size_t room;
            if (S->mode == MODE_SET) {
                dst = S->recv_store + off + boff;
                room = body - boff;
            } else if (boff < R->msz) {
                dst = s->meta + boff;
                room = R->msz - boff;
            } else {
                dst = s->stage + s->stage_len;
                room = STAGE_BYTES - s->stage_len;
                if (room > body - boff)
                    room = body - boff;
            }
            n = recv(fd, dst, room, 0);
            if (n <= 0) {
                agora_err e = io_err(n);
                return e == AGORA_EAGAIN ? AGORA_OK : e;
            }
            *progress = true;
            if (s->r_hash)
                agora__fh_update(s->xs, dst, (size_t)n);
            s->r_off += (size_t)n;
            R->job->rx_bytes += (uint64_t)n;
            boff += (size_t)n;
            if (S->mode == MODE_ADD) {
                float *acc = R->job->buf + g->e0 + pe0;
                if (boff <= R->msz) {
                    if (boff == R->msz)
                        agora__decoder_init(&s->dec, R->job->codec, s->meta);
                } else {
                    s->stage_len += (size_t)n;
                    drain_stage(R, S, s, acc, pn);
                }
            }
        }
        if (boff == body) {
            if (s->r_hash && agora__fh_digest(s->xs) != s->r_sum) {
                if (R->mac_key != NULL)
                    AGORA_LOG_WARN(AGORA_SUB_COMM,
                                   "ring: a data frame from rank %u failed its MAC (altered or "
                                   "forged on the path?)",
                                   (R->c->rank + R->W - 1) % R->W);
                return AGORA_ECHECKSUM;
            }
#ifdef __SSE2__
            if (s->r_bak) /* order add_f32's non-temporal stores before what follows */
                _mm_sfence();
#endif
            if (s->r_out) {
                agora__put_le64(S->pre_next[s->r_piece] + 24, agora__fh_digest(s->xo));
                S->pre_next_ok[s->r_piece] = 1;
            }
            if (S->mode == MODE_SET && R->job->codec != AGORA_CODEC_F32) {
                agora_decoder d; /* decode each all-gather piece as soon as it is whole */
                agora__decoder_init(&d, R->job->codec, S->recv_store + off);
                agora__decode_set(&d, S->recv_store + off + R->msz, pn, R->job->buf + g->e0 + pe0);
            }
            memcpy(S->recv_hdr[s->r_piece], s->r_hdr, AGORA_WIRE_HDR);
            if (S->done) { /* the sender may forward this piece now */
                atomic_store_explicit(&S->done[s->r_piece], 1, memory_order_seq_cst);
                if (atomic_load_explicit(R->waiting, memory_order_seq_cst)) {
                    ssize_t w = write(R->wake_w, "w", 1);
                    (void)w;
                }
            }
            s->r_piece += R->P;
            s->r_off = 0;
        }
    }
    return AGORA_OK;
}

// ---- master and abort while the ring runs ----

static agora_err on_master(ring *R) {
    agora_comm *c = R->c;
    agora_err rc = agora__peer_recv(c, agora_deadline_in_ms(1000));
    if (rc == AGORA_EABORTED)
        return rc;
    if (rc != AGORA_OK)
        return AGORA_ECLOSED;
    if (c->mhdr.type == AGORA_MSG_C2P_ABORT) {
        agora_rbuf r = {c->mbuf, c->mhdr.length, 0, false};
        uint64_t seq = agora__r_u64(&r);
        if (seq == R->job->seq)
            return AGORA_EPEER_LOST;
    }
    return AGORA_OK; /* stale or unrelated: skip */
}

/* ring_wait polls the caller's n fds in pf[0..n) plus the master and the abort fd, which
 * it appends (pf needs room for n + 2), until one is ready or the job deadline passes; a
 * positive cap_ms shortens the wait (a rate-limited sender asks its bucket again then). It
 * handles the two it appended: an abort gives AGORA_EABORTED, a master message what
 * on_master says. *ready is poll's count; the caller reads its own revents in pf[0..n). */
static agora_err ring_wait(ring *R, struct pollfd *pf, nfds_t n, int32_t cap_ms, int *ready) {
    *ready = 0;
    pf[n] = (struct pollfd){R->c->mfd, POLLIN, 0};
    pf[n + 1] = (struct pollfd){agora__peer_wake_fd(R->c), POLLIN, 0};
    if (agora_deadline_passed(R->job->deadline))
        return AGORA_ETIMEDOUT;
    int32_t ms = agora_deadline_left_ms(R->job->deadline);
    if (cap_ms > 0 && cap_ms < ms)
        ms = cap_ms;
    int r = poll(pf, n + 2, ms > 0 ? ms : 1);
    if (r < 0)
        return errno == EINTR ? AGORA_OK : AGORA_EIO;
    *ready = r;
    if (r > 0 && pf[n + 1].revents)
        return AGORA_EABORTED;
    if (r > 0 && pf[n].revents)
        return on_master(R);
    return AGORA_OK;
}

/* One step on one thread: sends and receives interleaved (small steps). */
static agora_err run_step_single(ring *R, const step *S, const chunk_geo *gs, const chunk_geo *gr) {
    struct pollfd pf[2 * 64 + 2];
    for (;;) {
        bool progress = false, done = true;
        R->tx_wait_ms = 0;
        for (uint32_t j = 0; j < R->P; j++) {
            AGORA_TRY(pump_send(R, S, gs, j, &progress));
            AGORA_TRY(pump_recv(R, S, gr, j, &progress));
            done = done && R->st[j].s_piece >= gs->k && R->st[j].r_piece >= gr->k;
        }
        if (done)
            return AGORA_OK;
        if (progress)
            continue;
        nfds_t n = 0;
        for (uint32_t j = 0; j < R->P; j++) {
            if (R->st[j].s_piece < gs->k && R->tx_wait_ms == 0)
                pf[n++] = (struct pollfd){R->c->tx[j], POLLOUT, 0};
            if (R->st[j].r_piece < gr->k)
                pf[n++] = (struct pollfd){R->c->rx[j], POLLIN, 0};
        }
        int ready;
        AGORA_TRY(ring_wait(R, pf, n, R->tx_wait_ms, &ready));
    }
}

/* Large steps: a sender thread encodes, hashes and sends while this thread receives and
 * decodes, so the two halves of the work overlap. They touch disjoint data: the sender
 * reads (and, when finalizing, rewrites) chunk c_send and the s_* stream fields, the
 * receiver writes chunk c_recv, the r_* fields and the backup. */
typedef struct sender {
    ring *R;
    const step *S;
    const chunk_geo *g;
    _Atomic int stop; /* set by the receiver on its own failure */
    agora_err rc;
    int wake_w; /* written once when the sender finishes */
} sender;

static void *sender_main(void *arg) {
    sender *sd = arg;
    ring *R = sd->R;
    agora_err rc = AGORA_OK;
    struct pollfd pf[64];
    for (;;) {
        bool progress = false, done = true;
        R->tx_wait_ms = 0;
        for (uint32_t j = 0; j < R->P && rc == AGORA_OK; j++) {
            rc = pump_send(R, sd->S, sd->g, j, &progress);
            done = done && R->st[j].s_piece >= sd->g->k;
        }
        if (rc != AGORA_OK || done)
            break;
        if (atomic_load(&sd->stop)) {
            rc = AGORA_EABORTED;
            break;
        }
        if (progress)
            continue;
        if (agora_deadline_passed(R->job->deadline)) {
            rc = AGORA_ETIMEDOUT;
            break;
        }
        nfds_t n = 0;
        for (uint32_t j = 0; j < R->P && R->tx_wait_ms == 0; j++)
            if (R->st[j].s_piece < sd->g->k)
                pf[n++] = (struct pollfd){R->c->tx[j], POLLOUT, 0};
        /* short: the stop flag is checked between waits */
        (void)poll(pf, n, R->tx_wait_ms > 0 && R->tx_wait_ms < 20 ? R->tx_wait_ms : 20);
    }
    sd->rc = rc;
    ssize_t w = write(sd->wake_w, "x", 1);
    (void)w;
    return NULL;
}

static agora_err run_step_threaded(ring *R, const step *S, const chunk_geo *gs,
                                   const chunk_geo *gr) {
    int wake[2];
    if (pipe(wake) != 0)
        return run_step_single(R, S, gs, gr);
    sender sd = {R, S, gs, 0, AGORA_OK, wake[1]};
    atomic_init(&sd.stop, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, sender_main, &sd) != 0) {
        close(wake[0]);
        close(wake[1]);
        return run_step_single(R, S, gs, gr);
    }
    agora_err rc = AGORA_OK;
    bool sender_done = false;
    struct pollfd pf[64 + 3];
    while (rc == AGORA_OK) {
        bool progress = false, done = true;
        for (uint32_t j = 0; j < R->P && rc == AGORA_OK; j++) {
            rc = pump_recv(R, S, gr, j, &progress);
            done = done && R->st[j].r_piece >= gr->k;
        }
        if (rc != AGORA_OK || (done && sender_done))
            break;
        if (progress)
            continue;
        nfds_t n = 0;
        for (uint32_t j = 0; j < R->P && !done; j++)
            if (R->st[j].r_piece < gr->k)
                pf[n++] = (struct pollfd){R->c->rx[j], POLLIN, 0};
        nfds_t xw = n;
        pf[n++] = (struct pollfd){wake[0], sender_done ? 0 : POLLIN, 0};
        int r;
        rc = ring_wait(R, pf, n, 0, &r);
        if (rc == AGORA_ETIMEDOUT)
            break;
        if (r > 0 && (pf[xw].revents & POLLIN)) {
            sender_done = true; /* sd.rc is read after the join below */
            char b;
            ssize_t k = read(wake[0], &b, 1);
            (void)k;
        }
        if (sender_done && rc == AGORA_OK) {
            pthread_join(th, NULL);
            sender_done = true;
            if (sd.rc != AGORA_OK) {
                close(wake[0]);
                close(wake[1]);
                return sd.rc;
            }
            /* joined: keep receiving with the single-thread loop's receive half */
            while (rc == AGORA_OK) {
                bool pr = false, dn = true;
                for (uint32_t j = 0; j < R->P && rc == AGORA_OK; j++) {
                    rc = pump_recv(R, S, gr, j, &pr);
                    dn = dn && R->st[j].r_piece >= gr->k;
                }
                if (rc != AGORA_OK || dn)
                    break;
                if (pr)
                    continue;
                nfds_t m = 0;
                for (uint32_t j = 0; j < R->P; j++)
                    if (R->st[j].r_piece < gr->k)
                        pf[m++] = (struct pollfd){R->c->rx[j], POLLIN, 0};
                int r2;
                rc = ring_wait(R, pf, m, 0, &r2);
            }
            close(wake[0]);
            close(wake[1]);
            return rc;
        }
    }
    atomic_store(&sd.stop, 1);
    pthread_join(th, NULL);
    close(wake[0]);
    close(wake[1]);
    if (rc == AGORA_OK)
        rc = sd.rc;
    return rc;
}

#define THREAD_MIN_BYTES (1u << 20)
/* A stream's socket must have been full this long in one collective before its drain rate
 * counts as a measurement of the link. */
#define PASSIVE_MIN_NS (50 * 1000000LL)

static agora_err run_step(ring *R, const step *S) {
    chunk_geo gs = geo(R, S->c_send), gr = geo(R, S->c_recv);
    for (uint32_t j = 0; j < R->P; j++) {
        R->st[j].s_piece = R->st[j].r_piece = j;
        R->st[j].s_off = R->st[j].r_off = 0;
        R->st[j].s_ready = false;
    }
    size_t bytes = cbytes(R, gs.n);
    if (bytes >= THREAD_MIN_BYTES)
        return run_step_threaded(R, S, &gs, &gr);
    return run_step_single(R, S, &gs, &gr);
}

// ---- the schedule ----

static uint32_t mod(int64_t a, uint32_t w) {
    return (uint32_t)(((a % w) + w) % w);
}

static agora_err reduce_scatter(ring *R) {
    uint32_t r = R->c->rank, W = R->W;
    bool f32 = R->job->codec == AGORA_CODEC_F32;
    for (uint32_t s = 0; s + 1 < W; s++) {
        step S;
        memset(&S, 0, sizeof S);
        S.mode = MODE_ADD;
        S.phase = 0;
        S.sidx = s;
        S.prep = PREP_RS;
        S.c_send = mod((int64_t)r - s, W);
        S.c_recv = mod((int64_t)r - s - 1, W);
        S.send_hdr = R->hdr[0];
        S.recv_hdr = R->hdr[1];
        chunk_geo g = geo(R, S.c_send);
        S.send_base = f32 ? (const uint8_t *)(R->job->buf + g.e0) : R->store[0];
        if (f32) { /* this step's sums go out next step: hash them as they are made */
            if (s > 0) {
                S.pre_send = R->pre[s & 1];
                S.pre_send_ok = R->pre_ok[s & 1];
            }
            S.pre_next = R->pre[(s + 1) & 1];
            S.pre_next_ok = R->pre_ok[(s + 1) & 1];
            memset(S.pre_next_ok, 0, R->kmax);
            if (s + 2 == W && R->job->op == AGORA_REDUCE_AVG)
                S.div = R->job->contributors ? (float)R->job->contributors : 1.0f;
        }
        AGORA_TRY(run_step(R, &S));
    }
    return AGORA_OK;
}

static agora_err finalize_and_gather(ring *R) {
    uint32_t r = R->c->rank, W = R->W;
    bool f32 = R->job->codec == AGORA_CODEC_F32;
    int cur = 0; /* store/headers holding what we send next */
    for (uint32_t s = 0; s + 1 < W; s++) {
        uint32_t cs = mod((int64_t)r + 1 - s, W), cr = mod((int64_t)r - s, W);
        chunk_geo gs = geo(R, cs), gr = geo(R, cr);
        /* step 0 sends the owned chunk (r + 1), finalized piece by piece */
        step S;
        memset(&S, 0, sizeof S);
        S.mode = MODE_SET;
        S.phase = 1;
        S.sidx = s;
        S.prep = s == 0 ? PREP_FINAL : PREP_NONE;
        S.c_send = cs;
        S.c_recv = cr;
        S.send_hdr = R->hdr[cur];
        S.recv_hdr = R->hdr[1 - cur];
        if (f32 && s == 0) { /* the owned sums were hashed as they were made */
            S.pre_send = R->pre[(W - 1) & 1];
            S.pre_send_ok = R->pre_ok[(W - 1) & 1];
        }
        if (f32) {
            S.send_base = (const uint8_t *)(R->job->buf + gs.e0);
            S.recv_store = (uint8_t *)(R->job->buf + gr.e0);
        } else {
            S.send_base = R->store[cur];
            S.recv_store = R->store[1 - cur];
        }
        AGORA_TRY(run_step(R, &S));
        cur = 1 - cur; /* forward the received frames unchanged next step */
    }
    return AGORA_OK;
}

// ---- F32, large chunks: all 2(W-1) steps pipelined piece by piece ----

/* One sender thread walks every step of the schedule while the caller's thread receives.
 * Piece i of step t is sent as soon as piece i of step t-1 has been received (the chunk
 * sent in step t is the one received in step t-1), so pieces go out while their sums are
 * still in cache and no step waits for the slowest piece of the one before. Each stream
 * carries its pieces of every step in order, so the streams never wait on each other. */
typedef struct pipeline {
    ring *R;
    uint32_t T; /* steps: W-1 reduce-scatter, then W-1 all-gather */
    step *S;
    chunk_geo *gs, *gr;
    _Atomic int stop; /* set by the receiver on its own failure */
    _Atomic int waiting;
    int wake[2]; /* receiver -> sender: a piece became sendable */
    int fin[2];  /* sender -> receiver: finished (pl->rc says how) */
    /* sent[t * P + j]: the sender is past step t on stream j. All-gather step s writes the
     * chunk that reduce-scatter step s sent, so a stream receives it only after that
     * (always true on the wire, since the data coming back contains ours; the flag makes
     * the order visible to the threads, and to TSan); swake tells the receiver */
    _Atomic uint8_t *sent;
    int swake[2];
    agora_err rc;
} pipeline;

static void *pipe_sender(void *arg) {
    pipeline *pl = arg;
    ring *R = pl->R;
    uint32_t ts[64] = {0};
    agora_err rc = AGORA_OK;
    struct pollfd pf[64 + 1];
    for (;;) {
        bool progress = false, done = true, blocked_any = false;
        R->tx_wait_ms = 0;
        for (uint32_t j = 0; j < R->P && rc == AGORA_OK; j++) {
            while (ts[j] < pl->T) {
                stream_st *st = &R->st[j];
                R->tx_blocked = false;
                rc = pump_send(R, &pl->S[ts[j]], &pl->gs[ts[j]], j, &progress);
                if (rc != AGORA_OK || st->s_piece < pl->gs[ts[j]].k) {
                    blocked_any = blocked_any || R->tx_blocked;
                    break;
                }
                atomic_store_explicit(&pl->sent[(size_t)ts[j] * R->P + j], 1, memory_order_release);
                ssize_t sw = write(pl->swake[1], "s", 1);
                (void)sw;
                ts[j]++; /* this stream's pieces of the step are out: the next step */
                st->s_piece = j;
                st->s_off = 0;
                st->s_ready = false;
            }
            done = done && ts[j] >= pl->T;
        }
        if (rc != AGORA_OK || done)
            break;
        if (atomic_load(&pl->stop)) {
            rc = AGORA_EABORTED;
            break;
        }
        if (progress)
            continue;
        if (agora_deadline_passed(R->job->deadline)) {
            rc = AGORA_ETIMEDOUT;
            break;
        }
        if (blocked_any) { /* sleep until the receiver completes a piece (no lost wakeup:
                              it sets the piece's flag before it reads `waiting`) */
            atomic_store_explicit(&pl->waiting, 1, memory_order_seq_cst);
            bool ready = false;
            for (uint32_t j = 0; j < R->P && !ready; j++) {
                stream_st *st = &R->st[j];
                if (ts[j] < pl->T && st->s_off == 0 && st->s_piece < pl->gs[ts[j]].k &&
                    pl->S[ts[j]].dep &&
                    atomic_load_explicit(&pl->S[ts[j]].dep[st->s_piece], memory_order_seq_cst))
                    ready = true;
            }
            if (ready) {
                atomic_store(&pl->waiting, 0);
                continue;
            }
        }
        nfds_t n = 0;
        for (uint32_t j = 0; j < R->P && R->tx_wait_ms == 0; j++) {
            stream_st *st = &R->st[j];
            bool dep_wait =
                ts[j] < pl->T && st->s_off == 0 && st->s_piece < pl->gs[ts[j]].k &&
                pl->S[ts[j]].dep &&
                !atomic_load_explicit(&pl->S[ts[j]].dep[st->s_piece], memory_order_acquire);
            if (ts[j] < pl->T && !dep_wait)
                pf[n++] = (struct pollfd){R->c->tx[j], POLLOUT, 0};
        }
        pf[n++] = (struct pollfd){pl->wake[0], POLLIN, 0};
        /* short: the stop flag is checked between waits */
        (void)poll(pf, n, R->tx_wait_ms > 0 && R->tx_wait_ms < 20 ? R->tx_wait_ms : 20);
        char b[64];
        while (read(pl->wake[0], b, sizeof b) > 0) {
        }
        atomic_store(&pl->waiting, 0);
    }
    pl->rc = rc;
    ssize_t w = write(pl->fin[1], "x", 1);
    (void)w;
    return NULL;
}

static agora_err run_pipelined(ring *R, pipeline *pl) {
    if (pipe(pl->wake) != 0)
        return AGORA_EIO;
    if (pipe(pl->fin) != 0) {
        close(pl->wake[0]);
        close(pl->wake[1]);
        return AGORA_EIO;
    }
    if (pipe(pl->swake) != 0) {
        close(pl->wake[0]);
        close(pl->wake[1]);
        close(pl->fin[0]);
        close(pl->fin[1]);
        return AGORA_EIO;
    }
    for (int k = 0; k < 2; k++) {
        (void)fcntl(pl->wake[k], F_SETFL, O_NONBLOCK);
        (void)fcntl(pl->fin[k], F_SETFL, O_NONBLOCK);
        (void)fcntl(pl->swake[k], F_SETFL, O_NONBLOCK);
    }
    atomic_init(&pl->stop, 0);
    atomic_init(&pl->waiting, 0);
    pl->rc = AGORA_OK;
    R->wake_w = pl->wake[1];
    R->waiting = &pl->waiting;
    for (uint32_t j = 0; j < R->P; j++) {
        R->st[j].s_piece = R->st[j].r_piece = j;
        R->st[j].s_off = R->st[j].r_off = 0;
        R->st[j].s_ready = false;
    }
    agora_err rc = AGORA_OK;
    pthread_t th;
    if (pthread_create(&th, NULL, pipe_sender, pl) != 0) {
        rc = AGORA_EIO;
        goto out;
    }
    uint32_t tr[64] = {0};
    bool sender_done = false;
    struct pollfd pf[64 + 4];
    bool held[64];
    for (;;) {
        bool progress = false, done = true;
        for (uint32_t j = 0; j < R->P && rc == AGORA_OK; j++) {
            held[j] = false;
            while (tr[j] < pl->T) {
                stream_st *st = &R->st[j];
                uint32_t ag = tr[j] + 1 >= R->W ? tr[j] + 1 - R->W : UINT32_MAX;
                if (ag != UINT32_MAX && st->r_piece == j && st->r_off == 0 &&
                    !atomic_load_explicit(&pl->sent[(size_t)ag * R->P + j], memory_order_acquire)) {
                    held[j] = true; /* its reduce-scatter sends are not through yet: wait
                                       for swake, not on the socket (no busy loop) */
                    break;
                }
                rc = pump_recv(R, &pl->S[tr[j]], &pl->gr[tr[j]], j, &progress);
                if (rc != AGORA_OK || st->r_piece < pl->gr[tr[j]].k)
                    break;
                tr[j]++;
                st->r_piece = j;
                st->r_off = 0;
            }
            done = done && tr[j] >= pl->T;
        }
        if (rc != AGORA_OK || (done && sender_done))
            break;
        if (progress)
            continue;
        nfds_t n = 0;
        for (uint32_t j = 0; j < R->P; j++)
            if (tr[j] < pl->T && !held[j])
                pf[n++] = (struct pollfd){R->c->rx[j], POLLIN, 0};
        nfds_t xf = n;
        pf[n++] = (struct pollfd){pl->fin[0], sender_done ? 0 : POLLIN, 0};
        pf[n++] = (struct pollfd){pl->swake[0], POLLIN, 0};
        int r;
        rc = ring_wait(R, pf, n, 0, &r);
        if (rc == AGORA_ETIMEDOUT)
            break;
        if (r > 0 && (pf[xf + 1].revents & POLLIN)) {
            char b[256];
            while (read(pl->swake[0], b, sizeof b) > 0) {
            }
        }
        if (r > 0 && (pf[xf].revents & POLLIN)) {
            sender_done = true;
            char b;
            ssize_t k = read(pl->fin[0], &b, 1);
            (void)k;
            if (pl->rc != AGORA_OK && rc == AGORA_OK)
                rc = pl->rc; /* the sender failed: stop receiving */
        }
    }
    atomic_store(&pl->stop, 1);
    {
        ssize_t w = write(pl->wake[1], "s", 1);
        (void)w;
    }
    pthread_join(th, NULL);
    if (rc == AGORA_OK)
        rc = pl->rc;
out:
    R->waiting = NULL;
    R->wake_w = -1;
    close(pl->wake[0]);
    close(pl->wake[1]);
    close(pl->fin[0]);
    close(pl->fin[1]);
    close(pl->swake[0]);
    close(pl->swake[1]);
    return rc;
}

/* Builds the 2(W-1) steps of the F32 schedule with their own header arrays and flags. */
static agora_err f32_pipelined(ring *R) {
    uint32_t r = R->c->rank, W = R->W, T = 2 * (W - 1);
    size_t kmax = R->kmax;
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pl.R = R;
    pl.T = T;
    pl.S = agora_calloc(T, sizeof *pl.S);
    pl.gs = agora_calloc(T, sizeof *pl.gs);
    pl.gr = agora_calloc(T, sizeof *pl.gr);
    uint8_t(*hdr)[AGORA_WIRE_HDR] = agora_malloc((size_t)T * 2 * kmax * AGORA_WIRE_HDR);
    _Atomic uint8_t *flags = agora_calloc((size_t)T * kmax, sizeof *flags);
    uint8_t *pre_ok = agora_calloc((size_t)T * kmax, 1);
    pl.sent = agora_calloc((size_t)T * R->P, sizeof *pl.sent);
    agora_err rc = AGORA_ENOMEM;
    if (!pl.S || !pl.gs || !pl.gr || !hdr || !flags || !pre_ok || !pl.sent)
        goto out;
    for (size_t i = 0; i < (size_t)T * kmax; i++)
        atomic_init(&flags[i], 0);
    for (size_t i = 0; i < (size_t)T * R->P; i++)
        atomic_init(&pl.sent[i], 0);
    /* hdr[(2t) * kmax ...]: headers built for the frames of step t; hdr[(2t+1) * kmax ...]:
     * headers received in step t (the all-gather forwards them in step t+1) */
    for (uint32_t t = 0; t < T; t++) {
        step *S = &pl.S[t];
        uint8_t(*mine)[AGORA_WIRE_HDR] = hdr + (size_t)(2 * t) * kmax;
        uint8_t(*recvd)[AGORA_WIRE_HDR] = hdr + (size_t)(2 * t + 1) * kmax;
        bool rs = t + 1 < W;
        uint32_t s = rs ? t : t - (W - 1);
        S->mode = rs ? MODE_ADD : MODE_SET;
        S->phase = rs ? 0 : 1;
        S->sidx = s;
        S->c_send = rs ? mod((int64_t)r - s, W) : mod((int64_t)r + 1 - s, W);
        S->c_recv = rs ? mod((int64_t)r - s - 1, W) : mod((int64_t)r - s, W);
        pl.gs[t] = geo(R, S->c_send);
        pl.gr[t] = geo(R, S->c_recv);
        S->send_base = (const uint8_t *)(R->job->buf + pl.gs[t].e0);
        S->recv_store = (uint8_t *)(R->job->buf + pl.gr[t].e0);
        S->done = flags + (size_t)t * kmax;
        S->dep = t > 0 ? flags + (size_t)(t - 1) * kmax : NULL;
        S->recv_hdr = recvd;
        if (rs) {
            S->prep = PREP_RS;
            S->send_hdr = mine;
        } else { /* step 0 sends the owned sums; later steps forward what step t-1 got */
            S->prep = s == 0 ? PREP_FINAL : PREP_NONE;
            S->send_hdr = s == 0 ? mine : hdr + (size_t)(2 * (t - 1) + 1) * kmax;
        }
    }
    /* the sums received in reduce-scatter step t go out in step t+1 with headers hashed
     * while they were made: those live in a third array per step (pre, pre_ok) */
    uint8_t(*pre)[AGORA_WIRE_HDR] = agora_malloc((size_t)T * kmax * AGORA_WIRE_HDR);
    if (pre == NULL)
        goto out;
    for (uint32_t t = 0; t + 1 < W; t++) {
        pl.S[t].pre_next = pre + (size_t)t * kmax;
        pl.S[t].pre_next_ok = pre_ok + (size_t)t * kmax;
        pl.S[t + 1].pre_send = pre + (size_t)t * kmax;
        pl.S[t + 1].pre_send_ok = pre_ok + (size_t)t * kmax;
        if (t + 2 == W && R->job->op == AGORA_REDUCE_AVG)
            pl.S[t].div = R->job->contributors ? (float)R->job->contributors : 1.0f;
    }
    rc = run_pipelined(R, &pl);
    agora_free(pre);
out:
    agora_free(pl.S);
    agora_free(pl.gs);
    agora_free(pl.gr);
    agora_free(hdr);
    agora_free((void *)(uintptr_t)flags);
    agora_free((void *)(uintptr_t)pl.sent);
    agora_free(pre_ok);
    return rc;
}

void agora__ring_restore(const agora__ring_job *job, uint32_t world) {
    if (job->all_backed) {
        memcpy(job->buf, job->backup, job->count * sizeof(float));
        return;
    }
    if (job->backed == NULL)
        return; /* the ring never started: nothing was written */
    ring R;
    memset(&R, 0, sizeof R);
    R.job = (agora__ring_job *)(uintptr_t)job;
    R.W = world;
    R.P = job->pool;
    R.esz =
        agora__codec_elems_per_byte(job->codec) == 2 ? 0 : agora__codec_code_bytes(job->codec, 1);
    R.msz = agora__codec_meta_bytes(job->codec);
    R.pad = R.esz ? 0 : 1;
    R.kmax = job->kmax;
    for (uint32_t c = 0; c < world; c++) {
        chunk_geo g = geo(&R, c);
        for (size_t i = 0; i < g.k; i++) {
            size_t cnt = job->backed[c * job->kmax + i];
            if (cnt == 0)
                continue;
            size_t pe0, pn, off;
            piece(&R, &g, i, &pe0, &pn, &off);
            memcpy(job->buf + g.e0 + pe0, job->backup + g.e0 + pe0, cnt * sizeof(float));
        }
    }
}

agora_err agora__ring_run(agora_comm *c, agora__ring_job *job) {
    ring R;
    memset(&R, 0, sizeof R);
    R.c = c;
    R.job = job;
    R.W = c->world;
    R.P = c->pool;
    R.mac_key = c->data_mac ? c->ring_key : NULL;
    R.flags = c->data_mac ? AGORA_FRAME_F_MAC : c->o.data_checksum_off ? AGORA_FRAME_F_HDR_ONLY : 0;
    R.esz =
        agora__codec_elems_per_byte(job->codec) == 2 ? 0 : agora__codec_code_bytes(job->codec, 1);
    R.msz = agora__codec_meta_bytes(job->codec);
    R.pad = R.esz ? 0 : 1;
    chunk_geo g0 = geo(&R, 0); /* chunk 0 is the largest */
    R.kmax = g0.k;
    job->pool = R.P;
    job->kmax = R.kmax;
    if (!job->all_backed) {
        job->backed = agora_calloc((size_t)R.W * R.kmax, sizeof *job->backed);
        if (job->backed == NULL)
            return AGORA_ENOMEM;
    }
    R.max_store = g0.k * (R.msz + R.pad) + cbytes(&R, g0.n);
    agora_err rc = AGORA_ENOMEM;
    R.st = agora_calloc(R.P, sizeof *R.st);
    if (job->codec != AGORA_CODEC_F32 && c->store_cap < R.max_store) {
        for (int b = 0; b < 2; b++) {
            agora_free_aligned(c->store[b]);
            c->store[b] = agora_malloc_aligned(R.max_store);
        }
        c->store_cap = c->store[0] && c->store[1] ? R.max_store : 0;
    }
    for (int b = 0; b < 2; b++) {
        R.hdr[b] = agora_malloc(R.kmax * AGORA_WIRE_HDR);
        R.pre[b] = agora_malloc(R.kmax * AGORA_WIRE_HDR);
        R.pre_ok[b] = agora_calloc(R.kmax, 1);
        if (job->codec != AGORA_CODEC_F32)
            R.store[b] = c->store[b];
    }
    if (R.st == NULL || !R.hdr[0] || !R.hdr[1] || !R.pre[0] || !R.pre[1] || !R.pre_ok[0] ||
        !R.pre_ok[1] || (job->codec != AGORA_CODEC_F32 && (!R.store[0] || !R.store[1])))
        goto out;
    for (uint32_t j = 0; j < R.P; j++) {
        if (c->stage[j] == NULL)
            c->stage[j] = agora_malloc_aligned(STAGE_BYTES);
        if (c->xs[j] == NULL)
            c->xs[j] = agora__fh_new();
        if (c->xo[j] == NULL)
            c->xo[j] = agora__fh_new();
        R.st[j].stage = c->stage[j];
        R.st[j].xs = c->xs[j];
        R.st[j].xo = c->xo[j];
        if (!R.st[j].stage || !R.st[j].xs || !R.st[j].xo)
            goto out;
    }
    R.wake_w = -1;
    if (job->codec == AGORA_CODEC_F32 && g0.n * sizeof(float) >= THREAD_MIN_BYTES) {
        rc = f32_pipelined(&R);
    } else {
        rc = reduce_scatter(&R);
        if (rc == AGORA_OK)
            rc = finalize_and_gather(&R);
    }
    job->link_bps = 0;
    for (uint32_t j = 0; rc == AGORA_OK && j < R.P; j++) /* streams share the link: add up */
        if (R.st[j].s_full_ns >= PASSIVE_MIN_NS)
            job->link_bps += (double)R.st[j].s_full_bytes * 1e9 / (double)R.st[j].s_full_ns;
out:
    agora_free(R.st);
    for (int b = 0; b < 2; b++) {
        agora_free(R.hdr[b]);
        agora_free(R.pre[b]);
        agora_free(R.pre_ok[b]);
    }
    if (rc == AGORA_EPROTO)
        AGORA_LOG_WARN(AGORA_SUB_COMM, "ring: malformed data frame");
    return rc;
}
