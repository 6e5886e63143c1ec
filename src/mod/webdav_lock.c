/*
 * mod_webdav's write locks (RFC 4918 6-7, 9.10-9.11): exclusive and shared, depth 0 or
 * infinity, with timeouts, kept in the store; and the If header (10.4) that submits their
 * tokens and states conditions on lock tokens and entity tags.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "mod/webdav_internal.h"

#define LOCK_TIMEOUT_DEFAULT 600
#define LOCK_TIMEOUT_MAX (7 * 24 * 3600)
#define IF_MAX_CONDITIONS 64

/* ---- the If header ------------------------------------------------------------------------- */

typedef struct {
    int negate;
    int is_etag;
    const char *s; /* the token (without <>) or the entity tag (without []) */
    size_t len;
    int list; /* which list it belongs to */
} if_cond;

typedef struct {
    if_cond c[IF_MAX_CONDITIONS];
    size_t n;
    int nlists;
} if_header;

/* Split an If header into conditions grouped by list. Resource tags are read past: every list
 * is taken to be about the request's own resource. -1 when malformed. */
static int if_parse(const lux_str *h, if_header *out) {
    const char *p = h->ptr, *end = h->ptr + h->len;
    int in_list = 0, negate = 0;
    out->n = 0;
    out->nlists = 0;
    while (p < end) {
        char ch = *p;
        if (ch == ' ' || ch == '\t') {
            p++;
        } else if (!in_list && ch == '(') {
            in_list = 1;
            p++;
        } else if (in_list && ch == ')') {
            in_list = 0;
            out->nlists++;
            p++;
        } else if (in_list && end - p >= 3 && strncasecmp(p, "Not", 3) == 0) {
            negate = 1;
            p += 3;
        } else if (ch == '<' || (in_list && ch == '[')) {
            const char *close = memchr(p, ch == '<' ? '>' : ']', (size_t)(end - p));
            if (!close)
                return -1;
            if (in_list) {
                if (out->n == IF_MAX_CONDITIONS)
                    return -1;
                out->c[out->n++] =
                    (if_cond){negate, ch == '[', p + 1, (size_t)(close - p - 1), out->nlists};
                negate = 0;
            }
            p = close + 1;
        } else {
            return -1;
        }
    }
    return in_list || out->nlists == 0 ? -1 : 0;
}

typedef struct {
    char **tokens;
    size_t n, cap;
    int oom;
} token_set;

static void collect_token(void *arg, const webdav_lock *l) {
    token_set *t = arg;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **p = realloc(t->tokens, cap * sizeof *p);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->tokens = p;
        t->cap = cap;
    }
    if (!(t->tokens[t->n] = strdup(l->token)))
        t->oom = 1;
    else
        t->n++;
}

static void token_set_free(token_set *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->tokens[i]);
    free(t->tokens);
}

static int token_in(const token_set *t, const char *s, size_t len) {
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->tokens[i]) == len && memcmp(t->tokens[i], s, len) == 0)
            return 1;
    return 0;
}

/* Does one list of the If header hold for the request's resource? */
static int if_list_holds(dav_req *d, const if_header *ih, int list, const token_set *locks,
                         const char *etag, size_t etag_len) {
    for (size_t i = 0; i < ih->n; i++) {
        const if_cond *c = &ih->c[i];
        if (c->list != list)
            continue;
        int holds = c->is_etag ? etag_len && c->len == etag_len && !memcmp(c->s, etag, etag_len)
                               : token_in(locks, c->s, c->len);
        if (holds == c->negate)
            return 0;
    }
    (void)d;
    return 1;
}

/* The If header as a whole: 1 when one of its lists holds. */
static int if_holds(dav_req *d, const if_header *ih) {
    token_set locks = {0};
    sqlite3 *db = dav_db(d);
    if (db)
        webdav_lock_each(db, d->key, 1, lux_req_now(d->r), collect_token, &locks);
    char etag[64];
    size_t etag_len = 0;
    struct stat st;
    if (d->res.dirfd >= 0 && webdav_res_stat(&d->res, 0, &st) == 0)
        etag_len = dav_etag(d, &st, etag);
    int holds = 0;
    for (int l = 0; l < ih->nlists && !holds; l++)
        holds = if_list_holds(d, ih, l, &locks, etag, etag_len);
    token_set_free(&locks);
    return holds;
}

