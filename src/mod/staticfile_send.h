/*
 * A file answered as mod_staticfile answers it, for the handlers that serve a file a backend
 * named (X-Sendfile): validators (ETag as static-file.etags says, Last-Modified), the
 * conditional request headers, Accept-Ranges and single or multipart ranges, Content-Type by
 * mimetype.assign, and the body from the stat cache's memory or with sendfile.
 */
#ifndef LUX_STATICFILE_SEND_H
#define LUX_STATICFILE_SEND_H

#include "http/stat_cache.h"
#include "lux/req.h"

/*
 * Answer r with the regular file f, named name (its suffix picks the Content-Type). With
 * from_backend the status and headers a backend set stay: its Content-Type wins over the
 * suffix's, and a 304 keeps its headers. Returns what a handler returns.
 */
lux_result lux_static_answer(lux_req *r, lux_file *f, const lux_str *name, int from_backend);

#endif
