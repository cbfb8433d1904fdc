#!/usr/bin/env python3
"""Fault tests of sparselawd's network side: clients that trickle or flood,
long waits, the static files, malformed and refused requests.

    python3 tests/http/test_hardening.py --server build/sparselawd --openapi api/openapi.json

Standard library only; harness.py beside this file starts the servers. The
hostile clients connect from other loopback addresses (127.0.0.2 and up,
all of 127/8 is loopback on Linux) and /healthz is probed from 127.0.0.1,
so the per-address limit refuses them without refusing the probe. Sized to
finish in well under a minute on 2 cores: a few hundred slow connections,
2,000 ordinary ones, deadlines of 2 s instead of the defaults (10 s, 60 s).
"""
import http.client
import json
import math
import os
import random
import resource
import select
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import COEF, TOKEN, Base, OwnServers, ref_loss  # noqa: E402

PROBE_LIMIT = 1.0  # seconds /healthz may take while the server is under attack
PROBE_TIMEOUT = 5.0  # seconds a probe waits for an answer at all
# A probe queued behind a connection flood may take the flood's drain time
# and this much more (a few of the guard's 0.1 s ticks).
FLOOD_SLACK = 0.5
PER_IP_DEFAULT = 64  # --max-connections-per-ip's default


def address(i):
    """A loopback source address other than 127.0.0.1."""
    return "127.0.%d.%d" % (i // 250, 2 + i % 250)


def healthz_seconds(port, timeout=PROBE_TIMEOUT):
    """The time one GET /healthz on a new connection from 127.0.0.1 takes;
    timeout (or more) when it got no answer in time."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=("127.0.0.1", 0))
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise AssertionError("/healthz answered %d" % r.status)
    except OSError:
        return max(timeout, time.monotonic() - start)
    finally:
        conn.close()
    return time.monotonic() - start


class Prober(threading.Thread):
    """Probes /healthz every interval seconds until stopped; the latencies."""

    def __init__(self, port, interval=0.2):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.latencies = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.latencies.append(healthz_seconds(self.port))
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.join(30)
        return self.latencies


def slow_socket(port, source, first=b"GET /healthz HTTP/1.1\r\nHost: x\r\n"):
    """A connection from source that has sent the start of a request."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(first)
    s.setblocking(False)
    return s


def closed_by_server(s):
    """Whether the server has closed s (end of stream or reset); reads and
    drops whatever answer came before."""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def trickle(socks, line=b"X-Slow: 1\r\n"):
    """One more header line on each socket the server has not closed."""
    for s in socks:
        try:
            s.send(line)
        except OSError:
            pass


def raw_exchange(port, data, timeout=3.0, source="127.0.0.1"):
    """Sends data, reads until the server closes or a whole answer is in;
    (status, headers, body, seconds); status None when nothing came in time."""
    start = time.monotonic()
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    raw = b""
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(data)
        while True:
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep:
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:])}
                n = int(headers.get("content-length", -1))
                if 0 <= n <= len(body):
                    return int(lines[0].split()[1]), headers, body[:n], time.monotonic() - start
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    except OSError:
        pass
    finally:
        s.close()
    return None, {}, raw, time.monotonic() - start


