/*
 * sl_plan.h - planning beyond S_opt (docs/planning.md): plans for a target
 * loss under either cost model, fixed choices of sparsity, the compute
 * frontier with N free, inference-aware plans, pruning a pretrained dense
 * model, iso-S_opt lines under either cost model, and GPU time.
 *
 * Every answer is a function of (law, query): the query structs below hold
 * all a client chose, so the same question can be asked of each bootstrap
 * draw of a fitted law. Pure C: no I/O, no global state, no allocation.
 * Functions return 0 (SL_LAW_OK) or a negative sl_law_status.
 */
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include <stddef.h>

#include "sl_law.h"

/* ---- pruning a pretrained dense model ---- */

/* Where a strategy starts: training sparse from scratch, or pruning a
 * pretrained dense checkpoint. */
typedef enum sl_plan_strategy { SL_PLAN_SCRATCH = 0, SL_PLAN_PRETRAINED = 1 } sl_plan_strategy;

/* The paper's three points (T5 on C4): from scratch needs r times more data
 * than pruning a pretrained checkpoint. No data outside [0.5, 0.875]. */
#define SL_PLAN_PRETRAINED_MIN 0.5
#define SL_PLAN_PRETRAINED_MAX 0.875

/* r(S), log r linear in log(1 - S) between the points; SL_LAW_EINVAL for S
 * outside [SL_PLAN_PRETRAINED_MIN, SL_PLAN_PRETRAINED_MAX]. */
int sl_plan_pretrained_factor(double s, double *r);

/* The loss after d units of training at S: L(S, N, D), or for a pruning run
 * L(S, N, r(S) D) (NaN where r is not defined). */
double sl_plan_loss(const sl_law *law, sl_plan_strategy strategy, double s, double n, double d);

/* Training compute of a run at S on d units: 6 (N / (1 - S)) D g(S), g the
 * cost model's mean density. */
double sl_plan_training_compute(const sl_cost *cost, double s, double n, double d);

/* ---- plans for a target loss, N fixed ---- */

/* The question of GET plan with nonzeros: fixed_sparsity NaN for the
 * cheapest S in [0, max_sparsity] (for pretrained, in the part of
 * [0.5, 0.875] below max_sparsity), else exactly that S. */
typedef struct sl_plan_query {
    double target_loss, nonzeros;
    sl_cost cost;
    double max_sparsity;
    double fixed_sparsity;
    sl_plan_strategy strategy;
} sl_plan_query;

/* Data a run at S needs to reach target (INFINITY where it cannot). */
double sl_plan_data_for_loss(const sl_law *law, sl_plan_strategy strategy, double target, double s,
                             double n);

/* SL_LAW_UNREACHABLE when no S allowed reaches the target with finite data;
 * SL_LAW_EINVAL for arguments out of range (pretrained S outside its span). */
int sl_plan_solve(const sl_law *law, const sl_plan_query *q, sl_law_plan *out);

/* ---- optimal sparsity with a strategy, and at a fixed sparsity ---- */

/* The loss of a model at S for the budget of d_dense (sl_law.h), with the
 * strategy's data: the fixed-choice counterpart of sl_law_optimal_sparsity. */
int sl_plan_optimum_at(const sl_law *law, const sl_cost *cost, sl_plan_strategy strategy, double n,
                       double d_dense, double s, sl_law_optimum *out);

/* sl_law_optimal_sparsity for SL_PLAN_SCRATCH; for pretrained the best S in
 * [0.5, min(0.875, max_sparsity)] (EINVAL when max_sparsity < 0.5). */
int sl_plan_optimal_sparsity(const sl_law *law, const sl_cost *cost, sl_plan_strategy strategy,
                             double n, double d_dense, double max_sparsity, sl_law_optimum *out);

/* ---- iso-S_opt lines under either cost model ---- */

/* The budget (as D_dense) at which S_opt = s for n non-zeros: the zero of
 * dL/dS is linear in (a_d / D_dense)^b_d, so closed form for both cost
 * models. NaN when the cost model never stops S from growing (gmp with
 * t0 = t1 = 0: S_opt is max_sparsity at every budget). */
double sl_plan_iso_sparsity_data(const sl_law *law, const sl_cost *cost, double n, double s);

/* ---- the compute frontier, N free ---- */

