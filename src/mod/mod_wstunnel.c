/*
 * mod_wstunnel: WebSocket endpoints that lux answers itself, each connection's messages relayed
 * to a backend as a plain byte stream (lighttpd's mod_wstunnel).
 *
 *   wstunnel.server = ( "/ws/" => ( ( "host" => "127.0.0.1", "port" => 9000 ) ) )
 *   wstunnel.frame-type = "text" | "binary"   the frames that carry the backend's bytes
 *   wstunnel.origins = ( "example.org", ... ) allowed Origin hosts (suffixes); none: any
 *   wstunnel.ping-interval = 30               seconds between pings to the client; 0: none
 *   wstunnel.balance, wstunnel.debug, wstunnel.map-extensions   as for mod_proxy
 *
 * A GET over HTTP/1.1 that asks to upgrade to websocket on a matching path (or an HTTP/2
 * extended CONNECT for websocket, RFC 8441) is checked (version 13, a proper key over HTTP/1.1,
 * the origin), then a backend is connected and only then does the client get
 * its 101: a backend that cannot be reached is a 503, as for any gateway. From then on the
 * backend reads the payload of the client's text and binary messages, in order, with no framing
 * and no HTTP, and what it writes goes back as one frame per read. lux answers pings, returns a
 * close and passes it on to the backend as a half-close; a client that breaks the protocol gets
 * a close with the matching code (http/ws_frame.h). The backend closing its side is a normal
 * closure (1000) for the client.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/ws_frame.h"
#include "lux/log.h"
#include "lux/req.h"
#include "upstream/gw_conf.h"
#include "http/token_list.h"

extern const lux_module lux_mod_wstunnel;

typedef struct {
    lux_gw_settings gw; /* first: the shared handler reads it */
    int binary;         /* wstunnel.frame-type = "binary" */
    const lux_strlist *origins;
    long ping_interval;
} wstunnel_conf;

static int parse_frame_type(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    int *binary = dst;
    if (v->type == LUX_V_STRING && !strcasecmp(v->u.str.ptr, "text"))
        *binary = 0;
    else if (v->type == LUX_V_STRING && !strcasecmp(v->u.str.ptr, "binary"))
        *binary = 1;
    else {
        snprintf(err, el, "expected \"text\" or \"binary\"");
        return -1;
    }
    return 0;
}

static int conf_finish(lux_gen *gen, void *conf, char *err, size_t el) {
    const wstunnel_conf *c = conf;
    for (size_t i = 0; c->origins && i < c->origins->n; i++)
        if (!c->origins->items[i].len) {
            snprintf(err, el, "wstunnel.origins: an empty origin matches nothing");
            return -1;
        }
    if (c->ping_interval < 0) {
        snprintf(err, el, "wstunnel.ping-interval: expected seconds, 0 or more");
        return -1;
    }
    return lux_gw_settings_finish(&c->gw, "wstunnel.balance", err, el);
}

