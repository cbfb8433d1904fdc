#include "sl_fit_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_parse.h"

/* An optional non-negative integer member, at most max. */
static int take_count(json_t *obj, const char *key, unsigned long max, unsigned long dflt,
                      unsigned long *out, sl_error *err) {
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (unsigned long long)json_integer_value(v) > max)
        return sl_error_set(err, SL_ERR_INVALID_BODY, key, "%s must be an integer in [0, %lu]", key,
                            max);
    *out = (unsigned long)json_integer_value(v);
    return 0;
}

static int decode_loss(json_t *loss, sl_fit_request *out, sl_error *err) {
    static const char *const keys[] = {"delta", "residuals"};
    out->loss.residuals = SL_FIT_RESIDUALS_LOG;
    out->loss.delta = 1e-3;
    if (!loss) return 0;
    if (!json_is_object(loss))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "loss",
                            "loss must be an object {\"delta\", \"residuals\": \"plain\"|\"log\"}");
    if (sl_json_only_members(loss, "loss", keys, 2, err)) return -1;
    json_t *delta = json_object_get(loss, "delta");
    if (delta) {
        double d = json_is_number(delta) ? json_number_value(delta) : -1;
        if (!(d > 0) || !isfinite(d) || d > 1e6)
            return sl_error_set(err, SL_ERR_INVALID_BODY, "loss.delta",
                                "loss.delta must be a number in (0, 1e6]: the Huber threshold in "
                                "the residuals' units");
        out->loss.delta = d;
    }
    json_t *res = json_object_get(loss, "residuals");
    if (res) {
        const char *r = json_is_string(res) ? json_string_value(res) : "";
        if (strcmp(r, "plain") == 0)
            out->loss.residuals = SL_FIT_RESIDUALS_PLAIN;
        else if (strcmp(r, "log") != 0)
            return sl_error_set(
                err, SL_ERR_INVALID_BODY, "loss.residuals",
                "loss.residuals must be \"plain\" (f - y) or \"log\" (log f - log y)");
    }
    return 0;
}

/* "publish" and "reference". */
static int decode_publish(json_t *body, sl_fit_request *out, sl_error *err) {
    static const char *const keys[] = {"nonzeros", "data"};
    json_t *p = json_object_get(body, "publish"), *ref = json_object_get(body, "reference");
    if (p) {
        const char *v = json_is_string(p) ? json_string_value(p) : "";
        if (strcmp(v, "always") != 0 && strcmp(v, "unless_unidentified") != 0)
            return sl_error_set(err, SL_ERR_INVALID_BODY, "publish",
                                "publish must be \"unless_unidentified\" (the default: good and "
                                "weak fits are published) or \"always\" (unidentified ones too)");
        out->publish_always = strcmp(v, "always") == 0;
    }
    if (!ref) return 0;
    if (!json_is_object(ref))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "reference",
                            "reference must be {\"nonzeros\": N, \"data\": D}");
    if (sl_json_only_members(ref, "reference", keys, 2, err)) return -1;
    double *dst[2] = {&out->ref_nonzeros, &out->ref_data};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(ref, keys[i]);
        double x = json_is_number(v) ? json_number_value(v) : -1;
        if (!(isfinite(x) && x >= 1 && x <= 1e30))
            return sl_error_set(
                err, SL_ERR_INVALID_BODY, i ? "reference.data" : "reference.nonzeros",
                "reference.%s must be a number in [1, 1e30]: %s", keys[i],
                i ? "the dense data budget, in the dataset's data unit" : "non-zero parameters");
        *dst[i] = x;
    }
    return 0;
}

#define HOLDOUT_SHAPES                                                                             \
    "holdout must be {\"run_ids\": [...]}, {\"largest_nonzeros\": k} or "                          \
    "{\"largest_nonzeros_levels\": k}"

