/* Unit tests of api/sl_dataset: sweep uploads in every format, every alias
 * and conversion, every kind of bad upload (all-or-nothing, with {row, field,
 * reason}), the writers, and the two shared sweeps as the authors wrote them. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_dataset.h"

#ifndef SL_DATA_DIR
#error "SL_DATA_DIR must name the project's data/ folder"
#endif
#include "sl_test.h"
#include "sl_test_dataset.h"

/* The upload fails, returns nothing, and lists {row, field} (reason holding
 * `reason` when not NULL). */
static void expect_error(const char *body, size_t len, sl_dataset_format fmt,
                         const sl_dataset_options *opt, size_t row, const char *field,
                         const char *reason) {
    sl_dataset ds;
    memset(&ds, 0xab, sizeof ds);
    int rc = sl_dataset_parse(body, len, fmt, opt, &ds, &errs);
    cr_assert_eq(rc, -1, "accepted: %.200s", body);
    cr_assert_null(ds.rows, "rows returned on failure");
    cr_assert_eq(ds.nrows, 0);
    cr_assert_gt(errs.count, 0);
    cr_assert_neq(errs.code, SL_ERR_NONE);
    const sl_dataset_error *e = find_err(row, field);
    cr_assert_not_null(e, "no error at row %zu, field '%s' for %.200s; got %s", row, field, body,
                       dump());
    if (reason) cr_assert(strstr(e->reason, reason), "reason '%s' lacks '%s'", e->reason, reason);
}

static void bad(const char *body, sl_dataset_format fmt, const sl_dataset_options *opt, size_t row,
                const char *field, const char *reason) {
    expect_error(body, strlen(body), fmt, opt, row, field, reason);
}

static sl_dataset_options base(double base_params) {
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    o.has_base_params = 1;
    o.base_params = base_params;
    return o;
}

#define CANON "sparsity,nonzeros,data,loss\n"

/* ------------------------------------------------------------------ formats */

Test(formats, csv_canonical_with_optional_columns) {
    sl_dataset ds;
    parse_ok("sparsity,nonzeros,data,loss,run_id,pattern,seed\n"
             "0.5,1e6,2e9,3.25,run-a,1:2,7\n"
             "0,2000000,4000000000,3.0,,,\n",
             SL_DATASET_CSV, NULL, &ds, 2);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    cr_assert_eq(ds.rows[0].sparsity, 0.5);
    cr_assert_eq(ds.rows[0].nonzeros, 1e6);
    cr_assert_eq(ds.rows[0].data, 2e9);
    cr_assert_eq(ds.rows[0].loss, 3.25);
    cr_assert_str_eq(ds.rows[0].run_id, "run-a");
    cr_assert_str_eq(ds.rows[0].pattern, "1:2");
    cr_assert(ds.rows[0].has_seed && ds.rows[0].seed == 7);
    cr_assert_null(ds.rows[1].run_id);
    cr_assert_str_eq(ds.rows[1].pattern, "");
    cr_assert_not(ds.rows[1].has_seed);
    sl_dataset_free(&ds);
    cr_assert_null(ds.rows);
    cr_assert_eq(ds.nrows, 0);
}

Test(formats, csv_quoted_fields_crlf_bom_and_no_final_newline) {
    sl_dataset ds;
    const char *body = "\xEF\xBB\xBF\"sparsity\",nonzeros,\"data\",loss,run_id,index\r\n"
                       "\"0.25\",100,\"1e3\",2.5,\"a,b \"\"quoted\"\"\",\"multi\r\nline\"\r\n"
                       "0.75,200,2e3,\"2.25\",plain,7";
    parse_ok(body, SL_DATASET_CSV, NULL, &ds, 2);
    cr_assert_eq(ds.rows[0].sparsity, 0.25);
    cr_assert_eq(ds.rows[0].data, 1e3);
    cr_assert_str_eq(ds.rows[0].run_id, "a,b \"quoted\"");
    cr_assert_eq(ds.rows[1].loss, 2.25);
    cr_assert_str_eq(ds.rows[1].run_id, "plain");
    sl_dataset_free(&ds);
}

Test(formats, csv_lf_blank_lines_and_old_mac_line_ends) {
    sl_dataset ds;
    parse_ok("\n" CANON "\n0.5,10,20,3\n\n\n0.25,10,20,3\n\n", SL_DATASET_CSV, NULL, &ds, 2);
    cr_assert_eq(ds.rows[1].sparsity, 0.25);
    sl_dataset_free(&ds);
    parse_ok("sparsity,nonzeros,data,loss\r0.5,10,20,3\r0.25,10,20,3\r", SL_DATASET_CSV, NULL, &ds,
             2);
    sl_dataset_free(&ds);
}

Test(formats, csv_ignores_pandas_index_columns) {
    sl_dataset ds;
    parse_ok(",sparsity,nonzeros,data,loss\n0,0.5,10,20,3\n1,0.25,11,21,4\n", SL_DATASET_CSV, NULL,
             &ds, 2);
    cr_assert_eq(ds.rows[1].nonzeros, 11);
    sl_dataset_free(&ds);
    parse_ok("index,sparsity,nonzeros,data,loss,Unnamed: 0\nx,0.5,10,20,3,whatever\n",
             SL_DATASET_CSV, NULL, &ds, 1);
    sl_dataset_free(&ds);
}

Test(formats, json_array_of_rows) {
    sl_dataset ds;
    parse_ok("[{\"sparsity\": 0.5, \"nonzeros\": 1000, \"data\": 5e9, \"loss\": 3.5,"
             "  \"run_id\": \"r1\", \"pattern\": \"2:4\", \"seed\": 3},"
             " {\"loss\": 3.25, \"data\": 6e9, \"nonzeros\": 2000, \"sparsity\": 0,"
             "  \"run_id\": null, \"pattern\": null, \"seed\": null}]",
             SL_DATASET_JSON, NULL, &ds, 2);
    cr_assert_eq(ds.rows[0].data, 5e9);
    cr_assert_str_eq(ds.rows[0].run_id, "r1");
    cr_assert_str_eq(ds.rows[0].pattern, "2:4");
    cr_assert_eq(ds.rows[0].seed, 3);
    cr_assert_eq(ds.rows[1].nonzeros, 2000);
    cr_assert_null(ds.rows[1].run_id);
    cr_assert_not(ds.rows[1].has_seed);
    sl_dataset_free(&ds);
}

Test(formats, json_column_dict_ordered_by_numeric_index) {
    sl_dataset ds;
    parse_ok("{\"sparsity\": {\"10\": 0.1, \"2\": 0.2, \"1\": 0.01},"
             " \"nonzeros\": {\"1\": 1, \"2\": 2, \"10\": 10},"
             " \"data\": {\"1\": 100, \"10\": 1000, \"2\": 200},"
             " \"loss\": {\"2\": 2.0, \"1\": 1.0, \"10\": 10.0}}",
             SL_DATASET_JSON, NULL, &ds, 3);
    cr_assert_eq(ds.rows[0].sparsity, 0.01);
    cr_assert_eq(ds.rows[1].sparsity, 0.2);
    cr_assert_eq(ds.rows[2].sparsity, 0.1);
    cr_assert_eq(ds.rows[2].data, 1000);
    cr_assert_eq(ds.rows[2].loss, 10.0);
    sl_dataset_free(&ds);
}

