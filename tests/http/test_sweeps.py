#!/usr/bin/env python3
"""Black-box HTTP tests of calibration sweeps on the local backend: a grid of
real sparselaw-train runs, their dataset and the fit that publishes the law;
duplicates, cancels, bad grids, retries, and a kill -9 in the middle.

    python3 tests/http/test_sweeps.py --server build/sparselawd --openapi api/openapi.json \
        --trainer build/sparselaw-train [--corpus data/tinyshakespeare.txt]

Standard library only; the server, worker and sweep helpers come from
harness.py beside this file. Every test skips when --trainer is not an executable file. The runs
are tiny (a few thousand tokens of a 1-layer model on tinyshakespeare), so
the whole file takes well under a minute on 2 cores.
"""
import contextlib
import glob
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (COEF, GRID, SIZES, TOKEN, WORKER_TOKEN, Server, SweepBase,  # noqa: E402
                     Worker, free_port, jsonl_events, new_token_file, pid_alive, stop_running,
                     sweep_body)


def have_trainer():
    trainer = harness.TRAINER
    return bool(trainer) and os.path.isfile(trainer) and os.access(trainer, os.X_OK)


def server_args(extra=()):
    args = ["--trainer", harness.TRAINER or "/nonexistent", "--local-runs", "2"]
    if harness.CORPUS:
        args += ["--corpus", harness.CORPUS]
    return args + list(extra)


def corpus_args():
    return ["--corpus", harness.CORPUS] if harness.CORPUS else []


def ref_pid(run):
    ref = run.get("reference") or ""
    return int(ref.split(":")[1]) if ref.startswith("pid:") else None


def setUpModule():
    if have_trainer():
        harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-sweeps-"), args=server_args())


def tearDownModule():
    harness.stop_shared()


class Base(SweepBase):
    def setUp(self):
        if not have_trainer():
            self.skipTest("--trainer %r is not an executable file" % harness.TRAINER)

    def logs(self, server):
        return sorted(glob.glob(os.path.join(server.data_dir, "runs", "run-*.jsonl")))


class TestEndToEnd(Base):
    def test_grid_trains_fits_and_publishes(self):
        s = self.post_sweep(sweep_body("calib-e2e"))
        self.assertEqual(s["state"], "running")
        self.assertEqual(s["backend"], "local")
        self.assertEqual(s["counts"]["total"], 8)
        self.assertEqual(len(s["runs"]), 8)
        self.assertIsNone(s["dataset"])
        self.assertIsNone(s["fit"])
        points = {(r["point"]["layers"], r["point"]["sparsity"], r["point"]["tokens"])
                  for r in s["runs"]}
        self.assertEqual(len(points), 8)
        s = self.wait_done(s["id"])
        self.assertEqual(s["state"], "succeeded", json.dumps(s)[:2000])
        self.assertEqual(s["counts"]["succeeded"], 8)
        self.assertEqual(s["fit"]["published"], {"name": "calib-e2e", "version": 1})
        self.assertEqual(s["dataset"]["rows"], 8)
        for run in s["runs"]:
            self.assertEqual(run["state"], "succeeded")
            self.assertEqual(run["attempts"], 1)
            self.assertTrue(run["reference"].startswith("pid:"))
            res = run["result"]
            self.assertEqual(res["status"], "completed")
            self.assertGreaterEqual(res["tokens"], run["point"]["tokens"])
            self.assertGreater(res["val_loss"], 0)
            self.assertLessEqual(res["nonzeros"], res["prunable_params"])
            self.assertAlmostEqual(res["sparsity"], run["point"]["sparsity"], delta=0.01)
            prog = run["progress"]
            self.assertEqual(prog["step"], prog["steps"])
            self.assertEqual(prog["val_loss"], res["val_loss"])
            self.assertGreaterEqual(len(prog["evaluations"]), 2)
            # partial losses fall as training goes on
            self.assertLess(prog["evaluations"][-1]["val_loss"], prog["evaluations"][0]["val_loss"])
            self.assertEqual(self.run_get(run["id"])["result"], res)
        # the dataset: one row per run, the trainer's own numbers
        ds = self.ok(self.srv.get("/v1/datasets/%d" % s["dataset"]["id"], token=TOKEN))
        rows = {r["run_id"]: r for r in ds["records"]} if "records" in ds else {
            r["run_id"]: r for r in ds["rows"]}
        for run in s["runs"]:
            row = rows["run-%d" % run["id"]]
            self.assertEqual(row["nonzeros"], run["result"]["nonzeros"])
            self.assertEqual(row["data"], run["result"]["tokens"])
            self.assertEqual(row["loss"], run["result"]["val_loss"])
            self.assertEqual(row["seed"], 1)
        fit = self.ok(self.srv.get("/v1/fits/%d" % s["fit"]["id"], token=TOKEN))
        self.assertEqual(fit["state"], "succeeded")
        self.assertEqual(fit["request"]["bootstrap"], 20)
        law = self.ok(self.srv.get("/v1/laws/calib-e2e"))
        self.assertEqual(law["source"]["kind"], "fit")
        self.assertEqual(law["units"]["data"], "tokens")
        self.assertIn("intervals", law["fit"])
        # one trainer process per run, each started once
        logs = [p for p in self.logs(self.srv)
                if os.path.basename(p).split("-")[1] in {str(r["id"]) for r in s["runs"]}]
        self.assertEqual(len(logs), 8)
        for p in logs:
            events = jsonl_events(p)
            self.assertEqual(events.count("start"), 1, p)
            self.assertEqual(events.count("result"), 1, p)
        # a finished sweep and a succeeded run cannot be cancelled
        self.assert_error(self.srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN),
                          409, "conflict", "id")
        self.assert_error(self.srv.request("DELETE", "/v1/runs/%d" % s["runs"][0]["id"],
                                           token=TOKEN), 409, "conflict", "id")

    def test_identical_points_run_once(self):
        grid = {"sizes": [SIZES[0], dict(SIZES[0])], "sparsities": [0.5, 0.5, 0.5],
                "patterns": ["2:4", "2:4"], "tokens": [4096, 4096.0], "seeds": [3, 3]}
        s = self.post_sweep(sweep_body("calib-dup", grid))
        # 0.5 unstructured and 2:4 are two points; everything else repeats
        self.assertEqual(s["counts"]["total"], 2)
        self.assertEqual(sorted(r["point"]["pattern"] for r in s["runs"]),
                         ["2:4", "unstructured"])
        s = self.wait_done(s["id"])
        self.assertEqual(s["counts"]["succeeded"], 2)
        self.assertTrue(all(r["attempts"] == 1 for r in s["runs"]))
        # two rows cannot identify seven coefficients: the fit says so
        self.assertEqual(s["state"], "failed")
        self.assertEqual(s["dataset"]["rows"], 2)
        self.assertIn("8 rows", s["fit"]["error"])
        ds = self.ok(self.srv.get("/v1/datasets/%d?format=csv" % s["dataset"]["id"],
                                  token=TOKEN))
        self.assertIn(",2:4,3", ds.text())

    def test_unknown_ids(self):
        for path in ("/v1/sweeps/999999", "/v1/runs/999999"):
            self.assert_error(self.srv.get(path, token=TOKEN), 404, "not_found", "id")
            self.assert_error(self.srv.request("DELETE", path, token=TOKEN), 404, "not_found", "id")
        self.assert_error(self.srv.get("/v1/runs/0", token=TOKEN), 400, "invalid_parameter", "id")
        self.assert_error(self.srv.get("/v1/sweeps/abc", token=TOKEN), 400,
                          "invalid_parameter", "id")
        self.assert_error(self.srv.get("/v1/runs/1"), 401, "unauthorized")


