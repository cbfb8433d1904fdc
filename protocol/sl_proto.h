/*
 * sl_proto.h - the run protocol: what a training run is (its options, in one
 * table with their bounds, defaults and units), how a run spec travels
 * (argv for a trainer process, JSON for the API, the store and a worker),
 * and what a trainer answers (JSON lines: start, progress, result, error)
 * and how an ended run is judged from them (the failure classes).
 *
 * docs/trainer-protocol.md is this header for people who bring their own
 * trainer; tests/unit/test_proto.c checks that it, api/openapi.json and the
 * table agree. Plain C and jansson; nothing of server/, api/ or fitting/,
 * so the trainer links it too.
 *
 * Adding a trainer option: one row in SL_PROTO_OPTIONS (below), its binding
 * (and use) in trainer/sl_train_run.c, then scripts/protocol-sync.sh, which
 * writes its row into docs/trainer-protocol.md and, for a sweep option, into
 * api/openapi.json's TrainerOptions. The API, the worker, the three backends
 * and the trainer's parser and --help read the table; nothing else states a
 * bound, a default or a field.
 */
#ifndef SL_PROTO_H
#define SL_PROTO_H

#include <jansson.h>
#include <stddef.h>

/* What a value is. */
typedef enum sl_proto_type {
    SL_PROTO_T_INT,     /* an integer in [lo, hi] */
    SL_PROTO_T_REAL,    /* a number in [lo, hi], less the ends that open excludes */
    SL_PROTO_T_PATTERN, /* "unstructured" or "n:m" with 0 < n < m <= 1024 */
    SL_PROTO_T_CHOICE,  /* one of the '|'-separated names of choices; the value is its index */
} sl_proto_type;

/* Who sets an option (a bit each; an option has one). */
#define SL_PROTO_GRID    1u /* a grid point's coordinate: the sweep's grid sets it */
#define SL_PROTO_SWEEP   2u /* common to a sweep's runs: POST /v1/sweeps "trainer" */
#define SL_PROTO_WORKER  4u /* a worker's POST /v1/train takes it; sweeps do not */
#define SL_PROTO_TRAINER 8u /* the trainer's command line only */
#define SL_PROTO_RUN     (SL_PROTO_GRID | SL_PROTO_SWEEP)
#define SL_PROTO_ANY     (SL_PROTO_GRID | SL_PROTO_SWEEP | SL_PROTO_WORKER | SL_PROTO_TRAINER)
/* With the owners in a mask: only the options a trainer takes (a flag). */
#define SL_PROTO_FLAGGED 16u

/*
 * The table: X(ID, name, flag, type, lo, open, hi, default, unit, who, choices, help).
 * open: 1 lo is excluded, 2 hi is excluded, 3 both.
 * name is the JSON member, flag the trainer's --flag (NULL: the runner's own,
 * never passed to a trainer). The default is the trainer's (for a choice,
 * its index). Units: "1" for a pure number, else what it counts.
 */
