/*
 * inference_bench.c - the inference-aware plan (sl_inference_solve) over a
 * fitted law's bootstrap draws, the way GET plan?inference_tokens= makes its
 * intervals (one solve per draw), beside the nested search it replaced: a
 * 96-point grid plus golden section in log N, around a grid plus golden
 * section in S (inference_cost=total) or a bisection (=nonzeros) per N. That
 * search is kept here, and only here, as the baseline.
 *
 *   inference_bench CSV [--bootstrap N] [--reps N]
 *
 * CSV is data/t5-c4-sweep.csv, read with sl_dataset_parse as an upload
 * with base_params=169869312 and tokens_per_step=65536 would be, and fitted
 * on log residuals (delta 0.001) with --bootstrap draws (default 1,000,
 * seed 1, 2 threads). Then:
 *   - time: per query (target_loss 2.4, 1e13 inference tokens; each
 *     inference_cost under each cost model), the milliseconds one pass over
 *     the first 100 and over all draws takes, median of --reps (default 5)
 *     passes: the old search, sl_inference_solve from scratch, and
 *     sl_inference_solve_near from the point estimate's plan (the server's
 *     way);
 *   - agreement: for targets 2.4 and 1.40, 0 and 1e13 tokens, both costs and
 *     both cost models, on every draw: the largest relative gap in total
 *     compute and in N, the largest gap in S, and how often each search
 *     found the lower total (by more than 1e-12 relative); and the largest
 *     relative gap between the warm and the cold answer;
 *   - compute-optimal (sl_plan_frontier_solve, GET compute-optimal's draws)
 *     beside the grid + golden section over S it replaced, kept here as the
 *     baseline: time over 200 and 1,000 draws, and agreement in loss.
 * One line per figure on stdout. Exit 0, 1 when the file cannot be read or
 * the fit fails, 2 on bad usage.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_dataset.h"
#include "sl_fit.h"
#include "sl_plan.h"

/* ---- the search sl_inference_solve replaced (the baseline) ---- */

typedef double (*old_fn)(double x, const void *ctx);

/* The best of a 96-point grid, refined by golden section in its cell. */
static double old_min1d(old_fn f, const void *ctx, double lo, double hi, double *fbest) {
    enum { GRID = 96 };
    double bx = lo, bf = f(lo, ctx);
    if (!(hi > lo)) {
        *fbest = bf;
        return lo;
    }
    int bi = 0;
    for (int i = 1; i <= GRID; i++) {
        double x = i == GRID ? hi : lo + (hi - lo) * (double)i / GRID, v = f(x, ctx);
        if (v < bf) bf = v, bx = x, bi = i;
    }
    double a = lo + (hi - lo) * (double)(bi > 0 ? bi - 1 : 0) / GRID;
    double b = bi < GRID ? lo + (hi - lo) * (double)(bi + 1) / GRID : hi;
    const double invphi = 0.6180339887498949;
    double c = b - (b - a) * invphi, d = a + (b - a) * invphi, fc = f(c, ctx), fd = f(d, ctx);
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
    double flo = f(lo, ctx);
    if (flo <= bf + 4 * DBL_EPSILON * fabs(bf)) bf = flo, bx = lo;
    *fbest = bf;
    return bx;
}

typedef struct old_ctx {
    const sl_law *law;
    const sl_inference_query *q;
    double n;
} old_ctx;

/* The plan for the target at n from scratch: bisection on the slope of log
 * compute in x = 1 - S. */
