#!/usr/bin/env python3
"""Black-box HTTP tests of the planning answers of docs/planning.md: cost
models on plan and contours, fixed choices, GET compute-optimal (N free),
inference-aware plans, hardware and money, pretrained starts; each with
valid and invalid input, checked against the law computed here.

    python3 tests/http/test_plan.py --server build/sparselawd --openapi api/openapi.json \
        [--data-dir data]

The intervals are checked on t5-c4's published sweep (data/t5-c4-sweep.csv)
fitted with 200 bootstrap draws (TestPlanIntervals).

Standard library only; one shared server from harness.py.
"""
import csv
import io
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import COEF, TOKEN, Base, q, ref_loss  # noqa: E402
from test_http import BAD_NUMBERS  # noqa: E402

T5 = COEF["t5-c4"]
GMP = (0.25, 0.75)
PRE = ((0.5, 4.90), (0.75, 4.27), (0.875, 2.45))


def setUpModule():
    harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-plan-"))


def tearDownModule():
    harness.stop_shared()


def density(s, cost="dense", t0=GMP[0], t1=GMP[1]):
    if cost == "dense":
        return 1.0
    return t0 + (t1 - t0) * (1 - 0.75 * s) + (1 - t1) * (1 - s)


def compute(s, n, d, cost="dense"):
    return 6 * n / (1 - s) * d * density(s, cost)


def data_for(k, target, s, n):
    r = target - k["c"] - (k["a_s"] * (1 - s) ** k["b_s"] + k["c_s"]) * n ** -k["b_n"]
    return k["a_d"] * r ** (-1 / k["b_d"]) if r > 0 else math.inf


def factor(s):
    (s0, r0), (s1, r1) = (PRE[0], PRE[1]) if s <= 0.75 else (PRE[1], PRE[2])
    t = (math.log(1 - s) - math.log(1 - s0)) / (math.log(1 - s1) - math.log(1 - s0))
    return math.exp((1 - t) * math.log(r0) + t * math.log(r1))


def frontier_loss(k, c, s, n, cost="dense"):
    return ref_loss(k, s, n, c * (1 - s) / (6 * n * density(s, cost)))


class Planning(Base):
    def law(self, law, route, status=200, **params):
        return self.get_json("/v1/laws/%s/%s?%s" % (law, route, q(**params)), status)

    def t5(self, route, **params):
        return self.law("t5-c4", route, **params)

    def bad(self, route, status, code, field, law="t5-c4", **params):
        r = self.srv.get("/v1/laws/%s/%s?%s" % (law, route, q(**params)))
        return self.assert_error(r, status, code, field, msg=(route, params))


