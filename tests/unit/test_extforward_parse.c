/* mod_extforward's parsers: addresses and networks, X-Forwarded-For, Forwarded. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "mod/extforward_parse.h"
#include "t.h"

static xf_net addr(const char *s) {
    xf_net a;
    memset(&a, 0, sizeof a);
    CHECK_INT(xf_parse_addr(s, strlen(s), &a), 0);
    return a;
}

static int in_net(const char *net, const char *a) {
    xf_net n, x = addr(a);
    CHECK_INT(xf_parse_net(net, strlen(net), &n), 0);
    return xf_net_contains(&n, &x);
}

static int net_ok(const char *net) {
    xf_net n;
    return xf_parse_net(net, strlen(net), &n) == 0;
}

static void test_addresses(void) {
    xf_net a;
    CHECK_INT(addr("192.0.2.1").family, AF_INET);
    CHECK_INT(addr("2001:db8::1").family, AF_INET6);
    CHECK_INT(addr("::ffff:192.0.2.1").family, AF_INET); /* v4-mapped is v4 */
    CHECK_INT(xf_parse_addr("192.0.2.256", 11, &a), -1);
    CHECK_INT(xf_parse_addr("1.2.3.4.5", 9, &a), -1);
    CHECK_INT(xf_parse_addr("", 0, &a), -1);
    CHECK_INT(xf_parse_addr("unknown", 7, &a), -1);
    CHECK_INT(xf_parse_addr("[::1]", 5, &a), -1);
    CHECK_INT(xf_parse_addr("192.0.2.1 ", 10, &a), -1);
    char overlong[100];
    memset(overlong, '1', sizeof overlong);
    CHECK_INT(xf_parse_addr(overlong, sizeof overlong, &a), -1);
}

static void test_networks(void) {
    CHECK(in_net("10.0.0.0/8", "10.1.2.3"));
    CHECK(!in_net("10.0.0.0/8", "11.0.0.1"));
    CHECK(in_net("192.168.1.0/25", "192.168.1.127"));
    CHECK(!in_net("192.168.1.0/25", "192.168.1.128"));
    CHECK(in_net("0.0.0.0/0", "203.0.113.7"));
    CHECK(!in_net("0.0.0.0/0", "2001:db8::1")); /* families never mix */
    CHECK(in_net("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK(!in_net("2001:db8::/32", "2001:db9::1"));
    CHECK(in_net("10.0.0.0/8", "::ffff:10.9.9.9"));
    CHECK(in_net("192.0.2.1", "192.0.2.1"));
    CHECK(!in_net("192.0.2.1", "192.0.2.2"));
}

static void test_bad_networks(void) {
    CHECK(!net_ok("10.0.0.0/33"));
    CHECK(!net_ok("2001:db8::/129"));
    CHECK(!net_ok("10.0.0.0/"));
    CHECK(!net_ok("10.0.0.0/8x"));
    CHECK(!net_ok("10.0.0.1/8")); /* host bits set */
    CHECK(!net_ok("/8"));
    CHECK(!net_ok("all"));
    CHECK(net_ok("10.0.0.0/8"));
    CHECK(net_ok("10.0.0.1/32"));
}

static void test_sockaddr(void) {
    struct sockaddr_storage ss;
    xf_net a = addr("192.0.2.9");
    xf_to_sockaddr(&a, &ss);
    char text[INET6_ADDRSTRLEN];
    CHECK_INT(ss.ss_family, AF_INET);
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof text);
    CHECK_STR(text, "192.0.2.9");
    a = addr("2001:db8::9");
    xf_to_sockaddr(&a, &ss);
    CHECK_INT(ss.ss_family, AF_INET6);
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof text);
    CHECK_STR(text, "2001:db8::9");
}

static void test_list_split(void) {
    xf_str out[3];
    const char *v = "198.51.100.1, 203.0.113.7,10.0.0.2  2001:db8::1";
    size_t n = xf_list_split(v, strlen(v), out, 3);
    CHECK_INT(n, 3); /* the rightmost three */
    CHECK(out[0].len == 11 && memcmp(out[0].ptr, "203.0.113.7", 11) == 0);
    CHECK(out[1].len == 8 && memcmp(out[1].ptr, "10.0.0.2", 8) == 0);
    CHECK(out[2].len == 11 && memcmp(out[2].ptr, "2001:db8::1", 11) == 0);
    CHECK_INT(xf_list_split("", 0, out, 3), 0);
    CHECK_INT(xf_list_split("unknown", 7, out, 3), 0);
    CHECK_INT(xf_list_split("x-bad", 5, out, 3), 1); /* a token for the address parser to refuse */
    CHECK(out[0].len == 3 && memcmp(out[0].ptr, "bad", 3) == 0);
}

