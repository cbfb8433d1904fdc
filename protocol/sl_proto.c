/*
 * sl_proto.c - the run protocol (sl_proto.h): the option table, specs as
 * argv and JSON, the trainer's JSON lines and the failure classes.
 */
#include "sl_proto.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_text.h"

/* ---------------------------------------------------------------- table */

static const sl_proto_option options[SL_PROTO_COUNT] = {
#define SL_PROTO_ROW(id, name, flag, type, lo, open, hi, dflt, unit, who, choices, help)           \
    {SL_PROTO_##id, name, flag,           SL_PROTO_T_##type, lo,  open, hi,                        \
     dflt,          unit, SL_PROTO_##who, choices,           help},
    SL_PROTO_OPTIONS(SL_PROTO_ROW)
#undef SL_PROTO_ROW
};

static const sl_proto_field fields[] = {
#define SL_PROTO_FIELD(event, name, type, unit, required, help)                                    \
    {event, name, type, unit, required, help},
    SL_PROTO_EVENT_FIELDS(SL_PROTO_FIELD)
#undef SL_PROTO_FIELD
};
#define NFIELDS (sizeof fields / sizeof fields[0])

const sl_proto_option *sl_proto_option_at(sl_proto_id id) {
    return (unsigned)id < SL_PROTO_COUNT ? &options[id] : NULL;
}

const sl_proto_field *sl_proto_fields(size_t *n) {
    *n = NFIELDS;
    return fields;
}

const sl_proto_option *sl_proto_find(const char *name, size_t len, int by_flag) {
    for (size_t i = 0; i < SL_PROTO_COUNT; i++) {
        const char *n = by_flag ? options[i].flag : options[i].name;
        if (n && strlen(n) == len && !strncmp(n, name, len)) return &options[i];
    }
    return NULL;
}

int sl_proto_choice_index(const sl_proto_option *o, const char *text, size_t len) {
    const char *p = o->choices;
    for (int i = 0; p && *p; i++) {
        size_t n = strcspn(p, "|");
        if (n == len && !strncmp(p, text, len)) return i;
        p += n + (p[n] == '|');
    }
    return -1;
}

const char *sl_proto_choice_name(const sl_proto_option *o, int index, char *buf, size_t cap) {
    const char *p = o->choices ? o->choices : "";
    for (int i = 0; *p && i < index; i++)
        p += strcspn(p, "|") + (p[strcspn(p, "|")] == '|');
    snprintf(buf, cap, "%.*s", (int)strcspn(p, "|"), p);
    return buf;
}

const char *sl_proto_describe(const sl_proto_option *o, char *buf, size_t cap) {
    switch (o->type) {
    case SL_PROTO_T_INT: snprintf(buf, cap, "an integer in [%.0f, %.0f]", o->lo, o->hi); break;
    case SL_PROTO_T_REAL:
        snprintf(buf, cap, "a number in %c%.15g, %.15g%c", o->open & 1 ? '(' : '[', o->lo, o->hi,
                 o->open & 2 ? ')' : ']');
        break;
    case SL_PROTO_T_PATTERN:
        snprintf(buf, cap, "\"unstructured\" or \"n:m\" such as \"2:4\" (0 < n < m <= 1024)");
        break;
    case SL_PROTO_T_CHOICE: {
        size_t used = (size_t)snprintf(buf, cap, "one of");
        const char *p = o->choices;
        while (*p && used < cap) {
            size_t n = strcspn(p, "|");
            used += (size_t)snprintf(buf + used, cap - used, " \"%.*s\"", (int)n, p);
            p += n + (p[n] == '|');
        }
        break;
    }
    }
    return buf;
}

const char *sl_proto_default_text(const sl_proto_option *o, char *buf, size_t cap) {
    if (o->type == SL_PROTO_T_PATTERN)
        snprintf(buf, cap, "unstructured");
    else if (o->type == SL_PROTO_T_CHOICE)
        sl_proto_choice_name(o, (int)o->dflt, buf, cap);
    else
        snprintf(buf, cap, "%.15g", o->dflt);
    return buf;
}

static const char *owner_name(unsigned who) {
    return who == SL_PROTO_GRID     ? "grid"
           : who == SL_PROTO_SWEEP  ? "sweep"
           : who == SL_PROTO_WORKER ? "worker"
                                    : "trainer";
}

int sl_proto_spec_check(const sl_proto_spec *s, const char *path, char *field, size_t fieldcap,
                        char *err, size_t cap) {
    int precision = (int)s->value[SL_PROTO_PRECISION];
    const sl_proto_option *p = sl_proto_option_at(SL_PROTO_PRECISION);
    if ((int)s->value[SL_PROTO_DEVICE] == 0 && precision > 1) { /* beyond auto and fp32 */
        char name[16];
        sl_proto_choice_name(p, precision, name, sizeof name);
        snprintf(field, fieldcap, "%s%s%s", path ? path : "", path && path[0] ? "." : "", p->name);
        if (path)
            snprintf(err, cap, "%s %s needs device cuda (the CPU trains in fp32)", field, name);
        else
            snprintf(err, cap, "--%s %s needs --device cuda (the CPU trains in fp32)", p->flag,
                     name);
        return -1;
    }
    return 0;
}

/* ---- a run's size ---- */

double sl_proto_block_params(const sl_proto_size *z) {
    return 12.0 * z->layers * z->width * z->width;
}

double sl_proto_activations(const sl_proto_size *z) {
    double bt = z->batch * z->context;
    return bt * z->layers * (16.0 * z->width + z->heads * z->context) + 2.0 * bt * z->vocab;
}

int sl_proto_size_fits(const sl_proto_size *z, char *err, size_t cap) {
    double bt = z->batch * z->context, acts = sl_proto_activations(z);
    if (bt * 4.0 * z->width > SL_PROTO_MAX_MATRIX || bt * z->vocab > SL_PROTO_MAX_MATRIX) {
        snprintf(err, cap,
                 "model too large: batch x context x width needs matrices past %.3g elements",
                 SL_PROTO_MAX_MATRIX);
        return -1;
    }
    if (acts > SL_PROTO_MAX_ACTIVATIONS) {
        snprintf(err, cap,
                 "model too large (batch x context x width): the activations would need %.3g "
                 "floats, at most %.3g",
                 acts, SL_PROTO_MAX_ACTIVATIONS);
        return -1;
    }
    return 0;
}

int sl_proto_size_check(const sl_proto_size *z, int device, char *err, size_t cap) {
    static const struct {
        double params, acts;
    } limits[] = {
#define SL_PROTO_LIMIT_ROW(dev, params, acts) {params, acts},
        SL_PROTO_SWEEP_LIMITS(SL_PROTO_LIMIT_ROW)
#undef SL_PROTO_LIMIT_ROW
    };
    if (device < 0 || (size_t)device >= sizeof limits / sizeof limits[0]) device = 0;
    char dev[16];
    sl_proto_choice_name(sl_proto_option_at(SL_PROTO_DEVICE), device, dev, sizeof dev);
    double params = sl_proto_block_params(z), acts = sl_proto_activations(z);
    if (params > limits[device].params) {
        snprintf(err, cap, "about %.3g block parameters; a calibration run on %s has at most %.3g",
                 params, dev, limits[device].params);
        return -1;
    }
    if (acts > limits[device].acts) {
        snprintf(err, cap,
                 "too large for batch x context: the activations would need %.3g floats (at "
                 "most %.3g on %s)",
                 acts, limits[device].acts, dev);
        return -1;
    }
    return sl_proto_size_fits(z, err, cap);
}

const char *sl_proto_doc_option_row(const sl_proto_option *o, char *buf, size_t cap) {
    char flag[48], d[160], dflt[64];
    if (o->flag)
        snprintf(flag, sizeof flag, "`--%s`", o->flag);
    else
        snprintf(flag, sizeof flag, "(runner)");
    snprintf(buf, cap, "| `%s` | %s | %s | %s | %s | %s | %s |", o->name, flag,
             sl_proto_describe(o, d, sizeof d), sl_proto_default_text(o, dflt, sizeof dflt),
             o->unit, owner_name(o->who), o->help);
    return buf;
}

const char *sl_proto_doc_field_row(const sl_proto_field *f, char *buf, size_t cap) {
    snprintf(buf, cap, "| `%s` | `%s` | %s | %s | %s | %s |", f->event, f->name, f->type, f->unit,
             f->required == 1   ? "yes"
             : f->required == 2 ? "when completed"
                                : "no",
             f->help);
    return buf;
}

/* ----------------------------------------------------------------- specs */

void sl_proto_spec_init(sl_proto_spec *s) {
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < SL_PROTO_COUNT; i++)
        s->value[i] = options[i].dflt;
}

