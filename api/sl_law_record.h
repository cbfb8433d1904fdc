/*
 * sl_law_record.h - a law as the service keeps it: coefficients, data unit,
 * source, version, and the built-in laws. No JSON, so the store and the
 * dataset reader can use them without a codec.
 */
#ifndef SL_LAW_RECORD_H
#define SL_LAW_RECORD_H

#include "sl_law.h"

typedef enum sl_data_unit {
    SL_UNIT_TOKENS = 0,
    SL_UNIT_EXAMPLES,
    SL_UNIT_STEPS,
    SL_UNIT_COUNT
} sl_data_unit;

typedef enum sl_source_kind {
    SL_SOURCE_BUILTIN = 0,
    SL_SOURCE_MANUAL,
    SL_SOURCE_FIT,
    SL_SOURCE_COUNT
} sl_source_kind;

const char *sl_data_unit_name(sl_data_unit unit);
int sl_data_unit_parse(const char *text, sl_data_unit *out);
/* "token", "example", "step". */
const char *sl_data_unit_singular(sl_data_unit unit);
const char *sl_source_kind_name(sl_source_kind kind);
int sl_source_kind_parse(const char *text, sl_source_kind *out);

#define SL_LAW_NAME_MAX        64
#define SL_LAW_DESCRIPTION_MAX 1000
#define SL_LAW_REFERENCE_MAX   500
#define SL_LAW_FIT_JSON_MAX    2000
#define SL_LAW_WARNINGS_MAX    6000
#define SL_LAW_VERDICT_MAX     15
#define SL_LAW_MAX_PATTERNS    8 /* = SL_FIT_MAX_PATTERNS */
#define SL_LAW_PATTERN_NAME    8 /* bytes of "n:m" with its NUL */
#define SL_LAW_PATTERNS_TEXT   1024

/* A fitted factor of an n:m pattern on the sparse term: the law at that
 * pattern is (a_s eta (1 - S)^b_s + c_s) N^-b_n + (a_d / D)^b_d + c. */
typedef struct sl_law_pattern {
    char name[SL_LAW_PATTERN_NAME]; /* "2:4" */
    double eta;
    double lower, upper; /* bootstrap percentile interval; NaN without draws */
    long rows;           /* rows of the pattern the fit saw */
} sl_law_pattern;

typedef struct sl_law_record {
    char name[SL_LAW_NAME_MAX + 1];
    long version;
    char description[SL_LAW_DESCRIPTION_MAX + 1];
    sl_law law;
    sl_data_unit data_unit;
    sl_source_kind source_kind;
    char reference[SL_LAW_REFERENCE_MAX + 1];
    long long fit_id;    /* 0 when the law did not come from a fit */
    char created_at[32]; /* RFC 3339, UTC */
    int builtin;
    /* For a fitted law: the contract's `fit` object as JSON text ({objective,
     * rmse, rows, intervals, ...}), "" otherwise; and how many bootstrap
     * draws the store keeps for it (they give queries their intervals). */
    char fit_json[SL_LAW_FIT_JSON_MAX + 1];
    long draws;
    /* For a fitted law: "good", "weak" or "unidentified" ("" otherwise), and
     * the warnings every answer on this version carries, as a JSON array of
     * sentences ("" when none). */
    char verdict[SL_LAW_VERDICT_MAX + 1];
    char warnings[SL_LAW_WARNINGS_MAX + 1];
    /* Writes only: the fit's diagnostics (JSON text) to keep with the
     * version, or NULL. Reads leave it NULL (sl_store_law_diagnostics). */
    const char *diagnostics;
    /* Fitted pattern factors, when the fit asked for them (the store keeps
     * each draw's too, beside the draws). */
    unsigned npatterns;
    sl_law_pattern patterns[SL_LAW_MAX_PATTERNS];
} sl_law_record;

/* The record's factor for pattern name ("2:4"), or NULL when it has none. */
const sl_law_pattern *sl_law_record_pattern(const sl_law_record *rec, const char *name);
/* The factors as the store keeps them, one line "n:m eta lower upper rows"
 * each; "" for none. 0, or -1 when buf is too small. */
int sl_law_patterns_format(const sl_law_record *rec, char *buf, size_t cap);
/* The inverse into rec->patterns; -1 (and no factors) for a malformed text. */
int sl_law_patterns_parse(const char *text, sl_law_record *rec);

/* The authors' published fits (docs/law-math.md §2), loaded on first start. */
#define SL_BUILTIN_COUNT 2
extern const sl_law_record sl_builtin_laws[SL_BUILTIN_COUNT];

#endif
