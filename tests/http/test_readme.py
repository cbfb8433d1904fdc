#!/usr/bin/env python3
"""README.md's shell examples, run as written against a real server: each
command's HTTP status, and every value the README quotes after it in a
`#   {...}` comment, to the digits shown.

    python3 tests/http/test_readme.py --server build/sparselawd --openapi api/openapi.json \
        [--trainer build/sparselaw-train] [--readme README.md]

Standard library only; the server comes from harness.py beside this file. The
```sh blocks run in README order, each command in /bin/sh from the repository
root (so data/... paths work), on one server started on a free port with a
temporary data directory: http://127.0.0.1:8080 becomes that server and
sparselaw-data/token its token file. Variables a block sets (T=...) hold for
the rest of the block.

A quoted comment is JSON with `...` for what it leaves out: `...` in an
object stands for other members (without it the keys must be exactly these),
a number ending in `...` for more digits (0.6583... is any value from 0.6583
up to 0.6584), a string ending in `...` for more text; a number without `...`
must equal the output to its last digit (1.5 is 1.45 to 1.55).
"""
import decimal
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

README = None

# The sections whose blocks do not run, and why.
SKIP = {
    "The two commands": "scripts/serve.sh builds and serves on port 8080 with ./sparselaw-data, "
                        "and scripts/test.sh is the suite this test is part of",
    "Calibrating a law on your own models": "its sweep trains 32 runs for about 7 minutes "
                                            "(tests/http/test_sweeps.py runs small sweeps)",
}
# The section whose commands run as dry runs: the training run takes 10 to 70 s,
# and what its comment says (parameters, steps, tokens a step) is what
# --dry-run prints without training.
DRY_RUN = "The reference trainer"

# Statuses other than 200, by method and path prefix.
STATUS = [("POST", "/v1/datasets", 201), ("PUT", "/v1/laws/", 201), ("POST", "/v1/sweeps", 202)]

STATUS_MARK = "@@readme-status "
# curl, as the examples call it, also printing the status on a line of its own.
CURL_WRAPPER = ("curl() { command curl -w '\\n%s%%{http_code}\\n' \"$@\"; }\n" % STATUS_MARK)


# ---------------------------------------------------------------- reading the README

class Step:
    """One command of a block, with what its comment lines quote."""

    def __init__(self, section, line, command):
        self.section = section
        self.line = line          # where it starts in README.md
        self.command = command    # as written, continuation lines joined by \n
        self.quoted = []          # the text of each `#   {...}` comment after it
        self.remarks = ""         # its own comment, and the indented comment lines below it

    def __repr__(self):
        return "README.md:%d (%s)" % (self.line, self.section)


def complete(text):
    """Whether text is a whole shell command: no open quote, no trailing \\."""
    if text.endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
        return True
    except ValueError:
        return False


def brackets_open(text):
    """How many of text's { and [ are still open (outside strings)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return depth


def sh_blocks(path):
    """Every ```sh block of the README: (section, first line number, lines)."""
    with open(path) as f:
        lines = f.read().split("\n")
    blocks, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.strip() == "```sh":
            start, body = i + 2, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((section, start, body))
        i += 1
    return blocks


QUOTE_START = re.compile(r"^#\s{2,}[\[{]")


def steps_of(section, start, body):
    """The commands of a block, each with the quoted outputs that follow it."""
    steps, i = [], 0
    while i < len(body):
        line, lineno = body[i], start + i
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("#"):
            if line[0] in " \t" and steps and not steps[-1].quoted:
                steps[-1].remarks += " " + line.strip()[1:].strip()  # its comment goes on
            elif QUOTE_START.match(line):
                text = line[1:].strip()
                while brackets_open(text) > 0 and i + 1 < len(body) \
                        and body[i + 1].startswith("#"):
                    i += 1
                    text += " " + body[i][1:].strip()
                if not steps:
                    raise AssertionError("README.md:%d quotes an output before any command"
                                         % lineno)
                steps[-1].quoted.append(text)
            i += 1
            continue
        text = line
        while not complete(text) and i + 1 < len(body):
            i += 1
            text += "\n" + body[i]
        if not complete(text):
            raise AssertionError("README.md:%d: the command does not end" % lineno)
        step = Step(section, lineno, text)
        last = text.split("\n")[-1]
        if "#" in last:
            step.remarks = last.split("#", 1)[1].strip()
        steps.append(step)
        i += 1
    return steps


