/*
 * sl_fit_diag.c - the diagnostics of a fit and its verdict (sl_fit_diag.h):
 * sandwich standard errors from the objective's curvature, profiles by
 * refitting with one coefficient held (sl_fit's `fixed` option), and the
 * reasons, each a sentence naming what the data leave undetermined.
 */
#include "sl_fit_diag.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#define NP SL_LAW_NCOEF
#define IC 6

static const char *const verdict_names[] = {"good", "weak", "unidentified"};

const char *sl_fit_verdict_name(sl_fit_verdict v) {
    return v <= SL_FIT_VERDICT_UNIDENTIFIED ? verdict_names[v] : "unknown";
}

/* ---- standard errors ---- */

/* Eigenvalues (ascending) and, with evec, eigenvectors (columns) of the
 * symmetric m x m matrix a. 0, or -1 when GSL cannot allocate. */
static int sym_eigen(const double *a, size_t m, double *eval, double *evec) {
    double tmp[NP * NP];
    memcpy(tmp, a, m * m * sizeof *tmp);
    gsl_matrix_view A = gsl_matrix_view_array(tmp, m, m);
    gsl_vector_view E = gsl_vector_view_array(eval, m);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(m);
    double vbuf[NP * NP];
    gsl_matrix_view V = gsl_matrix_view_array(evec ? evec : vbuf, m, m);
    if (!w) return -1;
    gsl_eigen_symmv(&A.matrix, &E.vector, &V.matrix, w);
    gsl_eigen_symmv_free(w);
    gsl_eigen_symmv_sort(&E.vector, &V.matrix, GSL_EIGEN_SORT_VAL_ASC);
    return 0;
}

static double condition(const double *eval, size_t m) {
    return eval[0] > 0 ? eval[m - 1] / eval[0] : (double)INFINITY;
}

int sl_fit_diag_errors(const sl_fit_row *rows, size_t n, const sl_fit_loss *loss, const sl_law *law,
                       double n_scale, double data_scale, sl_fit_diag *out) {
    sl_fit_curv cv;
    int rc = sl_fit_curvature(rows, n, loss, law, n_scale, data_scale, &cv);
    out->have_errors = 0;
    out->correlation_condition = out->hessian_condition = (double)NAN;
    for (size_t k = 0; k < NP * NP; k++)
        out->corr[k] = (double)NAN;
    for (size_t k = 0; k < NP; k++)
        out->se[k] = (double)NAN;
    if (rc != SL_FIT_OK) return rc;
    /* c on its bound is held there: the rest are estimated given c = 0. */
    size_t idx[NP], m = 0;
    for (size_t k = 0; k < NP; k++)
        if (!(k == IC && out->at_bound[IC])) idx[m++] = k;
    double H[NP * NP], B[NP * NP], eval[NP], evec[NP * NP];
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++) {
            H[a * m + b] = cv.hessian[idx[a] * NP + idx[b]];
            B[a * m + b] = cv.scores[idx[a] * NP + idx[b]];
        }
    if (sym_eigen(H, m, eval, evec) != 0) return SL_FIT_ENOMEM;
    out->hessian_condition = condition(eval, m);
    if (!(eval[0] > 1e-15 * eval[m - 1]) || n <= NP) return SL_FIT_OK; /* flat or saddle */
    /* Hinv B Hinv / (n - p), in z. */
    double Hi[NP * NP], T[NP * NP], Cz[NP * NP] = {0};
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++) {
            double v = 0;
            for (size_t k = 0; k < m; k++)
                v += evec[a * m + k] * evec[b * m + k] / eval[k];
            Hi[a * m + b] = v;
        }
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++) {
            double v = 0;
            for (size_t k = 0; k < m; k++)
                v += Hi[a * m + k] * B[k * m + b];
            T[a * m + b] = v;
        }
    double dof = (double)(n - NP);
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++) {
            double v = 0;
            for (size_t k = 0; k < m; k++)
                v += T[a * m + k] * Hi[k * m + b];
            Cz[idx[a] * NP + idx[b]] = v / dof;
        }
    /* To w = (log a_s, log b_s, log c_s, log b_n, log a_d, log b_d, c):
     * log a_s = z0 + b_n log kN, log c_s = z2 + b_n log kN,
     * log a_d = log kD + z4 / b_d (sl_fit.c). */
    double J[NP * NP] = {0}, Cw[NP * NP];
    for (size_t k = 0; k < NP; k++)
        J[k * NP + k] = 1;
    J[0 * NP + 3] = J[2 * NP + 3] = law->b_n * log(n_scale);
    J[4 * NP + 4] = 1 / law->b_d;
    J[4 * NP + 5] = -log(law->a_d / data_scale);
    for (size_t a = 0; a < NP; a++)
        for (size_t b = 0; b < NP; b++) {
            double v = 0;
            for (size_t k = 0; k < NP; k++)
                for (size_t l = 0; l < NP; l++)
                    v += J[a * NP + k] * Cz[k * NP + l] * J[b * NP + l];
            Cw[a * NP + b] = v;
        }
    for (size_t a = 0; a < m; a++) {
        size_t k = idx[a];
        double sd = sqrt(Cw[k * NP + k]);
        out->se[k] = k == IC ? sd : sl_law_coef_get(law, k) * sd;
        for (size_t b = 0; b < m; b++) {
            size_t l = idx[b];
            out->corr[k * NP + l] = Cw[k * NP + l] / sqrt(Cw[k * NP + k] * Cw[l * NP + l]);
        }
    }
    double R[NP * NP];
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++)
            R[a * m + b] = out->corr[idx[a] * NP + idx[b]];
    if (sym_eigen(R, m, eval, NULL) != 0) return SL_FIT_ENOMEM;
    out->correlation_condition = condition(eval, m);
    out->have_errors = 1;
    return SL_FIT_OK;
}

