#!/usr/bin/env python3
"""Black-box HTTP tests of calibration sweeps on the Slurm backend, against a
real single-node Slurm (slurmctld, slurmd, slurmrestd with JWT, munge) that
scripts/slurm.sh starts in a temporary directory and stops by its recorded
PIDs: a sweep trained as batch jobs to a published law, the report route's
authentication, a cancel that reaches Slurm, slurmrestd going away mid-run,
and the server killed with -9 mid-run.

    python3 tests/http/test_slurm.py --server build/sparselawd --openapi api/openapi.json \\
        --trainer build/sparselaw-train [--corpus data/tinyshakespeare.txt]

Standard library only; the server and sweep helpers come from harness.py
beside this file. Needs root (the Slurm daemons); installs the packages through
scripts/deps.sh slurm when they are missing. When Slurm cannot start, every
test FAILS with the reason: CI must run these, never skip them.
"""
import atexit
import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (SIZES, TOKEN, Server, SweepBase, free_port, jsonl_events,  # noqa: E402
                     new_token_file, stop_running)

SLURM_SH = os.path.join(harness.REPO, "scripts", "slurm.sh")
API = "v0.0.38"

# One run of several seconds: long enough to be caught mid-way.
LONG_TOKENS = 3000000


class Slurm:
    """The Slurm of scripts/slurm.sh under one directory."""

    def __init__(self, root):
        self.dir = os.path.join(root, "slurm")
        self.url = None
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.jwt_file = os.path.join(root, "slurm.jwt")
        self.started = False

    def sh(self, *args, timeout=600):
        return subprocess.run(["sh", SLURM_SH] + list(args), capture_output=True, text=True,
                              timeout=timeout)

    def start(self):
        self.started = True  # stop even a half-started one
        r = self.sh("start", self.dir)
        if r.returncode != 0:
            raise RuntimeError("scripts/slurm.sh start failed (exit %d): %s %s"
                               % (r.returncode, r.stdout[-2000:], r.stderr[-3000:]))
        self.url = r.stdout.strip().splitlines()[-1]
        r = self.sh("token", self.dir, self.user, timeout=30)
        if r.returncode != 0 or not r.stdout.strip():
            raise RuntimeError("scripts/slurm.sh token failed: %s" % r.stderr[-2000:])
        with open(self.jwt_file, "w") as f:
            f.write(r.stdout.strip() + "\n")
        os.chmod(self.jwt_file, 0o600)

    def stop(self):
        if self.started:
            self.started = False
            self.sh("stop", self.dir, timeout=120)

    def pid(self, name):
        pid = None
        with open(os.path.join(self.dir, "pids")) as f:
            for line in f:
                n, p = line.split()
                if n == name:
                    pid = int(p)
        return pid

    def rest(self, method, path):
        """slurmrestd's answer: (HTTP status, JSON body)."""
        with open(self.jwt_file) as f:
            jwt = f.read().strip()
        req = urllib.request.Request(self.url + "/slurm/%s%s" % (API, path), method=method,
                                     headers={"X-SLURM-USER-NAME": self.user,
                                              "X-SLURM-USER-TOKEN": jwt})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def job_state(self, job_id):
        status, body = self.rest("GET", "/job/%s" % job_id)
        jobs = body.get("jobs") or []
        return jobs[0]["job_state"] if status == 200 and jobs else None

    def settled_state(self, job_id, timeout=30):
        """The job's state once Slurm is done with it. A run succeeds when its
        job posts the result, a moment before the job's script exits: until
        then Slurm may still say RUNNING or COMPLETING."""
        deadline = time.time() + timeout
        state = self.job_state(job_id)
        while state in ("RUNNING", "COMPLETING", "PENDING") and time.time() < deadline:
            time.sleep(0.1)
            state = self.job_state(job_id)
        return state

    def jobs_named(self, prefix, cwd):
        """Jobs whose name starts with prefix, run in the directory cwd (the
        servers of these tests share one Slurm and their run ids)."""
        status, body = self.rest("GET", "/jobs")
        assert status == 200, body
        return [j for j in body["jobs"] if j["name"].startswith(prefix)
                and j.get("current_working_directory") == cwd]


