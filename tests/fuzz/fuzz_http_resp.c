/*
 * Backend response-head fuzzing: whatever a backend writes, a head that parses has a status
 * from 100 to 599, a length that is -1 or not negative (and -1 when chunked), and hands on only
 * fields with token names and values without CR, LF or NUL, none of them hop-by-hop.
 */
#include "upstream/http_resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "http/h1/charclass.h"

static int check_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen) {
    const char *end = arg;
    if (!nlen || name + nlen > end || value + vlen > end)
        abort();
    for (size_t i = 0; i < nlen; i++)
        if (!IS_TCHAR(name[i]))
            abort();
    for (size_t i = 0; i < vlen; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
            abort();
    if ((nlen == 10 && !strncasecmp(name, "Connection", 10)) ||
        (nlen == 17 && !strncasecmp(name, "Transfer-Encoding", 17)) ||
        (nlen == 14 && !strncasecmp(name, "Content-Length", 14)))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    long end = lux_cgi_head_end(buf, size, size + 1);
    if (end <= 0)
        return 0;
    lux_http_resp h;
    if (lux_http_resp_parse(buf, (size_t)end, &h, check_field, (void *)(buf + end)) < 0)
        return 0;
    if (h.status < 100 || h.status > 599 || h.content_length < -1 ||
        (h.chunked && h.content_length != -1))
        abort();
    return 0;
}
