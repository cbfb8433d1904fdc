/* The writers of sl_dataset.h: rows back out as CSV (RFC 4180, numbers that
 * round-trip) and as JSON (moved out of sl_dataset.c, which reads uploads). */
#include "sl_dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest of %.15g, %.16g, %.17g that reads back as v. */
static int format_number(char *buf, size_t cap, double v) {
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return n;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->oom = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

static void sb_num(sbuf *b, double v) {
    char tmp[40];
    int n = format_number(tmp, sizeof tmp, v);
    sb_add(b, tmp, (size_t)n);
}

static void sb_csv_text(sbuf *b, const char *s) {
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        sb_add(b, s, n);
        return;
    }
    sb_add(b, "\"", 1);
    for (const char *q = s; *q; q++) {
        sb_add(b, q, 1);
        if (*q == '"') sb_add(b, "\"", 1); /* a quote inside is doubled */
    }
    sb_add(b, "\"", 1);
}

char *sl_dataset_csv(const sl_dataset_row *rows, size_t nrows, size_t *len) {
    sbuf b = {NULL, 0, 0, 0};
    sb_str(&b, "sparsity,nonzeros,data,loss,run_id,pattern,seed\r\n");
    for (size_t i = 0; i < nrows; i++) {
        const sl_dataset_row *r = &rows[i];
        sb_num(&b, r->sparsity);
        sb_add(&b, ",", 1);
        sb_num(&b, r->nonzeros);
        sb_add(&b, ",", 1);
        sb_num(&b, r->data);
        sb_add(&b, ",", 1);
        sb_num(&b, r->loss);
        sb_add(&b, ",", 1);
        if (r->run_id) sb_csv_text(&b, r->run_id);
        sb_add(&b, ",", 1);
        sb_str(&b, r->pattern);
        sb_add(&b, ",", 1);
        if (r->has_seed) {
            char tmp[32];
            int n = snprintf(tmp, sizeof tmp, "%lld", r->seed);
            sb_add(&b, tmp, (size_t)n);
        }
        sb_add(&b, "\r\n", 2);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.len;
    return b.p;
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
