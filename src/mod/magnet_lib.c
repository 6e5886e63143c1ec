/*
 * lighty.c: the helper functions of lighttpd 1.4.69's mod_magnet. Digests and HMACs come from
 * OpenSSL and are returned in upper-case hex, as lighttpd returns them; the text codecs are in
 * magnet_codec.c.
 */
#include <dirent.h>
#include <lauxlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mod/magnet_api.h"

static void push_hex(lua_State *L, const unsigned char *p, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    luaL_Buffer b;
    char *dst = luaL_buffinitsize(L, &b, 2 * n);
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hex[p[i] >> 4];
        dst[2 * i + 1] = hex[p[i] & 15];
    }
    luaL_pushresultsize(&b, 2 * n);
}

static const EVP_MD *digest_named(lua_State *L, const char *name) {
    if (strcmp(name, "md5") == 0)
        return EVP_md5();
    if (strcmp(name, "sha1") == 0)
        return EVP_sha1();
    if (strcmp(name, "sha256") == 0)
        return EVP_sha256();
    if (strcmp(name, "sha512") == 0)
        return EVP_sha512();
    luaL_error(L, "unsupported digest \"%s\" (md5, sha1, sha256, sha512)", name);
    return NULL;
}

/* lighty.c.md("sha256", data) */
static int c_md(lua_State *L) {
    const EVP_MD *md = digest_named(L, luaL_checkstring(L, 1));
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!EVP_Digest(data, n, out, &len, md, NULL))
        return luaL_error(L, "digest failed");
    push_hex(L, out, len);
    return 1;
}

/* lighty.c.hmac("sha256", secret, data) */
static int c_hmac(lua_State *L) {
    const EVP_MD *md = digest_named(L, luaL_checkstring(L, 1));
    size_t klen, n;
    const char *key = luaL_checklstring(L, 2, &klen);
    const char *data = luaL_checklstring(L, 3, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!HMAC(md, key, (int)klen, (const unsigned char *)data, n, out, &len))
        return luaL_error(L, "hmac failed");
    push_hex(L, out, len);
    return 1;
}

/* Constant-time comparisons: of two hex digests (any case), of two secrets. */
static int c_digest_eq(lua_State *L) {
    size_t a, b;
    const char *x = luaL_checklstring(L, 1, &a);
    const char *y = luaL_checklstring(L, 2, &b);
    unsigned diff = a != b;
    for (size_t i = 0; i < a && i < b; i++)
        diff |= (unsigned)((x[i] | 0x20) ^ (y[i] | 0x20));
    lua_pushboolean(L, diff == 0);
    return 1;
}

static int c_secret_eq(lua_State *L) {
    size_t a, b;
    const char *x = luaL_checklstring(L, 1, &a);
    const char *y = luaL_checklstring(L, 2, &b);
    lua_pushboolean(L, a == b && CRYPTO_memcmp(x, y, a) == 0);
    return 1;
}

static int c_time(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)time(NULL));
    return 1;
}

static int c_hrtime(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushinteger(L, (lua_Integer)ts.tv_sec);
    lua_pushinteger(L, (lua_Integer)ts.tv_nsec);
    return 2;
}

static int c_rand(lua_State *L) {
    unsigned v = 0;
    RAND_bytes((unsigned char *)&v, sizeof v);
    lua_pushinteger(L, (lua_Integer)(v & 0x7fffffff));
    return 1;
}

static void set_bool(lua_State *L, const char *k, int v) {
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* st_mtim() and its kin: seconds and nanoseconds. */
static int timespec_fn(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    return 2;
}

static void set_timespec(lua_State *L, const char *k, struct timespec ts) {
    lua_pushinteger(L, (lua_Integer)ts.tv_sec);
    lua_pushinteger(L, (lua_Integer)ts.tv_nsec);
    lua_pushcclosure(L, timespec_fn, 2);
    lua_setfield(L, -2, k);
}

/* lighty.c.stat(path): a table of the file's attributes, nil when it does not exist; the
 * request's view of it (etag, content-type, http-response-send-file) from magnet_api.c. */
static int c_stat(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    struct stat st, lst;
    if (stat(path, &st) != 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 16);
    set_bool(L, "is_file", S_ISREG(st.st_mode));
    set_bool(L, "is_dir", S_ISDIR(st.st_mode));
    set_bool(L, "is_char", S_ISCHR(st.st_mode));
    set_bool(L, "is_block", S_ISBLK(st.st_mode));
    set_bool(L, "is_socket", S_ISSOCK(st.st_mode));
    set_bool(L, "is_fifo", S_ISFIFO(st.st_mode));
    set_bool(L, "is_link", lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode));
    set_int(L, "st_mtime", st.st_mtime);
    set_int(L, "st_ctime", st.st_ctime);
    set_int(L, "st_atime", st.st_atime);
    set_int(L, "st_uid", st.st_uid);
    set_int(L, "st_gid", st.st_gid);
    set_int(L, "st_size", st.st_size);
    set_int(L, "st_ino", (lua_Integer)st.st_ino);
    set_int(L, "st_mode", st.st_mode);
    set_timespec(L, "st_mtim", st.st_mtim);
    set_timespec(L, "st_ctim", st.st_ctim);
    set_timespec(L, "st_atim", st.st_atim);
    magnet_stat_request_fields(L, path, &st);
    return 1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int c_hexenc(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    push_hex(L, (const unsigned char *)s, n);
    return 1;
}

static int c_hexdec(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n % 2) {
        lua_pushnil(L);
        return 1;
    }
    luaL_Buffer b;
    char *dst = luaL_buffinitsize(L, &b, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            lua_pushnil(L);
            return 1;
        }
        dst[i / 2] = (char)(hi << 4 | lo);
    }
    luaL_pushresultsize(&b, n / 2);
    return 1;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Without padding in either alphabet, as lighttpd encodes. */