static int choice_count(const sl_proto_option *o) {
    int n = o->choices && o->choices[0] ? 1 : 0;
    for (const char *p = o->choices; p && *p; p++)
        n += *p == '|';
    return n;
}

static int in_bounds(const sl_proto_option *o, double v) {
    if (!isfinite(v)) return 0;
    if (o->type == SL_PROTO_T_CHOICE) return v == floor(v) && v >= 0 && v < choice_count(o);
    if (o->type == SL_PROTO_T_INT && v != floor(v)) return 0;
    if (v < o->lo || (o->open & 1 && v == o->lo)) return 0;
    if (v > o->hi || (o->open & 2 && v == o->hi)) return 0;
    return 1;
}

int sl_proto_set(sl_proto_spec *s, sl_proto_id id, double v, const char *field, char *err,
                 size_t cap) {
    const sl_proto_option *o = sl_proto_option_at(id);
    if (!o || o->type == SL_PROTO_T_PATTERN) {
        snprintf(err, cap, "internal: option %d is not a number", (int)id);
        return -1;
    }
    if (!in_bounds(o, v)) {
        char d[160];
        snprintf(err, cap, "%s must be %s", field ? field : o->name,
                 sl_proto_describe(o, d, sizeof d));
        return -1;
    }
    s->value[id] = v;
    s->given[id] = 1;
    return 0;
}

