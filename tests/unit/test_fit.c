/*
 * Unit tests for fitting/sl_fit.c: the two published sweeps (reference
 * objectives of shared/notes/law-math.md §5), recovery of known laws from
 * synthetic sweeps, identifiability errors, determinism across seeds and
 * thread counts, progress and cancellation.
 *
 * The sweeps are read from SL_DATA_DIR (CMake points it at the project's
 * data/ folder); a test whose sweep is missing fails.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_fit.h"

#ifndef SL_DATA_DIR
#error "SL_DATA_DIR must name the project's data/ folder"
#endif
#include "sl_test.h"
#include "sl_test_sweeps.h"

#define MAX_ROWS 512

static sl_fit_options vit_options(void) {
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = SL_FIT_RESIDUALS_PLAIN;
    o.loss.delta = 0.01;
    return o;
}

static sl_fit_options t5_options(void) {
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = SL_FIT_RESIDUALS_LOG;
    o.loss.delta = 0.001;
    return o;
}

static void fit_ok(const sl_fit_row *rows, size_t n, const sl_fit_options *o, sl_fit_result *r) {
    char why[256] = "";
    int rc = sl_fit(rows, n, o, r, why, sizeof why);
    cr_assert_eq(rc, SL_FIT_OK, "sl_fit: %d (%s)", rc, why);
    cr_assert(sl_law_valid(&r->law));
}

static void print_law(const char *what, const sl_fit_result *r) {
    cr_log_info("%s: objective %.10e rmse %.5f max %.5f mare %.4f%% starts %u conv %u best %u",
                what, r->errors.objective, r->errors.rmse, r->errors.max_abs_error,
                100 * r->errors.mean_abs_rel_error, r->starts, r->starts_converged,
                r->starts_at_best);
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        cr_log_info("  %-4s %.10g  [%.6g, %.6g]", sl_law_coef_names[k], sl_law_coef_get(&r->law, k),
                    r->lower[k], r->upper[k]);
}

/* ---- synthetic sweeps (noise from sl_test.h's RNG) ---- */

/* The T5 design (4 sparsities x 4 sizes x 3 step counts; the sparse model
 * has the dense model's non-zeros at twice, four, eight times the size),
 * losses from law times exp(sigma N(0,1)). */
static size_t synth_t5(const sl_law *law, double sigma, uint64_t seed, sl_fit_row *rows) {
    static const double sp[4] = {0, 0.5, 0.75, 0.875};
    static const double base_scale[4] = {0.0078125, 0.03125, 0.125, 0.5};
    static const double steps[3] = {250000, 500000, 1000000};
    sl_test_rng_seed(seed);
    size_t n = 0;
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t s = 0; s < 4; s++) {
                double scale = base_scale[a] * pow(2, (double)s);
                rows[n].sparsity = sp[s];
                rows[n].nonzeros = SL_TEST_T5_BASE * scale * (1 - sp[s]);
                rows[n].data = steps[b] * SL_TEST_T5_TOKENS_PER_STEP;
                rows[n].loss = sl_law_loss(law, rows[n].sparsity, rows[n].nonzeros, rows[n].data) *
                               exp(sigma * sl_test_normal());
                n++;
            }
    return n;
}

/* A ViT-like design: 4 sparsities x 6 sizes x 5 data amounts. */
static size_t synth_vit(const sl_law *law, double sigma, uint64_t seed, sl_fit_row *rows) {
    static const double sp[4] = {0, 0.5, 0.75, 0.875};
    static const double data[5] = {1.8e8, 4.5e8, 9e8, 1.8e9, 3.6e9};
    sl_test_rng_seed(seed);
    size_t n = 0;
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t s = 0; s < 4; s++) {
                double scale = pow(2, (double)a - 6);
                rows[n].sparsity = sp[s];
                rows[n].nonzeros = SL_TEST_VIT_BASE * scale * (1 - sp[s]);
                rows[n].data = data[b];
                rows[n].loss = sl_law_loss(law, rows[n].sparsity, rows[n].nonzeros, rows[n].data) +
                               sigma * sl_test_normal();
                n++;
            }
    return n;
}

