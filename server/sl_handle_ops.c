/* Operations: health, metrics, the OpenAPI document, the dashboard's files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_handle.h"
#include "sl_metrics.h"
#include "sl_store.h"

/* api/openapi.json, embedded at build time (server/openapi_blob.S). */
extern const char sl_openapi_json[];
extern const char sl_openapi_json_end[];

static int count_law(const sl_law_record *rec, void *n) {
    (void)rec;
    (*(int *)n)++;
    return 0;
}

void sl_handle_healthz(sl_request *req) {
    int laws = 0;
    char why[320];
    /* Damage on disk first: a pooled connection's cache would not see it. */
    if (sl_store_check(sl_req_server(req)->store, why, sizeof why) != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "%s", why);
        return;
    }
    if (sl_store_law_list(sl_req_server(req)->store, count_law, &laws) != SL_STORE_OK) {
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the store cannot be read");
        return;
    }
    sl_reply_json(req, 200,
                  json_pack("{s:s, s:s, s:i, s:i}", "status", "ok", "version", SL_VERSION, "laws",
                            laws, "schema_version", sl_store_schema_version()));
}

/* Appends one gauge with a sample per state to the metrics text. */
static void append_states(sl_buf *text, const char *name, const char *help, const long long *counts,
                          int n, const char *(*state_name)(int)) {
    int bad = sl_buf_addf(text, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (int s = 0; s < n; s++)
        bad |= sl_buf_addf(text, "%s{state=\"%s\"} %lld\n", name, state_name(s), counts[s]);
    if (bad) abort();
}

static const char *fit_state(int s) {
    return sl_fit_state_name((sl_fit_state)s);
}
static const char *run_state(int s) {
    return sl_run_state_name((sl_run_state)s);
}

void sl_handle_metrics(sl_request *req) {
    sl_store *store = sl_req_server(req)->store;
    sl_buf text = {0};
    sl_metrics_render(sl_req_server(req)->metrics, &text);
    long long fits[SL_FIT_STATE_COUNT], runs[SL_RUN_STATE_COUNT];
    if (sl_store_fit_counts(store, fits) == SL_STORE_OK)
        append_states(&text, "sparselaw_fits", "Fit jobs by state.", fits, SL_FIT_STATE_COUNT,
                      fit_state);
    if (sl_store_run_counts(store, runs) == SL_STORE_OK)
        append_states(&text, "sparselaw_runs", "Calibration training runs by state.", runs,
                      SL_RUN_STATE_COUNT, run_state);
    size_t len = text.len;
    char *body = sl_buf_take(&text);
    if (!body) abort();
    sl_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

void sl_handle_openapi(sl_request *req) {
    size_t len = (size_t)(sl_openapi_json_end - sl_openapi_json);
    char *copy = malloc(len);
    if (!copy) abort();
    memcpy(copy, sl_openapi_json, len);
    sl_reply_text(req, 200, "application/json", copy, len);
}

static const char *content_type(const char *path) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* Opens rel (a/b/c.js) under the directory root one name at a time, with
 * O_NOFOLLOW, refusing any name that starts with '.': no symlink leads out
 * of --static-dir, ".." cannot climb, and no dotfile (.git, .env) is
 * served. A directory gives its index.html. The fd of a regular file, with
 * its size in *st and its name in *last; or -1. */
static int open_static(const char *root, const char *rel, struct stat *st, const char **last) {
    int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *name = rel;
    while (dir >= 0) {
        char part[256];
        if (!*name) name = "index.html"; /* the path named a directory */
        size_t n = strcspn(name, "/");
        int more = name[n] == '/';
        if (n == 0 || n >= sizeof part || name[0] == '.') break;
        memcpy(part, name, n);
        part[n] = '\0';
        /* The type first, so that a FIFO or a device is never opened. */
        if (fstatat(dir, part, st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) || (more && !S_ISDIR(st->st_mode)))
            break;
        int fd = openat(dir, part, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        close(dir);
        dir = fd;
        if (fd < 0 || fstat(fd, st) != 0) break;
        if (S_ISREG(st->st_mode) && !more) {
            *last = name;
            return fd;
        }
        if (!S_ISDIR(st->st_mode)) break; /* changed since fstatat */
        name += n + (size_t)more;
    }
    if (dir >= 0) close(dir);
    return -1;
}

void sl_handle_static(sl_request *req) {
    const char *rel = sl_req_path_param(req, "path");
    const char *last = NULL;
    struct stat st;
    if (!*rel) rel = "index.html";
    /* Only plain relative names. */
    int fd = strspn(rel, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") ==
                     strlen(rel)
                 ? open_static(sl_req_server(req)->config->static_dir, rel, &st, &last)
                 : -1;
    if (fd < 0) {
        sl_reply_fail(req, SL_ERR_NOT_FOUND, NULL, "no such file: /%.200s", rel);
        return;
    }
    sl_reply_file(req, fd, (size_t)st.st_size, content_type(last));
}
