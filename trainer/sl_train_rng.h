/*
 * sl_train_rng.h - the trainer's seeded random numbers: splitmix64, which
 * is tiny, passes BigCrush, and gives the same stream on every platform.
 * Initialisation and data sampling use separate streams (see
 * sl_train_rng_seed), so a model's shape never changes which windows it sees.
 */
#ifndef SL_TRAIN_RNG_H
#define SL_TRAIN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct sl_train_rng {
    uint64_t state;
} sl_train_rng;

static inline uint64_t sl_train_rng_next(sl_train_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A stream for (seed, purpose): purpose 0 initialises weights, 1 draws
 * training windows, 2 the dry run's random bytes. */
static inline sl_train_rng sl_train_rng_seed(uint64_t seed, uint64_t purpose) {
    sl_train_rng r = {seed ^ (purpose * 0xD1B54A32D192ED03ULL)};
    (void)sl_train_rng_next(&r);
    return r;
}

/* Uniform in [0, n), n >= 1 (modulo bias below 2^-40 for n < 2^24). */
static inline uint64_t sl_train_rng_below(sl_train_rng *r, uint64_t n) {
    return sl_train_rng_next(r) % n;
}

/* Uniform in (0, 1]. */
static inline double sl_train_rng_unit(sl_train_rng *r) {
    return (double)((sl_train_rng_next(r) >> 11) + 1) * 0x1.0p-53;
}

/* Standard normal (Box-Muller, one value per call). */
static inline double sl_train_rng_normal(sl_train_rng *r) {
    double u1 = sl_train_rng_unit(r), u2 = sl_train_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
