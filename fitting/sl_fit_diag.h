/*
 * sl_fit_diag.h - how far a fit can be trusted: the starts, coefficients at
 * a bound, standard errors and correlations from the curvature of the
 * objective, profiles of the exponents and of c, the design, and a verdict
 * (good, weak, unidentified) with one sentence per reason.
 *
 * The thresholds of the verdict are stated here, once; api/openapi.json and
 * the README repeat them, and the design's own thresholds are in
 * sl_fit_design.h. Pure C + GSL, like sl_fit.c, which it calls to refit
 * along the profiles.
 */
#ifndef SL_FIT_DIAG_H
#define SL_FIT_DIAG_H

#include <stddef.h>

#include "sl_fit.h"
#include "sl_fit_design.h"

/* ---- the verdict's thresholds ---- */

/* unidentified: no start converged, or a coefficient's bootstrap interval
 * (of a positive one: a ratio) spans more than this many decades, or an
 * exponent's profile range spans more than this factor or reaches both ends
 * of its grid (SL_FIT_PROFILE_REACH each way: the data bound it on neither
 * side). */
#define SL_FIT_UNIDENTIFIED_DECADES       3.0
#define SL_FIT_UNIDENTIFIED_PROFILE_RATIO 30.0
/* weak: any design shortfall (sl_fit_design.h); c at its bound 0; the best
 * objective reached by a single start; fewer than this fraction of the
 * starts converged; a coefficient's bootstrap interval wider than this many
 * decades; an exponent's profile range wider than this factor; c's profile
 * range wider than this fraction of the smallest observed loss; S_opt at the
 * reference query moving more than this along a profile; more than this
 * fraction of the bootstrap resamples failed. */
#define SL_FIT_WEAK_CONVERGED_FRACTION 0.25
#define SL_FIT_WEAK_DECADES            1.0
#define SL_FIT_WEAK_PROFILE_RATIO      2.0
#define SL_FIT_WEAK_C_WIDTH            0.25
#define SL_FIT_WEAK_SOPT_SPREAD        0.10
#define SL_FIT_WEAK_BOOTSTRAP_FAILED   0.10

/* The reference query for S_opt along the profiles, unless the request names
 * one: the largest model size of the sweep, with a dense budget of this many
 * times the sweep's largest data amount (planning usually extrapolates). */
#define SL_FIT_DIAG_REFERENCE_DATA_FACTOR 10.0

/* Profiles: an exponent is walked from its optimum in steps of
 * 10^(1/SL_FIT_PROFILE_STEPS_PER_DECADE) out to a factor
 * SL_FIT_PROFILE_REACH each way; c in steps of 1/16 of the
 * smallest observed loss, from 0 up to that loss. Each point refits the
 * other six coefficients from the optimum, the previous point and
 * SL_FIT_PROFILE_RANDOM_STARTS quasi-random starts. */
#define SL_FIT_PROFILE_REACH            10.0
#define SL_FIT_PROFILE_STEPS_PER_DECADE 8
#define SL_FIT_PROFILE_C_STEPS          16
#define SL_FIT_PROFILE_RANDOM_STARTS    2
#define SL_FIT_PROFILE_MAX_POINTS       40
#define SL_FIT_PROFILES                 4 /* b_s, b_n, b_d, c */

typedef enum sl_fit_verdict {
    SL_FIT_VERDICT_GOOD = 0,
    SL_FIT_VERDICT_WEAK,
    SL_FIT_VERDICT_UNIDENTIFIED,
} sl_fit_verdict;

const char *sl_fit_verdict_name(sl_fit_verdict v);

typedef struct sl_fit_reason {
    const char *code;     /* e.g. "narrow_data", "c_at_bound", "profile_wide" */
    sl_fit_verdict level; /* the verdict this reason alone gives */
    char message[320];    /* a sentence a user understands */
} sl_fit_reason;

#define SL_FIT_MAX_REASONS 24

