/* The replacement syntax of mod_rewrite / mod_redirect, and the load-time normalisation. */
#include <string.h>

#include "core/pool.h"
#include "mod/regex_subst.h"
#include "t.h"

static lux_pool pool;

/* Expand tmpl with regex captures "whole", "c1", "c2" and condition captures "host", "www". */
static const char *expand_q(const char *tmpl, const char *query) {
    static const char *re[] = {"/x/AbC%2F~d", "AbC%2F~d", "c 2"};
    lux_subst_caps caps = {.n = 3};
    for (int i = 0; i < 3; i++) {
        caps.ptr[i] = re[i];
        caps.len[i] = strlen(re[i]);
    }
    lux_cond_captures cond = {.n = 2, .ptr = {"www.example.org", "www"}, .len = {15, 3}};
    lux_subst_ctx ctx = {.cond = &cond,
                         .scheme = {"http", 4},
                         .authority = {"www.example.org:81", 18},
                         .path = {"/x/AbC%2F~d", 11},
                         .query = {query, query ? strlen(query) : 0},
                         .port = 8080};
    lux_str out;
    if (lux_subst_expand(tmpl, strlen(tmpl), &caps, &ctx, &pool, &out) < 0)
        return NULL;
    CHECK(strlen(out.ptr) == out.len);
    return out.ptr;
}

static const char *expand(const char *tmpl) {
    return expand_q(tmpl, "a=1&b");
}

static void test_plain_references(void) {
    CHECK_STR(expand("/n?$1&$2"), "/n?AbC%2F~d&c 2");
    CHECK_STR(expand("$0|%0|%1"), "/x/AbC%2F~d|www.example.org|www");
    CHECK_STR(expand("$3|%2|%9"), "||");
    CHECK_STR(expand("no refs"), "no refs");
    CHECK_STR(expand(""), "");
}

static void test_literal_escapes(void) {
    CHECK_STR(expand("$$|%%|$a|%a|$"), "$|%|$a|%a|$");
    CHECK_STR(expand("100%"), "100%");
    CHECK_STR(expand("%%%%1"), "%%1");
}

static void test_url_parts(void) {
    CHECK_STR(expand("${url.scheme}://${url.authority}:${url.port}${url.path}?${url.query}"),
              "http://www.example.org:81:8080/x/AbC%2F~d?a=1&b");
    CHECK_STR(expand("${url.nope}|${foo}|${}"), "||");
}

static void test_qsa(void) {
    CHECK_STR(expand("/i.php${qsa}"), "/i.php?a=1&b");
    CHECK_STR(expand("/i.php?p=$2${qsa}"), "/i.php?p=c 2&a=1&b");
    CHECK_STR(expand_q("/i.php${qsa}", NULL), "/i.php");
    CHECK_STR(expand_q("/i.php${qsa}", ""), "/i.php");
}

static void test_encodings(void) {
    CHECK_STR(expand("${1}|%{1}"), "AbC%2F~d|www");
    CHECK_STR(expand("${2}"), "c%202");
    CHECK_STR(expand("${esc:1}|${escape:2}"), "AbC%252F~d|c%202");
    CHECK_STR(expand("${escnde:0}|${escpsnde:0}"), "%2Fx%2FAbC%2F~d|/x/AbC%2F~d");
    CHECK_STR(expand("${noesc:2}|${noescape:2}"), "c 2|c 2");
    CHECK_STR(expand("${encb64u:url.authority}"), "d3d3LmV4YW1wbGUub3JnOjgx");
    CHECK_STR(expand("${esc:url.query}"), "a%3D1%26b");
}

static void test_case(void) {
    CHECK_STR(expand("${tolower:1}|${toupper:1}"), "abc%2F~d|ABC%2F~D");
    CHECK_STR(expand("${tolower:esc:1}"), "abc%252f~d");
    CHECK_STR(expand("${toupper:url.scheme}"), "HTTP");
}

static void test_b64_decode(void) {
    lux_cond_captures cond = {.n = 4, .ptr = {"aGVsbG8", "aGk=", "hello", "a+b"},
                              .len = {7, 4, 5, 3}};
    lux_subst_ctx ctx = {.cond = &cond};
    lux_str out;
    const char *t = "%{decb64u:0}|%{decb64u:1}|%{decb64u:2}|%{decb64u:3}";
    CHECK(lux_subst_expand(t, strlen(t), NULL, &ctx, &pool, &out) == 0);
    CHECK_STR(out.ptr, "hello|hi||");
}

static void test_brace_forms(void) {
    CHECK_STR(expand("${12}|${1x}|${esx:2}"), "|AbC%2F~d|c%202");
    CHECK_STR(expand("${esc:%1}|%{esc:$1}"), "AbC%252F~d|www");
    CHECK_STR(expand("/a/${url.path"), "/a/");
    CHECK_STR(expand("/a/${1"), "/a/");
    CHECK_STR(expand("/a/${toX}/b:c}d"), "/a/d");
}

static void test_length_limit(void) {
    static char big[LUX_SUBST_MAX_OUT / 2 + 10];
    memset(big, 'x', sizeof big - 1);
    lux_cond_captures cond = {.n = 1, .ptr = {big}, .len = {sizeof big - 1}};
    lux_subst_ctx ctx = {.cond = &cond};
    lux_str out;
    CHECK(lux_subst_expand("%0", 2, NULL, &ctx, &pool, &out) == 0);
    CHECK(lux_subst_expand("%0%0", 4, NULL, &ctx, &pool, &out) < 0);
    CHECK(lux_subst_expand("%{esc:0}", 8, NULL, &ctx, &pool, &out) == 0);
    memset(big, ' ', sizeof big - 1);
    CHECK(lux_subst_expand("%{esc:0}", 8, NULL, &ctx, &pool, &out) < 0);
}

static const char *norm(const char *s, int repl) {
    static char buf[256];
    lux_subst_normalize(s, strlen(s), repl, buf);
    return buf;
}

static void test_normalize(void) {
    CHECK_STR(norm("^/caf%c3%a9/(.*)$", 0), "^/caf%C3%A9/(.*)$");
    CHECK_STR(norm("^/caf\xc3\xa9$", 0), "^/caf%C3%A9$");
    CHECK_STR(norm("/x/%%2f$1%1", 1), "/x/%%2F$1%1");
    CHECK_STR(norm("/caf\xc3\xa9", 1), "/caf%%C3%%A9");
    CHECK_STR(norm("%zz%", 0), "%zz%");
}

int main(void) {
    lux_pool_init(&pool, 4096);
    RUN(test_plain_references);
    RUN(test_literal_escapes);
    RUN(test_url_parts);
    RUN(test_qsa);
    RUN(test_encodings);
    RUN(test_case);
    RUN(test_b64_decode);
    RUN(test_brace_forms);
    RUN(test_length_limit);
    RUN(test_normalize);
    lux_pool_free(&pool);
    T_EXIT();
}
