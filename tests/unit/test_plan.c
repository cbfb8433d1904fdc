/*
 * Unit tests for fitting/sl_plan.c: every answer against brute force on a
 * few hundred random laws and queries (docs/planning.md), with reference
 * formulas written here, not the library's.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>

#include "sl_law.h"
#include "sl_plan.h"
#include "sl_test.h"
#include "sl_test_sweeps.h"

static const sl_cost DENSE = {SL_COST_DENSE, 0, 0};
static const sl_cost GMP = {SL_COST_GMP, SL_COST_GMP_DEFAULT_START, SL_COST_GMP_DEFAULT_END};

#define MAXS SL_LAW_DEFAULT_MAX_SPARSITY

/* ---- independent reference formulas (beside sl_test.h's) ---- */

/* The paper's points, interpolated piecewise in (log(1 - S), log r). */
static double ref_factor(double s) {
    const double xs[] = {0.5, 0.25, 0.125}, rs[] = {4.90, 4.27, 2.45};
    int i = s <= 0.75 ? 0 : 1;
    double t = (log(1 - s) - log(xs[i])) / (log(xs[i + 1]) - log(xs[i]));
    return exp((1 - t) * log(rs[i]) + t * log(rs[i + 1]));
}

/* Data to reach target at (s, n) from scratch; inf where out of reach. */
static double ref_data(const sl_law *l, double target, double s, double n) {
    double r = target - l->c - (l->a_s * pow(1 - s, l->b_s) + l->c_s) * pow(n, -l->b_n);
    return r > 0 ? l->a_d * pow(r, -1 / l->b_d) : (double)INFINITY;
}

static double ref_compute(const sl_cost *c, double s, double n, double d) {
    return 6 * n / (1 - s) * d * sl_test_ref_density(c, s);
}

/* ---- random inputs (sl_test.h's RNG) ---- */

/* dense, the paper's gmp schedule, or a random gmp schedule. */
static sl_cost random_cost(int k) {
    if (k % 3 == 0) return DENSE;
    sl_cost c = GMP;
    if (k % 3 == 2) {
        c.prune_start = sl_test_uniform();
        c.prune_end = c.prune_start + (1 - c.prune_start) * sl_test_uniform();
    }
    return c;
}

/* ---- brute force in 2-D (log N, S): a grid, then zooms (1-D: sl_test.h) ---- */

typedef double (*fn2)(const void *ctx, double log_n, double s);

typedef struct brute2 {
    double log_n, s, f;
} brute2;

/* A 240 x 160 grid, then four zooms of 60 x 60 around the best cell. */
static brute2 brute_2d(fn2 f, const void *ctx, double nlo, double nhi, double slo, double shi) {
    brute2 b = {nlo, slo, (double)INFINITY};
    const double s_min = slo, s_max = shi;
    int nn = 240, ns = 160;
    for (int zoom = 0; zoom < 5; zoom++) {
        for (int i = 0; i <= nn; i++)
            for (int j = 0; j <= ns; j++) {
                double ln = nlo + (nhi - nlo) * i / nn, s = slo + (shi - slo) * j / ns;
                double v = f(ctx, ln, s);
                if (v < b.f) b.log_n = ln, b.s = s, b.f = v;
            }
        double hn = (nhi - nlo) / nn, hs = (shi - slo) / ns;
        nlo = b.log_n - hn, nhi = b.log_n + hn;
        slo = fmax(s_min, b.s - hs), shi = fmin(s_max, b.s + hs);
        nn = ns = 60;
    }
    return b;
}

/* t5-c4's sweep fitted on log residuals with 24 bootstrap resamples (seed
 * 11): the draws the server's intervals are taken over. */
static void fit_t5_draws(sl_fit_result *r) {
    sl_fit_row rows[64];
    size_t n = load_t5(rows, 64);
    cr_assert(n, "%s not found or empty", sl_test_data_path("t5-c4-sweep.csv"));
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = SL_FIT_RESIDUALS_LOG;
    o.loss.delta = 0.001;
    o.bootstrap = 24;
    o.seed = 11;
    char why[256] = "";
    cr_assert_eq(sl_fit(rows, n, &o, r, why, sizeof why), SL_FIT_OK, "sl_fit: %s", why);
    cr_assert(r->n_draws >= 20, "%zu draws", r->n_draws);
}

/* ---- pretrained factor ---- */

Test(pretrained, factor_points_and_interpolation) {
    const double s[] = {0.5, 0.75, 0.875}, r[] = {4.90, 4.27, 2.45};
    for (int i = 0; i < 3; i++) {
        double got;
        cr_assert_eq(sl_plan_pretrained_factor(s[i], &got), 0);
        assert_rel(got, r[i], 1e-14);
    }
    /* log r linear in log(1 - S): at the geometric mean of the densities the
     * factor is the geometric mean of the factors. */
    double got;
    cr_assert_eq(sl_plan_pretrained_factor(1 - sqrt(0.5 * 0.25), &got), 0);
    assert_rel(got, sqrt(4.90 * 4.27), 1e-13);
    cr_assert_eq(sl_plan_pretrained_factor(1 - sqrt(0.25 * 0.125), &got), 0);
    assert_rel(got, sqrt(4.27 * 2.45), 1e-13);
    sl_test_rng_seed(0x91a40001);
    for (int k = 0; k < 300; k++) {
        double si = 0.5 + 0.375 * sl_test_uniform();
        cr_assert_eq(sl_plan_pretrained_factor(si, &got), 0);
        assert_rel(got, ref_factor(si), 1e-13);
    }
    const double out[] = {0.4999, 0.8751, 0, 0.9, -1, (double)NAN, (double)INFINITY};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        cr_assert_eq(sl_plan_pretrained_factor(out[i], &got), SL_LAW_EINVAL, "S = %g", out[i]);
    cr_assert(isnan(sl_plan_loss(&SL_TEST_T5, SL_PLAN_PRETRAINED, 0.3, 1e9, 1e10)));
    assert_rel(sl_plan_loss(&SL_TEST_T5, SL_PLAN_PRETRAINED, 0.75, 1e9, 1e10),
               sl_test_ref_loss(&SL_TEST_T5, 0.75, 1e9, 4.27e10), 1e-14);
    assert_rel(sl_plan_loss(&SL_TEST_T5, SL_PLAN_SCRATCH, 0.3, 1e9, 1e10),
               sl_test_ref_loss(&SL_TEST_T5, 0.3, 1e9, 1e10), 1e-15);
}