int sl_proto_set_pattern(sl_proto_spec *s, unsigned n, unsigned m, const char *field, char *err,
                         size_t cap) {
    if (!(n == 0 && m == 0) && !(n >= 1 && n < m && m <= 1024)) {
        char d[160];
        snprintf(err, cap, "%s must be %s", field ? field : "pattern",
                 sl_proto_describe(&options[SL_PROTO_PATTERN], d, sizeof d));
        return -1;
    }
    s->pattern_n = n;
    s->pattern_m = m;
    s->given[SL_PROTO_PATTERN] = 1;
    return 0;
}

/* "unstructured", "dense" or digits:digits into n, m; -1 when it is none. */
static int parse_pattern(const char *t, unsigned *n, unsigned *m) {
    if (!strcmp(t, "unstructured") || !strcmp(t, "dense")) {
        *n = *m = 0;
        return 0;
    }
    size_t a = strspn(t, "0123456789");
    if (a < 1 || a > 4 || t[a] != ':') return -1;
    size_t b = strspn(t + a + 1, "0123456789");
    if (b < 1 || b > 4 || t[a + 1 + b] != '\0') return -1;
    *n = (unsigned)strtoul(t, NULL, 10);
    *m = (unsigned)strtoul(t + a + 1, NULL, 10);
    return 0;
}

int sl_proto_set_text(sl_proto_spec *s, const sl_proto_option *o, const char *text, char *err,
                      size_t cap) {
    char field[48], d[160];
    snprintf(field, sizeof field, "--%s", o->flag ? o->flag : o->name);
    if (o->type == SL_PROTO_T_PATTERN) {
        unsigned n, m;
        if (parse_pattern(text, &n, &m) != 0) {
            snprintf(err, cap, "%s: '%.64s' is not %s", field, text,
                     sl_proto_describe(o, d, sizeof d));
            return -1;
        }
        return sl_proto_set_pattern(s, n, m, field, err, cap);
    }
    if (o->type == SL_PROTO_T_CHOICE) {
        int i = sl_proto_choice_index(o, text, strlen(text));
        if (i < 0) {
            snprintf(err, cap, "%s: '%.64s' is not %s", field, text,
                     sl_proto_describe(o, d, sizeof d));
            return -1;
        }
        return sl_proto_set(s, o->id, i, field, err, cap);
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !in_bounds(o, v)) {
        snprintf(err, cap, "%s: '%.64s' is not %s", field, text, sl_proto_describe(o, d, sizeof d));
        return -1;
    }
    return sl_proto_set(s, o->id, v, field, err, cap);
}