TMP = None
SLURM = None
SETUP_ERROR = None


def stop_slurm():
    if SLURM:
        SLURM.stop()


def server_args(extra=()):
    args = ["--trainer", harness.TRAINER, "--slurm-url", SLURM.url, "--slurm-user", SLURM.user,
            "--slurm-jwt-file", SLURM.jwt_file, "--slurm-runs", "4"]
    if harness.CORPUS:
        args += ["--corpus", harness.CORPUS]
    return args + list(extra)


def setUpModule():
    global TMP, SLURM, SETUP_ERROR
    TMP = tempfile.mkdtemp(prefix="sparselaw-slurm-")
    # Slurm's daemons and jobs run as other users: they need a way in.
    os.chmod(TMP, 0o755)
    SLURM = Slurm(TMP)
    atexit.register(stop_slurm)
    try:
        if not (harness.TRAINER and os.access(harness.TRAINER, os.X_OK)):
            raise RuntimeError("--trainer %r is not an executable file" % harness.TRAINER)
        if os.getuid() != 0:
            raise RuntimeError("the Slurm tests start slurmctld and slurmd: run them as root")
        SLURM.start()
        harness.start_shared(TMP, args=server_args(), own_tmp=False)
    except Exception as e:  # every test fails with the reason
        SETUP_ERROR = "Slurm could not be started for the tests: %s" % e


def tearDownModule():
    try:
        harness.stop_shared()
    finally:
        stop_slurm()
        shutil.rmtree(TMP, ignore_errors=True)


class Base(SweepBase):
    done_timeout = 180

    def setUp(self):
        if SETUP_ERROR:
            self.fail(SETUP_ERROR)

    def long_sweep(self, law, server=None, tokens=LONG_TOKENS):
        grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [tokens]}
        return self.post_sweep(sweep_body(law, grid), server)

    def secret(self, data_dir, run_id):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "sparselaw.db"),
                             uri=True)
        try:
            row = db.execute("SELECT secret FROM runs WHERE id = ?", (run_id,)).fetchone()
        finally:
            db.close()
        return row[0] if row else None

    def report(self, run_id, body, secret=None, server=None):
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["Authorization"] = "Bearer " + secret
        return (server or self.srv).request("POST", "/v1/runs/%d/report" % run_id,
                                            body=json.dumps(body), headers=headers)


def sweep_body(law, grid=None, **extra):
    """A sweep on the Slurm backend, unless extra says another."""
    extra.setdefault("backend", "slurm")
    return harness.sweep_body(law, grid, bootstrap=10, **extra)


RESULT = {"event": "result", "status": "completed", "step": 1, "steps": 1, "tokens": 4096,
          "val_loss": 4.0, "sparsity": 0.5, "nonzeros": 6144}


class TestEndToEnd(Base):
    def test_sweep_runs_as_slurm_jobs_and_publishes(self):
        s = self.post_sweep(sweep_body("calib-slurm"))
        self.assertEqual(s["backend"], "slurm")
        self.assertEqual(s["counts"]["total"], 8)
        s = self.wait_done(s["id"])
        self.assertEqual(s["state"], "succeeded", json.dumps(s)[:3000])
        self.assertEqual(s["counts"]["succeeded"], 8)
        self.assertEqual(s["dataset"]["rows"], 8)
        self.assertEqual(s["fit"]["published"], {"name": "calib-slurm", "version": 1})
        jobs = set()
        for run in s["runs"]:
            self.assertEqual(run["state"], "succeeded")
            self.assertEqual(run["attempts"], 1)
            self.assertRegex(run["reference"], r"^[1-9][0-9]*$")  # the Slurm job id
            jobs.add(run["reference"])
            res = run["result"]
            self.assertEqual(res["status"], "completed")
            self.assertNotIn("event", res)
            self.assertGreaterEqual(res["tokens"], run["point"]["tokens"])
            self.assertGreater(res["val_loss"], 0)
            self.assertEqual(run["progress"]["val_loss"], res["val_loss"])
            # Slurm ran it to the end
            self.assertEqual(SLURM.settled_state(run["reference"]), "COMPLETED")
            # the result came through the report route (the request log says so)
            self.assertTrue(self.srv.request_lines("/v1/runs/%d/report" % run["id"]), run["id"])
            # the secret stays on the server
            secret = self.secret(self.srv.data_dir, run["id"])
            self.assertRegex(secret, r"^[0-9a-f]{64}$")
            got = self.run_get(run["id"])
            self.assertNotIn(secret, json.dumps(got))
            self.assertNotIn(secret, json.dumps(self.sweep(s["id"])))
        self.assertEqual(len(jobs), 8)
        law = self.ok(self.srv.get("/v1/laws/calib-slurm"))
        self.assertEqual(law["source"]["kind"], "fit")
        self.assertEqual(law["units"]["data"], "tokens")
        # a report for a run that ended: the same again is fine, another is not
        run = s["runs"][0]
        secret = self.secret(self.srv.data_dir, run["id"])
        other = dict(RESULT, val_loss=1.5)
        self.assert_error(self.report(run["id"], other, secret), 409, "conflict", "id")


