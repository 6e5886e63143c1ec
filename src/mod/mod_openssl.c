/*
 * mod_openssl: HTTPS, as lighttpd's module of the name configures it. The ssl.* settings apply
 * globally and per $SERVER["socket"]; each listener with ssl.engine = "enable" gets a TLS
 * context of its own in every generation (and one more for each $HTTP["host"] with a
 * certificate of its own, chosen by SNI), so a reload re-reads certificates and keys while
 * open connections keep the context they started with.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/gen.h"
#include "net/tls.h"

#define TLS_SCOPE (LUX_SCOPE_GLOBAL | LUX_SCOPE_SOCKET)

static int parse_conf_cmds(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el) {
    lux_tls_conf_cmds *cmds = dst;
    size_t n;
    const lux_keyval *kv = lux_conf_keyvals(
        g, v, &n, "expects ( \"Command\" => \"value\", ... ), e.g. \"MinProtocol\" => \"TLSv1.3\"",
        err, el);
    if (!kv)
        return -1;
    *cmds = (lux_tls_conf_cmds){kv, n};
    return 0;
}

/*
 * Keys lighttpd 1.4.69 no longer knows and ignores with a warning: lux does the same, and says
 * what replaced each one.
 */
static int warn_obsolete(const lux_value *v, const char *key, const char *instead) {
    fprintf(stderr, "%s:%d: warning: %s is obsolete and ignored (as by lighttpd 1.4.69): %s\n",
            v->file ? v->file : "(config)", v->line, key, instead);
    return 0;
}

#define OBSOLETE_KEY(fn, key, instead)                                                             \
    static int fn(lux_gen *g, const lux_value *v, void *dst, char *err, size_t el) {               \
        return warn_obsolete(v, key, instead);                                                     \
    }

OBSOLETE_KEY(obsolete_sslv2, "ssl.use-sslv2", "SSL 2 is never offered")
OBSOLETE_KEY(obsolete_sslv3, "ssl.use-sslv3", "SSL 3 is never offered")
OBSOLETE_KEY(obsolete_compression, "ssl.use-compression", "TLS compression is never offered")
OBSOLETE_KEY(obsolete_empty_fragments, "ssl.empty-fragments",
             "they only protected SSL 3 and TLS 1.0, which are never offered")
OBSOLETE_KEY(obsolete_dh_file, "ssl.dh-file",
             "DHE suites use the built-in RFC 7919 groups matching the key size")
OBSOLETE_KEY(obsolete_ec_curve, "ssl.ec-curve",
             "use ssl.openssl.ssl-conf-cmd = (\"Groups\" => \"...\")")
OBSOLETE_KEY(obsolete_session_cache, "ssl.session-cache",
             "sessions resume with tickets (ssl.stek-file)")

static void openssl_conf_init(void *conf) {
    lux_tls_conf *tc = conf;
    tc->honor_cipher_order = 1;
    tc->disable_client_renegotiation = 1;
    tc->verify_enforce = 1; /* as lighttpd: activate alone requires a valid certificate */
    tc->verify_depth = 9;
    /* lighttpd's default is off: OpenSSL then reads each record with two system calls (its
     * header, then the rest) and a read ends at a record, so a client's pipelined requests or
     * HTTP/2 frames come one record per loop turn. On, one read takes what the socket holds. */
    tc->read_ahead = 1;
}

