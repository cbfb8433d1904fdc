#include "sl_store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A bootstrap draw is stored as its 7 coefficients, native doubles. */
#define DRAW_BYTES      (SL_LAW_NCOEF * sizeof(double))
#define DRAW_BYTES_TEXT "56"

/* Statements prepared once per connection, on first use. */
enum stmt_id {
    ST_LAW_LATEST,
    ST_LAW_VERSION,
    ST_LAW_LIST,
    ST_LAW_VERSIONS,
    ST_LAW_STATE,
    ST_LAW_NEXT_VERSION,
    ST_LAW_INSERT_NAME,
    ST_LAW_INSERT_VERSION,
    ST_LAW_DELETE,
    ST_LAW_DRAWS,
    ST_DATASET_INSERT,
    ST_DATASET_ROW,
    ST_DATASET_TOUCH,
    ST_DATASET_GET,
    ST_DATASET_LIST,
    ST_DATASET_ROWS,
    ST_DATASET_BUSY,
    ST_DATASET_DELETE,
    ST_FIT_INSERT,
    ST_FIT_GET,
    ST_FIT_CLAIM,
    ST_FIT_PROGRESS,
    ST_FIT_END,
    ST_FIT_REQUEUE,
    ST_FIT_COUNTS,
    ST_SWEEP_INSERT,
    ST_RUN_INSERT,
    ST_SWEEP_GET,
    ST_SWEEP_COUNTS,
    ST_SWEEP_RUNS,
    ST_SWEEP_CANCEL,
    ST_SWEEP_CANCEL_RUNS,
    ST_SWEEP_READY,
    ST_SWEEP_FINISH,
    ST_RUN_GET,
    ST_RUN_CANCEL,
    ST_RUN_ACTIVE_COUNT,
    ST_RUN_CLAIM,
    ST_RUN_SET_REF,
    ST_RUN_ACTIVE,
    ST_RUN_PROGRESS,
    ST_RUN_END,
    ST_RUN_RETRY,
    ST_RUN_TO_STOP,
    ST_RUN_STOPPED,
    ST_RUN_COUNTS,
    ST_RUN_SET_SECRET,
    ST_RUN_SECRET,
    ST_RUN_SET_REPORT,
    ST_COUNT
};

#define LAW_COLUMNS                                                                                \
    "v.name, v.version, v.description, v.a_s, v.b_s, v.c_s, v.b_n, v.a_d, v.b_d, v.c, "            \
    "v.data_unit, v.source_kind, v.reference, v.fit_id, v.created_at, l.builtin, "                 \
    "v.fit_json, coalesce(length(v.draws), 0) / " DRAW_BYTES_TEXT

#define NOW             "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
#define DATASET_COLUMNS "id, name, data_unit, rows, created_at, updated_at"
#define FIT_COLUMNS                                                                                \
    "id, state, dataset_id, law, request, result, error, progress, attempts, "                     \
    "published_version, created_at, coalesce(started_at, ''), coalesce(finished_at, '')"

#define SWEEP_COLUMNS                                                                              \
    "id, law, backend, state, request, error, coalesce(dataset_id, 0), coalesce(fit_id, 0), "      \
    "created_at, coalesce(finished_at, '')"
#define RUN_COLUMNS                                                                                \
    "id, sweep_id, state, point_key, backend, spec, coalesce(ref, ''), progress, result, "         \
    "error, last_error, attempts, max_attempts, not_before, created_at, "                          \
    "coalesce(started_at, ''), coalesce(finished_at, '')"
#define RUN_LIVE "('queued', 'submitted', 'running')"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_LAW_LATEST] = "SELECT " LAW_COLUMNS " FROM law_versions v JOIN laws l USING (name) "
                      "WHERE v.name = ?1 ORDER BY v.version DESC LIMIT 1",
    [ST_LAW_VERSION] = "SELECT " LAW_COLUMNS " FROM law_versions v JOIN laws l USING (name) "
                       "WHERE v.name = ?1 AND v.version = ?2",
    [ST_LAW_LIST] = "SELECT " LAW_COLUMNS " FROM law_versions v JOIN laws l USING (name) "
                    "WHERE v.version = (SELECT max(version) FROM law_versions w "
                    "WHERE w.name = v.name) ORDER BY v.name",
    [ST_LAW_VERSIONS] = "SELECT " LAW_COLUMNS " FROM law_versions v JOIN laws l USING (name) "
                        "WHERE v.name = ?1 ORDER BY v.version",
    [ST_LAW_STATE] = "SELECT builtin, EXISTS (SELECT 1 FROM law_versions WHERE name = ?1) "
                     "FROM laws WHERE name = ?1",
    /* Versions count on across a delete: (name, version) never names two laws. */
    [ST_LAW_NEXT_VERSION] = "UPDATE laws SET last_version = last_version + 1 WHERE name = ?1 "
                            "RETURNING last_version",
    [ST_LAW_INSERT_NAME] = "INSERT OR IGNORE INTO laws (name, builtin) VALUES (?1, ?2)",
    [ST_LAW_INSERT_VERSION] =
        "INSERT INTO law_versions (name, version, description, a_s, b_s, c_s, b_n, a_d, b_d, "
        "c, data_unit, source_kind, reference, fit_id, fit_json, draws) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
        "RETURNING created_at",
    [ST_LAW_DELETE] = "DELETE FROM law_versions WHERE name = ?1",
    [ST_LAW_DRAWS] = "SELECT draws FROM law_versions WHERE name = ?1 AND version = ?2",
    [ST_DATASET_INSERT] = "INSERT INTO datasets (name, data_unit) VALUES (?1, ?2) RETURNING id",
    [ST_DATASET_ROW] = "INSERT INTO dataset_rows (dataset_id, idx, sparsity, nonzeros, data, loss, "
                       "run_id, pattern, seed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_DATASET_TOUCH] = "UPDATE datasets SET rows = rows + ?2, updated_at = " NOW " WHERE id = ?1",
    [ST_DATASET_GET] = "SELECT " DATASET_COLUMNS " FROM datasets WHERE id = ?1",
    [ST_DATASET_LIST] = "SELECT " DATASET_COLUMNS " FROM datasets ORDER BY id",
    [ST_DATASET_ROWS] = "SELECT sparsity, nonzeros, data, loss, run_id, pattern, seed "
                        "FROM dataset_rows WHERE dataset_id = ?1 ORDER BY idx",
    [ST_DATASET_BUSY] = "SELECT count(*) FROM fits WHERE dataset_id = ?1 "
                        "AND state IN ('queued', 'running')",
    [ST_DATASET_DELETE] = "DELETE FROM datasets WHERE id = ?1",
    [ST_FIT_INSERT] =
        "INSERT INTO fits (dataset_id, law, request) VALUES (?1, ?2, ?3) RETURNING id",
    [ST_FIT_GET] = "SELECT " FIT_COLUMNS " FROM fits WHERE id = ?1",
    [ST_FIT_CLAIM] = "UPDATE fits SET state = 'running', attempts = attempts + 1, progress = 0, "
                     "started_at = " NOW " WHERE id = (SELECT id FROM fits WHERE state = 'queued' "
                     "ORDER BY id LIMIT 1) RETURNING " FIT_COLUMNS,
    [ST_FIT_PROGRESS] = "UPDATE fits SET progress = ?2 WHERE id = ?1 AND state = 'running'",
    [ST_FIT_END] = "UPDATE fits SET state = ?2, result = ?3, error = ?4, published_version = ?5, "
                   "finished_at = " NOW " WHERE id = ?1 AND state = 'running'",
    [ST_FIT_REQUEUE] = "UPDATE fits SET state = 'queued', progress = 0 WHERE state = 'running'",
    [ST_FIT_COUNTS] = "SELECT state, count(*) FROM fits GROUP BY state",
    [ST_SWEEP_INSERT] =
        "INSERT INTO sweeps (law, backend, request) VALUES (?1, ?2, ?3) RETURNING id",
    [ST_RUN_INSERT] =
        "INSERT OR IGNORE INTO runs (sweep_id, point_key, backend, spec, max_attempts) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_SWEEP_GET] = "SELECT " SWEEP_COLUMNS " FROM sweeps WHERE id = ?1",
    [ST_SWEEP_COUNTS] = "SELECT state, count(*) FROM runs WHERE sweep_id = ?1 GROUP BY state",
    [ST_SWEEP_RUNS] = "SELECT " RUN_COLUMNS " FROM runs WHERE sweep_id = ?1 ORDER BY id",
    [ST_SWEEP_CANCEL] = "UPDATE sweeps SET state = 'cancelled', finished_at = " NOW
                        " WHERE id = ?1 AND state = 'running'",
    [ST_SWEEP_CANCEL_RUNS] = "UPDATE runs SET state = 'cancelled', finished_at = " NOW
                             " WHERE sweep_id = ?1 AND state IN " RUN_LIVE,
    [ST_SWEEP_READY] =
        "SELECT id FROM sweeps s WHERE state = 'running' AND NOT EXISTS "
        "(SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.state IN " RUN_LIVE ") ORDER BY id",
    [ST_SWEEP_FINISH] = "UPDATE sweeps SET state = 'finished', dataset_id = ?2, fit_id = ?3, "
                        "error = ?4, finished_at = " NOW " WHERE id = ?1 AND state = 'running'",
    [ST_RUN_GET] = "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1",
    [ST_RUN_CANCEL] = "UPDATE runs SET state = 'cancelled', finished_at = " NOW
                      " WHERE id = ?1 AND state IN " RUN_LIVE,
    [ST_RUN_ACTIVE_COUNT] = "SELECT count(*) FROM runs WHERE backend = ?1 "
                            "AND state IN ('submitted', 'running')",
    [ST_RUN_CLAIM] =
        "UPDATE runs SET state = 'submitted', attempts = attempts + 1, ref = NULL, "
        "secret = NULL, report = NULL, stopped = 0, started_at = coalesce(started_at, " NOW
        ") WHERE id = "
        "(SELECT id FROM runs WHERE backend = ?1 AND state = 'queued' AND "
        "not_before <= ?2 ORDER BY id LIMIT 1) RETURNING " RUN_COLUMNS,
    [ST_RUN_SET_REF] = "UPDATE runs SET ref = ?2 WHERE id = ?1",
    [ST_RUN_ACTIVE] = "SELECT " RUN_COLUMNS " FROM runs WHERE state IN ('submitted', 'running') "
                      "ORDER BY id",
    [ST_RUN_PROGRESS] = "UPDATE runs SET state = ?2, progress = coalesce(?3, progress) "
                        "WHERE id = ?1 AND state IN ('submitted', 'running')",
    [ST_RUN_END] = "UPDATE runs SET state = ?2, result = ?3, error = ?4, "
                   "progress = coalesce(?5, progress), finished_at = " NOW
                   " WHERE id = ?1 AND state IN ('submitted', 'running')",
    [ST_RUN_RETRY] = "UPDATE runs SET state = 'queued', ref = NULL, last_error = ?2, "
                     "not_before = ?3 WHERE id = ?1 AND state IN ('submitted', 'running')",
    [ST_RUN_TO_STOP] = "SELECT " RUN_COLUMNS " FROM runs WHERE state = 'cancelled' "
                       "AND ref IS NOT NULL AND stopped = 0 ORDER BY id",
    [ST_RUN_STOPPED] = "UPDATE runs SET stopped = 1 WHERE id = ?1",
    [ST_RUN_COUNTS] = "SELECT state, count(*) FROM runs GROUP BY state",
    [ST_RUN_SET_SECRET] = "UPDATE runs SET secret = ?2, report = NULL WHERE id = ?1 "
                          "AND state IN ('submitted', 'running')",
    [ST_RUN_SECRET] = "SELECT coalesce(secret, ''), state, report FROM runs WHERE id = ?1",
    [ST_RUN_SET_REPORT] = "UPDATE runs SET report = ?2 WHERE id = ?1 "
                          "AND state IN ('submitted', 'running') AND report IS NULL",
};

