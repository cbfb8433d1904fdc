#include "sl_store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    ST_COUNT
};

#define LAW_COLUMNS                                                                      \
    "v.name, v.version, v.description, v.a_s, v.b_s, v.c_s, v.b_n, v.a_d, v.b_d, v.c, " \
    "v.data_unit, v.source_kind, v.reference, v.fit_id, v.created_at, l.builtin"

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
        "c, data_unit, source_kind, reference, fit_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
        "RETURNING created_at",
    [ST_LAW_DELETE] = "DELETE FROM law_versions WHERE name = ?1",
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
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
} conn;

struct sl_store {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int count;
    int nfree;
    int *free_ids;
    conn *conns;
};

int sl_store_schema_version(void) { return SCHEMA_VERSION; }

static void log_sqlite(sqlite3 *db, const char *what) {
    fprintf(stderr, "{\"level\":\"error\",\"event\":\"sqlite\",\"what\":\"%s\",\"message\":\"%s\"}\n",
            what, db ? sqlite3_errmsg(db) : "out of memory");
}

static conn *acquire(sl_store *s) {
    pthread_mutex_lock(&s->lock);
    while (s->nfree == 0) pthread_cond_wait(&s->freed, &s->lock);
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
    if (!c->stmt[id] &&
        sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                           NULL) != SQLITE_OK) {
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
        fprintf(stderr, "{\"level\":\"error\",\"event\":\"sqlite\",\"sql\":\"%.60s\",\"message\":\"%s\"}\n",
                sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int open_conn(conn *c, const char *path, char *errbuf, size_t cap) {
    memset(c, 0, sizeof *c);
    int rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, cap, "cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
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
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(c->stmt[i]);
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
}

/* Inserts a version on c inside the caller's transaction. */
static int insert_version(conn *c, sl_law_record *rec) {
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
        state = !sqlite3_column_int(st, 1) ? LAW_ABSENT
                : sqlite3_column_int(st, 0) ? LAW_BUILTIN : LAW_USER;
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
        if (insert_version(c, &rec) != SL_STORE_OK) goto rollback;
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
    for (int i = 0; i < s->count; i++) {
        if (open_conn(&s->conns[i], path, errbuf, cap) != 0) {
            s->nfree = i + 1; /* close what was opened, this one included */
            for (int j = 0; j <= i; j++) s->free_ids[j] = j;
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
    free(s->conns);
    free(s->free_ids);
    free(s);
}

int sl_store_law_get(sl_store *s, const char *name, long version, sl_law_record *out) {
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

int sl_store_law_put(sl_store *s, sl_law_record *rec, int *created) {
    conn *c = acquire(s);
    int rc = SL_STORE_ERROR;
    if (exec(c->db, "BEGIN IMMEDIATE") == 0) {
        int state = law_state(c, rec->name);
        rec->builtin = 0;
        *created = state == LAW_ABSENT;
        rc = state == SL_STORE_ERROR ? SL_STORE_ERROR
             : state == LAW_BUILTIN  ? SL_STORE_CONFLICT
                                     : insert_version(c, rec);
        if (rc != SL_STORE_OK || exec(c->db, "COMMIT") != 0) {
            exec(c->db, "ROLLBACK");
            if (rc == SL_STORE_OK) rc = SL_STORE_ERROR;
        }
    }
    release(s, c);
    return rc;
}

int sl_store_law_delete(sl_store *s, const char *name) {
    conn *c = acquire(s);
    int rc = SL_STORE_ERROR;
    if (exec(c->db, "BEGIN IMMEDIATE") == 0) {
        int state = law_state(c, name);
        sqlite3_stmt *st = state == LAW_USER ? stmt(c, ST_LAW_DELETE) : NULL;
        rc = state == SL_STORE_ERROR ? SL_STORE_ERROR
             : state == LAW_ABSENT   ? SL_STORE_NOT_FOUND
             : state == LAW_BUILTIN  ? SL_STORE_CONFLICT
                                     : SL_STORE_ERROR;
        if (st) {
            bind_text(st, 1, name);
            rc = sqlite3_step(st) == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
            done(st);
        }
        if (rc != SL_STORE_OK || exec(c->db, "COMMIT") != 0) {
            exec(c->db, "ROLLBACK");
            if (rc == SL_STORE_OK) rc = SL_STORE_ERROR;
        }
    }
    release(s, c);
    return rc;
}
