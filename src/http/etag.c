#include "http/etag.h"

#include <string.h>

/* FNV-1a over the bytes of v, then the caller finishes with an avalanche step. */
static uint64_t mix(uint64_t h, unsigned char tag, uint64_t v) {
    h = (h ^ tag) * 0x100000001b3ULL;
    for (int i = 0; i < 8; i++) {
        h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
        v >>= 8;
    }
    return h;
}

size_t lux_etag_make(char *out, unsigned flags, uint64_t ino, time_t mtime, long mtime_nsec,
                     uint64_t size) {
    static const char hex[] = "0123456789abcdef";
    if (!(flags & (LUX_ETAG_USE_INODE | LUX_ETAG_USE_MTIME | LUX_ETAG_USE_SIZE)))
        return 0;
    /* Each field is tagged so that, say, inode 5 alone and size 5 alone differ. */
    uint64_t h = 0xcbf29ce484222325ULL;
    if (flags & LUX_ETAG_USE_INODE)
        h = mix(h, 'i', ino);
    if (flags & LUX_ETAG_USE_MTIME) {
        h = mix(h, 'm', (uint64_t)(int64_t)mtime);
        h = mix(h, 'n', (uint64_t)(int64_t)mtime_nsec);
    }
    if (flags & LUX_ETAG_USE_SIZE)
        h = mix(h, 's', size);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    out[0] = '"';
    for (int i = 0; i < 16; i++)
        out[1 + i] = hex[(h >> (60 - 4 * i)) & 15];
    out[17] = '"';
    out[18] = '\0';
    return 18;
}

static int is_ows(char c) {
    return c == ' ' || c == '\t';
}

/* etagc = %x21 / %x23-7E / obs-text */
static int is_etagc(unsigned char c) {
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/*
 * One entity-tag starting at *pos: sets *weak and the opaque-tag's bytes (quotes included) in
 * [*op, *op + *oplen). Returns 0, or -1 on a syntax error.
 */
static int parse_tag(const char *s, size_t len, size_t *pos, int *weak, const char **op,
                     size_t *oplen) {
    size_t i = *pos;
    *weak = 0;
    if (len - i >= 2 && s[i] == 'W' && s[i + 1] == '/') {
        *weak = 1;
        i += 2;
    }
    if (i >= len || s[i] != '"')
        return -1;
    size_t start = i++;
    while (i < len && s[i] != '"') {
        if (!is_etagc((unsigned char)s[i]))
            return -1;
        i++;
    }
    if (i >= len)
        return -1;
    i++;
    *op = s + start;
    *oplen = i - start;
    *pos = i;
    return 0;
}

int lux_etag_list_match(const char *list, size_t len, const char *etag, size_t etag_len, int weak) {
    size_t b = 0, e = len;
    while (b < e && is_ows(list[b]))
        b++;
    while (e > b && is_ows(list[e - 1]))
        e--;
    if (e - b == 1 && list[b] == '*')
        return 1;
    int e_weak = etag_len >= 2 && etag[0] == 'W' && etag[1] == '/';
    const char *e_op = etag + (e_weak ? 2 : 0);
    size_t e_oplen = etag_len - (e_weak ? 2 : 0);
    if (etag_len == 0)
        return 0;

    size_t i = b;
    while (i < e) {
        if (list[i] == ',' || is_ows(list[i])) {
            i++;
            continue;
        }
        int t_weak;
        const char *op;
        size_t oplen;
        if (parse_tag(list, e, &i, &t_weak, &op, &oplen) < 0)
            return 0;
        /* RFC 9110 8.8.3.2: weak comparison ignores W/, strong needs both tags strong. */
        if (oplen == e_oplen && memcmp(op, e_op, oplen) == 0 && (weak || (!t_weak && !e_weak)))
            return 1;
        while (i < e && is_ows(list[i]))
            i++;
        if (i < e && list[i] != ',')
            return 0;
    }
    return 0;
}
