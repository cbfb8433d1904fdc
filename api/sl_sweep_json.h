/*
 * sl_sweep_json.h - the JSON of calibration sweeps: the grid of POST
 * /v1/sweeps, the grid points it expands to (one training run each), and
 * the run spec a backend turns into a trainer command line. Every field is a
 * number or a name checked against a fixed set: nothing a client writes is
 * passed on as text, so no client string can reach a command line.
 */
#ifndef SL_SWEEP_JSON_H
#define SL_SWEEP_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "sl_errors.h"
#include "sl_law_record.h"
#include "sl_run_spec.h"

#define SL_SWEEP_MAX_SIZES        32
#define SL_SWEEP_MAX_SPARSITIES   32
#define SL_SWEEP_MAX_PATTERNS     16
#define SL_SWEEP_MAX_TOKENS       32
#define SL_SWEEP_MAX_SEEDS        32
#define SL_SWEEP_MAX_POINTS       1024 /* runs of one sweep, after duplicates are dropped */
#define SL_SWEEP_MAX_ATTEMPTS     10
#define SL_SWEEP_DEFAULT_ATTEMPTS 3
#define SL_RUN_KEY_MAX            160

/* Each option's bounds, and those of a run's size as a whole by device, are
 * the run protocol's (sl_proto.h), which the trainer checks too, so a run
 * the server accepts never fails on its options. */

typedef struct sl_sweep_request {
    char law[SL_LAW_NAME_MAX + 1];
    sl_backend_kind backend;
    size_t nsizes, nsparsities, npatterns, ntokens, nseeds;
    sl_run_size sizes[SL_SWEEP_MAX_SIZES];
    double sparsities[SL_SWEEP_MAX_SPARSITIES];
    unsigned patterns[SL_SWEEP_MAX_PATTERNS][2];
    long long tokens[SL_SWEEP_MAX_TOKENS];
    long long seeds[SL_SWEEP_MAX_SEEDS];
    sl_trainer_options trainer;
    unsigned max_attempts;
    json_t *fit; /* the fit's options {loss?, seed?, starts?, bootstrap?, holdout?}; owned */
    char profile[SL_PROFILE_NAME_MAX + 1]; /* "" for sparselaw-train */
    sl_device device;                      /* what each run needs: cpu, or cuda x count */
    int backend_given;                     /* 0: the server picks one that can run it */
    int strict;                            /* a grid that cannot identify the law is refused */
} sl_sweep_request;

/* {"law", "backend"?: "local", "grid": {"sizes": [{layers, width, heads}],
 *  "sparsities"?: [S], "patterns"?: ["n:m"], "tokens": [D], "seeds"?: [k]},
 *  "trainer"?: {the protocol's sweep options: context?, batch?, lr?, ...},
 *  "max_attempts"?, "fit"?: {...}, "profile"?: NAME, "device"?: "cpu" | "cuda",
 *  "device_count"?: N, "strict"?: bool}. At least one sparsity or pattern;
 * seeds default to [1]. Without "backend" the server routes the sweep
 * (backend_given 0; backend local until then). 400 invalid_body naming the
 * field on any problem. */
int sl_sweep_request_decode(json_t *body, sl_sweep_request *out, sl_error *err);
/* The request with defaults filled in: what the sweep stores and reports. */
json_t *sl_sweep_request_json(const sl_sweep_request *req);
void sl_sweep_request_free(sl_sweep_request *req);

/* The distinct grid points, sizes x (sparsities, patterns) x tokens x seeds
 * in that nesting; writes up to cap and returns how many there are (which
 * may exceed cap). Identical points appear once: a value repeated in a list
 * counts once. With out NULL it only counts, from the lists' sizes and
 * nothing expanded, so a grid too large is refused at once. */
size_t sl_sweep_points(const sl_sweep_request *req, sl_run_spec *out, size_t cap);

/* The fit request of a finished sweep: the sweep's fit options on dataset. */
json_t *sl_sweep_fit_body(json_t *fit_options, const char *law, long long dataset);

/* The point's identity within its sweep, e.g. "L2-W64-H4-S0.5-unstructured-D8192-seed1". */
void sl_run_spec_key(const sl_run_spec *spec, char *buf, size_t cap);
json_t *sl_run_spec_json(const sl_run_spec *spec);

/* The inverse, with every bound checked again (a stored spec is trusted no
 * more than a request). */
int sl_run_spec_decode(json_t *j, sl_run_spec *out, sl_error *err);

#endif
