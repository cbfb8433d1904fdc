/*
 * sl_http.h - the libmicrohttpd glue: one request context, one route table,
 * one way to answer (JSON, text or the error helper). Handlers read the
 * request through these functions and never touch libmicrohttpd directly.
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "sl_config.h"
#include "sl_errors.h"
#include "sl_parse.h"

struct sl_store;
struct sl_metrics;
struct sl_jobs;
struct sl_runs;

/* What every handler can reach: settings, store, token, metrics. */
typedef struct sl_server {
    const sl_config *config;
    struct sl_store *store;
    struct sl_metrics *metrics;
    struct sl_jobs *jobs;
    struct sl_runs *runs; /* calibration runs (sweeps) */
    const char *token;
    atomic_int draining; /* set on SIGTERM: new requests get 503 */
} sl_server;

typedef struct sl_request sl_request;
typedef void (*sl_handler_fn)(sl_request *req);

enum {
    SL_ROUTE_AUTH = 1u << 0,      /* needs the bearer token */
    SL_ROUTE_JSON_BODY = 1u << 1, /* takes an application/json body */
    SL_ROUTE_STATIC = 1u << 2,    /* files of --static-dir; not an API route */
    SL_ROUTE_COMPARE = 1u << 3,   /* /v1/compare/{query}: one route per comparable one */
};

#define SL_ROUTE_MAX_PARAMS 24

typedef struct sl_route {
    const char *method;
    const char *pattern; /* "/v1/laws/{name}/loss"; "{path*}" matches the rest */
    sl_handler_fn handler;
    unsigned flags;
    const char *params[SL_ROUTE_MAX_PARAMS]; /* query parameters it accepts */
    const char *summary;
} sl_route;

extern const sl_route sl_routes[];
extern const size_t sl_route_count;

/* Comparable routes: every GET /v1/laws/{name}/<query> but versions. The
 * index of the one for query, or -1. */
int sl_route_is_comparable(const sl_route *r);
int sl_route_comparable(const char *query);

/* The route table as JSON, for --routes and the openapi sync test; the
 * compare row is listed as one /v1/compare/<query> route per comparable
 * route, with that route's parameters less version and format, plus laws. */
json_t *sl_routes_json(void);

/* Binds and listens on --bind and --port before anything else starts, so
 * that a port in use stops the server before it touches its data. 0 with
 * the socket in *fd and the port bound in *port (the free one for --port 0),
 * or -1 with the reason in err ("port P is in use"). */
int sl_http_listen(const sl_config *cfg, int *fd, unsigned *port, char *err, size_t errcap);
/* Serves on the socket from sl_http_listen, which it then owns; 0 on success. */
int sl_http_start(sl_server *server, int fd);
/* Stops accepting, waits up to grace_ms for in-flight requests, stops. */
void sl_http_stop(sl_server *server, unsigned grace_ms);

/* ---- reading the request ---- */
sl_server *sl_req_server(const sl_request *req);
/* The value of path segment {name}; "" when the route has none. */
const char *sl_req_path_param(const sl_request *req, const char *name);
/* A query parameter, or NULL when absent ("" when given without a value). */
const char *sl_req_query(const sl_request *req, const char *name);
/* The body as parsed JSON (routes with SL_ROUTE_JSON_BODY), never NULL there. */
json_t *sl_req_json(const sl_request *req);
/* The raw body, for routes that read a media type of their own (NUL-terminated;
 * len excludes it). */
const char *sl_req_body(const sl_request *req, size_t *len);
/* A request header, or NULL. */
const char *sl_req_header(const sl_request *req, const char *name);
/* Sets *wants to 1 when the client asked for CSV: ?format=csv or Accept: text/csv. */
int sl_req_wants_csv(const sl_request *req, sl_error *err, int *wants);

/* Query parameter as a number in range. dflt NULL: required. */
int sl_req_number(const sl_request *req, const char *name, const sl_range *range,
                  const double *dflt, double *out, sl_error *err);

/* ---- conditional GET (RFC 9110 section 13.1.2) ---- */
/* A GET or HEAD whose answer is fixed by the laws it reads (names[i] at
 * versions[i]) and its path and query: gives its 200 an ETag of those, of
 * whether it asked for CSV and of the server's version and contract
 * (openapi.json), and a Cache-Control
 * (max-age for pinned answers, every law named by ?version=, which never
 * change; no-cache, revalidate each time, for latest versions). Returns 1
 * when If-None-Match holds that ETag, having answered 304 (the caller stops
 * there), else 0. Does nothing for other methods or inside sl_req_run_as. */
int sl_req_not_modified(sl_request *req, size_t n, const char *const *names, const long *versions,
                        int pinned);

/* ---- one answer made of others: /v1/compare ---- */
/* Runs route's handler as if the client had asked it about law name at
 * version, with this request's query, and returns what it answered (the
 * body, the caller's; *status its status) instead of sending it. Answers are
 * JSON there (format and Accept: text/csv do not apply). */
json_t *sl_req_run_as(sl_request *req, int route, const char *name, long version, unsigned *status);
/* The route /v1/compare/{query} asks of each law (admit checked it). */
int sl_req_compare_route(const sl_request *req);

/* ---- answering later: long waits off the HTTP threads ---- */
typedef void (*sl_resume_fn)(sl_request *req, long long key);
/* Parks the request instead of answering: its HTTP thread returns at once
 * and libmicrohttpd stops polling the connection (suspend). resume(req, key)
 * then answers it on an HTTP thread once sl_http_wake(key) is called,
 * timeout_ms have passed or the server drains, whichever comes first; while
 * the server drains it runs at once. */
void sl_req_park(sl_request *req, long long key, unsigned timeout_ms, sl_resume_fn resume);
/* Any thread: resumes every request parked on key (none: nothing happens). */
void sl_http_wake(long long key);

/* Warnings (a JSON array of sentences; stolen) that every successful answer
 * to this request carries: a "warnings" member of a JSON object body, the
 * Sparselaw-Warnings header (the array as ASCII JSON) of a CSV one. An empty
 * array sets none. */
void sl_req_add_warnings(sl_request *req, json_t *warnings);

/* ---- answering: call exactly one ---- */
/* Steals body. */
void sl_reply_json(sl_request *req, unsigned status, json_t *body);
/* Takes ownership of a malloc'd buffer. */
void sl_reply_text(sl_request *req, unsigned status, const char *content_type, char *buf,
                   size_t len);
/* A body made as the client reads it, for answers too large to hold at
 * once: fill writes up to max bytes at buf and returns how many, 0 at the
 * end, or -1 when it cannot go on (the connection is then closed, so the
 * client sees a cut answer, never a short one that looks whole). done(ctx)
 * is called once the answer is over, however it ended or if it is never
 * sent. Sent chunked (HTTP/1.1) or to the connection's close (HTTP/1.0). */
typedef long (*sl_stream_fill)(void *ctx, char *buf, size_t max);
void sl_reply_stream(sl_request *req, unsigned status, const char *content_type,
                     sl_stream_fill fill, void (*done)(void *ctx), void *ctx);
/* A file's contents; takes ownership of fd. */
void sl_reply_file(sl_request *req, int fd, size_t size, const char *content_type);
/* The one error helper: status from the code, JSON body, Allow for 405. */
void sl_reply_error(sl_request *req, const sl_error *err);
/* Shorthand for sl_reply_error with a fresh error. */
void sl_reply_fail(sl_request *req, sl_err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
