#include "sl_http.h"
#include "sl_http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sl_buf.h"
#include "sl_json_arena.h"
#include "sl_json_write.h"
#include "sl_metrics.h"
#include "sl_secret.h"
#include "sl_log.h"
#include "sl_text.h"

static struct MHD_Daemon *daemon_handle;

static int method_is(const char *route_method, const char *method);
static atomic_int in_flight;

sl_server *sl_req_server(const sl_request *req) {
    return req->server;
}

/* ---------------------------------------------------------------- answers */

static void set_response(sl_request *req, unsigned status, struct MHD_Response *resp,
                         const char *content_type) {
    if (req->response) { /* a handler answered twice: keep the first */
        MHD_destroy_response(resp);
        return;
    }
    if (!resp) abort();
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (req->warnings && status < 300 && content_type &&
        strncmp(content_type, "text/csv", 8) == 0) {
        /* A CSV body has no room for them: the header carries them. Into a
         * buffer of our own: json_dumps's text would be the arena's. */
        char w[8192];
        size_t n = json_dumpb(req->warnings, w, sizeof w - 1, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (n > 0 && n < sizeof w - 1) {
            w[n] = '\0';
            MHD_add_response_header(resp, "Sparselaw-Warnings", w);
        }
    }
    if (req->etag[0] && (status == 200 || status == 304)) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, req->etag);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, req->cache_control);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
    }
    if (req->server->draining) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    req->response = resp;
    req->status = status;
}

/* Inside sl_req_run_as: keeps the first answer instead of sending it. */
static void capture(sl_request *req, unsigned status, json_t *body) {
    if (req->captured) {
        json_decref(body);
        return;
    }
    req->captured = body;
    req->captured_status = status;
}

void sl_reply_text(sl_request *req, unsigned status, const char *content_type, char *buf,
                   size_t len) {
    if (req->capture) { /* not reached: answers are JSON there */
        free(buf);
        capture(req, 500,
                json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message",
                          "a text answer cannot be compared"));
        return;
    }
    set_response(req, status, MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE),
                 content_type);
}

void sl_req_add_warnings(sl_request *req, json_t *warnings) {
    json_decref(req->warnings);
    req->warnings = json_array_size(warnings) ? warnings : (json_decref(warnings), NULL);
}

void sl_reply_json(sl_request *req, unsigned status, json_t *body) {
    if (req->warnings && status < 300 && json_is_object(body) && !json_object_get(body, "warnings"))
        json_object_set(body, "warnings", req->warnings);
    if (req->capture) {
        /* One law's answer of a compare: its warnings are its own, not the
         * compare's. */
        json_decref(req->warnings);
        req->warnings = NULL;
        capture(req, status, body);
        return;
    }
    sl_buf out = {0};
    /* One trailing newline keeps curl output readable. */
    int bad = !body || sl_buf_reserve(&out, 4096) != 0 || sl_json_write(&out, body) != 0 ||
              sl_buf_add(&out, "\n", 1) != 0;
    json_decref(body);
    if (bad) {
        sl_buf_free(&out);
        sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "could not encode the response");
        return;
    }
    sl_reply_text(req, status, "application/json", out.data, out.len);
}

typedef struct {
    sl_stream_fill fill;
    void (*done)(void *ctx);
    void *ctx;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream *st = cls;
    long n = st->fill(st->ctx, buf, max);
    return n > 0    ? (ssize_t)n
           : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
                    : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls) {
    stream *st = cls;
    if (st->done) st->done(st->ctx);
    free(st);
}

void sl_reply_stream(sl_request *req, unsigned status, const char *content_type,
                     sl_stream_fill fill, void (*done)(void *ctx), void *ctx) {
    stream *st = malloc(sizeof *st);
    if (!st) abort();
    *st = (stream){fill, done, ctx};
    set_response(req, status,
                 MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st,
                                                   stream_free),
                 content_type);
}

void sl_reply_file(sl_request *req, int fd, size_t size, const char *content_type) {
    set_response(req, 200, MHD_create_response_from_fd(size, fd), content_type);
}

