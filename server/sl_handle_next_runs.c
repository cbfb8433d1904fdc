/* POST /v1/laws/{name}/next-runs: which of the candidate runs would narrow a
 * decision's interval most per FLOP, judged with the law's bootstrap draws. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_next_runs.h"
#include "sl_next_runs_json.h"
#include "sl_store.h"

/* Draws used at most (evenly spaced): bounds the work at candidates x this
 * evaluations of the law. */
#define MAX_DRAWS 2000

/* The fit's residual rmse (loss units) from the version's `fit` object. */
static double fit_rmse(const sl_law_record *rec) {
    json_t *fit = json_loads(rec->fit_json, 0, NULL);
    double v = json_number_value(json_object_get(fit, "rmse"));
    json_decref(fit);
    return v;
}

static int decide(const sl_next_runs_request *nr, const sl_law *law, double *out) {
    if (nr->kind == SL_DECISION_LOSS) {
        *out = sl_law_loss(law, nr->sparsity, nr->nonzeros, nr->data);
        return isfinite(*out) ? 0 : -1;
    }
    sl_law_optimum o;
    if (sl_law_optimal_sparsity(law, &nr->cost, nr->nonzeros, nr->data, nr->max_sparsity, &o) !=
            SL_LAW_OK ||
        !isfinite(o.sparsity))
        return -1;
    *out = o.sparsity;
    return 0;
}

void sl_handle_next_runs(sl_request *req) {
    sl_law_record rec;
    sl_next_runs_request nr;
    sl_error err;
    if (sl_handle_path_law(req, &rec) != 0) return;
    if (sl_next_runs_decode(sl_req_json(req), &rec, &nr, &err) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    sl_law *all = NULL;
    size_t nall = 0;
    if (rec.draws >= 2 && sl_store_law_draws(sl_req_server(req)->store, rec.name, rec.version, &all,
                                             &nall) != SL_STORE_OK)
        nall = 0;
    if (nall < 2) {
        free(all);
        sl_next_runs_request_free(&nr);
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, NULL,
                      "law '%s' version %ld has no bootstrap draws: next-runs needs a fitted law "
                      "with bootstrap (POST /v1/fits with bootstrap >= 2) to judge what the "
                      "data leave undetermined",
                      rec.name, rec.version);
        return;
    }
    double noise = nr.noise > 0 ? nr.noise : fit_rmse(&rec);
    if (!(isfinite(noise) && noise > 0)) {
        free(all);
        sl_next_runs_request_free(&nr);
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "noise",
                      "law '%s' version %ld fits its rows exactly (rmse 0), so the noise of a "
                      "new run is unknown; give noise (loss units)",
                      rec.name, rec.version);
        return;
    }
    /* The draws whose decision is defined, at most MAX_DRAWS of them. */
    size_t step = (nall + MAX_DRAWS - 1) / MAX_DRAWS, nd = 0;
    sl_law *draws = malloc(nall * sizeof *draws);
    double *decision = malloc(nall * sizeof *decision);
    sl_next_score *scores = malloc(nr.n * sizeof *scores);
    if (!draws || !decision || !scores) abort();
    for (size_t b = 0; b < nall; b += step)
        if (decide(&nr, &all[b], &decision[nd]) == 0) draws[nd++] = all[b];
    free(all);
    double value = (double)NAN;
    int rc = nd >= 2 && decide(&nr, &rec.law, &value) == 0
                 ? sl_next_runs_score(draws, decision, nd, noise, nr.points, nr.n, scores)
                 : SL_LAW_EINVAL;
    if (rc == 0)
        sl_reply_json(req, 200,
                      sl_next_runs_json(&rec, &nr, value, decision, nd, noise,
                                        nr.noise > 0 ? "request" : "fit rmse", scores));
    else
        sl_reply_fail(req, SL_ERR_UNPROCESSABLE, "decision",
                      "the law or its draws give no finite decision for this query");
    free(draws);
    free(decision);
    free(scores);
    sl_next_runs_request_free(&nr);
}
