/* The modules linked into lux. server.modules enables them by name. */
#include "core/core_conf.h"
#include "core/gen.h"

extern const lux_module lux_mod_indexfile, lux_mod_dirlisting, lux_mod_staticfile;
extern const lux_module lux_mod_accesslog;
extern const lux_module lux_mod_access, lux_mod_alias, lux_mod_setenv, lux_mod_expire;
extern const lux_module lux_mod_redirect, lux_mod_rewrite;
extern const lux_module lux_mod_openssl;
extern const lux_module lux_mod_cgi, lux_mod_fastcgi, lux_mod_scgi, lux_mod_proxy;

const lux_module *const lux_builtin_modules[] = {
    &lux_core_module,
    &lux_mod_indexfile,
    &lux_mod_dirlisting,
    &lux_mod_staticfile,
    &lux_mod_accesslog,
    &lux_mod_access,
    &lux_mod_alias,
    &lux_mod_setenv,
    &lux_mod_expire,
    &lux_mod_redirect,
    &lux_mod_rewrite,
    &lux_mod_openssl,
    &lux_mod_cgi,
    &lux_mod_fastcgi,
    &lux_mod_scgi,
    &lux_mod_proxy,
    NULL,
};
