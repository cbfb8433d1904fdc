/*
 * Unit tests for fitting/sl_law.c: the reference values of
 * shared/notes/law-math.md §6, and the optimisers against brute force.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>

#include "sl_law.h"
#include "sl_test.h"

static const sl_cost DENSE = {SL_COST_DENSE, 0, 0};
static const sl_cost GMP = {SL_COST_GMP, SL_COST_GMP_DEFAULT_START, SL_COST_GMP_DEFAULT_END};

#define MAXS SL_LAW_DEFAULT_MAX_SPARSITY

/* ---- independent reference formulas (not the library's) ---- */

static double ref_budget_loss(const sl_law *l, const sl_cost *c, double n, double dd, double s) {
    return sl_test_ref_loss(l, s, n, sl_test_ref_data_seen(c, s, dd));
}

/* Compute needed to reach target at sparsity s (dense cost); inf if infeasible. */
static double ref_plan_compute(const sl_law *l, double target, double n, double s) {
    double r = target - l->c - (l->a_s * pow(1 - s, l->b_s) + l->c_s) * pow(n, -l->b_n);
    if (!(r > 0)) return (double)INFINITY;
    return 6 * n * l->a_d * pow(r, -1 / l->b_d) / (1 - s);
}

static double budget_obj(const void *p, double s) {
    const sl_test_budget *c = p;
    return ref_budget_loss(c->law, c->cost, c->n, c->dd, s);
}

typedef struct plan_ctx {
    const sl_law *law;
    double target, n;
} plan_ctx;

static double plan_obj(const void *p, double s) {
    const plan_ctx *c = p;
    return ref_plan_compute(c->law, c->target, c->n, s);
}

/* ---- coefficient table and validity ---- */

Test(law, coef_names_and_access) {
    static const char *const want[] = {"a_s", "b_s", "c_s", "b_n", "a_d", "b_d", "c"};
    sl_law l = SL_TEST_VIT;
    const double vals[] = {SL_TEST_VIT.a_s, SL_TEST_VIT.b_s, SL_TEST_VIT.c_s, SL_TEST_VIT.b_n,
                           SL_TEST_VIT.a_d, SL_TEST_VIT.b_d, SL_TEST_VIT.c};
    for (size_t i = 0; i < SL_LAW_NCOEF; i++) {
        cr_assert_str_eq(sl_law_coef_names[i], want[i]);
        cr_assert(sl_law_coef_get(&l, i) == vals[i]);
        *sl_law_coef(&l, i) = (double)i + 0.5;
        cr_assert(sl_law_coef_get(&l, i) == (double)i + 0.5);
    }
    cr_assert(l.a_s == 0.5 && l.c == 6.5);
    cr_assert_null(sl_law_coef(&l, SL_LAW_NCOEF));
    cr_assert_null(sl_law_coef(NULL, 0));
    cr_assert(isnan(sl_law_coef_get(&l, SL_LAW_NCOEF)));
}

Test(law, valid) {
    cr_assert(sl_law_valid(&SL_TEST_VIT));
    cr_assert(sl_law_valid(&SL_TEST_T5));
    cr_assert_not(sl_law_valid(NULL));
    sl_law zero_c = SL_TEST_T5;
    zero_c.c = 0;
    cr_assert(sl_law_valid(&zero_c));
    const double bad[] = {0, -1, (double)NAN, (double)INFINITY, -(double)INFINITY};
    for (size_t i = 0; i < SL_LAW_NCOEF; i++) {
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            if (i == 6 && bad[j] == 0) continue; /* c = 0 is allowed */
            sl_law l = SL_TEST_VIT;
            *sl_law_coef(&l, i) = bad[j];
            cr_assert_not(sl_law_valid(&l), "%s = %g accepted", sl_law_coef_names[i], bad[j]);
        }
    }
}