class TestCancel(Base):
    def long_sweep(self, law, tokens=3000000):
        grid = {"sizes": [SIZES[0]], "sparsities": [0.25, 0.75], "tokens": [tokens]}
        return self.post_sweep(sweep_body(law, grid))

    def wait_gone(self, pid, timeout=20):
        deadline = time.time() + timeout
        while pid_alive(pid):
            self.assertLess(time.time(), deadline, "trainer %d still running" % pid)
            time.sleep(0.05)

    def test_cancel_run_then_sweep(self):
        s = self.long_sweep("calib-cancel")
        s = self.wait_running(s["id"], 2)
        first, second = s["runs"]
        self.assertGreater(first["progress"]["step"], 0)
        self.assertIn("train_loss", first["progress"])
        pid = ref_pid(first)
        self.assertTrue(pid_alive(pid))
        r = self.ok(self.srv.request("DELETE", "/v1/runs/%d" % first["id"], token=TOKEN))
        self.assertEqual(r["state"], "cancelled")
        self.wait_gone(pid)
        # again: still cancelled, not an error
        r = self.ok(self.srv.request("DELETE", "/v1/runs/%d" % first["id"], token=TOKEN))
        self.assertEqual(r["state"], "cancelled")
        # the sweep goes on with its other run; cancel it too
        s = self.sweep(s["id"])
        self.assertEqual(s["state"], "running")
        self.assertEqual(s["counts"]["cancelled"], 1)
        pid2 = ref_pid(self.run_get(second["id"]))
        s = self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))
        self.assertEqual(s["state"], "cancelled")
        self.assertEqual(s["counts"]["cancelled"], 2)
        self.wait_gone(pid2)
        s = self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))
        self.assertEqual(s["state"], "cancelled")
        time.sleep(0.6)  # a few runner ticks: nothing more happens to it
        s = self.sweep(s["id"])
        self.assertIsNone(s["dataset"])
        self.assertIsNone(s["fit"])
        self.assertTrue(all(r["state"] == "cancelled" and r["attempts"] == 1 for r in s["runs"]))

    def test_cancel_queued_sweep(self):
        # two long runs hold both slots; the third sweep's runs wait queued
        a = self.long_sweep("calib-hold")
        self.wait_running(a["id"], 2)
        b = self.post_sweep(sweep_body("calib-queued"))
        self.assertTrue(all(r["state"] == "queued" for r in self.sweep(b["id"])["runs"]))
        b = self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % b["id"], token=TOKEN))
        self.assertEqual(b["counts"]["cancelled"], 8)
        self.assertTrue(all(r["attempts"] == 0 for r in b["runs"]))
        self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % a["id"], token=TOKEN))
        self.wait_sweep(a["id"], lambda s: all(not pid_alive(ref_pid(r) or 0) for r in s["runs"]),
                        timeout=20)


