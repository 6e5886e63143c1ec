/* The core directives: their table, defaults, and the custom value parsers. */
#include "core/core_conf.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/gen.h"
#include "core/version.h"
#include "http/uri.h"

#define OFF(f) offsetof(lux_core_conf, f)
#define G LUX_SCOPE_GLOBAL

/* server.http-parseopts = ( "url-path-2f-decode" => "enable", ... ) */
static const struct {
    const char *name;
    unsigned flag; /* 0: accepted, decided elsewhere or always on in lux */
} parseopts[] = {
    {"url-normalize-unreserved", LUX_URI_NORMALIZE_UNRESERVED},
    {"url-normalize-required", LUX_URI_NORMALIZE_REQUIRED},
    {"url-ctrls-reject", LUX_URI_CTRLS_REJECT},
    {"url-path-backslash-trans", LUX_URI_PATH_BACKSLASH_TRANS},
    {"url-path-2f-decode", LUX_URI_PATH_2F_DECODE},
    {"url-path-2f-reject", LUX_URI_PATH_2F_REJECT},
    {"url-path-dotseg-remove", LUX_URI_PATH_DOTSEG_REMOVE},
    {"url-path-dotseg-reject", LUX_URI_PATH_DOTSEG_REJECT},
    {"url-query-20-plus", LUX_URI_QUERY_20_PLUS},
    /* lux is always strict about headers and hosts; these are accepted for compatibility. */
    {"header-strict", 0},
    {"host-strict", 0},
    {"host-normalize", 0},
    {"method-get-body", 0},
    {"url-normalize", 0},
};

static int parse_parseopts(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    unsigned flags = LUX_URI_DEFAULT_OPTS;
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected an array of \"option\" => \"enable\"|\"disable\"");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        size_t k = 0;
        while (k < sizeof parseopts / sizeof *parseopts &&
               (!e->key || strcmp(e->key, parseopts[k].name) != 0))
            k++;
        if (k == sizeof parseopts / sizeof *parseopts) {
            snprintf(err, el, "unknown option \"%s\"", e->key ? e->key : "(no key)");
            return -1;
        }
        int on;
        if (lux_parse_bool(e, &on) < 0) {
            snprintf(err, el, "\"%s\" must be \"enable\" or \"disable\"", e->key);
            return -1;
        }
        flags = on ? flags | parseopts[k].flag : flags & ~parseopts[k].flag;
    }
    *(unsigned *)dst = flags;
    return 0;
}

/* server.feature-flags = ( "server.h2proto" => "disable", ... ): lighttpd 1.4.69 sets HTTP/2
 * here; its other flags tune lighttpd internals and are accepted without effect. */
static int parse_feature_flags(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    lux_feature_flags *ff = dst;
    *ff = (lux_feature_flags){-1, -1};
    if (v->type != LUX_V_ARRAY) {
        snprintf(err, el, "expected an array of \"flag\" => value");
        return -1;
    }
    for (size_t i = 0; i < v->u.arr.len; i++) {
        const lux_value *e = v->u.arr.items[i];
        int *flag = !e->key                                 ? NULL
                    : strcmp(e->key, "server.h2proto") == 0 ? &ff->h2proto
                    : strcmp(e->key, "server.h2c") == 0     ? &ff->h2c
                                                            : NULL;
        if (flag && lux_parse_bool(e, flag) < 0) {
            snprintf(err, el, "\"%s\" must be \"enable\" or \"disable\"", e->key);
            return -1;
        }
    }
    return 0;
}

