/*
 * mod_kv: a small JSON key-value API, the worked example of docs/plugin-guide.md.
 *
 *   server.modules += ( "mod_kv" )
 *   kv.prefix = "/api/kv/"      # where the API lives
 *   kv.max-entries = 1000       # keys per worker; a PUT of a new key beyond it gets 507
 *   kv.max-value-size = 65536   # bytes; a larger PUT gets 413
 *
 *   GET    /api/kv/        the keys, as a JSON array of strings
 *   GET    /api/kv/KEY     the value (stored as given, served as application/json), or 404
 *   PUT    /api/kv/KEY     store the request body as the value: 201 new, 204 replaced
 *   DELETE /api/kv/KEY     204, or 404
 *
 * Keys are 1 to 200 of [A-Za-z0-9._~-], so they need no escaping in URLs or JSON.
 *
 * Each worker thread has its own store (lux_worker_data): the request path takes no lock, and
 * a store lives as long as its worker, across reloads. The price is that a key is seen only
 * by connections its worker serves; with server.max-worker = 1 the store is the server's. A
 * store shared by all workers would need a lock (or a lock-free map) on every request: that is
 * the trade-off this example shows, not the one every module must make.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lux/req.h"

#define KV_BUCKETS 256
#define KV_KEY_MAX 200

typedef struct {
    lux_str prefix;      /* kv.prefix */
    long max_entries;    /* kv.max-entries */
    long max_value_size; /* kv.max-value-size */
} kv_conf;

typedef struct kv_entry {
    struct kv_entry *next;
    size_t key_len, value_len;
    char *value;
    char key[]; /* key_len bytes */
} kv_entry;

/* One per worker: a chained hash table. */
typedef struct {
    kv_entry *bucket[KV_BUCKETS];
    size_t n;
} kv_store;

/* A PUT in progress: its body may arrive after the handler has returned. */
typedef struct {
    lux_req *r;
    const kv_conf *conf;
    kv_store *store;
    lux_str key;
    char *buf; /* malloc'ed: becomes the stored value */
    size_t len, cap;
    int waiting; /* the handler returned LUX_ASYNC */
} kv_put;

extern const lux_module mod_kv_module;

static const lux_directive kv_directives[] = {
    {"kv.prefix", LUX_D_STRING, offsetof(kv_conf, prefix), LUX_SCOPE_ANY},
    {"kv.max-entries", LUX_D_INT, offsetof(kv_conf, max_entries), LUX_SCOPE_ANY},
    {"kv.max-value-size", LUX_D_INT, offsetof(kv_conf, max_value_size), LUX_SCOPE_ANY},
    {NULL},
};

static void kv_conf_init(void *p) {
    kv_conf *c = p;
    c->prefix = (lux_str){"/api/kv/", 8};
    c->max_entries = 1000;
    c->max_value_size = 64 * 1024;
}

static int kv_conf_finish(lux_gen *gen, void *p, char *err, size_t errlen) {
    const kv_conf *c = p;
    if (!c->prefix.len || c->prefix.ptr[0] != '/' || c->prefix.ptr[c->prefix.len - 1] != '/') {
        snprintf(err, errlen, "kv.prefix must start and end with '/'");
        return -1;
    }
    if (c->max_entries < 0 || c->max_value_size < 0) {
        snprintf(err, errlen, "kv.max-entries and kv.max-value-size must not be negative");
        return -1;
    }
    return 0;
}

/* The store. */

static size_t bucket_of(const char *key, size_t len) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h % KV_BUCKETS;
}

/* The link that points at key's entry, or at the NULL that ends its bucket. */
static kv_entry **find_link(kv_store *s, lux_str key) {
    kv_entry **e = &s->bucket[bucket_of(key.ptr, key.len)];
    while (*e && !((*e)->key_len == key.len && memcmp((*e)->key, key.ptr, key.len) == 0))
        e = &(*e)->next;
    return e;
}

static void store_free(void *p) {
    kv_store *s = p;
    for (size_t b = 0; b < KV_BUCKETS; b++)
        while (s->bucket[b]) {
            kv_entry *e = s->bucket[b];
            s->bucket[b] = e->next;
            free(e->value);
            free(e);
        }
    free(s);
}

