#include "http/http_date.h"

#include "t.h"

/* 2025-06-01 00:00:00 UTC: the "now" the two-digit-year cases are resolved against. */
#define NOW ((time_t)1748736000)

static time_t parse(const char *s) {
    return lux_http_date_parse_at(s, strlen(s), NOW);
}

static void test_format_known(void) {
    char buf[LUX_HTTP_DATE_LEN + 1];
    lux_http_date_format(784111777, buf);
    CHECK_STR(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_INT(strlen(buf), LUX_HTTP_DATE_LEN);
    lux_http_date_format(0, buf);
    CHECK_STR(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    lux_http_date_format(951782400, buf);
    CHECK_STR(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
    lux_http_date_format(2147483647, buf);
    CHECK_STR(buf, "Tue, 19 Jan 2038 03:14:07 GMT");
    lux_http_date_format(-1, buf);
    CHECK_STR(buf, "Wed, 31 Dec 1969 23:59:59 GMT");
}

static void test_format_clamps(void) {
    char buf[LUX_HTTP_DATE_LEN + 1];
    lux_http_date_format((time_t)1 << 50, buf);
    CHECK_STR(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    lux_http_date_format(-((time_t)1 << 50), buf);
    CHECK_STR(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
}

static void test_three_forms(void) {
    CHECK_INT(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    CHECK_INT(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    CHECK_INT(parse("Sun Nov  6 08:49:37 1994"), 784111777);
    CHECK_INT(parse("Sun Nov 06 08:49:37 1994"), 784111777);
    CHECK_INT(parse("Wednesday, 09-Nov-94 08:49:37 GMT"), 784111777 + 3 * 86400);
    CHECK_INT(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_INT(parse("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600);
}

static void test_round_trip(void) {
    static const time_t samples[] = {0,          1,          59,          86399,       86400,
                                     784111777,  951782400,  1234567890,  1700000000,  2147483647,
                                     4102444800, 4107542400, 32503679999, 253402300799};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        char buf[LUX_HTTP_DATE_LEN + 1];
        lux_http_date_format(samples[i], buf);
        CHECK_INT(lux_http_date_parse(buf, strlen(buf)), samples[i]);
    }
    /* A sweep of one value per ~10 days across 1970..2100 catches month and leap edges. */
    for (time_t t = 0; t < 4102444800; t += 863999) {
        char buf[LUX_HTTP_DATE_LEN + 1];
        lux_http_date_format(t, buf);
        if (lux_http_date_parse(buf, strlen(buf)) != t) {
            CHECK_INT(lux_http_date_parse(buf, strlen(buf)), t);
            break;
        }
    }
}

static void test_two_digit_year(void) {
    /* Relative to 2025: up to 2075 is the future, anything later is the previous century. */
    CHECK_INT(parse("Wednesday, 01-Jan-70 00:00:00 GMT"), 3155760000LL);
    CHECK_INT(parse("Tuesday, 01-Jan-75 00:00:00 GMT"), 3313526400LL);
    CHECK_INT(parse("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);
    CHECK_INT(parse("Sunday, 01-Jan-73 00:00:00 GMT"), 3250454400LL);
    CHECK_INT(parse("Thursday, 01-Jan-76 00:00:00 GMT"), 189302400);
    CHECK_INT(parse("Monday, 01-Jan-35 00:00:00 GMT"), 2051222400LL);
    /* 2099 decides differently: "00" is then 2100, not 2000. */
    CHECK_INT(lux_http_date_parse_at("Friday, 01-Jan-00 00:00:00 GMT", 30, 4070908800LL),
              4102444800LL);
}

static void test_field_validation(void) {
    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 GM",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 6  Nov 1994 08:49:37 GMT",
        "Sun,  6 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 29 Feb 2023 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov 19x4 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37  GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:3  GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sundae, 06-Nov-94 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 31-Apr-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov   6 08:49:37 1994",
        "Sun Nov  0 08:49:37 1994",
        "Sun Nov 6  08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
        "Sun Nov  6 25:49:37 1994",
        "Sun Nov  6 08:49:37 GMT1",
        "Sun Nov 31 08:49:37 1994",
        "1994-11-06T08:49:37Z",
        "784111777",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parse(bad[i]) != -1) {
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_INT(lux_http_date_parse(NULL, 0), -1);
    /* The length, not a NUL, bounds the input. */
    CHECK_INT(lux_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMTxyz", 29), 784111777);
    CHECK_INT(lux_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28), -1);
}

static void test_leap_second(void) {
    /* RFC 5322 lets a second be 60; it folds into the next minute. */
    CHECK_INT(parse("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
}

int main(void) {
    RUN(test_format_known);
    RUN(test_format_clamps);
    RUN(test_three_forms);
    RUN(test_round_trip);
    RUN(test_two_digit_year);
    RUN(test_field_validation);
    RUN(test_leap_second);
    T_EXIT();
}
