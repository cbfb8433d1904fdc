/*
 * mhd_ceiling - the fastest answer libmicrohttpd can give with sparselawd's
 * daemon setup: the same flags and options as server/sl_http.c
 * sl_http_start(), the same thread pool size, and one fixed JSON body
 * (a real optimal-sparsity answer, 1425 bytes) for every request, with
 * the ETag, Cache-Control and Vary a query answer carries (and the 304 of
 * a request with If-None-Match: no body, those headers). Whatever
 * sparselawd serves below this server's rate is the cost of sparselaw's own
 * work (routing, SQLite, the law, JSON, logging, metrics).
 *
 *   mhd_ceiling [--port N] [--threads N] [--bind ADDR]
 *
 * --port 0 (the default) takes a free port. Like sparselawd it logs
 * {"event":"listening","port":N,...} on stderr, and it stops on SIGTERM or
 * SIGINT. --threads defaults to the number of online cores, as sparselawd's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GET /v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9&data=2e11, as sparselawd
 * answered it (with its trailing newline). */
static const char body[] =
    "{\"law\":{\"name\":\"t5-c4\",\"version\":1},\"sparsity\":0.15861091221901558,\"loss\":1."
    "3511290567743979,\"dense_loss\":1.352074383071268,\"improvement\":0.00094532629687016367"
    ",\"nonzeros\":1000000000.0,\"total_params\":1188510778.8090334,\"data\":168277817556.196"
    "9,\"dense_data\":200000000000.0,\"compute\":1.2e21,\"cost_model\":\"dense\",\"pattern\":"
    "\"unstructured\",\"sparsity_pays_above_data\":90996698230.089722,\"sparsity_pays_above_c"
    "ompute\":5.4598018938053834e20,\"dense_optimal_data\":30183792357.849857,\"dense_optimal"
    "_compute\":1.8110275414709915e20,\"improvement_percent\":0.069916737474371285,\"max_spar"
    "sity\":0.999,\"budget\":{\"given\":\"data\",\"note\":\"data given: the budget of a dense"
    " model with 1e+09 parameters seeing 2e+11 tokens, i.e. compute = 6 x nonzeros x dense_da"
    "ta; a sparse model costs more per token, so it sees data = 1.68278e+11\"},\"units\":{\"s"
    "parsity\":\"fraction of weights that are zero, in [0, 1)\",\"loss\":\"the law's loss (va"
    "lidation loss, as fitted)\",\"dense_loss\":\"the law's loss (validation loss, as fitted)"
    "\",\"improvement\":\"the law's loss: dense_loss - loss\",\"nonzeros\":\"parameters\",\"t"
    "otal_params\":\"parameters\",\"data\":\"tokens\",\"dense_data\":\"tokens\",\"compute\":"
    "\"FLOPs (6 x parameters x tokens)\",\"sparsity_pays_above_data\":\"tokens\",\"sparsity_p"
    "ays_above_compute\":\"FLOPs (6 x parameters x tokens)\",\"dense_optimal_data\":\"tokens"
    "\",\"dense_optimal_compute\":\"FLOPs (6 x parameters x tokens)\",\"max_sparsity\":\"frac"
    "tion of weights that are zero, in [0, 1)\"}}\n";

/* What *con_cls points at once the first call for a request has been seen. */
static char first_call_seen;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    /* Answer on the second call, as sparselawd does: libmicrohttpd closes
     * the connection after a response queued on the first call (before the
     * request is fully read), which would defeat keep-alive. */
    if (!*con_cls) {
        *con_cls = &first_call_seen;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body: swallow it, answer once it is read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* A fresh response per request, as a real handler must build one; the
     * body itself is static, so nothing is copied or freed. With
     * If-None-Match (whatever it holds) the answer is sparselawd's 304:
     * no body, the same headers. */
    int not_modified =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH) != NULL;
    struct MHD_Response *resp =
        not_modified
            ? MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(sizeof body - 1, (void *)(uintptr_t)body,
                                              MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    if (!not_modified)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    /* sparselawd's cache headers on a query answer */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, "\"1cd9a9ac994860ac6b142cf95d791c0d\"");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
    enum MHD_Result ok =
        MHD_queue_response(con, not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* sparselawd passes MHD_OPTION_NOTIFY_COMPLETED; keep the option, just reset. */
static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)con;
    (void)toe;
    *con_cls = NULL;
}

static int parse_uint(const char *flag, const char *text, unsigned long lo, unsigned long hi,
                      unsigned *out) {
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "mhd_ceiling: %s must be an integer in [%lu, %lu] (got '%s')\n", flag, lo,
                hi, text);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: mhd_ceiling [--port N (0: any free port)] [--threads N (default: cores)] "
               "[--bind ADDR (default 127.0.0.1)]\n");
}

int main(int argc, char **argv) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned port = 0, threads = cores > 0 ? (unsigned)cores : 2;
    const char *bind = "127.0.0.1";
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        }
        if (a + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *value = argv[++a];
        if (!strcmp(arg, "--port")) {
            if (parse_uint(arg, value, 0, 65535, &port)) return 2;
        } else if (!strcmp(arg, "--threads")) {
            if (parse_uint(arg, value, 1, 256, &threads)) return 2;
        } else if (!strcmp(arg, "--bind")) {
            bind = value;
        } else {
            usage(stderr);
            return 2;
        }
    }

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *addr;
    /* The flags of sl_http_start(). */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, bind, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, bind, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "mhd_ceiling: --bind %s is not an IPv4 or IPv6 address\n", bind);
        return 2;
    }
    /* The options of sl_http_start(), in the same order and with the same values. */
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_ceiling: cannot listen on %s port %u\n", bind, port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr,
            "{\"level\":\"info\",\"event\":\"listening\",\"bind\":\"%s\",\"port\":%u,"
            "\"threads\":%u,\"body_bytes\":%zu}\n",
            bind, info ? (unsigned)info->port : port, threads, sizeof body - 1);

    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
