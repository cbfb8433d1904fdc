/* Sweeps: a grid of calibration runs, their progress, and the law they fit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_handle.h"
#include "sl_proto.h"
#include "sl_secret.h"
#include "sl_backend.h"
#include "sl_runs.h"
#include "sl_store.h"
#include "sl_sweep_json.h"
#include "sl_sweep_plan.h"

static json_t *parse_or_null(const char *text) {
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    return j ? j : json_null();
}

static json_t *text_or_null(const char *text) {
    return text && text[0] ? json_string(text) : json_null();
}

/* ---- how long: the estimated time remaining of a run and of a sweep */

/* A run's measured rate: tokens per second of its training so far,
 * evaluations included (tokens / elapsed_s of its last progress event, or
 * the event's tokens_per_s without elapsed_s); 0 when nothing is measured. */
static double progress_rate(const json_t *progress) {
    double tokens = json_number_value(json_object_get(progress, "tokens"));
    double elapsed = json_number_value(json_object_get(progress, "elapsed_s"));
    if (tokens > 0 && elapsed > 0) return tokens / elapsed;
    double rate = json_number_value(json_object_get(progress, "tokens_per_s"));
    return rate > 0 && isfinite(rate) ? rate : 0.0;
}

/* Tokens a run has left from its last progress event (steps - step of
 * tokens / step each); -1 when the event does not say. */
static double progress_left(const json_t *progress) {
    double step = json_number_value(json_object_get(progress, "step"));
    double steps = json_number_value(json_object_get(progress, "steps"));
    double tokens = json_number_value(json_object_get(progress, "tokens"));
    if (!(step >= 1 && steps >= step && tokens > 0)) return -1.0;
    return (steps - step) * tokens / step;
}

/* A running run's seconds to go at its own measured rate, as of its last
 * progress event; null before the first one and once it has ended. */
static json_t *run_eta(sl_run_state state, const json_t *progress) {
    double rate = progress_rate(progress), left = progress_left(progress);
    if (state != SL_RUN_STATE_RUNNING || rate <= 0 || left < 0) return json_null();
    return json_real(left / rate);
}

static double point_num(const json_t *point, const char *key) {
    return json_number_value(json_object_get(point, key));
}

/* Matmul weights a token passes through (sl_run_weights): how a rate
 * measured on one size carries to another. */
static double size_weights(const json_t *point) {
    return sl_run_weights((unsigned)point_num(point, "layers"),
                          (unsigned)point_num(point, "width"));
}

/* The rates a sweep's runs have measured: the mean per model size (a grid
 * has at most 32 sizes) and the mean of rate x size_weights over them all. */
#define ETA_SIZES 64

typedef struct {
    struct {
        double layers, width, heads, sum;
        size_t n;
    } size[ETA_SIZES];
    size_t sizes, n;
    double scaled;
} measured_rates;

static void measure_rates(const json_t *runs, measured_rates *m) {
    memset(m, 0, sizeof *m);
    size_t i, k;
    json_t *r;
    json_array_foreach(runs, i, r) {
        double rate = progress_rate(json_object_get(r, "progress"));
        if (rate <= 0) continue;
        const json_t *p = json_object_get(r, "point");
        m->scaled += rate * size_weights(p);
        m->n++;
        double L = point_num(p, "layers"), C = point_num(p, "width"), H = point_num(p, "heads");
        for (k = 0; k < m->sizes; k++)
            if (m->size[k].layers == L && m->size[k].width == C && m->size[k].heads == H) break;
        if (k == m->sizes) {
            if (k == ETA_SIZES) continue;
            m->sizes++;
            m->size[k].layers = L;
            m->size[k].width = C;
            m->size[k].heads = H;
        }
        m->size[k].sum += rate;
        m->size[k].n++;
    }
}

/* The rate for a run that has measured none: the mean measured rate of the
 * sweep's runs of its size, or else the mean of all measured runs scaled by
 * size_weights; 0 when no run has measured one. */
static double borrowed_rate(const measured_rates *m, const json_t *point) {
    double L = point_num(point, "layers"), C = point_num(point, "width");
    double H = point_num(point, "heads");
    for (size_t k = 0; k < m->sizes; k++)
        if (m->size[k].layers == L && m->size[k].width == C && m->size[k].heads == H)
            return m->size[k].sum / (double)m->size[k].n;
    double w = size_weights(point);
    return m->n && w > 0 ? m->scaled / (double)m->n / w : 0.0;
}

