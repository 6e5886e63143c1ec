#include <stdlib.h>

/* The renderer is included, not linked, so its allocations can be made to fail on demand. */
static int alloc_budget = -1; /* allocations allowed before failing; -1: unlimited */

static void *test_malloc(size_t n) {
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    return malloc(n);
}

static void *test_realloc(void *p, size_t n) {
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    return realloc(p, n);
}

#define malloc test_malloc
#define realloc test_realloc
#include "../../src/mod/dirlisting_html.c"
#undef malloc
#undef realloc

#include "t.h"

#define NAME(s) s, sizeof(s) - 1

static char *render(lux_dirent *e, size_t n, const lux_dirlisting_opts *o) {
    size_t len = 0;
    char *page = lux_dirlisting_render(e, n, o, &len);
    if (page && strlen(page) != len) {
        fprintf(stderr, "  length mismatch\n");
        t_failed_now = 1;
    }
    return page;
}

static lux_dirlisting_opts base_opts(const char *path) {
    lux_dirlisting_opts o = {.uri_path = path, .uri_path_len = strlen(path), .encoding = "utf-8"};
    return o;
}

/* Position of needle in page, or -1. */
static long pos(const char *page, const char *needle) {
    const char *p = strstr(page, needle);
    return p ? p - page : -1;
}

