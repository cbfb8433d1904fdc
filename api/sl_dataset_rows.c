/* sl_dataset_rows.c - freeing and trimming a dataset's rows (sl_dataset_rows.h). */
#include "sl_dataset_rows.h"

#include <stdlib.h>
#include <string.h>

void sl_dataset_rows_free(sl_dataset_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(rows[i].run_id);
    free(rows);
}

void sl_dataset_skipped_free(sl_dataset_skip *skipped, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(skipped[i].field); /* reason shares the allocation */
    free(skipped);
}

void sl_dataset_free(sl_dataset *ds) {
    if (!ds) return;
    sl_dataset_rows_free(ds->rows, ds->nrows);
    for (size_t i = 0; i < ds->nignored; i++)
        free(ds->ignored[i]);
    free(ds->ignored);
    sl_dataset_skipped_free(ds->skipped, ds->nskipped);
    memset(ds, 0, sizeof *ds);
}

void sl_dataset_truncate(sl_dataset *ds, size_t nrows) {
    for (size_t i = nrows; i < ds->nrows; i++)
        free(ds->rows[i].run_id);
    if (nrows < ds->nrows) ds->nrows = nrows;
}