/* Migration k takes the schema from version k to k + 1. Append, never edit. */
static const char *const migrations[] = {
    "CREATE TABLE laws ("
    "  name TEXT PRIMARY KEY,"
    "  builtin INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),"
    "  last_version INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
    ") WITHOUT ROWID;"
    "CREATE TABLE law_versions ("
    "  name TEXT NOT NULL REFERENCES laws (name) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL CHECK (version >= 1),"
    "  description TEXT NOT NULL,"
    "  a_s REAL NOT NULL, b_s REAL NOT NULL, c_s REAL NOT NULL, b_n REAL NOT NULL,"
    "  a_d REAL NOT NULL, b_d REAL NOT NULL, c REAL NOT NULL,"
    "  data_unit TEXT NOT NULL CHECK (data_unit IN ('tokens', 'examples', 'steps')),"
    "  source_kind TEXT NOT NULL CHECK (source_kind IN ('builtin', 'manual', 'fit')),"
    "  reference TEXT NOT NULL,"
    "  fit_id INTEGER,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  PRIMARY KEY (name, version)"
    ") WITHOUT ROWID;",

    /* 2: uploaded sweeps, fit jobs, and what a fitted law keeps. */
    "ALTER TABLE law_versions ADD COLUMN fit_json TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE law_versions ADD COLUMN draws BLOB;"
    /* AUTOINCREMENT: an id never names two uploads, even after a delete. */
    "CREATE TABLE datasets ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL,"
    "  data_unit TEXT NOT NULL CHECK (data_unit IN ('tokens', 'examples', 'steps')),"
    "  rows INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
    ");"
    "CREATE TABLE dataset_rows ("
    "  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  sparsity REAL NOT NULL, nonzeros REAL NOT NULL, data REAL NOT NULL, loss REAL NOT NULL,"
    "  run_id TEXT, pattern TEXT, seed INTEGER,"
    "  PRIMARY KEY (dataset_id, idx)"
    ") WITHOUT ROWID;"
    "CREATE TABLE fits ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  state TEXT NOT NULL DEFAULT 'queued'"
    "    CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),"
    "  dataset_id INTEGER NOT NULL,"
    "  law TEXT NOT NULL,"
    "  request TEXT NOT NULL,"
    "  result TEXT,"
    "  error TEXT,"
    "  progress REAL NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  published_version INTEGER,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  started_at TEXT,"
    "  finished_at TEXT"
    ");"
    "CREATE INDEX fits_by_state ON fits (state, id);",

    /* 3: calibration sweeps and their training runs. A run is one grid
     * point, unique within its sweep; `ref` finds the backend's run again
     * after a restart, `stopped` says a cancelled run's process was told. */
    "CREATE TABLE sweeps ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  law TEXT NOT NULL,"
    "  backend TEXT NOT NULL,"
    "  request TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (state IN ('running', 'finished', 'cancelled')),"
    "  dataset_id INTEGER,"
    "  fit_id INTEGER,"
    "  error TEXT,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  finished_at TEXT"
    ");"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sweep_id INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,"
    "  point_key TEXT NOT NULL,"
    "  backend TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'submitted', 'running',"
    "    'succeeded', 'failed', 'cancelled')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),"
    "  not_before REAL NOT NULL DEFAULT 0,"
    "  ref TEXT,"
    "  stopped INTEGER NOT NULL DEFAULT 0,"
    "  progress TEXT, result TEXT, error TEXT, last_error TEXT,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  started_at TEXT,"
    "  finished_at TEXT,"
    "  UNIQUE (sweep_id, point_key)"
    ");"
    "CREATE INDEX runs_by_state ON runs (state, id);",

    /* 4: runs that report their own result over HTTP (the Slurm backend):
     * the current attempt's secret, and the result it posted. */
    "ALTER TABLE runs ADD COLUMN secret TEXT;"
    "ALTER TABLE runs ADD COLUMN report TEXT;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
} conn;

