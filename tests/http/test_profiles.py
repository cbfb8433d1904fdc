#!/usr/bin/env python3
"""Black-box tests of trainer profiles, device routing and the sweep checks
(README.md, "Bring your own trainer").

    python3 tests/http/test_profiles.py --server build/sparselawd \
        --openapi api/openapi.json --trainer build/sparselaw-train \
        --torch-python /usr/bin/python3

Real processes throughout: sparselawd with a --config of [profile] sections,
examples/synthetic_trainer.py (a known law plus seeded noise) and
examples/torch_trainer.py (a tiny PyTorch model on the CPU; `scripts/deps.sh
torch` installs Debian's PyTorch) as profiles on the local backend and on a
`sparselaw-train serve --profiles` worker.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (COEF, REPO, TOKEN, WORKER_TOKEN, OwnServers, Server, SweepBase,  # noqa: E402
                     Worker, new_token_file, stop_running)

TORCH = os.path.join(REPO, "examples", "torch_trainer.py")
TORCH_PYTHON = None  # --torch-python: a Python that imports torch
CORPUS_TXT = os.path.join(REPO, "data", "tinyshakespeare.txt")

SYN_ARGV = harness.SYNTHETIC_ARGV


def torch_argv():
    return ("%s %s --width={width} --layers={layers} --heads={heads} --sparsity={sparsity} "
            "--pattern={pattern_n}:{pattern_m} --tokens={tokens} --seed={seed} "
            "--threads={threads} --devices={devices} --corpus=%s --context=32 --batch=4 "
            "--val-tokens=2048" % (TORCH_PYTHON, TORCH, CORPUS_TXT))


def profiles_text(extra=""):
    return ("[profile synthetic]\nargv = %s\nbackends = local worker slurm\n\n"
            "[profile synpat]\nargv = %s --pattern={pattern_n}:{pattern_m} --pattern-eta=%s\n"
            "backends = local\n\n"
            "[profile slow]\nargv = %s --seconds=3\nbackends = local\n\n"
            "[profile gpu]\nargv = %s\ndevice = cuda:1\nbackends = local\n\n"
            "[profile envcheck]\nargv = /bin/sh -c env>{seed}.env;pwd>>{seed}.env\n"
            % (SYN_ARGV, SYN_ARGV, ",".join("%s=%s" % kv for kv in SYN_ETA.items()), SYN_ARGV,
               SYN_ARGV)) + extra


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# The synthetic law's grid: 4 sizes over 64x in N, 4 sparsities, 5 data amounts over 100x, and
# the noise of seed 2. Each 95 % interval covers its coefficient 95 % of the time, so all seven
# together about 70 %: of the noise seeds 1 to 8 tried on this grid (200 bootstrap draws), 7
# covered all seven and seed 1 missed a_s by 1 %. The test takes seed 2, fixed: a change that
# biases the fit or narrows its intervals fails it.
SYN_SIZES = [{"layers": 2, "width": w, "heads": 2} for w in (32, 64, 128, 256)]
SYN_GRID = {"sizes": SYN_SIZES, "sparsities": [0, 0.5, 0.75, 0.875],
            "tokens": [1000000, 3000000, 10000000, 30000000, 100000000], "seeds": [2]}
GFLOPS = 5  # --local-gflops of the shared server
SYN_ETA = {"2:4": 0.85, "1:4": 1.2}  # the synpat profile's true pattern factors


def flops(grid):
    """The sweep's training FLOPs as README.md defines them, computed here."""
    total = 0.0
    for s in grid["sizes"]:
        w = 12.0 * s["layers"] * s["width"] ** 2 + 256.0 * s["width"]
        kinds = len(grid.get("sparsities", [])) + len(grid.get("patterns", []))
        total += 6 * w * sum(grid["tokens"]) * kinds * len(grid.get("seeds", [1]))
    return total


class Base(SweepBase):
    def body(self, law, grid, profile="synthetic", **extra):
        b = {"law": law, "profile": profile, "grid": grid, "fit": {"bootstrap": 200}}
        b.update(extra)
        return b


def setUpModule():
    global TMP, CFG
    TMP = tempfile.mkdtemp(prefix="sparselaw-profiles-")
    CFG = write(os.path.join(TMP, "sparselaw.conf"),
                "local-runs = 4\nlocal-gflops = %d\n\n%s" % (GFLOPS, profiles_text()))
    harness.start_shared(TMP, ["--config", CFG], own_tmp=False)


def tearDownModule():
    harness.stop_shared()
    shutil.rmtree(TMP, ignore_errors=True)


