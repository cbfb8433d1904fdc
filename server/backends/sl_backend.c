/*
 * sl_backend.c - what every backend shares: freeing a status, reading the
 * trainer's JSON lines from a file and judging an ended attempt by the run
 * protocol (sl_proto.h), and how long a peer has been silent (sl_backend.h).
 */
#include "sl_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_time.h"

void sl_backend_status_free(sl_backend_status *st) {
    json_decref(st->progress);
    json_decref(st->result);
    st->progress = st->result = NULL;
}

void sl_backend_read_log(const char *path, sl_proto_log *log, sl_backend_status *st) {
    if (sl_proto_log_read(path, log) != 0) return;
    json_t *p = sl_proto_log_progress(log);
    if (!p) return;
    json_decref(st->progress);
    st->progress = p;
}

void sl_backend_outcome(const sl_proto_log *log, int exit_status, const char *how,
                        sl_backend_status *out) {
    out->failure = sl_proto_outcome(log, exit_status, how, out->reason, sizeof out->reason);
    if (out->failure == SL_PROTO_SUCCEEDED) {
        out->state = SL_BACKEND_SUCCEEDED;
        json_decref(out->result);
        out->result = json_incref(log->result);
    } else {
        out->state = SL_BACKEND_FAILED;
    }
}

void sl_backend_fail(sl_backend_status *out, sl_proto_failure f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    out->state = SL_BACKEND_FAILED;
    out->failure = f;
}

int sl_backend_unanswered(double *since, double lost_after, const char *who, const char *problem,
                          sl_backend_status *out) {
    double t = sl_time_monotonic();
    if (*since == 0) *since = t;
    double silent = t - *since;
    if (silent < lost_after) return -1;
    sl_backend_fail(out, SL_PROTO_BACKEND_UNAVAILABLE,
                    "%.200s has not answered for %lld s (%.100s)", who, (long long)silent, problem);
    return 0;
}

int sl_backend_profiles_can_run(const sl_profile *list, size_t n, unsigned bit, const char *name,
                                const sl_device *has, const char *profile, sl_device *needs,
                                char *why, size_t cap) {
    char a[24], b[24];
    if (profile && profile[0]) {
        const sl_profile *p = sl_profile_find(list, n, profile);
        if (!p) {
            snprintf(why, cap, "the %s backend has no trainer profile '%s'", name, profile);
            return 0;
        }
        if (!(p->backends & bit)) {
            snprintf(why, cap, "trainer profile '%s' may not run on the %s backend (its backends)",
                     profile, name);
            return 0;
        }
        if (p->device.kind == SL_DEVICE_CUDA &&
            (needs->kind != SL_DEVICE_CUDA || needs->count < p->device.count))
            *needs = p->device;
    }
    if (!sl_device_satisfies(has, needs)) {
        snprintf(why, cap, "the %s backend has %s; the runs need %s", name,
                 sl_device_format(has, a, sizeof a), sl_device_format(needs, b, sizeof b));
        return -1;
    }
    return 1;
}

size_t sl_backend_profiles_offered(const sl_profile *list, size_t n, unsigned bit, sl_profile *out,
                                   size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (list[i].backends & bit) out[k++] = list[i];
    return k;
}

size_t sl_backend_profile_values(const sl_run_spec *spec, unsigned threads, sl_profile_value *v) {
    sl_proto_spec ps;
    sl_run_spec_proto(spec, &ps);
    if (!ps.given[SL_PROTO_THREADS] || ps.value[SL_PROTO_THREADS] == 0)
        ps.value[SL_PROTO_THREADS] = threads ? threads : 1;
    return sl_profile_values(&ps, spec->device.kind == SL_DEVICE_CUDA ? spec->device.count : 0, v);
}
