/* Planning queries on one law: loss, optimal sparsity, plan, dense
 * equivalent, and the series behind the dashboard's charts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_buf.h"
#include "sl_handle.h"
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

void sl_handle_loss(sl_request *req) {
    sl_law_record rec;
    sl_point p;
    sl_error err;
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (sl_req_number(req, "sparsity", &sl_range_sparsity, NULL, &p.sparsity, &err) ||
        amount(req, "nonzeros", NULL, &p.nonzeros, &err) ||
        amount(req, "data", NULL, &p.data, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    json_t *body = sl_loss_json(&rec.law, &p);
    json_t *units = sl_units_json(rec.data_unit, "loss", "sparsity", "nonzeros", "data",
                                  "total_params", "dense_equivalent_params", "loss_floor", NULL);
    draws d;
    draws_load(req, &rec, &d);
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
    if (patterns && sl_req_query(req, "max_sparsity")) {
        sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "max_sparsity",
                      "max_sparsity bounds the search over any sparsity; with patterns= the "
                      "candidates are dense and the listed patterns only");
        return;
    }
    int rc = patterns ? sl_law_optimal_among(&rec.law, &q.cost, q.nonzeros, q.dense_data, pattern_s,
                                             npatterns, &opt, &chosen)
                      : sl_law_optimal_sparsity(&rec.law, &q.cost, q.nonzeros, q.dense_data,
                                                q.max_sparsity, &opt);
    if (rc != SL_LAW_OK || !isfinite(opt.loss) || !isfinite(opt.dense_loss)) {
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL,
                      "the law gives no finite optimum for nonzeros=%g and this budget",
                      q.nonzeros);
        return;
    }
    q.pattern = !patterns ? "unstructured" : chosen == npatterns ? "dense" : pattern_names[chosen];
    if (patterns) q.max_sparsity = NAN;
    json_t *body = sl_optimum_json(&rec, &q, &opt);
    /* The interval of S_opt over the bootstrap draws of a fitted law. */
    draws d;
    draws_load(req, &rec, &d);
    size_t ok = 0;
    for (size_t i = 0; i < d.n; i++) {
        sl_law_optimum o;
        size_t pick;
        int r = patterns ? sl_law_optimal_among(&d.law[i], &q.cost, q.nonzeros, q.dense_data,
                                                pattern_s, npatterns, &o, &pick)
                         : sl_law_optimal_sparsity(
                               &d.law[i], &q.cost, q.nonzeros, q.dense_data,
                               isnan(q.max_sparsity) ? default_max_sparsity : q.max_sparsity, &o);
        if (r == SL_LAW_OK) d.values[ok++] = o.sparsity;
    }
    d.n = ok;
    json_t *interval = draws_interval(&d);
    if (interval) json_object_set_new(body, "interval", interval);
    add_interval_unit(json_object_get(body, "units"), &d, "sparsity");
    draws_free(&d);
    sl_reply_json(req, 200, body);
}

/* A plan the response can state: positive data, finite compute and loss. A
 * target far above the dense loss at any data needs "no data" (it underflows). */
static int plan_finite(const sl_law_plan *p) {
    return p->data > 0 && isfinite(p->data) && isfinite(p->compute) && isfinite(p->loss);
}

typedef struct plan_query {
    double target, nonzeros, max_sparsity;
} plan_query;

/* A plan's sparsity, data, compute and total parameters under one law. */
static int plan_draw(const sl_law *law, const void *query, double *out) {
    const plan_query *q = query;
    sl_law_plan p;
    if (sl_law_plan_min_compute(law, q->target, q->nonzeros, q->max_sparsity, &p) != SL_LAW_OK ||
        !plan_finite(&p))
        return -1;
    out[0] = p.sparsity;
    out[1] = p.data;
    out[2] = p.compute;
    out[3] = sl_law_total_params(p.sparsity, q->nonzeros);
    return 0;
}