static int b64enc(lua_State *L, const char *alpha) {
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++)
            luaL_addchar(&b, alpha[(v >> (18 - 6 * k)) & 63]);
    }
    luaL_pushresult(&b);
    return 1;
}

/* Either alphabet is accepted, padding optional (decoding ends at the first '=');
 * anything else gives nil. */
static int b64dec(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *pad = memchr(s, '=', n);
    if (pad)
        n = (size_t)(pad - s);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(b64std, s[i]);
        if (!p && s[i] == '-')
            p = b64std + 62;
        else if (!p && s[i] == '_')
            p = b64std + 63;
        if (!p || !s[i]) {
            lua_pushnil(L);
            return 1;
        }
        acc = acc << 6 | (unsigned)(p - b64std);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            luaL_addchar(&b, (char)(acc >> bits & 0xff));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static int c_b64enc(lua_State *L) {
    return b64enc(L, b64std);
}

static int c_b64urlenc(lua_State *L) {
    return b64enc(L, b64url);
}

/* Markup characters, '`' and control characters as &#xHH; (bytes from 0x80 pass through). */
static int c_xmlenc(lua_State *L) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x20 || c == 0x7f || (c && strchr("&<>\"'`", c))) {
            luaL_addstring(&b, "&#x");
            luaL_addchar(&b, hex[c >> 4]);
            luaL_addchar(&b, hex[c & 15]);
            luaL_addchar(&b, ';');
        } else {
            luaL_addchar(&b, (char)c);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* Percent-encode all but letters, digits and "!()*-./_~", as lighttpd does. */
static int c_urlenc(lua_State *L) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            (c && strchr("!()*-./_~", c))) {
            luaL_addchar(&b, (char)c);
        } else {
            luaL_addchar(&b, '%');
            luaL_addchar(&b, hex[c >> 4]);
            luaL_addchar(&b, hex[c & 15]);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* Push s decoded; in a query '+' stands for a space. */
static void push_urldec(lua_State *L, const char *s, size_t n, int query) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            luaL_addchar(&b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            luaL_addchar(&b, query && s[i] == '+' ? ' ' : s[i]);
        }
    }
    luaL_pushresult(&b);
}

static int c_urldec(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    push_urldec(L, s, n, 0);
    return 1;
}

/* "a=1&b=2" becomes { a = "1", b = "2" }, both sides decoded. */
static int c_urldec_query(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_newtable(L);
    for (const char *p = s, *end = s + n; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            push_urldec(L, p, (size_t)((eq ? eq : stop) - p), 1);
            if (eq)
                push_urldec(L, eq + 1, (size_t)(stop - eq - 1), 1);
            else
                lua_pushliteral(L, "");
            lua_settable(L, -3);
        }
        p = stop + 1;
    }
    return 1;
}

static void push_trimmed(lua_State *L, const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    lua_pushlstring(L, p, (size_t)(end - p));
}

/* Cookie: "a=1; b=2; c" becomes { a = "1", b = "2", c = "" } (values as sent, quotes kept). */
static int c_cookie_tokens(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_newtable(L);
    for (const char *p = s, *end = s + n; p < end;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        if (p == end)
            break;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p && eq != p) {
            push_trimmed(L, p, eq ? eq : stop);
            if (eq)
                push_trimmed(L, eq + 1, stop);
            else
                lua_pushliteral(L, "");
            lua_settable(L, -3);
        }
        p = stop + 1;
    }
    return 1;
}

/* lighty.c.readdir(path): an iterator over the names in a directory, "." and ".." left out. */
static void dir_close(DIR **d) {
    if (*d) {
        closedir(*d);
        *d = NULL;
    }
}

static int dir_gc(lua_State *L) {
    dir_close(luaL_checkudata(L, 1, "lux.magnet.dir"));
    return 0;
}

static int dir_next(lua_State *L) {
    DIR **d = luaL_checkudata(L, lua_upvalueindex(1), "lux.magnet.dir");
    for (struct dirent *e; *d && (e = readdir(*d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        lua_pushstring(L, e->d_name);
        return 1;
    }
    dir_close(d);
    return 0;
}

static int c_readdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    DIR **d = lua_newuserdatauv(L, sizeof *d, 0);
    *d = NULL;
    if (luaL_newmetatable(L, "lux.magnet.dir")) {
        lua_pushcfunction(L, dir_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    if (!(*d = opendir(path))) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushcclosure(L, dir_next, 1);
    return 1;
}

void magnet_lib_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"stat", c_stat},
        {"time", c_time},
        {"hrtime", c_hrtime},
        {"rand", c_rand},
        {"md", c_md},
        {"hmac", c_hmac},
        {"digest_eq", c_digest_eq},
        {"secret_eq", c_secret_eq},
        {"b64enc", c_b64enc},
        {"b64dec", b64dec},
        {"b64urlenc", c_b64urlenc},
        {"b64urldec", b64dec},
        {"hexenc", c_hexenc},
        {"hexdec", c_hexdec},
        {"xmlenc", c_xmlenc},
        {"urlenc", c_urlenc},
        {"urldec", c_urldec},
        {"urldec_query", c_urldec_query},
        {"cookie_tokens", c_cookie_tokens},
        {"readdir", c_readdir},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
    magnet_codec_open(L);
}