/* The Allow header of a 405: every method some route takes on this path. */
static void allow_header(const sl_request *req, char *buf, size_t cap);

void sl_reply_error(sl_request *req, const sl_error *err) {
    unsigned status = sl_error_status(err);
    if (req->response) return; /* answered already: keep the first */
    if (req->capture) {
        capture(req, status, sl_error_json(err));
        return;
    }
    sl_reply_json(req, status, sl_error_json(err));
    struct MHD_Response *resp = req->response;
    if (!resp) abort(); /* an error object always encodes, short of memory */
    if (status == 405) {
        char allow[64];
        allow_header(req, allow, sizeof allow);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"sparselaw\"");
    if (status == 503) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
}

void sl_reply_fail(sl_request *req, sl_err_code code, const char *field, const char *fmt, ...) {
    sl_error err;
    char msg[sizeof err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_error_set(&err, code, field, "%s", msg);
    sl_reply_error(req, &err);
}

/* ---------------------------------------------------------- conditional GET */

/* FNV-1a, 64 bits, twice with two offsets: 128 bits of a tag. */
typedef struct {
    uint64_t a, b;
} tag_hash;

static void tag_add(tag_hash *h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        h->a = (h->a ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        h->b = (h->b ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    }
    /* a separator no text holds, so ("ab", "c") and ("a", "bc") differ */
    h->a = (h->a ^ 0xffu) * 0x100000001b3ULL;
    h->b = (h->b ^ 0xffu) * 0x100000001b3ULL;
}

static void tag_str(tag_hash *h, const char *s) {
    tag_add(h, s, strlen(s));
}

/* Where every tag starts: the server's version and its whole contract
 * (the openapi.json it was built with), so that a build whose answers
 * change in shape never validates a tag of another, and replicas of one
 * build agree. Set by sl_http_start. */
static tag_hash tag_seed = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
extern const char sl_openapi_json[];
extern const char sl_openapi_json_end[];

static void tag_seed_init(void) {
    tag_str(&tag_seed, SL_VERSION);
    tag_add(&tag_seed, sl_openapi_json, (size_t)(sl_openapi_json_end - sl_openapi_json));
}

#define MAX_TAG_ARGS 64

typedef struct {
    const char *key[MAX_TAG_ARGS], *value[MAX_TAG_ARGS];
    size_t n;
} query_args;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    query_args *q = cls;
    if (q->n == MAX_TAG_ARGS) return MHD_NO;
    q->key[q->n] = key;
    q->value[q->n++] = value ? value : "";
    return MHD_YES;
}

/* Whether If-None-Match (a list of entity tags) holds etag; the comparison
 * is weak (RFC 9110 section 13.1.2): W/ is ignored. "*" holds nothing here:
 * the tag is checked before the query is, and only a valid query has an
 * answer to be current (a tag of ours can only come from one). */
static int none_match_holds(const char *header, const char *etag) {
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!end) return 0;
        if ((size_t)(end + 1 - p) == elen && memcmp(p, etag, elen) == 0) return 1;
        p = end + 1;
    }
    return 0;
}

int sl_req_not_modified(sl_request *req, size_t n, const char *const *names, const long *versions,
                        int pinned) {
    if (req->capture || !method_is("GET", req->method)) return 0;
    query_args q = {.n = 0};
    MHD_get_connection_values(req->con, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (q.n == MAX_TAG_ARGS) return 0; /* admit() refuses that many; no tag, no harm */
    /* The query in canonical order: admit() refused repeated names, so
     * sorting by name alone gives one order for any order sent. */
    for (size_t i = 1; i < q.n; i++)
        for (size_t j = i; j > 0 && strcmp(q.key[j - 1], q.key[j]) > 0; j--) {
            const char *k = q.key[j], *v = q.value[j];
            q.key[j] = q.key[j - 1];
            q.value[j] = q.value[j - 1];
            q.key[j - 1] = k;
            q.value[j - 1] = v;
        }
    tag_hash h = tag_seed;
    sl_error ignored;
    int csv = 0;
    sl_req_wants_csv(req, &ignored, &csv);
    tag_str(&h, req->url);
    tag_str(&h, csv ? "csv" : "json");
    for (size_t i = 0; i < n; i++) {
        tag_str(&h, names[i]);
        tag_add(&h, (const char *)&versions[i], sizeof versions[i]);
    }
    for (size_t i = 0; i < q.n; i++) {
        tag_str(&h, q.key[i]);
        tag_str(&h, q.value[i]);
    }
    static const char hex[] = "0123456789abcdef";
    char *t = req->etag;
    *t++ = '"';
    for (int i = 60; i >= 0; i -= 4)
        *t++ = hex[(h.a >> i) & 15];
    for (int i = 60; i >= 0; i -= 4)
        *t++ = hex[(h.b >> i) & 15];
    *t++ = '"';
    *t = '\0';
    req->cache_control = pinned ? "public, max-age=86400" : "no-cache";
    const char *inm = sl_req_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (!inm || !none_match_holds(inm, req->etag)) return 0;
    set_response(req, 304,
                 MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT),
                 NULL);
    return 1;
}

