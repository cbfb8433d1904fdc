#include "sl_runs.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_backend.h"
#include "sl_fit_json.h"
#include "sl_jobs.h"
#include "sl_proto.h"
#include "sl_secret.h"
#include "sl_store.h"
#include "sl_sweep_json.h"
#include "sl_sweep_plan.h"
#include "sl_log.h"

#define MAX_BACKENDS 4
/* How often the runner looks at its runs when nothing wakes it. */
#define TICK_MS 250
#define MAX_IDS 4096
/* Random bytes of a run's per-attempt secret (64 hex digits). */
#define SL_RUN_SECRET_BYTES 32

struct sl_runs {
    sl_store *store;
    sl_jobs *jobs;
    sl_backend *backends[MAX_BACKENDS];
    size_t nbackends;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping, woken;
    /* Per backend (same index): the FLOP/s of its latest succeeded runs, a
     * ring whose next slot is flops_n % SL_RUNS_RATE_WINDOW (under lock). */
    double flops[MAX_BACKENDS][SL_RUNS_RATE_WINDOW];
    unsigned long flops_n[MAX_BACKENDS];
};

static double wall_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void log_run(const char *event, long long run, long long sweep, const char *detail) {
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, event);
    if (run) sl_log_int(&l, "run", run);
    if (sweep) sl_log_int(&l, "sweep", sweep);
    if (detail) sl_log_str(&l, "detail", detail);
    sl_log_end(&l);
}

static sl_backend *backend_named(const sl_runs *r, const char *name) {
    for (size_t i = 0; i < r->nbackends; i++)
        if (strcmp(r->backends[i]->name, name) == 0) return r->backends[i];
    return NULL;
}

const sl_backend *sl_runs_backend(const sl_runs *r, const char *name) {
    return r ? backend_named(r, name) : NULL;
}

sl_backend *sl_runs_backend_at(sl_runs *r, size_t i) {
    return r && i < r->nbackends ? r->backends[i] : NULL;
}

double sl_runs_measured_flops(sl_runs *r, const char *name) {
    double rate = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nbackends; i++) {
        size_t n = r->flops_n[i] < SL_RUNS_RATE_WINDOW ? r->flops_n[i] : SL_RUNS_RATE_WINDOW;
        if (strcmp(r->backends[i]->name, name) || !n) continue;
        double sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += r->flops[i][k];
        rate = sum / (double)n;
    }
    pthread_mutex_unlock(&r->lock);
    return rate;
}

/* A succeeded run's training FLOP/s from its result: the run's FLOPs
 * (sl_run_flops, at the tokens it trained) over its training seconds
 * (train_seconds, else seconds); 0 when the result has neither. */
static double run_flops_per_s(const sl_run_record *run, const json_t *result) {
    json_t *spec_j = json_loads(run->spec, 0, NULL);
    sl_run_spec spec;
    sl_error err;
    int ok = spec_j && sl_run_spec_decode(spec_j, &spec, &err) == 0;
    json_decref(spec_j);
    double tokens = json_number_value(json_object_get(result, "tokens"));
    double secs = json_number_value(json_object_get(result, "train_seconds"));
    if (!(secs > 0)) secs = json_number_value(json_object_get(result, "seconds"));
    if (!ok || !(tokens > 0) || !(secs > 0) || !isfinite(tokens / secs)) return 0.0;
    spec.tokens = (long long)tokens;
    double rate = sl_run_flops(&spec) / secs;
    return isfinite(rate) && rate > 0 ? rate : 0.0;
}

/* Under r->lock: one more measured rate for the backend at index i. */
static void add_rate(sl_runs *r, size_t i, double rate) {
    r->flops[i][r->flops_n[i] % SL_RUNS_RATE_WINDOW] = rate;
    r->flops_n[i]++;
}

static void measure_flops(sl_runs *r, const sl_backend *b, const sl_run_record *run,
                          const json_t *result) {
    double rate = run_flops_per_s(run, result);
    if (rate <= 0) return;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nbackends; i++)
        if (r->backends[i] == b) add_rate(r, i, rate);
    pthread_mutex_unlock(&r->lock);
}

typedef struct {
    double rates[SL_RUNS_RATE_WINDOW];
    size_t n;
} stored_rates;

