/*
 * sl_jobs.h - background workers that run queued fits. A fit job is a row in
 * the store, so the queue survives a restart: fits that were running when the
 * server stopped are queued again at start. HTTP threads never fit.
 */
#ifndef SL_JOBS_H
#define SL_JOBS_H

struct sl_store;
typedef struct sl_jobs sl_jobs;

/* The most worker threads sl_jobs_start starts. */
#define SL_JOBS_MAX_WORKERS 16

/* Requeues interrupted fits and starts `workers` threads; each fit uses up to
 * fit_threads threads for its starts and bootstrap (0: every core). A fit
 * the server stopped max_attempts times while it ran (a crash it causes,
 * say) is failed, not rerun. */
sl_jobs *sl_jobs_start(struct sl_store *store, unsigned workers, unsigned fit_threads,
                       unsigned max_attempts);
/* A fit was queued: wake a worker. */
void sl_jobs_wake(sl_jobs *jobs);
/* fn(id, arg) runs on a worker thread each time it has run fit `id` (it
 * succeeded, failed, or was interrupted and stays queued): how ?wait=true
 * learns of the end without holding a thread. One hook; setting it again
 * replaces it. */
void sl_jobs_on_end(sl_jobs *jobs, void (*fn)(long long id, void *arg), void *arg);
/* Cancels running fits (they stay queued for the next start) and joins. */
void sl_jobs_stop(sl_jobs *jobs);

#endif
