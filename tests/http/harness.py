"""The black-box test harness of tests/http: what every test file there shares.

A test file ends in harness.main(TEST_CLASSES, harness.parser(__doc__, ...)):
its command line (--server, --openapi, --trainer, --corpus, --data-dir, read
into the globals below) and then the named tests, or all of them. The rest,
in order:

- the reference laws (law-math.md section 2) and q(), the query encoder;
- the processes: Listener (a process that announces {"event":"listening"} on
  stderr and whose stderr lines are kept), Server (sparselawd), Worker
  (sparselaw-train serve), free_port(), pid_alive(), stop_running();
- the shared server of a test file (start_shared / stop_shared) and Base,
  the TestCase with the JSON error checks; OwnServers for tests that start
  servers of their own;
- the authors' t5-c4 sweep from --data-dir, uploaded and fitted;
- the sweep helpers (SweepBase, sweep_body, the tiny grid, jsonl_events);
- readers of /metrics, openapi.json and the server's error table.

Standard library only.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

SERVER_BIN = None
OPENAPI_PATH = None
TRAINER = None
CORPUS = None
DATA_DIR = None  # the authors' sweeps (--data-dir)
FULL_RUN = False  # every test class runs (not a selection from the command line)

TOKEN = "http-test-token-0123456789abcdef"
WORKER_TOKEN = "worker-test-token-0123456789"

# law-math.md section 2, full precision.
COEF = {
    "vit-jft": dict(a_s=294.389596179, b_s=0.82101251, c_s=468.157382899, b_n=0.39222675,
                    a_d=237412873.842, b_d=0.88979104, c=4.51669257),
    "t5-c4": dict(a_s=16.7870501071, b_s=0.72161276, c_s=45.0184473511, b_n=0.24513173,
                  a_d=689991261.918, b_d=0.20270772, c=0.65074219),
}

# Every error code the tests saw, with its status: checked against the
# server's table and openapi.json at the end.
OBSERVED_ERRORS = {}


def ref_loss(k, s, n, d):
    """The law, independent of the server (law-math.md section 1)."""
    return ((k["a_s"] * (1 - s) ** k["b_s"] + k["c_s"]) * n ** (-k["b_n"])
            + (k["a_d"] / d) ** k["b_d"] + k["c"])


def q(**params):
    return urllib.parse.urlencode(params)


# ---------------------------------------------------------------- processes

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse_log_line(line):
    """One stderr line as the JSON object it must be (NaN and Infinity, which
    Python's json reads, are not JSON); ValueError when it is not."""
    v = json.loads(line, parse_constant=_no_constant)
    if not isinstance(v, dict):
        raise ValueError("not a JSON object")
    return v


class Listener:
    """A process that announces {"event":"listening","port":N} on stderr; its
    stderr lines are collected as they come."""

    def __init__(self, cmd, env, what):
        self.lines = []
        self.lock = threading.Lock()
        self.listening = threading.Event()
        self.port = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.listening.wait(10) or self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("%s did not start: %s" % (what, self.stderr_text()))

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.lines.append(line)
            if self.port is None and '"listening"' in line:
                try:
                    ev = json.loads(line)
                    if ev.get("event") == "listening":
                        self.port = int(ev["port"])
                        self.listening.set()
                except ValueError:
                    pass  # not the announcement; the start fails and shows the line
        self.listening.set()

    def stderr_text(self):
        with self.lock:
            return "\n".join(self.lines)

    def non_json_lines(self):
        """The stderr lines that do not parse as a JSON object (a blank line,
        a sanitizer report and a line cut short among them)."""
        with self.lock:
            lines = list(self.lines)
        bad = []
        for line in lines:
            try:
                parse_log_line(line)
            except ValueError:
                bad.append(line)
        return bad

    def log_entries(self):
        """Every stderr line as a JSON object; a line that is not one fails
        the test that reads the log."""
        with self.lock:
            lines = list(self.lines)
        out = []
        for i, line in enumerate(lines):
            try:
                out.append(parse_log_line(line))
            except ValueError as e:
                raise AssertionError("stderr line %d is not a JSON object (%s): %r"
                                     % (i + 1, e, line[:500])) from None
        return out

    def terminate(self, timeout):
        """SIGTERM, then the exit status; None when it was still running after
        timeout seconds and had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill(self):
        """SIGKILL: no chance to tidy up."""
        self.proc.kill()
        self.proc.wait()
        self.reader.join(5)


def clean_env(extra=None):
    """This environment without SPARSELAW_* settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARSELAW_")}
    env.update(extra or {})
    return env


class Server(Listener):
    """One sparselawd process."""

    def __init__(self, data_dir, token_file=None, args=(), env_extra=None, threads=4):
        self.data_dir = data_dir
        cmd = [SERVER_BIN, "--port", "0", "--bind", "127.0.0.1", "--data-dir", data_dir,
               "--threads", str(threads)]
        if token_file:
            cmd += ["--token-file", token_file]
        super().__init__(cmd + list(args), clean_env(env_extra), "sparselawd")

    def request_lines(self, path=None):
        return [e for e in self.log_entries()
                if "status" in e and "route" in e and (path is None or e.get("path") == path)]

    def connect(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=None, json_body=None):
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        if isinstance(body, str):
            body = body.encode()
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit code."""
        rc = self.terminate(timeout)
        if rc is None:
            rc = "killed after %ss" % timeout
        self.reader.join(5)
        return rc


class Worker(Listener):
    """One `sparselaw-train serve` on TRAINER and CORPUS."""

    def __init__(self, run_dir, max_active=1, env_token=WORKER_TOKEN, args=()):
        env = clean_env({"SPARSELAW_WORKER_TOKEN": env_token} if env_token is not None
                        else None)
        cmd = [TRAINER, "serve", "--port", "0", "--bind", "127.0.0.1", "--dir", run_dir,
               "--corpus", CORPUS, "--max-active", str(max_active)] + list(args)
        super().__init__(cmd, env, "the worker")

    def pid_of(self, run_id, timeout=5):
        """The training child's pid, from the worker's run_started line (the
        reader thread may take a moment to see it)."""
        deadline = time.time() + timeout
        while True:
            with self.lock:
                for line in self.lines:
                    if run_id in line and '"run_started"' in line:
                        return int(json.loads(line)["pid"])
            if time.time() > deadline:
                raise AssertionError("no run_started line for %s" % run_id)
            time.sleep(0.02)

    def request(self, method, path, body=None, token=WORKER_TOKEN, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method)
        if token is not None:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, hdrs, text = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, text = e.code, e.headers, e.read()
        return status, hdrs, json.loads(text) if text else None

    def stop(self, timeout=60):
        """SIGTERM; the exit status."""
        try:
            rc = self.terminate(timeout)
            if rc is None:
                raise AssertionError("the worker did not stop on SIGTERM: %s"
                                     % self.stderr_text())
            return rc
        finally:
            self.reader.join(5)
            self.proc.stderr.close()


def stop_running(*servers):
    """SIGTERM each of servers (None allowed) that still runs: the cleanup of a
    test that may have ended half-way."""
    for s in servers:
        if s and s.proc.poll() is None:
            s.stop()


def new_token_file(directory, token=TOKEN, name="token"):
    """directory/name holding token (the server's by default), owner-only."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid):
    """A running process (not a zombie) with this pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# ---------------------------------------------------------------- the shared server

SHARED = None      # the server most tests of a file talk to (Base.srv)
SHARED_TMP = None  # its directory, removed by stop_shared when owned


def start_shared(tmp, args=(), server_cls=Server, own_tmp=True):
    """Starts the test file's shared server (from its setUpModule) on tmp/data
    with a token file in tmp; stop_shared removes tmp when own_tmp."""
    global SHARED, SHARED_TMP
    SHARED_TMP = tmp if own_tmp else None
    SHARED = server_cls(os.path.join(tmp, "data"), new_token_file(tmp), args=args)
    return SHARED


def stop_shared():
    """Stops the shared server (from tearDownModule): it must exit 0 on
    SIGTERM and have written JSON lines only (a sanitizer report is not)."""
    server, tmp = SHARED, SHARED_TMP
    rc = server.stop() if server else 0
    stray = server.non_json_lines() if server else []
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc != 0:  # a sanitizer's report is among the stray lines
        raise AssertionError("shared server exited with %r on SIGTERM: %s" % (rc, stray[-40:]))
    if stray:
        raise AssertionError("shared server wrote non-JSON lines: %s" % stray[:20])


# ---------------------------------------------------------------- test cases

class Base(unittest.TestCase):
    maxDiff = 4000

    @property
    def srv(self):
        return SHARED

    def ok(self, resp, status=200):
        self.assertEqual(resp.status, status, resp)
        ctype = resp.header("content-type") or ""
        if ctype.startswith("application/json"):
            return resp.json()
        return resp

    def get_json(self, path, status=200, server=None):
        return self.ok((server or self.srv).get(path), status)

    def assert_error(self, resp, status, code, field=None, msg=None):
        """The JSON error shape of DESIGN.md: {"error": {code, message, field?}}."""
        self.assertEqual(resp.status, status, "%s %s" % (msg or "", resp))
        self.assertTrue((resp.header("content-type") or "").startswith("application/json"), resp)
        body = resp.json()
        self.assertEqual(set(body), {"error"}, resp)
        err = body["error"]
        self.assertEqual(err.get("code"), code, "%s %s" % (msg or "", resp))
        self.assertIsInstance(err.get("message"), str)
        self.assertTrue(err["message"], resp)
        if field is not None:
            if isinstance(field, (set, tuple, list)):
                self.assertIn(err.get("field"), field, "%s %s" % (msg or "", resp))
            else:
                self.assertEqual(err.get("field"), field, "%s %s" % (msg or "", resp))
        self.observe_error(code, status)
        return err

    def observe_error(self, code, status):
        prev = OBSERVED_ERRORS.setdefault(code, status)
        self.assertEqual(prev, status, "code %s seen with two statuses" % code)

    def assert_close(self, got, want, tol, msg=None):
        self.assertIsInstance(got, (int, float), msg)
        self.assertLessEqual(abs(got - want), tol, "%s: got %.12g want %.12g (tol %g)"
                             % (msg or "", got, want, tol))

    def assert_rel(self, got, want, rel, msg=None):
        self.assert_close(got, want, rel * abs(want), msg)

    def probe_errors(self, probes):
        """Provokes each error of probes, (status, code, method, path, request
        keywords), on the shared server, so that the observed-error checks
        have observations of their own whichever tests ran before them."""
        for status, code, method, path, kw in probes:
            self.assert_error(self.srv.request(method, path, **kw), status, code,
                              msg="%s %s" % (method, path))

    def assert_observed_errors_match_the_server_table(self, probes):
        """Every error code seen, the probes' among them, has the status of
        the server's table (api/sl_errors.c)."""
        table = error_table_from_source()
        if table is None:
            self.skipTest("api/sl_errors.c not beside openapi.json")
        self.probe_errors(probes)
        self.assertTrue(OBSERVED_ERRORS)
        for code, status in OBSERVED_ERRORS.items():
            self.assertEqual(table.get(code), status, code)


def ndjson(rows):
    """Rows (dicts) as an NDJSON upload body."""
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


class FitServer(Server):
    """A server whose client waits long enough for POST /v1/fits?wait=true
    on a loaded machine."""

    def connect(self, timeout=90):
        return super().connect(timeout)


class FitBase(Base):
    """Uploads of rows and fits that must succeed, on the shared server."""

    def upload_rows(self, rows, name, data_unit="tokens"):
        r = self.srv.request("POST", "/v1/datasets?" + q(name=name, data_unit=data_unit),
                             body=ndjson(rows), headers={"Content-Type": "application/x-ndjson"},
                             token=TOKEN)
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def post_fit(self, body):
        return self.srv.request("POST", "/v1/fits?wait=true", json_body=body, token=TOKEN)

    def fit_ok(self, body):
        r = self.post_fit(body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "succeeded", r)
        return r.json()


# The t5-c4 sweep's conversions (law-math.md section 5): its base (dense)
# parameters and the tokens of a training step.
T5_BASE = 24 * 12 * 768 ** 2    # 169,869,312
T5_TOKENS_PER_STEP = 65536
T5_FILE = "t5-c4-sweep.csv"


def upload_t5_sweep(srv, name):
    """Uploads the authors' t5-c4 sweep (DATA_DIR) as dataset name; its id."""
    with open(os.path.join(DATA_DIR, T5_FILE), "rb") as f:
        body = f.read()
    r = srv.request("POST", "/v1/datasets?" + q(name=name, base_params=T5_BASE,
                                                tokens_per_step=T5_TOKENS_PER_STEP),
                    body=body, headers={"Content-Type": "text/csv"}, token=TOKEN)
    assert r.status == 201, r
    return r.json()["id"]


def fit_t5_sweep(srv, name, law, bootstrap):
    """The t5-c4 sweep uploaded as name and fitted (seed 1) into law, which
    must succeed; the fit."""
    fit = srv.request("POST", "/v1/fits?wait=true",
                      json_body={"dataset": upload_t5_sweep(srv, name), "law": law, "seed": 1,
                                 "bootstrap": bootstrap}, token=TOKEN)
    assert fit.status in (200, 201) and fit.json()["state"] == "succeeded", fit
    return fit.json()


class OwnServers:
    """A mixin for tests that start servers of their own on one temporary
    data directory (restarts, kills): start() them, stop() checks each stops
    cleanly; tearDown kills what is left."""

    server_cls = Server
    tmp_prefix = "sparselaw-own-"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
        self.data = os.path.join(self.tmp, "data")
        self.token_file = new_token_file(self.tmp)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **kw):
        kw.setdefault("token_file", self.token_file)
        s = self.server_cls(self.data, **kw)
        self.servers.append(s)
        return s

    def stop(self, s):
        self.assertEqual(s.stop(), 0, s.stderr_text()[-2000:])
        self.assertEqual(s.non_json_lines(), [])


# ---------------------------------------------------------------- sweeps

# Tiny runs: 1 to 2 layers of width 32 to 48, windows of 32 bytes, a small
# validation set, one thread each.
TRAINER_OPTS = {"context": 32, "batch": 4, "val_tokens": 2048, "threads": 1}
SIZES = [{"layers": 1, "width": 32, "heads": 2}, {"layers": 2, "width": 48, "heads": 2}]
# 8 distinct points: the fewest that identify the law's 7 coefficients.
GRID = {"sizes": SIZES, "sparsities": [0, 0.5], "tokens": [4096, 8192], "seeds": [1]}
ENDED = ("succeeded", "failed", "cancelled")


def sweep_body(law, grid=None, bootstrap=20, **extra):
    # The test grids (8 runs) cannot identify the law's 7 coefficients: publish
    # the unidentified fit anyway, so that the path to a law version runs.
    body = {"law": law, "grid": grid or GRID, "trainer": TRAINER_OPTS,
            "fit": {"bootstrap": bootstrap, "publish": "always"}}
    body.update(extra)
    return body


class SweepBase(Base):
    """Sweeps and runs through the API, and waiting for them."""

    done_timeout = 120  # seconds wait_done waits by default

    def post_sweep(self, body, server=None, status=202):
        r = (server or self.srv).request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
        return self.ok(r, status)

    def sweep(self, sid, server=None):
        return self.ok((server or self.srv).get("/v1/sweeps/%d" % sid, token=TOKEN))

    def run_get(self, rid, server=None):
        return self.ok((server or self.srv).get("/v1/runs/%d" % rid, token=TOKEN))

    def wait_sweep(self, sid, until, server=None, timeout=120):
        deadline = time.time() + timeout
        while True:
            s = self.sweep(sid, server)
            if until(s):
                return s
            if time.time() > deadline:
                self.fail("sweep %d did not get there in %ds: %s" % (sid, timeout,
                                                                    json.dumps(s)[:3000]))
            time.sleep(0.1)

    def assert_no_backend(self, body, server=None):
        """POST /v1/sweeps of body is refused up front: the server lacks its backend."""
        r = (server or self.srv).request("POST", "/v1/sweeps", json_body=body, token=TOKEN)
        self.assert_error(r, 422, "unprocessable", "backend")

    def wait_done(self, sid, server=None, timeout=None):
        return self.wait_sweep(sid, lambda s: s["state"] in ENDED, server,
                               timeout or self.done_timeout)

    def wait_running(self, sid, n=1, server=None, timeout=60):
        """Until n runs are running and have reported progress."""
        return self.wait_sweep(sid, lambda s: sum(1 for r in s["runs"] if r["state"] == "running"
                                                  and r["progress"]) >= n, server, timeout)


# examples/synthetic_trainer.py as a profile's argv: the loss of the t5-c4 law plus seeded noise.
SYNTHETIC_ARGV = ("%s %s --width={width} --layers={layers} --sparsity={sparsity} --tokens={tokens} "
                  "--seed={seed} --devices={devices}"
                  % (sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                  "..", "examples", "synthetic_trainer.py")))


