/*
 * sl_train_prune.c - the cubic schedule and exact-k magnitude masks.
 */
#include "sl_train_prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int sl_train_prune_check(const sl_train_prune_config *pc, char *err, size_t errlen) {
    const char *why = NULL;
    if (!(pc->sparsity >= 0.0 && pc->sparsity < 1.0))
        why = "sparsity must be in [0, 1)";
    else if (!(pc->start >= 0.0 && pc->start <= pc->end && pc->end <= 1.0))
        why = "the pruning window needs 0 <= start <= end <= 1";
    else if (pc->every < 1)
        why = "the pruning interval must be >= 1 step";
    else if (pc->m > 0 && (pc->n < 1 || pc->n >= pc->m || pc->m > 1024))
        why = "an n:m pattern needs 0 < n < m <= 1024";
    else if (pc->m > 0 && fabs(pc->sparsity - (1.0 - (double)pc->n / (double)pc->m)) > 1e-9)
        why = "an n:m pattern prunes to sparsity 1 - n/m";
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

void sl_train_prune_window(const sl_train_prune_config *pc, long total, long *t0, long *t1) {
    long a = lround(pc->start * (double)total), b = lround(pc->end * (double)total);
    if (b < 1) b = 1;
    if (b > total) b = total;
    if (a > b) a = b;
    *t0 = a;
    *t1 = b;
}

double sl_train_prune_target(const sl_train_prune_config *pc, long step, long total) {
    long t0, t1;
    sl_train_prune_window(pc, total, &t0, &t1);
    if (pc->sparsity <= 0.0 || step <= t0)
        return step >= t1 && pc->sparsity > 0.0 ? pc->sparsity : 0.0;
    if (step >= t1) return pc->sparsity;
    double p = (double)(step - t0) / (double)(t1 - t0), q = 1.0 - p;
    return pc->sparsity * (1.0 - q * q * q);
}

int sl_train_prune_due(const sl_train_prune_config *pc, long step, long total) {
    long t0, t1;
    sl_train_prune_window(pc, total, &t0, &t1);
    if (pc->sparsity <= 0.0 || step < t0 || step > t1) return 0;
    return step == t1 || (step - t0) % pc->every == 0;
}

long sl_train_prune_updates(const sl_train_prune_config *pc, long total) {
    long t0, t1;
    sl_train_prune_window(pc, total, &t0, &t1);
    if (pc->sparsity <= 0.0) return 0;
    /* t0 + j every inside [max(t0, 1), t1], and t1 when it is off that grid */
    long first = t0 >= 1 ? t0 : t0 + (1 - t0 + pc->every - 1) / pc->every * pc->every;
    long on_grid = first <= t1 ? (t1 - first) / pc->every + 1 : 0;
    return on_grid + (first > t1 || (t1 - t0) % pc->every != 0);
}

size_t sl_train_prune_count(size_t numel, double s) {
    return (size_t)llround(s * (double)numel);
}

typedef struct entry {
    float a;
    size_t i;
} entry;

static int entry_cmp(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

int sl_train_prune_matrix(float *w, uint8_t *mask, float *adam_m, float *adam_v, size_t rows,
                          size_t cols, size_t k, unsigned n, unsigned m) {
    size_t numel = rows * cols, removed = 0;
    for (size_t i = 0; i < numel; i++)
        removed += !mask[i];
    if (k <= removed) return 0;
    entry *e = malloc((numel - removed) * sizeof *e);
    uint16_t *lost = NULL; /* removed per group; m <= 1024 */
    size_t groups = m > 0 ? numel / m : 0;
    if (m > 0) lost = calloc(groups, sizeof *lost);
    if (!e || (m > 0 && !lost)) {
        free(e);
        free(lost);
        return -1;
    }
    size_t ne = 0;
    for (size_t i = 0; i < numel; i++) {
        if (mask[i])
            e[ne++] = (entry){fabsf(w[i]), i};
        else if (m > 0)
            lost[i / m]++;
    }
    qsort(e, ne, sizeof *e, entry_cmp);
    for (size_t j = 0; j < ne && removed < k; j++) {
        size_t i = e[j].i;
        if (m > 0) {
            if (lost[i / m] >= m - n) continue;
            lost[i / m]++;
        }
        mask[i] = 0;
        w[i] = 0.0f;
        if (adam_m) adam_m[i] = 0.0f;
        if (adam_v) adam_v[i] = 0.0f;
        removed++;
    }
    free(e);
    free(lost);
    return 0;
}

double sl_train_prune_embed_target(double s) {
    return s > 0.0 ? 1.0 - sqrt(1.0 - s) : 0.0;
}

int sl_train_prune_model(sl_train_model *model, const sl_train_prune_config *pc, double s) {
    for (size_t j = 0; j < model->n_prunable; j++) {
        const sl_train_matrix *t = model->prunable + j;
        size_t k = sl_train_prune_count(t->rows * t->cols, s);
        if (sl_train_prune_matrix(model->params + t->offset, model->mask + t->offset,
                                  model->adam_m + t->offset, model->adam_v + t->offset, t->rows,
                                  t->cols, k, pc->n, pc->m) != 0)
            return -1;
    }
    if (!pc->embed) return 0;
    int emb[2] = {SL_P_WTE, SL_P_WPE};
    double se = sl_train_prune_embed_target(s);
    for (int j = 0; j < 2; j++) {
        size_t off = model->param_offsets[emb[j]], n = model->param_sizes[emb[j]];
        if (sl_train_prune_matrix(model->params + off, model->mask + off, model->adam_m + off,
                                  model->adam_v + off, n / model->cfg.n_embd, model->cfg.n_embd,
                                  sl_train_prune_count(n, se), 0, 0) != 0)
            return -1;
    }
    return 0;
}
