#!/usr/bin/env python3
"""Black-box HTTP tests of pattern factors: a fit with "pattern_factors": true
estimates one factor eta per n:m pattern on the sparse term,
(a_s eta (1 - S)^b_s + c_s) N^-b_n + (a_d / D)^b_d + c, with bootstrap
intervals; the published law keeps them; loss with pattern= and
optimal-sparsity with patterns= use them, and say so when a pattern has none.

    python3 tests/http/test_pattern_factors.py --server build/sparselawd \\
        --openapi api/openapi.json

Standard library only; the server comes from harness.py beside this file.
"""
import math
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import COEF, TOKEN, ndjson, q, ref_loss  # noqa: E402

SPARSITIES = (0.0, 0.5, 0.75, 0.875)
NONZEROS = (1e7, 3e7, 1e8, 3e8, 1e9)
DATA = (1e9, 1e10, 1e11, 1e12)
TRUE_ETA = {"2:4": 0.85, "1:4": 1.2}
PATTERN_S = {"2:4": 0.5, "1:4": 0.75}
SIGMA = 0.005
LOSS = {"delta": 0.01, "residuals": "log"}


def law_loss(k, s, n, d, eta=1.0):
    return ref_loss(dict(k, a_s=k["a_s"] * eta), s, n, d)


def sweep(seed=5, patterns=True):
    """Unstructured runs on the whole grid, and 2:4 and 1:4 runs at every
    size and data amount, from the t5-c4 law with the true factors."""
    rng = random.Random(seed)
    k = COEF["t5-c4"]
    rows = []
    for n in NONZEROS:
        for d in DATA:
            for s in SPARSITIES:
                rows.append({"sparsity": s, "nonzeros": n, "data": d,
                             "loss": law_loss(k, s, n, d) * math.exp(rng.gauss(0, SIGMA))})
            for name, eta in TRUE_ETA.items() if patterns else ():
                s = PATTERN_S[name]
                rows.append({"sparsity": s, "nonzeros": n, "data": d, "pattern": name,
                             "loss": law_loss(k, s, n, d, eta) * math.exp(rng.gauss(0, SIGMA))})
    return rows


def setUpModule():
    harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-patterns-"),
                         server_cls=harness.FitServer)


def tearDownModule():
    harness.stop_shared()


class Base(harness.FitBase):
    def fit(self, body):
        return self.fit_ok(body)


