/*
 * sl_store_runs.c - calibration sweeps and their training runs in the store:
 * a sweep created with its runs, runs claimed by backends, their progress,
 * retries, ends and reported results, and a sweep finished into a dataset
 * and a fit; pages of sweeps and of a sweep's runs, newest first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_store_internal.h"

enum run_stmt {
    ST_SWEEP_INSERT,
    ST_RUN_INSERT,
    ST_SWEEP_GET,
    ST_SWEEP_LIST,
    ST_SWEEP_COUNTS,
    ST_SWEEP_RUNS,
    ST_SWEEP_RUN_LIST,
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
    ST_RUN_SUCCEEDED,
    ST_RUN_STOPPED,
    ST_RUN_COUNTS,
    ST_RUN_SET_SECRET,
    ST_RUN_SECRET,
    ST_RUN_SET_REPORT,
    ST_RUN_UNCLAIM,
    RUN_STMT_COUNT
};

/* A sweep with its fit and dataset: what clients see of them is read in one
 * statement, so that they agree. SWEEP_PHASE is the one definition of the
 * state a client sees (sl_sweep_phase). */
#define SWEEP_FROM                                                                                 \
    "sweeps s LEFT JOIN fits f ON f.id = s.fit_id LEFT JOIN datasets d ON d.id = s.dataset_id"
#define SWEEP_PHASE                                                                                \
    "(CASE WHEN s.state = 'running' THEN 'running' WHEN s.state = 'cancelled' THEN 'cancelled' "   \
    "WHEN f.state = 'succeeded' THEN 'succeeded' WHEN f.state IN ('queued', 'running') "           \
    "THEN 'fitting' ELSE 'failed' END)"
#define SWEEP_COLUMNS                                                                              \
    "s.id, s.law, s.backend, s.state, s.request, s.error, coalesce(s.dataset_id, 0), "             \
    "coalesce(s.fit_id, 0), s.created_at, coalesce(s.finished_at, ''), " SWEEP_PHASE ", "          \
    "coalesce(d.rows, -1), f.state, coalesce(f.published_version, 0), f.error"
#define RUN_COLUMNS                                                                                \
    "id, sweep_id, state, point_key, backend, spec, coalesce(ref, ''), progress, result, "         \
    "error, last_error, attempts, max_attempts, not_before, created_at, "                          \
    "coalesce(started_at, ''), coalesce(finished_at, ''), failure, last_failure, "                 \
    "coalesce(attempt_started, 0)"
#define RUN_LIVE "('queued', 'submitted', 'running')"

