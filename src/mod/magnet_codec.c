/*
 * lighty.c's text codecs beyond the digests and base64 of magnet_lib.c: quoted strings,
 * backslash escapes, header tokens, path simplification, URL normalization and query building.
 * Each reproduces lighttpd 1.4.69 byte for byte, including its quirks (noted where they look
 * surprising), so that scripts written for lighttpd produce the same output under lux.
 */
#include <lauxlib.h>
#include <string.h>

#include "mod/magnet_api.h"

static const char hex_uc[] = "0123456789ABCDEF";

static int hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void add_pct(luaL_Buffer *b, unsigned char c) {
    luaL_addchar(b, '%');
    luaL_addchar(b, hex_uc[c >> 4]);
    luaL_addchar(b, hex_uc[c & 15]);
}

static int is_alnum(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* quotedenc("a\"b") is "\"a\\\"b\"": a quoted-string; the empty string stays empty. */
static int c_quotedenc(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (n) {
        luaL_addchar(&b, '"');
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"' || s[i] == '\\')
                luaL_addchar(&b, '\\');
            luaL_addchar(&b, s[i]);
        }
        luaL_addchar(&b, '"');
    }
    luaL_pushresult(&b);
    return 1;
}

/* The inverse: a string that does not start with '"' comes back as it is; a quoted-string
 * that is unterminated or followed by anything gives nil. */
static int c_quoteddec(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n == 0 || s[0] != '"') {
        lua_pushvalue(L, 1);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '"') {
            if (i + 1 != n)
                break;
            luaL_pushresult(&b);
            return 1;
        }
        if (s[i] == '\\' && ++i == n)
            break;
        luaL_addchar(&b, s[i]);
    }
    lua_pushnil(L);
    return 1;
}

/* C's short escapes for BEL to CR (7..13), as bsenc writes them. */
static const char short_escapes[] = "abtnvfr";

/*
 * bsenc escapes '"', '\\' and control characters; other controls become \u00XX and bytes from
 * 0x7f on pass through. bsenc_json writes \xXX for other controls and for bytes from 0x7f on
 * (lighttpd 1.4.69 has the two forms this way round).
 */
static int bsenc(lua_State *L, int json) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, (char)c);
        } else if (c >= 7 && c <= 13) {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, short_escapes[c - 7]);
        } else if (c < 0x20 || (json && c >= 0x7f)) {
            luaL_addstring(&b, json ? "\\x" : "\\u00");
            luaL_addchar(&b, hex_uc[c >> 4]);
            luaL_addchar(&b, hex_uc[c & 15]);
        } else {
            luaL_addchar(&b, (char)c);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static int c_bsenc(lua_State *L) {
    return bsenc(L, 0);
}

static int c_bsenc_json(lua_State *L) {
    return bsenc(L, 1);
}

/* n hex digits at s (all present), or -1. */
static long hex_run(const char *s, size_t avail, size_t n) {
    if (avail < n)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static void add_utf8(luaL_Buffer *b, unsigned long cp) {
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xc0 | cp >> 6));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        luaL_addchar(b, (char)(0xe0 | cp >> 12));
        luaL_addchar(b, (char)(0x80 | (cp >> 6 & 0x3f)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3f)));
    }
}

/*
 * One escape after a backslash at s[0] (with avail bytes from there); returns the bytes it
 * consumed after the backslash. As in lighttpd 1.4.69: \a \b \f \n \r \v, octal \0 to \377,
 * \xHH, \uHHHH as UTF-8; any other character (\t included) stands for itself, and a
 * surrogate \uHHHH gives its low byte and leaves its digits to be read as text.
 */
