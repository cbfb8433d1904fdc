/* sl_law_record.c - the names of data units and sources, and the built-in
 * laws (sl_law_record.h). */
#include "sl_law_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one table of data-unit names: as the wire spells them, and one of each. */
static const struct {
    const char *name, *singular;
} unit_names[SL_UNIT_COUNT] = {{"tokens", "token"}, {"examples", "example"}, {"steps", "step"}};
static const char *const source_names[SL_SOURCE_COUNT] = {"builtin", "manual", "fit"};

/* The index of text in names[0..n), or -1. */
static int lookup(const char *const *names, int n, const char *text) {
    for (int i = 0; text && i < n; i++)
        if (strcmp(text, names[i]) == 0) return i;
    return -1;
}

const char *sl_data_unit_name(sl_data_unit unit) {
    return unit < SL_UNIT_COUNT ? unit_names[unit].name : "unknown";
}

int sl_data_unit_parse(const char *text, sl_data_unit *out) {
    for (int i = 0; text && i < SL_UNIT_COUNT; i++)
        if (strcmp(text, unit_names[i].name) == 0) {
            *out = (sl_data_unit)i;
            return 0;
        }
    return -1;
}

const char *sl_data_unit_singular(sl_data_unit unit) {
    return unit < SL_UNIT_COUNT ? unit_names[unit].singular : "unknown";
}

const char *sl_source_kind_name(sl_source_kind kind) {
    return kind < SL_SOURCE_COUNT ? source_names[kind] : "unknown";
}

int sl_source_kind_parse(const char *text, sl_source_kind *out) {
    int i = lookup(source_names, SL_SOURCE_COUNT, text);
    if (i >= 0) *out = (sl_source_kind)i;
    return i >= 0 ? 0 : -1;
}

const sl_law_record sl_builtin_laws[SL_BUILTIN_COUNT] = {
    {.name = "vit-jft",
     .version = 1,
     .description = "ViT on JFT-4B (Frantar et al., ICLR 2024); data in images",
     .law = {294.389596179, 0.82101251, 468.157382899, 0.39222675, 237412873.842, 0.88979104,
             4.51669257},
     .data_unit = SL_UNIT_EXAMPLES,
     .source_kind = SL_SOURCE_BUILTIN,
     .reference = "Frantar et al., Scaling Laws for Sparsely-Connected Foundation Models, ICLR "
                  "2024; google-research/jaxpruner projects/bigsparse notebook fit",
     .builtin = 1},
    {.name = "t5-c4",
     .version = 1,
     .description =
         "T5 on C4 (Frantar et al., ICLR 2024); data in tokens, 65,536 per training step",
     .law = {16.7870501071, 0.72161276, 45.0184473511, 0.24513173, 689991261.918, 0.20270772,
             0.65074219},
     .data_unit = SL_UNIT_TOKENS,
     .source_kind = SL_SOURCE_BUILTIN,
     .reference = "Frantar et al., Scaling Laws for Sparsely-Connected Foundation Models, ICLR "
                  "2024; google-research/jaxpruner projects/bigsparse notebook fit",
     .builtin = 1},
};

const sl_law_pattern *sl_law_record_pattern(const sl_law_record *rec, const char *name) {
    for (unsigned k = 0; k < rec->npatterns; k++)
        if (strcmp(rec->patterns[k].name, name) == 0) return &rec->patterns[k];
    return NULL;
}

int sl_law_patterns_format(const sl_law_record *rec, char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = '\0';
    for (unsigned k = 0; k < rec->npatterns; k++) {
        const sl_law_pattern *p = &rec->patterns[k];
        int n = snprintf(buf + used, cap - used, "%s %.17g %.17g %.17g %ld\n", p->name, p->eta,
                         p->lower, p->upper, p->rows);
        if (n < 0 || (size_t)n >= cap - used) return -1;
        used += (size_t)n;
    }
    return 0;
}

int sl_law_patterns_parse(const char *text, sl_law_record *rec) {
    rec->npatterns = 0;
    for (const char *line = text; line && *line;) {
        sl_law_pattern p;
        char *end;
        size_t len = strcspn(line, " ");
        if (rec->npatterns == SL_LAW_MAX_PATTERNS || len == 0 || len >= sizeof p.name) break;
        memcpy(p.name, line, len);
        p.name[len] = '\0';
        p.eta = strtod(line + len, &end);
        p.lower = strtod(end, &end);
        p.upper = strtod(end, &end);
        p.rows = strtol(end, &end, 10);
        if (*end != '\n') break;
        rec->patterns[rec->npatterns++] = p;
        line = end + 1;
        if (!*line) return 0;
    }
    int ok = !text || !*text;
    if (!ok) rec->npatterns = 0;
    return ok ? 0 : -1;
}
