/*
 * sl_store_fits.c - fit jobs in the store: queued, claimed by a worker,
 * ended (a success may publish a law version in the same transaction),
 * requeued at start, counted by state, listed newest first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_store_internal.h"

enum fit_stmt {
    ST_FIT_INSERT,
    ST_FIT_GET,
    ST_FIT_CLAIM,
    ST_FIT_PROGRESS,
    ST_FIT_END,
    ST_FIT_REQUEUE,
    ST_FIT_COUNTS,
    ST_FIT_LIST,
    FIT_STMT_COUNT
};

#define FIT_COLUMNS                                                                                \
    "id, state, dataset_id, law, request, result, error, progress, attempts, "                     \
    "published_version, created_at, coalesce(started_at, ''), coalesce(finished_at, '')"

static const char *const fit_sql[FIT_STMT_COUNT] = {
    [ST_FIT_INSERT] =
        "INSERT INTO fits (dataset_id, law, request) VALUES (?1, ?2, ?3) RETURNING id",
    [ST_FIT_GET] = "SELECT " FIT_COLUMNS " FROM fits WHERE id = ?1",
    [ST_FIT_CLAIM] =
        "UPDATE fits SET state = 'running', attempts = attempts + 1, progress = 0, "
        "started_at = " SL_STORE_NOW " WHERE id = (SELECT id FROM fits WHERE state = 'queued' "
        "ORDER BY id LIMIT 1) RETURNING " FIT_COLUMNS,
    [ST_FIT_PROGRESS] = "UPDATE fits SET progress = ?2 WHERE id = ?1 AND state = 'running'",
    [ST_FIT_END] = "UPDATE fits SET state = ?2, result = ?3, error = ?4, published_version = ?5, "
                   "finished_at = " SL_STORE_NOW " WHERE id = ?1 AND state = 'running'",
    [ST_FIT_REQUEUE] = "UPDATE fits SET state = 'queued', progress = 0 WHERE state = 'running'",
    [ST_FIT_COUNTS] = "SELECT state, count(*) FROM fits GROUP BY state",
    /* Down the primary key from ?1; ?4 is one more than the page holds, so
     * that the page knows whether older fits match too. */
    [ST_FIT_LIST] = "SELECT " FIT_COLUMNS " FROM fits WHERE id < ?1 AND (?2 IS NULL OR law = ?2) "
                    "AND (?3 IS NULL OR state = ?3) ORDER BY id DESC LIMIT ?4",
};

const sl_store_statements sl_store_fit_statements = {fit_sql, FIT_STMT_COUNT};

static sqlite3_stmt *stmt(sl_store_conn *c, enum fit_stmt id) {
    return sl_store_stmt(c, SL_STORE_FITS, (int)id);
}

static const char *const fit_state_names[SL_FIT_STATE_COUNT] = {"queued", "running", "succeeded",
                                                                "failed"};

const char *sl_fit_state_name(sl_fit_state state) {
    return state < SL_FIT_STATE_COUNT ? fit_state_names[state] : "unknown";
}

static sl_fit_state fit_state_parse(const unsigned char *text) {
    return (sl_fit_state)sl_store_name_index(text, fit_state_names, SL_FIT_STATE_COUNT,
                                             SL_FIT_STATE_FAILED);
}

static void read_fit(sqlite3_stmt *st, sl_fit_job *j) {
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->state = fit_state_parse(sqlite3_column_text(st, 1));
    j->dataset_id = sqlite3_column_int64(st, 2);
    sl_store_copy_text(j->law, sizeof j->law, st, 3);
    j->request = sl_store_dup_column(st, 4);
    j->result = sl_store_dup_column(st, 5);
    j->error = sl_store_dup_column(st, 6);
    j->progress = sqlite3_column_double(st, 7);
    j->attempts = (long)sqlite3_column_int64(st, 8);
    j->published_version = (long)sqlite3_column_int64(st, 9);
    sl_store_copy_text(j->created_at, sizeof j->created_at, st, 10);
    sl_store_copy_text(j->started_at, sizeof j->started_at, st, 11);
    sl_store_copy_text(j->finished_at, sizeof j->finished_at, st, 12);
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

int sl_store_fit_insert(sl_store_conn *c, long long dataset_id, const char *law,
                        const char *request, long long *id) {
    sl_dataset_info info;
    int rc = sl_store_dataset_read(c, dataset_id, &info);
    if (rc != SL_STORE_OK) return rc;
    sqlite3_stmt *ins = stmt(c, ST_FIT_INSERT);
    if (!ins) return SL_STORE_ERROR;
    sqlite3_bind_int64(ins, 1, dataset_id);
    sl_store_bind_text(ins, 2, law);
    sl_store_bind_text(ins, 3, request);
    int step = sqlite3_step(ins);
    if (step == SQLITE_ROW) *id = sqlite3_column_int64(ins, 0);
    if (step == SQLITE_ROW) step = sqlite3_step(ins);
    sl_store_reset(ins);
    return step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
}

static int create_fit_tx(sl_store_conn *c, void *ctx) {
    fit_create *f = ctx;
    return sl_store_fit_insert(c, f->dataset_id, f->law, f->request, &f->id);
}

int sl_store_fit_create(sl_store *s, long long dataset_id, const char *law,
                        const char *request_json, long long *id) {
    fit_create f = {dataset_id, 0, law, request_json};
    int rc = sl_store_in_transaction(s, create_fit_tx, &f);
    *id = f.id;
    return rc;
}

/* One row of a fit statement (GET by id, or CLAIM) into out. */
static int fit_row(sl_store *s, enum fit_stmt id_stmt, long long id, sl_fit_job *out) {
    sl_store_conn *c = sl_store_acquire(s);
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
            sl_store_log_sqlite(c->db, "read fit");
            if (rc == SL_STORE_OK) sl_fit_job_free(out);
            rc = SL_STORE_ERROR;
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_fit_get(sl_store *s, long long id, sl_fit_job *out) {
    return fit_row(s, ST_FIT_GET, id, out);
}

int sl_store_fit_list(sl_store *s, sl_store_page *page, const char *law, sl_fit_state state,
                      sl_fit_job **out, size_t *n) {
    size_t cap = page->limit ? page->limit : 1;
    sl_fit_job *jobs = calloc(cap, sizeof *jobs);
    if (!jobs) abort();
    *n = 0;
    page->next_before = 0;
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_LIST);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, page->before > 0 ? page->before : INT64_MAX);
        if (law) sl_store_bind_text(st, 2, law);
        if (state < SL_FIT_STATE_COUNT) sl_store_bind_text(st, 3, sl_fit_state_name(state));
        sqlite3_bind_int64(st, 4, (sqlite3_int64)cap + 1);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) { /* one more than the page: older fits match too */
                page->next_before = jobs[cap - 1].id;
                break;
            }
            read_fit(st, &jobs[(*n)++]);
        }
        if (step == SQLITE_ROW || step == SQLITE_DONE)
            rc = SL_STORE_OK;
        else
            sl_store_log_sqlite(c->db, "list fits");
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    if (rc != SL_STORE_OK) {
        for (size_t i = 0; i < *n; i++)
            sl_fit_job_free(&jobs[i]);
        free(jobs);
        jobs = NULL;
        *n = 0;
    }
    *out = jobs;
    return rc;
}

