/* sl_law_record.c - the names of data units and sources, and the built-in
 * laws (sl_law_record.h). */
#include "sl_law_record.h"

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
