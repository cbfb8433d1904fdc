/* Fits: queue a fit of a law to a dataset, and read its state and result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_fit_json.h"
#include "sl_jobs.h"
#include "sl_store.h"

/* `status` is a deprecated copy of `state`, kept for the clients that read
 * it before fits, runs and sweeps all said `state`. */
static json_t *fit_json(const sl_fit_job *job) {
    const char *state = sl_fit_state_name(job->state);
    json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:s, s:f, s:i, s:s}", "id", (json_int_t)job->id,
                          "state", state, "status", state, "dataset", (json_int_t)job->dataset_id,
                          "law", job->law, "progress", job->progress, "attempts",
                          (int)job->attempts, "created_at", job->created_at);
    json_object_set_new(o, "started_at",
                        job->started_at[0] ? json_string(job->started_at) : json_null());
    json_object_set_new(o, "finished_at",
                        job->finished_at[0] ? json_string(job->finished_at) : json_null());
    json_object_set_new(o, "request", json_loads(job->request, 0, NULL));
    json_t *result = job->result ? json_loads(job->result, 0, NULL) : NULL;
    if (result) json_object_update(o, result); /* coefficients, objective, ... at top level */
    json_decref(result);
    json_object_set_new(o, "published",
                        job->published_version ? json_pack("{s:s, s:i}", "name", job->law,
                                                           "version", (int)job->published_version)
                                               : json_null());
    json_object_set_new(o, "error", job->error ? json_string(job->error) : json_null());
    return o;
}

static int fit_ended(const sl_fit_job *job) {
    return job->state == SL_FIT_STATE_SUCCEEDED || job->state == SL_FIT_STATE_FAILED;
}

/* status 0: 200 once the fit has ended, 202 before (the answer to ?wait=true). */
static void reply_fit(sl_request *req, long long id, unsigned status) {
    sl_fit_job job;
    int rc = sl_store_fit_get(sl_req_server(req)->store, id, &job);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no fit with id %lld", id);
        return;
    }
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    if (!status) status = fit_ended(&job) ? 200 : 202;
    sl_reply_json(req, status, fit_json(&job));
    sl_fit_job_free(&job);
}

/* Checks now what would make the fit fail later: the dataset exists, the
 * law is not built-in and keeps its data unit, the hold-out and the rows can
 * identify the law. Pins the rows the fit will read. */
static int validate(sl_request *req, sl_fit_request *fr) {
    sl_server *server = sl_req_server(req);
    sl_law_record law;
    sl_dataset ds;
    sl_error err;
    int have_law = sl_store_law_get(server->store, fr->law, 0, &law) == SL_STORE_OK;
    if (have_law && law.builtin) {
        sl_reply_fail(req, SL_ERR_CONFLICT, "law",
                      "'%s' is a built-in law and cannot get new versions; publish under "
                      "another name",
                      fr->law);
        return -1;
    }
    int rc = sl_store_dataset_rows(server->store, fr->dataset, &ds);
    if (rc != SL_STORE_OK) {
        if (rc == SL_STORE_NOT_FOUND)
            sl_reply_fail(req, SL_ERR_NOT_FOUND, "dataset", "no dataset with id %lld", fr->dataset);
        else
            sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return -1;
    }
    if (have_law && law.data_unit != ds.data_unit) {
        sl_reply_fail(req, SL_ERR_CONFLICT, "law",
                      "law '%s' measures data in %s but dataset %lld is in %s; publish under "
                      "another name",
                      fr->law, sl_data_unit_name(law.data_unit), fr->dataset,
                      sl_data_unit_name(ds.data_unit));
        sl_dataset_free(&ds);
        return -1;
    }
    if (fr->dataset_rows > (long long)ds.nrows) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "dataset_rows",
                      "dataset %lld has %zu rows, fewer than dataset_rows %lld", fr->dataset,
                      ds.nrows, fr->dataset_rows);
        sl_dataset_free(&ds);
        return -1;
    }
    if (!fr->dataset_rows) fr->dataset_rows = (long long)ds.nrows;
    sl_dataset_truncate(&ds, (size_t)fr->dataset_rows);
    sl_fit_selection sel;
    char reason[256] = "";
    int ok = sl_fit_select(fr, &ds, &sel, &err) == 0;
    if (ok && sl_fit_check(sel.rows, sel.n, reason, sizeof reason) != SL_FIT_OK) {
        sl_error_set(&err, SL_ERR_UNPROCESSABLE, "dataset",
                     "dataset %lld cannot identify the law%s: %s", fr->dataset,
                     fr->holdout ? " once the hold-out is set aside" : "", reason);
        ok = 0;
    }
    if (!ok) sl_reply_error(req, &err);
    sl_fit_selection_free(&sel);
    sl_dataset_free(&ds);
    return ok ? 0 : -1;
}

