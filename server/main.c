/*
 * sparselawd - the sparselaw service: planning queries on sparse scaling
 * laws over HTTP. Starts with no flags; see --help.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_auth.h"
#include "sl_backend.h"
#include "sl_backend_slurm.h"
#include "sl_backend_worker.h"
#include "sl_config.h"
#include "sl_http.h"
#include "sl_jobs.h"
#include "sl_metrics.h"
#include "sl_runs.h"
#include "sl_store.h"
#include "sl_log.h"

/* How long SIGTERM waits for in-flight requests before closing anyway. */
#define DRAIN_GRACE_MS 10000

static int print_routes(void) {
    json_t *routes = sl_routes_json();
    json_dumpf(routes, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(routes);
    return 0;
}

/* The worker backend of --worker-url, with its token from --worker-token-file
 * or SPARSELAW_WORKER_TOKEN; NULL with the reason in err. */
static sl_backend *worker_backend(const sl_config *cfg, char *err, size_t errcap) {
    char token[300] = "";
    const char *env = getenv("SPARSELAW_WORKER_TOKEN");
    if (cfg->worker_token_file[0]) {
        FILE *f = fopen(cfg->worker_token_file, "r");
        size_t n = f ? fread(token, 1, sizeof token - 1, f) : 0;
        if (f) fclose(f);
        while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
            n--;
        token[n] = '\0';
    } else if (env) {
        snprintf(token, sizeof token, "%s", env);
    }
    if (!token[0]) {
        snprintf(err, errcap,
                 "--worker-url needs a token: --worker-token-file F or "
                 "SPARSELAW_WORKER_TOKEN");
        return NULL;
    }
    sl_backend *b = sl_backend_worker_new(cfg->worker_url, token, cfg->worker_runs,
                                          cfg->worker_lost_after, err, errcap);
    if (b) sl_backend_worker_set_gflops(b, cfg->worker_gflops);
    return b;
}

/* The Slurm backend of --slurm-url, with its JWT from --slurm-jwt-file or
 * SPARSELAW_SLURM_JWT; jobs write their files in DATA_DIR/slurm. */
static sl_backend *slurm_backend(const sl_config *cfg, char *err, size_t errcap) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/slurm", cfg->data_dir);
    sl_slurm_options o = {
        .url = cfg->slurm_url,
        .user = cfg->slurm_user,
        .jwt = getenv("SPARSELAW_SLURM_JWT"),
        .jwt_file = cfg->slurm_jwt_file,
        .trainer = cfg->trainer,
        .corpus = cfg->corpus,
        .dir = dir,
        .report_url = cfg->report_url,
        .path = cfg->slurm_path,
        .max_active = cfg->slurm_runs,
        .time_limit = cfg->slurm_time_limit,
        .lost_after = cfg->slurm_lost_after,
        .profiles = cfg->profiles,
        .nprofiles = cfg->nprofiles,
        .gpus = cfg->slurm_gpus,
        .partition = cfg->slurm_partition,
        .account = cfg->slurm_account,
        .gflops = cfg->slurm_gflops,
    };
    return sl_backend_slurm_new(&o, err, errcap);
}

/* The URL Slurm jobs post results to when --report-url is not given. */
static void default_report_url(const sl_config *cfg, unsigned port, char *buf, size_t cap) {
    const char *host = cfg->bind;
    if (!strcmp(host, "0.0.0.0") || !host[0]) host = "127.0.0.1";
    if (!strcmp(host, "::")) host = "::1";
    if (strchr(host, ':'))
        snprintf(buf, cap, "http://[%s]:%u", host, port);
    else
        snprintf(buf, cap, "http://%s:%u", host, port);
}

/* What main starts, in order. teardown stops what was started, so every
 * exit takes the same path. */
typedef struct service {
    sl_config cfg;
    sl_server server;
    char token[300];
    const char *methods[64], *patterns[64]; /* the metrics' labels: they keep these */
    /* Owned here until the runner starts (then nbackends is 0). */
    sl_backend *backends[4];
    size_t nbackends;
    sl_backend *slurm; /* one of them, or NULL: it learns the report URL late */
    int listen_fd;     /* the bound socket, ours while has_socket (then the daemon's) */
    int has_socket;
    int listening;
} service;

/* Blocks the stop signals in every thread (libmicrohttpd's inherit the
 * mask); the main thread takes them with sigwait. */
