/*
 * sl_backend_slurm.c - the Slurm backend: batch jobs through slurmrestd.
 *
 * submit writes a job script from the run spec (the protocol's command
 * line), the configured paths and the attempt's secret (made and kept by the
 * runner), and POSTs it to /slurm/v0.0.38/job/submit; the job id is the
 * reference.
 * The job runs the trainer with its JSON lines in DIR/run-<id>-<attempt>.jsonl,
 * then posts the last result line to POST /v1/runs/{id}/report with
 * "Authorization: Bearer <secret>" (curl, retrying while the server is away).
 *
 * poll asks slurmrestd for the job (the runner then looks for a reported
 * result, which settles the run whatever Slurm says). A job that ended is
 * judged from its output file (the server and the node share DIR), so a
 * result that could not be posted is not lost. slurmrestd down: "cannot tell
 * now" (-1) for lost_after seconds, then backend_unavailable. cancel is
 * DELETE.
 */
#include "sl_backend_slurm.h"

#include "sl_curl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sl_text.h"

#define RESPONSE_MAX (4u << 20) /* GET /jobs lists every job in the queue */
#define JWT_MAX      4096
#define SCRIPT_MAX   16384
#define PATH_CAP     1024

/* Slurm's error numbers that say a job is not (or no longer) there. */
#define ESLURM_INVALID_JOB_ID 2017
#define ESLURM_ALREADY_DONE   2021

typedef struct slurm {
    sl_backend base;
    char url[PATH_CAP];
    char user[64];
    char jwt[JWT_MAX];
    char jwt_file[PATH_CAP];
    char trainer[PATH_CAP], corpus[PATH_CAP], dir[PATH_CAP];
    char path[PATH_CAP]; /* the jobs' PATH */
    unsigned time_limit; /* minutes */
    const sl_profile *profiles;
    size_t nprofiles;
    char partition[64], account[64];
    pthread_mutex_t lock; /* report_url: set by the main thread, read by the runner */
    char report_url[PATH_CAP];
    CURL *curl; /* one runner thread calls us: one handle, reused */
    double lost_after;
    double unreachable_since; /* monotonic seconds; 0 while slurmrestd answers */
} slurm;

/* A JWT is base64url in three dot-separated parts: nothing that could add a
 * header line. */
static int valid_jwt(const char *t) {
    size_t n = strlen(t);
    return n > 0 && n < JWT_MAX &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=") == n;
}

/* The token for the next request: the file's current content when there is
 * a file (an operator renews expiring tokens there), else the fixed one. */
static int current_jwt(slurm *s, char *buf, size_t cap, char *problem, size_t pcap) {
    if (!s->jwt_file[0]) {
        snprintf(buf, cap, "%s", s->jwt);
        return 0;
    }
    if (sl_text_read_file(s->jwt_file, buf, cap) != 0) {
        snprintf(problem, pcap, "cannot read the Slurm token file %.200s: %s", s->jwt_file,
                 strerror(errno));
        return -1;
    }
    if (!strncmp(buf, "SLURM_JWT=", 10)) memmove(buf, buf + 10, strlen(buf + 10) + 1);
    if (!valid_jwt(buf)) {
        snprintf(problem, pcap, "the Slurm token file %.200s holds no JWT", s->jwt_file);
        return -1;
    }
    return 0;
}

/* One request to slurmrestd as the user, with the current token; answers
 * as sl_curl_request. */
static long request(slurm *s, const char *method, const char *path, const char *body, json_t **out,
                    char *problem, size_t cap) {
    char jwt[JWT_MAX], h_user[128], h_token[JWT_MAX + 32];
    *out = NULL;
    if (current_jwt(s, jwt, sizeof jwt, problem, cap) != 0) return -1;
    snprintf(h_user, sizeof h_user, "X-SLURM-USER-NAME: %s", s->user);
    snprintf(h_token, sizeof h_token, "X-SLURM-USER-TOKEN: %s", jwt);
    struct curl_slist *headers = curl_slist_append(NULL, h_user);
    struct curl_slist *h2 = headers ? curl_slist_append(headers, h_token) : NULL;
    /* libcurl's default form type gets 400 from slurmrestd. */
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Content-Type: application/json") : NULL;
    if (!h3) {
        curl_slist_free_all(headers);
        snprintf(problem, cap, "out of memory");
        return -1;
    }
    headers = h3;
    long status = sl_curl_request(s->curl, method, s->url, path, headers, body, RESPONSE_MAX, out,
                                  problem, cap);
    curl_slist_free_all(headers);
    return status;
}