static int parse(const char *v, xf_forwarded *els) {
    static char scratch[512];
    return xf_forwarded_parse(v, strlen(v), scratch, els);
}

static int is(const xf_str *s, const char *want) {
    return s->ptr && s->len == strlen(want) && memcmp(s->ptr, want, s->len) == 0;
}

static void test_forwarded(void) {
    xf_forwarded els[XF_FORWARDED_MAX];
    CHECK_INT(parse("for=192.0.2.60;proto=https;by=203.0.113.43", els), 1);
    CHECK(is(&els[0].for_, "192.0.2.60"));
    CHECK(is(&els[0].proto, "https"));
    CHECK(!els[0].host.ptr);
    CHECK_INT(parse("For=\"[2001:db8:cafe::17]:4711\", for=192.0.2.43;Host=\"a.b\"", els), 2);
    CHECK(is(&els[0].for_, "2001:db8:cafe::17"));
    CHECK(is(&els[1].for_, "192.0.2.43"));
    CHECK(is(&els[1].host, "a.b"));
    CHECK(!els[1].remote_user.ptr);
    CHECK_INT(parse("for=192.0.2.1;remote_user=\"a\\\"b\", for=192.0.2.2;REMOTE_USER=bob", els), 2);
    CHECK(is(&els[0].remote_user, "a\"b"));
    CHECK(is(&els[1].remote_user, "bob"));
    CHECK_INT(parse("for=\"192.0.2.60:80\"", els), 1);
    CHECK(is(&els[0].for_, "192.0.2.60"));
    CHECK_INT(parse("for=\"[::1]\"", els), 1);
    CHECK(is(&els[0].for_, "::1"));
    CHECK_INT(parse("for=\"a\\\"b\";proto=http", els), 1); /* escapes inside quotes */
    CHECK(is(&els[0].for_, "a\"b"));
    CHECK(is(&els[0].proto, "http"));
    CHECK_INT(parse(" ; , for = 1.2.3.4 ", els), 2);
    CHECK(!els[0].for_.ptr);
    CHECK(is(&els[1].for_, "1.2.3.4"));
    CHECK_INT(parse("junk;for=1.2.3.4", els), 1);
    CHECK(is(&els[0].for_, "1.2.3.4"));
}

static void test_forwarded_refused(void) {
    xf_forwarded els[XF_FORWARDED_MAX];
    CHECK_INT(parse("for=\"192.0.2.60", els), -1);
    CHECK_INT(parse("for=\"192.0.2.60\\", els), -1);
    CHECK_INT(parse("for=\"[2001:db8::1\"", els), -1);
    CHECK_INT(parse("for=\"[]\"", els), -1);
    CHECK_INT(parse("for=\"[[::1]\"", els), -1);
    CHECK_INT(parse("fo\"r=1.2.3.4", els), -1);
    char many[4 * (XF_FORWARDED_MAX + 1)];
    for (int i = 0; i <= XF_FORWARDED_MAX; i++)
        memcpy(many + 4 * i, "a=b,", 4);
    many[4 * XF_FORWARDED_MAX + 3] = '\0'; /* XF_FORWARDED_MAX + 1 elements */
    CHECK_INT(parse(many, els), -1);
    many[4 * XF_FORWARDED_MAX - 1] = '\0'; /* XF_FORWARDED_MAX */
    CHECK_INT(parse(many, els), XF_FORWARDED_MAX);
}

static void test_forwarded_is_addr(void) {
    xf_str a = {"192.0.2.1", 9}, u = {"Unknown", 7}, o = {"_hidden", 7}, e = {"", 0};
    CHECK(xf_forwarded_is_addr(&a));
    CHECK(!xf_forwarded_is_addr(&u));
    CHECK(!xf_forwarded_is_addr(&o));
    CHECK(!xf_forwarded_is_addr(&e));
}

int main(void) {
    RUN(test_addresses);
    RUN(test_networks);
    RUN(test_bad_networks);
    RUN(test_sockaddr);
    RUN(test_list_split);
    RUN(test_forwarded);
    RUN(test_forwarded_refused);
    RUN(test_forwarded_is_addr);
    T_EXIT();
}
