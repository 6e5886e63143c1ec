#include "upstream/fcgi.h"

#include <stdlib.h>

#include "t.h"

/* Record header fields of the record at p. */
static int rec_type(const char *p) {
    return (unsigned char)p[1];
}
static int rec_id(const char *p) {
    return (unsigned char)p[2] << 8 | (unsigned char)p[3];
}
static size_t rec_len(const char *p) {
    return (size_t)(unsigned char)p[4] << 8 | (unsigned char)p[5];
}
static size_t rec_pad(const char *p) {
    return (unsigned char)p[6];
}

static void test_begin_request(void) {
    lux_ups_buf b = {0};
    CHECK_INT(lux_fcgi_begin(&b, 1, LUX_FCGI_RESPONDER, 1), 0);
    CHECK_INT(b.len, 16);
    const unsigned char want[16] = {1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    CHECK(!memcmp(b.data, want, 16));
    lux_ups_buf_free(&b);
}

static void test_param_lengths(void) {
    lux_ups_buf b = {0};
    char longv[300];
    memset(longv, 'v', sizeof longv);
    CHECK_INT(lux_fcgi_param(&b, "A", 1, "xyz", 3), 0);
    CHECK_INT(b.len, 2 + 1 + 3);
    CHECK_INT((unsigned char)b.data[0], 1);
    CHECK_INT((unsigned char)b.data[1], 3);
    CHECK_INT(lux_fcgi_param(&b, "LONG", 4, longv, sizeof longv), 0);
    /* 1-byte name length, 4-byte value length with the high bit set */
    const unsigned char *p = (const unsigned char *)b.data + 6;
    CHECK_INT(p[0], 4);
    CHECK_INT(p[1], 0x80);
    CHECK_INT(p[2], 0);
    CHECK_INT(p[3], 0x01);
    CHECK_INT(p[4], 0x2c);
    CHECK_INT(b.len, 6 + 5 + 4 + 300);
    lux_ups_buf_free(&b);
}

static void test_stream_splits_and_pads(void) {
    lux_ups_buf b = {0};
    size_t n = 70000;
    char *data = malloc(n);
    memset(data, 'd', n);
    CHECK_INT(lux_fcgi_stream(&b, LUX_FCGI_STDIN, 7, data, n), 0);
    CHECK_INT(rec_type(b.data), LUX_FCGI_STDIN);
    CHECK_INT(rec_id(b.data), 7);
    CHECK_INT(rec_len(b.data), 65535);
    CHECK_INT(rec_pad(b.data), 1);
    const char *second = b.data + 8 + 65535 + 1;
    CHECK_INT(rec_len(second), n - 65535);
    CHECK_INT((8 + rec_len(second) + rec_pad(second)) % 8, 0);
    CHECK_INT(b.len, 8 + 65535 + 1 + 8 + rec_len(second) + rec_pad(second));
    /* the empty record that ends a stream */
    lux_ups_buf e = {0};
    CHECK_INT(lux_fcgi_stream(&e, LUX_FCGI_STDIN, 7, NULL, 0), 0);
    CHECK_INT(e.len, 8);
    CHECK_INT(rec_len(e.data), 0);
    free(data);
    lux_ups_buf_free(&b);
    lux_ups_buf_free(&e);
}

/* A backend's answer: stdout "hello", stderr "oops", a record of request 2, end. */
static size_t backend_answer(lux_ups_buf *b) {
    lux_fcgi_stream(b, LUX_FCGI_STDOUT, 1, "hello", 5);
    lux_fcgi_stream(b, LUX_FCGI_STDERR, 1, "oops", 4);
    lux_fcgi_stream(b, LUX_FCGI_STDOUT, 2, "other", 5);
    lux_fcgi_stream(b, LUX_FCGI_STDOUT, 1, NULL, 0);
    const unsigned char end[16] = {1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0};
    lux_ups_buf_put(b, end, 16);
    return b->len;
}

/* Feed in pieces of `step` bytes; collect stdout and stderr; return the end's app status. */
static long feed_all(const char *buf, size_t len, size_t step, char *out, char *err) {
    lux_fcgi_parser p;
    lux_fcgi_parser_init(&p, 1);
    size_t pos = 0;
    while (pos < len) {
        size_t n = len - pos < step ? len - pos : step, used;
        size_t off = 0;
        while (off < n) {
            lux_fcgi_ev ev = lux_fcgi_parse(&p, buf + pos + off, n - off, &used);
            off += used;
            if (ev == LUX_FCGI_EV_STDOUT)
                strncat(out, p.data, p.len);
            else if (ev == LUX_FCGI_EV_STDERR)
                strncat(err, p.data, p.len);
            else if (ev == LUX_FCGI_EV_END)
                return p.protocol_status == 0 ? (long)p.app_status : -2;
            else if (ev == LUX_FCGI_EV_ERROR)
                return -3;
            else if (ev == LUX_FCGI_EV_MORE && off < n)
                return -4; /* MORE must mean every byte was taken */
        }
        pos += n;
    }
    return -1;
}

static void test_parse_whole_and_byte_by_byte(void) {
    lux_ups_buf b = {0};
    size_t len = backend_answer(&b);
    for (size_t step = 1; step <= len; step = step < 16 ? step + 1 : step * 2) {
        char out[64] = "", err[64] = "";
        CHECK_INT(feed_all(b.data, len, step, out, err), 42);
        CHECK_STR(out, "hello");
        CHECK_STR(err, "oops");
    }
    lux_ups_buf_free(&b);
}

static void test_parse_refuses_bad_version_and_bad_end(void) {
    char out[8] = "", err[8] = "";
    const unsigned char v2[8] = {2, 6, 0, 1, 0, 0, 0, 0};
    CHECK_INT(feed_all((const char *)v2, 8, 8, out, err), -3);
    const unsigned char short_end[12] = {1, 3, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0};
    CHECK_INT(feed_all((const char *)short_end, 12, 12, out, err), -3);
}

static void test_parse_end_of_other_request_ignored(void) {
    lux_ups_buf b = {0};
    const unsigned char other_end[16] = {1, 3, 0, 9, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    lux_ups_buf_put(&b, other_end, 16);
    size_t len = backend_answer(&b);
    char out[64] = "", err[64] = "";
    CHECK_INT(feed_all(b.data, len, len, out, err), 42);
    CHECK_STR(out, "hello");
    lux_ups_buf_free(&b);
}

int main(void) {
    RUN(test_begin_request);
    RUN(test_param_lengths);
    RUN(test_stream_splits_and_pads);
    RUN(test_parse_whole_and_byte_by_byte);
    RUN(test_parse_refuses_bad_version_and_bad_end);
    RUN(test_parse_end_of_other_request_ignored);
    T_EXIT();
}
