/*
 * test_proto.c - the run protocol (protocol/sl_proto.h): the table, specs
 * through argv and JSON and back, the event parser on good and bad lines,
 * the failure classes, and that docs/trainer-protocol.md and the
 * TrainerOptions schema of api/openapi.json say what the table says.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sl_proto.h"

/* ---- the table */

Test(proto_table, every_row_is_complete_and_its_default_in_bounds) {
    for (int i = 0; i < SL_PROTO_COUNT; i++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)i);
        cr_assert_eq((int)o->id, i, "row %d is out of order", i);
        cr_assert(o->name && o->name[0] && o->unit && o->unit[0] && o->help && o->help[0],
                  "row %s lacks a name, unit or help", o->name);
        cr_assert(o->who == SL_PROTO_GRID || o->who == SL_PROTO_SWEEP ||
                      o->who == SL_PROTO_WORKER || o->who == SL_PROTO_TRAINER,
                  "%s: one owner", o->name);
        cr_assert_eq(sl_proto_find(o->name, strlen(o->name), 0), o, "%s: names are unique",
                     o->name);
        if (o->flag) cr_assert_eq(sl_proto_find(o->flag, strlen(o->flag), 1), o);
        if (o->type == SL_PROTO_T_PATTERN) continue;
        sl_proto_spec s;
        char err[256];
        sl_proto_spec_init(&s);
        cr_assert_eq(sl_proto_set(&s, o->id, o->dflt, NULL, err, sizeof err), 0, "%s", err);
    }
    cr_assert_null(sl_proto_option_at(SL_PROTO_COUNT));
}

Test(proto_table, bounds_refuse_what_they_say) {
    sl_proto_spec s;
    char err[256];
    sl_proto_spec_init(&s);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_LAYERS, 65, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "layers must be an integer in [1, 64]");
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_LAYERS, 2.5, NULL, err, sizeof err), -1);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_SPARSITY, 1.0, "grid.sparsities[0]", err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "grid.sparsities[0] must be a number in [0, 1)");
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_LR, 0.0, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "lr must be a number in (0, 1]");
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_LR, (double)NAN, NULL, err, sizeof err), -1);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_DEVICE, 2, NULL, err, sizeof err), -1);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_DEVICE, 1, NULL, err, sizeof err), 0);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_LR, 1.0, NULL, err, sizeof err), 0);
    cr_assert(s.given[SL_PROTO_LR] && s.given[SL_PROTO_DEVICE] && !s.given[SL_PROTO_LAYERS]);
    cr_assert_eq(sl_proto_set_pattern(&s, 4, 4, NULL, err, sizeof err), -1);
    cr_assert_eq(sl_proto_set_pattern(&s, 2, 4, NULL, err, sizeof err), 0);
}

/* A spec with every option given, each at a value other than its default. */
static void full_spec(sl_proto_spec *s) {
    char err[256];
    sl_proto_spec_init(s);
    for (int i = 0; i < SL_PROTO_COUNT; i++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)i);
        if (o->type == SL_PROTO_T_PATTERN) {
            cr_assert_eq(sl_proto_set_pattern(s, 2, 4, NULL, err, sizeof err), 0);
            continue;
        }
        double v = o->type == SL_PROTO_T_CHOICE ? 1
                   : o->type == SL_PROTO_T_INT  ? floor((o->lo + o->hi) / 3)
                                                : o->lo + (o->hi - o->lo) / 3.0;
        cr_assert_eq(sl_proto_set(s, o->id, v, NULL, err, sizeof err), 0, "%s", err);
    }
}

static void assert_same(const sl_proto_spec *a, const sl_proto_spec *b, unsigned who) {
    for (int i = 0; i < SL_PROTO_COUNT; i++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)i);
        if (!(o->who & who)) continue;
        cr_assert_eq(a->given[i], b->given[i], "%s: given", o->name);
        cr_assert_eq(a->value[i], b->value[i], "%s: %.17g vs %.17g", o->name, a->value[i],
                     b->value[i]);
    }
    if (!(who & SL_PROTO_GRID)) return;
    cr_assert_eq(a->pattern_n, b->pattern_n);
    cr_assert_eq(a->pattern_m, b->pattern_m);
}

