/*
 * The HTTP/2 codec against an nghttp2 client session in the same process, wired through
 * memory: requests in, responses out, flow control, and each flood defence triggered from the
 * client side (with hand-made frames where a well-behaved client library will not misbehave).
 */
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/h2/h2_session.h"
#include "t.h"

/* ---- the server side: a tiny application on the codec ---- */

typedef struct app_stream {
    int32_t id;
    const char *body; /* memory body, or NULL */
    int fd;           /* file body when >= 0 */
    size_t len, sent;
    size_t piece; /* largest piece handed out per call (0: as much as asked) */
    int defer;    /* answer DEFERRED until cleared */
    int closed;
    uint32_t close_error;
    size_t body_in; /* request body bytes received */
    int ended;
} app_stream;

typedef struct {
    lux_h2_session *s;
    app_stream st[1024];
    int n;
    char method[16], path[64], authority[64], field[64];
    int too_large;
    int respond; /* answer each request at once with `body` */
    const char *body;
    const char *resp_name; /* the response field's name (default content-type) */
    int resp_lowered;      /* the name is lower case already: submitted as the server's own */
    int file_fd;
    size_t file_len;
    int defer_all;
    int consume; /* give request body window back at once */
    size_t max_queued;
    int holds;
    uint8_t pend[1 << 16]; /* client bytes the codec did not take yet */
    size_t npend;
} app;

static void *on_request(void *user, int32_t id, const lux_h2_request *req) {
    app *a = user;
    if (a->n == 1024)
        return NULL;
    app_stream *st = &a->st[a->n++];
    *st = (app_stream){.id = id, .fd = -1};
    snprintf(a->method, sizeof a->method, "%s", req->method.ptr ? req->method.ptr : "");
    snprintf(a->path, sizeof a->path, "%s", req->path.ptr ? req->path.ptr : "");
    snprintf(a->authority, sizeof a->authority, "%s", req->authority.ptr ? req->authority.ptr : "");
    if (req->nfields)
        snprintf(a->field, sizeof a->field, "%s=%s", req->fields[0].name.ptr,
                 req->fields[0].value.ptr);
    a->too_large = req->too_large;
    st->defer = a->defer_all;
    if (a->file_fd >= 0) {
        st->fd = a->file_fd;
        st->len = a->file_len;
    } else {
        st->body = a->body;
        st->len = a->body ? strlen(a->body) : 0;
    }
    if (a->respond) {
        const char *name = a->resp_name ? a->resp_name : "content-type";
        lux_header h = {{name, strlen(name)}, {"text/plain", 10}};
        int status = req->too_large ? 431 : 200;
        if (a->resp_lowered)
            lux_h2_submit_response(a->s, id, status, NULL, 0, &h, 1, 0);
        else
            lux_h2_submit_response(a->s, id, status, &h, 1, NULL, 0, 0);
    }
    return st;
}

static void on_data(void *user, void *stream, const uint8_t *p, size_t len) {
    app *a = user;
    app_stream *st = stream;
    st->body_in += len;
    if (a->consume)
        lux_h2_consume(a->s, st->id, len);
}

static void on_end(void *user, void *stream) {
    ((app_stream *)stream)->ended = 1;
}

static void on_close(void *user, void *stream, uint32_t error) {
    app_stream *st = stream;
    st->closed = 1;
    st->close_error = error;
}

static int body(void *user, void *stream, size_t max, lux_h2_piece *pc) {
    app *a = user;
    app_stream *st = stream;
    if (st->defer)
        return LUX_H2_BODY_DEFERRED;
    size_t n = st->len - st->sent;
    if (n > max)
        n = max;
    if (st->piece && n > st->piece)
        n = st->piece;
    if (st->fd >= 0) {
        pc->fd = st->fd;
        pc->off = (off_t)st->sent;
        pc->hold = &a->holds;
        a->holds++;
    } else {
        pc->mem = st->body + st->sent;
    }
    pc->len = n;
    st->sent += n;
    return st->sent == st->len ? LUX_H2_BODY_LAST : LUX_H2_BODY_PIECE;
}

static void framed(void *user, void *stream, size_t len) {}

static void release(void *user, void *hold) {
    (*(int *)hold)--;
}

static const lux_h2_callbacks app_cb = {on_request, on_data, on_end, on_close,
                                        body,       framed,  release};

static void app_init(app *a, const lux_h2_limits *lim) {
    memset(a, 0, sizeof *a);
    a->file_fd = -1;
    a->consume = 1;
    lux_h2_limits def;
    lux_h2_limits_default(&def);
    a->s = lux_h2_session_new(lim ? lim : &def, &app_cb, a, NULL, 0, 0);
}

