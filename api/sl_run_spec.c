/* sl_run_spec.c - the names of the backends (sl_run_spec.h). */
#include "sl_run_spec.h"

#include <string.h>

static const char *const backend_names[SL_BACKEND_KIND_COUNT] = {"local", "worker", "slurm"};

const char *sl_backend_kind_name(sl_backend_kind kind) {
    return kind < SL_BACKEND_KIND_COUNT ? backend_names[kind] : "unknown";
}

int sl_backend_kind_parse(const char *text, sl_backend_kind *out) {
    for (int k = 0; text && k < SL_BACKEND_KIND_COUNT; k++)
        if (strcmp(text, backend_names[k]) == 0) {
            *out = (sl_backend_kind)k;
            return 0;
        }
    return -1;
}
