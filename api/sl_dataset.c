/* Uploads into rows: the column table, content types, options, the error
 * list, and the row conversion (column resolution with aliases, prefixes and
 * the columns option, unit conversions, run states, skipped rows) that CSV,
 * JSON and NDJSON bodies share. CSV records come from sl_csv.c; the rows go
 * back out through sl_dataset_write.c. */
#include "sl_dataset.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_csv.h"
#include "sl_parse.h"

/* ------------------------------------------------------------------ tables */

static const char *const format_names[SL_DATASET_FORMAT_COUNT] = {"csv", "json", "ndjson"};

const char *sl_dataset_format_name(sl_dataset_format fmt) {
    return (unsigned)fmt < SL_DATASET_FORMAT_COUNT ? format_names[fmt] : "unknown";
}

int sl_dataset_format_parse(const char *text, sl_dataset_format *out) {
    for (int i = 0; i < SL_DATASET_FORMAT_COUNT; i++)
        if (text && strcmp(text, format_names[i]) == 0) {
            *out = (sl_dataset_format)i;
            return 0;
        }
    return -1;
}

const sl_dataset_media_type sl_dataset_media_types[] = {
    {"text/csv", SL_DATASET_CSV},
    {"application/json", SL_DATASET_JSON},
    {"application/x-ndjson", SL_DATASET_NDJSON},
    {"application/ndjson", SL_DATASET_NDJSON},
    {"application/jsonl", SL_DATASET_NDJSON},
    {"application/x-jsonlines", SL_DATASET_NDJSON},
};
const size_t sl_dataset_media_type_count =
    sizeof sl_dataset_media_types / sizeof sl_dataset_media_types[0];

const char *const sl_dataset_option_names[] = {"base_params", "tokens_per_step", "data_unit",
                                               "columns", "skip_invalid"};
const size_t sl_dataset_option_count =
    sizeof sl_dataset_option_names / sizeof sl_dataset_option_names[0];

/* The variables a row holds, and how a column turns into one. */
enum var {
    V_SPARSITY,
    V_NONZEROS,
    V_DATA,
    V_LOSS,
    V_RUN_ID,
    V_PATTERN,
    V_SEED,
    V_STATE, /* read to refuse rows of runs that did not finish; never stored */
    V_COUNT
};
enum conv { C_PLAIN, C_SCALE, C_TOTAL_PARAMS, C_DATA, C_STEPS, C_EXAMPLES, C_TOKENS, C_IGNORE };

static const char *const var_names[V_COUNT] = {"sparsity", "nonzeros", "data", "loss",
                                               "run_id",   "pattern",  "seed", "state"};

const sl_dataset_column sl_dataset_columns[] = {
    {"sparsity", "sparsity", NULL},
    {"nonzeros", "nonzeros", NULL},
    {"data", "data", "data_unit"},
    {"loss", "loss", NULL},
    {"run_id", "run_id", NULL},
    {"pattern", "pattern", NULL},
    {"seed", "seed", NULL},
    {"state", "state", NULL},  /* read, never stored: only finished runs are kept */
    {"State", "state", NULL},  /* W&B runs table export */
    {"status", "state", NULL}, /* MLflow search_runs */
    {"val-loss", "loss", NULL},
    {"val_loss", "loss", NULL},
    {"val/loss", "loss", NULL},
    {"scale", "nonzeros", "base_params"},
    {"total_params", "nonzeros", NULL},
    {"steps", "data", "tokens_per_step"},
    {"total_examples", "data", NULL},
    {"tokens", "data", NULL},
    {"", NULL, NULL}, /* the unnamed index column pandas writes first in a CSV */
    {"index", NULL, NULL},
    {"Unnamed: 0", NULL, NULL}, /* a pandas index read back and written again */
};
const size_t sl_dataset_column_count = sizeof sl_dataset_columns / sizeof sl_dataset_columns[0];

/* Parallel to sl_dataset_columns. */
static const struct {
    enum var var;
    enum conv conv;
} column_kind[] = {
    {V_SPARSITY, C_PLAIN},        /* sparsity */
    {V_NONZEROS, C_PLAIN},        /* nonzeros */
    {V_DATA, C_DATA},             /* data */
    {V_LOSS, C_PLAIN},            /* loss */
    {V_RUN_ID, C_PLAIN},          /* run_id */
    {V_PATTERN, C_PLAIN},         /* pattern */
    {V_SEED, C_PLAIN},            /* seed */
    {V_STATE, C_PLAIN},           /* state */
    {V_STATE, C_PLAIN},           /* State */
    {V_STATE, C_PLAIN},           /* status */
    {V_LOSS, C_PLAIN},            /* val-loss */
    {V_LOSS, C_PLAIN},            /* val_loss */
    {V_LOSS, C_PLAIN},            /* val/loss */
    {V_NONZEROS, C_SCALE},        /* scale */
    {V_NONZEROS, C_TOTAL_PARAMS}, /* total_params */
    {V_DATA, C_STEPS},            /* steps */
    {V_DATA, C_EXAMPLES},         /* total_examples */
    {V_DATA, C_TOKENS},           /* tokens */
    {V_COUNT, C_IGNORE},          /* "" */
    {V_COUNT, C_IGNORE},          /* index */
    {V_COUNT, C_IGNORE},          /* Unnamed: 0 */
};
_Static_assert(sizeof column_kind / sizeof column_kind[0] ==
                   sizeof sl_dataset_columns / sizeof sl_dataset_columns[0],
               "column_kind must parallel sl_dataset_columns");

static long column_index(const char *name) {
    for (size_t i = 0; i < sl_dataset_column_count; i++)
        if (strcmp(sl_dataset_columns[i].name, name) == 0) return (long)i;
    return -1;
}

const sl_dataset_column *sl_dataset_column_find(const char *name) {
    long i = name ? column_index(name) : -1;
    return i < 0 ? NULL : &sl_dataset_columns[i];
}

/* W&B flattens a run's config and summary under these; MLflow's search_runs
 * its params and metrics. tags. is not one: tags are text, never a value. */
const char *const sl_dataset_column_prefixes[] = {"params.", "config.", "metrics.", "summary."};
const size_t sl_dataset_column_prefix_count =
    sizeof sl_dataset_column_prefixes / sizeof sl_dataset_column_prefixes[0];

/* name without its prefix, or name itself when it has none. */
static const char *strip_prefix(const char *name) {
    for (size_t i = 0; i < sl_dataset_column_prefix_count; i++) {
        size_t n = strlen(sl_dataset_column_prefixes[i]);
        if (strncmp(name, sl_dataset_column_prefixes[i], n) == 0 && name[n]) return name + n;
    }
    return name;
}

/* The entry a column name stands for: its own, else (for an entry that
 * gives a variable) the one it names after a prefix; -1 when none. */
static long lookup_column(const char *name) {
    long k = column_index(name);
    if (k >= 0) return k;
    const char *base = strip_prefix(name);
    k = base == name ? -1 : column_index(base);
    return k >= 0 && sl_dataset_columns[k].gives ? k : -1;
}

/* ------------------------------------------------------------ content type */

