/*
 * fit_bench.c - how fast and how well sl_fit fits the two published sweeps
 * (docs/law-math.md §5), for bench/fit_bench.sh to set beside the
 * authors' scipy method (bench/scipy_fit.py).
 *
 *   fit_bench DATA_DIR [--reps N] [--threads N] [--bootstrap N]
 *             [--bootstrap-threads N] [--seed N]
 *
 * DATA_DIR holds vit-jft-sweep.json and t5-c4-sweep.csv (data/ from
 * the project root); both are read with sl_dataset_parse, as an upload would
 * be:
 *   ViT: nonzeros = 84,934,656 x scale x (1 - S), data = total_examples;
 *        delta 0.01 on plain residuals.
 *   T5:  nonzeros = 169,869,312 x scale x (1 - S), data = steps x 65,536
 *        tokens; delta 0.001 on log residuals.
 *
 * Measured with CLOCK_MONOTONIC around sl_fit:
 *   - each sweep with the default starts, on 1 thread and on --threads
 *     (default: every online core), best of --reps (default 5) runs;
 *   - a --bootstrap (default 1,000) resample bootstrap of T5 on
 *     --bootstrap-threads (default 2), best of max(1, reps / 2) runs.
 *
 * Prints one JSON line per measurement on stdout:
 *   {"bench":"fit","sweep":"vit","rows":112,"threads":2,"objective":...,
 *    "seconds":..., ...}
 *   {"bench":"bootstrap","sweep":"t5","resamples":1000,"threads":2,...}
 * objective is the mean Huber of the best law, in loss units (plain) or
 * log-loss units (log): independent of the units of N and D, so directly
 * comparable with scipy's value in normalised units. Exit 0 on success, 1
 * when a file cannot be read or parsed or a fit fails, 2 on bad usage.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sl_dataset.h"
#include "sl_fit.h"

/* data/README.md: 12 d^2 per block, d = 768; ViT 12 blocks, T5 24. */
#define VIT_BASE_PARAMS    84934656.0
#define T5_BASE_PARAMS     169869312.0
#define T5_TOKENS_PER_STEP 65536.0

/* law-math.md §2, full precision: the authors' own fits, for reference. */
static const sl_law published_vit = {294.389596179, 0.82101251, 468.157382899, 0.39222675,
                                     237412873.842, 0.88979104, 4.51669257};
static const sl_law published_t5 = {16.7870501071, 0.72161276, 45.0184473511, 0.24513173,
                                    689991261.918, 0.20270772, 0.65074219};

typedef struct sweep {
    const char *name; /* "vit", "t5" */
    const char *file;
    sl_dataset_format format;
    sl_dataset_options parse;
    sl_fit_loss loss;
    const sl_law *published;
    sl_fit_row *rows;
    size_t n;
} sweep;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The whole file, malloc'd; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (buf && bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

