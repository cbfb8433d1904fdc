/*
 * sl_text.h - small text helpers that the server and the trainer share.
 */
#ifndef SL_TEXT_H
#define SL_TEXT_H

#include <stddef.h>

/* The length of s without its trailing spaces, tabs and line ends. */
size_t sl_text_trimmed_len(const char *s);

/* Drops trailing spaces, tabs and line ends in place (a file written by an
 * editor or `echo` usually ends in a newline). */
void sl_text_trim_end(char *s);

/* Reads at most cap - 1 bytes of a small file (a token, a JWT) into buf,
 * NUL-terminated and trimmed as sl_text_trim_end does. 0, or -1 with errno
 * set when the file cannot be opened or read. */
int sl_text_read_file(const char *path, char *buf, size_t cap);

/* 1 when suffix ends s and s is longer than it (".txt" alone is no text
 * file's name); the trainer and the server judge corpus files with it. */
int sl_text_ends_with(const char *s, const char *suffix);

/* The length (1 to 4) of the well-formed UTF-8 character at s, of which n
 * bytes are there; 0 when the bytes are not one (overlong forms, surrogates,
 * past U+10FFFF, cut short). */
size_t sl_text_utf8_len(const char *s, size_t n);

/* 1 when s[0..n) is well-formed UTF-8. */
int sl_text_utf8_valid(const char *s, size_t n);

/* Makes the NUL-terminated s well-formed UTF-8 in place: each byte that
 * starts no well-formed character becomes '?' (a sequence cut by a
 * truncation, raw bytes a library quoted). */
void sl_text_utf8_repair(char *s);

#endif
