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
#include "sl_plan.h"  /* sl_plan_strategy */

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

/* patterns= and max_sparsity= are exclusive (the candidates of patterns= are
 * dense and the listed patterns only): 0 when not both were given, else the
 * 400 naming max_sparsity. */
int sl_query_patterns_exclusive(const char *patterns, const char *max_sparsity, sl_error *err);

/* A [lo, hi] pair of optional parameters lo_name=lo_text, hi_name=hi_text
 * in range with lo < hi; an absent one takes its default dlo or dhi,
 * clamped into the range (defaults are derived from other inputs). */
int sl_query_span_decode(const char *lo_name, const char *lo_text, const char *hi_name,
                         const char *hi_text, const sl_range *range, double dlo, double dhi,
                         double *lo, double *hi, sl_error *err);

/* pattern=n:m or pattern=dense: its sparsity (1 - n/m, 0 for dense) and its
 * name ("n:m" or "dense"). */
int sl_query_pattern_decode(const char *text, double *sparsity,
                            char name[SL_QUERY_PATTERN_NAME_MAX], sl_error *err);

/* strategy (scratch | pretrained; scratch when absent) and pretrain_compute
 * (the dense pretraining compute to count, in the law's compute unit;
 * pretrained only; NaN, i.e. sunk, when absent). */
int sl_query_strategy_decode(const char *strategy, const char *pretrain_compute,
                             sl_plan_strategy *out, double *pretrain, sl_error *err);

/* inference_cost (nonzeros | total; nonzeros when absent). */
int sl_query_inference_cost_decode(const char *text, sl_inference_cost *out, sl_error *err);

/* ---- hardware and money ---- */

#define SL_QUERY_MAX_SPEEDUPS   8
#define SL_QUERY_SPEEDUP_NAME   16 /* "unstructured" or "n:m", with its NUL */
#define SL_HARDWARE_DEFAULT_MFU 0.4

/* What turns compute into GPU-hours and money. given is 0 when the client
 * asked for neither hardware= nor peak_flops=; then nothing else is set. */
typedef struct sl_hardware {
    int given;
    const char *profile;   /* "a100", "h100", "h200", or NULL for peak_flops= */
    double peak_flops;     /* FLOP/s per GPU */
    double mfu;            /* fraction of peak reached */
    int mfu_default;       /* mfu was not given: SL_HARDWARE_DEFAULT_MFU */
    double price_per_hour; /* per GPU-hour; NaN when not given */
    size_t nspeedups;
    char speedup_names[SL_QUERY_MAX_SPEEDUPS][SL_QUERY_SPEEDUP_NAME];
    double speedups[SL_QUERY_MAX_SPEEDUPS];
} sl_hardware;

/* hardware (a100 | h100 | h200: published dense BF16 peaks) or peak_flops,
 * with mfu, price_per_hour and sparse_speedup (PATTERN=FACTOR,... with
 * PATTERN n:m or unstructured), which need one of the two. */
int sl_query_hardware_decode(const char *hardware, const char *peak_flops, const char *mfu,
                             const char *price_per_hour, const char *sparse_speedup,
                             sl_hardware *hw, sl_error *err);

/* The kernel speedup for a model of pattern ("dense", "unstructured" or
 * "n:m"): 1 for dense and for patterns the client did not list. */
double sl_hardware_speedup(const sl_hardware *hw, const char *pattern);

#endif