Test(proto_argv, round_trip_of_every_trainer_option) {
    sl_proto_spec s, back;
    sl_proto_argv argv;
    char err[256];
    full_spec(&s);
    sl_proto_to_argv(&s, &argv);
    sl_proto_spec_init(&back);
    cr_assert_eq(sl_proto_from_argv(&back, argv.argc, argv.argv, err, sizeof err), 0, "%s", err);
    /* What has no flag (the runner's own) is not on a command line; with a
     * pattern, sparsity is 1 - n/m and is left off too. */
    for (int i = 0; i < SL_PROTO_COUNT; i++) {
        const sl_proto_option *o = sl_proto_option_at((sl_proto_id)i);
        int expect = o->flag && i != SL_PROTO_SPARSITY;
        cr_assert_eq(back.given[i], expect, "%s", o->name);
        if (expect && o->type != SL_PROTO_T_PATTERN)
            cr_assert_eq(back.value[i], s.value[i], "%s", o->name);
    }
    cr_assert_eq(back.pattern_n, 2);
    cr_assert_eq(back.pattern_m, 4);
    cr_assert_null(argv.argv[argv.argc]);

    sl_proto_spec u;
    sl_proto_spec_init(&u);
    cr_assert_eq(sl_proto_set(&u, SL_PROTO_SPARSITY, 0.5, NULL, err, sizeof err), 0);
    cr_assert_eq(sl_proto_set_pattern(&u, 0, 0, NULL, err, sizeof err), 0);
    sl_proto_to_argv(&u, &argv);
    cr_assert_eq(argv.argc, 1, "unstructured: --sparsity only");
    cr_assert_str_eq(argv.argv[0], "--sparsity=0.5");
}

Test(proto_argv, refuses_unknown_flags_bad_values_and_missing_values) {
    sl_proto_spec s;
    char err[256];
    sl_proto_spec_init(&s);
    char w0[] = "--wings=2", b0[] = "--layers", b1[] = "x", m0[] = "--seed", d0[] = "--device=tpu",
         p0[] = "--pattern=4:2", o0[] = "--device", o1[] = "cuda";
    char *unknown[] = {w0}, *bad[] = {b0, b1}, *missing[] = {m0}, *dev[] = {d0}, *pat[] = {p0},
         *ok[] = {o0, o1};
    cr_assert_eq(sl_proto_from_argv(&s, 1, unknown, err, sizeof err), -1);
    cr_assert_eq(sl_proto_from_argv(&s, 2, bad, err, sizeof err), -1);
    cr_assert_str_eq(err, "--layers: 'x' is not an integer in [1, 64]");
    cr_assert_eq(sl_proto_from_argv(&s, 1, missing, err, sizeof err), -1);
    cr_assert_eq(sl_proto_from_argv(&s, 1, dev, err, sizeof err), -1);
    cr_assert_str_eq(err, "--device: 'tpu' is not one of \"cpu\" \"cuda\"");
    cr_assert_eq(sl_proto_from_argv(&s, 1, pat, err, sizeof err), -1);
    cr_assert_eq(sl_proto_from_argv(&s, 2, ok, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.value[SL_PROTO_DEVICE], 1);
}

Test(proto_argv, the_command_line_of_a_run) {
    sl_proto_spec s;
    sl_proto_command c;
    char err[256];
    sl_proto_spec_init(&s);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_LAYERS, 2, NULL, err, sizeof err), 0);
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_TIME_LIMIT, 60, NULL, err, sizeof err), 0);
    sl_proto_command_build(&s, "/bin/trainer", 3, "/data/my corpus.txt", &c);
    const char *want[] = {"/bin/trainer", "--layers=2",          "--threads=3", "--progress=off",
                          "--corpus",     "/data/my corpus.txt", NULL};
    for (int i = 0; want[i]; i++)
        cr_assert_str_eq(c.argv[i], want[i], "word %d", i);
    cr_assert_eq(c.argc, 6, "time_limit is the runner's: not on the command line");
    cr_assert_null(c.argv[c.argc]);
    /* The spec's own threads win; no corpus, no --corpus. */
    cr_assert_eq(sl_proto_set(&s, SL_PROTO_THREADS, 8, NULL, err, sizeof err), 0);
    sl_proto_command_build(&s, "t", 3, "", &c);
    cr_assert_eq(c.argc, 4);
    cr_assert_str_eq(c.argv[2], "--threads=8");
}

