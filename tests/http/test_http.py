#!/usr/bin/env python3
"""Black-box HTTP tests of sparselawd: the real server on a real port.

    python3 tests/http/test_http.py --server build/sparselawd --openapi api/openapi.json

Standard library only; the server, the shared-server setup and the checks
of error answers come from harness.py beside this file. One shared server
(setUpModule) answers most tests; the restart, body-limit and shutdown tests
start servers of their own. Every server gets a temporary data directory and
token file and is stopped with SIGTERM, which must exit 0.
"""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (COEF, OBSERVED_ERRORS, TOKEN, Base, OwnServers, Response,  # noqa: E402
                     error_table_from_source, metric_sum, parse_metrics, q, ref_loss, resolve,
                     route_to_openapi_path)

DATA_UNIT = {"vit-jft": "examples", "t5-c4": "tokens"}

STATIC_INDEX = b"<!doctype html><title>sparselaw test page</title>\n"
STATIC_JS = b"console.log('sparselaw');\n"


def setUpModule():
    tmp = tempfile.mkdtemp(prefix="sparselaw-http-")
    static = os.path.join(tmp, "static")
    os.makedirs(os.path.join(static, "sub"))
    with open(os.path.join(static, "index.html"), "wb") as f:
        f.write(STATIC_INDEX)
    with open(os.path.join(static, "app.js"), "wb") as f:
        f.write(STATIC_JS)
    with open(os.path.join(static, "sub", "index.html"), "wb") as f:
        f.write(b"sub\n")
    harness.start_shared(tmp, args=["--static-dir", static])


def tearDownModule():
    harness.stop_shared()


# ---------------------------------------------------------------- laws (read)

class TestLawsRead(Base):
    def test_list_has_builtins_with_units_and_source(self):
        body = self.get_json("/v1/laws")
        laws = {l["name"]: l for l in body["laws"]}
        self.assertIn("t5-c4", laws)
        self.assertIn("vit-jft", laws)
        for name in ("t5-c4", "vit-jft"):
            law = laws[name]
            for key in ("name", "version", "description", "coefficients", "units", "source",
                        "created_at"):
                self.assertIn(key, law)
            self.assertEqual(law["units"], {"nonzeros": "parameters", "data": DATA_UNIT[name]})
            self.assertEqual(law["source"]["kind"], "builtin")
            self.assertEqual(set(law["coefficients"]), set(COEF[name]))
            for k, v in COEF[name].items():  # full precision, not the paper's rounding
                self.assertEqual(law["coefficients"][k], v, "%s.%s" % (name, k))

    def test_get_one_and_version(self):
        law = self.get_json("/v1/laws/t5-c4")
        self.assertEqual(law["name"], "t5-c4")
        self.assertEqual(law["version"], 1)
        self.assertEqual(law["units"]["data"], "tokens")
        v1 = self.get_json("/v1/laws/vit-jft?version=1")
        self.assertEqual(v1["version"], 1)
        self.assertEqual(v1["units"]["data"], "examples")
        self.assertEqual(v1["coefficients"]["a_d"], COEF["vit-jft"]["a_d"])

    def test_versions(self):
        body = self.get_json("/v1/laws/t5-c4/versions")
        self.assertEqual(body["name"], "t5-c4")
        self.assertEqual([v["version"] for v in body["versions"]], [1])
        self.assertEqual(body["versions"][0]["coefficients"]["c"], COEF["t5-c4"]["c"])

    def test_unknown_law_is_404(self):
        for path in ("/v1/laws/no-such-law", "/v1/laws/no-such-law/versions",
                     "/v1/laws/no-such-law/loss?" + q(sparsity=0.5, nonzeros=1e8, data=1e10),
                     "/v1/laws/no-such-law/optimal-sparsity?" + q(nonzeros=1e9, data=2e11),
                     "/v1/laws/no-such-law/plan?" + q(target_loss=2, nonzeros=1e9),
                     "/v1/laws/no-such-law/equivalent-dense?sparsity=0.5",
                     "/v1/laws/no-such-law/curves/loss-vs-data?nonzeros=1e8",
                     "/v1/laws/no-such-law/curves/optimal-sparsity",
                     "/v1/laws/no-such-law/contours"):
            self.assert_error(self.srv.get(path), 404, "not_found", msg=path)
        r = self.srv.request("POST", "/v1/laws/no-such-law/loss",
                             json_body={"points": [{"sparsity": 0, "nonzeros": 1e8, "data": 1e9}]})
        self.assert_error(r, 404, "not_found")

    def test_unknown_version_is_404_naming_version(self):
        self.assert_error(self.srv.get("/v1/laws/t5-c4?version=2"), 404, "not_found", "version")
        self.assert_error(self.srv.get("/v1/laws/t5-c4/loss?" + q(
            sparsity=0, nonzeros=1e8, data=1e9, version=7)), 404, "not_found", "version")

    def test_bad_version_is_400(self):
        for v in ("abc", "0", "-1", "1.5", "1e-1", "", "nan", "inf", "99999999999999999999999"):
            for path in ("/v1/laws/t5-c4?version=%s", "/v1/laws/t5-c4/equivalent-dense?"
                         "sparsity=0.5&version=%s"):
                self.assert_error(self.srv.get(path % urllib.parse.quote(v)), 400,
                                  "invalid_parameter", "version", msg=v)

    def test_bad_version_on_batch(self):
        body = {"points": [{"sparsity": 0, "nonzeros": 1e8, "data": 1e9}]}
        for v in ("x", "0", ""):
            r = self.srv.request("POST", "/v1/laws/t5-c4/loss?version=" + v, json_body=body)
            self.assert_error(r, 400, "invalid_parameter", "version", msg=v)
        r = self.srv.request("POST", "/v1/laws/t5-c4/loss?version=9", json_body=body)
        self.assert_error(r, 404, "not_found", "version")

    def test_routes_without_params_refuse_params(self):
        for path in ("/v1/laws?limit=5", "/v1/laws/t5-c4/versions?version=1",
                     "/healthz?x=1", "/v1/laws/t5-c4?verison=1"):
            name = path.split("?")[1].split("=")[0]
            self.assert_error(self.srv.get(path), 400, "unknown_parameter", name, msg=path)

    def test_head(self):
        r = self.srv.request("HEAD", "/v1/laws")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")


# ---------------------------------------------------------------- loss

LOSS_VECTORS = [  # law-math.md section 6
    ("vit-jft", 0, 1e8, 1e9, 5.3500787637),
    ("vit-jft", 0.5, 1e8, 1e10, 5.0147355131),
    ("vit-jft", 0.875, 1e9, 1e11, 4.6752193138),
    ("t5-c4", 0, 1e8, 1e9, 2.2543229175),
    ("t5-c4", 0.5, 1e8, 1e10, 1.8361144547),
    ("t5-c4", 0.875, 1e9, 1e11, 1.3187432851),
]

LOSS_FIELDS = {"loss", "sparsity", "nonzeros", "data", "total_params",
               "dense_equivalent_params", "loss_floor"}


