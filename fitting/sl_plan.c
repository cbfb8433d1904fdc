/*
 * sl_plan.c - planning beyond S_opt: cost-model plans, fixed choices, the
 * compute frontier, inference-aware plans, pretrained starts, iso lines
 * under gmp and GPU time (see sl_plan.h and docs/planning.md).
 */
#include "sl_plan.h"

#include <float.h>
#include <math.h>

static int positive(double v) {
    return isfinite(v) && v > 0;
}

static int sparsity_ok(double s) {
    return isfinite(s) && s >= 0 && s < 1;
}

/* mean_density is affine in x = 1 - S: g = k + (1 - k) x, k its value at
 * S = 1 (1 for dense, 0.75 t0 + 0.25 t1 for gmp). */
static double cost_k(const sl_cost *cost) {
    return sl_cost_mean_density(cost, 1.0);
}

/* ---- a bracketing 1-D minimiser ---- */

typedef double (*plan_fn)(double x, const void *ctx);

#define PLAN_GRID 96

/* The lowest point of f on [lo, hi]: the best of a uniform grid (which
 * brackets the minimum of a unimodal f to one cell each side), refined by
 * golden section inside that bracket. Every point evaluated is a candidate,
 * so a flat or non-finite stretch cannot make it return worse than the
 * grid. *fbest gets f there. */
static double min1d(plan_fn f, const void *ctx, double lo, double hi, double *fbest) {
    double bx = lo, bf = f(lo, ctx);
    if (!(hi > lo)) {
        *fbest = bf;
        return lo;
    }
    int bi = 0;
    for (int i = 1; i <= PLAN_GRID; i++) {
        double x = i == PLAN_GRID ? hi : lo + (hi - lo) * (double)i / PLAN_GRID;
        double v = f(x, ctx);
        if (v < bf) bf = v, bx = x, bi = i;
    }
    double a = lo + (hi - lo) * (double)(bi > 0 ? bi - 1 : 0) / PLAN_GRID;
    double b = bi < PLAN_GRID ? lo + (hi - lo) * (double)(bi + 1) / PLAN_GRID : hi;
    const double invphi = 0.6180339887498949;
    double c = b - (b - a) * invphi, d = a + (b - a) * invphi;
    double fc = f(c, ctx), fd = f(d, ctx);
    for (int it = 0; it < 200 && b - a > 4 * DBL_EPSILON * fmax(fabs(a), fabs(b)); it++) {
        if (fc < bf) bf = fc, bx = c;
        if (fd < bf) bf = fd, bx = d;
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - (b - a) * invphi;
            fc = f(c, ctx);
        } else {
            a = c, c = d, fc = fd;
            d = a + (b - a) * invphi;
            fd = f(d, ctx);
        }
    }
    if (fc < bf) bf = fc, bx = c;
    if (fd < bf) bf = fd, bx = d;
    /* Within rounding of the lower end, the lower end: a minimum flat at
     * S = 0 is dense, not S = 1e-16. */
    double flo = f(lo, ctx);
    if (flo <= bf + 4 * DBL_EPSILON * fabs(bf)) bf = flo, bx = lo;
    *fbest = bf;
    return bx;
}

/* The zero of f between a and b, where fa = f(a) and fb = f(b) have
 * opposite signs: Brent's method (inverse quadratic or secant steps, and
 * bisection where they would not shrink the bracket fast enough), to a few
 * ulps. Returns the end of the final bracket on a's side, so a caller whose
 * f is feasible on one side gets a feasible point. */
static double root1d(plan_fn f, const void *ctx, double a, double b, double fa, double fb) {
    const int a_neg = fa < 0;
    double c = b, fc = fb, d = b - a, e = d;
    for (int it = 0; it < 200; it++) {
        if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
            c = a, fc = fa;
            d = e = b - a;
        }
        if (fabs(fc) < fabs(fb)) {
            a = b, b = c, c = a;
            fa = fb, fb = fc, fc = fa;
        }
        double tol = 2 * DBL_EPSILON * fabs(b) + DBL_MIN, m = 0.5 * (c - b);
        if (fabs(m) <= tol || fb == 0) break;
        if (fabs(e) >= tol && fabs(fa) > fabs(fb)) {
            double sa = fb / fa, p, q;
            if (a == c) {
                p = 2 * m * sa, q = 1 - sa;
            } else {
                double qa = fa / fc, rb = fb / fc;
                p = sa * (2 * m * qa * (qa - rb) - (b - a) * (rb - 1));
                q = (qa - 1) * (rb - 1) * (sa - 1);
            }
            if (p > 0)
                q = -q;
            else
                p = -p;
            if (2 * p < fmin(3 * m * q - fabs(tol * q), fabs(e * q))) {
                e = d, d = p / q;
            } else {
                d = e = m;
            }
        } else {
            d = e = m;
        }
        a = b, fa = fb;
        b += fabs(d) > tol ? d : copysign(tol, m);
        fb = f(b, ctx);
    }
    return fb == 0 || (fb < 0) == a_neg ? b : c;
}

