/*
 * sl_store.h - the SQLite store in the data directory: WAL mode, schema
 * versioned by PRAGMA user_version, a small pool of connections so request
 * threads never share one. Every write is committed before it returns.
 *
 * One file per part: sl_store.c (opening, the pool, migrations,
 * transactions), sl_store_laws.c, sl_store_datasets.c, sl_store_fits.c and
 * sl_store_runs.c (sweeps and runs), each with its own SQL; what they share
 * is in sl_store_internal.h.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stddef.h>

#include "sl_dataset_rows.h"
#include "sl_law_record.h"

#define SL_DATASET_NAME_MAX 128

typedef struct sl_store sl_store;

typedef enum sl_store_status {
    SL_STORE_OK = 0,
    SL_STORE_NOT_FOUND = -1,
    SL_STORE_CONFLICT = -2, /* e.g. writing a built-in law */
    SL_STORE_ERROR = -3,    /* SQLite failed; logged, nothing changed */
} sl_store_status;

/* ---- opening and closing (sl_store.c) ---- */

/* Opens (creating) DIR/sparselaw.db with `connections` pooled connections,
 * refuses a damaged database (PRAGMA quick_check), migrates the schema and
 * loads the built-in laws if absent; a store that needs neither is only
 * read, so it opens on a full disk. On failure returns NULL and writes why
 * into errbuf. */
sl_store *sl_store_open(const char *dir, int connections, char *errbuf, size_t cap);
/* Checkpoints the WAL into the database file and closes. */
void sl_store_close(sl_store *store);

/* The schema version this build writes. */
int sl_store_schema_version(void);

/* A cheap check that the database on disk is sound, for /healthz: PRAGMA
 * quick_check of every table but the dataset rows (which the start checks
 * with the rest), on a connection of its own so that no page cache hides
 * the disk. OK, or ERROR with the problem as a sentence in why. */
int sl_store_check(sl_store *store, char *why, size_t cap);

/* ---- pages of a list (fits, sweeps, a sweep's runs), newest first ---- */

/* Ids below `before` (0: from the newest), at most `limit` of them; the
 * store sets next_before to the last id it gave when older ones match too,
 * else to 0, so that a client walks everything page by page. */
typedef struct sl_store_page {
    long long before;
    size_t limit;
    long long next_before;
} sl_store_page;

/* ---- laws and their versions (sl_store_laws.c) ---- */

/* version 0 means the latest. */
int sl_store_law_get(sl_store *store, const char *name, long version, sl_law_record *out);

/* A list's callback: 0 to go on; anything else stops the list, which then
 * answers ERROR (the caller has less than the whole list). */
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

/* The bootstrap draws kept for a law version: *draws malloc'd (caller
 * frees), *n may be 0. */
int sl_store_law_draws(sl_store *store, const char *name, long version, sl_law **draws, size_t *n);
/* The diagnostics kept with a fitted law version (JSON text, malloc'd; the
 * caller frees), NULL in *json when it has none. */
int sl_store_law_diagnostics(sl_store *store, const char *name, long version, char **json);
/* Each draw's pattern factors, npatterns per draw in draw order: *eta
 * malloc'd (caller frees), *n draws (0 when the version has none). */
int sl_store_law_pattern_draws(sl_store *store, const char *name, long version, unsigned npatterns,
                               double **eta, size_t *n);

/* ---- datasets: uploaded sweeps (sl_store_datasets.c) ---- */

typedef struct sl_dataset_info {
    long long id;
    char name[SL_DATASET_NAME_MAX + 1];
    sl_data_unit data_unit;
    long long rows;
    char created_at[32], updated_at[32];
} sl_dataset_info;

/* Stores every row of ds as a new dataset in one transaction. */
int sl_store_dataset_create(sl_store *store, const char *name, const sl_dataset *ds,
                            sl_dataset_info *out);
/* Appends rows; CONFLICT when ds's data unit differs from the dataset's. */
int sl_store_dataset_append(sl_store *store, long long id, const sl_dataset *ds,
                            sl_dataset_info *out);