def raise_fd_limit(want):
    """Raises this process's open-file limit (servers it starts inherit it)
    to at least want; False when the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return True
    if hard != resource.RLIM_INFINITY and hard < want:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return True


class Hardening(OwnServers, Base):
    tmp_prefix = "sparselaw-hardening-"

    def start(self, args=(), threads=2, **kw):
        return super().start(args=list(args), threads=threads, **kw)

    def assert_probes_fast(self, latencies, what, limit=None):
        limit = PROBE_LIMIT if limit is None else min(limit, PROBE_TIMEOUT)
        print("  %s: %d probes of /healthz, max %.3f s, median %.3f s (limit %.2f s)"
              % (what, len(latencies), max(latencies or [0]),
                 sorted(latencies)[len(latencies) // 2] if latencies else 0, limit),
              file=sys.stderr)
        self.assertGreaterEqual(len(latencies), 5, "too few probes of /healthz")
        slow = [round(t, 3) for t in latencies if t >= limit]
        self.assertEqual(slow, [], "/healthz took %s s during %s (of %d probes)"
                         % (slow, what, len(latencies)))


# ---------------------------------------------------------------- slow clients

class TestSlowClients(Hardening):
    def test_slowloris_from_one_address(self):
        """300 connections from one address, each trickling a header line
        every 0.5 s, against a 200-connection server: the per-address limit
        keeps them to 64 and the header deadline closes those; /healthz
        answers within a second throughout."""
        s = self.start(["--max-connections", "200", "--header-timeout", "2"])
        self.assertTrue(raise_fd_limit(1024), "cannot open 300 sockets")
        prober = Prober(s.port)
        socks = []
        try:
            for _ in range(300):
                socks.append(slow_socket(s.port, "127.0.0.2"))
            prober.start()
            started = time.monotonic()
            held_early = None
            while time.monotonic() - started < 5:
                time.sleep(0.5)
                trickle(socks)
                open_now = [x for x in socks if not closed_by_server(x)]
                if held_early is None:
                    held_early = len(open_now)
            held_late = [x for x in socks if not closed_by_server(x)]
        finally:
            latencies = prober.stop()
            for x in socks:
                x.close()
        print("  300 slow connections: %d held after 0.5 s, %d after 5 s"
              % (held_early, len(held_late)), file=sys.stderr)
        self.assert_probes_fast(latencies, "300 slow connections from one address")
        self.assertLessEqual(held_early, PER_IP_DEFAULT)
        self.assertEqual(len(held_late), 0, "the header deadline closed none")
        closed = [e for e in s.log_entries() if e.get("event") == "connections_closed"]
        self.assertTrue(closed, "no connections_closed line")
        self.assertGreaterEqual(sum(e["header_timeout"] for e in closed), 1)
        self.stop(s)

    def test_slowloris_beyond_the_limit(self):
        """160 trickling connections from 8 addresses (20 each, under the
        per-address limit) against a 100-connection server: near the limit
        headers that trickle are cut after a quarter of a second, so /healthz still
        answers within a second."""
        s = self.start(["--max-connections", "100"])
        prober = Prober(s.port)
        socks = [slow_socket(s.port, address(i % 8)) for i in range(160)]
        try:
            prober.start()
            started = time.monotonic()
            while time.monotonic() - started < 4:
                time.sleep(0.3)
                trickle(socks)
            held = sum(1 for x in socks if not closed_by_server(x))
        finally:
            latencies = prober.stop()
            for x in socks:
                x.close()
        print("  160 slow connections beyond the limit: %d held after 4 s" % held,
              file=sys.stderr)
        self.assert_probes_fast(latencies, "160 slow connections on a 100-connection server")
        self.assertLess(held, 90, "still at the limit")  # below it, --header-timeout applies
        self.stop(s)

    def test_header_deadline_from_many_addresses(self):
        """60 connections from 6 addresses (under the per-address limit)
        trickle their headers: each is closed once --header-timeout has
        passed, however often it sends; a kept-alive connection that then
        trickles its next request is closed the same way, while one that
        only idles stays usable past the header deadline."""
        s = self.start(["--header-timeout", "2"])
        socks = [slow_socket(s.port, address(i % 6)) for i in range(60)]
        # a kept-alive connection: one quick request, then the next trickled
        keep = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        keep.request("GET", "/healthz")
        r = keep.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        keep.sock.send(b"GET /healthz HTTP/1.1\r\n")
        keep.sock.setblocking(False)
        idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        idle.request("GET", "/healthz")
        idle.getresponse().read()
        socks.append(keep.sock)
        started = time.monotonic()
        early = None
        try:
            while time.monotonic() - started < 4:
                time.sleep(0.3)
                trickle(socks)
                if early is None and time.monotonic() - started > 1.2:
                    early = sum(1 for x in socks if not closed_by_server(x))
            late = sum(1 for x in socks if not closed_by_server(x))
        finally:
            for x in socks:
                x.close()
        print("  61 trickling connections: %d open after 1.2 s, %d after 4 s" % (early, late),
              file=sys.stderr)
        self.assertEqual(early, 61, "closed before the header deadline")
        self.assertEqual(late, 0, "open after the header deadline")
        # the idle one: 4 s idle, past the 2 s header deadline, still serves
        idle.request("GET", "/healthz")
        r = idle.getresponse()
        self.assertEqual(r.status, 200)
        r.read()
        idle.close()
        self.stop(s)

    def test_body_deadline(self):
        """A body trickled a byte every 0.3 s is cut at --body-timeout."""
        s = self.start(["--body-timeout", "2"])
        head = (b"POST /v1/laws/t5-c4/loss HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        sock = slow_socket(s.port, "127.0.0.2", head)
        started = time.monotonic()
        try:
            while not closed_by_server(sock) and time.monotonic() - started < 6:
                time.sleep(0.3)
                trickle([sock], b" ")
            took = time.monotonic() - started
        finally:
            sock.close()
        print("  trickled body closed after %.2f s" % took, file=sys.stderr)
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 4, "the body deadline did not close the connection")
        self.stop(s)


# ---------------------------------------------------------------- floods

class TestFlood(Hardening):
    CONNECTIONS = 2000
    ADDRESSES = 40  # 50 connections each, under the per-address limit

    def test_connection_flood(self):
        """2,000 ordinary clients at once, from 40 addresses, each sending
        GET /healthz and keeping its connection open, against the default
        limit of 1,000 connections: idle kept-alive connections are closed
        first, so at least the limit's worth of clients are answered, and none
        is left hanging (a client over the limit at its moment is turned away,
        its connection closed: how many depends on the machine's speed).
        The probe is served in its turn: a probe that connects behind the
        flood waits in the kernel's accept queue (first come, first served)
        for the clients ahead of it, so its bound is the flood's own drain
        time, however fast the machine, plus FLOOD_SLACK; it is never refused
        or left without an answer."""
        with open("/proc/sys/net/core/somaxconn") as f:
            backlog = int(f.read())
        if backlog < self.CONNECTIONS:
            self.skipTest("net.core.somaxconn is %d: the kernel drops connections beyond it"
                          % backlog)
        if not raise_fd_limit(self.CONNECTIONS + 1200):
            self.skipTest("the open-file limit is below %d" % (self.CONNECTIONS + 1200))
        s = self.start()
        prober = Prober(s.port)
        prober.start()
        started = time.monotonic()
        answered, times, socks, hanging = self.flood(s.port)
        try:
            # the clients keep their connections for 3 s at least, the probe
            # goes on past the flood's last answer
            drained = max(times or [0])
            time.sleep(max(0.0, max(3, drained + 1.5) - (time.monotonic() - started)))
        finally:
            latencies = prober.stop()
            for x in socks:
                x.close()
        print("  %d connections: %d answered, the last after %.2f s (median %.2f s); "
              "%d turned away, %d hanging"
              % (self.CONNECTIONS, answered, max(times or [0]),
                 sorted(times)[len(times) // 2] if times else 0,
                 self.CONNECTIONS - answered - hanging, hanging), file=sys.stderr)
        self.assert_probes_fast(latencies, "a flood of %d connections" % self.CONNECTIONS,
                                limit=max(PROBE_LIMIT, drained + FLOOD_SLACK))
        self.assertEqual(hanging, 0, "clients neither answered nor turned away")
        self.assertGreaterEqual(answered, 1000)  # the default --max-connections
        self.stop(s)

    def flood(self, port, limit=25.0):
        """Opens CONNECTIONS non-blocking connections, each sends GET /healthz
        and keeps the connection; (how many got a 200, their times, the
        sockets for the caller to close, how many had neither an answer nor
        a close after limit seconds)."""
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        start = time.monotonic()
        pending = {}
        poller = select.epoll()
        for i in range(self.CONNECTIONS):
            s = socket.socket()
            s.setblocking(False)
            s.bind((address(10 + i % self.ADDRESSES), 0))
            s.connect_ex(("127.0.0.1", port))
            pending[s.fileno()] = [s, b"", False]
            poller.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
        times, socks = [], [v[0] for v in pending.values()]
        try:
            while pending and time.monotonic() - start < limit:
                for fd, ev in poller.poll(0.2):
                    entry = pending.get(fd)
                    if entry is None:
                        continue
                    s = entry[0]
                    if ev & select.EPOLLOUT and not entry[2]:
                        try:
                            s.send(request)
                            entry[2] = True
                            poller.modify(fd, select.EPOLLIN)
                        except OSError:
                            pass
                        continue
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    entry[1] += data
                    if b"\r\n\r\n" in entry[1] and entry[1].endswith(b"}\n"):
                        if entry[1].startswith(b"HTTP/1.1 200"):
                            times.append(time.monotonic() - start)
                        poller.unregister(fd)
                        del pending[fd]  # the connection stays open
                    elif not data:  # closed before an answer
                        poller.unregister(fd)
                        del pending[fd]
        finally:
            poller.close()
        return len(times), times, socks, len(pending)


# ---------------------------------------------------------------- ?wait=true

def synthetic_ndjson(seed=51):
    """80 rows of the t5-c4 law with noise (as tests/http/test_fits.py)."""
    rng = random.Random(seed)
    rows = []
    for sp in (0.0, 0.5, 0.75, 0.875):
        for n in (1e7, 3e7, 1e8, 3e8, 1e9):
            for d in (1e9, 1e10, 1e11, 1e12):
                y = ref_loss(COEF["t5-c4"], sp, n, d) * math.exp(rng.gauss(0.0, 0.005))
                rows.append({"sparsity": sp, "nonzeros": n, "data": d, "loss": y})
    return "".join(json.dumps(r) + "\n" for r in rows)


class TestWait(Hardening):
    def test_waits_do_not_hold_http_threads(self):
        """With --threads 2, two clients waiting on ?wait=true for long fits
        leave /healthz answering at once; each waiter gets its 202 (the fit
        still queued or running) when --fit-wait-ms runs out."""
        s = self.start(["--fit-wait-ms", "4000"])
        r = s.request("POST", "/v1/datasets?name=slow", body=synthetic_ndjson(),
                      headers={"Content-Type": "application/x-ndjson"}, token=TOKEN)
        self.assertEqual(r.status, 201, r)
        ds = r.json()["id"]
        out = []

        def waiter(name):
            body = {"dataset": ds, "law": name, "loss": {"delta": 0.01, "residuals": "log"},
                    "bootstrap": 10000}
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            sent = time.monotonic()
            try:
                conn.request("POST", "/v1/fits?wait=true", body=json.dumps(body),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer " + TOKEN})
                resp = conn.getresponse()
                out.append((resp.status, json.loads(resp.read()), time.monotonic() - sent))
            except OSError as e:
                out.append((None, str(e), time.monotonic() - sent))
            finally:
                conn.close()

        threads = []
        for name in ("slow-a", "slow-b"):
            t = threading.Thread(target=waiter, args=(name,), daemon=True)
            t.start()
            threads.append(t)
            time.sleep(0.3)  # each waiter on its own HTTP thread, as it would block one
        latencies = []
        while len(latencies) < 10:
            latencies.append(healthz_seconds(s.port))
            time.sleep(0.1)
        for t in threads:
            t.join(30)
        print("  the waiters: %s" % ", ".join("%s (%s) after %.2f s"
                                              % (st, b.get("status") if isinstance(b, dict)
                                                 else b, took) for st, b, took in out),
              file=sys.stderr)
        self.assert_probes_fast(latencies, "two ?wait=true on 2 HTTP threads")
        self.assertEqual(len(out), 2, out)
        for status, body, took in out:
            self.assertIn(status, (200, 202), body)
            if status == 202:
                self.assertIn(body["status"], ("queued", "running"))
                self.assertGreater(took, 3.5)
            else:
                self.assertIn(body["status"], ("succeeded", "failed"))
            self.assertLess(took, 8)
        self.stop(s)


# ---------------------------------------------------------------- one shared server

STATIC_INDEX = b"<!doctype html><title>hardening</title>\n"


def setUpModule():
    tmp = tempfile.mkdtemp(prefix="sparselaw-hardening-")
    static = os.path.join(tmp, "static")
    outside = os.path.join(tmp, "outside")
    for d in (os.path.join(static, "sub"), os.path.join(static, ".git"), outside):
        os.makedirs(d)
    files = {"index.html": STATIC_INDEX, "app.js": b"1;\n", "sub/index.html": b"sub\n",
             ".env": b"SECRET=1\n", ".git/config": b"[core]\n", "sub/.hidden": b"h\n",
             "../outside/secret.txt": b"outside\n"}
    for name, data in files.items():
        with open(os.path.join(static, name), "wb") as f:
            f.write(data)
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(static, "out.txt"))
    os.symlink(outside, os.path.join(static, "outdir"))
    os.symlink("app.js", os.path.join(static, "alias.js"))
    os.mkfifo(os.path.join(static, "fifo.js"))
    harness.start_shared(tmp, args=["--static-dir", static, "--threads", "2"])


def tearDownModule():
    harness.stop_shared()


class TestStatic(Base):
    def test_only_regular_files_under_the_dir(self):
        for path in ("/", "/index.html", "/app.js", "/sub", "/sub/"):
            self.assertEqual(self.srv.get(path).status, 200, path)
        for path in ("/.env", "/.git/config", "/.git/", "/sub/.hidden", "/%2eenv",
                     "/out.txt", "/outdir/secret.txt", "/alias.js", "/fifo.js",
                     "/sub/../.env", "/app.js/", "/sub//index.html"):
            r = self.srv.get(path)
            self.assert_error(r, 404, "not_found", msg=path)
            self.assertNotIn(b"SECRET", r.body)
            self.assertNotIn(b"outside", r.body)


class TestMalformed(Base):
    def test_http11_without_host_is_400(self):
        status, headers, body, _ = raw_exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\n\r\n")
        self.assertEqual(status, 400, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        err = json.loads(body)["error"]
        self.assertEqual((err["code"], err["field"]), ("missing_parameter", "Host"))
        status, _, body, _ = raw_exchange(self.srv.port, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(status, 200, body)  # HTTP/1.0 has no Host requirement
        status, _, body, _ = raw_exchange(self.srv.port,
                                          b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 200, body)

    def test_refused_bodies_are_not_read(self):
        """Headers that announce a large body, and no body: the refusal comes
        at once, without waiting for the body."""
        big = b"Content-Length: 5000000\r\n"
        auth = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
        cases = [
            (401, b"POST /v1/datasets?name=x", b""),
            (403, b"POST /v1/datasets?name=x", b"Authorization: Bearer wrong\r\n"),
            (415, b"PUT /v1/laws/mine", auth + b"Content-Type: text/plain\r\n"),
            (405, b"PUT /v1/datasets", auth),
            (404, b"POST /v1/nothing", b""),
            (400, b"POST /v1/datasets?nope=1", auth),
            (413, b"POST /v1/datasets?name=x", auth + b"Content-Length: 99999999999\r\n"),
        ]
        for status, line, extra in cases:
            length = big if b"Content-Length" not in extra else b""
            data = line + b" HTTP/1.1\r\nHost: x\r\n" + extra + length + b"\r\n"
            got, _, body, took = raw_exchange(self.srv.port, data, timeout=3)
            self.assertEqual(got, status, "%s: %r" % (line, body[:200]))
            self.assertLess(took, 1.0, line)
            json.loads(body)


TEST_CLASSES = [TestStatic, TestMalformed, TestSlowClients, TestFlood, TestWait]

def configure(args):
    # A sanitizer build runs several times slower. There what is checked is
    # that /healthz is answered throughout (within the probes' timeout); the
    # 1 s bound is the promise of the optimized build, checked in its own run.
    global PROBE_LIMIT
    if args.sanitized:
        PROBE_LIMIT = PROBE_TIMEOUT


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--sanitized", action="store_true",
                        help="the server is an ASan/UBSan build (see configure)")
    sys.exit(harness.main(TEST_CLASSES, parser, configure))
