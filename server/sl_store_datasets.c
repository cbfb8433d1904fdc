/*
 * sl_store_datasets.c - uploaded sweeps in the store: a dataset's info and
 * its rows, created, appended to, listed and deleted.
 */
#include <stdlib.h>
#include <string.h>

#include "sl_store_internal.h"

enum dataset_stmt {
    ST_DATASET_INSERT,
    ST_DATASET_ROW,
    ST_DATASET_TOUCH,
    ST_DATASET_GET,
    ST_DATASET_LIST,
    ST_DATASET_ROWS,
    ST_DATASET_PAGE,
    ST_DATASET_BUSY,
    ST_DATASET_DELETE,
    DATASET_STMT_COUNT
};

#define DATASET_COLUMNS "id, name, data_unit, rows, created_at, updated_at"

static const char *const dataset_sql[DATASET_STMT_COUNT] = {
    [ST_DATASET_INSERT] = "INSERT INTO datasets (name, data_unit) VALUES (?1, ?2) RETURNING id",
    [ST_DATASET_ROW] = "INSERT INTO dataset_rows (dataset_id, idx, sparsity, nonzeros, data, loss, "
                       "run_id, pattern, seed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_DATASET_TOUCH] =
        "UPDATE datasets SET rows = rows + ?2, updated_at = " SL_STORE_NOW " WHERE id = ?1",
    [ST_DATASET_GET] = "SELECT " DATASET_COLUMNS " FROM datasets WHERE id = ?1",
    [ST_DATASET_LIST] = "SELECT " DATASET_COLUMNS " FROM datasets ORDER BY id",
    [ST_DATASET_ROWS] = "SELECT sparsity, nonzeros, data, loss, run_id, pattern, seed "
                        "FROM dataset_rows WHERE dataset_id = ?1 ORDER BY idx",
    [ST_DATASET_PAGE] = "SELECT sparsity, nonzeros, data, loss, run_id, pattern, seed "
                        "FROM dataset_rows WHERE dataset_id = ?1 AND idx >= ?2 AND idx < ?3 "
                        "ORDER BY idx LIMIT ?4",
    [ST_DATASET_BUSY] = "SELECT count(*) FROM fits WHERE dataset_id = ?1 "
                        "AND state IN ('queued', 'running')",
    [ST_DATASET_DELETE] = "DELETE FROM datasets WHERE id = ?1",
};

const sl_store_statements sl_store_dataset_statements = {dataset_sql, DATASET_STMT_COUNT};

static sqlite3_stmt *stmt(sl_store_conn *c, enum dataset_stmt id) {
    return sl_store_stmt(c, SL_STORE_DATASETS, (int)id);
}

static void read_dataset(sqlite3_stmt *st, sl_dataset_info *d) {
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    sl_store_copy_text(d->name, sizeof d->name, st, 1);
    sl_data_unit_parse((const char *)sqlite3_column_text(st, 2), &d->data_unit);
    d->rows = sqlite3_column_int64(st, 3);
    sl_store_copy_text(d->created_at, sizeof d->created_at, st, 4);
    sl_store_copy_text(d->updated_at, sizeof d->updated_at, st, 5);
}

int sl_store_dataset_read(sl_store_conn *c, long long id, sl_dataset_info *out) {
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
    sl_store_reset(st);
    return rc;
}

/* Inserts ds's rows after the first `offset` on c, inside a transaction. */
static int insert_rows(sl_store_conn *c, long long id, long long offset, const sl_dataset *ds) {
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
        if (r->run_id) sl_store_bind_text(ins, 7, r->run_id);
        if (r->pattern[0]) sl_store_bind_text(ins, 8, r->pattern);
        if (r->has_seed) sqlite3_bind_int64(ins, 9, r->seed);
        int step = sqlite3_step(ins);
        sl_store_reset(ins);
        if (step != SQLITE_DONE) {
            sl_store_log_sqlite(c->db, "insert dataset row");
            return SL_STORE_ERROR;
        }
    }
    sqlite3_bind_int64(touch, 1, id);
    sqlite3_bind_int64(touch, 2, (long long)ds->nrows);
    int step = sqlite3_step(touch);
    sl_store_reset(touch);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

typedef struct {
    long long id;
    const char *name;
    const sl_dataset *ds;
    sl_dataset_info *out;
} dataset_write;

int sl_store_dataset_insert(sl_store_conn *c, const char *name, const sl_dataset *ds,
                            sl_dataset_info *out, long long *id) {
    sqlite3_stmt *ins = stmt(c, ST_DATASET_INSERT);
    if (!ins) return SL_STORE_ERROR;
    sl_store_bind_text(ins, 1, name);
    sl_store_bind_text(ins, 2, sl_data_unit_name(ds->data_unit));
    int step = sqlite3_step(ins);
    if (step == SQLITE_ROW) *id = sqlite3_column_int64(ins, 0);
    if (step == SQLITE_ROW) step = sqlite3_step(ins);
    sl_store_reset(ins);
    if (step != SQLITE_DONE) return SL_STORE_ERROR;
    int rc = insert_rows(c, *id, 0, ds);
    return rc == SL_STORE_OK ? sl_store_dataset_read(c, *id, out) : rc;
}