/* Slurm's first error of an answer: its number (0 when none) and text. */
static int slurm_error(json_t *answer, char *buf, size_t cap) {
    json_t *e = json_array_get(json_object_get(answer, "errors"), 0);
    const char *d = json_string_value(json_object_get(e, "description"));
    const char *m = json_string_value(json_object_get(e, "error"));
    if (buf) snprintf(buf, cap, "%.150s%s%.150s", m ? m : "", d && m ? ": " : "", d ? d : "");
    return e ? (int)json_integer_value(json_object_get(e, "error_number")) : 0;
}

/* A job id: decimal digits, safe in a URL. */
static int valid_ref(const char *ref) {
    size_t n = ref ? strlen(ref) : 0;
    return n > 0 && n <= 12 && strspn(ref, "0123456789") == n && ref[0] != '0';
}

static void file_path(const slurm *s, long long id, long attempt, const char *ext, char *buf,
                      size_t cap) {
    snprintf(buf, cap, "%s/run-%lld-%ld.%s", s->dir, id, attempt, ext);
}

static void job_name(long long id, long attempt, char *buf, size_t cap) {
    snprintf(buf, cap, "sparselaw-run-%lld-%ld", id, attempt);
}

/* ---- the job script */

typedef struct script {
    char text[SCRIPT_MAX];
    size_t len;
    int overflow;
} script;