static const char *const run_sql[RUN_STMT_COUNT] = {
    [ST_SWEEP_INSERT] =
        "INSERT INTO sweeps (law, backend, request) VALUES (?1, ?2, ?3) RETURNING id",
    [ST_RUN_INSERT] =
        "INSERT OR IGNORE INTO runs (sweep_id, point_key, backend, spec, max_attempts) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_SWEEP_GET] = "SELECT " SWEEP_COLUMNS " FROM " SWEEP_FROM " WHERE s.id = ?1",
    /* Pages: down the primary key from ?1, ?4 one more than the page holds
     * (so that it knows whether older ones match too). */
    [ST_SWEEP_LIST] =
        "SELECT " SWEEP_COLUMNS " FROM " SWEEP_FROM
        " WHERE s.id < ?1 AND (?2 IS NULL OR s.law = ?2) AND (?3 IS NULL OR " SWEEP_PHASE
        " = ?3) ORDER BY s.id DESC LIMIT ?4",
    [ST_SWEEP_COUNTS] = "SELECT state, count(*) FROM runs WHERE sweep_id = ?1 GROUP BY state",
    [ST_SWEEP_RUNS] = "SELECT " RUN_COLUMNS " FROM runs WHERE sweep_id = ?1 ORDER BY id",
    [ST_SWEEP_RUN_LIST] = "SELECT " RUN_COLUMNS " FROM runs WHERE sweep_id = ?1 AND id < ?2 "
                          "AND (?3 IS NULL OR state = ?3) ORDER BY id DESC LIMIT ?4",
    [ST_SWEEP_CANCEL] = "UPDATE sweeps SET state = 'cancelled', finished_at = " SL_STORE_NOW
                        " WHERE id = ?1 AND state = 'running'",
    [ST_SWEEP_CANCEL_RUNS] = "UPDATE runs SET state = 'cancelled', finished_at = " SL_STORE_NOW
                             " WHERE sweep_id = ?1 AND state IN " RUN_LIVE,
    [ST_SWEEP_READY] =
        "SELECT id FROM sweeps s WHERE state = 'running' AND NOT EXISTS "
        "(SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.state IN " RUN_LIVE ") ORDER BY id",
    [ST_SWEEP_FINISH] =
        "UPDATE sweeps SET state = 'finished', dataset_id = ?2, fit_id = ?3, "
        "error = ?4, finished_at = " SL_STORE_NOW " WHERE id = ?1 AND state = 'running'",
    [ST_RUN_GET] = "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1",
    [ST_RUN_CANCEL] = "UPDATE runs SET state = 'cancelled', finished_at = " SL_STORE_NOW
                      " WHERE id = ?1 AND state IN " RUN_LIVE,
    [ST_RUN_ACTIVE_COUNT] = "SELECT count(*) FROM runs WHERE backend = ?1 "
                            "AND state IN ('submitted', 'running')",
    [ST_RUN_CLAIM] = "UPDATE runs SET state = 'submitted', attempts = attempts + 1, ref = NULL, "
                     "secret = NULL, report = NULL, stopped = 0, attempt_started = ?2, "
                     "started_at = coalesce(started_at, " SL_STORE_NOW ") WHERE id = "
                     "(SELECT id FROM runs WHERE backend = ?1 AND state = 'queued' AND "
                     "not_before <= ?2 ORDER BY id LIMIT 1) RETURNING " RUN_COLUMNS,
    [ST_RUN_SET_REF] = "UPDATE runs SET ref = ?2 WHERE id = ?1",
    [ST_RUN_ACTIVE] = "SELECT " RUN_COLUMNS " FROM runs WHERE state IN ('submitted', 'running') "
                      "ORDER BY id",
    [ST_RUN_PROGRESS] = "UPDATE runs SET state = ?2, progress = coalesce(?3, progress) "
                        "WHERE id = ?1 AND state IN ('submitted', 'running')",
    [ST_RUN_END] = "UPDATE runs SET state = ?2, result = ?3, error = ?4, failure = ?6, "
                   "progress = coalesce(?5, progress), finished_at = " SL_STORE_NOW
                   " WHERE id = ?1 AND state IN ('submitted', 'running')",
    [ST_RUN_RETRY] = "UPDATE runs SET state = 'queued', ref = NULL, last_error = ?2, "
                     "not_before = ?3, last_failure = ?4 "
                     "WHERE id = ?1 AND state IN ('submitted', 'running')",
    /* A submit the backend could not take: the attempt is given back. */
    [ST_RUN_UNCLAIM] = "UPDATE runs SET state = 'queued', ref = NULL, last_error = ?2, "
                       "not_before = ?3, last_failure = ?4, attempts = max(attempts - 1, 0) "
                       "WHERE id = ?1 AND state IN ('submitted', 'running')",
    [ST_RUN_TO_STOP] = "SELECT " RUN_COLUMNS " FROM runs WHERE state = 'cancelled' "
                       "AND ref IS NOT NULL AND stopped = 0 ORDER BY id",
    /* ?1 the limit: each_run binds its number first */
    [ST_RUN_SUCCEEDED] = "SELECT " RUN_COLUMNS " FROM runs WHERE state = 'succeeded' "
                         "AND backend = ?2 ORDER BY id DESC LIMIT ?1",
    [ST_RUN_STOPPED] = "UPDATE runs SET stopped = 1 WHERE id = ?1",
    [ST_RUN_COUNTS] = "SELECT state, count(*) FROM runs GROUP BY state",
    [ST_RUN_SET_SECRET] = "UPDATE runs SET secret = ?2, report = NULL WHERE id = ?1 "
                          "AND state IN ('submitted', 'running')",
    [ST_RUN_SECRET] = "SELECT coalesce(secret, ''), state, report FROM runs WHERE id = ?1",
    [ST_RUN_SET_REPORT] = "UPDATE runs SET report = ?2 WHERE id = ?1 "
                          "AND state IN ('submitted', 'running') AND report IS NULL",
};

