#!/usr/bin/env python3
"""What the scripts and the Python tests share to run the functions locally.

The functions under `cargo lambda watch` and invoked with `cargo lambda invoke`, a moto
server standing in for AWS, the ports they listen on, the payloads moto's Firehose writes
(concatenated gzip members), and what the binaries themselves say about their settings
and the export prefix convention, so that no script keeps a copy of either.

Standard library only at import time (boto3 is imported where a client is made), so
that any python3 can run the command line below.

usage: devkit.py free-port                              a free TCP port on 127.0.0.1
       devkit.py wait-for-port PORT [--pid PID] [--seconds N]
                                                        until something listens on PORT;
                                                        status 1 when PID exits first or
                                                        N seconds pass
       devkit.py wait-for-line FILE TEXT [--seconds N]  until a line of FILE contains TEXT;
                                                        status 1 after N seconds
       devkit.py check-event FILE                       whether FILE can be a Firehose
                                                        transformation event; if not, one
                                                        line on stderr and status 2
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PROCESSOR = "firehose-logs-processor"
EXPORT_CONVERTER = "export-converter"


def gzip_members(blob):
    """The decompressed members of concatenated gzip members (moto writes a
    PutRecordBatch as one object, Firehose's records one member each)."""
    members = []
    while blob:
        decompressor = zlib.decompressobj(wbits=31)
        members.append(decompressor.decompress(blob) + decompressor.flush())
        blob = decompressor.unused_data
    return members


# ---------------------------------------------------------------- ports and processes

def iso(millis):
    """Epoch milliseconds as CloudWatch Logs writes times: ISO 8601 UTC, milliseconds, Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"


def put_history(cwlogs, group, streams, base):
    """Creates `group` with `streams` ({stream: [(offset ms from `base`, message)]}) of
    events, in time order; fails on any event CloudWatch Logs rejects."""
    cwlogs.create_log_group(logGroupName=group)
    for stream, events in streams.items():
        cwlogs.create_log_stream(logGroupName=group, logStreamName=stream)
        answer = cwlogs.put_log_events(
            logGroupName=group, logStreamName=stream,
            logEvents=[{"timestamp": base + offset, "message": message}
                       for offset, message in sorted(events)])
        if "rejectedLogEventsInfo" in answer:
            raise AssertionError(f"{group}/{stream}: events rejected: {answer}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port, process=None, seconds=60, what="process"):
    """Returns once something listens on `port`; raises when `process` (a Popen) exits
    first, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if listening(port):
            return
        time.sleep(0.25)
    raise TimeoutError(f"{what}: nothing listening on {port} after {seconds}s")


def wait_for(condition, seconds, interval=0.1):
    """Polls `condition()` until it returns something true, for at most `seconds`;
    returns its last value either way, for the caller's assertions to report."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def read_log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def wait_for_log(path, done, seconds=30):
    """The text of the log at `path` once `done(text)` holds (a process writes it while
    we read), or as it is after `seconds`; the caller's assertions say what is missing."""
    text = ""

    def finished():
        nonlocal text
        text = read_log(path) if os.path.exists(path) else ""
        return done(text)

    wait_for(finished, seconds)
    return text


class Server:
    """A process of its own session listening on 127.0.0.1:`port`, output in `log_path`.

    Stopping it (`stop()`, or leaving a `with` block) ends its whole process group, so
    that `cargo lambda watch` takes the function it started with it."""

    def __init__(self, command, log_path, port, seconds, what, **popen):
        self.port = port
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True, **popen)
        try:
            wait_for_port(port, self.process, seconds, what)
        except (RuntimeError, TimeoutError) as e:
            self.stop()
            raise RuntimeError(f"{e}; its log:\n{read_log(self.log_path)[-3000:]}") from e

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_moto(log_path, **env):
    """A moto server on a free port, `env` added to its environment."""
    port = free_port()
    return Server(["moto_server", "-H", "127.0.0.1", "-p", str(port)], log_path, port, 60,
                  "moto_server", env={**os.environ, **env})


def start_watch(log_path, function_env, base_env=None, ignore_changes=False):
    """`cargo lambda watch` on a free port, serving every binary of the package. The
    functions' environment is `function_env` on top of `base_env` (default: this
    process's). The first start may build them: it is given 15 minutes."""
    port = free_port()
    env_args = []
    for name, value in function_env.items():
        env_args += ["--env-var", f"{name}={value}"]
    return Server(["cargo", "lambda", "watch", *(["--ignore-changes"] if ignore_changes else []),
                   "--invoke-address", "127.0.0.1", "--invoke-port", str(port), *env_args],
                  log_path, port, 900, "cargo lambda watch", cwd=ROOT,
                  env=os.environ if base_env is None else base_env)


