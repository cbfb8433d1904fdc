/* Unit tests of api/: strict parameter parsing, the error table, the law and
 * query codecs, the table writer behind curves, and sweep grids. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_errors.h"
#include "sl_json_write.h"
#include "sl_law_json.h"
#include "sl_parse.h"
#include "sl_query_json.h"
#include "sl_sweep_json.h"
#include "sl_table.h"
#include "sl_test.h"

Test(parse, accepts_plain_and_scientific_numbers) {
    static const struct {
        const char *text;
        double value;
    } ok[] = {
        {"0", 0},   {"1e9", 1e9},       {"2E11", 2e11}, {"0.5", 0.5},    {".5", 0.5},
        {"-3", -3}, {"1.5e-3", 1.5e-3}, {"+7", 7},      {"1e-400", 0.0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -1;
        cr_assert_eq(sl_parse_double(ok[i].text, &v), 0, "%s", ok[i].text);
        cr_assert_eq(v, ok[i].value, "%s", ok[i].text);
    }
}

Test(parse, rejects_what_is_not_a_finite_decimal) {
    static const char *const bad[] = {"",    " 1",   "1 ",       "abc",   "nan",    "NaN",
                                      "inf", "-inf", "Infinity", "1e400", "-1e400", "0x10",
                                      "1,5", "1e",   "--1",      "1..2",  "e5",     "1e9x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 42;
        cr_assert_eq(sl_parse_double(bad[i], &v), -1, "'%s' was accepted", bad[i]);
        cr_assert_eq(v, 42, "'%s' wrote the output", bad[i]);
    }
    double v;
    cr_assert_eq(sl_parse_double(NULL, &v), -1);
}

Test(parse, ranges_name_the_parameter) {
    sl_error err;
    double v;
    cr_assert_eq(sl_parse_number("sparsity", "0", &sl_range_sparsity, &v, &err), 0);
    cr_assert_eq(sl_parse_number("sparsity", "0.999", &sl_range_sparsity, &v, &err), 0);
    cr_assert_eq(sl_parse_number("sparsity", "1", &sl_range_sparsity, &v, &err), -1);
    cr_assert_eq(err.code, SL_ERR_INVALID_PARAMETER);
    cr_assert_str_eq(err.field, "sparsity");
    cr_assert(strstr(err.message, "[0, 1)"), "%s", err.message);
    cr_assert_eq(sl_parse_number("sparsity", "-0.1", &sl_range_sparsity, &v, &err), -1);
    cr_assert_eq(sl_parse_number("nonzeros", "0", &sl_range_positive, &v, &err), -1);
    cr_assert_str_eq(err.field, "nonzeros");
    cr_assert_eq(sl_parse_number("nonzeros", "", &sl_range_positive, &v, &err), -1);
    cr_assert(strstr(err.message, "empty"), "%s", err.message);
    cr_assert_eq(sl_parse_number("prune_end", "1", &sl_range_fraction, &v, &err), 0);
}

Test(parse, integers) {
    sl_error err;
    long v;
    cr_assert_eq(sl_parse_int("points", "50", 2, 1000, &v, &err), 0);
    cr_assert_eq(v, 50);
    cr_assert_eq(sl_parse_int("points", "1", 2, 1000, &v, &err), -1);
    cr_assert_eq(sl_parse_int("points", "1001", 2, 1000, &v, &err), -1);
    cr_assert_eq(sl_parse_int("points", "5.5", 2, 1000, &v, &err), -1);
    cr_assert_eq(sl_parse_int("points", "1e2", 2, 1000, &v, &err), 0);
    cr_assert_eq(v, 100);
    cr_assert_eq(sl_parse_int("points", "", 2, 1000, &v, &err), -1);
    cr_assert_eq(sl_parse_int("points", "99999999999999999999999", 2, 1000, &v, &err), -1);
    cr_assert_str_eq(err.field, "points");
}

Test(parse, number_lists) {
    sl_error err;
    double v[4];
    size_t n = 0;
    cr_assert_eq(
        sl_parse_number_list("sparsities", "0,0.5,0.75", &sl_range_sparsity, v, 4, &n, &err), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(v[2], 0.75);
    cr_assert_eq(sl_parse_number_list("sparsities", "0,,0.5", &sl_range_sparsity, v, 4, &n, &err),
                 -1);
    cr_assert_eq(sl_parse_number_list("sparsities", "0,0.5,", &sl_range_sparsity, v, 4, &n, &err),
                 -1);
    cr_assert_eq(sl_parse_number_list("sparsities", "0,1", &sl_range_sparsity, v, 4, &n, &err), -1);
    cr_assert_eq(
        sl_parse_number_list("sparsities", "0,0.1,0.2,0.3,0.4", &sl_range_sparsity, v, 4, &n, &err),
        -1);
    cr_assert(strstr(err.message, "at most 4"), "%s", err.message);
    cr_assert_eq(
        sl_parse_number_list("sparsities", "0.5,0.25,0.5", &sl_range_sparsity, v, 4, &n, &err), -1);
    cr_assert(strstr(err.message, "twice"), "%s", err.message);
}

Test(parse, patterns) {
    sl_error err;
    int n, m;
    cr_assert_eq(sl_parse_pattern("patterns", "2:4", &n, &m, &err), 0);
    cr_assert(n == 2 && m == 4);
    static const char *const bad[] = {"4:4", "0:4",   "5:4",  "2:",  ":4",
                                      "2-4", "2:4:8", "2:65", "a:b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(sl_parse_pattern("patterns", bad[i], &n, &m, &err), -1, "'%s'", bad[i]);
}

Test(parse, law_names) {
    cr_assert(sl_law_name_valid("t5-c4"));
    cr_assert(sl_law_name_valid("my.law_2"));
    cr_assert(!sl_law_name_valid(""));
    cr_assert(!sl_law_name_valid("-x"));
    cr_assert(!sl_law_name_valid("Upper"));
    cr_assert(!sl_law_name_valid("a/b"));
    char long_name[70];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[69] = '\0';
    cr_assert(!sl_law_name_valid(long_name));
}

Test(errors, table_is_complete_and_statuses_match_their_class) {
    for (int c = 1; c < SL_ERR_COUNT; c++) {
        cr_assert_not_null(sl_err_table[c].code, "code %d", c);
        cr_assert(sl_err_table[c].status >= 400 && sl_err_table[c].status < 600);
        for (int d = 1; d < c; d++)
            cr_assert_str_neq(sl_err_table[c].code, sl_err_table[d].code);
    }
    cr_assert_eq(sl_err_table[SL_ERR_METHOD_NOT_ALLOWED].status, 405);
    cr_assert_eq(sl_err_table[SL_ERR_UNIT_MISMATCH].status, 422);
    /* Every code, in enum order, with its name and the status of its class
     * (sl_errors.h): a code added to the enum without a row here fails. */
    static const struct {
        sl_err_code code;
        const char *name;
        unsigned status;
    } want[] = {
        {SL_ERR_INVALID_PARAMETER, "invalid_parameter", 400},
        {SL_ERR_MISSING_PARAMETER, "missing_parameter", 400},
        {SL_ERR_UNKNOWN_PARAMETER, "unknown_parameter", 400},
        {SL_ERR_INVALID_JSON, "invalid_json", 400},
        {SL_ERR_INVALID_BODY, "invalid_body", 400},
        {SL_ERR_UNAUTHORIZED, "unauthorized", 401},
        {SL_ERR_FORBIDDEN, "forbidden", 403},
        {SL_ERR_NOT_FOUND, "not_found", 404},
        {SL_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405},
        {SL_ERR_CONFLICT, "conflict", 409},
        {SL_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413},
        {SL_ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415},
        {SL_ERR_UNIT_MISMATCH, "unit_mismatch", 422},
        {SL_ERR_UNREACHABLE, "unreachable_target", 422},
        {SL_ERR_UNPROCESSABLE, "unprocessable", 422},
        {SL_ERR_SHUTTING_DOWN, "shutting_down", 503},
        {SL_ERR_INTERNAL, "internal", 500},
    };
    const size_t n = sizeof want / sizeof want[0];
    cr_assert_eq(n, (size_t)SL_ERR_COUNT - 1, "%zu rows for %d codes", n, SL_ERR_COUNT - 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(want[i].code, (sl_err_code)(i + 1), "row %zu is out of enum order", i);
        const sl_err_info *e = &sl_err_table[want[i].code];
        cr_assert_str_eq(e->code, want[i].name);
        cr_assert_eq(e->status, want[i].status, "%s: %u, want %u", e->code, e->status,
                     want[i].status);
        cr_assert_not_null(e->title, "%s has no title", e->code);
        sl_error err;
        sl_error_set(&err, want[i].code, NULL, "x");
        cr_assert_eq(sl_error_status(&err), want[i].status, "%s", e->code);
    }
}