/* ---- profiles ---- */

typedef struct profile_ctx {
    const sl_fit_row *rows;
    size_t n;
    const sl_fit_options *opt;
    const sl_law *best;
    double threshold; /* objective + tolerance */
    double ref_n, ref_d;
} profile_ctx;

static double s_opt_of(const sl_law *law, double n, double d) {
    sl_cost cost = {SL_COST_DENSE, 0, 0};
    sl_law_optimum o;
    if (sl_law_optimal_sparsity(law, &cost, n, d, SL_LAW_DEFAULT_MAX_SPARSITY, &o) != SL_LAW_OK)
        return (double)NAN;
    return o.sparsity;
}

/* The best refit with coefficient k held at v, warm-started from prev and
 * the optimum. NaN objective when it failed; ECANCELLED is passed on. */
static int profile_point(const profile_ctx *c, size_t k, double v, sl_law *prev, double *obj,
                         double *s_opt) {
    sl_law warm[2] = {*c->best, *prev};
    sl_fit_options o = *c->opt;
    o.bootstrap = 0;
    o.progress = NULL;
    o.fixed = (unsigned)k + 1;
    o.fixed_value = v;
    o.warm = warm;
    o.nwarm = 2;
    o.starts = 2 + SL_FIT_PROFILE_RANDOM_STARTS;
    sl_fit_result r;
    int rc = sl_fit(c->rows, c->n, &o, &r, NULL, 0);
    *obj = *s_opt = (double)NAN;
    if (rc == SL_FIT_ECANCELLED || rc == SL_FIT_ENOMEM) return rc;
    if (rc != SL_FIT_OK) return SL_FIT_OK;
    *obj = r.errors.objective;
    *s_opt = s_opt_of(&r.law, c->ref_n, c->ref_d);
    *prev = r.law;
    sl_fit_result_free(&r);
    return SL_FIT_OK;
}

typedef struct point {
    double v, f, s;
} point;

static int cmp_point(const void *a, const void *b) {
    double x = ((const point *)a)->v, y = ((const point *)b)->v;
    return (x > y) - (x < y);
}

/* Where the objective crosses thr between an inside point a and an outside
 * point b (NaN objective: at b). Linear in sqrt(f - best), which is exact
 * for a quadratic profile; in log v for the exponents. */
static double crossing(const point *a, const point *b, double best, double thr, int logscale) {
    double ga = sqrt(fmax(a->f - best, 0)), gb = sqrt(fmax(b->f - best, 0));
    double t = isfinite(b->f) && gb > ga ? (sqrt(thr - best) - ga) / (gb - ga) : 1;
    if (logscale) return exp(log(a->v) + t * (log(b->v) - log(a->v)));
    return a->v + t * (b->v - a->v);
}

