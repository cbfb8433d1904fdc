/* /v1/compare/{query}: one planning query asked of several laws, answered
 * side by side. Each law answers through the query's own handler
 * (sl_req_run_as), so a compare takes every parameter that query takes and
 * answers exactly what the query would for each law. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_buf.h"
#include "sl_handle.h"
#include "sl_law_json.h"
#include "sl_store.h"
#include "sl_table.h"

#define MAX_COMPARED 8
/* Columns of a compared table: a table's own, and interval bounds. */
#define MAX_COLUMNS (2 * SL_TABLE_MAX_COLS)

typedef struct compared {
    char name[SL_LAW_NAME_MAX + 1];
    long version; /* 0: latest, until resolved */
    int pinned;   /* the client named the version */
} compared;

/* laws=a,b@3,...: 1..MAX_COMPARED distinct laws, each at its latest version
 * or at the one after '@'. */
static int parse_laws(const char *text, compared *out, size_t *count, sl_error *err) {
    size_t n = 0;
    const char *p = text;
    if (!text)
        return sl_error_set(err, SL_ERR_MISSING_PARAMETER, "laws",
                            "laws is required: the laws to compare, comma-separated, such as "
                            "t5-c4,vit-jft (name@version for a version other than the latest)");
    for (;;) {
        size_t len = strcspn(p, ",");
        if (n == MAX_COMPARED)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "laws", "laws takes at most %d laws",
                                MAX_COMPARED);
        char item[SL_LAW_NAME_MAX + 24];
        if (len == 0 || len >= sizeof item)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "laws",
                                "laws must be a comma-separated list of law names such as "
                                "t5-c4,vit-jft (name@version for a version other than the latest)");
        memcpy(item, p, len);
        item[len] = '\0';
        char *at = strchr(item, '@');
        compared *c = &out[n];
        c->version = 0;
        c->pinned = at != NULL;
        if (at) {
            *at = '\0';
            char field[16];
            snprintf(field, sizeof field, "laws[%zu]", n);
            if (sl_parse_int(field, at + 1, 1, 1L << 40, &c->version, err)) return -1;
        }
        if (!sl_law_name_valid(item))
            return sl_error_set(
                err, SL_ERR_INVALID_PARAMETER, "laws",
                "'%.64s' in laws is not a law name: a law name is " SL_LAW_NAME_RULE, item);
        memcpy(c->name, item, strlen(item) + 1); /* a valid name fits */
        for (size_t k = 0; k < n; k++)
            if (strcmp(out[k].name, c->name) == 0 && out[k].version == c->version)
                return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "laws", "laws lists %s twice",
                                    item);
        n++;
        if (!p[len]) break;
        p += len + 1;
    }
    *count = n;
    return 0;
}

/* The latest version of each law not pinned, or 404 naming the law. */
static int resolve(sl_request *req, compared *laws, size_t n) {
    for (size_t i = 0; i < n; i++) {
        sl_law_record rec;
        int rc = sl_store_law_get(sl_req_server(req)->store, laws[i].name, laws[i].version, &rec);
        if (rc == SL_STORE_OK) {
            laws[i].version = rec.version;
            continue;
        }
        if (rc == SL_STORE_NOT_FOUND && laws[i].version &&
            sl_store_law_get(sl_req_server(req)->store, laws[i].name, 0, &rec) == SL_STORE_OK)
            sl_reply_fail(req, SL_ERR_NOT_FOUND, "laws",
                          "law '%s' in laws has no version %ld (latest is %ld)", laws[i].name,
                          laws[i].version, rec.version);
        else if (rc == SL_STORE_NOT_FOUND)
            sl_reply_fail(req, SL_ERR_NOT_FOUND, "laws", "no law named '%s' (in laws)",
                          laws[i].name);
        else
            sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed");
        return -1;
    }
    return 0;
}

/* ---- CSV: the laws' tables one below the other, a law column first */

typedef struct columns {
    const char *name[MAX_COLUMNS];
    size_t n;
} columns;

/* The columns of the answers' series, in order of first appearance. */
static void series_columns(const json_t *answers, columns *cols) {
    size_t i, k;
    json_t *a, *ser;
    cols->n = 0;
    json_array_foreach(answers, i, a) {
        json_array_foreach(json_object_get(a, "series"), k, ser) {
            const char *key;
            json_t *v;
            json_object_foreach(ser, key, v) {
                size_t c = 0;
                while (c < cols->n && strcmp(cols->name[c], key) != 0)
                    c++;
                if (c == cols->n && cols->n < MAX_COLUMNS) cols->name[cols->n++] = key;
            }
        }
    }
}

static void add_cell(sl_buf *b, const json_t *v) {
    int rc = 0;
    if (json_is_string(v))
        rc = sl_buf_adds(b, json_string_value(v)); /* identifiers: pattern names, dense */
    else if (json_is_number(v) && isfinite(json_number_value(v)))
        rc = sl_buf_addf(b, "%.17g", json_number_value(v)); /* round-trips, as sl_table_csv */
    if (rc) abort();
}

/* One law's comment lines into notes (its units and warnings, or why it
 * could not answer) and its rows into rows. */