class TestComputeOptimal(Planning):
    def brute(self, k, c, cost, max_n=math.inf, sparsities=None):
        """The lowest loss on a grid of (log N, S), then a zoom."""
        ss = sparsities if sparsities is not None else [i / 100 for i in range(100)]
        best = (math.inf, 0, 0)
        for s in ss:
            lo, hi = math.log(1e6), math.log(min(max_n, 1e14))
            for _ in range(3):
                pts = [lo + (hi - lo) * i / 200 for i in range(201)]
                vals = [(frontier_loss(k, c, s, math.exp(ln), cost), ln) for ln in pts]
                v, ln = min(vals)
                step = (hi - lo) / 200
                lo, hi = ln - step, min(ln + step, math.log(min(max_n, 1e30)))
                if v < best[0]:
                    best = (v, s, math.exp(ln))
        return best

    def test_t5_dense_and_gmp_at_1e21(self):
        dense = self.t5("compute-optimal", compute=1e21)
        self.assertEqual(dense["sparsity"], 0)
        self.assertEqual(dense["pattern"], "dense")
        self.assertEqual(dense["verdict"]["optimum"], "dense")
        self.assertIn("1.38", dense["verdict"]["reason"])
        st = T5["b_n"] * T5["c_s"] / (T5["a_s"] * (T5["b_s"] - T5["b_n"]))
        self.assert_rel(dense["verdict"]["dense_stationary_x_pow_b_s"], st, 1e-12)
        self.assertGreater(st, 1)
        v, s, n = self.brute(T5, 1e21, "dense")
        self.assertLessEqual(dense["loss"], v * (1 + 1e-12))
        self.assert_rel(dense["loss"], v, 1e-6)
        self.assert_rel(compute(0, dense["nonzeros"], dense["data"]), 1e21, 1e-12)
        self.assertEqual(dense["units"]["compute"], "FLOPs (6 x parameters x tokens)")
        gmp = self.t5("compute-optimal", compute=1e21, cost_model="gmp")
        self.assertEqual(gmp["verdict"]["optimum"], "sparse")
        self.assertGreater(gmp["sparsity"], 0.1)
        self.assertLess(gmp["loss"], dense["loss"])
        self.assertEqual(gmp["pruning"], {"start": 0.25, "end": 0.75})
        self.assert_rel(compute(gmp["sparsity"], gmp["nonzeros"], gmp["data"], "gmp"), 1e21, 1e-12)
        v, s, n = self.brute(T5, 1e21, "gmp")
        self.assertLessEqual(gmp["loss"], v * (1 + 1e-12))
        self.assertAlmostEqual(gmp["sparsity"], s, delta=0.02)
        self.assert_rel(gmp["dense"]["loss"], dense["loss"], 1e-12)
        self.assert_rel(gmp["improvement"], dense["loss"] - gmp["loss"], 1e-9)

    def test_cap_and_patterns(self):
        capped = self.t5("compute-optimal", compute=1e23, max_nonzeros=1e9)
        self.assertTrue(capped["capped"])
        self.assertEqual(capped["nonzeros"], 1e9)
        self.assertGreater(capped["sparsity"], 0)
        self.assertIn("capped", capped["verdict"]["reason"])
        v, s, n = self.brute(T5, 1e23, "dense", max_n=1e9)
        self.assertLessEqual(capped["loss"], v * (1 + 1e-12))
        pats = self.t5("compute-optimal", compute=1e23, max_nonzeros=1e9, patterns="2:4,1:4")
        self.assertIn(pats["pattern"], ("dense", "2:4", "1:4"))
        want = min((frontier_loss(T5, 1e23, s, 1e9), name)
                   for s, name in ((0, "dense"), (0.5, "2:4"), (0.75, "1:4")))
        self.assertEqual(pats["pattern"], want[1])
        self.assert_rel(pats["loss"], want[0], 1e-12)
        self.assertIsNone(pats["max_sparsity"])

    def test_vit_needs_param_data_and_has_no_flops(self):
        self.bad("compute-optimal", 422, "unit_mismatch", "compute", law="vit-jft", compute=1e21)
        body = self.law("vit-jft", "compute-optimal", param_data=1e20, hardware="h100")
        self.assertEqual(body["compute"], 6e20)
        self.assertEqual(body["verdict"]["optimum"], "dense")
        self.assertIn("1.45", body["verdict"]["reason"])
        self.assertIsNone(body["hardware"]["gpu_hours"])
        self.assertIn("FLOPs per example", body["hardware"]["note"])
        self.assertIn("not FLOPs", body["units"]["compute"])

    def test_verdict_where_sparsity_pays_under_dense_cost(self):
        """A law whose x^b_s = b_n c_s / (a_s (b_s - b_n)) < 1: the optimum is sparse at
        that x at every compute, and dense only when max_sparsity or the patterns keep it."""
        coef = dict(T5, c_s=T5["c_s"] * 0.3)
        st = coef["b_n"] * coef["c_s"] / (coef["a_s"] * (coef["b_s"] - coef["b_n"]))
        self.assertLess(st, 1)
        body = {"coefficients": coef, "units": {"data": "tokens"}, "description": "test_plan"}
        r = self.srv.request("PUT", "/v1/laws/plan-sparse-pays", json_body=body, token=TOKEN)
        self.assertIn(r.status, (200, 201), r)
        for c in (1e19, 1e23):
            got = self.law("plan-sparse-pays", "compute-optimal", compute=c)
            self.assertEqual(got["verdict"]["optimum"], "sparse")
            self.assertAlmostEqual(got["sparsity"], 1 - st ** (1 / coef["b_s"]), delta=1e-6)
            self.assertIn("< 1", got["verdict"]["reason"])
            v, s, n = self.brute(coef, c, "dense")
            self.assertLessEqual(got["loss"], v * (1 + 1e-12))
        kept = self.law("plan-sparse-pays", "compute-optimal", compute=1e21, max_sparsity=0)
        self.assertEqual(kept["verdict"]["optimum"], "dense")
        self.assertIn("max_sparsity", kept["verdict"]["reason"])

    def test_invalid(self):
        self.bad("compute-optimal", 400, "missing_parameter", "compute")
        self.bad("compute-optimal", 400, "invalid_parameter", "max_sparsity", compute=1e21,
                 max_sparsity=1)
        self.bad("compute-optimal", 400, "invalid_parameter", "hardware", compute=1e21,
                 hardware="b200")
        self.bad("compute-optimal", 400, "invalid_parameter", "mfu", compute=1e21, mfu=0.4)
        self.bad("compute-optimal", 400, "invalid_parameter", "compute", compute=1e21,
                 param_data=1e20)
        for v in ("-1", "0", "nan", "1e50", "x"):
            self.bad("compute-optimal", 400, "invalid_parameter", "compute", compute=v)
            self.bad("compute-optimal", 400, "invalid_parameter", "param_data", param_data=v)
        self.bad("compute-optimal", 400, "invalid_parameter", "max_nonzeros", compute=1e21,
                 max_nonzeros=-5)
        self.bad("compute-optimal", 400, "invalid_parameter", "max_sparsity", compute=1e21,
                 patterns="2:4", max_sparsity=0.9)
        self.bad("compute-optimal", 400, "invalid_parameter", "patterns", compute=1e21,
                 patterns="4:2")
        self.bad("compute-optimal", 400, "invalid_parameter", "cost_model", compute=1e21,
                 cost_model="sparse")
        self.bad("compute-optimal", 400, "invalid_parameter", "prune_start", compute=1e21,
                 prune_start=0.5)
        self.bad("compute-optimal", 400, "unknown_parameter", "nonzeros", compute=1e21,
                 nonzeros=1e9)
        r = self.srv.get("/v1/laws/no-such-law/compute-optimal?compute=1e21")
        self.assert_error(r, 404, "not_found")


