/*
 * sl_law.c - the sparse scaling law and its consequences (see sl_law.h and
 * docs/law-math.md for the formulas).
 */
#include "sl_law.h"

#include <float.h>
#include <math.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>

const char *const sl_law_coef_names[SL_LAW_NCOEF] = {"a_s", "b_s", "c_s", "b_n", "a_d", "b_d", "c"};

/* A switch rather than pointer arithmetic over the struct: exact by the
 * standard, and the order stays tied to sl_law_coef_names. */
double *sl_law_coef(sl_law *law, size_t i) {
    if (!law) return NULL;
    switch (i) {
    case 0: return &law->a_s;
    case 1: return &law->b_s;
    case 2: return &law->c_s;
    case 3: return &law->b_n;
    case 4: return &law->a_d;
    case 5: return &law->b_d;
    case 6: return &law->c;
    default: return NULL;
    }
}

double sl_law_coef_get(const sl_law *law, size_t i) {
    if (!law) return (double)NAN;
    switch (i) {
    case 0: return law->a_s;
    case 1: return law->b_s;
    case 2: return law->c_s;
    case 3: return law->b_n;
    case 4: return law->a_d;
    case 5: return law->b_d;
    case 6: return law->c;
    default: return (double)NAN;
    }
}

static int positive(double v) {
    return isfinite(v) && v > 0;
}

int sl_law_valid(const sl_law *law) {
    return law && positive(law->a_s) && positive(law->b_s) && positive(law->c_s) &&
           positive(law->b_n) && positive(law->a_d) && positive(law->b_d) && isfinite(law->c) &&
           law->c >= 0;
}

static int sparsity_ok(double s) {
    return isfinite(s) && s >= 0 && s < 1;
}

double sl_law_loss(const sl_law *law, double s, double n, double d) {
    return (law->a_s * pow(1 - s, law->b_s) + law->c_s) * pow(n, -law->b_n) +
           pow(law->a_d / d, law->b_d) + law->c;
}

double sl_law_loss_floor(const sl_law *law, double n, double d) {
    return law->c_s * pow(n, -law->b_n) + pow(law->a_d / d, law->b_d) + law->c;
}

double sl_law_total_params(double s, double n) {
    return n / (1 - s);
}

double sl_law_dense_multiplier(const sl_law *law, double s) {
    return pow((law->a_s + law->c_s) / (law->a_s * pow(1 - s, law->b_s) + law->c_s), 1 / law->b_n);
}

double sl_law_dense_multiplier_limit(const sl_law *law) {
    return pow((law->a_s + law->c_s) / law->c_s, 1 / law->b_n);
}

double sl_law_dense_optimal_data(const sl_law *law, double n) {
    return law->a_d *
           pow(law->b_d * pow(n, law->b_n) / (law->b_n * (law->a_s + law->c_s)), 1 / law->b_d);
}

/* ---- cost models ---- */

int sl_cost_valid(const sl_cost *cost) {
    if (!cost) return 0;
    if (cost->model == SL_COST_DENSE) return 1;
    if (cost->model != SL_COST_GMP) return 0;
    double t0 = cost->prune_start, t1 = cost->prune_end;
    return isfinite(t0) && isfinite(t1) && t0 >= 0 && t0 <= t1 && t1 <= 1;
}

double sl_cost_mean_density(const sl_cost *cost, double s) {
    if (cost->model != SL_COST_GMP) return 1;
    double t0 = cost->prune_start, t1 = cost->prune_end;
    /* Dense before t0; cubic ramp from t0 to t1 (mean of 1 - S(1 - (1-u)^3)
     * over u in [0, 1] is 1 - 3S/4); final density 1 - S after t1. */
    return t0 + (t1 - t0) * (1 - 0.75 * s) + (1 - t1) * (1 - s);
}

/* mean_density is affine in S; this is its (constant) slope. */
static double cost_density_slope(const sl_cost *cost) {
    if (cost->model != SL_COST_GMP) return 0;
    return -(0.75 * (cost->prune_end - cost->prune_start) + (1 - cost->prune_end));
}

double sl_cost_data_seen(const sl_cost *cost, double s, double d_dense) {
    return d_dense * (1 - s) / sl_cost_mean_density(cost, s);
}

/* ---- optimal sparsity ---- */

