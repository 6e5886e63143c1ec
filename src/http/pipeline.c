/*
 * The request phases: conditions → uri_raw hooks (rewrites restart here) → uri_clean hooks →
 * document root and physical path → physical hooks → handler → error pages → response_start
 * hooks. A hook may take the request (LUX_ASYNC); the pass then stops where it stands
 * (r->run_step, r->run_pos) and lux_req_continue goes on from there.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/request.h"
#include "http/stat_cache.h"
#include "http/uri.h"
#include "lux/log.h"
#include "net/conn.h"
#include "net/rate_table.h"

static void log_request_header(lux_req *r) {
    lux_log(LUX_LOG_DEBUG, "request-header: %.*s %.*s %s", (int)r->method_str.len,
            r->method_str.ptr, (int)r->target.len, r->target.ptr, lux_req_protocol(r));
    for (size_t i = 0; i < r->nheaders; i++)
        lux_log(LUX_LOG_DEBUG, "request-header: %.*s: %.*s", (int)r->headers[i].name.len,
                r->headers[i].name.ptr, (int)r->headers[i].value.len, r->headers[i].value.ptr);
}

/* docroot + path, the file the request names. */
static int build_physical(lux_req *r) {
    const lux_core_conf *core = r->confs[0];
    lux_str root = r->docroot.ptr ? r->docroot : core->document_root; /* a docroot hook wins */
    if (!root.ptr) {
        lux_log(LUX_LOG_ERR, "no server.document-root for host \"%s\"",
                r->host.ptr ? r->host.ptr : "");
        return -1;
    }
    size_t dl = root.len;
    while (dl > 1 && root.ptr[dl - 1] == '/')
        dl--;
    char *p = lux_pool_alloc(r->pool, dl + r->path.len + 1);
    if (!p)
        return -1;
    memcpy(p, root.ptr, dl);
    memcpy(p + dl, r->path.ptr, r->path.len);
    p[dl + r->path.len] = '\0';
    if (core->force_lowercase_filenames)
        for (size_t i = dl; i < dl + r->path.len; i++)
            p[i] = (char)tolower((unsigned char)p[i]);
    r->docroot = (lux_str){p, dl};
    r->physical = (lux_str){p, dl + r->path.len};
    return 0;
}

/* A directory named without its trailing slash: 301 to the slash form, query kept. */
static lux_result redirect_to_directory(lux_req *r) {
    char *enc = lux_pool_alloc(r->pool, 3 * r->path.len + 2);
    if (!enc)
        return LUX_ERROR;
    lux_uri_encode_path(r->path.ptr, r->path.len, enc); /* NUL-terminated */
    char *loc;
    if (r->host.ptr && r->host.len)
        loc = lux_req_printf(r, "%s://%s%s/%s%s", r->scheme.ptr, r->host.ptr, enc,
                             r->query.ptr ? "?" : "", r->query.ptr ? r->query.ptr : "");
    else
        loc = lux_req_printf(r, "%s/%s%s", enc, r->query.ptr ? "?" : "",
                             r->query.ptr ? r->query.ptr : "");
    if (!loc)
        return LUX_ERROR;
    lux_resp_error(r, 301);
    lux_resp_header(r, "Location", 8, loc, strlen(loc));
    return LUX_HANDLED;
}

/* PATH_INFO in the request's own spelling: with server.force-lowercase-filenames the physical
 * path is lower case, but when the end of the URL path is the same text in another case that is
 * what the client sent (lighttpd keeps it too, and mod_access cuts it off the URL path). */
static lux_str pathinfo_from(lux_req *r, const char *tail, size_t len) {
    const lux_core_conf *core = r->confs[0];
    if (core->force_lowercase_filenames && len <= r->path.len &&
        strncasecmp(r->path.ptr + r->path.len - len, tail, len) == 0)
        tail = r->path.ptr + r->path.len - len;
    return (lux_str){lux_pool_strndup(r->pool, tail, len), len};
}