static const char *skip_ows(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int sl_dataset_format_from_content_type(const char *content_type, sl_dataset_format *fmt,
                                        sl_error *err) {
    static const char accepted[] =
        "text/csv, application/json or application/x-ndjson (also application/ndjson)";
    if (!content_type || !*skip_ows(content_type))
        return sl_error_set(err, SL_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                            "the upload needs a Content-Type: %s", accepted);
    const char *p = skip_ows(content_type);
    size_t n = strcspn(p, "; \t");
    long found = -1;
    for (size_t i = 0; i < sl_dataset_media_type_count; i++)
        if (strlen(sl_dataset_media_types[i].type) == n &&
            strncasecmp(p, sl_dataset_media_types[i].type, n) == 0)
            found = (long)i;
    if (found < 0)
        return sl_error_set(err, SL_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                            "Content-Type '%.*s' is not accepted for uploads; send %s",
                            (int)(n > 80 ? 80 : n), p, accepted);
    /* Parameters: only charset matters, and it must be UTF-8 (or its subset). */
    p += n;
    while (*p) {
        p = skip_ows(p);
        if (*p != ';') {
            p += strcspn(p, ";");
            continue;
        }
        p = skip_ows(p + 1);
        size_t klen = strcspn(p, "=; \t");
        if (klen == 7 && strncasecmp(p, "charset", 7) == 0) {
            const char *v = skip_ows(p + klen);
            if (*v == '=') v = skip_ows(v + 1);
            int quoted = *v == '"';
            if (quoted) v++;
            size_t vlen = strcspn(v, quoted ? "\"" : "; \t");
            if (!((vlen == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
                  (vlen == 4 && strncasecmp(v, "utf8", 4) == 0) ||
                  (vlen == 8 && strncasecmp(v, "us-ascii", 8) == 0)))
                return sl_error_set(err, SL_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type",
                                    "uploads must be UTF-8; charset '%.*s' is not accepted",
                                    (int)(vlen > 40 ? 40 : vlen), v);
        }
        p += strcspn(p, ";");
    }
    *fmt = sl_dataset_media_types[found].format;
    return 0;
}

/* ----------------------------------------------------------------- options */

/* The columns option, parsed: pair i reads the column src[i] (len[i] bytes
 * of the option's text) as the entry k[i] of sl_dataset_columns. */
typedef struct colmap {
    long k[V_COUNT];
    const char *src[V_COUNT];
    size_t len[V_COUNT];
    size_t n;
} colmap;

/* 0, or -1 with why (cap bytes) saying what is wrong. Each pair's target
 * must give a variable no other pair gives, and no column may be named
 * twice: anything else would leave which column wins to chance. */
static int colmap_parse(const char *text, colmap *m, char *why, size_t cap) {
    memset(m, 0, sizeof *m);
    if (!text || !*text) {
        snprintf(why, cap, "columns is empty; give target:column pairs such as loss:my_loss");
        return -1;
    }
    for (const char *p = text;; p++) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        const char *colon = memchr(p, ':', n);
        int shown = (int)(n > 60 ? 60 : n);
        if (n == 0) {
            snprintf(why, cap,
                     "columns has an empty pair; give target:column pairs separated "
                     "by commas, such as loss:my_loss,data:tok");
            return -1;
        }
        if (!colon) {
            snprintf(why, cap,
                     "'%.*s' in columns has no ':'; write target:column pairs, e.g. "
                     "loss:my_loss,data:tok",
                     shown, p);
            return -1;
        }
        size_t tlen = (size_t)(colon - p);
        while (tlen && p[tlen - 1] == ' ')
            tlen--;
        char target[32];
        long k = -1;
        if (tlen < sizeof target) {
            memcpy(target, p, tlen);
            target[tlen] = '\0';
            k = column_index(target);
        }
        if (k < 0 || !sl_dataset_columns[k].gives) {
            snprintf(why, cap,
                     "'%.*s' in columns is not a column name this upload reads; targets are "
                     "sparsity, nonzeros, data, loss, run_id, pattern, seed, state and their "
                     "aliases (val-loss, scale, total_params, steps, total_examples, tokens)",
                     (int)(tlen > 40 ? 40 : tlen), p);
            return -1;
        }
        const char *src = colon + 1;
        size_t slen = n - (size_t)(src - p);
        if (slen == 0) {
            snprintf(why, cap, "'%.*s' in columns names no column after ':'", shown, p);
            return -1;
        }
        enum var v = column_kind[k].var;
        for (size_t i = 0; i < m->n; i++) {
            if (column_kind[m->k[i]].var == v) {
                snprintf(why, cap, "columns gives %s twice (%s and %s); name one column for it",
                         var_names[v], sl_dataset_columns[m->k[i]].name, target);
                return -1;
            }
            if (m->len[i] == slen && memcmp(m->src[i], src, slen) == 0) {
                snprintf(why, cap, "columns names column '%.*s' twice; a column gives one thing",
                         (int)(slen > 60 ? 60 : slen), src);
                return -1;
            }
        }
        m->k[m->n] = k; /* the checks above keep n below V_COUNT */
        m->src[m->n] = src;
        m->len[m->n++] = slen;
        p += n;
        if (!*p) return 0;
    }
}

int sl_dataset_option_set(sl_dataset_options *opt, const char *name, const char *text,
                          sl_error *err) {
    double v;
    if (strcmp(name, "base_params") == 0 || strcmp(name, "tokens_per_step") == 0) {
        if (sl_parse_number(name, text, &sl_range_positive, &v, err) != 0) return -1;
        if (name[0] == 'b') {
            opt->has_base_params = 1;
            opt->base_params = v;
        } else {
            opt->has_tokens_per_step = 1;
            opt->tokens_per_step = v;
        }
        return 0;
    }
    if (strcmp(name, "data_unit") == 0) {
        sl_data_unit u;
        if (sl_data_unit_parse(text, &u) != 0)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                                "data_unit must be tokens, examples or steps (got '%.40s')",
                                text ? text : "");
        opt->has_data_unit = 1;
        opt->data_unit = u;
        return 0;
    }
    if (strcmp(name, "columns") == 0) {
        colmap m;
        char why[224];
        if (colmap_parse(text, &m, why, sizeof why) != 0)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name, "%s", why);
        opt->columns = text;
        return 0;
    }
    if (strcmp(name, "skip_invalid") == 0) {
        if (!text || (strcmp(text, "true") != 0 && strcmp(text, "false") != 0))
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, name,
                                "skip_invalid must be true or false (got '%.40s')",
                                text ? text : "");
        opt->skip_invalid = text[0] == 't';
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ errors */

static int code_rank(sl_err_code c) {
    switch (c) {
    case SL_ERR_UNSUPPORTED_MEDIA_TYPE: return 9;
    case SL_ERR_PAYLOAD_TOO_LARGE: return 8;
    case SL_ERR_INVALID_JSON: return 7;
    case SL_ERR_INVALID_BODY: return 6;
    case SL_ERR_MISSING_PARAMETER: return 5;
    case SL_ERR_INVALID_PARAMETER: return 4;
    case SL_ERR_UNIT_MISMATCH: return 3;
    case SL_ERR_UNPROCESSABLE: return 2;
    case SL_ERR_NONE: return 0;
    default: return 1;
    }
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
    if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogates */
    if (c == 0xF0 && p[1] < 0x90) return 0;  /* overlong */
    if (c == 0xF4 && p[1] >= 0x90) return 0; /* above U+10FFFF */
    return len;
}

