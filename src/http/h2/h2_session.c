/*
 * The HTTP/2 codec around nghttp2 (see h2_session.h). nghttp2 does the framing, HPACK, stream
 * states and flow control; this file turns its callbacks into lux's narrow interface, keeps the
 * output queue, and counts what nghttp2 does not count for us.
 *
 * Output: nghttp2_session_send() writes every frame through send_cb (copied into `buf`) except
 * DATA payloads, which come through send_data_cb (NGHTTP2_DATA_FLAG_NO_COPY): memory is copied
 * once into the queue, a file range is queued as (fd, offset, length) for sendfile, or read
 * with pread straight into the queue when the transport needs the bytes (TLS).
 */
#include "http/h2/h2_session.h"

#include "http/h2/h2_fields.h"
#include "http/h2/h2_mem.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes queued for the transport before DATA frames wait (DEFERRED) for it to drain. */
#define OUT_HIGH (128 * 1024)
/* An idle session gives its output buffer back when it grew past this. */
#define OUT_KEEP (16 * 1024)
/* HPACK bomb: decoded header bytes of one block beyond this many times max_header_list end
 * the connection instead of answering 431 (a block that inflates this much is an attack). */
#define HEADER_BOMB_FACTOR 8
/* CONTINUATION flood: frames after a HEADERS frame (nghttp2 ends the session beyond them). */
#define MAX_CONTINUATIONS 8
/* Fields of a request or response head that fit on the stack; more take the heap. */
#define FIELDS_ON_STACK 32
/* Streams found by id in one look (a slot per id modulo this, checked by id), before the list:
 * the ids a client opens at once are consecutive odd numbers, so they never share a slot
 * while no more than this many are open. */
#define STREAM_SLOTS 32
/* A stream keeps its head buffer up to this size once the request is up: the response's
 * field names are lowered into it. A larger one goes back at once. */
#define HEAD_KEEP 1024

typedef struct {
    double tokens;
    int64_t last_ms;
    uint32_t burst, rate;
} bucket;

/* A string of the request head: its offset + 1 in the head buffer (0: absent), and length. */
typedef struct {
    size_t at, len;
} head_span;

typedef struct h2_stream {
    struct h2_stream *prev, *next;
    int32_t id;
    void *user;
    /* the head while it arrives: "name\0value\0" pairs in hbuf, where spans find them */
    char *hbuf;
    size_t hlen, hcap;
    head_span *spans; /* 2 per field: name, value */
    size_t nspans, spans_cap;
    head_span pseudo[5]; /* values of :method :scheme :authority :path :protocol */
    size_t header_bytes;
    int64_t content_length; /* the request's Content-Length, -1 without one */
    uint64_t data_len;      /* request body bytes in DATA so far */
    uint32_t urgency;       /* RFC 9218, from a Priority field */
    int incremental;
    unsigned too_large : 1, requested : 1, responding : 1, deferred : 1, out_blocked : 1;
    unsigned ended : 1; /* the request is complete (END_STREAM seen) */
    /* The stream carries a tunnel: the client's DATA go on after the response ends. */
    unsigned tunnel : 1;
    unsigned named : 1;       /* the response's names are in hbuf (nghttp2 points at them) */
    unsigned regular : 1;     /* a regular field came: no pseudo-header field may follow */
    unsigned malformed : 1;   /* RFC 9113 8.1.1: reset with PROTOCOL_ERROR, never delivered */
    unsigned prioritised : 1; /* the head had a Priority field that parsed */
} h2_stream;

typedef struct {
    size_t len;
    int fd; /* -1: memory, the next len bytes of buf */
    off_t off;
    void *hold;
} out_seg;

struct lux_h2_session {
    nghttp2_session *ng;
    lux_h2_limits lim;
    lux_h2_callbacks cb;
    void *user;
    h2_stream *streams;
    size_t nstreams;
    h2_stream *slot[STREAM_SLOTS]; /* the last stream opened with each slot's ids */
    bucket resets, control;
    int64_t now_ms;
    int dead;                /* a defence or a fatal error ended the session */
    int acked;               /* the client acknowledged our SETTINGS */
    int32_t last_headers_id; /* the highest stream a HEADERS frame named */
    size_t frame_left;       /* until then: bytes of the current frame (or preface) not fed yet */
    int goaway_error;        /* -1 none sent */
    /* the output queue */
    char *buf;
    size_t buf_off, buf_len, buf_cap;
    size_t buf_last_cap; /* what the buffer grew to before it was given back */
    out_seg *segs;
    size_t seg_head, seg_len, seg_cap;
    size_t queued;
    /* the stream whose header block is being decoded: found once per block, not per field
     * (blocks never interleave, RFC 9113 6.10) */
    h2_stream *decoding;
    /* the DATA piece between read_cb and send_data_cb */
    int32_t piece_stream;
    lux_h2_piece piece;
    lux_h2_mem mem; /* nghttp2's small blocks, kept while streams come and go */
};

void lux_h2_limits_default(lux_h2_limits *l) {
    *l = (lux_h2_limits){
        .max_concurrent_streams = 8, /* lighttpd 1.4.69 */
        .stream_window = 65536,      /* lighttpd 1.4.69 */
        .connection_window = 1024 * 1024,
        .max_header_list = 8192, /* server.max-request-field-size */
        .reset_burst = 100,
        .reset_rate = 10,
        .control_burst = 500,
        .control_rate = 100,
    };
}

/* ---- token buckets ---- */

static void bucket_init(bucket *b, uint32_t burst, uint32_t rate) {
    *b = (bucket){.tokens = burst, .last_ms = -1, .burst = burst, .rate = rate};
}