static size_t bsdec_escape(luaL_Buffer *b, const char *s, size_t avail) {
    const char *p = strchr("abfnrv", s[0]);
    if (s[0] && p) {
        static const char values[] = "\a\b\f\n\r\v";
        luaL_addchar(b, values[p - "abfnrv"]);
        return 1;
    }
    if (s[0] >= '0' && s[0] <= '3') {
        size_t k = 1;
        int v = s[0] - '0';
        while (k < 3 && k < avail && s[k] >= '0' && s[k] <= '7')
            v = v << 3 | (s[k++] - '0');
        luaL_addchar(b, (char)v);
        return k;
    }
    long v;
    if (s[0] == 'x' && (v = hex_run(s + 1, avail - 1, 2)) >= 0) {
        luaL_addchar(b, (char)v);
        return 3;
    }
    if (s[0] == 'u' && (v = hex_run(s + 1, avail - 1, 4)) >= 0) {
        if (v >= 0xd800 && v <= 0xdfff) {
            luaL_addchar(b, (char)(v & 0xff));
            return 1;
        }
        add_utf8(b, (unsigned long)v);
        return 5;
    }
    luaL_addchar(b, s[0]);
    return 1;
}

/* A trailing lone backslash stays. */
static int c_bsdec(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\' || i + 1 == n)
            luaL_addchar(&b, s[i++]);
        else
            i += 1 + bsdec_escape(&b, s + i + 1, n - i - 1);
    }
    luaL_pushresult(&b);
    return 1;
}

/* header_tokens('a, b;q="x y"') is { "a", ",", "b", ";", "q", "=", "\"x y\"" }: blanks
 * separate tokens, ',' ';' '=' are tokens of their own, quoted strings stay whole. */
static size_t quoted_end(const char *s, size_t i, size_t n) {
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\' && i + 1 < n)
            i++;
    return i < n ? i + 1 : n;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int c_header_tokens(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_newtable(L);
    lua_Integer k = 0;
    for (size_t i = 0; i < n;) {
        if (is_blank(s[i])) {
            i++;
            continue;
        }
        size_t end = i + 1;
        if (s[i] == '"')
            end = quoted_end(s, i, n);
        else if (!strchr(",;=", s[i]))
            while (end < n && !is_blank(s[end]) && !strchr(",;=", s[end]))
                end++;
        lua_pushlstring(L, s + i, end - i);
        lua_rawseti(L, -2, ++k);
        i = end;
    }
    return 1;
}

/*
 * Remove "." and ".." segments and repeated slashes in place; returns the new length. A
 * leading "." or ".." segment is dropped, and a ".." that climbs above a relative path's
 * first segment leaves an absolute path, as lighttpd's buffer_path_simplify does.
 */
static size_t simplify_path(char *p, size_t n) {
    size_t in = 0, out = 0, slash = 0;
    if (n && p[0] == '.') {
        if (n == 1 || p[1] == '/')
            in = 1;
        else if (p[1] == '.' && (n == 2 || p[2] == '/'))
            in = 2;
    }
    char pre1 = 0, pre2;
    while (in < n) {
        pre2 = pre1;
        pre1 = p[in++];
        p[out++] = pre1;
        int at_end = in == n;
        if (!at_end && p[in] != '/')
            continue;
        size_t toklen = out - slash;
        if (toklen == 3 && pre2 == '.' && pre1 == '.' && p[slash] == '/') {
            out = slash;
            if (out > 0)
                for (out--; out > 0 && p[out] != '/';)
                    out--;
            if (at_end)
                p[out++] = '/';
        } else if ((toklen == 1 && pre1 == '/') || (toklen == 2 && pre2 == '/' && pre1 == '.')) {
            out = slash;
            if (at_end)
                out++;
        }
        slash = out;
    }
    return out;
}

static int c_fspath_simplify(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n);
    memcpy(p, s, n);
    luaL_pushresultsize(&b, simplify_path(p, n));
    return 1;
}

/* Characters a normalized URL carries as they are (RFC 3986's unreserved and most
 * sub-delims and gen-delims); everything else is percent-encoded. */
static int url_keeps(unsigned char c) {
    return is_alnum(c) || (c && strchr("!$&'()*+,-./:;=?@_~", c));
}

/* A %XX whose byte is one of these stays encoded: in the path '?', in the query the
 * characters that separate its parts. */
static int stays_encoded(unsigned char c, int in_query) {
    return !url_keeps(c) || (in_query ? c && strchr("&+;=", c) != NULL : c == '?');
}

