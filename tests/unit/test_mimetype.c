#include "http/mimetype.h"

#include "t.h"

static const char *look(const lux_mimetype *t, size_t n, const char *name) {
    return lux_mimetype_lookup(t, n, name, strlen(name));
}

static const char *dflt(const char *name) {
    return look(lux_mimetype_defaults, lux_mimetype_defaults_len, name);
}

static void test_longest_suffix_wins(void) {
    /* Listed in the "wrong" order on purpose: order must not matter, length does. */
    static const lux_mimetype t[] = {
        {"", "text/plain"},          {".gz", "application/gzip"}, {".tar.gz", "application/x-tgz"},
        {"README", "text/x-readme"}, {".html", "text/html"},      {"x.html", "text/x-special"},
    };
    size_t n = sizeof t / sizeof *t;
    CHECK_STR(look(t, n, "a.tar.gz"), "application/x-tgz");
    CHECK_STR(look(t, n, "/srv/www/pkg-1.0.tar.gz"), "application/x-tgz");
    CHECK_STR(look(t, n, "a.gz"), "application/gzip");
    CHECK_STR(look(t, n, "tar.gz"), "application/gzip");
    CHECK_STR(look(t, n, ".tar.gz"), "application/x-tgz");
    CHECK_STR(look(t, n, "README"), "text/x-readme");
    CHECK_STR(look(t, n, "/doc/README"), "text/x-readme");
    CHECK_STR(look(t, n, "index.html"), "text/x-special");
    CHECK_STR(look(t, n, "page.html"), "text/html");
    CHECK_STR(look(t, n, "noext"), "text/plain");
    CHECK_STR(look(t, n, ""), "text/plain");
    CHECK_STR(look(t, n, "README.md"), "text/plain");
}

static void test_no_default(void) {
    static const lux_mimetype t[] = {{".png", "image/png"}, {".jpg", "image/jpeg"}};
    CHECK_STR(look(t, 2, "a.png"), "image/png");
    CHECK(look(t, 2, "a.gif") == NULL);
    CHECK(look(t, 2, "png") == NULL);
    CHECK(look(t, 0, "a.png") == NULL);
}

/* lighttpd compares suffixes without regard to case: /image.JPG is image/jpeg. */
static void test_case_insensitive_fallback(void) {
    static const lux_mimetype t[] = {{".png", "image/png"}, {"", "application/octet-stream"}};
    CHECK_STR(look(t, 2, "A.PNG"), "image/png");
    CHECK_STR(look(t, 2, "a.Png"), "image/png");
    CHECK_STR(look(t, 2, "a.png"), "image/png");
    CHECK_STR(look(t, 2, "a.pnh"), "application/octet-stream");
    CHECK_STR(dflt("IMAGE.JPG"), "image/jpeg");
    /* non-letters are compared as they are */
    static const lux_mimetype u[] = {{".x@", "x/at"}};
    CHECK(look(u, 1, "a.X`") == NULL);
    CHECK_STR(look(u, 1, "a.X@"), "x/at");
}

/* An exact match beats one in another case of the same length, whatever the order; a longer
 * suffix still wins over a shorter exact one, as in lighttpd. */
static void test_exact_case_preferred(void) {
    static const lux_mimetype t[] = {{".c", "text/x-c"}, {".C", "text/x-c++"}};
    CHECK_STR(look(t, 2, "a.C"), "text/x-c++");
    CHECK_STR(look(t, 2, "a.c"), "text/x-c");
    static const lux_mimetype g[] = {{".gz", "application/gzip"}, {".tar.gz", "application/x-tgz"}};
    CHECK_STR(look(g, 2, "a.TAR.gz"), "application/x-tgz");
    CHECK_STR(look(g, 2, "a.GZ"), "application/gzip");
}

/* ".js" => "application/javascript" is stored as text/javascript (RFC 9239), nothing else. */
static void test_assigned_javascript(void) {
    CHECK_STR(lux_mimetype_assigned(".js", "application/javascript"), "text/javascript");
    CHECK_STR(lux_mimetype_assigned(".JS", "application/javascript"), "text/javascript");
    CHECK_STR(lux_mimetype_assigned(".mjs", "application/javascript"), "application/javascript");
    CHECK_STR(lux_mimetype_assigned("js", "application/javascript"), "application/javascript");
    CHECK_STR(lux_mimetype_assigned(".js", "application/javascript; charset=utf-8"),
              "application/javascript; charset=utf-8");
    CHECK_STR(lux_mimetype_assigned(".js", "Application/JavaScript"), "Application/JavaScript");
    CHECK_STR(lux_mimetype_assigned(".js", "application/x-javascript"), "application/x-javascript");
    CHECK_STR(lux_mimetype_assigned(".html", "text/html"), "text/html");
}

