/* The modules linked into lux. server.modules enables them by name. */
#include "core/core_conf.h"
#include "core/gen.h"

extern const lux_module lux_mod_indexfile, lux_mod_dirlisting, lux_mod_staticfile;

const lux_module *const lux_builtin_modules[] = {
    &lux_core_module,
    &lux_mod_indexfile,
    &lux_mod_dirlisting,
    &lux_mod_staticfile,
    NULL,
};
