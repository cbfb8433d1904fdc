/*
 * sl_config.c - sparselawd's options: one table row per option (flag,
 * environment variable, bounds, default, help), read as defaults, then the
 * --config file, then the environment, then the command line. --help and
 * --options-json are printed from the same table.
 */
#include "sl_config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_jobs.h"
#include "sl_text.h"

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
 * default, help. --help, --options-json and the config file's keys (the
 * flags without their dashes) come from here. */
static const option_def options[] = {
    {"--config", "SPARSELAW_CONFIG", OPT_STRING, FIELD(config_file), 0, 0, NONE,
     "file of `key = value` lines, keys being these flags without the dashes"},
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
    {"--local-device", "SPARSELAW_LOCAL_DEVICE", OPT_STRING, FIELD(local_device), 0, 0, TEXT("cpu"),
     "what local runs may use: cpu, or cuda:N for N CUDA devices on this machine"},
    {"--local-gflops", "SPARSELAW_LOCAL_GFLOPS", OPT_UINT, FIELD(local_gflops), 0, 100000000,
     NUMBER(0), "GFLOP/s of one local run, for sweep estimates (0: measured from runs only)"},
    {"--worker-gflops", "SPARSELAW_WORKER_GFLOPS", OPT_UINT, FIELD(worker_gflops), 0, 100000000,
     NUMBER(0), "GFLOP/s of one worker run, for sweep estimates (0: measured from runs only)"},
    {"--slurm-gflops", "SPARSELAW_SLURM_GFLOPS", OPT_UINT, FIELD(slurm_gflops), 0, 100000000,
     NUMBER(0), "GFLOP/s of one Slurm job, for sweep estimates (0: measured from runs only)"},
    {"--slurm-gpus", "SPARSELAW_SLURM_GPUS", OPT_UINT, FIELD(slurm_gpus), 0, 64, NUMBER(0),
     "GPUs a Slurm job may ask for (--gres=gpu:N); 0: Slurm takes no CUDA sweeps"},
    {"--slurm-partition", "SPARSELAW_SLURM_PARTITION", OPT_STRING, FIELD(slurm_partition), 0, 0,
     NONE, "partition of Slurm jobs (Slurm's default when unset)"},
    {"--slurm-account", "SPARSELAW_SLURM_ACCOUNT", OPT_STRING, FIELD(slurm_account), 0, 0, NONE,
     "account Slurm jobs are charged to (the user's default when unset)"},
    {"--routes", NULL, OPT_FLAG, FIELD(print_routes), 0, 0, NONE,
     "print the route table as JSON and exit"},
};
#define NOPTIONS (sizeof options / sizeof options[0])
/* The row of --config: the one option a config file cannot set. */
#define CONFIG_OPTION (&options[0])

/* An option's key in a config file: its flag without the dashes. */
static const char *option_key(const option_def *o) {
    return o->flag + 2;
}

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
    fprintf(f, "usage: sparselawd [options]\n"
               "       sparselawd --help | --version | --options-json | --routes\n\n"
               "Each option is a flag (--port 8080 or --port=8080), an environment variable,\n"
               "or a line `port = 8080` of the --config file (the flag without its dashes; a\n"
               "`#` at the start or after a blank starts a comment). Precedence:\n"
               "flag > environment > config file > default.\n"
               "A config file line `[profile NAME]` starts a trainer profile: the lines after it\n"
               "(argv, dir, env, backends, device) declare a trainer sweeps may name.\n"
               "--options-json prints this table as JSON.\n\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char dflt[1100];
        default_text(&options[i], dflt, sizeof dflt);
        fprintf(f, "  %-*s %-*s %s%s%s%s\n", flag_w, options[i].flag, env_w,
                options[i].env ? options[i].env : "", options[i].help, dflt[0] ? " [default " : "",
                dflt, dflt[0] ? "]" : "");
    }
    fprintf(f, "  %-*s %-*s %s\n", flag_w, "", env_w, "SPARSELAW_TOKEN", "the bearer token itself");
}

static const char *kind_name(opt_kind kind) {
    switch (kind) {
    case OPT_UINT: return "integer";
    case OPT_SIZE: return "bytes";
    case OPT_STRING: return "string";
    case OPT_FLAG: return "flag";
    }
    return "";
}

/* The option table as JSON, for tools and the test that holds the README's
 * table to it: flag, key, environment variable, kind, bounds, default as
 * --help shows it, help. */