static int load(sweep *sw, const char *dir) {
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/%s", dir, sw->file);
    if (w < 0 || (size_t)w >= sizeof path) {
        fprintf(stderr, "fit_bench: path too long: %s/%s\n", dir, sw->file);
        return -1;
    }
    size_t len = 0;
    char *body = read_file(path, &len);
    if (!body) {
        fprintf(stderr, "fit_bench: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    sl_dataset ds;
    static sl_dataset_errors errs; /* large; one at a time */
    int rc = sl_dataset_parse(body, len, sw->format, &sw->parse, &ds, &errs);
    free(body);
    if (rc != 0) {
        fprintf(stderr, "fit_bench: %s: %zu problem(s)\n", path, errs.count + errs.omitted);
        for (size_t i = 0; i < errs.count; i++)
            fprintf(stderr, "  row %zu %s: %s\n", errs.items[i].row, errs.items[i].field,
                    errs.items[i].reason);
        return -1;
    }
    sw->rows = calloc(ds.nrows ? ds.nrows : 1, sizeof *sw->rows);
    if (!sw->rows) {
        sl_dataset_free(&ds);
        fprintf(stderr, "fit_bench: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < ds.nrows; i++) {
        sw->rows[i].sparsity = ds.rows[i].sparsity;
        sw->rows[i].nonzeros = ds.rows[i].nonzeros;
        sw->rows[i].data = ds.rows[i].data;
        sw->rows[i].loss = ds.rows[i].loss;
    }
    sw->n = ds.nrows;
    sl_dataset_free(&ds);
    return 0;
}

static void print_law(const sl_law *law) {
    printf("{");
    for (size_t k = 0; k < SL_LAW_NCOEF; k++)
        printf("%s\"%s\":%.17g", k ? "," : "", sl_law_coef_names[k], sl_law_coef_get(law, k));
    printf("}");
}

/* Runs sl_fit reps times; *best_s the fastest, res the last run's result
 * (every run gives the same: sl_fit is deterministic). */
static int timed_fit(const sweep *sw, const sl_fit_options *o, unsigned reps, double *best_s,
                     double *total_s, sl_fit_result *res) {
    *best_s = (double)INFINITY;
    *total_s = 0;
    memset(res, 0, sizeof *res);
    for (unsigned r = 0; r < reps; r++) {
        char why[256] = "";
        sl_fit_result_free(res);
        double t0 = now_s();
        int rc = sl_fit(sw->rows, sw->n, o, res, why, sizeof why);
        double dt = now_s() - t0;
        if (rc != SL_FIT_OK) {
            fprintf(stderr, "fit_bench: %s: sl_fit failed (%d): %s\n", sw->name, rc, why);
            return -1;
        }
        *total_s += dt;
        if (dt < *best_s) *best_s = dt;
    }
    return 0;
}

static int bench_fit(const sweep *sw, unsigned threads, unsigned reps, uint64_t seed) {
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss = sw->loss;
    o.seed = seed;
    o.threads = threads;
    sl_fit_result res;
    double best, total;
    if (timed_fit(sw, &o, reps, &best, &total, &res) != 0) return -1;
    sl_fit_errors pub;
    double pub_obj = (double)NAN;
    if (sl_fit_evaluate(sw->published, sw->rows, sw->n, &sw->loss, NULL, NULL, &pub) == SL_FIT_OK)
        pub_obj = pub.objective;
    printf("{\"bench\":\"fit\",\"sweep\":\"%s\",\"rows\":%zu,\"residuals\":\"%s\",\"delta\":%g,"
           "\"threads\":%u,\"starts\":%u,\"starts_converged\":%u,\"starts_at_best\":%u,"
           "\"objective\":%.17g,\"seconds\":%.6f,\"mean_seconds\":%.6f,\"reps\":%u,"
           "\"rmse\":%.6g,\"mean_abs_rel_error\":%.6g,\"published_objective\":%.17g,\"law\":",
           sw->name, sw->n, sw->loss.residuals == SL_FIT_RESIDUALS_LOG ? "log" : "plain",
           sw->loss.delta, threads, res.starts, res.starts_converged, res.starts_at_best,
           res.errors.objective, best, total / reps, reps, res.errors.rmse,
           res.errors.mean_abs_rel_error, pub_obj);
    print_law(&res.law);
    printf("}\n");
    fflush(stdout);
    sl_fit_result_free(&res);
    return 0;
}

static int bench_bootstrap(const sweep *sw, unsigned resamples, unsigned threads, unsigned reps,
                           uint64_t seed) {
    sl_fit_options o;
    sl_fit_options_default(&o);
    o.loss = sw->loss;
    o.seed = seed;
    o.threads = threads;
    o.bootstrap = resamples;
    sl_fit_result res;
    double best, total;
    if (timed_fit(sw, &o, reps, &best, &total, &res) != 0) return -1;
    printf("{\"bench\":\"bootstrap\",\"sweep\":\"%s\",\"rows\":%zu,\"resamples\":%u,"
           "\"bootstrap_starts\":%u,\"threads\":%u,\"draws\":%zu,\"failed\":%u,"
           "\"objective\":%.17g,\"seconds\":%.6f,\"mean_seconds\":%.6f,\"reps\":%u,"
           "\"b_n_interval\":[%.6g,%.6g],\"b_d_interval\":[%.6g,%.6g]}\n",
           sw->name, sw->n, resamples,
           o.bootstrap_starts ? o.bootstrap_starts : SL_FIT_DEFAULT_BOOTSTRAP_STARTS, threads,
           res.n_draws, res.bootstrap_failed, res.errors.objective, best, total / reps, reps,
           res.lower[3], res.upper[3], res.lower[5], res.upper[5]);
    fflush(stdout);
    sl_fit_result_free(&res);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: fit_bench DATA_DIR [--reps N] [--threads N] [--bootstrap N]\n"
                    "                 [--bootstrap-threads N] [--seed N]\n");
}

/* A whole decimal number in [lo, hi]. */
static int parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!text || !*text || *text == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (uint64_t)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t reps = 5, seed = 0, resamples = 1000, boot_threads = 2;
    uint64_t threads = online > 0 ? (uint64_t)online : 1;
    if (threads > SL_FIT_MAX_THREADS) threads = SL_FIT_MAX_THREADS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *dst = NULL, lo = 1, hi = 1000;
        if (strcmp(a, "--reps") == 0)
            dst = &reps;
        else if (strcmp(a, "--threads") == 0)
            dst = &threads, hi = SL_FIT_MAX_THREADS;
        else if (strcmp(a, "--bootstrap-threads") == 0)
            dst = &boot_threads, hi = SL_FIT_MAX_THREADS;
        else if (strcmp(a, "--bootstrap") == 0)
            dst = &resamples, lo = 0, hi = SL_FIT_MAX_BOOTSTRAP;
        else if (strcmp(a, "--seed") == 0)
            dst = &seed, lo = 0, hi = UINT64_MAX;
        else if (a[0] == '-' || dir) {
            usage();
            return 2;
        } else {
            dir = a;
            continue;
        }
        if (i + 1 >= argc || parse_u64(argv[i + 1], lo, hi, dst) != 0) {
            fprintf(stderr, "fit_bench: %s needs a whole number in [%llu, %llu]\n", a,
                    (unsigned long long)lo, (unsigned long long)hi);
            return 2;
        }
        i++;
    }
    if (!dir) {
        usage();
        return 2;
    }

    sweep vit = {.name = "vit",
                 .file = "vit-jft-sweep.json",
                 .format = SL_DATASET_JSON,
                 .parse = {.has_base_params = 1, .base_params = VIT_BASE_PARAMS},
                 .loss = {SL_FIT_RESIDUALS_PLAIN, 0.01},
                 .published = &published_vit};
    sweep t5 = {.name = "t5",
                .file = "t5-c4-sweep.csv",
                .format = SL_DATASET_CSV,
                .parse = {.has_base_params = 1,
                          .base_params = T5_BASE_PARAMS,
                          .has_tokens_per_step = 1,
                          .tokens_per_step = T5_TOKENS_PER_STEP},
                .loss = {SL_FIT_RESIDUALS_LOG, 0.001},
                .published = &published_t5};
    int status = 1;
    if (load(&vit, dir) != 0 || load(&t5, dir) != 0) goto out;

    /* One untimed fit first: page faults, thread start-up, lazy binding. */
    {
        sl_fit_options o;
        sl_fit_options_default(&o);
        o.loss = vit.loss;
        o.threads = (unsigned)threads;
        sl_fit_result warm;
        char why[256] = "";
        if (sl_fit(vit.rows, vit.n, &o, &warm, why, sizeof why) != SL_FIT_OK) {
            fprintf(stderr, "fit_bench: vit: sl_fit failed: %s\n", why);
            goto out;
        }
        sl_fit_result_free(&warm);
    }

    sweep *sweeps[2] = {&vit, &t5};
    for (size_t s = 0; s < 2; s++) {
        if (bench_fit(sweeps[s], 1, (unsigned)reps, seed) != 0) goto out;
        if (threads > 1 && bench_fit(sweeps[s], (unsigned)threads, (unsigned)reps, seed) != 0)
            goto out;
    }
    if (resamples > 0 && bench_bootstrap(&t5, (unsigned)resamples, (unsigned)boot_threads,
                                         reps / 2 ? (unsigned)(reps / 2) : 1, seed) != 0)
        goto out;
    status = 0;
out:
    free(vit.rows);
    free(t5.rows);
    return status;
}
