#include "upstream/scgi.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int is_content_length(const lux_cgi_var *v) {
    return v->name.len == 14 && !memcmp(v->name.ptr, "CONTENT_LENGTH", 14);
}

static int put_pair(lux_ups_buf *b, const char *name, size_t nlen, const char *value, size_t vlen) {
    return lux_ups_buf_put(b, name, nlen) | lux_ups_buf_put(b, "", 1) |
           lux_ups_buf_put(b, value, vlen) | lux_ups_buf_put(b, "", 1);
}

int lux_scgi_head(lux_ups_buf *out, const lux_cgi_var *vars, size_t n, uint64_t content_length) {
    lux_ups_buf h = {0};
    char len[24];
    int l = snprintf(len, sizeof len, "%" PRIu64, content_length);
    int rc = put_pair(&h, "CONTENT_LENGTH", 14, len, (size_t)l) | put_pair(&h, "SCGI", 4, "1", 1);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!is_content_length(&vars[i]))
            rc = put_pair(&h, vars[i].name.ptr, vars[i].name.len, vars[i].value.ptr,
                          vars[i].value.len);
    char prefix[24];
    int pl = snprintf(prefix, sizeof prefix, "%zu:", h.len);
    if (rc == 0)
        rc = lux_ups_buf_put(out, prefix, (size_t)pl) | lux_ups_buf_put(out, h.data, h.len) |
             lux_ups_buf_put(out, ",", 1);
    lux_ups_buf_free(&h);
    return rc ? -1 : 0;
}

static int put_u16(lux_ups_buf *b, size_t v) {
    unsigned char le[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    return lux_ups_buf_put(b, le, 2);
}

int lux_uwsgi_head(lux_ups_buf *out, const lux_cgi_var *vars, size_t n) {
    lux_ups_buf h = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const lux_cgi_var *v = &vars[i];
        if (v->name.len > 0xffff || v->value.len > 0xffff) {
            rc = -1;
            break;
        }
        rc = put_u16(&h, v->name.len) | lux_ups_buf_put(&h, v->name.ptr, v->name.len) |
             put_u16(&h, v->value.len) | lux_ups_buf_put(&h, v->value.ptr, v->value.len);
    }
    if (rc == 0 && h.len > 0xffff)
        rc = -1;
    if (rc == 0) {
        unsigned char hdr[4] = {0, (unsigned char)h.len, (unsigned char)(h.len >> 8), 0};
        rc = lux_ups_buf_put(out, hdr, 4) | lux_ups_buf_put(out, h.data, h.len);
    }
    lux_ups_buf_free(&h);
    return rc ? -1 : 0;
}