/* ---- the published sweeps ---- */

Test(fit_sweeps, vit_reaches_reference_objective) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_vit(rows, MAX_ROWS);
    cr_assert(n, "%s not found or empty", sl_test_data_path("vit-jft-sweep.json"));
    cr_assert_eq(n, 112);
    sl_fit_options o = vit_options();
    o.seed = 1;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("vit", &r);
    /* law-math §5: best known 4.9290879e-4 (scipy 4.92908794e-4). */
    cr_assert(r.errors.objective <= 4.92909e-4, "objective %.10e", r.errors.objective);
    assert_near(r.errors.rmse, 0.080, 0.002);
    assert_near(r.errors.mean_abs_rel_error, 0.0075, 0.0002);
    cr_assert(r.starts_at_best >= r.starts / 2, "only %u of %u starts at the optimum",
              r.starts_at_best, r.starts);
    /* The published fit is this optimum, rounded by the authors' optimiser. */
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        assert_rel(sl_law_coef_get(&r.law, k), sl_law_coef_get(&SL_TEST_VIT, k), 2e-3);
    /* Residuals are per row, f - y, and consistent with the errors. */
    cr_assert_eq(r.rows, n);
    double sq = 0;
    for (size_t i = 0; i < n; i++) {
        double f = sl_law_loss(&r.law, rows[i].sparsity, rows[i].nonzeros, rows[i].data);
        assert_near(r.residuals[i], f - rows[i].loss, 1e-12);
        sq += r.residuals[i] * r.residuals[i];
    }
    assert_rel(r.errors.rmse, sqrt(sq / (double)n), 1e-12);
    sl_fit_result_free(&r);
}

Test(fit_sweeps, t5_same_optimum_from_several_seeds) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_t5(rows, MAX_ROWS);
    cr_assert(n, "%s not found or empty", sl_test_data_path("t5-c4-sweep.csv"));
    cr_assert_eq(n, 48);
    sl_fit_options o = t5_options();
    sl_fit_result first;
    o.seed = 0;
    fit_ok(rows, n, &o, &first);
    print_law("t5", &first);
    /* Best found by 4,000 starts; lower than the published coefficients'
     * 7.6036e-6 (the authors' 25-start search stopped in a worse basin). */
    cr_assert(first.errors.objective <= 4.8801166e-6, "objective %.10e", first.errors.objective);
    sl_fit_errors pub;
    cr_assert_eq(sl_fit_evaluate(&SL_TEST_T5, rows, n, &o.loss, NULL, NULL, &pub), SL_FIT_OK);
    cr_assert(first.errors.objective < pub.objective);
    static const uint64_t seeds[] = {1, 2, 3, 0x5eed, 0xdeadbeefcafeULL};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        sl_fit_result r;
        o.seed = seeds[s];
        fit_ok(rows, n, &o, &r);
        assert_rel(r.errors.objective, first.errors.objective, 1e-9);
        for (size_t k = 0; k < SL_LAW_NCOEF; k++)
            assert_rel(sl_law_coef_get(&r.law, k), sl_law_coef_get(&first.law, k), 1e-5);
        cr_assert(r.starts_at_best >= r.starts / 2, "seed %llu: %u of %u starts at best",
                  (unsigned long long)seeds[s], r.starts_at_best, r.starts);
        sl_fit_result_free(&r);
    }
    sl_fit_result_free(&first);
}

