/*
 * sl_fit_design.c - counting a design's levels and spans and naming what it
 * leaves undetermined (thresholds in sl_fit_design.h).
 */
#include "sl_fit_design.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int sl_fit_design_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Distinct levels of v (sorted in place) and log10(max / min) of the
 * positive ones. rel is the relative tolerance within which two values are
 * one level. */
static unsigned sl_fit_design_levels(double *v, size_t n, double rel, double *decades) {
    *decades = 0;
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, sl_fit_design_cmp);
    unsigned levels = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] - v[i - 1] > rel * fabs(v[i])) levels++;
    if (v[0] > 0) *decades = log10(v[n - 1] / v[0]);
    return levels;
}

void sl_fit_design_of(const double *sparsity, const double *nonzeros, const double *data, size_t n,
                      sl_fit_design *out) {
    *out = (sl_fit_design){.points = n};
    double *tmp = n ? malloc(n * sizeof *tmp) : NULL;
    if (!tmp) return;
    const double *cols[3] = {sparsity, nonzeros, data};
    unsigned *levels[3] = {&out->sparsities, &out->nonzeros, &out->data};
    double span[3];
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < n; i++)
            tmp[i] = cols[c][i];
        *levels[c] = sl_fit_design_levels(tmp, n, c == 0 ? 0 : 1e-9, &span[c]);
    }
    out->nonzero_decades = span[1];
    out->data_decades = span[2];
    free(tmp);
}

/* The T5 sweep's 3 data amounts over 4x read "spanning 4x", not 10^0.6. */
static double sl_fit_design_ratio(double decades) {
    return pow(10, decades);
}

int sl_fit_design_issues(const sl_fit_design *d, sl_fit_design_issue *issues) {
    int k = 0;
#define SL_FIT_DESIGN_ISSUE(c, ...)                                                                \
    do {                                                                                           \
        issues[k].code = (c);                                                                      \
        snprintf(issues[k].message, sizeof issues[k].message, __VA_ARGS__);                        \
        k++;                                                                                       \
    } while (0)
    if (d->sparsities < SL_FIT_DESIGN_MIN_SPARSITIES)
        SL_FIT_DESIGN_ISSUE("few_sparsities",
                            "only %u sparsities (at least %d needed): a_s, b_s and c_s are not "
                            "determined, and S_opt depends on them",
                            d->sparsities, SL_FIT_DESIGN_MIN_SPARSITIES);
    if (d->nonzeros < SL_FIT_DESIGN_MIN_NONZEROS)
        SL_FIT_DESIGN_ISSUE("few_nonzeros",
                            "only %u model sizes spanning %.3gx (at least %d needed): b_n is not "
                            "determined, and predictions at other sizes depend on it",
                            d->nonzeros, sl_fit_design_ratio(d->nonzero_decades),
                            SL_FIT_DESIGN_MIN_NONZEROS);
    else if (d->nonzero_decades < SL_FIT_DESIGN_MIN_NONZERO_SPAN)
        SL_FIT_DESIGN_ISSUE("narrow_nonzeros",
                            "%u model sizes spanning only %.3gx (10x needed): b_n is weakly "
                            "determined, and extrapolation in N depends on it",
                            d->nonzeros, sl_fit_design_ratio(d->nonzero_decades));
    if (d->data < SL_FIT_DESIGN_MIN_DATA)
        SL_FIT_DESIGN_ISSUE("few_data",
                            "only %u data amounts spanning %.3gx (at least %d needed): a_d, b_d "
                            "and c are not determined, and S_opt at other data amounts depends "
                            "on them",
                            d->data, sl_fit_design_ratio(d->data_decades), SL_FIT_DESIGN_MIN_DATA);
    else if (d->data_decades < SL_FIT_DESIGN_MIN_DATA_SPAN)
        SL_FIT_DESIGN_ISSUE("narrow_data",
                            "%u data amounts spanning only %.3gx (10x needed): a_d, b_d and c are "
                            "weakly determined, and S_opt at data amounts outside that range "
                            "depends on them",
                            d->data, sl_fit_design_ratio(d->data_decades));
#undef SL_FIT_DESIGN_ISSUE
    return k;
}
