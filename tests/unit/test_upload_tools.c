/* Unit tests of uploads from the tools people already use:
 * a W&B runs-table export and an MLflow search_runs CSV (tests/fixtures/, a
 * crashed run each) uploaded as they are; the column prefixes and aliases
 * those tools write; other columns ignored and listed; the columns option;
 * run states; skip_invalid and the rows it leaves out; the answer's JSON. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_csv.h" /* SL_CSV_MAX_FIELDS */
#include "sl_dataset.h"
#include "sl_test_dataset.h"

#ifndef SL_FIXTURES_DIR
#error "SL_FIXTURES_DIR must name the project's tests/fixtures/ folder"
#endif

#define WANDB_FILE  "wandb-runs-export.csv"
#define MLFLOW_FILE "mlflow-search-runs.csv"
#define CANON_ROW   "sparsity,nonzeros,data,loss\n0,1,2,3\n"

static char *slurp(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", SL_FIXTURES_DIR, name);
    return slurp_path(path, len);
}

/* The upload is refused, returns nothing, and lists {row, field} with a
 * reason holding `reason` (when not NULL). */
static void bad(const char *body, sl_dataset_format fmt, const sl_dataset_options *opt, size_t row,
                const char *field, const char *reason) {
    sl_dataset ds;
    memset(&ds, 0xab, sizeof ds);
    cr_assert_eq(parse_text(body, fmt, opt, &ds), -1, "accepted: %.200s", body);
    cr_assert_null(ds.rows);
    cr_assert_eq(ds.nrows, 0);
    cr_assert_null(ds.ignored);
    cr_assert_null(ds.skipped);
    const sl_dataset_error *e = find_err(row, field);
    cr_assert_not_null(e, "no error at row %zu, field '%s' for %.200s; got %s", row, field, body,
                       dump());
    if (reason) cr_assert(strstr(e->reason, reason), "reason '%s' lacks '%s'", e->reason, reason);
}

/* ds->ignored is exactly want[0..n). */
static void expect_ignored(const sl_dataset *ds, const char *const *want, size_t n) {
    char got[2048] = "";
    for (size_t i = 0; i < ds->nignored; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "'%s' ", ds->ignored[i]);
    cr_assert_eq(ds->nignored, n, "ignored %s", got);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(ds->ignored[i], want[i], "ignored %s", got);
}

static sl_dataset_options opts(void) {
    sl_dataset_options o;
    memset(&o, 0, sizeof o);
    return o;
}

static sl_dataset_options skipping(void) {
    sl_dataset_options o = opts();
    o.skip_invalid = 1;
    return o;
}

/* ------------------------------------------------------------ W&B export */

/* tests/fixtures/wandb-runs-export.csv: the runs table's own columns (Name,
 * State, Notes, User, Tags, Created, Runtime, Sweep), then config keys and
 * summary metrics by their names, every field quoted. Row 10 is a run that
 * failed with a NaN loss, row 14 one that crashed before any validation. */

static const char *const wandb_ignored[] = {"Name",    "Notes", "User",       "Tags", "Created",
                                            "Runtime", "Sweep", "batch_size", "lr",   "train/loss"};

Test(wandb, export_with_a_crashed_run_is_refused_by_default) {
    size_t len;
    char *body = slurp(WANDB_FILE, &len);
    sl_dataset ds;
    cr_assert_eq(sl_dataset_parse(body, len, SL_DATASET_CSV, NULL, &ds, &errs), -1);
    cr_assert_null(ds.rows);
    cr_assert_eq(errs.code, SL_ERR_UNPROCESSABLE);
    const sl_dataset_error *e = find_err(10, "State");
    cr_assert_not_null(e, "%s", dump());
    cr_assert(strstr(e->reason, "failed"), "%s", e->reason);
    cr_assert(strstr(e->reason, "skip_invalid"), "%s", e->reason);
    cr_assert_not_null(find_err(10, "val/loss"), "the NaN loss: %s", dump());
    e = find_err(14, "State");
    cr_assert_not_null(e, "%s", dump());
    cr_assert(strstr(e->reason, "crashed"), "%s", e->reason);
    e = find_err(14, "val/loss");
    cr_assert_not_null(e, "%s", dump());
    cr_assert(strstr(e->reason, "empty"), "%s", e->reason);
    cr_assert_eq(errs.count, 4, "%s", dump());
    free(body);
}

