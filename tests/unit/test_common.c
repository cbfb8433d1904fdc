/*
 * Unit tests for common/: the growable buffer (limits, growth, take), token
 * checks and the bearer comparison, random secrets, trimming and small files.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_buf.h"
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
