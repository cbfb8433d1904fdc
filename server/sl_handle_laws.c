/* Laws: list, get, history, write a new version, delete. */
#include <stdlib.h>
#include <string.h>

#include "sl_handle.h"
#include "sl_law_json.h"
#include "sl_store.h"

static void reply_store_failure(sl_request *req, int rc, const char *name) {
    if (rc == SL_STORE_NOT_FOUND)
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "name", "no law named '%.64s'", name);
    else if (rc == SL_STORE_CONFLICT)
        sl_reply_fail(req, SL_ERR_CONFLICT, "name",
                      "'%.64s' is a built-in law: it cannot be changed or deleted; "
                      "PUT your coefficients under another name",
                      name);
    else
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store failed; nothing was changed");
}

int sl_handle_path_law(sl_request *req, sl_law_record *rec) {
    const char *name = sl_req_path_param(req, "name");
    const char *version_text = sl_req_query(req, "version");
    long version = 0;
    sl_error err;
    if (version_text && sl_parse_int("version", version_text, 1, 1L << 40, &version, &err) != 0) {
        sl_reply_error(req, &err);
        return -1;
    }
    int rc = sl_store_law_get(sl_req_server(req)->store, name, version, rec);
    if (rc == SL_STORE_NOT_FOUND && version &&
        sl_store_law_get(sl_req_server(req)->store, name, 0, rec) == SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, "version",
                      "law '%.64s' has no version %ld (latest is %ld)", name, version,
                      rec->version);
        return -1;
    }
    if (rc != SL_STORE_OK) {
        reply_store_failure(req, rc, name);
        return -1;
    }
    /* The one place every answer on a law's version learns its warnings. */
    sl_req_add_warnings(req, sl_law_warnings_json(rec));
    const char *names[] = {rec->name};
    return sl_req_not_modified(req, 1, names, &rec->version, version_text != NULL) ? -1 : 0;
}

static int append_law(const sl_law_record *rec, void *array) {
    return json_array_append_new(array, sl_law_record_json(rec));
}

void sl_handle_laws_list(sl_request *req) {
    json_t *laws = json_array();
    int rc = sl_store_law_list(sl_req_server(req)->store, append_law, laws);
    if (rc != SL_STORE_OK) {
        json_decref(laws);
        reply_store_failure(req, rc, "");
        return;
    }
    sl_reply_json(req, 200, json_pack("{s:o}", "laws", laws));
}

void sl_handle_law_get(sl_request *req) {
    sl_law_record rec;
    if (sl_handle_path_law(req, &rec) != 0) return;
    json_t *body = sl_law_record_json(&rec);
    char *diag = NULL;
    if (rec.fit_id &&
        sl_store_law_diagnostics(sl_req_server(req)->store, rec.name, rec.version, &diag) ==
            SL_STORE_OK &&
        diag)
        json_object_set_new(body, "diagnostics", json_loads(diag, 0, NULL));
    free(diag);
    sl_reply_json(req, 200, body);
}

void sl_handle_law_versions(sl_request *req) {
    const char *name = sl_req_path_param(req, "name");
    json_t *versions = json_array();
    int rc = sl_store_law_versions(sl_req_server(req)->store, name, append_law, versions);
    if (rc != SL_STORE_OK) {
        json_decref(versions);
        reply_store_failure(req, rc, name);
        return;
    }
    sl_reply_json(req, 200, json_pack("{s:s, s:o}", "name", name, "versions", versions));
}

void sl_handle_law_put(sl_request *req) {
    const char *name = sl_req_path_param(req, "name");
    sl_law_record rec;
    sl_error err;
    memset(&rec, 0, sizeof rec);
    if (!sl_law_name_valid(name)) {
        sl_reply_fail(req, SL_ERR_INVALID_PARAMETER, "name", "a law name is " SL_LAW_NAME_RULE);
        return;
    }
    if (sl_law_put_decode(sl_req_json(req), &rec, &err) != 0) {
        sl_reply_error(req, &err);
        return;
    }
    memcpy(rec.name, name, strlen(name) + 1);
    int created = 0;
    int rc = sl_store_law_put(sl_req_server(req)->store, &rec, &created);
    if (rc != SL_STORE_OK) {
        reply_store_failure(req, rc, name);
        return;
    }
    sl_reply_json(req, created ? 201 : 200, sl_law_record_json(&rec));
}

void sl_handle_law_delete(sl_request *req) {
    const char *name = sl_req_path_param(req, "name");
    int rc = sl_store_law_delete(sl_req_server(req)->store, name);
    if (rc != SL_STORE_OK) {
        reply_store_failure(req, rc, name);
        return;
    }
    sl_reply_json(req, 200, json_pack("{s:s, s:b}", "name", name, "deleted", 1));
}
