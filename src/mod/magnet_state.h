/*
 * mod_magnet's Lua side, per worker thread: one lua_State per thread (a connection never leaves
 * its worker, so no lock), its compiled scripts, and the limits that stop a runaway script.
 */
#ifndef LUX_MAGNET_STATE_H
#define LUX_MAGNET_STATE_H

#include <lua.h>
#include <time.h>

/* This thread's state, created on first use with the lighty API; NULL when out of memory. */
lua_State *magnet_state(void);

/* Limits for the next script run: bytes the whole state may hold, Lua instructions it may
 * execute (counted from this call). 0 means no limit. */
void magnet_limits(lua_State *L, size_t max_memory, long max_instructions);

/*
 * Push the compiled function of the script at path, loading it on first use and again when
 * the file changed (looked at no more than once per cache_timeout seconds). Returns 0, or -1
 * when it cannot be read or compiled (logged, with Lua's message, once per version of the
 * file), with nothing pushed.
 */
int magnet_script_push(lua_State *L, const char *path, time_t now, long cache_timeout);

/* Collect garbage after a script failed (a memory bomb leaves its garbage behind). */
void magnet_recover(lua_State *L);

#endif