/* ---- plans for a target loss ---- */

typedef struct plan_ctx {
    const sl_law *law;
    const sl_cost *cost;
    double target, n;
    int pretrained;
} plan_ctx;

static double plan_obj(const void *p, double s) {
    const plan_ctx *c = p;
    double d = ref_data(c->law, c->target, s, c->n);
    if (c->pretrained) d /= ref_factor(s);
    return ref_compute(c->cost, s, c->n, d);
}

static void check_plans(int pretrained, uint64_t seed) {
    sl_test_rng_seed(seed);
    int reachable = 0, resolved = 0, interior = 0, unreachable = 0, cases = 300;
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double n = sl_test_log_uniform(1e6, 1e11);
        double target =
            sl_test_ref_loss(&law, 0.95 * sl_test_uniform(), n, sl_test_log_uniform(1e8, 1e13));
        double maxs = k % 4 ? MAXS : 0.5 + 0.45 * sl_test_uniform();
        double lo = pretrained ? 0.5 : 0, hi = pretrained ? fmin(0.875, maxs) : maxs;
        sl_plan_query q = {target, n,           cost,
                           maxs,   (double)NAN, pretrained ? SL_PLAN_PRETRAINED : SL_PLAN_SCRATCH};
        plan_ctx ctx = {&law, &cost, target, n, pretrained};
        sl_test_brute b = sl_test_brute_min(plan_obj, &ctx, lo, hi);
        sl_law_plan p;
        int rc = sl_plan_solve(&law, &q, &p);
        if (!isfinite(b.f)) {
            cr_assert_eq(rc, SL_LAW_UNREACHABLE, "case %d: rc %d", k, rc);
            unreachable++;
            continue;
        }
        cr_assert_eq(rc, 0, "case %d: rc %d", k, rc);
        reachable++;
        cr_assert(p.sparsity >= lo && p.sparsity <= hi);
        cr_assert(p.compute <= b.f * (1 + 1e-12), "case %d: C %.17g > brute %.17g (S %g vs %g)", k,
                  p.compute, b.f, p.sparsity, b.s);
        if (b.resolved) {
            resolved++;
            assert_near(p.sparsity, b.s, 1.5 * b.step);
        }
        interior += p.sparsity > lo && p.sparsity < hi;
        assert_rel(p.compute, plan_obj(&ctx, p.sparsity), 1e-13);
        double eff = pretrained ? ref_factor(p.sparsity) * p.data : p.data;
        assert_rel(sl_test_ref_loss(&law, p.sparsity, n, eff), target, 1e-12);
        assert_rel(p.loss, target, 1e-12);
    }
    cr_assert(reachable > cases / 2 && unreachable > 0 && interior > cases / 5,
              "reachable %d unreachable %d interior %d", reachable, unreachable, interior);
    cr_assert(resolved > reachable / 2, "only %d of %d resolved", resolved, reachable);
}

Test(plan, both_cost_models_match_brute_force) {
    check_plans(0, 0x91a40002);
}

Test(plan, pretrained_matches_brute_force) {
    check_plans(1, 0x91a40003);
}

/* Under the dense cost model the numeric plan is the closed form of sl_law.c. */
Test(plan, dense_agrees_with_closed_form) {
    sl_test_rng_seed(0x91a40004);
    for (int k = 0; k < 300; k++) {
        sl_law law = sl_test_random_law();
        double n = sl_test_log_uniform(1e6, 1e11);
        double target =
            sl_test_ref_loss(&law, 0.95 * sl_test_uniform(), n, sl_test_log_uniform(1e8, 1e13));
        sl_plan_query q = {target, n, DENSE, MAXS, (double)NAN, SL_PLAN_SCRATCH};
        sl_law_plan a, b;
        int ra = sl_law_plan_min_compute(&law, target, n, MAXS, &a);
        int rb = sl_plan_solve(&law, &q, &b);
        cr_assert_eq(ra, rb, "case %d", k);
        if (ra) continue;
        assert_near(b.sparsity, a.sparsity, 1e-9);
        assert_rel(b.compute, a.compute, 1e-12);
    }
}

Test(plan, fixed_sparsity) {
    sl_test_rng_seed(0x91a40005);
    int reached = 0;
    for (int k = 0; k < 300; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double n = sl_test_log_uniform(1e6, 1e11), s = 0.99 * sl_test_uniform();
        double target =
            sl_test_ref_loss(&law, 0.95 * sl_test_uniform(), n, sl_test_log_uniform(1e8, 1e13));
        sl_plan_query q = {target, n, cost, MAXS, s, SL_PLAN_SCRATCH};
        sl_law_plan p;
        int rc = sl_plan_solve(&law, &q, &p);
        double d = ref_data(&law, target, s, n);
        if (!isfinite(d)) {
            cr_assert_eq(rc, SL_LAW_UNREACHABLE);
            continue;
        }
        cr_assert_eq(rc, 0);
        reached++;
        cr_assert(p.sparsity == s);
        assert_rel(p.data, d, 1e-13);
        assert_rel(p.compute, ref_compute(&cost, s, n, d), 1e-13);
        /* a fixed choice never beats the free one */
        q.fixed_sparsity = (double)NAN;
        sl_law_plan best;
        cr_assert_eq(sl_plan_solve(&law, &q, &best), 0);
        cr_assert(best.compute <= p.compute * (1 + 1e-12));
    }
    cr_assert(reached > 100, "%d", reached);
    /* pretrained outside the paper's span is refused */
    sl_plan_query q = {1.6, 1e9, DENSE, MAXS, 0.3, SL_PLAN_PRETRAINED};
    sl_law_plan p;
    cr_assert_eq(sl_plan_solve(&SL_TEST_T5, &q, &p), SL_LAW_EINVAL);
    q.fixed_sparsity = (double)NAN, q.max_sparsity = 0.4;
    cr_assert_eq(sl_plan_solve(&SL_TEST_T5, &q, &p), SL_LAW_EINVAL);
    q.fixed_sparsity = 0.75;
    cr_assert_eq(sl_plan_solve(&SL_TEST_T5, &q, &p), 0);
    assert_rel(p.data, ref_data(&SL_TEST_T5, 1.6, 0.75, 1e9) / 4.27, 1e-13);
}