static int budget_args_ok(const sl_law *law, const sl_cost *cost, double n, double d_dense) {
    return sl_law_valid(law) && sl_cost_valid(cost) && positive(n) && positive(d_dense);
}

static void fill_optimum(const sl_law *law, const sl_cost *cost, double n, double d_dense, double s,
                         sl_law_optimum *out) {
    out->sparsity = s;
    out->data = sl_cost_data_seen(cost, s, d_dense);
    out->loss = sl_law_loss(law, s, n, out->data);
    out->dense_loss = sl_law_loss(law, 0, n, d_dense);
}

/* The S-dependent part of L(S, N, D(S)) with D(S) = D_dense / h(S),
 * h = mean_density / (1 - S): f = A x^b_s + B h^b_d. Dropping the constant
 * terms keeps |f| small, so the minimiser resolves S better. */
typedef struct budget_fn {
    double A, B, b_s, b_d;
    const sl_cost *cost;
} budget_fn;

static double budget_f(double s, void *p) {
    const budget_fn *q = p;
    double x = 1 - s;
    double h = sl_cost_mean_density(q->cost, s) / x;
    return q->A * pow(x, q->b_s) + q->B * pow(h, q->b_d);
}

/* df/dS, with dh/dS = (g' x + g) / x^2. Its unique zero is the optimum:
 * f is unimodal for any schedule with 0 <= t0 <= t1 <= 1. With g = k + (1-k) x,
 * df/dx = 0 reads A b_s x^(b_s+b_d) (k + (1-k) x)^(1-b_d) = B b_d k, and the
 * left side increases with x for every b_d > 0 (for b_d > 1 write it as
 * x^(b_s+1) / (k/x + 1-k)^(b_d-1)). */
static double budget_df(double s, const budget_fn *q) {
    double x = 1 - s;
    double g = sl_cost_mean_density(q->cost, s);
    double h = g / x;
    double dh = (cost_density_slope(q->cost) * x + g) / (x * x);
    return -q->A * q->b_s * pow(x, q->b_s - 1) + q->B * q->b_d * pow(h, q->b_d - 1) * dh;
}

/* Bisection on the sign of f' in [lo, hi] (f'(lo) < 0 < f'(hi)): the
 * minimiser alone stops at ~sqrt(eps) in S, because f is flat at its
 * minimum; f' is not, so this resolves S to a few ulps. */