Test(law, cost_valid_and_density) {
    cr_assert(sl_cost_valid(&DENSE));
    cr_assert(sl_cost_valid(&GMP));
    cr_assert_not(sl_cost_valid(NULL));
    const sl_cost bad[] = {
        {(sl_cost_model)7, 0.25, 0.75},  {SL_COST_GMP, 0.8, 0.2},
        {SL_COST_GMP, -0.1, 0.5},        {SL_COST_GMP, 0.2, 1.1},
        {SL_COST_GMP, (double)NAN, 0.5}, {SL_COST_GMP, 0.2, (double)INFINITY},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(sl_cost_valid(&bad[i]), "cost %zu accepted", i);
    for (double s = 0; s < 1; s += 0.125) {
        cr_assert(sl_cost_mean_density(&DENSE, s) == 1);
        assert_near(sl_cost_mean_density(&GMP, s), 1 - 0.625 * s, 1e-15); /* law-math §4 */
        assert_rel(sl_cost_data_seen(&DENSE, s, 1e10), 1e10 * (1 - s), 1e-15);
        assert_rel(sl_cost_data_seen(&GMP, s, 1e10), 1e10 * (1 - s) / (1 - 0.625 * s), 1e-15);
    }
}

/* ---- law-math §6 reference values ---- */

Test(law, loss_table) {
    const struct {
        const sl_law *law;
        double s, n, d, loss;
    } t[] = {
        {&SL_TEST_VIT, 0, 1e8, 1e9, 5.3500787637},
        {&SL_TEST_VIT, 0.5, 1e8, 1e10, 5.0147355131},
        {&SL_TEST_VIT, 0.875, 1e9, 1e11, 4.6752193138},
        {&SL_TEST_T5, 0, 1e8, 1e9, 2.2543229175},
        {&SL_TEST_T5, 0.5, 1e8, 1e10, 1.8361144547},
        {&SL_TEST_T5, 0.875, 1e9, 1e11, 1.3187432851},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        double l = sl_law_loss(t[i].law, t[i].s, t[i].n, t[i].d);
        assert_near(l, t[i].loss, 1e-9); /* table has 10 decimals */
        double floor = sl_law_loss_floor(t[i].law, t[i].n, t[i].d);
        cr_assert(floor < l);
        assert_rel(sl_law_loss(t[i].law, 1 - 1e-12, t[i].n, t[i].d), floor, 1e-6);
        assert_rel(sl_law_total_params(t[i].s, t[i].n), t[i].n / (1 - t[i].s), 1e-15);
    }
}

Test(law, optimal_sparsity_table) {
    const struct {
        const sl_law *law;
        double n, dd, s, loss, dense_loss;
    } t[] = {
        {&SL_TEST_VIT, 1e8, 1e10, 0.631446, 5.039153, 5.107751},
        {&SL_TEST_VIT, 1e9, 2e11, 0.868448, 4.686434, 4.744209},
        {&SL_TEST_T5, 1e8, 1e10, 0.118715, 1.907471, 1.908384},
        {&SL_TEST_T5, 1e9, 2e11, 0.158611, 1.351129, 1.352074},
        {&SL_TEST_T5, 1e8, 2e12, 0.724266, 1.473627, 1.525479},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sl_law_optimum o;
        cr_assert_eq(sl_law_optimal_sparsity(t[i].law, &DENSE, t[i].n, t[i].dd, MAXS, &o), 0);
        /* 6 decimals in the table: half a unit of the last digit */
        assert_near(o.sparsity, t[i].s, 5e-7);
        assert_near(o.loss, t[i].loss, 5e-7);
        assert_near(o.dense_loss, t[i].dense_loss, 5e-7);
        assert_rel(o.data, t[i].dd * (1 - o.sparsity), 1e-14);
        assert_rel(o.loss, sl_test_ref_loss(t[i].law, o.sparsity, t[i].n, o.data), 1e-14);
    }
}

Test(law, dense_multiplier_table) {
    const double s[] = {0.5, 0.75, 0.875};
    const double vit[] = {1.5960, 2.1724, 2.6339}, t5[] = {1.5860, 2.1568, 2.6300};
    for (size_t i = 0; i < 3; i++) {
        assert_near(sl_law_dense_multiplier(&SL_TEST_VIT, s[i]), vit[i], 5e-5); /* 4 decimals */
        assert_near(sl_law_dense_multiplier(&SL_TEST_T5, s[i]), t5[i], 5e-5);
    }
    assert_near(sl_law_dense_multiplier(&SL_TEST_VIT, 0), 1, 1e-15);
    /* The multiplier really is an equivalence: same loss as the dense model. */
    double m = sl_law_dense_multiplier(&SL_TEST_T5, 0.75);
    assert_rel(sl_law_loss(&SL_TEST_T5, 0, m * 1e8, 1e10),
               sl_law_loss(&SL_TEST_T5, 0.75, 1e8, 1e10), 1e-13);
    const sl_law *laws[] = {&SL_TEST_VIT, &SL_TEST_T5};
    for (size_t i = 0; i < 2; i++) {
        const sl_law *l = laws[i];
        assert_rel(sl_law_dense_multiplier_limit(l), pow((l->a_s + l->c_s) / l->c_s, 1 / l->b_n),
                   1e-14);
        assert_rel(sl_law_dense_multiplier(l, 1 - 1e-15), sl_law_dense_multiplier_limit(l), 1e-9);
    }
}

Test(law, d0_over_dchin_table) {
    const double n[] = {1e6, 1e8, 1e11};
    for (size_t i = 0; i < 3; i++) {
        assert_near(sl_law_sparsity_pays_data(&SL_TEST_VIT, &DENSE, n[i]) /
                        sl_law_dense_optimal_data(&SL_TEST_VIT, n[i]),
                    1.27055, 5e-6);
        assert_near(sl_law_sparsity_pays_data(&SL_TEST_T5, &DENSE, n[i]) /
                        sl_law_dense_optimal_data(&SL_TEST_T5, n[i]),
                    3.01475, 5e-6);
    }
}

/* D_chin is where the dense loss at fixed C = 6 N D is stationary in N. */
Test(law, dense_optimal_data_is_compute_optimal) {
    const sl_law *laws[] = {&SL_TEST_VIT, &SL_TEST_T5};
    for (size_t i = 0; i < 2; i++) {
        double n = 3e8, d = sl_law_dense_optimal_data(laws[i], n), c = 6 * n * d;
        double h = 1e-4;
        double lm = sl_test_ref_loss(laws[i], 0, n * (1 - h), c / (6 * n * (1 - h)));
        double l0 = sl_test_ref_loss(laws[i], 0, n, d);
        double lp = sl_test_ref_loss(laws[i], 0, n * (1 + h), c / (6 * n * (1 + h)));
        cr_assert(l0 < lm && l0 < lp);
        assert_near((lp - lm) / (2 * h), 0, 1e-9); /* dL/dlogN */
    }
}

/* ---- optimal sparsity against brute force ---- */

static void check_against_brute(const sl_cost *cost_fixed, int random_schedule) {
    sl_test_rng_seed(random_schedule ? 0x5eed0002 : 0x5eed0001);
    int resolved = 0, cases = 300;
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        sl_cost cost = *cost_fixed;
        if (random_schedule && k % 2) {
            cost.prune_start = sl_test_uniform();
            cost.prune_end = cost.prune_start + (1 - cost.prune_start) * sl_test_uniform();
        }
        double n = sl_test_log_uniform(1e6, 1e11), dd = sl_test_log_uniform(1e8, 1e13);
        sl_law_optimum o;
        cr_assert_eq(sl_law_optimal_sparsity(&law, &cost, n, dd, MAXS, &o), 0);
        sl_test_budget ctx = {&law, &cost, n, dd};
        sl_test_brute b = sl_test_brute_min(budget_obj, &ctx, 0, MAXS);

        cr_assert(o.sparsity >= 0 && o.sparsity <= MAXS);
        cr_assert(o.loss <= b.f + 1e-14 * fabs(b.f),
                  "case %d: loss %.17g > brute %.17g at %g vs %g", k, o.loss, b.f, o.sparsity, b.s);
        if (b.resolved) {
            resolved++;
            assert_near(o.sparsity, b.s, 1.5 * b.step);
        }
        assert_rel(o.loss, budget_obj(&ctx, o.sparsity), 1e-14);
        assert_rel(o.data, sl_test_ref_data_seen(&cost, o.sparsity, dd), 1e-14);
        assert_rel(o.dense_loss, sl_test_ref_loss(&law, 0, n, dd), 1e-14);
    }
    /* The location check must not be vacuous. */
    cr_assert(resolved > cases / 2, "only %d of %d locations resolved", resolved, cases);
}