/* Client bytes in: what the codec does not take now waits for the next call, as a connection
 * keeps it. -1 once the session is over. */
static int feed(app *a, const uint8_t *p, size_t n, int64_t now) {
    if (n && a->npend + n <= sizeof a->pend) {
        memcpy(a->pend + a->npend, p, n);
        a->npend += n;
    }
    ssize_t took = lux_h2_recv(a->s, a->pend, a->npend, now);
    if (took < 0)
        return -1;
    memmove(a->pend, a->pend + took, a->npend - (size_t)took);
    a->npend -= (size_t)took;
    return 0;
}

/* Everything the server queued, as bytes (file ranges read), and the queue emptied. */
static size_t drain_server(app *a, uint8_t **out) {
    size_t len = 0, cap = 0;
    *out = NULL;
    lux_h2_produce(a->s);
    for (;;) {
        if (lux_h2_queued(a->s) > a->max_queued)
            a->max_queued = lux_h2_queued(a->s);
        struct iovec iov[4];
        int fd;
        off_t off;
        size_t flen;
        int n = lux_h2_out(a->s, iov, 4, &fd, &off, &flen);
        size_t add = n > 0 ? iov[0].iov_len : fd >= 0 ? flen : 0;
        if (!add) {
            lux_h2_produce(a->s);
            if (!lux_h2_queued(a->s))
                break;
            continue;
        }
        if (len + add > cap) {
            cap = (len + add) * 2;
            *out = realloc(*out, cap);
        }
        if (n > 0)
            memcpy(*out + len, iov[0].iov_base, add);
        else if (pread(fd, *out + len, add, off) != (ssize_t)add)
            break;
        len += add;
        lux_h2_sent(a->s, add);
    }
    return len;
}

/* ---- the client side ---- */

typedef struct {
    nghttp2_session *ng;
    int status[1024];
    char field[64]; /* the first regular response field: "name=value" */
    size_t got[1024];
    char data[1024][256];
    uint32_t rst[1024];
    int closed[1024];
    int goaway; /* error code + 1 */
    int32_t order[4096];
    int norder;
} client;

static int c_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                    const uint8_t *value, size_t vl, uint8_t flags, void *arg) {
    client *c = arg;
    if (nl == 7 && memcmp(name, ":status", 7) == 0 && f->hd.stream_id < 2048)
        c->status[f->hd.stream_id / 2] = atoi((const char *)value);
    else if (nl && name[0] != ':' && !c->field[0])
        snprintf(c->field, sizeof c->field, "%.*s=%.*s", (int)nl, name, (int)vl, value);
    return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                  void *arg) {
    client *c = arg;
    int i = id / 2;
    if (id >= 2048)
        return 0;
    if (c->got[i] + len < sizeof c->data[i])
        memcpy(c->data[i] + c->got[i], d, len);
    c->got[i] += len;
    if (c->norder < 4096)
        c->order[c->norder++] = id;
    return 0;
}

static int c_close(nghttp2_session *ng, int32_t id, uint32_t error, void *arg) {
    client *c = arg;
    if (id >= 2048)
        return 0;
    c->closed[id / 2] = 1;
    c->rst[id / 2] = error;
    return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *arg) {
    client *c = arg;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->goaway = (int)f->goaway.error_code + 1;
    return 0;
}

static void client_init(client *c, const nghttp2_settings_entry *iv, size_t niv) {
    memset(c, 0, sizeof *c);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, c_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, c_frame);
    nghttp2_session_client_new(&c->ng, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, niv);
}

#define NV(n, v)                                                                                   \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static int32_t get(client *c, const char *path) {
    nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "https"), NV(":path", path),
                       NV(":authority", "example.org"), NV("x-test", "yes")};
    return nghttp2_submit_request(c->ng, NULL, nv, 5, NULL, NULL);
}

/* A request whose response may share the connection with others frame by frame (RFC 9218
 * incremental); without it responses of equal urgency go one after the other. */
static int32_t get_incremental(client *c, const char *path) {
    nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "https"), NV(":path", path),
                       NV(":authority", "example.org"), NV("priority", "u=3, i")};
    return nghttp2_submit_request(c->ng, NULL, nv, 5, NULL, NULL);
}

/* Move bytes both ways until neither side has anything to say. Returns the server's last
 * lux_h2_recv result. */
