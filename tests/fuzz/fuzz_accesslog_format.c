/*
 * accesslog.format: compile arbitrary format strings and render them against client-controlled
 * request data. Input: one byte of escaping choice, the format, a NUL, then the request data
 * (split on NUL into target, Host, a header value, a cookie header and a query).
 * Invariants: a failed compile says why; rendering is deterministic and its length does not
 * depend on the buffer size; client data never puts a raw control byte into a line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mod/accesslog_format.h"

static size_t next_piece(const uint8_t **p, const uint8_t *end, lux_str *out) {
    const uint8_t *s = *p;
    const uint8_t *z = s < end ? memchr(s, 0, (size_t)(end - s)) : NULL;
    const uint8_t *e = z ? z : end;
    *out = (lux_str){(const char *)s, (size_t)(e - s)};
    *p = z ? z + 1 : end;
    return out->len;
}

static void check_render(const lux_alog_format *f, lux_alog_escaping esc, const lux_alog_rec *r,
                         int client_only) {
    static char a[1 << 16], b[1 << 16];
    size_t n = lux_alog_render(f, esc, r, a, sizeof a);
    size_t m = lux_alog_render(f, esc, r, NULL, 0);
    if (n != m)
        abort();
    /* A line may need more than both buffers hold: render half of it, at most all of b, and
     * compare only bytes a really received. */
    size_t held = n < sizeof a ? n : sizeof a;
    size_t small = n / 2 < sizeof b ? n / 2 : sizeof b;
    if (lux_alog_render(f, esc, r, b, small) != n || memcmp(a, b, small) != 0)
        abort();
    if (!client_only)
        return;
    for (size_t i = 0; i < held; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c < 0x20 || (esc == LUX_ALOG_ESC_DEFAULT && c >= 0x7f))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    lux_alog_escaping esc = data[0] & 1 ? LUX_ALOG_ESC_JSON : LUX_ALOG_ESC_DEFAULT;
    const uint8_t *p = data + 1, *end = data + size;
    lux_str fmt, target, host, ua, cookie, query;
    next_piece(&p, end, &fmt);
    next_piece(&p, end, &target);
    next_piece(&p, end, &host);
    next_piece(&p, end, &ua);
    next_piece(&p, end, &cookie);
    next_piece(&p, end, &query);

    lux_header h[] = {{{"User-Agent", 10}, ua}, {{"Cookie", 6}, cookie}, {{"Host", 4}, host}};
    lux_alog_rec r = {
        .remote_addr = {"2001:db8::7", 11},
        .remote_port = 1234,
        .local_addr = {"127.0.0.1", 9},
        .local_port = {"80", 2},
        .method = {"GET", 3},
        .target = target,
        .version = 11,
        .url = target,
        .query = query,
        .host = host,
        .server_name = host,
        .filename = target,
        .req_headers = h,
        .nreq_headers = 3,
        .resp_headers = h,
        .nresp_headers = 1,
        .status = 200,
        .bytes_in = 10,
        .bytes_out = 100,
        .body_out = 50,
        .conn_status = '+',
        .start = {1000, 999999999},
        .end = {1001, 1},
    };

    lux_pool pool;
    lux_pool_init(&pool, 4096);
    char err[256] = "";
    lux_alog_format *f = lux_alog_compile(&pool, fmt.ptr, fmt.len, err, sizeof err);
    if (!f && !err[0])
        abort();
    if (f)
        check_render(f, esc, &r, 0);
    static const char client[] = "%r %U %q %V %v %{User-Agent}i %{Cookie}i %{a}C %f %m %H "
                                 "%{Host}o %u %{mask}a";
    lux_alog_format *c = lux_alog_compile(&pool, client, sizeof client - 1, err, sizeof err);
    if (!c)
        abort();
    check_render(c, esc, &r, 1);
    lux_pool_free(&pool);
    return 0;
}