class TestPlanCostAndChoice(Planning):
    def test_gmp_plan_matches_brute_force(self):
        for target, n in ((1.6, 1e9), (2.0, 1e8), (1.45, 1e10)):
            body = self.t5("plan", target_loss=target, nonzeros=n, cost_model="gmp")
            self.assertEqual(body["cost_model"], "gmp")
            self.assertEqual(body["choice"], "cheapest")
            s = body["sparsity"]
            self.assert_close(ref_loss(T5, s, n, body["data"]), target, 1e-9)
            self.assert_rel(body["compute"], compute(s, n, body["data"], "gmp"), 1e-12)
            grid = [compute(i / 1000, n, data_for(T5, target, i / 1000, n), "gmp")
                    for i in range(999)]
            self.assertLessEqual(body["compute"], min(grid) * (1 + 1e-12))
            dense = self.t5("plan", target_loss=target, nonzeros=n)
            self.assertLessEqual(body["compute"], dense["compute"] * (1 + 1e-12))
            self.assertGreaterEqual(s, dense["sparsity"] - 1e-9)
        custom = self.t5("plan", target_loss=1.6, nonzeros=1e9, cost_model="gmp",
                         prune_start=0.1, prune_end=0.9)
        self.assertEqual(custom["pruning"], {"start": 0.1, "end": 0.9})

    def test_fixed_choices(self):
        n, target = 1e9, 1.6
        a = self.t5("plan", target_loss=target, nonzeros=n, sparsity=0.5)
        b = self.t5("plan", target_loss=target, nonzeros=n, pattern="2:4")
        self.assertEqual(a["choice"], "sparsity")
        self.assertEqual(b["choice"], "pattern")
        self.assertEqual(b["pattern"], "2:4")
        for body in (a, b):
            self.assertEqual(body["sparsity"], 0.5)
            self.assert_rel(body["data"], data_for(T5, target, 0.5, n), 1e-12)
            self.assert_rel(body["compute"], compute(0.5, n, body["data"]), 1e-12)
            self.assertGreaterEqual(body["compute_above_cheapest"], 1 - 1e-12)
            self.assert_rel(body["compute_above_cheapest"],
                            body["compute"] / body["cheapest"]["compute"], 1e-12)
        g = self.t5("plan", target_loss=target, nonzeros=n, pattern="1:4", cost_model="gmp")
        self.assert_rel(g["compute"], compute(0.75, n, data_for(T5, target, 0.75, n), "gmp"), 1e-12)
        d = self.t5("plan", target_loss=target, nonzeros=n, pattern="dense")
        self.assertEqual(d["sparsity"], 0)
        self.assert_rel(d["compute"], d["dense"]["compute"], 1e-12)
        r = self.srv.get("/v1/laws/t5-c4/plan?" + q(target_loss=1.2, nonzeros=1e8, pattern="2:4"))
        err = self.assert_error(r, 422, "unreachable_target", "target_loss")
        k = T5
        self.assert_close(err["loss_floor"],
                          k["c"] + (k["a_s"] * 0.5 ** k["b_s"] + k["c_s"]) * 1e8 ** -k["b_n"], 1e-9)

    def test_invalid_choices(self):
        base = dict(target_loss=1.6, nonzeros=1e9)
        self.bad("plan", 400, "invalid_parameter", "pattern", sparsity=0.5, pattern="2:4", **base)
        self.bad("plan", 400, "invalid_parameter", "max_sparsity", sparsity=0.5, max_sparsity=0.9,
                 **base)
        for v in ("3:2", "2:4:8", "sparse", "", "0:4", "2:65"):
            self.bad("plan", 400, "invalid_parameter", "pattern", pattern=v, **base)
            self.bad("optimal-sparsity", 400, "invalid_parameter", "pattern", nonzeros=1e9,
                     compute=1e21, pattern=v)
        for v in ("1", "-0.1", "nan", "half"):
            self.bad("plan", 400, "invalid_parameter", "sparsity", sparsity=v, **base)
        self.bad("plan", 400, "invalid_parameter", "cost_model", cost_model="GMP", **base)
        self.bad("plan", 400, "invalid_parameter", "prune_end", cost_model="gmp", prune_end=2,
                 **base)
        self.bad("plan", 400, "invalid_parameter", "prune_start", prune_start=0.1, **base)

    def test_optimal_sparsity_at_pattern(self):
        body = self.t5("optimal-sparsity", nonzeros=1e9, compute=1e21, pattern="2:4")
        at = body["at_pattern"]
        self.assertEqual(at["pattern"], "2:4")
        dd = 1e21 / 6e9
        self.assert_rel(at["loss"], ref_loss(T5, 0.5, 1e9, dd * 0.5), 1e-12)
        self.assert_rel(at["loss_above_optimum"], at["loss"] - body["loss"], 1e-9)
        self.assertGreaterEqual(at["loss_above_optimum"], 0)
        g = self.t5("optimal-sparsity", nonzeros=1e9, compute=1e21, pattern="1:4",
                    cost_model="gmp")
        d = dd * 0.25 / density(0.75, "gmp")
        self.assert_rel(g["at_pattern"]["data"], d, 1e-12)
        self.assert_rel(g["at_pattern"]["loss"], ref_loss(T5, 0.75, 1e9, d), 1e-12)


class TestContoursGmp(Planning):
    def test_iso_lines_under_gmp(self):
        body = self.t5("contours", cost_model="gmp", levels="0.3,0.6", points=4,
                       nonzeros_min=1e8, nonzeros_max=1e11)
        self.assertEqual(body["cost_model"], "gmp")
        self.assertEqual(body["pruning"], {"start": 0.25, "end": 0.75})
        dense = self.t5("contours", levels="0.3,0.6", points=4, nonzeros_min=1e8,
                        nonzeros_max=1e11)
        checked = 0
        for series, dseries in zip(body["series"], dense["series"]):
            if series["line"] != "iso_sparsity":
                self.assertEqual(series, dseries)  # the S = 0 line does not depend on the cost
                continue
            for n, dd, dd_dense in zip(series["nonzeros"], series["dense_data"],
                                       dseries["dense_data"]):
                opt = self.t5("optimal-sparsity", nonzeros=n, data=dd, cost_model="gmp")
                self.assertAlmostEqual(opt["sparsity"], series["sparsity"], delta=1e-6)
                self.assertLess(dd, dd_dense)  # gmp pays for sparsity sooner
                checked += 1
        self.assertEqual(checked, 8)
        self.bad("contours", 422, "unprocessable", "prune_start", cost_model="gmp",
                 prune_start=0, prune_end=0)
        self.bad("contours", 400, "invalid_parameter", "cost_model", cost_model="x")
        self.bad("contours", 400, "invalid_parameter", "prune_start", prune_start=0.2)
        self.bad("contours", 400, "invalid_parameter", "prune_end", cost_model="gmp",
                 prune_end=-1)