Test(formats, json_column_dict_text_index_sorted_as_text) {
    sl_dataset ds;
    parse_ok("{\"sparsity\": {\"b\": 0.2, \"a\": 0.1, \"c10\": 0.3},"
             " \"nonzeros\": {\"a\": 1, \"b\": 2, \"c10\": 3},"
             " \"data\": {\"a\": 1, \"b\": 2, \"c10\": 3},"
             " \"loss\": {\"a\": 1, \"b\": 2, \"c10\": 3}}",
             SL_DATASET_JSON, NULL, &ds, 3);
    cr_assert_eq(ds.rows[0].sparsity, 0.1);
    cr_assert_eq(ds.rows[1].sparsity, 0.2);
    cr_assert_eq(ds.rows[2].sparsity, 0.3);
    sl_dataset_free(&ds);
}

Test(formats, ndjson_with_blank_lines_and_crlf) {
    sl_dataset ds;
    parse_ok("\n{\"sparsity\": 0.5, \"nonzeros\": 10, \"data\": 20, \"loss\": 3}\r\n"
             "   \r\n\t\n"
             "{\"sparsity\": 0.25, \"nonzeros\": 11, \"data\": 21, \"loss\": 4, \"run_id\": \"x\"}",
             SL_DATASET_NDJSON, NULL, &ds, 2);
    cr_assert_eq(ds.rows[1].nonzeros, 11);
    cr_assert_str_eq(ds.rows[1].run_id, "x");
    cr_assert_null(ds.rows[0].run_id);
    sl_dataset_free(&ds);
}

/* ---------------------------------------------------------- aliases, units */

Test(aliases, loss_aliases) {
    sl_dataset ds;
    parse_ok("sparsity,nonzeros,data,val-loss\n0,1,2,3.5\n", SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].loss, 3.5);
    sl_dataset_free(&ds);
    parse_ok("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"val_loss\":4.5}]", SL_DATASET_JSON, NULL,
             &ds, 1);
    cr_assert_eq(ds.rows[0].loss, 4.5);
    sl_dataset_free(&ds);
}

Test(aliases, scale_with_base_params) {
    sl_dataset ds;
    sl_dataset_options o = base(1000);
    parse_ok("sparsity,scale,data,loss\n0.75,2,10,3\n0,0.5,10,3\n", SL_DATASET_CSV, &o, &ds, 2);
    cr_assert_eq(ds.rows[0].nonzeros, 500); /* 1000 x 2 x 0.25 */
    cr_assert_eq(ds.rows[1].nonzeros, 500);
    sl_dataset_free(&ds);
}

Test(aliases, total_params) {
    sl_dataset ds;
    parse_ok("{\"sparsity\":{\"0\":0.5},\"total_params\":{\"0\":1e9},\"data\":{\"0\":1},"
             "\"loss\":{\"0\":2}}",
             SL_DATASET_JSON, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].nonzeros, 5e8);
    sl_dataset_free(&ds);
}

