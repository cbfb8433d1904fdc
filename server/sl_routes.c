/*
 * sl_routes.c - the route table: the one place that says which method and
 * path reach which handler, with which query parameters and flags. The
 * dispatcher, /metrics labels and the openapi.json sync test all read it.
 */
#include <stdio.h>
#include <string.h>

#include "sl_handle.h"

#define AUTH      SL_ROUTE_AUTH
#define JSON_BODY SL_ROUTE_JSON_BODY

const sl_route sl_routes[] = {
    {"GET", "/healthz", sl_handle_healthz, 0, {0}, "liveness and store check"},
    {"GET", "/metrics", sl_handle_metrics, 0, {0}, "Prometheus metrics"},
    {"GET", "/openapi.json", sl_handle_openapi, 0, {0}, "this API as OpenAPI 3.1"},

    {"GET", "/v1/laws", sl_handle_laws_list, 0, {0}, "every law, latest versions"},
    {"GET", "/v1/laws/{name}", sl_handle_law_get, 0, {"version"}, "one law"},
    {"PUT",
     "/v1/laws/{name}",
     sl_handle_law_put,
     AUTH | JSON_BODY,
     {0},
     "new version of a law from coefficients and units"},
    {"DELETE", "/v1/laws/{name}", sl_handle_law_delete, AUTH, {0}, "remove a user law"},
    {"GET", "/v1/laws/{name}/versions", sl_handle_law_versions, 0, {0}, "a law's history"},

    {"GET",
     "/v1/laws/{name}/loss",
     sl_handle_loss,
     0,
     {"sparsity", "nonzeros", "data", "pattern", "version", "strategy"},
     "predicted loss at one point"},
    {"POST",
     "/v1/laws/{name}/loss",
     sl_handle_loss_batch,
     JSON_BODY,
     {"version"},
     "predicted loss at many points"},
    {"GET",
     "/v1/laws/{name}/optimal-sparsity",
     sl_handle_optimal_sparsity,
     0,
     {"nonzeros", "compute", "data", "cost_model", "patterns", "max_sparsity", "prune_start",
      "prune_end", "version", "pattern", "strategy", "pretrain_compute", "hardware", "peak_flops",
      "mfu", "price_per_hour", "sparse_speedup"},
     "the sparsity with the lowest loss for N non-zeros and a training budget"},
    {"GET",
     "/v1/laws/{name}/plan",
     sl_handle_plan,
     0,
     {"target_loss", "nonzeros", "max_sparsity", "version", "cost_model", "prune_start",
      "prune_end", "sparsity", "pattern", "strategy", "pretrain_compute", "inference_tokens",
      "inference_cost", "max_nonzeros", "hardware", "peak_flops", "mfu", "price_per_hour",
      "sparse_speedup"},
     "the cheapest way to reach a target loss"},
    {"GET",
     "/v1/laws/{name}/compute-optimal",
     sl_handle_compute_optimal,
     0,
     {"compute", "param_data", "max_nonzeros", "patterns", "max_sparsity", "cost_model",
      "prune_start", "prune_end", "version", "hardware", "peak_flops", "mfu", "price_per_hour",
      "sparse_speedup"},
     "the non-zeros, sparsity and data with the lowest loss at a training compute (N free)"},
    {"GET",
     "/v1/laws/{name}/equivalent-dense",
     sl_handle_equivalent_dense,
     0,
     {"sparsity", "nonzeros", "version"},
     "dense parameters one non-zero is worth"},
    {"GET",
     "/v1/laws/{name}/curves/loss-vs-data",
     sl_handle_curve_loss_vs_data,
     0,
     {"nonzeros", "sparsities", "data_min", "data_max", "points", "version", "format"},
     "loss against data for several sparsities at fixed N"},
    {"GET",
     "/v1/laws/{name}/curves/optimal-sparsity",
     sl_handle_curve_optimal_sparsity,
     0,
     {"nonzeros", "compute_min", "compute_max", "data_min", "data_max", "points", "cost_model",
      "prune_start", "prune_end", "max_sparsity", "version", "format", "hardware", "peak_flops",
      "mfu", "price_per_hour", "sparse_speedup"},
     "S_opt against the training budget for several N"},
    {"GET",
     "/v1/laws/{name}/contours",
     sl_handle_contours,
     0,
     {"levels", "nonzeros_min", "nonzeros_max", "points", "version", "format", "cost_model",
      "prune_start", "prune_end", "hardware", "peak_flops", "mfu", "price_per_hour",
      "sparse_speedup"},
     "iso-S_opt lines over (nonzeros, compute) beside the dense compute-optimal line"},
    {"POST",
     "/v1/laws/{name}/next-runs",
     sl_handle_next_runs,
     JSON_BODY,
     {"version"},
     "rank candidate runs by how much each is expected to narrow a decision's interval per "
     "FLOP, from the law's bootstrap draws"},

    {"GET",
     "/v1/compare/{query*}",
     sl_handle_compare,
     SL_ROUTE_COMPARE,
     {"laws"},
     "one query answered by several laws side by side"},

    {"POST",
     "/v1/datasets",
     sl_handle_dataset_create,
     AUTH,
     {"name", "base_params", "tokens_per_step", "data_unit", "columns", "skip_invalid"},
     "upload a sweep (CSV, JSON, NDJSON; W&B and MLflow exports too); all rows or none (or "
     "the good ones, with skip_invalid)"},
    {"GET", "/v1/datasets", sl_handle_datasets_list, AUTH, {0}, "every dataset"},
    {"GET",
     "/v1/datasets/{id}",
     sl_handle_dataset_get,
     AUTH,
     {"format"},
     "one dataset and its rows (JSON, or CSV)"},
    {"DELETE", "/v1/datasets/{id}", sl_handle_dataset_delete, AUTH, {0}, "remove a dataset"},
    {"POST",
     "/v1/datasets/{id}/rows",
     sl_handle_dataset_append,
     AUTH,
     {"base_params", "tokens_per_step", "data_unit", "columns", "skip_invalid"},
     "append rows; all or none (or the good ones, with skip_invalid)"},

    {"POST",
     "/v1/fits",
     sl_handle_fit_create,
     AUTH | JSON_BODY,
     {"wait"},
     "fit a law to a dataset in the background and publish it as a new version"},
    {"GET",
     "/v1/fits",
     sl_handle_fits_list,
     AUTH,
     {"limit", "before", "law", "state"},
     "fits, newest first, a page at a time"},
    {"GET",
     "/v1/fits/{id}",
     sl_handle_fit_get,
     AUTH,
     {0},
     "a fit's state, result, intervals, held-out errors and published version"},

    {"POST",
     "/v1/sweeps",
     sl_handle_sweep_create,
     AUTH | JSON_BODY,
     {0},
     "train a grid of calibration runs, then fit and publish a law to their results"},
    {"GET",
     "/v1/sweeps",
     sl_handle_sweeps_list,
     AUTH,
     {"limit", "before", "law", "state"},
     "sweeps, newest first, a page at a time"},
    {"GET",
     "/v1/backends",
     sl_handle_backends,
     AUTH,
     {0},
     "the backends sweeps can run on: devices, run slots, active runs, throughput, profiles"},
    {"GET",
     "/v1/sweeps/{id}",
     sl_handle_sweep_get,
     AUTH,
     {0},
     "a sweep's progress, runs, dataset and fit"},
    {"GET",
     "/v1/sweeps/{id}/runs",
     sl_handle_sweep_runs,
     AUTH,
     {"limit", "before", "state"},
     "a sweep's runs, newest first, a page at a time"},
    {"DELETE",
     "/v1/sweeps/{id}",
     sl_handle_sweep_delete,
     AUTH,
     {0},
     "cancel a sweep and its runs that have not ended"},
    {"GET",
     "/v1/runs/{id}",
     sl_handle_run_get,
     AUTH,
     {0},
     "a calibration run's state, attempts, progress and result"},
    {"DELETE", "/v1/runs/{id}", sl_handle_run_delete, AUTH, {0}, "cancel a calibration run"},
    {"POST",
     "/v1/runs/{id}/report",
     sl_handle_run_report,
     JSON_BODY,
     {0},
     "a Slurm job posts its run's result (authenticated by the run's secret, not the token)"},

    {"GET", "/", sl_handle_static, SL_ROUTE_STATIC, {0}, "the dashboard"},
    {"GET", "/{path*}", sl_handle_static, SL_ROUTE_STATIC, {0}, "dashboard files"},
};

