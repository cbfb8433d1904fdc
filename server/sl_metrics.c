#include "sl_metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statuses this server answers with; anything else is counted as "other". */
static const unsigned statuses[] = {200, 201, 202, 204, 304, 400, 401, 403,
                                    404, 405, 409, 413, 415, 422, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
#define NBUCKET (sizeof buckets / sizeof buckets[0])

struct sl_metrics {
    const char *const *methods;
    const char *const *patterns;
    size_t nroutes;
    atomic_ullong *count; /* [(nroutes + 1) * (NSTATUS + 1)] */
    atomic_ullong hist[NBUCKET + 1];
    atomic_ullong sum_us;
};

sl_metrics *sl_metrics_new(const char *const *methods, const char *const *patterns,
                           size_t nroutes) {
    sl_metrics *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->methods = methods;
    m->patterns = patterns;
    m->nroutes = nroutes;
    m->count = calloc((nroutes + 1) * (NSTATUS + 1), sizeof *m->count);
    if (!m->count) abort();
    return m;
}

void sl_metrics_free(sl_metrics *m) {
    if (!m) return;
    free(m->count);
    free(m);
}

void sl_metrics_observe(sl_metrics *m, int route, unsigned status, double seconds) {
    size_t r = route < 0 || (size_t)route >= m->nroutes ? m->nroutes : (size_t)route;
    size_t s = 0;
    while (s < NSTATUS && statuses[s] != status)
        s++;
    atomic_fetch_add_explicit(&m->count[r * (NSTATUS + 1) + s], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < NBUCKET && seconds > buckets[b])
        b++;
    atomic_fetch_add_explicit(&m->hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

/* Metrics text is small: running out of memory for it is fatal, as elsewhere. */
static void put(sl_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sl_buf *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_buf_vaddf(t, fmt, ap);
    va_end(ap);
    if (rc != 0) abort();
}

void sl_metrics_render(const sl_metrics *m, sl_buf *t) {
    put(t,
        "# HELP sparselaw_http_requests_total HTTP requests by method, route pattern and status.\n"
        "# TYPE sparselaw_http_requests_total counter\n");
    for (size_t r = 0; r <= m->nroutes; r++)
        for (size_t s = 0; s <= NSTATUS; s++) {
            unsigned long long n =
                atomic_load_explicit(&m->count[r * (NSTATUS + 1) + s], memory_order_relaxed);
            if (!n) continue;
            char status[16];
            if (s < NSTATUS)
                snprintf(status, sizeof status, "%u", statuses[s]);
            else
                snprintf(status, sizeof status, "other");
            put(t, "sparselaw_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                r < m->nroutes ? m->methods[r] : "", r < m->nroutes ? m->patterns[r] : "unmatched",
                status, n);
        }
    put(t, "# HELP sparselaw_http_request_duration_seconds Time from first byte to response.\n"
           "# TYPE sparselaw_http_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t b = 0; b <= NBUCKET; b++) {
        cum += atomic_load_explicit(&m->hist[b], memory_order_relaxed);
        if (b < NBUCKET)
            put(t, "sparselaw_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[b],
                cum);
        else
            put(t, "sparselaw_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    put(t, "sparselaw_http_request_duration_seconds_sum %.6f\n",
        (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
    put(t, "sparselaw_http_request_duration_seconds_count %llu\n", cum);
}
