/*
 * sl_test_sweeps.h - the two published sweeps of data/ as fit rows, for the
 * fit tests: ViT (pandas column-dict JSON) and T5 (CSV). Each loader returns
 * the row count, 0 when the file is absent.
 */
#ifndef SL_TEST_SWEEPS_H
#define SL_TEST_SWEEPS_H

#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "sl_fit.h"
#include "sl_test.h"

/* ---- sweep files ---- */

/* ViT: pandas column-dict JSON {"column": {"row": value}}; rows are the
 * keys of "scale", in file order. Returns the row count, 0 if absent. */
static inline size_t load_vit(sl_fit_row *rows, size_t max) {
    json_error_t err;
    json_t *root = json_load_file(sl_test_data_path("vit-jft-sweep.json"), 0, &err);
    if (!root) return 0;
    json_t *scale = json_object_get(root, "scale"), *sp = json_object_get(root, "sparsity");
    json_t *ex = json_object_get(root, "total_examples"), *vl = json_object_get(root, "val-loss");
    cr_assert(json_is_object(scale) && json_is_object(sp) && json_is_object(ex) &&
                  json_is_object(vl),
              "vit-jft-sweep.json lacks a column");
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(scale, key, v) {
        cr_assert(n < max);
        json_t *s = json_object_get(sp, key), *d = json_object_get(ex, key);
        json_t *l = json_object_get(vl, key);
        cr_assert(json_is_number(v) && json_is_number(s) && json_is_number(d) && json_is_number(l),
                  "row %s incomplete", key);
        double sparsity = json_number_value(s);
        rows[n].sparsity = sparsity;
        rows[n].nonzeros = SL_TEST_VIT_BASE * json_number_value(v) * (1 - sparsity);
        rows[n].data = json_number_value(d);
        rows[n].loss = json_number_value(l);
        n++;
    }
    json_decref(root);
    return n;
}

/* T5: CSV with a header (unnamed index, sparsity, scale, val-loss, steps);
 * columns are found by name. */
static inline int column_of(char *header, const char *name) {
    int col = 0;
    for (char *save = NULL, *tok = strtok_r(header, ",\r\n", &save); tok;
         tok = strtok_r(NULL, ",\r\n", &save), col++)
        if (strcmp(tok, name) == 0) return col;
    return -1;
}

static inline size_t load_t5(sl_fit_row *rows, size_t max) {
    FILE *f = fopen(sl_test_data_path("t5-c4-sweep.csv"), "r");
    if (!f) return 0;
    char line[1024], hdr[1024];
    cr_assert(fgets(line, sizeof line, f), "empty t5-c4-sweep.csv");
    /* The index column's name is empty: count it by the leading comma. */
    int shift = line[0] == ',' ? 1 : 0;
    int cs, cscale, closs, csteps;
    strcpy(hdr, line);
    cs = column_of(hdr, "sparsity");
    strcpy(hdr, line);
    cscale = column_of(hdr, "scale");
    strcpy(hdr, line);
    closs = column_of(hdr, "val-loss");
    strcpy(hdr, line);
    csteps = column_of(hdr, "steps");
    cr_assert(cs >= 0 && cscale >= 0 && closs >= 0 && csteps >= 0, "t5 header: %s", line);
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '\n' || line[0] == '\r') continue;
        double v[8];
        int nv = 0;
        char *p = line;
        for (;;) {
            char *end;
            cr_assert(nv < 8);
            v[nv++] = strtod(p, &end);
            cr_assert(end != p, "bad number in t5 row %zu: %s", n, line);
            if (*end != ',') break;
            p = end + 1;
        }
        cr_assert(nv == 4 + shift, "t5 row %zu has %d fields", n, nv);
        cr_assert(n < max);
        double s = v[cs + shift], scale = v[cscale + shift];
        rows[n].sparsity = s;
        rows[n].nonzeros = SL_TEST_T5_BASE * scale * (1 - s);
        rows[n].data = v[csteps + shift] * SL_TEST_T5_TOKENS_PER_STEP;
        rows[n].loss = v[closs + shift];
        n++;
    }
    fclose(f);
    return n;
}

#endif