int dav_check_write(dav_req *d, const char *key, int subtree) {
    const lux_str *h = lux_req_header(d->r, "If", 2);
    if_header ih = {0};
    if (h && if_parse(h, &ih) < 0)
        return 400;
    if (h && !d->if_checked) {
        if (!if_holds(d, &ih))
            return 412;
        d->if_checked = 1;
    }
    sqlite3 *db = dav_db(d);
    if (db) {
        token_set locks = {0};
        webdav_lock_each(db, key, subtree, lux_req_now(d->r), collect_token, &locks);
        int missing = locks.oom;
        for (size_t i = 0; i < locks.n && !missing; i++) {
            size_t k = 0;
            while (k < ih.n && (ih.c[k].is_etag || ih.c[k].negate ||
                                !(ih.c[k].len == strlen(locks.tokens[i]) &&
                                  memcmp(ih.c[k].s, locks.tokens[i], ih.c[k].len) == 0)))
                k++;
            missing = k == ih.n;
        }
        token_set_free(&locks);
        if (missing)
            return 423;
    }
    return 0;
}

/* ---- lockdiscovery ------------------------------------------------------------------------- */

typedef struct {
    dav_req *d;
    dav_buf *b;
    const char *only; /* just this token, or NULL */
} discovery;

static void put_activelock(void *arg, const webdav_lock *l) {
    discovery *x = arg;
    if (x->only && strcmp(x->only, l->token) != 0)
        return;
    dav_buf *b = x->b;
    long left = (long)(l->expires - lux_req_now(x->d->r));
    dav_printf(b,
               "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:%s/>"
               "</D:lockscope><D:depth>%s</D:depth>",
               l->exclusive ? "exclusive" : "shared", l->infinite ? "infinity" : "0");
    if (*l->owner) {
        dav_puts(b, "<D:owner>");
        dav_puts(b, l->owner);
        dav_puts(b, "</D:owner>");
    }
    dav_printf(b, "<D:timeout>Second-%ld</D:timeout><D:locktoken><D:href>", left > 0 ? left : 0);
    dav_put_escaped(b, l->token, strlen(l->token));
    dav_puts(b, "</D:href></D:locktoken><D:lockroot><D:href>");
    dav_put_href(b, l->resource, strlen(l->resource), 0);
    dav_puts(b, "</D:href></D:lockroot></D:activelock>");
}

void dav_put_lockdiscovery(dav_req *d, dav_buf *b, const char *key) {
    sqlite3 *db = dav_db(d);
    discovery x = {d, b, NULL};
    if (db)
        webdav_lock_each(db, key, 0, lux_req_now(d->r), put_activelock, &x);
}

static lux_result send_lock(dav_req *d, int status, const char *key, const char *token) {
    dav_buf b = {0};
    discovery x = {d, &b, token};
    dav_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\">"
                 "<D:lockdiscovery>");
    webdav_lock_each(d->db, key, 0, lux_req_now(d->r), put_activelock, &x);
    dav_puts(&b, "</D:lockdiscovery></D:prop>\n");
    return dav_send_xml(d, status, &b);
}

/* ---- LOCK and UNLOCK ----------------------------------------------------------------------- */

/* Timeout: the first "Second-N" or "Infinite" of the list; the default when absent. */
static long lock_timeout(const lux_req *r) {
    const lux_str *h = lux_req_header(r, "Timeout", 7);
    if (!h)
        return LOCK_TIMEOUT_DEFAULT;
    const char *p = h->ptr;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "Infinite", 8) == 0)
        return LOCK_TIMEOUT_MAX;
    if (strncasecmp(p, "Second-", 7) == 0) {
        char *end;
        long n = strtol(p + 7, &end, 10);
        if (end != p + 7 && n > 0)
            return n < LOCK_TIMEOUT_MAX ? n : LOCK_TIMEOUT_MAX;
    }
    return LOCK_TIMEOUT_DEFAULT;
}