static int collect_rate(const sl_run_record *run, void *ctx) {
    stored_rates *s = ctx;
    json_t *result = run->result ? json_loads(run->result, 0, NULL) : NULL;
    double rate = result ? run_flops_per_s(run, result) : 0.0;
    json_decref(result);
    if (rate > 0 && s->n < SL_RUNS_RATE_WINDOW) s->rates[s->n++] = rate;
    return 0;
}

/* The rates of the runs that succeeded before this start, from the store:
 * an estimate after a restart is as good as before it. */
static void load_rates(sl_runs *r) {
    for (size_t i = 0; i < r->nbackends; i++) {
        stored_rates s = {.n = 0};
        sl_store_runs_succeeded(r->store, r->backends[i]->name, SL_RUNS_RATE_WINDOW, collect_rate,
                                &s);
        while (s.n) /* newest first: the oldest goes in first, and out first */
            add_rate(r, i, s.rates[--s.n]);
    }
}

typedef struct {
    long long ids[MAX_IDS];
    size_t n;
} id_list;

static int collect_id(const sl_run_record *run, void *ctx) {
    id_list *l = ctx;
    if (l->n == MAX_IDS) return 1;
    l->ids[l->n++] = run->id;
    return 0;
}

static char *dump(json_t *j) {
    return j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
}

/* Whether an attempt of class f is tried again: a refused, diverged or
 * timed-out run would do the same again; the others may pass. */
static int retried(sl_proto_failure f) {
    return f == SL_PROTO_LOST || f == SL_PROTO_OUT_OF_MEMORY || f == SL_PROTO_BACKEND_UNAVAILABLE;
}

/* An attempt ended without a result, in class f: queue the run again after
 * a backoff when the class is retried and attempts remain, else fail it.
 * counted: the attempt used one of the run's attempts (a submit the backend
 * could not take did not). */
static void attempt_failed(sl_runs *r, const sl_run_record *run, sl_proto_failure f,
                           const char *why, const char *progress, int counted) {
    const char *cls = sl_proto_failure_name(f);
    if (!retried(f) || (counted && run->attempts >= run->max_attempts)) {
        char reason[480];
        if (retried(f))
            snprintf(reason, sizeof reason, "gave up after %ld attempt%s; the last (%s): %s",
                     run->attempts, run->attempts == 1 ? "" : "s", cls, why);
        else
            snprintf(reason, sizeof reason, "%s", why);
        sl_store_run_end(r->store, run->id, SL_RUN_STATE_FAILED, NULL, progress, reason, cls);
        log_run("run_failed", run->id, run->sweep_id, reason);
        return;
    }
    long tries = counted ? run->attempts : run->attempts - 1;
    double wait = SL_RUN_BACKOFF_S * pow(2.0, (double)(tries > 0 ? tries - 1 : 0));
    if (wait > SL_RUN_BACKOFF_MAX_S) wait = SL_RUN_BACKOFF_MAX_S;
    sl_store_run_retry(r->store, run->id, wall_seconds() + wait, why, cls, counted);
    log_run("run_retry", run->id, run->sweep_id, why);
}

/* The result a run's job posted to POST /v1/runs/{id}/report, or NULL. */
static json_t *reported_result(sl_runs *r, long long id) {
    char secret[160];
    sl_run_state run_state;
    char *report = NULL;
    sl_store_run_secret(r->store, id, secret, sizeof secret, &run_state, &report);
    json_t *reported = report ? json_loads(report, 0, NULL) : NULL;
    free(report);
    if (json_is_object(reported)) return reported;
    json_decref(reported);
    return NULL;
}

/* A new secret for the attempt a backend that reports is about to start,
 * stored before the job exists so that its report is always accepted. */
static int new_secret(sl_runs *r, long long id, char *secret, size_t cap) {
    if (cap < 2 * SL_RUN_SECRET_BYTES + 1 || sl_secret_random_hex(secret, SL_RUN_SECRET_BYTES) != 0)
        return -1;
    return sl_store_run_set_secret(r->store, id, secret) == SL_STORE_OK ? 0 : -1;
}

/* The run's wall-clock limit in seconds (its spec's time_limit, or the
 * protocol's default). */
static double time_limit(const sl_run_record *run) {
    json_t *spec = json_loads(run->spec, 0, NULL);
    json_t *t = json_object_get(json_object_get(spec, "trainer"), "time_limit");
    double limit =
        json_is_number(t) ? json_number_value(t) : sl_proto_option_at(SL_PROTO_TIME_LIMIT)->dflt;
    json_decref(spec);
    return limit;
}

