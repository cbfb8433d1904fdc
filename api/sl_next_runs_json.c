/*
 * sl_next_runs_json.c - decoding a next-runs request and encoding its
 * ranked answer (see sl_next_runs_json.h).
 */
#include "sl_next_runs_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_fit.h"
#include "sl_law_json.h"
#include "sl_parse.h"
#include "sl_query.h"

/* obj[key] as a number in range; a missing member is an error unless dflt. */
static int number_member(const json_t *obj, const char *path, const char *key,
                         const sl_range *range, const double *dflt, double *out, sl_error *err) {
    char full[96];
    snprintf(full, sizeof full, "%s%s%s", path, path[0] ? "." : "", key);
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (dflt) {
            *out = *dflt;
            return 0;
        }
        return sl_error_set(err, SL_ERR_INVALID_BODY, full, "%s is missing", full);
    }
    if (!json_is_number(v) || !sl_range_contains(range, json_number_value(v)))
        return sl_error_set(err, SL_ERR_INVALID_BODY, full, "%s must be a number %s", full,
                            range->what);
    *out = json_number_value(v);
    return 0;
}

static int decode_decision(json_t *d, const sl_law_record *rec, sl_next_runs_request *out,
                           sl_error *err) {
    static const char *const s_keys[] = {"query",   "nonzeros",   "data",
                                         "compute", "cost_model", "max_sparsity"};
    static const char *const l_keys[] = {"query", "sparsity", "nonzeros", "data"};
    static const double max_s = SL_LAW_DEFAULT_MAX_SPARSITY;
    if (!json_is_object(d))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "decision",
                            "decision must be {\"query\": \"optimal_sparsity\", \"nonzeros\", "
                            "\"data\" | \"compute\"} or {\"query\": \"loss\", \"sparsity\", "
                            "\"nonzeros\", \"data\"}");
    const char *q = json_string_value(json_object_get(d, "query"));
    if (q && strcmp(q, "loss") == 0) {
        out->kind = SL_DECISION_LOSS;
        return sl_json_only_members(d, "decision", l_keys, 4, err) ||
                       number_member(d, "decision", "sparsity", &sl_range_sparsity, NULL,
                                     &out->sparsity, err) ||
                       number_member(d, "decision", "nonzeros", &sl_range_amount, NULL,
                                     &out->nonzeros, err) ||
                       number_member(d, "decision", "data", &sl_range_amount, NULL, &out->data, err)
                   ? -1
                   : 0;
    }
    if (!q || strcmp(q, "optimal_sparsity") != 0)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "decision.query",
                            "decision.query must be \"optimal_sparsity\" or \"loss\"");
    out->kind = SL_DECISION_OPTIMAL_SPARSITY;
    if (sl_json_only_members(d, "decision", s_keys, 6, err) ||
        number_member(d, "decision", "nonzeros", &sl_range_amount, NULL, &out->nonzeros, err) ||
        number_member(d, "decision", "max_sparsity", &sl_range_sparsity, &max_s, &out->max_sparsity,
                      err))
        return -1;
    json_t *data = json_object_get(d, "data"), *compute = json_object_get(d, "compute");
    if (!data == !compute)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "decision.data",
                            "decision needs exactly one budget: data (the law's unit, as "
                            "D_dense) or compute (FLOPs)");
    if (data && number_member(d, "decision", "data", &sl_range_amount, NULL, &out->data, err))
        return -1;
    if (compute) {
        double c;
        if (number_member(d, "decision", "compute", &sl_range_compute, NULL, &c, err)) return -1;
        if (rec->data_unit != SL_UNIT_TOKENS)
            return sl_error_set(err, SL_ERR_UNIT_MISMATCH, "decision.compute",
                                "law '%s' measures data in %s, so a budget in FLOPs cannot be "
                                "converted; give decision.data",
                                rec->name, sl_data_unit_name(rec->data_unit));
        out->data = c / (6 * out->nonzeros);
        out->given_compute = 1;
    }
    json_t *model = json_object_get(d, "cost_model");
    if (model && !json_is_string(model))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "decision.cost_model",
                            "decision.cost_model must be \"dense\" or \"gmp\"");
    if (sl_query_cost_decode(model ? json_string_value(model) : NULL, NULL, NULL, &out->cost,
                             err)) {
        snprintf(err->field, sizeof err->field, "decision.cost_model");
        err->code = SL_ERR_INVALID_BODY;
        return -1;
    }
    return 0;
}

