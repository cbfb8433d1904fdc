#!/usr/bin/env python3
"""Black-box HTTP tests of uploads from the tools people already use: a W&B
runs-table export and an MLflow search_runs CSV (tests/fixtures/) posted as
they are, ?columns= and ?skip_invalid=true, and what the answers say
(ignored_columns, skipped); a refused upload stores nothing.

    python3 tests/http/test_uploads.py --server build/sparselawd --openapi api/openapi.json \
        [--fixtures-dir tests/fixtures]

Standard library only. The server and its helpers come from harness.py beside
this file; one server on a temporary data directory answers every test. The unit
tests (tests/unit/test_upload_tools.c) cover the parsing itself; these check
what only the real server shows: the query options reach the parser, the
answers carry the report, and nothing is stored when an upload is refused.
"""
import csv
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TOKEN, q  # noqa: E402

FIXTURES_DIR = None
WANDB_FILE = "wandb-runs-export.csv"
MLFLOW_FILE = "mlflow-search-runs.csv"
WANDB_IGNORED = ["Name", "Notes", "User", "Tags", "Created", "Runtime", "Sweep", "batch_size",
                 "lr", "train/loss"]
MLFLOW_IGNORED = ["", "experiment_id", "artifact_uri", "start_time", "end_time",
                  "metrics.train_loss", "params.lr", "tags.mlflow.runName",
                  "tags.mlflow.source.name", "tags.mlflow.source.type", "tags.mlflow.user"]


def fixture(name):
    path = os.path.join(FIXTURES_DIR, name)
    with open(path, "rb") as f:  # a missing fixture fails the test, never skips it
        return f.read()


def fixture_rows(name):
    with open(os.path.join(FIXTURES_DIR, name), newline="") as f:
        return list(csv.DictReader(f))


def wandb_expected():
    """The finished runs of the W&B export, as the server must store them."""
    out = []
    for r in fixture_rows(WANDB_FILE):
        if r["State"] != "finished":
            continue
        out.append({"sparsity": float(r["sparsity"]), "nonzeros": float(r["nonzeros"]),
                    "data": float(r["tokens"]), "loss": float(r["val/loss"]),
                    "seed": int(r["seed"])})
    return out


def mlflow_expected():
    out = []
    for r in fixture_rows(MLFLOW_FILE):
        if r["status"] != "FINISHED":
            continue
        s = float(r["params.sparsity"])
        out.append({"sparsity": s, "nonzeros": float(r["params.total_params"]) * (1 - s),
                    "data": float(r["params.tokens"]), "loss": float(r["metrics.val_loss"]),
                    "run_id": r["run_id"], "seed": int(r["params.seed"])})
    return out


def setUpModule():
    harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-uploads-"))


def tearDownModule():
    harness.stop_shared()


class Base(harness.Base):
    def upload(self, body, path="/v1/datasets", ctype="text/csv", **params):
        if path == "/v1/datasets":
            params.setdefault("name", "upload")
        return self.srv.request("POST", path + "?" + q(**params), body=body,
                                headers={"Content-Type": ctype}, token=TOKEN)

    def datasets(self):
        return self.ok(self.srv.get("/v1/datasets", token=TOKEN))["datasets"]

    def records(self, ds_id):
        return self.ok(self.srv.get("/v1/datasets/%d" % ds_id, token=TOKEN))["records"]

    def refused(self, resp, status, code, field=None):
        """An upload error in the shape every error has."""
        return self.assert_error(resp, status, code, field)

    def assert_records(self, got, want):
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            for k, v in w.items():
                if isinstance(v, float):
                    self.assertAlmostEqual(g[k], v, delta=1e-9 * abs(v), msg=(k, g, w))
                else:
                    self.assertEqual(g[k], v, (k, g, w))


