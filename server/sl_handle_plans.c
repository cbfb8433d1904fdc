/* Planning with N free: the compute frontier (GET compute-optimal) and
 * inference-aware plans (GET plan with inference_tokens), and the request
 * readers of the planning parameters the query handlers share (hardware,
 * strategy). The math is fitting/sl_plan.c; docs/planning.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_handle_plans.h"
#include "sl_law_json.h"
#include "sl_plan.h"
#include "sl_query.h"
#include "sl_query_json.h"

int sl_handle_hardware_params(sl_request *req, sl_hardware *hw, sl_error *err) {
    return sl_query_hardware_decode(sl_req_query(req, "hardware"), sl_req_query(req, "peak_flops"),
                                    sl_req_query(req, "mfu"), sl_req_query(req, "price_per_hour"),
                                    sl_req_query(req, "sparse_speedup"), hw, err);
}

size_t sl_handle_hardware_columns(const sl_hardware *hw, const char **cols, size_t *ncols) {
    if (!hw->given) return 0;
    cols[(*ncols)++] = "gpu_hours";
    if (isnan(hw->price_per_hour)) return 1;
    cols[(*ncols)++] = "cost";
    return 2;
}

void sl_handle_hardware_row(const sl_hardware *hw, const sl_law_record *rec, size_t count,
                            double compute, const char *pattern, double *out) {
    if (!count) return;
    out[0] =
        rec->data_unit != SL_UNIT_TOKENS /* compute not in FLOPs: not stated */
            ? (double)NAN
            : sl_plan_gpu_hours(compute, hw->peak_flops, hw->mfu, sl_hardware_speedup(hw, pattern));
    if (count > 1) out[1] = out[0] * hw->price_per_hour;
}

void sl_handle_hardware_table_json(json_t *body, const sl_hardware *hw, const sl_law_record *rec) {
    json_t *h = sl_hardware_json(hw, rec, (double)NAN, "unstructured");
    if (!h) return;
    /* The figures are per row; the block keeps the settings and the note. */
    json_object_del(h, "gpu_hours");
    json_object_del(h, "cost");
    json_object_del(h, "pattern");
    json_object_del(h, "sparse_speedup");
    json_t *sp = json_object();
    for (size_t i = 0; i < hw->nspeedups; i++)
        json_object_set_new(sp, hw->speedup_names[i], json_real(hw->speedups[i]));
    json_object_set_new(h, "sparse_speedups", sp);
    json_t *hu = json_object_get(h, "units");
    json_object_set_new(hu, "sparse_speedups",
                        json_string("times faster than masked dense kernels, per pattern given "
                                    "(1 for dense and for patterns not listed)"));
    json_t *units = json_object_get(body, "units");
    if (rec->data_unit == SL_UNIT_TOKENS) {
        json_object_set_new(
            h, "note",
            json_string("gpu_hours = compute / (peak_flops x mfu x sparse_speedup) / 3600, "
                        "per row, with the speedup of the row's pattern (unstructured where "
                        "sparsity > 0, dense at 0); cost = gpu_hours x price_per_hour"));
        json_object_set(units, "gpu_hours", json_object_get(hu, "gpu_hours"));
        if (!isnan(hw->price_per_hour)) json_object_set(units, "cost", json_object_get(hu, "cost"));
    } else { /* empty columns whose unit says why, for CSV readers too */
        char unit[240];
        snprintf(unit, sizeof unit,
                 "not stated: law '%s' measures data in %s, and the FLOPs per %s that would "
                 "convert its compute are missing",
                 rec->name, sl_data_unit_name(rec->data_unit),
                 sl_data_unit_singular(rec->data_unit));
        json_object_set_new(units, "gpu_hours", json_string(unit));
        if (!isnan(hw->price_per_hour)) json_object_set_new(units, "cost", json_string(unit));
    }
    json_object_del(hu, "gpu_hours");
    json_object_del(hu, "cost");
    json_object_del(hu, "sparse_speedup");
    json_object_set_new(body, "hardware", h);
}

