/*
 * sl_store_laws.c - laws and their versions in the store: reads (with the
 * cache of latest versions), writes, deletes, bootstrap draws, and the
 * built-in laws loaded at open.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_store_internal.h"

/* A bootstrap draw is stored as its 7 coefficients, native doubles. */
#define DRAW_BYTES      (SL_LAW_NCOEF * sizeof(double))
#define DRAW_BYTES_TEXT "56"

enum law_stmt {
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
    ST_LAW_DIAGNOSTICS,
    ST_LAW_PATTERN_DRAWS,
    LAW_STMT_COUNT
};

#define LAW_COLUMNS                                                                                \
    "v.name, v.version, v.description, v.a_s, v.b_s, v.c_s, v.b_n, v.a_d, v.b_d, v.c, "            \
    "v.data_unit, v.source_kind, v.reference, v.fit_id, v.created_at, l.builtin, "                 \
    "v.fit_json, coalesce(length(v.draws), 0) / " DRAW_BYTES_TEXT ", coalesce(v.verdict, ''), "    \
    "v.warnings, v.patterns"

static const char *const law_sql[LAW_STMT_COUNT] = {
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
        "c, data_unit, source_kind, reference, fit_id, fit_json, draws, verdict, warnings, "
        "diagnostics, patterns, pattern_draws) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19, ?20, ?21) "
        "RETURNING created_at",
    [ST_LAW_DELETE] = "DELETE FROM law_versions WHERE name = ?1",
    [ST_LAW_DRAWS] = "SELECT draws FROM law_versions WHERE name = ?1 AND version = ?2",
    [ST_LAW_DIAGNOSTICS] = "SELECT diagnostics FROM law_versions WHERE name = ?1 AND version = ?2",
    [ST_LAW_PATTERN_DRAWS] =
        "SELECT pattern_draws FROM law_versions WHERE name = ?1 AND version = ?2",
};

const sl_store_statements sl_store_law_statements = {law_sql, LAW_STMT_COUNT};

static sqlite3_stmt *stmt(sl_store_conn *c, enum law_stmt id) {
    return sl_store_stmt(c, SL_STORE_LAWS, (int)id);
}

/* ---------------------------------------------------------------- the cache of latest versions */

static int law_cache_find(sl_store *s, const char *name, sl_law_record *out) {
    int hit = 0;
    pthread_rwlock_rdlock(&s->law_cache.lock);
    for (size_t i = 0; i < s->law_cache.ncached && !hit; i++)
        if (strcmp(s->law_cache.cached[i].name, name) == 0) {
            *out = s->law_cache.cached[i];
            hit = 1;
        }
    pthread_rwlock_unlock(&s->law_cache.lock);
    return hit;
}

static unsigned long law_cache_generation(sl_store *s) {
    pthread_rwlock_rdlock(&s->law_cache.lock);
    unsigned long g = s->law_cache.generation;
    pthread_rwlock_unlock(&s->law_cache.lock);
    return g;
}

static void law_cache_put(sl_store *s, const sl_law_record *rec, unsigned long seen) {
    pthread_rwlock_wrlock(&s->law_cache.lock);
    if (s->law_cache.generation == seen) {
        size_t slot = s->law_cache.ncached < SL_STORE_LAW_CACHE_SIZE
                          ? s->law_cache.ncached++
                          : s->law_cache.next_evict++ % SL_STORE_LAW_CACHE_SIZE;
        s->law_cache.cached[slot] = *rec;
    }
    pthread_rwlock_unlock(&s->law_cache.lock);
}

void sl_store_law_cache_drop(sl_store *s, const char *name) {
    pthread_rwlock_wrlock(&s->law_cache.lock);
    s->law_cache.generation++;
    for (size_t i = 0; i < s->law_cache.ncached; i++)
        if (strcmp(s->law_cache.cached[i].name, name) == 0)
            s->law_cache.cached[i--] = s->law_cache.cached[--s->law_cache.ncached];
    pthread_rwlock_unlock(&s->law_cache.lock);
}

/* ---------------------------------------------------------------- rows and writes */

