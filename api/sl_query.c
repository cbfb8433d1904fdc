/* Decoding the multi-part query parameters of planning queries: budget,
 * cost model, patterns and spans (moved here from the server's query
 * handlers so they can be tested without HTTP). */
#include "sl_query.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sl_law_json.h"

/* name=text in range, or dflt when the parameter is absent. */
static int optional_number(const char *name, const char *text, const sl_range *range, double dflt,
                           double *out, sl_error *err) {
    if (!text) {
        *out = dflt;
        return 0;
    }
    return sl_parse_number(name, text, range, out, err);
}

int sl_query_cost_decode(const char *model, const char *prune_start, const char *prune_end,
                         sl_cost *cost, sl_error *err) {
    const double t0 = SL_COST_GMP_DEFAULT_START, t1 = SL_COST_GMP_DEFAULT_END;
    cost->model = SL_COST_DENSE;
    cost->prune_start = t0;
    cost->prune_end = t1;
    if (model && strcmp(model, "gmp") == 0)
        cost->model = SL_COST_GMP;
    else if (model && strcmp(model, "dense") != 0)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "cost_model",
                            "cost_model must be dense or gmp (got '%.40s')", model);
    if (cost->model == SL_COST_DENSE) {
        const char *stray = prune_start ? "prune_start" : prune_end ? "prune_end" : NULL;
        if (stray)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, stray,
                                "%s applies only to cost_model=gmp", stray);
        return 0;
    }
    if (optional_number("prune_start", prune_start, &sl_range_fraction, t0, &cost->prune_start,
                        err) ||
        optional_number("prune_end", prune_end, &sl_range_fraction, t1, &cost->prune_end, err))
        return -1;
    if (cost->prune_start > cost->prune_end)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "prune_start",
                            "prune_start (%g) must not be after prune_end (%g)", cost->prune_start,
                            cost->prune_end);
    return 0;
}

int sl_query_budget_decode(const char *compute, const char *data, const struct sl_law_record *rec,
                           double nonzeros, double *dense_data, int *given_compute, sl_error *err) {
    double v;
    if (compute && data)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "compute",
                            "give the budget once: compute (FLOPs) or data, not both");
    if (!compute && !data)
        return sl_error_set(err, SL_ERR_MISSING_PARAMETER, "compute",
                            "a budget is required: compute (FLOPs) or data (%s a dense model "
                            "with nonzeros parameters would see)",
                            sl_data_unit_name(rec->data_unit));
    *given_compute = compute != NULL;
    if (sl_parse_number(compute ? "compute" : "data", compute ? compute : data,
                        compute ? &sl_range_compute : &sl_range_amount, &v, err))
        return -1;
    if (compute && rec->data_unit != SL_UNIT_TOKENS)
        return sl_error_set(err, SL_ERR_UNIT_MISMATCH, "compute",
                            "law '%s' measures data in %s, so a budget in FLOPs cannot be "
                            "converted; pass data= (the %s a dense model with nonzeros "
                            "parameters would see) instead",
                            rec->name, sl_data_unit_name(rec->data_unit),
                            sl_data_unit_name(rec->data_unit));
    *dense_data = compute ? v / (6.0 * nonzeros) : v;
    if (!isfinite(*dense_data) || *dense_data <= 0)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, compute ? "compute" : "data",
                            "the budget is too small for %g non-zeros", nonzeros);
    /* The response states the budget as compute = 6 N D_dense: it must be a number. */
    if (!isfinite(6.0 * nonzeros * *dense_data))
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, compute ? "compute" : "data",
                            "the budget is too large for %g non-zeros", nonzeros);
    return 0;
}

