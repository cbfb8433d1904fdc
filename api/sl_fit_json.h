/*
 * sl_fit_json.h - the JSON of fit jobs: the request of POST /v1/fits, and the
 * result a finished fit reports (GET /v1/fits/{id}) and publishes with its
 * law (the law's `fit` object).
 */
#ifndef SL_FIT_JSON_H
#define SL_FIT_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_dataset.h"
#include "sl_errors.h"
#include "sl_fit.h"
#include "sl_fit_diag.h"
#include "sl_law_json.h"

#define SL_FIT_REQUEST_MAX_RUN_IDS   1000
#define SL_FIT_DEFAULT_BOOTSTRAP     200
#define SL_FIT_MAX_REQUEST_BOOTSTRAP 10000
#define SL_FIT_MAX_REQUEST_STARTS    10000

typedef enum sl_holdout_kind {
    SL_HOLDOUT_NONE = 0,
    SL_HOLDOUT_RUN_IDS,                 /* rows whose run_id is listed */
    SL_HOLDOUT_LARGEST_NONZEROS,        /* the k rows with the largest nonzeros */
    SL_HOLDOUT_LARGEST_NONZEROS_LEVELS, /* every row of the k largest nonzeros levels */
} sl_holdout_kind;

/* Nonzeros within this relative distance of a level's largest value belong
 * to that level: one model size reached through rounding is one level. */
#define SL_FIT_LEVEL_REL_TOL 1e-9
#define SL_FIT_MAX_ROLLOUT   100

typedef struct sl_fit_request {
    long long dataset;
    char law[SL_LAW_NAME_MAX + 1]; /* the law the fit publishes a version of */
    sl_fit_loss loss;
    uint64_t seed;
    unsigned starts;
    unsigned bootstrap;
    sl_holdout_kind holdout;
    size_t largest_nonzeros; /* k of largest_nonzeros and of largest_nonzeros_levels */
    unsigned rollout_levels; /* m: rollout over the m largest levels; 0: none */
    int pattern_factors;     /* fit one factor per n:m pattern of the rows */
    json_t *run_ids;         /* array of strings when holdout is by run id; owned */
    /* The fit reads the dataset's first dataset_rows rows: pinned when the fit
     * is requested, so rows appended later do not change it. 0: not pinned. */
    long long dataset_rows;
    /* "publish": "always" publishes even an unidentified fit; the default,
     * "unless_unidentified", publishes good and weak ones. */
    int publish_always;
    /* "reference": {"nonzeros", "data"}: the query of S_opt along the
     * profiles (data as D_dense); 0: the default (sl_fit_diag.h). */
    double ref_nonzeros, ref_data;
} sl_fit_request;

/* {"dataset": id, "dataset_rows"?: k, "law": name, "loss"?: {"delta"?, "residuals"?: plain|log},
 *  "seed"?, "starts"?, "bootstrap"?, "holdout"?: {"run_ids": [...]} |
 *  {"largest_nonzeros": k} | {"largest_nonzeros_levels": k}, "rollout"?: {"levels": m},
 *  "pattern_factors"?: bool}.
 * Defaults: log residuals, delta 1e-3, seed 0,
 * starts SL_FIT_DEFAULT_STARTS, bootstrap SL_FIT_DEFAULT_BOOTSTRAP. */
int sl_fit_request_decode(json_t *body, sl_fit_request *out, sl_error *err);
/* The request with its defaults filled in: what the job stores and reports. */
json_t *sl_fit_request_json(const sl_fit_request *req);
void sl_fit_request_free(sl_fit_request *req);

/* The rows of a dataset a fit request fits, and the ones it holds out. */
typedef struct sl_fit_selection {
    unsigned char *heldout; /* one flag per dataset row: 1 when held out */
    sl_fit_row *rows;       /* the other rows, in dataset order */
    size_t n;               /* how many rows there are to fit */
    double *levels;         /* distinct nonzeros of rows, largest first */
    size_t nlevels;
    /* With pattern_factors: per row, 0 (unstructured) or k for the factor
     * of pattern_names[k - 1]; the patterns in order of first appearance. */
    unsigned *pattern;
    unsigned npatterns;
    char pattern_names[SL_FIT_MAX_PATTERNS][SL_LAW_PATTERN_NAME];
    size_t pattern_rows[SL_FIT_MAX_PATTERNS];
} sl_fit_selection;