static void test_skeleton(void) {
    lux_dirlisting_opts o = base_opts("/pub/");
    char *page = render(NULL, 0, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(strncmp(page, "<!DOCTYPE html>\n", 16) == 0);
    CHECK(pos(page, "<meta charset=\"utf-8\">") > 0);
    CHECK(pos(page, "<title>Index of /pub/</title>") > 0);
    CHECK(pos(page, "<h1>Index of /pub/</h1>") > 0);
    CHECK(pos(page, "<th class=\"n\">Name</th>") > 0);
    CHECK(pos(page, "<th class=\"m\">Last Modified</th>") > 0);
    CHECK(pos(page, "<th class=\"s\">Size</th>") > 0);
    CHECK(pos(page, "<th class=\"t\">Type</th>") > 0);
    CHECK(pos(page, "<a href=\"../\">../</a>") > 0);
    CHECK(pos(page, "<style>") > 0);
    CHECK(pos(page, "<link") < 0);
    CHECK(pos(page, "<script") < 0);
    CHECK(pos(page, "class=\"foot\"") < 0);
    CHECK(pos(page, "</html>\n") > 0);
    free(page);
}

static void test_root_has_no_parent(void) {
    lux_dirlisting_opts o = base_opts("/");
    o.encoding = NULL;
    char *page = render(NULL, 0, &o);
    CHECK(page && pos(page, "../") < 0);
    CHECK(page && pos(page, "<meta charset") < 0);
    free(page);
}

static void test_escaping(void) {
    lux_dirent e[] = {{NAME("<a href=\"x\">&'.txt"), 0, 10, 0}};
    lux_dirlisting_opts o = base_opts("/a&b<c>/");
    char *page = render(e, 1, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(pos(page, "<a href=\"%3Ca%20href%3D%22x%22%3E%26%27.txt\">"
                    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;.txt</a>") > 0);
    CHECK(pos(page, "<title>Index of /a&amp;b&lt;c&gt;/</title>") > 0);
    CHECK(pos(page, "<h1>Index of /a&amp;b&lt;c&gt;/</h1>") > 0);
    CHECK(pos(page, "<a href=\"x\">") < 0);
    free(page);
}

static void test_href_encoding(void) {
    lux_dirent e[] = {
        {NAME("javascript:alert(1)"), 0, 1, 0},
        {NAME("a b?c#d%e"), 0, 1, 0},
        {NAME("Az09-._~"), 0, 1, 0},
        {NAME("\xc3\xa9t\xc3\xa9"), 0, 1, 0},
        {NAME("sub dir"), 1, 0, 0},
    };
    lux_dirlisting_opts o = base_opts("/");
    char *page = render(e, 5, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(pos(page, "href=\"javascript%3Aalert%281%29\"") > 0);
    CHECK(pos(page, "href=\"a%20b%3Fc%23d%25e\"") > 0);
    CHECK(pos(page, "href=\"Az09-._~\"") > 0);
    CHECK(pos(page, "href=\"%C3%A9t%C3%A9\">\xc3\xa9t\xc3\xa9</a>") > 0);
    CHECK(pos(page, "href=\"sub%20dir/\">sub dir</a>/") > 0);
    free(page);
}

static void test_sorting(void) {
    lux_dirent e[] = {
        {NAME("b.txt"), 0, 1, 0},  {NAME("Zeta"), 1, 0, 0},  {NAME("a.txt"), 0, 1, 0},
        {NAME("alpha"), 1, 0, 0},  {NAME("B.txt"), 0, 1, 0}, {NAME("a"), 0, 1, 0},
        {NAME("a.txt2"), 0, 1, 0},
    };
    lux_dirlisting_opts o = base_opts("/d/");
    char *page = render(e, sizeof e / sizeof *e, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    /* Directories first, then files; bytewise within each (uppercase before lowercase). */
    static const char *const order[] = {"href=\"../\"",    "href=\"Zeta/\"", "href=\"alpha/\"",
                                        "href=\"B.txt\"",  "href=\"a\"",     "href=\"a.txt\"",
                                        "href=\"a.txt2\"", "href=\"b.txt\""};
    long last = -1;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        long p = pos(page, order[i]);
        if (p <= last) {
            fprintf(stderr, "  %s out of order\n", order[i]);
            t_failed_now = 1;
        }
        last = p;
    }
    /* The entries were sorted in place too. */
    CHECK(e[0].is_dir && memcmp(e[0].name, "Zeta", 4) == 0);
    CHECK(memcmp(e[6].name, "b.txt", 5) == 0);
    free(page);
}

static void test_dot_entries_skipped(void) {
    lux_dirent e[] = {{NAME("."), 1, 0, 0}, {NAME(".."), 1, 0, 0}, {NAME(".hidden"), 0, 1, 0}};
    lux_dirlisting_opts o = base_opts("/x/");
    char *page = render(e, 3, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(pos(page, "href=\"./\"") < 0);
    /* Only the one parent row, which the renderer adds itself. */
    const char *parent = strstr(page, "href=\"../\"");
    CHECK(parent && strstr(parent + 1, "href=\"../\"") == NULL);
    CHECK(pos(page, "href=\".hidden\"") > 0);
    free(page);
}

static void test_sizes_and_dates(void) {
    lux_dirent e[] = {
        {NAME("f00"), 0, 0, 0},
        {NAME("f01"), 0, 1, 0},
        {NAME("f02"), 0, 1024, 0},
        {NAME("f03"), 0, 1229, 0},
        {NAME("f04"), 0, 1536, 0},
        {NAME("f05"), 0, 999 * 1024 + 1023, 0},
        {NAME("f06"), 0, 1000 * 1024, 0},
        {NAME("f07"), 0, (uint64_t)3565159, 0},
        {NAME("f08"), 0, (uint64_t)5 << 30, 0},
        {NAME("f09"), 0, UINT64_MAX, 0},
        {NAME("d"), 1, 4096, 1700000000},
        {NAME("t"), 0, 1, 784111777},
    };
    lux_dirlisting_opts o = base_opts("/");
    char *page = render(e, sizeof e / sizeof *e, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    static const char *const want[][2] = {
        {"f00", "0.0K"},   {"f01", "0.1K"}, {"f02", "1.0K"}, {"f03", "1.2K"}, {"f04", "1.5K"},
        {"f05", "999.9K"}, {"f06", "0.9M"}, {"f07", "3.4M"}, {"f08", "5.0G"}, {"f09", "15.9E"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char row[128];
        snprintf(row, sizeof row,
                 ">%s</a></td><td class=\"m\">1970-Jan-01 00:00:00</td>"
                 "<td class=\"s\">%s</td>",
                 want[i][0], want[i][1]);
        if (pos(page, row) < 0) {
            fprintf(stderr, "  missing %s\n", row);
            t_failed_now = 1;
        }
    }
    CHECK(pos(page, ">d</a>/</td><td class=\"m\">2023-Nov-14 22:13:20</td><td class=\"s\">-</td>"
                    "<td class=\"t\">Directory</td>") > 0);
    CHECK(pos(page, ">t</a></td><td class=\"m\">1994-Nov-06 08:49:37</td>") > 0);
    free(page);
}

static void test_types(void) {
    lux_dirent e[] = {{NAME("a.html"), 0, 1, 0}, {NAME("b.weird"), 0, 1, 0}};
    lux_dirlisting_opts o = base_opts("/");
    char *page = render(e, 2, &o);
    CHECK(page && pos(page, "<td class=\"t\">text/html; charset=utf-8</td>") > 0);
    CHECK(page && pos(page, "<td class=\"t\">application/octet-stream</td>") > 0);
    free(page);
    static const lux_mimetype custom[] = {{".weird", "x/<weird>"}};
    o.mimetypes = custom;
    o.mimetypes_len = 1;
    page = render(e, 2, &o);
    CHECK(page && pos(page, "<td class=\"t\">x/&lt;weird&gt;</td>") > 0);
    /* Not in the custom table and no "" entry there. */
    CHECK(page && pos(page, ">a.html</a>") > 0);
    CHECK(page && pos(page, "text/html") < 0);
    free(page);
}

static void test_css_js_header_readme_footer(void) {
    lux_dirlisting_opts o = base_opts("/");
    o.external_css = "/s.css?a=1&b=\"2\"";
    o.external_js = "/j.js";
    o.header = "<b>Hi</b> & welcome";
    o.header_len = strlen(o.header);
    o.readme = "<i>read</i>";
    o.readme_len = strlen(o.readme);
    o.header_encode = 1;
    o.readme_encode = 0;
    o.server_tag = "lux <test>";
    char *page = render(NULL, 0, &o);
    CHECK(page != NULL);
    if (!page)
        return;
    CHECK(pos(page, "<style>") < 0);
    CHECK(pos(page, "<link rel=\"stylesheet\" type=\"text/css\" "
                    "href=\"/s.css?a=1&amp;b=&quot;2&quot;\">") > 0);
    CHECK(pos(page, "<script src=\"/j.js\"></script>") > 0);
    CHECK(pos(page, "<pre class=\"header\">&lt;b&gt;Hi&lt;/b&gt; &amp; welcome</pre>") > 0);
    CHECK(pos(page, "<i>read</i>") > 0);
    CHECK(pos(page, "<div class=\"foot\">lux &lt;test&gt;</div>") > 0);
    /* Header before the table, readme after it. */
    CHECK(pos(page, "class=\"header\"") < pos(page, "<table>"));
    CHECK(pos(page, "<i>read</i>") > pos(page, "</table>"));
    free(page);

    /* NUL bytes (a binary README) never reach the page when escaping. */
    o.header = "a\0b";
    o.header_len = 3;
    page = render(NULL, 0, &o);
    CHECK(page && pos(page, "<pre class=\"header\">ab</pre>") > 0);
    free(page);

    o.header = "<b>Hi</b> & welcome";
    o.header_len = strlen(o.header);
    o.header_encode = 0;
    o.readme_encode = 1;
    page = render(NULL, 0, &o);
    CHECK(page && pos(page, "<b>Hi</b> & welcome") > 0);
    CHECK(page && pos(page, "<pre class=\"readme\">&lt;i&gt;read&lt;/i&gt;</pre>") > 0);
    free(page);
}

static void test_many_entries(void) {
    enum { N = 3000 };
    static lux_dirent e[N];
    static char names[N][16];
    for (int i = 0; i < N; i++) {
        int len = snprintf(names[i], sizeof names[i], "file%05d.bin", (i * 7919) % N);
        e[i] = (lux_dirent){names[i], (size_t)len, i % 10 == 0, (uint64_t)i * 1000, 0};
    }
    lux_dirlisting_opts o = base_opts("/big/");
    size_t len = 0;
    char *page = lux_dirlisting_render(e, N, &o, &len);
    CHECK(page != NULL);
    CHECK(len > (size_t)N * 100);
    for (int i = 1; i < N; i++) {
        if (e[i - 1].is_dir < e[i].is_dir ||
            (e[i - 1].is_dir == e[i].is_dir && strcmp(e[i - 1].name, e[i].name) >= 0)) {
            CHECK(0);
            break;
        }
    }
    free(page);
}

/* A listing cut short says so; a complete one does not. */
static void test_cut_note(void) {
    lux_dirent e[] = {{NAME("a.txt"), 0, 1, 0}};
    lux_dirlisting_opts o = base_opts("/d/");
    char *page = render(e, 1, &o);
    CHECK(page && !strstr(page, "class=\"cut\""));
    free(page);
    o.cut_at = 10000;
    page = render(e, 1, &o);
    CHECK(page && strstr(page, "more than 10000 entries; only 10000 are listed"));
    free(page);
}

static void test_out_of_memory(void) {
    enum { N = 200 };
    static lux_dirent e[N];
    static char names[N][128];
    for (int i = 0; i < N; i++) {
        /* long names: rows larger than the renderer's first guess make the page grow */
        int len = snprintf(names[i], sizeof names[i], "n%03d-%0100d", i, 0);
        e[i] = (lux_dirent){names[i], (size_t)len, 0, 1, 0};
    }
    lux_dirlisting_opts o = base_opts("/oom/");
    /* Fail the first, second, ... allocation until one run needs no more than allowed; every
     * failing run must return NULL without leaking (ASan checks the leak). */
    int ok = 0;
    for (int budget = 0; budget < 64 && !ok; budget++) {
        alloc_budget = budget;
        size_t len = 0;
        char *page = lux_dirlisting_render(e, N, &o, &len);
        if (page) {
            ok = 1;
            CHECK(budget > 1); /* the page outgrew the first buffer at least once */
            CHECK_INT(strlen(page), len);
        }
        free(page);
    }
    alloc_budget = -1;
    CHECK(ok);
}

int main(void) {
    RUN(test_skeleton);
    RUN(test_root_has_no_parent);
    RUN(test_escaping);
    RUN(test_href_encoding);
    RUN(test_sorting);
    RUN(test_dot_entries_skipped);
    RUN(test_sizes_and_dates);
    RUN(test_types);
    RUN(test_css_js_header_readme_footer);
    RUN(test_many_entries);
    RUN(test_cut_note);
    RUN(test_out_of_memory);
    T_EXIT();
}
