/* The live dashboard of status.dashboard-url: one HTML page with its style and script inline,
 * served with a Content-Security-Policy that allows exactly those (by their hashes) and fetches
 * from the page's own origin. */
#ifndef LUX_STATUS_DASHBOARD_H
#define LUX_STATUS_DASHBOARD_H

#include <stddef.h>

const char *lux_status_dashboard_page(size_t *len);
/* The policy for the page; NULL when it could not be computed (out of memory). */
const char *lux_status_dashboard_csp(void);

#endif
