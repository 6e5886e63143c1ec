/* Host and user names as path components, and mod_evhost's pattern expansion. */
#include <string.h>

#include "mod/vhost_path.h"
#include "t.h"

static char out[1024];

static const char *expand(const char *pattern, const char *host) {
    size_t plen = strlen(pattern), hlen = strlen(host);
    size_t need = evhost_expand(pattern, plen, host, hlen, NULL, 0);
    size_t got = evhost_expand(pattern, plen, host, hlen, out, sizeof out - 1);
    CHECK(need == got);
    out[got < sizeof out - 1 ? got : sizeof out - 1] = '\0';
    return out;
}

static int check(const char *pattern) {
    char err[256];
    return evhost_pattern_check(pattern, strlen(pattern), err, sizeof err);
}

static void test_name_safe(void) {
    CHECK(vhost_name_safe("example.com", 11));
    CHECK(vhost_name_safe(".hidden", 7));
    CHECK(vhost_name_safe("a..b", 4));
    CHECK(!vhost_name_safe("", 0));
    CHECK(!vhost_name_safe(".", 1));
    CHECK(!vhost_name_safe("..", 2));
    CHECK(!vhost_name_safe("a/b", 3));
    CHECK(!vhost_name_safe("/", 1));
    CHECK(!vhost_name_safe("a\0b", 3));
    char long_name[VHOST_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name);
    CHECK(vhost_name_safe(long_name, VHOST_NAME_MAX));
    CHECK(!vhost_name_safe(long_name, VHOST_NAME_MAX + 1));
}

static void test_host_without_port(void) {
    CHECK_INT(vhost_host_without_port("a.b:80", 6), 3);
    CHECK_INT(vhost_host_without_port("a.b", 3), 3);
    CHECK_INT(vhost_host_without_port("[::1]:80", 8), 5);
    CHECK_INT(vhost_host_without_port("[::1]", 5), 5);
}

static void test_parts_from_the_right(void) {
    CHECK_STR(expand("%0|%1|%2|%3|%4|%5", "a.b.example.com"), "example.com|com|example|b|a|");
    CHECK_STR(expand("%0|%1|%2", "example.com"), "example.com|com|example");
    CHECK_STR(expand("%0|%1|%2", "localhost"), "localhost|localhost|");
    CHECK_STR(expand("%_", "a.b.example.com"), "a.b.example.com");
    CHECK_STR(expand("/srv/%%/%x/", "a.b"), "/srv/%//");
}

static void test_nine_parts_at_most(void) {
    CHECK_STR(expand("%9|%1", "l.k.j.i.h.g.f.e.d.c.b.a"), "i|a");
}

static void test_characters_of_a_part(void) {
    CHECK_STR(expand("%{2.1}%{2.2}/%{2}/%{2.0}", "www.example.com"), "ex/example/example");
    CHECK_STR(expand("[%{3.9}]", "www.example.com"), "[]");
    CHECK_STR(expand("[%{3.3}]", "www.example.com"), "[w]");
    CHECK_STR(expand("[%{7.1}]", "www.example.com"), "[]");
}

static void test_ipv6_literal_has_no_parts(void) {
    CHECK_STR(expand("%0|%1|%_", "[::1]"), "||[::1]");
}

static void test_pattern_check(void) {
    CHECK_INT(check("/srv/%0/%1/%_/%%/%{2}/%{3.1}/"), 0);
    CHECK_INT(check("/srv/%"), -1);
    CHECK_INT(check("/srv/%{"), -1);
    CHECK_INT(check("/srv/%{a}"), -1);
    CHECK_INT(check("/srv/%{3.x}"), -1);
    CHECK_INT(check("/srv/%{3.1"), -1);
    CHECK_INT(check("/srv/%{10}"), -1);
}

/* A pattern is (pointer, length): the message names it without reading past its end. */
static void test_pattern_error_stays_in_bounds(void) {
    const char text[] = "/srv/%SECRET";
    char err[256];
    CHECK_INT(evhost_pattern_check(text, 6, err, sizeof err), -1);
    CHECK(strstr(err, "\"/srv/%\"") != NULL);
    CHECK(strstr(err, "SECRET") == NULL);
}

static void test_short_buffer(void) {
    char small[4];
    size_t need = evhost_expand("/srv/%_/", 8, "example.com", 11, small, sizeof small);
    CHECK_INT(need, 17);
    CHECK(memcmp(small, "/srv", 4) == 0);
}

int main(void) {
    RUN(test_name_safe);
    RUN(test_host_without_port);
    RUN(test_parts_from_the_right);
    RUN(test_nine_parts_at_most);
    RUN(test_characters_of_a_part);
    RUN(test_ipv6_literal_has_no_parts);
    RUN(test_pattern_check);
    RUN(test_pattern_error_stays_in_bounds);
    RUN(test_short_buffer);
    T_EXIT();
}
