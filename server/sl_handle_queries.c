/* Planning queries on one law: loss, optimal sparsity, plan, dense
 * equivalent, and the series behind the dashboard's charts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_buf.h"
#include "sl_handle.h"
#include "sl_handle_plans.h"
#include "sl_dataset.h" /* SL_DATASET_PATTERN_TOL */
#include "sl_fit.h"
#include "sl_law_json.h"
#include "sl_query.h"
#include "sl_query_json.h"
#include "sl_store.h"
#include "sl_table.h"

#define MAX_SERIES 16

static const double default_max_sparsity = SL_LAW_DEFAULT_MAX_SPARSITY;

/* A parameter count or an amount of data, like nonzeros or data. */
static int amount(sl_request *req, const char *name, const double *dflt, double *out,
                  sl_error *err) {
    return sl_req_number(req, name, &sl_range_amount, dflt, out, err);
}

/* Bounds the work of intervals on a batch: points x draws evaluations. */
#define MAX_INTERVAL_EVALUATIONS 2000000
/* ... and of a curve of numeric optima (gmp): points x draws. */
#define MAX_INTERVAL_OPTIMA 300000

/* The bootstrap draws of a fitted law (none for others): the spread of a
 * quantity over them is its interval. */
typedef struct draws {
    sl_law *law;
    size_t n;
    double *values; /* scratch, n */
} draws;

static void draws_load(sl_request *req, const sl_law_record *rec, draws *d) {
    memset(d, 0, sizeof *d);
    if (rec->draws <= 0 || sl_store_law_draws(sl_req_server(req)->store, rec->name, rec->version,
                                              &d->law, &d->n) != SL_STORE_OK)
        return;
    d->values = malloc(d->n * sizeof *d->values);
    if (!d->values) abort();
}

static void draws_free(draws *d) {
    free(d->law);
    free(d->values);
}

/* [lo, hi] of the values filled in d->values, or NULL without draws. */
static json_t *draws_interval(const draws *d) {
    double lo, hi;
    if (!d->n || sl_fit_percentile_interval(d->values, d->n, SL_FIT_DEFAULT_LEVEL, &lo, &hi))
        return NULL;
    return json_pack("[o, o]", sl_json_number(lo), sl_json_number(hi));
}

/* Adds "interval" of the loss at p over the draws to a loss object. */
static void add_loss_interval(json_t *obj, const draws *d, const sl_point *p) {
    for (size_t i = 0; i < d->n; i++)
        d->values[i] = sl_law_loss(&d->law[i], p->sparsity, p->nonzeros, p->data);
    json_t *interval = draws_interval(d);
    if (interval) json_object_set_new(obj, "interval", interval);
}

/* The unit of an "interval" field, when the law has draws. */
static void add_interval_unit(json_t *units, const draws *d, const char *of) {
    if (d->n)
        json_object_set_new(units, "interval",
                            json_pack("s+", "95 % bootstrap percentile interval of ", of));
}

static void reply_law_ref(sl_request *req, const sl_law_record *rec, json_t *body) {
    json_object_set_new(body, "law", sl_law_ref_json(rec));
    sl_reply_json(req, 200, body);
}

/* pattern=n:m of a loss query: its sparsity 1 - n/m (the default of
 * sparsity=, which must agree when given) and name. */
static int parse_loss_pattern(sl_request *req, const char *text, double *sparsity, char *name,
                              size_t cap, sl_error *err) {
    int n, m;
    if (sl_parse_pattern("pattern", text, &n, &m, err)) return -1;
    snprintf(name, cap, "%d:%d", n, m);
    double s = 1.0 - (double)n / (double)m;
    if (sl_req_number(req, "sparsity", &sl_range_sparsity, &s, sparsity, err)) return -1;
    if (fabs(*sparsity - s) > SL_DATASET_PATTERN_TOL)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "pattern",
                            "pattern %s means sparsity %.17g, but sparsity is %.17g", name, s,
                            *sparsity);
    return 0;
}