class TestBadRequests(Base):
    def bad(self, body, field, status=400, code="invalid_body"):
        r = self.srv.request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
        return self.assert_error(r, status, code, field, msg=json.dumps(body)[:200])

    def test_bad_grids(self):
        def grid(**kw):
            g = dict(GRID)
            g.update(kw)
            return sweep_body("calib-bad", {k: v for k, v in g.items() if v is not None})
        self.bad({"grid": GRID}, "law")
        self.bad(sweep_body("Bad Name"), "law")
        self.bad(sweep_body("calib-bad", backend="pbs"), "backend")
        self.bad(sweep_body("calib-bad", backend=1), "backend")
        self.bad({"law": "calib-bad"}, "grid")
        self.bad(grid(sizes=[]), "grid.sizes")
        self.bad(grid(sizes=None), "grid.sizes")
        self.bad(grid(sizes=[{"layers": 1, "width": 30, "heads": 4}]), "grid.sizes[0]")
        self.bad(grid(sizes=[{"layers": 0, "width": 32, "heads": 2}]), "grid.sizes[0].layers")
        self.bad(grid(sizes=[{"layers": 1, "width": 32}]), "grid.sizes[0].heads")
        self.bad(grid(sizes=[{"layers": 1, "width": 32, "heads": 2, "depth": 3}]),
                 "grid.sizes[0]")
        self.bad(grid(sparsities=[1]), "grid.sparsities[0]")
        self.bad(grid(sparsities=[-0.1]), "grid.sparsities[0]")
        self.bad(grid(sparsities=["0.5"]), "grid.sparsities[0]")
        self.bad(grid(sparsities=None), "grid.sparsities")
        self.bad(grid(patterns=["4:2"]), "grid.patterns[0]")
        self.bad(grid(patterns=["2:4; rm -rf /"]), "grid.patterns[0]")
        self.bad(grid(patterns=["1:3"]), "grid.patterns[0]")  # width 32 % 3 != 0
        self.bad(grid(tokens=[0]), "grid.tokens[0]")
        self.bad(grid(tokens=[1.5]), "grid.tokens[0]")
        self.bad(grid(tokens=[1e13]), "grid.tokens[0]")
        self.bad(grid(tokens=None), "grid.tokens")
        self.bad(grid(seeds=[-1]), "grid.seeds[0]")
        self.bad(grid(seeds=[]), "grid.seeds")
        self.bad(grid(corpus="/etc/passwd"), "grid")
        self.bad(grid(sparsities=[i / 40 for i in range(32)], tokens=list(range(1000, 1032)),
                      seeds=list(range(2))), "grid")  # 2 x 32 x 32 x 2 points > 1024
        self.bad(grid(sizes=[{"layers": 64, "width": 4096, "heads": 2}]), "grid.sizes[0]")

    def test_bad_options(self):
        body = sweep_body("calib-bad")
        for trainer, field in (({"lr": 0}, "trainer.lr"), ({"lr": 2}, "trainer.lr"),
                               ({"context": 0}, "trainer.context"),
                               ({"batch": 1.5}, "trainer.batch"),
                               ({"threads": 257}, "trainer.threads"),
                               ({"device": "tpu"}, "trainer.device"),
                               ({"time_limit": 0}, "trainer.time_limit"),
                               ({"corpus": "/etc/passwd"}, "trainer.corpus"),
                               ({"warmup": "x"}, "trainer.warmup")):
            self.bad(dict(body, trainer=trainer), field)
        self.bad(dict(body, trainer=[]), "trainer")
        self.bad(dict(body, max_attempts=0), "max_attempts")
        self.bad(dict(body, max_attempts=11), "max_attempts")
        self.bad(dict(body, fit={"bootstrap": -1}), "fit.bootstrap")
        self.bad(dict(body, fit={"dataset": 3}), "fit")
        self.bad(dict(body, fit={"loss": {"residuals": "cubic"}}), "fit.loss.residuals")
        self.bad(dict(body, extra=1), "extra")
        self.bad([], None)

    def test_conflicts_and_auth(self):
        self.bad(sweep_body("t5-c4"), "law", 409, "conflict")
        law = {"coefficients": COEF["vit-jft"], "units": {"data": "examples"}}
        self.ok(self.srv.request("PUT", "/v1/laws/calib-images", json_body=law, token=TOKEN), 201)
        self.bad(sweep_body("calib-images"), "law", 409, "conflict")
        r = self.srv.request("POST", "/v1/sweeps", json_body=sweep_body("calib-x"))
        self.assert_error(r, 401, "unauthorized")
        r = self.srv.request("POST", "/v1/sweeps", json_body=sweep_body("calib-x"), token="x" * 20)
        self.assert_error(r, 403, "forbidden")
        r = self.srv.request("POST", "/v1/sweeps", body=b"{", token=TOKEN,
                             headers={"Content-Type": "application/json"})
        self.assert_error(r, 400, "invalid_json")


