/*
 * sl_curl.h - sparselawd's HTTP client (libcurl), for the backends that
 * drive a peer over HTTP (the worker, slurmrestd): one handle per backend
 * and one request function with a bounded response body. The HTTP server
 * is another module, sl_http (libmicrohttpd).
 */
#ifndef SL_CURL_H
#define SL_CURL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

/* A handle for one thread's requests. Calls curl_global_init, so create it
 * before other threads use libcurl. NULL when libcurl cannot start. */
CURL *sl_curl_new(void);
/* Frees a handle of sl_curl_new (NULL: nothing). */
void sl_curl_free(CURL *curl);

/* One request on curl (reset first): method to base followed by path, with
 * headers and body (NUL-terminated, or NULL for none), reading at most max
 * bytes of answer (a larger one aborts the transfer rather than filling
 * memory). The HTTP status with the body parsed into *out (NULL when not
 * JSON), or -1 with why there was no answer in problem. */
long sl_curl_request(CURL *curl, const char *method, const char *base, const char *path,
                     struct curl_slist *headers, const char *body, size_t max, json_t **out,
                     char *problem, size_t cap);

#endif
