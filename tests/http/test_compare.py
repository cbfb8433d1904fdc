#!/usr/bin/env python3
"""Black-box tests of /v1/compare/{query} (one query asked of several laws),
conditional GET (ETag, Cache-Control, If-None-Match and 304) and the
intervals a fitted law's bootstrap draws give plans and curves, against a
real sparselawd.

    python3 tests/http/test_compare.py --server build/sparselawd \\
        --openapi api/openapi.json [--data-dir data] [TestCompare.test_x ...]

The fitted law is t5-c4's published sweep (data/t5-c4-sweep.csv) fitted
with 200 bootstrap draws.
"""
import csv
import io
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import COEF, TOKEN, Base, q  # noqa: E402

FITTED = "t5-fitted"
BOOTSTRAP = 200


def setUpModule():
    harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-compare-"))
    harness.fit_t5_sweep(harness.SHARED, "t5-c4 sweep", FITTED, BOOTSTRAP)


def tearDownModule():
    harness.stop_shared()


def law_body(scale=1.0):
    coef = dict(COEF["t5-c4"])
    coef["a_s"] *= scale
    return {"coefficients": coef, "units": {"data": "tokens", "nonzeros": "parameters"},
            "description": "written by test_compare"}


class Writes:
    def put(self, name, body):
        r = self.srv.request("PUT", "/v1/laws/" + name, json_body=body, token=TOKEN)
        self.assertIn(r.status, (200, 201), r)
        return r.json()


# ---------------------------------------------------------------- compare

