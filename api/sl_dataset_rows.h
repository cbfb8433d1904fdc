/*
 * sl_dataset_rows.h - a sweep's rows as the service keeps them: the canonical
 * sparsity, nonzeros, data, loss (+ run_id, pattern, seed). No JSON and no
 * parsing, so the store can hold datasets without the upload codec
 * (sl_dataset.h), which makes them.
 */
#ifndef SL_DATASET_ROWS_H
#define SL_DATASET_ROWS_H

#include <stddef.h>

#include "sl_law_record.h" /* sl_data_unit */

#define SL_DATASET_RUN_ID_MAX 64 /* bytes of UTF-8, control characters refused */

typedef struct sl_dataset_row {
    double sparsity; /* in [0, 1) */
    double nonzeros; /* > 0, raw count of non-zero parameters */
    double data;     /* > 0, in the dataset's data_unit */
    double loss;     /* > 0 */
    char *run_id;    /* NULL when absent; else 1..SL_DATASET_RUN_ID_MAX bytes, malloc'd */
    char pattern[8]; /* "" when absent; else normalised "n:m" with 1 <= n < m <= 64 */
    int has_seed;
    long long seed;
} sl_dataset_row;

/* A row left out by skip_invalid: its first problem, as an error would say it. */
typedef struct sl_dataset_skip {
    size_t row;   /* 1-based, numbered as sl_dataset_error.row */
    char *field;  /* the column as the client wrote it, "" when none; malloc'd */
    char *reason; /* inside field's allocation (freed with it) */
} sl_dataset_skip;

typedef struct sl_dataset {
    sl_dataset_row *rows;
    size_t nrows;
    sl_data_unit data_unit;
    /* What the upload said besides its rows (empty for a dataset read back):
     * the columns no variable came from, as written, in the upload's order,
     * and the rows skip_invalid left out. */
    char **ignored;
    size_t nignored;
    sl_dataset_skip *skipped;
    size_t nskipped;
} sl_dataset;

void sl_dataset_free(sl_dataset *ds);
/* Keeps only the first nrows rows (no-op when it has fewer). */
void sl_dataset_truncate(sl_dataset *ds, size_t nrows);

/* Free n rows, or n skipped rows, and the array that holds them. */
void sl_dataset_rows_free(sl_dataset_row *rows, size_t n);
void sl_dataset_skipped_free(sl_dataset_skip *skipped, size_t n);

#endif
