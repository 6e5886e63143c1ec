/* accesslog.format: compiling, rendering every specifier, escaping. */
#include <stdlib.h>
#include <time.h>

#include "mod/accesslog_format.h"
#include "t.h"

static lux_pool pool;
static char err[256];

#define S(lit) ((lux_str){lit, sizeof lit - 1})

static lux_header req_headers[] = {
    {S("Host"), S("example.org:8080")},
    {S("User-Agent"), S("curl/8.0")},
    {S("Referer"), S("http://r.example/")},
    {S("Cookie"), S("a=1; sess=xyz ;b=2")},
    {S("X-Dup"), S("one")},
    {S("x-dup"), S("two")},
};

static lux_header resp_headers[] = {
    {S("Content-Type"), S("text/html")},
};

/* A GET of /index.html?x=1 answered 200 with 6 body bytes, on 2021-01-02 03:04:05 UTC. */
static lux_alog_rec sample(void) {
    lux_alog_rec r = {
        .remote_addr = S("192.0.2.7"),
        .remote_port = 51234,
        .local_addr = S("127.0.0.1"),
        .local_port = S("8080"),
        .method = S("GET"),
        .target = S("/index.html?x=1"),
        .version = 11,
        .url = S("/index.html?x=1"),
        .query = S("x=1"),
        .host = S("example.org:8080"),
        .server_name = S("example.org:8080"),
        .filename = S("/srv/www/index.html"),
        .req_headers = req_headers,
        .nreq_headers = sizeof req_headers / sizeof *req_headers,
        .resp_headers = resp_headers,
        .nresp_headers = 1,
        .status = 200,
        .bytes_in = 80,
        .bytes_out = 150,
        .body_out = 6,
        .keepalive_count = 2,
        .conn_status = '+',
        .start = {1609556645, 100000000},
        .end = {1609556645, 101500000},
    };
    return r;
}

/* Render fmt for rec into a static buffer (NUL-terminated); NULL if it does not compile. */
static const char *render(const char *fmt, const lux_alog_rec *rec, lux_alog_escaping esc) {
    static char out[4096];
    lux_alog_format *f = lux_alog_compile(&pool, fmt, strlen(fmt), err, sizeof err);
    if (!f)
        return NULL;
    size_t n = lux_alog_render(f, esc, rec, out, sizeof out - 1);
    out[n < sizeof out ? n : sizeof out - 1] = '\0';
    return out;
}

static void test_default_line(void) {
    lux_alog_rec r = sample();
    CHECK_STR(render(LUX_ALOG_DEFAULT_FORMAT, &r, LUX_ALOG_ESC_DEFAULT),
              "192.0.2.7 example.org:8080 - [02/Jan/2021:03:04:05 +0000] "
              "\"GET /index.html?x=1 HTTP/1.1\" 200 6 \"http://r.example/\" \"curl/8.0\"");
}

static void test_malformed_request(void) {
    /* A head that never parsed: no method, target, host or headers. */
    lux_alog_rec r = {.remote_addr = S("10.0.0.1"),
                      .status = 400,
                      .bytes_out = 300,
                      .body_out = 200,
                      .conn_status = '-',
                      .remote_port = -1};
    r.end.tv_sec = 1609556645;
    CHECK_STR(render(LUX_ALOG_DEFAULT_FORMAT, &r, LUX_ALOG_ESC_DEFAULT),
              "10.0.0.1 - - [02/Jan/2021:03:04:05 +0000] \"  \" 400 200 \"-\" \"-\"");
    CHECK_STR(render("%m|%U|%q|%H|%f|%v", &r, LUX_ALOG_ESC_DEFAULT), "||||-|-");
}

static void test_every_specifier(void) {
    lux_alog_rec r = sample();
    CHECK_STR(render("%a %A %b %B %{sess}C %{a}C %{none}C %D %e %{X}e %f %h %H", &r,
                     LUX_ALOG_ESC_DEFAULT),
              "192.0.2.7 127.0.0.1 6 6 xyz 1  1500 - - /srv/www/index.html 192.0.2.7 HTTP/1.1");
    CHECK_STR(render("%{User-Agent}i %{x-dup}i %{Missing}i %I %k %l %m %n %{content-type}o "
                     "%{X}o %O %p %{remote}p %{local}p %q",
                     &r, LUX_ALOG_ESC_DEFAULT),
              "curl/8.0 one, two - 80 2 - GET - text/html - 150 8080 51234 8080 x=1");
    CHECK_STR(
        render("%r|%s|%>s|%<s|%T|%{ms}T|%{us}T|%{ns}T|%u|%U|%v|%V|%X|%%", &r, LUX_ALOG_ESC_DEFAULT),
        "GET /index.html?x=1 HTTP/1.1|200|200|200|0|2|1500|1500000|-|/index.html|"
        "example.org:8080|example.org:8080|+|%");
}