static int new_token(char *out, size_t len) {
    uint8_t u[16];
    if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u)
        return -1;
    u[6] = (uint8_t)((u[6] & 0x0F) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
    snprintf(out, len,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    return 0;
}

typedef struct {
    int exclusive_seen, any;
} conflict;

static void note_conflict(void *arg, const webdav_lock *l) {
    conflict *c = arg;
    c->any = 1;
    c->exclusive_seen |= l->exclusive;
}

/* LOCK without a body: refresh the lock whose token the If header submits. */
static lux_result refresh_lock(dav_req *d) {
    const lux_str *h = lux_req_header(d->r, "If", 2);
    if_header ih;
    if (!h || if_parse(h, &ih) < 0)
        return lux_resp_error(d->r, 400);
    token_set locks = {0};
    webdav_lock_each(d->db, d->key, 0, lux_req_now(d->r), collect_token, &locks);
    const char *token = NULL;
    for (size_t i = 0; i < ih.n && !token; i++)
        if (!ih.c[i].is_etag && token_in(&locks, ih.c[i].s, ih.c[i].len))
            for (size_t k = 0; k < locks.n; k++)
                if (strlen(locks.tokens[k]) == ih.c[i].len &&
                    memcmp(locks.tokens[k], ih.c[i].s, ih.c[i].len) == 0)
                    token = locks.tokens[k];
    long timeout = lock_timeout(d->r);
    lux_result res;
    if (!token)
        res = lux_resp_error(d->r, 412);
    else if (webdav_lock_refresh(d->db, token, timeout, lux_req_now(d->r) + timeout) < 0)
        res = LUX_ERROR;
    else
        res = send_lock(d, 200, d->key, token);
    token_set_free(&locks);
    return res;
}

lux_result dav_lock(dav_req *d) {
    if (!dav_db(d))
        return lux_resp_error(d->r, 501);
    if (!d->body_len)
        return refresh_lock(d);
    const lux_str *dh = lux_req_header(d->r, "Depth", 5);
    int infinite = !dh || (dh->len == 8 && strncasecmp(dh->ptr, "infinity", 8) == 0);
    if (!infinite && !(dh->len == 1 && dh->ptr[0] == '0'))
        return lux_resp_error(d->r, 400);
    webdav_xml_doc doc;
    char err[128];
    const webdav_xml_node *scope = NULL, *type = NULL;
    if (webdav_xml_parse(d->body, d->body_len, &doc, err, sizeof err) == 0 &&
        webdav_xml_is(doc.root, "DAV:", "lockinfo")) {
        scope = webdav_xml_child(doc.root, "DAV:", "lockscope");
        type = webdav_xml_child(doc.root, "DAV:", "locktype");
    }
    int exclusive = scope && webdav_xml_child(scope, "DAV:", "exclusive");
    if (!scope || !type || !webdav_xml_child(type, "DAV:", "write") ||
        (!exclusive && !webdav_xml_child(scope, "DAV:", "shared"))) {
        webdav_xml_free(&doc);
        return lux_resp_error(d->r, 400);
    }
    const webdav_xml_node *owner = webdav_xml_child(doc.root, "DAV:", "owner");
    char *owner_xml = owner ? strndup(owner->inner, owner->inner_len) : strdup("");
    webdav_xml_free(&doc);
    conflict c = {0};
    time_t now = lux_req_now(d->r);
    webdav_lock_each(d->db, d->key, infinite, now, note_conflict, &c);
    if (!owner_xml || c.exclusive_seen || (c.any && exclusive)) {
        free(owner_xml);
        return owner_xml ? lux_resp_error(d->r, 423) : LUX_ERROR;
    }
    int status = 200;
    int fd = d->res.is_root ? -1
                            : openat(d->res.dirfd, d->res.name,
                                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        status = 201; /* a lock on an unmapped URL makes an empty resource */
    } else if (!d->res.is_root && errno != EEXIST) {
        free(owner_xml);
        return lux_resp_error(d->r, errno == ENOENT ? 409 : 403);
    }
    char token[64];
    long timeout = lock_timeout(d->r);
    webdav_lock l = {.token = token,
                     .resource = d->key,
                     .owner = owner_xml,
                     .exclusive = exclusive,
                     .infinite = infinite,
                     .timeout = timeout,
                     .expires = now + timeout};
    int rc = new_token(token, sizeof token) == 0 ? webdav_lock_add(d->db, &l, now) : -1;
    free(owner_xml);
    if (rc < 0)
        return LUX_ERROR;
    char *hv = NULL;
    if (asprintf(&hv, "<%s>", token) < 0)
        return LUX_ERROR;
    int hr = lux_resp_header(d->r, "Lock-Token", 10, hv, strlen(hv));
    free(hv);
    return hr < 0 ? LUX_ERROR : send_lock(d, status, d->key, token);
}

lux_result dav_unlock(dav_req *d) {
    const lux_str *h = lux_req_header(d->r, "Lock-Token", 10);
    if (!h || h->len < 3 || h->ptr[0] != '<' || h->ptr[h->len - 1] != '>')
        return lux_resp_error(d->r, 400);
    if (!dav_db(d))
        return lux_resp_error(d->r, 409);
    token_set locks = {0};
    webdav_lock_each(d->db, d->key, 0, lux_req_now(d->r), collect_token, &locks);
    int held = token_in(&locks, h->ptr + 1, h->len - 2);
    token_set_free(&locks);
    if (!held) {
        dav_buf b = {0};
        dav_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\">"
                     "<D:lock-token-matches-request-uri/></D:error>\n");
        return dav_send_xml(d, 409, &b);
    }
    char *token = strndup(h->ptr + 1, h->len - 2);
    int rc = token ? webdav_lock_remove(d->db, token) : -1;
    free(token);
    if (rc < 0)
        return LUX_ERROR;
    d->r->status = 204;
    return LUX_HANDLED;
}
