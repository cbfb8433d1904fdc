/*
 * sl_train_data.h - the byte corpus and the windows the trainer reads.
 *
 * A corpus is one file, or a directory whose *.txt files are joined in
 * byte order of their names (a newline between two files when the first
 * does not end with one). The first 90 % (floor) is for training: windows
 * of T + 1 bytes are drawn uniformly from it by a seeded RNG. The last 10 %
 * holds the fixed validation set: consecutive non-overlapping windows from
 * its start, the same every evaluation. *
 * A token shard in the llm.c / nanoGPT layout is read instead when the file
 * starts with its magic: a header of 256 little-endian int32 (magic
 * 20240520, version 1, the token count), then that many uint16 tokens. The
 * same 90 / 10 split and windows apply, in tokens. Its vocabulary is GPT-2's
 * 50257 unless --vocab says otherwise; every token must be below it.
 */
#ifndef SL_TRAIN_DATA_H
#define SL_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "sl_train_rng.h"

#define SL_TRAIN_SHARD_MAGIC 20240520
#define SL_TRAIN_SHARD_VOCAB 50257 /* GPT-2's tokenizer, what llm.c's shards hold */

typedef struct sl_train_corpus {
    uint8_t *bytes;   /* a byte corpus, or NULL */
    uint16_t *tokens; /* a token shard, or NULL */
    size_t len;       /* in tokens (bytes for a byte corpus) */
    size_t max_token; /* the largest token in the corpus */
    size_t train_len; /* training bytes: [0, train_len) */
    size_t val_start; /* validation bytes: [val_start, len), val_start = train_len */
    size_t files;     /* files joined */
} sl_train_corpus;

/* Reads a file or a directory of *.txt files. 0, or -1 with a message
 * naming the path in err (corpus left empty). */
int sl_train_corpus_load(sl_train_corpus *c, const char *path, char *err, size_t errlen);
/* Takes a copy of len bytes (for tests and callers with text in memory). */
int sl_train_corpus_from_bytes(sl_train_corpus *c, const void *bytes, size_t len);
void sl_train_corpus_free(sl_train_corpus *c);
/* 1 when path is a file that starts with the shard magic (it is read as a
 * token shard), 0 otherwise; reads only the first 4 bytes. */
int sl_train_corpus_is_shard(const char *path);
/* The vocabulary a model of this corpus has when --vocab is 0 (auto): 256
 * for bytes, 50257 for a shard. */
size_t sl_train_corpus_default_vocab(int is_shard);
/* 0 when every token is below vocab, else -1 with a reason. */
int sl_train_corpus_check_vocab(const sl_train_corpus *c, size_t vocab, char *err, size_t errlen);

/* Validation windows of T tokens available in the last 10 %. */
size_t sl_train_data_val_windows(const sl_train_corpus *c, size_t T);
/* 0 when the corpus has room for training windows of T and at least B
 * validation windows, else -1 with a reason. */
int sl_train_data_check(const sl_train_corpus *c, size_t B, size_t T, char *err, size_t errlen);

/* B random training windows: inputs and targets are B x T (targets shifted
 * by one token). */
void sl_train_data_train_batch(const sl_train_corpus *c, sl_train_rng *rng, size_t B, size_t T,
                               int *inputs, int *targets);
/* Validation windows first .. first + B - 1. */
void sl_train_data_val_batch(const sl_train_corpus *c, size_t first, size_t B, size_t T,
                             int *inputs, int *targets);

#endif