const char *sl_proto_pattern_format(unsigned n, unsigned m, char *buf, size_t cap) {
    if (m)
        snprintf(buf, cap, "%u:%u", n, m);
    else
        snprintf(buf, cap, "unstructured");
    return buf;
}

const char *sl_proto_pattern_text(const sl_proto_spec *s, char *buf, size_t cap) {
    return sl_proto_pattern_format(s->pattern_n, s->pattern_m, buf, cap);
}

/* ------------------------------------------------------------------ JSON */

int sl_proto_from_json(sl_proto_spec *s, json_t *obj, unsigned who, const char *path, char *field,
                       size_t fieldcap, char *err, size_t cap) {
    const char *key;
    json_t *v;
    field[0] = '\0';
    if (!json_is_object(obj)) {
        snprintf(field, fieldcap, "%s", path);
        snprintf(err, cap, "%s must be an object of options", path[0] ? path : "the body");
        return -1;
    }
    json_object_foreach(obj, key, v) {
        snprintf(field, fieldcap, "%s%s%.64s", path, path[0] ? "." : "", key);
        const sl_proto_option *o = sl_proto_find(key, strlen(key), 0);
        if (!o || !(o->who & who) || (who & SL_PROTO_FLAGGED && !o->flag)) {
            snprintf(err, cap, "%s is not an option here", field);
            return -1;
        }
        if (o->type == SL_PROTO_T_PATTERN || o->type == SL_PROTO_T_CHOICE) {
            if (!json_is_string(v)) {
                char d[160];
                snprintf(err, cap, "%s must be %s", field, sl_proto_describe(o, d, sizeof d));
                return -1;
            }
            if (sl_proto_set_text(s, o, json_string_value(v), err, cap) != 0) {
                char d[160];
                snprintf(err, cap, "%s must be %s", field, sl_proto_describe(o, d, sizeof d));
                return -1;
            }
            continue;
        }
        /* 1e4 is a fine way to write a token count; 1.5 is not an integer. */
        double x = json_is_number(v) ? json_number_value(v) : (double)NAN;
        if (sl_proto_set(s, o->id, x, field, err, cap) != 0) return -1;
    }
    field[0] = '\0';
    return 0;
}

json_t *sl_proto_value_json(const sl_proto_spec *s, sl_proto_id id) {
    const sl_proto_option *o = sl_proto_option_at(id);
    char buf[64];
    if (!o) return json_null();
    switch (o->type) {
    case SL_PROTO_T_PATTERN: return json_string(sl_proto_pattern_text(s, buf, sizeof buf));
    case SL_PROTO_T_CHOICE:
        return json_string(sl_proto_choice_name(o, (int)s->value[id], buf, sizeof buf));
    case SL_PROTO_T_INT: return json_integer((json_int_t)s->value[id]);
    case SL_PROTO_T_REAL: return json_real(s->value[id]);
    }
    return json_null();
}

json_t *sl_proto_to_json(const sl_proto_spec *s, unsigned who) {
    json_t *j = json_object();
    for (size_t i = 0; i < SL_PROTO_COUNT; i++)
        if (s->given[i] && (options[i].who & who) && (!(who & SL_PROTO_FLAGGED) || options[i].flag))
            json_object_set_new(j, options[i].name, sl_proto_value_json(s, (sl_proto_id)i));
    return j;
}

void sl_proto_schema_bounds(const sl_proto_option *o, json_t *schema) {
    static const char *const keys[] = {"minimum", "exclusiveMinimum", "maximum",
                                       "exclusiveMaximum"};
    for (size_t k = 0; k < 4; k++)
        json_object_del(schema, keys[k]);
    json_object_set_new(schema, o->open & 1 ? "exclusiveMinimum" : "minimum",
                        o->type == SL_PROTO_T_INT ? json_integer((json_int_t)o->lo)
                                                  : json_real(o->lo));
    json_object_set_new(schema, o->open & 2 ? "exclusiveMaximum" : "maximum",
                        o->type == SL_PROTO_T_INT ? json_integer((json_int_t)o->hi)
                                                  : json_real(o->hi));
}

