/* HTTP dates (RFC 9110 5.6.7): format IMF-fixdate, parse all three historic forms. */
#ifndef LUX_HTTP_DATE_H
#define LUX_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define LUX_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Write the IMF-fixdate for t into out (at least LUX_HTTP_DATE_LEN + 1 bytes, NUL-terminated).
 * Times outside the years 0000-9999 are clamped to that range. Locale-independent. */
void lux_http_date_format(time_t t, char *out);
/*
 * Parse IMF-fixdate, RFC 850 or asctime forms; returns -1 when s is not a valid date. Strict:
 * exact layout, case-sensitive names, no surrounding whitespace, real calendar days, seconds
 * 00-60. The weekday name must be valid but is not checked against the date (as most servers).
 * A two-digit RFC 850 year more than 50 years ahead of now means the previous century.
 */
time_t lux_http_date_parse(const char *s, size_t len);
/* The same, with the two-digit RFC 850 year resolved against `now` instead of the clock. */
time_t lux_http_date_parse_at(const char *s, size_t len, time_t now);

#endif