static int pump(client *c, app *a) {
    int rc = 0;
    for (int round = 0; round < 100000; round++) {
        const uint8_t *p;
        ssize_t n;
        size_t moved = 0;
        while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0) {
            moved += (size_t)n;
            if (feed(a, p, (size_t)n, round) < 0)
                rc = -1;
        }
        if (a->npend && feed(a, NULL, 0, round) < 0)
            rc = -1;
        uint8_t *out;
        size_t len = drain_server(a, &out);
        moved += len;
        if (len)
            nghttp2_session_mem_recv(c->ng, out, len);
        free(out);
        if (!moved)
            break;
    }
    return rc;
}

/* ---- raw frames for what a client library will not send ---- */

static size_t frame(uint8_t *b, uint8_t type, uint8_t flags, uint32_t id, const void *payload,
                    size_t len) {
    b[0] = (uint8_t)(len >> 16);
    b[1] = (uint8_t)(len >> 8);
    b[2] = (uint8_t)len;
    b[3] = type;
    b[4] = flags;
    b[5] = (uint8_t)(id >> 24);
    b[6] = (uint8_t)(id >> 16);
    b[7] = (uint8_t)(id >> 8);
    b[8] = (uint8_t)id;
    if (len)
        memcpy(b + 9, payload, len);
    return 9 + len;
}

/* GET / on stream id: an HPACK block of static-table entries only */
static const uint8_t get_block[] = {0x82, 0x84, 0x86, 0x41, 0x01, 'a'};

/* A raw client's start: the preface and an empty SETTINGS, then the ACK of the server's. */
static void raw_start(app *a, int ack) {
    uint8_t b[64];
    feed(a, (const uint8_t *)LUX_H2_PREFACE, LUX_H2_PREFACE_LEN, 0);
    feed(a, b, frame(b, NGHTTP2_SETTINGS, 0, 0, NULL, 0), 0);
    if (ack)
        feed(a, b, frame(b, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, NULL, 0), 0);
}

/* Scan the server's output for GOAWAY (its code + 1) and count RST_STREAMs with `code`. */
static int scan_goaway(const uint8_t *p, size_t len, uint32_t rst_code, int *nrst) {
    int goaway = 0;
    *nrst = 0;
    size_t i = 0;
    while (i + 9 <= len) {
        size_t flen = (size_t)p[i] << 16 | (size_t)p[i + 1] << 8 | p[i + 2];
        uint8_t type = p[i + 3];
        const uint8_t *pl = p + i + 9;
        if (i + 9 + flen > len)
            break;
        uint32_t code = flen >= 4 ? (uint32_t)pl[flen - 4] << 24 | (uint32_t)pl[flen - 3] << 16 |
                                        (uint32_t)pl[flen - 2] << 8 | pl[flen - 1]
                                  : 0;
        if (type == NGHTTP2_GOAWAY && flen >= 8)
            goaway = (int)((uint32_t)pl[4] << 24 | (uint32_t)pl[5] << 16 | (uint32_t)pl[6] << 8 |
                           pl[7]) +
                     1;
        if (type == NGHTTP2_RST_STREAM && code == rst_code)
            (*nrst)++;
        i += 9 + flen;
    }
    return goaway;
}

static int server_goaway(app *a, uint32_t rst_code, int *nrst) {
    uint8_t *out;
    size_t len = drain_server(a, &out);
    int g = scan_goaway(out, len, rst_code, nrst);
    free(out);
    return g;
}

/* ---- tests ---- */

