/*
 * sl_handle_page.c - what the list routes (GET /v1/fits, /v1/sweeps,
 * /v1/sweeps/{id}/runs) share: their paging parameters ?limit= and
 * ?before=, their ?law= and ?state= filters, and the answer that says how
 * to get the next page.
 */
#include <stdio.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_store.h"

int sl_handle_page_params(sl_request *req, sl_store_page *page) {
    sl_error err;
    long v;
    const char *limit = sl_req_query(req, "limit"), *before = sl_req_query(req, "before");
    memset(page, 0, sizeof *page);
    page->limit = SL_PAGE_DEFAULT_LIMIT;
    if (limit) {
        if (sl_parse_int("limit", limit, 1, SL_PAGE_MAX_LIMIT, &v, &err) != 0) goto fail;
        page->limit = (size_t)v;
    }
    if (before) {
        if (sl_parse_int("before", before, 1, 1L << 52, &v, &err) != 0) goto fail;
        page->before = v;
    }
    return 0;
fail:
    sl_reply_error(req, &err);
    return -1;
}

int sl_handle_law_param(sl_request *req, const char **law) {
    *law = sl_req_query(req, "law");
    if (!*law || sl_law_name_valid(*law)) return 0;
    sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "law",
                  "law must be a law name: " SL_LAW_NAME_RULE " (got '%.40s')", *law);
    return -1;
}

int sl_handle_state_param(sl_request *req, const char *(*name)(int), int count, int *state) {
    const char *text = sl_req_query(req, "state");
    *state = count;
    if (!text) return 0;
    for (int i = 0; i < count; i++)
        if (strcmp(text, name(i)) == 0) {
            *state = i;
            return 0;
        }
    char valid[256] = "";
    size_t len = 0;
    for (int i = 0; i < count && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s",
                                i == 0           ? ""
                                : i == count - 1 ? " or "
                                                 : ", ",
                                name(i));
    sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "state", "state must be %s (got '%.40s')", valid,
                  text);
    return -1;
}

json_t *sl_handle_page_json(const char *key, json_t *items, const sl_store_page *page) {
    return json_pack("{s:o, s:o}", key, items, "next_before",
                     page->next_before ? json_integer(page->next_before) : json_null());
}
