/*
 * sl_backend_worker.c - the worker backend: `sparselaw-train serve` on
 * another machine, over HTTP with libcurl.
 *
 * submit is POST /v1/train with the run spec's numbers (the same options
 * the local backend puts on the command line; the worker uses its own
 * corpus), and the worker's run id is the reference. poll is GET
 * /v1/train/{id}; cancel is DELETE. The worker keeps runs in memory, so a
 * 404 means it restarted and the run is gone: lost, worth a retry. A worker
 * that does not answer is given lost_after seconds (--worker-lost-after)
 * before its runs count as lost; until then a poll says "cannot tell now"
 * (-1).
 */
#include "sl_backend_worker.h"

#include "sl_curl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_time.h"

#define RESPONSE_MAX (1u << 20) /* a run's status is a few KiB */
#define ID_MAX       64

typedef struct worker {
    sl_backend base;
    char url[1024]; /* without a trailing '/' */
    CURL *curl;     /* one runner thread calls us: one handle, reused */
    struct curl_slist *headers;
    double lost_after;
    double unreachable_since; /* monotonic seconds; 0 while the worker answers */
    /* What the worker said it has (GET /v1/info), for can_run on HTTP threads. */
    pthread_mutex_t info_lock;
    CURL *info_curl;
    json_t *info;      /* NULL until it answered */
    double info_when;  /* monotonic seconds of that answer */
    double info_tried; /* of the last attempt that got none */
    char info_problem[256];
} worker;

#define INFO_MAX_AGE 10.0 /* seconds before can_run asks the worker again */
/* After a failed GET /v1/info, seconds before the next try: the threads
 * that waited on info_lock behind a silent worker go on with its problem
 * instead of each waiting out a timeout of their own. */
#define INFO_RETRY_S 1.0

/* One request to the worker, with its token. */
static long request(worker *w, const char *method, const char *path, const char *body, json_t **out,
                    char *problem, size_t cap) {
    return sl_curl_request(w->curl, method, w->url, path, w->headers, body, RESPONSE_MAX, out,
                           problem, cap);
}

/* The worker's error message of a refused request, or "". */
static const char *error_message(json_t *body) {
    const char *m = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
    return m ? m : "";
}

/* A worker id is short hex: safe to put in a URL and to store. */
static int valid_ref(const char *ref) {
    size_t n = ref ? strlen(ref) : 0;
    return n > 0 && n <= ID_MAX && strspn(ref, "0123456789abcdef") == n;
}

/* The run spec as the worker's options: the protocol's options a trainer
 * takes, as JSON (the worker turns them into the trainer's command line by
 * the same table). Without threads the worker divides its cores. */
static json_t *spec_body(const sl_run_spec *spec) {
    sl_proto_spec full;
    sl_run_spec_proto(spec, &full);
    json_t *b = sl_proto_to_json(&full, SL_PROTO_ANY | SL_PROTO_FLAGGED);
    /* A profile's run: the worker fills its own argv template with these numbers. */
    if (spec->profile[0]) json_object_set_new(b, "profile", json_string(spec->profile));
    if (spec->profile[0] && spec->device.kind == SL_DEVICE_CUDA)
        json_object_set_new(b, "devices", json_integer(spec->device.count));
    return b;
}

