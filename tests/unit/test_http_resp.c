#include "upstream/http_resp.h"

#include "t.h"

typedef struct {
    int n;
    char text[512];
} fields;

static int collect(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    fields *f = arg;
    size_t used = strlen(f->text);
    snprintf(f->text + used, sizeof f->text - used, "%.*s=%.*s;", (int)nlen, name, (int)vlen,
             value);
    f->n++;
    return 0;
}

static int parse(const char *s, lux_http_resp *h, fields *f) {
    memset(f, 0, sizeof *f);
    long end = lux_cgi_head_end(s, strlen(s), 4096);
    if (end <= 0)
        return -2;
    return lux_http_resp_parse(s, (size_t)end, h, collect, f);
}

static void test_length_and_keep_alive(void) {
    lux_http_resp h;
    fields f;
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: 1\r\n\r\n", &h, &f), 0);
    CHECK_INT(h.status, 200);
    CHECK_INT(h.minor, 1);
    CHECK_INT(h.content_length, 12);
    CHECK_INT(h.chunked, 0);
    CHECK_INT(h.keep_alive, 1);
    CHECK_STR(f.text, "X-A=1;");
    CHECK_INT(parse("HTTP/1.0 404 Not Found\nServer: x\n\n", &h, &f), 0);
    CHECK_INT(h.status, 404);
    CHECK_INT(h.keep_alive, 0);
    CHECK_INT(h.content_length, -1);
    CHECK_INT(parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &h, &f), 0);
    CHECK_INT(h.keep_alive, 1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", &h, &f), 0);
    CHECK_INT(h.keep_alive, 0);
}

static void test_chunked_wins_over_length(void) {
    lux_http_resp h;
    fields f;
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n"
                    "\r\n",
                    &h, &f),
              0);
    CHECK_INT(h.chunked, 1);
    CHECK_INT(h.content_length, -1);
    CHECK_INT(f.n, 0);
    /* both framings: the connection is not used again (RFC 9112, 6.3) */
    CHECK_INT(h.keep_alive, 0);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &h, &f), 0);
    CHECK_INT(h.keep_alive, 1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &h, &f), -1);
}

static void test_hop_by_hop_dropped(void) {
    lux_http_resp h;
    fields f;
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Priv\r\nX-Priv: a\r\n"
                    "Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nX-Pub: b\r\nTE: trailers\r\n\r\n",
                    &h, &f),
              0);
    CHECK_STR(f.text, "X-Pub=b;");
}

/* Connection names its hop-by-hop fields after them too, in a head of any length. */
static void test_connection_named_after_the_field(void) {
    lux_http_resp h;
    fields f;
    CHECK_INT(
        parse("HTTP/1.1 200 OK\r\nX-Priv: a\r\nX-Pub: b\r\nConnection: X-Priv\r\n\r\n", &h, &f), 0);
    CHECK_STR(f.text, "X-Pub=b;");
    char head[4096] = "HTTP/1.1 200 OK\r\nX-Priv: a\r\n";
    for (int i = 0; i < 70; i++)
        snprintf(head + strlen(head), sizeof head - strlen(head), "X-%d: %d\r\n", i, i);
    snprintf(head + strlen(head), sizeof head - strlen(head), "Connection: X-Priv\r\n\r\n");
    CHECK_INT(parse(head, &h, &f), 0);
    CHECK_INT(f.n, 70);
    CHECK_INT(strncmp(f.text, "X-0=0;X-1=1;", 12), 0);
}

/* A 101's protocol is dropped as a field like any Upgrade, but kept aside for a tunnel. */
static void test_upgrade_value_kept(void) {
    lux_http_resp h;
    fields f;
    CHECK_INT(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: k\r\n\r\n",
                    &h, &f),
              0);
    CHECK_INT(h.status, 101);
    CHECK(h.upgrade != NULL && h.upgrade_len == 9 && !memcmp(h.upgrade, "websocket", 9));
    CHECK_STR(f.text, "Sec-WebSocket-Accept=k;");
    CHECK_INT(parse("HTTP/1.1 200 OK\r\n\r\n", &h, &f), 0);
    CHECK(h.upgrade == NULL);
}

static void test_broken_heads(void) {
    lux_http_resp h;
    fields f;
    CHECK_INT(parse("HTTP/2.0 200 OK\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 20 OK\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 200OK\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 700 Odd\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &h, &f),
              -1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &h, &f), -1);
    CHECK_INT(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", &h, &f),
              0);
    CHECK_INT(parse("HTTP/1.1 200\r\n\r\n", &h, &f), 0);
}

int main(void) {
    RUN(test_length_and_keep_alive);
    RUN(test_chunked_wins_over_length);
    RUN(test_hop_by_hop_dropped);
    RUN(test_upgrade_value_kept);
    RUN(test_connection_named_after_the_field);
    RUN(test_broken_heads);
    T_EXIT();
}
