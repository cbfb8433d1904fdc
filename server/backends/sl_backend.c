/*
 * sl_backend.c - what every backend shares: freeing a status, reading the
 * trainer's JSON lines from a file, and judging how an ended run stands
 * from its result or error, and how long a peer has been silent
 * (sl_backend.h).
 */
#include "sl_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "sl_time.h"

#define LOG_MAX (16u << 20) /* a run's log is ~100 lines; more is not read */

void sl_backend_status_free(sl_backend_status *st) {
    json_decref(st->progress);
    json_decref(st->result);
    st->progress = st->result = NULL;
}

void sl_backend_read_log(const char *path, sl_backend_status *st, json_t **result, json_t **error,
                         int *started) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    json_t *evals = json_array();
    double val = -1;
    while ((n = getline(&line, &cap, f)) > 0 && total < LOG_MAX) {
        total += (size_t)n;
        if (line[n - 1] != '\n') break; /* still being written */
        json_t *ev = json_loads(line, 0, NULL);
        const char *kind = json_string_value(json_object_get(ev, "event"));
        if (!kind) {
            json_decref(ev);
            continue;
        }
        if (!strcmp(kind, "start")) {
            *started = 1;
        } else if (!strcmp(kind, "progress")) {
            json_t *v = json_object_get(ev, "val_loss");
            if (json_is_number(v)) {
                val = json_number_value(v);
                json_array_append_new(
                    evals, json_pack("{s:O, s:O, s:O}", "step", json_object_get(ev, "step"),
                                     "tokens", json_object_get(ev, "tokens"), "val_loss", v));
            }
            json_decref(st->progress);
            st->progress = json_object();
            static const char *const keep[] = {"step",     "steps",    "tokens",       "train_loss",
                                               "sparsity", "nonzeros", "tokens_per_s", "elapsed_s"};
            for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
                json_t *x = json_object_get(ev, keep[k]);
                if (x) json_object_set(st->progress, keep[k], x);
            }
            /* The latest validation loss, even when this step had none. */
            if (val >= 0) json_object_set_new(st->progress, "val_loss", json_real(val));
        } else if (!strcmp(kind, "result")) {
            json_decref(*result);
            *result = json_incref(ev);
            json_object_del(ev, "event");
        } else if (!strcmp(kind, "error")) {
            json_decref(*error);
            *error = json_incref(ev);
        }
        json_decref(ev);
    }
    if (st->progress) json_object_set(st->progress, "evaluations", evals);
    json_decref(evals);
    free(line);
    fclose(f);
}

/* Drops the UTF-8 sequence a truncation cut at the end of s: the texts a
 * reason quotes are whole UTF-8 (jansson read them), only the cut is not. */
static void drop_cut_sequence(char *s) {
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0) return;
    unsigned lead = (unsigned char)s[i - 1];
    size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < len) s[i - 1] = '\0';
}

void sl_backend_outcome(json_t *result, json_t *error, const char *how, sl_backend_status *out) {
    const char *status = json_string_value(json_object_get(result, "status"));
    if (status && !strcmp(status, "completed")) {
        out->state = SL_BACKEND_SUCCEEDED;
        out->result = json_incref(result);
    } else if (status && !strcmp(status, "diverged")) {
        out->state = SL_BACKEND_FAILED;
        snprintf(out->reason, sizeof out->reason,
                 "training diverged (non-finite loss) after step %lld",
                 (long long)json_integer_value(json_object_get(result, "step")));
    } else if (status) { /* interrupted: someone else stopped it */
        out->state = SL_BACKEND_LOST;
        snprintf(out->reason, sizeof out->reason, "the trainer was stopped (%s) after step %lld",
                 json_string_value(json_object_get(result, "signal"))
                     ? json_string_value(json_object_get(result, "signal"))
                     : "signal",
                 (long long)json_integer_value(json_object_get(result, "step")));
    } else if (error) {
        const char *code = json_string_value(json_object_get(error, "code"));
        const char *msg = json_string_value(json_object_get(error, "message"));
        /* Out of memory may pass; bad options or corpus will not. */
        out->state = code && !strcmp(code, "memory") ? SL_BACKEND_LOST : SL_BACKEND_FAILED;
        snprintf(out->reason, sizeof out->reason, "the trainer refused the run (%s): %.240s",
                 code ? code : "error", msg ? msg : "");
    } else {
        out->state = SL_BACKEND_LOST;
        snprintf(out->reason, sizeof out->reason, "the trainer process ended without a result (%s)",
                 how);
    }
    drop_cut_sequence(out->reason); /* it is stored, logged and answered as JSON */
}

double sl_backend_silent_for(double *since) {
    double t = sl_time_monotonic();
    if (*since == 0) *since = t;
    return t - *since;
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

size_t sl_backend_profile_values(const sl_run_spec *spec, unsigned threads, sl_profile_value *v) {
    size_t n = 0;
#define VALUE(key, ...)                                                                            \
    do {                                                                                           \
        v[n].name = (key);                                                                         \
        snprintf(v[n].text, sizeof v[n].text, __VA_ARGS__);                                        \
        n++;                                                                                       \
    } while (0)
    VALUE("width", "%u", spec->size.width);
    VALUE("layers", "%u", spec->size.layers);
    VALUE("heads", "%u", spec->size.heads);
    VALUE("sparsity", "%.17g", spec->sparsity);
    VALUE("pattern_n", "%u", spec->pattern_n);
    VALUE("pattern_m", "%u", spec->pattern_m);
    VALUE("tokens", "%lld", spec->tokens);
    VALUE("seed", "%lld", spec->seed);
    VALUE("threads", "%u", threads ? threads : 1);
    VALUE("devices", "%u", spec->device.kind == SL_DEVICE_CUDA ? spec->device.count : 0);
#undef VALUE
    return n;
}
