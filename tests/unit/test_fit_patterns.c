/*
 * Unit tests for the pattern factors of fitting/sl_fit.c: one factor eta per
 * n:m pattern on the sparse term, (a_s eta (1 - S)^b_s + c_s) N^-b_n + ...,
 * recovered from exact and noisy synthetic sweeps; eta = 1 data gives the
 * unstructured law; the checks refuse what cannot identify the factors.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "sl_fit.h"
#include "sl_test.h"

#define MAX_ROWS 256

/* Unstructured rows at S in {0, 0.5, 0.75, 0.875}, and n:m rows at 2:4
 * (S = 0.5, factor eta[0]) and 1:4 (S = 0.75, factor eta[1]), on 5 sizes x
 * 4 data amounts, losses from the law with the factors times exp(sigma z). */
static size_t synth(const double eta[2], double sigma, uint64_t seed, sl_fit_row *rows,
                    unsigned *pattern) {
    static const double sp[4] = {0, 0.5, 0.75, 0.875};
    static const double nz[5] = {1e7, 3e7, 1e8, 3e8, 1e9};
    static const double dd[4] = {1e9, 1e10, 1e11, 1e12};
    sl_test_rng_seed(seed);
    size_t n = 0;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 4; b++)
            for (unsigned k = 0; k < 6; k++) {
                unsigned pat = k < 4 ? 0 : k - 3; /* 4 unstructured, then 2:4, 1:4 */
                double s = k < 4 ? sp[k] : k == 4 ? 0.5 : 0.75;
                sl_law l = SL_TEST_T5;
                if (pat) l.a_s *= eta[pat - 1];
                rows[n] = (sl_fit_row){s, nz[a], dd[b], 0};
                rows[n].loss = sl_law_loss(&l, s, nz[a], dd[b]) * exp(sigma * sl_test_normal());
                pattern[n++] = pat;
            }
    return n;
}

static sl_fit_options options(const unsigned *pattern) {
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = SL_FIT_RESIDUALS_LOG;
    o.loss.delta = 0.01;
    o.starts = 32;
    o.threads = 2;
    o.pattern = pattern;
    o.npatterns = 2;
    return o;
}

/* A synthetic sweep with factors eta (synth) and the options that fit them. */
typedef struct sweep {
    double eta[2];
    sl_fit_row rows[MAX_ROWS];
    unsigned pattern[MAX_ROWS];
    size_t n;
    sl_fit_options o;
} sweep;

static void make_sweep(sweep *w, double eta0, double eta1, double sigma, uint64_t seed) {
    w->eta[0] = eta0, w->eta[1] = eta1;
    w->n = synth(w->eta, sigma, seed, w->rows, w->pattern);
    w->o = options(w->pattern);
}

/* sl_fit of the sweep with its options, which must succeed. */
static void fit_sweep(const sweep *w, sl_fit_result *r) {
    char reason[256] = "";
    cr_assert_eq(sl_fit(w->rows, w->n, &w->o, r, reason, sizeof reason), SL_FIT_OK, "%s", reason);
}

Test(fit_patterns, exact_factors_are_recovered) {
    sweep w;
    make_sweep(&w, 0.8, 1.3, 0, 1);
    sl_fit_result r;
    fit_sweep(&w, &r);
    cr_assert_eq(r.npatterns, 2);
    cr_assert(r.errors.objective < 1e-18, "objective %g", r.errors.objective);
    assert_rel(r.eta[0], 0.8, 1e-6);
    assert_rel(r.eta[1], 1.3, 1e-6);
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        assert_rel(sl_law_coef_get(&r.law, k), sl_law_coef_get(&SL_TEST_T5, k), 1e-5);
    cr_assert(isnan(r.eta_lower[0]) && r.draw_eta == NULL);
    /* the fitted residuals are those of the law with the factors */
    for (size_t i = 0; i < w.n; i++)
        assert_near(r.residuals[i], 0, 1e-9);
    sl_fit_result_free(&r);
}