/* Keeps messages encodable as JSON and safe in logs: control characters and
 * any byte that is not part of valid UTF-8 (a sequence cut by truncation)
 * become '?'. */
static void clean_text(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0 || c < 0x20 || c == 0x7f) {
            s[i] = '?';
            i++;
        } else {
            i += k;
        }
    }
}

static void add_error(sl_dataset_errors *e, sl_err_code code, size_t row, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add_error(sl_dataset_errors *e, sl_err_code code, size_t row, const char *field,
                      const char *fmt, ...) {
    if (code_rank(code) > code_rank(e->code)) e->code = code;
    if (e->count == SL_DATASET_MAX_ERRORS) {
        e->omitted++;
        return;
    }
    sl_dataset_error *it = &e->items[e->count++];
    it->row = row;
    snprintf(it->field, sizeof it->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof it->reason, fmt, ap);
    va_end(ap);
    clean_text(it->field);
    clean_text(it->reason);
}

static size_t error_total(const sl_dataset_errors *e) {
    return e->count + e->omitted;
}

/* {row (null for 0), field (null for ""), reason}: an error, or a skipped row. */
static json_t *item_json(size_t row, const char *field, const char *reason) {
    return json_pack("{s:o, s:o, s:s}", "row", row ? json_integer((json_int_t)row) : json_null(),
                     "field", field[0] ? json_string(field) : json_null(), "reason", reason);
}

json_t *sl_dataset_errors_json(const sl_dataset_errors *errs) {
    sl_err_code code =
        (errs->code > SL_ERR_NONE && errs->code < SL_ERR_COUNT) ? errs->code : SL_ERR_UNPROCESSABLE;
    char msg[400];
    size_t total = error_total(errs);
    if (errs->count == 0) {
        snprintf(msg, sizeof msg, "the upload was rejected; nothing was stored");
    } else {
        const sl_dataset_error *f = &errs->items[0];
        char where[100];
        if (f->row)
            snprintf(where, sizeof where, "row %zu%s%s", f->row, f->field[0] ? ", " : "", f->field);
        else
            snprintf(where, sizeof where, "%s", f->field[0] ? f->field : "upload");
        if (total == 1)
            snprintf(msg, sizeof msg, "%s: %s; nothing was stored", where, f->reason);
        else
            snprintf(msg, sizeof msg,
                     "%zu problems in the upload, nothing was stored; first: %s: %s", total, where,
                     f->reason);
    }
    clean_text(msg);
    json_t *list = json_array();
    for (size_t i = 0; i < errs->count; i++) {
        const sl_dataset_error *it = &errs->items[i];
        json_array_append_new(list, item_json(it->row, it->field, it->reason));
    }
    json_t *e = json_pack("{s:s, s:s, s:o}", "code", sl_err_table[code].code, "message", msg,
                          "errors", list);
    if (total == 1 && errs->items[0].field[0])
        json_object_set_new(e, "field", json_string(errs->items[0].field));
    if (errs->omitted) json_object_set_new(e, "omitted", json_integer((json_int_t)errs->omitted));
    return json_pack("{s:o}", "error", e);
}

int sl_dataset_report_json(const sl_dataset *ds, json_t *obj) {
    json_t *ignored = json_array(), *skipped = json_array();
    int rc = ignored && skipped ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ds->nignored; i++)
        rc = json_array_append_new(ignored, json_string(ds->ignored[i]));
    for (size_t i = 0; rc == 0 && i < ds->nskipped; i++) {
        const sl_dataset_skip *s = &ds->skipped[i];
        rc = json_array_append_new(skipped, item_json(s->row, s->field, s->reason));
    }
    if (rc == 0)
        rc = json_object_set_new(obj, "ignored_columns", ignored);
    else
        json_decref(ignored);
    if (rc == 0)
        rc = json_object_set_new(obj, "skipped", skipped);
    else
        json_decref(skipped);
    return rc;
}

/* ----------------------------------------------------------------- parsing */

/* Distinct columns of an upload: a CSV header may name as many, so the
 * reader keeps that many fields. */
#define MAX_COLS SL_CSV_MAX_FIELDS

enum cell_kind { CELL_ABSENT, CELL_EMPTY, CELL_TEXT, CELL_JSON };

typedef struct cell {
    enum cell_kind kind;
    const char *text;   /* CELL_TEXT */
    const json_t *json; /* CELL_JSON, never JSON null (that is CELL_EMPTY) */
} cell;

/* The parse's state; big (a row of cells, a scratch error list), so it
 * lives on the heap. */
typedef struct ctx {
    const sl_dataset_options *opt;
    sl_dataset_errors *errs; /* where problems go: the upload's, or row_errs for one row */
    sl_dataset_format fmt;
    size_t max_rows;
    char *names[MAX_COLS];
    size_t first_row[MAX_COLS]; /* rows layouts: the row a key first appears in */
    long kind[MAX_COLS];        /* index into sl_dataset_columns, -1 when ignored */
    size_t ncols;
    int src[V_COUNT]; /* column giving each variable, -1 when none */
    colmap map;       /* the columns option */
    sl_data_unit unit;
    sl_dataset_row *rows;
    size_t nrows, cap;
    sl_dataset_skip *skipped; /* skip_invalid: the rows left out */
    size_t nskipped, skip_cap;
    sl_dataset_errors row_errs; /* skip_invalid: the problems of the row being read */
    cell cells[MAX_COLS];       /* the row being read, one per column */
    int oom;
} ctx;

static int failed(const ctx *c) {
    return c->oom || error_total(c->errs) > 0;
}

/* Adds a column name (copied) to the union; -1 with an error when full. */
static long add_column(ctx *c, const char *name, size_t first_row) {
    for (size_t j = 0; j < c->ncols; j++)
        if (strcmp(c->names[j], name) == 0) return (long)j;
    if (c->ncols == MAX_COLS) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, first_row, "",
                  "the upload has more than %d distinct columns", MAX_COLS);
        return -1;
    }
    char *copy = strdup(name);
    if (!copy) {
        c->oom = 1;
        return -1;
    }
    c->names[c->ncols] = copy;
    c->first_row[c->ncols] = first_row;
    return (long)c->ncols++;
}

/* The conversion of the column that gives variable v; C_IGNORE when none. */
static enum conv source_conv(const ctx *c, enum var v) {
    return c->src[v] >= 0 ? column_kind[c->kind[c->src[v]]].conv : C_IGNORE;
}

/* The entry the columns option reads column `name` as, or -1. */
static long mapped_kind(const ctx *c, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < c->map.n; i++)
        if (c->map.len[i] == n && memcmp(c->map.src[i], name, n) == 0) return c->map.k[i];
    return -1;
}

/* 1 when the columns option says which column gives v. */
static int mapped_var(const ctx *c, enum var v) {
    for (size_t i = 0; i < c->map.n; i++)
        if (column_kind[c->map.k[i]].var == v) return 1;
    return 0;
}

/* Column j: its entry in sl_dataset_columns (c->kind[j], -1 when ignored or
 * refused) and the variable it gives (c->src), or an error. A column the
 * columns option names is read as its target; any other column is read by
 * its name (or its name after a prefix), unless the option names another
 * column for that variable; a column none of this reads is ignored. */