class TestFailures(Base):
    """Servers of their own, with a trainer that dies or a corpus that is not there."""

    def server(self, tmp, args):
        return Server(os.path.join(tmp, "data"), new_token_file(tmp), args=args)

    def test_lost_runs_retry_with_backoff_then_fail(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-sweeps-fail-")
        try:
            fake = os.path.join(tmp, "dying-trainer")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\nkill -9 $$\n")
            os.chmod(fake, stat.S_IRWXU)
            srv = self.server(tmp, corpus_args() + ["--trainer", fake])
            try:
                grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [4096]}
                start = time.time()
                s = self.post_sweep(sweep_body("calib-lost", grid, max_attempts=3), server=srv)
                s = self.wait_done(s["id"], server=srv, timeout=30)
                took = time.time() - start
                run = s["runs"][0]
                self.assertEqual(run["state"], "failed")
                self.assertEqual(run["attempts"], 3)
                self.assertIn("gave up after 3 attempts", run["error"])
                self.assertIn("killed by signal 9", run["error"])
                self.assertIn("ended without a result", run["last_error"])
                self.assertEqual(run["failure"], "lost")
                self.assertEqual(run["last_failure"], "lost")
                self.assertGreaterEqual(took, 1 + 2)  # backoff 1 s, then 2 s
                self.assertEqual(s["state"], "failed")
                self.assertIn("no run succeeded", s["error"])
                self.assertIsNone(s["dataset"])
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_refused_runs_fail_at_once(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-sweeps-corpus-")
        try:
            # Readable, so the sweep is accepted; too small, so the trainer refuses it.
            tiny = os.path.join(tmp, "tiny-corpus.txt")
            with open(tiny, "w") as f:
                f.write("abc")
            srv = self.server(tmp, ["--trainer", harness.TRAINER, "--corpus", tiny])
            try:
                grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [4096]}
                s = self.post_sweep(sweep_body("calib-refused", grid), server=srv)
                s = self.wait_done(s["id"], server=srv, timeout=30)
                run = s["runs"][0]
                self.assertEqual(run["state"], "failed")
                self.assertEqual(run["attempts"], 1)
                self.assertIn("refused the run (corpus)", run["error"])
                self.assertEqual(run["failure"], "refused")
            finally:
                self.assertEqual(srv.stop(), 0)
            # a server whose trainer is not there refuses sweeps up front
            srv = self.server(tmp, ["--trainer", os.path.join(tmp, "nothing-here")])
            try:
                self.assert_no_backend(sweep_body("calib-none"), server=srv)
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @contextlib.contextmanager
    def fake_server(self, script, args=()):
        """A server of its own whose trainer is the shell script (None: no trainer)."""
        tmp = tempfile.mkdtemp(prefix="sparselaw-sweeps-fake-")
        try:
            extra = list(args)
            if script is not None:
                fake = os.path.join(tmp, "fake-trainer")
                with open(fake, "w") as f:
                    f.write("#!/bin/sh\n" + script)
                os.chmod(fake, stat.S_IRWXU)
                extra = ["--trainer", fake] + corpus_args() + extra
            srv = self.server(tmp, extra)
            try:
                yield srv
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    ONE = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [4096]}
    SLEEPER = 'echo \'{"event":"start"}\'\nexec sleep 60\n'

    def test_failure_classes_decide_the_retries(self):
        # One trainer, three ways to fail, chosen by the run's seed.
        script = ('echo \'{"event":"start"}\'\n'
                  'case " $* " in\n'
                  '*" --seed=1 "*) echo \'{"event":"result","status":"diverged","step":3}\'; '
                  'exit 1;;\n'
                  '*" --seed=2 "*) exit 2;;\n'
                  '*" --seed=3 "*) echo \'{"event":"error","code":"memory","message":"no"}\'; '
                  'exit 1;;\n'
                  'esac\nexit 1\n')
        with self.fake_server(script, ["--local-runs", "3"]) as srv:
            grid = dict(self.ONE, seeds=[1, 2, 3])
            s = self.post_sweep(sweep_body("calib-classes", grid, max_attempts=2), server=srv)
            s = self.wait_done(s["id"], server=srv, timeout=30)
            runs = {r["point"]["seed"]: r for r in s["runs"]}
            want = {1: ("diverged", 1), 2: ("refused", 1), 3: ("out_of_memory", 2)}
            for seed, (cls, attempts) in want.items():
                run = runs[seed]
                self.assertEqual(run["state"], "failed", run)
                self.assertEqual(run["failure"], cls, run)
                self.assertEqual(run["attempts"], attempts, run)
            self.assertEqual(runs[3]["last_failure"], "out_of_memory")
            self.assertIn("gave up after 2 attempts", runs[3]["error"])
            self.assertIsNone(runs[1]["last_failure"])

    def test_a_run_past_its_time_limit_is_stopped_and_not_retried(self):
        with self.fake_server(self.SLEEPER) as srv:
            start = time.time()
            body = sweep_body("calib-limit", self.ONE, trainer={"time_limit": 2})
            s = self.wait_done(self.post_sweep(body, server=srv)["id"], server=srv, timeout=30)
            run = s["runs"][0]
            self.assertEqual(run["state"], "failed")
            self.assertEqual(run["failure"], "timed_out")
            self.assertEqual(run["attempts"], 1)
            self.assertIn("time limit of 2 s", run["error"])
            self.assertGreaterEqual(time.time() - start, 2)
            pid = ref_pid(run)
            deadline = time.time() + 10
            while pid and pid_alive(pid) and time.time() < deadline:
                time.sleep(0.1)
            self.assertFalse(pid and pid_alive(pid), "the trainer outlived its limit")

    def test_mass_cancels_leave_no_zombies(self):
        with self.fake_server(self.SLEEPER, ["--local-runs", "6"]) as srv:
            grid = dict(self.ONE, seeds=[1, 2, 3, 4, 5, 6])
            s = self.post_sweep(sweep_body("calib-zombies", grid), server=srv)
            s = self.wait_sweep(s["id"], lambda s: s["counts"]["running"] == 6, server=srv,
                                timeout=30)
            self.ok(srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))

            def children(state=None):
                """The server's child processes (in that state letter), from /proc."""
                out = []
                for stat_path in glob.glob("/proc/[0-9]*/stat"):
                    try:
                        with open(stat_path) as f:
                            text = f.read()
                    except OSError:
                        continue
                    fields = text[text.rindex(")") + 2:].split()
                    if int(fields[1]) == srv.proc.pid and state in (None, fields[0]):
                        out.append(text)
                return out

            deadline = time.time() + 10
            while children() and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(children("Z"), [], "zombie trainers after a mass cancel")
            self.assertEqual(children(), [], "trainers left after a mass cancel")

    def test_an_unreachable_worker_uses_no_attempts(self):
        args = ["--worker-url", "http://127.0.0.1:%d" % free_port()]
        with tempfile.NamedTemporaryFile("w", prefix="sparselaw-worker-token-") as token:
            token.write(WORKER_TOKEN)
            token.flush()
            with self.fake_server(None, args + ["--worker-token-file", token.name]) as srv:
                body = dict(sweep_body("calib-unavailable", self.ONE, max_attempts=1),
                            backend="worker")
                s = self.post_sweep(body, server=srv)
                time.sleep(4)  # several submits, each refused: backoff 1, 2 ... s
                run = self.run_get(s["runs"][0]["id"], server=srv)
                self.assertEqual(run["state"], "queued", run)
                self.assertEqual(run["attempts"], 0, run)
                self.assertEqual(run["last_failure"], "backend_unavailable", run)
                self.assertIn("cannot reach the worker", run["last_error"])
    def test_the_documents_own_trainer_runs(self):
        # The smallest trainer of docs/trainer-protocol.md, as it is written there.
        doc = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                                "trainer-protocol.md")).read()
        code = doc.split("```python\n", 1)[1].split("```", 1)[0]
        self.assertTrue(code.startswith("#!/usr/bin/env python3\n"))
        with self.fake_server('exec python3 - "$@" <<\'PY\'\n' + code + "PY\n") as srv:
            grid = dict(self.ONE, seeds=[1, 2])
            s = self.post_sweep(sweep_body("calib-own", grid), server=srv)
            s = self.wait_sweep(s["id"], lambda s: s["counts"]["succeeded"] == 2, server=srv,
                                timeout=30)
            for run in s["runs"]:
                self.assertIsNone(run["failure"])
                self.assertEqual(run["result"]["tokens"], 4096)
                self.assertEqual(run["result"]["val_loss"], 2.31)


