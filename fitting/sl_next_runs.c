/*
 * sl_next_runs.c - the expected narrowing of a decision by one more run
 * (see sl_next_runs.h).
 */
#include "sl_next_runs.h"

#include <math.h>
#include <stdlib.h>

double sl_next_runs_sd(const double *decision, size_t n) {
    if (n < 2) return 0;
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += decision[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (decision[i] - mean) * (decision[i] - mean);
    return sqrt(var / (double)(n - 1));
}

/* sqrt(Var(q) - Cov(q, L)^2 / (Var(L) + noise^2)), sample moments. */
static double linear_sd_after(const double *loss, const double *decision, size_t n, double noise) {
    double ml = 0, mq = 0, vl = 0, vq = 0, c = 0;
    for (size_t b = 0; b < n; b++) {
        ml += loss[b];
        mq += decision[b];
    }
    ml /= (double)n;
    mq /= (double)n;
    for (size_t b = 0; b < n; b++) {
        vl += (loss[b] - ml) * (loss[b] - ml);
        vq += (decision[b] - mq) * (decision[b] - mq);
        c += (loss[b] - ml) * (decision[b] - mq);
    }
    double k = 1 / (double)(n - 1);
    return sqrt(fmax(0, vq * k - c * k * c * k / (vl * k + noise * noise)));
}

static int point_valid(const sl_next_point *p) {
    return isfinite(p->sparsity) && p->sparsity >= 0 && p->sparsity < 1 && isfinite(p->nonzeros) &&
           p->nonzeros > 0 && isfinite(p->data) && p->data > 0;
}

int sl_next_runs_score(const sl_law *draws, const double *decision, size_t ndraws, double noise,
                       const sl_next_point *points, size_t npoints, sl_next_score *out) {
    if (!draws || !decision || !out || (npoints && !points) || ndraws < 2 ||
        !(isfinite(noise) && noise > 0))
        return SL_LAW_EINVAL;
    for (size_t b = 0; b < ndraws; b++)
        if (!sl_law_valid(&draws[b]) || !isfinite(decision[b])) return SL_LAW_EINVAL;
    for (size_t i = 0; i < npoints; i++)
        if (!point_valid(&points[i])) return SL_LAW_EINVAL;
    double *loss = malloc(ndraws * sizeof *loss);
    if (!loss) return -2;
    double sd_now = sl_next_runs_sd(decision, ndraws);
    for (size_t i = 0; i < npoints; i++) {
        const sl_next_point *p = &points[i];
        for (size_t b = 0; b < ndraws; b++)
            loss[b] = sl_law_loss(&draws[b], p->sparsity, p->nonzeros, p->data);
        out[i].loss_spread = sl_next_runs_sd(loss, ndraws);
        double after = linear_sd_after(loss, decision, ndraws, noise);
        out[i].sd_after = fmin(after, sd_now);
        out[i].narrowing = sd_now - out[i].sd_after;
    }
    free(loss);
    return 0;
}