static void test_time_formats(void) {
    lux_alog_rec r = sample();
    CHECK_STR(render("%t", &r, LUX_ALOG_ESC_DEFAULT), "[02/Jan/2021:03:04:05 +0000]");
    CHECK_STR(render("%{%Y-%m-%dT%H:%M:%S}t", &r, LUX_ALOG_ESC_DEFAULT), "2021-01-02T03:04:05");
    CHECK_STR(render("%{sec}t %{msec}t %{usec}t %{nsec}t", &r, LUX_ALOG_ESC_DEFAULT),
              "1609556645 1609556645102 1609556645101500 1609556645101500000");
    CHECK_STR(render("%{msec_frac}t %{usec_frac}t %{nsec_frac}t", &r, LUX_ALOG_ESC_DEFAULT),
              "102 101500 101500000");
    CHECK_STR(render("%{begin:usec}t %{end:usec}t %{begin:msec_frac}t", &r, LUX_ALOG_ESC_DEFAULT),
              "1609556645100000 1609556645101500 100");
    r.end.tv_sec += 3;
    CHECK_STR(render("%{begin:%S}t %{end:%S}t %T %{s}T", &r, LUX_ALOG_ESC_DEFAULT), "05 08 3 3");
    r.end = r.start; /* a clock that did not move (or went back) */
    CHECK_STR(render("%D %{ms}T", &r, LUX_ALOG_ESC_DEFAULT), "-1 -1");
    r = sample();
    r.start.tv_nsec = 5;
    r.end.tv_nsec = 0; /* the frac fields round up, as lighttpd does */
    CHECK_STR(render("%{begin:nsec_frac}t %{begin:usec_frac}t", &r, LUX_ALOG_ESC_DEFAULT),
              "000000005 000001");
}

static void test_escaping_default(void) {
    lux_alog_rec r = sample();
    lux_header h[] = {{S("User-Agent"), S("a\"b\\c\n\r\t\x01\x7f\xff\xc3\xa9 ok")}};
    r.req_headers = h;
    r.nreq_headers = 1;
    CHECK_STR(render("%{User-Agent}i", &r, LUX_ALOG_ESC_DEFAULT),
              "a\\\"b\\\\c\\n\\r\\t\\x01\\x7F\\xFF\\xC3\\xA9 ok");
    r.target = S("/x%0Ay\"\n");
    r.url = S("/a\"b?q");
    CHECK_STR(render("%r %U", &r, LUX_ALOG_ESC_DEFAULT), "GET /x%0Ay\\\"\\n HTTP/1.1 /a\\\"b");
}

static void test_escaping_json(void) {
    lux_alog_rec r = sample();
    lux_header h[] = {{S("User-Agent"), S("a\"b\\c\n\x01\x7f\xc3\xa9\a\v\f\b")}};
    r.req_headers = h;
    r.nreq_headers = 1;
    CHECK_STR(render("%{User-Agent}i", &r, LUX_ALOG_ESC_JSON),
              "a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\\a\\v\\f\\b");
    char out[64];
    CHECK_INT(lux_alog_escape(LUX_ALOG_ESC_JSON, "\0", 1, out, sizeof out), 6);
    CHECK(memcmp(out, "\\u0000", 6) == 0);
    CHECK_INT(lux_alog_escape(LUX_ALOG_ESC_DEFAULT, "\0", 1, out, sizeof out), 4);
    CHECK(memcmp(out, "\\x00", 4) == 0);
}

static void test_no_raw_newline_ever(void) {
    /* Whatever bytes a client controls, a rendered line holds no raw control character. */
    lux_alog_rec r = sample();
    char v[256];
    for (int i = 0; i < 256; i++)
        v[i] = (char)i;
    lux_header h[] = {{S("User-Agent"), {v, sizeof v}}};
    r.req_headers = h;
    r.nreq_headers = 1;
    r.target = (lux_str){v, sizeof v};
    for (int e = 0; e < 2; e++) {
        const char *line = render("%r %{User-Agent}i", &r, (lux_alog_escaping)e);
        CHECK(line != NULL);
        int clean = 1;
        for (const unsigned char *p = (const unsigned char *)line; p && *p; p++)
            clean &= *p >= 0x20 && (e == LUX_ALOG_ESC_JSON || *p < 0x7f);
        CHECK(clean);
        CHECK(strchr(line ? line : "", '\n') == NULL);
    }
}

static void test_format_backslashes(void) {
    lux_alog_rec r = sample();
    CHECK_STR(render("%s\\t%s\\n\\q\\\\", &r, LUX_ALOG_ESC_DEFAULT), "200\t200\nq\\");
    CHECK_STR(render("x\\", &r, LUX_ALOG_ESC_DEFAULT), "x");
}