void sl_handle_loss(sl_request *req) {
    sl_law_record rec;
    sl_point p;
    sl_error err;
    const char *pattern = sl_req_query(req, "pattern");
    char pattern_name[SL_QUERY_PATTERN_NAME_MAX] = "";
    if (sl_handle_path_law(req, &rec) != 0) return;
    sl_plan_strategy strategy;
    double pretrain, factor = 1;
    if ((pattern ? parse_loss_pattern(req, pattern, &p.sparsity, pattern_name, sizeof pattern_name,
                                      &err)
                 : sl_req_number(req, "sparsity", &sl_range_sparsity, NULL, &p.sparsity, &err)) ||
        amount(req, "nonzeros", NULL, &p.nonzeros, &err) ||
        amount(req, "data", NULL, &p.data, &err) ||
        sl_handle_strategy_params(req, &strategy, &pretrain, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    if (strategy == SL_PLAN_PRETRAINED) {
        if (sl_handle_pretrained_range(req, "sparsity", p.sparsity)) return;
        sl_plan_pretrained_factor(p.sparsity, &factor);
    }
    /* A pruning run of D units counts as factor x D from scratch. */
    double given_data = p.data;
    p.data *= factor;
    draws d;
    draws_load(req, &rec, &d);
    sl_law law = rec.law;
    json_t *pattern_json = NULL;
    if (pattern) { /* the pattern's factor on the sparse term, in the law and each draw */
        const char *names[1] = {pattern_name};
        sl_handle_patterns pf;
        sl_handle_patterns_load(req, &rec, names, 1, d.n, &pf);
        law.a_s *= pf.eta[0];
        for (size_t i = 0; i < d.n; i++)
            d.law[i].a_s *= sl_handle_patterns_draw_eta(&pf, 0, i);
        json_t *all = sl_handle_patterns_json(&rec, &pf);
        pattern_json = json_incref(json_array_get(all, 0));
        json_decref(all);
        sl_handle_patterns_free(&pf);
    }
    json_t *body = sl_loss_json(&law, &p);
    if (strategy == SL_PLAN_PRETRAINED) {
        json_object_set_new(body, "data", json_real(given_data));
        json_object_set_new(body, "effective_data", sl_json_number(p.data));
        json_t *st = sl_strategy_json(strategy, p.sparsity, pretrain, (double)NAN, &rec);
        /* A loss has no compute figure to count pretraining in. */
        json_object_del(st, "pretrain_compute");
        json_object_set_new(st, "pretrain_note",
                            json_string("a loss has no compute figure: the dense pretraining "
                                        "compute is not part of this answer"));
        json_object_set_new(body, "strategy", st);
    }
    json_t *units = sl_units_json(rec.data_unit, "loss", "sparsity", "nonzeros", "data",
                                  "total_params", "dense_equivalent_params", "loss_floor", NULL);
    if (strategy == SL_PLAN_PRETRAINED)
        json_object_set_new(units, "effective_data",
                            json_pack("s+", sl_data_unit_name(rec.data_unit),
                                      " from scratch that the pruning run's data is worth"));
    if (pattern_json) {
        json_object_set_new(body, "pattern", pattern_json);
        json_object_set_new(units, "pattern",
                            json_string("eta: dimensionless factor on a_s for the pattern"));
    }
    add_loss_interval(body, &d, &p);
    add_interval_unit(units, &d, "loss");
    draws_free(&d);
    json_object_set_new(body, "units", units);
    reply_law_ref(req, &rec, body);
}

void sl_handle_loss_batch(sl_request *req) {
    sl_law_record rec;
    sl_point *pts = NULL;
    size_t n = 0;
    sl_error err;
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (sl_points_decode(sl_req_json(req), SL_BATCH_MAX_POINTS, &pts, &n, &err) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    json_t *out = json_array();
    draws d;
    draws_load(req, &rec, &d);
    if (d.n * n > MAX_INTERVAL_EVALUATIONS) d.n = 0; /* too much work: points go without */
    for (size_t i = 0; i < n; i++) {
        json_t *point = sl_loss_json(&rec.law, &pts[i]);
        add_loss_interval(point, &d, &pts[i]);
        json_array_append_new(out, point);
    }
    json_t *units = sl_units_json(rec.data_unit, "loss", "sparsity", "nonzeros", "data",
                                  "total_params", "dense_equivalent_params", "loss_floor", NULL);
    add_interval_unit(units, &d, "loss");
    draws_free(&d);
    free(pts);
    reply_law_ref(req, &rec, json_pack("{s:o, s:o}", "points", out, "units", units));
}

/* The request's cost_model, prune_start and prune_end, decoded. */
static int parse_cost(sl_request *req, sl_cost *cost, sl_error *err) {
    return sl_query_cost_decode(sl_req_query(req, "cost_model"), sl_req_query(req, "prune_start"),
                                sl_req_query(req, "prune_end"), cost, err);
}

void sl_handle_optimal_sparsity(sl_request *req) {
    sl_law_record rec;
    sl_optimum_query q;
    sl_law_optimum opt;
    sl_error err;
    double pattern_s[SL_QUERY_MAX_PATTERNS];
    char pattern_names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t npatterns = 0, chosen = 0;
    const char *patterns = sl_req_query(req, "patterns");
    memset(&q, 0, sizeof q);
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (amount(req, "nonzeros", NULL, &q.nonzeros, &err) ||
        sl_query_budget_decode(sl_req_query(req, "compute"), sl_req_query(req, "data"), &rec,
                               q.nonzeros, &q.dense_data, &q.given_compute, &err) ||
        parse_cost(req, &q.cost, &err) ||
        sl_req_number(req, "max_sparsity", &sl_range_sparsity, &default_max_sparsity,
                      &q.max_sparsity, &err) ||
        (patterns &&
         sl_query_patterns_decode(patterns, pattern_s, pattern_names, &npatterns, &err))) {
        sl_reply_error(req, &err);
        return;
    }
    if (sl_query_patterns_exclusive(patterns, sl_req_query(req, "max_sparsity"), &err)) {
        sl_reply_error(req, &err);
        return;
    }
    /* pattern=: the loss of that one choice, beside the optimum. */
    const char *given_pattern = sl_req_query(req, "pattern");
    double given_s = 0, pretrain;
    char given_name[SL_QUERY_PATTERN_NAME_MAX];
    sl_plan_strategy strategy;
    sl_hardware hw;
    if ((given_pattern && sl_query_pattern_decode(given_pattern, &given_s, given_name, &err)) ||
        sl_handle_strategy_params(req, &strategy, &pretrain, &err) ||
        sl_handle_hardware_params(req, &hw, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    if (strategy == SL_PLAN_PRETRAINED) {
        if (patterns) {
            sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "patterns",
                          "strategy=pretrained searches S in [%g, %g]; patterns= compares with "
                          "dense, which pruning a dense checkpoint does not give: use pattern= "
                          "for one pattern",
                          SL_PLAN_PRETRAINED_MIN, SL_PLAN_PRETRAINED_MAX);
            return;
        }
        if (q.max_sparsity < SL_PLAN_PRETRAINED_MIN &&
            sl_handle_pretrained_range(req, "max_sparsity", q.max_sparsity))
            return;
        if (given_pattern && sl_handle_pretrained_range(req, "pattern", given_s)) return;
    }
    const char *names[SL_QUERY_MAX_PATTERNS];
    for (size_t i = 0; i < npatterns; i++)
        names[i] = pattern_names[i];
    sl_handle_patterns pf;
    sl_handle_patterns_load(req, &rec, names, npatterns, 0, &pf);
    int rc = patterns ? sl_law_optimal_among_factors(&rec.law, &q.cost, q.nonzeros, q.dense_data,
                                                     pattern_s, pf.eta, npatterns, &opt, &chosen)
                      : sl_plan_optimal_sparsity(&rec.law, &q.cost, strategy, q.nonzeros,
                                                 q.dense_data, q.max_sparsity, &opt);
    if (rc != SL_LAW_OK || !isfinite(opt.loss) || !isfinite(opt.dense_loss)) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL,
                      "the law gives no finite optimum for nonzeros=%g and this budget",
                      q.nonzeros);
        sl_handle_patterns_free(&pf);
        return;
    }
    q.pattern = !patterns ? "unstructured" : chosen == npatterns ? "dense" : pattern_names[chosen];
    if (patterns) q.max_sparsity = (double)NAN;
    json_t *body = sl_optimum_json(&rec, &q, &opt);
    if (patterns) json_object_set_new(body, "pattern_factors", sl_handle_patterns_json(&rec, &pf));
    sl_law_optimum at;
    sl_law at_law = rec.law; /* the given pattern's fitted factor, if the law has one */
    const sl_law_pattern *given_factor =
        given_pattern ? sl_law_record_pattern(&rec, given_name) : NULL;
    if (given_factor) at_law.a_s *= given_factor->eta;
    if (given_pattern && sl_plan_optimum_at(&at_law, &q.cost, strategy, q.nonzeros, q.dense_data,
                                            given_s, &at) == SL_LAW_OK)
        json_object_set_new(body, "at_pattern",
                            json_pack("{s:s, s:f, s:o, s:o, s:o, s:f}", "pattern", given_name,
                                      "sparsity", given_s, "loss", sl_json_number(at.loss), "data",
                                      sl_json_number(at.data), "loss_above_optimum",
                                      sl_json_number(at.loss - opt.loss), "eta",
                                      given_factor ? given_factor->eta : 1.0));
    if (strategy == SL_PLAN_PRETRAINED) {
        json_object_set_new(body, "strategy",
                            sl_strategy_json(strategy, opt.sparsity, pretrain,
                                             6.0 * q.nonzeros * q.dense_data, &rec));
        /* Those thresholds are where training sparse from scratch starts to
         * beat dense; a pruning run searches S in the pretrained range only. */
        json_object_set_new(body, "sparsity_pays_above_data", json_null());
        json_object_set_new(body, "sparsity_pays_above_compute", json_null());
        json_object_set_new(body, "dense_loss_note",
                            json_string("loss: the pruned pretrained model after a pruning run "
                                        "of this budget; dense_loss: a dense model trained from "
                                        "scratch on the same budget"));
    }
    sl_hardware_add_json(body, "hardware", &hw, &rec, 6.0 * q.nonzeros * q.dense_data, q.pattern);
    /* The interval of S_opt over the bootstrap draws of a fitted law. */
    draws d;
    draws_load(req, &rec, &d);
    sl_handle_patterns_free(&pf);
    sl_handle_patterns_load(req, &rec, names, npatterns, d.n, &pf);
    size_t ok = 0;
    for (size_t i = 0; i < d.n; i++) {
        sl_law_optimum o;
        size_t pick;
        double eta[SL_QUERY_MAX_PATTERNS];
        for (size_t k = 0; k < npatterns; k++)
            eta[k] = sl_handle_patterns_draw_eta(&pf, k, i);
        int r = patterns
                    ? sl_law_optimal_among_factors(&d.law[i], &q.cost, q.nonzeros, q.dense_data,
                                                   pattern_s, eta, npatterns, &o, &pick)
                    : sl_plan_optimal_sparsity(
                          &d.law[i], &q.cost, strategy, q.nonzeros, q.dense_data,
                          isnan(q.max_sparsity) ? default_max_sparsity : q.max_sparsity, &o);
        if (r == SL_LAW_OK) d.values[ok++] = o.sparsity;
    }
    d.n = ok;
    json_t *interval = draws_interval(&d);
    if (interval) json_object_set_new(body, "interval", interval);
    add_interval_unit(json_object_get(body, "units"), &d, "sparsity");
    draws_free(&d);
    sl_handle_patterns_free(&pf);
    sl_reply_json(req, 200, body);
}

/* A plan the response can state: positive data, finite compute and loss. A
 * target far above the dense loss at any data needs "no data" (it underflows). */
static int plan_finite(const sl_law_plan *p) {
    return p->data > 0 && isfinite(p->data) && isfinite(p->compute) && isfinite(p->loss);
}

/* The fixed choice of a plan: sparsity= or pattern= (name "unstructured"
 * for sparsity=), NaN when neither; 400 for both, or either beside
 * max_sparsity (which bounds a search there is then none of). */
static int plan_choice(sl_request *req, double *fixed, char name[SL_QUERY_PATTERN_NAME_MAX],
                       const char **field, sl_error *err) {
    const char *sp = sl_req_query(req, "sparsity"), *pat = sl_req_query(req, "pattern");
    *fixed = (double)NAN;
    *field = sp ? "sparsity" : "pattern";
    if (sp && pat)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "pattern",
                            "give one choice: sparsity= or pattern=, not both");
    if ((sp || pat) && sl_req_query(req, "max_sparsity"))
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "max_sparsity",
                            "max_sparsity bounds the search for the cheapest sparsity; with %s= "
                            "the choice is fixed",
                            *field);
    snprintf(name, SL_QUERY_PATTERN_NAME_MAX, "%s", "dense");
    if (pat) return sl_query_pattern_decode(pat, fixed, name, err);
    if (sp) {
        if (sl_parse_number("sparsity", sp, &sl_range_sparsity, fixed, err)) return -1;
        snprintf(name, SL_QUERY_PATTERN_NAME_MAX, "%s", *fixed == 0 ? "dense" : "");
    }
    return 0;
}

