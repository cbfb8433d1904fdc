/* sl_text.c - small text helpers (sl_text.h). */
#include "sl_text.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

size_t sl_text_trimmed_len(const char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

void sl_text_trim_end(char *s) {
    s[sl_text_trimmed_len(s)] = '\0';
}

int sl_text_read_file(const char *path, char *buf, size_t cap) {
    if (cap == 0) {
        errno = EINVAL;
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errno = EIO;
        return -1;
    }
    buf[n] = '\0';
    sl_text_trim_end(buf);
    return 0;
}

size_t sl_text_utf8_len(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return 0;
    if (u[0] < 0x80) return 1;
    size_t len;
    unsigned cp, min;
    if ((u[0] & 0xe0) == 0xc0) {
        len = 2, cp = u[0] & 0x1fu, min = 0x80;
    } else if ((u[0] & 0xf0) == 0xe0) {
        len = 3, cp = u[0] & 0x0fu, min = 0x800;
    } else if ((u[0] & 0xf8) == 0xf0) {
        len = 4, cp = u[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (u[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

int sl_text_utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k = sl_text_utf8_len(s + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

void sl_text_utf8_repair(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = sl_text_utf8_len(s + i, n - i);
        if (k == 0) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

int sl_text_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}