/* The latest version of recently asked laws. A version never changes once
 * written, so an entry is only wrong after a write to its name; writers drop
 * it after committing and bump `generation`, and a reader only caches what it
 * read if no write happened meanwhile. Saves a read transaction per query. */
#define LAW_CACHE_SIZE 32

struct sl_store {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int count;
    int nfree;
    int *free_ids;
    conn *conns;

    pthread_rwlock_t cache_lock;
    unsigned long generation;
    size_t ncached, next_evict;
    sl_law_record cached[LAW_CACHE_SIZE];
};

static int cache_find(sl_store *s, const char *name, sl_law_record *out) {
    int hit = 0;
    pthread_rwlock_rdlock(&s->cache_lock);
    for (size_t i = 0; i < s->ncached && !hit; i++)
        if (strcmp(s->cached[i].name, name) == 0) {
            *out = s->cached[i];
            hit = 1;
        }
    pthread_rwlock_unlock(&s->cache_lock);
    return hit;
}

static unsigned long cache_generation(sl_store *s) {
    pthread_rwlock_rdlock(&s->cache_lock);
    unsigned long g = s->generation;
    pthread_rwlock_unlock(&s->cache_lock);
    return g;
}

static void cache_put(sl_store *s, const sl_law_record *rec, unsigned long seen) {
    pthread_rwlock_wrlock(&s->cache_lock);
    if (s->generation == seen) {
        size_t slot = s->ncached < LAW_CACHE_SIZE ? s->ncached++ : s->next_evict++ % LAW_CACHE_SIZE;
        s->cached[slot] = *rec;
    }
    pthread_rwlock_unlock(&s->cache_lock);
}

static void cache_drop(sl_store *s, const char *name) {
    pthread_rwlock_wrlock(&s->cache_lock);
    s->generation++;
    for (size_t i = 0; i < s->ncached; i++)
        if (strcmp(s->cached[i].name, name) == 0) s->cached[i--] = s->cached[--s->ncached];
    pthread_rwlock_unlock(&s->cache_lock);
}

int sl_store_schema_version(void) {
    return SCHEMA_VERSION;
}

static void log_sqlite(sqlite3 *db, const char *what) {
    fprintf(stderr,
            "{\"level\":\"error\",\"event\":\"sqlite\",\"what\":\"%s\",\"message\":\"%s\"}\n", what,
            db ? sqlite3_errmsg(db) : "out of memory");
}

static conn *acquire(sl_store *s) {
    pthread_mutex_lock(&s->lock);
    while (s->nfree == 0)
        pthread_cond_wait(&s->freed, &s->lock);
    conn *c = &s->conns[s->free_ids[--s->nfree]];
    pthread_mutex_unlock(&s->lock);
    return c;
}

static void release(sl_store *s, conn *c) {
    pthread_mutex_lock(&s->lock);
    s->free_ids[s->nfree++] = (int)(c - s->conns);
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

static sqlite3_stmt *stmt(conn *c, enum stmt_id id) {
    if (!c->stmt[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                           &c->stmt[id], NULL) != SQLITE_OK) {
        log_sqlite(c->db, stmt_sql[id]);
        return NULL;
    }
    return c->stmt[id];
}

static void done(sqlite3_stmt *st) {
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static int exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr,
                "{\"level\":\"error\",\"event\":\"sqlite\",\"sql\":\"%.60s\",\"message\":\"%s\"}\n",
                sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int open_conn(conn *c, const char *path, char *errbuf, size_t cap) {
    memset(c, 0, sizeof *c);
    int rc = sqlite3_open_v2(
        path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, cap, "cannot open %s: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(c->db, 10000);
    /* synchronous=FULL: a write acknowledged to a client survives power loss. */
    if (exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")) {
        snprintf(errbuf, cap, "cannot configure %s: %s", path, sqlite3_errmsg(c->db));
        return -1;
    }
    return 0;
}

static void close_conn(conn *c) {
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
}

static int migrate(sqlite3 *db, char *errbuf, size_t cap) {
    if (exec(db, "BEGIN IMMEDIATE")) goto fail;
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0 || version > SCHEMA_VERSION) {
        exec(db, "ROLLBACK");
        snprintf(errbuf, cap, "database schema version %d is newer than this build's %d", version,
                 SCHEMA_VERSION);
        return -1;
    }
    for (int v = version; v < SCHEMA_VERSION; v++)
        if (exec(db, migrations[v])) goto rollback;
    char pragma[48];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (exec(db, pragma) || exec(db, "COMMIT")) goto rollback;
    return 0;
rollback:
    exec(db, "ROLLBACK");
fail:
    snprintf(errbuf, cap, "schema migration failed: %s", sqlite3_errmsg(db));
    return -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *text) {
    sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void read_law(sqlite3_stmt *st, sl_law_record *r) {
    memset(r, 0, sizeof *r);
    copy_text(r->name, sizeof r->name, st, 0);
    r->version = (long)sqlite3_column_int64(st, 1);
    copy_text(r->description, sizeof r->description, st, 2);
    for (int i = 0; i < SL_LAW_NCOEF; i++)
        *sl_law_coef(&r->law, (size_t)i) = sqlite3_column_double(st, 3 + i);
    /* The schema's CHECK constraints guarantee these parse. */
    sl_data_unit_parse((const char *)sqlite3_column_text(st, 10), &r->data_unit);
    sl_source_kind_parse((const char *)sqlite3_column_text(st, 11), &r->source_kind);
    copy_text(r->reference, sizeof r->reference, st, 12);
    r->fit_id = sqlite3_column_int64(st, 13);
    copy_text(r->created_at, sizeof r->created_at, st, 14);
    r->builtin = sqlite3_column_int(st, 15);
    copy_text(r->fit_json, sizeof r->fit_json, st, 16);
    r->draws = (long)sqlite3_column_int64(st, 17);
}

/* Inserts a version on c inside the caller's transaction, with its
 * bootstrap draws (none: NULL, 0). */
static int insert_version(conn *c, sl_law_record *rec, const sl_law *draws, size_t ndraws) {
    sqlite3_stmt *ins_name = stmt(c, ST_LAW_INSERT_NAME);
    sqlite3_stmt *next = stmt(c, ST_LAW_NEXT_VERSION);
    sqlite3_stmt *ins = stmt(c, ST_LAW_INSERT_VERSION);
    int rc = SL_STORE_ERROR;
    if (!ins_name || !next || !ins) return SL_STORE_ERROR;
    bind_text(ins_name, 1, rec->name);
    sqlite3_bind_int(ins_name, 2, rec->builtin);
    if (sqlite3_step(ins_name) != SQLITE_DONE) goto out;
    bind_text(next, 1, rec->name);
    if (sqlite3_step(next) != SQLITE_ROW) goto out;
    rec->version = (long)sqlite3_column_int64(next, 0);
    if (sqlite3_step(next) != SQLITE_DONE) goto out;
    bind_text(ins, 1, rec->name);
    sqlite3_bind_int64(ins, 2, rec->version);
    bind_text(ins, 3, rec->description);
    for (int i = 0; i < SL_LAW_NCOEF; i++)
        sqlite3_bind_double(ins, 4 + i, sl_law_coef_get(&rec->law, (size_t)i));
    bind_text(ins, 11, sl_data_unit_name(rec->data_unit));
    bind_text(ins, 12, sl_source_kind_name(rec->source_kind));
    bind_text(ins, 13, rec->reference);
    if (rec->fit_id) sqlite3_bind_int64(ins, 14, rec->fit_id);
    bind_text(ins, 15, rec->fit_json);
    if (ndraws) {
        /* Stored as plain doubles in coefficient order: portable within a host. */
        double *blob = malloc(ndraws * DRAW_BYTES);
        if (!blob) abort();
        for (size_t i = 0; i < ndraws; i++)
            for (size_t k = 0; k < SL_LAW_NCOEF; k++)
                blob[i * SL_LAW_NCOEF + k] = sl_law_coef_get(&draws[i], k);
        sqlite3_bind_blob64(ins, 16, blob, ndraws * DRAW_BYTES, free);
    }
    rec->draws = (long)ndraws;
    if (sqlite3_step(ins) != SQLITE_ROW) goto out;
    copy_text(rec->created_at, sizeof rec->created_at, ins, 0);
    if (sqlite3_step(ins) != SQLITE_DONE) goto out;
    rc = SL_STORE_OK;
out:
    if (rc != SL_STORE_OK) log_sqlite(c->db, "insert law version");
    done(ins_name);
    done(next);
    done(ins);
    return rc;
}

enum law_state { LAW_ABSENT, LAW_USER, LAW_BUILTIN };

/* Whether name is a live law, and whose; SL_STORE_ERROR on failure. */
static int law_state(conn *c, const char *name) {
    sqlite3_stmt *st = stmt(c, ST_LAW_STATE);
    if (!st) return SL_STORE_ERROR;
    bind_text(st, 1, name);
    int rc = sqlite3_step(st), state = SL_STORE_ERROR;
    if (rc == SQLITE_DONE)
        state = LAW_ABSENT;
    else if (rc == SQLITE_ROW)
        state = !sqlite3_column_int(st, 1)  ? LAW_ABSENT
                : sqlite3_column_int(st, 0) ? LAW_BUILTIN
                                            : LAW_USER;
    done(st);
    return state;
}

static int load_builtins(conn *c) {
    if (exec(c->db, "BEGIN IMMEDIATE")) return -1;
    for (size_t i = 0; i < SL_BUILTIN_COUNT; i++) {
        sl_law_record rec = sl_builtin_laws[i];
        int state = law_state(c, rec.name);
        if (state == SL_STORE_ERROR) goto rollback;
        if (state != LAW_ABSENT) continue; /* loaded on an earlier start */
        if (insert_version(c, &rec, NULL, 0) != SL_STORE_OK) goto rollback;
    }
    return exec(c->db, "COMMIT");
rollback:
    exec(c->db, "ROLLBACK");
    return -1;
}

sl_store *sl_store_open(const char *dir, int connections, char *errbuf, size_t cap) {
    char path[4096];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(errbuf, cap, "cannot create data directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/sparselaw.db", dir) >= sizeof path) {
        snprintf(errbuf, cap, "data directory path too long");
        return NULL;
    }
    sl_store *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->count = connections < 1 ? 1 : connections;
    s->conns = calloc((size_t)s->count, sizeof *s->conns);
    s->free_ids = calloc((size_t)s->count, sizeof *s->free_ids);
    if (!s->conns || !s->free_ids) abort();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_rwlock_init(&s->cache_lock, NULL);
    for (int i = 0; i < s->count; i++) {
        if (open_conn(&s->conns[i], path, errbuf, cap) != 0) {
            s->nfree = i + 1; /* close what was opened, this one included */
            for (int j = 0; j <= i; j++)
                s->free_ids[j] = j;
            sl_store_close(s);
            return NULL;
        }
        s->free_ids[s->nfree++] = i;
    }
    if (migrate(s->conns[0].db, errbuf, cap) != 0 || load_builtins(&s->conns[0]) != 0) {
        if (!errbuf[0]) snprintf(errbuf, cap, "cannot load the built-in laws");
        sl_store_close(s);
        return NULL;
    }
    return s;
}

void sl_store_close(sl_store *s) {
    if (!s) return;
    if (s->conns[0].db) exec(s->conns[0].db, "PRAGMA wal_checkpoint(TRUNCATE)");
    for (int i = 0; i < s->count; i++)
        if (s->conns[i].db) close_conn(&s->conns[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    pthread_rwlock_destroy(&s->cache_lock);
    free(s->conns);
    free(s->free_ids);
    free(s);
}

int sl_store_law_get(sl_store *s, const char *name, long version, sl_law_record *out) {
    if (!version && cache_find(s, name, out)) return SL_STORE_OK;
    unsigned long seen = cache_generation(s);
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, version ? ST_LAW_VERSION : ST_LAW_LATEST);
    int rc = SL_STORE_ERROR;
    if (st) {
        bind_text(st, 1, name);
        if (version) sqlite3_bind_int64(st, 2, version);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read_law(st, out);
            rc = SL_STORE_OK;
        } else if (step == SQLITE_DONE) {
            rc = SL_STORE_NOT_FOUND;
        } else {
            log_sqlite(c->db, "get law");
        }
        done(st);
    }
    release(s, c);
    if (rc == SL_STORE_OK && !version) cache_put(s, out, seen);
    return rc;
}

static int each_law(sl_store *s, enum stmt_id id, const char *name, sl_store_law_fn fn, void *ctx) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, id);
    int rc = SL_STORE_ERROR, rows = 0, step = SQLITE_ERROR;
    if (st) {
        if (name) bind_text(st, 1, name);
        sl_law_record rec;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            read_law(st, &rec);
            rows++;
            if (fn(&rec, ctx) != 0) break;
        }
        if (step == SQLITE_ROW || step == SQLITE_DONE)
            rc = (rows == 0 && name) ? SL_STORE_NOT_FOUND : SL_STORE_OK;
        else
            log_sqlite(c->db, "list laws");
        done(st);
    }
    release(s, c);
    return rc;
}

