/*
 * CGI response-head fuzzing: whatever a backend writes, a head that parses hands on only
 * fields a response may carry (token names, values without CR, LF or NUL), a status that is
 * absent or from 100 to 599, and a Location that points into the head.
 */
#include "http/cgi_headers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    size_t max = size > 64 ? size - 16 : size + 1;
    long end = lux_cgi_head_end(buf, size, max);
    if (end > (long)size || end > (long)max)
        abort();
    if (end <= 0)
        return 0;
    if (buf[end - 1] != '\n')
        abort();
    lux_cgi_head h;
    if (lux_cgi_head_parse(buf, (size_t)end, &h, check_field, (void *)(buf + end)) < 0)
        return 0;
    if (h.status != 0 && (h.status < 100 || h.status > 599))
        abort();
    if (h.location.ptr && (h.location.ptr < buf || h.location.ptr + h.location.len > buf + end))
        abort();
    return 0;
}