class TestPatternFactors(Base):
    @classmethod
    def setUpClass(cls):
        cls.rows = sweep()
        r = harness.SHARED.request("POST", "/v1/datasets?name=patterns&data_unit=tokens",
                                   body=ndjson(cls.rows),
                                   headers={"Content-Type": "application/x-ndjson"}, token=TOKEN)
        assert r.status == 201, r
        cls.ds = r.json()["id"]
        r = harness.SHARED.request("POST", "/v1/fits?wait=true", token=TOKEN, json_body={
            "dataset": cls.ds, "law": "pat", "loss": LOSS, "bootstrap": 100,
            "pattern_factors": True})
        assert r.status == 200 and r.json()["state"] == "succeeded", r
        cls.f = r.json()

    def test_fit_recovers_the_factors(self):
        f = self.f
        self.assertIs(f["request"]["pattern_factors"], True)
        pf = f["pattern_factors"]
        self.assertEqual(set(pf), set(TRUE_ETA))
        for name, eta in TRUE_ETA.items():
            lo, hi = pf[name]["interval"]
            self.assertLessEqual(lo, eta, name)
            self.assertLessEqual(eta, hi, name)
            self.assertLess(lo, pf[name]["eta"])
            self.assertLess(pf[name]["eta"], hi)
            self.assertFalse(lo <= 1 <= hi, "%s: the data tell eta from 1" % name)
            self.assertEqual(pf[name]["rows"], len(NONZEROS) * len(DATA))
        self.assertIn("factor on a_s", f["units"]["pattern_factors"])
        # every row's prediction is the law with its pattern's factor
        coef = f["coefficients"]
        for r, want in zip(f["residuals"], self.rows):
            eta = pf[want["pattern"]]["eta"] if "pattern" in want else 1.0
            self.assert_rel(r["predicted"], law_loss(coef, r["sparsity"], r["nonzeros"],
                                                     r["data"], eta), 1e-12)
        # the factors earn their keep: the plain fit of the same rows is worse
        plain = self.fit({"dataset": self.ds, "law": "pat-plain", "loss": LOSS, "bootstrap": 0})
        self.assertNotIn("pattern_factors", plain)
        self.assertLess(f["objective"], plain["objective"])
        self.assertLess(f["rmse"], 0.8 * plain["rmse"])

    def test_rollout_with_factors(self):
        """A rollout refits the factors with the law at each step: the
        extrapolation to the largest size predicts its n:m rows with their
        step's factors, about as well as the noise allows."""
        f = self.fit({"dataset": self.ds, "law": "pat-roll", "loss": LOSS, "bootstrap": 0,
                      "pattern_factors": True, "rollout": {"levels": 2}})
        steps = f["rollout"]["steps"]
        self.assertEqual([s["nonzeros"] for s in steps], [NONZEROS[-1], NONZEROS[-2]])
        for s in steps:
            self.assertEqual(s["rows"], len(DATA) * (len(SPARSITIES) + len(TRUE_ETA)))
            self.assertEqual(s["unfitted_pattern_rows"], 0)
            self.assertLess(s["mean_abs_rel_error"], 4 * SIGMA, s)
        # without the factors the n:m rows are predicted worse at every step
        plain = self.fit({"dataset": self.ds, "law": "pat-roll-plain", "loss": LOSS,
                          "bootstrap": 0, "rollout": {"levels": 2}})
        for s, p in zip(steps, plain["rollout"]["steps"]):
            self.assertNotIn("unfitted_pattern_rows", p)
            self.assertLess(s["rmse"], p["rmse"])
        # a pattern run only at the largest size has no factor below it
        rows = [r for r in self.rows if r.get("pattern") != "1:4" or r["nonzeros"] == NONZEROS[-1]]
        ds = self.upload_rows(rows, "pat-top-only")
        f = self.fit({"dataset": ds, "law": "pat-roll-top", "loss": LOSS, "bootstrap": 0,
                      "pattern_factors": True, "rollout": {"levels": 1}})
        s = f["rollout"]["steps"][0]
        self.assertEqual(s["unfitted_pattern_rows"], len(DATA))
        self.assertEqual(s["rows"], len(DATA) * (len(SPARSITIES) + 1))

    def test_law_keeps_them(self):
        law = self.get_json("/v1/laws/pat")
        self.assertEqual(law["pattern_factors"], self.f["pattern_factors"])
        self.assertNotIn("pattern_factors", self.get_json("/v1/laws/t5-c4"))

    def test_loss_with_pattern(self):
        coef = self.f["coefficients"]
        pf = self.f["pattern_factors"]
        n, d = 2e8, 5e10
        body = self.get_json("/v1/laws/pat/loss?" + q(pattern="2:4", nonzeros=n, data=d))
        self.assertEqual(body["sparsity"], 0.5)  # from the pattern
        self.assert_rel(body["loss"], law_loss(coef, 0.5, n, d, pf["2:4"]["eta"]), 1e-12)
        self.assertEqual(body["pattern"]["pattern"], "2:4")
        self.assertIs(body["pattern"]["fitted"], True)
        self.assertEqual(body["pattern"]["eta"], pf["2:4"]["eta"])
        self.assertEqual(body["pattern"]["interval"], pf["2:4"]["interval"])
        self.assertIn("pattern", body["units"])
        lo, hi = body["interval"]
        self.assertLess(lo, body["loss"])
        self.assertLess(body["loss"], hi)
        same = self.get_json("/v1/laws/pat/loss?" + q(pattern="2:4", sparsity=0.5, nonzeros=n,
                                                      data=d))
        self.assertEqual(same, body)
        # unstructured at the same sparsity: the law without the factor
        plain = self.get_json("/v1/laws/pat/loss?" + q(sparsity=0.5, nonzeros=n, data=d))
        self.assert_rel(plain["loss"], law_loss(coef, 0.5, n, d), 1e-12)
        self.assertNotIn("pattern", plain)
        self.assertNotEqual(plain["loss"], body["loss"])
        # a pattern without a fitted factor: 1, and the answer says so
        other = self.get_json("/v1/laws/pat/loss?" + q(pattern="4:8", nonzeros=n, data=d))
        self.assertIs(other["pattern"]["fitted"], False)
        self.assertEqual(other["pattern"]["eta"], 1)
        self.assertIn("no fitted factor for 4:8", other["pattern"]["note"])
        self.assertEqual(other["loss"], plain["loss"])
        # a law with no factors at all
        t5 = self.get_json("/v1/laws/t5-c4/loss?" + q(pattern="2:4", nonzeros=n, data=d))
        self.assertIs(t5["pattern"]["fitted"], False)
        self.assert_rel(t5["loss"], law_loss(COEF["t5-c4"], 0.5, n, d), 1e-12)

    def test_loss_pattern_refused(self):
        for params, field in ((dict(pattern="2:4", sparsity=0.6), "pattern"),
                              (dict(pattern="4:2"), "pattern"),
                              (dict(pattern="2-4"), "pattern"),
                              (dict(pattern=""), "pattern"),
                              (dict(pattern="2:4", sparsity=1.5), "sparsity")):
            with self.subTest(params=params):
                r = self.srv.get("/v1/laws/pat/loss?" + q(nonzeros=1e8, data=1e10, **params))
                self.assert_error(r, 400, "invalid_parameter", field)

    def optimum_by_hand(self, coef, etas, n, dd):
        """Dense against each pattern with its factor, dense cost model: a
        model at S sees D = D_dense (1 - S)."""
        best, loss = "dense", law_loss(coef, 0.0, n, dd)
        for name, eta in etas.items():
            s = PATTERN_S.get(name, 0.5)
            cand = law_loss(coef, s, n, dd * (1 - s), eta)
            if cand < loss:
                best, loss = name, cand
        return best, loss

    def test_optimal_sparsity_with_patterns(self):
        coef = self.f["coefficients"]
        pf = self.f["pattern_factors"]
        seen = set()
        for n, dd in ((1e9, 1e10), (1e9, 2e11), (1e8, 1e12), (1e7, 1e14)):
            body = self.get_json("/v1/laws/pat/optimal-sparsity?" + q(
                nonzeros=n, data=dd, patterns="2:4,1:4"))
            want, loss = self.optimum_by_hand(coef, {k: v["eta"] for k, v in pf.items()}, n, dd)
            self.assertEqual(body["pattern"], want, (n, dd))
            self.assert_rel(body["loss"], loss, 1e-12)
            seen.add(want)
            self.assertEqual([p["pattern"] for p in body["pattern_factors"]], ["2:4", "1:4"])
            for p in body["pattern_factors"]:
                self.assertIs(p["fitted"], True)
                self.assertEqual(p["eta"], pf[p["pattern"]]["eta"])
            self.assertEqual(len(body["interval"]), 2)
        self.assertEqual(seen, {"dense", "2:4", "1:4"})  # each wins somewhere
        # 4:8 has no factor: 1, said so
        body = self.get_json("/v1/laws/pat/optimal-sparsity?" + q(
            nonzeros=1e8, data=2e12, patterns="2:4,4:8"))
        f48 = body["pattern_factors"][1]
        self.assertEqual((f48["pattern"], f48["fitted"], f48["eta"]), ("4:8", False, 1))
        self.assertIn("no fitted factor", f48["note"])
        want, loss = self.optimum_by_hand(coef, {"2:4": pf["2:4"]["eta"], "4:8": 1.0}, 1e8, 2e12)
        self.assertEqual(body["pattern"], want)
        # without patterns= nothing changes
        body = self.get_json("/v1/laws/pat/optimal-sparsity?" + q(nonzeros=1e8, data=1e10))
        self.assertNotIn("pattern_factors", body)


