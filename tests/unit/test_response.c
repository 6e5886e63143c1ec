/* Response headers: what lux_resp_header accepts, and the head lux_resp_head writes. */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/h1/charclass.h"
#include "http/request.h"
#include "http/response.h"
#include "lux/log.h"
#include "net/worker.h"

#include "t.h"

static lux_pool pool;
static lux_worker worker;
static lux_core_conf core;
static const void *confs[1] = {&core};

static lux_req new_req(void) {
    lux_req r;
    memset(&r, 0, sizeof r);
    r.pool = &pool;
    r.worker = &worker;
    r.confs = confs;
    r.status = 200;
    r.version = 11;
    r.conn_closes = 0;
    r.body_tail = &r.body;
    return r;
}

static int add(lux_req *r, const char *name, const char *value) {
    return lux_resp_header(r, name, strlen(name), value, strlen(value));
}

static void test_line_breaks_and_nul_are_refused(void) {
    lux_req r = new_req();
    CHECK_INT(add(&r, "X-Bad", "a\r\nX-Injected: 1"), -1);
    CHECK_INT(add(&r, "X-Bad", "a\nb"), -1);
    CHECK_INT(add(&r, "X-Bad", "a\rb"), -1);
    CHECK_INT(lux_resp_header(&r, "X-Nul", 5, "a\0b", 3), -1);
    CHECK_INT(r.nresp_headers, 0);
    CHECK_INT(add(&r, "X-Fine", "tab\there, \"quotes\" and ~"), 0);
    CHECK_INT(r.nresp_headers, 1);
}

/* Values are checked eight bytes at a time: a bad byte is found at every position of words and
 * tails, and every other byte (tabs and bytes above 0x7f among them) passes. */
static void test_bad_byte_found_anywhere(void) {
    static const char bad[] = {'\r', '\n', '\0'};
    char v[40];
    CHECK_INT(lux_log_open("/dev/null", 0), 0); /* a refusal is logged: thousands of them here */
    for (size_t len = 1; len <= sizeof v; len++) {
        memset(v, 'a', len);
        lux_req r = new_req();
        CHECK_INT(lux_resp_header(&r, "X-Ok", 4, v, len), 0);
        for (size_t at = 0; at < len; at++) {
            for (size_t b = 0; b < sizeof bad; b++) {
                v[at] = bad[b];
                CHECK_INT(lux_resp_header(&r, "X-Bad", 5, v, len), -1);
            }
            v[at] = at % 2 ? '\t' : (char)0xe9;
            CHECK_INT(lux_resp_header(&r, "X-Ok", 4, v, len), 0);
            v[at] = 'a';
        }
    }
    lux_log_close();
}

static void test_names_must_be_tokens(void) {
    lux_req r = new_req();
    CHECK_INT(add(&r, "", "v"), -1);
    CHECK_INT(add(&r, "Two Words", "v"), -1);
    CHECK_INT(add(&r, "Colon:", "v"), -1);
    CHECK_INT(add(&r, "X-Line\r\nX-Injected", "v"), -1);
    CHECK_INT(r.nresp_headers, 0);
    CHECK_INT(add(&r, "X-Ok_1.~!#$%&'*+^`|", "v"), 0);
    CHECK_INT(r.nresp_headers, 1);
}

/* Every byte value as a one-byte name: taken exactly when it is a tchar. */
static void test_name_bytes_are_tchars(void) {
    CHECK_INT(lux_log_open("/dev/null", 0), 0);
    for (int c = 0; c < 256; c++) {
        lux_req r = new_req();
        char name = (char)c;
        CHECK_INT(lux_resp_header(&r, &name, 1, "v", 1), IS_TCHAR(c) ? 0 : -1);
    }
    lux_log_close();
}

static void test_framing_headers_are_the_servers(void) {
    lux_req r = new_req();
    CHECK_INT(add(&r, "Content-Length", "1"), 0);
    CHECK_INT(add(&r, "transfer-encoding", "chunked"), 0);
    CHECK_INT(add(&r, "CONNECTION", "close"), 0);
    CHECK_INT(r.nresp_headers, 0);
    CHECK(lux_resp_body_mem(&r, "hello\n", 6) == 0);
    size_t len;
    char *head = lux_resp_head(&r, &len);
    CHECK(head != NULL);
    if (head) {
        CHECK(memmem(head, len, "\r\nContent-Length: 6\r\n", 21) != NULL);
        CHECK(memmem(head, len, "Transfer-Encoding", 17) == NULL);
        CHECK(memmem(head, len, "Connection", 10) == NULL);
    }
}

