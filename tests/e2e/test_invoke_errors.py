"""`make invoke` on a file that is not a Firehose transformation event: one line on
stderr, exit status 2, no traceback, and nothing installed, built or started first.

Each bad input runs through `make invoke EVENT=...` and through `scripts/invoke.sh`
itself, with stand-ins for `cargo` and `cargo-lambda` first on PATH that leave a mark
when called: the check must answer before either runs. Standard library only; nothing
here builds Rust, so it takes about a second.

Run by `make e2e` (part of `make test`).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import devkit  # noqa: E402
from devkit import ROOT  # noqa: E402

HISTORY = os.path.join(ROOT, "events", "exports", "history.json")
NOT_EVENT = "not a Firehose transformation event"
SHAPE = 'a JSON object with a "records" list, as in events/mixed.json'

# (name, file content or None for no file, the line after "PATH: ")
BAD_INPUTS = [
    ("missing.json", None,
     "no such file (the samples are events/*.json, e.g. events/mixed.json)"),
    ("empty.json", b"", f"empty file; a Firehose transformation event is {SHAPE}"),
    ("blank.json", b"  \n\n", f"empty file; a Firehose transformation event is {SHAPE}"),
    ("comma.json", b'{\n  "records": [\n    {"recordId": "1",}\n  ]\n}\n',
     "not JSON: line 3, column 22: Expecting property name enclosed in double quotes"),
    ("text.json", b"records: []\n", "not JSON: line 1, column 1: Expecting value"),
    ("latin1.json", '{"records": "caf\u00e9"}'.encode("latin-1"),
     "not JSON: not UTF-8 text (byte 16)"),
    ("array.json", b"[]", f"{NOT_EVENT}: a JSON array, not {SHAPE}"),
    ("no-records.json", json.dumps({"invocationId": "x", "region": "us-east-1"}).encode(),
     f'{NOT_EVENT}: no "records" list (its keys: invocationId, region)'),
    ("records-object.json", b'{"records": {}}',
     f'{NOT_EVENT}: "records" is a JSON object, not a list'),
    ("no-records-in-list.json", b'{"records": []}',
     'no records: "records" is empty, so there is nothing to transform'),
    ("record-string.json", b'{"records": ["abc"]}',
     f"{NOT_EVENT}: record 1 of 1 is a JSON string, not an object"),
    ("no-record-id.json", b'{"records": [{"recordId": "1", "data": ""}, {"data": ""}]}',
     f'{NOT_EVENT}: record 2 of 2 has no "recordId" string (the id the answer carries back)'),
    ("no-data.json", b'{"records": [{"recordId": "1"}]}',
     f'{NOT_EVENT}: record 1 of 1 has no "data" string (the payload, base64)'),
]

STAND_IN = """#!/bin/sh
echo "$0 $*" >> "{marks}"
exit 1
"""


class BadEvents(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invoke-errors-")
        cls.marks = os.path.join(cls.tmp, "called")
        bin_dir = os.path.join(cls.tmp, "bin")
        os.mkdir(bin_dir)
        for tool in ("cargo", "cargo-lambda"):
            path = os.path.join(bin_dir, tool)
            with open(path, "w") as f:
                f.write(STAND_IN.format(marks=cls.marks))
            os.chmod(path, 0o755)
        # Not a sub-make of whatever runs this test: no inherited flags or variables.
        cls.env = {k: v for k, v in os.environ.items()
                   if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "EVENT")}
        cls.env["PATH"] = bin_dir + os.pathsep + cls.env.get("PATH", "")
        cls.cases = [(os.path.join(cls.tmp, name), content, line)
                     for name, content, line in BAD_INPUTS]
        for path, content, _ in cls.cases:
            if content is not None:
                with open(path, "wb") as f:
                    f.write(content)
        directory = os.path.join(cls.tmp, "events.d")
        os.mkdir(directory)
        cls.cases += [(directory, None, "a directory, not an event file"),
                      (HISTORY, None,
                       f'{NOT_EVENT}: no "records" list (its keys: comment, objects)')]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def run_quietly(self, command):
        out = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=120)
        self.assertNotIn("Traceback", out.stdout + out.stderr)
        self.assertEqual(out.stdout, "", "nothing but the one line on stderr")
        self.assertEqual(out.returncode, 2, out.stderr)
        lines = out.stderr.splitlines()
        self.assertEqual(len(lines), 1, out.stderr)
        self.assertFalse(os.path.exists(self.marks),
                         "cargo or cargo-lambda ran before the event was checked")
        return lines[0]

    def test_invoke_script_says_one_line(self):
        for path, _, line in self.cases:
            with self.subTest(path=os.path.basename(path)):
                self.assertEqual(self.run_quietly(["scripts/invoke.sh", path]), f"{path}: {line}")

    def test_make_invoke_says_one_line_before_anything_runs(self):
        for path, _, line in self.cases:
            with self.subTest(path=os.path.basename(path)):
                said = self.run_quietly(["make", "--no-print-directory", "invoke", f"EVENT={path}"])
                # make's $(error): "mk/local.mk:LINE: *** MESSAGE.  Stop."
                self.assertRegex(said, r"^mk/local\.mk:\d+: \*\*\* "
                                 + re.escape(f"{path}: {line}") + r"\.  Stop\.$")

    def test_every_sample_event_passes(self):
        samples = [os.path.join("events", name) for name in sorted(os.listdir(
            os.path.join(ROOT, "events"))) if name.endswith(".json")]
        self.assertTrue(samples)
        for sample in samples:
            with self.subTest(sample=sample):
                self.assertIsNone(devkit.check_event(os.path.join(ROOT, sample)))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"invoke errors: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