/* The compute figures of a plan object: training compute's GPU time. */
static void plan_hardware(json_t *obj, const sl_hardware *hw, const sl_law_record *rec) {
    json_t *s = json_object_get(obj, "sparsity"), *c = json_object_get(obj, "compute");
    if (!json_is_number(s) || !json_is_number(c)) return;
    sl_hardware_add_json(obj, "hardware", hw, rec, json_number_value(c),
                         json_number_value(s) == 0 ? "dense" : "unstructured");
}

/* A plan's sparsity, data, compute and total parameters under one law:
 * the same query (cost model, fixed choice, strategy) per bootstrap draw. */
static int plan_draw(const sl_law *law, const void *query, double *out) {
    const sl_plan_query *q = query;
    sl_law_plan p;
    if (sl_plan_solve(law, q, &p) != SL_LAW_OK || !plan_finite(&p)) return -1;
    out[0] = p.sparsity;
    out[1] = p.data;
    out[2] = p.compute;
    out[3] = sl_law_total_params(p.sparsity, q->nonzeros);
    return 0;
}

void sl_handle_plan(sl_request *req) {
    sl_law_record rec;
    sl_law_plan plan, dense;
    sl_plan_query q;
    sl_hardware hw;
    double pretrain;
    char choice_name[SL_QUERY_PATTERN_NAME_MAX];
    const char *choice_field;
    sl_error err;
    memset(&q, 0, sizeof q);
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (sl_req_query(req, "inference_tokens") || sl_req_query(req, "inference_cost") ||
        sl_req_query(req, "max_nonzeros")) {
        sl_handle_plan_inference(req, &rec);
        return;
    }
    if (sl_req_number(req, "target_loss", &sl_range_positive, NULL, &q.target_loss, &err) ||
        amount(req, "nonzeros", NULL, &q.nonzeros, &err) ||
        sl_req_number(req, "max_sparsity", &sl_range_sparsity, &default_max_sparsity,
                      &q.max_sparsity, &err) ||
        parse_cost(req, &q.cost, &err) ||
        plan_choice(req, &q.fixed_sparsity, choice_name, &choice_field, &err) ||
        sl_handle_strategy_params(req, &q.strategy, &pretrain, &err) ||
        sl_handle_hardware_params(req, &hw, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    double target = q.target_loss, n = q.nonzeros, max_s = q.max_sparsity;
    int fixed = !isnan(q.fixed_sparsity);
    if (q.strategy == SL_PLAN_PRETRAINED &&
        (fixed ? sl_handle_pretrained_range(req, choice_field, q.fixed_sparsity)
               : max_s < SL_PLAN_PRETRAINED_MIN &&
                     sl_handle_pretrained_range(req, "max_sparsity", max_s)))
        return;
    int rc = sl_plan_solve(&rec.law, &q, &plan);
    if (rc == SL_LAW_UNREACHABLE) {
        /* The floor at the most sparsity the query allows. */
        double top = fixed                              ? q.fixed_sparsity
                     : q.strategy == SL_PLAN_PRETRAINED ? fmin(max_s, SL_PLAN_PRETRAINED_MAX)
                                                        : max_s;
        double floor = sl_law_plan_floor(&rec.law, n, top);
        sl_error_set(&err, SL_ERR_UNREACHABLE, "target_loss",
                     "target_loss %g is out of reach for nonzeros=%g: no amount of data gets "
                     "below %.6g at sparsity %s %g (and never below %.6g at any sparsity)",
                     target, n, floor, fixed ? "=" : "<=", top,
                     rec.law.c + rec.law.c_s * pow(n, -rec.law.b_n));
        err.extra_name = "loss_floor";
        err.extra_value = floor;
        sl_reply_error(req, &err);
        return;
    }
    if (rc != SL_LAW_OK || !plan_finite(&plan)) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL, "no plan found for these inputs");
        return;
    }
    int dense_ok = sl_law_plan_min_compute(&rec.law, target, n, 0.0, &dense) == SL_LAW_OK &&
                   plan_finite(&dense);
    json_t *body = sl_plan_json(&rec, target, n, &plan, dense_ok ? &dense : NULL);
    sl_cost_add_json(body, &q.cost);
    json_object_set_new(body, "choice",
                        json_string(!fixed                   ? "cheapest"
                                    : choice_field[0] == 'p' ? "pattern"
                                                             : "sparsity"));
    if (fixed && choice_name[0]) json_object_set_new(body, "pattern", json_string(choice_name));
    if (fixed) { /* the cheapest plan beside the fixed choice */
        sl_plan_query free_q = q;
        sl_law_plan best;
        free_q.fixed_sparsity = (double)NAN;
        free_q.max_sparsity = default_max_sparsity;
        if (sl_plan_solve(&rec.law, &free_q, &best) == SL_LAW_OK && plan_finite(&best)) {
            json_object_set_new(body, "cheapest",
                                json_pack("{s:f, s:f, s:f, s:f}", "sparsity", best.sparsity, "data",
                                          best.data, "compute", best.compute, "loss", best.loss));
            json_object_set_new(body, "compute_above_cheapest",
                                sl_json_number(plan.compute / best.compute));
        }
    } else {
        json_object_set_new(body, "max_sparsity", json_real(max_s));
    }
    if (q.strategy == SL_PLAN_PRETRAINED)
        json_object_set_new(
            body, "strategy",
            sl_strategy_json(q.strategy, plan.sparsity, pretrain, plan.compute, &rec));
    if (hw.given) {
        if (fixed && choice_name[0] && strcmp(choice_name, "dense") != 0)
            sl_hardware_add_json(body, "hardware", &hw, &rec, plan.compute, choice_name);
        else
            plan_hardware(body, &hw, &rec);
        json_t *dj = json_object_get(body, "dense");
        if (json_is_object(dj)) plan_hardware(dj, &hw, &rec);
    }
    json_object_set_new(json_object_get(body, "units"), "compute_above_cheapest",
                        json_string("ratio of compute to the cheapest plan's"));
    if (q.cost.model == SL_COST_GMP)
        json_object_set_new(body, "compute_note",
                            json_string("cost_model=gmp: compute = 6 x total parameters x data x "
                                        "mean density over the pruning schedule"));
    static const char *const fields[] = {"sparsity", "data", "compute", "total_params", NULL};
    sl_handle_draws d;
    sl_handle_draws_load(req, &rec, &d);
    sl_handle_add_intervals(body, &d, plan_draw, &q, fields);
    sl_handle_draws_free(&d);
    sl_reply_json(req, 200, body);
}

