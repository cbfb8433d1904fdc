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
