/*
 * sl_fit.h - fitting the sparse scaling law to sweep results
 * (docs/law-math.md §5).
 *
 * Objective (the authors'): mean over rows of Huber(r), with
 * r = log f - log y ("log" residuals) or r = f - y ("plain"), f the law's
 * prediction and y the observed loss; Huber(r) = r^2 / 2 for |r| <= delta,
 * delta (|r| - delta / 2) otherwise.
 *
 * How: many quasi-random starts (a seeded rotation of the Halton sequence)
 * spread over a box scaled to the data; from each, a short BFGS run (GSL
 * vector_bfgs2, analytic gradient) to reach a basin, then damped Newton with
 * the exact Hessian to settle on its optimum; the best objective wins. All of
 * it in a well-conditioned parameterisation: N and D divided by their
 * geometric means, positive coefficients as logarithms, c >= 0 as a bound
 * (its optimum is sometimes exactly 0). Start points come from the seed and
 * the data alone, never from a published law. Details in sl_fit.c.
 *
 * Optionally one factor eta per n:m pattern on the sparse term of that
 * pattern's rows (sl_fit_options.pattern): fitted with the coefficients, the
 * Newton stage working on the profile over the factors.
 *
 * Results are deterministic: the same rows, options and seed give
 * bit-identical results for any thread count, because every start and every
 * bootstrap resample is an independent job whose inputs depend only on its
 * index, and results are combined in index order.
 *
 * Pure C + GSL + pthreads: no I/O, no global state. The only allocations are
 * the result's arrays (freed by sl_fit_result_free) and temporary workspace.
 * The GSL error handler is left alone; nothing here triggers it except a
 * failed malloc inside GSL.
 */
#ifndef SL_FIT_H
#define SL_FIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_law.h"

/* Status codes: 0 on success, negative on failure. Functions that fail also
 * write a one-line reason into the caller's buffer when one is given. */
typedef enum sl_fit_status {
    SL_FIT_OK = 0,
    SL_FIT_EINVAL = -1,          /* a bad argument, option or row value */
    SL_FIT_EUNIDENTIFIABLE = -2, /* the rows cannot determine the 7 coefficients */
    SL_FIT_ENOMEM = -3,
    SL_FIT_ECANCELLED = -4, /* the progress callback or the cancel flag asked to stop */
    SL_FIT_ENOFIT = -5,     /* no start reached a finite objective with a valid law */
} sl_fit_status;

/* One observation, in raw units (the law's): S in [0, 1), N a count of
 * non-zero parameters, D in the law's data unit, loss > 0. */
typedef struct sl_fit_row {
    double sparsity, nonzeros, data, loss;
} sl_fit_row;

typedef enum sl_fit_residuals {
    SL_FIT_RESIDUALS_PLAIN = 0, /* r = f - y (ViT recipe) */
    SL_FIT_RESIDUALS_LOG = 1,   /* r = log f - log y (Chinchilla / T5 recipe) */
} sl_fit_residuals;

/* The objective's definition: kept apart from the search options because
 * evaluating a law on held-out rows needs it too. */
typedef struct sl_fit_loss {
    sl_fit_residuals residuals;
    double delta; /* Huber threshold, > 0, in the residuals' units */
} sl_fit_loss;

/* Called after each start and each bootstrap resample with the fraction of
 * work done (non-decreasing, 1 at the end), from the fitting threads but
 * never two calls at once. Return nonzero to cancel: sl_fit then returns
 * SL_FIT_ECANCELLED soon and calls it no more. */
typedef int (*sl_fit_progress_fn)(double fraction, void *ctx);

/* Defaults: the values sl_fit_options_default sets; 0 in the matching field
 * means "use the default" so a zeroed struct is usable. */
#define SL_FIT_DEFAULT_STARTS           64
#define SL_FIT_DEFAULT_BOOTSTRAP_STARTS 4
#define SL_FIT_DEFAULT_LEVEL            0.95
#define SL_FIT_MAX_STARTS               100000
#define SL_FIT_MAX_BOOTSTRAP            1000000
#define SL_FIT_MAX_THREADS              256
#define SL_FIT_MAX_PATTERNS             8 /* pattern factors per fit */