static double old_plan_s(const sl_law *law, const sl_inference_query *q, double n) {
    double nb = pow(n, -law->b_n), e = q->target_loss - law->c - law->c_s * nb;
    double u1 = law->a_s * nb, k = sl_cost_mean_density(&q->cost, 1.0);
    double xl = 1 - q->max_sparsity, xu = 1;
    if (!(e > 0)) return (double)NAN;
    double xe = pow(e / u1, 1 / law->b_s);
    if (!(xl < xe)) return (double)NAN;
    double hi = fmin(xu, xe), lo = xl, x = lo;
#define OLD_SLOPE(xx)                                                                              \
    (e - u1 * pow(xx, law->b_s) > 0                                                                \
         ? law->b_s * u1 * pow(xx, law->b_s) / (law->b_d * (e - u1 * pow(xx, law->b_s))) -         \
               k / (k + (1 - k) * (xx))                                                            \
         : (double)INFINITY)
    if (OLD_SLOPE(lo) >= 0)
        x = lo;
    else if (hi == xu && OLD_SLOPE(hi) <= 0)
        x = hi;
    else {
        for (int it = 0; it < 200; it++) {
            double mid = 0.5 * (lo + hi);
            if (mid <= lo || mid >= hi) break;
            if (OLD_SLOPE(mid) < 0)
                lo = mid;
            else
                hi = mid;
        }
        x = lo;
    }
#undef OLD_SLOPE
    return fmin(fmax(1 - x, 0), q->max_sparsity);
}

static double old_in_s(double s, const void *p) {
    const old_ctx *c = p;
    double v = sl_inference_total(c->law, c->q, c->n, s);
    return isfinite(v) ? v : (double)INFINITY;
}

static double old_best_s(const sl_law *law, const sl_inference_query *q, double n, double *total) {
    *total = (double)INFINITY;
    if (q->kind == SL_INFER_NONZEROS) {
        double s = old_plan_s(law, q, n);
        if (isnan(s)) return 0;
        *total = sl_inference_total(law, q, n, s);
        return s;
    }
    double nb = pow(n, -law->b_n), e = q->target_loss - law->c - law->c_s * nb;
    if (!(e > 0)) return 0;
    double lo = fmax(0, 1 - pow(e / (law->a_s * nb), 1 / law->b_s));
    if (!(lo <= q->max_sparsity)) return 0;
    old_ctx c = {law, q, n};
    return old_min1d(old_in_s, &c, lo, q->max_sparsity, total);
}

static double old_in_log_n(double log_n, const void *p) {
    const old_ctx *c = p;
    double total;
    old_best_s(c->law, c->q, exp(log_n), &total);
    return isfinite(total) ? total : (double)INFINITY;
}

static int old_solve(const sl_law *law, const sl_inference_query *q, sl_inference_plan *out) {
    double e0 = q->target_loss - law->c;
    if (!(e0 > 0)) return SL_LAW_UNREACHABLE;
    double a_top = law->a_s * pow(1 - q->max_sparsity, law->b_s) + law->c_s;
    double lo = (log(a_top) - log(e0)) / law->b_n + 1e-9;
    double hi = fmin(lo + 18.0 * log(10), log(1e30));
    if (!(lo < hi)) return SL_LAW_UNREACHABLE;
    old_ctx c = {law, q, 0};
    double total, log_n = old_min1d(old_in_log_n, &c, lo, hi, &total);
    if (!isfinite(total)) return SL_LAW_UNREACHABLE;
    double n = exp(log_n), s = old_best_s(law, q, n, &total);
    double d = sl_plan_data_for_loss(law, SL_PLAN_SCRATCH, q->target_loss, s, n);
    out->nonzeros = n;
    out->sparsity = s;
    out->data = d;
    out->training_compute = sl_plan_training_compute(&q->cost, s, n, d);
    out->inference_compute = 2 * (q->kind == SL_INFER_TOTAL ? n / (1 - s) : n) * q->tokens;
    out->total_compute = out->training_compute + out->inference_compute;
    return isfinite(out->total_compute) ? SL_LAW_OK : SL_LAW_UNREACHABLE;
}

/* ---- the compute-optimal search sl_plan_frontier_solve replaced ---- */

typedef struct old_frontier_ctx {
    const sl_law *law;
    const sl_frontier_query *q;
} old_frontier_ctx;

static double old_frontier_loss(double s, const void *p) {
    const old_frontier_ctx *c = p;
    sl_frontier f;
    sl_plan_frontier_at(c->law, c->q, s, &f);
    return isfinite(f.loss) ? f.loss : (double)INFINITY;
}

