#!/usr/bin/env python3
"""Black-box tests of sparselawd's configuration: the --config file (a server
started from one listens where it says; flags and the environment override it;
each kind of bad file exits 2 naming the file, line and key), and the option
table, which --help and --options-json print and README.md's "Running it"
table must match row for row (flag, environment variable, default).

    python3 tests/http/test_config.py --server build/sparselawd --openapi api/openapi.json \
        [--readme README.md]

Standard library only; the processes come from harness.py beside this file.
Every server here is started by its test on a temporary data directory.
"""
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import TOKEN  # noqa: E402

README = None


def run_server(args, env_extra=None, cwd=None, timeout=10):
    """sparselawd with args, expected to exit on its own: (status, stdout, stderr)."""
    p = subprocess.run([harness.SERVER_BIN] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, env=harness.clean_env(env_extra), cwd=cwd,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def options_json():
    rc, out, err = run_server(["--options-json"])
    if rc != 0:
        raise AssertionError("--options-json exited %d: %s" % (rc, err))
    return json.loads(out)


class ConfigCase(harness.OwnServers, unittest.TestCase):
    """A temporary directory with a token file (OwnServers), config files
    written into it and servers started from them (killed at the end if a
    test left one)."""

    maxDiff = 4000
    tmp_prefix = "sparselaw-config-"

    def write(self, text, name="sparselaw.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def base_lines(self, port):
        """The settings every server here needs, as config lines."""
        return ("port = %d\nbind = 127.0.0.1\ndata-dir = %s\ntoken-file = %s\nthreads = 2\n"
                % (port, os.path.join(self.tmp, "data"), self.token_file))

    def start(self, args, env_extra=None):
        s = harness.Listener([harness.SERVER_BIN] + list(args), harness.clean_env(env_extra),
                             "sparselawd")
        self.servers.append(s)
        return s

    def stop(self, s):
        self.assertEqual(s.terminate(20), 0, s.stderr_text()[-2000:])
        s.reader.join(5)
        self.assertEqual(s.non_json_lines(), [])

    def listening_event(self, s):
        for e in s.log_entries():
            if e.get("event") == "listening":
                return e
        self.fail("no listening line: %s" % s.stderr_text())

    def assert_healthy(self, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()


class TestConfigFile(ConfigCase):
    def test_a_server_listens_on_the_port_its_file_names(self):
        port = harness.free_port()
        path = self.write("# sparselawd settings\n\n" + self.base_lines(port)
                          + "   # an indented comment\nlocal-runs = 3   # and one after a value\n")
        s = self.start(["--config", path])
        self.assertEqual(s.port, port)
        ev = self.listening_event(s)
        self.assertEqual(ev["data_dir"], os.path.join(self.tmp, "data"))
        self.assertEqual(ev["threads"], 2)
        self.assertEqual(ev["local_runs"], 3)
        self.assert_healthy(port)
        # The token of the file's token-file is the one writes need.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("DELETE", "/v1/laws/no-such-law",
                         headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(conn.getresponse().status, 404)
        finally:
            conn.close()
        self.stop(s)

    def test_sparselaw_config_names_the_file(self):
        port = harness.free_port()
        path = self.write(self.base_lines(port))
        s = self.start([], {"SPARSELAW_CONFIG": path})
        self.assertEqual(s.port, port)
        self.stop(s)

    def test_windows_line_ends_tabs_and_spaces_around_the_equals_sign(self):
        port = harness.free_port()
        text = self.base_lines(port).replace(" = ", "\t=   ").replace("\n", "\r\n")
        s = self.start(["--config", self.write(text + "local-runs=2")])  # no final line end
        self.assertEqual(s.port, port)
        self.assertEqual(self.listening_event(s)["local_runs"], 2)
        self.stop(s)

    def test_a_flag_overrides_the_file(self):
        port = harness.free_port()
        path = self.write(self.base_lines(harness.free_port()) + "local-runs = 3\n")
        s = self.start(["--config", path, "--port", str(port), "--local-runs=4"])
        self.assertEqual(s.port, port)
        ev = self.listening_event(s)
        self.assertEqual(ev["local_runs"], 4)
        self.assertEqual(ev["threads"], 2)  # the rest of the file still applies
        self.stop(s)

    def test_the_flag_order_does_not_matter(self):
        port = harness.free_port()
        path = self.write(self.base_lines(harness.free_port()))
        s = self.start(["--port", str(port), "--config", path])
        self.assertEqual(s.port, port)
        self.stop(s)

    def test_the_environment_overrides_the_file(self):
        port = harness.free_port()
        path = self.write(self.base_lines(harness.free_port()) + "local-runs = 3\n")
        s = self.start(["--config", path], {"SPARSELAW_PORT": str(port),
                                            "SPARSELAW_LOCAL_RUNS": "5"})
        self.assertEqual(s.port, port)
        self.assertEqual(self.listening_event(s)["local_runs"], 5)
        self.stop(s)

    def test_a_flag_overrides_the_environment(self):
        port = harness.free_port()
        path = self.write(self.base_lines(harness.free_port()))
        s = self.start(["--config", path, "--port", str(port)],
                       {"SPARSELAW_PORT": str(harness.free_port())})
        self.assertEqual(s.port, port)
        self.stop(s)

    def test_the_config_flag_overrides_sparselaw_config(self):
        port = harness.free_port()
        good = self.write(self.base_lines(port), "good.conf")
        bad = self.write("no such key = 1\n", "bad.conf")
        s = self.start(["--config", good], {"SPARSELAW_CONFIG": bad})
        self.assertEqual(s.port, port)
        self.stop(s)

    def test_a_flag_option_reads_true_and_false(self):
        port = harness.free_port()
        rc, out, err = run_server(["--config", self.write(self.base_lines(port)
                                                          + "routes = true\n")])
        self.assertEqual(rc, 0, err)
        self.assertIn("/v1/laws", [r.get("path") for r in json.loads(out)])
        s = self.start(["--config", self.write(self.base_lines(port) + "routes = false\n")])
        self.assertEqual(s.port, port)
        self.stop(s)


class TestConfigErrors(ConfigCase):
    """Each kind of bad config file: exit 2, nothing served, and one message
    that names the file, the line and the key."""

    def assert_refused(self, text, message, args=(), env_extra=None):
        path = self.write(text)
        # In tmp, where the default data directory would appear if it started.
        rc, out, err = run_server(["--config", path] + list(args), env_extra, cwd=self.tmp)
        self.assertEqual(rc, 2, "stdout %r stderr %r" % (out, err))
        self.assertEqual(err, "sparselawd: " + message.replace("FILE", path) + "\n")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "sparselaw-data")),
                         "it made its data directory")

    def test_unknown_key(self):
        self.assert_refused("port = 0\n\n# comment\nprot = 8080\n",
                            "FILE:4: unknown key 'prot' (keys are the flags of --help without "
                            "their dashes)")

    def test_a_key_with_its_dashes_is_unknown(self):
        self.assert_refused("--port = 8080\n", "FILE:1: unknown key '--port' (keys are the flags "
                            "of --help without their dashes)")

    def test_not_a_number(self):
        self.assert_refused("port = eighty\n",
                            "FILE:1: port must be an integer in [0, 65535] (got 'eighty')")

    def test_out_of_bounds(self):
        self.assert_refused("threads = 2\nslurm-time-limit = 0\n",
                            "FILE:2: slurm-time-limit must be an integer in [1, 525600] "
                            "(got '0')")
        self.assert_refused("port = 65536\n",
                            "FILE:1: port must be an integer in [0, 65535] (got '65536')")

    def test_a_bad_line_is_refused_even_when_a_flag_would_override_it(self):
        self.assert_refused("port = -1\n", "FILE:1: port must be an integer in [0, 65535] "
                            "(got '-1')", args=["--port", "0"])

    def test_missing_equals_sign(self):
        self.assert_refused("port = 0\nthreads 2\n",
                            "FILE:2: 'threads 2' is not `key = value` (no '=')")

    def test_missing_key(self):
        self.assert_refused("= 8080\n", "FILE:1: no key before '='")

    def test_empty_value(self):
        self.assert_refused("data-dir =\n", "FILE:1: data-dir must be 1 to 1023 characters")
        self.assert_refused("port =    # none\n",
                            "FILE:1: port must be an integer in [0, 65535] (got '')")

    def test_repeated_key(self):
        self.assert_refused("port = 1\nthreads = 2\nport = 2\n",
                            "FILE:3: port is set twice (first on line 1)")

    def test_a_flag_option_takes_true_or_false(self):
        self.assert_refused("routes = yes\n", "FILE:1: routes must be true or false (got 'yes')")

    def test_a_config_file_cannot_name_another(self):
        self.assert_refused("config = other.conf\n",
                            "FILE:1: config: a config file cannot name another one")

    def test_not_text(self):
        self.assert_refused("port = 0\nbind\0 = x\n", "FILE:2: a NUL byte (not a text file)")

    def test_unreadable_file(self):
        missing = os.path.join(self.tmp, "missing.conf")
        rc, _, err = run_server(["--config", missing])
        self.assertEqual(rc, 2)
        self.assertEqual(err, "sparselawd: cannot read config file %s: No such file or directory\n"
                         % missing)
        rc, _, err = run_server([], {"SPARSELAW_CONFIG": self.tmp})
        self.assertEqual(rc, 2)
        self.assertEqual(err, "sparselawd: cannot read config file %s: Is a directory\n"
                         % self.tmp)
        if os.geteuid() != 0:  # root reads a mode-000 file all the same
            path = self.write("port = 0\n")
            os.chmod(path, 0)
            rc, _, err = run_server(["--config", path])
            self.assertEqual(rc, 2)
            self.assertEqual(err, "sparselawd: cannot read config file %s: Permission denied\n"
                             % path)

    def test_config_needs_a_value(self):
        rc, _, err = run_server(["--config"])
        self.assertEqual(rc, 2)
        self.assertEqual(err, "sparselawd: --config needs a value\n")


