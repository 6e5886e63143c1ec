/*
 * mod_dirlisting: an HTML index of a directory that has no index file (dir-listing.*).
 * A listing runs in the event loop, so it is bounded: at most LISTING_MAX_ENTRIES entries are
 * read (the page says when it was cut), and with dir-listing.cache the rendered page is reused
 * (src/mod/dirlisting_cache.h). The page is built once, straight into the buffer the response
 * sends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/stat_cache.h"
#include "lux/req.h"
#include "mod/dirlisting_cache.h"
#include "mod/dirlisting_html.h"

/* lighttpd 1.4.69 lists every entry; lux stops here, as a listing holds up its worker. */
#define LISTING_MAX_ENTRIES 10000
/* dir-listing.cache's "max-age" when it is not given (lighttpd's default), and the most lux
 * takes (longer is clamped: a year keeps the expiry arithmetic far from overflow). */
#define CACHE_DEFAULT_MAX_AGE 15
#define CACHE_MAX_MAX_AGE (365L * 24 * 3600)

/* dir-listing.cache = ( "path" => ..., "max-age" => N ). serial tells the settings of one
 * configuration apart from those of any other, even one loaded at the same address. */
typedef struct {
    long max_age;
    uint64_t serial;
} listing_cache_conf;

typedef struct {
    int activate;
    int hide_dotfiles;
    lux_str external_css, external_js, encoding, set_footer;
    int show_header, hide_header_file, encode_header;
    int show_readme, hide_readme_file, encode_readme;
    const listing_cache_conf *cache;
} dirlisting_conf;

static _Atomic uint64_t cache_serials;

/* lighttpd requires "path" (where it writes its cached pages); lux keeps them in memory and
 * only checks the shape. "max-age" <= 0 turns the cache off. */
static int parse_cache(lux_gen *gen, const lux_value *v, void *dst, char *err, size_t el) {
    const lux_value *path = v->type == LUX_V_ARRAY ? lux_value_find(v, "path") : NULL;
    const lux_value *age = v->type == LUX_V_ARRAY ? lux_value_find(v, "max-age") : NULL;
    if (!path || path->type != LUX_V_STRING) {
        snprintf(err, el, "expected ( \"path\" => \"/dir\", \"max-age\" => seconds )");
        return -1;
    }
    long max_age = CACHE_DEFAULT_MAX_AGE;
    if (age) {
        char *end = NULL;
        if (age->type == LUX_V_INT)
            max_age = (long)age->u.num;
        else if (age->type == LUX_V_STRING)
            max_age = strtol(age->u.str.ptr, &end, 10);
        if (age->type == LUX_V_ARRAY || (end && (end == age->u.str.ptr || *end))) {
            snprintf(err, el, "\"max-age\" must be a number of seconds");
            return -1;
        }
    }
    if (max_age > CACHE_MAX_MAX_AGE)
        max_age = CACHE_MAX_MAX_AGE;
    listing_cache_conf *c = NULL;
    if (max_age > 0) {
        c = lux_pool_alloc(&gen->pool, sizeof *c);
        if (!c) {
            snprintf(err, el, "out of memory");
            return -1;
        }
        *c = (listing_cache_conf){max_age, atomic_fetch_add(&cache_serials, 1) + 1};
    }
    *(const listing_cache_conf **)dst = c;
    return 0;
}

