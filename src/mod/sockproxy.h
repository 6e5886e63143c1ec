/* mod_sockproxy's question from a connection that has no request yet. */
#ifndef LUX_SOCKPROXY_H
#define LUX_SOCKPROXY_H

#include "lux/module.h"

/* Do the settings of connections on `listener` (its $SERVER["socket"] blocks and the global
 * ones) relay them whole to a backend (sockproxy.server)? */
int lux_sockproxy_wanted(const lux_gen *g, const char *listener);
/* The module, whose handle hook alone runs for such a connection. */
extern const lux_module lux_mod_sockproxy;

#endif