json_t *sl_proto_schema(unsigned who, const char *description) {
    json_t *props = json_object();
    for (size_t i = 0; i < SL_PROTO_COUNT; i++) {
        const sl_proto_option *o = &options[i];
        if (!(o->who & who)) continue;
        char d[64], text[512];
        snprintf(text, sizeof text, "%s; unit %s (trainer default %s)", o->help, o->unit,
                 sl_proto_default_text(o, d, sizeof d));
        json_t *p = json_pack("{s:s, s:s}", "type",
                              o->type == SL_PROTO_T_INT    ? "integer"
                              : o->type == SL_PROTO_T_REAL ? "number"
                                                           : "string",
                              "description", text);
        if (o->type == SL_PROTO_T_INT || o->type == SL_PROTO_T_REAL) {
            sl_proto_schema_bounds(o, p);
        } else if (o->type == SL_PROTO_T_CHOICE) {
            json_t *e = json_array();
            for (int c = 0; c < choice_count(o); c++) {
                char name[32];
                json_array_append_new(e,
                                      json_string(sl_proto_choice_name(o, c, name, sizeof name)));
            }
            json_object_set_new(p, "enum", e);
        }
        json_object_set_new(props, o->name, p);
    }
    return json_pack("{s:s, s:b, s:s, s:o}", "type", "object", "additionalProperties", 0,
                     "description", description, "properties", props);
}

/* ------------------------------------------------------------------ argv */

void sl_proto_to_argv(const sl_proto_spec *s, sl_proto_argv *out) {
    out->argc = 0;
    int structured = s->given[SL_PROTO_PATTERN] && s->pattern_m;
    for (size_t i = 0; i < SL_PROTO_COUNT; i++) {
        const sl_proto_option *o = &options[i];
        if (!s->given[i] || !o->flag) continue;
        if (i == SL_PROTO_PATTERN && !structured) continue; /* --sparsity says it */
        if (i == SL_PROTO_SPARSITY && structured) continue; /* 1 - n/m, from the pattern */
        char v[48];
        if (o->type == SL_PROTO_T_PATTERN)
            sl_proto_pattern_text(s, v, sizeof v);
        else if (o->type == SL_PROTO_T_CHOICE)
            sl_proto_choice_name(o, (int)s->value[i], v, sizeof v);
        else if (o->type == SL_PROTO_T_INT)
            snprintf(v, sizeof v, "%.0f", s->value[i]);
        else
            snprintf(v, sizeof v, "%.17g", s->value[i]);
        snprintf(out->buf[out->argc], SL_PROTO_ARG_MAX, "--%s=%s", o->flag, v);
        out->argv[out->argc] = out->buf[out->argc];
        out->argc++;
    }
    out->argv[out->argc] = NULL;
}

void sl_proto_command_build(const sl_proto_spec *s, const char *prog, unsigned threads,
                            const char *corpus, sl_proto_command *out) {
    static char progress_off[] = "--progress=off", corpus_flag[] = "--corpus";
    sl_proto_spec spec = *s;
    if (!spec.given[SL_PROTO_THREADS] || spec.value[SL_PROTO_THREADS] == 0) {
        spec.value[SL_PROTO_THREADS] = threads ? threads : 1;
        spec.given[SL_PROTO_THREADS] = 1;
    }
    sl_proto_to_argv(&spec, &out->options);
    int argc = 0;
    out->argv[argc++] = (char *)(uintptr_t)prog; /* execv's argv is not const; nothing writes it */
    for (int i = 0; i < out->options.argc; i++)
        out->argv[argc++] = out->options.argv[i];
    out->argv[argc++] = progress_off;
    if (corpus && corpus[0]) { /* a path of the machine's own, as its own word */
        out->argv[argc++] = corpus_flag;
        out->argv[argc++] = (char *)(uintptr_t)corpus;
    }
    out->argv[argc] = NULL;
    out->argc = argc;
}

