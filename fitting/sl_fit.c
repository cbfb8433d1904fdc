/*
 * sl_fit.c - multi-start fit of the sparse scaling law, with bootstrap
 * (see sl_fit.h and docs/law-math.md §2, §5).
 *
 * Internal units: N' = N / kN and D' = D / kD, with kN and kD the geometric
 * means over the rows, so that
 *
 *     f = A x^b_s N'^-b_n + CC N'^-b_n + E D'^-b_d + c,   x = 1 - S,
 *
 * has every term O(loss) near the middle of the data (in raw units
 * a_d ~ 1e8 and N^-b_n ~ 1e-3, which leaves BFGS with a hopeless Hessian).
 * Conversion back (law-math §2): a_s = A kN^b_n, c_s = CC kN^b_n,
 * a_d = kD E^(1/b_d); b_s, b_n, b_d and c are unchanged.
 *
 * Coordinates. A point is z = (log A, log b_s, log CC, log b_n, log E,
 * log b_d, c): logs keep the six positive coefficients positive without
 * bounds and put them on one scale. c only needs c >= 0; it is often well
 * inside (T5: 0.8, ViT: 4.5), but some data (and some bootstrap resamples)
 * put its optimum exactly at 0, where any smooth reparameterisation such as
 * e^u or softplus(u) makes the optimiser crawl towards u = -infinity. So:
 *
 *   1. BFGS (GSL vector_bfgs2, analytic gradient, a few hundred function
 *      evaluations) in coordinates with c = softplus(u), which is linear
 *      for large c and needs no bounds: it gets each start into a basin.
 *   2. Damped Newton with the exact Hessian in z, c bounded below by 0
 *      (projected steps; c dropped from the system while it sits on the
 *      bound and the gradient pushes it down). With a small Huber threshold
 *      most residuals lie on the linear branch and the objective is nearly
 *      flat along some directions, where BFGS stops at slightly different
 *      points from different starts; Newton lands every start of a basin on
 *      the same optimum (objectives agree to ~1e-13 relative).
 */
#include "sl_fit.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#define NP SL_LAW_NCOEF
#define IC 6 /* index of c in z */

/* Stage 1 (BFGS) budget: enough to reach a basin, not to crawl along it. */
#define BFGS_MAX_EVALS 150
#define BFGS_MAX_RUNS  8
#define BFGS_STEP      0.1 /* first trial step, in log-coefficient units */
#define BFGS_TOL       0.1 /* line search accuracy (GSL's recommended value) */
/* Stage 2 (Newton) budget. */
#define NEWTON_MAX_ITER     200
#define NEWTON_MAX_HALVINGS 30
/* Returned for points where the law over- or underflows: finite, so GSL's
 * line search interpolation stays finite and simply backs off. */
#define HUGE_OBJECTIVE 1e100
/* Same optimum when objectives agree this closely: relative, plus an
 * absolute floor (in units of delta^2) for exact data, whose optimum is 0
 * up to rounding. */
#define SAME_OPTIMUM_REL 1e-9
#define SAME_OPTIMUM_ABS 1e-16
/* Warm starts closer than this (max coordinate difference) are one. */
#define DISTINCT_OPTIMUM 0.02

/* ---- small helpers ---- */

