/*
 * sl_buf.h - a growable byte buffer, the one the server, api/ and the trainer
 * share. Its data is always NUL-terminated once anything was added, so text
 * can be handed on as a C string.
 *
 * A buffer may carry a limit (max, bytes; 0 for none): an addition that
 * would pass it fails and leaves the buffer as it was, which is how request
 * and response bodies stay bounded. Out of memory fails the same way.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sl_buf {
    char *data; /* NULL until the first addition */
    size_t len; /* bytes held, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the most len may reach; 0: no limit */
} sl_buf;

/* 0, or -1 when the limit would be passed or memory is out (buffer unchanged). */
int sl_buf_add(sl_buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
/* Room for n more bytes without growing again (0, or -1 as sl_buf_add). */
int sl_buf_reserve(sl_buf *b, size_t n) __attribute__((warn_unused_result));
int sl_buf_adds(sl_buf *b, const char *s) __attribute__((warn_unused_result));
int sl_buf_addf(sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
int sl_buf_vaddf(sl_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0), warn_unused_result));

/* Hands the text to the caller (free() it) and empties the buffer; an empty
 * buffer gives "" rather than NULL. NULL only when memory is out. */
/* One byte; inline because readers add text byte by byte. */
static inline int sl_buf_addc(sl_buf *b, char c) {
    if (b->len + 1 < b->cap && (!b->max || b->len < b->max)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return sl_buf_add(b, &c, 1);
}

char *sl_buf_take(sl_buf *b) __attribute__((warn_unused_result));

/* Releases the data; the buffer may be used again (its limit stays). */
void sl_buf_free(sl_buf *b);

#endif
