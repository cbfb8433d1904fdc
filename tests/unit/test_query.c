/* Unit tests of the query-string decoders of api/ (sl_query.h): cost model,
 * budget, patterns and spans; each kind of invalid input and the (code,
 * field, message) it answers with. Also the one range check and the one
 * data-unit table they rest on. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "sl_errors.h"
#include "sl_law_json.h"
#include "sl_parse.h"
#include "sl_query.h"

static const sl_law_record *law_in_tokens(void) {
    cr_assert_eq(sl_builtin_laws[1].data_unit, SL_UNIT_TOKENS);
    return &sl_builtin_laws[1]; /* t5-c4 */
}

static const sl_law_record *law_in_examples(void) {
    cr_assert_eq(sl_builtin_laws[0].data_unit, SL_UNIT_EXAMPLES);
    return &sl_builtin_laws[0]; /* vit-jft */
}

/* err is (code, field) and its message holds every fragment given. */
static void assert_error(const sl_error *err, sl_err_code code, const char *field,
                         const char *fragment, const char *fragment2) {
    cr_assert_eq(err->code, code, "code %d, message: %s", err->code, err->message);
    cr_assert_str_eq(err->field, field, "message: %s", err->message);
    if (fragment)
        cr_assert(strstr(err->message, fragment), "'%s' not in: %s", fragment, err->message);
    if (fragment2)
        cr_assert(strstr(err->message, fragment2), "'%s' not in: %s", fragment2, err->message);
}

/* ------------------------------------------------------------------ range */

Test(range, bounds_open_and_closed_and_never_infinite) {
    cr_assert(sl_range_contains(&sl_range_sparsity, 0.0));
    cr_assert(sl_range_contains(&sl_range_sparsity, 0.999));
    cr_assert_not(sl_range_contains(&sl_range_sparsity, 1.0));
    cr_assert_not(sl_range_contains(&sl_range_sparsity, -0.1));
    cr_assert(sl_range_contains(&sl_range_fraction, 1.0));
    cr_assert_not(sl_range_contains(&sl_range_positive, 0.0));
    cr_assert(sl_range_contains(&sl_range_positive, DBL_MIN));
    cr_assert(sl_range_contains(&sl_range_positive, DBL_MAX));
    cr_assert_not(sl_range_contains(&sl_range_positive, INFINITY));
    cr_assert(sl_range_contains(&sl_range_amount, 1.0));
    cr_assert(sl_range_contains(&sl_range_amount, 1e30));
    cr_assert_not(sl_range_contains(&sl_range_amount, 1.1e30));
    cr_assert(sl_range_contains(&sl_range_compute, 1e45));
    cr_assert_not(sl_range_contains(&sl_range_compute, 0.5));
    const sl_range everything = {-INFINITY, INFINITY, 0, 0, "anything"};
    cr_assert(sl_range_contains(&everything, -1e300));
    cr_assert_not(sl_range_contains(&everything, NAN));
    cr_assert_not(sl_range_contains(&everything, INFINITY));
}

Test(units, one_table_of_names) {
    static const char *const plural[] = {"tokens", "examples", "steps"};
    static const char *const singular[] = {"token", "example", "step"};
    for (int u = 0; u < SL_UNIT_COUNT; u++) {
        sl_data_unit back = SL_UNIT_COUNT;
        cr_assert_str_eq(sl_data_unit_name((sl_data_unit)u), plural[u]);
        cr_assert_str_eq(sl_data_unit_singular((sl_data_unit)u), singular[u]);
        cr_assert_eq(sl_data_unit_parse(plural[u], &back), 0);
        cr_assert_eq(back, (sl_data_unit)u);
        cr_assert_eq(sl_data_unit_parse(singular[u], &back), -1);
    }
    sl_data_unit u;
    cr_assert_eq(sl_data_unit_parse(NULL, &u), -1);
    cr_assert_eq(sl_data_unit_parse("Tokens", &u), -1);
    cr_assert_str_eq(sl_data_unit_name(SL_UNIT_COUNT), "unknown");
}

/* ------------------------------------------------------------- cost model */

