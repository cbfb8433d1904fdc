/*
 * sl_law_json.h - the JSON of a law (sl_law_record.h): the contract's law
 * object, the body of PUT /v1/laws/{name}, and the unit labels every
 * response carries.
 */
#ifndef SL_LAW_JSON_H
#define SL_LAW_JSON_H

#include <jansson.h>

#include "sl_errors.h"
#include "sl_law_record.h"

/* The full law object of the contract. */
json_t *sl_law_record_json(const sl_law_record *rec);
/* The warnings of a law version: an array of sentences, [] when none. */
json_t *sl_law_warnings_json(const sl_law_record *rec);
/* {"name", "version"}: which law answered a query. */
json_t *sl_law_ref_json(const sl_law_record *rec);
/* A fitted law's pattern factors: {"2:4": {"eta", "interval", "rows"}, ...}. */
json_t *sl_law_patterns_json(const sl_law_record *rec);

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

#endif
