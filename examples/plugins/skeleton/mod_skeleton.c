/*
 * mod_skeleton: the smallest useful module, to copy. It answers requests for one path
 * (skeleton.path, default "/skeleton") with a line of text (skeleton.text).
 *
 *   cc $(pkg-config --cflags lux) -shared -fPIC mod_skeleton.c -o mod_skeleton.so
 *   server.modules += ( "mod_skeleton" )     # loads mod_skeleton.so from the module directory
 *
 * Rename it: the file is NAME.so, the table `const lux_module NAME_module` and its .name "NAME".
 */
#include <string.h>

#include "lux/req.h"

typedef struct {
    lux_str path; /* skeleton.path */
    lux_str text; /* skeleton.text */
} skeleton_conf;

static const lux_directive skeleton_directives[] = {
    {"skeleton.path", LUX_D_STRING, offsetof(skeleton_conf, path), LUX_SCOPE_ANY},
    {"skeleton.text", LUX_D_STRING, offsetof(skeleton_conf, text), LUX_SCOPE_ANY},
    {NULL},
};

static void skeleton_conf_init(void *p) {
    skeleton_conf *c = p;
    c->path = (lux_str){"/skeleton", 9};
    c->text = (lux_str){"hello from mod_skeleton\n", 24};
}

static lux_result skeleton_handle(lux_req *r, const void *conf) {
    const skeleton_conf *c = conf;
    if (r->path.len != c->path.len || memcmp(r->path.ptr, c->path.ptr, c->path.len) != 0)
        return LUX_GO_ON;
    r->status = 200;
    if (lux_resp_header(r, "Content-Type", 12, "text/plain", 10) < 0 ||
        lux_resp_body_mem(r, c->text.ptr, c->text.len) < 0) /* the settings outlive r */
        return LUX_ERROR;
    return LUX_HANDLED;
}

const lux_module mod_skeleton_module = {
    .name = "mod_skeleton",
    .api_version = LUX_MODULE_API_VERSION,
    .abi = LUX_MODULE_ABI,
    .directives = skeleton_directives,
    .conf_size = sizeof(skeleton_conf),
    .conf_init = skeleton_conf_init,
    .handle = skeleton_handle,
};