int sl_proto_from_argv(sl_proto_spec *s, int argc, char *const *argv, char *err, size_t cap) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, cap, "unexpected argument '%.64s' (options start with --)", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const sl_proto_option *o = sl_proto_find(a, len, 1);
        if (!o) {
            snprintf(err, cap, "unknown option '%.64s'", argv[i]);
            return -1;
        }
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v) {
            snprintf(err, cap, "--%s needs a value", o->flag);
            return -1;
        }
        if (sl_proto_set_text(s, o, v, err, cap) != 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- events */

static const char *const event_names[] = {"start", "progress", "result", "error"};

static int field_ok(const char *type, json_t *v) {
    if (!strcmp(type, "integer")) return json_is_integer(v);
    if (!strcmp(type, "number")) return json_is_number(v);
    if (!strcmp(type, "number or null")) return json_is_number(v) || json_is_null(v);
    return json_is_string(v);
}

int sl_proto_event_parse(const char *line, size_t len, sl_proto_event *ev, char *err, size_t cap) {
    ev->kind = SL_PROTO_EV_OTHER;
    ev->body = NULL;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    json_error_t jerr;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        snprintf(err, cap, "not a JSON object: %.100s", j ? "another value" : jerr.text);
        json_decref(j);
        return -1;
    }
    const char *kind = json_string_value(json_object_get(j, "event"));
    if (!kind) {
        snprintf(err, cap, "no \"event\" member");
        json_decref(j);
        return -1;
    }
    for (int k = 0; k < 4; k++)
        if (!strcmp(kind, event_names[k])) ev->kind = (sl_proto_event_kind)k;
    const char *status = json_string_value(json_object_get(j, "status"));
    int completed = status && !strcmp(status, "completed");
    for (size_t i = 0; ev->kind != SL_PROTO_EV_OTHER && i < NFIELDS; i++) {
        const sl_proto_field *f = &fields[i];
        if (strcmp(f->event, kind) != 0) continue;
        json_t *v = json_object_get(j, f->name);
        int needed = f->required == 1 || (f->required == 2 && completed);
        if (!v && !needed) continue;
        /* A completed result's figures are what gets fitted: numbers, not null. */
        if (!v || !field_ok(f->type, v) || (needed && f->required == 2 && !json_is_number(v))) {
            snprintf(err, cap, "%s event: %s must be %s (%s)", kind, f->name,
                     f->required == 2 ? "a number in a completed result" : f->type, f->unit);
            json_decref(j);
            return -1;
        }
    }
    if (ev->kind == SL_PROTO_EV_RESULT && strcmp(status, "completed") != 0 &&
        strcmp(status, "interrupted") != 0 && strcmp(status, "diverged") != 0) {
        snprintf(err, cap, "result event: status must be completed, interrupted or diverged");
        json_decref(j);
        return -1;
    }
    json_object_del(j, "event");
    ev->body = j;
    return 0;
}

void sl_proto_log_init(sl_proto_log *log) {
    memset(log, 0, sizeof *log);
}

static void replace(json_t **slot, json_t *v) {
    json_decref(*slot);
    *slot = json_incref(v);
}

void sl_proto_log_line(sl_proto_log *log, const char *line, size_t len) {
    sl_proto_event ev;
    char why[160];
    if (sl_proto_event_parse(line, len, &ev, why, sizeof why) != 0) {
        if (!log->bad_lines++) snprintf(log->bad_why, sizeof log->bad_why, "%s", why);
        return;
    }
    if (!log->evals) log->evals = json_array();
    switch (ev.kind) {
    case SL_PROTO_EV_START: log->started = 1; break;
    case SL_PROTO_EV_PROGRESS: {
        json_t *p = json_object();
        json_t *prev_val = json_object_get(log->progress, "val_loss");
        for (size_t i = 0; i < NFIELDS; i++) {
            json_t *x = json_object_get(ev.body, fields[i].name);
            if (!strcmp(fields[i].event, "progress") && json_is_number(x))
                json_object_set(p, fields[i].name, x);
        }
        json_t *val = json_object_get(ev.body, "val_loss");
        if (json_is_number(val))
            json_array_append_new(log->evals,
                                  json_pack("{s:O, s:O, s:O}", "step",
                                            json_object_get(ev.body, "step"), "tokens",
                                            json_object_get(ev.body, "tokens"), "val_loss", val));
        else if (prev_val) /* the latest validation loss, even when this step had none */
            json_object_set(p, "val_loss", prev_val);
        json_decref(log->progress);
        log->progress = p;
        break;
    }
    case SL_PROTO_EV_RESULT: replace(&log->result, ev.body); break;
    case SL_PROTO_EV_ERROR: replace(&log->error, ev.body); break;
    case SL_PROTO_EV_OTHER: break;
    }
    json_decref(ev.body);
}