class TestExports(Base):
    def test_wandb_export_with_crashed_runs_is_refused_and_stores_nothing(self):
        before = self.datasets()
        err = self.refused(self.upload(fixture(WANDB_FILE)), 422, "unprocessable")
        where = {(e["row"], e["field"]) for e in err["errors"]}
        self.assertEqual(where, {(10, "State"), (10, "val/loss"), (14, "State"),
                                 (14, "val/loss")}, err)
        self.assertIn("skip_invalid", err["message"])
        self.assertEqual(self.datasets(), before)

    def test_wandb_export_with_skip_invalid(self):
        r = self.upload(fixture(WANDB_FILE), name="wandb", skip_invalid="true")
        info = self.ok(r, 201)
        self.assertEqual(info["rows"], 12)
        self.assertEqual(info["units"], {"nonzeros": "parameters", "data": "tokens"})
        self.assertEqual(info["ignored_columns"], WANDB_IGNORED)
        self.assertEqual([(s["row"], s["field"]) for s in info["skipped"]],
                         [(10, "State"), (14, "State")])
        self.assertIn("failed", info["skipped"][0]["reason"])
        self.assertIn("crashed", info["skipped"][1]["reason"])
        self.assert_records(self.records(info["id"]), wandb_expected())
        # what a GET answers is the dataset alone
        got = self.ok(self.srv.get("/v1/datasets/%d" % info["id"], token=TOKEN))
        self.assertNotIn("ignored_columns", got)

    def test_wandb_run_names_as_run_ids(self):
        info = self.ok(self.upload(fixture(WANDB_FILE), skip_invalid="true",
                                   columns="run_id:Name"), 201)
        self.assertEqual(info["ignored_columns"], WANDB_IGNORED[1:])
        recs = self.records(info["id"])
        names = [r["Name"] for r in fixture_rows(WANDB_FILE) if r["State"] == "finished"]
        self.assertEqual([r["run_id"] for r in recs], names)

    def test_mlflow_search_runs_with_skip_invalid_and_a_fit(self):
        before = self.datasets()
        err = self.refused(self.upload(fixture(MLFLOW_FILE)), 422, "unprocessable")
        self.assertEqual({(e["row"], e["field"]) for e in err["errors"]},
                         {(4, "status"), (4, "metrics.val_loss")})
        self.assertEqual(self.datasets(), before)
        info = self.ok(self.upload(fixture(MLFLOW_FILE), name="mlflow", skip_invalid="true"), 201)
        self.assertEqual(info["rows"], 8)
        self.assertEqual(info["ignored_columns"], MLFLOW_IGNORED)
        self.assertEqual(info["skipped"], [{"row": 4, "field": "status", "reason":
                                            info["skipped"][0]["reason"]}])
        self.assertIn("FAILED", info["skipped"][0]["reason"])
        self.assert_records(self.records(info["id"]), mlflow_expected())
        # the uploaded runs fit like any dataset
        r = self.srv.request("POST", "/v1/fits?wait=true", token=TOKEN,
                             json_body={"dataset": info["id"], "law": "mlflow-export",
                                        "bootstrap": 0})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "succeeded", r)

    def test_append_with_skip_invalid_and_refused_appends(self):
        info = self.ok(self.upload(fixture(MLFLOW_FILE), skip_invalid="true"), 201)
        path = "/v1/datasets/%d/rows" % info["id"]
        self.refused(self.upload(fixture(WANDB_FILE), path=path), 422, "unprocessable")
        self.assertEqual(len(self.records(info["id"])), 8, "a refused append added rows")
        more = self.ok(self.upload(fixture(WANDB_FILE), path=path, skip_invalid="true"), 200)
        self.assertEqual(more["rows"], 20)
        self.assertEqual(more["ignored_columns"], WANDB_IGNORED)
        self.assertEqual(len(more["skipped"]), 2)
        self.assert_records(self.records(info["id"]), mlflow_expected() + wandb_expected())