def jsonl_events(path):
    """The "event" of each line of a trainer's JSON-lines log."""
    with open(path) as f:
        return [json.loads(l)["event"] for l in f if l.strip()]


# ---------------------------------------------------------------- /metrics

METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
METRIC_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_metrics(text):
    """Prometheus text into [(name, {label: value}, number)]."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_LINE.match(line)
        if not m:
            raise AssertionError("not Prometheus text: %r" % line)
        labels, rest = {}, m.group(2) or ""
        while rest:
            lm = METRIC_LABEL.match(rest)
            if not lm:
                raise AssertionError("bad labels in %r" % line)
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def metric_sum(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == want for k, want in labels.items()))


# ---------------------------------------------------------------- openapi.json, the error table

def route_to_openapi_path(pattern):
    return re.sub(r"\{(\w+)\*\}", r"{\1}", pattern)


def resolve(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError("external $ref %s" % ref)
        target = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        obj = target
    return obj


def error_table_from_source():
    """The server's error table, read from api/sl_errors.c beside openapi.json."""
    path = os.path.join(os.path.dirname(os.path.abspath(OPENAPI_PATH)), "sl_errors.c")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    table = {code: int(status) for code, status in
             re.findall(r'\]\s*=\s*\{\s*"([a-z_]+)"\s*,\s*(\d+)', text)}
    table.pop("none", None)
    return table