int sl_handle_strategy_params(sl_request *req, sl_plan_strategy *strategy, double *pretrain,
                              sl_error *err) {
    return sl_query_strategy_decode(sl_req_query(req, "strategy"),
                                    sl_req_query(req, "pretrain_compute"), strategy, pretrain, err);
}

int sl_handle_pretrained_range(sl_request *req, const char *field, double s) {
    if (s >= SL_PLAN_PRETRAINED_MIN && s <= SL_PLAN_PRETRAINED_MAX) return 0;
    sl_reply_fail(req, SL_ERR_UNPROCESSABLE, field,
                  "strategy=pretrained is modelled only for sparsity in [%g, %g], the paper's "
                  "three points (4.90x, 4.27x, 2.45x less data at S = 0.5, 0.75, 0.875); %s "
                  "gives S = %g, and the factors are not extrapolated",
                  SL_PLAN_PRETRAINED_MIN, SL_PLAN_PRETRAINED_MAX, field, s);
    return -1;
}

static int cost_params(sl_request *req, sl_cost *cost, sl_error *err) {
    return sl_query_cost_decode(sl_req_query(req, "cost_model"), sl_req_query(req, "prune_start"),
                                sl_req_query(req, "prune_end"), cost, err);
}

static const double default_max_sparsity = SL_LAW_DEFAULT_MAX_SPARSITY;

/* The budget of a compute-optimal query: compute= (FLOPs, laws in tokens)
 * or param_data= (N x D_dense, any law), exactly one, as the law's compute
 * unit C = 6 N D. */
static const sl_range range_param_data = {1.0, 1e44, 0, 0, "in [1, 1e44]"};

static int frontier_budget(sl_request *req, const sl_law_record *rec, double *compute,
                           sl_error *err) {
    const char *c = sl_req_query(req, "compute"), *pd = sl_req_query(req, "param_data");
    if (c && pd)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "compute",
                            "give the budget once: compute (FLOPs) or param_data, not both");
    if (!c && !pd)
        return sl_error_set(err, SL_ERR_MISSING_PARAMETER, "compute",
                            "a budget is required: compute (FLOPs, laws in tokens) or param_data "
                            "(parameters x %s of a dense model, compute / 6)",
                            sl_data_unit_name(rec->data_unit));
    if (pd) {
        if (sl_parse_number("param_data", pd, &range_param_data, compute, err)) return -1;
        *compute *= 6;
        return 0;
    }
    if (sl_parse_number("compute", c, &sl_range_compute, compute, err)) return -1;
    if (rec->data_unit != SL_UNIT_TOKENS)
        return sl_error_set(err, SL_ERR_UNIT_MISMATCH, "compute",
                            "law '%s' measures data in %s, so a budget in FLOPs cannot be "
                            "converted; pass param_data= (parameters x %s, compute / 6) instead",
                            rec->name, sl_data_unit_name(rec->data_unit),
                            sl_data_unit_name(rec->data_unit));
    return 0;
}

static int frontier_finite(const sl_frontier *f) {
    return isfinite(f->loss) && f->nonzeros > 0 && isfinite(f->nonzeros) && f->data > 0 &&
           isfinite(f->data);
}

/* The question each draw answers, and the point estimate's answer, where
 * each draw's search starts. */
typedef struct frontier_draws_query {
    sl_frontier_query q;
    sl_frontier near;
} frontier_draws_query;

/* The compute-optimal model under one law: the same query per bootstrap
 * draw. */
static int frontier_draw(const sl_law *law, const void *query, double *out) {
    const frontier_draws_query *dq = query;
    sl_frontier f;
    if (sl_plan_frontier_solve_near(law, &dq->q, &dq->near, &f) != SL_LAW_OK ||
        !frontier_finite(&f))
        return -1;
    out[0] = f.nonzeros;
    out[1] = f.sparsity;
    out[2] = f.data;
    out[3] = f.loss;
    return 0;
}

