/*
 * sl_fuzz.h - what the libFuzzer harnesses of tests/fuzz/ share: the entry
 * point libFuzzer calls (and sl_fuzz_replay.c, the plain driver of the normal
 * build, calls on the seed corpus), and the check that turns a broken
 * property into a crash libFuzzer reports with the input that caused it.
 */
#ifndef SL_FUZZ_H
#define SL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "sl_errors.h"

/* One input; 0 always (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test: a failure is a finding, reported as an
 * abort so that libFuzzer saves the input. */
#define SL_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* An error as decoders leave it: a code, a message, and both it and the
 * field printable ASCII (sl_error_set's promise), so that the answer always
 * encodes as JSON. */
static inline void sl_fuzz_check_error(const sl_error *err) {
    SL_FUZZ_CHECK(err->code > SL_ERR_NONE && err->code < SL_ERR_COUNT, "code %d", err->code);
    SL_FUZZ_CHECK(err->message[0] != '\0', "an error without a message");
    for (const char *s = err->message; *s; s++)
        SL_FUZZ_CHECK(*s >= 0x20 && *s < 0x7f, "message byte 0x%02x", (unsigned char)*s);
    for (const char *s = err->field; *s; s++)
        SL_FUZZ_CHECK(*s >= 0x20 && *s < 0x7f, "field byte 0x%02x", (unsigned char)*s);
    json_t *j = sl_error_json(err);
    char *text = json_dumps(j, 0);
    SL_FUZZ_CHECK(text != NULL, "the error does not encode: %s", err->message);
    free(text);
    json_decref(j);
}

#endif
