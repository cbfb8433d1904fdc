/* Intervals over bootstrap draws: evaluate, collect per output, take the
 * percentiles (sl_fit_percentile_interval). */
#include "sl_draws.h"

#include <math.h>
#include <stdlib.h>

#include "sl_fit.h"

int sl_draws_intervals(const sl_law *draws, size_t ndraws, sl_draws_fn fn, const void *query,
                       size_t nout, double level, double *lo, double *hi, size_t *used) {
    if (!fn || !lo || !hi || !used || nout == 0 || nout > SL_DRAWS_MAX_OUT || (ndraws && !draws))
        return -1;
    for (size_t k = 0; k < nout; k++) {
        lo[k] = hi[k] = (double)NAN;
        used[k] = 0;
    }
    if (ndraws < 2) return 0;
    double *values = malloc(ndraws * nout * sizeof *values);
    if (!values) abort();
    double out[SL_DRAWS_MAX_OUT];
    for (size_t i = 0; i < ndraws; i++) {
        if (fn(&draws[i], query, out) != 0) continue;
        for (size_t k = 0; k < nout; k++)
            if (isfinite(out[k])) values[k * ndraws + used[k]++] = out[k];
    }
    for (size_t k = 0; k < nout; k++)
        if (used[k] < 2 ||
            sl_fit_percentile_interval(values + k * ndraws, used[k], level, &lo[k], &hi[k]) != 0)
            lo[k] = hi[k] = (double)NAN;
    free(values);
    return 0;
}
