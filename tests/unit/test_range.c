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
        {"bytes=0-99", 1000, 10, OK, "0-99"},
        {"bytes=0-0", 1000, 10, OK, "0-0"},
        {"bytes=500-", 1000, 10, OK, "500-999"},
        {"bytes=999-", 1000, 10, OK, "999-999"},
        {"bytes=-100", 1000, 10, OK, "900-999"},
        {"bytes=-1", 1000, 10, OK, "999-999"},
        {"bytes=0-", 1000, 10, OK, "0-999"},
        {"bytes=900-2000", 1000, 10, OK, "900-999"},
        {"bytes=0-999", 1000, 10, OK, "0-999"},
        {"bytes=0-9223372036854775806", 1000, 10, OK, "0-999"},
        {"bytes=-9223372036854775807", 1000, 10, OK, "0-999"},
        {"bytes=-5000", 1000, 10, OK, "0-999"},
        {"bytes=-1000", 1000, 10, OK, "0-999"},
        {"bytes=007-008", 1000, 10, OK, "7-8"},
        {"BYTES=0-1", 1000, 10, OK, "0-1"},
        {"Bytes=0-1", 1000, 10, OK, "0-1"},
        /* lighttpd reads numbers with strtoll: a '+' sign is accepted */
        {"bytes=+1-2", 1000, 10, OK, "1-2"},
        {"bytes=1-+2", 1000, 10, OK, "1-2"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_lists_and_whitespace(void) {
    static const range_case cases[] = {
        {"bytes=0-1,500-600", 1000, 10, OK, "0-1,500-600"},
        {"bytes=0-1 , 500-600", 1000, 10, OK, "0-1,500-600"},
        {"bytes=0-1\t,\t500-600", 1000, 10, OK, "0-1,500-600"},
        {"bytes=0-1,,500-600", 1000, 10, OK, "0-1,500-600"},
        {"bytes=,0-1", 1000, 10, OK, "0-1"},
        {"bytes=0-1,", 1000, 10, OK, "0-1"},
        {"bytes= 0-1 ", 1000, 10, OK, "0-1"},
        {"bytes=0 -1", 1000, 10, OK, "0-1"},
        {"bytes=0- 1", 1000, 10, OK, "0-1"},
        {"bytes=1 - 2", 1000, 10, OK, "1-2"},
        {"bytes= -5", 1000, 10, OK, "995-999"},
        {"bytes=0- ,500-600", 1000, 10, OK, "0-999"},
        {"bytes=0-1, ,500-600", 1000, 10, OK, "0-1,500-600"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

/* Only a unit other than bytes (or an empty body, below) makes the header ignored. */
static void test_ignore(void) {
    static const range_case cases[] = {
        {"", 1000, 10, IGN, NULL},          {"bytes", 1000, 10, IGN, NULL},
        {"bytes 0-1", 1000, 10, IGN, NULL}, {"bytes =0-1", 1000, 10, IGN, NULL},
        {"items=0-1", 1000, 10, IGN, NULL}, {"bytesx=0-1", 1000, 10, IGN, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

/* A malformed spec is skipped; with no valid spec left the answer is 416, as lighttpd gives. */
static void test_invalid_specs(void) {
    static const range_case cases[] = {
        {"bytes=", 1000, 10, UNS, NULL},
        {"bytes=,", 1000, 10, UNS, NULL},
        {"bytes= , ", 1000, 10, UNS, NULL},
        {"bytes=abc", 1000, 10, UNS, NULL},
        {"bytes=-", 1000, 10, UNS, NULL},
        {"bytes=1", 1000, 10, UNS, NULL},
        {"bytes=0--", 1000, 10, UNS, NULL},
        {"bytes=-2-3", 1000, 10, UNS, NULL},
        {"bytes=--1", 1000, 10, UNS, NULL},
        {"bytes=1--2", 1000, 10, UNS, NULL},
        {"bytes=1- -2", 1000, 10, UNS, NULL},
        {"bytes=- 5", 1000, 10, UNS, NULL},
        {"bytes=-+5", 1000, 10, UNS, NULL},
        {"bytes=+-5", 1000, 10, UNS, NULL},
        {"bytes=0x1-2", 1000, 10, UNS, NULL},
        {"bytes=1-0x5", 1000, 10, UNS, NULL},
        {"bytes=1-2-3", 1000, 10, UNS, NULL},
        {"bytes=0-1;5-6", 1000, 10, UNS, NULL},
        {"bytes=0-1 5-6", 1000, 10, UNS, NULL},
        {"bytes=5-4", 1000, 10, UNS, NULL},
        {"bytes=-0", 1000, 10, UNS, NULL},
        {"bytes=0-9223372036854775807", 1000, 10, UNS, NULL},
        {"bytes=-9223372036854775808", 1000, 10, UNS, NULL},
        {"bytes=0-99999999999999999999999", 1000, 10, UNS, NULL},
        {"bytes=18446744073709551616-", 1000, 10, UNS, NULL},
        /* the valid specs beside them stay */
        {"bytes=0-1,x", 1000, 10, OK, "0-1"},
        {"bytes=x,x,x,x,x,x,x,x,x,x,x,x,0-1", 1000, 2, OK, "0-1"},
        {"bytes=0-1,5-4", 1000, 10, OK, "0-1"},
        {"bytes=-0,-1", 1000, 10, OK, "999-999"},
        {"bytes=0--,500-600", 1000, 10, OK, "500-600"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_unsatisfiable(void) {
    static const range_case cases[] = {
        {"bytes=1000-", 1000, 10, UNS, NULL},
        {"bytes=1000-1999", 1000, 10, UNS, NULL},
        {"bytes=5000-", 1000, 10, UNS, NULL},
        {"bytes=1000-,2000-3000,-0", 1000, 10, UNS, NULL},
        {"bytes=1000-,0-0", 1000, 10, OK, "0-0"},
        {"bytes=9223372036854775806-", 1000, 10, UNS, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

static void test_empty_body(void) {
    /* Nothing to select in an empty body: the (empty) full response is the answer. */
    static const range_case cases[] = {
        {"bytes=0-", 0, 10, IGN, NULL},  {"bytes=-1", 0, 10, IGN, NULL},
        {"bytes=-0", 0, 10, IGN, NULL},  {"bytes=5-4", 0, 10, IGN, NULL},
        {"bytes=0-0", 1, 10, OK, "0-0"}, {"bytes=-10", 1, 10, OK, "0-0"},
        {"bytes=1-", 1, 10, UNS, NULL},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

/* Overlapping ranges and ranges at most LUX_RANGE_JOIN_GAP bytes apart become one, in the
 * place of the earlier; the header's order is otherwise kept. */
static void test_join_near(void) {
    static const range_case cases[] = {
        {"bytes=0-1,3-4", 6, 10, OK, "0-4"},
        {"bytes=3-4,0-1", 6, 10, OK, "0-4"},
        {"bytes=0-0,2-2", 6, 10, OK, "0-2"},
        {"bytes=0-9,89-99", 1000, 10, OK, "0-99"},
        {"bytes=0-9,90-99", 1000, 10, OK, "0-9,90-99"},
        {"bytes=89-99,0-9", 1000, 10, OK, "0-99"},
        {"bytes=90-99,0-9", 1000, 10, OK, "90-99,0-9"},
        {"bytes=200-299,0-9", 1000, 10, OK, "200-299,0-9"},
        {"bytes=0-99,50-150", 1000, 10, OK, "0-150"},
        {"bytes=10-20,12-15", 1000, 10, OK, "10-20"},
        {"bytes=0-0,0-0,0-0,0-0", 1000, 10, OK, "0-0"},
        {"bytes=0-,-100", 1000, 10, OK, "0-999"},
        {"bytes=100-199,0-9,50-60", 1000, 10, OK, "0-199"},
        {"bytes=200-300,100-150,120-400", 1000, 10, OK, "100-400"},
        {"bytes=0-1,1000-2000,50-60", 5000, 10, OK, "0-60,1000-2000"},
        {"bytes=900-950,0-1,500-510", 1000, 10, OK, "900-950,0-1,500-510"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

/* The first max valid specs count; later ones are ignored, not a reason to drop the header. */
static void test_max(void) {
    static const range_case cases[] = {
        {"bytes=0-1,500-600,900-910", 1000, 3, OK, "0-1,500-600,900-910"},
        {"bytes=0-1,500-600,900-910", 1000, 2, OK, "0-1,500-600"},
        {"bytes=0-1,500-600", 1000, 1, OK, "0-1"},
        {"bytes=x,500-600,0-1", 1000, 1, OK, "500-600"},
        /* a spec past the limit does not join earlier ones */
        {"bytes=0-0,1000-1000,2000-2000,3000-3000,4000-4000,5000-5000,6000-6000,7000-7000,"
         "8000-8000,9000-9000,1-1",
         10240, LUX_RANGE_MAX, OK,
         "0-0,1000-1000,2000-2000,3000-3000,4000-4000,5000-5000,6000-6000,7000-7000,8000-8000,"
         "9000-9000"},
    };
    run_table(cases, sizeof cases / sizeof *cases);
}

/* A long header costs one pass: empty and invalid elements are skipped without a limit. */
static void test_long_header(void) {
    char buf[4096] = "bytes=";
    memset(buf + 6, ',', 3000);
    strcpy(buf + 3006, "0-1");
    lux_range r[LUX_RANGE_MAX];
    size_t n = 0;
    CHECK_INT(lux_range_parse(buf, strlen(buf), 1000, r, LUX_RANGE_MAX, &n), OK);
    CHECK_INT(n, 1);
    CHECK_INT(r[0].end, 1);
}

static void test_length_bounds_input(void) {
    lux_range r[4];
    size_t n = 0;
    CHECK_INT(lux_range_parse("bytes=0-1,500-600", 9, 1000, r, 4, &n), OK);
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
    RUN(test_invalid_specs);
    RUN(test_unsatisfiable);
    RUN(test_empty_body);
    RUN(test_join_near);
    RUN(test_max);
    RUN(test_long_header);
    RUN(test_length_bounds_input);
    RUN(test_boundary);
    T_EXIT();
}