Test(cost, defaults_to_dense) {
    sl_cost cost;
    sl_error err;
    cr_assert_eq(sl_query_cost_decode(NULL, NULL, NULL, &cost, &err), 0);
    cr_assert_eq(cost.model, SL_COST_DENSE);
    cr_assert_eq(cost.prune_start, SL_COST_GMP_DEFAULT_START);
    cr_assert_eq(cost.prune_end, SL_COST_GMP_DEFAULT_END);
    cr_assert_eq(sl_query_cost_decode("dense", NULL, NULL, &cost, &err), 0);
    cr_assert_eq(cost.model, SL_COST_DENSE);
}

Test(cost, gmp_with_and_without_its_schedule) {
    sl_cost cost;
    sl_error err;
    cr_assert_eq(sl_query_cost_decode("gmp", NULL, NULL, &cost, &err), 0);
    cr_assert_eq(cost.model, SL_COST_GMP);
    cr_assert_eq(cost.prune_start, SL_COST_GMP_DEFAULT_START);
    cr_assert_eq(cost.prune_end, SL_COST_GMP_DEFAULT_END);
    cr_assert_eq(sl_query_cost_decode("gmp", "0.1", "0.9", &cost, &err), 0);
    cr_assert_eq(cost.prune_start, 0.1);
    cr_assert_eq(cost.prune_end, 0.9);
    cr_assert_eq(sl_query_cost_decode("gmp", "0.5", "0.5", &cost, &err), 0, "start = end is fine");
    cr_assert_eq(sl_query_cost_decode("gmp", "0", "1", &cost, &err), 0);
    cr_assert_eq(sl_query_cost_decode("gmp", NULL, "0.5", &cost, &err), 0);
    cr_assert_eq(cost.prune_start, SL_COST_GMP_DEFAULT_START);
    cr_assert_eq(cost.prune_end, 0.5);
}

Test(cost, unknown_model) {
    sl_cost cost;
    sl_error err;
    cr_assert_eq(sl_query_cost_decode("sparse", NULL, NULL, &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "cost_model", "must be dense or gmp", "'sparse'");
    cr_assert_eq(sl_query_cost_decode("", NULL, NULL, &cost, &err), -1, "given empty");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "cost_model", "got ''", NULL);
    cr_assert_eq(sl_query_cost_decode("GMP", NULL, NULL, &cost, &err), -1, "case matters");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "cost_model", NULL, NULL);
}