const sl_store_statements sl_store_run_statements = {run_sql, RUN_STMT_COUNT};

static sqlite3_stmt *stmt(sl_store_conn *c, enum run_stmt id) {
    return sl_store_stmt(c, SL_STORE_RUNS, (int)id);
}

static const char *const run_state_names[SL_RUN_STATE_COUNT] = {
    "queued", "submitted", "running", "succeeded", "failed", "cancelled"};
static const char *const sweep_state_names[SL_SWEEP_STATE_COUNT] = {"running", "finished",
                                                                    "cancelled"};
/* As SWEEP_PHASE spells them. */
static const char *const sweep_phase_names[SL_SWEEP_PHASE_COUNT] = {
    "running", "fitting", "succeeded", "failed", "cancelled"};

const char *sl_run_state_name(sl_run_state state) {
    return state < SL_RUN_STATE_COUNT ? run_state_names[state] : "unknown";
}

const char *sl_sweep_phase_name(sl_sweep_phase phase) {
    return phase < SL_SWEEP_PHASE_COUNT ? sweep_phase_names[phase] : "unknown";
}

int sl_run_state_ended(sl_run_state state) {
    return state == SL_RUN_STATE_SUCCEEDED || state == SL_RUN_STATE_FAILED ||
           state == SL_RUN_STATE_CANCELLED;
}

static sl_run_state run_state_parse(const unsigned char *text) {
    return (sl_run_state)sl_store_name_index(text, run_state_names, SL_RUN_STATE_COUNT,
                                             SL_RUN_STATE_FAILED);
}

static void read_run(sqlite3_stmt *st, sl_run_record *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->sweep_id = sqlite3_column_int64(st, 1);
    r->state = run_state_parse(sqlite3_column_text(st, 2));
    sl_store_copy_text(r->key, sizeof r->key, st, 3);
    sl_store_copy_text(r->backend, sizeof r->backend, st, 4);
    r->spec = sl_store_dup_column(st, 5);
    r->ref = sl_store_dup_column(st, 6);
    r->progress = sl_store_dup_column(st, 7);
    r->result = sl_store_dup_column(st, 8);
    r->error = sl_store_dup_column(st, 9);
    r->last_error = sl_store_dup_column(st, 10);
    r->attempts = (long)sqlite3_column_int64(st, 11);
    r->max_attempts = (long)sqlite3_column_int64(st, 12);
    r->not_before = sqlite3_column_double(st, 13);
    sl_store_copy_text(r->created_at, sizeof r->created_at, st, 14);
    sl_store_copy_text(r->started_at, sizeof r->started_at, st, 15);
    sl_store_copy_text(r->finished_at, sizeof r->finished_at, st, 16);
    sl_store_copy_text(r->failure, sizeof r->failure, st, 17);
    sl_store_copy_text(r->last_failure, sizeof r->last_failure, st, 18);
    r->attempt_started = sqlite3_column_double(st, 19);
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
    free(w->fit_error);
    w->request = w->error = w->fit_error = NULL;
}

/* ---------------------------------------------------------------- sweeps */

typedef struct {
    const char *law, *backend, *request;
    const sl_run_new *runs;
    size_t nruns;
    long max_attempts;
    long long id;
} sweep_create;

static int create_sweep_tx(sl_store_conn *c, void *ctx) {
    sweep_create *w = ctx;
    sqlite3_stmt *ins = stmt(c, ST_SWEEP_INSERT), *run = stmt(c, ST_RUN_INSERT);
    if (!ins || !run) return SL_STORE_ERROR;
    sl_store_bind_text(ins, 1, w->law);
    sl_store_bind_text(ins, 2, w->backend);
    sl_store_bind_text(ins, 3, w->request);
    int step = sqlite3_step(ins);
    if (step == SQLITE_ROW) w->id = sqlite3_column_int64(ins, 0);
    if (step == SQLITE_ROW) step = sqlite3_step(ins);
    sl_store_reset(ins);
    if (step != SQLITE_DONE) return SL_STORE_ERROR;
    for (size_t i = 0; i < w->nruns; i++) {
        sqlite3_bind_int64(run, 1, w->id);
        sl_store_bind_text(run, 2, w->runs[i].key);
        sl_store_bind_text(run, 3, w->backend);
        sl_store_bind_text(run, 4, w->runs[i].spec);
        sqlite3_bind_int64(run, 5, w->max_attempts);
        if (sl_store_step_done(c, run, "insert run") != SL_STORE_OK) return SL_STORE_ERROR;
    }
    return SL_STORE_OK;
}