static void resolve_column(ctx *c, size_t j) {
    const char *name = c->names[j];
    size_t row = c->first_row[j];
    c->kind[j] = -1;
    if (name[0] == '\0' && !(c->fmt == SL_DATASET_CSV && j == 0)) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, "",
                  "column %zu has an empty name (only a leading pandas index column may)", j + 1);
        return;
    }
    long k = mapped_kind(c, name);
    if (k < 0) {
        k = lookup_column(name);
        if (k < 0 || column_kind[k].var == V_COUNT || mapped_var(c, column_kind[k].var)) return;
    }
    if (c->fmt == SL_DATASET_CSV) {
        int dup = 0;
        for (size_t i = 0; i < j; i++)
            dup |= strcmp(c->names[i], name) == 0;
        if (dup) {
            add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, name,
                      "column '%s' appears more than once in the header", name);
            return;
        }
    }
    enum var v = column_kind[k].var;
    c->kind[j] = k;
    if (c->src[v] >= 0) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, name,
                  "columns '%s' and '%s' both give %s; keep one, or choose one with "
                  "?columns=%s:<column>",
                  c->names[c->src[v]], name, var_names[v], var_names[v]);
        return;
    }
    c->src[v] = (int)j;
}

/* Every column the columns option names must be in the upload. */
static void check_mapped_columns_exist(ctx *c) {
    for (size_t i = 0; i < c->map.n; i++) {
        int found = 0;
        for (size_t j = 0; j < c->ncols && !found; j++)
            found = strlen(c->names[j]) == c->map.len[i] &&
                    memcmp(c->names[j], c->map.src[i], c->map.len[i]) == 0;
        if (!found) {
            int n = (int)(c->map.len[i] > 60 ? 60 : c->map.len[i]);
            add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "columns",
                      "columns reads %s from '%.*s', but the upload has no column '%.*s'",
                      sl_dataset_columns[c->map.k[i]].name, n, c->map.src[i], n, c->map.src[i]);
        }
    }
}

/* Edit distance between a and b, ignoring case; past 3 it stops counting. */
static size_t distance_ci(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64 || (la > lb ? la - lb : lb - la) > 3) return 4;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb] > 3 ? 4 : prev[lb];
}

/* The ignored column whose name (after a prefix) is the nearest miss of a
 * name giving v, as `Loss` or `sparsty` are: its index and that name in
 * *hint, or -1. Short names must match but for case; longer ones may be off
 * by one letter, from 6 letters on by two. */
static long near_miss(const ctx *c, enum var v, const char **hint) {
    long best = -1;
    size_t best_d = 4;
    for (size_t j = 0; j < c->ncols; j++) {
        if (c->kind[j] >= 0 || !c->names[j][0]) continue;
        const char *base = strip_prefix(c->names[j]);
        for (size_t i = 0; i < sl_dataset_column_count; i++) {
            const char *cand = sl_dataset_columns[i].name;
            if (column_kind[i].var != v) continue;
            size_t shorter = strlen(base) < strlen(cand) ? strlen(base) : strlen(cand);
            size_t allowed = shorter >= 6 ? 2 : shorter >= 4 ? 1 : 0;
            size_t d = distance_ci(base, cand);
            if (d <= allowed && d < best_d) {
                best = (long)j;
                best_d = d;
                *hint = cand;
            }
        }
    }
    return best;
}

/* Sparsity, nonzeros, data and loss each need a column. When an ignored
 * column looks like the one missing, the error names it. */
static void require_variables(ctx *c) {
    static const char *const expected[] = {
        "sparsity", "nonzeros, scale (with base_params) or total_params",
        "data, steps, total_examples or tokens", "loss, val-loss, val_loss or val/loss"};
    for (int v = V_SPARSITY; v <= V_LOSS; v++) {
        if (c->src[v] >= 0 || mapped_var(c, (enum var)v)) continue; /* else the columns error */
        const char *hint = NULL;
        long j = near_miss(c, (enum var)v, &hint);
        if (j >= 0)
            add_error(c->errs, SL_ERR_UNPROCESSABLE, c->first_row[j], c->names[j],
                      "no column gives %s and column '%s' was ignored: did you mean '%s'? "
                      "(or read it as %s with ?columns=%s:%s)",
                      var_names[v], c->names[j], hint, hint, hint, c->names[j]);
        else
            add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, var_names[v],
                      "no column gives %s; expected %s (a params., config., metrics. or "
                      "summary. prefix allowed), or name it with ?columns=%s:<column>",
                      var_names[v], expected[v], var_names[v]);
    }
}

/* base_params and tokens_per_step: needed by, and only for, a scale and a
 * steps column (nz and dc: the conversions of the nonzeros and data ones). */
static void check_conversion_options(ctx *c, enum conv nz, enum conv dc) {
    const sl_dataset_options *o = c->opt;
    if (nz == C_SCALE && !o->has_base_params)
        add_error(c->errs, SL_ERR_MISSING_PARAMETER, 0, "base_params",
                  "the scale column needs the base_params option "
                  "(nonzeros = base_params x scale x (1 - sparsity))");
    if (nz != C_SCALE && o->has_base_params && nz != C_IGNORE)
        add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "base_params",
                  "base_params applies only to a scale column, and this upload has none");
    if (dc != C_STEPS && o->has_tokens_per_step && dc != C_IGNORE)
        add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "tokens_per_step",
                  "tokens_per_step applies only to a steps column, and this upload has none");
}

/* The unit the rows' data will be in (c->unit), from the data column's
 * conversion dc; a data_unit option must agree with the unit it implies. */
static void resolve_data_unit(ctx *c, enum conv dc) {
    const sl_dataset_options *o = c->opt;
    sl_data_unit implied = SL_UNIT_TOKENS;
    const char *why = NULL;
    switch (dc) {
    case C_DATA: implied = o->has_data_unit ? o->data_unit : SL_UNIT_TOKENS; break;
    case C_TOKENS:
        implied = SL_UNIT_TOKENS;
        why = "the tokens column is in tokens";
        break;
    case C_EXAMPLES:
        implied = SL_UNIT_EXAMPLES;
        why = "the total_examples column is in examples";
        break;
    case C_STEPS:
        implied = o->has_tokens_per_step ? SL_UNIT_TOKENS : SL_UNIT_STEPS;
        why = o->has_tokens_per_step
                  ? "steps x tokens_per_step is in tokens"
                  : "the steps column is in steps (give tokens_per_step to turn it into tokens)";
        break;
    default: break;
    }
    if (why && o->has_data_unit && o->data_unit != implied)
        add_error(c->errs, SL_ERR_UNIT_MISMATCH, 0, "data_unit", "data_unit=%s conflicts: %s",
                  sl_data_unit_name(o->data_unit), why);
    c->unit = implied;
}

/* Maps the columns to variables, checks each variable has one source, the
 * options and the data unit. Every problem becomes an error. */
static void resolve_columns(ctx *c) {
    for (int v = 0; v < V_COUNT; v++)
        c->src[v] = -1;
    check_mapped_columns_exist(c);
    for (size_t j = 0; j < c->ncols; j++)
        resolve_column(c, j);
    require_variables(c);
    enum conv nz = source_conv(c, V_NONZEROS), dc = source_conv(c, V_DATA);
    check_conversion_options(c, nz, dc);
    resolve_data_unit(c, dc);
}

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_STRING: return "a string";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_NULL: return "null";
    default: return "a number";
    }
}

