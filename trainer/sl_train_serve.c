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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sl_buf.h"
#include "sl_log.h"
#include "sl_secret.h"
#include "sl_train_cuda.h"
#include "sl_train_run.h"

#define PROG        "sparselaw-train serve"
#define BODY_MAX    16384
#define RUNS_MAX    1024 /* records kept; the oldest ended one makes room */
#define ID_LEN      32   /* hex digits of 16 random bytes */
#define LOG_MAX     (16u << 20)
#define MAX_ARGS    48
#define ARG_LEN     64
#define STOP_GRACE  30 /* seconds a stopping run gets before SIGKILL */
#define RETRY_AFTER "10"

typedef struct run {
    char id[ID_LEN + 1];
    pid_t pid;
    int exited, status;
    int cancelled; /* DELETE sent SIGTERM: a second one would kill it at once */
} run;

typedef struct serve {
    char dir[1024], corpus[1024], token[SL_SECRET_TOKEN_MAX + 1];
    unsigned max_active, threads;
    int cuda; /* --device cuda: every run trains on the GPU */
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
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
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

/* The options a client may set: numbers (integers where the trainer wants
 * them) within the trainer's bounds, and the pattern. The trainer's own
 * parser then checks them together, so a run that starts has valid options. */
typedef enum field_kind { F_INT, F_NUM, F_PATTERN } field_kind;
typedef struct field {
    const char *name, *flag;
    field_kind kind;
    double lo, hi;
} field;

static const field fields[] = {
    {"layers", "layers", F_INT, 1, 256},
    {"width", "width", F_INT, 1, 16384},
    {"heads", "heads", F_INT, 1, 16384},
    {"context", "context", F_INT, 1, 16384},
    {"batch", "batch", F_INT, 1, 16384},
    {"tokens", "tokens", F_INT, 1, 1e15},
    {"steps", "steps", F_INT, 0, 1e12},
    {"sparsity", "sparsity", F_NUM, 0, 1},
    {"pattern", "pattern", F_PATTERN, 0, 0},
    {"seed", "seed", F_INT, 0, 9007199254740992.0}, /* 2^53: exact in JSON */
    {"lr", "lr", F_NUM, 1e-9, 10},
    {"warmup", "warmup", F_NUM, 0, 1},
    {"min_lr", "min-lr", F_NUM, 0, 1},
    {"weight_decay", "weight-decay", F_NUM, 0, 10},
    {"prune_start", "prune-start", F_NUM, 0, 1},
    {"prune_end", "prune-end", F_NUM, 0, 1},
    {"prune_every", "prune-every", F_INT, 1, 1e12},
    {"val_tokens", "val-tokens", F_INT, 1, 1e12},
    {"eval_every", "eval-every", F_INT, 0, 1e12},
    {"log_every", "log-every", F_INT, 0, 1e12},
    {"threads", "threads", F_INT, 0, 1024},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* "unstructured", "dense" or digits:digits; the trainer checks n < m. */
static int pattern_ok(const char *p) {
    if (!strcmp(p, "unstructured") || !strcmp(p, "dense")) return 1;
    size_t n = strspn(p, "0123456789");
    if (n < 1 || n > 4 || p[n] != ':') return 0;
    size_t m = strspn(p + n + 1, "0123456789");
    return m >= 1 && m <= 4 && p[n + 1 + m] == '\0';
}

typedef struct cmdline {
    char *argv[MAX_ARGS + 4];
    char bufs[MAX_ARGS][ARG_LEN];
    int argc;
} cmdline;

static void add_arg(cmdline *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_arg(cmdline *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->bufs[c->argc], ARG_LEN, fmt, ap); /* numbers and flag names: always fit */
    va_end(ap);
    c->argv[c->argc] = c->bufs[c->argc];
    c->argc++;
}

/* The trainer's argv from the body; 0, or -1 with msg (and field). */
static int build_argv(serve *s, json_t *body, cmdline *c, char *msg, size_t cap, const char **bad) {
    *bad = NULL;
    c->argc = 0;
    if (!json_is_object(body)) {
        snprintf(msg, cap, "the body must be a JSON object of training options");
        return -1;
    }
    add_arg(c, "sparselaw-train");
    const char *key;
    json_t *v;
    int threads_given = 0;
    json_object_foreach(body, key, v) {
        const field *f = NULL;
        for (size_t i = 0; i < NFIELDS && !f; i++)
            if (!strcmp(fields[i].name, key)) f = &fields[i];
        if (!f) {
            *bad = key;
            snprintf(msg, cap, "unknown member '%.64s'", key);
            return -1;
        }
        *bad = f->name; /* static: outlives the body */
        if (f->kind == F_PATTERN) {
            if (!json_is_string(v) || !pattern_ok(json_string_value(v))) {
                snprintf(msg, cap, "pattern must be \"unstructured\" or \"n:m\" such as \"2:4\"");
                return -1;
            }
            add_arg(c, "--pattern=%s", json_string_value(v));
            continue;
        }
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || x < f->lo || x > f->hi ||
            (f->kind == F_INT && x != floor(x))) {
            snprintf(msg, cap, "%s must be %s in [%.15g, %.15g]", f->name,
                     f->kind == F_INT ? "an integer" : "a number", f->lo, f->hi);
            return -1;
        }
        if (f->kind == F_INT)
            add_arg(c, "--%s=%.0f", f->flag, x);
        else
            add_arg(c, "--%s=%.17g", f->flag, x);
        threads_given |= !strcmp(f->name, "threads") && x > 0;
    }
    *bad = NULL;
    /* Concurrent runs share the cores instead of each taking them all. */
    if (!threads_given) add_arg(c, "--threads=%u", s->threads);
    add_arg(c, "--progress=off");
    if (s->cuda) add_arg(c, "--device=cuda");
    static char corpus_flag[] = "--corpus";
    if (s->corpus[0]) { /* the worker's own path, never the client's */
        c->argv[c->argc++] = corpus_flag;
        c->argv[c->argc++] = s->corpus;
    }
    c->argv[c->argc] = NULL;
    sl_train_options o;
    sl_train_options_default(&o);
    char err[512];
    if (sl_train_options_parse(&o, c->argc, c->argv, err, sizeof err) != 0) {
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
        execv("/proc/self/exe", c->argv);
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

/* Reads the complete lines of a run's log: the last progress (with the
 * latest validation loss), every evaluation, the result or an error event. */
static void read_log(const char *path, int *started, json_t **progress, json_t *evals,
                     json_t **result, json_t **err) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    double val = -1;
    while ((n = getline(&line, &cap, f)) > 0 && total < LOG_MAX) {
        total += (size_t)n;
        if (line[n - 1] != '\n') break; /* still being written */
        json_t *ev = json_loads(line, 0, NULL);
        const char *kind = json_string_value(json_object_get(ev, "event"));
        json_t **slot = NULL;
        if (kind && !strcmp(kind, "start")) {
            *started = 1;
        } else if (kind && !strcmp(kind, "progress")) {
            json_t *v = json_object_get(ev, "val_loss");
            if (json_is_number(v)) {
                val = json_number_value(v);
                json_array_append_new(
                    evals, json_pack("{s:O, s:O, s:O}", "step", json_object_get(ev, "step"),
                                     "tokens", json_object_get(ev, "tokens"), "val_loss", v));
            } else if (val >= 0) { /* the latest validation loss, even when this step had none */
                json_object_set_new(ev, "val_loss", json_real(val));
            }
            slot = progress;
        } else if (kind && !strcmp(kind, "result")) {
            slot = result;
        } else if (kind && !strcmp(kind, "error")) {
            slot = err;
        }
        if (slot) {
            json_object_del(ev, "event");
            json_decref(*slot);
            *slot = json_incref(ev);
        }
        json_decref(ev);
    }
    free(line);
    fclose(f);
}

static void describe_exit(int status, char *buf, size_t cap) {
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* {id, state, progress, evaluations, result, reason, retryable} of a copy of
 * the record, from its log. */
static json_t *run_json(const serve *s, const run *r) {
    char path[1200], reason[400] = "", how[64];
    log_path(s, r->id, "jsonl", path, sizeof path);
    json_t *progress = NULL, *result = NULL, *err = NULL, *evals = json_array();
    int started = 0;
    read_log(path, &started, &progress, evals, &result, &err);
    const char *state = "running";
    int retryable = 0;
    const char *status = json_string_value(json_object_get(result, "status"));
    long long step = json_integer_value(json_object_get(result, "step"));
    if (r->cancelled) {
        state = "cancelled";
    } else if (!r->exited) {
        state = "running";
    } else if (status && !strcmp(status, "completed")) {
        state = "succeeded";
    } else {
        state = "failed";
        describe_exit(r->status, how, sizeof how);
        if (status && !strcmp(status, "diverged")) {
            snprintf(reason, sizeof reason, "training diverged (non-finite loss) after step %lld",
                     step);
        } else if (status) { /* interrupted: stopped by someone other than DELETE */
            const char *sig = json_string_value(json_object_get(result, "signal"));
            snprintf(reason, sizeof reason, "the trainer was stopped (%s) after step %lld",
                     sig ? sig : how, step);
            retryable = 1;
        } else if (err) {
            const char *code = json_string_value(json_object_get(err, "code"));
            const char *msg = json_string_value(json_object_get(err, "message"));
            snprintf(reason, sizeof reason, "the trainer refused the run (%s): %.240s",
                     code ? code : "error", msg ? msg : "");
            retryable = code && !strcmp(code, "memory"); /* memory may pass; options will not */
        } else {
            snprintf(reason, sizeof reason, "the trainer process ended without a result (%s)", how);
            retryable = 1;
        }
    }
    if (strcmp(state, "succeeded") != 0) {
        json_decref(result); /* an interrupted run's result is not one to use */
        result = NULL;
    }
    json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", r->id, "state", state, "progress",
                          progress ? progress : json_null(), "evaluations", evals, "result",
                          result ? result : json_null());
    json_object_set_new(j, "reason", reason[0] ? json_string(reason) : json_null());
    json_object_set_new(j, "started", json_boolean(started)); /* the trainer began */
    if (!strcmp(state, "failed")) json_object_set_new(j, "retryable", json_boolean(retryable));
    json_decref(err);
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
    char msg[600];
    const char *bad;
    if (build_argv(s, body, c, msg, sizeof msg, &bad) != 0) {
        char which[80];
        snprintf(which, sizeof which, "%s", bad ? bad : "");
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
    return reply(con, 201, json_pack("{s:s, s:s}", "id", copy.id, "state", "running"), NULL, 0);
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
    if (!is_train && !is_run) return error(con, 404, "not_found", "no such route", NULL);
    unsigned a = auth(s, con);
    if (a == 401) return error(con, 401, "unauthorized", "a bearer token is required", NULL);
    if (a == 403) return error(con, 403, "forbidden", "the bearer token is wrong", NULL);
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
               "                             [--device cpu|cuda]\n"
               "Takes training runs over HTTP (POST /v1/train, GET and DELETE /v1/train/ID).\n"
               "  --port P          TCP port; 0 picks a free one (8090)\n"
               "  --bind ADDR       IPv4 or IPv6 address to listen on (127.0.0.1)\n"
               "  --token-file F    bearer token file (else SPARSELAW_WORKER_TOKEN; required)\n"
               "  --max-active N    runs at once; more are refused with 503 (1)\n"
               "  --corpus PATH     the corpus every run trains on (the trainer's default)\n"
               "  --dir DIR         where each run's JSON lines go (sparselaw-train-runs)\n"
               "  --device D        where every run trains: cpu, or cuda (one GPU) (cpu)\n");
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

static int parse_flags(serve *s, int argc, char **argv, unsigned *port, const char **bind,
                       const char **token_file, char *err, size_t cap) {
    const char *dir = "sparselaw-train-runs", *corpus = "";
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
        } else if (IS("--device")) {
            if (strcmp(v, "cpu") != 0 && strcmp(v, "cuda") != 0) {
                snprintf(err, cap, "--device: '%s' is not cpu or cuda", v);
                return -1;
            }
            s->cuda = strcmp(v, "cuda") == 0;
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
    sl_train_cuda_info gpu;
    char why[256];
    if (s->cuda && sl_train_cuda_probe(&gpu, why, sizeof why) != 0) {
        snprintf(err, cap, "--device cuda: %s", why);
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, cap, "cannot create --dir %s: %s", dir, strerror(errno));
        return -1;
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