/* ------------------------------------------------------------- run as */

json_t *sl_req_run_as(sl_request *req, int route, const char *name, long version,
                      unsigned *status) {
    int np = req->npath_params;
    char saved[sizeof req->path_params[0].name];
    memcpy(saved, req->path_params[0].name, sizeof saved);
    char saved_value[sizeof req->path_params[0].value];
    memcpy(saved_value, req->path_params[0].value, sizeof saved_value);
    snprintf(req->path_params[0].name, sizeof req->path_params[0].name, "name");
    snprintf(req->path_params[0].value, sizeof req->path_params[0].value, "%s", name);
    req->npath_params = 1;
    snprintf(req->pin_version, sizeof req->pin_version, "%ld", version);
    req->capture = 1;
    req->captured = NULL;
    sl_routes[route].handler(req);
    json_t *out = req->captured;
    *status = req->captured_status;
    if (!out) {
        *status = 500;
        out = json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message",
                        "the handler gave no answer");
    }
    req->capture = 0;
    req->captured = NULL;
    req->pin_version[0] = '\0';
    req->npath_params = np;
    memcpy(req->path_params[0].name, saved, sizeof saved);
    memcpy(req->path_params[0].value, saved_value, sizeof saved_value);
    return out;
}

int sl_req_compare_route(const sl_request *req) {
    return req->compare_route;
}

/* ---------------------------------------------------------------- reading */

const char *sl_req_path_param(const sl_request *req, const char *name) {
    for (int i = 0; i < req->npath_params; i++)
        if (strcmp(req->path_params[i].name, name) == 0) return req->path_params[i].value;
    return "";
}

const char *sl_req_query(const sl_request *req, const char *name) {
    if (req->pin_version[0] && strcmp(name, "version") == 0) return req->pin_version;
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(req->con, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    return value ? value : "";
}

json_t *sl_req_json(const sl_request *req) {
    return req->json;
}

const char *sl_req_body(const sl_request *req, size_t *len) {
    *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

const char *sl_req_header(const sl_request *req, const char *name) {
    return MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, name);
}

int sl_req_number(const sl_request *req, const char *name, const sl_range *range,
                  const double *dflt, double *out, sl_error *err) {
    const char *text = sl_req_query(req, name);
    if (!text) {
        if (dflt) {
            *out = *dflt;
            return 0;
        }
        return sl_error_set(err, SL_ERR_MISSING_PARAMETER, name, "%s is required: a number %s",
                            name, range->what);
    }
    return sl_parse_number(name, text, range, out, err);
}

int sl_req_wants_csv(const sl_request *req, sl_error *err, int *wants) {
    const char *format = sl_req_query(req, "format");
    *wants = 0;
    if (req->capture) return 0;
    if (format) {
        if (strcmp(format, "csv") == 0)
            *wants = 1;
        else if (strcmp(format, "json") != 0)
            return sl_error_set(err, SL_ERR_INVALID_PARAMETER, "format",
                                "format must be json or csv (got '%.40s')", format);
        return 0;
    }
    const char *accept =
        MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    *wants = accept && strstr(accept, "text/csv") != NULL;
    return 0;
}

/* ---------------------------------------------------------------- routing */

/* Matches url against a pattern, capturing {name} segments into req when
 * req is given. */
static int match(const char *pattern, const char *url, sl_request *req) {
    const char *p = pattern, *u = url;
    int n = 0;
    while (*p && *u) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t name_len = (size_t)(close - p - 1);
            int rest = name_len > 0 && p[name_len] == '*';
            size_t seg = rest ? strlen(u) : strcspn(u, "/");
            if (seg == 0 || n == MAX_PATH_PARAMS || seg >= sizeof req->path_params[0].value)
                return 0;
            if (req) {
                size_t nl = rest ? name_len - 1 : name_len;
                if (nl >= sizeof req->path_params[0].name) return 0;
                memcpy(req->path_params[n].name, p + 1, nl);
                req->path_params[n].name[nl] = '\0';
                memcpy(req->path_params[n].value, u, seg);
                req->path_params[n].value[seg] = '\0';
            }
            n++;
            p = close + 1;
            u += seg;
        } else if (*p++ != *u++) {
            return 0;
        }
    }
    if (*p || *u) return 0;
    if (req) req->npath_params = n;
    return 1;
}

