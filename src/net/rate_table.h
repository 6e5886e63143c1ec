/*
 * Requests per client address (server.max-request-rate-per-ip): a token bucket per address,
 * kept per worker, so it takes no lock; a client whose connections land on several workers
 * gets each worker's rate. The table is bounded (LUX_RATE_SLOTS addresses per worker): when it
 * is full, the address seen longest ago is forgotten, and its next request starts with a full
 * bucket.
 */
#ifndef LUX_RATE_TABLE_H
#define LUX_RATE_TABLE_H

#include <stdint.h>

#include "net/peer_table.h"

#define LUX_RATE_SLOTS 4096

typedef struct lux_rate_table lux_rate_table;

/* Take a token from k's bucket (rate tokens a second, at most burst held; *t is allocated on
 * first use). 0: allowed; else the whole seconds until the next token (for Retry-After); -1
 * out of memory (allowed). */
long lux_rate_take(lux_rate_table **t, const lux_peer_key *k, long rate, long burst,
                   int64_t now_ms);
void lux_rate_table_free(lux_rate_table *t);

#endif