/* ---- optimal sparsity with a pretrained start, and at a fixed S ---- */

static double pre_budget_obj(const void *p, double s) {
    const sl_test_budget *c = p;
    double d = sl_test_ref_data_seen(c->cost, s, c->dd);
    return sl_test_ref_loss(c->law, s, c->n, ref_factor(s) * d);
}

Test(optimum, pretrained_matches_brute_force) {
    sl_test_rng_seed(0x91a40006);
    int resolved = 0, interior = 0, cases = 300;
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double n = sl_test_log_uniform(1e6, 1e11), dd = sl_test_log_uniform(1e8, 1e14);
        double maxs = k % 4 ? MAXS : 0.5 + 0.45 * sl_test_uniform(), hi = fmin(0.875, maxs);
        sl_law_optimum o;
        cr_assert_eq(sl_plan_optimal_sparsity(&law, &cost, SL_PLAN_PRETRAINED, n, dd, maxs, &o), 0);
        sl_test_budget ctx = {&law, &cost, n, dd};
        sl_test_brute b = sl_test_brute_min(pre_budget_obj, &ctx, 0.5, hi);
        cr_assert(o.sparsity >= 0.5 && o.sparsity <= hi);
        cr_assert(o.loss <= b.f + 1e-14 * fabs(b.f), "case %d: %.17g > %.17g", k, o.loss, b.f);
        if (b.resolved) {
            resolved++;
            /* golden section stops at ~sqrt(eps) where the minimum is flat */
            assert_near(o.sparsity, b.s, fmax(1.5 * b.step, 1e-7));
        }
        interior += o.sparsity > 0.5 && o.sparsity < hi;
        assert_rel(o.loss, pre_budget_obj(&ctx, o.sparsity), 1e-14);
        assert_rel(o.data, sl_test_ref_data_seen(&cost, o.sparsity, dd), 1e-14);
        assert_rel(o.dense_loss, sl_test_ref_loss(&law, 0, n, dd), 1e-14);
    }
    cr_assert(resolved > cases / 3 && interior > 20, "resolved %d interior %d", resolved, interior);
}

Test(optimum, at_fixed_sparsity_and_scratch_passthrough) {
    sl_test_rng_seed(0x91a40007);
    for (int k = 0; k < 300; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double n = sl_test_log_uniform(1e6, 1e11), dd = sl_test_log_uniform(1e8, 1e14);
        double s = 0.99 * sl_test_uniform();
        sl_law_optimum o, best;
        cr_assert_eq(sl_plan_optimum_at(&law, &cost, SL_PLAN_SCRATCH, n, dd, s, &o), 0);
        double d = sl_test_ref_data_seen(&cost, s, dd);
        assert_rel(o.data, d, 1e-14);
        assert_rel(o.loss, sl_test_ref_loss(&law, s, n, d), 1e-14);
        cr_assert_eq(sl_plan_optimal_sparsity(&law, &cost, SL_PLAN_SCRATCH, n, dd, MAXS, &best), 0);
        cr_assert(best.loss <= o.loss * (1 + 1e-14));
        sl_law_optimum ref;
        cr_assert_eq(sl_law_optimal_sparsity(&law, &cost, n, dd, MAXS, &ref), 0);
        cr_assert(ref.sparsity == best.sparsity && ref.loss == best.loss);
    }
    sl_law_optimum o;
    cr_assert_eq(sl_plan_optimum_at(&SL_TEST_T5, &DENSE, SL_PLAN_PRETRAINED, 1e9, 1e11, 0.9, &o),
                 SL_LAW_EINVAL);
    cr_assert_eq(
        sl_plan_optimal_sparsity(&SL_TEST_T5, &DENSE, SL_PLAN_PRETRAINED, 1e9, 1e11, 0.3, &o),
        SL_LAW_EINVAL);
}

/* ---- iso-S_opt lines under both cost models ---- */

Test(iso, lines_are_where_s_opt_is_the_level) {
    sl_test_rng_seed(0x91a40008);
    int checked = 0;
    for (int k = 0; k < 300; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double n = sl_test_log_uniform(1e6, 1e11), s = 0.02 + 0.95 * sl_test_uniform();
        double dd = sl_plan_iso_sparsity_data(&law, &cost, n, s);
        if (!(dd > 0 && isfinite(dd))) {
            cr_assert(cost.prune_start == 0 && cost.prune_end == 0, "case %d: %g", k, dd);
            continue;
        }
        sl_law_optimum o;
        cr_assert_eq(sl_law_optimal_sparsity(&law, &cost, n, dd, MAXS, &o), 0);
        assert_near(o.sparsity, s, 1e-7);
        checked++;
        if (cost.model == SL_COST_DENSE)
            assert_rel(dd, sl_law_iso_sparsity_data(&law, n, s), 1e-12);
    }
    cr_assert(checked > 250);
    const sl_cost early = {SL_COST_GMP, 0, 0};
    cr_assert(isnan(sl_plan_iso_sparsity_data(&SL_TEST_T5, &early, 1e9, 0.5)));
}

/* ---- the compute frontier ---- */

