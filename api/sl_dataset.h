/*
 * sl_dataset.h - sweep uploads (POST /v1/datasets, .../rows): CSV, JSON and
 * NDJSON bodies into rows of the law's variables, and those rows back out as
 * CSV or JSON. Pure C + jansson: no I/O, no HTTP, no storage.
 *
 * An upload is all-or-nothing by default. sl_dataset_parse either returns
 * every row or none, and then a list of {row, field, reason} naming each
 * problem (up to SL_DATASET_MAX_ERRORS of them, with a count of the rest).
 * With the skip_invalid option, rows whose values are bad (a crashed run's
 * empty or NaN loss, a state other than finished) are left out and listed
 * instead, each with its first problem; problems of the upload as a whole
 * (header, options, malformed records) still refuse it.
 *
 * Canonical columns: sparsity, nonzeros, data, loss; optional run_id,
 * pattern, seed, state. The aliases and conversions accepted besides them
 * are the table sl_dataset_columns (openapi.json states the same ones); a
 * name may also carry one of the prefixes sl_dataset_column_prefixes that
 * W&B and MLflow exports write (config.sparsity, metrics.val_loss). Any
 * other column is ignored and listed. Each of the four variables must come
 * from exactly one column; the columns option names it when the upload's
 * own names do not (loss:my_loss).
 */
#ifndef SL_DATASET_H
#define SL_DATASET_H

#include <jansson.h>
#include <stddef.h>

#include "sl_dataset_rows.h"
#include "sl_errors.h"
#include "sl_law_record.h" /* sl_data_unit */

#define SL_DATASET_MAX_ROWS    1000000 /* default cap on the rows of one upload */
#define SL_DATASET_MAX_ERRORS  100     /* errors listed; the rest are counted */
#define SL_DATASET_PATTERN_TOL 1e-9    /* |1 - n/m - sparsity| allowed for a pattern */

typedef enum sl_dataset_format {
    SL_DATASET_CSV = 0, /* RFC 4180, header required, CRLF or LF */
    SL_DATASET_JSON,    /* [{row}, ...] or pandas' {"column": {"index": value}} */
    SL_DATASET_NDJSON,  /* one row object per line; blank lines ignored */
    SL_DATASET_FORMAT_COUNT
} sl_dataset_format;

/* "csv", "json", "ndjson". */
const char *sl_dataset_format_name(sl_dataset_format fmt);
/* The inverse, e.g. for ?format=; -1 if unknown. */
int sl_dataset_format_parse(const char *text, sl_dataset_format *out);

/* Media types accepted for uploads, for openapi.json and the 415 message. */
typedef struct sl_dataset_media_type {
    const char *type;
    sl_dataset_format format;
} sl_dataset_media_type;
extern const sl_dataset_media_type sl_dataset_media_types[];
extern const size_t sl_dataset_media_type_count;

/* Picks the format from a Content-Type value such as "text/csv; charset=utf-8"
 * (type case-insensitive; a charset other than UTF-8 or US-ASCII is refused).
 * 0, or -1 with err = unsupported_media_type (415), field "Content-Type". */
int sl_dataset_format_from_content_type(const char *content_type, sl_dataset_format *fmt,
                                        sl_error *err);

/* Query options of an upload. Zero-initialise ({0}) for "none given". */
typedef struct sl_dataset_options {
    int has_base_params;
    double base_params; /* parameters of the scale = 1 model: nonzeros of a scale column */
    int has_tokens_per_step;
    double tokens_per_step; /* turns a steps column into tokens */
    int has_data_unit;
    sl_data_unit data_unit; /* unit of a `data` column (default tokens); else a check */
    /* "target:column,...": column gives what the column named target would
     * (loss:my_loss, steps:global_step); other columns that would give the
     * same variable are then ignored. Not copied: it must outlive the parse. */
    const char *columns;
    int skip_invalid; /* leave out rows with bad values, list them in sl_dataset.skipped */
    size_t max_rows;  /* 0: SL_DATASET_MAX_ROWS */
} sl_dataset_options;