class TestOptions(Base):
    def test_columns_maps_any_column(self):
        body = b"S,N,tok,my_loss,lr\n0.5,1e8,1e10,2.5,0.1\n0,1e8,1e10,2.75,0.1\n"
        info = self.ok(self.upload(body, columns="loss:my_loss,data:tok,sparsity:S,nonzeros:N"),
                       201)
        self.assertEqual(info["ignored_columns"], ["lr"])
        self.assertEqual(info["skipped"], [])
        self.assert_records(self.records(info["id"]),
                            [{"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10, "loss": 2.5},
                             {"sparsity": 0.0, "nonzeros": 1e8, "data": 1e10, "loss": 2.75}])
        # JSON rows with a column that holds a slash, as W&B names metrics
        rows = [{"sparsity": 0.5, "nonzeros": 1e8, "data": 1e10, "loss": 9, "eval/ce": 2.5}]
        info = self.ok(self.upload(json.dumps(rows).encode(), ctype="application/json",
                                   columns="loss:eval/ce"), 201)
        self.assertEqual(info["ignored_columns"], ["loss"])
        self.assertEqual(self.records(info["id"])[0]["loss"], 2.5)

    def test_bad_option_values_store_nothing(self):
        before = self.datasets()
        body = b"sparsity,nonzeros,data,loss\n0,1e8,1e10,2.5\n"
        for columns in ("loss", "nope:x", "loss:a,val_loss:b", "loss:"):
            with self.subTest(columns=columns):
                self.refused(self.upload(body, columns=columns), 400, "invalid_parameter",
                             "columns")
        self.refused(self.upload(body, columns="loss:my_loss"), 400, "invalid_parameter",
                     "columns")
        for value in ("yes", "1", "TRUE", ""):
            with self.subTest(skip_invalid=value):
                self.refused(self.upload(body, skip_invalid=value), 400, "invalid_parameter",
                             "skip_invalid")
        self.assertEqual(self.datasets(), before)

    def test_skip_invalid_with_no_good_row(self):
        before = self.datasets()
        body = b"sparsity,nonzeros,data,val/loss,State\n0,1e8,1e10,,crashed\n0,1e8,1e10,NaN,\n"
        err = self.refused(self.upload(body, skip_invalid="true"), 422, "unprocessable")
        self.assertIn("no row is valid", err["message"])
        self.assertIn("nothing was stored", err["message"])
        self.assertEqual([(e["row"], e["field"]) for e in err["errors"]],
                         [(None, None), (1, "State"), (2, "val/loss")])
        self.assertEqual(self.datasets(), before)

    def test_skip_invalid_false_and_all_good(self):
        body = b"sparsity,nonzeros,data,loss\n0,1e8,1e10,2.5\n"
        info = self.ok(self.upload(body, skip_invalid="false"), 201)
        self.assertEqual((info["ignored_columns"], info["skipped"]), ([], []))

    def test_options_are_documented(self):
        with open(harness.OPENAPI_PATH) as f:
            doc = json.load(f)
        for path, status in (("/v1/datasets", "201"), ("/v1/datasets/{id}/rows", "200")):
            op = doc["paths"][path]["post"]
            names = {p["name"] for p in op["parameters"]}
            self.assertLessEqual({"columns", "skip_invalid"}, names, path)
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            self.assertEqual(ref, "#/components/schemas/DatasetUploaded")
        answer = doc["components"]["schemas"]["DatasetUploaded"]["allOf"][1]
        self.assertEqual(set(answer["required"]), {"ignored_columns", "skipped"})
        item = answer["properties"]["skipped"]["items"]
        self.assertEqual(set(item["properties"]), {"row", "field", "reason"})


# ---------------------------------------------------------------- main

TEST_CLASSES = [TestExports, TestOptions]


def configure(args):
    global FIXTURES_DIR
    FIXTURES_DIR = os.path.abspath(args.fixtures_dir)


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--fixtures-dir", default=os.path.join(harness.REPO, "tests", "fixtures"),
                        help="the W&B and MLflow exports (default: <repo>/tests/fixtures)")
    sys.exit(harness.main(TEST_CLASSES, parser, configure))