typedef struct frontier_ctx {
    const sl_law *law;
    const sl_cost *cost;
    double c, max_n;
} frontier_ctx;

static double frontier_obj(const void *p, double log_n, double s) {
    const frontier_ctx *f = p;
    double n = exp(log_n);
    if (n > f->max_n) return (double)INFINITY;
    double d = f->c * (1 - s) / (6 * n * sl_test_ref_density(f->cost, s));
    return sl_test_ref_loss(f->law, s, n, d);
}

Test(frontier, matches_brute_force) {
    sl_test_rng_seed(0x91a40009);
    int capped = 0, sparse = 0, dense = 0, cases = 200;
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double c = sl_test_log_uniform(1e17, 1e25);
        double max_n = k % 4 == 1 ? sl_test_log_uniform(1e6, 1e10) : (double)INFINITY;
        double maxs = k % 5 ? MAXS : 0.9 * sl_test_uniform();
        sl_frontier_query q = {c, cost, max_n, maxs, NULL, 0};
        sl_frontier f;
        cr_assert_eq(sl_plan_frontier_solve(&law, &q, &f), 0);
        frontier_ctx ctx = {&law, &cost, c, max_n};
        /* the brute force may leave the cap only by the grid: pin N there too */
        double nhi = isfinite(max_n) ? log(max_n) : log(1e15);
        brute2 b = brute_2d(frontier_obj, &ctx, log(1e2), nhi, 0, maxs);
        cr_assert(f.loss <= b.f * (1 + 1e-13),
                  "case %d: loss %.17g > brute %.17g (S %g/%g N %g/%g)", k, f.loss, b.f, f.sparsity,
                  b.s, f.nonzeros, exp(b.log_n));
        cr_assert(f.sparsity >= 0 && f.sparsity <= maxs);
        cr_assert(f.nonzeros <= max_n);
        assert_rel(ref_compute(&cost, f.sparsity, f.nonzeros, f.data), c, 1e-13);
        assert_rel(f.loss, sl_test_ref_loss(&law, f.sparsity, f.nonzeros, f.data), 1e-14);
        capped += f.capped;
        sparse += f.sparsity > 0;
        dense += f.sparsity == 0;
    }
    cr_assert(capped > 10 && sparse > 20 && dense > 20, "capped %d sparse %d dense %d", capped,
              sparse, dense);
}

/* The loss at S with the best N for compute c, N at most max_n: the
 * Chinchilla split of planning.md, written out here. */
static double frontier_ref(const void *p, double s) {
    const frontier_ctx *f = p;
    const sl_law *l = f->law;
    double x = 1 - s, g = sl_test_ref_density(f->cost, s);
    double a = l->a_s * pow(x, l->b_s) + l->c_s, b = pow(6 * l->a_d * g / (f->c * x), l->b_d);
    double n = fmin(pow(l->b_n * a / (l->b_d * b), 1 / (l->b_n + l->b_d)), f->max_n);
    return sl_test_ref_loss(l, s, n, f->c * x / (6 * n * g));
}

/* frontier_ref in u = log(1 - S): a grid in u resolves an optimum at a
 * density of 1e-3 as finely as one near dense. */
static double frontier_ref_log_x(const void *p, double u) {
    return frontier_ref(p, -expm1(u));
}

/* One compute-optimal answer found by the search in S (from scratch and
 * from near) against a fine 1-D brute force of frontier_ref: the same loss
 * to 1e-12 and never above it; the answer. */
static sl_frontier check_frontier(const sl_law *law, const sl_cost *cost, double c, double max_n,
                                  double maxs, const sl_frontier *near, int k) {
    sl_frontier_query q = {c, *cost, max_n, maxs, NULL, 0};
    sl_frontier f, w;
    cr_assert_eq(sl_plan_frontier_solve(law, &q, &f), 0, "case %d", k);
    cr_assert_eq(sl_plan_frontier_solve_near(law, &q, near, &w), 0, "case %d", k);
    frontier_ctx ctx = {law, cost, c, max_n};
    sl_test_brute b = sl_test_brute_min(frontier_ref_log_x, &ctx, log1p(-maxs), 0);
    b.s = -expm1(b.s);
    cr_assert(f.loss <= b.f * (1 + 1e-14), "case %d: loss %.17g > brute %.17g (S %.17g / %.17g)", k,
              f.loss, b.f, f.sparsity, b.s);
    cr_assert(f.loss >= b.f * (1 - 1e-12),
              "case %d: loss %.17g, brute %.17g (S %.17g / %.17g, capped %d, resolved %d)", k,
              f.loss, b.f, f.sparsity, b.s, f.capped, b.resolved);
    assert_rel(w.loss, f.loss, 1e-14);
    assert_near(w.sparsity, f.sparsity, 1e-12);
    cr_assert_eq(w.capped, f.capped, "case %d", k);
    cr_assert(f.sparsity >= 0 && f.sparsity <= maxs && f.nonzeros <= max_n);
    assert_rel(f.loss, frontier_ref(&ctx, f.sparsity), 1e-14);
    assert_rel(ref_compute(cost, f.sparsity, f.nonzeros, f.data), c, 1e-13);
    return f;
}

/* 400 random laws and queries, both cost models (and random gmp windows),
 * with and without max_nonzeros, some with a low max_sparsity; each from
 * scratch and from the last case's answer. */
Test(frontier, search_in_s_matches_brute_force) {
    sl_test_rng_seed(0x91a4000e);
    int capped = 0, sparse = 0, dense = 0, top = 0, cases = 400;
    sl_frontier last = {0.99, 1e3, 1e3, 0, 0, 0};
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        if (k % 3 == 0) law.c_s *= 0.3; /* dense cost: sparse optima too */
        sl_cost cost = random_cost(k);
        double c = sl_test_log_uniform(1e17, 1e25);
        double max_n = k % 2 ? sl_test_log_uniform(1e6, 1e11) : (double)INFINITY;
        double maxs = k % 5 ? MAXS : 0.9 * sl_test_uniform();
        last = check_frontier(&law, &cost, c, max_n, maxs, k % 7 ? &last : NULL, k);
        capped += last.capped;
        sparse += last.sparsity > 0;
        dense += last.sparsity == 0;
        top += last.sparsity == maxs;
    }
    cr_assert(capped > 50 && sparse > 100 && dense > 20 && top > 5,
              "capped %d sparse %d dense %d at max_sparsity %d", capped, sparse, dense, top);
}