int sl_store_law_list(sl_store *s, sl_store_law_fn fn, void *ctx) {
    return each_law(s, ST_LAW_LIST, NULL, fn, ctx);
}

int sl_store_law_versions(sl_store *s, const char *name, sl_store_law_fn fn, void *ctx) {
    return each_law(s, ST_LAW_VERSIONS, name, fn, ctx);
}

/* A statement that changes rows and returns none, bound by the caller. */
static int step_done(conn *c, sqlite3_stmt *st, const char *what) {
    int step = sqlite3_step(st);
    done(st);
    if (step == SQLITE_DONE) return SL_STORE_OK;
    log_sqlite(c->db, what);
    return SL_STORE_ERROR;
}

/* Runs body(c, ctx) inside BEGIN IMMEDIATE ... COMMIT; rolls back unless it
 * returns SL_STORE_OK and the commit succeeds. */
static int in_transaction(sl_store *s, int (*body)(conn *c, void *ctx), void *ctx) {
    conn *c = acquire(s);
    int rc = SL_STORE_ERROR;
    if (exec(c->db, "BEGIN IMMEDIATE") == 0) {
        rc = body(c, ctx);
        if (rc != SL_STORE_OK || exec(c->db, "COMMIT") != 0) {
            exec(c->db, "ROLLBACK");
            if (rc == SL_STORE_OK) rc = SL_STORE_ERROR;
        }
    }
    release(s, c);
    return rc;
}

typedef struct {
    sl_law_record *rec;
    int *created;
} law_put;

static int put_law_tx(conn *c, void *ctx) {
    law_put *p = ctx;
    int state = law_state(c, p->rec->name);
    p->rec->builtin = 0;
    *p->created = state == LAW_ABSENT;
    return state == SL_STORE_ERROR ? SL_STORE_ERROR
           : state == LAW_BUILTIN  ? SL_STORE_CONFLICT
                                   : insert_version(c, p->rec, NULL, 0);
}

int sl_store_law_put(sl_store *s, sl_law_record *rec, int *created) {
    law_put p = {rec, created};
    int rc = in_transaction(s, put_law_tx, &p);
    cache_drop(s, rec->name);
    return rc;
}

static int delete_law_tx(conn *c, void *ctx) {
    const char *name = ctx;
    int state = law_state(c, name);
    if (state != LAW_USER)
        return state == LAW_ABSENT    ? SL_STORE_NOT_FOUND
               : state == LAW_BUILTIN ? SL_STORE_CONFLICT
                                      : SL_STORE_ERROR;
    sqlite3_stmt *st = stmt(c, ST_LAW_DELETE);
    if (!st) return SL_STORE_ERROR;
    bind_text(st, 1, name);
    return step_done(c, st, "delete law");
}

int sl_store_law_delete(sl_store *s, const char *name) {
    int rc = in_transaction(s, delete_law_tx, (void *)(uintptr_t)name);
    cache_drop(s, name);
    return rc;
}