Test(optimum, dense_matches_brute_force) {
    check_against_brute(&DENSE, 0);
}
Test(optimum, gmp_matches_brute_force) {
    check_against_brute(&GMP, 1);
}

/* With pruning confined to the very end (t0 = t1 = 1) gmp costs what dense
 * does: the numeric search must reproduce the closed form. */
Test(optimum, gmp_degenerate_schedule_matches_closed_form) {
    const sl_cost late = {SL_COST_GMP, 1, 1};
    sl_test_rng_seed(0x5eed0003);
    int interior = 0;
    for (int k = 0; k < 200; k++) {
        sl_law law = sl_test_random_law();
        double n = sl_test_log_uniform(1e6, 1e11), dd = sl_test_log_uniform(1e8, 1e13);
        sl_law_optimum a, b;
        cr_assert_eq(sl_law_optimal_sparsity(&law, &DENSE, n, dd, MAXS, &a), 0);
        cr_assert_eq(sl_law_optimal_sparsity(&law, &late, n, dd, MAXS, &b), 0);
        assert_near(b.sparsity, a.sparsity, 1e-9);
        assert_rel(b.loss, a.loss, 1e-14);
        interior += a.sparsity > 0 && a.sparsity < MAXS;
    }
    cr_assert(interior > 50, "only %d interior optima", interior);
}