static int worker_submit(sl_backend *b, long long id, long attempt, const sl_run_spec *spec,
                         const char *secret, char *ref, size_t refcap, sl_proto_failure *failure,
                         char *reason, size_t reasoncap) {
    worker *w = (worker *)b;
    (void)id;
    (void)attempt;
    (void)secret;
    *failure = SL_PROTO_BACKEND_UNAVAILABLE;
    json_t *body = spec_body(spec);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        snprintf(reason, reasoncap, "internal: cannot encode the run's options");
        return -1;
    }
    json_t *answer;
    char problem[256];
    long status = request(w, "POST", "/v1/train", text, &answer, problem, sizeof problem);
    free(text);
    const char *wid = json_string_value(json_object_get(answer, "id"));
    int rc = -1;
    if (status < 0) {
        snprintf(reason, reasoncap, "cannot reach the worker at %.200s: %s", w->url, problem);
    } else if (status == 201 && valid_ref(wid) && strlen(wid) < refcap) {
        snprintf(ref, refcap, "%s", wid);
        rc = 0;
    } else if (status == 503) {
        snprintf(reason, reasoncap, "the worker at %.200s is busy or stopping: %.80s", w->url,
                 error_message(answer));
    } else { /* 400: the options; 401/403: the token. A retry repeats either. */
        *failure = status >= 400 && status < 500 ? SL_PROTO_REFUSED : SL_PROTO_BACKEND_UNAVAILABLE;
        snprintf(reason, reasoncap, "the worker at %.200s answered %ld: %.80s", w->url, status,
                 error_message(answer));
    }
    json_decref(answer);
    return rc;
}

/* The worker's progress in the shape of sl_backend_status.progress: the
 * protocol's progress fields, and the evaluations. */
static json_t *progress_json(json_t *answer) {
    json_t *p = json_object_get(answer, "progress");
    if (!json_is_object(p)) return NULL;
    size_t n;
    const sl_proto_field *f = sl_proto_fields(&n);
    json_t *out = json_object();
    for (size_t k = 0; k < n; k++) {
        json_t *x = json_object_get(p, f[k].name);
        if (!strcmp(f[k].event, "progress") && json_is_number(x))
            json_object_set(out, f[k].name, x);
    }
    json_t *evals = json_object_get(answer, "evaluations");
    json_object_set_new(out, "evaluations",
                        json_is_array(evals) ? json_incref(evals) : json_array());
    return out;
}

static int worker_poll(sl_backend *b, long long id, long attempt, const char *ref,
                       sl_backend_status *out) {
    worker *w = (worker *)b;
    (void)id;
    (void)attempt;
    memset(out, 0, sizeof *out);
    if (!valid_ref(ref)) {
        /* The server stopped between POST and storing the id: the run
         * cannot be found on the worker again. */
        sl_backend_fail(out, SL_PROTO_LOST,
                        "no worker run id was stored for this attempt (the server stopped while "
                        "submitting it)");
        return 0;
    }
    char path[128], problem[256] = "";
    snprintf(path, sizeof path, "/v1/train/%s", ref);
    json_t *answer;
    long status = request(w, "GET", path, NULL, &answer, problem, sizeof problem);
    const char *state = json_string_value(json_object_get(answer, "state"));
    if (status == 404) {
        w->unreachable_since = 0;
        sl_backend_fail(out, SL_PROTO_LOST,
                        "the worker at %.200s no longer knows run %s (it restarted)", w->url, ref);
        json_decref(answer);
        return 0;
    }
    if (status != 200 || !state) {
        /* Down, or answering nonsense (a wrong token, a proxy error): count
         * it against the worker, not the run, until it lasts too long. */
        if (status >= 0)
            snprintf(problem, sizeof problem, "HTTP %ld %.120s", status, error_message(answer));
        json_decref(answer);
        char who[200];
        snprintf(who, sizeof who, "the worker at %.160s", w->url);
        return sl_backend_unanswered(&w->unreachable_since, w->lost_after, who, problem, out);
    }
    w->unreachable_since = 0;
    out->progress = progress_json(answer);
    const char *why = json_string_value(json_object_get(answer, "reason"));
    json_t *result = json_object_get(answer, "result");
    int rc = 0;
    if (!strcmp(state, "running")) {
        int started = json_is_true(json_object_get(answer, "started"));
        out->state = out->progress || started ? SL_BACKEND_RUNNING : SL_BACKEND_STARTING;
    } else if (!strcmp(state, "succeeded") && json_is_object(result)) {
        out->state = SL_BACKEND_SUCCEEDED;
        out->result = json_incref(result);
    } else if (!strcmp(state, "failed")) {
        /* The worker names the class; an older one says only whether a
         * retry could pass. */
        sl_proto_failure f;
        if (sl_proto_failure_parse(json_string_value(json_object_get(answer, "failure")), &f) !=
                0 ||
            f == SL_PROTO_SUCCEEDED)
            f = json_is_true(json_object_get(answer, "retryable")) ? SL_PROTO_LOST
                                                                   : SL_PROTO_REFUSED;
        sl_backend_fail(out, f, "on the worker: %.280s", why ? why : "the run failed");
    } else if (!strcmp(state, "cancelled")) {
        sl_backend_fail(out, SL_PROTO_LOST, "the run was cancelled on the worker");
    } else {
        sl_backend_status_free(out);
        rc = -1;
    }
    json_decref(answer);
    return rc;
}

