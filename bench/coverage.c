/*
 * coverage.c - do the fit's intervals hold the truth as often as they say?
 * A coverage study, not a test: synthetic sweeps from known coefficients
 * (the published T5 law), 1 % log-normal noise, each fitted as the service
 * fits (sl_fit: 64 starts, a bootstrap, mean Huber of log residuals with
 * delta 1e-3; then sl_fit_diagnose), on two designs:
 *   thin: the T5 sweep's, 4 N x 4 S x 3 D (N over 64x, D over 4x);
 *   rich: 6 N x 6 S x 5 D (N over 1e7 .. 3.2e9, D over 1e9 .. 1e12).
 *
 *   coverage [--replicates R] [--bootstrap B] [--threads T] [--seed S]
 *            [--design thin|rich|both]
 *
 * Defaults: 100 replicates, 200 resamples (the service's default), every
 * core, seed 1, both designs. Prints, per design, the share of replicates
 * whose interval holds the true value, for every coefficient:
 *   boot:    the 95 % bootstrap percentile interval (the `intervals` of a
 *            fit, and what queries use);
 *   profile: the profile range (b_s, b_n, b_d and c only; diagnostics);
 * and for S_opt at two queries (the bootstrap percentile interval of S_opt
 * over the draws, as GET .../optimal-sparsity answers it); then the
 * verdicts, and for each coefficient the share of replicates whose verdict
 * is weak or unidentified with a reason naming it ("named %"). About 1.3 s
 * a replicate (200 resamples, the profiles included) on 2 cores shared with
 * other jobs: the defaults run some 4 minutes; --replicates 20 --bootstrap
 * 100 about 30 s.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_fit.h"
#include "sl_fit_diag.h"

#define NP           SL_LAW_NCOEF
#define MAX_ROWS     256
#define NQUERIES     2
#define NOISE        0.01
#define T5_BASE      169869312.0
#define T5_PER_STEP  65536.0
#define NAME_IN_TEXT 1

/* The published T5 law (docs/law-math.md §2). */
static const sl_law truth = {16.7870501071, 0.72161276, 45.0184473511, 0.24513173,
                             689991261.918, 0.20270772, 0.65074219};

static const double queries[NQUERIES][2] = {{1e9, 2e11}, {1e8, 1e10}};

/* splitmix64 and Box-Muller: the same rows for the same seed anywhere. */
static uint64_t rng_state;
static double uniform_open(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}
static double normal(void) {
    return sqrt(-2 * log(uniform_open())) * cos(2 * 3.14159265358979323846 * uniform_open());
}

static size_t sweep(int rich, sl_fit_row *rows) {
    static const double thin_s[] = {0, 0.5, 0.75, 0.875};
    static const double thin_scale[] = {0.0078125, 0.03125, 0.125, 0.5};
    static const double thin_steps[] = {250000, 500000, 1000000};
    static const double rich_s[] = {0, 0.25, 0.5, 0.75, 0.875, 0.9375};
    static const double rich_n[] = {1e7, 3.2e7, 1e8, 3.2e8, 1e9, 3.2e9};
    static const double rich_d[] = {1e9, 5.6e9, 3.2e10, 1.8e11, 1e12};
    size_t n = 0;
    if (!rich) {
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t s = 0; s < 4; s++)
                    rows[n++] = (sl_fit_row){
                        thin_s[s], T5_BASE * thin_scale[a] * pow(2, (double)s) * (1 - thin_s[s]),
                        thin_steps[b] * T5_PER_STEP, 0};
    } else {
        for (size_t a = 0; a < 6; a++)
            for (size_t b = 0; b < 5; b++)
                for (size_t s = 0; s < 6; s++)
                    rows[n++] = (sl_fit_row){rich_s[s], rich_n[a], rich_d[b], 0};
    }
    for (size_t i = 0; i < n; i++)
        rows[i].loss = sl_law_loss(&truth, rows[i].sparsity, rows[i].nonzeros, rows[i].data) *
                       exp(NOISE * normal());
    return n;
}

static double s_opt(const sl_law *law, double n, double d) {
    sl_cost cost = {SL_COST_DENSE, 0, 0};
    sl_law_optimum o;
    return sl_law_optimal_sparsity(law, &cost, n, d, SL_LAW_DEFAULT_MAX_SPARSITY, &o) == SL_LAW_OK
               ? o.sparsity
               : (double)NAN;
}

/* name as a word of text: "c" in "c (the loss ...)" but not in "c_s". */
static int names(const char *text, const char *name) {
    size_t len = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        int before = p == text || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z'));
        char a = p[len];
        int after = !(a == '_' || (a >= 'a' && a <= 'z'));
        if (before && after) return NAME_IN_TEXT;
    }
    return 0;
}

typedef struct tally {
    unsigned reps, failed;
    unsigned boot[NP], prof[NP], sopt[NQUERIES], sopt_n[NQUERIES];
    double width[NQUERIES];
    unsigned verdicts[3], named[NP];
} tally;