static void test_request_and_response(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.body = "hello, h2";
    client_init(&c, NULL, 0);
    int32_t id = get(&c, "/index.html?x=1");
    CHECK_INT(pump(&c, &a), 0);
    CHECK_STR(a.method, "GET");
    CHECK_STR(a.path, "/index.html?x=1");
    CHECK_STR(a.authority, "example.org");
    CHECK_STR(a.field, "x-test=yes");
    CHECK_INT(c.status[id / 2], 200);
    CHECK_INT(c.got[id / 2], 9);
    CHECK(memcmp(c.data[id / 2], "hello, h2", 9) == 0);
    CHECK_INT(c.closed[id / 2], 1);
    CHECK_INT(c.rst[id / 2], NGHTTP2_NO_ERROR);
    CHECK_INT(a.st[0].closed, 1);
    CHECK_INT(a.st[0].close_error, 0);
    CHECK_INT(a.st[0].ended, 1);
    CHECK_INT(lux_h2_streams(a.s), 0);
    CHECK_INT(lux_h2_goaway_sent(a.s), -1);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* Response field names go out lower-case (RFC 9113 8.2.1) in whatever case they come. */
static void test_response_names_lowered(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.body = "x";
    a.resp_name = "Content-Type";
    client_init(&c, NULL, 0);
    int32_t id = get(&c, "/");
    CHECK_INT(pump(&c, &a), 0);
    CHECK_INT(c.status[id / 2], 200);
    CHECK_STR(c.field, "content-type=text/plain");
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* A field the caller says is lower case already (the server's own) goes out as it is. */
static void test_response_name_lowered_by_caller(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.body = "x";
    a.resp_name = "x-server-own";
    a.resp_lowered = 1;
    client_init(&c, NULL, 0);
    int32_t id = get(&c, "/");
    CHECK_INT(pump(&c, &a), 0);
    CHECK_INT(c.status[id / 2], 200);
    CHECK_STR(c.field, "x-server-own=text/plain");
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* Names of every length class the codec lowers in (bytes, half words, whole and overlapping
 * words), with upper-case letters at both ends and characters beside the letters' range. */
static void test_response_names_lowered_any_length(void) {
    static const char *names[][2] = {
        {"X", "x"},
        {"A^Z", "a^z"},
        {"ETag", "etag"},
        {"`Ab-Z|", "`ab-z|"},
        {"Server-X", "server-x"},
        {"Last-Modified", "last-modified"},
        {"X-Sixteen-BytesZ", "x-sixteen-bytesz"},
        {"X-A-Longer-Name-Than-Two-Words-Q", "x-a-longer-name-than-two-words-q"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        app a;
        client c;
        app_init(&a, NULL);
        a.respond = 1;
        a.body = "x";
        a.resp_name = names[i][0];
        client_init(&c, NULL, 0);
        int32_t id = get(&c, "/");
        CHECK_INT(pump(&c, &a), 0);
        CHECK_INT(c.status[id / 2], 200);
        char want[80];
        snprintf(want, sizeof want, "%s=text/plain", names[i][1]);
        CHECK_STR(c.field, want);
        nghttp2_session_del(c.ng);
        lux_h2_session_free(a.s);
    }
}

static void test_two_streams_interleave(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.defer_all = 1;
    static char big1[20000], big2[20000];
    memset(big1, '1', sizeof big1 - 1);
    memset(big2, '2', sizeof big2 - 1);
    client_init(&c, NULL, 0);
    int32_t id1 = get_incremental(&c, "/one"), id2 = get_incremental(&c, "/two");
    pump(&c, &a);
    CHECK_INT(a.n, 2);
    /* both bodies become available in small pieces; nghttp2 alternates between the streams */
    for (int i = 0; i < 2; i++) {
        a.st[i].body = i ? big2 : big1;
        a.st[i].len = sizeof big1 - 1;
        a.st[i].piece = 1000;
        a.st[i].defer = 0;
        lux_h2_resume(a.s, a.st[i].id);
    }
    pump(&c, &a);
    CHECK_INT(c.got[id1 / 2], sizeof big1 - 1);
    CHECK_INT(c.got[id2 / 2], sizeof big2 - 1);
    int switches = 0;
    for (int i = 1; i < c.norder; i++)
        switches += c.order[i] != c.order[i - 1];
    CHECK(switches >= 4);
    CHECK_INT(c.closed[id1 / 2] && c.closed[id2 / 2], 1);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t sum_client;

static int sum_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                    void *arg) {
    client *c = arg;
    c->got[id / 2] += len;
    sum_client = fnv(sum_client, d, len);
    return 0;
}

/* A 10 MiB file through the client's default 64 KiB windows: it arrives whole and in order,
 * the queue stays bounded, and every file reference handed out is released. */
static void ten_mib(int file_inline) {
    char path[] = "/tmp/lux-h2-test-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    size_t total = 10u << 20;
    uint64_t want = 14695981039346656037ull;
    char *chunk = malloc(1 << 20);
    for (size_t off = 0; off < total; off += 1 << 20) {
        for (size_t i = 0; i < 1 << 20; i++)
            chunk[i] = (char)((off + i) * 7 + (off + i) / 4093);
        CHECK(write(fd, chunk, 1 << 20) == 1 << 20);
        want = fnv(want, chunk, 1 << 20);
    }
    free(chunk);
    lux_h2_limits lim;
    lux_h2_limits_default(&lim);
    lim.file_inline = file_inline;
    app a;
    client c;
    app_init(&a, &lim);
    a.respond = 1;
    a.file_fd = fd;
    a.file_len = total;
    client_init(&c, NULL, 0);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, sum_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_close);
    nghttp2_session_callbacks_set_on_header_callback(cbs, c_header);
    nghttp2_session_del(c.ng);
    nghttp2_session_client_new(&c.ng, cbs, &c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(c.ng, NGHTTP2_FLAG_NONE, NULL, 0);
    sum_client = 14695981039346656037ull;
    int32_t id = get(&c, "/big");
    pump(&c, &a);
    CHECK_INT(c.status[id / 2], 200);
    CHECK_INT(c.got[id / 2], total);
    CHECK(sum_client == want);
    CHECK_INT(c.closed[id / 2], 1);
    CHECK_INT(a.holds, 0);
    CHECK(a.max_queued <= 128 * 1024 + 16384 + 9);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
    close(fd);
}

static void test_ten_mib_sendfile(void) {
    ten_mib(0);
}

static void test_ten_mib_inline(void) {
    ten_mib(1);
}

static ssize_t post_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *arg) {
    size_t *left = src->ptr;
    size_t n = len < *left ? len : *left;
    memset(buf, 'b', n);
    *left -= n;
    if (!*left)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* A request body stops at the stream window until the application takes the bytes. */
static void test_request_body_window(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.consume = 0;
    client_init(&c, NULL, 0);
    size_t left = 300000;
    nghttp2_data_provider prd = {.source = {.ptr = &left}, .read_callback = post_read};
    nghttp2_nv nv[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/up"),
                       NV(":authority", "a")};
    nghttp2_submit_request(c.ng, NULL, nv, 4, &prd, NULL);
    pump(&c, &a);
    CHECK_INT(a.n, 1);
    CHECK_INT(a.st[0].body_in, 65536);
    CHECK_INT(a.st[0].ended, 0);
    lux_h2_consume(a.s, a.st[0].id, a.st[0].body_in);
    a.consume = 1;
    pump(&c, &a);
    CHECK_INT(a.st[0].body_in, 300000);
    CHECK_INT(a.st[0].ended, 1);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* Rapid Reset: streams opened and reset at once, far past the bucket. */
static void test_rapid_reset(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.defer_all = 1;
    client_init(&c, NULL, 0);
    pump(&c, &a);
    for (int i = 0; i < 300 && !c.goaway; i++) {
        int32_t id = get(&c, "/");
        pump(&c, &a);
        nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        pump(&c, &a);
    }
    CHECK_INT(c.goaway, NGHTTP2_ENHANCE_YOUR_CALM + 1);
    CHECK_INT(lux_h2_goaway_sent(a.s), NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK_INT(lux_h2_alive(a.s), 0);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* PING, SETTINGS, PRIORITY and empty DATA floods each end the connection. */
static void flood(int kind) {
    app a;
    app_init(&a, NULL);
    a.respond = 1;
    a.defer_all = 1;
    raw_start(&a, 1);
    uint8_t b[64];
    uint8_t ping[8] = {0}, prio[5] = {0, 0, 0, 0, 16};
    int rc = 0;
    if (kind == 3) /* an open stream for the empty DATA frames */
        feed(&a, b, frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, get_block, 6), 0);
    for (int i = 0; i < 5000 && rc == 0; i++) {
        size_t n = kind == 0   ? frame(b, NGHTTP2_PING, 0, 0, ping, 8)
                   : kind == 1 ? frame(b, NGHTTP2_SETTINGS, 0, 0, NULL, 0)
                   : kind == 2 ? frame(b, NGHTTP2_PRIORITY, 0, (uint32_t)(2 * i + 3), prio, 5)
                               : frame(b, NGHTTP2_DATA, 0, 1, NULL, 0);
        rc = feed(&a, b, n, 1);
    }
    CHECK_INT(rc, -1);
    int nrst;
    CHECK_INT(server_goaway(&a, 0, &nrst), NGHTTP2_ENHANCE_YOUR_CALM + 1);
    lux_h2_session_free(a.s);
}

static void test_ping_flood(void) {
    flood(0);
}

static void test_settings_flood(void) {
    flood(1);
}

static void test_priority_flood(void) {
    flood(2);
}

static void test_empty_data_flood(void) {
    flood(3);
}

/* A slow stream of the same frames is fine: the bucket refills. */
static void test_pings_at_a_normal_rate(void) {
    app a;
    app_init(&a, NULL);
    raw_start(&a, 1);
    uint8_t b[64], ping[8] = {0};
    int rc = 0;
    int nrst, goaway = 0;
    for (int i = 0; i < 2000 && rc == 0 && !goaway; i++) {
        rc = feed(&a, b, frame(b, NGHTTP2_PING, 0, 0, ping, 8), (int64_t)i * 50);
        goaway = server_goaway(&a, 0, &nrst);
    }
    CHECK_INT(rc, 0);
    CHECK_INT(goaway, 0);
    lux_h2_session_free(a.s);
}

/* A header block split over too many CONTINUATION frames. */
static void test_continuation_flood(void) {
    app a;
    app_init(&a, NULL);
    raw_start(&a, 1);
    uint8_t b[64];
    int rc = feed(&a, b, frame(b, NGHTTP2_HEADERS, 0, 1, get_block, 3), 0);
    static const uint8_t lit[] = {0x40, 0x01, 'x', 0x01, 'y'}; /* x: y, with indexing */
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = feed(&a, b, frame(b, NGHTTP2_CONTINUATION, 0, 1, lit, 5), 0);
    CHECK_INT(rc, -1);
    int nrst;
    CHECK_INT(server_goaway(&a, 0, &nrst), NGHTTP2_ENHANCE_YOUR_CALM + 1);
    CHECK_INT(a.n, 0);
    lux_h2_session_free(a.s);
}

static void big_header_request(client *c, size_t vlen, int count) {
    char *v = malloc(vlen + 1);
    memset(v, 'v', vlen);
    v[vlen] = '\0';
    nghttp2_nv nv[64] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                         NV(":authority", "a")};
    for (int i = 0; i < count; i++)
        nv[4 + i] = (nghttp2_nv){(uint8_t *)"x-big", (uint8_t *)v, 5, vlen, NGHTTP2_NV_FLAG_NONE};
    nghttp2_submit_request(c->ng, NULL, nv, (size_t)(4 + count), NULL, NULL);
    free(v);
}

/* Fields past server.max-request-field-size: the request is answered 431, the session lives. */
static void test_header_list_too_large(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    client_init(&c, NULL, 0);
    big_header_request(&c, 9000, 1);
    pump(&c, &a);
    CHECK_INT(a.n, 1);
    CHECK_INT(a.too_large, 1);
    CHECK_INT(c.status[0], 431);
    a.respond = 1;
    get(&c, "/after");
    pump(&c, &a);
    CHECK_INT(a.n, 2);
    CHECK_INT(a.too_large, 0);
    CHECK_INT(c.goaway, 0);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* HPACK bomb: one 4000-byte field indexed once, then referenced by one byte many times. */
static void test_hpack_bomb(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    client_init(&c, NULL, 0);
    /* a client session that sends a header block this large at all */
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, c_frame);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_send_header_block_length(opt, 1 << 20);
    nghttp2_session_del(c.ng);
    nghttp2_session_client_new2(&c.ng, cbs, &c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(c.ng, NGHTTP2_FLAG_NONE, NULL, 0);
    pump(&c, &a);
    big_header_request(&c, 3000, 60);
    pump(&c, &a);
    CHECK_INT(a.n, 0);
    CHECK_INT(c.goaway, NGHTTP2_ENHANCE_YOUR_CALM + 1);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* More streams than SETTINGS_MAX_CONCURRENT_STREAMS (2 here), each request complete. Before the
 * client acknowledged the setting it could not know it: the third stream waits unread until one
 * of the first two closes. After, nghttp2 ends the connection (PROTOCOL_ERROR): the client
 * broke a limit it agreed to. */
static void too_many_streams(int acked, int with_body) {
    lux_h2_limits lim;
    lux_h2_limits_default(&lim);
    lim.max_concurrent_streams = 2;
    app a;
    app_init(&a, &lim);
    a.respond = 1;
    a.defer_all = 1;
    raw_start(&a, acked);
    uint8_t b[64];
    uint8_t flags = NGHTTP2_FLAG_END_HEADERS | (with_body ? 0 : NGHTTP2_FLAG_END_STREAM);
    for (uint32_t id = 1; id <= 5; id += 2)
        feed(&a, b, frame(b, NGHTTP2_HEADERS, flags, id, get_block, 6), 0);
    int nrst;
    int goaway = server_goaway(&a, NGHTTP2_REFUSED_STREAM, &nrst);
    CHECK_INT(a.n, 2);
    if (acked) {
        CHECK_INT(goaway, NGHTTP2_PROTOCOL_ERROR + 1);
    } else if (with_body) {
        /* a stream still waiting for its body could wait for bytes behind the third HEADERS */
        CHECK_INT(goaway, 0);
        CHECK_INT(nrst, 1);
    } else {
        CHECK_INT(goaway, 0);
        CHECK_INT(nrst, 0);
        CHECK(a.npend > 0);
        a.st[0].defer = 0;
        lux_h2_resume(a.s, a.st[0].id);
        uint8_t *out;
        drain_server(&a, &out);
        free(out);
        CHECK_INT(a.st[0].closed, 1);
        feed(&a, NULL, 0, 0);
        CHECK_INT(a.n, 3);
        CHECK_INT(a.npend, 0);
    }
    lux_h2_session_free(a.s);
}

static void test_streams_past_the_limit_wait_before_ack(void) {
    too_many_streams(0, 0);
}

static void test_streams_past_the_limit_with_bodies_refused(void) {
    too_many_streams(0, 1);
}

static void test_streams_past_the_limit_after_ack(void) {
    too_many_streams(1, 0);
}

/* MadeYouReset: a malformed field (an upper-case name) makes the server reset each stream;
 * those resets count like the client's own. */
static void test_made_you_reset(void) {
    app a;
    app_init(&a, NULL);
    a.respond = 1;
    a.defer_all = 1;
    raw_start(&a, 1);
    uint8_t b[64];
    static const uint8_t bad_block[] = {0x82, 0x84, 0x86, 0x41, 0x01, 'a',
                                        0x00, 0x01, 'X',  0x01, 'y'};
    int rc = 0, resets = 0;
    for (uint32_t id = 1; id < 2000 && rc == 0; id += 2) {
        rc = feed(&a, b,
                  frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id,
                        bad_block, sizeof bad_block),
                  0);
        int nrst;
        if (server_goaway(&a, NGHTTP2_PROTOCOL_ERROR, &nrst) == NGHTTP2_ENHANCE_YOUR_CALM + 1)
            rc = -1;
        resets += nrst;
    }
    CHECK_INT(rc, -1);
    CHECK(resets >= 100);
    CHECK_INT(lux_h2_goaway_sent(a.s), NGHTTP2_ENHANCE_YOUR_CALM);
    lux_h2_session_free(a.s);
}

/* A client that opens no window: the stream's response waits on it, and the codec says so. */
static void test_zero_window_stall(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.body = "waiting for a window";
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
    client_init(&c, &iv, 1);
    int32_t id = get(&c, "/");
    pump(&c, &a);
    CHECK_INT(c.status[id / 2], 200);
    CHECK_INT(c.got[id / 2], 0);
    CHECK_INT(lux_h2_window_stalled(a.s), 1);
    nghttp2_submit_window_update(c.ng, NGHTTP2_FLAG_NONE, id, 100);
    pump(&c, &a);
    CHECK_INT(c.got[id / 2], 20);
    CHECK_INT(lux_h2_window_stalled(a.s), 0);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* Graceful GOAWAY: streams in flight finish, none start. */
static void test_graceful_goaway(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.defer_all = 1;
    a.body = "late";
    client_init(&c, NULL, 0);
    int32_t id = get(&c, "/");
    pump(&c, &a);
    lux_h2_goaway_graceful(a.s);
    pump(&c, &a);
    CHECK_INT(c.goaway, NGHTTP2_NO_ERROR + 1);
    a.st[0].defer = 0;
    lux_h2_resume(a.s, a.st[0].id);
    pump(&c, &a);
    CHECK_INT(c.got[id / 2], 4);
    CHECK_INT(a.st[0].closed, 1);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* What nghttp2 lets pass and RFC 9113 does not: PRIORITY on stream 0, a HEADERS frame on a
 * stream identifier below one already used (that is not an open stream's trailers). */
static void protocol_error_after(const uint8_t *frames, size_t len) {
    app a;
    app_init(&a, NULL);
    a.respond = 1;
    raw_start(&a, 1);
    CHECK_INT(feed(&a, frames, len, 0), -1);
    int nrst;
    CHECK_INT(server_goaway(&a, 0, &nrst), NGHTTP2_PROTOCOL_ERROR + 1);
    lux_h2_session_free(a.s);
}

static void test_priority_on_stream_zero(void) {
    uint8_t b[64], prio[5] = {0, 0, 0, 1, 16};
    protocol_error_after(b, frame(b, NGHTTP2_PRIORITY, 0, 0, prio, 5));
}

static void test_stream_ids_going_backwards(void) {
    uint8_t b[128];
    uint8_t flags = NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM;
    size_t n = frame(b, NGHTTP2_HEADERS, flags, 5, get_block, 6);
    n += frame(b + n, NGHTTP2_HEADERS, flags, 3, get_block, 6);
    protocol_error_after(b, n);
}

/* Trailers on an open stream are no such error. */
static void test_trailers_on_an_open_stream(void) {
    app a;
    app_init(&a, NULL);
    a.respond = 1;
    a.defer_all = 1;
    raw_start(&a, 1);
    uint8_t b[128];
    static const uint8_t trailer[] = {0x40, 0x01, 't', 0x01, 'v'};
    size_t n = frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, get_block, 6);
    n += frame(b + n, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 3, get_block, 6);
    n += frame(b + n, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
               trailer, sizeof trailer);
    CHECK_INT(feed(&a, b, n, 0), 0);
    int nrst;
    CHECK_INT(server_goaway(&a, 0, &nrst), 0);
    CHECK_INT(a.st[0].ended, 1);
    lux_h2_session_free(a.s);
}

/* A response complete before its request body: the client is asked to stop sending it, with
 * RST_STREAM NO_ERROR (RFC 9113 8.1), which does not count as a reset it caused. */
static void test_response_before_request_body_stops_it(void) {
    app a;
    app_init(&a, NULL);
    a.respond = 1;
    a.body = "done early";
    raw_start(&a, 1);
    uint8_t b[64];
    feed(&a, b, frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, get_block, 6), 0);
    int nrst;
    CHECK_INT(server_goaway(&a, NGHTTP2_NO_ERROR, &nrst), 0);
    CHECK_INT(nrst, 1);
    CHECK_INT(a.st[0].closed, 1);
    CHECK_INT(a.st[0].close_error, NGHTTP2_NO_ERROR);
    lux_h2_session_free(a.s);
}

/* An h2c Upgrade: the request that asked is stream 1, answered on the new session. */
static void test_upgrade_stream_one(void) {
    lux_h2_limits lim;
    lux_h2_limits_default(&lim);
    static const uint8_t settings[] = {0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0};
    app a;
    memset(&a, 0, sizeof a);
    a.file_fd = -1;
    a.s = lux_h2_session_new(&lim, &app_cb, &a, settings, sizeof settings, 0);
    CHECK(a.s != NULL);
    app_stream *st = &a.st[a.n++];
    *st = (app_stream){.id = 1, .fd = -1, .body = "upgraded", .len = 8};
    lux_h2_set_stream(a.s, 1, st);
    lux_header h = {{"content-type", 12}, {"text/plain", 10}};
    CHECK_INT(lux_h2_submit_response(a.s, 1, 200, &h, 1, NULL, 0, 0), 0);
    client c;
    client_init(&c, NULL, 0);
    CHECK_INT(nghttp2_session_upgrade2(c.ng, settings, sizeof settings, 0, NULL), 0);
    pump(&c, &a);
    CHECK_INT(c.status[0], 200);
    CHECK_INT(c.got[0], 8);
    CHECK(memcmp(c.data[0], "upgraded", 8) == 0);
    CHECK_INT(st->closed, 1);
    nghttp2_session_del(c.ng);
    lux_h2_session_free(a.s);
}

/* The session ends with streams open: each is closed (CANCEL) and file holds are released. */
static void test_free_with_streams_open(void) {
    app a;
    client c;
    app_init(&a, NULL);
    a.respond = 1;
    a.file_fd = open("/dev/zero", 0);
    a.file_len = 1 << 20;
    client_init(&c, NULL, 0);
    get(&c, "/");
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c.ng, &p)) > 0)
        feed(&a, p, (size_t)n, 0);
    lux_h2_produce(a.s);
    CHECK(a.holds > 0);
    CHECK_INT(a.st[0].closed, 0);
    lux_h2_session_free(a.s);
    CHECK_INT(a.holds, 0);
    CHECK_INT(a.st[0].closed, 1);
    CHECK_INT(a.st[0].close_error, NGHTTP2_CANCEL);
    close(a.file_fd);
    nghttp2_session_del(c.ng);
}

int main(void) {
    RUN(test_request_and_response);
    RUN(test_response_names_lowered);
    RUN(test_response_name_lowered_by_caller);
    RUN(test_response_names_lowered_any_length);
    RUN(test_two_streams_interleave);
    RUN(test_ten_mib_sendfile);
    RUN(test_ten_mib_inline);
    RUN(test_request_body_window);
    RUN(test_rapid_reset);
    RUN(test_ping_flood);
    RUN(test_settings_flood);
    RUN(test_priority_flood);
    RUN(test_empty_data_flood);
    RUN(test_pings_at_a_normal_rate);
    RUN(test_continuation_flood);
    RUN(test_header_list_too_large);
    RUN(test_hpack_bomb);
    RUN(test_streams_past_the_limit_wait_before_ack);
    RUN(test_streams_past_the_limit_with_bodies_refused);
    RUN(test_streams_past_the_limit_after_ack);
    RUN(test_made_you_reset);
    RUN(test_zero_window_stall);
    RUN(test_graceful_goaway);
    RUN(test_priority_on_stream_zero);
    RUN(test_stream_ids_going_backwards);
    RUN(test_trailers_on_an_open_stream);
    RUN(test_response_before_request_body_stops_it);
    RUN(test_upgrade_stream_one);
    RUN(test_free_with_streams_open);
    T_EXIT();
}
