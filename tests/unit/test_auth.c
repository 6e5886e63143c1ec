/* mod_auth's pure parts: apr1 hashes, htpasswd verification, the Authorization header parsers,
 * the Digest response (RFC 7616's own examples) and nonces. */
#include <string.h>

#include "mod/authn.h"
#include "mod/mod_auth_parse.h"
#include "t.h"

static void check_apr1(const char *pass, const char *salt, const char *want) {
    char out[64];
    size_t n = authn_apr1(pass, strlen(pass), salt, strlen(salt), out);
    CHECK_STR(out, want);
    CHECK_INT(n, strlen(want));
}

/* Expected values from `openssl passwd -apr1 -salt SALT PASSWORD`. */
static void test_apr1_matches_openssl(void) {
    check_apr1("pw", "abcdefgh", "$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1");
    check_apr1("password", "salt", "$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.");
    check_apr1("averyveryverylongpasswordofmorethan16chars", "12345678",
               "$apr1$12345678$sLLn7ZGIvszrj3icssWHv1");
    check_apr1("x", "a", "$apr1$a$CwOs8ZUV1Vmp.iAwImfTn1");
    check_apr1("", "abc", "$apr1$abc$BfqKdn9xFDWJPa3kcp/PH0");
    /* the salt may come as a whole stored hash: its magic and hash part are skipped */
    check_apr1("pw", "$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1",
               "$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1");
}

