#include "sl_sweep_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_fit_json.h"
#include "sl_parse.h"

/* The protocol's bounds of option id. */
#define LO(id) ((long long)sl_proto_option_at(SL_PROTO_##id)->lo)
#define HI(id) ((long long)sl_proto_option_at(SL_PROTO_##id)->hi)

/* An integer member in [lo, hi]; absent: *out = dflt, or an error when
 * required. */
static int take_int(json_t *obj, const char *path, const char *key, long long lo, long long hi,
                    int required, long long dflt, long long *out, sl_error *err) {
    json_t *v = json_object_get(obj, key);
    char field[64];
    snprintf(field, sizeof field, "%s%s%s", path, path[0] ? "." : "", key);
    *out = dflt;
    if (!v) {
        if (!required) return 0;
        return sl_error_set(err, SL_ERR_INVALID_BODY, field,
                            "%s is required: an integer in "
                            "[%lld, %lld]",
                            field, lo, hi);
    }
    /* 1e4 is a fine way to write a token count; 1.5 is not an integer. */
    double d = json_is_integer(v) ? (double)json_integer_value(v)
               : json_is_real(v)  ? json_real_value(v)
                                  : (double)NAN;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
        return sl_error_set(err, SL_ERR_INVALID_BODY, field,
                            "%s must be an integer in "
                            "[%lld, %lld]",
                            field, lo, hi);
    *out = json_is_integer(v) ? json_integer_value(v) : (long long)d;
    return 0;
}

/* An array member of at most max elements: non-empty, unless may_be_empty
 * (sparsities and patterns, of which the grid needs one or the other: a
 * stored request lists the one it has not as []). */
static json_t *take_array(json_t *obj, const char *field, const char *key, size_t max, int required,
                          int may_be_empty, sl_error *err) {
    json_t *a = json_object_get(obj, key);
    if (!a && !required) return json_array(); /* caller decrefs either way */
    size_t lo = may_be_empty ? 0 : 1;
    if (!json_is_array(a) || json_array_size(a) < lo || json_array_size(a) > max) {
        sl_error_set(err, SL_ERR_INVALID_BODY, field, "%s must be an array of %zu to %zu values",
                     field, lo, max);
        return NULL;
    }
    return json_incref(a);
}

static int decode_sizes(json_t *grid, sl_sweep_request *out, sl_error *err) {
    static const char *const keys[] = {"layers", "width", "heads"};
    json_t *a = take_array(grid, "grid.sizes", "sizes", SL_SWEEP_MAX_SIZES, 1, 0, err);
    if (!a) return -1;
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(a, i, v) {
        char path[48];
        snprintf(path, sizeof path, "grid.sizes[%zu]", i);
        long long layers, width, heads;
        if (!json_is_object(v)) {
            rc = sl_error_set(err, SL_ERR_INVALID_BODY, path,
                              "%s must be an object {\"layers\", \"width\", \"heads\"}", path);
            break;
        }
        if (sl_json_only_members(v, path, keys, 3, err) ||
            take_int(v, path, "layers", LO(LAYERS), HI(LAYERS), 1, 0, &layers, err) ||
            take_int(v, path, "width", LO(WIDTH), HI(WIDTH), 1, 0, &width, err) ||
            take_int(v, path, "heads", LO(HEADS), HI(HEADS), 1, 0, &heads, err)) {
            rc = -1;
            break;
        }
        if (width % heads != 0) {
            rc = sl_error_set(err, SL_ERR_INVALID_BODY, path,
                              "%s: heads (%lld) must divide width (%lld)", path, heads, width);
            break;
        }
        out->sizes[i] = (sl_run_size){(unsigned)layers, (unsigned)width, (unsigned)heads};
    }
    out->nsizes = rc ? 0 : json_array_size(a);
    json_decref(a);
    return rc;
}