Test(fit_sweeps, t5_bootstrap_intervals) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_t5(rows, MAX_ROWS);
    cr_assert(n, "%s not found or empty", sl_test_data_path("t5-c4-sweep.csv"));
    sl_fit_options o = t5_options();
    o.seed = 7;
    o.bootstrap = 100;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("t5 bootstrap", &r);
    cr_assert_eq(r.n_draws + r.bootstrap_failed, 100);
    cr_assert(r.n_draws >= 95);
    assert_near(r.level, 0.95, 0);
    for (size_t k = 0; k < SL_LAW_NCOEF; k++) {
        double v = sl_law_coef_get(&r.law, k);
        cr_assert(r.lower[k] <= r.upper[k]);
        cr_assert(r.lower[k] <= v && v <= r.upper[k], "%s = %g outside [%g, %g]",
                  sl_law_coef_names[k], v, r.lower[k], r.upper[k]);
    }
    for (size_t b = 0; b < r.n_draws; b++)
        cr_assert(sl_law_valid(&r.draws[b]));
    /* The intervals are the percentiles of the draws. */
    double col[100], lo, hi;
    for (size_t b = 0; b < r.n_draws; b++)
        col[b] = r.draws[b].b_n;
    cr_assert_eq(sl_fit_percentile_interval(col, r.n_draws, 0.95, &lo, &hi), SL_FIT_OK);
    assert_near(lo, r.lower[3], 0);
    assert_near(hi, r.upper[3], 0);
    sl_fit_result_free(&r);
}

/* ---- synthetic sweeps: known coefficients are recovered ---- */

static void check_recovered(const sl_law *truth, const sl_fit_result *r) {
    for (size_t k = 0; k < SL_LAW_NCOEF; k++) {
        double v = sl_law_coef_get(truth, k);
        cr_assert(r->lower[k] <= v && v <= r->upper[k], "true %s = %g outside [%g, %g]",
                  sl_law_coef_names[k], v, r->lower[k], r->upper[k]);
    }
}

Test(fit_synthetic, exact_t5_law_is_recovered) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0, 1, rows);
    sl_fit_options o = t5_options();
    o.seed = 3;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("exact t5", &r);
    cr_assert(r.errors.objective < 1e-20, "objective %g", r.errors.objective);
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        assert_rel(sl_law_coef_get(&r.law, k), sl_law_coef_get(&SL_TEST_T5, k), 1e-5);
    sl_fit_result_free(&r);
}

Test(fit_synthetic, exact_vit_law_is_recovered_with_plain_residuals) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_vit(&SL_TEST_VIT, 0, 1, rows);
    sl_fit_options o = vit_options();
    o.seed = 4;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("exact vit", &r);
    cr_assert(r.errors.objective < 1e-20, "objective %g", r.errors.objective);
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        assert_rel(sl_law_coef_get(&r.law, k), sl_law_coef_get(&SL_TEST_VIT, k), 1e-5);
    sl_fit_result_free(&r);
}

Test(fit_synthetic, noisy_t5_law_within_bootstrap_intervals) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0.002, 11, rows);
    sl_fit_options o = t5_options();
    o.seed = 5;
    o.bootstrap = 200;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("noisy t5", &r);
    check_recovered(&SL_TEST_T5, &r);
    sl_fit_result_free(&r);
}

Test(fit_synthetic, noisy_vit_law_within_bootstrap_intervals) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_vit(&SL_TEST_VIT, 0.01, 12, rows);
    sl_fit_options o = vit_options();
    o.seed = 6;
    o.bootstrap = 200;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("noisy vit", &r);
    check_recovered(&SL_TEST_VIT, &r);
    sl_fit_result_free(&r);
}

/* c = 0 lies on the boundary of the parameter space: the fit must reach it
 * (c >= 0, tiny) rather than stall with a law that is worse elsewhere. */
Test(fit_synthetic, zero_offset_is_reached) {
    sl_law law = SL_TEST_T5;
    law.c = 0;
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&law, 0, 1, rows);
    sl_fit_options o = t5_options();
    o.seed = 8;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    print_law("c = 0", &r);
    cr_assert(r.law.c >= 0 && r.law.c < 1e-6, "c = %g", r.law.c);
    cr_assert(r.errors.objective < 1e-18, "objective %g", r.errors.objective);
    assert_rel(r.law.b_d, law.b_d, 1e-4);
    sl_fit_result_free(&r);
}

/* ---- determinism ---- */