void sl_handle_equivalent_dense(sl_request *req) {
    sl_law_record rec;
    double s, n = (double)NAN;
    sl_error err;
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (sl_req_number(req, "sparsity", &sl_range_sparsity, NULL, &s, &err) ||
        (sl_req_query(req, "nonzeros") && amount(req, "nonzeros", NULL, &n, &err))) {
        sl_reply_error(req, &err);
        return;
    }
    double m = sl_law_dense_multiplier(&rec.law, s);
    json_t *body = json_pack("{s:f, s:f, s:o}", "sparsity", s, "multiplier", m, "limit",
                             sl_json_number(sl_law_dense_multiplier_limit(&rec.law)));
    if (!isnan(n)) {
        json_object_set_new(body, "nonzeros", json_real(n));
        json_object_set_new(body, "dense_equivalent_params", sl_json_number(m * n));
    }
    json_object_set_new(body, "units",
                        sl_units_json(rec.data_unit, "sparsity", "multiplier", "limit", "nonzeros",
                                      "dense_equivalent_params", NULL));
    reply_law_ref(req, &rec, body);
}

/* ------------------------------------------------------------------ curves */

/* points= and a log-spaced grid from lo to hi. */
static int parse_points(sl_request *req, long *points, sl_error *err) {
    const char *text = sl_req_query(req, "points");
    *points = 50;
    return text ? sl_parse_int("points", text, 2, 1000, points, err) : 0;
}