/* Take a token; -1 when the bucket is empty. */
static int bucket_take(bucket *b, int64_t now_ms) {
    if (b->last_ms >= 0 && now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
    }
    b->last_ms = now_ms;
    if (b->tokens < 1.0)
        return -1;
    b->tokens -= 1.0;
    return 0;
}

/* A defence tripped: GOAWAY ENHANCE_YOUR_CALM, read nothing more. */
static void calm_down(lux_h2_session *s) {
    if (s->dead)
        return;
    s->dead = 1;
    nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* ---- the output queue ---- */

static int buf_reserve(lux_h2_session *s, size_t n) {
    if (s->buf_len + n <= s->buf_cap)
        return 0;
    if (s->buf_off > 0 && s->buf_len - s->buf_off + n <= s->buf_cap) {
        memmove(s->buf, s->buf + s->buf_off, s->buf_len - s->buf_off);
        s->buf_len -= s->buf_off;
        s->buf_off = 0;
        return 0;
    }
    /* A buffer given back after a burst (a tunnel, a large body) starts as large as it grew
     * then: growing it again would copy what it holds at each step. */
    size_t cap = s->buf_cap ? s->buf_cap : s->buf_last_cap > 4096 ? s->buf_last_cap : 4096;
    while (cap < s->buf_len + n)
        cap *= 2;
    char *nb = realloc(s->buf, cap);
    if (!nb)
        return -1;
    s->buf = nb;
    s->buf_cap = cap;
    return 0;
}

static out_seg *seg_push(lux_h2_session *s) {
    if (s->seg_head + s->seg_len == s->seg_cap) {
        if (s->seg_head > 0) {
            memmove(s->segs, s->segs + s->seg_head, s->seg_len * sizeof *s->segs);
            s->seg_head = 0;
        } else {
            size_t cap = s->seg_cap ? s->seg_cap * 2 : 16;
            out_seg *ns = realloc(s->segs, cap * sizeof *ns);
            if (!ns)
                return NULL;
            s->segs = ns;
            s->seg_cap = cap;
        }
    }
    return &s->segs[s->seg_head + s->seg_len++];
}

/* Room for n more memory bytes at the end of the queue; NULL when out of memory. */
static char *out_mem(lux_h2_session *s, size_t n) {
    out_seg *last = s->seg_len ? &s->segs[s->seg_head + s->seg_len - 1] : NULL;
    if (buf_reserve(s, n) < 0)
        return NULL;
    if (!last || last->fd >= 0) {
        last = seg_push(s);
        if (!last)
            return NULL;
        *last = (out_seg){.fd = -1};
    }
    char *p = s->buf + s->buf_len;
    s->buf_len += n;
    last->len += n;
    s->queued += n;
    return p;
}

static int out_file(lux_h2_session *s, const lux_h2_piece *pc) {
    out_seg *g = seg_push(s);
    if (!g)
        return -1;
    *g = (out_seg){.len = pc->len, .fd = pc->fd, .off = pc->off, .hold = pc->hold};
    s->queued += pc->len;
    return 0;
}

static void release(lux_h2_session *s, void *hold) {
    if (hold && s->cb.release)
        s->cb.release(s->user, hold);
}

int lux_h2_out(lux_h2_session *s, struct iovec *iov, int max, int *fd, off_t *off, size_t *len) {
    *fd = -1;
    if (!s->seg_len || max < 1)
        return 0;
    const out_seg *g = &s->segs[s->seg_head];
    if (g->fd >= 0) {
        *fd = g->fd;
        *off = g->off;
        *len = g->len;
        return 0;
    }
    /* memory segments are contiguous in buf and never follow each other: one iovec */
    iov[0] = (struct iovec){s->buf + s->buf_off, g->len};
    return 1;
}

static void resume_out_blocked(lux_h2_session *s) {
    for (h2_stream *st = s->streams; st; st = st->next)
        if (st->out_blocked) {
            st->out_blocked = 0;
            nghttp2_session_resume_data(s->ng, st->id);
        }
}

void lux_h2_sent(lux_h2_session *s, size_t n) {
    while (n && s->seg_len) {
        out_seg *g = &s->segs[s->seg_head];
        size_t k = n < g->len ? n : g->len;
        g->len -= k;
        s->queued -= k;
        n -= k;
        if (g->fd < 0)
            s->buf_off += k;
        else
            g->off += (off_t)k;
        if (g->len == 0) {
            if (g->fd >= 0)
                release(s, g->hold);
            s->seg_head++;
            s->seg_len--;
        }
    }
    if (!s->seg_len) {
        s->seg_head = 0;
        s->buf_off = s->buf_len = 0;
        if (s->buf_cap > OUT_KEEP) {
            s->buf_last_cap = s->buf_cap;
            free(s->buf);
            s->buf = NULL;
            s->buf_cap = 0;
        }
    }
    if (s->queued < OUT_HIGH / 2)
        resume_out_blocked(s);
}

size_t lux_h2_queued(const lux_h2_session *s) {
    return s->queued;
}

/* ---- streams ---- */

static h2_stream **slot_of(lux_h2_session *s, int32_t id) {
    return &s->slot[((uint32_t)id >> 1) % STREAM_SLOTS];
}

/* The codec's state of stream id, NULL once it closed (or before it opened). nghttp2's own
 * lookup is a hash map behind a library call; streams are few and their slot almost always
 * names them. */
static h2_stream *stream_of(lux_h2_session *s, int32_t id) {
    h2_stream *st = *slot_of(s, id);
    if (st && st->id == id)
        return st;
    for (st = s->streams; st; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

/* A stream's state and its head buffers come from the session's block cache (h2_mem.c), as
 * nghttp2's own do: a request costs them a malloc and a free each otherwise. */
static h2_stream *stream_new(lux_h2_session *s, int32_t id) {
    h2_stream *st = lux_h2_mem_calloc(1, sizeof *st, &s->mem);
    if (!st)
        return NULL;
    st->id = id;
    st->content_length = -1;
    st->urgency = NGHTTP2_EXTPRI_DEFAULT_URGENCY;
    *slot_of(s, id) = st;
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    s->nstreams++;
    return st;
}

static void head_free(lux_h2_session *s, h2_stream *st) {
    lux_h2_mem_free(st->hbuf, &s->mem);
    lux_h2_mem_free(st->spans, &s->mem);
    st->hbuf = NULL;
    st->spans = NULL;
    st->hlen = st->hcap = st->nspans = st->spans_cap = 0;
}

static void stream_free(lux_h2_session *s, h2_stream *st) {
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    s->nstreams--;
    if (*slot_of(s, st->id) == st)
        *slot_of(s, st->id) = NULL;
    if (s->decoding == st)
        s->decoding = NULL;
    head_free(s, st);
    lux_h2_mem_free(st, &s->mem);
}

/* Room for `need` more bytes in the head buffer; -1 when out of memory. */
static int head_reserve(lux_h2_session *s, h2_stream *st, size_t need) {
    if (st->hlen + need <= st->hcap)
        return 0;
    size_t cap = st->hcap ? st->hcap : 512;
    while (cap < st->hlen + need)
        cap *= 2;
    char *nb = lux_h2_mem_realloc(st->hbuf, cap, &s->mem);
    if (!nb)
        return -1;
    st->hbuf = nb;
    st->hcap = cap;
    return 0;
}

/* Copy len bytes and a NUL into the head buffer, which has room for them; where they are. */
static head_span head_put(h2_stream *st, const uint8_t *p, size_t len) {
    size_t at = st->hlen;
    memcpy(st->hbuf + at, p, len);
    st->hbuf[at + len] = '\0';
    st->hlen += len + 1;
    return (head_span){at + 1, len};
}

static int head_field(lux_h2_session *s, h2_stream *st, const uint8_t *name, size_t nlen,
                      const uint8_t *value, size_t vlen) {
    if (st->nspans + 2 > st->spans_cap) {
        size_t cap = st->spans_cap ? st->spans_cap * 2 : 16;
        head_span *ns = lux_h2_mem_realloc(st->spans, cap * sizeof *ns, &s->mem);
        if (!ns)
            return -1;
        st->spans = ns;
        st->spans_cap = cap;
    }
    if (head_reserve(s, st, nlen + vlen + 2) < 0)
        return -1;
    st->spans[st->nspans++] = head_put(st, name, nlen);
    st->spans[st->nspans++] = head_put(st, value, vlen);
    return 0;
}

/* The pseudo-header's slot in h2_stream.pseudo, -1 for any other name. Told apart by length
 * first: every request carries four of them. */
static int pseudo_index(const uint8_t *name, size_t len) {
    switch (len) {
    case 5:
        return memcmp(name, ":path", 5) == 0 ? 3 : -1;
    case 7:
        return memcmp(name, ":method", 7) == 0 ? 0 : memcmp(name, ":scheme", 7) == 0 ? 1 : -1;
    case 9:
        return memcmp(name, ":protocol", 9) == 0 ? 4 : -1;
    case 10:
        return memcmp(name, ":authority", 10) == 0 ? 2 : -1;
    default:
        return -1;
    }
}

static lux_str head_str(const h2_stream *st, head_span sp) {
    return sp.at ? (lux_str){st->hbuf + sp.at - 1, sp.len} : (lux_str){NULL, 0};
}

/* The complete head goes up; the stream is refused when the user does not take it. */
static void deliver_request(lux_h2_session *s, h2_stream *st, int end_stream) {
    size_t nf = st->nspans / 2;
    lux_header on_stack[FIELDS_ON_STACK];
    lux_header *fields = nf <= FIELDS_ON_STACK ? on_stack : calloc(nf, sizeof *fields);
    if (!fields) {
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    for (size_t i = 0; i < nf; i++) {
        fields[i].name = head_str(st, st->spans[2 * i]);
        fields[i].value = head_str(st, st->spans[2 * i + 1]);
    }
    lux_h2_request req = {
        .method = head_str(st, st->pseudo[0]),
        .scheme = head_str(st, st->pseudo[1]),
        .authority = head_str(st, st->pseudo[2]),
        .path = head_str(st, st->pseudo[3]),
        .protocol = head_str(st, st->pseudo[4]),
        .fields = fields,
        .nfields = nf,
        .too_large = st->too_large,
        .end_stream = end_stream,
    };
    st->requested = 1;
    st->ended = end_stream;
    st->user = s->cb.on_request(s->user, st->id, &req);
    if (fields != on_stack)
        free(fields);
    lux_h2_mem_free(st->spans, &s->mem);
    st->spans = NULL;
    st->nspans = st->spans_cap = 0;
    if (st->hcap > HEAD_KEEP)
        head_free(s, st);
    st->hlen = 0; /* the buffer is the response's names' now */
    if (!st->user)
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_REFUSED_STREAM);
    else if (end_stream)
        s->cb.on_end(s->user, st->user);
}

/* ---- nghttp2 callbacks ---- */

static ssize_t send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *arg) {
    lux_h2_session *s = arg;
    char *p = out_mem(s, len);
    if (!p)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    memcpy(p, data, len);
    return (ssize_t)len;
}

static ssize_t read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t max, uint32_t *flags,
                       nghttp2_data_source *src, void *arg) {
    lux_h2_session *s = arg;
    h2_stream *st = src->ptr; /* lux_h2_submit_response's: nghttp2 drops it with the stream */
    if (!st || !st->user)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (s->queued >= OUT_HIGH) {
        st->out_blocked = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    lux_h2_piece pc = {.fd = -1};
    int rc = s->cb.body(s->user, st->user, max, &pc);
    if (rc == LUX_H2_BODY_DEFERRED) {
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (rc == LUX_H2_BODY_ABORT || pc.len > max) {
        release(s, pc.hold);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    release(s, s->piece.hold); /* a piece whose frame was never sent (cannot normally happen) */
    s->piece = pc;
    s->piece_stream = id;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (rc == LUX_H2_BODY_LAST) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        st->responding = 0;
    }
    return (ssize_t)pc.len;
}

/* Read a file range straight into the output queue (for a transport that needs bytes). */
static int pread_into_queue(lux_h2_session *s, const lux_h2_piece *pc) {
    char *p = out_mem(s, pc->len);
    if (!p)
        return -1;
    size_t got = 0;
    while (got < pc->len) {
        ssize_t n = pread(pc->fd, p + got, pc->len - got, pc->off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* the file shrank or failed: the frame cannot be completed */
        got += (size_t)n;
    }
    return 0;
}

static int send_data_cb(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *src, void *arg) {
    lux_h2_session *s = arg;
    h2_stream *st = stream_of(s, frame->hd.stream_id);
    lux_h2_piece pc = s->piece;
    s->piece = (lux_h2_piece){.fd = -1};
    s->piece_stream = 0;
    /* bytes in memory go out behind the frame header in one piece of the queue */
    size_t inline_len = pc.mem ? length : 0;
    char *hd = out_mem(s, 9 + inline_len);
    int rc = hd ? 0 : -1;
    if (hd) {
        memcpy(hd, framehd, 9);
        if (inline_len)
            memcpy(hd + 9, pc.mem, inline_len);
    }
    if (rc == 0 && length && !pc.mem) {
        if (s->lim.file_inline) {
            rc = pread_into_queue(s, &pc);
        } else {
            rc = out_file(s, &pc);
            if (rc == 0)
                pc.hold = NULL; /* the queue holds it now */
        }
    }
    release(s, pc.hold);
    if (rc == 0 && length && st && st->user)
        s->cb.framed(s->user, st->user, length);
    return rc == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

/*
 * Frames that cost the server work and carry no request (SETTINGS, PING, PRIORITY, DATA with
 * no bytes and no END_STREAM, unknown types): the SETTINGS / PING / empty-frame / PRIORITY
 * floods (CVE-2019-9515, -9512, -9518, and the 2019 priority-churn attacks). nghttp2 bounds
 * the ACKs it queues (max_outbound_ack) but not the rate of what it reads: count it here.
 */
static int is_control_chatter(const nghttp2_frame_hd *hd) {
    switch (hd->type) {
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PING:
        return !(hd->flags & NGHTTP2_FLAG_ACK);
    case NGHTTP2_PRIORITY:
        return 1;
    case NGHTTP2_DATA:
        return hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM);
    case NGHTTP2_HEADERS:
    case NGHTTP2_RST_STREAM:
    case NGHTTP2_PUSH_PROMISE:
    case NGHTTP2_GOAWAY:
    case NGHTTP2_WINDOW_UPDATE:
    case NGHTTP2_CONTINUATION:
        return 0;
    default:
        return 1; /* unknown and extension frames: ignored, but read */
    }
}

/* A protocol error nghttp2 lets pass: the connection ends with PROTOCOL_ERROR. */
static void protocol_error(lux_h2_session *s) {
    if (s->dead)
        return;
    s->dead = 1;
    nghttp2_session_terminate_session(s->ng, NGHTTP2_PROTOCOL_ERROR);
}

/*
 * Two checks RFC 9113 asks for that nghttp2 1.52 leaves out: a PRIORITY frame on stream 0
 * (6.3; ignored with RFC 9218 priorities), and a HEADERS frame that opens no stream on an
 * identifier at or below the highest one used (5.1.1; nghttp2 ignores it). As in nginx, a
 * HEADERS on a stream that is not open and not new is that error: trailers arrive while their
 * stream is still open.
 */
static int breaks_stream_rules(lux_h2_session *s, const nghttp2_frame_hd *hd) {
    if (hd->type == NGHTTP2_PRIORITY)
        return hd->stream_id == 0;
    if (hd->type != NGHTTP2_HEADERS || hd->stream_id == 0 || !(hd->stream_id & 1))
        return 0; /* nghttp2 answers these itself */
    if (hd->stream_id > s->last_headers_id) {
        s->last_headers_id = hd->stream_id;
        return 0;
    }
    return stream_of(s, hd->stream_id) == NULL;
}

static int begin_frame_cb(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *arg) {
    lux_h2_session *s = arg;
    if (breaks_stream_rules(s, hd))
        protocol_error(s);
    else if (is_control_chatter(hd) && bucket_take(&s->control, s->now_ms) < 0)
        calm_down(s);
    return 0;
}

static int begin_headers_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *arg) {
    lux_h2_session *s = arg;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        /* trailers: their fields are counted and dropped */
        s->decoding = stream_of(s, frame->hd.stream_id);
        return 0;
    }
    h2_stream *st = stream_new(s, frame->hd.stream_id);
    s->decoding = st;
    return st ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

/* The stream a field of this header block belongs to. */
static h2_stream *decoding_stream(lux_h2_session *s, const nghttp2_frame *frame) {
    h2_stream *st = s->decoding;
    return st && st->id == frame->hd.stream_id ? st : stream_of(s, frame->hd.stream_id);
}

/* ---- the request's fields (RFC 9113 8.2, 8.3) ----
 *
 * nghttp2's HTTP messaging is off (make_options): it checked every field once more beside
 * lux's own pass. Its rules are kept here: a request that breaks one is malformed, its stream
 * reset with PROTOCOL_ERROR and never delivered (a reset that counts as the client's, see
 * counts_as_client_reset). */

/* The stream is malformed: reset once. */
static void malformed(lux_h2_session *s, h2_stream *st) {
    if (st->malformed)
        return;
    st->malformed = 1;
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_PROTOCOL_ERROR);
}

/* A pseudo-header field of the head: known, once, before every regular field, its value
 * well-formed for what it names. 0 or -1 (malformed). */
static int pseudo_ok(const h2_stream *st, int pi, const uint8_t *v, size_t vlen) {
    if (pi < 0 || st->regular || st->pseudo[pi].at)
        return -1;
    switch (pi) {
    case 0:
        return lux_h2_method_ok(v, vlen) ? 0 : -1;
    case 2:
        return lux_h2_authority_ok(v, vlen) ? 0 : -1;
    case 3:
        return lux_h2_path_ok(v, vlen) ? 0 : -1;
    default:
        return lux_h2_value_ok(v, vlen) ? 0 : -1;
    }
}

/* A regular field of the head or the trailers. 0 or -1 (malformed). */
static int regular_ok(h2_stream *st, const uint8_t *name, size_t nlen, const uint8_t *v,
                      size_t vlen) {
    if (!lux_h2_name_ok(name, nlen) || !lux_h2_value_ok(v, vlen))
        return -1;
    switch (lux_h2_field_kind(name, nlen)) {
    case LUX_H2_FIELD_FORBIDDEN:
        return -1;
    case LUX_H2_FIELD_TE:
        return vlen == 8 && strncasecmp((const char *)v, "trailers", 8) == 0 ? 0 : -1;
    case LUX_H2_FIELD_HOST:
        return lux_h2_authority_ok(v, vlen) ? 0 : -1;
    case LUX_H2_FIELD_PRIORITY:
        /* one that does not parse is ignored, as RFC 9218 4 asks */
        if (lux_h2_parse_priority(v, vlen, &st->urgency, &st->incremental) == 0)
            st->prioritised = 1;
        return 0;
    case LUX_H2_FIELD_CONTENT_LENGTH:
        if (st->content_length >= 0)
            return -1;
        st->content_length = lux_h2_content_length(v, vlen);
        return st->content_length >= 0 ? 0 : -1;
    default:
        return 0;
    }
}

/* One field of a stream's head or trailers, checked; a head's is kept. 0, or an nghttp2 error
 * when out of memory. */
static int take_field(lux_h2_session *s, h2_stream *st, int trailer, const uint8_t *name,
                      size_t nlen, const uint8_t *value, size_t vlen) {
    if (nlen && name[0] == ':') {
        int pi = trailer ? -1 : pseudo_index(name, nlen);
        if (pseudo_ok(st, pi, value, vlen) < 0) {
            malformed(s, st);
            return 0;
        }
        if (head_reserve(s, st, vlen + 1) < 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        st->pseudo[pi] = head_put(st, value, vlen);
        return 0;
    }
    st->regular = 1;
    if (regular_ok(st, name, nlen, value, vlen) < 0) {
        malformed(s, st);
        return 0;
    }
    if (trailer)
        return 0; /* trailers are checked and dropped */
    return head_field(s, st, name, nlen, value, vlen) < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
                                                          : 0;
}

static int is_connect(const h2_stream *st) {
    return st->pseudo[0].len == 7 && memcmp(st->hbuf + st->pseudo[0].at - 1, "CONNECT", 7) == 0;
}

/* The complete head names what a request must (RFC 9113 8.3.1, 8.5; RFC 8441 4): :method;
 * :scheme and :path, except for a CONNECT, which names :authority alone; :protocol only on a
 * CONNECT, which then names all four. A head that ends the stream announces no body. */
static int head_complete(const h2_stream *st, int end_stream) {
    const head_span *p = st->pseudo;
    if (!p[0].at || (end_stream && st->content_length > 0))
        return 0;
    if (!is_connect(st))
        return p[1].at && p[3].at && !p[4].at;
    if (p[4].at)
        return p[1].at && p[2].at && p[3].at;
    return p[2].at && !p[1].at && !p[3].at;
}

/* The urgency and incremental flag the head asked for (RFC 9218): nghttp2's scheduler serves
 * streams of one urgency in turn when incremental, one after the other otherwise. */
static void apply_priority(lux_h2_session *s, const h2_stream *st) {
    if (!st->prioritised)
        return;
    nghttp2_extpri pri = {.urgency = st->urgency, .inc = st->incremental};
    nghttp2_session_change_extpri_stream_priority(s->ng, st->id, &pri, 0);
}

/* The request body ended (END_STREAM on DATA or trailers): as long as it said it would be. */
static int body_length_ok(const h2_stream *st) {
    return st->content_length < 0 || st->data_len == (uint64_t)st->content_length;
}

/*
 * Fields are counted as RFC 7541 sizes them (name + value + 32) against max_header_list
 * (server.max-request-field-size, as lighttpd bounds a whole head). Past it the request is
 * answered 431 and its fields are dropped, but the block is still decoded (HPACK state is
 * shared by the connection). A block that decodes to many times the bound is an HPACK bomb:
 * the connection ends.
 */
static int header_cb(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg) {
    lux_h2_session *s = arg;
    h2_stream *st = decoding_stream(s, frame);
    if (!st)
        return 0;
    st->header_bytes += nlen + vlen + 32;
    if (st->header_bytes > (size_t)s->lim.max_header_list * HEADER_BOMB_FACTOR) {
        calm_down(s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (st->header_bytes > s->lim.max_header_list)
        st->too_large = 1;
    int trailer = frame->headers.cat != NGHTTP2_HCAT_REQUEST;
    if (st->malformed || (st->too_large && !trailer))
        return 0;
    return take_field(s, st, trailer, name, nlen, value, vlen);
}

/* Rapid Reset (CVE-2023-44487): a client that opens streams and resets them at once makes the
 * server start work it never finishes. Every RST_STREAM it sends takes a token. */
static int frame_recv_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *arg) {
    lux_h2_session *s = arg;
    int32_t id = frame->hd.stream_id;
    h2_stream *st;
    int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        st = decoding_stream(s, frame); /* the block just decoded */
        if (!st)
            break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            if (!st->too_large && !st->malformed && !head_complete(st, end))
                malformed(s, st);
            if (!st->malformed)
                apply_priority(s, st);
            if (!st->malformed)
                deliver_request(s, st, end);
            break;
        }
        /* trailers end the request (RFC 9113 8.1) */
        if (!end || !body_length_ok(st))
            malformed(s, st);
        if (st->malformed)
            break;
        st->ended = 1;
        if (st->user)
            s->cb.on_end(s->user, st->user);
        break;
    case NGHTTP2_DATA:
        st = stream_of(s, id);
        if (!st || st->malformed)
            break;
        if (end && !body_length_ok(st)) {
            malformed(s, st);
            break;
        }
        st->ended |= end;
        if (st->user && end)
            s->cb.on_end(s->user, st->user);
        break;
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            s->acked = 1;
        break;
    case NGHTTP2_RST_STREAM:
        if (bucket_take(&s->resets, s->now_ms) < 0)
            calm_down(s);
        break;
    default:
        break;
    }
    return 0;
}

static int data_chunk_cb(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *arg) {
    lux_h2_session *s = arg;
    h2_stream *st = stream_of(s, id);
    /* The connection window reopens at once: each stream's own window bounds what it holds. */
    nghttp2_session_consume_connection(ng, len);
    if (st && !st->malformed) {
        st->data_len += len;
        if (st->content_length >= 0 && st->data_len > (uint64_t)st->content_length)
            malformed(s, st); /* more than it announced (RFC 9113 8.1.1) */
    }
    if (st && st->user && !st->malformed)
        s->cb.on_data(s->user, st->user, data, len);
    else
        nghttp2_session_consume_stream(ng, id, len);
    return 0;
}

/*
 * MadeYouReset (CVE-2025-8671): a client can make the server reset streams (a bad WINDOW_UPDATE,
 * DATA past the window, malformed fields) instead of resetting them itself; the server still
 * did the work. Those resets take a token from the same bucket as the client's own.
 */
static int counts_as_client_reset(uint32_t error) {
    return error != NGHTTP2_NO_ERROR && error != NGHTTP2_CANCEL && error != NGHTTP2_INTERNAL_ERROR;
}

/* The response is complete while the request body still comes: ask the client to stop
 * sending it, without error (RFC 9113 8.1); nobody will read it. */
static void stop_request_body(lux_h2_session *s, const nghttp2_frame *frame) {
    if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return;
    h2_stream *st = stream_of(s, frame->hd.stream_id);
    if (st && !st->ended && !st->tunnel)
        nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
}

static int frame_send_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *arg) {
    lux_h2_session *s = arg;
    stop_request_body(s, frame);
    if (frame->hd.type == NGHTTP2_RST_STREAM &&
        counts_as_client_reset(frame->rst_stream.error_code) &&
        bucket_take(&s->resets, s->now_ms) < 0)
        calm_down(s);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
        s->goaway_error = (int)frame->goaway.error_code;
    else if (frame->hd.type == NGHTTP2_GOAWAY && s->goaway_error < 0)
        s->goaway_error = 0;
    return 0;
}

static int stream_close_cb(nghttp2_session *ng, int32_t id, uint32_t error, void *arg) {
    lux_h2_session *s = arg;
    h2_stream *st = stream_of(s, id);
    if (s->piece_stream == id) {
        release(s, s->piece.hold);
        s->piece = (lux_h2_piece){.fd = -1};
        s->piece_stream = 0;
    }
    if (!st)
        return 0;
    if (st->user)
        s->cb.on_close(s->user, st->user, error);
    stream_free(s, st);
    return 0;
}

/* ---- the session ---- */

static nghttp2_session_callbacks *make_callbacks(void) {
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return NULL;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, begin_frame_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, frame_send_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
    return cbs;
}

static nghttp2_option *make_options(const lux_h2_limits *l) {
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0)
        return NULL;
    /* request body windows reopen only as the request core takes the bytes */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    /* CONTINUATION flood (CVE-2024-27316 and kin): a header block in at most this many */
    nghttp2_option_set_max_continuations(opt, MAX_CONTINUATIONS);
    /* SETTINGS with many entries, and ACKs piling up unread (CVE-2019-9515, -9512) */
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    /* memory of the response header encoder, whatever table size the client allows */
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    /* nghttp2's own rapid-reset limiter backs lux's bucket (which trips first) */
    nghttp2_option_set_stream_reset_rate_limit(opt, (uint64_t)l->reset_burst * 2,
                                               (uint64_t)l->reset_rate * 2 + 1);
    /* closed streams kept for the priority tree are memory a client can make us hold */
    nghttp2_option_set_no_closed_streams(opt, 1);
    /* the request's fields are checked once, by header_cb (RFC 9113 8.2, 8.3) */
    nghttp2_option_set_no_http_messaging(opt, 1);
    return opt;
}