/*
 * "/file.html/extra": as lighttpd, walk down from the document root through directories; the
 * first component that is not one is the file, the rest is PATH_INFO. Only directories that
 * exist are looked up, so however many segments the path has, the walk ends within the real
 * depth of the tree and leaves nothing in the cache for the parts that do not exist.
 */
static int find_pathinfo(lux_req *r, int follow) {
    char *p = (char *)r->physical.ptr;
    for (size_t i = r->docroot.len + 1; i < r->physical.len; i++) {
        if (p[i] != '/')
            continue;
        p[i] = '\0';
        lux_file *f = lux_stat_cache_open(r->worker, p, i, follow);
        p[i] = '/';
        if (!f) {
            r->file_errno = errno;
            return 0;
        }
        if (S_ISDIR(f->mode)) {
            lux_file_unref(f);
            continue;
        }
        if (!S_ISREG(f->mode)) {
            lux_file_unref(f);
            return 0;
        }
        lux_str info = pathinfo_from(r, p + i, r->physical.len - i);
        char *file_path = lux_pool_strndup(r->pool, p, i);
        if (!info.ptr || !file_path) {
            lux_file_unref(f);
            return 0;
        }
        r->file = f;
        r->pathinfo = info;
        r->physical = (lux_str){file_path, i};
        return 1;
    }
    return 0;
}

static lux_result physical_check(lux_req *r) {
    const lux_core_conf *core = r->confs[0];
    r->file =
        lux_stat_cache_open(r->worker, r->physical.ptr, r->physical.len, core->follow_symlink);
    if (!r->file) {
        r->file_errno = errno;
        if (errno == ENOTDIR && find_pathinfo(r, core->follow_symlink))
            return LUX_GO_ON;
        if (core->log_file_not_found && (r->file_errno == ENOENT || r->file_errno == ENOTDIR))
            lux_log(LUX_LOG_INFO, "file not found: %s (uri %.*s)", r->physical.ptr, (int)r->uri.len,
                    r->uri.ptr);
        return LUX_GO_ON;
    }
    if (S_ISDIR(r->file->mode) && r->path.ptr[r->path.len - 1] != '/')
        return redirect_to_directory(r);
    return LUX_GO_ON;
}

static void handle_options_star(lux_req *r) {
    r->status = 200;
    static const char allow[] = "OPTIONS, GET, HEAD, POST";
    lux_resp_header(r, "Allow", 5, allow, sizeof allow - 1);
}

/* Where a request stands in its pass through the phases (r->run_step): a hook that returned
 * LUX_ASYNC is asked no more; lux_req_resume continues from its step and module. */
enum {
    STEP_BEGIN,
    STEP_URI_RAW,
    STEP_URI_CLEAN,
    STEP_DOCROOT,
    STEP_PHYSICAL,
    STEP_PREPARE,
    STEP_HANDLE,
    STEP_RESPONSE_START,
    STEP_DONE,
};

/* Settings for the URI, before the first hook of a pass. */
static lux_result begin_pass(lux_req *r) {
    r->physical_ready = 0;
    if (lux_req_patch_conf(r) < 0)
        return LUX_ERROR;
    const lux_core_conf *core = r->confs[0];
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "handling %.*s (path %.*s, host %.*s)", (int)r->uri.len, r->uri.ptr,
                (int)r->path.len, r->path.ptr, (int)r->host.len, r->host.ptr ? r->host.ptr : "");
    return LUX_GO_ON;
}

/* The document root is chosen: the physical path, and the settings that depend on it. */
static lux_result physical_path(lux_req *r) {
    if (build_physical(r) < 0)
        return LUX_ERROR;
    r->physical_ready = 1; /* $PHYSICAL conditions can be decided now, if there are any */
    return lux_req_patch_conf(r) < 0 ? LUX_ERROR : LUX_GO_ON;
}

/* The hooks of h from r->run_pos on. Most phases have no hook in most configs: that is told
 * here, without a call. */
static inline lux_result run_hook(lux_req *r, lux_hook h) {
    if (r->run_pos >= r->gen->nhooks[h])
        return LUX_GO_ON;
    return lux_gen_run_hook_from(r, h, &r->run_pos);
}

