/* mod_openssl's settings: loaded by ssl.* keys, merged per $SERVER["socket"], refused where
 * they cannot work. */
#include <string.h>

#include "core/gen.h"
#include "net/tls.h"
#include "t.h"

static lux_gen *build(const char *text, char *err, size_t el) {
    lux_conf_tree *t = lux_conf_load_string(text, strlen(text), "test.conf", err, el);
    return t ? lux_gen_build(t, LUX_GEN_TEST_ONLY, err, el) : NULL;
}

static void test_ssl_keys_load_mod_openssl(void) {
    char err[512];
    lux_gen *g = build("ssl.honor-cipher-order = \"disable\"\n", err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    int m = lux_gen_module_index(g, &lux_mod_openssl);
    CHECK(m > 0);
    CHECK_INT(g->has_tls, 0); /* no listener has ssl.engine */
    lux_gen_unref(g);
}

static void test_socket_block_inherits_and_overrides(void) {
    char err[512];
    lux_gen *g =
        build("ssl.pemfile = \"/global.pem\"\n"
              "ssl.cipher-list = \"ECDHE+AESGCM\"\n"
              "$SERVER[\"socket\"] == \":8443\" { ssl.pemfile = \"/socket.pem\" }\n"
              "$SERVER[\"socket\"] == \":8444\" { ssl.honor-cipher-order = \"disable\" }\n",
              err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    lux_tls_conf a, b, glob;
    lux_openssl_conf_for(g, ":8443", NULL, &a);
    lux_openssl_conf_for(g, ":8444", NULL, &b);
    lux_openssl_conf_for(g, "0.0.0.0:80", NULL, &glob);
    CHECK_STR(a.pemfile.ptr, "/socket.pem");
    CHECK_STR(a.cipher_list.ptr, "ECDHE+AESGCM");
    CHECK_INT(a.honor_cipher_order, 1);
    CHECK_STR(b.pemfile.ptr, "/global.pem");
    CHECK_INT(b.honor_cipher_order, 0);
    CHECK_STR(glob.pemfile.ptr, "/global.pem");
    CHECK_INT(glob.disable_client_renegotiation, 1);
    lux_gen_unref(g);
}

/* Blocks apply in config order, and a certificate brings the key of its own block. */
static void test_sni_settings_in_config_order(void) {
    char err[512];
    lux_gen *g = build("ssl.pemfile = \"/g.crt\"\nssl.privkey = \"/g.key\"\n"
                       "$HTTP[\"host\"] == \"b.example\" { ssl.pemfile = \"/b.pem\" }\n"
                       "$SERVER[\"socket\"] == \":8443\" {\n"
                       "  ssl.pemfile = \"/s.pem\"\n"
                       "  $HTTP[\"host\"] == \"c.example\" { ssl.privkey = \"/c.key\" }\n"
                       "}\n",
                       err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    lux_tls_conf tc;
    lux_openssl_conf_for(g, "0.0.0.0:80", "B.example", &tc);
    CHECK_STR(tc.pemfile.ptr, "/b.pem");
    CHECK(tc.privkey.ptr == NULL);
    lux_openssl_conf_for(g, ":8443", "b.example", &tc); /* the socket block comes later */
    CHECK_STR(tc.pemfile.ptr, "/s.pem");
    CHECK(tc.privkey.ptr == NULL);
    lux_openssl_conf_for(g, ":8443", "c.example", &tc);
    CHECK_STR(tc.pemfile.ptr, "/s.pem");
    CHECK_STR(tc.privkey.ptr, "/c.key");
    lux_openssl_conf_for(g, "0.0.0.0:80", "c.example", &tc); /* another socket's host */
    CHECK_STR(tc.pemfile.ptr, "/g.crt");
    CHECK_STR(tc.privkey.ptr, "/g.key");
    lux_gen_unref(g);
}

static void test_client_cert_settings(void) {
    char err[512];
    lux_gen *g = build("ssl.ca-file = \"/ca.crt\"\n"
                       "$SERVER[\"socket\"] == \":8443\" {\n"
                       " ssl.verifyclient.activate = \"enable\"\n"
                       " ssl.verifyclient.enforce = \"disable\"\n"
                       " ssl.verifyclient.depth = 2\n"
                       " ssl.verifyclient.username = \"SSL_CLIENT_S_DN_CN\"\n"
                       " ssl.ca-dn-file = \"/names.crt\"\n"
                       "}\n",
                       err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    lux_tls_conf s, glob;
    lux_openssl_conf_for(g, ":8443", NULL, &s);
    lux_openssl_conf_for(g, "0.0.0.0:80", NULL, &glob);
    CHECK_INT(s.verify_activate, 1);
    CHECK_INT(s.verify_enforce, 0);
    CHECK_INT(s.verify_depth, 2);
    CHECK_STR(s.verify_username.ptr, "SSL_CLIENT_S_DN_CN");
    CHECK_STR(s.ca_dn_file.ptr, "/names.crt");
    CHECK_STR(s.ca_file.ptr, "/ca.crt");
    /* lighttpd's defaults: activate alone enforces, nine CAs deep */
    CHECK_INT(glob.verify_activate, 0);
    CHECK_INT(glob.verify_enforce, 1);
    CHECK_INT(glob.verify_depth, 9);
    CHECK(glob.verify_username.ptr == NULL);
    lux_gen_unref(g);
}

static void test_refused_keys(void) {
    char err[512];
    lux_gen *g = build("ssl.no-such-key = \"enable\"\n", err, sizeof err);
    CHECK(g == NULL);
    CHECK(strstr(err, "test.conf:1: ssl.no-such-key is not supported") != NULL);
    g = build("$HTTP[\"host\"] == \"a\" {\n ssl.cipher-list = \"HIGH\"\n}\n", err, sizeof err);
    CHECK(g == NULL);
    CHECK(strstr(err, "test.conf:2: ssl.cipher-list is not supported here") != NULL);
    g = build("$HTTP[\"url\"] =^ \"/a\" {\n ssl.pemfile = \"/a.pem\"\n}\n", err, sizeof err);
    CHECK(g == NULL);
    CHECK(strstr(err, "test.conf:1: ssl.pemfile and ssl.privkey work only in $HTTP[\"host\"]") !=
          NULL);
    g = build("$HTTP[\"host\"] =~ \"^a\" {\n ssl.pemfile = \"/a.pem\"\n}\n", err, sizeof err);
    CHECK(g == NULL);
    g = build("ssl.openssl.ssl-conf-cmd = \"MinProtocol\"\n", err, sizeof err);
    CHECK(g == NULL);
    CHECK(strstr(err, "ssl.openssl.ssl-conf-cmd") != NULL);
}

static void test_engine_without_pemfile(void) {
    char err[512];
    lux_gen *g = build("server.port = 8443\nssl.engine = \"enable\"\n", err, sizeof err);
    CHECK(g == NULL);
    CHECK(strstr(err, "listener 0.0.0.0:8443: ssl.engine is enabled but ssl.pemfile") != NULL);
}

int main(void) {
    RUN(test_ssl_keys_load_mod_openssl);
    RUN(test_socket_block_inherits_and_overrides);
    RUN(test_sni_settings_in_config_order);
    RUN(test_client_cert_settings);
    RUN(test_refused_keys);
    RUN(test_engine_without_pemfile);
    T_EXIT();
}
