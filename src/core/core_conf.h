/* The server's own settings (lighttpd's core directives): module index 0 of every generation. */
#ifndef LUX_CORE_CONF_H
#define LUX_CORE_CONF_H

#include "http/mimetype.h"
#include "lux/module.h"

typedef struct {
    const lux_mimetype *items;
    size_t n;
} lux_mimetypes;

/* server.feature-flags that lux reads (-1: not set); lighttpd's others have no effect. */
typedef struct {
    int h2proto, h2c;
} lux_feature_flags;

typedef struct lux_core_conf {
    /* global-only */
    long port;
    lux_str bind;
    long max_worker;
    long max_connections;          /* 0: a third of max-fds, as in lighttpd (see server.c) */
    long max_fds;                  /* 0: raise the soft limit to 4096 if it is lower */
    long max_connections_per_ip;   /* 0: no limit (net/peer_table.h) */
    long max_request_rate_per_ip;  /* requests a second per worker; 0: no limit */
    long max_request_burst_per_ip; /* 0: the rate */
    long listen_backlog;
    long defer_accept; /* seconds the kernel holds a new connection until its first bytes */
    lux_str username, groupname, chroot_dir, pid_file;
    lux_str errorlog;
    int errorlog_use_syslog;
    int systemd_socket_activation;
    long graceful_shutdown_timeout;
    const lux_strlist *upload_dirs; /* where request bodies spool; NULL: /var/tmp */
    const lux_strlist *modules;
    lux_str modules_dir; /* where loadable modules are (-m overrides it) */
    int use_ipv6, set_v6only;
    /* HTTP/2 on a listener (global or per $SERVER["socket"]), as lighttpd decides: h2proto
     * allows it at all (TLS ALPN "h2", the preface in cleartext), h2c the Upgrade from
     * HTTP/1.1 (only with h2proto). */
    int h2proto, h2c;
    lux_feature_flags feature_flags;
    long h2_max_concurrent_streams, h2_initial_window_size;

    /* per request (may be set inside conditions) */
    lux_str document_root;
    lux_str tag;
    lux_str errorfile_prefix;
    lux_str error_handler;
    lux_str error_handler_404;
    long max_keep_alive_requests;
    long max_keep_alive_idle;
    long max_read_idle;
    long max_write_idle;
    long max_request_size;    /* KiB, like lighttpd */
    long stream_request_body; /* 0: whole body before the handler, 1: as it comes, spooled,
                                 2: as it comes, reading the client only as the handler does */
    long max_request_field_size;
    int follow_symlink;
    int force_lowercase_filenames;
    int range_requests;
    unsigned http_parseopts;
    int etag_use_inode, etag_use_mtime, etag_use_size;
    lux_mimetypes mimetypes;
    int log_request_header, log_response_header, log_request_handling, log_file_not_found;
    int log_condition_handling;
} lux_core_conf;

extern const lux_module lux_core_module;

#endif