static int print_options_json(void) {
    json_t *all = json_array();
    for (size_t i = 0; i < NOPTIONS && all; i++) {
        const option_def *o = &options[i];
        char dflt[1100];
        default_text(o, dflt, sizeof dflt);
        json_t *row = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "flag", o->flag, "key",
                                option_key(o), "env", o->env ? json_string(o->env) : json_null(),
                                "kind", kind_name(o->kind), "default", dflt, "help", o->help);
        if (row && (o->kind == OPT_UINT || o->kind == OPT_SIZE)) {
            json_object_set_new(row, "min", json_integer((json_int_t)o->lo));
            json_object_set_new(row, "max", json_integer((json_int_t)o->hi));
        }
        if (!row || json_array_append_new(all, row) != 0) {
            json_decref(all);
            all = NULL;
        }
    }
    if (!all || json_dumpf(all, stdout, JSON_INDENT(2)) != 0) {
        json_decref(all);
        fprintf(stderr, "sparselawd: out of memory\n");
        return -1;
    }
    fputc('\n', stdout);
    json_decref(all);
    return 1;
}

/* Sets o from value. source says where value came from (command line, an
 * environment variable, FILE:LINE) and name how it called the option. */
static int set(sl_config *cfg, const option_def *o, const char *value, const char *source,
               const char *name) {
    char *field = (char *)cfg + o->offset;
    if (o->kind == OPT_STRING) {
        if (!*value || strlen(value) >= o->size) {
            fprintf(stderr, "sparselawd: %s: %s must be 1 to %zu characters\n", source, name,
                    o->size - 1);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    if (o->kind == OPT_FLAG) {
        if (strcmp(value, "true") && strcmp(value, "false")) {
            fprintf(stderr, "sparselawd: %s: %s must be true or false (got '%s')\n", source, name,
                    value);
            return -1;
        }
        *(int *)(void *)field = !strcmp(value, "true");
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-' || v < o->lo || v > o->hi) {
        fprintf(stderr, "sparselawd: %s: %s must be an integer in [%lu, %lu] (got '%s')\n", source,
                name, o->lo, o->hi, value);
        return -1;
    }
    if (o->kind == OPT_UINT)
        *(unsigned *)(void *)field = (unsigned)v;
    else
        *(size_t *)(void *)field = (size_t)v;
    return 0;
}

/* ------------------------------------------------------------ config file */

static char *skip_blanks(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Cuts s at its comment: a `#` that starts the line or follows a space or
 * tab (so a `#` inside a value, as in a URL, stays). */
static void cut_comment(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
}

/* The end of the profile section being read, if one is: checks it. */
static int end_profile(sl_config *cfg, int *in_profile, const char *where) {
    char why[400];
    if (!*in_profile) return 0;
    *in_profile = 0;
    if (sl_profile_end(&cfg->profiles[cfg->nprofiles - 1], why, sizeof why) == 0) return 0;
    fprintf(stderr, "sparselawd: %s: %s\n", where, why);
    return -1;
}

/* A `[profile NAME]` line: the lines after it, up to the next header, set
 * that trainer profile (sl_profile.h). 1 when line was a header, 0 when it
 * was none, -1 on a problem. */
static int apply_header(sl_config *cfg, const char *line, const char *where, int *in_profile) {
    char name[64], why[400];
    int h = sl_profile_header(line, name, sizeof name, why, sizeof why);
    if (h == 0) return 0;
    if (h < 0 || end_profile(cfg, in_profile, where) != 0) {
        if (h < 0) fprintf(stderr, "sparselawd: %s: %s\n", where, why);
        return -1;
    }
    if (cfg->nprofiles == SL_PROFILE_MAX) {
        fprintf(stderr, "sparselawd: %s: more than %d profiles\n", where, SL_PROFILE_MAX);
        return -1;
    }
    if (sl_profile_find(cfg->profiles, cfg->nprofiles, name)) {
        fprintf(stderr, "sparselawd: %s: profile %s is declared twice\n", where, name);
        return -1;
    }
    if (sl_profile_begin(&cfg->profiles[cfg->nprofiles], name, why, sizeof why) != 0) {
        fprintf(stderr, "sparselawd: %s: %s\n", where, why);
        return -1;
    }
    cfg->nprofiles++;
    *in_profile = 1;
    return 1;
}

/* One line of a config file: blank, a comment, a `[profile NAME]` header or
 * `key = value` (of the option table, or of the profile section it is in).
 * where is FILE:LINE; first[i] is the line that set options[i] (0: none
 * yet). */
static int apply_line(sl_config *cfg, char *line, const char *where, unsigned lineno,
                      unsigned *first, int *in_profile) {
    cut_comment(line);
    sl_text_trim_end(line);
    char *key = skip_blanks(line);
    if (!*key) return 0;
    int header = apply_header(cfg, key, where, in_profile);
    if (header != 0) return header < 0 ? -1 : 0;
    char *eq = strchr(key, '=');
    if (!eq) {
        fprintf(stderr, "sparselawd: %s: '%s' is not `key = value` (no '=')\n", where, key);
        return -1;
    }
    *eq = '\0';
    sl_text_trim_end(key);
    char *value = skip_blanks(eq + 1);
    if (!*key) {
        fprintf(stderr, "sparselawd: %s: no key before '='\n", where);
        return -1;
    }
    if (*in_profile) {
        char why[400];
        if (sl_profile_set(&cfg->profiles[cfg->nprofiles - 1], key, value, why, sizeof why) == 0)
            return 0;
        fprintf(stderr, "sparselawd: %s: %s\n", where, why);
        return -1;
    }
    const option_def *o = NULL;
    for (size_t i = 0; i < NOPTIONS && !o; i++)
        if (!strcmp(option_key(&options[i]), key)) o = &options[i];
    if (!o) {
        fprintf(stderr,
                "sparselawd: %s: unknown key '%s' (keys are the flags of --help without their "
                "dashes)\n",
                where, key);
        return -1;
    }
    if (o == CONFIG_OPTION) {
        fprintf(stderr, "sparselawd: %s: %s: a config file cannot name another one\n", where, key);
        return -1;
    }
    size_t i = (size_t)(o - options);
    if (first[i]) {
        fprintf(stderr, "sparselawd: %s: %s is set twice (first on line %u)\n", where, key,
                first[i]);
        return -1;
    }
    first[i] = lineno;
    return set(cfg, o, value, where, key);
}

/* Reads the settings of the config file at path into cfg; -1, with the
 * file, line and key of the problem printed, on the first bad line. */
static int load_file(sl_config *cfg, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "sparselawd: cannot read config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned first[NOPTIONS] = {0};
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0, in_profile = 0;
    ssize_t n;
    char where[1100];
    errno = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        snprintf(where, sizeof where, "%s:%u", path, ++lineno);
        if (memchr(line, '\0', (size_t)n)) {
            fprintf(stderr, "sparselawd: %s: a NUL byte (not a text file)\n", where);
            rc = -1;
        } else {
            rc = apply_line(cfg, line, where, lineno, first, &in_profile);
        }
    }
    if (rc == 0) rc = end_profile(cfg, &in_profile, where);
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "sparselawd: cannot read config file %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------ loading */

/* The option argv[*a] names, with its value (the text after '=', or the
 * next argument, which *a then moves past; "true" for a flag). NULL, with
 * the problem printed, for an unknown option or a missing value. */
static const option_def *parse_arg(int argc, char **argv, int *a, const char **value) {
    const char *arg = argv[*a], *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const option_def *o = NULL;
    for (size_t i = 0; i < NOPTIONS && !o; i++)
        if (strlen(options[i].flag) == len && !strncmp(arg, options[i].flag, len)) o = &options[i];
    if (!o) {
        fprintf(stderr, "sparselawd: unknown option '%s' (see --help)\n", arg);
        return NULL;
    }
    if (o->kind == OPT_FLAG) {
        *value = eq ? eq + 1 : "true";
    } else if (eq) {
        *value = eq + 1;
    } else if (*a + 1 < argc) {
        *value = argv[++*a];
    } else {
        fprintf(stderr, "sparselawd: %s needs a value\n", o->flag);
        return NULL;
    }
    return o;
}

/* The commands that print and exit: 1 when arg was one (it ran), else 0;
 * -1 when it failed. */
static int run_command(const char *arg) {
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
        usage(stdout);
        return 1;
    }
    if (!strcmp(arg, "--version")) {
        printf("sparselawd %s\n", SL_VERSION);
        return 1;
    }
    if (!strcmp(arg, "--options-json")) return print_options_json();
    return 0;
}

int sl_config_load(sl_config *cfg, int argc, char **argv) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NOPTIONS; i++)
        set_default(cfg, &options[i]);
    /* The command line first for its commands, its syntax and the file it
     * names; its values apply last, over the file and the environment. */
    const char *config = getenv(CONFIG_OPTION->env), *config_source = CONFIG_OPTION->env;
    for (int a = 1; a < argc; a++) {
        int ran = run_command(argv[a]);
        if (ran != 0) return ran;
        const char *value = NULL;
        const option_def *o = parse_arg(argc, argv, &a, &value);
        if (!o) return -1;
        if (o == CONFIG_OPTION) {
            config = value;
            config_source = "command line";
        }
    }
    if (config) {
        if (set(cfg, CONFIG_OPTION, config, config_source, CONFIG_OPTION->flag) != 0 ||
            load_file(cfg, cfg->config_file) != 0)
            return -1;
    }
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *v = options[i].env ? getenv(options[i].env) : NULL;
        if (v && &options[i] != CONFIG_OPTION &&
            set(cfg, &options[i], v, options[i].env, options[i].flag) != 0)
            return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *value = NULL;
        const option_def *o = parse_arg(argc, argv, &a, &value);
        if (o != CONFIG_OPTION && set(cfg, o, value, "command line", o->flag) != 0) return -1;
    }
    if (sl_device_parse(cfg->local_device, &cfg->local_dev) != 0) {
        fprintf(stderr, "sparselawd: --local-device must be cpu, cuda or cuda:N (got '%s')\n",
                cfg->local_device);
        return -1;
    }
    return 0;
}
