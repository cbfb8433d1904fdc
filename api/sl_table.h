/*
 * sl_table.h - the rows behind a curve or contour response, written either as
 * CSV (one row per point, header of field names) or as JSON series (rows
 * grouped by one column, each other column an array).
 */
#ifndef SL_TABLE_H
#define SL_TABLE_H

#include <jansson.h>
#include <stddef.h>

#define SL_TABLE_MAX_COLS 16

typedef struct sl_table {
    const char *label_col; /* optional text column written first; NULL if none */
    const char *cols[SL_TABLE_MAX_COLS];
    size_t ncols;
    const char **labels; /* per row, static strings */
    double *vals;        /* nrows x ncols; NaN is an empty cell / null */
    size_t nrows, cap;
} sl_table;

/* cols: NULL-terminated numeric column names. */
void sl_table_init(sl_table *t, const char *label_col, const char *const *cols);
void sl_table_add(sl_table *t, const char *label, const double *row);
void sl_table_free(sl_table *t);

/* Malloc'd CSV text. */
char *sl_table_csv(const sl_table *t, size_t *len);

/* The unit of column col in an answer's units object: its own, or x's for
 * an x_lo or x_hi column (an interval's bounds); NULL when units has none. */
const char *sl_table_unit(const json_t *units, const char *col);

/* Consecutive rows with the same label and the same value in column
 * group_col (SIZE_MAX: label alone) form one series: {label, group: value,
 * other columns: [...]}. */
json_t *sl_table_series(const sl_table *t, size_t group_col);

#endif