int sl_store_sweep_create(sl_store *s, const char *law, const char *backend,
                          const char *request_json, const sl_run_new *runs, size_t nruns,
                          long max_attempts, long long *id) {
    sweep_create w = {law, backend, request_json, runs, nruns, max_attempts, 0};
    int rc = sl_store_in_transaction(s, create_sweep_tx, &w);
    *id = w.id;
    return rc;
}

/* Index of text in names[0..n), or dflt. */
static int name_index(const unsigned char *text, const char *const *names, int n, int dflt) {
    for (int i = 0; i < n; i++)
        if (text && strcmp((const char *)text, names[i]) == 0) return i;
    return dflt;
}

static sl_fit_state fit_state_of(const unsigned char *text) {
    for (int i = 0; i < SL_FIT_STATE_COUNT; i++)
        if (text && strcmp((const char *)text, sl_fit_state_name((sl_fit_state)i)) == 0)
            return (sl_fit_state)i;
    return SL_FIT_STATE_FAILED;
}

/* One row of SWEEP_COLUMNS into w. */
static void read_sweep(sqlite3_stmt *st, sl_sweep_record *w) {
    memset(w, 0, sizeof *w);
    w->id = sqlite3_column_int64(st, 0);
    sl_store_copy_text(w->law, sizeof w->law, st, 1);
    sl_store_copy_text(w->backend, sizeof w->backend, st, 2);
    w->state = (sl_sweep_state)name_index(sqlite3_column_text(st, 3), sweep_state_names,
                                          SL_SWEEP_STATE_COUNT, SL_SWEEP_STATE_RUNNING);
    w->request = sl_store_dup_column(st, 4);
    w->error = sl_store_dup_column(st, 5);
    w->dataset_id = sqlite3_column_int64(st, 6);
    w->fit_id = sqlite3_column_int64(st, 7);
    sl_store_copy_text(w->created_at, sizeof w->created_at, st, 8);
    sl_store_copy_text(w->finished_at, sizeof w->finished_at, st, 9);
    w->phase = (sl_sweep_phase)name_index(sqlite3_column_text(st, 10), sweep_phase_names,
                                          SL_SWEEP_PHASE_COUNT, SL_SWEEP_PHASE_FAILED);
    w->dataset_rows = sqlite3_column_int64(st, 11);
    w->fit_state = fit_state_of(sqlite3_column_text(st, 12));
    w->fit_published_version = (long)sqlite3_column_int64(st, 13);
    w->fit_error = sl_store_dup_column(st, 14);
}

/* The sweep's runs counted by state, on c. */
static int sweep_counts(sl_store_conn *c, sl_sweep_record *w) {
    sqlite3_stmt *counts = stmt(c, ST_SWEEP_COUNTS);
    if (!counts) return SL_STORE_ERROR;
    sqlite3_bind_int64(counts, 1, w->id);
    return sl_store_state_counts(counts, run_state_names, SL_RUN_STATE_COUNT, SL_RUN_STATE_FAILED,
                                 w->counts);
}

/* The sweep and its run counts on c. */
static int sweep_row(sl_store_conn *c, long long id, sl_sweep_record *w) {
    sqlite3_stmt *st = stmt(c, ST_SWEEP_GET);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st), rc = SL_STORE_ERROR;
    if (step == SQLITE_ROW) {
        read_sweep(st, w);
        rc = SL_STORE_OK;
    } else if (step == SQLITE_DONE) {
        rc = SL_STORE_NOT_FOUND;
    }
    sl_store_reset(st);
    if (rc != SL_STORE_OK) return rc;
    if (sweep_counts(c, w) != SL_STORE_OK) {
        sl_sweep_record_free(w);
        return SL_STORE_ERROR;
    }
    return SL_STORE_OK;
}