static int decode_values(json_t *grid, sl_sweep_request *out, sl_error *err) {
    json_t *sp =
        take_array(grid, "grid.sparsities", "sparsities", SL_SWEEP_MAX_SPARSITIES, 0, 1, err);
    json_t *pa =
        sp ? take_array(grid, "grid.patterns", "patterns", SL_SWEEP_MAX_PATTERNS, 0, 1, err) : NULL;
    json_t *tk =
        pa ? take_array(grid, "grid.tokens", "tokens", SL_SWEEP_MAX_TOKENS, 1, 0, err) : NULL;
    json_t *sd = tk ? take_array(grid, "grid.seeds", "seeds", SL_SWEEP_MAX_SEEDS, 0, 0, err) : NULL;
    int rc = sd ? 0 : -1;
    size_t i;
    json_t *v;
    char path[48];
    if (!rc) json_array_foreach(sp, i, v) {
            double s = json_is_number(v) ? json_number_value(v) : (double)NAN;
            sl_proto_spec check;
            char msg[200];
            snprintf(path, sizeof path, "grid.sparsities[%zu]", i);
            if (sl_proto_set(&check, SL_PROTO_SPARSITY, s, path, msg, sizeof msg) != 0) {
                rc = sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s", msg);
                break;
            }
            out->sparsities[out->nsparsities++] = s;
        }
    if (!rc) json_array_foreach(pa, i, v) {
            int n = 0, m = 0;
            snprintf(path, sizeof path, "grid.patterns[%zu]", i);
            if (sl_parse_pattern(path, json_is_string(v) ? json_string_value(v) : "", &n, &m,
                                 err)) {
                err->code = SL_ERR_INVALID_BODY;
                rc = -1;
                break;
            }
            out->patterns[out->npatterns][0] = (unsigned)n;
            out->patterns[out->npatterns++][1] = (unsigned)m;
        }
    if (!rc && out->nsparsities + out->npatterns == 0)
        rc = sl_error_set(err, SL_ERR_INVALID_BODY, "grid.sparsities",
                          "the grid needs at least one of grid.sparsities (unstructured, 0 for "
                          "dense) and grid.patterns (n:m)");
    if (!rc) json_array_foreach(tk, i, v) {
            json_t *wrap = json_pack("{s:O}", "v", v);
            snprintf(path, sizeof path, "grid.tokens[%zu]", i);
            long long t;
            rc = take_int(wrap, "", "v", LO(TOKENS), HI(TOKENS), 1, 0, &t, err);
            json_decref(wrap);
            if (rc) {
                sl_error_set(err, SL_ERR_INVALID_BODY, path,
                             "%s must be an integer number of "
                             "training tokens in [%lld, %g]",
                             path, LO(TOKENS), (double)HI(TOKENS));
                break;
            }
            out->tokens[out->ntokens++] = t;
        }
    if (!rc) json_array_foreach(sd, i, v) {
            if (!json_is_integer(v) || json_integer_value(v) < LO(SEED) ||
                json_integer_value(v) > HI(SEED)) {
                snprintf(path, sizeof path, "grid.seeds[%zu]", i);
                rc =
                    sl_error_set(err, SL_ERR_INVALID_BODY, path,
                                 "%s must be an integer in [%lld, %lld]", path, LO(SEED), HI(SEED));
                break;
            }
            out->seeds[out->nseeds++] = json_integer_value(v);
        }
    if (!rc && out->nseeds == 0) out->seeds[out->nseeds++] = 1;
    json_decref(sp);
    json_decref(pa);
    json_decref(tk);
    json_decref(sd);
    return rc;
}

static int decode_trainer(json_t *t, sl_sweep_request *out, sl_error *err) {
    sl_proto_spec_init(&out->trainer);
    if (!t) return 0;
    char field[sizeof err->field], msg[400];
    if (sl_proto_from_json(&out->trainer, t, SL_PROTO_SWEEP, "trainer", field, sizeof field, msg,
                           sizeof msg) != 0 ||
        sl_proto_spec_check(&out->trainer, "trainer", field, sizeof field, msg, sizeof msg) != 0)
        return sl_error_set(err, SL_ERR_INVALID_BODY, field, "%s", msg);
    return 0;
}

/* A run's size as a whole, by the protocol's limits for the sweep's device
 * (what the trainer refuses too), with the size named. */