static double log_grid(double lo, double hi, long i, long points) {
    return exp(log(lo) + (log(hi) - log(lo)) * (double)i / (double)(points - 1));
}

/* The request's [lo_name, hi_name] span, decoded (defaults dlo, dhi). */
static int parse_span(sl_request *req, const char *lo_name, const char *hi_name,
                      const sl_range *range, double dlo, double dhi, double *lo, double *hi,
                      sl_error *err) {
    return sl_query_span_decode(lo_name, sl_req_query(req, lo_name), hi_name,
                                sl_req_query(req, hi_name), range, dlo, dhi, lo, hi, err);
}

/* A span whose defaults dlo, dhi come from the law. What the client sent
 * wrong is the client's 400, naming what it sent; a span the law's defaults
 * leave empty (a law extreme enough to put them out of bounds or past
 * what a double holds) cannot be drawn without a range of the client's:
 * 422, naming the law and the range. */
static int parse_law_span(sl_request *req, const sl_law_record *rec, const char *what,
                          const char *lo_name, const char *hi_name, const sl_range *range,
                          double dlo, double dhi, double *lo, double *hi, sl_error *err) {
    const char *lo_text = sl_req_query(req, lo_name), *hi_text = sl_req_query(req, hi_name);
    if (sl_query_span_decode(lo_name, lo_text, hi_name, hi_text, range, dlo, dhi, lo, hi, err) == 0)
        return 0;
    double v;
    sl_error own;
    if ((lo_text && sl_parse_number(lo_name, lo_text, range, &v, &own)) ||
        (hi_text && sl_parse_number(hi_name, hi_text, range, &v, &own)) || (lo_text && hi_text))
        return -1; /* a value, or a span, all of the client's */
    int drawable = isfinite(dlo) && isfinite(dhi) && fmax(dlo, range->lo) < fmin(dhi, range->hi);
    if (drawable) { /* one bound sent, past the law's default for the other */
        const char *given = lo_text ? lo_name : hi_name, *other = lo_text ? hi_name : lo_name;
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, given,
                            "%s (%.40s) leaves no range against the default %s of law '%s' (%g); "
                            "give %s too",
                            given, lo_text ? lo_text : hi_text, other, rec->name,
                            lo_text ? dhi : dlo, other);
    }
    return sl_error_set(err, SL_ERR_UNPROCESSABLE, NULL,
                        "law '%s' has no default %s range to draw here: it would run from %g to "
                        "%g, and %s must be %s; give %s and %s",
                        rec->name, what, dlo, dhi, what, range->what, lo_name, hi_name);
}

