#include "sl_law_json.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

json_t *sl_json_number(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *sl_law_ref_json(const sl_law_record *rec) {
    return json_pack("{s:s, s:I}", "name", rec->name, "version", (json_int_t)rec->version);
}

json_t *sl_law_record_json(const sl_law_record *rec) {
    json_t *coef = json_object();
    for (size_t i = 0; i < SL_LAW_NCOEF; i++)
        json_object_set_new(coef, sl_law_coef_names[i], json_real(sl_law_coef_get(&rec->law, i)));
    json_t *source = json_pack("{s:s, s:s}", "kind", sl_source_kind_name(rec->source_kind),
                               "reference", rec->reference);
    json_object_set_new(source, "fit_id", rec->fit_id ? json_integer(rec->fit_id) : json_null());
    json_t *out =
        json_pack("{s:s, s:I, s:s, s:o, s:{s:s, s:s}, s:o, s:s, s:b}", "name", rec->name, "version",
                  (json_int_t)rec->version, "description", rec->description, "coefficients", coef,
                  "units", "nonzeros", "parameters", "data", sl_data_unit_name(rec->data_unit),
                  "source", source, "created_at", rec->created_at, "builtin", rec->builtin);
    json_t *fit = rec->fit_json[0] ? json_loads(rec->fit_json, 0, NULL) : NULL;
    if (fit) json_object_set_new(out, "fit", fit);
    json_object_set_new(out, "verdict", rec->verdict[0] ? json_string(rec->verdict) : json_null());
    json_object_set_new(out, "warnings", sl_law_warnings_json(rec));
    if (rec->npatterns) json_object_set_new(out, "pattern_factors", sl_law_patterns_json(rec));
    return out;
}

json_t *sl_law_warnings_json(const sl_law_record *rec) {
    json_t *w = rec->warnings[0] ? json_loads(rec->warnings, 0, NULL) : NULL;
    return json_is_array(w) ? w : (json_decref(w), json_array());
}

json_t *sl_law_patterns_json(const sl_law_record *rec) {
    json_t *o = json_object();
    for (unsigned k = 0; k < rec->npatterns; k++) {
        const sl_law_pattern *p = &rec->patterns[k];
        json_t *interval = isfinite(p->lower) && isfinite(p->upper)
                               ? json_pack("[f, f]", p->lower, p->upper)
                               : json_null();
        json_object_set_new(o, p->name,
                            json_pack("{s:o, s:o, s:I}", "eta", sl_json_number(p->eta), "interval",
                                      interval, "rows", (json_int_t)p->rows));
    }
    return o;
}

/* Copies an optional string member into buf; -1 with err when it is there
 * but not a string or too long. */
static int take_string(const json_t *obj, const char *key, const char *path, char *buf, size_t cap,
                       sl_error *err) {
    const json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_string(v))
        return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s must be a string", path);
    if (json_string_length(v) >= cap)
        return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s is longer than %zu bytes", path,
                            cap - 1);
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int sl_json_only_members(json_t *obj, const char *path, const char *const *keys, size_t n,
                         sl_error *err) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        while (i < n && strcmp(key, keys[i]) != 0)
            i++;
        if (i == n)
            return sl_error_set(err, SL_ERR_INVALID_BODY, path[0] ? path : key,
                                "%s has an unknown member '%.40s'", path[0] ? path : "the body",
                                key);
    }
    return 0;
}

