/*
 * sl_test_trainer.h - what the trainer's CPU and GPU tests share: the
 * gradient check's model and batch, and its central difference.
 *
 * Header only, no Criterion: test_trainer_gpu.c is a plain program.
 */
#ifndef SL_TEST_TRAINER_H
#define SL_TEST_TRAINER_H

#include <stddef.h>

#include "sl_train_model.h"
#include "sl_train_rng.h"

/* Weights of m for a gradient check: N(0, 0.3) everywhere, gains 1 + that
 * (larger than the 0.02 init, so every gradient is well above float
 * rounding); n random inputs and targets below the vocabulary. */
static inline void sl_test_trainer_gradcheck_init(sl_train_model *m, int *in, int *tg, size_t n) {
    sl_train_rng r = sl_train_rng_seed(3, 5);
    for (size_t i = 0; i < m->num_params; i++)
        m->params[i] = (float)(0.3 * sl_train_rng_normal(&r));
    int gains[] = {SL_P_LN1W, SL_P_LN2W, SL_P_LNFW};
    for (size_t g = 0; g < 3; g++)
        for (size_t i = 0; i < m->param_sizes[gains[g]]; i++)
            m->params[m->param_offsets[gains[g]] + i] += 1.0f;
    size_t V = sl_train_model_vocab(&m->cfg);
    for (size_t i = 0; i < n; i++) {
        in[i] = (int)sl_train_rng_below(&r, V);
        tg[i] = (int)sl_train_rng_below(&r, V);
    }
}

/* (loss(p + h) - loss(p - h)) / 2h for parameter i of m; loss(ctx) is the
 * forward that sees m's weights. */
static inline double sl_test_trainer_central_difference(sl_train_model *m, size_t i, float h,
                                                        double (*loss)(void *ctx), void *ctx) {
    float *p = m->params + i, save = *p;
    *p = save + h;
    double lp = loss(ctx);
    *p = save - h;
    double lm = loss(ctx);
    *p = save;
    return (lp - lm) / (2.0 * (double)h);
}

#endif