static int same_result(const sl_fit_result *a, const sl_fit_result *b) {
    return memcmp(&a->law, &b->law, sizeof a->law) == 0 &&
           memcmp(&a->errors, &b->errors, sizeof a->errors) == 0 && a->n_draws == b->n_draws &&
           (a->n_draws == 0 || memcmp(a->draws, b->draws, a->n_draws * sizeof *a->draws) == 0) &&
           memcmp(a->lower, b->lower, sizeof a->lower) == 0 &&
           memcmp(a->upper, b->upper, sizeof a->upper) == 0 &&
           memcmp(a->residuals, b->residuals, a->rows * sizeof *a->residuals) == 0 &&
           a->starts_converged == b->starts_converged && a->starts_at_best == b->starts_at_best;
}

Test(fit_determinism, bit_identical_across_runs_and_thread_counts) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0.003, 21, rows);
    sl_fit_options o = t5_options();
    o.seed = 42;
    o.starts = 24;
    o.bootstrap = 24;
    o.bootstrap_starts = 2;
    sl_fit_result ref;
    o.threads = 1;
    fit_ok(rows, n, &o, &ref);
    static const unsigned threads[] = {1, 2, 3, 8};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        sl_fit_result r;
        o.threads = threads[t];
        fit_ok(rows, n, &o, &r);
        cr_assert(same_result(&ref, &r), "threads = %u differs", threads[t]);
        sl_fit_result_free(&r);
    }
    /* A different seed gives different starts and resamples. */
    sl_fit_result other;
    o.seed = 43;
    fit_ok(rows, n, &o, &other);
    cr_assert(memcmp(ref.draws, other.draws, ref.n_draws * sizeof *ref.draws) != 0);
    sl_fit_result_free(&other);
    sl_fit_result_free(&ref);
}

/* ---- identifiability and argument checks ---- */

static void expect_error(const sl_fit_row *rows, size_t n, int want, const char *needle) {
    char why[256] = "";
    int rc = sl_fit_check(rows, n, why, sizeof why);
    cr_assert_eq(rc, want, "sl_fit_check: %d (%s), want %d", rc, why, want);
    cr_assert(strstr(why, needle), "reason \"%s\" lacks \"%s\"", why, needle);
    /* sl_fit reports the same, and leaves the result empty. */
    sl_fit_options o = t5_options();
    o.starts = 2;
    sl_fit_result r;
    char why2[256] = "";
    cr_assert_eq(sl_fit(rows, n, &o, &r, why2, sizeof why2), want);
    cr_assert_str_eq(why, why2);
    cr_assert_null(r.residuals);
    cr_assert_null(r.draws);
    sl_fit_result_free(&r);
}

Test(fit_checks, identifiability) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0, 1, rows);
    char why[256];
    cr_assert_eq(sl_fit_check(rows, n, why, sizeof why), SL_FIT_OK);

    expect_error(rows, 7, SL_FIT_EUNIDENTIFIABLE, "at least 8 rows");
    expect_error(rows, 0, SL_FIT_EUNIDENTIFIABLE, "got 0");

    sl_fit_row same[MAX_ROWS];
    memcpy(same, rows, n * sizeof *rows);
    for (size_t i = 0; i < n; i++)
        same[i].sparsity = 0.5;
    expect_error(same, n, SL_FIT_EUNIDENTIFIABLE, "sparsities");

    memcpy(same, rows, n * sizeof *rows);
    for (size_t i = 0; i < n; i++)
        same[i].nonzeros = 1e8;
    expect_error(same, n, SL_FIT_EUNIDENTIFIABLE, "nonzeros");

    memcpy(same, rows, n * sizeof *rows);
    for (size_t i = 0; i < n; i++)
        same[i].data = 1e10;
    expect_error(same, n, SL_FIT_EUNIDENTIFIABLE, "data amounts");

    /* NULL reason buffers are fine. */
    cr_assert_eq(sl_fit_check(rows, 3, NULL, 0), SL_FIT_EUNIDENTIFIABLE);
}

