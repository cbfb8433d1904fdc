#include "sl_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_MIN 16
#define TOKEN_MAX 256

/* Strips trailing whitespace (a token file usually ends in a newline). */
static void trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int valid_token(const char *t, char *errbuf, size_t errcap, const char *where) {
    size_t n = strlen(t);
    if (n < TOKEN_MIN || n > TOKEN_MAX) {
        snprintf(errbuf, errcap, "the token from %s must be %d to %d characters", where, TOKEN_MIN,
                 TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~') {
            snprintf(errbuf, errcap, "the token from %s must be printable ASCII without spaces",
                     where);
            return -1;
        }
    return 0;
}

static int read_token(const char *path, char *buf, size_t cap, char *errbuf, size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errcap, "cannot read token file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    trim(buf);
    return valid_token(buf, errbuf, errcap, path);
}

static int generate_token(const char *path, char *buf, size_t cap, char *errbuf, size_t errcap) {
    unsigned char raw[32];
    int rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rnd < 0 || read(rnd, raw, sizeof raw) != (ssize_t)sizeof raw) {
        if (rnd >= 0) close(rnd);
        snprintf(errbuf, errcap, "cannot read /dev/urandom");
        return -1;
    }
    close(rnd);
    if (cap < 2 * sizeof raw + 1) return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
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
    if (cfg->token_file[0]) return read_token(cfg->token_file, buf, cap, errbuf, errcap);
    const char *env = getenv("SPARSELAW_TOKEN");
    if (env) {
        snprintf(buf, cap, "%s", env);
        trim(buf);
        return valid_token(buf, errbuf, errcap, "SPARSELAW_TOKEN");
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/token", cfg->data_dir);
    if (access(path, F_OK) == 0) return read_token(path, buf, cap, errbuf, errcap);
    if (generate_token(path, buf, cap, errbuf, errcap) != 0) return -1;
    fprintf(stderr, "{\"level\":\"info\",\"event\":\"token_created\",\"path\":\"%s\"}\n", path);
    return 0;
}

unsigned sl_auth_check(const char *authorization, const char *token) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 401;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t glen = strlen(given), tlen = strlen(token);
    /* Every byte of the token is compared whatever the input, so the time
     * taken says nothing about how much of a guess was right. */
    unsigned char diff = (unsigned char)(glen != tlen);
    for (size_t i = 0; i < tlen; i++)
        diff |= (unsigned char)(token[i] ^ (i < glen ? given[i] : 0));
    return diff ? 403 : 0;
}
