/*
 * sl_law_json.h - a law as stored and as it travels: coefficients, units,
 * source, version; its JSON codec, and the unit labels every response carries.
 */
#ifndef SL_LAW_JSON_H
#define SL_LAW_JSON_H

#include <jansson.h>

#include "sl_errors.h"
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
const char *sl_source_kind_name(sl_source_kind kind);
int sl_source_kind_parse(const char *text, sl_source_kind *out);

#define SL_LAW_NAME_MAX        64
#define SL_LAW_DESCRIPTION_MAX 1000
#define SL_LAW_REFERENCE_MAX   500
#define SL_LAW_FIT_JSON_MAX    2000

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
} sl_law_record;

/* The full law object of the contract. */
json_t *sl_law_record_json(const sl_law_record *rec);
/* {"name", "version"}: which law answered a query. */
json_t *sl_law_ref_json(const sl_law_record *rec);

/* Decodes the body of PUT /v1/laws/{name}:
 *   {"coefficients": {a_s, b_s, c_s, b_n, a_d, b_d, c},
 *    "units": {"data": "tokens"|"examples"|"steps", "nonzeros"?: "parameters"},
 *    "description"?: string, "source"?: {"reference"?: string}}
 * Fills law, data_unit, description and reference of rec (source_kind
 * becomes manual); the caller sets name and the rest. */
int sl_law_put_decode(json_t *body, sl_law_record *rec, sl_error *err);

/* Rejects members of obj other than keys[0..n): a misspelt key in a write
 * must not be silently ignored. err names the member (or the object at
 * path, when path is not ""). */
int sl_json_only_members(json_t *obj, const char *path, const char *const *keys, size_t n,
                         sl_error *err);

/* A JSON number, or null where the value is not finite (JSON has no inf). */
json_t *sl_json_number(double v);

/* The "units" object of a response: for each field name given (NULL
 * terminated) its unit, e.g. "data": "tokens", "compute": "FLOPs". */
json_t *sl_units_json(sl_data_unit unit, ...) __attribute__((sentinel));
/* The unit of one response field for a law's data unit; NULL if unknown. */
const char *sl_unit_of(sl_data_unit unit, const char *field);
/* One of a data unit, as prose says it: "token", "example", "step". */
const char *sl_data_unit_singular(sl_data_unit unit);

/* The authors' published fits (notes/law-math.md §2), loaded on first start. */
#define SL_BUILTIN_COUNT 2
extern const sl_law_record sl_builtin_laws[SL_BUILTIN_COUNT];

#endif