/* The grid and golden section over S, each S at its Chinchilla split. */
static int old_frontier_solve(const sl_law *law, const sl_frontier_query *q, sl_frontier *out) {
    if (sl_plan_frontier_at(law, q, 0, out) != SL_LAW_OK) return SL_LAW_EINVAL;
    old_frontier_ctx c = {law, q};
    double f, s = old_min1d(old_frontier_loss, &c, 0, q->max_sparsity, &f);
    if (f < out->loss * (1 - 4 * DBL_EPSILON)) sl_plan_frontier_at(law, q, s, out);
    return SL_LAW_OK;
}

/* ---- measuring ---- */

typedef int (*solve_fn)(const sl_law *law, const sl_inference_query *q, sl_inference_plan *out);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile double sink; /* keeps the solves from being optimised away */

/* The point estimate's plan for the query being timed: where the warm
 * search of each draw starts, as the server's intervals do. */
static sl_inference_plan point_plan;

static int warm_solve(const sl_law *law, const sl_inference_query *q, sl_inference_plan *out) {
    return sl_inference_solve_near(law, q, &point_plan, out);
}

/* Milliseconds of one pass of solve over draws[0..n), median of reps. */
static double pass_ms(solve_fn solve, const sl_law *draws, size_t n, const sl_inference_query *q,
                      unsigned reps) {
    double t[64];
    if (reps > 64) reps = 64;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now_s(), acc = 0;
        for (size_t i = 0; i < n; i++) {
            sl_inference_plan p;
            if (solve(&draws[i], q, &p) == SL_LAW_OK) acc += p.total_compute;
        }
        t[r] = (now_s() - t0) * 1e3;
        sink = acc;
    }
    qsort(t, reps, sizeof t[0], cmp_double);
    return t[reps / 2];
}

static const char *kind_name(sl_inference_cost k) {
    return k == SL_INFER_TOTAL ? "total" : "nonzeros";
}

static const char *cost_name(const sl_cost *c) {
    return c->model == SL_COST_GMP ? "gmp" : "dense";
}

typedef int (*frontier_fn)(const sl_law *law, const sl_frontier_query *q, sl_frontier *out);

static sl_frontier point_frontier;

static int warm_frontier(const sl_law *law, const sl_frontier_query *q, sl_frontier *out) {
    return sl_plan_frontier_solve_near(law, q, &point_frontier, out);
}

/* Milliseconds of one pass of solve over draws[0..n), median of reps. */
static double frontier_pass_ms(frontier_fn solve, const sl_law *draws, size_t n,
                               const sl_frontier_query *q, unsigned reps) {
    double t[64];
    if (reps > 64) reps = 64;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now_s(), acc = 0;
        for (size_t i = 0; i < n; i++) {
            sl_frontier f;
            if (solve(&draws[i], q, &f) == SL_LAW_OK) acc += f.loss;
        }
        t[r] = (now_s() - t0) * 1e3;
        sink = acc;
    }
    qsort(t, reps, sizeof t[0], cmp_double);
    return t[reps / 2];
}

/* GET compute-optimal's draws: the old grid + golden search in S, the root
 * find from scratch and from the point estimate's answer, at 1e21 FLOPs,
 * both cost models, free and with max_nonzeros 1e8; then the agreement in
 * loss on every draw at 1e19, 1e21, 1e23 FLOPs. */
