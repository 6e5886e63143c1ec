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
    unsigned m = (unsigned)lux_gen_module_index(g, &lux_mod_openssl);
    lux_tls_conf a, b, glob;
    lux_gen_socket_conf(g, m, ":8443", &a);
    lux_gen_socket_conf(g, m, ":8444", &b);
    lux_gen_socket_conf(g, m, "0.0.0.0:80", &glob);
    CHECK_STR(a.pemfile.ptr, "/socket.pem");
    CHECK_STR(a.cipher_list.ptr, "ECDHE+AESGCM");
    CHECK_INT(a.honor_cipher_order, 1);
    CHECK_STR(b.pemfile.ptr, "/global.pem");
    CHECK_INT(b.honor_cipher_order, 0);
    CHECK_STR(glob.pemfile.ptr, "/global.pem");
    CHECK_INT(glob.disable_client_renegotiation, 1);
    lux_gen_unref(g);
}

static void test_refused_keys(void) {
    char err[512];
    lux_gen *g = build("ssl.verifyclient.activate = \"enable\"\n", err, sizeof err);
    CHECK(g == NULL);
    CHECK(strstr(err, "test.conf:1: ssl.verifyclient.activate is not supported") != NULL);
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
    RUN(test_refused_keys);
    RUN(test_engine_without_pemfile);
    T_EXIT();
}