Test(fit_patterns, noisy_factors_within_their_intervals) {
    sweep w;
    make_sweep(&w, 0.9, 1.15, 0.005, 7);
    const double *eta = w.eta;
    w.o.bootstrap = 60;
    sl_fit_result r;
    fit_sweep(&w, &r);
    cr_assert_eq(r.n_draws, 60);
    cr_assert_not_null(r.draw_eta);
    for (unsigned k = 0; k < 2; k++) {
        cr_assert(r.eta_lower[k] < r.eta[k] && r.eta[k] < r.eta_upper[k], "eta %u", k);
        cr_assert(r.eta_lower[k] <= eta[k] && eta[k] <= r.eta_upper[k],
                  "eta %u = %g outside [%g, %g]", k, eta[k], r.eta_lower[k], r.eta_upper[k]);
        cr_assert(r.eta_upper[k] - r.eta_lower[k] < 0.2, "eta %u interval too wide", k);
        /* the interval is the percentile interval of the draws' factors */
        double col[60], lo, hi;
        for (size_t b = 0; b < 60; b++)
            col[b] = r.draw_eta[b * 2 + k];
        sl_fit_percentile_interval(col, 60, r.level, &lo, &hi);
        cr_assert_eq(lo, r.eta_lower[k]);
        cr_assert_eq(hi, r.eta_upper[k]);
    }
    sl_fit_result_free(&r);
}

Test(fit_patterns, unit_factors_give_the_unstructured_law) {
    sweep w;
    make_sweep(&w, 1, 1, 0.005, 3);
    sl_fit_options plain = options(NULL);
    plain.npatterns = 0;
    sl_fit_result r, u;
    fit_sweep(&w, &r);
    cr_assert_eq(sl_fit(w.rows, w.n, &plain, &u, NULL, 0), SL_FIT_OK);
    cr_assert_eq(u.npatterns, 0);
    /* two more free parameters: never worse, and the factors stay near 1 */
    cr_assert(r.errors.objective <= u.errors.objective * (1 + 1e-9));
    assert_near(r.eta[0], 1, 0.02);
    assert_near(r.eta[1], 1, 0.02);
    sl_fit_result_free(&r);
    sl_fit_result_free(&u);
}

Test(fit_patterns, deterministic_across_thread_counts) {
    sweep w;
    make_sweep(&w, 0.9, 1.15, 0.005, 5);
    w.o.bootstrap = 8;
    sl_fit_result a, b;
    w.o.threads = 1;
    fit_sweep(&w, &a);
    w.o.threads = 3;
    fit_sweep(&w, &b);
    cr_assert_eq(memcmp(a.eta, b.eta, sizeof a.eta), 0);
    cr_assert_eq(memcmp(a.draw_eta, b.draw_eta, 8 * 2 * sizeof *a.draw_eta), 0);
    cr_assert_eq(memcmp(&a.law, &b.law, sizeof a.law), 0);
    sl_fit_result_free(&a);
    sl_fit_result_free(&b);
}

Test(fit_patterns, checks) {
    sl_fit_row rows[MAX_ROWS];
    unsigned pattern[MAX_ROWS];
    const double eta[2] = {1, 1};
    size_t n = synth(eta, 0, 1, rows, pattern);
    char reason[256];
    cr_assert_eq(sl_fit_check_patterns(rows, n, pattern, 2, reason, sizeof reason), SL_FIT_OK);
    cr_assert_eq(sl_fit_check_patterns(rows, n, pattern, 3, reason, sizeof reason),
                 SL_FIT_EUNIDENTIFIABLE);
    cr_assert(strstr(reason, "pattern factor 3 has no row"), "%s", reason);
    cr_assert_eq(sl_fit_check_patterns(rows, n, pattern, 1, reason, sizeof reason), SL_FIT_EINVAL);
    cr_assert_eq(sl_fit_check_patterns(rows, n, pattern, 0, reason, sizeof reason), SL_FIT_EINVAL);
    cr_assert_eq(
        sl_fit_check_patterns(rows, n, pattern, SL_FIT_MAX_PATTERNS + 1, reason, sizeof reason),
        SL_FIT_EINVAL);
    /* unstructured rows at one sparsity cannot fix b_s */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (pattern[i] || rows[i].sparsity == 0) {
            rows[m] = rows[i];
            pattern[m++] = pattern[i];
        }
    cr_assert_eq(sl_fit_check_patterns(rows, m, pattern, 2, reason, sizeof reason),
                 SL_FIT_EUNIDENTIFIABLE);
    cr_assert(strstr(reason, "unstructured rows"), "%s", reason);
    sl_fit_options o = options(pattern);
    sl_fit_result r;
    cr_assert_eq(sl_fit(rows, m, &o, &r, reason, sizeof reason), SL_FIT_EUNIDENTIFIABLE);
    /* 10 rows: too few for 7 coefficients and 2 factors plus one */
    cr_assert_eq(sl_fit_check_patterns(rows, 9, pattern, 2, reason, sizeof reason),
                 SL_FIT_EUNIDENTIFIABLE);
}
