#include "sl_jobs.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_fit.h"
#include "sl_fit_json.h"
#include "sl_store.h"
#include "sl_time.h"
#include "sl_log.h"

struct sl_jobs {
    sl_store *store;
    unsigned fit_threads;
    long max_attempts;
    pthread_mutex_t lock;
    pthread_cond_t queued; /* a fit was queued, or stop */
    void (*on_end)(long long id, void *arg);
    void *on_end_arg;
    int stopping;
    atomic_int cancel; /* seen by the fitter between iterations */
    unsigned nworkers;
    pthread_t workers[SL_JOBS_MAX_WORKERS];
};

static void log_fit(long long id, const char *event, const char *detail) {
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, event);
    sl_log_int(&l, "fit", id);
    if (detail) sl_log_str(&l, "detail", detail);
    sl_log_end(&l);
}

typedef struct {
    sl_store *store;
    long long id;
    double last_fraction, last_time;
} progress_ctx;

/* Progress goes to the store at most every 2 % or half second. */
static int on_progress(double fraction, void *ctx) {
    progress_ctx *p = ctx;
    double t = sl_time_monotonic();
    if (fraction >= 1 || fraction - p->last_fraction >= 0.02 || t - p->last_time >= 0.5) {
        sl_store_fit_progress(p->store, p->id, fraction);
        p->last_fraction = fraction;
        p->last_time = t;
    }
    return 0;
}

static void fail(sl_jobs *jobs, long long id, const char *why) {
    log_fit(id, "fit_failed", why);
    sl_store_fit_fail(jobs->store, id, why);
}

/* The verdict's reasons as the version's warnings (JSON text): as many as
 * fit, in order; "" for a good fit. */
static void set_warnings(sl_law_record *rec, const sl_fit_diag *diag) {
    rec->warnings[0] = '\0';
    if (diag->verdict == SL_FIT_VERDICT_GOOD) return;
    json_t *w = sl_fit_warnings_json(diag);
    for (;;) {
        size_t n = json_dumpb(w, rec->warnings, sizeof rec->warnings - 1, JSON_COMPACT);
        if (n > 0 && n < sizeof rec->warnings - 1) {
            rec->warnings[n] = '\0';
            break;
        }
        json_array_remove(w, json_array_size(w) - 1);
    }
    json_decref(w);
}

/* Publishes the fit as a new version of its law, with the result, in one
 * transaction; an unidentified fit only with "publish": "always" (else the
 * result is kept and nothing is published). */
static void publish(sl_jobs *jobs, const sl_fit_job *job, const sl_fit_request *req,
                    const sl_dataset *ds, const sl_fit_selection *sel, const sl_fit_result *res,
                    const sl_fit_diag *diag, json_t *rolled, double seconds) {
    sl_law_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.name, sizeof rec.name, "%s", job->law);
    snprintf(rec.description, sizeof rec.description, "fitted to dataset %lld (fit %lld)",
             job->dataset_id, job->id);
    rec.law = res->law;
    rec.data_unit = ds->data_unit;
    rec.source_kind = SL_SOURCE_FIT;
    snprintf(rec.reference, sizeof rec.reference, "fit %lld of dataset %lld", job->id,
             job->dataset_id);
    rec.fit_id = job->id;
    sl_fit_patterns_record(sel, res, &rec);
    json_t *summary = sl_fit_summary_json(req, res, job->id);
    size_t n = json_dumpb(summary, rec.fit_json, sizeof rec.fit_json - 1, JSON_COMPACT);
    json_decref(summary);
    if (n == 0 || n >= sizeof rec.fit_json - 1) {
        json_decref(rolled);
        fail(jobs, job->id, "internal: the fit summary is too large to publish");
        return;
    }
    rec.fit_json[n] = '\0';
    snprintf(rec.verdict, sizeof rec.verdict, "%s", sl_fit_verdict_name(diag->verdict));
    set_warnings(&rec, diag);
    int published = diag->verdict != SL_FIT_VERDICT_UNIDENTIFIED || req->publish_always;
    json_t *result = sl_fit_result_json(req, ds, sel, res, seconds);
    if (rolled) json_object_set_new(result, "rollout", rolled);
    json_t *dj = sl_fit_diag_json(diag, ds->data_unit);
    char *diag_text = json_dumps(dj, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_object_set_new(result, "verdict", json_string(rec.verdict));
    json_object_set_new(result, "reasons", sl_fit_reasons_json(diag));
    json_object_set_new(result, "diagnostics", dj);
    json_object_set_new(result, "not_published",
                        published ? json_null()
                                  : json_string("the verdict is unidentified, so no law version "
                                                "was published; fit again with \"publish\": "
                                                "\"always\" to publish it anyway"));
    char *text = json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(result);
    if (!text || !diag_text) abort();
    rec.diagnostics = diag_text;
    int rc = sl_store_fit_succeed(jobs->store, job->id, text, published ? &rec : NULL, res->draws,
                                  res->n_draws, res->draw_eta);
    free(text);
    free(diag_text);
    if (rc == SL_STORE_CONFLICT)
        fail(jobs, job->id, "the law to publish is built-in and cannot be changed");
    else if (rc != SL_STORE_OK)
        fail(jobs, job->id, "internal: the store could not save the result");
    else
        log_fit(job->id, "fit_succeeded",
                published ? NULL : "unidentified: no law version published");
}