static void test_htpasswd_verify(void) {
    CHECK(authn_hash_verify("$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "password", 8));
    CHECK(!authn_hash_verify("$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "passwore", 8));
    CHECK(authn_hash_verify("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret", 6));
    CHECK(!authn_hash_verify("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret!", 7));
    CHECK(
        authn_hash_verify("$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA", "secret", 6));
    CHECK(
        !authn_hash_verify("$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA", "secreT", 6));
    CHECK(!authn_hash_verify("$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA", "secret\0x",
                             8)); /* crypt(3) would stop at the NUL */
    CHECK(!authn_hash_verify("*", "", 0));
    CHECK(!authn_hash_verify("", "", 0));
    CHECK(authn_hash_is_costly("$2y$10$abc"));
    CHECK(authn_hash_is_costly("abzlUXK5ed5rs"));
    CHECK(!authn_hash_is_costly("{SHA}x"));
    CHECK(!authn_hash_is_costly("$apr1$x$y"));
}

static int basic(const char *b64, lux_str *user, lux_str *pass, char *buf, size_t buflen) {
    return auth_parse_basic(b64, strlen(b64), buf, buflen, user, pass);
}

static void test_parse_basic(void) {
    char buf[64];
    lux_str u, p;
    CHECK_INT(basic("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &u, &p, buf, sizeof buf), 0);
    CHECK_STR(u.ptr, "Aladdin");
    CHECK_STR(p.ptr, "open sesame");
    CHECK_INT(basic("dTo6eA", &u, &p, buf, sizeof buf), 0); /* "u::x", no padding */
    CHECK_STR(u.ptr, "u");
    CHECK_STR(p.ptr, ":x");
    CHECK_INT(basic("dTE6", &u, &p, buf, sizeof buf), 0); /* empty password */
    CHECK_INT(p.len, 0);
    CHECK_INT(basic("bm9jb2xvbg==", &u, &p, buf, sizeof buf), -1); /* no colon */
    CHECK_INT(basic("!!!!", &u, &p, buf, sizeof buf), -1);
    CHECK_INT(basic("dTE6 cHcx", &u, &p, buf, sizeof buf), -1);
    CHECK_INT(basic("dTE6cHcx=", &u, &p, buf, sizeof buf), -1);
    CHECK_INT(basic("dTE6cHcy=", &u, &p, buf, sizeof buf), -1);
    CHECK_INT(basic("dQB4Onk=", &u, &p, buf, sizeof buf), -1); /* a NUL in the user */
    CHECK_INT(basic("", &u, &p, buf, sizeof buf), -1);
    CHECK_INT(basic("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &u, &p, buf, 8), -1); /* too long */
}

static void test_split_scheme(void) {
    lux_str s, rest;
    CHECK_INT(auth_split_scheme("Basic  abc", 10, &s, &rest), 0);
    CHECK_INT(s.len, 5);
    CHECK_INT(rest.len, 3);
    CHECK_INT(auth_split_scheme("Digest", 6, &s, &rest), 0);
    CHECK_INT(rest.len, 0);
    CHECK_INT(auth_split_scheme(" Basic x", 8, &s, &rest), -1);
    CHECK_INT(auth_split_scheme("Ba\"sic x", 8, &s, &rest), -1);
}

static int digest(const char *h, auth_digest_params *d, char *buf) {
    return auth_parse_digest(h, strlen(h), buf, strlen(h) + 1, d);
}

static void test_parse_digest(void) {
    char buf[512];
    auth_digest_params d;
    CHECK_INT(digest("username=\"Mu\\\"fasa\", realm=\"r\", nonce=\"n\", uri=\"/a?b\", "
                     "response=\"abc\", qop=auth, nc=00000001, cnonce=\"c\", algorithm=SHA-256",
                     &d, buf),
              0);
    CHECK_STR(d.username.ptr, "Mu\"fasa");
    CHECK_STR(d.uri.ptr, "/a?b");
    CHECK_STR(d.qop.ptr, "auth");
    CHECK_STR(d.algorithm.ptr, "SHA-256");
    CHECK_STR(d.nc.ptr, "00000001");
    CHECK_INT(digest("username=u,realm=r,nonce=n,uri=/,response=x,opaque=\"o\",other=1", &d, buf),
              0);
    CHECK_STR(d.opaque.ptr, "o");
    CHECK(!d.qop.ptr);
    CHECK_INT(digest("username=u", &d, buf), -1);
    CHECK_INT(digest("username=u, username=v, realm=r, nonce=n, uri=/, response=x", &d, buf), -1);
    CHECK_INT(digest("username=\"u, realm=r, nonce=n, uri=/, response=x", &d, buf), -1);
    CHECK_INT(digest("username=u realm=r, nonce=n, uri=/, response=x", &d, buf), -1);
    CHECK_INT(digest("username=u, realm=r, nonce=n, uri=/, response=x, qop=auth", &d, buf), -1);
    CHECK_INT(digest("=u, realm=r", &d, buf), -1);
    CHECK_INT(digest("", &d, buf), -1);
}

/* RFC 7616 section 3.9.1: Mufasa's request, with MD5 and with SHA-256. */
static void test_digest_response_rfc7616(void) {
    char buf[512], ha1[65], got[65];
    auth_digest_params d;
    const char *h =
        "username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
        "qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", "
        "response=\"x\", nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\"";
    CHECK_INT(digest(h, &d, buf), 0);
    lux_str a1[] = {d.username, d.realm, {"Circle of Life", 14}};
    CHECK_INT(auth_hash_hex(AUTH_ALG_MD5, a1, 3, ha1), 32);
    CHECK_INT(auth_digest_expected(AUTH_ALG_MD5, ha1, &d, "GET", 3, got), 32);
    CHECK_STR(got, "8ca523f5e9506fed4657c9700eebdbec");
    CHECK_INT(auth_hash_hex(AUTH_ALG_SHA256, a1, 3, ha1), 64);
    CHECK_INT(auth_digest_expected(AUTH_ALG_SHA256, ha1, &d, "GET", 3, got), 64);
    CHECK_STR(got, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static void test_nonce(void) {
    const uint8_t key[] = "0123456789abcdef";
    char n[80];
    uint32_t t = 0;
    size_t len = auth_nonce_make(key, 16, AUTH_ALG_MD5, "realm", 5, 0x6b0c7000u, n);
    CHECK_INT(len, 9 + 32);
    CHECK(memcmp(n, "6b0c7000:", 9) == 0);
    CHECK_INT(auth_nonce_check(key, 16, AUTH_ALG_MD5, "realm", 5, n, len, &t), 0);
    CHECK_INT(t, 0x6b0c7000u);
    CHECK_INT(auth_nonce_check(key, 16, AUTH_ALG_SHA256, "realm", 5, n, len, &t), -1);
    CHECK_INT(auth_nonce_check(key, 16, AUTH_ALG_MD5, "realm2", 6, n, len, &t), -1);
    CHECK_INT(auth_nonce_check((const uint8_t *)"another key.....", 16, AUTH_ALG_MD5, "realm", 5, n,
                               len, &t),
              -1);
    n[0] = '7'; /* another time under the same MAC */
    CHECK_INT(auth_nonce_check(key, 16, AUTH_ALG_MD5, "realm", 5, n, len, &t), -1);
    len = auth_nonce_make(key, 16, AUTH_ALG_SHA256, "realm", 5, 1, n);
    CHECK_INT(len, 9 + 64);
    CHECK_INT(auth_nonce_check(key, 16, AUTH_ALG_SHA256, "realm", 5, n, len, &t), 0);
    CHECK_INT(auth_nonce_check(key, 16, AUTH_ALG_SHA256, "realm", 5, n, len - 1, &t), -1);
}

int main(void) {
    RUN(test_apr1_matches_openssl);
    RUN(test_htpasswd_verify);
    RUN(test_parse_basic);
    RUN(test_split_scheme);
    RUN(test_parse_digest);
    RUN(test_digest_response_rfc7616);
    RUN(test_nonce);
    T_EXIT();
}