#define OFF(f) offsetof(dirlisting_conf, f)
static const lux_directive dirlisting_directives[] = {
    {"dir-listing.activate", LUX_D_BOOL, OFF(activate), LUX_SCOPE_ANY},
    {"server.dir-listing", LUX_D_BOOL, OFF(activate), LUX_SCOPE_ANY},
    {"dir-listing.hide-dotfiles", LUX_D_BOOL, OFF(hide_dotfiles), LUX_SCOPE_ANY},
    {"dir-listing.external-css", LUX_D_STRING, OFF(external_css), LUX_SCOPE_ANY},
    {"dir-listing.external-js", LUX_D_STRING, OFF(external_js), LUX_SCOPE_ANY},
    {"dir-listing.encoding", LUX_D_STRING, OFF(encoding), LUX_SCOPE_ANY},
    {"dir-listing.set-footer", LUX_D_STRING, OFF(set_footer), LUX_SCOPE_ANY},
    {"dir-listing.show-header", LUX_D_BOOL, OFF(show_header), LUX_SCOPE_ANY},
    {"dir-listing.hide-header-file", LUX_D_BOOL, OFF(hide_header_file), LUX_SCOPE_ANY},
    {"dir-listing.encode-header", LUX_D_BOOL, OFF(encode_header), LUX_SCOPE_ANY},
    {"dir-listing.show-readme", LUX_D_BOOL, OFF(show_readme), LUX_SCOPE_ANY},
    {"dir-listing.hide-readme-file", LUX_D_BOOL, OFF(hide_readme_file), LUX_SCOPE_ANY},
    {"dir-listing.encode-readme", LUX_D_BOOL, OFF(encode_readme), LUX_SCOPE_ANY},
    {"dir-listing.exclude", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {"dir-listing.auto-layout", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {"dir-listing.cache", LUX_D_CUSTOM, OFF(cache), LUX_SCOPE_ANY, parse_cache,
     sizeof(const listing_cache_conf *)},
    {"dir-listing.sort", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static void dirlisting_init(void *p) {
    dirlisting_conf *c = p;
    c->hide_dotfiles = 1;
    c->encode_header = c->encode_readme = 1;
}

/* HEADER.txt / README.txt beside the listing, read whole (bounded). */
static char *read_small(lux_req *r, int dirfd, const char *name, size_t *len) {
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    char *buf = lux_pool_alloc(r->pool, 65536);
    ssize_t n = buf ? read(fd, buf, 65535) : -1;
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static int hidden(const dirlisting_conf *c, const char *name) {
    if (name[0] == '.' &&
        (c->hide_dotfiles || name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
        return 1;
    if (c->show_header && c->hide_header_file && strcmp(name, "HEADER.txt") == 0)
        return 1;
    return c->show_readme && c->hide_readme_file && strcmp(name, "README.txt") == 0;
}

/*
 * What a rendered page depends on besides the directory: compared bytewise by the cache. The
 * pointers are only compared, never followed; the serial keeps a page of an earlier
 * configuration from matching one that reuses its addresses.
 */
typedef struct {
    dirlisting_conf conf;
    const char *tag;
    const lux_mimetype *mimetypes;
    size_t nmimetypes;
    int follow_symlink;
    uint64_t cache_serial;
} page_settings;

static void settings_of(const lux_req *r, const dirlisting_conf *c, page_settings *s) {
    const lux_core_conf *core = r->confs[0];
    memset(s, 0, sizeof *s); /* padding too: the cache compares the bytes */
    s->conf = *c;
    s->tag = core->tag.ptr;
    s->mimetypes = core->mimetypes.items;
    s->nmimetypes = core->mimetypes.n;
    s->follow_symlink = core->follow_symlink;
    s->cache_serial = c->cache ? c->cache->serial : 0;
}

/*
 * The entries of the open directory d, at most LISTING_MAX_ENTRIES (*cut is set when there are
 * more). Symlinks are followed as lighttpd does (a dangling one is left out), unless
 * server.follow-symlink is off: then a link is listed as itself and its target not looked at.
 */
static lux_dirent *read_entries(lux_req *r, const dirlisting_conf *c, DIR *d, size_t *n, int *cut) {
    const lux_core_conf *core = r->confs[0];
    int flags = core->follow_symlink ? 0 : AT_SYMLINK_NOFOLLOW;
    size_t cap = 64;
    lux_dirent *ents = malloc(cap * sizeof *ents);
    struct dirent *de;
    *n = 0;
    *cut = 0;
    while (ents && (de = readdir(d))) {
        if (hidden(c, de->d_name))
            continue;
        if (*n == LISTING_MAX_ENTRIES) {
            *cut = 1;
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, flags) < 0)
            continue;
        if (*n == cap) {
            lux_dirent *more = realloc(ents, 2 * cap * sizeof *ents);
            if (!more)
                break;
            ents = more;
            cap *= 2;
        }
        size_t nl = strlen(de->d_name);
        char *name = lux_pool_strndup(r->pool, de->d_name, nl);
        if (name)
            ents[(*n)++] =
                (lux_dirent){name, nl, S_ISDIR(st.st_mode), (uint64_t)st.st_size, st.st_mtime};
    }
    return ents;
}

/* A rendered page as a file held in memory, so responses share it by reference. */
static lux_file *page_file(char *html, size_t len) {
    lux_file *f = calloc(1, sizeof *f);
    if (!f) {
        free(html);
        return NULL;
    }
    f->refs = 1;
    f->fd = -1;
    f->content = html;
    f->mode = S_IFREG | 0444;
    f->size = len;
    return f;
}

/* Read and render the directory (its descriptor is fd, which this closes). NULL with *res
 * set when there is no page: an error response, or LUX_ERROR. */
static lux_file *render_page(lux_req *r, const dirlisting_conf *c, int fd, lux_result *res) {
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        *res = lux_resp_error(r, 403);
        return NULL;
    }
    const lux_core_conf *core = r->confs[0];
    lux_dirlisting_opts o = {
        .uri_path = r->path.ptr,
        .uri_path_len = r->path.len,
        .encoding = c->encoding.ptr,
        .external_css = c->external_css.ptr,
        .external_js = c->external_js.ptr,
        .header_encode = c->encode_header,
        .readme_encode = c->encode_readme,
        .server_tag = c->set_footer.ptr ? c->set_footer.ptr : core->tag.ptr,
        .mimetypes = core->mimetypes.items,
        .mimetypes_len = core->mimetypes.n,
    };
    size_t n;
    int cut;
    lux_dirent *ents = read_entries(r, c, d, &n, &cut);
    o.cut_at = cut ? n : 0;
    if (c->show_header)
        o.header = read_small(r, dirfd(d), "HEADER.txt", &o.header_len);
    if (c->show_readme)
        o.readme = read_small(r, dirfd(d), "README.txt", &o.readme_len);
    size_t len = 0;
    char *html = ents ? lux_dirlisting_render(ents, n, &o, &len) : NULL;
    closedir(d);
    free(ents);
    lux_file *page = html ? page_file(html, len) : NULL;
    *res = LUX_ERROR;
    return page;
}

static lux_result send_page(lux_req *r, const dirlisting_conf *c, lux_file *page) {
    r->status = 200;
    char *ct = lux_req_printf(r, "text/html%s%s", c->encoding.ptr ? "; charset=" : "",
                              c->encoding.ptr ? c->encoding.ptr : "");
    if (!ct || lux_resp_header(r, "Content-Type", 12, ct, strlen(ct)) < 0)
        return LUX_ERROR;
    if (c->cache) { /* lighttpd lets clients keep a cached listing as long */
        char *cc = lux_req_printf(r, "max-age=%ld", c->cache->max_age);
        if (!cc || lux_resp_header(r, "Cache-Control", 13, cc, strlen(cc)) < 0)
            return LUX_ERROR;
    }
    return lux_resp_body_file(r, page, 0, page->size) < 0 ? LUX_ERROR : LUX_HANDLED;
}

static lux_result dirlisting_handle(lux_req *r, const void *conf) {
    const dirlisting_conf *c = conf;
    if (!c->activate || !r->file || !S_ISDIR(r->file->mode))
        return LUX_GO_ON;
    if (r->method != LUX_M_GET && r->method != LUX_M_HEAD)
        return LUX_GO_ON;
    page_settings settings;
    settings_of(r, c, &settings);
    const lux_listing_key key = {
        .settings = &settings,
        .settings_len = sizeof settings,
        .dir = r->physical.ptr,
        .dir_len = r->physical.len,
        .uri = r->path.ptr,
        .uri_len = r->path.len,
        .mtime = r->file->mtime,
        .mtime_nsec = r->file->mtime_nsec,
        .ino = r->file->ino,
    };
    time_t now = 0;
    lux_file *page = NULL;
    if (c->cache) {
        now = lux_req_now(r);
        page = lux_listing_cache_get(&key, now);
    }
    if (!page) {
        int fd = open(r->physical.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return lux_resp_error(r, errno == ENOENT ? 404 : 403);
        lux_result res;
        if (!(page = render_page(r, c, fd, &res)))
            return res;
        if (c->cache)
            lux_listing_cache_put(&key, page, now + c->cache->max_age);
    }
    lux_result res = send_page(r, c, page);
    lux_file_unref(page);
    return res;
}

const lux_module lux_mod_dirlisting = {
    .name = "mod_dirlisting",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = dirlisting_directives,
    .conf_size = sizeof(dirlisting_conf),
    .conf_init = dirlisting_init,
    .handle = dirlisting_handle,
};