/* The zero of f in [lo, hi], f negative below it and positive above,
 * searched outward from t: a bracket [t - w, t + w] (within [lo, hi])
 * widened fourfold on the side the signs point to until they differ, then
 * root1d; lo where f is not negative at lo, hi where it is not positive at
 * hi. A good t (a neighbouring problem's zero) saves most of the steps; t =
 * lo with w = hi - lo is the plain bracket. */
static double zero_near(plan_fn f, const void *ctx, double lo, double hi, double t, double w) {
    double a = fmax(lo, t - w), b = fmin(hi, t + w), fa = f(a, ctx), fb = f(b, ctx);
    while (fa > 0 && a > lo) {
        b = a, fb = fa, w *= 4;
        a = fmax(lo, t - w);
        fa = f(a, ctx);
    }
    while (fb < 0 && b < hi) {
        a = b, fa = fb, w *= 4;
        b = fmin(hi, t + w);
        fb = f(b, ctx);
    }
    if (!(fa < 0)) return a;
    if (!(fb > 0)) return b;
    return root1d(f, ctx, a, b, fa, fb);
}

/* ---- pretrained starts ---- */

static const double pre_s[3] = {0.5, 0.75, 0.875};
static const double pre_r[3] = {4.90, 4.27, 2.45};

/* d log r / d log(1 - S) on segment i (0: [0.5, 0.75], 1: [0.75, 0.875]). */
static double pre_slope(int i) {
    return (log(pre_r[i + 1]) - log(pre_r[i])) / (log1p(-pre_s[i + 1]) - log1p(-pre_s[i]));
}

int sl_plan_pretrained_factor(double s, double *r) {
    if (!r || !(s >= SL_PLAN_PRETRAINED_MIN && s <= SL_PLAN_PRETRAINED_MAX)) return SL_LAW_EINVAL;
    int i = s <= pre_s[1] ? 0 : 1;
    *r = exp(log(pre_r[i]) + pre_slope(i) * (log1p(-s) - log1p(-pre_s[i])));
    return SL_LAW_OK;
}

double sl_plan_loss(const sl_law *law, sl_plan_strategy strategy, double s, double n, double d) {
    double r = 1;
    if (strategy == SL_PLAN_PRETRAINED && sl_plan_pretrained_factor(s, &r)) return (double)NAN;
    return sl_law_loss(law, s, n, r * d);
}

double sl_plan_training_compute(const sl_cost *cost, double s, double n, double d) {
    return 6 * (n / (1 - s)) * d * sl_cost_mean_density(cost, s);
}

/* ---- plans for a target loss ---- */

double sl_plan_data_for_loss(const sl_law *law, sl_plan_strategy strategy, double target, double s,
                             double n) {
    double r = target - law->c - (law->a_s * pow(1 - s, law->b_s) + law->c_s) * pow(n, -law->b_n);
    if (!(r > 0)) return (double)INFINITY;
    double d = law->a_d * pow(r, -1 / law->b_d), factor = 1;
    if (strategy == SL_PLAN_PRETRAINED && sl_plan_pretrained_factor(s, &factor))
        return (double)INFINITY;
    return d / factor;
}

static int plan_at(const sl_law *law, const sl_plan_query *q, double s, sl_law_plan *out) {
    double d = sl_plan_data_for_loss(law, q->strategy, q->target_loss, s, q->nonzeros);
    double c = sl_plan_training_compute(&q->cost, s, q->nonzeros, d);
    if (!isfinite(d) || !isfinite(c)) return SL_LAW_UNREACHABLE;
    out->sparsity = s;
    out->data = d;
    out->compute = c;
    out->loss = sl_plan_loss(law, q->strategy, s, q->nonzeros, d);
    return SL_LAW_OK;
}