class TestSyntheticSweep(Base):
    def test_a_synthetic_sweep_recovers_its_known_coefficients(self):
        s = self.post_sweep(self.body("syn-recover", SYN_GRID))
        self.assertEqual(s["backend"], "local")
        self.assertEqual(s["request"]["profile"], "synthetic")
        self.assertEqual(s["warnings"], [])  # 4 S, 4 N over 64x, 5 D over 100x
        est = s["estimate"]
        self.assertEqual(est["runs"], 80)
        self.assertAlmostEqual(est["flops"], flops(SYN_GRID), delta=1e-9 * est["flops"])
        if est["throughput"] == "configured":  # before any run of this server measured one
            self.assertEqual(est["flops_per_s"], GFLOPS * 1e9)
            longest = max(6 * (12.0 * 2 * 256 ** 2 + 256 * 256) * 1e8, est["flops"] / 4)
            self.assertAlmostEqual(est["seconds"], longest / (GFLOPS * 1e9), delta=1e-6)
        s = self.wait_done(s["id"], timeout=300)
        self.assertEqual(s["state"], "succeeded", json.dumps(s)[:2000])
        self.assertEqual(s["counts"]["succeeded"], 80)
        self.assertEqual(s["dataset"]["rows"], 80)
        fit = self.ok(self.srv.get("/v1/fits/%d" % s["fit"]["id"], token=TOKEN))
        true = COEF["t5-c4"]
        for k, v in true.items():
            lo, hi = fit["intervals"][k]
            self.assertTrue(lo <= v <= hi, "%s = %g outside its interval [%g, %g]: %s"
                            % (k, v, lo, hi, json.dumps(fit["coefficients"])))
            self.assertLess(hi - lo, v, "the interval of %s says nothing" % k)
        print("figures: synthetic sweep, %d runs, fit in %.2f s; coefficient true fitted "
              "[interval]: %s" % (s["counts"]["succeeded"], fit["seconds"], "; ".join(
                  "%s %.6g %.6g [%.6g, %.6g]" % (k, v, fit["coefficients"][k], *fit["intervals"][k])
                  for k, v in true.items())), file=sys.stderr)
        # the runs measured a throughput: the next sweep's estimate uses it
        s2 = self.post_sweep(self.body("syn-measured", dict(SYN_GRID, tokens=[1000000])))
        self.assertEqual(s2["estimate"]["throughput"], "measured")
        self.assertGreater(s2["estimate"]["flops_per_s"], 0)
        self.wait_done(s2["id"], timeout=300)

    def test_a_pattern_sweep_fits_its_pattern_factors(self):
        """A sweep with n:m patterns asks its fit for pattern factors: the
        runs' patterns reach the dataset and each factor's interval holds
        the synthetic trainer's true one, and tells it from 1."""
        grid = dict(SYN_GRID, patterns=list(SYN_ETA), tokens=[1000000, 10000000, 100000000])
        body = self.body("syn-patterns", grid, profile="synpat")
        body["fit"].update(pattern_factors=True, bootstrap=100)
        s = self.post_sweep(body)
        self.assertIs(s["request"]["fit"]["pattern_factors"], True)
        s = self.wait_done(s["id"], timeout=300)
        self.assertEqual(s["state"], "succeeded", json.dumps(s)[:2000])
        self.assertEqual(s["counts"]["succeeded"], 4 * 6 * 3)
        fit = self.ok(self.srv.get("/v1/fits/%d" % s["fit"]["id"], token=TOKEN))
        pf = fit["pattern_factors"]
        self.assertEqual(set(pf), set(SYN_ETA))
        for name, eta in SYN_ETA.items():
            lo, hi = pf[name]["interval"]
            self.assertTrue(lo <= eta <= hi, "%s: eta %g outside [%g, %g]" % (name, eta, lo, hi))
            self.assertFalse(lo <= 1 <= hi, "%s: the runs do not tell eta from 1" % name)
            self.assertEqual(pf[name]["rows"], 4 * 3)
        print("figures: pattern sweep, %d runs: %s" % (s["counts"]["succeeded"], "; ".join(
            "%s true %.3g fitted %.4g [%.4g, %.4g]" % (k, v, pf[k]["eta"], *pf[k]["interval"])
            for k, v in SYN_ETA.items())), file=sys.stderr)
        # a rollout goes with the fit options too, and a bad one is the fit's 400
        bad = self.body("syn-bad-rollout", grid, profile="synpat")
        bad["fit"]["rollout"] = {"levels": 0}
        r = self.srv.request("POST", "/v1/sweeps", json_body=bad, token=TOKEN)
        self.assert_error(r, 400, "invalid_body", "fit.rollout.levels")

    def test_points_reach_the_profile_as_numbers(self):
        grid = {"sizes": [{"layers": 3, "width": 40, "heads": 4}], "sparsities": [0.3],
                "tokens": [12345], "seeds": [7]}
        s = self.wait_done(self.post_sweep(self.body("syn-args", grid))["id"])
        run = s["runs"][0]
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["result"]["tokens"], 12345)
        self.assertEqual(run["result"]["nonzeros"], round(0.7 * 12 * 3 * 40 * 40))
        self.assertEqual(run["result"]["devices"], 0)
        self.assertEqual(run["point"]["profile"], "synthetic")

    def test_profile_environment_and_directory(self):
        tmp = tempfile.mkdtemp(prefix="sparselaw-profile-env-")
        try:
            os.chmod(tmp, 0o755)
            srv = Server(os.path.join(tmp, "data"), new_token_file(tmp), args=[
                "--config", write(os.path.join(tmp, "c"), profiles_text().replace(
                    "[profile envcheck]\n", "[profile envcheck]\ndir = %s\nenv = SL_PROFILE_X=42\n"
                    "env = HOME=/nonexistent\n" % tmp))], env_extra={"HOME": "/root-of-server"})
            try:
                grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000], "seeds": [9]}
                s = self.wait_done(self.post_sweep(self.body("env", grid, profile="envcheck",
                                                             max_attempts=1),
                                                   server=srv)["id"], server=srv)
                # no result line: the run fails, but the process ran where and as declared
                self.assertEqual(s["runs"][0]["state"], "failed")
                with open(os.path.join(tmp, "9.env")) as f:
                    lines = f.read().splitlines()
                self.assertIn("SL_PROFILE_X=42", lines)
                self.assertIn("HOME=/nonexistent", lines)  # the profile's line wins
                self.assertNotIn("HOME=/root-of-server", lines)
                self.assertEqual(lines[-1], tmp)
                self.assertIn("without a result", s["runs"][0]["error"] or
                              s["runs"][0]["last_error"])
            finally:
                stop_running(srv)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TestNoClientText(Base):
    """API users name a profile; they never supply a path, argv or environment."""

    def test_paths_argv_and_environment_are_refused(self):
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        ids = lambda: [w["id"] for w in self.ok(self.srv.get("/v1/sweeps?limit=500",
                                                             token=TOKEN))["sweeps"]]
        before = ids()
        for extra, field in [({"argv": ["/bin/sh", "-c", "id"]}, "argv"),
                             ({"command": "/bin/sh"}, "command"),
                             ({"env": {"LD_PRELOAD": "/tmp/x.so"}}, "env"),
                             ({"environment": ["A=1"]}, "environment"),
                             ({"dir": "/tmp"}, "dir"), ({"trainer_path": "/bin/sh"}, "trainer_path"),
                             ({"corpus": "/etc/passwd"}, "corpus"),
                             ({"trainer": {"argv": "x"}}, "trainer.argv"),
                             ({"trainer": {"corpus": "/etc"}}, "trainer.corpus"),
                             ({"profile": "/bin/sh"}, "profile"),
                             ({"profile": "../synthetic"}, "profile"),
                             ({"profile": "synthetic --x"}, "profile"),
                             ({"profile": ["synthetic"]}, "profile"),
                             ({"device": "/dev/nvidia0"}, "device"),
                             ({"device": "cpu", "device_count": 1}, "device_count")]:
            body = self.body("no-text", grid)
            body.update(extra)
            r = self.srv.request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
            self.assert_error(r, 400, "invalid_body", field)
        self.assertEqual(ids(), before)

    def test_unknown_profile_and_its_options(self):
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        r = self.srv.request("POST", "/v1/sweeps", json_body=self.body("p", grid, profile="nope"),
                             token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "profile", "no trainer profile 'nope'")
        body = self.body("p", grid, trainer={"lr": 0.01})
        r = self.srv.request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "trainer")
        # a profile only its backends may run
        body = self.body("p", grid, profile="slow", backend="worker")
        r = self.srv.request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "backend", "no worker backend")