static int profile_walk(const profile_ctx *c, size_t k, double min_loss, double best_obj,
                        sl_fit_profile *pr) {
    int expo = k != IC;
    double best = sl_law_coef_get(c->best, k);
    point pts[SL_FIT_PROFILE_MAX_POINTS];
    size_t np = 0;
    pts[np++] = (point){best, best_obj, s_opt_of(c->best, c->ref_n, c->ref_d)};
    double margin = 2 * (c->threshold - best_obj); /* go on past the crossing a little */
    int maxsteps = expo ? (int)lround(log10(SL_FIT_PROFILE_REACH) * SL_FIT_PROFILE_STEPS_PER_DECADE)
                        : SL_FIT_PROFILE_C_STEPS;
    double dc = min_loss / SL_FIT_PROFILE_C_STEPS;
    for (int dir = -1; dir <= 1; dir += 2) {
        sl_law prev = *c->best;
        size_t first = np;
        for (int j = 1; j <= maxsteps && np < SL_FIT_PROFILE_MAX_POINTS; j++) {
            double v = expo ? best * pow(10, dir * (double)j / SL_FIT_PROFILE_STEPS_PER_DECADE)
                            : best + dir * j * dc;
            if (!expo && v < 0) {
                if (best - (j - 1) * dc <= 0) break; /* 0 was the last point */
                v = 0;
            }
            if (!expo && v >= min_loss) break;
            double f, s;
            int rc = profile_point(c, k, v, &prev, &f, &s);
            if (rc != SL_FIT_OK) return rc;
            pts[np++] = (point){v, f, s};
            if (!(f <= best_obj + margin)) break;
        }
        /* One more refit where the crossing is estimated to be, so that the
         * range does not rest on a coarse step. */
        size_t last = np - 1;
        if (last >= first && np < SL_FIT_PROFILE_MAX_POINTS && pts[last].f > c->threshold) {
            const point *in = last == first ? &pts[0] : &pts[last - 1];
            if (in->f <= c->threshold) {
                double v = crossing(in, &pts[last], best_obj, c->threshold, expo), f, s;
                sl_law from = *c->best;
                int rc = profile_point(c, k, v, &from, &f, &s);
                if (rc != SL_FIT_OK) return rc;
                pts[np++] = (point){v, f, s};
            }
        }
    }
    qsort(pts, np, sizeof *pts, cmp_point);
    size_t ib = 0;
    for (size_t i = 0; i < np; i++) {
        pr->value[i] = pts[i].v;
        pr->objective[i] = pts[i].f;
        pr->s_opt[i] = pts[i].s;
        if (pts[i].v == best && pts[i].f == best_obj) ib = i;
    }
    pr->coef = k;
    pr->best = best;
    pr->npoints = np;
    size_t lo = ib, hi = ib;
    while (lo > 0 && pts[lo - 1].f <= c->threshold)
        lo--;
    while (hi + 1 < np && pts[hi + 1].f <= c->threshold)
        hi++;
    pr->lower_open = lo == 0;
    pr->upper_open = hi == np - 1;
    pr->lower = lo == 0 ? pts[0].v : crossing(&pts[lo], &pts[lo - 1], best_obj, c->threshold, expo);
    pr->upper =
        hi == np - 1 ? pts[hi].v : crossing(&pts[hi], &pts[hi + 1], best_obj, c->threshold, expo);
    pr->s_opt_lower = (double)INFINITY;
    pr->s_opt_upper = -(double)INFINITY;
    for (size_t i = lo; i <= hi; i++)
        if (isfinite(pts[i].s)) {
            pr->s_opt_lower = fmin(pr->s_opt_lower, pts[i].s);
            pr->s_opt_upper = fmax(pr->s_opt_upper, pts[i].s);
        }
    if (!isfinite(pr->s_opt_lower)) pr->s_opt_lower = pr->s_opt_upper = (double)NAN;
    return SL_FIT_OK;
}

/* ---- the verdict ---- */

