/*
 * sl_handle_patterns.c - the fitted n:m pattern factors of a law version as
 * the loss (pattern=) and optimal-sparsity (patterns=) queries use them: each
 * pattern's factor on the sparse term, 1 where the version has none (and
 * the answer says so), and each bootstrap draw's factor for the intervals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_law_json.h"
#include "sl_law_record.h"
#include "sl_store.h"

void sl_handle_patterns_load(sl_request *req, const sl_law_record *rec, const char *const *names,
                             size_t count, size_t ndraws, sl_handle_patterns *out) {
    memset(out, 0, sizeof *out);
    out->count = count;
    for (size_t i = 0; i < count; i++) {
        const sl_law_pattern *p = sl_law_record_pattern(rec, names[i]);
        out->name[i] = names[i];
        out->eta[i] = p ? p->eta : 1;
        out->index[i] = p ? (int)(p - rec->patterns) : -1;
    }
    out->npatterns = rec->npatterns;
    size_t n = 0;
    if (rec->npatterns && ndraws &&
        sl_store_law_pattern_draws(sl_req_server(req)->store, rec->name, rec->version,
                                   rec->npatterns, &out->draw_eta, &n) == SL_STORE_OK &&
        n != ndraws) { /* the draws and their factors go together or not at all */
        free(out->draw_eta);
        out->draw_eta = NULL;
    }
}

double sl_handle_patterns_draw_eta(const sl_handle_patterns *p, size_t i, size_t draw) {
    if (p->index[i] < 0) return 1;
    return p->draw_eta ? p->draw_eta[draw * p->npatterns + (size_t)p->index[i]] : p->eta[i];
}

json_t *sl_handle_patterns_json(const sl_law_record *rec, const sl_handle_patterns *p) {
    json_t *arr = json_array();
    for (size_t i = 0; i < p->count; i++) {
        json_t *o = json_pack("{s:s, s:f, s:b}", "pattern", p->name[i], "eta", p->eta[i], "fitted",
                              p->index[i] >= 0);
        if (p->index[i] >= 0) {
            const sl_law_pattern *lp = &rec->patterns[p->index[i]];
            if (isfinite(lp->lower) && isfinite(lp->upper))
                json_object_set_new(o, "interval", json_pack("[f, f]", lp->lower, lp->upper));
        } else {
            json_object_set_new(
                o, "note",
                json_sprintf("law '%s' version %ld has no fitted factor for %s: eta = 1, the "
                             "unstructured law at its sparsity",
                             rec->name, rec->version, p->name[i]));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

void sl_handle_patterns_free(sl_handle_patterns *p) {
    free(p->draw_eta);
    p->draw_eta = NULL;
}