/* What the compute to reach the target at density x depends on, for one
 * N: r(x) = e - u1 x^b_s, D = a_d r^(-1/b_d), g = k + (1 - k) x. */
typedef struct target_ctx {
    double e;  /* L* - c - c_s N^-b_n */
    double u1; /* a_s N^-b_n: u(x) = u1 x^b_s */
    double b_s, b_d, k;
    double beta; /* slope of log r(S) of a pruning run in log x; 0 from scratch */
    double w;    /* T / (3 a_d) with inference per total parameter, else 0 */
} target_ctx;

/* r x d/dx of log C(x) - beta log x, C the compute to reach the target:
 * x d/dx log C = b_s u / (b_d r) - k / g, and inference per total
 * parameter (2 T N / x) adds -w r^(1/b_d) / g relative to training. That
 * slope is increasing in x where r > 0, so its unique zero is the minimum;
 * times r (same sign there) it stays finite up to r = 0, where the data
 * needed is infinite, which keeps a root finder's steps well placed. */
static double target_slope(double x, const void *p) {
    const target_ctx *t = p;
    double u = t->u1 * pow(x, t->b_s), r = t->e - u, v = t->b_s * u / t->b_d;
    if (!(r > 0)) return v; /* out of reach: less density comes nearer */
    double g = t->k + (1 - t->k) * x;
    v -= r * (t->k / g + t->beta);
    if (t->w > 0) v -= t->w * pow(r, 1 + 1 / t->b_d) / g;
    return v;
}

/* The x in [xl, xu] with the least compute (the zero of the slope, on its
 * feasible side; xl or xu where the slope does not change sign), searched
 * from x0 outward (NaN: over the whole span), or NaN when all of [xl, xu]
 * is out of reach. */
#define TARGET_NEAR_X 0.01 /* the first bracket's half-width about x0 */

static double target_min_x(const target_ctx *t, double xl, double xu, double x0) {
    if (!(t->e > 0)) return (double)NAN;
    double xe = pow(t->e / t->u1, 1 / t->b_s); /* u(xe) = e: infinite data */
    if (!(xl < xe)) return (double)NAN;
    double hi = fmin(xu, xe);
    if (isnan(x0)) return zero_near(target_slope, t, xl, hi, xl, hi - xl);
    return zero_near(target_slope, t, xl, hi, fmin(fmax(x0, xl), hi), TARGET_NEAR_X);
}

static int plan_query_ok(const sl_law *law, const sl_plan_query *q) {
    return q && sl_law_valid(law) && sl_cost_valid(&q->cost) && isfinite(q->target_loss) &&
           positive(q->nonzeros) && sparsity_ok(q->max_sparsity) &&
           (q->strategy == SL_PLAN_SCRATCH || q->strategy == SL_PLAN_PRETRAINED);
}

static int pretrained_ok(sl_plan_strategy strategy, double s) {
    return strategy != SL_PLAN_PRETRAINED ||
           (s >= SL_PLAN_PRETRAINED_MIN && s <= SL_PLAN_PRETRAINED_MAX);
}

int sl_plan_solve(const sl_law *law, const sl_plan_query *q, sl_law_plan *out) {
    if (!out || !plan_query_ok(law, q)) return SL_LAW_EINVAL;
    if (!isnan(q->fixed_sparsity)) {
        if (!sparsity_ok(q->fixed_sparsity) || !pretrained_ok(q->strategy, q->fixed_sparsity))
            return SL_LAW_EINVAL;
        return plan_at(law, q, q->fixed_sparsity, out);
    }
    double nb = pow(q->nonzeros, -law->b_n);
    target_ctx t = {q->target_loss - law->c - law->c_s * nb,
                    law->a_s * nb,
                    law->b_s,
                    law->b_d,
                    cost_k(&q->cost),
                    0,
                    0};
    /* Segments of S with log r linear in log x: one from scratch. */
    double seg_lo[2], seg_hi[2], beta[2];
    int nseg = 1;
    if (q->strategy == SL_PLAN_SCRATCH) {
        seg_lo[0] = 0, seg_hi[0] = q->max_sparsity, beta[0] = 0;
    } else {
        double top = fmin(SL_PLAN_PRETRAINED_MAX, q->max_sparsity);
        if (top < SL_PLAN_PRETRAINED_MIN) return SL_LAW_EINVAL;
        seg_lo[0] = pre_s[0], seg_hi[0] = fmin(top, pre_s[1]), beta[0] = pre_slope(0);
        if (top > pre_s[1]) seg_lo[1] = pre_s[1], seg_hi[1] = top, beta[1] = pre_slope(1), nseg = 2;
    }
    int found = 0;
    for (int i = 0; i < nseg; i++) {
        t.beta = beta[i];
        double x = target_min_x(&t, 1 - seg_hi[i], 1 - seg_lo[i], (double)NAN);
        if (isnan(x)) continue;
        double s = fmin(fmax(1 - x, seg_lo[i]), seg_hi[i]);
        sl_law_plan p;
        if (plan_at(law, q, s, &p) != SL_LAW_OK) continue;
        if (!found || p.compute < out->compute) *out = p;
        found = 1;
    }
    return found ? SL_LAW_OK : SL_LAW_UNREACHABLE;
}

