#include "sl_curl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t sl_curl_body_collect(char *p, size_t size, size_t n, void *body) {
    sl_curl_body *r = body;
    size_t add = size * n;
    if (r->len + add > r->max) return 0; /* aborts the transfer */
    char *d = realloc(r->data, r->len + add + 1);
    if (!d) return 0;
    memcpy(d + r->len, p, add);
    r->data = d;
    r->len += add;
    d[r->len] = '\0';
    return add;
}

double sl_backend_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