static void add_reason(sl_fit_diag *d, const char *code, sl_fit_verdict level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_reason(sl_fit_diag *d, const char *code, sl_fit_verdict level, const char *fmt,
                       ...) {
    if (d->nreasons == SL_FIT_MAX_REASONS) return;
    sl_fit_reason *r = &d->reasons[d->nreasons++];
    r->code = code;
    r->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    if (level > d->verdict) d->verdict = level;
}

static void judge_starts(sl_fit_diag *d) {
    if (d->converged == 0)
        add_reason(d, "no_start_converged", SL_FIT_VERDICT_UNIDENTIFIED,
                   "none of the %u starts converged to a stationary point of the objective: the "
                   "coefficients are not determined by these rows",
                   d->starts);
    else if (d->converged < SL_FIT_WEAK_CONVERGED_FRACTION * d->starts)
        add_reason(d, "few_starts_converged", SL_FIT_VERDICT_WEAK,
                   "only %u of %u starts converged: the objective is flat or rugged, and the "
                   "optimum may not be the best one",
                   d->converged, d->starts);
    if (d->converged > 0 && d->at_best <= 1 && d->starts > 1)
        add_reason(d, "optimum_found_once", SL_FIT_VERDICT_WEAK,
                   "the best objective was reached by 1 of %u starts: a better optimum may exist",
                   d->starts);
}

static void judge_intervals(const sl_fit_result *res, sl_fit_diag *d) {
    if (res->n_draws == 0) return;
    for (size_t k = 0; k < NP; k++) {
        if (k == IC) continue; /* c may be 0: no ratio */
        double lo = res->lower[k], hi = res->upper[k];
        double dec = lo > 0 && hi > 0 ? log10(hi / lo) : (double)INFINITY;
        if (dec > SL_FIT_UNIDENTIFIED_DECADES)
            add_reason(d, "interval_unbounded", SL_FIT_VERDICT_UNIDENTIFIED,
                       "the %.0f %% bootstrap interval of %s spans %.1f decades (%.3g to %.3g): "
                       "%s is not determined by the data",
                       100 * res->level, sl_law_coef_names[k], dec, lo, hi, sl_law_coef_names[k]);
        else if (dec > SL_FIT_WEAK_DECADES)
            add_reason(d, "interval_wide", SL_FIT_VERDICT_WEAK,
                       "the %.0f %% bootstrap interval of %s spans %.1f decades (%.3g to %.3g): "
                       "%s is weakly determined, and predictions that lean on it are uncertain",
                       100 * res->level, sl_law_coef_names[k], dec, lo, hi, sl_law_coef_names[k]);
    }
    unsigned tried = (unsigned)res->n_draws + res->bootstrap_failed;
    if (res->bootstrap_failed > SL_FIT_WEAK_BOOTSTRAP_FAILED * tried)
        add_reason(d, "bootstrap_failed", SL_FIT_VERDICT_WEAK,
                   "%u of %u bootstrap resamples gave no valid law: the intervals rest on the "
                   "others",
                   res->bootstrap_failed, tried);
}

static void judge_profile(const sl_fit_diag *dd, const sl_fit_profile *p, double min_loss,
                          sl_fit_diag *d) {
    const char *name = sl_law_coef_names[p->coef];
    double pct = 100 * dd->tolerance / fmax(dd->objective, 1e-300);
    if (p->coef != IC) {
        double ratio = p->upper / p->lower;
        if ((p->lower_open && p->upper_open) || ratio >= SL_FIT_UNIDENTIFIED_PROFILE_RATIO)
            add_reason(d, "profile_unbounded", SL_FIT_VERDICT_UNIDENTIFIED,
                       "%s is not determined: holding it anywhere from %.3g to %.3g%s costs "
                       "less than the profile tolerance (%.2g %% of the objective)",
                       name, p->lower, p->upper,
                       p->lower_open || p->upper_open ? " (and beyond)" : "", pct);
        else if (ratio > SL_FIT_WEAK_PROFILE_RATIO)
            add_reason(d, "profile_wide", SL_FIT_VERDICT_WEAK,
                       "%s is weakly determined: any value from %.3g to %.3g fits within the "
                       "profile tolerance (%.2g %% of the objective) once the other coefficients "
                       "move with it",
                       name, p->lower, p->upper, pct);
    } else if (p->upper - p->lower > SL_FIT_WEAK_C_WIDTH * min_loss) {
        add_reason(d, "profile_wide", SL_FIT_VERDICT_WEAK,
                   "c (the loss no model size or data amount gets below) is weakly determined: "
                   "any value from %.3g to %.3g (loss units) fits within the profile tolerance "
                   "(%.2g %% of the objective)",
                   p->lower, p->upper, pct);
    }
    if (p->s_opt_upper - p->s_opt_lower > SL_FIT_WEAK_SOPT_SPREAD)
        add_reason(d, "s_opt_depends", SL_FIT_VERDICT_WEAK,
                   "S_opt at the reference query (%.3g non-zero parameters, a dense budget of "
                   "%.3g %s) moves from %.2f to %.2f along the profile of %s: a decision there "
                   "depends on %s, which the data do not pin down",
                   dd->ref_nonzeros, dd->ref_data, dd->data_unit ? dd->data_unit : "data units",
                   p->s_opt_lower, p->s_opt_upper, name, name);
    for (size_t i = 0; i < d->nreasons; i++) /* one such reason says it */
        if (strcmp(d->reasons[i].code, "better_optimum") == 0) return;
    for (size_t i = 0; i < p->npoints; i++)
        if (p->objective[i] < dd->objective - 1e-9 * fabs(dd->objective) - 1e-15) {
            add_reason(d, "better_optimum", SL_FIT_VERDICT_WEAK,
                       "a refit with %s held at %.3g reached a lower objective (%.6g) than the "
                       "fit (%.6g): the fit missed its optimum; rerun with more starts",
                       name, p->value[i], p->objective[i], dd->objective);
            break;
        }
}

void sl_fit_diag_judge(const sl_fit_result *res, double min_loss, sl_fit_diag *d) {
    d->verdict = SL_FIT_VERDICT_GOOD;
    d->nreasons = 0;
    judge_starts(d);
    sl_fit_design_issue issues[SL_FIT_DESIGN_MAX_ISSUES];
    int ni = sl_fit_design_issues(&d->design, issues);
    for (int i = 0; i < ni; i++)
        add_reason(d, issues[i].code, SL_FIT_VERDICT_WEAK, "%s", issues[i].message);
    if (d->at_bound[IC])
        add_reason(d, "c_at_bound", SL_FIT_VERDICT_WEAK,
                   "c (the loss no model size or data amount gets below) sits at its bound 0: "
                   "the data do not show the loss levelling off, so predictions far beyond them "
                   "have no floor");
    judge_intervals(res, d);
    if (!d->have_errors && d->converged > 0)
        add_reason(d, "flat_direction", SL_FIT_VERDICT_WEAK,
                   "the objective is flat along some combination of coefficients at the optimum "
                   "(its Hessian is not positive definite): no standard errors");
    for (size_t i = 0; i < d->nprofiles; i++)
        judge_profile(d, &d->profiles[i], min_loss, d);
}

/* ---- the profile tolerance ---- */

/* P(|r| <= delta), the mean of psi', from the residuals' distribution
 * smoothed by a Gaussian kernel (bandwidth 1.06 sigma n^-1/5, sigma from the
 * median absolute residual). A plain count overweights the handful of
 * residuals the optimum puts at 0 exactly (a Huber fit with a small delta
 * interpolates about as many rows as it has coefficients), which shrinks
 * the tolerance: bench/coverage measured profile ranges too narrow so. */
static double smooth_inside(const sl_fit_row *rows, size_t n, const sl_fit_loss *loss,
                            const sl_law *law) {
    double *r = malloc(2 * n * sizeof *r), *a = r + n;
    if (!r) return (double)NAN;
    sl_fit_evaluate(law, rows, n, NULL, a, NULL, &(sl_fit_errors){0});
    for (size_t i = 0; i < n; i++) {
        r[i] = loss->residuals == SL_FIT_RESIDUALS_LOG ? log(a[i]) - log(rows[i].loss)
                                                       : a[i] - rows[i].loss;
        a[i] = fabs(r[i]);
    }
    gsl_sort(a, 1, n);
    double sigma = 1.4826 * gsl_stats_median_from_sorted_data(a, 1, n);
    double h = 1.06 * sigma * pow((double)n, -0.2), p = 0;
    for (size_t i = 0; i < n; i++)
        p += h > 0 ? gsl_cdf_ugaussian_P((loss->delta - r[i]) / h) -
                         gsl_cdf_ugaussian_P((-loss->delta - r[i]) / h)
                   : fabs(r[i]) <= loss->delta;
    free(r);
    return p / (double)n;
}

/* ---- all of it ---- */

int sl_fit_diagnose(const sl_fit_row *rows, size_t n, const sl_fit_options *opt,
                    const sl_fit_result *res, const sl_fit_diag_options *dopt, sl_fit_diag *out) {
    if (!rows || n == 0 || !opt || !res || !out || !sl_law_valid(&res->law)) return SL_FIT_EINVAL;
    memset(out, 0, sizeof *out);
    double *cols = malloc(3 * n * sizeof *cols);
    if (!cols) return SL_FIT_ENOMEM;
    double max_n = 0, max_d = 0, min_loss = (double)INFINITY;
    for (size_t i = 0; i < n; i++) {
        cols[i] = rows[i].sparsity;
        cols[n + i] = rows[i].nonzeros;
        cols[2 * n + i] = rows[i].data;
        max_n = fmax(max_n, rows[i].nonzeros);
        max_d = fmax(max_d, rows[i].data);
        min_loss = fmin(min_loss, rows[i].loss);
    }
    sl_fit_design_of(cols, cols + n, cols + 2 * n, n, &out->design);
    free(cols);
    out->starts = res->starts;
    out->converged = res->starts_converged;
    out->at_best = res->starts_at_best;
    out->rows = n;
    out->objective = res->errors.objective;
    out->level = res->level > 0 ? res->level : SL_FIT_DEFAULT_LEVEL;
    out->at_bound[IC] = res->law.c <= 0;
    out->ref_nonzeros = dopt && dopt->ref_nonzeros > 0 ? dopt->ref_nonzeros : max_n;
    out->ref_data =
        dopt && dopt->ref_data > 0 ? dopt->ref_data : SL_FIT_DIAG_REFERENCE_DATA_FACTOR * max_d;
    out->data_unit = dopt && dopt->data_unit ? dopt->data_unit : "data units";
    out->ref_s_opt = s_opt_of(&res->law, out->ref_nonzeros, out->ref_data);
    out->ref_lower = out->ref_upper = (double)NAN;
    if (res->n_draws) {
        double *s = malloc(res->n_draws * sizeof *s);
        size_t ok = 0;
        if (!s) return SL_FIT_ENOMEM;
        for (size_t i = 0; i < res->n_draws; i++) {
            double v = s_opt_of(&res->draws[i], out->ref_nonzeros, out->ref_data);
            if (isfinite(v)) s[ok++] = v;
        }
        if (ok) sl_fit_percentile_interval(s, ok, out->level, &out->ref_lower, &out->ref_upper);
        free(s);
    }
    int rc = sl_fit_diag_errors(rows, n, &opt->loss, &res->law, res->n_scale, res->data_scale, out);
    if (rc == SL_FIT_ENOMEM) return rc;
    sl_fit_curv cv;
    double q = gsl_cdf_chisq_Pinv(out->level, 1);
    out->tolerance = (double)NAN;
    if (sl_fit_curvature(rows, n, &opt->loss, &res->law, res->n_scale, res->data_scale, &cv) ==
            SL_FIT_OK &&
        n > NP)
        out->tolerance = q * cv.mean_psi2 /
                         (2 * (double)(n - NP) *
                          fmax(smooth_inside(rows, n, &opt->loss, &res->law), 1.0 / (double)n));
    if (!(dopt && dopt->no_profiles) && isfinite(out->tolerance)) {
        static const size_t coefs[SL_FIT_PROFILES] = {1, 3, 5, IC};
        profile_ctx c = {
            rows,         n, opt, &res->law, out->objective + out->tolerance, out->ref_nonzeros,
            out->ref_data};
        for (size_t i = 0; i < SL_FIT_PROFILES; i++) {
            rc = profile_walk(&c, coefs[i], min_loss, out->objective, &out->profiles[i]);
            if (rc != SL_FIT_OK) return rc;
            out->nprofiles++;
        }
    }
    sl_fit_diag_judge(res, min_loss, out);
    return SL_FIT_OK;
}
