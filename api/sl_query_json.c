#include "sl_query_json.h"

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