static int cell_missing(ctx *c, size_t row, const char *col, const cell *cl, const char *want) {
    if (cl->kind == CELL_ABSENT)
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, col, "is missing; expected %s", want);
    else if (cl->kind == CELL_EMPTY)
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, col, "is %s; expected %s",
                  c->fmt == SL_DATASET_CSV ? "empty" : "null", want);
    else
        return 0;
    return 1;
}

/* A required number in range; 0, or -1 with the error added. */
static int cell_number(ctx *c, size_t row, int col, const cell *cl, const sl_range *range,
                       double *out) {
    const char *name = c->names[col];
    char want[64];
    snprintf(want, sizeof want, "a number %s", range->what);
    if (cell_missing(c, row, name, cl, want)) return -1;
    double v;
    if (cl->kind == CELL_TEXT) {
        if (sl_parse_double(cl->text, &v) != 0) {
            add_error(c->errs, SL_ERR_UNPROCESSABLE, row, name,
                      "must be a finite number %s (got '%.40s')", range->what, cl->text);
            return -1;
        }
    } else if (json_is_number(cl->json)) {
        v = json_number_value(cl->json);
        /* Below DBL_MIN is zero, as sl_parse_double reads the same text in a
         * CSV cell: else the rows, written out as CSV, would not read back. */
        if (fabs(v) < DBL_MIN) v = 0.0;
    } else {
        if (json_is_string(cl->json))
            add_error(c->errs, SL_ERR_UNPROCESSABLE, row, name,
                      "must be a JSON number %s, not a string (\"%.40s\")", range->what,
                      json_string_value(cl->json));
        else
            add_error(c->errs, SL_ERR_UNPROCESSABLE, row, name, "must be a JSON number %s, not %s",
                      range->what, json_type_name(cl->json));
        return -1;
    }
    v += 0.0; /* -0 reads back as 0 */
    if (!sl_range_contains(range, v)) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, name, "must be %s (got %.17g)", range->what,
                  v);
        return -1;
    }
    *out = v;
    return 0;
}

/* An optional text cell: 0 absent, 1 present (*text set), -1 error added. */
static int cell_text(ctx *c, size_t row, int col, const cell *cl, const char **text) {
    const char *name = c->names[col];
    if (cl->kind == CELL_ABSENT || cl->kind == CELL_EMPTY) return 0;
    if (cl->kind == CELL_TEXT) {
        *text = cl->text;
        return 1;
    }
    if (!json_is_string(cl->json)) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, name, "must be a string, not %s",
                  json_type_name(cl->json));
        return -1;
    }
    *text = json_string_value(cl->json);
    return 1;
}

static int seed_from_text(const char *s, long long *out) {
    size_t n = strlen(s), sign = (s[0] == '-' || s[0] == '+');
    if (n > sign && strspn(s + sign, "0123456789") == n - sign) {
        errno = 0;
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (errno == ERANGE || *end) return -1;
        *out = v;
        return 0;
    }
    double d;
    if (sl_parse_double(s, &d) == 0 && d == floor(d) && fabs(d) <= 9007199254740992.0) {
        *out = (long long)d; /* "3.0", as pandas writes an integer column holding a gap */
        return 0;
    }
    return -1;
}

/* The four numbers of a row (v[V_SPARSITY..V_LOSS]), each in its range;
 * have[k] says which were read. 1 when any is missing or invalid. */
static int row_numbers(ctx *c, size_t row, const cell *cells, double v[4], int have[4]) {
    static const sl_range *const ranges[4] = {&sl_range_sparsity, &sl_range_positive,
                                              &sl_range_positive, &sl_range_positive};
    int bad = 0;
    for (int k = V_SPARSITY; k <= V_LOSS; k++) {
        int col = c->src[k];
        have[k] = cell_number(c, row, col, &cells[col], ranges[k], &v[k]) == 0;
        bad |= !have[k];
    }
    return bad;
}

/* A scale or total_params column into nonzeros: x (1 - sparsity), and x
 * base_params for a scale. 1 when it cannot be converted. */
static int row_nonzeros(ctx *c, size_t row, double v[4], const int have[4]) {
    const sl_dataset_options *o = c->opt;
    enum conv nz = source_conv(c, V_NONZEROS);
    if (!have[V_NONZEROS] || (nz != C_SCALE && nz != C_TOTAL_PARAMS)) return 0;
    if (!have[V_SPARSITY]) return 1; /* the sparsity error says why */
    double n = nz == C_SCALE ? o->base_params * v[V_NONZEROS] * (1.0 - v[V_SPARSITY])
                             : v[V_NONZEROS] * (1.0 - v[V_SPARSITY]);
    v[V_NONZEROS] = n;
    if (isfinite(n) && n > 0) return 0;
    add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[c->src[V_NONZEROS]],
              "gives nonzeros = %g, not a finite positive number", n);
    return 1;
}

/* A steps column with tokens_per_step into data in tokens. 1 when it cannot
 * be converted. */
static int row_data(ctx *c, size_t row, double v[4], const int have[4]) {
    const sl_dataset_options *o = c->opt;
    if (!have[V_DATA] || source_conv(c, V_DATA) != C_STEPS || !o->has_tokens_per_step) return 0;
    double d = v[V_DATA] * o->tokens_per_step;
    v[V_DATA] = d;
    if (isfinite(d) && d > 0) return 0;
    add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[c->src[V_DATA]],
              "gives data = %g tokens, not a finite positive number", d);
    return 1;
}

/* The optional run_id into r->run_id (copied only while the upload can still
 * be kept: bad says this row has failed already). 1 when invalid. */
static int row_run_id(ctx *c, size_t row, const cell *cells, int bad, sl_dataset_row *r) {
    int col = c->src[V_RUN_ID];
    const char *text = NULL;
    if (col < 0) return 0;
    int got = cell_text(c, row, col, &cells[col], &text);
    if (got <= 0) return got < 0;
    size_t n = strlen(text), ctl = 0;
    for (size_t i = 0; i < n; i++)
        ctl += (unsigned char)text[i] < 0x20 || text[i] == 0x7f;
    if (n == 0 || n > SL_DATASET_RUN_ID_MAX || ctl) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col],
                  "must be 1 to %d bytes of text without control characters (got %zu bytes)",
                  SL_DATASET_RUN_ID_MAX, n);
        return 1;
    }
    if (!bad && !failed(c)) {
        r->run_id = strdup(text);
        if (!r->run_id) c->oom = 1;
    }
    return 0;
}

/* The optional n:m pattern into r->pattern; 1 - n/m must be the row's
 * sparsity (when it has one). 1 when invalid. */