static void frontier_report(const sl_fit_result *fit, unsigned reps) {
    const sl_cost costs[2] = {{SL_COST_DENSE, 0, 0},
                              {SL_COST_GMP, SL_COST_GMP_DEFAULT_START, SL_COST_GMP_DEFAULT_END}};
    const double caps[2] = {(double)INFINITY, 1e8}, budgets[3] = {1e19, 1e21, 1e23};
    const size_t counts[3] = {200, 1000, fit->n_draws};
    printf("compute-optimal: one pass over the draws (ms, median of %u), compute 1e21:\n", reps);
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 2; m++) {
            sl_frontier_query q = {1e21, costs[c], caps[m], SL_LAW_DEFAULT_MAX_SPARSITY, NULL, 0};
            if (sl_plan_frontier_solve(&fit->law, &q, &point_frontier) != SL_LAW_OK) return;
            for (int k = 0; k < 3; k++) {
                size_t n = counts[k] < fit->n_draws ? counts[k] : fit->n_draws;
                if (k == 2 && n == counts[1]) break;
                double before = frontier_pass_ms(old_frontier_solve, fit->draws, n, &q, reps);
                double cold = frontier_pass_ms(sl_plan_frontier_solve, fit->draws, n, &q, reps);
                double warm = frontier_pass_ms(warm_frontier, fit->draws, n, &q, reps);
                printf("  %-5s max_nonzeros %-5g %4zu draws: before %8.3f ms  after %7.3f ms, "
                       "from the point estimate's answer %7.3f ms  (%.0fx)\n",
                       cost_name(&costs[c]), caps[m], n, before, cold, warm, before / warm);
            }
        }
    printf("compute-optimal agreement on every draw (new - old loss, relative):\n");
    for (int c = 0; c < 2; c++)
        for (int m = 0; m < 2; m++)
            for (int b = 0; b < 3; b++) {
                sl_frontier_query q = {budgets[b], costs[c], caps[m], SL_LAW_DEFAULT_MAX_SPARSITY,
                                       NULL,       0};
                sl_frontier point;
                sl_plan_frontier_solve(&fit->law, &q, &point);
                double worst = 0, best = 0, dwarm = 0;
                size_t capped = 0;
                for (size_t i = 0; i < fit->n_draws; i++) {
                    sl_frontier a, n, w;
                    old_frontier_solve(&fit->draws[i], &q, &a);
                    sl_plan_frontier_solve(&fit->draws[i], &q, &n);
                    sl_plan_frontier_solve_near(&fit->draws[i], &q, &point, &w);
                    double rel = (n.loss - a.loss) / a.loss;
                    worst = fmax(worst, rel), best = fmin(best, rel);
                    dwarm = fmax(dwarm, fabs(w.loss / n.loss - 1));
                    capped += n.capped != 0;
                }
                printf("  %-5s max_nonzeros %-5g C %g: %zu draws (%zu capped), new higher by at "
                       "most %.1e, lower by at most %.1e; warm vs cold %.1e\n",
                       cost_name(&costs[c]), caps[m], budgets[b], fit->n_draws, capped, worst,
                       -best, dwarm);
            }
}

