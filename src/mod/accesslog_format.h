/*
 * Access-log formats (lighttpd's accesslog.format): a compiler from the format string to a
 * field list, and a renderer that turns one request's facts into one log line. Pure: no I/O,
 * no clock, no allocation while rendering, so the module, the unit tests and the fuzzer all
 * drive the same code.
 */
#ifndef LUX_ACCESSLOG_FORMAT_H
#define LUX_ACCESSLOG_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/pool.h"
#include "lux/req.h"

/* lighttpd's default: the combined log format with the Host in place of the ident. */
#define LUX_ALOG_DEFAULT_FORMAT "%h %V %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""

typedef enum {
    LUX_ALOG_ESC_DEFAULT, /* \" \\ \n ... and \xHH for other controls and bytes >= 0x7f */
    LUX_ALOG_ESC_JSON,    /* \" \\ \n ... and \u00HH for other controls; high bytes kept */
} lux_alog_escaping;

/* What a format needs from the request, so the module computes only that. */
enum {
    LUX_ALOG_NEED_REMOTE = 1u << 0,    /* remote_addr, remote_port */
    LUX_ALOG_NEED_LOCAL = 1u << 1,     /* local_addr, local_port */
    LUX_ALOG_NEED_BODY_OUT = 1u << 2,  /* body_out */
    LUX_ALOG_NEED_BYTES_IN = 1u << 3,  /* bytes_in */
    LUX_ALOG_NEED_KEEPALIVE = 1u << 4, /* keepalive_count */
    LUX_ALOG_NEED_FILENAME = 1u << 5,  /* filename */
    LUX_ALOG_NEED_USER = 1u << 6,      /* remote_user */
};

/*
 * The facts of one request. Strings with a NULL ptr are unset (logged as "-" where lighttpd
 * does so, else as nothing); byte counts are -1 when unknown.
 */
typedef struct {
    lux_str remote_addr; /* "192.0.2.1", "2001:db8::1" */
    int remote_port;     /* -1 when none */
    lux_str local_addr;  /* the listener's address */
    lux_str local_port;  /* its port, as text */
    lux_str method;      /* unset when the request line was never parsed */
    lux_str target;      /* the request-target as received (origin form) */
    int version;         /* 10, 11, 20 */
    lux_str url;         /* the (possibly rewritten) URI with its query: %U takes the path */
    lux_str query;       /* without '?' */
    lux_str host;        /* %V: the Host as sent */
    lux_str server_name; /* %v */
    lux_str filename;    /* %f */
    lux_str remote_user; /* %u */
    const lux_header *req_headers;
    size_t nreq_headers;
    const lux_header *resp_headers;
    size_t nresp_headers;
    int status;
    int64_t bytes_in;              /* head and body received */
    int64_t bytes_out;             /* head and body sent */
    int64_t body_out;              /* body bytes sent */
    unsigned long keepalive_count; /* requests before this one on its connection */
    char conn_status;              /* 'X' aborted, '+' kept alive, '-' closed */
    struct timespec start, end;
} lux_alog_rec;

typedef struct lux_alog_format lux_alog_format;

/*
 * Compile a format string (with lighttpd's backslash escapes \n \t ...). Memory comes from
 * pool. Returns NULL with a message in err when the format is invalid or memory runs out.
 */
lux_alog_format *lux_alog_compile(lux_pool *pool, const char *fmt, size_t len, char *err,
                                  size_t errlen);
/* LUX_ALOG_NEED_* bits of what f renders. */
unsigned lux_alog_needs(const lux_alog_format *f);

/*
 * Render one line (without the newline) into out, writing at most cap bytes; returns the
 * length the whole line needs, as snprintf does (no NUL is written). Rendering the same
 * record twice gives the same bytes, so a caller may retry with a larger buffer.
 */
size_t lux_alog_render(const lux_alog_format *f, lux_alog_escaping esc, const lux_alog_rec *rec,
                       char *out, size_t cap);

/* Escape n bytes of s as the given convention does; returns the escaped length (may exceed
 * cap, in which case out holds a truncated prefix). */
size_t lux_alog_escape(lux_alog_escaping esc, const char *s, size_t n, char *out, size_t cap);

#endif