Test(aliases, steps_with_and_without_tokens_per_step) {
    sl_dataset ds;
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    o.has_tokens_per_step = 1;
    o.tokens_per_step = 65536;
    parse_ok("sparsity,nonzeros,steps,loss\n0,1,1000,3\n", SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    cr_assert_eq(ds.rows[0].data, 65536000);
    sl_dataset_free(&ds);
    parse_ok("sparsity,nonzeros,steps,loss\n0,1,1000,3\n", SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_STEPS);
    cr_assert_eq(ds.rows[0].data, 1000);
    sl_dataset_free(&ds);
    o.has_data_unit = 1; /* stating the unit that steps x tokens_per_step gives is fine */
    o.data_unit = SL_UNIT_TOKENS;
    parse_ok("sparsity,nonzeros,steps,loss\n0,1,1000,3\n", SL_DATASET_CSV, &o, &ds, 1);
    sl_dataset_free(&ds);
}

Test(aliases, total_examples_and_tokens) {
    sl_dataset ds;
    parse_ok("[{\"sparsity\":0,\"nonzeros\":1,\"total_examples\":225000000,\"loss\":2}]",
             SL_DATASET_JSON, NULL, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_EXAMPLES);
    cr_assert_eq(ds.rows[0].data, 225000000);
    sl_dataset_free(&ds);
    parse_ok("{\"sparsity\":0,\"nonzeros\":1,\"tokens\":5e9,\"loss\":2}\n", SL_DATASET_NDJSON, NULL,
             &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    cr_assert_eq(ds.rows[0].data, 5e9);
    sl_dataset_free(&ds);
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    o.has_data_unit = 1;
    o.data_unit = SL_UNIT_EXAMPLES;
    parse_ok("sparsity,nonzeros,total_examples,loss\n0,1,3,2\n", SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_EXAMPLES);
    sl_dataset_free(&ds);
}

Test(aliases, data_column_takes_data_unit) {
    sl_dataset ds;
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    parse_ok(CANON "0,1,2,3\n", SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    sl_dataset_free(&ds);
    o.has_data_unit = 1;
    o.data_unit = SL_UNIT_EXAMPLES;
    parse_ok(CANON "0,1,2,3\n", SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_EXAMPLES);
    sl_dataset_free(&ds);
    o.data_unit = SL_UNIT_STEPS;
    parse_ok(CANON "0,1,2,3\n", SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.data_unit, SL_UNIT_STEPS);
    sl_dataset_free(&ds);
}

Test(aliases, table_lists_every_accepted_column) {
    static const char *const must[] = {
        "sparsity", "nonzeros", "data",         "loss",   "run_id",         "pattern",
        "seed",     "state",    "State",        "status", "val-loss",       "val_loss",
        "val/loss", "scale",    "total_params", "steps",  "total_examples", "tokens",
        "",         "index",    "Unnamed: 0"};
    cr_assert_eq(sl_dataset_column_count, sizeof must / sizeof must[0]);
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        const sl_dataset_column *c = sl_dataset_column_find(must[i]);
        cr_assert_not_null(c, "'%s' not in the table", must[i]);
    }
    static const struct {
        const char *name, *gives, *option;
    } map[] = {
        {"val-loss", "loss", NULL},         {"val_loss", "loss", NULL},
        {"val/loss", "loss", NULL},         {"State", "state", NULL},
        {"status", "state", NULL},          {"scale", "nonzeros", "base_params"},
        {"total_params", "nonzeros", NULL}, {"steps", "data", "tokens_per_step"},
        {"total_examples", "data", NULL},   {"tokens", "data", NULL},
        {"data", "data", "data_unit"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const sl_dataset_column *c = sl_dataset_column_find(map[i].name);
        cr_assert_str_eq(c->gives, map[i].gives);
        if (map[i].option)
            cr_assert_str_eq(c->option, map[i].option);
        else
            cr_assert_null(c->option);
    }
    cr_assert_null(sl_dataset_column_find("index")->gives);
    cr_assert_null(sl_dataset_column_find("Loss"));
    cr_assert_null(sl_dataset_column_find(NULL));
    cr_assert_eq(sl_dataset_option_count, 5);
}

/* -------------------------------------------------------------- bad uploads */

Test(bad, two_sources_for_one_variable) {
    sl_dataset_options o = base(10);
    bad("sparsity,nonzeros,scale,data,loss\n0,1,1,2,3\n", SL_DATASET_CSV, &o, 0, "scale",
        "both give nonzeros");
    bad("sparsity,nonzeros,data,loss,val-loss\n0,1,2,3,3\n", SL_DATASET_CSV, NULL, 0, "val-loss",
        "both give loss");
    bad("sparsity,nonzeros,data,steps,loss\n0,1,2,3,3\n", SL_DATASET_CSV, NULL, 0, "steps", NULL);
    bad("[{\"sparsity\":0,\"total_params\":1,\"nonzeros\":1,\"data\":2,\"loss\":3}]",
        SL_DATASET_JSON, NULL, 0, "nonzeros", NULL);
}

/* Unknown columns are not refused but ignored and
 * listed (test_upload_tools.c covers that); a near miss of a column the
 * upload lacks is still named, at the row its key first appears in. */
Test(bad, unknown_columns_are_ignored_near_misses_named) {
    sl_dataset ds;
    parse_ok("sparsity,nonzeros,data,loss,lr\n0,1,2,3,0.1\n", SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.nignored, 1);
    cr_assert_str_eq(ds.ignored[0], "lr");
    sl_dataset_free(&ds);
    bad("sparsity,nonzeros,data,Loss\n0,1,2,3\n", SL_DATASET_CSV, NULL, 0, "Loss",
        "did you mean 'loss'");
    /* rows layouts: the row the key first appears in */
    bad("[{\"nonzeros\":1,\"data\":2,\"loss\":3},"
        " {\"nonzeros\":1,\"data\":2,\"loss\":3},"
        " {\"nonzeros\":1,\"data\":2,\"loss\":3,\"sparsty\":0}]",
        SL_DATASET_JSON, NULL, 3, "sparsty", "did you mean 'sparsity'");
    bad("{\"sparsity\":0,\"data\":2,\"loss\":3}\n"
        "{\"sparsity\":0,\"data\":2,\"loss\":3,\"nonzero\":1}\n",
        SL_DATASET_NDJSON, NULL, 2, "nonzero", "did you mean 'nonzeros'");
    bad("{\"sparsity\":{\"0\":0},\"nonzeros\":{\"0\":1},\"data\":{\"0\":2},"
        "\"val-los\":{\"0\":3}}",
        SL_DATASET_JSON, NULL, 0, "val-los", "did you mean 'val-loss'");
    /* an empty name other than a leading CSV index column */
    bad("sparsity,,nonzeros,data,loss\n0,1,1,2,3\n", SL_DATASET_CSV, NULL, 0, "", "empty name");
    bad("[{\"\":1,\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}]", SL_DATASET_JSON, NULL, 1,
        "", "empty name");
}

Test(bad, missing_required_column) {
    bad("sparsity,nonzeros,data\n0,1,2\n", SL_DATASET_CSV, NULL, 0, "loss", "no column gives loss");
    bad("[{\"nonzeros\":1,\"data\":2,\"loss\":3}]", SL_DATASET_JSON, NULL, 0, "sparsity", NULL);
    bad("sparsity,data,loss\n0,2,3\n", SL_DATASET_CSV, NULL, 0, "nonzeros", "scale");
    bad("sparsity,nonzeros,loss\n0,2,3\n", SL_DATASET_CSV, NULL, 0, "data", "total_examples");
}

Test(bad, options_missing_or_invalid) {
    bad("sparsity,scale,data,loss\n0,1,2,3\n", SL_DATASET_CSV, NULL, 0, "base_params",
        "needs the base_params option");
    cr_assert_eq(errs.code, SL_ERR_MISSING_PARAMETER);
    static const double wrong[] = {0.0, -1.0, (double)NAN, (double)INFINITY};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        sl_dataset_options o = base(wrong[i]);
        bad("sparsity,scale,data,loss\n0,1,2,3\n", SL_DATASET_CSV, &o, 0, "base_params",
            "positive finite");
        cr_assert_eq(errs.code, SL_ERR_INVALID_PARAMETER);
        memset(&o, 0, sizeof o);
        o.has_tokens_per_step = 1;
        o.tokens_per_step = wrong[i];
        bad("sparsity,nonzeros,steps,loss\n0,1,2,3\n", SL_DATASET_CSV, &o, 0, "tokens_per_step",
            "positive finite");
    }
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    o.has_data_unit = 1;
    o.data_unit = (sl_data_unit)7;
    bad(CANON "0,1,2,3\n", SL_DATASET_CSV, &o, 0, "data_unit", NULL);
}

Test(bad, options_that_apply_to_nothing) {
    sl_dataset_options o = base(100);
    bad(CANON "0,1,2,3\n", SL_DATASET_CSV, &o, 0, "base_params", "applies only to a scale");
    memset(&o, 0, sizeof o);
    o.has_tokens_per_step = 1;
    o.tokens_per_step = 10;
    bad(CANON "0,1,2,3\n", SL_DATASET_CSV, &o, 0, "tokens_per_step", "applies only to a steps");
}

Test(bad, conflicting_units) {
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    o.has_data_unit = 1;
    o.data_unit = SL_UNIT_TOKENS;
    bad("sparsity,nonzeros,total_examples,loss\n0,1,2,3\n", SL_DATASET_CSV, &o, 0, "data_unit",
        "examples");
    cr_assert_eq(errs.code, SL_ERR_UNIT_MISMATCH);
    bad("sparsity,nonzeros,steps,loss\n0,1,2,3\n", SL_DATASET_CSV, &o, 0, "data_unit",
        "tokens_per_step");
    o.data_unit = SL_UNIT_STEPS;
    bad("sparsity,nonzeros,tokens,loss\n0,1,2,3\n", SL_DATASET_CSV, &o, 0, "data_unit", NULL);
    o.has_tokens_per_step = 1;
    o.tokens_per_step = 8;
    bad("sparsity,nonzeros,steps,loss\n0,1,2,3\n", SL_DATASET_CSV, &o, 0, "data_unit", NULL);
}

Test(bad, csv_non_numbers_all_collected) {
    const char *body = CANON "abc,1,2,3\n"     /* 1 */
                             "nan,1,2,3\n"     /* 2 */
                             "0,inf,2,3\n"     /* 3 */
                             "0,1,0x10,3\n"    /* 4 */
                             "0,1,2, 3\n"      /* 5 */
                             "0,1,2,\n"        /* 6: empty is missing */
                             "0,1e400,2,3\n"   /* 7 */
                             "0,1,2,3\n"       /* 8: fine */
                             "0.5,1,2,-inf\n"; /* 9 */
    bad(body, SL_DATASET_CSV, NULL, 1, "sparsity", "'abc'");
    cr_assert_not_null(find_err(2, "sparsity"));
    cr_assert_not_null(find_err(3, "nonzeros"));
    cr_assert_not_null(find_err(4, "data"));
    cr_assert_not_null(find_err(5, "loss"));
    cr_assert(strstr(find_err(6, "loss")->reason, "empty"));
    cr_assert_not_null(find_err(7, "nonzeros"));
    cr_assert_not_null(find_err(9, "loss"));
    cr_assert_eq(errs.count, 8, "%s", dump());
    cr_assert_eq(errs.code, SL_ERR_UNPROCESSABLE);
}

Test(bad, json_numbers_must_be_json_numbers) {
    bad("[{\"sparsity\":\"0.5\",\"nonzeros\":1,\"data\":2,\"loss\":3}]", SL_DATASET_JSON, NULL, 1,
        "sparsity", "not a string");
    bad("[{\"sparsity\":0.5,\"nonzeros\":true,\"data\":2,\"loss\":3}]", SL_DATASET_JSON, NULL, 1,
        "nonzeros", "boolean");
    bad("[{\"sparsity\":0.5,\"nonzeros\":1,\"data\":{\"v\":2},\"loss\":3}]", SL_DATASET_JSON, NULL,
        1, "data", "object");
    bad("{\"sparsity\":0.5,\"nonzeros\":1,\"data\":2,\"loss\":[3]}\n", SL_DATASET_NDJSON, NULL, 1,
        "loss", "array");
    bad("{\"sparsity\":{\"0\":0.5},\"nonzeros\":{\"0\":\"1e6\"},\"data\":{\"0\":2},"
        "\"loss\":{\"0\":3}}",
        SL_DATASET_JSON, NULL, 1, "nonzeros", "not a string");
}

Test(bad, out_of_range_values) {
    const char *body = CANON "1,1,2,3\n"    /* 1: sparsity 1 */
                             "-0.1,1,2,3\n" /* 2 */
                             "0,0,2,3\n"    /* 3: nonzeros 0 */
                             "0,-5,2,3\n"   /* 4 */
                             "0,1,0,3\n"    /* 5: data 0 */
                             "0,1,-2,3\n"   /* 6 */
                             "0,1,2,0\n"    /* 7: loss 0 */
                             "0,1,2,-1\n";  /* 8 */
    bad(body, SL_DATASET_CSV, NULL, 1, "sparsity", "[0, 1)");
    cr_assert_not_null(find_err(2, "sparsity"));
    cr_assert_not_null(find_err(3, "nonzeros"));
    cr_assert_not_null(find_err(4, "nonzeros"));
    cr_assert_not_null(find_err(5, "data"));
    cr_assert_not_null(find_err(6, "data"));
    cr_assert_not_null(find_err(7, "loss"));
    cr_assert_not_null(find_err(8, "loss"));
    cr_assert_eq(errs.count, 8, "%s", dump());
    bad("[{\"sparsity\":1.5,\"nonzeros\":1,\"data\":2,\"loss\":3}]", SL_DATASET_JSON, NULL, 1,
        "sparsity", NULL);
    sl_dataset_options o = base(10);
    bad("sparsity,scale,data,loss\n0,-1,2,3\n", SL_DATASET_CSV, &o, 1, "scale", "got -1");
    bad("sparsity,total_params,data,loss\n0,0,2,3\n", SL_DATASET_CSV, NULL, 1, "total_params",
        NULL);
}

Test(bad, conversions_that_overflow) {
    sl_dataset_options o = base(1e300);
    bad("sparsity,scale,data,loss\n0,1e300,2,3\n", SL_DATASET_CSV, &o, 1, "scale", "nonzeros =");
    memset(&o, 0, sizeof o);
    o.has_tokens_per_step = 1;
    o.tokens_per_step = 1e300;
    bad("sparsity,nonzeros,steps,loss\n0,1,1e300,3\n", SL_DATASET_CSV, &o, 1, "steps", "data =");
}

Test(bad, missing_values) {
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3},"
        " {\"sparsity\":0,\"nonzeros\":1,\"data\":2}]",
        SL_DATASET_JSON, NULL, 2, "loss", "missing");
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":null,\"loss\":3}]", SL_DATASET_JSON, NULL, 1,
        "data", "null");
    bad("{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}\n{\"nonzeros\":1,\"data\":2,"
        "\"loss\":3}",
        SL_DATASET_NDJSON, NULL, 2, "sparsity", "missing");
    bad(CANON "0,1,2,3\n0,,2,3\n", SL_DATASET_CSV, NULL, 2, "nonzeros", "empty");
    bad(CANON "0,1,2,3\n0,\"\",2,3\n", SL_DATASET_CSV, NULL, 2, "nonzeros", "empty");
    /* a column-dict column without one of the index keys */
    bad("{\"sparsity\":{\"0\":0,\"1\":0},\"nonzeros\":{\"0\":1,\"1\":1},\"data\":{\"0\":2},"
        "\"loss\":{\"0\":3,\"1\":3}}",
        SL_DATASET_JSON, NULL, 2, "data", "missing");
}