Test(proto_json, round_trip_per_owner) {
    sl_proto_spec s, back;
    char err[256], field[96];
    full_spec(&s);
    unsigned owners[] = {SL_PROTO_GRID, SL_PROTO_SWEEP, SL_PROTO_WORKER, SL_PROTO_TRAINER,
                         SL_PROTO_ANY};
    for (size_t k = 0; k < sizeof owners / sizeof owners[0]; k++) {
        json_t *j = sl_proto_to_json(&s, owners[k]);
        char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_t *again = json_loads(text, 0, NULL);
        sl_proto_spec_init(&back);
        cr_assert_eq(
            sl_proto_from_json(&back, again, owners[k], "t", field, sizeof field, err, sizeof err),
            0, "%s", err);
        assert_same(&s, &back, owners[k]);
        if (!(owners[k] & SL_PROTO_GRID)) cr_assert_eq(back.pattern_m, 0);
        free(text);
        json_decref(j);
        json_decref(again);
    }
}

Test(proto_json, refuses_with_the_field_named) {
    sl_proto_spec s;
    char err[256], field[96];
    struct {
        const char *body, *field, *err;
    } cases[] = {
        {"{\"lr\": 0}", "trainer.lr", "trainer.lr must be a number in (0, 1]"},
        {"{\"batch\": 1.5}", "trainer.batch", "trainer.batch must be an integer in [1, 4096]"},
        {"{\"batch\": \"4\"}", "trainer.batch", "trainer.batch must be an integer in [1, 4096]"},
        {"{\"layers\": 2}", "trainer.layers", "trainer.layers is not an option here"},
        {"{\"wings\": 2}", "trainer.wings", "trainer.wings is not an option here"},
        {"{\"device\": 1}", "trainer.device", "trainer.device must be one of \"cpu\" \"cuda\""},
        {"{\"device\": \"tpu\"}", "trainer.device",
         "trainer.device must be one of \"cpu\" \"cuda\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads(cases[i].body, 0, NULL);
        sl_proto_spec_init(&s);
        cr_assert_eq(sl_proto_from_json(&s, j, SL_PROTO_SWEEP, "trainer", field, sizeof field, err,
                                        sizeof err),
                     -1, "%s", cases[i].body);
        cr_assert_str_eq(field, cases[i].field, "%s", cases[i].body);
        cr_assert_str_eq(err, cases[i].err, "%s", cases[i].body);
        json_decref(j);
    }
}

/* ---- events */

static int parse(const char *line, sl_proto_event *ev, char *err) {
    return sl_proto_event_parse(line, strlen(line), ev, err, 256);
}

Test(proto_events, good_lines) {
    sl_proto_event ev;
    char err[256];
    cr_assert_eq(parse("{\"event\":\"start\",\"layers\":2}\n", &ev, err), 0, "%s", err);
    cr_assert_eq(ev.kind, SL_PROTO_EV_START);
    cr_assert_null(json_object_get(ev.body, "event"), "event is dropped");
    json_decref(ev.body);
    cr_assert_eq(
        parse("{\"event\":\"progress\",\"step\":3,\"tokens\":768,\"val_loss\":null}", &ev, err), 0,
        "%s", err);
    cr_assert_eq(ev.kind, SL_PROTO_EV_PROGRESS);
    json_decref(ev.body);
    cr_assert_eq(parse("{\"event\":\"result\",\"status\":\"completed\",\"tokens\":8192,"
                       "\"val_loss\":2.5,\"nonzeros\":1000}",
                       &ev, err),
                 0, "%s", err);
    cr_assert_eq(ev.kind, SL_PROTO_EV_RESULT);
    json_decref(ev.body);
    cr_assert_eq(
        parse("{\"event\":\"result\",\"status\":\"diverged\",\"val_loss\":null}", &ev, err), 0,
        "%s", err);
    json_decref(ev.body);
    cr_assert_eq(parse("{\"event\":\"error\",\"code\":\"usage\",\"message\":\"no\"}", &ev, err), 0);
    cr_assert_eq(ev.kind, SL_PROTO_EV_ERROR);
    json_decref(ev.body);
    cr_assert_eq(parse("{\"event\":\"dry_run\"}", &ev, err), 0);
    cr_assert_eq(ev.kind, SL_PROTO_EV_OTHER);
    json_decref(ev.body);
}

Test(proto_events, bad_lines) {
    const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"step\":1}",
        "{\"event\":7}",
        "{\"event\":\"progress\",\"tokens\":10}",
        "{\"event\":\"progress\",\"step\":1.5,\"tokens\":10}",
        "{\"event\":\"progress\",\"step\":1,\"tokens\":10,\"train_loss\":\"low\"}",
        "{\"event\":\"result\"}",
        "{\"event\":\"result\",\"status\":\"finished\"}",
        "{\"event\":\"result\",\"status\":\"completed\",\"tokens\":1,\"nonzeros\":1}",
        ("{\"event\":\"result\",\"status\":\"completed\",\"tokens\":1,\"nonzeros\":1,"
         "\"val_loss\":null}"),
        "{\"event\":\"error\",\"code\":\"usage\"}",
        "{\"event\":\"start\",\"event\":\"start\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_proto_event ev;
        char err[256] = "";
        cr_assert_eq(parse(bad[i], &ev, err), -1, "accepted: %s", bad[i]);
        cr_assert(err[0], "no reason for %s", bad[i]);
        cr_assert_null(ev.body);
    }
}

