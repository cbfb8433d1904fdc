#include "sl_table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_law_json.h"

void sl_table_init(sl_table *t, const char *label_col, const char *const *cols) {
    memset(t, 0, sizeof *t);
    t->label_col = label_col;
    while (cols[t->ncols] && t->ncols < SL_TABLE_MAX_COLS) {
        t->cols[t->ncols] = cols[t->ncols];
        t->ncols++;
    }
}

void sl_table_add(sl_table *t, const char *label, const double *row) {
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->vals = realloc(t->vals, t->cap * t->ncols * sizeof *t->vals);
        t->labels = realloc(t->labels, t->cap * sizeof *t->labels);
        if (!t->vals || !t->labels) abort();
    }
    memcpy(t->vals + t->nrows * t->ncols, row, t->ncols * sizeof *row);
    t->labels[t->nrows++] = label;
}

void sl_table_free(sl_table *t) {
    free(t->vals);
    free(t->labels);
    memset(t, 0, sizeof *t);
}

char *sl_table_csv(const sl_table *t, size_t *len) {
    size_t cap = 64 + (t->nrows + 1) * (t->ncols + 1) * 26, n = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    if (t->label_col) n += (size_t)snprintf(buf + n, cap - n, "%s,", t->label_col);
    for (size_t c = 0; c < t->ncols; c++)
        n +=
            (size_t)snprintf(buf + n, cap - n, "%s%s", t->cols[c], c + 1 < t->ncols ? "," : "\r\n");
    for (size_t r = 0; r < t->nrows; r++) {
        if (t->label_col) n += (size_t)snprintf(buf + n, cap - n, "%s,", t->labels[r]);
        for (size_t c = 0; c < t->ncols; c++) {
            double v = t->vals[r * t->ncols + c];
            const char *sep = c + 1 < t->ncols ? "," : "\r\n";
            /* %.17g round-trips every double; labels are static identifiers. */
            n += isfinite(v) ? (size_t)snprintf(buf + n, cap - n, "%.17g%s", v, sep)
                             : (size_t)snprintf(buf + n, cap - n, "%s", sep);
        }
    }
    *len = n;
    return buf;
}

const char *sl_table_unit(const json_t *units, const char *col) {
    size_t n = strlen(col);
    char base[64];
    if (n <= 3 || n >= sizeof base ||
        (strcmp(col + n - 3, "_lo") != 0 && strcmp(col + n - 3, "_hi") != 0))
        return json_string_value(json_object_get(units, col));
    memcpy(base, col, n - 3);
    base[n - 3] = '\0';
    return json_string_value(json_object_get(units, base));
}

static int same_group(const sl_table *t, size_t a, size_t b, size_t group_col) {
    if (t->label_col && strcmp(t->labels[a], t->labels[b]) != 0) return 0;
    if (group_col >= t->ncols) return 1;
    double x = t->vals[a * t->ncols + group_col], y = t->vals[b * t->ncols + group_col];
    return x == y || (isnan(x) && isnan(y));
}

json_t *sl_table_series(const sl_table *t, size_t group_col) {
    json_t *series = json_array();
    size_t start = 0;
    while (start < t->nrows) {
        size_t end = start + 1;
        while (end < t->nrows && same_group(t, start, end, group_col))
            end++;
        json_t *s = json_object();
        if (t->label_col) json_object_set_new(s, t->label_col, json_string(t->labels[start]));
        for (size_t c = 0; c < t->ncols; c++) {
            if (c == group_col) {
                json_object_set_new(s, t->cols[c], sl_json_number(t->vals[start * t->ncols + c]));
                continue;
            }
            json_t *arr = json_array();
            for (size_t r = start; r < end; r++)
                json_array_append_new(arr, sl_json_number(t->vals[r * t->ncols + c]));
            json_object_set_new(s, t->cols[c], arr);
        }
        json_array_append_new(series, s);
        start = end;
    }
    return series;
}
