#include "sl_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The trainer the build made (SL_DEFAULT_TRAINER); without one, the
 * sparselaw-train beside this executable. */
#ifndef SL_DEFAULT_TRAINER
#define SL_DEFAULT_TRAINER ""
#endif
#ifndef SL_DEFAULT_CORPUS
#define SL_DEFAULT_CORPUS ""
#endif

static void default_trainer(char *buf, size_t cap) {
    char self[1024];
    ssize_t n = SL_DEFAULT_TRAINER[0] ? -1 : readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = n > 0 ? (self[n] = '\0', strrchr(self, '/')) : NULL;
    if (slash)
        snprintf(buf, cap, "%.*s/sparselaw-train", (int)(slash - self), self);
    else
        snprintf(buf, cap, "%s", SL_DEFAULT_TRAINER[0] ? SL_DEFAULT_TRAINER : "sparselaw-train");
}

typedef enum { OPT_UINT, OPT_STRING, OPT_SIZE, OPT_FLAG } opt_kind;

typedef struct option_def {
    const char *flag, *env;
    opt_kind kind;
    size_t offset, size; /* of the field in sl_config */
    unsigned long lo, hi;
    const char *help;
} option_def;

#define FIELD(f) offsetof(sl_config, f), sizeof(((sl_config *)0)->f)

static const option_def options[] = {
    {"--port", "SPARSELAW_PORT", OPT_UINT, FIELD(port), 0, 65535, "TCP port (0: any free port)"},
    {"--bind", "SPARSELAW_BIND", OPT_STRING, FIELD(bind), 0, 0,
     "address to listen on (IPv4 or IPv6)"},
    {"--data-dir", "SPARSELAW_DATA_DIR", OPT_STRING, FIELD(data_dir), 0, 0,
     "directory of the SQLite store and the generated token"},
    {"--threads", "SPARSELAW_THREADS", OPT_UINT, FIELD(threads), 1, 256, "HTTP worker threads"},
    {"--token-file", "SPARSELAW_TOKEN_FILE", OPT_STRING, FIELD(token_file), 0, 0,
     "file holding the bearer token for writes (or set SPARSELAW_TOKEN)"},
    {"--static-dir", "SPARSELAW_STATIC_DIR", OPT_STRING, FIELD(static_dir), 0, 0,
     "dashboard files served at /"},
    {"--max-body", "SPARSELAW_MAX_BODY", OPT_SIZE, FIELD(max_body), 1024, 1UL << 30,
     "largest request body in bytes"},
    {"--trainer", "SPARSELAW_TRAINER", OPT_STRING, FIELD(trainer), 0, 0,
     "sparselaw-train, run by the local backend of calibration sweeps"},
    {"--corpus", "SPARSELAW_CORPUS", OPT_STRING, FIELD(corpus), 0, 0,
     "training text of local runs (file or directory; sweeps cannot choose it)"},
    {"--worker-url", "SPARSELAW_WORKER_URL", OPT_STRING, FIELD(worker_url), 0, 0,
     "http://HOST:PORT of a `sparselaw-train serve` worker (none by default)"},
    {"--worker-token-file", "SPARSELAW_WORKER_TOKEN_FILE", OPT_STRING, FIELD(worker_token_file), 0,
     0, "file holding the worker's bearer token (or set SPARSELAW_WORKER_TOKEN)"},
    {"--worker-runs", "SPARSELAW_WORKER_RUNS", OPT_UINT, FIELD(worker_runs), 1, 256,
     "runs sent to the worker at once (its --max-active)"},
    {"--worker-lost-after", "SPARSELAW_WORKER_LOST_AFTER", OPT_UINT, FIELD(worker_lost_after), 1,
     86400, "seconds an unreachable worker's runs wait before they count as lost"},
    {"--slurm-url", "SPARSELAW_SLURM_URL", OPT_STRING, FIELD(slurm_url), 0, 0,
     "http://HOST:PORT of slurmrestd (API v0.0.38, JWT); none by default"},
    {"--slurm-user", "SPARSELAW_SLURM_USER", OPT_STRING, FIELD(slurm_user), 0, 0,
     "the user Slurm jobs are submitted as (X-SLURM-USER-NAME; default slurm)"},
    {"--slurm-jwt-file", "SPARSELAW_SLURM_JWT_FILE", OPT_STRING, FIELD(slurm_jwt_file), 0, 0,
     "file holding that user's JWT, read before each request (or set SPARSELAW_SLURM_JWT)"},
    {"--slurm-runs", "SPARSELAW_SLURM_RUNS", OPT_UINT, FIELD(slurm_runs), 1, 4096,
     "Slurm jobs of calibration runs at once"},
    {"--slurm-lost-after", "SPARSELAW_SLURM_LOST_AFTER", OPT_UINT, FIELD(slurm_lost_after), 1,
     86400, "seconds an unreachable slurmrestd's runs wait before they count as lost"},
    {"--report-url", "SPARSELAW_REPORT_URL", OPT_STRING, FIELD(report_url), 0, 0,
     "this server's URL as Slurm jobs reach it, to post results (default http://BIND:PORT)"},
    {"--local-runs", "SPARSELAW_LOCAL_RUNS", OPT_UINT, FIELD(local_runs), 1, 256,
     "local training runs at once"},
    {"--routes", NULL, OPT_FLAG, FIELD(print_routes), 0, 0,
     "print the route table as JSON and exit"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f) {
    fprintf(f, "usage: sparselawd [options]\n\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        fprintf(f, "  %-14s %-22s %s\n", options[i].flag, options[i].env ? options[i].env : "",
                options[i].help);
    fprintf(f, "  %-14s %-22s %s\n", "", "SPARSELAW_TOKEN", "the bearer token itself");
    fprintf(f,
            "\nDefaults: --port 8080 --bind 127.0.0.1 --data-dir ./sparselaw-data "
            "--threads <cores> --max-body 8388608\n"
            "          --trainer %s --local-runs 1\n",
            SL_DEFAULT_TRAINER[0] ? SL_DEFAULT_TRAINER
                                  : "<sparselawd's directory>/sparselaw-train");
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
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->port = 8080;
    snprintf(cfg->bind, sizeof cfg->bind, "127.0.0.1");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "sparselaw-data");
    cfg->threads = cores > 0 ? (unsigned)cores : 2;
    snprintf(cfg->static_dir, sizeof cfg->static_dir, "%s", SL_DEFAULT_STATIC_DIR);
    cfg->max_body = 8u << 20;
    default_trainer(cfg->trainer, sizeof cfg->trainer);
    snprintf(cfg->corpus, sizeof cfg->corpus, "%s", SL_DEFAULT_CORPUS);
    cfg->local_runs = 1;
    cfg->worker_runs = 1;
    cfg->worker_lost_after = 120;
    snprintf(cfg->slurm_user, sizeof cfg->slurm_user, "slurm");
    cfg->slurm_runs = 4;
    cfg->slurm_lost_after = 300;

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