Test(errors, json_is_always_encodable) {
    sl_error err;
    sl_error_set(&err, SL_ERR_UNKNOWN_PARAMETER, "bad\xff\x01key", "unknown parameter '%s'",
                 "x\xc3\x28");
    json_t *j = sl_error_json(&err);
    cr_assert_not_null(j);
    json_t *e = json_object_get(j, "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "unknown_parameter");
    cr_assert_str_eq(json_string_value(json_object_get(e, "field")), "bad??key");
    cr_assert_eq(sl_error_status(&err), 400);
    json_decref(j);
}

static json_t *law_body(void) {
    return json_pack("{s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f}, s:{s:s}, s:s}", "coefficients", "a_s",
                     10.0, "b_s", 0.7, "c_s", 40.0, "b_n", 0.25, "a_d", 7e8, "b_d", 0.2, "c", 0.65,
                     "units", "data", "tokens", "description", "mine");
}

Test(law_json, put_decodes_and_round_trips) {
    json_t *body = law_body();
    sl_law_record rec;
    sl_error err;
    memset(&rec, 0, sizeof rec);
    cr_assert_eq(sl_law_put_decode(body, &rec, &err), 0, "%s", err.message);
    cr_assert_eq(rec.law.a_d, 7e8);
    cr_assert_eq(rec.data_unit, SL_UNIT_TOKENS);
    cr_assert_eq(rec.source_kind, SL_SOURCE_MANUAL);
    snprintf(rec.name, sizeof rec.name, "mine");
    rec.version = 3;
    json_t *out = sl_law_record_json(&rec);
    cr_assert_eq(json_integer_value(json_object_get(out, "version")), 3);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(out, "coefficients"), "b_n")),
                 0.25);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "units"), "data")),
                     "tokens");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "source"), "kind")),
                     "manual");
    json_decref(out);
    json_decref(body);
}

