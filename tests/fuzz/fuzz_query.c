/*
 * fuzz_query.c - libFuzzer harness of the query-parameter parsers: numbers,
 * integers, lists, n:m patterns and law names (sl_parse.h), the cost model,
 * budget, pattern lists and spans of planning queries (sl_query.h), the
 * upload options and Content-Type (sl_dataset.h), and the names of units,
 * sources, backends and formats.
 *
 * Input: a selector byte, then the parameter texts separated by '\n' (a
 * query value can hold any other byte once percent-decoded). A text "~", or
 * one past the last, is a parameter not given (NULL). Selectors: d double,
 * n number, i int, l number list, p pattern, w law name, c cost model,
 * b budget, P pattern list, s span, o upload option, t Content-Type,
 * k names, h hardware (hardware, peak_flops, mfu, price_per_hour,
 * sparse_speedup); any other byte picks one by its value.
 *
 * Properties: what parses is in range and reads back the same when written
 * out; what does not names a parameter with a printable message that
 * encodes as JSON.
 */
#include "sl_fuzz.h"

#include <math.h>
#include <string.h>

#include "sl_dataset.h"
#include "sl_law_record.h"
#include "sl_parse.h"
#include "sl_query.h"
#include "sl_run_spec.h"

#define MAX_FIELDS 6

static const char selectors[] = "dnilpwcbPsotkh";

/* Ranges a query parameter may be given; "selected" by a text's first byte. */
static const sl_range *pick_range(const char *text, int closed_only) {
    const sl_range *all[] = {&sl_range_amount, &sl_range_compute, &sl_range_sparsity,
                             &sl_range_positive, &sl_range_fraction};
    size_t n = closed_only ? 2 : sizeof all / sizeof all[0];
    return all[text && text[0] ? (unsigned char)text[0] % n : 0];
}

static void check_rc(int rc, const sl_error *err) {
    SL_FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
    if (rc) sl_fuzz_check_error(err);
}

static void fuzz_double(const char *text) {
    double v;
    if (sl_parse_double(text, &v) != 0) return;
    SL_FUZZ_CHECK(isfinite(v), "'%s' gives %g", text, v);
    SL_FUZZ_CHECK(strspn(text, "0123456789.eE+- ") == strlen(text), "'%s' parsed", text);
    char buf[40];
    double back;
    snprintf(buf, sizeof buf, "%.17g", v);
    SL_FUZZ_CHECK(sl_parse_double(buf, &back) == 0 && back == v, "'%s' gives %s, read as %.17g",
                  text, buf, back);
}

static void fuzz_number(const char *text, const char *range_text) {
    const sl_range *range = pick_range(range_text, 0);
    double v = 0;
    sl_error err;
    int rc = sl_parse_number("x", text, range, &v, &err);
    check_rc(rc, &err);
    if (rc == 0) SL_FUZZ_CHECK(sl_range_contains(range, v), "%.17g is not %s", v, range->what);
}

static void fuzz_int(const char *text, const char *bounds) {
    /* The bounds the handlers use: ids, law versions, curve points. */
    static const long lo[] = {1, 1, 2}, hi[] = {1L << 52, 1L << 40, 1000};
    size_t k = bounds && bounds[0] ? (unsigned char)bounds[0] % 3 : 0;
    long v = 0;
    sl_error err;
    int rc = sl_parse_int("id", text, lo[k], hi[k], &v, &err);
    check_rc(rc, &err);
    if (rc == 0) SL_FUZZ_CHECK(v >= lo[k] && v <= hi[k], "%ld not in [%ld, %ld]", v, lo[k], hi[k]);
}

static void fuzz_list(const char *text, const char *range_text) {
    const sl_range *range = pick_range(range_text, 0);
    double v[8];
    size_t n = 0;
    sl_error err;
    int rc = sl_parse_number_list("levels", text, range, v, 8, &n, &err);
    check_rc(rc, &err);
    if (rc) return;
    SL_FUZZ_CHECK(n >= 1 && n <= 8, "%zu values", n);
    for (size_t i = 0; i < n; i++) {
        SL_FUZZ_CHECK(sl_range_contains(range, v[i]), "%.17g is not %s", v[i], range->what);
        for (size_t j = 0; j < i; j++)
            SL_FUZZ_CHECK(v[i] != v[j], "%.17g twice", v[i]);
    }
}

static void fuzz_pattern(const char *text) {
    int n = 0, m = 0, n2 = 0, m2 = 0;
    sl_error err;
    int rc = sl_parse_pattern("pattern", text, &n, &m, &err);
    check_rc(rc, &err);
    if (rc) return;
    SL_FUZZ_CHECK(n >= 1 && n < m && m <= 64, "%d:%d", n, m);
    char buf[32];
    snprintf(buf, sizeof buf, "%d:%d", n, m);
    SL_FUZZ_CHECK(sl_parse_pattern("pattern", buf, &n2, &m2, &err) == 0 && n2 == n && m2 == m,
                  "%s does not read back", buf);
}