/* The whole file, malloc'd and NUL-terminated; NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 > cap) {
            char *bigger = realloc(buf, cap = 2 * cap + 4096);
            if (!bigger) break;
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: inference_bench CSV [--bootstrap N] [--reps N]\n");
        return 2;
    }
    unsigned bootstrap = 1000, reps = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--bootstrap") == 0)
            bootstrap = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "inference_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    size_t len = 0;
    char *body = slurp(argv[1], &len);
    if (!body) {
        fprintf(stderr, "inference_bench: cannot read %s\n", argv[1]);
        return 1;
    }
    sl_dataset_options po = {.has_base_params = 1,
                             .base_params = 169869312.0,
                             .has_tokens_per_step = 1,
                             .tokens_per_step = 65536.0};
    sl_dataset ds;
    static sl_dataset_errors errs;
    int rc = sl_dataset_parse(body, len, SL_DATASET_CSV, &po, &ds, &errs);
    free(body);
    if (rc != 0) {
        fprintf(stderr, "inference_bench: %s does not parse\n", argv[1]);
        return 1;
    }
    sl_fit_row *rows = calloc(ds.nrows, sizeof *rows);
    if (!rows) abort();
    for (size_t i = 0; i < ds.nrows; i++)
        rows[i] = (sl_fit_row){ds.rows[i].sparsity, ds.rows[i].nonzeros, ds.rows[i].data,
                               ds.rows[i].loss};
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = SL_FIT_RESIDUALS_LOG;
    o.loss.delta = 0.001;
    o.bootstrap = bootstrap;
    o.seed = 1;
    o.threads = 2;
    sl_fit_result fit;
    char why[256] = "";
    if (sl_fit(rows, ds.nrows, &o, &fit, why, sizeof why) != SL_FIT_OK || fit.n_draws < 100) {
        fprintf(stderr, "inference_bench: fit failed: %s\n", why);
        return 1;
    }
    printf("t5-c4 sweep (%zu rows) fitted with %zu bootstrap draws\n", ds.nrows, fit.n_draws);
    const sl_cost costs[2] = {{SL_COST_DENSE, 0, 0},
                              {SL_COST_GMP, SL_COST_GMP_DEFAULT_START, SL_COST_GMP_DEFAULT_END}};
    const sl_inference_cost kinds[2] = {SL_INFER_NONZEROS, SL_INFER_TOTAL};
    const size_t counts[2] = {100, fit.n_draws};
    printf("time of one pass over the draws (ms, median of %u), target_loss 2.4, 1e13 tokens:\n",
           reps);
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++) {
            sl_inference_query q = {2.4, 1e13, kinds[k], costs[c], SL_LAW_DEFAULT_MAX_SPARSITY, 0};
            if (sl_inference_solve(&fit.law, &q, &point_plan) != SL_LAW_OK) return 1;
            for (int m = 0; m < (counts[1] > counts[0] ? 2 : 1); m++) {
                double before = pass_ms(old_solve, fit.draws, counts[m], &q, reps);
                double cold = pass_ms(sl_inference_solve, fit.draws, counts[m], &q, reps);
                double warm = pass_ms(warm_solve, fit.draws, counts[m], &q, reps);
                printf("  %-8s %-5s %4zu draws: before %9.2f ms  after %7.3f ms, from the "
                       "point estimate's plan %7.3f ms  (%.0fx)\n",
                       kind_name(kinds[k]), cost_name(&costs[c]), counts[m], before, cold, warm,
                       before / warm);
            }
        }
    const double targets[2] = {2.4, 1.40}, tokens[2] = {0, 1e13};
    printf("agreement on every draw (new - old):\n");
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++)
            for (int t = 0; t < 2; t++)
                for (int z = 0; z < 2; z++) {
                    sl_inference_query q = {
                        targets[t], tokens[z], kinds[k], costs[c], SL_LAW_DEFAULT_MAX_SPARSITY, 0};
                    double dtot = 0, dn = 0, ds_ = 0, dwarm = 0;
                    size_t both = 0, only = 0, new_lower = 0, old_lower = 0;
                    sl_inference_plan near;
                    int rn = sl_inference_solve(&fit.law, &q, &near);
                    for (size_t i = 0; i < fit.n_draws; i++) {
                        sl_inference_plan a, b, w;
                        int ra = old_solve(&fit.draws[i], &q, &a);
                        int rb = sl_inference_solve(&fit.draws[i], &q, &b);
                        int rw = sl_inference_solve_near(&fit.draws[i], &q, rn ? NULL : &near, &w);
                        if (ra != rb || rb != rw) only++;
                        if (ra || rb || rw) continue;
                        dwarm = fmax(dwarm, fabs(w.nonzeros / b.nonzeros - 1));
                        dwarm = fmax(dwarm, fabs(w.sparsity - b.sparsity));
                        dwarm = fmax(dwarm, fabs(w.total_compute / b.total_compute - 1));
                        both++;
                        double rel = (b.total_compute - a.total_compute) / a.total_compute;
                        dtot = fmax(dtot, fabs(rel));
                        new_lower += rel < -1e-12;
                        old_lower += rel > 1e-12;
                        dn = fmax(dn, fabs(b.nonzeros / a.nonzeros - 1));
                        ds_ = fmax(ds_, fabs(b.sparsity - a.sparsity));
                    }
                    printf("  %-8s %-5s L* %.2f T %-5g: %zu draws, |dC|/C %.1e, |dN|/N %.1e, "
                           "|dS| %.1e; lower total: new %zu, old %zu; solved by one only %zu; "
                           "warm vs cold %.1e\n",
                           kind_name(kinds[k]), cost_name(&costs[c]), targets[t], tokens[z], both,
                           dtot, dn, ds_, new_lower, old_lower, only, dwarm);
                }
    frontier_report(&fit, reps);
    sl_fit_result_free(&fit);
    sl_dataset_free(&ds);
    free(rows);
    return 0;
}