static void normalize_part(luaL_Buffer *b, const char *s, size_t n, int in_query) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        long v;
        if (c == '%' && (v = hex_run(s + i + 1, n - i - 1, 2)) >= 0) {
            i += 2;
            c = (unsigned char)v;
            if (in_query && c == ' ')
                luaL_addchar(b, '+');
            else if (stays_encoded(c, in_query))
                add_pct(b, c);
            else
                luaL_addchar(b, (char)c);
        } else if (in_query && c == ' ') {
            luaL_addchar(b, '+');
        } else if (url_keeps(c)) {
            luaL_addchar(b, (char)c);
        } else {
            add_pct(b, c);
        }
    }
}

/*
 * urlenc_normalize("/a/%2e%2e/b%7e c?x=%41 y#f") is "/b~%20c?x=A+y": the fragment dropped,
 * percent-encoding made uniform (decoded where the byte needs none, %2F included; upper-case
 * hex otherwise), dot segments and repeated slashes removed from the path, spaces in the
 * query written as '+'.
 */
static int c_urlenc_normalize(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *hash = memchr(s, '#', n);
    if (hash)
        n = (size_t)(hash - s);
    const char *q = memchr(s, '?', n);
    size_t plen = q ? (size_t)(q - s) : n;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    normalize_part(&b, s, plen, 0);
    luaL_pushresult(&b);
    size_t len;
    const char *path = lua_tolstring(L, -1, &len);
    char *p = luaL_buffinitsize(L, &b, len + (n - plen) * 3);
    memcpy(p, path, len);
    luaL_addsize(&b, simplify_path(p, len));
    if (q) {
        luaL_addchar(&b, '?');
        normalize_part(&b, q + 1, n - plen - 1, 1);
    }
    luaL_pushresult(&b);
    return 1;
}

/* A key of urlenc_query keeps these besides letters and digits; a value keeps '=' too. */
static void add_query_part(luaL_Buffer *b, const char *s, size_t n, int is_value) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ')
            luaL_addchar(b, '+');
        else if (is_alnum(c) || (c && strchr("!$()*,-./:?@_~", c)) || (is_value && c == '='))
            luaL_addchar(b, (char)c);
        else
            add_pct(b, c);
    }
}

static int is_text(lua_State *L, int i) {
    int t = lua_type(L, i);
    return t == LUA_TSTRING || t == LUA_TNUMBER;
}

/* Push "&key=value" (without the '&' for the first) for the pair on top of the stack. */
static void push_query_pair(lua_State *L, int first) {
    size_t kn, vn;
    lua_pushvalue(L, -2); /* tolstring would turn the key itself into a string */
    const char *k = lua_tolstring(L, -1, &kn);
    const char *v = lua_tolstring(L, -2, &vn);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (!first)
        luaL_addchar(&b, '&');
    add_query_part(&b, k, kn, 0);
    luaL_addchar(&b, '=');
    add_query_part(&b, v, vn, 1);
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

/* urlenc_query({ a = "1 2" }) is "a=1+2"; pairs of other types are left out, and anything
 * but a table gives "". */
static int c_urlenc_query(lua_State *L) {
    lua_settop(L, 1);
    lua_pushliteral(L, "");
    if (lua_type(L, 1) != LUA_TTABLE)
        return 1;
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (is_text(L, -2) && is_text(L, -1)) {
            push_query_pair(L, first);
            first = 0;
            lua_pushvalue(L, 2);
            lua_insert(L, -2);
            lua_concat(L, 2);
            lua_replace(L, 2);
        }
        lua_pop(L, 1);
    }
    return 1;
}

void magnet_codec_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"quotedenc", c_quotedenc},
        {"quoteddec", c_quoteddec},
        {"bsenc", c_bsenc},
        {"bsenc_json", c_bsenc_json},
        {"bsdec", c_bsdec},
        {"header_tokens", c_header_tokens},
        {"fspath_simplify", c_fspath_simplify},
        {"urlenc_normalize", c_urlenc_normalize},
        {"urlenc_query", c_urlenc_query},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