static int get_sweep_tx(sl_store_conn *c, void *ctx) {
    sl_sweep_record *w = ctx;
    return sweep_row(c, w->id, w);
}

int sl_store_sweep_get(sl_store *s, long long id, sl_sweep_record *out) {
    /* A transaction, so that the counts agree with the sweep's state. */
    out->id = id;
    return sl_store_in_transaction(s, get_sweep_tx, out);
}

/* A page of records read in one transaction (so that they agree with one
 * another): out holds n records of `size` bytes, at most page->limit. */
typedef struct {
    sl_store_page *page;
    size_t size, n;
    void *out;
    void (*release)(void *record);
} page_read;

/* Runs tx(c, p) in a transaction to fill p; on failure frees what it read
 * and leaves p empty. */
static int read_page(sl_store *s, page_read *p, int (*tx)(sl_store_conn *c, void *p)) {
    if (!p->page->limit) p->page->limit = 1;
    p->page->next_before = 0;
    p->n = 0;
    p->out = calloc(p->page->limit, p->size);
    if (!p->out) abort();
    int rc = sl_store_in_transaction(s, tx, p);
    if (rc != SL_STORE_OK) {
        for (size_t i = 0; i < p->n; i++)
            p->release((char *)p->out + i * p->size);
        free(p->out);
        p->out = NULL;
        p->n = 0;
        p->page->next_before = 0;
    }
    return rc;
}

static void release_sweep(void *w) {
    sl_sweep_record_free(w);
}

static void release_run(void *r) {
    sl_run_record_free(r);
}

typedef struct {
    page_read p; /* first: list_sweeps_tx gets it as its context */
    const char *law;
    sl_sweep_phase phase;
} sweep_list;

static int list_sweeps_tx(sl_store_conn *c, void *ctx) {
    sweep_list *l = ctx;
    sl_sweep_record *out = l->p.out;
    size_t cap = l->p.page->limit;
    sqlite3_stmt *st = stmt(c, ST_SWEEP_LIST);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, l->p.page->before > 0 ? l->p.page->before : INT64_MAX);
    if (l->law) sl_store_bind_text(st, 2, l->law);
    if (l->phase < SL_SWEEP_PHASE_COUNT) sl_store_bind_text(st, 3, sl_sweep_phase_name(l->phase));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)cap + 1);
    int step = SQLITE_DONE, rc = SL_STORE_OK;
    while (rc == SL_STORE_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (l->p.n == cap) { /* one more than the page: older sweeps match too */
            l->p.page->next_before = out[cap - 1].id;
            break;
        }
        read_sweep(st, &out[l->p.n]);
        rc = sweep_counts(c, &out[l->p.n++]);
    }
    if (rc == SL_STORE_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        sl_store_log_sqlite(c->db, "list sweeps");
        rc = SL_STORE_ERROR;
    }
    sl_store_reset(st);
    return rc;
}

int sl_store_sweep_list(sl_store *s, sl_store_page *page, const char *law, sl_sweep_phase phase,
                        sl_sweep_record **out, size_t *n) {
    /* A transaction, so that each sweep's counts agree with its state. */
    sweep_list l = {{page, sizeof **out, 0, NULL, release_sweep}, law, phase};
    int rc = read_page(s, &l.p, list_sweeps_tx);
    *out = l.p.out;
    *n = l.p.n;
    return rc;
}

/* Calls fn for each row of a run statement bound to one id (0: none). */
/* The runs id_stmt selects, with id (when not 0) bound to ?1 and text (when
 * not NULL) to ?2. */