class TestDesignChecks(Base):
    def test_a_grid_that_cannot_identify_the_law_is_warned_or_refused(self):
        grid = {"sizes": SYN_SIZES[:2], "sparsities": [0, 0.5], "tokens": [1000000, 2000000]}
        s = self.post_sweep(self.body("design-lenient", grid))
        codes = [w["code"] for w in s["warnings"]]
        # N = (1 - S) 12 L C^2: 2 widths x 2 sparsities are 4 levels of N, over 8x
        self.assertEqual(codes, ["few_sparsities", "narrow_nonzeros", "few_data"])
        for w in s["warnings"]:
            self.assertIsInstance(w["message"], str)
        self.assertIn("only 2 sparsities", s["warnings"][0]["message"])
        self.assertEqual(self.sweep(s["id"])["warnings"], s["warnings"])  # GET says it too
        count = len(self.ok(self.srv.get("/v1/sweeps?limit=500", token=TOKEN))["sweeps"])
        r = self.srv.request("POST", "/v1/sweeps", json_body=self.body("design-strict", grid,
                                                                        strict=True), token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "grid", "only 2 sparsities")
        # every reason, each in full: the warnings the lenient sweep got, word for word
        self.assertTrue(r.json()["error"]["message"].endswith(
            "cannot: " + "; ".join(w["message"] for w in s["warnings"])), r.json())
        self.assertEqual(len(self.ok(self.srv.get("/v1/sweeps?limit=500", token=TOKEN))["sweeps"]),
                         count)
        # narrow spans: 3 levels each, but N over 4x and D over 3x
        grid = {"sizes": [{"layers": 2, "width": w, "heads": 2} for w in (32, 48, 64)],
                "sparsities": [0, 0.25, 0.5], "tokens": [1000000, 2000000, 3000000]}
        s = self.post_sweep(self.body("design-narrow", grid))
        self.assertEqual([w["code"] for w in s["warnings"]], ["narrow_nonzeros", "narrow_data"])
        # a grid that passes is taken with strict
        s = self.post_sweep(self.body("design-ok", dict(SYN_GRID, tokens=[1000000, 3000000,
                                                                          10000000]),
                                      strict=True))
        self.assertEqual(s["warnings"], [])
        for sid in (s["id"],):
            self.wait_done(sid, timeout=300)


