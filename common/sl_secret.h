/*
 * sl_secret.h - bearer tokens and random secrets, shared by the server and the
 * trainer's serve mode so that both judge a token and a guess the same way.
 */
#ifndef SL_SECRET_H
#define SL_SECRET_H

#include <stddef.h>

/* A token's accepted length, in characters. */
#define SL_SECRET_TOKEN_MIN 16
#define SL_SECRET_TOKEN_MAX 256

/* Fills out with 2 x nbytes hex digits of nbytes from the OS's random source,
 * NUL-terminated (out holds 2 x nbytes + 1). 0, or -1 when there is no
 * randomness to be had. */
int sl_secret_random_hex(char *out, size_t nbytes) __attribute__((warn_unused_result));

/* Stores text, less trailing white space, into buf as the token when it is
 * SL_SECRET_TOKEN_MIN..MAX printable ASCII characters without spaces (and
 * fits in cap). 0, or -1 with the reason, naming where it came from. */
int sl_secret_token_set(char *buf, size_t cap, const char *text, const char *where, char *err,
                        size_t errcap);

/* sl_secret_token_set on the content of a token file. */
int sl_secret_token_read(const char *path, char *buf, size_t cap, char *err, size_t errcap);

/* 0 when the Authorization header value is "Bearer <secret>", 401 when it is
 * absent or not a bearer token, 403 when it carries another secret. Every
 * byte of the secret is compared whatever the guess, so the time taken says
 * nothing about how much of a guess was right. */
unsigned sl_secret_bearer_check(const char *authorization, const char *secret);

#endif
