/*
 * sl_run_spec.h - one training run of a calibration sweep (a grid point and
 * the sweep's trainer options) and the backends that run it. Its codec is in
 * sl_sweep_json.h; every option's bounds and default are the run protocol's
 * (protocol/sl_proto.h).
 */
#ifndef SL_RUN_SPEC_H
#define SL_RUN_SPEC_H

#include "sl_profile.h"
#include "sl_proto.h"

/* The backends a sweep may name. */
typedef enum sl_backend_kind {
    SL_BACKEND_LOCAL = 0, /* sparselaw-train as a child process of the server */
    SL_BACKEND_WORKER,    /* sparselaw-train serve on another machine, over HTTP */
    SL_BACKEND_SLURM,     /* a batch job through slurmrestd */
    SL_BACKEND_KIND_COUNT
} sl_backend_kind;
const char *sl_backend_kind_name(sl_backend_kind kind);
/* 0 with *out set when text names a backend ("local", "worker", "slurm"), else -1. */
int sl_backend_kind_parse(const char *text, sl_backend_kind *out);

typedef struct sl_run_size {
    unsigned layers, width, heads;
} sl_run_size;

/* Trainer options common to every run of a sweep: the protocol's options
 * of SL_PROTO_SWEEP that the request gave (the others keep the trainer's
 * default and are not passed on). Without threads a backend divides its
 * cores among its runs. */
typedef sl_proto_spec sl_trainer_options;

/* One training run: a grid point and the sweep's trainer options. */
typedef struct sl_run_spec {
    sl_run_size size;
    double sparsity;               /* in [0, 1); 1 - n/m for a pattern */
    unsigned pattern_n, pattern_m; /* 0, 0: unstructured (or dense at sparsity 0) */
    long long tokens;
    long long seed;
    sl_trainer_options trainer;
    char profile[SL_PROFILE_NAME_MAX + 1]; /* the operator's trainer profile; "" for
                                              sparselaw-train */
    sl_device device;                      /* what the run needs */
} sl_run_spec;

/* The whole run spec in the protocol's terms (the grid point's coordinates
 * and the given trainer options): what a backend turns into a command line
 * or a worker's body. */
void sl_run_spec_proto(const sl_run_spec *spec, sl_proto_spec *out);

#endif
