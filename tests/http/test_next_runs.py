#!/usr/bin/env python3
"""Black-box HTTP tests of POST /v1/laws/{name}/next-runs: on a thin synthetic
design (4 sparsities x 4 sizes x 3 data amounts spanning 4x, 1 % noise) the
runs it ranks first are at new data amounts, and adding them and refitting
narrows the S_opt interval, more than the same runs at the largest data
amount already there; every bad request is refused with the right error.

    python3 tests/http/test_next_runs.py --server build/sparselawd --openapi api/openapi.json

Standard library only; the server comes from harness.py beside this file.
"""
import json
import math
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import COEF, TOKEN, ndjson, q, ref_loss  # noqa: E402

THIN_S = (0.0, 0.5, 0.75, 0.875)
THIN_N = (1.5e7, 5e7, 1.5e8, 5e8)
THIN_D = (2.5e9, 5e9, 1e10)
NEW_D = (4e10, 1.6e11)
NOISE = 0.01  # log-normal, 1 %
FIT = {"loss": {"delta": 0.02, "residuals": "log"}, "bootstrap": 100}
# The decision: S_opt for a 1e9-parameter model at 2e11 tokens, 20x past the data.
DECISION = {"query": "optimal_sparsity", "nonzeros": 1e9, "data": 2e11}


def runs(seed, points):
    rng = random.Random(seed)
    k = COEF["t5-c4"]
    return [{"sparsity": s, "nonzeros": n, "data": d,
             "loss": ref_loss(k, s, n, d) * math.exp(rng.gauss(0.0, NOISE))}
            for s, n, d in points]


THIN = [(s, n, d) for s in THIN_S for n in THIN_N for d in THIN_D]
GRID = {"sparsities": list(THIN_S), "nonzeros": list(THIN_N), "data": list(THIN_D + NEW_D)}


def setUpModule():
    harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-next-"), server_cls=harness.FitServer)


def tearDownModule():
    harness.stop_shared()


class Base(harness.FitBase):
    def fit(self, ds, law, **extra):
        return self.fit_ok(dict(FIT, dataset=ds, law=law, **extra))

    def s_opt(self, law, version=None):
        params = dict(nonzeros=DECISION["nonzeros"], data=DECISION["data"])
        if version:
            params["version"] = version
        return self.get_json("/v1/laws/%s/optimal-sparsity?%s" % (law, q(**params)))

    def next_runs(self, law, body, status=200):
        r = self.srv.request("POST", "/v1/laws/%s/next-runs" % law, json_body=body)
        return self.ok(r, status)


class TestThinDesign(Base):
    def check_seed(self, seed):
        law = "thin-%d" % seed
        ds = self.upload_rows(runs(seed, THIN), law)
        self.fit(ds, law)
        before = self.s_opt(law, 1)
        width_before = before["interval"][1] - before["interval"][0]
        ncand = len(THIN_S) * len(THIN_N) * len(THIN_D + NEW_D)
        nr = self.next_runs(law, {"decision": DECISION, "grid": GRID, "top": ncand})
        self.assertEqual(nr["candidates"], ncand)
        self.assertEqual(len(nr["runs"]), ncand)
        self.assertEqual(nr["noise_source"], "fit rmse")
        fit_rmse = self.get_json("/v1/laws/" + law)["fit"]["rmse"]
        self.assertEqual(nr["noise"], fit_rmse)
        # the decision as the optimal-sparsity query states it, from the same draws
        dec = nr["decision"]
        self.assertEqual(dec["value"], before["sparsity"])
        self.assertEqual(dec["interval"], before["interval"])
        self.assertEqual(dec["draws"], 100)
        ranked = nr["runs"]
        self.assertEqual([r["rank"] for r in ranked], list(range(1, ncand + 1)))
        keys = [r["narrowing_per_flop"] for r in ranked]
        self.assertEqual(keys, sorted(keys, reverse=True))
        for r in ranked:
            self.assertEqual(r["flops"], 6 * r["nonzeros"] / (1 - r["sparsity"]) * r["data"])
            self.assert_rel(r["narrowing_per_flop"], r["expected_narrowing"] / r["flops"], 1e-12)
            self.assert_close(r["expected_narrowing"], dec["sd"] - r["expected_sd_after"], 1e-12)
            self.assertGreaterEqual(r["expected_narrowing"], 0)
            self.assert_rel(r["disagreement"], r["loss_spread"] / nr["noise"], 1e-12)
            self.assert_rel(r["loss"], ref_loss(self.get_json("/v1/laws/" + law)["coefficients"],
                                                r["sparsity"], r["nonzeros"], r["data"]), 1e-12)
        # where the draws disagree: new data amounts, far more than anywhere sampled
        by_info = sorted(ranked, key=lambda r: -r["expected_narrowing"])
        self.assertTrue(all(r["data"] in NEW_D for r in by_info[:10]), by_info[:10])
        best_new = max(r["expected_narrowing"] for r in ranked if r["data"] in NEW_D)
        best_old = max(r["expected_narrowing"] for r in ranked if r["data"] in THIN_D)
        self.assertGreater(best_new, 5 * best_old)
        # per FLOP too, the top suggestions are mostly new data amounts
        top = ranked[:8]
        self.assertGreaterEqual(sum(r["data"] in NEW_D for r in top[:5]), 3, top[:5])
        # run them (from the true law, fresh noise) and refit: the interval narrows
        points = [(r["sparsity"], r["nonzeros"], r["data"]) for r in top]
        add = runs(seed + 1000, points)
        r = self.srv.request("POST", "/v1/datasets/%d/rows" % ds, body=ndjson(add),
                             headers={"Content-Type": "application/x-ndjson"}, token=TOKEN)
        self.assertEqual(r.status, 200, r)
        self.fit(ds, law)
        after = self.s_opt(law, 2)
        width_after = after["interval"][1] - after["interval"][0]
        self.assertLess(width_after, 0.7 * width_before, (before, after))
        # the same 8 runs at the largest data amount sampled narrow it less
        control = runs(seed + 1000, [(s, n, max(THIN_D)) for s, n, _ in points])
        cds = self.upload_rows(runs(seed, THIN) + control, law + "-control")
        self.fit(cds, law + "-control")
        ctl = self.s_opt(law + "-control")
        self.assertLess(width_after, ctl["interval"][1] - ctl["interval"][0], (after, ctl))
        return width_before, width_after

    def test_suggestions_narrow_s_opt(self):
        for seed in (1, 3):
            with self.subTest(seed=seed):
                self.check_seed(seed)


