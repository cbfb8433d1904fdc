/* The writers of sl_dataset.h: rows back out as CSV (RFC 4180, numbers that
 * round-trip) and as JSON (moved out of sl_dataset.c, which reads uploads). */
#include "sl_dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_buf.h"

/* The shortest of %.15g, %.16g, %.17g that reads back as v. */
static int format_number(char *buf, size_t cap, double v) {
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return n;
}

/* Each adder answers 0, or -1 once memory is out; callers OR them together. */
static int put_num(sl_buf *b, double v) {
    char tmp[40];
    int n = format_number(tmp, sizeof tmp, v);
    return sl_buf_add(b, tmp, (size_t)n);
}

static int put_csv_text(sl_buf *b, const char *s) {
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) return sl_buf_add(b, s, n);
    int bad = sl_buf_addc(b, '"');
    for (const char *q = s; *q; q++) {
        bad |= sl_buf_addc(b, *q);
        if (*q == '"') bad |= sl_buf_addc(b, '"'); /* a quote inside is doubled */
    }
    return bad | sl_buf_addc(b, '"');
}

int sl_dataset_csv_add(sl_buf *b, const sl_dataset_row *rows, size_t nrows, int header) {
    int bad = header ? sl_buf_adds(b, "sparsity,nonzeros,data,loss,run_id,pattern,seed\r\n") : 0;
    for (size_t i = 0; i < nrows && !bad; i++) {
        const sl_dataset_row *r = &rows[i];
        bad |= put_num(b, r->sparsity) | sl_buf_addc(b, ',');
        bad |= put_num(b, r->nonzeros) | sl_buf_addc(b, ',');
        bad |= put_num(b, r->data) | sl_buf_addc(b, ',');
        bad |= put_num(b, r->loss) | sl_buf_addc(b, ',');
        if (r->run_id) bad |= put_csv_text(b, r->run_id);
        bad |= sl_buf_addc(b, ',') | sl_buf_adds(b, r->pattern) | sl_buf_addc(b, ',');
        if (r->has_seed) bad |= sl_buf_addf(b, "%lld", r->seed);
        bad |= sl_buf_add(b, "\r\n", 2);
    }
    return bad ? -1 : 0;
}

char *sl_dataset_csv(const sl_dataset_row *rows, size_t nrows, size_t *len) {
    sl_buf b = {0};
    if (sl_dataset_csv_add(&b, rows, nrows, 1) != 0) {
        sl_buf_free(&b);
        return NULL;
    }
    if (len) *len = b.len;
    return sl_buf_take(&b);
}

json_t *sl_dataset_row_json(const sl_dataset_row *r) {
    json_t *o = json_pack("{s:f, s:f, s:f, s:f}", "sparsity", r->sparsity, "nonzeros", r->nonzeros,
                          "data", r->data, "loss", r->loss);
    if (!o) return NULL;
    if (r->run_id) json_object_set_new(o, "run_id", json_string(r->run_id));
    if (r->pattern[0]) json_object_set_new(o, "pattern", json_string(r->pattern));
    if (r->has_seed) json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    return o;
}

json_t *sl_dataset_rows_json(const sl_dataset_row *rows, size_t nrows) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < nrows; i++)
        if (json_array_append_new(a, sl_dataset_row_json(&rows[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}