static void test_empty_arguments(void) {
    lux_alog_rec r = sample();
    /* A cookie without a name logs nothing, a header or env field without one "-" (as
     * lighttpd 1.4.69 does for env; it crashes on a header without a name). */
    CHECK_STR(render("[%i][%o][%C][%e][%n]", &r, LUX_ALOG_ESC_DEFAULT), "[-][-][][-][-]");
}

static void test_mask(void) {
    lux_alog_rec r = sample();
    CHECK_STR(render("%{mask}a", &r, LUX_ALOG_ESC_DEFAULT), "192.0.2.0");
    r.remote_addr = S("2001:db8:85a3:8d3:1319:8a2e:370:7348");
    CHECK_STR(render("%{mask}h", &r, LUX_ALOG_ESC_DEFAULT), "2001:db8:85a3::");
    r.remote_addr = S("2001:db8::1");
    CHECK_STR(render("%{mask}a", &r, LUX_ALOG_ESC_DEFAULT), "2001:db8::");
    r.remote_addr = S("::1");
    CHECK_STR(render("%{mask}a", &r, LUX_ALOG_ESC_DEFAULT), "::");
    r.remote_addr = S("::ffff:10.1.2.3");
    CHECK_STR(render("%{mask}a", &r, LUX_ALOG_ESC_DEFAULT), "::ffff:10.1.2.0");
}

static void test_bytes(void) {
    lux_alog_rec r = sample();
    r.body_out = 0; /* HEAD: a head went out, no body */
    CHECK_STR(render("%b %O", &r, LUX_ALOG_ESC_DEFAULT), "0 150");
    r.bytes_out = 0; /* nothing went out at all */
    r.bytes_in = -1;
    CHECK_STR(render("%b %B %O %I", &r, LUX_ALOG_ESC_DEFAULT), "- - - -");
    r = sample();
    r.conn_status = 0;
    CHECK_STR(render("%X", &r, LUX_ALOG_ESC_DEFAULT), "X");
}

static void test_compile_errors(void) {
    static const char *const bad[] = {
        "",       "%",          "abc%",    "%{",          "%{}i",    "%{abc",
        "%Z",     "%{x}T",      "%{foo}p", "%{bar}a",     "%{abc}t", "%>",
        "%>{x}i", "%{begin:}t", "%P",      "%{end:foo}t", "%c",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        lux_alog_format *f = lux_alog_compile(&pool, bad[i], strlen(bad[i]), err, sizeof err);
        if (f)
            fprintf(stderr, "  compiled: \"%s\"\n", bad[i]);
        CHECK(f == NULL);
        CHECK(err[0] != '\0');
    }
}

static void test_needs(void) {
    lux_alog_format *f = lux_alog_compile(&pool, "%h %b", 5, err, sizeof err);
    CHECK(f != NULL);
    if (f)
        CHECK_INT(lux_alog_needs(f), LUX_ALOG_NEED_REMOTE | LUX_ALOG_NEED_BODY_OUT);
    f = lux_alog_compile(&pool, "%s %m", 5, err, sizeof err);
    if (f)
        CHECK_INT(lux_alog_needs(f), 0);
    f = lux_alog_compile(&pool, "%u %{REMOTE_USER}e", 18, err, sizeof err);
    if (f)
        CHECK_INT(lux_alog_needs(f), LUX_ALOG_NEED_USER);
    f = lux_alog_compile(&pool, "%{HOME}e", 8, err, sizeof err);
    if (f)
        CHECK_INT(lux_alog_needs(f), 0);
}

static void test_truncated_render(void) {
    lux_alog_rec r = sample();
    lux_alog_format *f = lux_alog_compile(&pool, LUX_ALOG_DEFAULT_FORMAT,
                                          sizeof LUX_ALOG_DEFAULT_FORMAT - 1, err, sizeof err);
    char full[512], part[10];
    size_t n = lux_alog_render(f, LUX_ALOG_ESC_DEFAULT, &r, full, sizeof full);
    CHECK(n < sizeof full);
    CHECK_INT(lux_alog_render(f, LUX_ALOG_ESC_DEFAULT, &r, part, sizeof part), n);
    CHECK(memcmp(full, part, sizeof part) == 0);
    CHECK_INT(lux_alog_render(f, LUX_ALOG_ESC_DEFAULT, &r, NULL, 0), n);
}

int main(void) {
    setenv("TZ", "UTC", 1);
    tzset();
    lux_pool_init(&pool, 4096);
    RUN(test_default_line);
    RUN(test_malformed_request);
    RUN(test_every_specifier);
    RUN(test_time_formats);
    RUN(test_escaping_default);
    RUN(test_escaping_json);
    RUN(test_no_raw_newline_ever);
    RUN(test_format_backslashes);
    RUN(test_empty_arguments);
    RUN(test_mask);
    RUN(test_bytes);
    RUN(test_compile_errors);
    RUN(test_needs);
    RUN(test_truncated_render);
    lux_pool_free(&pool);
    T_EXIT();
}
