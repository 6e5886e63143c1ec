/*
 * Concurrent connections per client address, counted across all workers: a small table split
 * into shards, each with its own mutex, so two workers rarely wait for each other. It is
 * touched only when a connection is admitted and when it closes, never per request.
 */
#ifndef LUX_PEER_TABLE_H
#define LUX_PEER_TABLE_H

#include <stdint.h>
#include <sys/socket.h>

struct lux_gen;

/* A client address as counted: 4 bytes for IPv4 (an IPv4-mapped IPv6 address too), else 16. */
typedef struct {
    uint8_t bytes[16];
    uint8_t len;
} lux_peer_key;

/* The key of an AF_INET or AF_INET6 address: 0, or -1 for other families (unix sockets are
 * not counted). */
int lux_peer_key_of(const struct sockaddr *sa, lux_peer_key *out);
/* Count one more connection from k unless it already has max: 1 counted, 0 over the limit,
 * -1 out of memory. */
int lux_peer_conn_acquire(const lux_peer_key *k, unsigned long max);
/* A counted connection closed. */
void lux_peer_conn_release(const lux_peer_key *k);
/* Connections counted for k now (for tests). */
unsigned long lux_peer_conn_count(const lux_peer_key *k);

/* The per-address connection limit in force and how a connection past it is answered. */
typedef struct {
    unsigned long max;    /* 0: no limit */
    int status;           /* 503 (server.max-connections-per-ip), or mod_evasive's 403 or 302 */
    const char *location; /* the 302's Location (evasive.location) */
    int silent;           /* evasive.silent: do not log refusals */
} lux_peer_limit;

/* Implemented by mod_evasive: its evasive.max-conns-per-ip in g for a connection accepted on
 * `listener` (global, or that $SERVER["socket"]'s; NULL: global), if loaded and set (max 0
 * otherwise). */
void lux_evasive_limit(const struct lux_gen *g, const char *listener, lux_peer_limit *out);

#endif