static void put(script *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(script *sc, const char *fmt, ...) {
    if (sc->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sc->text + sc->len, sizeof sc->text - sc->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof sc->text - sc->len)
        sc->overflow = 1;
    else
        sc->len += (size_t)n;
}

/* A configured path or URL as one shell word: single-quoted. Checked at
 * construction to hold no quote and no control character. */
static void put_word(script *sc, const char *word) {
    put(sc, "'%s'", word);
}

static int safe_word(const char *w) {
    for (const unsigned char *p = (const unsigned char *)w; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\'' || *p == '\\') return 0;
    return 1;
}

/* A profile's run: its environment, working directory and command line,
 * each word single-quoted (the profile's text has no quote: sl_profile.c;
 * the placeholders are numbers). 0, or -1 with the reason. */
static int put_profile(slurm *s, const sl_run_spec *spec, script *sc, char *reason, size_t cap) {
    const sl_profile *p = sl_profile_find(s->profiles, s->nprofiles, spec->profile);
    if (!p) {
        snprintf(reason, cap, "this server has no trainer profile '%s'", spec->profile);
        return -1;
    }
    sl_profile_value vals[SL_PROFILE_MAX_VALUES];
    size_t nv = sl_backend_profile_values(spec, 1, vals);
    char *argv[SL_PROFILE_MAX_ARGS + 1], words[SL_PROFILE_ARGV_MAX + 1024];
    if (sl_profile_argv(p, vals, nv, argv, words, sizeof words, reason, cap) < 0) return -1;
    for (size_t e = 0; e < p->nenv; e++) {
        size_t key = strcspn(p->env[e], "=");
        put(sc, "export %.*s=", (int)key, p->env[e]);
        put_word(sc, p->env[e] + key + 1);
        put(sc, "\n");
    }
    if (p->dir[0]) {
        put(sc, "cd ");
        put_word(sc, p->dir);
        put(sc, " || exit 1\n");
    }
    for (int i = 0; argv[i]; i++) {
        if (i) put(sc, " ");
        put_word(sc, argv[i]);
    }
    return 0;
}

static int build_script(slurm *s, long long id, long attempt, const sl_run_spec *spec,
                        const char *secret, const char *report_url, script *sc, char *reason,
                        size_t cap) {
    char out[PATH_CAP + 64], err[PATH_CAP + 64], res[PATH_CAP + 64];
    file_path(s, id, attempt, "jsonl", out, sizeof out);
    file_path(s, id, attempt, "stderr", err, sizeof err);
    file_path(s, id, attempt, "result", res, sizeof res);
    sl_proto_spec full;
    sl_run_spec_proto(spec, &full);
    sl_proto_command cmd; /* threads: the job's cpus_per_task, 1 unless the sweep says */
    sl_proto_command_build(&full, s->trainer, 1, s->corpus, &cmd);
    sc->len = 0;
    sc->overflow = 0;
    put(sc,
        "#!/bin/sh\n# sparselaw run %lld, attempt %ld: written by sparselawd from the run's "
        "numbers and its configured paths.\numask 077\n",
        id, attempt);
    if (spec->profile[0]) {
        if (put_profile(s, spec, sc, reason, cap) != 0) return -1;
    } else {
        for (int i = 0; i < cmd.argc; i++) { /* each word single-quoted: flags, numbers, paths */
            if (i) put(sc, " ");
            put_word(sc, cmd.argv[i]);
        }
    }
    put(sc, " </dev/null >");
    put_word(sc, out);
    put(sc, " 2>");
    put_word(sc, err);
    put(sc, "\nrc=$?\n");
    /* The last result line, posted with the secret on stdin (printf is a
     * shell builtin: the secret is on no command line). Retries cover a
     * server restart; past them the server reads the output file. */
    put(sc, "grep -F '\"event\":\"result\"' ");
    put_word(sc, out);
    put(sc, " | tail -n 1 >");
    put_word(sc, res);
    put(sc, "\nif [ -s ");
    put_word(sc, res);
    put(sc,
        " ]; then\n  printf 'Authorization: Bearer %%s\\n' '%s' | curl -sS --fail -o /dev/null "
        "--max-time 30 --retry 20 --retry-delay 3 --retry-connrefused -H @- "
        "-H 'Content-Type: application/json' --data-binary @",
        secret);
    put_word(sc, res);
    put(sc, " ");
    put(sc, "'%s/v1/runs/%lld/report'", report_url, id);
    put(sc, "\nfi\nexit $rc\n");
    return 0;
}

/* The job's time limit in minutes: the backend's, or the run's own
 * time_limit when it is shorter (the runner enforces that one too). */
static unsigned job_minutes(const slurm *s, const sl_run_spec *spec) {
    const sl_proto_spec *t = &spec->trainer;
    if (!t->given[SL_PROTO_TIME_LIMIT]) return s->time_limit;
    unsigned m = (unsigned)ceil(t->value[SL_PROTO_TIME_LIMIT] / 60.0);
    return m && m < s->time_limit ? m : s->time_limit;
}

static int slurm_submit(sl_backend *b, long long id, long attempt, const sl_run_spec *spec,
                        const char *secret, char *ref, size_t refcap, sl_proto_failure *failure,
                        char *reason, size_t reasoncap) {
    slurm *s = (slurm *)b;
    char report_url[PATH_CAP] = "";
    *failure = SL_PROTO_REFUSED;
    /* With --port 0 the URL comes once the server listens, just after the
     * runner starts: a run claimed in between waits for it. */
    for (int i = 0; i < 100 && !report_url[0]; i++) {
        pthread_mutex_lock(&s->lock);
        snprintf(report_url, sizeof report_url, "%s", s->report_url);
        pthread_mutex_unlock(&s->lock);
        if (!report_url[0]) nanosleep(&(struct timespec){0, 50000000L}, NULL);
    }
    if (!report_url[0]) {
        *failure = SL_PROTO_BACKEND_UNAVAILABLE;
        snprintf(reason, reasoncap, "internal: the Slurm backend has no report URL yet");
        return -1;
    }
    if (!secret || strspn(secret, "0123456789abcdef") != strlen(secret) || !secret[0]) {
        snprintf(reason, reasoncap, "internal: the run has no secret to report with");
        return -1;
    }
    script *sc = calloc(1, sizeof *sc);
    if (!sc) abort();
    if (build_script(s, id, attempt, spec, secret, report_url, sc, reason, reasoncap) != 0) {
        free(sc);
        return -1;
    }
    if (sc->overflow) {
        free(sc);
        snprintf(reason, reasoncap, "internal: the job script does not fit");
        return -1;
    }
    char name[64], slurm_out[PATH_CAP + 64];
    job_name(id, attempt, name, sizeof name);
    file_path(s, id, attempt, "slurm", slurm_out, sizeof slurm_out);
    json_t *job = json_pack(
        "{s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:i, s:i}", "name", name, "current_working_directory",
        s->dir, "environment", "PATH", s->path, "standard_output", slurm_out, "standard_error",
        slurm_out, "time_limit", (int)job_minutes(s, spec), "cpus_per_task",
        (int)(spec->trainer.value[SL_PROTO_THREADS] > 0 ? spec->trainer.value[SL_PROTO_THREADS]
                                                        : 1),
        "minimum_nodes", 1);
    /* What the run needs and where it is charged: only what the operator set. */
    if (job && spec->device.kind == SL_DEVICE_CUDA) {
        char gres[32];
        snprintf(gres, sizeof gres, "gpu:%u", spec->device.count);
        json_object_set_new(job, "gres", json_string(gres));
    }
    if (job && s->partition[0]) json_object_set_new(job, "partition", json_string(s->partition));
    if (job && s->account[0]) json_object_set_new(job, "account", json_string(s->account));
    json_t *body = json_pack("{s:s, s:o}", "script", sc->text, "job", job);
    free(sc);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        snprintf(reason, reasoncap, "internal: cannot encode the job");
        return -1;
    }
    json_t *answer;
    char problem[320] = "";
    long status = request(s, "POST", "/slurm/" SL_SLURM_API "/job/submit", text, &answer, problem,
                          sizeof problem);
    free(text);
    json_int_t job_id = json_integer_value(json_object_get(answer, "job_id"));
    int rc = -1;
    if (status < 0 || status >= 500) { /* down, or an expired token (500): not the run's fault */
        *failure = SL_PROTO_BACKEND_UNAVAILABLE;
        if (status < 0)
            snprintf(reason, reasoncap, "cannot reach slurmrestd at %.200s: %s", s->url, problem);
        else
            snprintf(reason, reasoncap, "slurmrestd at %.160s answered HTTP %ld: %.200s", s->url,
                     status, slurm_error(answer, problem, sizeof problem) ? problem : "no reason");
    } else if (status == 200 && job_id > 0 && !slurm_error(answer, NULL, 0)) {
        snprintf(ref, refcap, "%lld", (long long)job_id);
        rc = 0;
    } else {
        slurm_error(answer, problem, sizeof problem);
        snprintf(reason, reasoncap, "slurmrestd at %.160s refused the job (HTTP %ld): %.200s",
                 s->url, status, problem[0] ? problem : "no reason given");
    }
    json_decref(answer);
    return rc;
}