static int method_is(const char *route_method, const char *method) {
    /* HEAD is GET without the body; libmicrohttpd drops the body itself. */
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* The route for method and url: its index, -1 if no pattern matches the url,
 * -2 if some do but not with this method. Static routes only catch what no
 * API route claims. */
static int find_route(sl_request *req) {
    int path_matched = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sl_route_count; i++) {
            const sl_route *r = &sl_routes[i];
            if ((pass == 0) == ((r->flags & SL_ROUTE_STATIC) != 0)) continue;
            if (pass == 1 && (path_matched || strncmp(req->url, "/v1/", 4) == 0)) continue;
            if (!match(r->pattern, req->url, NULL)) continue;
            path_matched = 1;
            if (method_is(r->method, req->method)) {
                match(r->pattern, req->url, req);
                return (int)i;
            }
        }
    return path_matched ? -2 : -1;
}

static void allow_header(const sl_request *req, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sl_route_count; i++) {
        if (!match(sl_routes[i].pattern, req->url, NULL)) continue;
        if (strstr(buf, sl_routes[i].method)) continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", sl_routes[i].method);
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
        if (strcmp(sl_routes[i].method, "GET") == 0 && len + 6 < cap) {
            memcpy(buf + len, ", HEAD", 7);
            len += 6;
        }
    }
}

typedef struct {
    const sl_route *route;
    sl_error *err;
    const char *seen[SL_ROUTE_MAX_PARAMS + 1];
    int failed;
    int compare; /* route is asked of several laws: laws= for version= */
} query_check;

/* Index of key among the parameters a route takes (SL_ROUTE_MAX_PARAMS
 * for a compare's laws=), or -1. */
static int param_index(const query_check *qc, const char *key) {
    if (qc->compare && strcmp(key, "laws") == 0) return SL_ROUTE_MAX_PARAMS;
    if (qc->compare && strcmp(key, "version") == 0) return -1;
    for (int i = 0; i < SL_ROUTE_MAX_PARAMS && qc->route->params[i]; i++)
        if (strcmp(key, qc->route->params[i]) == 0) return i;
    return -1;
}

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value) {
    (void)kind;
    (void)value;
    query_check *qc = cls;
    int known = param_index(qc, key);
    if (known < 0) {
        char list[512] = "";
        for (int i = 0; i < SL_ROUTE_MAX_PARAMS && qc->route->params[i]; i++) {
            if (param_index(qc, qc->route->params[i]) < 0) continue;
            strncat(list, list[0] ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, qc->route->params[i], sizeof list - strlen(list) - 1);
        }
        if (qc->compare) strncat(list, ", laws", sizeof list - strlen(list) - 1);
        sl_error_set(qc->err, SL_ERR_UNKNOWN_PARAMETER, key,
                     "unknown parameter '%.40s'; this route takes: %s", key,
                     list[0] ? list : "no parameters");
        qc->failed = 1;
        return MHD_NO;
    }
    if (qc->seen[known]) {
        sl_error_set(qc->err, SL_ERR_INVALID_PARAMETER, key, "%s is given more than once", key);
        qc->failed = 1;
        return MHD_NO;
    }
    qc->seen[known] = key;
    return MHD_YES;
}