static int decode_holdout(json_t *h, sl_fit_request *out, sl_error *err) {
    out->holdout = SL_HOLDOUT_NONE;
    if (!h) return 0;
    if (!json_is_object(h) || json_object_size(h) != 1)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "holdout", HOLDOUT_SHAPES);
    json_t *ids = json_object_get(h, "run_ids"), *k = json_object_get(h, "largest_nonzeros");
    json_t *levels = json_object_get(h, "largest_nonzeros_levels");
    if (k || levels) {
        const char *field = k ? "holdout.largest_nonzeros" : "holdout.largest_nonzeros_levels";
        json_t *v = k ? k : levels;
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
            return sl_error_set(err, SL_ERR_INVALID_BODY, field, "%s must be a positive integer",
                                field);
        out->holdout = k ? SL_HOLDOUT_LARGEST_NONZEROS : SL_HOLDOUT_LARGEST_NONZEROS_LEVELS;
        out->largest_nonzeros = (size_t)json_integer_value(v);
        return 0;
    }
    if (!ids) return sl_error_set(err, SL_ERR_INVALID_BODY, "holdout", HOLDOUT_SHAPES);
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > SL_FIT_REQUEST_MAX_RUN_IDS)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "holdout.run_ids",
                            "holdout.run_ids must be an array of 1 to %d run ids",
                            SL_FIT_REQUEST_MAX_RUN_IDS);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > SL_DATASET_RUN_ID_MAX)
            return sl_error_set(err, SL_ERR_INVALID_BODY, "holdout.run_ids",
                                "holdout.run_ids[%zu] must be a run id (1 to %d bytes)", i,
                                SL_DATASET_RUN_ID_MAX);
    }
    out->holdout = SL_HOLDOUT_RUN_IDS;
    out->run_ids = json_incref(ids);
    return 0;
}

/* "rollout": {"levels": m}. */
static int decode_rollout(json_t *r, sl_fit_request *out, sl_error *err) {
    static const char *const keys[] = {"levels"};
    out->rollout_levels = 0;
    if (!r) return 0;
    if (!json_is_object(r))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "rollout",
                            "rollout must be an object {\"levels\": m}");
    if (sl_json_only_members(r, "rollout", keys, 1, err)) return -1;
    json_t *m = json_object_get(r, "levels");
    if (!json_is_integer(m) || json_integer_value(m) < 1 ||
        json_integer_value(m) > SL_FIT_MAX_ROLLOUT)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "rollout.levels",
                            "rollout.levels must be an integer in [1, %d]: how many of the "
                            "largest nonzeros levels to extrapolate to in turn",
                            SL_FIT_MAX_ROLLOUT);
    out->rollout_levels = (unsigned)json_integer_value(m);
    return 0;
}

int sl_fit_request_decode(json_t *body, sl_fit_request *out, sl_error *err) {
    static const char *const keys[] = {"dataset", "dataset_rows",    "law",       "loss",
                                       "seed",    "starts",          "bootstrap", "holdout",
                                       "rollout", "pattern_factors", "publish",   "reference"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "", "the body must be a JSON object");
    if (sl_json_only_members(body, "", keys, sizeof keys / sizeof keys[0], err)) return -1;
    json_t *ds = json_object_get(body, "dataset"), *law = json_object_get(body, "law");
    if (!json_is_integer(ds) || json_integer_value(ds) < 1)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "dataset",
                            "dataset must be the id (a positive integer) of an uploaded dataset");
    out->dataset = json_integer_value(ds);
    json_t *rows = json_object_get(body, "dataset_rows");
    if (rows && (!json_is_integer(rows) || json_integer_value(rows) < 1))
        return sl_error_set(
            err, SL_ERR_INVALID_BODY, "dataset_rows",
            "dataset_rows must be a positive integer: fit the dataset's first k rows");
    out->dataset_rows = rows ? json_integer_value(rows) : 0;
    if (!json_is_string(law) || !sl_law_name_valid(json_string_value(law)))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "law",
                            "law must be the name to publish under: " SL_LAW_NAME_RULE);
    snprintf(out->law, sizeof out->law, "%s", json_string_value(law));
    unsigned long seed, starts, bootstrap;
    if (decode_loss(json_object_get(body, "loss"), out, err) ||
        take_count(body, "seed", 0xffffffffUL, 0, &seed, err) ||
        take_count(body, "starts", SL_FIT_MAX_REQUEST_STARTS, SL_FIT_DEFAULT_STARTS, &starts,
                   err) ||
        take_count(body, "bootstrap", SL_FIT_MAX_REQUEST_BOOTSTRAP, SL_FIT_DEFAULT_BOOTSTRAP,
                   &bootstrap, err) ||
        decode_holdout(json_object_get(body, "holdout"), out, err) ||
        decode_publish(body, out, err) ||
        decode_rollout(json_object_get(body, "rollout"), out, err)) {
        sl_fit_request_free(out);
        return -1;
    }
    if (starts == 0) {
        sl_fit_request_free(out);
        return sl_error_set(err, SL_ERR_INVALID_BODY, "starts", "starts must be at least 1");
    }
    json_t *pf = json_object_get(body, "pattern_factors");
    if (pf && !json_is_boolean(pf)) {
        sl_fit_request_free(out);
        return sl_error_set(err, SL_ERR_INVALID_BODY, "pattern_factors",
                            "pattern_factors must be true or false: fit one factor per n:m "
                            "pattern on the sparse term");
    }
    out->pattern_factors = json_is_true(pf);
    out->seed = seed;
    out->starts = (unsigned)starts;
    out->bootstrap = (unsigned)bootstrap;
    return 0;
}

