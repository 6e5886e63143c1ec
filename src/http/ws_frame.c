/*
 * WebSocket framing: see ws_frame.h. The decoder is a small state machine over the frame head
 * (collected byte by byte, since a head may arrive split), then the payload: a data frame's
 * payload is unmasked where it lies and handed out in as many pieces as it arrives in; a
 * control frame's (at most 125 bytes) is gathered first, so it comes out whole.
 */
#include "http/ws_frame.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

/* Section 1.3: the GUID a server appends to the key before hashing it. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Is key the canonical base64 of exactly 16 bytes? 22 characters carry 132 bits, so the last
 * one's four low bits are padding and must be zero ("A", "Q", "g" or "w"), then "==". */
static int key_is_16_bytes(const char *key, size_t len) {
    if (len != 24 || key[22] != '=' || key[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++)
        if (!base64_char(key[i]))
            return 0;
    return strchr("AQgw", key[21]) != NULL;
}

int lux_ws_accept(const char *key, size_t len, char out[LUX_WS_ACCEPT_LEN + 1]) {
    if (!key_is_16_bytes(key, len))
        return -1;
    char joined[24 + sizeof ws_guid];
    memcpy(joined, key, 24);
    memcpy(joined + 24, ws_guid, sizeof ws_guid - 1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!EVP_Digest(joined, 24 + sizeof ws_guid - 1, digest, &dlen, EVP_sha1(), NULL) || dlen != 20)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, digest, 20) == LUX_WS_ACCEPT_LEN ? 0 : -1;
}

int lux_ws_new_key(char out[LUX_WS_KEY_LEN + 1]) {
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, nonce, sizeof nonce) == LUX_WS_KEY_LEN ? 0 : -1;
}

