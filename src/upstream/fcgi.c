#include "upstream/fcgi.h"

#include <string.h>

static void header(unsigned char h[8], int type, uint16_t id, size_t len, unsigned pad) {
    h[0] = 1; /* FCGI_VERSION_1 */
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(id >> 8);
    h[3] = (unsigned char)id;
    h[4] = (unsigned char)(len >> 8);
    h[5] = (unsigned char)len;
    h[6] = (unsigned char)pad;
    h[7] = 0;
}

int lux_fcgi_begin(lux_ups_buf *out, uint16_t id, int role, int keep_conn) {
    unsigned char rec[16] = {0};
    header(rec, LUX_FCGI_BEGIN_REQUEST, id, 8, 0);
    rec[8] = (unsigned char)(role >> 8);
    rec[9] = (unsigned char)role;
    rec[10] = keep_conn ? 1 : 0; /* FCGI_KEEP_CONN */
    return lux_ups_buf_put(out, rec, sizeof rec);
}

static size_t put_length(unsigned char *d, size_t n) {
    if (n < 128) {
        d[0] = (unsigned char)n;
        return 1;
    }
    d[0] = (unsigned char)((n >> 24) | 0x80);
    d[1] = (unsigned char)(n >> 16);
    d[2] = (unsigned char)(n >> 8);
    d[3] = (unsigned char)n;
    return 4;
}

int lux_fcgi_param(lux_ups_buf *params, const char *name, size_t nlen, const char *value,
                   size_t vlen) {
    if (nlen > 0x7fffffff || vlen > 0x7fffffff)
        return -1;
    unsigned char lens[8];
    size_t l = put_length(lens, nlen);
    l += put_length(lens + l, vlen);
    if (lux_ups_buf_put(params, lens, l) < 0 || lux_ups_buf_put(params, name, nlen) < 0)
        return -1;
    return lux_ups_buf_put(params, value, vlen);
}

int lux_fcgi_stream(lux_ups_buf *out, int type, uint16_t id, const char *p, size_t len) {
    do {
        size_t n = len > LUX_FCGI_MAX_CONTENT ? LUX_FCGI_MAX_CONTENT : len;
        unsigned pad = (unsigned)(-n & 7); /* records end on 8 bytes, as backends prefer */
        unsigned char h[8], zeros[8] = {0};
        header(h, type, id, n, pad);
        if (lux_ups_buf_put(out, h, 8) < 0 || lux_ups_buf_put(out, p, n) < 0 ||
            lux_ups_buf_put(out, zeros, pad) < 0)
            return -1;
        p += n;
        len -= n;
    } while (len);
    return 0;
}

void lux_fcgi_parser_init(lux_fcgi_parser *p, uint16_t id) {
    memset(p, 0, sizeof *p);
    p->id = id;
}

/* The header is complete: start its record. */
static lux_fcgi_ev start_record(lux_fcgi_parser *p) {
    if (p->hdr[0] != 1)
        return LUX_FCGI_EV_ERROR;
    p->type = p->hdr[1];
    p->rec_id = (uint16_t)(p->hdr[2] << 8 | p->hdr[3]);
    p->content_left = (size_t)p->hdr[4] << 8 | p->hdr[5];
    p->padding_left = p->hdr[6];
    p->end_have = 0;
    if (p->type == LUX_FCGI_END_REQUEST && p->rec_id == p->id && p->content_left != 8)
        return LUX_FCGI_EV_ERROR;
    return LUX_FCGI_EV_MORE;
}

/* The record (content and padding) is over: the next header comes. */
static lux_fcgi_ev finish_record(lux_fcgi_parser *p) {
    p->hdr_have = 0;
    if (p->type != LUX_FCGI_END_REQUEST || p->rec_id != p->id)
        return LUX_FCGI_EV_MORE;
    const unsigned char *b = p->end_body;
    p->app_status = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    p->protocol_status = b[4];
    return LUX_FCGI_EV_END;
}

lux_fcgi_ev lux_fcgi_parse(lux_fcgi_parser *p, const char *buf, size_t len, size_t *used) {
    size_t i = 0;
    for (;;) {
        if (p->hdr_have < 8) {
            if (i == len)
                break;
            size_t n = 8 - p->hdr_have < len - i ? 8 - p->hdr_have : len - i;
            memcpy(p->hdr + p->hdr_have, buf + i, n);
            p->hdr_have += (unsigned)n;
            i += n;
            if (p->hdr_have < 8)
                break;
            if (start_record(p) == LUX_FCGI_EV_ERROR) {
                *used = i;
                return LUX_FCGI_EV_ERROR;
            }
        }
        if (p->content_left) {
            if (i == len)
                break;
            size_t n = p->content_left < len - i ? p->content_left : len - i;
            const char *d = buf + i;
            i += n;
            p->content_left -= n;
            if (p->rec_id != p->id)
                continue;
            if (p->type == LUX_FCGI_STDOUT || p->type == LUX_FCGI_STDERR) {
                p->data = d;
                p->len = n;
                *used = i;
                return p->type == LUX_FCGI_STDOUT ? LUX_FCGI_EV_STDOUT : LUX_FCGI_EV_STDERR;
            }
            if (p->type == LUX_FCGI_END_REQUEST) {
                memcpy(p->end_body + p->end_have, d, n);
                p->end_have += (unsigned)n;
            }
            continue;
        }
        if (p->padding_left) {
            if (i == len)
                break;
            size_t n = p->padding_left < len - i ? p->padding_left : len - i;
            i += n;
            p->padding_left -= n;
            if (p->padding_left)
                continue;
        }
        lux_fcgi_ev ev = finish_record(p);
        if (ev != LUX_FCGI_EV_MORE) {
            *used = i;
            return ev;
        }
    }
    *used = i;
    return LUX_FCGI_EV_MORE;
}