int sl_query_patterns_decode(const char *text, double *sparsity,
                             char names[][SL_QUERY_PATTERN_NAME_MAX], size_t *count,
                             sl_error *err) {
    char item[16];
    size_t n = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        int a, b;
        if (n == SL_QUERY_MAX_PATTERNS)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "patterns",
                                "patterns takes at most %d patterns", SL_QUERY_MAX_PATTERNS);
        if (len == 0 || len >= sizeof item)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "patterns",
                                "patterns must be a comma-separated list such as 2:4,1:4");
        memcpy(item, p, len);
        item[len] = '\0';
        if (sl_parse_pattern("patterns", item, &a, &b, err)) return -1;
        sparsity[n] = 1.0 - (double)a / (double)b;
        snprintf(names[n], sizeof names[n], "%d:%d", a, b);
        /* As the number lists: a pattern listed twice (2:4 and 02:04 too)
         * is a mistake. 1:2 and 2:4 are two patterns of one sparsity. */
        for (size_t k = 0; k < n; k++)
            if (strcmp(names[k], names[n]) == 0)
                return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "patterns",
                                    "patterns lists %s twice", names[n]);
        n++;
        if (!p[len]) break;
        p += len + 1;
    }
    *count = n;
    return 0;
}

int sl_query_patterns_exclusive(const char *patterns, const char *max_sparsity, sl_error *err) {
    if (!patterns || !max_sparsity) return 0;
    return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "max_sparsity",
                        "max_sparsity bounds the search over any sparsity; with patterns= the "
                        "candidates are dense and the listed patterns only");
}

int sl_query_span_decode(const char *lo_name, const char *lo_text, const char *hi_name,
                         const char *hi_text, const sl_range *range, double dlo, double dhi,
                         double *lo, double *hi, sl_error *err) {
    dlo = fmin(fmax(dlo, range->lo), range->hi);
    dhi = fmin(fmax(dhi, range->lo), range->hi);
    if (optional_number(lo_name, lo_text, range, dlo, lo, err) ||
        optional_number(hi_name, hi_text, range, dhi, hi, err))
        return -1;
    if (!(*lo < *hi))
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, lo_name, "%s (%g) must be below %s (%g)",
                            lo_name, *lo, hi_name, *hi);
    return 0;
}

int sl_query_pattern_decode(const char *text, double *sparsity,
                            char name[SL_QUERY_PATTERN_NAME_MAX], sl_error *err) {
    int a, b;
    if (strcmp(text, "dense") == 0) {
        *sparsity = 0;
        snprintf(name, SL_QUERY_PATTERN_NAME_MAX, "dense");
        return 0;
    }
    if (sl_parse_pattern("pattern", text, &a, &b, err)) return -1;
    *sparsity = 1.0 - (double)a / (double)b;
    snprintf(name, SL_QUERY_PATTERN_NAME_MAX, "%d:%d", a, b);
    return 0;
}

int sl_query_strategy_decode(const char *strategy, const char *pretrain_compute,
                             sl_plan_strategy *out, double *pretrain, sl_error *err) {
    *out = SL_PLAN_SCRATCH;
    *pretrain = (double)NAN;
    if (strategy && strcmp(strategy, "pretrained") == 0)
        *out = SL_PLAN_PRETRAINED;
    else if (strategy && strcmp(strategy, "scratch") != 0)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "strategy",
                            "strategy must be scratch or pretrained (got '%.40s')", strategy);
    if (!pretrain_compute) return 0;
    if (*out != SL_PLAN_PRETRAINED)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "pretrain_compute",
                            "pretrain_compute applies only to strategy=pretrained");
    return sl_parse_number("pretrain_compute", pretrain_compute, &sl_range_compute, pretrain, err);
}

int sl_query_inference_cost_decode(const char *text, sl_inference_cost *out, sl_error *err) {
    *out = SL_INFER_NONZEROS;
    if (!text || strcmp(text, "nonzeros") == 0) return 0;
    if (strcmp(text, "total") == 0) {
        *out = SL_INFER_TOTAL;
        return 0;
    }
    return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "inference_cost",
                        "inference_cost must be nonzeros or total (got '%.40s')", text);
}

/* ---- hardware ---- */

/* Published dense BF16 tensor-core peaks, without structured sparsity
 * (SXM parts): docs/planning.md. */
static const struct {
    const char *name;
    double peak;
} hardware_profiles[] = {{"a100", 312e12}, {"h100", 989e12}, {"h200", 989e12}};

static const sl_range range_peak = {0.0, 1e20, 1, 0, "in (0, 1e20] FLOP/s"};
static const sl_range range_mfu = {0.0, 1.0, 1, 0, "in (0, 1]"};
static const sl_range range_price = {0.0, 1e9, 0, 0, "in [0, 1e9]"};
static const sl_range range_speedup = {0.0, 1000.0, 1, 0, "in (0, 1000]"};

