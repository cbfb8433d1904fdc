/*
 * sl_parse.h - strict parsing of the numbers and names clients send in query
 * strings. Every failure names the parameter and says what was expected.
 */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stddef.h>

#include "sl_errors.h"

/* An interval a parameter must lie in; `what` completes "must be a finite
 * number ...", e.g. "in [0, 1)" or "> 0". */
typedef struct sl_range {
    double lo, hi;
    int lo_open, hi_open;
    const char *what;
} sl_range;

extern const sl_range sl_range_sparsity; /* [0, 1) */
extern const sl_range sl_range_positive; /* (0, inf), finite */
extern const sl_range sl_range_fraction; /* [0, 1] */
/* Parameter counts and amounts of data: bounded so that products such as
 * 6 N D stay finite. */
extern const sl_range sl_range_amount;  /* [1, 1e30] */
extern const sl_range sl_range_compute; /* [1, 1e45], FLOPs */

/* 1 when v is finite and lies in range, else 0: the one range check behind
 * query parameters, request bodies and upload cells. */
int sl_range_contains(const sl_range *range, double v);

/* A finite decimal number of at most 63 characters, scientific notation
 * allowed ("1e9", and "1e 9": a form-decoded "1e+9"); no other spaces, hex,
 * inf or nan. 0 on success, -1 otherwise. */
int sl_parse_double(const char *text, double *out);

/* `name`=`text` as a number in range. */
int sl_parse_number(const char *name, const char *text, const sl_range *range, double *out,
                    sl_error *err);

/* An integer in [lo, hi]. */
int sl_parse_int(const char *name, const char *text, long lo, long hi, long *out, sl_error *err);

/* A comma-separated list of 1..max distinct numbers in range. */
int sl_parse_number_list(const char *name, const char *text, const sl_range *range, double *out,
                         size_t max, size_t *count, sl_error *err);

/* An n:m pattern with 1 <= n < m <= 64 into its sparsity 1 - n/m. */
int sl_parse_pattern(const char *name, const char *text, int *n, int *m, sl_error *err);

/* A law name: 1..64 of [a-z0-9._-], starting with a letter or digit. */
int sl_law_name_valid(const char *name);
/* The rule of sl_law_name_valid, as the error messages state it. */
#define SL_LAW_NAME_RULE "1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"

#endif