/* This worker's store, made on first use and freed when the worker stops. */
static kv_store *store_of(lux_worker *w) {
    void **slot = lux_worker_data(w, &mod_kv_module);
    if (!slot)
        return NULL;
    if (!*slot) {
        kv_store *s = calloc(1, sizeof *s);
        if (!s || lux_worker_on_stop(w, store_free, s) < 0) {
            free(s);
            return NULL;
        }
        *slot = s;
    }
    return *slot;
}

/* Answers. */

static lux_result answer_json(lux_req *r, int status, const char *body, size_t len) {
    r->status = status;
    if (lux_resp_header(r, "Content-Type", 12, "application/json", 16) < 0 ||
        lux_resp_body_copy(r, body, len) < 0)
        return LUX_ERROR;
    return LUX_HANDLED;
}

static lux_result answer_error(lux_req *r, int status, const char *message) {
    const char *body = lux_req_printf(r, "{\"error\":\"%s\"}\n", message);
    return body ? answer_json(r, status, body, strlen(body)) : LUX_ERROR;
}

static lux_result answer_status(lux_req *r, int status) {
    r->status = status;
    return LUX_HANDLED;
}

static lux_result answer_list(lux_req *r, const kv_store *s) {
    size_t size = 3; /* "[]\n" */
    for (size_t b = 0; b < KV_BUCKETS; b++)
        for (const kv_entry *e = s->bucket[b]; e; e = e->next)
            size += e->key_len + 3; /* "key", */
    char *out = lux_req_alloc(r, size);
    if (!out)
        return LUX_ERROR;
    size_t n = 0;
    out[n++] = '[';
    for (size_t b = 0; b < KV_BUCKETS; b++)
        for (const kv_entry *e = s->bucket[b]; e; e = e->next) {
            if (n > 1)
                out[n++] = ',';
            out[n++] = '"';
            memcpy(out + n, e->key, e->key_len);
            n += e->key_len;
            out[n++] = '"';
        }
    out[n++] = ']';
    out[n++] = '\n';
    r->status = 200;
    if (lux_resp_header(r, "Content-Type", 12, "application/json", 16) < 0 ||
        lux_resp_body_mem(r, out, n) < 0) /* out lives in the request's pool */
        return LUX_ERROR;
    return LUX_HANDLED;
}

static lux_result answer_value(lux_req *r, kv_store *s, lux_str key) {
    const kv_entry *e = *find_link(s, key);
    if (!e)
        return answer_error(r, 404, "no such key");
    /* A copy: a DELETE on this worker may free the value while the response is still queued. */
    return answer_json(r, 200, e->value, e->value_len);
}

static lux_result answer_delete(lux_req *r, kv_store *s, lux_str key) {
    kv_entry **link = find_link(s, key);
    kv_entry *e = *link;
    if (!e)
        return answer_error(r, 404, "no such key");
    *link = e->next;
    free(e->value);
    free(e);
    s->n--;
    return answer_status(r, 204);
}

/* PUT: read the body, then store it. */

/* The body is read: the buffer becomes the key's value. */
static lux_result store_value(kv_put *p) {
    kv_entry **link = find_link(p->store, p->key);
    kv_entry *e = *link;
    if (e) {
        free(e->value);
        e->value = p->buf;
        e->value_len = p->len;
        return answer_status(p->r, 204);
    }
    if (p->store->n >= (size_t)p->conf->max_entries) {
        free(p->buf);
        return answer_error(p->r, 507, "store full");
    }
    e = malloc(sizeof *e + p->key.len);
    if (!e) {
        free(p->buf);
        return LUX_ERROR;
    }
    e->next = NULL;
    e->key_len = p->key.len;
    memcpy(e->key, p->key.ptr, p->key.len);
    e->value = p->buf;
    e->value_len = p->len;
    *link = e;
    p->store->n++;
    return answer_status(p->r, 201);
}

/* Make room for more body, up to one byte past the limit (which tells a body that is too large
 * from one that is exactly at it). */
static int grow(kv_put *p) {
    size_t limit = (size_t)p->conf->max_value_size + 1;
    size_t want = p->cap ? p->cap * 2 : 4096;
    if (!p->cap && p->r->content_length >= 0)
        want = (size_t)p->r->content_length + 1;
    if (want > limit)
        want = limit;
    char *buf = realloc(p->buf, want);
    if (!buf)
        return -1;
    p->buf = buf;
    p->cap = want;
    return 0;
}

