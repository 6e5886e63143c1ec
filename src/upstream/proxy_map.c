/* proxy.header's maps (see proxy_map.h). */
#include "upstream/proxy_map.h"

#include <string.h>
#include <strings.h>

/* Where a writer stands: bytes beyond cap are counted, not written. */
typedef struct {
    char *p;
    size_t len, cap;
} out_buf;

static void emit(out_buf *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static int is_dash(const lux_str *s) {
    return s->len == 1 && s->ptr[0] == '-';
}

void lux_proxy_remap_init(lux_proxy_remap *m, const lux_proxy_maps *maps, lux_str host,
                          int https_remap) {
    *m = (lux_proxy_remap){maps, host, NULL, NULL, https_remap};
}

const lux_str *lux_proxy_map_host(lux_proxy_remap *m, int is_req, const char *s, size_t len) {
    const lux_keyval *hosts = is_req ? m->maps->hosts_request : m->maps->hosts_response;
    size_t n = is_req ? m->maps->nhosts_request : m->maps->nhosts_response;
    for (size_t i = 0; hosts && i < n; i++) {
        const lux_str *key = &hosts[i].key;
        if (is_dash(key)) { /* the client's Host, or the host the request went to */
            key = is_req ? (m->http_host.ptr ? &m->http_host : NULL) : m->forwarded_host;
            if (!key)
                continue;
        }
        if (key->len != len || strncasecmp(key->ptr, s, len) != 0)
            continue;
        const lux_str *value = &hosts[i].value;
        if (is_dash(value))
            return m->http_host.ptr ? &m->http_host : NULL;
        if (!value->len)
            return NULL; /* left as it is, and no later entry is tried */
        if (is_req && !m->forwarded_host)
            m->forwarded_host = value;
        return value;
    }
    return NULL;
}

static int has_prefix(const char *s, size_t len, const lux_str *prefix) {
    return prefix->len <= len && memcmp(s, prefix->ptr, prefix->len) == 0;
}

/* The map-urlpath entry for path s: its key toward the backend, its value back. */
static const lux_keyval *urlpath_match(lux_proxy_remap *m, int is_req, const char *s, size_t len) {
    const lux_proxy_maps *maps = m->maps;
    if (is_req) {
        for (size_t i = 0; maps->urlpaths && i < maps->nurlpaths; i++)
            if (has_prefix(s, len, &maps->urlpaths[i].key)) {
                if (!m->forwarded_urlpath)
                    m->forwarded_urlpath = &maps->urlpaths[i];
                return &maps->urlpaths[i];
            }
        return NULL;
    }
    if (m->forwarded_urlpath && has_prefix(s, len, &m->forwarded_urlpath->value))
        return m->forwarded_urlpath;
    for (size_t i = 0; maps->urlpaths && i < maps->nurlpaths; i++)
        if (has_prefix(s, len, &maps->urlpaths[i].value))
            return &maps->urlpaths[i];
    return NULL;
}

static void emit_path(out_buf *o, lux_proxy_remap *m, int is_req, const char *s, size_t len) {
    const lux_keyval *kv = urlpath_match(m, is_req, s, len);
    if (kv) {
        const lux_str *from = is_req ? &kv->key : &kv->value, *to = is_req ? &kv->value : &kv->key;
        emit(o, to->ptr, to->len);
        s += from->len;
        len -= from->len;
    }
    emit(o, s, len);
}

/* "http" toward the client becomes "https"; "https" toward the backend becomes "http". */
static void emit_scheme(out_buf *o, const lux_proxy_remap *m, int is_req, const char *s,
                        size_t len) {
    if (m->https_remap && is_req && len == 5 && memcmp(s, "https", 5) == 0)
        len = 4;
    else if (m->https_remap && !is_req && len == 4 && memcmp(s, "http", 4) == 0) {
        emit(o, "https", 5);
        return;
    }
    emit(o, s, len);
}

size_t lux_proxy_map_uri(lux_proxy_remap *m, int is_req, const char *v, size_t len, char *out,
                         size_t cap) {
    out_buf o = {out, 0, cap};
    if (len && v[0] == '/') {
        emit_path(&o, m, is_req, v, len);
        return o.len;
    }
    const char *colon = memchr(v, ':', len);
    size_t slen = colon ? (size_t)(colon - v) : len;
    if (!colon || len - slen < 3 || colon[1] != '/' || colon[2] != '/') {
        emit(&o, v, len);
        return o.len;
    }
    const char *auth = colon + 3, *end = v + len;
    const char *slash = memchr(auth, '/', (size_t)(end - auth));
    size_t alen = (size_t)((slash ? slash : end) - auth);
    if (!alen) { /* "http:///": no authority to map */
        emit(&o, v, len);
        return o.len;
    }
    const lux_str *host = lux_proxy_map_host(m, is_req, auth, alen);
    if (host)
        emit_scheme(&o, m, is_req, v, slen);
    else
        emit(&o, v, slen);
    emit(&o, "://", 3);
    emit(&o, host ? host->ptr : auth, host ? host->len : alen);
    if (slash)
        emit_path(&o, m, is_req, slash, (size_t)(end - slash));
    else
        emit(&o, "/", 1); /* an authority alone gets its root path, as lighttpd writes it */
    return o.len;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* One attribute "name=value" at s (before end): Domain and Path are mapped, the rest copied.
 * Returns where the attribute ends (its ';' or end). */
static const char *emit_attribute(out_buf *o, lux_proxy_remap *m, const char *s, const char *end) {
    const char *semi = memchr(s, ';', (size_t)(end - s));
    const char *stop = semi ? semi : end;
    const char *eq = memchr(s, '=', (size_t)(stop - s));
    if (!eq) {
        emit(o, s, (size_t)(stop - s));
        return stop;
    }
    size_t nlen = (size_t)(eq - s);
    const char *v = eq + 1;
    emit(o, s, (size_t)(v - s));
    if (v < stop && *v == '"') {
        emit(o, v, 1);
        v++;
    }
    if (nlen == 4 && !strncasecmp(s, "path", 4) && v < stop && *v == '/') {
        emit_path(o, m, 0, v, (size_t)(stop - v));
        return stop;
    }
    if (nlen == 6 && !strncasecmp(s, "domain", 6)) {
        if (v < stop && *v == '.') {
            emit(o, v, 1);
            v++;
        }
        const char *h = v;
        while (h < stop && !is_blank(*h) && *h != '"')
            h++;
        const lux_str *host = h > v ? lux_proxy_map_host(m, 0, v, (size_t)(h - v)) : NULL;
        if (host) {
            emit(o, host->ptr, host->len);
            v = h;
        }
    }
    emit(o, v, (size_t)(stop - v));
    return stop;
}

size_t lux_proxy_map_set_cookie(lux_proxy_remap *m, const char *v, size_t len, char *out,
                                size_t cap) {
    out_buf o = {out, 0, cap};
    const char *s = v, *end = v + len;
    const char *semi = memchr(s, ';', len); /* the cookie's own name=value is not mapped */
    if (!semi) {
        emit(&o, v, len);
        return o.len;
    }
    emit(&o, s, (size_t)(semi - s));
    s = semi;
    while (s < end) { /* at a ';' */
        const char *a = s + 1;
        while (a < end && is_blank(*a))
            a++;
        emit(&o, s, (size_t)(a - s));
        s = emit_attribute(&o, m, a, end);
    }
    return o.len;
}