/* At training compute C (6 N D g / (1 - S), in the law's compute unit):
 * the (N, S, D) with the lowest loss. max_nonzeros INFINITY when free;
 * sparsities/count the candidates (with dense) when patterns were given,
 * else count = 0 and S is searched over [0, max_sparsity]. */
typedef struct sl_frontier_query {
    double compute;
    sl_cost cost;
    double max_nonzeros;
    double max_sparsity;
    const double *sparsities;
    size_t count;
} sl_frontier_query;

typedef struct sl_frontier {
    double sparsity, nonzeros, data, loss;
    int capped;    /* N is max_nonzeros, not the unconstrained split */
    size_t chosen; /* index into sparsities, or count for dense / S searched */
} sl_frontier;

/* For fixed S: the best N (the Chinchilla split, clipped to max_nonzeros). */
int sl_plan_frontier_at(const sl_law *law, const sl_frontier_query *q, double s, sl_frontier *out);
/* With S searched: the zero of one slope in x = 1 - S (docs/planning.md),
 * and where the free optimum's N is past max_nonzeros, of the slope with N
 * on the bound. */
int sl_plan_frontier_solve(const sl_law *law, const sl_frontier_query *q, sl_frontier *out);

/* The same answer (to rounding), its search started at near's sparsity (the
 * point estimate's answer, for each bootstrap draw); NULL: from scratch. */
int sl_plan_frontier_solve_near(const sl_law *law, const sl_frontier_query *q,
                                const sl_frontier *near, sl_frontier *out);

/* b_n c_s / (a_s (b_s - b_n)): under the dense cost model with N free, the
 * density x = 1 - S where the sparse term at fixed total size is stationary
 * is this to the power 1 / b_s; at or above 1 the optimum is dense.
 * INFINITY when b_s <= b_n (the term then falls all the way to x = 1). */
double sl_plan_dense_stationary(const sl_law *law);

/* ---- inference-aware plans, N free ---- */

typedef enum sl_inference_cost {
    SL_INFER_NONZEROS = 0, /* 2 FLOPs per non-zero per token: kernels skip zeros */
    SL_INFER_TOTAL = 1,    /* 2 FLOPs per parameter per token: masked dense kernels */
} sl_inference_cost;

/* max_nonzeros: the largest N the plan may have (a model that can be
 * served); 0, as a zero-initialised query has, or INFINITY for none. */
typedef struct sl_inference_query {
    double target_loss, tokens;
    sl_inference_cost kind;
    sl_cost cost;
    double max_sparsity;
    double max_nonzeros;
} sl_inference_query;

typedef struct sl_inference_plan {
    double nonzeros, sparsity, data, loss;
    double training_compute, inference_compute, total_compute;
    int capped; /* N is max_nonzeros: the plan without the bound is bigger */
} sl_inference_plan;

/* The (N, S, D) reaching target_loss at the lowest training plus inference
 * compute: two root finds (docs/planning.md) over S and the part of the
 * target left to data, with N at most 18 decades above where the target
 * comes into reach and at most 1e30. SL_LAW_UNREACHABLE when target_loss
 * <= c (no N reaches it), or when no plan is finite (a target so far above
 * the law that N or D leaves the doubles). With max_nonzeros below the
 * free plan's N: the plan on the bound, N = max_nonzeros and its best S
 * (capped; docs/planning.md), SL_LAW_UNREACHABLE where no S reaches the
 * target at that N. */
int sl_inference_solve(const sl_law *law, const sl_inference_query *q, sl_inference_plan *out);

/* The same answer (to rounding), found from near: the plan of a nearby law
 * or query, as the point estimate's plan is for each bootstrap draw, where
 * the search starts instead of spanning all of N and S. NULL: from
 * scratch, as sl_inference_solve. */
int sl_inference_solve_near(const sl_law *law, const sl_inference_query *q,
                            const sl_inference_plan *near, sl_inference_plan *out);

/* Total compute of the plan (N, S) for q: training + inference; INFINITY
 * where the target is out of reach at (N, S). */
double sl_inference_total(const sl_law *law, const sl_inference_query *q, double n, double s);

/* ---- GPU time ---- */

/* GPU-hours for compute FLOPs at peak FLOP/s x mfu x speedup. */
double sl_plan_gpu_hours(double compute, double peak_flops, double mfu, double speedup);

#endif
