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
} sl_law_record;

/* The authors' published fits (docs/law-math.md §2), loaded on first start. */
#define SL_BUILTIN_COUNT 2
extern const sl_law_record sl_builtin_laws[SL_BUILTIN_COUNT];

#endif
