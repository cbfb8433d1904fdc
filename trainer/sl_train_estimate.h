/*
 * sl_train_estimate.h - how long a run of sparselaw-train will take on this
 * machine, for the dry run.
 *
 * The configured model takes one warm-up step and then timed steps
 * (forward, backward, AdamW) on random bytes: at least three and a quarter
 * of a second of them, at most 200, and no more than one once a second has
 * gone. A step costs the same whatever the text, so no corpus is read. One
 * mask update is timed when the run prunes. The estimate is
 *
 *     steps x step + evaluations x batches x forward + mask updates x update
 *
 * with the validation set taken at --val-tokens (a corpus whose last 10 % is
 * smaller evaluates less); loading the corpus is not counted. Nothing is
 * timed, and the estimate says why, when the model would take more than half
 * the memory this machine has available, or when one step would take more
 * than a second even at the speed of this machine's BLAS matrix product,
 * or for a --device cuda run (only CPU steps are timed).
 */
#ifndef SL_TRAIN_ESTIMATE_H
#define SL_TRAIN_ESTIMATE_H

#include "sl_train_run.h"

typedef struct sl_train_estimate {
    int measured;     /* 1: timed; 0: reason says why not */
    char reason[256]; /* "memory: ...", "time: ..." or "device: ..." when not measured */
    int timed_steps;  /* after the warm-up */
    double step_s;    /* mean timed step: forward, backward, AdamW */
    double forward_s; /* mean forward of one batch, what an evaluation batch costs */
    double update_s;  /* one mask update (0 when the run does not prune) */
    long evaluations, eval_batches, mask_updates;
    double train_s, eval_s, prune_s, total_s; /* of the whole run */
    double tokens_per_s;                      /* batch x context / step_s */
    double took_s;                            /* what measuring cost */
} sl_train_estimate;

/* Measures o's model on this machine (with o's thread count) and fills e. */
void sl_train_estimate_run(const sl_train_options *o, sl_train_estimate *e);

#endif
