/*
 * Unit tests for fitting/sl_fit_diag.c and the `fixed` option of sl_fit:
 * standard errors against the spread of refits over simulated noise, the
 * curvature against finite differences, profiles against refits from many
 * starts, the profile tolerance by hand, and the verdicts of the published
 * sweeps (T5's data term is weak) and of a 12-row sweep (unidentified).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sl_fit.h"
#include "sl_fit_design.h"
#include "sl_fit_diag.h"

#ifndef SL_DATA_DIR
#error "SL_DATA_DIR must name the project's data/ folder"
#endif
#include "sl_test.h"
#include "sl_test_sweeps.h"

#define MAX_ROWS 512

static sl_fit_options loss_options(sl_fit_residuals res, double delta) {
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = res;
    o.loss.delta = delta;
    return o;
}

static void fit_ok(const sl_fit_row *rows, size_t n, const sl_fit_options *o, sl_fit_result *r) {
    char why[256] = "";
    int rc = sl_fit(rows, n, o, r, why, sizeof why);
    cr_assert_eq(rc, SL_FIT_OK, "sl_fit: %d (%s)", rc, why);
}

static void print_diag(const char *what, const sl_fit_result *r, const sl_fit_diag *d) {
    cr_log_info("%s: verdict %s, objective %.6e, tolerance %.3g (%.2f %%), S_opt %.3f [%.3f, %.3f]",
                what, sl_fit_verdict_name(d->verdict), d->objective, d->tolerance,
                100 * d->tolerance / d->objective, d->ref_s_opt, d->ref_lower, d->ref_upper);
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        cr_log_info("  %-4s %.6g se %.3g  boot [%.4g, %.4g]", sl_law_coef_names[k],
                    sl_law_coef_get(&r->law, k), d->se[k], r->lower[k], r->upper[k]);
    for (size_t i = 0; i < d->nprofiles; i++) {
        const sl_fit_profile *p = &d->profiles[i];
        cr_log_info("  profile %s: %.4g [%.4g%s, %.4g%s] S_opt [%.3f, %.3f] (%zu points)",
                    sl_law_coef_names[p->coef], p->best, p->lower, p->lower_open ? "(open)" : "",
                    p->upper, p->upper_open ? "(open)" : "", p->s_opt_lower, p->s_opt_upper,
                    p->npoints);
    }
    for (size_t i = 0; i < d->nreasons; i++)
        cr_log_info("  [%s] %s: %s", sl_fit_verdict_name(d->reasons[i].level), d->reasons[i].code,
                    d->reasons[i].message);
}

/* Fits rows as the service does, with a bootstrap of boot resamples, and
 * diagnoses the fit (dopt may be NULL); logs both. */
static void fit_and_diagnose(const char *what, const sl_fit_row *rows, size_t n,
                             sl_fit_residuals residuals, double delta, unsigned boot,
                             const sl_fit_diag_options *dopt, sl_fit_result *r, sl_fit_diag *d) {
    sl_fit_options o = loss_options(residuals, delta);
    o.bootstrap = boot;
    fit_ok(rows, n, &o, r);
    cr_assert_eq(sl_fit_diagnose(rows, n, &o, r, dopt, d), SL_FIT_OK);
    print_diag(what, r, d);
}

static int has_reason(const sl_fit_diag *d, const char *code, const char *word) {
    for (size_t i = 0; i < d->nreasons; i++)
        if (strcmp(d->reasons[i].code, code) == 0 && (!word || strstr(d->reasons[i].message, word)))
            return 1;
    return 0;
}

/* ---- synthetic sweeps from the published T5 law, log-normal noise ---- */

static size_t synth(int rich, double sigma, uint64_t seed, sl_fit_row *rows) {
    static const double s4[] = {0, 0.5, 0.75, 0.875}, s6[] = {0, 0.25, 0.5, 0.75, 0.875, 0.9375};
    static const double n6[] = {1e7, 3.2e7, 1e8, 3.2e8, 1e9, 3.2e9};
    static const double d5[] = {1e9, 5.6e9, 3.2e10, 1.8e11, 1e12};
    static const double d3[] = {1e9, 1.3e9, 1.7e9}, n2[] = {2e7, 3e7};
    sl_test_rng_seed(seed);
    size_t n = 0;
    if (rich == 1) {
        for (size_t a = 0; a < 6; a++)
            for (size_t b = 0; b < 5; b++)
                for (size_t k = 0; k < 6; k++)
                    rows[n++] = (sl_fit_row){s6[k], n6[a], d5[b], 0};
    } else { /* 12 rows: 2 sparsities x 2 sizes x 3 data amounts over 1.7x */
        for (size_t a = 0; a < 2; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t k = 0; k < 2; k++)
                    rows[n++] = (sl_fit_row){s4[k], n2[a], d3[b], 0};
    }
    for (size_t i = 0; i < n; i++)
        rows[i].loss = sl_law_loss(&SL_TEST_T5, rows[i].sparsity, rows[i].nonzeros, rows[i].data) *
                       exp(sigma * sl_test_normal());
    return n;
}