Test(wandb, export_with_skip_invalid_stores_the_finished_runs) {
    size_t len;
    char *body = slurp(WANDB_FILE, &len);
    sl_dataset ds;
    sl_dataset_options o = skipping();
    cr_assert_eq(sl_dataset_parse(body, len, SL_DATASET_CSV, &o, &ds, &errs), 0, "%s", dump());
    cr_assert_eq(ds.nrows, 12);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    /* row 1: config sparsity 0, nonzeros 2e7, tokens 1e9, seed 1; summary val/loss */
    cr_assert_eq(ds.rows[0].sparsity, 0);
    cr_assert_eq(ds.rows[0].nonzeros, 2e7);
    cr_assert_eq(ds.rows[0].data, 1e9);
    cr_assert_eq(ds.rows[0].loss, 2.5852);
    cr_assert(ds.rows[0].has_seed && ds.rows[0].seed == 1);
    cr_assert_null(ds.rows[0].run_id); /* Name is not read unless columns says so */
    /* the row after the failed one is data row 11, the 10th kept */
    cr_assert_eq(ds.rows[9].sparsity, 0.5);
    cr_assert_eq(ds.rows[9].nonzeros, 4e7);
    cr_assert_eq(ds.rows[9].loss, 2.1144);
    cr_assert_eq(ds.rows[11].sparsity, 0.75);
    cr_assert_eq(ds.rows[11].data, 4e9);
    expect_ignored(&ds, wandb_ignored, sizeof wandb_ignored / sizeof wandb_ignored[0]);
    cr_assert_eq(ds.nskipped, 2);
    cr_assert_eq(ds.skipped[0].row, 10);
    cr_assert_str_eq(ds.skipped[0].field, "State");
    cr_assert(strstr(ds.skipped[0].reason, "the run failed (state 'failed')"), "%s",
              ds.skipped[0].reason);
    cr_assert_eq(ds.skipped[1].row, 14);
    cr_assert_str_eq(ds.skipped[1].field, "State");
    cr_assert(strstr(ds.skipped[1].reason, "crashed"), "%s", ds.skipped[1].reason);
    sl_dataset_free(&ds);
    cr_assert_null(ds.ignored);
    cr_assert_null(ds.skipped);
    cr_assert_eq(ds.nskipped, 0);
    free(body);
}

Test(wandb, run_names_become_run_ids_with_columns) {
    size_t len;
    char *body = slurp(WANDB_FILE, &len);
    sl_dataset ds;
    sl_dataset_options o = skipping();
    sl_error err;
    cr_assert_eq(sl_dataset_option_set(&o, "columns", "run_id:Name", &err), 0);
    cr_assert_eq(sl_dataset_parse(body, len, SL_DATASET_CSV, &o, &ds, &errs), 0, "%s", dump());
    cr_assert_eq(ds.nrows, 12);
    cr_assert_str_eq(ds.rows[0].run_id, "s0.00-n2e7-d1e9");
    cr_assert_str_eq(ds.rows[11].run_id, "s0.75-n8e7-d4e9");
    expect_ignored(&ds, wandb_ignored + 1, sizeof wandb_ignored / sizeof wandb_ignored[0] - 1);
    sl_dataset_free(&ds);
    free(body);
}

/* ------------------------------------------------------------- MLflow CSV */

/* tests/fixtures/mlflow-search-runs.csv: mlflow.search_runs(...).to_csv():
 * pandas' unnamed index, run_id, experiment_id, status, artifact_uri,
 * start_time, end_time, then metrics.*, params.*, tags.*. Row 4 is a run
 * that FAILED before logging a metric (pandas writes NaN as empty). */

static const char *const mlflow_ignored[] = {"",
                                             "experiment_id",
                                             "artifact_uri",
                                             "start_time",
                                             "end_time",
                                             "metrics.train_loss",
                                             "params.lr",
                                             "tags.mlflow.runName",
                                             "tags.mlflow.source.name",
                                             "tags.mlflow.source.type",
                                             "tags.mlflow.user"};