json_t *sl_fit_request_json(const sl_fit_request *req) {
    json_t *o = json_pack("{s:I, s:I, s:s, s:{s:f, s:s}, s:I, s:i, s:i}", "dataset",
                          (json_int_t)req->dataset, "dataset_rows", (json_int_t)req->dataset_rows,
                          "law", req->law, "loss", "delta", req->loss.delta, "residuals",
                          req->loss.residuals == SL_FIT_RESIDUALS_LOG ? "log" : "plain", "seed",
                          (json_int_t)req->seed, "starts", (int)req->starts, "bootstrap",
                          (int)req->bootstrap);
    json_object_set_new(o, "publish",
                        json_string(req->publish_always ? "always" : "unless_unidentified"));
    if (req->ref_nonzeros > 0)
        json_object_set_new(
            o, "reference",
            json_pack("{s:f, s:f}", "nonzeros", req->ref_nonzeros, "data", req->ref_data));
    if (req->holdout == SL_HOLDOUT_RUN_IDS)
        json_object_set_new(o, "holdout", json_pack("{s:O}", "run_ids", req->run_ids));
    else if (req->holdout == SL_HOLDOUT_LARGEST_NONZEROS)
        json_object_set_new(
            o, "holdout",
            json_pack("{s:I}", "largest_nonzeros", (json_int_t)req->largest_nonzeros));
    else if (req->holdout == SL_HOLDOUT_LARGEST_NONZEROS_LEVELS)
        json_object_set_new(
            o, "holdout",
            json_pack("{s:I}", "largest_nonzeros_levels", (json_int_t)req->largest_nonzeros));
    if (req->rollout_levels)
        json_object_set_new(o, "rollout", json_pack("{s:i}", "levels", (int)req->rollout_levels));
    if (req->pattern_factors) json_object_set_new(o, "pattern_factors", json_true());
    return o;
}

void sl_fit_request_free(sl_fit_request *req) {
    json_decref(req->run_ids);
    req->run_ids = NULL;
}

static int listed(json_t *ids, const char *run_id) {
    size_t i;
    json_t *v;
    if (!run_id) return 0;
    json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), run_id) == 0) return 1;
    return 0;
}

/* Largest nonzeros first; equal nonzeros in dataset order (the earlier row
 * first), so the rows chosen never depend on how a sort breaks ties. */
static int by_nonzeros_desc(const void *a, const void *b) {
    const sl_dataset_row *x = *(const sl_dataset_row *const *)a;
    const sl_dataset_row *y = *(const sl_dataset_row *const *)b;
    if (x->nonzeros != y->nonzeros) return x->nonzeros < y->nonzeros ? 1 : -1;
    return (x > y) - (x < y);
}