static void on_body(lux_req *r, void *arg);

/* Read what has come; LUX_ASYNC while more is to come, else the answer. */
static lux_result read_value(kv_put *p) {
    for (;;) {
        if (p->len > (size_t)p->conf->max_value_size) {
            free(p->buf);
            return answer_error(p->r, 413, "value too large");
        }
        if (p->len == p->cap && grow(p) < 0) {
            free(p->buf);
            return LUX_ERROR;
        }
        ssize_t n = lux_req_body_read(p->r, p->buf + p->len, p->cap - p->len);
        if (n > 0) {
            p->len += (size_t)n;
            continue;
        }
        if (n == 0)
            return store_value(p);
        if (errno == EAGAIN) {
            lux_req_body_notify(p->r, on_body, p);
            return LUX_ASYNC;
        }
        free(p->buf); /* EPIPE: the body failed; the core answers the client, if it is there */
        return LUX_ERROR;
    }
}

/* More body (with server.stream-request-body = 1 or 2): go on reading, answer when done. */
static void on_body(lux_req *r, void *arg) {
    kv_put *p = arg;
    lux_result res = read_value(p);
    if (res == LUX_ASYNC)
        return;
    lux_req_body_notify(r, NULL, NULL);
    lux_req_resume(r, res);
}

/* The client left while the body was coming: drop what was read. */
static void on_abort(lux_req *r, void *arg) {
    kv_put *p = arg;
    free(p->buf);
}

static lux_result start_put(lux_req *r, const kv_conf *c, kv_store *s, lux_str key) {
    if (r->content_length > c->max_value_size)
        return answer_error(r, 413, "value too large");
    kv_put *p = lux_req_alloc(r, sizeof *p);
    if (!p)
        return LUX_ERROR;
    *p = (kv_put){.r = r, .conf = c, .store = s, .key = key};
    lux_result res = read_value(p);
    if (res == LUX_ASYNC)
        lux_req_on_abort(r, on_abort, p);
    return res;
}

/* The handler. */

static int valid_key(lux_str key) {
    if (key.len == 0 || key.len > KV_KEY_MAX)
        return 0;
    for (size_t i = 0; i < key.len; i++) {
        char ch = key.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '~' || ch == '-'))
            return 0;
    }
    return 1;
}

static lux_result not_allowed(lux_req *r, const char *allow) {
    if (lux_resp_header(r, "Allow", 5, allow, strlen(allow)) < 0)
        return LUX_ERROR;
    return answer_error(r, 405, "method not allowed");
}

static lux_result kv_handle(lux_req *r, const void *conf) {
    const kv_conf *c = conf;
    if (r->path.len < c->prefix.len || memcmp(r->path.ptr, c->prefix.ptr, c->prefix.len) != 0)
        return LUX_GO_ON; /* not under the prefix: the next module decides */
    kv_store *s = store_of(r->worker);
    if (!s)
        return LUX_ERROR;
    lux_str key = {r->path.ptr + c->prefix.len, r->path.len - c->prefix.len};
    if (key.len == 0)
        return r->method == LUX_M_GET || r->method == LUX_M_HEAD ? answer_list(r, s)
                                                                 : not_allowed(r, "GET, HEAD");
    if (!valid_key(key))
        return answer_error(r, 400, "invalid key");
    switch (r->method) {
    case LUX_M_GET:
    case LUX_M_HEAD:
        return answer_value(r, s, key);
    case LUX_M_PUT:
        return start_put(r, c, s, key);
    case LUX_M_DELETE:
        return answer_delete(r, s, key);
    default:
        return not_allowed(r, "GET, HEAD, PUT, DELETE");
    }
}

const lux_module mod_kv_module = {
    .name = "mod_kv",
    .api_version = LUX_MODULE_API_VERSION,
    .abi = LUX_MODULE_ABI,
    .directives = kv_directives,
    .conf_size = sizeof(kv_conf),
    .conf_init = kv_conf_init,
    .conf_finish = kv_conf_finish,
    .handle = kv_handle,
};