/* The diagnostics (profiles refit, so they can be cancelled too), then
 * publish. */
static void diagnose_and_publish(sl_jobs *jobs, const sl_fit_job *job, const sl_fit_request *req,
                                 const sl_dataset *ds, const sl_fit_selection *sel,
                                 const sl_fit_options *opt, const sl_fit_result *res,
                                 json_t *rolled, double start) {
    sl_fit_diag *diag = malloc(sizeof *diag);
    if (!diag) abort();
    sl_fit_diag_options dopt = {req->ref_nonzeros, req->ref_data, 0,
                                sl_data_unit_name(ds->data_unit)};
    int rc = sl_fit_diagnose(sel->rows, sel->n, opt, res, &dopt, diag);
    if (rc == SL_FIT_OK) {
        publish(jobs, job, req, ds, sel, res, diag, rolled, sl_time_monotonic() - start);
        rolled = NULL; /* publish hands it to the result */
    } else if (rc == SL_FIT_ECANCELLED) {
        log_fit(job->id, "fit_interrupted", "queued again for the next start");
    } else {
        fail(jobs, job->id, "internal: the fit's diagnostics could not be computed");
    }
    json_decref(rolled);
    free(diag);
}

/* The rollout: for each of the largest m levels, the law fitted to the rows
 * below it (no bootstrap: only its point errors are reported) evaluated on
 * the level's rows. *out is the result's `rollout`; returns sl_fit's status
 * (reason filled) when a step's fit fails or is cancelled. */
static int rollout(const sl_fit_request *req, const sl_fit_selection *sel,
                   const sl_fit_options *base, json_t **out, char *reason, size_t size) {
    size_t m = req->rollout_levels;
    *out = NULL;
    if (!m) return SL_FIT_OK;
    sl_fit_rollout_rows rows;
    sl_fit_rollout_rows_init(&rows, sel);
    sl_fit_rollout_step *steps = calloc(m, sizeof *steps);
    double *levels = malloc(sel->n * sizeof *levels);
    if (!steps || !levels) abort();
    sl_fit_options opt = *base;
    opt.bootstrap = 0;
    opt.progress = NULL;
    int rc = SL_FIT_OK;
    for (size_t k = 0; k < m && rc == SL_FIT_OK; k++) {
        sl_fit_rollout_split(sel, k, &rows);
        /* the factors of the patterns the rows below have */
        opt.pattern = rows.npatterns ? rows.train_pattern : NULL;
        opt.npatterns = rows.npatterns;
        sl_fit_result res;
        rc = sl_fit(rows.train, rows.ntrain, &opt, &res, reason, size);
        if (rc != SL_FIT_OK) break;
        steps[k].nonzeros = sel->levels[k];
        steps[k].fitted_rows = rows.ntrain;
        steps[k].fitted_levels = sl_fit_nonzeros_levels(rows.train, rows.ntrain, levels);
        steps[k].largest_fitted = levels[0];
        steps[k].unfitted = rows.unfitted;
        sl_fit_evaluate_factors(&res.law, res.eta, opt.pattern ? rows.test_pattern : NULL,
                                rows.test, rows.ntest, &req->loss, NULL, NULL, &steps[k].errors);
        sl_fit_result_free(&res);
    }
    if (rc == SL_FIT_OK) *out = sl_fit_rollout_json(req, steps, m);
    sl_fit_rollout_rows_free(&rows);
    free(steps);
    free(levels);
    return rc;
}