int sl_store_fit_claim(sl_store *s, sl_fit_job *out) {
    if (s->read_only) return SL_STORE_NOT_FOUND; /* nothing can start */
    return fit_row(s, ST_FIT_CLAIM, 0, out);
}

int sl_store_fit_progress(sl_store *s, long long id, double fraction) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_PROGRESS);
    int rc = SL_STORE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_double(st, 2, fraction);
        rc = sl_store_step_done(c, st, "fit progress");
    }
    sl_store_release(s, c);
    return rc;
}

typedef struct {
    long long id;
    sl_fit_state state;
    const char *result, *error;
    sl_law_record *publish;
    const sl_law *draws;
    size_t ndraws;
    const double *draw_eta; /* publish->npatterns per draw, or NULL */
} fit_end;

static int end_fit_tx(sl_store_conn *c, void *ctx) {
    fit_end *e = ctx;
    long version = 0;
    if (e->publish) {
        int state = sl_store_law_state(c, e->publish->name);
        if (state == SL_STORE_ERROR) return SL_STORE_ERROR;
        if (state == SL_STORE_LAW_BUILTIN) return SL_STORE_CONFLICT;
        int rc = sl_store_law_insert_version(c, e->publish, e->draws, e->ndraws, e->draw_eta);
        if (rc != SL_STORE_OK) return rc;
        version = e->publish->version;
    }
    sqlite3_stmt *st = stmt(c, ST_FIT_END);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, e->id);
    sl_store_bind_text(st, 2, sl_fit_state_name(e->state));
    if (e->result) sl_store_bind_text(st, 3, e->result);
    if (e->error) sl_store_bind_text(st, 4, e->error);
    if (version) sqlite3_bind_int64(st, 5, version);
    int rc = sl_store_step_done(c, st, "end fit");
    if (rc == SL_STORE_OK && sqlite3_changes(c->db) != 1) rc = SL_STORE_NOT_FOUND;
    return rc;
}

int sl_store_fit_succeed(sl_store *s, long long id, const char *result_json, sl_law_record *publish,
                         const sl_law *draws, size_t ndraws, const double *draw_eta) {
    fit_end e = {id, SL_FIT_STATE_SUCCEEDED, result_json, NULL, publish, draws, ndraws, draw_eta};
    int rc = sl_store_in_transaction(s, end_fit_tx, &e);
    if (publish) sl_store_law_cache_drop(s, publish->name);
    return rc;
}

int sl_store_fit_fail(sl_store *s, long long id, const char *error) {
    fit_end e = {id, SL_FIT_STATE_FAILED, NULL, error, NULL, NULL, 0, NULL};
    return sl_store_in_transaction(s, end_fit_tx, &e);
}

int sl_store_fit_requeue_running(sl_store *s) {
    if (s->read_only) return SL_STORE_OK;
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_REQUEUE);
    int rc = st ? sl_store_step_done(c, st, "requeue fits") : SL_STORE_ERROR;
    sl_store_release(s, c);
    return rc;
}

int sl_store_fit_counts(sl_store *s, long long counts[SL_FIT_STATE_COUNT]) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_FIT_COUNTS);
    memset(counts, 0, SL_FIT_STATE_COUNT * sizeof counts[0]);
    int rc = st ? sl_store_state_counts(st, fit_state_names, SL_FIT_STATE_COUNT,
                                        SL_FIT_STATE_FAILED, counts)
                : SL_STORE_ERROR;
    sl_store_release(s, c);
    return rc;
}