typedef struct sl_fit_options {
    sl_fit_loss loss;
    uint64_t seed;      /* start points and resamples derive from it alone */
    unsigned starts;    /* quasi-random starts for the full fit; 0: default */
    unsigned bootstrap; /* resamples B (rows drawn with replacement); 0: none */
    /* Starts per resample: the full-data optimum, then the other distinct
     * local optima the full fit found, then quasi-random starts. The
     * warm starts make each refit cheap and land it in the right basin; the
     * others guard against a resample whose best basin moved. 0: default. */
    unsigned bootstrap_starts;
    double level;                /* central interval level in (0, 1); 0: 0.95 (2.5 %, 97.5 %) */
    unsigned threads;            /* worker threads, the caller's included; 0: every online
                                    core; capped at SL_FIT_MAX_THREADS and at the job count */
    sl_fit_progress_fn progress; /* optional */
    void *progress_ctx;
    /* Optional: another thread stores nonzero to cancel (e.g. on shutdown).
     * Checked between optimiser iterations, so it takes effect within
     * milliseconds; sl_fit then returns SL_FIT_ECANCELLED. */
    atomic_int *cancel;
    /* Optional, for profiles (sl_fit_diag.c). fixed = k + 1 holds
     * coefficient k (sl_law_coef order; only b_s, b_n, b_d or c) at
     * fixed_value while the others are fitted. The first nwarm starts are the
     * laws warm[0..nwarm) (k set to fixed_value), then quasi-random ones;
     * starts counts both (at least nwarm). 0 / NULL: none. */
    unsigned fixed;
    double fixed_value;
    const sl_law *warm;
    size_t nwarm;
    /* Optional pattern factors: row i's sparse term is multiplied by
     * eta[pattern[i] - 1] when pattern[i] > 0 (an n:m row) and by 1 when it
     * is 0 (unstructured), so that f = (a_s eta (1 - S)^b_s + c_s) N^-b_n +
     * ...; the npatterns factors (1..SL_FIT_MAX_PATTERNS) are fitted with
     * the seven coefficients, each from eta = 1. pattern has one entry per
     * row; NULL (npatterns 0): no factors. */
    const unsigned *pattern;
    unsigned npatterns;
} sl_fit_options;

/* Zero starts/bootstrap_starts/level/threads, plain residuals with
 * delta 0.01, seed 0, no bootstrap, no callback. */
void sl_fit_options_default(sl_fit_options *opt);

/* Fit quality on a set of rows. */
typedef struct sl_fit_errors {
    size_t rows;
    double objective;          /* mean Huber, as minimised */
    double rmse;               /* sqrt(mean (f - y)^2), loss units */
    double max_abs_error;      /* max |f - y|, loss units */
    double mean_abs_rel_error; /* mean |f - y| / y, a fraction (0.0075 = 0.75 %) */
} sl_fit_errors;

typedef struct sl_fit_result {
    sl_law law;           /* best coefficients, raw units */
    sl_fit_errors errors; /* on the fitted rows */
    /* Per-row f - y (loss units), in row order; rows entries, malloc'd. */
    double *residuals;
    size_t rows;
    unsigned starts;           /* starts run */
    unsigned starts_converged; /* ended at a stationary point with a valid law */
    /* Starts whose objective is within 1e-9 (relative) of the best: a
     * robustness gauge; 1 means the optimum was found only once. */
    unsigned starts_at_best;
    /* Bootstrap: draws[0..n_draws) are the successful refits in resample
     * order (raw units), so derived quantities (S_opt, ...) can get intervals
     * from the same draws; bootstrap_failed resamples gave no valid law. */
    sl_law *draws;
    size_t n_draws;
    unsigned bootstrap_failed;
    double level;               /* of the intervals below */
    double lower[SL_LAW_NCOEF]; /* percentile interval per coefficient, */
    double upper[SL_LAW_NCOEF]; /* in sl_law_coef order; NaN without draws */
    double n_scale, data_scale; /* the internal normalisation (geometric means) */
    /* Pattern factors (when the options asked for them): the best eta per
     * pattern, their percentile intervals (NaN without draws), and each
     * draw's, draw_eta[d * npatterns + k] (malloc'd, n_draws rows). */
    unsigned npatterns;
    double eta[SL_FIT_MAX_PATTERNS];
    double eta_lower[SL_FIT_MAX_PATTERNS], eta_upper[SL_FIT_MAX_PATTERNS];
    double *draw_eta;
} sl_fit_result;