class TestWorkerBackend(Base):
    """Sweeps on `sparselaw-train serve` over HTTP, with the worker killed mid-run."""

    def test_sweep_on_a_worker_survives_its_death(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-sweeps-worker-")
        port = free_port()
        token_file = new_token_file(tmp, WORKER_TOKEN, "worker-token")
        worker = Worker(os.path.join(tmp, "w1"), max_active=2, args=["--port", str(port)])
        srv = Server(os.path.join(tmp, "data"), new_token_file(tmp), args=server_args([
            "--worker-url", "http://127.0.0.1:%d" % port, "--worker-token-file", token_file,
            "--worker-runs", "2", "--worker-lost-after", "30"]))
        try:
            grid = dict(GRID, tokens=[20000, 40000])
            s = self.post_sweep(sweep_body("calib-worker", grid, backend="worker"), server=srv)
            self.assertEqual(s["backend"], "worker")
            # wait until a run trains on the worker, then kill the worker and its runs
            self.wait_running(s["id"], server=srv)
            worker.proc.kill()
            worker.proc.wait()
            time.sleep(0.5)
            # a new worker on the same address knows nothing of the old runs: 404, lost, retried
            worker = Worker(os.path.join(tmp, "w2"), max_active=2, args=["--port", str(port)])
            s = self.wait_done(s["id"], server=srv, timeout=240)
            self.assertEqual(s["state"], "succeeded", json.dumps(s)[:2000])
            runs = s["runs"]
            self.assertEqual(len(runs), 8)
            self.assertTrue(all(r["state"] == "succeeded" for r in runs), runs)
            self.assertTrue(any(r["attempts"] >= 2 for r in runs), [r["attempts"] for r in runs])
            self.assertTrue(any(r["last_failure"] == "lost" for r in runs),
                            [r["last_failure"] for r in runs])
            self.assertTrue(all(not r["reference"].startswith("pid:") for r in runs))
            self.assertEqual(s["dataset"]["rows"], 8)
            law = self.ok(srv.get("/v1/laws/calib-worker"))
            self.assertEqual(law["source"]["kind"], "fit")
        finally:
            self.assertEqual(srv.stop(), 0)
            worker.proc.send_signal(signal.SIGTERM)
            self.assertEqual(worker.proc.wait(timeout=40), 0)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_worker_backend_needs_a_worker(self):
        self.assert_no_backend(sweep_body("calib-no-worker", backend="worker"))

    def test_a_run_the_worker_refuses_is_not_retried(self):
        # The protocol's device option reaches the worker's trainer, which has
        # no usable GPU here: refused, by the worker's class, at once. The
        # worker declares a GPU (--device) and has a profile, so it starts
        # (its profiles could use the GPU) and the server routes the sweep to
        # it instead of refusing it up front (422: no backend has CUDA;
        # test_profiles.py).
        tmp = tempfile.mkdtemp(prefix="sparselaw-sweeps-worker-refused-")
        port = free_port()
        token_file = new_token_file(tmp, WORKER_TOKEN, "worker-token")
        profiles = os.path.join(tmp, "profiles")
        with open(profiles, "w") as f:
            f.write("[profile unused]\nargv = /bin/true\n")
        worker = Worker(os.path.join(tmp, "w"), args=["--port", str(port), "--device", "cuda:1",
                                                      "--profiles", profiles])
        srv = Server(os.path.join(tmp, "data"), new_token_file(tmp), args=server_args([
            "--worker-url", "http://127.0.0.1:%d" % port, "--worker-token-file", token_file]))
        try:
            grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [4096]}
            body = sweep_body("calib-worker-cuda", grid, backend="worker",
                              trainer=dict(harness.TRAINER_OPTS, device="cuda"), max_attempts=3)
            s = self.wait_done(self.post_sweep(body, server=srv)["id"], server=srv, timeout=60)
            run = s["runs"][0]
            self.assertEqual(run["state"], "failed", run)
            self.assertEqual(run["failure"], "refused", run)
            self.assertEqual(run["attempts"], 1, run)
            self.assertIn("(device)", run["error"])
        finally:
            self.assertEqual(srv.stop(), 0)
            worker.proc.send_signal(signal.SIGTERM)
            self.assertEqual(worker.proc.wait(timeout=40), 0)
            shutil.rmtree(tmp, ignore_errors=True)