/* The checks that need no body: method, route, parameters, auth, type, size.
 * Returns -1 with err set when the request must be refused now. */
static int admit(sl_request *req, sl_error *err) {
    if (req->server->draining)
        return sl_error_set(err, SL_ERR_SHUTTING_DOWN, NULL,
                            "the server is shutting down; retry shortly");
    /* RFC 9112 section 3.2: a server answers 400 to an HTTP/1.1 request
     * without a Host header. */
    if (strcmp(req->version, MHD_HTTP_VERSION_1_0) != 0 &&
        !MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))
        return sl_error_set(err, SL_ERR_MISSING_PARAMETER, "Host",
                            "an %s request needs a Host header", req->version);
    req->route = find_route(req);
    if (req->route == -1)
        return sl_error_set(err, SL_ERR_NOT_FOUND, NULL, "no route for %.200s", req->url);
    if (req->route == -2) {
        req->route = -1;
        return sl_error_set(err, SL_ERR_METHOD_NOT_ALLOWED, NULL, "%s is not allowed on %.200s",
                            req->method, req->url);
    }
    const sl_route *r = &sl_routes[req->route];
    query_check qc = {.route = r, .err = err};
    if (r->flags & SL_ROUTE_COMPARE) {
        const char *query = sl_req_path_param(req, "query");
        req->compare_route = sl_route_comparable(query);
        if (req->compare_route < 0) {
            char list[256] = "";
            for (size_t i = 0; i < sl_route_count; i++)
                if (sl_route_is_comparable(&sl_routes[i])) {
                    strncat(list, list[0] ? ", " : "", sizeof list - strlen(list) - 1);
                    strncat(list, sl_routes[i].pattern + strlen("/v1/laws/{name}/"),
                            sizeof list - strlen(list) - 1);
                }
            return sl_error_set(err, SL_ERR_NOT_FOUND, "query",
                                "no query named '%.60s' to compare; compare takes: %s", query,
                                list);
        }
        qc.route = &sl_routes[req->compare_route];
        qc.compare = 1;
    }
    MHD_get_connection_values(req->con, MHD_GET_ARGUMENT_KIND, check_query_arg, &qc);
    if (qc.failed) return -1;
    if (r->flags & SL_ROUTE_AUTH) {
        const char *auth =
            MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        unsigned status = sl_secret_bearer_check(auth, req->server->token);
        if (status == 401)
            return sl_error_set(err, SL_ERR_UNAUTHORIZED, NULL,
                                "this route needs Authorization: Bearer <token>");
        if (status == 403)
            return sl_error_set(err, SL_ERR_FORBIDDEN, NULL, "the bearer token is wrong");
    }
    if (r->flags & SL_ROUTE_JSON_BODY) {
        const char *type =
            MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        size_t n = strlen("application/json");
        if (!type || strncasecmp(type, "application/json", n) != 0 ||
            (type[n] && type[n] != ';' && type[n] != ' '))
            return sl_error_set(
                err, SL_ERR_UNSUPPORTED_MEDIA_TYPE, NULL,
                "the body must be sent as Content-Type: application/json (got %.60s)",
                type ? type : "none");
    }
    const char *length =
        MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && strtoull(length, NULL, 10) > req->server->config->max_body)
        return sl_error_set(err, SL_ERR_PAYLOAD_TOO_LARGE, NULL,
                            "the body is larger than the limit of %zu bytes",
                            req->server->config->max_body);
    return 0;
}