/* A tunnel's head: no framing (the bytes after it are the tunnel's), a 101 says what it
 * switched to, and nothing says the connection closes. */
static void test_tunnel_head_has_no_framing(void) {
    lux_req r = new_req();
    r.status = 101;
    r.streaming = 1;
    r.stream_length = -1;
    r.tunnel = 1;
    r.conn_closes = 1;
    CHECK_INT(add(&r, "Upgrade", "websocket"), 0);
    size_t len;
    char *head = lux_resp_head(&r, &len);
    CHECK(head != NULL);
    if (head) {
        CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0);
        CHECK(memmem(head, len, "\r\nUpgrade: websocket\r\n", 22) != NULL);
        CHECK(memmem(head, len, "\r\nConnection: upgrade\r\n", 23) != NULL);
        CHECK(memmem(head, len, "Content-Length", 14) == NULL);
        CHECK(memmem(head, len, "Transfer-Encoding", 17) == NULL);
        CHECK(memmem(head, len, "close", 5) == NULL);
    }
    r.status = 200; /* CONNECT's answer */
    head = lux_resp_head(&r, &len);
    CHECK(head != NULL);
    if (head) {
        CHECK(memmem(head, len, "Connection", 10) == NULL);
        CHECK(memmem(head, len, "Content-Length", 14) == NULL);
        CHECK(memmem(head, len, "Transfer-Encoding", 17) == NULL);
    }
}

/* Every optional line present, a long tag and reason: the head is whole and ends the head. */
static void test_largest_head_fits(void) {
    static char tag[3000];
    memset(tag, 't', sizeof tag);
    core.tag = (lux_str){tag, sizeof tag};
    lux_req r = new_req();
    r.version = 10;
    r.status = 505;
    r.body_len = UINT64_MAX;
    CHECK_INT(add(&r, "X-A", "1"), 0);
    size_t len;
    char *head = lux_resp_head(&r, &len);
    CHECK(head != NULL);
    if (head) {
        CHECK(strncmp(head, "HTTP/1.0 505 ", 13) == 0);
        CHECK(memmem(head, len, "Content-Length: 18446744073709551615\r\n", 38) != NULL);
        CHECK(memmem(head, len, "Connection: keep-alive\r\n", 24) != NULL);
        CHECK(len > sizeof tag + 100);
        CHECK(memcmp(head + len - 4, "\r\n\r\n", 4) == 0);
    }
    core.tag = (lux_str){NULL, 0};
}

/* How many lines of head[0, len) start with name (any case) followed by ':'. */
static int lines_named(const char *head, size_t len, const char *name) {
    size_t n = strlen(name);
    int count = 0;
    for (const char *p = head, *end = head + len; p < end;) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0)
            count++;
        p = eol + 2;
    }
    return count;
}

/* Date and Server are the head's own unless a module set them, in whatever case; a name of the
 * same length or the same first letter is not theirs. */
static void test_module_date_and_server_win(void) {
    static const struct {
        const char *name;
        int own_date, own_server;
    } cases[] = {
        {"Date", 1, 0},   {"date", 1, 0}, {"dATE", 1, 0}, {"Server", 0, 1},  {"SERVER", 0, 1},
        {"sErVeR", 0, 1}, {"ETag", 0, 0}, {"Data", 0, 0}, {"Dates", 0, 0},   {"Serves", 0, 0},
        {"Xerver", 0, 0}, {"D", 0, 0},    {"Tate", 0, 0}, {"Servers", 0, 0},
    };
    core.tag = (lux_str){"lux", 3};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lux_req r = new_req();
        CHECK_INT(add(&r, cases[i].name, "mine"), 0);
        size_t len;
        char *head = lux_resp_head(&r, &len);
        CHECK(head != NULL);
        if (!head)
            continue;
        CHECK_INT(lines_named(head, len, "Date"), 1);
        CHECK_INT(lines_named(head, len, "Server"), 1);
        CHECK_INT(memmem(head, len, "Date: mine\r\n", 12) != NULL ||
                      memmem(head, len, "date: mine\r\n", 12) != NULL ||
                      memmem(head, len, "dATE: mine\r\n", 12) != NULL,
                  cases[i].own_date);
        CHECK_INT(memmem(head, len, "Server: lux\r\n", 13) == NULL, cases[i].own_server);
    }
    core.tag = (lux_str){NULL, 0};
}