/* The job id of this attempt's job, found by its name: the server stopped
 * between submitting it and storing the id. 1 found, 0 not there, -1 no
 * answer. */
static int find_job(slurm *s, long long id, long attempt, char *ref, size_t cap) {
    char name[64], problem[256];
    job_name(id, attempt, name, sizeof name);
    json_t *answer;
    long status =
        request(s, "GET", "/slurm/" SL_SLURM_API "/jobs", NULL, &answer, problem, sizeof problem);
    json_t *jobs = json_object_get(answer, "jobs");
    if (status != 200 || !json_is_array(jobs)) {
        json_decref(answer);
        return -1;
    }
    size_t i;
    json_t *j;
    json_int_t found = 0;
    json_array_foreach(jobs, i, j) {
        const char *n = json_string_value(json_object_get(j, "name"));
        const char *u = json_string_value(json_object_get(j, "user_name"));
        /* Another server's run of the same id writes in another directory. */
        const char *cwd = json_string_value(json_object_get(j, "current_working_directory"));
        if (n && !strcmp(n, name) && (!u || !strcmp(u, s->user)) && (!cwd || !strcmp(cwd, s->dir)))
            found = json_integer_value(json_object_get(j, "job_id"));
    }
    json_decref(answer);
    if (found > 0) snprintf(ref, cap, "%lld", (long long)found);
    return found > 0;
}