class TestRequests(Base):
    @classmethod
    def setUpClass(cls):
        srv = harness.SHARED
        r = srv.request("POST", "/v1/datasets?" + q(name="nr", data_unit="tokens"),
                        body=ndjson(runs(7, THIN)),
                        headers={"Content-Type": "application/x-ndjson"}, token=TOKEN)
        ds = r.json()["id"]
        for law, boot in (("nr-boot", 20), ("nr-noboot", 0)):
            r = srv.request("POST", "/v1/fits?wait=true", token=TOKEN,
                            json_body=dict(FIT, dataset=ds, law=law, bootstrap=boot))
            assert r.status == 200 and r.json()["state"] == "succeeded", r
        r = srv.request("POST", "/v1/datasets?" + q(name="nr-ex", data_unit="examples"),
                        body=ndjson(runs(7, THIN)),
                        headers={"Content-Type": "application/x-ndjson"}, token=TOKEN)
        r = srv.request("POST", "/v1/fits?wait=true", token=TOKEN,
                        json_body=dict(FIT, dataset=r.json()["id"], law="nr-examples",
                                       bootstrap=20))
        assert r.status == 200 and r.json()["state"] == "succeeded", r

    def post(self, law, body, **kw):
        return self.srv.request("POST", "/v1/laws/%s/next-runs" % law, json_body=body, **kw)

    def test_candidates_and_loss_decision(self):
        cands = [{"sparsity": 0.5, "nonzeros": 1e8, "data": 1e11},
                 {"sparsity": 0.0, "nonzeros": 1e8, "data": 5e9, "flops": 1e30},
                 {"sparsity": 0.5, "nonzeros": 1e8, "data": 1e11}]
        body = {"decision": {"query": "loss", "sparsity": 0.5, "nonzeros": 1e9, "data": 1e12},
                "candidates": cands, "noise": 0.05, "top": 2}
        nr = self.next_runs("nr-boot", body)
        self.assertEqual(nr["noise"], 0.05)
        self.assertEqual(nr["noise_source"], "request")
        self.assertEqual(nr["candidates"], 3)
        self.assertEqual(len(nr["runs"]), 2)
        # equal candidates score alike; ties go to the earlier one
        self.assertEqual([r["candidate"] for r in nr["runs"]], [0, 2])
        self.assertEqual(nr["runs"][0]["expected_narrowing"], nr["runs"][1]["expected_narrowing"])
        self.assertEqual(nr["decision"]["query"], "loss")
        self.assertIn("loss", nr["units"]["expected_narrowing"])
        self.assertTrue(nr["units"]["flops"].startswith("FLOPs"))
        self.assertEqual(nr["law"]["name"], "nr-boot")
        # a budget given as compute is the same decision as its data
        by_c = self.next_runs("nr-boot", {"decision": {"query": "optimal_sparsity",
                                                       "nonzeros": 1e9, "compute": 1.2e21},
                                          "candidates": cands[:1]})
        by_d = self.next_runs("nr-boot", {"decision": {"query": "optimal_sparsity",
                                                       "nonzeros": 1e9, "data": 2e11},
                                          "candidates": cands[:1]})
        self.assertEqual(by_c["runs"], by_d["runs"])
        self.assertEqual(by_c["decision"]["compute"], 1.2e21)
        # examples: costs must come with the candidates
        ex = self.next_runs("nr-examples", {"decision": DECISION, "candidates": [
            dict(cands[0], flops=3e18)]})
        self.assertEqual(ex["runs"][0]["flops"], 3e18)
        self.assertEqual(ex["units"]["data"], "examples")

    def test_laws_without_draws(self):
        body = {"decision": DECISION, "grid": GRID}
        for law in ("nr-noboot", "t5-c4"):
            with self.subTest(law=law):
                err = self.assert_error(self.post(law, body), 422, "unprocessable")
                self.assertIn("fitted law with bootstrap", err["message"])
        self.assert_error(self.post("no-such-law", body), 404, "not_found")

    def test_refused(self):
        good = {"decision": DECISION, "grid": GRID}
        cand = {"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10}
        bad = [
            ([1], None),
            ({"grid": GRID}, "decision"),
            ({"decision": DECISION}, "candidates"),
            (dict(good, candidates=[cand]), "candidates"),
            (dict(good, extra=1), "extra"),
            (dict(good, top=0), "top"),
            (dict(good, top=2001), "top"),
            (dict(good, noise=0), "noise"),
            (dict(good, noise="1"), "noise"),
            ({"decision": "s_opt", "grid": GRID}, "decision"),
            ({"decision": {"query": "plan"}, "grid": GRID}, "decision.query"),
            ({"decision": {"query": "optimal_sparsity", "nonzeros": 1e9}, "grid": GRID},
             "decision.data"),
            ({"decision": dict(DECISION, compute=1e21), "grid": GRID}, "decision.data"),
            ({"decision": dict(DECISION, nonzeros=0), "grid": GRID}, "decision.nonzeros"),
            ({"decision": dict(DECISION, max_sparsity=1), "grid": GRID}, "decision.max_sparsity"),
            ({"decision": dict(DECISION, cost_model="free"), "grid": GRID},
             "decision.cost_model"),
            ({"decision": dict(DECISION, sparsity=0.5), "grid": GRID}, "decision"),
            ({"decision": {"query": "loss", "sparsity": 1.0, "nonzeros": 1e9, "data": 1e9},
              "grid": GRID}, "decision.sparsity"),
            ({"decision": DECISION, "candidates": []}, "candidates"),
            ({"decision": DECISION, "candidates": [cand] * 2001}, "candidates"),
            ({"decision": DECISION, "candidates": [1]}, "candidates[0]"),
            ({"decision": DECISION, "candidates": [cand, dict(cand, sparsity=1)]},
             "candidates[1].sparsity"),
            ({"decision": DECISION, "candidates": [dict(cand, data=-1)]}, "candidates[0].data"),
            ({"decision": DECISION, "candidates": [dict(cand, flops=0)]}, "candidates[0].flops"),
            ({"decision": DECISION, "candidates": [dict(cand, loss=2)]}, "candidates[0]"),
            ({"decision": DECISION, "grid": dict(GRID, data=[])}, "grid.data"),
            ({"decision": DECISION, "grid": dict(GRID, sparsities=[0.5, 1.5])},
             "grid.sparsities"),
            ({"decision": DECISION, "grid": dict(GRID, tokens=[1])}, "grid"),
            ({"decision": DECISION, "grid": {"sparsities": [0.1] * 64, "nonzeros": [1e8] * 64,
                                             "data": [1e9]}}, "grid"),
        ]
        for body, field in bad:
            with self.subTest(field=field, body=str(body)[:80]):
                self.assert_error(self.post("nr-boot", body), 400, "invalid_body", field)
        r = self.srv.request("POST", "/v1/laws/nr-boot/next-runs", body=b"{",
                             headers={"Content-Type": "application/json"})
        self.assert_error(r, 400, "invalid_json")
        self.assert_error(self.srv.request("POST", "/v1/laws/nr-boot/next-runs?top=3",
                                           json_body=good), 400, "unknown_parameter", "top")
        # a law whose data is not tokens: FLOPs cannot be derived, nor a compute budget
        for body, field in (({"decision": DECISION, "grid": GRID}, "grid"),
                            ({"decision": DECISION, "candidates": [cand]}, "candidates[0].flops"),
                            ({"decision": {"query": "optimal_sparsity", "nonzeros": 1e9,
                                           "compute": 1e21}, "candidates": [cand]},
                             "decision.compute")):
            with self.subTest(field=field):
                err = self.assert_error(self.post("nr-examples", body), 422, "unit_mismatch",
                                        field)
                self.assertIn("examples", err["message"])

    def test_documented(self):
        with open(harness.OPENAPI_PATH) as f:
            doc = json.load(f)
        op = doc["paths"]["/v1/laws/{name}/next-runs"]["post"]
        for status in ("200", "400", "404", "422"):
            self.assertIn(status, op["responses"])
        schema = harness.resolve(doc, op["responses"]["200"]["content"]["application/json"]
                                 ["schema"])
        nr = self.next_runs("nr-boot", {"decision": DECISION, "grid": GRID, "top": 3})
        self.assertEqual(set(nr), set(schema["properties"]))
        self.assertTrue(set(schema["required"]) <= set(nr))
        run = harness.resolve(doc, schema["properties"]["runs"]["items"])
        for r in nr["runs"]:
            self.assertEqual(set(r), set(run["properties"]))
        for k in set(nr["runs"][0]) - {"rank", "candidate"}:
            self.assertIn(k, nr["units"])


TEST_CLASSES = [TestThinDesign, TestRequests]

if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__)))