/* The Content-Length line of a head for a body of len bytes is the length as printf writes it:
 * every count of digits, both sides of each power of ten, and spread values between. */
static int content_length_is(uint64_t len) {
    lux_req r = new_req();
    r.body_len = len;
    size_t hl;
    char *head = lux_resp_head(&r, &hl);
    char want[64];
    int n = snprintf(want, sizeof want, "\r\nContent-Length: %" PRIu64 "\r\n", len);
    return head && memmem(head, hl, want, (size_t)n) != NULL;
}

static void test_content_length_digits(void) {
    uint64_t pow10 = 1;
    for (int k = 0; k < 20; k++, pow10 *= 10) {
        CHECK(content_length_is(pow10));
        CHECK(content_length_is(pow10 - 1));
        CHECK(content_length_is(pow10 + 1));
        CHECK(content_length_is(pow10 * 2 - 1));
    }
    for (uint64_t v = 0; v < 1000; v++)
        CHECK(content_length_is(v));
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 1000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t v = x >> (i % 64);
        if (!content_length_is(v)) {
            fprintf(stderr, "  Content-Length %" PRIu64 " written wrong\n", v);
            CHECK(content_length_is(v));
        }
    }
    CHECK(content_length_is(UINT64_MAX));
}

/* Names and values of every length from 1 to 70 (and an empty value), the tag too: each line
 * of the head is exactly what was given, with nothing lost or doubled where pieces meet. */
static void test_pieces_of_every_length(void) {
    char name[80], value[80], want[200];
    for (size_t n = 1; n <= 70; n++) {
        for (size_t i = 0; i < n; i++) {
            name[i] = (char)('a' + (i * 7 + n) % 26);
            value[i] = (char)('A' + (i * 5 + n) % 26);
        }
        name[n] = value[n] = '\0';
        for (size_t vlen = 0; vlen <= n; vlen += n) {
            core.tag = (lux_str){value, n};
            lux_req r = new_req();
            CHECK_INT(lux_resp_header(&r, name, n, value, vlen), 0);
            size_t len;
            char *head = lux_resp_head(&r, &len);
            CHECK(head != NULL);
            if (!head)
                continue;
            int wl = snprintf(want, sizeof want, "\r\n%s: %.*s\r\n", name, (int)vlen, value);
            CHECK(memmem(head, len, want, (size_t)wl) != NULL);
            wl = snprintf(want, sizeof want, "\r\nServer: %s\r\n", value);
            CHECK(memmem(head, len, want, (size_t)wl) != NULL);
            CHECK(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0);
            CHECK(memcmp(head + len - 4, "\r\n\r\n", 4) == 0);
        }
    }
    core.tag = (lux_str){NULL, 0};
}

/* A trusted value of every length from 0 to 70 is kept as a NUL-terminated copy of itself. */
static void test_trusted_value_copied_whole(void) {
    char value[80];
    for (size_t n = 0; n <= 70; n++) {
        for (size_t i = 0; i < n; i++)
            value[i] = (char)('a' + (i * 3 + n) % 26);
        value[n] = 'X'; /* not part of the value: must not be copied */
        lux_req r = new_req();
        CHECK_INT(lux_resp_header_trusted(&r, "ETag", 4, value, n), 0);
        CHECK_INT(r.nresp_headers, 1);
        if (r.nresp_headers != 1)
            continue;
        const lux_str *v = &r.resp_headers[0].value;
        CHECK_INT(v->len, n);
        CHECK(v->ptr != value);
        CHECK(memcmp(v->ptr, value, n) == 0);
        CHECK(v->ptr[n] == '\0');
    }
}

int main(void) {
    lux_pool_init(&pool, 4096);
    worker.loop = lux_loop_new();
    RUN(test_line_breaks_and_nul_are_refused);
    RUN(test_bad_byte_found_anywhere);
    RUN(test_names_must_be_tokens);
    RUN(test_name_bytes_are_tchars);
    RUN(test_framing_headers_are_the_servers);
    RUN(test_tunnel_head_has_no_framing);
    RUN(test_largest_head_fits);
    RUN(test_module_date_and_server_win);
    RUN(test_content_length_digits);
    RUN(test_pieces_of_every_length);
    RUN(test_trusted_value_copied_whole);
    lux_loop_free(worker.loop);
    lux_pool_free(&pool);
    T_EXIT();
}
