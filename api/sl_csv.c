/* The RFC 4180 record reader of uploads (moved out of sl_dataset.c, which
 * turns its records into rows). */
#include "sl_csv.h"

#include <stdlib.h>
#include <string.h>

void sl_csv_init(sl_csv *r, const char *body, size_t len) {
    memset(r, 0, sizeof *r);
    r->p = body;
    r->end = body + len;
}

void sl_csv_free(sl_csv *r) {
    sl_buf_free(&r->text);
}

static void csv_put(sl_csv *r, char ch) {
    if (sl_buf_addc(&r->text, ch) != 0) r->oom = 1;
}

static int is_eol(char ch) {
    return ch == '\n' || ch == '\r';
}

static void csv_eol(sl_csv *r) {
    if (r->p < r->end && *r->p == '\r') r->p++;
    if (r->p < r->end && *r->p == '\n') r->p++;
}

static void csv_skip_line(sl_csv *r) {
    while (r->p < r->end && !is_eol(*r->p))
        r->p++;
    csv_eol(r);
}

int sl_csv_record(sl_csv *r, int *blank, const char **why) {
    r->text.len = 0;
    r->nf = 0;
    *blank = 0;
    if (r->p >= r->end) return 0;
    if (is_eol(*r->p)) {
        csv_eol(r);
        *blank = 1;
        return 1;
    }
    for (;;) {
        if (r->nf <= SL_CSV_MAX_FIELDS) r->start[r->nf] = r->text.len;
        r->nf++;
        if (r->p < r->end && *r->p == '"') {
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    *why = "a quoted field is never closed";
                    return -1;
                }
                if (*r->p == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        csv_put(r, '"');
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                csv_put(r, *r->p++);
            }
            if (r->p < r->end && *r->p != ',' && !is_eol(*r->p)) {
                *why = "text follows a closing quote; a field must be quoted whole";
                csv_skip_line(r);
                return -1;
            }
        } else {
            while (r->p < r->end && *r->p != ',' && !is_eol(*r->p)) {
                if (*r->p == '"') {
                    *why = "a quote inside an unquoted field; quote the whole field and double "
                           "its quotes";
                    csv_skip_line(r);
                    return -1;
                }
                csv_put(r, *r->p++);
            }
        }
        csv_put(r, '\0');
        if (r->p >= r->end) return 1;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        csv_eol(r);
        return 1;
    }
}

const char *sl_csv_field(const sl_csv *r, size_t i) {
    return r->text.data + r->start[i];
}
