/* sl_log.c - JSON lines on stderr (sl_log.h). */
#include "sl_log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sl_text.h"

/* Room kept for the closing "}\n" and for "..." after a cut value. */
#define RESERVE 8

static const char *const level_names[] = {"info", "warning", "error"};

/* 0, or -1 (the line is then full) when n more bytes do not fit. */
static int put(sl_log_line *l, const char *s, size_t n) {
    if (l->full || l->len + n > sizeof l->buf - RESERVE) {
        l->full = 1;
        return -1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return 0;
}

/* A JSON string: quotes, backslashes and control characters escaped, bytes
 * that are not UTF-8 replaced by U+FFFD. A value (cut_ok) too long for the
 * line is cut at a character boundary and ends in "..."; 0 then too. -1
 * when it could not be written whole (or validly cut). */
static int put_string(sl_log_line *l, const char *s, int cut_ok) {
    if (put(l, "\"", 1) != 0) return -1;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        /* a run of printable ASCII (most of every line) in one copy */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            if (l->len + (run - i) + 1 > sizeof l->buf - RESERVE) {
                if (!cut_ok) return -1;
                size_t limit = sizeof l->buf - RESERVE; /* as much as fits, then cut */
                run = i + (l->len + 1 < limit ? limit - 1 - l->len : 0);
                memcpy(l->buf + l->len, s + i, run - i);
                l->len += run - i;
                memcpy(l->buf + l->len, "...\"", 4); /* inside RESERVE */
                l->len += 4;
                l->full = 1;
                return 0;
            }
            memcpy(l->buf + l->len, s + i, run - i);
            l->len += run - i;
            i = run;
            continue;
        }
        const unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t k = sl_text_utf8_len(s + i, n - i), w;
        const char *out = esc;
        if (k == 0) { /* not UTF-8 */
            out = "\\ufffd";
            w = 6;
            k = 1;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            w = 2;
        } else if (c < 0x20) {
            w = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            out = s + i;
            w = k;
        }
        if (l->len + w + 1 > sizeof l->buf - RESERVE) {
            if (!cut_ok) return -1;
            memcpy(l->buf + l->len, "...\"", 4); /* inside RESERVE */
            l->len += 4;
            l->full = 1;
            return 0;
        }
        memcpy(l->buf + l->len, out, w);
        l->len += w;
        i += k;
    }
    return put(l, "\"", 1);
}

/* Opens a member: ',' when not the first, the key and ':'. 0, or -1. */
static int put_key(sl_log_line *l, const char *key) {
    if (l->len > 1 && put(l, ",", 1) != 0) return -1;
    if (put_string(l, key, 0) != 0) return -1;
    return put(l, ":", 1);
}

/* A member that did not fit is taken back whole: the line stays valid. */
static void settle(sl_log_line *l, size_t mark, int rc) {
    if (rc != 0) {
        l->len = mark;
        l->full = 1;
    }
}

void sl_log_begin_bare(sl_log_line *l) {
    l->buf[0] = '{';
    l->len = 1;
    l->full = 0;
}

void sl_log_begin(sl_log_line *l, sl_log_level level, const char *event) {
    sl_log_begin_bare(l);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    sl_log_str(l, "ts", when);
    sl_log_str(l, "level", level_names[level <= SL_LOG_ERROR ? level : SL_LOG_ERROR]);
    sl_log_str(l, "event", event);
}

void sl_log_str(sl_log_line *l, const char *key, const char *value) {
    if (l->full) return;
    size_t mark = l->len;
    int rc = put_key(l, key);
    if (rc == 0) rc = value ? put_string(l, value, 1) : put(l, "null", 4);
    settle(l, mark, rc);
}

static void put_number(sl_log_line *l, const char *key, const char *text, int n) {
    if (l->full) return;
    size_t mark = l->len;
    int rc = put_key(l, key);
    if (rc == 0) rc = put(l, text, (size_t)n);
    settle(l, mark, rc);
}

void sl_log_int(sl_log_line *l, const char *key, long long value) {
    char text[32];
    put_number(l, key, text, snprintf(text, sizeof text, "%lld", value));
}

void sl_log_num(sl_log_line *l, const char *key, double value) {
    char text[40];
    put_number(l, key, text,
               isfinite(value) ? snprintf(text, sizeof text, "%.17g", value)
                               : snprintf(text, sizeof text, "null"));
}

void sl_log_end(sl_log_line *l) {
    /* RESERVE keeps room for these two bytes whatever happened before. */
    memcpy(l->buf + l->len, "}\n", 2);
    l->len += 2;
    if (write(STDERR_FILENO, l->buf, l->len) < 0) return; /* nowhere left to say so */
}

void sl_log(sl_log_level level, const char *event, const char *detail) {
    sl_log_line l;
    sl_log_begin(&l, level, event);
    if (detail) sl_log_str(&l, "detail", detail);
    sl_log_end(&l);
}