/* Sets the request's hold-out aside and gathers the rest of ds to fit. 0, or
 * -1 with err (422) when the hold-out matches nothing or leaves nothing to
 * fit; sel is to be freed with sl_fit_selection_free either way. */
int sl_fit_select(const sl_fit_request *req, const sl_dataset *ds, sl_fit_selection *sel,
                  sl_error *err);
void sl_fit_selection_free(sl_fit_selection *sel);

/* The distinct nonzeros levels of rows[0..n), largest first, into levels
 * (room for n); a value within SL_FIT_LEVEL_REL_TOL of the level above it
 * joins that level. Returns how many. */
size_t sl_fit_nonzeros_levels(const sl_fit_row *rows, size_t n, double *levels);

/* One rollout step's rows (sl_fit_rollout_split), in selection order: train
 * the rows below the step's level, test the level's own. With pattern
 * factors (sel->npatterns), each row's factor among those of the patterns
 * train has (numbered from 1 in order of first appearance, npatterns of
 * them; 0 unstructured); a level row whose pattern has no rows below has no
 * factor to predict it with and is left out of test, counted in unfitted. */
typedef struct sl_fit_rollout_rows {
    sl_fit_row *train, *test;               /* room for sel->n each */
    unsigned *train_pattern, *test_pattern; /* likewise, or NULL without factors */
    size_t ntrain, ntest, unfitted;
    unsigned npatterns;
} sl_fit_rollout_rows;

/* Room for the steps of sel (abort when out of memory); free with
 * sl_fit_rollout_rows_free. */
void sl_fit_rollout_rows_init(sl_fit_rollout_rows *r, const sl_fit_selection *sel);
void sl_fit_rollout_rows_free(sl_fit_rollout_rows *r);
/* Rollout step `step` (0: the largest level sel->levels[0]) into r. */
void sl_fit_rollout_split(const sl_fit_selection *sel, size_t step, sl_fit_rollout_rows *r);

/* One rollout step's result, for sl_fit_rollout_json. */
typedef struct sl_fit_rollout_step {
    double nonzeros;       /* the level extrapolated to */
    size_t fitted_rows;    /* rows below it that were fitted */
    size_t fitted_levels;  /* their distinct nonzeros */
    size_t unfitted;       /* the level's rows of patterns the rows below lack */
    double largest_fitted; /* the largest nonzeros fitted */
    sl_fit_errors errors;  /* of the fit below on the level's rows */
} sl_fit_rollout_step;

/* The result's `rollout` object: {levels, steps: [...], units}. */
json_t *sl_fit_rollout_json(const sl_fit_request *req, const sl_fit_rollout_step *steps, size_t n);

/* The result object of a succeeded fit: coefficients, objective, rmse,
 * max_abs_error, mean_abs_rel_error, residuals (one per row, held-out rows
 * marked), intervals, holdout, seconds, starts. */
json_t *sl_fit_result_json(const sl_fit_request *req, const sl_dataset *ds,
                           const sl_fit_selection *sel, const sl_fit_result *res, double seconds);

/* The fitted pattern factors into the law record to publish. */
void sl_fit_patterns_record(const sl_fit_selection *sel, const sl_fit_result *res,
                            sl_law_record *rec);

/* The diagnostics of a fit (GET /v1/fits/{id} `diagnostics`, and kept with
 * the law version), with units for the law's data unit. */
json_t *sl_fit_diag_json(const sl_fit_diag *d, sl_data_unit unit);
/* [{code, level, message}]: the reasons of the verdict. */
json_t *sl_fit_reasons_json(const sl_fit_diag *d);
/* ["sentence", ...]: the reasons as the warnings of a weak or unidentified
 * law version; [] for a good one. */
json_t *sl_fit_warnings_json(const sl_fit_diag *d);

/* The law's `fit` object: {objective, rmse, rows, intervals, level, ...}. */
json_t *sl_fit_summary_json(const sl_fit_request *req, const sl_fit_result *res, long long fit_id);

#endif
