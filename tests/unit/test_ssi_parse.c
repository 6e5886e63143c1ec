/* Server-side include syntax: finding directives, attribute values, #if expressions. */
#include <string.h>

#include "mod/ssi_parse.h"
#include "t.h"

static ssi_found next(const char *doc, size_t *start, size_t *end, ssi_directive *d) {
    return ssi_next(doc, strlen(doc), start, end, d);
}

static void test_finds_directive(void) {
    const char *doc = "ab<!--#include virtual=\"/x.html\" -->cd";
    size_t start, end;
    ssi_directive d;
    CHECK_INT(next(doc, &start, &end, &d), SSI_DIRECTIVE);
    CHECK_INT(start, 2);
    CHECK_INT(end, strlen(doc) - 2);
    CHECK(ssi_cmd_is(&d, "include"));
    CHECK_INT(d.nattrs, 1);
    CHECK(ssi_attr_is(&d.attrs[0], "virtual"));
    CHECK_INT(d.attrs[0].value_len, 7);
    CHECK(memcmp(d.attrs[0].value, "/x.html", 7) == 0);
}

static void test_attributes(void) {
    size_t start, end;
    ssi_directive d;
    CHECK_INT(next("<!--#set var='a' value=`b c`-->", &start, &end, &d), SSI_DIRECTIVE);
    CHECK_INT(d.nattrs, 2);
    CHECK(ssi_attr_is(&d.attrs[1], "value"));
    CHECK_INT(d.attrs[1].value_len, 3);
    /* "-->" inside a quoted value does not end the directive */
    CHECK_INT(next("<!--#set var=\"x\" value=\"a-->b\" -->!", &start, &end, &d), SSI_DIRECTIVE);
    CHECK_INT(end, 34);
    CHECK_INT(d.attrs[1].value_len, 5);
    CHECK_INT(next("<!--#endif-->", &start, &end, &d), SSI_DIRECTIVE);
    CHECK_INT(d.nattrs, 0);
}

static void test_malformed_and_text(void) {
    size_t start, end;
    ssi_directive d;
    CHECK_INT(next("plain text", &start, &end, &d), SSI_NONE);
    CHECK_INT(next("<!--#include file=\"x\"", &start, &end, &d), SSI_NONE); /* never closed */
    CHECK_INT(next("<!--# -->", &start, &end, &d), SSI_MALFORMED);
    /* an unbalanced quote ends at the first "-->", not at the end of the document */
    CHECK_INT(next("<!--#echo var=\"it's -->text<!--#endif -->", &start, &end, &d), SSI_MALFORMED);
    CHECK_INT(end, 23);
    CHECK_INT(next("<!--#echo var=x -->", &start, &end, &d), SSI_MALFORMED);
    CHECK_INT(next("<!--#echo var=\"a\"var=\"b\" -->", &start, &end, &d), SSI_MALFORMED);
    CHECK_INT(next("<!--#x a=\"\" b=\"\" c=\"\" d=\"\" e=\"\" f=\"\" g=\"\" h=\"\" i=\"\" -->",
                   &start, &end, &d),
              SSI_MALFORMED);
}

static void test_unescape(void) {
    char buf[16];
    CHECK_INT(ssi_unescape("a\\\"b\\n", 6, buf, sizeof buf), 5);
    CHECK_STR(buf, "a\"b\\n");
    CHECK_INT(ssi_unescape("abcdef", 6, buf, 4), -1);
}

static int lookup(void *ctx, const char *name, size_t len, const char **val, size_t *vlen) {
    static const char *const vars[][2] = {{"V", "hello"}, {"EMPTY", ""}, {"N", "10"}};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (strlen(vars[i][0]) == len && memcmp(vars[i][0], name, len) == 0) {
            *val = vars[i][1];
            *vlen = strlen(vars[i][1]);
            return 0;
        }
    }
    return -1;
}

static int eval(const char *expr) {
    char scratch[256];
    return ssi_expr_eval(expr, strlen(expr), lookup, NULL, scratch, sizeof scratch);
}

static void test_expr_strings_and_compare(void) {
    CHECK_INT(eval(""), 0);
    CHECK_INT(eval("abc"), 1);
    CHECK_INT(eval("$UNSET"), 0);
    CHECK_INT(eval("$EMPTY"), 0);
    CHECK_INT(eval("$V = hello"), 1);
    CHECK_INT(eval("${V}x = 'hellox'"), 1);
    CHECK_INT(eval("$V != hello"), 0);
    CHECK_INT(eval("a b = 'a b'"), 1);
    CHECK_INT(eval("2 < 10"), 0); /* strings compare bytewise, as in lighttpd */
    CHECK_INT(eval("b > a"), 1);
    CHECK_INT(eval("a <= a"), 1);
    CHECK_INT(eval("b >= c"), 0);
    CHECK_INT(eval("'\\$V' = \\$V"), 1);
    CHECK_INT(eval("'$' = $"), 1); /* a '$' without a name is itself */
}

static void test_expr_logic(void) {
    CHECK_INT(eval("a && (b || '')"), 1);
    CHECK_INT(eval("!a"), 0);
    CHECK_INT(eval("!(a = b)"), 1);
    CHECK_INT(eval("'' || '' && a"), 0);
    CHECK_INT(eval("a || '' && ''"), 1); /* && binds tighter */
    CHECK_INT(eval("($V = hello) && ($N = 10)"), 1);
}

static void test_expr_regex(void) {
    CHECK_INT(eval("$V = /^hel+o$/"), 1);
    CHECK_INT(eval("$V = /x/"), 0);
    CHECK_INT(eval("$V != /x/"), 1);
    CHECK_INT(eval("$V = /a\\/b/"), 0);
    CHECK_INT(eval("$V = /(/"), -1); /* does not compile */
    CHECK_INT(eval("$V = /unclosed"), -1);
}

static void test_expr_errors(void) {
    CHECK_INT(eval("(a"), -1);
    CHECK_INT(eval("a)"), -1);
    CHECK_INT(eval("a &"), -1);
    CHECK_INT(eval("= a"), -1);
    CHECK_INT(eval("a ="), -1);
    CHECK_INT(eval("'unclosed"), -1);
    CHECK_INT(eval("${V"), -1);
    char deep[300];
    memset(deep, '(', 150);
    memcpy(deep + 150, "a", 2);
    CHECK_INT(eval(deep), -1); /* nesting is bounded */
    char scratch[4];
    CHECK_INT(ssi_expr_eval("$V", 2, lookup, NULL, scratch, sizeof scratch), -1);
}

int main(void) {
    RUN(test_finds_directive);
    RUN(test_attributes);
    RUN(test_malformed_and_text);
    RUN(test_unescape);
    RUN(test_expr_strings_and_compare);
    RUN(test_expr_logic);
    RUN(test_expr_regex);
    RUN(test_expr_errors);
    T_EXIT();
}
