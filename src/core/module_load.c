/* Loading modules from shared objects (see module_load.h). */
#include "core/module_load.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LUX_MODULE_DIR
#error "LUX_MODULE_DIR (PREFIX/lib/lux/modules) is set by the Makefile"
#endif

/* Loaded objects: only the main thread touches the list (config builds), and it only grows. */
typedef struct loaded_module {
    struct loaded_module *next;
    char *name;
    void *handle;
    const lux_module *module;
} loaded_module;

static loaded_module *loaded;
static char *dir_override;

void lux_module_dir_override(const char *dir) {
    free(dir_override);
    dir_override = dir ? strdup(dir) : NULL;
}

const char *lux_module_dir(const char *config_dir) {
    if (dir_override)
        return dir_override;
    return config_dir && config_dir[0] ? config_dir : LUX_MODULE_DIR;
}

static const loaded_module *find_loaded(const char *name) {
    for (const loaded_module *l = loaded; l; l = l->next)
        if (strcmp(l->name, name) == 0)
            return l;
    return NULL;
}

/* A module name is a file name in the module directory, never a path out of it. */
static int valid_name(const char *name) {
    if (!name[0] || name[0] == '.' || strlen(name) > 200)
        return 0;
    for (const char *p = name; *p; p++)
        if (!(*p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

static int object_path(char *buf, size_t len, const char *name, const char *config_dir) {
    int n = snprintf(buf, len, "%s/%s.so", lux_module_dir(config_dir), name);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int lux_module_available(const char *name, const char *config_dir) {
    char path[4096];
    if (find_loaded(name))
        return 1;
    return valid_name(name) && object_path(path, sizeof path, name, config_dir) == 0 &&
           access(path, F_OK) == 0;
}

/* Does the table's ABI stamp match these headers? Otherwise say which size differs. */
static int check_abi(const lux_module *m, const char *path, char *err, size_t el) {
    static const lux_abi want = LUX_MODULE_ABI;
    static const struct {
        const char *name;
        size_t offset;
    } sizes[] = {
        {"lux_module", offsetof(lux_abi, module)}, {"lux_directive", offsetof(lux_abi, directive)},
        {"lux_value", offsetof(lux_abi, value)},   {"lux_req", offsetof(lux_abi, req)},
        {"lux_chunk", offsetof(lux_abi, chunk)},   {"lux_timer", offsetof(lux_abi, timer)},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned short got, ours;
        memcpy(&got, (const char *)&m->abi + sizes[i].offset, sizeof got);
        memcpy(&ours, (const char *)&want + sizes[i].offset, sizeof ours);
        if (got != ours) {
            snprintf(err, el,
                     "%s was built against other lux headers (sizeof %s %u, lux has %u); "
                     "rebuild it with this version's include/lux",
                     path, sizes[i].name, got, ours);
            return -1;
        }
    }
    return 0;
}

/* The symbol must be an object large enough to hold the fields read before the ABI check
 * (an object of another kind would be read past its end). */
static int is_module_table(const void *sym) {
    Dl_info info;
    const ElfW(Sym) *entry = NULL;
    if (!dladdr1(sym, &info, (void **)&entry, RTLD_DL_SYMENT) || !entry)
        return 1; /* no symbol table entry to judge by: the version check decides */
    /* ELF32_ST_TYPE and ELF64_ST_TYPE are the same macro */
    return ELF32_ST_TYPE(entry->st_info) == STT_OBJECT &&
           entry->st_size >= offsetof(lux_module, abi) + sizeof(lux_abi);
}

static int check_module(const lux_module *m, const char *name, const char *path, char *err,
                        size_t el) {
    if (m->api_version != LUX_MODULE_API_VERSION) {
        snprintf(err, el, "%s was built for module API version %u, lux has version %u", path,
                 m->api_version, LUX_MODULE_API_VERSION);
        return -1;
    }
    if (check_abi(m, path, err, el) < 0)
        return -1;
    if (!m->name || strcmp(m->name, name) != 0) {
        snprintf(err, el, "%s names itself \"%s\", not \"%s\"", path, m->name ? m->name : "", name);
        return -1;
    }
    return 0;
}

static const lux_module *open_module(const char *name, const char *path, char *err, size_t el) {
    if (access(path, F_OK) < 0) {
        snprintf(err, el, "unknown module \"%s\": not built in, and %s: %s", name, path,
                 strerror(errno));
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, el, "cannot load module %s: %s", path, dlerror());
        return NULL;
    }
    char sym[256];
    snprintf(sym, sizeof sym, "%s_module", name);
    const lux_module *m = dlsym(h, sym);
    if (!m || !is_module_table(m)) {
        snprintf(err, el, "%s is not a lux module: it does not export %s%s", path, sym,
                 m ? " as a lux_module table" : "");
        dlclose(h);
        return NULL;
    }
    if (check_module(m, name, path, err, el) < 0) {
        dlclose(h);
        return NULL;
    }
    loaded_module *l = calloc(1, sizeof *l);
    if (!l || !(l->name = strdup(name))) {
        free(l);
        dlclose(h);
        snprintf(err, el, "out of memory");
        return NULL;
    }
    l->handle = h;
    l->module = m;
    l->next = loaded;
    loaded = l;
    return m;
}

const lux_module *lux_module_load(const char *name, const char *config_dir, char *err, size_t el) {
    const loaded_module *l = find_loaded(name);
    if (l)
        return l->module;
    if (!valid_name(name)) {
        snprintf(err, el, "invalid module name \"%s\"", name);
        return NULL;
    }
    char path[4096];
    if (object_path(path, sizeof path, name, config_dir) < 0) {
        snprintf(err, el, "module directory path too long");
        return NULL;
    }
    return open_module(name, path, err, el);
}