/* A running sweep's remaining_tokens (the tokens its queued, submitted and
 * running runs have still to train) and eta_seconds: each such run's
 * remaining seconds (a running run at its own measured rate, any other at
 * the rate borrowed_rate gives it), summed and shared among the backend's
 * run slots as if the sweep had them to itself, but never less than the
 * longest single run. Both null once the sweep's runs have all ended;
 * eta_seconds null while a run has no rate to go by (no run of the sweep
 * has measured one yet and the backend has no throughput, flops_per_s 0). */
static void sweep_eta(json_t *sweep, const json_t *runs, unsigned slots, double flops_per_s) {
    const char *sweep_state = json_string_value(json_object_get(sweep, "state"));
    double tokens = 0.0, total = 0.0, longest = 0.0;
    size_t live = 0, unknown = 0, i;
    measured_rates *rates = malloc(sizeof *rates);
    if (!rates) abort();
    measure_rates(runs, rates);
    json_t *r;
    json_array_foreach(runs, i, r) {
        const char *state = json_string_value(json_object_get(r, "state"));
        if (!state ||
            (strcmp(state, "queued") && strcmp(state, "submitted") && strcmp(state, "running")))
            continue;
        live++;
        const json_t *progress = json_object_get(r, "progress"),
                     *point = json_object_get(r, "point");
        double left = -1.0, rate = 0.0;
        if (!strcmp(state, "running")) {
            left = progress_left(progress);
            rate = progress_rate(progress);
        }
        if (left < 0) {
            left = json_number_value(json_object_get(point, "tokens"));
            rate = 0.0;
        }
        if (rate <= 0) rate = borrowed_rate(rates, point);
        /* Before any run of the sweep has measured a rate: the backend's. */
        if (rate <= 0 && flops_per_s > 0) rate = flops_per_s / (6.0 * size_weights(point));
        tokens += left;
        if (rate <= 0) {
            unknown++;
            continue;
        }
        total += left / rate;
        if (left / rate > longest) longest = left / rate;
    }
    free(rates);
    int running = sweep_state && !strcmp(sweep_state, "running") && live > 0;
    double eta = total / (double)(slots ? slots : 1);
    json_object_set_new(sweep, "remaining_tokens",
                        running ? json_integer((json_int_t)llround(tokens)) : json_null());
    json_object_set_new(sweep, "eta_seconds",
                        running && !unknown ? json_real(eta > longest ? eta : longest)
                                            : json_null());
}

/* ---- what the grid can identify and what it costs */

/* FLOP/s of one run on b: measured from its succeeded runs, else
 * configured (--*-gflops); 0 with *source NULL when neither. */
static double backend_rate(sl_runs *runs, const sl_backend *b, const char **source) {
    double measured = b ? sl_runs_measured_flops(runs, b->name) : 0.0;
    *source = NULL;
    if (measured > 0) {
        *source = "measured";
        return measured;
    }
    if (b && b->gflops > 0) {
        *source = "configured";
        return b->gflops * 1e9;
    }
    return 0.0;
}

/* The sweep's `warnings` (what its grid leaves the fit unable to
 * determine: sl_sweep_design_check) and `estimate` (training FLOPs, and
 * seconds at the backend's throughput over its run slots), from its stored
 * request. Returns that throughput (FLOP/s of one run; 0 when unknown). */