static void set_reason(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_reason(char *buf, size_t size, const char *fmt, ...) {
    if (!buf || size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* splitmix64's finaliser as a counter-based generator: draw k of stream s
 * depends on (seed, s, k) alone, never on thread scheduling. */
static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double u01(uint64_t z) {
    return (double)(mix64(z) >> 11) * 0x1.0p-53;
}

static uint64_t stream(uint64_t seed, uint64_t kind, uint64_t index) {
    return mix64(mix64(seed ^ mix64(kind)) ^ index);
}

enum { STREAM_SHIFT = 1, STREAM_RESAMPLE = 2, STREAM_BOOT_SHIFT = 3 };

/* Radical inverse of i in base b: coordinate b of the Halton sequence. */
static double radical_inverse(uint64_t i, unsigned b) {
    double inv = 1.0 / b, f = inv, r = 0;
    while (i > 0) {
        r += f * (double)(i % b);
        i /= b;
        f *= inv;
    }
    return r;
}

/* softplus, its derivative (the logistic) and its inverse, without overflow. */
static double softplus(double u) {
    return u > 0 ? u + log1p(exp(-u)) : log1p(exp(u));
}
static double logistic(double u) {
    if (u >= 0) return 1 / (1 + exp(-u));
    double e = exp(u);
    return e / (1 + e);
}
static double softplus_inv(double c) {
    return c > 30 ? c + log(-expm1(-c)) : log(expm1(c));
}

/* ---- the problem in internal units ---- */

/* A variable's distinct values and each row's index into them: sweeps
 * repeat a few sparsities, sizes and data amounts, so x^b_s, N'^-b_n and
 * D'^-b_d are computed once per distinct value per evaluation rather than
 * once per row. */
typedef struct levels {
    size_t count;
    const double *value; /* log of the normalised variable */
    const size_t *index; /* per row */
} levels;

typedef struct problem {
    size_t n;
    levels x, nz, d;  /* log(1 - S), log(N / kN), log(D / kD) */
    const double *y;  /* loss */
    const double *ly; /* log loss */
    const double *w;  /* row weights (bootstrap counts); NULL: all 1 */
    /* Per row, the pattern factor on the sparse term (eta of its n:m
     * pattern, fixed during the coefficient stages); NULL: all 1. */
    const double *rowf;
    double wsum;
    int logres;
    double delta;
    int fixed;            /* coordinate held at fixed_z (profiles), -1: none */
    double fixed_z;       /* its value in z */
    double *px, *pn, *pd; /* scratch for the powers (one problem per worker) */
} problem;

static void powers(const problem *p, double bs, double bn, double bd) {
    for (size_t k = 0; k < p->x.count; k++)
        p->px[k] = exp(bs * p->x.value[k]);
    for (size_t k = 0; k < p->nz.count; k++)
        p->pn[k] = exp(-bn * p->nz.value[k]);
    for (size_t k = 0; k < p->d.count; k++)
        p->pd[k] = exp(-bd * p->d.value[k]);
}

/* Huber value; *psi = its derivative, *dpsi = psi' (1 inside, 0 outside). */
static double huber3(double r, double delta, double *psi, double *dpsi) {
    if (fabs(r) <= delta) {
        *psi = r;
        *dpsi = 1;
        return 0.5 * r * r;
    }
    *psi = r > 0 ? delta : -delta;
    *dpsi = 0;
    return delta * (fabs(r) - 0.5 * delta);
}

static int all_finite(const double *v, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!isfinite(v[k])) return 0;
    return 1;
}

/* Row i's residual at prediction f, and dr/df in *s. */
static double residual(const problem *p, size_t i, double f, double *s) {
    if (p->logres) {
        *s = 1 / f;
        return log(f) - p->ly[i];
    }
    *s = 1;
    return f - p->y[i];
}

/* Mean Huber objective and (if g) its gradient at t, which is z except
 * that t[IC] is u with c = softplus(u) when soft_c. Returns HUGE_OBJECTIVE
 * (gradient 0) where the law over- or underflows. */
static double objective(const problem *p, const double *t, double *g, int soft_c) {
    double A = exp(t[0]), bs = exp(t[1]), CC = exp(t[2]), bn = exp(t[3]);
    double E = exp(t[4]), bd = exp(t[5]);
    double c = soft_c ? softplus(t[IC]) : t[IC];
    powers(p, bs, bn, bd);
    double acc = 0, g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0;
    for (size_t i = 0; i < p->n; i++) {
        double w = p->w ? p->w[i] : 1;
        if (w == 0) continue;
        size_t ix = p->x.index[i], in = p->nz.index[i], id = p->d.index[i];
        double pn = p->pn[in];
        double t1 = A * p->px[ix] * pn * (p->rowf ? p->rowf[i] : 1), t2 = CC * pn;
        double t3 = E * p->pd[id];
        double f = t1 + t2 + t3 + c;
        double s, psi, dpsi;
        double r = residual(p, i, f, &s);
        acc += w * huber3(r, p->delta, &psi, &dpsi);
        double q = w * psi * s;
        g0 += q * t1;
        g1 += q * t1 * p->x.value[ix];
        g2 += q * t2;
        g3 -= q * (t1 + t2) * p->nz.value[in];
        g4 += q * t3;
        g5 -= q * t3 * p->d.value[id];
        g6 += q;
    }
    double inv = 1 / p->wsum;
    double obj = acc * inv;
    if (g) {
        g[0] = g0 * inv;
        g[1] = g1 * bs * inv;
        g[2] = g2 * inv;
        g[3] = g3 * bn * inv;
        g[4] = g4 * inv;
        g[5] = g5 * bd * inv;
        g[6] = g6 * (soft_c ? logistic(t[IC]) : 1) * inv;
        if (p->fixed >= 0) g[p->fixed] = 0;
    }
    if (!isfinite(obj) || (g && !all_finite(g, NP))) {
        if (g)
            for (size_t k = 0; k < NP; k++)
                g[k] = 0;
        return HUGE_OBJECTIVE;
    }
    return obj;
}

/* Objective, gradient and exact Hessian (row-major NP x NP) at z: the mean
 * of w [psi'(r) dr dr^T + psi(r) d2r]. For the Newton stage; with B (the
 * diagnostics) also the mean of w psi(r)^2 dr dr^T and, in sums, the means
 * of psi^2 and psi'. A fixed coordinate gets a zero gradient and a unit
 * row and column, so Newton never moves it. */
static double objective_hess(const problem *p, const double *z, double *g, double *H, double *B,
                             double sums[2]) {
    double A = exp(z[0]), bs = exp(z[1]), CC = exp(z[2]), bn = exp(z[3]);
    double E = exp(z[4]), bd = exp(z[5]), c = z[IC];
    powers(p, bs, bn, bd);
    double acc = 0, G[NP] = {0}, S[NP * NP] = {0}, O[NP * NP] = {0}, psi2 = 0, dpsi2 = 0;
    for (size_t i = 0; i < p->n; i++) {
        double w = p->w ? p->w[i] : 1;
        if (w == 0) continue;
        size_t ix = p->x.index[i], in = p->nz.index[i], id = p->d.index[i];
        /* d(power)/d(log exponent) / power */
        double lx = p->x.value[ix] * bs, ln = p->nz.value[in] * bn, ld = p->d.value[id] * bd;
        double pn = p->pn[in];
        double t1 = A * p->px[ix] * pn * (p->rowf ? p->rowf[i] : 1), t2 = CC * pn;
        double t3 = E * p->pd[id];
        double f = t1 + t2 + t3 + c;
        double df[NP] = {t1, t1 * lx, t2, -(t1 + t2) * ln, t3, -t3 * ld, 1};
        double d2[NP * NP] = {0}; /* upper triangle of d2f; f is linear in c */
        d2[0 * NP + 0] = t1;
        d2[0 * NP + 1] = t1 * lx;
        d2[0 * NP + 3] = -t1 * ln;
        d2[1 * NP + 1] = t1 * (lx * lx + lx);
        d2[1 * NP + 3] = -t1 * lx * ln;
        d2[2 * NP + 2] = t2;
        d2[2 * NP + 3] = -t2 * ln;
        d2[3 * NP + 3] = (t1 + t2) * (ln * ln - ln);
        d2[4 * NP + 4] = t3;
        d2[4 * NP + 5] = -t3 * ld;
        d2[5 * NP + 5] = t3 * (ld * ld - ld);
        double s, psi, dpsi;
        double r = residual(p, i, f, &s);
        acc += w * huber3(r, p->delta, &psi, &dpsi);
        /* dr = s df; d2r = s d2f - (log residuals only) s^2 df df^T */
        double outer = w * (dpsi * s * s - (p->logres ? psi * s * s : 0)), curv = w * psi * s;
        for (size_t a = 0; a < NP; a++) {
            G[a] += curv * df[a];
            for (size_t b = a; b < NP; b++)
                S[a * NP + b] += outer * df[a] * df[b] + curv * d2[a * NP + b];
        }
        if (B) {
            psi2 += w * psi * psi;
            dpsi2 += w * dpsi;
            for (size_t a = 0; a < NP; a++)
                for (size_t b = a; b < NP; b++)
                    O[a * NP + b] += w * psi * psi * s * s * df[a] * df[b];
        }
    }
    double inv = 1 / p->wsum;
    for (size_t a = 0; a < NP; a++) {
        g[a] = G[a] * inv;
        for (size_t b = a; b < NP; b++) {
            H[a * NP + b] = H[b * NP + a] = S[a * NP + b] * inv;
            if (B) B[a * NP + b] = B[b * NP + a] = O[a * NP + b] * inv;
        }
    }
    if (B) {
        sums[0] = psi2 * inv;
        sums[1] = dpsi2 * inv;
    }
    if (p->fixed >= 0) {
        for (size_t k = 0; k < NP; k++)
            H[(size_t)p->fixed * NP + k] = H[k * NP + (size_t)p->fixed] = 0;
        H[(size_t)p->fixed * NP + (size_t)p->fixed] = 1;
        g[p->fixed] = 0;
    }
    double obj = acc * inv;
    return isfinite(obj) && all_finite(g, NP) && all_finite(H, NP * NP) ? obj : HUGE_OBJECTIVE;
}

/* GSL calls f, df and fdf at the same points during its line search; a
 * one-point cache makes each distinct point cost one pass over the rows. */
typedef struct evaluator {
    const problem *p;
    double t[NP], f, g[NP];
    int valid;
    unsigned long evals;
} evaluator;

static void eval_at(evaluator *e, const gsl_vector *x) {
    double t[NP];
    for (size_t k = 0; k < NP; k++)
        t[k] = gsl_vector_get(x, k);
    if (e->valid && memcmp(t, e->t, sizeof t) == 0) return;
    memcpy(e->t, t, sizeof t);
    e->f = objective(e->p, t, e->g, 1);
    e->valid = 1;
    e->evals++;
}

static double gsl_f(const gsl_vector *x, void *ctx) {
    evaluator *e = ctx;
    eval_at(e, x);
    return e->f;
}

static void gsl_df(const gsl_vector *x, void *ctx, gsl_vector *g) {
    evaluator *e = ctx;
    eval_at(e, x);
    for (size_t k = 0; k < NP; k++)
        gsl_vector_set(g, k, e->g[k]);
}

static void gsl_fdf(const gsl_vector *x, void *ctx, double *f, gsl_vector *g) {
    evaluator *e = ctx;
    eval_at(e, x);
    *f = e->f;
    for (size_t k = 0; k < NP; k++)
        gsl_vector_set(g, k, e->g[k]);
}

/* ---- shared state of one sl_fit call ---- */

typedef struct shared {
    const sl_fit_options *opt;
    problem base; /* the full data, unit weights, no scratch */
    unsigned starts, bstarts, boot;
    double ymin, ymean;
    double log_kn, kd; /* log of N's geometric mean; D's geometric mean */
    double shift[NP];  /* Cranley-Patterson rotation of the Halton points */
    double *mem;       /* owns the arrays below and the problem's */
    size_t *idx;

    /* full fit: per start */
    double *st_z;
    double *st_obj;
    unsigned char *st_conv;

    /* bootstrap: warm starts (best first) and per resample results */
    double *warm;
    unsigned nwarm;
    double *bt_z;
    double *bt_obj;

    /* pattern factors: per start, per warm start and per resample, npat
     * each (NULL without factors) */
    unsigned npat;
    double *st_eta, *warm_eta, *bt_eta;

    /* scheduling */
    int phase; /* 0: starts, 1: bootstrap */
    size_t njobs;
    atomic_size_t next;
    atomic_int stop; /* cancel requested or a worker failed */
    atomic_int nomem;
    pthread_mutex_t lock; /* serialises progress calls */
    double done_units, total_units;
} shared;

static int stopping(const shared *sh) {
    return atomic_load_explicit(&sh->stop, memory_order_relaxed) ||
           (sh->opt->cancel && atomic_load_explicit(sh->opt->cancel, memory_order_relaxed));
}

typedef struct worker {
    shared *sh;
    gsl_multimin_fdfminimizer *m;
    gsl_vector *x;
    double *w;       /* bootstrap weights */
    double *scratch; /* the problem's px, pn, pd */
    problem p;
    evaluator ev;
    gsl_multimin_function_fdf fdf;
    double eta[SL_FIT_MAX_PATTERNS]; /* the pattern factors of the current search */
    double *rowf;                    /* their per-row values, for p.rowf */
    double *pt, *pr;                 /* per row: sparse term without its factor, the rest of f */
} worker;

/* ---- start points ---- */

/* The start box, scaled to the data: exponents log-uniform over ranges
 * that cover every published scaling law with room to spare; c uniform in
 * (0, min loss) (every other term is positive, so c < min loss at a good
 * fit); the rest of the mean loss split among the three terms at the data's
 * centre (N' = D' = 1, dense) by a flat Dirichlet draw. */
static void start_point(const shared *sh, const double u[NP], double z[NP]) {
    double e0 = -log1p(-u[0]) + 1e-3, e2 = -log1p(-u[2]) + 1e-3, e4 = -log1p(-u[4]) + 1e-3;
    double c = (0.01 + 0.98 * u[6]) * sh->ymin;
    double rest = sh->ymean - c, tot = e0 + e2 + e4;
    z[0] = log(rest * e0 / tot);
    z[1] = log(0.1) + u[1] * log(3.0 / 0.1);
    z[2] = log(rest * e2 / tot);
    z[3] = log(0.05) + u[3] * log(1.5 / 0.05);
    z[4] = log(rest * e4 / tot);
    z[5] = log(0.05) + u[5] * log(2.0 / 0.05);
    z[IC] = c;
}

static const unsigned halton_primes[NP] = {2, 3, 5, 7, 11, 13, 17};

static void halton_point(uint64_t index, const double shift[NP], double u[NP]) {
    for (size_t k = 0; k < NP; k++) {
        double v = radical_inverse(index, halton_primes[k]) + shift[k];
        u[k] = v >= 1 ? v - 1 : v;
    }
}

/* ---- stage 1: BFGS ---- */

/* BFGS from z, restarted from where it stopped (a fresh Hessian estimate)
 * while restarts still gain, within BFGS_MAX_EVALS; z is updated in place. */
static double bfgs_stage(worker *wk, double z[NP]) {
    evaluator *ev = &wk->ev;
    ev->valid = 0;
    ev->evals = 0;
    double t[NP];
    memcpy(t, z, sizeof t);
    /* c = 0 exactly (from a bounded Newton optimum) maps to u = -inf. */
    t[IC] = softplus_inv(fmax(z[IC], 1e-12 * wk->sh->ymean));
    for (size_t k = 0; k < NP; k++)
        gsl_vector_set(wk->x, k, t[k]);
    double best = objective(&wk->p, t, NULL, 1);
    for (int run = 0; run < BFGS_MAX_RUNS && ev->evals < BFGS_MAX_EVALS; run++) {
        if (gsl_multimin_fdfminimizer_set(wk->m, &wk->fdf, wk->x, BFGS_STEP, BFGS_TOL) !=
            GSL_SUCCESS)
            break;
        while (ev->evals < BFGS_MAX_EVALS && !stopping(wk->sh))
            if (gsl_multimin_fdfminimizer_iterate(wk->m) != GSL_SUCCESS) break;
        double fx = wk->m->f;
        if (!(fx < best)) /* nothing gained (or NaN) */
            break;
        gsl_vector_memcpy(wk->x, gsl_multimin_fdfminimizer_x(wk->m));
        double gain = best - fx;
        best = fx;
        if (gain <= 1e-13 * fabs(fx)) break;
    }
    for (size_t k = 0; k < NP; k++)
        t[k] = gsl_vector_get(wk->x, k);
    memcpy(z, t, sizeof t);
    z[IC] = softplus(t[IC]);
    if (wk->p.fixed >= 0) z[wk->p.fixed] = wk->p.fixed_z; /* no softplus round trip */
    return best;
}

/* ---- stage 2: Newton ---- */

/* Cholesky solve of (H + lambda diag(H)) x = -g; 0 when that matrix is not
 * positive definite. Hand-written for 7 x 7 because
 * gsl_linalg_cholesky_decomp1 reports a non-positive-definite matrix through
 * the process-wide GSL error handler (abort by default), and failing is the
 * expected way to learn that lambda must grow. */
static int damped_newton_step(const double *H, const double *g, double lambda, double *x) {
    double L[NP * NP];
    for (size_t a = 0; a < NP; a++) {
        for (size_t b = 0; b <= a; b++) {
            double v = H[a * NP + b];
            if (a == b) v += lambda * fmax(fabs(H[a * NP + a]), 1e-300);
            for (size_t k = 0; k < b; k++)
                v -= L[a * NP + k] * L[b * NP + k];
            if (a == b) {
                if (!(v > 0)) return 0;
                L[a * NP + a] = sqrt(v);
            } else {
                L[a * NP + b] = v / L[b * NP + b];
            }
        }
    }
    double y[NP];
    for (size_t a = 0; a < NP; a++) {
        double v = -g[a];
        for (size_t k = 0; k < a; k++)
            v -= L[a * NP + k] * y[k];
        y[a] = v / L[a * NP + a];
    }
    for (size_t a = NP; a-- > 0;) {
        double v = y[a];
        for (size_t k = a + 1; k < NP; k++)
            v -= L[k * NP + a] * x[k];
        x[a] = v / L[a * NP + a];
    }
    return 1;
}

/* Levenberg-damped Newton with the exact Hessian, c >= 0 by projection.
 * Every accepted step lowers f. Returns f; *pgnorm is the largest
 * component of the projected gradient at the end. */
/* The objective (and Hessian) of the coefficients with the pattern factors,
 * if any, at their optimum for z (the profile; see "pattern factors"). */
static double objective_at(worker *wk, const double *z);
static double objective_hess_at(worker *wk, const double *z, double *g, double *H);

static double newton_stage(worker *wk, double z[NP], double *pgnorm) {
    double g[NP], H[NP * NP], Hm[NP * NP], gm[NP], step[NP], zn[NP];
    double lambda = 0;
    double f = objective_hess_at(wk, z, g, H);
    for (int it = 0; it < NEWTON_MAX_ITER && f < HUGE_OBJECTIVE; it++) {
        if (stopping(wk->sh)) break;
        /* c on its bound with the gradient pushing it down: hold it there. */
        int hold = z[IC] <= 0 && g[IC] > 0;
        memcpy(Hm, H, sizeof Hm);
        memcpy(gm, g, sizeof gm);
        if (hold) {
            for (size_t k = 0; k < NP; k++)
                Hm[IC * NP + k] = Hm[k * NP + IC] = 0;
            Hm[IC * NP + IC] = 1;
            gm[IC] = 0;
        }
        int accepted = 0;
        double fn = f;
        for (int tries = 0; tries < 30 && !accepted && lambda < 1e12; tries++) {
            if (damped_newton_step(Hm, gm, lambda, step)) {
                double slope = 0;
                for (size_t k = 0; k < NP; k++)
                    slope += gm[k] * step[k];
                double alpha = 1;
                for (int ls = 0; ls < NEWTON_MAX_HALVINGS && slope < 0; ls++, alpha *= 0.5) {
                    for (size_t k = 0; k < NP; k++)
                        zn[k] = z[k] + alpha * step[k];
                    if (zn[IC] < 0) zn[IC] = 0;
                    fn = objective_at(wk, zn);
                    if (fn < f) {
                        accepted = 1;
                        break;
                    }
                }
            }
            if (!accepted) lambda = lambda > 0 ? lambda * 10 : 1e-10;
        }
        if (!accepted) break;
        memcpy(z, zn, sizeof zn);
        double gain = f - fn;
        f = objective_hess_at(wk, z, g, H);
        lambda = lambda * 0.1 < 1e-12 ? 0 : lambda * 0.1;
        if (gain <= 1e-15 * fabs(f)) break;
    }
    double gn = 0;
    for (size_t k = 0; k < NP; k++)
        if (!(k == IC && z[IC] <= 0 && g[IC] > 0)) gn = fmax(gn, fabs(g[k]));
    *pgnorm = gn;
    return f;
}

/* Both stages from z (updated in place). *conv: ended at a stationary
 * point, i.e. the projected gradient (per unit of log-coefficient) is tiny
 * next to the objective; starts stuck on a slow ridge have gradients within
 * a few orders of magnitude of f. The floor covers exact data (f ~ 0),
 * where rounding leaves residuals, and so gradients, of ~1e-16. */
static double pattern_rounds(worker *wk, double z[NP], double f, double *gn);

static double local_search(worker *wk, double z[NP], int *conv) {
    *conv = 0;
    double f = bfgs_stage(wk, z);
    if (!(f < HUGE_OBJECTIVE) || stopping(wk->sh)) return HUGE_OBJECTIVE;
    double gn;
    f = newton_stage(wk, z, &gn);
    if (wk->sh->npat && f < HUGE_OBJECTIVE) f = pattern_rounds(wk, z, f, &gn);
    *conv = f < HUGE_OBJECTIVE && gn <= 1e-4 * f + 1e-10 * wk->p.delta;
    return f;
}

/* ---- pattern factors ---- */

/* Each n:m pattern's factor eta_k multiplies the sparse term of its rows
 * only, so for given coefficients each factor is a 1-D problem in
 * u = log eta_k (eta_stage). The coefficient stages hold the factors fixed
 * as a per-row multiplier (p.rowf); the Newton stage works on the profile
 * min over eta of the objective: at each point it first fits the factors,
 * then its gradient is the coefficients' (the envelope theorem) and its
 * Hessian the Schur complement H_zz - sum_k h_zk h_zk^T / h_kk. That keeps
 * the seven-coefficient optimiser as it is and converges as fast. */
#define PATTERN_MAX_ROUNDS 8
#define PATTERN_MAX_ITER   50

/* The worker's factors from eta (NULL: every factor 1), and their per-row
 * values. */
static void set_eta(worker *wk, const double *eta) {
    const shared *sh = wk->sh;
    if (!sh->npat) return;
    for (unsigned k = 0; k < sh->npat; k++)
        wk->eta[k] = eta ? eta[k] : 1;
    const unsigned *pat = sh->opt->pattern;
    for (size_t i = 0; i < sh->base.n; i++)
        wk->rowf[i] = pat[i] ? wk->eta[pat[i] - 1] : 1;
}

/* Pattern k's objective (its rows' weighted Huber sum), gradient and
 * second derivative in u = log eta_k, from the per-row terms pt, pr. */
static double pattern_objective(const worker *wk, unsigned k, double u, double *g, double *h) {
    const problem *p = &wk->p;
    const unsigned *pat = wk->sh->opt->pattern;
    double e = exp(u), acc = 0, gg = 0, hh = 0;
    for (size_t i = 0; i < p->n; i++) {
        double w = p->w ? p->w[i] : 1;
        if (pat[i] != k + 1 || w == 0) continue;
        double te = wk->pt[i] * e, f = te + wk->pr[i];
        double sr, psi, dpsi;
        double r = residual(p, i, f, &sr);
        acc += w * huber3(r, p->delta, &psi, &dpsi);
        double dr = sr * te, d2r = dr - (p->logres ? dr * dr : 0);
        gg += w * psi * dr;
        hh += w * (dpsi * dr * dr + psi * d2r);
    }
    *g = gg;
    *h = hh;
    return isfinite(acc) ? acc : HUGE_OBJECTIVE;
}

/* Fits every factor with the coefficients z fixed, in at most `iters`
 * Newton steps each (0: only measures); returns the largest
 * |d objective / d log eta| at the start (per unit weight, as the
 * coefficients' gradient). */
static double eta_stage(worker *wk, const double z[NP], int iters) {
    int move = iters > 0;
    problem *p = &wk->p;
    double A = exp(z[0]), bs = exp(z[1]), CC = exp(z[2]), bn = exp(z[3]);
    double E = exp(z[4]), bd = exp(z[5]);
    powers(p, bs, bn, bd);
    for (size_t i = 0; i < p->n; i++) {
        double pn = p->pn[p->nz.index[i]];
        wk->pt[i] = A * p->px[p->x.index[i]] * pn;
        wk->pr[i] = CC * pn + E * p->pd[p->d.index[i]] + z[IC];
    }
    double gmax = 0;
    for (unsigned k = 0; k < wk->sh->npat; k++) {
        double u = log(wk->eta[k]), g, h;
        double f = pattern_objective(wk, k, u, &g, &h);
        gmax = fmax(gmax, fabs(g) / p->wsum);
        for (int it = 0; it < iters && f < HUGE_OBJECTIVE; it++) {
            double step = h > 0 ? -g / h : (g > 0 ? -0.5 : 0.5);
            step = fmax(-2, fmin(2, step));
            double un = u, fn = f, gn = g, hn = h;
            int accepted = 0;
            /* A step below ~1e-12 in log eta is rounding: the factor is there. */
            for (int ls = 0; ls < NEWTON_MAX_HALVINGS && !accepted && fabs(step) > 1e-12;
                 ls++, step *= 0.5) {
                un = u + step;
                fn = pattern_objective(wk, k, un, &gn, &hn);
                accepted = fn < f;
            }
            if (!accepted) break;
            double gain = f - fn;
            u = un, f = fn, g = gn, h = hn;
            if (gain <= 1e-15 * fabs(f)) break;
        }
        if (move) wk->eta[k] = exp(u);
    }
    if (move) set_eta(wk, wk->eta);
    return gmax;
}

/* The profile's Hessian: H (of the coefficients, factors fixed at their
 * optimum) less each factor's coupling, h_zk h_zk^T / h_kk, with
 * h_zk = d2 f / dz du_k and h_kk = d2 f / du_k^2 (means over the rows). */
static void profile_hessian(const worker *wk, const double *z, double *H) {
    const problem *p = &wk->p;
    const unsigned *pat = wk->sh->opt->pattern;
    double hz[SL_FIT_MAX_PATTERNS][NP] = {{0}}, hk[SL_FIT_MAX_PATTERNS] = {0};
    double CC = exp(z[2]), E = exp(z[4]), bs = exp(z[1]), bn = exp(z[3]), bd = exp(z[5]);
    for (size_t i = 0; i < p->n; i++) {
        double w = p->w ? p->w[i] : 1;
        if (!pat[i] || w == 0) continue;
        unsigned k = pat[i] - 1;
        size_t in = p->nz.index[i], id = p->d.index[i];
        double t1 = wk->pt[i] * wk->eta[k], t2 = CC * p->pn[in], t3 = E * p->pd[id];
        double f = t1 + wk->pr[i];
        double lx = p->x.value[p->x.index[i]] * bs, ln = p->nz.value[in] * bn;
        double ld = p->d.value[id] * bd;
        double sr, psi, dpsi;
        double r = residual(p, i, f, &sr);
        huber3(r, p->delta, &psi, &dpsi);
        double outer = w * (dpsi * sr * sr - (p->logres ? psi * sr * sr : 0)), curv = w * psi * sr;
        /* df/dz (as objective_hess), df/du = t1, d2f/du dz = dt1/dz */
        double df[NP] = {t1, t1 * lx, t2, -(t1 + t2) * ln, t3, -t3 * ld, 1};
        double dt[NP] = {t1, t1 * lx, 0, -t1 * ln, 0, 0, 0};
        for (size_t a = 0; a < NP; a++)
            hz[k][a] += outer * df[a] * t1 + curv * dt[a];
        hk[k] += outer * t1 * t1 + curv * t1;
    }
    for (unsigned k = 0; k < wk->sh->npat; k++) {
        if (!(hk[k] > 0)) continue;
        double inv = 1 / (hk[k] * p->wsum);
        for (size_t a = 0; a < NP; a++)
            for (size_t b = 0; b < NP; b++)
                H[a * NP + b] -= hz[k][a] * hz[k][b] * inv;
    }
}

/* At a trial point one step on the factors is enough: the profile is at
 * most the objective at any factors, so a decrease found here is one of the
 * profile; the next objective_hess_at fits them fully. */
static double objective_at(worker *wk, const double *z) {
    if (wk->sh->npat) eta_stage(wk, z, 1);
    return objective(&wk->p, z, NULL, 0);
}

static double objective_hess_at(worker *wk, const double *z, double *g, double *H) {
    if (wk->sh->npat) eta_stage(wk, z, PATTERN_MAX_ITER);
    double f = objective_hess(&wk->p, z, g, H, NULL, NULL);
    if (wk->sh->npat && f < HUGE_OBJECTIVE) {
        profile_hessian(wk, z, H);
        if (wk->p.fixed >= 0) { /* keep the held coordinate out of the step */
            for (size_t k = 0; k < NP; k++)
                H[(size_t)wk->p.fixed * NP + k] = H[k * NP + (size_t)wk->p.fixed] = 0;
            H[(size_t)wk->p.fixed * NP + (size_t)wk->p.fixed] = 1;
        }
    }
    return f;
}

/* After BFGS (factors fixed), the profile Newton stage from z; repeated
 * while a round still gains (rarely more than once). *gn is the largest
 * projected gradient component of coefficients and factors at the end. */
static double pattern_rounds(worker *wk, double z[NP], double f, double *gn) {
    for (int round = 0; round < PATTERN_MAX_ROUNDS && !stopping(wk->sh); round++) {
        double gz, fn = newton_stage(wk, z, &gz);
        *gn = gz;
        if (!(fn < HUGE_OBJECTIVE)) return HUGE_OBJECTIVE;
        double gain = f - fn;
        f = fn;
        if (gain <= 1e-14 * fabs(f) + SAME_OPTIMUM_ABS * wk->p.delta * wk->p.delta) break;
    }
    eta_stage(wk, z, PATTERN_MAX_ITER); /* z's own factors, not a rejected trial point's */
    *gn = fmax(*gn, eta_stage(wk, z, 0));
    return objective(&wk->p, z, NULL, 0);
}

/* ---- jobs ---- */

static void z_to_law(const double z[NP], double log_kn, double kd, sl_law *law) {
    law->b_s = exp(z[1]);
    law->b_n = exp(z[3]);
    law->b_d = exp(z[5]);
    law->a_s = exp(z[0] + law->b_n * log_kn);
    law->c_s = exp(z[2] + law->b_n * log_kn);
    law->a_d = kd * exp(z[4] / law->b_d);
    law->c = z[IC];
}

/* The inverse of z_to_law. */
static void law_to_z(const sl_law *law, double log_kn, double kd, double z[NP]) {
    z[0] = log(law->a_s) - law->b_n * log_kn;
    z[1] = log(law->b_s);
    z[2] = log(law->c_s) - law->b_n * log_kn;
    z[3] = log(law->b_n);
    z[4] = law->b_d * log(law->a_d / kd);
    z[5] = log(law->b_d);
    z[IC] = law->c;
}

/* Start j: the caller's warm laws first (profiles), then Halton points. */
static void job_start(worker *wk, size_t j) {
    shared *sh = wk->sh;
    const sl_fit_options *opt = sh->opt;
    double u[NP], z[NP];
    if (j < opt->nwarm) {
        law_to_z(&opt->warm[j], sh->log_kn, sh->kd, z);
    } else {
        halton_point(j + 1 - opt->nwarm, sh->shift, u);
        start_point(sh, u, z);
    }
    if (wk->p.fixed >= 0) z[wk->p.fixed] = wk->p.fixed_z;
    set_eta(wk, NULL);
    int conv;
    double f = local_search(wk, z, &conv);
    memcpy(sh->st_z + j * NP, z, sizeof z);
    if (sh->npat) memcpy(sh->st_eta + j * sh->npat, wk->eta, sh->npat * sizeof *wk->eta);
    sh->st_obj[j] = f;
    sh->st_conv[j] = (unsigned char)conv;
}

/* Resample b: n rows drawn with replacement, as integer weights; starts:
 * the warm ones, then Halton points rotated by the resample's own shift. */
static void job_resample(worker *wk, size_t b) {
    shared *sh = wk->sh;
    size_t n = sh->base.n;
    uint64_t s = stream(sh->opt->seed, STREAM_RESAMPLE, b);
    for (size_t i = 0; i < n; i++)
        wk->w[i] = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (size_t)(u01(s + k) * (double)n);
        wk->w[i < n ? i : n - 1] += 1;
    }
    wk->p.w = wk->w;
    wk->p.wsum = (double)n;

    double shift[NP], best_z[NP], best = HUGE_OBJECTIVE, best_eta[SL_FIT_MAX_PATTERNS];
    for (size_t k = 0; k < NP; k++)
        shift[k] = u01(stream(sh->opt->seed, STREAM_BOOT_SHIFT, b * NP + k));
    for (unsigned k = 0; k < sh->bstarts; k++) {
        double z[NP];
        if (k < sh->nwarm) {
            memcpy(z, sh->warm + (size_t)k * NP, sizeof z);
            set_eta(wk, sh->npat ? sh->warm_eta + (size_t)k * sh->npat : NULL);
        } else {
            double u[NP];
            halton_point(k - sh->nwarm + 1, shift, u);
            start_point(sh, u, z);
            set_eta(wk, NULL);
        }
        if (wk->p.fixed >= 0) z[wk->p.fixed] = wk->p.fixed_z;
        int conv;
        double f = local_search(wk, z, &conv);
        if (k == 0 || f < best) {
            best = f;
            memcpy(best_z, z, sizeof z);
            memcpy(best_eta, wk->eta, sizeof best_eta);
        }
    }
    memcpy(sh->bt_z + b * NP, best_z, sizeof best_z);
    if (sh->npat) memcpy(sh->bt_eta + b * sh->npat, best_eta, sh->npat * sizeof *best_eta);
    sh->bt_obj[b] = best;
    wk->p.w = NULL;
}

static void report(shared *sh, double units) {
    pthread_mutex_lock(&sh->lock);
    sh->done_units += units;
    if (sh->opt->progress && !atomic_load(&sh->stop)) {
        double frac = sh->done_units / sh->total_units;
        if (sh->opt->progress(frac > 1 ? 1 : frac, sh->opt->progress_ctx))
            atomic_store(&sh->stop, 1);
    }
    pthread_mutex_unlock(&sh->lock);
}

static int worker_init(worker *wk, shared *sh) {
    memset(wk, 0, sizeof *wk);
    wk->sh = sh;
    wk->p = sh->base;
    wk->ev.p = &wk->p;
    wk->fdf.n = NP;
    wk->fdf.f = gsl_f;
    wk->fdf.df = gsl_df;
    wk->fdf.fdf = gsl_fdf;
    wk->fdf.params = &wk->ev;
    wk->m = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, NP);
    wk->x = gsl_vector_alloc(NP);
    wk->w = malloc(sh->base.n * sizeof *wk->w);
    size_t nlev = sh->base.x.count + sh->base.nz.count + sh->base.d.count;
    wk->scratch = malloc(nlev * sizeof *wk->scratch);
    if (wk->scratch) {
        wk->p.px = wk->scratch;
        wk->p.pn = wk->p.px + sh->base.x.count;
        wk->p.pd = wk->p.pn + sh->base.nz.count;
    }
    if (sh->npat) {
        wk->rowf = malloc(3 * sh->base.n * sizeof *wk->rowf);
        wk->pt = wk->rowf ? wk->rowf + sh->base.n : NULL;
        wk->pr = wk->rowf ? wk->pt + sh->base.n : NULL;
        wk->p.rowf = wk->rowf;
    }
    return wk->m && wk->x && wk->w && wk->scratch && (!sh->npat || wk->rowf) ? 0 : -1;
}