/* mimetype.assign = ( ".html" => "text/html", ... ) */
static int parse_mimetypes(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    size_t n;
    const lux_keyval *kv =
        lux_conf_keyvals(gen, v, &n, "expected an array of \"suffix\" => \"type\"", err, el);
    lux_mimetype *items = kv ? lux_pool_alloc(&gen->pool, (n + 1) * sizeof *items) : NULL;
    if (!items) {
        if (kv)
            snprintf(err, el, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        items[i] =
            (lux_mimetype){kv[i].key.ptr, lux_mimetype_assigned(kv[i].key.ptr, kv[i].value.ptr)};
    *(lux_mimetypes *)dst = (lux_mimetypes){items, n};
    return 0;
}

static const lux_directive core_directives[] = {
    {"server.port", LUX_D_INT, OFF(port), G},
    {"server.bind", LUX_D_STRING, OFF(bind), G},
    {"server.max-worker", LUX_D_INT, OFF(max_worker), G},
    {"server.max-connections", LUX_D_INT, OFF(max_connections), G},
    {"server.max-connections-per-ip", LUX_D_INT, OFF(max_connections_per_ip), G},
    {"server.max-request-rate-per-ip", LUX_D_INT, OFF(max_request_rate_per_ip), G},
    {"server.max-request-burst-per-ip", LUX_D_INT, OFF(max_request_burst_per_ip), G},
    {"server.max-fds", LUX_D_INT, OFF(max_fds), G},
    {"server.listen-backlog", LUX_D_INT, OFF(listen_backlog), G},
    {"server.defer-accept", LUX_D_INT, OFF(defer_accept), G},
    {"server.username", LUX_D_STRING, OFF(username), G},
    {"server.groupname", LUX_D_STRING, OFF(groupname), G},
    {"server.chroot", LUX_D_STRING, OFF(chroot_dir), G},
    {"server.pid-file", LUX_D_STRING, OFF(pid_file), G},
    {"server.errorlog", LUX_D_STRING, OFF(errorlog), G},
    {"server.errorlog-use-syslog", LUX_D_BOOL, OFF(errorlog_use_syslog), G},
    {"server.systemd-socket-activation", LUX_D_BOOL, OFF(systemd_socket_activation), G},
    {"server.graceful-shutdown-timeout", LUX_D_INT, OFF(graceful_shutdown_timeout), G},
    {"server.modules", LUX_D_STRLIST, OFF(modules), G},
    {"server.modules-dir", LUX_D_STRING, OFF(modules_dir), G}, /* read by the loader (gen.c) */
    {"server.use-ipv6", LUX_D_BOOL, OFF(use_ipv6), G},
    {"server.set-v6only", LUX_D_BOOL, OFF(set_v6only), G},
    {"server.h2proto", LUX_D_BOOL, OFF(h2proto), G | LUX_SCOPE_SOCKET},
    {"server.h2c", LUX_D_BOOL, OFF(h2c), G | LUX_SCOPE_SOCKET},
    {"server.h2-max-concurrent-streams", LUX_D_INT, OFF(h2_max_concurrent_streams), G},
    {"server.h2-initial-window-size", LUX_D_INT, OFF(h2_initial_window_size), G},
    {"server.feature-flags", LUX_D_CUSTOM, OFF(feature_flags), G, parse_feature_flags,
     sizeof(lux_feature_flags)},

    {"server.document-root", LUX_D_STRING, OFF(document_root), LUX_SCOPE_ANY},
    {"server.tag", LUX_D_STRING, OFF(tag), LUX_SCOPE_ANY},
    {"server.errorfile-prefix", LUX_D_STRING, OFF(errorfile_prefix), LUX_SCOPE_ANY},
    {"server.error-handler", LUX_D_STRING, OFF(error_handler), LUX_SCOPE_ANY},
    {"server.error-handler-404", LUX_D_STRING, OFF(error_handler_404), LUX_SCOPE_ANY},
    {"server.max-keep-alive-requests", LUX_D_INT, OFF(max_keep_alive_requests), LUX_SCOPE_ANY},
    {"server.max-keep-alive-idle", LUX_D_INT, OFF(max_keep_alive_idle), G},
    {"server.max-read-idle", LUX_D_INT, OFF(max_read_idle), G},
    {"server.max-write-idle", LUX_D_INT, OFF(max_write_idle), G},
    {"server.max-request-size", LUX_D_INT, OFF(max_request_size), LUX_SCOPE_ANY},
    {"server.stream-request-body", LUX_D_INT, OFF(stream_request_body), LUX_SCOPE_ANY},
    {"server.upload-dirs", LUX_D_STRLIST, OFF(upload_dirs), G},
    {"server.max-request-field-size", LUX_D_INT, OFF(max_request_field_size), G},
    {"server.follow-symlink", LUX_D_BOOL, OFF(follow_symlink), LUX_SCOPE_ANY},
    {"server.force-lowercase-filenames", LUX_D_BOOL, OFF(force_lowercase_filenames), LUX_SCOPE_ANY},
    {"server.range-requests", LUX_D_BOOL, OFF(range_requests), LUX_SCOPE_ANY},
    {"server.http-parseopts", LUX_D_CUSTOM, OFF(http_parseopts), G, parse_parseopts,
     sizeof(unsigned)},
    {"etag.use-inode", LUX_D_BOOL, OFF(etag_use_inode), LUX_SCOPE_ANY},
    {"etag.use-mtime", LUX_D_BOOL, OFF(etag_use_mtime), LUX_SCOPE_ANY},
    {"etag.use-size", LUX_D_BOOL, OFF(etag_use_size), LUX_SCOPE_ANY},
    {"mimetype.assign", LUX_D_CUSTOM, OFF(mimetypes), LUX_SCOPE_ANY, parse_mimetypes,
     sizeof(lux_mimetypes)},
    {"debug.log-request-header", LUX_D_BOOL, OFF(log_request_header), LUX_SCOPE_ANY},
    {"debug.log-response-header", LUX_D_BOOL, OFF(log_response_header), LUX_SCOPE_ANY},
    {"debug.log-request-handling", LUX_D_BOOL, OFF(log_request_handling), LUX_SCOPE_ANY},
    {"debug.log-file-not-found", LUX_D_BOOL, OFF(log_file_not_found), LUX_SCOPE_ANY},
    {"debug.log-condition-handling", LUX_D_BOOL, OFF(log_condition_handling), LUX_SCOPE_ANY},

    /* lighttpd tuning knobs that have no meaning in lux's design. */
    {"server.event-handler", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {"server.network-backend", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {"server.stat-cache-engine", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    /* lux streams every response with back-pressure (docs/configuration.md). */
    {"server.stream-response-body", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void core_init(void *p) {
    lux_core_conf *c = p;
    c->port = 80;
    c->listen_backlog = 1024;
    c->max_worker = 0; /* 0: one per CPU */
    c->graceful_shutdown_timeout = 0;
    c->use_ipv6 = 0;
    c->set_v6only = 1;
    c->h2proto = c->h2c = 1; /* lighttpd 1.4.69's defaults */
    c->feature_flags = (lux_feature_flags){-1, -1};
    c->h2_max_concurrent_streams = 8;
    c->h2_initial_window_size = 256 * 1024;
    c->tag.ptr = "lux/" LUX_VERSION;
    c->tag.len = strlen(c->tag.ptr);
    c->max_keep_alive_requests = 1000;
    c->max_keep_alive_idle = 5;
    c->max_read_idle = 60;
    c->max_write_idle = 360;
    c->max_request_field_size = 8192;
    c->follow_symlink = 1;
    c->range_requests = 1;
    c->http_parseopts = LUX_URI_DEFAULT_OPTS;
    c->etag_use_inode = c->etag_use_mtime = c->etag_use_size = 1;
    c->mimetypes.items = lux_mimetype_defaults;
    c->mimetypes.n = lux_mimetype_defaults_len;
}

static int core_finish(lux_gen *gen, void *p, char *err, size_t el) {
    lux_core_conf *c = p;
    if (c->port < 0 || c->port > 65535) {
        snprintf(err, el, "server.port %ld is out of range", c->port);
        return -1;
    }
    if (c->max_worker < 0 || c->max_worker > 1024) {
        snprintf(err, el, "server.max-worker %ld is out of range (0..1024)", c->max_worker);
        return -1;
    }
    if (c->feature_flags.h2proto >= 0)
        c->h2proto = c->feature_flags.h2proto;
    if (c->feature_flags.h2c >= 0)
        c->h2c = c->feature_flags.h2c;
    if (c->h2_max_concurrent_streams < 1 || c->h2_max_concurrent_streams > 256) {
        snprintf(err, el, "server.h2-max-concurrent-streams %ld is out of range (1..256)",
                 c->h2_max_concurrent_streams);
        return -1;
    }
    if (c->h2_initial_window_size < 16384 || c->h2_initial_window_size > 16777216) {
        snprintf(err, el, "server.h2-initial-window-size %ld is out of range (16384..16777216)",
                 c->h2_initial_window_size);
        return -1;
    }
    if (c->stream_request_body < 0 || c->stream_request_body > 2) {
        snprintf(err, el, "server.stream-request-body %ld: expected 0, 1 or 2",
                 c->stream_request_body);
        return -1;
    }
    if (c->max_request_field_size < 1024)
        c->max_request_field_size = 1024;
    return 0;
}

const lux_module lux_core_module = {
    .name = "server",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = core_directives,
    .conf_size = sizeof(lux_core_conf),
    .conf_init = core_init,
    .conf_finish = core_finish,
};