class TestInference(Planning):
    def brute(self, target, tokens, kind, cost="dense"):
        best = math.inf
        for i in range(0, 999, 3):
            s = i / 1000
            lo, hi = math.log(1e6), math.log(1e13)
            for _ in range(3):
                vals = []
                for j in range(121):
                    ln = lo + (hi - lo) * j / 120
                    n = math.exp(ln)
                    d = data_for(T5, target, s, n)
                    k = n / (1 - s) if kind == "total" else n
                    vals.append((compute(s, n, d, cost) + 2 * k * tokens, ln))
                v, ln = min(vals)
                step = (hi - lo) / 120
                lo, hi = ln - step, ln + step
            best = min(best, v)
        return best

    def test_t5_target_140_serving_1e13(self):
        body = self.t5("plan", target_loss=1.40, inference_tokens=1e13)
        self.assertEqual(body["inference_cost"], "nonzeros")
        n, s, d = body["nonzeros"], body["sparsity"], body["data"]
        self.assert_close(ref_loss(T5, s, n, d), 1.40, 1e-9)
        self.assert_rel(body["training_compute"], compute(s, n, d), 1e-12)
        self.assert_rel(body["inference_compute"], 2 * n * 1e13, 1e-12)
        self.assert_rel(body["total_compute"], body["training_compute"] + body["inference_compute"],
                        1e-12)
        self.assertLessEqual(body["total_compute"], self.brute(1.40, 1e13, "nonzeros") * (1 + 1e-9))
        # serving pays for sparsity: smaller N, sparse, cheaper in total than the training-only plan
        train = body["training_only"]
        self.assertGreater(s, 0.3)
        self.assertLess(n, train["nonzeros"])
        self.assertLess(body["total_compute"], train["training_compute"] + 2 * train["nonzeros"] * 1e13)
        self.assertEqual(train["inference_compute"], 0)
        self.assertIn("2 x nonzeros", body["units"]["inference_compute"])
        total = self.t5("plan", target_loss=1.40, inference_tokens=1e13, inference_cost="total")
        self.assert_rel(total["inference_compute"],
                        2 * total["nonzeros"] / (1 - total["sparsity"]) * 1e13, 1e-12)
        self.assertLessEqual(total["total_compute"], self.brute(1.40, 1e13, "total") * (1 + 1e-9))
        self.assertGreaterEqual(total["total_compute"], body["total_compute"])

    def test_zero_tokens_and_gmp(self):
        body = self.t5("plan", target_loss=1.6, inference_tokens=0, cost_model="gmp")
        self.assertEqual(body["inference_compute"], 0)
        self.assertLessEqual(body["total_compute"], self.brute(1.6, 0, "nonzeros", "gmp") * (1 + 1e-9))

    def best_at_n(self, target, tokens, n, kind="nonzeros"):
        """The least total compute at exactly n non-zeros: a grid in
        log(1 - S), zoomed around its best point."""
        lo, hi, best = math.log(1e-3), 0.0, math.inf
        for _ in range(4):
            vals = []
            for j in range(401):
                u = lo + (hi - lo) * j / 400
                s = -math.expm1(u)
                d = data_for(T5, target, s, n)
                k = n / (1 - s) if kind == "total" else n
                vals.append((compute(s, n, d) + 2 * k * tokens if math.isfinite(d) else math.inf, u))
            v, u = min(vals)
            best = min(best, v)
            step = (hi - lo) / 400
            lo, hi = max(math.log(1e-3), u - step), min(0.0, u + step)
        return best

    def test_max_nonzeros(self):
        free = self.t5("plan", target_loss=1.40, inference_tokens=1e13)
        self.assertIs(free["capped"], False)
        self.assertIsNone(free["max_nonzeros"])
        for kind in ("nonzeros", "total"):
            base = self.t5("plan", target_loss=1.40, inference_tokens=1e13, inference_cost=kind)
            bound = 0.3 * base["nonzeros"]
            body = self.t5("plan", target_loss=1.40, inference_tokens=1e13, inference_cost=kind,
                           max_nonzeros=repr(bound))
            # on the bound, on the target, at the best S there, dearer than without it
            self.assertIs(body["capped"], True)
            self.assert_rel(body["nonzeros"], bound, 1e-15)
            self.assert_rel(body["max_nonzeros"], bound, 1e-15)
            n, s, d = body["nonzeros"], body["sparsity"], body["data"]
            self.assert_close(ref_loss(T5, s, n, d), 1.40, 1e-9)
            self.assertLessEqual(body["total_compute"],
                                 self.best_at_n(1.40, 1e13, bound, kind) * (1 + 1e-9))
            self.assertGreater(body["total_compute"], base["total_compute"])
            self.assertGreater(s, base["sparsity"])  # a smaller N takes more sparsity
            self.assert_rel(body["unbounded"]["nonzeros"], base["nonzeros"], 1e-12)
            self.assert_rel(body["unbounded"]["total_compute"], base["total_compute"], 1e-12)
            self.assertIn("capped at max_nonzeros", body["capped_note"])
            self.assertLessEqual(body["training_only"]["nonzeros"], bound * (1 + 1e-15))
            self.assertEqual(body["units"]["max_nonzeros"], "parameters")
            # a bound above the free plan's N changes nothing
            loose = self.t5("plan", target_loss=1.40, inference_tokens=1e13, inference_cost=kind,
                            max_nonzeros=repr(10 * base["nonzeros"]))
            self.assertIs(loose["capped"], False)
            self.assertNotIn("unbounded", loose)
            self.assertNotIn("capped_note", loose)
            for f in ("nonzeros", "sparsity", "total_compute"):
                self.assertEqual(loose[f], base[f], f)

    def test_max_nonzeros_invalid(self):
        # only with inference_tokens: a plan for given nonzeros has N fixed
        err = self.bad("plan", 400, "missing_parameter", "inference_tokens", target_loss=1.4,
                       max_nonzeros=1e9)
        self.assertIn("max_nonzeros", err["message"])
        err = self.bad("plan", 400, "missing_parameter", "inference_tokens", target_loss=1.4,
                       nonzeros=1e9, max_nonzeros=1e9)
        self.assertIn("N fixed", err["message"])
        for v in ("-5", "0", "0.5", "1e31", "nan", "inf", "big"):
            self.bad("plan", 400, "invalid_parameter", "max_nonzeros", target_loss=1.4,
                     inference_tokens=1e13, max_nonzeros=v)
        # too few non-zeros for the target at any sparsity up to max_sparsity
        err = self.bad("plan", 422, "unreachable_target", "max_nonzeros", target_loss=1.4,
                       inference_tokens=1e13, max_nonzeros=1e5)
        floor = ref_loss(T5, 0.999, 1e5, math.inf)
        self.assert_rel(err["loss_floor"], floor, 1e-12)
        self.assertIn("max_nonzeros", err["message"])

    def test_invalid(self):
        self.bad("plan", 400, "invalid_parameter", "nonzeros", target_loss=1.4,
                 inference_tokens=1e13, nonzeros=1e9)
        self.bad("plan", 400, "invalid_parameter", "strategy", target_loss=1.4,
                 inference_tokens=1e13, strategy="pretrained")
        self.bad("plan", 400, "invalid_parameter", "sparsity", target_loss=1.4,
                 inference_tokens=1e13, sparsity=0.5)
        self.bad("plan", 400, "missing_parameter", "inference_tokens", target_loss=1.4,
                 inference_cost="total")
        for v in ("-1", "nan", "1e31", "many"):
            self.bad("plan", 400, "invalid_parameter", "inference_tokens", target_loss=1.4,
                     inference_tokens=v)
        self.bad("plan", 400, "invalid_parameter", "inference_cost", target_loss=1.4,
                 inference_tokens=1e13, inference_cost="dense")
        self.bad("plan", 400, "missing_parameter", "target_loss", inference_tokens=1e13)
        err = self.bad("plan", 422, "unreachable_target", "target_loss", target_loss=0.6,
                       inference_tokens=1e13)
        self.assert_close(err["loss_floor"], T5["c"], 1e-12)
        # far above any loss the law gives: no data at all would be needed
        self.bad("plan", 422, "unprocessable", None, target_loss=1e300, inference_tokens=1e13)


