/* Intervals on query answers: a fitted law's bootstrap draws, loaded once
 * per request, and any quantity of (law, query) evaluated over them
 * (fitting/sl_draws.h) into the answer's "intervals" object. */
#include <math.h>
#include <stdio.h>
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

/* ------------------------------------------------------------ curves */

/* The draws of a curve of rows rows, each evaluated on every draw: none
 * (the curve goes without bands, and says so) past max evaluations. */
size_t sl_handle_curve_draws(sl_request *req, const sl_law_record *rec, size_t rows, size_t max,
                             sl_handle_draws *d) {
    sl_handle_draws_load(req, rec, d);
    size_t n = d->n;
    if (!n || n * rows <= max) return 0;
    sl_handle_draws_free(d);
    return n;
}

/* Says why a fitted law's curve has no bands: dropped draws, too much work. */
void sl_handle_band_note(json_t *body, size_t dropped, size_t rows, size_t max) {
    if (!dropped) return;
    char note[240];
    snprintf(note, sizeof note,
             "no bands: %zu points x %zu bootstrap draws is more than the %zu evaluations a curve "
             "may take; ask for fewer points or series to get them",
             rows, dropped, max);
    json_object_set_new(body, "bands", json_string(note));
}

/* The units of the x_lo, x_hi band columns of x. */
void sl_handle_band_units(json_t *body, const sl_handle_draws *d, const char *x) {
    json_t *units = json_object_get(body, "units");
    if (!d->n) return;
    char name[64], text[160];
    const char *unit = json_string_value(json_object_get(units, x));
    snprintf(text, sizeof text, "lower end of the 95 %% bootstrap percentile interval of %s (%s)",
             x, unit ? unit : "");
    snprintf(name, sizeof name, "%s_lo", x);
    json_object_set_new(units, name, json_string(text));
    snprintf(text, sizeof text, "upper end of the 95 %% bootstrap percentile interval of %s (%s)",
             x, unit ? unit : "");
    snprintf(name, sizeof name, "%s_hi", x);
    json_object_set_new(units, name, json_string(text));
}