static void worker_free(worker *wk) {
    if (wk->m) gsl_multimin_fdfminimizer_free(wk->m);
    if (wk->x) gsl_vector_free(wk->x);
    free(wk->w);
    free(wk->scratch);
    free(wk->rowf);
}

static void *worker_main(void *arg) {
    shared *sh = arg;
    worker wk;
    if (worker_init(&wk, sh) != 0) {
        atomic_store(&sh->nomem, 1);
        atomic_store(&sh->stop, 1);
    } else {
        for (;;) {
            if (stopping(sh)) break;
            size_t j = atomic_fetch_add(&sh->next, 1);
            if (j >= sh->njobs) break;
            if (sh->phase == 0) {
                job_start(&wk, j);
                report(sh, 1);
            } else {
                job_resample(&wk, j);
                report(sh, sh->bstarts);
            }
        }
    }
    worker_free(&wk);
    return NULL;
}

static unsigned thread_count(unsigned requested) {
    long n = requested ? (long)requested : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > SL_FIT_MAX_THREADS ? SL_FIT_MAX_THREADS : (unsigned)n;
}

/* Runs jobs 0..njobs-1 of the phase on up to `threads` threads, the caller
 * included. A thread that cannot be created just leaves more for the rest. */
static void run_phase(shared *sh, int phase, size_t njobs, unsigned threads) {
    sh->phase = phase;
    sh->njobs = njobs;
    atomic_store(&sh->next, 0);
    size_t extra = threads > 1 ? threads - 1 : 0;
    if (njobs == 0 || extra > njobs - 1) extra = njobs > 0 ? njobs - 1 : 0;
    pthread_t *tids = extra ? malloc(extra * sizeof *tids) : NULL;
    size_t started = 0;
    if (tids)
        for (; started < extra; started++)
            if (pthread_create(&tids[started], NULL, worker_main, sh) != 0) break;
    worker_main(sh);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
}

