/* Unit tests of the query-string decoders of api/ (sl_query.h): cost model,
 * budget, patterns and spans, one pattern, strategy, inference cost and
 * hardware; each kind of invalid input and the (code, field, message) it
 * answers with. Also the one range check and the one data-unit table they
 * rest on. */
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

/* One refused input: the error it must give, and up to two fragments its
 * message must hold (NULL: none). `what` names the case in failures. */
typedef struct refusal {
    const char *what;
    sl_err_code code;
    const char *field, *says, *says_too;
} refusal;

static void assert_refused(const refusal *want, int rc, const sl_error *err) {
    cr_assert_eq(rc, -1, "%s: accepted", want->what);
    cr_assert_eq(err->code, want->code, "%s: code %d, message: %s", want->what, err->code,
                 err->message);
    cr_assert_str_eq(err->field, want->field, "%s: message: %s", want->what, err->message);
    if (want->says)
        cr_assert(strstr(err->message, want->says), "%s: '%s' not in: %s", want->what, want->says,
                  err->message);
    if (want->says_too)
        cr_assert(strstr(err->message, want->says_too), "%s: '%s' not in: %s", want->what,
                  want->says_too, err->message);
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
    cr_assert_not(sl_range_contains(&sl_range_positive, (double)INFINITY));
    cr_assert(sl_range_contains(&sl_range_amount, 1.0));
    cr_assert(sl_range_contains(&sl_range_amount, 1e30));
    cr_assert_not(sl_range_contains(&sl_range_amount, 1.1e30));
    cr_assert(sl_range_contains(&sl_range_compute, 1e45));
    cr_assert_not(sl_range_contains(&sl_range_compute, 0.5));
    const sl_range everything = {-(double)INFINITY, (double)INFINITY, 0, 0, "anything"};
    cr_assert(sl_range_contains(&everything, -1e300));
    cr_assert_not(sl_range_contains(&everything, (double)NAN));
    cr_assert_not(sl_range_contains(&everything, (double)INFINITY));
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
    static const struct {
        const char *start, *end;
        double want_start, want_end;
    } ok[] = {
        {NULL, NULL, SL_COST_GMP_DEFAULT_START, SL_COST_GMP_DEFAULT_END},
        {"0.1", "0.9", 0.1, 0.9},
        {"0.5", "0.5", 0.5, 0.5}, /* start = end is fine */
        {"0", "1", 0.0, 1.0},
        {NULL, "0.5", SL_COST_GMP_DEFAULT_START, 0.5},
        {"0.5", NULL, 0.5, SL_COST_GMP_DEFAULT_END},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        sl_cost cost;
        sl_error err;
        cr_assert_eq(sl_query_cost_decode("gmp", ok[i].start, ok[i].end, &cost, &err), 0,
                     "case %zu: %s", i, err.message);
        cr_assert_eq(cost.model, SL_COST_GMP);
        cr_assert_eq(cost.prune_start, ok[i].want_start, "case %zu", i);
        cr_assert_eq(cost.prune_end, ok[i].want_end, "case %zu", i);
    }
}

