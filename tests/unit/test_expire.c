/* The expire.* lifetime grammar. The module is included so its file-local parser is reachable. */
#include "mod/mod_expire.c"

#include "t.h"

static long long offset_of(const char *s, int want_base) {
    int base = -1;
    long long off = -12345;
    char err[200];
    if (expire_parse(s, &base, &off, err, sizeof err) < 0) {
        fprintf(stderr, "  unexpected error for \"%s\": %s\n", s, err);
        return -99999;
    }
    CHECK_INT(base, want_base);
    return off;
}

static int rejects(const char *s) {
    int base = -1;
    long long off = 0;
    char err[200] = "";
    int bad = expire_parse(s, &base, &off, err, sizeof err) < 0;
    if (bad && !err[0])
        fprintf(stderr, "  no message for \"%s\"\n", s);
    return bad && err[0];
}

static void test_bases(void) {
    CHECK_INT(offset_of("access plus 1 days", EXPIRE_ACCESS), 86400);
    CHECK_INT(offset_of("now plus 1 days", EXPIRE_ACCESS), 86400);
    CHECK_INT(offset_of("modification plus 1 days", EXPIRE_MODIFICATION), 86400);
}

static void test_plus_is_optional(void) {
    CHECK_INT(offset_of("access 2 hours", EXPIRE_ACCESS), 7200);
    CHECK_INT(offset_of("modification 30 seconds", EXPIRE_MODIFICATION), 30);
}

static void test_units_singular_and_plural(void) {
    static const struct {
        const char *s;
        long long want;
    } cases[] = {
        {"access plus 1 years", 31536000}, {"access plus 1 year", 31536000},
        {"access plus 1 months", 2592000}, {"access plus 1 month", 2592000},
        {"access plus 2 weeks", 1209600},  {"access plus 1 week", 604800},
        {"access plus 1 days", 86400},     {"access plus 1 day", 86400},
        {"access plus 1 hours", 3600},     {"access plus 1 hour", 3600},
        {"access plus 5 minutes", 300},    {"access plus 1 minute", 60},
        {"access plus 7 seconds", 7},      {"access plus 1 second", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_INT(offset_of(cases[i].s, EXPIRE_ACCESS), cases[i].want);
}

static void test_several_terms(void) {
    CHECK_INT(offset_of("access plus 1 days 2 hours", EXPIRE_ACCESS), 93600);
    CHECK_INT(offset_of("access plus 1 years 1 months 1 weeks 1 days 1 hours 1 minutes 1 seconds",
                        EXPIRE_ACCESS),
              31536000 + 2592000 + 604800 + 86400 + 3600 + 60 + 1);
    CHECK_INT(offset_of("access plus 1 hours 1 hours", EXPIRE_ACCESS), 7200);
}

/* Number forms lighttpd's strtol-based reading accepts, kept for compatibility. */
static void test_lenient_numbers(void) {
    CHECK_INT(offset_of("access plus -1 days", EXPIRE_ACCESS), -86400);
    CHECK_INT(offset_of("access plus +3 seconds", EXPIRE_ACCESS), 3);
    CHECK_INT(offset_of("access plus 007 seconds", EXPIRE_ACCESS), 7);
    CHECK_INT(offset_of("access plus 1 days ", EXPIRE_ACCESS), 86400);
    CHECK_INT(offset_of("access plus  days", EXPIRE_ACCESS), 0);
}

static void test_huge_numbers_saturate(void) {
    long long off = offset_of("access plus 99999999999999999999 years", EXPIRE_ACCESS);
    CHECK(off > 0 && off <= EXPIRE_MAX);
    off = offset_of("access plus -99999999999999999999 years", EXPIRE_ACCESS);
    CHECK(off < 0 && off >= -EXPIRE_MAX);
    off =
        offset_of("access plus 2147483647 years 2147483647 years 2147483647 years", EXPIRE_ACCESS);
    CHECK(off > 0 && off <= EXPIRE_MAX);
}

static void test_rejected(void) {
    static const char *const bad[] = {
        "",
        "access",
        "access ",
        "access plus",
        "access plus ",
        "access plus 1",
        "access plus 1 ",
        "Access plus 1 days",
        "later plus 1 days",
        "access plus 1 fortnights",
        "access plus 1days",
        "access plus 1 dayss",
        "access plus 1 s",
        "access plus 1 DAYS",
        "access plus  1 days",
        "access  plus 1 days",
        "access plus 1 days 2",
        "access plus 1 days, 2 hours",
        "access plus 0x10 seconds",
        "access plus x days",
        "access plus 1.5 days",
        "access plus 1 days  2 hours",
        "access\tplus 1 days",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!rejects(bad[i])) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            t_failed_now = 1;
        }
}

static void test_messages_name_the_problem(void) {
    int base;
    long long off;
    char err[200];
    CHECK(expire_parse("access plus 1 fortnights", &base, &off, err, sizeof err) < 0);
    CHECK(strstr(err, "fortnights") != NULL);
    CHECK(expire_parse("soon plus 1 days", &base, &off, err, sizeof err) < 0);
    CHECK(strstr(err, "<base>") != NULL);
}

int main(void) {
    RUN(test_bases);
    RUN(test_plus_is_optional);
    RUN(test_units_singular_and_plural);
    RUN(test_several_terms);
    RUN(test_lenient_numbers);
    RUN(test_huge_numbers_saturate);
    RUN(test_rejected);
    RUN(test_messages_name_the_problem);
    T_EXIT();
}