static int worker_cancel(sl_backend *b, long long id, long attempt, const char *ref) {
    worker *w = (worker *)b;
    (void)id;
    (void)attempt;
    if (!valid_ref(ref)) return 0;
    char path[128], problem[256];
    snprintf(path, sizeof path, "/v1/train/%s", ref);
    json_t *answer;
    long status = request(w, "DELETE", path, NULL, &answer, problem, sizeof problem);
    json_decref(answer);
    /* 404: the worker forgot it, so it is not running there either. */
    return status == 200 || status == 404 ? 0 : -1;
}

/* The worker's GET /v1/info, asked again once older than INFO_MAX_AGE
 * (caller holds info_lock). */
static void refresh_info(worker *w) {
    double now = sl_time_monotonic();
    if (w->info && now - w->info_when < INFO_MAX_AGE) return;
    if (w->info_tried > 0 && sl_time_monotonic() - w->info_tried < INFO_RETRY_S) return;
    json_t *answer = NULL;
    char problem[256] = "";
    long status = sl_curl_request(w->info_curl, "GET", w->url, "/v1/info", w->headers, NULL,
                                  RESPONSE_MAX, &answer, problem, sizeof problem);
    sl_device d;
    if (status == 200 &&
        sl_device_parse(json_string_value(json_object_get(answer, "device")), &d) == 0) {
        json_decref(w->info);
        w->info = answer;
        w->info_when = now;
        w->base.device = d;
        return;
    }
    if (status >= 0)
        snprintf(problem, sizeof problem, "GET /v1/info answered %ld %.120s", status,
                 error_message(answer));
    snprintf(w->info_problem, sizeof w->info_problem, "%s", problem);
    w->info_tried = sl_time_monotonic();
    json_decref(answer);
}

/* The worker's own profiles as its GET /v1/info lists them (the operator of
 * that machine declared them), at most cap into list (caller holds
 * info_lock); how many. */
static size_t info_profiles(const worker *w, sl_profile *list, size_t cap) {
    size_t n = 0, i;
    json_t *p;
    json_array_foreach(json_object_get(w->info, "profiles"), i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (n == cap || !sl_profile_name_valid(name)) continue;
        memset(&list[n], 0, sizeof list[n]);
        snprintf(list[n].name, sizeof list[n].name, "%s", name);
        list[n].backends = SL_PROFILE_WORKER;
        if (sl_device_parse(json_string_value(json_object_get(p, "device")), &list[n].device) != 0)
            list[n].device = (sl_device){SL_DEVICE_CPU, 0};
        n++;
    }
    return n;
}

/* Why the worker cannot say what it has (caller holds info_lock). */
static void info_missing(const worker *w, char *why, size_t cap) {
    snprintf(why, cap, "the worker at %.200s has not said what it has (%.200s)", w->url,
             w->info_problem);
}

static int worker_can_run(sl_backend *b, const char *profile, sl_device *needs, char *why,
                          size_t cap) {
    worker *w = (worker *)b;
    pthread_mutex_lock(&w->info_lock);
    refresh_info(w);
    int ok = 0;
    if (!w->info && !(profile && profile[0]) && needs->kind == SL_DEVICE_CPU) {
        ok = 1; /* every worker runs its own trainer on a CPU: the runs wait for it */
    } else if (!w->info) {
        info_missing(w, why, cap);
    } else {
        sl_profile list[SL_PROFILE_MAX];
        size_t n = info_profiles(w, list, SL_PROFILE_MAX);
        sl_device has = b->device;
        ok = sl_backend_profiles_can_run(list, n, SL_PROFILE_WORKER, b->name, &has, profile, needs,
                                         why, cap);
    }
    pthread_mutex_unlock(&w->info_lock);
    return ok;
}