/* ---- optimal sparsity with a strategy ---- */

static int budget_ok(const sl_law *law, const sl_cost *cost, sl_plan_strategy strategy, double n,
                     double d_dense) {
    return sl_law_valid(law) && sl_cost_valid(cost) && positive(n) && positive(d_dense) &&
           (strategy == SL_PLAN_SCRATCH || strategy == SL_PLAN_PRETRAINED);
}

int sl_plan_optimum_at(const sl_law *law, const sl_cost *cost, sl_plan_strategy strategy, double n,
                       double d_dense, double s, sl_law_optimum *out) {
    if (!out || !budget_ok(law, cost, strategy, n, d_dense) || !sparsity_ok(s) ||
        !pretrained_ok(strategy, s))
        return SL_LAW_EINVAL;
    out->sparsity = s;
    out->data = sl_cost_data_seen(cost, s, d_dense);
    out->loss = sl_plan_loss(law, strategy, s, n, out->data);
    out->dense_loss = sl_law_loss(law, 0, n, d_dense);
    return SL_LAW_OK;
}

typedef struct pre_budget_ctx {
    const sl_law *law;
    const sl_cost *cost;
    double n, d_dense;
} pre_budget_ctx;

static double pre_budget_loss(double s, const void *p) {
    const pre_budget_ctx *c = p;
    return sl_plan_loss(c->law, SL_PLAN_PRETRAINED, s, c->n,
                        sl_cost_data_seen(c->cost, s, c->d_dense));
}

int sl_plan_optimal_sparsity(const sl_law *law, const sl_cost *cost, sl_plan_strategy strategy,
                             double n, double d_dense, double max_sparsity, sl_law_optimum *out) {
    if (strategy == SL_PLAN_SCRATCH)
        return sl_law_optimal_sparsity(law, cost, n, d_dense, max_sparsity, out);
    if (!out || !budget_ok(law, cost, strategy, n, d_dense) || !sparsity_ok(max_sparsity) ||
        max_sparsity < SL_PLAN_PRETRAINED_MIN)
        return SL_LAW_EINVAL;
    /* r has a kink at 0.75: each side is searched on its own. */
    pre_budget_ctx c = {law, cost, n, d_dense};
    double top = fmin(SL_PLAN_PRETRAINED_MAX, max_sparsity), f0, f1 = (double)INFINITY;
    double s = min1d(pre_budget_loss, &c, pre_s[0], fmin(top, pre_s[1]), &f0);
    if (top > pre_s[1]) {
        double s1 = min1d(pre_budget_loss, &c, pre_s[1], top, &f1);
        if (f1 < f0) s = s1;
    }
    return sl_plan_optimum_at(law, cost, strategy, n, d_dense, s, out);
}

/* ---- iso-S_opt lines ---- */

/* dL/dS = -A b_s x^(b_s-1) + B b_d h^(b_d-1) k / x^2 with A = a_s N^-b_n,
 * B = (a_d / D_dense)^b_d, h = g / x (sl_law.c); its zero at x gives B. */
double sl_plan_iso_sparsity_data(const sl_law *law, const sl_cost *cost, double n, double s) {
    double k = cost_k(cost), x = 1 - s;
    if (!(k > 0)) return (double)NAN;
    double h = sl_cost_mean_density(cost, s) / x;
    double log_b = log(law->a_s * law->b_s / (law->b_d * k)) - law->b_n * log(n) +
                   (law->b_s + 1) * log(x) - (law->b_d - 1) * log(h);
    return law->a_d * exp(-log_b / law->b_d);
}

/* ---- the compute frontier ---- */

