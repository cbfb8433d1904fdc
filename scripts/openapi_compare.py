#!/usr/bin/env python3
"""Writes the /v1/compare/<query> operations of api/openapi.json from the
GET /v1/laws/{name}/<query> ones, as the server derives its compare routes
from its route table: the query's parameters less version, plus laws (and
format for the queries that answer CSV tables: curves and contours). Also gives every such GET (and each compare) its conditional-GET
parts: the If-None-Match header, the 304 answer, ETag and Cache-Control.

    scripts/openapi_compare.py [api/openapi.json]

Run it after changing a law query's parameters; the openapi sync test
(tests/http/test_http.py) says when it is due.
"""
import json
import sys

PREFIX = "/v1/laws/{name}/"

LAWS = {
    "name": "laws",
    "in": "query",
    "required": True,
    "description": "the laws to compare, comma-separated, 1 to 8 of them: each a law name, at "
                   "its latest version, or name@version (t5-c4,vit-jft,mine@3). 404 not_found "
                   "(field laws) naming a law the server does not hold or a version it does not "
                   "have; 400 invalid_parameter for a malformed list or a law listed twice.",
    "schema": {"type": "string", "example": "t5-c4,vit-jft"},
}

IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "an ETag of an earlier answer: the server answers 304 Not Modified, with no "
                   "body, while the answer is unchanged (same law versions, same query, same "
                   "server version).",
    "schema": {"type": "string"},
}

CACHE_HEADERS = {
    "ETag": {
        "description": "a strong tag of the answer: the law version(s) it comes from, the path, "
                       "the query parameters in canonical (sorted) order, JSON or CSV, and the "
                       "server's version and contract (this document). A new version of a law "
                       "changes it.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "no-cache (store, but revalidate with If-None-Match each time) when a "
                       "law is taken at its latest version; public, max-age=86400 when every "
                       "law is named by version (an answer that never changes).",
        "schema": {"type": "string"},
    },
}

NOT_MODIFIED = {
    "description": "Not Modified: If-None-Match held this answer's ETag; no body.",
    "headers": CACHE_HEADERS,
}

COMPARE_SCHEMA = {
    "type": "object",
    "required": ["query", "answers", "note"],
    "properties": {
        "query": {"type": "string", "description": "the query asked, e.g. optimal-sparsity"},
        "answers": {
            "type": "array",
            "description": "one per law, in the order of laws: what GET /v1/laws/{name}/<query> "
                           "answers for that law with these parameters (JSON; each with its law "
                           "and units), or {law, error} where the law cannot answer them (422: "
                           "out of reach, a budget in FLOPs for a law in examples). A mistake in "
                           "the query itself (400) is the answer to the whole compare; so is "
                           "the first law's error when no law can answer.",
            "items": {"type": "object"},
        },
        "note": {"type": "string"},
    },
}


COMPARE_CSV = {
    "type": "string",
    "description": "CSV (Content-Type: text/csv; charset=utf-8), CRLF line ends: first the "
                   "comment lines, per law '# units of NAME vVERSION: column = unit; ...', its "
                   "warnings as '# warning of NAME vVERSION: ...', and '# NAME vVERSION: no "
                   "answer: ...' for a law that cannot answer (skip them as comments: pandas "
                   "comment='#'); then a header row law,version,<the columns of the query's "
                   "own CSV, every law's band columns x_lo, x_hi included> and each law's rows "
                   "in the order of laws (an empty cell where a law has no such column or the "
                   "value is not finite; numbers as %.17g).",
}


def camel(text):
    return "".join(w[:1].upper() + w[1:] for w in text.replace("/", "-").split("-"))


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    paths = doc["paths"]
    params = doc["components"].setdefault("parameters", {})
    params["IfNoneMatch"] = IF_NONE_MATCH
    params["CompareLaws"] = LAWS
    doc["components"]["schemas"]["Compare"] = COMPARE_SCHEMA
    ref_inm = {"$ref": "#/components/parameters/IfNoneMatch"}
    out = {}
    compares = {}
    for p, item in paths.items():
        if p.startswith("/v1/compare/"):
            continue  # written again below
        out[p] = item
        get = item.get("get")
        if not get or not (p.startswith(PREFIX) or p == "/v1/laws/{name}"):
            continue
        get["parameters"] = [x for x in get.get("parameters", []) if x != ref_inm] + [ref_inm]
        get["responses"]["304"] = NOT_MODIFIED
        get["responses"]["200"]["headers"] = CACHE_HEADERS
        query = p[len(PREFIX):] if p.startswith(PREFIX) else None
        if not query or query == "versions":
            continue
        cparams = [x for x in get["parameters"]
                   if not (isinstance(x, dict) and x.get("name") in ("name", "version"))]
        cparams.insert(0, {"$ref": "#/components/parameters/CompareLaws"})
        tables = any(isinstance(x, dict) and x.get("name") == "format" for x in cparams)
        responses = {k: v for k, v in get["responses"].items() if k != "200"}
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Compare"}}}
        if tables:
            content["text/csv"] = {"schema": COMPARE_CSV}
        responses["200"] = {
            "description": "OK: the answers side by side",
            "headers": CACHE_HEADERS,
            "content": content,
        }
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
        compares["/v1/compare/" + query] = {
            "get": {
                "operationId": "compare" + camel(query),
                "summary": get["summary"] + ", for several laws side by side",
                "description": "GET " + p + " asked of each law in laws, with the same "
                               "parameters (version per law as name@version)." +
                               (" With format=csv (or Accept: text/csv) the laws' tables one "
                                "below the other in one CSV." if tables else
                                " The answer is JSON, as the query's own."),
                "tags": get.get("tags", ["queries"]),
                "parameters": cparams,
                "responses": dict(sorted(responses.items())),
            }
        }
    # the compare operations right after the law queries
    final = {}
    for p, item in out.items():
        final[p] = item
        if p == "/v1/laws/{name}/contours":
            final.update(compares)
            compares = {}
    final.update(compares)
    doc["paths"] = final
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "api/openapi.json")