int sl_law_put_decode(json_t *body, sl_law_record *rec, sl_error *err) {
    static const char *const top[] = {"coefficients", "units", "description", "source"};
    static const char *const units_keys[] = {"data", "nonzeros"};
    static const char *const source_keys[] = {"reference", "kind"};
    if (!json_is_object(body))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "", "the body must be a JSON object");
    if (sl_json_only_members(body, "", top, 4, err)) return -1;

    json_t *coef = json_object_get(body, "coefficients");
    if (!json_is_object(coef))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "coefficients",
                            "coefficients must be an object with a_s, b_s, c_s, b_n, a_d, b_d, c");
    if (sl_json_only_members(coef, "coefficients", sl_law_coef_names, SL_LAW_NCOEF, err)) return -1;
    for (size_t i = 0; i < SL_LAW_NCOEF; i++) {
        char path[48];
        snprintf(path, sizeof path, "coefficients.%s", sl_law_coef_names[i]);
        const json_t *v = json_object_get(coef, sl_law_coef_names[i]);
        if (!json_is_number(v))
            return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s must be a number", path);
        *sl_law_coef(&rec->law, i) = json_number_value(v);
    }
    if (!sl_law_valid(&rec->law))
        return sl_error_set(
            err, SL_ERR_INVALID_BODY, "coefficients",
            "coefficients must be finite, a_s, b_s, c_s, b_n, a_d, b_d > 0 and c >= 0");

    json_t *units = json_object_get(body, "units");
    if (!json_is_object(units))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "units",
                            "units must be an object such as {\"data\": \"tokens\"}");
    if (sl_json_only_members(units, "units", units_keys, 2, err)) return -1;
    const json_t *data = json_object_get(units, "data");
    if (!json_is_string(data) || sl_data_unit_parse(json_string_value(data), &rec->data_unit))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "units.data",
                            "units.data must be \"tokens\", \"examples\" or \"steps\"");
    const json_t *nz = json_object_get(units, "nonzeros");
    if (nz && !(json_is_string(nz) && strcmp(json_string_value(nz), "parameters") == 0))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "units.nonzeros",
                            "units.nonzeros must be \"parameters\" (raw count)");

    rec->description[0] = '\0';
    rec->reference[0] = '\0';
    if (take_string(body, "description", "description", rec->description, sizeof rec->description,
                    err))
        return -1;
    json_t *source = json_object_get(body, "source");
    if (source) {
        if (!json_is_object(source))
            return sl_error_set(err, SL_ERR_INVALID_BODY, "source", "source must be an object");
        if (sl_json_only_members(source, "source", source_keys, 2, err)) return -1;
        const json_t *kind = json_object_get(source, "kind");
        if (kind && !(json_is_string(kind) && strcmp(json_string_value(kind), "manual") == 0))
            return sl_error_set(err, SL_ERR_INVALID_BODY, "source.kind",
                                "source.kind can only be \"manual\" for a law written by PUT");
        if (take_string(source, "reference", "source.reference", rec->reference,
                        sizeof rec->reference, err))
            return -1;
    }
    rec->source_kind = SL_SOURCE_MANUAL;
    rec->fit_id = 0;
    return 0;
}

/* Units of the response fields; "data" and "compute" depend on the law. */
const char *sl_unit_of(sl_data_unit unit, const char *field) {
    static const struct {
        const char *field, *unit;
    } fixed[] = {
        {"sparsity", "fraction of weights that are zero, in [0, 1)"},
        {"max_sparsity", "fraction of weights that are zero, in [0, 1)"},
        {"nonzeros", "parameters"},
        {"total_params", "parameters"},
        {"dense_equivalent_params", "parameters"},
        {"loss", "the law's loss (validation loss, as fitted)"},
        {"dense_loss", "the law's loss (validation loss, as fitted)"},
        {"loss_floor", "the law's loss (validation loss, as fitted)"},
        {"target_loss", "the law's loss (validation loss, as fitted)"},
        {"improvement", "the law's loss: dense_loss - loss"},
        {"multiplier", "dense parameters per non-zero parameter"},
        {"limit", "dense parameters per non-zero parameter, as sparsity -> 1"},
        {"max_nonzeros", "parameters"},
        {"improvement_percent", "percent of dense_loss"},
        {"data_factor", "pretrained-equivalent data per unit of pruning-run data"},
    };
    static const char *const compute_units[SL_UNIT_COUNT] = {
        "FLOPs (6 x parameters x tokens)",
        "parameter-examples x 6 (not FLOPs: the law's data is in examples)",
        "parameter-steps x 6 (not FLOPs: the law's data is in steps)"};
    if (strcmp(field, "data") == 0 || strcmp(field, "dense_data") == 0 ||
        strcmp(field, "sparsity_pays_above_data") == 0 ||
        strcmp(field, "dense_optimal_data") == 0 || strcmp(field, "effective_data") == 0 ||
        strcmp(field, "inference_tokens") == 0)
        return sl_data_unit_name(unit);
    if (strcmp(field, "compute") == 0 || strcmp(field, "sparsity_pays_above_compute") == 0 ||
        strcmp(field, "dense_optimal_compute") == 0 || strcmp(field, "training_compute") == 0 ||
        strcmp(field, "inference_compute") == 0 || strcmp(field, "total_compute") == 0 ||
        strcmp(field, "pretrain_compute") == 0)
        return unit < SL_UNIT_COUNT ? compute_units[unit] : NULL;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(field, fixed[i].field) == 0) return fixed[i].unit;
    return NULL;
}

json_t *sl_units_json(sl_data_unit unit, ...) {
    json_t *out = json_object();
    va_list ap;
    va_start(ap, unit);
    for (const char *f = va_arg(ap, const char *); f; f = va_arg(ap, const char *)) {
        const char *u = sl_unit_of(unit, f);
        /* field names and units are this file's own ASCII literals: no
         * UTF-8 check (the check was a tenth of a query answer's cost) */
        if (u) json_object_set_new_nocheck(out, f, json_string_nocheck(u));
    }
    va_end(ap);
    return out;
}