/* The run's output file: progress, and the result or error when it ended. */
static void read_output(slurm *s, long long id, long attempt, sl_proto_log *log,
                        sl_backend_status *out) {
    char path[PATH_CAP + 64];
    file_path(s, id, attempt, "jsonl", path, sizeof path);
    sl_backend_read_log(path, log, out);
}

/* Judges an ended job from what the trainer left; without anything there,
 * from Slurm's word: its time limit, memory, preemption or node failure. */
static void ended(slurm *s, long long id, long attempt, const char *job_state, long exit_code,
                  sl_backend_status *out) {
    sl_proto_log log;
    sl_proto_log_init(&log);
    read_output(s, id, attempt, &log, out);
    char how[160];
    int code = exit_code >= 0 ? (int)((exit_code >> 8) & 0xff) : -1;
    if (job_state)
        snprintf(how, sizeof how, "Slurm job %s, exit status %d", job_state, code);
    else
        snprintf(how, sizeof how, "the Slurm job ended and is gone");
    if (log.result || log.error || !job_state) {
        sl_backend_outcome(&log, job_state ? code : -1, how, out);
    } else if (!strcmp(job_state, "TIMEOUT") || !strcmp(job_state, "DEADLINE")) {
        sl_backend_fail(out, SL_PROTO_TIMED_OUT, "the Slurm job hit its time limit (%s)",
                        job_state);
    } else if (!strcmp(job_state, "OUT_OF_MEMORY")) {
        sl_backend_fail(out, SL_PROTO_OUT_OF_MEMORY, "the Slurm job ran out of memory (%s)", how);
    } else {
        sl_backend_outcome(&log, code, how, out); /* lost, or refused by exit status 2 */
    }
    sl_proto_log_free(&log);
}

static int one_of(const char *s, const char *const *set) {
    for (; *set; set++)
        if (!strcmp(s, *set)) return 1;
    return 0;
}

/* Progress from the run's output file, when it can be read. */
static void read_progress(slurm *s, long long id, long attempt, sl_backend_status *out) {
    sl_proto_log log;
    sl_proto_log_init(&log);
    read_output(s, id, attempt, &log, out);
    sl_proto_log_free(&log);
}

/* Asks slurmrestd for this attempt's job: the stored one (ref), else the
 * one of its name, whose id then goes into out->ref as well. job gets the
 * id ("" when there is none) and *answer the answer. The HTTP status; 0
 * when the job list said there is no such job; -1 with why in problem. */
static long ask_for_job(slurm *s, long long id, long attempt, const char *ref, char *job,
                        size_t jobcap, json_t **answer, sl_backend_status *out, char *problem,
                        size_t cap) {
    long status = -1;
    job[0] = '\0';
    *answer = NULL;
    if (valid_ref(ref)) {
        snprintf(job, jobcap, "%s", ref);
    } else {
        int found = find_job(s, id, attempt, job, jobcap);
        if (found == 1) snprintf(out->ref, sizeof out->ref, "%s", job);
        if (found == 0) status = 0; /* answered: there is no such job */
        if (found < 0) snprintf(problem, cap, "cannot list the jobs");
    }
    if (job[0]) {
        char path[64];
        snprintf(path, sizeof path, "/slurm/" SL_SLURM_API "/job/%s", job);
        status = request(s, "GET", path, NULL, answer, problem, cap);
    }
    return status;
}

/* slurmrestd is down, or answering nonsense (an expired token answers
 * 500): count it against slurmrestd, not the run, until it lasts too long.
 * -1 ("cannot tell now") until lost_after has passed, then 0 with the run
 * lost. */