#define LOG_MAX (16u << 20) /* a run's log is ~100 lines; more is not read */

int sl_proto_log_read(const char *path, sl_proto_log *log) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0 && total < LOG_MAX) {
        total += (size_t)n;
        if (line[n - 1] != '\n') break; /* still being written */
        sl_proto_log_line(log, line, (size_t)n);
    }
    free(line);
    fclose(f);
    return 0;
}

json_t *sl_proto_log_progress(const sl_proto_log *log) {
    if (!log->progress) return NULL;
    json_t *p = json_deep_copy(log->progress);
    json_object_set_new(p, "evaluations", log->evals ? json_deep_copy(log->evals) : json_array());
    return p;
}

void sl_proto_log_free(sl_proto_log *log) {
    json_decref(log->progress);
    json_decref(log->evals);
    json_decref(log->result);
    json_decref(log->error);
    sl_proto_log_init(log);
}

/* -------------------------------------------------------------- outcomes */

static const char *const failure_names[SL_PROTO_FAILURE_COUNT] = {
    "succeeded",           "refused",  "diverged", "out_of_memory", "lost",
    "backend_unavailable", "timed_out"};

const char *sl_proto_failure_name(sl_proto_failure f) {
    return (unsigned)f < SL_PROTO_FAILURE_COUNT ? failure_names[f] : "unknown";
}

int sl_proto_failure_parse(const char *text, sl_proto_failure *out) {
    for (int i = 0; text && i < SL_PROTO_FAILURE_COUNT; i++)
        if (!strcmp(text, failure_names[i])) {
            *out = (sl_proto_failure)i;
            return 0;
        }
    return -1;
}

sl_proto_failure sl_proto_outcome(const sl_proto_log *log, int exit_status, const char *how,
                                  char *reason, size_t cap) {
    const char *status = json_string_value(json_object_get(log->result, "status"));
    long long step = (long long)json_integer_value(json_object_get(log->result, "step"));
    sl_proto_failure f;
    reason[0] = '\0';
    if (status && !strcmp(status, "completed")) {
        f = SL_PROTO_SUCCEEDED;
    } else if (status && !strcmp(status, "diverged")) {
        f = SL_PROTO_DIVERGED;
        snprintf(reason, cap, "training diverged (non-finite loss) after step %lld", step);
    } else if (status) { /* interrupted: someone else stopped it */
        const char *sig = json_string_value(json_object_get(log->result, "signal"));
        f = SL_PROTO_LOST;
        snprintf(reason, cap, "the trainer was stopped (%s) after step %lld", sig ? sig : "signal",
                 step);
    } else if (log->error) {
        const char *code = json_string_value(json_object_get(log->error, "code"));
        const char *msg = json_string_value(json_object_get(log->error, "message"));
        /* Out of memory may pass; bad options, corpus or device will not. */
        f = code && !strcmp(code, "memory") ? SL_PROTO_OUT_OF_MEMORY : SL_PROTO_REFUSED;
        snprintf(reason, cap, "the trainer refused the run (%s): %.240s", code ? code : "error",
                 msg ? msg : "");
    } else if (exit_status == SL_PROTO_EXIT_REFUSED) {
        f = SL_PROTO_REFUSED;
        snprintf(reason, cap, "the trainer refused the run without an error event (%s)", how);
    } else {
        f = SL_PROTO_LOST;
        snprintf(reason, cap, "the trainer process ended without a result (%s)", how);
        if (log->bad_lines) {
            size_t used = strlen(reason);
            snprintf(reason + used, cap - used, "; %zu line(s) were not protocol events: %.100s",
                     log->bad_lines, log->bad_why);
        }
    }
    /* It is stored, logged and answered as JSON: a truncation may cut a
     * character, and jansson's error texts quote the line's raw bytes. */
    sl_text_utf8_repair(reason);
    return f;
}