class TestEta(Base):
    def test_eta_while_a_profile_runs(self):
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0, 0.5], "tokens": [1000000]}
        s = self.post_sweep(self.body("eta-slow", grid, profile="slow"))
        s = self.wait_running(s["id"], 2)
        self.assertIsNotNone(s["eta_seconds"])
        self.assertGreater(s["eta_seconds"], 0)
        self.assertLess(s["eta_seconds"], 10)  # two runs of 3 s, side by side
        for r in s["runs"]:
            self.assertIsNotNone(r["eta_seconds"])
        s = self.wait_done(s["id"])
        self.assertIsNone(s["eta_seconds"])


class TestDevices(OwnServers, Base):
    def cfg(self, extra_options=""):
        return write(os.path.join(self.tmp, "c"), extra_options + "\n" + profiles_text())

    def test_no_backend_with_a_device(self):
        srv = self.start(args=["--config", self.cfg()])
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        r = srv.request("POST", "/v1/sweeps", json_body=self.body("d", grid, device="cuda"),
                        token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "device", "the local backend has cpu")
        # a profile that needs CUDA itself
        r = srv.request("POST", "/v1/sweeps", json_body=self.body("d", grid, profile="gpu"),
                        token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "device", "the runs need cuda:1")
        r = srv.request("POST", "/v1/sweeps", json_body=self.body("d", grid, device="cuda",
                                                                   backend="local"), token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "backend")
        self.stop(srv)

    def test_a_local_device_takes_cuda_sweeps(self):
        srv = self.start(args=["--config", self.cfg("local-device = cuda:2")])
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        b = self.ok(srv.get("/v1/backends", token=TOKEN))["backends"][0]
        self.assertEqual((b["name"], b["device"], b["device_count"]), ("local", "cuda", 2))
        s = self.post_sweep(self.body("d2", grid, device="cuda", device_count=2), server=srv)
        self.assertEqual(s["backend"], "local")
        self.assertEqual((s["request"]["device"], s["request"]["device_count"]), ("cuda", 2))
        s = self.wait_done(s["id"], server=srv)
        self.assertEqual(s["runs"][0]["result"]["devices"], 2)  # {devices} reached the trainer
        self.assertEqual(s["runs"][0]["point"]["device_count"], 2)
        # the gpu profile asks for cuda:1 itself: its runs get one device
        s = self.wait_done(self.post_sweep(self.body("d1", grid, profile="gpu"),
                                           server=srv)["id"], server=srv)
        self.assertEqual(s["runs"][0]["result"]["devices"], 1)
        r = srv.request("POST", "/v1/sweeps", json_body=self.body("d3", grid, device="cuda",
                                                                   device_count=3), token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "device", "the local backend has cuda:2")
        self.stop(srv)


    def test_a_silent_worker_takes_only_its_own_trainer_on_a_cpu(self):
        srv = self.start(args=["--config", self.cfg(), "--worker-url",
                               "http://127.0.0.1:%d" % harness.free_port()],
                         env_extra={"SPARSELAW_WORKER_TOKEN": WORKER_TOKEN})
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        # what it has is unknown: no profile of its, no CUDA
        for extra in ({"profile": "synthetic"}, {"profile": None, "device": "cuda"}):
            body = self.body("silent", grid, backend="worker", **extra)
            body = {k: v for k, v in body.items() if v is not None}
            r = srv.request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
            self.assert_error(r, 422, "unprocessable", "backend", "has not said what it has")
        # its own trainer on a CPU: queued, waiting for the worker
        body = {"law": "silent-own", "backend": "worker", "grid": grid}
        s = self.post_sweep(body, server=srv)
        self.assertEqual(s["backend"], "worker")
        self.stop(srv)


