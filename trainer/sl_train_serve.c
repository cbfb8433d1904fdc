/*
 * sl_train_serve.c - `sparselaw-train serve`: training runs over HTTP.
 *
 * libmicrohttpd threads answer requests; the main thread waits for signals
 * (SIGCHLD to collect finished runs, SIGTERM/SIGINT to stop). A run is a
 * child of this same binary, started with fork + execv of /proc/self/exe and
 * an argv of flags the worker formatted itself from checked numbers: no
 * shell, no client text. The run's state is read back from its JSON lines.
 */
#include "sl_train_serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sl_buf.h"
#include "sl_log.h"
#include "sl_profile.h"
#include "sl_proto.h"
#include "sl_secret.h"
#include "sl_text.h"
#include "sl_train_cuda.h"
#include "sl_train_run.h"

extern char **environ;

#define PROG        "sparselaw-train serve"
#define BODY_MAX    16384
#define RUNS_MAX    1024 /* records kept; the oldest ended one makes room */
#define ID_LEN      32   /* hex digits of 16 random bytes */
#define LOG_MAX     (16u << 20)
#define STOP_GRACE  30 /* seconds a stopping run gets before SIGKILL */
#define RETRY_AFTER "10"

typedef struct run {
    char id[ID_LEN + 1];
    pid_t pid;
    int exited, status;
    int cancelled; /* DELETE sent SIGTERM: a second one would kill it at once */
    int device;    /* where it trains: the protocol's device choice */
} run;

typedef struct serve {
    char dir[1024], corpus[1024], token[SL_SECRET_TOKEN_MAX + 1];
    unsigned max_active, threads;
    sl_profile profiles[SL_PROFILE_MAX]; /* --profiles: the operator's own trainers */
    size_t nprofiles;
    sl_device device;       /* --device, or the CUDA devices this machine shows */
    int own_cuda;           /* sparselaw-train's own runs train on the GPU unless they say */
    sl_train_cuda_info gpu; /* with own_cuda, that GPU */
    int devnull;
    volatile int stopping;
    pthread_mutex_t lock;
    run runs[RUNS_MAX];
    size_t nruns;
} serve;

/* ------------------------------------------------------------- responses */

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, json_t *body,
                             const char *allow, int retry) {
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (allow) MHD_add_response_header(r, "Allow", allow);
    if (retry) MHD_add_response_header(r, "Retry-After", RETRY_AFTER);
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ok;
}

static json_t *error_json(const char *code, const char *message, const char *field) {
    char text[1024]; /* jansson's error texts quote a body's raw bytes */
    snprintf(text, sizeof text, "%s", message);
    sl_text_utf8_repair(text);
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", text);
    if (field) json_object_set_new(e, "field", json_string(field));
    return json_pack("{s:o}", "error", e);
}

static enum MHD_Result error(struct MHD_Connection *con, unsigned status, const char *code,
                             const char *message, const char *field) {
    return reply(con, status, error_json(code, message, field), NULL, status == 503);
}

static enum MHD_Result not_allowed(struct MHD_Connection *con, const char *allow) {
    char msg[64];
    snprintf(msg, sizeof msg, "the route takes %s", allow);
    return reply(con, 405, error_json("method_not_allowed", msg, NULL), allow, 0);
}

/* ------------------------------------------------------------------ runs */

/* Collects every run that has exited (caller holds the lock). */
static void reap(serve *s) {
    for (size_t i = 0; i < s->nruns; i++) {
        run *r = &s->runs[i];
        int st;
        if (!r->exited && waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->exited = 1;
            r->status = st;
        }
    }
}

static unsigned active(const serve *s) {
    unsigned n = 0;
    for (size_t i = 0; i < s->nruns; i++)
        n += !s->runs[i].exited;
    return n;
}