# ---------------------------------------------------------------- running

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_CORPUS = os.path.join(REPO, "data", "tinyshakespeare.txt")


def parser(doc, server=True, trainer=False, corpus=None, data_dir=None):
    """The command line of a test file: --server and --openapi (when server),
    --trainer (required when trainer), --corpus (when corpus says whether it
    is required: True, or its default path), --data-dir (when data_dir says
    what the file needs there; default <repo>/data). doc is the file's
    docstring."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    if server:
        p.add_argument("--server", required=True, help="path to sparselawd")
        p.add_argument("--openapi", required=True, help="path to api/openapi.json")
    if trainer:
        p.add_argument("--trainer", required=True, help="path to sparselaw-train")
    if corpus is True:
        p.add_argument("--corpus", required=True, help="training text")
    elif corpus:
        p.add_argument("--corpus", default=corpus, help="training text (default: %(default)s)")
    if data_dir:
        p.add_argument("--data-dir", default=os.path.join(REPO, "data"),
                       help="%s (default: %%(default)s)" % data_dir)
    return p


def main(classes, p, configure=None):
    """Runs the test file that is __main__: reads the command line p into the
    globals above (and hands it to configure), then runs the tests it names
    after the options, or every test of classes; the exit status."""
    global SERVER_BIN, OPENAPI_PATH, TRAINER, CORPUS, DATA_DIR, FULL_RUN
    args, rest = p.parse_known_args()
    if getattr(args, "server", None):
        SERVER_BIN = os.path.abspath(args.server)
        OPENAPI_PATH = os.path.abspath(args.openapi)
    if getattr(args, "trainer", None):
        TRAINER = os.path.abspath(args.trainer)
    if getattr(args, "corpus", None):
        CORPUS = os.path.abspath(args.corpus)
    if getattr(args, "data_dir", None):
        DATA_DIR = os.path.abspath(args.data_dir)
    FULL_RUN = not rest
    if configure:
        configure(args)
    return run_tests(sys.modules["__main__"], classes, rest)


def run_tests(module, classes, names):
    """Runs the named tests of module (e.g. TestLoss.test_vectors_get), or every
    test of classes when none are named; 0 when all passed."""
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames(names, module)
    else:
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in classes)
    start = time.time()
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    print("ran %d tests in %.1f s" % (result.testsRun, time.time() - start), file=sys.stderr)
    return 0 if result.wasSuccessful() else 1
