#include "sl_query_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sl_parse.h"

/* One member of a point: a JSON number in range. */
static int point_member(const json_t *obj, size_t i, const char *key, const sl_range *range,
                        double *out, sl_error *err) {
    char path[64];
    snprintf(path, sizeof path, "points[%zu].%s", i, key);
    const json_t *v = json_object_get(obj, key);
    if (!v) return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s is missing", path);
    if (!json_is_number(v))
        return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s must be a number %s", path,
                            range->what);
    double x = json_number_value(v);
    if (!sl_range_contains(range, x))
        return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s must be %s (got %.17g)", path,
                            range->what, x);
    *out = x;
    return 0;
}

int sl_points_decode(const json_t *body, size_t max, sl_point **out, size_t *count, sl_error *err) {
    const json_t *points = json_is_object(body) ? json_object_get(body, "points") : NULL;
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_array(points))
        return sl_error_set(
            err, SL_ERR_INVALID_BODY, "points",
            "the body must be {\"points\": [{\"sparsity\", \"nonzeros\", \"data\"}, ...]}");
    size_t n = json_array_size(points);
    if (n == 0 || n > max)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "points",
                            "points must hold 1 to %zu points (got %zu)", max, n);
    sl_point *pts = calloc(n, sizeof *pts);
    if (!pts) abort();
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(points, i);
        char path[32];
        snprintf(path, sizeof path, "points[%zu]", i);
        int bad = 0;
        if (!json_is_object(p))
            bad = sl_error_set(err, SL_ERR_INVALID_BODY, path,
                               "%s must be an object with sparsity, nonzeros and data", path);
        else if (point_member(p, i, "sparsity", &sl_range_sparsity, &pts[i].sparsity, err) ||
                 point_member(p, i, "nonzeros", &sl_range_amount, &pts[i].nonzeros, err) ||
                 point_member(p, i, "data", &sl_range_amount, &pts[i].data, err))
            bad = -1;
        else if (json_object_size(p) != 3)
            bad = sl_error_set(err, SL_ERR_INVALID_BODY, path,
                               "%s has members other than sparsity, nonzeros and data", path);
        if (bad) {
            free(pts);
            return -1;
        }
    }
    *out = pts;
    *count = n;
    return 0;
}

json_t *sl_loss_json(const sl_law *law, const sl_point *p) {
    double s = p->sparsity, n = p->nonzeros, d = p->data;
    return json_pack("{s:o, s:f, s:f, s:f, s:o, s:o, s:o}", "loss",
                     sl_json_number(sl_law_loss(law, s, n, d)), "sparsity", s, "nonzeros", n,
                     "data", d, "total_params", sl_json_number(sl_law_total_params(s, n)),
                     "dense_equivalent_params", sl_json_number(n * sl_law_dense_multiplier(law, s)),
                     "loss_floor", sl_json_number(sl_law_loss_floor(law, n, d)));
}

json_t *sl_optimum_json(const sl_law_record *rec, const sl_optimum_query *q,
                        const sl_law_optimum *opt) {
    const sl_law *law = &rec->law;
    double n = q->nonzeros;
    double pays = sl_law_sparsity_pays_data(law, &q->cost, n);
    double chin = sl_law_dense_optimal_data(law, n);
    json_t *o = json_pack(
        "{s:o, s:f, s:f, s:f, s:f, s:f, s:o, s:f, s:f, s:f, s:s, s:s, s:o, s:o, s:o, s:o}", "law",
        sl_law_ref_json(rec), "sparsity", opt->sparsity, "loss", opt->loss, "dense_loss",
        opt->dense_loss, "improvement", opt->dense_loss - opt->loss, "nonzeros", n, "total_params",
        sl_json_number(sl_law_total_params(opt->sparsity, n)), "data", opt->data, "dense_data",
        q->dense_data, "compute", 6.0 * n * q->dense_data, "cost_model",
        q->cost.model == SL_COST_GMP ? "gmp" : "dense", "pattern", q->pattern,
        "sparsity_pays_above_data", sl_json_number(pays), "sparsity_pays_above_compute",
        sl_json_number(6.0 * n * pays), "dense_optimal_data", sl_json_number(chin),
        "dense_optimal_compute", sl_json_number(6.0 * n * chin));
    json_object_set_new(o, "improvement_percent",
                        sl_json_number(100.0 * (opt->dense_loss - opt->loss) / opt->dense_loss));
    json_object_set_new(o, "max_sparsity", sl_json_number(q->max_sparsity));
    if (q->cost.model == SL_COST_GMP)
        json_object_set_new(
            o, "pruning",
            json_pack("{s:f, s:f}", "start", q->cost.prune_start, "end", q->cost.prune_end));
    char note[320];
    snprintf(note, sizeof note,
             "%s: the budget of a dense model with %.6g parameters seeing %.6g %s, i.e. compute = "
             "6 x nonzeros x dense_data; a sparse model costs more per %s, so it sees data = %.6g",
             q->given_compute ? "compute given" : "data given", n, q->dense_data,
             sl_data_unit_name(rec->data_unit), sl_data_unit_singular(rec->data_unit), opt->data);
    json_object_set_new(
        o, "budget",
        json_pack("{s:s, s:s}", "given", q->given_compute ? "compute" : "data", "note", note));
    json_object_set_new(o, "units",
                        sl_units_json(rec->data_unit, "sparsity", "loss", "dense_loss",
                                      "improvement", "nonzeros", "total_params", "data",
                                      "dense_data", "compute", "sparsity_pays_above_data",
                                      "sparsity_pays_above_compute", "dense_optimal_data",
                                      "dense_optimal_compute", "max_sparsity", NULL));
    return o;
}