static run *find_run(serve *s, const char *id) {
    for (size_t i = 0; i < s->nruns; i++)
        if (strcmp(s->runs[i].id, id) == 0) return &s->runs[i];
    return NULL;
}

/* A slot for a new record: a free one, or the oldest ended run's. */
static run *new_slot(serve *s) {
    if (s->nruns < RUNS_MAX) return &s->runs[s->nruns++];
    for (size_t i = 0; i < s->nruns; i++)
        if (s->runs[i].exited) {
            memmove(&s->runs[i], &s->runs[i + 1], (s->nruns - i - 1) * sizeof s->runs[0]);
            return &s->runs[s->nruns - 1];
        }
    return NULL;
}

/* A run's command line: the worker's own trainer's (proto), or a profile's
 * words, environment and working directory (profile set). */
typedef struct cmdline {
    sl_proto_command proto;
    const sl_profile *profile;
    char *argv[SL_PROFILE_MAX_ARGS + 1];
    char words[SL_PROFILE_ARGV_MAX + 1024];
    char *envp[512 + SL_PROFILE_MAX_ENV + 1];
} cmdline;

/* A profile's command line from the body (the run protocol's grid options,
 * threads, and "devices", the CUDA devices it may use) and the worker's own
 * template, environment (the worker's, then the profile's lines) and
 * working directory. 0, or -1 with msg (and the field). */
static int build_profile_argv(serve *s, json_t *body, const char *name, cmdline *c, char *msg,
                              size_t cap, char *member, size_t membercap) {
    snprintf(member, membercap, "profile");
    c->profile = sl_profile_find(s->profiles, s->nprofiles, name);
    if (!c->profile) {
        snprintf(msg, cap, "this worker has no trainer profile '%.40s'", name);
        return -1;
    }
    json_t *opts = json_deep_copy(body), *dev = json_object_get(body, "devices");
    json_object_del(opts, "profile");
    json_object_del(opts, "devices");
    sl_proto_spec spec;
    sl_proto_spec_init(&spec);
    int rc = sl_proto_from_json(&spec, opts, SL_PROTO_GRID | SL_PROTO_SWEEP, "", member, membercap,
                                msg, cap);
    json_decref(opts);
    if (rc != 0) return -1;
    for (int id = 0; id < SL_PROTO_COUNT; id++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)id);
        if (spec.given[id] && !(o->who & SL_PROTO_GRID) && id != SL_PROTO_THREADS &&
            id != SL_PROTO_DEVICE) {
            snprintf(member, membercap, "%s", o->name);
            snprintf(msg, cap, "%s is the profile's own (its argv template sets it)", o->name);
            return -1;
        }
    }
    double devices = dev ? json_number_value(dev) : 0;
    snprintf(member, membercap, "devices");
    if (dev && (!json_is_integer(dev) || devices < 0 || devices > SL_PROFILE_MAX_DEVICES)) {
        snprintf(msg, cap, "devices must be an integer in [0, %d]", SL_PROFILE_MAX_DEVICES);
        return -1;
    }
    if (devices > 0 && (s->device.kind != SL_DEVICE_CUDA || devices > s->device.count)) {
        char has[24];
        snprintf(msg, cap, "this worker has %s; the run asks for %.0f CUDA devices",
                 sl_device_format(&s->device, has, sizeof has), devices);
        return -1;
    }
    /* Concurrent runs share the cores, as the worker's own trainer's do. */
    if (!spec.given[SL_PROTO_THREADS] || spec.value[SL_PROTO_THREADS] == 0)
        spec.value[SL_PROTO_THREADS] = s->threads;
    sl_profile_value vals[SL_PROFILE_MAX_VALUES];
    size_t nv = sl_profile_values(&spec, (unsigned)devices, vals);
    member[0] = '\0';
    if (sl_profile_argv(c->profile, vals, nv, c->argv, c->words, sizeof c->words, msg, cap) < 0)
        return -1;
    sl_profile_env(c->profile, environ, c->envp, sizeof c->envp / sizeof c->envp[0] - 1);
    return 0;
}