static const lux_directive openssl_directives[] = {
    {"ssl.engine", LUX_D_BOOL, offsetof(lux_tls_conf, engine), TLS_SCOPE, NULL, 0},
    /* also in $HTTP["host"] == "name": certificates by SNI */
    {"ssl.pemfile", LUX_D_STRING, offsetof(lux_tls_conf, pemfile), LUX_SCOPE_ANY, NULL, 0},
    {"ssl.privkey", LUX_D_STRING, offsetof(lux_tls_conf, privkey), LUX_SCOPE_ANY, NULL, 0},
    /* lux's own: a second certificate with the other key type (lighttpd 1.4 has one) */
    {"ssl.lux.alt-pemfile", LUX_D_STRING, offsetof(lux_tls_conf, alt_pemfile), LUX_SCOPE_ANY, NULL,
     0},
    {"ssl.lux.alt-privkey", LUX_D_STRING, offsetof(lux_tls_conf, alt_privkey), LUX_SCOPE_ANY, NULL,
     0},
    {"ssl.stapling-file", LUX_D_STRING, offsetof(lux_tls_conf, stapling_file), LUX_SCOPE_ANY, NULL,
     0},
    {"ssl.ca-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_file), TLS_SCOPE, NULL, 0},
    {"ssl.ca-crl-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_crl_file), TLS_SCOPE, NULL, 0},
    /* lighttpd's newer names for the client-certificate files */
    {"ssl.verifyclient.ca-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_file), TLS_SCOPE, NULL, 0},
    {"ssl.verifyclient.ca-dn-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_dn_file), TLS_SCOPE,
     NULL, 0},
    {"ssl.verifyclient.ca-crl-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_crl_file), TLS_SCOPE,
     NULL, 0},
    {"ssl.acme-tls-1", LUX_D_STRING, offsetof(lux_tls_conf, acme_dir), TLS_SCOPE, NULL, 0},
    {"ssl.stek-file", LUX_D_STRING, offsetof(lux_tls_conf, stek_file), LUX_SCOPE_GLOBAL, NULL, 0},
    {"ssl.read-ahead", LUX_D_BOOL, offsetof(lux_tls_conf, read_ahead), TLS_SCOPE, NULL, 0},
    {"debug.log-ssl-noise", LUX_D_IGNORED, 0, LUX_SCOPE_ANY, NULL, 0},
    {"ssl.use-sslv2", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_sslv2, 0},
    {"ssl.use-sslv3", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_sslv3, 0},
    {"ssl.use-compression", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_compression, 0},
    {"ssl.empty-fragments", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_empty_fragments, 0},
    {"ssl.dh-file", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_dh_file, 0},
    {"ssl.ec-curve", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_ec_curve, 0},
    {"ssl.session-cache", LUX_D_CUSTOM, 0, TLS_SCOPE, obsolete_session_cache, 0},
    {"ssl.cipher-list", LUX_D_STRING, offsetof(lux_tls_conf, cipher_list), TLS_SCOPE, NULL, 0},
    {"ssl.openssl.ssl-conf-cmd", LUX_D_CUSTOM, offsetof(lux_tls_conf, conf_cmds), TLS_SCOPE,
     parse_conf_cmds, sizeof(lux_tls_conf_cmds)},
    {"ssl.honor-cipher-order", LUX_D_BOOL, offsetof(lux_tls_conf, honor_cipher_order), TLS_SCOPE,
     NULL, 0},
    {"ssl.disable-client-renegotiation", LUX_D_BOOL,
     offsetof(lux_tls_conf, disable_client_renegotiation), TLS_SCOPE, NULL, 0},
    {"ssl.ca-dn-file", LUX_D_STRING, offsetof(lux_tls_conf, ca_dn_file), TLS_SCOPE, NULL, 0},
    {"ssl.verifyclient.activate", LUX_D_BOOL, offsetof(lux_tls_conf, verify_activate), TLS_SCOPE,
     NULL, 0},
    {"ssl.verifyclient.enforce", LUX_D_BOOL, offsetof(lux_tls_conf, verify_enforce), TLS_SCOPE,
     NULL, 0},
    {"ssl.verifyclient.depth", LUX_D_INT, offsetof(lux_tls_conf, verify_depth), TLS_SCOPE, NULL, 0},
    {"ssl.verifyclient.username", LUX_D_STRING, offsetof(lux_tls_conf, verify_username), TLS_SCOPE,
     NULL, 0},
    {"ssl.verifyclient.exportcert", LUX_D_BOOL, offsetof(lux_tls_conf, verify_export_cert),
     TLS_SCOPE, NULL, 0},
    {NULL, 0, 0, 0, NULL, 0},
};

const lux_module lux_mod_openssl = {
    .name = "mod_openssl",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = openssl_directives,
    .conf_size = sizeof(lux_tls_conf),
    .conf_init = openssl_conf_init,
};

/* ssl.pemfile and ssl.privkey may also be set in $HTTP["host"] == "name", at the top level or
 * inside a $SERVER["socket"] block: that host's certificate, chosen by SNI. */
static int is_sni_block(const lux_conf_block *b) {
    const lux_conf_block *p = b->parent;
    return b->field == LUX_COND_HOST && b->op == LUX_OP_EQ && !b->prev && p &&
           (p->depth == 0 || (p->field == LUX_COND_SOCKET && p->op == LUX_OP_EQ && p->depth == 1));
}

static int is_socket_block(const lux_conf_block *b) {
    return b->field == LUX_COND_SOCKET && b->op == LUX_OP_EQ && b->depth == 1;
}

static int patches_module(const lux_block_patches *bp, unsigned m) {
    for (size_t k = 0; k < bp->npatches; k++)
        if (bp->patches[k].module == m)
            return 1;
    return 0;
}

/* Certificates in any other conditional block would be ignored: refuse them. */
static int check_cert_blocks(const lux_gen *g, unsigned m, char *err, size_t el) {
    for (size_t i = 0; i < g->nblocks; i++) {
        const lux_conf_block *b = g->blocks[i].block;
        if (is_socket_block(b) || is_sni_block(b) || !patches_module(&g->blocks[i], m))
            continue;
        snprintf(err, el,
                 "%s:%d: ssl.pemfile and ssl.privkey work only in $HTTP[\"host\"] == \"name\" "
                 "blocks (certificates by SNI), at the top level or in $SERVER[\"socket\"]",
                 b->file, b->line);
        return -1;
    }
    return 0;
}

static int own_ctx(lux_gen *g, struct ssl_ctx_st *ctx, char *err, size_t el) {
    if (lux_gen_on_free(g, lux_tls_ctx_free, ctx) < 0) {
        lux_tls_ctx_free(ctx);
        snprintf(err, el, "out of memory");
        return -1;
    }
    return 0;
}

/* Apply a block's ssl.* values. A certificate comes with the key of its own block: a block
 * that sets ssl.pemfile without ssl.privkey takes the key from the pemfile (as lighttpd), and
 * one that sets ssl.pemfile without ssl.lux.alt-pemfile or ssl.stapling-file has no second
 * certificate or OCSP response (those were made for another certificate). */
static void apply_patches(lux_tls_conf *tc, const lux_block_patches *bp, unsigned m) {
    int pemfile = 0, privkey = 0, alt_pemfile = 0, alt_privkey = 0, stapling = 0;
    for (size_t k = 0; k < bp->npatches; k++) {
        const lux_patch *p = &bp->patches[k];
        if (p->module != m)
            continue;
        memcpy((char *)tc + p->dir->offset, p->value, lux_directive_size(p->dir));
        pemfile |= p->dir->offset == offsetof(lux_tls_conf, pemfile);
        privkey |= p->dir->offset == offsetof(lux_tls_conf, privkey);
        alt_pemfile |= p->dir->offset == offsetof(lux_tls_conf, alt_pemfile);
        alt_privkey |= p->dir->offset == offsetof(lux_tls_conf, alt_privkey);
        stapling |= p->dir->offset == offsetof(lux_tls_conf, stapling_file);
    }
    if (pemfile && !privkey)
        tc->privkey = (lux_str){NULL, 0};
    if (pemfile && !alt_pemfile)
        tc->alt_pemfile = (lux_str){NULL, 0};
    if ((pemfile || alt_pemfile) && !alt_privkey)
        tc->alt_privkey = (lux_str){NULL, 0};
    if (pemfile && !stapling)
        tc->stapling_file = (lux_str){NULL, 0};
}

static int socket_matches(const lux_conf_block *b, const char *spec) {
    return is_socket_block(b) && strcmp(b->pattern, spec) == 0;
}

/* The settings a handshake on listener `spec` naming `host` (NULL: no SNI) sees: the blocks
 * that match, applied in config order, as lighttpd patches its settings. */
static void conf_for(const lux_gen *g, unsigned m, const char *spec, const char *host,
                     lux_tls_conf *tc) {
    memcpy(tc, g->global_conf[m], sizeof *tc);
    for (size_t i = 0; i < g->nblocks; i++) {
        const lux_conf_block *b = g->blocks[i].block;
        int applies = socket_matches(b, spec) ||
                      (host && is_sni_block(b) && strcasecmp(b->pattern, host) == 0 &&
                       (b->parent->depth == 0 || socket_matches(b->parent, spec)));
        if (applies)
            apply_patches(tc, &g->blocks[i], m);
    }
}

void lux_openssl_conf_for(const lux_gen *g, const char *spec, const char *host, lux_tls_conf *out) {
    conf_for(g, (unsigned)lux_gen_module_index(g, &lux_mod_openssl), spec, host, out);
}

/* A context for each host with a certificate block that can apply to listener `spec`. */
static int setup_sni(lux_gen *g, unsigned m, const char *spec, struct ssl_ctx_st *ctx, char *err,
                     size_t el) {
    lux_tls_sni_table *t = lux_pool_alloc(&g->pool, sizeof *t);
    if (!t || !(t->items = lux_pool_alloc(&g->pool, (g->nblocks + 1) * sizeof *t->items))) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    t->n = 0;
    for (size_t i = 0; i < g->nblocks; i++) {
        const lux_conf_block *b = g->blocks[i].block;
        if (!is_sni_block(b) || !patches_module(&g->blocks[i], m) ||
            (b->parent->depth && !socket_matches(b->parent, spec)))
            continue;
        int seen = 0;
        for (size_t k = 0; k < t->n; k++)
            seen |= strcasecmp(t->items[k].host, b->pattern) == 0;
        if (seen)
            continue;
        lux_tls_conf tc;
        conf_for(g, m, spec, b->pattern, &tc);
        char msg[512];
        struct ssl_ctx_st *hctx = lux_tls_ctx_new(&tc, msg, sizeof msg);
        if (!hctx) {
            snprintf(err, el, "%s:%d: $HTTP[\"host\"] == \"%s\": %s", b->file, b->line, b->pattern,
                     msg);
            return -1;
        }
        if (own_ctx(g, hctx, err, el) < 0)
            return -1;
        t->items[t->n++] = (lux_tls_sni_host){b->pattern, hctx};
    }
    if (t->n)
        lux_tls_ctx_set_sni(ctx, t);
    return 0;
}

int lux_openssl_setup_listeners(lux_gen *g, char *err, size_t el) {
    int mi = lux_gen_module_index(g, &lux_mod_openssl);
    if (mi < 0)
        return 0;
    unsigned m = (unsigned)mi;
    if (check_cert_blocks(g, m, err, el) < 0)
        return -1;
    for (size_t i = 0; i < g->nlistens; i++) {
        const char *spec = g->listens[i].spec;
        lux_tls_conf tc;
        conf_for(g, m, spec, NULL, &tc);
        if (!tc.engine)
            continue;
        char msg[512];
        struct ssl_ctx_st *ctx = lux_tls_ctx_new(&tc, msg, sizeof msg);
        if (!ctx) {
            snprintf(err, el, "%s: listener %s: %s", g->tree->main_file, spec, msg);
            return -1;
        }
        if (own_ctx(g, ctx, err, el) < 0 || setup_sni(g, m, spec, ctx, err, el) < 0)
            return -1;
        g->listens[i].tls = ctx;
        g->has_tls = 1;
    }
    const lux_tls_conf *global = g->global_conf[m];
    lux_tls_tickets_configure(global->stek_file.ptr);
    return 0;
}
