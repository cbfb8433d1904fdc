/*
 * sl_draws.h - intervals of any quantity over a law's bootstrap draws: the
 * quantity is a function of (law, query), evaluated once per draw, and its
 * interval is the central percentile interval of those values. One
 * machinery for every answer that carries intervals (loss, optimal
 * sparsity, plans, curves, and whatever quantity a new query adds).
 */
#ifndef SL_DRAWS_H
#define SL_DRAWS_H

#include <stddef.h>

#include "sl_law.h"

/* Fills out[0..nout) with the quantities for law and query; 0 on success.
 * A draw where it fails (or gives a value that is not finite) counts for
 * none of the outputs (or not for that one). */
typedef int (*sl_draws_fn)(const sl_law *law, const void *query, double *out);

/* The most outputs one sl_draws_intervals call evaluates. */
#define SL_DRAWS_MAX_OUT 16

/* For each output k < nout (at most SL_DRAWS_MAX_OUT): the central level
 * interval (level in (0, 1)) lo[k], hi[k] of fn's value over the draws
 * where it has one, and used[k] how many draws gave one (lo, hi NaN when
 * fewer than 2 did). Returns 0, or -1 for bad arguments. */
int sl_draws_intervals(const sl_law *draws, size_t ndraws, sl_draws_fn fn, const void *query,
                       size_t nout, double level, double *lo, double *hi, size_t *used);

#endif
