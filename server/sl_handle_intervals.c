/* Intervals on query answers: a fitted law's bootstrap draws, loaded once
 * per request, and any quantity of (law, query) evaluated over them
 * (fitting/sl_draws.h) into the answer's "intervals" object. */
#include <math.h>
#include <stdlib.h>

#include "sl_fit.h"
#include "sl_handle.h"
#include "sl_law_json.h"
#include "sl_store.h"

void sl_handle_draws_load(sl_request *req, const sl_law_record *rec, sl_handle_draws *d) {
    d->law = NULL;
    d->n = 0;
    if (rec->draws > 0 && sl_store_law_draws(sl_req_server(req)->store, rec->name, rec->version,
                                             &d->law, &d->n) != SL_STORE_OK) {
        free(d->law);
        d->law = NULL;
        d->n = 0;
    }
}

void sl_handle_draws_free(sl_handle_draws *d) {
    free(d->law);
    d->law = NULL;
    d->n = 0;
}

int sl_handle_interval_row(const sl_handle_draws *d, sl_draws_fn fn, const void *query, size_t nout,
                           double *lo, double *hi) {
    size_t used[SL_DRAWS_MAX_OUT];
    if (!d->n) return -1;
    return sl_draws_intervals(d->law, d->n, fn, query, nout, SL_FIT_DEFAULT_LEVEL, lo, hi, used);
}

void sl_handle_add_intervals(json_t *obj, const sl_handle_draws *d, sl_draws_fn fn,
                             const void *query, const char *const *fields) {
    double lo[SL_DRAWS_MAX_OUT], hi[SL_DRAWS_MAX_OUT];
    size_t used[SL_DRAWS_MAX_OUT], nout = 0;
    while (fields[nout] && nout < SL_DRAWS_MAX_OUT)
        nout++;
    if (!d->n ||
        sl_draws_intervals(d->law, d->n, fn, query, nout, SL_FIT_DEFAULT_LEVEL, lo, hi, used))
        return;
    json_t *intervals = json_object(), *counts = json_object();
    for (size_t k = 0; k < nout; k++) {
        json_object_set_new(
            intervals, fields[k],
            isnan(lo[k]) ? json_null()
                         : json_pack("[o, o]", sl_json_number(lo[k]), sl_json_number(hi[k])));
        json_object_set_new(counts, fields[k], json_integer((json_int_t)used[k]));
    }
    json_object_set_new(obj, "intervals", intervals);
    json_object_set_new(obj, "interval_draws", counts);
    json_t *units = json_object_get(obj, "units");
    if (units) {
        json_object_set_new(units, "intervals",
                            json_string("95 % bootstrap percentile interval of each field named, "
                                        "in that field's unit"));
        json_object_set_new(units, "interval_draws",
                            json_string("bootstrap draws of the law that gave the field a value "
                                        "(of all the draws kept; a draw that cannot answer, such "
                                        "as one that cannot reach the target, gives none)"));
    }
}
