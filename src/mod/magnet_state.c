/*
 * The per-thread Lua state lives in thread-specific storage, closed by the key's destructor
 * when the worker ends. Its allocator counts every byte so that magnet.max-memory can refuse
 * growth (Lua turns a refused allocation into a "not enough memory" error, which the script's
 * protected call catches); a count hook enforces magnet.max-instructions the same way.
 */
#include "mod/magnet_state.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lux/log.h"
#include "mod/magnet_api.h"

/* Instructions between two looks at the budget: cheap enough, and fine-grained enough. */
#define COUNT_STEP 1000

typedef struct script script;
struct script {
    script *next;
    char *path;
    time_t checked; /* when the file was last looked at */
    struct timespec mtime;
    off_t size;
    ino_t ino;
    int ref; /* the compiled function in the registry, LUA_NOREF when it failed to load */
};

typedef struct {
    lua_State *L;
    size_t used, max_memory; /* bytes held by the state; 0: no limit */
    long executed, max_instructions;
    script *scripts;
} thread_state;

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static int state_key_ok;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    thread_state *ts = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        ts->used -= old;
        return NULL;
    }
    if (nsize > old && ts->max_memory && ts->used + (nsize - old) > ts->max_memory)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        ts->used = ts->used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    void *ud;
    lua_getallocf(L, &ud);
    thread_state *ts = ud;
    ts->executed += COUNT_STEP;
    if (ts->max_instructions && ts->executed > ts->max_instructions)
        luaL_error(L, "script stopped after %d instructions (magnet.max-instructions)",
                   (int)ts->max_instructions);
}

static void state_free(void *p) {
    thread_state *ts = p;
    for (script *s = ts->scripts, *next; s; s = next) {
        next = s->next;
        free(s->path);
        free(s);
    }
    if (ts->L)
        lua_close(ts->L);
    free(ts);
}

static void state_key_create(void) {
    state_key_ok = pthread_key_create(&state_key, state_free) == 0;
}

/* print() writes its first argument to the error log, as lighttpd's does, instead of to a
 * stdout nobody reads; control characters are escaped so that one call stays one line. */
static int log_print(lua_State *L) {
    size_t n = 0;
    const char *s = lua_tolstring(L, 1, &n);
    if (!s) {
        s = "(null)";
        n = 6;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            luaL_addstring(&b, "\\n");
        else if (c == '\r')
            luaL_addstring(&b, "\\r");
        else if (c == '\t')
            luaL_addstring(&b, "\\t");
        else if (c < 0x20 || c == 0x7f) {
            luaL_addstring(&b, "\\x");
            luaL_addchar(&b, "0123456789ABCDEF"[c >> 4]);
            luaL_addchar(&b, "0123456789ABCDEF"[c & 15]);
        } else
            luaL_addchar(&b, (char)c);
    }
    luaL_pushresult(&b);
    lux_log(LUX_LOG_ERR, "mod_magnet: (lua-print) %s", lua_tostring(L, -1));
    return 0;
}

/* A script's os.exit would end the whole server, every worker's connections with it. */
static int refuse_exit(lua_State *L) {
    return luaL_error(L, "os.exit would stop the server: not available to mod_magnet scripts");
}

static int open_state(lua_State *L) {
    luaL_openlibs(L);
    lua_register(L, "print", log_print);
    lua_getglobal(L, "os");
    lua_pushcfunction(L, refuse_exit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
    magnet_api_open(L);
    return 0;
}

static thread_state *state_new(void) {
    thread_state *ts = calloc(1, sizeof *ts);
    if (!ts)
        return NULL;
    ts->L = lua_newstate(counting_alloc, ts);
    if (ts->L) {
        lua_pushcfunction(ts->L, open_state);
        if (lua_pcall(ts->L, 0, 0, 0) != LUA_OK) {
            lux_log(LUX_LOG_ERR, "mod_magnet: cannot set up Lua: %s", lua_tostring(ts->L, -1));
            lua_close(ts->L);
            ts->L = NULL;
        }
    }
    if (!ts->L || pthread_setspecific(state_key, ts) != 0) {
        state_free(ts);
        return NULL;
    }
    lua_sethook(ts->L, count_hook, LUA_MASKCOUNT, COUNT_STEP);
    return ts;
}

lua_State *magnet_state(void) {
    pthread_once(&state_once, state_key_create);
    if (!state_key_ok)
        return NULL;
    thread_state *ts = pthread_getspecific(state_key);
    if (!ts)
        ts = state_new();
    return ts ? ts->L : NULL;
}

static thread_state *owner(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

void magnet_limits(lua_State *L, size_t max_memory, long max_instructions) {
    thread_state *ts = owner(L);
    ts->max_memory = max_memory;
    ts->max_instructions = max_instructions;
    ts->executed = 0;
}

void magnet_recover(lua_State *L) {
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
}

static int same_file(const script *s, const struct stat *st) {
    return s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           s->size == st->st_size && s->ino == st->st_ino;
}

/* Compile s from its file; the loader runs without the limits of a request. */
static void compile(lua_State *L, script *s, const struct stat *st) {
    luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
    s->ref = LUA_NOREF;
    s->mtime = st->st_mtim;
    s->size = st->st_size;
    s->ino = st->st_ino;
    thread_state *ts = owner(L);
    size_t max_memory = ts->max_memory;
    ts->max_memory = 0;
    if (luaL_loadfilex(L, s->path, NULL) != LUA_OK) {
        lux_log(LUX_LOG_ERR, "mod_magnet: cannot load %s: %s", s->path, lua_tostring(L, -1));
        lua_pop(L, 1);
    } else {
        s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    ts->max_memory = max_memory;
}

static script *find_or_add(thread_state *ts, const char *path) {
    for (script *s = ts->scripts; s; s = s->next)
        if (strcmp(s->path, path) == 0)
            return s;
    script *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return NULL;
    }
    s->ref = LUA_NOREF;
    s->checked = (time_t)-1;
    s->next = ts->scripts;
    ts->scripts = s;
    return s;
}

int magnet_script_push(lua_State *L, const char *path, time_t now, long cache_timeout) {
    thread_state *ts = owner(L);
    script *s = find_or_add(ts, path);
    if (!s)
        return -1;
    int fresh = s->checked == (time_t)-1;
    if (fresh || now - s->checked >= cache_timeout || now < s->checked) {
        s->checked = now;
        struct stat st;
        if (stat(path, &st) != 0) {
            if (fresh || s->ref != LUA_NOREF)
                lux_log(LUX_LOG_ERR, "mod_magnet: cannot read %s: %s", path, strerror(errno));
            luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
            s->ref = LUA_NOREF;
            s->size = -1;
            return -1;
        }
        if (fresh || !same_file(s, &st))
            compile(L, s, &st);
    }
    if (s->ref == LUA_NOREF)
        return -1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
    return 0;
}
