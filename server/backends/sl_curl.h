/*
 * sl_curl.h - what the backends that talk HTTP with libcurl share:
 * a bounded response body and the clock that times how long a peer has
 * been silent.
 */
#ifndef SL_CURL_H
#define SL_CURL_H

#include <stddef.h>

/* A response body, NUL-terminated, at most max bytes: a larger one aborts
 * the transfer rather than filling memory. */
typedef struct sl_curl_body {
    char *data; /* malloc'd; NULL until the first byte */
    size_t len, max;
} sl_curl_body;

/* CURLOPT_WRITEFUNCTION for an sl_curl_body given as CURLOPT_WRITEDATA. */
size_t sl_curl_body_collect(char *p, size_t size, size_t n, void *body);

/* Monotonic seconds. */
double sl_backend_now(void);

#endif