static double sweep_plan(json_t *sweep, sl_runs *runs, const sl_backend *b) {
    sl_sweep_request sr;
    sl_error err;
    json_t *warnings = json_array(), *estimate = json_null();
    double rate = 0.0;
    if (sl_sweep_request_decode(json_object_get(sweep, "request"), &sr, &err) == 0) {
        size_t n = sl_sweep_points(&sr, NULL, 0);
        sl_run_spec *points = calloc(n ? n : 1, sizeof *points);
        if (!points) abort();
        sl_sweep_points(&sr, points, n);
        sl_fit_design d;
        sl_fit_design_issue issues[SL_FIT_DESIGN_MAX_ISSUES];
        int k = sl_sweep_design_check(points, n, &d, issues);
        for (int i = 0; i < k; i++)
            json_array_append_new(warnings, json_pack("{s:s, s:s}", "code", issues[i].code,
                                                      "message", issues[i].message));
        double flops = 0.0, longest = 0.0;
        for (size_t i = 0; i < n; i++) {
            double f = sl_run_flops(&points[i]);
            flops += f;
            if (f > longest) longest = f;
        }
        const char *source;
        rate = backend_rate(runs, b, &source);
        unsigned slots = b ? b->max_active : 1;
        if (slots > n) slots = (unsigned)n;
        double secs = rate > 0 && slots ? fmax(flops / rate / slots, longest / rate) : 0.0;
        estimate = json_pack(
            "{s:I, s:f, s:o, s:o, s:i, s:o, s:{s:s, s:s, s:s}}", "runs", (json_int_t)n, "flops",
            flops, "flops_per_s", rate > 0 ? json_real(rate) : json_null(), "throughput",
            source ? json_string(source) : json_null(), "slots", (int)slots, "seconds",
            rate > 0 ? json_real(secs) : json_null(), "units", "flops",
            "floating-point operations of training: 6 x matmul weights x tokens, summed over "
            "the runs",
            "flops_per_s", "FLOP/s of one run on the sweep's backend", "seconds",
            "seconds of wall-clock time for every run, sharing the backend's run slots");
        free(points);
        sl_sweep_request_free(&sr);
    }
    json_object_set_new(sweep, "warnings", warnings);
    json_object_set_new(sweep, "estimate", estimate);
    return rate;
}

static json_t *run_json(const sl_run_record *run) {
    json_t *o = json_pack("{s:I, s:I, s:s, s:i, s:i, s:s}", "id", (json_int_t)run->id, "sweep",
                          (json_int_t)run->sweep_id, "state", sl_run_state_name(run->state),
                          "attempts", (int)run->attempts, "max_attempts", (int)run->max_attempts,
                          "backend", run->backend);
    json_object_set_new(o, "reference", text_or_null(run->ref));
    json_object_set_new(o, "point", parse_or_null(run->spec));
    json_t *progress = parse_or_null(run->progress);
    json_object_set_new(o, "progress", progress);
    json_object_set_new(o, "result", parse_or_null(run->result));
    json_object_set_new(o, "eta_seconds", run_eta(run->state, progress));
    json_object_set_new(o, "error", text_or_null(run->error));
    json_object_set_new(o, "last_error", text_or_null(run->last_error));
    json_object_set_new(o, "failure", run->failure[0] ? json_string(run->failure) : json_null());
    json_object_set_new(o, "last_failure",
                        run->last_failure[0] ? json_string(run->last_failure) : json_null());
    json_object_set_new(o, "created_at", json_string(run->created_at));
    json_object_set_new(o, "started_at", text_or_null(run->started_at));
    json_object_set_new(o, "finished_at", text_or_null(run->finished_at));
    return o;
}

static int append_run(const sl_run_record *run, void *ctx) {
    json_array_append_new(ctx, run_json(run));
    return 0;
}

/* The sweep as clients see it (its state follows its fit once it has one),
 * with runs, or without the member for a list. `status`, here and in `fit`,
 * is a deprecated copy of `state`. */
static json_t *sweep_json(const sl_sweep_record *w, json_t *runs) {
    const char *state = sl_sweep_phase_name(w->phase);
    json_t *fit = json_null(), *dataset = json_null();
    if (w->fit_id) {
        const char *fit_state = sl_fit_state_name(w->fit_state);
        fit =
            json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)w->fit_id, "state", fit_state,
                      "status", fit_state, "published",
                      w->fit_published_version ? json_pack("{s:s, s:i}", "name", w->law, "version",
                                                           (int)w->fit_published_version)
                                               : json_null(),
                      "error", text_or_null(w->fit_error));
    }
    if (w->dataset_id)
        dataset = json_pack("{s:I, s:o}", "id", (json_int_t)w->dataset_id, "rows",
                            w->dataset_rows >= 0 ? json_integer(w->dataset_rows) : json_null());
    long long total = 0;
    json_t *counts = json_object();
    for (int s = 0; s < SL_RUN_STATE_COUNT; s++) {
        json_object_set_new(counts, sl_run_state_name((sl_run_state)s), json_integer(w->counts[s]));
        total += w->counts[s];
    }
    json_object_set_new(counts, "total", json_integer(total));
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)w->id, "state",
                          state, "status", state, "law", w->law, "backend", w->backend, "request",
                          parse_or_null(w->request), "counts", counts);
    if (runs) json_object_set_new(o, "runs", runs);
    json_object_set_new(o, "dataset", dataset);
    json_object_set_new(o, "fit", fit);
    json_object_set_new(o, "error", text_or_null(w->error));
    json_object_set_new(o, "created_at", json_string(w->created_at));
    json_object_set_new(o, "finished_at", text_or_null(w->finished_at));
    return o;
}

