/*
 * sl_next_runs_json.h - the JSON of POST /v1/laws/{name}/next-runs: the
 * request (candidate runs, or a grid of them, with their cost, and the
 * decision they are to inform) and the ranked answer.
 */
#ifndef SL_NEXT_RUNS_JSON_H
#define SL_NEXT_RUNS_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "sl_errors.h"
#include "sl_law.h"
#include "sl_law_record.h"
#include "sl_next_runs.h"

#define SL_NEXT_RUNS_MAX_CANDIDATES 2000
#define SL_NEXT_RUNS_MAX_GRID_AXIS  64
#define SL_NEXT_RUNS_DEFAULT_TOP    20

typedef enum sl_decision_kind {
    SL_DECISION_OPTIMAL_SPARSITY = 0, /* S_opt for nonzeros and a budget */
    SL_DECISION_LOSS,                 /* the loss at a point */
} sl_decision_kind;

typedef struct sl_next_runs_request {
    sl_decision_kind kind;
    double sparsity, nonzeros, data; /* the decision's point; data is D_dense for S_opt */
    int given_compute;               /* S_opt's budget came as compute (FLOPs) */
    sl_cost cost;                    /* S_opt only */
    double max_sparsity;             /* S_opt only */
    sl_next_point *points;           /* the candidates, malloc'd */
    double *flops;                   /* their cost, FLOPs (or 6 N D-units for other laws) */
    size_t n;
    int from_grid;
    double noise; /* loss units; 0: the fit's rmse */
    size_t top;
} sl_next_runs_request;

/* {"decision": {"query": "optimal_sparsity", "nonzeros", "data" | "compute",
 *  "cost_model"?, "max_sparsity"?} | {"query": "loss", "sparsity", "nonzeros",
 *  "data"}, "candidates": [{"sparsity", "nonzeros", "data", "flops"?}] |
 *  "grid": {"sparsities", "nonzeros", "data"}, "noise"?, "top"?}. Malformed:
 * 400 invalid_body naming the path; a cost that cannot be derived (data not
 * in tokens and no flops) or compute for such a law: 422 unit_mismatch. */
int sl_next_runs_decode(json_t *body, const sl_law_record *rec, sl_next_runs_request *out,
                        sl_error *err);
void sl_next_runs_request_free(sl_next_runs_request *req);

/* The answer: the decision now, the noise used, and the top candidates by
 * narrowing per FLOP (ties: the earlier candidate), with units. value and
 * decision[0..ndraws) are the decision of the law and of each draw. */
json_t *sl_next_runs_json(const sl_law_record *rec, const sl_next_runs_request *req, double value,
                          const double *decision, size_t ndraws, double noise,
                          const char *noise_source, const sl_next_score *scores);

#endif