int sl_store_dataset_get(sl_store *store, long long id, sl_dataset_info *out);
/* Every row, in upload order, into out (free with sl_dataset_free). */
int sl_store_dataset_rows(sl_store *store, long long id, sl_dataset *out);
/* Every dataset, by id; fn as sl_store_law_fn (nonzero stops: ERROR). */
typedef int (*sl_store_dataset_fn)(const sl_dataset_info *info, void *ctx);
int sl_store_dataset_list(sl_store *store, sl_store_dataset_fn fn, void *ctx);
/* Rows from (0-based, upload order) up to at most `upto` and `max` of them
 * into rows (room for max; free each run_id, or use sl_dataset_rows_free on
 * a malloc'd array), their count into *n: one page of a dataset read back
 * in pieces, each its own read, so a long answer holds no transaction. */
int sl_store_dataset_rows_page(sl_store *store, long long id, long long from, long long upto,
                               size_t max, sl_dataset_row *rows, size_t *n);
/* CONFLICT while a queued or running fit reads the dataset. */
int sl_store_dataset_delete(sl_store *store, long long id);

/* ---- fit jobs (sl_store_fits.c) ---- */

typedef enum sl_fit_state {
    SL_FIT_STATE_QUEUED = 0,
    SL_FIT_STATE_RUNNING,
    SL_FIT_STATE_SUCCEEDED,
    SL_FIT_STATE_FAILED,
    SL_FIT_STATE_COUNT
} sl_fit_state;

const char *sl_fit_state_name(sl_fit_state state);

typedef struct sl_fit_job {
    long long id;
    sl_fit_state state;
    long long dataset_id;
    char law[SL_LAW_NAME_MAX + 1];
    char *request; /* JSON text, malloc'd */
    char *result;  /* JSON text or NULL, malloc'd */
    char *error;   /* text or NULL, malloc'd */
    double progress;
    long attempts;
    long published_version; /* 0 when none */
    char created_at[32], started_at[32], finished_at[32];
} sl_fit_job;

void sl_fit_job_free(sl_fit_job *job);

/* Queues a fit; NOT_FOUND when the dataset does not exist. */
int sl_store_fit_create(sl_store *store, long long dataset_id, const char *law,
                        const char *request_json, long long *id);
int sl_store_fit_get(sl_store *store, long long id, sl_fit_job *out);
/* A page of fits of law (NULL: any) in state (SL_FIT_STATE_COUNT: any) into
 * *out, malloc'd with *n jobs (free each with sl_fit_job_free, then *out). */
int sl_store_fit_list(sl_store *store, sl_store_page *page, const char *law, sl_fit_state state,
                      sl_fit_job **out, size_t *n);
/* Moves the oldest queued fit to running and returns it; NOT_FOUND if none. */
int sl_store_fit_claim(sl_store *store, sl_fit_job *out);
int sl_store_fit_progress(sl_store *store, long long id, double fraction);
/* Ends a running fit. On success with publish given, a new version of
 * publish->name (with its draws) is written in the same transaction as the
 * result; CONFLICT if that name is a built-in law. */
int sl_store_fit_succeed(sl_store *store, long long id, const char *result_json,
                         sl_law_record *publish, const sl_law *draws, size_t ndraws,
                         const double *draw_eta);
int sl_store_fit_fail(sl_store *store, long long id, const char *error);
/* At start: fits that were running when the server stopped run again. */
int sl_store_fit_requeue_running(sl_store *store);
int sl_store_fit_counts(sl_store *store, long long counts[SL_FIT_STATE_COUNT]);

/* ---- calibration sweeps and their training runs (sl_store_runs.c) ---- */

typedef enum sl_run_state {
    SL_RUN_STATE_QUEUED = 0,
    SL_RUN_STATE_SUBMITTED, /* handed to the backend, not yet training */
    SL_RUN_STATE_RUNNING,
    SL_RUN_STATE_SUCCEEDED,
    SL_RUN_STATE_FAILED,
    SL_RUN_STATE_CANCELLED,
    SL_RUN_STATE_COUNT
} sl_run_state;

const char *sl_run_state_name(sl_run_state state);
/* Succeeded, failed or cancelled: the run will not change again. */
int sl_run_state_ended(sl_run_state state);

