#!/usr/bin/env python3
"""Black-box tests of `sparselaw-train serve`, the HTTP worker that takes
training runs from the server (trainer/sl_train_serve.h).

    python3 tests/http/test_worker.py --trainer build/sparselaw-train \
        --corpus data/tinyshakespeare.txt

Standard library only; the worker helper comes from harness.py beside this
file. Each test starts a worker of its own (--port 0: the port comes from its
{"event":"listening"} line on stderr) on a temporary run directory and stops
it with SIGTERM, which must exit 0. Runs are tiny models
on the given corpus: a short one that must succeed, and long ones that are
cancelled, killed or stopped with the worker.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import WORKER_TOKEN, Worker, clean_env, pid_alive  # noqa: E402

# A model small enough to train in a blink on one thread.
TINY = {"layers": 1, "width": 32, "heads": 2, "context": 32, "batch": 4, "val_tokens": 2048,
        "threads": 1}
SHORT = dict(TINY, tokens=4096, sparsity=0.5)
LONG = dict(TINY, tokens=10 ** 10, sparsity=0.5, log_every=2)  # runs until stopped


class Base(unittest.TestCase):
    max_active = 1

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sparselaw-worker-")
        self.run_dir = os.path.join(self.tmp.name, "runs")
        self.w = Worker(self.run_dir, self.max_active)

    def tearDown(self):
        rc = self.w.stop()
        self.assertEqual(rc, 0, self.w.stderr_text())
        self.tmp.cleanup()

    def submit(self, body):
        status, _, j = self.w.request("POST", "/v1/train", body)
        self.assertEqual(status, 201, j)
        self.assertEqual(j["state"], "running")
        self.assertRegex(j["id"], r"^[0-9a-f]{32}$")
        return j["id"]

    def get(self, run_id):
        status, _, j = self.w.request("GET", "/v1/train/" + run_id)
        self.assertEqual(status, 200, j)
        return j

    def wait(self, run_id, until, timeout=120):
        """Polls until until(status) holds; the last status."""
        deadline = time.time() + timeout
        while True:
            j = self.get(run_id)
            if until(j):
                return j
            if time.time() > deadline:
                self.fail("run %s did not get there: %s" % (run_id, j))
            time.sleep(0.1)

    def assert_error(self, status, j, want_status, code, field=None):
        self.assertEqual(status, want_status, j)
        self.assertIsInstance(j, dict)
        self.assertEqual(j["error"]["code"], code, j)
        self.assertIsInstance(j["error"]["message"], str)
        if field is not None:
            self.assertEqual(j["error"].get("field"), field, j)


class TestRequests(Base):
    def test_auth(self):
        for token, want, code in ((None, 401, "unauthorized"), ("wrong-token-0123456789", 403,
                                                                  "forbidden"),
                                  (WORKER_TOKEN + "x", 403, "forbidden"),
                                  (WORKER_TOKEN[:-1], 403, "forbidden"), ("", 403, "forbidden")):
            for method, path, body in (("POST", "/v1/train", SHORT),
                                       ("GET", "/v1/train/" + "0" * 32, None),
                                       ("DELETE", "/v1/train/" + "0" * 32, None)):
                status, hdrs, j = self.w.request(method, path, body, token=token)
                self.assert_error(status, j, want, code)
                if want == 401:
                    self.assertEqual(hdrs.get("WWW-Authenticate"), "Bearer")
        status, _, j = self.w.request("GET", "/v1/train/" + "0" * 32, token=None,
                                      headers={"Authorization": "Basic " + WORKER_TOKEN})
        self.assert_error(status, j, 401, "unauthorized")
        # Nothing ran: no log was written.
        self.assertEqual(os.listdir(self.run_dir), [])
        status, _, j = self.w.request("GET", "/healthz", token=None)
        self.assertEqual((status, j["status"], j["active"], j["max_active"]), (200, "ok", 0, 1))
        # Where the worker's own runs train: the CPU without a GPU it can use
        # (then gpu is null), else its GPU, named.
        status, _, j = self.w.request("GET", "/v1/info")
        self.assertEqual(status, 200, j)
        self.assertEqual(j["default_device"] == "cuda", j["gpu"] is not None, j)
        if j["device"] == "cpu":
            self.assertEqual((j["default_device"], j["gpu"]), ("cpu", None))

    def test_routes(self):
        status, hdrs, j = self.w.request("GET", "/v1/train")
        self.assert_error(status, j, 405, "method_not_allowed")
        self.assertEqual(hdrs.get("Allow"), "POST")
        status, hdrs, j = self.w.request("PUT", "/v1/train/" + "0" * 32, SHORT)
        self.assert_error(status, j, 405, "method_not_allowed")
        self.assertEqual(hdrs.get("Allow"), "GET, DELETE")
        for path in ("/", "/v1", "/v1/trains", "/v1/train/x/y"):
            status, _, j = self.w.request("GET", path)
            self.assert_error(status, j, 404, "not_found")
        for rid in ("0" * 32, "nope", "../../etc/passwd"):
            status, _, j = self.w.request("GET", "/v1/train/" + rid)
            self.assert_error(status, j, 404, "not_found")
            status, _, j = self.w.request("DELETE", "/v1/train/" + rid)
            self.assert_error(status, j, 404, "not_found")

    def test_bad_bodies(self):
        # the last: jansson's error text quotes "\u2" and half of a UTF-8 character
        for raw in (b"", b"{", b"nope", b'{"layers":1,"layers":2}', b'{"t\\u2\xd0\x9d9"}'):
            status, _, j = self.w.request("POST", "/v1/train", raw=raw)
            self.assert_error(status, j, 400, "invalid_json")
        bad = [
            ([], None), ("layers", None), (7, None),
            ({"corpus": "/etc/passwd"}, "corpus"),      # no path from the client, ever
            ({"dir": "/tmp"}, "dir"),
            ({"help": True}, "help"),
            ({"layers": "2"}, "layers"),
            ({"layers": 1.5}, "layers"),
            ({"layers": 0}, "layers"),
            ({"layers": True}, "layers"),
            ({"layers": None}, "layers"),
            ({"width": 10 ** 9}, "width"),
            ({"tokens": -1}, "tokens"),
            ({"tokens": 1e300}, "tokens"),
            ({"sparsity": 1.5}, "sparsity"),
            ({"sparsity": -0.1}, "sparsity"),
            ({"seed": -3}, "seed"),
            ({"lr": 0}, "lr"),
            ({"threads": 2000}, "threads"),
            ({"pattern": "2:4; rm -rf /"}, "pattern"),
            ({"pattern": "--corpus=/etc/passwd"}, "pattern"),
            ({"pattern": 24}, "pattern"),
            ({"pattern": "2:44444"}, "pattern"),
            ({"time_limit": 60}, "time_limit"),  # the server's runner keeps time, not the trainer
            ({"device": "tpu"}, "device"),
            ({"beta1": 0.5}, "beta1"),  # the trainer's own: not over the network
        ]
        for body, field in bad:
            status, _, j = self.w.request("POST", "/v1/train", body)
            self.assert_error(status, j, 400, "invalid_body", field)
        # Valid one by one, refused together by the trainer's own checks.
        for body in ({"width": 96, "heads": 5}, {"pattern": "4:2"},
                     {"pattern": "2:4", "width": 90}, {"sparsity": 1}):
            status, _, j = self.w.request("POST", "/v1/train", dict(SHORT, **body))
            self.assert_error(status, j, 400, "invalid_body")
        status, _, j = self.w.request("POST", "/v1/train",
                                      raw=json.dumps(dict(SHORT, pad="x" * 20000)).encode())
        self.assert_error(status, j, 413, "payload_too_large")
        self.assertEqual(os.listdir(self.run_dir), [])


class TestRuns(Base):
    def test_tiny_run_succeeds(self):
        rid = self.submit(dict(SHORT, pattern="2:4"))
        j = self.wait(rid, lambda j: j["state"] != "running")
        self.assertEqual(j["state"], "succeeded", j)
        self.assertEqual(j["id"], rid)
        self.assertIsNone(j["reason"])
        self.assertIs(j["started"], True)
        res = j["result"]
        self.assertEqual(res["status"], "completed")
        self.assertNotIn("event", res)
        self.assertEqual((j["device"], res["device"], res["precision"]), ("cpu", "cpu", "fp32"))
        self.assertGreaterEqual(res["tokens"], 4096)
        self.assertEqual(res["pattern"], "2:4")
        self.assertAlmostEqual(res["sparsity"], 0.5, places=6)
        self.assertGreater(res["val_loss"], 0)
        self.assertEqual(j["progress"]["step"], res["step"])
        self.assertEqual(j["progress"]["val_loss"], res["val_loss"])
        self.assertNotIn("event", j["progress"])
        self.assertTrue(j["evaluations"])
        for e in j["evaluations"]:
            self.assertEqual(set(e), {"step", "tokens", "val_loss"})
        self.assertEqual(j["evaluations"][-1]["val_loss"], res["val_loss"])
        # The log is the worker's, in its --dir, and the corpus its own.
        with open(os.path.join(self.run_dir, rid + ".jsonl")) as f:
            start = json.loads(f.readline())
        self.assertEqual(start["event"], "start")
        self.assertEqual(os.path.realpath(start["corpus"]), os.path.realpath(harness.CORPUS))
        # DELETE of an ended run changes nothing.
        status, _, d = self.w.request("DELETE", "/v1/train/" + rid)
        self.assertEqual((status, d["state"]), (200, "succeeded"))
        self.assertFalse(pid_alive(self.w.pid_of(rid)))

    def test_delete_cancels(self):
        rid = self.submit(LONG)
        self.wait(rid, lambda j: j["progress"] is not None)
        pid = self.w.pid_of(rid)
        self.assertTrue(pid_alive(pid))
        status, _, j = self.w.request("DELETE", "/v1/train/" + rid)
        self.assertEqual((status, j["state"]), (200, "cancelled"), j)
        status, _, j = self.w.request("DELETE", "/v1/train/" + rid)  # again: still asked once
        self.assertEqual((status, j["state"]), (200, "cancelled"), j)
        deadline = time.time() + 60
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        self.assertFalse(pid_alive(pid))
        j = self.get(rid)
        self.assertEqual(j["state"], "cancelled")
        self.assertIsNone(j["result"])
        # The trainer stopped cleanly: its last line is an interrupted result.
        with open(os.path.join(self.run_dir, rid + ".jsonl")) as f:
            last = json.loads(f.read().splitlines()[-1])
        self.assertEqual((last["event"], last["status"]), ("result", "interrupted"))

    def test_busy(self):
        rid = self.submit(LONG)
        status, hdrs, j = self.w.request("POST", "/v1/train", SHORT)
        self.assert_error(status, j, 503, "busy")
        self.assertTrue(hdrs.get("Retry-After", "").isdigit())
        self.assertEqual(self.w.request("GET", "/healthz", token=None)[2]["active"], 1)
        pid = self.w.pid_of(rid)
        self.w.request("DELETE", "/v1/train/" + rid)
        deadline = time.time() + 60
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        # The slot is free once the child has exited.
        deadline = time.time() + 10
        while True:
            status, _, j = self.w.request("POST", "/v1/train", SHORT)
            if status == 201 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 201, j)
        self.wait(j["id"], lambda j: j["state"] == "succeeded")

    def test_killed_child_fails_with_reason(self):
        rid = self.submit(LONG)
        self.wait(rid, lambda j: j["progress"] is not None)
        os.kill(self.w.pid_of(rid), signal.SIGKILL)
        j = self.wait(rid, lambda j: j["state"] != "running", timeout=30)
        self.assertEqual(j["state"], "failed", j)
        self.assertIn("signal 9", j["reason"])
        self.assertIs(j["retryable"], True)  # the server retries it as lost
        self.assertEqual(j["failure"], "lost")
        self.assertIsNone(j["result"])
        self.assertIsNotNone(j["progress"])  # what it got to is still shown

    def test_a_refused_device_fails_as_refused(self):
        # The options are the protocol's, so the worker takes "device"; with no
        # usable GPU here (or a build without CUDA) the trainer refuses cuda
        # with its reason: not worth a retry.
        rid = self.submit(dict(SHORT, device="cuda"))
        j = self.wait(rid, lambda j: j["state"] != "running", timeout=30)
        self.assertEqual(j["state"], "failed", j)
        self.assertEqual(j["failure"], "refused", j)
        self.assertIs(j["retryable"], False)
        self.assertIn("(device)", j["reason"])
        self.assertIs(j["started"], False)
        self.assertEqual(j["device"], "cuda")  # the run's, as its body asked

    def test_sigterm_stops_worker_and_runs(self):
        rid = self.submit(LONG)
        self.wait(rid, lambda j: j["progress"] is not None)
        pid = self.w.pid_of(rid)
        self.assertEqual(self.w.stop(), 0, self.w.stderr_text())
        self.assertFalse(pid_alive(pid))
        with open(os.path.join(self.run_dir, rid + ".jsonl")) as f:
            last = json.loads(f.read().splitlines()[-1])
        self.assertEqual((last["event"], last["status"]), ("result", "interrupted"))
        # A restarted worker on the same directory does not know the old run:
        # the server reads that 404 as "lost".
        self.w = Worker(self.run_dir, self.max_active)
        status, _, j = self.w.request("GET", "/v1/train/" + rid)
        self.assert_error(status, j, 404, "not_found")

    def test_worker_killed_takes_its_runs(self):
        rid = self.submit(LONG)
        self.wait(rid, lambda j: j["progress"] is not None)
        pid = self.w.pid_of(rid)
        self.w.proc.kill()  # no clean stop: the children must still not outlive it
        self.assertEqual(self.w.stop(), -signal.SIGKILL)
        deadline = time.time() + 60
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        self.assertFalse(pid_alive(pid))
        self.w = Worker(self.run_dir, self.max_active)


class TestStartup(unittest.TestCase):
    def run_serve(self, args, env_token):
        env = clean_env({"SPARSELAW_WORKER_TOKEN": env_token} if env_token is not None else None)
        return subprocess.run([harness.TRAINER, "serve", "--port", "0"] + args, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30)

    def test_refuses_without_token_or_bad_flags(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = ["--dir", os.path.join(tmp, "runs")]
            for args, token in ((d, None), (d, "short"), (d + ["--port", "x"], WORKER_TOKEN),
                                (d + ["--max-active", "0"], WORKER_TOKEN),
                                (d + ["--nope", "1"], WORKER_TOKEN),
                                (d + ["--device", "tpu"], WORKER_TOKEN),
                                (d + ["--corpus", os.path.join(tmp, "missing")], WORKER_TOKEN),
                                (d + ["--token-file", os.path.join(tmp, "missing")], None)):
                p = self.run_serve(args, token)
                self.assertEqual(p.returncode, 2, (args, p.stderr))
                self.assertTrue(p.stderr, args)

    def test_device_cuda_without_a_gpu_is_refused_with_the_reason(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = clean_env({"SPARSELAW_WORKER_TOKEN": WORKER_TOKEN})
            p = subprocess.Popen([harness.TRAINER, "serve", "--port", "0", "--dir",
                                  os.path.join(tmp, "runs"), "--device", "cuda"], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            try:
                _, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                p.communicate(timeout=40)
                self.skipTest("a GPU is here: the worker started on it")
            self.assertEqual(p.returncode, 2, err)
            # "built without CUDA", or the CUDA runtime's own reason
            self.assertIn("--device cuda: ", err)

    def test_token_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            with open(path, "w") as f:
                f.write(WORKER_TOKEN + "\n")
            w = Worker(os.path.join(tmp, "runs"), env_token=None, args=["--token-file", path])
            try:
                status, _, j = w.request("GET", "/v1/train/" + "0" * 32)
                self.assertEqual(status, 404, j)
            finally:
                self.assertEqual(w.stop(), 0)


TEST_CLASSES = [TestRequests, TestRuns, TestStartup]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__, server=False, trainer=True,
                                                       corpus=True)))
