/*
 * mod_auth: HTTP authentication (Basic, RFC 7617; Digest, RFC 7616 with MD5 and SHA-256) for
 * the path prefixes auth.require names, against mod_authn_file's user files. Checked on the
 * clean path (uri_clean), as lighttpd does. Password hashes that cost on purpose (crypt(3):
 * bcrypt, SHA-crypt, DES) are checked on the shared offload pool (core/offload.h) while the
 * request waits (LUX_ASYNC), so the worker keeps serving everyone else.
 */
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/offload.h"
#include "core/pool.h"
#include "http/request.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/authn.h"
#include "mod/mod_auth_parse.h"

/* A Digest nonce is good for this long after it was issued; then the client is told
 * stale=true and retries with a fresh one without asking its user again. */
#define AUTH_NONCE_TTL 600
/* Longest Authorization header value looked at; longer ones are malformed. */
#define AUTH_HEADER_MAX 4096
/* Longest stored secret (hash, password, HA1) of a user file line. */
#define AUTH_SECRET_MAX 512

enum { AUTH_BASIC = 1, AUTH_DIGEST, AUTH_EXTERN };

typedef struct {
    lux_str prefix;
    int method;
    lux_str realm;
    auth_alg algs[2]; /* Digest algorithms, in the order they are offered */
    unsigned nalgs;
    int valid_user;
    lux_strlist users, groups;
    lux_str nonce_secret; /* lighttpd's nonce_secret: shared by servers; else per process */
} auth_require;

typedef struct {
    size_t n;
    auth_require *items;
} auth_require_list;

typedef struct {
    const auth_require_list *require;
    int backend;        /* authn_backend */
    long cache_max_age; /* auth.cache: seconds a verified Basic password is remembered; 0 off */
    int extern_authn;
} auth_conf;

/* ---- settings ---------------------------------------------------------------------------- */

