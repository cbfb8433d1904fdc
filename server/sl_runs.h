/*
 * sl_runs.h - the runner: one thread that drives calibration runs through
 * their backends. Runs are rows in the store, so the runner holds nothing a
 * restart would lose: each tick it stops cancelled runs, polls the submitted
 * and running ones (after a restart, those of the previous server too),
 * claims queued runs up to each backend's limit, retries lost runs with
 * backoff, and turns each sweep whose runs have all ended into a dataset
 * and a queued fit.
 */
#ifndef SL_RUNS_H
#define SL_RUNS_H

#include <stddef.h>

struct sl_store;
struct sl_jobs;
struct sl_backend;
typedef struct sl_runs sl_runs;

/* A retry waits SL_RUN_BACKOFF_S x 2^(attempt - 1) seconds, at most
 * SL_RUN_BACKOFF_MAX_S. */
#define SL_RUN_BACKOFF_S     1.0
#define SL_RUN_BACKOFF_MAX_S 60.0

/* Starts the runner over backends[0..n) (it owns them from now on). */
sl_runs *sl_runs_start(struct sl_store *store, struct sl_jobs *jobs, struct sl_backend **backends,
                       size_t n);
/* The backend of that name, or NULL when the server has none. */
const struct sl_backend *sl_runs_backend(const sl_runs *runs, const char *name);
/* The backend at index i (in the order they were given: local, worker,
 * Slurm), or NULL past the end; the sweep handler routes over them. */
struct sl_backend *sl_runs_backend_at(sl_runs *runs, size_t i);
/* How many of a backend's latest succeeded runs its measured throughput
 * is the mean of. */
#define SL_RUNS_RATE_WINDOW 64

/* The mean FLOP/s of one run on the backend, measured from the latest
 * SL_RUNS_RATE_WINDOW runs that succeeded there (read from the store at
 * start, so a restart keeps it); 0 before the first. */
double sl_runs_measured_flops(sl_runs *runs, const char *name);
/* Something changed (a sweep was created, a run cancelled): tick now. */
void sl_runs_wake(sl_runs *runs);
/* Stops the thread. Backend runs go on; the next start finds them again. */
void sl_runs_stop(sl_runs *runs);

#endif