/* As GET compute-optimal's intervals do: t5-c4's sweep refitted on 24
 * bootstrap resamples, each draw asked at 1e19, 1e21 and 1e23 FLOPs, under
 * both cost models, free and with N at most 1e8 or 1e9, its search started
 * at the fit's answer. */
Test(frontier, fitted_draws_match_brute_force) {
    sl_fit_result r;
    fit_t5_draws(&r);
    const double budgets[] = {1e19, 1e21, 1e23}, caps[] = {(double)INFINITY, 1e8, 1e9};
    int capped = 0;
    for (int m = 0; m < 18; m++) {
        const sl_cost *cost = m & 1 ? &GMP : &DENSE;
        double c = budgets[m / 2 % 3], max_n = caps[m / 6];
        sl_frontier point = check_frontier(&r.law, cost, c, max_n, MAXS, NULL, m);
        for (size_t i = 0; i < r.n_draws; i++)
            capped +=
                check_frontier(&r.draws[i], cost, c, max_n, MAXS, &point, m * 100 + (int)i).capped;
    }
    cr_assert(capped > 100, "only %d capped", capped);
    sl_fit_result_free(&r);
}

/* planning.md: under dense cost, N free, the optimum is dense when
 * x^b_s = b_n c_s / (a_s (b_s - b_n)) >= 1, else at that x, at any compute. */
Test(frontier, dense_cost_stationary_point) {
    assert_near(sl_plan_dense_stationary(&SL_TEST_T5), 1.38, 0.005);
    assert_near(sl_plan_dense_stationary(&SL_TEST_VIT), 1.45, 0.005);
    sl_test_rng_seed(0x91a4000a);
    int below = 0, above = 0;
    for (int k = 0; k < 300; k++) {
        sl_law law = sl_test_random_law();
        if (k % 2) law.c_s *= 0.3; /* pushes the stationary point below 1 */
        double c = sl_test_log_uniform(1e17, 1e25);
        sl_frontier_query q = {c, DENSE, (double)INFINITY, MAXS, NULL, 0};
        sl_frontier f;
        cr_assert_eq(sl_plan_frontier_solve(&law, &q, &f), 0);
        double st = law.b_n * law.c_s / (law.a_s * (law.b_s - law.b_n));
        assert_rel(sl_plan_dense_stationary(&law), st, 1e-14);
        if (st >= 1) {
            cr_assert(f.sparsity == 0, "case %d: S %g with x^b_s = %g", k, f.sparsity, st);
            above++;
        } else {
            assert_near(f.sparsity, 1 - pow(st, 1 / law.b_s), 1e-12);
            below++;
        }
    }
    cr_assert(below > 30 && above > 30, "below %d above %d", below, above);
    sl_frontier f;
    sl_frontier_query q = {1e21, DENSE, (double)INFINITY, MAXS, NULL, 0};
    cr_assert_eq(sl_plan_frontier_solve(&SL_TEST_T5, &q, &f), 0);
    cr_assert(f.sparsity == 0 && !f.capped);
}

Test(frontier, patterns_and_fixed) {
    const double pats[] = {0.5, 0.75};
    sl_test_rng_seed(0x91a4000b);
    int won[3] = {0, 0, 0};
    for (int k = 0; k < 300; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double c = sl_test_log_uniform(1e17, 1e25);
        double max_n = k % 2 ? sl_test_log_uniform(1e6, 1e10) : (double)INFINITY;
        sl_frontier_query q = {c, cost, max_n, MAXS, pats, 2};
        sl_frontier f, at[3];
        cr_assert_eq(sl_plan_frontier_solve(&law, &q, &f), 0);
        const double cand[] = {0.5, 0.75, 0};
        size_t want = 2;
        for (size_t i = 0; i < 3; i++) {
            cr_assert_eq(sl_plan_frontier_at(&law, &q, cand[i], &at[i]), 0);
            /* the best N at fixed S, by a 1-D brute force in log N (and a zoom) */
            frontier_ctx ctx = {&law, &cost, c, max_n};
            double best = (double)INFINITY, arg = 0;
            double lo = 0, hi = isfinite(max_n) ? log(max_n) : log(1e24);
            for (int zoom = 0; zoom < 3; zoom++) {
                for (int j = 0; j <= 4000; j++) {
                    double ln = lo + (hi - lo) * j / 4000, v = frontier_obj(&ctx, ln, cand[i]);
                    if (v < best) best = v, arg = ln;
                }
                double h = (hi - lo) / 4000;
                lo = arg - h, hi = arg + h;
            }
            cr_assert(at[i].loss <= best * (1 + 1e-13), "case %d S %g", k, cand[i]);
            assert_rel(at[i].loss, best, 1e-7);
        }
        for (size_t i = 0; i < 2; i++)
            if (at[i].loss < at[want].loss) want = i;
        cr_assert_eq(f.chosen, want);
        won[want]++;
    }
    cr_assert(won[0] > 0 && won[1] > 0 && won[2] > 0, "%d %d %d", won[0], won[1], won[2]);
}

/* ---- inference-aware plans ---- */

typedef struct infer_ctx {
    const sl_law *law;
    const sl_cost *cost;
    double target, tokens;
    int total;
} infer_ctx;

static double infer_obj(const void *p, double log_n, double s) {
    const infer_ctx *c = p;
    double n = exp(log_n), d = ref_data(c->law, c->target, s, n);
    if (!isfinite(d)) return (double)INFINITY;
    return ref_compute(c->cost, s, n, d) + 2 * (c->total ? n / (1 - s) : n) * c->tokens;
}

