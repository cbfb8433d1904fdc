/*
 * sl_time.h - the one clock for durations, rates and timeouts: monotonic, so
 * that a change of the wall clock never makes time run backwards.
 */
#ifndef SL_TIME_H
#define SL_TIME_H

#include <time.h>

/* Seconds since an arbitrary fixed point. */
static inline double sl_time_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