#define OFF(f) offsetof(wstunnel_conf, f)
static const lux_directive wstunnel_directives[] = {
    {"wstunnel.server", LUX_D_CUSTOM, OFF(gw.servers), LUX_SCOPE_ANY, lux_gw_wstunnel_servers_parse,
     sizeof(lux_gw_servers)},
    {"wstunnel.balance", LUX_D_STRING, OFF(gw.balance), LUX_SCOPE_ANY},
    {"wstunnel.debug", LUX_D_INT, OFF(gw.debug), LUX_SCOPE_ANY},
    {"wstunnel.map-extensions", LUX_D_CUSTOM, OFF(gw.map), LUX_SCOPE_ANY, lux_gw_map_parse,
     sizeof(lux_gw_map)},
    {"wstunnel.frame-type", LUX_D_CUSTOM, OFF(binary), LUX_SCOPE_ANY, parse_frame_type,
     sizeof(int)},
    {"wstunnel.origins", LUX_D_STRLIST, OFF(origins), LUX_SCOPE_ANY},
    {"wstunnel.ping-interval", LUX_D_INT, OFF(ping_interval), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

/* ---- the opening handshake ------------------------------------------------------------------- */

/* Does r's field `name` hold token in its list? */
static int field_lists(lux_req *r, const char *name, size_t nlen, const char *token) {
    const lux_str *v = lux_req_header(r, name, nlen);
    return v && lux_list_has_token(v->ptr, v->len, token);
}

/* A request that asks for a WebSocket: anything else is not this module's. Over HTTP/2 that
 * is an extended CONNECT (RFC 8441), which the stream core presents as this same GET. */
static int asks_for_websocket(lux_req *r) {
    return r->method == LUX_M_GET && (r->version == 11 || r->version == 20) &&
           field_lists(r, "Upgrade", 7, "websocket") && field_lists(r, "Connection", 10, "upgrade");
}

/* The key with its surrounding blanks trimmed. */
static lux_str key_of(lux_req *r) {
    const lux_str *k = lux_req_header(r, "Sec-WebSocket-Key", 17);
    lux_str s = k ? *k : (lux_str){NULL, 0};
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
        s.ptr++, s.len--;
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* An allowed origin is all of the client's Origin or a suffix of it that starts after a dot,
 * as in lighttpd ("example.org" allows "https://chat.example.org"; "https://example.org" only
 * itself). */
static int origin_allowed(const lux_str *origin, const lux_strlist *allowed) {
    for (size_t i = 0; i < allowed->n; i++) {
        const lux_str *a = &allowed->items[i];
        if (origin->len < a->len ||
            strncasecmp(origin->ptr + origin->len - a->len, a->ptr, a->len) != 0)
            continue;
        if (origin->len == a->len || origin->ptr[origin->len - a->len - 1] == '.')
            return 1;
    }
    return 0;
}

/* 0 when the handshake can go on, else the status that refuses it. */
static int check_handshake(lux_req *r, const wstunnel_conf *c) {
    const lux_str *version = lux_req_header(r, "Sec-WebSocket-Version", 21);
    if (!version || version->len != 2 || memcmp(version->ptr, "13", 2) != 0)
        return 426; /* RFC 6455 4.4: the versions lux speaks go with the answer */
    lux_str key = key_of(r);
    char accept[LUX_WS_ACCEPT_LEN + 1];
    if (r->version != 20 && lux_ws_accept(key.ptr, key.len, accept) < 0)
        return 400; /* RFC 8441 has no key: the stream itself is the proof */
    if (c->origins && c->origins->n) {
        const lux_str *origin = lux_req_header(r, "Origin", 6);
        if (!origin)
            origin = lux_req_header(r, "Sec-WebSocket-Origin", 20);
        if (!origin || !origin->len)
            return 400;
        if (!origin_allowed(origin, c->origins))
            return 403;
    }
    return 0;
}

/* "binary" among the subprotocols the client offers: binary frames, and say so. */
static int offers_binary(lux_req *r) {
    return field_lists(r, "Sec-WebSocket-Protocol", 22, "binary");
}

/* ---- the tunnel ------------------------------------------------------------------------------ */

typedef struct {
    lux_ws_decoder in;
    int binary;      /* the backend's bytes go out in binary frames */
    int subprotocol; /* the client offered "binary": the answer names it */
    int close_sent;  /* lux's close went to the client: nothing may follow it */
    long ping_ms;    /* 0: no pings */
} ws_state;

static int ws_begin(lux_gw *g, lux_req *r, lux_ups_buf *out) {
    const wstunnel_conf *c = lux_req_conf(r, &lux_mod_wstunnel);
    ws_state *st = lux_gw_state(g);
    lux_ws_decoder_init(&st->in, 0); /* messages stream through: no bound needed */
    st->subprotocol = offers_binary(r);
    st->binary = c->binary || st->subprotocol;
    st->close_sent = 0;
    st->ping_ms = c->ping_interval * 1000;
    return 0; /* the backend hears nothing but the messages */
}

static int ws_body(lux_gw *g, lux_ups_buf *out, const char *p, size_t len) {
    return 0; /* a GET: no body before the tunnel */
}

static lux_gw_ev ws_input(lux_gw *g, char *buf, size_t len, size_t *used, const char **data,
                          size_t *dlen, int *keep) {
    *used = *dlen = 0; /* the tunnel opens at connect: the backend's bytes never come here */
    *keep = 0;
    return LUX_GW_MORE;
}

static int ws_now(lux_gw *g, const lux_req *r) {
    return 1;
}

/* The 101 that opens the tunnel (core adds "Connection: upgrade"); over HTTP/2 the stream
 * answers 200 with no accept (RFC 8441 5). */
static int ws_head(lux_gw *g, lux_req *r) {
    const ws_state *st = lux_gw_state(g);
    r->status = 101;
    int rc = lux_resp_header(r, "Upgrade", 7, "websocket", 9);
    if (r->version != 20) {
        lux_str key = key_of(r);
        char accept[LUX_WS_ACCEPT_LEN + 1];
        if (lux_ws_accept(key.ptr, key.len, accept) < 0)
            return -1;
        rc |= lux_resp_header(r, "Sec-WebSocket-Accept", 20, accept, LUX_WS_ACCEPT_LEN);
    }
    if (st->subprotocol)
        rc |= lux_resp_header(r, "Sec-WebSocket-Protocol", 22, "binary", 6);
    return rc ? -1 : 0;
}

static int send_frame(lux_gw *g, int opcode, const void *payload, size_t len) {
    uint8_t head[LUX_WS_HEAD_MAX];
    size_t hl = lux_ws_head(head, opcode, 1, len);
    if (lux_gw_to_client(g, (const char *)head, hl) < 0)
        return -1;
    return len ? lux_gw_to_client(g, payload, len) : 0;
}

/* A close with code (0: none); the last frame lux sends. */
static int send_close(lux_gw *g, unsigned code) {
    ws_state *st = lux_gw_state(g);
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    st->close_sent = 1;
    return send_frame(g, LUX_WS_CLOSE, payload, code ? 2 : 0);
}

/* The client's frames: message payloads to the backend, control frames answered here. */
static int ws_in(lux_gw *g, lux_ups_buf *out, char *p, size_t len) {
    ws_state *st = lux_gw_state(g);
    size_t at = 0;
    for (;;) {
        size_t used = 0;
        lux_ws_event ev;
        lux_ws_ev e = lux_ws_decode(&st->in, (uint8_t *)p + at, len - at, &used, &ev);
        at += used;
        switch (e) {
        case LUX_WS_MORE:
            return 0;
        case LUX_WS_DATA:
            if (ev.len && lux_ups_buf_put(out, (const char *)ev.data, ev.len) < 0)
                return -1;
            break;
        case LUX_WS_CONTROL:
            if (ev.opcode == LUX_WS_PING && !st->close_sent &&
                send_frame(g, LUX_WS_PONG, ev.data, ev.len) < 0)
                return -1;
            if (ev.opcode != LUX_WS_CLOSE)
                break;
            /* the client's close: returned (with its code), and the backend's end of input */
            if (!st->close_sent &&
                send_close(g, ev.code == LUX_WS_CLOSE_NO_STATUS ? 0 : ev.code) < 0)
                return -1;
            return 1;
        case LUX_WS_ERROR:
            lux_log(LUX_LOG_INFO,
                    "(mod_wstunnel) %s: the client broke the WebSocket protocol "
                    "(closing with %u)",
                    lux_gw_request(g)->uri.ptr, ev.code);
            if (!st->close_sent && send_close(g, ev.code) < 0)
                return -1;
            return 1;
        }
    }
}

/* The backend's bytes: one frame per read, until lux has said its close. */
static int ws_out(lux_gw *g, const char *p, size_t len) {
    const ws_state *st = lux_gw_state(g);
    if (st->close_sent || !len)
        return 0;
    return send_frame(g, st->binary ? LUX_WS_BINARY : LUX_WS_TEXT, p, len);
}

static void ws_end(lux_gw *g) {
    const ws_state *st = lux_gw_state(g);
    if (!st->close_sent)
        send_close(g, LUX_WS_CLOSE_NORMAL);
}

static long ws_tick_ms(lux_gw *g) {
    const ws_state *st = lux_gw_state(g);
    return st->close_sent ? 0 : st->ping_ms;
}

static void ws_ping(lux_gw *g) {
    send_frame(g, LUX_WS_PING, "ping", 4);
}

static const lux_gw_tunnel_codec ws_codec = {
    .head = ws_head,
    .in = ws_in,
    .out = ws_out,
    .end = ws_end,
    .tick_ms = ws_tick_ms,
    .tick = ws_ping,
};

static const lux_gw_proto ws_proto = {
    .name = "mod_wstunnel",
    .begin = ws_begin,
    .body = ws_body,
    .input = ws_input,
    .tunnels_at_connect = ws_now,
    .codec = &ws_codec,
};

static lux_result wstunnel_handle(lux_req *r, const void *conf) {
    const wstunnel_conf *c = conf;
    if (!c->gw.servers.n || !asks_for_websocket(r) || !lux_gw_match(&c->gw, &r->path))
        return LUX_GO_ON;
    int status = check_handshake(r, c);
    if (status) {
        lux_result rc = lux_resp_error(r, status);
        if (status == 426)
            lux_resp_header(r, "Sec-WebSocket-Version", 21, "13", 2);
        return rc;
    }
    return lux_gw_handle(r, &c->gw, &lux_mod_wstunnel, &ws_proto, sizeof(ws_state), 0);
}

const lux_module lux_mod_wstunnel = {
    .name = "mod_wstunnel",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = wstunnel_directives,
    .conf_size = sizeof(wstunnel_conf),
    .conf_finish = conf_finish,
    .handle = wstunnel_handle,
};