Test(fit_checks, invalid_rows_are_named) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0, 1, rows);
    sl_fit_row bad[MAX_ROWS];

    memcpy(bad, rows, n * sizeof *rows);
    bad[5].sparsity = 1;
    expect_error(bad, n, SL_FIT_EINVAL, "row 5: sparsity");

    memcpy(bad, rows, n * sizeof *rows);
    bad[6].nonzeros = -1;
    expect_error(bad, n, SL_FIT_EINVAL, "row 6: nonzeros");

    memcpy(bad, rows, n * sizeof *rows);
    bad[7].data = (double)NAN;
    expect_error(bad, n, SL_FIT_EINVAL, "row 7: data");

    memcpy(bad, rows, n * sizeof *rows);
    bad[8].loss = 0;
    expect_error(bad, n, SL_FIT_EINVAL, "row 8: loss");

    memcpy(bad, rows, n * sizeof *rows);
    bad[2].loss = (double)INFINITY;
    expect_error(bad, n, SL_FIT_EINVAL, "row 2: loss");
}

Test(fit_checks, invalid_options) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0, 1, rows);
    sl_fit_result r;
    char why[256];
    sl_fit_options o = t5_options();
    o.loss.delta = 0;
    cr_assert_eq(sl_fit(rows, n, &o, &r, why, sizeof why), SL_FIT_EINVAL);
    cr_assert(strstr(why, "delta"), "%s", why);
    o = t5_options();
    o.loss.residuals = (sl_fit_residuals)7;
    cr_assert_eq(sl_fit(rows, n, &o, &r, why, sizeof why), SL_FIT_EINVAL);
    o = t5_options();
    o.level = 1;
    cr_assert_eq(sl_fit(rows, n, &o, &r, why, sizeof why), SL_FIT_EINVAL);
    cr_assert(strstr(why, "level"), "%s", why);
    o = t5_options();
    o.starts = SL_FIT_MAX_STARTS + 1;
    cr_assert_eq(sl_fit(rows, n, &o, &r, why, sizeof why), SL_FIT_EINVAL);
    cr_assert_eq(sl_fit(rows, n, NULL, &r, why, sizeof why), SL_FIT_EINVAL);
    cr_assert_eq(sl_fit(rows, n, &o, NULL, why, sizeof why), SL_FIT_EINVAL);
    sl_fit_result_free(NULL);
}

/* ---- evaluation on held-out rows ---- */

Test(fit_evaluate, errors_by_hand) {
    const sl_law law = SL_TEST_T5;
    sl_fit_row rows[3] = {{0, 1e8, 1e9, 2.2}, {0.5, 1e8, 1e10, 1.9}, {0.875, 1e9, 1e11, 1.3}};
    /* law-math §6 test vectors */
    const double f[3] = {2.2543229175, 1.8361144547, 1.3187432851};
    double pred[3], res[3];
    sl_fit_errors e;
    sl_fit_loss plain = {SL_FIT_RESIDUALS_PLAIN, 0.05};
    cr_assert_eq(sl_fit_evaluate(&law, rows, 3, &plain, pred, res, &e), SL_FIT_OK);
    double sq = 0, mx = 0, rel = 0, obj = 0;
    for (size_t i = 0; i < 3; i++) {
        assert_near(pred[i], f[i], 1e-9);
        double r = f[i] - rows[i].loss;
        assert_near(res[i], r, 1e-9);
        sq += r * r;
        mx = fmax(mx, fabs(r));
        rel += fabs(r) / rows[i].loss;
        obj += fabs(r) <= 0.05 ? r * r / 2 : 0.05 * (fabs(r) - 0.025);
    }
    cr_assert_eq(e.rows, 3);
    assert_near(e.rmse, sqrt(sq / 3), 1e-9);
    assert_near(e.max_abs_error, mx, 1e-9);
    assert_near(e.mean_abs_rel_error, rel / 3, 1e-9);
    assert_near(e.objective, obj / 3, 1e-10);

    sl_fit_loss logl = {SL_FIT_RESIDUALS_LOG, 0.001};
    cr_assert_eq(sl_fit_evaluate(&law, rows, 3, &logl, NULL, NULL, &e), SL_FIT_OK);
    obj = 0;
    for (size_t i = 0; i < 3; i++) {
        double r = log(f[i]) - log(rows[i].loss);
        obj += fabs(r) <= 0.001 ? r * r / 2 : 0.001 * (fabs(r) - 0.0005);
    }
    assert_near(e.objective, obj / 3, 1e-10);

    cr_assert_eq(sl_fit_evaluate(&law, rows, 3, NULL, NULL, NULL, &e), SL_FIT_OK);
    cr_assert(isnan(e.objective));

    sl_law bad = law;
    bad.b_n = -1;
    cr_assert_eq(sl_fit_evaluate(&bad, rows, 3, &plain, NULL, NULL, &e), SL_FIT_EINVAL);
    rows[1].sparsity = -0.1;
    cr_assert_eq(sl_fit_evaluate(&law, rows, 3, &plain, NULL, NULL, &e), SL_FIT_EINVAL);
}

