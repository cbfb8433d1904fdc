/*
 * sl_curl.c - sparselawd's HTTP client: the one place the backends call
 * libcurl to make a request (sl_curl.h).
 */
#include "sl_curl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_buf.h"

#define CONNECT_TIMEOUT 5L
#define REQUEST_TIMEOUT 30L

/* CURLOPT_WRITEFUNCTION for an sl_buf given as CURLOPT_WRITEDATA; past the
 * buffer's limit it answers 0, which aborts the transfer. */
static size_t collect(char *p, size_t size, size_t n, void *body) {
    return sl_buf_add(body, p, size * n) == 0 ? size * n : 0;
}

CURL *sl_curl_new(void) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    CURL *curl = curl_easy_init();
    if (!curl) curl_global_cleanup();
    return curl;
}

void sl_curl_free(CURL *curl) {
    if (!curl) return;
    curl_easy_cleanup(curl);
    curl_global_cleanup();
}

long sl_curl_request(CURL *curl, const char *method, const char *base, const char *path,
                     struct curl_slist *headers, const char *body, size_t max, json_t **out,
                     char *problem, size_t cap) {
    char url[2048]; /* base (under 1024 bytes) and a short path */
    sl_buf r = {.max = max};
    long status = -1;
    *out = NULL;
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM in threads */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (r.data) *out = json_loadb(r.data, r.len, 0, NULL);
    } else {
        snprintf(problem, cap, "%s", curl_easy_strerror(rc));
    }
    sl_buf_free(&r);
    return status;
}