/* Run the hook of step from r->run_pos, then what follows it within the step. */
static lux_result run_step(lux_req *r, unsigned step) {
    lux_result res;
    switch (step) {
    case STEP_BEGIN:
        return begin_pass(r);
    case STEP_URI_RAW:
        res = run_hook(r, LUX_HOOK_URI_RAW);
        if (res == LUX_GO_ON && r->path.len == 1 && r->path.ptr[0] == '*') {
            handle_options_star(r);
            return LUX_HANDLED;
        }
        return res;
    case STEP_URI_CLEAN:
        return run_hook(r, LUX_HOOK_URI_CLEAN);
    case STEP_DOCROOT:
        res = run_hook(r, LUX_HOOK_DOCROOT);
        return res == LUX_GO_ON ? physical_path(r) : res;
    case STEP_PHYSICAL:
        res = run_hook(r, LUX_HOOK_PHYSICAL);
        return res == LUX_GO_ON ? physical_check(r) : res;
    case STEP_PREPARE:
        return run_hook(r, LUX_HOOK_PREPARE);
    case STEP_HANDLE:
        res = run_hook(r, LUX_HOOK_HANDLE);
        return res == LUX_GO_ON ? lux_resp_error(r, 404) : res;
    }
    return LUX_ERROR;
}

/* One pass through the phases, from where it stands. LUX_RESTART: a module changed the URI,
 * run again; LUX_ASYNC: a hook took the request. The step is counted in a register and
 * r->run_step written when the pass stops (nothing reads it while a step runs). */
static lux_result run_phases(lux_req *r) {
    unsigned step = r->run_step;
    for (; step < STEP_RESPONSE_START; step++) {
        lux_result res = run_step(r, step);
        if (res != LUX_GO_ON) {
            r->run_step = step;
            return res;
        }
        r->run_pos = 0;
    }
    r->run_step = step;
    return LUX_HANDLED;
}

/* Forget what an earlier pass decided: conditions, the file, the response so far. */
static void reset_for_restart(lux_req *r) {
    lux_req_forget_conditions(r);
    lux_file_unref(r->file);
    r->file = NULL;
    r->file_errno = 0;
    r->docroot = r->physical = r->pathinfo = (lux_str){NULL, 0};
    lux_resp_body_reset(r);
    r->nresp_headers = 0;
    r->status = 0;
    r->streaming = 0;
    r->stream_length = -1;
}

/*
 * The handler for an error status, as lighttpd 1.4.69 picks it: server.error-handler for every
 * 4xx and 5xx, else server.error-handler-404 for 404 and 403. A 416 keeps its own page
 * (lighttpd answers ranges after this choice).
 */
static lux_str error_handler_for(const lux_req *r, int *is_404_handler) {
    const lux_core_conf *core = r->confs[0];
    *is_404_handler = 0;
    if (r->status < 400 || r->status == 416)
        return (lux_str){NULL, 0};
    if (core->error_handler.len)
        return core->error_handler;
    *is_404_handler = 1;
    if (r->status == 404 || r->status == 403)
        return core->error_handler_404;
    return (lux_str){NULL, 0};
}

/*
 * The handler's pass is over. server.error-handler-404's answer stands as it is (lighttpd's
 * older rule: a page found there is a 200). server.error-handler's page is sent with the
 * original status when the handler produced one (2xx); when it failed, the original status's
 * own error page is.
 */
static void finish_error_handler(lux_req *r) {
    r->method = r->error_method;
    if (r->error_handler_404)
        return;
    if (r->status >= 200 && r->status <= 299)
        r->status = r->error_status;
    else
        lux_resp_error(r, r->error_status);
}

/*
 * Run the request again on the error handler's path; 0 when there is none. server.error-handler
 * runs as GET (its page answers whatever the method was); server.error-handler-404 keeps the
 * method, as lighttpd does.
 */
