/*
 * FastCGI response fuzzing: whatever a backend sends, fed in pieces of every size, the parser
 * takes every byte before asking for more, hands out data only from inside the input, and
 * ends at most once with the same result however the input was cut.
 */
#include "upstream/fcgi.h"

#include <stdint.h>
#include <stdlib.h>

/* The events of data fed step bytes at a time, hashed; -1 when it failed. */
static uint64_t run(const uint8_t *data, size_t size, size_t step) {
    lux_fcgi_parser p;
    lux_fcgi_parser_init(&p, 1);
    uint64_t h = 1469598103934665603ull;
    for (size_t pos = 0; pos < size;) {
        size_t n = size - pos < step ? size - pos : step, off = 0;
        while (off < n) {
            size_t used = 0;
            const char *buf = (const char *)data + pos + off;
            lux_fcgi_ev ev = lux_fcgi_parse(&p, buf, n - off, &used);
            if (used > n - off)
                abort();
            off += used;
            if (ev == LUX_FCGI_EV_MORE && off != n)
                abort();
            if (ev == LUX_FCGI_EV_STDOUT || ev == LUX_FCGI_EV_STDERR) {
                if (p.data < buf || p.data + p.len > buf + used)
                    abort();
                for (size_t i = 0; i < p.len; i++)
                    h = (h ^ (uint8_t)p.data[i] ^ (uint64_t)ev << 8) * 1099511628211ull;
            }
            if (ev == LUX_FCGI_EV_END)
                return h ^ p.app_status ^ (uint64_t)p.protocol_status << 32;
            if (ev == LUX_FCGI_EV_ERROR)
                return (uint64_t)-1;
        }
        pos += n;
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t whole = run(data, size, size ? size : 1);
    if (run(data, size, 1) != whole || run(data, size, 7) != whole)
        abort();
    return 0;
}
