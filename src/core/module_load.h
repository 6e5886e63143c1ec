/*
 * Loadable modules: a name in server.modules that is not built in is NAME.so in the module
 * directory, exporting `const lux_module NAME_module`. Objects are loaded on the main thread
 * while a configuration is built, once per process: a reload finds them loaded, and they are
 * never unloaded, since a generation still serving requests may point into them.
 */
#ifndef LUX_MODULE_LOAD_H
#define LUX_MODULE_LOAD_H

#include <stddef.h>

#include "lux/module.h"

/* The directory -m names; it overrides server.modules-dir. NULL forgets it. */
void lux_module_dir_override(const char *dir);
/* The directory modules load from: -m, else config_dir (server.modules-dir) when non-NULL, else
 * the one set at build time. */
const char *lux_module_dir(const char *config_dir);
/* Is NAME.so there to load (or loaded already)? */
int lux_module_available(const char *name, const char *config_dir);
/*
 * Module `name`, loaded now or earlier from the module directory, its API version and ABI stamp
 * checked. NULL with a message (naming the file) in err when it cannot be used.
 */
const lux_module *lux_module_load(const char *name, const char *config_dir, char *err,
                                  size_t errlen);

#endif