Test(cost, schedule_without_gmp) {
    sl_cost cost;
    sl_error err;
    cr_assert_eq(sl_query_cost_decode(NULL, "0.1", NULL, &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start", "applies only to cost_model=gmp",
                 NULL);
    cr_assert_eq(sl_query_cost_decode("dense", NULL, "0.9", &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_end", "applies only to cost_model=gmp",
                 NULL);
    cr_assert_eq(sl_query_cost_decode("dense", "0.1", "0.9", &cost, &err), -1, "start named first");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start", NULL, NULL);
    cr_assert_eq(sl_query_cost_decode("dense", "", NULL, &cost, &err), -1, "given empty");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start", NULL, NULL);
}

Test(cost, schedule_out_of_range_or_malformed) {
    sl_cost cost;
    sl_error err;
    cr_assert_eq(sl_query_cost_decode("gmp", "1.5", NULL, &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start", "in [0, 1]", "1.5");
    cr_assert_eq(sl_query_cost_decode("gmp", "0.1", "-0.1", &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_end", "in [0, 1]", NULL);
    cr_assert_eq(sl_query_cost_decode("gmp", "half", NULL, &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start", "finite number", "'half'");
    cr_assert_eq(sl_query_cost_decode("gmp", NULL, "", &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_end", "empty", NULL);
}

Test(cost, schedule_out_of_order) {
    sl_cost cost;
    sl_error err;
    cr_assert_eq(sl_query_cost_decode("gmp", "0.9", "0.1", &cost, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start",
                 "prune_start (0.9) must not be after prune_end (0.1)", NULL);
    cr_assert_eq(sl_query_cost_decode("gmp", "0.8", NULL, &cost, &err), -1,
                 "after the default end");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "prune_start", "prune_end (0.75)", NULL);
}

/* ----------------------------------------------------------------- budget */

Test(budget, compute_or_data) {
    sl_error err;
    double dense = 0;
    int given = -1;
    cr_assert_eq(sl_query_budget_decode("6e18", NULL, law_in_tokens(), 1e9, &dense, &given, &err),
                 0);
    cr_assert_float_eq(dense, 1e9, 1e-6);
    cr_assert_eq(given, 1);
    cr_assert_eq(sl_query_budget_decode(NULL, "1e10", law_in_tokens(), 1e9, &dense, &given, &err),
                 0);
    cr_assert_eq(dense, 1e10);
    cr_assert_eq(given, 0);
    cr_assert_eq(sl_query_budget_decode(NULL, "1e9", law_in_examples(), 1e9, &dense, &given, &err),
                 0);
    cr_assert_eq(dense, 1e9);
    cr_assert_eq(given, 0);
}

Test(budget, exactly_one_of_them) {
    sl_error err;
    double dense;
    int given;
    cr_assert_eq(sl_query_budget_decode("1e20", "1e10", law_in_tokens(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "compute", "not both", NULL);
    cr_assert_eq(sl_query_budget_decode(NULL, NULL, law_in_tokens(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_MISSING_PARAMETER, "compute", "a budget is required",
                 "data (tokens a dense model");
    cr_assert_eq(sl_query_budget_decode(NULL, NULL, law_in_examples(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_MISSING_PARAMETER, "compute", "data (examples a dense model", NULL);
}

Test(budget, malformed_or_out_of_range) {
    sl_error err;
    double dense;
    int given;
    cr_assert_eq(sl_query_budget_decode("lots", NULL, law_in_tokens(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "compute", "finite number in [1, 1e45]", "'lots'");
    cr_assert_eq(sl_query_budget_decode("1e46", NULL, law_in_tokens(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "compute", "in [1, 1e45]", NULL);
    cr_assert_eq(sl_query_budget_decode(NULL, "0.5", law_in_tokens(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data", "in [1, 1e30]", NULL);
    cr_assert_eq(sl_query_budget_decode(NULL, "", law_in_tokens(), 1e9, &dense, &given, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data", "empty", NULL);
}

Test(budget, flops_need_a_law_in_tokens) {
    sl_error err;
    double dense;
    int given;
    cr_assert_eq(sl_query_budget_decode("1e20", NULL, law_in_examples(), 1e9, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_UNIT_MISMATCH, "compute", "law 'vit-jft' measures data in examples",
                 "pass data= (the examples");
}

Test(budget, too_small_or_too_large_for_the_model) {
    sl_error err;
    double dense;
    int given;
    /* 6 N overflows, so compute / (6 N) is no budget at all. */
    cr_assert_eq(sl_query_budget_decode("1", NULL, law_in_tokens(), 1e308, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "compute", "the budget is too small", NULL);
    /* 6 N D is the compute the response states: it must be finite. */
    cr_assert_eq(sl_query_budget_decode(NULL, "1e30", law_in_tokens(), 1e300, &dense, &given, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data", "the budget is too large for 1e+300",
                 NULL);
}

/* --------------------------------------------------------------- patterns */

Test(patterns, lists_of_n_m) {
    double s[SL_QUERY_MAX_PATTERNS];
    char names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t n = 0;
    sl_error err;
    cr_assert_eq(sl_query_patterns_decode("2:4,1:4", s, names, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(s[0], 0.5);
    cr_assert_eq(s[1], 0.75);
    cr_assert_str_eq(names[0], "2:4");
    cr_assert_str_eq(names[1], "1:4");
    cr_assert_eq(sl_query_patterns_decode("63:64", s, names, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(names[0], "63:64");
    cr_assert_eq(sl_query_patterns_decode("1:2,1:3,1:4,1:5,1:6,1:7,1:8,1:9", s, names, &n, &err),
                 0);
    cr_assert_eq(n, SL_QUERY_MAX_PATTERNS);
    cr_assert_str_eq(names[7], "1:9");
}

Test(patterns, too_many) {
    double s[SL_QUERY_MAX_PATTERNS];
    char names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t n = 0;
    sl_error err;
    cr_assert_eq(
        sl_query_patterns_decode("1:2,1:3,1:4,1:5,1:6,1:7,1:8,1:9,1:10", s, names, &n, &err), -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "patterns", "at most 8 patterns", NULL);
}

Test(patterns, not_a_list) {
    static const char *const bad[] = {"", ",", "2:4,", ",2:4", "2:4,,1:4", "1234567890123456:2"};
    double s[SL_QUERY_MAX_PATTERNS];
    char names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t n = 0;
    sl_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sl_query_patterns_decode(bad[i], s, names, &n, &err), -1, "'%s'", bad[i]);
        assert_error(&err, SL_ERR_INVALID_PARAMETER, "patterns", "comma-separated list such as",
                     NULL);
    }
}

Test(patterns, not_a_pattern) {
    static const char *const bad[] = {"4:2", "2:2", "0:4", "1:65", "2/4", "2:4:8", "a:b", "2:4,3"};
    double s[SL_QUERY_MAX_PATTERNS];
    char names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t n = 0;
    sl_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sl_query_patterns_decode(bad[i], s, names, &n, &err), -1, "'%s'", bad[i]);
        assert_error(&err, SL_ERR_INVALID_PARAMETER, "patterns", "1 <= n < m <= 64", NULL);
    }
}

/* ------------------------------------------------------------------- span */

Test(span, defaults_clamped_into_the_range) {
    double lo = 0, hi = 0;
    sl_error err;
    cr_assert_eq(sl_query_span_decode("data_min", NULL, "data_max", NULL, &sl_range_amount, 1e9,
                                      1e12, &lo, &hi, &err),
                 0);
    cr_assert_eq(lo, 1e9);
    cr_assert_eq(hi, 1e12);
    cr_assert_eq(sl_query_span_decode("data_min", NULL, "data_max", NULL, &sl_range_amount, 0.01,
                                      1e40, &lo, &hi, &err),
                 0);
    cr_assert_eq(lo, 1.0);
    cr_assert_eq(hi, 1e30);
}

Test(span, given_values) {
    double lo = 0, hi = 0;
    sl_error err;
    cr_assert_eq(sl_query_span_decode("compute_min", "1e19", "compute_max", "1e22",
                                      &sl_range_compute, 1, 2, &lo, &hi, &err),
                 0);
    cr_assert_eq(lo, 1e19);
    cr_assert_eq(hi, 1e22);
    cr_assert_eq(sl_query_span_decode("data_min", "1e5", "data_max", NULL, &sl_range_amount, 1e9,
                                      1e12, &lo, &hi, &err),
                 0);
    cr_assert_eq(lo, 1e5);
    cr_assert_eq(hi, 1e12);
}

Test(span, bounds_out_of_range_or_malformed) {
    double lo, hi;
    sl_error err;
    cr_assert_eq(sl_query_span_decode("data_min", "0", "data_max", NULL, &sl_range_amount, 1e9,
                                      1e12, &lo, &hi, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data_min", "in [1, 1e30]", NULL);
    cr_assert_eq(sl_query_span_decode("data_min", NULL, "data_max", "many", &sl_range_amount, 1e9,
                                      1e12, &lo, &hi, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data_max", "finite number", "'many'");
    cr_assert_eq(sl_query_span_decode("nonzeros_min", "", "nonzeros_max", NULL, &sl_range_amount,
                                      1e7, 1e12, &lo, &hi, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "nonzeros_min", "empty", NULL);
}

Test(span, lo_below_hi) {
    double lo, hi;
    sl_error err;
    cr_assert_eq(sl_query_span_decode("data_min", "1e12", "data_max", "1e9", &sl_range_amount, 1, 2,
                                      &lo, &hi, &err),
                 -1);
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data_min",
                 "data_min (1e+12) must be below data_max (1e+09)", NULL);
    cr_assert_eq(sl_query_span_decode("data_min", "1e9", "data_max", "1e9", &sl_range_amount, 1, 2,
                                      &lo, &hi, &err),
                 -1, "an empty span");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data_min", "must be below", NULL);
    cr_assert_eq(sl_query_span_decode("data_min", "1e13", "data_max", NULL, &sl_range_amount, 1e9,
                                      1e12, &lo, &hi, &err),
                 -1, "above the default hi");
    assert_error(&err, SL_ERR_INVALID_PARAMETER, "data_min", "below data_max (1e+12)", NULL);
}
