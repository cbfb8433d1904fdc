/*
 * sl_query_json.h - the JSON of planning queries: the batch-loss request, and
 * the result objects of loss, optimal-sparsity and plan. Field names are the
 * contract's (DESIGN.md, "Names on the wire").
 */
#ifndef SL_QUERY_JSON_H
#define SL_QUERY_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "sl_errors.h"
#include "sl_law.h"
#include "sl_law_json.h"
#include "sl_plan.h"
#include "sl_query.h"

#define SL_BATCH_MAX_POINTS 10000

typedef struct sl_point {
    double sparsity, nonzeros, data;
} sl_point;

/* {"points": [{"sparsity", "nonzeros", "data"}, ...]}: 1..max points, each
 * validated; *out is malloc'd. Errors name the path, e.g. points[3].data. */
int sl_points_decode(const json_t *body, size_t max, sl_point **out, size_t *count, sl_error *err);

/* The loss object at one point: loss, sparsity, nonzeros, data,
 * total_params, dense_equivalent_params, loss_floor. */
json_t *sl_loss_json(const sl_law *law, const sl_point *p);

typedef struct sl_optimum_query {
    double nonzeros;
    double dense_data; /* D_dense: the budget as data for a dense N model */
    int given_compute; /* the client sent compute= rather than data= */
    sl_cost cost;
    double max_sparsity; /* NaN when patterns were given */
    const char *pattern; /* "unstructured", "dense" or "n:m" */
} sl_optimum_query;

/* The optimal-sparsity object, with units. */
json_t *sl_optimum_json(const sl_law_record *rec, const sl_optimum_query *q,
                        const sl_law_optimum *opt);

/* The plan object, with units; dense_plan may be NULL when a dense model
 * cannot reach the target. */
json_t *sl_plan_json(const sl_law_record *rec, double target_loss, double nonzeros,
                     const sl_law_plan *plan, const sl_law_plan *dense_plan);

/* ---- planning beyond S_opt (docs/planning.md) ---- */

/* Adds cost_model and, for gmp, pruning {start, end} to obj. */
void sl_cost_add_json(json_t *obj, const sl_cost *cost);

/* The GPU-hours and money of compute (the law's compute unit) for a model
 * of pattern ("dense", "unstructured" or "n:m"), or NULL when hw was not
 * given. For laws whose data is not tokens it says the FLOPs-per-example
 * conversion is missing instead. */
json_t *sl_hardware_json(const sl_hardware *hw, const sl_law_record *rec, double compute,
                         const char *pattern);
/* obj[key] = sl_hardware_json(...) when hw was given. */
void sl_hardware_add_json(json_t *obj, const char *key, const sl_hardware *hw,
                          const sl_law_record *rec, double compute, const char *pattern);

/* The strategy block of a pretrained start at sparsity (NULL from scratch):
 * the data factor, that it is empirical, and the pretraining compute
 * (sunk when pretrain is NaN, else counted on top of run_compute, which
 * may be NaN where the answer has no compute). */
json_t *sl_strategy_json(sl_plan_strategy strategy, double sparsity, double pretrain,
                         double run_compute, const sl_law_record *rec);

/* The compute-optimal answer: best, the S = 0 optimum beside it, the
 * pattern of best, why it is dense or sparse. */
json_t *sl_frontier_json(const sl_law_record *rec, const sl_frontier_query *q,
                         const sl_frontier *best, const sl_frontier *dense, const char *pattern,
                         const sl_hardware *hw);

/* The inference-aware plan, with the training-only plan (T = 0, under the
 * same bound on N) beside, and where p is capped at max_nonzeros, the plan
 * without the bound (unbounded, NULL where it has none). */
json_t *sl_inference_json(const sl_law_record *rec, const sl_inference_query *q,
                          const sl_inference_plan *p, const sl_inference_plan *training_only,
                          const sl_inference_plan *unbounded, const sl_hardware *hw);

#endif