static int one(int rich, unsigned rep, const sl_fit_options *base, tally *t) {
    sl_fit_row rows[MAX_ROWS];
    size_t n = sweep(rich, rows);
    sl_fit_options o = *base;
    o.seed = rep;
    sl_fit_result r;
    sl_fit_diag *d = malloc(sizeof *d);
    if (!d || sl_fit(rows, n, &o, &r, NULL, 0) != SL_FIT_OK) {
        free(d);
        t->failed++;
        return -1;
    }
    if (sl_fit_diagnose(rows, n, &o, &r, NULL, d) != SL_FIT_OK) {
        sl_fit_result_free(&r);
        free(d);
        t->failed++;
        return -1;
    }
    t->reps++;
    t->verdicts[d->verdict]++;
    for (size_t k = 0; k < NP; k++) {
        double v = sl_law_coef_get(&truth, k);
        t->boot[k] += r.lower[k] <= v && v <= r.upper[k];
        for (size_t i = 0; i < d->nreasons; i++)
            if (names(d->reasons[i].message, sl_law_coef_names[k])) {
                t->named[k]++;
                break;
            }
    }
    for (size_t i = 0; i < d->nprofiles; i++) {
        const sl_fit_profile *p = &d->profiles[i];
        double v = sl_law_coef_get(&truth, p->coef);
        t->prof[p->coef] += p->lower <= v && v <= p->upper;
    }
    double *vals = malloc(r.n_draws * sizeof *vals);
    for (size_t q = 0; q < NQUERIES && vals; q++) {
        size_t ok = 0;
        for (size_t b = 0; b < r.n_draws; b++) {
            double s = s_opt(&r.draws[b], queries[q][0], queries[q][1]);
            if (isfinite(s)) vals[ok++] = s;
        }
        double lo, hi, want = s_opt(&truth, queries[q][0], queries[q][1]);
        if (ok && sl_fit_percentile_interval(vals, ok, 0.95, &lo, &hi) == SL_FIT_OK) {
            t->sopt_n[q]++;
            t->sopt[q] += lo <= want && want <= hi;
            t->width[q] += hi - lo;
        }
    }
    free(vals);
    sl_fit_result_free(&r);
    free(d);
    return 0;
}

static double pct(unsigned a, unsigned b) {
    return b ? 100.0 * a / b : (double)NAN;
}

static void print(const char *design, const tally *t) {
    printf("\n%s design: %u replicates (%u failed), 95 %% intervals\n", design, t->reps, t->failed);
    printf("  %-22s %8s %8s %14s\n", "quantity", "boot %", "profile %", "named %");
    for (size_t k = 0; k < NP; k++) {
        int profiled = k == 1 || k == 3 || k == 5 || k == 6;
        printf("  %-22s %8.1f ", sl_law_coef_names[k], pct(t->boot[k], t->reps));
        if (profiled)
            printf("%8.1f ", pct(t->prof[k], t->reps));
        else
            printf("%8s ", "-");
        printf("%14.1f\n", pct(t->named[k], t->reps));
    }
    for (size_t q = 0; q < NQUERIES; q++) {
        char label[64];
        snprintf(label, sizeof label, "S_opt(%.0e, %.0e)", queries[q][0], queries[q][1]);
        printf("  %-22s %8.1f %8s %14s   mean width %.3f, truth %.4f\n", label,
               pct(t->sopt[q], t->sopt_n[q]), "-", "-",
               t->sopt_n[q] ? t->width[q] / t->sopt_n[q] : (double)NAN,
               s_opt(&truth, queries[q][0], queries[q][1]));
    }
    printf("  verdicts: good %u, weak %u, unidentified %u\n", t->verdicts[0], t->verdicts[1],
           t->verdicts[2]);
}

int main(int argc, char **argv) {
    unsigned reps = 100, boot = 200, threads = 0;
    uint64_t seed = 1;
    const char *design = "both";
    for (int i = 1; i < argc; i += 2) { /* --name value pairs */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (strcmp(a, "--replicates") == 0)
            reps = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--bootstrap") == 0)
            boot = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--threads") == 0)
            threads = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--design") == 0)
            design = v;
        else
            goto usage;
    }
    if (!reps || !boot ||
        (strcmp(design, "thin") && strcmp(design, "rich") && strcmp(design, "both")))
        goto usage;
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss.residuals = SL_FIT_RESIDUALS_LOG;
    o.loss.delta = 1e-3;
    o.bootstrap = boot;
    o.threads = threads;
    printf("coverage: truth = the published T5 law, %.0f %% log-normal noise, %u resamples\n",
           100 * NOISE, boot);
    for (int rich = 0; rich <= 1; rich++) {
        if (strcmp(design, "both") && strcmp(design, rich ? "rich" : "thin")) continue;
        tally t = {0};
        rng_state = seed + (uint64_t)rich * 0x1000000;
        for (unsigned r = 0; r < reps; r++)
            one(rich, r, &o, &t);
        print(rich ? "rich (6 N x 6 S x 5 D)" : "thin (4 N x 4 S x 3 D)", &t);
    }
    return 0;
usage:
    fprintf(stderr, "usage: coverage [--replicates R] [--bootstrap B] [--threads T] [--seed S] "
                    "[--design thin|rich|both]\n");
    return 2;
}
