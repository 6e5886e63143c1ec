#include "http/range.h"

#include <inttypes.h>

#include "t.h"

#define IGN LUX_RANGE_IGNORE
#define OK LUX_RANGE_OK
#define UNS LUX_RANGE_UNSATISFIABLE

typedef struct {
    const char *value;
    uint64_t size;
    size_t max;
    lux_range_result want;
    const char *ranges; /* "a-b,c-d" for OK */
} range_case;

static void run_table(const range_case *cases, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const range_case *c = &cases[i];
        lux_range r[16];
        size_t n = 99;
        lux_range_result got = lux_range_parse(c->value, strlen(c->value), c->size, r, c->max, &n);
        char buf[512] = "";
        size_t off = 0;
        for (size_t j = 0; got == OK && j < n && off < sizeof buf; j++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%" PRIu64 "-%" PRIu64,
                                    j ? "," : "", r[j].start, r[j].end);
        if (got != c->want || (got == OK && strcmp(buf, c->ranges) != 0) || (got != OK && n != 0)) {
            fprintf(stderr, "  \"%s\" size %" PRIu64 " max %zu: got %d [%s] n=%zu, want %d [%s]\n",
                    c->value, c->size, c->max, got, buf, n, c->want, c->ranges ? c->ranges : "");
            t_failed_now = 1;
        }
    }
}