Test(bad, ragged_csv_rows) {
    bad(CANON "0,1,2,3\n0,1,2\n0,1,2,3,4\n", SL_DATASET_CSV, NULL, 2, "", "has 3 fields");
    cr_assert_not_null(find_err(3, ""));
    cr_assert(strstr(find_err(3, "")->reason, "has 5 fields"));
}

Test(bad, malformed_csv_quoting) {
    bad(CANON "0,1,2,3\n\"0,1,2,3\n", SL_DATASET_CSV, NULL, 2, "", "never closed");
    bad(CANON "\"0\"x,1,2,3\n0,1,2,3\n", SL_DATASET_CSV, NULL, 1, "", "closing quote");
    bad(CANON "0,1,2,3\n0,1\"2,2,3\n", SL_DATASET_CSV, NULL, 2, "", "quote inside");
    bad("\"sparsity,nonzeros,data,loss\n", SL_DATASET_CSV, NULL, 0, "", "header");
}

Test(bad, repeated_header_column) {
    bad("sparsity,nonzeros,data,loss,loss\n0,1,2,3,3\n", SL_DATASET_CSV, NULL, 0, "loss",
        "more than once");
    /* JSON objects cannot hold a key twice */
    bad("[{\"sparsity\":0,\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}]", SL_DATASET_JSON,
        NULL, 0, "", "duplicate");
    cr_assert_eq(errs.code, SL_ERR_INVALID_JSON);
}

Test(bad, empty_uploads) {
    for (int f = 0; f < SL_DATASET_FORMAT_COUNT; f++) {
        bad("", (sl_dataset_format)f, NULL, 0, "", "empty");
        bad(" \n\r\n", (sl_dataset_format)f, NULL, 0, "", "empty");
    }
    expect_error(NULL, 0, SL_DATASET_CSV, NULL, 0, "", "empty");
    bad(CANON, SL_DATASET_CSV, NULL, 0, "", "no data rows");
    bad(CANON "\n\n", SL_DATASET_CSV, NULL, 0, "", "no data rows");
    bad("[]", SL_DATASET_JSON, NULL, 0, "", "no data rows");
    bad("{}", SL_DATASET_JSON, NULL, 0, "", "no data rows");
    bad("{\"sparsity\":{},\"nonzeros\":{},\"data\":{},\"loss\":{}}", SL_DATASET_JSON, NULL, 0, "",
        "no data rows");
}