int sl_store_law_draws(sl_store *s, const char *name, long version, sl_law **draws, size_t *n) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_LAW_DRAWS);
    int rc = SL_STORE_ERROR;
    *draws = NULL;
    *n = 0;
    if (st) {
        bind_text(st, 1, name);
        sqlite3_bind_int64(st, 2, version);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const double *blob = sqlite3_column_blob(st, 0);
            size_t count = (size_t)sqlite3_column_bytes(st, 0) / DRAW_BYTES;
            if (count) {
                *draws = calloc(count, sizeof **draws);
                if (!*draws) abort();
                for (size_t i = 0; i < count; i++)
                    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
                        *sl_law_coef(&(*draws)[i], k) = blob[i * SL_LAW_NCOEF + k];
            }
            *n = count;
            rc = SL_STORE_OK;
        } else {
            rc = step == SQLITE_DONE ? SL_STORE_NOT_FOUND : SL_STORE_ERROR;
        }
        done(st);
    }
    release(s, c);
    return rc;
}

/* ---------------------------------------------------------------- datasets */

static void read_dataset(sqlite3_stmt *st, sl_dataset_info *d) {
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    copy_text(d->name, sizeof d->name, st, 1);
    sl_data_unit_parse((const char *)sqlite3_column_text(st, 2), &d->data_unit);
    d->rows = sqlite3_column_int64(st, 3);
    copy_text(d->created_at, sizeof d->created_at, st, 4);
    copy_text(d->updated_at, sizeof d->updated_at, st, 5);
}

/* The dataset's info on c; NOT_FOUND or ERROR otherwise. */
static int dataset_info(conn *c, long long id, sl_dataset_info *out) {
    sqlite3_stmt *st = stmt(c, ST_DATASET_GET);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st), rc = SL_STORE_ERROR;
    if (step == SQLITE_ROW) {
        read_dataset(st, out);
        rc = SL_STORE_OK;
    } else if (step == SQLITE_DONE) {
        rc = SL_STORE_NOT_FOUND;
    }
    done(st);
    return rc;
}

/* Inserts ds's rows after the first `offset` on c, inside a transaction. */
static int insert_rows(conn *c, long long id, long long offset, const sl_dataset *ds) {
    sqlite3_stmt *ins = stmt(c, ST_DATASET_ROW), *touch = stmt(c, ST_DATASET_TOUCH);
    if (!ins || !touch) return SL_STORE_ERROR;
    for (size_t i = 0; i < ds->nrows; i++) {
        const sl_dataset_row *r = &ds->rows[i];
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_int64(ins, 2, offset + (long long)i);
        sqlite3_bind_double(ins, 3, r->sparsity);
        sqlite3_bind_double(ins, 4, r->nonzeros);
        sqlite3_bind_double(ins, 5, r->data);
        sqlite3_bind_double(ins, 6, r->loss);
        if (r->run_id) bind_text(ins, 7, r->run_id);
        if (r->pattern[0]) bind_text(ins, 8, r->pattern);
        if (r->has_seed) sqlite3_bind_int64(ins, 9, r->seed);
        int step = sqlite3_step(ins);
        done(ins);
        if (step != SQLITE_DONE) {
            log_sqlite(c->db, "insert dataset row");
            return SL_STORE_ERROR;
        }
    }
    sqlite3_bind_int64(touch, 1, id);
    sqlite3_bind_int64(touch, 2, (long long)ds->nrows);
    int step = sqlite3_step(touch);
    done(touch);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

typedef struct {
    long long id;
    const char *name;
    const sl_dataset *ds;
    sl_dataset_info *out;
} dataset_write;

static int create_dataset_tx(conn *c, void *ctx) {
    dataset_write *w = ctx;
    sqlite3_stmt *ins = stmt(c, ST_DATASET_INSERT);
    if (!ins) return SL_STORE_ERROR;
    bind_text(ins, 1, w->name);
    bind_text(ins, 2, sl_data_unit_name(w->ds->data_unit));
    int step = sqlite3_step(ins);
    if (step == SQLITE_ROW) w->id = sqlite3_column_int64(ins, 0);
    if (step == SQLITE_ROW) step = sqlite3_step(ins);
    done(ins);
    if (step != SQLITE_DONE) return SL_STORE_ERROR;
    int rc = insert_rows(c, w->id, 0, w->ds);
    return rc == SL_STORE_OK ? dataset_info(c, w->id, w->out) : rc;
}

int sl_store_dataset_create(sl_store *s, const char *name, const sl_dataset *ds,
                            sl_dataset_info *out) {
    dataset_write w = {0, name, ds, out};
    return in_transaction(s, create_dataset_tx, &w);
}

static int append_dataset_tx(conn *c, void *ctx) {
    dataset_write *w = ctx;
    sl_dataset_info info;
    int rc = dataset_info(c, w->id, &info);
    if (rc != SL_STORE_OK) return rc;
    if (info.data_unit != w->ds->data_unit) return SL_STORE_CONFLICT;
    rc = insert_rows(c, w->id, info.rows, w->ds);
    return rc == SL_STORE_OK ? dataset_info(c, w->id, w->out) : rc;
}

int sl_store_dataset_append(sl_store *s, long long id, const sl_dataset *ds, sl_dataset_info *out) {
    dataset_write w = {id, NULL, ds, out};
    return in_transaction(s, append_dataset_tx, &w);
}

int sl_store_dataset_get(sl_store *s, long long id, sl_dataset_info *out) {
    conn *c = acquire(s);
    int rc = dataset_info(c, id, out);
    release(s, c);
    return rc;
}

int sl_store_dataset_rows(sl_store *s, long long id, sl_dataset *out) {
    conn *c = acquire(s);
    sl_dataset_info info;
    int rc = dataset_info(c, id, &info);
    sqlite3_stmt *st = rc == SL_STORE_OK ? stmt(c, ST_DATASET_ROWS) : NULL;
    memset(out, 0, sizeof *out);
    if (st) {
        out->data_unit = info.data_unit;
        out->rows = calloc(info.rows ? (size_t)info.rows : 1, sizeof *out->rows);
        if (!out->rows) abort();
        sqlite3_bind_int64(st, 1, id);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW && out->nrows < (size_t)info.rows) {
            sl_dataset_row *r = &out->rows[out->nrows++];
            r->sparsity = sqlite3_column_double(st, 0);
            r->nonzeros = sqlite3_column_double(st, 1);
            r->data = sqlite3_column_double(st, 2);
            r->loss = sqlite3_column_double(st, 3);
            if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
                r->run_id = strdup((const char *)sqlite3_column_text(st, 4));
                if (!r->run_id) abort();
            }
            copy_text(r->pattern, sizeof r->pattern, st, 5);
            r->has_seed = sqlite3_column_type(st, 6) != SQLITE_NULL;
            r->seed = sqlite3_column_int64(st, 6);
        }
        if (step != SQLITE_DONE && step != SQLITE_ROW) {
            log_sqlite(c->db, "read dataset rows");
            sl_dataset_free(out);
            rc = SL_STORE_ERROR;
        }
        done(st);
    }
    release(s, c);
    return rc;
}

int sl_store_dataset_list(sl_store *s, sl_store_dataset_fn fn, void *ctx) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_DATASET_LIST);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    if (st) {
        sl_dataset_info info;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            read_dataset(st, &info);
            if (fn(&info, ctx) != 0) break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
        done(st);
    }
    release(s, c);
    return rc;
}