static void reply_sweep(sl_request *req, long long id, unsigned status) {
    sl_store *store = sl_req_server(req)->store;
    sl_sweep_record w;
    int rc = sl_store_sweep_get(store, id, &w);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no sweep with id %lld", id);
        return;
    }
    json_t *runs = json_array();
    if (rc != SL_STORE_OK || sl_store_sweep_runs(store, id, append_run, runs) != SL_STORE_OK) {
        if (rc == SL_STORE_OK) sl_sweep_record_free(&w);
        json_decref(runs);
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    sl_runs *r = sl_req_server(req)->runs;
    const sl_backend *b = sl_runs_backend(r, w.backend);
    json_t *o = sweep_json(&w, runs);
    double rate = sweep_plan(o, r, b);
    sweep_eta(o, runs, b ? b->max_active : 1, rate);
    sl_reply_json(req, status, o);
    sl_sweep_record_free(&w);
}

static const char *sweep_phase_name(int phase) {
    return sl_sweep_phase_name((sl_sweep_phase)phase);
}

static const char *run_state_name(int state) {
    return sl_run_state_name((sl_run_state)state);
}

/* A page of sweeps, newest first, each as GET /v1/sweeps/{id} answers it
 * less its runs (GET /v1/sweeps/{id}/runs pages them). Only a running
 * sweep's runs are read, for its remaining_tokens and eta_seconds. */
void sl_handle_sweeps_list(sl_request *req) {
    sl_server *server = sl_req_server(req);
    sl_store_page page;
    const char *law;
    int phase;
    if (sl_handle_page_params(req, &page) != 0 || sl_handle_law_param(req, &law) != 0 ||
        sl_handle_state_param(req, sweep_phase_name, SL_SWEEP_PHASE_COUNT, &phase) != 0)
        return;
    sl_sweep_record *sweeps;
    size_t n;
    if (sl_store_sweep_list(server->store, &page, law, (sl_sweep_phase)phase, &sweeps, &n) !=
        SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    json_t *items = json_array();
    int rc = SL_STORE_OK;
    for (size_t i = 0; i < n; i++) {
        const sl_sweep_record *w = &sweeps[i];
        json_t *runs = json_array(), *o = sweep_json(w, NULL);
        if (rc == SL_STORE_OK && w->phase == SL_SWEEP_PHASE_RUNNING)
            rc = sl_store_sweep_runs(server->store, w->id, append_run, runs);
        const sl_backend *b = sl_runs_backend(server->runs, w->backend);
        double rate = sweep_plan(o, server->runs, b);
        sweep_eta(o, runs, b ? b->max_active : 1, rate);
        json_decref(runs);
        json_array_append_new(items, o);
        sl_sweep_record_free(&sweeps[i]);
    }
    free(sweeps);
    if (rc != SL_STORE_OK) {
        json_decref(items);
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    sl_reply_json(req, 200, sl_handle_page_json("sweeps", items, &page));
}

static void reply_run(sl_request *req, long long id) {
    sl_run_record run;
    int rc = sl_store_run_get(sl_req_server(req)->store, id, &run);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no run with id %lld", id);
        return;
    }
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    sl_reply_json(req, 200, run_json(&run));
    sl_run_record_free(&run);
}

static int path_id(sl_request *req, long long *id) {
    long v;
    sl_error err;
    if (sl_parse_int("id", sl_req_path_param(req, "id"), 1, 1L << 52, &v, &err) != 0) {
        sl_reply_error(req, &err);
        return -1;
    }
    *id = v;
    return 0;
}

/* The backend the sweep's runs go to: the one it names, or else the first
 * (local, worker, Slurm) that can run its profile on its device. 422 when
 * none can, saying why for each. On success sr->backend is that backend and
 * sr->device what each run needs there (the profile may need more than the
 * sweep asked for). */
static int route(sl_request *req, sl_sweep_request *sr) {
    sl_server *server = sl_req_server(req);
    char why[SL_BACKEND_KIND_COUNT][400], all[1400] = "";
    size_t tried = 0;
    int short_of_device = 0; /* a backend has the profile, but too little device */
    for (size_t i = 0; sl_runs_backend_at(server->runs, i); i++) {
        sl_backend *b = sl_runs_backend_at(server->runs, i);
        sl_backend_kind kind;
        if (sl_backend_kind_parse(b->name, &kind) != 0) continue;
        if (sr->backend_given && kind != sr->backend) continue;
        sl_device needs = sr->device;
        int can =
            b->can_run ? b->can_run(b, sr->profile, &needs, why[tried], sizeof why[tried]) : 0;
        if (can == 1) {
            sr->backend = kind;
            sr->device = needs;
            return 0;
        }
        short_of_device |= can < 0;
        if (!b->can_run)
            snprintf(why[tried], sizeof why[tried], "%s cannot say what it has", b->name);
        tried++;
    }
    if (sr->backend_given && tried == 0) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "backend", "this server has no %s backend",
                      sl_backend_kind_name(sr->backend));
        return -1;
    }
    for (size_t i = 0; i < tried; i++) {
        size_t len = strlen(all);
        snprintf(all + len, sizeof all - len, "%s%s", i ? "; " : "", why[i]);
    }
    sl_reply_fail(req, SL_ERR_UNPROCESSABLE,
                  sr->backend_given ? "backend"
                  : short_of_device ? "device"
                                    : "profile",
                  "no configured backend can run this sweep: %s", all);
    return -1;
}

