#!/usr/bin/env python3
"""Fault tests of sparselawd: what it promises when things go wrong.

    python3 tests/http/test_faults.py --server build/sparselawd --openapi api/openapi.json \
        --trainer build/sparselaw-train [--corpus data/tinyshakespeare.txt]

- kill -9 during four concurrent writers (law versions and uploads), a few
  rounds: after each restart every acknowledged (2xx) write is there, every
  refused one left nothing, and PRAGMA integrity_check is ok;
- a full disk (a 2 MiB tmpfs, where the test may mount one): writes are
  refused with nothing stored, and the server starts again on it;
- a read-only database: the server starts, serves reads and refuses writes;
- a damaged database page: the server refuses to start on it, and /healthz
  of a running server reports damage that appears under it (500);
- text that is not UTF-8 is refused naming the field, and a name stored by
  an older server is still listed and read back;
- a grid of 98,304 points is refused from its sizes, in well under a second;
- reading a large dataset back takes bounded memory;
- smaller refusals: duplicate patterns, a report for an unknown run, curves
  of a law whose default range cannot be drawn, a patterns-only sweep sent
  again as the server returned it.

Standard library only (sqlite3 reads the store from outside). The server and
its helpers come from harness.py beside this file. Each test prints its
figures on stderr ("figures: ...").
"""
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import COEF, TOKEN, Base, OwnServers, q  # noqa: E402

CSV_HEAD = "sparsity,nonzeros,data,loss\n"


def csv_rows(n, tag=0):
    """n valid rows; tag makes the losses of one upload its own."""
    lines = ["%g,%g,%g,%.9g" % ((i % 8) / 10, 1e6 * (1 + i % 13), 1e9 * (1 + i % 7),
                               2 + tag * 1e-6 + i * 1e-9) for i in range(n)]
    return CSV_HEAD + "\n".join(lines) + "\n"


def law_body(description):
    return {"coefficients": dict(COEF["t5-c4"]), "units": {"data": "tokens"},
            "description": description, "source": {"reference": "test_faults"}}


def db_path(data_dir):
    return os.path.join(data_dir, "sparselaw.db")