def invoke(function, event, port, timeout=600, workdir=None):
    """`cargo lambda invoke` of `function` on the watch at `port` with `event` (a dict);
    the finished process: its stdout is the function's JSON answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=workdir, delete=False) as f:
        json.dump(event, f)
    try:
        return subprocess.run(
            ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1",
             "--invoke-port", str(port), "--output-format", "json", "--data-file", f.name],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(f.name)


# ---------------------------------------------------------------- the event of `make invoke`

SAMPLE_EVENT = "events/mixed.json"


def json_kind(value):
    return {dict: "object", list: "array", str: "string", int: "number", float: "number",
            bool: "boolean", type(None): "null"}[type(value)]


def check_event(path):
    """Why the file at `path` cannot be a Firehose transformation event, in one line, or
    None when it can be one.

    `make invoke` asks this before it installs, builds or starts anything, so that a
    wrong file costs one line instead of a build and the emulator's log. It checks what
    a hand-made or mistaken file gets wrong (the file, its JSON, the `records` list and
    the two fields every record needs); the function's own parser
    (src/transform/firehose.rs) stays the authority on the rest."""
    if not os.path.exists(path):
        return f"{path}: no such file (the samples are events/*.json, e.g. {SAMPLE_EVENT})"
    if os.path.isdir(path):
        return f"{path}: a directory, not an event file"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return f"{path}: cannot read it: {e.strerror}"
    shape = f'a JSON object with a "records" list, as in {SAMPLE_EVENT}'
    if not raw.strip():
        return f"{path}: empty file; a Firehose transformation event is {shape}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"{path}: not JSON: not UTF-8 text (byte {e.start})"
    try:
        event = json.loads(text)
    except json.JSONDecodeError as e:
        return f"{path}: not JSON: line {e.lineno}, column {e.colno}: {e.msg}"
    not_event = f"{path}: not a Firehose transformation event"
    if not isinstance(event, dict):
        return f"{not_event}: a JSON {json_kind(event)}, not {shape}"
    if "records" not in event:
        keys = ", ".join(list(event)[:5]) + (", ..." if len(event) > 5 else "")
        return f"{not_event}: no \"records\" list (its keys: {keys or 'none'})"
    records = event["records"]
    if not isinstance(records, list):
        return f"{not_event}: \"records\" is a JSON {json_kind(records)}, not a list"
    if not records:
        return f"{path}: no records: \"records\" is empty, so there is nothing to transform"
    for number, record in enumerate(records, 1):
        where = f"{not_event}: record {number} of {len(records)}"
        if not isinstance(record, dict):
            return f"{where} is a JSON {json_kind(record)}, not an object"
        for field, what in (("recordId", "the id the answer carries back"),
                            ("data", "the payload, base64")):
            if not isinstance(record.get(field), str):
                return f"{where} has no \"{field}\" string ({what})"
    return None


# ---------------------------------------------------------------- AWS, locally

def clients(endpoint, *services, region=REGION):
    """boto3 clients of `services` on `endpoint` (a moto server), with its test keys."""
    import boto3
    session = boto3.Session(region_name=region, aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    return tuple(session.client(service, endpoint_url=endpoint) for service in services)


def without_aws_settings():
    """This process's environment as a machine without any AWS set-up would have it:
    no keys, no profile files, no instance metadata, no endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    return env


# ---------------------------------------------------------------- what the binaries say

def _ask(binary, *args):
    out = subprocess.run(["cargo", "run", "--quiet", "--bin", binary, "--", *args],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(args)}: exit status {out.returncode}: "
                           f"{out.stderr.strip()[-2000:]}")
    return out.stdout


def function_settings(binary=PROCESSOR):
    """{variable: default} of every variable `binary` reads, in its order, as the binary
    lists them (`BINARY settings`: the code's own list, not a copy)."""
    return dict(line.split("=", 1) for line in _ask(binary, "settings").splitlines() if line)


def export_prefix(account, log_group, root=None):
    """The destination prefix of an export task of `log_group` in `account`, as the
    export converter reads it back (`export-converter prefix`)."""
    return _ask(EXPORT_CONVERTER, "prefix", account, log_group,
                *([root] if root is not None else [])).strip()


# ---------------------------------------------------------------- command line

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("free-port")
    port = commands.add_parser("wait-for-port")
    port.add_argument("port", type=int)
    port.add_argument("--pid", type=int)
    port.add_argument("--seconds", type=float, default=60)
    line = commands.add_parser("wait-for-line")
    line.add_argument("file")
    line.add_argument("text")
    line.add_argument("--seconds", type=float, default=30)
    commands.add_parser("check-event").add_argument("file")
    options = parser.parse_args(argv)
    if options.command == "free-port":
        print(free_port())
        return 0
    if options.command == "check-event":
        problem = check_event(options.file)
        if problem:
            print(problem, file=sys.stderr)
            return 2
        return 0
    if options.command == "wait-for-line":
        found = wait_for_log(options.file, lambda text: any(
            options.text in l for l in text.splitlines()), options.seconds)
        return 0 if any(options.text in l for l in found.splitlines()) else 1

    def alive():
        if options.pid is None:
            return True
        try:
            os.kill(options.pid, 0)
            return True
        except ProcessLookupError:
            return False

    up = wait_for(lambda: listening(options.port) or not alive(), options.seconds, 0.25)
    return 0 if up and listening(options.port) else 1


if __name__ == "__main__":
    sys.exit(main())
