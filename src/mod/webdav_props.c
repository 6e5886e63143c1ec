/* mod_webdav's properties: PROPFIND (live properties from the file system, dead ones from the
 * store) and PROPPATCH (dead properties, all of a request's changes or none). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "http/http_date.h"
#include "http/mimetype.h"
#include "mod/webdav_internal.h"

static const char xml_head[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

typedef enum { PF_ALL, PF_NAMES, PF_NAMED } pf_mode;

typedef struct {
    pf_mode mode;
    const webdav_xml_node *prop; /* PF_NAMED: the DAV:prop element */
    int depth;                   /* 0, 1, or -1: infinity */
    int follow;                  /* stat through symlinks (unsafe-propfind-follow-symlink) */
} pf_query;

static const char *const live_names[] = {
    "creationdate",    "displayname",   "getcontentlength", "getcontenttype", "getetag",
    "getlastmodified", "lockdiscovery", "resourcetype",     "supportedlock",  NULL,
};

static const char supported_lock[] =
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/>"
    "</D:locktype></D:lockentry>";

/* One live property of a resource with its value; 0 when name is none of them. */
static int live_prop(dav_req *d, dav_buf *b, const char *name, const char *key, const char *fname,
                     const struct stat *st) {
    int dir = S_ISDIR(st->st_mode);
    char tmp[64];
    if (strcmp(name, "creationdate") == 0) {
        struct tm tm;
        gmtime_r(&st->st_mtim.tv_sec, &tm);
        strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        dav_printf(b, "<D:creationdate>%s</D:creationdate>", tmp);
    } else if (strcmp(name, "displayname") == 0) {
        dav_puts(b, "<D:displayname>");
        dav_put_escaped(b, fname, strlen(fname));
        dav_puts(b, "</D:displayname>");
    } else if (strcmp(name, "getcontentlength") == 0) {
        dav_printf(b, "<D:getcontentlength>%lld</D:getcontentlength>", (long long)st->st_size);
    } else if (strcmp(name, "getcontenttype") == 0) {
        const lux_core_conf *core = d->r->confs[0];
        const char *type = dir ? "httpd/unix-directory"
                               : lux_mimetype_lookup(core->mimetypes.items, core->mimetypes.n,
                                                     fname, strlen(fname));
        dav_puts(b, "<D:getcontenttype>");
        dav_puts(b, type && *type ? type : "application/octet-stream");
        dav_puts(b, "</D:getcontenttype>");
    } else if (strcmp(name, "getetag") == 0) {
        size_t n = dav_etag(d, st, tmp);
        dav_puts(b, "<D:getetag>");
        dav_put(b, tmp, n); /* quotes need no escaping in text */
        dav_puts(b, "</D:getetag>");
    } else if (strcmp(name, "getlastmodified") == 0) {
        lux_http_date_format(st->st_mtim.tv_sec, tmp);
        dav_printf(b, "<D:getlastmodified>%s</D:getlastmodified>", tmp);
    } else if (strcmp(name, "lockdiscovery") == 0) {
        dav_puts(b, "<D:lockdiscovery>");
        dav_put_lockdiscovery(d, b, key);
        dav_puts(b, "</D:lockdiscovery>");
    } else if (strcmp(name, "resourcetype") == 0) {
        dav_puts(b, dir ? "<D:resourcetype><D:collection/></D:resourcetype>" : "<D:resourcetype/>");
    } else if (strcmp(name, "supportedlock") == 0) {
        dav_printf(b, "<D:supportedlock>%s</D:supportedlock>", supported_lock);
    } else {
        return 0;
    }
    return 1;
}

/* <name xmlns="ns"> (or the whole empty element when value is NULL) */
static void open_dead(dav_buf *b, const char *ns, const char *name, int empty) {
    dav_puts(b, "<");
    dav_puts(b, name);
    dav_puts(b, " xmlns=\"");
    dav_put_escaped(b, ns, strlen(ns));
    dav_puts(b, empty ? "\"/>" : "\">");
}

static void put_dead(void *arg, const char *ns, const char *name, const char *value) {
    dav_buf *b = arg;
    open_dead(b, ns, name, 0);
    dav_puts(b, value);
    dav_printf(b, "</%s>", name);
}

static void put_dead_name(void *arg, const char *ns, const char *name, const char *value) {
    (void)value;
    open_dead(arg, ns, name, 1);
}

typedef struct {
    int found;
} found_flag;

static void mark_found(void *arg, const char *ns, const char *name, const char *value) {
    (void)ns, (void)name, (void)value;
    ((found_flag *)arg)->found = 1;
}

static void put_propstat(dav_buf *b, const dav_buf *props, const char *status) {
    dav_puts(b, "<D:propstat><D:prop>");
    dav_put(b, props->p ? props->p : "", props->len);
    dav_printf(b, "</D:prop><D:status>HTTP/1.1 %s</D:status></D:propstat>\n", status);
}

