/*
 * sl_http_guard.c - the connection guard of sl_http: deadlines for a
 * request's headers and body, idle connections closed first near the
 * connection limit, and the parked ?wait requests resumed when their wait
 * is over (sl_http_internal.h).
 */
#include "sl_http_internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sl_log.h"
#include "sl_time.h"

/* libmicrohttpd's --http-timeout is idle time, which every byte resets: one
 * header line every few seconds would hold a connection for ever, and with
 * it the connection limit. The guard is one thread that knows where every
 * connection is in its request and shuts down those past their deadline
 * (--header-timeout, --body-timeout); it also resumes parked requests
 * (sl_req_park) whose wait is over. */

/* How often the guard looks: the deadlines' precision. */
#define GUARD_TICK_S 0.1
/* Near the connection limit, how long a new connection may stay silent
 * (one that was answered already: a tick), and how long a request's headers
 * may take: clients send them in one go, so this cuts only trickles. */
#define GUARD_SILENT_S  1.0
#define GUARD_HEADERS_S 0.25

typedef struct sl_conn {
    struct sl_conn *prev, *next;
    int fd;
    sl_conn_phase phase;
    double since; /* when the phase began */
    int served;   /* it has had an answer */
} sl_conn;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a parked request or stop */
    sl_conn *conns;      /* every open connection */
    size_t nconns;
    sl_request *parked; /* suspended, SL_PARK_WAITING */
    const sl_server *server;
    pthread_t thread;
    int running, stop;
} guard = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* libmicrohttpd's connection notifications: the list of open connections. */
void sl_http_guard_on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    sl_conn *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        if (!c) abort();
        c->fd = info ? info->connect_fd : -1;
        /* Bytes waiting at the accept: the client has begun a request. */
        int waiting = 0;
        if (c->fd >= 0 && ioctl(c->fd, FIONREAD, &waiting) == 0 && waiting > 0)
            c->phase = SL_CONN_HEADERS;
        else
            c->phase = SL_CONN_IDLE;
        c->since = sl_time_monotonic();
        pthread_mutex_lock(&guard.lock);
        c->next = guard.conns;
        if (guard.conns) guard.conns->prev = c;
        guard.conns = c;
        guard.nconns++;
        pthread_mutex_unlock(&guard.lock);
        *socket_context = c;
        return;
    }
    if (!c) return;
    /* Called before libmicrohttpd closes the socket, and under the lock the
     * guard shuts sockets down with: it never touches a closed fd. */
    pthread_mutex_lock(&guard.lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        guard.conns = c->next;
    if (c->next) c->next->prev = c->prev;
    guard.nconns--;
    pthread_mutex_unlock(&guard.lock);
    free(c);
    *socket_context = NULL;
}

void sl_http_guard_phase(sl_request *req, sl_conn_phase phase) {
    if (!req->conn) return;
    pthread_mutex_lock(&guard.lock);
    if (req->conn->phase != SL_CONN_CLOSING) {
        req->conn->phase = phase;
        req->conn->since = sl_time_monotonic();
    }
    pthread_mutex_unlock(&guard.lock);
}

/* Whether bytes came in on fd during the last `seconds`: libmicrohttpd reads
 * a request as it arrives, so the socket's own record (TCP_INFO) is what
 * tells a kept-alive connection that starts a request from one that idles. */
static int data_within(int fd, double seconds) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return 0;
    /* 20 ms of slack for the kernel's clock ticks */
    return (double)ti.tcpi_last_data_recv * 1e-3 + 0.02 < seconds;
}

typedef struct {
    long long headers, body, idle;
} guard_counts;

/* One pass over the connections, under guard.lock. Near the connection
 * limit (90 %) the clients waiting to connect need places: idle connections
 * are closed first (HTTP lets a server close an idle connection at any
 * time), then those whose headers trickle (GUARD_*_S). */
static void guard_connections(const sl_config *cfg, double now, guard_counts *closed) {
    int crowded = guard.nconns * 10 >= (size_t)cfg->max_connections * 9;
    double header_limit = crowded && cfg->header_timeout > GUARD_HEADERS_S
                              ? GUARD_HEADERS_S
                              : (double)cfg->header_timeout;
    for (sl_conn *c = guard.conns; c; c = c->next) {
        double age = now - c->since;
        long long *count = NULL;
        if (c->phase == SL_CONN_IDLE && data_within(c->fd, age)) {
            c->phase = SL_CONN_HEADERS; /* the first byte came in this tick */
            c->since = now;
        } else if (c->phase == SL_CONN_IDLE && crowded &&
                   age >= (c->served ? GUARD_TICK_S : GUARD_SILENT_S)) {
            count = &closed->idle;
        } else if (c->phase == SL_CONN_HEADERS && age >= header_limit) {
            count = &closed->headers;
        } else if (c->phase == SL_CONN_BODY && age >= cfg->body_timeout) {
            count = &closed->body;
        }
        if (count && c->fd >= 0) {
            /* libmicrohttpd sees the end of the stream and closes it */
            shutdown(c->fd, SHUT_RDWR);
            c->phase = SL_CONN_CLOSING;
            (*count)++;
        }
    }
}