static int each_run(sl_store *s, enum run_stmt id_stmt, long long id, const char *text,
                    sl_store_run_fn fn, void *ctx) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, id_stmt);
    int rc = SL_STORE_ERROR, step = SQLITE_ERROR;
    if (st) {
        if (id) sqlite3_bind_int64(st, 1, id);
        if (text) sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        sl_run_record r;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            read_run(st, &r);
            int stop = fn(&r, ctx);
            sl_run_record_free(&r);
            if (stop) break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? SL_STORE_OK : SL_STORE_ERROR;
        if (rc != SL_STORE_OK) sl_store_log_sqlite(c->db, "list runs");
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_sweep_runs(sl_store *s, long long sweep_id, sl_store_run_fn fn, void *ctx) {
    return each_run(s, ST_SWEEP_RUNS, sweep_id, NULL, fn, ctx);
}

typedef struct {
    page_read p; /* first: list_runs_tx gets it as its context */
    long long sweep_id;
    sl_run_state state;
} run_list;

static int list_runs_tx(sl_store_conn *c, void *ctx) {
    run_list *l = ctx;
    sl_run_record *out = l->p.out;
    size_t cap = l->p.page->limit;
    sl_sweep_record w;
    int rc = sweep_row(c, l->sweep_id, &w);
    if (rc != SL_STORE_OK) return rc;
    sl_sweep_record_free(&w);
    sqlite3_stmt *st = stmt(c, ST_SWEEP_RUN_LIST);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, l->sweep_id);
    sqlite3_bind_int64(st, 2, l->p.page->before > 0 ? l->p.page->before : INT64_MAX);
    if (l->state < SL_RUN_STATE_COUNT) sl_store_bind_text(st, 3, sl_run_state_name(l->state));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)cap + 1);
    int step = SQLITE_DONE;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (l->p.n == cap) { /* one more than the page: older runs match too */
            l->p.page->next_before = out[cap - 1].id;
            break;
        }
        read_run(st, &out[l->p.n++]);
    }
    sl_store_reset(st);
    if (step == SQLITE_ROW || step == SQLITE_DONE) return SL_STORE_OK;
    sl_store_log_sqlite(c->db, "list runs");
    return SL_STORE_ERROR;
}

int sl_store_sweep_run_list(sl_store *s, long long sweep_id, sl_store_page *page,
                            sl_run_state state, sl_run_record **out, size_t *n) {
    /* A transaction: the sweep is found and its runs listed as they stand. */
    run_list l = {{page, sizeof **out, 0, NULL, release_run}, sweep_id, state};
    int rc = read_page(s, &l.p, list_runs_tx);
    *out = l.p.out;
    *n = l.p.n;
    return rc;
}

static int cancel_sweep_tx(sl_store_conn *c, void *ctx) {
    long long id = *(long long *)ctx;
    sl_sweep_record w;
    int rc = sweep_row(c, id, &w);
    if (rc != SL_STORE_OK) return rc;
    sl_sweep_state state = w.state;
    sl_sweep_record_free(&w);
    if (state == SL_SWEEP_STATE_CANCELLED) return SL_STORE_OK;
    if (state != SL_SWEEP_STATE_RUNNING) return SL_STORE_CONFLICT;
    sqlite3_stmt *sw = stmt(c, ST_SWEEP_CANCEL), *runs = stmt(c, ST_SWEEP_CANCEL_RUNS);
    if (!sw || !runs) return SL_STORE_ERROR;
    sqlite3_bind_int64(sw, 1, id);
    sqlite3_bind_int64(runs, 1, id);
    rc = sl_store_step_done(c, sw, "cancel sweep");
    return rc == SL_STORE_OK ? sl_store_step_done(c, runs, "cancel sweep runs") : rc;
}

int sl_store_sweep_cancel(sl_store *s, long long id) {
    return sl_store_in_transaction(s, cancel_sweep_tx, &id);
}

size_t sl_store_sweeps_ready(sl_store *s, long long *out, size_t cap) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_SWEEP_READY);
    size_t n = 0;
    if (st) {
        while (n < cap && sqlite3_step(st) == SQLITE_ROW)
            out[n++] = sqlite3_column_int64(st, 0);
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return n;
}

typedef struct {
    long long id;
    const sl_dataset *ds;
    const char *name, *law, *error;
    char *(*fit_request)(long long dataset, void *ctx);
    void *ctx;
} sweep_finish;