static int cmp_double_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Is v at level (the level's largest value)? */
static int at_level(double v, double level) {
    return v >= level * (1 - SL_FIT_LEVEL_REL_TOL);
}

size_t sl_fit_nonzeros_levels(const sl_fit_row *rows, size_t n, double *levels) {
    for (size_t i = 0; i < n; i++)
        levels[i] = rows[i].nonzeros;
    qsort(levels, n, sizeof *levels, cmp_double_desc);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (count == 0 || !at_level(levels[i], levels[count - 1])) levels[count++] = levels[i];
    return count;
}

/* The level of each row counted from the largest (0), given the levels. */
static size_t level_of(double v, const double *levels, size_t nlevels) {
    size_t k = 0;
    while (k + 1 < nlevels && !at_level(v, levels[k]))
        k++;
    return k;
}

static int holdout_levels(const sl_fit_request *req, const sl_dataset *ds, unsigned char *heldout,
                          sl_error *err) {
    size_t n = ds->nrows;
    sl_fit_row *rows = calloc(n ? n : 1, sizeof *rows);
    double *levels = malloc((n ? n : 1) * sizeof *levels);
    if (!rows || !levels) abort();
    for (size_t i = 0; i < n; i++)
        rows[i].nonzeros = ds->rows[i].nonzeros;
    size_t nlevels = sl_fit_nonzeros_levels(rows, n, levels), k = req->largest_nonzeros;
    int rc = 0;
    if (k + 2 > nlevels)
        rc = sl_error_set(err, SL_ERR_UNPROCESSABLE, "holdout.largest_nonzeros_levels",
                          "holding out the %zu largest of the %zu nonzeros levels of dataset "
                          "%lld leaves %zu; the fit needs at least 2 to determine b_n",
                          k, nlevels, req->dataset, nlevels > k ? nlevels - k : 0);
    else
        for (size_t i = 0; i < n; i++)
            heldout[i] = (unsigned char)(level_of(ds->rows[i].nonzeros, levels, nlevels) < k);
    free(rows);
    free(levels);
    return rc;
}

static int holdout_mark(const sl_fit_request *req, const sl_dataset *ds, unsigned char *heldout,
                        sl_error *err) {
    size_t n = ds->nrows;
    memset(heldout, 0, n);
    if (req->holdout == SL_HOLDOUT_NONE) return 0;
    if (req->holdout == SL_HOLDOUT_LARGEST_NONZEROS_LEVELS)
        return holdout_levels(req, ds, heldout, err);
    if (req->holdout == SL_HOLDOUT_RUN_IDS) {
        size_t held = 0;
        for (size_t i = 0; i < n; i++)
            held += heldout[i] = (unsigned char)listed(req->run_ids, ds->rows[i].run_id);
        if (held == 0)
            return sl_error_set(err, SL_ERR_UNPROCESSABLE, "holdout.run_ids",
                                "no row of dataset %lld has one of the run ids to hold out",
                                req->dataset);
    } else {
        if (req->largest_nonzeros >= n)
            return sl_error_set(err, SL_ERR_UNPROCESSABLE, "holdout.largest_nonzeros",
                                "holding out %zu rows of %zu leaves none to fit",
                                req->largest_nonzeros, n);
        const sl_dataset_row **order = malloc(n * sizeof *order);
        if (!order) abort();
        for (size_t i = 0; i < n; i++)
            order[i] = &ds->rows[i];
        qsort(order, n, sizeof *order, by_nonzeros_desc);
        for (size_t i = 0; i < req->largest_nonzeros; i++)
            heldout[order[i] - ds->rows] = 1;
        free(order);
    }
    return 0;
}

void sl_fit_rollout_rows_init(sl_fit_rollout_rows *r, const sl_fit_selection *sel) {
    size_t cap = sel->n ? sel->n : 1;
    memset(r, 0, sizeof *r);
    r->train = malloc(2 * cap * sizeof *r->train);
    if (!r->train) abort();
    r->test = r->train + cap;
    if (sel->npatterns) {
        r->train_pattern = malloc(2 * cap * sizeof *r->train_pattern);
        if (!r->train_pattern) abort();
        r->test_pattern = r->train_pattern + cap;
    }
}

void sl_fit_rollout_rows_free(sl_fit_rollout_rows *r) {
    free(r->train);
    free(r->train_pattern);
    memset(r, 0, sizeof *r);
}

void sl_fit_rollout_split(const sl_fit_selection *sel, size_t step, sl_fit_rollout_rows *r) {
    unsigned factor[SL_FIT_MAX_PATTERNS + 1] = {0}; /* the selection's pattern -> the step's */
    const unsigned *pattern = r->train_pattern ? sel->pattern : NULL;
    r->ntrain = r->ntest = r->unfitted = 0;
    r->npatterns = 0;
    for (size_t i = 0; i < sel->n; i++) {
        if (level_of(sel->rows[i].nonzeros, sel->levels, sel->nlevels) <= step) continue;
        unsigned p = pattern ? pattern[i] : 0;
        if (p && !factor[p]) factor[p] = ++r->npatterns;
        if (pattern) r->train_pattern[r->ntrain] = factor[p];
        r->train[r->ntrain++] = sel->rows[i];
    }
    for (size_t i = 0; i < sel->n; i++) {
        if (level_of(sel->rows[i].nonzeros, sel->levels, sel->nlevels) != step) continue;
        unsigned p = pattern ? pattern[i] : 0;
        if (p && !factor[p]) {
            r->unfitted++;
            continue;
        }
        if (pattern) r->test_pattern[r->ntest] = factor[p];
        r->test[r->ntest++] = sel->rows[i];
    }
}

/* The fitted rows' n:m patterns, each a factor, in order of first
 * appearance; 422 when there are none, too many, or they cannot be fitted. */
static int select_patterns(const sl_fit_request *req, const sl_dataset *ds, sl_fit_selection *sel,
                           sl_error *err) {
    if (!req->pattern_factors) return 0;
    sel->pattern = calloc(ds->nrows ? ds->nrows : 1, sizeof *sel->pattern);
    if (!sel->pattern) abort();
    size_t j = 0;
    for (size_t i = 0; i < ds->nrows; i++) {
        if (sel->heldout[i]) continue;
        const char *name = ds->rows[i].pattern;
        unsigned k = 0;
        while (name[0] && k < sel->npatterns && strcmp(sel->pattern_names[k], name) != 0)
            k++;
        if (name[0] && k == sel->npatterns) {
            if (k == SL_FIT_MAX_PATTERNS)
                return sl_error_set(err, SL_ERR_UNPROCESSABLE, "pattern_factors",
                                    "the rows to fit have more than %d n:m patterns; at most "
                                    "%d factors can be fitted",
                                    SL_FIT_MAX_PATTERNS, SL_FIT_MAX_PATTERNS);
            snprintf(sel->pattern_names[k], sizeof sel->pattern_names[k], "%s", name);
            sel->npatterns++;
        }
        if (name[0]) sel->pattern_rows[k]++;
        sel->pattern[j++] = name[0] ? k + 1 : 0;
    }
    if (!sel->npatterns)
        return sl_error_set(err, SL_ERR_UNPROCESSABLE, "pattern_factors",
                            "dataset %lld has no rows with an n:m pattern (its pattern column) "
                            "among the rows to fit: pattern_factors needs some",
                            req->dataset);
    char reason[256];
    if (sl_fit_check_patterns(sel->rows, sel->n, sel->pattern, sel->npatterns, reason,
                              sizeof reason) != SL_FIT_OK)
        return sl_error_set(err, SL_ERR_UNPROCESSABLE, "pattern_factors",
                            "dataset %lld cannot identify the pattern factors: %s", req->dataset,
                            reason);
    return 0;
}

/* Every rollout step must leave rows below its level that identify the law. */
static int rollout_check(const sl_fit_request *req, const sl_fit_selection *sel, sl_error *err) {
    size_t m = req->rollout_levels;
    if (!m) return 0;
    if (m + 2 > sel->nlevels)
        return sl_error_set(err, SL_ERR_UNPROCESSABLE, "rollout.levels",
                            "a rollout over the %zu largest nonzeros levels needs at least %zu "
                            "levels to fit (2 below the last one), but the rows to fit have %zu",
                            m, m + 2, sel->nlevels);
    sl_fit_rollout_rows r;
    sl_fit_rollout_rows_init(&r, sel);
    int rc = 0;
    for (size_t k = 0; k < m && rc == 0; k++) {
        char reason[200];
        sl_fit_rollout_split(sel, k, &r);
        if (sl_fit_check(r.train, r.ntrain, reason, sizeof reason) != SL_FIT_OK ||
            (r.npatterns && sl_fit_check_patterns(r.train, r.ntrain, r.train_pattern, r.npatterns,
                                                  reason, sizeof reason) != SL_FIT_OK))
            rc = sl_error_set(err, SL_ERR_UNPROCESSABLE, "rollout.levels",
                              "rollout step %zu (nonzeros %g): the rows below cannot identify "
                              "the law: %s",
                              k + 1, sel->levels[k], reason);
    }
    sl_fit_rollout_rows_free(&r);
    return rc;
}

int sl_fit_select(const sl_fit_request *req, const sl_dataset *ds, sl_fit_selection *sel,
                  sl_error *err) {
    size_t cap = ds->nrows ? ds->nrows : 1;
    sel->heldout = calloc(cap, 1);
    sel->rows = calloc(cap, sizeof *sel->rows);
    sel->levels = calloc(cap, sizeof *sel->levels);
    sel->n = sel->nlevels = 0;
    sel->pattern = NULL;
    sel->npatterns = 0;
    memset(sel->pattern_rows, 0, sizeof sel->pattern_rows);
    if (!sel->heldout || !sel->rows || !sel->levels) abort();
    if (holdout_mark(req, ds, sel->heldout, err) != 0) return -1;
    for (size_t i = 0; i < ds->nrows; i++)
        if (!sel->heldout[i])
            sel->rows[sel->n++] = (sl_fit_row){ds->rows[i].sparsity, ds->rows[i].nonzeros,
                                               ds->rows[i].data, ds->rows[i].loss};
    sel->nlevels = sl_fit_nonzeros_levels(sel->rows, sel->n, sel->levels);
    if (select_patterns(req, ds, sel, err)) return -1;
    return rollout_check(req, sel, err);
}

void sl_fit_selection_free(sl_fit_selection *sel) {
    free(sel->heldout);
    free(sel->rows);
    free(sel->levels);
    free(sel->pattern);
    sel->pattern = NULL;
    sel->heldout = NULL;
    sel->rows = NULL;
    sel->levels = NULL;
    sel->n = sel->nlevels = 0;
}

static json_t *coefficients_json(const sl_law *law) {
    json_t *o = json_object();
    for (size_t i = 0; i < SL_LAW_NCOEF; i++)
        json_object_set_new(o, sl_law_coef_names[i], json_real(sl_law_coef_get(law, i)));
    return o;
}

static json_t *intervals_json(const sl_fit_result *res) {
    if (!res->n_draws) return json_null();
    json_t *o = json_object();
    for (size_t i = 0; i < SL_LAW_NCOEF; i++)
        json_object_set_new(
            o, sl_law_coef_names[i],
            json_pack("[o, o]", sl_json_number(res->lower[i]), sl_json_number(res->upper[i])));
    return o;
}

static json_t *errors_json(const sl_fit_errors *e) {
    return json_pack("{s:I, s:o, s:o, s:o, s:o}", "rows", (json_int_t)e->rows, "objective",
                     sl_json_number(e->objective), "rmse", sl_json_number(e->rmse), "max_abs_error",
                     sl_json_number(e->max_abs_error), "mean_abs_rel_error",
                     sl_json_number(e->mean_abs_rel_error));
}

/* The fitted factor of a pattern name ("" for none), or 1. */
static double factor_of(const sl_fit_selection *sel, const sl_fit_result *res, const char *name) {
    for (unsigned k = 0; name[0] && k < res->npatterns && k < sel->npatterns; k++)
        if (strcmp(sel->pattern_names[k], name) == 0) return res->eta[k];
    return 1;
}

static json_t *patterns_json(const sl_fit_selection *sel, const sl_fit_result *res) {
    json_t *o = json_object();
    for (unsigned k = 0; k < res->npatterns; k++)
        json_object_set_new(
            o, sel->pattern_names[k],
            json_pack("{s:o, s:o, s:I}", "eta", sl_json_number(res->eta[k]), "interval",
                      res->n_draws ? json_pack("[o, o]", sl_json_number(res->eta_lower[k]),
                                               sl_json_number(res->eta_upper[k]))
                                   : json_null(),
                      "rows", (json_int_t)sel->pattern_rows[k]));
    return o;
}

void sl_fit_patterns_record(const sl_fit_selection *sel, const sl_fit_result *res,
                            sl_law_record *rec) {
    rec->npatterns = 0;
    for (unsigned k = 0; k < res->npatterns && k < SL_LAW_MAX_PATTERNS; k++) {
        sl_law_pattern *p = &rec->patterns[rec->npatterns++];
        snprintf(p->name, sizeof p->name, "%s", sel->pattern_names[k]);
        p->eta = res->eta[k];
        p->lower = res->n_draws ? res->eta_lower[k] : (double)NAN;
        p->upper = res->n_draws ? res->eta_upper[k] : (double)NAN;
        p->rows = (long)sel->pattern_rows[k];
    }
}

json_t *sl_fit_result_json(const sl_fit_request *req, const sl_dataset *ds,
                           const sl_fit_selection *sel, const sl_fit_result *res, double seconds) {
    const unsigned char *heldout = sel->heldout;
    json_t *rows = json_array();
    sl_fit_errors held = {0};
    double sq = 0, abs_rel = 0;
    for (size_t i = 0; i < ds->nrows; i++) {
        const sl_dataset_row *r = &ds->rows[i];
        sl_law l = res->law;
        l.a_s *= factor_of(sel, res, r->pattern);
        double f = sl_law_loss(&l, r->sparsity, r->nonzeros, r->data);
        json_t *row = json_pack(
            "{s:I, s:f, s:f, s:f, s:f, s:o, s:o, s:b}", "row", (json_int_t)(i + 1), "sparsity",
            r->sparsity, "nonzeros", r->nonzeros, "data", r->data, "loss", r->loss, "predicted",
            sl_json_number(f), "residual", sl_json_number(f - r->loss), "heldout", heldout[i]);
        if (r->run_id) json_object_set_new(row, "run_id", json_string(r->run_id));
        json_array_append_new(rows, row);
        if (heldout[i]) {
            double e = fabs(f - r->loss);
            held.rows++;
            sq += e * e;
            abs_rel += e / r->loss;
            held.max_abs_error = fmax(held.max_abs_error, e);
        }
    }
    json_t *holdout = json_null();
    if (held.rows) {
        held.rmse = sqrt(sq / (double)held.rows);
        held.mean_abs_rel_error = abs_rel / (double)held.rows;
        holdout = errors_json(&held);
        json_object_del(holdout, "objective");
    }
    const char *data_unit = sl_data_unit_name(ds->data_unit);
    char coef_unit[160];
    snprintf(coef_unit, sizeof coef_unit,
             "raw units: the law with nonzeros in parameters and data in %s", data_unit);
    json_t *units = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "coefficients", coef_unit,
        "intervals", coef_unit, "sparsity", "fraction of weights that are zero, in [0, 1)",
        "nonzeros", "parameters", "data", data_unit, "loss", "the sweep's loss (validation loss)",
        "predicted", "the sweep's loss", "residual", "predicted - loss, in loss units", "rmse",
        "loss units", "mean_abs_rel_error", "fraction of the loss (0.0075 = 0.75 %)", "seconds",
        "seconds of wall-clock time");
    json_object_set_new(units, "max_abs_error", json_string("loss units"));
    if (res->npatterns)
        json_object_set_new(units, "pattern_factors",
                            json_string("eta: dimensionless factor on a_s for the pattern's rows, "
                                        "(a_s eta (1 - S)^b_s + c_s) N^-b_n + ...; rows: rows"));
    json_object_set_new(units, "objective",
                        json_string(req->loss.residuals == SL_FIT_RESIDUALS_LOG
                                        ? "mean Huber of log residuals"
                                        : "mean Huber of residuals, loss units"));
    json_t *out = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:{s:i, s:i, s:i}, s:{s:i, s:I, s:i, "
        "s:f}, s:o}",
        "coefficients", coefficients_json(&res->law), "objective",
        sl_json_number(res->errors.objective), "rmse", sl_json_number(res->errors.rmse),
        "max_abs_error", sl_json_number(res->errors.max_abs_error), "mean_abs_rel_error",
        sl_json_number(res->errors.mean_abs_rel_error), "fitted", errors_json(&res->errors),
        "residuals", rows, "intervals", intervals_json(res), "holdout", holdout, "seconds", seconds,
        "starts", "run", (int)res->starts, "converged", (int)res->starts_converged, "at_best",
        (int)res->starts_at_best, "bootstrap", "requested", (int)req->bootstrap, "draws",
        (json_int_t)res->n_draws, "failed", (int)res->bootstrap_failed, "level",
        res->n_draws ? res->level : SL_FIT_DEFAULT_LEVEL, "units", units);
    if (res->npatterns) json_object_set_new(out, "pattern_factors", patterns_json(sel, res));
    return out;
}

