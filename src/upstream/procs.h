/*
 * Backends lux runs itself (bin-path): each process listens on a unix socket lux binds and
 * passes as its stdin (FCGI_LISTENSOCK_FILENO, as lighttpd does).
 *
 * The processes belong to the configuration generation that names them and are looked after by
 * the main thread: it starts them when the generation is built, restarts one that exits (after
 * a pause that doubles, up to a minute, while it keeps failing) from the generation's watch
 * callback, and stops them (SIGTERM) when the generation is freed: at shutdown, or after a
 * reload once the old generation's last request is done. Workers only connect to the sockets.
 */
#ifndef LUX_UPS_PROCS_H
#define LUX_UPS_PROCS_H

#include "lux/module.h"
#include "upstream/upstream.h"

typedef struct {
    const char *bin_path;  /* the program and its arguments, split at spaces */
    const char *socket;    /* process i listens on "<socket>-<i>" */
    long nprocs;           /* max-procs */
    const lux_keyval *env; /* bin-environment */
    size_t nenv;
    const lux_strlist *copy_env; /* bin-copy-environment: NULL passes lux's whole environment */
} lux_ups_procs_conf;

/*
 * Start c->nprocs processes for gen and fill backends[0, nprocs) with their sockets. A
 * generation built only to check the configuration starts nothing. 0, or -1 with err.
 */
int lux_ups_procs_start(lux_gen *gen, const lux_ups_procs_conf *c, lux_ups_backend *backends,
                        char *err, size_t errlen);

#endif