static int conf_error(char *err, size_t el, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int conf_error(char *err, size_t el, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, el, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_backend(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    static const char *const names[] = {NULL, "htpasswd", "htdigest", "plain"};
    if (v->type == LUX_V_STRING)
        for (int i = 1; i < 4; i++)
            if (strcmp(v->u.str.ptr, names[i]) == 0) {
                *(int *)dst = i;
                return 0;
            }
    snprintf(err, el, "auth.backend: lux has \"htpasswd\", \"htdigest\" and \"plain\"");
    return -1;
}

static int parse_cache(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    size_t n;
    const lux_keyval *kv =
        lux_conf_keyvals(gen, v, &n, "auth.cache = ( \"max-age\" => \"600\" )", err, el);
    if (!kv)
        return -1;
    long age = 600; /* lighttpd's default once auth.cache is set */
    for (size_t i = 0; i < n; i++) {
        char *end;
        if (strcmp(kv[i].key.ptr, "max-age") != 0) {
            snprintf(err, el, "auth.cache: unknown key \"%s\" (lux knows \"max-age\")",
                     kv[i].key.ptr);
            return -1;
        }
        age = strtol(kv[i].value.ptr, &end, 10);
        if (*end || age < 0) {
            snprintf(err, el, "auth.cache: max-age must be a number of seconds");
            return -1;
        }
    }
    *(long *)dst = age;
    return 0;
}

/* "user=a|user=b|group=g" or "valid-user" */
static int parse_require_list(lux_gen *gen, auth_require *a, const char *s, char *err, size_t el) {
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == '|';
    a->users.items = lux_pool_alloc(&gen->pool, cap * sizeof(lux_str));
    a->groups.items = lux_pool_alloc(&gen->pool, cap * sizeof(lux_str));
    if (!a->users.items || !a->groups.items)
        return conf_error(err, el, "out of memory");
    for (const char *p = s;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == 10 && memcmp(p, "valid-user", 10) == 0 && p == s && !bar)
            a->valid_user = 1;
        else if (len > 5 && memcmp(p, "user=", 5) == 0)
            a->users.items[a->users.n++] =
                (lux_str){lux_pool_strndup(&gen->pool, p + 5, len - 5), len - 5};
        else if (len > 6 && memcmp(p, "group=", 6) == 0)
            a->groups.items[a->groups.n++] =
                (lux_str){lux_pool_strndup(&gen->pool, p + 6, len - 6), len - 6};
        else
            return conf_error(err, el,
                              "auth.require: \"require\" takes \"valid-user\" alone, or "
                              "\"user=name|group=name|...\"; not \"%.*s\"",
                              (int)len, p);
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

static int parse_algorithms(auth_require *a, const char *s, char *err, size_t el) {
    for (const char *p = s;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        auth_alg alg = auth_alg_parse(p, len);
        if (!alg || a->nalgs >= 2 || (a->nalgs && a->algs[0] == alg))
            return conf_error(err, el,
                              "auth.require: \"algorithm\" takes \"MD5\", \"SHA-256\" or both "
                              "(\"SHA-256|MD5\"), not \"%s\"",
                              s);
        a->algs[a->nalgs++] = alg;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

static int parse_method(auth_require *a, const char *m, char *err, size_t el) {
    if (strcmp(m, "basic") == 0)
        a->method = AUTH_BASIC;
    else if (strcmp(m, "digest") == 0)
        a->method = AUTH_DIGEST;
    else if (strcmp(m, "extern") == 0)
        a->method = AUTH_EXTERN;
    else
        return conf_error(err, el,
                          "auth.require: \"method\" is \"basic\", \"digest\" or \"extern\", not "
                          "\"%s\"",
                          m);
    return 0;
}

static int parse_require_entry(lux_gen *gen, const lux_value *e, auth_require *a, char *err,
                               size_t el) {
    static const char usage[] = "auth.require = ( \"/path\" => ( \"method\" => \"basic\", "
                                "\"realm\" => \"...\", \"require\" => \"valid-user\" ) )";
    size_t n;
    const lux_keyval *kv = lux_conf_keyvals(gen, e, &n, usage, err, el);
    if (!kv)
        return -1;
    a->prefix = (lux_str){e->key, e->key_len};
    const char *require = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i].key.ptr, *v = kv[i].value.ptr;
        int rc = 0;
        if (strcmp(k, "method") == 0)
            rc = parse_method(a, v, err, el);
        else if (strcmp(k, "realm") == 0)
            a->realm = kv[i].value;
        else if (strcmp(k, "require") == 0)
            require = v;
        else if (strcmp(k, "algorithm") == 0)
            rc = parse_algorithms(a, v, err, el);
        else if (strcmp(k, "nonce_secret") == 0 || strcmp(k, "nonce-secret") == 0)
            a->nonce_secret = kv[i].value;
        else
            rc = conf_error(err, el, "auth.require: unknown key \"%s\"", k);
        if (rc < 0)
            return -1;
    }
    if (!a->method || !a->realm.ptr || !require || !*require)
        return conf_error(err, el,
                          "auth.require \"%s\": \"method\", \"realm\" and \"require\" are "
                          "needed",
                          a->prefix.ptr);
    if (!a->nalgs)
        a->algs[a->nalgs++] = AUTH_ALG_MD5;
    return parse_require_list(gen, a, require, err, el);
}

static int parse_require(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    if (v->type != LUX_V_ARRAY)
        return conf_error(err, el, "auth.require must be an array of \"/path\" => ( ... )");
    auth_require_list *l = lux_pool_alloc(&gen->pool, sizeof *l);
    if (l)
        l->items = lux_pool_alloc(&gen->pool, (v->u.arr.len + 1) * sizeof *l->items);
    if (!l || !l->items)
        return conf_error(err, el, "out of memory");
    memset(l->items, 0, (v->u.arr.len + 1) * sizeof *l->items);
    l->n = v->u.arr.len;
    for (size_t i = 0; i < l->n; i++) {
        const lux_value *e = v->u.arr.items[i];
        if (!e->key || e->type != LUX_V_ARRAY)
            return conf_error(err, el, "auth.require must be an array of \"/path\" => ( ... )");
        if (parse_require_entry(gen, e, &l->items[i], err, el) < 0)
            return -1;
    }
    *(const auth_require_list **)dst = l;
    return 0;
}

static const lux_directive auth_directives[] = {
    {"auth.require", LUX_D_CUSTOM, offsetof(auth_conf, require), LUX_SCOPE_ANY, parse_require,
     sizeof(const auth_require_list *)},
    {"auth.backend", LUX_D_CUSTOM, offsetof(auth_conf, backend), LUX_SCOPE_ANY, parse_backend,
     sizeof(int)},
    {"auth.cache", LUX_D_CUSTOM, offsetof(auth_conf, cache_max_age), LUX_SCOPE_ANY, parse_cache,
     sizeof(long)},
    {"auth.extern-authn", LUX_D_BOOL, offsetof(auth_conf, extern_authn), LUX_SCOPE_ANY},
    {"auth.debug", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

/* ---- the credentials cache (auth.cache) ------------------------------------------------- */

/* Direct-mapped: a Basic password that verified is remembered under a SHA-256 of everything
 * it was checked against, until max-age; a collision just forgets the older entry. */
#define AUTH_CACHE_SLOTS 1024
#define AUTH_CACHE_KEY 64

static struct {
    pthread_mutex_t lock;
    struct {
        char key[AUTH_CACHE_KEY];
        time_t until;
    } slot[AUTH_CACHE_SLOTS];
} cache = {PTHREAD_MUTEX_INITIALIZER};

/* The key, in hex: SHA-256 of backend, file, realm, user and password. */
static void cache_key(int backend, const char *file, const lux_str *realm, const lux_str *user,
                      const lux_str *pass, char key[AUTH_CACHE_KEY + 1]) {
    char b = (char)('0' + backend);
    lux_str parts[] = {{&b, 1}, {file, strlen(file)}, *realm, *user, *pass};
    auth_hash_hex(AUTH_ALG_SHA256, parts, 5, key);
}

static unsigned cache_slot(const char *key) {
    return (unsigned)strtoul((char[]){key[0], key[1], key[2], key[3], '\0'}, NULL, 16) %
           AUTH_CACHE_SLOTS;
}

static int cache_has(const char *key, time_t now) {
    pthread_mutex_lock(&cache.lock);
    unsigned s = cache_slot(key);
    int hit = cache.slot[s].until > now && memcmp(cache.slot[s].key, key, AUTH_CACHE_KEY) == 0;
    pthread_mutex_unlock(&cache.lock);
    return hit;
}

static void cache_put(const char *key, time_t until) {
    pthread_mutex_lock(&cache.lock);
    unsigned s = cache_slot(key);
    memcpy(cache.slot[s].key, key, AUTH_CACHE_KEY);
    cache.slot[s].until = until;
    pthread_mutex_unlock(&cache.lock);
}

/* ---- answers ------------------------------------------------------------------------------ */

/* realm as a quoted-string: '"' and '\' escaped. */
static char *quoted(lux_req *r, const lux_str *s) {
    char *q = lux_pool_alloc(r->pool, 2 * s->len + 1), *o = q;
    if (!q)
        return NULL;
    for (size_t i = 0; i < s->len; i++) {
        if (s->ptr[i] == '"' || s->ptr[i] == '\\')
            *o++ = '\\';
        *o++ = s->ptr[i];
    }
    *o = '\0';
    return q;
}

/* The per-process key of Digest nonces: they stop verifying when the server restarts. */
static uint8_t nonce_key[32];
static int nonce_key_ok;
static void nonce_key_init(void) {
    nonce_key_ok = RAND_bytes(nonce_key, sizeof nonce_key) == 1;
    if (!nonce_key_ok)
        lux_log(LUX_LOG_ERR, "auth: no random bytes for the Digest nonce key");
}

/* The key nonces of this path are made with; NULL (Digest refused) when there is none: a
 * guessable key would let anyone make nonces. */
static const uint8_t *nonce_secret(const auth_require *a, size_t *len) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (a->nonce_secret.len) {
        *len = a->nonce_secret.len;
        return (const uint8_t *)a->nonce_secret.ptr;
    }
    pthread_once(&once, nonce_key_init);
    *len = sizeof nonce_key;
    return nonce_key_ok ? nonce_key : NULL;
}

/* 401 with one challenge per method (and Digest algorithm) the path accepts. */
static lux_result unauthorized(lux_req *r, const auth_require *a, int stale) {
    lux_resp_error(r, 401);
    char *realm = quoted(r, &a->realm);
    if (!realm)
        return LUX_ERROR;
    if (a->method == AUTH_BASIC) {
        char *v = lux_req_printf(r, "Basic realm=\"%s\", charset=\"UTF-8\"", realm);
        return v && lux_resp_header(r, "WWW-Authenticate", 16, v, strlen(v)) == 0 ? LUX_HANDLED
                                                                                  : LUX_ERROR;
    }
    if (a->method != AUTH_DIGEST)
        return LUX_HANDLED;
    size_t slen;
    const uint8_t *secret = nonce_secret(a, &slen);
    if (!secret)
        return LUX_ERROR;
    for (unsigned i = 0; i < a->nalgs; i++) {
        char nonce[9 + 64 + 1];
        auth_nonce_make(secret, slen, a->algs[i], a->realm.ptr, a->realm.len,
                        (uint32_t)lux_req_now(r), nonce);
        char *v =
            lux_req_printf(r,
                           "Digest realm=\"%s\", charset=\"UTF-8\", algorithm=%s, "
                           "nonce=\"%s\", qop=\"auth\"%s",
                           realm, auth_alg_name(a->algs[i]), nonce, stale ? ", stale=true" : "");
        if (!v || lux_resp_header(r, "WWW-Authenticate", 16, v, strlen(v)) < 0)
            return LUX_ERROR;
    }
    return LUX_HANDLED;
}

static lux_result bad_request(lux_req *r, const char *why) {
    const lux_core_conf *core = r->confs[0];
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "auth: malformed Authorization header: %s", why);
    return lux_resp_error(r, 400);
}

static lux_result authenticated(lux_req *r, const lux_str *user, const char *type) {
    char *u = lux_pool_strndup(r->pool, user->ptr, user->len);
    if (!u)
        return LUX_ERROR;
    r->auth_user = (lux_str){u, user->len};
    r->auth_type = type;
    return LUX_GO_ON;
}

/* May this user in? The file backends have no groups: a group= alone admits nobody. */
static int user_admitted(const auth_require *a, const lux_str *user) {
    if (a->valid_user)
        return 1;
    for (size_t i = 0; i < a->users.n; i++)
        if (a->users.items[i].len == user->len &&
            memcmp(a->users.items[i].ptr, user->ptr, user->len) == 0)
            return 1;
    return 0;
}

/* The first entry whose key is a prefix of the path; case-blind where the file system is. */
static const auth_require *find_require(const auth_conf *c, const lux_str *path, int nocase) {
    for (size_t i = 0; c->require && i < c->require->n; i++) {
        const auth_require *a = &c->require->items[i];
        if (a->prefix.len <= path->len &&
            (nocase ? strncasecmp(a->prefix.ptr, path->ptr, a->prefix.len)
                    : memcmp(a->prefix.ptr, path->ptr, a->prefix.len)) == 0)
            return a;
    }
    return NULL;
}

static const char *backend_file(lux_req *r, const auth_conf *c) {
    const authn_file_conf *f = lux_req_conf(r, &lux_mod_authn_file);
    const lux_str *s = !f                             ? NULL
                       : c->backend == AUTHN_HTPASSWD ? &f->htpasswd
                       : c->backend == AUTHN_HTDIGEST ? &f->htdigest
                       : c->backend == AUTHN_PLAIN    ? &f->plain
                                                      : NULL;
    if (!s || !s->ptr || !s->len) {
        lux_log(LUX_LOG_ERR, "auth: %s needs auth.backend and its userfile (mod_authn_file)",
                r->path.ptr);
        return NULL;
    }
    return s->ptr;
}

/* ---- Basic ------------------------------------------------------------------------------- */

/* A costly hash checked on the offload pool. Freed by basic_done, or by the pool when the
 * worker stopped first. */
typedef struct {
    lux_offload_job job;
    lux_req *r; /* NULL once the client went away */
    const auth_require *a;
    lux_str user; /* in r->pool */
    char key[AUTH_CACHE_KEY + 1];
    time_t cache_until; /* 0: not cached */
    int ok;
    char *pass; /* both in `data`, NUL-terminated */
    char *hash;
    char data[];
} basic_job;

static void basic_work(lux_offload_job *j) {
    basic_job *b = (basic_job *)j;
    b->ok = authn_hash_verify(b->hash, b->pass, strlen(b->pass));
    OPENSSL_cleanse(b->pass, strlen(b->pass));
}

static void basic_done(lux_offload_job *j) {
    basic_job *b = (basic_job *)j;
    lux_req *r = b->r;
    if (r) {
        lux_req_on_abort(r, NULL, NULL);
        lux_result res;
        if (!b->ok)
            res = unauthorized(r, b->a, 0);
        else {
            if (b->cache_until)
                cache_put(b->key, b->cache_until);
            res = authenticated(r, &b->user, "Basic");
        }
        lux_req_resume(r, res);
    }
    free(b);
}

static void basic_abort(lux_req *r, void *arg) {
    ((basic_job *)arg)->r = NULL;
}

static lux_result basic_offload(lux_req *r, const auth_require *a, const lux_str *user,
                                const lux_str *pass, const char *hash, const char *key,
                                time_t cache_until) {
    size_t hlen = strlen(hash);
    basic_job *b = calloc(1, sizeof *b + pass->len + 1 + hlen + 1);
    if (!b)
        return LUX_ERROR;
    b->job.work = basic_work;
    b->job.done = basic_done;
    b->r = r;
    b->a = a;
    b->user = *user;
    memcpy(b->key, key, sizeof b->key);
    b->cache_until = cache_until;
    b->pass = b->data;
    memcpy(b->pass, pass->ptr, pass->len + 1);
    b->hash = b->pass + pass->len + 1;
    memcpy(b->hash, hash, hlen + 1);
    lux_offload_inbox *inbox = lux_req_offload(r);
    if (!inbox || lux_offload_submit(inbox, &b->job) < 0) {
        free(b);
        lux_log(LUX_LOG_WARN, "auth: password checks are queued to the limit; 503");
        return lux_resp_error(r, 503);
    }
    lux_req_on_abort(r, basic_abort, b);
    return LUX_ASYNC;
}

/* Check pass for user against the backend; 1 yes, 0 no, -1 the backend failed. */
static int basic_check_inline(int backend, const char *secret, const auth_require *a,
                              const lux_str *user, const lux_str *pass) {
    if (backend == AUTHN_PLAIN)
        return auth_secret_eq(secret, strlen(secret), pass->ptr, pass->len);
    if (backend == AUTHN_HTDIGEST) {
        char ha1[65];
        lux_str parts[] = {*user, a->realm, *pass};
        size_t n = auth_hash_hex(AUTH_ALG_MD5, parts, 3, ha1);
        return auth_secret_eq(ha1, n, secret, strlen(secret));
    }
    return authn_hash_verify(secret, pass->ptr, pass->len);
}

static lux_result basic_auth(lux_req *r, const auth_conf *c, const auth_require *a,
                             const lux_str *cred) {
    if (!cred->len)
        return unauthorized(r, a, 0);
    char *buf = lux_pool_alloc(r->pool, cred->len + 1);
    lux_str user, pass;
    if (!buf)
        return LUX_ERROR;
    if (auth_parse_basic(cred->ptr, cred->len, buf, cred->len + 1, &user, &pass) < 0)
        return bad_request(r, "Basic credentials are not base64 of user:password");
    if (!user_admitted(a, &user))
        return unauthorized(r, a, 0);
    const char *file = backend_file(r, c);
    if (!file)
        return LUX_ERROR;
    char key[AUTH_CACHE_KEY + 1] = "";
    time_t now = lux_req_now(r), until = c->cache_max_age ? now + c->cache_max_age : 0;
    if (until) {
        cache_key(c->backend, file, &a->realm, &user, &pass, key);
        if (cache_has(key, now))
            return authenticated(r, &user, "Basic");
    }
    char secret[AUTH_SECRET_MAX];
    int found = authn_file_lookup(file, c->backend, &user, &a->realm, 32, secret, sizeof secret);
    if (found < 0)
        return LUX_ERROR;
    if (!found)
        return unauthorized(r, a, 0);
    if (c->backend == AUTHN_HTPASSWD && authn_hash_is_costly(secret))
        return basic_offload(r, a, &user, &pass, secret, key, until);
    int ok = basic_check_inline(c->backend, secret, a, &user, &pass);
    OPENSSL_cleanse(secret, sizeof secret);
    if (!ok)
        return unauthorized(r, a, 0);
    if (until)
        cache_put(key, until);
    return authenticated(r, &user, "Basic");
}

/* ---- Digest ------------------------------------------------------------------------------ */

/* HA1 = H(user:realm:password) for alg: from an htdigest line, or computed from a plain one. */
static int digest_ha1(lux_req *r, const auth_conf *c, const auth_require *a, auth_alg alg,
                      const lux_str *user, char *ha1) {
    const char *file = backend_file(r, c);
    if (!file)
        return -1;
    char secret[AUTH_SECRET_MAX];
    size_t hexlen = auth_alg_hexlen(alg);
    int found = authn_file_lookup(file, c->backend, user, &a->realm, hexlen, secret, sizeof secret);
    if (found <= 0)
        return found;
    if (c->backend == AUTHN_HTDIGEST)
        memcpy(ha1, secret, hexlen + 1);
    else {
        lux_str parts[] = {*user, a->realm, {secret, strlen(secret)}};
        auth_hash_hex(alg, parts, 3, ha1);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    return 1;
}

static int offered(const auth_require *a, auth_alg alg) {
    for (unsigned i = 0; i < a->nalgs; i++)
        if (a->algs[i] == alg)
            return 1;
    return 0;
}

static void lower_hex(char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'F')
            s[i] = (char)(s[i] - 'A' + 'a');
}

static lux_result digest_auth(lux_req *r, const auth_conf *c, const auth_require *a,
                              const lux_str *cred) {
    char *buf = lux_pool_alloc(r->pool, cred->len + 1);
    auth_digest_params d;
    if (!buf)
        return LUX_ERROR;
    if (auth_parse_digest(cred->ptr, cred->len, buf, cred->len + 1, &d) < 0)
        return bad_request(r, "Digest parameters");
    auth_alg alg =
        d.algorithm.ptr ? auth_alg_parse(d.algorithm.ptr, d.algorithm.len) : AUTH_ALG_MD5;
    if (d.qop.ptr && strcasecmp(d.qop.ptr, "auth") != 0)
        return bad_request(r, "Digest qop other than auth");
    if (d.uri.len != r->target.len || memcmp(d.uri.ptr, r->target.ptr, d.uri.len) != 0)
        return bad_request(r, "Digest uri is not the request's");
    if (!alg || !offered(a, alg) ||
        !auth_secret_eq(d.realm.ptr, d.realm.len, a->realm.ptr, a->realm.len) ||
        !user_admitted(a, &d.username))
        return unauthorized(r, a, 0);
    char ha1[65], want[65];
    int found = digest_ha1(r, c, a, alg, &d.username, ha1);
    if (found < 0)
        return LUX_ERROR;
    if (!found)
        return unauthorized(r, a, 0);
    size_t n = auth_digest_expected(alg, ha1, &d, r->method_str.ptr, r->method_str.len, want);
    OPENSSL_cleanse(ha1, sizeof ha1);
    lower_hex(buf + (d.response.ptr - buf), d.response.len);
    if (!auth_secret_eq(want, n, d.response.ptr, d.response.len))
        return unauthorized(r, a, 0);
    size_t slen;
    const uint8_t *secret = nonce_secret(a, &slen);
    if (!secret)
        return LUX_ERROR;
    /* The client knows the password; a nonce that is too old, or not ours (the server
     * restarted, another server issued it), is stale: it may retry with a fresh one without
     * asking its user again. */
    uint32_t issued;
    if (auth_nonce_check(secret, slen, alg, a->realm.ptr, a->realm.len, d.nonce.ptr, d.nonce.len,
                         &issued) < 0)
        return unauthorized(r, a, 1);
    int64_t age = (int64_t)(uint32_t)lux_req_now(r) - issued;
    if (age < 0 || age > AUTH_NONCE_TTL)
        return unauthorized(r, a, 1);
    return authenticated(r, &d.username, "Digest");
}

/* ---- the hook ---------------------------------------------------------------------------- */

/* Did someone before us (a verified client certificate) name a user this path admits? */
static int extern_user_admitted(lux_req *r, const auth_require *a) {
    lux_str user = lux_req_remote_user(r);
    return user.ptr && user.len && user_admitted(a, &user);
}

static int scheme_is(const lux_str *s, const char *name) {
    return s->len == strlen(name) && strncasecmp(s->ptr, name, s->len) == 0;
}

static lux_result auth_uri_clean(lux_req *r, const void *conf) {
    const auth_conf *c = conf;
    const lux_core_conf *core = r->confs[0];
    const auth_require *a = find_require(c, &r->path, core->force_lowercase_filenames);
    if (!a)
        return LUX_GO_ON;
    if (r->auth_user.ptr) /* authenticated on an earlier pass (before a rewrite's restart) */
        return user_admitted(a, &r->auth_user) ? LUX_GO_ON : unauthorized(r, a, 0);
    /* auth.extern-authn: such a user needs no password; anyone else may still give one */
    if ((c->extern_authn || a->method == AUTH_EXTERN) && extern_user_admitted(r, a))
        return LUX_GO_ON;
    if (a->method == AUTH_EXTERN)
        return unauthorized(r, a, 0);
    if (a->method == AUTH_DIGEST && c->backend == AUTHN_HTPASSWD) {
        lux_log(LUX_LOG_ERR, "auth: Digest for %s needs the htdigest or plain backend",
                r->path.ptr);
        return LUX_ERROR; /* a hash cannot give HA1: nobody could ever get in */
    }
    const lux_str *h = lux_req_header(r, "Authorization", 13);
    lux_str scheme, cred;
    if (!h || !h->len)
        return unauthorized(r, a, 0);
    if (h->len > AUTH_HEADER_MAX || auth_split_scheme(h->ptr, h->len, &scheme, &cred) < 0)
        return bad_request(r, "no scheme");
    if (a->method == AUTH_BASIC && scheme_is(&scheme, "Basic"))
        return basic_auth(r, c, a, &cred);
    if (a->method == AUTH_DIGEST && scheme_is(&scheme, "Digest"))
        return digest_auth(r, c, a, &cred);
    return unauthorized(r, a, 0); /* another scheme than this path asks for */
}

const lux_module lux_mod_auth = {
    .name = "mod_auth",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = auth_directives,
    .conf_size = sizeof(auth_conf),
    .uri_clean = auth_uri_clean,
};