Test(law_json, put_rejects_bad_bodies_naming_the_path) {
    static const struct {
        const char *patch_key, *patch_json, *field;
    } cases[] = {
        {"coefficients", "{\"a_s\": 1}", "coefficients.b_s"},
        {"coefficients", "5", "coefficients"},
        {"units", "{\"data\": \"images\"}", "units.data"},
        {"units", "{\"data\": \"tokens\", \"nonzeros\": \"millions\"}", "units.nonzeros"},
        {"description", "7", "description"},
        {"extra", "1", "extra"},
        {"source", "{\"kind\": \"fit\"}", "source.kind"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *body = law_body();
        json_object_set_new(body, cases[i].patch_key,
                            json_loads(cases[i].patch_json, JSON_DECODE_ANY, NULL));
        sl_law_record rec;
        sl_error err;
        cr_assert_eq(sl_law_put_decode(body, &rec, &err), -1, "case %zu", i);
        cr_assert_eq(err.code, SL_ERR_INVALID_BODY);
        cr_assert_str_eq(err.field, cases[i].field, "case %zu: %s", i, err.message);
        json_decref(body);
    }
    static const char *const bad_values[] = {"0", "-1", "\"1\"", "null"};
    for (size_t i = 0; i < 4; i++) {
        json_t *body = law_body();
        json_object_set_new(json_object_get(body, "coefficients"), "b_d",
                            json_loads(bad_values[i], JSON_DECODE_ANY, NULL));
        sl_law_record rec;
        sl_error err;
        cr_assert_eq(sl_law_put_decode(body, &rec, &err), -1, "b_d=%s", bad_values[i]);
        json_decref(body);
    }
}

Test(law_json, builtins_are_the_published_fits) {
    cr_assert_eq(SL_BUILTIN_COUNT, 2);
    cr_assert_str_eq(sl_builtin_laws[0].name, "vit-jft");
    cr_assert_eq(sl_builtin_laws[0].data_unit, SL_UNIT_EXAMPLES);
    cr_assert_str_eq(sl_builtin_laws[1].name, "t5-c4");
    cr_assert_eq(sl_builtin_laws[1].data_unit, SL_UNIT_TOKENS);
    for (int i = 0; i < SL_BUILTIN_COUNT; i++) {
        cr_assert(sl_law_valid(&sl_builtin_laws[i].law));
        cr_assert(sl_builtin_laws[i].builtin);
    }
    cr_assert_eq(sl_builtin_laws[1].law.a_d, 689991261.918);
    /* every coefficient at full precision (law-math.md §2) */
    for (size_t k = 0; k < SL_LAW_NCOEF; k++) {
        cr_assert_eq(sl_law_coef_get(&sl_builtin_laws[0].law, k), sl_law_coef_get(&SL_TEST_VIT, k),
                     "vit-jft %s", sl_law_coef_names[k]);
        cr_assert_eq(sl_law_coef_get(&sl_builtin_laws[1].law, k), sl_law_coef_get(&SL_TEST_T5, k),
                     "t5-c4 %s", sl_law_coef_names[k]);
    }
}

Test(units, depend_on_the_law) {
    cr_assert_str_eq(sl_unit_of(SL_UNIT_TOKENS, "data"), "tokens");
    cr_assert_str_eq(sl_unit_of(SL_UNIT_EXAMPLES, "data"), "examples");
    cr_assert(strstr(sl_unit_of(SL_UNIT_TOKENS, "compute"), "FLOPs"));
    cr_assert(strstr(sl_unit_of(SL_UNIT_EXAMPLES, "compute"), "not FLOPs"));
    cr_assert_str_eq(sl_unit_of(SL_UNIT_STEPS, "nonzeros"), "parameters");
    cr_assert_null(sl_unit_of(SL_UNIT_TOKENS, "no_such_field"));
    json_t *u = sl_units_json(SL_UNIT_STEPS, "data", "loss", NULL);
    cr_assert_eq(json_object_size(u), 2);
    cr_assert_str_eq(json_string_value(json_object_get(u, "data")), "steps");
    json_decref(u);
}

static int decode_points(const char *text, sl_point **pts, size_t *n, sl_error *err) {
    json_t *body = json_loads(text, 0, NULL);
    cr_assert_not_null(body, "%s", text);
    int rc = sl_points_decode(body, 3, pts, n, err);
    json_decref(body);
    return rc;
}

Test(query_json, points_decode) {
    sl_point *pts = NULL;
    size_t n = 0;
    sl_error err;
    cr_assert_eq(decode_points("{\"points\":[{\"sparsity\":0.5,\"nonzeros\":1e8,\"data\":1e10}]}",
                               &pts, &n, &err),
                 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(pts[0].data, 1e10);
    free(pts);
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"points\":[]}", "points"},
        {"{\"points\":{}}", "points"},
        {"{\"pts\":[]}", "points"},
        {"{\"points\":[1]}", "points[0]"},
        {"{\"points\":[{\"sparsity\":\"0.5\",\"nonzeros\":1e8,\"data\":1}]}", "points[0].sparsity"},
        {"{\"points\":[{\"sparsity\":1,\"nonzeros\":1e8,\"data\":1}]}", "points[0].sparsity"},
        {"{\"points\":[{\"sparsity\":0,\"nonzeros\":-1,\"data\":1}]}", "points[0].nonzeros"},
        {"{\"points\":[{\"sparsity\":0,\"nonzeros\":1,\"data\":1},{\"sparsity\":0,\"nonzeros\":1}]"
         "}",
         "points[1].data"},
        {"{\"points\":[{\"sparsity\":0,\"nonzeros\":1,\"data\":1,\"x\":2}]}", "points[0]"},
        {"{\"points\":[1,2,3,4]}", "points"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(decode_points(bad[i].body, &pts, &n, &err), -1, "%s", bad[i].body);
        cr_assert_eq(err.code, SL_ERR_INVALID_BODY);
        cr_assert_str_eq(err.field, bad[i].field, "%s: %s", bad[i].body, err.message);
    }
}

Test(query_json, loss_object_follows_the_law) {
    const sl_law *law = &sl_builtin_laws[1].law;
    sl_point p = {0.5, 1e8, 1e10};
    json_t *o = sl_loss_json(law, &p);
    cr_assert_float_eq(json_real_value(json_object_get(o, "loss")), 1.8361144547, 1e-9);
    cr_assert_eq(json_real_value(json_object_get(o, "total_params")), 2e8);
    cr_assert(json_real_value(json_object_get(o, "loss_floor")) <
              json_real_value(json_object_get(o, "loss")));
    json_decref(o);
}

Test(table, csv_and_series) {
    static const char *const cols[] = {"sparsity", "data", "loss", NULL};
    sl_table t;
    sl_table_init(&t, NULL, cols);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 3; i++) {
            double row[] = {0.5 * s, 1e9 * (i + 1), 2.0 - 0.1 * i};
            sl_table_add(&t, NULL, row);
        }
    size_t len;
    char *csv = sl_table_csv(&t, &len);
    cr_assert_eq(strlen(csv), len);
    cr_assert(strncmp(csv, "sparsity,data,loss\r\n0,1000000000,2\r\n", 36) == 0, "%s", csv);
    free(csv);
    json_t *series = sl_table_series(&t, 0);
    cr_assert_eq(json_array_size(series), 2);
    json_t *second = json_array_get(series, 1);
    cr_assert_eq(json_real_value(json_object_get(second, "sparsity")), 0.5);
    cr_assert_eq(json_array_size(json_object_get(second, "data")), 3);
    json_decref(series);
    sl_table_free(&t);
}

