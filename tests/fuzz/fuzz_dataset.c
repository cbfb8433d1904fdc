/*
 * fuzz_dataset.c - libFuzzer harness of the upload parser, sl_dataset_parse
 * (CSV, JSON and NDJSON), with its options as the query string sets them.
 *
 * Input: a first line "<format><options>", then the body.
 *   format   the first byte modulo 3: 'c' CSV, 'j' JSON, 'n' NDJSON
 *   options  one letter each: s skip_invalid=true, b base_params=1e6,
 *            t tokens_per_step=512, T/E/S data_unit=tokens/examples/steps,
 *            m max_rows 8; ':' makes the rest of the line the columns option
 *
 * Properties: the parse is all-or-nothing (rows and no error, or an error
 * and nothing to free); every kept row is in range; the error list, the
 * upload's report and the rows encode as JSON; and rows that parse, written
 * out as CSV (sl_dataset_csv) or JSON (sl_dataset_rows_json) and parsed
 * again, are the same rows in the same unit.
 */
#include "sl_fuzz.h"

#include <math.h>
#include <string.h>

#include "sl_dataset.h"
#include "sl_parse.h"

/* Too big for the stack of a fuzzing thread many times over. */
static sl_dataset_errors errs, errs2;

/* Applies one option through the query-string setter, as the handler does;
 * 0, or -1 when the setter refused it (then the upload is not parsed). */
static int set_option(sl_dataset_options *opt, const char *name, const char *text) {
    sl_error err;
    memset(&err, 0, sizeof err);
    int rc = sl_dataset_option_set(opt, name, text, &err);
    SL_FUZZ_CHECK(rc == 0 || rc == -1, "option %s: rc %d", name, rc);
    if (rc < 0) sl_fuzz_check_error(&err);
    return rc;
}

/* The options of the first line; -1 when one is refused. */
static int read_options(const char *line, size_t n, sl_dataset_options *opt, char **columns) {
    static const char *const units[] = {"tokens", "examples", "steps"};
    memset(opt, 0, sizeof *opt);
    for (size_t i = 1; i < n; i++) {
        int rc = 0;
        switch (line[i]) {
        case 's': rc = set_option(opt, "skip_invalid", "true"); break;
        case 'b': rc = set_option(opt, "base_params", "1e6"); break;
        case 't': rc = set_option(opt, "tokens_per_step", "512"); break;
        case 'T': rc = set_option(opt, "data_unit", units[0]); break;
        case 'E': rc = set_option(opt, "data_unit", units[1]); break;
        case 'S': rc = set_option(opt, "data_unit", units[2]); break;
        case 'm': opt->max_rows = 8; break;
        case ':':
            /* The option must outlive the parse: a copy, NUL-terminated. */
            *columns = strndup(line + i + 1, n - i - 1);
            if (!*columns) abort();
            return set_option(opt, "columns", *columns);
        default: break;
        }
        if (rc) return rc;
    }
    return 0;
}

static void check_row(const sl_dataset_row *r, size_t i) {
    SL_FUZZ_CHECK(sl_range_contains(&sl_range_sparsity, r->sparsity), "row %zu sparsity %.17g", i,
                  r->sparsity);
    SL_FUZZ_CHECK(sl_range_contains(&sl_range_positive, r->nonzeros), "row %zu nonzeros %.17g", i,
                  r->nonzeros);
    SL_FUZZ_CHECK(sl_range_contains(&sl_range_positive, r->data), "row %zu data %.17g", i, r->data);
    SL_FUZZ_CHECK(sl_range_contains(&sl_range_positive, r->loss), "row %zu loss %.17g", i, r->loss);
    if (r->run_id) {
        size_t n = strlen(r->run_id);
        SL_FUZZ_CHECK(n >= 1 && n <= SL_DATASET_RUN_ID_MAX, "row %zu run_id of %zu bytes", i, n);
        for (size_t k = 0; k < n; k++)
            SL_FUZZ_CHECK((unsigned char)r->run_id[k] >= 0x20 && r->run_id[k] != 0x7f,
                          "row %zu run_id has a control character", i);
    }
    if (r->pattern[0]) {
        int n = 0, m = 0;
        sl_error err;
        SL_FUZZ_CHECK(sl_parse_pattern("pattern", r->pattern, &n, &m, &err) == 0,
                      "row %zu pattern '%s'", i, r->pattern);
        SL_FUZZ_CHECK(fabs(1.0 - (double)n / (double)m - r->sparsity) <= SL_DATASET_PATTERN_TOL,
                      "row %zu pattern %s at sparsity %.17g", i, r->pattern, r->sparsity);
    }
}

static int same_row(const sl_dataset_row *a, const sl_dataset_row *b) {
    return a->sparsity == b->sparsity && a->nonzeros == b->nonzeros && a->data == b->data &&
           a->loss == b->loss && !a->run_id == !b->run_id &&
           (!a->run_id || strcmp(a->run_id, b->run_id) == 0) &&
           strcmp(a->pattern, b->pattern) == 0 && a->has_seed == b->has_seed &&
           (!a->has_seed || a->seed == b->seed);
}