/* One coefficient held fixed on a grid while the rest are refitted. */
typedef struct sl_fit_profile {
    size_t coef; /* sl_law_coef index */
    double best; /* its value at the optimum */
    size_t npoints;
    /* By increasing value; the optimum is one of them. objective: the best
     * refit with the coefficient held there (NaN: the refit failed); s_opt:
     * S_opt at the reference query under that refit (NaN: none). */
    double value[SL_FIT_PROFILE_MAX_POINTS];
    double objective[SL_FIT_PROFILE_MAX_POINTS];
    double s_opt[SL_FIT_PROFILE_MAX_POINTS];
    /* The range whose objective is within the tolerance of the best,
     * interpolated between grid points; *_open: still within it at the end
     * of the grid (or, for c, at its bound 0), so the range goes on. */
    double lower, upper;
    int lower_open, upper_open;
    double s_opt_lower, s_opt_upper; /* S_opt over the points within it */
} sl_fit_profile;

typedef struct sl_fit_diag {
    sl_fit_design design;
    unsigned starts, converged, at_best;
    size_t rows;
    double objective; /* the best, as minimised */
    unsigned char at_bound[SL_LAW_NCOEF];
    /* From the sandwich H^-1 B H^-1 / (n - 7) of the Huber M-estimator (H
     * the Hessian of the mean objective, B the mean outer product of the
     * row scores), moved to raw coefficients by the delta method. NaN where
     * undefined: H not positive definite, or c on its bound (held there). */
    int have_errors;
    double se[SL_LAW_NCOEF];                  /* raw units of each coefficient */
    double corr[SL_LAW_NCOEF * SL_LAW_NCOEF]; /* row-major, sl_law_coef order */
    double correlation_condition;             /* of corr: 1 = independent */
    double hessian_condition;                 /* of H in the fit's internal coordinates */
    /* Profile tolerance, objective units: q chi2_1(level) mean psi^2 /
     * (2 (n - 7) P(|r| <= delta)), the robust likelihood-ratio bound of a
     * level-interval (least squares: q objective / (n - 7)); P, the mean of
     * psi', from the kernel-smoothed residuals (sl_fit_diag.c). */
    double tolerance;
    double level;
    double ref_nonzeros, ref_data; /* the reference query (data as D_dense) */
    const char *data_unit;         /* of ref_data, for the sentences */
    double ref_s_opt;              /* S_opt there under the fitted law */
    double ref_lower, ref_upper;   /* its bootstrap percentile interval; NaN without draws */
    sl_fit_profile profiles[SL_FIT_PROFILES];
    size_t nprofiles;
    sl_fit_verdict verdict;
    sl_fit_reason reasons[SL_FIT_MAX_REASONS];
    size_t nreasons;
} sl_fit_diag;

typedef struct sl_fit_diag_options {
    double ref_nonzeros, ref_data; /* 0: the default reference query */
    int no_profiles;               /* skip the refits (tests, benchmarks) */
    const char *data_unit;         /* D's unit in the sentences; NULL: "data units" */
} sl_fit_diag_options;

/* Diagnoses res, the result of sl_fit(rows, n, opt): fills *out. The
 * profiles refit with opt's loss, seed, threads and cancel flag. dopt may be
 * NULL. SL_FIT_OK, SL_FIT_EINVAL, SL_FIT_ENOMEM or SL_FIT_ECANCELLED. */
int sl_fit_diagnose(const sl_fit_row *rows, size_t n, const sl_fit_options *opt,
                    const sl_fit_result *res, const sl_fit_diag_options *dopt, sl_fit_diag *out);

/* The parts, for tests. Standard errors, correlations and condition
 * numbers of law on rows (at_bound[6]: c held at 0). */
int sl_fit_diag_errors(const sl_fit_row *rows, size_t n, const sl_fit_loss *loss, const sl_law *law,
                       double n_scale, double data_scale, sl_fit_diag *out);
/* The verdict and reasons from the other fields of d and res. */
void sl_fit_diag_judge(const sl_fit_result *res, double min_loss, sl_fit_diag *d);

#endif