static int submit_settings(lux_h2_session *s) {
    const lux_h2_limits *l = &s->lim;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, l->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, l->stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, l->max_header_list},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
        /* RFC 8441: WebSockets over streams (extended CONNECT with :protocol) */
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof *iv) != 0)
        return -1;
    /* the connection window starts at 65535 whatever SETTINGS say: raise it */
    if (l->connection_window > 65535 &&
        nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)l->connection_window) != 0)
        return -1;
    return 0;
}

lux_h2_session *lux_h2_session_new(const lux_h2_limits *limits, const lux_h2_callbacks *cb,
                                   void *user, const uint8_t *upgrade_settings, size_t upgrade_len,
                                   int upgrade_head_request) {
    lux_h2_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lim = *limits;
    s->cb = *cb;
    s->user = user;
    s->goaway_error = -1;
    s->piece.fd = -1;
    s->frame_left = LUX_H2_PREFACE_LEN;
    bucket_init(&s->resets, limits->reset_burst, limits->reset_rate);
    bucket_init(&s->control, limits->control_burst, limits->control_rate);
    nghttp2_session_callbacks *cbs = make_callbacks();
    nghttp2_option *opt = make_options(limits);
    nghttp2_mem mem = {&s->mem, lux_h2_mem_malloc, lux_h2_mem_free, lux_h2_mem_calloc,
                       lux_h2_mem_realloc};
    int rc = cbs && opt ? nghttp2_session_server_new3(&s->ng, cbs, s, opt, &mem) : -1;
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rc != 0) {
        lux_h2_mem_trim(&s->mem);
        free(s);
        return NULL;
    }
    if (upgrade_settings) {
        h2_stream *st = stream_new(s, 1);
        if (!st || nghttp2_session_upgrade2(s->ng, upgrade_settings, upgrade_len,
                                            upgrade_head_request, NULL) != 0) {
            lux_h2_session_free(s);
            return NULL;
        }
        st->ended = 1; /* the upgraded request came whole over HTTP/1.1 */
        st->requested = 1;
    }
    if (submit_settings(s) < 0) {
        lux_h2_session_free(s);
        return NULL;
    }
    return s;
}

