/* Datasets: uploaded sweep results. An upload is all-or-nothing, unless
 * ?skip_invalid=true stores its good rows; its answer lists the columns it
 * ignored and the rows it left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_buf.h"
#include "sl_dataset.h"
#include "sl_log.h"
#include "sl_store.h"
#include "sl_text.h"

static json_t *info_json(const sl_dataset_info *d) {
    return json_pack("{s:I, s:s, s:I, s:{s:s, s:s}, s:s, s:s}", "id", (json_int_t)d->id, "name",
                     d->name, "rows", (json_int_t)d->rows, "units", "nonzeros", "parameters",
                     "data", sl_data_unit_name(d->data_unit), "created_at", d->created_at,
                     "updated_at", d->updated_at);
}

/* {id} of the path; answers 400 / 404 itself and returns -1 on failure. */
static int dataset_id(sl_request *req, long long *id, sl_dataset_info *info) {
    long v;
    sl_error err;
    if (sl_parse_int("id", sl_req_path_param(req, "id"), 1, 1L << 52, &v, &err) != 0) {
        sl_reply_error(req, &err);
        return -1;
    }
    *id = v;
    int rc = sl_store_dataset_get(sl_req_server(req)->store, v, info);
    if (rc == SL_STORE_NOT_FOUND)
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no dataset with id %ld", v);
    else if (rc != SL_STORE_OK)
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was changed");
    return rc == SL_STORE_OK ? 0 : -1;
}

/* The answer to an upload: the dataset, the columns it ignored and the
 * rows it left out. */
static json_t *upload_json(const sl_dataset_info *info, const sl_dataset *ds) {
    json_t *body = info_json(info);
    if (!body || sl_dataset_report_json(ds, body) != 0) abort();
    return body;
}

/* Reads the upload's options (sl_dataset_option_names names them) from the
 * query and parses the body. Answers the client itself and returns -1 when
 * the upload is refused. */
static int parse_upload(sl_request *req, sl_dataset *ds) {
    sl_dataset_options opt;
    sl_dataset_format fmt;
    sl_error err;
    memset(&opt, 0, sizeof opt);
    if (sl_dataset_format_from_content_type(sl_req_header(req, "Content-Type"), &fmt, &err) != 0) {
        sl_reply_error(req, &err);
        return -1;
    }
    for (size_t i = 0; i < sl_dataset_option_count; i++) {
        const char *name = sl_dataset_option_names[i];
        const char *v = sl_req_query(req, name);
        if (v && sl_dataset_option_set(&opt, name, v, &err) < 0) {
            sl_reply_error(req, &err);
            return -1;
        }
    }
    size_t len;
    const char *body = sl_req_body(req, &len);
    sl_dataset_errors *errs = malloc(sizeof *errs);
    if (!errs) abort();
    int rc = sl_dataset_parse(body, len, fmt, &opt, ds, errs);
    if (rc != 0) sl_reply_json(req, sl_err_table[errs->code].status, sl_dataset_errors_json(errs));
    free(errs);
    return rc;
}

void sl_handle_dataset_create(sl_request *req) {
    const char *name = sl_req_query(req, "name");
    if (!name || !*name || strlen(name) > SL_DATASET_NAME_MAX) {
        sl_reply_fail(req, name ? SL_ERR_INVALID_PARAMETER : SL_ERR_MISSING_PARAMETER, "name",
                      "name is required: 1 to %d characters naming the sweep", SL_DATASET_NAME_MAX);
        return;
    }
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "name", "name has a control character");
            return;
        }
    /* Refused here, before anything is stored: every answer that carries
     * the name must encode as JSON. */
    if (!sl_text_utf8_valid(name, strlen(name))) {
        sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "name",
                      "name must be UTF-8 text (percent-encode its UTF-8 bytes)");
        return;
    }
    sl_dataset ds;
    if (parse_upload(req, &ds) != 0) return;
    sl_dataset_info info;
    int rc = sl_store_dataset_create(sl_req_server(req)->store, name, &ds, &info);
    if (rc != SL_STORE_OK)
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was stored");
    else
        sl_reply_json(req, 201, upload_json(&info, &ds));
    sl_dataset_free(&ds);
}

void sl_handle_dataset_append(sl_request *req) {
    long long id;
    sl_dataset_info info;
    sl_dataset ds;
    if (dataset_id(req, &id, &info) != 0 || parse_upload(req, &ds) != 0) return;
    int rc = sl_store_dataset_append(sl_req_server(req)->store, id, &ds, &info);
    if (rc == SL_STORE_CONFLICT)
        sl_reply_fail(req, SL_ERR_UNIT_MISMATCH, "data",
                      "these rows measure data in %s but dataset %lld is in %s; nothing was added",
                      sl_data_unit_name(ds.data_unit), id, sl_data_unit_name(info.data_unit));
    else if (rc == SL_STORE_NOT_FOUND)
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no dataset with id %lld", id);
    else if (rc != SL_STORE_OK)
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was added");
    else
        sl_reply_json(req, 200, upload_json(&info, &ds));
    sl_dataset_free(&ds);
}

