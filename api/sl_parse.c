#include "sl_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const sl_range sl_range_sparsity = {0.0, 1.0, 0, 1, "in [0, 1)"};
const sl_range sl_range_positive = {0.0, (double)INFINITY, 1, 1, "> 0"};
const sl_range sl_range_fraction = {0.0, 1.0, 0, 0, "in [0, 1]"};
const sl_range sl_range_amount = {1.0, 1e30, 0, 0, "in [1, 1e30]"};
const sl_range sl_range_compute = {1.0, 1e45, 0, 0, "in [1, 1e45]"};

int sl_range_contains(const sl_range *range, double v) {
    if (!isfinite(v)) return 0;
    if (range->lo_open ? !(v > range->lo) : !(v >= range->lo)) return 0;
    if (range->hi_open ? !(v < range->hi) : !(v <= range->hi)) return 0;
    return 1;
}

int sl_parse_double(const char *text, double *out) {
    /* strtod alone accepts " 1", "0x10", "inf" and "nan"; a query string
     * holding those is a client mistake, not a number. */
    char buf[64];
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len >= sizeof buf || strspn(text, "0123456789.eE+- ") != len) return -1;
    memcpy(buf, text, len + 1);
    /* An unencoded "1e+9" arrives form-decoded as "1e 9": read it as meant. */
    for (char *sp = strchr(buf, ' '); sp; sp = strchr(sp + 1, ' ')) {
        if (sp == buf || (sp[-1] != 'e' && sp[-1] != 'E')) return -1;
        *sp = '+';
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || end == buf) return -1;
    if (errno == ERANGE && fabs(v) > 1.0) return -1; /* overflow: 1e400 */
    if (!isfinite(v)) return -1;
    if (errno == ERANGE) v = 0.0; /* underflow: 1e-400 is zero for us */
    *out = v;
    return 0;
}

int sl_parse_number(const char *name, const char *text, const sl_range *range, double *out,
                    sl_error *err) {
    double v;
    if (!text || !*text)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                            "%s is empty; expected a number %s", name, range->what);
    if (sl_parse_double(text, &v) != 0)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                            "%s must be a finite number %s (got '%.40s')", name, range->what, text);
    if (!sl_range_contains(range, v))
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name, "%s must be %s (got %.40s)", name,
                            range->what, text);
    *out = v;
    return 0;
}

int sl_parse_int(const char *name, const char *text, long lo, long hi, long *out, sl_error *err) {
    double v;
    /* Integers too may be written in scientific notation ("1e3"). */
    if (sl_parse_double(text, &v) != 0 || v != floor(v))
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                            "%s must be an integer in [%ld, %ld] (got '%.40s')", name, lo, hi,
                            text ? text : "");
    if (v < (double)lo || v > (double)hi)
        return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                            "%s must be an integer in [%ld, %ld] (got %.40s)", name, lo, hi, text);
    *out = (long)v;
    return 0;
}

int sl_parse_number_list(const char *name, const char *text, const sl_range *range, double *out,
                         size_t max, size_t *count, sl_error *err) {
    char item[64];
    size_t n = 0;
    const char *p = text ? text : "";
    for (;;) {
        size_t len = strcspn(p, ",");
        if (n == max)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                                "%s takes at most %zu comma-separated values", name, max);
        if (len == 0 || len >= sizeof item)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                                "%s must be a comma-separated list of numbers %s", name,
                                range->what);
        memcpy(item, p, len);
        item[len] = '\0';
        if (sl_parse_number(name, item, range, &out[n], err) != 0) return -1;
        for (size_t k = 0; k < n; k++)
            if (out[k] == out[n])
                return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name, "%s lists %.40s twice",
                                    name, item);
        n++;
        if (p[len] == '\0') break;
        p += len + 1;
    }
    *count = n;
    return 0;
}

int sl_parse_pattern(const char *name, const char *text, int *n, int *m, sl_error *err) {
    char *end = NULL;
    long a = 0, b = 0;
    if (text && strspn(text, "0123456789:") == strlen(text)) {
        a = strtol(text, &end, 10);
        if (end != text && *end == ':') {
            const char *q = end + 1;
            b = strtol(q, &end, 10);
            if (end == q || *end) b = 0;
        }
    }
    if (a < 1 || b < 2 || a >= b || b > 64)
        return sl_error_set(
            err, SL_ERR_INVALID_PARAMETER, name,
            "%s must be n:m patterns with 1 <= n < m <= 64, such as 2:4 (got '%.40s')", name,
            text ? text : "");
    *n = (int)a;
    *m = (int)b;
    return 0;
}

int sl_law_name_valid(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > 64) return 0;
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != len) return 0;
    return name[0] != '.' && name[0] != '_' && name[0] != '-';
}
