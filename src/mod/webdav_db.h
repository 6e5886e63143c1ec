/*
 * mod_webdav's store (webdav.sqlite-db-name): dead properties and locks, in SQLite. A resource
 * is named by its URL path without a trailing slash ("/" for the root). A request opens the
 * database when it needs it and closes it when done: workers share the file, SQLite's own
 * locking (with a busy timeout) keeps them apart.
 */
#ifndef LUX_WEBDAV_DB_H
#define LUX_WEBDAV_DB_H

#include <stddef.h>
#include <time.h>

typedef struct sqlite3 sqlite3;

/* Open (creating the tables when missing); NULL on failure (logged). */
sqlite3 *webdav_db_open(const char *path);
void webdav_db_close(sqlite3 *db);

/* Dead properties. value is the XML content as the client wrote it. 0 or -1. */
int webdav_prop_set(sqlite3 *db, const char *res, const char *ns, const char *name,
                    const char *value, size_t vlen);
int webdav_prop_remove(sqlite3 *db, const char *res, const char *ns, const char *name);
/* Calls fn for each property of res (or only ns:name when name is not NULL). */
typedef void (*webdav_prop_fn)(void *arg, const char *ns, const char *name, const char *value);
int webdav_prop_each(sqlite3 *db, const char *res, const char *ns, const char *name,
                     webdav_prop_fn fn, void *arg);
/* The properties of res and everything beneath it: copied to, moved to, or deleted. */
int webdav_props_copy(sqlite3 *db, const char *src, const char *dst);
int webdav_props_move(sqlite3 *db, const char *src, const char *dst);
int webdav_props_delete(sqlite3 *db, const char *res);

int webdav_db_begin(sqlite3 *db);
int webdav_db_commit(sqlite3 *db);
void webdav_db_rollback(sqlite3 *db);

typedef struct {
    const char *token;    /* "urn:uuid:..." */
    const char *resource; /* the locked resource */
    const char *owner;    /* the owner element's content as written, "" when none */
    int exclusive;
    int infinite; /* Depth: infinity */
    long timeout; /* seconds it was granted for */
    time_t expires;
} webdav_lock;

/* Calls fn for every unexpired lock that applies to res: on res, on an ancestor with depth
 * infinity, and, when with_descendants, on anything beneath res. */
typedef void (*webdav_lock_fn)(void *arg, const webdav_lock *l);
int webdav_lock_each(sqlite3 *db, const char *res, int with_descendants, time_t now,
                     webdav_lock_fn fn, void *arg);
/* Add l; expired locks are removed first. */
int webdav_lock_add(sqlite3 *db, const webdav_lock *l, time_t now);
/* Extend lock token to expire at `expires`; 1 when refreshed, 0 when no such lock, -1. */
int webdav_lock_refresh(sqlite3 *db, const char *token, long timeout, time_t expires);
int webdav_lock_remove(sqlite3 *db, const char *token);
/* Locks on res and beneath it are gone (the resource was deleted or moved away). */
int webdav_locks_delete(sqlite3 *db, const char *res);

#endif
