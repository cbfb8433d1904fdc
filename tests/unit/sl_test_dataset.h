/*
 * sl_test_dataset.h - what the upload tests share: the error list of the last
 * parse and its dump, parsing that must succeed, finding one error, reading a
 * file whole. Header only: each test binary runs each test in a process of
 * its own, so the one error list is not shared between tests.
 */
#ifndef SL_TEST_DATASET_H
#define SL_TEST_DATASET_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_dataset.h"

static sl_dataset_errors errs; /* big: not on the stack */

/* The error list as one line, for assertion messages. */
static inline const char *dump(void) {
    static char buf[8192];
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < errs.count && n < sizeof buf - 400; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "[row %zu, field '%s': %s] ",
                              errs.items[i].row, errs.items[i].field, errs.items[i].reason);
    return buf;
}

static inline int parse_text(const char *body, sl_dataset_format fmt, const sl_dataset_options *opt,
                             sl_dataset *ds) {
    return sl_dataset_parse(body, strlen(body), fmt, opt, ds, &errs);
}

static inline void parse_ok(const char *body, sl_dataset_format fmt, const sl_dataset_options *opt,
                            sl_dataset *ds, size_t nrows) {
    int rc = parse_text(body, fmt, opt, ds);
    cr_assert_eq(rc, 0, "rejected: %s", dump());
    cr_assert_eq(errs.count, 0);
    cr_assert_eq(errs.code, SL_ERR_NONE);
    cr_assert_eq(ds->nrows, nrows, "%zu rows, expected %zu", ds->nrows, nrows);
}

static inline const sl_dataset_error *find_err(size_t row, const char *field) {
    for (size_t i = 0; i < errs.count; i++)
        if (errs.items[i].row == row && strcmp(errs.items[i].field, field) == 0)
            return &errs.items[i];
    return NULL;
}

/* The whole file at path; a missing or empty file fails the test. */
static inline char *slurp_path(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0, "%s is empty", path);
    rewind(f);
    char *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

#endif
