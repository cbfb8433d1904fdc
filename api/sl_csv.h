/*
 * sl_csv.h - an RFC 4180 record reader over a body in memory: fields
 * separated by commas, quoted fields with doubled quotes inside, CRLF or LF
 * line ends. Each record's fields are unquoted into one buffer the reader
 * owns. The upload parser (sl_dataset.c) reads CSV uploads with it.
 */
#ifndef SL_CSV_H
#define SL_CSV_H

#include <stddef.h>

#include "sl_buf.h"

/* Fields of a record a caller can read; a record with more has them counted.
 * Wide enough for a W&B or MLflow export, which has a column per config
 * key, metric and tag. */
#define SL_CSV_MAX_FIELDS 1024

typedef struct sl_csv {
    const char *p, *end;
    sl_buf text; /* the record's fields, unquoted, each NUL-terminated */
    size_t start[SL_CSV_MAX_FIELDS + 1];
    size_t nf; /* fields of the record, may exceed SL_CSV_MAX_FIELDS + 1 (only counted) */
    int oom;
} sl_csv;

/* A reader over body[0..len), which must outlive it. */
void sl_csv_init(sl_csv *r, const char *body, size_t len);
void sl_csv_free(sl_csv *r);

/* One record: 1 read (blank set for an empty line), 0 end of input,
 * -1 malformed (why says how; the rest of the line is skipped). After 1,
 * r->nf is its field count; r->oom is set when the buffer could not grow. */
int sl_csv_record(sl_csv *r, int *blank, const char **why);

/* Field i (< r->nf and <= SL_CSV_MAX_FIELDS) of the last record, NUL-terminated. */
const char *sl_csv_field(const sl_csv *r, size_t i);

#endif
