#include "http/status.h"

#include "t.h"

static void test_reasons(void) {
    CHECK_STR(lux_status_reason(100), "Continue");
    CHECK_STR(lux_status_reason(103), "Early Hints");
    CHECK_STR(lux_status_reason(200), "OK");
    CHECK_STR(lux_status_reason(206), "Partial Content");
    CHECK_STR(lux_status_reason(207), "Multi-Status");
    CHECK_STR(lux_status_reason(226), "IM Used");
    CHECK_STR(lux_status_reason(301), "Moved Permanently");
    CHECK_STR(lux_status_reason(304), "Not Modified");
    CHECK_STR(lux_status_reason(308), "Permanent Redirect");
    CHECK_STR(lux_status_reason(404), "Not Found");
    CHECK_STR(lux_status_reason(413), "Content Too Large");
    CHECK_STR(lux_status_reason(416), "Range Not Satisfiable");
    CHECK_STR(lux_status_reason(422), "Unprocessable Content");
    CHECK_STR(lux_status_reason(431), "Request Header Fields Too Large");
    CHECK_STR(lux_status_reason(451), "Unavailable For Legal Reasons");
    CHECK_STR(lux_status_reason(500), "Internal Server Error");
    CHECK_STR(lux_status_reason(505), "HTTP Version Not Supported");
    CHECK_STR(lux_status_reason(511), "Network Authentication Required");
    CHECK_STR(lux_status_reason(0), "Unknown");
    CHECK_STR(lux_status_reason(-1), "Unknown");
    CHECK_STR(lux_status_reason(299), "Unknown");
    CHECK_STR(lux_status_reason(419), "Unknown");
    CHECK_STR(lux_status_reason(509), "Unknown");
    CHECK_STR(lux_status_reason(600), "Unknown");
}

static void test_every_registered_code(void) {
    static const int codes[] = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208,
                                226, 300, 301, 302, 303, 304, 305, 306, 307, 308, 400, 401, 402,
                                403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
                                416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
                                500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        const char *r = lux_status_reason(codes[i]);
        if (strcmp(r, "Unknown") == 0 || !r[0]) {
            fprintf(stderr, "  no phrase for %d\n", codes[i]);
            t_failed_now = 1;
        }
        /* Phrases go into status lines: no CR, LF or control bytes. */
        for (const char *p = r; *p; p++)
            CHECK(*p >= 0x20 && *p < 0x7f);
    }
}

static void test_page(void) {
    char buf[1024];
    size_t n = lux_status_page(404, buf, sizeof buf);
    CHECK_INT(n, strlen(buf));
    CHECK(strncmp(buf, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(buf, "<title>404 Not Found</title>") != NULL);
    CHECK(strstr(buf, "<h1>404 Not Found</h1>") != NULL);
    CHECK(strstr(buf, "<meta charset=\"utf-8\">") != NULL);
    CHECK(strstr(buf, "</html>\n") != NULL);
    /* No server name or version in error pages. */
    CHECK(strstr(buf, "lux") == NULL);
    CHECK(strstr(buf, "lighttpd") == NULL);

    n = lux_status_page(503, buf, sizeof buf);
    CHECK(strstr(buf, "<title>503 Service Unavailable</title>") != NULL);
    n = lux_status_page(799, buf, sizeof buf);
    CHECK(strstr(buf, "<h1>799 Unknown</h1>") != NULL);
    CHECK_INT(n, strlen(buf));
}

static void test_page_truncation(void) {
    char full[1024], small[32];
    size_t total = lux_status_page(404, full, sizeof full);
    memset(small, 'x', sizeof small);
    size_t n = lux_status_page(404, small, sizeof small);
    CHECK_INT(n, sizeof small - 1);
    CHECK_INT(strlen(small), sizeof small - 1);
    CHECK(strncmp(small, full, n) == 0);
    CHECK(total > n);
    char one[1] = {'x'};
    CHECK_INT(lux_status_page(404, one, 1), 0);
    CHECK(one[0] == '\0');
    CHECK_INT(lux_status_page(404, NULL, 0), 0);
    /* Exactly fitting. */
    char exact[1024];
    CHECK_INT(lux_status_page(404, exact, total + 1), total);
    CHECK_STR(exact, full);
}

/* The shared page is the rendered one, for every registered code; none for the others. */
static void test_shared_page(void) {
    char buf[512];
    for (int code = 100; code < 600; code++) {
        size_t len = 0;
        const char *p = lux_status_page_shared(code, &len);
        if (strcmp(lux_status_reason(code), "Unknown") == 0) {
            CHECK(p == NULL);
            continue;
        }
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_INT(len, lux_status_page(code, buf, sizeof buf));
        CHECK_STR(p, buf);
    }
    size_t len;
    CHECK(lux_status_page_shared(99, &len) == NULL);
    CHECK(lux_status_page_shared(-404, &len) == NULL);
}

int main(void) {
    RUN(test_reasons);
    RUN(test_every_registered_code);
    RUN(test_page);
    RUN(test_page_truncation);
    RUN(test_shared_page);
    T_EXIT();
}
