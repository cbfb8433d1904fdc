/*
 * sl_backend_worker.h - the worker backend: calibration runs on a machine
 * running `sparselaw-train serve` (trainer/sl_train_serve.h), driven over
 * HTTP with libcurl. The run's reference is the worker's run id.
 */
#ifndef SL_BACKEND_WORKER_H
#define SL_BACKEND_WORKER_H

#include <stddef.h>

#include "sl_backend.h"

/* url: "http://host:port" of the worker (a trailing '/' is dropped); token:
 * its bearer token; max_active: runs sent to it at once (its --max-active);
 * lost_after: seconds (> 0) the worker may stay unreachable (or answer
 * nonsense) before its runs count as lost; until then a poll answers
 * "cannot tell now". Calls curl_global_init, so create it before other
 * threads use libcurl. NULL with the reason in err. */
sl_backend *sl_backend_worker_new(const char *url, const char *token, unsigned max_active,
                                  double lost_after, char *err, size_t errcap);
/* The configured GFLOP/s of one run on the worker (--worker-gflops). */
void sl_backend_worker_set_gflops(sl_backend *b, double gflops);

#endif
