/*
 * sl_handle.h - one handler per route; each file serves one resource.
 * A handler reads the request, decodes with api/, computes with fitting/,
 * persists with the store and encodes with api/, in that visible order.
 */
#ifndef SL_HANDLE_H
#define SL_HANDLE_H

#include "sl_draws.h"
#include "sl_http.h"

/* sl_handle_laws.c */
struct sl_law_record;
/* The law named in the path, at ?version= or latest. On failure it has
 * answered (400 bad version, 404 unknown law) and returns -1; also -1 when
 * it answered 304, the client's copy being current (sl_req_not_modified). */
int sl_handle_path_law(sl_request *req, struct sl_law_record *rec);

void sl_handle_laws_list(sl_request *req);
void sl_handle_law_get(sl_request *req);
void sl_handle_law_versions(sl_request *req);
void sl_handle_law_put(sl_request *req);
void sl_handle_law_delete(sl_request *req);

/* sl_handle_queries.c */
void sl_handle_loss(sl_request *req);
void sl_handle_loss_batch(sl_request *req);
void sl_handle_optimal_sparsity(sl_request *req);
void sl_handle_plan(sl_request *req);
void sl_handle_equivalent_dense(sl_request *req);
void sl_handle_curve_loss_vs_data(sl_request *req);
void sl_handle_curve_optimal_sparsity(sl_request *req);
void sl_handle_contours(sl_request *req);

/* sl_handle_plans.c */
void sl_handle_compute_optimal(sl_request *req);
/* sl_handle_patterns.c: a law version's n:m pattern factors for queries. */
typedef struct sl_handle_patterns {
    size_t count;        /* the patterns asked about */
    const char *name[8]; /* "2:4", borrowed (8: SL_QUERY_MAX_PATTERNS) */
    double eta[8];       /* fitted factor, or 1 */
    int index[8];        /* into the record's patterns; -1: not fitted */
    unsigned npatterns;  /* the record's */
    double *draw_eta;    /* per draw, npatterns each; NULL without */
} sl_handle_patterns;
void sl_handle_patterns_load(sl_request *req, const struct sl_law_record *rec,
                             const char *const *names, size_t count, size_t ndraws,
                             sl_handle_patterns *out);
/* Pattern i's factor in draw `draw` (its fitted factor without draws, 1
 * when it has none). */
double sl_handle_patterns_draw_eta(const sl_handle_patterns *p, size_t i, size_t draw);
/* [{"pattern", "eta", "fitted", "interval"?, "note"?}, ...] */
json_t *sl_handle_patterns_json(const struct sl_law_record *rec, const sl_handle_patterns *p);
void sl_handle_patterns_free(sl_handle_patterns *p);

/* sl_handle_next_runs.c */
void sl_handle_next_runs(sl_request *req);
/* sl_handle_intervals.c: intervals from a fitted law's bootstrap draws.
 * fn is any quantity of (law, query) (fitting/sl_draws.h). */
typedef struct sl_handle_draws {
    sl_law *law; /* malloc'd, n of them; none for a law without draws */
    size_t n;
} sl_handle_draws;
void sl_handle_draws_load(sl_request *req, const struct sl_law_record *rec, sl_handle_draws *d);
void sl_handle_draws_free(sl_handle_draws *d);
/* obj's "intervals": {fields[k]: [lo, hi] or null} for fn's outputs k (one
 * per field, NULL-terminated list), "interval_draws": {field: draws that
 * gave it}, and their units in obj's "units"; nothing without draws. */
void sl_handle_add_intervals(json_t *obj, const sl_handle_draws *d, sl_draws_fn fn,
                             const void *query, const char *const *fields);
/* The interval of fn's nout outputs into lo, hi (NaN where draws give
 * none): 0, or -1 without draws. For the rows of a curve. */
int sl_handle_interval_row(const sl_handle_draws *d, sl_draws_fn fn, const void *query, size_t nout,
                           double *lo, double *hi);
/* A curve's bands: the draws for rows rows each evaluated on every draw,
 * or none past max evaluations (returning how many were dropped, for
 * sl_handle_band_note to say so); the units of band columns x_lo, x_hi in
 * body's "units" (with draws). */
size_t sl_handle_curve_draws(sl_request *req, const struct sl_law_record *rec, size_t rows,
                             size_t max, sl_handle_draws *d);
void sl_handle_band_note(json_t *body, size_t dropped, size_t rows, size_t max);
void sl_handle_band_units(json_t *body, const sl_handle_draws *d, const char *x);

/* sl_handle_compare.c */
void sl_handle_compare(sl_request *req);

/* sl_handle_datasets.c */
void sl_handle_dataset_create(sl_request *req);
void sl_handle_datasets_list(sl_request *req);
void sl_handle_dataset_get(sl_request *req);
void sl_handle_dataset_delete(sl_request *req);
void sl_handle_dataset_append(sl_request *req);

/* sl_handle_page.c: what the list routes share. Newest first, a page of
 * ?limit= items (default SL_PAGE_DEFAULT_LIMIT, at most SL_PAGE_MAX_LIMIT)
 * below the id ?before=; each answer says next_before (or null). */
#define SL_PAGE_DEFAULT_LIMIT 50
#define SL_PAGE_MAX_LIMIT     500

struct sl_store_page;

/* Each of these reads its query parameter; on failure it has answered 400
 * naming it and returns -1. ?limit= and ?before= into page. */
int sl_handle_page_params(sl_request *req, struct sl_store_page *page);
/* ?law=, a law name, or NULL when absent. */
int sl_handle_law_param(sl_request *req, const char **law);
/* ?state=, one of name(0) .. name(count - 1), as its index (count when
 * absent); an unknown one is refused with the list of the valid ones. */
int sl_handle_state_param(sl_request *req, const char *(*name)(int), int count, int *state);
/* {key: items, "next_before": id or null}; steals items. */
json_t *sl_handle_page_json(const char *key, json_t *items, const struct sl_store_page *page);

/* sl_handle_fits.c */
void sl_handle_fit_create(sl_request *req);
void sl_handle_fits_list(sl_request *req);
void sl_handle_fit_get(sl_request *req);

/* sl_handle_sweeps.c */
void sl_handle_sweep_create(sl_request *req);
void sl_handle_sweeps_list(sl_request *req);
void sl_handle_sweep_get(sl_request *req);
void sl_handle_sweep_runs(sl_request *req);
void sl_handle_sweep_delete(sl_request *req);
void sl_handle_run_get(sl_request *req);
void sl_handle_run_delete(sl_request *req);
void sl_handle_run_report(sl_request *req);
void sl_handle_backends(sl_request *req);

/* sl_handle_ops.c */
void sl_handle_healthz(sl_request *req);
void sl_handle_metrics(sl_request *req);
void sl_handle_openapi(sl_request *req);
void sl_handle_static(sl_request *req);

#endif
