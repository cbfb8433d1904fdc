/* sl_run_spec.c - the names of the backends, and a run spec in the
 * protocol's terms (sl_run_spec.h). */
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

void sl_run_spec_proto(const sl_run_spec *spec, sl_proto_spec *out) {
    char err[200];
    *out = spec->trainer;
    /* Checked when the spec was decoded: these cannot fail. */
    sl_proto_set(out, SL_PROTO_LAYERS, spec->size.layers, NULL, err, sizeof err);
    sl_proto_set(out, SL_PROTO_WIDTH, spec->size.width, NULL, err, sizeof err);
    sl_proto_set(out, SL_PROTO_HEADS, spec->size.heads, NULL, err, sizeof err);
    sl_proto_set(out, SL_PROTO_SPARSITY, spec->sparsity, NULL, err, sizeof err);
    sl_proto_set_pattern(out, spec->pattern_n, spec->pattern_m, NULL, err, sizeof err);
    sl_proto_set(out, SL_PROTO_TOKENS, (double)spec->tokens, NULL, err, sizeof err);
    sl_proto_set(out, SL_PROTO_SEED, (double)spec->seed, NULL, err, sizeof err);
}