Test(table, labels_and_missing_values) {
    static const char *const cols[] = {"sparsity", "nonzeros", NULL};
    sl_table t;
    sl_table_init(&t, "line", cols);
    double a[] = {0.5, 1e8}, b[] = {0.5, 1e9}, c[] = {(double)NAN, 1e8}, d[] = {(double)NAN, 1e9};
    sl_table_add(&t, "iso", a);
    sl_table_add(&t, "iso", b);
    sl_table_add(&t, "dense", c);
    sl_table_add(&t, "dense", d);
    size_t len;
    char *csv = sl_table_csv(&t, &len);
    cr_assert(strstr(csv, "line,sparsity,nonzeros\r\n"), "%s", csv);
    cr_assert(strstr(csv, "dense,,100000000\r\n"), "%s", csv);
    free(csv);
    json_t *series = sl_table_series(&t, 0);
    cr_assert_eq(json_array_size(series), 2);
    cr_assert(json_is_null(json_object_get(json_array_get(series, 1), "sparsity")));
    json_decref(series);
    sl_table_free(&t);
}

/* ---- sweep grids: counted from the lists' sizes, expanded once each ---- */

static json_t *sweep_body(json_t *grid) {
    return json_pack("{s:s, s:o}", "law", "calib", "grid", grid);
}