static void test_first_of_equal_length_wins(void) {
    static const lux_mimetype t[] = {{".txt", "text/plain"}, {".txt", "text/other"}};
    CHECK_STR(look(t, 2, "a.txt"), "text/plain");
}

static void test_length_bounds_name(void) {
    static const lux_mimetype t[] = {{".png", "image/png"}, {".p", "x/p"}};
    CHECK_STR(lux_mimetype_lookup(t, 2, "a.pngzzz", 5), "image/png");
    CHECK_STR(lux_mimetype_lookup(t, 2, "a.pngzzz", 3), "x/p");
}

static void test_defaults(void) {
    CHECK_STR(dflt("index.html"), "text/html; charset=utf-8");
    CHECK_STR(dflt("index.htm"), "text/html; charset=utf-8");
    CHECK_STR(dflt("style.css"), "text/css; charset=utf-8");
    CHECK_STR(dflt("app.js"), "text/javascript; charset=utf-8");
    CHECK_STR(dflt("mod.mjs"), "text/javascript; charset=utf-8");
    CHECK_STR(dflt("data.json"), "application/json");
    CHECK_STR(dflt("feed.xml"), "text/xml; charset=utf-8");
    CHECK_STR(dflt("logo.svg"), "image/svg+xml");
    CHECK_STR(dflt("a.png"), "image/png");
    CHECK_STR(dflt("a.jpg"), "image/jpeg");
    CHECK_STR(dflt("a.jpeg"), "image/jpeg");
    CHECK_STR(dflt("a.gif"), "image/gif");
    CHECK_STR(dflt("a.webp"), "image/webp");
    CHECK_STR(dflt("a.avif"), "image/avif");
    CHECK_STR(dflt("favicon.ico"), "image/vnd.microsoft.icon");
    CHECK_STR(dflt("notes.txt"), "text/plain; charset=utf-8");
    CHECK_STR(dflt("README.md"), "text/markdown; charset=utf-8");
    CHECK_STR(dflt("doc.pdf"), "application/pdf");
    CHECK_STR(dflt("a.zip"), "application/zip");
    CHECK_STR(dflt("a.tar.gz"), "application/gzip");
    CHECK_STR(dflt("a.tar"), "application/x-tar");
    CHECK_STR(dflt("m.wasm"), "application/wasm");
    CHECK_STR(dflt("f.woff"), "font/woff");
    CHECK_STR(dflt("f.woff2"), "font/woff2");
    CHECK_STR(dflt("f.ttf"), "font/ttf");
    CHECK_STR(dflt("f.otf"), "font/otf");
    CHECK_STR(dflt("s.mp3"), "audio/mpeg");
    CHECK_STR(dflt("v.mp4"), "video/mp4");
    CHECK_STR(dflt("v.webm"), "video/webm");
    CHECK_STR(dflt("s.ogg"), "audio/ogg");
    CHECK_STR(dflt("s.wav"), "audio/wav");
    CHECK_STR(dflt("t.csv"), "text/csv; charset=utf-8");
    CHECK_STR(dflt("Makefile"), "application/octet-stream");
    CHECK_STR(dflt("archive.unknownext"), "application/octet-stream");
    CHECK(lux_mimetype_defaults_len >= 80);
}

static void test_defaults_well_formed(void) {
    int fallback = 0;
    for (size_t i = 0; i < lux_mimetype_defaults_len; i++) {
        const lux_mimetype *m = &lux_mimetype_defaults[i];
        CHECK(m->suffix && m->type && strchr(m->type, '/'));
        if (m->suffix[0] == '\0')
            fallback++;
        else
            CHECK(m->suffix[0] == '.');
        /* Text types always say their charset. */
        if (strncmp(m->type, "text/", 5) == 0)
            CHECK(strstr(m->type, "; charset=utf-8") != NULL);
        for (size_t j = i + 1; j < lux_mimetype_defaults_len; j++)
            CHECK(strcmp(m->suffix, lux_mimetype_defaults[j].suffix) != 0);
    }
    CHECK_INT(fallback, 1);
}

int main(void) {
    RUN(test_longest_suffix_wins);
    RUN(test_no_default);
    RUN(test_case_insensitive_fallback);
    RUN(test_exact_case_preferred);
    RUN(test_assigned_javascript);
    RUN(test_first_of_equal_length_wins);
    RUN(test_length_bounds_name);
    RUN(test_defaults);
    RUN(test_defaults_well_formed);
    T_EXIT();
}