Test(bad, invalid_utf8_anywhere) {
    static const char *const bodies[] = {
        CANON "0,1,2,3\n0,1,2,3\n# \xff\n",                   /* stray byte */
        "sparsity,nonzeros,data,loss,run_id\n0,1,2,3,\xc3\n", /* cut sequence */
        CANON "0,1,2,3\n\xc0\xaf",                            /* overlong */
        CANON "0,1,2,3\n\xed\xa0\x80",                        /* surrogate */
        CANON "0,1,2,3\n\xf4\x90\x80\x80",                    /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        bad(bodies[i], SL_DATASET_CSV, NULL, 0, "", "UTF-8");
        cr_assert_eq(errs.code, SL_ERR_INVALID_BODY);
    }
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"run_id\":\"\xfe\"}]",
        SL_DATASET_JSON, NULL, 0, "", "UTF-8");
    bad("{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}\n\x80\n", SL_DATASET_NDJSON, NULL, 0,
        "", "line 2");
    static const char nul[] = CANON "0,1,2,3\n0,1,2,\0003\n";
    expect_error(nul, sizeof nul - 1, SL_DATASET_CSV, NULL, 0, "", "NUL");
    /* valid multi-byte text passes */
    sl_dataset ds;
    parse_ok("sparsity,nonzeros,data,loss,run_id\n0,1,2,3,\xc3\xa9t\xc3\xa9-\xe2\x82\xac-"
             "\xf0\x9f\x98\x80\n",
             SL_DATASET_CSV, NULL, &ds, 1);
    sl_dataset_free(&ds);
}

Test(bad, too_many_rows_with_a_small_cap) {
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    o.max_rows = 3;
    sl_dataset ds;
    parse_ok(CANON "0,1,2,3\n0,1,2,3\n0,1,2,3\n", SL_DATASET_CSV, &o, &ds, 3);
    sl_dataset_free(&ds);
    bad(CANON "0,1,2,3\n0,1,2,3\n0,1,2,3\n0,1,2,3\n", SL_DATASET_CSV, &o, 4, "", "more than 3");
    cr_assert_eq(errs.code, SL_ERR_PAYLOAD_TOO_LARGE);
    const char *row = "{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}";
    char body[512];
    snprintf(body, sizeof body, "[%s,%s,%s,%s]", row, row, row, row);
    bad(body, SL_DATASET_JSON, &o, 4, "", "more than 3");
    snprintf(body, sizeof body, "%s\n%s\n%s\n%s\n", row, row, row, row);
    bad(body, SL_DATASET_NDJSON, &o, 4, "", "more than 3");
    bad("{\"sparsity\":{\"0\":0,\"1\":0,\"2\":0,\"3\":0},\"nonzeros\":{\"0\":1},\"data\":{\"0\":1},"
        "\"loss\":{\"0\":1}}",
        SL_DATASET_JSON, &o, 4, "", "more than 3");
    cr_assert_eq(errs.code, SL_ERR_PAYLOAD_TOO_LARGE);
}

Test(bad, too_many_rows_at_the_default_cap, .timeout = 60) {
    const char *line = "0,1,2,3\n";
    size_t n = SL_DATASET_MAX_ROWS + 1, hl = strlen(CANON), ll = strlen(line);
    char *body = malloc(hl + n * ll + 1);
    cr_assert_not_null(body);
    memcpy(body, CANON, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(body + hl + i * ll, line, ll);
    body[hl + n * ll] = '\0';
    expect_error(body, hl + n * ll, SL_DATASET_CSV, NULL, SL_DATASET_MAX_ROWS + 1, "",
                 "more than 1000000 rows");
    cr_assert_eq(errs.code, SL_ERR_PAYLOAD_TOO_LARGE);
    free(body);
}

Test(bad, json_of_the_wrong_shape) {
    bad("42", SL_DATASET_JSON, NULL, 0, "", "array of row objects");
    cr_assert_eq(errs.code, SL_ERR_INVALID_BODY);
    bad("\"rows\"", SL_DATASET_JSON, NULL, 0, "", NULL);
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}, [0,1,2,3], 5]", SL_DATASET_JSON,
        NULL, 2, "", "must be an object");
    cr_assert_not_null(find_err(3, ""));
    bad("{\"sparsity\":0.5,\"nonzeros\":1,\"data\":2,\"loss\":3}", SL_DATASET_JSON, NULL, 0,
        "sparsity", "wrap it in an array");
    bad("{\"0\":{\"sparsity\":0.5,\"nonzeros\":1,\"data\":2,\"loss\":3}}", SL_DATASET_JSON, NULL, 0,
        "", "orient='index'");
    bad("[{\"sparsity\":0,", SL_DATASET_JSON, NULL, 0, "", "not valid JSON");
    cr_assert_eq(errs.code, SL_ERR_INVALID_JSON);
    bad("{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}\n[1,2]\n{\"sparsity\":0,\n",
        SL_DATASET_NDJSON, NULL, 2, "", "must be an object");
    cr_assert_not_null(find_err(3, ""), "%s", dump());
    cr_assert(strstr(find_err(3, "")->reason, "not valid JSON"));
    cr_assert_eq(errs.code, SL_ERR_INVALID_JSON);
}