static size_t worker_offers(sl_backend *b, sl_device *has, sl_profile *out, size_t cap,
                            char *problem, size_t pcap) {
    worker *w = (worker *)b;
    pthread_mutex_lock(&w->info_lock);
    refresh_info(w);
    *has = b->device;
    size_t n = 0;
    if (w->info) {
        n = info_profiles(w, out, cap);
        if (pcap) problem[0] = '\0';
    } else {
        info_missing(w, problem, pcap);
    }
    pthread_mutex_unlock(&w->info_lock);
    return n;
}

void sl_backend_worker_set_gflops(sl_backend *b, double gflops) {
    b->gflops = gflops;
}

static void worker_close(sl_backend *b) {
    worker *w = (worker *)b;
    json_decref(w->info);
    sl_curl_free(w->info_curl);
    pthread_mutex_destroy(&w->info_lock);
    curl_slist_free_all(w->headers);
    sl_curl_free(w->curl);
    free(w);
}

sl_backend *sl_backend_worker_new(const char *url, const char *token, unsigned max_active,
                                  double lost_after, char *err, size_t errcap) {
    size_t ulen = url ? strlen(url) : 0;
    while (ulen && url[ulen - 1] == '/')
        ulen--;
    if ((strncmp(url ? url : "", "http://", 7) != 0 &&
         strncmp(url ? url : "", "https://", 8) != 0) ||
        ulen < 9 || ulen >= 1024) {
        snprintf(err, errcap, "the worker URL must be http://HOST:PORT or https://HOST:PORT");
        return NULL;
    }
    char tok[300];
    snprintf(tok, sizeof tok, "%s", token ? token : "");
    size_t tlen = strlen(tok);
    while (tlen && (tok[tlen - 1] == '\n' || tok[tlen - 1] == '\r' || tok[tlen - 1] == ' '))
        tok[--tlen] = '\0';
    int ok = tlen > 0 && tlen < 257;
    for (size_t i = 0; ok && i < tlen; i++)
        ok = tok[i] > ' ' && tok[i] <= '~';
    if (!ok) { /* also keeps a CR or LF from adding headers */
        snprintf(err, errcap, "the worker token must be 1 to 256 printable characters");
        return NULL;
    }
    if (!(lost_after > 0)) {
        snprintf(err, errcap, "the worker's lost-after time must be positive");
        return NULL;
    }
    worker *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->curl = sl_curl_new();
    w->info_curl = sl_curl_new();
    char auth[340];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    w->headers = curl_slist_append(NULL, auth);
    struct curl_slist *h =
        w->headers ? curl_slist_append(w->headers, "Content-Type: application/json") : NULL;
    if (!w->curl || !w->info_curl || !h) {
        snprintf(err, errcap, "cannot initialise libcurl");
        curl_slist_free_all(w->headers);
        sl_curl_free(w->curl);
        sl_curl_free(w->info_curl);
        free(w);
        return NULL;
    }
    w->headers = h;
    snprintf(w->url, sizeof w->url, "%.*s", (int)ulen, url);
    w->lost_after = lost_after;
    w->base.name = sl_backend_kind_name(SL_BACKEND_WORKER);
    w->base.max_active = max_active ? max_active : 1;
    w->base.submit = worker_submit;
    w->base.poll = worker_poll;
    w->base.cancel = worker_cancel;
    w->base.close = worker_close;
    w->base.can_run = worker_can_run;
    w->base.offers = worker_offers;
    pthread_mutex_init(&w->info_lock, NULL);
    pthread_mutex_lock(&w->info_lock);
    refresh_info(w); /* a worker that is down now is asked again at the first sweep */
    pthread_mutex_unlock(&w->info_lock);
    return &w->base;
}