size_t lux_ws_head(uint8_t out[LUX_WS_HEAD_MAX], int opcode, int fin, uint64_t len) {
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

void lux_ws_decoder_init(lux_ws_decoder *d, uint64_t max_message) {
    memset(d, 0, sizeof *d);
    d->max_message = max_message;
    d->head_want = 2;
}

/* XOR p[0, n) with the mask, starting at mask byte *at; eight bytes at a time once aligned on
 * the mask's period. */
static void unmask(uint8_t *p, size_t n, const uint8_t mask[4], unsigned *at) {
    size_t i = 0;
    unsigned k = *at;
    while (i < n && (k & 3)) {
        p[i++] ^= mask[k & 3];
        k++;
    }
    if (n - i >= 8) {
        const uint8_t m8[8] = {mask[0], mask[1], mask[2], mask[3],
                               mask[0], mask[1], mask[2], mask[3]};
        uint64_t w, v;
        memcpy(&w, m8, 8);
        for (; n - i >= 8; i += 8) {
            memcpy(&v, p + i, 8);
            v ^= w;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < n; i++, k++)
        p[i] ^= mask[k & 3];
    *at = k & 3;
}

/* Section 8.1 asks for valid UTF-8 in text. A streaming check: how many continuation bytes
 * are still due, and the range the next one must fall in (narrower right after a lead byte,
 * which rules out overlong forms, surrogates and code points above U+10FFFF). Returns how
 * many of the bytes are valid: n, or the offset of the first bad one. */
static size_t utf8_valid(lux_ws_decoder *d, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (d->utf8_need) {
            if (c < d->utf8_lo || c > d->utf8_hi)
                return i;
            d->utf8_need--;
            d->utf8_lo = 0x80;
            d->utf8_hi = 0xBF;
            continue;
        }
        if (c < 0x80)
            continue;
        d->utf8_lo = 0x80;
        d->utf8_hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            d->utf8_need = 1;
        else if (c == 0xE0)
            d->utf8_need = 2, d->utf8_lo = 0xA0;
        else if (c == 0xED)
            d->utf8_need = 2, d->utf8_hi = 0x9F;
        else if (c >= 0xE1 && c <= 0xEF)
            d->utf8_need = 2;
        else if (c == 0xF0)
            d->utf8_need = 3, d->utf8_lo = 0x90;
        else if (c == 0xF4)
            d->utf8_need = 3, d->utf8_hi = 0x8F;
        else if (c >= 0xF1 && c <= 0xF3)
            d->utf8_need = 3;
        else
            return i;
    }
    return n;
}

static void utf8_reset(lux_ws_decoder *d) {
    d->utf8_need = 0;
    d->utf8_lo = 0x80;
    d->utf8_hi = 0xBF;
}

static int is_control(int opcode) {
    return opcode >= 0x8;
}

/* The first two bytes of a head: 0 or the close code that refuses the frame. */
static unsigned check_first_bytes(lux_ws_decoder *d) {
    uint8_t b0 = d->head[0], b1 = d->head[1];
    d->fin = b0 >> 7;
    d->opcode = b0 & 0x0F;
    unsigned len7 = b1 & 0x7F;
    if (b0 & 0x70)
        return LUX_WS_CLOSE_PROTOCOL; /* an extension bit, and none was negotiated */
    if (!(b1 & 0x80))
        return LUX_WS_CLOSE_PROTOCOL; /* a client's frames are masked (section 5.1) */
    if (is_control(d->opcode)) {
        if (d->opcode != LUX_WS_CLOSE && d->opcode != LUX_WS_PING && d->opcode != LUX_WS_PONG)
            return LUX_WS_CLOSE_PROTOCOL;
        if (!d->fin || len7 > 125)
            return LUX_WS_CLOSE_PROTOCOL; /* control frames are whole and short (5.5) */
    } else if (d->opcode == LUX_WS_CONTINUATION) {
        if (!d->message)
            return LUX_WS_CLOSE_PROTOCOL; /* a fragment of no message */
    } else if (d->opcode == LUX_WS_TEXT || d->opcode == LUX_WS_BINARY) {
        if (d->message)
            return LUX_WS_CLOSE_PROTOCOL; /* a new message inside a fragmented one */
    } else {
        return LUX_WS_CLOSE_PROTOCOL; /* a reserved opcode */
    }
    d->head_want = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    return 0;
}

/* The whole head is in: its length and mask. 0 or the close code that refuses the frame. */
static unsigned take_head(lux_ws_decoder *d) {
    unsigned len7 = d->head[1] & 0x7F;
    uint64_t len = len7;
    const uint8_t *p = d->head + 2;
    if (len7 == 126) {
        len = (uint64_t)p[0] << 8 | p[1];
        p += 2;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[i];
        p += 8;
        if (len >> 63)
            return LUX_WS_CLOSE_PROTOCOL; /* the most significant bit must be 0 */
    }
    memcpy(d->mask, p, 4);
    d->mask_at = 0;
    d->left = len;
    d->in_payload = 1;
    d->control_len = 0;
    if (!is_control(d->opcode)) {
        if (d->opcode != LUX_WS_CONTINUATION) {
            d->message = d->opcode;
            d->message_len = 0;
            utf8_reset(d);
        }
        if (d->max_message && len > d->max_message - d->message_len)
            return LUX_WS_CLOSE_TOO_BIG;
        d->message_len += len;
    }
    return 0;
}

static void next_frame(lux_ws_decoder *d) {
    d->in_payload = 0;
    d->head_len = 0;
    d->head_want = 2;
}

static int close_code_allowed(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* A whole control frame: 0 with ev filled, or the close code that refuses it. */
static unsigned control_event(lux_ws_decoder *d, lux_ws_event *ev) {
    ev->opcode = d->opcode;
    ev->data = d->control;
    ev->len = d->control_len;
    if (d->opcode != LUX_WS_CLOSE)
        return 0;
    if (d->control_len == 0) {
        ev->code = LUX_WS_CLOSE_NO_STATUS;
    } else {
        if (d->control_len == 1)
            return LUX_WS_CLOSE_PROTOCOL;
        ev->code = (unsigned)d->control[0] << 8 | d->control[1];
        if (!close_code_allowed(ev->code))
            return LUX_WS_CLOSE_PROTOCOL;
        utf8_reset(d);
        size_t reason = d->control_len - 2;
        if (utf8_valid(d, d->control + 2, reason) != reason || d->utf8_need)
            return LUX_WS_CLOSE_BAD_DATA;
    }
    d->closed = 1;
    return 0;
}

static lux_ws_ev fail(lux_ws_decoder *d, unsigned code, lux_ws_event *ev) {
    d->failed = (int)code;
    ev->code = code;
    return LUX_WS_ERROR;
}

lux_ws_ev lux_ws_decode(lux_ws_decoder *d, uint8_t *buf, size_t len, size_t *used,
                        lux_ws_event *ev) {
    size_t at = 0;
    unsigned code;
    memset(ev, 0, sizeof *ev);
    *used = 0;
    if (d->failed)
        return fail(d, (unsigned)d->failed, ev);
    for (;;) {
        if (d->closed) {
            *used = len; /* nothing may follow a close frame: ignore it */
            return LUX_WS_MORE;
        }
        if (!d->in_payload) {
            while (d->head_len < d->head_want && at < len)
                d->head[d->head_len++] = buf[at++];
            *used = at;
            if (d->head_len < d->head_want)
                return LUX_WS_MORE;
            if (d->head_len == 2) {
                if ((code = check_first_bytes(d)))
                    return fail(d, code, ev);
                continue;
            }
            if ((code = take_head(d)))
                return fail(d, code, ev);
        }
        size_t n = len - at;
        if (n > d->left)
            n = (size_t)d->left;
        if (is_control(d->opcode)) {
            memcpy(d->control + d->control_len, buf + at, n);
            unmask(d->control + d->control_len, n, d->mask, &d->mask_at);
            d->control_len += (unsigned)n;
            d->left -= n;
            *used = at += n;
            if (d->left)
                return LUX_WS_MORE;
            next_frame(d);
            if ((code = control_event(d, ev)))
                return fail(d, code, ev);
            return LUX_WS_CONTROL;
        }
        uint8_t *p = buf + at;
        unmask(p, n, d->mask, &d->mask_at);
        d->left -= n;
        *used = at += n;
        int last = d->left == 0 && d->fin;
        if (d->message == LUX_WS_TEXT) {
            /* The valid bytes before a bad one still go out, and the error with the next
             * call: what the client sees does not depend on how its bytes were split. */
            size_t good = utf8_valid(d, p, n);
            if (good < n || (last && d->utf8_need)) {
                d->failed = LUX_WS_CLOSE_BAD_DATA;
                if (good == 0)
                    return fail(d, LUX_WS_CLOSE_BAD_DATA, ev);
                ev->opcode = d->message;
                ev->data = p;
                ev->len = good;
                return LUX_WS_DATA;
            }
        }
        ev->opcode = d->message;
        if (d->left == 0) {
            next_frame(d);
            if (d->fin)
                d->message = 0;
        }
        if (n == 0 && !last) {
            if (at == len)
                return LUX_WS_MORE;
            continue; /* an empty fragment: nothing to say */
        }
        ev->last = last;
        ev->data = p;
        ev->len = n;
        return LUX_WS_DATA;
    }
}