class TestBackends(OwnServers, Base):
    """GET /v1/backends: what the sweep routing and the estimates go by, per backend."""

    def backends(self, srv):
        r = srv.get("/v1/backends", token=TOKEN)
        j = self.ok(r)
        self.assertEqual(set(j["units"]), {"device_count", "slots", "active", "flops_per_s"})
        return {b["name"]: b for b in j["backends"]}, [b["name"] for b in j["backends"]]

    def test_each_backend_as_configured(self):
        jwt = write(os.path.join(self.tmp, "jwt"), "a-jwt\n")
        cfg = write(os.path.join(self.tmp, "c"), "local-runs = 3\nlocal-gflops = 7\n\n"
                    + profiles_text())
        srv = self.start(args=[
            "--config", cfg, "--trainer", harness.TRAINER, "--corpus", CORPUS_TXT,
            "--worker-url", "http://127.0.0.1:%d" % harness.free_port(), "--worker-runs", "2",
            "--slurm-url", "http://127.0.0.1:%d" % harness.free_port(), "--slurm-jwt-file", jwt,
            "--slurm-user", "nobody", "--slurm-runs", "5", "--slurm-gpus", "2",
            "--slurm-gflops", "11"], env_extra={"SPARSELAW_WORKER_TOKEN": WORKER_TOKEN})
        r = srv.get("/v1/backends")
        self.assert_error(r, 401, "unauthorized")
        r = srv.get("/v1/backends?backend=local", token=TOKEN)
        self.assert_error(r, 400, "unknown_parameter", "backend")
        by, order = self.backends(srv)
        self.assertEqual(order, ["local", "worker", "slurm"])  # the routing order
        # The profiles of the --config that allow each backend (their backends line; envcheck
        # has none: all), in the file's order, each with the device it declares.
        cpu = {"device": "cpu", "device_count": 0}
        local = by["local"]
        self.assertEqual(local["profiles"], [
            dict(cpu, name="synthetic"), dict(cpu, name="synpat"), dict(cpu, name="slow"),
            {"name": "gpu", "device": "cuda", "device_count": 1}, dict(cpu, name="envcheck")])
        self.assertEqual((local["device"], local["device_count"], local["slots"],
                          local["active"]), ("cpu", 0, 3, 0))
        self.assertEqual((local["flops_per_s"], local["throughput"]), (7e9, "configured"))
        self.assertEqual((local["builtin"], local["builtin_problem"], local["problem"]),
                         (True, None, None))
        # a worker that does not answer: its own trainer on a CPU only, and why
        worker = by["worker"]
        self.assertEqual((worker["device"], worker["device_count"], worker["slots"],
                          worker["profiles"], worker["builtin"]), ("cpu", 0, 2, [], True))
        self.assertIn("has not said what it has", worker["problem"])
        self.assertEqual((worker["flops_per_s"], worker["throughput"]), (None, None))
        slurm = by["slurm"]
        self.assertEqual(slurm["profiles"], [dict(cpu, name="synthetic"),
                                             dict(cpu, name="envcheck")])
        self.assertEqual((slurm["device"], slurm["device_count"], slurm["slots"],
                          slurm["flops_per_s"], slurm["throughput"], slurm["problem"]),
                         ("cuda", 2, 5, 11e9, "configured", None))
        # The routing goes by the same facts: a CUDA sweep of synthetic skips local (cpu) and
        # the silent worker for Slurm, and its estimate takes Slurm's throughput.
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        s = self.post_sweep(self.body("to-slurm", grid, device="cuda", device_count=2),
                            server=srv)
        self.assertEqual(s["backend"], "slurm")
        self.assertEqual((s["estimate"]["flops_per_s"], s["estimate"]["throughput"]),
                         (slurm["flops_per_s"], slurm["throughput"]))
        self.assertEqual(self.ok(srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))
                         ["state"], "cancelled")
        # a profile no backend offers with its device is refused, as the answer implies
        r = srv.request("POST", "/v1/sweeps", json_body=self.body("gpu3", grid, profile="gpu",
                                                                   device="cuda",
                                                                   device_count=3),
                        token=TOKEN)
        self.assertEqual(r.status, 422, r)
        self.stop(srv)

    def test_the_built_in_trainer_that_cannot_run(self):
        """builtin_problem is the 422 a sweep without a profile gets there."""
        srv = self.start(args=["--trainer", os.path.join(self.tmp, "no-such-trainer")])
        by, order = self.backends(srv)
        self.assertEqual(order, ["local"])
        self.assertFalse(by["local"]["builtin"])
        self.assertEqual(by["local"]["profiles"], [])
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        r = srv.request("POST", "/v1/sweeps", json_body={"law": "b", "grid": grid}, token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "backend")
        self.assertEqual(r.json()["error"]["message"], by["local"]["builtin_problem"])
        self.stop(srv)

    def test_active_runs_and_the_measured_throughput(self):
        cfg = write(os.path.join(self.tmp, "c"), "local-runs = 4\n\n" + profiles_text())
        srv = self.start(args=["--config", cfg])
        by, _ = self.backends(srv)
        self.assertEqual((by["local"]["active"], by["local"]["flops_per_s"],
                          by["local"]["throughput"]), (0, None, None))
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0, 0.5], "tokens": [1000000]}
        s = self.post_sweep(self.body("active", grid, profile="slow"), server=srv)
        self.wait_running(s["id"], 2, server=srv)
        by, _ = self.backends(srv)
        self.assertEqual(by["local"]["active"], 2)
        self.assertEqual(self.wait_done(s["id"], server=srv)["counts"]["succeeded"], 2)
        by, _ = self.backends(srv)
        self.assertEqual(by["local"]["active"], 0)
        self.assertEqual(by["local"]["throughput"], "measured")
        self.assertGreater(by["local"]["flops_per_s"], 0)
        # the figure the next sweep's estimate takes (slow runs: none ends in between)
        s = self.post_sweep(self.body("after", grid, profile="slow"), server=srv)
        self.assertEqual((s["estimate"]["flops_per_s"], s["estimate"]["throughput"]),
                         (by["local"]["flops_per_s"], "measured"))
        self.ok(srv.request("DELETE", "/v1/sweeps/%d" % s["id"], token=TOKEN))
        self.stop(srv)