#define SL_PROTO_OPTIONS(X)                                                                        \
    X(LAYERS, "layers", "layers", INT, 1, 0, 64, 2, "blocks", GRID, NULL, "transformer blocks")    \
    X(WIDTH, "width", "width", INT, 8, 0, 4096, 96, "1", GRID, NULL, "embedding width")            \
    X(HEADS, "heads", "heads", INT, 1, 0, 4096, 4, "1", GRID, NULL,                                \
      "attention heads (they divide width)")                                                       \
    X(SPARSITY, "sparsity", "sparsity", REAL, 0, 2, 1, 0, "fraction", GRID, NULL,                  \
      "final sparsity of the block matrices")                                                      \
    X(PATTERN, "pattern", "pattern", PATTERN, 0, 0, 0, 0, "n:m", GRID, NULL,                       \
      "unstructured, or n:m such as 2:4 (sparsity 1 - n/m)")                                       \
    X(TOKENS, "tokens", "tokens", INT, 1, 0, 1e12, 1e6, "tokens", GRID, NULL,                      \
      "training tokens (steps = tokens / (batch x context), rounded up)")                          \
    X(SEED, "seed", "seed", INT, 0, 0, 9007199254740992.0, 1, "1", GRID, NULL,                     \
      "seeds initialisation and data order (at most 2^53: exact in JSON)")                         \
    X(CONTEXT, "context", "context", INT, 1, 0, 4096, 64, "tokens", SWEEP, NULL,                   \
      "tokens (bytes) per window")                                                                 \
    X(BATCH, "batch", "batch", INT, 1, 0, 4096, 4, "windows", SWEEP, NULL, "windows per step")     \
    X(LR, "lr", "lr", REAL, 0, 1, 1, 0.002, "1", SWEEP, NULL, "peak learning rate")                \
    X(WARMUP, "warmup", "warmup", REAL, 0, 0, 1, 0.05, "fraction of steps", SWEEP, NULL,           \
      "linear warmup")                                                                             \
    X(VAL_TOKENS, "val_tokens", "val-tokens", INT, 1, 0, 1e8, 32768, "tokens", SWEEP, NULL,        \
      "fixed validation set from the last 10 % of the corpus")                                     \
    X(THREADS, "threads", "threads", INT, 0, 0, 256, 0, "threads", SWEEP, NULL,                    \
      "threads of the run (0: all cores; a backend divides its cores among its runs)")             \
    X(DEVICE, "device", "device", CHOICE, 0, 0, 0, 0, "1", SWEEP, "cpu|cuda",                      \
      "where the run computes")                                                                    \
    X(PRECISION, "precision", "precision", CHOICE, 0, 0, 0, 0, "1", SWEEP, "auto|fp32|tf32|bf16",  \
      "matmul precision, FP32 master weights (auto: fp32 on cpu, bf16 on cuda; the CPU only "      \
      "fp32)")                                                                                     \
    X(EMBED_SPARSITY, "embed_sparsity", "embed-sparsity", CHOICE, 0, 0, 0, 0, "1", SWEEP,          \
      "off|auto", "auto: prune wte and wpe to 1 - sqrt(1 - S), not counted in N")                  \
    X(TIME_LIMIT, "time_limit", NULL, INT, 1, 0, 604800, 21600, "s", SWEEP, NULL,                  \
      "wall-clock limit of one attempt, from its submission; past it the run fails as timed_out")  \
    X(STEPS, "steps", "steps", INT, 0, 0, 1e12, 0, "steps", WORKER, NULL,                          \
      "training steps; overrides tokens (0: from tokens)")                                         \
    X(MIN_LR, "min_lr", "min-lr", REAL, 0, 0, 1, 0.1, "x peak", WORKER, NULL,                      \
      "cosine decay ends at this fraction of the peak")                                            \
    X(WEIGHT_DECAY, "weight_decay", "weight-decay", REAL, 0, 0, 10, 0, "1", WORKER, NULL,          \
      "decoupled decay of the weight matrices")                                                    \
    X(PRUNE_START, "prune_start", "prune-start", REAL, 0, 0, 1, 0.25, "fraction of steps", WORKER, \
      NULL, "pruning starts here")                                                                 \
    X(PRUNE_END, "prune_end", "prune-end", REAL, 0, 0, 1, 0.75, "fraction of steps", WORKER, NULL, \
      "pruning reaches the target here")                                                           \
    X(PRUNE_EVERY, "prune_every", "prune-every", INT, 1, 0, 1e12, 100, "steps", WORKER, NULL,      \
      "mask update interval")                                                                      \
    X(EVAL_EVERY, "eval_every", "eval-every", INT, 0, 0, 1e12, 0, "steps", WORKER, NULL,           \
      "validation interval (0: ten per run)")                                                      \
    X(LOG_EVERY, "log_every", "log-every", INT, 0, 0, 1e12, 0, "steps", WORKER, NULL,              \
      "progress event interval (0: about a hundred per run)")                                      \
    X(BETA1, "beta1", "beta1", REAL, 0, 0, 0.999999, 0.9, "1", TRAINER, NULL, "AdamW beta1")       \
    X(BETA2, "beta2", "beta2", REAL, 0, 0, 0.999999, 0.95, "1", TRAINER, NULL, "AdamW beta2")      \
    X(EPS, "eps", "eps", REAL, 1e-30, 0, 1, 1e-8, "1", TRAINER, NULL, "AdamW epsilon")             \
    X(GRAD_CLIP, "grad_clip", "grad-clip", REAL, 0, 0, 1e9, 1, "1", TRAINER, NULL,                 \
      "clip the global gradient norm (0: off)")                                                    \
    X(VOCAB, "vocab", "vocab", INT, 0, 0, 65536, 0, "tokens", TRAINER, NULL,                       \
      "vocabulary, beside the corpus (0: 256 for bytes, 50257 for a token shard)")