Test(bad, run_id_pattern_and_seed) {
    char body[512];
    char id[80];
    memset(id, 'x', 65);
    id[65] = '\0';
    snprintf(body, sizeof body, "sparsity,nonzeros,data,loss,run_id\n0,1,2,3,%s\n", id);
    bad(body, SL_DATASET_CSV, NULL, 1, "run_id", "1 to 64 bytes");
    id[64] = '\0';
    snprintf(body, sizeof body, "sparsity,nonzeros,data,loss,run_id\n0,1,2,3,%s\n", id);
    sl_dataset ds;
    parse_ok(body, SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(strlen(ds.rows[0].run_id), 64);
    sl_dataset_free(&ds);
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"run_id\":17}]", SL_DATASET_JSON,
        NULL, 1, "run_id", "must be a string");
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"run_id\":\"\"}]", SL_DATASET_JSON,
        NULL, 1, "run_id", NULL);
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"run_id\":\"a\\tb\"}]",
        SL_DATASET_JSON, NULL, 1, "run_id", "control");

    bad("sparsity,nonzeros,data,loss,pattern\n0.5,1,2,3,1:2\n0.5,1,2,3,4:4\n0.5,1,2,3,2-4\n",
        SL_DATASET_CSV, NULL, 2, "pattern", "n:m");
    cr_assert_not_null(find_err(3, "pattern"));
    cr_assert_null(find_err(1, "pattern"));
    bad("sparsity,nonzeros,data,loss,pattern\n0.5,1,2,3,1:4\n", SL_DATASET_CSV, NULL, 1, "pattern",
        "sparsity");
    bad("[{\"sparsity\":0.5,\"nonzeros\":1,\"data\":2,\"loss\":3,\"pattern\":2}]", SL_DATASET_JSON,
        NULL, 1, "pattern", "string");
    parse_ok("sparsity,nonzeros,data,loss,pattern\n0.75,1,2,3,01:04\n0.5,1,2,3,2:4\n"
             "0.6666666666666666,1,2,3,1:3\n",
             SL_DATASET_CSV, NULL, &ds, 3);
    cr_assert_str_eq(ds.rows[0].pattern, "1:4");
    sl_dataset_free(&ds);

    bad("sparsity,nonzeros,data,loss,seed\n0,1,2,3,abc\n0,1,2,3,3.5\n", SL_DATASET_CSV, NULL, 1,
        "seed", "integer");
    cr_assert_not_null(find_err(2, "seed"));
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"seed\":\"7\"}]", SL_DATASET_JSON,
        NULL, 1, "seed", "string");
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"seed\":true}]", SL_DATASET_JSON,
        NULL, 1, "seed", NULL);
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"seed\":1.5}]", SL_DATASET_JSON,
        NULL, 1, "seed", NULL);
    bad("sparsity,nonzeros,data,loss,seed\n0,1,2,3,99999999999999999999\n", SL_DATASET_CSV, NULL, 1,
        "seed", NULL);
    parse_ok("sparsity,nonzeros,data,loss,seed\n0,1,2,3,3.0\n0,1,2,3,-4\n", SL_DATASET_CSV, NULL,
             &ds, 2);
    cr_assert_eq(ds.rows[0].seed, 3);
    cr_assert_eq(ds.rows[1].seed, -4);
    sl_dataset_free(&ds);
    parse_ok("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"seed\":5.0}]",
             SL_DATASET_JSON, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].seed, 5);
    sl_dataset_free(&ds);
}

Test(bad, one_bad_row_rejects_everything) {
    char body[4096];
    size_t n = (size_t)snprintf(body, sizeof body, "%s", CANON);
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "0.5,%d,2,3\n", i + 1);
    sl_dataset ds;
    parse_ok(body, SL_DATASET_CSV, NULL, &ds, 200);
    sl_dataset_free(&ds);
    snprintf(body + n, sizeof body - n, "0.5,1,2,oops\n");
    bad(body, SL_DATASET_CSV, NULL, 201, "loss", "oops");
    cr_assert_eq(errs.count, 1);
}

Test(bad, errors_are_capped_and_counted) {
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof body, "%s", CANON);
    for (int i = 0; i < 150; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "2,1,2,3\n");
    bad(body, SL_DATASET_CSV, NULL, 1, "sparsity", NULL);
    cr_assert_eq(errs.count, SL_DATASET_MAX_ERRORS);
    cr_assert_eq(errs.omitted, 50);
    json_t *j = sl_dataset_errors_json(&errs);
    json_t *e = json_object_get(j, "error");
    cr_assert_eq(json_integer_value(json_object_get(e, "omitted")), 50);
    cr_assert_eq(json_array_size(json_object_get(e, "errors")), SL_DATASET_MAX_ERRORS);
    cr_assert(strstr(json_string_value(json_object_get(e, "message")), "150 problems"));
    json_decref(j);
}

/* --------------------------------------------------- content type, options */

Test(content_type, picks_the_format) {
    static const struct {
        const char *ct;
        sl_dataset_format f;
    } ok[] = {
        {"text/csv", SL_DATASET_CSV},
        {"Text/CSV; charset=UTF-8", SL_DATASET_CSV},
        {"text/csv;header=present", SL_DATASET_CSV},
        {"application/json", SL_DATASET_JSON},
        {"application/json; charset=\"utf-8\"", SL_DATASET_JSON},
        {"application/x-ndjson", SL_DATASET_NDJSON},
        {"application/ndjson", SL_DATASET_NDJSON},
        {"  application/x-ndjson ; charset=us-ascii", SL_DATASET_NDJSON},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        sl_dataset_format f = SL_DATASET_FORMAT_COUNT;
        sl_error err;
        cr_assert_eq(sl_dataset_format_from_content_type(ok[i].ct, &f, &err), 0, "%s: %s", ok[i].ct,
                     err.message);
        cr_assert_eq(f, ok[i].f, "%s", ok[i].ct);
    }
    static const char *const no[] = {NULL,
                                     "",
                                     "  ",
                                     "text/plain",
                                     "application/xml",
                                     "text/csvx",
                                     "multipart/form-data; boundary=x",
                                     "application/json; charset=latin-1",
                                     "text/csv; charset=utf-16"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        sl_dataset_format f;
        sl_error err;
        cr_assert_eq(sl_dataset_format_from_content_type(no[i], &f, &err), -1, "%s", no[i]);
        cr_assert_eq(err.code, SL_ERR_UNSUPPORTED_MEDIA_TYPE);
        cr_assert_eq(sl_error_status(&err), 415);
        cr_assert_str_eq(err.field, "Content-Type");
        cr_assert(strstr(err.message, "text/csv") || strstr(err.message, "UTF-8"), "%s",
                  err.message);
    }
}

Test(content_type, format_names) {
    sl_dataset_format f;
    for (int i = 0; i < SL_DATASET_FORMAT_COUNT; i++) {
        cr_assert_eq(sl_dataset_format_parse(sl_dataset_format_name((sl_dataset_format)i), &f), 0);
        cr_assert_eq((int)f, i);
    }
    cr_assert_eq(sl_dataset_format_parse("xml", &f), -1);
    cr_assert_str_eq(sl_dataset_format_name(SL_DATASET_NDJSON), "ndjson");
    cr_assert_geq(sl_dataset_media_type_count, 3);
}

Test(options, set_from_query_text) {
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    sl_error err;
    cr_assert_eq(sl_dataset_option_set(&o, "base_params", "84934656", &err), 0);
    cr_assert(o.has_base_params && o.base_params == 84934656);
    cr_assert_eq(sl_dataset_option_set(&o, "tokens_per_step", "6.5536e4", &err), 0);
    cr_assert(o.has_tokens_per_step && o.tokens_per_step == 65536);
    cr_assert_eq(sl_dataset_option_set(&o, "data_unit", "examples", &err), 0);
    cr_assert(o.has_data_unit && o.data_unit == SL_UNIT_EXAMPLES);
    cr_assert_eq(sl_dataset_option_set(&o, "name", "mine", &err), 1);
    static const struct {
        const char *name, *text;
    } no[] = {
        {"base_params", "0"},    {"base_params", "-3"},      {"base_params", "nan"},
        {"base_params", ""},     {"tokens_per_step", "inf"}, {"tokens_per_step", "1e400"},
        {"data_unit", "images"}, {"data_unit", ""},
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        cr_assert_eq(sl_dataset_option_set(&o, no[i].name, no[i].text, &err), -1, "%s=%s",
                     no[i].name, no[i].text);
        cr_assert_eq(err.code, SL_ERR_INVALID_PARAMETER);
        cr_assert_str_eq(err.field, no[i].name);
    }
}