class TestCompare(Base, Writes):
    def compare(self, query, laws, **params):
        return self.get_json("/v1/compare/%s?%s" % (query, q(laws=",".join(laws), **params)))

    def single(self, query, law, **params):
        return self.get_json("/v1/laws/%s/%s?%s" % (law, query, q(**params)))

    def test_each_answer_is_the_single_law_answer(self):
        rng = random.Random(11)
        laws = ["t5-c4", "vit-jft", FITTED]
        for _ in range(25):
            n = 10 ** rng.uniform(7, 11)
            d = 10 ** rng.uniform(9, 13)
            cases = [
                ("optimal-sparsity", dict(nonzeros=repr(n), data=repr(d))),
                ("optimal-sparsity", dict(nonzeros=repr(n), data=repr(d), cost_model="gmp")),
                ("loss", dict(sparsity=rng.choice([0, 0.5, 0.875]), nonzeros=repr(n),
                              data=repr(d))),
                ("equivalent-dense", dict(sparsity=rng.uniform(0, 0.95))),
            ]
            for query, params in cases:
                body = self.compare(query, laws, **params)
                self.assertEqual(body["query"], query)
                self.assertEqual(len(body["answers"]), len(laws))
                for law, answer in zip(laws, body["answers"]):
                    self.assertEqual(answer, self.single(query, law, **params), (query, law))
        for query, params in [("curves/loss-vs-data", dict(nonzeros=1e9, points=5)),
                              ("curves/optimal-sparsity", dict(nonzeros="1e8,1e9", points=4,
                                                               data_min=1e9, data_max=1e13)),
                              ("contours", dict(points=4)),
                              ("plan", dict(target_loss=2.6, nonzeros=1e9))]:
            body = self.compare(query, laws, **params)
            for law, answer in zip(laws, body["answers"]):
                one = self.srv.get("/v1/laws/%s/%s?%s" % (law, query, q(**params)))
                if one.status == 422:  # out of this law's reach: its error in its place
                    self.assertEqual(answer["error"], dict(one.json()["error"],
                                                           law={"name": law, "version": 1}))
                else:
                    self.assertEqual(answer, self.ok(one), (query, law))
            self.assertTrue(any("error" not in a for a in body["answers"]))

    def test_laws_by_version_and_order(self):
        name = "cmp-versions"
        self.put(name, law_body(1.0))
        self.put(name, law_body(3.0))
        params = dict(nonzeros=1e9, data=2e11)
        body = self.compare("optimal-sparsity", ["%s@1" % name, name, "t5-c4"], **params)
        refs = [a["law"] for a in body["answers"]]
        self.assertEqual(refs, [{"name": name, "version": 1}, {"name": name, "version": 2},
                                {"name": "t5-c4", "version": 1}])
        self.assertEqual(body["answers"][0], self.single("optimal-sparsity", name, version=1,
                                                         **params))
        self.assertNotEqual(body["answers"][0]["sparsity"], body["answers"][1]["sparsity"])

    def test_unknown_laws_are_404_with_the_name(self):
        r = self.srv.get("/v1/compare/loss?" + q(laws="t5-c4,no-such-law", sparsity=0.5,
                                                 nonzeros=1e9, data=1e10))
        err = self.assert_error(r, 404, "not_found", "laws")
        self.assertIn("no-such-law", err["message"])
        r = self.srv.get("/v1/compare/loss?" + q(laws="t5-c4@7", sparsity=0.5, nonzeros=1e9,
                                                 data=1e10))
        err = self.assert_error(r, 404, "not_found", "laws")
        self.assertIn("t5-c4", err["message"])
        self.assertIn("7", err["message"])
        r = self.srv.get("/v1/compare/no-such-query?laws=t5-c4")
        err = self.assert_error(r, 404, "not_found", "query")
        self.assertIn("optimal-sparsity", err["message"])  # it lists what it takes
        self.assert_error(self.srv.get("/v1/compare/versions?laws=t5-c4"), 404, "not_found",
                          "query")

    def test_invalid_input(self):
        base = dict(sparsity=0.5, nonzeros=1e9, data=1e10)
        cases = [
            ({}, 400, "missing_parameter", "laws"),
            ({"laws": ""}, 400, "invalid_parameter", "laws"),
            ({"laws": "t5-c4,,vit-jft"}, 400, "invalid_parameter", "laws"),
            ({"laws": "t5-c4,t5-c4"}, 400, "invalid_parameter", "laws"),
            ({"laws": ",".join(["t5-c4"] + ["l%d" % i for i in range(8)])}, 400,
             "invalid_parameter", "laws"),
            ({"laws": "T5 C4"}, 400, "invalid_parameter", "laws"),
            ({"laws": "t5-c4@x"}, 400, "invalid_parameter", None),
            ({"laws": "t5-c4@0"}, 400, "invalid_parameter", None),
            ({"laws": "t5-c4", "version": "1"}, 400, "unknown_parameter", "version"),
            ({"laws": "t5-c4", "format": "csv"}, 400, "unknown_parameter", "format"),
            ({"laws": "t5-c4", "target_loss": "2"}, 400, "unknown_parameter", "target_loss"),
            ({"laws": "t5-c4,vit-jft", "nonzeros": "-1"}, 400, "invalid_parameter", "nonzeros"),
        ]
        for extra, status, code, field in cases:
            params = dict(base)
            params.update(extra)
            if "laws" not in extra:
                params.pop("laws", None)
            for k in [k for k, v in extra.items() if v is None]:
                params.pop(k)
            r = self.srv.get("/v1/compare/loss?" + q(**params))
            self.assert_error(r, status, code, field, msg=str(extra))
        # a parameter given twice, as on every route
        r = self.srv.get("/v1/compare/loss?laws=t5-c4&laws=vit-jft&" + q(**base))
        self.assert_error(r, 400, "invalid_parameter", "laws")

    def test_a_law_that_cannot_answer_stands_as_its_error(self):
        # vit-jft measures data in examples: no budget in FLOPs
        body = self.compare("optimal-sparsity", ["t5-c4", "vit-jft"], nonzeros=1e9,
                            compute=1.2e21)
        t5, vit = body["answers"]
        self.assertAlmostEqual(t5["sparsity"],
                               self.single("optimal-sparsity", "t5-c4", nonzeros=1e9,
                                           compute=1.2e21)["sparsity"], 12)
        self.assertEqual(vit["law"], {"name": "vit-jft", "version": 1})
        self.assertEqual(vit["error"]["code"], "unit_mismatch")
        self.assertEqual(set(vit), {"law", "error"})
        # no law can answer: the first one's error
        r = self.srv.get("/v1/compare/plan?" + q(laws="vit-jft,t5-c4", target_loss=0.1,
                                                 nonzeros=1e9))
        err = self.assert_error(r, 422, "unreachable_target", "target_loss")
        self.assertEqual(err["law"], {"name": "vit-jft", "version": 1})

    def test_csv_side_by_side(self):
        """format=csv (or Accept: text/csv) on a table query: each law's units
        line, then one header, law,version and the union of the laws' columns
        (the fitted law's bands among them), then each law's rows, cell for
        cell those of its own CSV; a law that cannot answer says why in a
        comment line and has no rows."""
        laws = ["t5-c4", FITTED, "vit-jft"]
        for query, params in [("curves/optimal-sparsity", dict(nonzeros="1e8,1e9", points=4)),
                              ("curves/loss-vs-data", dict(nonzeros=1e9, points=5)),
                              ("contours", dict(points=3))]:
            path = "/v1/compare/%s?%s" % (query, q(laws=",".join(laws), **params))
            r = self.srv.get(path + "&format=csv")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.header("content-type").startswith("text/csv"), r)
            self.assertEqual(self.srv.get(path, headers={"Accept": "text/csv"}).body, r.body)
            lines = r.text().splitlines()
            comments = [x for x in lines if x.startswith("#")]
            self.assertEqual(lines[:len(comments)], comments)  # the comments come first
            table = list(csv.reader(io.StringIO("\n".join(lines[len(comments):]))))
            header, rows = table[0], table[1:]
            singles = {law: csv_table(self.srv.get("/v1/laws/%s/%s?%s" % (
                law, query, q(format="csv", **params)))) for law in laws}
            union = []
            for law in laws:
                union += [h for h in singles[law][1] if h not in union]
            self.assertEqual(header, ["law", "version"] + union, query)
            if query != "contours":  # contours carry no bands
                self.assertIn("loss_lo", header)
            for law in laws:
                units, own_header, own_rows = singles[law]
                self.assertIn("# units of %s v1: %s" % (law, "; ".join(
                    "%s = %s" % kv for kv in units.items())), comments)
                mine = [dict(zip(header, x)) for x in rows if x[0] == law]
                self.assertEqual([x["version"] for x in mine], ["1"] * len(own_rows))
                self.assertEqual([{h: x[h] for h in own_header} for x in mine], own_rows,
                                 (query, law))
                for h in set(union) - set(own_header):  # another law's bands
                    self.assertEqual({x[h] for x in mine}, {""}, (query, law, h))
        # vit-jft cannot take a range in FLOPs: its reason, and t5-c4's rows alone
        r = self.srv.get("/v1/compare/curves/optimal-sparsity?" + q(
            laws="vit-jft,t5-c4", nonzeros=1e9, points=3, compute_min=1e20, compute_max=1e22,
            format="csv"))
        self.assertEqual(r.status, 200, r)
        lines = r.text().splitlines()
        self.assertTrue(lines[0].startswith("# vit-jft v1: no answer: "), lines[0])
        self.assertTrue(lines[1].startswith("# units of t5-c4 v1: "), lines[1])
        self.assertEqual({x.split(",")[0] for x in lines[3:]}, {"t5-c4"})
        # queries that answer no table stay JSON and take no format, as their own routes
        r = self.srv.get("/v1/compare/optimal-sparsity?" + q(laws="t5-c4", nonzeros=1e9,
                                                             data=1e11),
                         headers={"Accept": "text/csv"})
        self.assertEqual(self.ok(r)["query"], "optimal-sparsity")
        self.assert_error(self.srv.get("/v1/compare/contours?" + q(laws="t5-c4", format="xml")),
                          400, "invalid_parameter", "format")

    def test_openapi_documents_every_compare_route(self):
        with open(harness.OPENAPI_PATH, encoding="utf-8") as f:
            doc = json.load(f)
        singles = {p[len("/v1/laws/{name}/"):] for p, item in doc["paths"].items()
                   if p.startswith("/v1/laws/{name}/") and "get" in item and
                   not p.endswith("/versions")}
        compares = {p[len("/v1/compare/"):] for p in doc["paths"] if p.startswith("/v1/compare/")}
        self.assertEqual(compares, singles)
        for query in compares:  # and the server answers each
            r = self.srv.get("/v1/compare/%s?laws=t5-c4" % query)
            self.assertNotEqual(r.status, 404, (query, r))