static int row_pattern(ctx *c, size_t row, const cell *cells, const double v[4], const int have[4],
                       sl_dataset_row *r) {
    int col = c->src[V_PATTERN];
    const char *text = NULL;
    int pn, pm;
    sl_error tmp;
    if (col < 0) return 0;
    int got = cell_text(c, row, col, &cells[col], &text);
    if (got <= 0) return got < 0;
    if (sl_parse_pattern(c->names[col], text, &pn, &pm, &tmp) != 0) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col],
                  "must be an n:m pattern with 1 <= n < m <= 64, such as 2:4 (got '%.40s')", text);
        return 1;
    }
    double implied = 1.0 - (double)pn / (double)pm;
    snprintf(r->pattern, sizeof r->pattern, "%d:%d", pn, pm);
    if (!have[V_SPARSITY] || fabs(implied - v[V_SPARSITY]) <= SL_DATASET_PATTERN_TOL) return 0;
    add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col],
              "pattern %d:%d means sparsity %.17g, but the row's sparsity is %.17g", pn, pm,
              implied, v[V_SPARSITY]);
    return 1;
}

/* The optional integer seed into r: text, a JSON integer, or a JSON real
 * that holds an integer exactly. 1 when invalid. */
static int row_seed(ctx *c, size_t row, const cell *cells, sl_dataset_row *r) {
    int col = c->src[V_SEED];
    if (col < 0) return 0;
    const cell *cl = &cells[col];
    const json_t *j = cl->kind == CELL_JSON ? cl->json : NULL;
    if (cl->kind == CELL_TEXT) {
        if (seed_from_text(cl->text, &r->seed) == 0) {
            r->has_seed = 1;
            return 0;
        }
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col],
                  "must be an integer (got '%.40s')", cl->text);
        return 1;
    }
    if (j && json_is_integer(j)) {
        r->seed = (long long)json_integer_value(j);
        r->has_seed = 1;
        return 0;
    }
    if (j && json_is_real(j) && json_real_value(j) == floor(json_real_value(j)) &&
        fabs(json_real_value(j)) <= 9007199254740992.0) {
        r->seed = (long long)json_real_value(j);
        r->has_seed = 1;
        return 0;
    }
    if (!j) return 0;
    if (json_is_real(j))
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col],
                  "must be an integer (got %.17g)", json_real_value(j));
    else
        add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col], "must be an integer, not %s",
                  json_type_name(j));
    return 1;
}

/* Appends r; on failure to grow, frees its run_id and marks the upload out
 * of memory. */
static void append_row(ctx *c, const sl_dataset_row *r) {
    if (c->nrows == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        sl_dataset_row *grown = realloc(c->rows, cap * sizeof *grown);
        if (!grown) {
            free(r->run_id);
            c->oom = 1;
            return;
        }
        c->rows = grown;
        c->cap = cap;
    }
    c->rows[c->nrows++] = *r;
}

/* The optional run state: only a finished run's row is kept, since a run
 * that failed, crashed, was killed or still runs did not train on the data
 * its row states. 1 when the row is refused. */
static int row_state(ctx *c, size_t row, const cell *cells) {
    static const struct {
        const char *state, *what;
    } said[] = {{"failed", "the run failed"},           {"crashed", "the run crashed"},
                {"killed", "the run was killed"},       {"running", "the run is still running"},
                {"pending", "the run has not started"}, {"scheduled", "the run has not started"}};
    int col = c->src[V_STATE];
    const char *text = NULL;
    if (col < 0) return 0;
    int got = cell_text(c, row, col, &cells[col], &text);
    if (got <= 0) return got < 0;
    if (strcasecmp(text, "finished") == 0) return 0;
    const char *what = "the run did not finish";
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++)
        if (strcasecmp(text, said[i].state) == 0) what = said[i].what;
    add_error(c->errs, SL_ERR_UNPROCESSABLE, row, c->names[col],
              "%s (state '%.40s'): only a finished run's row is stored; ?skip_invalid=true "
              "leaves such rows out",
              what, text);
    return 1;
}

/* skip_invalid: row is left out, with the first problem found in it. */
static void skip_row(ctx *c, size_t row) {
    const sl_dataset_error *first = c->row_errs.count ? &c->row_errs.items[0] : NULL;
    if (!first) return; /* out of memory, which the upload reports */
    if (c->nskipped == c->skip_cap) {
        size_t cap = c->skip_cap ? 2 * c->skip_cap : 16;
        sl_dataset_skip *grown = realloc(c->skipped, cap * sizeof *grown);
        if (!grown) {
            c->oom = 1;
            return;
        }
        c->skipped = grown;
        c->skip_cap = cap;
    }
    size_t nf = strlen(first->field), nr = strlen(first->reason);
    char *text = malloc(nf + nr + 2);
    if (!text) {
        c->oom = 1;
        return;
    }
    memcpy(text, first->field, nf + 1);
    memcpy(text + nf + 1, first->reason, nr + 1);
    c->skipped[c->nskipped++] = (sl_dataset_skip){row, text, text + nf + 1};
}

/* One data row: every cell checked (each problem an error), then kept as a
 * row while the upload has no error. With skip_invalid the row's problems
 * are its own: a bad row is left out and the upload goes on. */
static void convert_row(ctx *c, size_t row, const cell *cells) {
    double v[4] = {0, 0, 0, 0};
    int have[4] = {0, 0, 0, 0};
    sl_dataset_row r;
    memset(&r, 0, sizeof r);
    sl_dataset_errors *upload_errs = c->errs;
    if (c->opt->skip_invalid) {
        c->row_errs.code = SL_ERR_NONE;
        c->row_errs.count = c->row_errs.omitted = 0;
        c->errs = &c->row_errs;
    }
    int bad = row_state(c, row, cells);
    bad |= row_numbers(c, row, cells, v, have);
    bad |= row_nonzeros(c, row, v, have);
    bad |= row_data(c, row, v, have);
    bad |= row_run_id(c, row, cells, bad, &r);
    bad |= row_pattern(c, row, cells, v, have, &r);
    bad |= row_seed(c, row, cells, &r);
    c->errs = upload_errs;
    if (c->opt->skip_invalid && (bad || error_total(&c->row_errs) > 0)) {
        free(r.run_id);
        skip_row(c, row);
        return;
    }
    if (bad || failed(c)) {
        free(r.run_id);
        /* All-or-nothing: once anything failed, keep checking but hold no rows. */
        sl_dataset_rows_free(c->rows, c->nrows);
        c->rows = NULL;
        c->nrows = c->cap = 0;
        return;
    }
    r.sparsity = v[V_SPARSITY];
    r.nonzeros = v[V_NONZEROS];
    r.data = v[V_DATA];
    r.loss = v[V_LOSS];
    append_row(c, &r);
}

/* Over the row cap: one error at the first row too many, and the whole
 * upload stops there. `rows` is the count so far (or the total, when known). */
static int too_many(ctx *c, size_t rows) {
    if (rows <= c->max_rows) return 0;
    add_error(c->errs, SL_ERR_PAYLOAD_TOO_LARGE, c->max_rows + 1, "",
              "the upload has more than %zu rows; split it and append with "
              "POST /v1/datasets/{id}/rows",
              c->max_rows);
    return 1;
}

static void no_rows(ctx *c, const char *what) {
    add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, "", "the upload has no data rows (%s)", what);
}

/* Fills cells from a row object (one per column). */
static void object_cells(const ctx *c, const json_t *obj, cell *cells) {
    for (size_t j = 0; j < c->ncols; j++) {
        const json_t *v = json_object_get(obj, c->names[j]);
        cells[j].kind = !v ? CELL_ABSENT : json_is_null(v) ? CELL_EMPTY : CELL_JSON;
        cells[j].json = v;
        cells[j].text = NULL;
    }
}