Test(mlflow, search_runs_with_a_failed_run_is_refused_by_default) {
    size_t len;
    char *body = slurp(MLFLOW_FILE, &len);
    sl_dataset ds;
    cr_assert_eq(sl_dataset_parse(body, len, SL_DATASET_CSV, NULL, &ds, &errs), -1);
    const sl_dataset_error *e = find_err(4, "status");
    cr_assert_not_null(e, "%s", dump());
    cr_assert(strstr(e->reason, "the run failed (state 'FAILED')"), "%s", e->reason);
    cr_assert_not_null(find_err(4, "metrics.val_loss"), "%s", dump());
    cr_assert_eq(errs.count, 2, "%s", dump());
    free(body);
}

Test(mlflow, search_runs_with_skip_invalid) {
    size_t len;
    char *body = slurp(MLFLOW_FILE, &len);
    sl_dataset ds;
    sl_dataset_options o = skipping();
    cr_assert_eq(sl_dataset_parse(body, len, SL_DATASET_CSV, &o, &ds, &errs), 0, "%s", dump());
    cr_assert_eq(ds.nrows, 8);
    /* run_id is MLflow's; params.total_params gives nonzeros = total x (1 - S) */
    cr_assert_str_eq(ds.rows[0].run_id, "26301f157945fefa06159d99b917c72e");
    cr_assert_eq(ds.rows[0].sparsity, 0.5);
    cr_assert_eq(ds.rows[0].nonzeros, 6e7);
    cr_assert_eq(ds.rows[0].data, 8e9);
    cr_assert_eq(ds.rows[0].loss, 1.9486);
    cr_assert(ds.rows[0].has_seed && ds.rows[0].seed == 0);
    cr_assert_str_eq(ds.rows[3].run_id, "c8f8a45b555e241ba0076bf3ec9a5a7f"); /* after the gap */
    cr_assert_eq(ds.rows[3].nonzeros, 1.2e8);
    cr_assert_eq(ds.rows[7].loss, 2.3630);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    expect_ignored(&ds, mlflow_ignored, sizeof mlflow_ignored / sizeof mlflow_ignored[0]);
    cr_assert_eq(ds.nskipped, 1);
    cr_assert_eq(ds.skipped[0].row, 4);
    cr_assert_str_eq(ds.skipped[0].field, "status");
    sl_dataset_free(&ds);
    free(body);
}

/* ------------------------------------------------- prefixes and aliases */

Test(aliases, the_names_w_and_b_and_mlflow_write) {
    sl_dataset ds;
    parse_ok("sparsity,nonzeros,tokens,val/loss\n0.5,10,20,3.5\n", SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].loss, 3.5);
    sl_dataset_free(&ds);
    parse_ok("params.sparsity,params.nonzeros,params.tokens,metrics.val_loss,params.seed\n"
             "0.5,10,20,3.5,4\n",
             SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].sparsity, 0.5);
    cr_assert_eq(ds.rows[0].nonzeros, 10);
    cr_assert_eq(ds.rows[0].data, 20);
    cr_assert_eq(ds.rows[0].loss, 3.5);
    cr_assert_eq(ds.rows[0].seed, 4);
    cr_assert_eq(ds.nignored, 0);
    sl_dataset_free(&ds);
    /* wandb's public API flattened by pandas: config.* and summary.* */
    parse_ok("[{\"config.sparsity\":0.75,\"config.total_params\":400,\"config.steps\":100,"
             "\"summary.val/loss\":2.5,\"summary._runtime\":12}]",
             SL_DATASET_JSON, NULL, &ds, 1);
    cr_assert_eq(ds.rows[0].nonzeros, 100);
    cr_assert_eq(ds.rows[0].data, 100);
    cr_assert_eq(ds.data_unit, SL_UNIT_STEPS);
    cr_assert_eq(ds.rows[0].loss, 2.5);
    expect_ignored(&ds, (const char *const[]){"summary._runtime"}, 1);
    sl_dataset_free(&ds);
}

