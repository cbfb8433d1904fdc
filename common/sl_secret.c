/* sl_secret.c - tokens and random secrets (sl_secret.h). */
#include "sl_secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "sl_text.h"

int sl_secret_random_hex(char *out, size_t nbytes) {
    unsigned char raw[64];
    if (nbytes > sizeof raw) return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int sl_secret_token_set(char *buf, size_t cap, const char *text, const char *where, char *err,
                        size_t errcap) {
    size_t n = sl_text_trimmed_len(text);
    if (n < SL_SECRET_TOKEN_MIN || n > SL_SECRET_TOKEN_MAX) {
        snprintf(err, errcap, "the token from %s must be %d to %d characters", where,
                 SL_SECRET_TOKEN_MIN, SL_SECRET_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (text[i] <= ' ' || text[i] > '~') {
            snprintf(err, errcap, "the token from %s must be printable ASCII without spaces",
                     where);
            return -1;
        }
    if (n >= cap) {
        snprintf(err, errcap, "internal: no room for the token from %s", where);
        return -1;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    return 0;
}

int sl_secret_token_read(const char *path, char *buf, size_t cap, char *err, size_t errcap) {
    /* Room for more than the longest token, so that a longer one is refused
     * rather than cut to fit. */
    char text[SL_SECRET_TOKEN_MAX + 64];
    if (sl_text_read_file(path, text, sizeof text) != 0) {
        snprintf(err, errcap, "cannot read token file %s: %s", path, strerror(errno));
        return -1;
    }
    return sl_secret_token_set(buf, cap, text, path, err, errcap);
}

unsigned sl_secret_bearer_check(const char *authorization, const char *secret) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 401;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t glen = strlen(given), slen = strlen(secret);
    unsigned char diff = (unsigned char)(glen != slen);
    for (size_t i = 0; i < slen; i++)
        diff |= (unsigned char)(secret[i] ^ (i < glen ? given[i] : 0));
    return diff ? 403 : 0;
}