Test(sweep_json, a_huge_grid_is_counted_not_expanded) {
    /* 32 sizes x (32 sparsities + 16 patterns) x 32 tokens x 8 seeds. */
    static const char *const pats[] = {"1:2",   "1:4",   "3:4",   "1:8",  "3:8",  "5:8",
                                       "7:8",   "1:16",  "3:16",  "5:16", "7:16", "9:16",
                                       "11:16", "13:16", "15:16", "1:32"};
    json_t *sizes = json_array(), *sp = json_array(), *pa = json_array(), *tk = json_array(),
           *sd = json_array();
    for (int i = 0; i < 32; i++) {
        json_array_append_new(
            sizes, json_pack("{s:i, s:i, s:i}", "layers", 1, "width", 64 * (i + 1), "heads", 2));
        json_array_append_new(sp, json_real(i / 40.0));
        json_array_append_new(tk, json_integer(4096 + i));
    }
    for (int i = 0; i < 16; i++)
        json_array_append_new(pa, json_string(pats[i]));
    for (int i = 0; i < 8; i++)
        json_array_append_new(sd, json_integer(i));
    json_t *body = sweep_body(json_pack("{s:o, s:o, s:o, s:o, s:o}", "sizes", sizes, "sparsities",
                                        sp, "patterns", pa, "tokens", tk, "seeds", sd));
    sl_sweep_request req;
    sl_error err;
    clock_t t0 = clock();
    cr_assert_eq(sl_sweep_request_decode(body, &req, &err), -1);
    double took = (double)(clock() - t0) / CLOCKS_PER_SEC;
    cr_assert_str_eq(err.field, "grid");
    cr_assert(strstr(err.message, "393216 distinct points"), "%s", err.message);
    cr_assert_lt(took, 0.05, "%.3f s", took);
    json_decref(body);
}