static int delete_dataset_tx(conn *c, void *ctx) {
    long long id = *(long long *)ctx;
    sl_dataset_info info;
    int rc = dataset_info(c, id, &info);
    if (rc != SL_STORE_OK) return rc;
    sqlite3_stmt *busy = stmt(c, ST_DATASET_BUSY), *del = stmt(c, ST_DATASET_DELETE);
    if (!busy || !del) return SL_STORE_ERROR;
    sqlite3_bind_int64(busy, 1, id);
    int step = sqlite3_step(busy);
    long long users = step == SQLITE_ROW ? sqlite3_column_int64(busy, 0) : -1;
    done(busy);
    if (users != 0) return users > 0 ? SL_STORE_CONFLICT : SL_STORE_ERROR;
    sqlite3_bind_int64(del, 1, id);
    step = sqlite3_step(del);
    done(del);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

int sl_store_dataset_delete(sl_store *s, long long id) {
    return in_transaction(s, delete_dataset_tx, &id);
}

/* ---------------------------------------------------------------- fits */

static const char *const fit_state_names[SL_FIT_STATE_COUNT] = {"queued", "running", "succeeded",
                                                                "failed"};

const char *sl_fit_state_name(sl_fit_state state) {
    return state < SL_FIT_STATE_COUNT ? fit_state_names[state] : "unknown";
}

static sl_fit_state fit_state_parse(const unsigned char *text) {
    for (int i = 0; i < SL_FIT_STATE_COUNT; i++)
        if (text && strcmp((const char *)text, fit_state_names[i]) == 0) return (sl_fit_state)i;
    return SL_FIT_FAILED;
}

static char *dup_column(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return NULL;
    char *t = strdup((const char *)sqlite3_column_text(st, col));
    if (!t) abort();
    return t;
}

static void read_fit(sqlite3_stmt *st, sl_fit_job *j) {
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->state = fit_state_parse(sqlite3_column_text(st, 1));
    j->dataset_id = sqlite3_column_int64(st, 2);
    copy_text(j->law, sizeof j->law, st, 3);
    j->request = dup_column(st, 4);
    j->result = dup_column(st, 5);
    j->error = dup_column(st, 6);
    j->progress = sqlite3_column_double(st, 7);
    j->attempts = (long)sqlite3_column_int64(st, 8);
    j->published_version = (long)sqlite3_column_int64(st, 9);
    copy_text(j->created_at, sizeof j->created_at, st, 10);
    copy_text(j->started_at, sizeof j->started_at, st, 11);
    copy_text(j->finished_at, sizeof j->finished_at, st, 12);
}

void sl_fit_job_free(sl_fit_job *job) {
    if (!job) return;
    free(job->request);
    free(job->result);
    free(job->error);
    job->request = job->result = job->error = NULL;
}

typedef struct {
    long long dataset_id, id;
    const char *law, *request;
} fit_create;

static int create_fit_tx(conn *c, void *ctx) {
    fit_create *f = ctx;
    sl_dataset_info info;
    int rc = dataset_info(c, f->dataset_id, &info);
    if (rc != SL_STORE_OK) return rc;
    sqlite3_stmt *ins = stmt(c, ST_FIT_INSERT);
    if (!ins) return SL_STORE_ERROR;
    sqlite3_bind_int64(ins, 1, f->dataset_id);
    bind_text(ins, 2, f->law);
    bind_text(ins, 3, f->request);
    int step = sqlite3_step(ins);
    if (step == SQLITE_ROW) f->id = sqlite3_column_int64(ins, 0);
    if (step == SQLITE_ROW) step = sqlite3_step(ins);
    done(ins);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

int sl_store_fit_create(sl_store *s, long long dataset_id, const char *law,
                        const char *request_json, long long *id) {
    fit_create f = {dataset_id, 0, law, request_json};
    int rc = in_transaction(s, create_fit_tx, &f);
    *id = f.id;
    return rc;
}

/* One row of a fit statement (GET by id, or CLAIM) into out. */
static int fit_row(sl_store *s, enum stmt_id id_stmt, long long id, sl_fit_job *out) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, id_stmt);
    int rc = SL_STORE_ERROR;
    if (st) {
        if (id_stmt == ST_FIT_GET) sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read_fit(st, out);
            rc = SL_STORE_OK;
            step = sqlite3_step(st);
        } else if (step == SQLITE_DONE) {
            rc = SL_STORE_NOT_FOUND;
        }
        if (step != SQLITE_DONE) {
            log_sqlite(c->db, "read fit");
            if (rc == SL_STORE_OK) sl_fit_job_free(out);
            rc = SL_STORE_ERROR;
        }
        done(st);
    }
    release(s, c);
    return rc;
}

int sl_store_fit_get(sl_store *s, long long id, sl_fit_job *out) {
    return fit_row(s, ST_FIT_GET, id, out);
}

int sl_store_fit_claim(sl_store *s, sl_fit_job *out) {
    return fit_row(s, ST_FIT_CLAIM, 0, out);
}

int sl_store_fit_progress(sl_store *s, long long id, double fraction) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_PROGRESS);
    int rc = SL_STORE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_double(st, 2, fraction);
        rc = step_done(c, st, "fit progress");
    }
    release(s, c);
    return rc;
}

typedef struct {
    long long id;
    sl_fit_state state;
    const char *result, *error;
    sl_law_record *publish;
    const sl_law *draws;
    size_t ndraws;
} fit_end;

static int end_fit_tx(conn *c, void *ctx) {
    fit_end *e = ctx;
    long version = 0;
    if (e->publish) {
        int state = law_state(c, e->publish->name);
        if (state == SL_STORE_ERROR) return SL_STORE_ERROR;
        if (state == LAW_BUILTIN) return SL_STORE_CONFLICT;
        int rc = insert_version(c, e->publish, e->draws, e->ndraws);
        if (rc != SL_STORE_OK) return rc;
        version = e->publish->version;
    }
    sqlite3_stmt *st = stmt(c, ST_FIT_END);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, e->id);
    bind_text(st, 2, sl_fit_state_name(e->state));
    if (e->result) bind_text(st, 3, e->result);
    if (e->error) bind_text(st, 4, e->error);
    if (version) sqlite3_bind_int64(st, 5, version);
    int rc = step_done(c, st, "end fit");
    if (rc == SL_STORE_OK && sqlite3_changes(c->db) != 1) rc = SL_STORE_NOT_FOUND;
    return rc;
}

int sl_store_fit_succeed(sl_store *s, long long id, const char *result_json, sl_law_record *publish,
                         const sl_law *draws, size_t ndraws) {
    fit_end e = {id, SL_FIT_SUCCEEDED, result_json, NULL, publish, draws, ndraws};
    int rc = in_transaction(s, end_fit_tx, &e);
    if (publish) cache_drop(s, publish->name);
    return rc;
}

int sl_store_fit_fail(sl_store *s, long long id, const char *error) {
    fit_end e = {id, SL_FIT_FAILED, NULL, error, NULL, NULL, 0};
    return in_transaction(s, end_fit_tx, &e);
}

int sl_store_fit_requeue_running(sl_store *s) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_REQUEUE);
    int rc = st ? step_done(c, st, "requeue fits") : SL_STORE_ERROR;
    release(s, c);
    return rc;
}

int sl_store_fit_counts(sl_store *s, long long counts[SL_FIT_STATE_COUNT]) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_COUNTS);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    memset(counts, 0, SL_FIT_STATE_COUNT * sizeof counts[0]);
    if (st) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            counts[fit_state_parse(sqlite3_column_text(st, 0))] = sqlite3_column_int64(st, 1);
        rc = step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
        done(st);
    }
    release(s, c);
    return rc;
}

/* ---------------------------------------------------------------- sweeps and runs */

static const char *const run_state_names[SL_RUN_STATE_COUNT] = {
    "queued", "submitted", "running", "succeeded", "failed", "cancelled"};
static const char *const sweep_state_names[SL_SWEEP_STATE_COUNT] = {"running", "finished",
                                                                    "cancelled"};

const char *sl_run_state_name(sl_run_state state) {
    return state < SL_RUN_STATE_COUNT ? run_state_names[state] : "unknown";
}

int sl_run_state_ended(sl_run_state state) {
    return state == SL_RUN_SUCCEEDED || state == SL_RUN_FAILED || state == SL_RUN_CANCELLED;
}