/* sl_fit.c's internal coordinates, to perturb a law in them. */
static void z_to_law(const double z[7], double kn, double kd, sl_law *l) {
    l->b_s = exp(z[1]);
    l->b_n = exp(z[3]);
    l->b_d = exp(z[5]);
    l->a_s = exp(z[0]) * pow(kn, l->b_n);
    l->c_s = exp(z[2]) * pow(kn, l->b_n);
    l->a_d = kd * exp(z[4] / l->b_d);
    l->c = z[6];
}

static void law_to_z(const sl_law *l, double kn, double kd, double z[7]) {
    z[0] = log(l->a_s) - l->b_n * log(kn);
    z[1] = log(l->b_s);
    z[2] = log(l->c_s) - l->b_n * log(kn);
    z[3] = log(l->b_n);
    z[4] = l->b_d * log(l->a_d / kd);
    z[5] = log(l->b_d);
    z[6] = l->c;
}

/* ---- the fixed option ---- */

Test(fit_diag, a_held_coefficient_stays_put_and_costs_objective) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_t5(rows, MAX_ROWS);
    cr_assert_eq(n, 48);
    sl_fit_options o = loss_options(SL_FIT_RESIDUALS_LOG, 1e-3);
    sl_fit_result free_fit, held, at_opt;
    fit_ok(rows, n, &o, &free_fit);
    o.fixed = 6; /* b_d */
    o.fixed_value = 0.3;
    o.starts = 16;
    fit_ok(rows, n, &o, &held);
    cr_assert_eq(held.law.b_d, 0.3);
    cr_assert(held.errors.objective >= free_fit.errors.objective * (1 - 1e-9));
    /* Held at its optimum, warm from the optimum: the optimum again. */
    o.fixed_value = free_fit.law.b_d;
    o.warm = &free_fit.law;
    o.nwarm = 1;
    o.starts = 1;
    fit_ok(rows, n, &o, &at_opt);
    assert_rel(at_opt.errors.objective, free_fit.errors.objective, 1e-9);
    /* c held at its bound */
    o.fixed = 7;
    o.fixed_value = 0;
    o.warm = NULL;
    o.nwarm = 0;
    o.starts = 8;
    sl_fit_result c0;
    fit_ok(rows, n, &o, &c0);
    cr_assert_eq(c0.law.c, 0);
    /* only b_s, b_n, b_d and c can be held */
    o.fixed = 1;
    o.fixed_value = 1;
    sl_fit_result bad;
    cr_assert_eq(sl_fit(rows, n, &o, &bad, NULL, 0), SL_FIT_EINVAL);
    sl_fit_result_free(&free_fit);
    sl_fit_result_free(&held);
    sl_fit_result_free(&at_opt);
    sl_fit_result_free(&c0);
}

/* ---- curvature and standard errors ---- */

Test(fit_diag, curvature_matches_finite_differences) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth(1, 0.01, 5, rows);
    sl_fit_loss loss = {SL_FIT_RESIDUALS_LOG, 0.02}; /* some residuals on each branch */
    double kn = 1e8, kd = 3e10, z[7], zp[7];
    sl_law l = SL_TEST_T5;
    l.b_d *= 1.1; /* away from any optimum: a gradient to check */
    law_to_z(&l, kn, kd, z);
    sl_fit_curv cv, a, b;
    cr_assert_eq(sl_fit_curvature(rows, n, &loss, &l, kn, kd, &cv), SL_FIT_OK);
    sl_fit_errors e;
    cr_assert_eq(sl_fit_evaluate(&l, rows, n, &loss, NULL, NULL, &e), SL_FIT_OK);
    assert_rel(cv.objective, e.objective, 1e-12);
    for (size_t k = 0; k < 7; k++) {
        double h = 1e-6;
        sl_law lp, lm;
        memcpy(zp, z, sizeof zp);
        zp[k] += h;
        z_to_law(zp, kn, kd, &lp);
        zp[k] -= 2 * h;
        z_to_law(zp, kn, kd, &lm);
        sl_fit_errors ep, em;
        sl_fit_evaluate(&lp, rows, n, &loss, NULL, NULL, &ep);
        sl_fit_evaluate(&lm, rows, n, &loss, NULL, NULL, &em);
        double g = (ep.objective - em.objective) / (2 * h);
        assert_near(cv.gradient[k], g, 1e-6 * fabs(g) + 1e-9 * cv.objective);
        cr_assert_eq(sl_fit_curvature(rows, n, &loss, &lp, kn, kd, &a), SL_FIT_OK);
        cr_assert_eq(sl_fit_curvature(rows, n, &loss, &lm, kn, kd, &b), SL_FIT_OK);
        for (size_t j = 0; j < 7; j++) {
            double fd = (a.gradient[j] - b.gradient[j]) / (2 * h);
            double scale = sqrt(fabs(cv.hessian[j * 7 + j] * cv.hessian[k * 7 + k]));
            /* Huber's kinks: a row crossing delta within h changes psi' */
            assert_near(cv.hessian[j * 7 + k], fd, 2e-3 * scale);
        }
    }
}

