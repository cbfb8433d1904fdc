/*
 * sl_query.h - the query-string parameters of planning queries that take
 * more than one number: the budget (compute= or data=), the cost model,
 * n:m pattern lists and [lo, hi] spans. Each decoder takes the texts the
 * handler read (NULL for a parameter not given, "" for one given empty)
 * and, like sl_parse, names the parameter in every error.
 */
#ifndef SL_QUERY_H
#define SL_QUERY_H

#include <stddef.h>

#include "sl_errors.h"
#include "sl_law.h"   /* sl_cost */
#include "sl_parse.h" /* sl_range */

struct sl_law_record;

#define SL_QUERY_MAX_PATTERNS     8
#define SL_QUERY_PATTERN_NAME_MAX 8 /* bytes of "n:m" with its NUL */

/* cost_model (dense | gmp; dense when absent) with prune_start and
 * prune_end (fractions of the run, gmp only; SL_COST_GMP_DEFAULT_* when
 * absent, start not after end) into cost. */
int sl_query_cost_decode(const char *model, const char *prune_start, const char *prune_end,
                         sl_cost *cost, sl_error *err);

/* The budget of rec's law as D_dense, the data a dense model with nonzeros
 * parameters would see, from exactly one of compute (FLOPs, = 6 N D_dense;
 * laws in tokens only) and data (the law's unit). given_compute says which
 * one the client sent. */
int sl_query_budget_decode(const char *compute, const char *data, const struct sl_law_record *rec,
                           double nonzeros, double *dense_data, int *given_compute, sl_error *err);

/* patterns=2:4,1:4: 1..SL_QUERY_MAX_PATTERNS distinct n:m patterns into
 * their sparsities 1 - n/m and their names "n:m" (field "patterns"). */
int sl_query_patterns_decode(const char *text, double *sparsity,
                             char names[][SL_QUERY_PATTERN_NAME_MAX], size_t *count, sl_error *err);

/* A [lo, hi] pair of optional parameters lo_name=lo_text, hi_name=hi_text
 * in range with lo < hi; an absent one takes its default dlo or dhi,
 * clamped into the range (defaults are derived from other inputs). */
int sl_query_span_decode(const char *lo_name, const char *lo_text, const char *hi_name,
                         const char *hi_text, const sl_range *range, double dlo, double dhi,
                         double *lo, double *hi, sl_error *err);

#endif
