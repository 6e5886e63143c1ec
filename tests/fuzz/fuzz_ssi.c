/*
 * Server-side include syntax on arbitrary bytes. Directives: every one found lies inside the
 * input, after the previous one, with its command and attributes inside its own span, and
 * attribute values unescape into no more bytes than they hold. Expressions: the input's first
 * line is evaluated with two variables; the result is 1, 0 or -1 and the same every time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mod/ssi_parse.h"

static int inside(const char *p, size_t n, const char *lo, const char *hi) {
    return p >= lo && p + n <= hi;
}

static void check_directives(const char *doc, size_t len) {
    size_t pos = 0;
    char buf[256];
    while (pos < len) {
        size_t start, end;
        ssi_directive d;
        ssi_found f = ssi_next(doc + pos, len - pos, &start, &end, &d);
        if (f == SSI_NONE)
            return;
        if (start >= end || end > len - pos)
            abort();
        const char *lo = doc + pos + start, *hi = doc + pos + end;
        if (f == SSI_DIRECTIVE) {
            if (!d.cmd_len || !inside(d.cmd, d.cmd_len, lo, hi) || d.nattrs > SSI_MAX_ATTRS)
                abort();
            for (size_t i = 0; i < d.nattrs; i++) {
                const ssi_attr *a = &d.attrs[i];
                if (!inside(a->name, a->name_len, lo, hi) ||
                    !inside(a->value, a->value_len, lo, hi))
                    abort();
                long n = ssi_unescape(a->value, a->value_len, buf, sizeof buf);
                if (n > (long)a->value_len || (n >= 0 && buf[n] != '\0'))
                    abort();
            }
        }
        pos += end;
    }
}

static int lookup(void *ctx, const char *name, size_t len, const char **val, size_t *vlen) {
    if (len == 1 && (name[0] == 'A' || name[0] == 'B')) {
        *val = name[0] == 'A' ? "abc" : "";
        *vlen = strlen(*val);
        return 0;
    }
    return -1;
}

static void check_expr(const char *data, size_t len) {
    const char *nl = memchr(data, '\n', len);
    size_t n = nl ? (size_t)(nl - data) : len;
    char scratch[512];
    int a = ssi_expr_eval(data, n, lookup, NULL, scratch, sizeof scratch);
    int b = ssi_expr_eval(data, n, lookup, NULL, scratch, sizeof scratch);
    if (a != b || a < -1 || a > 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_directives((const char *)data, size);
    check_expr((const char *)data, size);
    return 0;
}