Test(formats, negative_zero_reads_as_zero) {
    sl_dataset ds;
    parse_ok("[{\"sparsity\": -0.0, \"nonzeros\": 1, \"data\": 2, \"loss\": 3}]", SL_DATASET_JSON,
             NULL, &ds, 1);
    cr_assert_not(signbit(ds.rows[0].sparsity));
    size_t len;
    char *csv = sl_dataset_csv(ds.rows, ds.nrows, &len);
    cr_assert(strstr(csv, "\r\n0,1,2,3,,,\r\n"), "%s", csv);
    free(csv);
    sl_dataset_free(&ds);
}

/* Found by tests/fuzz/fuzz_dataset.c: a JSON loss of 5e-324 was kept, but
 * written out as CSV it read back as 0 and the rows could not be uploaded
 * again. Below DBL_MIN a JSON number is zero, as the same text in CSV is. */
Test(formats, json_numbers_below_dbl_min_read_as_csv_cells_do) {
    sl_dataset ds;
    parse_ok("[{\"sparsity\": 1e-310, \"nonzeros\": 1, \"data\": 2, \"loss\": 3}]", SL_DATASET_JSON,
             NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].sparsity, 0.0);
    sl_dataset_free(&ds);
    parse_ok(CANON "1e-310,1,2,3\n", SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].sparsity, 0.0);
    sl_dataset_free(&ds);
    bad("[{\"sparsity\": 0, \"nonzeros\": 1, \"data\": 2, \"loss\": 4.9e-324}]", SL_DATASET_JSON,
        NULL, 1, "loss", "got 0");
    bad(CANON "0,1,2,4.9e-324\n", SL_DATASET_CSV, NULL, 1, "loss", "got 0");
}

Test(bad, ndjson_line_that_is_not_an_object) {
    bad("{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}\n\n5\n", SL_DATASET_NDJSON, NULL, 2,
        "", "not a number");
    cr_assert_eq(errs.code, SL_ERR_INVALID_BODY);
}

Test(writers, csv_quotes_text_that_needs_it) {
    sl_dataset_row rows[2];
    memset(rows, 0, sizeof rows);
    char a[] = " padded", b[] = "line\"q";
    rows[0] = (sl_dataset_row){.sparsity = 0.5, .nonzeros = 1, .data = 2, .loss = 3, .run_id = a};
    rows[1] = (sl_dataset_row){.sparsity = 0.5, .nonzeros = 1, .data = 2, .loss = 3, .run_id = b};
    size_t len;
    char *csv = sl_dataset_csv(rows, 2, &len);
    cr_assert(strstr(csv, ",\" padded\","), "%s", csv);
    cr_assert(strstr(csv, ",\"line\"\"q\","), "%s", csv);
    free(csv);
}

/* ------------------------------------------------------------------ writers */

Test(writers, csv_round_trips) {
    sl_dataset ds, back;
    parse_ok("sparsity,nonzeros,data,loss,run_id,pattern,seed\n"
             "0.1,123456789,1e10,3.1256396912691886,\"a,\"\"b\"\"\",,\n"
             "0.75,5308416,225000000,6.7818391589,plain,1:4,42\n"
             "0,0.1,0.2,0.3,,,-1\n",
             SL_DATASET_CSV, NULL, &ds, 3);
    size_t len = 0;
    char *csv = sl_dataset_csv(ds.rows, ds.nrows, &len);
    cr_assert_not_null(csv);
    cr_assert_eq(strlen(csv), len);
    const char *head = "sparsity,nonzeros,data,loss,run_id,pattern,seed\r\n";
    cr_assert(strncmp(csv, head, strlen(head)) == 0, "%s", csv);
    cr_assert(strstr(csv, "\r\n0.75,5308416,225000000,6.7818391589,plain,1:4,42\r\n"), "%s", csv);
    cr_assert(strstr(csv, "\"a,\"\"b\"\"\""), "%s", csv);
    cr_assert(strstr(csv, "0,0.1,0.2,0.3,,,-1\r\n"), "%s", csv);
    parse_ok(csv, SL_DATASET_CSV, NULL, &back, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(back.rows[i].sparsity, ds.rows[i].sparsity);
        cr_assert_eq(back.rows[i].nonzeros, ds.rows[i].nonzeros);
        cr_assert_eq(back.rows[i].data, ds.rows[i].data);
        cr_assert_eq(back.rows[i].loss, ds.rows[i].loss);
        cr_assert_eq(back.rows[i].run_id == NULL, ds.rows[i].run_id == NULL);
        if (ds.rows[i].run_id) cr_assert_str_eq(back.rows[i].run_id, ds.rows[i].run_id);
        cr_assert_str_eq(back.rows[i].pattern, ds.rows[i].pattern);
        cr_assert_eq(back.rows[i].has_seed, ds.rows[i].has_seed);
        cr_assert_eq(back.rows[i].seed, ds.rows[i].seed);
    }
    free(csv);
    sl_dataset_free(&back);
    sl_dataset_free(&ds);
    csv = sl_dataset_csv(NULL, 0, &len);
    cr_assert_str_eq(csv, "sparsity,nonzeros,data,loss,run_id,pattern,seed\r\n");
    free(csv);
}

Test(writers, json_rows_with_canonical_names) {
    sl_dataset ds;
    parse_ok("[{\"sparsity\":0.5,\"scale\":2,\"val-loss\":3.5,\"steps\":10,\"run_id\":\"r\","
             "\"pattern\":\"1:2\",\"seed\":9},"
             " {\"sparsity\":0,\"scale\":1,\"val-loss\":3,\"steps\":20}]",
             SL_DATASET_JSON, &(sl_dataset_options){.has_base_params = 1, .base_params = 100}, &ds,
             2);
    json_t *a = sl_dataset_rows_json(ds.rows, ds.nrows);
    cr_assert_eq(json_array_size(a), 2);
    json_t *r = json_array_get(a, 0);
    cr_assert_eq(json_number_value(json_object_get(r, "sparsity")), 0.5);
    cr_assert_eq(json_number_value(json_object_get(r, "nonzeros")), 100);
    cr_assert_eq(json_number_value(json_object_get(r, "data")), 10);
    cr_assert_eq(json_number_value(json_object_get(r, "loss")), 3.5);
    cr_assert_str_eq(json_string_value(json_object_get(r, "run_id")), "r");
    cr_assert_str_eq(json_string_value(json_object_get(r, "pattern")), "1:2");
    cr_assert_eq(json_integer_value(json_object_get(r, "seed")), 9);
    cr_assert_eq(json_object_size(json_array_get(a, 1)), 4);
    cr_assert_null(json_object_get(json_array_get(a, 1), "run_id"));
    json_decref(a);
    sl_dataset_free(&ds);
}