/* The trainer's argv from the body: the run protocol's options that a
 * trainer takes (grid, sweep and worker ones), checked against its table;
 * 0, or -1 with msg and the field in bad. */
static int build_argv(serve *s, json_t *body, cmdline *c, int *device, char *msg, size_t cap,
                      char *bad, size_t badcap) {
    sl_proto_spec spec;
    sl_proto_spec_init(&spec);
    c->profile = NULL;
    if (!json_is_object(body)) {
        bad[0] = '\0';
        snprintf(msg, cap, "the body must be a JSON object of training options");
        return -1;
    }
    json_t *profile = json_object_get(body, "profile");
    if (profile) {
        if (!json_is_string(profile)) {
            snprintf(bad, badcap, "profile");
            snprintf(msg, cap, "profile must be the name of one of this worker's profiles");
            return -1;
        }
        int rc = build_profile_argv(s, body, json_string_value(profile), c, msg, cap, bad, badcap);
        json_t *dev = json_object_get(body, "devices");
        *device = json_is_integer(dev) && json_integer_value(dev) > 0 ? SL_TRAIN_DEVICE_CUDA
                                                                      : SL_TRAIN_DEVICE_CPU;
        return rc;
    }
    if (sl_proto_from_json(&spec, body, SL_PROTO_RUN | SL_PROTO_WORKER | SL_PROTO_FLAGGED, "", bad,
                           badcap, msg, cap) != 0)
        return -1;
    /* A run trains where the body says, else where the worker does (serve
     * --device); a device the machine lacks is the trainer's to refuse. */
    if (!spec.given[SL_PROTO_DEVICE] && s->own_cuda &&
        sl_proto_set(&spec, SL_PROTO_DEVICE, SL_TRAIN_DEVICE_CUDA, NULL, msg, cap) != 0)
        return -1;
    *device = (int)spec.value[SL_PROTO_DEVICE];
    /* Concurrent runs share the cores instead of each taking them all; the
     * corpus is the worker's own path, never the client's. */
    sl_proto_command_build(&spec, "sparselaw-train", s->threads, s->corpus, &c->proto);
    sl_train_options o;
    sl_train_options_default(&o);
    char err[512];
    if (sl_train_options_parse(&o, c->proto.argc, c->proto.argv, err, sizeof err) != 0) {
        snprintf(msg, cap, "%s", err);
        return -1;
    }
    return 0;
}

static void new_id(char *id) {
    if (sl_secret_random_hex(id, ID_LEN / 2) == 0) return;
    /* Practically never; time and pid still keep ids apart. */
    unsigned long long t = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
    for (size_t i = 0; i < ID_LEN / 2; i++)
        snprintf(id + 2 * i, 3, "%02x", (unsigned)((t >> (8 * (i % 8)) ^ i) & 0xff));
}

static void log_path(const serve *s, const char *id, const char *ext, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s.%s", s->dir, id, ext);
}

