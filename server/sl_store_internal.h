/*
 * sl_store_internal.h - what the store's files share and nothing outside
 * them sees. sl_store.c is the core (the pool, migrations, transactions,
 * the statement cache, the bind and copy helpers); each resource file
 * (sl_store_laws.c, sl_store_datasets.c, sl_store_fits.c, sl_store_runs.c)
 * owns its SQL and registers it here as a table of statements, and offers
 * the others the few steps they take inside their own transactions: a fit
 * publishes a law version, a sweep creates a dataset and a fit.
 */
#ifndef SL_STORE_INTERNAL_H
#define SL_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>

#include "sl_store.h"

/* The current time in SQL, as the schema's defaults write it. */
#define SL_STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* ---- statements: each resource's SQL, prepared once per connection ---- */

typedef enum sl_store_resource {
    SL_STORE_LAWS = 0,
    SL_STORE_DATASETS,
    SL_STORE_FITS,
    SL_STORE_RUNS, /* runs and sweeps */
    SL_STORE_RESOURCE_COUNT
} sl_store_resource;

/* A resource's statements: SQL text indexed by the resource's own enum. */
typedef struct sl_store_statements {
    const char *const *sql;
    size_t count;
} sl_store_statements;

extern const sl_store_statements sl_store_law_statements;
extern const sl_store_statements sl_store_dataset_statements;
extern const sl_store_statements sl_store_fit_statements;
extern const sl_store_statements sl_store_run_statements;

/* One pooled connection; stmt[r][i] is statement i of resource r, NULL
 * until first used. */
typedef struct sl_store_conn {
    sqlite3 *db;
    sqlite3_stmt **stmt[SL_STORE_RESOURCE_COUNT];
} sl_store_conn;

/* Statement id of resource r on c, prepared on first use; NULL (logged)
 * when SQLite cannot prepare it. */
sqlite3_stmt *sl_store_stmt(sl_store_conn *c, sl_store_resource r, int id);

/* ---- the store and its pool ---- */

/* The latest version of recently asked laws. A version never changes once
 * written, so an entry is only wrong after a write to its name; writers drop
 * it after committing and bump `generation`, and a reader only caches what it
 * read if no write happened meanwhile. Saves a read transaction per query. */
#define SL_STORE_LAW_CACHE_SIZE 32

typedef struct sl_store_law_cache {
    pthread_rwlock_t lock;
    unsigned long generation;
    size_t ncached, next_evict;
    sl_law_record cached[SL_STORE_LAW_CACHE_SIZE];
} sl_store_law_cache;

struct sl_store {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int count;
    int nfree;
    int *free_ids;
    sl_store_conn *conns;
    int lock_fd;     /* DIR/lock, flock'ed for the life of the store; -1 when not held */
    char path[4096]; /* DIR/sparselaw.db, for the health check's own connection */
    int read_only;   /* the database cannot be written: it serves reads, runs nothing */

    sl_store_law_cache law_cache;
};

/* A free connection, waiting for one if all are taken; give it back with
 * sl_store_release. */
sl_store_conn *sl_store_acquire(sl_store *s);
void sl_store_release(sl_store *s, sl_store_conn *c);

/* Runs body(c, ctx) inside BEGIN IMMEDIATE ... COMMIT; rolls back unless it
 * returns SL_STORE_OK and the commit succeeds. */
int sl_store_in_transaction(sl_store *s, int (*body)(sl_store_conn *c, void *ctx), void *ctx);

/* ---- SQLite helpers ---- */

/* One error line on stderr: what failed and SQLite's message. */
void sl_store_log_sqlite(sqlite3 *db, const char *what);
/* sqlite3_exec, logging a failure; 0 or -1. */
int sl_store_exec(sqlite3 *db, const char *sql);
/* Resets st and clears its bindings for the next use (NULL: nothing). */
void sl_store_reset(sqlite3_stmt *st);
/* A statement that changes rows and returns none, bound by the caller. */
int sl_store_step_done(sl_store_conn *c, sqlite3_stmt *st, const char *what);
/* Binds text that outlives the statement's step (SQLITE_STATIC). Text that
 * is not UTF-8 is bound as a copy with each stray byte made U+FFFD: the
 * store holds UTF-8 only (clients' text is refused before it gets here). */
void sl_store_bind_text(sqlite3_stmt *st, int i, const char *text);
/* Column col as text into dst ("" for NULL), cut to cap at a character
 * boundary; a stray byte (a row an older server wrote) reads as U+FFFD, so
 * what the store hands out always encodes as JSON. */
void sl_store_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col);
/* Column col as malloc'd text (UTF-8 as above), or NULL for NULL. */
char *sl_store_dup_column(sqlite3_stmt *st, int col);
/* The index of text in names[0..n), or unknown when it is not there. */
int sl_store_name_index(const unsigned char *text, const char *const *names, int n, int unknown);
/* Steps st, whose rows are (state name, count), into counts[0..n) (zeroed
 * first) at each name's index in names (unknown for one not there), and
 * resets it. OK, or ERROR. */
int sl_store_state_counts(sqlite3_stmt *st, const char *const *names, int n, int unknown,
                          long long *counts);

/* ---- steps one resource takes inside another's transaction ---- */

/* Laws (sl_store_laws.c). */
/* Whether name is a live law, and whose: one of these, or SL_STORE_ERROR on
 * failure. */
enum { SL_STORE_LAW_ABSENT, SL_STORE_LAW_USER, SL_STORE_LAW_BUILTIN };
int sl_store_law_state(sl_store_conn *c, const char *name);
/* Inserts a version on c inside the caller's transaction, with its
 * bootstrap draws (none: NULL, 0). */
int sl_store_law_insert_version(sl_store_conn *c, sl_law_record *rec, const sl_law *draws,
                                size_t ndraws, const double *draw_eta);
/* After a committed write to name: its cached latest version is stale. */
void sl_store_law_cache_drop(sl_store *s, const char *name);
/* At open: loads the built-in laws not yet in the database. 0 or -1. */
int sl_store_law_load_builtins(sl_store_conn *c);

/* Datasets (sl_store_datasets.c). */
/* The dataset's info on c; NOT_FOUND or ERROR otherwise. */
int sl_store_dataset_read(sl_store_conn *c, long long id, sl_dataset_info *out);
/* Inserts a new dataset named name with ds's rows on c, inside the caller's
 * transaction; its id into *id and its info into out. */
int sl_store_dataset_insert(sl_store_conn *c, const char *name, const sl_dataset *ds,
                            sl_dataset_info *out, long long *id);

/* Fits (sl_store_fits.c). */
/* Queues a fit on c inside the caller's transaction; NOT_FOUND when the
 * dataset does not exist. */
int sl_store_fit_insert(sl_store_conn *c, long long dataset_id, const char *law,
                        const char *request, long long *id);

#endif