void lux_h2_set_stream(lux_h2_session *s, int32_t id, void *stream) {
    h2_stream *st = stream_of(s, id);
    if (st)
        st->user = stream;
}

void lux_h2_session_free(lux_h2_session *s) {
    if (!s)
        return;
    /* Streams still open close now (on_close with CANCEL) so that their users let go. */
    while (s->streams) {
        h2_stream *st = s->streams;
        if (st->user)
            s->cb.on_close(s->user, st->user, NGHTTP2_CANCEL);
        stream_free(s, st);
    }
    release(s, s->piece.hold);
    for (size_t i = 0; i < s->seg_len; i++)
        if (s->segs[s->seg_head + i].fd >= 0)
            release(s, s->segs[s->seg_head + i].hold);
    nghttp2_session_del(s->ng);
    lux_h2_mem_trim(&s->mem);
    free(s->buf);
    free(s->segs);
    free(s);
}

/*
 * Until the client has seen (and acknowledged) SETTINGS_MAX_CONCURRENT_STREAMS it assumes a
 * larger limit (nghttp2 and browsers start with 100), and a first flight of requests may open
 * more streams than the server allows. Rather than refuse them (nghttp2 answers REFUSED_STREAM,
 * which many clients do not retry), the input is fed one frame at a time and stops in front of
 * a HEADERS frame while the limit is reached: the rest waits until a stream ends. Only while
 * every open stream's request is complete, so that a request body behind the HEADERS cannot
 * hold the streams that wait for it. Once the client acknowledged, nghttp2's rule applies to a
 * client that breaks the limit: PROTOCOL_ERROR.
 */
