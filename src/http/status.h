/* Status codes: reason phrases and the built-in error page. */
#ifndef LUX_STATUS_H
#define LUX_STATUS_H

#include <stddef.h>

/* "Not Found" for 404; "Unknown" for codes without a registered phrase. */
const char *lux_status_reason(int status);

/*
 * Write the small HTML body lux sends for an error status (like lighttpd's) into out.
 * Returns its length (truncated to cap - 1; always NUL-terminated).
 */
size_t lux_status_page(int status, char *out, size_t cap);

/*
 * The same page for a status with a registered phrase, rendered once per process and shared by
 * every thread (an error answer then costs no formatting); its length in *len. NULL for other
 * codes, or when memory ran out: render it with lux_status_page then.
 */
const char *lux_status_page_shared(int status, size_t *len);

#endif