/* The rows written out in format fmt parse again into the same rows. */
static void check_round_trip(const char *text, size_t len, sl_dataset_format fmt,
                             const sl_dataset *want) {
    sl_dataset_options opt;
    memset(&opt, 0, sizeof opt);
    opt.has_data_unit = 1; /* the unit is the dataset's, not in the rows */
    opt.data_unit = want->data_unit;
    sl_dataset got;
    int rc = sl_dataset_parse(text, len, fmt, &opt, &got, &errs2);
    SL_FUZZ_CHECK(rc == 0, "the rows written as %s do not parse again: row %zu, %s: %s\n%.*s",
                  sl_dataset_format_name(fmt), errs2.count ? errs2.items[0].row : 0,
                  errs2.count ? errs2.items[0].field : "", errs2.count ? errs2.items[0].reason : "",
                  (int)(len > 2000 ? 2000 : len), text);
    SL_FUZZ_CHECK(got.nrows == want->nrows, "%s: %zu rows, then %zu", sl_dataset_format_name(fmt),
                  want->nrows, got.nrows);
    SL_FUZZ_CHECK(got.data_unit == want->data_unit && got.nignored == 0 && got.nskipped == 0,
                  "%s: unit or columns changed", sl_dataset_format_name(fmt));
    for (size_t i = 0; i < got.nrows; i++)
        SL_FUZZ_CHECK(same_row(&want->rows[i], &got.rows[i]),
                      "%s: row %zu changed: %.17g %.17g %.17g %.17g, then %.17g %.17g %.17g %.17g",
                      sl_dataset_format_name(fmt), i + 1, want->rows[i].sparsity,
                      want->rows[i].nonzeros, want->rows[i].data, want->rows[i].loss,
                      got.rows[i].sparsity, got.rows[i].nonzeros, got.rows[i].data,
                      got.rows[i].loss);
    sl_dataset_free(&got);
}

static void check_parsed(const sl_dataset *ds, const sl_dataset_options *opt) {
    size_t cap = opt->max_rows ? opt->max_rows : SL_DATASET_MAX_ROWS;
    SL_FUZZ_CHECK(ds->nrows >= 1 && ds->nrows <= cap, "%zu rows", ds->nrows);
    SL_FUZZ_CHECK((unsigned)ds->data_unit < SL_UNIT_COUNT, "unit %d", ds->data_unit);
    SL_FUZZ_CHECK(opt->skip_invalid || ds->nskipped == 0, "rows skipped without skip_invalid");
    for (size_t i = 0; i < ds->nrows; i++)
        check_row(&ds->rows[i], i + 1);

    /* The answer to the upload: its report, and the rows as GET gives them. */
    json_t *answer = json_object();
    SL_FUZZ_CHECK(sl_dataset_report_json(ds, answer) == 0, "the report does not build");
    char *text = json_dumps(answer, 0);
    SL_FUZZ_CHECK(text != NULL, "the report does not encode");
    free(text);
    json_decref(answer);

    size_t len = 0;
    char *csv = sl_dataset_csv(ds->rows, ds->nrows, &len);
    SL_FUZZ_CHECK(csv != NULL, "no CSV");
    check_round_trip(csv, len, SL_DATASET_CSV, ds);
    free(csv);

    json_t *rows = sl_dataset_rows_json(ds->rows, ds->nrows);
    text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    SL_FUZZ_CHECK(text != NULL, "the rows do not encode as JSON");
    check_round_trip(text, strlen(text), SL_DATASET_JSON, ds);
    free(text);
    json_decref(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t head = nl ? (size_t)(nl - in) : size;
    const char *body = nl ? nl + 1 : in + size;
    size_t len = size - (size_t)(body - in);
    sl_dataset_format fmt = (sl_dataset_format)(data[0] % SL_DATASET_FORMAT_COUNT);

    sl_dataset_options opt;
    char *columns = NULL;
    if (read_options(in, head, &opt, &columns) != 0) {
        free(columns);
        return 0;
    }
    sl_dataset ds;
    int rc = sl_dataset_parse(body, len, fmt, &opt, &ds, &errs);
    if (rc == 0) {
        SL_FUZZ_CHECK(errs.count == 0 && errs.omitted == 0, "rows and errors at once");
        check_parsed(&ds, &opt);
        sl_dataset_free(&ds);
    } else {
        SL_FUZZ_CHECK(rc == -1, "rc %d", rc);
        SL_FUZZ_CHECK(errs.count >= 1 && errs.code > SL_ERR_NONE && errs.code < SL_ERR_COUNT,
                      "refused without a reason (%zu errors, code %d)", errs.count, errs.code);
        SL_FUZZ_CHECK(!ds.rows && !ds.nrows && !ds.ignored && !ds.skipped,
                      "a refused upload left something to free");
        json_t *j = sl_dataset_errors_json(&errs);
        char *text = j ? json_dumps(j, 0) : NULL;
        SL_FUZZ_CHECK(text != NULL, "the error list does not encode: %s", errs.items[0].reason);
        free(text);
        json_decref(j);
    }
    free(columns);
    return 0;
}