class TestThroughputAfterRestart(OwnServers, Base):
    def test_a_restart_keeps_the_measured_throughput(self):
        """The throughput an estimate goes by is measured by the backend's
        succeeded runs, which are in the store: after a restart the next
        sweep's estimate has the same figure, not none."""
        cfg = write(os.path.join(self.tmp, "c"), profiles_text())  # no --local-gflops
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0, 0.5], "tokens": [1000000]}
        srv = self.start(args=["--config", cfg])
        s = self.post_sweep(self.body("t1", grid), server=srv)
        self.assertIsNone(s["estimate"]["throughput"])  # nothing measured or configured yet
        self.assertIsNone(s["estimate"]["seconds"])
        self.assertEqual(self.wait_done(s["id"], server=srv)["counts"]["succeeded"], 2)
        before = self.post_sweep(self.body("t2", grid), server=srv)["estimate"]
        self.assertEqual(before["throughput"], "measured")
        self.wait_done_all(srv)
        self.stop(srv)
        srv = self.start(args=["--config", cfg])
        after = self.post_sweep(self.body("t3", grid), server=srv)["estimate"]
        self.assertEqual(after["throughput"], "measured")
        # the mean of the same four runs now (t1's and t2's), in another order
        self.assertGreater(after["flops_per_s"], 0)
        self.wait_done_all(srv)
        measured = [r["result"] for r in self.runs_of(srv)]
        rates = [6 * (12.0 * 2 * 32 ** 2 + 256 * 32) * r["tokens"] / r["train_seconds"]
                 for r in measured[:4]]
        self.assertAlmostEqual(after["flops_per_s"], sum(rates) / len(rates),
                               delta=1e-9 * after["flops_per_s"])
        self.stop(srv)

    def wait_done_all(self, srv):
        for sw in srv.get("/v1/sweeps", token=TOKEN).json()["sweeps"]:
            self.wait_done(sw["id"], server=srv)

    def runs_of(self, srv):
        """Every succeeded run, oldest first."""
        runs = []
        for sw in sorted(srv.get("/v1/sweeps", token=TOKEN).json()["sweeps"],
                         key=lambda x: x["id"]):
            runs += [r for r in self.wait_done(sw["id"], server=srv)["runs"]
                     if r["state"] == "succeeded"]
        return runs