static int check_memory(const sl_sweep_request *req, sl_error *err) {
    /* A value not given is the trainer's default, which the spec holds. */
    int device = (int)req->trainer.value[SL_PROTO_DEVICE];
    for (size_t i = 0; i < req->nsizes; i++) {
        const sl_run_size *s = &req->sizes[i];
        /* the server's corpus is bytes unless its operator says otherwise */
        sl_proto_size z = {s->layers,
                           s->width,
                           s->heads,
                           req->trainer.value[SL_PROTO_CONTEXT],
                           req->trainer.value[SL_PROTO_BATCH],
                           256};
        char why[240];
        if (sl_proto_size_check(&z, device, why, sizeof why) != 0) {
            char path[48];
            snprintf(path, sizeof path, "grid.sizes[%zu]", i);
            return sl_error_set(err, SL_ERR_INVALID_BODY, path, "%s: %s", path, why);
        }
        for (size_t p = 0; p < req->npatterns; p++)
            if (s->width % req->patterns[p][1] != 0) {
                char path[48];
                snprintf(path, sizeof path, "grid.patterns[%zu]", p);
                return sl_error_set(err, SL_ERR_INVALID_BODY, path,
                                    "pattern %u:%u needs every width divisible by %u; "
                                    "grid.sizes[%zu] has width %u",
                                    req->patterns[p][0], req->patterns[p][1], req->patterns[p][1],
                                    i, s->width);
            }
    }
    return 0;
}

/* The fit options are those of POST /v1/fits less dataset and law, which
 * the sweep fixes: decode them as such a request to check them now. */
static int decode_fit(json_t *fit, sl_sweep_request *out, sl_error *err) {
    static const char *const keys[] = {"loss",      "seed",    "starts",
                                       "bootstrap", "holdout", "publish",
                                       "reference", "rollout", "pattern_factors"};
    if (!fit) return 0;
    if (!json_is_object(fit))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "fit",
                            "fit must be an object {loss?, seed?, starts?, bootstrap?, holdout?, "
                            "publish?, reference?, rollout?, pattern_factors?}");
    if (sl_json_only_members(fit, "fit", keys, sizeof keys / sizeof keys[0], err)) return -1;
    json_t *body = sl_sweep_fit_body(fit, out->law, 1);
    sl_fit_request fr;
    int rc = sl_fit_request_decode(body, &fr, err);
    json_decref(body);
    if (rc) {
        char f[sizeof err->field + 8];
        snprintf(f, sizeof f, "fit%s%s", err->field[0] ? "." : "", err->field);
        snprintf(err->field, sizeof err->field, "%.*s", (int)sizeof err->field - 1, f);
        return -1;
    }
    sl_fit_request_free(&fr);
    out->fit = json_deep_copy(fit);
    return 0;
}

/* Which trainer runs the sweep and on what: a profile name (checked against
 * the server's profiles later), the device and how many, and strict. */
static int decode_target(json_t *body, sl_sweep_request *out, sl_error *err) {
    json_t *profile = json_object_get(body, "profile");
    if (profile) {
        if (!sl_profile_name_valid(json_string_value(profile)))
            return sl_error_set(err, SL_ERR_INVALID_BODY, "profile",
                                "profile must name one of the server's trainer profiles (1 to "
                                "%d of a-z, 0-9, '_' and '-', starting with a letter)",
                                SL_PROFILE_NAME_MAX);
        snprintf(out->profile, sizeof out->profile, "%s", json_string_value(profile));
    }
    json_t *device = json_object_get(body, "device");
    /* The protocol's trainer.device says the same: either asks for CUDA. */
    int trainer_cuda =
        out->trainer.given[SL_PROTO_DEVICE] && out->trainer.value[SL_PROTO_DEVICE] == 1;
    const char *d = device ? json_string_value(device) : trainer_cuda ? "cuda" : "cpu";
    if (!d || (strcmp(d, "cpu") && strcmp(d, "cuda")))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "device",
                            "device must be \"cpu\" or \"cuda\"");
    if (trainer_cuda && !strcmp(d, "cpu"))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "device",
                            "device is \"cpu\" but trainer.device is \"cuda\"");
    char why[200];
    if (!strcmp(d, "cuda") &&
        sl_proto_set(&out->trainer, SL_PROTO_DEVICE, 1, "trainer.device", why, sizeof why) != 0)
        return sl_error_set(err, SL_ERR_INVALID_BODY, "device", "%s", why);
    long long count;
    if (take_int(body, "", "device_count", 1, SL_PROFILE_MAX_DEVICES, 0, 1, &count, err)) return -1;
    if (!strcmp(d, "cpu") && json_object_get(body, "device_count"))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "device_count",
                            "device_count goes with \"device\": \"cuda\"");
    out->device = !strcmp(d, "cuda") ? (sl_device){SL_DEVICE_CUDA, (unsigned)count}
                                     : (sl_device){SL_DEVICE_CPU, 0};
    json_t *strict = json_object_get(body, "strict");
    if (strict && !json_is_boolean(strict))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "strict", "strict must be true or false");
    out->strict = json_is_true(strict);
    return 0;
}

