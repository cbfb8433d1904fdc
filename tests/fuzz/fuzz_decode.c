/*
 * fuzz_decode.c - libFuzzer harness of the request-body decoders: the sweep
 * grid (sl_sweep_request_decode) and the run specs it expands to, the law
 * of PUT /v1/laws/{name} (sl_law_put_decode), the fit request
 * (sl_fit_request_decode) and the batch-loss points (sl_points_decode).
 *
 * Input: a selector byte ('s' sweep, 'l' law, 'f' fit, 'r' run spec,
 * 'p' points; any other byte picks one by its value), then the body, read
 * as the server reads bodies (duplicate keys refused, any JSON value).
 *
 * Properties: a refusal names a field with a message that encodes as JSON;
 * what is accepted is in bounds, and what the server stores of it (the
 * request with its defaults, the law object, each run spec) decodes again
 * into the same thing.
 */
#include "sl_fuzz.h"

#include <math.h>
#include <string.h>

#include "sl_fit_json.h"
#include "sl_law_json.h"
#include "sl_law_record.h"
#include "sl_parse.h"
#include "sl_query_json.h"
#include "sl_sweep_json.h"

static const char selectors[] = "slfrp";

/* a and b are equal JSON (reals compared exactly). */
static void check_same_json(json_t *a, json_t *b, const char *what) {
    if (json_equal(a, b)) return;
    char *ta = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
    char *tb = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT);
    SL_FUZZ_CHECK(0, "%s changed:\n%s\n%s", what, ta ? ta : "(none)", tb ? tb : "(none)");
}

static void check_encodes(json_t *j, const char *what) {
    char *text = j ? json_dumps(j, 0) : NULL;
    SL_FUZZ_CHECK(text != NULL, "%s does not encode", what);
    free(text);
}

/* ---- sweeps */

static int cmp_keys(const void *a, const void *b) {
    return strcmp(a, b);
}

/* A run spec as the runner stores it decodes into the same run. */
static void check_run_spec(const sl_run_spec *spec) {
    json_t *j = sl_run_spec_json(spec);
    check_encodes(j, "a run spec");
    sl_run_spec back;
    sl_error err;
    int rc = sl_run_spec_decode(j, &back, &err);
    SL_FUZZ_CHECK(rc == 0, "a stored run spec is refused: %s: %s", err.field, err.message);
    char k1[SL_RUN_KEY_MAX], k2[SL_RUN_KEY_MAX];
    sl_run_spec_key(spec, k1, sizeof k1);
    sl_run_spec_key(&back, k2, sizeof k2);
    SL_FUZZ_CHECK(strcmp(k1, k2) == 0, "run %s reads back as %s", k1, k2);
    json_t *j2 = sl_run_spec_json(&back);
    check_same_json(j, j2, "a run spec");
    json_decref(j2);
    json_decref(j);
}

static int same_point(const sl_run_spec *a, const sl_run_spec *b) {
    return a->size.layers == b->size.layers && a->size.width == b->size.width &&
           a->size.heads == b->size.heads && a->sparsity == b->sparsity &&
           a->pattern_n == b->pattern_n && a->pattern_m == b->pattern_m && a->tokens == b->tokens &&
           a->seed == b->seed &&
           !memcmp(a->trainer.value, b->trainer.value, sizeof a->trainer.value) &&
           !memcmp(a->trainer.given, b->trainer.given, sizeof a->trainer.given);
}

/* The expansion as it was first written: every point of the nesting, each
 * kept unless an earlier kept point is the same. Quadratic, so only for
 * small grids: sl_sweep_points must give the same points in the same order. */
static size_t reference_points(const sl_sweep_request *req, sl_run_spec *out, size_t cap) {
    size_t n = 0;
    for (size_t z = 0; z < req->nsizes; z++)
        for (size_t s = 0; s < req->nsparsities + req->npatterns; s++)
            for (size_t t = 0; t < req->ntokens; t++)
                for (size_t k = 0; k < req->nseeds; k++) {
                    sl_run_spec p;
                    memset(&p, 0, sizeof p);
                    p.size = req->sizes[z];
                    if (s < req->nsparsities) {
                        p.sparsity = req->sparsities[s];
                    } else {
                        p.pattern_n = req->patterns[s - req->nsparsities][0];
                        p.pattern_m = req->patterns[s - req->nsparsities][1];
                        p.sparsity = 1.0 - (double)p.pattern_n / (double)p.pattern_m;
                    }
                    p.tokens = req->tokens[t];
                    p.seed = req->seeds[k];
                    p.trainer = req->trainer;
                    size_t j = 0;
                    while (j < n && !same_point(&out[j], &p))
                        j++;
                    if (j == n && n < cap) out[n++] = p;
                }
    return n;
}

