/*
 * sl_test.h - what the unit tests of fitting/ and api/ share: tolerance
 * assertions, a deterministic RNG, the reference laws of law-math.md §2 with
 * the sweeps' size conversions, random laws, a brute-force minimiser in S,
 * and paths into the project's data/ folder.
 *
 * Header only (static inline), so each test binary takes what it uses. The
 * trainer's tests do not include it: trainer/ stands alone, and they draw from
 * the trainer's own RNG.
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "sl_law.h"

/* ---- assertions with a tolerance ---- */

#define assert_near(got, want, tol)                                                                \
    cr_assert(fabs((got) - (want)) <= (tol), "%s = %.12g, want %.12g (tol %g)", #got,              \
              (double)(got), (double)(want), (double)(tol))
#define assert_rel(got, want, rel) assert_near(got, want, (rel)*fabs(want))

/* ---- the reference laws ---- */

/* law-math.md §2, full precision. */
static const sl_law SL_TEST_VIT = {294.389596179, 0.82101251, 468.157382899, 0.39222675,
                                   237412873.842, 0.88979104, 4.51669257};
static const sl_law SL_TEST_T5 = {16.7870501071, 0.72161276, 45.0184473511, 0.24513173,
                                  689991261.918, 0.20270772, 0.65074219};

/* Reference formulas written apart from the library's (law-math §1, §4):
 * the law, and the mean density of a cost model over a run. */
static inline double sl_test_ref_loss(const sl_law *l, double s, double n, double d) {
    return (l->a_s * pow(1 - s, l->b_s) + l->c_s) * pow(n, -l->b_n) + pow(l->a_d / d, l->b_d) +
           l->c;
}

static inline double sl_test_ref_density(const sl_cost *c, double s) {
    if (c->model == SL_COST_DENSE) return 1;
    double t0 = c->prune_start, t1 = c->prune_end;
    return t0 + (t1 - t0) * (1 - 0.75 * s) + (1 - t1) * (1 - s);
}

/* The data a run at sparsity s sees on the compute of a dense run of dd. */
static inline double sl_test_ref_data_seen(const sl_cost *c, double s, double dd) {
    return dd * (1 - s) / sl_test_ref_density(c, s);
}

/* What a loss-under-budget objective reads: the law, the cost model, N and
 * the dense run's data. */
typedef struct sl_test_budget {
    const sl_law *law;
    const sl_cost *cost;
    double n, dd;
} sl_test_budget;

/* The sweeps' base sizes (law-math §5, data/README.md): 12 d^2 per block,
 * d = 768, non-zeros at scale 1; and T5's tokens per training step. */
#define SL_TEST_VIT_BASE           84934656.0  /* 12 blocks */
#define SL_TEST_T5_BASE            169869312.0 /* 24 blocks */
#define SL_TEST_T5_TOKENS_PER_STEP 65536.0

/* ---- deterministic RNG (splitmix64) ---- */

/* One stream per test process: Criterion runs each test in a process of its
 * own, and each test seeds it before drawing. */
static uint64_t sl_test_rng_state;

static inline void sl_test_rng_seed(uint64_t seed) {
    sl_test_rng_state = seed;
}

static inline uint64_t sl_test_rng_next(void) {
    uint64_t z = (sl_test_rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z;
}

/* Uniform on [0, 1), in steps of 2^-53. */
static inline double sl_test_uniform(void) {
    return (double)(sl_test_rng_next() >> 11) * 0x1.0p-53;
}

/* Uniform on (0, 1): the midpoints of the same steps, never 0, so that a log
 * of it is finite. */
static inline double sl_test_uniform_open(void) {
    return ((double)(sl_test_rng_next() >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal (Box-Muller on sl_test_uniform_open). */
static inline double sl_test_normal(void) {
    return sqrt(-2 * log(sl_test_uniform_open())) *
           cos(2 * 3.14159265358979323846 * sl_test_uniform_open());
}

/* Log-uniform on [lo, hi). */
static inline double sl_test_log_uniform(double lo, double hi) {
    return lo * pow(hi / lo, sl_test_uniform());
}

/* ---- random laws and brute force ---- */

/* A built-in law with every coefficient scaled by up to +-25 %. */
static inline sl_law sl_test_random_law(void) {
    sl_law l = sl_test_uniform() < 0.5 ? SL_TEST_VIT : SL_TEST_T5;
    for (size_t i = 0; i < SL_LAW_NCOEF; i++)
        *sl_law_coef(&l, i) *= exp(0.25 * (2 * sl_test_uniform() - 1));
    return l;
}

typedef double (*sl_test_objective)(const void *ctx, double s);

typedef struct sl_test_brute {
    double s, f;  /* best point and value */
    double step;  /* resolution in S */
    int resolved; /* f rises measurably within a few steps on both sides */
} sl_test_brute;

/* The minimum of f over [lo, hi]: a grid, then a finer one around the best. */
static inline sl_test_brute sl_test_brute_min(sl_test_objective f, const void *ctx, double lo,
                                              double hi) {
    const int PTS = 2000;
    sl_test_brute b = {lo, (double)INFINITY, 0, 0};
    for (int i = 0; i <= PTS; i++) {
        double s = lo + (hi - lo) * i / PTS, v = f(ctx, s);
        if (v < b.f) b.s = s, b.f = v;
    }
    double h = (hi - lo) / PTS, a = fmax(lo, b.s - h), z = fmin(hi, b.s + h);
    b.step = (z - a) / PTS;
    for (int i = 0; i <= PTS; i++) {
        double s = a + (z - a) * i / PTS, v = f(ctx, s);
        if (v < b.f) b.s = s, b.f = v;
    }
    /* Where the minimum is this flat, rounding decides the brute-force argmin;
     * only then is its location not a valid reference. */
    double w = 10 * b.step, rise = 1e-12 * fabs(b.f);
    b.resolved = (b.s - w < lo || f(ctx, b.s - w) > b.f + rise) &&
                 (b.s + w > hi || f(ctx, b.s + w) > b.f + rise);
    return b;
}

/* ---- data/ ---- */

#ifdef SL_DATA_DIR
/* SL_DATA_DIR/name, in a buffer the next call reuses. */
static inline const char *sl_test_data_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", SL_DATA_DIR, name);
    return buf;
}
#endif

#endif