int sl_sweep_request_decode(json_t *body, sl_sweep_request *out, sl_error *err) {
    static const char *const keys[] = {"law", "backend", "grid",   "trainer",      "max_attempts",
                                       "fit", "profile", "device", "device_count", "strict"};
    static const char *const grid_keys[] = {"sizes", "sparsities", "patterns", "tokens", "seeds"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "", "the body must be a JSON object");
    if (sl_json_only_members(body, "", keys, sizeof keys / sizeof keys[0], err)) return -1;
    json_t *law = json_object_get(body, "law");
    if (!json_is_string(law) || !sl_law_name_valid(json_string_value(law)))
        return sl_error_set(
            err, SL_ERR_INVALID_BODY, "law",
            "law must be the name to publish the fitted law under: " SL_LAW_NAME_RULE);
    snprintf(out->law, sizeof out->law, "%s", json_string_value(law));
    json_t *backend = json_object_get(body, "backend");
    out->backend = SL_BACKEND_LOCAL;
    out->backend_given = backend != NULL;
    if (backend) {
        if (sl_backend_kind_parse(json_string_value(backend), &out->backend) != 0)
            return sl_error_set(err, SL_ERR_INVALID_BODY, "backend",
                                "backend must be \"local\" (sparselaw-train as a child process "
                                "of the server), \"worker\" (sparselaw-train serve) or \"slurm\" "
                                "(a batch job through slurmrestd)");
    }
    json_t *grid = json_object_get(body, "grid");
    if (!json_is_object(grid))
        return sl_error_set(err, SL_ERR_INVALID_BODY, "grid",
                            "grid must be an object {sizes, sparsities?, patterns?, tokens, "
                            "seeds?}");
    long long attempts;
    if (sl_json_only_members(grid, "grid", grid_keys, sizeof grid_keys / sizeof grid_keys[0],
                             err) ||
        decode_sizes(grid, out, err) || decode_values(grid, out, err) ||
        decode_trainer(json_object_get(body, "trainer"), out, err) || check_memory(out, err) ||
        take_int(body, "", "max_attempts", 1, SL_SWEEP_MAX_ATTEMPTS, 0, SL_SWEEP_DEFAULT_ATTEMPTS,
                 &attempts, err) ||
        decode_fit(json_object_get(body, "fit"), out, err) || decode_target(body, out, err)) {
        sl_sweep_request_free(out);
        return -1;
    }
    out->max_attempts = (unsigned)attempts;
    size_t n = sl_sweep_points(out, NULL, 0);
    if (n > SL_SWEEP_MAX_POINTS) {
        sl_sweep_request_free(out);
        return sl_error_set(err, SL_ERR_INVALID_BODY, "grid",
                            "the grid has %zu distinct points; a sweep runs at most %d", n,
                            SL_SWEEP_MAX_POINTS);
    }
    return 0;
}

void sl_sweep_request_free(sl_sweep_request *req) {
    json_decref(req->fit);
    req->fit = NULL;
}

static json_t *trainer_json(const sl_trainer_options *o) {
    return sl_proto_to_json(o, SL_PROTO_SWEEP);
}

json_t *sl_sweep_request_json(const sl_sweep_request *req) {
    json_t *sizes = json_array(), *sp = json_array(), *pa = json_array(), *tk = json_array(),
           *sd = json_array();
    for (size_t i = 0; i < req->nsizes; i++)
        json_array_append_new(
            sizes, json_pack("{s:i, s:i, s:i}", "layers", (int)req->sizes[i].layers, "width",
                             (int)req->sizes[i].width, "heads", (int)req->sizes[i].heads));
    for (size_t i = 0; i < req->nsparsities; i++)
        json_array_append_new(sp, json_real(req->sparsities[i]));
    for (size_t i = 0; i < req->npatterns; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%u:%u", req->patterns[i][0], req->patterns[i][1]);
        json_array_append_new(pa, json_string(buf));
    }
    for (size_t i = 0; i < req->ntokens; i++)
        json_array_append_new(tk, json_integer(req->tokens[i]));
    for (size_t i = 0; i < req->nseeds; i++)
        json_array_append_new(sd, json_integer(req->seeds[i]));
    json_t *out = json_pack("{s:s, s:s, s:{s:o, s:o, s:o}, s:o, s:i, s:o}", "law", req->law,
                            "backend", sl_backend_kind_name(req->backend), "grid", "sizes", sizes,
                            "tokens", tk, "seeds", sd, "trainer", trainer_json(&req->trainer),
                            "max_attempts", (int)req->max_attempts, "fit",
                            req->fit ? json_deep_copy(req->fit) : json_object());
    /* An empty list is left out, as the client did: the request must decode
     * again as it is returned, and the decoder takes a list of 1 or more. */
    json_t *grid = json_object_get(out, "grid");
    if (req->profile[0]) json_object_set_new(out, "profile", json_string(req->profile));
    json_object_set_new(out, "device",
                        json_string(req->device.kind == SL_DEVICE_CUDA ? "cuda" : "cpu"));
    if (req->device.kind == SL_DEVICE_CUDA)
        json_object_set_new(out, "device_count", json_integer(req->device.count));
    json_object_set_new(out, "strict", json_boolean(req->strict));
    if (req->nsparsities) json_object_set(grid, "sparsities", sp);
    if (req->npatterns) json_object_set(grid, "patterns", pa);
    json_decref(sp);
    json_decref(pa);
    return out;
}

