#include "sl_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_secret.h"
#include "sl_log.h"

/* 32 random bytes: 64 hex digits, well inside SL_SECRET_TOKEN_MAX. */
#define TOKEN_BYTES 32

static int generate_token(const char *path, char *buf, size_t cap, char *errbuf, size_t errcap) {
    if (cap < 2 * TOKEN_BYTES + 1 || sl_secret_random_hex(buf, TOKEN_BYTES) != 0) {
        snprintf(errbuf, errcap, "cannot draw a random token from the OS");
        return -1;
    }
    /* O_EXCL: two servers starting on one directory must not trade tokens. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errbuf, errcap, "cannot create token file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(buf);
    int ok = write(fd, buf, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        snprintf(errbuf, errcap, "cannot write token file %s", path);
        return -1;
    }
    return 0;
}

int sl_auth_load_token(const sl_config *cfg, char *buf, size_t cap, char *errbuf, size_t errcap) {
    if (cfg->token_file[0]) return sl_secret_token_read(cfg->token_file, buf, cap, errbuf, errcap);
    const char *env = getenv("SPARSELAW_TOKEN");
    if (env) {
        return sl_secret_token_set(buf, cap, env, "SPARSELAW_TOKEN", errbuf, errcap);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/token", cfg->data_dir);
    if (access(path, F_OK) == 0) return sl_secret_token_read(path, buf, cap, errbuf, errcap);
    if (generate_token(path, buf, cap, errbuf, errcap) != 0) return -1;
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_INFO, "token_created");
    sl_log_str(&l, "path", path);
    sl_log_end(&l);
    return 0;
}