/* Starts the run (caller holds the lock); 0, or -1 with msg. */
static int start_run(serve *s, run *r, cmdline *c, char *msg, size_t cap) {
    char out_path[1200], err_path[1200];
    log_path(s, r->id, "jsonl", out_path, sizeof out_path);
    log_path(s, r->id, "stderr", err_path, sizeof err_path);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = out >= 0 ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (out < 0 || err < 0) {
        snprintf(msg, cap, "cannot create the run's log: %s", strerror(errno));
        if (out >= 0) close(out);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. The worker
         * blocks its signals in every thread; the trainer needs them back
         * (SIGTERM is how a run is stopped). If the worker dies, so does
         * the run, cleanly: it gets SIGTERM and writes its result. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
        if (dup2(s->devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
        if (c->profile) {
            if (c->profile->dir[0] && chdir(c->profile->dir) != 0) _exit(127);
            execve(c->argv[0], c->argv, c->envp);
            _exit(127);
        }
        execv("/proc/self/exe", c->proto.argv);
        _exit(127);
    }
    int saved = errno;
    close(out);
    close(err);
    if (pid < 0) {
        snprintf(msg, cap, "cannot start the trainer: %s", strerror(saved));
        return -1;
    }
    r->pid = pid;
    r->exited = r->status = r->cancelled = 0;
    return 0;
}

static void describe_exit(int status, char *buf, size_t cap) {
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The process's exit code as a shell reports it: 128 + n for signal n. */
static int exit_code(int status) {
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* {id, state, progress, evaluations, result, reason, failure?, retryable?}
 * of a copy of the record, from its log (sl_proto_log). */
static json_t *run_json(const serve *s, const run *r) {
    char path[1200], reason[400] = "", how[64];
    log_path(s, r->id, "jsonl", path, sizeof path);
    sl_proto_log log;
    sl_proto_log_init(&log);
    sl_proto_log_read(path, &log);
    const char *state = "running";
    sl_proto_failure failure = SL_PROTO_SUCCEEDED;
    if (r->cancelled) {
        state = "cancelled";
    } else if (r->exited) {
        describe_exit(r->status, how, sizeof how);
        failure = sl_proto_outcome(&log, exit_code(r->status), how, reason, sizeof reason);
        state = failure == SL_PROTO_SUCCEEDED ? "succeeded" : "failed";
    }
    json_t *result = !strcmp(state, "succeeded") ? json_incref(log.result) : NULL;
    json_t *progress = sl_proto_log_progress(&log);
    if (progress) json_object_del(progress, "evaluations"); /* a member of its own here */
    json_t *evals = log.evals ? json_incref(log.evals) : json_array();
    json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", r->id, "state", state, "progress",
                          progress ? progress : json_null(), "evaluations", evals, "result",
                          result ? result : json_null());
    json_object_set_new(j, "reason", reason[0] ? json_string(reason) : json_null());
    json_object_set_new(j, "started", json_boolean(log.started)); /* the trainer began */
    char dev[16];
    sl_proto_choice_name(sl_proto_option_at(SL_PROTO_DEVICE), r->device, dev, sizeof dev);
    json_object_set_new(j, "device", json_string(dev));
    if (!strcmp(state, "failed")) {
        json_object_set_new(j, "failure", json_string(sl_proto_failure_name(failure)));
        /* Whether another try could pass: kept for workers' older clients. */
        json_object_set_new(
            j, "retryable",
            json_boolean(failure == SL_PROTO_LOST || failure == SL_PROTO_OUT_OF_MEMORY));
    }
    sl_proto_log_free(&log);
    return j;
}

/* ------------------------------------------------------------- handlers */

static enum MHD_Result handle_submit(serve *s, struct MHD_Connection *con, const char *data,
                                     size_t len) {
    json_error_t jerr;
    json_t *body = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!body) {
        char msg[256];
        snprintf(msg, sizeof msg, "the body is not valid JSON: %s", jerr.text);
        return error(con, 400, "invalid_json", msg, NULL);
    }
    cmdline *c = malloc(sizeof *c);
    if (!c) abort();
    char msg[600], which[96];
    int device = SL_TRAIN_DEVICE_CPU;
    if (build_argv(s, body, c, &device, msg, sizeof msg, which, sizeof which) != 0) {
        json_decref(body);
        free(c);
        return error(con, 400, "invalid_body", msg, which[0] ? which : NULL);
    }
    json_decref(body);
    pthread_mutex_lock(&s->lock);
    reap(s);
    run *r = NULL;
    int busy = s->stopping || active(s) >= s->max_active;
    if (!busy && (r = new_slot(s)) != NULL) {
        new_id(r->id);
        r->device = device;
        if (start_run(s, r, c, msg, sizeof msg) != 0) {
            s->nruns--; /* new_slot's slot is the last one */
            pthread_mutex_unlock(&s->lock);
            free(c);
            return error(con, 500, "internal", msg, NULL);
        }
    }
    run copy = r ? *r : (run){0};
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    free(c);
    if (!r) {
        return stopping ? error(con, 503, "shutting_down", "the worker is shutting down", NULL)
                        : error(con, 503, "busy",
                                "the worker runs as many trainings as it takes; "
                                "retry later",
                                NULL);
    }
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, "run_started");
    sl_log_str(&l, "id", copy.id);
    sl_log_int(&l, "pid", copy.pid);
    sl_log_end(&l);
    char dev[16];
    sl_proto_choice_name(sl_proto_option_at(SL_PROTO_DEVICE), copy.device, dev, sizeof dev);
    return reply(con, 201,
                 json_pack("{s:s, s:s, s:s}", "id", copy.id, "state", "running", "device", dev),
                 NULL, 0);
}

static enum MHD_Result handle_run(serve *s, struct MHD_Connection *con, const char *method,
                                  const char *id) {
    int del = !strcmp(method, "DELETE");
    if (!del && strcmp(method, "GET") != 0) return not_allowed(con, "GET, DELETE");
    pthread_mutex_lock(&s->lock);
    reap(s);
    run *r = strlen(id) == ID_LEN ? find_run(s, id) : NULL;
    if (r && del && !r->exited && !r->cancelled) {
        /* The trainer stops after the current step and writes its result. */
        kill(r->pid, SIGTERM);
        r->cancelled = 1;
    } /* asked before, or ended: DELETE changes nothing and answers like GET */
    run copy = r ? *r : (run){0};
    pthread_mutex_unlock(&s->lock);
    if (!r) return error(con, 404, "not_found", "no such run on this worker", NULL);
    return reply(con, 200, run_json(s, &copy), NULL, 0);
}

/* GET /v1/info: what this worker has and runs, for the server's routing. */
static enum MHD_Result handle_info(serve *s, struct MHD_Connection *con, const char *method) {
    if (strcmp(method, "GET") != 0) return not_allowed(con, "GET");
    pthread_mutex_lock(&s->lock);
    reap(s);
    unsigned n = active(s);
    pthread_mutex_unlock(&s->lock);
    char dev[24];
    json_t *devices = json_array(), *profiles = json_array();
    for (unsigned i = 0; s->device.kind == SL_DEVICE_CUDA && i < s->device.count; i++)
        json_array_append_new(devices, json_pack("{s:s, s:i}", "kind", "cuda", "index", (int)i));
    for (size_t i = 0; i < s->nprofiles; i++) {
        char need[24];
        json_array_append_new(
            profiles, json_pack("{s:s, s:s}", "name", s->profiles[i].name, "device",
                                sl_device_format(&s->profiles[i].device, need, sizeof need)));
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    json_t *info = json_pack(
        "{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:o, s:{s:s, s:s}}", "trainer",
        "sparselaw-train " SL_VERSION, "device", sl_device_format(&s->device, dev, sizeof dev),
        "devices", devices, "cores", (json_int_t)(cores > 0 ? cores : 1), "memory_bytes",
        (json_int_t)(pages > 0 && page > 0 ? (long long)pages * page : 0), "max_active",
        (json_int_t)s->max_active, "active", (json_int_t)n, "profiles", profiles, "units",
        "memory_bytes", "bytes of main memory on this machine", "device",
        "cpu, or cuda:N for N CUDA devices runs may use");
    /* Where sparselaw-train's own runs train when they name no device, and
     * its GPU as their start events name it (null: the CPU). */
    json_object_set_new(info, "default_device", json_string(s->own_cuda ? "cuda" : "cpu"));
    json_object_set_new(info, "gpu",
                        s->own_cuda ? json_pack("{s:s, s:f}", "name", s->gpu.name, "memory_bytes",
                                                s->gpu.memory_bytes)
                                    : json_null());
    json_object_set_new(json_object_get(info, "units"), "gpu.memory_bytes",
                        json_string("bytes of the GPU's memory"));
    return reply(con, 200, info, NULL, 0);
}

static unsigned auth(const serve *s, struct MHD_Connection *con) {
    return sl_secret_bearer_check(
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization"), s->token);
}

typedef struct upload {
    sl_buf body;
    int too_large;
} upload;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls) {
    serve *s = cls;
    (void)version;
    upload *u = *con_cls;
    if (!u) {
        if (!(u = calloc(1, sizeof *u))) return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) { /* gather the body; past the limit it is dropped and refused */
        if (u->body.len + *size > BODY_MAX) {
            u->too_large = 1;
        } else if (!u->too_large && sl_buf_add(&u->body, data, *size) != 0) {
            return MHD_NO;
        }
        *size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/healthz")) {
        if (strcmp(method, "GET") != 0) return not_allowed(con, "GET");
        pthread_mutex_lock(&s->lock);
        reap(s);
        unsigned n = active(s);
        pthread_mutex_unlock(&s->lock);
        return reply(con, 200,
                     json_pack("{s:s, s:I, s:I}", "status", s->stopping ? "stopping" : "ok",
                               "active", (json_int_t)n, "max_active", (json_int_t)s->max_active),
                     NULL, 0);
    }
    int is_train = !strcmp(url, "/v1/train");
    int is_run = !strncmp(url, "/v1/train/", 10) && url[10] && !strchr(url + 10, '/');
    int is_info = !strcmp(url, "/v1/info");
    if (!is_train && !is_run && !is_info)
        return error(con, 404, "not_found", "no such route", NULL);
    unsigned a = auth(s, con);
    if (a == 401) return error(con, 401, "unauthorized", "a bearer token is required", NULL);
    if (a == 403) return error(con, 403, "forbidden", "the bearer token is wrong", NULL);
    if (is_info) return handle_info(s, con, method);
    if (is_run) return handle_run(s, con, method, url + 10);
    if (strcmp(method, "POST") != 0) return not_allowed(con, "POST");
    if (u->too_large) return error(con, 413, "payload_too_large", "the body exceeds 16 KiB", NULL);
    return handle_submit(s, con, u->body.data ? u->body.data : "", u->body.len);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)con;
    (void)toe;
    upload *u = *con_cls;
    if (u) {
        sl_buf_free(&u->body);
        free(u);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------------ the worker */

static void usage(FILE *f) {
    fprintf(f, "usage: sparselaw-train serve --port P [--bind ADDR] [--token-file F]\n"
               "                             [--max-active N] [--corpus PATH] [--dir DIR]\n"
               "                             [--profiles FILE] [--device cpu|cuda:N]\n"
               "Takes training runs over HTTP (POST /v1/train, GET and DELETE /v1/train/ID,\n"
               "GET /v1/info).\n"
               "  --port P          TCP port; 0 picks a free one (8090)\n"
               "  --bind ADDR       IPv4 or IPv6 address to listen on (127.0.0.1)\n"
               "  --token-file F    bearer token file (else SPARSELAW_WORKER_TOKEN; required)\n"
               "  --max-active N    runs at once; more are refused with 503 (1)\n"
               "  --corpus PATH     the corpus every run trains on (the trainer's default)\n"
               "  --dir DIR         where each run's JSON lines go (sparselaw-train-runs)\n"
               "  --profiles FILE   [profile NAME] sections: trainers runs may name (none)\n"
               "  --device D        what runs may use: cpu or cuda:N (the CUDA devices found);\n"
               "                    sparselaw-train's own runs train on the GPU when it can\n"
               "                    use one, and without --profiles serve refuses to start\n"
               "                    on a cuda it cannot use\n");
}

static int load_token(serve *s, const char *file, char *err, size_t cap) {
    if (file) return sl_secret_token_read(file, s->token, sizeof s->token, err, cap);
    const char *env = getenv("SPARSELAW_WORKER_TOKEN");
    if (!env) {
        snprintf(err, cap, "a token is required: --token-file F or SPARSELAW_WORKER_TOKEN");
        return -1;
    }
    int rc =
        sl_secret_token_set(s->token, sizeof s->token, env, "SPARSELAW_WORKER_TOKEN", err, cap);
    unsetenv("SPARSELAW_WORKER_TOKEN"); /* the runs need not see it */
    return rc;
}

static int parse_uint(const char *v, unsigned long lo, unsigned long hi, unsigned *out) {
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-' || x < lo || x > hi) return -1;
    *out = (unsigned)x;
    return 0;
}

/* The CUDA devices the NVIDIA driver shows (one directory each under
 * /proc/driver/nvidia/gpus); cpu when there is none. */
static sl_device detect_cuda(void) {
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    if (n > SL_PROFILE_MAX_DEVICES) n = SL_PROFILE_MAX_DEVICES;
    return n ? (sl_device){SL_DEVICE_CUDA, n} : (sl_device){SL_DEVICE_CPU, 0};
}

static int parse_flags(serve *s, int argc, char **argv, unsigned *port, const char **bind,
                       const char **token_file, char *err, size_t cap) {
    const char *dir = "sparselaw-train-runs", *corpus = "", *profiles = NULL, *device = NULL;
    *port = 8090;
    *bind = "127.0.0.1";
    *token_file = NULL;
    s->max_active = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        if (!v || !v[0]) {
            snprintf(err, cap, "%s needs a value", a);
            return -1;
        }
#define IS(name) (len == strlen(name) && !strncmp(a, name, len))
        if (IS("--port")) {
            if (parse_uint(v, 0, 65535, port) != 0) {
                snprintf(err, cap, "--port: '%s' is not a port in [0, 65535]", v);
                return -1;
            }
        } else if (IS("--bind")) {
            *bind = v;
        } else if (IS("--token-file")) {
            *token_file = v;
        } else if (IS("--max-active")) {
            if (parse_uint(v, 1, 1024, &s->max_active) != 0) {
                snprintf(err, cap, "--max-active: '%s' is not an integer in [1, 1024]", v);
                return -1;
            }
        } else if (IS("--corpus")) {
            corpus = v;
        } else if (IS("--dir")) {
            dir = v;
        } else if (IS("--profiles")) {
            profiles = v;
        } else if (IS("--device")) {
            device = v;
        } else {
            snprintf(err, cap, "unknown option '%s' (see serve --help)", a);
            return -1;
        }
#undef IS
    }
    if (strlen(dir) >= sizeof s->dir - 64 || strlen(corpus) >= sizeof s->corpus) {
        snprintf(err, cap, "--dir or --corpus is too long");
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->corpus, sizeof s->corpus, "%s", corpus);
    struct stat st;
    if (corpus[0] && stat(corpus, &st) != 0) { /* better now than in every run */
        snprintf(err, cap, "--corpus %s: %s", corpus, strerror(errno));
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, cap, "cannot create --dir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (profiles &&
        sl_profile_load_file(profiles, s->profiles, SL_PROFILE_MAX, &s->nprofiles, err, cap) != 0)
        return -1;
    s->device = (sl_device){SL_DEVICE_CPU, 0};
    if (device && sl_device_parse(device, &s->device) != 0) {
        snprintf(err, cap, "--device must be cpu, cuda or cuda:N (got '%s')", device);
        return -1;
    }
    if (!device) s->device = detect_cuda();
    /* The worker's own trainer uses a GPU it can open; one declared (or
     * found) that it cannot is an error without profiles, whose trainers
     * bring their own CUDA, and a warning with them. */
    char why[256];
    if (s->device.kind == SL_DEVICE_CUDA) {
        s->own_cuda = sl_train_cuda_probe(&s->gpu, why, sizeof why) == 0;
        if (!s->own_cuda && device && s->nprofiles == 0) {
            snprintf(err, cap, "--device cuda: %s", why);
            return -1;
        }
        if (!s->own_cuda) {
            sl_log_line l;
            sl_log_begin(&l, SL_LOG_WARNING, "own_runs_on_cpu");
            sl_log_str(&l, "reason", why);
            sl_log_end(&l);
        }
    }
    return 0;
}

static struct MHD_Daemon *listen_on(serve *s, const char *bind, unsigned *port) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *addr;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, bind, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)*port);
        addr = (struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, bind, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)*port);
        addr = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "%s: --bind %s is not an IPv4 or IPv6 address\n", PROG, bind);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)*port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "%s: cannot listen on %s port %u\n", PROG, bind, *port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info) *port = info->port;
    return d;
}