static int finish_sweep_tx(sl_store_conn *c, void *ctx) {
    sweep_finish *f = ctx;
    long long dataset = 0, fit = 0;
    if (f->ds) {
        sl_dataset_info info;
        int rc = sl_store_dataset_insert(c, f->name, f->ds, &info, &dataset);
        if (rc != SL_STORE_OK) return rc;
        char *request = f->fit_request(dataset, f->ctx);
        if (!request) return SL_STORE_ERROR;
        rc = sl_store_fit_insert(c, dataset, f->law, request, &fit);
        free(request);
        if (rc != SL_STORE_OK) return rc;
    }
    sqlite3_stmt *st = stmt(c, ST_SWEEP_FINISH);
    if (!st) return SL_STORE_ERROR;
    sqlite3_bind_int64(st, 1, f->id);
    if (dataset) sqlite3_bind_int64(st, 2, dataset);
    if (fit) sqlite3_bind_int64(st, 3, fit);
    if (f->error) sl_store_bind_text(st, 4, f->error);
    int rc = sl_store_step_done(c, st, "finish sweep");
    if (rc == SL_STORE_OK && sqlite3_changes(c->db) != 1) rc = SL_STORE_CONFLICT;
    return rc;
}

int sl_store_sweep_finish(sl_store *s, long long id, const sl_dataset *ds, const char *name,
                          const char *law, char *(*fit_request)(long long dataset, void *ctx),
                          void *ctx, const char *error) {
    sweep_finish f = {id, ds, name, law, error, fit_request, ctx};
    return sl_store_in_transaction(s, finish_sweep_tx, &f);
}

/* ---------------------------------------------------------------- runs */

/* One row of ST_RUN_GET (by id) or ST_RUN_CLAIM (by backend and time) into
 * out; NOT_FOUND when there is none. */
