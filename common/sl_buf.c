/* sl_buf.c - the growable byte buffer of sl_buf.h. */
#include "sl_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL, growing geometrically so that adding
 * byte by byte stays linear. */
static int reserve(sl_buf *b, size_t n) {
    if (n > (size_t)-1 / 2 - b->len || (b->max && b->len + n > b->max)) return -1;
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) return -1;
    b->data = grown;
    b->cap = cap;
    return 0;
}

int sl_buf_reserve(sl_buf *b, size_t n) {
    return reserve(b, n);
}

int sl_buf_add(sl_buf *b, const void *p, size_t n) {
    if (reserve(b, n) != 0) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sl_buf_adds(sl_buf *b, const char *s) {
    return sl_buf_add(b, s, strlen(s));
}

int sl_buf_vaddf(sl_buf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = n < 0 || reserve(b, (size_t)n) != 0 ? -1 : 0;
    if (rc == 0) {
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int sl_buf_addf(sl_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *sl_buf_take(sl_buf *b) {
    char *text = b->data ? b->data : calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return text;
}

void sl_buf_free(sl_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