static void fuzz_law_name(const char *text) {
    if (!text || !sl_law_name_valid(text)) return;
    size_t n = strlen(text);
    SL_FUZZ_CHECK(n >= 1 && n <= SL_LAW_NAME_MAX, "a name of %zu bytes", n);
    SL_FUZZ_CHECK(strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n, "'%s'", text);
    SL_FUZZ_CHECK(strchr("._-", text[0]) == NULL, "'%s' starts with punctuation", text);
}

static void fuzz_cost(const char *model, const char *start, const char *end) {
    sl_cost cost;
    sl_error err;
    int rc = sl_query_cost_decode(model, start, end, &cost, &err);
    check_rc(rc, &err);
    if (rc) return;
    SL_FUZZ_CHECK(cost.model == SL_COST_DENSE || cost.model == SL_COST_GMP, "model %d", cost.model);
    SL_FUZZ_CHECK(cost.model == SL_COST_GMP || (!start && !end), "prune times for dense");
    SL_FUZZ_CHECK(cost.prune_start >= 0 && cost.prune_start <= cost.prune_end &&
                      cost.prune_end <= 1,
                  "prune from %g to %g", cost.prune_start, cost.prune_end);
}

static void fuzz_budget(const char *compute, const char *data, const char *unit,
                        const char *nonzeros_text) {
    sl_law_record rec = sl_builtin_laws[0];
    if (unit && unit[0]) rec.data_unit = (sl_data_unit)((unsigned char)unit[0] % SL_UNIT_COUNT);
    double nonzeros = 1e8;
    sl_error err;
    /* The handler reads nonzeros first, as an amount. */
    if (nonzeros_text &&
        sl_parse_number("nonzeros", nonzeros_text, &sl_range_amount, &nonzeros, &err) != 0)
        return;
    double dense = 0;
    int given_compute = -1;
    int rc = sl_query_budget_decode(compute, data, &rec, nonzeros, &dense, &given_compute, &err);
    check_rc(rc, &err);
    if (rc) return;
    SL_FUZZ_CHECK(given_compute == (compute != NULL), "given_compute %d", given_compute);
    SL_FUZZ_CHECK(!compute || rec.data_unit == SL_UNIT_TOKENS, "FLOPs for a law not in tokens");
    SL_FUZZ_CHECK(isfinite(dense) && dense > 0 && isfinite(6.0 * nonzeros * dense),
                  "D_dense %g at N %g", dense, nonzeros);
}

static void fuzz_patterns(const char *text) {
    if (!text) return; /* the handler decodes patterns= only when given */
    double s[SL_QUERY_MAX_PATTERNS];
    char names[SL_QUERY_MAX_PATTERNS][SL_QUERY_PATTERN_NAME_MAX];
    size_t n = 0;
    sl_error err;
    int rc = sl_query_patterns_decode(text, s, names, &n, &err);
    check_rc(rc, &err);
    if (rc) return;
    SL_FUZZ_CHECK(n >= 1 && n <= SL_QUERY_MAX_PATTERNS, "%zu patterns", n);
    for (size_t i = 0; i < n; i++) {
        int a = 0, b = 0;
        SL_FUZZ_CHECK(sl_parse_pattern("patterns", names[i], &a, &b, &err) == 0, "name '%s'",
                      names[i]);
        SL_FUZZ_CHECK(s[i] == 1.0 - (double)a / (double)b, "%s at sparsity %.17g", names[i], s[i]);
    }
}

static void fuzz_span(const char *lo_text, const char *hi_text, const char *range_text,
                      const char *dlo_text, const char *dhi_text) {
    /* The handlers' spans are amounts or compute; their defaults come from
     * a law and may be anything, inf and NaN included. */
    const sl_range *range = pick_range(range_text, 1);
    double dlo = dlo_text ? strtod(dlo_text, NULL) : 1e7;
    double dhi = dhi_text ? strtod(dhi_text, NULL) : 1e12;
    double lo = 0, hi = 0;
    sl_error err;
    int rc = sl_query_span_decode("data_min", lo_text, "data_max", hi_text, range, dlo, dhi, &lo,
                                  &hi, &err);
    check_rc(rc, &err);
    if (rc) return;
    SL_FUZZ_CHECK(lo < hi && sl_range_contains(range, lo) && sl_range_contains(range, hi),
                  "[%.17g, %.17g] in %s", lo, hi, range->what);
}

