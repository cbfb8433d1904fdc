/*
 * Unit tests for common/: the growable buffer (limits, growth, take), token
 * checks and the bearer comparison, random secrets, trimming and small files,
 * UTF-8, and the logger (every line one valid JSON object, whatever it holds).
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_buf.h"
#include "sl_log.h"
#include "sl_secret.h"
#include "sl_text.h"

Test(buf, grows_byte_by_byte_and_stays_terminated) {
    sl_buf b = {0};
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(sl_buf_addc(&b, (char)('a' + i % 26)), 0);
        cr_assert_eq(b.data[b.len], '\0');
    }
    cr_assert_eq(b.len, 10000);
    cr_assert_eq(b.data[9999], 'a' + 9999 % 26);
    cr_assert(b.cap >= b.len + 1);
    sl_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
}

Test(buf, formats_and_takes) {
    sl_buf b = {0};
    cr_assert_eq(sl_buf_addf(&b, "%s=%d;", "x", 42), 0);
    cr_assert_eq(sl_buf_adds(&b, "tail"), 0);
    /* Longer than the first allocation, to exercise the formatted growth. */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(sl_buf_addf(&b, "[%s]", big), 0);
    cr_assert_eq(b.len, strlen("x=42;tail") + 2 + 999);
    cr_assert_eq(strncmp(b.data, "x=42;tail[zz", 12), 0);
    cr_assert_eq(b.data[b.len - 1], ']');
    char *text = sl_buf_take(&b);
    cr_assert_null(b.data);
    cr_assert_eq(strlen(text), strlen("x=42;tail") + 2 + 999);
    free(text);
    text = sl_buf_take(&b); /* empty: "" rather than NULL */
    cr_assert_str_eq(text, "");
    free(text);
}

Test(buf, limit_refuses_and_leaves_the_buffer_as_it_was) {
    sl_buf b = {.max = 8};
    cr_assert_eq(sl_buf_adds(&b, "12345"), 0);
    cr_assert_eq(sl_buf_adds(&b, "6789"), -1);
    cr_assert_eq(b.len, 5);
    cr_assert_str_eq(b.data, "12345");
    cr_assert_eq(sl_buf_addf(&b, "%d", 6789), -1);
    cr_assert_str_eq(b.data, "12345");
    cr_assert_eq(sl_buf_adds(&b, "678"), 0); /* exactly at the limit */
    cr_assert_str_eq(b.data, "12345678");
    cr_assert_eq(sl_buf_addc(&b, '9'), -1);
    sl_buf_free(&b);
    cr_assert_eq(b.max, 8);
}

Test(secret, random_hex_is_hex_and_differs) {
    char a[65], b[65];
    cr_assert_eq(sl_secret_random_hex(a, 32), 0);
    cr_assert_eq(sl_secret_random_hex(b, 32), 0);
    cr_assert_eq(strlen(a), 64);
    cr_assert_eq(strspn(a, "0123456789abcdef"), 64);
    cr_assert_str_neq(a, b);
    char small[3];
    cr_assert_eq(sl_secret_random_hex(small, 1), 0);
    cr_assert_eq(strlen(small), 2);
    char huge[200];
    cr_assert_eq(sl_secret_random_hex(huge, 65), -1); /* more than one draw allows */
}

Test(secret, token_bounds_and_characters) {
    char buf[SL_SECRET_TOKEN_MAX + 1], err[200];
    cr_assert_eq(sl_secret_token_set(buf, sizeof buf, "0123456789abcdef\n", "t", err, sizeof err),
                 0);
    cr_assert_str_eq(buf, "0123456789abcdef");
    cr_assert_eq(sl_secret_token_set(buf, sizeof buf, "0123456789abcde", "T", err, sizeof err), -1);
    cr_assert(strstr(err, "the token from T must be 16 to 256 characters"), "%s", err);
    cr_assert_eq(sl_secret_token_set(buf, sizeof buf, "0123456789 abcdef", "t", err, sizeof err),
                 -1);
    cr_assert(strstr(err, "printable ASCII"), "%s", err);
    char longest[SL_SECRET_TOKEN_MAX + 2];
    memset(longest, 'k', SL_SECRET_TOKEN_MAX);
    longest[SL_SECRET_TOKEN_MAX] = '\0';
    cr_assert_eq(sl_secret_token_set(buf, sizeof buf, longest, "t", err, sizeof err), 0);
    longest[SL_SECRET_TOKEN_MAX] = 'k';
    longest[SL_SECRET_TOKEN_MAX + 1] = '\0';
    cr_assert_eq(sl_secret_token_set(buf, sizeof buf, longest, "t", err, sizeof err), -1);
    char tiny[8];
    cr_assert_eq(sl_secret_token_set(tiny, sizeof tiny, "0123456789abcdef", "t", err, sizeof err),
                 -1);
}