void sl_handle_compute_optimal(sl_request *req) {
    sl_law_record rec;
    sl_frontier_query q;
    sl_hardware hw;
    sl_error err;
    double pattern_s[SL_QUERY_MAX_PATTERNS], max_n = (double)INFINITY;
    char pattern_names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t npatterns = 0;
    const char *patterns = sl_req_query(req, "patterns");
    memset(&q, 0, sizeof q);
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (frontier_budget(req, &rec, &q.compute, &err) || cost_params(req, &q.cost, &err) ||
        (sl_req_query(req, "max_nonzeros") &&
         sl_req_number(req, "max_nonzeros", &sl_range_amount, NULL, &max_n, &err)) ||
        sl_req_number(req, "max_sparsity", &sl_range_sparsity, &default_max_sparsity,
                      &q.max_sparsity, &err) ||
        (patterns &&
         sl_query_patterns_decode(patterns, pattern_s, pattern_names, &npatterns, &err)) ||
        sl_handle_hardware_params(req, &hw, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    if (sl_query_patterns_exclusive(patterns, sl_req_query(req, "max_sparsity"), &err)) {
        sl_reply_error(req, &err);
        return;
    }
    q.max_nonzeros = max_n;
    q.sparsities = patterns ? pattern_s : NULL;
    q.count = npatterns;
    sl_frontier best, dense;
    if (sl_plan_frontier_solve(&rec.law, &q, &best) != SL_LAW_OK ||
        sl_plan_frontier_at(&rec.law, &q, 0, &dense) != SL_LAW_OK || !frontier_finite(&best) ||
        !frontier_finite(&dense)) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL,
                      "the law gives no finite compute-optimal model for this budget");
        return;
    }
    const char *pattern = best.sparsity == 0      ? "dense"
                          : best.chosen < q.count ? pattern_names[best.chosen]
                                                  : "unstructured";
    static const char *const fields[] = {"nonzeros", "sparsity", "data", "loss", NULL};
    json_t *body = sl_frontier_json(&rec, &q, &best, &dense, pattern, &hw);
    sl_handle_draws d;
    sl_handle_draws_load(req, &rec, &d);
    frontier_draws_query dq = {q, best};
    sl_handle_add_intervals(body, &d, frontier_draw, &dq, fields);
    sl_handle_draws_free(&d);
    sl_reply_json(req, 200, body);
}

/* The question each draw answers, and the point estimate's plan, near
 * which each draw's search starts. */
typedef struct inference_draws_query {
    sl_inference_query q;
    sl_inference_plan near;
} inference_draws_query;

/* The inference-aware plan under one law, per bootstrap draw. */
static int inference_draw(const sl_law *law, const void *query, double *out) {
    const inference_draws_query *dq = query;
    sl_inference_plan p;
    if (sl_inference_solve_near(law, &dq->q, &dq->near, &p) != SL_LAW_OK || !(p.data > 0))
        return -1;
    out[0] = p.nonzeros;
    out[1] = p.sparsity;
    out[2] = p.data;
    out[3] = p.training_compute;
    out[4] = p.inference_compute;
    out[5] = p.total_compute;
    return 0;
}