static void read_law(sqlite3_stmt *st, sl_law_record *r) {
    memset(r, 0, sizeof *r);
    sl_store_copy_text(r->name, sizeof r->name, st, 0);
    r->version = (long)sqlite3_column_int64(st, 1);
    sl_store_copy_text(r->description, sizeof r->description, st, 2);
    for (int i = 0; i < SL_LAW_NCOEF; i++)
        *sl_law_coef(&r->law, (size_t)i) = sqlite3_column_double(st, 3 + i);
    /* The schema's CHECK constraints guarantee these parse. */
    sl_data_unit_parse((const char *)sqlite3_column_text(st, 10), &r->data_unit);
    sl_source_kind_parse((const char *)sqlite3_column_text(st, 11), &r->source_kind);
    sl_store_copy_text(r->reference, sizeof r->reference, st, 12);
    r->fit_id = sqlite3_column_int64(st, 13);
    sl_store_copy_text(r->created_at, sizeof r->created_at, st, 14);
    r->builtin = sqlite3_column_int(st, 15);
    sl_store_copy_text(r->fit_json, sizeof r->fit_json, st, 16);
    r->draws = (long)sqlite3_column_int64(st, 17);
    sl_store_copy_text(r->verdict, sizeof r->verdict, st, 18);
    sl_store_copy_text(r->warnings, sizeof r->warnings, st, 19);
    sl_law_patterns_parse((const char *)sqlite3_column_text(st, 20), r);
}

int sl_store_law_insert_version(sl_store_conn *c, sl_law_record *rec, const sl_law *draws,
                                size_t ndraws, const double *draw_eta) {
    sqlite3_stmt *ins_name = stmt(c, ST_LAW_INSERT_NAME);
    sqlite3_stmt *next = stmt(c, ST_LAW_NEXT_VERSION);
    sqlite3_stmt *ins = stmt(c, ST_LAW_INSERT_VERSION);
    int rc = SL_STORE_ERROR;
    if (!ins_name || !next || !ins) return SL_STORE_ERROR;
    sl_store_bind_text(ins_name, 1, rec->name);
    sqlite3_bind_int(ins_name, 2, rec->builtin);
    if (sqlite3_step(ins_name) != SQLITE_DONE) goto out;
    sl_store_bind_text(next, 1, rec->name);
    if (sqlite3_step(next) != SQLITE_ROW) goto out;
    rec->version = (long)sqlite3_column_int64(next, 0);
    if (sqlite3_step(next) != SQLITE_DONE) goto out;
    sl_store_bind_text(ins, 1, rec->name);
    sqlite3_bind_int64(ins, 2, rec->version);
    sl_store_bind_text(ins, 3, rec->description);
    for (int i = 0; i < SL_LAW_NCOEF; i++)
        sqlite3_bind_double(ins, 4 + i, sl_law_coef_get(&rec->law, (size_t)i));
    sl_store_bind_text(ins, 11, sl_data_unit_name(rec->data_unit));
    sl_store_bind_text(ins, 12, sl_source_kind_name(rec->source_kind));
    sl_store_bind_text(ins, 13, rec->reference);
    if (rec->fit_id) sqlite3_bind_int64(ins, 14, rec->fit_id);
    sl_store_bind_text(ins, 15, rec->fit_json);
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
    if (rec->verdict[0]) sl_store_bind_text(ins, 17, rec->verdict);
    sl_store_bind_text(ins, 18, rec->warnings);
    if (rec->diagnostics) sl_store_bind_text(ins, 19, rec->diagnostics);
    char patterns[SL_LAW_PATTERNS_TEXT];
    if (sl_law_patterns_format(rec, patterns, sizeof patterns) != 0) goto out;
    sl_store_bind_text(ins, 20, patterns);
    if (ndraws && rec->npatterns && draw_eta)
        sqlite3_bind_blob64(ins, 21, draw_eta, ndraws * rec->npatterns * sizeof *draw_eta,
                            SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_ROW) goto out;
    sl_store_copy_text(rec->created_at, sizeof rec->created_at, ins, 0);
    if (sqlite3_step(ins) != SQLITE_DONE) goto out;
    rc = SL_STORE_OK;
out:
    if (rc != SL_STORE_OK) sl_store_log_sqlite(c->db, "insert law version");
    sl_store_reset(ins_name);
    sl_store_reset(next);
    sl_store_reset(ins);
    return rc;
}