static int unanswered(slurm *s, long status, json_t *answer, char *problem, size_t cap,
                      sl_backend_status *out) {
    if (status >= 0) {
        char e[256];
        slurm_error(answer, e, sizeof e);
        snprintf(problem, cap, "HTTP %ld %.200s", status, e);
    }
    char who[200];
    snprintf(who, sizeof who, "slurmrestd at %.160s", s->url);
    return sl_backend_unanswered(&s->unreachable_since, s->lost_after, who, problem, out);
}

/* A job Slurm does not know (any more): job ("" when none was stored and
 * none of its name was found) ended, or was never submitted. */
static void job_gone(slurm *s, long long id, long attempt, const char *job,
                     sl_backend_status *out) {
    if (job[0]) {
        ended(s, id, attempt, NULL, -1, out);
        return;
    }
    /* No id stored and no job of this attempt's name: never submitted. */
    sl_proto_log log;
    sl_proto_log_init(&log);
    read_output(s, id, attempt, &log, out);
    if (log.result || log.error)
        sl_backend_outcome(&log, -1, "no Slurm job id was stored", out);
    else
        sl_backend_fail(out, SL_PROTO_LOST,
                        "no Slurm job of this attempt was found (the server stopped while "
                        "submitting it)");
    sl_proto_log_free(&log);
}

/* A job Slurm knows, in Slurm's job state: waiting, running, or ended. */
static void job_in_slurm(slurm *s, long long id, long attempt, const char *state, long exit_code,
                         sl_backend_status *out) {
    static const char *const waiting[] = {
        "PENDING",       "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
        "RESV_DEL_HOLD", "SUSPENDED",   "STOPPED",  "RESIZING",     NULL};
    static const char *const running[] = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", NULL};
    if (one_of(state, waiting) || one_of(state, running)) {
        read_progress(s, id, attempt, out);
        out->state = one_of(state, running) ? SL_BACKEND_RUNNING : SL_BACKEND_STARTING;
        return;
    }
    /* COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED,
     * BOOT_FAIL, DEADLINE, OUT_OF_MEMORY: it ended. */
    ended(s, id, attempt, state, exit_code, out);
}

static int slurm_poll(sl_backend *b, long long id, long attempt, const char *ref,
                      sl_backend_status *out) {
    slurm *s = (slurm *)b;
    memset(out, 0, sizeof *out);
    char job[32], problem[320] = "";
    json_t *answer;
    long status =
        ask_for_job(s, id, attempt, ref, job, sizeof job, &answer, out, problem, sizeof problem);
    json_t *j = json_array_get(json_object_get(answer, "jobs"), 0);
    const char *state = json_string_value(json_object_get(j, "job_state"));
    int gone =
        status == 0 || (status >= 400 && slurm_error(answer, NULL, 0) == ESLURM_INVALID_JOB_ID);
    if (!gone && (status != 200 || !state)) {
        int rc = unanswered(s, status, answer, problem, sizeof problem, out);
        json_decref(answer);
        return rc;
    }
    s->unreachable_since = 0;
    if (gone)
        job_gone(s, id, attempt, job, out);
    else
        job_in_slurm(s, id, attempt, state,
                     (long)json_integer_value(json_object_get(j, "exit_code")), out);
    json_decref(answer);
    return 0;
}

static int slurm_cancel(sl_backend *b, long long id, long attempt, const char *ref) {
    slurm *s = (slurm *)b;
    char job[32] = "";
    if (valid_ref(ref))
        snprintf(job, sizeof job, "%s", ref);
    else if (find_job(s, id, attempt, job, sizeof job) <= 0)
        return 0; /* nothing to stop, or we cannot tell: the job cannot be named */
    char path[64], problem[256];
    snprintf(path, sizeof path, "/slurm/" SL_SLURM_API "/job/%s", job);
    json_t *answer;
    long status = request(s, "DELETE", path, NULL, &answer, problem, sizeof problem);
    int err = slurm_error(answer, NULL, 0);
    json_decref(answer);
    if (status == 200 && !err) return 0;
    /* Gone or already ended: it is not running either. */
    return status > 0 && (err == ESLURM_INVALID_JOB_ID || err == ESLURM_ALREADY_DONE) ? 0 : -1;
}