/* ---- public API ---- */

void sl_fit_options_default(sl_fit_options *opt) {
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->loss.residuals = SL_FIT_RESIDUALS_PLAIN;
    opt->loss.delta = 0.01;
}

void sl_fit_result_free(sl_fit_result *res) {
    if (!res) return;
    free(res->residuals);
    free(res->draws);
    free(res->draw_eta);
    memset(res, 0, sizeof *res);
}

static int finite_in(double v, double lo, double hi) {
    return isfinite(v) && v >= lo && v < hi;
}

static int check_rows(const sl_fit_row *rows, size_t n, char *reason, size_t size) {
    for (size_t i = 0; i < n; i++) {
        const sl_fit_row *r = &rows[i];
        if (!finite_in(r->sparsity, 0, 1)) {
            set_reason(reason, size, "row %zu: sparsity must be in [0, 1), got %g", i, r->sparsity);
            return SL_FIT_EINVAL;
        }
        if (!(isfinite(r->nonzeros) && r->nonzeros > 0)) {
            set_reason(reason, size, "row %zu: nonzeros must be a finite number > 0, got %g", i,
                       r->nonzeros);
            return SL_FIT_EINVAL;
        }
        if (!(isfinite(r->data) && r->data > 0)) {
            set_reason(reason, size, "row %zu: data must be a finite number > 0, got %g", i,
                       r->data);
            return SL_FIT_EINVAL;
        }
        if (!(isfinite(r->loss) && r->loss > 0)) {
            set_reason(reason, size, "row %zu: loss must be a finite number > 0, got %g", i,
                       r->loss);
            return SL_FIT_EINVAL;
        }
    }
    return SL_FIT_OK;
}