int sl_store_law_state(sl_store_conn *c, const char *name) {
    sqlite3_stmt *st = stmt(c, ST_LAW_STATE);
    if (!st) return SL_STORE_ERROR;
    sl_store_bind_text(st, 1, name);
    int rc = sqlite3_step(st), state = SL_STORE_ERROR;
    if (rc == SQLITE_DONE)
        state = SL_STORE_LAW_ABSENT;
    else if (rc == SQLITE_ROW)
        state = !sqlite3_column_int(st, 1)  ? SL_STORE_LAW_ABSENT
                : sqlite3_column_int(st, 0) ? SL_STORE_LAW_BUILTIN
                                            : SL_STORE_LAW_USER;
    sl_store_reset(st);
    return state;
}

int sl_store_law_load_builtins(sl_store_conn *c) {
    /* Loaded on an earlier start: nothing to write (a full disk still starts). */
    size_t absent = 0;
    for (size_t i = 0; i < SL_BUILTIN_COUNT; i++) {
        int state = sl_store_law_state(c, sl_builtin_laws[i].name);
        if (state == SL_STORE_ERROR) return -1;
        absent += state == SL_STORE_LAW_ABSENT;
    }
    if (!absent) return 0;
    if (sl_store_exec(c->db, "BEGIN IMMEDIATE")) return -1;
    for (size_t i = 0; i < SL_BUILTIN_COUNT; i++) {
        sl_law_record rec = sl_builtin_laws[i];
        int state = sl_store_law_state(c, rec.name);
        if (state == SL_STORE_ERROR) goto rollback;
        if (state != SL_STORE_LAW_ABSENT) continue; /* loaded on an earlier start */
        if (sl_store_law_insert_version(c, &rec, NULL, 0, NULL) != SL_STORE_OK) goto rollback;
    }
    if (sl_store_exec(c->db, "COMMIT") == 0) return 0;
rollback:
    if (!sqlite3_get_autocommit(c->db)) sl_store_exec(c->db, "ROLLBACK");
    return -1;
}

/* ---------------------------------------------------------------- the public calls */

int sl_store_law_get(sl_store *s, const char *name, long version, sl_law_record *out) {
    if (!version && law_cache_find(s, name, out)) return SL_STORE_OK;
    unsigned long seen = law_cache_generation(s);
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, version ? ST_LAW_VERSION : ST_LAW_LATEST);
    int rc = SL_STORE_ERROR;
    if (st) {
        sl_store_bind_text(st, 1, name);
        if (version) sqlite3_bind_int64(st, 2, version);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read_law(st, out);
            rc = SL_STORE_OK;
        } else if (step == SQLITE_DONE) {
            rc = SL_STORE_NOT_FOUND;
        } else {
            sl_store_log_sqlite(c->db, "get law");
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    if (rc == SL_STORE_OK && !version) law_cache_put(s, out, seen);
    return rc;
}

static int each_law(sl_store *s, enum law_stmt id, const char *name, sl_store_law_fn fn,
                    void *ctx) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, id);
    int rc = SL_STORE_ERROR, rows = 0, step = SQLITE_ERROR;
    if (st) {
        if (name) sl_store_bind_text(st, 1, name);
        sl_law_record rec;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            read_law(st, &rec);
            rows++;
            if (fn(&rec, ctx) != 0) break;
        }
        /* Stopped on a row (fn failed): the list is not whole, so not OK. */
        if (step == SQLITE_DONE)
            rc = (rows == 0 && name) ? SL_STORE_NOT_FOUND : SL_STORE_OK;
        else if (step != SQLITE_ROW)
            sl_store_log_sqlite(c->db, "list laws");
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_law_list(sl_store *s, sl_store_law_fn fn, void *ctx) {
    return each_law(s, ST_LAW_LIST, NULL, fn, ctx);
}

int sl_store_law_versions(sl_store *s, const char *name, sl_store_law_fn fn, void *ctx) {
    return each_law(s, ST_LAW_VERSIONS, name, fn, ctx);
}

typedef struct {
    sl_law_record *rec;
    int *created;
} law_put;

static int put_law_tx(sl_store_conn *c, void *ctx) {
    law_put *p = ctx;
    int state = sl_store_law_state(c, p->rec->name);
    p->rec->builtin = 0;
    *p->created = state == SL_STORE_LAW_ABSENT;
    return state == SL_STORE_ERROR         ? SL_STORE_ERROR
           : state == SL_STORE_LAW_BUILTIN ? SL_STORE_CONFLICT
                                           : sl_store_law_insert_version(c, p->rec, NULL, 0, NULL);
}