static void check_sweep(const sl_sweep_request *req) {
    SL_FUZZ_CHECK(req->nsizes >= 1 && req->nsizes <= SL_SWEEP_MAX_SIZES, "%zu sizes", req->nsizes);
    SL_FUZZ_CHECK(req->nsparsities + req->npatterns >= 1, "no sparsity and no pattern");
    SL_FUZZ_CHECK(req->ntokens >= 1 && req->nseeds >= 1, "no tokens or no seed");
    SL_FUZZ_CHECK(req->max_attempts >= 1 && req->max_attempts <= SL_SWEEP_MAX_ATTEMPTS,
                  "max_attempts %u", req->max_attempts);

    /* The request as the sweep stores and reports it decodes again. */
    json_t *stored = sl_sweep_request_json(req);
    check_encodes(stored, "the stored sweep request");
    sl_sweep_request again;
    sl_error err;
    int rc = sl_sweep_request_decode(stored, &again, &err);
    if (rc != 0) {
        char *text = json_dumps(stored, JSON_COMPACT);
        SL_FUZZ_CHECK(rc == 0, "the stored sweep request is refused: %s: %s\n%s", err.field,
                      err.message, text ? text : "");
    }
    json_t *stored2 = sl_sweep_request_json(&again);
    check_same_json(stored, stored2, "the stored sweep request");
    json_decref(stored2);
    json_decref(stored);
    sl_sweep_request_free(&again);

    /* The grid points: within the cap, distinct, each a run spec that reads back. */
    static sl_run_spec points[SL_SWEEP_MAX_POINTS];
    static char keys[SL_SWEEP_MAX_POINTS][SL_RUN_KEY_MAX];
    size_t n = sl_sweep_points(req, points, SL_SWEEP_MAX_POINTS);
    SL_FUZZ_CHECK(n >= 1 && n <= SL_SWEEP_MAX_POINTS, "%zu points", n);
    for (size_t i = 0; i < n; i++)
        sl_run_spec_key(&points[i], keys[i], sizeof keys[i]);
    qsort(keys, n, sizeof keys[0], cmp_keys);
    for (size_t i = 1; i < n; i++)
        SL_FUZZ_CHECK(strcmp(keys[i - 1], keys[i]) != 0, "point %s twice", keys[i]);
    for (size_t i = 0; i < n && i < 8; i++)
        check_run_spec(&points[i]);
    static sl_run_spec ref[256];
    size_t raw = req->nsizes * (req->nsparsities + req->npatterns) * req->ntokens * req->nseeds;
    if (raw <= 256) {
        SL_FUZZ_CHECK(reference_points(req, ref, 256) == n, "%zu points, expected %zu", n,
                      reference_points(req, ref, 256));
        for (size_t i = 0; i < n; i++)
            SL_FUZZ_CHECK(same_point(&ref[i], &points[i]) &&
                              signbit(ref[i].sparsity) == signbit(points[i].sparsity),
                          "point %zu differs", i);
    }

    /* The fit the sweep requests once its runs end. */
    json_t *fit = sl_sweep_fit_body(req->fit, req->law, 1);
    sl_fit_request fr;
    rc = sl_fit_request_decode(fit, &fr, &err);
    SL_FUZZ_CHECK(rc == 0, "the sweep's fit is refused: %s: %s", err.field, err.message);
    sl_fit_request_free(&fr);
    json_decref(fit);
}

static void fuzz_sweep(json_t *body) {
    sl_sweep_request req;
    sl_error err;
    int rc = sl_sweep_request_decode(body, &req, &err);
    if (rc != 0) {
        SL_FUZZ_CHECK(rc == -1 && req.fit == NULL, "rc %d, or a refused sweep holds its fit", rc);
        sl_fuzz_check_error(&err);
        return;
    }
    check_sweep(&req);
    sl_sweep_request_free(&req);
}

static void fuzz_run_spec(json_t *body) {
    sl_run_spec spec;
    sl_error err;
    if (sl_run_spec_decode(body, &spec, &err) != 0) {
        sl_fuzz_check_error(&err);
        return;
    }
    check_run_spec(&spec);
}

/* ---- laws */