class TestHardware(Planning):
    def test_profiles_and_cost(self):
        for hw, peak in (("a100", 312e12), ("h100", 989e12), ("h200", 989e12)):
            body = self.t5("optimal-sparsity", nonzeros=1e9, compute=1e21, hardware=hw,
                           price_per_hour=2.5)
            h = body["hardware"]
            self.assertEqual(h["profile"], hw)
            self.assertEqual(h["peak_flops"], peak)
            self.assertEqual(h["mfu"], 0.4)
            self.assertIn("default", h["mfu_source"])
            self.assert_rel(h["gpu_hours"], 1e21 / (peak * 0.4) / 3600, 1e-12)
            self.assert_rel(h["cost"], h["gpu_hours"] * 2.5, 1e-12)
            self.assertEqual(h["units"]["gpu_hours"], "GPU-hours")
        body = self.t5("plan", target_loss=1.6, nonzeros=1e9, peak_flops=1e15, mfu=0.5)
        h = body["hardware"]
        self.assertIsNone(h["profile"])
        self.assertIsNone(h["cost"])
        self.assertEqual(h["mfu_source"], "given")
        self.assert_rel(h["gpu_hours"], body["compute"] / 5e14 / 3600, 1e-12)
        self.assert_rel(body["dense"]["hardware"]["gpu_hours"], body["dense"]["compute"] / 5e14 / 3600,
                        1e-12)
        co = self.t5("compute-optimal", compute=1e21, hardware="h100")
        self.assert_rel(co["hardware"]["gpu_hours"], 1e21 / (989e12 * 0.4) / 3600, 1e-12)
        inf = self.t5("plan", target_loss=1.4, inference_tokens=1e13, hardware="a100")
        self.assert_rel(inf["hardware"]["training"]["gpu_hours"],
                        inf["training_compute"] / (312e12 * 0.4) / 3600, 1e-12)
        self.assert_rel(inf["hardware"]["inference"]["gpu_hours"],
                        inf["inference_compute"] / (312e12 * 0.4) / 3600, 1e-12)
        self.assert_rel(inf["hardware"]["total"]["gpu_hours"],
                        inf["total_compute"] / (312e12 * 0.4) / 3600, 1e-12)
        self.assertIsNone(inf["hardware"]["total"]["cost"])
        # per non-zero, inference FLOPs already skip the zeros: no speedup on top
        sp = self.t5("plan", target_loss=1.4, inference_tokens=1e13, hardware="a100",
                     sparse_speedup="unstructured=2")
        self.assertEqual(sp["hardware"]["training"]["sparse_speedup"], 2)
        self.assertEqual(sp["hardware"]["inference"]["sparse_speedup"], 1)
        self.assert_rel(sp["hardware"]["training"]["gpu_hours"],
                        sp["training_compute"] / (312e12 * 0.4 * 2) / 3600, 1e-12)

    def test_sparse_speedup_per_pattern(self):
        sp = "2:4=1.5,unstructured=1.2"
        b = self.t5("plan", target_loss=1.6, nonzeros=1e9, pattern="2:4", hardware="h100",
                    sparse_speedup=sp)
        self.assertEqual(b["hardware"]["sparse_speedup"], 1.5)
        self.assert_rel(b["hardware"]["gpu_hours"], b["compute"] / (989e12 * 0.4 * 1.5) / 3600,
                        1e-12)
        self.assertEqual(b["dense"]["hardware"]["sparse_speedup"], 1)
        u = self.t5("plan", target_loss=1.6, nonzeros=1e9, sparsity=0.3, hardware="h100",
                    sparse_speedup=sp)
        self.assertEqual(u["hardware"]["sparse_speedup"], 1.2)
        o = self.t5("plan", target_loss=1.6, nonzeros=1e9, pattern="1:4", hardware="h100",
                    sparse_speedup=sp)
        self.assertEqual(o["hardware"]["sparse_speedup"], 1)  # not listed: masked dense kernels

    def test_invalid(self):
        base = dict(nonzeros=1e9, compute=1e21)
        for v in ("tpu", "H100 ", "", "v100"):
            self.bad("optimal-sparsity", 400, "invalid_parameter", "hardware", hardware=v, **base)
        self.bad("optimal-sparsity", 400, "invalid_parameter", "peak_flops", hardware="h100",
                 peak_flops=1e15, **base)
        for v in ("-1", "abc", "nan"):
            self.bad("optimal-sparsity", 400, "invalid_parameter", "price_per_hour",
                     hardware="h100", price_per_hour=v, **base)
        for v in ("0", "1.5", "-0.2"):
            self.bad("optimal-sparsity", 400, "invalid_parameter", "mfu", hardware="h100", mfu=v,
                     **base)
        for v in ("0", "-1e15", "1e21"):
            self.bad("optimal-sparsity", 400, "invalid_parameter", "peak_flops", peak_flops=v,
                     **base)
        for name, v in (("mfu", 0.5), ("price_per_hour", 2), ("sparse_speedup", "2:4=1.5")):
            self.bad("optimal-sparsity", 400, "invalid_parameter", name, **dict(base, **{name: v}))
        for v in ("1.5", "2:4=0", "2:4=-1", "4:2=1.5", "2:4=1.5,2:4=1.2", "dense=2", "2:4="):
            self.bad("plan", 400, "invalid_parameter", "sparse_speedup", target_loss=1.6,
                     nonzeros=1e9, hardware="h100", sparse_speedup=v)