typedef struct sl_run_record {
    long long id, sweep_id;
    sl_run_state state;
    char key[192]; /* the grid point, unique within the sweep */
    char backend[16];
    char *spec;       /* JSON text (sl_run_spec_json), malloc'd */
    char *ref;        /* the backend's reference, "" when none; malloc'd */
    char *progress;   /* JSON text or NULL, malloc'd */
    char *result;     /* JSON text or NULL, malloc'd */
    char *error;      /* why it failed, or NULL */
    char *last_error; /* why the last attempt did not finish, or NULL */
    long attempts, max_attempts;
    double not_before; /* a retry waits until this time (seconds since the epoch) */
    char created_at[32], started_at[32], finished_at[32];
    char failure[32];       /* the failure class (sl_proto.h) of a failed run, or "" */
    char last_failure[32];  /* that of its last attempt that did not succeed, or "" */
    double attempt_started; /* when the current attempt was claimed (seconds since the epoch) */
} sl_run_record;

void sl_run_record_free(sl_run_record *run);

typedef enum sl_sweep_state {
    SL_SWEEP_STATE_RUNNING = 0, /* runs not all ended */
    SL_SWEEP_STATE_FINISHED,    /* dataset and fit created (or error says why not) */
    SL_SWEEP_STATE_CANCELLED,
    SL_SWEEP_STATE_COUNT
} sl_sweep_state;

/* A sweep's state as clients see it: its own until its runs have all
 * ended, then its fit's. */
typedef enum sl_sweep_phase {
    SL_SWEEP_PHASE_RUNNING = 0,
    SL_SWEEP_PHASE_FITTING,   /* its fit is queued or running */
    SL_SWEEP_PHASE_SUCCEEDED, /* its fit succeeded */
    SL_SWEEP_PHASE_FAILED,    /* its fit failed, or no run succeeded */
    SL_SWEEP_PHASE_CANCELLED,
    SL_SWEEP_PHASE_COUNT
} sl_sweep_phase;

const char *sl_sweep_phase_name(sl_sweep_phase phase);

typedef struct sl_sweep_record {
    long long id;
    char law[SL_LAW_NAME_MAX + 1];
    char backend[16];
    sl_sweep_state state;
    sl_sweep_phase phase;
    char *request;                /* JSON text, malloc'd */
    char *error;                  /* or NULL, malloc'd */
    long long dataset_id, fit_id; /* 0: none yet */
    long long dataset_rows;       /* -1 when the dataset was deleted since */
    /* Its fit (fit_id), read with the sweep so that they agree with phase. */
    sl_fit_state fit_state;
    long fit_published_version; /* 0 when none */
    char *fit_error;            /* or NULL, malloc'd */
    long long counts[SL_RUN_STATE_COUNT];
    char created_at[32], finished_at[32];
} sl_sweep_record;

void sl_sweep_record_free(sl_sweep_record *sweep);

/* One run to create: its point key and spec JSON. */
typedef struct sl_run_new {
    const char *key;
    const char *spec;
} sl_run_new;

/* Creates the sweep and its runs (queued) in one transaction. Runs with a
 * key already in the sweep are not created twice. */
int sl_store_sweep_create(sl_store *store, const char *law, const char *backend,
                          const char *request_json, const sl_run_new *runs, size_t nruns,
                          long max_attempts, long long *id);
int sl_store_sweep_get(sl_store *store, long long id, sl_sweep_record *out);
/* A page of sweeps of law (NULL: any) in phase (SL_SWEEP_PHASE_COUNT: any),
 * each with its run counts, into *out, malloc'd with *n records (free each
 * with sl_sweep_record_free, then *out). */
int sl_store_sweep_list(sl_store *store, sl_store_page *page, const char *law, sl_sweep_phase phase,
                        sl_sweep_record **out, size_t *n);
typedef int (*sl_store_run_fn)(const sl_run_record *run, void *ctx);
/* Every run of a sweep, by id. */
int sl_store_sweep_runs(sl_store *store, long long sweep_id, sl_store_run_fn fn, void *ctx);
/* A page of a sweep's runs in state (SL_RUN_STATE_COUNT: any) into *out,
 * malloc'd with *n records (free each with sl_run_record_free, then *out);
 * NOT_FOUND when there is no such sweep. */