static int slurm_can_run(sl_backend *b, const char *profile, sl_device *needs, char *why,
                         size_t cap) {
    slurm *s = (slurm *)b;
    return sl_backend_profiles_can_run(s->profiles, s->nprofiles, SL_PROFILE_SLURM, b->name,
                                       &b->device, profile, needs, why, cap);
}

static size_t slurm_offers(sl_backend *b, sl_device *has, sl_profile *out, size_t cap,
                           char *problem, size_t pcap) {
    slurm *s = (slurm *)b;
    *has = b->device;
    if (pcap) problem[0] = '\0';
    return sl_backend_profiles_offered(s->profiles, s->nprofiles, SL_PROFILE_SLURM, out, cap);
}

static void slurm_close(sl_backend *b) {
    slurm *s = (slurm *)b;
    sl_curl_free(s->curl);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* http(s)://HOST[:PORT][/PATH] of characters that are plain in a URL and
 * in a single-quoted shell word; the trailing '/' dropped. */
static int clean_url(const char *url, char *out, size_t cap) {
    size_t n = url ? strlen(url) : 0;
    while (n && url[n - 1] == '/')
        n--;
    size_t scheme = !strncmp(url ? url : "", "http://", 7)    ? 7
                    : !strncmp(url ? url : "", "https://", 8) ? 8
                                                              : 0;
    if (!scheme || n <= scheme || n >= cap) return -1;
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             ".-_~:/[]%";
    for (size_t i = scheme; i < n; i++)
        if (!strchr(ok, url[i])) return -1;
    if (url[scheme] == '/') return -1;
    snprintf(out, cap, "%.*s", (int)n, url);
    return 0;
}

int sl_backend_slurm_set_report_url(sl_backend *b, const char *url) {
    slurm *s = (slurm *)b;
    char clean[PATH_CAP];
    if (!s || clean_url(url, clean, sizeof clean) != 0) return -1;
    pthread_mutex_lock(&s->lock);
    snprintf(s->report_url, sizeof s->report_url, "%s", clean);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* An absolute path as the node will see it, safe to single-quote. */
static int config_path(const char *what, const char *path, int must_exist, char *out, size_t cap,
                       char *err, size_t errcap) {
    char *abs = path && path[0] ? realpath(path, NULL) : NULL;
    const char *p = abs ? abs : path;
    if (!p || p[0] != '/' || (must_exist && !abs)) {
        snprintf(err, errcap,
                 "the Slurm backend's %s must be an absolute path that exists (%.200s)", what,
                 path ? path : "");
        free(abs);
        return -1;
    }
    if (strlen(p) >= cap || !safe_word(p)) {
        snprintf(err, errcap,
                 "the Slurm backend's %s must be a path without quotes, backslashes or control "
                 "characters, under %zu bytes",
                 what, cap);
        free(abs);
        return -1;
    }
    snprintf(out, cap, "%s", p);
    free(abs);
    return 0;
}

sl_backend *sl_backend_slurm_new(const sl_slurm_options *o, char *err, size_t errcap) {
    slurm *s = calloc(1, sizeof *s);
    if (!s) abort();
    if (clean_url(o->url, s->url, sizeof s->url) != 0) {
        snprintf(err, errcap, "the Slurm URL must be http://HOST:PORT of slurmrestd");
        goto fail;
    }
    size_t ulen = o->user ? strlen(o->user) : 0;
    if (ulen == 0 || ulen >= 33 ||
        strspn(o->user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            ulen ||
        o->user[0] == '-') {
        snprintf(err, errcap, "the Slurm user must be a user name (1 to 32 of a-z, 0-9, '_.-')");
        goto fail;
    }
    snprintf(s->user, sizeof s->user, "%s", o->user);
    if (o->jwt_file && o->jwt_file[0]) {
        snprintf(s->jwt_file, sizeof s->jwt_file, "%s", o->jwt_file);
        char jwt[JWT_MAX];
        if (current_jwt(s, jwt, sizeof jwt, err, errcap) != 0) goto fail;
    } else {
        snprintf(s->jwt, sizeof s->jwt, "%s", o->jwt ? o->jwt : "");
        sl_text_trim_end(s->jwt);
        if (!valid_jwt(s->jwt)) {
            snprintf(err, errcap,
                     "the Slurm backend needs a JWT (scontrol token): --slurm-jwt-file F or "
                     "SPARSELAW_SLURM_JWT");
            goto fail;
        }
    }
    if (config_path("trainer", o->trainer, 1, s->trainer, sizeof s->trainer, err, errcap) != 0)
        goto fail;
    if (o->corpus && o->corpus[0] &&
        config_path("corpus", o->corpus, 0, s->corpus, sizeof s->corpus, err, errcap) != 0)
        goto fail;
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create the Slurm job directory %s: %s", o->dir,
                 strerror(errno));
        goto fail;
    }
    if (config_path("job directory", o->dir, 1, s->dir, sizeof s->dir, err, errcap) != 0) goto fail;
    /* A root server hands the directory to the user the jobs run as. */
    struct passwd *pw = geteuid() == 0 ? getpwnam(s->user) : NULL;
    if (pw && pw->pw_uid != 0 && chown(s->dir, pw->pw_uid, pw->pw_gid) != 0) {
        snprintf(err, errcap, "cannot give %s to the Slurm user %s: %s", s->dir, s->user,
                 strerror(errno));
        goto fail;
    }
    if (o->report_url && o->report_url[0] &&
        clean_url(o->report_url, s->report_url, sizeof s->report_url) != 0) {
        snprintf(err, errcap,
                 "the report URL must be http(s)://HOST:PORT of this server as the "
                 "Slurm node reaches it");
        goto fail;
    }
    size_t plen = o->path ? strlen(o->path) : 0;
    if (plen == 0 || plen >= sizeof s->path) {
        snprintf(err, errcap, "the Slurm jobs' PATH must be 1 to %zu characters",
                 sizeof s->path - 1);
        goto fail;
    }
    snprintf(s->path, sizeof s->path, "%s", o->path);
    const char *names[2] = {o->partition, o->account};
    char *fields[2] = {s->partition, s->account};
    for (int i = 0; i < 2; i++) {
        const char *v = names[i] ? names[i] : "";
        if (strlen(v) >= sizeof s->partition ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                strlen(v)) {
            snprintf(err, errcap, "the Slurm %s must be 0 to 63 of a-z, 0-9, '_.-'",
                     i ? "account" : "partition");
            goto fail;
        }
        snprintf(fields[i], sizeof s->partition, "%s", v);
    }
    if (o->time_limit == 0 || o->time_limit > INT_MAX || !(o->lost_after > 0)) {
        snprintf(err, errcap,
                 "the Slurm backend's time limit and lost-after time must be positive");
        goto fail;
    }
    s->time_limit = o->time_limit;
    if (!(s->curl = sl_curl_new())) {
        snprintf(err, errcap, "cannot initialise libcurl");
        goto fail;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->lost_after = o->lost_after;
    s->base.name = sl_backend_kind_name(SL_BACKEND_SLURM);
    s->base.max_active = o->max_active ? o->max_active : 1;
    s->base.reports = 1;
    s->base.submit = slurm_submit;
    s->base.poll = slurm_poll;
    s->base.cancel = slurm_cancel;
    s->base.close = slurm_close;
    s->base.can_run = slurm_can_run;
    s->base.offers = slurm_offers;
    s->profiles = o->profiles;
    s->nprofiles = o->nprofiles;
    s->base.device = o->gpus ? (sl_device){SL_DEVICE_CUDA, o->gpus} : (sl_device){SL_DEVICE_CPU, 0};
    s->base.gflops = o->gflops;
    return &s->base;
fail:
    free(s);
    return NULL;
}