# ---------------------------------------------------------------- the option table

def readme_options_rows(path):
    """The rows of README.md's options table (section "Running it"): each as
    (flag cell, environment cell, default cell), the cells' text as written."""
    with open(path) as f:
        text = f.read()
    section = text.split("\n## Running it\n", 1)
    if len(section) != 2:
        raise AssertionError("README.md has no section 'Running it'")
    section = section[1].split("\n## ", 1)[0]
    rows, header = [], None
    for line in section.splitlines():
        if not line.startswith("|"):
            if header:
                break  # the table ended
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = cells
            if header[:3] != ["flag", "environment", "default"]:
                raise AssertionError("options table header %r" % header)
        elif not set(line) <= set("|- "):
            rows.append(tuple(cells[:3]))
    if not rows:
        raise AssertionError("README.md's 'Running it' has no options table")
    return rows


def code_span(cell):
    """The text of a cell that is one code span, None for a cell that is
    'none' (no value), and an AssertionError otherwise."""
    if cell == "none":
        return None
    m = re.fullmatch(r"`([^`]+)`", cell)
    if not m:
        raise AssertionError("cell %r is neither `value` nor none" % cell)
    return m.group(1)


def portable_default(value):
    """A default as README.md writes it: the build's own directories as
    <build> and <source>."""
    build = os.path.dirname(harness.SERVER_BIN)
    for path, name in ((build, "<build>"), (harness.REPO, "<source>")):
        if value == path or value.startswith(path + "/"):
            return name + value[len(path):]
    return value