/* ?wait=true parks the request (sl_req_park) rather than hold an HTTP thread
 * for up to --fit-wait-ms; the end of any fit wakes its waiters, who then
 * answer 200 with the result, or 202 when the wait ran out or SIGTERM came
 * first (the fit then runs again at the next start). */
static void on_fit_end(long long id, void *arg) {
    (void)arg;
    sl_http_wake(id);
}

static void answer_wait(sl_request *req, long long id) {
    reply_fit(req, id, 0);
}

static void wait_for_fit(sl_request *req, long long id) {
    sl_server *server = sl_req_server(req);
    sl_fit_job job;
    sl_jobs_on_end(server->jobs, on_fit_end, NULL);
    sl_req_park(req, id, server->config->fit_wait_ms, answer_wait);
    /* A fit that ended before the park woke nobody: look once more. */
    if (sl_store_fit_get(server->store, id, &job) != SL_STORE_OK) return;
    if (fit_ended(&job)) sl_http_wake(id);
    sl_fit_job_free(&job);
}

void sl_handle_fit_create(sl_request *req) {
    sl_server *server = sl_req_server(req);
    sl_fit_request fr;
    sl_error err;
    const char *wait = sl_req_query(req, "wait");
    if (wait && strcmp(wait, "true") != 0 && strcmp(wait, "false") != 0) {
        sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "wait", "wait must be true or false");
        return;
    }
    if (sl_fit_request_decode(sl_req_json(req), &fr, &err) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    if (validate(req, &fr) != 0) {
        sl_fit_request_free(&fr);
        return;
    }
    json_t *stored = sl_fit_request_json(&fr);
    char *text = json_dumps(stored, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(stored);
    long long id = 0;
    int rc =
        text ? sl_store_fit_create(server->store, fr.dataset, fr.law, text, &id) : SL_STORE_ERROR;
    free(text);
    sl_fit_request_free(&fr);
    if (rc == SL_STORE_NOT_FOUND) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "dataset", "the dataset was deleted meanwhile");
        return;
    }
    if (rc != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; no fit was queued");
        return;
    }
    sl_jobs_wake(server->jobs);
    if (wait && strcmp(wait, "true") == 0 && server->config->fit_wait_ms > 0)
        wait_for_fit(req, id);
    else
        reply_fit(req, id, 202);
}

static const char *fit_state_name(int state) {
    return sl_fit_state_name((sl_fit_state)state);
}

/* A page of fits, newest first, each as GET /v1/fits/{id} answers it less
 * its residuals (one per dataset row) and diagnostics (profiles, matrices):
 * a list stays small; the fit has them, and its verdict and reasons stay. */
void sl_handle_fits_list(sl_request *req) {
    sl_store_page page;
    const char *law;
    int state;
    if (sl_handle_page_params(req, &page) != 0 || sl_handle_law_param(req, &law) != 0 ||
        sl_handle_state_param(req, fit_state_name, SL_FIT_STATE_COUNT, &state) != 0)
        return;
    sl_fit_job *jobs;
    size_t n;
    if (sl_store_fit_list(sl_req_server(req)->store, &page, law, (sl_fit_state)state, &jobs, &n) !=
        SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = fit_json(&jobs[i]);
        json_object_del(o, "residuals");
        json_object_del(o, "diagnostics");
        json_array_append_new(items, o);
        sl_fit_job_free(&jobs[i]);
    }
    free(jobs);
    sl_reply_json(req, 200, sl_handle_page_json("fits", items, &page));
}

void sl_handle_fit_get(sl_request *req) {
    long v;
    sl_error err;
    if (sl_parse_int("id", sl_req_path_param(req, "id"), 1, 1L << 52, &v, &err) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    reply_fit(req, v, 200);
}