/* How far from (log N, S) the minimum of the reference total is along
 * coordinate axis (0: log N, 1: S), by the vertex of the parabola through
 * t - h, t, t + h, whose h^2 bias Richardson's step removes (the vertex at
 * 4h has 16 times the bias): a few ulps of the total over its curvature,
 * far below the 1e-7 to which a search comparing totals can place it. */
static double vertex_offset(const infer_ctx *ctx, double u, double s, int axis) {
    double v[2], f0 = infer_obj(ctx, u, s);
    for (int i = 0; i < 2; i++) {
        double h = i ? 4e-5 : 1e-5, fm, fp;
        fm = axis ? infer_obj(ctx, u, s - h) : infer_obj(ctx, u - h, s);
        fp = axis ? infer_obj(ctx, u, s + h) : infer_obj(ctx, u + h, s);
        v[i] = h * (fm - fp) / (2 * (fm - 2 * f0 + fp));
    }
    return (16 * v[0] - v[1]) / 15;
}

/* The answer is stationary in log N at its S, and in S at its N where S is
 * inside (0, MAXS): located to 1e-9, not merely as cheap as the brute
 * force's best point. */
static void assert_stationary(const infer_ctx *ctx, const sl_inference_plan *p, int k) {
    double u = log(p->nonzeros), s = p->sparsity, du = vertex_offset(ctx, u, s, 0);
    cr_assert(fabs(du) <= 1e-9, "case %d: log N %.17g is %.3g from the minimum", k, u, du);
    if (s > 1e-4 && s < MAXS - 1e-4) {
        double ds = vertex_offset(ctx, u, s, 1);
        cr_assert(fabs(ds) <= 1e-9, "case %d: S %.17g is %.3g from the minimum", k, s, ds);
    }
}

/* One inference-aware plan against the brute force and the reference
 * formulas, and the same found from near (another plan: the search starts
 * there) against it; the plan. */
static sl_inference_plan check_inference(const sl_law *law, const sl_cost *cost, double target,
                                         double tokens, int total, const sl_inference_plan *near,
                                         int k) {
    sl_inference_query q = {target, tokens, total ? SL_INFER_TOTAL : SL_INFER_NONZEROS,
                            *cost,  MAXS,   (double)INFINITY};
    sl_inference_plan p, w;
    cr_assert_eq(sl_inference_solve(law, &q, &p), 0, "case %d", k);
    cr_assert_eq(sl_inference_solve_near(law, &q, near, &w), 0, "case %d", k);
    assert_rel(w.nonzeros, p.nonzeros, 1e-12);
    assert_near(w.sparsity, p.sparsity, 1e-12);
    assert_rel(w.total_compute, p.total_compute, 1e-13);
    infer_ctx ctx = {law, cost, target, tokens, total};
    brute2 b = brute_2d(infer_obj, &ctx, log(1e3), log(1e22), 0, MAXS);
    cr_assert(p.total_compute <= b.f * (1 + 1e-9), "case %d: %.17g > brute %.17g (N %g/%g S %g/%g)",
              k, p.total_compute, b.f, p.nonzeros, exp(b.log_n), p.sparsity, b.s);
    assert_rel(p.loss, target, 1e-12);
    assert_rel(p.training_compute, ref_compute(cost, p.sparsity, p.nonzeros, p.data), 1e-13);
    assert_rel(p.inference_compute,
               2 * (total ? p.nonzeros / (1 - p.sparsity) : p.nonzeros) * tokens, 1e-14);
    assert_rel(p.total_compute, p.training_compute + p.inference_compute, 1e-15);
    assert_rel(sl_inference_total(law, &q, p.nonzeros, p.sparsity), p.total_compute, 1e-13);
    assert_stationary(&ctx, &p, k);
    return p;
}

Test(inference, matches_brute_force) {
    sl_test_rng_seed(0x91a4000c);
    int sparse = 0, cases = 200;
    /* each search starts from the last case's plan (another law, far off),
     * or from scratch */
    sl_inference_plan last = {1e3, 0.99, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double target =
            sl_test_ref_loss(&law, 0.9 * sl_test_uniform(), sl_test_log_uniform(1e7, 1e11),
                             sl_test_log_uniform(1e9, 1e13));
        double tokens = k % 5 == 0 ? 0 : sl_test_log_uniform(1e8, 1e15);
        last = check_inference(&law, &cost, target, tokens, k % 2, k % 7 ? &last : NULL, k);
        sparse += last.sparsity > 0.01;
    }
    cr_assert(sparse > 20, "only %d sparse plans", sparse);
}

/* 1e24 to 1e30 inference tokens: the cheapest plan has the target barely
 * within reach (r = L* - L(S, N, inf) a tiny fraction of L* - c), where a
 * search in (N, S) cannot resolve r; still no costlier than the brute
 * force, on the target, and the same from a far-off start. */
Test(inference, many_tokens_match_brute_force) {
    sl_test_rng_seed(0x91a4000d);
    for (int k = 0; k < 120; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double target =
            sl_test_ref_loss(&law, 0.9 * sl_test_uniform(), sl_test_log_uniform(1e7, 1e11),
                             sl_test_log_uniform(1e9, 1e13));
        double tokens = sl_test_log_uniform(1e24, 1e30);
        int total = k % 2;
        sl_inference_query q = {target, tokens, total ? SL_INFER_TOTAL : SL_INFER_NONZEROS,
                                cost,   MAXS,   (double)INFINITY};
        sl_inference_plan p, w, far = {1e12, 0.5, 0, 0, 0, 0, 0, 0};
        cr_assert_eq(sl_inference_solve(&law, &q, &p), 0, "case %d", k);
        cr_assert_eq(sl_inference_solve_near(&law, &q, &far, &w), 0, "case %d", k);
        infer_ctx ctx = {&law, &cost, target, tokens, total};
        brute2 b = brute_2d(infer_obj, &ctx, log(1e3), log(1e22), 0, MAXS);
        cr_assert(p.total_compute <= b.f * (1 + 1e-9),
                  "case %d: %.17g > brute %.17g (N %g/%g S %g/%g)", k, p.total_compute, b.f,
                  p.nonzeros, exp(b.log_n), p.sparsity, b.s);
        assert_rel(p.loss, target, 1e-12);
        assert_rel(p.total_compute, p.training_compute + p.inference_compute, 1e-15);
        assert_rel(w.total_compute, p.total_compute, 1e-12);
    }
}