static json_t *plan_fields(const sl_law_plan *p, double nonzeros) {
    if (!p) return json_null();
    return json_pack("{s:f, s:f, s:f, s:o, s:f}", "sparsity", p->sparsity, "data", p->data,
                     "compute", p->compute, "total_params",
                     sl_json_number(sl_law_total_params(p->sparsity, nonzeros)), "loss", p->loss);
}

json_t *sl_plan_json(const sl_law_record *rec, double target_loss, double nonzeros,
                     const sl_law_plan *plan, const sl_law_plan *dense_plan) {
    json_t *o = plan_fields(plan, nonzeros);
    json_object_set_new(o, "law", sl_law_ref_json(rec));
    json_object_set_new(o, "target_loss", json_real(target_loss));
    json_object_set_new(o, "nonzeros", json_real(nonzeros));
    json_object_set_new(o, "dense", plan_fields(dense_plan, nonzeros));
    json_object_set_new(o, "units",
                        sl_units_json(rec->data_unit, "sparsity", "data", "compute", "total_params",
                                      "loss", "target_loss", "nonzeros", NULL));
    return o;
}

/* ---- planning beyond S_opt ---- */

void sl_cost_add_json(json_t *obj, const sl_cost *cost) {
    json_object_set_new(obj, "cost_model",
                        json_string(cost->model == SL_COST_GMP ? "gmp" : "dense"));
    if (cost->model == SL_COST_GMP)
        json_object_set_new(
            obj, "pruning",
            json_pack("{s:f, s:f}", "start", cost->prune_start, "end", cost->prune_end));
}

/* The hardware block at a given speedup; extra (or NULL) is said in its note. */
static json_t *hardware_block(const sl_hardware *hw, const sl_law_record *rec, double compute,
                              const char *pattern, double speedup, const char *extra) {
    json_t *o = json_pack("{s:o, s:f, s:f, s:s, s:s, s:f}", "profile",
                          hw->profile ? json_string(hw->profile) : json_null(), "peak_flops",
                          hw->peak_flops, "mfu", hw->mfu, "mfu_source",
                          hw->mfu_default ? "default (0.4, a common planning figure)" : "given",
                          "pattern", pattern, "sparse_speedup", speedup);
    json_object_set_new(o, "price_per_hour", sl_json_number(hw->price_per_hour));
    if (rec->data_unit != SL_UNIT_TOKENS) {
        char note[256];
        snprintf(note, sizeof note,
                 "law '%s' measures data in %s: its compute is not FLOPs, and the FLOPs per %s "
                 "that would convert it are missing, so GPU-hours and cost cannot be stated",
                 rec->name, sl_data_unit_name(rec->data_unit),
                 sl_data_unit_singular(rec->data_unit));
        json_object_set_new(o, "gpu_hours", json_null());
        json_object_set_new(o, "cost", json_null());
        json_object_set_new(o, "note", json_string(note));
    } else {
        double hours = sl_plan_gpu_hours(compute, hw->peak_flops, hw->mfu, speedup);
        json_object_set_new(o, "gpu_hours", sl_json_number(hours));
        json_object_set_new(o, "cost",
                            isnan(hw->price_per_hour) ? json_null()
                                                      : sl_json_number(hours * hw->price_per_hour));
        char note[320];
        snprintf(note, sizeof note,
                 "gpu_hours = compute / (peak_flops x mfu x sparse_speedup) / 3600; cost = "
                 "gpu_hours x price_per_hour%s%s",
                 extra ? "; " : "", extra ? extra : "");
        json_object_set_new(o, "note", json_string(note));
    }
    json_object_set_new(
        o, "units",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "peak_flops",
                  "FLOP/s per GPU (dense BF16 tensor-core peak, without structured sparsity)",
                  "mfu", "fraction of peak_flops reached", "sparse_speedup",
                  "times faster than masked dense kernels, for this pattern", "gpu_hours",
                  "GPU-hours", "price_per_hour", "currency units per GPU-hour, as given", "cost",
                  "the currency of price_per_hour"));
    return o;
}

