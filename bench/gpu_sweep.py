#!/usr/bin/env python3
"""A calibration sweep through the worker backend, for bench/gpu_check.sh.

Starts `sparselaw-train serve --device DEVICE` (one run at a time: one GPU)
and a sparselawd whose worker backend points at it, posts a 12-run sweep
(2 sizes x 3 sparsities x 2 token budgets), waits for it, and writes one
JSON object: the sweep's state and counts, each run's figures, the fit, and
the wall time. Both processes are stopped with SIGTERM at the end.

    bench/gpu_sweep.py --server build/sparselawd --trainer build/sparselaw-train \\
        --corpus data/tinyshakespeare.txt --out sweep.json [--device cuda] [--tiny]

--tiny (with --device cpu) runs the same 12 runs on models small enough for
a CPU in a minute: the check of this script where no GPU is. Standard
library only.
"""
import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

GPU_GRID = {"sizes": [{"layers": 6, "width": 384, "heads": 6},
                      {"layers": 8, "width": 512, "heads": 8}],
            "sparsities": [0, 0.5, 0.75], "tokens": [1000000, 2000000], "seeds": [1]}
GPU_TRAINER = {"context": 256, "batch": 32, "lr": 0.001, "val_tokens": 65536}
TINY_GRID = {"sizes": [{"layers": 1, "width": 16, "heads": 2},
                       {"layers": 1, "width": 32, "heads": 2}],
             "sparsities": [0, 0.5, 0.75], "tokens": [4096, 8192], "seeds": [1]}
TINY_TRAINER = {"context": 32, "batch": 4, "lr": 0.002, "val_tokens": 2048, "threads": 1}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, token, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_healthy(port, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (what, proc.returncode))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("%s did not answer /healthz in %d s" % (what, timeout))


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    return proc.returncode if proc else None


def run_figures(run):
    res = run.get("result") or {}
    keep = ("val_loss", "train_loss", "nonzeros", "sparsity", "tokens", "tokens_per_s",
            "gflops_per_s", "train_seconds", "device", "gpu_name", "precision")
    return {"state": run.get("state"), "attempts": run.get("attempts"),
            "error": run.get("error"), "point": run.get("point"),
            **{k: res.get(k) for k in keep if k in res}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--trainer", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--timeout", type=float, default=240, help="seconds the sweep may take")
    a = ap.parse_args()
    out = {"device": a.device, "tiny": a.tiny, "state": None, "error": None}
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="sparselaw-gpu-sweep-")
    token, wtoken = secrets.token_hex(16), secrets.token_hex(16)
    for name, value in (("token", token), ("worker-token", wtoken)):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
    wport, sport = free_port(), free_port()
    worker = server = None
    logs = [open(os.path.join(tmp, n), "w") for n in ("worker.log", "server.log")]
    try:
        env = dict(os.environ, SPARSELAW_WORKER_TOKEN=wtoken)
        worker = subprocess.Popen(
            [a.trainer, "serve", "--port", str(wport), "--bind", "127.0.0.1", "--max-active", "1",
             "--corpus", a.corpus, "--dir", os.path.join(tmp, "runs"), "--device", a.device],
            env=env, stdout=logs[0], stderr=subprocess.STDOUT)
        wait_healthy(wport, worker, "the worker")
        server = subprocess.Popen(
            [a.server, "--port", str(sport), "--bind", "127.0.0.1", "--data-dir",
             os.path.join(tmp, "data"), "--token-file", os.path.join(tmp, "token"),
             "--worker-url", "http://127.0.0.1:%d" % wport, "--worker-token-file",
             os.path.join(tmp, "worker-token"), "--worker-runs", "1"],
            stdout=logs[1], stderr=subprocess.STDOUT)
        wait_healthy(sport, server, "sparselawd")
        body = {"law": "gpu-calibration", "backend": "worker",
                "grid": TINY_GRID if a.tiny else GPU_GRID,
                # the sweep names its device: the protocol's size limits are the device's
                "trainer": dict(TINY_TRAINER if a.tiny else GPU_TRAINER, device=a.device)}
        status, s = request(sport, "POST", "/v1/sweeps", token, body)
        if status != 202:
            raise RuntimeError("POST /v1/sweeps answered %d: %s" % (status, json.dumps(s)[:500]))
        sid = s["id"]
        deadline = time.time() + a.timeout
        while s.get("state") not in ("succeeded", "failed", "cancelled"):
            if time.time() > deadline:
                out["error"] = "the sweep did not finish in %g s" % a.timeout
                break
            time.sleep(1.0)
            status, s = request(sport, "GET", "/v1/sweeps/%s" % sid, token)
        out["state"] = s.get("state")
        out["counts"] = s.get("counts")
        out["runs"] = [run_figures(r) for r in s.get("runs", [])]
        out["dataset"] = s.get("dataset")
        fit = s.get("fit") or {}
        out["fit"] = {k: fit.get(k) for k in ("id", "state", "error", "coefficients", "objective")
                      if k in fit}
    except Exception as e:  # the summary says what failed; the caller goes on
        out["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        out["server_exit"] = stop(server)
        out["worker_exit"] = stop(worker)
        for f in logs:
            f.close()
        with open(os.path.join(tmp, "worker.log")) as f:
            out["worker_log_tail"] = f.read()[-2000:]
        out["seconds"] = time.time() - t0
        out["work_dir"] = tmp
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    ok = out["state"] == "succeeded" and not out["error"]
    print("sweep: %s in %.0f s%s" % (out["state"], out["seconds"],
                                     "" if ok else " (%s)" % out["error"]), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