class TestRestart(Base):
    def test_kill9_mid_sweep_loses_nothing_and_runs_nothing_twice(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-sweeps-restart-")
        token = new_token_file(tmp)
        data = os.path.join(tmp, "data")
        srv = Server(data, token, args=server_args())
        srv2 = None
        try:
            # runs of 1 to 3 s: long enough to be caught mid-way by the kill
            grid = {"sizes": [SIZES[0], {"layers": 1, "width": 48, "heads": 2}],
                    "sparsities": [0, 0.5], "tokens": [300000, 600000]}
            s = self.post_sweep(sweep_body("calib-restart", grid), server=srv)
            sid = s["id"]

            def early(r):
                p = r["progress"]
                return r["state"] == "running" and p and p["step"] < 0.5 * p["steps"]
            # some runs done, one not half-way, the rest queued
            s = self.wait_sweep(sid, lambda s: s["counts"]["succeeded"] >= 1 and any(
                early(r) for r in s["runs"]), server=srv, timeout=60)
            running = [r for r in s["runs"] if r["state"] == "running"]
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
            # the trainers run on without the server
            victim = min(running, key=lambda r: r["progress"]["step"] / r["progress"]["steps"])
            self.assertTrue(pid_alive(ref_pid(victim)), victim)
            # the least advanced dies while the server is away: lost, to be run again
            os.kill(ref_pid(victim), signal.SIGKILL)
            time.sleep(0.1)
            with open(os.path.join(data, "runs", "run-%d-1.jsonl" % victim["id"])) as f:
                self.assertNotIn('"result"', f.read(), "the victim ended before the kill")
            srv2 = Server(data, token, args=server_args())
            s = self.wait_done(sid, server=srv2, timeout=120)
            self.assertEqual(s["state"], "succeeded", json.dumps(s)[:3000])
            self.assertEqual(s["counts"]["succeeded"], 8)
            self.assertEqual(s["dataset"]["rows"], 8)
            self.assertEqual(s["fit"]["published"], {"name": "calib-restart", "version": 1})
            for run in s["runs"]:
                if run["id"] == victim["id"]:
                    self.assertEqual(run["attempts"], 2)
                    self.assertIn("ended without a result", run["last_error"])
                else:
                    self.assertEqual(run["attempts"], 1, run)
            # one trainer process per attempt, each started once
            logs = self.logs(srv2)
            self.assertEqual(len(logs), 9, logs)
            for p in logs:
                events = jsonl_events(p)
                self.assertEqual(events.count("start"), 1, p)
                if not p.endswith("run-%d-1.jsonl" % victim["id"]):
                    self.assertEqual(events.count("result"), 1, p)
            self.assertEqual(srv2.stop(), 0)
        finally:
            stop_running(srv, srv2)
            shutil.rmtree(tmp, ignore_errors=True)


class TestEta(Base):
    """Estimated time remaining: a running run's eta_seconds at its own measured rate, a
    sweep's eta_seconds and remaining_tokens over its unfinished runs."""

    def srv_doc(self):
        with open(harness.OPENAPI_PATH) as f:
            return json.load(f)

    def check_run_eta(self, run):
        """eta_seconds of one run as documented; returns it."""
        self.assertIn("eta_seconds", run)
        eta, prog = run["eta_seconds"], run["progress"]
        if run["state"] != "running" or not prog:
            self.assertIsNone(eta, run)
            return None
        self.assertIsInstance(eta, float)
        self.assertGreaterEqual(eta, 0)
        # the tokens still to train at the rate measured so far (evaluations included)
        left = (prog["steps"] - prog["step"]) * prog["tokens"] / prog["step"]
        self.assertAlmostEqual(eta, left / (prog["tokens"] / prog["elapsed_s"]),
                               delta=1e-6 * (1 + eta))
        return eta

    def test_eta_of_runs_and_sweeps(self):
        doc_run, doc_sweep = (self.srv_doc()["components"]["schemas"][k]["properties"]
                              for k in ("Run", "Sweep"))
        self.assertIn("eta_seconds", doc_run)
        self.assertIn("eta_seconds", doc_sweep)
        self.assertIn("remaining_tokens", doc_sweep)
        # three runs of 2 to 5 s on two slots (the runner polls each 0.25 s): one waits queued
        grid = {"sizes": [SIZES[0]], "sparsities": [0, 0.25, 0.5], "tokens": [600000]}
        s = self.post_sweep(sweep_body("calib-eta", grid))
        # nothing of this sweep measured yet: the backend's throughput, if it has one (the
        # runs of earlier tests on this server measured it)
        rate = s["estimate"]["flops_per_s"]
        if rate is None:
            self.assertIsNone(s["eta_seconds"])
        else:
            self.assertEqual(s["estimate"]["throughput"], "measured")
            self.assertGreater(s["eta_seconds"], 0)
        self.assertGreaterEqual(s["remaining_tokens"], 3 * 600000)
        for run in s["runs"]:
            self.assertIsNone(self.check_run_eta(run))
        seen = {}  # run id -> [(step, eta)]
        sweep_etas, remaining = [], [s["remaining_tokens"]]
        deadline = time.time() + 120
        while s["state"] == "running":
            self.assertLess(time.time(), deadline, json.dumps(s)[:3000])
            time.sleep(0.05)
            s = self.sweep(s["id"])
            run_etas = []
            for run in s["runs"]:
                eta = self.check_run_eta(run)
                if eta is not None:
                    run_etas.append(eta)
                    steps = seen.setdefault(run["id"], [])
                    if not steps or steps[-1][0] != run["progress"]["step"]:
                        steps.append((run["progress"]["step"], eta))
                    self.check_run_eta(self.run_get(run["id"]))  # the run's own route too
            if s["state"] != "running":
                break
            remaining.append(s["remaining_tokens"])
            self.assertLessEqual(remaining[-1], remaining[-2])
            if s["eta_seconds"] is not None:
                # 0 only in the moment the last runs have trained every token and not yet
                # reported their results
                if s["remaining_tokens"] > 0:
                    self.assertGreater(s["eta_seconds"], 0)
                else:
                    self.assertEqual(s["eta_seconds"], 0)
                # never less than the longest run still going
                self.assertGreaterEqual(s["eta_seconds"], max(run_etas or [0]) - 1e-6)
                sweep_etas.append(s["eta_seconds"])
            elif run_etas:
                self.fail("a run has measured a rate but the sweep has no eta: %s"
                          % json.dumps(s)[:2000])
        # each run's estimate fell as it trained
        self.assertTrue(seen, "no running run with progress was seen")
        for rid, steps in seen.items():
            if len(steps) >= 2:
                self.assertLess(steps[-1][1], steps[0][1], (rid, steps))
        self.assertTrue(any(len(v) >= 2 for v in seen.values()), seen)
        self.assertGreaterEqual(len(sweep_etas), 2)
        self.assertLess(sweep_etas[-1], sweep_etas[0])
        # ended: no estimates left
        s = self.wait_done(s["id"])
        self.assertIsNone(s["eta_seconds"])
        self.assertIsNone(s["remaining_tokens"])
        for run in s["runs"]:
            self.assertEqual(run["state"], "succeeded")
            self.assertIsNone(run["eta_seconds"])
            self.assertIsNone(self.run_get(run["id"])["eta_seconds"])

    def test_eta_null_once_cancelled(self):
        grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [3000000]}
        s = self.post_sweep(sweep_body("calib-eta-cancel", grid))
        s = self.wait_sweep(s["id"], lambda x: x["runs"][0]["eta_seconds"] is not None,
                            timeout=60)
        self.assertGreater(s["eta_seconds"], 0)
        self.assertGreater(s["remaining_tokens"], 0)
        s = self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))
        self.assertEqual(s["state"], "cancelled")
        self.assertIsNone(s["eta_seconds"])
        self.assertIsNone(s["remaining_tokens"])
        self.assertIsNone(s["runs"][0]["eta_seconds"])
        self.assertIsNone(self.run_get(s["runs"][0]["id"])["eta_seconds"])


