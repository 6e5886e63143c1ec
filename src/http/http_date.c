#include "http/http_date.h"

#include <string.h>

/* Names are spelled out here rather than taken from strftime so the C locale never matters. */
static const char wday_short[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char month_short[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The range IMF-fixdate can express: 0000-01-01 00:00:00 to 9999-12-31 23:59:59. */
#define DATE_MIN ((time_t)-62167219200LL)
#define DATE_MAX ((time_t)253402300799LL)

static void put2(char *p, int v) {
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void lux_http_date_format(time_t t, char *out) {
    struct tm tm;
    if (t < DATE_MIN)
        t = DATE_MIN;
    if (t > DATE_MAX)
        t = DATE_MAX;
    if (!gmtime_r(&t, &tm)) {
        /* Cannot happen inside the clamped range; keep the output well-formed regardless. */
        memset(&tm, 0, sizeof tm);
        tm.tm_mday = 1;
        tm.tm_year = 70;
        tm.tm_wday = 4;
    }
    int year = tm.tm_year + 1900;
    memcpy(out, wday_short[tm.tm_wday], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    memcpy(out + 8, month_short[tm.tm_mon], 3);
    out[11] = ' ';
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    memcpy(out + 25, " GMT", 5);
}

static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int month_index(const char *s) {
    for (int i = 0; i < 12; i++)
        if (memcmp(s, month_short[i], 3) == 0)
            return i;
    return -1;
}

static int wday_short_index(const char *s) {
    for (int i = 0; i < 7; i++)
        if (memcmp(s, wday_short[i], 3) == 0)
            return i;
    return -1;
}

/* "HH:MM:SS"; a second of 60 is a leap second (RFC 5322 allows it; timegm folds it). */
static int parse_time(const char *s, struct tm *tm) {
    if (s[2] != ':' || s[5] != ':')
        return -1;
    tm->tm_hour = digits(s, 2);
    tm->tm_min = digits(s + 3, 2);
    tm->tm_sec = digits(s + 6, 2);
    if (tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59 ||
        tm->tm_sec < 0 || tm->tm_sec > 60)
        return -1;
    return 0;
}

static int leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static time_t finish(struct tm *tm, int year) {
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (tm->tm_mon < 0 || tm->tm_mday < 1)
        return -1;
    int max = mdays[tm->tm_mon] + (tm->tm_mon == 1 && leap(year));
    if (tm->tm_mday > max)
        return -1;
    tm->tm_year = year - 1900;
    tm->tm_isdst = 0;
    return timegm(tm);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static time_t parse_imf(const char *s) {
    struct tm tm = {0};
    if (wday_short_index(s) < 0 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    tm.tm_mday = digits(s + 5, 2);
    tm.tm_mon = month_index(s + 8);
    int year = digits(s + 12, 4);
    if (year < 0 || parse_time(s + 17, &tm) < 0)
        return -1;
    return finish(&tm, year);
}

/*
 * RFC 9110 5.6.7: a two-digit year that would lie more than 50 years in the future means the
 * most recent past year with the same last two digits.
 */
static int expand_year(int yy, time_t now) {
    struct tm tm;
    int cur = 2000;
    if (gmtime_r(&now, &tm))
        cur = tm.tm_year + 1900;
    int year = cur - cur % 100 + yy;
    if (year > cur + 50)
        year -= 100;
    else if (year <= cur - 50)
        year += 100;
    return year;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static time_t parse_rfc850(const char *s, size_t len, time_t now) {
    struct tm tm = {0};
    size_t w = 0;
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(wday_long[i]);
        if (len == n + 24 && memcmp(s, wday_long[i], n) == 0) {
            w = n;
            break;
        }
    }
    if (w == 0)
        return -1;
    s += w;
    if (s[0] != ',' || s[1] != ' ' || s[4] != '-' || s[8] != '-' || s[11] != ' ' ||
        memcmp(s + 20, " GMT", 4) != 0)
        return -1;
    tm.tm_mday = digits(s + 2, 2);
    tm.tm_mon = month_index(s + 5);
    int yy = digits(s + 9, 2);
    if (yy < 0 || parse_time(s + 12, &tm) < 0)
        return -1;
    return finish(&tm, expand_year(yy, now));
}

/* "Sun Nov  6 08:49:37 1994"; the day is two digits or a space and one digit. */
static time_t parse_asctime(const char *s) {
    struct tm tm = {0};
    if (wday_short_index(s) < 0 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
        return -1;
    tm.tm_mon = month_index(s + 4);
    tm.tm_mday = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
    int year = digits(s + 20, 4);
    if (year < 0 || parse_time(s + 11, &tm) < 0)
        return -1;
    return finish(&tm, year);
}

time_t lux_http_date_parse_at(const char *s, size_t len, time_t now) {
    if (!s)
        return -1;
    if (len == LUX_HTTP_DATE_LEN && s[3] == ',')
        return parse_imf(s);
    if (len == 24 && s[3] == ' ')
        return parse_asctime(s);
    if (len >= 30 && len <= 33)
        return parse_rfc850(s, len, now);
    return -1;
}

time_t lux_http_date_parse(const char *s, size_t len) {
    return lux_http_date_parse_at(s, len, time(NULL));
}