int sl_fit_check(const sl_fit_row *rows, size_t n, char *reason, size_t reason_size) {
    if (n > 0 && !rows) {
        set_reason(reason, reason_size, "rows is NULL");
        return SL_FIT_EINVAL;
    }
    int rc = check_rows(rows, n, reason, reason_size);
    if (rc) return rc;
    if (n < NP + 1) {
        set_reason(reason, reason_size,
                   "need at least %d rows to fit the law's %d coefficients, got %zu", NP + 1, NP,
                   n);
        return SL_FIT_EUNIDENTIFIABLE;
    }
    /* Two distinct values of each variable: all that is needed to tell them
     * apart, and an O(n) test. */
    int ds = 0, dn = 0, dd = 0;
    for (size_t i = 1; i < n; i++) {
        ds |= rows[i].sparsity != rows[0].sparsity;
        dn |= rows[i].nonzeros != rows[0].nonzeros;
        dd |= rows[i].data != rows[0].data;
    }
    if (!ds) {
        set_reason(reason, reason_size,
                   "every row has sparsity %g: need at least 2 distinct sparsities to fit b_s",
                   rows[0].sparsity);
        return SL_FIT_EUNIDENTIFIABLE;
    }
    if (!dn) {
        set_reason(reason, reason_size,
                   "every row has nonzeros %g: need at least 2 distinct nonzeros to fit b_n",
                   rows[0].nonzeros);
        return SL_FIT_EUNIDENTIFIABLE;
    }
    if (!dd) {
        set_reason(reason, reason_size,
                   "every row has data %g: need at least 2 distinct data amounts to fit b_d",
                   rows[0].data);
        return SL_FIT_EUNIDENTIFIABLE;
    }
    return SL_FIT_OK;
}

