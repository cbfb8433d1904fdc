/*
 * sl_train_prune.h - gradual magnitude pruning (Zhu & Gupta 2017) of the
 * prunable matrices of a sl_train_model.
 *
 * Steps count completed optimizer steps, 1..total. The pruning window runs
 * from t0 = round(start * total) to t1 = round(end * total) (t1 >= 1); the
 * target sparsity after step t is
 *
 *     s(t) = 0                           t <= t0
 *          = S (1 - (1 - p)^3)           p = (t - t0) / (t1 - t0), t0 < t < t1
 *          = S                           t >= t1
 *
 * and masks are updated after steps t0 + j * every inside the window and
 * after t1 itself, then frozen. An update removes, per matrix, exactly
 * k = round(s(t) * rows * cols) weights in all: the smallest |w| among the
 * weights still kept (ties by lower index first), so masks only grow.
 *
 * n:m (0 < n < m, cols % m == 0): the final sparsity is 1 - n/m. Groups are
 * m consecutive weights of a row (the input dimension). While the schedule
 * ramps up, the same global order removes weights but skips any whose group
 * already lost m - n; at t1 every group keeps exactly n.
 */
#ifndef SL_TRAIN_PRUNE_H
#define SL_TRAIN_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "sl_train_model.h"

typedef struct sl_train_prune_config {
    double sparsity;   /* final S in [0, 1); for n:m it must be 1 - n/m */
    unsigned n, m;     /* n:m pattern when m > 0, unstructured when m == 0 */
    double start, end; /* window as fractions of the run, 0 <= start <= end <= 1 */
    long every;        /* update interval in steps, >= 1 */
    int embed;         /* 1: every update also prunes wte and wpe (below) */
} sl_train_prune_config;

/* The defaults of start, end and every are the run protocol's
 * (prune_start, prune_end, prune_every in protocol/sl_proto.h). */

/* With embed set, each mask update at block sparsity s prunes the token and
 * position embeddings, each on its own, to 1 - sqrt(1 - s) unstructured
 * (exactly k, ties by index, whatever the block pattern), as the paper's
 * configurations do; N still counts the block matrices only. */
double sl_train_prune_embed_target(double s);

/* 0 when the configuration is consistent, else -1 with a reason. */
int sl_train_prune_check(const sl_train_prune_config *pc, char *err, size_t errlen);
/* Window ends in steps for a run of total steps. */
void sl_train_prune_window(const sl_train_prune_config *pc, long total, long *t0, long *t1);
/* s(t) above. */
double sl_train_prune_target(const sl_train_prune_config *pc, long step, long total);
/* 1 when the masks are updated after completed step `step`. */
int sl_train_prune_due(const sl_train_prune_config *pc, long step, long total);
/* Mask updates in a run of total steps: the steps where _due is 1. */
long sl_train_prune_updates(const sl_train_prune_config *pc, long total);
/* round(s * numel). */
size_t sl_train_prune_count(size_t numel, double s);

/* Prunes one matrix to k removed in all (no-op when it already has k):
 * clears mask entries and zeroes w, adam_m and adam_v there (the two may be
 * NULL). n:m when m > 0. Returns 0, or -1 when out of memory. */
int sl_train_prune_matrix(float *w, uint8_t *mask, float *adam_m, float *adam_v, size_t rows,
                          size_t cols, size_t k, unsigned n, unsigned m);

/* Prunes every prunable matrix of the model to sparsity s; 0 or -1. */
int sl_train_prune_model(sl_train_model *model, const sl_train_prune_config *pc, double s);

#endif