class TestOptionTable(unittest.TestCase):
    maxDiff = None

    def test_the_readme_table_is_the_option_table(self):
        table = options_json()
        want = [(o["flag"], o["env"], portable_default(o["default"]) or None) for o in table]
        got = []
        for flag, env, dflt in readme_options_rows(README):
            got.append((code_span(flag), code_span(env), code_span(dflt)))
        self.assertEqual(sorted(f for f, _, _ in got), sorted(f for f, _, _ in want),
                         "flags missing from README.md or from the option table")
        self.assertEqual(len(got), len(set(f for f, _, _ in got)), "a flag twice in README.md")
        self.assertEqual(sorted(got, key=str), sorted(want, key=str))

    def test_help_prints_every_row(self):
        rc, out, err = run_server(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("flag > environment > config file > default", out)
        lines = out.splitlines()
        for o in options_json():
            line = [l for l in lines if l.split()[:1] == [o["flag"]]]
            self.assertEqual(len(line), 1, o["flag"])
            fields = line[0].split()
            if o["env"]:
                self.assertEqual(fields[1], o["env"])
            self.assertIn(o["help"], line[0])
            if o["default"]:
                self.assertTrue(line[0].endswith("[default %s]" % o["default"]), line[0])

    def test_the_readme_states_the_precedence_and_its_example_file_reads(self):
        with open(README) as f:
            text = f.read()
        self.assertIn("flag > environment > config file > default", text)
        examples = re.findall(r"\n```\n(# [^\n]*sparselawd --config [^\n]*\n.*?)```", text, re.S)
        self.assertEqual(len(examples), 1, "README.md's example config file")
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write(examples[0])
            f.flush()
            # --routes exits once the settings are read, before the data directory is touched.
            rc, out, err = run_server(["--config", f.name, "--routes"])
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(json.loads(out))

    def test_every_key_is_its_flag_and_every_env_is_distinct(self):
        table = options_json()
        for o in table:
            self.assertEqual("--" + o["key"], o["flag"])
            self.assertIn(o["kind"], ("integer", "bytes", "string", "flag"))
            if o["default"].isdigit():  # <cores> is this machine's
                self.assertLessEqual(o["min"], int(o["default"]), o["flag"])
                self.assertLessEqual(int(o["default"]), o["max"], o["flag"])
        envs = [o["env"] for o in table if o["env"]]
        self.assertEqual(len(envs), len(set(envs)))


# ---------------------------------------------------------------- main

TEST_CLASSES = [TestConfigFile, TestConfigErrors, TestOptionTable]


def configure(args):
    global README
    README = os.path.abspath(args.readme)


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--readme", default=os.path.join(harness.REPO, "README.md"),
                        help="the README whose options table is checked (default: %(default)s)")
    sys.exit(harness.main(TEST_CLASSES, parser, configure))