/* The draws of a fitted law, each solving the same query, as GET plan's
 * intervals do: t5-c4's sweep refitted on 24 bootstrap resamples, each draw
 * asked for loss 2.4 and 1.40, with no and 1e13 inference tokens, per
 * non-zero and per total parameter, under both cost models. */
Test(inference, fitted_draws_match_brute_force) {
    sl_fit_result r;
    fit_t5_draws(&r);
    for (int m = 0; m < 16; m++) {
        const sl_cost *cost = m & 1 ? &GMP : &DENSE;
        double target = m & 8 ? 1.40 : 2.4, tokens = m & 4 ? 1e13 : 0;
        int total = m >> 1 & 1;
        /* as the server does: each draw's search starts at the fit's plan */
        sl_inference_plan point = check_inference(&r.law, cost, target, tokens, total, NULL, m);
        for (size_t i = 0; i < r.n_draws; i++)
            check_inference(&r.draws[i], cost, target, tokens, total, &point, m * 100 + (int)i);
    }
    sl_fit_result_free(&r);
}

/* density in u = log(1 - S) at N = exp(log_n), for the 1-D brute force */
typedef struct infer_at_n_ctx {
    const infer_ctx *c;
    double log_n;
} infer_at_n_ctx;

static double infer_at_n_obj(const void *p, double u) {
    const infer_at_n_ctx *a = p;
    return infer_obj(a->c, a->log_n, -expm1(u));
}

/* infer_obj with N at most max_n (brute_2d's zooms may step past its
 * range) */
typedef struct infer_bounded_ctx {
    infer_ctx c;
    double max_n;
} infer_bounded_ctx;

static double infer_bounded_obj(const void *p, double log_n, double s) {
    const infer_bounded_ctx *b = p;
    return exp(log_n) > b->max_n ? (double)INFINITY : infer_obj(&b->c, log_n, s);
}

/* The least N that reaches target at max_sparsity (with unlimited data). */
static double ref_n_min(const sl_law *l, double target) {
    return pow((l->a_s * pow(1 - MAXS, l->b_s) + l->c_s) / (target - l->c), 1 / l->b_n);
}

/* The plan with N at most max_n: the free plan where that is within the
 * bound, else N on the bound with the S there stationary (to 1e-9) and no
 * costlier than a 1-D brute force in log(1 - S) at N = max_n or a 2-D one
 * over N <= max_n; none below the least N that reaches the target; the
 * same from near. Returns 1 for a plan on the bound, 0 off it, -1 none. */
static int check_bounded(const sl_law *law, const sl_cost *cost, double target, double tokens,
                         int total, double max_n, const sl_inference_plan *near,
                         sl_inference_plan *p, int k) {
    sl_inference_query q = {target, tokens, total ? SL_INFER_TOTAL : SL_INFER_NONZEROS,
                            *cost,  MAXS,   (double)INFINITY};
    sl_inference_plan f, w;
    cr_assert_eq(sl_inference_solve(law, &q, &f), 0, "case %d", k);
    cr_assert(!f.capped);
    q.max_nonzeros = max_n;
    int rc = sl_inference_solve(law, &q, p);
    cr_assert_eq(sl_inference_solve_near(law, &q, near, &w), rc, "case %d", k);
    double n_min = ref_n_min(law, target);
    if (max_n < n_min * (1 - 1e-12)) {
        cr_assert_eq(rc, SL_LAW_UNREACHABLE, "case %d: bound %g below %g", k, max_n, n_min);
        return -1;
    }
    if (max_n < n_min * (1 + 1e-9)) return rc ? -1 : p->capped; /* on the edge */
    cr_assert_eq(rc, 0, "case %d: bound %g, least N %g", k, max_n, n_min);
    assert_rel(w.total_compute, p->total_compute, 1e-13);
    assert_near(w.sparsity, p->sparsity, 1e-10);
    cr_assert_eq(w.capped, p->capped);
    if (f.nonzeros <= max_n) {
        cr_assert(!p->capped && p->nonzeros == f.nonzeros && p->sparsity == f.sparsity, "case %d",
                  k);
        return 0;
    }
    cr_assert(p->capped && p->nonzeros == max_n, "case %d: N %g, bound %g", k, p->nonzeros, max_n);
    cr_assert(p->total_compute >= f.total_compute * (1 - 1e-12), "case %d", k);
    assert_rel(p->loss, target, 1e-12);
    assert_rel(p->training_compute, ref_compute(cost, p->sparsity, p->nonzeros, p->data), 1e-13);
    assert_rel(p->inference_compute,
               2 * (total ? p->nonzeros / (1 - p->sparsity) : p->nonzeros) * tokens, 1e-14);
    infer_ctx ctx = {law, cost, target, tokens, total};
    infer_at_n_ctx at = {&ctx, log(max_n)};
    sl_test_brute b1 = sl_test_brute_min(infer_at_n_obj, &at, log1p(-MAXS), 0);
    cr_assert(p->total_compute <= b1.f * (1 + 1e-12), "case %d: %.17g > %.17g", k, p->total_compute,
              b1.f);
    double s = p->sparsity;
    if (s > 1e-4 && s < MAXS - 1e-4) {
        double ds = vertex_offset(&ctx, log(max_n), s, 1);
        cr_assert(fabs(ds) <= 1e-9, "case %d: S %.17g is %.3g from the minimum", k, s, ds);
    }
    infer_bounded_ctx bc = {ctx, max_n};
    brute2 b = brute_2d(infer_bounded_obj, &bc, log(1e3), log(max_n), 0, MAXS);
    cr_assert(p->total_compute <= b.f * (1 + 1e-9),
              "case %d: %.17g > brute %.17g (N %g/%g S %g/%g)", k, p->total_compute, b.f,
              p->nonzeros, exp(b.log_n), p->sparsity, b.s);
    return 1;
}