/* -1 with why when the local backend cannot run its own trainer
 * (sparselaw-train, no profile): --trainer is no executable or --corpus
 * cannot be read, so that every run would fail; else 0. */
static int local_trainer_problem(const sl_config *config, char *why, size_t cap) {
    char corpus[1200];
    if (access(config->trainer, X_OK) != 0) {
        snprintf(why, cap,
                 "the local backend cannot run: its trainer is not an executable file (the "
                 "server's --trainer)");
        return -1;
    }
    if (sl_backend_local_corpus_check(config->corpus, corpus, sizeof corpus) != 0) {
        snprintf(why, cap,
                 "the local backend cannot run: %s (the server's --corpus; the default comes "
                 "with `npm ci`)",
                 corpus);
        return -1;
    }
    return 0;
}

/* What would make every run or the fit fail later: a built-in law, a law
 * in another data unit, a backend this server cannot run, a profile it
 * does not have, a device no backend has. */
static int validate(sl_request *req, sl_sweep_request *sr) {
    sl_server *server = sl_req_server(req);
    sl_law_record law;
    if (sl_store_law_get(server->store, sr->law, 0, &law) == SL_STORE_OK) {
        if (law.builtin) {
            sl_reply_fail(req, SL_ERR_CONFLICT, "law",
                          "'%s' is a built-in law and cannot get new versions; publish under "
                          "another name",
                          sr->law);
            return -1;
        }
        if (law.data_unit != SL_UNIT_TOKENS) {
            sl_reply_fail(req, SL_ERR_CONFLICT, "law",
                          "law '%s' measures data in %s but a sweep's runs measure it in tokens; "
                          "publish under another name",
                          sr->law, sl_data_unit_name(law.data_unit));
            return -1;
        }
    }
    /* A profile's trainer takes its options from the operator's template: the
     * sweep may set only what the server itself uses (threads, device, the
     * runner's time limit). */
    for (int id = 0; sr->profile[0] && id < SL_PROTO_COUNT; id++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)id);
        if (sr->trainer.given[id] && id != SL_PROTO_THREADS && id != SL_PROTO_DEVICE &&
            id != SL_PROTO_TIME_LIMIT) {
            sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "trainer",
                          "a trainer profile takes its options from the operator's argv template: "
                          "with \"profile\", trainer may set threads, device and time_limit, "
                          "not %s",
                          o->name);
            return -1;
        }
    }
    if (route(req, sr) != 0) return -1;
    char why[1400];
    if (sr->backend == SL_BACKEND_LOCAL && !sr->profile[0] &&
        local_trainer_problem(server->config, why, sizeof why) != 0) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "backend", "%s", why);
        return -1;
    }
    return 0;
}

