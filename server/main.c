/*
 * sparselawd - the sparselaw service: planning queries on sparse scaling
 * laws over HTTP. Starts with no flags; see --help.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "sl_auth.h"
#include "sl_backend.h"
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
    sl_backend *b = sl_backend_worker_new(cfg->worker_url, token, cfg->worker_runs, err, errcap);
    if (b) sl_backend_worker_set_lost_after(b, cfg->worker_lost_after);
    return b;
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

    /* One fit at a time, using every core for its starts and bootstrap. */
    server.jobs = sl_jobs_start(store, 1, 0);

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
    sl_backend *backends[2] = {local, NULL};
    size_t nbackends = 1;
    if (cfg.worker_url[0]) {
        sl_backend *worker = worker_backend(&cfg, errbuf, sizeof errbuf);
        if (!worker) {
            fprintf(stderr, "sparselawd: %s\n", errbuf);
            local->close(local);
            sl_jobs_stop(server.jobs);
            sl_metrics_free(metrics);
            sl_store_close(store);
            return 1;
        }
        backends[nbackends++] = worker;
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