/* max_nonzeros 0.01 to 0.9 times the free plan's N (on the bound, or below
 * the least N that reaches the target) and 1.001 and 10 times it (off it), 200
 * random laws and queries. */
Test(inference, max_nonzeros_matches_brute_force) {
    sl_test_rng_seed(0x91a4000f);
    const double factors[] = {0.01, 0.1, 0.5, 0.9, 1.001, 10};
    sl_inference_plan last = {1e3, 0.99, 0, 0, 0, 0, 0, 0};
    int seen[3] = {0, 0, 0}, sparse = 0;
    for (int k = 0; k < 200; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = random_cost(k);
        double target =
            sl_test_ref_loss(&law, 0.9 * sl_test_uniform(), sl_test_log_uniform(1e7, 1e11),
                             sl_test_log_uniform(1e9, 1e13));
        double tokens = k % 5 == 0 ? 0 : sl_test_log_uniform(1e8, 1e15);
        sl_inference_query q = {target, tokens, k % 2 ? SL_INFER_TOTAL : SL_INFER_NONZEROS,
                                cost,   MAXS,   0};
        sl_inference_plan f, p;
        cr_assert_eq(sl_inference_solve(&law, &q, &f), 0, "case %d", k);
        int on = check_bounded(&law, &cost, target, tokens, k % 2, factors[k % 6] * f.nonzeros,
                               &last, &p, k);
        seen[on + 1]++;
        sparse += on == 1 && p.sparsity > 0.01;
        if (on >= 0 && k % 3) last = p;
    }
    cr_assert(seen[0] > 5 && seen[1] > 40 && seen[2] > 60 && sparse > 30,
              "none %d off %d on %d (sparse %d)", seen[0], seen[1], seen[2], sparse);
    sl_inference_query q = {1.40, 1e13, SL_INFER_NONZEROS, DENSE, MAXS, -1};
    sl_inference_plan p;
    cr_assert_eq(sl_inference_solve(&SL_TEST_T5, &q, &p), SL_LAW_EINVAL);
}

/* The bound on fitted draws, as GET plan's intervals do: t5-c4's 24 draws,
 * each bounded at the same max_nonzeros (the geometric mean of the fit's
 * least N for the target and its free plan's N, and 3 times that N), its
 * search started at the fit's plan. */
Test(inference, fitted_draws_with_max_nonzeros) {
    sl_fit_result r;
    fit_t5_draws(&r);
    int seen[3] = {0, 0, 0};
    for (int m = 0; m < 16; m++) {
        const sl_cost *cost = m & 1 ? &GMP : &DENSE;
        double target = m & 8 ? 1.40 : 2.4, tokens = m & 4 ? 1e13 : 0;
        int total = m >> 1 & 1;
        sl_inference_query q = {target, tokens, total ? SL_INFER_TOTAL : SL_INFER_NONZEROS,
                                *cost,  MAXS,   0};
        sl_inference_plan fit_free, point;
        cr_assert_eq(sl_inference_solve(&r.law, &q, &fit_free), 0);
        for (int b = 0; b < 2; b++) {
            double max_n =
                b ? 3 * fit_free.nonzeros : sqrt(ref_n_min(&r.law, target) * fit_free.nonzeros);
            cr_assert_eq(check_bounded(&r.law, cost, target, tokens, total, max_n, NULL, &point, m),
                         !b);
            for (size_t i = 0; i < r.n_draws; i++) {
                sl_inference_plan p;
                seen[check_bounded(&r.draws[i], cost, target, tokens, total, max_n, &point, &p,
                                   m * 100 + (int)i) +
                     1]++;
            }
        }
    }
    cr_assert(seen[2] > 150 && seen[1] > 150, "none %d off %d on %d", seen[0], seen[1], seen[2]);
    sl_fit_result_free(&r);
}

/* More inference tokens never make the plan's model bigger. */
Test(inference, tokens_shrink_the_model) {
    double prev = (double)INFINITY;
    for (double t = 0; t <= 1e15; t = t > 0 ? t * 10 : 1e9) {
        sl_inference_query q = {1.40, t, SL_INFER_NONZEROS, DENSE, MAXS, (double)INFINITY};
        sl_inference_plan p;
        cr_assert_eq(sl_inference_solve(&SL_TEST_T5, &q, &p), 0);
        cr_assert(p.nonzeros <= prev * (1 + 1e-6), "T %g: N %g > %g", t, p.nonzeros, prev);
        prev = p.nonzeros;
    }
    sl_inference_query bad = {0.6,   1e12, SL_INFER_NONZEROS,
                              DENSE, MAXS, (double)INFINITY}; /* below c */
    sl_inference_plan p;
    cr_assert_eq(sl_inference_solve(&SL_TEST_T5, &bad, &p), SL_LAW_UNREACHABLE);
    bad.tokens = -1;
    cr_assert_eq(sl_inference_solve(&SL_TEST_T5, &bad, &p), SL_LAW_EINVAL);
}

/* ---- GPU time ---- */

Test(gpu, hours) {
    assert_rel(sl_plan_gpu_hours(989e12 * 0.4 * 3600, 989e12, 0.4, 1), 1.0, 1e-15);
    assert_rel(sl_plan_gpu_hours(1e21, 312e12, 0.5, 2), 1e21 / (312e12 * 0.5 * 2) / 3600, 1e-15);
}
