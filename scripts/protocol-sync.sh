#!/bin/sh
# Writes the run protocol's table (protocol/sl_proto.h) into the places that
# state it for people: the option and event-field tables of
# docs/trainer-protocol.md, components.schemas.TrainerOptions of
# api/openapi.json and the grid's bounds there (SL_PROTO_OPENAPI_GRID).
# unit_proto fails until they agree.
#   scripts/protocol-sync.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
cmake --build "$dir" --target sl-proto-tool >/dev/null
tool="$dir/sl-proto-tool"
"$tool" options >"$dir/proto-options.md"
"$tool" fields >"$dir/proto-fields.md"
"$tool" openapi >"$dir/proto-openapi.json"
"$tool" grid-bounds >"$dir/proto-grid-bounds.json"
python3 - "$dir" <<'PY'
import collections, json, sys
d = sys.argv[1]

def rows(name):
    return open("%s/%s" % (d, name)).read().rstrip("\n").split("\n")

# Each table: its header line, its separator, then rows up to the first line that is not one.
doc = open("docs/trainer-protocol.md").read().split("\n")
for header, new in (("| name | flag |", rows("proto-options.md")),
                    ("| event | field |", rows("proto-fields.md"))):
    at = next(i for i, line in enumerate(doc) if line.startswith(header)) + 2
    end = at
    while end < len(doc) and doc[end].startswith("|"):
        end += 1
    doc[at:end] = new
open("docs/trainer-protocol.md", "w").write("\n".join(doc))

api = json.loads(open("api/openapi.json").read(), object_pairs_hook=collections.OrderedDict)
api["components"]["schemas"]["TrainerOptions"] = json.loads(
    open("%s/proto-openapi.json" % d).read(), object_pairs_hook=collections.OrderedDict)
schemas = api["components"]["schemas"]
for schema, member, bounds in json.loads(open("%s/proto-grid-bounds.json" % d).read()):
    node = schemas[schema]
    for seg in member.split("."):
        node = node["properties"][seg[:-2] if seg.endswith("[]") else seg]
        if seg.endswith("[]"):
            node = node["items"]
    for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        node.pop(key, None)
    node.update(bounds)
open("api/openapi.json", "w").write(json.dumps(api, indent=2, ensure_ascii=False) + "\n")
PY
echo "docs/trainer-protocol.md and api/openapi.json now state the protocol's table"