static int create_dataset_tx(sl_store_conn *c, void *ctx) {
    dataset_write *w = ctx;
    return sl_store_dataset_insert(c, w->name, w->ds, w->out, &w->id);
}

int sl_store_dataset_create(sl_store *s, const char *name, const sl_dataset *ds,
                            sl_dataset_info *out) {
    dataset_write w = {0, name, ds, out};
    return sl_store_in_transaction(s, create_dataset_tx, &w);
}

static int append_dataset_tx(sl_store_conn *c, void *ctx) {
    dataset_write *w = ctx;
    sl_dataset_info info;
    int rc = sl_store_dataset_read(c, w->id, &info);
    if (rc != SL_STORE_OK) return rc;
    if (info.data_unit != w->ds->data_unit) return SL_STORE_CONFLICT;
    rc = insert_rows(c, w->id, info.rows, w->ds);
    return rc == SL_STORE_OK ? sl_store_dataset_read(c, w->id, w->out) : rc;
}

int sl_store_dataset_append(sl_store *s, long long id, const sl_dataset *ds, sl_dataset_info *out) {
    dataset_write w = {id, NULL, ds, out};
    return sl_store_in_transaction(s, append_dataset_tx, &w);
}

int sl_store_dataset_get(sl_store *s, long long id, sl_dataset_info *out) {
    sl_store_conn *c = sl_store_acquire(s);
    int rc = sl_store_dataset_read(c, id, out);
    sl_store_release(s, c);
    return rc;
}

/* The row st is on (columns as ST_DATASET_ROWS selects them) into r. */
static void read_row(sqlite3_stmt *st, sl_dataset_row *r) {
    memset(r, 0, sizeof *r);
    r->sparsity = sqlite3_column_double(st, 0);
    r->nonzeros = sqlite3_column_double(st, 1);
    r->data = sqlite3_column_double(st, 2);
    r->loss = sqlite3_column_double(st, 3);
    r->run_id = sl_store_dup_column(st, 4);
    sl_store_copy_text(r->pattern, sizeof r->pattern, st, 5);
    r->has_seed = sqlite3_column_type(st, 6) != SQLITE_NULL;
    r->seed = sqlite3_column_int64(st, 6);
}

int sl_store_dataset_rows(sl_store *s, long long id, sl_dataset *out) {
    sl_store_conn *c = sl_store_acquire(s);
    sl_dataset_info info;
    int rc = sl_store_dataset_read(c, id, &info);
    sqlite3_stmt *st = rc == SL_STORE_OK ? stmt(c, ST_DATASET_ROWS) : NULL;
    memset(out, 0, sizeof *out);
    if (st) {
        out->data_unit = info.data_unit;
        out->rows = calloc(info.rows ? (size_t)info.rows : 1, sizeof *out->rows);
        if (!out->rows) abort();
        sqlite3_bind_int64(st, 1, id);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW && out->nrows < (size_t)info.rows)
            read_row(st, &out->rows[out->nrows++]);
        if (step != SQLITE_DONE && step != SQLITE_ROW) {
            sl_store_log_sqlite(c->db, "read dataset rows");
            sl_dataset_free(out);
            rc = SL_STORE_ERROR;
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_dataset_rows_page(sl_store *s, long long id, long long from, long long upto,
                               size_t max, sl_dataset_row *rows, size_t *n) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_DATASET_PAGE);
    int rc = SL_STORE_ERROR;
    *n = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, upto);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
        int step = SQLITE_DONE;
        while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW)
            read_row(st, &rows[(*n)++]);
        if (*n == max || step == SQLITE_DONE) {
            rc = SL_STORE_OK;
        } else {
            sl_store_log_sqlite(c->db, "read dataset rows");
            for (size_t i = 0; i < *n; i++)
                free(rows[i].run_id);
            *n = 0;
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_dataset_list(sl_store *s, sl_store_dataset_fn fn, void *ctx) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_DATASET_LIST);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    if (st) {
        sl_dataset_info info;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            read_dataset(st, &info);
            if (fn(&info, ctx) != 0) break;
        }
        /* Stopped on a row (fn failed): the list is not whole, so not OK. */
        rc = step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
        if (step != SQLITE_DONE && step != SQLITE_ROW) sl_store_log_sqlite(c->db, "list datasets");
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

static int delete_dataset_tx(sl_store_conn *c, void *ctx) {
    long long id = *(long long *)ctx;
    sl_dataset_info info;
    int rc = sl_store_dataset_read(c, id, &info);
    if (rc != SL_STORE_OK) return rc;
    sqlite3_stmt *busy = stmt(c, ST_DATASET_BUSY), *del = stmt(c, ST_DATASET_DELETE);
    if (!busy || !del) return SL_STORE_ERROR;
    sqlite3_bind_int64(busy, 1, id);
    int step = sqlite3_step(busy);
    long long users = step == SQLITE_ROW ? sqlite3_column_int64(busy, 0) : -1;
    sl_store_reset(busy);
    if (users != 0) return users > 0 ? SL_STORE_CONFLICT : SL_STORE_ERROR;
    sqlite3_bind_int64(del, 1, id);
    step = sqlite3_step(del);
    sl_store_reset(del);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

int sl_store_dataset_delete(sl_store *s, long long id) {
    return sl_store_in_transaction(s, delete_dataset_tx, &id);
}