class TestConfigErrors(OwnServers, unittest.TestCase):
    """A bad profile stops the server at start, naming the file, the line and why."""

    def refused(self, text, want):
        path = write(os.path.join(self.tmp, "bad.conf"), text)
        p = subprocess.run([harness.SERVER_BIN, "--config", path, "--port", "0", "--data-dir",
                            self.data], capture_output=True, text=True, timeout=20,
                           env=harness.clean_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(path + ":", p.stderr)
        self.assertIn(want, p.stderr)
        return p.stderr

    def test_bad_profiles(self):
        ok = "argv = %s\n" % SYN_ARGV
        cases = [
            ("[profile x]\nargv = python3 x.py\n", "must be an absolute path"),
            ("[profile x]\nargv = %s --w={width\n" % sys.executable, "without its '}'"),
            ("[profile x]\nargv = %s --w={corpus}\n" % sys.executable,
             "unknown placeholder {corpus}"),
            ("[profile x]\nargv = /bin/{seed}\n", "cannot hold a placeholder"),
            ("[profile x]\nargv = %s '--x'\n" % sys.executable, "without quotes"),
            ("[profile x]\nargv = /nonexistent/trainer\n", "cannot be run"),
            ("[profile x]\ndir = /tmp\n", "has no argv"),
            ("[profile x]\n%s[profile x]\n%s" % (ok, ok), "declared twice"),
            ("[profile x]\n%sdevice = gpu\n" % ok, "device must be"),
            ("[profile x]\n%sbackends = local cloud\n" % ok, "backends must list"),
            ("[profile x]\n%sport = 9000\n" % ok, "unknown key 'port'"),
            ("[profile x]\n%senv = 1X=2\n" % ok, "env must be NAME=VALUE"),
            ("[profile X]\n%s" % ok, "profile name 'X'"),
            ("[profiles x]\n%s" % ok, "not a section header"),
            ("[profile x]\n%sargv = /bin/true\n" % ok, "argv is set twice"),
        ]
        for text, want in cases:
            with self.subTest(want=want):
                self.refused(text, want)
        # options before the first section still apply; after it, lines are the profile's
        self.refused("port = 0\n[profile x]\n%slocal-runs = 2\n" % ok, "unknown key 'local-runs'")
        p = subprocess.run([harness.SERVER_BIN, "--local-device", "tpu", "--port", "0",
                            "--data-dir", self.data], capture_output=True, text=True,
                           timeout=20, env=harness.clean_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--local-device must be cpu, cuda or cuda:N (got 'tpu')", p.stderr)


class TestWorker(Base):
    """Profiles on a `sparselaw-train serve` worker, and the server routing to it."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sparselaw-profiles-worker-")
        prof = write(os.path.join(cls.tmp, "profiles"), (
            "[profile synthetic]\nargv = %s\n\n[profile torch]\nargv = %s\nenv = OMP_NUM_THREADS=1\n"
            % (SYN_ARGV, torch_argv())))
        cls.w = Worker(os.path.join(cls.tmp, "runs"), max_active=2,
                       args=["--profiles", prof, "--device", "cuda:1"])
        cls.s = Server(os.path.join(cls.tmp, "data"), new_token_file(cls.tmp), args=[
            "--worker-url", "http://127.0.0.1:%d" % cls.w.port, "--worker-runs", "2"],
            env_extra={"SPARSELAW_WORKER_TOKEN": WORKER_TOKEN})

    @classmethod
    def tearDownClass(cls):
        stop_running(cls.s)
        if cls.w.proc.poll() is None:
            cls.w.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_info(self):
        status, _, info = self.w.request("GET", "/v1/info")
        self.assertEqual(status, 200, info)
        self.assertEqual(info["device"], "cuda:1")  # declared with --device
        self.assertEqual(info["devices"], [{"kind": "cuda", "index": 0}])
        self.assertEqual(info["max_active"], 2)
        self.assertGreater(info["memory_bytes"], 1 << 26)
        self.assertGreaterEqual(info["cores"], 1)
        self.assertEqual([p["name"] for p in info["profiles"]], ["synthetic", "torch"])
        self.assertEqual({p["device"] for p in info["profiles"]}, {"cpu"})
        status, _, j = self.w.request("GET", "/v1/info", token=None)
        self.assertEqual(status, 401, j)
        status, _, j = self.w.request("POST", "/v1/info", body={})
        self.assertEqual(status, 405, j)

    def test_backends_say_what_the_worker_reported(self):
        j = self.ok(self.s.get("/v1/backends", token=TOKEN))
        self.assertEqual([b["name"] for b in j["backends"]], ["local", "worker"])
        local, worker = j["backends"]
        self.assertEqual(local["profiles"], [])  # this server has no --config
        _, _, info = self.w.request("GET", "/v1/info")
        self.assertEqual((worker["device"], worker["device_count"]), ("cuda", 1))  # info: cuda:1
        self.assertEqual(worker["profiles"], [{"name": p["name"], "device": "cpu",
                                               "device_count": 0} for p in info["profiles"]])
        self.assertEqual([p["name"] for p in worker["profiles"]], ["synthetic", "torch"])
        self.assertEqual((worker["slots"], worker["problem"], worker["builtin"]), (2, None, True))

    def test_worker_refuses_text_and_unknown_profiles(self):
        point = {"profile": "synthetic", "layers": 1, "width": 32, "tokens": 1000, "sparsity": 0}
        for extra, field in [({"profile": "nope"}, "profile"), ({"argv": ["/bin/sh"]}, "argv"),
                             ({"env": {"A": "1"}}, "env"), ({"corpus": "/etc"}, "corpus"),
                             ({"lr": 0.01}, "lr"), ({"devices": 2}, "devices"),
                             ({"profile": 3}, "profile"), ({"width": "32;id"}, "width")]:
            body = dict(point, **extra)
            status, _, j = self.w.request("POST", "/v1/train", body)
            self.assertEqual(status, 400, (extra, j))
            self.assertEqual(j["error"].get("field"), field, j)

    def test_a_synthetic_run_on_the_worker(self):
        body = {"profile": "synthetic", "layers": 2, "width": 64, "heads": 2, "tokens": 5000,
                "sparsity": 0.5, "seed": 3, "devices": 1}
        status, _, j = self.w.request("POST", "/v1/train", body)
        self.assertEqual(status, 201, j)
        deadline = time.time() + 30
        while True:
            status, _, r = self.w.request("GET", "/v1/train/" + j["id"])
            if r["state"] != "running" or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(r["state"], "succeeded", r)
        self.assertEqual(r["result"]["nonzeros"], 0.5 * 12 * 2 * 64 * 64)
        self.assertEqual(r["result"]["devices"], 1)

    def test_torch_sweep_through_the_worker(self):
        grid = {"sizes": [{"layers": 1, "width": 32, "heads": 2},
                          {"layers": 1, "width": 48, "heads": 2}],
                "sparsities": [0, 0.5], "patterns": ["2:4"], "tokens": [4096, 8192]}
        s = self.post_sweep(self.body("torch-worker", grid, profile="torch", backend="worker",
                                      fit={"bootstrap": 10}), server=self.s)
        self.assertEqual(s["backend"], "worker")
        self.assertEqual(len(s["runs"]), 12)
        # S 0 and 0.5 (2:4 is 0.5 too), 4 levels of N over 4.5x, 2 token budgets
        self.assertEqual([w["code"] for w in s["warnings"]],
                         ["few_sparsities", "narrow_nonzeros", "few_data"])
        s = self.wait_done(s["id"], server=self.s, timeout=300)
        self.assertEqual(s["counts"]["succeeded"], 12, json.dumps(s)[:3000])
        for r in s["runs"]:
            res = r["result"]
            self.assertEqual(res["device"], "cpu")
            self.assertEqual(res["tokens"], r["point"]["tokens"])
            n_prunable = 12 * r["point"]["width"] ** 2
            want = n_prunable * (1 - r["point"]["sparsity"])
            self.assertEqual(res["nonzeros"], round(want))  # pruned to its target, exactly
            self.assertTrue(0 < res["val_loss"] < 6, res)  # below ln 256 = 5.55 + noise
        csv = self.s.get("/v1/datasets/%d?format=csv" % s["dataset"]["id"], token=TOKEN)
        self.assertEqual(csv.status, 200, csv)
        self.assertEqual(len(csv.text().strip().splitlines()), 1 + 12)  # a header and the runs
        self.assertIn(s["fit"]["state"], ("succeeded", "failed"))
        print("torch sweep through the worker: %d runs, fit %s, %s" % (
            len(s["runs"]), s["fit"]["state"],
            sorted((r["point"]["width"], r["point"]["pattern"], r["point"]["sparsity"],
                    r["point"]["tokens"], round(r["result"]["val_loss"], 3)) for r in s["runs"])),
            file=sys.stderr)

    def test_cuda_sweeps_are_routed_to_the_worker(self):
        grid = {"sizes": [SYN_SIZES[0]], "sparsities": [0], "tokens": [1000]}
        s = self.post_sweep(self.body("to-worker", grid, device="cuda"), server=self.s)
        self.assertEqual(s["backend"], "worker")  # local has cpu only
        s = self.wait_done(s["id"], server=self.s)
        self.assertEqual(s["runs"][0]["result"]["devices"], 1)
        r = self.s.request("POST", "/v1/sweeps", json_body=self.body(
            "to-none", grid, device="cuda", device_count=2), token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "device", "the worker backend has cuda:1")
        r = self.s.request("POST", "/v1/sweeps", json_body=self.body(
            "no-prof", grid, profile="slow", backend="worker"), token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "backend", "no trainer profile 'slow'")


def configure(args):
    global TORCH_PYTHON
    TORCH_PYTHON = args.torch_python
    p = subprocess.run([TORCH_PYTHON, "-c", "import torch"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("%s cannot import torch (scripts/deps.sh torch installs Debian's): %s"
                         % (TORCH_PYTHON, p.stderr[-500:]))


if __name__ == "__main__":
    p = harness.parser(__doc__, trainer=True, corpus=harness.DEFAULT_CORPUS)
    p.add_argument("--torch-python", default="/usr/bin/python3",
                   help="a Python with torch (default: %(default)s)")
    sys.exit(harness.main([TestSyntheticSweep, TestNoClientText, TestDesignChecks, TestEta,
                           TestDevices, TestBackends, TestConfigErrors, TestWorker], p,
                          configure))
