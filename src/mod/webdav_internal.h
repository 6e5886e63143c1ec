/*
 * What mod_webdav's files share: its settings, the state of one WebDAV request, and the
 * growable buffer its XML answers are written into.
 */
#ifndef LUX_WEBDAV_INTERNAL_H
#define LUX_WEBDAV_INTERNAL_H

#include <stddef.h>
#include <sys/stat.h>

#include "lux/req.h"
#include "mod/webdav_db.h"
#include "mod/webdav_fs.h"
#include "mod/webdav_xml.h"

/* webdav.opts */
enum {
    WEBDAV_OPT_PARTIAL_PUT = 1,           /* deprecated-unsafe-partial-put */
    WEBDAV_OPT_PROPFIND_INFINITY = 2,     /* propfind-depth-infinity */
    WEBDAV_OPT_PROPFIND_FOLLOW_LINKS = 4, /* unsafe-propfind-follow-symlink */
    WEBDAV_OPT_PARTIAL_PUT_COPY = 8,      /* partial-put-copy-modify */
};

typedef struct {
    int activate;
    int readonly;
    int log_xml;
    lux_str db_name;
    unsigned opts;
} webdav_conf;

/* XML request bodies larger than this are refused (413): they are parsed in memory. */
#define WEBDAV_XML_MAX_BODY (1024 * 1024)

typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: the answer is a 500 */
} dav_buf;

void dav_put(dav_buf *b, const char *s, size_t n);
void dav_puts(dav_buf *b, const char *s);
void dav_printf(dav_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s escaped for XML text and attribute values. */
void dav_put_escaped(dav_buf *b, const char *s, size_t n);
/* Append a URL path percent-encoded as an href. */
void dav_put_href(dav_buf *b, const char *path, size_t n, int collection);

typedef struct {
    lux_req *r;
    const webdav_conf *c;
    int root_fd;      /* the document root, opened O_PATH */
    int follow_links; /* server.follow-symlink */
    webdav_res res;   /* the target resource */
    char *key;        /* its name in the store: the URL path without a trailing slash */
    sqlite3 *db;      /* opened when first needed (dav_db), NULL without webdav.sqlite-db-name */
    char *body;       /* an XML request body as read */
    size_t body_len;
    int put_fd; /* PUT: the temporary file the body goes to, or the file itself (partial) */
    char put_tmp[64];
    uint64_t put_offset; /* PUT with Content-Range: where the body goes */
    int put_partial;
    int if_checked; /* the If header's conditions were found to hold */
} dav_req;

/* The store of properties and locks, NULL when none is configured or it failed to open. */
sqlite3 *dav_db(dav_req *d);
/* Answer with a 207 Multi-Status (or another status) and an XML body from b; frees b. */
lux_result dav_send_xml(dav_req *d, int status, dav_buf *b);
/* The child key of key: key + "/" + name. malloc'd. */
char *dav_child_key(const char *key, const char *name);
/* Strong ETag of st as mod_staticfile makes it, into out (≥ 64 bytes); its length. */
size_t dav_etag(dav_req *d, const struct stat *st, char *out);

/* webdav_props.c */
lux_result dav_propfind(dav_req *d);
lux_result dav_proppatch(dav_req *d);

/* webdav_lock.c */
lux_result dav_lock(dav_req *d);
lux_result dav_unlock(dav_req *d);
/*
 * May the request change key (with subtree: and what lies beneath it)? 0 when it may, else the
 * status to answer: 412 when the If header's conditions do not hold (checked first, once per
 * request, against the request's resource), 423 when a lock applies whose token the If header
 * does not submit.
 */
int dav_check_write(dav_req *d, const char *key, int subtree);
/* Append the lockdiscovery contents (activelock elements) of key. */
void dav_put_lockdiscovery(dav_req *d, dav_buf *b, const char *key);

#endif
