/*
 * Unit tests for the row selection of fit requests (api/sl_fit_json.c):
 * nonzeros levels and their rounding tolerance, hold-out by levels, the
 * tie-break of largest_nonzeros, rollout splits, and the pattern factors'
 * rows, on datasets built here.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <string.h>

#include "sl_fit_json.h"

#define MAXR 64

/* 3 sparsities x 3 data amounts at each of the given nonzeros, in that
 * order; pattern "2:4" on the S = 0.5 rows when patterned. */
static sl_dataset make(const double *nz, size_t nn, int patterned, sl_dataset_row *rows) {
    static const double sp[3] = {0, 0.5, 0.75}, dd[3] = {1e9, 1e10, 1e11};
    size_t n = 0;
    for (size_t a = 0; a < nn; a++)
        for (size_t s = 0; s < 3; s++)
            for (size_t d = 0; d < 3; d++) {
                memset(&rows[n], 0, sizeof rows[n]);
                rows[n].sparsity = sp[s];
                rows[n].nonzeros = nz[a];
                rows[n].data = dd[d];
                rows[n].loss = 3 - 0.1 * (double)a - 0.01 * (double)(s + d);
                if (patterned && s == 1) strcpy(rows[n].pattern, "2:4");
                n++;
            }
    sl_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.rows = rows;
    ds.nrows = n;
    return ds;
}

static sl_fit_request request(const char *json) {
    sl_fit_request req;
    sl_error err;
    json_t *body = json_loads(json, 0, NULL);
    cr_assert_not_null(body);
    cr_assert_eq(sl_fit_request_decode(body, &req, &err), 0, "%s", err.message);
    json_decref(body);
    return req;
}

Test(fit_select, levels_join_values_within_the_tolerance) {
    sl_fit_row rows[4] = {
        {0, 1e9, 1, 1}, {0, 1e8, 1, 1}, {0, 1e9 * (1 - 1e-12), 1, 1}, {0, 1e9 * (1 - 1e-6), 1, 1}};
    double levels[4];
    cr_assert_eq(sl_fit_nonzeros_levels(rows, 4, levels), 3);
    cr_assert_eq(levels[0], 1e9);
    cr_assert_eq(levels[1], 1e9 * (1 - 1e-6));
    cr_assert_eq(levels[2], 1e8);
}

Test(fit_select, holdout_by_levels) {
    const double nz[4] = {1e8, 1e9, 3e8, 1e9 * (1 + 1e-12)}; /* the last is the 1e9 level */
    sl_dataset_row rows[MAXR];
    sl_dataset ds = make(nz, 4, 0, rows);
    sl_fit_request req = request("{\"dataset\": 1, \"law\": \"x\", "
                                 "\"holdout\": {\"largest_nonzeros_levels\": 1}}");
    sl_fit_selection sel;
    sl_error err;
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), 0, "%s", err.message);
    for (size_t i = 0; i < ds.nrows; i++)
        cr_assert_eq(sel.heldout[i], rows[i].nonzeros >= 1e9, "row %zu", i);
    cr_assert_eq(sel.n, 18);
    cr_assert_eq(sel.nlevels, 2);
    sl_fit_selection_free(&sel);
    sl_fit_request_free(&req);
    /* 2 of 3 levels leaves 1: refused */
    req =
        request("{\"dataset\": 1, \"law\": \"x\", \"holdout\": {\"largest_nonzeros_levels\": 2}}");
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), -1);
    cr_assert_eq(err.code, SL_ERR_UNPROCESSABLE);
    cr_assert_str_eq(err.field, "holdout.largest_nonzeros_levels");
    cr_assert(strstr(err.message, "2 largest of the 3 nonzeros levels"), "%s", err.message);
    sl_fit_selection_free(&sel);
}

Test(fit_select, largest_nonzeros_ties_go_to_the_earlier_row) {
    const double nz[2] = {1e9, 1e8};
    sl_dataset_row rows[MAXR];
    sl_dataset ds = make(nz, 2, 0, rows);
    sl_fit_request req =
        request("{\"dataset\": 1, \"law\": \"x\", \"holdout\": {\"largest_nonzeros\": 4}}");
    sl_fit_selection sel;
    sl_error err;
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), 0);
    for (size_t i = 0; i < ds.nrows; i++) /* rows 0..8 tie at 1e9: the first 4 */
        cr_assert_eq(sel.heldout[i], i < 4, "row %zu", i);
    sl_fit_selection_free(&sel);
}