/* 24 x 1024 at context 1024 and batch 8 with trainer options t (owned). */
static int decode_big(json_t *t, sl_error *err) {
    json_t *body =
        sweep_body(json_pack("{s:[{s:i, s:i, s:i}], s:[f], s:[i]}", "sizes", "layers", 24, "width",
                             1024, "heads", 16, "sparsities", 0.5, "tokens", 1 << 20));
    json_object_set_new(body, "trainer", t);
    sl_sweep_request req;
    int rc = sl_sweep_request_decode(body, &req, err);
    if (rc == 0) sl_sweep_request_free(&req);
    json_decref(body);
    return rc;
}

Test(sweep_json, a_24_x_1024_sweep_at_context_1024_is_for_a_gpu) {
    sl_error err;
    cr_assert_eq(
        decode_big(json_pack("{s:i, s:i, s:s}", "context", 1024, "batch", 8, "device", "cuda"),
                   &err),
        0, "%s", err.message);
    cr_assert_eq(
        decode_big(json_pack("{s:i, s:i, s:s, s:s, s:s}", "context", 1024, "batch", 8, "device",
                             "cuda", "precision", "bf16", "embed_sparsity", "auto"),
                   &err),
        0, "%s", err.message);
    /* on the CPU, the same size is past a calibration run's block parameters */
    cr_assert_eq(decode_big(json_pack("{s:i, s:i}", "context", 1024, "batch", 8), &err), -1);
    cr_assert_str_eq(err.field, "grid.sizes[0]");
    cr_assert(strstr(err.message, "block parameters") && strstr(err.message, "cpu"), "%s",
              err.message);
    /* on a GPU, batch 16 is past the activations any run may have */
    cr_assert_eq(
        decode_big(json_pack("{s:i, s:i, s:s}", "context", 1024, "batch", 16, "device", "cuda"),
                   &err),
        -1);
    cr_assert_str_eq(err.field, "grid.sizes[0]");
    cr_assert(strstr(err.message, "activations"), "%s", err.message);
    /* bf16 needs the GPU; the vocabulary is the operator's, never a sweep's */
    cr_assert_eq(decode_big(json_pack("{s:s}", "precision", "bf16"), &err), -1);
    cr_assert_str_eq(err.field, "trainer.precision");
    cr_assert_eq(decode_big(json_pack("{s:s, s:i}", "device", "cuda", "vocab", 50257), &err), -1);
    cr_assert_str_eq(err.field, "trainer.vocab");
}

Test(sweep_json, repeated_values_count_once_in_order) {
    json_t *body = sweep_body(json_pack(
        "{s:[{s:i, s:i, s:i}, {s:i, s:i, s:i}, {s:i, s:i, s:i}], s:[f, f, f, f], s:[s, s, s],"
        " s:[i, f, i], s:[i, i]}",
        "sizes", "layers", 1, "width", 32, "heads", 2, "layers", 2, "width", 32, "heads", 2,
        "layers", 1, "width", 32, "heads", 2, "sparsities", 0.5, 0.0, 0.5, -0.0, "patterns", "2:4",
        "02:04", "1:2", "tokens", 4096, 4096.0, 8192, "seeds", 3, 3));
    sl_sweep_request req;
    sl_error err;
    cr_assert_eq(sl_sweep_request_decode(body, &req, &err), 0, "%s", err.message);
    /* sizes 2 x (0.5, 0, 2:4, 1:2) x tokens 2 x seeds 1 */
    size_t n = sl_sweep_points(&req, NULL, 0);
    cr_assert_eq(n, 16);
    sl_run_spec pts[16];
    cr_assert_eq(sl_sweep_points(&req, pts, 16), 16);
    cr_assert_eq(pts[0].size.layers, 1);
    cr_assert_eq(pts[0].sparsity, 0.5);
    cr_assert_eq(pts[0].tokens, 4096);
    cr_assert_eq(pts[1].tokens, 8192);
    cr_assert_eq(pts[2].sparsity, 0.0);
    cr_assert_eq(pts[4].pattern_m, 4);
    cr_assert_eq(pts[6].pattern_m, 2);
    cr_assert_eq(pts[8].size.layers, 2);
    for (size_t i = 0; i < 16; i++)
        for (size_t j = 0; j < i; j++) {
            char a[SL_RUN_KEY_MAX], b[SL_RUN_KEY_MAX];
            sl_run_spec_key(&pts[i], a, sizeof a);
            sl_run_spec_key(&pts[j], b, sizeof b);
            cr_assert_str_neq(a, b);
        }
    /* fewer than there are: the first ones */
    sl_run_spec first[3];
    cr_assert_eq(sl_sweep_points(&req, first, 3), 16);
    cr_assert_eq(memcmp(first, pts, sizeof first), 0);
    sl_sweep_request_free(&req);
    json_decref(body);
}

