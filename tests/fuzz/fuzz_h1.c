/*
 * HTTP/1 request-head parser: slices stay inside the input, limits hold, and a prefix of the
 * input never gives an answer other than "incomplete" or the whole input's answer.
 * The first byte picks the header capacity and the empty-line allowance.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1/h1_parser.h"

#define MAXH 32

static void fail(void)
{
    abort();
}

static int within(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static int has_byte(const char *p, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(set, p[i]) && p[i])
            return 1;
    return memchr(p, 0, n) != NULL;
}

static int run(const char *buf, size_t len, size_t cap, int max_empty, lux_h1_request *req,
               lux_h1_header *h)
{
    memset(req, 0, sizeof(*req));
    req->headers = h;
    req->num_headers = cap;
    return lux_h1_parse_request(buf, len, req, max_empty);
}

static void check_whole(const char *buf, size_t len, size_t cap, int r, const lux_h1_request *req)
{
    if (r == -1) {
        if (req->status != 400 && req->status != 431 && req->status != 505)
            fail();
        if (!req->reason || !req->reason[0])
            fail();
        if (req->status == 431 && req->num_headers != cap)
            fail();
        return;
    }
    if (r == -2)
        return;
    if (r <= 0 || (size_t)r > len || req->num_headers > cap)
        fail();
    if (buf[r - 1] != '\n')
        fail();
    if (!req->method_len || !within(req->method, req->method_len, buf, (size_t)r))
        fail();
    if (!req->target_len || !within(req->target, req->target_len, buf, (size_t)r))
        fail();
    if (has_byte(req->target, req->target_len, " \t\r\n\x7f"))
        fail();
    if (req->minor_version != 0 && req->minor_version != 1)
        fail();
    for (size_t i = 0; i < req->num_headers; i++) {
        const lux_h1_header *f = &req->headers[i];
        if (!f->name_len || !within(f->name, f->name_len, buf, (size_t)r))
            fail();
        if (!within(f->value, f->value_len, buf, (size_t)r))
            fail();
        if (has_byte(f->name, f->name_len, " \t\r\n:"))
            fail();
        if (has_byte(f->value, f->value_len, "\r\n"))
            fail();
        if (f->value_len && (f->value[0] == ' ' || f->value[0] == '\t' ||
                             f->value[f->value_len - 1] == ' ' ||
                             f->value[f->value_len - 1] == '\t'))
            fail();
    }
}

static void check_prefix(const char *buf, size_t k, size_t cap, int max_empty, int whole,
                         int whole_status)
{
    /* an exact-size copy so that reading past k is caught */
    char *copy = malloc(k ? k : 1);
    if (!copy)
        return;
    memcpy(copy, buf, k);
    lux_h1_request req;
    lux_h1_header h[MAXH];
    int r = run(copy, k, cap, max_empty, &req, h);
    free(copy);
    if (whole > 0) {
        if (k < (size_t)whole ? r != -2 : r != whole)
            fail();
    } else if (whole == -2) {
        if (r != -2)
            fail();
    } else if (r != -2 && !(r == -1 && req.status == whole_status)) {
        fail();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = data[0] % (MAXH + 1);
    int max_empty = (data[0] >> 5) & 3;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;

    lux_h1_request req;
    lux_h1_header h[MAXH];
    int r = run(buf, len, cap, max_empty, &req, h);
    check_whole(buf, len, cap, r, &req);

    /* every prefix of short inputs, a spread of prefixes of long ones */
    size_t step = len <= 512 ? 1 : len / 256;
    for (size_t k = 0; k < len; k += step)
        check_prefix(buf, k, cap, max_empty, r, req.status);
    for (size_t k = len > 8 ? len - 8 : 0; k < len; k++)
        check_prefix(buf, k, cap, max_empty, r, req.status);
    return 0;
}