static void log_lines(sl_proto_log *log, const char *const *lines, size_t n) {
    for (size_t i = 0; i < n; i++)
        sl_proto_log_line(log, lines[i], strlen(lines[i]));
}

Test(proto_events, the_log_keeps_the_latest_validation_loss_and_every_evaluation) {
    const char *lines[] = {
        "{\"event\":\"start\"}",
        "{\"event\":\"progress\",\"step\":1,\"tokens\":256,\"val_loss\":3.0,\"extra\":1}",
        "garbage",
        "{\"event\":\"progress\",\"step\":2,\"tokens\":512,\"train_loss\":2.9}",
    };
    sl_proto_log log;
    sl_proto_log_init(&log);
    log_lines(&log, lines, 4);
    cr_assert(log.started);
    cr_assert_eq(log.bad_lines, 1);
    json_t *p = sl_proto_log_progress(&log);
    cr_assert_eq(json_integer_value(json_object_get(p, "step")), 2);
    cr_assert_float_eq(json_number_value(json_object_get(p, "val_loss")), 3.0, 1e-12);
    cr_assert_null(json_object_get(p, "extra"), "only the table's fields are kept");
    cr_assert_eq(json_array_size(json_object_get(p, "evaluations")), 1);
    json_decref(p);
    sl_proto_log_free(&log);
}

Test(proto_events, a_line_still_being_written_is_left_for_later) {
    char path[] = "/tmp/test_proto_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"event\":\"start\"}\n{\"event\":\"result\",\"status\":\"comp", f);
    fclose(f);
    sl_proto_log log;
    sl_proto_log_init(&log);
    cr_assert_eq(sl_proto_log_read(path, &log), 0);
    cr_assert(log.started);
    cr_assert_null(log.result);
    cr_assert_eq(log.bad_lines, 0);
    sl_proto_log_free(&log);
    unlink(path);
    cr_assert_eq(sl_proto_log_read(path, &log), -1);
}

/* ---- failure classes */

static sl_proto_failure judge(const char *line, int exit_status, char *reason) {
    sl_proto_log log;
    sl_proto_log_init(&log);
    if (line) sl_proto_log_line(&log, line, strlen(line));
    sl_proto_failure f = sl_proto_outcome(&log, exit_status, "exit status 9", reason, 320);
    sl_proto_log_free(&log);
    return f;
}