/* Cancelled runs whose process may still go: tell the backend to stop them. */
static void stop_cancelled(sl_runs *r) {
    id_list *ids = calloc(1, sizeof *ids);
    if (!ids) abort();
    sl_store_runs_to_stop(r->store, collect_id, ids);
    for (size_t i = 0; i < ids->n; i++) {
        sl_run_record run;
        if (sl_store_run_get(r->store, ids->ids[i], &run) != SL_STORE_OK) continue;
        sl_backend *b = backend_named(r, run.backend);
        if (!b || b->cancel(b, run.id, run.attempts, run.ref) == 0) {
            sl_store_run_stopped(r->store, run.id);
            log_run("run_cancelled", run.id, run.sweep_id, NULL);
        }
        sl_run_record_free(&run);
    }
    free(ids);
}

static void poll_one(sl_runs *r, const sl_run_record *run) {
    sl_backend *b = backend_named(r, run->backend);
    if (!b) {
        sl_store_run_end(r->store, run->id, SL_RUN_STATE_FAILED, NULL, NULL,
                         "this server has no such backend",
                         sl_proto_failure_name(SL_PROTO_BACKEND_UNAVAILABLE));
        return;
    }
    sl_backend_status st;
    int rc = b->poll(b, run->id, run->attempts, run->ref, &st);
    /* After asking the backend: a report sent before the job ended is seen
     * here, and settles the run whatever the backend says. */
    json_t *reported = b->reports ? reported_result(r, run->id) : NULL;
    if (reported) {
        if (rc != 0) memset(&st, 0, sizeof st);
        json_decref(st.result); /* the backend's own word gives way to the report */
        st.result = NULL;
        sl_proto_log log;
        sl_proto_log_init(&log);
        log.result = reported;
        sl_backend_outcome(&log, -1, "reported", &st);
        sl_proto_log_free(&log);
        rc = 0;
    }
    if (rc != 0) return;
    double limit = time_limit(run);
    if ((st.state == SL_BACKEND_STARTING || st.state == SL_BACKEND_RUNNING) &&
        run->attempt_started > 0 && wall_seconds() - run->attempt_started > limit) {
        /* Past its wall-clock limit: stop it, and fail it (a retry would
         * run as long). */
        b->cancel(b, run->id, run->attempts, run->ref);
        sl_backend_fail(&st, SL_PROTO_TIMED_OUT, "the attempt ran past its time limit of %.0f s",
                        limit);
    }
    if (st.ref[0]) sl_store_run_set_ref(r->store, run->id, st.ref);
    char *progress = dump(st.progress);
    switch (st.state) {
    case SL_BACKEND_STARTING:
    case SL_BACKEND_RUNNING: {
        sl_run_state state =
            st.state == SL_BACKEND_RUNNING ? SL_RUN_STATE_RUNNING : SL_RUN_STATE_SUBMITTED;
        int changed = state != run->state ||
                      (progress && (!run->progress || strcmp(progress, run->progress) != 0));
        if (changed) sl_store_run_progress(r->store, run->id, state, progress);
        if (state != run->state) log_run("run_running", run->id, run->sweep_id, NULL);
        break;
    }
    case SL_BACKEND_SUCCEEDED: {
        char *result = dump(st.result);
        if (sl_store_run_end(r->store, run->id, SL_RUN_STATE_SUCCEEDED, result, progress, NULL,
                             NULL) == SL_STORE_OK) {
            log_run("run_succeeded", run->id, run->sweep_id, NULL);
            measure_flops(r, b, run, st.result);
        }
        free(result);
        break;
    }
    case SL_BACKEND_FAILED: attempt_failed(r, run, st.failure, st.reason, progress, 1); break;
    }
    free(progress);
    sl_backend_status_free(&st);
}

static void poll_active(sl_runs *r) {
    id_list *ids = calloc(1, sizeof *ids);
    if (!ids) abort();
    sl_store_runs_active(r->store, collect_id, ids);
    for (size_t i = 0; i < ids->n; i++) {
        sl_run_record run;
        if (sl_store_run_get(r->store, ids->ids[i], &run) != SL_STORE_OK) continue;
        if (run.state == SL_RUN_STATE_SUBMITTED || run.state == SL_RUN_STATE_RUNNING)
            poll_one(r, &run);
        sl_run_record_free(&run);
    }
    free(ids);
}