/* ---- CSV */

static void parse_csv(ctx *c, const char *body, size_t len) {
    sl_csv r;
    sl_csv_init(&r, body, len);
    int blank = 0, st;
    const char *why = NULL;
    while ((st = sl_csv_record(&r, &blank, &why)) == 1 && blank) {
    }
    if (r.oom) goto oom;
    if (st == 0) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, "", "the upload is empty");
        goto done;
    }
    if (st < 0) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, "", "the header line is malformed: %s", why);
        goto done;
    }
    if (r.nf > MAX_COLS) {
        add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, "", "the header has %zu columns; at most %d",
                  r.nf, MAX_COLS);
        goto done;
    }
    for (size_t j = 0; j < r.nf; j++) {
        char *copy = strdup(sl_csv_field(&r, j));
        if (!copy) goto oom;
        c->names[c->ncols] = copy;
        c->first_row[c->ncols++] = 0;
    }
    resolve_columns(c);
    if (failed(c)) goto done;

    size_t row = 0;
    for (;;) {
        st = sl_csv_record(&r, &blank, &why);
        if (r.oom) goto oom;
        if (st == 0) break;
        if (st == 1 && blank) continue;
        if (too_many(c, ++row)) goto done;
        if (st < 0) {
            add_error(c->errs, SL_ERR_UNPROCESSABLE, row, "", "malformed CSV: %s", why);
            continue;
        }
        if (r.nf != c->ncols) {
            add_error(c->errs, SL_ERR_UNPROCESSABLE, row, "", "has %zu fields; the header has %zu",
                      r.nf, c->ncols);
            continue;
        }
        cell *cells = c->cells;
        for (size_t j = 0; j < c->ncols; j++) {
            const char *t = sl_csv_field(&r, j);
            cells[j].kind = *t ? CELL_TEXT : CELL_EMPTY;
            cells[j].text = t;
            cells[j].json = NULL;
        }
        convert_row(c, row, cells);
        if (c->oom) goto done;
    }
    if (row == 0) no_rows(c, "a header line alone");
    goto done;
oom:
    c->oom = 1;
done:
    sl_csv_free(&r);
}

/* ---- JSON */

static void json_syntax_error(ctx *c, size_t row, const json_error_t *je) {
    add_error(c->errs, SL_ERR_INVALID_JSON, row, "", "not valid JSON: %s (line %d, column %d)",
              je->text, je->line, je->column);
}

static void collect_keys(ctx *c, json_t *obj, size_t row) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        (void)v;
        if (add_column(c, key, row) < 0) return;
    }
}

static void parse_json_rows(ctx *c, json_t *arr) {
    size_t n = json_array_size(arr);
    if (n == 0) {
        no_rows(c, "an empty array");
        return;
    }
    if (too_many(c, n)) return;
    for (size_t i = 0; i < n && !c->oom; i++) {
        json_t *el = json_array_get(arr, i);
        if (!json_is_object(el))
            add_error(c->errs, SL_ERR_INVALID_BODY, i + 1, "",
                      "must be an object of column: value, not %s", json_type_name(el));
        else
            collect_keys(c, el, i + 1);
    }
    if (c->oom) return;
    resolve_columns(c);
    if (failed(c)) return;
    for (size_t i = 0; i < n && !c->oom; i++) {
        cell *cells = c->cells;
        object_cells(c, json_array_get(arr, i), cells);
        convert_row(c, i + 1, cells);
    }
}

typedef struct index_key {
    const char *key;
    double num;
} index_key;

static int cmp_numeric(const void *a, const void *b) {
    const index_key *x = a, *y = b;
    if (x->num < y->num) return -1;
    if (x->num > y->num) return 1;
    return strcmp(x->key, y->key);
}

static int cmp_text(const void *a, const void *b) {
    return strcmp(((const index_key *)a)->key, ((const index_key *)b)->key);
}

/* pandas' DataFrame.to_json() layout: {"column": {"index": value}}. */
static void parse_json_columns(ctx *c, json_t *doc) {
    const char *key;
    json_t *col;
    size_t nkeys = json_object_size(doc), numeric_keys = 0;
    if (nkeys == 0) {
        no_rows(c, "an empty object");
        return;
    }
    json_t *columns[MAX_COLS];
    json_object_foreach(doc, key, col) {
        double d;
        numeric_keys += sl_parse_double(key, &d) == 0;
        long j = add_column(c, key, 0);
        if (j < 0) return;
        columns[j] = col;
    }
    if (numeric_keys == nkeys) {
        add_error(c->errs, SL_ERR_INVALID_BODY, 0, "",
                  "the object's keys look like row indexes (pandas orient='index'); send the "
                  "columns layout {\"column\": {\"index\": value}} or an array of row objects");
        return;
    }
    int shape_ok = 1;
    for (size_t j = 0; j < c->ncols; j++)
        if (!json_is_object(columns[j])) {
            add_error(c->errs, SL_ERR_INVALID_BODY, 0, c->names[j],
                      "must be an object of row index: value (the layout pandas' to_json() "
                      "writes), not %s; to send one row, wrap it in an array",
                      json_type_name(columns[j]));
            shape_ok = 0;
        }
    resolve_columns(c);
    if (!shape_ok || failed(c)) return;

    /* The rows: every index key of any column, ordered by key. */
    json_t *set = json_object();
    if (!set) {
        c->oom = 1;
        return;
    }
    for (size_t j = 0; j < c->ncols; j++) {
        json_t *v;
        json_object_foreach(columns[j], key, v) {
            (void)v;
            if (json_object_set_new(set, key, json_null()) != 0) {
                c->oom = 1;
                json_decref(set);
                return;
            }
        }
    }
    size_t n = json_object_size(set);
    index_key *keys = n ? malloc(n * sizeof *keys) : NULL;
    if (n == 0) {
        no_rows(c, "every column is empty");
    } else if (!keys) {
        c->oom = 1;
    } else if (!too_many(c, n)) {
        size_t i = 0, numeric = 0;
        json_t *v;
        json_object_foreach(set, key, v) {
            (void)v;
            keys[i].key = key;
            keys[i].num = 0;
            numeric += sl_parse_double(key, &keys[i].num) == 0;
            i++;
        }
        qsort(keys, n, sizeof *keys, numeric == n ? cmp_numeric : cmp_text);
        for (i = 0; i < n && !c->oom; i++) {
            cell *cells = c->cells;
            for (size_t j = 0; j < c->ncols; j++) {
                const json_t *cv = json_object_get(columns[j], keys[i].key);
                cells[j].kind = !cv ? CELL_ABSENT : json_is_null(cv) ? CELL_EMPTY : CELL_JSON;
                cells[j].json = cv;
                cells[j].text = NULL;
            }
            convert_row(c, i + 1, cells);
        }
    }
    free(keys);
    json_decref(set);
}

static void parse_json(ctx *c, const char *body, size_t len) {
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!doc) {
        json_syntax_error(c, 0, &je);
        return;
    }
    if (json_is_array(doc))
        parse_json_rows(c, doc);
    else if (json_is_object(doc))
        parse_json_columns(c, doc);
    else
        add_error(c->errs, SL_ERR_INVALID_BODY, 0, "",
                  "the body must be an array of row objects or an object of columns "
                  "{\"column\": {\"index\": value}}, not %s",
                  json_type_name(doc));
    json_decref(doc);
}