/* Frees the arrays of a result filled by sl_fit and zeroes it. NULL is fine. */
void sl_fit_result_free(sl_fit_result *res);

/* Checks rows before a fit: every value finite and in range (SL_FIT_EINVAL,
 * naming the row and field), then identifiability (SL_FIT_EUNIDENTIFIABLE):
 * at least 8 rows (7 coefficients plus one degree of freedom) and at least 2
 * distinct sparsities, nonzeros and data amounts (otherwise b_s, b_n or b_d
 * is undetermined). reason may be NULL. */
int sl_fit_check(const sl_fit_row *rows, size_t n, char *reason, size_t reason_size);

/* Fits the law to rows. On success fills *res (free it with
 * sl_fit_result_free); on failure returns a negative sl_fit_status, writes
 * the reason and leaves *res zeroed. */
int sl_fit(const sl_fit_row *rows, size_t n, const sl_fit_options *opt, sl_fit_result *res,
           char *reason, size_t reason_size);

/* Evaluates law on rows (e.g. held-out ones): errors, and optionally the
 * per-row predictions f and residuals f - y (arrays of n, or NULL). loss
 * gives the objective's definition; NULL leaves errors->objective NaN.
 * SL_FIT_EINVAL for an invalid law, row values or loss. */
int sl_fit_evaluate(const sl_law *law, const sl_fit_row *rows, size_t n, const sl_fit_loss *loss,
                    double *predictions, double *residuals, sl_fit_errors *errors);

/* The objective's curvature at a law, in the fit's internal coordinates
 * z = (log A, log b_s, log CC, log b_n, log E, log b_d, c) with N and D over
 * n_scale and data_scale (sl_fit.c's header): for standard errors and
 * profile tolerances (sl_fit_diag.c). Means over the rows. */
typedef struct sl_fit_curv {
    double objective;
    double gradient[SL_LAW_NCOEF];
    double hessian[SL_LAW_NCOEF * SL_LAW_NCOEF]; /* exact, row-major */
    /* mean psi(r)^2 dr dr^T: the middle of the sandwich covariance */
    double scores[SL_LAW_NCOEF * SL_LAW_NCOEF];
    double mean_psi2, mean_dpsi; /* means of psi(r)^2 and psi'(r) (0 or 1) */
} sl_fit_curv;

int sl_fit_curvature(const sl_fit_row *rows, size_t n, const sl_fit_loss *loss, const sl_law *law,
                     double n_scale, double data_scale, sl_fit_curv *out);
/* sl_fit_evaluate with pattern factors: row i's sparse term times
 * eta[pattern[i] - 1] when pattern[i] > 0. pattern NULL: as sl_fit_evaluate. */
int sl_fit_evaluate_factors(const sl_law *law, const double *eta, const unsigned *pattern,
                            const sl_fit_row *rows, size_t n, const sl_fit_loss *loss,
                            double *predictions, double *residuals, sl_fit_errors *errors);

/* Checks that rows with pattern factors can be fitted (after sl_fit_check):
 * every pattern index at most npatterns (SL_FIT_EINVAL), every factor with
 * a row, 8 + npatterns rows, and 2 distinct sparsities among the
 * unstructured rows, which alone determine b_s (SL_FIT_EUNIDENTIFIABLE). */
int sl_fit_check_patterns(const sl_fit_row *rows, size_t n, const unsigned *pattern,
                          unsigned npatterns, char *reason, size_t reason_size);

/* The central percentile interval at level (in (0, 1)) of values[0..n),
 * linear interpolation between order statistics (numpy's default), for
 * derived quantities computed from the bootstrap draws. values is not
 * modified. SL_FIT_EINVAL when n == 0 or level is out of range;
 * SL_FIT_ENOMEM when the scratch copy fails. NaN values are not allowed. */
int sl_fit_percentile_interval(const double *values, size_t n, double level, double *lower,
                               double *upper);

#endif