/* One <D:response> of a PROPFIND answer. */
static void put_response(dav_req *d, dav_buf *b, const pf_query *q, const char *key,
                         const char *fname, const struct stat *st) {
    dav_buf found = {0}, missing = {0};
    sqlite3 *db = dav_db(d);
    if (q->mode == PF_NAMED) {
        for (const webdav_xml_node *p = q->prop->child; p; p = p->next) {
            found_flag f = {0};
            if (strcmp(p->ns, "DAV:") == 0 && live_prop(d, &found, p->name, key, fname, st))
                continue;
            if (db)
                webdav_prop_each(db, key, p->ns, p->name, mark_found, &f);
            if (f.found)
                webdav_prop_each(db, key, p->ns, p->name, put_dead, &found);
            else
                open_dead(&missing, p->ns, p->name, 1);
        }
    } else {
        for (size_t i = 0; live_names[i]; i++) {
            if (q->mode == PF_NAMES)
                dav_printf(&found, "<D:%s/>", live_names[i]);
            else
                live_prop(d, &found, live_names[i], key, fname, st);
        }
        if (db)
            webdav_prop_each(db, key, NULL, NULL, q->mode == PF_NAMES ? put_dead_name : put_dead,
                             &found);
    }
    dav_puts(b, "<D:response>\n<D:href>");
    dav_put_href(b, key, strlen(key), S_ISDIR(st->st_mode));
    dav_puts(b, "</D:href>\n");
    if (found.len || !missing.len)
        put_propstat(b, &found, "200 OK");
    if (missing.len)
        put_propstat(b, &missing, "404 Not Found");
    dav_puts(b, "</D:response>\n");
    if (found.failed || missing.failed)
        b->failed = 1;
    free(found.p);
    free(missing.p);
}

/* The members of the collection name in dirfd, and with depth infinity theirs. */
static void put_members(dav_req *d, dav_buf *b, const pf_query *q, int parent, const char *name,
                        const char *key, int level) {
    int fd =
        openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (q->follow ? 0 : O_NOFOLLOW));
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir)) && !b->failed) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strncmp(e->d_name, ".lux-webdav-", 12) == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, q->follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        char *ckey = dav_child_key(key, e->d_name);
        if (!ckey) {
            b->failed = 1;
            break;
        }
        put_response(d, b, q, ckey, e->d_name, &st);
        if (q->depth < 0 && S_ISDIR(st.st_mode) && level < WEBDAV_FS_MAX_DEPTH)
            put_members(d, b, q, dirfd(dir), e->d_name, ckey, level + 1);
        free(ckey);
    }
    closedir(dir);
}

/* The PROPFIND body: what it asks for. 0 or a status. */
static int parse_propfind(dav_req *d, webdav_xml_doc *doc, pf_query *q) {
    q->mode = PF_ALL;
    if (!d->body_len)
        return 0;
    char err[128];
    if (webdav_xml_parse(d->body, d->body_len, doc, err, sizeof err) < 0 ||
        !webdav_xml_is(doc->root, "DAV:", "propfind"))
        return 400;
    if ((q->prop = webdav_xml_child(doc->root, "DAV:", "prop")))
        q->mode = PF_NAMED;
    else if (webdav_xml_child(doc->root, "DAV:", "propname"))
        q->mode = PF_NAMES;
    else if (!webdav_xml_child(doc->root, "DAV:", "allprop"))
        return 400;
    return 0;
}

static int parse_depth(const lux_req *r) {
    const lux_str *h = lux_req_header(r, "Depth", 5);
    if (!h || (h->len == 8 && strncasecmp(h->ptr, "infinity", 8) == 0))
        return -1;
    if (h->len == 1 && (h->ptr[0] == '0' || h->ptr[0] == '1'))
        return h->ptr[0] - '0';
    return -2;
}

lux_result dav_propfind(dav_req *d) {
    pf_query q = {.depth = parse_depth(d->r),
                  .follow = !!(d->c->opts & WEBDAV_OPT_PROPFIND_FOLLOW_LINKS)};
    if (q.depth == -2)
        return lux_resp_error(d->r, 400);
    dav_buf b = {0};
    if (q.depth < 0 && !(d->c->opts & WEBDAV_OPT_PROPFIND_INFINITY)) {
        dav_puts(&b, xml_head);
        dav_puts(&b, "<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n");
        return dav_send_xml(d, 403, &b);
    }
    struct stat st;
    if (webdav_res_stat(&d->res, q.follow, &st) < 0)
        return lux_resp_error(d->r, errno == ENOENT ? 404 : 403);
    webdav_xml_doc doc = {0};
    int s = parse_propfind(d, &doc, &q);
    if (s) {
        webdav_xml_free(&doc);
        return lux_resp_error(d->r, s);
    }
    dav_puts(&b, xml_head);
    dav_puts(&b, "<D:multistatus xmlns:D=\"DAV:\">\n");
    const char *slash = strrchr(d->key, '/');
    put_response(d, &b, &q, d->key, slash ? slash + 1 : d->key, &st);
    if (S_ISDIR(st.st_mode) && q.depth != 0)
        put_members(d, &b, &q, d->res.dirfd, d->res.name, d->key, 0);
    dav_puts(&b, "</D:multistatus>\n");
    webdav_xml_free(&doc);
    return dav_send_xml(d, 207, &b);
}

