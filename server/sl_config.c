#include "sl_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


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
    {"--bind", "SPARSELAW_BIND", OPT_STRING, FIELD(bind), 0, 0, "address to listen on (IPv4 or IPv6)"},
    {"--data-dir", "SPARSELAW_DATA_DIR", OPT_STRING, FIELD(data_dir), 0, 0,
     "directory of the SQLite store and the generated token"},
    {"--threads", "SPARSELAW_THREADS", OPT_UINT, FIELD(threads), 1, 256, "HTTP worker threads"},
    {"--token-file", "SPARSELAW_TOKEN_FILE", OPT_STRING, FIELD(token_file), 0, 0,
     "file holding the bearer token for writes (or set SPARSELAW_TOKEN)"},
    {"--static-dir", "SPARSELAW_STATIC_DIR", OPT_STRING, FIELD(static_dir), 0, 0,
     "dashboard files served at /"},
    {"--max-body", "SPARSELAW_MAX_BODY", OPT_SIZE, FIELD(max_body), 1024, 1UL << 30,
     "largest request body in bytes"},
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
    fprintf(f, "\nDefaults: --port 8080 --bind 127.0.0.1 --data-dir ./sparselaw-data "
               "--threads <cores> --max-body 8388608\n");
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
            if (strlen(options[i].flag) == len && !strncmp(arg, options[i].flag, len)) o = &options[i];
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