typedef enum sl_proto_id {
#define SL_PROTO_ENUM(id, ...) SL_PROTO_##id,
    SL_PROTO_OPTIONS(SL_PROTO_ENUM)
#undef SL_PROTO_ENUM
        SL_PROTO_COUNT
} sl_proto_id;

typedef struct sl_proto_option {
    sl_proto_id id;
    const char *name, *flag;
    sl_proto_type type;
    double lo;
    int open; /* 1: lo excluded, 2: hi excluded */
    double hi, dflt;
    const char *unit;
    unsigned who;
    const char *choices;
    const char *help;
} sl_proto_option;

/* Row id of the table; NULL past its end. */
const sl_proto_option *sl_proto_option_at(sl_proto_id id);
/* The row whose JSON name (by_flag 0) or flag (1) is the len bytes at name. */
const sl_proto_option *sl_proto_find(const char *name, size_t len, int by_flag);
/* The index of the choice named text, or -1. */
int sl_proto_choice_index(const sl_proto_option *o, const char *text, size_t len);
/* The name of choice index into buf. */
const char *sl_proto_choice_name(const sl_proto_option *o, int index, char *buf, size_t cap);
/* "an integer in [1, 64]", "a number in (0, 1]", "cpu or cuda", ... */
const char *sl_proto_describe(const sl_proto_option *o, char *buf, size_t cap);
/* The default as text ("64", "0.002", "cpu", "unstructured"). */
const char *sl_proto_default_text(const sl_proto_option *o, char *buf, size_t cap);

/* ---- a run spec: a value for every option, and which were given ---- */

typedef struct sl_proto_spec {
    double value[SL_PROTO_COUNT]; /* in the option's unit; a choice's index */
    unsigned char given[SL_PROTO_COUNT];
    unsigned pattern_n, pattern_m; /* 0, 0: unstructured */
} sl_proto_spec;

/* Every option at its default, none given. */
void sl_proto_spec_init(sl_proto_spec *s);
/* Sets a number (a choice's index) after checking it against the row; 0, or
 * -1 with "<field> must be ..." in err. field NULL: the option's name. */
int sl_proto_set(sl_proto_spec *s, sl_proto_id id, double v, const char *field, char *err,
                 size_t cap);
/* Sets the pattern; n = m = 0 is unstructured. */
int sl_proto_set_pattern(sl_proto_spec *s, unsigned n, unsigned m, const char *field, char *err,
                         size_t cap);
/* Sets an option from its text as on a command line ("64", "2e-3", "2:4",
 * "cuda"); 0, or -1 with err naming --flag. */
int sl_proto_set_text(sl_proto_spec *s, const sl_proto_option *o, const char *text, char *err,
                      size_t cap);
/* "unstructured" (m = 0) or "n:m" into buf. */
const char *sl_proto_pattern_format(unsigned n, unsigned m, char *buf, size_t cap);
/* The spec's pattern as sl_proto_pattern_format writes it. */
const char *sl_proto_pattern_text(const sl_proto_spec *s, char *buf, size_t cap);

/* The rules between options that their rows cannot state (a precision
 * other than auto or fp32 needs device cuda: the CPU trains in fp32); 0, or
 * -1 with err and the field (path prefixed as sl_proto_from_json does;
 * path NULL: err names the trainer's flags). */
int sl_proto_spec_check(const sl_proto_spec *s, const char *path, char *field, size_t fieldcap,
                        char *err, size_t cap);