class TestPretrained(Planning):
    def test_loss(self):
        for s, r in PRE:
            body = self.t5("loss", sparsity=s, nonzeros=1e9, data=1e10, strategy="pretrained")
            self.assert_rel(body["loss"], ref_loss(T5, s, 1e9, r * 1e10), 1e-12)
            self.assertEqual(body["data"], 1e10)
            self.assert_rel(body["effective_data"], r * 1e10, 1e-12)
            st = body["strategy"]
            self.assertEqual(st["name"], "pretrained")
            self.assertIn("empirical", st["note"])
            self.assertIn("one setting", st["note"])
            self.assertNotIn("pretrain_compute", st)  # a loss has no compute to count it in
            self.assertIn("not part", st["pretrain_note"])
        mid = 1 - math.sqrt(0.5 * 0.25)
        body = self.t5("loss", sparsity=mid, nonzeros=1e9, data=1e10, strategy="pretrained")
        self.assert_rel(body["strategy"]["data_factor"], math.sqrt(4.90 * 4.27), 1e-12)
        scratch = self.t5("loss", sparsity=0.5, nonzeros=1e9, data=1e10, strategy="scratch")
        self.assertNotIn("strategy", scratch)
        self.assert_rel(scratch["loss"], ref_loss(T5, 0.5, 1e9, 1e10), 1e-12)

    def test_out_of_range_is_422_with_the_range(self):
        for s in (0, 0.3, 0.49, 0.9, 0.99):
            err = self.bad("loss", 422, "unprocessable", "sparsity", sparsity=s, nonzeros=1e9,
                           data=1e10, strategy="pretrained")
            self.assertIn("[0.5, 0.875]", err["message"])
            self.bad("plan", 422, "unprocessable", "sparsity", target_loss=1.6, nonzeros=1e9,
                     sparsity=s, strategy="pretrained")
        self.bad("plan", 422, "unprocessable", "pattern", target_loss=1.6, nonzeros=1e9,
                 pattern="1:16", strategy="pretrained")
        self.bad("plan", 422, "unprocessable", "max_sparsity", target_loss=1.6, nonzeros=1e9,
                 max_sparsity=0.4, strategy="pretrained")
        self.bad("optimal-sparsity", 422, "unprocessable", "max_sparsity", nonzeros=1e9,
                 compute=1e21, max_sparsity=0.4, strategy="pretrained")
        self.bad("optimal-sparsity", 422, "unprocessable", "pattern", nonzeros=1e9,
                 compute=1e21, pattern="dense", strategy="pretrained")

    def test_plan_and_optimum(self):
        n, target = 1e9, 1.6
        body = self.t5("plan", target_loss=target, nonzeros=n, strategy="pretrained")
        s = body["sparsity"]
        self.assertTrue(0.5 <= s <= 0.875)
        grid = []
        for i in range(0, 3751):
            si = 0.5 + 0.375 * i / 3750
            grid.append(compute(si, n, data_for(T5, target, si, n) / factor(si)))
        self.assertLessEqual(body["compute"], min(grid) * (1 + 1e-12))
        self.assert_close(ref_loss(T5, s, n, factor(s) * body["data"]), target, 1e-9)
        self.assertEqual(body["strategy"]["pretrain_compute"], "sunk")
        counted = self.t5("plan", target_loss=target, nonzeros=n, strategy="pretrained",
                          pretrain_compute=1e22)
        self.assert_rel(counted["strategy"]["total_compute"], counted["compute"] + 1e22, 1e-12)
        fixed = self.t5("plan", target_loss=target, nonzeros=n, strategy="pretrained",
                        pattern="1:4", cost_model="gmp")
        d = data_for(T5, target, 0.75, n) / 4.27
        self.assert_rel(fixed["data"], d, 1e-12)
        self.assert_rel(fixed["compute"], compute(0.75, n, d, "gmp"), 1e-12)
        opt = self.t5("optimal-sparsity", nonzeros=n, compute=1e21, strategy="pretrained")
        dd = 1e21 / (6 * n)
        best = min(ref_loss(T5, si, n, factor(si) * dd * (1 - si))
                   for si in (0.5 + 0.375 * i / 3750 for i in range(3751)))
        self.assertLessEqual(opt["loss"], best + 1e-12)
        self.assertTrue(0.5 <= opt["sparsity"] <= 0.875)
        # the from-scratch thresholds do not apply to a pruning run
        self.assertIsNone(opt["sparsity_pays_above_data"])
        self.assertIsNone(opt["sparsity_pays_above_compute"])
        scratch = self.t5("optimal-sparsity", nonzeros=n, compute=1e21)
        self.assertGreater(scratch["sparsity_pays_above_data"], 0)

    def test_invalid(self):
        base = dict(sparsity=0.5, nonzeros=1e9, data=1e10)
        for v in ("pruned", "", "PRETRAINED"):
            self.bad("loss", 400, "invalid_parameter", "strategy", strategy=v, **base)
        self.bad("loss", 400, "unknown_parameter", "pretrain_compute", strategy="pretrained",
                 pretrain_compute=1e21, **base)
        self.bad("plan", 400, "invalid_parameter", "pretrain_compute", target_loss=1.6,
                 nonzeros=1e9, pretrain_compute=1e21)
        for v in ("-1", "0", "nan"):
            self.bad("plan", 400, "invalid_parameter", "pretrain_compute", target_loss=1.6,
                     nonzeros=1e9, strategy="pretrained", pretrain_compute=v)
        self.bad("optimal-sparsity", 400, "invalid_parameter", "patterns", nonzeros=1e9,
                 compute=1e21, strategy="pretrained", patterns="2:4")
        self.bad("plan", 400, "invalid_parameter", "strategy", target_loss=1.6, nonzeros=1e9,
                 strategy="finetune")
        self.bad("optimal-sparsity", 400, "invalid_parameter", "strategy", nonzeros=1e9,
                 compute=1e21, strategy="Pretrained")
        self.bad("compute-optimal", 400, "unknown_parameter", "strategy", compute=1e21,
                 strategy="pretrained")


class TestExtremes(Planning):
    """Extreme but valid inputs to every new parameter: an answer or a clear
    400/422, never a 500, for both built-in laws."""

    CASES = [
        ("compute-optimal", {"compute": 1e21}, {"compute": ["1", "1e45"], "max_nonzeros":
                                                ["1", "1e30"], "max_sparsity": ["0", "0.9999999"]}),
        ("compute-optimal", {"param_data": 1e20}, {"param_data": ["1", "1e44"]}),
        ("plan", {"target_loss": 1.5, "inference_tokens": 1e13},
         {"target_loss": ["1e-300", "0.65074219", "0.6507422", "1e300"],
          "inference_tokens": ["0", "1e-300", "1e30"], "max_sparsity": ["0", "0.9999999"],
          "max_nonzeros": ["1", "1e5", "1e30"]}),
        ("plan", {"target_loss": 1.5, "nonzeros": 1e9, "cost_model": "gmp"},
         {"target_loss": ["1e-300", "1e300"], "nonzeros": ["1", "1e30"],
          "prune_start": ["0", "0.75"], "prune_end": ["0.75", "1"]}),
        ("plan", {"target_loss": 1.5, "nonzeros": 1e9, "strategy": "pretrained"},
         {"target_loss": ["1e300", "1e-300"], "nonzeros": ["1", "1e30"],
          "sparsity": ["0.5", "0.875"], "pretrain_compute": ["1", "1e45"]}),
        ("optimal-sparsity", {"nonzeros": 1e9, "data": 1e11, "strategy": "pretrained"},
         {"nonzeros": ["1", "1e30"], "data": ["1", "1e30"], "pattern": ["1:2", "7:8"]}),
        ("plan", {"target_loss": 1.5, "nonzeros": 1e9, "hardware": "a100"},
         {"mfu": ["1e-300", "1"], "price_per_hour": ["0", "1e9"],
          "sparse_speedup": ["unstructured=1e-300", "unstructured=1000"]}),
        ("contours", {"cost_model": "gmp", "points": 3},
         {"prune_start": ["0", "1"], "prune_end": ["1"], "levels": ["0", "0.9999"]}),
    ]

    def test_extreme_values_never_500(self):
        count = 0
        for route, base, extremes in self.CASES:
            for law in ("t5-c4", "vit-jft"):
                for name, values in extremes.items():
                    for v in values:
                        params = dict(base, **{name: v})
                        if law == "vit-jft" and "compute" in params:
                            continue
                        if name == "prune_start" and "prune_end" not in params:
                            params["prune_end"] = 1
                        r = self.srv.get("/v1/laws/%s/%s?%s" % (law, route, q(**params)))
                        count += 1
                        self.assertIn(r.status, (200, 400, 422), "%s %s %s" % (law, params, r))
                        body = r.json()
                        if r.status == 200:
                            self.assertNotIn("error", body)
        self.assertGreater(count, 80)