static void test_forms(void) {
    static const range_case cases[] = {
        {"bytes=0-99", 1000, 8, OK, "0-99"},
        {"bytes=0-0", 1000, 8, OK, "0-0"},
        {"bytes=500-", 1000, 8, OK, "500-999"},
        {"bytes=999-", 1000, 8, OK, "999-999"},
        {"bytes=-100", 1000, 8, OK, "900-999"},
        {"bytes=-1", 1000, 8, OK, "999-999"},
        {"bytes=0-", 1000, 8, OK, "0-999"},
        {"bytes=900-2000", 1000, 8, OK, "900-999"},
        {"bytes=0-999", 1000, 8, OK, "0-999"},
        {"bytes=0-18446744073709551615", 1000, 8, OK, "0-999"},
        {"bytes=-18446744073709551615", 1000, 8, OK, "0-999"},
        {"bytes=-5000", 1000, 8, OK, "0-999"},
        {"bytes=-1000", 1000, 8, OK, "0-999"},
        {"bytes=007-008", 1000, 8, OK, "7-8"},
        {"BYTES=0-1", 1000, 8, OK, "0-1"},
        {"Bytes=0-1", 1000, 8, OK, "0-1"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_lists_and_whitespace(void) {
    static const range_case cases[] = {
        {"bytes=0-1,5-6", 1000, 8, OK, "0-1,5-6"},
        {"bytes=0-1 , 5-6", 1000, 8, OK, "0-1,5-6"},
        {"bytes=0-1\t,\t5-6", 1000, 8, OK, "0-1,5-6"},
        {"bytes=0-1,,5-6", 1000, 8, OK, "0-1,5-6"},
        {"bytes=,0-1", 1000, 8, OK, "0-1"},
        {"bytes=0-1,", 1000, 8, OK, "0-1"},
        {"bytes= 0-1 ", 1000, 8, OK, "0-1"},
        {"bytes=0-1, ,5-6", 1000, 8, OK, "0-1,5-6"},
        {"bytes=", 1000, 8, IGN, NULL},
        {"bytes=,", 1000, 8, IGN, NULL},
        {"bytes= , ", 1000, 8, IGN, NULL},
        {"bytes=0-1 5-6", 1000, 8, IGN, NULL},
        {"bytes=0 -1", 1000, 8, IGN, NULL},
        {"bytes=0- 1", 1000, 8, IGN, NULL},
        {"bytes=0-1;5-6", 1000, 8, IGN, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_ignore(void) {
    static const range_case cases[] = {
        {"", 1000, 8, IGN, NULL},
        {"bytes", 1000, 8, IGN, NULL},
        {"bytes 0-1", 1000, 8, IGN, NULL},
        {"bytes =0-1", 1000, 8, IGN, NULL},
        {"items=0-1", 1000, 8, IGN, NULL},
        {"bytesx=0-1", 1000, 8, IGN, NULL},
        {"bytes=abc", 1000, 8, IGN, NULL},
        {"bytes=-", 1000, 8, IGN, NULL},
        {"bytes=1", 1000, 8, IGN, NULL},
        {"bytes=--1", 1000, 8, IGN, NULL},
        {"bytes=1--2", 1000, 8, IGN, NULL},
        {"bytes=+1-2", 1000, 8, IGN, NULL},
        {"bytes=0x1-2", 1000, 8, IGN, NULL},
        {"bytes=1-2-3", 1000, 8, IGN, NULL},
        {"bytes=0-1,x", 1000, 8, IGN, NULL},
        {"bytes=18446744073709551616-", 1000, 8, IGN, NULL},
        {"bytes=0-18446744073709551616", 1000, 8, IGN, NULL},
        {"bytes=-18446744073709551616", 1000, 8, IGN, NULL},
        {"bytes=0-99999999999999999999999", 1000, 8, IGN, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

/* first > last selects nothing: alone it is a 416 (as lighttpd and nginx answer), beside good
 * specs it is dropped. */
static void test_reversed(void) {
    lux_range rg[8];
    size_t n = 9;
    CHECK_INT(lux_range_parse("bytes=5-4", 9, 1000, rg, 8, &n), LUX_RANGE_UNSATISFIABLE);
    CHECK_INT(lux_range_parse("bytes=5000-4000", 15, 1000, rg, 8, &n), LUX_RANGE_UNSATISFIABLE);
    CHECK_INT(lux_range_parse("bytes=0-1,5-4", 13, 1000, rg, 8, &n), LUX_RANGE_OK);
    CHECK_INT(n, 1);
    CHECK_INT(rg[0].end, 1);
}

static void test_unsatisfiable(void) {
    static const range_case cases[] = {
        {"bytes=1000-", 1000, 8, UNS, NULL},
        {"bytes=1000-1999", 1000, 8, UNS, NULL},
        {"bytes=5000-", 1000, 8, UNS, NULL},
        {"bytes=-0", 1000, 8, UNS, NULL},
        {"bytes=1000-,2000-3000,-0", 1000, 8, UNS, NULL},
        /* One satisfiable spec is enough: the others are dropped. */
        {"bytes=1000-,0-0", 1000, 8, OK, "0-0"},
        {"bytes=-0,-1", 1000, 8, OK, "999-999"},
        {"bytes=18446744073709551615-", 1000, 8, UNS, NULL},
        {"bytes=18446744073709551614-18446744073709551615", 18446744073709551615ULL, 8, OK,
         "18446744073709551614-18446744073709551614"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_empty_body(void) {
    /* Nothing to select in an empty body: the (empty) full response is the answer. */
    static const range_case cases[] = {
        {"bytes=0-", 0, 8, IGN, NULL},  {"bytes=-1", 0, 8, IGN, NULL},
        {"bytes=-0", 0, 8, IGN, NULL},  {"bytes=5-4", 0, 8, IGN, NULL},
        {"bytes=0-0", 1, 8, OK, "0-0"}, {"bytes=-10", 1, 8, OK, "0-0"},
        {"bytes=1-", 1, 8, UNS, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_merge_and_sort(void) {
    static const range_case cases[] = {
        {"bytes=500-599,0-99", 1000, 8, OK, "0-99,500-599"},
        {"bytes=0-99,50-150", 1000, 8, OK, "0-150"},
        {"bytes=0-99,100-199", 1000, 8, OK, "0-199"},
        {"bytes=0-99,101-199", 1000, 8, OK, "0-99,101-199"},
        {"bytes=100-199,0-99", 1000, 8, OK, "0-199"},
        {"bytes=0-0,0-0,0-0,0-0", 1000, 8, OK, "0-0"},
        {"bytes=10-20,12-15", 1000, 8, OK, "10-20"},
        {"bytes=0-,-100", 1000, 8, OK, "0-999"},
        {"bytes=-100,850-899", 1000, 8, OK, "850-999"},
        {"bytes=-100,850-898", 1000, 8, OK, "850-898,900-999"},
        {"bytes=900-950,0-1,5-6,3-4", 1000, 8, OK, "0-1,3-6,900-950"},
        {"bytes=9-9,7-7,5-5,3-3,1-1,0-0,2-2,4-4,6-6,8-8", 1000, 8, OK, "0-9"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_max(void) {
    static const range_case cases[] = {
        {"bytes=0-1,5-6,9-10", 1000, 3, OK, "0-1,5-6,9-10"},
        {"bytes=0-1,5-6,9-10", 1000, 2, IGN, NULL},
        {"bytes=0-1", 1000, 1, OK, "0-1"},
        {"bytes=0-1,5-6", 1000, 1, IGN, NULL},
        /* The cap applies after merging: a later spec may bridge earlier ones. */
        {"bytes=0-1,5-6,2-4", 1000, 1, OK, "0-6"},
        {"bytes=0-1", 1000, 0, IGN, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_spec_limit(void) {
    char buf[LUX_RANGE_SPECS_MAX * 8 + 16];
    size_t off = (size_t)snprintf(buf, sizeof buf, "bytes=");
    for (int i = 0; i < LUX_RANGE_SPECS_MAX; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s0-%d", i ? "," : "", i % 10);
    lux_range r[4];
    size_t n = 0;
    CHECK_INT(lux_range_parse(buf, off, 1000, r, 4, &n), OK);
    CHECK_INT(n, 1);
    CHECK_INT(r[0].end, 9);
    off += (size_t)snprintf(buf + off, sizeof buf - off, ",0-0");
    CHECK_INT(lux_range_parse(buf, off, 1000, r, 4, &n), IGN);
    CHECK_INT(n, 0);
    /* Empty elements do not count against the limit. */
    char commas[2048] = "bytes=0-1";
    memset(commas + 9, ',', 1500);
    commas[1509] = '\0';
    CHECK_INT(lux_range_parse(commas, strlen(commas), 1000, r, 4, &n), OK);
}

static void test_length_bounds_input(void) {
    lux_range r[4];
    size_t n = 0;
    CHECK_INT(lux_range_parse("bytes=0-1,5-6", 9, 1000, r, 4, &n), OK);
    CHECK_INT(n, 1);
    CHECK_INT(r[0].end, 1);
    CHECK_INT(lux_range_parse("bytes=0-1", 5, 1000, r, 4, &n), IGN);
    CHECK_INT(lux_range_parse(NULL, 0, 1000, r, 4, &n), IGN);
}

static void test_boundary(void) {
    char a[33], b[33], c[33];
    lux_range_boundary(1, a);
    lux_range_boundary(1, b);
    lux_range_boundary(2, c);
    CHECK_INT(strlen(a), 32);
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    for (int i = 0; i < 32; i++)
        CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
    lux_range_boundary(0, a);
    CHECK_INT(strlen(a), 32);
}

int main(void) {
    RUN(test_forms);
    RUN(test_lists_and_whitespace);
    RUN(test_ignore);
    RUN(test_reversed);
    RUN(test_unsatisfiable);
    RUN(test_empty_body);
    RUN(test_merge_and_sort);
    RUN(test_max);
    RUN(test_spec_limit);
    RUN(test_length_bounds_input);
    RUN(test_boundary);
    T_EXIT();
}