static int frontier_query_ok(const sl_law *law, const sl_frontier_query *q) {
    if (!q || !sl_law_valid(law) || !sl_cost_valid(&q->cost) || !positive(q->compute) ||
        !(q->max_nonzeros > 0) || !sparsity_ok(q->max_sparsity) || (q->count && !q->sparsities))
        return 0;
    for (size_t i = 0; i < q->count; i++)
        if (!sparsity_ok(q->sparsities[i])) return 0;
    return 1;
}

/* With D = C x / (6 N g): L = A N^-b_n + B N^b_d + c, A = a_s x^b_s + c_s,
 * B = (6 a_d g / (C x))^b_d; stationary (and minimal) at
 * N^(b_n+b_d) = b_n A / (b_d B). Logs keep B and N in range. */
static void frontier_point(const sl_law *law, const sl_frontier_query *q, double s,
                           sl_frontier *out) {
    double x = 1 - s, g = sl_cost_mean_density(&q->cost, s);
    double a = law->a_s * pow(x, law->b_s) + law->c_s;
    double log_n =
        (log(law->b_n * a / law->b_d) - law->b_d * log(6 * law->a_d * g / (q->compute * x))) /
        (law->b_n + law->b_d);
    double n = exp(log_n);
    out->capped = n > q->max_nonzeros;
    if (out->capped) n = q->max_nonzeros;
    out->sparsity = s;
    out->nonzeros = n;
    out->data = q->compute * x / (6 * n * g);
    out->loss = sl_law_loss(law, s, n, out->data);
    out->chosen = q->count;
}

int sl_plan_frontier_at(const sl_law *law, const sl_frontier_query *q, double s, sl_frontier *out) {
    if (!out || !frontier_query_ok(law, q) || !sparsity_ok(s)) return SL_LAW_EINVAL;
    frontier_point(law, q, s, out);
    return SL_LAW_OK;
}

typedef struct frontier_ctx {
    const sl_law *law;
    double k;          /* the cost model's mean density at S = 1 */
    double log_ratio0; /* capped: log(b_s a_s M^-b_n / (b_d k (6 a_d M / C)^b_d)) */
} frontier_ctx;

/* The best S with N free is the zero of x d/dx of the loss at each x's
 * Chinchilla split, a function of the law and cost model only (not of C):
 * with N* in, L - c = (1 + b_n / b_d) (b_d / b_n)^(b_n / p) A^(b_d / p)
 * B^(b_n / p), p = b_n + b_d, so minimising L minimises log A + b_n log(g / x),
 * whose x-slope times x is b_s a_s x^b_s / A - b_n k / g: increasing in x
 * (docs/planning.md), so its zero is the minimum. */
static double frontier_free_slope(double x, const void *p) {
    const frontier_ctx *c = p;
    const sl_law *law = c->law;
    double u = law->a_s * pow(x, law->b_s);
    return law->b_s * u / (u + law->c_s) - law->b_n * c->k / (c->k + (1 - c->k) * x);
}

/* With N held at max_nonzeros M: x dL/dx = b_s a_s x^b_s M^-b_n -
 * b_d (k / g) (6 a_d M g / (C x))^b_d, increasing in x; in logs the ratio
 * of the two terms, so neither over- nor underflows. */
static double frontier_capped_slope(double x, const void *p) {
    const frontier_ctx *c = p;
    const sl_law *law = c->law;
    double g = c->k + (1 - c->k) * x;
    return c->log_ratio0 + (law->b_s + law->b_d) * log(x) - (law->b_d - 1) * log(g);
}

/* The sparsity minimising slope's loss on [0, max_s], its density
 * searched from x0 (NaN: the whole span); max_s where k = 0 (nothing stops
 * S from growing). */
static double frontier_min_s(plan_fn slope, const frontier_ctx *c, double max_s, double x0) {
    double xl = 1 - max_s, x;
    if (!(c->k > 0)) return max_s;
    if (isnan(x0))
        x = zero_near(slope, c, xl, 1, xl, 1 - xl);
    else
        x = zero_near(slope, c, xl, 1, fmin(fmax(x0, xl), 1), TARGET_NEAR_X);
    return fmin(fmax(1 - x, 0), max_s);
}