Test(aliases, prefixed_conversions_keep_their_options) {
    sl_dataset ds;
    sl_dataset_options o = opts();
    o.has_base_params = 1;
    o.base_params = 1000;
    o.has_tokens_per_step = 1;
    o.tokens_per_step = 8;
    parse_ok("config.sparsity,config.scale,config.steps,summary.val_loss\n0.5,2,10,3\n",
             SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.rows[0].nonzeros, 1000);
    cr_assert_eq(ds.rows[0].data, 80);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    sl_dataset_free(&ds);
    bad("config.sparsity,config.scale,tokens,loss\n0.5,2,10,3\n", SL_DATASET_CSV, NULL, 0,
        "base_params", "needs the base_params option");
}

Test(aliases, prefixes_name_only_columns_that_give_something) {
    sl_dataset ds;
    /* tags.* are text; a prefixed pandas index is just another column */
    parse_ok("sparsity,nonzeros,data,loss,tags.sparsity,params.index,params.,metrics.\n"
             "0,1,2,3,0.5,7,8,9\n",
             SL_DATASET_CSV, NULL, &ds, 1);
    expect_ignored(
        &ds, (const char *const[]){"tags.sparsity", "params.index", "params.", "metrics."}, 4);
    sl_dataset_free(&ds);
    bad("tags.sparsity,nonzeros,data,loss\n0.5,1,2,3\n", SL_DATASET_CSV, NULL, 0, "sparsity",
        "no column gives sparsity");
}

Test(aliases, a_prefixed_and_a_plain_column_for_one_variable) {
    bad("sparsity,params.sparsity,nonzeros,data,loss\n0,0,1,2,3\n", SL_DATASET_CSV, NULL, 0,
        "params.sparsity", "?columns=sparsity:<column>");
    bad("sparsity,nonzeros,data,loss,val/loss\n0,1,2,3,3\n", SL_DATASET_CSV, NULL, 0, "val/loss",
        "both give loss");
}

/* ------------------------------------------------------- ignored columns */

Test(ignored, other_columns_are_listed_once_in_order) {
    sl_dataset ds;
    parse_ok(",lr,sparsity,nonzeros,lr,data,Notes,loss,Notes\n"
             "0,0.1,0,1,0.1,2,\"a, b\",3,x\n",
             SL_DATASET_CSV, NULL, &ds, 1);
    expect_ignored(&ds, (const char *const[]){"", "lr", "Notes"}, 3);
    sl_dataset_free(&ds);
    /* rows layouts: the union of keys, in order of appearance */
    parse_ok("{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"b\":1}\n"
             "{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"a\":[1,2]}\n",
             SL_DATASET_NDJSON, NULL, &ds, 2);
    expect_ignored(&ds, (const char *const[]){"b", "a"}, 2);
    sl_dataset_free(&ds);
    parse_ok("sparsity,nonzeros,data,loss\n0,1,2,3\n", SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.nignored, 0);
    cr_assert_not_null(ds.ignored); /* an empty list, not none */
    sl_dataset_free(&ds);
}

Test(ignored, a_near_miss_of_a_missing_column_is_named) {
    bad("Sparsity,nonzeros,data,loss\n0,1,2,3\n", SL_DATASET_CSV, NULL, 0, "Sparsity",
        "did you mean 'sparsity'");
    bad("sparsity,nonzeros,data,metrics.val_los\n0,1,2,3\n", SL_DATASET_CSV, NULL, 0,
        "metrics.val_los", "?columns=val_loss:metrics.val_los");
    /* nothing close: the plain message, with the columns option as the way out */
    bad("sparsity,nonzeros,data,lr\n0,1,2,3\n", SL_DATASET_CSV, NULL, 0, "loss",
        "?columns=loss:<column>");
}