Test(proto_outcome, every_class_from_what_the_trainer_left) {
    char r[320];
    cr_assert_eq(judge("{\"event\":\"result\",\"status\":\"completed\",\"tokens\":1,"
                       "\"nonzeros\":1,\"val_loss\":2}",
                       0, r),
                 SL_PROTO_SUCCEEDED);
    cr_assert_eq(judge("{\"event\":\"result\",\"status\":\"diverged\",\"step\":7}", 1, r),
                 SL_PROTO_DIVERGED);
    cr_assert_str_eq(r, "training diverged (non-finite loss) after step 7");
    cr_assert_eq(
        judge("{\"event\":\"result\",\"status\":\"interrupted\",\"signal\":\"SIGTERM\"}", 143, r),
        SL_PROTO_LOST);
    cr_assert_eq(judge("{\"event\":\"error\",\"code\":\"memory\",\"message\":\"m\"}", 1, r),
                 SL_PROTO_OUT_OF_MEMORY);
    cr_assert_eq(judge("{\"event\":\"error\",\"code\":\"usage\",\"message\":\"m\"}", 2, r),
                 SL_PROTO_REFUSED);
    cr_assert_eq(judge(NULL, 2, r), SL_PROTO_REFUSED, "exit 2 without a line: refused");
    cr_assert_eq(judge(NULL, 137, r), SL_PROTO_LOST);
    cr_assert_str_eq(r, "the trainer process ended without a result (exit status 9)");
    for (int i = 0; i < SL_PROTO_FAILURE_COUNT; i++) {
        sl_proto_failure back;
        cr_assert_eq(sl_proto_failure_parse(sl_proto_failure_name((sl_proto_failure)i), &back), 0);
        cr_assert_eq((int)back, i);
    }
}

/* ---- the document and the OpenAPI schema agree with the table */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

Test(proto_doc, the_document_has_a_row_for_every_option_field_and_class) {
    char *doc = slurp(SL_PROTO_DOC);
    char row[640];
    for (int i = 0; i < SL_PROTO_COUNT; i++) {
        sl_proto_doc_option_row(sl_proto_option_at((sl_proto_id)i), row, sizeof row);
        cr_expect_not_null(strstr(doc, row),
                           "docs/trainer-protocol.md lacks the row (scripts/protocol-sync.sh "
                           "writes it)\n%s",
                           row);
    }
    size_t n;
    const sl_proto_field *f = sl_proto_fields(&n);
    for (size_t i = 0; i < n; i++) {
        sl_proto_doc_field_row(&f[i], row, sizeof row);
        cr_expect_not_null(strstr(doc, row),
                           "docs/trainer-protocol.md lacks the row (scripts/protocol-sync.sh "
                           "writes it)\n%s",
                           row);
    }
    for (int i = 0; i < SL_PROTO_FAILURE_COUNT; i++) {
        char cls[64];
        snprintf(cls, sizeof cls, "| `%s` |", sl_proto_failure_name((sl_proto_failure)i));
        cr_expect_not_null(strstr(doc, cls), "docs/trainer-protocol.md lacks the class %s", cls);
    }
    free(doc);
}

/* The schema at path (properties joined by '.', "[]" for items) in schema. */
static json_t *schema_at(json_t *schema, const char *path) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *seg = strtok(buf, "."); seg && schema; seg = strtok(NULL, ".")) {
        size_t n = strlen(seg);
        int items = n > 2 && !strcmp(seg + n - 2, "[]");
        if (items) seg[n - 2] = '\0';
        schema = json_object_get(json_object_get(schema, "properties"), seg);
        if (items) schema = json_object_get(schema, "items");
    }
    return schema;
}