const size_t sl_route_count = sizeof sl_routes / sizeof sl_routes[0];

#define LAW_PREFIX "/v1/laws/{name}/"

/* A question about one law, asked with a GET: any GET below a law's path
 * but its version history. */
int sl_route_is_comparable(const sl_route *r) {
    return strcmp(r->method, "GET") == 0 &&
           strncmp(r->pattern, LAW_PREFIX, strlen(LAW_PREFIX)) == 0 &&
           strcmp(r->pattern + strlen(LAW_PREFIX), "versions") != 0;
}

int sl_route_comparable(const char *query) {
    for (size_t i = 0; i < sl_route_count; i++)
        if (sl_route_is_comparable(&sl_routes[i]) &&
            strcmp(sl_routes[i].pattern + strlen(LAW_PREFIX), query) == 0)
            return (int)i;
    return -1;
}

/* One /v1/compare/<query> route for the comparable route r. */
static json_t *compare_route_json(const sl_route *r) {
    char path[128];
    snprintf(path, sizeof path, "/v1/compare/%s", r->pattern + strlen(LAW_PREFIX));
    json_t *params = json_array();
    for (int p = 0; p < SL_ROUTE_MAX_PARAMS && r->params[p]; p++)
        if (strcmp(r->params[p], "version") != 0)
            json_array_append_new(params, json_string(r->params[p]));
    json_array_append_new(params, json_string("laws"));
    return json_pack("{s:s, s:s, s:o, s:b, s:b, s:b, s:s+}", "method", "GET", "path", path,
                     "params", params, "auth", 0, "json_body", 0, "static", 0, "summary",
                     r->summary, ", for several laws side by side");
}

json_t *sl_routes_json(void) {
    json_t *out = json_array();
    for (size_t i = 0; i < sl_route_count; i++) {
        const sl_route *r = &sl_routes[i];
        if (r->flags & SL_ROUTE_COMPARE) {
            for (size_t k = 0; k < sl_route_count; k++)
                if (sl_route_is_comparable(&sl_routes[k]))
                    json_array_append_new(out, compare_route_json(&sl_routes[k]));
            continue;
        }
        json_t *params = json_array();
        for (int p = 0; p < SL_ROUTE_MAX_PARAMS && r->params[p]; p++)
            json_array_append_new(params, json_string(r->params[p]));
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:o, s:b, s:b, s:b, s:s}", "method", r->method, "path",
                           r->pattern, "params", params, "auth", (r->flags & AUTH) != 0,
                           "json_body", (r->flags & JSON_BODY) != 0, "static",
                           (r->flags & SL_ROUTE_STATIC) != 0, "summary", r->summary));
    }
    return out;
}
