/*
 * sl_auth.h - the bearer token for writes: from --token-file, SPARSELAW_TOKEN,
 * or generated once into the data directory (mode 0600).
 */
#ifndef SL_AUTH_H
#define SL_AUTH_H

#include <stddef.h>

#include "sl_config.h"

/* Loads or creates the token into buf (cap >= 65). 0 on success; -1 with
 * the reason in errbuf. Logs where a generated token is kept. */
int sl_auth_load_token(const sl_config *cfg, char *buf, size_t cap, char *errbuf, size_t errcap);

/* Requests are checked against the token with sl_secret_bearer_check
 * (common/sl_secret.h). */

#endif
