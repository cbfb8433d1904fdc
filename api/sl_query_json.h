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

#endif