Test(optimum, clipping_to_max_sparsity) {
    const sl_cost *costs[] = {&DENSE, &GMP};
    for (size_t i = 0; i < 2; i++) {
        sl_law_optimum o;
        cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_T5, costs[i], 1e6, 1e20, 0.9, &o), 0);
        cr_assert(o.sparsity == 0.9);
        cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_T5, costs[i], 1e8, 1e12, 0, &o), 0);
        cr_assert(o.sparsity == 0);
        assert_rel(o.loss, o.dense_loss, 1e-15);
        cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, costs[i], 1e10, 1e8, MAXS, &o), 0);
        cr_assert(o.sparsity == 0);
    }
    /* gmp with pruning from the start (t0 = t1 = 0) sees all of the data at any
     * S, so the most sparsity wins and sparsity pays from the smallest budget. */
    const sl_cost early = {SL_COST_GMP, 0, 0};
    sl_law_optimum o;
    cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &early, 1e8, 1e8, 0.95, &o), 0);
    cr_assert(o.sparsity == 0.95);
    cr_assert(sl_law_sparsity_pays_data(&SL_TEST_VIT, &early, 1e8) == 0);
}

/* gmp credits the pruning phase, so it never prefers less sparsity. */
Test(optimum, gmp_at_least_dense) {
    sl_test_rng_seed(0x5eed0004);
    for (int k = 0; k < 200; k++) {
        sl_law law = sl_test_random_law();
        double n = sl_test_log_uniform(1e6, 1e11), dd = sl_test_log_uniform(1e8, 1e13);
        sl_law_optimum a, b;
        cr_assert_eq(sl_law_optimal_sparsity(&law, &DENSE, n, dd, MAXS, &a), 0);
        cr_assert_eq(sl_law_optimal_sparsity(&law, &GMP, n, dd, MAXS, &b), 0);
        cr_assert(b.sparsity >= a.sparsity - 1e-12);
        cr_assert(b.loss <= a.loss + 1e-14 * a.loss);
    }
}

/* ---- n:m patterns ---- */