int sl_fit_check_patterns(const sl_fit_row *rows, size_t n, const unsigned *pattern,
                          unsigned npatterns, char *reason, size_t reason_size) {
    if (!pattern || npatterns < 1 || npatterns > SL_FIT_MAX_PATTERNS) {
        set_reason(reason, reason_size, "pattern factors: 1 to %d patterns, got %u",
                   SL_FIT_MAX_PATTERNS, npatterns);
        return SL_FIT_EINVAL;
    }
    size_t count[SL_FIT_MAX_PATTERNS + 1] = {0}, first = SIZE_MAX;
    int ds = 0;
    for (size_t i = 0; i < n; i++) {
        if (pattern[i] > npatterns) {
            set_reason(reason, reason_size, "row %zu: pattern %u of %u", i, pattern[i], npatterns);
            return SL_FIT_EINVAL;
        }
        count[pattern[i]]++;
        if (pattern[i]) continue;
        if (first == SIZE_MAX) first = i;
        ds |= rows[i].sparsity != rows[first].sparsity;
    }
    for (unsigned k = 1; k <= npatterns; k++)
        if (!count[k]) {
            set_reason(reason, reason_size, "pattern factor %u has no row to fit it", k);
            return SL_FIT_EUNIDENTIFIABLE;
        }
    if (n < NP + npatterns + 1) {
        set_reason(reason, reason_size,
                   "need at least %u rows to fit the law's %d coefficients and %u pattern "
                   "factors, got %zu",
                   NP + npatterns + 1, NP, npatterns, n);
        return SL_FIT_EUNIDENTIFIABLE;
    }
    if (!ds) {
        set_reason(reason, reason_size,
                   "the unstructured rows (no n:m pattern) have %s: need at least 2 distinct "
                   "sparsities among them to fit b_s, since each pattern's rows get a factor of "
                   "their own",
                   first == SIZE_MAX ? "no rows" : "one sparsity");
        return SL_FIT_EUNIDENTIFIABLE;
    }
    return SL_FIT_OK;
}

static int loss_valid(const sl_fit_loss *loss) {
    return (loss->residuals == SL_FIT_RESIDUALS_PLAIN || loss->residuals == SL_FIT_RESIDUALS_LOG) &&
           isfinite(loss->delta) && loss->delta > 0;
}

static double huber(double r, double delta) {
    double ar = fabs(r);
    return ar <= delta ? 0.5 * r * r : delta * (ar - 0.5 * delta);
}

int sl_fit_evaluate(const sl_law *law, const sl_fit_row *rows, size_t n, const sl_fit_loss *loss,
                    double *predictions, double *residuals, sl_fit_errors *errors) {
    return sl_fit_evaluate_factors(law, NULL, NULL, rows, n, loss, predictions, residuals, errors);
}

int sl_fit_evaluate_factors(const sl_law *law, const double *eta, const unsigned *pattern,
                            const sl_fit_row *rows, size_t n, const sl_fit_loss *loss,
                            double *predictions, double *residuals, sl_fit_errors *errors) {
    if (!errors || !sl_law_valid(law) || (n > 0 && !rows) || (loss && !loss_valid(loss)) ||
        (pattern && !eta))
        return SL_FIT_EINVAL;
    if (check_rows(rows, n, NULL, 0)) return SL_FIT_EINVAL;
    double obj = 0, sq = 0, maxabs = 0, rel = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_fit_row *r = &rows[i];
        sl_law l = *law;
        if (pattern && pattern[i]) l.a_s *= eta[pattern[i] - 1];
        double f = sl_law_loss(&l, r->sparsity, r->nonzeros, r->data);
        double e = f - r->loss;
        if (predictions) predictions[i] = f;
        if (residuals) residuals[i] = e;
        if (loss)
            obj += huber(loss->residuals == SL_FIT_RESIDUALS_LOG ? log(f) - log(r->loss) : e,
                         loss->delta);
        sq += e * e;
        maxabs = fmax(maxabs, fabs(e));
        rel += fabs(e) / r->loss;
    }
    double dn = (double)n;
    errors->rows = n;
    errors->objective = loss && n ? obj / dn : (double)NAN;
    errors->rmse = n ? sqrt(sq / dn) : (double)NAN;
    errors->max_abs_error = n ? maxabs : (double)NAN;
    errors->mean_abs_rel_error = n ? rel / dn : (double)NAN;
    return SL_FIT_OK;
}

int sl_fit_percentile_interval(const double *values, size_t n, double level, double *lower,
                               double *upper) {
    if (!values || n == 0 || !lower || !upper || !(level > 0 && level < 1)) return SL_FIT_EINVAL;
    double *v = malloc(n * sizeof *v);
    if (!v) return SL_FIT_ENOMEM;
    memcpy(v, values, n * sizeof *v);
    gsl_sort(v, 1, n);
    double tail = 0.5 * (1 - level);
    *lower = gsl_stats_quantile_from_sorted_data(v, 1, n, tail);
    *upper = gsl_stats_quantile_from_sorted_data(v, 1, n, 1 - tail);
    free(v);
    return SL_FIT_OK;
}

/* The bootstrap's warm starts: the best optimum, then the next best
 * converged optima that are distinct (some coordinate differs by more than
 * DISTINCT_OPTIMUM, 2 % in a log coordinate, from every one already taken).
 * A resample's optimum is usually near the full data's; when the data has
 * several nearby local minima, a resample may prefer another of them. */
static unsigned pick_warm(const shared *sh, size_t best, double *warm, unsigned max) {
    unsigned count = 0;
    if (max == 0) return 0;
    memcpy(warm, sh->st_z + best * NP, NP * sizeof *warm);
    if (sh->npat) memcpy(sh->warm_eta, sh->st_eta + best * sh->npat, sh->npat * sizeof *warm);
    count = 1;
    /* Selection by repeated scans: cheap next to the fits. */
    unsigned char *used = sh->st_conv + sh->starts;
    used[best] = 1;
    while (count < max) {
        size_t pick = SIZE_MAX;
        for (size_t j = 0; j < sh->starts; j++) {
            if (used[j] || !sh->st_conv[j] || !(sh->st_obj[j] < HUGE_OBJECTIVE)) continue;
            if (pick == SIZE_MAX || sh->st_obj[j] < sh->st_obj[pick]) pick = j;
        }
        if (pick == SIZE_MAX) break;
        used[pick] = 1;
        const double *t = sh->st_z + pick * NP;
        int distinct = 1;
        for (unsigned k = 0; k < count && distinct; k++) {
            double dmax = 0;
            for (size_t q = 0; q < NP; q++)
                dmax = fmax(dmax, fabs(t[q] - warm[(size_t)k * NP + q]));
            distinct = dmax > DISTINCT_OPTIMUM;
        }
        if (distinct && sh->npat)
            memcpy(sh->warm_eta + (size_t)count * sh->npat, sh->st_eta + pick * sh->npat,
                   sh->npat * sizeof *warm);
        if (distinct) memcpy(warm + (size_t)count++ * NP, t, NP * sizeof *warm);
    }
    return count;
}