class TestReportRoute(Base):
    def test_auth_cancel_and_conflict(self):
        s = self.long_sweep("calib-slurm-cancel")
        s = self.wait_running(s["id"])
        run = s["runs"][0]
        job = run["reference"]
        self.assertRegex(job, r"^[1-9][0-9]*$")
        self.assertEqual(SLURM.job_state(job), "RUNNING")
        rid = run["id"]
        secret = self.secret(self.srv.data_dir, rid)
        # no secret, a wrong one, a wrong scheme, an unknown run
        self.assert_error(self.report(rid, RESULT), 401, "unauthorized")
        r = self.srv.request("POST", "/v1/runs/%d/report" % rid, body=json.dumps(RESULT),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Basic " + secret})
        self.assert_error(r, 401, "unauthorized")
        self.assert_error(self.report(rid, RESULT, "0" * 64), 403, "forbidden")
        self.assert_error(self.report(rid, RESULT, secret[:-1]), 403, "forbidden")
        self.assert_error(self.report(rid, RESULT, TOKEN), 403, "forbidden")
        # an unknown run is answered as a wrong secret: ids cannot be probed
        self.assert_error(self.report(999999, RESULT, secret), 403, "forbidden")
        self.assert_error(self.report(rid, {"event": "progress"}, secret), 400, "invalid_body",
                          "status")
        # a completed result is checked as the protocol reads it: what the fit needs is there
        no_loss = {k: v for k, v in RESULT.items() if k != "val_loss"}
        err = self.assert_error(self.report(rid, no_loss, secret), 400, "invalid_body", "status")
        self.assertIn("val_loss", err["message"])
        # the run trains on, untouched
        self.assertEqual(self.run_get(rid)["state"], "running")
        # cancel it: the Slurm job is cancelled
        r = self.ok(self.srv.request("DELETE", "/v1/runs/%d" % rid, token=TOKEN))
        self.assertEqual(r["state"], "cancelled")
        deadline = time.time() + 30
        while SLURM.job_state(job) != "CANCELLED":
            self.assertLess(time.time(), deadline, "job %s: %s" % (job, SLURM.job_state(job)))
            time.sleep(0.2)
        # a cancelled run takes no report
        self.assert_error(self.report(rid, RESULT, secret), 409, "conflict", "id")
        # its only run cancelled, the sweep has nothing to fit
        s = self.wait_done(s["id"], timeout=30)
        self.assertEqual(s["state"], "failed")
        self.assertIn("no run succeeded", s["error"])

    def test_local_runs_take_no_report(self):
        grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [LONG_TOKENS]}
        s = self.post_sweep(dict(sweep_body("calib-local-report", grid), backend="local"))
        rid = s["runs"][0]["id"]
        self.assert_error(self.report(rid, RESULT, "0" * 64), 403, "forbidden")
        self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))

    def test_slurm_backend_needs_slurmrestd(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-no-slurm-")
        srv = Server(os.path.join(tmp, "data"), new_token_file(tmp),
                     args=["--trainer", harness.TRAINER])
        try:
            self.assert_no_backend(sweep_body("calib-no-slurm"), server=srv)
        finally:
            self.assertEqual(srv.stop(), 0)
            shutil.rmtree(tmp, ignore_errors=True)


class TestProfiles(Base):
    """A trainer profile as Slurm jobs, and CUDA sweeps asking Slurm for GPUs (the node of
    scripts/slurm.sh has one, /dev/null)."""

    def own_server(self, tmp, options):
        cfg = os.path.join(tmp, "c")
        with open(cfg, "w") as f:
            f.write(options + "\n[profile synthetic]\nargv = %s\nbackends = slurm\n"
                    "env = SL_FROM_PROFILE=1\n" % harness.SYNTHETIC_ARGV)
        return Server(os.path.join(tmp, "data"), new_token_file(tmp),
                      args=server_args(["--config", cfg]))

    def test_a_profile_runs_as_slurm_jobs(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-slurm-prof-", dir=TMP)
        os.chmod(tmp, 0o755)
        srv = self.own_server(tmp, "slurm-partition = debug\nslurm-account = calib\n"
                                   "slurm-gpus = 1")
        try:
            grid = {"sizes": [{"layers": 2, "width": w, "heads": 2} for w in (32, 64)],
                    "sparsities": [0, 0.5], "tokens": [1000000]}
            # without "backend": local has no such profile, so Slurm takes it
            s = self.post_sweep({"law": "slurm-profile", "profile": "synthetic", "grid": grid,
                                 "fit": {"bootstrap": 10}}, srv)
            self.assertEqual(s["backend"], "slurm")
            s = self.wait_done(s["id"], server=srv)
            self.assertEqual(s["counts"]["succeeded"], 4, json.dumps(s)[:3000])
            for run in s["runs"]:
                p = run["point"]
                self.assertEqual(run["result"]["nonzeros"],
                                 round((1 - p["sparsity"]) * 12 * 2 * p["width"] ** 2))
                status, body = SLURM.rest("GET", "/job/%s" % run["reference"])
                self.assertEqual(body["jobs"][0]["partition"], "debug")
                self.assertEqual(body["jobs"][0]["account"], "calib")  # no accounting: any name
                self.assertEqual(SLURM.settled_state(run["reference"]), "COMPLETED")
            # a CUDA sweep: each job asks for gres gpu:1, which scripts/slurm.sh's node has
            s = self.post_sweep({"law": "slurm-gpu", "profile": "synthetic", "grid": grid,
                                 "device": "cuda", "fit": {"bootstrap": 10}}, srv)
            self.assertEqual(s["backend"], "slurm")
            s = self.wait_done(s["id"], server=srv)
            self.assertEqual(s["counts"]["succeeded"], 4, json.dumps(s)[:3000])
            for run in s["runs"]:
                self.assertEqual(run["result"]["devices"], 1)  # {devices} of the profile
                status, body = SLURM.rest("GET", "/job/%s" % run["reference"])
                self.assertEqual(body["jobs"][0]["tres_per_node"], "gres:gpu:1")
            r = srv.request("POST", "/v1/sweeps", token=TOKEN, json_body={
                "law": "slurm-gpu2", "profile": "synthetic", "grid": grid, "device": "cuda",
                "device_count": 2})
            self.assert_error(r, 422, "unprocessable", "device", "the slurm backend has cuda:1")
        finally:
            stop_running(srv)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_slurm_without_gpus_takes_no_cuda_sweep(self):
        grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [4096]}
        r = self.srv.request("POST", "/v1/sweeps", token=TOKEN,
                             json_body=sweep_body("slurm-no-gpu", grid, device="cuda"))
        self.assert_error(r, 422, "unprocessable", "backend", "the slurm backend has cpu")


class TestFaults(Base):
    def test_slurmrestd_down_mid_run(self):
        s = self.long_sweep("calib-slurm-restd")
        s = self.wait_running(s["id"])
        rid = s["runs"][0]["id"]
        pid = SLURM.pid("slurmrestd")
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 15
        while os.path.exists("/proc/%d" % pid):
            self.assertLess(time.time(), deadline, "slurmrestd %d did not stop" % pid)
            time.sleep(0.05)
        # unreachable: the run does not fail, is not retried; it waits (or it has
        # ended meanwhile through its report, which needs no slurmrestd)
        time.sleep(2.5)
        run = self.run_get(rid)
        if run["state"] == "succeeded":
            self.assertTrue(self.srv.request_lines("/v1/runs/%d/report" % rid), run)
        else:
            self.assertEqual(run["state"], "running", run)
        self.assertEqual(run["attempts"], 1)
        self.assertIsNone(run["last_error"])
        r = SLURM.sh("restart-rest", SLURM.dir, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(SLURM.pid("slurmrestd"), pid)
        s = self.wait_done(s["id"])
        run = s["runs"][0]
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["attempts"], 1)
        self.assertEqual(SLURM.settled_state(run["reference"]), "COMPLETED")

    def test_a_submit_while_slurmrestd_is_down_uses_no_attempt(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-slurm-down-")
        os.chmod(tmp, 0o755)
        args = server_args()
        args[args.index("--slurm-url") + 1] = "http://127.0.0.1:%d" % free_port()
        srv = Server(os.path.join(tmp, "data"), new_token_file(tmp), args=args)
        try:
            grid = {"sizes": [SIZES[0]], "sparsities": [0.5], "tokens": [4096]}
            s = self.post_sweep(sweep_body("calib-slurm-down", grid, max_attempts=1),
                                server=srv)
            time.sleep(4)  # several submits refused, with backoff 1, 2 ... s
            run = self.run_get(s["runs"][0]["id"], server=srv)
            self.assertEqual(run["state"], "queued", run)
            self.assertEqual(run["attempts"], 0, run)
            self.assertEqual(run["last_failure"], "backend_unavailable", run)
            self.assertIn("cannot reach slurmrestd", run["last_error"])
        finally:
            self.assertEqual(srv.stop(), 0)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_server_kill9_mid_run_finds_the_job_again(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-slurm-restart-", dir=TMP)
        os.chmod(tmp, 0o755)
        data = os.path.join(tmp, "data")
        token = new_token_file(tmp)
        port = free_port()  # the same port after the restart: the job's report URL
        srv = Server(data, token, args=server_args(["--port", str(port)]))
        srv2 = None
        try:
            s = self.long_sweep("calib-slurm-restart", server=srv)
            s = self.wait_running(s["id"], server=srv)
            run = s["runs"][0]
            job = run["reference"]
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
            # the job trains on without the server
            self.assertEqual(SLURM.job_state(job), "RUNNING")
            time.sleep(0.5)
            srv2 = Server(data, token, args=server_args(["--port", str(port)]))
            s = self.wait_done(s["id"], server=srv2)
            run = s["runs"][0]
            self.assertEqual(run["state"], "succeeded", run)
            self.assertEqual(run["attempts"], 1)
            self.assertEqual(run["reference"], job)  # found again by its job id
            self.assertEqual(SLURM.settled_state(job), "COMPLETED")
            # exactly once: one Slurm job for the run, one trainer start, one result
            jobs = SLURM.jobs_named("sparselaw-run-%d-" % run["id"],
                                    os.path.realpath(os.path.join(data, "slurm")))
            self.assertEqual([str(j["job_id"]) for j in jobs], [job])
            events = jsonl_events(os.path.join(data, "slurm", "run-%d-1.jsonl" % run["id"]))
            self.assertEqual(events.count("start"), 1)
            self.assertEqual(events.count("result"), 1)
            self.assertTrue(srv2.request_lines("/v1/runs/%d/report" % run["id"]))
            self.assertEqual(srv2.stop(), 0)
        finally:
            stop_running(srv, srv2)


TEST_CLASSES = [TestEndToEnd, TestReportRoute, TestProfiles, TestFaults]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__, trainer=True,
                                                       corpus=harness.DEFAULT_CORPUS)))
