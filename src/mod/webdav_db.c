/* mod_webdav's SQLite store of dead properties and locks. */
#include "mod/webdav_db.h"

#include <sqlite3.h>
#include <string.h>

#include "lux/log.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS properties (resource TEXT NOT NULL, prop TEXT NOT NULL, "
    "ns TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(resource, prop, ns));"
    "CREATE TABLE IF NOT EXISTS locks (locktoken TEXT NOT NULL PRIMARY KEY, resource TEXT NOT "
    "NULL, lockscope TEXT NOT NULL, locktype TEXT NOT NULL, owner TEXT NOT NULL, depth INT NOT "
    "NULL, timeout INT NOT NULL, expires INT NOT NULL);";

sqlite3 *webdav_db_open(const char *path) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        lux_log(LUX_LOG_ERR, "webdav: cannot open %s: %s", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        lux_log(LUX_LOG_ERR, "webdav: %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void webdav_db_close(sqlite3 *db) {
    sqlite3_close(db);
}

int webdav_db_begin(sqlite3 *db) {
    return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}
int webdav_db_commit(sqlite3 *db) {
    return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}
void webdav_db_rollback(sqlite3 *db) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Prepare sql and bind the strings of args (NULL ends the list). */
static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, const char *const *args) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    for (int i = 0; args && args[i]; i++)
        if (sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC) != SQLITE_OK) {
            sqlite3_finalize(st);
            return NULL;
        }
    return st;
}

static int run(sqlite3 *db, const char *sql, const char *const *args) {
    sqlite3_stmt *st = prepare(db, sql, args);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int webdav_prop_set(sqlite3 *db, const char *res, const char *ns, const char *name,
                    const char *value, size_t vlen) {
    const char *args[] = {res, name, ns, NULL};
    sqlite3_stmt *st = prepare(
        db, "REPLACE INTO properties (resource, prop, ns, value) VALUES (?1, ?2, ?3, ?4)", args);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 4, value, (int)vlen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int webdav_prop_remove(sqlite3 *db, const char *res, const char *ns, const char *name) {
    const char *args[] = {res, name, ns, NULL};
    return run(db, "DELETE FROM properties WHERE resource = ?1 AND prop = ?2 AND ns = ?3", args);
}

int webdav_prop_each(sqlite3 *db, const char *res, const char *ns, const char *name,
                     webdav_prop_fn fn, void *arg) {
    const char *args[] = {res, name, ns, NULL};
    sqlite3_stmt *st =
        name ? prepare(db,
                       "SELECT ns, prop, value FROM properties WHERE resource = ?1 AND prop = ?2 "
                       "AND ns = ?3",
                       args)
             : prepare(db, "SELECT ns, prop, value FROM properties WHERE resource = ?1", args);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* "resource is res or beneath it": res itself, or res + "/" as a prefix (substr, not LIKE,
 * so that '%' and '_' in names mean themselves). The root "/" covers everything. */
#define SUBTREE(col) "(" col " = ?1 OR ?1 = '/' OR substr(" col ", 1, length(?1) + 1) = ?1 || '/')"

int webdav_props_copy(sqlite3 *db, const char *src, const char *dst) {
    const char *args[] = {src, dst, NULL};
    return run(db,
               "REPLACE INTO properties (resource, prop, ns, value) SELECT ?2 || "
               "substr(resource, length(?1) + 1), prop, ns, value FROM properties WHERE " SUBTREE(
                   "resource"),
               args);
}

int webdav_props_delete(sqlite3 *db, const char *res) {
    const char *args[] = {res, NULL};
    return run(db, "DELETE FROM properties WHERE " SUBTREE("resource"), args);
}

int webdav_props_move(sqlite3 *db, const char *src, const char *dst) {
    if (webdav_props_delete(db, dst) < 0)
        return -1;
    const char *args[] = {src, dst, NULL};
    return run(db,
               "UPDATE properties SET resource = ?2 || substr(resource, length(?1) + 1) "
               "WHERE " SUBTREE("resource"),
               args);
}

/* Unexpired locks (?2: now) ... */
#define LOCKS_WHERE                                                                                \
    "SELECT locktoken, resource, owner, lockscope, depth, timeout, expires FROM locks WHERE "      \
    "expires >= ?2 AND "
/* ... held with depth infinity on an ancestor of ?1. */
#define ANCESTOR_LOCK                                                                              \
    "(depth = -1 AND (resource = '/' OR substr(?1, 1, length(resource) + 1) = resource || '/'))"

int webdav_lock_each(sqlite3 *db, const char *res, int with_descendants, time_t now,
                     webdav_lock_fn fn, void *arg) {
    const char *args[] = {res, NULL};
    sqlite3_stmt *st =
        prepare(db,
                with_descendants ? LOCKS_WHERE "(" SUBTREE("resource") " OR " ANCESTOR_LOCK ")"
                                 : LOCKS_WHERE "(resource = ?1 OR " ANCESTOR_LOCK ")",
                args);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        webdav_lock l = {
            .token = (const char *)sqlite3_column_text(st, 0),
            .resource = (const char *)sqlite3_column_text(st, 1),
            .owner = (const char *)sqlite3_column_text(st, 2),
            .exclusive = strcmp((const char *)sqlite3_column_text(st, 3), "exclusive") == 0,
            .infinite = sqlite3_column_int(st, 4) == -1,
            .timeout = (long)sqlite3_column_int64(st, 5),
            .expires = (time_t)sqlite3_column_int64(st, 6),
        };
        fn(arg, &l);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Expired locks are skipped by every lookup and pruned when a lock is added: reads never write. */
static void prune_expired(sqlite3 *db, time_t now) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM locks WHERE expires < ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
}

int webdav_lock_add(sqlite3 *db, const webdav_lock *l, time_t now) {
    prune_expired(db, now);
    const char *args[] = {l->token, l->resource, l->exclusive ? "exclusive" : "shared", l->owner,
                          NULL};
    sqlite3_stmt *st = prepare(db,
                               "INSERT INTO locks (locktoken, resource, lockscope, locktype, "
                               "owner, depth, timeout, expires) VALUES (?1, ?2, ?3, 'write', ?4, "
                               "?5, ?6, ?7)",
                               args);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 5, l->infinite ? -1 : 0);
    sqlite3_bind_int64(st, 6, l->timeout);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)l->expires);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int webdav_lock_refresh(sqlite3 *db, const char *token, long timeout, time_t expires) {
    const char *args[] = {token, NULL};
    sqlite3_stmt *st =
        prepare(db, "UPDATE locks SET timeout = ?2, expires = ?3 WHERE locktoken = ?1", args);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 2, timeout);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)expires);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc != SQLITE_DONE ? -1 : sqlite3_changes(db) > 0;
}

int webdav_lock_remove(sqlite3 *db, const char *token) {
    const char *args[] = {token, NULL};
    return run(db, "DELETE FROM locks WHERE locktoken = ?1", args);
}

int webdav_locks_delete(sqlite3 *db, const char *res) {
    const char *args[] = {res, NULL};
    return run(db, "DELETE FROM locks WHERE " SUBTREE("resource"), args);
}