/* ---- a run's size as a whole ----
 * Each option's row bounds it alone; these bound the combination, which
 * decides the memory a run takes. */

typedef struct sl_proto_size {
    double layers, width, heads, context, batch;
    double vocab; /* tokens of the corpus: 256 for bytes */
} sl_proto_size;

/* What any trainer run may be, on any device (sparselaw-train refuses more):
 * every activation matrix within BLAS's int, the activations at most this. */
#define SL_PROTO_MAX_MATRIX      2e9
#define SL_PROTO_MAX_ACTIVATIONS 1e10 /* floats: 40 GB, twice that with their gradients */
/* What one run of a sweep may be, by device: X(device, block parameters,
 * activation floats). A CPU takes a short calibration run; one GPU takes
 * 24 x 1024 at context 1024 and batch 8. */
#define SL_PROTO_SWEEP_LIMITS(X)                                                                   \
    X(CPU, 2.5e8, 2e9)                                                                             \
    X(CUDA, 1e9, SL_PROTO_MAX_ACTIVATIONS)

/* 12 x layers x width^2: the block matrices' parameters (N before pruning). */
double sl_proto_block_params(const sl_proto_size *z);
/* Floats of a forward pass's activations: per token and block about
 * 16 width + heads x context, and the logits and their probabilities. */
double sl_proto_activations(const sl_proto_size *z);
/* 0 when z is within what any run may be, else -1 with why in err. */
int sl_proto_size_fits(const sl_proto_size *z, char *err, size_t cap);
/* 0 when z fits and is within a sweep's limits on device (the device
 * choice's index), else -1 with why in err. */
int sl_proto_size_check(const sl_proto_size *z, int device, char *err, size_t cap);

/* ---- JSON ---- */

/* Reads the members of obj (an object) into s: each must be an option of
 * who, within its bounds; path prefixes the field named in err ("trainer"
 * -> "trainer.lr"), and field receives it. 0, or -1 with err. */
int sl_proto_from_json(sl_proto_spec *s, json_t *obj, unsigned who, const char *path, char *field,
                       size_t fieldcap, char *err, size_t cap);
/* The given options of who as members of a new object. */
json_t *sl_proto_to_json(const sl_proto_spec *s, unsigned who);
/* The option's value as JSON (a number, the pattern or choice as text). */
json_t *sl_proto_value_json(const sl_proto_spec *s, sl_proto_id id);
/* The JSON Schema (OpenAPI 3.1) of an object of the options of who. */
json_t *sl_proto_schema(unsigned who, const char *description);
/* Sets the bounds of a number option in a JSON Schema object: minimum or
 * exclusiveMinimum, maximum or exclusiveMaximum (the others removed). */
void sl_proto_schema_bounds(const sl_proto_option *o, json_t *schema);
/* Where api/openapi.json states a grid option's bounds: the schema below
 * components.schemas, the path of properties in it ('.' between them; a
 * trailing "[]" for an array's items), the option. */
#define SL_PROTO_OPENAPI_GRID(X)                                                                   \
    X("SweepSize", "layers", LAYERS)                                                               \
    X("SweepSize", "width", WIDTH)                                                                 \
    X("SweepSize", "heads", HEADS)                                                                 \
    X("SweepRequest", "grid.sparsities[]", SPARSITY)                                               \
    X("SweepRequest", "grid.tokens[]", TOKENS)                                                     \
    X("SweepRequest", "grid.seeds[]", SEED)
/* The description api/openapi.json's TrainerOptions (the sweep options) has. */
#define SL_PROTO_SCHEMA_DESCRIPTION                                                                \
    "Options common to every run of a sweep (generated from protocol/sl_proto.h); each absent "    \
    "one keeps the trainer's default. The corpus is the server's (--corpus), never the request's."

/* The option's row of docs/trainer-protocol.md's table (no newline):
 * | `name` | `--flag` | values | default | unit | who | meaning |. */
const char *sl_proto_doc_option_row(const sl_proto_option *o, char *buf, size_t cap);

/* ---- argv ---- */

#define SL_PROTO_ARG_MAX 64 /* "--flag=value" of a number always fits */

