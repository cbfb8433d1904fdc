/*
 * sparselawd - the sparselaw service: planning queries on sparse scaling
 * laws over HTTP. Starts with no flags; see --help.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return sl_backend_worker_new(cfg->worker_url, token, cfg->worker_runs, cfg->worker_lost_after,
                                 err, errcap);
}

/* The Slurm backend of --slurm-url, with its JWT from --slurm-jwt-file or
 * SPARSELAW_SLURM_JWT; jobs write their files in DATA_DIR/slurm. */
static sl_backend *slurm_backend(const sl_config *cfg, sl_store *store, char *err, size_t errcap) {
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
    };
    return sl_backend_slurm_new(store, &o, err, errcap);
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

int main(int argc, char **argv) {
    sl_config cfg;
    int rc = sl_config_load(&cfg, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (cfg.print_routes) return print_routes();

    /* Block the stop signals in every thread (libmicrohttpd's inherit the
     * mask); the main thread takes them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    char errbuf[512] = "";
    /* One connection per HTTP thread, and one spare for the main thread. */
    sl_store *store = sl_store_open(cfg.data_dir, (int)cfg.threads + 1, errbuf, sizeof errbuf);
    if (!store) {
        fprintf(stderr, "sparselawd: %s\n", errbuf);
        return 1;
    }
    char token[300];
    if (sl_auth_load_token(&cfg, token, sizeof token, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "sparselawd: %s\n", errbuf);
        sl_store_close(store);
        return 1;
    }
    const char *methods[64], *patterns[64];
    size_t nroutes = sl_route_count < 64 ? sl_route_count : 64;
    for (size_t i = 0; i < nroutes; i++) {
        methods[i] = sl_routes[i].method;
        patterns[i] = sl_routes[i].pattern;
    }
    sl_metrics *metrics = sl_metrics_new(methods, patterns, nroutes);
    sl_server server = {.config = &cfg, .store = store, .metrics = metrics, .token = token};

    /* --fit-workers fits at once, each using every core for its starts and
     * bootstrap. */
    server.jobs = sl_jobs_start(store, cfg.fit_workers, 0, cfg.fit_attempts);

    /* Calibration runs: the local backend keeps each run's JSON lines in
     * DATA_DIR/runs, where a restarted server reads them again. */
    char run_dir[1100];
    snprintf(run_dir, sizeof run_dir, "%s/runs", cfg.data_dir);
    sl_backend *local = sl_backend_local_new(cfg.trainer, cfg.corpus, run_dir, cfg.local_runs,
                                             errbuf, sizeof errbuf);
    if (!local) {
        fprintf(stderr, "sparselawd: %s\n", errbuf);
        sl_jobs_stop(server.jobs);
        sl_metrics_free(metrics);
        sl_store_close(store);
        return 1;
    }
    /* Remote backends register here, each the same way: built from its
     * flags, then handed to the runner, which finds it by the sweep's
     * "backend" name (sl_backend.base.name). */
    sl_backend *backends[4] = {local, NULL, NULL, NULL};
    size_t nbackends = 1;
    sl_backend *slurm = NULL;
    int failed = 0;
    if (cfg.worker_url[0]) {
        sl_backend *worker = worker_backend(&cfg, errbuf, sizeof errbuf);
        failed = !worker;
        if (worker) backends[nbackends++] = worker;
    }
    if (!failed && cfg.slurm_url[0]) {
        slurm = slurm_backend(&cfg, store, errbuf, sizeof errbuf);
        failed = !slurm;
        if (slurm) backends[nbackends++] = slurm;
    }
    if (failed) {
        fprintf(stderr, "sparselawd: %s\n", errbuf);
        for (size_t i = 0; i < nbackends; i++)
            backends[i]->close(backends[i]);
        sl_jobs_stop(server.jobs);
        sl_metrics_free(metrics);
        sl_store_close(store);
        return 1;
    }
    server.runs = sl_runs_start(store, server.jobs, backends, nbackends);
    unsigned port = 0;
    if (sl_http_start(&server, &port) != 0) {
        sl_runs_stop(server.runs);
        sl_jobs_stop(server.jobs);
        sl_metrics_free(metrics);
        sl_store_close(store);
        return 1;
    }
    if (slurm && !cfg.report_url[0]) {
        char url[300];
        default_report_url(&cfg, port, url, sizeof url);
        if (sl_backend_slurm_set_report_url(slurm, url) != 0)
            fprintf(stderr,
                    "{\"level\":\"error\",\"event\":\"no_report_url\",\"detail\":"
                    "\"Slurm jobs cannot post results to %s; set --report-url\"}\n",
                    cfg.bind);
    }
    fprintf(stderr,
            "{\"level\":\"info\",\"event\":\"listening\",\"bind\":\"%s\",\"port\":%u,"
            "\"data_dir\":\"%s\",\"threads\":%u,\"static_dir\":\"%s\",\"trainer\":\"%s\","
            "\"local_runs\":%u}\n",
            cfg.bind, port, cfg.data_dir, cfg.threads, cfg.static_dir, cfg.trainer, cfg.local_runs);

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "{\"level\":\"info\",\"event\":\"stopping\",\"signal\":%d}\n", sig);
    sl_http_stop(&server, DRAIN_GRACE_MS);
    sl_runs_stop(server.runs);
    sl_jobs_stop(server.jobs);
    sl_store_close(store);
    sl_metrics_free(metrics);
    fprintf(stderr, "{\"level\":\"info\",\"event\":\"stopped\"}\n");
    return 0;
}
