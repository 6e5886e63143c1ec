/*
 * WebSocket framing: the accept token of RFC 6455's own example, frame heads of each length
 * form, and the decoder on whole, split and fragmented input, with every violation the RFC
 * names answered by the right close code.
 */
#include <stdlib.h>

#include "http/ws_frame.h"
#include "t.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client's frame: head byte b0 (FIN, RSV, opcode), masked payload. */
static size_t client_frame(uint8_t *out, int b0, const void *payload, size_t n) {
    size_t h = 0;
    out[h++] = (uint8_t)b0;
    if (n < 126) {
        out[h++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xFFFF) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    memcpy(out + h, MASK, 4);
    h += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++)
        out[h + i] = p[i] ^ MASK[i & 3];
    return h + n;
}

/* What a whole input decodes to, fed in pieces of `piece` bytes (0: at once): the data of
 * each message joined, control frames as "<op:payload>", a message end as "|", and an error
 * as "!code". */
static char *run(lux_ws_decoder *d, const uint8_t *in, size_t len, size_t piece) {
    static char out[1 << 18];
    size_t o = 0;
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, in, len);
    size_t at = 0;
    while (at < len) {
        size_t n = piece && piece < len - at ? piece : len - at;
        size_t off = 0;
        for (;;) {
            size_t used = 0;
            lux_ws_event ev;
            lux_ws_ev e = lux_ws_decode(d, copy + at + off, n - off, &used, &ev);
            off += used;
            if (e == LUX_WS_MORE)
                break;
            if (e == LUX_WS_ERROR) {
                o += (size_t)snprintf(out + o, sizeof out - o, "!%u", ev.code);
                free(copy);
                return out;
            }
            if (e == LUX_WS_DATA) {
                memcpy(out + o, ev.data, ev.len);
                o += ev.len;
                if (ev.last)
                    out[o++] = '|';
            } else {
                o += (size_t)snprintf(out + o, sizeof out - o, "<%d:%.*s>", ev.opcode, (int)ev.len,
                                      (const char *)ev.data);
                if (ev.opcode == LUX_WS_CLOSE)
                    o += (size_t)snprintf(out + o, sizeof out - o, "%u", ev.code);
            }
        }
        at += n;
    }
    out[o] = '\0';
    free(copy);
    return out;
}

/* The same input at once, in single bytes and in pieces of 3 and 7 gives want each time. */
static void check_decodes(const uint8_t *in, size_t len, uint64_t max, const char *want) {
    static const size_t pieces[] = {0, 1, 3, 7};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        lux_ws_decoder d;
        lux_ws_decoder_init(&d, max);
        CHECK_STR(run(&d, in, len, pieces[i]), want);
    }
}