Test(among, matches_candidates_by_hand) {
    const double pats[] = {0.5, 0.75}; /* 2:4, 1:4 */
    const sl_cost *costs[] = {&DENSE, &GMP};
    const sl_law *laws[] = {&SL_TEST_VIT, &SL_TEST_T5};
    int won[3] = {0, 0, 0};
    for (size_t c = 0; c < 2; c++)
        for (size_t l = 0; l < 2; l++)
            for (double dd = 1e8; dd <= 1e14; dd *= 10) {
                double n = 1e8;
                sl_law_optimum o;
                size_t chosen = 99;
                cr_assert_eq(sl_law_optimal_among(laws[l], costs[c], n, dd, pats, 2, &o, &chosen),
                             0);
                double best = ref_budget_loss(laws[l], costs[c], n, dd, 0);
                size_t want = 2;
                for (size_t i = 0; i < 2; i++) {
                    double v = ref_budget_loss(laws[l], costs[c], n, dd, pats[i]);
                    if (v < best) best = v, want = i;
                }
                cr_assert_eq(chosen, want);
                double s = want == 2 ? 0 : pats[want];
                cr_assert(o.sparsity == s);
                assert_rel(o.loss, best, 1e-14);
                assert_rel(o.data, sl_test_ref_data_seen(costs[c], s, dd), 1e-14);
                assert_rel(o.dense_loss, sl_test_ref_loss(laws[l], 0, n, dd), 1e-14);
                won[want]++;
            }
    /* The sweep exercises every outcome. */
    cr_assert(won[0] > 0 && won[1] > 0 && won[2] > 0);
}

Test(among, ties_and_empty_go_to_dense) {
    const double zero[] = {0, 0};
    sl_law_optimum o;
    size_t chosen = 99;
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_T5, &DENSE, 1e8, 1e14, zero, 2, &o, &chosen), 0);
    cr_assert_eq(chosen, 2);
    cr_assert(o.sparsity == 0);
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_T5, &GMP, 1e8, 1e14, NULL, 0, &o, &chosen), 0);
    cr_assert_eq(chosen, 0);
    assert_rel(o.loss, o.dense_loss, 1e-15);
    /* Equal patterns: the first listed wins. */
    const double same[] = {0.5, 0.5};
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_T5, &DENSE, 1e8, 1e14, same, 2, &o, &chosen), 0);
    cr_assert_eq(chosen, 0);
}

/* ---- where sparsity starts to pay; iso lines ---- */

static void check_d0(const sl_law *law, const sl_cost *cost, double n) {
    double d0 = sl_law_sparsity_pays_data(law, cost, n);
    sl_law_optimum o;
    cr_assert(d0 > 0 && isfinite(d0));
    cr_assert_eq(sl_law_optimal_sparsity(law, cost, n, d0 * (1 - 1e-4), MAXS, &o), 0);
    cr_assert(o.sparsity == 0, "below D_0: S = %g", o.sparsity);
    cr_assert_eq(sl_law_optimal_sparsity(law, cost, n, d0 * (1 + 1e-4), MAXS, &o), 0);
    cr_assert(o.sparsity > 0 && o.sparsity < 1e-3, "above D_0: S = %g", o.sparsity);
    /* and the slope of the loss in S at 0 changes sign at D_0 */
    sl_test_budget lo = {law, cost, n, d0 * (1 - 1e-4)}, hi = {law, cost, n, d0 * (1 + 1e-4)};
    cr_assert(budget_obj(&lo, 1e-7) > budget_obj(&lo, 0));
    cr_assert(budget_obj(&hi, 1e-7) < budget_obj(&hi, 0));
}

Test(d0, sparsity_starts_to_pay) {
    const sl_cost custom = {SL_COST_GMP, 0.1, 0.9}, late = {SL_COST_GMP, 0.5, 0.5};
    const sl_cost *costs[] = {&DENSE, &GMP, &custom, &late};
    const sl_law *laws[] = {&SL_TEST_VIT, &SL_TEST_T5};
    for (size_t c = 0; c < 4; c++)
        for (size_t l = 0; l < 2; l++)
            for (double n = 1e6; n <= 1e11; n *= 100)
                check_d0(laws[l], costs[c], n);
    /* gmp: k = 0.75 t0 + 0.25 t1 = 0.375 for the paper's schedule */
    assert_rel(sl_law_sparsity_pays_data(&SL_TEST_VIT, &GMP, 1e8),
               sl_law_sparsity_pays_data(&SL_TEST_VIT, &DENSE, 1e8) *
                   pow(0.375, 1 / SL_TEST_VIT.b_d),
               1e-14);
}