class TestLoss(Base):
    def test_vectors_get(self):
        for law, s, n, d, want in LOSS_VECTORS:
            body = self.get_json("/v1/laws/%s/loss?%s" % (law, q(sparsity=s, nonzeros=n, data=d)))
            self.assertTrue(LOSS_FIELDS <= set(body), body)
            self.assert_close(body["loss"], want, 1e-9, law)
            self.assert_close(body["loss"], ref_loss(COEF[law], s, n, d), 1e-12, law)
            self.assertEqual(body["sparsity"], s)
            self.assertEqual(body["nonzeros"], n)
            self.assertEqual(body["data"], d)
            self.assert_rel(body["total_params"], n / (1 - s), 1e-12)
            k = COEF[law]
            floor = k["c_s"] * n ** -k["b_n"] + (k["a_d"] / d) ** k["b_d"] + k["c"]
            self.assert_close(body["loss_floor"], floor, 1e-12)
            self.assertLess(body["loss_floor"], body["loss"])
            self.assertGreaterEqual(body["dense_equivalent_params"], n * (1 - 1e-12))
            self.assertEqual(body["law"], {"name": law, "version": 1})
            units = body["units"]
            self.assertEqual(units["data"], DATA_UNIT[law])
            self.assertEqual(units["nonzeros"], "parameters")
            self.assertEqual(units["total_params"], "parameters")
            self.assertIn("loss", units)

    def test_scientific_notation_and_version(self):
        a = self.get_json("/v1/laws/t5-c4/loss?sparsity=5e-1&nonzeros=1E8&data=10000000000")
        b = self.get_json("/v1/laws/t5-c4/loss?sparsity=0.5&nonzeros=1e8&data=1e10&version=1")
        self.assert_close(a["loss"], 1.8361144547, 1e-9)
        self.assertEqual(a["loss"], b["loss"])
        # an unencoded '+' arrives as a space; the exponent still reads as meant
        c = self.get_json("/v1/laws/t5-c4/loss?sparsity=0.5&nonzeros=1e+8&data=1E%2B10")
        self.assertEqual(c["loss"], a["loss"])
        self.assert_error(self.srv.get("/v1/laws/t5-c4/loss?sparsity=0.5&nonzeros=1+8&data=1e10"),
                          400, "invalid_parameter", "nonzeros")

    def test_vectors_batch(self):
        for law in ("vit-jft", "t5-c4"):
            vecs = [v for v in LOSS_VECTORS if v[0] == law]
            body = {"points": [{"sparsity": s, "nonzeros": n, "data": d} for _, s, n, d, _ in vecs]}
            out = self.ok(self.srv.request("POST", "/v1/laws/%s/loss" % law, json_body=body))
            self.assertEqual(len(out["points"]), len(vecs))
            for got, (_, s, n, d, want) in zip(out["points"], vecs):
                self.assertTrue(LOSS_FIELDS <= set(got), got)
                self.assert_close(got["loss"], want, 1e-9)
                self.assertEqual(got["sparsity"], s)
            self.assertEqual(out["units"]["data"], DATA_UNIT[law])
            self.assertEqual(out["law"]["name"], law)
            # the batch and the single query agree exactly
            _, s, n, d, _ = vecs[1]
            one = self.get_json("/v1/laws/%s/loss?%s" % (law, q(sparsity=s, nonzeros=n, data=d)))
            self.assertEqual(one["loss"], out["points"][1]["loss"])

    def test_batch_version_param_and_charset(self):
        r = self.srv.request("POST", "/v1/laws/t5-c4/loss?version=1",
                             body=json.dumps({"points": [{"sparsity": 0.5, "nonzeros": 1e8,
                                                          "data": 1e10}]}),
                             headers={"Content-Type": "application/json; charset=utf-8"})
        self.assert_close(self.ok(r)["points"][0]["loss"], 1.8361144547, 1e-9)

    def test_batch_content_type(self):
        body = json.dumps({"points": [{"sparsity": 0, "nonzeros": 1e8, "data": 1e9}]})
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonp",
                      None):
            headers = {"Content-Type": ctype} if ctype else {}
            r = self.srv.request("POST", "/v1/laws/t5-c4/loss", body=body, headers=headers)
            self.assert_error(r, 415, "unsupported_media_type", msg=ctype)

    def test_batch_malformed_json(self):
        for text in ('{"points": [', '{"points": [}', "nope", '{"points": NaN}',
                     '{"points": [], "points": []}', "", "{'points': []}"):
            r = self.srv.request("POST", "/v1/laws/t5-c4/loss", body=text,
                                 headers={"Content-Type": "application/json"})
            err = self.assert_error(r, 400, "invalid_json", msg=repr(text))
            if text:
                self.assertRegex(err["message"], r"(line|column|byte|position) \d+", text)

    def test_batch_wrong_shapes(self):
        p = {"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10}
        cases = [
            ({"points": [dict(p, sparsity="0.5")]}, "points[0].sparsity"),
            ({"points": [p, dict(p, nonzeros="1e8")]}, "points[1].nonzeros"),
            ({"points": [p, p, {"sparsity": 0.5, "nonzeros": 1e8}]}, "points[2].data"),
            ({"points": [dict(p, sparsity=1)]}, "points[0].sparsity"),
            ({"points": [dict(p, sparsity=-0.1)]}, "points[0].sparsity"),
            ({"points": [dict(p, data=0)]}, "points[0].data"),
            ({"points": [dict(p, nonzeros=-5)]}, "points[0].nonzeros"),
            ({"points": [dict(p, data=None)]}, "points[0].data"),
            ({"points": [dict(p, data=True)]}, "points[0].data"),
            ({"points": [dict(p, extra=1)]}, ("points[0]", "points[0].extra")),
            ({"points": [5]}, "points[0]"),
            ({"points": p}, "points"),
            ({"points": "all"}, "points"),
            ({"points": []}, "points"),
            ({"pts": [p]}, "points"),
            ({"points": [p], "extra": 1}, ("points", "extra")),
            ([p], "points"),
            (3, "points"),
        ]
        for body, field in cases:
            r = self.srv.request("POST", "/v1/laws/t5-c4/loss", json_body=body)
            self.assert_error(r, 400, "invalid_body", field, msg=json.dumps(body))

    def test_batch_too_many_points(self):
        p = {"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10}
        ok = self.ok(self.srv.request("POST", "/v1/laws/t5-c4/loss",
                                      json_body={"points": [p] * 10000}))
        self.assertEqual(len(ok["points"]), 10000)
        r = self.srv.request("POST", "/v1/laws/t5-c4/loss", json_body={"points": [p] * 10001})
        self.assert_error(r, 400, "invalid_body", "points")

    def test_huge_but_valid_numbers_never_500(self):
        # nonzeros and data at the edges of double: the law may overflow; the
        # answer must still be a client-visible 2xx/4xx, never a 500.
        for s, n, d in ((0, 1e-300, 1e-300), (0.5, 1e300, 1e300), (0.999999, 1, 1e-300)):
            r = self.srv.get("/v1/laws/t5-c4/loss?" + q(sparsity=s, nonzeros=n, data=d))
            self.assertLess(r.status, 500, r)
            self.assertTrue(r.status == 200 or r.status in (400, 422), r)


# ---------------------------------------------------------------- optimal sparsity

SOPT_VECTORS = [  # law-math.md section 6, cost model dense
    ("vit-jft", 1e8, 1e10, 0.631446, 5.039153, 5.107751),
    ("vit-jft", 1e9, 2e11, 0.868448, 4.686434, 4.744209),
    ("t5-c4", 1e8, 1e10, 0.118715, 1.907471, 1.908384),
    ("t5-c4", 1e9, 2e11, 0.158611, 1.351129, 1.352074),
    ("t5-c4", 1e8, 2e12, 0.724266, 1.473627, 1.525479),
]

OPT_FIELDS = {"sparsity", "loss", "dense_loss", "improvement", "nonzeros", "total_params", "data",
              "compute", "cost_model", "pattern", "sparsity_pays_above_data",
              "dense_optimal_data"}


class TestOptimalSparsity(Base):
    def opt(self, law, **params):
        return self.get_json("/v1/laws/%s/optimal-sparsity?%s" % (law, q(**params)))

    def test_headline_value(self):
        body = self.opt("t5-c4", nonzeros="1e9", data="2e11")
        self.assertEqual(round(body["sparsity"], 4), 0.1586)
        self.assert_close(body["sparsity"], 0.158611, 1e-6)

    def test_reference_rows(self):
        for law, n, dd, s, loss, dense in SOPT_VECTORS:
            body = self.opt(law, nonzeros=n, data=dd)
            self.assertTrue(OPT_FIELDS <= set(body), set(body) ^ OPT_FIELDS)
            self.assert_close(body["sparsity"], s, 1e-6, law)
            self.assert_close(body["loss"], loss, 1e-6, law)
            self.assert_close(body["dense_loss"], dense, 1e-6, law)
            self.assert_close(body["improvement"], body["dense_loss"] - body["loss"], 1e-12)
            self.assertGreater(body["improvement"], 0)
            self.assertEqual(body["nonzeros"], n)
            self.assert_rel(body["total_params"], n / (1 - body["sparsity"]), 1e-12)
            # the sparse model sees less data: D = (1 - S) D_dense
            self.assert_rel(body["data"], (1 - body["sparsity"]) * dd, 1e-9)
            self.assert_rel(body["compute"], 6 * n * dd, 1e-12)
            self.assert_close(body["loss"], ref_loss(COEF[law], body["sparsity"], n,
                                                     body["data"]), 1e-9)
            self.assertEqual(body["cost_model"], "dense")
            self.assertEqual(body["pattern"], "unstructured")
            self.assertLess(body["sparsity_pays_above_data"], dd)  # S_opt > 0 here
            self.assertEqual(body["units"]["data"], DATA_UNIT[law])
            self.assertEqual(body["units"]["nonzeros"], "parameters")
            # the response says how the budget was read
            self.assertIn("budget", body)
            self.assertEqual(body["budget"]["given"], "data")

    def test_d0_over_dchin(self):
        for law, ratio in (("vit-jft", 1.27055), ("t5-c4", 3.01475)):
            for n in (1e8, 3e10):
                body = self.opt(law, nonzeros=n, data=1e11)
                self.assert_close(body["sparsity_pays_above_data"] / body["dense_optimal_data"],
                                  ratio, 1e-5, law)

    def test_below_d0_stays_dense(self):
        body = self.opt("t5-c4", nonzeros=1e9, data=1e10)
        self.assertLess(1e10, body["sparsity_pays_above_data"])
        self.assertEqual(body["sparsity"], 0)
        self.assertEqual(body["loss"], body["dense_loss"])

    def test_compute_equals_data_over_6n(self):
        for n, c in ((1e9, 1.2e21), (3e8, 7e20), (1e8, 1.2e21)):
            by_c = self.opt("t5-c4", nonzeros=n, compute=c)
            by_d = self.opt("t5-c4", nonzeros=n, data=repr(c / (6 * n)))
            self.assertEqual(by_c["budget"]["given"], "compute")
            for key in ("sparsity", "loss", "dense_loss", "data", "total_params"):
                self.assert_rel(by_c[key] + 1e-300, by_d[key] + 1e-300, 1e-12, key)
            self.assert_rel(by_c["compute"], c, 1e-12)
            self.assertIn("FLOPs", by_c["units"]["compute"])
        self.assert_close(self.opt("t5-c4", nonzeros=1e9, compute=1.2e21)["sparsity"],
                          0.158611, 1e-6)

    def test_compute_needs_tokens(self):
        r = self.srv.get("/v1/laws/vit-jft/optimal-sparsity?" + q(nonzeros=1e9, compute=1.2e21))
        err = self.assert_error(r, 422, "unit_mismatch", "compute")
        self.assertIn("data", err["message"])
        body = self.opt("vit-jft", nonzeros=1e9, data=2e11)
        self.assertEqual(body["units"]["data"], "examples")
        self.assertNotIn("FLOPs", body["units"]["compute"].replace("not FLOPs", ""))

    def test_max_sparsity_clips(self):
        body = self.opt("t5-c4", nonzeros=1e9, data=2e11, max_sparsity=0.1)
        self.assert_close(body["sparsity"], 0.1, 1e-9)
        self.assert_close(body["loss"], ref_loss(COEF["t5-c4"], 0.1, 1e9, 0.9 * 2e11), 1e-9)
        body = self.opt("t5-c4", nonzeros=1e9, data=2e11, max_sparsity=0)
        self.assertEqual(body["sparsity"], 0)
        body = self.opt("t5-c4", nonzeros=1e9, data=2e11, max_sparsity=0.5)
        self.assert_close(body["sparsity"], 0.158611, 1e-6)

    def test_patterns(self):
        k = COEF["t5-c4"]
        for n, dd in ((1e8, 2e12), (1e9, 2e11), (1e8, 1e10)):
            body = self.opt("t5-c4", nonzeros=n, data=dd, patterns="2:4,1:4")
            cands = {"dense": 0.0, "2:4": 0.5, "1:4": 0.75}
            losses = {name: ref_loss(k, s, n, (1 - s) * dd) for name, s in cands.items()}
            best = min(losses, key=lambda name: (losses[name], name != "dense"))
            self.assertEqual(body["pattern"], best, (n, dd, losses, body))
            self.assertEqual(body["sparsity"], cands[best])
            self.assert_close(body["loss"], losses[best], 1e-9)
            self.assert_close(body["dense_loss"], losses["dense"], 1e-9)
        self.assertEqual(self.opt("t5-c4", nonzeros=1e8, data=2e12, patterns="1:4")["pattern"],
                         "1:4")

    def test_gmp(self):
        k = COEF["t5-c4"]
        n, dd = 1e8, 2e12
        dense = self.opt("t5-c4", nonzeros=n, data=dd)
        gmp = self.opt("t5-c4", nonzeros=n, data=dd, cost_model="gmp")
        self.assertEqual(gmp["cost_model"], "gmp")
        # gmp credits the pruning's saved FLOPs, so more sparsity pays
        self.assertGreater(gmp["sparsity"], dense["sparsity"])
        self.assertLess(gmp["loss"], dense["loss"])

        def gmp_loss(s):
            return ref_loss(k, s, n, dd * (1 - s) / (1 - 0.625 * s))

        s = gmp["sparsity"]
        self.assert_close(gmp["loss"], gmp_loss(s), 1e-9)
        self.assert_rel(gmp["data"], dd * (1 - s) / (1 - 0.625 * s), 1e-9)
        for ds in (-0.01, 0.01, -0.001, 0.001):
            self.assertLessEqual(gmp["loss"], gmp_loss(s + ds) + 1e-12, ds)
        custom = self.opt("t5-c4", nonzeros=n, data=dd, cost_model="gmp", prune_start=0.1,
                          prune_end=0.2)
        self.assertNotEqual(custom["sparsity"], gmp["sparsity"])
        self.assertEqual(self.opt("t5-c4", nonzeros=n, data=dd, cost_model="dense")["sparsity"],
                         dense["sparsity"])
        pat = self.opt("t5-c4", nonzeros=n, data=dd, cost_model="gmp", patterns="2:4,1:4")
        self.assertIn(pat["pattern"], ("dense", "2:4", "1:4"))

    def test_option_errors(self):
        base = {"nonzeros": 1e9, "data": 2e11}
        cases = [
            (dict(base, cost_model="sparse"), "cost_model"),
            (dict(base, cost_model=""), "cost_model"),
            (dict(base, prune_start=0.1), "prune_start"),
            (dict(base, cost_model="gmp", prune_start=0.8, prune_end=0.2), "prune_start"),
            (dict(base, cost_model="gmp", prune_end=1.5), "prune_end"),
            (dict(base, cost_model="gmp", prune_start="nan"), "prune_start"),
            (dict(base, patterns="3:2"), "patterns"),
            (dict(base, patterns="2:4,"), "patterns"),
            (dict(base, patterns="a:b"), "patterns"),
            (dict(base, patterns="0:4"), "patterns"),
            (dict(base, patterns="2-4"), "patterns"),
            (dict(base, patterns=""), "patterns"),
            (dict(base, patterns="2:4", max_sparsity=0.5), "max_sparsity"),
            (dict(base, max_sparsity=1), "max_sparsity"),
            ({"nonzeros": 1e9, "data": 2e11, "compute": 1e21}, ("compute", "data")),
        ]
        for params, field in cases:
            r = self.srv.get("/v1/laws/t5-c4/optimal-sparsity?" + q(**params))
            self.assert_error(r, 400, "invalid_parameter", field, msg=params)
        r = self.srv.get("/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9")
        self.assert_error(r, 400, "missing_parameter", ("compute", "data"))


# ---------------------------------------------------------------- plan, equivalent-dense

class TestPlanAndEquivalent(Base):
    def test_plan_reachable(self):
        k = COEF["t5-c4"]
        for target, n in ((2.0, 1e9), (1.4, 1e9), (1.6, 1e8)):
            body = self.get_json("/v1/laws/t5-c4/plan?" + q(target_loss=target, nonzeros=n))
            for key in ("sparsity", "data", "compute", "total_params", "loss"):
                self.assertIn(key, body)
            s, d = body["sparsity"], body["data"]
            self.assertGreaterEqual(s, 0)
            self.assertLess(s, 1)
            self.assert_close(body["loss"], target, 1e-9)
            self.assert_close(ref_loss(k, s, n, d), target, 1e-7)
            self.assert_rel(body["compute"], 6 * n * d / (1 - s), 1e-9)
            self.assert_rel(body["total_params"], n / (1 - s), 1e-9)
            self.assertEqual(body["units"]["data"], "tokens")
            self.assertIn("FLOPs", body["units"]["compute"])
            # the cheapest plan costs no more than dense or S = 0.5
            for s2 in (0.0, 0.5):
                rest = target - (k["a_s"] * (1 - s2) ** k["b_s"] + k["c_s"]) * n ** -k["b_n"] \
                    - k["c"]
                if rest > 0:
                    d2 = k["a_d"] / rest ** (1 / k["b_d"])
                    self.assertLessEqual(body["compute"], 6 * n * d2 / (1 - s2) * (1 + 1e-6))
        vit = self.get_json("/v1/laws/vit-jft/plan?" + q(target_loss=5.0, nonzeros=1e9))
        self.assertEqual(vit["units"]["data"], "examples")
        self.assertNotIn("FLOPs", vit["units"]["compute"].replace("not FLOPs", ""))

    def test_plan_unreachable(self):
        k = COEF["t5-c4"]
        n = 1e9
        r = self.srv.get("/v1/laws/t5-c4/plan?" + q(target_loss=0.5, nonzeros=n))
        err = self.assert_error(r, 422, "unreachable_target", "target_loss")
        self.assertIn("loss_floor", err)
        self.assertGreater(err["loss_floor"], 0.5)
        floor = k["c"] + (k["a_s"] * (1 - 0.999) ** k["b_s"] + k["c_s"]) * n ** -k["b_n"]
        self.assert_close(err["loss_floor"], floor, 1e-9)
        # the floor bounds by max_sparsity: with S <= 0 it is the dense floor
        r = self.srv.get("/v1/laws/t5-c4/plan?" + q(target_loss=1.0, nonzeros=1e9,
                                                      max_sparsity=0))
        err = self.assert_error(r, 422, "unreachable_target", "target_loss")
        self.assert_close(err["loss_floor"], k["c"] + (k["a_s"] + k["c_s"]) * 1e9 ** -k["b_n"],
                          1e-9)

    def test_equivalent_dense(self):
        want = {"vit-jft": (1.5960, 2.1724, 2.6339), "t5-c4": (1.5860, 2.1568, 2.6300)}
        for law, ms in want.items():
            k = COEF[law]
            for s, m in zip((0.5, 0.75, 0.875), ms):
                body = self.get_json("/v1/laws/%s/equivalent-dense?sparsity=%s" % (law, s))
                self.assert_close(body["multiplier"], m, 1e-4, "%s %s" % (law, s))
                self.assertEqual(body["sparsity"], s)
                self.assert_rel(body["limit"], ((k["a_s"] + k["c_s"]) / k["c_s"]) ** (1 / k["b_n"]),
                                1e-12)
                self.assertGreater(body["limit"], body["multiplier"])
            self.assertEqual(self.get_json("/v1/laws/%s/equivalent-dense?sparsity=0"
                                           % law)["multiplier"], 1)
        body = self.get_json("/v1/laws/t5-c4/equivalent-dense?sparsity=0.5&nonzeros=1e9")
        self.assert_rel(body["dense_equivalent_params"], 1e9 * body["multiplier"], 1e-12)
        self.assertEqual(body["units"]["dense_equivalent_params"], "parameters")


# ---------------------------------------------------------------- curves

CSV_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class TestCurves(Base):
    def csv_rows(self, resp):
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.header("content-type").startswith("text/csv"), resp.headers)
        lines = resp.text().splitlines()
        # the first line states each column's unit, as a comment
        self.assertTrue(lines[0].startswith("# units: "), lines[0])
        units = dict(p.strip().split(" = ", 1) for p in lines[0][len("# units: "):].split(";"))
        header = lines[1].split(",")
        for name in header:
            self.assertRegex(name, CSV_NAME)
        self.assertEqual(list(units), [h for h in header if h != "line"])
        return header, [dict(zip(header, line.split(","))) for line in lines[2:]]

    def test_loss_vs_data_json(self):
        body = self.get_json("/v1/laws/t5-c4/curves/loss-vs-data?" + q(
            nonzeros=1e8, sparsities="0,0.5,0.9", data_min=1e9, data_max=1e12, points=7))
        self.assertEqual(len(body["series"]), 3)
        self.assertEqual([s["sparsity"] for s in body["series"]], [0, 0.5, 0.9])
        for series in body["series"]:
            self.assertEqual(len(series["data"]), 7)
            self.assertEqual(len(series["loss"]), 7)
            self.assert_rel(series["data"][0], 1e9, 1e-12)
            self.assert_rel(series["data"][-1], 1e12, 1e-12)
            self.assertEqual(series["loss"], sorted(series["loss"], reverse=True))
            for d, loss in zip(series["data"], series["loss"]):
                self.assert_close(loss, ref_loss(COEF["t5-c4"], series["sparsity"], 1e8, d), 1e-9)
        self.assertEqual(body["units"]["data"], "tokens")
        default = self.get_json("/v1/laws/vit-jft/curves/loss-vs-data?nonzeros=1e8")
        self.assertEqual(len(default["series"]), 4)
        self.assertEqual(len(default["series"][0]["loss"]), 50)
        self.assertEqual(default["units"]["data"], "examples")

    def test_loss_vs_data_csv(self):
        path = "/v1/laws/t5-c4/curves/loss-vs-data?" + q(nonzeros=1e8, sparsities="0,0.5",
                                                          points=5)
        header, rows = self.csv_rows(self.srv.get(path + "&format=csv"))
        self.assertEqual(header, ["sparsity", "nonzeros", "data", "loss"])
        self.assertEqual(len(rows), 10)
        for row in rows:
            self.assert_close(float(row["loss"]), ref_loss(COEF["t5-c4"], float(row["sparsity"]),
                                                           float(row["nonzeros"]),
                                                           float(row["data"])), 1e-9)
        accept = self.srv.get(path, headers={"Accept": "text/csv"})
        self.assertEqual(accept.body, self.srv.get(path + "&format=csv").body)
        js = self.srv.get(path + "&format=json", headers={"Accept": "text/csv"})
        self.assertTrue(js.header("content-type").startswith("application/json"))

    def test_optimal_sparsity_curve(self):
        body = self.get_json("/v1/laws/t5-c4/curves/optimal-sparsity?" + q(
            nonzeros="1e8,1e9", compute_min=1e18, compute_max=1e23, points=6))
        self.assertEqual(body["x"], "compute")
        self.assertEqual(len(body["series"]), 2)
        for series in body["series"]:
            n = series["nonzeros"]
            self.assertEqual(len(series["sparsity"]), 6)
            self.assertEqual(series["sparsity"], sorted(series["sparsity"]))
            for c, s in zip(series["compute"], series["sparsity"]):
                self.assertGreaterEqual(s, 0)
                self.assertLessEqual(s, 0.999)
                one = self.get_json("/v1/laws/t5-c4/optimal-sparsity?" + q(nonzeros=n,
                                                                           compute=repr(c)))
                self.assert_close(s, one["sparsity"], 1e-9)
        # the paper's point on this curve
        body = self.get_json("/v1/laws/t5-c4/curves/optimal-sparsity?" + q(
            nonzeros=1e9, compute_min=1.2e21, compute_max=1.2e22, points=2))
        self.assert_close(body["series"][0]["sparsity"][0], 0.158611, 1e-6)
        vit = self.get_json("/v1/laws/vit-jft/curves/optimal-sparsity?points=3")
        self.assertEqual(vit["x"], "dense_data")
        self.assertEqual(len(vit["series"]), 3)
        self.assertEqual(vit["units"]["data"], "examples")
        r = self.srv.get("/v1/laws/vit-jft/curves/optimal-sparsity?compute_min=1e20")
        self.assert_error(r, 422, "unit_mismatch", "compute_min")
        r = self.srv.get("/v1/laws/t5-c4/curves/optimal-sparsity?compute_min=1e20&data_max=1e12")
        self.assert_error(r, 400, "invalid_parameter", ("compute_min", "data_max"))
        header, rows = self.csv_rows(self.srv.get(
            "/v1/laws/t5-c4/curves/optimal-sparsity?points=4&cost_model=gmp",
            headers={"Accept": "text/csv"}))
        self.assertEqual(header, ["nonzeros", "compute", "dense_data", "sparsity", "loss",
                                  "dense_loss", "data"])
        self.assertEqual(len(rows), 12)

    def test_contours(self):
        body = self.get_json("/v1/laws/t5-c4/contours?" + q(levels="0.25,0.5", points=4,
                                                             nonzeros_min=1e8, nonzeros_max=1e11))
        lines = body["series"]
        self.assertEqual([l["line"] for l in lines], ["iso_sparsity", "iso_sparsity",
                                                      "dense_optimal"])
        self.assertEqual(body["units"]["dense_data"], "tokens")
        for line in lines[:2]:
            self.assertEqual(len(line["nonzeros"]), 4)
            for n, dd, c in zip(line["nonzeros"], line["dense_data"], line["compute"]):
                self.assert_rel(c, 6 * n * dd, 1e-12)
                one = self.get_json("/v1/laws/t5-c4/optimal-sparsity?" + q(nonzeros=repr(n),
                                                                           data=repr(dd)))
                self.assert_close(one["sparsity"], line["sparsity"], 1e-6)
        for n, dd in zip(lines[2]["nonzeros"], lines[2]["dense_data"]):
            one = self.get_json("/v1/laws/t5-c4/optimal-sparsity?" + q(nonzeros=repr(n), data=1))
            self.assert_rel(dd, one["dense_optimal_data"], 1e-9)
        csv_path = "/v1/laws/t5-c4/contours?" + q(levels="0.5", points=3)
        header, rows = self.csv_rows(self.srv.get(csv_path + "&format=csv"))
        self.assertEqual(header, ["line", "sparsity", "nonzeros", "dense_data", "compute"])
        self.assertEqual(len(rows), 6)
        self.assertEqual([r["line"] for r in rows], ["iso_sparsity"] * 3 + ["dense_optimal"] * 3)
        self.assertEqual(rows[-1]["sparsity"], "")
        self.assertEqual(self.srv.get(csv_path, headers={"Accept": "text/csv"}).body,
                         self.srv.get(csv_path + "&format=csv").body)
        self.assertEqual(len(self.get_json("/v1/laws/vit-jft/contours")["series"]), 6)

    def test_curve_option_errors(self):
        cases = [
            ("loss-vs-data", {"nonzeros": 1e8, "format": "xml"}, "format"),
            ("loss-vs-data", {"nonzeros": 1e8, "points": 1}, "points"),
            ("loss-vs-data", {"nonzeros": 1e8, "points": 1001}, "points"),
            ("loss-vs-data", {"nonzeros": 1e8, "points": 2.5}, "points"),
            ("loss-vs-data", {"nonzeros": 1e8, "points": "ten"}, "points"),
            ("loss-vs-data", {"nonzeros": 1e8, "sparsities": "0.5,1"}, "sparsities"),
            ("loss-vs-data", {"nonzeros": 1e8, "sparsities": "0.5,,0.7"}, "sparsities"),
            ("loss-vs-data", {"nonzeros": 1e8, "sparsities": ",".join(["0.1"] * 17)},
             "sparsities"),
            ("loss-vs-data", {"nonzeros": 1e8, "data_min": 1e12, "data_max": 1e9},
             ("data_min", "data_max")),
            ("optimal-sparsity", {"nonzeros": "1e8,-1"}, "nonzeros"),
            ("optimal-sparsity", {"cost_model": "x"}, "cost_model"),
            ("optimal-sparsity", {"compute_min": 1e22, "compute_max": 1e20},
             ("compute_min", "compute_max")),
            ("optimal-sparsity", {"max_sparsity": 1}, "max_sparsity"),
        ]
        for route, params, field in cases:
            r = self.srv.get("/v1/laws/t5-c4/curves/%s?%s" % (route, q(**params)))
            self.assert_error(r, 400, "invalid_parameter", field, msg=(route, params))
        for params, field in (({"levels": "0.5,1"}, "levels"), ({"levels": "nan"}, "levels"),
                              ({"nonzeros_min": 1e12, "nonzeros_max": 1e7},
                               ("nonzeros_min", "nonzeros_max")),
                              ({"format": "CSV"}, "format")):
            r = self.srv.get("/v1/laws/t5-c4/contours?" + q(**params))
            self.assert_error(r, 400, "invalid_parameter", field, msg=params)


# ---------------------------------------------------------------- invalid input, every route

# route -> (valid query, numeric params with the range they live in, required params)
QUERY_ROUTES = {
    "loss": ({"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10},
             {"sparsity": "fraction", "nonzeros": "positive", "data": "positive"},
             ("sparsity", "nonzeros", "data")),
    "optimal-sparsity": ({"nonzeros": 1e9, "data": 2e11, "max_sparsity": 0.9},
                         {"nonzeros": "positive", "data": "positive", "max_sparsity": "fraction"},
                         ("nonzeros",)),
    "plan": ({"target_loss": 2, "nonzeros": 1e9, "max_sparsity": 0.9},
             {"target_loss": "positive", "nonzeros": "positive", "max_sparsity": "fraction"},
             ("target_loss", "nonzeros")),
    "equivalent-dense": ({"sparsity": 0.5, "nonzeros": 1e9},
                         {"sparsity": "fraction", "nonzeros": "positive"}, ("sparsity",)),
    "curves/loss-vs-data": ({"nonzeros": 1e8, "data_min": 1e9, "data_max": 1e11, "points": 3},
                            {"nonzeros": "positive", "data_min": "positive",
                             "data_max": "positive"}, ("nonzeros",)),
    "curves/optimal-sparsity": ({"compute_min": 1e19, "compute_max": 1e22, "points": 3,
                                 "max_sparsity": 0.9},
                                {"compute_min": "positive", "compute_max": "positive",
                                 "max_sparsity": "fraction"}, ()),
    "contours": ({"nonzeros_min": 1e8, "nonzeros_max": 1e10, "points": 3},
                 {"nonzeros_min": "positive", "nonzeros_max": "positive"}, ()),
}

BAD_NUMBERS = ["abc", "NaN", "nan", "inf", "-inf", "Infinity", "-1", "1e400", "-1e400", "",
               "0x10", "1,5", " 1", "1e", ".", "+-1", "1.2.3", "--1", "1e9e9", "\u00bd",
               "0.5\x00junk", "1e8 "]


class TestInvalidInput(Base):
    def url(self, route, params, law="t5-c4"):
        return "/v1/laws/%s/%s?%s" % (law, route, urllib.parse.urlencode(params))

    def test_valid_bases_pass(self):
        for route, (base, _, _) in QUERY_ROUTES.items():
            self.assertEqual(self.srv.get(self.url(route, base)).status, 200, route)

    def test_bad_numbers(self):
        for route, (base, numeric, _) in QUERY_ROUTES.items():
            for name, kind in numeric.items():
                bad = list(BAD_NUMBERS) + (["1", "1.5", "-0.1"] if kind == "fraction"
                                           else ["0", "-0", "1e-400"])
                for value in bad:
                    params = dict(base)
                    params[name] = value
                    r = self.srv.get(self.url(route, params))
                    self.assert_error(r, 400, "invalid_parameter", name,
                                      msg="%s %s=%r" % (route, name, value))

    def test_missing(self):
        for route, (base, _, required) in QUERY_ROUTES.items():
            for name in required:
                params = {k: v for k, v in base.items() if k != name}
                r = self.srv.get(self.url(route, params))
                self.assert_error(r, 400, "missing_parameter", name, msg="%s %s" % (route, name))

    def test_bare_parameter_without_value(self):
        for route, (base, numeric, _) in QUERY_ROUTES.items():
            name = next(iter(numeric))
            params = {k: v for k, v in base.items() if k != name}
            r = self.srv.get(self.url(route, params) + "&" + name)
            self.assert_error(r, 400, "invalid_parameter", name, msg=route)

    def test_duplicate(self):
        for route, (base, numeric, _) in QUERY_ROUTES.items():
            for name in numeric:
                url = self.url(route, base) + "&%s=%s" % (name, base[name])
                r = self.srv.get(url)
                self.assert_error(r, 400, "invalid_parameter", name, msg=url)

    def test_unknown_parameter(self):
        typos = {"loss": "sparsty", "optimal-sparsity": "nonzero", "plan": "target",
                 "equivalent-dense": "sparsities", "curves/loss-vs-data": "datamin",
                 "curves/optimal-sparsity": "compute", "contours": "level"}
        for route, (base, _, _) in QUERY_ROUTES.items():
            params = dict(base)
            params[typos[route]] = "1"
            err = self.assert_error(self.srv.get(self.url(route, params)), 400,
                                    "unknown_parameter", typos[route], msg=route)
            self.assertIn(typos[route], err["message"])
        r = self.srv.request("POST", "/v1/laws/t5-c4/loss?sparsity=0.5",
                             json_body={"points": [{"sparsity": 0, "nonzeros": 1, "data": 1}]})
        self.assert_error(r, 400, "unknown_parameter", "sparsity")

    def test_same_for_vit(self):
        r = self.srv.get(self.url("loss", {"sparsity": "nan", "nonzeros": 1e8, "data": 1e9},
                                  "vit-jft"))
        self.assert_error(r, 400, "invalid_parameter", "sparsity")
        r = self.srv.get(self.url("optimal-sparsity", {"nonzeros": 1e8, "data": "inf"},
                                  "vit-jft"))
        self.assert_error(r, 400, "invalid_parameter", "data")

    def test_extreme_values_never_500(self):
        extremes = ["1e-320", "1e-300", "1e-30", "1e30", "1e300", "1.7976931348623157e308"]
        fractions = ["0", "0.9999999999999999"]
        count = 0
        for law in ("t5-c4", "vit-jft"):
            for route, (base, numeric, _) in QUERY_ROUTES.items():
                names = list(numeric)
                for i, name in enumerate(names):
                    values = fractions if numeric[name] == "fraction" else extremes
                    for value in values:
                        # alone, and together with the next parameter at the same extreme
                        for pair in ((name,), tuple(names[i:i + 2])):
                            params = dict(base)
                            for p in pair:
                                if numeric[p] == numeric[name]:
                                    params[p] = value
                            for extra in ({}, {"cost_model": "gmp"}):
                                if extra and "max_sparsity" not in numeric:
                                    continue
                                url = self.url(route, dict(params, **extra), law)
                                r = self.srv.get(url)
                                count += 1
                                self.assertLess(r.status, 500, "%s %s" % (url, r))
                                self.assertIn(r.status, (200, 400, 422), "%s %s" % (url, r))
                                if r.header("content-type").startswith("application/json"):
                                    r.json()
        self.assertGreater(count, 100)
        r = self.srv.get(self.url("optimal-sparsity", {"nonzeros": 1e300, "data": 1e300}))
        self.assert_error(r, 400, "invalid_parameter", "nonzeros")
        self.assertIn("[1, 1e30]", r.json()["error"]["message"])
        r = self.srv.get(self.url("optimal-sparsity", {"nonzeros": 1e9, "compute": 1e46}))
        self.assert_error(r, 400, "invalid_parameter", "compute")
        r = self.srv.get(self.url("plan", {"target_loss": 1e300, "nonzeros": 1e9}))
        self.assert_error(r, 422, "unprocessable")

    def test_budget_overflow(self):
        # finite inputs whose D_dense = C / 6N is not a finite positive number
        for n, c in ((1e-300, 1e300), (1e300, 1e-300)):
            r = self.srv.get(self.url("optimal-sparsity", {"nonzeros": n, "compute": c}))
            self.assertIn(r.status, (400, 422), r)
            self.assertIn("error", r.json())


# ---------------------------------------------------------------- routing, methods

class TestRouting(Base):
    def test_unknown_routes(self):
        for path in ("/v1/nope", "/v1/laws/t5-c4/nope", "/v1/laws/t5-c4/loss/x", "/v1/",
                     "/v1/laws/", "/v2/laws", "/nope.txt", "/../etc/passwd", "/sub/../../x",
                     "/v1/laws/" + "a" * 300):
            self.assert_error(self.srv.get(path), 404, "not_found", msg=path)

    def test_wrong_method(self):
        cases = [
            ("POST", "/v1/laws", {"GET", "HEAD"}),
            ("DELETE", "/v1/laws", {"GET", "HEAD"}),
            ("PATCH", "/v1/laws/t5-c4", {"GET", "HEAD", "PUT", "DELETE"}),
            ("POST", "/v1/laws/t5-c4", {"GET", "HEAD", "PUT", "DELETE"}),
            ("PUT", "/v1/laws/t5-c4/loss", {"GET", "HEAD", "POST"}),
            ("POST", "/v1/laws/t5-c4/optimal-sparsity", {"GET", "HEAD"}),
            ("DELETE", "/v1/laws/t5-c4/versions", {"GET", "HEAD"}),
            ("POST", "/healthz", {"GET", "HEAD"}),
            ("PUT", "/metrics", {"GET", "HEAD"}),
            ("POST", "/", {"GET", "HEAD"}),
            ("OPTIONS", "/v1/laws/t5-c4/contours", {"GET", "HEAD"}),
        ]
        for method, path, allow in cases:
            r = self.srv.request(method, path, body=b"{}" if method in ("POST", "PUT") else None,
                                 headers={"Content-Type": "application/json"}, token=TOKEN)
            self.assert_error(r, 405, "method_not_allowed", msg="%s %s" % (method, path))
            got = {m.strip() for m in (r.header("allow") or "").split(",") if m.strip()}
            self.assertEqual(got, allow, "%s %s" % (method, path))

    def test_healthz(self):
        body = self.get_json("/healthz")
        self.assertEqual(body["status"], "ok")
        self.assertGreaterEqual(body["laws"], 2)

    def test_static(self):
        for path in ("/", "/index.html"):
            r = self.srv.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.body, STATIC_INDEX)
            self.assertTrue(r.header("content-type").startswith("text/html"))
        r = self.srv.get("/app.js")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, STATIC_JS)
        self.assertIn("javascript", r.header("content-type"))
        self.assertEqual(self.srv.get("/sub").body, b"sub\n")
        self.assertEqual(self.srv.request("HEAD", "/").status, 200)
        self.assert_error(self.srv.get("/index.html?x=1"), 400, "unknown_parameter", "x")

    def test_openapi_served_is_the_file(self):
        r = self.srv.get("/openapi.json")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        with open(harness.OPENAPI_PATH, "rb") as f:
            self.assertEqual(r.body, f.read())
        json.loads(r.body)

    def test_concurrent_queries(self):
        results = []

        def worker(i):
            s = (i % 8) / 10
            r = self.srv.get("/v1/laws/t5-c4/loss?" + q(sparsity=s, nonzeros=1e8, data=1e10))
            results.append((s, r.status, r.json().get("loss")))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(results), 32)
        for s, status, loss in results:
            self.assertEqual(status, 200)
            self.assert_close(loss, ref_loss(COEF["t5-c4"], s, 1e8, 1e10), 1e-12)


