/*
 * sl_errors.h - the one table of error codes of the API, and the error value
 * every decoder and handler fills in. A code fixes the HTTP status; openapi.json
 * lists the same codes (a test keeps them in sync).
 */
#ifndef SL_ERRORS_H
#define SL_ERRORS_H

#include <jansson.h>

typedef enum sl_err_code {
    SL_ERR_NONE = 0,
    SL_ERR_INVALID_PARAMETER,      /* 400: a query parameter is malformed or out of range */
    SL_ERR_MISSING_PARAMETER,      /* 400 */
    SL_ERR_UNKNOWN_PARAMETER,      /* 400: not a parameter of this route (catches typos) */
    SL_ERR_INVALID_JSON,           /* 400: the body is not JSON; message has the position */
    SL_ERR_INVALID_BODY,           /* 400: JSON of the wrong shape or type */
    SL_ERR_UNAUTHORIZED,           /* 401: no bearer token */
    SL_ERR_FORBIDDEN,              /* 403: wrong token */
    SL_ERR_NOT_FOUND,              /* 404 */
    SL_ERR_METHOD_NOT_ALLOWED,     /* 405, with Allow */
    SL_ERR_CONFLICT,               /* 409: e.g. writing a built-in law */
    SL_ERR_PAYLOAD_TOO_LARGE,      /* 413 */
    SL_ERR_UNSUPPORTED_MEDIA_TYPE, /* 415 */
    SL_ERR_UNIT_MISMATCH,          /* 422: e.g. compute= for a law whose data is not tokens */
    SL_ERR_UNREACHABLE,            /* 422: target loss at or below the attainable floor */
    SL_ERR_UNPROCESSABLE,          /* 422: valid request the law cannot answer */
    SL_ERR_SHUTTING_DOWN,          /* 503 */
    SL_ERR_INTERNAL,               /* 500: our fault, never the client's */
    SL_ERR_COUNT
} sl_err_code;

typedef struct sl_err_info {
    const char *code;
    unsigned status;
    const char *title;
} sl_err_info;

/* Indexed by sl_err_code; entry 0 is unused. */
extern const sl_err_info sl_err_table[SL_ERR_COUNT];

/* An error as the client sees it. Fixed buffers: setting one never fails. */
typedef struct sl_error {
    sl_err_code code;
    char field[64]; /* the parameter or JSON path concerned; "" when none */
    char message[1024]; /* room for each reason of a refusal that names them all */
    const char *extra_name; /* optional number to return beside the message */
    double extra_value;
} sl_error;

/* Fills err and returns -1, so decoders can `return sl_error_set(...)`. */
int sl_error_set(sl_error *err, sl_err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

unsigned sl_error_status(const sl_error *err);

/* {"error": {"code", "message", "field"?, extra?}} */
json_t *sl_error_json(const sl_error *err);

#endif
