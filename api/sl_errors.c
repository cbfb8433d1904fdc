#include "sl_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const sl_err_info sl_err_table[SL_ERR_COUNT] = {
    [SL_ERR_NONE] = {"none", 200, "no error"},
    [SL_ERR_INVALID_PARAMETER] = {"invalid_parameter", 400,
                                  "a parameter is malformed or out of range"},
    [SL_ERR_MISSING_PARAMETER] = {"missing_parameter", 400, "a required parameter is missing"},
    [SL_ERR_UNKNOWN_PARAMETER] = {"unknown_parameter", 400, "the route has no such parameter"},
    [SL_ERR_INVALID_JSON] = {"invalid_json", 400, "the body is not valid JSON"},
    [SL_ERR_INVALID_BODY] = {"invalid_body", 400, "the JSON body has the wrong shape or types"},
    [SL_ERR_UNAUTHORIZED] = {"unauthorized", 401, "a bearer token is required"},
    [SL_ERR_FORBIDDEN] = {"forbidden", 403, "the bearer token is wrong"},
    [SL_ERR_NOT_FOUND] = {"not_found", 404, "no such route or resource"},
    [SL_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405,
                                   "the route does not take this method"},
    [SL_ERR_CONFLICT] = {"conflict", 409, "the request conflicts with stored state"},
    [SL_ERR_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, "the body exceeds the size limit"},
    [SL_ERR_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
                                       "the body's content type is not accepted"},
    [SL_ERR_UNIT_MISMATCH] = {"unit_mismatch", 422, "the parameter does not fit the law's units"},
    [SL_ERR_UNREACHABLE] = {"unreachable_target", 422, "the target is beyond what the law allows"},
    [SL_ERR_UNPROCESSABLE] = {"unprocessable", 422, "the request is valid but cannot be answered"},
    [SL_ERR_SHUTTING_DOWN] = {"shutting_down", 503, "the server is shutting down"},
    [SL_ERR_INTERNAL] = {"internal", 500, "an internal error; the request changed nothing"},
};

/* Messages may quote client input; keep them printable ASCII so they always
 * encode as JSON and read safely in a log. */
static void sanitize(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) *s = '?';
}

int sl_error_set(sl_error *err, sl_err_code code, const char *field, const char *fmt, ...) {
    va_list ap;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    sanitize(err->field);
    sanitize(err->message);
    err->extra_name = NULL;
    err->extra_value = 0;
    return -1;
}

unsigned sl_error_status(const sl_error *err) {
    if (err->code <= SL_ERR_NONE || err->code >= SL_ERR_COUNT) return 500;
    return sl_err_table[err->code].status;
}

json_t *sl_error_json(const sl_error *err) {
    sl_err_code code =
        (err->code > SL_ERR_NONE && err->code < SL_ERR_COUNT) ? err->code : SL_ERR_INTERNAL;
    json_t *e = json_pack("{s:s, s:s}", "code", sl_err_table[code].code, "message",
                          err->message[0] ? err->message : sl_err_table[code].title);
    if (err->field[0]) json_object_set_new(e, "field", json_string(err->field));
    if (err->extra_name) json_object_set_new(e, err->extra_name, json_real(err->extra_value));
    return json_pack("{s:o}", "error", e);
}