static int options_valid(const sl_fit_options *opt, char *reason, size_t size) {
    if (!loss_valid(&opt->loss)) {
        set_reason(reason, size, "loss: residuals must be plain or log and delta finite > 0");
        return 0;
    }
    if (opt->starts > SL_FIT_MAX_STARTS || opt->bootstrap_starts > SL_FIT_MAX_STARTS) {
        set_reason(reason, size, "starts must be at most %d", SL_FIT_MAX_STARTS);
        return 0;
    }
    if (opt->bootstrap > SL_FIT_MAX_BOOTSTRAP) {
        set_reason(reason, size, "bootstrap must be at most %d", SL_FIT_MAX_BOOTSTRAP);
        return 0;
    }
    if (!(opt->level == 0 || (opt->level > 0 && opt->level < 1))) {
        set_reason(reason, size, "level must be in (0, 1)");
        return 0;
    }
    size_t k = opt->fixed - 1;
    if (opt->fixed && (!(k == 1 || k == 3 || k == 5 || k == IC) || !isfinite(opt->fixed_value) ||
                       !(k == IC ? opt->fixed_value >= 0 : opt->fixed_value > 0))) {
        set_reason(reason, size, "fixed: only b_s, b_n, b_d (> 0) or c (>= 0) can be held");
        return 0;
    }
    for (size_t j = 0; j < opt->nwarm; j++)
        if (!sl_law_valid(&opt->warm[j])) {
            set_reason(reason, size, "warm start %zu is not a valid law", j);
            return 0;
        }
    return 1;
}

static void free_shared(shared *sh) {
    free(sh->mem);
    free(sh->idx);
    free(sh->st_conv);
    free(sh->st_eta);
    pthread_mutex_destroy(&sh->lock);
}

