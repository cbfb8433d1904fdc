/*
 * sl_train_data.c - corpus loading and window sampling.
 */
#include "sl_train_data.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sl_text.h"

static size_t max_byte(const uint8_t *b, size_t n) {
    uint8_t m = 0;
    for (size_t i = 0; i < n; i++)
        m = b[i] > m ? b[i] : m;
    return m;
}

static void split(sl_train_corpus *c) {
    c->train_len = c->len / 10 * 9 + (c->len % 10) * 9 / 10; /* floor(0.9 len) */
    c->val_start = c->train_len;
}

/* Appends the file at path to buf (capacity *cap, length *len). */
static int append_file(const char *path, uint8_t **buf, size_t *len, size_t *cap, char *err,
                       size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read corpus %s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (*cap - *len < 65536) {
            size_t ncap = *cap ? *cap * 2 : 1 << 20;
            uint8_t *nb = realloc(*buf, ncap);
            if (!nb) {
                fclose(f);
                snprintf(err, errlen, "out of memory reading corpus %s", path);
                return -1;
            }
            *buf = nb;
            *cap = ncap;
        }
        size_t got = fread(*buf + *len, 1, *cap - *len, f);
        *len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read corpus %s: read error", path);
        return -1;
    }
    return 0;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(sl_train_corpus *c, const char *path, uint8_t **buf, size_t *len, size_t *cap,
                    char *err, size_t errlen) {
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "cannot read corpus directory %s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!sl_text_ends_with(e->d_name, ".txt")) continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *names);
            if (!nn) {
                rc = -1;
                break;
            }
            names = nn;
        }
        size_t sz = strlen(path) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(sz))) {
            rc = -1;
            break;
        }
        snprintf(names[n], sz, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (rc != 0)
        snprintf(err, errlen, "out of memory listing %s", path);
    else if (n == 0) {
        snprintf(err, errlen, "corpus directory %s has no *.txt files", path);
        rc = -1;
    }
    if (rc == 0) qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (*len > 0 && (*buf)[*len - 1] != '\n') {
            /* append_file keeps 64 KiB free, so there is room */
            (*buf)[(*len)++] = '\n';
        }
        rc = append_file(names[i], buf, len, cap, err, errlen);
        c->files++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int sl_train_corpus_is_shard(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t h[4];
    int is = fread(h, 1, 4, f) == 4 && le32(h) == SL_TRAIN_SHARD_MAGIC;
    fclose(f);
    return is;
}

size_t sl_train_corpus_default_vocab(int is_shard) {
    return is_shard ? SL_TRAIN_SHARD_VOCAB : 256;
}

#define SHARD_HEADER_BYTES 1024 /* 256 int32 */

/* Reads a token shard: the header checked against the file's size, then
 * the uint16 tokens (little-endian). */
static int load_shard(sl_train_corpus *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read corpus %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t h[SHARD_HEADER_BYTES];
    struct stat st;
    int rc = -1;
    if (fstat(fileno(f), &st) != 0 || fread(h, 1, sizeof h, f) != sizeof h) {
        snprintf(err, errlen, "token shard %s: shorter than its 1024-byte header", path);
        goto out;
    }
    uint32_t version = le32(h + 4), count = le32(h + 8);
    if (version != 1) {
        snprintf(err, errlen, "token shard %s: version %u (only version 1, uint16 tokens, is read)",
                 path, version);
        goto out;
    }
    if ((unsigned long long)st.st_size != SHARD_HEADER_BYTES + 2ull * count) {
        snprintf(err, errlen,
                 "token shard %s: the header says %u tokens (%llu bytes), the file "
                 "has %lld bytes",
                 path, count, SHARD_HEADER_BYTES + 2ull * count, (long long)st.st_size);
        goto out;
    }
    if (count == 0) {
        snprintf(err, errlen, "corpus %s is empty", path);
        goto out;
    }
    uint8_t *raw = malloc(2 * (size_t)count);
    c->tokens = malloc((size_t)count * sizeof *c->tokens);
    if (!raw || !c->tokens) {
        snprintf(err, errlen, "out of memory reading corpus %s", path);
        free(raw);
        goto out;
    }
    if (fread(raw, 2, count, f) != count) {
        snprintf(err, errlen, "cannot read corpus %s: read error", path);
        free(raw);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        c->tokens[i] = (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
        if (c->tokens[i] > c->max_token) c->max_token = c->tokens[i];
    }
    free(raw);
    c->len = count;
    c->files = 1;
    rc = 0;
out:
    fclose(f);
    if (rc != 0) {
        free(c->tokens);
        memset(c, 0, sizeof *c);
    }
    return rc;
}

int sl_train_corpus_check_vocab(const sl_train_corpus *c, size_t vocab, char *err, size_t errlen) {
    if (c->max_token < vocab) return 0;
    snprintf(err, errlen,
             "corpus has token %zu, outside a vocabulary of %zu (--vocab sets it; at most %d)",
             c->max_token, vocab, 65536);
    return -1;
}

int sl_train_corpus_load(sl_train_corpus *c, const char *path, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read corpus %s: %s", path, strerror(errno));
        return -1;
    }
    if (sl_train_corpus_is_shard(path)) {
        if (load_shard(c, path, err, errlen) != 0) return -1;
        split(c);
        return 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = load_dir(c, path, &buf, &len, &cap, err, errlen);
    } else {
        rc = append_file(path, &buf, &len, &cap, err, errlen);
        c->files = 1;
    }
    if (rc == 0 && len == 0) {
        snprintf(err, errlen, "corpus %s is empty", path);
        rc = -1;
    }
    if (rc != 0) {
        free(buf);
        memset(c, 0, sizeof *c);
        return -1;
    }
    c->bytes = buf;
    c->len = len;
    c->max_token = max_byte(buf, len);
    split(c);
    return 0;
}

int sl_train_corpus_from_bytes(sl_train_corpus *c, const void *bytes, size_t len) {
    memset(c, 0, sizeof *c);
    c->bytes = malloc(len ? len : 1);
    if (!c->bytes) return -1;
    memcpy(c->bytes, bytes, len);
    c->len = len;
    c->max_token = max_byte(c->bytes, len);
    c->files = 1;
    split(c);
    return 0;
}

void sl_train_corpus_free(sl_train_corpus *c) {
    free(c->bytes);
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

size_t sl_train_data_val_windows(const sl_train_corpus *c, size_t T) {
    size_t n = c->len - c->val_start;
    return n > T ? (n - 1) / T : 0;
}

int sl_train_data_check(const sl_train_corpus *c, size_t B, size_t T, char *err, size_t errlen) {
    if (c->train_len < T + 1 || sl_train_data_val_windows(c, T) < B) {
        snprintf(err, errlen,
                 "corpus of %zu %s is too small for context %zu and batch %zu "
                 "(the last 10 %% must hold batch x context + 1 of them)",
                 c->len, c->tokens ? "tokens" : "bytes", T, B);
        return -1;
    }
    return 0;
}

/* Window b of a batch: tokens start .. start + T as inputs and targets. */
static void window(const sl_train_corpus *c, size_t start, size_t T, int *in, int *tg) {
    for (size_t t = 0; t < T; t++) {
        size_t i = start + t;
        in[t] = c->tokens ? c->tokens[i] : c->bytes[i];
        tg[t] = c->tokens ? c->tokens[i + 1] : c->bytes[i + 1];
    }
}

void sl_train_data_train_batch(const sl_train_corpus *c, sl_train_rng *rng, size_t B, size_t T,
                               int *inputs, int *targets) {
    uint64_t starts = (uint64_t)(c->train_len - T); /* start + T < train_len */
    for (size_t b = 0; b < B; b++)
        window(c, (size_t)sl_train_rng_below(rng, starts), T, inputs + b * T, targets + b * T);
}

void sl_train_data_val_batch(const sl_train_corpus *c, size_t first, size_t B, size_t T,
                             int *inputs, int *targets) {
    for (size_t b = 0; b < B; b++)
        window(c, c->val_start + (first + b) * T, T, inputs + b * T, targets + b * T);
}