class TestRefused(Base):
    def test_refused(self):
        plain = self.upload_rows(sweep(patterns=False), "no-patterns")
        r = self.post_fit({"dataset": plain, "law": "pat-bad", "pattern_factors": True})
        err = self.assert_error(r, 422, "unprocessable", "pattern_factors")
        self.assertIn("no rows with an n:m pattern", err["message"])
        # only dense unstructured rows: b_s cannot be told from the factors
        rows = [r for r in sweep() if "pattern" in r or r["sparsity"] == 0]
        one = self.upload_rows(rows, "one-sparsity")
        r = self.post_fit({"dataset": one, "law": "pat-bad", "pattern_factors": True})
        err = self.assert_error(r, 422, "unprocessable", "pattern_factors")
        self.assertIn("unstructured rows", err["message"])
        for bad, field in (({"pattern_factors": "yes"}, "pattern_factors"),
                           ({"pattern_factors": 1}, "pattern_factors")):
            with self.subTest(bad=bad):
                r = self.post_fit(dict({"dataset": plain, "law": "pat-bad"}, **bad))
                self.assert_error(r, 400, "invalid_body", field)
        self.assertEqual(self.srv.get("/v1/laws/pat-bad").status, 404)
        # false is the plain fit
        f = self.fit({"dataset": plain, "law": "pat-off", "pattern_factors": False,
                      "bootstrap": 0})
        self.assertNotIn("pattern_factors", f)
        self.assertNotIn("pattern_factors", f["request"])


TEST_CLASSES = [TestPatternFactors, TestRefused]

if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__)))