typedef struct keyed {
    double v;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Distinct values of v[0..n) (sorted) into value, each row's index into
 * index; tmp has room for n entries. */
static levels make_levels(const double *v, size_t n, keyed *tmp, double *value, size_t *index) {
    for (size_t i = 0; i < n; i++)
        tmp[i] = (keyed){v[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_keyed);
    size_t count = 0;
    for (size_t k = 0; k < n; k++) {
        if (count == 0 || tmp[k].v != value[count - 1]) value[count++] = tmp[k].v;
        index[tmp[k].i] = count - 1;
    }
    return (levels){count, value, index};
}

static int fail(shared *sh, sl_fit_result *res, int rc, char *reason, size_t size) {
    free_shared(sh);
    sl_fit_result_free(res);
    set_reason(reason, size, "%s",
               rc == SL_FIT_ENOMEM       ? "out of memory"
               : rc == SL_FIT_ECANCELLED ? "cancelled"
                                         : "no start reached a finite objective with a valid law");
    return rc;
}

/* Draws and percentile intervals from the per-resample optima. */
static int collect_bootstrap(const shared *sh, double log_kn, double kd, sl_fit_result *res) {
    size_t nb = sh->boot;
    res->draws = malloc(nb * sizeof *res->draws);
    double *col = malloc(nb * sizeof *col);
    if (!res->draws || !col) {
        free(col);
        return SL_FIT_ENOMEM;
    }
    if (sh->npat) {
        res->draw_eta = malloc(nb * sh->npat * sizeof *res->draw_eta);
        if (!res->draw_eta) {
            free(col);
            return SL_FIT_ENOMEM;
        }
    }
    for (size_t b = 0; b < nb; b++) {
        sl_law l;
        z_to_law(sh->bt_z + b * NP, log_kn, kd, &l);
        if (sh->bt_obj[b] < HUGE_OBJECTIVE && sl_law_valid(&l)) {
            if (sh->npat)
                memcpy(res->draw_eta + res->n_draws * sh->npat, sh->bt_eta + b * sh->npat,
                       sh->npat * sizeof *res->draw_eta);
            res->draws[res->n_draws++] = l;
        } else {
            res->bootstrap_failed++;
        }
    }
    int rc = SL_FIT_OK;
    for (size_t k = 0; k < NP && res->n_draws > 0 && rc == SL_FIT_OK; k++) {
        for (size_t b = 0; b < res->n_draws; b++)
            col[b] = sl_law_coef_get(&res->draws[b], k);
        rc = sl_fit_percentile_interval(col, res->n_draws, res->level, &res->lower[k],
                                        &res->upper[k]);
    }
    for (size_t k = 0; k < sh->npat && res->n_draws > 0 && rc == SL_FIT_OK; k++) {
        for (size_t b = 0; b < res->n_draws; b++)
            col[b] = res->draw_eta[b * sh->npat + k];
        rc = sl_fit_percentile_interval(col, res->n_draws, res->level, &res->eta_lower[k],
                                        &res->eta_upper[k]);
    }
    free(col);
    return rc;
}

/* sh from the options: start and resample counts, and its lock. 0, or -1
 * when the lock cannot be made (nothing to free then). */
static int shared_init(shared *sh, const sl_fit_options *opt) {
    memset(sh, 0, sizeof *sh);
    sh->opt = opt;
    sh->starts = opt->starts ? opt->starts : SL_FIT_DEFAULT_STARTS;
    if (sh->starts < opt->nwarm) sh->starts = (unsigned)opt->nwarm;
    sh->boot = opt->bootstrap;
    sh->bstarts = opt->bootstrap_starts ? opt->bootstrap_starts : SL_FIT_DEFAULT_BOOTSTRAP_STARTS;
    sh->npat = opt->pattern ? opt->npatterns : 0;
    return pthread_mutex_init(&sh->lock, NULL) != 0 ? -1 : 0;
}

/* Per row log(1 - S), log N' and log D' (N and D over their geometric
 * means), loss and log loss; the means into sh->log_kn and sh->kd, and the
 * loss's minimum and mean for the start box. */
static void normalise_rows(shared *sh, const sl_fit_row *rows, size_t n, double *lx, double *ln,
                           double *ld, double *y, double *ly) {
    double mln = 0, mld = 0;
    sh->ymin = (double)INFINITY;
    sh->ymean = 0;
    for (size_t i = 0; i < n; i++) {
        mln += log(rows[i].nonzeros);
        mld += log(rows[i].data);
        sh->ymin = fmin(sh->ymin, rows[i].loss);
        sh->ymean += rows[i].loss;
    }
    mln /= (double)n;
    mld /= (double)n;
    sh->ymean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        lx[i] = log1p(-rows[i].sparsity);
        ln[i] = log(rows[i].nonzeros) - mln;
        ld[i] = log(rows[i].data) - mld;
        y[i] = rows[i].loss;
        ly[i] = log(rows[i].loss);
    }
    sh->log_kn = mln;
    sh->kd = exp(mld);
}

/* The call's arrays and the full-data problem in internal units. */
static int shared_load(shared *sh, const sl_fit_row *rows, size_t n) {
    const sl_fit_options *opt = sh->opt;
    size_t nb = sh->boot, ns = sh->starts;
    /* One block of doubles: per row the three logged variables, their
     * distinct values, loss and log loss; then per start and per resample
     * results. A second block of indices, and a sort buffer. */
    size_t total = 8 * n + ns * (NP + 1) + (size_t)sh->bstarts * NP + nb * (NP + 1);
    sh->mem = malloc(total * sizeof *sh->mem);
    sh->idx = malloc(3 * n * sizeof *sh->idx);
    sh->st_conv = calloc(2 * ns, 1); /* converged flags, then pick_warm's marks */
    keyed *tmp = malloc(n * sizeof *tmp);
    if (sh->npat) { /* per start, per warm start, per resample */
        sh->st_eta = malloc((ns + sh->bstarts + nb) * sh->npat * sizeof *sh->st_eta);
        sh->warm_eta = sh->st_eta ? sh->st_eta + ns * sh->npat : NULL;
        sh->bt_eta = sh->st_eta ? sh->warm_eta + (size_t)sh->bstarts * sh->npat : NULL;
    }
    if (!sh->mem || !sh->idx || !sh->st_conv || !tmp || (sh->npat && !sh->st_eta)) {
        free(tmp);
        return SL_FIT_ENOMEM;
    }
    double *lx = sh->mem, *ln = lx + n, *ld = ln + n, *y = ld + n, *ly = y + n;
    double *vx = ly + n, *vn = vx + n, *vd = vn + n;
    sh->st_z = vd + n;
    sh->st_obj = sh->st_z + ns * NP;
    sh->warm = sh->st_obj + ns;
    sh->bt_z = sh->warm + (size_t)sh->bstarts * NP;
    sh->bt_obj = sh->bt_z + nb * NP;

    normalise_rows(sh, rows, n, lx, ln, ld, y, ly);
    sh->base.n = n;
    sh->base.x = make_levels(lx, n, tmp, vx, sh->idx);
    sh->base.nz = make_levels(ln, n, tmp, vn, sh->idx + n);
    sh->base.d = make_levels(ld, n, tmp, vd, sh->idx + 2 * n);
    free(tmp);
    sh->base.y = y;
    sh->base.ly = ly;
    sh->base.wsum = (double)n;
    sh->base.logres = opt->loss.residuals == SL_FIT_RESIDUALS_LOG;
    sh->base.delta = opt->loss.delta;
    sh->base.fixed = opt->fixed ? (int)opt->fixed - 1 : -1;
    sh->base.fixed_z = !opt->fixed            ? 0
                       : sh->base.fixed == IC ? opt->fixed_value
                                              : log(opt->fixed_value);
    for (size_t k = 0; k < NP; k++)
        sh->shift[k] = u01(stream(opt->seed, STREAM_SHIFT, k));
    sh->total_units = (double)ns + (double)nb * sh->bstarts;
    return SL_FIT_OK;
}

/* How a phase ended: a worker out of memory, a cancel, or OK. */
static int phase_status(const shared *sh) {
    if (atomic_load(&sh->nomem)) return SL_FIT_ENOMEM;
    if (stopping(sh)) return SL_FIT_ECANCELLED;
    return SL_FIT_OK;
}

/* Phase 0: the starts; the best valid optimum wins (ties: lowest index).
 * Fills res's law, start counts, scales and level, intervals NaN until the
 * bootstrap; *best is the winning start. */
static int multistart_phase(shared *sh, unsigned threads, sl_fit_result *res, size_t *best) {
    const sl_fit_options *opt = sh->opt;
    size_t ns = sh->starts;
    run_phase(sh, 0, ns, threads);
    int rc = phase_status(sh);
    if (rc) return rc;
    size_t b = SIZE_MAX;
    for (size_t j = 0; j < ns; j++) {
        sl_law l;
        z_to_law(sh->st_z + j * NP, sh->log_kn, sh->kd, &l);
        if (!(sh->st_obj[j] < HUGE_OBJECTIVE) || !sl_law_valid(&l)) {
            sh->st_obj[j] = HUGE_OBJECTIVE;
            sh->st_conv[j] = 0;
            continue;
        }
        if (b == SIZE_MAX || sh->st_obj[j] < sh->st_obj[b]) b = j;
    }
    if (b == SIZE_MAX) return SL_FIT_ENOFIT;
    res->starts = sh->starts;
    for (size_t j = 0; j < ns; j++) {
        res->starts_converged += sh->st_conv[j];
        res->starts_at_best +=
            sh->st_obj[j] <= sh->st_obj[b] + SAME_OPTIMUM_REL * fabs(sh->st_obj[b]) +
                                 SAME_OPTIMUM_ABS * opt->loss.delta * opt->loss.delta;
    }
    z_to_law(sh->st_z + b * NP, sh->log_kn, sh->kd, &res->law);
    res->npatterns = sh->npat;
    for (size_t k = 0; k < sh->npat; k++) {
        res->eta[k] = sh->st_eta[b * sh->npat + k];
        res->eta_lower[k] = res->eta_upper[k] = (double)NAN;
    }
    res->n_scale = exp(sh->log_kn);
    res->data_scale = sh->kd;
    res->level = opt->level > 0 ? opt->level : SL_FIT_DEFAULT_LEVEL;
    for (size_t k = 0; k < NP; k++)
        res->lower[k] = res->upper[k] = (double)NAN;
    *best = b;
    return SL_FIT_OK;
}

/* Phase 1: the bootstrap, warm-started from the full fit's optima. */
static int bootstrap_phase(shared *sh, unsigned threads, size_t best, sl_fit_result *res) {
    if (sh->boot == 0) return SL_FIT_OK;
    sh->nwarm = pick_warm(sh, best, sh->warm, sh->bstarts);
    run_phase(sh, 1, sh->boot, threads);
    int rc = phase_status(sh);
    if (rc) return rc;
    if (collect_bootstrap(sh, sh->log_kn, sh->kd, res) != SL_FIT_OK) return SL_FIT_ENOMEM;
    return SL_FIT_OK;
}

/* The best law's errors and per-row residuals on the fitted rows. */
static int fitted_errors(const sl_fit_row *rows, size_t n, const sl_fit_options *opt,
                         sl_fit_result *res) {
    res->rows = n;
    res->residuals = malloc(n * sizeof *res->residuals);
    if (!res->residuals) return SL_FIT_ENOMEM;
    sl_fit_evaluate_factors(&res->law, res->eta, res->npatterns ? opt->pattern : NULL, rows, n,
                            &opt->loss, NULL, res->residuals, &res->errors);
    return SL_FIT_OK;
}

int sl_fit(const sl_fit_row *rows, size_t n, const sl_fit_options *opt, sl_fit_result *res,
           char *reason, size_t reason_size) {
    if (!res || !opt) {
        set_reason(reason, reason_size, "options and result must not be NULL");
        return SL_FIT_EINVAL;
    }
    memset(res, 0, sizeof *res);
    if (!options_valid(opt, reason, reason_size)) return SL_FIT_EINVAL;
    int rc = sl_fit_check(rows, n, reason, reason_size);
    if (rc == SL_FIT_OK && opt->pattern)
        rc = sl_fit_check_patterns(rows, n, opt->pattern, opt->npatterns, reason, reason_size);
    if (rc) return rc;

    shared sh;
    if (shared_init(&sh, opt) != 0) {
        set_reason(reason, reason_size, "out of memory");
        return SL_FIT_ENOMEM;
    }
    unsigned threads = thread_count(opt->threads);
    size_t best = SIZE_MAX;
    rc = shared_load(&sh, rows, n);
    if (rc == SL_FIT_OK) rc = multistart_phase(&sh, threads, res, &best);
    if (rc == SL_FIT_OK) rc = bootstrap_phase(&sh, threads, best, res);
    if (rc == SL_FIT_OK) rc = fitted_errors(rows, n, opt, res);
    if (rc != SL_FIT_OK) return fail(&sh, res, rc, reason, reason_size);
    free_shared(&sh);
    return SL_FIT_OK;
}

int sl_fit_curvature(const sl_fit_row *rows, size_t n, const sl_fit_loss *loss, const sl_law *law,
                     double n_scale, double data_scale, sl_fit_curv *out) {
    if (!rows || n == 0 || !loss || !out || !loss_valid(loss) || !sl_law_valid(law) ||
        !(n_scale > 0) || !(data_scale > 0) || check_rows(rows, n, NULL, 0))
        return SL_FIT_EINVAL;
    /* Every row its own level: the problem's level tables, unshared. */
    double *mem = malloc(8 * n * sizeof *mem);
    size_t *idx = malloc(n * sizeof *idx);
    if (!mem || !idx) {
        free(mem);
        free(idx);
        return SL_FIT_ENOMEM;
    }
    double *lx = mem, *ln = lx + n, *ld = ln + n, *y = ld + n, *ly = y + n;
    problem p = {.n = n, .y = y, .ly = ly, .wsum = (double)n, .fixed = -1};
    p.logres = loss->residuals == SL_FIT_RESIDUALS_LOG;
    p.delta = loss->delta;
    p.px = ly + n;
    p.pn = p.px + n;
    p.pd = p.pn + n;
    double log_kn = log(n_scale);
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
        lx[i] = log1p(-rows[i].sparsity);
        ln[i] = log(rows[i].nonzeros) - log_kn;
        ld[i] = log(rows[i].data / data_scale);
        y[i] = rows[i].loss;
        ly[i] = log(rows[i].loss);
    }
    p.x = (levels){n, lx, idx};
    p.nz = (levels){n, ln, idx};
    p.d = (levels){n, ld, idx};
    double z[NP], sums[2];
    law_to_z(law, log_kn, data_scale, z);
    out->objective = objective_hess(&p, z, out->gradient, out->hessian, out->scores, sums);
    out->mean_psi2 = sums[0];
    out->mean_dpsi = sums[1];
    free(mem);
    free(idx);
    return out->objective < HUGE_OBJECTIVE ? SL_FIT_OK : SL_FIT_EINVAL;
}