json_t *sl_hardware_json(const sl_hardware *hw, const sl_law_record *rec, double compute,
                         const char *pattern) {
    if (!hw || !hw->given) return NULL;
    return hardware_block(hw, rec, compute, pattern, sl_hardware_speedup(hw, pattern), NULL);
}

void sl_hardware_add_json(json_t *obj, const char *key, const sl_hardware *hw,
                          const sl_law_record *rec, double compute, const char *pattern) {
    json_t *h = sl_hardware_json(hw, rec, compute, pattern);
    if (h) json_object_set_new(obj, key, h);
}

json_t *sl_strategy_json(sl_plan_strategy strategy, double sparsity, double pretrain,
                         double run_compute, const sl_law_record *rec) {
    if (strategy != SL_PLAN_PRETRAINED) return NULL;
    double r = (double)NAN;
    sl_plan_pretrained_factor(sparsity, &r);
    json_t *o = json_pack(
        "{s:s, s:o, s:o, s:s}", "name", "pretrained", "data_factor", sl_json_number(r),
        "sparsity_range", json_pack("[f, f]", SL_PLAN_PRETRAINED_MIN, SL_PLAN_PRETRAINED_MAX),
        "note",
        "pruning a pretrained dense checkpoint: a pruning run of D units is modelled as "
        "L(S, N, data_factor x D), data_factor interpolated (log linear in log(1 - S)) "
        "through 4.90, 4.27 and 2.45 at S = 0.5, 0.75 and 0.875. These factors are empirical, "
        "from one setting of the paper (T5 on C4), not a fitted law; no data outside that range");
    if (isnan(pretrain)) {
        json_object_set_new(o, "pretrain_compute", json_string("sunk"));
        json_object_set_new(o, "pretrain_note",
                            json_string("the dense pretraining compute is sunk: not counted in "
                                        "any figure; pass pretrain_compute= to count it"));
    } else {
        json_object_set_new(o, "pretrain_compute", json_real(pretrain));
        json_object_set_new(o, "pretrain_note",
                            json_string("the dense pretraining compute is counted: "
                                        "total_compute = pruning-run compute + pretrain_compute"));
        if (!isnan(run_compute))
            json_object_set_new(o, "total_compute", sl_json_number(run_compute + pretrain));
    }
    json_object_set_new(
        o, "units",
        sl_units_json(rec->data_unit, "data_factor", "pretrain_compute", "total_compute", NULL));
    return o;
}

