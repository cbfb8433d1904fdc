/*
 * sl_log.h - the one logger: one JSON object per line on stderr, every string
 * escaped (and made valid UTF-8), each line written with a single write(2)
 * so that lines from different threads never interleave.
 *
 *     sl_log_line l;
 *     sl_log_begin(&l, SL_LOG_INFO, "listening");
 *     sl_log_str(&l, "bind", cfg->bind);
 *     sl_log_int(&l, "port", port);
 *     sl_log_end(&l);
 *
 * A line longer than SL_LOG_LINE_MAX is cut inside a string value, which then
 * ends in "...", and later fields are dropped: the line stays valid JSON.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stddef.h>

#define SL_LOG_LINE_MAX 4096

typedef enum sl_log_level { SL_LOG_INFO = 0, SL_LOG_WARNING, SL_LOG_ERROR } sl_log_level;

typedef struct sl_log_line {
    char buf[SL_LOG_LINE_MAX];
    size_t len;
    int full; /* a value was cut: nothing more is added */
} sl_log_line;

/* Starts a line with "ts" (UTC, milliseconds), "level" and "event". */
void sl_log_begin(sl_log_line *l, sl_log_level level, const char *event);
/* Starts a line with no level or event (the per-request access lines). */
void sl_log_begin_bare(sl_log_line *l);
/* A string member; NULL gives null. */
void sl_log_str(sl_log_line *l, const char *key, const char *value);
void sl_log_int(sl_log_line *l, const char *key, long long value);
/* A number member; NaN and infinities give null (JSON has neither). */
void sl_log_num(sl_log_line *l, const char *key, double value);
/* Closes the line and writes it. */
void sl_log_end(sl_log_line *l);

/* The common case: level, event and an optional detail text (NULL: none). */
void sl_log(sl_log_level level, const char *event, const char *detail);

#endif
