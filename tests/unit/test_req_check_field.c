/*
 * lux_req_check_field: which fields it takes for Host and Content-Length. Names are matched
 * in any case, as strncasecmp would, but only letters fold: a byte that differs from a
 * letter or a '-' only in the case bit is another name.
 */
#include <string.h>
#include <strings.h>

#include "http/request.h"

#include "t.h"

static lux_req new_req(void) {
    lux_req r;
    memset(&r, 0, sizeof r);
    r.content_length = -1;
    return r;
}

static lux_header field(const char *name, size_t nlen, const char *value) {
    return (lux_header){{name, nlen}, {value, strlen(value)}};
}

/* Is name (nlen bytes) taken as the Host field? */
static int taken_as_host(const char *name, size_t nlen) {
    lux_req r = new_req();
    lux_header f = field(name, nlen, "example.com");
    const lux_header *host = NULL;
    return lux_req_check_field(&r, &f, &host) == 0 && host == &f;
}

/* Is name (nlen bytes) taken as Content-Length (value 7)? */
static int taken_as_length(const char *name, size_t nlen) {
    lux_req r = new_req();
    lux_header f = field(name, nlen, "7");
    const lux_header *host = NULL;
    return lux_req_check_field(&r, &f, &host) == 0 && r.content_length == 7;
}

static void test_names_in_any_case(void) {
    static const char *hosts[] = {"host", "Host", "HOST", "hOsT"};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++)
        CHECK(taken_as_host(hosts[i], 4));
    static const char *lengths[] = {"content-length", "Content-Length", "CONTENT-LENGTH",
                                    "cOnTeNt-LeNgTh"};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++)
        CHECK(taken_as_length(lengths[i], 14));
}

/* Every byte of the names changed alone, to each of the 255 other values: taken exactly when
 * strncasecmp calls the result the same name (only a letter's other case). */
static void test_one_byte_off_is_another_name(void) {
    static const char *names[] = {"host", "content-length"};
    for (size_t k = 0; k < 2; k++) {
        size_t len = strlen(names[k]);
        for (size_t i = 0; i < len; i++) {
            for (int b = 0; b < 256; b++) {
                char n[16];
                memcpy(n, names[k], len);
                n[i] = (char)b;
                int same = strncasecmp(n, names[k], len) == 0;
                int taken = k == 0 ? taken_as_host(n, len) : taken_as_length(n, len);
                if (taken != same)
                    fprintf(stderr, "  %s: byte %zu = 0x%02x taken %d\n", names[k], i, b, taken);
                CHECK(taken == same);
            }
        }
    }
}

/* CR differs from '-' in the case bit alone: folding it as a letter's would take it. */
static void test_case_bit_only_folds_letters(void) {
    CHECK(!taken_as_length("content\rlength", 14));
    CHECK(!taken_as_length("Content\rLength", 14));
}

static void test_other_lengths_and_names(void) {
    CHECK(!taken_as_host("hos", 3));
    CHECK(!taken_as_host("hosts", 5));
    CHECK(!taken_as_host("x-host", 6));
    CHECK(!taken_as_length("content-lengt", 13));
    CHECK(!taken_as_length("content-lengths", 15));
    CHECK(!taken_as_length("content_length", 14));
    CHECK(!taken_as_length("content-type", 12));
}

static void test_second_host_and_length_mismatch(void) {
    lux_req r = new_req();
    lux_header a = field("Host", 4, "a"), b = field("host", 4, "b");
    const lux_header *host = NULL;
    CHECK_INT(lux_req_check_field(&r, &a, &host), 0);
    CHECK_INT(lux_req_check_field(&r, &b, &host), 400);
    lux_header l1 = field("Content-Length", 14, "5"), l2 = field("content-length", 14, "6");
    CHECK_INT(lux_req_check_field(&r, &l1, &host), 0);
    CHECK_INT(lux_req_check_field(&r, &l2, &host), 400);
}

int main(void) {
    RUN(test_names_in_any_case);
    RUN(test_one_byte_off_is_another_name);
    RUN(test_case_bit_only_folds_letters);
    RUN(test_other_lengths_and_names);
    RUN(test_second_host_and_length_mismatch);
    T_EXIT();
}