Test(ignored, wide_exports_fit) {
    /* a W&B export has a column per config key and metric: 1000 columns */
    size_t cap = 1 << 16, n = 0;
    char *body = malloc(cap);
    cr_assert_not_null(body);
    n += (size_t)snprintf(body + n, cap - n, "sparsity,nonzeros,data,loss");
    for (int i = 4; i < 1000; i++)
        n += (size_t)snprintf(body + n, cap - n, ",config.k%d", i);
    n += (size_t)snprintf(body + n, cap - n, "\n0,1,2,3");
    for (int i = 4; i < 1000; i++)
        n += (size_t)snprintf(body + n, cap - n, ",%d", i);
    n += (size_t)snprintf(body + n, cap - n, "\n");
    sl_dataset ds;
    parse_ok(body, SL_DATASET_CSV, NULL, &ds, 1);
    cr_assert_eq(ds.nignored, 996);
    cr_assert_str_eq(ds.ignored[995], "config.k999");
    sl_dataset_free(&ds);
    /* past SL_CSV_MAX_FIELDS the header is refused */
    n = (size_t)snprintf(body, cap, "sparsity,nonzeros,data,loss");
    for (int i = 4; i <= SL_CSV_MAX_FIELDS; i++)
        n += (size_t)snprintf(body + n, cap - n, ",c%d", i);
    snprintf(body + n, cap - n, "\n0,1,2,3\n");
    bad(body, SL_DATASET_CSV, NULL, 0, "", "at most 1024");
    free(body);
}

/* ------------------------------------------------------ the columns option */

Test(columns, map_any_column_by_name) {
    sl_dataset ds;
    sl_dataset_options o = opts();
    sl_error err;
    cr_assert_eq(sl_dataset_option_set(&o, "columns", "loss:my_loss,data:tok", &err), 0);
    cr_assert_str_eq(o.columns, "loss:my_loss,data:tok");
    parse_ok("sparsity,nonzeros,tok,my_loss\n0.5,10,20,3.5\n", SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.rows[0].data, 20);
    cr_assert_eq(ds.rows[0].loss, 3.5);
    cr_assert_eq(ds.nignored, 0);
    sl_dataset_free(&ds);
    /* the same in JSON rows; a space after a comma, a colon inside a name */
    o.columns = "loss:eval:loss, sparsity:S";
    parse_ok("[{\"S\":0.25,\"nonzeros\":10,\"data\":20,\"eval:loss\":2.5}]", SL_DATASET_JSON, &o,
             &ds, 1);
    cr_assert_eq(ds.rows[0].sparsity, 0.25);
    cr_assert_eq(ds.rows[0].loss, 2.5);
    sl_dataset_free(&ds);
}

Test(columns, a_target_keeps_its_conversion) {
    sl_dataset ds;
    sl_dataset_options o = opts();
    o.columns = "steps:trainer/global_step,total_params:n_params,state:run_state,run_id:Name";
    o.has_tokens_per_step = 1;
    o.tokens_per_step = 1000;
    parse_ok("Name,sparsity,n_params,trainer/global_step,loss,run_state\n"
             "a,0.5,100,7,3,finished\n",
             SL_DATASET_CSV, &o, &ds, 1);
    cr_assert_eq(ds.rows[0].nonzeros, 50);
    cr_assert_eq(ds.rows[0].data, 7000);
    cr_assert_eq(ds.data_unit, SL_UNIT_TOKENS);
    cr_assert_str_eq(ds.rows[0].run_id, "a");
    sl_dataset_free(&ds);
    bad("Name,sparsity,n_params,trainer/global_step,loss,run_state\n"
        "a,0.5,100,7,3,crashed\n",
        SL_DATASET_CSV, &o, 1, "run_state", "crashed");
}

Test(columns, a_mapped_variable_ignores_its_other_columns) {
    sl_dataset ds;
    sl_dataset_options o = opts();
    o.columns = "loss:val/loss";
    /* train loss as `loss` beside val/loss: two sources unless one is chosen */
    bad("sparsity,nonzeros,data,loss,val/loss\n0,1,2,3,4\n", SL_DATASET_CSV, NULL, 0, "val/loss",
        "both give loss");
    parse_ok("sparsity,nonzeros,data,loss,val/loss,val_loss\n0,1,2,3,4,5\n", SL_DATASET_CSV, &o,
             &ds, 1);
    cr_assert_eq(ds.rows[0].loss, 4);
    expect_ignored(&ds, (const char *const[]){"loss", "val_loss"}, 2);
    sl_dataset_free(&ds);
    o.columns = "sparsity:params.sparsity";
    parse_ok("sparsity,params.sparsity,nonzeros,data,loss\n0.1,0.5,1,2,3\n", SL_DATASET_CSV, &o,
             &ds, 1);
    cr_assert_eq(ds.rows[0].sparsity, 0.5);
    expect_ignored(&ds, (const char *const[]){"sparsity"}, 1);
    sl_dataset_free(&ds);
}

