/*
 * sl_store.c - the core of the store: opening and closing, the pool of
 * connections, the schema's migrations, transactions, the per-connection
 * cache of prepared statements (each resource file owns its SQL, see
 * sl_store_internal.h), and the bind and copy helpers they share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_store_internal.h"
#include "sl_log.h"
#include "sl_text.h"

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

    /* 5: failure classes (sl_proto.h) of a failed run and of its last
     * failed attempt, and when the current attempt began (its time limit). */
    "ALTER TABLE runs ADD COLUMN failure TEXT;"
    "ALTER TABLE runs ADD COLUMN last_failure TEXT;"
    "ALTER TABLE runs ADD COLUMN attempt_started REAL;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---------------------------------------------------------------- SQLite helpers */

void sl_store_log_sqlite(sqlite3 *db, const char *what) {
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_ERROR, "sqlite");
    sl_log_str(&l, "what", what);
    sl_log_str(&l, "message", db ? sqlite3_errmsg(db) : "out of memory");
    sl_log_end(&l);
}

int sl_store_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        char head[61];
        snprintf(head, sizeof head, "%s", sql);
        sl_log_line l;
        sl_log_begin(&l, SL_LOG_ERROR, "sqlite");
        sl_log_str(&l, "sql", head);
        sl_log_str(&l, "message", msg ? msg : "?");
        sl_log_end(&l);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

void sl_store_reset(sqlite3_stmt *st) {
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

int sl_store_step_done(sl_store_conn *c, sqlite3_stmt *st, const char *what) {
    int step = sqlite3_step(st);
    sl_store_reset(st);
    if (step == SQLITE_DONE) return SL_STORE_OK;
    sl_store_log_sqlite(c->db, what);
    return SL_STORE_ERROR;
}

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */

/* Copies s[0..n) into dst (cap >= 1 bytes, NUL-terminated) as UTF-8: each
 * byte that is not part of a well-formed character becomes U+FFFD, and the
 * copy stops before the first character that does not fit. */
static void copy_utf8(char *dst, size_t cap, const char *s, size_t n) {
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = sl_text_utf8_len(s + i, n - i);
        size_t w = k ? k : sizeof REPLACEMENT_CHAR - 1;
        if (out + w >= cap) break;
        memcpy(dst + out, k ? s + i : REPLACEMENT_CHAR, w);
        out += w;
        i += k ? k : 1;
    }
    dst[out] = '\0';
}

/* A malloc'd copy of s[0..n) that is UTF-8 (copy_utf8). */
static char *dup_utf8(const char *s, size_t n) {
    if (sl_text_utf8_valid(s, n)) {
        char *t = strdup(s);
        if (!t) abort();
        return t;
    }
    size_t cap = 3 * n + 1; /* every byte a U+FFFD at worst */
    char *t = malloc(cap);
    if (!t) abort();
    copy_utf8(t, cap, s, n);
    return t;
}

void sl_store_bind_text(sqlite3_stmt *st, int i, const char *text) {
    size_t n = strlen(text);
    if (sl_text_utf8_valid(text, n))
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, i, dup_utf8(text, n), -1, free);
}

void sl_store_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    copy_utf8(dst, cap, t ? t : "", t ? strlen(t) : 0);
}

char *sl_store_dup_column(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return NULL;
    const char *t = (const char *)sqlite3_column_text(st, col);
    if (!t) abort(); /* out of memory converting the value to text */
    return dup_utf8(t, strlen(t));
}

int sl_store_name_index(const unsigned char *text, const char *const *names, int n, int unknown) {
    for (int i = 0; text && i < n; i++)
        if (strcmp((const char *)text, names[i]) == 0) return i;
    return unknown;
}

