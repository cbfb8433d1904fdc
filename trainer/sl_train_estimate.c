/*
 * sl_train_estimate.c - the dry run's estimate: a few timed training steps
 * of the configured model, extrapolated to the run (sl_train_estimate.h).
 */
#include "sl_train_estimate.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_time.h"
#include "sl_train_rng.h"

/* Timed steps: at least MIN_STEPS and MIN_TIMED_S of them (small models
 * take milliseconds a step, and one busy moment would skew three), at most
 * MAX_STEPS; and none after the first once BUDGET_S has gone since the
 * warm-up began (large models). */
#define MIN_STEPS   3
#define MAX_STEPS   200
#define MIN_TIMED_S 0.25
#define BUDGET_S    1.0
/* Time no step that the BLAS speed says takes longer than this. */
#define MAX_STEP_S 1.0
/* Time no model that needs more than this share of the available memory. */
#define MEMORY_SHARE 0.5

#define GIB (1024.0 * 1024.0 * 1024.0)

/* MemAvailable of /proc/meminfo (free memory and reclaimable cache), or the
 * free pages; 0 when neither can be read. */
static double available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[128];
        unsigned long long kib;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
                fclose(f);
                return (double)kib * 1024.0;
            }
        fclose(f);
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

/* FLOP/s of a square single-precision matrix product, about what the
 * model's matmuls reach at best; 0 when out of memory. */
static double matmul_flops_per_s(void) {
    enum { N = 384 };
    float *a = malloc(3 * N * N * sizeof(float));
    if (!a) return 0.0;
    float *b = a + N * N, *c = b + N * N;
    for (size_t i = 0; i < 2 * N * N; i++)
        a[i] = (float)(i % 7) * 0.01f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
    long reps = 0;
    double t0 = sl_time_monotonic(), dt;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c,
                    N);
        reps++;
        dt = sl_time_monotonic() - t0;
    } while (dt < 0.02);
    free(a);
    return 2.0 * N * N * N * (double)reps / dt;
}

/* Refuses to time what would take too much memory or time; 0 when timing
 * may go ahead, else -1 with the reason in e. */
static int timing_allowed(const sl_train_options *o, sl_train_estimate *e) {
    const sl_train_model_config *c = &o->model;
    if (o->device != SL_TRAIN_DEVICE_CPU) {
        snprintf(e->reason, sizeof e->reason,
                 "device: the dry run times CPU steps; a --device cuda run is not timed");
        return -1;
    }
    double need = sl_train_model_bytes(c), avail = available_bytes();
    if (avail > 0 && need > MEMORY_SHARE * avail) {
        snprintf(e->reason, sizeof e->reason,
                 "memory: the model needs %.3g GiB, more than half of the %.3g GiB this machine "
                 "has available",
                 need / GIB, avail / GIB);
        return -1;
    }
    double step_flops =
        3.0 * sl_train_model_forward_flops_per_token(c) * (double)(c->batch * c->seq_len);
    double speed = matmul_flops_per_s();
    if (speed > 0 && step_flops / speed > MAX_STEP_S) {
        snprintf(e->reason, sizeof e->reason,
                 "time: one step is %.3g GFLOP, at least %.3g s at this machine's %.3g GFLOP/s "
                 "matrix product; the dry run times steps of at most %g s",
                 step_flops / 1e9, step_flops / speed, speed / 1e9, MAX_STEP_S);
        return -1;
    }
    return 0;
}

/* Times the steps and one mask update on m; 0, or -1 when pruning ran out
 * of memory. */
static int time_steps(const sl_train_options *o, sl_train_model *m, const int *in, const int *tg,
                      long steps, sl_train_estimate *e) {
    sl_train_adamw hp = o->adamw;
    hp.lr = sl_train_lr(o, 0, steps);
    double start = sl_time_monotonic();
    sl_train_model_forward(m, in, tg); /* the warm-up: first touch of every buffer */
    sl_train_model_backward(m);
    sl_train_model_adamw(m, &hp);
    double fwd = 0.0, all = 0.0;
    int k = 0;
    while (k < MAX_STEPS && (k < MIN_STEPS || all < MIN_TIMED_S) &&
           (k == 0 || sl_time_monotonic() - start < BUDGET_S)) {
        double t0 = sl_time_monotonic();
        sl_train_model_forward(m, in, tg);
        double t1 = sl_time_monotonic();
        sl_train_model_backward(m);
        sl_train_model_adamw(m, &hp);
        fwd += t1 - t0;
        all += sl_time_monotonic() - t0;
        k++;
    }
    e->timed_steps = k;
    e->step_s = all / k;
    e->forward_s = fwd / k;
    if (e->mask_updates > 0) {
        double t0 = sl_time_monotonic();
        if (sl_train_prune_model(m, &o->prune, o->prune.sparsity) != 0) return -1;
        e->update_s = sl_time_monotonic() - t0;
    }
    return 0;
}

void sl_train_estimate_run(const sl_train_options *o, sl_train_estimate *e) {
    memset(e, 0, sizeof *e);
    double start = sl_time_monotonic();
    const sl_train_model_config *c = &o->model;
    size_t BT = c->batch * c->seq_len;
    long steps = sl_train_options_steps(o);
    e->evaluations = sl_train_evaluations(o, steps);
    e->eval_batches = (long)(sl_train_val_windows(o, SIZE_MAX) / c->batch);
    e->mask_updates = sl_train_prune_updates(&o->prune, steps);
    sl_train_threads(o->threads);
    if (timing_allowed(o, e) != 0) {
        e->took_s = sl_time_monotonic() - start;
        return;
    }
    sl_train_model *m = sl_train_model_new(c, o->seed);
    int *in = malloc(2 * BT * sizeof(int));
    int rc = -1;
    if (m && in) {
        int *tg = in + BT;
        sl_train_rng rng = sl_train_rng_seed(o->seed, 2);
        for (size_t i = 0; i < 2 * BT; i++)
            in[i] = (int)sl_train_rng_below(&rng, sl_train_model_vocab(c));
        rc = time_steps(o, m, in, tg, steps, e);
    }
    sl_train_model_free(m);
    free(in);
    if (rc != 0) {
        snprintf(e->reason, sizeof e->reason, "memory: allocating or pruning the model failed");
        e->timed_steps = 0;
    } else {
        e->measured = 1;
        e->train_s = (double)steps * e->step_s;
        e->eval_s = (double)e->evaluations * (double)e->eval_batches * e->forward_s;
        e->prune_s = (double)e->mask_updates * e->update_s;
        e->total_s = e->train_s + e->eval_s + e->prune_s;
        e->tokens_per_s = (double)BT / e->step_s;
    }
    e->took_s = sl_time_monotonic() - start;
}
