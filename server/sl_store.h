/*
 * sl_store.h - the SQLite store in the data directory: WAL mode, schema
 * versioned by PRAGMA user_version, a small pool of connections so request
 * threads never share one. Every write is committed before it returns.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stddef.h>

#include "sl_law_json.h"

typedef struct sl_store sl_store;

typedef enum sl_store_status {
    SL_STORE_OK = 0,
    SL_STORE_NOT_FOUND = -1,
    SL_STORE_CONFLICT = -2, /* e.g. writing a built-in law */
    SL_STORE_ERROR = -3,    /* SQLite failed; logged, nothing changed */
} sl_store_status;

/* Opens (creating) DIR/sparselaw.db with `connections` pooled connections,
 * migrates the schema and loads the built-in laws if absent. On failure
 * returns NULL and writes why into errbuf. */
sl_store *sl_store_open(const char *dir, int connections, char *errbuf, size_t cap);
/* Checkpoints the WAL into the database file and closes. */
void sl_store_close(sl_store *store);

/* The schema version this build writes. */
int sl_store_schema_version(void);

/* version 0 means the latest. */
int sl_store_law_get(sl_store *store, const char *name, long version, sl_law_record *out);

typedef int (*sl_store_law_fn)(const sl_law_record *rec, void *ctx);
/* Calls fn for the latest version of every law, by name. */
int sl_store_law_list(sl_store *store, sl_store_law_fn fn, void *ctx);
/* Calls fn for every version of one law, oldest first; NOT_FOUND if none. */
int sl_store_law_versions(sl_store *store, const char *name, sl_store_law_fn fn, void *ctx);

/* Adds a new version of rec->name with rec's content; sets rec->version,
 * rec->created_at and *created (1 when no live law had the name). CONFLICT
 * for a built-in law. */
int sl_store_law_put(sl_store *store, sl_law_record *rec, int *created);
/* Removes a user law and its versions. CONFLICT for a built-in law. A law
 * written again under the name later continues the version count. */
int sl_store_law_delete(sl_store *store, const char *name);

#endif
