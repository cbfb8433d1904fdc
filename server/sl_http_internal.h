/*
 * sl_http_internal.h - what sl_http.c and its connection guard
 * (sl_http_guard.c) share: the request as the server keeps it, the phases a
 * connection goes through, and the guard's calls. Not for handlers: they see
 * sl_request only through sl_http.h.
 */
#ifndef SL_HTTP_INTERNAL_H
#define SL_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <time.h>

#include "sl_buf.h"
#include "sl_http.h"

#define MAX_PATH_PARAMS 4

struct sl_request {
    sl_server *server;
    struct MHD_Connection *con;
    const char *method;
    const char *url;
    int route; /* index into sl_routes, -1 when none matched */
    struct {
        char name[32];
        char value[256];
    } path_params[MAX_PATH_PARAMS];
    int npath_params;
    sl_buf body;
    int body_too_large;
    json_t *json;
    struct MHD_Response *response;
    unsigned status;
    struct timespec start;
    const char *version;
    struct sl_conn *conn; /* its connection in the guard's list */
    /* sl_req_park; park and the links change under guard.lock */
    int park;
    long long park_key;
    double park_until;
    sl_resume_fn park_resume;
    sl_request *park_prev, *park_next;
    json_t *warnings; /* sl_req_add_warnings: an array, or NULL */
    /* sl_req_not_modified: the ETag and Cache-Control of a 200 answer ("" if none) */
    char etag[40];
    const char *cache_control;
    /* sl_req_run_as: a handler's answer kept instead of sent, and the law
     * version it must answer for ("version" as the handler reads it) */
    int capture;
    json_t *captured;
    unsigned captured_status;
    char pin_version[24];
    int compare_route; /* /v1/compare/{query}: the law route it asks each law */
};

typedef enum sl_conn_phase {
    SL_CONN_IDLE,    /* before a request's first byte: --http-timeout (libmicrohttpd's) */
    SL_CONN_HEADERS, /* from that byte to the end of the headers: --header-timeout */
    SL_CONN_BODY,    /* reading the body: --body-timeout */
    SL_CONN_BUSY,    /* handling or answering it, or parked: no deadline here */
    SL_CONN_CLOSING, /* shut down by the guard; libmicrohttpd closes it */
} sl_conn_phase;

/* Where a parked request (sl_req_park) stands. */
enum { SL_PARK_NONE, SL_PARK_WAITING, SL_PARK_RESUMED };

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION: the guard's list of open
 * connections. */
void sl_http_guard_on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code);
/* The request's connection enters phase (its deadline runs from now). */
void sl_http_guard_phase(sl_request *req, sl_conn_phase phase);
/* The request's park state (SL_PARK_*); with take, a resumed request leaves
 * it, to be answered now. */
int sl_http_guard_park_state(sl_request *req, int take);
/* The request has ended: out of the parked list, its connection idle again. */
void sl_http_guard_request_done(sl_request *req);
int sl_http_guard_start(const sl_server *server);
/* Resumes what is still parked (libmicrohttpd must not stop with suspended
 * connections) and stops the thread. */
void sl_http_guard_stop(void);

#endif
