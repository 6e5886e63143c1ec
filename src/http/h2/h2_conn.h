/*
 * HTTP/2 as a connection's protocol (net/conn.h): each stream a request of the stream core,
 * responses pulled into DATA frames. HTTP/1 hands a connection over when it sees the client
 * preface (prior knowledge, or after ALPN chose "h2") or an h2c Upgrade.
 */
#ifndef LUX_H2_CONN_H
#define LUX_H2_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"

extern const lux_proto lux_h2_proto;

/* What the listener of c allows: server.h2proto (HTTP/2 at all: ALPN "h2" and the preface)
 * and server.h2c (the Upgrade from HTTP/1.1 on a plain connection). Per $SERVER["socket"]. */
int lux_h2_allowed(const lux_conn *c);
int lux_h2c_allowed(const lux_conn *c);

/*
 * For HTTP/1, before it parses a connection's first head: does the unread input start with the
 * client preface? 1: yes, and the listener allows HTTP/2 (call lux_h2_take_preface); 0: no;
 * -1: what is there is a prefix of it, wait for more.
 */
int lux_h2_preface(const lux_conn *c);
/* HTTP/2 takes c over, the preface still unread in c->in; it runs from here (and may close
 * c): HTTP/1 must not touch c again. -1 when out of memory (c is still HTTP/1's). */
int lux_h2_take_preface(lux_conn *c);
/*
 * For HTTP/1, with a request whose head is read and that has no body: an h2c Upgrade
 * (Connection: Upgrade, HTTP2-Settings; Upgrade: h2c; HTTP2-Settings) on a plain listener that
 * allows it? Then the 101 goes out, HTTP/2 takes c over and r becomes its stream 1 (HTTP/1
 * lets go of both, and must not touch them again): 1. 0: not an upgrade (or not allowed, or
 * out of memory): HTTP/1 answers r itself.
 */
int lux_h2_take_upgrade(lux_conn *c, struct lux_req *r);

#endif
