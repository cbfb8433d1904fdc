/*
 * sl_proto_tool.c - sl-proto-tool: prints what docs/trainer-protocol.md and
 * api/openapi.json say of the run protocol, from its table, for
 * scripts/protocol-sync.sh to write into them (unit_proto checks they agree).
 *
 *   sl-proto-tool options | fields | openapi | grid-bounds
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_proto.h"

int main(int argc, char **argv) {
    const char *what = argc == 2 ? argv[1] : "";
    char row[640];
    if (!strcmp(what, "options")) {
        for (int i = 0; i < SL_PROTO_COUNT; i++)
            puts(sl_proto_doc_option_row(sl_proto_option_at((sl_proto_id)i), row, sizeof row));
    } else if (!strcmp(what, "fields")) {
        size_t n;
        const sl_proto_field *f = sl_proto_fields(&n);
        for (size_t i = 0; i < n; i++)
            puts(sl_proto_doc_field_row(&f[i], row, sizeof row));
    } else if (!strcmp(what, "openapi")) {
        json_t *s = sl_proto_schema(SL_PROTO_SWEEP, SL_PROTO_SCHEMA_DESCRIPTION);
        char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
        json_decref(s);
    } else if (!strcmp(what, "grid-bounds")) {
        /* [[schema, member, {bounds}]]: "member[]" is the items of an array member. */
        json_t *all = json_array();
#define SL_PROTO_GRID_ROW(schema, member, id)                                                      \
    {                                                                                              \
        json_t *b = json_object();                                                                 \
        sl_proto_schema_bounds(sl_proto_option_at(SL_PROTO_##id), b);                              \
        json_array_append_new(all, json_pack("[s, s, o]", schema, member, b));                     \
    }
        SL_PROTO_OPENAPI_GRID(SL_PROTO_GRID_ROW)
#undef SL_PROTO_GRID_ROW
        char *text = json_dumps(all, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(all);
    } else {
        fprintf(stderr, "usage: sl-proto-tool options | fields | openapi | grid-bounds\n");
        return 2;
    }
    return 0;
}
