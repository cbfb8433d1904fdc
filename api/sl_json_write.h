/*
 * sl_json_write.h - a jansson value written as compact JSON text, the way
 * json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(17)) writes it (members
 * in insertion order, reals with up to 17 significant digits, ".0" on an
 * integral real, exponents without '+' or leading zeros), only faster: the
 * answers of the query routes are mostly numbers, and glibc's exact printf
 * of a double was most of their cost. Every real it writes reads back as
 * the same double.
 */
#ifndef SL_JSON_WRITE_H
#define SL_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

#include "sl_buf.h"

/* Appends v (read only; jansson iterates through a non-const) as compact
 * JSON to b: 0, or -1 when v holds something JSON
 * cannot (an invalid type) or b refuses the bytes. */
int sl_json_write(sl_buf *b, json_t *v);

/* A finite double as JSON writes it, NUL-terminated into out (at least 32
 * bytes); its length. Non-finite values give "null". */
size_t sl_json_format_real(double v, char *out);

#endif