# ---------------------------------------------------------------- quoted outputs

class Truncated:
    """A number or string shown with `...`: more digits or text follow."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return "%s..." % self.value


ELLIPSIS = object()  # `...` as a member or element


class QuoteParser:
    """The JSON of a quoted comment, with its `...` (see the docstring); the
    text after the value (a remark in parentheses, say) is left."""

    NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")

    def __init__(self, text):
        self.text, self.pos = text, 0

    def fail(self, what):
        raise AssertionError("quoted output %r: %s at column %d" % (self.text, what, self.pos))

    def skip(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def peek(self, s):
        self.skip()
        return self.text.startswith(s, self.pos)

    def take(self, s):
        if not self.peek(s):
            self.fail("expected %r" % s)
        self.pos += len(s)

    def value(self):
        self.skip()
        if self.peek("{"):
            return self.container("{", "}", True)
        if self.peek("["):
            return self.container("[", "]", False)
        if self.peek('"'):
            return self.string()
        for word, v in (("true", True), ("false", False), ("null", None)):
            if self.peek(word):
                self.pos += len(word)
                return v
        m = self.NUMBER.match(self.text, self.pos)
        if not m:
            self.fail("no value")
        self.pos = m.end()
        number = decimal.Decimal(m.group(0))
        if self.text.startswith("...", self.pos):
            self.pos += 3
            return Truncated(number)
        return number

    def string(self):
        m = re.compile(r'"((?:[^"\\]|\\.)*)"').match(self.text, self.pos)
        if not m:
            self.fail("unterminated string")
        self.pos = m.end()
        s = json.loads(m.group(0))
        if s.endswith("..."):
            return Truncated(s[:-3].rstrip())
        return s

    def container(self, open_, close, is_object):
        self.take(open_)
        items = []
        while not self.peek(close):
            if self.peek("..."):
                self.pos += 3
                items.append(ELLIPSIS)
            elif is_object:
                self.skip()
                key = self.string()
                self.take(":")
                items.append((key, self.value()))
            else:
                items.append(self.value())
            if not self.peek(close):
                self.take(",")
        self.take(close)
        if not is_object:
            return items
        return {"members": [x for x in items if x is not ELLIPSIS], "open": ELLIPSIS in items}


def parse_quote(text):
    return QuoteParser(text).value()


def mismatch(want, got, where="$"):
    """Why got (the parsed output) is not what the quote want shows; None
    when it is."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: an object in the README, %r in the output" % (where, got)
        for key, w in want["members"]:
            if key not in got:
                return "%s: no %r in the output" % (where, key)
            why = mismatch(w, got[key], "%s.%s" % (where, key))
            if why:
                return why
        keys = [k for k, _ in want["members"]]
        if not want["open"] and sorted(keys) != sorted(got):
            return "%s: the output has the keys %s, the README %s (no ...)" % (
                where, sorted(got), sorted(keys))
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return "%s: an array in the README, %r in the output" % (where, got)
        shown = [w for w in want if w is not ELLIPSIS]
        if ELLIPSIS in want[:-1]:
            return "%s: `...` only at the end of an array" % where
        if len(got) < len(shown) or (ELLIPSIS not in want and len(got) != len(shown)):
            return "%s: %d elements in the output, the README shows %d" % (
                where, len(got), len(shown))
        for i, w in enumerate(shown):
            why = mismatch(w, got[i], "%s[%d]" % (where, i))
            if why:
                return why
        return None
    if isinstance(want, Truncated) and isinstance(want.value, str):
        if not (isinstance(got, str) and got.startswith(want.value)):
            return "%s: %r in the output does not start with %r" % (where, got, want.value)
        return None
    if isinstance(want, (decimal.Decimal, Truncated)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return "%s: a number in the README, %r in the output" % (where, got)
        d = want.value if isinstance(want, Truncated) else want
        actual = decimal.Decimal(repr(got))
        unit = decimal.Decimal(1).scaleb(d.as_tuple().exponent)  # the last digit shown
        if isinstance(want, Truncated):
            ok = (actual < 0) == (d < 0) or actual == 0 and d == 0
            ok = ok and abs(d) <= abs(actual) < abs(d) + unit
        else:
            ok = abs(actual - d) <= unit / 2
        if not ok:
            return "%s: the README shows %s, the output has %r" % (where, want, got)
        return None
    if want != got or type(want) is not type(got):
        return "%s: the README shows %r, the output has %r" % (where, want, got)
    return None


# ---------------------------------------------------------------- running

def expected_status(command):
    """The status a curl command of the README must answer: by its method
    and path, 200 unless STATUS says otherwise."""
    words = shlex.split(command, comments=True)
    method = "GET"
    if "-X" in words:
        method = words[words.index("-X") + 1]
    elif any(w in ("-d", "--data", "--data-binary") for w in words):
        method = "POST"
    urls = [w for w in words if w.startswith("http://")]
    path = re.sub(r"^http://[^/]+", "", urls[0]) if urls else ""
    for m, prefix, status in STATUS:
        if m == method and path.startswith(prefix):
            return status
    return 200


class TestReadme(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sparselaw-readme-")
        cls.token_file = harness.new_token_file(cls.tmp)
        cls.server = harness.Server(os.path.join(cls.tmp, "data"), cls.token_file)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        stray = cls.server.non_json_lines()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc != 0 or stray:
            raise AssertionError("the server exited %r, wrote non-JSON lines %s"
                                 % (rc, stray[:10]))

    def rewrite(self, command, dry_run=False):
        """The command against the test's server and token file (and the
        trainer given, with --dry-run first when dry_run)."""
        command = command.replace("http://127.0.0.1:8080", "http://127.0.0.1:%d"
                                  % self.server.port)
        command = command.replace("sparselaw-data/token", shlex.quote(self.token_file))
        program = "build/sparselaw-train"
        if command.startswith(program):
            command = (shlex.quote(TRAINER) + (" --dry-run" if dry_run else "")
                       + command[len(program):])
        return command

    def run_step(self, prelude, step, dry_run=False):
        """Runs step after the block's variable assignments (prelude): the
        output without the status line, and the status (None: no curl)."""
        command = self.rewrite(step.command, dry_run and "--dry-run" not in step.command)
        p = subprocess.run(["/bin/sh", "-c", CURL_WRAPPER + prelude + command],
                           cwd=harness.REPO, capture_output=True, timeout=120,
                           env=harness.clean_env())
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "%r exited %d: %s %s" % (step, p.returncode, out[-2000:],
                                                                 p.stderr.decode()[-2000:]))
        statuses = re.findall(r"^%s(\d+)$" % STATUS_MARK, out, re.M)
        body = re.sub(r"\n?^%s\d+\n?" % STATUS_MARK, "", out, flags=re.M)
        return body, [int(s) for s in statuses]

    def check_quotes(self, step, body):
        if not step.quoted:
            return
        try:
            got = json.loads(body)
        except ValueError:
            self.fail("%r quotes JSON, but the command printed %r" % (step, body[:500]))
        for text in step.quoted:
            why = mismatch(parse_quote(text), got)
            self.assertIsNone(why, "%r: %s\noutput: %s" % (step, why, body[:3000]))

    def check_dry_run(self, step, body):
        """The trainer's comment (N parameters, N steps of M tokens) against
        its dry run."""
        got = json.loads(body.strip().splitlines()[-1])
        self.assertEqual(got["event"], "dry_run", step)
        comment = step.remarks
        claims = 0
        for n in re.findall(r"([\d,]+) parameters", comment):
            self.assertEqual(got["total_params"], int(n.replace(",", "")), step)
            claims += 1
        for n, t in re.findall(r"([\d,]+) steps of ([\d,]+) tokens", comment):
            self.assertEqual(got["steps"], int(n.replace(",", "")), step)
            self.assertEqual(got["context"] * got["batch"], int(t.replace(",", "")), step)
            claims += 1
        self.assertTrue(claims, "%r: its comment states no size" % step)

    def test_examples(self):
        blocks = sh_blocks(README)
        sections = [b[0] for b in blocks]
        for name in list(SKIP) + [DRY_RUN, "Example queries", "Fitting your own law"]:
            self.assertIn(name, sections, "README.md has no ```sh block under %r" % name)
        ran = 0
        for section, start, body in blocks:
            if section in SKIP:
                with self.subTest(section=section):
                    self.skipTest("README.md:%d (%s): %s" % (start, section, SKIP[section]))
                continue
            prelude = ""
            for step in steps_of(section, start, body):
                if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", step.command):
                    prelude += self.rewrite(step.command) + "\n"
                    continue
                with self.subTest(step=repr(step)):
                    ran += 1
                    if section == DRY_RUN:
                        body_text, _ = self.run_step(prelude, step, dry_run=True)
                        self.check_dry_run(step, body_text)
                        continue
                    body_text, statuses = self.run_step(prelude, step)
                    self.assertEqual(statuses, [expected_status(step.command)],
                                     "%r answered %s: %s" % (step, statuses, body_text[:2000]))
                    self.check_quotes(step, body_text)
        print("ran %d README commands" % ran, file=sys.stderr)
        self.assertGreaterEqual(ran, 10)


class TestQuoteReading(unittest.TestCase):
    """The quote matcher itself, so that a lenient one cannot pass a wrong README."""

    def check(self, quote, output):
        return mismatch(parse_quote(quote), json.loads(output))

    def test_numbers_to_the_digits_shown(self):
        self.assertIsNone(self.check('{"a":0.6583..., ...}', '{"a":0.65837282817281317,"b":1}'))
        self.assertIsNotNone(self.check('{"a":0.6315..., ...}', '{"a":0.65837282817281317}'))
        self.assertIsNotNone(self.check('{"a":0.6584..., ...}', '{"a":0.65837282817281317}'))
        self.assertIsNone(self.check('{"a":0.6584}', '{"a":0.65837282817281317}'))
        self.assertIsNone(self.check('{"a":0.15861091221901558}', '{"a":0.15861091221901558}'))
        self.assertIsNotNone(self.check('{"a":0.15861091221901559}', '{"a":0.15861091221901558}'))
        self.assertIsNone(self.check('{"a":12}', '{"a":12}'))
        self.assertIsNotNone(self.check('{"a":12}', '{"a":13}'))
        self.assertIsNotNone(self.check('{"a":1}', '{"a":true}'))
        self.assertIsNone(self.check('{"a":-0.50...}', '{"a":-0.5036}'))
        self.assertIsNotNone(self.check('{"a":-0.50...}', '{"a":0.5036}'))

    def test_members_strings_and_arrays(self):
        self.assertIsNotNone(self.check('{"a":1}', '{"a":1,"b":2}'))  # no ...: exactly these
        self.assertIsNotNone(self.check('{"c":1, ...}', '{"a":1}'))
        self.assertIsNone(self.check('{"s":"the run failed ..."}', '{"s":"the run failed (x)"}'))
        self.assertIsNotNone(self.check('{"s":"the run failed"}', '{"s":"the run failed (x)"}'))
        self.assertIsNone(self.check('{"l":[1, 2]} (a remark)', '{"l":[1,2]}'))
        self.assertIsNotNone(self.check('{"l":[1, 2]}', '{"l":[1,2,3]}'))
        self.assertIsNone(self.check('{"l":[1, ...]}', '{"l":[1,2,3]}'))
        self.assertIsNone(self.check('{"o":{"x":[{"k":"v", ...}]}}',
                                     '{"o":{"x":[{"k":"v","z":0}]}}'))


# ---------------------------------------------------------------- main

TRAINER = None
TEST_CLASSES = [TestQuoteReading, TestReadme]


def configure(args):
    global README, TRAINER
    README = os.path.abspath(args.readme)
    TRAINER = os.path.abspath(args.trainer)


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--trainer", default=os.path.join(harness.REPO, "build", "sparselaw-train"),
                        help="sparselaw-train, for the trainer's dry runs (default: %(default)s)")
    parser.add_argument("--readme", default=os.path.join(harness.REPO, "README.md"),
                        help="the README whose examples run (default: %(default)s)")
    sys.exit(harness.main(TEST_CLASSES, parser, configure))
