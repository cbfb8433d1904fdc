/*
 * sl_config.c - sparselawd's options: one table row per option (flag,
 * environment variable, bounds, default, help), read as defaults, then the
 * environment, then the command line.
 */
#include "sl_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_jobs.h"

/* The trainer the build made (SL_DEFAULT_TRAINER); without one, the
 * sparselaw-train beside this executable. */
#ifndef SL_DEFAULT_TRAINER
#define SL_DEFAULT_TRAINER ""
#endif
#ifndef SL_DEFAULT_CORPUS
#define SL_DEFAULT_CORPUS ""
#endif

/* Computed defaults: the ones that depend on the machine or the build. */
static void default_trainer(void *field, size_t cap) {
    char *buf = field, self[1024];
    ssize_t n = SL_DEFAULT_TRAINER[0] ? -1 : readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = n > 0 ? (self[n] = '\0', strrchr(self, '/')) : NULL;
    if (slash)
        snprintf(buf, cap, "%.*s/sparselaw-train", (int)(slash - self), self);
    else
        snprintf(buf, cap, "%s", SL_DEFAULT_TRAINER[0] ? SL_DEFAULT_TRAINER : "sparselaw-train");
}

static void default_threads(void *field, size_t size) {
    (void)size;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *(unsigned *)field = cores > 0 ? (unsigned)cores : 2;
}

typedef enum { OPT_UINT, OPT_STRING, OPT_SIZE, OPT_FLAG } opt_kind;

/* An option's default: a number, a text, or computed (--help shows the
 * computed value, or `shown` where that value is only this machine's). */
typedef struct option_default {
    unsigned long number;
    const char *text; /* OPT_STRING; NULL: "" */
    void (*compute)(void *field, size_t size);
    const char *shown;
} option_default;

/* clang-format off */
#define NUMBER(n)              {.number = (n)}
#define TEXT(t)                {.text = (t)}
#define COMPUTED(fn, shown_as) {.compute = (fn), .shown = (shown_as)}
#define NONE                   {0}
/* clang-format on */

typedef struct option_def {
    const char *flag, *env;
    opt_kind kind;
    size_t offset, size; /* of the field in sl_config */
    unsigned long lo, hi;
    option_default dflt;
    const char *help;
} option_def;

#define FIELD(f) offsetof(sl_config, f), sizeof(((sl_config *)0)->f)

/* One row per option: flag, environment variable, kind, field, bounds,
 * default, help. --help is printed from here. */