class TestNewNumbers(Planning):
    """Every new numeric parameter, on a query that is valid without it: each
    malformed or out-of-range text, a duplicate, and a bare name are 400
    naming it."""

    # (route, valid query, new numeric parameter, a valid value)
    CASES = [
        ("compute-optimal", {}, "compute", 1e21),
        ("compute-optimal", {}, "param_data", 1e20),
        ("compute-optimal", {"compute": 1e21}, "max_nonzeros", 1e9),
        ("plan", {"target_loss": 1.4}, "inference_tokens", 1e13),
        ("plan", {"target_loss": 1.4, "inference_tokens": 1e13}, "max_nonzeros", 1e9),
        ("plan", {"target_loss": 1.6, "nonzeros": 1e9}, "sparsity", 0.5),
        ("plan", {"target_loss": 1.6, "nonzeros": 1e9, "strategy": "pretrained"},
         "pretrain_compute", 1e21),
        ("optimal-sparsity", {"nonzeros": 1e9, "compute": 1e21}, "peak_flops", 1e15),
        ("optimal-sparsity", {"nonzeros": 1e9, "compute": 1e21, "hardware": "h100"}, "mfu", 0.5),
        ("optimal-sparsity", {"nonzeros": 1e9, "compute": 1e21, "hardware": "h100"},
         "price_per_hour", 2),
        ("plan", {"target_loss": 1.6, "nonzeros": 1e9, "cost_model": "gmp"}, "prune_start", 0.2),
        ("contours", {"cost_model": "gmp"}, "prune_end", 0.8),
    ]

    def test_bad_numbers_duplicates_and_bare_names(self):
        for route, base, name, good in self.CASES:
            self.t5(route, **dict(base, **{name: good}))
            for value in BAD_NUMBERS:
                self.bad(route, 400, "invalid_parameter", name, **dict(base, **{name: value}))
            url = "/v1/laws/t5-c4/%s?%s" % (route, q(**dict(base, **{name: good})))
            self.assert_error(self.srv.get(url + "&%s=%s" % (name, good)), 400,
                              "invalid_parameter", name, msg=url)
            bare = "/v1/laws/t5-c4/%s?%s" % (route, "&".join(filter(None, (q(**base), name))))
            self.assert_error(self.srv.get(bare), 400, "invalid_parameter", name, msg=bare)


class TestTableHardware(Planning):
    """gpu_hours and cost columns on curves/optimal-sparsity and contours."""
    ROUTES = (("curves/optimal-sparsity", {"nonzeros": "1e8,1e9", "points": 4}),
              ("contours", {"levels": "0,0.5", "points": 3}))

    def hours(self, compute, peak, speedup=1.0, mfu=0.4):
        return compute / (peak * mfu * speedup) / 3600

    def test_columns_per_row(self):
        for route, base in self.ROUTES:
            body = self.t5(route, hardware="h100", price_per_hour=2.5,
                           sparse_speedup="unstructured=1.5", **base)
            self.assertEqual(body["units"]["gpu_hours"], "GPU-hours")
            self.assertIn("price_per_hour", body["units"]["cost"])
            h = body["hardware"]
            self.assertEqual((h["profile"], h["peak_flops"], h["mfu"]), ("h100", 989e12, 0.4))
            self.assertEqual(h["sparse_speedups"], {"unstructured": 1.5})
            self.assertNotIn("gpu_hours", h)
            rows = 0
            for series in body["series"]:
                sparsity = series["sparsity"]
                for i, c in enumerate(series["compute"]):
                    s = sparsity[i] if isinstance(sparsity, list) else sparsity
                    speedup = 1.5 if s else 1.0  # dense_optimal lines and S_opt = 0 are dense
                    self.assert_rel(series["gpu_hours"][i], self.hours(c, 989e12, speedup), 1e-12,
                                    (route, i))
                    self.assert_rel(series["cost"][i], series["gpu_hours"][i] * 2.5, 1e-12)
                    rows += 1
            self.assertGreater(rows, 0)
            # without a price: gpu_hours alone; peak_flops and mfu as given
            plain = self.t5(route, peak_flops=1e15, mfu=0.5, **base)
            self.assertNotIn("cost", plain["units"])
            self.assertIsNone(plain["hardware"]["profile"])
            for series in plain["series"]:
                self.assertNotIn("cost", series)
                for c, g in zip(series["compute"], series["gpu_hours"]):
                    self.assert_rel(g, self.hours(c, 1e15, mfu=0.5), 1e-12)
            # without hardware: no columns, no block
            bare = self.t5(route, **base)
            self.assertNotIn("hardware", bare)
            self.assertNotIn("gpu_hours", bare["series"][0])

    def test_csv_states_the_units(self):
        for route, base in self.ROUTES:
            r = self.srv.get("/v1/laws/t5-c4/%s?%s" % (route, q(
                hardware="a100", price_per_hour=3, format="csv", **base)))
            self.assertEqual(r.status, 200, r)
            lines = r.text().splitlines()
            self.assertIn("gpu_hours = GPU-hours", lines[0])
            self.assertIn("cost = the currency of price_per_hour", lines[0])
            rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
            for row in rows:
                self.assert_rel(float(row["gpu_hours"]),
                                self.hours(float(row["compute"]), 312e12), 1e-9)
                self.assert_rel(float(row["cost"]), float(row["gpu_hours"]) * 3, 1e-9)

    def test_law_not_in_tokens_says_the_conversion_is_missing(self):
        for route, base in self.ROUTES:
            body = self.law("vit-jft", route, hardware="h200", price_per_hour=2, **base)
            self.assertIn("FLOPs per example", body["hardware"]["note"])
            for col in ("gpu_hours", "cost"):
                self.assertIn("FLOPs per example", body["units"][col])
                for series in body["series"]:
                    self.assertTrue(series[col])
                    self.assertEqual(set(series[col]), {None}, (route, col))
            r = self.srv.get("/v1/laws/vit-jft/%s?%s" % (route, q(hardware="h200", format="csv",
                                                                  **base)))
            lines = r.text().splitlines()
            self.assertIn("gpu_hours = not stated", lines[0])
            self.assertIn("FLOPs per example", lines[0])
            rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
            self.assertEqual({row["gpu_hours"] for row in rows}, {""})

    def test_invalid(self):
        for route, base in self.ROUTES:
            for v in ("tpu", "", "H100"):
                self.bad(route, 400, "invalid_parameter", "hardware", hardware=v, **base)
            self.bad(route, 400, "invalid_parameter", "peak_flops", hardware="h100",
                     peak_flops=1e15, **base)
            for v in ("0", "-1e15", "1e21", "abc"):
                self.bad(route, 400, "invalid_parameter", "peak_flops", peak_flops=v, **base)
            for v in ("-1", "nan", "1e10"):
                self.bad(route, 400, "invalid_parameter", "price_per_hour", hardware="h100",
                         price_per_hour=v, **base)
            for v in ("0", "1.5"):
                self.bad(route, 400, "invalid_parameter", "mfu", hardware="h100", mfu=v, **base)
            for v in ("2:4=0", "dense=2", "1.5"):
                self.bad(route, 400, "invalid_parameter", "sparse_speedup", hardware="h100",
                         sparse_speedup=v, **base)
            for name, v in (("mfu", 0.5), ("price_per_hour", 2), ("sparse_speedup", "2:4=1.5")):
                self.bad(route, 400, "invalid_parameter", name, **dict(base, **{name: v}))


