/*
 * Unit tests for fitting/sl_next_runs.c: the expected narrowing of a
 * decision against values worked out by hand, and its limits.
 */
#include <criterion/criterion.h>

#include <math.h>

#include "sl_next_runs.h"
#include "sl_test.h"

/* Three draws that differ in c alone by 0.1: at any point their losses are
 * L0, L0 + 0.1, L0 + 0.2 (sample variance 0.01). */
static void three_draws(sl_law d[3]) {
    for (int i = 0; i < 3; i++) {
        d[i] = SL_TEST_T5;
        d[i].c = 0.6 + 0.1 * i;
    }
}

static const sl_next_point AT = {0.5, 1e8, 1e10};

/* The score at AT of decision values q on three_draws, which must succeed. */
static sl_next_score score3(const double q[3], double noise) {
    sl_law d[3];
    three_draws(d);
    sl_next_score s;
    cr_assert_eq(sl_next_runs_score(d, q, 3, noise, &AT, 1, &s), 0);
    return s;
}

Test(next_runs, sd_uses_n_minus_1) {
    const double v[] = {0.1, 0.2, 0.3};
    assert_rel(sl_next_runs_sd(v, 3), 0.1, 1e-12); /* sqrt((0.01 + 0 + 0.01) / 2) */
    cr_assert_eq(sl_next_runs_sd(v, 1), 0);
}

Test(next_runs, by_hand) {
    /* q moves with the loss: Var q = 0.01, Cov = 0.01; noise 0.1:
     * 0.01 - 0.01^2 / (0.01 + 0.01) = 0.005 is left. */
    const double q[] = {0.1, 0.2, 0.3};
    sl_next_score s = score3(q, 0.1);
    assert_rel(s.loss_spread, 0.1, 1e-9);
    assert_rel(s.sd_after, sqrt(0.005), 1e-9);
    assert_rel(s.narrowing, 0.1 - sqrt(0.005), 1e-9);
    /* noise 0.2: 0.01 - 0.0001 / 0.05 = 0.008 */
    s = score3(q, 0.2);
    assert_rel(s.sd_after, sqrt(0.008), 1e-9);
}

Test(next_runs, nothing_learnt_where_the_loss_says_nothing_of_the_decision) {
    /* deviations of q (-1/15, 2/15, -1/15) are orthogonal to the loss's
     * (-0.1, 0, 0.1): Cov = 0 */
    const double q[] = {0.1, 0.3, 0.1};
    sl_next_score s = score3(q, 0.01);
    assert_near(s.narrowing, 0, 1e-12);
    assert_rel(s.sd_after, sl_next_runs_sd(q, 3), 1e-12);
}

Test(next_runs, exact_runs_settle_a_decision_the_loss_determines) {
    const double q[] = {0.3, 0.2, 0.1}; /* perfectly (anti-)correlated */
    sl_next_score quiet = score3(q, 1e-9), loud = score3(q, 10);
    assert_near(quiet.sd_after, 0, 1e-6);
    assert_rel(quiet.narrowing, 0.1, 1e-6);
    cr_assert_lt(loud.narrowing, 1e-4); /* noise 100x the spread: little to learn */
    cr_assert_gt(loud.narrowing, 0);
}

Test(next_runs, refuses_what_it_cannot_score) {
    sl_law d[3];
    three_draws(d);
    const double q[] = {0.1, 0.2, 0.3}, qnan[] = {0.1, (double)NAN, 0.3};
    sl_next_point bad = {1.0, 1e8, 1e10};
    sl_next_score s;
    cr_assert_eq(sl_next_runs_score(d, q, 1, 0.1, &AT, 1, &s), SL_LAW_EINVAL);
    cr_assert_eq(sl_next_runs_score(d, q, 3, 0, &AT, 1, &s), SL_LAW_EINVAL);
    cr_assert_eq(sl_next_runs_score(d, q, 3, (double)NAN, &AT, 1, &s), SL_LAW_EINVAL);
    cr_assert_eq(sl_next_runs_score(d, qnan, 3, 0.1, &AT, 1, &s), SL_LAW_EINVAL);
    cr_assert_eq(sl_next_runs_score(d, q, 3, 0.1, &bad, 1, &s), SL_LAW_EINVAL);
    d[1].b_s = -1;
    cr_assert_eq(sl_next_runs_score(d, q, 3, 0.1, &AT, 1, &s), SL_LAW_EINVAL);
}