static int at_stream_limit(const lux_h2_session *s) {
    if (s->nstreams < s->lim.max_concurrent_streams)
        return 0;
    for (const h2_stream *st = s->streams; st; st = st->next)
        if (!st->ended)
            return 0;
    return 1;
}

/* How many bytes from p (len) make up whole frames (or the preface) that may be fed now, at
 * most one frame; 0: wait (a frame header not complete yet, or a HEADERS at the limit). The
 * frame header is only looked at for its length and type: nghttp2 reads it for real. */
static size_t next_frame(lux_h2_session *s, const uint8_t *p, size_t len) {
    if (!s->frame_left) {
        if (len < 9)
            return 0;
        if (p[3] == NGHTTP2_HEADERS && at_stream_limit(s))
            return 0;
        s->frame_left = 9 + ((size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]);
    }
    size_t n = len < s->frame_left ? len : s->frame_left;
    s->frame_left -= n;
    return n;
}

static int recv_some(lux_h2_session *s, const uint8_t *p, size_t len) {
    ssize_t n = nghttp2_session_mem_recv(s->ng, p, len);
    if (n >= 0)
        return 0;
    /* floods nghttp2 detects itself are answered like lux's own */
    uint32_t code = n == NGHTTP2_ERR_FLOODED || n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                        ? NGHTTP2_ENHANCE_YOUR_CALM
                        : NGHTTP2_PROTOCOL_ERROR;
    if (!s->dead)
        nghttp2_session_terminate_session(s->ng, code);
    s->dead = 1;
    return -1;
}