static int parse_body(sl_request *req, sl_error *err) {
    if (req->body_too_large)
        return sl_error_set(err, SL_ERR_PAYLOAD_TOO_LARGE, NULL,
                            "the body is larger than the limit of %zu bytes",
                            req->server->config->max_body);
    if (!(sl_routes[req->route].flags & SL_ROUTE_JSON_BODY)) return 0;
    if (req->body.len == 0)
        return sl_error_set(err, SL_ERR_INVALID_JSON, NULL, "the body is empty; expected JSON");
    json_error_t jerr;
    /* Any JSON value parses ("3" is JSON); the decoders refuse the wrong shape
     * as invalid_body. */
    req->json =
        json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!req->json)
        return sl_error_set(err, SL_ERR_INVALID_JSON, NULL,
                            "invalid JSON at line %d, column %d (byte %d): %s", jerr.line,
                            jerr.column, jerr.position, jerr.text);
    return 0;
}

static int append_body(sl_request *req, const char *data, size_t size) {
    size_t max = req->server->config->max_body;
    if (req->body_too_large || req->body.len + size > max) {
        req->body_too_large = 1;
        return 0; /* keep reading and discard, then answer 413 */
    }
    if (sl_buf_add(&req->body, data, size) != 0) abort();
    return 0;
}

static enum MHD_Result queue(sl_request *req) {
    enum MHD_Result ok = MHD_queue_response(req->con, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return ok;
}

/* Whether a body follows the headers. */
static int has_body(const sl_request *req) {
    const char *length =
        MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (length && strtoull(length, NULL, 10) > 0) ||
           MHD_lookup_connection_value(req->con, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The handler; a query's JSON from the thread's arena (it never outlives
 * the answer, which is written out before the arena is let go). */
static void run_handler(sl_request *req) {
    const sl_route *r = &sl_routes[req->route];
    int arena = (r->flags & SL_ROUTE_COMPARE) || sl_route_is_comparable(r);
    if (arena) sl_json_arena_begin();
    r->handler(req);
    if (arena) { /* the warnings are the arena's too, and already in the answer */
        json_decref(req->warnings);
        req->warnings = NULL;
        sl_json_arena_end();
    }
}

static sl_request *new_request(sl_server *server, struct MHD_Connection *con, const char *url,
                               const char *method, const char *version) {
    sl_request *req = calloc(1, sizeof *req);
    if (!req) abort();
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    req->server = server;
    req->con = con;
    req->url = url;
    req->method = method;
    req->version = version;
    req->route = -1;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->conn = info ? info->socket_context : NULL;
    atomic_fetch_add(&in_flight, 1);
    return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    sl_request *req = *con_cls;
    sl_error err;
    if (!req) {
        req = *con_cls = new_request(cls, con, url, method, version);
        sl_http_guard_phase(req, SL_CONN_BODY);
        if (admit(req, &err) != 0) {
            sl_reply_error(req, &err);
            /* A refused body is never read: with one to come, answer now
             * (libmicrohttpd then closes the connection); without one, the
             * final call comes at once and the connection stays open. */
            if (has_body(req)) {
                sl_http_guard_phase(req, SL_CONN_BUSY);
                return queue(req);
            }
        }
        return MHD_YES;
    }
    if (req->status && !req->response) { /* answered and queued already */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!req->response) append_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    sl_http_guard_phase(req, SL_CONN_BUSY);
    if (req->response) return queue(req); /* refused by admit() */
    int park = sl_http_guard_park_state(req, 1);
    if (park == SL_PARK_WAITING) return MHD_YES; /* not resumed yet */
    if (park == SL_PARK_RESUMED)
        req->park_resume(req, req->park_key);
    else if (parse_body(req, &err) != 0)
        sl_reply_error(req, &err);
    else
        run_handler(req);
    if (!req->response && sl_http_guard_park_state(req, 0) != SL_PARK_NONE)
        return MHD_YES; /* parked */
    if (!req->response) sl_reply_fail(req, SL_ERR_INTERNAL, NULL, "the handler gave no answer");
    return queue(req);
}

/* Appends s to the line as JSON string content. Bytes outside printable
 * ASCII are escaped one by one, so the line is valid JSON whatever the path. */
static void log_request(const sl_request *req, double seconds) {
    sl_log_line l;
    sl_log_begin_bare(&l);
    sl_log_str(&l, "method", req->method);
    sl_log_str(&l, "route", req->route >= 0 ? sl_routes[req->route].pattern : "unmatched");
    sl_log_str(&l, "path", req->url);
    sl_log_int(&l, "status", req->status);
    sl_log_int(&l, "us", (long long)(seconds * 1e6));
    sl_log_end(&l);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)con;
    (void)toe;
    sl_server *server = cls;
    sl_request *req = *con_cls;
    if (!req) return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - req->start.tv_sec) +
                     (double)(end.tv_nsec - req->start.tv_nsec) * 1e-9;
    if (req->status) {
        sl_metrics_observe(server->metrics, req->route, req->status, seconds);
        log_request(req, seconds);
    }
    sl_http_guard_request_done(req);
    if (req->response) MHD_destroy_response(req->response);
    json_decref(req->json);
    json_decref(req->warnings);
    sl_buf_free(&req->body);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&in_flight, 1);
}

