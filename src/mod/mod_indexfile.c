/* mod_indexfile: a request for a directory ("/dir/") is served by its first existing index file. */
#include <string.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "core/pool.h"
#include "http/stat_cache.h"
#include "lux/req.h"

typedef struct {
    const lux_strlist *names;
} indexfile_conf;

static const lux_directive indexfile_directives[] = {
    {"index-file.names", LUX_D_STRLIST, offsetof(indexfile_conf, names), LUX_SCOPE_ANY},
    {"server.indexfiles", LUX_D_STRLIST, offsetof(indexfile_conf, names), LUX_SCOPE_ANY},
    {NULL, 0, 0, 0},
};

static lux_result indexfile_prepare(lux_req *r, const void *conf) {
    const indexfile_conf *c = conf;
    if (!c->names || !r->file || !S_ISDIR(r->file->mode) || r->path.len == 0 ||
        r->path.ptr[r->path.len - 1] != '/')
        return LUX_GO_ON;
    const lux_core_conf *core = r->confs[0];
    for (size_t i = 0; i < c->names->n; i++) {
        const lux_str *n = &c->names->items[i];
        if (n->len == 0 || memchr(n->ptr, '/', n->len))
            continue; /* only names inside the directory */
        size_t len = r->physical.len + n->len;
        char *p = lux_pool_alloc(r->pool, len + 1);
        if (!p)
            return LUX_ERROR;
        memcpy(p, r->physical.ptr, r->physical.len);
        memcpy(p + r->physical.len, n->ptr, n->len);
        p[len] = '\0';
        lux_file *f = lux_stat_cache_open(r->worker, p, len, core->follow_symlink);
        if (!f)
            continue;
        if (S_ISDIR(f->mode)) {
            lux_file_unref(f);
            continue;
        }
        lux_file_unref(r->file);
        r->file = f;
        r->physical = (lux_str){p, len};
        char *path = lux_pool_alloc(r->pool, r->path.len + n->len + 1);
        if (!path)
            return LUX_ERROR;
        memcpy(path, r->path.ptr, r->path.len);
        memcpy(path + r->path.len, n->ptr, n->len);
        path[r->path.len + n->len] = '\0';
        r->path = (lux_str){path, r->path.len + n->len};
        return LUX_GO_ON;
    }
    return LUX_GO_ON;
}

const lux_module lux_mod_indexfile = {
    .name = "mod_indexfile",
    .api_version = LUX_MODULE_API_VERSION,
    .directives = indexfile_directives,
    .conf_size = sizeof(indexfile_conf),
    .prepare = indexfile_prepare,
};