ssize_t lux_h2_recv(lux_h2_session *s, const uint8_t *p, size_t len, int64_t now_ms) {
    s->now_ms = now_ms;
    size_t done = 0;
    while (!s->dead && done < len) {
        size_t n = s->acked ? len - done : next_frame(s, p + done, len - done);
        if (!n || recv_some(s, p + done, n) < 0)
            break;
        done += n;
    }
    return s->dead ? -1 : (ssize_t)done;
}

void lux_h2_produce(lux_h2_session *s) {
    if (nghttp2_session_send(s->ng) != 0)
        s->dead = 1;
}

/* Eight bytes lowered at once: the ASCII upper-case letters gain 0x20, no other byte changes. */
static uint64_t lower8(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u;
    uint64_t ascii = ~w & 0x80 * ones;
    uint64_t low7 = w & 0x7f * ones;
    uint64_t from_a = low7 + (0x80 - 'A') * ones; /* high bit: the byte is 'A' or above */
    uint64_t past_z = low7 + (0x7f - 'Z') * ones; /* high bit: the byte is above 'Z' */
    return w | (ascii & from_a & ~past_z) >> 2;
}

static void lower_word8(char *dst, const char *src) {
    uint64_t w;
    memcpy(&w, src, 8);
    w = lower8(w);
    memcpy(dst, &w, 8);
}

