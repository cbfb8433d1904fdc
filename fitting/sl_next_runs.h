/*
 * sl_next_runs.h - which run to do next: how much one more observation at a
 * candidate point is expected to narrow a decision quantity (S_opt at some
 * budget, a loss), judged with the bootstrap draws of a fitted law.
 *
 * The draws stand for what the data allow. A run at x observes
 * y = L(x) + e, e ~ N(0, noise^2). Treating the decision q and the loss at x
 * as jointly Gaussian over the draws (the ensemble Kalman update), observing
 * y leaves q the variance
 *
 *     Var(q) - Cov(q, L(x))^2 / (Var(L(x)) + noise^2),
 *
 * whatever y turns out to be; its square root beside the decision's
 * standard deviation now is the expected narrowing. A run narrows q when the
 * draws disagree on its loss by more than the noise (Var L large next to
 * noise^2) in a way that goes with the decision (Cov large); where they
 * agree, or disagree in ways unrelated to q, nothing is learnt. Variances and
 * covariances are the draws' sample moments (n - 1 in the denominator).
 *
 * Pure C: no I/O, no allocation but one scratch array. Costs candidates x
 * draws evaluations of the law.
 */
#ifndef SL_NEXT_RUNS_H
#define SL_NEXT_RUNS_H

#include <stddef.h>

#include "sl_law.h"

typedef struct sl_next_point {
    double sparsity, nonzeros, data; /* S in [0, 1), N > 0, D > 0 */
} sl_next_point;

typedef struct sl_next_score {
    double loss_spread; /* standard deviation of the loss over the draws, loss units */
    double sd_after;    /* expected standard deviation of the decision after the run */
    double narrowing;   /* sd now - sd_after, >= 0, the decision's units */
} sl_next_score;

/* The standard deviation of decision[0..n) (n - 1 in the denominator). */
double sl_next_runs_sd(const double *decision, size_t n);

/* Scores points[0..npoints) against draws[0..ndraws) whose decision values
 * are decision[0..ndraws); noise > 0 in loss units. 0, or SL_LAW_EINVAL for
 * ndraws < 2, a bad noise or point, or an invalid draw; -2 when the scratch
 * array cannot be had. */
int sl_next_runs_score(const sl_law *draws, const double *decision, size_t ndraws, double noise,
                       const sl_next_point *points, size_t npoints, sl_next_score *out);

#endif
