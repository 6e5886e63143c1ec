/* mod_dirlisting: an HTML index of a directory that has no index file (dir-listing.*). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/stat_cache.h"
#include "lux/req.h"
#include "mod/dirlisting_html.h"

typedef struct {
    int activate;
    int hide_dotfiles;
    lux_str external_css, external_js, encoding, set_footer;
    int show_header, hide_header_file, encode_header;
    int show_readme, hide_readme_file, encode_readme;
} dirlisting_conf;

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
    {"dir-listing.cache", LUX_D_IGNORED, 0, LUX_SCOPE_ANY},
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
    if (name[0] == '.' && (c->hide_dotfiles || name[1] == '\0' ||
                           (name[1] == '.' && name[2] == '\0')))
        return 1;
    if (c->show_header && c->hide_header_file && strcmp(name, "HEADER.txt") == 0)
        return 1;
    return c->show_readme && c->hide_readme_file && strcmp(name, "README.txt") == 0;
}

static lux_result list(lux_req *r, const dirlisting_conf *c, int dirfd) {
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return lux_resp_error(r, 403);
    }
    size_t cap = 64, n = 0;
    lux_dirent *ents = malloc(cap * sizeof *ents);
    struct dirent *de;
    while (ents && (de = readdir(d))) {
        if (hidden(c, de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, 0) < 0)
            continue;
        if (n == cap) {
            lux_dirent *more = realloc(ents, 2 * cap * sizeof *ents);
            if (!more)
                break;
            ents = more;
            cap *= 2;
        }
        size_t nl = strlen(de->d_name);
        ents[n++] = (lux_dirent){lux_pool_strndup(r->pool, de->d_name, nl), nl,
                                 S_ISDIR(st.st_mode), (uint64_t)st.st_size, st.st_mtime};
        if (!ents[n - 1].name)
            n--;
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
    };
    if (c->show_header)
        o.header = read_small(r, dirfd, "HEADER.txt", &o.header_len);
    if (c->show_readme)
        o.readme = read_small(r, dirfd, "README.txt", &o.readme_len);
    size_t len = 0;
    char *html = ents ? lux_dirlisting_render(ents, n, &o, &len) : NULL;
    closedir(d);
    free(ents);
    if (!html)
        return LUX_ERROR;
    int rc = lux_resp_body_copy(r, html, len);
    free(html);
    if (rc < 0)
        return LUX_ERROR;
    r->status = 200;
    char *ct = lux_req_printf(r, "text/html%s%s", c->encoding.ptr ? "; charset=" : "",
                              c->encoding.ptr ? c->encoding.ptr : "");
    if (!ct || lux_resp_header(r, "Content-Type", 12, ct, strlen(ct)) < 0)
        return LUX_ERROR;
    return LUX_HANDLED;
}

static lux_result dirlisting_handle(lux_req *r, const void *conf) {
    const dirlisting_conf *c = conf;
    if (!c->activate || !r->file || !S_ISDIR(r->file->mode))
        return LUX_GO_ON;
    if (r->method != LUX_M_GET && r->method != LUX_M_HEAD)
        return LUX_GO_ON;
    int fd = open(r->physical.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lux_resp_error(r, errno == ENOENT ? 404 : 403);
    return list(r, c, fd);
}

const lux_module lux_mod_dirlisting = {
    .name = "mod_dirlisting",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = dirlisting_directives,
    .conf_size = sizeof(dirlisting_conf),
    .conf_init = dirlisting_init,
    .handle = dirlisting_handle,
};