Test(proto_doc, openapi_trainer_options_are_the_tables_sweep_options) {
    json_error_t jerr;
    json_t *api = json_load_file(SL_OPENAPI_PATH, 0, &jerr);
    cr_assert_not_null(api, "%s", jerr.text);
    json_t *have = json_object_get(json_object_get(json_object_get(api, "components"), "schemas"),
                                   "TrainerOptions");
    json_t *want = sl_proto_schema(SL_PROTO_SWEEP, SL_PROTO_SCHEMA_DESCRIPTION);
    char *text = json_dumps(want, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    cr_expect(json_equal(have, want),
              "api/openapi.json's components.schemas.TrainerOptions is not the table's "
              "(scripts/protocol-sync.sh writes it); it should read\n%s",
              text);
    free(text);
    json_decref(want);
    json_t *schemas = json_object_get(json_object_get(api, "components"), "schemas");
#define SL_PROTO_GRID_CHECK(schema, member, id)                                                    \
    {                                                                                              \
        json_t *node = schema_at(json_object_get(schemas, schema), member);                        \
        cr_assert_not_null(node, "openapi.json has no %s.%s", schema, member);                     \
        json_t *fixed = json_deep_copy(node);                                                      \
        sl_proto_schema_bounds(sl_proto_option_at(SL_PROTO_##id), fixed);                          \
        cr_expect(json_equal(node, fixed),                                                         \
                  "openapi.json's %s.%s does not state the table's bounds of %s "                  \
                  "(scripts/protocol-sync.sh writes them)",                                        \
                  schema, member, sl_proto_option_at(SL_PROTO_##id)->name);                        \
        json_decref(fixed);                                                                        \
    }
    SL_PROTO_OPENAPI_GRID(SL_PROTO_GRID_CHECK)
#undef SL_PROTO_GRID_CHECK
    json_decref(api);
}

/* 24 x 1024 at context 1024 and batch 8, 16 heads, bytes. */
static const sl_proto_size big = {24, 1024, 16, 1024, 8, 256};

Test(proto_size, a_gpu_sweep_takes_24_x_1024_at_context_1024_and_a_cpu_one_does_not) {
    char err[256];
    cr_assert_eq(sl_proto_size_check(&big, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_proto_size_check(&big, 0, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "block parameters"), "%s", err);
    cr_assert_not_null(strstr(err, "cpu"), "%s", err);
    /* a small model passes on both; one past the activations on cuda fails on both */
    sl_proto_size small = {2, 96, 4, 64, 4, 256};
    cr_assert_eq(sl_proto_size_check(&small, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sl_proto_size_check(&small, 1, err, sizeof err), 0, "%s", err);
    sl_proto_size wide = big;
    wide.batch = 16; /* 1.3e10 floats */
    cr_assert_gt(sl_proto_activations(&wide), SL_PROTO_MAX_ACTIVATIONS);
    cr_assert_eq(sl_proto_size_check(&wide, 1, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "activations"), "%s", err);
    cr_assert_eq(sl_proto_size_fits(&wide, err, sizeof err), -1);
    cr_assert_eq(sl_proto_size_fits(&big, err, sizeof err), 0, "%s", err);
    sl_proto_size vocab = small;
    vocab.vocab = 65536;
    vocab.batch = 4096;
    vocab.context = 4096; /* matrices of 1e9 to 1e12 elements: past BLAS's int */
    cr_assert_eq(sl_proto_size_fits(&vocab, err, sizeof err), -1);
}

Test(proto_size, the_limits_are_one_row_per_device_and_the_document_states_them) {
    static const struct {
        const char *dev;
        double params, acts;
    } rows[] = {
#define ROW(dev, params, acts) {#dev, params, acts},
        SL_PROTO_SWEEP_LIMITS(ROW)
#undef ROW
    };
    const sl_proto_option *d = sl_proto_option_at(SL_PROTO_DEVICE);
    char *doc = slurp(SL_PROTO_DOC);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char name[16], row[128];
        sl_proto_choice_name(d, (int)i, name, sizeof name);
        cr_assert_eq(strcasecmp(name, rows[i].dev), 0, "row %zu is %s, the choice %s", i,
                     rows[i].dev, name);
        snprintf(row, sizeof row, "| `%s` | %.3g | %.3g |", name, rows[i].params, rows[i].acts);
        cr_expect_not_null(strstr(doc, row), "docs/trainer-protocol.md lacks\n%s", row);
    }
    free(doc);
}

Test(proto_spec, a_precision_past_fp32_needs_cuda) {
    sl_proto_spec s;
    char field[64], err[256];
    sl_proto_spec_init(&s);
    cr_assert_eq(
        sl_proto_set_text(&s, sl_proto_option_at(SL_PROTO_PRECISION), "bf16", err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(sl_proto_spec_check(&s, "trainer", field, sizeof field, err, sizeof err), -1);
    cr_assert_str_eq(field, "trainer.precision");
    cr_assert_not_null(strstr(err, "bf16"), "%s", err);
    cr_assert_eq(
        sl_proto_set_text(&s, sl_proto_option_at(SL_PROTO_DEVICE), "cuda", err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(sl_proto_spec_check(&s, "trainer", field, sizeof field, err, sizeof err), 0, "%s",
                 err);
    sl_proto_spec_init(&s); /* auto and fp32 are the CPU's */
    cr_assert_eq(
        sl_proto_set_text(&s, sl_proto_option_at(SL_PROTO_PRECISION), "fp32", err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(sl_proto_spec_check(&s, "", field, sizeof field, err, sizeof err), 0, "%s", err);
}