json_t *sl_fit_summary_json(const sl_fit_request *req, const sl_fit_result *res, long long fit_id) {
    return json_pack(
        "{s:I, s:o, s:{s:s, s:f, s:s}, s:o, s:o, s:I, s:o, s:f, s:I}", "fit_id", (json_int_t)fit_id,
        "objective", sl_json_number(res->errors.objective), "loss", "kind", "mean Huber", "delta",
        req->loss.delta, "residuals", req->loss.residuals == SL_FIT_RESIDUALS_LOG ? "log" : "plain",
        "rmse", sl_json_number(res->errors.rmse), "mean_abs_rel_error",
        sl_json_number(res->errors.mean_abs_rel_error), "rows", (json_int_t)res->errors.rows,
        "intervals", intervals_json(res), "level", res->n_draws ? res->level : SL_FIT_DEFAULT_LEVEL,
        "draws", (json_int_t)res->n_draws);
}

/* ---- diagnostics ---- */

static json_t *pair_json(double a, double b) {
    return json_pack("[o, o]", sl_json_number(a), sl_json_number(b));
}

static json_t *profile_json(const sl_fit_profile *p) {
    json_t *points = json_array();
    for (size_t i = 0; i < p->npoints; i++)
        json_array_append_new(points, json_pack("{s:f, s:o, s:o}", "value", p->value[i],
                                                "objective", sl_json_number(p->objective[i]),
                                                "s_opt", sl_json_number(p->s_opt[i])));
    return json_pack("{s:f, s:o, s:[b, b], s:o, s:o}", "best", p->best, "range",
                     pair_json(p->lower, p->upper), "open", p->lower_open, p->upper_open,
                     "s_opt_range", pair_json(p->s_opt_lower, p->s_opt_upper), "points", points);
}