/* Claims queued runs while the backend has room, and starts them. The
 * claim is committed before the process starts: a crash in between leaves
 * a submitted run without a reference, which the next poll looks for by
 * its log (and queues again if nothing is there), never a second process. */
static void submit_queued(sl_runs *r, sl_backend *b) {
    long long active = sl_store_run_active_count(r->store, b->name);
    while (active >= 0 && active < (long long)b->max_active) {
        sl_run_record run;
        if (sl_store_run_claim(r->store, b->name, wall_seconds(), &run) != SL_STORE_OK) return;
        active++;
        sl_run_spec spec;
        sl_error err;
        json_t *j = json_loads(run.spec, 0, NULL);
        int ok = j && sl_run_spec_decode(j, &spec, &err) == 0;
        json_decref(j);
        char ref[SL_BACKEND_REF_MAX], reason[320], secret[2 * SL_RUN_SECRET_BYTES + 1] = "";
        sl_proto_failure failure = SL_PROTO_LOST;
        if (!ok) {
            sl_store_run_end(r->store, run.id, SL_RUN_STATE_FAILED, NULL, NULL,
                             "internal: the stored run spec cannot be read",
                             sl_proto_failure_name(SL_PROTO_REFUSED));
        } else if (b->reports && new_secret(r, run.id, secret, sizeof secret) != 0) {
            attempt_failed(r, &run, SL_PROTO_LOST, "internal: cannot make the run's secret", NULL,
                           1);
        } else if (b->submit(b, run.id, run.attempts, &spec, b->reports ? secret : NULL, ref,
                             sizeof ref, &failure, reason, sizeof reason) == 0) {
            sl_store_run_set_ref(r->store, run.id, ref);
            log_run("run_submitted", run.id, run.sweep_id, ref);
        } else {
            /* A backend that could not take the run has not used an attempt. */
            attempt_failed(r, &run, failure, reason, NULL, failure != SL_PROTO_BACKEND_UNAVAILABLE);
            if (failure == SL_PROTO_BACKEND_UNAVAILABLE) {
                sl_run_record_free(&run);
                return; /* the backend is unavailable: try the others next tick */
            }
        }
        sl_run_record_free(&run);
    }
}

/* ---- a sweep whose runs have all ended: its dataset and fit */

typedef struct {
    sl_dataset ds;
    size_t cap, skipped;
} rows_ctx;

static int add_row(const sl_run_record *run, void *ctx) {
    rows_ctx *c = ctx;
    if (run->state != SL_RUN_STATE_SUCCEEDED || !run->result) return 0;
    json_t *res = json_loads(run->result, 0, NULL), *spec_j = json_loads(run->spec, 0, NULL);
    sl_run_spec spec;
    sl_error err;
    double nz = json_number_value(json_object_get(res, "nonzeros"));
    double tokens = json_number_value(json_object_get(res, "tokens"));
    double loss = json_number_value(json_object_get(res, "val_loss"));
    double sparsity = json_number_value(json_object_get(res, "sparsity"));
    int ok = spec_j && sl_run_spec_decode(spec_j, &spec, &err) == 0 && nz > 0 && isfinite(nz) &&
             tokens > 0 && isfinite(tokens) && loss > 0 && isfinite(loss);
    json_decref(res);
    json_decref(spec_j);
    if (!ok) {
        c->skipped++;
        return 0;
    }
    if (c->ds.nrows == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->ds.rows = realloc(c->ds.rows, c->cap * sizeof *c->ds.rows);
        if (!c->ds.rows) abort();
    }
    sl_dataset_row *row = &c->ds.rows[c->ds.nrows++];
    memset(row, 0, sizeof *row);
    /* An n:m pattern prunes exactly 1 - n/m; unstructured runs report what
     * the pruning reached, which is what their N was measured at. */
    int measured = !spec.pattern_m && sparsity >= 0 && sparsity < 1;
    row->sparsity = measured ? sparsity : spec.sparsity;
    row->nonzeros = nz;
    row->data = tokens;
    row->loss = loss;
    char id[32];
    snprintf(id, sizeof id, "run-%lld", run->id);
    row->run_id = strdup(id);
    if (!row->run_id) abort();
    char pattern[32];
    snprintf(pattern, sizeof pattern, "%u:%u", spec.pattern_n, spec.pattern_m);
    if (spec.pattern_m) /* n < m <= 64: fits */
        snprintf(row->pattern, sizeof row->pattern, "%.7s", pattern);
    row->has_seed = 1;
    row->seed = spec.seed;
    return 0;
}