static void test_accept_of_the_rfc_example(void) {
    char out[LUX_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    CHECK_INT(lux_ws_accept(key, strlen(key), out), 0);
    CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_accept_refuses_keys_not_of_16_bytes(void) {
    char out[LUX_WS_ACCEPT_LEN + 1];
    const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",   /* short */
        "dGhlIHNhbXBsZSBub25jZQ===", /* long */
        "dGhlIHNhbXBsZSBub25jZQAA",  /* no padding */
        "dGhlIHNhbXBsZSBub25jZR==",  /* pad bits set: not canonical */
        "dGhlIHNhbXBsZSBub25j*Q==",  /* not base64 */
        "dGhlIHNhbXBsZSBub2 5jZQ==", /* a blank inside */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(lux_ws_accept(bad[i], strlen(bad[i]), out), -1);
}

/* A key lux makes for a backend is one a server accepts, and not the same twice. */
static void test_new_keys_are_valid_and_differ(void) {
    char a[LUX_WS_KEY_LEN + 1], b[LUX_WS_KEY_LEN + 1], out[LUX_WS_ACCEPT_LEN + 1];
    CHECK_INT(lux_ws_new_key(a), 0);
    CHECK_INT(lux_ws_new_key(b), 0);
    CHECK_INT((int)strlen(a), LUX_WS_KEY_LEN);
    CHECK_INT(lux_ws_accept(a, strlen(a), out), 0);
    CHECK_INT(lux_ws_accept(b, strlen(b), out), 0);
    CHECK_INT(strcmp(a, b) != 0, 1);
}

static void test_head_length_forms(void) {
    uint8_t h[LUX_WS_HEAD_MAX];
    CHECK_INT(lux_ws_head(h, LUX_WS_TEXT, 1, 0), 2);
    CHECK_INT(h[0], 0x81);
    CHECK_INT(h[1], 0);
    CHECK_INT(lux_ws_head(h, LUX_WS_BINARY, 0, 125), 2);
    CHECK_INT(h[0], 0x02);
    CHECK_INT(h[1], 125);
    CHECK_INT(lux_ws_head(h, LUX_WS_BINARY, 1, 126), 4);
    CHECK_INT(h[1], 126);
    CHECK_INT(h[2] << 8 | h[3], 126);
    CHECK_INT(lux_ws_head(h, LUX_WS_BINARY, 1, 65535), 4);
    CHECK_INT(h[2] << 8 | h[3], 65535);
    CHECK_INT(lux_ws_head(h, LUX_WS_CLOSE, 1, 65536), 10);
    CHECK_INT(h[0], 0x88);
    CHECK_INT(h[1], 127);
    CHECK_INT(h[7], 1);
    CHECK_INT(h[8] | h[9], 0);
}

static void test_rfc_single_masked_text_frame(void) {
    /* section 5.7: a single-frame masked text message of "Hello" */
    const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    check_decodes(in, sizeof in, 0, "Hello|");
}

static void test_fragments_with_a_ping_between(void) {
    uint8_t in[128];
    size_t n = client_frame(in, 0x01, "Hel", 3);
    n += client_frame(in + n, 0x89, "x", 1);
    n += client_frame(in + n, 0x00, "", 0);
    n += client_frame(in + n, 0x80, "lo", 2);
    n += client_frame(in + n, 0x82, "", 0);
    n += client_frame(in + n, 0x8A, "", 0);
    check_decodes(in, n, 0, "Hel<9:x>lo||<10:>");
}

static void test_lengths_of_each_form_unmask_right(void) {
    static const size_t sizes[] = {125, 126, 65535, 65536, 70001};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint8_t *payload = malloc(len), *in = malloc(len + 14);
        char *want = malloc(len + 2);
        for (size_t i = 0; i < len; i++)
            payload[i] = want[i] = (char)('a' + i % 26);
        want[len] = '|';
        want[len + 1] = '\0';
        size_t n = client_frame(in, 0x82, payload, len);
        check_decodes(in, n, 0, want);
        free(payload);
        free(in);
        free(want);
    }
}

static void test_utf8_across_fragments(void) {
    uint8_t in[64];
    /* "€" (E2 82 AC) split over two fragments */
    size_t n = client_frame(in, 0x01, "a\xE2\x82", 3);
    n += client_frame(in + n, 0x80, "\xAC", 1);
    check_decodes(in, n, 0, "a\xE2\x82\xAC|");
    /* binary messages are not text: any bytes go */
    n = client_frame(in, 0x82, "\xC0\x80\xFF", 3);
    check_decodes(in, n, 0, "\xC0\x80\xFF|");
}

static void test_invalid_utf8_is_1007(void) {
    const char *bad[] = {
        "\xC0\x80",         /* overlong NUL */
        "\xE0\x80\xAF",     /* overlong "/" */
        "\xED\xA0\x80",     /* a surrogate */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xFF",
        "ok\xE2\x82", /* a sequence cut by the message's end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t in[64];
        size_t n = client_frame(in, 0x81, bad[i], strlen(bad[i]));
        lux_ws_decoder d;
        lux_ws_decoder_init(&d, 0);
        const char *got = run(&d, in, n, 0);
        CHECK(strstr(got, "!1007") != NULL);
    }
    /* the valid bytes before the bad one come out, however the input was split */
    uint8_t in[64];
    size_t n = client_frame(in, 0x81, "ok\xE2\x82", 4);
    check_decodes(in, n, 0, "ok\xE2\x82!1007");
    n = client_frame(in, 0x81, "abc\xFF" "def", 7);
    check_decodes(in, n, 0, "abc!1007");
}

static void test_protocol_violations_are_1002(void) {
    uint8_t in[64], unmasked[] = {0x81, 0x01, 'a'};
    check_decodes(unmasked, sizeof unmasked, 0, "!1002");
    size_t n = client_frame(in, 0xC1, "a", 1); /* RSV1 */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x83, "a", 1); /* reserved data opcode */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x8B, "a", 1); /* reserved control opcode */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x09, "a", 1); /* a fragmented ping */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x80, "a", 1); /* a continuation of nothing */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x01, "a", 1);
    n += client_frame(in + n, 0x81, "b", 1); /* a new message inside one */
    check_decodes(in, n, 0, "a!1002");
    uint8_t long_ping[] = {0x89, 0x80 | 126, 0, 126, 0, 0, 0, 0};
    check_decodes(long_ping, sizeof long_ping, 0, "!1002");
    uint8_t huge[] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    check_decodes(huge, sizeof huge, 0, "!1002");
}