Test(sweep_json, a_patterns_only_request_decodes_again_as_stored) {
    json_t *body =
        sweep_body(json_pack("{s:[{s:i, s:i, s:i}], s:[s], s:[i]}", "sizes", "layers", 1, "width",
                             32, "heads", 2, "patterns", "2:4", "tokens", 4096));
    sl_sweep_request req, again;
    sl_error err;
    cr_assert_eq(sl_sweep_request_decode(body, &req, &err), 0, "%s", err.message);
    json_t *stored = sl_sweep_request_json(&req);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(stored, "grid"), "sparsities")),
                 0);
    cr_assert_eq(sl_sweep_request_decode(stored, &again, &err), 0, "%s", err.message);
    json_t *twice = sl_sweep_request_json(&again);
    cr_assert(json_equal(stored, twice));
    sl_sweep_request_free(&again);
    /* the grid still needs one of the two */
    json_object_set_new(json_object_get(stored, "grid"), "patterns", json_array());
    cr_assert_eq(sl_sweep_request_decode(stored, &again, &err), -1);
    cr_assert_str_eq(err.field, "grid.sparsities");
    json_decref(twice);
    json_decref(stored);
    sl_sweep_request_free(&req);
    json_decref(body);
}

/* Found by tests/fuzz/fuzz_decode.c: the request a sweep stores and returns
 * wrote "patterns": [] (or "sparsities": []), which the decoder refuses, so
 * no sweep could be submitted again as it was returned. */
Test(sweep_json, stored_request_decodes_again) {
    static const char *const bodies[] = {
        "{\"law\": \"a\", \"grid\": {\"sizes\": [{\"layers\": 1, \"width\": 64, \"heads\": 2}], "
        "\"sparsities\": [0, 0.5], \"tokens\": [4096]}}",
        "{\"law\": \"b\", \"grid\": {\"sizes\": [{\"layers\": 1, \"width\": 64, \"heads\": 2}], "
        "\"patterns\": [\"2:4\"], \"tokens\": [4096]}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *body = json_loads(bodies[i], 0, NULL);
        sl_sweep_request req, again;
        sl_error err;
        cr_assert_eq(sl_sweep_request_decode(body, &req, &err), 0, "%s", err.message);
        json_t *stored = sl_sweep_request_json(&req);
        json_t *grid = json_object_get(stored, "grid");
        cr_assert_eq(json_object_get(grid, "sparsities") != NULL, i == 0);
        cr_assert_eq(json_object_get(grid, "patterns") != NULL, i == 1);
        cr_assert_eq(sl_sweep_request_decode(stored, &again, &err), 0, "%s: %s", err.field,
                     err.message);
        json_t *stored2 = sl_sweep_request_json(&again);
        cr_assert(json_equal(stored, stored2));
        json_decref(stored2);
        json_decref(stored);
        json_decref(body);
        sl_sweep_request_free(&again);
        sl_sweep_request_free(&req);
    }
}

/* A grid is refused from the sizes of its lists, before any point is made:
 * 32 sizes x 32 sparsities x 32 token counts x 32 seeds took minutes to
 * expand and de-duplicate (quadratically) only to be refused. */
Test(sweep_json, big_grids_refused_before_expansion, .timeout = 5) {
    json_t *sizes = json_array(), *sp = json_array(), *tk = json_array(), *sd = json_array();
    for (int i = 0; i < 32; i++) {
        json_array_append_new(sizes, json_pack("{s:i, s:i, s:i}", "layers", 1 + i % 4, "width",
                                               8 * (1 + i / 4), "heads", 1));
        json_array_append_new(sp, json_real(i / 32.0));
        json_array_append_new(tk, json_integer(1000 + i));
        json_array_append_new(sd, json_integer(i));
    }
    json_t *body = json_pack("{s:s, s:{s:o, s:o, s:o, s:o}}", "law", "big", "grid", "sizes", sizes,
                             "sparsities", sp, "tokens", tk, "seeds", sd);
    sl_sweep_request req;
    sl_error err;
    cr_assert_eq(sl_sweep_request_decode(body, &req, &err), -1);
    cr_assert_str_eq(err.field, "grid");
    cr_assert(strstr(err.message, "1048576 distinct points"), "%s", err.message);
    json_decref(body);
}