typedef struct sl_proto_argv {
    char buf[SL_PROTO_COUNT][SL_PROTO_ARG_MAX];
    char *argv[SL_PROTO_COUNT + 1]; /* NULL-terminated */
    int argc;
} sl_proto_argv;

/* "--flag=value" for each given option that a trainer takes (in the
 * table's order; the pattern as --pattern when it is n:m, else --sparsity). */
void sl_proto_to_argv(const sl_proto_spec *s, sl_proto_argv *out);
/* The whole command line of a trainer run as sparselaw-train takes it:
 * prog, the spec's options (sl_proto_to_argv; threads, when the spec gives
 * none or 0, is `threads`, the backend's share of its cores), --progress=off
 * and, when corpus is not empty, --corpus CORPUS as two words. prog and
 * corpus are pointed to, not copied. The one builder of a trainer's argv:
 * the local backend, the worker and the Slurm job script use it. */
typedef struct sl_proto_command {
    sl_proto_argv options;
    char *argv[SL_PROTO_COUNT + 8]; /* NULL-terminated */
    int argc;
} sl_proto_command;

void sl_proto_command_build(const sl_proto_spec *s, const char *prog, unsigned threads,
                            const char *corpus, sl_proto_command *out);

/* The inverse: argv[0..argc) of --flag=value or --flag value words, each an
 * option of the table. 0, or -1 with err. */
int sl_proto_from_argv(sl_proto_spec *s, int argc, char *const *argv, char *err, size_t cap);

/* ---- the trainer's JSON lines ---- */

typedef enum sl_proto_event_kind {
    SL_PROTO_EV_START = 0,
    SL_PROTO_EV_PROGRESS,
    SL_PROTO_EV_RESULT,
    SL_PROTO_EV_ERROR,
    SL_PROTO_EV_OTHER, /* another "event" (dry_run, a trainer's own): ignored */
} sl_proto_event_kind;

/* A field an event carries: X(event, name, type, unit, required, help).
 * type is "integer", "number", "string" or "number or null"; required: 1 the
 * event is refused without it; 2 a completed result needs it. */
#define SL_PROTO_EVENT_FIELDS(X)                                                                   \
    X("progress", "step", "integer", "steps", 1, "steps done")                                     \
    X("progress", "steps", "integer", "steps", 0, "steps the run will take")                       \
    X("progress", "tokens", "integer", "tokens", 1, "training tokens so far")                      \
    X("progress", "train_loss", "number or null", "nats/token", 0,                                 \
      "mean training loss since the last progress event")                                          \
    X("progress", "val_loss", "number or null", "nats/token", 0,                                   \
      "validation loss, only on a step that evaluated")                                            \
    X("progress", "sparsity", "number", "fraction", 0, "sparsity of the prunable weights now")     \
    X("progress", "nonzeros", "integer", "parameters", 0, "non-zero prunable weights now (N)")     \
    X("progress", "lr", "number", "1", 0, "learning rate of this step")                            \
    X("progress", "tokens_per_s", "number", "tokens/s", 0, "training throughput")                  \
    X("progress", "elapsed_s", "number", "s", 0, "seconds since the start event")                  \
    X("result", "status", "string", "1", 1, "completed, interrupted or diverged")                  \
    X("result", "tokens", "integer", "tokens", 2, "training tokens done (D)")                      \
    X("result", "val_loss", "number or null", "nats/token", 2,                                     \
      "final validation loss (the fitted L)")                                                      \
    X("result", "nonzeros", "integer", "parameters", 2,                                            \
      "non-zero prunable weights at the end (N)")                                                  \
    X("result", "sparsity", "number", "fraction", 0, "sparsity reached (S)")                       \
    X("result", "step", "integer", "steps", 0, "steps done")                                       \
    X("result", "train_loss", "number or null", "nats/token", 0, "mean training loss at the end")  \
    X("result", "signal", "string", "1", 0, "the signal that stopped an interrupted run")          \
    X("result", "seconds", "number", "s", 0, "wall-clock seconds of the run")                      \
    X("result", "device", "string", "1", 0, "where the run computed: cpu or cuda")                 \
    X("result", "precision", "string", "1", 0, "matmul precision used: fp32, tf32 or bf16")        \
    X("result", "embed_sparsity", "string", "1", 0, "off, or auto: the embeddings were pruned")    \
    X("result", "embedding_sparsity", "number", "fraction", 0,                                     \
      "sparsity of wte and wpe reached (not in N)")                                                \
    X("error", "code", "string", "1", 1, "usage, corpus, memory or device")                        \
    X("error", "message", "string", "1", 1, "what went wrong, for people")