static int append_info(const sl_dataset_info *info, void *array) {
    return json_array_append_new(array, info_json(info));
}

void sl_handle_datasets_list(sl_request *req) {
    json_t *list = json_array();
    if (sl_store_dataset_list(sl_req_server(req)->store, append_info, list) != SL_STORE_OK) {
        json_decref(list);
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    sl_reply_json(req, 200, json_pack("{s:o}", "datasets", list));
}

/* ---- reading a dataset back: its rows a page at a time, as the client
 * takes them, so that memory stays bounded whatever the dataset's size. */

#define PAGE_ROWS 2048

typedef struct {
    sl_store *store;
    long long id;
    long long next, total; /* rows sent, and rows the answer holds */
    int csv, done;
    sl_buf out; /* text made and not yet sent, from `sent` on */
    size_t sent;
    sl_dataset_row rows[PAGE_ROWS];
} dataset_stream;

/* The next page of rows into s->out, or the end of the document after
 * the last one. -1 when the store fails or the rows went (a delete). */
static int next_page(dataset_stream *s) {
    s->out.len = 0;
    s->sent = 0;
    if (s->next >= s->total) {
        s->done = 1;
        return s->csv ? 0 : sl_buf_adds(&s->out, "]}\n");
    }
    size_t n = 0;
    if (sl_store_dataset_rows_page(s->store, s->id, s->next, s->total, PAGE_ROWS, s->rows, &n) !=
            SL_STORE_OK ||
        n == 0)
        return -1;
    int bad = 0;
    if (s->csv) {
        bad = sl_dataset_csv_add(&s->out, s->rows, n, 0);
    } else {
        json_t *page = sl_dataset_rows_json(s->rows, n);
        char *text = page ? json_dumps(page, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(page);
        /* The page's array without its brackets, after the last page's rows. */
        bad = !text || (s->next > 0 && sl_buf_addc(&s->out, ',')) ||
              sl_buf_add(&s->out, text + 1, strlen(text) - 2);
        free(text);
    }
    for (size_t i = 0; i < n; i++)
        free(s->rows[i].run_id);
    s->next += (long long)n;
    return bad ? -1 : 0;
}

static long dataset_fill(void *ctx, char *buf, size_t max) {
    dataset_stream *s = ctx;
    while (s->sent == s->out.len) {
        if (s->done) return 0;
        if (next_page(s) != 0) {
            sl_log_line l;
            sl_log_begin(&l, SL_LOG_WARNING, "dataset_answer_cut");
            sl_log_int(&l, "dataset", s->id);
            sl_log_int(&l, "rows_sent", s->next);
            sl_log_int(&l, "rows", s->total);
            sl_log_end(&l);
            return -1;
        }
    }
    size_t n = s->out.len - s->sent;
    if (n > max) n = max;
    memcpy(buf, s->out.data + s->sent, n);
    s->sent += n;
    return (long)n;
}

static void dataset_stream_free(void *ctx) {
    dataset_stream *s = ctx;
    sl_buf_free(&s->out);
    free(s);
}

void sl_handle_dataset_get(sl_request *req) {
    long long id;
    sl_dataset_info info;
    sl_error err;
    int csv;
    if (dataset_id(req, &id, &info) != 0) return;
    if (sl_req_wants_csv(req, &err, &csv) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    dataset_stream *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->store = sl_req_server(req)->store;
    s->id = id;
    s->total = info.rows;
    s->csv = csv;
    /* The head now: JSON is the dataset's info with "records" last, its
     * rows to follow, exactly as one json_dumps of the whole would be. */
    if (csv) {
        if (sl_dataset_csv_add(&s->out, NULL, 0, 1) != 0) abort();
    } else {
        json_t *head = info_json(&info);
        char *text = head ? json_dumps(head, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(head);
        if (!text || sl_buf_add(&s->out, text, strlen(text) - 1) != 0 ||
            sl_buf_adds(&s->out, ",\"records\":[") != 0)
            abort();
        free(text);
    }
    sl_reply_stream(req, 200, csv ? "text/csv; charset=utf-8" : "application/json", dataset_fill,
                    dataset_stream_free, s);
}

void sl_handle_dataset_delete(sl_request *req) {
    long long id;
    sl_dataset_info info;
    if (dataset_id(req, &id, &info) != 0) return;
    int rc = sl_store_dataset_delete(sl_req_server(req)->store, id);
    if (rc == SL_STORE_CONFLICT)
        sl_reply_fail(req, SL_ERR_CONFLICT, "id",
                      "dataset %lld is read by a queued or running fit; delete it when that ends",
                      id);
    else if (rc == SL_STORE_NOT_FOUND)
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "id", "no dataset with id %lld", id);
    else if (rc != SL_STORE_OK)
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was deleted");
    else
        sl_reply_json(req, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1));
}