# ---------------------------------------------------------------- caching

class TestConditionalGet(Base, Writes):
    PATH = "/v1/laws/t5-c4/optimal-sparsity?" + q(nonzeros=1e9, data=2e11)

    def test_etag_and_cache_control(self):
        r = self.srv.get(self.PATH)
        self.assertEqual(r.status, 200)
        tag = r.header("etag")
        self.assertRegex(tag, r'^"[0-9a-f]{32}"$')
        self.assertEqual(r.header("cache-control"), "no-cache")
        self.assertEqual(r.header("vary"), "Accept")
        # the same query in another order has the same tag; another query another
        self.assertEqual(self.srv.get("/v1/laws/t5-c4/optimal-sparsity?" +
                                      q(data=2e11, nonzeros=1e9)).header("etag"), tag)
        other = self.srv.get("/v1/laws/t5-c4/optimal-sparsity?" + q(nonzeros=1e9, data=3e11))
        self.assertNotEqual(other.header("etag"), tag)
        self.assertNotEqual(self.srv.get("/v1/laws/vit-jft/optimal-sparsity?" +
                                         q(nonzeros=1e9, data=2e11)).header("etag"), tag)
        pinned = self.srv.get(self.PATH + "&version=1")
        self.assertEqual(pinned.header("cache-control"), "public, max-age=86400")
        self.assertNotEqual(pinned.header("etag"), tag)

    def test_if_none_match_answers_304(self):
        r = self.srv.get(self.PATH)
        tag = r.header("etag")
        for header in (tag, "W/" + tag, '"0000", %s' % tag, ' W/"0000" ,%s ' % tag):
            nm = self.srv.get(self.PATH, headers={"If-None-Match": header})
            self.assertEqual(nm.status, 304, header)
            self.assertEqual(nm.body, b"")
            self.assertEqual(nm.header("etag"), tag)
            self.assertEqual(nm.header("cache-control"), "no-cache")
        head = self.srv.request("HEAD", self.PATH, headers={"If-None-Match": tag})
        self.assertEqual(head.status, 304)
        # "*" too: only a valid query has an answer to be current, and the
        # tag is checked before the query is
        for header in ('"%s"' % ("0" * 32), tag[:-2] + '"', "garbage", "*", tag[1:-1]):
            again = self.srv.get(self.PATH, headers={"If-None-Match": header})
            self.assertEqual(again.status, 200, header)
            self.assertEqual(again.body, r.body)
        # a 304 is logged and counted as one
        lines = self.srv.request_lines()
        self.assertTrue(any(e["status"] == 304 for e in lines))

    def test_csv_and_json_have_their_own_tags(self):
        path = "/v1/laws/t5-c4/curves/loss-vs-data?" + q(nonzeros=1e9, points=3)
        js = self.srv.get(path)
        by_accept = self.srv.get(path, headers={"Accept": "text/csv"})
        by_format = self.srv.get(path + "&format=csv")
        self.assertTrue(by_accept.header("content-type").startswith("text/csv"))
        self.assertNotEqual(js.header("etag"), by_accept.header("etag"))
        self.assertEqual(self.srv.get(path, headers={"Accept": "text/csv", "If-None-Match":
                                                     by_accept.header("etag")}).status, 304)
        self.assertEqual(self.srv.get(path, headers={"If-None-Match":
                                                     by_accept.header("etag")}).status, 200)
        self.assertTrue(by_format.header("etag"))

    def test_a_new_law_version_changes_the_tag(self):
        name = "etag-law"
        self.put(name, law_body(1.0))
        path = "/v1/laws/%s/optimal-sparsity?%s" % (name, q(nonzeros=1e9, data=2e11))
        cmp_path = "/v1/compare/optimal-sparsity?" + q(laws="t5-c4," + name, nonzeros=1e9,
                                                      data=2e11)
        v1 = self.srv.get(path)
        c1 = self.srv.get(cmp_path)
        pinned = self.srv.get(path + "&version=1")
        self.assertEqual(self.srv.get(path, headers={"If-None-Match": v1.header("etag")}).status,
                         304)
        self.put(name, law_body(2.0))
        v2 = self.srv.get(path, headers={"If-None-Match": v1.header("etag")})
        self.assertEqual(v2.status, 200)
        self.assertNotEqual(v2.header("etag"), v1.header("etag"))
        self.assertEqual(v2.json()["law"]["version"], 2)
        self.assertNotEqual(v2.json()["sparsity"], v1.json()["sparsity"])
        c2 = self.srv.get(cmp_path, headers={"If-None-Match": c1.header("etag")})
        self.assertEqual(c2.status, 200)
        self.assertNotEqual(c2.header("etag"), c1.header("etag"))
        # version 1 by number has not changed
        self.assertEqual(self.srv.get(path + "&version=1", headers={
            "If-None-Match": pinned.header("etag")}).status, 304)
        # the law object too
        law1 = self.srv.get("/v1/laws/" + name)
        self.assertEqual(self.srv.get("/v1/laws/" + name, headers={
            "If-None-Match": law1.header("etag")}).status, 304)
        self.put(name, law_body(3.0))
        self.assertEqual(self.srv.get("/v1/laws/" + name, headers={
            "If-None-Match": law1.header("etag")}).status, 200)

    def test_compare_has_its_tag(self):
        path = "/v1/compare/loss?" + q(laws="t5-c4,vit-jft", sparsity=0.5, nonzeros=1e9,
                                       data=1e10)
        r = self.srv.get(path)
        tag = r.header("etag")
        self.assertTrue(tag)
        self.assertEqual(self.srv.get(path, headers={"If-None-Match": tag}).status, 304)
        swapped = self.srv.get("/v1/compare/loss?" + q(laws="vit-jft,t5-c4", sparsity=0.5,
                                                       nonzeros=1e9, data=1e10))
        self.assertNotEqual(swapped.header("etag"), tag)  # the answers come in another order
        pinned = self.srv.get("/v1/compare/loss?" + q(laws="vit-jft@1,t5-c4@1", sparsity=0.5,
                                                      nonzeros=1e9, data=1e10))
        self.assertEqual(pinned.header("cache-control"), "public, max-age=86400")

    def test_no_tag_where_the_answer_is_not_the_query_s(self):
        batch = self.srv.request("POST", "/v1/laws/t5-c4/loss", json_body={
            "points": [{"sparsity": 0, "nonzeros": 1e9, "data": 1e10}]})
        self.assertEqual(batch.status, 200)
        self.assertIsNone(batch.header("etag"))
        bad = self.srv.get("/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9")
        self.assertEqual(bad.status, 400)
        self.assertIsNone(bad.header("etag"))
        unreachable = self.srv.get("/v1/laws/t5-c4/plan?" + q(target_loss=0.5, nonzeros=1e9))
        self.assertEqual(unreachable.status, 422)
        self.assertIsNone(unreachable.header("etag"))
        # an error keeps its status whatever If-None-Match says
        self.assertEqual(self.srv.get("/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9",
                                      headers={"If-None-Match": "*"}).status, 400)
        self.assertIsNone(self.srv.get("/healthz").header("etag"))