/* Waits up to ms milliseconds for a signal in set, then collects finished runs;
 * returns the signal or 0. */
static int wait_signal(serve *s, const sigset_t *set, long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    pthread_mutex_lock(&s->lock);
    reap(s);
    pthread_mutex_unlock(&s->lock);
    return sig > 0 ? sig : 0;
}

/* Asks every run to stop, waits for them, kills what is left. */
static void stop_runs(serve *s, const sigset_t *set) {
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nruns; i++)
        if (!s->runs[i].exited && !s->runs[i].cancelled) kill(s->runs[i].pid, SIGTERM);
    pthread_mutex_unlock(&s->lock);
    time_t until = time(NULL) + STOP_GRACE;
    int left = 1;
    while (time(NULL) < until) {
        int sig = wait_signal(s, set, 200);
        pthread_mutex_lock(&s->lock);
        left = (int)active(s);
        pthread_mutex_unlock(&s->lock);
        if (!left || sig == SIGTERM || sig == SIGINT) break; /* a second signal: at once */
    }
    if (!left) return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nruns; i++) {
        run *r = &s->runs[i];
        if (r->exited) continue;
        kill(r->pid, SIGKILL);
        waitpid(r->pid, &r->status, 0);
        r->exited = 1;
    }
    pthread_mutex_unlock(&s->lock);
}