void sl_handle_plan_inference(sl_request *req, const sl_law_record *rec) {
    static const sl_range range_tokens = {0.0, 1e30, 0, 0, "in [0, 1e30]"};
    static const char *const refused[] = {"nonzeros", "sparsity", "pattern", "strategy",
                                          "pretrain_compute"};
    sl_inference_query q;
    sl_hardware hw;
    sl_error err;
    memset(&q, 0, sizeof q);
    if (!sl_req_query(req, "inference_tokens")) {
        const char *given = sl_req_query(req, "max_nonzeros") ? "max_nonzeros" : "inference_cost";
        sl_reply_fail(req, SL_ERR_MISSING_PARAMETER, "inference_tokens",
                      "%s applies to an inference-aware plan (N free): give inference_tokens%s",
                      given,
                      sl_req_query(req, "nonzeros") && given[0] == 'm'
                          ? "; a plan for given nonzeros has N fixed, so no bound on it applies"
                          : "");
        return;
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (sl_req_query(req, refused[i])) {
            sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, refused[i],
                          "an inference-aware plan (inference_tokens=) chooses N and S itself; "
                          "%s does not apply to it",
                          refused[i]);
            return;
        }
    double max_n = (double)INFINITY;
    if (sl_req_number(req, "target_loss", &sl_range_positive, NULL, &q.target_loss, &err) ||
        sl_req_number(req, "inference_tokens", &range_tokens, NULL, &q.tokens, &err) ||
        sl_query_inference_cost_decode(sl_req_query(req, "inference_cost"), &q.kind, &err) ||
        cost_params(req, &q.cost, &err) ||
        sl_req_number(req, "max_sparsity", &sl_range_sparsity, &default_max_sparsity,
                      &q.max_sparsity, &err) ||
        (sl_req_query(req, "max_nonzeros") &&
         sl_req_number(req, "max_nonzeros", &sl_range_amount, NULL, &max_n, &err)) ||
        sl_handle_hardware_params(req, &hw, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    q.max_nonzeros = max_n;
    sl_inference_plan p, train, free_plan;
    sl_inference_query t0 = q;
    t0.tokens = 0;
    int rc = sl_inference_solve(&rec->law, &q, &p);
    if (rc == SL_LAW_UNREACHABLE && q.target_loss <= rec->law.c) {
        sl_error_set(&err, SL_ERR_UNREACHABLE, "target_loss",
                     "target_loss %g is out of reach at any size: the law never gets below its "
                     "irreducible loss c = %.6g",
                     q.target_loss, rec->law.c);
        err.extra_name = "loss_floor";
        err.extra_value = rec->law.c;
        sl_reply_error(req, &err);
        return;
    }
    if (rc == SL_LAW_UNREACHABLE && isfinite(max_n)) {
        double floor = sl_law_loss(&rec->law, q.max_sparsity, max_n, (double)INFINITY);
        if (!(q.target_loss > floor)) {
            sl_error_set(&err, SL_ERR_UNREACHABLE, "max_nonzeros",
                         "target_loss %g is out of reach with at most %g non-zeros: even at "
                         "max_sparsity %g and unlimited data the law gives %.6g; raise "
                         "max_nonzeros or max_sparsity",
                         q.target_loss, max_n, q.max_sparsity, floor);
            err.extra_name = "loss_floor";
            err.extra_value = floor;
            sl_reply_error(req, &err);
            return;
        }
    }
    if (rc != SL_LAW_OK || !(p.data > 0) || !isfinite(p.total_compute)) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL,
                      "no inference-aware plan found for these "
                      "inputs");
        return;
    }
    int train_ok = sl_inference_solve(&rec->law, &t0, &train) == SL_LAW_OK;
    sl_inference_query qf = q;
    qf.max_nonzeros = 0;
    int free_ok = p.capped && sl_inference_solve(&rec->law, &qf, &free_plan) == SL_LAW_OK;
    static const char *const fields[] = {
        "nonzeros",          "sparsity",      "data", "training_compute",
        "inference_compute", "total_compute", NULL};
    json_t *body =
        sl_inference_json(rec, &q, &p, train_ok ? &train : NULL, free_ok ? &free_plan : NULL, &hw);
    sl_handle_draws d;
    sl_handle_draws_load(req, rec, &d);
    inference_draws_query dq = {q, p};
    sl_handle_add_intervals(body, &d, inference_draw, &dq, fields);
    sl_handle_draws_free(&d);
    sl_reply_json(req, 200, body);
}