int sl_store_state_counts(sqlite3_stmt *st, const char *const *names, int n, int unknown,
                          long long *counts) {
    memset(counts, 0, (size_t)n * sizeof counts[0]);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        counts[sl_store_name_index(sqlite3_column_text(st, 0), names, n, unknown)] =
            sqlite3_column_int64(st, 1);
    sl_store_reset(st);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

/* ---------------------------------------------------------------- statements */

/* Every resource's statements, by sl_store_resource. */
static const sl_store_statements *const resources[SL_STORE_RESOURCE_COUNT] = {
    [SL_STORE_LAWS] = &sl_store_law_statements,
    [SL_STORE_DATASETS] = &sl_store_dataset_statements,
    [SL_STORE_FITS] = &sl_store_fit_statements,
    [SL_STORE_RUNS] = &sl_store_run_statements,
};

sqlite3_stmt *sl_store_stmt(sl_store_conn *c, sl_store_resource r, int id) {
    sqlite3_stmt **slot = &c->stmt[r][id];
    const char *sql = resources[r]->sql[id];
    if (!*slot &&
        sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        sl_store_log_sqlite(c->db, sql);
        return NULL;
    }
    return *slot;
}

/* ---------------------------------------------------------------- the pool and transactions */

sl_store_conn *sl_store_acquire(sl_store *s) {
    pthread_mutex_lock(&s->lock);
    while (s->nfree == 0)
        pthread_cond_wait(&s->freed, &s->lock);
    sl_store_conn *c = &s->conns[s->free_ids[--s->nfree]];
    pthread_mutex_unlock(&s->lock);
    return c;
}

void sl_store_release(sl_store *s, sl_store_conn *c) {
    pthread_mutex_lock(&s->lock);
    s->free_ids[s->nfree++] = (int)(c - s->conns);
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

int sl_store_in_transaction(sl_store *s, int (*body)(sl_store_conn *c, void *ctx), void *ctx) {
    sl_store_conn *c = sl_store_acquire(s);
    int rc = SL_STORE_ERROR;
    if (sl_store_exec(c->db, "BEGIN IMMEDIATE") == 0) {
        rc = body(c, ctx);
        if (rc != SL_STORE_OK || sl_store_exec(c->db, "COMMIT") != 0) {
            /* A COMMIT that failed (a full disk) may have rolled back already. */
            if (!sqlite3_get_autocommit(c->db)) sl_store_exec(c->db, "ROLLBACK");
            if (rc == SL_STORE_OK) rc = SL_STORE_ERROR;
        }
    }
    sl_store_release(s, c);
    return rc;
}

/* ---------------------------------------------------------------- opening and closing */

static int open_conn(sl_store_conn *c, const char *path, char *errbuf, size_t cap) {
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
    if (sl_store_exec(
            c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")) {
        snprintf(errbuf, cap, "cannot configure %s: %s", path, sqlite3_errmsg(c->db));
        return -1;
    }
    for (int r = 0; r < SL_STORE_RESOURCE_COUNT; r++) {
        c->stmt[r] = calloc(resources[r]->count, sizeof *c->stmt[r]);
        if (!c->stmt[r]) abort();
    }
    return 0;
}

static void close_conn(sl_store_conn *c) {
    for (int r = 0; r < SL_STORE_RESOURCE_COUNT; r++) {
        for (size_t i = 0; c->stmt[r] && i < resources[r]->count; i++)
            sqlite3_finalize(c->stmt[r][i]);
        free(c->stmt[r]);
    }
    sqlite3_close(c->db);
}

/* PRAGMA user_version, or -1 when it cannot be read. */
static int schema_version(sqlite3 *db) {
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

/* Brings the schema to SCHEMA_VERSION. A current schema is only read: a
 * store whose disk is full (or a read-only one) still opens. SQLite's
 * message is taken before the rollback, which would replace it. */
static int migrate(sqlite3 *db, char *errbuf, size_t cap) {
    int version = schema_version(db);
    if (version == SCHEMA_VERSION) return 0;
    if (version < 0) {
        snprintf(errbuf, cap, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (version > SCHEMA_VERSION) {
        snprintf(errbuf, cap, "database schema version %d is newer than this build's %d", version,
                 SCHEMA_VERSION);
        return -1;
    }
    if (sl_store_exec(db, "BEGIN IMMEDIATE")) {
        snprintf(errbuf, cap, "schema migration failed: %s", sqlite3_errmsg(db));
        return -1;
    }
    char pragma[48];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", SCHEMA_VERSION);
    for (int v = version; v <= SCHEMA_VERSION; v++) {
        const char *sql = v < SCHEMA_VERSION ? migrations[v] : pragma;
        if (sl_store_exec(db, sql) == 0) continue;
        snprintf(errbuf, cap, "schema migration from version %d failed: %s", version,
                 sqlite3_errmsg(db));
        sl_store_exec(db, "ROLLBACK");
        return -1;
    }
    if (sl_store_exec(db, "COMMIT") != 0) {
        snprintf(errbuf, cap, "schema migration from version %d failed: %s", version,
                 sqlite3_errmsg(db));
        if (!sqlite3_get_autocommit(db)) sl_store_exec(db, "ROLLBACK");
        return -1;
    }
    return 0;
}

/* The first problem PRAGMA quick_check finds in table (NULL: the whole
 * database) into why. 0 when it finds none, 1 when the database is damaged,
 * -1 when the check could not run (why says why). */
static int quick_check(sqlite3 *db, const char *table, char *why, size_t cap) {
    char *sql = table ? sqlite3_mprintf("PRAGMA quick_check(\"%w\")", table)
                      : sqlite3_mprintf("PRAGMA quick_check");
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (!sql) abort();
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *first = (const char *)sqlite3_column_text(st, 0);
            rc = first && strcmp(first, "ok") == 0 ? 0 : 1;
            if (rc) copy_utf8(why, cap, first ? first : "?", first ? strlen(first) : 1);
        }
    }
    if (rc < 0) {
        int code = sqlite3_errcode(db);
        rc = code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? 1 : -1;
        snprintf(why, cap, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return rc;
}

/* The tables a health check reads: all but the dataset rows, which grow
 * with every upload (the start checks them). */
#define HEALTH_MAX_TABLES 32

int sl_store_check(sl_store *s, char *why, size_t cap) {
    /* A connection of its own: a pooled one would answer from its page
     * cache and miss what changed on disk. */
    sqlite3 *db = NULL;
    char detail[256] = "";
    char tables[HEALTH_MAX_TABLES][64];
    size_t ntables = 0;
    int bad = -1;
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) ==
        SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        sqlite3_stmt *st = NULL;
        bad = quick_check(db, "sqlite_schema", detail, sizeof detail);
        if (!bad && sqlite3_prepare_v2(db,
                                       "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                       "AND name <> 'dataset_rows' ORDER BY name",
                                       -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW && ntables < HEALTH_MAX_TABLES)
                sl_store_copy_text(tables[ntables++], sizeof tables[0], st, 0);
        }
        sqlite3_finalize(st);
        for (size_t i = 0; !bad && i < ntables; i++)
            bad = quick_check(db, tables[i], detail, sizeof detail);
    } else {
        snprintf(detail, sizeof detail, "%s", db ? sqlite3_errmsg(db) : "out of memory");
    }
    sqlite3_close(db);
    if (bad > 0)
        snprintf(why, cap, "the database is damaged: %s", detail);
    else if (bad < 0)
        snprintf(why, cap, "the database cannot be read: %s", detail);
    return bad ? SL_STORE_ERROR : SL_STORE_OK;
}

/* Two servers on one directory would run every fit and training run twice:
 * the first holds an exclusive flock on DIR/lock (which names its pid) until
 * it exits, however it exits; a second is refused. */
static int lock_dir(const char *dir, char *errbuf, size_t cap) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/lock", dir) >= sizeof path) {
        snprintf(errbuf, cap, "data directory path too long");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errbuf, cap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int why = errno;
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        if (why == EWOULDBLOCK)
            snprintf(errbuf, cap,
                     "data directory %s is in use by another sparselawd (pid %s); stop it or "
                     "give this one another --data-dir",
                     dir, holder[0] ? holder : "unknown");
        else
            snprintf(errbuf, cap, "cannot lock %s: %s", path, strerror(why));
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        sl_log(SL_LOG_WARNING, "lock_pid_unwritten", path);
    return fd;
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
    int lock_fd = lock_dir(dir, errbuf, cap);
    if (lock_fd < 0) return NULL;
    sl_store *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->lock_fd = lock_fd;
    s->count = connections < 1 ? 1 : connections;
    s->conns = calloc((size_t)s->count, sizeof *s->conns);
    s->free_ids = calloc((size_t)s->count, sizeof *s->free_ids);
    if (!s->conns || !s->free_ids) abort();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_rwlock_init(&s->law_cache.lock, NULL);
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
    snprintf(s->path, sizeof s->path, "%s", path);
    /* Damage found now stops the start, before anything writes over it. */
    char why[256];
    int bad = quick_check(s->conns[0].db, NULL, why, sizeof why);
    if (bad) {
        if (bad > 0)
            snprintf(errbuf, cap,
                     "the database %s is damaged (%s); restore it from a backup, or recover "
                     "what it holds with `sqlite3 %s .recover`",
                     path, why, path);
        else
            snprintf(errbuf, cap, "cannot check the database %s: %s", path, why);
        s->read_only = 1; /* no checkpoint into a damaged file on the way out */
        sl_store_close(s);
        return NULL;
    }
    if (migrate(s->conns[0].db, errbuf, cap) != 0 ||
        sl_store_law_load_builtins(&s->conns[0]) != 0) {
        if (!errbuf[0]) snprintf(errbuf, cap, "cannot load the built-in laws");
        sl_store_close(s);
        return NULL;
    }
    s->read_only = sqlite3_db_readonly(s->conns[0].db, "main") == 1;
    if (s->read_only)
        sl_log(SL_LOG_WARNING, "read_only_store",
               "the database cannot be written: reads are served, writes answer 500, and no fit "
               "or training run starts");
    return s;
}

void sl_store_close(sl_store *s) {
    if (!s) return;
    if (s->conns[0].db && !s->read_only)
        sl_store_exec(s->conns[0].db, "PRAGMA wal_checkpoint(TRUNCATE)");
    for (int i = 0; i < s->count; i++)
        if (s->conns[i].db) close_conn(&s->conns[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    pthread_rwlock_destroy(&s->law_cache.lock);
    free(s->conns);
    free(s->free_ids);
    close(s->lock_fd); /* releases the directory */
    free(s);
}

int sl_store_schema_version(void) {
    return SCHEMA_VERSION;
}