int sl_train_serve_main(int argc, char **argv) {
    serve *s = calloc(1, sizeof *s);
    if (!s) return 1;
    unsigned port;
    const char *bind, *token_file;
    char err[1200];
    if (parse_flags(s, argc, argv, &port, &bind, &token_file, err, sizeof err) != 0 ||
        load_token(s, token_file, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        free(s);
        return 2;
    }
    s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads =
        cores > 0 && (unsigned)cores >= s->max_active ? (unsigned)cores / s->max_active : 1;
    pthread_mutex_init(&s->lock, NULL);

    /* Blocked before any thread starts, so only the main thread's
     * sigtimedwait sees them; SIGCHLD wakes it when a run ends. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = listen_on(s, bind, &port);
    if (!d) {
        free(s);
        return 1;
    }
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, "listening");
    sl_log_int(&l, "port", port);
    sl_log_int(&l, "max_active", s->max_active);
    sl_log_end(&l);
    int sig;
    while ((sig = wait_signal(s, &set, 1000)) != SIGTERM && sig != SIGINT)
        continue;

    sl_log_begin(&l, SL_LOG_INFO, "stopping");
    sl_log_int(&l, "signal", sig);
    sl_log_end(&l);
    s->stopping = 1;
    MHD_socket listener = MHD_quiesce_daemon(d);
    if (listener != MHD_INVALID_SOCKET) close(listener);
    stop_runs(s, &set);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&s->lock);
    if (s->devnull >= 0) close(s->devnull);
    free(s);
    sl_log(SL_LOG_INFO, "stopped", NULL);
    return 0;
}
