/* The modules linked into lux. server.modules enables them by name. */
#include "core/core_conf.h"
#include "core/gen.h"

extern const lux_module lux_mod_indexfile, lux_mod_dirlisting, lux_mod_staticfile;
extern const lux_module lux_mod_accesslog;
extern const lux_module lux_mod_access, lux_mod_alias, lux_mod_setenv, lux_mod_expire;
extern const lux_module lux_mod_redirect, lux_mod_rewrite;
extern const lux_module lux_mod_openssl;
extern const lux_module lux_mod_status;
extern const lux_module lux_mod_simple_vhost, lux_mod_evhost, lux_mod_userdir;
extern const lux_module lux_mod_secdownload, lux_mod_extforward;
extern const lux_module lux_mod_evasive;
extern const lux_module lux_mod_ssi;
extern const lux_module lux_mod_health;
extern const lux_module lux_mod_deflate, lux_mod_compress;
extern const lux_module lux_mod_cgi;
extern const lux_module lux_mod_auth;
extern const lux_module lux_mod_authn_file;
extern const lux_module lux_mod_magnet;
extern const lux_module lux_mod_fastcgi;
extern const lux_module lux_mod_proxy;
extern const lux_module lux_mod_scgi;
extern const lux_module lux_mod_sockproxy;
extern const lux_module lux_mod_wstunnel;
extern const lux_module lux_mod_webdav;

/* One module per line, so that adding one is a one-line change. */
/* clang-format off */
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
    &lux_mod_status,
    &lux_mod_simple_vhost,
    &lux_mod_evhost,
    &lux_mod_userdir,
    &lux_mod_secdownload,
    &lux_mod_extforward,
    &lux_mod_evasive,
    &lux_mod_ssi,
    &lux_mod_health,
    &lux_mod_deflate,
    &lux_mod_compress,
    &lux_mod_cgi,
    &lux_mod_auth,
    &lux_mod_authn_file,
    &lux_mod_magnet,
    &lux_mod_fastcgi,
    &lux_mod_proxy,
    &lux_mod_scgi,
    &lux_mod_sockproxy,
    &lux_mod_wstunnel,
    &lux_mod_webdav,
    NULL,
};
/* clang-format on */