static void lower_word4(char *dst, const char *src) {
    uint32_t w;
    memcpy(&w, src, 4);
    w = (uint32_t)lower8(w);
    memcpy(dst, &w, 4);
}

/* A name lowered into dst in whole words: the last word overlaps the one before it rather than
 * going a byte at a time (names are short: most take one or two words). */
static void lower_copy(char *dst, const char *src, size_t len) {
    if (len >= 8) {
        for (size_t i = 0; i + 8 < len; i += 8)
            lower_word8(dst + i, src + i);
        lower_word8(dst + len - 8, src + len - 8);
    } else if (len >= 4) {
        lower_word4(dst, src);
        lower_word4(dst + len - 4, src + len - 4);
    } else {
        for (size_t i = 0; i < len; i++)
            dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] | 0x20 : src[i]);
    }
}

/* Room for the response's names in the stream's head buffer, which the request no longer
 * uses (deliver_request emptied it). -1 when out of memory or when the stream was answered
 * before. */
static int names_room(lux_h2_session *s, h2_stream *st, const lux_header *h, size_t n) {
    if (st->named)
        return -1;
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += h[i].name.len + 1;
    st->hlen = 0;
    return head_reserve(s, st, need);
}

int lux_h2_submit_response(lux_h2_session *s, int32_t id, int status, const lux_header *h, size_t n,
                           const lux_header *lowered, size_t nlowered, int end_stream) {
    h2_stream *st = stream_of(s, id);
    if (!st || names_room(s, st, h, n) < 0)
        return -1;
    size_t total = 1 + n + nlowered;
    nghttp2_nv on_stack[FIELDS_ON_STACK];
    nghttp2_nv *nv = total <= FIELDS_ON_STACK ? on_stack : calloc(total, sizeof *nv);
    if (!nv)
        return -1;
    char code[4];
    code[0] = (char)('0' + status / 100 % 10);
    code[1] = (char)('0' + status / 10 % 10);
    code[2] = (char)('0' + status % 10);
    code[3] = '\0';
    const uint8_t no_copy = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NO_COPY_NAME};
    size_t k = 1;
    /* Names lowered into the stream's buffer (RFC 9113 8.2.1) go to nghttp2 as they are,
     * instead of being copied and lowered there a byte at a time; connection-specific fields
     * are left out (8.2.2). Names and values stay until the stream is freed: nghttp2 reads them
     * only to encode the HEADERS frame. */
    char *p = st->hbuf;
    for (size_t i = 0; i < n; i++) {
        size_t len = h[i].name.len;
        lower_copy(p, h[i].name.ptr, len);
        p[len] = '\0';
        if (lux_h2_field_kind((const uint8_t *)p, len) == LUX_H2_FIELD_FORBIDDEN)
            continue;
        nv[k++] =
            (nghttp2_nv){(uint8_t *)p, (uint8_t *)h[i].value.ptr, len, h[i].value.len, no_copy};
        p += len + 1;
    }
    st->hlen = n ? (size_t)(p - st->hbuf) : 0; /* hbuf may be NULL with no names */
    st->named = 1;
    for (size_t i = 0; i < nlowered; i++)
        nv[k++] = (nghttp2_nv){(uint8_t *)lowered[i].name.ptr, (uint8_t *)lowered[i].value.ptr,
                               lowered[i].name.len, lowered[i].value.len, no_copy};
    nghttp2_data_provider prd = {.source = {.ptr = st}, .read_callback = read_cb};
    st->responding = !end_stream;
    int rc = nghttp2_submit_response(s->ng, id, nv, k, end_stream ? NULL : &prd);
    if (nv != on_stack)
        free(nv);
    return rc == 0 ? 0 : -1;
}

