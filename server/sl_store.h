/*
 * sl_store.h - the SQLite store in the data directory: WAL mode, schema
 * versioned by PRAGMA user_version, a small pool of connections so request
 * threads never share one. Every write is committed before it returns.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stddef.h>

#include "sl_dataset.h"
#include "sl_law_json.h"

#define SL_DATASET_NAME_MAX 128

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

/* The bootstrap draws kept for a law version: *draws malloc'd (caller
 * frees), *n may be 0. */
int sl_store_law_draws(sl_store *store, const char *name, long version, sl_law **draws, size_t *n);

/* ---- datasets: uploaded sweeps ---- */

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
typedef int (*sl_store_dataset_fn)(const sl_dataset_info *info, void *ctx);
int sl_store_dataset_list(sl_store *store, sl_store_dataset_fn fn, void *ctx);
/* CONFLICT while a queued or running fit reads the dataset. */
int sl_store_dataset_delete(sl_store *store, long long id);

/* ---- fit jobs ---- */

typedef enum sl_fit_state {
    SL_FIT_QUEUED = 0,
    SL_FIT_RUNNING,
    SL_FIT_SUCCEEDED,
    SL_FIT_FAILED,
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
/* Moves the oldest queued fit to running and returns it; NOT_FOUND if none. */
int sl_store_fit_claim(sl_store *store, sl_fit_job *out);
int sl_store_fit_progress(sl_store *store, long long id, double fraction);
/* Ends a running fit. On success with publish given, a new version of
 * publish->name (with its draws) is written in the same transaction as the
 * result; CONFLICT if that name is a built-in law. */
int sl_store_fit_succeed(sl_store *store, long long id, const char *result_json,
                         sl_law_record *publish, const sl_law *draws, size_t ndraws);
int sl_store_fit_fail(sl_store *store, long long id, const char *error);
/* At start: fits that were running when the server stopped run again. */
int sl_store_fit_requeue_running(sl_store *store);
int sl_store_fit_counts(sl_store *store, long long counts[SL_FIT_STATE_COUNT]);

#endif