json_t *sl_fit_diag_json(const sl_fit_diag *d, sl_data_unit unit) {
    json_t *bound = json_array(), *se = json_object(), *order = json_array(), *m = json_array();
    for (size_t k = 0; k < SL_LAW_NCOEF; k++) {
        if (d->at_bound[k]) json_array_append_new(bound, json_string(sl_law_coef_names[k]));
        json_object_set_new(se, sl_law_coef_names[k], sl_json_number(d->se[k]));
        json_array_append_new(order, json_string(sl_law_coef_names[k]));
        json_t *row = json_array();
        for (size_t l = 0; l < SL_LAW_NCOEF; l++)
            json_array_append_new(row, sl_json_number(d->corr[k * SL_LAW_NCOEF + l]));
        json_array_append_new(m, row);
    }
    json_t *profiles = json_object();
    for (size_t i = 0; i < d->nprofiles; i++)
        json_object_set_new(profiles, sl_law_coef_names[d->profiles[i].coef],
                            profile_json(&d->profiles[i]));
    const char *u = sl_data_unit_name(unit);
    char coef_unit[160], ref_unit[200];
    snprintf(coef_unit, sizeof coef_unit,
             "each coefficient's raw unit (the law with nonzeros in parameters and data in %s)", u);
    snprintf(ref_unit, sizeof ref_unit,
             "nonzeros: parameters; data: the dense budget D_dense, %s; s_opt and interval: "
             "fraction of weights that are zero (dense cost model)",
             u);
    json_t *units = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "standard_errors", coef_unit, "correlation",
        "dimensionless, in [-1, 1]", "condition_number",
        "dimensionless: largest over smallest eigenvalue", "profile_tolerance",
        "objective: the objective's units (mean Huber); relative: a fraction of the best objective",
        "profiles",
        "value and range: the coefficient's raw unit (c in loss units, exponents dimensionless); "
        "objective: mean Huber; s_opt: fraction, at the reference query",
        "reference", ref_unit, "design",
        "levels: counts of distinct values; decades: log10(max / min)", "starts", "counts");
    return json_pack(
        "{s:{s:i, s:i, s:i}, s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:o, s:o, s:f, s:s}, s:o, "
        "s:{s:f, s:f, s:o, s:o, s:s}, s:{s:I, s:i, s:i, s:i, s:f, s:f}, s:s, s:o}",
        "starts", "run", (int)d->starts, "converged", (int)d->converged, "at_best", (int)d->at_best,
        "at_bound", bound, "standard_errors", se, "correlation", "order", order, "matrix", m,
        "condition_number", "correlation", sl_json_number(d->correlation_condition), "hessian",
        sl_json_number(d->hessian_condition), "profile_tolerance", "objective",
        sl_json_number(d->tolerance), "relative", sl_json_number(d->tolerance / d->objective),
        "level", d->level, "rule",
        "a profile range holds the values whose refit's objective is at most best + tolerance, "
        "tolerance = q chi2_1(level) mean psi^2 / (2 (rows - 7) P(|r| <= delta)), P from the "
        "kernel-smoothed residuals: the robust likelihood-ratio bound",
        "profiles", profiles, "reference", "nonzeros", d->ref_nonzeros, "data", d->ref_data,
        "s_opt", sl_json_number(d->ref_s_opt), "interval", pair_json(d->ref_lower, d->ref_upper),
        "interval_kind", "bootstrap percentile", "design", "points", (json_int_t)d->design.points,
        "sparsities", (int)d->design.sparsities, "nonzeros", (int)d->design.nonzeros, "data",
        (int)d->design.data, "nonzero_decades", d->design.nonzero_decades, "data_decades",
        d->design.data_decades, "standard_errors_kind",
        "sandwich H^-1 B H^-1 / (rows - 7) of the Huber M-estimator, by the delta method; null "
        "where the Hessian is not positive definite or the coefficient sits on its bound",
        "units", units);
}