/* ---------------------------------------------------------------- daemon */

/* Percent-decoding of the path and query, except that text holding %00 stays
 * as sent: a decoded NUL would cut a name or number short for every C string
 * reader after us ("/v1/laws/mine%00x" would write "mine"), while the raw
 * text fails validation like any other bad name or number. */
static size_t unescape(void *cls, struct MHD_Connection *con, char *s) {
    (void)cls;
    (void)con;
    return strstr(s, "%00") ? strlen(s) : MHD_http_unescape(s);
}

int sl_http_listen(const sl_config *cfg, int *fd, unsigned *port, char *err, size_t errcap) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, cfg->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        len = sizeof *v6;
    } else {
        snprintf(err, errcap, "--bind %s is not an IPv4 or IPv6 address", cfg->bind);
        return -1;
    }
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errcap, "cannot open a socket: %s", strerror(errno));
        return -1;
    }
    /* SO_REUSEADDR only lets a restart take over a port in TIME_WAIT; with no
     * SO_REUSEPORT a second server on a port in use is refused. */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, len) != 0 || listen(s, SOMAXCONN) != 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errcap, "port %u is in use on %s", cfg->port, cfg->bind);
        else
            snprintf(err, errcap, "cannot listen on %s port %u: %s", cfg->bind, cfg->port,
                     strerror(errno));
        close(s);
        return -1;
    }
    len = sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, errcap, "cannot read the port bound: %s", strerror(errno));
        close(s);
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
    *fd = s;
    return 0;
}

/* libmicrohttpd's own messages (a connection refused at the limit, a
 * client gone mid-request, a cut answer) as log lines like any other. */
__attribute__((format(printf, 2, 0))) static void library_log(void *cls, const char *fmt,
                                                              va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sl_text_trim_end(msg);
    sl_log(SL_LOG_WARNING, "libmicrohttpd", msg);
}

int sl_http_start(sl_server *server, int fd) {
    const sl_config *cfg = server->config;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    sl_json_arena_install();
    tag_seed_init();
    if (sl_http_guard_start(server) != 0) {
        sl_log(SL_LOG_ERROR, "cannot_start", "cannot start the connection guard thread");
        close(fd);
        return -1;
    }
    daemon_handle = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, library_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_NOTIFY_CONNECTION, sl_http_guard_on_connection, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->http_timeout, MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!daemon_handle) {
        sl_log(SL_LOG_ERROR, "cannot_start", "libmicrohttpd would not serve the listening socket");
        sl_http_guard_stop();
        close(fd);
        return -1;
    }
    return 0;
}

void sl_http_stop(sl_server *server, unsigned grace_ms) {
    if (!daemon_handle) return;
    server->draining = 1;
    MHD_socket listener = MHD_quiesce_daemon(daemon_handle);
    /* Stops listening now (new connections are refused), but closes only
     * once the workers, which may still be taking it out of their epoll
     * sets, are gone. */
    if (listener != MHD_INVALID_SOCKET) shutdown(listener, SHUT_RDWR);
    for (unsigned waited = 0; atomic_load(&in_flight) > 0 && waited < grace_ms; waited += 10)
        usleep(10000);
    sl_http_guard_stop(); /* after the drain: it answers the parked requests */
    MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    if (listener != MHD_INVALID_SOCKET) close(listener);
}