static const char *frontier_reason(const sl_law_record *rec, const sl_frontier_query *q,
                                   const sl_frontier *best, char *buf, size_t size) {
    double st = sl_plan_dense_stationary(&rec->law);
    int dense = best->sparsity == 0;
    if (dense && q->cost.model == SL_COST_DENSE && !best->capped && st < 1) {
        snprintf(buf, size,
                 "dense among the candidates: for this law the sparse term at a fixed total size "
                 "is lowest at x^b_s = b_n c_s / (a_s (b_s - b_n)) = %.4g < 1, i.e. S = %.4g, "
                 "but %s",
                 st, 1 - pow(st, 1 / rec->law.b_s),
                 q->count ? "none of the listed patterns beats dense"
                          : "max_sparsity keeps the search at S = 0");
    } else if (dense && q->cost.model == SL_COST_DENSE && !best->capped) {
        if (isinf(st))
            snprintf(buf, size,
                     "dense: under cost_model=dense a sparse model costs what a dense model of its "
                     "total size costs, and with b_s <= b_n the sparse term at a fixed total size "
                     "falls all the way to S = 0. Sparsity pays at fixed compute only when N is "
                     "capped (max_nonzeros, an inference limit) or when the cost model credits "
                     "sparse FLOPs (cost_model=gmp)");
        else
            snprintf(buf, size,
                     "dense: under cost_model=dense a sparse model costs what a dense model of its "
                     "total size costs, and at a fixed total size the sparse term "
                     "(a_s x^(b_s-b_n) + c_s x^(-b_n)) is lowest where x^b_s = b_n c_s / "
                     "(a_s (b_s - b_n)) = %.4g >= 1, so at x = 1 - S = 1. Sparsity pays at fixed "
                     "compute only when N is capped (max_nonzeros, an inference limit) or when "
                     "the cost model credits sparse FLOPs (cost_model=gmp)",
                     st);
    } else if (dense) {
        snprintf(buf, size,
                 "dense: %s%s the loss a dense model reaches with this compute is still the "
                 "lowest",
                 q->cost.model == SL_COST_GMP ? "the FLOPs gmp saves while pruning do not pay; "
                                              : "",
                 best->capped ? "with N capped at max_nonzeros," : "");
    } else if (best->capped) {
        snprintf(buf, size,
                 "sparse: N is capped at max_nonzeros = %.6g, so sparsity is the way to a bigger "
                 "model (more total parameters at the same non-zeros)%s",
                 q->max_nonzeros,
                 q->cost.model == SL_COST_GMP ? ", and gmp credits the FLOPs saved while pruning"
                                              : "");
    } else if (q->cost.model == SL_COST_GMP) {
        snprintf(buf, size,
                 "sparse: cost_model=gmp credits the FLOPs saved while pruning (mean density "
                 "below 1), so a sparse model of a given total size sees more data per FLOP");
    } else {
        snprintf(buf, size,
                 "sparse: for this law x^b_s = b_n c_s / (a_s (b_s - b_n)) = %.4g < 1, so the "
                 "sparse term at a fixed total size is lowest at S = 1 - %.4g^(1/b_s)",
                 st, st);
    }
    return buf;
}

static json_t *frontier_fields(const sl_law_record *rec, const sl_frontier *f) {
    (void)rec;
    return json_pack("{s:f, s:f, s:o, s:f, s:f, s:b}", "sparsity", f->sparsity, "nonzeros",
                     f->nonzeros, "total_params",
                     sl_json_number(sl_law_total_params(f->sparsity, f->nonzeros)), "data", f->data,
                     "loss", f->loss, "capped", f->capped);
}

json_t *sl_frontier_json(const sl_law_record *rec, const sl_frontier_query *q,
                         const sl_frontier *best, const sl_frontier *dense, const char *pattern,
                         const sl_hardware *hw) {
    json_t *o = frontier_fields(rec, best);
    char reason[640];
    json_object_set_new(o, "law", sl_law_ref_json(rec));
    json_object_set_new(o, "compute", json_real(q->compute));
    json_object_set_new(o, "pattern", json_string(pattern));
    json_object_set_new(o, "max_nonzeros",
                        sl_json_number(isinf(q->max_nonzeros) ? (double)NAN : q->max_nonzeros));
    json_object_set_new(o, "max_sparsity",
                        sl_json_number(q->count ? (double)NAN : q->max_sparsity));
    sl_cost_add_json(o, &q->cost);
    json_object_set_new(o, "dense", frontier_fields(rec, dense));
    json_object_set_new(o, "improvement", sl_json_number(dense->loss - best->loss));
    json_object_set_new(o, "verdict",
                        json_pack("{s:s, s:s, s:o}", "optimum",
                                  best->sparsity == 0 ? "dense" : "sparse", "reason",
                                  frontier_reason(rec, q, best, reason, sizeof reason),
                                  "dense_stationary_x_pow_b_s",
                                  sl_json_number(sl_plan_dense_stationary(&rec->law))));
    sl_hardware_add_json(o, "hardware", hw, rec, q->compute, pattern);
    json_object_set_new(o, "units",
                        sl_units_json(rec->data_unit, "sparsity", "nonzeros", "total_params",
                                      "data", "loss", "compute", "max_nonzeros", "max_sparsity",
                                      "improvement", NULL));
    return o;
}

static json_t *inference_fields(const sl_inference_plan *p) {
    return json_pack("{s:f, s:f, s:o, s:f, s:f, s:f, s:f, s:f}", "nonzeros", p->nonzeros,
                     "sparsity", p->sparsity, "total_params",
                     sl_json_number(sl_law_total_params(p->sparsity, p->nonzeros)), "data", p->data,
                     "loss", p->loss, "training_compute", p->training_compute, "inference_compute",
                     p->inference_compute, "total_compute", p->total_compute);
}

