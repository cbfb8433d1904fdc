/* Compact JSON text of a jansson value (sl_json_write.h). Reals: 17
 * significant digits from one long double product (64-bit mantissa), kept
 * only when they provably read back as the same double, else the exact
 * printf; then the trailing zeros dropped, as %.17g does. */
#include "sl_json_write.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* 10^k for k in [POW_MIN, POW_MAX], as long doubles. */
#define POW_MIN -360
#define POW_MAX 360
static long double pow10_table[POW_MAX - POW_MIN + 1];
static pthread_once_t pow10_once = PTHREAD_ONCE_INIT;

static void pow10_init(void) {
    for (int k = POW_MIN; k <= POW_MAX; k++)
        pow10_table[k - POW_MIN] = powl(10.0L, (long double)k);
}

/* The exact way, as jansson: %.17g. */
static size_t format_printf(double v, char *out) {
    return (size_t)snprintf(out, 32, "%.17g", v);
}

/* digits[0..17) and decimal exponent e with v ~ 0.d1d2...d17 x 10^(e+1),
 * i.e. d1.d2...d17 x 10^e; 0 when they read back as v, -1 when unsure. */
static int digits17(double v, char *digits, int *exp10) {
    int e2;
    frexp(v, &e2);                                      /* v in [2^(e2-1), 2^e2) */
    int e = (int)floor((e2 - 1) * 0.30102999566398120); /* log10(v), or one short */
    for (int tries = 0; tries < 2; tries++) {
        int k = 16 - e;
        if (k < POW_MIN || k > POW_MAX) return -1;
        long double scaled = (long double)v * pow10_table[k - POW_MIN];
        long double r = rintl(scaled); /* ties to even, as printf */
        if (r >= 1e17L) {              /* log10 was one short, or rounding carried */
            e++;
            continue;
        }
        if (r < 1e16L) {
            e--;
            continue;
        }
        uint64_t d = (uint64_t)r;
        /* Back: d x 10^-k must lie inside v's rounding interval, by a margin
         * wider than the product's own error (a few units in 2^-64). */
        long double back = (long double)d * pow10_table[-k - POW_MIN];
        long double half_ulp = ldexpl(1.0L, e2 - 54); /* half the gap above v */
        /* and below: half as wide at a power of two */
        long double below = frexp(v, &e2) == 0.5 ? half_ulp / 2 : half_ulp;
        long double err = back - (long double)v;
        if (err >= 0 ? err >= half_ulp * (1 - 1.0L / 64) : -err >= below * (1 - 1.0L / 64))
            return -1;
        for (int i = 16; i >= 0; i--) {
            digits[i] = (char)('0' + d % 10);
            d /= 10;
        }
        *exp10 = e;
        return 0;
    }
    return -1;
}

size_t sl_json_format_real(double v, char *out) {
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    pthread_once(&pow10_once, pow10_init);
    char *p = out;
    if (signbit(v)) {
        *p++ = '-';
        v = -v;
    }
    if (v == 0) {
        memcpy(p, "0.0", 4);
        return (size_t)(p - out) + 3;
    }
    if (v < 1e15 && v == (double)(uint64_t)v) { /* an integral value: exact as an integer */
        char tmp[24];
        uint64_t u = (uint64_t)v;
        size_t k = 0;
        do {
            tmp[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (k)
            *p++ = tmp[--k];
        memcpy(p, ".0", 3);
        return (size_t)(p - out) + 2;
    }
    char digits[17];
    int e, n = 17;
    if (v < DBL_MIN || digits17(v, digits, &e) != 0) { /* subnormals too: the exact way */
        char tmp[32];
        format_printf(v, tmp);
        /* jansson's touches: no '+' or leading zeros in the exponent, ".0"
         * on a value printed as an integer */
        const char *x = strchr(tmp, 'e');
        size_t o = x ? (size_t)(x - tmp) : strlen(tmp);
        memcpy(p, tmp, o);
        if (x) {
            p[o++] = 'e';
            x++;
            if (*x == '-') p[o++] = *x;
            if (*x == '-' || *x == '+') x++;
            while (*x == '0')
                x++;
            while (*x)
                p[o++] = *x++;
        } else if (!memchr(p, '.', o)) {
            p[o++] = '.';
            p[o++] = '0';
        }
        p[o] = '\0';
        return (size_t)(p - out) + o;
    }
    while (n > 1 && digits[n - 1] == '0')
        n--;
    if (e < -4 || e >= 17) { /* %g's scientific form */
        *p++ = digits[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)(n - 1));
            p += n - 1;
        }
        p += snprintf(p, 8, "e%d", e);
        return (size_t)(p - out);
    }
    if (e < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > e; i--)
            *p++ = '0';
        memcpy(p, digits, (size_t)n);
        p += n;
    } else {
        for (int i = 0; i <= e; i++)
            *p++ = i < n ? digits[i] : '0';
        *p++ = '.';
        if (n > e + 1) {
            memcpy(p, digits + e + 1, (size_t)(n - e - 1));
            p += n - e - 1;
        } else {
            *p++ = '0';
        }
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* Room for n more bytes at b->data + b->len (and the NUL). */
static inline int room(sl_buf *b, size_t n) {
    return b->len + n < b->cap ? 0 : sl_buf_reserve(b, n);
}

static inline int add(sl_buf *b, const char *s, size_t n) {
    if (room(b, n)) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* Bytes a JSON string writes as themselves: printable ASCII but '"' and
 * '\\', and every byte of a UTF-8 sequence. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1),
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1),
#undef R16
};

/* A JSON string, escaped as jansson escapes it by default. */
static int write_string(sl_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    /* the common case, nothing to escape: one copy */
    if (room(b, len + 2)) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len && plain[(unsigned char)s[i]] && s[i] != '"' && s[i] != '\\')
        i++;
    memcpy(o, s, i);
    b->len += i + 1;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plain[c] && c != '"' && c != '\\') {
            if (add(b, s + i, 1)) return -1;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (add(b, esc, n)) return -1;
    }
    return add(b, "\"", 1);
}

static int write_value(sl_buf *b, json_t *v) {
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        int first = 1;
        if (add(b, "{", 1)) return -1;
        json_object_foreach(v, key, value) {
            if ((!first && add(b, ",", 1)) || write_string(b, key, strlen(key)) || add(b, ":", 1) ||
                write_value(b, value))
                return -1;
            first = 0;
        }
        return add(b, "}", 1);
    }
    case JSON_ARRAY: {
        if (add(b, "[", 1)) return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i && add(b, ",", 1)) || write_value(b, json_array_get(v, i))) return -1;
        return add(b, "]", 1);
    }
    case JSON_STRING: return write_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return add(b, num, (size_t)n);
    }
    case JSON_REAL: return add(b, num, sl_json_format_real(json_real_value(v), num));
    case JSON_TRUE: return add(b, "true", 4);
    case JSON_FALSE: return add(b, "false", 5);
    case JSON_NULL: return add(b, "null", 4);
    }
    return -1;
}

int sl_json_write(sl_buf *b, json_t *v) {
    if (room(b, 0)) return -1;
    int rc = write_value(b, v);
    b->data[b->len] = '\0';
    return rc;
}