FITTED = "t5-fitted"
BOOTSTRAP = 200


class TestPlanIntervals(Planning):
    """compute-optimal and the inference-aware plan on a fitted law: 95 %
    intervals from its bootstrap draws (absent on a built-in law)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.fit_t5_sweep(harness.SHARED, "t5-c4 sweep (plan)", FITTED, BOOTSTRAP)

    def assert_intervals(self, body, fields, most):
        self.assertEqual(set(body["intervals"]), set(fields))
        self.assertIn("intervals", body["units"])
        for f in fields:
            lo, hi = body["intervals"][f]
            self.assertLessEqual(lo, hi, f)
            self.assertLessEqual(lo, body[f] * (1 + 1e-9) + 1e-12, (f, body[f], lo))
            self.assertLessEqual(body[f], hi * (1 + 1e-9) + 1e-12, (f, body[f], hi))
            self.assertLessEqual(body["interval_draws"][f], most, f)
            self.assertGreater(body["interval_draws"][f], most // 2, f)

    def test_compute_optimal(self):
        fields = ["nonzeros", "sparsity", "data", "loss"]
        for cost in ("dense", "gmp"):
            for c in (1e19, 1e21, 1e23):
                body = self.law(FITTED, "compute-optimal", compute=c, cost_model=cost)
                self.assert_intervals(body, fields, BOOTSTRAP)
                # the draws disagree on the loss at a compute: the interval has a width
                self.assertLess(body["intervals"]["loss"][0], body["intervals"]["loss"][1])
        capped = self.law(FITTED, "compute-optimal", compute=1e21, max_nonzeros=1e8,
                          patterns="2:4")
        self.assert_intervals(capped, fields, BOOTSTRAP)
        self.assertLessEqual(capped["intervals"]["nonzeros"][1], 1e8 * (1 + 1e-12))
        builtin = self.t5("compute-optimal", compute=1e21)
        self.assertNotIn("intervals", builtin)
        self.assertNotIn("interval_draws", builtin)

    def test_inference_plan(self):
        fields = ["nonzeros", "sparsity", "data", "training_compute", "inference_compute",
                  "total_compute"]
        floor = self.law(FITTED, "loss", sparsity=0, nonzeros=1e9, data=1e30)["loss"]
        for extra in ({}, {"inference_cost": "total"}, {"cost_model": "gmp"}):
            body = self.law(FITTED, "plan", target_loss=repr(floor + 0.05), inference_tokens=1e13,
                            **extra)
            # every draw is solved, as for the other answers: no cap, no note
            self.assert_intervals(body, fields, BOOTSTRAP)
            self.assertNotIn("intervals_note", body)
        builtin = self.t5("plan", target_loss=1.4, inference_tokens=1e13)
        self.assertNotIn("intervals", builtin)
        self.assertNotIn("intervals_note", builtin)
        # with the bound active: every draw's N is at most the bound
        free = self.law(FITTED, "plan", target_loss=repr(floor + 0.05), inference_tokens=1e13)
        bound = 0.5 * free["nonzeros"]
        capped = self.law(FITTED, "plan", target_loss=repr(floor + 0.05), inference_tokens=1e13,
                          max_nonzeros=repr(bound))
        self.assertIs(capped["capped"], True)
        self.assert_intervals(capped, fields, BOOTSTRAP)
        self.assertLessEqual(capped["intervals"]["nonzeros"][1], bound * (1 + 1e-12))
        # each draw's bounded plan costs at least its free one, so where the same draws
        # answer, each end of the interval does too
        used, free_used = (b["interval_draws"]["total_compute"] for b in (capped, free))
        self.assertLessEqual(used, free_used)
        if used == free_used:
            for i in (0, 1):
                self.assertGreaterEqual(capped["intervals"]["total_compute"][i],
                                        free["intervals"]["total_compute"][i] * (1 - 1e-12))


TEST_CLASSES = [TestComputeOptimal, TestPlanCostAndChoice, TestContoursGmp, TestInference,
                TestHardware, TestPretrained, TestExtremes, TestNewNumbers, TestTableHardware,
                TestPlanIntervals]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES,
                          harness.parser(__doc__, data_dir="holds t5-c4-sweep.csv")))