json_t *sl_fit_reasons_json(const sl_fit_diag *d) {
    json_t *a = json_array();
    for (size_t i = 0; i < d->nreasons; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "code", d->reasons[i].code, "level",
                                           sl_fit_verdict_name(d->reasons[i].level), "message",
                                           d->reasons[i].message));
    return a;
}

json_t *sl_fit_warnings_json(const sl_fit_diag *d) {
    json_t *a = json_array();
    for (size_t i = 0; i < d->nreasons; i++)
        json_array_append_new(a, json_string(d->reasons[i].message));
    return a;
}

json_t *sl_fit_rollout_json(const sl_fit_request *req, const sl_fit_rollout_step *steps, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const sl_fit_rollout_step *st = &steps[i];
        json_t *e = errors_json(&st->errors);
        json_object_set_new(e, "level", json_integer((json_int_t)(i + 1)));
        json_object_set_new(e, "nonzeros", json_real(st->nonzeros));
        json_object_set_new(e, "fitted_rows", json_integer((json_int_t)st->fitted_rows));
        json_object_set_new(e, "fitted_levels", json_integer((json_int_t)st->fitted_levels));
        json_object_set_new(e, "largest_fitted_nonzeros", json_real(st->largest_fitted));
        if (req->pattern_factors)
            json_object_set_new(e, "unfitted_pattern_rows", json_integer((json_int_t)st->unfitted));
        json_array_append_new(arr, e);
    }
    return json_pack(
        "{s:i, s:o, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "levels", (int)req->rollout_levels, "steps",
        arr, "units", "nonzeros", "parameters", "rmse", "loss units", "max_abs_error", "loss units",
        "mean_abs_rel_error", "fraction of the loss (0.0075 = 0.75 %)", "objective",
        req->loss.residuals == SL_FIT_RESIDUALS_LOG ? "mean Huber of log residuals"
                                                    : "mean Huber of residuals, loss units",
        "rows", "rows at the level, predicted by the law fitted to the rows below it");
}