Test(columns, malformed_option_values_are_refused) {
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {"", "empty"},
        {"loss", "no ':'"},
        {"loss:", "names no column"},
        {":x", "not a column name"},
        {"lose:x", "not a column name"},
        {"index:x", "not a column name"}, /* an ignored entry gives nothing */
        {"loss:a,val-loss:b", "gives loss twice"},
        {"loss:a,data:a", "twice"},
        {"loss:a,", "empty pair"},
        {"loss:a,,data:b", "empty pair"},
        {"averyveryveryverylongtargetname:x", "not a column name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_dataset_options o = opts();
        sl_error err;
        memset(&err, 0, sizeof err);
        cr_assert_eq(sl_dataset_option_set(&o, "columns", cases[i].text, &err), -1, "'%s'",
                     cases[i].text);
        cr_assert_eq(err.code, SL_ERR_INVALID_PARAMETER);
        cr_assert_str_eq(err.field, "columns");
        cr_assert(strstr(err.message, cases[i].reason), "'%s': %s", cases[i].text, err.message);
        cr_assert_null(o.columns);
        /* the parser checks an option it did not get from sl_dataset_option_set */
        o.columns = cases[i].text;
        bad(CANON_ROW, SL_DATASET_CSV, &o, 0, "columns", cases[i].reason);
        cr_assert_eq(errs.code, SL_ERR_INVALID_PARAMETER);
    }
}

Test(columns, a_named_column_must_be_there) {
    sl_dataset_options o = opts();
    o.columns = "loss:my_loss";
    bad(CANON_ROW, SL_DATASET_CSV, &o, 0, "columns", "has no column 'my_loss'");
    cr_assert_eq(errs.code, SL_ERR_INVALID_PARAMETER);
    cr_assert_eq(errs.count, 1, "%s", dump()); /* not also 'no column gives loss' */
    o.columns = "sparsity:S";
    bad("S,S,nonzeros,data,loss\n0,0,1,2,3\n", SL_DATASET_CSV, &o, 0, "S", "more than once");
}

/* ------------------------------------------------------------ run states */

Test(states, only_finished_runs_are_kept) {
    sl_dataset ds;
    parse_ok("sparsity,nonzeros,data,loss,state\n0,1,2,3,finished\n0,1,2,3,Finished\n"
             "0,1,2,3,FINISHED\n0,1,2,3,\n",
             SL_DATASET_CSV, NULL, &ds, 4);
    sl_dataset_free(&ds);
    static const struct {
        const char *state, *what;
    } refused[] = {
        {"failed", "the run failed"},     {"crashed", "the run crashed"},
        {"KILLED", "was killed"},         {"running", "still running"},
        {"SCHEDULED", "has not started"}, {"preempted", "did not finish"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "sparsity,nonzeros,data,loss,State\n0,1,2,3,finished\n"
                 "0,1,2,3,%s\n",
                 refused[i].state);
        bad(body, SL_DATASET_CSV, NULL, 2, "State", refused[i].what);
        cr_assert(strstr(find_err(2, "State")->reason, refused[i].state));
        cr_assert_eq(errs.count, 1);
    }
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3,\"status\":1}]", SL_DATASET_JSON,
        NULL, 1, "status", "must be a string");
    bad("sparsity,nonzeros,data,loss,state,status\n0,1,2,3,finished,FINISHED\n", SL_DATASET_CSV,
        NULL, 0, "status", "both give state");
}

/* ---------------------------------------------------------- skip_invalid */