int sl_plan_frontier_solve_near(const sl_law *law, const sl_frontier_query *q,
                                const sl_frontier *near, sl_frontier *out) {
    if (!out || !frontier_query_ok(law, q)) return SL_LAW_EINVAL;
    frontier_point(law, q, 0, out);
    if (q->count) {
        for (size_t i = 0; i < q->count; i++) {
            sl_frontier cand;
            frontier_point(law, q, q->sparsities[i], &cand);
            if (cand.loss < out->loss) { /* strict: ties keep dense / the earlier one */
                *out = cand;
                out->chosen = i;
            }
        }
        return SL_LAW_OK;
    }
    double x0 = (double)NAN;
    if (near && sparsity_ok(near->sparsity)) x0 = 1 - near->sparsity;
    frontier_ctx c = {law, cost_k(&q->cost), 0};
    sl_frontier cand;
    frontier_point(law, q, frontier_min_s(frontier_free_slope, &c, q->max_sparsity, x0), &cand);
    /* The free optimum past the cap: the loss has no other local minimum,
     * so the capped one is on the bound, N = max_nonzeros. */
    if (cand.capped) {
        double m = q->max_nonzeros;
        c.log_ratio0 = log(law->a_s * law->b_s / (law->b_d * c.k)) - law->b_n * log(m) -
                       law->b_d * log(6 * law->a_d * m / q->compute);
        frontier_point(law, q, frontier_min_s(frontier_capped_slope, &c, q->max_sparsity, x0),
                       &cand);
    }
    /* A minimum this flat at S = 0 is dense: rounding must not invent sparsity. */
    if (cand.loss < out->loss * (1 - 4 * DBL_EPSILON)) *out = cand;
    return SL_LAW_OK;
}

int sl_plan_frontier_solve(const sl_law *law, const sl_frontier_query *q, sl_frontier *out) {
    return sl_plan_frontier_solve_near(law, q, NULL, out);
}

double sl_plan_dense_stationary(const sl_law *law) {
    if (!(law->b_s > law->b_n)) return (double)INFINITY;
    return law->b_n * law->c_s / (law->a_s * (law->b_s - law->b_n));
}

/* ---- inference-aware plans ---- */

static int inference_query_ok(const sl_law *law, const sl_inference_query *q) {
    return q && sl_law_valid(law) && sl_cost_valid(&q->cost) && isfinite(q->target_loss) &&
           isfinite(q->tokens) && q->tokens >= 0 && sparsity_ok(q->max_sparsity) &&
           q->max_nonzeros >= 0 && (q->kind == SL_INFER_NONZEROS || q->kind == SL_INFER_TOTAL);
}

/* The bound on N of q, INFINITY for none. */
static double inference_max_n(const sl_inference_query *q) {
    return q->max_nonzeros > 0 ? q->max_nonzeros : (double)INFINITY;
}

double sl_inference_total(const sl_law *law, const sl_inference_query *q, double n, double s) {
    double d = sl_plan_data_for_loss(law, SL_PLAN_SCRATCH, q->target_loss, s, n);
    if (!isfinite(d)) return (double)INFINITY;
    double k = q->kind == SL_INFER_TOTAL ? n / (1 - s) : n;
    return sl_plan_training_compute(&q->cost, s, n, d) + 2 * k * q->tokens;
}

/* The plan is searched in (r, x), r = L* - L(S, N, inf) the part of the
 * target left to data (D = a_d r^(-1/b_d)) and x = 1 - S, with N their
 * function: N^-b_n = (L* - c - r) / (a_s x^b_s + c_s). In (N, x) the cheap
 * plans for many inference tokens lie where r is a tiny difference of two
 * nearly equal terms, which doubles cannot resolve; in (r, x) every term
 * is a product, and every x in [xl, 1] reaches the target. */
typedef struct inference_ctx {
    const sl_law *law;
    double e0; /* L* - c */
    double xl; /* 1 - max_sparsity */
    double k;  /* the cost model's mean density at S = 1 */
    double w;  /* T / (3 a_d): inference over training is w r^(1/b_d) (1 or x) / g */
    int total; /* inference per total parameter */
    double *x; /* the last best density found: the next search starts there */
} inference_ctx;

typedef struct inference_at_r {
    const inference_ctx *c;
    double wr; /* w r^(1/b_d) */
} inference_at_r;

/* Inference compute over training compute at density x. */
static double inference_share(const inference_ctx *c, double wr, double x) {
    return wr * (c->total ? 1 : x) / (c->k + (1 - c->k) * x);
}

