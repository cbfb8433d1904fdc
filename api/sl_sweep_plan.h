/*
 * sl_sweep_plan.h - what a sweep's grid can identify and what it costs,
 * judged at submission: the design against the fitter's thresholds
 * (fitting/sl_fit_design.h, the ones the fit verdict uses), and the
 * training FLOPs of every run.
 */
#ifndef SL_SWEEP_PLAN_H
#define SL_SWEEP_PLAN_H

#include <stddef.h>

#include "sl_fit_design.h"
#include "sl_run_spec.h"

/* Matmul weights one token passes through in a model of this size: 12 L C^2
 * in the blocks and 256 C in the byte-level output projection. A masked
 * weight still multiplies, so sparsity does not change it. */
double sl_run_weights(unsigned layers, unsigned width);

/* Training FLOPs of one run: 6 x weights x tokens (forward and backward). */
double sl_run_flops(const sl_run_spec *spec);

/* The non-zeros a run at this point ends with: (1 - S) x 12 L C^2, the
 * prunable block weights left. The trainer measures its own; this is the
 * estimate the design check needs before any run. */
double sl_run_nonzeros_estimate(const sl_run_spec *spec);

/* The design of points[0..n) (S, estimated N, D) and its problems, as
 * sl_fit_design_issues writes them; returns how many. */
int sl_sweep_design_check(const sl_run_spec *points, size_t n, sl_fit_design *design,
                          sl_fit_design_issue *issues);

#endif