Test(fit_evaluate, percentile_interval_matches_numpy) {
    double v[100];
    for (size_t i = 0; i < 100; i++)
        v[99 - i] = (double)(i + 1); /* unsorted input, left as it is */
    double lo, hi;
    cr_assert_eq(sl_fit_percentile_interval(v, 100, 0.95, &lo, &hi), SL_FIT_OK);
    /* numpy.percentile(range(1, 101), [2.5, 97.5]) */
    assert_near(lo, 3.475, 1e-12);
    assert_near(hi, 97.525, 1e-12);
    assert_near(v[0], 100, 0);
    cr_assert_eq(sl_fit_percentile_interval(v, 100, 0.5, &lo, &hi), SL_FIT_OK);
    assert_near(lo, 25.75, 1e-12);
    assert_near(hi, 75.25, 1e-12);
    cr_assert_eq(sl_fit_percentile_interval(v, 0, 0.95, &lo, &hi), SL_FIT_EINVAL);
    cr_assert_eq(sl_fit_percentile_interval(v, 100, 1, &lo, &hi), SL_FIT_EINVAL);
}

/* ---- progress and cancellation ---- */

typedef struct progress_log {
    int calls;
    double last;
    int monotone;
    int cancel_after; /* 0: never */
} progress_log;

static int on_progress(double fraction, void *ctx) {
    progress_log *p = ctx;
    p->calls++;
    if (fraction < p->last || fraction < 0 || fraction > 1) p->monotone = 0;
    p->last = fraction;
    return p->cancel_after && p->calls >= p->cancel_after;
}

Test(fit_progress, reports_up_to_one) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0.002, 2, rows);
    sl_fit_options o = t5_options();
    o.starts = 16;
    o.bootstrap = 10;
    o.bootstrap_starts = 2;
    progress_log log = {0, 0, 1, 0};
    o.progress = on_progress;
    o.progress_ctx = &log;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    cr_assert_eq(log.calls, 16 + 10);
    cr_assert(log.monotone);
    assert_near(log.last, 1, 1e-12);
    sl_fit_result_free(&r);
}

Test(fit_progress, callback_cancels) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0.002, 2, rows);
    sl_fit_options o = t5_options();
    o.starts = 64;
    o.bootstrap = 100;
    progress_log log = {0, 0, 1, 3};
    o.progress = on_progress;
    o.progress_ctx = &log;
    sl_fit_result r;
    char why[64];
    cr_assert_eq(sl_fit(rows, n, &o, &r, why, sizeof why), SL_FIT_ECANCELLED);
    cr_assert_str_eq(why, "cancelled");
    cr_assert_eq(log.calls, 3, "callback called %d times after cancelling", log.calls);
    cr_assert_null(r.draws);
    cr_assert_null(r.residuals);
}

Test(fit_progress, flag_cancels) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth_t5(&SL_TEST_T5, 0.002, 2, rows);
    sl_fit_options o = t5_options();
    atomic_int cancel = 1;
    o.cancel = &cancel;
    sl_fit_result r;
    cr_assert_eq(sl_fit(rows, n, &o, &r, NULL, 0), SL_FIT_ECANCELLED);
    atomic_store(&cancel, 0);
    o.starts = 4;
    fit_ok(rows, n, &o, &r);
    sl_fit_result_free(&r);
}