static void test_message_over_the_bound_is_1009(void) {
    uint8_t in[64];
    size_t n = client_frame(in, 0x02, "123456", 6);
    n += client_frame(in + n, 0x80, "789", 3);
    check_decodes(in, n, 9, "123456789|");
    check_decodes(in, n, 8, "123456!1009");
    /* control frames do not count toward a message */
    n = client_frame(in, 0x02, "1234", 4);
    n += client_frame(in + n, 0x89, "pingpayload", 11);
    n += client_frame(in + n, 0x80, "5678", 4);
    check_decodes(in, n, 8, "1234<9:pingpayload>5678|");
}

static void test_close_frames(void) {
    uint8_t in[64];
    size_t n = client_frame(in, 0x88,
                            "\x03\xE8"
                            "bye",
                            5);
    n += client_frame(in + n, 0x81, "ignored", 7);
    check_decodes(in, n, 0,
                  "<8:\x03\xE8"
                  "bye>1000");
    n = client_frame(in, 0x88, "", 0);
    check_decodes(in, n, 0, "<8:>1005");
    n = client_frame(in, 0x88, "\x03", 1);
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x88, "\x03\xED", 2); /* 1005 is never sent */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x88, "\x03\xE7", 2); /* 999 */
    check_decodes(in, n, 0, "!1002");
    n = client_frame(in, 0x88, "\x0F\xA0", 2); /* 4000: for applications */
    check_decodes(in, n, 0, "<8:\x0F\xA0>4000");
    n = client_frame(in, 0x88, "\x03\xE8\xFF", 3);
    check_decodes(in, n, 0, "!1007");
}

static void test_error_is_final(void) {
    uint8_t in[] = {0x81, 0x01, 'a'};
    lux_ws_decoder d;
    lux_ws_decoder_init(&d, 0);
    size_t used = 99;
    lux_ws_event ev;
    CHECK_INT(lux_ws_decode(&d, in, sizeof in, &used, &ev), LUX_WS_ERROR);
    CHECK_INT(ev.code, 1002);
    CHECK_INT(lux_ws_decode(&d, in, sizeof in, &used, &ev), LUX_WS_ERROR);
    CHECK_INT(used, 0);
    CHECK_INT(ev.code, 1002);
}

int main(void) {
    RUN(test_accept_of_the_rfc_example);
    RUN(test_accept_refuses_keys_not_of_16_bytes);
    RUN(test_new_keys_are_valid_and_differ);
    RUN(test_head_length_forms);
    RUN(test_rfc_single_masked_text_frame);
    RUN(test_fragments_with_a_ping_between);
    RUN(test_lengths_of_each_form_unmask_right);
    RUN(test_utf8_across_fragments);
    RUN(test_invalid_utf8_is_1007);
    RUN(test_protocol_violations_are_1002);
    RUN(test_message_over_the_bound_is_1009);
    RUN(test_close_frames);
    RUN(test_error_is_final);
    T_EXIT();
}
