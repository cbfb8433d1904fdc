/*
 * sl_metrics.h - request counters by route and status and a latency
 * histogram, rendered as Prometheus text. Lock-free: one atomic add each.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stddef.h>

#include "sl_buf.h"

typedef struct sl_metrics sl_metrics;

/* Route i is labelled by methods[i] and patterns[i]; requests matching no
 * route go under route "unmatched". */
sl_metrics *sl_metrics_new(const char *const *methods, const char *const *patterns, size_t nroutes);
void sl_metrics_free(sl_metrics *m);

/* route: an index below nroutes, or -1 for unmatched. */
void sl_metrics_observe(sl_metrics *m, int route, unsigned status, double seconds);

/* The exposition text; malloc'd, caller frees. */
void sl_metrics_render(const sl_metrics *m, sl_buf *t);

#endif