/* Repeated values are dropped axis by axis, the first of each kept, in the
 * nesting sizes x (sparsities, patterns) x tokens x seeds. */
Test(sweep_json, points_drop_repeats_in_order) {
    json_t *body = json_loads(
        "{\"law\": \"a\", \"grid\": {\"sizes\": [{\"layers\": 1, \"width\": 64, \"heads\": 2}, "
        "{\"layers\": 1, \"width\": 64, \"heads\": 2}], \"sparsities\": [0.5, 0, 0.5], "
        "\"patterns\": [\"2:4\", \"2:4\"], \"tokens\": [10, 20, 10], \"seeds\": [3, 3]}}",
        0, NULL);
    sl_sweep_request req;
    sl_error err;
    cr_assert_eq(sl_sweep_request_decode(body, &req, &err), 0, "%s", err.message);
    sl_run_spec p[8];
    cr_assert_eq(sl_sweep_points(&req, p, 8), 6);
    static const struct {
        double sparsity;
        unsigned m;
        long long tokens;
    } want[] = {{0.5, 0, 10}, {0.5, 0, 20}, {0, 0, 10}, {0, 0, 20}, {0.5, 4, 10}, {0.5, 4, 20}};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(p[i].sparsity, want[i].sparsity, "point %zu", i);
        cr_assert_eq(p[i].pattern_m, want[i].m, "point %zu", i);
        cr_assert_eq(p[i].tokens, want[i].tokens, "point %zu", i);
        cr_assert_eq(p[i].seed, 3);
    }
    cr_assert_eq(sl_sweep_points(&req, p, 2), 6); /* the count, though only 2 are written */
    sl_sweep_request_free(&req);
    json_decref(body);
}

/* ---- sl_json_write: the answers' JSON text ---- */

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(json_write, every_real_reads_back_as_itself) {
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    char text[32];
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = xorshift(&seed);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (i % 3 == 1) /* and values like the answers' */
            v = (double)(bits % 1000000007) / (double)(1 + bits % 9973) *
                pow(10, (double)((int)(bits % 60) - 30));
        if (!isfinite(v)) continue;
        size_t len = sl_json_format_real(v, text);
        cr_assert_eq(len, strlen(text));
        double back = strtod(text, NULL);
        cr_assert(memcmp(&back, &v, sizeof v) == 0, "%.17g written as %s", v, text);
        cr_assert(strpbrk(text, ".e") != NULL, "%s reads as an integer", text);
        cr_assert(strchr(text, '+') == NULL, "%s", text);
    }
    sl_json_format_real((double)NAN, text);
    cr_assert_str_eq(text, "null");
}

Test(json_write, writes_what_json_dumps_writes) {
    json_t *v = json_pack(
        "{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:b, s:b, s:n, s:s, s:s, s:[f, i, {}], s:{}}",
        "a", 0.15861091221901558, "b", 1e9, "c", 1.2e21, "d", 1e-5, "e", -0.0, "f", 0.1, "g",
        5e-324, "h", (json_int_t)-42, "t", 1, "u", 0, "n", "s",
        "quote \" back \\ tab \t nl \n \x01", "utf8", "\xce\xbb = 95 % \xe2\x80\x94 ok /", "arr",
        2.5, 7, "empty");
    sl_buf b = {0};
    cr_assert_eq(sl_json_write(&b, v), 0);
    char *want = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17));
    cr_assert_str_eq(b.data, want);
    free(want);
    sl_buf_free(&b);
    /* and an answer's worth of random reals, byte for byte where printf's
     * 17 digits are what the long double product gives (all but ties) */
    uint64_t seed = 12345;
    json_t *arr = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(arr, json_real((double)(xorshift(&seed) % 100000) / 7.0));
    cr_assert_eq(sl_json_write(&b, arr), 0);
    want = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(17));
    cr_assert_str_eq(b.data, want);
    free(want);
    sl_buf_free(&b);
    json_decref(arr);
    json_decref(v);
}