void sl_handle_plan(sl_request *req) {
    sl_law_record rec;
    sl_law_plan plan, dense;
    double target, n, max_s;
    sl_error err;
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (sl_req_number(req, "target_loss", &sl_range_positive, NULL, &target, &err) ||
        amount(req, "nonzeros", NULL, &n, &err) ||
        sl_req_number(req, "max_sparsity", &sl_range_sparsity, &default_max_sparsity, &max_s,
                      &err)) {
        sl_reply_error(req, &err);
        return;
    }
    int rc = sl_law_plan_min_compute(&rec.law, target, n, max_s, &plan);
    if (rc == SL_LAW_UNREACHABLE) {
        double floor = sl_law_plan_floor(&rec.law, n, max_s);
        sl_error_set(&err, SL_ERR_UNREACHABLE, "target_loss",
                     "target_loss %g is out of reach for nonzeros=%g: no amount of data gets "
                     "below %.6g at sparsity <= %g (and never below %.6g at any sparsity)",
                     target, n, floor, max_s, rec.law.c + rec.law.c_s * pow(n, -rec.law.b_n));
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
    static const char *const fields[] = {"sparsity", "data", "compute", "total_params", NULL};
    plan_query pq = {target, n, max_s};
    sl_handle_draws d;
    sl_handle_draws_load(req, &rec, &d);
    sl_handle_add_intervals(body, &d, plan_draw, &pq, fields);
    sl_handle_draws_free(&d);
    sl_reply_json(req, 200, body);
}

void sl_handle_equivalent_dense(sl_request *req) {
    sl_law_record rec;
    double s, n = NAN;
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
        char base[64];
        size_t n = strlen(t->cols[c]);
        snprintf(base, sizeof base, "%s", t->cols[c]);
        if (n > 3 && (strcmp(base + n - 3, "_lo") == 0 || strcmp(base + n - 3, "_hi") == 0))
            base[n - 3] = '\0';
        const char *u = json_string_value(json_object_get(units, base));
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
            double row[] = {s[k], n, d, sl_law_loss(&rec.law, s[k], n, d), NAN, NAN};
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
    static const char *const cols[] = {"nonzeros", "compute",    "dense_data", "sparsity",
                                       "loss",     "dense_loss", "data",       NULL};
    static const char *const cols_iv[] = {"nonzeros",    "compute",    "dense_data", "sparsity",
                                          "loss",        "dense_loss", "data",       "sparsity_lo",
                                          "sparsity_hi", "loss_lo",    "loss_hi",    NULL};
    static const double default_n[] = {1e8, 1e9, 1e10};
    sl_law_record rec;
    sl_cost cost;
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
                      &err)) {
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
    sl_table_init(&t, NULL, dr.n ? cols_iv : cols);
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
            double row[] = {n[k],     6 * n[k] * dd, dd,  opt.sparsity, opt.loss, opt.dense_loss,
                            opt.data, NAN,           NAN, NAN,          NAN};
            optimum_query oq = {&cost, n[k], dd, max_s};
            double ivlo[2], ivhi[2];
            if (sl_handle_interval_row(&dr, optimum_draw, &oq, 2, ivlo, ivhi) == 0) {
                row[7] = ivlo[0];
                row[8] = ivhi[0];
                row[9] = ivlo[1];
                row[10] = ivhi[1];
            }
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
    sl_handle_draws_free(&dr);
    reply_table(req, &rec, &t, csv, 0, body);
}

void sl_handle_contours(sl_request *req) {
    static const char *const cols[] = {"sparsity", "nonzeros", "dense_data", "compute", NULL};
    static const double default_levels[] = {0.1, 0.25, 0.5, 0.75, 0.9};
    sl_law_record rec;
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
                   &err)) {
        sl_reply_error(req, &err);
        return;
    }
    sl_table t;
    sl_table_init(&t, "line", cols);
    for (size_t k = 0; k < nl; k++)
        for (long i = 0; i < points; i++) {
            double n = log_grid(lo, hi, i, points);
            double dd = sl_law_iso_sparsity_data(&rec.law, n, levels[k]);
            double row[] = {levels[k], n, dd, 6 * n * dd};
            sl_table_add(&t, "iso_sparsity", row);
        }
    for (long i = 0; i < points; i++) {
        double n = log_grid(lo, hi, i, points);
        double dd = sl_law_dense_optimal_data(&rec.law, n);
        double row[] = {NAN, n, dd, 6 * n * dd};
        sl_table_add(&t, "dense_optimal", row);
    }
    json_t *body = json_pack(
        "{s:s, s:s, s:o}", "cost_model", "dense", "note",
        "iso_sparsity lines: where S_opt equals sparsity; dense_optimal: "
        "the compute-optimal data of a dense model (S = 0 slice)",
        "units",
        sl_units_json(rec.data_unit, "sparsity", "nonzeros", "dense_data", "compute", NULL));
    reply_table(req, &rec, &t, csv, 0, body);
}