static int use_error_handler(lux_req *r) {
    if (r->error_status) {
        finish_error_handler(r);
        return 0;
    }
    int is_404_handler;
    lux_str h = error_handler_for(r, &is_404_handler);
    if (!h.len || h.ptr[0] != '/')
        return 0;
    r->error_handler_404 = is_404_handler;
    r->error_method = r->method;
    if (lux_req_set_uri(r, h.ptr, h.len) != 0)
        return 0;
    r->error_status = r->status;
    if (!r->error_handler_404)
        r->method = LUX_M_GET;
    return 1;
}

#define MAX_RESTARTS 16

/* A pass ended with res: 1 when another pass follows (a restart, an error handler), else 0
 * with the response set. */
static int after_pass(lux_req *r, lux_result res) {
    if (res == LUX_ERROR)
        lux_resp_error(r, 500);
    if (res != LUX_RESTART && !use_error_handler(r))
        return 0;
    if (++r->restarts > MAX_RESTARTS) {
        lux_log(LUX_LOG_ERR, "more than %d rewrites for %.*s: rewrite loop?", MAX_RESTARTS,
                (int)r->uri.len, r->uri.ptr);
        lux_resp_error(r, 500);
        return 0;
    }
    reset_for_restart(r);
    r->run_step = STEP_BEGIN;
    r->run_pos = 0;
    return 1;
}

/* The response is set: log it, then the response_start hooks. */
static void response_set(lux_req *r) {
    if (!r->status)
        lux_resp_error(r, 500);
    const lux_core_conf *core = r->confs[0];
    if (core->log_request_header)
        log_request_header(r);
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "%.*s -> %d (%.*s)", (int)r->uri.len, r->uri.ptr, r->status,
                (int)r->physical.len, r->physical.ptr ? r->physical.ptr : "");
    r->run_step = STEP_RESPONSE_START;
    r->run_pos = 0;
}

/* Drive the request from where it stands, given the result of the step that ran last
 * (LUX_GO_ON: go on from the current step and module). LUX_ASYNC: a hook took the request. */
static lux_result drive(lux_req *r, lux_result res) {
    while (r->run_step < STEP_RESPONSE_START) {
        if (res == LUX_GO_ON)
            res = run_phases(r);
        if (res == LUX_ASYNC)
            return LUX_ASYNC;
        if (!after_pass(r, res))
            response_set(r);
        res = LUX_GO_ON;
    }
    if (r->run_step == STEP_RESPONSE_START) {
        /* The hook's results are ignored, but LUX_ASYNC: it continues later. */
        if (res == LUX_GO_ON)
            res = run_hook(r, LUX_HOOK_RESPONSE_START);
        if (res == LUX_ASYNC)
            return LUX_ASYNC;
        r->run_step = STEP_DONE;
    }
    return LUX_HANDLED;
}

/* server.max-request-rate-per-ip: a client past its rate gets 429 with Retry-After, before
 * any module sees the request. 1 when the request was answered so. */
static int over_rate(lux_req *r) {
    const lux_core_conf *core = r->gen->core;
    const struct sockaddr *sa = lux_req_remote_addr(r);
    lux_peer_key k;
    if (core->max_request_rate_per_ip <= 0 || !r->worker || !sa || lux_peer_key_of(sa, &k) < 0)
        return 0;
    long wait = lux_rate_take(&r->worker->rates, &k, core->max_request_rate_per_ip,
                              core->max_request_burst_per_ip, lux_loop_now_ms(r->worker->loop));
    if (wait <= 0)
        return 0;
    char v[24];
    int n = snprintf(v, sizeof v, "%ld", wait);
    lux_resp_error(r, 429);
    lux_resp_header(r, "Retry-After", 11, v, (size_t)n);
    return 1;
}

lux_result lux_req_run(lux_req *r) {
    r->run_step = STEP_BEGIN;
    r->run_pos = 0;
    if (over_rate(r))
        response_set(r); /* straight to the response_start hooks */
    return drive(r, LUX_GO_ON);
}

lux_result lux_req_continue(lux_req *r, lux_result res) {
    if (res == LUX_GO_ON)
        r->run_pos++; /* the module that answered later is done: its hook goes on */
    return drive(r, res);
}
