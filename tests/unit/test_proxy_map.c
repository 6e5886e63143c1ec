#include "upstream/proxy_map.h"

#include <stdlib.h>

#include "t.h"

#define KV(k, v)                                                                                   \
    {                                                                                              \
        {k, sizeof k - 1}, {                                                                       \
            v, sizeof v - 1                                                                        \
        }                                                                                          \
    }
#define N(a) (sizeof a / sizeof *a)
#define STR(s) ((lux_str){s, sizeof s - 1})

static const lux_keyval paths[] = {KV("/prefix/", "/other/"), KV("/a/", "/b/"),
                                   KV("/prefix/deeper/", "/never/")};
static const lux_keyval hosts_req[] = {KV("a.example", "b.example"), KV("keep.example", ""),
                                       KV("-", "backend.example")};
static const lux_keyval hosts_resp[] = {KV("-", "-"), KV("b.example", "a.example"),
                                        KV("other.example", "Mapped.example")};
static const lux_proxy_maps maps = {paths,    hosts_req,    hosts_resp,
                                    N(paths), N(hosts_req), N(hosts_resp)};

static char buf[512];

static const char *uri(lux_proxy_remap *m, int is_req, const char *v) {
    size_t n = lux_proxy_map_uri(m, is_req, v, strlen(v), buf, sizeof buf - 1);
    buf[n < sizeof buf ? n : sizeof buf - 1] = '\0';
    return buf;
}

static const char *cookie(lux_proxy_remap *m, const char *v) {
    size_t n = lux_proxy_map_set_cookie(m, v, strlen(v), buf, sizeof buf - 1);
    buf[n < sizeof buf ? n : sizeof buf - 1] = '\0';
    return buf;
}

static const char *host(lux_proxy_remap *m, int is_req, const char *h) {
    const lux_str *s = lux_proxy_map_host(m, is_req, h, strlen(h));
    if (!s)
        return "(none)";
    snprintf(buf, sizeof buf, "%.*s", (int)s->len, s->ptr);
    return buf;
}

static void test_request_host_in_config_order(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example"), 0);
    CHECK_STR(host(&m, 1, "A.Example"), "b.example"); /* case-insensitive, config order */
    CHECK_STR(host(&m, 1, "keep.example"), "(none)"); /* an empty value ends the search */
    CHECK_STR(host(&m, 1, "client.example"), "backend.example"); /* "-": the client's Host */
    CHECK_STR(host(&m, 1, "elsewhere.example"), "(none)");
    CHECK(m.forwarded_host && m.forwarded_host->len == 9); /* the first mapping is kept */
    lux_proxy_remap none;
    lux_proxy_remap_init(&none, &maps, (lux_str){NULL, 0}, 0);
    CHECK_STR(host(&none, 1, "client.example"), "(none)");
}

static void test_response_host_maps_back(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example:81"), 0);
    CHECK_STR(host(&m, 0, "backend.example"), "(none)"); /* nothing was mapped yet */
    CHECK_STR(host(&m, 1, "client.example:81"), "backend.example");
    CHECK_STR(host(&m, 0, "BACKEND.example"), "client.example:81"); /* "-" => "-" */
    CHECK_STR(host(&m, 0, "other.example"), "Mapped.example");
}

static void test_uri_paths_both_ways(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example"), 0);
    CHECK_STR(uri(&m, 1, "/prefix/deeper/x?q=/prefix/"), "/other/deeper/x?q=/prefix/");
    CHECK_STR(uri(&m, 1, "/a/b"), "/b/b");
    CHECK_STR(uri(&m, 1, "/prefix"), "/prefix"); /* a prefix matches whole */
    CHECK(m.forwarded_urlpath == &paths[0]);
    CHECK_STR(uri(&m, 0, "/other/y"), "/prefix/y");
    CHECK_STR(uri(&m, 0, "/b/y"), "/a/y");
    CHECK_STR(uri(&m, 0, "/never/z"), "/prefix/deeper/z");
    CHECK_STR(uri(&m, 0, "relative/other/"), "relative/other/");
}

static void test_absolute_uris(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example"), 0);
    CHECK_STR(uri(&m, 1, "http://client.example/prefix/d"), "http://backend.example/other/d");
    CHECK_STR(uri(&m, 0, "http://backend.example/other/x?y"), "http://client.example/prefix/x?y");
    CHECK_STR(uri(&m, 0, "http://backend.example"), "http://client.example/");
    CHECK_STR(uri(&m, 0, "http://unknown.example/other/"), "http://unknown.example/prefix/");
    CHECK_STR(uri(&m, 0, "http:///other/"), "http:///other/");
    CHECK_STR(uri(&m, 0, "mailto:x@y"), "mailto:x@y");
    CHECK_STR(uri(&m, 0, ""), "");
}

static void test_https_remap(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example"), 1);
    CHECK_STR(uri(&m, 1, "https://client.example/a/"), "http://backend.example/b/");
    CHECK_STR(uri(&m, 0, "http://backend.example/x"), "https://client.example/x");
    CHECK_STR(uri(&m, 0, "http://unknown.example/x"), "http://unknown.example/x");
    lux_proxy_remap plain;
    lux_proxy_remap_init(&plain, &maps, STR("client.example"), 0);
    CHECK_STR(host(&plain, 1, "client.example"), "backend.example");
    CHECK_STR(uri(&plain, 0, "http://backend.example/x"), "http://client.example/x");
}

static void test_set_cookie(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example"), 0);
    host(&m, 1, "client.example");
    CHECK_STR(cookie(&m, "path=/other/; Path=/other/x; Domain=backend.example"),
              "path=/other/; Path=/prefix/x; Domain=client.example");
    CHECK_STR(cookie(&m, "a=b;path=\"/other/\";  domain=.BACKEND.example ; secure"),
              "a=b;path=\"/prefix/\";  domain=.client.example ; secure");
    CHECK_STR(cookie(&m, "a=b; domain=; path=relative; HttpOnly"),
              "a=b; domain=; path=relative; HttpOnly");
    CHECK_STR(cookie(&m, "a=b"), "a=b");
    CHECK_STR(cookie(&m, "a=b;"), "a=b;");
}

static void test_measure_then_write(void) {
    lux_proxy_remap m;
    lux_proxy_remap_init(&m, &maps, STR("client.example"), 1);
    host(&m, 1, "client.example");
    const char *v = "http://backend.example/other/x";
    size_t need = lux_proxy_map_uri(&m, 0, v, strlen(v), NULL, 0);
    CHECK_INT(need, strlen("https://client.example/prefix/x"));
    char small[8];
    CHECK_INT(lux_proxy_map_uri(&m, 0, v, strlen(v), small, sizeof small), need);
    CHECK(memcmp(small, "https://", 8) == 0);
}

int main(void) {
    RUN(test_request_host_in_config_order);
    RUN(test_response_host_maps_back);
    RUN(test_uri_paths_both_ways);
    RUN(test_absolute_uris);
    RUN(test_https_remap);
    RUN(test_set_cookie);
    RUN(test_measure_then_write);
    T_EXIT();
}
