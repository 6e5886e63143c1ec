/*
 * WebSocket framing (RFC 6455) for the server's side: the opening handshake's accept token, a
 * decoder for what a client sends, and the frame head of what the server sends. Pure: bytes in,
 * events out; no sockets, no allocation.
 *
 * The decoder takes masked frames only (a client must mask, section 5.1), no extension bits
 * (lux negotiates none), fragmented messages with control frames between the fragments, and
 * checks text messages as UTF-8 across fragments (section 8.1). It reports the first violation
 * with the close code to answer it with, and then takes nothing more.
 */
#ifndef LUX_WS_FRAME_H
#define LUX_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define LUX_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define LUX_WS_HEAD_MAX 10   /* an unmasked frame head: 2 bytes and a 64-bit length */

enum {
    LUX_WS_CONTINUATION = 0x0,
    LUX_WS_TEXT = 0x1,
    LUX_WS_BINARY = 0x2,
    LUX_WS_CLOSE = 0x8,
    LUX_WS_PING = 0x9,
    LUX_WS_PONG = 0xA,
};

/* Close codes (section 7.4.1). */
enum {
    LUX_WS_CLOSE_NORMAL = 1000,
    LUX_WS_CLOSE_GOING_AWAY = 1001,
    LUX_WS_CLOSE_PROTOCOL = 1002,
    LUX_WS_CLOSE_NO_STATUS = 1005, /* never sent: a close frame without a code */
    LUX_WS_CLOSE_BAD_DATA = 1007,
    LUX_WS_CLOSE_TOO_BIG = 1009,
};

/* The Sec-WebSocket-Accept value for a request's Sec-WebSocket-Key (surrounding blanks
 * already trimmed): 0, or -1 when the key is not the base64 of 16 bytes. out gets
 * LUX_WS_ACCEPT_LEN characters and a NUL. */
int lux_ws_accept(const char *key, size_t len, char out[LUX_WS_ACCEPT_LEN + 1]);

/* A client's Sec-WebSocket-Key (base64 of 16 random bytes), for a gateway that opens the
 * handshake toward its backend itself: 0, or -1 when no random bytes were to be had. out gets
 * LUX_WS_KEY_LEN characters and a NUL. */
#define LUX_WS_KEY_LEN 24
int lux_ws_new_key(char out[LUX_WS_KEY_LEN + 1]);

/* The head of an unmasked frame carrying len payload bytes: its length in out. */
size_t lux_ws_head(uint8_t out[LUX_WS_HEAD_MAX], int opcode, int fin, uint64_t len);

typedef enum {
    LUX_WS_MORE,    /* every byte given was taken: call again when more arrive */
    LUX_WS_DATA,    /* payload of a text or binary message, unmasked in place */
    LUX_WS_CONTROL, /* a whole ping, pong or close frame */
    LUX_WS_ERROR,   /* the client broke the protocol; ev->code is the close code to answer */
} lux_ws_ev;

typedef struct {
    int opcode;          /* DATA: the message's (TEXT or BINARY); CONTROL: the frame's */
    int last;            /* DATA: the message ends with these bytes */
    unsigned code;       /* CONTROL close: its code (LUX_WS_CLOSE_NO_STATUS if none); ERROR */
    const uint8_t *data; /* DATA: into the caller's buffer; CONTROL: the payload (a close
                          * frame's reason follows its two code bytes) */
    size_t len;
} lux_ws_event;

typedef struct {
    uint64_t max_message; /* the bound on one message's payload; 0: none */

    /* the decoder's own */
    uint8_t head[14];
    unsigned head_len, head_want;
    int in_payload, opcode, fin, message, closed;
    int failed; /* the close code of the violation found, 0 before */
    uint64_t left, message_len;
    uint8_t mask[4];
    unsigned mask_at;
    uint8_t control[125];
    unsigned control_len;
    uint8_t utf8_need, utf8_lo, utf8_hi;
} lux_ws_decoder;

/* A decoder for messages of up to max_message bytes (0: unbounded). */
void lux_ws_decoder_init(lux_ws_decoder *d, uint64_t max_message);

/* Decode buf[0, len), unmasking payload in place, up to the next event; *used says how many
 * bytes were taken. Call again with the rest until it says MORE. After a close frame, further
 * bytes are taken and ignored; after ERROR, nothing is taken. */
lux_ws_ev lux_ws_decode(lux_ws_decoder *d, uint8_t *buf, size_t len, size_t *used,
                        lux_ws_event *ev);

#endif