/* The cost of a run at p: 6 N / (1 - S) D, FLOPs when D is in tokens. */
static double run_flops(const sl_next_point *p) {
    return 6 * p->nonzeros / (1 - p->sparsity) * p->data;
}

static int need_tokens(const sl_law_record *rec, const char *field, sl_error *err) {
    if (rec->data_unit == SL_UNIT_TOKENS) return 0;
    return sl_error_set(err, SL_ERR_UNIT_MISMATCH, field,
                        "law '%s' measures data in %s, so a run's FLOPs cannot be derived from "
                        "6 N / (1 - S) D: give each candidate its flops",
                        rec->name, sl_data_unit_name(rec->data_unit));
}

static int decode_candidates(const json_t *c, const sl_law_record *rec, sl_next_runs_request *out,
                             sl_error *err) {
    static const char *const keys[] = {"sparsity", "nonzeros", "data", "flops"};
    size_t n = json_array_size(c);
    if (!json_is_array(c) || n == 0 || n > SL_NEXT_RUNS_MAX_CANDIDATES)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "candidates",
                            "candidates must be an array of 1 to %d runs {sparsity, nonzeros, "
                            "data, flops?}",
                            SL_NEXT_RUNS_MAX_CANDIDATES);
    out->points = calloc(n, sizeof *out->points);
    out->flops = calloc(n, sizeof *out->flops);
    if (!out->points || !out->flops) abort();
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(c, i);
        char path[40];
        snprintf(path, sizeof path, "candidates[%zu]", i);
        sl_next_point *pt = &out->points[i];
        if (!json_is_object(p))
            return sl_error_set(err, SL_ERR_INVALID_BODY, path,
                                "%s must be an object {sparsity, nonzeros, data, flops?}", path);
        if (sl_json_only_members(p, path, keys, 4, err) ||
            number_member(p, path, "sparsity", &sl_range_sparsity, NULL, &pt->sparsity, err) ||
            number_member(p, path, "nonzeros", &sl_range_amount, NULL, &pt->nonzeros, err) ||
            number_member(p, path, "data", &sl_range_amount, NULL, &pt->data, err))
            return -1;
        if (json_object_get(p, "flops")) {
            if (number_member(p, path, "flops", &sl_range_compute, NULL, &out->flops[i], err))
                return -1;
        } else {
            char field[56];
            snprintf(field, sizeof field, "%s.flops", path);
            if (need_tokens(rec, field, err)) return -1;
            out->flops[i] = run_flops(pt);
        }
    }
    return 0;
}

/* One axis of the grid: 1..SL_NEXT_RUNS_MAX_GRID_AXIS numbers in range. */
static int grid_axis(const json_t *grid, const char *key, const sl_range *range, double *v,
                     size_t *count, sl_error *err) {
    char path[32];
    snprintf(path, sizeof path, "grid.%s", key);
    const json_t *a = json_object_get(grid, key);
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0 || n > SL_NEXT_RUNS_MAX_GRID_AXIS)
        return sl_error_set(err, SL_ERR_INVALID_BODY, path,
                            "%s must be an array of 1 to %d numbers %s", path,
                            SL_NEXT_RUNS_MAX_GRID_AXIS, range->what);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        if (!json_is_number(x) || !sl_range_contains(range, json_number_value(x)))
            return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s[%zu] must be a number %s", path,
                                i, range->what);
        v[i] = json_number_value(x);
    }
    *count = n;
    return 0;
}