static void fuzz_law(json_t *body) {
    static sl_law_record rec, back;
    sl_error err;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.name, sizeof rec.name, "fuzz");
    if (sl_law_put_decode(body, &rec, &err) != 0) {
        sl_fuzz_check_error(&err);
        return;
    }
    SL_FUZZ_CHECK(sl_law_valid(&rec.law), "an invalid law accepted");
    SL_FUZZ_CHECK(rec.source_kind == SL_SOURCE_MANUAL && (unsigned)rec.data_unit < SL_UNIT_COUNT,
                  "source %d, unit %d", rec.source_kind, rec.data_unit);

    /* The law object GET answers, written back as a PUT body, is the same law. */
    json_t *obj = sl_law_record_json(&rec);
    check_encodes(obj, "the law object");
    json_t *put = json_pack("{s:O, s:{s:O}, s:O, s:{s:O}}", "coefficients",
                            json_object_get(obj, "coefficients"), "units", "data",
                            json_object_get(json_object_get(obj, "units"), "data"), "description",
                            json_object_get(obj, "description"), "source", "reference",
                            json_object_get(json_object_get(obj, "source"), "reference"));
    SL_FUZZ_CHECK(put != NULL, "the law object lacks a member");
    memset(&back, 0, sizeof back);
    SL_FUZZ_CHECK(sl_law_put_decode(put, &back, &err) == 0, "the law read back is refused: %s",
                  err.message);
    for (size_t i = 0; i < SL_LAW_NCOEF; i++)
        SL_FUZZ_CHECK(sl_law_coef_get(&rec.law, i) == sl_law_coef_get(&back.law, i),
                      "%s: %.17g, then %.17g", sl_law_coef_names[i], sl_law_coef_get(&rec.law, i),
                      sl_law_coef_get(&back.law, i));
    SL_FUZZ_CHECK(rec.data_unit == back.data_unit &&
                      strcmp(rec.description, back.description) == 0 &&
                      strcmp(rec.reference, back.reference) == 0,
                  "the unit, description or reference changed");
    json_decref(put);
    json_decref(obj);
}

/* ---- fits */

static void fuzz_fit(json_t *body) {
    sl_fit_request req, again;
    sl_error err;
    if (sl_fit_request_decode(body, &req, &err) != 0) {
        SL_FUZZ_CHECK(req.run_ids == NULL, "a refused fit request holds its run ids");
        sl_fuzz_check_error(&err);
        return;
    }
    SL_FUZZ_CHECK(req.dataset >= 1 && req.starts >= 1 && sl_law_name_valid(req.law),
                  "dataset %lld, %u starts, law '%s'", req.dataset, req.starts, req.law);
    SL_FUZZ_CHECK(req.loss.delta > 0 && isfinite(req.loss.delta), "delta %g", req.loss.delta);
    /* The handler pins the rows before it stores the request. */
    if (!req.dataset_rows) req.dataset_rows = 1;
    json_t *stored = sl_fit_request_json(&req);
    check_encodes(stored, "the stored fit request");
    int rc = sl_fit_request_decode(stored, &again, &err);
    SL_FUZZ_CHECK(rc == 0, "the stored fit request is refused: %s: %s", err.field, err.message);
    json_t *stored2 = sl_fit_request_json(&again);
    check_same_json(stored, stored2, "the stored fit request");
    json_decref(stored2);
    json_decref(stored);
    sl_fit_request_free(&again);
    sl_fit_request_free(&req);
}

/* ---- batch loss */

static void fuzz_points(json_t *body) {
    sl_point *pts = NULL;
    size_t n = 0;
    sl_error err;
    if (sl_points_decode(body, SL_BATCH_MAX_POINTS, &pts, &n, &err) != 0) {
        sl_fuzz_check_error(&err);
        return;
    }
    SL_FUZZ_CHECK(n >= 1 && n <= SL_BATCH_MAX_POINTS, "%zu points", n);
    for (size_t i = 0; i < n; i++) {
        SL_FUZZ_CHECK(sl_range_contains(&sl_range_sparsity, pts[i].sparsity) &&
                          sl_range_contains(&sl_range_amount, pts[i].nonzeros) &&
                          sl_range_contains(&sl_range_amount, pts[i].data),
                      "point %zu out of range", i);
        if (i < 8) { /* the answer's objects, on a built-in law */
            json_t *j = sl_loss_json(&sl_builtin_laws[i % SL_BUILTIN_COUNT].law, &pts[i]);
            check_encodes(j, "a loss object");
            json_decref(j);
        }
    }
    free(pts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    json_error_t je;
    json_t *body =
        json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!body) return 0; /* the server answers invalid_json before any decoder */
    const char *sel = data[0] ? strchr(selectors, data[0]) : NULL;
    size_t k = sel ? (size_t)(sel - selectors) : data[0] % (sizeof selectors - 1);
    switch (selectors[k]) {
    case 's': fuzz_sweep(body); break;
    case 'l': fuzz_law(body); break;
    case 'f': fuzz_fit(body); break;
    case 'r': fuzz_run_spec(body); break;
    default: fuzz_points(body); break;
    }
    json_decref(body);
    return 0;
}