typedef struct sl_proto_field {
    const char *event, *name, *type, *unit;
    int required;
    const char *help;
} sl_proto_field;

/* The fields' table and its length. */
const sl_proto_field *sl_proto_fields(size_t *n);
/* The field's row of docs/trainer-protocol.md's table (no newline):
 * | `event` | `name` | type | unit | required | meaning |. */
const char *sl_proto_doc_field_row(const sl_proto_field *f, char *buf, size_t cap);

typedef struct sl_proto_event {
    sl_proto_event_kind kind;
    json_t *body; /* the line's object without "event"; owned */
} sl_proto_event;

/* Parses one line (its newline may be there): 0 with ev set, or -1 with
 * why in err (not a JSON object, no "event", a required field missing or
 * of the wrong type). */
int sl_proto_event_parse(const char *line, size_t len, sl_proto_event *ev, char *err, size_t cap);

/* What a run's JSON lines said so far. */
typedef struct sl_proto_log {
    int started;       /* a start event came */
    json_t *progress;  /* the last progress (its table fields; val_loss the latest) or NULL */
    json_t *evals;     /* every evaluation so far: [{step, tokens, val_loss}] */
    json_t *result;    /* the last result event, or NULL */
    json_t *error;     /* the last error event, or NULL */
    size_t bad_lines;  /* lines that did not parse */
    char bad_why[160]; /* why the first of them did not */
} sl_proto_log;

void sl_proto_log_init(sl_proto_log *log);
/* Adds one complete line. */
void sl_proto_log_line(sl_proto_log *log, const char *line, size_t len);
/* Reads the complete lines of a file (a line still being written is left
 * for the next read); -1 when it cannot be opened (log unchanged). */
int sl_proto_log_read(const char *path, sl_proto_log *log);
/* progress with "evaluations" added, as backends and the worker report it;
 * NULL when no progress came. New reference. */
json_t *sl_proto_log_progress(const sl_proto_log *log);
void sl_proto_log_free(sl_proto_log *log);

/* ---- how an attempt ended ---- */

typedef enum sl_proto_failure {
    SL_PROTO_SUCCEEDED = 0,
    SL_PROTO_REFUSED,       /* the trainer refused the options or its corpus: a retry repeats */
    SL_PROTO_DIVERGED,      /* non-finite loss: a retry with the same seed repeats */
    SL_PROTO_OUT_OF_MEMORY, /* may pass on another try or machine */
    SL_PROTO_LOST,          /* ended without a result: killed, preempted, vanished */
    SL_PROTO_BACKEND_UNAVAILABLE, /* the backend could not be reached or was full */
    SL_PROTO_TIMED_OUT,           /* past its wall-clock limit */
    SL_PROTO_FAILURE_COUNT
} sl_proto_failure;

const char *sl_proto_failure_name(sl_proto_failure f);
/* 0 with *out when text names a class, else -1. */
int sl_proto_failure_parse(const char *text, sl_proto_failure *out);

/* Judges an ended trainer process from its log and exit: exit_status is the
 * process's exit code (-1 unknown, 128 + n for signal n), how says how it
 * ended for the reason. SUCCEEDED when the result is completed. */
sl_proto_failure sl_proto_outcome(const sl_proto_log *log, int exit_status, const char *how,
                                  char *reason, size_t cap);

/* The trainer's exit codes. */
#define SL_PROTO_EXIT_OK      0 /* completed */
#define SL_PROTO_EXIT_FAILED  1 /* diverged, or out of memory */
#define SL_PROTO_EXIT_REFUSED 2 /* bad options, unreadable corpus, no such device */

#endif
