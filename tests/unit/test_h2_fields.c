#include "http/h2/h2_fields.h"

#include <string.h>

#include "t.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void test_names(void) {
    CHECK(lux_h2_name_ok(S("user-agent")));
    CHECK(lux_h2_name_ok(S("x-a!#$%&'*+.^_`|~09")));
    CHECK(!lux_h2_name_ok(S("")));
    CHECK(!lux_h2_name_ok(S("User-Agent")));
    CHECK(!lux_h2_name_ok(S("x a")));
    CHECK(!lux_h2_name_ok(S("a:b")));
    CHECK(!lux_h2_name_ok(S("x(a)")));
    CHECK(!lux_h2_name_ok(S("x\x7f")));
    CHECK(!lux_h2_name_ok(S("x\xc3\xa9")));
}

/* Every byte value at every place of a value long enough for two words and a tail: the word
 * at a time check must agree with the byte at a time rule. */
static void test_values_every_byte_everywhere(void) {
    uint8_t v[19];
    for (int c = 0; c < 256; c++) {
        int allowed = c == '\t' || (c >= 0x20 && c != 0x7f);
        for (size_t at = 0; at < sizeof v; at++) {
            memset(v, 'a', sizeof v);
            v[at] = (uint8_t)c;
            int ends = at == 0 || at == sizeof v - 1;
            int want = allowed && !(ends && (c == ' ' || c == '\t'));
            if (lux_h2_value_ok(v, sizeof v) != want) {
                CHECK_INT(c * 100 + (int)at, -1); /* names the byte and the place */
                return;
            }
        }
    }
    CHECK(lux_h2_value_ok(S("")));
    CHECK(lux_h2_value_ok(S("a b\tc")));
    CHECK(!lux_h2_value_ok(S(" ")));
}

static void test_pseudo_values(void) {
    CHECK(lux_h2_method_ok(S("GET")));
    CHECK(lux_h2_method_ok(S("M-SEARCH")));
    CHECK(!lux_h2_method_ok(S("")));
    CHECK(!lux_h2_method_ok(S("G T")));
    CHECK(lux_h2_path_ok(S("/a?b=%20&c#d")));
    CHECK(lux_h2_path_ok(S("/\xc3\xa9")));
    CHECK(!lux_h2_path_ok(S("")));
    CHECK(!lux_h2_path_ok(S("/a b")));
    CHECK(!lux_h2_path_ok(S("/a\x7f")));
    CHECK(lux_h2_authority_ok(S("user@[::1]:8080")));
    CHECK(lux_h2_authority_ok(S("example.org")));
    CHECK(!lux_h2_authority_ok(S("a b")));
    CHECK(!lux_h2_authority_ok(S("a/b")));
    CHECK(!lux_h2_authority_ok(S("a\"b")));
}

static void test_kinds(void) {
    CHECK_INT(lux_h2_field_kind(S("connection")), LUX_H2_FIELD_FORBIDDEN);
    CHECK_INT(lux_h2_field_kind(S("keep-alive")), LUX_H2_FIELD_FORBIDDEN);
    CHECK_INT(lux_h2_field_kind(S("proxy-connection")), LUX_H2_FIELD_FORBIDDEN);
    CHECK_INT(lux_h2_field_kind(S("transfer-encoding")), LUX_H2_FIELD_FORBIDDEN);
    CHECK_INT(lux_h2_field_kind(S("upgrade")), LUX_H2_FIELD_FORBIDDEN);
    CHECK_INT(lux_h2_field_kind(S("te")), LUX_H2_FIELD_TE);
    CHECK_INT(lux_h2_field_kind(S("host")), LUX_H2_FIELD_HOST);
    CHECK_INT(lux_h2_field_kind(S("content-length")), LUX_H2_FIELD_CONTENT_LENGTH);
    CHECK_INT(lux_h2_field_kind(S("priority")), LUX_H2_FIELD_PRIORITY);
    CHECK_INT(lux_h2_field_kind(S("content-type")), LUX_H2_FIELD_PLAIN);
    CHECK_INT(lux_h2_field_kind(S("connectiox")), LUX_H2_FIELD_PLAIN);
}

static void test_content_length(void) {
    CHECK(lux_h2_content_length(S("0")) == 0);
    CHECK(lux_h2_content_length(S("1024")) == 1024);
    CHECK(lux_h2_content_length(S("999999999999999999")) == 999999999999999999LL);
    CHECK(lux_h2_content_length(S("1000000000000000000")) == -1);
    CHECK(lux_h2_content_length(S("")) == -1);
    CHECK(lux_h2_content_length(S("1x")) == -1);
    CHECK(lux_h2_content_length(S("-1")) == -1);
    CHECK(lux_h2_content_length(S(" 1")) == -1);
}

static void priority(const char *v, int rc, uint32_t u, int inc) {
    uint32_t gu = 3;
    int ginc = 0;
    CHECK_INT(lux_h2_parse_priority((const uint8_t *)v, strlen(v), &gu, &ginc), rc);
    CHECK_INT((int)gu, (int)u);
    CHECK_INT(ginc, inc);
}

static void test_priority(void) {
    priority("u=1", 0, 1, 0);
    priority("i", 0, 3, 1);
    priority("u=5, i", 0, 5, 1);
    priority("i=?0,u=0", 0, 0, 0);
    priority("i=?1;a=b, x=\"s,t\", y=tok/en, u=7", 0, 7, 1);
    priority("u=8", 0, 3, 0); /* out of range: ignored */
    priority("", 0, 3, 0);
    priority("u=1,", -1, 3, 0);
    priority("U=1", -1, 3, 0);
    priority("u=1 i", -1, 3, 0);
    priority("u=?", -1, 3, 0);
    priority("x=\"open", -1, 3, 0);
}

int main(void) {
    RUN(test_names);
    RUN(test_values_every_byte_everywhere);
    RUN(test_pseudo_values);
    RUN(test_kinds);
    RUN(test_content_length);
    RUN(test_priority);
    T_EXIT();
}