json_t *sl_inference_json(const sl_law_record *rec, const sl_inference_query *q,
                          const sl_inference_plan *p, const sl_inference_plan *training_only,
                          const sl_inference_plan *unbounded, const sl_hardware *hw) {
    const char *pattern = p->sparsity == 0 ? "dense" : "unstructured";
    json_t *o = inference_fields(p);
    json_object_set_new(o, "law", sl_law_ref_json(rec));
    json_object_set_new(o, "target_loss", json_real(q->target_loss));
    json_object_set_new(o, "inference_tokens", json_real(q->tokens));
    json_object_set_new(o, "inference_cost",
                        json_string(q->kind == SL_INFER_TOTAL ? "total" : "nonzeros"));
    json_object_set_new(o, "max_sparsity", json_real(q->max_sparsity));
    sl_cost_add_json(o, &q->cost);
    json_object_set_new(
        o, "note",
        json_string(q->kind == SL_INFER_TOTAL
                        ? "inference_compute = 2 x total parameters x inference_tokens (kernels "
                          "that do not skip zeros); total_compute = training + inference"
                        : "inference_compute = 2 x nonzeros x inference_tokens (kernels that skip "
                          "zeros); total_compute = training + inference"));
    if (training_only) json_object_set_new(o, "training_only", inference_fields(training_only));
    int bounded = q->max_nonzeros > 0 && isfinite(q->max_nonzeros);
    json_object_set_new(o, "max_nonzeros", bounded ? sl_json_number(q->max_nonzeros) : json_null());
    json_object_set_new(o, "capped", json_boolean(p->capped));
    if (p->capped) {
        char note[400];
        if (unbounded) {
            json_object_set_new(o, "unbounded", inference_fields(unbounded));
            snprintf(note, sizeof note,
                     "N is capped at max_nonzeros = %.6g: without the bound the cheapest plan has "
                     "N = %.6g and total_compute %.6g; on the bound the best sparsity is %.6g, "
                     "%.3g times that compute (the total has no other minimum, so the bounded "
                     "plan is on the bound); training_only has the same bound",
                     q->max_nonzeros, unbounded->nonzeros, unbounded->total_compute, p->sparsity,
                     p->total_compute / unbounded->total_compute);
        } else {
            snprintf(note, sizeof note,
                     "N is capped at max_nonzeros = %.6g; on the bound the best sparsity is "
                     "%.6g; training_only has the same bound",
                     q->max_nonzeros, p->sparsity);
        }
        json_object_set_new(o, "capped_note", json_string(note));
    }
    if (hw && hw->given) {
        /* Inference FLOPs per non-zero already count only the non-zeros: a
         * kernel speedup on top would count the skipped zeros twice. */
        json_t *h = json_object();
        sl_hardware_add_json(h, "training", hw, rec, p->training_compute, pattern);
        json_object_set_new(
            h, "inference",
            q->kind == SL_INFER_TOTAL
                ? sl_hardware_json(hw, rec, p->inference_compute, pattern)
                : hardware_block(hw, rec, p->inference_compute, pattern, 1.0,
                                 "inference_cost=nonzeros counts only the non-zeros' FLOPs, so "
                                 "no sparse_speedup applies on top"));
        json_t *tr = json_object_get(h, "training"), *in = json_object_get(h, "inference");
        double hours = json_number_value(json_object_get(tr, "gpu_hours")) +
                       json_number_value(json_object_get(in, "gpu_hours"));
        int known = json_is_number(json_object_get(tr, "gpu_hours"));
        json_object_set_new(h, "total",
                            json_pack("{s:o, s:o}", "gpu_hours",
                                      known ? sl_json_number(hours) : json_null(), "cost",
                                      known && !isnan(hw->price_per_hour)
                                          ? sl_json_number(hours * hw->price_per_hour)
                                          : json_null()));
        json_object_set_new(o, "hardware", h);
    }
    json_object_set_new(o, "units",
                        sl_units_json(rec->data_unit, "nonzeros", "sparsity", "total_params",
                                      "data", "loss", "training_compute", "inference_compute",
                                      "total_compute", "target_loss", "inference_tokens",
                                      "max_sparsity", "max_nonzeros", NULL));
    json_t *units = json_object_get(o, "units");
    int tokens = rec->data_unit == SL_UNIT_TOKENS;
    char unit[160];
    snprintf(unit, sizeof unit, "%s (2 x %s x %s)", tokens ? "FLOPs" : "not FLOPs",
             q->kind == SL_INFER_TOTAL ? "total parameters" : "nonzeros",
             sl_data_unit_name(rec->data_unit));
    json_object_set_new(units, "inference_compute", json_string(unit));
    snprintf(unit, sizeof unit, "%s: training_compute + inference_compute",
             tokens ? "FLOPs" : "the law's compute unit (not FLOPs)");
    json_object_set_new(units, "total_compute", json_string(unit));
    return o;
}