/* The table as CSV after one comment line with each column's unit (an
 * x_lo or x_hi column has x's): "# units: data = tokens; loss = ...". A
 * reader skips it as a comment (pandas comment="#", R comment.char). */
static char *csv_with_units(const sl_table *t, const json_t *units, size_t *len) {
    size_t body_len;
    char *body = sl_table_csv(t, &body_len);
    sl_buf b = {0};
    if (sl_buf_adds(&b, "# units:") != 0) abort();
    for (size_t c = 0; c < t->ncols; c++) {
        const char *u = sl_table_unit(units, t->cols[c]);
        if (sl_buf_addf(&b, "%s %s = %s", c ? ";" : "", t->cols[c], u ? u : "no unit") != 0)
            abort();
    }
    if (sl_buf_adds(&b, "\r\n") != 0 || sl_buf_add(&b, body, body_len) != 0) abort();
    free(body);
    *len = b.len;
    return b.data;
}

/* Answers with the table as CSV or as JSON series, then frees it. */
static void reply_table(sl_request *req, const sl_law_record *rec, sl_table *t, int csv,
                        size_t group_col, json_t *body) {
    if (csv) {
        size_t len;
        char *text = csv_with_units(t, json_object_get(body, "units"), &len);
        json_decref(body);
        sl_reply_text(req, 200, "text/csv; charset=utf-8", text, len);
    } else {
        json_object_set_new(body, "series", sl_table_series(t, group_col));
        reply_law_ref(req, rec, body);
    }
    sl_table_free(t);
}

/* The loss at a point under one law. */
static int loss_draw(const sl_law *law, const void *query, double *out) {
    const sl_point *p = query;
    out[0] = sl_law_loss(law, p->sparsity, p->nonzeros, p->data);
    return 0;
}