int sl_store_sweep_run_list(sl_store *store, long long sweep_id, sl_store_page *page,
                            sl_run_state state, sl_run_record **out, size_t *n);
/* Cancels a running sweep and its runs that have not ended; CONFLICT when
 * it has finished (a cancelled one is OK). */
int sl_store_sweep_cancel(sl_store *store, long long id);
/* Sweeps still running whose runs have all ended: ids into out (at most
 * cap); returns how many. */
size_t sl_store_sweeps_ready(sl_store *store, long long *out, size_t cap);
/* Ends a running sweep in one transaction: with ds, a new dataset of ds's
 * rows named name and a queued fit whose request fit_request(dataset id)
 * gives (malloc'd JSON text); without ds, error says why there is none.
 * CONFLICT when the sweep is no longer running. */
int sl_store_sweep_finish(sl_store *store, long long id, const sl_dataset *ds, const char *name,
                          const char *law, char *(*fit_request)(long long dataset, void *ctx),
                          void *ctx, const char *error);

int sl_store_run_get(sl_store *store, long long id, sl_run_record *out);
/* Cancels a run that has not ended; CONFLICT when it succeeded or failed. */
int sl_store_run_cancel(sl_store *store, long long id);
/* Runs of a backend that are submitted or running. */
long long sl_store_run_active_count(sl_store *store, const char *backend);
/* Moves the oldest queued run of backend whose retry time has come
 * (not_before <= now) to submitted, counting an attempt that starts now;
 * NOT_FOUND if none. */
int sl_store_run_claim(sl_store *store, const char *backend, double now, sl_run_record *out);
int sl_store_run_set_ref(sl_store *store, long long id, const char *ref);
/* Every submitted or running run. */
int sl_store_runs_active(sl_store *store, sl_store_run_fn fn, void *ctx);
/* A submitted or running run's state (submitted or running) and progress. */
int sl_store_run_progress(sl_store *store, long long id, sl_run_state state,
                          const char *progress_json);
/* Ends a submitted or running run: succeeded with result, or failed with
 * error and its failure class. NOT_FOUND when it had ended (been cancelled)
 * meanwhile. */
int sl_store_run_end(sl_store *store, long long id, sl_run_state state, const char *result_json,
                     const char *progress_json, const char *error, const char *failure);
/* Puts a submitted or running run back in the queue until not_before, with
 * why and the failure class of the attempt; without count_attempt the
 * attempt is given back (the backend never took it). */
int sl_store_run_retry(sl_store *store, long long id, double not_before, const char *why,
                       const char *failure, int count_attempt);
/* Cancelled runs whose backend run may still be going. */
int sl_store_runs_to_stop(sl_store *store, sl_store_run_fn fn, void *ctx);
int sl_store_run_stopped(sl_store *store, long long id);
/* The latest (at most limit) succeeded runs of a backend, newest first. */
int sl_store_runs_succeeded(sl_store *store, const char *backend, long long limit,
                            sl_store_run_fn fn, void *ctx);
int sl_store_run_counts(sl_store *store, long long counts[SL_RUN_STATE_COUNT]);

/* Runs that post their own result (POST /v1/runs/{id}/report): the secret
 * of the current attempt (a new claim clears it and any report), never
 * shown to clients. Sets the secret of a submitted or running run and drops
 * an earlier report; NOT_FOUND when the run is in no such state. */
int sl_store_run_set_secret(sl_store *store, long long id, const char *secret);
/* The run's secret ("" when none) into secret, its state, and with report
 * non-NULL the reported result (malloc'd JSON text, or NULL). */
int sl_store_run_secret(sl_store *store, long long id, char *secret, size_t cap,
                        sl_run_state *state, char **report);
/* Stores the reported result of a submitted or running run that has none
 * yet; NOT_FOUND when it had one, or has ended or been queued again. */
int sl_store_run_set_report(sl_store *store, long long id, const char *report_json);

#endif