/* x d/dx log C at fixed r, C the total: N grows with x as
 * (a_s x^b_s + c_s)^(1/b_n), training per non-zero falls as g / x, and
 * inference per total parameter as 1 / x, each by its share of C. The
 * first term increases in x and the second's fraction decreases, so the
 * zero is the minimum. */
static double inference_x_slope(double x, const void *p) {
    const inference_at_r *t = p;
    const inference_ctx *c = t->c;
    const sl_law *law = c->law;
    double sp = law->a_s * pow(x, law->b_s), g = c->k + (1 - c->k) * x;
    double share = inference_share(c, t->wr, x);
    return law->b_s * sp / (law->b_n * (sp + law->c_s)) -
           (c->k / g + (c->total ? share : 0)) / (1 + share);
}

/* The best density at r = exp(log_r), searched from the last one found;
 * *share its inference share. */
static double inference_best_x(const inference_ctx *c, double log_r, double *share) {
    inference_at_r t = {c, c->w > 0 ? c->w * exp(log_r / c->law->b_d) : 0};
    double x = isnan(*c->x) ? zero_near(inference_x_slope, &t, c->xl, 1, c->xl, 1 - c->xl)
                            : zero_near(inference_x_slope, &t, c->xl, 1,
                                        fmin(fmax(*c->x, c->xl), 1), TARGET_NEAR_X);
    *c->x = x;
    *share = inference_share(c, t.wr, x);
    return x;
}

/* d log C / d log r at the best x (by the envelope theorem, the partial
 * derivative there): N's growth r / (b_n (L* - c - r)) against training's
 * fall -1 / b_d, weighted by training's part of C. Increasing in r, from
 * -1 / b_d at r -> 0; without inference its zero is
 * r = (L* - c) b_n / (b_n + b_d), and inference only moves it lower. */
static double inference_r_slope(double log_r, const void *p) {
    const inference_ctx *c = p;
    double share, r = exp(log_r);
    inference_best_x(c, log_r, &share);
    return r / (c->law->b_n * (c->e0 - r)) - 1 / (c->law->b_d * (1 + share));
}

/* N is searched from where the target becomes reachable at max_sparsity
 * (N_min) up by 18 decades, past any training-optimal N of a law whose
 * exponents are not tiny, and not past 1e30 (the largest N a client sends):
 * above that, the plan is the best S at the largest N. */
#define INFERENCE_DECADES 18.0
#define INFERENCE_MAX_N   1e30
/* log r is searched down to this far below log(L* - c). */
#define INFERENCE_LOG_R_SPAN 700.0
/* The first bracket's half-width in log r: about a near plan's, or from
 * the plan without inference. */
#define INFERENCE_NEAR_LOG_R 0.1
#define INFERENCE_COLD_LOG_R 1.0

/* The plan at n = exp(log_n) exactly: the best S for that N (the
 * target_slope of the plan for a target, with inference counted), searched
 * from x0 (NaN: the whole span). */
static double inference_best_x_at_n(const inference_ctx *c, double log_n, double x0) {
    const sl_law *law = c->law;
    double nb = exp(-law->b_n * log_n);
    target_ctx t = {c->e0 - law->c_s * nb, law->a_s * nb, law->b_s, law->b_d, c->k, 0,
                    c->total ? c->w : 0};
    return target_min_x(&t, c->xl, 1, x0);
}

/* out for the plan (n, S = 1 - x, d); SL_LAW_UNREACHABLE where it is not
 * finite (a target so far above the law that N or D leaves the doubles). */
static int inference_fill(const sl_law *law, const sl_inference_query *q, double n, double x,
                          double d, sl_inference_plan *out) {
    double s = fmin(fmax(1 - x, 0), q->max_sparsity);
    out->nonzeros = n;
    out->sparsity = s;
    out->data = d;
    out->loss = sl_law_loss(law, s, n, d);
    out->training_compute = sl_plan_training_compute(&q->cost, s, n, d);
    out->inference_compute = 2 * (q->kind == SL_INFER_TOTAL ? n / (1 - s) : n) * q->tokens;
    out->total_compute = out->training_compute + out->inference_compute;
    out->capped = 0;
    int finite = n > 0 && isfinite(n) && d > 0 && isfinite(d) && isfinite(out->loss) &&
                 isfinite(out->total_compute);
    return finite ? SL_LAW_OK : SL_LAW_UNREACHABLE;
}