static int speedups_decode(const char *text, sl_hardware *hw, sl_error *err) {
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ","), n = hw->nspeedups;
        char item[48];
        if (n == SL_QUERY_MAX_SPEEDUPS)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "sparse_speedup",
                                "sparse_speedup takes at most %d patterns", SL_QUERY_MAX_SPEEDUPS);
        const char *eq = memchr(p, '=', len);
        if (len >= sizeof item || !eq)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "sparse_speedup",
                                "sparse_speedup must be a list of PATTERN=FACTOR such as "
                                "2:4=1.5,unstructured=1 (PATTERN n:m or unstructured)");
        memcpy(item, p, (size_t)(eq - p));
        item[eq - p] = '\0';
        if (strcmp(item, "unstructured") == 0) {
            snprintf(hw->speedup_names[n], SL_QUERY_SPEEDUP_NAME, "unstructured");
        } else {
            int a, b;
            if (sl_parse_pattern("sparse_speedup", item, &a, &b, err)) return -1;
            snprintf(hw->speedup_names[n], SL_QUERY_SPEEDUP_NAME, "%d:%d", a, b);
        }
        for (size_t k = 0; k < n; k++)
            if (strcmp(hw->speedup_names[k], hw->speedup_names[n]) == 0)
                return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "sparse_speedup",
                                    "sparse_speedup lists %s twice", hw->speedup_names[n]);
        size_t vlen = len - (size_t)(eq - p) - 1;
        memcpy(item, eq + 1, vlen);
        item[vlen] = '\0';
        if (sl_parse_number("sparse_speedup", item, &range_speedup, &hw->speedups[n], err))
            return -1;
        hw->nspeedups++;
        if (!p[len]) break;
        p += len + 1;
    }
    return 0;
}

int sl_query_hardware_decode(const char *hardware, const char *peak_flops, const char *mfu,
                             const char *price_per_hour, const char *sparse_speedup,
                             sl_hardware *hw, sl_error *err) {
    memset(hw, 0, sizeof *hw);
    hw->price_per_hour = (double)NAN;
    if (!hardware && !peak_flops) {
        const char *stray = mfu              ? "mfu"
                            : price_per_hour ? "price_per_hour"
                            : sparse_speedup ? "sparse_speedup"
                                             : NULL;
        if (stray)
            return sl_error_set(
                err, SL_ERR_INVALID_PARAMETER, stray,
                "%s applies with hardware= (a100, h100, h200) or peak_flops=", stray);
        return 0;
    }
    if (hardware && peak_flops)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "peak_flops",
                            "give hardware= (a profile) or peak_flops=, not both");
    hw->given = 1;
    if (hardware) {
        for (size_t i = 0; i < sizeof hardware_profiles / sizeof hardware_profiles[0]; i++)
            if (strcmp(hardware, hardware_profiles[i].name) == 0) {
                hw->profile = hardware_profiles[i].name;
                hw->peak_flops = hardware_profiles[i].peak;
            }
        if (!hw->profile)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "hardware",
                                "hardware must be a100, h100 or h200 (got '%.40s'); or give "
                                "peak_flops= in FLOP/s",
                                hardware);
    } else if (sl_parse_number("peak_flops", peak_flops, &range_peak, &hw->peak_flops, err)) {
        return -1;
    }
    hw->mfu_default = mfu == NULL;
    if (optional_number("mfu", mfu, &range_mfu, SL_HARDWARE_DEFAULT_MFU, &hw->mfu, err) ||
        optional_number("price_per_hour", price_per_hour, &range_price, (double)NAN,
                        &hw->price_per_hour, err))
        return -1;
    return sparse_speedup ? speedups_decode(sparse_speedup, hw, err) : 0;
}

double sl_hardware_speedup(const sl_hardware *hw, const char *pattern) {
    if (strcmp(pattern, "dense") == 0) return 1;
    for (size_t i = 0; i < hw->nspeedups; i++)
        if (strcmp(hw->speedup_names[i], pattern) == 0) return hw->speedups[i];
    return 1;
}
