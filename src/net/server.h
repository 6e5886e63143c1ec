/*
 * The server: listeners, workers, the current config generation. The main thread owns it and
 * handles signals; workers only read the shared fields marked atomic.
 */
#ifndef LUX_SERVER_H
#define LUX_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "core/gen.h"
#include "event/loop.h"

typedef struct lux_listener {
    int fd;
    char *name;    /* the spec it was opened from: "127.0.0.1:8080", "unix:/run/x.sock" */
    int port;      /* -1 for unix sockets */
    int inherited; /* its unix socket file is someone else's: systemd's, or an upgrade's */
} lux_listener;

typedef struct lux_server lux_server;
typedef struct lux_worker lux_worker;

enum { LUX_RUNNING = 0, LUX_STOP_GRACEFUL = 1, LUX_STOP_NOW = 2 };

struct lux_server {
    pthread_mutex_t gen_lock; /* guards gen for the swap on reload */
    lux_gen *gen;
    _Atomic unsigned long gen_seq; /* bumped after every publish */
    lux_listener *listeners;
    size_t nlisteners;
    lux_worker **workers;
    size_t nworkers;
    _Atomic int state;
    _Atomic long connections;   /* open connections, all workers */
    _Atomic long last_activity; /* time of the last accepted connection or request */
    _Atomic long released;      /* workers that stopped accepting after a graceful stop */
    int single_fd; /* -1 normally; with -1 (one connection) the client socket on stdin */
    long max_connections;
};

/* Publish a new generation (takes the caller's reference). */
void lux_server_publish(lux_server *s, lux_gen *g);
/* A reference to the current generation. */
lux_gen *lux_server_gen(lux_server *s);

#endif