Test(cost, refusals_name_the_parameter) {
    static const struct {
        const char *model, *start, *end;
        refusal want;
    } bad[] = {
        /* an unknown model, given empty, or in the wrong case */
        {"sparse",
         NULL,
         NULL,
         {"unknown model", SL_ERR_INVALID_PARAMETER, "cost_model", "must be dense or gmp",
          "'sparse'"}},
        {"", NULL, NULL, {"empty model", SL_ERR_INVALID_PARAMETER, "cost_model", "got ''", NULL}},
        {"GMP", NULL, NULL, {"upper case", SL_ERR_INVALID_PARAMETER, "cost_model", NULL, NULL}},
        /* a schedule without gmp; prune_start is named first */
        {NULL,
         "0.1",
         NULL,
         {"start, no model", SL_ERR_INVALID_PARAMETER, "prune_start",
          "applies only to cost_model=gmp", NULL}},
        {"dense",
         NULL,
         "0.9",
         {"end, dense", SL_ERR_INVALID_PARAMETER, "prune_end", "applies only to cost_model=gmp",
          NULL}},
        {"dense",
         "0.1",
         "0.9",
         {"both, dense", SL_ERR_INVALID_PARAMETER, "prune_start", NULL, NULL}},
        {"dense",
         "",
         NULL,
         {"empty start, dense", SL_ERR_INVALID_PARAMETER, "prune_start", NULL, NULL}},
        /* a schedule out of range or malformed */
        {"gmp",
         "1.5",
         NULL,
         {"start above 1", SL_ERR_INVALID_PARAMETER, "prune_start", "in [0, 1]", "1.5"}},
        {"gmp",
         "0.1",
         "-0.1",
         {"end below 0", SL_ERR_INVALID_PARAMETER, "prune_end", "in [0, 1]", NULL}},
        {"gmp",
         "half",
         NULL,
         {"start not a number", SL_ERR_INVALID_PARAMETER, "prune_start", "finite number",
          "'half'"}},
        {"gmp", NULL, "", {"empty end", SL_ERR_INVALID_PARAMETER, "prune_end", "empty", NULL}},
        /* a schedule out of order, also against a default */
        {"gmp",
         "0.9",
         "0.1",
         {"start after end", SL_ERR_INVALID_PARAMETER, "prune_start",
          "prune_start (0.9) must not be after prune_end (0.1)", NULL}},
        {"gmp",
         "0.8",
         NULL,
         {"start after the default end", SL_ERR_INVALID_PARAMETER, "prune_start",
          "prune_end (0.75)", NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_cost cost;
        sl_error err;
        int rc = sl_query_cost_decode(bad[i].model, bad[i].start, bad[i].end, &cost, &err);
        assert_refused(&bad[i].want, rc, &err);
    }
}

/* ----------------------------------------------------------------- budget */

Test(budget, compute_or_data) {
    static const struct {
        const char *compute, *data;
        int law_in_examples;
        double want_dense;
        int want_given_compute;
    } ok[] = {
        {"6e18", NULL, 0, 1e9, 1}, /* compute = 6 N D_dense */
        {NULL, "1e10", 0, 1e10, 0},
        {NULL, "1e9", 1, 1e9, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const sl_law_record *rec = ok[i].law_in_examples ? law_in_examples() : law_in_tokens();
        double dense = 0;
        int given = -1;
        sl_error err;
        cr_assert_eq(
            sl_query_budget_decode(ok[i].compute, ok[i].data, rec, 1e9, &dense, &given, &err), 0,
            "case %zu: %s", i, err.message);
        cr_assert_float_eq(dense, ok[i].want_dense, 1e-6 * ok[i].want_dense, "case %zu", i);
        cr_assert_eq(given, ok[i].want_given_compute, "case %zu", i);
    }
}

Test(budget, refusals_name_the_parameter) {
    static const struct {
        const char *compute, *data;
        int law_in_examples;
        double nonzeros;
        refusal want;
    } bad[] = {
        /* exactly one of compute and data */
        {"1e20", "1e10", 0, 1e9, {"both", SL_ERR_INVALID_PARAMETER, "compute", "not both", NULL}},
        {NULL,
         NULL,
         0,
         1e9,
         {"neither", SL_ERR_MISSING_PARAMETER, "compute", "a budget is required",
          "data (tokens a dense model"}},
        {NULL,
         NULL,
         1,
         1e9,
         {"neither, examples", SL_ERR_MISSING_PARAMETER, "compute", "data (examples a dense model",
          NULL}},
        /* malformed or out of range */
        {"lots",
         NULL,
         0,
         1e9,
         {"compute not a number", SL_ERR_INVALID_PARAMETER, "compute", "finite number in [1, 1e45]",
          "'lots'"}},
        {"1e46",
         NULL,
         0,
         1e9,
         {"compute too large", SL_ERR_INVALID_PARAMETER, "compute", "in [1, 1e45]", NULL}},
        {NULL,
         "0.5",
         0,
         1e9,
         {"data below 1", SL_ERR_INVALID_PARAMETER, "data", "in [1, 1e30]", NULL}},
        {NULL, "", 0, 1e9, {"data empty", SL_ERR_INVALID_PARAMETER, "data", "empty", NULL}},
        /* FLOPs convert only for a law in tokens */
        {"1e20",
         NULL,
         1,
         1e9,
         {"compute, examples", SL_ERR_UNIT_MISMATCH, "compute",
          "law 'vit-jft' measures data in examples", "pass data= (the examples"}},
        /* 6 N overflows: compute / (6 N) is no budget at all */
        {"1",
         NULL,
         0,
         1e308,
         {"too small", SL_ERR_INVALID_PARAMETER, "compute", "the budget is too small", NULL}},
        /* 6 N D is the compute the response states: it must be finite */
        {NULL,
         "1e30",
         0,
         1e300,
         {"too large", SL_ERR_INVALID_PARAMETER, "data", "the budget is too large for 1e+300",
          NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const sl_law_record *rec = bad[i].law_in_examples ? law_in_examples() : law_in_tokens();
        double dense;
        int given;
        sl_error err;
        int rc = sl_query_budget_decode(bad[i].compute, bad[i].data, rec, bad[i].nonzeros, &dense,
                                        &given, &err);
        assert_refused(&bad[i].want, rc, &err);
    }
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

Test(patterns, refusals_name_the_parameter) {
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        /* more than SL_QUERY_MAX_PATTERNS */
        {"1:2,1:3,1:4,1:5,1:6,1:7,1:8,1:9,1:10", "at most 8 patterns"},
        /* not a list: empty items, or an item too long to be a pattern */
        {"", "comma-separated list such as"},
        {",", "comma-separated list such as"},
        {"2:4,", "comma-separated list such as"},
        {",2:4", "comma-separated list such as"},
        {"2:4,,1:4", "comma-separated list such as"},
        {"1234567890123456:2", "comma-separated list such as"},
        /* an item that is no n:m pattern */
        {"4:2", "1 <= n < m <= 64"},
        {"2:2", "1 <= n < m <= 64"},
        {"0:4", "1 <= n < m <= 64"},
        {"1:65", "1 <= n < m <= 64"},
        {"2/4", "1 <= n < m <= 64"},
        {"2:4:8", "1 <= n < m <= 64"},
        {"a:b", "1 <= n < m <= 64"},
        {"2:4,3", "1 <= n < m <= 64"},
        /* a pattern twice, however written */
        {"2:4,2:4", "lists 2:4 twice"},
        {"2:4,1:4,02:04", "lists 2:4 twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double s[SL_QUERY_MAX_PATTERNS];
        char names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
        size_t n = 0;
        sl_error err;
        const refusal want = {bad[i].text, SL_ERR_INVALID_PARAMETER, "patterns", bad[i].says, NULL};
        assert_refused(&want, sl_query_patterns_decode(bad[i].text, s, names, &n, &err), &err);
    }
}

/* ------------------------------------------------------------------- span */

Test(span, defaults_and_given_values) {
    static const struct {
        const char *lo_text, *hi_text;
        const sl_range *range;
        double dlo, dhi, want_lo, want_hi;
    } ok[] = {
        {NULL, NULL, &sl_range_amount, 1e9, 1e12, 1e9, 1e12},
        {NULL, NULL, &sl_range_amount, 0.01, 1e40, 1.0, 1e30}, /* defaults clamped */
        {"1e19", "1e22", &sl_range_compute, 1, 2, 1e19, 1e22},
        {"1e5", NULL, &sl_range_amount, 1e9, 1e12, 1e5, 1e12},
        {NULL, "1e10", &sl_range_amount, 1e9, 1e12, 1e9, 1e10},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double lo = 0, hi = 0;
        sl_error err;
        cr_assert_eq(sl_query_span_decode("min", ok[i].lo_text, "max", ok[i].hi_text, ok[i].range,
                                          ok[i].dlo, ok[i].dhi, &lo, &hi, &err),
                     0, "case %zu: %s", i, err.message);
        cr_assert_eq(lo, ok[i].want_lo, "case %zu", i);
        cr_assert_eq(hi, ok[i].want_hi, "case %zu", i);
    }
}

Test(span, refusals_name_the_parameter) {
    static const struct {
        const char *lo_text, *hi_text;
        refusal want;
    } bad[] = {
        /* a bound out of range, malformed or empty */
        {"0", NULL, {"lo below 1", SL_ERR_INVALID_PARAMETER, "data_min", "in [1, 1e30]", NULL}},
        {NULL,
         "many",
         {"hi not a number", SL_ERR_INVALID_PARAMETER, "data_max", "finite number", "'many'"}},
        {"", NULL, {"lo empty", SL_ERR_INVALID_PARAMETER, "data_min", "empty", NULL}},
        /* lo must be below hi, also against a default */
        {"1e12",
         "1e9",
         {"lo above hi", SL_ERR_INVALID_PARAMETER, "data_min",
          "data_min (1e+12) must be below data_max (1e+09)", NULL}},
        {"1e9", "1e9", {"empty span", SL_ERR_INVALID_PARAMETER, "data_min", "must be below", NULL}},
        {"1e13",
         NULL,
         {"lo above the default hi", SL_ERR_INVALID_PARAMETER, "data_min", "below data_max (1e+12)",
          NULL}},
        {NULL,
         "1e8",
         {"hi below the default lo", SL_ERR_INVALID_PARAMETER, "data_min",
          "data_min (1e+09) must be below data_max (1e+08)", NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double lo, hi;
        sl_error err;
        int rc = sl_query_span_decode("data_min", bad[i].lo_text, "data_max", bad[i].hi_text,
                                      &sl_range_amount, 1e9, 1e12, &lo, &hi, &err);
        assert_refused(&bad[i].want, rc, &err);
    }
}

/* ---------------------------------------------------------- one pattern */

Test(pattern, one_n_m_or_dense) {
    double s = -1;
    char name[SL_QUERY_PATTERN_NAME_MAX];
    sl_error err;
    cr_assert_eq(sl_query_pattern_decode("2:4", &s, name, &err), 0);
    cr_assert(s == 0.5);
    cr_assert_str_eq(name, "2:4");
    cr_assert_eq(sl_query_pattern_decode("1:8", &s, name, &err), 0);
    cr_assert(s == 0.875);
    cr_assert_eq(sl_query_pattern_decode("dense", &s, name, &err), 0);
    cr_assert(s == 0);
    cr_assert_str_eq(name, "dense");
    const char *bad[] = {"", "4:2", "2:4,1:4", "Dense", "unstructured", "0:4", "2:65"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refusal want = {bad[i], SL_ERR_INVALID_PARAMETER, "pattern", NULL, NULL};
        assert_refused(&want, sl_query_pattern_decode(bad[i], &s, name, &err), &err);
    }
}

/* -------------------------------------------------- strategy, inference */

Test(strategy, scratch_pretrained_and_pretrain_compute) {
    sl_plan_strategy st;
    double pre;
    sl_error err;
    cr_assert_eq(sl_query_strategy_decode(NULL, NULL, &st, &pre, &err), 0);
    cr_assert(st == SL_PLAN_SCRATCH && isnan(pre));
    cr_assert_eq(sl_query_strategy_decode("scratch", NULL, &st, &pre, &err), 0);
    cr_assert(st == SL_PLAN_SCRATCH);
    cr_assert_eq(sl_query_strategy_decode("pretrained", NULL, &st, &pre, &err), 0);
    cr_assert(st == SL_PLAN_PRETRAINED && isnan(pre));
    cr_assert_eq(sl_query_strategy_decode("pretrained", "1e22", &st, &pre, &err), 0);
    cr_assert(pre == 1e22);
    static const struct {
        const char *strategy, *pretrain;
        refusal want;
    } bad[] = {
        {"pruned",
         NULL,
         {"unknown", SL_ERR_INVALID_PARAMETER, "strategy", "scratch or pretrained", "'pruned'"}},
        {"", NULL, {"empty", SL_ERR_INVALID_PARAMETER, "strategy", NULL, NULL}},
        {NULL,
         "1e21",
         {"no strategy", SL_ERR_INVALID_PARAMETER, "pretrain_compute",
          "only to strategy=pretrained", NULL}},
        {"scratch", "1e21", {"scratch", SL_ERR_INVALID_PARAMETER, "pretrain_compute", NULL, NULL}},
        {"pretrained",
         "-1",
         {"negative", SL_ERR_INVALID_PARAMETER, "pretrain_compute", NULL, NULL}},
        {"pretrained", "nan", {"nan", SL_ERR_INVALID_PARAMETER, "pretrain_compute", NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(&bad[i].want,
                       sl_query_strategy_decode(bad[i].strategy, bad[i].pretrain, &st, &pre, &err),
                       &err);
}

Test(inference, cost_kinds) {
    sl_inference_cost k;
    sl_error err;
    cr_assert_eq(sl_query_inference_cost_decode(NULL, &k, &err), 0);
    cr_assert_eq(k, SL_INFER_NONZEROS);
    cr_assert_eq(sl_query_inference_cost_decode("nonzeros", &k, &err), 0);
    cr_assert_eq(k, SL_INFER_NONZEROS);
    cr_assert_eq(sl_query_inference_cost_decode("total", &k, &err), 0);
    cr_assert_eq(k, SL_INFER_TOTAL);
    refusal want = {"dense", SL_ERR_INVALID_PARAMETER, "inference_cost", "nonzeros or total",
                    "'dense'"};
    assert_refused(&want, sl_query_inference_cost_decode("dense", &k, &err), &err);
}

/* --------------------------------------------------------------- hardware */

Test(hardware, profiles_peak_and_defaults) {
    sl_hardware hw;
    sl_error err;
    cr_assert_eq(sl_query_hardware_decode(NULL, NULL, NULL, NULL, NULL, &hw, &err), 0);
    cr_assert_not(hw.given);
    const char *names[] = {"a100", "h100", "h200"};
    const double peaks[] = {312e12, 989e12, 989e12};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(sl_query_hardware_decode(names[i], NULL, NULL, NULL, NULL, &hw, &err), 0);
        cr_assert(hw.given && hw.peak_flops == peaks[i] && hw.mfu == 0.4 && hw.mfu_default);
        cr_assert_str_eq(hw.profile, names[i]);
        cr_assert(isnan(hw.price_per_hour));
    }
    cr_assert_eq(
        sl_query_hardware_decode(NULL, "2e15", "0.5", "0", "2:4=1.5,unstructured=1.1", &hw, &err),
        0);
    cr_assert(hw.profile == NULL && hw.peak_flops == 2e15 && hw.mfu == 0.5 && !hw.mfu_default);
    cr_assert(hw.price_per_hour == 0);
    cr_assert(sl_hardware_speedup(&hw, "2:4") == 1.5);
    cr_assert(sl_hardware_speedup(&hw, "unstructured") == 1.1);
    cr_assert(sl_hardware_speedup(&hw, "1:4") == 1);
    cr_assert(sl_hardware_speedup(&hw, "dense") == 1);
    /* 02:04 is 2:4 */
    cr_assert_eq(sl_query_hardware_decode("h100", NULL, NULL, NULL, "02:04=2", &hw, &err), 0);
    cr_assert(sl_hardware_speedup(&hw, "2:4") == 2);
}

Test(hardware, refusals_name_the_parameter) {
    static const struct {
        const char *hw, *peak, *mfu, *price, *speedup;
        refusal want;
    } bad[] = {
        {"tpu",
         NULL,
         NULL,
         NULL,
         NULL,
         {"unknown profile", SL_ERR_INVALID_PARAMETER, "hardware", "a100, h100 or h200", "'tpu'"}},
        {"H100",
         NULL,
         NULL,
         NULL,
         NULL,
         {"upper case", SL_ERR_INVALID_PARAMETER, "hardware", NULL, NULL}},
        {"h100",
         "1e15",
         NULL,
         NULL,
         NULL,
         {"both", SL_ERR_INVALID_PARAMETER, "peak_flops", "not both", NULL}},
        {NULL,
         "0",
         NULL,
         NULL,
         NULL,
         {"zero peak", SL_ERR_INVALID_PARAMETER, "peak_flops", NULL, NULL}},
        {NULL,
         "1e21",
         NULL,
         NULL,
         NULL,
         {"peak too big", SL_ERR_INVALID_PARAMETER, "peak_flops", NULL, NULL}},
        {"h100", NULL, "0", NULL, NULL, {"mfu 0", SL_ERR_INVALID_PARAMETER, "mfu", "(0, 1]", NULL}},
        {"h100",
         NULL,
         "1.01",
         NULL,
         NULL,
         {"mfu > 1", SL_ERR_INVALID_PARAMETER, "mfu", NULL, NULL}},
        {"h100",
         NULL,
         NULL,
         "-2",
         NULL,
         {"negative price", SL_ERR_INVALID_PARAMETER, "price_per_hour", "[0, 1e9]", NULL}},
        {NULL,
         NULL,
         "0.5",
         NULL,
         NULL,
         {"mfu alone", SL_ERR_INVALID_PARAMETER, "mfu", "hardware= (a100, h100, h200)", NULL}},
        {NULL,
         NULL,
         NULL,
         "3",
         NULL,
         {"price alone", SL_ERR_INVALID_PARAMETER, "price_per_hour", NULL, NULL}},
        {NULL,
         NULL,
         NULL,
         NULL,
         "2:4=1.5",
         {"speedup alone", SL_ERR_INVALID_PARAMETER, "sparse_speedup", NULL, NULL}},
        {"h100",
         NULL,
         NULL,
         NULL,
         "1.5",
         {"no pattern", SL_ERR_INVALID_PARAMETER, "sparse_speedup", "PATTERN=FACTOR", NULL}},
        {"h100",
         NULL,
         NULL,
         NULL,
         "2:4=0",
         {"zero factor", SL_ERR_INVALID_PARAMETER, "sparse_speedup", "(0, 1000]", NULL}},
        {"h100",
         NULL,
         NULL,
         NULL,
         "4:2=1.5",
         {"bad pattern", SL_ERR_INVALID_PARAMETER, "sparse_speedup", NULL, NULL}},
        {"h100",
         NULL,
         NULL,
         NULL,
         "2:4=1.5,02:04=1.2",
         {"twice", SL_ERR_INVALID_PARAMETER, "sparse_speedup", "twice", NULL}},
        {"h100",
         NULL,
         NULL,
         NULL,
         "dense=2",
         {"dense", SL_ERR_INVALID_PARAMETER, "sparse_speedup", NULL, NULL}},
        {"h100",
         NULL,
         NULL,
         NULL,
         "2:4=1,1:4=1,1:8=1,3:4=1,1:2=1,2:8=1,3:8=1,5:8=1,7:8=1",
         {"too many", SL_ERR_INVALID_PARAMETER, "sparse_speedup", "at most 8", NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_hardware hw;
        sl_error err;
        int rc = sl_query_hardware_decode(bad[i].hw, bad[i].peak, bad[i].mfu, bad[i].price,
                                          bad[i].speedup, &hw, &err);
        assert_refused(&bad[i].want, rc, &err);
    }
}