SWEEP_STATES = ("running", "fitting", "succeeded", "failed", "cancelled")
RUN_STATES = ("queued", "submitted", "running", "succeeded", "failed", "cancelled")


class TestLists(Base):
    """GET /v1/sweeps and GET /v1/sweeps/{id}/runs: newest first, a page at a time,
    by law and by state."""

    def page(self, path, token=TOKEN, **params):
        return self.ok(self.srv.get(path + "?" + harness.q(**params), token=token))

    def walk(self, path, key, **params):
        """Every page from the newest: the items, and how many pages there were."""
        items, pages, before = [], 0, None
        while True:
            body = self.page(path, **dict(params, **({"before": before} if before else {})))
            self.assertEqual(set(body), {key, "next_before"})
            pages += 1
            items += body[key]
            before = body["next_before"]
            if before is None:
                return items, pages
            self.assertEqual(before, body[key][-1]["id"])
            self.assertLessEqual(pages, 1000)

    def small_sweep(self, law, sparsities=(0.5,), tokens=4096):
        grid = {"sizes": [SIZES[0]], "sparsities": list(sparsities), "tokens": [tokens]}
        return self.post_sweep(sweep_body(law, grid))

    def cancel(self, sid):
        """Cancels a sweep and waits until its trainers are gone."""
        s = self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % sid, token=TOKEN))
        self.wait_sweep(sid, lambda s: all(not pid_alive(ref_pid(r) or 0) for r in s["runs"]),
                        timeout=20)
        return s

    def test_sweeps_pages_and_filters(self):
        # one-run sweeps: one row cannot identify the law, so their fit fails
        failed = [self.small_sweep("list-sweeps")["id"] for _ in range(4)]
        for sid in failed:
            self.wait_done(sid)
        ok = self.post_sweep(sweep_body("list-sweeps", bootstrap=0))["id"]
        self.assertEqual(self.wait_done(ok)["state"], "succeeded")
        live = self.small_sweep("list-sweeps", tokens=3000000)["id"]
        self.wait_running(live)
        ids = failed + [ok, live]
        # a running sweep is listed with what it has left, without its runs
        running = self.page("/v1/sweeps", law="list-sweeps", state="running")
        self.assertEqual([s["id"] for s in running["sweeps"]], [live])
        self.assertIsNone(running["next_before"])
        self.assertNotIn("runs", running["sweeps"][0])
        self.assertGreater(running["sweeps"][0]["remaining_tokens"], 0)
        self.assertEqual(self.cancel(live)["state"], "cancelled")
        for limit, pages in ((2, 3), (4, 2), (6, 1), (1, 6), (500, 1)):
            sweeps, n = self.walk("/v1/sweeps", "sweeps", law="list-sweeps", limit=limit)
            self.assertEqual([s["id"] for s in sweeps], ids[::-1], limit)
            self.assertEqual(n, pages, limit)
        first = self.page("/v1/sweeps", law="list-sweeps", limit=4)
        self.assertEqual(first["next_before"], ids[2])
        rest = self.page("/v1/sweeps", law="list-sweeps", limit=4, before=first["next_before"])
        self.assertEqual(([s["id"] for s in rest["sweeps"]], rest["next_before"]),
                         (ids[1::-1], None))
        # each as GET /v1/sweeps/{id} answers it, less its runs; status a copy of state
        for s in sweeps:
            one = self.sweep(s["id"])
            self.assertEqual(s, {k: v for k, v in one.items() if k != "runs"})
            self.assertEqual(s["status"], s["state"])
            if s["fit"]:
                self.assertEqual(s["fit"]["status"], s["fit"]["state"])
        # by state: each sweep under the state GET /v1/sweeps/{id} says
        by_state = {st: [s["id"] for s in self.walk("/v1/sweeps", "sweeps", law="list-sweeps",
                                                    state=st, limit=2)[0]]
                    for st in SWEEP_STATES}
        self.assertEqual(by_state, {"running": [], "fitting": [], "succeeded": [ok],
                                    "failed": failed[::-1], "cancelled": [live]})
        self.assertEqual(self.sweep(failed[0])["fit"]["state"], "failed")
        # every law: these among them, newest first, each once; a law without sweeps: none
        everything = [s["id"] for s in self.walk("/v1/sweeps", "sweeps", limit=3)[0]]
        self.assertEqual(everything, sorted(set(everything), reverse=True))
        self.assertTrue(set(ids) <= set(everything))
        self.assertEqual([s["id"] for s in self.walk("/v1/sweeps", "sweeps")[0]], everything)
        for st in SWEEP_STATES:
            self.assertTrue(all(s["state"] == st for s in
                                self.walk("/v1/sweeps", "sweeps", state=st)[0]), st)
        self.assertEqual(self.page("/v1/sweeps", law="no-sweep-calibrates-this"),
                         {"sweeps": [], "next_before": None})
        self.assertEqual(self.page("/v1/sweeps", before=1), {"sweeps": [], "next_before": None})

    def test_runs_pages_and_states(self):
        s = self.small_sweep("list-runs", sparsities=(0, 0.25, 0.5, 0.75, 0.875))
        runs = [r["id"] for r in s["runs"]]  # oldest first
        self.assertEqual(len(runs), 5)
        s = self.wait_done(s["id"])
        path = "/v1/sweeps/%d/runs" % s["id"]
        for limit, pages in ((2, 3), (5, 1), (1, 5), (500, 1)):
            got, n = self.walk(path, "runs", limit=limit)
            self.assertEqual([r["id"] for r in got], runs[::-1], limit)
            self.assertEqual(n, pages, limit)
        # each as GET /v1/runs/{id}, and as the sweep lists it
        by_id = {r["id"]: r for r in s["runs"]}
        for r in got:
            self.assertEqual(r, self.run_get(r["id"]))
            self.assertEqual(r, by_id[r["id"]])
        body = self.page(path)  # the default page holds all five
        self.assertEqual(([r["id"] for r in body["runs"]], body["next_before"]),
                         (runs[::-1], None))
        body = self.page(path, before=runs[2])
        self.assertEqual([r["id"] for r in body["runs"]], runs[1::-1])
        self.assertEqual([r["id"] for r in self.page(path, state="succeeded")["runs"]], runs[::-1])
        for st in RUN_STATES:
            if st != "succeeded":
                self.assertEqual(self.page(path, state=st), {"runs": [], "next_before": None}, st)
        # a sweep whose runs are on the way: two running on the two slots, one queued
        live = self.small_sweep("list-runs-live", sparsities=(0.25, 0.5, 0.75), tokens=3000000)
        first, second, third = [r["id"] for r in live["runs"]]
        self.wait_running(live["id"], 2)
        path = "/v1/sweeps/%d/runs" % live["id"]
        self.assertEqual([r["id"] for r in self.page(path, state="running")["runs"]],
                         [second, first])
        self.assertEqual([r["id"] for r in self.page(path, state="queued")["runs"]], [third])
        page = self.page(path, limit=1, state="running")
        self.assertEqual(([r["id"] for r in page["runs"]], page["next_before"]), ([second], second))
        self.cancel(live["id"])
        self.assertEqual([r["id"] for r in self.page(path, state="cancelled")["runs"]],
                         [third, second, first])
        # an unknown sweep, a bad id
        self.assert_error(self.srv.get("/v1/sweeps/999999/runs", token=TOKEN), 404, "not_found",
                          "id")
        for bad in ("0", "abc", "1.5"):
            self.assert_error(self.srv.get("/v1/sweeps/%s/runs" % bad, token=TOKEN), 400,
                              "invalid_parameter", "id")

    def test_every_invalid_parameter_is_refused_naming_it(self):
        sid = self.small_sweep("list-bad")["id"]
        self.wait_done(sid)
        bad = {"limit": ("0", "501", "-1", "1.5", "abc", "", "nan"),
               "before": ("0", "-3", "1.5", "x", "", "4503599627370497")}
        sweeps = dict(bad, law=("", "A", "bad name", "x" * 65),
                      state=("", "done", "Running", "queued", "finished"))
        runs = dict(bad, state=("", "done", "Queued", "fitting", "finished"))
        for path, params, valid in (("/v1/sweeps", sweeps, SWEEP_STATES),
                                    ("/v1/sweeps/%d/runs" % sid, runs, RUN_STATES)):
            for name, values in params.items():
                for v in values:
                    r = self.srv.get(path + "?" + harness.q(**{name: v}), token=TOKEN)
                    err = self.assert_error(r, 400, "invalid_parameter", name,
                                            msg="%s %s=%r" % (path, name, v))
                    self.assertIn(name, err["message"])
            # an unknown state names the valid ones
            err = self.assert_error(self.srv.get(path + "?state=done", token=TOKEN), 400,
                                    "invalid_parameter", "state")
            for st in valid:
                self.assertIn(st, err["message"])
            self.assert_error(self.srv.get(path + "?limit=1&limit=2", token=TOKEN), 400,
                              "invalid_parameter", "limit")
            self.assert_error(self.srv.get(path + "?status=running", token=TOKEN), 400,
                              "unknown_parameter", "status")
        self.assert_error(self.srv.get("/v1/sweeps/%d/runs?law=list-bad" % sid, token=TOKEN),
                          400, "unknown_parameter", "law")

    def test_need_the_token(self):
        for path in ("/v1/sweeps", "/v1/sweeps/1/runs", "/v1/sweeps?limit=1"):
            self.assert_error(self.srv.get(path), 401, "unauthorized")
            self.assert_error(self.srv.get(path, token="wrong-token-0123456789abcdef"), 403,
                              "forbidden")


TEST_CLASSES = [TestEndToEnd, TestBadRequests, TestCancel, TestFailures, TestWorkerBackend,
                TestRestart, TestEta, TestLists]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__, trainer=True,
                                                       corpus=harness.DEFAULT_CORPUS)))