/* "strict": a grid the fitter cannot identify the law from is refused,
 * with every reason (the warnings a lenient sweep gets). */
static int refuse_design(sl_request *req, const sl_run_spec *points, size_t n) {
    sl_fit_design d;
    sl_fit_design_issue issues[SL_FIT_DESIGN_MAX_ISSUES];
    int k = sl_sweep_design_check(points, n, &d, issues);
    if (k == 0) return 0;
    char all[SL_FIT_DESIGN_MAX_ISSUES * 260] = "";
    for (int i = 0; i < k; i++) {
        size_t len = strlen(all);
        snprintf(all + len, sizeof all - len, "%s%s", i ? "; " : "", issues[i].message);
    }
    sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "grid",
                  "with \"strict\": true the grid must identify the law, and this one cannot: %s",
                  all);
    return -1;
}

void sl_handle_sweep_create(sl_request *req) {
    sl_server *server = sl_req_server(req);
    sl_sweep_request sr;
    sl_error err;
    if (sl_sweep_request_decode(sl_req_json(req), &sr, &err) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    if (validate(req, &sr) != 0) {
        sl_sweep_request_free(&sr);
        return;
    }
    size_t n = sl_sweep_points(&sr, NULL, 0);
    sl_run_spec *points = calloc(n, sizeof *points);
    sl_run_new *runs = calloc(n, sizeof *runs);
    char(*keys)[SL_RUN_KEY_MAX] = calloc(n, sizeof *keys);
    if (!points || !runs || !keys) abort();
    sl_sweep_points(&sr, points, n);
    if (sr.strict && refuse_design(req, points, n) != 0) {
        free(runs);
        free(keys);
        free(points);
        sl_sweep_request_free(&sr);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sl_run_spec_key(&points[i], keys[i], sizeof keys[i]);
        json_t *spec = sl_run_spec_json(&points[i]);
        runs[i].key = keys[i];
        runs[i].spec = json_dumps(spec, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(spec);
        if (!runs[i].spec) abort();
    }
    json_t *stored = sl_sweep_request_json(&sr);
    char *text = json_dumps(stored, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(stored);
    long long id = 0;
    int rc = text ? sl_store_sweep_create(server->store, sr.law, sl_backend_kind_name(sr.backend),
                                          text, runs, n, (long)sr.max_attempts, &id)
                  : SL_STORE_ERROR;
    free(text);
    for (size_t i = 0; i < n; i++)
        free((char *)(uintptr_t)runs[i].spec);
    free(runs);
    free(keys);
    free(points);
    sl_sweep_request_free(&sr);
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; no sweep was created");
        return;
    }
    sl_runs_wake(server->runs);
    reply_sweep(req, id, 202);
}

void sl_handle_sweep_get(sl_request *req) {
    long long id;
    if (path_id(req, &id) == 0) reply_sweep(req, id, 200);
}

/* A page of the sweep's runs, newest first, each as GET /v1/runs/{id}. */
void sl_handle_sweep_runs(sl_request *req) {
    long long id;
    sl_store_page page;
    int state;
    if (path_id(req, &id) != 0 || sl_handle_page_params(req, &page) != 0 ||
        sl_handle_state_param(req, run_state_name, SL_RUN_STATE_COUNT, &state) != 0)
        return;
    sl_run_record *runs;
    size_t n;
    int rc = sl_store_sweep_run_list(sl_req_server(req)->store, id, &page, (sl_run_state)state,
                                     &runs, &n);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no sweep with id %lld", id);
        return;
    }
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, run_json(&runs[i]));
        sl_run_record_free(&runs[i]);
    }
    free(runs);
    sl_reply_json(req, 200, sl_handle_page_json("runs", items, &page));
}

void sl_handle_sweep_delete(sl_request *req) {
    long long id;
    if (path_id(req, &id) != 0) return;
    int rc = sl_store_sweep_cancel(sl_req_server(req)->store, id);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no sweep with id %lld", id);
        return;
    }
    if (rc == SL_STORE_CONFLICT) {
        sl_reply_fail(req, SL_ERR_CONFLICT, "id",
                      "sweep %lld has finished: its runs have all ended and its fit was queued",
                      id);
        return;
    }
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was cancelled");
        return;
    }
    sl_runs_wake(sl_req_server(req)->runs);
    reply_sweep(req, id, 200);
}

