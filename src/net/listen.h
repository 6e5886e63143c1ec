/* Opening listeners: "host:port", "[v6]:port", ":port", "unix:/path", or systemd's LISTEN_FDS. */
#ifndef LUX_LISTEN_H
#define LUX_LISTEN_H

#include "core/gen.h"
#include "net/server.h"

/*
 * Open (or, with systemd socket activation, adopt) a listener for every spec of g. On error
 * returns -1 with a message in err. Listeners inherited from systemd that match no spec are
 * still served (under their own address as name).
 */
int lux_listen_open(lux_server *s, const lux_gen *g, char *err, size_t errlen);
/*
 * Stop listening: close every listening socket (and remove its unix socket file). The
 * listener records stay: connections still finishing read their name and port.
 */
void lux_listen_shut(lux_server *s);
/* Shut, then free the listener records: only once no connection is left. */
void lux_listen_free(lux_server *s);

#endif