/* Where each of the grid's lists has a value not seen earlier in it: a
 * point is one choice from each list, so points drawn from these are all
 * distinct and their number is the product of the counts. Each list is
 * short (SL_SWEEP_MAX_*), so finding these is cheap whatever the grid. */
typedef struct {
    unsigned char size[SL_SWEEP_MAX_SIZES];
    unsigned char kind[SL_SWEEP_MAX_SPARSITIES + SL_SWEEP_MAX_PATTERNS]; /* sparsities, patterns */
    unsigned char token[SL_SWEEP_MAX_TOKENS];
    unsigned char seed[SL_SWEEP_MAX_SEEDS];
    size_t nsize, nkind, ntoken, nseed;
} grid_firsts;

static int same_size(const sl_run_size *a, const sl_run_size *b) {
    return a->layers == b->layers && a->width == b->width && a->heads == b->heads;
}

/* Index i of kind is sparsity i, or pattern i - nsparsities after them. */
static int same_kind(const sl_sweep_request *req, size_t i, size_t j) {
    size_t ns = req->nsparsities;
    if ((i < ns) != (j < ns)) return 0; /* a pattern is never an unstructured point */
    if (i < ns) return req->sparsities[i] == req->sparsities[j];
    return req->patterns[i - ns][0] == req->patterns[j - ns][0] &&
           req->patterns[i - ns][1] == req->patterns[j - ns][1];
}

static void grid_firsts_find(const sl_sweep_request *req, grid_firsts *g) {
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < req->nsizes; i++) {
        size_t k = 0;
        while (k < g->nsize && !same_size(&req->sizes[g->size[k]], &req->sizes[i]))
            k++;
        if (k == g->nsize) g->size[g->nsize++] = (unsigned char)i;
    }
    for (size_t i = 0; i < req->nsparsities + req->npatterns; i++) {
        size_t k = 0;
        while (k < g->nkind && !same_kind(req, g->kind[k], i))
            k++;
        if (k == g->nkind) g->kind[g->nkind++] = (unsigned char)i;
    }
    for (size_t i = 0; i < req->ntokens; i++) {
        size_t k = 0;
        while (k < g->ntoken && req->tokens[g->token[k]] != req->tokens[i])
            k++;
        if (k == g->ntoken) g->token[g->ntoken++] = (unsigned char)i;
    }
    for (size_t i = 0; i < req->nseeds; i++) {
        size_t k = 0;
        while (k < g->nseed && req->seeds[g->seed[k]] != req->seeds[i])
            k++;
        if (k == g->nseed) g->seed[g->nseed++] = (unsigned char)i;
    }
}