Test(secret, token_file_longer_than_allowed_is_refused_not_cut) {
    char path[] = "/tmp/sl_test_token_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    char text[400];
    memset(text, 'q', 300);
    text[300] = '\n';
    cr_assert_eq(write(fd, text, 301), 301);
    close(fd);
    char buf[SL_SECRET_TOKEN_MAX + 1], err[300];
    cr_assert_eq(sl_secret_token_read(path, buf, sizeof buf, err, sizeof err), -1);
    cr_assert(strstr(err, "16 to 256"), "%s", err);
    unlink(path);
    cr_assert_eq(sl_secret_token_read(path, buf, sizeof buf, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot read token file"), "%s", err);
}

Test(secret, bearer_check) {
    const char *secret = "0123456789abcdef";
    cr_assert_eq(sl_secret_bearer_check(NULL, secret), 401);
    cr_assert_eq(sl_secret_bearer_check("Basic 0123456789abcdef", secret), 401);
    cr_assert_eq(sl_secret_bearer_check("Bearer 0123456789abcdef", secret), 0);
    cr_assert_eq(sl_secret_bearer_check("bearer   0123456789abcdef", secret), 0);
    cr_assert_eq(sl_secret_bearer_check("Bearer 0123456789abcdee", secret), 403);
    cr_assert_eq(sl_secret_bearer_check("Bearer 0123456789abcde", secret), 403);
    cr_assert_eq(sl_secret_bearer_check("Bearer 0123456789abcdef0", secret), 403);
    cr_assert_eq(sl_secret_bearer_check("Bearer ", secret), 403);
}

Test(text, trim_and_read_file) {
    char s[] = "value \t\r\n\n";
    cr_assert_eq(sl_text_trimmed_len(s), 5);
    sl_text_trim_end(s);
    cr_assert_str_eq(s, "value");
    char empty[] = " \n";
    sl_text_trim_end(empty);
    cr_assert_str_eq(empty, "");

    char path[] = "/tmp/sl_test_text_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "abcdef\n", 7), 7);
    close(fd);
    char buf[5];
    cr_assert_eq(sl_text_read_file(path, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "abcd"); /* at most cap - 1 bytes */
    char whole[64];
    cr_assert_eq(sl_text_read_file(path, whole, sizeof whole), 0);
    cr_assert_str_eq(whole, "abcdef");
    unlink(path);
    cr_assert_eq(sl_text_read_file(path, whole, sizeof whole), -1);
}

/* ---- the logger ---- */

/* What the calls in between wrote to stderr, as one string. */
static int saved_stderr = -1;
static FILE *capture;

static void capture_begin(void) {
    capture = tmpfile();
    cr_assert_not_null(capture);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
}

static char *capture_end(void) {
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    long n = ftell(capture);
    cr_assert(n >= 0);
    char *text = calloc((size_t)n + 1, 1);
    rewind(capture);
    cr_assert_eq(fread(text, 1, (size_t)n, capture), (size_t)n);
    fclose(capture);
    return text;
}

static json_t *one_line(const char *text) {
    size_t n = strlen(text);
    cr_assert(n > 0 && text[n - 1] == '\n', "not one line: %s", text);
    cr_assert_null(memchr(text, '\n', n - 1), "more than one line: %s", text);
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    cr_assert(json_is_object(v), "not a JSON object (%s): %s", err.text, text);
    return v;
}

Test(log, escapes_every_string_and_keeps_utf8_valid) {
    capture_begin();
    sl_log_line l;
    sl_log_begin(&l, SL_LOG_WARNING, "odd \"event\"");
    sl_log_str(&l, "path", "/tmp/a \"quoted\" \\ dir\n\ttab");
    sl_log_str(&l, "bytes", "caf\xc3\xa9 \xff\xfe half \xe2\x82");
    sl_log_str(&l, "none", NULL);
    sl_log_int(&l, "n", -42);
    sl_log_num(&l, "x", 0.25);
    sl_log_num(&l, "nan", (double)NAN);
    sl_log_end(&l);
    char *text = capture_end();
    json_t *v = one_line(text);
    cr_assert_str_eq(json_string_value(json_object_get(v, "level")), "warning");
    cr_assert_str_eq(json_string_value(json_object_get(v, "event")), "odd \"event\"");
    cr_assert_str_eq(json_string_value(json_object_get(v, "path")),
                     "/tmp/a \"quoted\" \\ dir\n\ttab");
    cr_assert_str_eq(json_string_value(json_object_get(v, "bytes")),
                     "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd half \xef\xbf\xbd\xef\xbf\xbd");
    cr_assert(json_is_null(json_object_get(v, "none")));
    cr_assert_eq(json_integer_value(json_object_get(v, "n")), -42);
    cr_assert_float_eq(json_real_value(json_object_get(v, "x")), 0.25, 0);
    cr_assert(json_is_null(json_object_get(v, "nan")));
    const char *ts = json_string_value(json_object_get(v, "ts"));
    cr_assert(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z', "ts %s", ts);
    json_decref(v);
    free(text);
}

Test(log, a_line_too_long_is_cut_and_stays_valid) {
    char *big = malloc(3 * SL_LOG_LINE_MAX);
    memset(big, 'y', 3 * SL_LOG_LINE_MAX - 1);
    big[3 * SL_LOG_LINE_MAX - 1] = '\0';
    for (int where = 0; where < 3; where++) {
        capture_begin();
        sl_log_line l;
        sl_log_begin(&l, SL_LOG_INFO, "long");
        if (where == 0) sl_log_str(&l, "big", big); /* cut inside the value */
        for (int i = 0; i < 400; i++) {             /* fields until the line is full */
            char key[16];
            snprintf(key, sizeof key, "k%d", i);
            if (where == 1)
                sl_log_int(&l, key, 1234567890123LL);
            else
                sl_log_str(&l, key, "\"\"\"\"\"\"\"");
        }
        sl_log_end(&l);
        char *text = capture_end();
        cr_assert(strlen(text) <= SL_LOG_LINE_MAX, "%zu bytes", strlen(text));
        json_t *v = one_line(text);
        cr_assert_str_eq(json_string_value(json_object_get(v, "event")), "long");
        if (where == 0) {
            const char *cut = json_string_value(json_object_get(v, "big"));
            cr_assert(cut && strlen(cut) > 1000 && !strcmp(cut + strlen(cut) - 3, "..."));
            cr_assert_null(json_object_get(v, "k0"));
        } else {
            cr_assert_not_null(json_object_get(v, "k0"));
            cr_assert_null(json_object_get(v, "k399"));
        }
        json_decref(v);
        free(text);
    }
    free(big);
}

Test(text, utf8_lengths) {
    cr_assert_eq(sl_text_utf8_len("a", 1), 1);
    cr_assert_eq(sl_text_utf8_len("\xc3\xa9", 2), 2);
    cr_assert_eq(sl_text_utf8_len("\xe2\x82\xac", 3), 3);
    cr_assert_eq(sl_text_utf8_len("\xf0\x9f\x98\x80", 4), 4);
    cr_assert_eq(sl_text_utf8_len("\xc3", 1), 0);             /* cut short */
    cr_assert_eq(sl_text_utf8_len("\xc0\xaf", 2), 0);         /* overlong */
    cr_assert_eq(sl_text_utf8_len("\xed\xa0\x80", 3), 0);     /* surrogate */
    cr_assert_eq(sl_text_utf8_len("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    cr_assert_eq(sl_text_utf8_len("\xff", 1), 0);
    cr_assert(sl_text_utf8_valid("plain caf\xc3\xa9", 11));
    cr_assert_not(sl_text_utf8_valid("%\xff", 2));
    cr_assert_not(sl_text_utf8_valid("\xc3\x28", 2));
}

Test(text, utf8_repair_keeps_good_characters) {
    char cut[] = "caf\xc3\xa9 \\u2\xd0"; /* a character cut at the end */
    sl_text_utf8_repair(cut);
    cr_assert_str_eq(cut, "caf\xc3\xa9 \\u2?");
    char inside[] = "near '\"t\\u2\xd0' \xe2\x82\xac \xff\xfe end"; /* raw bytes quoted */
    sl_text_utf8_repair(inside);
    cr_assert_str_eq(inside, "near '\"t\\u2?' \xe2\x82\xac ?? end");
    cr_assert(sl_text_utf8_valid(inside, strlen(inside)));
}

Test(text, ends_with_is_a_proper_suffix) {
    cr_assert(sl_text_ends_with("a.txt", ".txt"));
    cr_assert_not(sl_text_ends_with(".txt", ".txt")); /* no name before it */
    cr_assert_not(sl_text_ends_with("a.txt.gz", ".txt"));
    cr_assert_not(sl_text_ends_with("txt", ".txt"));
}