/* ---- NDJSON */

typedef struct line_iter {
    const char *p, *end;
} line_iter;

/* The next non-blank line (without its line break); 0 at the end. */
static int next_line(line_iter *it, const char **line, size_t *n) {
    while (it->p < it->end) {
        const char *s = it->p, *e = memchr(s, '\n', (size_t)(it->end - s));
        it->p = e ? e + 1 : it->end;
        if (!e) e = it->end;
        size_t k = (size_t)(e - s);
        if (k && s[k - 1] == '\r') k--;
        size_t i = 0;
        while (i < k && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
        if (i == k) continue;
        *line = s;
        *n = k;
        return 1;
    }
    return 0;
}

static void parse_ndjson(ctx *c, const char *body, size_t len) {
    line_iter it = {body, body + len};
    const char *line;
    size_t n, row = 0;
    json_error_t je;
    while (next_line(&it, &line, &n) && !c->oom) {
        if (too_many(c, ++row)) return;
        json_t *obj = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (!obj)
            json_syntax_error(c, row, &je);
        else if (!json_is_object(obj))
            add_error(c->errs, SL_ERR_INVALID_BODY, row, "",
                      "must be an object of column: value, not %s", json_type_name(obj));
        else
            collect_keys(c, obj, row);
        json_decref(obj);
    }
    if (c->oom) return;
    resolve_columns(c);
    if (failed(c)) return;
    /* Second pass: rows one at a time, so memory stays near the body's size. */
    it.p = body;
    row = 0;
    while (next_line(&it, &line, &n) && !c->oom) {
        json_t *obj = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (!obj) {
            c->oom = 1; /* parsed the first time: only memory can fail */
            break;
        }
        cell *cells = c->cells;
        object_cells(c, obj, cells);
        convert_row(c, ++row, cells);
        json_decref(obj);
    }
}

/* ---- entry */

static int check_utf8(ctx *c, const char *body, size_t len) {
    const unsigned char *p = (const unsigned char *)body;
    size_t line = 1;
    for (size_t i = 0; i < len;) {
        if (p[i] == 0) {
            add_error(c->errs, SL_ERR_INVALID_BODY, 0, "",
                      "the body contains a NUL byte (byte %zu, line %zu)", i + 1, line);
            return -1;
        }
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0) {
            add_error(c->errs, SL_ERR_INVALID_BODY, 0, "",
                      "the body is not valid UTF-8 (byte %zu, line %zu)", i + 1, line);
            return -1;
        }
        line += p[i] == '\n';
        i += k;
    }
    return 0;
}

static int check_options(ctx *c, const sl_dataset_options *o) {
    char why[224];
    if (o->has_base_params && !(isfinite(o->base_params) && o->base_params > 0))
        add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "base_params",
                  "base_params must be a positive finite number");
    if (o->has_tokens_per_step && !(isfinite(o->tokens_per_step) && o->tokens_per_step > 0))
        add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "tokens_per_step",
                  "tokens_per_step must be a positive finite number");
    if (o->has_data_unit && (unsigned)o->data_unit >= SL_UNIT_COUNT)
        add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "data_unit",
                  "data_unit must be tokens, examples or steps");
    if (o->columns && colmap_parse(o->columns, &c->map, why, sizeof why) != 0)
        add_error(c->errs, SL_ERR_INVALID_PARAMETER, 0, "columns", "%s", why);
    return failed(c) ? -1 : 0;
}

/* skip_invalid left no row: the upload is refused, naming each row's problem. */
static void nothing_left(ctx *c) {
    add_error(c->errs, SL_ERR_UNPROCESSABLE, 0, "",
              "no row is valid: skip_invalid left out all %zu rows, so there is nothing to store",
              c->nskipped);
    for (size_t i = 0; i < c->nskipped; i++)
        add_error(c->errs, SL_ERR_UNPROCESSABLE, c->skipped[i].row, c->skipped[i].field, "%s",
                  c->skipped[i].reason);
}

/* Moves the names of the ignored columns into out (each name once). */
static int hand_over_ignored(ctx *c, sl_dataset *out) {
    out->ignored = malloc((c->ncols ? c->ncols : 1) * sizeof *out->ignored);
    if (!out->ignored) return -1;
    for (size_t j = 0; j < c->ncols; j++) {
        int seen = c->kind[j] >= 0;
        for (size_t i = 0; i < out->nignored && !seen; i++)
            seen = strcmp(out->ignored[i], c->names[j]) == 0;
        if (seen) continue;
        out->ignored[out->nignored++] = c->names[j];
        c->names[j] = NULL;
    }
    return 0;
}

int sl_dataset_parse(const char *body, size_t len, sl_dataset_format fmt,
                     const sl_dataset_options *opt, sl_dataset *out, sl_dataset_errors *errs) {
    static const sl_dataset_options none;
    errs->code = SL_ERR_NONE;
    errs->count = errs->omitted = 0;
    if (out) memset(out, 0, sizeof *out);

    if (!out || (!body && len)) {
        add_error(errs, SL_ERR_INTERNAL, 0, "", "sl_dataset_parse called without a body or output");
        return -1;
    }
    if ((unsigned)fmt >= SL_DATASET_FORMAT_COUNT) {
        add_error(errs, SL_ERR_UNSUPPORTED_MEDIA_TYPE, 0, "", "unknown upload format");
        return -1;
    }
    ctx *c = calloc(1, sizeof *c);
    if (!c) {
        add_error(errs, SL_ERR_INTERNAL, 0, "", "out of memory while reading the upload");
        return -1;
    }
    c->opt = opt ? opt : &none;
    c->errs = errs;
    c->fmt = fmt;
    c->max_rows = c->opt->max_rows ? c->opt->max_rows : SL_DATASET_MAX_ROWS;

    if (check_options(c, c->opt) == 0 && check_utf8(c, body, len) == 0) {
        if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) { /* a BOM, as Excel writes */
            body += 3;
            len -= 3;
        }
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
            i++;
        if (i == len)
            add_error(errs, SL_ERR_UNPROCESSABLE, 0, "", "the upload is empty");
        else if (fmt == SL_DATASET_CSV)
            parse_csv(c, body, len);
        else if (fmt == SL_DATASET_JSON)
            parse_json(c, body, len);
        else
            parse_ndjson(c, body, len);
    }
    if (!failed(c) && c->nrows == 0 && c->nskipped > 0) nothing_left(c);
    if (!failed(c) && hand_over_ignored(c, out) != 0) c->oom = 1;
    for (size_t j = 0; j < c->ncols; j++)
        free(c->names[j]);
    if (c->oom && error_total(errs) == 0)
        add_error(errs, SL_ERR_INTERNAL, 0, "", "out of memory while reading the upload");
    int rc = failed(c) ? -1 : 0;
    if (rc == 0) {
        out->rows = c->rows;
        out->nrows = c->nrows;
        out->data_unit = c->unit;
        out->skipped = c->skipped;
        out->nskipped = c->nskipped;
    } else {
        sl_dataset_rows_free(c->rows, c->nrows);
        sl_dataset_skipped_free(c->skipped, c->nskipped);
        sl_dataset_free(out);
    }
    free(c);
    return rc;
}