# ---------------------------------------------------------------- intervals

def csv_table(resp):
    """The CSV of a curve: its '# units:' line as {column: unit}, the header, the rows."""
    lines = resp.text().splitlines()
    assert lines[0].startswith("# units: "), lines[0]
    units = dict(part.strip().split(" = ", 1) for part in lines[0][len("# units: "):].split(";"))
    table = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    return units, table[0], [dict(zip(table[0], r)) for r in table[1:]]


class TestIntervals(Base):
    def assert_within(self, lo, value, hi, what):
        self.assertLessEqual(lo, hi, what)
        self.assertLessEqual(lo, value * (1 + 1e-12), what)
        self.assertLessEqual(value, hi * (1 + 1e-12), what)

    def test_plan_intervals(self):
        rng = random.Random(5)
        fields = ["sparsity", "data", "compute", "total_params"]
        for _ in range(20):
            n = 10 ** rng.uniform(8, 10.5)
            floor = self.get_json("/v1/laws/%s/loss?%s" % (FITTED, q(
                sparsity=0, nonzeros=repr(n), data=1e30)))["loss"]
            target = floor + rng.uniform(0.05, 0.6)
            plan = self.get_json("/v1/laws/%s/plan?%s" % (FITTED, q(target_loss=repr(target),
                                                                   nonzeros=repr(n))))
            self.assertEqual(set(plan["intervals"]), set(fields))
            for f in fields:
                iv = plan["intervals"][f]
                self.assertIsNotNone(iv, f)
                self.assert_within(iv[0], plan[f], iv[1], (f, n, target))
                self.assertLessEqual(plan["interval_draws"][f], BOOTSTRAP)
                self.assertGreater(plan["interval_draws"][f], BOOTSTRAP // 2)
            self.assertIn("intervals", plan["units"])
            # compute is 6 N D / (1 - S) on every draw: the ends cannot invert
            self.assertGreater(plan["intervals"]["compute"][1], plan["intervals"]["compute"][0])
        builtin = self.get_json("/v1/laws/t5-c4/plan?" + q(target_loss=2.0, nonzeros=1e9))
        self.assertNotIn("intervals", builtin)

    def test_loss_vs_data_bands(self):
        path = "/v1/laws/%s/curves/loss-vs-data?%s" % (FITTED, q(
            nonzeros=1e9, sparsities="0,0.75", points=6))
        body = self.get_json(path)
        for s in body["series"]:
            for lo, loss, hi, d in zip(s["loss_lo"], s["loss"], s["loss_hi"], s["data"]):
                self.assert_within(lo, loss, hi, d)
                # the band at a point is the interval the loss query gives there
                one = self.get_json("/v1/laws/%s/loss?%s" % (FITTED, q(
                    sparsity=s["sparsity"], nonzeros=1e9, data=repr(d))))
                self.assertAlmostEqual(one["interval"][0], lo, delta=1e-12 * abs(lo))
                self.assertAlmostEqual(one["interval"][1], hi, delta=1e-12 * abs(hi))
        self.assertIn("loss_lo", body["units"])
        units, header, rows = csv_table(self.srv.get(path + "&format=csv"))
        self.assertEqual(header, ["sparsity", "nonzeros", "data", "loss", "loss_lo", "loss_hi"])
        self.assertEqual(units["data"], "tokens")
        self.assertEqual(units["loss_lo"], units["loss"])
        self.assertEqual(len(rows), 12)
        for r in rows:
            self.assert_within(float(r["loss_lo"]), float(r["loss"]), float(r["loss_hi"]), r)
        plain = self.get_json("/v1/laws/t5-c4/curves/loss-vs-data?nonzeros=1e9&points=3")
        self.assertNotIn("loss_lo", plain["series"][0])

    def test_optimal_sparsity_curve_bands(self):
        for cost in ("dense", "gmp"):
            body = self.get_json("/v1/laws/%s/curves/optimal-sparsity?%s" % (FITTED, q(
                nonzeros="1e8,1e9", compute_min=1e20, compute_max=1e24, points=5,
                cost_model=cost)))
            for s in body["series"]:
                for i in range(5):
                    self.assertLessEqual(s["sparsity_lo"][i], s["sparsity_hi"][i])
                    self.assertLessEqual(s["loss_lo"][i], s["loss_hi"][i])
                    self.assert_within(s["loss_lo"][i], s["loss"][i], s["loss_hi"][i], (cost, i))
                    self.assertGreaterEqual(s["sparsity_lo"][i], 0)
                    self.assertLessEqual(s["sparsity_hi"][i], 0.999)
                # the band of S_opt at a point is the optimal-sparsity query's interval there
                one = self.get_json("/v1/laws/%s/optimal-sparsity?%s" % (FITTED, q(
                    nonzeros=s["nonzeros"], compute=repr(s["compute"][2]), cost_model=cost)))
                self.assertAlmostEqual(one["interval"][0], s["sparsity_lo"][2], places=9)
                self.assertAlmostEqual(one["interval"][1], s["sparsity_hi"][2], places=9)

    def test_contour_bands(self):
        """Each contour point's band: the 95 % interval over the draws of the
        dense data where S_opt is the line's level (or of the dense
        compute-optimal data), and of its compute. S_opt rises with the
        budget, so at the band's upper end nearly every draw has S_opt at or
        above the level: there the optimal-sparsity interval starts near it."""
        for cost in ("dense", "gmp"):
            path = "/v1/laws/%s/contours?%s" % (FITTED, q(levels="0.25,0.5", points=4,
                                                          nonzeros_min=1e8, nonzeros_max=1e10,
                                                          cost_model=cost))
            body = self.get_json(path)
            self.assertIn("dense_data_lo", body["units"])
            lines = {s["line"] + str(s.get("sparsity")): s for s in body["series"]}
            self.assertEqual(len(lines), 3)
            for s in body["series"]:
                for i, n in enumerate(s["nonzeros"]):
                    lo, d, hi = s["dense_data_lo"][i], s["dense_data"][i], s["dense_data_hi"][i]
                    self.assert_within(lo, d, hi, (cost, s["line"], n))
                    self.assert_rel(s["compute_lo"][i], 6 * n * lo, 1e-12)
                    self.assert_rel(s["compute_hi"][i], 6 * n * hi, 1e-12)
                    if s["line"] != "iso_sparsity":
                        continue
                    one = self.get_json("/v1/laws/%s/optimal-sparsity?%s" % (FITTED, q(
                        nonzeros=repr(n), data=repr(hi), cost_model=cost)))
                    # percentiles interpolate between neighbouring draws: near, not equal
                    self.assertAlmostEqual(one["interval"][0], s["sparsity"], delta=2e-3)
            units, header, rows = csv_table(self.srv.get(path + "&format=csv"))
            self.assertEqual(header[:8], ["line", "sparsity", "nonzeros", "dense_data", "compute",
                                          "dense_data_lo", "dense_data_hi", "compute_lo"])
            self.assertEqual(units["dense_data_lo"], "tokens")
        plain = self.get_json("/v1/laws/t5-c4/contours?points=3")
        self.assertNotIn("dense_data_lo", plain["series"][0])

    def test_a_curve_too_large_for_bands_says_so(self):
        # 16 series x 1000 points x 200 draws is past the work a curve may take
        many = ",".join(str(i / 20) for i in range(16))
        body = self.get_json("/v1/laws/%s/curves/loss-vs-data?%s" % (FITTED, q(
            nonzeros=1e9, sparsities=many, points=1000)))
        self.assertNotIn("loss_lo", body["series"][0])
        self.assertIn("fewer points", body["bands"])
        small = self.get_json("/v1/laws/%s/curves/loss-vs-data?%s" % (FITTED, q(
            nonzeros=1e9, points=10)))
        self.assertNotIn("bands", small)
        self.assertIn("loss_lo", small["series"][0])

    def test_csv_states_units(self):
        for path in ("/v1/laws/t5-c4/curves/optimal-sparsity?points=3&format=csv",
                     "/v1/laws/vit-jft/contours?points=3&format=csv",
                     "/v1/laws/vit-jft/curves/loss-vs-data?nonzeros=1e8&points=3&format=csv"):
            units, header, rows = csv_table(self.srv.get(path))
            numeric = [h for h in header if h != "line"]
            self.assertEqual(list(units), numeric, path)
            for col in numeric:
                self.assertNotEqual(units[col], "no unit", (path, col))
            self.assertTrue(rows)
        self.assertEqual(csv_table(self.srv.get(
            "/v1/laws/vit-jft/contours?points=3&format=csv"))[0]["dense_data"], "examples")


TEST_CLASSES = [TestCompare, TestConditionalGet, TestIntervals]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES,
                          harness.parser(__doc__, data_dir="holds t5-c4-sweep.csv")))