def integrity(data_dir):
    """PRAGMA integrity_check of the store, read from outside the server."""
    db = sqlite3.connect("file:%s?mode=ro" % db_path(data_dir), uri=True, timeout=30)
    try:
        return [r[0] for r in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


def figures(text):
    print("figures: " + text, file=sys.stderr, flush=True)


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def datasets(srv):
    r = srv.get("/v1/datasets", token=TOKEN)
    if r.status != 200:
        raise AssertionError("GET /v1/datasets: %r" % r)
    return r.json()["datasets"]


def upload(srv, body, name, token=TOKEN, raw_name=False):
    path = "/v1/datasets?name=" + (name if raw_name else q(n=name)[2:])
    return srv.request("POST", path, body=body, headers={"Content-Type": "text/csv"},
                       token=token)


# ---------------------------------------------------------------- kill -9

class TestKill9(OwnServers, Base):
    tmp_prefix = "sparselaw-faults-kill-"
    WRITERS = 4
    ROUNDS = 3

    def writer(self, srv, rnd, w, stop, acked, refused, errors):
        """Writes until the server dies: law versions, uploads and, every
        seventh write, an upload the server must refuse."""
        k = 0
        while not stop.is_set():
            k += 1
            try:
                if k % 7 == 0:
                    r = upload(srv, csv_rows(5, w), "bad-%d-%d-%d-%%ff" % (rnd, w, k),
                               raw_name=True)
                    refused.append((r.status, "bad-%d-%d-%d" % (rnd, w, k)))
                elif k % 3 == 0:
                    name = "r%d-w%d-k%d" % (rnd, w, k)
                    rows = 20 + k % 30
                    r = upload(srv, csv_rows(rows, w * 1000 + k), name)
                    if r.status == 201:
                        acked.append(("dataset", r.json()["id"], name, rows))
                    else:
                        errors.append(r)
                else:
                    name, desc = "fault-r%d-w%d" % (rnd, w), "r%d-w%d-k%d" % (rnd, w, k)
                    r = srv.request("PUT", "/v1/laws/" + name, json_body=law_body(desc),
                                    token=TOKEN)
                    if r.status in (200, 201):
                        acked.append(("law", name, r.json()["version"], desc))
                    else:
                        errors.append(r)
            except (OSError, ValueError, harness.http.client.HTTPException):
                return  # the server is gone: this write's fate is unknown

    def test_kill9_during_concurrent_writes_loses_no_acknowledged_write(self):
        t0 = time.time()
        total = lost = extra = 0
        kinds = {"law": 0, "dataset": 0}
        kept = set()  # the uploads earlier rounds left
        for rnd in range(self.ROUNDS):
            srv = self.start()
            stop = threading.Event()
            acked, refused, errors = [], [], []
            threads = [threading.Thread(target=self.writer,
                                        args=(srv, rnd, w, stop, acked, refused, errors))
                       for w in range(self.WRITERS)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(0.8, 1.6))
            srv.kill()
            stop.set()
            for t in threads:
                t.join(30)
            self.assertEqual(errors, [], "writes refused while the server ran")
            self.assertTrue(acked, "no write was acknowledged before the kill")
            srv = self.start()
            # every acknowledged write is there, as it was acknowledged
            for kind, *rest in acked:
                kinds[kind] += 1
                if kind == "law":
                    name, version, desc = rest
                    r = srv.get("/v1/laws/%s?version=%d" % (name, version))
                    if r.status != 200 or r.json()["description"] != desc:
                        lost += 1
                else:
                    did, name, rows = rest
                    r = srv.get("/v1/datasets/%d" % did, token=TOKEN)
                    if r.status != 200 or r.json()["name"] != name or \
                            len(r.json()["records"]) != rows:
                        lost += 1
            total += len(acked)
            # the list holds the acknowledged uploads and at most one in
            # flight per writer when the server died; nothing refused
            listed = datasets(srv)
            ids = {d["id"] for d in listed}
            want = kept | {a[1] for a in acked if a[0] == "dataset"}
            self.assertEqual(want - ids, set(), "acknowledged uploads missing from the list")
            self.assertLessEqual(len(ids - want), self.WRITERS, sorted(ids - want))
            extra += len(ids - want)
            kept = ids
            self.assertEqual([s for s, _ in refused if s != 400], [],
                             "a bad name was not refused with 400")
            self.assertFalse([d for d in listed if d["name"].startswith("bad-")], listed)
            self.assertEqual(integrity(self.data), ["ok"])
            self.ok(srv.get("/healthz"))
            self.stop(srv)
            # the next round starts on what this one left
        self.assertEqual(lost, 0)
        figures("kill -9: %d rounds x %d writers, %d acknowledged writes (%d law versions, %d "
                "uploads), %d lost, %d unacknowledged but kept, integrity ok, %.1f s"
                % (self.ROUNDS, self.WRITERS, total, kinds["law"], kinds["dataset"], lost, extra,
                   time.time() - t0))


# ---------------------------------------------------------------- a full disk

class TestFullDisk(OwnServers, Base):
    tmp_prefix = "sparselaw-faults-disk-"

    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.tmp, "small")
        os.makedirs(self.mnt)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.mnt],
                             capture_output=True, text=True)
        if out.returncode != 0:
            why = (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[0]
            self.skipTest("cannot mount a 2 MiB tmpfs here (it needs root): %s" % why)
        self.data = os.path.join(self.mnt, "data")

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.kill()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        super().tearDown()

    def fill(self):
        """Writes a filler file until the disk is full."""
        path = os.path.join(self.mnt, "filler")
        with open(path, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        return path

    def test_refuses_writes_and_starts_again_on_a_full_disk(self):
        t0 = time.time()
        reserve = os.path.join(self.mnt, "reserve")
        with open(reserve, "wb") as f:  # given back at the end: room for writes again
            f.write(b"\0" * (256 << 10))
        srv = self.start()
        acked = []
        body = csv_rows(400)
        refused = None
        for i in range(200):
            r = upload(srv, body, "fill-%d" % i)
            if r.status != 201:
                refused = r
                break
            acked.append(r.json()["id"])
        self.assertIsNotNone(refused, "2 MiB never filled")
        self.assert_error(refused, 500, "internal")
        self.fill()
        # nothing more fits, but a write may still land in room SQLite holds
        # already: each is acknowledged and kept, or refused and changes nothing
        laws, late_refused = {}, 0
        for i in range(6):
            r = upload(srv, body, "late-%d" % i)
            if r.status == 201:
                acked.append(r.json()["id"])
            else:
                self.assert_error(r, 500, "internal")
                late_refused += 1
            r = srv.request("PUT", "/v1/laws/late", json_body=law_body("late-%d" % i),
                            token=TOKEN)
            if r.status in (200, 201):
                laws[r.json()["version"]] = "late-%d" % i
            else:
                self.assert_error(r, 500, "internal")
                late_refused += 1
        listed = [d["id"] for d in datasets(srv)]
        self.assertEqual(listed, acked)
        srv.kill()  # a crash on a full disk
        starts = 0
        for _ in range(2):  # after the crash, and after a clean stop on the full disk
            srv = self.start()
            starts += 1
            self.ok(srv.get("/healthz"))
            listed = [d["id"] for d in datasets(srv)]
            self.assertEqual(listed, acked)
            for did in acked[:3] + acked[-3:]:
                r = self.ok(srv.get("/v1/datasets/%d" % did, token=TOKEN))
                self.assertEqual(len(r["records"]), 400)
            listed = self.ok(srv.get("/v1/laws/late/versions"), 200 if laws else 404)
            if laws:
                self.assertEqual({v["version"]: v["description"] for v in listed["versions"]},
                                 laws)
            self.assertEqual(srv.stop(), 0)  # its checkpoint cannot complete: still exit 0
        os.unlink(os.path.join(self.mnt, "filler"))
        os.unlink(reserve)
        srv = self.start()
        r = upload(srv, csv_rows(10), "room again")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(integrity(self.data), ["ok"])
        self.stop(srv)
        figures("full disk: %d uploads of 400 rows kept on a 2 MiB tmpfs; once full %d of 12 "
                "writes refused with 500 and nothing stored (the rest kept), %d restarts on the "
                "full disk (after kill -9, after SIGTERM), writes again once space was freed, "
                "%.1f s" % (len(acked), late_refused, starts, time.time() - t0))


# ---------------------------------------------------------------- a read-only database

class ServerAs(harness.Server):
    """sparselawd started through a command prefix (setpriv: as another user)."""

    def __init__(self, prefix, data_dir, token_file):
        self.data_dir = data_dir
        cmd = prefix + [harness.SERVER_BIN, "--port", "0", "--bind", "127.0.0.1", "--data-dir",
                        data_dir, "--token-file", token_file, "--threads", "2"]
        harness.Listener.__init__(self, cmd, harness.clean_env(), "sparselawd")


class TestReadOnly(OwnServers, Base):
    tmp_prefix = "sparselaw-faults-ro-"

    def test_a_read_only_database_serves_reads(self):
        srv = self.start()
        self.assertEqual(srv.request("PUT", "/v1/laws/kept", json_body=law_body("kept"),
                                     token=TOKEN).status, 201)
        self.stop(srv)
        os.chmod(db_path(self.data), 0o444)
        prefix = []
        if os.geteuid() == 0:  # root writes whatever the mode: run as nobody
            if not shutil.which("setpriv"):
                self.skipTest("running as root without setpriv to drop to nobody")
            subprocess.run(["chown", "-R", "nobody", self.tmp], check=True)
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        srv = ServerAs(prefix, self.data, self.token_file)
        self.servers.append(srv)
        self.assertEqual(self.ok(srv.request("GET", "/v1/laws/kept"))["description"], "kept")
        self.ok(srv.request("GET", "/healthz"))
        self.assert_error(srv.request("PUT", "/v1/laws/kept", json_body=law_body("again"),
                                      token=TOKEN), 500, "internal")
        time.sleep(1)  # the fit workers and the runner poll meanwhile: they claim nothing
        events = [e.get("event") for e in srv.log_entries()]
        self.assertIn("read_only_store", events)
        self.assertLessEqual(events.count("sqlite"), 2, srv.stderr_text())  # the refused PUT's
        self.assertEqual(srv.stop(), 0)


# ---------------------------------------------------------------- a damaged page

class TestCorruption(OwnServers, Base):
    tmp_prefix = "sparselaw-faults-corrupt-"

    def damage(self, page):
        """Overwrites one database page with garbage, as a failing disk might."""
        db = sqlite3.connect("file:%s?mode=ro" % db_path(self.data), uri=True)
        size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        with open(db_path(self.data), "r+b") as f:
            f.seek((page - 1) * size)
            f.write(bytes(random.Random(page).getrandbits(8) for _ in range(size)))

    def pages(self):
        db = sqlite3.connect("file:%s?mode=ro" % db_path(self.data), uri=True)
        try:
            count = db.execute("PRAGMA page_count").fetchone()[0]
            root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'law_versions'"
                              ).fetchone()[0]
        finally:
            db.close()
        return count, root

    def test_a_damaged_page_stops_the_start(self):
        srv = self.start()
        r = upload(srv, csv_rows(20000), "big")
        self.assertEqual(r.status, 201, r)
        self.stop(srv)  # checkpointed: every page is in the database file
        count, _ = self.pages()
        self.damage(count // 2)  # a page of the dataset's rows
        t0 = time.time()
        try:
            srv = self.start()
        except RuntimeError as e:  # it would not start: it must say why
            self.assertIn("damaged", str(e))
            figures("damaged page: page %d of %d refused at start in %.2f s"
                    % (count // 2, count, time.time() - t0))
            return
        h = srv.get("/healthz")
        self.assertEqual(h.status, 500, "a damaged database is reported healthy: %r" % h)

    def test_healthz_reports_damage_under_a_running_server(self):
        srv = self.start()
        self.assertEqual(srv.request("PUT", "/v1/laws/kept", json_body=law_body("kept"),
                                     token=TOKEN).status, 201)
        self.stop(srv)
        srv = self.start()
        self.assertEqual(self.get_json("/healthz", server=srv)["status"], "ok")
        count, root = self.pages()
        self.damage(root)  # the law versions' page
        t0 = time.time()
        h = srv.get("/healthz")
        took = time.time() - t0
        self.assert_error(h, 500, "internal")
        self.assertIn("damaged", h.json()["error"]["message"])
        srv.kill()
        figures("damaged page under a running server: /healthz 500 naming the damage in %.3f s" % took)


# ---------------------------------------------------------------- UTF-8

class TestUtf8(OwnServers, Base):
    tmp_prefix = "sparselaw-faults-utf8-"

    BAD = ["%ff", "%c3%28", "ok%80", "%ed%a0%80", "%c0%af", "%f4%90%80%80", "a%e2%82"]

    def test_names_that_are_not_utf8_are_refused_and_change_nothing(self):
        srv = self.start()
        first = upload(srv, csv_rows(3), "first")
        self.assertEqual(first.status, 201)
        for name in self.BAD:
            r = upload(srv, csv_rows(3), name, raw_name=True)
            self.assert_error(r, 400, "invalid_parameter", "name", msg=name)
        good = upload(srv, csv_rows(3), "café ✓ 日本")
        self.assertEqual(good.status, 201, good)
        self.assertEqual(good.json()["name"], "café ✓ 日本")
        listed = datasets(srv)
        self.assertEqual([d["name"] for d in listed], ["first", "café ✓ 日本"])
        for d in listed:
            self.assertEqual(self.ok(srv.get("/v1/datasets/%d" % d["id"], token=TOKEN))["name"],
                             d["name"])
        # a run_id that is not UTF-8 in an upload is refused too
        body = (CSV_HEAD[:-1] + ",run_id\n0.5,1e6,1e9,2,r\xff1\n").encode("latin-1")
        r = srv.request("POST", "/v1/datasets?name=x", body=body,
                        headers={"Content-Type": "text/csv"}, token=TOKEN)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(len(datasets(srv)), 2)
        self.stop(srv)

    def test_a_stored_name_that_is_not_utf8_is_still_listed_and_read(self):
        srv = self.start()
        ids = [upload(srv, csv_rows(3), "n%d" % i).json()["id"] for i in range(3)]
        self.stop(srv)
        # as an older server let it in
        db = sqlite3.connect(db_path(self.data))
        db.execute("UPDATE datasets SET name = CAST(X'ff41c328' AS TEXT) WHERE id = ?",
                   (ids[1],))
        db.commit()
        db.close()
        srv = self.start()
        listed = datasets(srv)
        self.assertEqual([d["id"] for d in listed], ids)
        r = self.ok(srv.get("/v1/datasets/%d" % ids[1], token=TOKEN))
        self.assertEqual(len(r["records"]), 3)
        self.assertEqual(r["name"], listed[1]["name"])
        r = srv.request("POST", "/v1/datasets/%d/rows" % ids[1], body=csv_rows(2),
                        headers={"Content-Type": "text/csv"}, token=TOKEN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["rows"], 5)
        self.stop(srv)


# ---------------------------------------------------------------- sweeps, queries, reports

def big_grid(seeds):
    """32 sizes x (32 sparsities + 16 patterns) x 32 token counts x seeds."""
    pats = ["1:2", "1:4", "3:4", "1:8", "3:8", "5:8", "7:8", "1:16", "3:16", "5:16", "7:16",
            "9:16", "11:16", "13:16", "15:16", "1:32"]
    return {"sizes": [{"layers": 1, "width": 64 * (i + 1), "heads": 2} for i in range(32)],
            "sparsities": [i / 40 for i in range(32)], "patterns": pats,
            "tokens": [4096 + i for i in range(32)], "seeds": list(range(seeds))}


class TestRefusals(Base):
    def test_a_huge_grid_is_refused_from_its_sizes(self):
        for seeds in (2, 8):
            body = {"law": "calib-huge", "grid": big_grid(seeds)}
            t0 = time.time()
            conn = self.srv.connect(timeout=5)
            try:
                conn.request("POST", "/v1/sweeps", body=json.dumps(body),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer " + TOKEN})
                resp = conn.getresponse()
                r = harness.Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                                     resp.read())
            finally:
                conn.close()
            took = time.time() - t0
            err = self.assert_error(r, 400, "invalid_body", "grid")
            self.assertIn("%d" % (32 * 48 * 32 * seeds), err["message"])
            self.assertLess(took, 0.5)
            figures("grid of %d points (%d bytes) refused in %.3f s"
                    % (32 * 48 * 32 * seeds, len(json.dumps(body)), took))
        self.ok(self.srv.get("/healthz"))

    def test_duplicate_patterns_are_refused(self):
        base = "/v1/laws/t5-c4/optimal-sparsity?" + q(nonzeros=1e8, data=2e12)
        for pats in ("2:4,2:4", "2:4,1:4,02:04"):
            self.assert_error(self.srv.get(base + "&patterns=" + pats), 400,
                              "invalid_parameter", "patterns", msg=pats)
        self.ok(self.srv.get(base + "&patterns=2:4,1:2"))  # the same sparsity, two patterns

    def test_a_report_for_an_unknown_run_says_no_more_than_for_a_known_one(self):
        for rid in (999999, 1):
            r = self.srv.request("POST", "/v1/runs/%d/report" % rid, json_body={"status": "x"},
                                 headers={"Authorization": "Bearer " + "0" * 64})
            self.assert_error(r, 403, "forbidden")
            r = self.srv.request("POST", "/v1/runs/%d/report" % rid, json_body={"status": "x"})
            self.assert_error(r, 401, "unauthorized")

    def test_curves_of_a_law_with_no_drawable_default_range(self):
        coef = dict(COEF["t5-c4"], b_d=1e-3)
        body = {"coefficients": coef, "units": {"data": "tokens"}, "description": "extreme"}
        self.assertIn(self.srv.request("PUT", "/v1/laws/extreme", json_body=body,
                                       token=TOKEN).status, (200, 201))
        for path in ("/v1/laws/extreme/curves/loss-vs-data?" + q(nonzeros=1e8),
                     "/v1/laws/extreme/curves/optimal-sparsity",
                     "/v1/laws/extreme/curves/optimal-sparsity?" + q(nonzeros="1e8,1e9")):
            err = self.assert_error(self.srv.get(path), 422, "unprocessable", msg=path)
            self.assertIn("law 'extreme' has no default", err["message"], path)
            self.assertNotIn("field", err, path)
        # with a range of its own the client gets its curve
        self.ok(self.srv.get("/v1/laws/extreme/curves/loss-vs-data?" +
                             q(nonzeros=1e8, data_min=1e9, data_max=1e12)))
        # one bound of the client's makes a range against the law's clamped default
        self.ok(self.srv.get("/v1/laws/extreme/curves/optimal-sparsity?" + q(data_max=1e12)))
        # a range the client sent wrong is still the client's 400
        self.assert_error(self.srv.get("/v1/laws/extreme/curves/loss-vs-data?" +
                                       q(nonzeros=1e8, data_min=1e12, data_max=1e9)), 400,
                          "invalid_parameter", "data_min")

    def test_a_patterns_only_sweep_can_be_sent_again_as_returned(self):
        grid = {"sizes": [{"layers": 1, "width": 32, "heads": 2}], "patterns": ["2:4"],
                "tokens": [4096]}
        first = self.ok(self.srv.request("POST", "/v1/sweeps", token=TOKEN,
                                         json_body=harness.sweep_body("calib-pat", grid)), 202)
        self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % first["id"], token=TOKEN))
        again = self.ok(self.srv.request("POST", "/v1/sweeps", token=TOKEN,
                                         json_body=first["request"]), 202)
        self.assertEqual(again["request"], first["request"])
        self.assertEqual(again["counts"]["total"], 1)
        self.ok(self.srv.request("DELETE", "/v1/sweeps/%d" % again["id"], token=TOKEN))


# ---------------------------------------------------------------- large answers

class TestLargeRead(OwnServers, Base):
    tmp_prefix = "sparselaw-faults-large-"
    ROWS = 200000

    def test_a_large_dataset_is_read_back_in_bounded_memory(self):
        # Built with AddressSanitizer, freed memory waits in a quarantine
        # that would count as growth: none for this server.
        asan = os.environ.get("ASAN_OPTIONS", "")
        srv = self.start(env_extra={"ASAN_OPTIONS": (asan + ":" if asan else "") +
                                    "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"})
        body = csv_rows(self.ROWS)
        r = upload(srv, body, "large")
        self.assertEqual(r.status, 201, r)
        did = r.json()["id"]
        pid = srv.proc.pid
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")  # resets the peak RSS: only the reads count from here
        base = rss_kib(pid, "VmHWM")
        t0 = time.time()
        sizes = []
        results = [None] * 3

        def read(i, fmt):
            results[i] = srv.get("/v1/datasets/%d?format=%s" % (did, fmt), token=TOKEN)

        threads = [threading.Thread(target=read, args=(i, f))
                   for i, f in enumerate(("json", "json", "csv"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.time() - t0
        grown = rss_kib(pid, "VmHWM") - base
        for i, r in enumerate(results):
            self.assertEqual(r.status, 200, r)
            sizes.append(len(r.body))
        js = results[0].json()
        self.assertEqual(js["rows"], self.ROWS)
        self.assertEqual(len(js["records"]), self.ROWS)
        self.assertEqual(js["records"][12345]["loss"], float("%.9g" % (2 + 12345e-9)))
        self.assertEqual(results[0].body, results[1].body)
        lines = results[2].text().split("\r\n")
        self.assertEqual(lines[0], "sparsity,nonzeros,data,loss,run_id,pattern,seed")
        self.assertEqual(len(lines), self.ROWS + 2)  # and the empty string after the last CRLF
        self.assertLess(grown, 32 * 1024, "peak RSS grew by %d KiB" % grown)
        self.stop(srv)
        figures("%d rows read back three at once (2 x %d bytes JSON, %d bytes CSV) in %.2f s; "
                "peak RSS grew %.1f MiB" % (self.ROWS, sizes[0], sizes[2], took, grown / 1024))


    def test_a_dataset_deleted_while_read_cuts_the_answer(self):
        srv = self.start()
        r = upload(srv, csv_rows(self.ROWS), "going")
        self.assertEqual(r.status, 201, r)
        did = r.json()["id"]
        conn = srv.connect()
        conn.request("GET", "/v1/datasets/%d" % did, headers={"Authorization": "Bearer " + TOKEN})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        first = resp.read(65536)
        self.ok(srv.request("DELETE", "/v1/datasets/%d" % did, token=TOKEN))
        with self.assertRaises(harness.http.client.IncompleteRead):
            rest = resp.read()  # the server closes before the last chunk
            self.fail("a whole answer of %d bytes after the delete" % (len(first) + len(rest)))
        conn.close()
        self.assertIn("dataset_answer_cut", [e.get("event") for e in srv.log_entries()])
        self.stop(srv)


def setUpModule():
    args = []
    if harness.TRAINER:
        args += ["--trainer", harness.TRAINER]
    if harness.CORPUS:
        args += ["--corpus", harness.CORPUS]
    harness.start_shared(tempfile.mkdtemp(prefix="sparselaw-faults-"), args=args)


def tearDownModule():
    harness.stop_shared()


TEST_CLASSES = [TestKill9, TestFullDisk, TestReadOnly, TestCorruption, TestUtf8, TestRefusals,
                TestLargeRead]


if __name__ == "__main__":
    sys.exit(harness.main(TEST_CLASSES, harness.parser(__doc__, trainer=True,
                                                       corpus=harness.DEFAULT_CORPUS)))