int sl_store_law_put(sl_store *s, sl_law_record *rec, int *created) {
    law_put p = {rec, created};
    int rc = sl_store_in_transaction(s, put_law_tx, &p);
    sl_store_law_cache_drop(s, rec->name);
    return rc;
}

static int delete_law_tx(sl_store_conn *c, void *ctx) {
    const char *name = ctx;
    int state = sl_store_law_state(c, name);
    if (state != SL_STORE_LAW_USER)
        return state == SL_STORE_LAW_ABSENT    ? SL_STORE_NOT_FOUND
               : state == SL_STORE_LAW_BUILTIN ? SL_STORE_CONFLICT
                                               : SL_STORE_ERROR;
    sqlite3_stmt *st = stmt(c, ST_LAW_DELETE);
    if (!st) return SL_STORE_ERROR;
    sl_store_bind_text(st, 1, name);
    return sl_store_step_done(c, st, "delete law");
}

int sl_store_law_delete(sl_store *s, const char *name) {
    int rc = sl_store_in_transaction(s, delete_law_tx, (void *)(uintptr_t)name);
    sl_store_law_cache_drop(s, name);
    return rc;
}

/* One column of one law version (ST_LAW_DRAWS, ST_LAW_DIAGNOSTICS): read(st,
 * ctx) on its row. NOT_FOUND when there is no such version. */
static int law_version_column(sl_store *s, enum law_stmt id, const char *name, long version,
                              void (*read)(sqlite3_stmt *st, void *ctx), void *ctx) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, id);
    int rc = SL_STORE_ERROR;
    if (st) {
        sl_store_bind_text(st, 1, name);
        sqlite3_bind_int64(st, 2, version);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read(st, ctx);
            rc = SL_STORE_OK;
        } else {
            rc = step == SQLITE_DONE ? SL_STORE_NOT_FOUND : SL_STORE_ERROR;
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

typedef struct {
    sl_law **draws;
    size_t *n;
} draws_out;

static void read_draws(sqlite3_stmt *st, void *ctx) {
    draws_out *o = ctx;
    const double *blob = sqlite3_column_blob(st, 0);
    size_t count = (size_t)sqlite3_column_bytes(st, 0) / DRAW_BYTES;
    if (count) {
        *o->draws = calloc(count, sizeof **o->draws);
        if (!*o->draws) abort();
        for (size_t i = 0; i < count; i++)
            for (size_t k = 0; k < SL_LAW_NCOEF; k++)
                *sl_law_coef(&(*o->draws)[i], k) = blob[i * SL_LAW_NCOEF + k];
    }
    *o->n = count;
}

int sl_store_law_draws(sl_store *s, const char *name, long version, sl_law **draws, size_t *n) {
    draws_out o = {draws, n};
    *draws = NULL;
    *n = 0;
    return law_version_column(s, ST_LAW_DRAWS, name, version, read_draws, &o);
}

static void read_text(sqlite3_stmt *st, void *ctx) {
    *(char **)ctx = sl_store_dup_column(st, 0);
}

int sl_store_law_diagnostics(sl_store *s, const char *name, long version, char **json) {
    *json = NULL;
    return law_version_column(s, ST_LAW_DIAGNOSTICS, name, version, read_text, json);
}

typedef struct {
    unsigned npatterns;
    double **eta;
    size_t *n;
} pattern_draws_out;

static void read_pattern_draws(sqlite3_stmt *st, void *ctx) {
    pattern_draws_out *o = ctx;
    size_t row = o->npatterns * sizeof **o->eta;
    size_t count = (size_t)sqlite3_column_bytes(st, 0) / row;
    if (count) {
        *o->eta = malloc(count * row);
        if (!*o->eta) abort();
        memcpy(*o->eta, sqlite3_column_blob(st, 0), count * row);
    }
    *o->n = count;
}

int sl_store_law_pattern_draws(sl_store *s, const char *name, long version, unsigned npatterns,
                               double **eta, size_t *n) {
    pattern_draws_out o = {npatterns, eta, n};
    *eta = NULL;
    *n = 0;
    if (!npatterns) return SL_STORE_OK;
    return law_version_column(s, ST_LAW_PATTERN_DRAWS, name, version, read_pattern_draws, &o);
}