/* The sandwich standard errors against the spread of the estimates over
 * sweeps drawn anew: brute force. 80 draws put the sample SD within about
 * 16 % of its value (2 sigma), so a factor 0.7 to 1.4 is a test that
 * fails for errors that are wrong, not for bad luck. */
Test(fit_diag, standard_errors_match_the_spread_of_refits, .timeout = 120) {
    enum { DRAWS = 80 };
    static const size_t coefs[] = {1, 3, 5, 6};
    double est[4][DRAWS], se[4] = {0};
    sl_fit_options o = loss_options(SL_FIT_RESIDUALS_LOG, 1e-3);
    o.warm = &SL_TEST_T5;
    o.nwarm = 1;
    o.starts = 2;
    for (unsigned r = 0; r < DRAWS; r++) {
        sl_fit_row rows[MAX_ROWS];
        size_t n = synth(1, 0.01, 100 + r, rows);
        sl_fit_result fit;
        fit_ok(rows, n, &o, &fit);
        sl_fit_diag d;
        memset(&d, 0, sizeof d);
        cr_assert_eq(
            sl_fit_diag_errors(rows, n, &o.loss, &fit.law, fit.n_scale, fit.data_scale, &d),
            SL_FIT_OK);
        cr_assert(d.have_errors, "draw %u: no standard errors", r);
        for (size_t i = 0; i < 4; i++) {
            est[i][r] = sl_law_coef_get(&fit.law, coefs[i]);
            se[i] += d.se[coefs[i]] / DRAWS;
        }
        for (size_t k = 0; k < 7; k++)
            assert_near(d.corr[k * 7 + k], 1, 1e-9);
        sl_fit_result_free(&fit);
    }
    for (size_t i = 0; i < 4; i++) {
        double m = 0, v = 0;
        for (size_t r = 0; r < DRAWS; r++)
            m += est[i][r] / DRAWS;
        for (size_t r = 0; r < DRAWS; r++)
            v += (est[i][r] - m) * (est[i][r] - m) / (DRAWS - 1);
        double ratio = se[i] / sqrt(v);
        cr_log_info("%s: mean SE %.4g, SD of estimates %.4g, ratio %.3f",
                    sl_law_coef_names[coefs[i]], se[i], sqrt(v), ratio);
        cr_assert(ratio > 0.7 && ratio < 1.4, "%s: SE %.4g vs SD %.4g", sl_law_coef_names[coefs[i]],
                  se[i], sqrt(v));
    }
}

Test(fit_diag, tolerance_is_the_least_squares_rule_when_no_residual_passes_delta) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth(1, 0.01, 7, rows);
    sl_fit_options o = loss_options(SL_FIT_RESIDUALS_LOG, 10); /* every residual inside */
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    sl_fit_diag d;
    sl_fit_diag_options dopt = {0, 0, 1, NULL};
    cr_assert_eq(sl_fit_diagnose(rows, n, &o, &r, &dopt, &d), SL_FIT_OK);
    /* q chi2_1(0.95) = 3.841458820694124; mean psi^2 = 2 objective; psi' = 1 */
    assert_rel(d.tolerance, 3.841458820694124 * r.errors.objective / (double)(n - 7), 1e-9);
    sl_fit_result_free(&r);
}

/* ---- profiles and verdicts ---- */