static void add_law_csv(sl_buf *notes, sl_buf *rows, const json_t *a, const columns *cols) {
    const json_t *law = json_object_get(a, "law"), *error = json_object_get(a, "error");
    const char *name = json_string_value(json_object_get(law, "name"));
    long long version = (long long)json_integer_value(json_object_get(law, "version"));
    if (error) {
        if (sl_buf_addf(notes, "# %s v%lld: no answer: %s\r\n", name, version,
                        json_string_value(json_object_get(error, "message"))))
            abort();
        return;
    }
    const json_t *units = json_object_get(a, "units"), *series = json_object_get(a, "series");
    if (sl_buf_addf(notes, "# units of %s v%lld:", name, version)) abort();
    int first = 1;
    for (size_t c = 0; c < cols->n; c++) {
        const json_t *v = json_object_get(json_array_get(series, 0), cols->name[c]);
        if (!v || json_is_string(v)) continue; /* a label column has no unit */
        const char *u = sl_table_unit(units, cols->name[c]);
        if (sl_buf_addf(notes, "%s %s = %s", first ? "" : ";", cols->name[c], u ? u : "no unit"))
            abort();
        first = 0;
    }
    if (sl_buf_adds(notes, "\r\n")) abort();
    size_t i, k;
    const json_t *w, *ser;
    json_array_foreach(json_object_get(a, "warnings"), i, w) {
        if (sl_buf_addf(notes, "# warning of %s v%lld: %s\r\n", name, version,
                        json_string_value(w)))
            abort();
    }
    json_array_foreach(series, i, ser) {
        /* a series: scalars for the whole series, arrays one value per row */
        size_t n = 1;
        for (size_t c = 0; c < cols->n; c++) {
            const json_t *v = json_object_get(ser, cols->name[c]);
            if (json_is_array(v)) n = json_array_size(v);
        }
        for (k = 0; k < n; k++) {
            if (sl_buf_addf(rows, "%s,%lld", name, version)) abort();
            for (size_t c = 0; c < cols->n; c++) {
                const json_t *v = json_object_get(ser, cols->name[c]);
                if (sl_buf_addc(rows, ',')) abort();
                add_cell(rows, json_is_array(v) ? json_array_get(v, k) : v);
            }
            if (sl_buf_adds(rows, "\r\n")) abort();
        }
    }
}

/* The compared tables (curves, contours) as one CSV: the comment lines
 * first, as in a law's own CSV, then the header law,version,<columns> and
 * each law's rows. */
static void reply_csv(sl_request *req, const json_t *answers) {
    columns cols;
    series_columns(answers, &cols);
    sl_buf notes = {0}, rows = {0};
    if (sl_buf_adds(&rows, "law,version")) abort();
    for (size_t c = 0; c < cols.n; c++)
        if (sl_buf_addf(&rows, ",%s", cols.name[c])) abort();
    if (sl_buf_adds(&rows, "\r\n")) abort();
    size_t i;
    const json_t *a;
    json_array_foreach(answers, i, a) {
        add_law_csv(&notes, &rows, a, &cols);
    }
    if (sl_buf_add(&notes, rows.data, rows.len)) abort();
    free(rows.data);
    sl_reply_text(req, 200, "text/csv; charset=utf-8", notes.data, notes.len);
}

void sl_handle_compare(sl_request *req) {
    compared laws[MAX_COMPARED];
    size_t n = 0;
    sl_error err;
    if (parse_laws(sl_req_query(req, "laws"), laws, &n, &err)) {
        sl_reply_error(req, &err);
        return;
    }
    if (resolve(req, laws, n)) return;
    const char *names[MAX_COMPARED];
    long versions[MAX_COMPARED];
    int pinned = 1;
    for (size_t i = 0; i < n; i++) {
        names[i] = laws[i].name;
        versions[i] = laws[i].version;
        pinned &= laws[i].pinned;
    }
    if (sl_req_not_modified(req, n, names, versions, pinned)) return;

    int csv;
    if (sl_req_wants_csv(req, &err, &csv)) {
        sl_reply_error(req, &err);
        return;
    }
    int route = sl_req_compare_route(req);
    json_t *answers = json_array();
    json_t *first_error = NULL;
    unsigned first_status = 0;
    const json_t *first_answer = NULL; /* the first law's that could answer */
    for (size_t i = 0; i < n; i++) {
        unsigned status;
        json_t *a = sl_req_run_as(req, route, laws[i].name, laws[i].version, &status);
        if (status == 200) {
            if (!first_answer) first_answer = a;
            json_array_append_new(answers, a);
            continue;
        }
        /* A mistake in the query (400) is the same for every law, as are the
         * server's own failures: the whole answer. What one law cannot
         * answer (422: out of its reach, its data unit) stands in its place. */
        if (status != 422) {
            json_decref(answers);
            json_decref(first_error);
            sl_reply_json(req, status, a);
            return;
        }
        json_t *ref =
            json_pack("{s:s, s:I}", "name", laws[i].name, "version", (json_int_t)laws[i].version);
        json_object_set_new(json_object_get(a, "error"), "law", json_incref(ref));
        if (!first_error) {
            first_error = json_incref(a);
            first_status = status;
        }
        json_array_append_new(
            answers, json_pack("{s:o, s:O}", "law", ref, "error", json_object_get(a, "error")));
        json_decref(a);
    }
    if (!first_answer) { /* no law could answer: the first one's reason */
        json_decref(answers);
        sl_reply_json(req, first_status, first_error);
        return;
    }
    json_decref(first_error);
    /* CSV where the query answers tables (curves, contours); JSON for the rest, as each law's
     * own route */
    if (csv && json_is_array(json_object_get(first_answer, "series"))) {
        reply_csv(req, answers);
        json_decref(answers);
        return;
    }
    const char *query = sl_req_path_param(req, "query");
    sl_reply_json(req, 200,
                  json_pack("{s:s, s:o, s:s}", "query", query, "answers", answers, "note",
                            "each answer is what /v1/laws/{name}/<query> answers for that law with "
                            "these parameters; a law that cannot answer them has an error in "
                            "its place"));
}
