/*
 * sl_law.h - the sparse scaling law of Frantar et al. (ICLR 2024) and what
 * follows from it: loss, floor, dense equivalents, optimal sparsity under a
 * training budget, and the cheapest plan for a target loss.
 *
 *     L(S, N, D) = (a_s (1 - S)^b_s + c_s) N^(-b_n) + (a_d / D)^b_d + c
 *
 * Units are raw: S is a fraction in [0, 1), N a count of non-zero
 * parameters, D the law's data unit (tokens, examples or steps). "Budget"
 * is always given as D_dense: the data a dense model with N parameters
 * would see for it, i.e. C = 6 N D_dense. Formulas: docs/law-math.md.
 *
 * Pure functions: no I/O, no global state, no allocation except the GSL
 * minimiser's workspace, freed before sl_law_optimal_sparsity returns (gmp
 * cost model only; GSL's error handler runs if that malloc fails). Callers
 * validate their inputs with sl_law_valid() and the ranges stated per function;
 * functions that can fail return 0 on success and a negative sl_law_status.
 */
#ifndef SL_LAW_H
#define SL_LAW_H

#include <stddef.h>

typedef struct sl_law {
    double a_s, b_s, c_s, b_n, a_d, b_d, c;
} sl_law;

typedef enum sl_law_status {
    SL_LAW_OK = 0,
    SL_LAW_EINVAL = -1,      /* an argument is outside its stated range */
    SL_LAW_UNREACHABLE = -2, /* target loss at or below what is attainable */
} sl_law_status;

/* Names of the seven coefficients, in struct order, for codecs and tables. */
#define SL_LAW_NCOEF 7
extern const char *const sl_law_coef_names[SL_LAW_NCOEF];
double *sl_law_coef(sl_law *law, size_t i);
double sl_law_coef_get(const sl_law *law, size_t i);

/* 1 when every coefficient is finite, a_s, b_s, c_s, b_n, a_d, b_d > 0 and
 * c >= 0: the conditions under which every function below is defined. */
int sl_law_valid(const sl_law *law);

/* S in [0, 1), n > 0, d > 0. */
double sl_law_loss(const sl_law *law, double s, double n, double d);
/* The S -> 1 bound: c_s N^-b_n + (a_d / D)^b_d + c. No sparsity beats it. */
double sl_law_loss_floor(const sl_law *law, double n, double d);
/* N / (1 - S). */
double sl_law_total_params(double s, double n);
/* m(S): a model with N non-zeros at S matches a dense model of m(S) N. */
double sl_law_dense_multiplier(const sl_law *law, double s);
/* m(1) = ((a_s + c_s) / c_s)^(1 / b_n). */
double sl_law_dense_multiplier_limit(const sl_law *law);
/* D_chin(N): dense compute-optimal data for N (S = 0, C = 6 N D). */
double sl_law_dense_optimal_data(const sl_law *law, double n);

/* How training cost grows with sparsity. `dense`: a masked model costs as
 * much as a dense model of its total size. `gmp`: gradual magnitude pruning
 * on a cubic schedule from fraction prune_start to prune_end of training is
 * credited with the FLOPs its shrinking density saves. */
typedef enum sl_cost_model { SL_COST_DENSE = 0, SL_COST_GMP = 1 } sl_cost_model;

typedef struct sl_cost {
    sl_cost_model model;
    double prune_start, prune_end; /* 0 <= start <= end <= 1; gmp only */
} sl_cost;

#define SL_COST_GMP_DEFAULT_START 0.25
#define SL_COST_GMP_DEFAULT_END   0.75
/* The default maximum sparsity for searches: keeps total size finite. */
#define SL_LAW_DEFAULT_MAX_SPARSITY 0.999

int sl_cost_valid(const sl_cost *cost);
/* Mean density over the run, as a fraction of total parameters: 1 for
 * dense, t0 + (t1 - t0)(1 - 3S/4) + (1 - t1)(1 - S) for gmp. */
double sl_cost_mean_density(const sl_cost *cost, double s);
/* The data a model at sparsity S sees for the budget of D_dense:
 * D = D_dense (1 - S) / mean_density(S). */
double sl_cost_data_seen(const sl_cost *cost, double s, double d_dense);

/* The sparsity with the lowest loss for n non-zeros and a budget of
 * d_dense, searched over [0, max_sparsity] (max_sparsity in [0, 1)). */
typedef struct sl_law_optimum {
    double sparsity;
    double loss;       /* at sparsity, with the data it sees */
    double data;       /* data seen at sparsity */
    double dense_loss; /* S = 0 with the whole budget: L(0, N, D_dense) */
} sl_law_optimum;

int sl_law_optimal_sparsity(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                            double max_sparsity, sl_law_optimum *out);

/* The best of dense (S = 0) and the given sparsities (each in [0, 1), as
 * fixed by n:m patterns: 1 - n/m). *chosen is the index into sparsities of
 * the winner, or count when dense wins (ties go to dense). */
int sl_law_optimal_among(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                         const double *sparsities, size_t count, sl_law_optimum *out,
                         size_t *chosen);

/* The same with a factor eta_i > 0 per candidate on its sparse term, as an
 * n:m pattern's fitted factor: (a_s eta_i (1 - S)^b_s + c_s) N^-b_n + ...
 * factors NULL: every eta 1 (sl_law_optimal_among). */
int sl_law_optimal_among_factors(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                                 const double *sparsities, const double *factors, size_t count,
                                 sl_law_optimum *out, size_t *chosen);

/* D_0(N): the budget (as D_dense) above which S_opt > 0 under cost. Closed
 * form for both models: the slope of the loss at S = 0 changes sign at
 * D_0 = a_d (k b_d N^b_n / (a_s b_s))^(1/b_d), k = 1 + mean_density'(0). */
double sl_law_sparsity_pays_data(const sl_law *law, const sl_cost *cost, double n);

/* On the iso line S_opt = s (dense cost model, s in [0, 1)):
 * D_dense = D_0(N) (1 - s)^(-(b_s + b_d) / b_d). */
double sl_law_iso_sparsity_data(const sl_law *law, double n, double s);

/* The minimum-compute way to reach target_loss with n non-zeros under the
 * dense cost model, S in [0, max_sparsity]. Returns SL_LAW_UNREACHABLE when
 * target_loss <= c + (a_s (1 - max_sparsity)^b_s + c_s) N^-b_n, or when it is
 * so close above that the data needed is not a finite double. */
typedef struct sl_law_plan {
    double sparsity;
    double data;    /* data the model trains on */
    double compute; /* 6 N D / (1 - S) */
    double loss;    /* the law at (sparsity, n, data): target_loss */
} sl_law_plan;

int sl_law_plan_min_compute(const sl_law *law, double target_loss, double n, double max_sparsity,
                            sl_law_plan *out);

/* The lowest target_loss sl_law_plan_min_compute can reach with max_sparsity
 * (exclusive): c + (a_s (1 - max_sparsity)^b_s + c_s) N^-b_n. */
double sl_law_plan_floor(const sl_law *law, double n, double max_sparsity);

#endif