Test(d0, iso_sparsity_lines) {
    const double s[] = {0.05, 0.3, 0.6, 0.9, 0.99};
    const sl_law *laws[] = {&SL_TEST_VIT, &SL_TEST_T5};
    for (size_t l = 0; l < 2; l++)
        for (double n = 1e7; n <= 1e11; n *= 100)
            for (size_t i = 0; i < 5; i++) {
                double dd = sl_law_iso_sparsity_data(laws[l], n, s[i]);
                sl_law_optimum o;
                cr_assert_eq(sl_law_optimal_sparsity(laws[l], &DENSE, n, dd, MAXS, &o), 0);
                assert_near(o.sparsity, s[i], 1e-9);
            }
    /* s = 0 is D_0 itself */
    assert_rel(sl_law_iso_sparsity_data(&SL_TEST_T5, 1e9, 0),
               sl_law_sparsity_pays_data(&SL_TEST_T5, &DENSE, 1e9), 1e-15);
}

/* ---- minimum-compute plan ---- */

Test(plan, matches_brute_force) {
    sl_test_rng_seed(0x5eed0005);
    int resolved = 0, reachable = 0, unreachable = 0, interior = 0, cases = 300;
    for (int k = 0; k < cases; k++) {
        sl_law law = sl_test_random_law();
        double n = sl_test_log_uniform(1e6, 1e11);
        double target =
            sl_test_ref_loss(&law, 0.99 * sl_test_uniform(), n, sl_test_log_uniform(1e8, 1e13));
        double maxs = k % 3 ? MAXS : 0.9 * sl_test_uniform();
        plan_ctx ctx = {&law, target, n};
        sl_law_plan p;
        int rc = sl_law_plan_min_compute(&law, target, n, maxs, &p);
        double floor = law.c + (law.a_s * pow(1 - maxs, law.b_s) + law.c_s) * pow(n, -law.b_n);
        assert_rel(sl_law_plan_floor(&law, n, maxs), floor, 1e-15);
        if (target <= floor) {
            cr_assert_eq(rc, SL_LAW_UNREACHABLE);
            unreachable++;
            continue;
        }
        cr_assert_eq(rc, 0, "case %d: rc %d", k, rc);
        reachable++;
        sl_test_brute b = sl_test_brute_min(plan_obj, &ctx, 0, maxs);
        cr_assert(p.sparsity >= 0 && p.sparsity <= maxs);
        cr_assert(p.compute <= b.f * (1 + 1e-12), "case %d: C %.17g > brute %.17g", k, p.compute,
                  b.f);
        if (b.resolved) {
            resolved++;
            assert_near(p.sparsity, b.s, 1.5 * b.step);
        }
        interior += p.sparsity > 0 && p.sparsity < maxs;
        assert_rel(p.loss, target, 1e-12);
        assert_rel(sl_test_ref_loss(&law, p.sparsity, n, p.data), target, 1e-12);
        assert_rel(p.compute, 6 * n * p.data / (1 - p.sparsity), 1e-14);
    }
    cr_assert(reachable > cases / 2 && unreachable > 0 && interior > cases / 4,
              "reachable %d unreachable %d interior %d", reachable, unreachable, interior);
    cr_assert(resolved > reachable / 2, "only %d of %d locations resolved", resolved, reachable);
}

Test(plan, unreachable_at_and_below_floor) {
    sl_law_plan p;
    double floor = sl_law_plan_floor(&SL_TEST_T5, 1e9, MAXS);
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_T5, floor, 1e9, MAXS, &p), SL_LAW_UNREACHABLE);
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_T5, floor - 0.1, 1e9, MAXS, &p),
                 SL_LAW_UNREACHABLE);
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_T5, 0, 1e9, MAXS, &p), SL_LAW_UNREACHABLE);
    /* just above the floor: reachable only at the most sparsity, with lots of data */
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_T5, floor + 1e-3, 1e9, MAXS, &p), 0);
    cr_assert(p.sparsity == MAXS);
    assert_rel(p.loss, floor + 1e-3, 1e-12);
    /* a dense-only plan is Chinchilla-style: L(0, N, D) = target */
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_VIT, 5.2, 1e8, 0, &p), 0);
    cr_assert(p.sparsity == 0);
    assert_rel(sl_test_ref_loss(&SL_TEST_VIT, 0, 1e8, p.data), 5.2, 1e-12);
}