void sl_handle_run_get(sl_request *req) {
    long long id;
    if (path_id(req, &id) == 0) reply_run(req, id);
}

void sl_handle_run_delete(sl_request *req) {
    long long id;
    if (path_id(req, &id) != 0) return;
    int rc = sl_store_run_cancel(sl_req_server(req)->store, id);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no run with id %lld", id);
        return;
    }
    if (rc == SL_STORE_CONFLICT) {
        sl_run_record run;
        const char *state = "ended";
        if (sl_store_run_get(sl_req_server(req)->store, id, &run) == SL_STORE_OK) {
            state = sl_run_state_name(run.state);
            sl_run_record_free(&run);
        }
        sl_reply_fail(req, SL_ERR_CONFLICT, "id", "run %lld has already %s; nothing to cancel", id,
                      state);
        return;
    }
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was cancelled");
        return;
    }
    sl_runs_wake(sl_req_server(req)->runs);
    reply_run(req, id);
}

/* A run's own result, posted by its job (the Slurm backend) with the
 * attempt's secret instead of the server's token: 401 without a bearer
 * token, 403 with a wrong one (compared in constant time), and 403 too for
 * an unknown run, so that no caller without the secret can tell which runs
 * exist. Stored for the runner's next poll; posting it again is harmless;
 * 409 once the run has ended another way or was queued again. */
void sl_handle_run_report(sl_request *req) {
    sl_server *server = sl_req_server(req);
    long long id;
    const char *auth = sl_req_header(req, "Authorization");
    if (!auth || sl_secret_bearer_check(auth, "") == 401) {
        sl_reply_fail(req, SL_ERR_UNAUTHORIZED, NULL,
                      "a run's report needs Authorization: Bearer <the run's secret>");
        return;
    }
    if (path_id(req, &id) != 0) return;
    char secret[160];
    sl_run_state state;
    char *report = NULL;
    int rc = sl_store_run_secret(server->store, id, secret, sizeof secret, &state, &report);
    if (rc == SL_STORE_NOT_FOUND) secret[0] = '\0'; /* answered as a wrong secret, below */
    if (rc != SL_STORE_OK && rc != SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    /* A run without a secret takes no report: nothing matches it. */
    unsigned denied = secret[0] ? sl_secret_bearer_check(auth, secret) : 403;
    if (denied) {
        free(report);
        sl_reply_fail(req, denied == 401 ? SL_ERR_UNAUTHORIZED : SL_ERR_FORBIDDEN, NULL,
                      "this is not the secret of run %lld's current attempt", id);
        return;
    }
    /* The trainer's result event as the protocol reads it (sl_proto.h): a
     * completed one must carry what the fit needs. */
    json_t *body = json_deep_copy(sl_req_json(req));
    const char *event = json_string_value(json_object_get(body, "event"));
    if (json_is_object(body) && !event) json_object_set_new(body, "event", json_string("result"));
    char *text =
        json_is_object(body) ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(body);
    sl_proto_event ev = {SL_PROTO_EV_OTHER, NULL};
    char why[200] = "not a JSON object";
    if (!text || sl_proto_event_parse(text, strlen(text), &ev, why, sizeof why) != 0 ||
        ev.kind != SL_PROTO_EV_RESULT) {
        json_decref(ev.body);
        free(text);
        free(report);
        sl_reply_fail(req, SL_ERR_INVALID_BODY, "status",
                      "the body must be the trainer's result event (docs/trainer-protocol.md): "
                      "%s",
                      ev.body ? "another event" : why);
        return;
    }
    free(text);
    text = json_dumps(ev.body, JSON_COMPACT | JSON_REAL_PRECISION(17)); /* without "event" */
    json_decref(ev.body);
    if (!text) abort();
    /* The same report again is accepted whatever happened since; another
     * one, or one for a run that is not out with Slurm, is a conflict. */
    int accepted = report && strcmp(report, text) == 0;
    if (!report && (state == SL_RUN_STATE_SUBMITTED || state == SL_RUN_STATE_RUNNING)) {
        rc = sl_store_run_set_report(server->store, id, text);
        if (rc == SL_STORE_NOT_FOUND) { /* another report came first, or the run moved on */
            char *now = NULL;
            if (sl_store_run_secret(server->store, id, secret, sizeof secret, &state, &now) ==
                SL_STORE_OK)
                accepted = now && strcmp(now, text) == 0;
            free(now);
        } else if (rc != SL_STORE_OK) {
            free(report);
            free(text);
            sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; the report was not kept");
            return;
        } else {
            accepted = 1;
        }
    }
    free(report);
    free(text);
    if (!accepted) {
        sl_reply_fail(req, SL_ERR_CONFLICT, "id",
                      "run %lld is %s: it takes no report (another result was kept, or the run "
                      "ended otherwise)",
                      id, sl_run_state_name(state));
        return;
    }
    sl_runs_wake(server->runs);
    sl_reply_json(req, 200,
                  json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "state",
                            sl_run_state_name(state), "accepted", 1));
}