# ---------------------------------------------------------------- metrics, logs

class TestMetricsAndLogs(Base):
    def metric(self, **labels):
        r = self.srv.get("/metrics")
        self.assertEqual(r.status, 200)
        return metric_sum(parse_metrics(r.text()), "sparselaw_http_requests_total", **labels)

    def test_metrics(self):
        route = "/v1/laws/{name}/equivalent-dense"
        before = self.metric(route=route, status="200")
        self.ok(self.srv.get("/v1/laws/t5-c4/equivalent-dense?sparsity=0.25"))
        deadline = time.time() + 2
        after = self.metric(route=route, status="200")
        while after == before and time.time() < deadline:
            time.sleep(0.02)
            after = self.metric(route=route, status="200")
        self.assertEqual(after, before + 1)
        self.srv.get("/v1/laws/t5-c4/loss?sparsity=2")
        self.srv.get("/v1/no-such-route")
        time.sleep(0.05)
        r = self.srv.get("/metrics")
        self.assertTrue(r.header("content-type").startswith("text/plain"), r.headers)
        text = r.text()
        self.assertIn("# TYPE sparselaw_http_requests_total counter", text)
        self.assertIn("# TYPE sparselaw_http_request_duration_seconds histogram", text)
        for gauge, states in (("sparselaw_fits", ("queued", "running", "succeeded", "failed")),
                              ("sparselaw_runs", ("queued", "running", "succeeded", "failed",
                                                  "cancelled"))):
            self.assertIn("# TYPE %s gauge" % gauge, text)
            for state in states:
                self.assertRegex(text, r'%s\{state="%s"\} \d+' % (gauge, state))
        samples = parse_metrics(text)
        total = "sparselaw_http_requests_total"
        self.assertGreaterEqual(metric_sum(samples, total, route="/v1/laws/{name}/loss",
                                           status="400"), 1)
        self.assertGreaterEqual(metric_sum(samples, total, route="/metrics", status="200"), 1)
        self.assertGreaterEqual(metric_sum(samples, total, status="404"), 1)
        routes = {l.get("route") for n, l, _ in samples if n == total}
        self.assertIn("/v1/laws/{name}", routes)
        self.assertIn("/healthz", routes)
        buckets = [(l["le"], v) for n, l, v in samples
                   if n == "sparselaw_http_request_duration_seconds_bucket"]
        self.assertGreater(len(buckets), 3)
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts))
        self.assertEqual(buckets[-1][0], "+Inf")
        self.assertEqual(buckets[-1][1], metric_sum(
            samples, "sparselaw_http_request_duration_seconds_count"))

    def wait_lines(self, path, n, timeout=3):
        deadline = time.time() + timeout
        while time.time() < deadline:
            lines = self.srv.request_lines(path)
            if len(lines) >= n:
                return lines
            time.sleep(0.02)
        return self.srv.request_lines(path)

    def test_one_log_line_per_request(self):
        probes = [
            ("GET", "/v1/laws/log-probe-a", None, 404, "/v1/laws/{name}"),
            ("GET", "/v1/laws/log-probe-b/versions", None, 404, "/v1/laws/{name}/versions"),
            ("PATCH", "/v1/laws/log-probe-c", None, 405, None),
            ("PUT", "/v1/laws/log-probe-d", b"{}", 401, "/v1/laws/{name}"),
            ("GET", "/v1/log-probe-e", None, 404, None),
            ("GET", "/v1/laws/log-probe-" + "x" * 700, None, 404, None),
        ]
        for method, path, body, status, route in probes:
            before = len(self.srv.request_lines(path))
            r = self.srv.request(method, path, body=body,
                                 headers={"Content-Type": "application/json"} if body else None)
            self.assertEqual(r.status, status, (method, path, r))
            lines = self.wait_lines(path, before + 1)
            self.assertEqual(len(lines), before + 1, "log lines for %s %s" % (method, path[:60]))
            line = lines[-1]
            self.assertEqual(line["method"], method)
            self.assertEqual(line["status"], status)
            self.assertIsInstance(line["us"], int)
            self.assertGreaterEqual(line["us"], 0)
            self.assertIsInstance(line["route"], str)
            if route:
                self.assertEqual(line["route"], route)
        path = "/v1/laws/vit-jft/equivalent-dense"
        before = len(self.srv.request_lines(path))
        self.ok(self.srv.get(path + "?sparsity=0.125"))
        self.ok(self.srv.get(path + "?sparsity=0.25"))
        lines = self.wait_lines(path, before + 2)
        self.assertEqual(len(lines), before + 2)
        self.assertEqual({l["route"] for l in lines[-2:]}, {"/v1/laws/{name}/equivalent-dense"})
        self.assertEqual({l["status"] for l in lines[-2:]}, {200})

    def test_stderr_is_json_lines(self):
        """Every line the shared server wrote so far parses as a JSON object."""
        self.assertEqual(self.srv.non_json_lines(), [])
        entries = self.srv.log_entries()  # names the first line that does not parse
        self.assertIn("listening", [e.get("event") for e in entries])


