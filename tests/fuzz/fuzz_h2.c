/*
 * HTTP/2 codec: client bytes in, cut into pieces the first byte chooses, with an application
 * that answers every request (some at once, some later, some from a file range) and drains the
 * output after each piece. Nothing may crash, leak, or hand back a file range it did not
 * release; once the codec says the session is over it must stay over.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h2/h2_session.h"

typedef struct {
    lux_h2_session *s;
    int streams, holds, deferred[8];
    int32_t ids[8];
    int nd;
} app;

static const char body_text[] = "hello from the fuzzer";
static int zero_fd = -1; /* /dev/zero: a file range that never runs short */

static void *on_request(void *user, int32_t id, const lux_h2_request *req) {
    app *a = user;
    a->streams++;
    lux_header h = {{"content-type", 12}, {"text/plain", 10}};
    int head = req->method.ptr && strcmp(req->method.ptr, "HEAD") == 0;
    lux_h2_submit_response(a->s, id, req->too_large ? 431 : 200, &h, 1, NULL, 0, head);
    if (a->nd < 8 && (id & 2))
        a->ids[a->nd++] = id;
    return &a->streams;
}

static void on_data(void *user, void *stream, const uint8_t *p, size_t len) {
    /* nothing kept: the window reopens at once */
}

static void on_end(void *user, void *stream) {}

static void on_close(void *user, void *stream, uint32_t error) {}

static int body(void *user, void *stream, size_t max, lux_h2_piece *pc) {
    app *a = user;
    if (a->nd && max % 3 == 0)
        return LUX_H2_BODY_DEFERRED;
    pc->mem = body_text;
    pc->len = max < sizeof body_text - 1 ? max : sizeof body_text - 1;
    if (max % 2 && zero_fd >= 0) { /* a file range instead */
        pc->mem = NULL;
        pc->fd = zero_fd;
        pc->off = 0;
        pc->hold = &a->holds;
        a->holds++;
    }
    return LUX_H2_BODY_LAST;
}

static void framed(void *user, void *stream, size_t len) {}

static void release(void *user, void *hold) {
    (*(int *)hold)--;
}

static const lux_h2_callbacks cb = {on_request, on_data, on_end, on_close, body, framed, release};

static void drain(app *a) {
    lux_h2_produce(a->s);
    for (int guard = 0; guard < 10000; guard++) {
        struct iovec iov[2];
        int fd;
        off_t off;
        size_t len;
        int n = lux_h2_out(a->s, iov, 2, &fd, &off, &len);
        size_t k = n > 0 ? iov[0].iov_len : fd >= 0 ? len : 0;
        if (!k)
            break;
        lux_h2_sent(a->s, k);
        lux_h2_produce(a->s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (zero_fd < 0)
        zero_fd = open("/dev/zero", O_RDONLY);
    size_t step = 1 + data[0] % 64;
    lux_h2_limits lim;
    lux_h2_limits_default(&lim);
    lim.max_concurrent_streams = 4;
    lim.file_inline = data[0] >> 7;
    app a = {0};
    a.s = lux_h2_session_new(&lim, &cb, &a, NULL, 0, 0);
    if (!a.s)
        return 0;
    int over = 0;
    /* what the codec does not take now is fed again with the next piece, as a connection does */
    uint8_t *pend = malloc(size);
    size_t npend = 0;
    for (size_t i = 1; i < size && pend; i += step) {
        size_t n = size - i < step ? size - i : step;
        memcpy(pend + npend, data + i, n);
        npend += n;
        ssize_t took = lux_h2_recv(a.s, pend, npend, (int64_t)i);
        if (over && took >= 0)
            abort();
        over = took < 0;
        if (took > 0) {
            memmove(pend, pend + took, npend - (size_t)took);
            npend -= (size_t)took;
        }
        drain(&a);
        while (a.nd)
            lux_h2_resume(a.s, a.ids[--a.nd]);
    }
    free(pend);
    drain(&a);
    lux_h2_session_free(a.s);
    if (a.holds != 0)
        abort();
    return 0;
}