Test(skip, option_values) {
    sl_dataset_options o = opts();
    sl_error err;
    cr_assert_eq(sl_dataset_option_set(&o, "skip_invalid", "true", &err), 0);
    cr_assert_eq(o.skip_invalid, 1);
    cr_assert_eq(sl_dataset_option_set(&o, "skip_invalid", "false", &err), 0);
    cr_assert_eq(o.skip_invalid, 0);
    cr_assert_eq(sl_dataset_option_set(&o, "skip_invalid", "yes", &err), -1);
    cr_assert_eq(err.code, SL_ERR_INVALID_PARAMETER);
    cr_assert_str_eq(err.field, "skip_invalid");
    cr_assert_eq(sl_dataset_option_set(&o, "skip_invalid", "", &err), -1);
    cr_assert_eq(sl_dataset_option_set(&o, "nope", "true", &err), 1);
    int documented = 0;
    for (size_t i = 0; i < sl_dataset_option_count; i++)
        documented += strcmp(sl_dataset_option_names[i], "skip_invalid") == 0 ||
                      strcmp(sl_dataset_option_names[i], "columns") == 0;
    cr_assert_eq(documented, 2);
}

Test(skip, every_bad_row_is_left_out_with_its_first_problem) {
    sl_dataset ds;
    sl_dataset_options o = skipping();
    parse_ok("sparsity,nonzeros,data,loss,seed,pattern,state\n"
             "0.5,10,20,3,1,,finished\n" /* 1: good */
             "0.5,10,20,NaN,1,,\n"       /* 2: NaN loss */
             "0.5,10,20,,1,,crashed\n"   /* 3: the state comes first */
             "1.5,10,20,3,x,,\n"         /* 4: sparsity, then seed */
             "0.5,10,20,3,1,1:4,\n"      /* 5: pattern contradicts sparsity */
             "0.25,11,21,2.5,2,,\n",     /* 6: good */
             SL_DATASET_CSV, &o, &ds, 2);
    cr_assert_eq(ds.rows[1].nonzeros, 11);
    cr_assert_eq(ds.nskipped, 4);
    static const struct {
        size_t row;
        const char *field, *reason;
    } want[] = {{2, "loss", "finite number"},
                {3, "state", "crashed"},
                {4, "sparsity", "[0, 1)"},
                {5, "pattern", "means sparsity"}};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(ds.skipped[i].row, want[i].row);
        cr_assert_str_eq(ds.skipped[i].field, want[i].field);
        cr_assert(strstr(ds.skipped[i].reason, want[i].reason), "%s", ds.skipped[i].reason);
    }
    sl_dataset_free(&ds);
    /* NDJSON and JSON rows the same way */
    parse_ok("{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":null}\n"
             "{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}\n",
             SL_DATASET_NDJSON, &o, &ds, 1);
    cr_assert_eq(ds.nskipped, 1);
    cr_assert_eq(ds.skipped[0].row, 1);
    cr_assert(strstr(ds.skipped[0].reason, "null"));
    sl_dataset_free(&ds);
    parse_ok("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3},"
             " {\"sparsity\":0,\"nonzeros\":1,\"data\":\"2\",\"loss\":3}]",
             SL_DATASET_JSON, &o, &ds, 1);
    cr_assert_eq(ds.skipped[0].row, 2);
    cr_assert_str_eq(ds.skipped[0].field, "data");
    sl_dataset_free(&ds);
}

Test(skip, no_good_row_is_refused) {
    sl_dataset_options o = skipping();
    bad("sparsity,nonzeros,data,loss,State\n0,1,2,,crashed\n0,1,2,NaN,failed\n", SL_DATASET_CSV, &o,
        0, "", "no row is valid");
    cr_assert_eq(errs.code, SL_ERR_UNPROCESSABLE);
    cr_assert_eq(errs.count, 3);
    cr_assert_not_null(find_err(1, "State"));
    cr_assert_not_null(find_err(2, "State"));
    json_t *j = sl_dataset_errors_json(&errs);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    cr_assert(strstr(msg, "nothing was stored"), "%s", msg);
    json_decref(j);
}