/* The plan with N free (the bound of q not applied). */
static int inference_free(const sl_law *law, const sl_inference_query *q,
                          const sl_inference_plan *near, sl_inference_plan *out) {
    double e0 = q->target_loss - law->c;
    if (!(e0 > 0)) return SL_LAW_UNREACHABLE;
    double a_top = law->a_s * pow(1 - q->max_sparsity, law->b_s) + law->c_s;
    double lo = (log(a_top) - log(e0)) / law->b_n + 1e-9;
    double hi = fmin(lo + INFERENCE_DECADES * log(10), log(INFERENCE_MAX_N));
    if (!(lo < hi)) return SL_LAW_UNREACHABLE;
    double x_last = (double)NAN;
    inference_ctx c = {law,
                       e0,
                       1 - q->max_sparsity,
                       cost_k(&q->cost),
                       q->tokens / (3 * law->a_d),
                       q->kind == SL_INFER_TOTAL,
                       &x_last};
    double r_hi = log(e0 * law->b_n / (law->b_n + law->b_d)), r_lo = log(e0) - INFERENCE_LOG_R_SPAN;
    double t = r_hi, width = INFERENCE_COLD_LOG_R;
    if (near && near->nonzeros > 0 && isfinite(near->nonzeros) && sparsity_ok(near->sparsity)) {
        double xn = 1 - near->sparsity;
        double rn = e0 - (law->a_s * pow(xn, law->b_s) + law->c_s) * pow(near->nonzeros, -law->b_n);
        if (rn > 0) t = fmin(fmax(log(rn), r_lo), r_hi), width = INFERENCE_NEAR_LOG_R, x_last = xn;
    }
    double log_r = zero_near(inference_r_slope, &c, r_lo, r_hi, t, width), share;
    double x = inference_best_x(&c, log_r, &share), r = exp(log_r), n, d;
    double log_n = (log(law->a_s * pow(x, law->b_s) + law->c_s) - log(e0 - r)) / law->b_n;
    if (log_n <= hi) {
        n = exp(log_n);
        d = law->a_d * pow(r, -1 / law->b_d);
    } else { /* past the largest N searched: the best S there */
        x = inference_best_x_at_n(&c, hi, (double)NAN);
        if (isnan(x)) return SL_LAW_UNREACHABLE;
        n = exp(hi);
        d = sl_plan_data_for_loss(law, SL_PLAN_SCRATCH, q->target_loss, 1 - x, n);
    }
    return inference_fill(law, q, n, x, d, out);
}

/* The plan with N = m: the best S at that N, searched from near's. */
static int inference_at_n(const sl_law *law, const sl_inference_query *q, double m,
                          const sl_inference_plan *near, sl_inference_plan *out) {
    double x_last = (double)NAN;
    inference_ctx c = {law,
                       q->target_loss - law->c,
                       1 - q->max_sparsity,
                       cost_k(&q->cost),
                       q->tokens / (3 * law->a_d),
                       q->kind == SL_INFER_TOTAL,
                       &x_last};
    double x0 = near && sparsity_ok(near->sparsity) ? 1 - near->sparsity : (double)NAN;
    double x = inference_best_x_at_n(&c, log(m), x0);
    if (isnan(x)) return SL_LAW_UNREACHABLE;
    double d = sl_plan_data_for_loss(law, SL_PLAN_SCRATCH, q->target_loss, 1 - x, m);
    int rc = inference_fill(law, q, m, x, d, out);
    out->capped = 1;
    return rc;
}

int sl_inference_solve_near(const sl_law *law, const sl_inference_query *q,
                            const sl_inference_plan *near, sl_inference_plan *out) {
    if (!out || !inference_query_ok(law, q)) return SL_LAW_EINVAL;
    if (!(q->target_loss - law->c > 0)) return SL_LAW_UNREACHABLE;
    int rc = inference_free(law, q, near, out);
    double m = inference_max_n(q);
    if (isinf(m) || (rc == SL_LAW_OK && out->nonzeros <= m)) return rc;
    /* The free plan is past the bound (or not finite): the total has no
     * other local minimum, so the bounded plan has N on the bound. */
    return inference_at_n(law, q, m, near, out);
}

int sl_inference_solve(const sl_law *law, const sl_inference_query *q, sl_inference_plan *out) {
    return sl_inference_solve_near(law, q, NULL, out);
}

/* ---- GPU time ---- */

double sl_plan_gpu_hours(double compute, double peak_flops, double mfu, double speedup) {
    return compute / (peak_flops * mfu * speedup) / 3600.0;
}