typedef struct {
    json_t *fit_options;
    const char *law;
    size_t rows;
} fit_ctx;

static char *fit_request(long long dataset, void *ctx) {
    fit_ctx *f = ctx;
    json_t *body = sl_sweep_fit_body(f->fit_options, f->law, dataset);
    json_object_set_new(body, "dataset_rows", json_integer((json_int_t)f->rows));
    sl_fit_request req;
    sl_error err;
    char *text = NULL;
    if (sl_fit_request_decode(body, &req, &err) == 0) {
        json_t *stored = sl_fit_request_json(&req);
        text = dump(stored);
        json_decref(stored);
        sl_fit_request_free(&req);
    }
    json_decref(body);
    return text;
}

static void finish_sweep(sl_runs *r, long long id) {
    sl_sweep_record sweep;
    if (sl_store_sweep_get(r->store, id, &sweep) != SL_STORE_OK) return;
    rows_ctx rows;
    memset(&rows, 0, sizeof rows);
    rows.ds.data_unit = SL_UNIT_TOKENS;
    json_t *request = json_loads(sweep.request, 0, NULL);
    int rc = sl_store_sweep_runs(r->store, id, add_row, &rows);
    if (rc == SL_STORE_OK) {
        char name[64];
        snprintf(name, sizeof name, "sweep-%lld", id);
        fit_ctx f = {json_object_get(request, "fit"), sweep.law, rows.ds.nrows};
        const char *why = rows.ds.nrows ? NULL : "no run succeeded: there is nothing to fit";
        rc = sl_store_sweep_finish(r->store, id, rows.ds.nrows ? &rows.ds : NULL, name, sweep.law,
                                   fit_request, &f, why);
        if (rc == SL_STORE_OK && rows.ds.nrows) {
            sl_jobs_wake(r->jobs);
            log_run("sweep_fit_queued", 0, id, NULL);
        } else if (rc == SL_STORE_OK) {
            log_run("sweep_failed", 0, id, why);
        }
    }
    json_decref(request);
    sl_dataset_free(&rows.ds);
    sl_sweep_record_free(&sweep);
}

static void finish_sweeps(sl_runs *r) {
    long long ids[64];
    size_t n = sl_store_sweeps_ready(r->store, ids, 64);
    for (size_t i = 0; i < n; i++)
        finish_sweep(r, ids[i]);
}

static void *runner(void *arg) {
    sl_runs *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        int stopping = r->stopping;
        r->woken = 0;
        pthread_mutex_unlock(&r->lock);
        if (stopping) break;
        for (size_t i = 0; i < r->nbackends; i++)
            if (r->backends[i]->tick) r->backends[i]->tick(r->backends[i]);
        stop_cancelled(r);
        poll_active(r);
        for (size_t i = 0; i < r->nbackends; i++)
            submit_queued(r, r->backends[i]);
        finish_sweeps(r);

        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->lock);
        if (!r->stopping && !r->woken) pthread_cond_timedwait(&r->wake, &r->lock, &until);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

sl_runs *sl_runs_start(sl_store *store, sl_jobs *jobs, sl_backend **backends, size_t n) {
    sl_runs *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->store = store;
    r->jobs = jobs;
    for (size_t i = 0; i < n && r->nbackends < MAX_BACKENDS; i++)
        if (backends[i]) r->backends[r->nbackends++] = backends[i];
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    load_rates(r);
    if (pthread_create(&r->thread, NULL, runner, r) != 0) {
        sl_log(SL_LOG_ERROR, "runner_not_started", "calibration runs will not start");
        r->stopping = -1;
    }
    return r;
}

void sl_runs_wake(sl_runs *r) {
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    r->woken = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

void sl_runs_stop(sl_runs *r) {
    if (!r) return;
    int started = r->stopping != -1;
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (started) pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->nbackends; i++)
        r->backends[i]->close(r->backends[i]);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    free(r);
}