Test(skip, whole_upload_problems_still_refuse) {
    sl_dataset_options o = skipping();
    /* a record with the wrong field count, malformed quoting, a missing column */
    bad("sparsity,nonzeros,data,loss\n0,1,2,3\n0,1,2\n", SL_DATASET_CSV, &o, 2, "", "has 3 fields");
    bad("sparsity,nonzeros,data,loss\n0,1,2,3\n0,1\"2,2,3\n", SL_DATASET_CSV, &o, 2, "",
        "quote inside");
    bad("sparsity,nonzeros,data\n0,1,2\n", SL_DATASET_CSV, &o, 0, "loss", "no column gives loss");
    bad("[{\"sparsity\":0,\"nonzeros\":1,\"data\":2,\"loss\":3}, 7]", SL_DATASET_JSON, &o, 2, "",
        "must be an object");
    /* a bad row before the malformed one is not returned as skipped either */
    sl_dataset ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(
        parse_text("sparsity,nonzeros,data,loss\n0,1,2,\n0,1,2\n", SL_DATASET_CSV, &o, &ds), -1);
    cr_assert_null(ds.skipped);
    cr_assert_eq(ds.nskipped, 0);
}

Test(skip, default_is_all_or_nothing) {
    bad("sparsity,nonzeros,data,loss\n0,1,2,3\n0,1,2,NaN\n", SL_DATASET_CSV, NULL, 2, "loss",
        "finite number");
    sl_dataset_options o = opts();
    sl_error err;
    cr_assert_eq(sl_dataset_option_set(&o, "skip_invalid", "false", &err), 0);
    bad("sparsity,nonzeros,data,loss\n0,1,2,3\n0,1,2,NaN\n", SL_DATASET_CSV, &o, 2, "loss", NULL);
}

/* ---------------------------------------------------------- the answer */

Test(report, ignored_columns_and_skipped_rows_as_json) {
    sl_dataset ds;
    sl_dataset_options o = skipping();
    parse_ok(",sparsity,nonzeros,data,loss,lr\n0,0,1,2,3,0.1\n1,0,1,2,,0.1\n", SL_DATASET_CSV, &o,
             &ds, 1);
    json_t *obj = json_pack("{s:i}", "id", 1);
    cr_assert_eq(sl_dataset_report_json(&ds, obj), 0);
    json_t *ign = json_object_get(obj, "ignored_columns");
    cr_assert_eq(json_array_size(ign), 2);
    cr_assert_str_eq(json_string_value(json_array_get(ign, 0)), "");
    cr_assert_str_eq(json_string_value(json_array_get(ign, 1)), "lr");
    json_t *sk = json_object_get(obj, "skipped");
    cr_assert_eq(json_array_size(sk), 1);
    json_t *it = json_array_get(sk, 0);
    cr_assert_eq(json_object_size(it), 3);
    cr_assert_eq(json_integer_value(json_object_get(it, "row")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(it, "field")), "loss");
    cr_assert(strstr(json_string_value(json_object_get(it, "reason")), "empty"));
    char *text = json_dumps(obj, 0);
    cr_assert_not_null(text);
    free(text);
    json_decref(obj);
    sl_dataset_free(&ds);
    /* a dataset read back has neither: empty lists */
    memset(&ds, 0, sizeof ds);
    obj = json_object();
    cr_assert_eq(sl_dataset_report_json(&ds, obj), 0);
    cr_assert_eq(json_array_size(json_object_get(obj, "ignored_columns")), 0);
    cr_assert(json_is_array(json_object_get(obj, "skipped")));
    cr_assert_eq(json_array_size(json_object_get(obj, "skipped")), 0);
    json_decref(obj);
}

Test(report, a_skipped_row_without_a_field) {
    /* field "" is null in JSON, as in the error list */
    sl_dataset ds;
    memset(&ds, 0, sizeof ds);
    char text[] = "\0whole row";
    sl_dataset_skip s = {3, text, text + 1};
    ds.skipped = &s;
    ds.nskipped = 1;
    json_t *obj = json_object();
    cr_assert_eq(sl_dataset_report_json(&ds, obj), 0);
    json_t *it = json_array_get(json_object_get(obj, "skipped"), 0);
    cr_assert(json_is_null(json_object_get(it, "field")));
    cr_assert_str_eq(json_string_value(json_object_get(it, "reason")), "whole row");
    json_decref(obj);
}