static sl_run_state run_state_parse(const unsigned char *text) {
    for (int i = 0; i < SL_RUN_STATE_COUNT; i++)
        if (text && strcmp((const char *)text, run_state_names[i]) == 0) return (sl_run_state)i;
    return SL_RUN_FAILED;
}

static void read_run(sqlite3_stmt *st, sl_run_record *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->sweep_id = sqlite3_column_int64(st, 1);
    r->state = run_state_parse(sqlite3_column_text(st, 2));
    copy_text(r->key, sizeof r->key, st, 3);
    copy_text(r->backend, sizeof r->backend, st, 4);
    r->spec = dup_column(st, 5);
    r->ref = dup_column(st, 6);
    r->progress = dup_column(st, 7);
    r->result = dup_column(st, 8);
    r->error = dup_column(st, 9);
    r->last_error = dup_column(st, 10);
    r->attempts = (long)sqlite3_column_int64(st, 11);
    r->max_attempts = (long)sqlite3_column_int64(st, 12);
    r->not_before = sqlite3_column_double(st, 13);
    copy_text(r->created_at, sizeof r->created_at, st, 14);
    copy_text(r->started_at, sizeof r->started_at, st, 15);
    copy_text(r->finished_at, sizeof r->finished_at, st, 16);
}

void sl_run_record_free(sl_run_record *r) {
    if (!r) return;
    free(r->spec);
    free(r->ref);
    free(r->progress);
    free(r->result);
    free(r->error);
    free(r->last_error);
    r->spec = r->ref = r->progress = r->result = r->error = r->last_error = NULL;
}

void sl_sweep_record_free(sl_sweep_record *w) {
    if (!w) return;
    free(w->request);
    free(w->error);
    w->request = w->error = NULL;
}

typedef struct {
    const char *law, *backend, *request;
    const sl_run_new *runs;
    size_t nruns;
    long max_attempts;
    long long id;
} sweep_create;

static int create_sweep_tx(conn *c, void *ctx) {
    sweep_create *w = ctx;
    sqlite3_stmt *ins = stmt(c, ST_SWEEP_INSERT), *run = stmt(c, ST_RUN_INSERT);
    if (!ins || !run) return SL_STORE_ERROR;
    bind_text(ins, 1, w->law);
    bind_text(ins, 2, w->backend);
    bind_text(ins, 3, w->request);
    int step = sqlite3_step(ins);
    if (step == SQLITE_ROW) w->id = sqlite3_column_int64(ins, 0);
    if (step == SQLITE_ROW) step = sqlite3_step(ins);
    done(ins);
    if (step != SQLITE_DONE) return SL_STORE_ERROR;
    for (size_t i = 0; i < w->nruns; i++) {
        sqlite3_bind_int64(run, 1, w->id);
        bind_text(run, 2, w->runs[i].key);
        bind_text(run, 3, w->backend);
        bind_text(run, 4, w->runs[i].spec);
        sqlite3_bind_int64(run, 5, w->max_attempts);
        if (step_done(c, run, "insert run") != SL_STORE_OK) return SL_STORE_ERROR;
    }
    return SL_STORE_OK;
}

int sl_store_sweep_create(sl_store *s, const char *law, const char *backend,
                          const char *request_json, const sl_run_new *runs, size_t nruns,
                          long max_attempts, long long *id) {
    sweep_create w = {law, backend, request_json, runs, nruns, max_attempts, 0};
    int rc = in_transaction(s, create_sweep_tx, &w);
    *id = w.id;
    return rc;
}

/* The sweep and its run counts on c. */
static int sweep_row(conn *c, long long id, sl_sweep_record *w) {
    sqlite3_stmt *st = stmt(c, ST_SWEEP_GET), *counts = stmt(c, ST_SWEEP_COUNTS);
    if (!st || !counts) return SL_STORE_ERROR;
    memset(w, 0, sizeof *w);
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st), rc = SL_STORE_ERROR;
    if (step == SQLITE_ROW) {
        w->id = sqlite3_column_int64(st, 0);
        copy_text(w->law, sizeof w->law, st, 1);
        copy_text(w->backend, sizeof w->backend, st, 2);
        const unsigned char *state = sqlite3_column_text(st, 3);
        for (int i = 0; i < SL_SWEEP_STATE_COUNT; i++)
            if (state && strcmp((const char *)state, sweep_state_names[i]) == 0)
                w->state = (sl_sweep_state)i;
        w->request = dup_column(st, 4);
        w->error = dup_column(st, 5);
        w->dataset_id = sqlite3_column_int64(st, 6);
        w->fit_id = sqlite3_column_int64(st, 7);
        copy_text(w->created_at, sizeof w->created_at, st, 8);
        copy_text(w->finished_at, sizeof w->finished_at, st, 9);
        rc = SL_STORE_OK;
    } else if (step == SQLITE_DONE) {
        rc = SL_STORE_NOT_FOUND;
    }
    done(st);
    if (rc != SL_STORE_OK) return rc;
    sqlite3_bind_int64(counts, 1, id);
    while ((step = sqlite3_step(counts)) == SQLITE_ROW)
        w->counts[run_state_parse(sqlite3_column_text(counts, 0))] =
            sqlite3_column_int64(counts, 1);
    done(counts);
    if (step != SQLITE_DONE) {
        sl_sweep_record_free(w);
        return SL_STORE_ERROR;
    }
    return SL_STORE_OK;
}

static int get_sweep_tx(conn *c, void *ctx) {
    sl_sweep_record *w = ctx;
    return sweep_row(c, w->id, w);
}

int sl_store_sweep_get(sl_store *s, long long id, sl_sweep_record *out) {
    /* A transaction, so that the counts agree with the sweep's state. */
    out->id = id;
    return in_transaction(s, get_sweep_tx, out);
}

/* Calls fn for each row of a run statement bound to one id (0: none). */
static int each_run(sl_store *s, enum stmt_id id_stmt, long long id, sl_store_run_fn fn,
                    void *ctx) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, id_stmt);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    if (st) {
        if (id) sqlite3_bind_int64(st, 1, id);
        sl_run_record r;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            read_run(st, &r);
            int stop = fn(&r, ctx);
            sl_run_record_free(&r);
            if (stop) break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
        if (rc != SL_STORE_OK) log_sqlite(c->db, "list runs");
        done(st);
    }
    release(s, c);
    return rc;
}

int sl_store_sweep_runs(sl_store *s, long long sweep_id, sl_store_run_fn fn, void *ctx) {
    return each_run(s, ST_SWEEP_RUNS, sweep_id, fn, ctx);
}

static int cancel_sweep_tx(conn *c, void *ctx) {
    long long id = *(long long *)ctx;
    sl_sweep_record w;
    int rc = sweep_row(c, id, &w);
    if (rc != SL_STORE_OK) return rc;
    sl_sweep_state state = w.state;
    sl_sweep_record_free(&w);
    if (state == SL_SWEEP_CANCELLED) return SL_STORE_OK;
    if (state != SL_SWEEP_RUNNING) return SL_STORE_CONFLICT;
    sqlite3_stmt *sw = stmt(c, ST_SWEEP_CANCEL), *runs = stmt(c, ST_SWEEP_CANCEL_RUNS);
    if (!sw || !runs) return SL_STORE_ERROR;
    sqlite3_bind_int64(sw, 1, id);
    sqlite3_bind_int64(runs, 1, id);
    rc = step_done(c, sw, "cancel sweep");
    return rc == SL_STORE_OK ? step_done(c, runs, "cancel sweep runs") : rc;
}

int sl_store_sweep_cancel(sl_store *s, long long id) {
    return in_transaction(s, cancel_sweep_tx, &id);
}

size_t sl_store_sweeps_ready(sl_store *s, long long *out, size_t cap) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_SWEEP_READY);
    size_t n = 0;
    if (st) {
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            out[n++] = sqlite3_column_int64(st, 0);
        done(st);
    }
    release(s, c);
    return n;
}

typedef struct {
    long long id;
    const sl_dataset *ds;
    const char *name, *law, *error;
    char *(*fit_request)(long long dataset, void *ctx);
    void *ctx;
} sweep_finish;