static int decode_grid(json_t *g, const sl_law_record *rec, sl_next_runs_request *out,
                       sl_error *err) {
    static const char *const keys[] = {"sparsities", "nonzeros", "data"};
    double s[SL_NEXT_RUNS_MAX_GRID_AXIS], nz[SL_NEXT_RUNS_MAX_GRID_AXIS],
        d[SL_NEXT_RUNS_MAX_GRID_AXIS];
    size_t ns, nn, nd;
    if (!json_is_object(g))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "grid",
                            "grid must be an object {sparsities, nonzeros, data}");
    if (sl_json_only_members(g, "grid", keys, 3, err) ||
        grid_axis(g, "sparsities", &sl_range_sparsity, s, &ns, err) ||
        grid_axis(g, "nonzeros", &sl_range_amount, nz, &nn, err) ||
        grid_axis(g, "data", &sl_range_amount, d, &nd, err))
        return -1;
    if (ns * nn * nd > SL_NEXT_RUNS_MAX_CANDIDATES)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "grid",
                            "the grid has %zu points (%zu x %zu x %zu); at most %d", ns * nn * nd,
                            ns, nn, nd, SL_NEXT_RUNS_MAX_CANDIDATES);
    if (need_tokens(rec, "grid", err)) return -1;
    out->n = ns * nn * nd;
    out->points = calloc(out->n, sizeof *out->points);
    out->flops = calloc(out->n, sizeof *out->flops);
    if (!out->points || !out->flops) abort();
    size_t k = 0;
    for (size_t a = 0; a < ns; a++)
        for (size_t b = 0; b < nn; b++)
            for (size_t c = 0; c < nd; c++, k++) {
                out->points[k] = (sl_next_point){s[a], nz[b], d[c]};
                out->flops[k] = run_flops(&out->points[k]);
            }
    out->from_grid = 1;
    return 0;
}

int sl_next_runs_decode(json_t *body, const sl_law_record *rec, sl_next_runs_request *out,
                        sl_error *err) {
    static const char *const keys[] = {"decision", "candidates", "grid", "noise", "top"};
    memset(out, 0, sizeof *out);
    out->top = SL_NEXT_RUNS_DEFAULT_TOP;
    if (!json_is_object(body))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "", "the body must be a JSON object");
    if (sl_json_only_members(body, "", keys, 5, err)) return -1;
    json_t *c = json_object_get(body, "candidates"), *g = json_object_get(body, "grid");
    json_t *top = json_object_get(body, "top");
    int rc = 0;
    if (!json_object_get(body, "decision"))
        rc = sl_error_set(err, SL_ERR_INVALID_BODY, "decision",
                          "decision is missing: the query the runs are to inform");
    else if (!c == !g)
        rc = sl_error_set(err, SL_ERR_INVALID_BODY, "candidates",
                          "give exactly one of candidates (a list of runs) and grid");
    else if (top && (!json_is_integer(top) || json_integer_value(top) < 1 ||
                     json_integer_value(top) > SL_NEXT_RUNS_MAX_CANDIDATES))
        rc = sl_error_set(err, SL_ERR_INVALID_BODY, "top",
                          "top must be an integer in [1, %d]: how many ranked runs to return",
                          SL_NEXT_RUNS_MAX_CANDIDATES);
    else if (json_object_get(body, "noise") &&
             number_member(body, "", "noise", &sl_range_positive, NULL, &out->noise, err))
        rc = -1;
    else if (decode_decision(json_object_get(body, "decision"), rec, out, err))
        rc = -1;
    else if (c ? decode_candidates(c, rec, out, err) : decode_grid(g, rec, out, err))
        rc = -1;
    if (top) out->top = (size_t)json_integer_value(top);
    if (rc) sl_next_runs_request_free(out);
    return rc;
}

void sl_next_runs_request_free(sl_next_runs_request *req) {
    free(req->points);
    free(req->flops);
    req->points = NULL;
    req->flops = NULL;
    req->n = 0;
}

typedef struct ranked {
    double key;
    size_t i;
} ranked;

/* Most narrowing per FLOP first; equal keys in candidate order. */
static int by_key_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

static json_t *decision_json(const sl_law_record *rec, const sl_next_runs_request *req,
                             double value, const double *decision, size_t ndraws) {
    double lo = (double)NAN, hi = (double)NAN;
    sl_fit_percentile_interval(decision, ndraws, SL_FIT_DEFAULT_LEVEL, &lo, &hi);
    json_t *o;
    if (req->kind == SL_DECISION_LOSS)
        o = json_pack("{s:s, s:f, s:f, s:f}", "query", "loss", "sparsity", req->sparsity,
                      "nonzeros", req->nonzeros, "data", req->data);
    else
        o = json_pack("{s:s, s:f, s:f, s:s, s:f}", "query", "optimal_sparsity", "nonzeros",
                      req->nonzeros, "dense_data", req->data, "cost_model",
                      req->cost.model == SL_COST_GMP ? "gmp" : "dense", "max_sparsity",
                      req->max_sparsity);
    if (req->given_compute && rec->data_unit == SL_UNIT_TOKENS)
        json_object_set_new(o, "compute", json_real(6 * req->nonzeros * req->data));
    json_object_set_new(o, "value", sl_json_number(value));
    json_object_set_new(o, "interval", json_pack("[o, o]", sl_json_number(lo), sl_json_number(hi)));
    json_object_set_new(o, "sd", sl_json_number(sl_next_runs_sd(decision, ndraws)));
    json_object_set_new(o, "draws", json_integer((json_int_t)ndraws));
    return o;
}

