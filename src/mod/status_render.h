/*
 * mod_status's pages, rendered from a snapshot of the counters (no I/O, no clocks here): the
 * lighttpd formats (HTML, ?auto, ?json), the configuration page, and lux's Prometheus metrics.
 */
#ifndef LUX_STATUS_RENDER_H
#define LUX_STATUS_RENDER_H

#include <stdint.h>
#include <time.h>

#include "mod/status_buf.h"
#include "net/stats.h"

typedef struct {
    lux_stats_totals sum;
    const lux_stats_totals *workers; /* [nworkers] */
    size_t nworkers;
    time_t now, started;
    uint64_t reloads;
    long max_connections;
    int64_t handling; /* connections running a request now (the one asking), taken out of
                         their state in sum.conns */
    double requests_5s, bytes_5s; /* per second, over the last five seconds or so */
    const char *version;          /* "lux/0.1.0" */
    const char *host;             /* the request's Host, or NULL */
} lux_status_snapshot;

/* lighttpd's machine-readable page (?auto). */
void lux_status_auto(lux_sbuf *b, const lux_status_snapshot *s);
/* lighttpd's ?json object, with lux's counters under "lux". */
void lux_status_json(lux_sbuf *b, const lux_status_snapshot *s);
/* lighttpd's HTML status page; sortable tables when sort is set (status.enable-sort). */
void lux_status_html(lux_sbuf *b, const lux_status_snapshot *s, int sort);
/* The Prometheus text exposition format, version 0.0.4. */
void lux_status_prometheus(lux_sbuf *b, const lux_status_snapshot *s);

#endif
