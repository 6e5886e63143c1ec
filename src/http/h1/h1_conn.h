/* HTTP/1.x as a connection's protocol (net/conn.h): the protocol every connection starts with. */
#ifndef LUX_H1_CONN_H
#define LUX_H1_CONN_H

#include "net/conn.h"

extern const lux_proto lux_h1_proto;

#endif