json_t *sl_next_runs_json(const sl_law_record *rec, const sl_next_runs_request *req, double value,
                          const double *decision, size_t ndraws, double noise,
                          const char *noise_source, const sl_next_score *scores) {
    ranked *order = malloc(req->n * sizeof *order);
    if (!order) abort();
    for (size_t i = 0; i < req->n; i++)
        order[i] = (ranked){scores[i].narrowing / req->flops[i], i};
    qsort(order, req->n, sizeof *order, by_key_desc);
    size_t top = req->top < req->n ? req->top : req->n;
    json_t *runs = json_array();
    for (size_t k = 0; k < top; k++) {
        size_t i = order[k].i;
        const sl_next_point *p = &req->points[i];
        const sl_next_score *s = &scores[i];
        json_array_append_new(
            runs,
            json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:o, s:o, s:o, s:o, s:o, s:o}", "rank",
                      (json_int_t)(k + 1), "candidate", (json_int_t)i, "sparsity", p->sparsity,
                      "nonzeros", p->nonzeros, "data", p->data, "flops", req->flops[i], "loss",
                      sl_json_number(sl_law_loss(&rec->law, p->sparsity, p->nonzeros, p->data)),
                      "loss_spread", sl_json_number(s->loss_spread), "disagreement",
                      sl_json_number(s->loss_spread / noise), "expected_sd_after",
                      sl_json_number(s->sd_after), "expected_narrowing",
                      sl_json_number(s->narrowing), "narrowing_per_flop",
                      sl_json_number(order[k].key)));
    }
    free(order);
    const char *dunit = sl_unit_of(rec->data_unit, "data");
    const char *decided = req->kind == SL_DECISION_LOSS ? "the law's loss (validation loss)"
                                                        : "sparsity (fraction, in [0, 1))";
    char flops_unit[96], per[160];
    snprintf(flops_unit, sizeof flops_unit, "%s",
             rec->data_unit == SL_UNIT_TOKENS ? "FLOPs (given, or 6 N / (1 - S) D)"
                                              : "as given per candidate (flops)");
    snprintf(per, sizeof per, "%s per %s", decided, "unit of flops");
    json_t *units = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "sparsity",
        "fraction of weights that are zero, in [0, 1)", "nonzeros", "parameters", "data", dunit,
        "dense_data", dunit, "flops", flops_unit, "loss", "the law's loss (validation loss)",
        "loss_spread", "the law's loss: standard deviation over the bootstrap draws", "noise",
        "the law's loss: standard deviation of one run's loss about the law", "disagreement",
        "loss_spread / noise (dimensionless)", "expected_sd_after", decided, "expected_narrowing",
        decided, "narrowing_per_flop", per);
    json_object_set_new(units, "value", json_string(decided));
    json_object_set_new(units, "sd", json_string(decided));
    json_object_set_new(units, "interval",
                        json_pack("s+", "95 % bootstrap percentile interval, ", decided));
    json_t *out = json_pack(
        "{s:o, s:f, s:s, s:I, s:o, s:s, s:o}", "decision",
        decision_json(rec, req, value, decision, ndraws), "noise", noise, "noise_source",
        noise_source, "candidates", (json_int_t)req->n, "runs", runs, "method",
        "each run is scored by the expected narrowing of the decision's standard deviation over "
        "the law's bootstrap draws once its loss is observed with the noise: the linear "
        "(ensemble Kalman) update Var(q) - Cov(q, L)^2 / (Var(L) + noise^2) over the draws; "
        "ranked by narrowing per FLOP, ties in candidate order",
        "units", units);
    json_object_set_new(out, "law", sl_law_ref_json(rec));
    return out;
}