/* ---- argument validation ---- */

Test(invalid, arguments_rejected) {
    sl_law_optimum o;
    sl_law_plan p;
    size_t chosen;
    sl_law bad_law = SL_TEST_VIT;
    bad_law.b_d = (double)NAN;
    const sl_cost bad_cost = {SL_COST_GMP, 0.9, 0.1}, bad_model = {(sl_cost_model)5, 0, 0};
    const double bad_pos[] = {0, -1, (double)NAN, (double)INFINITY};
    const double bad_s[] = {1, -0.1, (double)NAN, (double)INFINITY, 1.5};

    cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &DENSE, 1e8, 1e10, MAXS, &o), 0);
    cr_assert_eq(sl_law_optimal_sparsity(NULL, &DENSE, 1e8, 1e10, MAXS, &o), SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_sparsity(&bad_law, &DENSE, 1e8, 1e10, MAXS, &o), SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, NULL, 1e8, 1e10, MAXS, &o), SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &bad_cost, 1e8, 1e10, MAXS, &o),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &bad_model, 1e8, 1e10, MAXS, &o),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &DENSE, 1e8, 1e10, MAXS, NULL),
                 SL_LAW_EINVAL);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &GMP, bad_pos[i], 1e10, MAXS, &o),
                     SL_LAW_EINVAL);
        cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &GMP, 1e8, bad_pos[i], MAXS, &o),
                     SL_LAW_EINVAL);
        cr_assert_eq(
            sl_law_optimal_among(&SL_TEST_VIT, &GMP, bad_pos[i], 1e10, NULL, 0, &o, &chosen),
            SL_LAW_EINVAL);
        cr_assert_eq(
            sl_law_optimal_among(&SL_TEST_VIT, &GMP, 1e8, bad_pos[i], NULL, 0, &o, &chosen),
            SL_LAW_EINVAL);
        cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_VIT, 5.2, bad_pos[i], MAXS, &p),
                     SL_LAW_EINVAL);
    }
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(sl_law_optimal_sparsity(&SL_TEST_VIT, &DENSE, 1e8, 1e10, bad_s[i], &o),
                     SL_LAW_EINVAL);
        cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_VIT, 5.2, 1e8, bad_s[i], &p), SL_LAW_EINVAL);
        const double pats[] = {0.5, bad_s[i]};
        cr_assert_eq(sl_law_optimal_among(&SL_TEST_VIT, &DENSE, 1e8, 1e10, pats, 2, &o, &chosen),
                     SL_LAW_EINVAL);
    }
    const double pats[] = {0.5};
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_VIT, &DENSE, 1e8, 1e10, NULL, 1, &o, &chosen),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_VIT, &DENSE, 1e8, 1e10, pats, 1, NULL, &chosen),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_VIT, &DENSE, 1e8, 1e10, pats, 1, &o, NULL),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_among(&bad_law, &DENSE, 1e8, 1e10, pats, 1, &o, &chosen),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_optimal_among(&SL_TEST_VIT, &bad_cost, 1e8, 1e10, pats, 1, &o, &chosen),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_plan_min_compute(&bad_law, 5.2, 1e8, MAXS, &p), SL_LAW_EINVAL);
    cr_assert_eq(sl_law_plan_min_compute(NULL, 5.2, 1e8, MAXS, &p), SL_LAW_EINVAL);
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_VIT, (double)NAN, 1e8, MAXS, &p), SL_LAW_EINVAL);
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_VIT, (double)INFINITY, 1e8, MAXS, &p),
                 SL_LAW_EINVAL);
    cr_assert_eq(sl_law_plan_min_compute(&SL_TEST_VIT, 5.2, 1e8, MAXS, NULL), SL_LAW_EINVAL);
}
