/*
 * sl_sweep_plan.c - a sweep's design check and its FLOPs (sl_sweep_plan.h).
 */
#include "sl_sweep_plan.h"

#include <stdlib.h>

double sl_run_weights(unsigned layers, unsigned width) {
    double L = (double)layers, C = (double)width;
    return 12.0 * L * C * C + 256.0 * C;
}

double sl_run_flops(const sl_run_spec *spec) {
    return 6.0 * sl_run_weights(spec->size.layers, spec->size.width) * (double)spec->tokens;
}

double sl_run_nonzeros_estimate(const sl_run_spec *spec) {
    double C = (double)spec->size.width;
    return (1.0 - spec->sparsity) * 12.0 * (double)spec->size.layers * C * C;
}

int sl_sweep_design_check(const sl_run_spec *points, size_t n, sl_fit_design *design,
                          sl_fit_design_issue *issues) {
    double *cols = malloc(3 * (n ? n : 1) * sizeof *cols);
    if (!cols) abort();
    for (size_t i = 0; i < n; i++) {
        cols[i] = points[i].sparsity;
        cols[n + i] = sl_run_nonzeros_estimate(&points[i]);
        cols[2 * n + i] = (double)points[i].tokens;
    }
    sl_fit_design_of(cols, cols + n, cols + 2 * n, n, design);
    free(cols);
    return sl_fit_design_issues(design, issues);
}