# ---------------------------------------------------------------- writes

def law_body(scale=1.0, unit="tokens", **extra):
    coef = dict(COEF["t5-c4"])
    coef["a_s"] *= scale
    body = {"coefficients": coef, "units": {"data": unit, "nonzeros": "parameters"},
            "description": "written by test_http", "source": {"reference": "test"}}
    body.update(extra)
    return body


class TestWrites(Base):
    def put(self, name, body, token=TOKEN, ctype="application/json"):
        headers = {"Content-Type": ctype} if ctype else {}
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.srv.request("PUT", "/v1/laws/" + name, body=data, headers=headers,
                                token=token)

    def versions(self, name):
        return [v["version"] for v in self.get_json("/v1/laws/%s/versions" % name)["versions"]]

    def test_auth(self):
        r = self.srv.request("PUT", "/v1/laws/auth-law", json_body=law_body())
        self.assert_error(r, 401, "unauthorized")
        self.assertTrue((r.header("www-authenticate") or "").startswith("Bearer"), r.headers)
        for auth in ("Basic dXNlcjpwYXNz", "Bearer", "bearer", TOKEN):
            r = self.srv.request("PUT", "/v1/laws/auth-law", json_body=law_body(),
                                 headers={"Authorization": auth})
            self.assert_error(r, 401, "unauthorized", msg=auth)
        for token in ("wrong-token-0123456789abcdef", TOKEN + "x", TOKEN[:-1], "x"):
            r = self.put("auth-law", law_body(), token=token)
            self.assert_error(r, 403, "forbidden", msg=token)
        r = self.srv.request("DELETE", "/v1/laws/auth-law")
        self.assert_error(r, 401, "unauthorized")
        self.assert_error(self.srv.get("/v1/laws/auth-law"), 404, "not_found")
        # the scheme is case-insensitive
        r = self.srv.request("PUT", "/v1/laws/auth-law", json_body=law_body(),
                             headers={"Authorization": "bearer " + TOKEN})
        self.assertEqual(r.status, 201, r)
        self.ok(self.srv.request("DELETE", "/v1/laws/auth-law", token=TOKEN))

    def test_put_versions_and_queries(self):
        name = "my-law.v1_test"
        r = self.put(name, law_body())
        created = self.ok(r, 201)
        self.assertEqual(created["name"], name)
        self.assertEqual(created["version"], 1)
        self.assertEqual(created["source"]["kind"], "manual")
        self.assertEqual(created["units"], {"nonzeros": "parameters", "data": "tokens"})
        self.assertEqual(created["coefficients"], COEF["t5-c4"])
        r = self.put(name, law_body(scale=2.0, unit="steps"))
        v2 = self.ok(r, 200)
        self.assertEqual(v2["version"], 2)
        self.assertEqual(self.versions(name), [1, 2])
        latest = self.get_json("/v1/laws/" + name)
        self.assertEqual(latest["version"], 2)
        self.assertEqual(latest["units"]["data"], "steps")
        self.assertEqual(latest["coefficients"]["a_s"], 2 * COEF["t5-c4"]["a_s"])
        old = self.get_json("/v1/laws/%s?version=1" % name)
        self.assertEqual(old["coefficients"], COEF["t5-c4"])
        listed = {l["name"]: l for l in self.get_json("/v1/laws")["laws"]}
        self.assertEqual(listed[name]["version"], 2)
        # queries answer from the latest version, or the one asked for
        k2 = dict(COEF["t5-c4"], a_s=2 * COEF["t5-c4"]["a_s"])
        loss = self.get_json("/v1/laws/%s/loss?%s" % (name, q(sparsity=0.5, nonzeros=1e8,
                                                               data=1e10)))
        self.assert_close(loss["loss"], ref_loss(k2, 0.5, 1e8, 1e10), 1e-12)
        self.assertEqual(loss["law"], {"name": name, "version": 2})
        self.assertEqual(loss["units"]["data"], "steps")
        loss1 = self.get_json("/v1/laws/%s/loss?%s" % (name, q(sparsity=0.5, nonzeros=1e8,
                                                                data=1e10, version=1)))
        self.assert_close(loss1["loss"], 1.8361144547, 1e-9)
        opt = self.get_json("/v1/laws/%s/optimal-sparsity?%s&version=1"
                            % (name, q(nonzeros=1e9, data=2e11)))
        self.assert_close(opt["sparsity"], 0.158611, 1e-6)
        opt = self.get_json("/v1/laws/%s/optimal-sparsity?%s&version=1"
                            % (name, q(nonzeros=1e9, compute=1.2e21)))
        self.assert_close(opt["sparsity"], 0.158611, 1e-6)
        # version 2 is in steps: compute= cannot be converted
        r = self.srv.get("/v1/laws/%s/optimal-sparsity?%s" % (name, q(nonzeros=1e9,
                                                                       compute=1e21)))
        self.assert_error(r, 422, "unit_mismatch", "compute")
        for route in ("plan?target_loss=2&nonzeros=1e9", "equivalent-dense?sparsity=0.5",
                      "curves/loss-vs-data?nonzeros=1e8&points=3",
                      "curves/optimal-sparsity?points=3", "contours?points=3"):
            self.get_json("/v1/laws/%s/%s" % (name, route))
        batch = self.ok(self.srv.request("POST", "/v1/laws/%s/loss" % name, json_body={
            "points": [{"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10}]}))
        self.assertEqual(batch["points"][0]["loss"], loss["loss"])

    def test_bad_puts_change_nothing(self):
        name = "stable-law"
        self.ok(self.put(name, law_body()), 201)
        self.ok(self.put(name, law_body(scale=3.0)), 200)
        before = self.get_json("/v1/laws/" + name)
        coef = COEF["t5-c4"]
        no_bd = {k: v for k, v in coef.items() if k != "b_d"}
        cases = [
            ({"units": {"data": "tokens"}}, "invalid_body", "coefficients"),
            (law_body(coefficients=no_bd), "invalid_body", "coefficients.b_d"),
            (law_body(coefficients=dict(coef, a_s=-1)), "invalid_body", "coefficients"),
            (law_body(coefficients=dict(coef, b_n=0)), "invalid_body", "coefficients"),
            (law_body(coefficients=dict(coef, a_d=0)), "invalid_body", "coefficients"),
            (law_body(coefficients=dict(coef, c=-0.5)), "invalid_body", "coefficients"),
            (law_body(coefficients=dict(coef, a_s="16.8")), "invalid_body", "coefficients.a_s"),
            (law_body(coefficients=dict(coef, a_s=None)), "invalid_body", "coefficients.a_s"),
            (law_body(coefficients=dict(coef, d=1)), "invalid_body", "coefficients"),
            (law_body(coefficients=[1, 2, 3, 4, 5, 6, 7]), "invalid_body", "coefficients"),
            (law_body(unit="images"), "invalid_body", "units.data"),
            (law_body(unit="Tokens"), "invalid_body", "units.data"),
            (law_body(units={"nonzeros": "parameters"}), "invalid_body", "units.data"),
            (law_body(units={"data": "tokens", "nonzeros": "millions"}), "invalid_body",
             "units.nonzeros"),
            (law_body(units={"data": "tokens", "time": "s"}), "invalid_body", "units"),
            (law_body(units="tokens"), "invalid_body", "units"),
            ({"coefficients": coef}, "invalid_body", "units"),
            (law_body(coef=coef), "invalid_body", None),
            (law_body(description=7), "invalid_body", "description"),
            (law_body(description="x" * 5000), "invalid_body", "description"),
            (law_body(source={"kind": "builtin"}), "invalid_body", "source.kind"),
            (law_body(source={"kind": "manual", "url": "x"}), "invalid_body", "source"),
            (law_body(source="paper"), "invalid_body", "source"),
            ([law_body()], "invalid_body", None),
            ("null", "invalid_body", None),
            ('{"coefficients": ', "invalid_json", None),
            ('{"coefficients": {"a_s": 1e400}}', "invalid_json", None),
            ("", "invalid_json", None),
        ]
        for body, code, field in cases:
            r = self.put(name, body)
            self.assert_error(r, 400, code, field, msg=str(body)[:200])
        r = self.put(name, law_body(), ctype="text/plain")
        self.assert_error(r, 415, "unsupported_media_type")
        r = self.put(name, law_body(), ctype=None)
        self.assert_error(r, 415, "unsupported_media_type")
        r = self.srv.request("PUT", "/v1/laws/%s?version=3" % name, json_body=law_body(),
                             token=TOKEN)
        self.assert_error(r, 400, "unknown_parameter", "version")
        self.assertEqual(self.get_json("/v1/laws/" + name), before)
        self.assertEqual(self.versions(name), [1, 2])

    def test_concurrent_puts_get_distinct_versions(self):
        name = "raced-law"
        results = []

        def put(i):
            r = self.put(name, law_body(scale=1.0 + i))
            results.append((r.status, r.json().get("version")))

        threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(v for _, v in results), list(range(1, 9)), results)
        self.assertEqual(sorted(st for st, _ in results), [200] * 7 + [201], results)
        self.assertEqual([st for st, v in results if v == 1], [201])
        self.assertEqual(self.versions(name), list(range(1, 9)))
        self.ok(self.srv.request("DELETE", "/v1/laws/" + name, token=TOKEN))

    def test_bad_names(self):
        for name in ("BadName", "-lead", ".hidden", "_x", "a" * 65, "sp%20ace", "semi;colon",
                     "%C3%A9t%C3%A9", "nul%00junk"):
            r = self.put(name, law_body())
            self.assert_error(r, 400, "invalid_parameter", "name", msg=name)
            self.assert_error(self.srv.get("/v1/laws/" + name), 404, "not_found", msg=name)
        # a NUL must not cut the name short: nothing was written under "nul"
        self.assert_error(self.srv.get("/v1/laws/nul"), 404, "not_found")
        self.assert_error(self.srv.get("/v1/laws/t5-c4%00x"), 404, "not_found")
        self.ok(self.put("a" * 64, law_body()), 201)
        self.ok(self.srv.request("DELETE", "/v1/laws/" + "a" * 64, token=TOKEN))

    def test_builtins_are_read_only(self):
        for name in ("t5-c4", "vit-jft"):
            before = self.get_json("/v1/laws/" + name)
            r = self.put(name, law_body())
            self.assert_error(r, 409, "conflict", msg=name)
            r = self.srv.request("DELETE", "/v1/laws/" + name, token=TOKEN)
            self.assert_error(r, 409, "conflict", msg=name)
            self.assertEqual(self.get_json("/v1/laws/" + name), before)
            self.assertEqual(self.versions(name), [1])
            self.assertEqual(before["coefficients"], COEF[name])

    def test_delete(self):
        name = "to-delete"
        self.ok(self.put(name, law_body()), 201)
        self.ok(self.put(name, law_body(scale=2)), 200)
        r = self.srv.request("DELETE", "/v1/laws/" + name, token="wrong-token-0123456789abcd")
        self.assert_error(r, 403, "forbidden")
        self.assertEqual(self.versions(name), [1, 2])
        body = self.ok(self.srv.request("DELETE", "/v1/laws/" + name, token=TOKEN))
        self.assertEqual(body.get("name"), name)
        self.assert_error(self.srv.get("/v1/laws/" + name), 404, "not_found")
        self.assert_error(self.srv.get("/v1/laws/%s/versions" % name), 404, "not_found")
        self.assert_error(self.srv.get("/v1/laws/%s/loss?%s" % (
            name, q(sparsity=0, nonzeros=1e8, data=1e9))), 404, "not_found")
        self.assertNotIn(name, [l["name"] for l in self.get_json("/v1/laws")["laws"]])
        r = self.srv.request("DELETE", "/v1/laws/" + name, token=TOKEN)
        self.assert_error(r, 404, "not_found")
        r = self.srv.request("DELETE", "/v1/laws/never-existed", token=TOKEN)
        self.assert_error(r, 404, "not_found")
        # written again, the law continues its version count: (name, 2) keeps one meaning
        self.assertEqual(self.ok(self.put(name, law_body(scale=3)), 201)["version"], 3)
        self.assertEqual(self.versions(name), [3])
        self.assert_error(self.srv.get("/v1/laws/%s?version=2" % name), 404, "not_found")


# ---------------------------------------------------------------- servers of their own

class TestRestart(OwnServers, Base):
    tmp_prefix = "sparselaw-restart-"

    def test_restart_keeps_laws_and_loads_builtins_once(self):
        s = self.start()
        for scale, status in ((1.0, 201), (2.0, 200)):
            r = s.request("PUT", "/v1/laws/kept", json_body=law_body(scale=scale), token=TOKEN)
            self.assertEqual(r.status, status, r)
        v_before = self.get_json("/v1/laws/kept/versions", server=s)
        list_before = self.get_json("/v1/laws", server=s)
        self.stop(s)
        for _ in range(2):
            s = self.start()
            self.assertEqual(self.get_json("/v1/laws/kept/versions", server=s), v_before)
            self.assertEqual([v["version"] for v in v_before["versions"]], [1, 2])
            self.assertEqual(self.get_json("/v1/laws", server=s), list_before)
            names = [l["name"] for l in list_before["laws"]]
            self.assertEqual(sorted(names), ["kept", "t5-c4", "vit-jft"])
            for name in ("t5-c4", "vit-jft"):
                self.assertEqual([v["version"] for v in self.get_json(
                    "/v1/laws/%s/versions" % name, server=s)["versions"]], [1])
            health = self.get_json("/healthz", server=s)
            self.assertEqual(health["laws"], 3)
            self.stop(s)

    def second_server(self, *args):
        """A second sparselawd run to its exit: (exit code, stderr)."""
        out = subprocess.run([harness.SERVER_BIN, "--bind", "127.0.0.1",
                              "--token-file", self.token_file] + list(args),
                             capture_output=True, text=True, timeout=30,
                             env=harness.clean_env())
        return out.returncode, out.stderr

    def test_a_port_in_use_is_refused_before_the_data_is_touched(self):
        s = self.start()
        other = os.path.join(self.tmp, "other")
        rc, err = self.second_server("--port", str(s.port), "--data-dir", other)
        self.assertNotEqual(rc, 0, err)
        self.assertIn("port %d is in use" % s.port, err)
        self.assertFalse(os.path.exists(other), "the refused server created its data directory")
        self.ok(s.get("/healthz"))  # the first one still answers, alone
        self.stop(s)

    def test_one_server_per_data_directory(self):
        s = self.start()
        rc, err = self.second_server("--port", "0", "--data-dir", self.data)
        self.assertNotEqual(rc, 0, err)
        self.assertIn("data directory %s is in use by another sparselawd (pid %d)"
                      % (self.data, s.proc.pid), err)
        self.ok(s.get("/healthz"))
        # Killed, however it dies, the first releases the directory.
        s.kill()
        s = self.start()
        self.ok(s.get("/healthz"))
        self.stop(s)

    def test_an_unreadable_corpus_is_said_at_start_and_refuses_local_sweeps(self):
        missing = os.path.join(self.tmp, "no-such-corpus")
        s = self.start(args=["--corpus", missing])
        warnings = [e for e in s.log_entries() if e.get("event") == "corpus_unreadable"]
        self.assertEqual(len(warnings), 1, s.stderr_text()[-2000:])
        self.assertIn(missing, warnings[0]["detail"])
        r = s.request("POST", "/v1/sweeps", json_body=harness.sweep_body("no-corpus"), token=TOKEN)
        err = self.assert_error(r, 422, "unprocessable", "backend")
        self.assertIn(missing, err["message"])
        self.assertIn("--corpus", err["message"])
        self.assert_error(s.get("/v1/sweeps/1", token=TOKEN), 404, "not_found")  # none stored
        # An empty directory or an empty file is no corpus either.
        os.mkdir(missing)
        r = s.request("POST", "/v1/sweeps", json_body=harness.sweep_body("no-corpus"), token=TOKEN)
        err = self.assert_error(r, 422, "unprocessable", "backend")
        self.assertIn("no readable .txt file", err["message"])
        self.stop(s)
        empty = os.path.join(self.tmp, "empty.txt")
        open(empty, "w").close()
        s = self.start(args=["--corpus", empty])
        r = s.request("POST", "/v1/sweeps", json_body=harness.sweep_body("no-corpus"), token=TOKEN)
        err = self.assert_error(r, 422, "unprocessable", "backend")
        self.assertIn("is empty", err["message"])
        self.stop(s)

    def test_generated_token(self):
        s = self.start(token_file=None)
        path = os.path.join(self.data, "token")
        self.assertTrue(os.path.exists(path))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            token = f.read().strip()
        self.assertGreaterEqual(len(token), 16)
        r = s.request("PUT", "/v1/laws/gen", json_body=law_body(), token=token)
        self.assertEqual(r.status, 201, r)
        self.stop(s)
        s = self.start(token_file=None)  # the same token again
        r = s.request("PUT", "/v1/laws/gen", json_body=law_body(), token=token)
        self.assertEqual(r.status, 200, r)
        self.stop(s)
        s = self.start(token_file=None, env_extra={"SPARSELAW_TOKEN": TOKEN})
        r = s.request("PUT", "/v1/laws/gen", json_body=law_body(), token=token)
        self.assert_error(r, 403, "forbidden")
        r = s.request("PUT", "/v1/laws/gen", json_body=law_body(), token=TOKEN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], 3)
        self.stop(s)

    def test_body_limit(self):
        s = self.start(args=["--max-body", "1024"])
        point = {"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10}
        small = json.dumps({"points": [point] * 10}).encode()
        big = json.dumps({"points": [point] * 40}).encode()
        self.assertLess(len(small), 1024)
        self.assertGreater(len(big), 1024)
        headers = {"Content-Type": "application/json"}
        r = s.request("POST", "/v1/laws/t5-c4/loss", body=small, headers=headers)
        self.assertEqual(r.status, 200, r)
        r = s.request("POST", "/v1/laws/t5-c4/loss", body=big, headers=headers)
        self.assert_error(r, 413, "payload_too_large")
        # without Content-Length: chunked, found too large while reading
        conn = s.connect()
        try:
            conn.putrequest("POST", "/v1/laws/t5-c4/loss")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(big), 300):
                chunk = big[i:i + 300]
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
            r = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()
        self.assert_error(r, 413, "payload_too_large")
        r = s.request("PUT", "/v1/laws/too-big", body=json.dumps(law_body(description="x" * 2000)),
                      headers=headers, token=TOKEN)
        self.assert_error(r, 413, "payload_too_large")
        self.assert_error(s.get("/v1/laws/too-big"), 404, "not_found")
        r = s.request("POST", "/v1/laws/t5-c4/loss", body=small, headers=headers)
        self.assertEqual(r.status, 200, r)
        self.stop(s)

    def test_sigterm_finishes_in_flight_request(self):
        s = self.start()
        body = json.dumps({"points": [{"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10}]}).encode()
        # an idle keep-alive connection, and a request whose body is half sent
        idle = s.connect()
        idle.request("GET", "/healthz")
        first = idle.getresponse()
        first.read()
        self.assertEqual(first.status, 200)
        busy = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        busy.sendall(b"POST /v1/laws/t5-c4/loss HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body[:10])
        time.sleep(0.5)  # the server has read the headers and admitted the request
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        while '"stopping"' not in s.stderr_text() and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        # new connections are refused while draining
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        # a new request on an open connection: 503, retry later
        idle.request("GET", "/healthz")
        late = idle.getresponse()
        late_body = late.read()
        idle.close()
        self.assertEqual(late.status, 503, late_body)
        self.assertEqual(json.loads(late_body)["error"]["code"], "shutting_down")
        self.assertTrue(late.getheader("Retry-After"))
        OBSERVED_ERRORS.setdefault("shutting_down", 503)
        # the request in flight is still answered, in full
        busy.sendall(body[10:])
        raw = b""
        while True:
            chunk = busy.recv(65536)
            if not chunk:
                break
            raw += chunk
        busy.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), raw[:300])
        self.assert_close(json.loads(payload)["points"][0]["loss"], 1.8361144547, 1e-9)
        rc = s.proc.wait(15)
        s.reader.join(5)
        self.assertEqual(rc, 0, s.stderr_text()[-2000:])
        self.assertIn('"stopped"', s.stderr_text())
        self.assertEqual(s.non_json_lines(), [])


# ---------------------------------------------------------------- openapi sync

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def openapi_error_codes(doc):
    """x-error-codes as {code: status}; accepts a list of objects, a map of
    code -> status, or a map of code -> {status}."""
    raw = None
    for holder in (doc, doc.get("info", {}), doc.get("components", {})):
        if isinstance(holder, dict) and "x-error-codes" in holder:
            raw = holder["x-error-codes"]
            break
    if raw is None:
        raise AssertionError("openapi.json has no x-error-codes")
    out = {}
    if isinstance(raw, list):
        for item in raw:
            out[item["code"]] = int(item["status"])
    elif isinstance(raw, dict):
        for code, v in raw.items():
            out[code] = int(v["status"] if isinstance(v, dict) else v)
    else:
        raise AssertionError("x-error-codes must be a list or an object")
    return out


# One request for each error code the shared server can be made to answer
# (payload_too_large needs a small --max-body, shutting_down a server that
# drains, internal a bug): the observed-error checks below make their own
# observations, so that run alone they still check these codes.
JSON = {"Content-Type": "application/json"}
ERROR_PROBES = [
    (400, "invalid_parameter", "GET",
     "/v1/laws/t5-c4/loss?" + q(sparsity=2, nonzeros=1e8, data=1e9), {}),
    (400, "missing_parameter", "GET", "/v1/laws/t5-c4/loss?" + q(sparsity=0.5, nonzeros=1e8), {}),
    (400, "unknown_parameter", "GET",
     "/v1/laws/t5-c4/loss?" + q(sparsity=0.5, nonzeros=1e8, data=1e9, sparsty=1), {}),
    (400, "invalid_json", "POST", "/v1/laws/t5-c4/loss", {"body": "{", "headers": JSON}),
    (400, "invalid_body", "POST", "/v1/laws/t5-c4/loss", {"json_body": {"points": []}}),
    (401, "unauthorized", "PUT", "/v1/laws/probe-law", {"json_body": law_body()}),
    (403, "forbidden", "PUT", "/v1/laws/probe-law",
     {"json_body": law_body(), "token": "wrong-token-0123456789abcdef"}),
    (404, "not_found", "GET", "/v1/no-such-route", {}),
    (405, "method_not_allowed", "POST", "/v1/laws", {"json_body": {}, "token": TOKEN}),
    (409, "conflict", "PUT", "/v1/laws/t5-c4", {"json_body": law_body(), "token": TOKEN}),
    (415, "unsupported_media_type", "POST", "/v1/laws/t5-c4/loss",
     {"body": "{}", "headers": {"Content-Type": "text/plain"}}),
    (422, "unit_mismatch", "GET",
     "/v1/laws/vit-jft/optimal-sparsity?" + q(nonzeros=1e9, compute=1.2e21), {}),
    (422, "unreachable_target", "GET", "/v1/laws/t5-c4/plan?" + q(target_loss=0.5, nonzeros=1e9),
     {}),
    (422, "unprocessable", "GET", "/v1/laws/t5-c4/plan?" + q(target_loss=1e300, nonzeros=1e9),
     {}),
]


class TestZOpenApiSync(Base):
    """Runs last: it also checks the error codes the other tests saw."""

    @classmethod
    def setUpClass(cls):
        out = subprocess.run([harness.SERVER_BIN, "--routes"], capture_output=True, timeout=10,
                             check=True)
        cls.routes = json.loads(out.stdout)
        with open(harness.OPENAPI_PATH, "rb") as f:
            cls.raw = f.read()
        cls.doc = json.loads(cls.raw)

    def test_route_table_shape(self):
        self.assertGreater(len(self.routes), 10)
        seen = set()
        for r in self.routes:
            for key in ("method", "path", "params", "auth", "json_body", "static"):
                self.assertIn(key, r)
            self.assertNotIn((r["method"], r["path"]), seen)
            seen.add((r["method"], r["path"]))
        self.assertTrue(all(r["auth"] for r in self.routes if r["method"] in ("PUT", "DELETE")))

    def test_document(self):
        self.assertTrue(str(self.doc.get("openapi", "")).startswith("3.1"))
        self.assertIsInstance(self.doc.get("paths"), dict)
        self.assertEqual(self.srv.get("/openapi.json").body, self.raw)

    def operations(self):
        ops = {}
        for path, item in self.doc.get("paths", {}).items():
            item = resolve(self.doc, item)
            shared = [resolve(self.doc, p) for p in item.get("parameters", [])]
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                op = resolve(self.doc, item[method])
                params = {(p["in"], p["name"]): p for p in shared}
                for p in op.get("parameters", []):
                    p = resolve(self.doc, p)
                    params[(p["in"], p["name"])] = p
                ops[(method.upper(), path)] = {n for (where, n) in params if where == "query"}
        return ops

    def test_every_route_is_documented_and_back(self):
        ops = self.operations()
        table = {(r["method"], route_to_openapi_path(r["path"])): set(r["params"])
                 for r in self.routes}
        self.assertEqual(sorted(set(table) - set(ops)), [], "routes missing from openapi.json")
        self.assertEqual(sorted(set(ops) - set(table)), [],
                         "openapi.json operations the server does not have")

    def test_query_parameters_match(self):
        ops = self.operations()
        for r in self.routes:
            key = (r["method"], route_to_openapi_path(r["path"]))
            if key in ops:
                self.assertEqual(ops[key], set(r["params"]), "query parameters of %s %s" % key)

    def test_error_codes(self):
        documented = openapi_error_codes(self.doc)
        self.assertTrue(documented)
        for code, status in documented.items():
            self.assertRegex(code, CSV_NAME)
            self.assertTrue(400 <= status <= 599, (code, status))
        server = error_table_from_source()
        if server is not None:
            self.assertEqual(documented, server)
        # every code the tests saw is documented with the status it came with
        if harness.FULL_RUN:
            self.assertGreater(len(OBSERVED_ERRORS), 10)  # before the probes: the others' own
        self.probe_errors(ERROR_PROBES)
        for code, status in OBSERVED_ERRORS.items():
            self.assertEqual(documented.get(code), status, code)

    def test_observed_errors_match_the_server_table(self):
        self.assert_observed_errors_match_the_server_table(ERROR_PROBES)


# ---------------------------------------------------------------- main

TEST_CLASSES = [TestLawsRead, TestLoss, TestOptimalSparsity, TestPlanAndEquivalent, TestCurves,
                TestInvalidInput, TestRouting, TestMetricsAndLogs, TestWrites, TestRestart,
                TestZOpenApiSync]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__)))