/* Under guard.lock: out of the parked list. */
static void park_unlink(sl_request *req) {
    if (req->park_prev)
        req->park_prev->park_next = req->park_next;
    else
        guard.parked = req->park_next;
    if (req->park_next) req->park_next->park_prev = req->park_prev;
    req->park_prev = req->park_next = NULL;
}

/* Under guard.lock: the parked request goes back to libmicrohttpd, which
 * calls on_request again, where its resume function answers. */
static void unpark(sl_request *req) {
    park_unlink(req);
    req->park = SL_PARK_RESUMED;
    MHD_resume_connection(req->con);
}

/* Resumes the parked requests whose time is up (all of them while the server
 * drains); the earliest deadline left, or `next` when none is earlier. */
static double guard_parked(double now, double next) {
    sl_request *req = guard.parked;
    while (req) {
        sl_request *following = req->park_next;
        if (guard.server->draining || now >= req->park_until)
            unpark(req);
        else if (req->park_until < next)
            next = req->park_until;
        req = following;
    }
    return next;
}

static void log_closed(const guard_counts *n) {
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_WARNING, "connections_closed");
    sl_log_int(&l, "header_timeout", n->headers);
    sl_log_int(&l, "body_timeout", n->body);
    sl_log_int(&l, "idle_at_limit", n->idle);
    sl_log_end(&l);
}

static void *guard_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&guard.lock);
    while (!guard.stop) {
        double now = sl_time_monotonic();
        guard_counts closed = {0};
        guard_connections(guard.server->config, now, &closed);
        double next = guard_parked(now, now + GUARD_TICK_S);
        if (closed.headers || closed.body || closed.idle) {
            pthread_mutex_unlock(&guard.lock); /* stderr may block; connections may not */
            log_closed(&closed);
            pthread_mutex_lock(&guard.lock);
        }
        /* The monotonic clock as a CLOCK_REALTIME deadline: the wait is
         * short, so a change of the wall clock costs one tick at most. */
        double wait = next - sl_time_monotonic();
        if (wait > GUARD_TICK_S) wait = GUARD_TICK_S;
        if (wait < 0.001) wait = 0.001;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = until.tv_nsec + (long)(wait * 1e9);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        if (!guard.stop) pthread_cond_timedwait(&guard.wake, &guard.lock, &until);
    }
    pthread_mutex_unlock(&guard.lock);
    return NULL;
}

void sl_req_park(sl_request *req, long long key, unsigned timeout_ms, sl_resume_fn resume) {
    pthread_mutex_lock(&guard.lock);
    if (req->server->draining || !guard.running || guard.stop) {
        pthread_mutex_unlock(&guard.lock);
        resume(req, key);
        return;
    }
    req->park = SL_PARK_WAITING;
    req->park_key = key;
    req->park_until = sl_time_monotonic() + timeout_ms * 1e-3;
    req->park_resume = resume;
    req->park_prev = NULL;
    req->park_next = guard.parked;
    if (guard.parked) guard.parked->park_prev = req;
    guard.parked = req;
    /* Suspended before anyone can find it, so that a resume always follows
     * a suspend. */
    MHD_suspend_connection(req->con);
    pthread_cond_signal(&guard.wake); /* its deadline may be the next */
    pthread_mutex_unlock(&guard.lock);
}

void sl_http_wake(long long key) {
    pthread_mutex_lock(&guard.lock);
    sl_request *req = guard.parked;
    while (req) {
        sl_request *following = req->park_next;
        if (req->park_key == key) unpark(req);
        req = following;
    }
    pthread_mutex_unlock(&guard.lock);
}

int sl_http_guard_park_state(sl_request *req, int take) {
    pthread_mutex_lock(&guard.lock);
    int park = req->park;
    if (take && park == SL_PARK_RESUMED) req->park = SL_PARK_NONE;
    pthread_mutex_unlock(&guard.lock);
    return park;
}

int sl_http_guard_start(const sl_server *server) {
    guard.server = server;
    guard.stop = 0;
    if (pthread_create(&guard.thread, NULL, guard_main, NULL) != 0) return -1;
    guard.running = 1;
    return 0;
}

void sl_http_guard_stop(void) {
    if (!guard.running) return;
    pthread_mutex_lock(&guard.lock);
    while (guard.parked)
        unpark(guard.parked);
    guard.stop = 1;
    pthread_cond_signal(&guard.wake);
    pthread_mutex_unlock(&guard.lock);
    pthread_join(guard.thread, NULL);
    guard.running = 0;
}

void sl_http_guard_request_done(sl_request *req) {
    pthread_mutex_lock(&guard.lock);
    if (req->park == SL_PARK_WAITING) park_unlink(req); /* ended while parked */
    if (req->conn && req->conn->phase != SL_CONN_CLOSING) {
        req->conn->phase = SL_CONN_IDLE;
        req->conn->since = sl_time_monotonic();
        req->conn->served = 1;
    }
    pthread_mutex_unlock(&guard.lock);
}