/* ---- what sweeps can run on */

static json_t *device_json(json_t *o, const sl_device *d) {
    json_object_set_new(o, "device", json_string(d->kind == SL_DEVICE_CUDA ? "cuda" : "cpu"));
    json_object_set_new(o, "device_count",
                        json_integer(d->kind == SL_DEVICE_CUDA ? (json_int_t)d->count : 0));
    return o;
}

/* One backend as GET /v1/backends answers it: what route() and the estimate
 * go by (offers, can_run's facts; backend_rate), its run slots and the runs
 * it has out now. NULL when the store cannot be read. */
static json_t *backend_json(sl_server *server, sl_backend *b, sl_profile *list) {
    long long active = sl_store_run_active_count(server->store, b->name);
    if (active < 0) return NULL;
    sl_device has = b->device;
    char problem[400] = "", why[1400];
    size_t n = b->offers ? b->offers(b, &has, list, SL_PROFILE_MAX, problem, sizeof problem) : 0;
    if (!b->offers) snprintf(problem, sizeof problem, "%s cannot say what it has", b->name);
    const char *source;
    double rate = backend_rate(server->runs, b, &source);
    sl_backend_kind kind;
    int builtin = 1; /* sparselaw-train: the worker and Slurm jobs run their own */
    if (sl_backend_kind_parse(b->name, &kind) == 0 && kind == SL_BACKEND_LOCAL &&
        local_trainer_problem(server->config, why, sizeof why) != 0)
        builtin = 0;
    json_t *profiles = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            profiles, device_json(json_pack("{s:s}", "name", list[i].name), &list[i].device));
    json_t *o = json_pack("{s:s}", "name", b->name);
    device_json(o, &has);
    json_object_set_new(o, "slots", json_integer(b->max_active));
    json_object_set_new(o, "active", json_integer(active));
    json_object_set_new(o, "flops_per_s", rate > 0 ? json_real(rate) : json_null());
    json_object_set_new(o, "throughput", source ? json_string(source) : json_null());
    json_object_set_new(o, "builtin", json_boolean(builtin));
    json_object_set_new(o, "builtin_problem", builtin ? json_null() : json_string(why));
    json_object_set_new(o, "profiles", profiles);
    json_object_set_new(o, "problem", problem[0] ? json_string(problem) : json_null());
    return o;
}

/* The configured backends in routing order (local, worker, Slurm). */
void sl_handle_backends(sl_request *req) {
    sl_server *server = sl_req_server(req);
    sl_profile *list = calloc(SL_PROFILE_MAX, sizeof *list);
    if (!list) abort();
    json_t *items = json_array();
    for (size_t i = 0; sl_runs_backend_at(server->runs, i); i++) {
        json_t *o = backend_json(server, sl_runs_backend_at(server->runs, i), list);
        if (!o) {
            free(list);
            json_decref(items);
            sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
            return;
        }
        json_array_append_new(items, o);
    }
    free(list);
    sl_reply_json(
        req, 200,
        json_pack("{s:o, s:{s:s, s:s, s:s, s:s}}", "backends", items, "units", "device_count",
                  "CUDA devices a run can have there (0 on a cpu); of a profile, the devices each "
                  "of its runs needs",
                  "slots", "runs at once (the backend's --*-runs)", "active",
                  "runs submitted or running there now", "flops_per_s",
                  "FLOP/s of one run on the backend, as a sweep's estimate uses it"));
}