static const option_def options[] = {
    {"--port", "SPARSELAW_PORT", OPT_UINT, FIELD(port), 0, 65535, NUMBER(8080),
     "TCP port (0: any free port)"},
    {"--bind", "SPARSELAW_BIND", OPT_STRING, FIELD(bind), 0, 0, TEXT("127.0.0.1"),
     "address to listen on (IPv4 or IPv6)"},
    {"--data-dir", "SPARSELAW_DATA_DIR", OPT_STRING, FIELD(data_dir), 0, 0, TEXT("sparselaw-data"),
     "directory of the SQLite store and the generated token"},
    {"--threads", "SPARSELAW_THREADS", OPT_UINT, FIELD(threads), 1, 256,
     COMPUTED(default_threads, "<cores>"), "HTTP worker threads"},
    {"--http-timeout", "SPARSELAW_HTTP_TIMEOUT", OPT_UINT, FIELD(http_timeout), 1, 86400,
     NUMBER(30), "seconds an idle HTTP connection stays open"},
    {"--max-connections", "SPARSELAW_MAX_CONNECTIONS", OPT_UINT, FIELD(max_connections), 1, 65536,
     NUMBER(1000), "HTTP connections open at once"},
    {"--max-connections-per-ip", "SPARSELAW_MAX_CONNECTIONS_PER_IP", OPT_UINT,
     FIELD(max_connections_per_ip), 0, 65536, NUMBER(64),
     "HTTP connections open at once from one client address (0: no limit)"},
    {"--header-timeout", "SPARSELAW_HEADER_TIMEOUT", OPT_UINT, FIELD(header_timeout), 1, 3600,
     NUMBER(10), "seconds from a request's first byte to the end of its headers"},
    {"--body-timeout", "SPARSELAW_BODY_TIMEOUT", OPT_UINT, FIELD(body_timeout), 1, 86400,
     NUMBER(60), "seconds a client has to send a request's body once its headers are in"},
    {"--token-file", "SPARSELAW_TOKEN_FILE", OPT_STRING, FIELD(token_file), 0, 0, NONE,
     "file holding the bearer token for writes (or set SPARSELAW_TOKEN)"},
    {"--static-dir", "SPARSELAW_STATIC_DIR", OPT_STRING, FIELD(static_dir), 0, 0,
     TEXT(SL_DEFAULT_STATIC_DIR), "dashboard files served at /"},
    {"--max-body", "SPARSELAW_MAX_BODY", OPT_SIZE, FIELD(max_body), 1024, 1UL << 30,
     NUMBER(8u << 20), "largest request body in bytes"},
    {"--fit-workers", "SPARSELAW_FIT_WORKERS", OPT_UINT, FIELD(fit_workers), 1, SL_JOBS_MAX_WORKERS,
     NUMBER(1), "fits run at once (each uses every core)"},
    {"--fit-attempts", "SPARSELAW_FIT_ATTEMPTS", OPT_UINT, FIELD(fit_attempts), 1, 100, NUMBER(3),
     "a fit the server stopped this often while it ran (a crash it causes, say) fails"},
    {"--fit-wait-ms", "SPARSELAW_FIT_WAIT_MS", OPT_UINT, FIELD(fit_wait_ms), 0, 3600000,
     NUMBER(120000), "milliseconds POST /v1/fits?wait=true may wait for the fit"},
    {"--trainer", "SPARSELAW_TRAINER", OPT_STRING, FIELD(trainer), 0, 0,
     COMPUTED(default_trainer, NULL),
     "sparselaw-train, run by the local backend of calibration sweeps"},
    {"--corpus", "SPARSELAW_CORPUS", OPT_STRING, FIELD(corpus), 0, 0, TEXT(SL_DEFAULT_CORPUS),
     "training text of local runs (file or directory; sweeps cannot choose it)"},
    {"--worker-url", "SPARSELAW_WORKER_URL", OPT_STRING, FIELD(worker_url), 0, 0, NONE,
     "http://HOST:PORT of a `sparselaw-train serve` worker (none by default)"},
    {"--worker-token-file", "SPARSELAW_WORKER_TOKEN_FILE", OPT_STRING, FIELD(worker_token_file), 0,
     0, NONE, "file holding the worker's bearer token (or set SPARSELAW_WORKER_TOKEN)"},
    {"--worker-runs", "SPARSELAW_WORKER_RUNS", OPT_UINT, FIELD(worker_runs), 1, 256, NUMBER(1),
     "runs sent to the worker at once (its --max-active)"},
    {"--worker-lost-after", "SPARSELAW_WORKER_LOST_AFTER", OPT_UINT, FIELD(worker_lost_after), 1,
     86400, NUMBER(120), "seconds an unreachable worker's runs wait before they count as lost"},
    {"--slurm-url", "SPARSELAW_SLURM_URL", OPT_STRING, FIELD(slurm_url), 0, 0, NONE,
     "http://HOST:PORT of slurmrestd (API v0.0.38, JWT); none by default"},
    {"--slurm-user", "SPARSELAW_SLURM_USER", OPT_STRING, FIELD(slurm_user), 0, 0, TEXT("slurm"),
     "the user Slurm jobs are submitted as (X-SLURM-USER-NAME)"},
    {"--slurm-jwt-file", "SPARSELAW_SLURM_JWT_FILE", OPT_STRING, FIELD(slurm_jwt_file), 0, 0, NONE,
     "file holding that user's JWT, read before each request (or set SPARSELAW_SLURM_JWT)"},
    {"--slurm-runs", "SPARSELAW_SLURM_RUNS", OPT_UINT, FIELD(slurm_runs), 1, 4096, NUMBER(4),
     "Slurm jobs of calibration runs at once"},
    {"--slurm-lost-after", "SPARSELAW_SLURM_LOST_AFTER", OPT_UINT, FIELD(slurm_lost_after), 1,
     86400, NUMBER(300), "seconds an unreachable slurmrestd's runs wait before they count as lost"},
    {"--slurm-time-limit", "SPARSELAW_SLURM_TIME_LIMIT", OPT_UINT, FIELD(slurm_time_limit), 1,
     525600, NUMBER(1440), "minutes a Slurm job may run (its time_limit)"},
    {"--slurm-path", "SPARSELAW_SLURM_PATH", OPT_STRING, FIELD(slurm_path), 0, 0,
     TEXT("/usr/local/bin:/usr/bin:/bin"), "PATH of Slurm jobs (their curl posts the result)"},
    {"--report-url", "SPARSELAW_REPORT_URL", OPT_STRING, FIELD(report_url), 0, 0, NONE,
     "this server's URL as Slurm jobs reach it, to post results (default http://BIND:PORT)"},
    {"--local-runs", "SPARSELAW_LOCAL_RUNS", OPT_UINT, FIELD(local_runs), 1, 256, NUMBER(1),
     "local training runs at once"},
    {"--routes", NULL, OPT_FLAG, FIELD(print_routes), 0, 0, NONE,
     "print the route table as JSON and exit"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void set_default(sl_config *cfg, const option_def *o) {
    void *field = (char *)cfg + o->offset;
    if (o->dflt.compute)
        o->dflt.compute(field, o->size);
    else if (o->kind == OPT_STRING)
        snprintf(field, o->size, "%s", o->dflt.text ? o->dflt.text : "");
    else if (o->kind == OPT_UINT)
        *(unsigned *)field = (unsigned)o->dflt.number;
    else if (o->kind == OPT_SIZE)
        *(size_t *)field = (size_t)o->dflt.number;
}

/* The default of o as --help shows it; "" when it has none. */
static void default_text(const option_def *o, char *buf, size_t cap) {
    sl_config scratch;
    const char *field = (const char *)&scratch + o->offset;
    buf[0] = '\0';
    if (o->dflt.shown) {
        snprintf(buf, cap, "%s", o->dflt.shown);
        return;
    }
    set_default(&scratch, o);
    if (o->kind == OPT_STRING)
        snprintf(buf, cap, "%s", field);
    else if (o->kind == OPT_UINT)
        snprintf(buf, cap, "%u", *(const unsigned *)(const void *)field);
    else if (o->kind == OPT_SIZE)
        snprintf(buf, cap, "%zu", *(const size_t *)(const void *)field);
}

static void usage(FILE *f) {
    int flag_w = 0, env_w = (int)strlen("SPARSELAW_TOKEN");
    for (size_t i = 0; i < NOPTIONS; i++) {
        int fl = (int)strlen(options[i].flag),
            el = options[i].env ? (int)strlen(options[i].env) : 0;
        if (fl > flag_w) flag_w = fl;
        if (el > env_w) env_w = el;
    }
    fprintf(f, "usage: sparselawd [options]\n\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char dflt[1100];
        default_text(&options[i], dflt, sizeof dflt);
        fprintf(f, "  %-*s %-*s %s%s%s%s\n", flag_w, options[i].flag, env_w,
                options[i].env ? options[i].env : "", options[i].help, dflt[0] ? " [default " : "",
                dflt, dflt[0] ? "]" : "");
    }
    fprintf(f, "  %-*s %-*s %s\n", flag_w, "", env_w, "SPARSELAW_TOKEN", "the bearer token itself");
}

static int set(sl_config *cfg, const option_def *o, const char *value, const char *source) {
    char *field = (char *)cfg + o->offset;
    if (o->kind == OPT_STRING) {
        if (!*value || strlen(value) >= o->size) {
            fprintf(stderr, "sparselawd: %s: %s must be 1 to %zu characters\n", source, o->flag,
                    o->size - 1);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    if (o->kind == OPT_FLAG) {
        *(int *)(void *)field = 1;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-' || v < o->lo || v > o->hi) {
        fprintf(stderr, "sparselawd: %s: %s must be an integer in [%lu, %lu] (got '%s')\n", source,
                o->flag, o->lo, o->hi, value);
        return -1;
    }
    if (o->kind == OPT_UINT)
        *(unsigned *)(void *)field = (unsigned)v;
    else
        *(size_t *)(void *)field = (size_t)v;
    return 0;
}

int sl_config_load(sl_config *cfg, int argc, char **argv) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NOPTIONS; i++)
        set_default(cfg, &options[i]);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *v = options[i].env ? getenv(options[i].env) : NULL;
        if (v && set(cfg, &options[i], v, options[i].env) != 0) return -1;
    }
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(argv[a], "--version")) {
            printf("sparselawd %s\n", SL_VERSION);
            return 1;
        }
        const char *arg = argv[a], *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const option_def *o = NULL;
        for (size_t i = 0; i < NOPTIONS; i++)
            if (strlen(options[i].flag) == len && !strncmp(arg, options[i].flag, len))
                o = &options[i];
        if (!o) {
            fprintf(stderr, "sparselawd: unknown option '%s' (see --help)\n", arg);
            return -1;
        }
        const char *value = "";
        if (o->kind != OPT_FLAG) {
            if (eq)
                value = eq + 1;
            else if (a + 1 < argc)
                value = argv[++a];
            else {
                fprintf(stderr, "sparselawd: %s needs a value\n", o->flag);
                return -1;
            }
        }
        if (set(cfg, o, value, "command line") != 0) return -1;
    }
    return 0;
}
