"""The README's local-use commands, run as written, so that the README cannot drift.

The block is the fenced one whose first line is the marker comment below. Its lines
run in one bash session, exactly as written (comments included) and nothing else between
them that changes what they do, in the project folder, in the environment of a machine
without any AWS set-up (no keys, no profile, no instance metadata, no endpoint), as a
newcomer's would be when pasting the whole block. A line ending in `&` starts in the
background; the README's own next line must wait for cargo lambda's port, since nothing
else does (the first invoke would otherwise meet `Connection refused`). Every line not
in the background must succeed.

Run by `make readme-commands` (part of `make test`). Needs port 9000 free.
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import devkit  # noqa: E402
from devkit import ROOT  # noqa: E402

MARKER = "# local use:"
WATCH_PORT = 9000  # cargo lambda's default, as the README's commands use it
FIRST_BUILD_SECONDS = 1800


def readme_commands(path):
    """The lines of the marked block that hold a command, as written (trailing comment
    included); comment-only and blank lines are left out."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"^```(?:sh|bash|console)?\n(.*?)^```", text, re.S | re.M)
    marked = [b for b in blocks if b.lstrip().startswith(MARKER)]
    if len(marked) != 1:
        raise SystemExit(f"README.md: expected one block starting with '{MARKER}', found {len(marked)}")
    return [line.rstrip() for line in marked[0].splitlines() if shlex.split(line, comments=True)]


def without_comment(line):
    """The command of a README line, as a reader sees it, without its trailing comment."""
    return line.split("  #", 1)[0].strip()


def in_background(line):
    return without_comment(line).endswith("&")


def missing_waits(commands):
    """Each background command whose next line does not wait for the port."""
    return [command for command, following in zip(commands, commands[1:] + [""])
            if in_background(command) and str(WATCH_PORT) not in without_comment(following)]


def newcomers_environment():
    """No AWS set-up (devkit.without_aws_settings), and the tools venv not activated."""
    env = devkit.without_aws_settings()
    # A newcomer's shell has not activated the venv: the README's own line must do it.
    venv_bin = os.path.join(ROOT, ".tools", "venv", "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if os.path.abspath(p) != venv_bin)
    env.pop("VIRTUAL_ENV", None)
    return env


def session_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def script_for(commands):
    """One bash script: the README's lines as written, each foreground one followed by a
    marker with its exit status and time (which neither starts a job nor waits, so `$!`
    and the timing of the README's lines stay theirs)."""
    lines = ["set -u"]
    for index, command in enumerate(commands):
        if in_background(command):
            lines.append(command)
        else:
            lines.append("started=$(date +%s%N)")
            lines.append(command)
            lines.append(f"status=$?; echo \"@@@ {index} $status $(( ($(date +%s%N) - started) / 1000000 ))\"; "
                         "[ $status -eq 0 ] || exit $status")
    return "\n".join(lines) + "\n"


def main():
    commands = readme_commands(os.path.join(ROOT, "README.md"))
    print("README local-use commands:")
    for command in commands:
        print(f"  $ {command}")
    if missing_waits(commands):
        print("readme-commands: FAILED\n  a background line must be followed by one that waits for "
              f"port {WATCH_PORT}, or pasting the block fails: " + "; ".join(missing_waits(commands)))
        return 1
    if devkit.listening(WATCH_PORT):
        print(f"readme-commands: port {WATCH_PORT} is taken; the README's commands need it free")
        return 1
    # Output goes to a file, not a pipe: the background watch keeps its end open after
    # the last command, which is when the session (and with it the watch) is ended.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
        process = subprocess.Popen(["bash", "-c", script_for(commands)], cwd=ROOT,
                                   env=newcomers_environment(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=FIRST_BUILD_SECONDS + 600)
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        # Read the output once every process of the session has ended and written its last.
        if not devkit.wait_for(lambda: not session_alive(process.pid), 30):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.seek(0)
        output = log.read()
    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "readme-commands.log"), "w", encoding="utf-8") as f:
        f.write(output)
    results = {int(i): (int(rc), int(ms)) for i, rc, ms in
               re.findall(r"^@@@ (\d+) (-?\d+) (\d+)$", output, re.M)}
    failures = []
    for index, command in enumerate(commands):
        if in_background(command):
            continue
        if index not in results:
            failures.append(f"{command}: did not run")
            continue
        status, ms = results[index]
        print(f"  {'ok' if status == 0 else 'FAILED'} in {ms / 1000:.1f}s: {without_comment(command)}")
        if status != 0:
            failures.append(f"{without_comment(command)}: exit status {status}")
        elif "mixed.json" in without_comment(command) and ms > 30_000:
            # (The first invoke may include the function's first build.)
            failures.append(f"{command}: took {ms / 1000:.0f}s; an answer is due within seconds")
    # The invoke of mixed.json needs re-ingestion, which cannot succeed here: the
    # function must say so at once, naming the cause.
    if any("mixed.json" in without_comment(c) for c in commands):
        if "ProcessingFailed" not in output or "not re-ingested: no AWS" not in output:
            failures.append("the mixed.json invoke did not report its re-ingestion failure")
    if failures:
        print(output[-6000:])
        print("(whole output: target/readme-commands.log)")
        print("readme-commands: FAILED\n  " + "\n  ".join(failures))
        return 1
    print(f"readme-commands: {len(commands)} commands ran as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