static void fuzz_option(const char *name, const char *text) {
    if (!name || !text) return; /* the handler passes both */
    sl_dataset_options opt, none;
    memset(&opt, 0, sizeof opt);
    memset(&none, 0, sizeof none);
    sl_error err;
    int rc = sl_dataset_option_set(&opt, name, text, &err);
    SL_FUZZ_CHECK(rc >= -1 && rc <= 1, "rc %d", rc);
    if (rc < 0) sl_fuzz_check_error(&err);
    if (rc != 0)
        SL_FUZZ_CHECK(memcmp(&opt, &none, sizeof opt) == 0, "%s changed the options", name);
    if (rc == 0 && strcmp(name, "columns") == 0)
        SL_FUZZ_CHECK(opt.columns == text, "columns not kept");
    if (rc == 0 && strcmp(name, "data_unit") == 0)
        SL_FUZZ_CHECK(opt.has_data_unit && strcmp(sl_data_unit_name(opt.data_unit), text) == 0,
                      "data_unit %s", text);
}

static void fuzz_content_type(const char *text) {
    sl_dataset_format fmt = SL_DATASET_FORMAT_COUNT;
    sl_error err;
    int rc = sl_dataset_format_from_content_type(text, &fmt, &err);
    check_rc(rc, &err);
    if (rc == 0)
        SL_FUZZ_CHECK((unsigned)fmt < SL_DATASET_FORMAT_COUNT, "format %d", fmt);
    else
        SL_FUZZ_CHECK(err.code == SL_ERR_UNSUPPORTED_MEDIA_TYPE, "code %d", err.code);
}

/* What decodes is usable: a positive peak, mfu in (0, 1], a price >= 0 or
 * absent, speedups in (0, 1000] looked up by the names they were given as. */
static void fuzz_hardware(const char *name, const char *peak, const char *mfu, const char *price,
                          const char *speedup) {
    sl_hardware hw;
    sl_error err;
    int rc = sl_query_hardware_decode(name, peak, mfu, price, speedup, &hw, &err);
    check_rc(rc, &err);
    if (rc || !hw.given) return;
    SL_FUZZ_CHECK(hw.peak_flops > 0 && isfinite(hw.peak_flops), "peak %g", hw.peak_flops);
    SL_FUZZ_CHECK(hw.mfu > 0 && hw.mfu <= 1, "mfu %g", hw.mfu);
    SL_FUZZ_CHECK(isnan(hw.price_per_hour) || hw.price_per_hour >= 0, "price %g",
                  hw.price_per_hour);
    for (size_t i = 0; i < hw.nspeedups; i++) {
        double v = sl_hardware_speedup(&hw, hw.speedup_names[i]);
        SL_FUZZ_CHECK(v > 0 && v <= 1000 && v == hw.speedups[i], "%s: %g", hw.speedup_names[i], v);
    }
}

static void fuzz_names(const char *text) {
    sl_data_unit u;
    sl_source_kind s;
    sl_backend_kind b;
    sl_dataset_format f;
    if (!text) return;
    if (sl_data_unit_parse(text, &u) == 0)
        SL_FUZZ_CHECK(strcmp(sl_data_unit_name(u), text) == 0, "unit %s", text);
    if (sl_source_kind_parse(text, &s) == 0)
        SL_FUZZ_CHECK(strcmp(sl_source_kind_name(s), text) == 0, "source %s", text);
    if (sl_backend_kind_parse(text, &b) == 0)
        SL_FUZZ_CHECK(strcmp(sl_backend_kind_name(b), text) == 0, "backend %s", text);
    if (sl_dataset_format_parse(text, &f) == 0)
        SL_FUZZ_CHECK(strcmp(sl_dataset_format_name(f), text) == 0, "format %s", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    /* Each text in a buffer of its own size, so that a read past it is seen. */
    char *f[MAX_FIELDS] = {NULL};
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    for (size_t i = 0; i < MAX_FIELDS && p <= end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!(n == 1 && p[0] == '~')) {
            f[i] = strndup(p, n);
            if (!f[i]) abort();
        }
        if (!nl) break;
        p = nl + 1;
    }
    const char *sel = data[0] ? strchr(selectors, data[0]) : NULL;
    size_t k = sel ? (size_t)(sel - selectors) : data[0] % (sizeof selectors - 1);
    switch (selectors[k]) {
    case 'd': fuzz_double(f[0]); break;
    case 'n': fuzz_number(f[0], f[1]); break;
    case 'i': fuzz_int(f[0], f[1]); break;
    case 'l': fuzz_list(f[0], f[1]); break;
    case 'p': fuzz_pattern(f[0]); break;
    case 'w': fuzz_law_name(f[0]); break;
    case 'c': fuzz_cost(f[0], f[1], f[2]); break;
    case 'b': fuzz_budget(f[0], f[1], f[2], f[3]); break;
    case 'P': fuzz_patterns(f[0]); break;
    case 's': fuzz_span(f[0], f[1], f[2], f[3], f[4]); break;
    case 'o': fuzz_option(f[0], f[1]); break;
    case 't': fuzz_content_type(f[0]); break;
    case 'h': fuzz_hardware(f[0], f[1], f[2], f[3], f[4]); break;
    default: fuzz_names(f[0]); break;
    }
    for (size_t i = 0; i < MAX_FIELDS; i++)
        free(f[i]);
    return 0;
}