static void run(sl_jobs *jobs, const sl_fit_job *job) {
    sl_fit_request req;
    sl_error err;
    sl_dataset ds;
    json_t *body = json_loads(job->request, 0, NULL);
    int ok = body && sl_fit_request_decode(body, &req, &err) == 0;
    json_decref(body);
    if (!ok) {
        fail(jobs, job->id, "internal: the stored request cannot be read");
        return;
    }
    if (job->attempts > jobs->max_attempts) {
        char why[160];
        snprintf(why, sizeof why,
                 "the server stopped while this fit ran, %ld times; it is not run again",
                 jobs->max_attempts);
        fail(jobs, job->id, why);
        sl_fit_request_free(&req);
        return;
    }
    if (sl_store_dataset_rows(jobs->store, job->dataset_id, &ds) != SL_STORE_OK) {
        fail(jobs, job->id, "the dataset was deleted before the fit ran");
        sl_fit_request_free(&req);
        return;
    }
    if (req.dataset_rows) sl_dataset_truncate(&ds, (size_t)req.dataset_rows);
    sl_fit_selection sel;
    char reason[256] = "";
    if (sl_fit_select(&req, &ds, &sel, &err) != 0) {
        fail(jobs, job->id, err.message);
        goto out;
    }
    sl_fit_options opt;
    sl_fit_options_default(&opt);
    progress_ctx progress = {jobs->store, job->id, 0, sl_time_monotonic()};
    opt.loss = req.loss;
    opt.seed = req.seed;
    opt.starts = req.starts;
    opt.bootstrap = req.bootstrap;
    opt.threads = jobs->fit_threads;
    opt.progress = on_progress;
    opt.progress_ctx = &progress;
    opt.cancel = &jobs->cancel;
    opt.pattern = sel.npatterns ? sel.pattern : NULL;
    opt.npatterns = sel.npatterns;
    sl_fit_result res;
    double start = sl_time_monotonic();
    log_fit(job->id, "fit_started", NULL);
    int rc = sl_fit(sel.rows, sel.n, &opt, &res, reason, sizeof reason);
    json_t *rolled = NULL;
    if (rc == SL_FIT_OK) {
        rc = rollout(&req, &sel, &opt, &rolled, reason, sizeof reason);
        if (rc != SL_FIT_OK) sl_fit_result_free(&res);
    }
    if (rc == SL_FIT_ECANCELLED) {
        log_fit(job->id, "fit_interrupted", "queued again for the next start");
    } else if (rc != SL_FIT_OK) {
        fail(jobs, job->id, reason[0] ? reason : "the fit failed");
    } else {
        diagnose_and_publish(jobs, job, &req, &ds, &sel, &opt, &res, rolled, start);
        sl_fit_result_free(&res);
    }
out:
    sl_fit_selection_free(&sel);
    sl_dataset_free(&ds);
    sl_fit_request_free(&req);
}

static void *worker(void *arg) {
    sl_jobs *jobs = arg;
    for (;;) {
        pthread_mutex_lock(&jobs->lock);
        int stopping = jobs->stopping;
        pthread_mutex_unlock(&jobs->lock);
        if (stopping) break;
        sl_fit_job job;
        int rc = sl_store_fit_claim(jobs->store, &job);
        if (rc == SL_STORE_OK) {
            run(jobs, &job);
            pthread_mutex_lock(&jobs->lock);
            void (*on_end)(long long, void *) = jobs->on_end;
            void *on_end_arg = jobs->on_end_arg;
            pthread_mutex_unlock(&jobs->lock);
            if (on_end) on_end(job.id, on_end_arg);
            sl_fit_job_free(&job);
            continue;
        }
        /* Nothing queued (or the store is busy): sleep until woken, with a
         * timeout so that a missed wake-up costs a second, not a fit. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&jobs->lock);
        if (!jobs->stopping) pthread_cond_timedwait(&jobs->queued, &jobs->lock, &until);
        pthread_mutex_unlock(&jobs->lock);
    }
    return NULL;
}

sl_jobs *sl_jobs_start(sl_store *store, unsigned workers, unsigned fit_threads,
                       unsigned max_attempts) {
    sl_jobs *jobs = calloc(1, sizeof *jobs);
    if (!jobs) abort();
    jobs->store = store;
    jobs->fit_threads = fit_threads;
    jobs->max_attempts = max_attempts;
    pthread_mutex_init(&jobs->lock, NULL);
    pthread_cond_init(&jobs->queued, NULL);
    sl_store_fit_requeue_running(store);
    if (workers > SL_JOBS_MAX_WORKERS) workers = SL_JOBS_MAX_WORKERS;
    for (unsigned i = 0; i < workers; i++)
        if (pthread_create(&jobs->workers[jobs->nworkers], NULL, worker, jobs) == 0)
            jobs->nworkers++;
    return jobs;
}

void sl_jobs_wake(sl_jobs *jobs) {
    pthread_mutex_lock(&jobs->lock);
    pthread_cond_signal(&jobs->queued);
    pthread_mutex_unlock(&jobs->lock);
}

void sl_jobs_on_end(sl_jobs *jobs, void (*fn)(long long id, void *arg), void *arg) {
    pthread_mutex_lock(&jobs->lock);
    jobs->on_end = fn;
    jobs->on_end_arg = arg;
    pthread_mutex_unlock(&jobs->lock);
}

void sl_jobs_stop(sl_jobs *jobs) {
    if (!jobs) return;
    pthread_mutex_lock(&jobs->lock);
    jobs->stopping = 1;
    atomic_store(&jobs->cancel, 1);
    pthread_cond_broadcast(&jobs->queued);
    pthread_mutex_unlock(&jobs->lock);
    for (unsigned i = 0; i < jobs->nworkers; i++)
        pthread_join(jobs->workers[i], NULL);
    pthread_mutex_destroy(&jobs->lock);
    pthread_cond_destroy(&jobs->queued);
    free(jobs);
}