static int finish_sweep_tx(conn *c, void *ctx) {
    sweep_finish *f = ctx;
    long long dataset = 0, fit = 0;
    if (f->ds) {
        sl_dataset_info info;
        dataset_write w = {0, f->name, f->ds, &info};
        int rc = create_dataset_tx(c, &w);
        if (rc != SL_STORE_OK) return rc;
        dataset = w.id;
        char *request = f->fit_request(dataset, f->ctx);
        if (!request) return SL_STORE_ERROR;
        fit_create fc = {dataset, 0, f->law, request};
        rc = create_fit_tx(c, &fc);
        free(request);
        if (rc != SL_STORE_OK) return rc;
        fit = fc.id;
    }
    sqlite3_stmt *st = stmt(c, ST_SWEEP_FINISH);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, f->id);
    if (dataset) sqlite3_bind_int64(st, 2, dataset);
    if (fit) sqlite3_bind_int64(st, 3, fit);
    if (f->error) bind_text(st, 4, f->error);
    int rc = step_done(c, st, "finish sweep");
    if (rc == SL_STORE_OK && sqlite3_changes(c->db) != 1) rc = SL_STORE_CONFLICT;
    return rc;
}

int sl_store_sweep_finish(sl_store *s, long long id, const sl_dataset *ds, const char *name,
                          const char *law, char *(*fit_request)(long long dataset, void *ctx),
                          void *ctx, const char *error) {
    sweep_finish f = {id, ds, name, law, error, fit_request, ctx};
    return in_transaction(s, finish_sweep_tx, &f);
}

/* One row of ST_RUN_GET (by id) or ST_RUN_CLAIM (by backend and time) into
 * out; NOT_FOUND when there is none. */
static int run_row(sl_store *s, enum stmt_id id_stmt, long long id, const char *text, double num,
                   sl_run_record *out) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, id_stmt);
    int rc = SL_STORE_ERROR;
    if (st) {
        if (id_stmt == ST_RUN_GET) {
            sqlite3_bind_int64(st, 1, id);
        } else { /* ST_RUN_CLAIM */
            bind_text(st, 1, text);
            sqlite3_bind_double(st, 2, num);
        }
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read_run(st, out);
            rc = SL_STORE_OK;
            step = sqlite3_step(st);
        } else if (step == SQLITE_DONE) {
            rc = SL_STORE_NOT_FOUND;
        }
        if (step != SQLITE_DONE) {
            log_sqlite(c->db, "read run");
            if (rc == SL_STORE_OK) sl_run_record_free(out);
            rc = SL_STORE_ERROR;
        }
        done(st);
    }
    release(s, c);
    return rc;
}

int sl_store_run_get(sl_store *s, long long id, sl_run_record *out) {
    return run_row(s, ST_RUN_GET, id, NULL, 0, out);
}

int sl_store_run_claim(sl_store *s, const char *backend, double now, sl_run_record *out) {
    return run_row(s, ST_RUN_CLAIM, 0, backend, now, out);
}

static int cancel_run_tx(conn *c, void *ctx) {
    long long id = *(long long *)ctx;
    sqlite3_stmt *get = stmt(c, ST_RUN_GET), *cancel = stmt(c, ST_RUN_CANCEL);
    if (!get || !cancel) return SL_STORE_ERROR;
    sqlite3_bind_int64(get, 1, id);
    int step = sqlite3_step(get);
    sl_run_state state =
        step == SQLITE_ROW ? run_state_parse(sqlite3_column_text(get, 2)) : SL_RUN_FAILED;
    done(get);
    if (step != SQLITE_ROW) return step == SQLITE_DONE ? SL_STORE_NOT_FOUND : SL_STORE_ERROR;
    if (state == SL_RUN_CANCELLED) return SL_STORE_OK;
    if (sl_run_state_ended(state)) return SL_STORE_CONFLICT;
    sqlite3_bind_int64(cancel, 1, id);
    return step_done(c, cancel, "cancel run");
}

int sl_store_run_cancel(sl_store *s, long long id) {
    return in_transaction(s, cancel_run_tx, &id);
}

long long sl_store_run_active_count(sl_store *s, const char *backend) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_RUN_ACTIVE_COUNT);
    long long n = -1;
    if (st) {
        bind_text(st, 1, backend);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        done(st);
    }
    release(s, c);
    return n;
}

/* Runs an UPDATE on one run, bound by the caller's values: NOT_FOUND when
 * it changed no row (the run had moved on, e.g. been cancelled). */
typedef struct {
    enum stmt_id st;
    long long id;
    const char *t2, *t3, *t4, *t5;
    double d3;
} run_update;

static int update_run(sl_store *s, const run_update *u) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, u->st);
    int rc = SL_STORE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, u->id);
        if (u->t2) bind_text(st, 2, u->t2);
        if (u->st == ST_RUN_RETRY)
            sqlite3_bind_double(st, 3, u->d3);
        else if (u->t3)
            bind_text(st, 3, u->t3);
        if (u->t4) bind_text(st, 4, u->t4);
        if (u->t5) bind_text(st, 5, u->t5);
        rc = step_done(c, st, "update run");
        if (rc == SL_STORE_OK && sqlite3_changes(c->db) != 1) rc = SL_STORE_NOT_FOUND;
    }
    release(s, c);
    return rc;
}

int sl_store_run_set_ref(sl_store *s, long long id, const char *ref) {
    run_update u = {ST_RUN_SET_REF, id, ref, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_runs_active(sl_store *s, sl_store_run_fn fn, void *ctx) {
    return each_run(s, ST_RUN_ACTIVE, 0, fn, ctx);
}

int sl_store_run_progress(sl_store *s, long long id, sl_run_state state,
                          const char *progress_json) {
    run_update u = {ST_RUN_PROGRESS, id, sl_run_state_name(state), progress_json, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_run_end(sl_store *s, long long id, sl_run_state state, const char *result_json,
                     const char *progress_json, const char *error) {
    run_update u = {ST_RUN_END, id, sl_run_state_name(state), result_json, error, progress_json, 0};
    return update_run(s, &u);
}

int sl_store_run_retry(sl_store *s, long long id, double not_before, const char *why) {
    run_update u = {ST_RUN_RETRY, id, why, NULL, NULL, NULL, not_before};
    return update_run(s, &u);
}

int sl_store_runs_to_stop(sl_store *s, sl_store_run_fn fn, void *ctx) {
    return each_run(s, ST_RUN_TO_STOP, 0, fn, ctx);
}

int sl_store_run_stopped(sl_store *s, long long id) {
    run_update u = {ST_RUN_STOPPED, id, NULL, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_run_counts(sl_store *s, long long counts[SL_RUN_STATE_COUNT]) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_RUN_COUNTS);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    memset(counts, 0, SL_RUN_STATE_COUNT * sizeof counts[0]);
    if (st) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            counts[run_state_parse(sqlite3_column_text(st, 0))] = sqlite3_column_int64(st, 1);
        rc = step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
        done(st);
    }
    release(s, c);
    return rc;
}

/* ---------------------------------------------------------------- reported results */

int sl_store_run_set_secret(sl_store *s, long long id, const char *secret) {
    run_update u = {ST_RUN_SET_SECRET, id, secret, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_run_secret(sl_store *s, long long id, char *secret, size_t cap, sl_run_state *state,
                        char **report) {
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, ST_RUN_SECRET);
    int rc = SL_STORE_ERROR;
    if (report) *report = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            copy_text(secret, cap, st, 0);
            *state = run_state_parse(sqlite3_column_text(st, 1));
            if (report) *report = dup_column(st, 2);
            rc = SL_STORE_OK;
        } else if (step == SQLITE_DONE) {
            rc = SL_STORE_NOT_FOUND;
        } else {
            log_sqlite(c->db, "read run secret");
        }
        done(st);
    }
    release(s, c);
    return rc;
}

int sl_store_run_set_report(sl_store *s, long long id, const char *report_json) {
    run_update u = {ST_RUN_SET_REPORT, id, report_json, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}