/* ---- PROPPATCH ----------------------------------------------------------------------------- */

/* Each property a PROPPATCH names, in document order, with a callback per property. */
typedef void (*pp_fn)(void *arg, const webdav_xml_node *prop, int set);

static int each_change(const webdav_xml_node *root, pp_fn fn, void *arg) {
    for (const webdav_xml_node *op = root->child; op; op = op->next) {
        int set = webdav_xml_is(op, "DAV:", "set");
        if (!set && !webdav_xml_is(op, "DAV:", "remove"))
            continue;
        const webdav_xml_node *prop = webdav_xml_child(op, "DAV:", "prop");
        if (!prop)
            return -1;
        for (const webdav_xml_node *p = prop->child; p; p = p->next)
            fn(arg, p, set);
    }
    return 0;
}

typedef struct {
    dav_req *d;
    int protected_seen; /* a DAV: property: nothing changes */
    int failed;
    dav_buf ok, forbidden, dependent;
} pp_state;

static void check_change(void *arg, const webdav_xml_node *p, int set) {
    pp_state *s = arg;
    (void)set;
    if (strcmp(p->ns, "DAV:") == 0)
        s->protected_seen = 1;
}

static void apply_change(void *arg, const webdav_xml_node *p, int set) {
    pp_state *s = arg;
    sqlite3 *db = s->d->db;
    int rc = set ? webdav_prop_set(db, s->d->key, p->ns, p->name, p->inner, p->inner_len)
                 : webdav_prop_remove(db, s->d->key, p->ns, p->name);
    if (rc < 0)
        s->failed = 1;
}

static void report_change(void *arg, const webdav_xml_node *p, int set) {
    pp_state *s = arg;
    (void)set;
    dav_buf *b = !s->protected_seen           ? &s->ok
                 : strcmp(p->ns, "DAV:") == 0 ? &s->forbidden
                                              : &s->dependent;
    open_dead(b, p->ns, p->name, 1);
}

lux_result dav_proppatch(dav_req *d) {
    struct stat st;
    if (webdav_res_stat(&d->res, 0, &st) < 0)
        return lux_resp_error(d->r, errno == ENOENT ? 404 : 403);
    int status = dav_check_write(d, d->key, 0);
    if (status)
        return lux_resp_error(d->r, status);
    webdav_xml_doc doc = {0};
    char err[128];
    if (!d->body_len || webdav_xml_parse(d->body, d->body_len, &doc, err, sizeof err) < 0 ||
        !webdav_xml_is(doc.root, "DAV:", "propertyupdate")) {
        webdav_xml_free(&doc);
        return lux_resp_error(d->r, 400);
    }
    pp_state s = {.d = d};
    int bad = each_change(doc.root, check_change, &s) < 0;
    sqlite3 *db = dav_db(d);
    if (!bad && !db)
        s.protected_seen = 1; /* no store: every property is as good as protected */
    if (!bad && !s.protected_seen) {
        if (webdav_db_begin(db) < 0)
            s.failed = 1;
        else {
            each_change(doc.root, apply_change, &s);
            if (s.failed || webdav_db_commit(db) < 0) {
                webdav_db_rollback(db);
                s.failed = 1;
            }
        }
    }
    if (bad || s.failed) {
        webdav_xml_free(&doc);
        return lux_resp_error(d->r, bad ? 400 : 500);
    }
    each_change(doc.root, report_change, &s);
    if (!db) { /* nothing could be kept: every property is refused */
        dav_put(&s.forbidden, s.dependent.p, s.dependent.len);
        free(s.dependent.p);
        s.dependent = (dav_buf){0};
    }
    webdav_xml_free(&doc);
    dav_buf b = {0};
    dav_puts(&b, xml_head);
    dav_puts(&b, "<D:multistatus xmlns:D=\"DAV:\">\n<D:response>\n<D:href>");
    dav_put_href(&b, d->key, strlen(d->key), S_ISDIR(st.st_mode));
    dav_puts(&b, "</D:href>\n");
    if (s.ok.len)
        put_propstat(&b, &s.ok, "200 OK");
    if (s.forbidden.len)
        put_propstat(&b, &s.forbidden, "403 Forbidden");
    if (s.dependent.len)
        put_propstat(&b, &s.dependent, "424 Failed Dependency");
    dav_puts(&b, "</D:response>\n</D:multistatus>\n");
    free(s.ok.p);
    free(s.forbidden.p);
    free(s.dependent.p);
    return dav_send_xml(d, 207, &b);
}
