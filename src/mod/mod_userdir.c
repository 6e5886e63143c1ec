/*
 * mod_userdir: /~user/rest is served from <home>/<userdir.path>/rest, where <home> is
 * <userdir.basepath>/user (or <basepath>/u/user with userdir.letterhomes), or the user's home
 * directory from the password database when no basepath is set. As in lighttpd, nothing
 * happens while userdir.path is unset; "/~user" without its slash is redirected to "/~user/";
 * a name that is not one safe path component ("", ".", "..", too long) is left to the
 * document root, where it names nothing.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/uri.h"
#include "lux/log.h"
#include "lux/req.h"
#include "mod/vhost_path.h"

typedef struct {
    lux_str path;
    lux_str basepath;
    const lux_strlist *exclude_user;
    const lux_strlist *include_user;
    int letterhomes;
    int active;
} userdir_conf;

#define OFF(f) offsetof(userdir_conf, f)
static const lux_directive userdir_directives[] = {
    {"userdir.path", LUX_D_STRING, OFF(path), LUX_SCOPE_ANY},
    {"userdir.basepath", LUX_D_STRING, OFF(basepath), LUX_SCOPE_ANY},
    {"userdir.exclude-user", LUX_D_STRLIST, OFF(exclude_user), LUX_SCOPE_ANY},
    {"userdir.include-user", LUX_D_STRLIST, OFF(include_user), LUX_SCOPE_ANY},
    {"userdir.letterhomes", LUX_D_BOOL, OFF(letterhomes), LUX_SCOPE_ANY},
    {"userdir.active", LUX_D_BOOL, OFF(active), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};
#undef OFF

static void userdir_init(void *conf) {
    ((userdir_conf *)conf)->active = 1;
}

static int listed(const lux_strlist *l, const char *user, size_t len, int nocase) {
    for (size_t i = 0; l && i < l->n; i++)
        if (l->items[i].len == len && (nocase ? strncasecmp(l->items[i].ptr, user, len) == 0
                                              : memcmp(l->items[i].ptr, user, len) == 0))
            return 1;
    return 0;
}

/* "/~user" names a directory: 301 to "/~user/", the query kept. */
static lux_result redirect_to_slash(lux_req *r) {
    char *enc = lux_pool_alloc(r->pool, 3 * r->path.len + 1);
    if (!enc)
        return LUX_ERROR;
    lux_uri_encode_path(r->path.ptr, r->path.len, enc);
    const char *mark = r->query.ptr ? "?" : "", *q = r->query.ptr ? r->query.ptr : "";
    char *loc = r->host.len
                    ? lux_req_printf(r, "%s://%s%s/%s%s", r->scheme.ptr, r->host.ptr, enc, mark, q)
                    : lux_req_printf(r, "%s/%s%s", enc, mark, q);
    if (!loc)
        return LUX_ERROR;
    lux_resp_error(r, 301);
    lux_resp_header(r, "Location", 8, loc, strlen(loc));
    return LUX_HANDLED;
}

/* The user's home from the password database, in the pool; NULL when there is none. */
static char *home_from_passwd(lux_req *r, const char *user) {
    long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t bufsize = sz > 0 ? (size_t)sz : 16384;
    char *buf = lux_pool_alloc(r->pool, bufsize);
    struct passwd pw, *found = NULL;
    if (!buf || getpwnam_r(user, &pw, buf, bufsize, &found) != 0 || !found || !pw.pw_dir ||
        !pw.pw_dir[0])
        return NULL;
    return pw.pw_dir;
}

/* <basepath>/[u/]user, the name lower-cased when file names are. */
static char *home_below_basepath(lux_req *r, const userdir_conf *c, const char *user, size_t len) {
    const lux_core_conf *core = r->confs[0];
    char *home = c->letterhomes
                     ? lux_req_printf(r, "%s/%c/%.*s", c->basepath.ptr, user[0], (int)len, user)
                     : lux_req_printf(r, "%s/%.*s", c->basepath.ptr, (int)len, user);
    if (home && core->force_lowercase_filenames)
        for (char *p = home + c->basepath.len; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return home;
}

/* Point the request at <home>/<userdir.path>/<rest>. */
static lux_result map_to_home(lux_req *r, const userdir_conf *c, const char *home, const char *rest,
                              size_t rlen) {
    size_t hl = strlen(home);
    while (hl > 1 && home[hl - 1] == '/')
        hl--;
    const char *up = c->path.ptr;
    size_t ul = c->path.len;
    while (ul && *up == '/')
        up++, ul--;
    while (ul && up[ul - 1] == '/')
        ul--;
    char *phys = lux_pool_alloc(r->pool, hl + ul + rlen + 3);
    if (!phys)
        return LUX_ERROR;
    char *p = phys;
    memcpy(p, home, hl);
    p += hl;
    if (ul) {
        *p++ = '/';
        memcpy(p, up, ul);
        p += ul;
    }
    r->docroot = (lux_str){phys, (size_t)(p - phys)};
    *p++ = '/';
    memcpy(p, rest, rlen);
    p += rlen;
    *p = '\0';
    r->physical = (lux_str){phys, (size_t)(p - phys)};
    const lux_core_conf *core = r->confs[0];
    if (core->log_request_handling)
        lux_log(LUX_LOG_DEBUG, "userdir: %s", phys);
    return LUX_GO_ON;
}

static lux_result userdir_physical(lux_req *r, const void *conf) {
    const userdir_conf *c = conf;
    if (r->path.len < 2 || r->path.ptr[0] != '/' || r->path.ptr[1] != '~')
        return LUX_GO_ON;
    if (!c->active || !c->path.ptr || r->physical.len < r->docroot.len)
        return LUX_GO_ON;
    const lux_core_conf *core = r->confs[0];
    /* What follows the document root: the URL path, lower-cased if file names are. */
    const char *p = r->physical.ptr + r->docroot.len;
    size_t len = r->physical.len - r->docroot.len;
    if (len != r->path.len)
        return LUX_GO_ON;
    const char *user = r->path.ptr + 2;
    const char *slash = memchr(user, '/', len - 2);
    if (!slash)
        return len > 2 ? redirect_to_slash(r) : LUX_GO_ON;
    size_t ulen = (size_t)(slash - user);
    if (!vhost_name_safe(user, ulen) || (c->letterhomes && user[0] == '.'))
        return LUX_GO_ON;
    int nocase = core->force_lowercase_filenames;
    if (listed(c->exclude_user, user, ulen, nocase))
        return LUX_GO_ON;
    if (c->include_user && c->include_user->n && !listed(c->include_user, user, ulen, nocase))
        return LUX_GO_ON;
    char *name = lux_pool_strndup(r->pool, user, ulen);
    if (!name)
        return LUX_ERROR;
    char *home =
        c->basepath.len ? home_below_basepath(r, c, name, ulen) : home_from_passwd(r, name);
    if (!home)
        return LUX_GO_ON;
    size_t skip = 2 + ulen + 1; /* "/~user/" */
    return map_to_home(r, c, home, p + skip, len - skip);
}

const lux_module lux_mod_userdir = {
    .name = "mod_userdir",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = userdir_directives,
    .conf_size = sizeof(userdir_conf),
    .conf_init = userdir_init,
    .physical = userdir_physical,
};