static double polish(const budget_fn *q, double lo, double hi) {
    for (int it = 0; it < 200 && hi - lo > 4 * DBL_EPSILON; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (budget_df(mid, q) < 0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

static int brackets_root(const budget_fn *q, double lo, double hi) {
    return lo < hi && budget_df(lo, q) < 0 && budget_df(hi, q) > 0;
}

#define SL_GRID 64

static double numeric_optimum(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                              double max_s) {
    budget_fn q = {law->a_s * pow(n, -law->b_n), pow(law->a_d / d_dense, law->b_d), law->b_s,
                   law->b_d, cost};
    if (max_s == 0) return 0;

    /* Bracket: the best of a uniform grid that includes both ends. */
    double fs[SL_GRID + 1];
    size_t best = 0;
    for (size_t i = 0; i <= SL_GRID; i++) {
        fs[i] = budget_f(max_s * (double)i / SL_GRID, &q);
        if (fs[i] < fs[best]) best = i;
    }
    double lo = max_s * (double)(best > 0 ? best - 1 : 0) / SL_GRID;
    double hi = max_s * (double)(best < SL_GRID ? best + 1 : SL_GRID) / SL_GRID;
    double mid = max_s * (double)best / SL_GRID;

    /* An endpoint wins only if f slopes the right way there (f is unimodal);
     * otherwise the minimum is inside the first or last cell. */
    if (best == 0 && budget_df(0, &q) >= 0) return 0;
    if (best == SL_GRID && budget_df(max_s, &q) <= 0) return max_s;

    double x = mid, xl = lo, xu = hi;
    /* gsl_min_fminimizer_set calls the GSL error handler (abort by default)
     * unless f(mid) < f(lo), f(hi); check that here instead of changing the
     * process-wide handler. Ties (a flat grid) skip straight to polishing. */
    if (best > 0 && best < SL_GRID && fs[best] < fs[best - 1] && fs[best] < fs[best + 1]) {
        gsl_function F = {budget_f, &q};
        gsl_min_fminimizer *m = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
        if (m && gsl_min_fminimizer_set_with_values(m, &F, mid, fs[best], lo, fs[best - 1], hi,
                                                    fs[best + 1]) == GSL_SUCCESS) {
            for (int it = 0; it < 100; it++) {
                if (gsl_min_fminimizer_iterate(m) != GSL_SUCCESS) break;
                x = gsl_min_fminimizer_x_minimum(m);
                xl = gsl_min_fminimizer_x_lower(m);
                xu = gsl_min_fminimizer_x_upper(m);
                if (gsl_min_test_interval(xl, xu, 1e-10, 0) == GSL_SUCCESS) break;
            }
        }
        gsl_min_fminimizer_free(m);
    }

    if (brackets_root(&q, xl, xu))
        x = polish(&q, xl, xu);
    else if (brackets_root(&q, lo, hi))
        x = polish(&q, lo, hi);
    return x < 0 ? 0 : x > max_s ? max_s : x;
}

/* The gmp optimum without a grid or a minimiser: with x = 1 - S = e^u and
 * k = mean_density(S = 1) in (0, 1], df/dx has the sign of
 *     phi(u) = c0 + (b_s + b_d) u + (1 - b_d) log(k + (1 - k) e^u),
 *     c0 = log(A b_s) - log(B b_d k),
 * which increases with u (budget_df), so its one zero is the optimum;
 * Newton steps on it, kept inside a bracket that bisects when a step
 * leaves it, find it in a handful of steps. -1 when it does not apply
 * (k <= 0) or settles nowhere; numeric_optimum then decides. */
static int gmp_optimum(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                       double max_s, double *s) {
    double k = sl_cost_mean_density(cost, 1.0);
    if (!(k > 0 && k <= 1) || max_s == 0) return -1;
    double log_a = log(law->a_s) - law->b_n * log(n);
    double log_b = law->b_d * (log(law->a_d) - log(d_dense));
    double c0 = log_a + log(law->b_s) - log_b - log(law->b_d * k);
    double bsd = law->b_s + law->b_d, w = 1 - law->b_d;
    if (!isfinite(c0)) return -1;
    if (c0 <= 0) { /* phi(0) <= 0: f falls all the way to S = 0 */
        *s = 0;
        return 0;
    }
    double lo = log1p(-max_s), hi = 0;
    double plo = c0 + bsd * lo + w * log(k + (1 - k) * exp(lo));
    if (plo >= 0) { /* rising from the densest end: the sparsest allowed */
        *s = max_s;
        return 0;
    }
    double u = fmin(fmax(-c0 / bsd, lo), hi);
    for (int it = 0; it < 100; it++) {
        double e = exp(u), g = k + (1 - k) * e;
        double phi = c0 + bsd * u + w * log(g);
        if (phi < 0)
            lo = u;
        else
            hi = u;
        double dphi = bsd + w * (1 - k) * e / g;
        double next = u - phi / dphi;
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (fabs(next - u) <= 2 * DBL_EPSILON * fmax(1, fabs(u)) || hi - lo <= 4 * DBL_EPSILON) {
            *s = fmin(fmax(-expm1(next), 0), max_s);
            return 0;
        }
        u = next;
    }
    return -1;
}

int sl_law_optimal_sparsity(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                            double max_sparsity, sl_law_optimum *out) {
    if (!out || !budget_args_ok(law, cost, n, d_dense) || !sparsity_ok(max_sparsity))
        return SL_LAW_EINVAL;

    double s;
    if (cost->model == SL_COST_DENSE) {
        /* law-math §4: (1 - S)^(b_s+b_d) = b_d a_d^b_d N^b_n / (a_s b_s) D_dense^-b_d,
         * in logs to keep a_d^b_d and N^b_n in range. */
        double lx = (log(law->b_d / (law->a_s * law->b_s)) + law->b_n * log(n) +
                     law->b_d * log(law->a_d / d_dense)) /
                    (law->b_s + law->b_d);
        double x = exp(lx);
        s = x >= 1 ? 0 : 1 - x;
        if (s > max_sparsity) s = max_sparsity;
    } else if (gmp_optimum(law, cost, n, d_dense, max_sparsity, &s) != 0) {
        s = numeric_optimum(law, cost, n, d_dense, max_sparsity);
    }
    fill_optimum(law, cost, n, d_dense, s, out);
    return SL_LAW_OK;
}

int sl_law_optimal_among(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                         const double *sparsities, size_t count, sl_law_optimum *out,
                         size_t *chosen) {
    return sl_law_optimal_among_factors(law, cost, n, d_dense, sparsities, NULL, count, out,
                                        chosen);
}

int sl_law_optimal_among_factors(const sl_law *law, const sl_cost *cost, double n, double d_dense,
                                 const double *sparsities, const double *factors, size_t count,
                                 sl_law_optimum *out, size_t *chosen) {
    if (!out || !chosen || !budget_args_ok(law, cost, n, d_dense) || (count && !sparsities))
        return SL_LAW_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!sparsity_ok(sparsities[i]) || (factors && !(isfinite(factors[i]) && factors[i] > 0)))
            return SL_LAW_EINVAL;

    fill_optimum(law, cost, n, d_dense, 0, out);
    *chosen = count;
    for (size_t i = 0; i < count; i++) {
        sl_law_optimum cand;
        sl_law l = *law;
        if (factors) l.a_s *= factors[i]; /* the pattern's sparse term */
        fill_optimum(&l, cost, n, d_dense, sparsities[i], &cand);
        if (cand.loss < out->loss) { /* strict: ties keep dense / the earlier one */
            *out = cand;
            *chosen = i;
        }
    }
    return SL_LAW_OK;
}

/* dL/dS at S = 0 is -a_s b_s N^-b_n + k b_d (a_d / D_dense)^b_d with
 * k = d/dS [mean_density / (1 - S)] at 0 = 1 + mean_density'(0):
 * 1 for dense, 0.75 t0 + 0.25 t1 for gmp. */
double sl_law_sparsity_pays_data(const sl_law *law, const sl_cost *cost, double n) {
    double k = 1 + cost_density_slope(cost);
    return law->a_d * pow(k * law->b_d * pow(n, law->b_n) / (law->a_s * law->b_s), 1 / law->b_d);
}

double sl_law_iso_sparsity_data(const sl_law *law, double n, double s) {
    const sl_cost dense = {SL_COST_DENSE, 0, 0};
    return sl_law_sparsity_pays_data(law, &dense, n) *
           pow(1 - s, -(law->b_s + law->b_d) / law->b_d);
}

/* ---- minimum compute for a target loss ---- */

double sl_law_plan_floor(const sl_law *law, double n, double max_sparsity) {
    return law->c + (law->a_s * pow(1 - max_sparsity, law->b_s) + law->c_s) * pow(n, -law->b_n);
}

/* With E = L* - c - c_s N^-b_n and u(x) = a_s x^b_s N^-b_n, the data needed is
 * D = a_d (E - u)^(-1/b_d) and log C = const - log(E - u)/b_d - log x. Its
 * derivative in x is (b_s u / (b_d (E - u)) - 1) / x, increasing in x, so
 * the unique minimum is u = b_d E / (b_s + b_d), strictly inside the feasible
 * region u < E; clipping x to [1 - max_sparsity, 1] is then exact. */
int sl_law_plan_min_compute(const sl_law *law, double target_loss, double n, double max_sparsity,
                            sl_law_plan *out) {
    if (!out || !sl_law_valid(law) || !isfinite(target_loss) || !positive(n) ||
        !sparsity_ok(max_sparsity))
        return SL_LAW_EINVAL;
    if (target_loss <= sl_law_plan_floor(law, n, max_sparsity)) return SL_LAW_UNREACHABLE;

    double nb = pow(n, -law->b_n);
    double e = target_loss - law->c - law->c_s * nb;
    double x = pow(law->b_d * e / ((law->b_s + law->b_d) * law->a_s * nb), 1 / law->b_s);
    double s = x >= 1 ? 0 : 1 - x;
    if (s > max_sparsity) s = max_sparsity;
    x = 1 - s;

    /* Feasible: at S = max_sparsity by the floor check, elsewhere because the
     * unclipped optimum is strictly inside u < E. */
    double r = e - law->a_s * pow(x, law->b_s) * nb;
    double data = law->a_d * pow(r, -1 / law->b_d);
    /* Within rounding of the floor the data needed is not representable. */
    if (!(r > 0) || !isfinite(data) || !isfinite(6 * n * data / x)) return SL_LAW_UNREACHABLE;
    out->sparsity = s;
    out->data = data;
    out->compute = 6 * n * data / x;
    out->loss = sl_law_loss(law, s, n, data);
    return SL_LAW_OK;
}