/* Sets option `name` from its query-string text. 0 when set; 1 when `name` is
 * not an upload option (opt untouched: the caller decides whether it is
 * another parameter or unknown); -1 with err (invalid_parameter) when the
 * value is not valid for it. */
int sl_dataset_option_set(sl_dataset_options *opt, const char *name, const char *text,
                          sl_error *err);

/* The names of the upload options, in the order sl_dataset_option_set
 * knows them. openapi.json documents each (a unit test checks it). */
extern const char *const sl_dataset_option_names[];
extern const size_t sl_dataset_option_count;

/* Every column name an upload may use. `gives` is the canonical field it
 * fills (equal to name for a canonical column; NULL for a column that is
 * ignored), `option` the query option it needs or honours (NULL if none).
 * sl_dataset_parse follows this table; openapi.json names every column
 * (a unit test checks it). */
typedef struct sl_dataset_column {
    const char *name;
    const char *gives;
    const char *option;
} sl_dataset_column;
extern const sl_dataset_column sl_dataset_columns[];
extern const size_t sl_dataset_column_count;

/* The entry for a column name, or NULL. */
const sl_dataset_column *sl_dataset_column_find(const char *name);

/* Prefixes a column name may carry before a name of sl_dataset_columns that
 * gives a variable: "params.", "config.", "metrics.", "summary.". */
extern const char *const sl_dataset_column_prefixes[];
extern const size_t sl_dataset_column_prefix_count;

typedef struct sl_dataset_error {
    /* 1-based data row: CSV records after the header (blank lines skipped),
     * JSON array elements, column-dict rows in index order, NDJSON non-blank
     * lines. 0: the upload as a whole (header, options, body). */
    size_t row;
    char field[64]; /* the column or option as the client wrote it; "" when none */
    char reason[224];
} sl_dataset_error;

typedef struct sl_dataset_errors {
    sl_err_code code; /* fixes the status: the gravest class met (see sl_dataset.c) */
    size_t count;     /* items listed, <= SL_DATASET_MAX_ERRORS */
    size_t omitted;   /* further errors found but not listed */
    sl_dataset_error items[SL_DATASET_MAX_ERRORS];
} sl_dataset_errors;

/* Parses an upload. body need not be NUL-terminated. opt may be NULL (no
 * options). On success 0: out holds every row (every good row with
 * skip_invalid, which refuses an upload with none), the data unit, the
 * ignored columns and the skipped rows; errs is empty. On any problem -1:
 * out is empty (nothing to free) and errs lists the problems. errs must not
 * be NULL. */
int sl_dataset_parse(const char *body, size_t len, sl_dataset_format fmt,
                     const sl_dataset_options *opt, sl_dataset *out, sl_dataset_errors *errs);

/* {"error": {"code", "message", "field"? (when one error), "errors": [{row
 * (null for 0), field (null for ""), reason}], "omitted"?: n}}. */
json_t *sl_dataset_errors_json(const sl_dataset_errors *errs);

/* Adds "ignored_columns": [name, ...] and "skipped": [{row, field (null
 * for ""), reason}] (the shape of the error list's items) to obj, the
 * answer to an upload. 0, or -1 when out of memory. */
int sl_dataset_report_json(const sl_dataset *ds, json_t *obj);

/* The writers, in sl_dataset_write.c. Rows as CSV with the canonical header
 * sparsity,nonzeros,data,loss,run_id,pattern,seed (CRLF, RFC 4180 quoting,
 * empty cells for absent optional values, numbers that round-trip).
 * Malloc'd, NUL-terminated; NULL only when out of memory. */
char *sl_dataset_csv(const sl_dataset_row *rows, size_t nrows, size_t *len);
/* The same rows appended to b, after the header line when header is set: a
 * long export written page by page. 0, or -1 when b is full or memory out. */
struct sl_buf;
int sl_dataset_csv_add(struct sl_buf *b, const sl_dataset_row *rows, size_t nrows, int header);

/* One row as {sparsity, nonzeros, data, loss, run_id?, pattern?, seed?}. */
json_t *sl_dataset_row_json(const sl_dataset_row *row);
/* An array of those. */
json_t *sl_dataset_rows_json(const sl_dataset_row *rows, size_t nrows);

#endif