Test(fit_select, rollout_splits_below_each_level) {
    const double nz[4] = {1e7, 1e9, 1e8, 3e8};
    sl_dataset_row rows[MAXR];
    sl_dataset ds = make(nz, 4, 0, rows);
    sl_fit_request req = request("{\"dataset\": 1, \"law\": \"x\", \"rollout\": {\"levels\": 2}}");
    cr_assert_eq(req.rollout_levels, 2);
    sl_fit_selection sel;
    sl_error err;
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), 0, "%s", err.message);
    sl_fit_rollout_rows r;
    sl_fit_rollout_rows_init(&r, &sel);
    cr_assert_null(r.train_pattern);
    sl_fit_rollout_split(&sel, 0, &r);
    cr_assert_eq(r.ntest, 9);
    cr_assert_eq(r.ntrain, 27);
    cr_assert_eq(r.unfitted, 0);
    for (size_t i = 0; i < r.ntest; i++)
        cr_assert_eq(r.test[i].nonzeros, 1e9);
    for (size_t i = 0; i < r.ntrain; i++)
        cr_assert_lt(r.train[i].nonzeros, 1e9);
    sl_fit_rollout_split(&sel, 1, &r);
    cr_assert_eq(r.ntest, 9);
    cr_assert_eq(r.ntrain, 18);
    for (size_t i = 0; i < r.ntrain; i++)
        cr_assert_lt(r.train[i].nonzeros, 3e8);
    sl_fit_rollout_rows_free(&r);
    sl_fit_selection_free(&sel);
    sl_fit_request_free(&req);
    /* 3 levels out of 4 leaves one below the last: refused */
    req = request("{\"dataset\": 1, \"law\": \"x\", \"rollout\": {\"levels\": 3}}");
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), -1);
    cr_assert_str_eq(err.field, "rollout.levels");
    sl_fit_selection_free(&sel);
}

Test(fit_select, pattern_rows) {
    const double nz[3] = {1e8, 3e8, 1e9};
    sl_dataset_row rows[MAXR];
    sl_dataset ds = make(nz, 3, 1, rows);
    sl_fit_request req = request("{\"dataset\": 1, \"law\": \"x\", \"pattern_factors\": true}");
    sl_fit_selection sel;
    sl_error err;
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), 0, "%s", err.message);
    cr_assert_eq(sel.npatterns, 1);
    cr_assert_str_eq(sel.pattern_names[0], "2:4");
    cr_assert_eq(sel.pattern_rows[0], 9);
    for (size_t i = 0; i < sel.n; i++)
        cr_assert_eq(sel.pattern[i], rows[i].sparsity == 0.5 ? 1u : 0u, "row %zu", i);
    sl_fit_selection_free(&sel);
    /* no n:m rows: refused, naming the option */
    sl_dataset plain = make(nz, 3, 0, rows);
    cr_assert_eq(sl_fit_select(&req, &plain, &sel, &err), -1);
    cr_assert_str_eq(err.field, "pattern_factors");
    cr_assert_eq(err.code, SL_ERR_UNPROCESSABLE);
    sl_fit_selection_free(&sel);
}

/* Rollout with pattern factors: a step's factors are those of the patterns
 * its rows below have, numbered afresh; the level's rows of a pattern that
 * has none below are left out and counted. */
Test(fit_select, rollout_with_pattern_factors) {
    const double nz[4] = {1e7, 3e7, 1e8, 1e9};
    sl_dataset_row rows[MAXR];
    sl_dataset ds = make(nz, 4, 1, rows);
    /* 1:4 on the S = 0.75 rows of the largest size only */
    for (size_t i = 0; i < ds.nrows; i++)
        if (rows[i].nonzeros == 1e9 && rows[i].sparsity == 0.75) strcpy(rows[i].pattern, "1:4");
    sl_fit_request req = request("{\"dataset\": 1, \"law\": \"x\", \"pattern_factors\": true, "
                                 "\"rollout\": {\"levels\": 1}}");
    sl_fit_selection sel;
    sl_error err;
    cr_assert_eq(sl_fit_select(&req, &ds, &sel, &err), 0, "%s", err.message);
    cr_assert_eq(sel.npatterns, 2);
    sl_fit_rollout_rows r;
    sl_fit_rollout_rows_init(&r, &sel);
    sl_fit_rollout_split(&sel, 0, &r);
    cr_assert_eq(r.ntrain, 27);
    cr_assert_eq(r.npatterns, 1); /* 2:4 only: 1:4 has no rows below 1e9 */
    for (size_t i = 0; i < r.ntrain; i++)
        cr_assert_eq(r.train_pattern[i], r.train[i].sparsity == 0.5 ? 1u : 0u, "row %zu", i);
    cr_assert_eq(r.unfitted, 3);
    cr_assert_eq(r.ntest, 6);
    for (size_t i = 0; i < r.ntest; i++) {
        cr_assert_neq(r.test[i].sparsity, 0.75);
        cr_assert_eq(r.test_pattern[i], r.test[i].sparsity == 0.5 ? 1u : 0u, "row %zu", i);
    }
    sl_fit_rollout_rows_free(&r);
    sl_fit_selection_free(&sel);
    sl_fit_request_free(&req);
}