void lux_h2_resume(lux_h2_session *s, int32_t id) {
    h2_stream *st = stream_of(s, id);
    if (st && st->deferred) {
        st->deferred = 0;
        nghttp2_session_resume_data(s->ng, id);
    }
}

void lux_h2_set_tunnel(lux_h2_session *s, int32_t id) {
    h2_stream *st = stream_of(s, id);
    if (st)
        st->tunnel = 1;
}

void lux_h2_reset(lux_h2_session *s, int32_t id, uint32_t error) {
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, id, error);
}

void lux_h2_consume(lux_h2_session *s, int32_t id, size_t n) {
    nghttp2_session_consume_stream(s->ng, id, n);
}

void lux_h2_goaway_graceful(lux_h2_session *s) {
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

void lux_h2_goaway(lux_h2_session *s, uint32_t error) {
    nghttp2_session_terminate_session(s->ng, error);
}

int lux_h2_alive(const lux_h2_session *s) {
    return nghttp2_session_want_read(s->ng) || nghttp2_session_want_write(s->ng) || s->queued > 0;
}

size_t lux_h2_streams(const lux_h2_session *s) {
    return s->nstreams;
}

int lux_h2_bodies_due(const lux_h2_session *s) {
    for (const h2_stream *st = s->streams; st; st = st->next)
        if (st->responding && st->deferred)
            return 1;
    return 0;
}

int lux_h2_window_stalled(const lux_h2_session *s) {
    int conn_closed = nghttp2_session_get_remote_window_size(s->ng) <= 0;
    for (const h2_stream *st = s->streams; st; st = st->next)
        if (st->responding && !st->deferred && !st->out_blocked &&
            (conn_closed || nghttp2_session_get_stream_remote_window_size(s->ng, st->id) <= 0))
            return 1;
    return 0;
}

int lux_h2_goaway_sent(const lux_h2_session *s) {
    return s->goaway_error;
}