void sl_handle_curve_loss_vs_data(sl_request *req) {
    static const char *const cols[] = {"sparsity", "nonzeros", "data", "loss", NULL};
    static const char *const cols_iv[] = {"sparsity", "nonzeros", "data", "loss",
                                          "loss_lo",  "loss_hi",  NULL};
    static const double default_s[] = {0.0, 0.5, 0.75, 0.875};
    sl_law_record rec;
    double n, lo, hi, s[MAX_SERIES];
    size_t ns = 4;
    long points;
    int csv;
    sl_error err;
    const char *sparsities = sl_req_query(req, "sparsities");
    if (sl_handle_path_law(req, &rec) != 0) return;
    memcpy(s, default_s, sizeof default_s);
    if (sl_req_wants_csv(req, &err, &csv) || amount(req, "nonzeros", NULL, &n, &err) ||
        (sparsities && sl_parse_number_list("sparsities", sparsities, &sl_range_sparsity, s,
                                            MAX_SERIES, &ns, &err)) ||
        parse_points(req, &points, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    double chin = sl_law_dense_optimal_data(&rec.law, n);
    if (parse_law_span(req, &rec, "data", "data_min", "data_max", &sl_range_amount, chin / 10,
                       chin * 100, &lo, &hi, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    sl_table t;
    sl_handle_draws dr;
    size_t dropped =
        sl_handle_curve_draws(req, &rec, ns * (size_t)points, MAX_INTERVAL_EVALUATIONS, &dr);
    sl_table_init(&t, NULL, dr.n ? cols_iv : cols);
    for (size_t k = 0; k < ns; k++)
        for (long i = 0; i < points; i++) {
            double d = log_grid(lo, hi, i, points);
            sl_point p = {s[k], n, d};
            double row[] = {s[k],        n,          d, sl_law_loss(&rec.law, s[k], n, d),
                            (double)NAN, (double)NAN};
            sl_handle_interval_row(&dr, loss_draw, &p, 1, &row[4], &row[5]);
            sl_table_add(&t, NULL, row);
        }
    json_t *body =
        json_pack("{s:f, s:o}", "nonzeros", n, "units",
                  sl_units_json(rec.data_unit, "sparsity", "nonzeros", "data", "loss", NULL));
    sl_handle_band_units(body, &dr, "loss");
    sl_handle_band_note(body, dropped, ns * (size_t)points, MAX_INTERVAL_EVALUATIONS);
    sl_handle_draws_free(&dr);
    reply_table(req, &rec, &t, csv, 0, body);
}

typedef struct optimum_query {
    const sl_cost *cost;
    double nonzeros, dense_data, max_sparsity;
} optimum_query;

/* S_opt and its loss under one law. */
static int optimum_draw(const sl_law *law, const void *query, double *out) {
    const optimum_query *q = query;
    sl_law_optimum o;
    if (sl_law_optimal_sparsity(law, q->cost, q->nonzeros, q->dense_data, q->max_sparsity, &o) !=
        SL_LAW_OK)
        return -1;
    out[0] = o.sparsity;
    out[1] = o.loss;
    return 0;
}

void sl_handle_curve_optimal_sparsity(sl_request *req) {
    static const char *const base_cols[] = {"nonzeros", "compute",    "dense_data", "sparsity",
                                            "loss",     "dense_loss", "data"};
    static const char *const band_cols[] = {"sparsity_lo", "sparsity_hi", "loss_lo", "loss_hi"};
    static const double default_n[] = {1e8, 1e9, 1e10};
    sl_law_record rec;
    sl_cost cost;
    sl_hardware hw;
    double n[MAX_SERIES], lo, hi, max_s;
    size_t nn = 3;
    long points;
    int csv;
    sl_error err;
    const char *nonzeros = sl_req_query(req, "nonzeros");
    if (sl_handle_path_law(req, &rec) != 0) return;
    memcpy(n, default_n, sizeof default_n);
    if (sl_req_wants_csv(req, &err, &csv) ||
        (nonzeros &&
         sl_parse_number_list("nonzeros", nonzeros, &sl_range_amount, n, MAX_SERIES, &nn, &err)) ||
        parse_points(req, &points, &err) || parse_cost(req, &cost, &err) ||
        sl_req_number(req, "max_sparsity", &sl_range_sparsity, &default_max_sparsity, &max_s,
                      &err) ||
        sl_handle_hardware_params(req, &hw, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    /* The x axis is compute (shared by every N) or dense data. */
    int by_compute = sl_req_query(req, "compute_min") || sl_req_query(req, "compute_max");
    if (by_compute && (sl_req_query(req, "data_min") || sl_req_query(req, "data_max"))) {
        sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "compute_min",
                      "give the range as compute_min/compute_max or data_min/data_max, not both");
        return;
    }
    if (by_compute && rec.data_unit != SL_UNIT_TOKENS) {
        sl_reply_fail(req, SL_ERR_UNIT_MISMATCH, "compute_min",
                      "law '%s' measures data in %s, so a range in FLOPs cannot be converted; "
                      "use data_min/data_max",
                      rec.name, sl_data_unit_name(rec.data_unit));
        return;
    }
    if (!sl_req_query(req, "data_min") && !sl_req_query(req, "data_max") &&
        rec.data_unit == SL_UNIT_TOKENS)
        by_compute = 1;
    double nmin = n[0], nmax = n[0];
    for (size_t k = 1; k < nn; k++) {
        nmin = fmin(nmin, n[k]);
        nmax = fmax(nmax, n[k]);
    }
    double dlo = sl_law_dense_optimal_data(&rec.law, nmin) / 10;
    double dhi = sl_law_dense_optimal_data(&rec.law, nmax) * 1000;
    if (by_compute
            ? parse_law_span(req, &rec, "compute", "compute_min", "compute_max", &sl_range_compute,
                             6 * nmin * dlo, 6 * nmax * dhi, &lo, &hi, &err)
            : parse_law_span(req, &rec, "data", "data_min", "data_max", &sl_range_amount, dlo, dhi,
                             &lo, &hi, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    sl_table t;
    sl_handle_draws dr;
    size_t max_evals = cost.model == SL_COST_GMP ? MAX_INTERVAL_OPTIMA : MAX_INTERVAL_EVALUATIONS;
    size_t dropped = sl_handle_curve_draws(req, &rec, nn * (size_t)points, max_evals, &dr);
    const char *cols[SL_TABLE_MAX_COLS];
    size_t ncols = 0;
    for (size_t c = 0; c < sizeof base_cols / sizeof base_cols[0]; c++)
        cols[ncols++] = base_cols[c];
    for (size_t c = 0; dr.n && c < sizeof band_cols / sizeof band_cols[0]; c++)
        cols[ncols++] = band_cols[c];
    size_t hw_at = ncols, nhw = sl_handle_hardware_columns(&hw, cols, &ncols);
    cols[ncols] = NULL;
    sl_table_init(&t, NULL, cols);
    for (size_t k = 0; k < nn; k++)
        for (long i = 0; i < points; i++) {
            double x = log_grid(lo, hi, i, points);
            double dd = by_compute ? x / (6 * n[k]) : x;
            sl_law_optimum opt;
            if (sl_law_optimal_sparsity(&rec.law, &cost, n[k], dd, max_s, &opt) != SL_LAW_OK) {
                sl_table_free(&t);
                sl_handle_draws_free(&dr);
                sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL,
                              "no optimum for nonzeros=%g at dense data %g", n[k], dd);
                return;
            }
            double row[SL_TABLE_MAX_COLS] = {n[k],     6 * n[k] * dd,  dd,      opt.sparsity,
                                             opt.loss, opt.dense_loss, opt.data};
            optimum_query oq = {&cost, n[k], dd, max_s};
            double ivlo[2], ivhi[2];
            if (sl_handle_interval_row(&dr, optimum_draw, &oq, 2, ivlo, ivhi) == 0) {
                row[7] = ivlo[0];
                row[8] = ivhi[0];
                row[9] = ivlo[1];
                row[10] = ivhi[1];
            }
            sl_handle_hardware_row(&hw, &rec, nhw, row[1],
                                   opt.sparsity > 0 ? "unstructured" : "dense", &row[hw_at]);
            sl_table_add(&t, NULL, row);
        }
    json_t *body =
        json_pack("{s:s, s:s, s:f, s:o}", "x", by_compute ? "compute" : "dense_data", "cost_model",
                  cost.model == SL_COST_GMP ? "gmp" : "dense", "max_sparsity", max_s, "units",
                  sl_units_json(rec.data_unit, "nonzeros", "compute", "dense_data", "sparsity",
                                "loss", "dense_loss", "data", NULL));
    sl_handle_band_units(body, &dr, "sparsity");
    sl_handle_band_units(body, &dr, "loss");
    sl_handle_band_note(body, dropped, nn * (size_t)points, max_evals);
    sl_handle_hardware_table_json(body, &hw, &rec);
    sl_handle_draws_free(&dr);
    reply_table(req, &rec, &t, csv, 0, body);
}

/* A contour point of one draw: the dense data where S_opt is the level at
 * these nonzeros (or, with a NaN level, the dense compute-optimal data),
 * and its compute. */
typedef struct contour_query {
    const sl_cost *cost;
    double nonzeros, level;
} contour_query;

static int contour_draw(const sl_law *law, const void *query, double *out) {
    const contour_query *q = query;
    double dd = isnan(q->level) ? sl_law_dense_optimal_data(law, q->nonzeros)
                                : sl_plan_iso_sparsity_data(law, q->cost, q->nonzeros, q->level);
    if (!(dd > 0) || !isfinite(dd)) return -1;
    out[0] = dd;
    out[1] = 6 * q->nonzeros * dd;
    return 0;
}

/* One contour row: the point, its bands over the draws (when there are
 * any), its hardware columns. */
static void contour_row(sl_table *t, const char *line, const sl_law_record *rec,
                        const sl_handle_draws *dr, const sl_hardware *hw, size_t nhw,
                        const contour_query *q, double dd) {
    double row[SL_TABLE_MAX_COLS] = {q->level, q->nonzeros, dd, 6 * q->nonzeros * dd};
    size_t at = 4;
    if (dr->n) {
        double lo[2] = {(double)NAN, (double)NAN}, hi[2] = {(double)NAN, (double)NAN};
        sl_handle_interval_row(dr, contour_draw, q, 2, lo, hi);
        row[at++] = lo[0];
        row[at++] = hi[0];
        row[at++] = lo[1];
        row[at++] = hi[1];
    }
    sl_handle_hardware_row(hw, rec, nhw, row[3], q->level > 0 ? "unstructured" : "dense", &row[at]);
    sl_table_add(t, line, row);
}

void sl_handle_contours(sl_request *req) {
    static const double default_levels[] = {0.1, 0.25, 0.5, 0.75, 0.9};
    static const char *const band_cols[] = {"dense_data_lo", "dense_data_hi", "compute_lo",
                                            "compute_hi"};
    const char *cols[SL_TABLE_MAX_COLS] = {"sparsity", "nonzeros", "dense_data", "compute"};
    size_t ncols = 4;
    sl_law_record rec;
    sl_cost cost;
    sl_hardware hw;
    double levels[MAX_SERIES], lo, hi;
    size_t nl = 5;
    long points;
    int csv;
    sl_error err;
    const char *levels_text = sl_req_query(req, "levels");
    if (sl_handle_path_law(req, &rec) != 0) return;
    memcpy(levels, default_levels, sizeof default_levels);
    if (sl_req_wants_csv(req, &err, &csv) ||
        (levels_text && sl_parse_number_list("levels", levels_text, &sl_range_sparsity, levels,
                                             MAX_SERIES, &nl, &err)) ||
        parse_points(req, &points, &err) ||
        parse_span(req, "nonzeros_min", "nonzeros_max", &sl_range_amount, 1e7, 1e12, &lo, &hi,
                   &err) ||
        parse_cost(req, &cost, &err) || sl_handle_hardware_params(req, &hw, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    if (!isfinite(sl_plan_iso_sparsity_data(&rec.law, &cost, lo, levels[0]))) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "prune_start",
                      "with pruning from the very start (prune_start = prune_end = 0) gmp costs "
                      "no more at any sparsity, so S_opt is max_sparsity at every budget: there "
                      "are no iso-S_opt lines to draw");
        return;
    }
    size_t rows = (nl + 1) * (size_t)points;
    sl_handle_draws dr;
    size_t dropped = sl_handle_curve_draws(req, &rec, rows, MAX_INTERVAL_EVALUATIONS, &dr);
    for (size_t c = 0; dr.n && c < sizeof band_cols / sizeof band_cols[0]; c++)
        cols[ncols++] = band_cols[c];
    size_t nhw = sl_handle_hardware_columns(&hw, cols, &ncols);
    sl_table t;
    sl_table_init(&t, "line", cols);
    for (size_t k = 0; k < nl; k++)
        for (long i = 0; i < points; i++) {
            contour_query cq = {&cost, log_grid(lo, hi, i, points), levels[k]};
            contour_row(&t, "iso_sparsity", &rec, &dr, &hw, nhw, &cq,
                        sl_plan_iso_sparsity_data(&rec.law, &cost, cq.nonzeros, cq.level));
        }
    for (long i = 0; i < points; i++) {
        contour_query cq = {&cost, log_grid(lo, hi, i, points), (double)NAN};
        contour_row(&t, "dense_optimal", &rec, &dr, &hw, nhw, &cq,
                    sl_law_dense_optimal_data(&rec.law, cq.nonzeros));
    }
    json_t *body = json_pack(
        "{s:s, s:s, s:o}", "cost_model", cost.model == SL_COST_GMP ? "gmp" : "dense", "note",
        "iso_sparsity lines: where S_opt equals sparsity; dense_optimal: "
        "the compute-optimal data of a dense model (S = 0 slice)",
        "units",
        sl_units_json(rec.data_unit, "sparsity", "nonzeros", "dense_data", "compute", NULL));
    sl_cost_add_json(body, &cost);
    sl_handle_band_units(body, &dr, "dense_data");
    sl_handle_band_units(body, &dr, "compute");
    sl_handle_band_note(body, dropped, rows, MAX_INTERVAL_EVALUATIONS);
    sl_handle_hardware_table_json(body, &hw, &rec);
    sl_handle_draws_free(&dr);
    reply_table(req, &rec, &t, csv, 0, body);
}
