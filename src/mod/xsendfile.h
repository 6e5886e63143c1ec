/*
 * X-Sendfile, as every gateway that allows it (cgi.x-sendfile, the "x-sendfile" option of
 * fastcgi.server, scgi.server and proxy.server) answers it, following lighttpd 1.4: a backend
 * response with `X-Sendfile: /path` (from FastCGI also `X-LIGHTTPD-send-file`, its older
 * name, which lighttpd honours from FastCGI backends only) is answered with that file,
 * served as a static file (mod/staticfile_send.h), with the backend's status and other headers
 * and without its body.
 */
#ifndef LUX_XSENDFILE_H
#define LUX_XSENDFILE_H

#include "lux/req.h"

/* Does a backend's response field name X-Sendfile (or, with older_name, X-LIGHTTPD-send-file)? */
int lux_xsendfile_field(const char *name, size_t nlen, int older_name);

/*
 * Answer r with the file value[0, vlen) names, as the backend sent it: %-decoded, its dot
 * segments resolved. It must be absolute, under one of docroot's directories (NULL or empty:
 * anywhere) and a regular file: otherwise the answer is 403 (404 when it does not exist, 502
 * when it cannot be decoded), with an error-log line that names module. Returns what a handler
 * returns.
 */
lux_result lux_xsendfile_answer(lux_req *r, const char *module, const char *value, size_t vlen,
                                const lux_strlist *docroot);

#endif