static int run_row(sl_store *s, enum run_stmt id_stmt, long long id, const char *text, double num,
                   sl_run_record *out) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, id_stmt);
    int rc = SL_STORE_ERROR;
    if (st) {
        if (id_stmt == ST_RUN_GET) {
            sqlite3_bind_int64(st, 1, id);
        } else { /* ST_RUN_CLAIM */
            sl_store_bind_text(st, 1, text);
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
            sl_store_log_sqlite(c->db, "read run");
            if (rc == SL_STORE_OK) sl_run_record_free(out);
            rc = SL_STORE_ERROR;
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_run_get(sl_store *s, long long id, sl_run_record *out) {
    return run_row(s, ST_RUN_GET, id, NULL, 0, out);
}

int sl_store_run_claim(sl_store *s, const char *backend, double now, sl_run_record *out) {
    if (s->read_only) return SL_STORE_NOT_FOUND; /* nothing can start */
    return run_row(s, ST_RUN_CLAIM, 0, backend, now, out);
}

static int cancel_run_tx(sl_store_conn *c, void *ctx) {
    long long id = *(long long *)ctx;
    sqlite3_stmt *get = stmt(c, ST_RUN_GET), *cancel = stmt(c, ST_RUN_CANCEL);
    if (!get || !cancel) return SL_STORE_ERROR;
    sqlite3_bind_int64(get, 1, id);
    int step = sqlite3_step(get);
    sl_run_state state =
        step == SQLITE_ROW ? run_state_parse(sqlite3_column_text(get, 2)) : SL_RUN_STATE_FAILED;
    sl_store_reset(get);
    if (step != SQLITE_ROW) return step == SQLITE_DONE ? SL_STORE_NOT_FOUND : SL_STORE_ERROR;
    if (state == SL_RUN_STATE_CANCELLED) return SL_STORE_OK;
    if (sl_run_state_ended(state)) return SL_STORE_CONFLICT;
    sqlite3_bind_int64(cancel, 1, id);
    return sl_store_step_done(c, cancel, "cancel run");
}

int sl_store_run_cancel(sl_store *s, long long id) {
    return sl_store_in_transaction(s, cancel_run_tx, &id);
}

long long sl_store_run_active_count(sl_store *s, const char *backend) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_RUN_ACTIVE_COUNT);
    long long n = -1;
    if (st) {
        sl_store_bind_text(st, 1, backend);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return n;
}

/* Runs an UPDATE on one run, bound by the caller's values: NOT_FOUND when
 * it changed no row (the run had moved on, e.g. been cancelled). */
typedef struct {
    enum run_stmt st;
    long long id;
    const char *t2, *t3, *t4, *t5, *t6;
    double d3;
} run_update;

static int update_run(sl_store *s, const run_update *u) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, u->st);
    int rc = SL_STORE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, u->id);
        if (u->t2) sl_store_bind_text(st, 2, u->t2);
        if (u->st == ST_RUN_RETRY || u->st == ST_RUN_UNCLAIM)
            sqlite3_bind_double(st, 3, u->d3);
        else if (u->t3)
            sl_store_bind_text(st, 3, u->t3);
        if (u->t4) sl_store_bind_text(st, 4, u->t4);
        if (u->t5) sl_store_bind_text(st, 5, u->t5);
        if (u->t6) sl_store_bind_text(st, 6, u->t6);
        rc = sl_store_step_done(c, st, "update run");
        if (rc == SL_STORE_OK && sqlite3_changes(c->db) != 1) rc = SL_STORE_NOT_FOUND;
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_run_set_ref(sl_store *s, long long id, const char *ref) {
    run_update u = {ST_RUN_SET_REF, id, ref, NULL, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_runs_active(sl_store *s, sl_store_run_fn fn, void *ctx) {
    return each_run(s, ST_RUN_ACTIVE, 0, NULL, fn, ctx);
}

int sl_store_run_progress(sl_store *s, long long id, sl_run_state state,
                          const char *progress_json) {
    run_update u = {
        ST_RUN_PROGRESS, id, sl_run_state_name(state), progress_json, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_run_end(sl_store *s, long long id, sl_run_state state, const char *result_json,
                     const char *progress_json, const char *error, const char *failure) {
    run_update u = {ST_RUN_END, id, sl_run_state_name(state), result_json, error, progress_json,
                    failure,    0};
    return update_run(s, &u);
}

int sl_store_run_retry(sl_store *s, long long id, double not_before, const char *why,
                       const char *failure, int count_attempt) {
    run_update u = {count_attempt ? ST_RUN_RETRY : ST_RUN_UNCLAIM,
                    id,
                    why,
                    NULL,
                    failure,
                    NULL,
                    NULL,
                    not_before};
    return update_run(s, &u);
}

int sl_store_runs_to_stop(sl_store *s, sl_store_run_fn fn, void *ctx) {
    return each_run(s, ST_RUN_TO_STOP, 0, NULL, fn, ctx);
}

int sl_store_runs_succeeded(sl_store *s, const char *backend, long long limit, sl_store_run_fn fn,
                            void *ctx) {
    return limit > 0 ? each_run(s, ST_RUN_SUCCEEDED, limit, backend, fn, ctx) : SL_STORE_OK;
}

int sl_store_run_stopped(sl_store *s, long long id) {
    run_update u = {ST_RUN_STOPPED, id, NULL, NULL, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_run_counts(sl_store *s, long long counts[SL_RUN_STATE_COUNT]) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_RUN_COUNTS);
    memset(counts, 0, SL_RUN_STATE_COUNT * sizeof counts[0]);
    int rc = st ? sl_store_state_counts(st, run_state_names, SL_RUN_STATE_COUNT,
                                        SL_RUN_STATE_FAILED, counts)
                : SL_STORE_ERROR;
    sl_store_release(s, c);
    return rc;
}

/* ---------------------------------------------------------------- reported results */

int sl_store_run_set_secret(sl_store *s, long long id, const char *secret) {
    run_update u = {ST_RUN_SET_SECRET, id, secret, NULL, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}

int sl_store_run_secret(sl_store *s, long long id, char *secret, size_t cap, sl_run_state *state,
                        char **report) {
    sl_store_conn *c = sl_store_acquire(s);
    sqlite3_stmt *st = stmt(c, ST_RUN_SECRET);
    int rc = SL_STORE_ERROR;
    if (report) *report = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            sl_store_copy_text(secret, cap, st, 0);
            *state = run_state_parse(sqlite3_column_text(st, 1));
            if (report) *report = sl_store_dup_column(st, 2);
            rc = SL_STORE_OK;
        } else if (step == SQLITE_DONE) {
            rc = SL_STORE_NOT_FOUND;
        } else {
            sl_store_log_sqlite(c->db, "read run secret");
        }
        sl_store_reset(st);
    }
    sl_store_release(s, c);
    return rc;
}

int sl_store_run_set_report(sl_store *s, long long id, const char *report_json) {
    run_update u = {ST_RUN_SET_REPORT, id, report_json, NULL, NULL, NULL, NULL, 0};
    return update_run(s, &u);
}