static void block_stop_signals(sigset_t *stop) {
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The store, the write token and the metrics: what every request needs. */
static int prepare_server(service *s, char *err, size_t errcap) {
    /* One connection per HTTP thread, and one spare for the main thread. */
    s->server.store = sl_store_open(s->cfg.data_dir, (int)s->cfg.threads + 1, err, errcap);
    if (!s->server.store) return -1;
    if (sl_auth_load_token(&s->cfg, s->token, sizeof s->token, err, errcap) != 0) return -1;
    size_t nroutes = sl_route_count < 64 ? sl_route_count : 64;
    for (size_t i = 0; i < nroutes; i++) {
        s->methods[i] = sl_routes[i].method;
        s->patterns[i] = sl_routes[i].pattern;
    }
    s->server.metrics = sl_metrics_new(s->methods, s->patterns, nroutes);
    s->server.config = &s->cfg;
    s->server.token = s->token;
    return 0;
}

/* The backends of calibration runs: local always, the worker and Slurm
 * when their URLs are given. */
static int make_backends(service *s, char *err, size_t errcap) {
    /* The local backend keeps each run's JSON lines in DATA_DIR/runs, where
     * a restarted server reads them again. */
    char run_dir[1100];
    snprintf(run_dir, sizeof run_dir, "%s/runs", s->cfg.data_dir);
    sl_backend *local = sl_backend_local_new(s->cfg.trainer, s->cfg.corpus, run_dir,
                                             s->cfg.local_runs, err, errcap);
    if (!local) return -1;
    sl_backend_local_set_profiles(local, s->cfg.profiles, s->cfg.nprofiles, &s->cfg.local_dev,
                                  s->cfg.local_gflops);
    s->backends[s->nbackends++] = local;
    char why[1200];
    if (sl_backend_local_corpus_check(s->cfg.corpus, why, sizeof why) != 0)
        sl_log(SL_LOG_WARNING, "corpus_unreadable", why);
    /* Remote backends register here, each the same way: built from its
     * flags, then handed to the runner, which finds it by the sweep's
     * "backend" name (sl_backend.base.name). */
    if (s->cfg.worker_url[0]) {
        sl_backend *worker = worker_backend(&s->cfg, err, errcap);
        if (!worker) return -1;
        s->backends[s->nbackends++] = worker;
    }
    if (s->cfg.slurm_url[0]) {
        s->slurm = slurm_backend(&s->cfg, err, errcap);
        if (!s->slurm) return -1;
        s->backends[s->nbackends++] = s->slurm;
    }
    return 0;
}

/* Tells the Slurm backend where jobs post results, once the port is known. */
static void set_report_url(const service *s, unsigned port) {
    if (!s->slurm || s->cfg.report_url[0]) return;
    char url[300];
    default_report_url(&s->cfg, port, url, sizeof url);
    if (sl_backend_slurm_set_report_url(s->slurm, url) != 0) {
        char why[400];
        snprintf(why, sizeof why, "Slurm jobs cannot post results to %s; set --report-url",
                 s->cfg.bind);
        sl_log(SL_LOG_ERROR, "no_report_url", why);
    }
}

/* Socket, store, fit workers, backends, runner, HTTP: 0 once serving, or -1 with
 * the problem printed. */
static int start(service *s) {
    char err[512] = "";
    unsigned port = 0;
    if (sl_http_listen(&s->cfg, &s->listen_fd, &port, err, sizeof err) != 0) goto fail;
    s->has_socket = 1;
    if (prepare_server(s, err, sizeof err) != 0) goto fail;
    /* --fit-workers fits at once, each using every core for its starts and
     * bootstrap. */
    s->server.jobs = sl_jobs_start(s->server.store, s->cfg.fit_workers, 0, s->cfg.fit_attempts);
    if (make_backends(s, err, sizeof err) != 0) goto fail;
    s->server.runs = sl_runs_start(s->server.store, s->server.jobs, s->backends, s->nbackends);
    s->nbackends = 0;  /* the runner owns them now */
    s->has_socket = 0; /* the daemon owns it now, or closed it */
    if (sl_http_start(&s->server, s->listen_fd) != 0) return -1; /* it says why */
    s->listening = 1;
    set_report_url(s, port);
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, "listening");
    sl_log_str(&l, "bind", s->cfg.bind);
    sl_log_int(&l, "port", port);
    sl_log_str(&l, "data_dir", s->cfg.data_dir);
    sl_log_int(&l, "threads", s->cfg.threads);
    sl_log_str(&l, "static_dir", s->cfg.static_dir);
    sl_log_str(&l, "trainer", s->cfg.trainer);
    sl_log_str(&l, "corpus", s->cfg.corpus);
    sl_log_int(&l, "local_runs", s->cfg.local_runs);
    sl_log_end(&l);
    return 0;
fail:
    sl_log(SL_LOG_ERROR, "cannot_start", err);
    return -1;
}

/* The one way down, from wherever start got to: HTTP first (it finishes
 * the requests in flight), then the runner (it closes the backends it
 * owns), the fit workers, the store. */
static void teardown(service *s) {
    if (s->listening) sl_http_stop(&s->server, DRAIN_GRACE_MS);
    if (s->has_socket) close(s->listen_fd);
    sl_runs_stop(s->server.runs);
    for (size_t i = 0; i < s->nbackends; i++)
        s->backends[i]->close(s->backends[i]);
    sl_jobs_stop(s->server.jobs);
    sl_store_close(s->server.store);
    sl_metrics_free(s->server.metrics);
}

int main(int argc, char **argv) {
    static service s; /* zeroed: teardown knows what was not started */
    int rc = sl_config_load(&s.cfg, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (s.cfg.print_routes) return print_routes();
    sigset_t stop;
    block_stop_signals(&stop);
    if (start(&s) != 0) {
        teardown(&s);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, "stopping");
    sl_log_int(&l, "signal", sig);
    sl_log_end(&l);
    teardown(&s);
    sl_log(SL_LOG_INFO, "stopped", NULL);
    return 0;
}