Test(fit_diag, t5_data_term_is_weak, .timeout = 60) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_t5(rows, MAX_ROWS);
    cr_assert_eq(n, 48);
    sl_fit_result r;
    sl_fit_diag d;
    sl_fit_diag_options dopt = {1e9, 2e11, 0, "tokens"};
    fit_and_diagnose("t5", rows, n, SL_FIT_RESIDUALS_LOG, 1e-3, 100, &dopt, &r, &d);
    cr_assert_eq(d.verdict, SL_FIT_VERDICT_WEAK);
    cr_assert(has_reason(&d, "narrow_data", "a_d"));
    cr_assert(has_reason(&d, "profile_wide", "b_d"));
    cr_assert(has_reason(&d, "s_opt_depends", "along the profile of b_d"));
    cr_assert(has_reason(&d, "s_opt_depends", "a dense budget of 2e+11 tokens"));
    const sl_fit_profile *bd = &d.profiles[2];
    cr_assert_eq(bd->coef, 5);
    cr_assert(bd->lower < 0.12 && bd->upper > 0.45, "b_d range [%g, %g]", bd->lower, bd->upper);
    cr_assert(bd->s_opt_upper - bd->s_opt_lower > 0.1);
    /* Brute force: the profile point nearest 0.2, refitted from 128
     * quasi-random starts, reaches the same constrained optimum. */
    size_t near = 0;
    for (size_t i = 0; i < bd->npoints; i++)
        if (fabs(log(bd->value[i] / 0.2)) < fabs(log(bd->value[near] / 0.2))) near = i;
    cr_assert(bd->objective[near] >= d.objective * (1 - 1e-9));
    sl_fit_options b = loss_options(SL_FIT_RESIDUALS_LOG, 1e-3);
    b.fixed = 6;
    b.fixed_value = bd->value[near];
    b.starts = 128;
    b.seed = 99;
    sl_fit_result brute;
    fit_ok(rows, n, &b, &brute);
    assert_rel(bd->objective[near], brute.errors.objective, 1e-6);
    sl_fit_result_free(&brute);
    sl_fit_result_free(&r);
}

Test(fit_diag, vit_is_weak_only_for_its_data_span) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_vit(rows, MAX_ROWS);
    cr_assert_eq(n, 112);
    sl_fit_result r;
    sl_fit_diag d;
    fit_and_diagnose("vit", rows, n, SL_FIT_RESIDUALS_PLAIN, 1e-2, 100, NULL, &r, &d);
    cr_assert_eq(d.verdict, SL_FIT_VERDICT_WEAK);
    cr_assert_eq(d.nreasons, 1);
    cr_assert(has_reason(&d, "narrow_data", "4 data amounts spanning only 8x"));
    cr_assert(d.have_errors);
    for (size_t i = 0; i < d.nprofiles; i++) /* every profile closed on both sides */
        cr_assert(!d.profiles[i].lower_open && !d.profiles[i].upper_open, "%s",
                  sl_law_coef_names[d.profiles[i].coef]);
    sl_fit_result_free(&r);
}

Test(fit_diag, twelve_rows_are_unidentified) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth(0, 0.02, 3, rows);
    cr_assert_eq(n, 12);
    sl_fit_result r;
    sl_fit_diag d;
    fit_and_diagnose("12 rows", rows, n, SL_FIT_RESIDUALS_LOG, 1e-3, 50, NULL, &r, &d);
    cr_assert_eq(d.verdict, SL_FIT_VERDICT_UNIDENTIFIED);
    cr_assert(has_reason(&d, "few_data", "only 3 data amounts") ||
              has_reason(&d, "narrow_data", "3 data amounts"));
    cr_assert(has_reason(&d, "few_sparsities", NULL) && has_reason(&d, "few_nonzeros", NULL));
    sl_fit_result_free(&r);
}

Test(fit_diag, rich_design_is_good) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = synth(1, 0.01, 11, rows);
    sl_fit_result r;
    sl_fit_diag d;
    fit_and_diagnose("rich", rows, n, SL_FIT_RESIDUALS_LOG, 1e-3, 100, NULL, &r, &d);
    cr_assert_eq(d.verdict, SL_FIT_VERDICT_GOOD);
    cr_assert_eq(d.nreasons, 0);
    for (size_t i = 0; i < d.nprofiles; i++) { /* each range holds the truth here */
        const sl_fit_profile *p = &d.profiles[i];
        cr_assert(p->lower < p->best && p->best < p->upper);
    }
    sl_fit_result_free(&r);
}

Test(fit_diag, design_sentences_name_the_undetermined_terms) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_t5(rows, MAX_ROWS);
    double s[MAX_ROWS], nz[MAX_ROWS], dd[MAX_ROWS];
    for (size_t i = 0; i < n; i++) {
        s[i] = rows[i].sparsity;
        nz[i] = rows[i].nonzeros;
        dd[i] = rows[i].data;
    }
    sl_fit_design d;
    sl_fit_design_of(s, nz, dd, n, &d);
    cr_assert_eq(d.points, 48);
    cr_assert_eq(d.sparsities, 4);
    cr_assert_eq(d.nonzeros, 4);
    cr_assert_eq(d.data, 3);
    assert_rel(d.data_decades, log10(4), 1e-12);
    assert_rel(d.nonzero_decades, log10(64), 1e-9);
    sl_fit_design_issue is[SL_FIT_DESIGN_MAX_ISSUES];
    cr_assert_eq(sl_fit_design_issues(&d, is), 1);
    cr_assert_str_eq(is[0].code, "narrow_data");
    cr_assert(strstr(is[0].message, "3 data amounts spanning only 4x"), "%s", is[0].message);
    cr_assert(strstr(is[0].message, "a_d, b_d and c"));
}