size_t sl_sweep_points(const sl_sweep_request *req, sl_run_spec *out, size_t cap) {
    grid_firsts g;
    grid_firsts_find(req, &g);
    size_t n = 0;
    for (size_t z = 0; out && z < g.nsize && n < cap; z++)
        for (size_t s = 0; s < g.nkind && n < cap; s++)
            for (size_t t = 0; t < g.ntoken && n < cap; t++)
                for (size_t k = 0; k < g.nseed && n < cap; k++) {
                    sl_run_spec *p = &out[n++];
                    size_t kind = g.kind[s];
                    memset(p, 0, sizeof *p);
                    p->size = req->sizes[g.size[z]];
                    if (kind < req->nsparsities) {
                        p->sparsity = req->sparsities[kind];
                    } else {
                        p->pattern_n = req->patterns[kind - req->nsparsities][0];
                        p->pattern_m = req->patterns[kind - req->nsparsities][1];
                        p->sparsity = 1.0 - (double)p->pattern_n / (double)p->pattern_m;
                    }
                    p->tokens = req->tokens[g.token[t]];
                    p->seed = req->seeds[g.seed[k]];
                    p->trainer = req->trainer;
                    memcpy(p->profile, req->profile, sizeof p->profile);
                    p->device = req->device;
                }
    return g.nsize * g.nkind * g.ntoken * g.nseed;
}

json_t *sl_sweep_fit_body(json_t *fit_options, const char *law, long long dataset) {
    json_t *body = fit_options ? json_deep_copy(fit_options) : json_object();
    json_object_set_new(body, "dataset", json_integer(dataset));
    json_object_set_new(body, "law", json_string(law));
    return body;
}

void sl_run_spec_key(const sl_run_spec *spec, char *buf, size_t cap) {
    char pattern[16];
    sl_proto_pattern_format(spec->pattern_n, spec->pattern_m, pattern, sizeof pattern);
    snprintf(buf, cap, "L%u-W%u-H%u-S%.17g-%s-D%lld-seed%lld", spec->size.layers, spec->size.width,
             spec->size.heads, spec->sparsity, pattern, spec->tokens, spec->seed);
}

json_t *sl_run_spec_json(const sl_run_spec *spec) {
    char pattern[16];
    sl_proto_pattern_format(spec->pattern_n, spec->pattern_m, pattern, sizeof pattern);
    json_t *j =
        json_pack("{s:i, s:i, s:i, s:f, s:s, s:I, s:I, s:o}", "layers", (int)spec->size.layers,
                  "width", (int)spec->size.width, "heads", (int)spec->size.heads, "sparsity",
                  spec->sparsity, "pattern", pattern, "tokens", (json_int_t)spec->tokens, "seed",
                  (json_int_t)spec->seed, "trainer", trainer_json(&spec->trainer));
    /* Left out for sparselaw-train on the CPU: a spec stored before profiles reads the same. */
    if (spec->profile[0]) json_object_set_new(j, "profile", json_string(spec->profile));
    if (spec->device.kind == SL_DEVICE_CUDA) {
        json_object_set_new(j, "device", json_string("cuda"));
        json_object_set_new(j, "device_count", json_integer(spec->device.count));
    }
    return j;
}

int sl_run_spec_decode(json_t *j, sl_run_spec *out, sl_error *err) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(j)) return sl_error_set(err, SL_ERR_INVALID_BODY, "", "not a run spec");
    /* Reuse the grid decoder on a one-point grid: the same checks, once. */
    json_t *pattern = json_object_get(j, "pattern");
    const char *p = json_is_string(pattern) ? json_string_value(pattern) : "";
    int structured = strcmp(p, "unstructured") != 0;
    json_t *size = json_pack("{s:O?, s:O?, s:O?}", "layers", json_object_get(j, "layers"), "width",
                             json_object_get(j, "width"), "heads", json_object_get(j, "heads"));
    json_t *grid = json_pack("{s:[o], s:[O?], s:[O?]}", "sizes", size, "tokens",
                             json_object_get(j, "tokens"), "seeds", json_object_get(j, "seed"));
    if (structured)
        json_object_set_new(grid, "patterns", json_pack("[O?]", pattern));
    else
        json_object_set_new(grid, "sparsities", json_pack("[O?]", json_object_get(j, "sparsity")));
    json_t *body = json_pack("{s:s, s:o}", "law", "run", "grid", grid);
    json_t *trainer = json_object_get(j, "trainer");
    if (body && trainer) json_object_set(body, "trainer", trainer);
    static const char *const target[] = {"profile", "device", "device_count"};
    for (size_t i = 0; body && i < sizeof target / sizeof target[0]; i++) {
        json_t *v = json_object_get(j, target[i]);
        if (v) json_object_set(body, target[i], v);
    }
    sl_sweep_request req;
    int rc = body ? sl_sweep_request_decode(body, &req, err) : -1;
    json_decref(body);
    if (rc) return -1;
    sl_sweep_points(&req, out, 1);
    sl_sweep_request_free(&req);
    return 0;
}