Test(writers, errors_json_shape) {
    sl_dataset ds;
    /* an unknown column is ignored now: a near miss of a missing one still errs */
    cr_assert_eq(parse_text("sparsity,nonzeros,data,Loss\n0,1,2,3\n", SL_DATASET_CSV, NULL, &ds),
                 -1);
    json_t *j = sl_dataset_errors_json(&errs);
    json_t *e = json_object_get(j, "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "unprocessable");
    cr_assert_str_eq(json_string_value(json_object_get(e, "field")), "Loss");
    cr_assert(strstr(json_string_value(json_object_get(e, "message")), "Loss"));
    json_t *it = json_array_get(json_object_get(e, "errors"), 0);
    cr_assert(json_is_null(json_object_get(it, "row")));
    cr_assert_str_eq(json_string_value(json_object_get(it, "field")), "Loss");
    cr_assert_not_null(json_string_value(json_object_get(it, "reason")));
    cr_assert_null(json_object_get(e, "omitted"));
    json_decref(j);

    cr_assert_eq(parse_text(CANON "0,1,2,3\n0,1,2\n", SL_DATASET_CSV, NULL, &ds), -1);
    j = sl_dataset_errors_json(&errs);
    it = json_array_get(json_object_get(json_object_get(j, "error"), "errors"), 0);
    cr_assert_eq(json_integer_value(json_object_get(it, "row")), 2);
    cr_assert(json_is_null(json_object_get(it, "field")));
    json_decref(j);

    /* non-ASCII column names survive, cut or not, as valid UTF-8 (the long
     * name is read as loss, so that its bad cell names it) */
    static const char longname[] =
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    char body[512], map[512];
    snprintf(body, sizeof body, "sparsity,nonzeros,data,%s\n0,1,2,x\n", longname);
    snprintf(map, sizeof map, "loss:%s", longname);
    cr_assert_eq(parse_text(body, SL_DATASET_CSV, &(sl_dataset_options){.columns = map}, &ds), -1);
    cr_assert_eq(errs.items[0].row, 1);
    j = sl_dataset_errors_json(&errs);
    cr_assert_not_null(j);
    char *text = json_dumps(j, 0);
    cr_assert_not_null(text, "error JSON did not encode");
    free(text);
    json_decref(j);
}

/* ----------------------------------------------------------- shared sweeps */

Test(sweeps, vit_jft_column_dict) {
    size_t len;
    char *body = slurp_path(sl_test_data_path("vit-jft-sweep.json"), &len);
    sl_dataset_options o = base(SL_TEST_VIT_BASE);
    sl_dataset ds;
    int rc = sl_dataset_parse(body, len, SL_DATASET_JSON, &o, &ds, &errs);
    cr_assert_eq(rc, 0, "%s", dump());
    cr_assert_eq(ds.nrows, 112);
    cr_assert_eq(ds.data_unit, SL_UNIT_EXAMPLES);
    /* index "0": scale 0.25, sparsity 0.75, total_examples 225000000, val-loss 6.7818391589 */
    cr_assert_eq(ds.rows[0].sparsity, 0.75);
    cr_assert_eq(ds.rows[0].nonzeros, 5308416.0); /* 84934656 x 0.25 x 0.25 */
    cr_assert_eq(ds.rows[0].data, 225000000.0);
    cr_assert_eq(ds.rows[0].loss, 6.7818391589);
    for (size_t i = 0; i < ds.nrows; i++) {
        cr_assert(ds.rows[i].sparsity >= 0 && ds.rows[i].sparsity < 1);
        cr_assert(ds.rows[i].nonzeros > 0 && ds.rows[i].data > 0 && ds.rows[i].loss > 0);
    }
    /* without base_params the scale column cannot be read */
    expect_error(body, len, SL_DATASET_JSON, NULL, 0, "base_params", NULL);
    sl_dataset_free(&ds);
    free(body);
}

Test(sweeps, t5_c4_csv) {
    size_t len;
    char *body = slurp_path(sl_test_data_path("t5-c4-sweep.csv"), &len);
    sl_dataset_options o = base(SL_TEST_T5_BASE);
    o.has_tokens_per_step = 1;
    o.tokens_per_step = SL_TEST_T5_TOKENS_PER_STEP;
    sl_dataset ds;
    int rc = sl_dataset_parse(body, len, SL_DATASET_CSV, &o, &ds, &errs);
    cr_assert_eq(rc, 0, "%s", dump());
    cr_assert_eq(ds.nrows, 48);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    /* row 0: sparsity 0.0, scale 0.0078125, val-loss 3.1256396912691886, steps 250000.0 */
    cr_assert_eq(ds.rows[0].sparsity, 0.0);
    cr_assert_eq(ds.rows[0].nonzeros, 1327104.0); /* 169869312 x 0.0078125 */
    cr_assert_eq(ds.rows[0].data, 16384000000.0); /* 250000 x 65536 */
    cr_assert_eq(ds.rows[0].loss, 3.1256396912691886);
    /* row 1: sparsity 0.5, scale 0.015625 */
    cr_assert_eq(ds.rows[1].nonzeros, 169869312.0 * 0.015625 * 0.5);
    sl_dataset_free(&ds);
    /* without tokens_per_step the data is in steps */
    o.has_tokens_per_step = 0;
    rc = sl_dataset_parse(body, len, SL_DATASET_CSV, &o, &ds, &errs);
    cr_assert_eq(rc, 0, "%s", dump());
    cr_assert_eq(ds.data_unit, SL_UNIT_STEPS);
    cr_assert_eq(ds.rows[0].data, 250000.0);
    sl_dataset_free(&ds);
    free(body);
}

/* ---------------------------------------------------------- the contract */

/* openapi.json is where uploads are documented: it must name every column
 * and every option the parser knows, on both upload routes. */
Test(contract, openapi_documents_every_column_and_option) {
    json_error_t jerr;
    json_t *doc = json_load_file(SL_OPENAPI_PATH, 0, &jerr);
    cr_assert_not_null(doc, "%s: %s", SL_OPENAPI_PATH, jerr.text);
    json_t *paths = json_object_get(doc, "paths");
    static const char *const routes[] = {"/v1/datasets", "/v1/datasets/{id}/rows"};
    for (size_t r = 0; r < 2; r++) {
        json_t *op = json_object_get(json_object_get(paths, routes[r]), "post");
        cr_assert_not_null(op, "no POST %s", routes[r]);
        json_t *params = json_object_get(op, "parameters");
        for (size_t i = 0; i < sl_dataset_option_count; i++) {
            int found = 0;
            size_t k;
            json_t *p;
            json_array_foreach(params, k, p) {
                found |= strcmp(json_string_value(json_object_get(p, "name")),
                                sl_dataset_option_names[i]) == 0 &&
                         strlen(json_string_value(json_object_get(p, "description"))) > 20;
            }
            cr_assert(found, "POST %s does not document ?%s", routes[r],
                      sl_dataset_option_names[i]);
        }
    }
    const char *text = json_string_value(json_object_get(
        json_object_get(json_object_get(paths, "/v1/datasets"), "post"), "description"));
    cr_assert_not_null(text);
    for (size_t i = 0; i < sl_dataset_column_count; i++) {
        const char *name = sl_dataset_columns[i].name;
        if (!name[0]) continue; /* the unnamed index column: described, not named */
        cr_assert(strstr(text, name), "POST /v1/datasets does not name the column '%s'", name);
    }
    json_decref(doc);
}
